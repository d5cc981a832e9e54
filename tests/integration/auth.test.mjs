// Authentication: token / password / none, the local bypass, browser origins, the auth rate
// limit, refusal to start without auth on a non-loopback bind, token generation
// (issue 2 "Authentication", CONTRACT.md "Connecting").
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { startGateway, spawnClawgate, waitForExit, makeStateDir, freePort, assertNoSanitizerReport, sleep, eventually } from './lib/gateway.mjs';
import { GatewayClient } from './lib/client.mjs';

/** Opens a connection and sends connect; resolves {res, close (when refused), client}. */
async function attempt(gw, { auth, headers, host, origin, params = {} } = {}) {
  const c = await GatewayClient.open(gw.url, { headers, host, origin });
  const res = await c.connect({ auth, ...params });
  let close = null;
  if (!res.ok) close = await c.waitClose(5000);
  else c.close();
  return { res, close, client: c };
}

function assertRefused({ res, close }, detailsCode, { code = 'INVALID_REQUEST', closeCode = 1008 } = {}) {
  assert.equal(res.ok, false, `expected refusal with ${detailsCode}, got hello-ok`);
  assert.equal(res.error.code, code, JSON.stringify(res.error));
  assert.equal(res.error.details?.code, detailsCode, JSON.stringify(res.error));
  assert.equal(close.code, closeCode, `close ${JSON.stringify(close)}`);
}

function assertAccepted({ res }) {
  assert.equal(res.ok, true, `refused: ${JSON.stringify(res.error)}`);
}

describe('behind a trusted proxy (gateway.trustedProxies: ["127.0.0.1"])', () => {
  let gw;
  before(async () => { gw = await startGateway({ config: { gateway: { trustedProxies: ['127.0.0.1'] } } }); });
  after(async () => { await gw.stop(); });

  test('an unreadable X-Forwarded-For makes the client unknown: no bypass, logged once', async () => {
    const bad = ['x', '', ', ,', '1'.repeat(300), '203.0.113.7, x', '[2001:db8::1'];
    for (const value of bad) {
      assertRefused(await attempt(gw, { auth: undefined, headers: { 'X-Forwarded-For': value } }), 'AUTH_TOKEN_MISSING');
    }
    assertRefused(await attempt(gw, { auth: undefined, headers: { 'X-Real-IP': 'x' } }), 'AUTH_TOKEN_MISSING');
    // The log is written by its own thread: wait for the lines, then count them.
    const unknownLines = () => gw.logLines().filter((l) => /client address unknown/.test(l.message));
    await eventually(() => unknownLines().length >= bad.length + 1, 3000, 'the log lines');
    await sleep(100);
    const logged = unknownLines();
    assert.equal(logged.length, bad.length + 1, 'one log line per connection');
    assert.ok(logged.every((l) => l.peer === '127.0.0.1'));
  });

  test('a forwarded remote client gets no bypass; the token still works for it', async () => {
    assertRefused(await attempt(gw, { auth: undefined, headers: { 'X-Forwarded-For': '127.0.0.1, 203.0.113.5' } }), 'AUTH_TOKEN_MISSING');
    assertAccepted(await attempt(gw, { auth: { token: gw.token }, headers: { 'X-Forwarded-For': '[2001:db8::1]:443' } }));
  });

  test('the proxy itself, forwarding nothing, is local', async () => {
    assertAccepted(await attempt(gw, { auth: undefined }));
  });
});

describe('token mode', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { await gw.stop(); });

  test('the right token is accepted', async () => {
    assertAccepted(await attempt(gw, { auth: { token: gw.token } }));
    assertAccepted(await attempt(gw, { auth: { token: gw.token }, host: 'example.com' }));
  });

  test('a wrong token is refused with AUTH_TOKEN_MISMATCH and close 1008, even on loopback', async () => {
    const r = await attempt(gw, { auth: { token: gw.token + 'x' } });
    assertRefused(r, 'AUTH_TOKEN_MISMATCH');
    assert.equal(r.res.error.retryable ?? false, false);
    assertRefused(await attempt(gw, { auth: { token: '' } }), 'AUTH_TOKEN_MISMATCH');
    assertRefused(await attempt(gw, { auth: { token: gw.token.slice(0, -1) } }), 'AUTH_TOKEN_MISMATCH');
  });

  test('local bypass: no credential from loopback with a loopback Host is let in', async () => {
    for (const host of [`127.0.0.1:${gw.port}`, `localhost:${gw.port}`, 'localhost', `[::1]:${gw.port}`]) {
      assertAccepted(await attempt(gw, { auth: undefined, host }));
    }
    assertAccepted(await attempt(gw, { auth: {} }));
  });

  test('no credential with a non-loopback Host is refused with AUTH_TOKEN_MISSING', async () => {
    assertRefused(await attempt(gw, { auth: undefined, host: 'example.com' }), 'AUTH_TOKEN_MISSING');
    assertRefused(await attempt(gw, { auth: undefined, host: `gateway.example.com:${gw.port}` }), 'AUTH_TOKEN_MISSING');
  });

  test('no credential with X-Forwarded-For or X-Real-IP (untrusted proxy) is refused with AUTH_TOKEN_MISSING', async () => {
    assertRefused(await attempt(gw, { auth: undefined, headers: { 'X-Forwarded-For': '203.0.113.7' } }), 'AUTH_TOKEN_MISSING');
    assertRefused(await attempt(gw, { auth: undefined, headers: { 'X-Real-IP': '203.0.113.7' } }), 'AUTH_TOKEN_MISSING');
  });

  test('a password sent to a token gateway counts as no credential', async () => {
    assertRefused(await attempt(gw, { auth: { password: gw.token }, host: 'example.com' }), 'AUTH_TOKEN_MISSING');
    assertAccepted(await attempt(gw, { auth: { password: 'whatever' } })); // loopback bypass applies
  });

  test('browser origins: loopback Origin with loopback Host is allowed', async () => {
    assertAccepted(await attempt(gw, { auth: { token: gw.token }, origin: `http://127.0.0.1:${gw.port}` }));
    assertAccepted(await attempt(gw, { auth: { token: gw.token }, origin: `http://localhost:${gw.port}`, host: `localhost:${gw.port}` }));
    assertAccepted(await attempt(gw, { auth: undefined, origin: `http://localhost:5173` }));
  });

  test('browser origins: a DNS-rebinding page is refused with CONTROL_UI_ORIGIN_NOT_ALLOWED, close 1008', async () => {
    assertRefused(await attempt(gw, { auth: { token: gw.token }, origin: 'http://evil.example:18789' }), 'CONTROL_UI_ORIGIN_NOT_ALLOWED');
    assertRefused(await attempt(gw, { auth: undefined, origin: 'http://evil.example:18789' }), 'CONTROL_UI_ORIGIN_NOT_ALLOWED');
    // loopback Origin but a foreign Host (rebinding the other way round)
    assertRefused(await attempt(gw, { auth: { token: gw.token }, origin: `http://127.0.0.1:${gw.port}`, host: 'evil.example:18789' }), 'CONTROL_UI_ORIGIN_NOT_ALLOWED');
    assertRefused(await attempt(gw, { auth: { token: gw.token }, origin: 'null' }), 'CONTROL_UI_ORIGIN_NOT_ALLOWED');
  });
});

describe('origin configuration', () => {
  let star; let pub; let list;
  before(async () => {
    [star, pub, list] = await Promise.all([
      startGateway({ config: { gateway: { controlUi: { allowedOrigins: ['*'] } } } }),
      startGateway({ config: { gateway: { publicOrigin: 'https://gw.example.com' } } }),
      startGateway({ config: { gateway: { controlUi: { allowedOrigins: ['https://app.example'] } } } }),
    ]);
  });
  after(async () => { await Promise.all([star.stop(), pub.stop(), list.stop()]); });

  test('allowedOrigins ["*"] allows any origin', async () => {
    assertAccepted(await attempt(star, { auth: { token: star.token }, origin: 'http://evil.example:18789' }));
  });

  test('gateway.publicOrigin is allowed; others are not', async () => {
    assertAccepted(await attempt(pub, { auth: { token: pub.token }, origin: 'https://gw.example.com', host: 'gw.example.com' }));
    assertRefused(await attempt(pub, { auth: { token: pub.token }, origin: 'https://other.example.com', host: 'gw.example.com' }), 'CONTROL_UI_ORIGIN_NOT_ALLOWED');
  });

  test('an explicit allowedOrigins list allows exactly its entries', async () => {
    assertAccepted(await attempt(list, { auth: { token: list.token }, origin: 'https://app.example' }));
    assertRefused(await attempt(list, { auth: { token: list.token }, origin: 'https://app.example.evil' }), 'CONTROL_UI_ORIGIN_NOT_ALLOWED');
    assertRefused(await attempt(list, { auth: { token: list.token }, origin: 'http://evil.example:18789' }), 'CONTROL_UI_ORIGIN_NOT_ALLOWED');
  });
});

describe('password and none modes, localBypass off', () => {
  let pw; let none; let nobypass;
  before(async () => {
    [pw, none, nobypass] = await Promise.all([
      startGateway({ auth: 'password', password: 'pw-' + Date.now() }),
      startGateway({ auth: 'none' }),
      startGateway({ config: { gateway: { auth: { localBypass: false } } } }),
    ]);
  });
  after(async () => { await Promise.all([pw.stop(), none.stop(), nobypass.stop()]); });

  test('password mode: right, wrong, missing, token instead', async () => {
    assertAccepted(await attempt(pw, { auth: { password: pw.password }, host: 'example.com' }));
    assertRefused(await attempt(pw, { auth: { password: pw.password + '!' } }), 'AUTH_PASSWORD_MISMATCH');
    assertRefused(await attempt(pw, { auth: undefined, host: 'example.com' }), 'AUTH_PASSWORD_MISSING');
    assertRefused(await attempt(pw, { auth: { token: pw.password }, host: 'example.com' }), 'AUTH_PASSWORD_MISSING');
    assertAccepted(await attempt(pw, { auth: undefined }));
  });

  test('none mode: credentials are ignored', async () => {
    assertAccepted(await attempt(none, { auth: undefined, host: 'example.com' }));
    assertAccepted(await attempt(none, { auth: { token: 'wrong' }, host: 'example.com' }));
    assertAccepted(await attempt(none, { auth: { password: 'wrong' }, headers: { 'X-Forwarded-For': '203.0.113.9' } }));
  });

  test('gateway.auth.localBypass false: no credential from loopback is refused', async () => {
    assertRefused(await attempt(nobypass, { auth: undefined }), 'AUTH_TOKEN_MISSING');
    assertAccepted(await attempt(nobypass, { auth: { token: nobypass.token } }));
  });
});

describe('auth rate limit', () => {
  let gw;
  const LOCKOUT = 2000;
  before(async () => {
    gw = await startGateway({ config: { gateway: { auth: { rateLimit: { maxAttempts: 3, windowMs: 60000, lockoutMs: LOCKOUT, exemptLoopback: false } } } } });
  });
  after(async () => { await gw.stop(); });

  const right = () => attempt(gw, { auth: { token: gw.token } });
  const wrong = () => attempt(gw, { auth: { token: 'nope' } });

  test('missing credentials do not count', async () => {
    for (let i = 0; i < 5; i++) assertRefused(await attempt(gw, { auth: undefined, host: 'example.com' }), 'AUTH_TOKEN_MISSING');
    assertAccepted(await right());
  });

  test('after maxAttempts mismatches even the right token is refused with AUTH_RATE_LIMITED until lockoutMs passes', async () => {
    for (let i = 0; i < 3; i++) assertRefused(await wrong(), 'AUTH_TOKEN_MISMATCH');
    const t0 = Date.now();
    const r = await right();
    assertRefused(r, 'AUTH_RATE_LIMITED');
    assert.equal(r.res.error.message, 'unauthorized: too many failed authentication attempts (retry later)');
    assert.equal(r.res.error.retryable, true);
    assert.ok(r.res.error.retryAfterMs > 0 && r.res.error.retryAfterMs <= LOCKOUT, `retryAfterMs ${r.res.error.retryAfterMs}`);
    assertRefused(await wrong(), 'AUTH_RATE_LIMITED');
    await sleep(Math.max(0, r.res.error.retryAfterMs - (Date.now() - t0)) + 300);
    assertAccepted(await right());
  });

  test('a success resets the count', async () => {
    assertRefused(await wrong(), 'AUTH_TOKEN_MISMATCH');
    assertRefused(await wrong(), 'AUTH_TOKEN_MISMATCH');
    assertAccepted(await right());
    assertRefused(await wrong(), 'AUTH_TOKEN_MISMATCH');
    assertRefused(await wrong(), 'AUTH_TOKEN_MISMATCH');
    assertAccepted(await right());
  });
});

describe('auth rate limit with exemptLoopback (default)', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ config: { gateway: { auth: { rateLimit: { maxAttempts: 2, windowMs: 60000, lockoutMs: 60000 } } } } });
  });
  after(async () => { await gw.stop(); });

  test('loopback mismatches without an Origin are not rate limited', async () => {
    for (let i = 0; i < 4; i++) assertRefused(await attempt(gw, { auth: { token: 'nope' } }), 'AUTH_TOKEN_MISMATCH');
    assertAccepted(await attempt(gw, { auth: { token: gw.token } }));
  });

  test('connects that carry an Origin are rate limited even from loopback', async () => {
    const origin = `http://127.0.0.1:${gw.port}`;
    for (let i = 0; i < 2; i++) assertRefused(await attempt(gw, { auth: { token: 'nope' }, origin }), 'AUTH_TOKEN_MISMATCH');
    assertRefused(await attempt(gw, { auth: { token: gw.token }, origin }), 'AUTH_RATE_LIMITED');
  });
});

describe('startup rules', () => {
  test('a non-loopback bind with auth none refuses to start', async () => {
    const dir = makeStateDir();
    const port = await freePort();
    const h = spawnClawgate(['run', '--port', String(port), '--bind', 'lan', '--auth', 'none', '--state-dir', dir]);
    const r = await waitForExit(h.proc, 10000);
    if (!r) h.proc.kill('SIGKILL');
    assert.ok(r, 'clawgate exited by itself');
    await h.closed;
    assert.notEqual(r.code, 0, 'non-zero exit');
    assert.equal(r.signal, null, `killed by ${r.signal}`);
    assertNoSanitizerReport(h.out().stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('same refusal when the bind and mode come from the config file', async () => {
    const dir = makeStateDir();
    fs.writeFileSync(`${dir}/clawgate.json`, JSON.stringify({ gateway: { bind: 'all', auth: { mode: 'none' } } }));
    const port = await freePort();
    const h = spawnClawgate(['run', '--port', String(port), '--state-dir', dir]);
    const r = await waitForExit(h.proc, 10000);
    if (!r) h.proc.kill('SIGKILL');
    assert.ok(r, 'clawgate exited by itself');
    await h.closed;
    assert.notEqual(r.code, 0);
    assertNoSanitizerReport(h.out().stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('token mode with no token anywhere: one is generated, saved, printed once', async () => {
    const dir = makeStateDir();
    const gw = await startGateway({ stateDir: dir, token: null, keepStateDir: true });
    await sleep(200);
    const out = gw.logs().stdout;
    const lines = out.split('\n').filter((l) => l.startsWith('gateway token: '));
    assert.equal(lines.length, 1, `stdout: ${out}`);
    const tok = lines[0].slice('gateway token: '.length).trim();
    assert.ok(tok.length >= 16, `token ${tok}`);
    const cfg = JSON.parse(fs.readFileSync(gw.configPath, 'utf8'));
    assert.equal(cfg.gateway.auth.token, tok);
    assertAccepted(await attempt(gw, { auth: { token: tok }, host: 'example.com' }));
    assertRefused(await attempt(gw, { auth: { token: tok + 'x' } }), 'AUTH_TOKEN_MISMATCH');
    await gw.stop();
    const gw2 = await startGateway({ stateDir: dir, token: null });
    await sleep(200);
    assert.ok(!gw2.logs().stdout.includes('gateway token:'), `printed again: ${gw2.logs().stdout}`);
    assertAccepted(await attempt(gw2, { auth: { token: tok }, host: 'example.com' }));
    await gw2.stop();
  });

  test('the token may come from CLAWGATE_GATEWAY_TOKEN / OPENCLAW_GATEWAY_TOKEN (nothing generated)', async () => {
    for (const v of ['CLAWGATE_GATEWAY_TOKEN', 'OPENCLAW_GATEWAY_TOKEN']) {
      const gw = await startGateway({ token: null, env: { [v]: 'env-token-123456' } });
      assert.ok(!gw.logs().stdout.includes('gateway token:'));
      assertAccepted(await attempt(gw, { auth: { token: 'env-token-123456' }, host: 'example.com' }));
      assertRefused(await attempt(gw, { auth: { token: 'other' } }), 'AUTH_TOKEN_MISMATCH');
      await gw.stop();
    }
  });

  test('--token beats the environment, which beats the config file', async () => {
    const gw = await startGateway({ token: 'flag-token-1', env: { CLAWGATE_GATEWAY_TOKEN: 'env-token-1' }, config: { gateway: { auth: { token: 'file-token-1' } } } });
    assertAccepted(await attempt(gw, { auth: { token: 'flag-token-1' } }));
    assertRefused(await attempt(gw, { auth: { token: 'env-token-1' } }), 'AUTH_TOKEN_MISMATCH');
    await gw.stop();
    const gw2 = await startGateway({ token: null, env: { CLAWGATE_GATEWAY_TOKEN: 'env-token-1' }, config: { gateway: { auth: { token: 'file-token-1' } } } });
    assertAccepted(await attempt(gw2, { auth: { token: 'env-token-1' } }));
    assertRefused(await attempt(gw2, { auth: { token: 'file-token-1' } }), 'AUTH_TOKEN_MISMATCH');
    await gw2.stop();
  });
});

describe('local bypass needs a loopback peer', () => {
  const ip = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  let gw;
  before(async () => { if (ip) gw = await startGateway({ bind: 'lan' }); });
  after(async () => { if (gw) await gw.stop(); });

  test('no credential from a non-loopback peer is refused even with a loopback Host', { skip: !ip && 'no non-loopback IPv4 address' }, async () => {
    const remote = { ...gw, url: `ws://${ip}:${gw.port}` };
    assertRefused(await attempt(remote, { auth: undefined, host: `127.0.0.1:${gw.port}` }), 'AUTH_TOKEN_MISSING');
    assertAccepted(await attempt(remote, { auth: { token: gw.token } }));
    assertAccepted(await attempt(gw, { auth: undefined }));
  });
});

describe('"${VAR}" in config strings', () => {
  test('gateway.auth.token "${VAR}" is taken from the environment; the file keeps the reference', async () => {
    const gw = await startGateway({ token: null, env: { IT_SECRET_TOKEN: 'from-env-var-42' }, config: { gateway: { auth: { token: '${IT_SECRET_TOKEN}' } } } });
    try {
      assertAccepted(await attempt(gw, { auth: { token: 'from-env-var-42' }, host: 'example.com' }));
      assertRefused(await attempt(gw, { auth: { token: '${IT_SECRET_TOKEN}' } }), 'AUTH_TOKEN_MISMATCH');
      assert.equal(JSON.parse(fs.readFileSync(gw.configPath, 'utf8')).gateway.auth.token, '${IT_SECRET_TOKEN}');
    } finally { await gw.stop(); }
  });
});
