// Self-test of the harness: a fake server (ws) sends good and bad frames, and the client's
// schema validation and seq checks must catch every bad one. Proves the checks the other
// files rely on can fail. Needs no clawgate binary.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { peerRequire } from './lib/peer.mjs';
import { GatewayClient } from './lib/client.mjs';
import { validate, SchemaViolation } from './lib/schema.mjs';
import { validateEnvelope } from './lib/raw.mjs';
import { assertNoSanitizerReport } from './lib/gateway.mjs';

const { WebSocketServer } = peerRequire('ws');

const HELLO = {
  type: 'hello-ok',
  protocol: 4,
  server: { version: '0.0.0-test', connId: 'c-1' },
  features: { methods: ['health'], events: ['tick'] },
  snapshot: { presence: [], health: { ok: true, ts: 1 }, stateVersion: { presence: 0, health: 0 }, uptimeMs: 0 },
  auth: { role: 'operator', scopes: [] },
  policy: { maxPayload: 1024, maxBufferedBytes: 2048, tickIntervalMs: 1000 },
};

describe('harness self-test against a scripted fake server', () => {
  let wss; let url; let script;
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.on('listening', r));
    url = `ws://127.0.0.1:${wss.address().port}`;
    wss.on('connection', (ws) => {
      const send = (o) => ws.send(typeof o === 'string' ? o : JSON.stringify(o));
      const s = script;
      send(s.challenge ?? { type: 'event', event: 'connect.challenge', payload: { nonce: 'n-1', ts: Date.now() } });
      ws.on('message', (data) => {
        const req = JSON.parse(data.toString());
        s.onRequest(req, send);
      });
    });
  });
  after(() => new Promise((r) => { for (const ws of wss.clients) ws.terminate(); wss.close(r); }));

  const helloReply = (hello = HELLO, extra = []) => (req, send) => {
    if (req.method === 'connect') { send({ type: 'res', id: req.id, ok: true, payload: hello }); for (const f of extra) send(f); return; }
    send({ type: 'res', id: req.id, ok: true, payload: {} });
  };

  test('the fixture hello-ok validates (sanity)', () => {
    validate('HelloOk', HELLO);
  });

  test('a well-behaved server passes', async () => {
    script = { onRequest: helloReply(HELLO, [{ type: 'event', event: 'tick', seq: 1, payload: { ts: 5 } }, { type: 'event', event: 'tick', seq: 2, payload: { ts: 6 } }]) };
    const c = await GatewayClient.open(url);
    const r = await c.connect();
    assert.equal(r.ok, true);
    await c.waitFor(() => c.events.filter((e) => e.event === 'tick').length === 2 || undefined, 2000, 'ticks');
    c.close();
  });

  test('extra properties in connect.challenge are caught', async () => {
    script = { challenge: { type: 'event', event: 'connect.challenge', payload: { nonce: 'n', ts: 1, capabilities: [] } }, onRequest: helloReply() };
    await assert.rejects(GatewayClient.open(url), SchemaViolation);
  });

  test('a hello-ok that breaks HelloOk is caught (extra auth.method, missing policy)', async () => {
    for (const bad of [{ ...HELLO, auth: { ...HELLO.auth, method: 'token' } }, { ...HELLO, policy: undefined }]) {
      script = { onRequest: helloReply(bad) };
      const c = await GatewayClient.open(url);
      await assert.rejects(c.connect(), SchemaViolation);
      c.terminate();
    }
  });

  test('a bad health snapshot inside hello-ok is caught', async () => {
    script = { onRequest: helloReply({ ...HELLO, snapshot: { ...HELLO.snapshot, health: { ok: false } } }) };
    const c = await GatewayClient.open(url);
    await assert.rejects(c.connect(), SchemaViolation);
    c.terminate();
  });

  test('event seq must start at 1 and rise by 1', async () => {
    for (const seqs of [[2], [1, 3], [1, 1], [undefined]]) {
      script = { onRequest: helloReply(HELLO, seqs.map((seq) => ({ type: 'event', event: 'tick', seq, payload: { ts: 1 } }))) };
      const c = await GatewayClient.open(url);
      await c.connect().catch(() => {});
      await assert.rejects(c.waitEvent('never', { timeoutMs: 1000 }), /seq/, `seqs ${JSON.stringify(seqs)}`);
      c.terminate();
    }
  });

  test('event payloads are checked (tick with an extra field, shutdown without reason)', async () => {
    for (const ev of [{ type: 'event', event: 'tick', seq: 1, payload: { ts: 1, x: 1 } }, { type: 'event', event: 'shutdown', seq: 1, payload: {} }]) {
      script = { onRequest: helloReply(HELLO, [ev]) };
      const c = await GatewayClient.open(url);
      await c.connect().catch(() => {});
      await assert.rejects(c.waitEvent('never', { timeoutMs: 1000 }), SchemaViolation);
      c.terminate();
    }
  });

  test('results are checked per method: health, logs.tail, config.schema; errors against ErrorShape', async () => {
    const cases = [
      ['health', { ok: true, ts: -1 }],
      ['logs.tail', { file: 'f', size: 1, lines: [] }],
      ['config.schema', { schema: {}, uiHints: {}, version: '1' }],
    ];
    for (const [method, payload] of cases) {
      script = { onRequest: (req, send) => send({ type: 'res', id: req.id, ok: true, payload: req.method === 'connect' ? HELLO : payload }) };
      const c = await GatewayClient.open(url);
      await c.connect();
      await assert.rejects(c.request(method, {}), SchemaViolation, method);
      c.terminate();
    }
    script = { onRequest: (req, send) => send(req.method === 'connect' ? { type: 'res', id: req.id, ok: true, payload: HELLO } : { type: 'res', id: req.id, ok: false, error: { code: 'X', message: '' } }) };
    const c = await GatewayClient.open(url);
    await c.connect();
    await assert.rejects(c.request('health', {}), SchemaViolation);
    c.terminate();
  });

  test('unknown envelope fields and non-JSON frames are caught', async () => {
    script = { onRequest: (req, send) => send({ type: 'res', id: req.id, ok: true, payload: HELLO, extra: 1 }) };
    const c = await GatewayClient.open(url);
    await assert.rejects(c.connect(), SchemaViolation);
    c.terminate();
    script = { onRequest: (req, send) => send('not json') };
    const d = await GatewayClient.open(url);
    await assert.rejects(d.connect(), /non-JSON/);
    d.terminate();
  });

  test('v1/v2 hello-ok must be exactly the seed shape', async () => {
    script = { onRequest: helloReply({ event: 'hello-ok', protocolVersion: 2, serverVersion: '1', capabilities: [], type: 'hello-ok' }) };
    const c = await GatewayClient.open(url);
    await assert.rejects(c.connect({ minProtocol: 1, maxProtocol: 2 }), SchemaViolation);
    c.terminate();
  });

  test('raw envelope validation and the sanitizer check', () => {
    assert.throws(() => validateEnvelope({ type: 'res', id: '', ok: true }), SchemaViolation);
    assert.throws(() => validateEnvelope({ type: 'event', event: 'x', seq: -1 }), SchemaViolation);
    assert.throws(() => validateEnvelope({ type: 'req', id: 'a', method: 'b' }), /unknown type/);
    assert.throws(() => assertNoSanitizerReport('==1==ERROR: AddressSanitizer: heap-use-after-free'), /sanitizer/);
    assert.throws(() => assertNoSanitizerReport('src/x.c:1:2: runtime error: signed integer overflow'), /sanitizer/);
    assertNoSanitizerReport('all fine');
  });
});
