// Webhooks (issue 10, "Webhooks as in OpenClaw"): with hooks.enabled and hooks.token,
// POST /hooks/wake and /hooks/agent answer at once with the real gateway's bodies
// (../shared/OBSERVED.md "Webhooks"); the token as Bearer or X-OpenClaw-Token, never the
// gateway token, never in the query; 401, 400, 405 as it does; off by default.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient } from './lib/client.mjs';
import { startGateway, httpRequest } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';

const HOOK_TOKEN = 'hook-secret-1234';

const post = (gw, path, body, headers = {}) => httpRequest(gw.port, path, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: body === undefined ? undefined : JSON.stringify(body),
});
const json = (r) => JSON.parse(r.body);
const textOf = (m) => (m?.content ?? []).filter((p) => p.type === 'text').map((p) => p.text).join('');

describe('webhooks', () => {
  let gw, llm, op;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        hooks: { enabled: true, token: HOOK_TOKEN },
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] } } },
        agents: { defaults: { model: 'fake/m1' } },
      },
    });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => {
    op?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('POST /hooks/agent answers {ok, runId} at once and the run lands in a hook session', async () => {
    llm.script({ reply: 'hooked reply', chunks: 2, delayMs: 100 });
    const r = await post(gw, '/hooks/agent', { message: 'from a webhook', deliver: false }, { authorization: `Bearer ${HOOK_TOKEN}` });
    assert.equal(r.status, 200, r.body);
    const body = json(r);
    assert.equal(body.ok, true);
    assert.equal(typeof body.runId, 'string');
    const fin = await op.waitEvent('chat', { timeoutMs: 10000, predicate: (e) => e.payload.runId === body.runId && e.payload.state === 'final' });
    assert.equal(textOf(fin.payload.message), 'hooked reply');
    assert.match(fin.payload.sessionKey, /^agent:main:hook:/);
  });

  test('POST /hooks/wake with X-OpenClaw-Token: {ok, mode: "now", eventOutcome: "queued"}, and the agent reads the event', async () => {
    llm.script({ reply: 'noted' });
    const before = llm.completions().length;
    const r = await post(gw, '/hooks/wake', { text: 'the deploy finished' }, { 'x-openclaw-token': HOOK_TOKEN });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(json(r), { ok: true, mode: 'now', eventOutcome: 'queued' });
    const req = await llm.waitForRequest((q) => q.kind === 'openai' && llm.completions().indexOf(q) >= before);
    assert.ok(JSON.stringify(req.body.messages).includes('the deploy finished'));
  });

  test('refusals as the real gateway answers them', async () => {
    const missing = await post(gw, '/hooks/wake', { text: 'x' });
    assert.equal(missing.status, 401);
    assert.equal(missing.body, 'Unauthorized');
    const gatewayToken = await post(gw, '/hooks/wake', { text: 'x' }, { authorization: `Bearer ${gw.token}` });
    assert.equal(gatewayToken.status, 401, 'the gateway token is not the hook token');
    const query = await post(gw, `/hooks/wake?token=${HOOK_TOKEN}`, { text: 'x' });
    assert.equal(query.status, 400);
    assert.match(query.body, /query parameters are not allowed/);
    const get = await httpRequest(gw.port, '/hooks/wake', { headers: { authorization: `Bearer ${HOOK_TOKEN}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    const noText = await post(gw, '/hooks/wake', {}, { authorization: `Bearer ${HOOK_TOKEN}` });
    assert.equal(noText.status, 400);
    assert.deepEqual(json(noText), { ok: false, error: 'text required' });
    const noMessage = await post(gw, '/hooks/agent', { deliver: false }, { authorization: `Bearer ${HOOK_TOKEN}` });
    assert.equal(noMessage.status, 400);
    assert.deepEqual(json(noMessage), { ok: false, error: 'message required' });
  });

  test('off by default: 404', async () => {
    const plain = await startGateway();
    try {
      const r = await post(plain, '/hooks/wake', { text: 'x' }, { authorization: 'Bearer whatever' });
      assert.equal(r.status, 404);
    } finally {
      await plain.stop();
    }
  });
});
