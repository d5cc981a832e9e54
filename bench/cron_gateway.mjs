// Cron figures on a running clawgate (bench/cron.sh): VmRSS before and after adding
// 1,000 cron jobs over the WebSocket (a mix of expressions and zones), the time each
// cron.add took, then timer drift over BENCH_CRON_SECONDS (60): DRIFT_JOBS `every` jobs
// of 1 s (systemEvent, next-heartbeat: no model call) beside the 1,000, each `started`
// event's runAtMs against the due time in its runId ("cron:<id>:<dueMs>"), and the
// client's receive time against it. Prints a markdown fragment.
import { startGateway, sleep } from '../tests/integration/lib/gateway.mjs';
import { connectClient } from '../tests/integration/lib/client.mjs';

const JOBS = Number(process.env.BENCH_CRON_JOBS || 1000);
const SECONDS = Number(process.env.BENCH_CRON_SECONDS || 60);
const DRIFT_JOBS = Number(process.env.BENCH_CRON_DRIFT_JOBS || 10);
const exprs = ['0 9 * * *', '*/5 * * * *', '30 2 * * *', '0 0 1 * *', '0 9 * * MON-FRI', '15 */2 * * *',
  '0 0 29 2 *', '0 12 * * FRI#2', '0 9 * * 5L', '0 0 L * *', '5,35 8-18 * * *', '0 3 * * SUN'];
const zones = ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Sydney', 'Asia/Tokyo'];
const pct = (a, p) => a.slice().sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];

const gw = await startGateway({ config: {} });
try {
  const op = await connectClient(gw);
  await sleep(1000);
  const rss0 = gw.rssKiB();
  const addMs = [];
  for (let i = 0; i < JOBS; i++) {
    const t = performance.now();
    await op.call('cron.add', {
      name: `bench-${i}`, schedule: { kind: 'cron', expr: exprs[i % exprs.length], tz: zones[i % zones.length] },
      sessionTarget: 'main', wakeMode: 'next-heartbeat', payload: { kind: 'systemEvent', text: `bench ${i}` },
    });
    addMs.push(performance.now() - t);
  }
  await sleep(1000);
  const rss1 = gw.rssKiB();
  const status = await op.call('cron.status', {});

  const drift = [];
  const seen = [];
  op.ws.on('message', (buf) => {
    const f = JSON.parse(buf.toString());
    if (f.type !== 'event' || f.event !== 'cron' || f.payload.action !== 'started') return;
    const m = /^cron:[^:]+:(\d+)$/.exec(f.payload.runId || '');
    if (!m) return;
    drift.push(f.payload.runAtMs - Number(m[1]));
    seen.push(Date.now() - Number(m[1]));
  });
  for (let i = 0; i < DRIFT_JOBS; i++) {
    await op.call('cron.add', {
      name: `tick-${i}`, schedule: { kind: 'every', everyMs: 1000 }, sessionTarget: 'main', wakeMode: 'next-heartbeat',
      payload: { kind: 'systemEvent', text: 'tick' },
    });
  }
  await sleep(SECONDS * 1000);
  const rss2 = gw.rssKiB();
  op.close();
  console.log(`| jobs | ${status.jobs} cron jobs (+${DRIFT_JOBS} every-1s jobs for the drift rows) |`);
  console.log(`| VmRSS before / after 1,000 jobs | ${rss0} KiB / ${rss1} KiB: ${((rss1 - rss0) * 1024 / JOBS).toFixed(0)} B per job |`);
  console.log(`| VmRSS after ${SECONDS} s of runs | ${rss2} KiB |`);
  console.log(`| cron.add round trip (one at a time, saved before the answer) | p50 ${pct(addMs, 0.5).toFixed(2)} ms, p99 ${pct(addMs, 0.99).toFixed(2)} ms |`);
  console.log(`| timer drift, runAtMs - due (${drift.length} runs over ${SECONDS} s) | p50 ${pct(drift, 0.5)} ms, p99 ${pct(drift, 0.99)} ms, max ${Math.max(...drift)} ms, min ${Math.min(...drift)} ms |`);
  console.log(`| due to the client's \`started\` event | p50 ${pct(seen, 0.5)} ms, p99 ${pct(seen, 0.99)} ms, max ${Math.max(...seen)} ms |`);
} finally {
  await gw.stop();
}
