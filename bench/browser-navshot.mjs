// Browser figure (issue 10): how long browser.request POST /navigate + POST /screenshot
// take through clawgate, in real Chromium, on a small local page.
//
//   make && node bench/browser-navshot.mjs            # writes bench/results/browser.md
//
// clawgate (build/clawgate, or $BUILD/clawgate) with a throw-away state dir, then the real
// OpenClaw gateway (the reference peer, ~/.cache/clawgate-peer; skipped when absent or
// with BENCH_PEER=0) with a throw-away HOME whose config points its browser at the same
// /usr/bin/chromium (headless, noSandbox), one gateway at a time. Each gets one operator
// connection and the same local HTTP page on 127.0.0.1 (both refuse private addresses by
// default: browser.ssrfPolicy.dangerouslyAllowPrivateNetwork is set for both). First the cold call (the navigate that
// launches Chromium), then BENCH_WARMUP (3) warm-up rounds, then BENCH_ITERATIONS (20)
// measured rounds of navigate (to a fresh ?i= URL; both answer once the page loaded)
// followed by a viewport PNG screenshot (both write the file before answering). Times
// are client-side round trips of browser.request.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn } from 'node:child_process';
import { treeRssKiB } from './proc-tree.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.CLAWGATE_BIN ??= path.join(root, process.env.BUILD || 'build', 'clawgate');
const { startGateway, freePort, httpRequest, sleep } = await import('../tests/integration/lib/gateway.mjs');
const { connectClient, GatewayClient } = await import('../tests/integration/lib/client.mjs');
const { newIdentity, deviceForParams } = await import('../tests/integration/lib/device.mjs');
const { OPENCLAW_BIN, PEER_NODE_BIN_DIR } = await import('../tests/integration/lib/peer.mjs');
const { startTestSite, pngSize } = await import('../tests/integration/lib/browser-page.mjs');

const N = Number(process.env.BENCH_ITERATIONS || 20);
const WARMUP = Number(process.env.BENCH_WARMUP || 3);

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: pct(s, 50), p95: pct(s, 95), min: s[0], max: s.at(-1) };
};
const fmt = (ms) => ms.toFixed(1);



/** The rounds against one gateway through `request(method, path, body)`. A failed
 * screenshot (with body.timeoutMs SHOT_TIMEOUT_MS) is counted, its round left out of the
 * screenshot and total figures. */
const SHOT_TIMEOUT_MS = 10000;
async function measure(request) {
  const call = async (method, p, body) => {
    const res = await request(method, p, body);
    if (!res.ok) throw new Error(`${method} ${p}: ${JSON.stringify(res.error)}`);
    return res.payload;
  };
  const screenshot = () => call('POST', '/screenshot', { timeoutMs: SHOT_TIMEOUT_MS });
  const t = performance.now();
  await call('POST', '/navigate', { url: site.url('/') });
  const cold = performance.now() - t;
  for (let i = 0; i < WARMUP; i++) {
    await call('POST', '/navigate', { url: site.url(`/?w=${i}`) });
    await screenshot().catch(() => {});
  }
  const nav = [], shot = [], total = [];
  let size = null, shotFailures = 0, shotError = null;
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await call('POST', '/navigate', { url: site.url(`/?i=${i}`) });
    const t1 = performance.now();
    nav.push(t1 - t0);
    let s;
    try {
      s = await screenshot();
    } catch (e) {
      shotFailures++;
      shotError = e.message;
      continue;
    }
    const t2 = performance.now();
    size = pngSize(fs.readFileSync(s.path));
    shot.push(t2 - t1);
    total.push(t2 - t0);
  }
  const status = await call('GET', '/');
  return {
    cold, nav: stats(nav), shot: shot.length ? stats(shot) : null, total: total.length ? stats(total) : null,
    size, shotFailures, shotError, browserRss: treeRssKiB(status.pid).kib,
  };
}

async function clawgateRun() {
  const gw = await startGateway({ config: { browser: { ssrfPolicy: { dangerouslyAllowPrivateNetwork: true } } } });
  const op = await connectClient(gw, { params: { scopes: ['operator.write'] } });
  try {
    const r = await measure((method, p, body) => op.request('browser.request', { method, path: p, body }, { timeoutMs: 60000 }));
    r.gatewayRss = gw.rssKiB();
    return r;
  } finally {
    op.close();
    await gw.stop();
  }
}

/** The real gateway, its browser on the same Chromium; null when the peer is not installed. */
async function peerRun() {
  if (process.env.BENCH_PEER === '0' || !fs.existsSync(OPENCLAW_BIN)) return null;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-bench-peer-'));
  fs.mkdirSync(path.join(home, '.openclaw'));
  fs.writeFileSync(path.join(home, '.openclaw', 'openclaw.json'), JSON.stringify({
    browser: { enabled: true, executablePath: '/usr/bin/chromium', headless: true, noSandbox: true, ssrfPolicy: { dangerouslyAllowPrivateNetwork: true } },
  }));
  const port = await freePort();
  const token = 'tok-bench-browser';
  const p = spawn(OPENCLAW_BIN, ['gateway', 'run', '--allow-unconfigured', '--port', String(port), '--auth', 'token', '--token', token, '--bind', 'loopback'], {
    env: { PATH: `${PEER_NODE_BIN_DIR}:${process.env.PATH}`, HOME: home, TMPDIR: os.tmpdir(), NO_COLOR: '1' },
    detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { out += d; });
  let c;
  try {
    for (let i = 0; ; i++) {
      try { if ((await httpRequest(port, '/healthz', { timeoutMs: 1000 })).status === 200) break; } catch { /* not yet */ }
      if (i > 1200 || p.exitCode !== null) throw new Error(`the real gateway did not come up:\n${out.slice(-3000)}`);
      await sleep(100);
    }
    // It answers "gateway starting" for a while after /healthz: retry the connect.
    const identity = newIdentity();
    for (let i = 0; ; i++) {
      try {
        c = await GatewayClient.open(`ws://127.0.0.1:${port}`, { token, recordViolations: true, timeoutMs: 20000 });
      } catch (e) {
        if (i > 120) throw e;
        await sleep(500);
        continue;
      }
      const params = { minProtocol: 4, maxProtocol: 4, client: { id: 'cli', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'cli' }, role: 'operator', scopes: ['operator.admin'], caps: [], auth: { token } };
      params.device = deviceForParams(identity, params, { nonce: c.challenge.nonce, signedAt: c.challenge.ts });
      const res = await c.connect(params, { replace: true });
      if (res.ok) break;
      c.terminate();
      if (i > 120) throw new Error(`real gateway connect: ${JSON.stringify(res.error)}`);
      await sleep(500);
    }
    const r = await measure((method, pth, body) => c.request('browser.request', { method, path: pth, body }, { timeoutMs: 90000 }));
    r.gatewayRss = treeRssKiB(p.pid).kib - r.browserRss;
    return r;
  } finally {
    c?.terminate();
    try { process.kill(-p.pid, 'SIGTERM'); } catch { /* gone */ }
    await sleep(3000);
    try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ }
    fs.rmSync(home, { recursive: true, force: true });
  }
}

const site = await startTestSite();
try {
  const ours = await clawgateRun();
  let peer = null, peerError = null;
  try {
    peer = await peerRun();
  } catch (e) {
    peerError = e.message.split('\n')[0];
  }
  const chromium = execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const col = (r, f) => (r ? f(r) : 'n/a');
  const ratio = (a, b) => (a && b ? `${(b / a).toFixed(1)}x` : '');
  const lines = [
    '# Browser: navigate + screenshot through browser.request',
    '',
    `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ${os.cpus().length} cores, Linux ${os.release()}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end; ${chromium}, headless, both gateways on the same binary.`,
    `Command: \`make && node bench/browser-navshot.mjs\` (BENCH_ITERATIONS=${N}, BENCH_WARMUP=${WARMUP}); clawgate first, then the real gateway (OpenClaw 2026.9.6, its browser plugin driving Chromium over CDP with Playwright), never both at once.`,
    `One operator connection; a local HTTP page (heading, paragraphs, button, input, link); ${N} rounds of POST /navigate to a new URL, then POST /screenshot (viewport PNG, ${ours.size.width}x${ours.size.height} from clawgate${peer?.size ? `, ${peer.size.width}x${peer.size.height} from OpenClaw` : ''}).`,
    '',
    '| ms (client round trip) | clawgate median | clawgate p95 | OpenClaw median | OpenClaw p95 | median ratio |',
    '|---|---:|---:|---:|---:|---:|',
    ...[['navigate + screenshot', 'total'], ['  navigate (answered after load)', 'nav'], ['  screenshot (PNG on disk)', 'shot']].map(([name, k]) =>
      `| ${name} | ${fmt(ours[k].median)} | ${fmt(ours[k].p95)} | ${col(peer?.[k], (r) => fmt(r.median))} | ${col(peer?.[k], (r) => fmt(r.p95))} | ${ratio(ours[k].median, peer?.[k]?.median)} |`),
    `| cold: first POST /navigate, launching Chromium | ${fmt(ours.cold)} | | ${col(peer, (r) => fmt(r.cold))} | | ${ratio(ours.cold, peer?.cold)} |`,
    '',
    '| MiB after the run | clawgate | OpenClaw |',
    '|---|---:|---:|',
    `| gateway (RSS; OpenClaw: its process tree without the browser) | ${(ours.gatewayRss / 1024).toFixed(1)} | ${col(peer, (r) => (r.gatewayRss / 1024).toFixed(1))} |`,
    `| Chromium's process tree (sum of RSS) | ${(ours.browserRss / 1024).toFixed(1)} | ${col(peer, (r) => (r.browserRss / 1024).toFixed(1))} |`,
    '',
    ...(peerError ? [`The OpenClaw run failed: ${peerError}`, ''] : []),
    ...[['clawgate', ours], ['OpenClaw', peer]].filter(([, r]) => r?.shotFailures).map(([name, r]) =>
      `${name}: ${r.shotFailures} of ${N} screenshots failed (\`${r.shotError}\`); those rounds are left out of the screenshot and total rows.\n`),
    'min / max, clawgate navigate+screenshot: ' + `${fmt(ours.total.min)} / ${fmt(ours.total.max)}` + (peer?.total ? `; OpenClaw: ${fmt(peer.total.min)} / ${fmt(peer.total.max)}` : '') + '.',
    '',
  ];
  const text = lines.join('\n');
  process.stdout.write(text);
  fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench', 'results', 'browser.md'), text);
} finally {
  await site.close();
}
