// TLS: gateway.tls.enabled serves wss:// (and https:// health) with a self-signed
// certificate generated once under DIR/tls/; clients that trust it connect, and
// `clawgate call` trusts it by itself for a loopback wss URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import {
  freePort, makeStateDir, writeConfig, spawnClawgate, runClawgate, waitForExit, sleep, assertNoSanitizerReport,
} from './lib/gateway.mjs';
import { GatewayClient } from './lib/client.mjs';

function httpsGet(port, urlPath, ca) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, ca, servername: 'localhost', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function startTls(stateDir, port, token) {
  writeConfig(stateDir, { gateway: { tls: { enabled: true } } });
  const h = spawnClawgate(['run', '--port', String(port), '--auth', 'token', '--token', token, '--state-dir', stateDir]);
  const certPath = path.join(stateDir, 'tls', 'gateway-cert.pem');
  const deadline = Date.now() + 15000;
  for (;;) {
    if (h.proc.exitCode !== null) throw new Error(`clawgate exited early: ${h.out().stderr}`);
    try {
      const ca = fs.readFileSync(certPath);
      const r = await httpsGet(port, '/healthz', ca);
      if (r.status === 200) return { h, ca, certPath };
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`TLS gateway not healthy: ${h.out().stderr}`);
    await sleep(50);
  }
}

async function stop(h) {
  h.proc.kill('SIGTERM');
  const r = await waitForExit(h.proc, 5000);
  assert.ok(r, 'exits after SIGTERM');
  await h.closed;
  assertNoSanitizerReport(h.out().stderr);
  assert.equal(r.code, 0);
}

test('wss with a generated self-signed certificate', async () => {
  const stateDir = makeStateDir();
  const port = await freePort();
  const token = 'tls-token-1';
  const { h, ca, certPath } = await startTls(stateDir, port, token);
  try {
    const keyPath = path.join(stateDir, 'tls', 'gateway-key.pem');
    assert.equal(fs.statSync(keyPath).mode & 0o777, 0o600, 'private key is 0600');
    const r = await httpsGet(port, '/readyz', ca);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(JSON.parse(r.body).ready, true);

    // A client trusting the certificate connects and calls; every frame is schema-checked.
    const c = await GatewayClient.open(`wss://127.0.0.1:${port}`, { token, wsOptions: { ca, servername: 'localhost' } });
    const hello = await c.connect({});
    assert.equal(hello.ok, true, JSON.stringify(hello.error));
    const res = await c.request('health', {});
    assert.equal(res.ok, true);
    assert.equal(res.payload.ok, true);
    const big = await c.request('logs.tail', { maxBytes: 200000 });
    assert.equal(big.ok, true);
    c.assertClean();
    c.terminate();

    // A client that does not trust it is refused by its own TLS check.
    await assert.rejects(GatewayClient.open(`wss://127.0.0.1:${port}`, { token, timeoutMs: 3000 }));

    // clawgate call trusts DIR/tls/ for a loopback wss URL.
    const call = await runClawgate(['call', 'health', '--url', `wss://127.0.0.1:${port}`, '--token', token, '--state-dir', stateDir]);
    assert.equal(call.code, 0, call.stdout + call.stderr);
    assert.equal(JSON.parse(call.stdout).ok, true);

    // Plain ws:// to the TLS port does not get a WebSocket.
    await assert.rejects(GatewayClient.open(`ws://127.0.0.1:${port}`, { token, timeoutMs: 2000 }));

    const certBefore = fs.readFileSync(certPath, 'utf8');
    await stop(h);
    // Restart reuses the same certificate.
    const again = await startTls(stateDir, port, token);
    assert.equal(fs.readFileSync(certPath, 'utf8'), certBefore, 'certificate reused, not regenerated');
    await stop(again.h);
  } finally {
    if (h.proc.exitCode === null) h.proc.kill('SIGKILL');
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});
