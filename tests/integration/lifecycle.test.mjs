// Start, readiness and graceful shutdown (issue 2 "Build and run": SIGINT/SIGTERM).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, httpRequest, sleep } from './lib/gateway.mjs';
import { connectClient, GatewayClient } from './lib/client.mjs';
import { rawWebSocket } from './lib/raw.mjs';

for (const signal of ['SIGTERM', 'SIGINT']) {
  describe(`${signal}`, () => {
    test(`${signal}: clients get a shutdown event {reason}, then close 1012; exit 0 within 1 s`, async () => {
      const gw = await startGateway();
      const a = await connectClient(gw);
      const b = await connectClient(gw, { params: { scopes: [] } });
      const pre = await GatewayClient.open(gw.url, {}); // upgraded, not connected
      const raw = await rawWebSocket(gw.port);
      const t0 = Date.now();
      const stopping = gw.stop(signal, { timeoutMs: 5000 });
      const [ca, cb] = await Promise.all([a.waitClose(4000), b.waitClose(4000)]);
      for (const [c, info] of [[a, ca], [b, cb]]) {
        const ev = c.events.filter((e) => e.event === 'shutdown');
        assert.equal(ev.length, 1, 'one shutdown event');
        assert.equal(typeof ev[0].payload.reason, 'string');
        assert.ok(ev[0].payload.reason.length > 0);
        assert.equal(c.frames[c.frames.length - 1].event, 'shutdown', 'shutdown is the last frame');
        assert.equal(info.code, 1012, `close ${JSON.stringify(info)}`);
        c.assertClean();
      }
      const cp = await pre.waitClose(4000);
      assert.ok([1012, 1001, 1006].includes(cp.code), `pre-connect close ${cp.code}`);
      const cr = await raw.waitClose(4000);
      assert.ok([1012, 1001, 1006].includes(cr.code), `raw close ${cr.code}`);
      raw.destroy();
      const r = await stopping; // asserts exit code 0 and no sanitizer report
      assert.equal(r.code, 0);
      assert.ok(Date.now() - t0 <= 1000, `exited ${Date.now() - t0} ms after ${signal}`);
      await assert.rejects(httpRequest(gw.port, '/healthz', { timeoutMs: 1000 }), 'nothing listens after exit');
    });
  });
}

describe('start', () => {
  test('/healthz then /readyz ready soon after start; an idle gateway exits cleanly', async () => {
    const t0 = Date.now();
    const gw = await startGateway();
    let ready;
    for (let i = 0; i < 100; i++) {
      const r = await gw.http('/readyz');
      if (r.status === 200 && r.json.ready) { ready = r; break; }
      assert.equal(r.status, 503);
      assert.equal(r.json.ready, false);
      assert.ok(Array.isArray(r.json.failing) && r.json.failing.length > 0);
      await sleep(50);
    }
    assert.ok(ready, '/readyz became ready');
    assert.ok(Date.now() - t0 < 10000);
    await gw.stop('SIGTERM');
  });

  test('start prints where it listens and how to call it (what `make run` shows)', async () => {
    const gw = await startGateway({ token: null }); // no token anywhere: one is generated
    const { stdout } = gw.logs();
    assert.match(stdout, /^gateway token: [0-9a-f]{48}$/m);
    assert.match(stdout, new RegExp(`^listening on ws://127\\.0\\.0\\.1:${gw.port}$`, 'm'));
    assert.match(stdout, new RegExp(`^call it: clawgate call health --url ws://127\\.0\\.0\\.1:${gw.port} --token <gateway token>$`, 'm'));
    await gw.stop('SIGTERM');
  });

  test('a shutdown with a client in the middle of a request still exits 0', async () => {
    const gw = await startGateway();
    const c = await connectClient(gw);
    const reqs = Array.from({ length: 20 }, () => c.request('health', {}).catch(() => null));
    const stop = gw.stop('SIGTERM');
    await Promise.all(reqs);
    await c.waitClose(4000);
    const r = await stop;
    assert.equal(r.code, 0);
  });

  test('two SIGTERMs in a row are harmless', async () => {
    const gw = await startGateway();
    const c = await connectClient(gw);
    gw.proc.kill('SIGTERM');
    await sleep(20);
    const r = await gw.stop('SIGTERM');
    assert.equal(r.code, 0);
    const info = await c.waitClose(1000);
    assert.ok([1012, 1006].includes(info.code));
  });
});
