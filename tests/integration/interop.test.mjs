// Interop with the real OpenClaw CLI (the reference peer), and clawgate's own `call`
// subcommand (issue 2 "Build and run" and "Tests and figures").
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startGateway, runClawgate, freePort } from './lib/gateway.mjs';
import { OPENCLAW_BIN } from './lib/peer.mjs';
import { openclaw } from './lib/openclaw.mjs';
import { validate, HEALTH_DEF } from './lib/schema.mjs';

function parseJson(stdout, what) {
  try { return JSON.parse(stdout); } catch { throw new Error(`${what}: stdout is not JSON:\n${stdout}`); }
}

describe('the real OpenClaw CLI against clawgate', { skip: !fs.existsSync(OPENCLAW_BIN) && `reference peer not installed (${OPENCLAW_BIN})` }, () => {
  let gw;
  before(async () => { gw = await startGateway({ config: { custom: { fromTest: 1 } } }); });
  after(async () => { await gw.stop(); });

  test('openclaw gateway call health --json', async () => {
    const r = await openclaw(['gateway', 'call', 'health', '--url', gw.url, '--token', gw.token, '--json']);
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.ok(r.json, `stdout is JSON:\n${r.stdout}`);
    assert.equal(r.json.ok, true);
    validate(HEALTH_DEF, r.json, 'health via the real CLI');
  });

  test('openclaw gateway call config.get --json', async () => {
    const r = await openclaw(['gateway', 'call', 'config.get', '--url', gw.url, '--token', gw.token, '--params', '{}', '--json']);
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.ok(r.json, `stdout is JSON:\n${r.stdout}`);
    assert.equal(r.json.exists, true);
    assert.equal(r.json.valid, true);
    assert.deepEqual(r.json.config, { custom: { fromTest: 1 } });
  });

  test('openclaw gateway call with a wrong token fails with AUTH_TOKEN_MISMATCH', async () => {
    const r = await openclaw(['gateway', 'call', 'health', '--url', gw.url, '--token', 'wrong', '--json']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /AUTH_TOKEN_MISMATCH|token mismatch/);
  });

  // The everyday status commands (issue 6): what they print against the real gateway is
  // in tests/fixtures/real-gateway/cli-*.stdout.txt.
  test('openclaw gateway status --require-rpc: read probe ok, gateway version shown', async () => {
    const r = await openclaw(['gateway', 'status', '--require-rpc'], { gateway: gw });
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stdout, /Read probe: ok/);
    assert.match(r.stdout, /Gateway version: 0\.1\.0/);
  });

  test('openclaw status and status --json', async () => {
    const r = await openclaw(['status'], { gateway: gw });
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stdout, /Gateway\s+│ local · ws:\/\/127\.0\.0\.1:\d+ .*reachable/);
    const j = await openclaw(['status', '--json'], { gateway: gw });
    assert.equal(j.code, 0, `exit ${j.code}\nstdout:\n${j.stdout}\nstderr:\n${j.stderr}`);
    assert.ok(j.json, `status --json prints JSON:\n${j.stdout.slice(0, 2000)}`);
  });

  test('openclaw system presence: the gateway lists itself', async () => {
    const r = await openclaw(['system', 'presence'], { gateway: gw });
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const list = parseJson(r.stdout, 'system presence');
    assert.equal(list[0].mode, 'gateway');
    assert.equal(list[0].reason, 'self');
  });

  test('openclaw system heartbeat last: null before any heartbeat', async () => {
    const r = await openclaw(['system', 'heartbeat', 'last'], { gateway: gw });
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.equal(r.stdout.trim(), 'null');
  });
});

describe('clawgate call', () => {
  let gw;
  before(async () => { gw = await startGateway({ config: { gateway: { auth: { localBypass: false } } } }); });
  after(async () => { await gw.stop(); });

  test('call health --url --token prints the payload as JSON, exit 0 (with and without --json)', async () => {
    for (const extra of [[], ['--json']]) {
      const r = await runClawgate(['call', 'health', '--url', gw.url, '--token', gw.token, ...extra]);
      assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
      const out = parseJson(r.stdout, 'call health');
      assert.equal(out.ok, true);
      validate(HEALTH_DEF, out, 'health via clawgate call');
    }
  });

  test('call config.get with --params and --timeout', async () => {
    const r = await runClawgate(['call', 'config.get', '--url', gw.url, '--token', gw.token, '--params', '{}', '--timeout', '5000']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = parseJson(r.stdout, 'call config.get');
    assert.equal(out.exists, true);
    assert.equal(out.config.gateway.auth.localBypass, false);
  });

  test('a wrong token: exit 1 with {"ok":false,"error":{...}} on stdout', async () => {
    const r = await runClawgate(['call', 'health', '--url', gw.url, '--token', 'wrong-token']);
    assert.equal(r.code, 1);
    const out = parseJson(r.stdout, 'call with a wrong token');
    assert.equal(out.ok, false);
    assert.equal(out.error.code, 'INVALID_REQUEST');
    assert.equal(out.error.details?.code, 'AUTH_TOKEN_MISMATCH');
  });

  test('a method error: exit 1 with the error (FORBIDDEN with --scopes operator.read)', async () => {
    const r = await runClawgate(['call', 'config.set', '--url', gw.url, '--token', gw.token, '--scopes', 'operator.read', '--params', '{"raw":"{}"}']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const out = parseJson(r.stdout, 'forbidden call');
    assert.equal(out.ok, false);
    assert.equal(out.error.code, 'FORBIDDEN');
    assert.equal(out.error.details?.code, 'MISSING_SCOPE');
  });

  test('bad --params JSON: exit 1 with an error object', async () => {
    const r = await runClawgate(['call', 'health', '--url', gw.url, '--token', gw.token, '--params', '{nope']);
    assert.equal(r.code, 1);
    assert.equal(parseJson(r.stdout, 'bad params').ok, false);
  });

  test('credentials from the environment: CLAWGATE_GATEWAY_TOKEN', async () => {
    const r = await runClawgate(['call', 'health', '--url', gw.url], { env: { CLAWGATE_GATEWAY_TOKEN: gw.token } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(parseJson(r.stdout, 'env token').ok, true);
  });

  test("credentials from the state dir's config for a loopback URL", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-call-'));
    fs.writeFileSync(path.join(dir, 'clawgate.json'), JSON.stringify({ gateway: { port: gw.port, auth: { token: gw.token } } }));
    try {
      const r = await runClawgate(['call', 'health'], { env: { CLAWGATE_STATE_DIR: dir } });
      assert.equal(r.code, 0, `default --url from gateway.port, token from the config\n${r.stdout}\n${r.stderr}`);
      assert.equal(parseJson(r.stdout, 'state dir token').ok, true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no server: exit 1 with UNAVAILABLE / NOT_CONNECTED', async () => {
    const port = await freePort();
    const r = await runClawgate(['call', 'health', '--url', `ws://127.0.0.1:${port}`, '--token', 'x']);
    assert.equal(r.code, 1);
    const out = parseJson(r.stdout, 'no server');
    assert.equal(out.ok, false);
    assert.equal(out.error.code, 'UNAVAILABLE');
    assert.equal(out.error.details?.code, 'NOT_CONNECTED');
  });

  test('a server that never answers: exit 1 with UNAVAILABLE / TIMEOUT after --timeout', async () => {
    const srv = net.createServer((s) => { s.on('error', () => {}); });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address();
    try {
      const t0 = Date.now();
      const r = await runClawgate(['call', 'health', '--url', `ws://127.0.0.1:${port}`, '--token', 'x', '--timeout', '800']);
      const took = Date.now() - t0;
      assert.equal(r.code, 1);
      const out = parseJson(r.stdout, 'timeout');
      assert.equal(out.ok, false);
      assert.equal(out.error.code, 'UNAVAILABLE');
      assert.equal(out.error.details?.code, 'TIMEOUT');
      assert.ok(took < 6000, `took ${took} ms for --timeout 800`);
    } finally {
      srv.close();
    }
  });
});
