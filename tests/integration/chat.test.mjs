// Chat runs (issue 9): chat.send answers at once and the reply streams as chat and agent
// events to every operator; deltas arrive in order and join to the final text; the
// transcript keeps the user turn and the reply; a repeated key starts nothing; abort
// keeps the partial text and closes the upstream request; errors become chat error
// events; one run at a time per session, the next queued; agent answers twice on one
// request id; agent.wait. The model is tests/integration/lib/fake-llm.mjs. Every frame
// is validated against the schema by the client harness (chat as ChatEvent, agent as
// AgentEvent).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient } from './lib/client.mjs';
import { startGateway, eventually, sleep } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';

let keys = 0;
const key = () => `run-${process.pid}-${++keys}`;

/** The chat events of runId seen by c, in arrival order. */
const chatEvents = (c, runId) => c.events.filter((e) => e.event === 'chat' && e.payload.runId === runId).map((e) => e.payload);
const agentEvents = (c, runId) => c.events.filter((e) => e.event === 'agent' && e.payload.runId === runId).map((e) => e.payload);
const terminal = (c, runId, timeoutMs = 10000) => c.waitEvent('chat', { timeoutMs, predicate: (e) => e.payload.runId === runId && ['final', 'aborted', 'error'].includes(e.payload.state) });

function textOf(message) {
  return (message?.content ?? []).filter((p) => p.type === 'text').map((p) => p.text).join('');
}

describe('chat runs on an OpenAI-compatible provider', () => {
  let gw, llm, a, b;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1', contextWindow: 8000, maxTokens: 1000 }] } } },
        agents: { defaults: { model: 'fake/m1' } },
      },
    });
    a = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    b = await connectClient(gw, { params: { scopes: ['operator.read'] } });
  });
  after(async () => {
    a?.close();
    b?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('a reply streams to every operator: status, deltas in order, final; the transcript keeps both turns', async () => {
    llm.script({ reply: 'Hello there, how can I help you today?', chunks: 6, delayMs: 30, usage: { input: 12, output: 9 } });
    const runId = key();
    const res = await a.call('chat.send', { sessionKey: 'main', message: 'hi', idempotencyKey: runId });
    assert.deepEqual(res, { runId, status: 'started' });
    const fin = await terminal(a, runId);
    assert.equal(fin.payload.state, 'final');
    assert.equal(fin.payload.sessionKey, 'agent:main:main');
    assert.equal(fin.payload.agentId, 'main');
    assert.equal(textOf(fin.payload.message), 'Hello there, how can I help you today?');
    assert.equal(fin.payload.stopReason, 'stop');
    for (const c of [a, b]) {
      await terminal(c, runId); /* each client at its own pace */
      const events = chatEvents(c, runId);
      assert.deepEqual(events.filter((e) => e.state === 'status').map((e) => e.phase), ['preparing_workspace', 'preparing_context', 'starting_model']);
      const deltas = events.filter((e) => e.state === 'delta');
      assert.ok(deltas.length >= 1);
      assert.equal(deltas.map((d) => d.deltaText).join(''), 'Hello there, how can I help you today?');
      for (const d of deltas) assert.ok(textOf(d.message).endsWith(d.deltaText));
      const seqs = [...events, ...agentEvents(c, runId)].map((e) => e.seq).sort((x, y) => x - y);
      assert.equal(new Set(seqs).size, seqs.length, 'seq is unique per run across chat and agent events');
      const lifecycle = agentEvents(c, runId).filter((e) => e.stream === 'lifecycle').map((e) => e.data.phase);
      assert.deepEqual(lifecycle, ['start', 'end']);
    }
    const request = llm.completions().at(-1);
    assert.equal(request.headers.authorization, 'Bearer sk-test');
    assert.equal(request.body.stream, true);
    assert.deepEqual(request.body.messages.filter((m) => m.role === 'user').map((m) => m.content), ['hi']);

    const history = await a.call('chat.history', { sessionKey: 'main' });
    assert.equal(history.sessionKey, 'agent:main:main');
    assert.equal(typeof history.sessionId, 'string');
    const [user, reply] = history.messages.slice(-2);
    assert.equal(user.role, 'user');
    assert.equal(user.content, 'hi');
    assert.equal(reply.role, 'assistant');
    assert.equal(textOf(reply), 'Hello there, how can I help you today?');
    assert.deepEqual(reply.usage, { input: 12, output: 9, totalTokens: 21 });
    assert.equal(reply.stopReason, 'stop');
    assert.equal(reply.provider, 'fake');
    assert.equal(reply.model, 'm1');
  });

  test('the same key again starts nothing: in_flight while it runs, ok after', async () => {
    llm.script({ reply: 'slow one', chunks: 4, delayMs: 150 });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'dup', message: 'x', idempotencyKey: runId });
    assert.deepEqual(await a.call('chat.send', { sessionKey: 'dup', message: 'x', idempotencyKey: runId }), { runId, status: 'in_flight' });
    await terminal(a, runId);
    assert.deepEqual(await a.call('chat.send', { sessionKey: 'dup', message: 'x', idempotencyKey: runId }), { runId, status: 'ok' });
    const history = await a.call('chat.history', { sessionKey: 'dup' });
    assert.equal(history.messages.filter((m) => m.role === 'user').length, 1);
  });

  test('one run at a time per session: a message sent during a run waits and runs next', async () => {
    llm.script({ reply: 'first reply', chunks: 3, delayMs: 100 }, { reply: 'second reply' });
    const r1 = key(), r2 = key();
    await a.call('chat.send', { sessionKey: 'queue', message: 'one', idempotencyKey: r1 });
    await a.call('chat.send', { sessionKey: 'queue', message: 'two', idempotencyKey: r2 });
    const f1 = await terminal(a, r1);
    const f2 = await terminal(a, r2);
    assert.equal(textOf(f1.payload.message), 'first reply');
    assert.equal(textOf(f2.payload.message), 'second reply');
    const firstOfSecond = a.events.findIndex((e) => e.event === 'chat' && e.payload.runId === r2);
    const endOfFirst = a.events.findIndex((e) => e.event === 'chat' && e.payload.runId === r1 && e.payload.state === 'final');
    assert.ok(firstOfSecond > endOfFirst, 'the second run started after the first ended');
    // The second request carried the whole conversation.
    const second = llm.completions().at(-1);
    assert.deepEqual(second.body.messages.filter((m) => m.role !== 'system').map((m) => [m.role, typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('')]),
      [['user', 'one'], ['assistant', 'first reply'], ['user', 'two']]);
  });

  test('abort mid-stream keeps the partial text and closes the upstream request within a second', async () => {
    llm.script({ reply: 'a b c d e f g h i j k l m n o p', chunks: 16, delayMs: 200 });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'abort', message: 'go', idempotencyKey: runId });
    await a.waitEvent('chat', { predicate: (e) => e.payload.runId === runId && e.payload.state === 'delta' });
    const upstream = llm.completions().at(-1);
    const t0 = Date.now();
    const res = await a.call('chat.abort', { sessionKey: 'abort' });
    assert.deepEqual(res, { ok: true, aborted: true, runIds: [runId] });
    const end = await terminal(a, runId);
    assert.equal(end.payload.state, 'aborted');
    assert.equal(end.payload.stopReason, 'rpc');
    const partial = textOf(end.payload.message);
    assert.ok(partial.length > 0 && 'a b c d e f g h i j k l m n o p'.startsWith(partial), partial);
    const closedAt = await upstream.closed;
    assert.ok(closedAt - t0 < 1000, `upstream closed ${closedAt - t0} ms after the abort`);
    assert.deepEqual(await a.call('chat.abort', { sessionKey: 'abort' }), { ok: true, aborted: false, runIds: [] });
    const history = await a.call('chat.history', { sessionKey: 'abort' });
    assert.equal(textOf(history.messages.at(-1)), partial);
  });

  test('a provider error before streaming is a chat error event with a message a user can act on', async () => {
    llm.script({ status: 401, errorMessage: 'invalid api key' });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'err', message: 'x', idempotencyKey: runId });
    const end = await terminal(a, runId);
    assert.equal(end.payload.state, 'error');
    assert.equal(typeof end.payload.errorMessage, 'string');
    assert.ok(end.payload.errorMessage.length > 0);
    assert.equal(end.payload.errorDetail.providerRuntimeFailureKind, 'auth');
    const lifecycle = agentEvents(a, runId).filter((e) => e.stream === 'lifecycle').at(-1);
    assert.equal(lifecycle.data.phase, 'error');
    assert.equal(lifecycle.data.errorKind, 'auth');
    // The session is usable afterwards.
    llm.script({ reply: 'fine now' });
    const next = key();
    await a.call('chat.send', { sessionKey: 'err', message: 'again', idempotencyKey: next });
    assert.equal((await terminal(a, next)).payload.state, 'final');
  });

  test('agent answers twice on one request id; agent.wait', async () => {
    llm.script({ reply: 'agent reply', chunks: 2, delayMs: 50 });
    const runId = key();
    const frames = () => a.frames.filter((f) => f.type === 'res' && f.id === `agent-${runId}`);
    a.sendRaw({ type: 'req', id: `agent-${runId}`, method: 'agent', params: { message: 'do it', idempotencyKey: runId } });
    await a.waitFor(() => frames().length >= 2 || undefined, 10000, 'both agent responses');
    const [accepted, done] = frames();
    assert.equal(accepted.ok, true);
    assert.equal(accepted.payload.status, 'accepted');
    assert.equal(accepted.payload.runId, runId);
    assert.equal(accepted.payload.agentId, 'main');
    assert.match(accepted.payload.sessionKey, /^agent:main:explicit:/);
    assert.equal(done.ok, true);
    assert.equal(done.payload.status, 'ok');
    assert.equal(done.payload.result.payloads[0].text, 'agent reply');
    const waited = await a.call('agent.wait', { runId, timeoutMs: 1000 });
    assert.equal(waited.status, 'ok');
    assert.deepEqual(await a.call('agent.wait', { runId: 'no-such-run', timeoutMs: 10 }), { runId: 'no-such-run', status: 'timeout' });
  });

  test('agent.wait waits for a running run', async () => {
    llm.script({ reply: 'later', chunks: 3, delayMs: 150 });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'waited', message: 'x', idempotencyKey: runId });
    const t0 = Date.now();
    const waited = await a.call('agent.wait', { runId, timeoutMs: 10000 });
    assert.equal(waited.status, 'ok');
    assert.ok(Date.now() - t0 >= 100);
    const short = key();
    llm.script({ reply: 'very slow', chunks: 5, delayMs: 400 });
    await a.call('chat.send', { sessionKey: 'waited', message: 'y', idempotencyKey: short });
    assert.equal((await a.call('agent.wait', { runId: short, timeoutMs: 100 })).status, 'timeout');
    await terminal(a, short);
  });

  test('bad requests are refused clearly', async () => {
    const r = await a.request('chat.send', { sessionKey: 'main', message: 'x' });
    assert.equal(r.ok, false);
    assert.match(r.error.message, /idempotencyKey/);
    // Keys the real Control UI adds are ignored.
    llm.script({ reply: 'ok' });
    const runId = key();
    const ok = await a.call('chat.send', { sessionKey: 'ui', message: 'x', idempotencyKey: runId, mentions: [], workContext: {}, __controlUiReconnectResume: true });
    assert.equal(ok.status, 'started');
    await terminal(a, runId);
    const img = await a.request('chat.send', { sessionKey: 'ui', message: 'x', idempotencyKey: key(), attachments: [{ type: 'file', mimeType: 'application/pdf', content: 'AAAA' }] });
    assert.equal(img.ok, false);
    assert.match(img.error.message, /image/);
    const send = await a.request('send', { to: 'x', idempotencyKey: key() });
    assert.equal(send.ok, false);
    assert.match(send.error.message, /channel/);
  });
});

describe('chat runs: Anthropic, wake, sessions.abort, kill -9 mid-run', () => {
  let llm;
  before(async () => { llm = await startFakeLlm({ apiKey: 'sk-ant' }); });
  after(async () => { await llm?.close(); });
  const config = () => ({
    models: { providers: { claude: { baseUrl: llm.anthropicBaseUrl, apiKey: 'sk-ant', api: 'anthropic-messages', models: [{ id: 'c1', name: 'C1', contextWindow: 8000, maxTokens: 1000 }] } } },
    agents: { defaults: { model: 'claude/c1' } },
  });

  test('an Anthropic-compatible provider streams the same way', async () => {
    const gw = await startGateway({ config: config() });
    const a = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    try {
      llm.script({ reply: 'Bonjour from claude', chunks: 3, delayMs: 20 });
      const runId = key();
      await a.call('chat.send', { sessionKey: 'main', message: 'salut', idempotencyKey: runId });
      const fin = await terminal(a, runId);
      assert.equal(fin.payload.state, 'final');
      assert.equal(textOf(fin.payload.message), 'Bonjour from claude');
      const req = llm.completions().at(-1);
      assert.equal(req.kind, 'anthropic');
      assert.equal(req.headers['x-api-key'], 'sk-ant');
      assert.equal(req.headers['anthropic-version'], '2023-06-01');
    } finally {
      a.close();
      await gw.stop();
    }
  });

  test('wake now runs the agent on a system event; sessions.abort stops a running run', async () => {
    const gw = await startGateway({ config: config() });
    const a = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    try {
      llm.script({ reply: 'woke up' });
      const woke = await a.call('wake', { mode: 'now', text: 'the build finished' });
      assert.equal(woke.ok, true);
      const fin = await terminal(a, woke.runId);
      assert.equal(textOf(fin.payload.message), 'woke up');
      const sent = llm.completions().at(-1).body.messages.filter((m) => m.role === 'user').map((m) => (typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('')));
      assert.ok(sent.some((t) => t.includes('the build finished')), JSON.stringify(sent));

      llm.script({ reply: 'x y z w v u t s r q', chunks: 10, delayMs: 200 });
      const runId = key();
      await a.call('chat.send', { sessionKey: 'main', message: 'long one', idempotencyKey: runId });
      await a.waitEvent('chat', { predicate: (e) => e.payload.runId === runId && e.payload.state === 'delta' });
      assert.deepEqual(await a.call('sessions.abort', { key: 'main' }), { ok: true, abortedRunId: runId, status: 'aborted' });
      assert.equal((await terminal(a, runId)).payload.state, 'aborted');
      assert.deepEqual(await a.call('sessions.abort', { key: 'main' }), { ok: true, abortedRunId: null, status: 'no-active-run' });
    } finally {
      a.close();
      await gw.stop();
    }
  });

  test('kill -9 mid-run: after a restart the user turn is there, the reply is marked interrupted, the next message runs', async () => {
    let gw = await startGateway({ config: config(), keepStateDir: true });
    let a = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    llm.script({ reply: 'this reply never finishes because the gateway dies', chunks: 10, delayMs: 300 });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'crash', message: 'remember me', idempotencyKey: runId });
    await a.waitEvent('chat', { predicate: (e) => e.payload.runId === runId && e.payload.state === 'delta' });
    const { stateDir, port, token } = gw;
    await gw.stop('SIGKILL', { keepStateDir: true, expectCode: null });
    gw = await startGateway({ stateDir, port, token, keepStateDir: false, config: config() });
    a = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    try {
      const history = await a.call('chat.history', { sessionKey: 'crash' });
      const user = history.messages.find((m) => m.role === 'user');
      assert.equal(user.content, 'remember me');
      const reply = history.messages.find((m) => m.role === 'assistant');
      assert.equal(reply.status, 'interrupted');
      llm.script({ reply: 'back again' });
      const next = key();
      assert.equal((await a.call('chat.send', { sessionKey: 'crash', message: 'still there?', idempotencyKey: next })).status, 'started');
      const fin = await terminal(a, next);
      assert.equal(fin.payload.state, 'final');
      assert.equal(textOf(fin.payload.message), 'back again');
    } finally {
      a.close();
      await gw.stop();
    }
  });
});

describe('chat runs: images, delta batching, tool calls, no model configured', () => {
  let llm, gw, a;
  // A 1x1 PNG.
  const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        models: {
          providers: {
            fake: {
              baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions',
              models: [{ id: 'vision', name: 'Vision', input: ['text', 'image'] }, { id: 'text', name: 'Text', input: ['text'] }],
            },
          },
        },
        agents: { defaults: { model: 'fake/vision' } },
      },
    });
    a = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => {
    a?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('an image attachment reaches a model that takes images, in its API\'s format', async () => {
    llm.script({ reply: 'a tiny image' });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'img', message: 'what is this?', idempotencyKey: runId, attachments: [{ type: 'image', mimeType: 'image/png', content: PNG }] });
    assert.equal((await terminal(a, runId)).payload.state, 'final');
    const req = llm.completions().at(-1);
    assert.deepEqual(req.images, [{ mimeType: 'image/png', data: PNG }]);
    // Not an image type clawgate sends to models: refused clearly before anything runs.
    const bad = await a.request('chat.send', { sessionKey: 'img', message: 'x', idempotencyKey: key(), attachments: [{ type: 'image', mimeType: 'image/gif', content: PNG }] });
    assert.equal(bad.ok, false);
    assert.match(bad.error.message, /image\/png/);
  });

  test('deltas are batched: a fast stream of 60 chunks reaches clients in far fewer delta events, in order', async () => {
    const chunks = Array.from({ length: 60 }, (_, i) => `w${i} `);
    llm.script({ chunks, delayMs: 2 });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'fast', message: 'go', idempotencyKey: runId });
    const fin = await terminal(a, runId);
    const deltas = chatEvents(a, runId).filter((e) => e.state === 'delta');
    assert.equal(deltas.map((d) => d.deltaText).join(''), chunks.join(''));
    assert.equal(textOf(fin.payload.message), chunks.join(''));
    assert.ok(deltas.length < 30, `${deltas.length} delta events for 60 chunks`);
  });

  test('a tool call ends the run with the text so far and a note that tools are not available', async () => {
    llm.script({ reply: 'Let me look that up.', toolCall: { name: 'search', arguments: { q: 'x' } } });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'tools', message: 'search', idempotencyKey: runId });
    const fin = await terminal(a, runId);
    assert.equal(fin.payload.state, 'final');
    assert.equal(fin.payload.stopReason, 'tool_calls');
    assert.match(textOf(fin.payload.message), /^Let me look that up\.[\s\S]*tools/i);
  });

  test('with no model configured, the offline provider says so plainly', async () => {
    const bare = await startGateway();
    const c = await connectClient(bare, { params: { scopes: ['operator.admin'] } });
    try {
      const runId = key();
      await c.call('chat.send', { sessionKey: 'main', message: 'hello?', idempotencyKey: runId });
      const fin = await terminal(c, runId);
      assert.equal(fin.payload.state, 'final');
      assert.match(textOf(fin.payload.message), /no model is configured/i);
    } finally {
      c.close();
      await bare.stop();
    }
  });
});
