// Control UI side by side (issue 11): UI size, time to first render, time to connected and
// to an interactive chat composer, and the gateway's memory, in real headless Chromium, for
//   1. the real OpenClaw gateway serving its own Control UI,
//   2. clawgate serving the real Control UI (gateway.controlUi.root = the peer's
//      openclaw/dist/control-ui), and
//   3. clawgate serving its own embedded UI (no gateway.controlUi),
// each at http://127.0.0.1:P/#token=T. The three gateways (one real gateway, two clawgate)
// are started fresh and run side by side, loaded round by round (one load of each per round)
// so that whatever else the machine does falls on all of them alike. All three are
// configured with the same model provider (models.providers.bench, model bench/m1, an
// in-process fake OpenAI-compatible server; no chat is sent): without a model the real UI
// opens its first-run model setup page instead of the chat.
//
//   bench/ui.sh        (= the reference peer's node running this file; writes bench/results/ui.md)
//
// One Chromium (/usr/bin/chromium, --no-sandbox) for the whole run; every measured load gets
// a fresh browser context (empty HTTP cache, storage and service workers, so a new device
// identity each time). BENCH_UI_WARMUP (1) uncounted rounds, then BENCH_UI_RUNS (5) measured
// ones. In a load:
//   - size: the Chrome DevTools Protocol Network events of the page: every HTTP request made
//     from navigation start until the page is done (below); bytes on the wire from
//     loadingFinished.encodedDataLength (compressed bodies plus response headers), the
//     uncompressed bodies from the dataReceived.dataLength sum. The real UI's service worker
//     takes control during the first load and answers later requests with fetches of its
//     own: those reach the page as 0 bytes on the wire, so the worker's network requests
//     (playwright reports them on the context) are added with their request.sizes(). The
//     WebSocket is not counted.
//   - first render: the paint timing entry first-contentful-paint (ms after navigation start).
//   - connect: navigation start to the WebSocket message carrying the hello-ok response,
//     timestamped in the page (performance.now(), zero at navigation start) by a message
//     listener the init script adds to every WebSocket the page makes, ahead of the UI's own.
//     page.on('websocket') framereceived sees the same frame a few ms later in this process
//     (CDP event delivery); it tells whether a socket was opened, and its time, mapped onto
//     the page's clock by a calibration round trip, stands in for a socket the page hook
//     cannot see (counted in the notes).
//   - interactive chat: navigation start to the first moment the chat composer is in the DOM,
//     enabled, not read-only and rendered, recorded inside the page (an init script with a
//     MutationObserver on the document, timestamped with performance.now()). The composer
//     is `.agent-chat__composer-combobox > textarea` in the real UI (its chat view, the
//     default route /chat/<agent>; the same combobox class on the new-session page holds a
//     textarea.new-session-page__message, which is excluded) and `textarea#chat-input` in
//     clawgate's own UI.
//   - memory: VmRSS summed over the gateway's process tree (the real gateway runs helper
//     processes, its spawn broker in a process group of its own) when the load is done.
// A load is done once the composer is interactive, none of the page's requests is waiting for
// its answer and no network event (page or worker) came for BENCH_UI_QUIET_MS (1000); a page
// that opened no WebSocket within 3 s of its load event is done then (connect and
// interactive read n/a), one that connected but shows no composer BENCH_UI_COMPOSER_WAIT_MS
// (30000) after hello-ok too (interactive n/a); any load is cut at BENCH_UI_TIMEOUT_MS
// (60000), counted in the notes (the figures it reached still count). Nothing is asserted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn } from 'node:child_process';
import { treeRssKiB } from './proc-tree.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.CLAWGATE_BIN ??= path.join(root, process.env.BUILD || 'build', 'clawgate');
const { startGateway, freePort, httpRequest, sleep } = await import('../tests/integration/lib/gateway.mjs');
const { OPENCLAW_BIN, PEER_DIR, PEER_NODE_BIN_DIR, peerRequire } = await import('../tests/integration/lib/peer.mjs');
const { startFakeLlm } = await import('../tests/integration/lib/fake-llm.mjs');

const RUNS = Number(process.env.BENCH_UI_RUNS || 5);
const WARMUP = Number(process.env.BENCH_UI_WARMUP || 1);
const QUIET_MS = Number(process.env.BENCH_UI_QUIET_MS || 1000);
const TIMEOUT_MS = Number(process.env.BENCH_UI_TIMEOUT_MS || 60000);
const NO_SOCKET_MS = 3000;
const COMPOSER_WAIT_MS = Number(process.env.BENCH_UI_COMPOSER_WAIT_MS || 30000);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const REAL_UI = path.join(PEER_DIR, 'node_modules', 'openclaw', 'dist', 'control-ui');
const OUT = process.env.OUT || path.join(root, 'bench', 'results', 'ui.md');
const COMMAND = process.env.BENCH_UI_COMMAND || 'bench/ui.sh';
const playwright = peerRequire('playwright-core');

/** The chat composer of each UI, checked inside the page (see the top of the file). */
const COMPOSERS = {
  real: '.agent-chat__composer-combobox > textarea:not(.new-session-page__message)',
  own: 'textarea#chat-input',
};

/** Runs in the page before its scripts: records on the page's clock when the WebSocket
 * hello-ok arrives (a listener added as each socket is made, so it runs before the UI's own
 * handlers) and when the composer (SELECTOR) first takes input. */
function pageWatch(selector) {
  const bench = { helloAt: null, interactiveAt: null };
  window.__uiBench = bench;
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (bench.helloAt !== null || typeof e.data !== 'string' || !e.data.includes('hello-ok')) return;
        const at = performance.now();
        try {
          const f = JSON.parse(e.data);
          if (f.type === 'res' && f.payload?.type === 'hello-ok') bench.helloAt = at;
        } catch { /* not JSON */ }
      });
    }
  };
  const ready = () => {
    for (const el of document.querySelectorAll(selector)) {
      if (!el.disabled && !el.readOnly && el.getClientRects().length > 0) return true;
    }
    return false;
  };
  const check = () => {
    if (bench.interactiveAt !== null || !ready()) return;
    bench.interactiveAt = performance.now();
    observer.disconnect();
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['disabled', 'readonly', 'class', 'style', 'hidden'] });
  // A stylesheet arriving can show the composer without a DOM change: look each frame too.
  const frame = () => { check(); if (bench.interactiveAt === null) requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
}

const median = (xs) => {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
  if (!s.length) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = (xs) => {
  const s = xs.filter((x) => x !== null);
  return s.length ? { median: median(s), min: Math.min(...s), max: Math.max(...s), n: s.length } : null;
};


/** One load of url in a fresh context; the figures of the top of the file. */
async function measureLoad(browser, url, composer, gatewayPid) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.addInitScript(pageWatch, composer);
    const cdp = await context.newCDPSession(page);
    const requests = new Map(); // CDP requestId -> {url, wire, body, answered, done}
    let lastNetworkAt = performance.now();
    cdp.on('Network.requestWillBeSent', ({ requestId, request }) => {
      lastNetworkAt = performance.now();
      if (request.url.startsWith('data:') || requests.has(requestId)) return;
      requests.set(requestId, { url: request.url, wire: 0, body: 0, answered: false, done: false });
    });
    cdp.on('Network.responseReceived', ({ requestId, response }) => {
      lastNetworkAt = performance.now();
      const r = requests.get(requestId);
      if (r) { r.answered = true; r.wire = response.encodedDataLength ?? 0; }
    });
    cdp.on('Network.dataReceived', ({ requestId, dataLength, encodedDataLength }) => {
      lastNetworkAt = performance.now();
      const r = requests.get(requestId);
      if (r) { r.body += dataLength; if (!r.done) r.wire += encodedDataLength ?? 0; }
    });
    const finish = ({ requestId, encodedDataLength }) => {
      lastNetworkAt = performance.now();
      const r = requests.get(requestId);
      if (r) { r.wire = encodedDataLength ?? r.wire; r.done = true; }
    };
    cdp.on('Network.loadingFinished', finish);
    cdp.on('Network.loadingFailed', ({ requestId }) => finish({ requestId }));
    await cdp.send('Network.enable');
    // What the service worker fetches for the page (the real UI's takes control during the
    // first load and serves later requests through fetch()): playwright reports its network
    // requests on the context; the page sees those responses as fromServiceWorker, 0 bytes on
    // the wire.
    const workerFetches = new Map(); // playwright Request -> {url, wire, answered, done}
    context.on('request', (req) => {
      if (!req.serviceWorker()) return;
      lastNetworkAt = performance.now();
      workerFetches.set(req, { url: req.url(), wire: 0, answered: false, done: false });
    });
    context.on('response', (res) => {
      const f = workerFetches.get(res.request());
      if (f) { lastNetworkAt = performance.now(); f.answered = true; }
    });
    context.on('requestfailed', (req) => {
      const f = workerFetches.get(req);
      if (f) { lastNetworkAt = performance.now(); f.done = true; }
    });
    context.on('requestfinished', async (req) => {
      const f = workerFetches.get(req);
      if (!f) return;
      lastNetworkAt = performance.now();
      const sizes = await req.sizes().catch(() => null);
      if (sizes) f.wire = sizes.responseHeadersSize + sizes.responseBodySize;
      f.done = true;
    });

    // Whether the page opened a WebSocket, and the hello-ok as playwright reports it: the
    // fallback for a socket the page hook does not see (one opened in a worker).
    let socketOpened = false;
    let helloSeenAt = null; // this process's performance.now()
    page.on('websocket', (ws) => {
      socketOpened = true;
      ws.on('framereceived', ({ payload }) => {
        if (helloSeenAt !== null || typeof payload !== 'string' || !payload.includes('hello-ok')) return;
        const at = performance.now();
        try {
          const f = JSON.parse(payload);
          if (f.type === 'res' && f.payload?.type === 'hello-ok') helloSeenAt = at;
        } catch { /* not JSON */ }
      });
    });

    const start = performance.now();
    let loadedAt = null;
    page.once('load', () => { loadedAt = performance.now(); });
    const response = await page.goto(url, { waitUntil: 'commit', timeout: TIMEOUT_MS });
    let timedOut = false;
    for (;;) {
      const now = performance.now();
      if (now - start > TIMEOUT_MS) {
        timedOut = true;
        const waiting = [...requests.values()].filter((r) => !r.answered && !r.done).map((r) => r.url);
        process.stderr.write(`ui bench: ${url}: cut at ${TIMEOUT_MS} ms; unanswered requests: ${JSON.stringify(waiting)}\n`);
        break;
      }
      // Only the page's own requests count as in flight: one the worker answers waits for the
      // worker's fetch anyway, and playwright can miss the answer to the worker's fetch of its
      // own script.
      const inFlight = [...requests.values()].some((r) => !r.answered && !r.done);
      const quiet = !inFlight && now - lastNetworkAt >= QUIET_MS;
      if (loadedAt !== null && !socketOpened && now - loadedAt >= NO_SOCKET_MS && quiet) break;
      if (helloSeenAt !== null && now - helloSeenAt >= COMPOSER_WAIT_MS && quiet) break;
      if (quiet && loadedAt !== null && await page.evaluate(() => (window.__uiBench?.interactiveAt ?? null) !== null).catch(() => false)) break;
      await sleep(100);
    }
    const rss = treeRssKiB(gatewayPid).kib;

    const inPage = await page.evaluate(() => ({
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
      hello: window.__uiBench?.helloAt ?? null,
      interactive: window.__uiBench?.interactiveAt ?? null,
    }));
    let connect = inPage.hello;
    let connectFromEvent = false;
    if (connect === null && helloSeenAt !== null) {
      // Onto the page's clock by the round trip with the least delay; playwright's event
      // comes a little after the page got the frame.
      let best = null;
      for (let i = 0; i < 5; i++) {
        const a = performance.now();
        const p = await page.evaluate(() => performance.now());
        const b = performance.now();
        if (!best || b - a < best.rtt) best = { rtt: b - a, offset: p - (a + b) / 2 };
      }
      connect = helloSeenAt + best.offset;
      connectFromEvent = true;
    }
    const all = [...requests.values()];
    return {
      status: response?.status() ?? null,
      requests: all.length,
      wire: all.reduce((s, r) => s + r.wire, 0) + [...workerFetches.values()].reduce((s, r) => s + r.wire, 0),
      workerFetches: workerFetches.size,
      body: all.reduce((s, r) => s + r.body, 0),
      fcp: inPage.fcp,
      connect,
      connectFromEvent,
      interactive: inPage.interactive,
      rss,
      socketOpened,
      timedOut,
      noComposer: connect !== null && inPage.interactive === null && !timedOut,
    };
  } finally {
    await context.close();
  }
}

/** The figures of a setup's measured loads. */
function summarize(setup) {
  const { loads } = setup;
  const pick = (k) => summary(loads.map((l) => l[k]));
  return {
    name: setup.name, composer: setup.composer, loads, errors: setup.errors,
    wire: pick('wire'), body: pick('body'), requests: pick('requests'), workerFetches: pick('workerFetches'), fcp: pick('fcp'),
    connect: pick('connect'), interactive: pick('interactive'), rss: pick('rss'),
    timeouts: loads.filter((l) => l.timedOut).length,
    noSocket: loads.filter((l) => !l.socketOpened).length,
    connectFromEvent: loads.filter((l) => l.connectFromEvent).length,
    noComposer: loads.filter((l) => l.noComposer).length,
  };
}

/** The model provider every gateway is configured with (without a model the real UI opens
 * its first-run model setup instead of the chat). No chat is sent. */
const llm = await startFakeLlm({ apiKey: 'sk-bench' });
const PROVIDER = { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-bench', api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] };

/** A setup: the gateway under test, started; stop() ends it. */
async function startClawgate(name, controlUi, composer) {
  const config = { models: { providers: { bench: PROVIDER } }, agents: { defaults: { model: 'bench/m1' } } };
  if (controlUi) config.gateway = { controlUi };
  const gw = await startGateway({ config });
  return { name, composer, url: `http://127.0.0.1:${gw.port}/#token=${gw.token}`, pid: gw.pid, stop: () => gw.stop() };
}

/** SIGTERM to a process tree (taken before signalling: the spawn broker leaves the group),
 * SIGKILL to what is left after 10 s. */
async function stopTree(pid) {
  const { pids } = treeRssKiB(pid);
  for (const p of pids) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
  const alive = () => pids.filter((p) => { try { process.kill(p, 0); return true; } catch { return false; } });
  for (let i = 0; i < 100 && alive().length; i++) await sleep(100);
  for (const p of alive()) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
}

/** The real gateway with a throw-away HOME, serving its own UI, 3 s after /readyz. */
async function startOpenClaw() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-bench-ui-peer-'));
  fs.mkdirSync(path.join(home, '.openclaw'));
  fs.writeFileSync(path.join(home, '.openclaw', 'openclaw.json'), JSON.stringify({
    models: { providers: { bench: PROVIDER } }, agents: { defaults: { model: { primary: 'bench/m1' } } },
  }));
  const port = await freePort();
  const token = 'tok-bench-ui-' + Date.now().toString(36);
  const p = spawn(OPENCLAW_BIN, ['gateway', 'run', '--allow-unconfigured', '--port', String(port), '--auth', 'token', '--token', token, '--bind', 'loopback'], {
    env: { PATH: `${PEER_NODE_BIN_DIR}:${process.env.PATH}`, HOME: home, TMPDIR: os.tmpdir(), NO_COLOR: '1' },
    detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout.on('data', (d) => { out = (out + d).slice(-20000); });
  p.stderr.on('data', (d) => { out = (out + d).slice(-20000); });
  const stop = async () => {
    await stopTree(p.pid);
    fs.rmSync(home, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i++) {
      try { if ((await httpRequest(port, '/readyz', { timeoutMs: 1000 })).status === 200) break; } catch { /* not yet */ }
      if (i > 1200 || p.exitCode !== null) throw new Error(`the real gateway did not come up:\n${out.slice(-3000)}`);
      await sleep(100);
    }
    await sleep(3000); // it keeps starting things after it reports ready
  } catch (e) {
    await stop();
    throw e;
  }
  return { name: 'OpenClaw', composer: COMPOSERS.real, url: `http://127.0.0.1:${port}/#token=${token}`, pid: p.pid, stop };
}

const running = [];
const failures = [];
const startSetup = async (label, fn) => {
  try {
    running.push({ ...(await fn()), loads: [], errors: [] });
  } catch (e) {
    failures.push(`${label} did not start: ${e.message.split('\n')[0]}`);
  }
};
const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
try {
  if (process.env.SKIP_OPENCLAW === '1' || !fs.existsSync(OPENCLAW_BIN)) failures.push('OpenClaw: skipped (the reference peer is not installed, or SKIP_OPENCLAW=1)');
  else await startSetup('OpenClaw', startOpenClaw);
  await startSetup('clawgate + real UI', () => startClawgate('clawgate + real UI', { root: REAL_UI }, COMPOSERS.real));
  await startSetup('clawgate + own UI', () => startClawgate('clawgate + own UI', null, COMPOSERS.own));
  // Round by round, one load of each setup per round, so that what else the machine does
  // meanwhile falls on all of them alike.
  for (let round = 0; round < WARMUP + RUNS; round++) {
    for (const s of running) {
      try {
        const r = await measureLoad(browser, s.url, s.composer, s.pid);
        if (round < WARMUP) continue;
        process.stderr.write(`ui bench: ${s.name} run ${round - WARMUP + 1}: ${JSON.stringify(r)}\n`);
        s.loads.push(r);
      } catch (e) {
        s.errors.push(e.message.split('\n')[0]);
      }
    }
  }
} finally {
  await browser.close();
  for (const s of running) await s.stop().catch((e) => failures.push(`${s.name} stop: ${e.message.split('\n')[0]}`));
  await llm.close();
}
const setups = running.map(summarize);

const kb = (b) => (b / 1024).toFixed(b < 10240 ? 1 : 0);
const ms = (x) => x.toFixed(0);
const mib = (k) => (k / 1024).toFixed(1);
const cell = (s, f) => (s ? `${f(s.median)} (${f(s.min)}–${f(s.max)})${s.n < RUNS ? ` [${s.n}/${RUNS}]` : ''}` : 'n/a');
const rows = [
  ['UI size on the wire, KiB', 'wire', kb],
  ['UI size uncompressed, KiB', 'body', kb],
  ['HTTP requests by the page', 'requests', (x) => String(x)],
  ['network fetches by its service worker', 'workerFetches', (x) => String(x)],
  ['first contentful paint, ms', 'fcp', ms],
  ['connect (hello-ok), ms', 'connect', ms],
  ['interactive chat composer, ms', 'interactive', ms],
  ['gateway RSS after the load, MiB', 'rss', mib],
];
const chromium = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const peerVersion = (() => {
  try { return JSON.parse(fs.readFileSync(path.join(PEER_DIR, 'node_modules', 'openclaw', 'package.json'), 'utf8')).version; } catch { return '?'; }
})();
const commit = (() => {
  try { return execFileSync('git', ['-C', root, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim(); } catch { return '?'; }
})();
const cpu = os.cpus()[0]?.model?.trim() || 'unknown CPU';
const notes = [];
for (const s of setups) {
  const of = (n, what) => `${n} of ${RUNS} loads ${what}`;
  if (s.noSocket) notes.push(`- ${s.name}: ${of(s.noSocket, 'opened no WebSocket (connect and interactive n/a: the page served has no client)')}.`);
  if (s.connectFromEvent) notes.push(`- ${s.name}: ${of(s.connectFromEvent, 'had their hello-ok timed from playwright\'s framereceived (the page hook did not see the socket)')}.`);
  if (s.noComposer) notes.push(`- ${s.name}: ${of(s.noComposer, `connected but showed no chat composer (\`${s.composer}\`) within ${COMPOSER_WAIT_MS / 1000} s of hello-ok: interactive n/a`)}.`);
  if (s.errors.length) notes.push(`- ${s.name}: ${s.errors.length} loads failed (left out): ${s.errors[0]}`);
  if (s.timeouts) notes.push(`- ${s.name}: ${of(s.timeouts, `cut at ${TIMEOUT_MS / 1000} s (the figures they reached count)`)}.`);
}
notes.push(...failures.map((f) => `- ${f}`));
const section = [
  '<!-- ui-side-by-side:begin (written by bench/ui.mjs) -->',
  '## Side by side',
  '',
  `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end; ${chromium}, headless; OpenClaw ${peerVersion}; clawgate ${commit}.`,
  '',
  `Command: \`${COMMAND}\` (BENCH_UI_RUNS=${RUNS}, BENCH_UI_WARMUP=${WARMUP}). Median (min–max) of ${RUNS} loads per setup, each in a fresh browser context after ${WARMUP} uncounted ${WARMUP === 1 ? 'load' : 'loads'}; times from navigation start. The three gateways run side by side, started fresh for this run, and are loaded round by round (one load of each per round, in the order of the columns), so that whatever else the machine does meanwhile falls on all alike.`,
  '',
  `| ${['', ...setups.map((s) => s.name)].join(' | ')} |`,
  `|---|${setups.map(() => '---:').join('|')}|`,
  ...rows.map(([label, k, f]) => `| ${label} | ${setups.map((s) => cell(s[k], f)).join(' | ')} |`),
  '',
  'Setups: **OpenClaw**: the real gateway (`openclaw gateway run --allow-unconfigured --auth token --bind loopback`, throw-away HOME) serving its own Control UI; **clawgate + real UI**: `clawgate run` with `gateway.controlUi.root` = the peer\'s `openclaw/dist/control-ui`; **clawgate + own UI**: `clawgate run` without `gateway.controlUi`, its embedded UI. All at `http://127.0.0.1:P/#token=T`, all configured with the same model provider (`bench/m1`, a fake OpenAI-compatible server in the bench process; no chat is sent): without a model the real UI opens its first-run model setup instead of the chat.',
  '',
  `How: size from the page's DevTools Network events until the load is done (bytes on the wire include response headers; the real UI's service worker takes over during the load and fetches later files itself: its fetches are counted in the wire figure, the page sees those answers as 0 bytes; the WebSocket is not counted); first contentful paint from the paint timing entry; connect = the WebSocket message with the \`hello-ok\` response, timestamped in the page by a listener added to each socket ahead of the UI's own (playwright's \`framereceived\` comes a few ms later); interactive = the chat composer in the DOM, enabled, not read-only, rendered (\`${COMPOSERS.real}\` in the real UI, \`${COMPOSERS.own}\` in clawgate's own), seen by a MutationObserver (and each animation frame) in the page; RSS = VmRSS summed over the gateway's process tree when the load is done (the real gateway's includes its helper processes). A load is done when the composer is interactive and the network has been quiet ${QUIET_MS} ms (no page request waiting for its answer, no network event), or ${NO_SOCKET_MS / 1000} s after the load event when the page opened no WebSocket, or ${COMPOSER_WAIT_MS / 1000} s after hello-ok when no composer came; at most ${TIMEOUT_MS / 1000} s.`,
  '',
  ...notes,
  ...(notes.length ? [''] : []),
  '<!-- ui-side-by-side:end -->',
].join('\n');

// Into OUT: replace an earlier side-by-side section, or put it right under the title.
let doc = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '# Control UI figures (issue 11)\n';
const begin = doc.indexOf('<!-- ui-side-by-side:begin');
const endMark = '<!-- ui-side-by-side:end -->';
if (begin >= 0 && doc.indexOf(endMark, begin) >= 0) {
  doc = doc.slice(0, begin) + section + doc.slice(doc.indexOf(endMark, begin) + endMark.length);
} else {
  const titleEnd = doc.startsWith('# ') ? doc.indexOf('\n') + 1 : 0;
  doc = `${doc.slice(0, titleEnd)}\n${section}\n\n---\n\n${doc.slice(titleEnd).replace(/^\n+/, '')}`;
}
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, doc);
process.stdout.write(section + '\n');
process.stderr.write(`written to ${OUT}\n`);
