// Channels (issue 10, the Channels part): Telegram through a local Bot API stand-in
// (lib/telegram-standin.mjs) and a local model server (lib/fake-llm.mjs). Every frame is
// checked against the schema by the client (ChannelsStatusResult, ChannelsPairing*Result,
// SendParams, ...).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient } from './lib/client.mjs';
import { startGateway, eventually, sleep, httpRequest, makeStateDir } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { startTelegramStandin } from './lib/telegram-standin.mjs';

const TOKEN = '123456:TEST-good-token';
const HOOK_TOKEN = 'hook-secret-tg';
const CODE_RE = /^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$/;

const telegramConfig = (tg, extra = {}) => ({
  botToken: TOKEN,
  apiRoot: tg.apiRoot,
  polling: { timeoutSeconds: 1 },
  retry: { minDelayMs: 100, maxDelayMs: 800 },
  ...extra,
});
const modelConfig = (llm) => ({
  models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] } } },
  agents: { defaults: { model: 'fake/m1' } },
});
const account = (status) => status.channelAccounts.telegram[0];
const textOf = (m) => (typeof m?.content === 'string' ? m.content : (m?.content ?? []).filter((p) => p.type === 'text').map((p) => p.text).join(''));

async function waitRunning(op) {
  return eventually(async () => {
    const s = await op.call('channels.status', {});
    return account(s).connected ? s : null;
  }, 10000, 'telegram connected');
}

describe('telegram channel', () => {
  let llm, tg, gw, op;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    tg = await startTelegramStandin({ token: TOKEN, username: 'clawbot' });
    gw = await startGateway({
      config: {
        ...modelConfig(llm),
        hooks: { enabled: true, token: HOOK_TOKEN },
        channels: { telegram: telegramConfig(tg, { allowFrom: [555, 'tg:556'], groups: { '-1001': { requireMention: true } } }) },
      },
    });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    await waitRunning(op);
  });
  after(async () => {
    op?.close();
    await gw?.stop();
    await tg?.close();
    await llm?.close();
  });

  test('channels.status: ChannelsStatusResult with the telegram account polling, the probe, no token', async () => {
    const s = await op.call('channels.status', { probe: true });
    assert.deepEqual(s.channelOrder, ['telegram']);
    assert.equal(s.channelLabels.telegram, 'Telegram');
    assert.equal(s.channelDefaultAccountId.telegram, 'default');
    const a = account(s);
    assert.equal(a.accountId, 'default');
    assert.equal(a.configured, true);
    assert.equal(a.running, true);
    assert.equal(a.connected, true);
    assert.equal(a.mode, 'polling');
    assert.equal(a.tokenSource, 'config');
    assert.equal(a.dmPolicy, 'pairing');
    assert.deepEqual(a.allowFrom, ['555', 'tg:556']);
    assert.equal(a.lastError, null);
    assert.equal(typeof a.lastStartAt, 'number');
    assert.deepEqual(a.probe, { ok: true, bot: { id: tg.botId, username: 'clawbot' } });
    assert.equal(s.channels.telegram.running, true);
    assert.ok(!JSON.stringify(s).includes(TOKEN), 'the token never appears');
    const bad = await op.request('channels.status', { channel: 'discord' });
    assert.equal(bad.ok, false);
    const extra = await op.request('channels.status', { nope: 1 });
    assert.equal(extra.error.code, 'INVALID_REQUEST');
    assert.match(extra.error.message, /invalid channels.status params/);
  });

  test('an unknown DM gets a pairing code once; approved, their next message runs and is answered in their session', async () => {
    const before = llm.completions().length;
    const sentBefore = tg.sent.length;
    tg.message({ chatId: 4242, fromId: 4242, text: 'hello?', username: 'tess' });
    const notice = await tg.waitForSend((m) => m.chat_id === '4242', 10000, sentBefore);
    assert.match(notice.text, /^OpenClaw: access not configured\./);
    assert.match(notice.text, /Your Telegram user id: 4242/);
    const code = /Pairing code:\n```\n([^\n]+)\n```/.exec(notice.text)[1];
    assert.match(code, CODE_RE);
    assert.match(notice.text, new RegExp(`openclaw pairing approve telegram ${code}`));

    const list = await op.call('channels.pairing.list', { channel: 'telegram' });
    assert.deepEqual(list.accounts, [{ channel: 'telegram', channelLabel: 'Telegram', accountId: 'default', notifySupported: true }]);
    assert.deepEqual(list.limits, { pendingPerAccount: 3, ttlMs: 3600000 });
    const req = list.requests.find((r) => r.senderId === '4242');
    assert.ok(req, JSON.stringify(list));
    assert.equal(req.senderLabel, 'telegramUserId');
    assert.equal(req.metadata.username, 'tess');
    assert.equal(req.requestId.length, 32);
    assert.ok(!JSON.stringify(list).includes(code), 'the list does not expose codes');
    assert.equal(Date.parse(req.expiresAt) - Date.parse(req.createdAt), 3600000);

    // Writing again while pending: no second notice, no run.
    tg.message({ chatId: 4242, fromId: 4242, text: 'still there?' });
    await sleep(700);
    assert.equal(tg.sent.slice(sentBefore).filter((m) => m.chat_id === '4242').length, 1);
    assert.equal(llm.completions().length, before);

    const approved = await op.call('channels.pairing.approve', { channel: 'telegram', accountId: 'default', requestId: req.requestId });
    assert.deepEqual(approved, { requestId: req.requestId, senderId: '4242', notification: 'not-requested', commandOwnerBootstrap: 'not-requested' });
    assert.equal((await op.call('channels.pairing.list', {})).requests.filter((r) => r.senderId === '4242').length, 0);

    llm.script({ reply: 'welcome aboard' });
    const mark = tg.sent.length;
    tg.message({ chatId: 4242, fromId: 4242, text: 'hello after approval' });
    const answer = await tg.waitForSend((m) => m.chat_id === '4242', 10000, mark);
    assert.equal(answer.text, 'welcome aboard');
    assert.equal(answer.reply_parameters, undefined, 'DMs are not threaded as replies');
    const sessions = await op.call('sessions.list', {});
    assert.ok(sessions.sessions.some((s) => s.key === 'agent:main:telegram:4242'), JSON.stringify(sessions.sessions.map((s) => s.key)));
    const history = await op.call('chat.history', { sessionKey: 'agent:main:telegram:4242' });
    const texts = history.messages.map((m) => `${m.role}:${textOf(m)}`);
    assert.deepEqual(texts, ['user:hello after approval', 'assistant:welcome aboard']);
  });

  test('dismiss drops a request; approving by the code with notify tells the sender', async () => {
    const mark = tg.sent.length;
    tg.message({ chatId: 5151, fromId: 5151, text: 'hi' });
    await tg.waitForSend((m) => m.chat_id === '5151', 10000, mark);
    let req = (await op.call('channels.pairing.list', {})).requests.find((r) => r.senderId === '5151');
    const dismissed = await op.call('channels.pairing.dismiss', { channel: 'telegram', accountId: 'default', requestId: req.requestId });
    assert.deepEqual(dismissed, { requestId: req.requestId, senderId: '5151' });
    const again = await op.request('channels.pairing.dismiss', { channel: 'telegram', accountId: 'default', requestId: req.requestId });
    assert.equal(again.ok, false);
    assert.equal(again.error.code, 'INVALID_REQUEST');
    assert.equal(again.error.message, 'pending DM access request no longer exists');

    // Dismissed, not blocked: writing again makes a new request with a new notice.
    const mark2 = tg.sent.length;
    tg.message({ chatId: 5151, fromId: 5151, text: 'hi again' });
    const notice = await tg.waitForSend((m) => m.chat_id === '5151', 10000, mark2);
    const code = /Pairing code:\n```\n([^\n]+)\n```/.exec(notice.text)[1];
    const mark3 = tg.sent.length;
    const approved = await op.call('channels.pairing.approve', { channel: 'telegram', accountId: 'default', requestId: code.toLowerCase(), notify: true });
    assert.equal(approved.senderId, '5151');
    assert.equal(approved.notification, 'sent');
    const note = await tg.waitForSend((m) => m.chat_id === '5151', 10000, mark3);
    assert.match(note.text, /OpenClaw access approved/);

    const wrongAccount = await op.request('channels.pairing.approve', { channel: 'telegram', accountId: 'other', requestId: 'x' });
    assert.equal(wrongAccount.error.code, 'INVALID_REQUEST');
    const wrongChannel = await op.request('channels.pairing.list', { channel: 'signal' });
    assert.match(wrongChannel.error.message, /unknown pairing channel: signal/);
  });

  test('at most 3 pending requests: a fourth unknown sender gets no code until one is resolved', async () => {
    const mark = tg.sent.length;
    for (const id of [7001, 7002, 7003]) tg.message({ chatId: id, fromId: id, text: 'let me in' });
    for (const id of [7001, 7002, 7003]) await tg.waitForSend((m) => m.chat_id === String(id), 10000, mark);
    tg.message({ chatId: 7004, fromId: 7004, text: 'me too' });
    await sleep(700);
    assert.equal(tg.sent.slice(mark).filter((m) => m.chat_id === '7004').length, 0, 'no code beyond the cap');
    const pending = (await op.call('channels.pairing.list', {})).requests.filter((r) => r.senderId.startsWith('700'));
    assert.deepEqual(pending.map((r) => r.senderId).sort(), ['7001', '7002', '7003']);
    await op.call('channels.pairing.dismiss', { channel: 'telegram', accountId: 'default', requestId: pending[0].requestId });
    tg.message({ chatId: 7004, fromId: 7004, text: 'now?' });
    await tg.waitForSend((m) => m.chat_id === '7004', 10000, mark);
    for (const r of (await op.call('channels.pairing.list', {})).requests) {
      await op.call('channels.pairing.dismiss', { channel: 'telegram', accountId: 'default', requestId: r.requestId });
    }
  });

  test('a failed run answers the chat with a short warning', async () => {
    llm.script({ status: 401, errorMessage: 'the key was revoked' });
    const mark = tg.sent.length;
    tg.message({ chatId: 555, fromId: 555, text: 'will this fail?' });
    const answer = await tg.waitForSend((m) => m.chat_id === '555', 15000, mark);
    assert.match(answer.text, /^\u26a0\ufe0f /);
    assert.ok(answer.text.length < 400, answer.text);
  });

  test('a long non-ASCII failure is cut on a character boundary and still answered', async () => {
    // Both parities, so the 300-byte cut of the warning falls inside a 2-byte character once.
    for (const lead of ['', 'a']) {
      llm.script({ status: 401, errorMessage: lead + '\u00e9'.repeat(400) });
      const mark = tg.sent.length;
      tg.message({ chatId: 555, fromId: 555, text: `fail ${lead}` });
      const answer = await tg.waitForSend((m) => m.chat_id === '555', 15000, mark);
      assert.match(answer.text, /^\u26a0\ufe0f /);
      assert.ok(!answer.text.includes('\ufffd'), answer.text);
    }
    assert.equal(account(await op.call('channels.status', {})).running, true);
  });

  test('allowFrom senders (numbers or tg: ids) are answered without pairing', async () => {
    llm.script({ reply: 'hi 555' });
    const mark = tg.sent.length;
    tg.message({ chatId: 555, fromId: 555, text: 'allowed?' });
    const answer = await tg.waitForSend((m) => m.chat_id === '555', 10000, mark);
    assert.equal(answer.text, 'hi 555');
    llm.script({ reply: 'hi 556' });
    tg.message({ chatId: 556, fromId: 556, text: 'me too' });
    assert.equal((await tg.waitForSend((m) => m.chat_id === '556', 10000, mark)).text, 'hi 556');
    assert.equal((await op.call('channels.pairing.list', {})).requests.filter((r) => ['555', '556'].includes(r.senderId)).length, 0);
  });

  test('groups: without a mention ignored, with @mention (or a reply to the bot) answered as a reply; unlisted groups ignored', async () => {
    const before = llm.completions().length;
    const mark = tg.sent.length;
    tg.message({ chatId: -1001, chatType: 'group', fromId: 77, text: 'just chatting' });
    tg.message({ chatId: -2002, chatType: 'group', fromId: 77, text: '@clawbot are you there?' });
    llm.script({ reply: 'group answer' });
    const mentioned = tg.message({ chatId: -1001, chatType: 'group', fromId: 77, text: 'hey @ClawBot what time is it?' });
    const answer = await tg.waitForSend((m) => m.chat_id === '-1001', 10000, mark);
    assert.equal(answer.text, 'group answer');
    assert.equal(answer.reply_parameters.message_id, mentioned.message.message_id);
    llm.script({ reply: 'reply answer' });
    const replied = tg.message({ chatId: -1001, chatType: 'group', fromId: 78, text: 'and you?', replyToFromId: tg.botId });
    const second = await tg.waitForSend((m) => m.chat_id === '-1001' && m.text === 'reply answer', 10000, mark);
    assert.equal(second.reply_parameters.message_id, replied.message.message_id);
    await sleep(300);
    assert.equal(llm.completions().length, before + 2, 'only the two addressed messages ran');
    assert.equal(tg.sent.slice(mark).filter((m) => m.chat_id === '-2002').length, 0);
    const userTurns = llm.completions().slice(before).map((r) => r.body.messages.at(-1).content);
    assert.ok(!JSON.stringify(userTurns).includes('just chatting'));
  });

  test('a reply over 4,096 characters is split in order on paragraph boundaries', async () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `Paragraph ${i}: ` + 'lorem ipsum dolor sit amet '.repeat(40).trim());
    const long = paragraphs.join('\n\n');
    assert.ok(long.length > 3 * 4096);
    llm.script({ reply: long, chunks: 5 });
    const mark = tg.sent.length;
    tg.message({ chatId: 555, fromId: 555, text: 'tell me a lot' });
    await eventually(() => {
      const got = tg.sent.slice(mark).filter((m) => m.chat_id === '555');
      return got.map((m) => m.text).join('\n\n').length >= long.length;
    }, 15000, 'all parts sent');
    const parts = tg.sent.slice(mark).filter((m) => m.chat_id === '555').map((m) => m.text);
    assert.ok(parts.length >= 4, `${parts.length} parts`);
    for (const p of parts) assert.ok(p.length <= 4096, `part of ${p.length}`);
    assert.equal(parts.join('\n\n'), long, 'in order, cut only between paragraphs');
    for (const p of parts) assert.match(p, /^Paragraph \d+:/);
  });

  test('the limit counts UTF-16 units as Telegram does; a run without blanks is cut where it must be', async () => {
    const emoji = '\u{1F980}'.repeat(3000); // 6,000 UTF-16 units, 12,000 bytes
    llm.script({ reply: emoji });
    const mark = tg.sent.length;
    tg.message({ chatId: 555, fromId: 555, text: 'crabs please' });
    await eventually(() => tg.sent.slice(mark).filter((m) => m.chat_id === '555').map((m) => m.text).join('') === emoji, 15000, 'all crabs sent');
    const parts = tg.sent.slice(mark).filter((m) => m.chat_id === '555').map((m) => m.text);
    assert.equal(parts.length, 2);
    for (const p of parts) assert.ok(p.length <= 4096 && !p.includes('\ufffd'), 'within the limit, no split surrogate');
    const word = 'x'.repeat(9000);
    llm.script({ reply: word });
    const mark2 = tg.sent.length;
    tg.message({ chatId: 555, fromId: 555, text: 'one long word' });
    await eventually(() => tg.sent.slice(mark2).filter((m) => m.chat_id === '555').map((m) => m.text).join('') === word, 15000, 'the word sent');
    assert.deepEqual(tg.sent.slice(mark2).filter((m) => m.chat_id === '555').map((m) => m.text.length), [4096, 4096, 808]);
  });

  test('a 429 on sendMessage is honoured: the part is sent again after retry_after', async () => {
    tg.rateLimit('sendMessage', { count: 1, retryAfter: 1 });
    llm.script({ reply: 'after the limit' });
    const mark = tg.sent.length;
    const callsBefore = tg.calls.length;
    tg.message({ chatId: 555, fromId: 555, text: 'rate me' });
    const answer = await tg.waitForSend((m) => m.chat_id === '555', 10000, mark);
    assert.equal(answer.text, 'after the limit');
    const sends = tg.calls.slice(callsBefore).filter((c) => c.method === 'sendMessage');
    assert.equal(sends[0].status, 429);
    assert.ok(sends[1].at - sends[0].at >= 950, `retried after ${sends[1].at - sends[0].at} ms, retry_after was 1 s`);
  });

  test('network cut and 5xx: polling backs off, the status says so, and it recovers and delivers', async () => {
    await tg.down();
    await eventually(async () => {
      const a = account(await op.call('channels.status', {}));
      return a.connected === false && a.reconnectAttempts >= 2 && /network/.test(a.lastError) ? a : null;
    }, 10000, 'status shows the outage');
    const a = account(await op.call('channels.status', {}));
    assert.equal(a.running, true, 'still running: it will retry');
    assert.equal(a.healthState, 'reconnecting');
    // The back-off is bounded: a few hundred ms apart at most, never a hot loop.
    llm.script({ reply: 'back online' });
    const mark = tg.sent.length;
    tg.message({ chatId: 555, fromId: 555, text: 'sent while you were away' });
    await tg.up();
    const answer = await tg.waitForSend((m) => m.chat_id === '555', 10000, mark);
    assert.equal(answer.text, 'back online');
    const after = account(await op.call('channels.status', {}));
    assert.equal(after.connected, true);
    assert.equal(after.lastError, null);
    assert.equal(after.reconnectAttempts, 0);

    tg.fail('getUpdates', { count: 2, status: 502 });
    llm.script({ reply: 'past the 502s' });
    const mark2 = tg.sent.length;
    await sleep(50);
    tg.message({ chatId: 555, fromId: 555, text: 'and now?' });
    assert.equal((await tg.waitForSend((m) => m.chat_id === '555', 10000, mark2)).text, 'past the 502s');
    tg.cut('getUpdates', { count: 1 });
    llm.script({ reply: 'past the cut' });
    const mark3 = tg.sent.length;
    await sleep(1200);
    tg.message({ chatId: 555, fromId: 555, text: 'and after a cut?' });
    assert.equal((await tg.waitForSend((m) => m.chat_id === '555', 10000, mark3)).text, 'past the cut');
  });

  test('send {to, message, idempotencyKey} delivers; the same key answers again without sending', async () => {
    const mark = tg.sent.length;
    const r = await op.call('send', { to: '4242', message: 'from the operator', channel: 'telegram', idempotencyKey: 'send-1' });
    assert.equal(r.runId, 'send-1');
    assert.equal(r.channel, 'telegram');
    assert.equal(r.chatId, '4242');
    const sent = await tg.waitForSend((m) => m.chat_id === '4242', 5000, mark);
    assert.equal(sent.text, 'from the operator');
    assert.equal(r.messageId, String(sent.message_id));
    const again = await op.call('send', { to: '4242', message: 'from the operator', idempotencyKey: 'send-1' });
    assert.deepEqual(again, r);
    assert.equal(tg.sent.slice(mark).length, 1);
    const viaPrefix = await op.call('send', { to: 'telegram:555', message: 'prefixed', idempotencyKey: 'send-2' });
    assert.equal(viaPrefix.chatId, '555');

    const other = await op.request('send', { to: '1', message: 'x', channel: 'discord', idempotencyKey: 'send-3' });
    assert.equal(other.error.code, 'INVALID_REQUEST');
    assert.match(other.error.message, /unsupported channel: discord/);
    const empty = await op.request('send', { to: '1', idempotencyKey: 'send-4' });
    assert.equal(empty.ok, false);
    assert.match(empty.error.message, /message required/);
    const media = await op.request('send', { to: '1', message: 'x', mediaUrl: 'http://x/y.png', idempotencyKey: 'send-5' });
    assert.match(media.error.message, /invalid send params: .*mediaUrl/);
    const badChat = await op.request('send', { to: '31337', message: 'nobody', idempotencyKey: 'send-6' });
    assert.equal(badChat.ok, true, 'the stand-in accepts any chat');
  });

  test('/hooks/agent with deliver sends the reply to the chat', async () => {
    llm.script({ reply: 'hooked into telegram' });
    const mark = tg.sent.length;
    const r = await httpRequest(gw.port, '/hooks/agent', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${HOOK_TOKEN}` },
      body: JSON.stringify({ message: 'report to telegram', deliver: true, channel: 'telegram', to: '4242' }),
    });
    assert.equal(r.status, 200, r.body);
    const sent = await tg.waitForSend((m) => m.chat_id === '4242', 10000, mark);
    assert.equal(sent.text, 'hooked into telegram');
    const bad = await httpRequest(gw.port, '/hooks/agent', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${HOOK_TOKEN}` },
      body: JSON.stringify({ message: 'x', deliver: true, channel: 'carrier-pigeon', to: '1' }),
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body), { ok: false, error: 'unsupported channel' });
  });

  test('a cron agentTurn with announce delivery sends its reply to the chat; the run log says delivered', async () => {
    llm.script({ reply: 'the daily report, by cron' });
    const mark = tg.sent.length;
    const job = await op.call('cron.add', {
      name: 'to-telegram', schedule: { kind: 'every', everyMs: 3600000 }, sessionTarget: 'isolated', wakeMode: 'now',
      payload: { kind: 'agentTurn', message: 'write the daily report' },
      delivery: { mode: 'announce', channel: 'telegram', to: '4242' },
    });
    const run = await op.call('cron.run', { id: job.id, mode: 'force' });
    const sent = await tg.waitForSend((m) => m.chat_id === '4242', 10000, mark);
    assert.equal(sent.text, 'the daily report, by cron');
    const entry = await eventually(async () => {
      const runs = await op.call('cron.runs', { id: job.id });
      return runs.entries.find((e) => e.runId === run.runId && e.action === 'finished');
    }, 10000, 'the finished run log entry');
    assert.equal(entry.deliveryStatus, 'delivered');
    assert.equal(entry.delivered, true);
    await op.call('cron.remove', { id: job.id });
  });

  test('scopes: status is read, start/stop/logout admin, pairing needs operator.pairing, send write', async () => {
    const reader = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    try {
      await reader.call('channels.status', {});
      for (const [method, params] of [['channels.start', { channel: 'telegram' }], ['channels.stop', { channel: 'telegram' }], ['channels.logout', { channel: 'telegram' }], ['channels.pairing.list', {}], ['send', { to: '1', message: 'x', idempotencyKey: 'k' }]]) {
        const r = await reader.request(method, params);
        assert.equal(r.ok, false, method);
        assert.equal(r.error.code, 'FORBIDDEN', method);
      }
    } finally { reader.close(); }
    const pairer = await connectClient(gw, { params: { scopes: ['operator.pairing'] } });
    try {
      await pairer.call('channels.pairing.list', {});
      assert.equal((await pairer.request('channels.start', { channel: 'telegram' })).error.code, 'FORBIDDEN');
    } finally { pairer.close(); }
  });

  test('channels.stop stops polling until channels.start; the waiting message is answered then', async () => {
    const stopped = await op.call('channels.stop', { channel: 'telegram' });
    assert.deepEqual(stopped, { channel: 'telegram', accountId: 'default', stopped: true });
    const s = account(await op.call('channels.status', {}));
    assert.equal(s.running, false);
    assert.equal(typeof s.lastStopAt, 'number');
    const polls = tg.count('getUpdates');
    llm.script({ reply: 'I was stopped' });
    const mark = tg.sent.length;
    tg.message({ chatId: 555, fromId: 555, text: 'anyone?' });
    await sleep(1500);
    assert.equal(tg.count('getUpdates'), polls, 'no polling while stopped');
    assert.equal(tg.sent.length, mark);
    const refused = await op.request('send', { to: '555', message: 'x', idempotencyKey: 'while-stopped' });
    assert.equal(refused.error.code, 'UNAVAILABLE');
    const started = await op.call('channels.start', { channel: 'telegram' });
    assert.deepEqual(started, { channel: 'telegram', accountId: 'default', started: true, outcome: 'started' });
    assert.equal((await tg.waitForSend((m) => m.chat_id === '555', 10000, mark)).text, 'I was stopped');
    const unknown = await op.request('channels.start', { channel: 'whatsapp' });
    assert.match(unknown.error.message, /unknown channel: whatsapp/);
  });
});

describe('telegram: a bad token', () => {
  let tg, gw, op;
  before(async () => {
    tg = await startTelegramStandin({ token: TOKEN });
    gw = await startGateway({ config: { channels: { telegram: { ...telegramConfig(tg), botToken: '999:wrong' } } } });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => {
    op?.close();
    await gw?.stop();
    await tg?.close();
  });

  test('is a clear status, not a retry loop; a new token in the config starts it', async () => {
    const a = await eventually(async () => {
      const acc = account(await op.call('channels.status', {}));
      return acc.healthState === 'unauthorized' ? acc : null;
    }, 10000, 'unauthorized');
    assert.equal(a.running, false);
    assert.equal(a.configured, true);
    assert.match(a.lastError, /bad token \(401 Unauthorized\)/);
    assert.equal(a.probe.ok, false);
    await sleep(2000);
    assert.equal(tg.count('getMe'), 1, 'getMe was not retried');
    assert.equal(tg.count('getUpdates'), 0);
    const send = await op.request('send', { to: '1', message: 'x', idempotencyKey: 'bad-token' });
    assert.equal(send.error.code, 'UNAVAILABLE');

    const { hash } = await op.call('config.get', {});
    await op.call('config.patch', { raw: JSON.stringify({ channels: { telegram: { botToken: TOKEN } } }), baseHash: hash });
    const ok = await waitRunning(op);
    assert.equal(account(ok).lastError, null);
    assert.equal(account(ok).healthState, 'healthy');
  });

  test('channels.logout clears the token from the config and stops', async () => {
    const r = await op.call('channels.logout', { channel: 'telegram' });
    assert.deepEqual(r, { channel: 'telegram', accountId: 'default', cleared: true, loggedOut: true });
    const cfg = await op.call('config.get', {});
    assert.equal(cfg.config.channels.telegram.botToken, undefined, 'botToken removed from the file');
    assert.equal(cfg.config.channels.telegram.apiRoot, tg.apiRoot, 'the rest is kept');
    const a = account(await op.call('channels.status', {}));
    assert.equal(a.configured, false);
    assert.equal(a.running, false);
    const polls = tg.count('getUpdates');
    await sleep(1500);
    assert.equal(tg.count('getUpdates'), polls);
    const start = await op.request('channels.start', { channel: 'telegram' });
    assert.match(start.error.message, /not configured/);
  });
});

describe('telegram: the update offset survives a restart', () => {
  let llm, tg;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    tg = await startTelegramStandin({ token: TOKEN });
  });
  after(async () => {
    await tg?.close();
    await llm?.close();
  });

  test('after a restart polling resumes after the last handled update: no duplicate reply', async () => {
    const stateDir = makeStateDir();
    const config = { ...modelConfig(llm), channels: { telegram: telegramConfig(tg, { allowFrom: [808] }) } };
    let gw = await startGateway({ stateDir, config, keepStateDir: true });
    let op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    await waitRunning(op);
    llm.setDefault({ echo: true });
    tg.message({ chatId: 808, fromId: 808, text: 'only once' });
    await tg.waitForSend((m) => m.chat_id === '808');
    // Pairing state is durable too: an approved sender and a pending request.
    tg.message({ chatId: 909, fromId: 909, text: 'pair me' });
    const last = tg.message({ chatId: 910, fromId: 910, text: 'pair me too' });
    await tg.waitForSend((m) => m.chat_id === '910');
    const pending = (await op.call('channels.pairing.list', {})).requests;
    await op.call('channels.pairing.approve', { channel: 'telegram', accountId: 'default', requestId: pending.find((r) => r.senderId === '909').requestId });
    op.close();
    await gw.stop();

    const callsBefore = tg.calls.length;
    gw = await startGateway({ stateDir, config });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    try {
      await waitRunning(op);
      const first = tg.calls.slice(callsBefore).find((c) => c.method === 'getUpdates');
      assert.equal(first.body.offset, last.update_id + 1, 'the first poll confirms what was handled before');
      await sleep(1000);
      assert.equal(tg.sent.filter((m) => m.chat_id === '808').length, 1);
      const list = await op.call('channels.pairing.list', {});
      assert.deepEqual(list.requests.map((r) => r.senderId), ['910']);
      const mark = tg.sent.length;
      tg.message({ chatId: 909, fromId: 909, text: 'still approved?' });
      assert.equal((await tg.waitForSend((m) => m.chat_id === '909', 10000, mark)).text, 'echo: still approved?');
    } finally {
      op.close();
      await gw.stop();
    }
  });
});

describe('telegram with out-of-range retry delays', () => {
  let tg, gw, op;
  before(async () => {
    tg = await startTelegramStandin({ token: TOKEN });
    tg.fail('getMe', { count: 1, status: 500 });
    // 2^33 - 2 ms: half of it plus one is 2^32, which a 32-bit modulo turned into a division by zero.
    gw = await startGateway({ config: { channels: { telegram: { ...telegramConfig(tg), retry: { minDelayMs: 8589934590, maxDelayMs: 8589934590 } } } } });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => {
    op?.close();
    await gw?.stop();
    await tg?.close();
  });

  test('a failed call backs off (capped) instead of crashing the gateway', async () => {
    const a = await eventually(async () => {
      const acc = account(await op.call('channels.status', {}));
      return acc.healthState === 'reconnecting' ? acc : null;
    }, 10000, 'reconnecting');
    assert.match(a.lastError, /HTTP 500/);
    assert.equal(a.running, true);
    assert.equal((await op.call('health', {})).ok, true);
  });
});

describe('telegram with a huge retry_after', () => {
  let tg, gw, op;
  before(async () => {
    tg = await startTelegramStandin({ token: TOKEN });
    tg.rateLimit('getMe', { count: 1, retryAfter: 1e16 }); // seconds: 1e19 ms wraps int64 negative
    gw = await startGateway({ config: { channels: { telegram: telegramConfig(tg) } } });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => {
    op?.close();
    await gw?.stop();
    await tg?.close();
  });

  test('is capped at 300 s, not overflowed into a negative or hot retry', async () => {
    const a = await eventually(async () => {
      const acc = account(await op.call('channels.status', {}));
      return acc.lastError ? acc : null;
    }, 10000, 'the rate limit seen');
    assert.match(a.lastError, /rate limited \(retry after 300 s\)/);
    assert.equal((await op.call('health', {})).ok, true);
  });
});
