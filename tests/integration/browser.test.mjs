// Browser automation (issue 10, Browser): browser.request {method, path, query?, body?,
// timeoutMs?} answered by clawgate's own controller driving Debian's Chromium over the
// DevTools pipe, in real Chromium: lazy launch with the profile under DIR/browser, tabs,
// navigate, snapshot with refs, click/type/evaluate, PNG screenshots, a hung page that
// times out while the gateway keeps answering, idle stop, a killed browser relaunched,
// and the relay to a node declaring browser.proxy. Every frame is checked against the
// schema by the client.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectClient } from './lib/client.mjs';
import { startGateway, eventually } from './lib/gateway.mjs';
import { approvedNode } from './lib/simnode.mjs';
import { newIdentity } from './lib/device.mjs';
import { startTestSite, pngSize, PAGE_TITLE } from './lib/browser-page.mjs';

const CHROMIUM = '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (scripts/deps.sh installs it)`;
if (skip) console.log(`# skipping the browser tests: ${skip}`);

// Generous bounds on behaviour (a cold Chromium start under ASan can take seconds).
const CALL_MS = 60000;

function browser(client) {
  const request = (method, p, extra = {}) =>
    client.request('browser.request', { method, path: p, ...extra }, { timeoutMs: CALL_MS });
  const call = async (method, p, extra) => {
    const res = await request(method, p, extra);
    assert.equal(res.ok, true, `${method} ${p}: ${JSON.stringify(res.error)}`);
    return res.payload;
  };
  return { request, call };
}

/** Whether pid is a live process (a zombie counts as gone). */
function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch { return false; }
}

describe('browser.request in real Chromium', { skip }, () => {
  let gw, op, site, br;
  before(async () => {
    site = await startTestSite();
    // The test site is on loopback, which the default policy refuses (tested below).
    gw = await startGateway({ config: { browser: { ssrfPolicy: { dangerouslyAllowPrivateNetwork: true } } } });
    op = await connectClient(gw, { params: { scopes: ['operator.write'] } });
    br = browser(op);
  });
  after(async () => {
    const pid = op ? (await br.call('GET', '/')).pid : null;
    op?.close();
    await gw?.stop();
    await site?.close();
    // The gateway's stop took its browser along.
    if (pid) await eventually(() => !alive(pid), 10000, `chromium ${pid} gone after the gateway stopped`);
  });

  test('launches lazily on first use, with its profile under DIR/browser', async () => {
    const before = await br.call('GET', '/');
    assert.equal(before.enabled, true);
    assert.equal(before.running, false);
    assert.equal(before.pid, null);
    assert.equal(before.userDataDir, path.join(gw.stateDir, 'browser', 'profile'));
    assert.equal(fs.existsSync(path.join(gw.stateDir, 'browser')), false, 'nothing launched yet');

    const nav = await br.call('POST', '/navigate', { body: { url: site.url('/') } });
    assert.equal(nav.ok, true);
    assert.equal(nav.url, site.url('/'));
    assert.equal(nav.title, PAGE_TITLE);
    assert.equal(typeof nav.targetId, 'string');

    const after = await br.call('GET', '/');
    assert.equal(after.running, true);
    assert.equal(after.cdpReady, true);
    assert.equal(typeof after.pid, 'number');
    assert.ok(alive(after.pid));
    assert.ok(fs.statSync(after.userDataDir).isDirectory(), 'the profile was created');
    // The profile is Chromium's: it wrote its own files there.
    assert.ok(fs.readdirSync(after.userDataDir).length > 0);
  });

  test('snapshot gives the page text and refs; click by ref changes the page', async () => {
    await br.call('POST', '/navigate', { body: { url: site.url('/') } });
    const snap = await br.call('GET', '/snapshot', { query: { format: 'ai' } });
    assert.equal(snap.format, 'ai');
    assert.equal(snap.url, site.url('/'));
    assert.match(snap.snapshot, /Welcome to the test page/);
    assert.match(snap.snapshot, /Some visible paragraph text\./);
    assert.doesNotMatch(snap.snapshot, /hidden text/);
    const button = Object.entries(snap.refs).find(([, r]) => r.role === 'button' && r.name === 'Press me');
    assert.ok(button, `a button ref in ${JSON.stringify(snap.refs)}`);
    const link = Object.values(snap.refs).find((r) => r.role === 'link');
    assert.equal(link.name, 'Go to second page');
    assert.match(snap.snapshot, new RegExp(`button "Press me" \\[ref=${button[0]}\\]`));
    assert.match(snap.snapshot, /not clicked yet/);
    assert.equal(snap.stats.refs, Object.keys(snap.refs).length);
    assert.equal(snap.stats.lines, snap.snapshot.split('\n').length);

    const clicked = await br.call('POST', '/act', { body: { kind: 'click', ref: button[0] } });
    assert.equal(clicked.ok, true);
    assert.equal(clicked.targetId, snap.targetId);
    const again = await br.call('GET', '/snapshot');
    assert.match(again.snapshot, /button was clicked/);
    assert.doesNotMatch(again.snapshot, /not clicked yet/);

    const stale = await br.request('POST', '/act', { body: { kind: 'click', ref: 'e999' } });
    assert.equal(stale.ok, false);
    assert.equal(stale.error.code, 'INVALID_REQUEST');
    assert.match(stale.error.message, /unknown ref: e999/);
  });

  test('type by selector fills the field; evaluate returns a value', async () => {
    await br.call('POST', '/navigate', { body: { url: site.url('/') } });
    const typed = await br.call('POST', '/act', { body: { kind: 'type', selector: '#name', text: 'Ada Lovelace' } });
    assert.equal(typed.ok, true);
    const value = await br.call('POST', '/act', { body: { kind: 'evaluate', fn: '() => document.querySelector("#name").value' } });
    assert.equal(value.result, 'Ada Lovelace');
    const snap = await br.call('GET', '/snapshot');
    assert.match(snap.snapshot, /textbox "Your name" \[ref=e\d+\] value="Ada Lovelace"/);

    const obj = await br.call('POST', '/act', { body: { kind: 'evaluate', fn: 'async () => ({ n: 6 * 7, t: document.title, list: [1, "a", null] })' } });
    assert.deepEqual(obj.result, { n: 42, t: PAGE_TITLE, list: [1, 'a', null] });

    const thrown = await br.request('POST', '/act', { body: { kind: 'evaluate', fn: '() => { throw new Error("boom in page") }' } });
    assert.equal(thrown.ok, false);
    assert.equal(thrown.error.code, 'INVALID_REQUEST');
    assert.match(thrown.error.message, /boom in page/);

    const missing = await br.request('POST', '/act', { body: { kind: 'type', selector: '#nope', text: 'x' } });
    assert.equal(missing.ok, false);
    assert.match(missing.error.message, /no element matches selector: #nope/);
  });

  test('tabs: open, list, focus, close', async () => {
    const opened = await br.call('POST', '/tabs/open', { body: { url: site.url('/second') } });
    assert.equal(typeof opened.targetId, 'string');
    assert.equal(opened.url, site.url('/second'));
    assert.equal(opened.title, 'Second');
    assert.equal(opened.type, 'page');

    let list = await br.call('GET', '/tabs');
    assert.equal(list.running, true);
    const ids = list.tabs.map((t) => t.targetId);
    assert.ok(ids.includes(opened.targetId));
    assert.ok(list.tabs.length >= 2, JSON.stringify(list.tabs));
    const other = list.tabs.find((t) => t.targetId !== opened.targetId);

    // The tab last opened is the default target; focus moves it.
    let snap = await br.call('GET', '/snapshot');
    assert.equal(snap.targetId, opened.targetId);
    assert.match(snap.snapshot, /second page/);
    const focused = await br.call('POST', '/tabs/focus', { body: { targetId: other.targetId } });
    assert.deepEqual(focused, { ok: true, targetId: other.targetId });
    snap = await br.call('GET', '/snapshot');
    assert.equal(snap.targetId, other.targetId);

    const closed = await br.call('DELETE', `/tabs/${opened.targetId}`);
    assert.deepEqual(closed, { ok: true, targetId: opened.targetId });
    list = await br.call('GET', '/tabs');
    assert.ok(!list.tabs.some((t) => t.targetId === opened.targetId));

    const gone = await br.request('DELETE', `/tabs/${opened.targetId}`);
    assert.equal(gone.ok, false);
    assert.equal(gone.error.code, 'INVALID_REQUEST');
    assert.match(gone.error.message, /tab not found/);
    const noFocus = await br.request('POST', '/tabs/focus', { body: { targetId: 'no-such-tab' } });
    assert.equal(noFocus.ok, false);
    assert.match(noFocus.error.message, /tab not found: no-such-tab/);
  });

  test('screenshot is a PNG under DIR/browser/screenshots, also as base64 on request', async () => {
    await br.call('POST', '/navigate', { body: { url: site.url('/') } });
    const shot = await br.call('POST', '/screenshot', { body: {} });
    assert.equal(shot.ok, true);
    assert.equal(shot.type, 'png');
    assert.equal(shot.url, site.url('/'));
    assert.equal(path.dirname(shot.path), path.join(gw.stateDir, 'browser', 'screenshots'));
    assert.equal(shot.base64, undefined, 'no inline image unless asked');
    const file = fs.readFileSync(shot.path);
    assert.equal(file.length, shot.bytes);
    const size = pngSize(file);
    assert.ok(size.width > 100 && size.height > 100, JSON.stringify(size));

    const inline = await br.call('POST', '/screenshot', { body: { includeBase64: true } });
    const bytes = Buffer.from(inline.base64, 'base64');
    assert.deepEqual(pngSize(bytes), size);
    assert.deepEqual(bytes, fs.readFileSync(inline.path));

    await br.call('POST', '/navigate', { body: { url: site.url('/tall') } });
    const full = await br.call('POST', '/screenshot', { body: { fullPage: true } });
    assert.equal(pngSize(fs.readFileSync(full.path)).height, 3000);

    const bad = await br.request('POST', '/screenshot', { body: { type: 'gif' } });
    assert.equal(bad.ok, false);
    assert.equal(bad.error.code, 'INVALID_REQUEST');
  });

  test('a hung page times out with a clear error while the gateway answers at once', async () => {
    await br.call('POST', '/navigate', { body: { url: site.url('/') } });
    const hang = br.request('POST', '/act', { timeoutMs: 3000, body: { kind: 'evaluate', fn: '() => { while (true) {} }' } });
    let hangDone = false;
    hang.then(() => { hangDone = true; });
    await new Promise((r) => setTimeout(r, 300));
    // Meanwhile the gateway answers other calls, the browser's status among them.
    const health = await op.request('health', {});
    assert.equal(health.ok, true);
    const status = await br.call('GET', '/');
    assert.equal(status.running, true);
    assert.equal(hangDone, false, 'answered while the page was still stuck');

    const res = await hang;
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'UNAVAILABLE');
    assert.match(res.error.message, /timed out after 3000 ms/);
    assert.equal(res.error.details.code, 'TIMEOUT');
    // The stuck script was terminated: the same tab works again.
    const after = await br.call('POST', '/act', { body: { kind: 'evaluate', fn: '() => document.title' } });
    assert.equal(after.result, PAGE_TITLE);
  });

  test('bad params are INVALID_REQUEST; an unknown route too', async () => {
    const cases = [
      [{ method: 'PUT', path: '/' }, /method must be GET, POST, or DELETE/],
      [{ method: 'GET', path: 'tabs' }, /path must start with \//],
      [{ path: '/' }, /method/],
      [{ method: 'GET', path: '/', extra: 1 }, /extra/],
      [{ method: 'GET', path: '/', timeoutMs: 0 }, /timeoutMs/],
      [{ method: 'GET', path: '/', target: 'moon' }, /target must be "host" or "node"/],
    ];
    for (const [params, message] of cases) {
      const res = await op.request('browser.request', params);
      assert.equal(res.ok, false, JSON.stringify(params));
      assert.equal(res.error.code, 'INVALID_REQUEST');
      assert.match(res.error.message, /^invalid browser.request params: /);
      assert.match(res.error.message, message);
    }
    const unknown = await br.request('GET', '/no/such/route');
    assert.equal(unknown.ok, false);
    assert.equal(unknown.error.code, 'INVALID_REQUEST');
    assert.match(unknown.error.message, /unknown browser route: GET \/no\/such\/route/);
    const noUrl = await br.request('POST', '/navigate', { body: {} });
    assert.equal(noUrl.ok, false);
    assert.match(noUrl.error.message, /url is required/);
    // OpenClaw's navigation policy: http, https and about:blank only.
    for (const url of ['data:text/html,<p>x</p>', 'file:///etc/passwd', 'javascript:alert(1)']) {
      for (const route of ['/navigate', '/tabs/open']) {
        const blocked = await br.request('POST', route, { body: { url } });
        assert.equal(blocked.ok, false, `${route} ${url}`);
        assert.equal(blocked.error.code, 'INVALID_REQUEST');
        assert.equal(blocked.error.message, `Navigation blocked: unsupported protocol "${url.split(':')[0]}:"`);
        assert.equal(blocked.error.details.reason, 'navigation_blocked');
      }
    }
    const noKind = await br.request('POST', '/act', { body: { ref: 'e1' } });
    assert.match(noKind.error.message, /kind is required/);
  });

  test('Chromium killed mid-call: a clear error, and the next call relaunches it', async () => {
    await br.call('POST', '/navigate', { body: { url: site.url('/') } });
    const { pid } = await br.call('GET', '/');
    const slow = br.request('POST', '/act', { body: { kind: 'evaluate', fn: '() => new Promise((r) => setTimeout(r, 30000))' } });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(pid, 'SIGKILL');
    const res = await slow;
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'UNAVAILABLE');
    assert.match(res.error.message, /browser killed by signal 9/);
    const down = await br.call('GET', '/');
    assert.equal(down.running, false);

    const nav = await br.call('POST', '/navigate', { body: { url: site.url('/second') } });
    assert.equal(nav.title, 'Second');
    const up = await br.call('GET', '/');
    assert.equal(up.running, true);
    assert.notEqual(up.pid, pid);
  });

  test('POST /stop stops it; POST /start starts it', async () => {
    const started = await br.call('POST', '/start');
    assert.equal(started.running, true);
    assert.equal(started.cdpReady, true);
    assert.match(started.version, /Chrom/);
    const stopped = await br.call('POST', '/stop');
    assert.deepEqual(stopped, { ok: true, stopped: true, profile: 'openclaw' });
    await eventually(() => !alive(started.pid), 10000, 'chromium gone after /stop');
    assert.equal((await br.call('GET', '/')).running, false);
    assert.deepEqual(await br.call('GET', '/tabs'), { running: false, tabs: [] });
  });

  test('a read-only operator may not drive the browser', async () => {
    const reader = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    try {
      const res = await reader.request('browser.request', { method: 'GET', path: '/' });
      assert.equal(res.ok, false);
      assert.equal(res.error.code, 'FORBIDDEN');
      assert.equal(res.error.details.missingScope, 'operator.write');
    } finally { reader.close(); }
  });
});

describe('browser navigation policy (browser.ssrfPolicy)', { skip }, () => {
  let gw, op, site, br;
  before(async () => {
    site = await startTestSite();
    gw = await startGateway({ config: { browser: { ssrfPolicy: { allowedHostnames: ['localhost'] } } } });
    op = await connectClient(gw, { params: { scopes: ['operator.write'] } });
    br = browser(op);
  });
  after(async () => {
    op?.close();
    await gw?.stop();
    await site?.close();
  });

  const assertBlocked = (res, what) => {
    assert.equal(res.ok, false, what);
    assert.equal(res.error.code, 'INVALID_REQUEST', what);
    assert.equal(res.error.message, 'browser navigation blocked by policy', what);
    assert.equal(res.error.details.reason, 'navigation_blocked', what);
  };

  test('loopback, private and link-local addresses are refused by default', async () => {
    const p = site.port;
    for (const url of [`http://127.0.0.1:${p}/`, `http://[::1]:${p}/`, `http://10.1.2.3:${p}/`, 'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data/', `http://user:pw@127.0.0.1:${p}/`, `http://[::ffff:127.0.0.1]:${p}/`, `http://foo.localhost:${p}/`]) {
      assertBlocked(await br.request('POST', '/navigate', { body: { url } }), url);
    }
    assertBlocked(await br.request('POST', '/tabs/open', { body: { url: `http://127.0.0.1:${p}/` } }), 'tabs/open');
    // A name that resolves to a private address (this host's own name, when it does).
    const host = os.hostname();
    const addrs = await dns.lookup(host, { all: true }).catch(() => []);
    if (addrs.length && addrs.every((a) => /^(127\.|10\.|192\.168\.|::1$)/.test(a.address))) {
      assertBlocked(await br.request('POST', '/navigate', { body: { url: `http://${host}:${p}/` } }), host);
    }
  });

  test('allowedHostnames lets a host through; a redirect to a private address is refused', async () => {
    const ok = await br.call('POST', '/navigate', { body: { url: `http://localhost:${site.port}/` } });
    assert.equal(ok.title, PAGE_TITLE);
    const redirected = await br.request('POST', '/navigate', { body: { url: `http://localhost:${site.port}/redirect-to-loopback` } });
    assertBlocked(redirected, 'redirect');
  });
});

describe('browser idle stop and browser.enabled', { skip }, () => {
  test('the browser stops after browser.idleTimeoutMs without calls', async () => {
    const gw = await startGateway({ config: { browser: { idleTimeoutMs: 1500 } } });
    const op = await connectClient(gw, { params: { scopes: ['operator.write'] } });
    try {
      const br = browser(op);
      await br.call('POST', '/navigate', { body: { url: 'about:blank' } });
      const { pid, running } = await br.call('GET', '/');
      assert.equal(running, true);
      await eventually(async () => !(await br.call('GET', '/')).running, 15000, 'stopped when idle');
      await eventually(() => !alive(pid), 10000, 'chromium process gone');
      // It comes back on the next use.
      await br.call('POST', '/navigate', { body: { url: 'about:blank' } });
      assert.equal((await br.call('GET', '/')).running, true);
    } finally {
      op.close();
      await gw.stop();
    }
  });

  test('browser.enabled false refuses every call', async () => {
    const gw = await startGateway({ config: { browser: { enabled: false } } });
    const op = await connectClient(gw, { params: { scopes: ['operator.write'] } });
    try {
      const res = await op.request('browser.request', { method: 'GET', path: '/' });
      assert.equal(res.ok, false);
      assert.equal(res.error.code, 'UNAVAILABLE');
      assert.match(res.error.message, /browser\.enabled=false/);
      assert.equal(fs.existsSync(path.join(gw.stateDir, 'browser')), false);
    } finally {
      op.close();
      await gw.stop();
    }
  });
});

describe('browser.request relayed to a node declaring browser.proxy', () => {
  let gw, admin, node, identity;
  before(async () => {
    identity = newIdentity();
    gw = await startGateway({ config: { gateway: { nodes: { browser: { node: identity.deviceId } } } } });
    admin = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    node = await approvedNode(gw, admin, {
      identity,
      caps: ['browser'],
      commands: ['browser.proxy'],
      handler: (req) => (req.params.path === '/fail'
        ? { payload: { error: { status: 404, body: { error: 'tab not found: x', code: 'TAB_NOT_FOUND' } } } }
        : { payload: { result: { ok: true, servedBy: 'node', path: req.params.path } } }),
    });
  });
  after(async () => {
    node?.client.close();
    admin?.close();
    await gw?.stop();
  });

  test('the configured node gets {method, path, query, body, timeoutMs}; its result is the answer', async () => {
    const res = await admin.call('browser.request', { method: 'post', path: '/navigate', query: { a: '1' }, body: { url: 'https://example.com/' }, timeoutMs: 7000 });
    assert.deepEqual(res, { ok: true, servedBy: 'node', path: '/navigate' });
    const req = node.requests.at(-1);
    assert.equal(req.command, 'browser.proxy');
    assert.deepEqual(req.params, { method: 'POST', path: '/navigate', query: { a: '1' }, body: { url: 'https://example.com/' }, timeoutMs: 7000 });
    // The local browser was not touched.
    assert.equal(fs.existsSync(path.join(gw.stateDir, 'browser')), false);
  });

  test("a node's route failure is answered like a local one", async () => {
    const res = await admin.request('browser.request', { method: 'GET', path: '/fail' });
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'INVALID_REQUEST');
    assert.equal(res.error.message, 'tab not found: x');
    assert.equal(res.error.details.code, 'TAB_NOT_FOUND');
  });

  test('target "host" keeps the call local; an absent node is refused', async () => {
    const before = node.requests.length;
    const status = await admin.call('browser.request', { method: 'GET', path: '/', target: 'host' });
    assert.equal(status.running, false);
    assert.equal(node.requests.length, before);
    const res = await admin.request('browser.request', { method: 'GET', path: '/', target: 'node', node: 'no-such-node' });
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'UNAVAILABLE');
    assert.match(res.error.message, /browser node not connected/);
  });
});
