// Issue 7, Tailscale: gateway.tailscale.mode serve|funnel runs `tailscale serve|funnel
// --yes --bg=false <port>` as a supervised child proxying to a loopback port of its own,
// and a Serve request's Tailscale-User-Login is checked with `tailscale whois`. The
// `tailscale` here is tests/integration/lib/fake-tailscale, linked into a temp dir first
// on PATH; the test plays Tailscale's proxy by connecting to the port from its argv.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway, runClawgate, makeStateDir, writeConfig, eventually, freePort } from './lib/gateway.mjs';
import { GatewayClient } from './lib/client.mjs';

const FAKE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'fake-tailscale');

/** A temp dir with bin/tailscale -> the fake; env puts it first on PATH. */
function fakeTailscale() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-ts-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.symlinkSync(FAKE, path.join(dir, 'bin', 'tailscale'));
  return {
    dir,
    env: { PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`, FAKE_TAILSCALE_DIR: dir },
    /** Every run's argv, oldest first. */
    runs() {
      let text = '';
      try { text = fs.readFileSync(path.join(dir, 'argv'), 'utf8'); } catch { return []; }
      return text.split('\n').filter((l) => l).map((l) => l.split('\t').slice(0, -1));
    },
    serveRuns() { return this.runs().filter((a) => a[0] === 'serve' || a[0] === 'funnel'); },
    whoisRuns(ip) { return this.runs().filter((a) => a[0] === 'whois' && (!ip || a[2] === ip)); },
    write(name, content) { fs.writeFileSync(path.join(dir, name), content); },
    read(name) { try { return fs.readFileSync(path.join(dir, name), 'utf8'); } catch { return ''; } },
    pid() { return Number(this.read('serve.pid').trim()); },
    removeBinary() { fs.rmSync(path.join(dir, 'bin', 'tailscale')); },
    cleanup() { fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** The port the running `tailscale serve|funnel` was told to proxy to. */
async function ingressPort(ts, { runs = 1 } = {}) {
  const argv = await eventually(() => ts.serveRuns().length >= runs && ts.serveRuns()[runs - 1], 5000, 'tailscale serve to start');
  return Number(argv[argv.length - 1]);
}

/** What Tailscale's proxy adds to a request it forwards from a tailnet client. */
function serveHeaders({ ip = '100.101.102.103', login = 'alice@example.com' } = {}) {
  const h = { 'X-Forwarded-For': ip, 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'gw.tailnet.ts.net' };
  if (login !== null) h['Tailscale-User-Login'] = login;
  return h;
}

async function connectVia(port, { headers, auth } = {}) {
  const c = await GatewayClient.open(`ws://127.0.0.1:${port}`, { headers, host: 'gw.tailnet.ts.net' });
  const res = await c.connect({ auth });
  let close = null;
  if (!res.ok) close = await c.waitClose(5000);
  else c.close();
  return { res, close };
}

function assertAccepted({ res }) {
  assert.equal(res.ok, true, `refused: ${JSON.stringify(res.error)}`);
}

function assertRefused({ res, close }, detailsCode) {
  assert.equal(res.ok, false, `expected refusal with ${detailsCode}, got hello-ok`);
  assert.equal(res.error.code, 'INVALID_REQUEST', JSON.stringify(res.error));
  assert.equal(res.error.details?.code, detailsCode, JSON.stringify(res.error));
  assert.equal(close.code, 1008, `close ${JSON.stringify(close)}`);
}

describe('tailscale serve supervision', () => {
  test('runs `tailscale serve --yes --bg=false <port>` for a loopback port of its own; stops it on SIGTERM', async () => {
    const ts = fakeTailscale();
    const gw = await startGateway({ config: { gateway: { tailscale: { mode: 'serve' } } }, env: ts.env });
    const port = await ingressPort(ts);
    assert.deepEqual(ts.serveRuns()[0], ['serve', '--yes', '--bg=false', String(port)]);
    assert.notEqual(port, gw.port);
    const pid = ts.pid();
    assert.ok(alive(pid));
    // The port serves what Tailscale proxies: a shared-secret client gets in through it.
    assertAccepted(await connectVia(port, { headers: serveHeaders({ login: null }), auth: { token: gw.token } }));
    const r = await gw.stop('SIGTERM');
    assert.equal(r.code, 0);
    assert.ok(r.ms <= 1000, `exited ${r.ms} ms after SIGTERM`);
    assert.match(ts.read('signals'), /TERM/);
    await eventually(() => !alive(pid), 2000, 'the tailscale child to be gone');
    ts.cleanup();
  });

  test('restarts the child with a growing back-off when it dies; health fails meanwhile', async () => {
    const ts = fakeTailscale();
    ts.write('exit-early', ''); // the first child exits at once
    const gw = await startGateway({ config: { gateway: { tailscale: { mode: 'serve' } } }, env: ts.env });
    await ingressPort(ts, { runs: 2 }); // restarted after 1 s
    const port = Number(ts.serveRuns()[1].at(-1));
    assert.deepEqual(ts.serveRuns()[1], ['serve', '--yes', '--bg=false', String(port)]);
    await eventually(async () => !(await gw.http('/readyz')).json.failing.includes('tailscale'), 3000, 'tailscale healthy again');

    const t0 = Date.now();
    process.kill(ts.pid(), 'SIGKILL'); // the next back-off is 2 s
    const failing = await eventually(async () => {
      const r = await gw.http('/readyz');
      return r.json.failing.includes('tailscale') && r;
    }, 1500, '/readyz to list tailscale');
    assert.equal(failing.status, 200);
    await ingressPort(ts, { runs: 3 });
    const waited = Date.now() - t0;
    assert.ok(waited >= 1500 && waited < 6000, `restarted ${waited} ms after the kill`);
    await eventually(async () => !(await gw.http('/readyz')).json.failing.includes('tailscale'), 3000, 'tailscale healthy again');

    const lines = gw.logLines().filter((l) => l.subsystem === 'tailscale');
    assert.ok(lines.some((l) => l.message === 'tailscale started'));
    assert.equal(lines.filter((l) => l.message === 'tailscale restarted').length, 2);
    const exits = lines.filter((l) => /exited/.test(l.message));
    assert.equal(exits[0].exitStatus, 3);
    assert.equal(exits[1].signal, 9);
    assert.ok(lines.some((l) => l.message === 'tailscale output' && /told to exit early/.test(l.line)));
    await gw.stop();
    ts.cleanup();
  });

  test('a child that ignores SIGTERM is killed; the gateway still exits within a second', async () => {
    const ts = fakeTailscale();
    ts.write('ignore-term', '');
    const gw = await startGateway({ config: { gateway: { tailscale: { mode: 'serve' } } }, env: ts.env });
    await ingressPort(ts);
    const pid = ts.pid();
    const r = await gw.stop('SIGTERM');
    assert.ok(r.ms <= 1000, `exited ${r.ms} ms after SIGTERM`);
    assert.match(ts.read('signals'), /TERM/);
    await eventually(() => !alive(pid), 2000, 'the tailscale child to be gone');
    ts.cleanup();
  });

  test('funnel runs `tailscale funnel --yes --bg=false <port>` with password auth', async () => {
    const ts = fakeTailscale();
    const gw = await startGateway({
      config: { gateway: { tailscale: { mode: 'funnel' } } }, auth: 'password', token: null, password: 'pw-1234', env: ts.env,
    });
    const port = await ingressPort(ts);
    assert.deepEqual(ts.serveRuns()[0], ['funnel', '--yes', '--bg=false', String(port)]);
    // Funnel traffic is the public internet: the password, never a login header.
    assertAccepted(await connectVia(port, { headers: { ...serveHeaders({ login: null }), 'Tailscale-Funnel-Request': '?1' }, auth: { password: 'pw-1234' } }));
    assertRefused(await connectVia(port, { headers: { ...serveHeaders(), 'Tailscale-Funnel-Request': '?1' } }), 'AUTH_PASSWORD_MISSING');
    assert.equal(ts.whoisRuns().length, 0);
    await gw.stop();
    ts.cleanup();
  });

  test('funnel without password auth refuses to start', async () => {
    const ts = fakeTailscale();
    const stateDir = makeStateDir();
    writeConfig(stateDir, { gateway: { tailscale: { mode: 'funnel' } } });
    const r = await runClawgate(['run', '--port', String(await freePort()), '--token', 'tok', '--state-dir', stateDir], { env: ts.env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tailscale funnel requires gateway auth mode=password/);
    assert.equal(ts.runs().length, 0, 'tailscale never ran');
    fs.rmSync(stateDir, { recursive: true, force: true });
    ts.cleanup();
  });

  for (const mode of ['serve', 'funnel']) {
    test(`${mode} without tailscale on PATH refuses to start`, async () => {
      const stateDir = makeStateDir();
      writeConfig(stateDir, { gateway: { tailscale: { mode } } });
      const auth = mode === 'funnel' ? ['--auth', 'password', '--password', 'pw'] : ['--token', 'tok'];
      const r = await runClawgate(['run', '--port', String(await freePort()), ...auth, '--state-dir', stateDir], { env: { PATH: '/usr/bin:/bin' } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`gateway.tailscale.mode is ${mode}, but the tailscale command is not on PATH`));
      fs.rmSync(stateDir, { recursive: true, force: true });
    });
  }
});

describe('the tailscale port takes only what Tailscale proxied', () => {
  let ts;
  let gw;
  let port;
  before(async () => {
    ts = fakeTailscale();
    gw = await startGateway({ config: { gateway: { tailscale: { mode: 'serve' } } }, env: ts.env });
    port = await ingressPort(ts);
  });
  after(async () => { await gw.stop(); ts.cleanup(); });

  test('an upgrade without the proxy headers, or naming no client, gets 403', async () => {
    const cases = [
      {},
      { 'X-Forwarded-For': '100.101.102.103' },
      { 'X-Forwarded-For': '100.101.102.103', 'X-Forwarded-Proto': 'https' },
      { ...serveHeaders(), 'X-Forwarded-For': '127.0.0.1' },
      { ...serveHeaders(), 'X-Forwarded-For': 'not-an-address' },
      { ...serveHeaders(), 'Tailscale-Funnel-Request': '?1' }, // funnel traffic on a serve port
    ];
    for (const headers of cases) {
      await assert.rejects(GatewayClient.open(`ws://127.0.0.1:${port}`, { headers }), (e) => {
        assert.equal(e.statusCode, 403, `${JSON.stringify(headers)}: ${e.message}`);
        return true;
      });
    }
  });

  test('the gateway port is unchanged: forwarded headers from loopback earn no Tailscale identity', async () => {
    const c = await GatewayClient.open(gw.url, { headers: serveHeaders(), host: 'gw.tailnet.ts.net' });
    const res = await c.connect({ auth: undefined });
    assert.equal(res.ok, false);
    assert.equal(res.error.details?.code, 'AUTH_TOKEN_MISSING');
    await c.waitClose(5000);
    assert.equal(ts.whoisRuns().length, 0);
  });
});

describe('unauthenticated connections through Tailscale count per client it names', () => {
  test('the (max+1)th from one forwarded client gets 429; another client still gets in', async () => {
    const ts = fakeTailscale();
    const gw = await startGateway({ config: { gateway: { tailscale: { mode: 'serve' }, limits: { maxPreauthPerIp: 2 } } }, env: ts.env });
    const port = await ingressPort(ts);
    const open = (ip) => GatewayClient.open(`ws://127.0.0.1:${port}`, { headers: serveHeaders({ ip, login: null }) });
    const held = [await open('100.70.0.1'), await open('100.70.0.1')];
    await assert.rejects(open('100.70.0.1'), (e) => {
      assert.equal(e.statusCode, 429, e.message);
      assert.ok(e.headers['retry-after']);
      return true;
    });
    held.push(await open('100.70.0.2'));
    for (const c of held) c.close();
    await gw.stop();
    ts.cleanup();
  });
});

describe('Tailscale Serve identity (gateway.auth.allowTailscale)', () => {
  let ts;
  let gw;
  let port;
  before(async () => {
    ts = fakeTailscale();
    ts.write('whois-100.101.102.103.json', JSON.stringify({
      Node: { Name: 'laptop.tailnet.ts.net.' },
      UserProfile: { ID: 1, LoginName: 'Alice@Example.com', DisplayName: 'Alice' },
    }));
    gw = await startGateway({ config: { gateway: { tailscale: { mode: 'serve' } } }, env: ts.env });
    port = await ingressPort(ts);
  });
  after(async () => { await gw.stop(); ts.cleanup(); });

  test('a Serve request whose login whois confirms is accepted without a token', async () => {
    assertAccepted(await connectVia(port, { headers: serveHeaders({ login: 'alice@example.com' }) }));
    assertAccepted(await connectVia(port, { headers: serveHeaders({ login: 'ALICE@example.com' }) }));
    assert.deepEqual(ts.whoisRuns(), [['whois', '--json', '100.101.102.103']], 'one whois, then the cache');
  });

  test('a login whois does not confirm is refused with AUTH_TAILSCALE_IDENTITY_MISMATCH', async () => {
    const r = await connectVia(port, { headers: serveHeaders({ login: 'mallory@example.com' }) });
    assertRefused(r, 'AUTH_TAILSCALE_IDENTITY_MISMATCH');
    assert.match(r.res.error.message, /^unauthorized: tailscale identity mismatch/);
  });

  test('an IP whois knows nothing about is refused with AUTH_TAILSCALE_WHOIS_FAILED', async () => {
    const r = await connectVia(port, { headers: serveHeaders({ ip: '100.90.0.1' }) });
    assertRefused(r, 'AUTH_TAILSCALE_WHOIS_FAILED');
    assert.match(r.res.error.message, /^unauthorized: tailscale identity check failed/);
  });

  test('a shared secret skips the whois check', async () => {
    const before = ts.whoisRuns().length;
    assertAccepted(await connectVia(port, { headers: serveHeaders({ ip: '100.90.0.2', login: 'anyone@example.com' }), auth: { token: gw.token } }));
    assert.equal(ts.whoisRuns().length, before);
  });

  test('without the login header the configured auth applies', async () => {
    assertRefused(await connectVia(port, { headers: serveHeaders({ login: null }) }), 'AUTH_TOKEN_MISSING');
    assertAccepted(await connectVia(port, { headers: serveHeaders({ login: null }), auth: { token: gw.token } }));
  });

  test('tailscale missing: falls back to token auth', async () => {
    ts.removeBinary();
    const headers = serveHeaders({ ip: '100.90.0.3' });
    assertRefused(await connectVia(port, { headers }), 'AUTH_TOKEN_MISSING');
    assertAccepted(await connectVia(port, { headers, auth: { token: gw.token } }));
    assert.equal(ts.whoisRuns('100.90.0.3').length, 0);
  });
});

describe('allowTailscale off', () => {
  test('a Serve request with a login header needs the token', async () => {
    const ts = fakeTailscale();
    ts.write('whois-100.101.102.103.json', JSON.stringify({ UserProfile: { LoginName: 'alice@example.com' } }));
    const gw = await startGateway({ config: { gateway: { tailscale: { mode: 'serve' }, auth: { allowTailscale: false } } }, env: ts.env });
    const port = await ingressPort(ts);
    assertRefused(await connectVia(port, { headers: serveHeaders() }), 'AUTH_TOKEN_MISSING');
    assertAccepted(await connectVia(port, { headers: serveHeaders(), auth: { token: gw.token } }));
    assert.equal(ts.whoisRuns().length, 0);
    await gw.stop();
    ts.cleanup();
  });
});
