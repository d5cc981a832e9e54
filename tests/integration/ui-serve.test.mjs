// Serving the Control UI (issue 11, first part): the embedded UI at the base path,
// gateway.controlUi.root served as the real gateway serves it (SPA fallback, index.html
// rewritten with base-path attributes, a CSP admitting its inline scripts by sha256,
// /control-ui-config.json behind the bearer token), ETag/304, gzip, no way out of the
// root, the security headers on every answer, and the WebSocket still on /.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { connectClient } from './lib/client.mjs';
import { startGateway } from './lib/gateway.mjs';

const REAL_UI = path.join(os.homedir(), '.cache/clawgate-peer/node_modules/openclaw/dist/control-ui');

/** GET (or other) with the body as a Buffer. */
function get(port, target, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method, headers, agent: false, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${target} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** One raw request line on a socket (for targets node:http would not send); the status. */
function rawStatus(port, target) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.setTimeout(10000, () => s.destroy(new Error('raw request timed out')));
    s.on('data', (d) => { data += d; });
    s.on('error', reject);
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(data);
      resolve({ status: m ? Number(m[1]) : 0, head: data.split('\r\n\r\n')[0] });
    });
    s.write(Buffer.concat([Buffer.from('GET '), Buffer.from(target, 'latin1'), Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]));
  });
}

function assertSecurityHeaders(r, what) {
  assert.equal(r.headers['x-frame-options'], 'DENY', what);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(r.headers['referrer-policy'], 'no-referrer', what);
  assert.ok(r.headers['content-security-policy'], `${what}: CSP`);
  assert.doesNotMatch(r.headers['content-security-policy'], /unsafe-inline'[^;]*;?\s*$|script-src[^;]*unsafe-inline/, `${what}: no inline script admitted`);
}

/** The inline scripts of an HTML page, as the real gateway hashes them. */
function inlineScriptHashes(html) {
  const out = [];
  for (const m of html.matchAll(/<script(?:\s[^>]*)?>([^]*?)<\/script>/gi)) {
    const open = m[0].slice(0, m[0].indexOf('>') + 1);
    if (/\ssrc\s*=/i.test(open) || !m[1]) continue;
    out.push(`'sha256-${createHash('sha256').update(m[1], 'utf8').digest('base64')}'`);
  }
  return out;
}

describe('embedded UI', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { await gw?.stop(); });

  test('GET / is the embedded UI page with the version, typed, ETag, security headers', async () => {
    const r = await get(gw.port, '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(r.body.toString(), /clawgate/);
    assert.match(r.body.toString(), /<html lang="en" data-version="\d+\.\d+\.\d+"/);
    const js = await get(gw.port, '/js/app.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(r.headers.etag, /^"[0-9a-f]{64}"$/);
    assertSecurityHeaders(r, 'GET /');
    assert.match(r.headers['content-security-policy'], /default-src 'self'/);
    const css = await get(gw.port, '/style.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  });

  test('If-None-Match with the ETag is 304; another ETag is 200', async () => {
    const first = await get(gw.port, '/index.html');
    const again = await get(gw.port, '/index.html', { headers: { 'if-none-match': first.headers.etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, first.headers.etag);
    assertSecurityHeaders(again, '304');
    const other = await get(gw.port, '/index.html', { headers: { 'if-none-match': '"nope"' } });
    assert.equal(other.status, 200);
  });

  test('gzip when accepted: the precompressed copy, its own ETag; identity otherwise', async () => {
    const plain = await get(gw.port, '/');
    const gz = await get(gw.port, '/', { headers: { 'accept-encoding': 'gzip, deflate' } });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(gz.headers.vary, /Accept-Encoding/i);
    assert.deepEqual(zlib.gunzipSync(gz.body), plain.body);
    assert.notEqual(gz.headers.etag, plain.headers.etag);
    const refused = await get(gw.port, '/', { headers: { 'accept-encoding': 'gzip;q=0' } });
    assert.equal(refused.headers['content-encoding'], undefined);
  });

  test('SPA fallback for pages, 404 for a missing asset, 404 for other methods; headers on 404s', async () => {
    const page = await get(gw.port, '/chat/some/deep/link');
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /clawgate/);
    const missing = await get(gw.port, '/assets/nope.js');
    assert.equal(missing.status, 404);
    assertSecurityHeaders(missing, '404 asset');
    const post = await get(gw.port, '/index.html', { method: 'POST' });
    assert.equal(post.status, 404);
    assertSecurityHeaders(post, '404 POST');
  });

  test('the SPA fallback is for pages: not for a JSON Accept, not for the APIs\' namespaces', async () => {
    assert.equal((await get(gw.port, '/chat', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })).status, 200);
    assert.equal((await get(gw.port, '/chat', { headers: { accept: 'application/json' } })).status, 404);
    for (const p of ['/v1/models', '/api/x', '/healthz/x', '/ready', '/ui/chat', '/j/abc']) {
      const r = await get(gw.port, p);
      assert.equal(r.status, 404, p);
      assertSecurityHeaders(r, p);
    }
  });

  test('the WebSocket upgrade on / still works, and /healthz stays the gateway\'s', async () => {
    const c = await connectClient(gw);
    assert.equal(c.hello.type, 'hello-ok');
    c.close();
    const h = await get(gw.port, '/healthz');
    assert.equal(JSON.parse(h.body).status, 'live');
  });

  test('traversal attempts never leave the UI', async () => {
    for (const target of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2fetc%2fpasswd',
      '/assets/..%2f..%2fetc/passwd', '/%00index.html', '/index.html%00.js', '/..\\..\\etc\\passwd', '/.%2e/x.js']) {
      const r = await rawStatus(gw.port, target);
      assert.ok(r.status === 404 || r.status === 400, `${target}: ${r.status}`);
      assert.doesNotMatch(r.head, /root:x:0/);
    }
  });
});

describe('gateway.controlUi.root: the real OpenClaw Control UI', () => {
  let gw, root, outside;
  before(async () => {
    // A copy of the real UI's index.html and one asset, plus a symlink out of the root.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cg-ui-root-'));
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'cg-ui-outside-'));
    fs.writeFileSync(path.join(outside, 'secret.js'), 'secret');
    fs.copyFileSync(path.join(REAL_UI, 'index.html'), path.join(root, 'index.html'));
    fs.mkdirSync(path.join(root, 'assets'));
    fs.writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log("app");\n'.repeat(200));
    fs.writeFileSync(path.join(root, 'assets', 'app.js.gz'), zlib.gzipSync(fs.readFileSync(path.join(root, 'assets', 'app.js'))));
    fs.symlinkSync(path.join(outside, 'secret.js'), path.join(root, 'assets', 'leak.js'));
    fs.symlinkSync(outside, path.join(root, 'out'));
    gw = await startGateway({ config: { gateway: { controlUi: { root, basePath: '/ui' } } } });
  });
  after(async () => {
    await gw?.stop();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  test('index.html is rewritten under the base path; the CSP admits exactly its inline scripts', async () => {
    const r = await get(gw.port, '/ui/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache');
    const html = r.body.toString();
    assert.match(html, /<html data-openclaw-control-ui-base-path="\/ui" data-openclaw-terminal-enabled="false"/);
    assert.doesNotMatch(/<html[^>]*>/.exec(html)[0], /data-openclaw-control-ui-build-id/);
    assert.match(html, /src="\/ui\/assets\/index-[^"]+\.js"/);
    assert.match(html, /href="\/ui\/favicon\.svg"/);
    assert.doesNotMatch(html, /(src|href)="\.\//);
    const csp = r.headers['content-security-policy'];
    const hashes = inlineScriptHashes(html);
    assert.equal(hashes.length, 2, 'the real index.html has 2 inline scripts');
    const scriptSrc = csp.split(';').map((s) => s.trim()).find((s) => s.startsWith('script-src'));
    assert.deepEqual(scriptSrc.split(' ').filter((t) => t.startsWith("'sha256-")), hashes);
    assert.match(scriptSrc, /'wasm-unsafe-eval'/);
    assertSecurityHeaders(r, 'index');
    // The original file's hashes would not do: the rewrite changed nothing inside the scripts.
    assert.deepEqual(inlineScriptHashes(fs.readFileSync(path.join(REAL_UI, 'index.html'), 'utf8')), hashes);
  });

  test('SPA fallback, /ui redirects to /ui/, paths outside the base path are not the UI', async () => {
    const deep = await get(gw.port, '/ui/chat?session=main');
    assert.equal(deep.status, 200);
    assert.match(deep.body.toString(), /data-openclaw-control-ui-base-path="\/ui"/);
    const bare = await get(gw.port, '/ui');
    assert.equal(bare.status, 302);
    assert.equal(bare.headers.location, '/ui/');
    const root = await get(gw.port, '/');
    assert.equal(root.status, 426);
    assertSecurityHeaders(root, 'GET / outside the base path');
    const other = await get(gw.port, '/elsewhere');
    assert.equal(other.status, 404);
    assertSecurityHeaders(other, '404 outside');
  });

  test('assets: type, ETag/304, the .gz sibling when gzip is accepted', async () => {
    const js = await get(gw.port, '/ui/assets/app.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers.etag, `"${createHash('sha256').update(js.body).digest('hex')}"`);
    const again = await get(gw.port, '/ui/assets/app.js', { headers: { 'if-none-match': js.headers.etag } });
    assert.equal(again.status, 304);
    const gz = await get(gw.port, '/ui/assets/app.js', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.deepEqual(zlib.gunzipSync(gz.body), js.body);
    const missing = await get(gw.port, '/ui/assets/missing.js');
    assert.equal(missing.status, 404);
    assertSecurityHeaders(missing, 'missing asset');
  });

  test('symlinks out of the root and traversal are 404', async () => {
    assert.equal((await get(gw.port, '/ui/assets/leak.js')).status, 404);
    assert.equal((await get(gw.port, '/ui/out/secret.js')).status, 404);
    for (const target of ['/ui/../../etc/passwd', '/ui/%2e%2e/%2e%2e/etc/passwd', '/ui/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/ui/..%5c..%5cetc%5cpasswd', '/ui/index.html%00', '/ui//etc/passwd']) {
      const r = await rawStatus(gw.port, target);
      assert.ok(r.status === 404 || r.status === 400, `${target}: ${r.status}`);
      assert.doesNotMatch(r.head, /root:x:0/);
    }
  });

  test('control-ui-config.json: 401 JSON without the token, the bootstrap config with it', async () => {
    const no = await get(gw.port, '/ui/control-ui-config.json');
    assert.equal(no.status, 401);
    assert.match(no.headers['content-type'], /application\/json/);
    assert.equal(JSON.parse(no.body).error.type, 'unauthorized');
    assertSecurityHeaders(no, '401');
    const bad = await get(gw.port, '/ui/control-ui-config.json', { headers: { authorization: 'Bearer wrong' } });
    assert.equal(bad.status, 401);
    const ok = await get(gw.port, '/ui/control-ui-config.json', { headers: { authorization: `Bearer ${gw.token}` } });
    assert.equal(ok.status, 200);
    const cfg = JSON.parse(ok.body);
    assert.equal(cfg.basePath, '/ui');
    assert.equal(cfg.assistantName, 'Assistant');
    assert.equal(cfg.assistantAvatar, 'A');
    assert.match(cfg.serverVersion, /^\d+\.\d+\.\d+/);
    assert.equal(cfg.pluginAssetsRequireAuth, true);
    assert.deepEqual(cfg.pluginFrameGrants, []);
  });
});

describe('gateway.controlUi.enabled: false', () => {
  let gw;
  before(async () => { gw = await startGateway({ config: { gateway: { controlUi: { enabled: false } } } }); });
  after(async () => { await gw?.stop(); });

  test('serves nothing: / is the WebSocket\'s 426, files and config are 404', async () => {
    assert.equal((await get(gw.port, '/')).status, 426);
    assert.equal((await get(gw.port, '/index.html')).status, 404);
    assert.equal((await get(gw.port, '/control-ui-config.json', { headers: { authorization: `Bearer ${gw.token}` } })).status, 404);
    const c = await connectClient(gw);
    assert.equal(c.hello.type, 'hello-ok');
    c.close();
  });
});
