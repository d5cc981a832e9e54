// The Control UI's Chat and Sessions views (issue 11) in headless Chromium, against
// clawgate with the local fake model (lib/fake-llm.mjs):
//   - a reply streams into the page (a partial text is visible before the final one) and
//     is rendered as Markdown; the composer is disabled while the run goes; Enter sends,
//     Shift+Enter makes a new line; the gateway's transcript holds both turns;
//   - Abort stops a slow reply: the bubble is marked aborted, chat.history says so;
//   - an attached image reaches the model (its recorded request carries the image part),
//     a file that is not an image is refused in the page;
//   - a message another operator sends shows up live; the history is there after a reload;
//   - Sessions: a session made in Chat appears without a reload (events), preview,
//     compact, reset and delete (each confirmed in the page) change what the gateway holds,
//     Open goes to Chat on that session;
//   - phone size in the dark theme: no horizontal page overflow.
// Screenshots: chat, sessions, chat-phone-dark (build/artifacts/ui).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient } from './lib/client.mjs';
import { startGateway, eventually } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { launchUi, uiMissing } from './lib/ui.mjs';

// A 1x1 PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const textOf = (m) => (typeof m?.content === 'string' ? m.content : (m?.content ?? []).filter((p) => p.type === 'text').map((p) => p.text).join(''));
const enabledInput = '#chat-input:not([disabled])';
const noOverflow = (page) => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

describe('Control UI: chat and sessions views', { skip: uiMissing }, () => {
  let llm, gw, op, ui, chat;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'vision', name: 'Vision', input: ['text', 'image'] }] } } },
        agents: { defaults: { model: 'fake/vision' } },
      },
    });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    ui = await launchUi();
    chat = await ui.open(gw, { view: 'chat' });
  });
  after(async () => {
    await ui?.close();
    op?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('a reply streams in, rendered as Markdown; the composer waits for it; Enter sends, Shift+Enter does not', async () => {
    await chat.waitForSelector(enabledInput, { timeout: 15000 });
    assert.equal(await chat.inputValue('#chat-session'), 'agent:main:main');
    assert.equal(await chat.inputValue('#chat-agent'), 'main');
    llm.script({ chunks: ['Hello ', 'there, ', 'this is ', '**bold** ', 'and `code`.'], delayMs: 400 });
    await chat.click('#chat-input');
    await chat.keyboard.type('first line');
    await chat.keyboard.press('Shift+Enter');
    await chat.keyboard.type('second line');
    assert.equal(await chat.inputValue('#chat-input'), 'first line\nsecond line');
    assert.equal(llm.completions().length, 0, 'Shift+Enter sent nothing');
    await chat.keyboard.press('Enter');

    // While the run goes: composer disabled, Abort shown, the text grows.
    await chat.waitForSelector('#chat-abort:not([hidden])', { timeout: 5000 });
    assert.equal(await chat.isDisabled('#chat-input'), true);
    assert.equal(await chat.isDisabled('#chat-send'), true);
    const partial = await chat.waitForFunction(() => {
      const b = document.querySelector('.msg.assistant.streaming .body');
      return b && b.textContent.includes('Hello') && !b.textContent.includes('code') && b.textContent;
    }, null, { timeout: 10000 });
    assert.match(await partial.jsonValue(), /^Hello/);

    const reply = chat.locator('.msg.assistant[data-state="final"]');
    await reply.waitFor({ timeout: 15000 });
    assert.equal(await reply.locator('strong').textContent(), 'bold');
    assert.equal(await reply.locator('code').textContent(), 'code');
    assert.equal((await reply.locator('.body').textContent()).trim(), 'Hello there, this is bold and code.');
    await chat.waitForSelector(enabledInput, { timeout: 5000 });
    assert.equal(await chat.isHidden('#chat-abort'), true);
    assert.equal(await chat.locator('.msg.user .body').last().textContent(), 'first line\nsecond line');

    const history = await op.call('chat.history', { sessionKey: 'main' });
    assert.deepEqual(history.messages.map((m) => [m.role, textOf(m)]),
      [['user', 'first line\nsecond line'], ['assistant', 'Hello there, this is **bold** and `code`.']]);
    assert.equal(llm.completions().length, 1);
    await ui.screenshot(chat, 'chat');
    assert.deepEqual(ui.problems(chat), []);
  });

  test('Abort stops a slow reply: marked aborted in the page and in chat.history', async () => {
    llm.script({ reply: Array.from({ length: 30 }, (_, i) => `word${i}`).join(' '), chunks: 30, delayMs: 300 });
    await chat.fill('#chat-input', 'take your time');
    await chat.click('#chat-send');
    await chat.waitForFunction(() => document.querySelector('.msg.assistant.streaming .body')?.textContent.includes('word0'), null, { timeout: 10000 });
    await chat.click('#chat-abort');
    const aborted = chat.locator('.msg.assistant[data-state="aborted"]');
    await aborted.waitFor({ timeout: 10000 });
    assert.equal(await aborted.locator('.note').textContent(), 'Aborted');
    assert.doesNotMatch(await aborted.locator('.body').textContent(), /word29/);
    await chat.waitForSelector(enabledInput, { timeout: 5000 });
    const request = llm.completions().at(-1);
    await eventually(() => request.closedAt !== null, 5000, 'the model request closed');
    const history = await op.call('chat.history', { sessionKey: 'main' });
    const last = history.messages.at(-1);
    assert.equal(last.role, 'assistant');
    assert.equal(last.status, 'aborted');
    assert.match(textOf(last), /^word0/);
    assert.deepEqual(ui.problems(chat), []);
  });

  test('an attached image reaches the model; a file that is not an image is refused in the page', async () => {
    await chat.setInputFiles('#chat-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await chat.getByRole('alert').filter({ hasText: 'notes.txt' }).waitFor({ timeout: 5000 });
    assert.equal(await chat.isHidden('#chat-attachments'), true);

    await chat.setInputFiles('#chat-file', { name: 'dot.png', mimeType: 'image/png', buffer: Buffer.from(PNG, 'base64') });
    await chat.locator('#chat-attachments li', { hasText: 'dot.png' }).waitFor({ timeout: 5000 });
    llm.script({ reply: 'A single **pixel**.' });
    await chat.fill('#chat-input', 'what is this?');
    await chat.press('#chat-input', 'Enter');
    const request = await llm.waitForRequest((r) => r.images?.length > 0, 10000);
    assert.deepEqual(request.images, [{ mimeType: 'image/png', data: PNG }]);
    await chat.locator('.msg.assistant[data-state="final"] strong', { hasText: 'pixel' }).waitFor({ timeout: 10000 });
    assert.equal(await chat.isHidden('#chat-attachments'), true);
    assert.equal(await chat.locator('.msg.user').last().locator('.chip').textContent(), 'dot.png');
    assert.deepEqual(ui.problems(chat), []);
  });

  test('a run that fails shows the error in its reply and frees the composer', async () => {
    llm.script({ status: 400, errorMessage: 'the fake provider refused this' });
    await chat.fill('#chat-input', 'this will fail');
    await chat.press('#chat-input', 'Enter');
    const failed = chat.locator('.msg.assistant[data-state="error"]');
    await failed.waitFor({ timeout: 10000 });
    assert.match(await failed.locator('.note').textContent(), /^Error: .*the fake provider refused this/);
    await chat.waitForSelector(enabledInput, { timeout: 5000 });
    assert.deepEqual(ui.problems(chat), []);
  });

  test('a message from another operator shows up live; the history is there after a reload', async () => {
    llm.script({ chunks: ['Hi ', 'from ', '_elsewhere_'], delayMs: 400 });
    await op.call('chat.send', { sessionKey: 'main', message: 'sent by the CLI', idempotencyKey: `op-${process.pid}` });
    await chat.locator('.msg.user', { hasText: 'sent by the CLI' }).waitFor({ timeout: 10000 });
    // Someone else's run is going: the composer waits for it too.
    await chat.locator('.msg.assistant.streaming', { hasText: 'Hi' }).waitFor({ timeout: 10000 });
    assert.equal(await chat.isDisabled('#chat-input'), true);
    assert.equal(await chat.isVisible('#chat-abort'), true);
    await chat.locator('.msg.assistant[data-state="final"] em', { hasText: 'elsewhere' }).waitFor({ timeout: 10000 });
    await chat.waitForSelector(enabledInput, { timeout: 5000 });

    await chat.reload({ waitUntil: 'load' });
    await chat.waitForSelector(enabledInput, { timeout: 15000 });
    assert.equal(await chat.inputValue('#chat-session'), 'agent:main:main');
    const texts = await chat.locator('#chat-messages .msg').allTextContents();
    assert.equal(texts.length, 10);
    assert.equal(texts[0], 'first line\nsecond line');
    assert.equal(await chat.locator('.msg.assistant').first().locator('strong').textContent(), 'bold');
    assert.equal(await chat.locator('.msg.assistant[data-state="aborted"]').count(), 1);
    assert.match(texts[9], /Hi from elsewhere/);
    assert.match(await chat.locator('.msg.assistant[data-state="error"] .note').textContent(), /^Error: /);
    assert.deepEqual(ui.problems(chat), []);
  });

  test('sessions: a new chat session appears without a reload; preview, compact, reset, delete, open in chat', async () => {
    const page = await ui.open(gw, { view: 'sessions' });
    await page.locator('#sessions-list tr[data-key="agent:main:main"]').waitFor({ timeout: 10000 });
    // A new session in Chat, with two exchanges.
    await chat.selectOption('#chat-session', { label: '+ New session' });
    await chat.waitForSelector(enabledInput, { timeout: 10000 });
    const key = await chat.inputValue('#chat-session');
    assert.match(key, /^agent:main:chat-/);
    llm.script({ reply: 'first answer' }, { reply: 'second answer' });
    for (const text of ['one', 'two']) {
      await chat.fill('#chat-input', text);
      await chat.press('#chat-input', 'Enter');
      await chat.locator('.msg.assistant[data-state="final"]', { hasText: `${text === 'one' ? 'first' : 'second'} answer` }).waitFor({ timeout: 10000 });
      await chat.waitForSelector(enabledInput, { timeout: 5000 });
    }
    const row = page.locator(`#sessions-list tr[data-key="${key}"]`);
    await row.waitFor({ timeout: 10000 });
    await row.locator('.session-last', { hasText: 'second answer' }).waitFor({ timeout: 10000 });
    // playwright reports frames a little after the page has them: wait for the report.
    await eventually(() => ui.frames(page).some((f) => f.event === 'sessions.changed' && f.payload.sessionKey === key && f.payload.reason === 'create'), 10000, 'the row came from a sessions.changed event');

    // Preview
    await row.getByRole('button', { name: /^Preview/ }).click();
    await page.locator('#session-preview li', { hasText: 'second answer' }).waitFor({ timeout: 5000 });
    assert.equal(await page.locator('#session-preview li').count(), 4);
    await ui.screenshot(page, 'sessions');

    // Compact (nothing to drop at four messages)
    await row.getByRole('button', { name: /^Compact/ }).click();
    await page.getByRole('status').filter({ hasText: /Nothing to compact.*4 messages/ }).waitFor({ timeout: 5000 });

    // Reset: asks first; Cancel keeps everything.
    await row.getByRole('button', { name: /^Reset/ }).click();
    await row.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await op.call('chat.history', { sessionKey: key })).messages.length, 4);
    await row.getByRole('button', { name: /^Reset/ }).click();
    await row.getByRole('button', { name: 'Reset transcript' }).click();
    await eventually(async () => (await op.call('chat.history', { sessionKey: key })).messages.length === 0, 5000, 'the transcript reset');
    await page.locator('#session-preview .empty').waitFor({ timeout: 5000 });
    // The chat page showing that session follows the reset.
    await chat.locator('#chat-messages .chat-empty').waitFor({ timeout: 5000 });

    // Delete: asks first, then the row goes away everywhere.
    await row.getByRole('button', { name: /^Delete/ }).click();
    await row.getByRole('button', { name: 'Delete for good' }).click();
    await row.waitFor({ state: 'detached', timeout: 5000 });
    const list = await op.call('sessions.list', {});
    assert.equal(list.sessions.some((s) => s.key === key), false);
    // The main session cannot be deleted: no Delete button there.
    const main = page.locator('#sessions-list tr[data-key="agent:main:main"]');
    assert.equal(await main.getByRole('button', { name: /^Delete/ }).count(), 0);

    // Open in chat
    await main.getByRole('button', { name: /^Open/ }).click();
    await page.waitForSelector('section.view[data-view="chat"] #chat-input:not([disabled])', { timeout: 10000 });
    assert.equal(await page.inputValue('#chat-session'), 'agent:main:main');
    await page.locator('.msg.user', { hasText: 'sent by the CLI' }).waitFor({ timeout: 5000 });
    assert.deepEqual(ui.problems(page), []);
    assert.deepEqual(ui.problems(chat), []);
    await page.context().close();
  });

  test('phone size, dark theme: chat and sessions fit the width', async () => {
    const page = await ui.open(gw, { view: 'chat', phone: true, colorScheme: 'dark' });
    await page.waitForSelector(enabledInput, { timeout: 10000 });
    await page.locator('.msg.assistant strong').first().waitFor({ timeout: 5000 });
    assert.equal(await noOverflow(page), true, 'no horizontal overflow in chat');
    await ui.screenshot(page, 'chat-phone-dark');
    await ui.goto(page, 'sessions');
    await page.locator('#sessions-list tr[data-key="agent:main:main"]').waitFor({ timeout: 10000 });
    assert.equal(await noOverflow(page), true, 'no horizontal overflow in sessions');
    assert.equal(await page.evaluate(() => { const w = document.querySelector('#sessions-list .table-wrap'); return w.scrollWidth <= w.clientWidth; }), true, 'the session rows stack instead of scrolling sideways');
    // A short view starts under the navigation, not pushed down by an empty banner row.
    assert.ok(await page.evaluate(() => document.querySelector('#h-sessions').getBoundingClientRect().top < 200));
    assert.deepEqual(ui.problems(page), []);
    await page.context().close();
  });
});
