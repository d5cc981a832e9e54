// Protocol: connect.challenge, the connect handshake, version negotiation, hello-ok shapes,
// malformed requests, tick events and seq (issue 2 "Protocol", CONTRACT.md "Connecting").
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, sleep } from './lib/gateway.mjs';
import { GatewayClient, connectClient, defaultConnectParams, chosenProtocol } from './lib/client.mjs';
import { rawWebSocket, rawConnected, readResponse } from './lib/raw.mjs';
import { validate } from './lib/schema.mjs';

const TICK_MS = 200;

describe('protocol', () => {
  let gw;
  before(async () => { gw = await startGateway({ config: { gateway: { tickIntervalMs: TICK_MS } } }); });
  after(async () => { await gw.stop(); });

  const open = (opts = {}) => GatewayClient.open(gw.url, { token: gw.token, ...opts });

  test('connect.challenge {nonce, ts} is the first frame, with a fresh nonce per connection', async () => {
    const a = await open();
    const b = await open();
    assert.equal(a.frames[0].event, 'connect.challenge');
    assert.ok(a.challenge.nonce.length >= 16, 'nonce is not trivially short');
    assert.notEqual(a.challenge.nonce, b.challenge.nonce);
    assert.ok(Math.abs(a.challenge.ts - Date.now()) < 60000, `ts ${a.challenge.ts} is a current epoch-ms time`);
    a.close(); b.close();
  });

  test('a first request that is not connect gets INVALID_REQUEST and close 1008', async () => {
    const c = await open();
    const res = await c.request('health', {});
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'INVALID_REQUEST');
    assert.equal((await c.waitClose()).code, 1008);
  });

  test('a first frame that is not JSON gets INVALID_REQUEST and close 1008', async () => {
    const s = await rawWebSocket(gw.port);
    await s.sendText('hello there');
    const m = await s.nextJson();
    assert.equal(m.type, 'res');
    assert.equal(m.ok, false);
    assert.equal(m.error.code, 'INVALID_REQUEST');
    assert.equal((await s.waitClose()).code, 1008);
    s.destroy();
  });

  test('a first frame that is a request-shaped object of the wrong type is refused with 1008', async () => {
    const c = await open();
    c.sendRaw({ type: 'event', event: 'connect', payload: {} });
    const res = await c.waitFor(() => c.frames.find((f) => f.type === 'res'), 5000, 'a response');
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'INVALID_REQUEST');
    assert.equal((await c.waitClose()).code, 1008);
  });

  for (const [min, max] of [[4, 4], [3, 4], [3, 3], [1, 4], [1, 9], [4, 100], [2, 3]]) {
    test(`negotiation min ${min} max ${max} -> protocol ${chosenProtocol(min, max)} with a HelloOk payload`, async () => {
      const c = await open();
      const res = await c.connect({ minProtocol: min, maxProtocol: max });
      assert.equal(res.ok, true, JSON.stringify(res.error));
      assert.equal(res.payload.type, 'hello-ok');
      assert.equal(res.payload.protocol, chosenProtocol(min, max));
      c.close();
    });
  }

  for (const [min, max] of [[1, 2], [1, 1], [2, 2]]) {
    test(`negotiation min ${min} max ${max} -> the seed's v${max} hello-ok {event, protocolVersion, serverVersion, capabilities}`, async () => {
      const c = await open();
      // v1/v2 connect params are checked loosely: the seed's control-ui/frontend example
      const res = await c.connect({
        minProtocol: min, maxProtocol: max,
        client: { id: 'control-ui', displayName: 'Control UI', version: '1.0.0', platform: 'web', mode: 'frontend' },
      });
      assert.equal(res.ok, true, JSON.stringify(res.error));
      assert.equal(res.payload.event, 'hello-ok');
      assert.equal(res.payload.protocolVersion, max);
      assert.equal(typeof res.payload.serverVersion, 'string');
      // later frames are as in v4
      const h = await c.request('health', {});
      assert.equal(h.ok, true);
      validate('HelloOk/properties/snapshot/properties/health', h.payload, 'health result on v1/v2');
      c.close();
    });
  }

  for (const [min, max] of [[5, 5], [5, 9], [0, 0]]) {
    test(`negotiation min ${min} max ${max} -> PROTOCOL_MISMATCH and close 1002`, async () => {
      const c = await open();
      const res = await c.connect({ minProtocol: min, maxProtocol: max }, { replace: false });
      assert.equal(res.ok, false);
      if (min === 0) {
        // minProtocol 0 is outside ConnectParams (minimum 1): invalid params or a mismatch
        assert.equal(res.error.code, 'INVALID_REQUEST');
        const c2 = (await c.waitClose()).code;
        assert.ok(c2 === 1002 || c2 === 1008, `close ${c2}`);
        return;
      }
      assert.equal(res.error.code, 'INVALID_REQUEST');
      assert.equal(res.error.details?.code, 'PROTOCOL_MISMATCH');
      assert.equal((await c.waitClose()).code, 1002);
    });
  }

  test('v4 connect params are strict: an unknown property -> "invalid connect params: ..." and close 1008', async () => {
    const c = await open();
    const res = await c.connect({ bogus: 1 });
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'INVALID_REQUEST');
    assert.match(res.error.message, /^invalid connect params: /);
    assert.equal((await c.waitClose()).code, 1008);
  });

  test('v3 connect params are strict too: unknown client.id / client property / missing client', async () => {
    for (const params of [
      { minProtocol: 3, maxProtocol: 3, client: { id: 'control-ui', version: '1', platform: 'web', mode: 'frontend' } },
      { minProtocol: 3, maxProtocol: 4, client: { id: 'cli', version: '1', platform: 'linux', mode: 'cli', extra: true } },
      { minProtocol: 3, maxProtocol: 4, client: undefined },
      { minProtocol: 4, maxProtocol: 4, auth: { token: gw.token, nonsense: 'x' } },
      { minProtocol: 4, maxProtocol: 4, scopes: 'operator.admin' },
    ]) {
      const c = await open();
      const res = await c.connect(params);
      assert.equal(res.ok, false, `accepted ${JSON.stringify(params)}`);
      assert.equal(res.error.code, 'INVALID_REQUEST');
      assert.match(res.error.message, /^invalid connect params: ./, JSON.stringify(params));
      assert.equal((await c.waitClose()).code, 1008);
    }
  });

  test('connect params with every optional field the schema allows are accepted', async () => {
    const c = await open();
    const res = await c.connect({
      client: { id: 'cli', displayName: 'Test CLI', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'cli', instanceId: 'inst-1' },
      caps: [], commands: [], permissions: {}, locale: 'en-US', userAgent: 'it/1.0',
    });
    assert.equal(res.ok, true, JSON.stringify(res.error));
    c.close();
  });

  test('hello-ok (v4): server, features, snapshot, auth and policy', async () => {
    const a = await connectClient(gw, { params: { scopes: ['operator.read', 'operator.admin'] } });
    const b = await connectClient(gw);
    const h = a.hello;
    assert.equal(h.protocol, 4);
    assert.equal(typeof h.server.version, 'string');
    assert.notEqual(h.server.connId, b.hello.server.connId, 'connId differs per connection');
    for (const m of ['health', 'config.get', 'config.set', 'config.patch', 'config.apply', 'config.schema', 'logs.tail', 'status', 'system-presence', 'last-heartbeat']) {
      assert.ok(h.features.methods.includes(m), `features.methods lists ${m}`);
    }
    // Only what works is listed (issue 6); node.event came back with node pairing, node.invoke with issue 8.
    assert.ok(h.features.methods.includes('node.event'), 'features.methods lists node.event');
    assert.ok(h.features.methods.includes('node.invoke'), 'features.methods lists node.invoke');
    assert.ok(h.features.methods.includes('skills.bins'), 'features.methods lists skills.bins (real since issue 10)');
    for (const e of h.features.events) assert.ok(['connect.challenge', 'tick', 'shutdown', 'presence', 'device.pair.requested', 'device.pair.resolved', 'device.pair.changed', 'node.pair.requested', 'node.pair.resolved', 'node.hostStats', 'node.invoke.request', 'exec.approval.requested', 'exec.approval.resolved', 'chat', 'agent', 'sessions.changed', 'session.message', 'config.changed', 'cron', 'logs.appended'].includes(e), `features.events lists ${e}, which is never sent`);
    assert.equal(new Set(h.features.methods).size, h.features.methods.length, 'no duplicate methods');
    for (const e of ['tick', 'shutdown', 'chat', 'agent']) assert.ok(h.features.events.includes(e), `features.events lists ${e}`);
    assert.equal(h.snapshot.health.ok, true);
    assert.ok(Array.isArray(h.snapshot.presence));
    assert.ok(Number.isInteger(h.snapshot.uptimeMs));
    assert.equal(h.auth.role, 'operator');
    assert.deepEqual([...h.auth.scopes].sort(), ['operator.admin', 'operator.read']);
    assert.equal(h.auth.method, undefined, 'no auth.method (the schema forbids it)');
    assert.deepEqual(h.policy, { ...h.policy, maxPayload: 26214400, maxBufferedBytes: 52428800, tickIntervalMs: TICK_MS });
    a.close(); b.close();
  });

  test('role defaults to operator and scopes to []', async () => {
    const c = await open();
    const res = await c.connect({ role: undefined, scopes: undefined });
    assert.equal(res.ok, true, JSON.stringify(res.error));
    assert.equal(res.payload.auth.role, 'operator');
    assert.deepEqual(res.payload.auth.scopes, []);
    c.close();
  });

  test('responses carry the request id; malformed requests after connect get INVALID_REQUEST and the connection stays open', async () => {
    const c = await connectClient(gw);
    const ok = await c.request('health', {}, { id: 'my-id-1' });
    assert.equal(ok.id, 'my-id-1');
    // not JSON at all -> id "invalid"
    c.sendRaw('{this is not json');
    const r1 = await c.waitFor(() => c.responses.get('invalid'), 5000, 'response on id "invalid"');
    assert.equal(r1.ok, false);
    assert.equal(r1.error.code, 'INVALID_REQUEST');
    c.responses.delete('invalid');
    // a string id but no method -> on its id
    c.sendRaw({ type: 'req', id: 'no-method' });
    const r2 = await c.waitFor(() => c.responses.get('no-method'), 5000, 'response on id no-method');
    assert.equal(r2.error.code, 'INVALID_REQUEST');
    // method of the wrong type
    c.sendRaw({ type: 'req', id: 'bad-method', method: 42 });
    const r3 = await c.waitFor(() => c.responses.get('bad-method'), 5000, 'response on id bad-method');
    assert.equal(r3.error.code, 'INVALID_REQUEST');
    // a numeric id -> "invalid"
    c.sendRaw({ type: 'req', id: 7, method: 'health' });
    const r4 = await c.waitFor(() => c.responses.get('invalid'), 5000, 'response on id "invalid" for a numeric id');
    assert.equal(r4.error.code, 'INVALID_REQUEST');
    c.responses.delete('invalid');
    // a JSON array / a bare string
    c.sendRaw('[1,2,3]');
    await c.waitFor(() => c.responses.get('invalid'), 5000, 'response to an array');
    c.responses.delete('invalid');
    // an unknown frame type with a string id
    c.sendRaw({ type: 'bogus', id: 'bogus-type', method: 'health' });
    const r5 = await c.waitFor(() => c.responses.get('bogus-type') || c.responses.get('invalid'), 5000, 'response to type bogus');
    assert.equal(r5.error.code, 'INVALID_REQUEST');
    // an unknown top-level property in a request frame (RequestFrame forbids it)
    c.sendRaw({ type: 'req', id: 'extra-prop', method: 'health', params: {}, extra: 1 });
    const r6 = await c.waitFor(() => c.responses.get('extra-prop'), 5000, 'response to extra-prop');
    assert.equal(r6.ok, false);
    assert.equal(r6.error.code, 'INVALID_REQUEST');
    // still open and working
    const after = await c.request('health', {});
    assert.equal(after.ok, true);
    assert.equal(c.closeInfo, null);
    c.close();
  });

  test(`tick {ts} every tickIntervalMs (${TICK_MS} ms) with per-connection seq 1, 2, 3...`, async () => {
    const a = await connectClient(gw);
    await sleep(TICK_MS * 1.5);
    const b = await connectClient(gw); // starts its own seq at 1
    await a.waitFor(() => a.events.filter((e) => e.event === 'tick').length >= 4 || undefined, 5000, '4 ticks');
    await b.waitFor(() => b.events.filter((e) => e.event === 'tick').length >= 2 || undefined, 5000, '2 ticks');
    const ticks = a.events.filter((e) => e.event === 'tick');
    const seqs = a.events.filter((e) => e.event !== 'connect.challenge').map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'seq starts at 1 and rises by 1');
    assert.equal(b.events.filter((e) => e.event !== 'connect.challenge')[0].seq, 1);
    for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i].payload.ts >= ticks[i - 1].payload.ts, 'tick ts does not go backwards');
    const span = ticks[3].payload.ts - ticks[0].payload.ts;
    assert.ok(span >= TICK_MS * 3 * 0.6 && span <= TICK_MS * 3 * 4, `3 tick intervals took ${span} ms`);
    a.close(); b.close();
    a.assertClean(); b.assertClean();
  });

  test('requests pipelined without waiting are all answered, each on its id', async () => {
    const c = await connectClient(gw);
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => c.request(i % 2 ? 'health' : 'config.get', {}, { id: `p${i}` })));
    rs.forEach((r, i) => { assert.equal(r.id, `p${i}`); assert.equal(r.ok, true); });
    c.close();
  });

  test('raw v4 session: every server frame validates (envelope check on a raw socket)', async () => {
    const s = await rawConnected(gw);
    await s.sendJson({ type: 'req', id: 'x', method: 'health', params: {} });
    const r = await readResponse(s, 'x');
    assert.equal(r.ok, true);
    s.destroy();
  });
});

describe('health', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { await gw.stop(); });

  test('health: ok, current ts, durationMs, a measured eventLoop; same shape as hello-ok.snapshot.health', async () => {
    const c = await connectClient(gw);
    const h = await c.call('health', {});
    assert.equal(h.ok, true);
    assert.ok(Math.abs(h.ts - Date.now()) < 60000, `ts ${h.ts}`);
    assert.ok(Number.isInteger(h.durationMs) && h.durationMs >= 0);
    assert.ok(h.eventLoop, 'eventLoop present');
    for (const k of ['intervalMs', 'delayP99Ms', 'delayMaxMs', 'utilization', 'cpuCoreRatio']) {
      assert.equal(typeof h.eventLoop[k], 'number', `eventLoop.${k}`);
    }
    assert.ok(h.eventLoop.utilization <= 1.0 + 1e-9, `utilization ${h.eventLoop.utilization} is a fraction`);
    assert.deepEqual(Object.keys(c.hello.snapshot.health).sort(), Object.keys(h).sort(), 'the same object as the snapshot');
    assert.equal(typeof h.eventLoop.degraded, 'boolean');
    c.close();
  });

  test('health params: {} or absent; anything else refused', async () => {
    const c = await connectClient(gw);
    assert.equal((await c.request('health', undefined, { omitParams: true })).ok, true);
    const r = await c.request('health', { probe: true, bogus: 1 });
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'INVALID_REQUEST');
    c.close();
  });
});
