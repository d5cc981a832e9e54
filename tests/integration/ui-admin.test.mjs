// clawgate's own Control UI: the Config, Logs and Cron views in Chromium (issue 11).
// Config: a value changed in the form and one in the raw editor is written (the file
// and config.get from another operator show it); a write after someone else's
// (stale baseHash) shows the conflict and its reload; a refused value shows its issue
// next to the field. Logs: lines the gateway writes after the page loaded appear
// without a reload (logs.appended events), the filter hides what does not match, pause
// holds lines back. Cron: a job added in the form, run now, its run in the run log.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startGateway, eventually } from './lib/gateway.mjs';
import { connectClient, GatewayClient } from './lib/client.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { launchUi, uiMissing } from './lib/ui.mjs';

/** Opens a form section (a <details>) by clicking its summary unless it is open. */
async function openSection(page, key) {
  const sel = `#config-form details[data-key="${key}"]`;
  if (!(await page.$eval(sel, (d) => d.open))) await page.click(`${sel} > summary`);
}

describe('Control UI: config, logs and cron views', { skip: uiMissing }, () => {
  let gw, llm, ui, op;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        logging: { level: 'info' },
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] } } },
        agents: { defaults: { model: 'fake/m1' } },
      },
    });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    ui = await launchUi();
  });
  after(async () => {
    await ui?.close();
    op?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('config: the form writes a changed field, the raw editor the whole file; a stale hash shows the conflict', async () => {
    const page = await ui.open(gw, { view: 'config' });
    await page.waitForSelector('#config-form details[data-key="gateway"]');
    // The form: sections by top-level key, labelled by the hints, secrets masked.
    await openSection(page, 'gateway');
    assert.equal(await page.getAttribute('#cfg-gateway-auth-token', 'type'), 'password');
    assert.match(await page.textContent('details[data-key="gateway"]'), /Port of the WebSocket/);
    assert.equal(await page.isDisabled('#config-save'), true, 'nothing to save before an edit');
    await openSection(page, 'logging');
    await page.fill('#cfg-logging-maxFileBytes', '5000000');
    assert.equal(await page.isDisabled('#config-save'), false);
    await page.press('#cfg-logging-maxFileBytes', 'Enter');
    await eventually(async () => (await op.call('config.get', {})).config.logging?.maxFileBytes === 5000000, 5000, 'logging.maxFileBytes written');
    const onDisk = JSON.parse(gw.readConfig());
    assert.equal(onDisk.logging.maxFileBytes, 5000000, 'the file on disk has it');
    assert.equal(onDisk.logging.level, 'info', 'keys the form does not show are kept');
    assert.ok(JSON.parse(gw.readConfig()).models.providers.fake.apiKey === 'sk-test', 'the secret was kept');
    await page.waitForSelector('#config-save:disabled');

    // A refused value: the issue shows next to its field.
    await openSection(page, 'gateway');
    await page.fill('#cfg-gateway-port', '70000');
    await page.press('#cfg-gateway-port', 'Enter');
    await page.waitForSelector('#cfg-gateway-port-error:not([hidden])');
    assert.match(await page.textContent('#config-issues'), /gateway\.port/);
    assert.equal(JSON.parse(gw.readConfig()).gateway?.port, undefined, 'nothing written');
    await page.fill('#cfg-gateway-port', '');

    // The raw editor: the whole text.
    await page.click('#config-tab-raw');
    const raw = JSON.parse(await page.inputValue('#config-raw'));
    assert.equal(raw.logging.maxFileBytes, 5000000);
    raw.custom = { fromRaw: 42 };
    await page.fill('#config-raw', JSON.stringify(raw, null, 2));
    await page.click('#config-save-raw');
    await eventually(async () => (await op.call('config.get', {})).config.custom?.fromRaw === 42, 5000, 'custom.fromRaw written');
    assert.equal(JSON.parse(gw.readConfig()).custom.fromRaw, 42);
    await ui.screenshot(page, 'config');

    // Someone else writes while nothing is edited here: the page follows (config.changed).
    const cur = await op.call('config.get', {});
    await op.call('config.patch', { raw: JSON.stringify({ custom: { other: true } }), baseHash: cur.hash });
    await page.waitForFunction(() => document.querySelector('#config-raw').value.includes('"other": true'), null, { timeout: 10000 });
    // ... and while an edit is open here: the edit is kept, the page says the file moved on,
    // and its save (with the stale hash) is refused.
    const text = await page.inputValue('#config-raw');
    await page.fill('#config-raw', text.replace('"fromRaw": 42', '"fromRaw": 43'));
    const cur2 = await op.call('config.get', {});
    await op.call('config.patch', { raw: JSON.stringify({ custom: { third: 3 } }), baseHash: cur2.hash });
    await page.waitForSelector('#config-stale:not([hidden])', { timeout: 10000 });
    assert.match(await page.inputValue('#config-raw'), /"fromRaw": 43/);
    await page.click('#config-save-raw');
    await page.waitForSelector('#config-conflict:not([hidden])');
    assert.match(await page.textContent('#config-conflict'), /changed since it was loaded/);
    assert.equal(JSON.parse(gw.readConfig()).custom.fromRaw, 42, 'the stale write was refused');
    await page.click('#config-reload-conflict');
    await page.waitForSelector('#config-conflict', { state: 'hidden' });
    assert.match(await page.inputValue('#config-raw'), /"other": true/, 'the reload shows the other write');
    assert.deepEqual(ui.problems(page, (p) => /^config\.(set|patch): INVALID_REQUEST/.test(p) || /status of 400|console: .*INVALID_REQUEST/.test(p)), []);
    await page.context().close();
  });

  test('logs: new lines appear without a reload; the filter and the level hide lines; pause holds them', async () => {
    const page = await ui.open(gw, { view: 'logs' });
    await page.waitForSelector('#logs-list .logs-line');
    // cause lines: a refused connect, with a marker in nothing the UI could have loaded before
    const bad = await GatewayClient.open(gw.url, {});
    await bad.connect({ auth: { token: 'ui-admin-wrong-token' } });
    await bad.waitClose();
    await page.waitForFunction(() => [...document.querySelectorAll('#logs-list .logs-line')].some((l) => /mismatch/i.test(l.textContent)), null, { timeout: 10000 });
    // playwright reports frames a little after the page has them: wait for the report.
    await eventually(() => ui.frames(page).some((f) => f.type === 'event' && f.event === 'logs.appended'), 10000, 'the line came as a logs.appended event');
    await ui.screenshot(page, 'logs');

    const visible = () => page.$$eval('#logs-list .logs-line', (ls) => ls.map((l) => l.textContent));
    await page.fill('#logs-filter', 'mismatch');
    let shown = await visible();
    assert.ok(shown.length >= 1 && shown.every((t) => /mismatch/i.test(t)), `only matching lines: ${shown.join(' | ')}`);
    await page.fill('#logs-filter', 'no-line-has-this-text-xyz');
    assert.equal((await visible()).length, 0);
    await page.fill('#logs-filter', '');
    await page.selectOption('#logs-level', 'warn');
    shown = await page.$$eval('#logs-list .logs-line .logs-level', (ls) => ls.map((l) => l.textContent));
    assert.ok(shown.every((l) => ['warn', 'error', 'fatal'].includes(l)), `levels ${shown}`);
    await page.selectOption('#logs-level', '');

    // Pause: new lines are counted, not shown, until resume.
    await page.click('#logs-pause');
    const before = (await visible()).length;
    const x = await connectClient(gw);
    x.close();
    await x.closed;
    await page.waitForFunction(() => /new while paused/.test(document.querySelector('#logs-count').textContent), null, { timeout: 10000 });
    assert.equal((await visible()).length, before);
    await page.click('#logs-pause');
    await page.waitForFunction((n) => document.querySelectorAll('#logs-list .logs-line').length > n, before, { timeout: 10000 });
    assert.deepEqual(ui.problems(page), []);
    await page.context().close();
  });

  test('cron: add a job in the form, run it now, see its run in the run log; disable and remove it', async () => {
    llm.script?.({ reply: 'noted' });
    const page = await ui.open(gw, { view: 'cron' });
    await page.waitForSelector('#cron-form');
    await page.fill('#cron-name', 'ui nightly');
    await page.selectOption('#cron-kind', 'every');
    await page.fill('#cron-every', '2');
    await page.selectOption('#cron-unit', 'hours');
    await page.fill('#cron-text', 'the nightly check from the UI');
    await page.click('#cron-add');
    await page.waitForSelector('#cron-jobs tr:has-text("ui nightly")');
    const { jobs } = await op.call('cron.list', { includeDisabled: true });
    const job = jobs.find((j) => j.name === 'ui nightly');
    assert.ok(job, 'the gateway holds the job');
    assert.deepEqual(job.schedule.kind, 'every');
    assert.equal(job.schedule.everyMs, 7200000);
    assert.deepEqual(job.payload, { kind: 'systemEvent', text: 'the nightly check from the UI' });
    assert.equal(job.enabled, true);

    await page.getByRole('button', { name: 'Run ui nightly now' }).click();
    await page.waitForSelector('#cron-runs tbody tr', { timeout: 20000 });
    await page.waitForFunction(() => /ok/.test(document.querySelector('#cron-runs tbody tr')?.textContent ?? ''), null, { timeout: 20000 });
    const runs = await op.call('cron.runs', { id: job.id });
    assert.equal(runs.entries.length, 1);
    assert.equal(runs.entries[0].status, 'ok');
    await page.waitForSelector(`#cron-jobs tr[data-job="${job.id}"]:has-text("ok")`);
    await ui.screenshot(page, 'cron');

    await page.getByRole('button', { name: 'Disable ui nightly' }).click();
    await page.getByRole('button', { name: 'Enable ui nightly' }).waitFor();
    assert.equal((await op.call('cron.get', { id: job.id })).enabled, false);
    // a job added elsewhere shows up from the event
    await op.call('cron.add', { name: 'from elsewhere', schedule: { kind: 'cron', expr: '0 9 * * *' }, sessionTarget: 'main', wakeMode: 'now', payload: { kind: 'systemEvent', text: 'x' } });
    await page.waitForSelector('#cron-jobs tr:has-text("from elsewhere")');
    const remove = page.getByRole('button', { name: 'Remove ui nightly' });
    await remove.click();
    await remove.click();
    await page.waitForSelector('#cron-jobs tr:has-text("ui nightly")', { state: 'detached' });
    assert.equal((await op.call('cron.list', { includeDisabled: true })).jobs.some((j) => j.id === job.id), false);
    assert.deepEqual(ui.problems(page), []);
    await page.context().close();
  });

  test('config on a phone in dark mode: no horizontal overflow', async () => {
    const page = await ui.open(gw, { view: 'config', phone: true, colorScheme: 'dark' });
    await page.waitForSelector('#config-form details[data-key="gateway"]');
    await page.click('details[data-key="gateway"] > summary');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `page overflows by ${overflow}px`);
    await ui.screenshot(page, 'config-phone-dark');
    for (const view of ['logs', 'cron']) {
      await ui.goto(page, view);
      const o = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(o <= 0, `${view} overflows by ${o}px`);
    }
    assert.deepEqual(ui.problems(page), []);
    await page.context().close();
  });
});
