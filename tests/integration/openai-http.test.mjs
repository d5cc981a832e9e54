// The OpenAI-compatible HTTP API (issue 9): off by default (404), then switched on live
// by config.patch; the bearer is the gateway token (401 without it or with a wrong one);
// POST /v1/chat/completions whole and streamed (SSE chat.completion.chunk: the role
// first, content deltas, finish_reason, [DONE]) against the fake model provider, from
// raw HTTP and from the official `openai` npm client; the client aborting mid-stream
// aborts the run (the upstream request closes); the run lands in its session
// (chat.history); session keys from `user` and x-openclaw-session-key; errors as OpenAI
// error JSON (400, 405, 502 for a failed run); GET /v1/models and /v1/models/<id>.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { connectClient } from './lib/client.mjs';
import { startGateway, eventually, sleep } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { RawSocket } from './lib/raw.mjs';
import { peerRequire } from './lib/peer.mjs';

// The official client, from the reference peer's node_modules (ESM ignores NODE_PATH).
const OpenAIModule = peerRequire('openai');
const OpenAI = OpenAIModule.default ?? OpenAIModule.OpenAI ?? OpenAIModule;

function textOf(message) {
  if (typeof message?.content === 'string') return message.content;
  return (message?.content ?? []).filter((p) => p.type === 'text').map((p) => p.text).join('');
}

/** POST with a JSON body; resolves {status, headers, body, json}. */
function post(gw, path, body, { headers = {}, token = gw.token } = {}) {
  const h = { 'content-type': 'application/json', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  return gw.http(path, { method: 'POST', headers: h, body: typeof body === 'string' ? body : JSON.stringify(body), timeoutMs: 15000 });
}

/** The data: payloads of an SSE body, in order. */
function sseData(text) {
  return text.split('\n\n').filter((b) => b.trim()).map((b) => b.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'));
}

function assertOpenAiError(r, status, type) {
  assert.equal(r.status, status, `${r.status} ${r.body}`);
  assert.match(r.headers['content-type'], /application\/json/);
  assert.equal(typeof r.json?.error?.message, 'string', r.body);
  if (type) assert.equal(r.json.error.type, type, r.body);
}

describe('OpenAI-compatible HTTP API', () => {
  let gw, llm, admin;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1', contextWindow: 8000, maxTokens: 1000 }, { id: 'm2', name: 'M2' }, { id: 'vis', name: 'Vis', input: ['text', 'image'] }] } } },
        agents: { defaults: { model: 'fake/m1' }, entries: { ops: { name: 'Ops' } } },
      },
    });
    admin = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => {
    admin?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('disabled by default: 404 for both routes, even without a token', async () => {
    assert.equal((await post(gw, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] })).status, 404);
    assert.equal((await post(gw, '/v1/chat/completions', {}, { token: null })).status, 404);
    assert.equal((await gw.http('/v1/models', { headers: { authorization: `Bearer ${gw.token}` } })).status, 404);
    assert.equal(llm.completions().length, 0);
  });

  test('config.patch turns it on at once, without a restart', async () => {
    const { hash } = await admin.call('config.get', {});
    const res = await admin.call('config.patch', { raw: JSON.stringify({ gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } } }), baseHash: hash });
    assert.deepEqual(res.restartRequired, []);
    await eventually(async () => (await gw.http('/v1/models', { headers: { authorization: `Bearer ${gw.token}` } })).status === 200, 3000, '/v1/models served');
  });

  test('401 without the bearer or with a wrong one; 405 for GET; 400 for a bad body', async () => {
    const none = await post(gw, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }, { token: null });
    assertOpenAiError(none, 401, 'unauthorized');
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assertOpenAiError(await post(gw, '/v1/chat/completions', {}, { token: 'wrong' }), 401, 'unauthorized');
    assertOpenAiError(await gw.http('/v1/models'), 401, 'unauthorized');
    const get = await gw.http('/v1/chat/completions', { headers: { authorization: `Bearer ${gw.token}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    assertOpenAiError(await post(gw, '/v1/chat/completions', '{not json'), 400, 'invalid_request_error');
    assertOpenAiError(await post(gw, '/v1/chat/completions', '[1]'), 400, 'invalid_request_error');
    assertOpenAiError(await post(gw, '/v1/chat/completions', { messages: 'hi' }), 400, 'invalid_request_error');
    assertOpenAiError(await post(gw, '/v1/chat/completions', { stream: 'yes', messages: [] }), 400, 'invalid_request_error');
    const missing = await post(gw, '/v1/chat/completions', { messages: [{ role: 'system', content: 'be brief' }] });
    assertOpenAiError(missing, 400, 'invalid_request_error');
    assert.equal(missing.json.error.message, 'Missing user message in `messages`.');
    const unknown = await post(gw, '/v1/chat/completions', { model: 'openclaw/nobody', messages: [{ role: 'user', content: 'hi' }] });
    assertOpenAiError(unknown, 400, 'invalid_request_error');
    assert.equal(unknown.json.error.message, "Unknown agent 'nobody'.");
    assertOpenAiError(await post(gw, '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), 400, 'invalid_request_error');
    assertOpenAiError(await post(gw, '/v1/chat/completions', { model: 'nope/x', messages: [{ role: 'user', content: 'hi' }] }), 400, 'invalid_request_error');
    const long = await post(gw, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-openclaw-session-key': 'k'.repeat(600) } });
    assertOpenAiError(long, 400, 'invalid_request_error');
    const reserved = await post(gw, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-openclaw-session-key': 'cron:nightly' } });
    assertOpenAiError(reserved, 400, 'invalid_request_error');
    assert.equal(llm.completions().length, 0, 'nothing reached the provider');
  });

  test('a whole chat.completion; the run lands in its session (user field)', async () => {
    llm.script({ reply: 'Hello from the agent', usage: { input: 7, output: 4 } });
    const r = await post(gw, '/v1/chat/completions', { model: 'openclaw', user: 'Alice', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi there' }] });
    assert.equal(r.status, 200, r.body);
    const c = r.json;
    assert.match(c.id, /^chatcmpl_/);
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.model, 'openclaw');
    assert.equal(typeof c.created, 'number');
    assert.deepEqual(c.choices, [{ index: 0, message: { role: 'assistant', content: 'Hello from the agent' }, finish_reason: 'stop' }]);
    assert.deepEqual(c.usage, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 });
    const upstream = llm.completions().at(-1);
    assert.equal(upstream.body.model, 'm1');
    assert.equal(upstream.body.messages.at(-1).content, 'hi there');

    const history = await admin.call('chat.history', { sessionKey: 'agent:main:openai-user:alice' });
    assert.equal(history.sessionKey, 'agent:main:openai-user:alice');
    const [user, reply] = history.messages.slice(-2);
    assert.equal(user.role, 'user');
    assert.equal(textOf(user), 'hi there');
    assert.equal(reply.role, 'assistant');
    assert.equal(textOf(reply), 'Hello from the agent');
    assert.equal(reply.runId, c.id);
    const sessions = await admin.call('sessions.list', {});
    assert.ok(sessions.sessions.some((s) => s.key === 'agent:main:openai-user:alice'));
  });

  test('earlier messages of the request go before the current one as context', async () => {
    llm.script({ echo: true });
    const r = await post(gw, '/v1/chat/completions', { messages: [{ role: 'user', content: 'my name is Bo' }, { role: 'assistant', content: 'Hi Bo' }, { role: 'user', content: [{ type: 'text', text: 'what is my name?' }] }] });
    assert.equal(r.status, 200, r.body);
    const sent = llm.completions().at(-1).body.messages.at(-1).content;
    assert.equal(sent, '[Chat messages since your last reply - for context]\nUser: my name is Bo\nAssistant: Hi Bo\n\n[Current message - respond to this]\nUser: what is my name?');
  });

  test('openclaw/<agentId> runs that agent; x-openclaw-session-key names the session; a provider model overrides', async () => {
    llm.script({ reply: 'ops here' });
    let r = await post(gw, '/v1/chat/completions', { model: 'openclaw/ops', messages: [{ role: 'user', content: 'status?' }] }, { headers: { 'x-openclaw-session-key': 'OnCall' } });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.model, 'openclaw/ops');
    let history = await admin.call('chat.history', { sessionKey: 'agent:ops:oncall' });
    assert.equal(textOf(history.messages.at(-1)), 'ops here');

    llm.script({ reply: 'from m2' });
    r = await post(gw, '/v1/chat/completions', { model: 'fake/m2', user: 'bob', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.model, 'fake/m2');
    assert.equal(llm.completions().at(-1).body.model, 'm2');
    history = await admin.call('chat.history', { sessionKey: 'agent:main:openai-user:bob' });
    assert.equal(textOf(history.messages.at(-1)), 'from m2');
  });

  test('image_url data URLs go to the model as images; remote URLs and text-only models are refused', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64');
    const messages = [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }];
    llm.script({ reply: 'a picture' });
    const r = await post(gw, '/v1/chat/completions', { model: 'fake/vis', messages });
    assert.equal(r.status, 200, r.body);
    const upstream = llm.completions().at(-1);
    assert.deepEqual(upstream.images, [{ mimeType: 'image/png', data: png }]);
    const before = llm.completions().length;
    assertOpenAiError(await post(gw, '/v1/chat/completions', { messages }), 400, 'invalid_request_error');
    const remote = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }];
    assertOpenAiError(await post(gw, '/v1/chat/completions', { model: 'fake/vis', messages: remote }), 400, 'invalid_request_error');
    assert.equal(llm.completions().length, before);
  });

  test('streamed: the role first, content deltas joining to the reply, finish_reason, usage, [DONE]', async () => {
    llm.script({ reply: 'one two three four five six', chunks: 6, delayMs: 80, usage: { input: 3, output: 6 } });
    const r = await post(gw, '/v1/chat/completions', { stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'count' }] });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    const data = sseData(r.body);
    assert.equal(data.at(-1), '[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    const id = chunks[0].id;
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, id);
      assert.equal(c.model, 'openclaw');
    }
    assert.deepEqual(chunks[0].choices, [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }]);
    const content = chunks.filter((c) => c.choices[0]?.delta?.content !== undefined);
    assert.ok(content.length >= 2, `several content deltas (${content.length})`);
    assert.equal(content.map((c) => c.choices[0].delta.content).join(''), 'one two three four five six');
    const fin = chunks.find((c) => c.choices[0]?.finish_reason);
    assert.deepEqual(fin.choices, [{ index: 0, delta: {}, finish_reason: 'stop' }]);
    assert.deepEqual(chunks.at(-1).usage, { prompt_tokens: 3, completion_tokens: 6, total_tokens: 9 });
    assert.deepEqual(chunks.at(-1).choices, []);
  });

  test('keep-alive: two completions on one connection, in order', async () => {
    llm.script({ reply: 'first' }, { reply: 'second' });
    const s = await RawSocket.connect(gw.port);
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] });
    const req = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    await s.write(req + req); // pipelined
    const a = await s.readHttpResponse(10000);
    const b = await s.readHttpResponse(10000);
    assert.equal(JSON.parse(a.body).choices[0].message.content, 'first');
    assert.equal(JSON.parse(b.body).choices[0].message.content, 'second');
    assert.equal(s.ended, false);
    s.destroy();
  });

  test('a failed run: 502 with the run\'s message; streamed, an error event then [DONE]', async () => {
    llm.script({ status: 400, errorMessage: 'context too long for this model' });
    const r = await post(gw, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
    assertOpenAiError(r, 502, 'api_error');
    assert.match(r.json.error.message, /context too long/);

    llm.script({ reply: 'partial then broken', chunks: 3, delayMs: 50, errorAfter: 1, errorMessage: 'upstream broke' });
    const s = await post(gw, '/v1/chat/completions', { stream: true, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(s.status, 200);
    const data = sseData(s.body);
    assert.equal(data.at(-1), '[DONE]');
    const err = JSON.parse(data.at(-2));
    assert.equal(typeof err.error.message, 'string');
    assert.match(err.error.message, /upstream broke/);
  });

  test('the official openai client streams from /v1/chat/completions', async () => {
    llm.script({ reply: 'streamed through the SDK', chunks: 4, delayMs: 40 });
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${gw.port}/v1`, apiKey: gw.token, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'openclaw/main', messages: [{ role: 'user', content: 'sdk?' }], stream: true, user: 'sdk' });
    let text = '';
    let finish;
    let n = 0;
    for await (const chunk of stream) {
      n++;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, 'streamed through the SDK');
    assert.equal(finish, 'stop');
    assert.ok(n >= 3);
    const whole = await client.chat.completions.create({ model: 'openclaw', messages: [{ role: 'user', content: 'again' }] });
    assert.equal(whole.choices[0].message.content, 'ok');
    const models = await client.models.list();
    assert.ok(models.data.map((m) => m.id).includes('openclaw/ops'));
    await assert.rejects(new OpenAI({ baseURL: `http://127.0.0.1:${gw.port}/v1`, apiKey: 'wrong', maxRetries: 0 }).models.list(), (e) => e.status === 401);
  });

  test('the SDK client aborting mid-stream aborts the run: the upstream request closes, the partial text stays', async () => {
    llm.script({ reply: 'a b c d e f g h i j k l m n o p', chunks: 16, delayMs: 150 });
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${gw.port}/v1`, apiKey: gw.token, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'openclaw', user: 'quitter', messages: [{ role: 'user', content: 'long one' }], stream: true });
    const upstream = await llm.waitForRequest((r) => r.kind === 'openai' && r.body.messages.at(-1).content === 'long one');
    let got = '';
    for await (const chunk of stream) {
      got += chunk.choices[0]?.delta?.content ?? '';
      if (got.length >= 3) break; // leaving the loop aborts the request
    }
    const t0 = Date.now();
    await Promise.race([upstream.closed, sleep(3000)]);
    assert.ok(upstream.closedAt, 'the upstream request closed');
    assert.ok(upstream.closedAt - t0 < 1500, `closed within ${upstream.closedAt - t0} ms`);
    assert.equal(upstream.clientAborted, true);
    await eventually(async () => {
      const h = await admin.call('chat.history', { sessionKey: 'agent:main:openai-user:quitter' });
      const last = h.messages.at(-1);
      return last?.role === 'assistant' && last.status === 'aborted' && textOf(last).startsWith('a b');
    }, 3000, 'the aborted reply in the transcript');
  });

  test('GET /v1/models lists the agents; /v1/models/<id>', async () => {
    const auth = { authorization: `Bearer ${gw.token}` };
    const r = await gw.http('/v1/models', { headers: auth });
    assert.equal(r.status, 200);
    assert.equal(r.json.object, 'list');
    assert.deepEqual(r.json.data.map((m) => m.id), ['openclaw', 'openclaw/default', 'openclaw/main', 'openclaw/ops']);
    for (const m of r.json.data) assert.deepEqual(m, { id: m.id, object: 'model', created: 0, owned_by: 'openclaw', permission: [] });
    const one = await gw.http('/v1/models/openclaw%2Fops', { headers: auth });
    assert.equal(one.status, 200);
    assert.equal(one.json.id, 'openclaw/ops');
    assert.equal((await gw.http('/v1/models/openclaw/main', { headers: auth })).json.id, 'openclaw/main');
    assertOpenAiError(await gw.http('/v1/models/openclaw%2Fnobody', { headers: auth }), 404, 'invalid_request_error');
    assertOpenAiError(await gw.http('/v1/models/gpt-4', { headers: auth }), 400, 'invalid_request_error');
  });

  test('a client that goes away before a whole answer aborts its run too', async () => {
    llm.script({ reply: 'slow', hang: 'head' });
    const before = llm.completions().length;
    const req = http.request({ host: '127.0.0.1', port: gw.port, path: '/v1/chat/completions', method: 'POST', agent: false, headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end(JSON.stringify({ user: 'leaver', messages: [{ role: 'user', content: 'wait' }] }));
    await llm.waitForCompletions(before + 1);
    const upstream = llm.completions().at(-1);
    req.destroy();
    await Promise.race([upstream.closed, sleep(3000)]);
    assert.ok(upstream.closedAt, 'the upstream request closed');
  });
});

describe('OpenAI-compatible HTTP API: shutdown with a completion streaming', () => {
  test('SIGTERM mid-stream cuts the stream, aborts the run, and the gateway exits cleanly', async () => {
    const llm = await startFakeLlm({ apiKey: 'sk-test' });
    const gw = await startGateway({
      config: {
        gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } },
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] } } },
        agents: { defaults: { model: 'fake/m1' } },
      },
    });
    try {
      llm.script({ reply: 'a b c d e f g h i j', chunks: 10, delayMs: 300 });
      const got = [];
      let ended = false;
      const done = new Promise((resolve) => {
        const req = http.request({ host: '127.0.0.1', port: gw.port, path: '/v1/chat/completions', method: 'POST', agent: false, headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' } }, (res) => {
          res.on('data', (d) => got.push(String(d)));
          res.on('end', () => { ended = true; resolve(); });
          res.on('error', () => resolve());
          res.on('aborted', () => resolve());
        });
        req.on('error', () => resolve());
        req.end(JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'go' }] }));
      });
      const upstream = await llm.waitForRequest((r) => r.kind === 'openai');
      await eventually(() => got.join('').includes('"content"'), 3000, 'a content delta');
      const r = await gw.stop('SIGTERM');
      assert.ok(r.ms < 2000, `exited within ${r.ms} ms`);
      await Promise.race([done, sleep(2000)]);
      assert.ok(!got.join('').includes('[DONE]'), 'the stream was cut, not finished');
      assert.equal(ended && got.join('').includes('[DONE]'), false);
      await Promise.race([upstream.closed, sleep(2000)]);
      assert.ok(upstream.closedAt, 'the upstream request closed');
    } finally {
      await gw.stop().catch(() => {});
      await llm.close();
    }
  });
});
