// Browser figure (issue 10): how long browser.request POST /navigate + POST /screenshot
// take through clawgate, in real Chromium, on a small local page.
//
//   make && node bench/browser-navshot.mjs            # writes bench/results/browser.md
//
// One clawgate (build/clawgate, or $BUILD/clawgate) with a throw-away state dir, one
// operator connection, a local HTTP server with a small page. First the cold call (the
// navigate that launches Chromium), then BENCH_WARMUP (3) warm-up rounds, then
// BENCH_ITERATIONS (20) measured rounds of navigate (to a fresh ?i= URL, answered once
// the load event fired) followed by a viewport PNG screenshot (written to disk under
// DIR/browser/screenshots before the answer). Times are client-side round trips.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.CLAWGATE_BIN ??= path.join(root, process.env.BUILD || 'build', 'clawgate');
const { startGateway } = await import('../tests/integration/lib/gateway.mjs');
const { connectClient } = await import('../tests/integration/lib/client.mjs');
const { startTestSite, pngSize } = await import('../tests/integration/lib/browser-page.mjs');

const N = Number(process.env.BENCH_ITERATIONS || 20);
const WARMUP = Number(process.env.BENCH_WARMUP || 3);

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: pct(s, 50), p95: pct(s, 95), min: s[0], max: s.at(-1) };
};
const fmt = (ms) => ms.toFixed(1);

function treeRssKiB(pid) {
  // The browser's process group: Chromium and its renderers, GPU and utility processes.
  const out = execFileSync('ps', ['-o', 'rss=', '-g', String(pid)], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).reduce((a, l) => a + Number(l.trim()), 0);
}

const site = await startTestSite();
const gw = await startGateway({ config: {} });
const op = await connectClient(gw, { params: { scopes: ['operator.write'] } });
const call = async (method, p, body) => {
  const res = await op.request('browser.request', { method, path: p, body }, { timeoutMs: 60000 });
  if (!res.ok) throw new Error(`${method} ${p}: ${JSON.stringify(res.error)}`);
  return res.payload;
};

try {
  let t = performance.now();
  await call('POST', '/navigate', { url: site.url('/') });
  const cold = performance.now() - t;
  for (let i = 0; i < WARMUP; i++) {
    await call('POST', '/navigate', { url: site.url(`/?w=${i}`) });
    await call('POST', '/screenshot', {});
  }
  const nav = [], shot = [], total = [];
  let size;
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await call('POST', '/navigate', { url: site.url(`/?i=${i}`) });
    const t1 = performance.now();
    const s = await call('POST', '/screenshot', {});
    const t2 = performance.now();
    size = pngSize(fs.readFileSync(s.path));
    nav.push(t1 - t0);
    shot.push(t2 - t1);
    total.push(t2 - t0);
  }
  const status = await call('GET', '/');
  const gwRss = gw.rssKiB();
  const browserRss = treeRssKiB(status.pid);
  const chromium = execFileSync(status.executablePath, ['--version'], { encoding: 'utf8' }).trim();

  const rows = [
    ['navigate + screenshot', stats(total)],
    ['  navigate (answered after load)', stats(nav)],
    ['  screenshot (PNG written to disk)', stats(shot)],
  ];
  const lines = [
    '# Browser: navigate + screenshot through browser.request',
    '',
    `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ${os.cpus().length} cores, Linux ${os.release()}; ${chromium}, headless, over --remote-debugging-pipe.`,
    `Command: \`make && node bench/browser-navshot.mjs\` (BENCH_ITERATIONS=${N}, BENCH_WARMUP=${WARMUP}).`,
    `One operator connection; a local HTTP page (heading, paragraphs, button, input, link); ${N} rounds of POST /navigate to a new URL, then POST /screenshot (viewport ${size.width}x${size.height} PNG).`,
    '',
    '| ms | median | p95 | min | max |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(([name, s]) => `| ${name} | ${fmt(s.median)} | ${fmt(s.p95)} | ${fmt(s.min)} | ${fmt(s.max)} |`),
    '',
    `Cold start (first POST /navigate, launching Chromium): ${fmt(cold)} ms.`,
    `Memory after the run: clawgate ${(gwRss / 1024).toFixed(1)} MiB VmRSS; Chromium's process group ${(browserRss / 1024).toFixed(1)} MiB (sum of RSS, shared pages counted per process).`,
    '',
    'The real OpenClaw gateway drives its browser through Playwright (an optional dependency not installed with the reference peer here), so there is no side-by-side column.',
    '',
  ];
  const text = lines.join('\n');
  process.stdout.write(text);
  fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench', 'results', 'browser.md'), text);
} finally {
  op.close();
  await gw.stop();
  await site.close();
}
