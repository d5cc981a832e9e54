// Interop (issue 9): the real OpenClaw CLI chats through clawgate, with fake-llm as the
// model provider in clawgate's config. `openclaw agent --message ... --session-id S`
// (with and without --json) prints the reply and the run lands in the session
// `agent:main:explicit:S`, as on the real gateway; `openclaw gateway call chat.send`
// answers {runId, status: "started"} and the reply streams to other operators;
// `openclaw models list --json` reads clawgate's models.list; `openclaw sessions` and
// `openclaw agents list` answer from the CLI's own files (the real CLI never contacts the
// gateway for them: tests/fixtures/real-gateway/chat-cli-summary.json) and still work.
// What the real gateway answered for the same commands is in
// tests/fixtures/real-gateway/chat-cli-*.frames.json (CHAT-NOTES.md).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { connectClient } from './lib/client.mjs';
import { startGateway } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { OPENCLAW_BIN } from './lib/peer.mjs';
import { openclaw } from './lib/openclaw.mjs';

function ran(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}
function json(r, what) {
  ran(r, what);
  assert.ok(r.json !== undefined, `${what}: stdout is JSON:\n${r.stdout}`);
  return r.json;
}
const textOf = (m) => (typeof m?.content === 'string' ? m.content : (m?.content ?? []).filter((p) => p.type === 'text').map((p) => p.text).join(''));
const userTexts = (req) => req.body.messages.filter((m) => m.role === 'user').map(textOf);

describe('the real CLI chats through clawgate', { skip: !fs.existsSync(OPENCLAW_BIN) && 'reference peer not installed' }, () => {
  let gw, llm, op;
  const cli = (args, timeoutMs = 90000) => openclaw(args, { gateway: gw, timeoutMs });
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1', contextWindow: 200000, maxTokens: 1000 }] } } },
        agents: { defaults: { model: 'fake/m1' } },
      },
    });
    op = await connectClient(gw, { params: { scopes: ['operator.read'] } });
  });
  after(async () => {
    op?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('`openclaw agent --message hi --session-id S --json` prints the run\'s result; the run lands in agent:main:explicit:S', async () => {
    llm.script({ reply: 'Hello from the fake model', chunks: 3, delayMs: 50 });
    const out = json(await cli(['agent', '--message', 'hi', '--session-id', 'cli-s1', '--json']), 'openclaw agent --json');
    assert.equal(out.status, 'ok', JSON.stringify(out));
    assert.equal(out.summary, 'completed');
    assert.equal(typeof out.runId, 'string');
    assert.equal(out.result.payloads[0].text, 'Hello from the fake model');
    assert.deepEqual(userTexts(llm.completions().at(-1)), ['hi']);

    const history = await op.call('chat.history', { sessionKey: 'agent:main:explicit:cli-s1' });
    assert.equal(history.totalMessages, 2, JSON.stringify(history));
    const [user, reply] = history.messages;
    assert.equal(user.role, 'user');
    assert.equal(textOf(user), 'hi');
    assert.equal(reply.role, 'assistant');
    assert.equal(textOf(reply), 'Hello from the fake model');
    // The operator saw the run stream (it holds operator.read).
    const final = op.events.find((e) => e.event === 'chat' && e.payload.runId === out.runId && e.payload.state === 'final');
    assert.ok(final, 'a chat final event reached another operator');
    assert.equal(final.payload.sessionKey, 'agent:main:explicit:cli-s1');
  });

  test('`openclaw agent` without --json prints the reply text; the same --session-id continues the conversation', async () => {
    llm.script({ reply: 'Second hello from the fake model', chunks: 3, delayMs: 50 });
    const r = ran(await cli(['agent', '--message', 'hi again', '--session-id', 'cli-s1']), 'openclaw agent');
    assert.equal(r.stdout.trim(), 'Second hello from the fake model');
    // The provider got the whole conversation.
    assert.deepEqual(userTexts(llm.completions().at(-1)), ['hi', 'hi again']);
    const history = await op.call('chat.history', { sessionKey: 'agent:main:explicit:cli-s1' });
    assert.deepEqual(history.messages.map((m) => [m.role, textOf(m)]),
      [['user', 'hi'], ['assistant', 'Hello from the fake model'], ['user', 'hi again'], ['assistant', 'Second hello from the fake model']]);
  });

  test('`openclaw agent --session-key agent:main:cli-keyed --json` runs in that session', async () => {
    llm.script({ reply: 'keyed reply' });
    const out = json(await cli(['agent', '--message', 'keyed', '--session-key', 'agent:main:cli-keyed', '--json']), 'openclaw agent --session-key');
    assert.equal(out.result.payloads[0].text, 'keyed reply');
    const history = await op.call('chat.history', { sessionKey: 'agent:main:cli-keyed' });
    assert.deepEqual(history.messages.map(textOf), ['keyed', 'keyed reply']);
  });

  test('`openclaw gateway call chat.send --params ... --json` answers {runId, status:"started"}; the reply arrives', async () => {
    llm.script({ reply: 'reply to gateway call', chunks: 2, delayMs: 50 });
    const from = op.events.length;
    const params = { sessionKey: 'cli-chat', message: 'hi from call', idempotencyKey: 'cli-call-1' };
    const out = json(await cli(['gateway', 'call', 'chat.send', '--params', JSON.stringify(params), '--json']), 'gateway call chat.send');
    assert.deepEqual(out, { runId: 'cli-call-1', status: 'started' });
    const final = await op.waitEvent('chat', { from, timeoutMs: 15000, predicate: (e) => e.payload.runId === 'cli-call-1' && ['final', 'error', 'aborted'].includes(e.payload.state) });
    assert.equal(final.payload.state, 'final', JSON.stringify(final.payload));
    assert.equal(textOf(final.payload.message), 'reply to gateway call');
    assert.equal(final.payload.sessionKey, 'agent:main:cli-chat');
    const deltas = op.events.slice(from).filter((e) => e.event === 'chat' && e.payload.runId === 'cli-call-1' && e.payload.state === 'delta');
    assert.equal(deltas.map((e) => e.payload.deltaText).join(''), 'reply to gateway call');
    // ... and `openclaw gateway call chat.history` reads it back.
    const history = json(await cli(['gateway', 'call', 'chat.history', '--params', JSON.stringify({ sessionKey: 'cli-chat' }), '--json']), 'gateway call chat.history');
    assert.deepEqual(history.messages.map((m) => [m.role, textOf(m)]), [['user', 'hi from call'], ['assistant', 'reply to gateway call']]);
    assert.equal(history.totalMessages, 2);
  });

  test('`openclaw models list --json` lists the configured model from models.list', async () => {
    const out = json(await cli(['models', 'list', '--json']), 'models list');
    const m = out.models.find((x) => x.key === 'fake/m1');
    assert.ok(m, JSON.stringify(out));
    assert.equal(m.name, 'M1');
    assert.equal(m.contextWindow, 200000);
    assert.equal(m.available, true);
  });

  test('`openclaw sessions --json` and `openclaw agents list --json` work (they read the CLI\'s own files)', async () => {
    const sessions = json(await cli(['sessions', '--json']), 'sessions --json');
    assert.ok(Array.isArray(sessions.sessions), JSON.stringify(sessions));
    assert.equal(typeof sessions.count, 'number');
    const agents = json(await cli(['agents', 'list', '--json']), 'agents list --json');
    assert.ok(Array.isArray(agents) && agents.some((a) => a.id === 'main' && a.isDefault), JSON.stringify(agents));
  });
});
