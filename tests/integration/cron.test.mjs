// Cron (issue 10): jobs in the state store with at / every / cron schedules, systemEvent
// and agentTurn payloads, cron.* methods and `cron` events shaped as the real gateway's
// (../shared/OBSERVED.md "Cron"), one run of a job at a time, missed runs caught up once
// across a restart and a clock jump (faked through CLAWGATE_TEST_CLOCK_FILE + SIGUSR2).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connectClient } from './lib/client.mjs';
import { startGateway, makeStateDir, eventually, sleep } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { validate } from './lib/schema.mjs';

const llmConfig = (llm) => ({
  models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] } } },
  agents: { defaults: { model: 'fake/m1' } },
});

// Params as a strict client sends them: each validates against CronAddParams.
const systemJob = (over = {}) => ({
  name: 'sys', schedule: { kind: 'every', everyMs: 3600000 }, sessionTarget: 'main', wakeMode: 'now',
  payload: { kind: 'systemEvent', text: 'cron system line' }, ...over,
});
const agentJob = (over = {}) => ({
  name: 'turn', schedule: { kind: 'cron', expr: '0 9 * * *', tz: 'Europe/Berlin' }, sessionTarget: 'isolated', wakeMode: 'now',
  payload: { kind: 'agentTurn', message: 'write the daily report' }, ...over,
});

async function add(op, params) {
  if (!('catchUp' in params)) validate('CronAddParams', params, 'cron.add params');
  const job = await op.call('cron.add', params);
  validate('CronJob', job, 'cron.add result');
  return job;
}

function checkList(payload) {
  for (const j of payload.jobs) validate('CronJob', j, 'cron.list job');
  for (const k of ['total', 'offset', 'limit', 'hasMore']) assert.ok(k in payload, k);
  return payload;
}

function checkRuns(payload) {
  for (const e of payload.entries) validate('CronRunLogEntry', e, 'cron.runs entry');
  for (const k of ['total', 'offset', 'limit', 'hasMore']) assert.ok(k in payload, k);
  return payload;
}

const cronEvent = (op, action, jobId, extra = () => true, timeoutMs = 10000) =>
  op.waitEvent('cron', { timeoutMs, predicate: (e) => e.payload.jobId === jobId && e.payload.action === action && extra(e.payload) });

describe('cron methods', () => {
  let gw, llm, op, reader;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({ config: llmConfig(llm) });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    reader = await connectClient(gw, { params: { scopes: ['operator.read'] } });
  });
  after(async () => {
    op?.close();
    reader?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('cron.add, get, list, status, update, remove with their events, all CronJob-shaped', async () => {
    const job = await add(op, systemJob({ name: 'crud-every' }));
    assert.equal(job.enabled, true);
    assert.equal(job.schedule.kind, 'every');
    assert.equal(typeof job.schedule.anchorMs, 'number');
    assert.equal(job.state.nextRunAtMs, job.schedule.anchorMs + 3600000);
    assert.equal(job.nextRunAtMs, job.state.nextRunAtMs);
    const added = await cronEvent(reader, 'added', job.id);
    assert.equal(added.payload.job.id, job.id);
    assert.equal(added.payload.nextRunAtMs, job.state.nextRunAtMs);

    const got = await reader.call('cron.get', { id: job.id });
    validate('CronJob', got, 'cron.get');
    assert.deepEqual(got, job);
    assert.deepEqual(await reader.call('cron.get', { jobId: job.id }), job);

    const list = checkList(await reader.call('cron.list', {}));
    assert.ok(list.jobs.some((j) => j.id === job.id));
    const st = await reader.call('cron.status', {});
    assert.equal(st.enabled, true);
    assert.equal(st.storage, 'sqlite');
    assert.equal(st.jobs, list.total);
    assert.ok(st.nextWakeAtMs <= job.state.nextRunAtMs);

    const cronJob = await add(op, agentJob({ name: 'crud-cron', schedule: { kind: 'cron', expr: '0 30 9 * * 1-5', tz: 'europe/berlin' } }));
    const when = new Date(cronJob.state.nextRunAtMs);
    assert.equal(when.getUTCSeconds(), 0);
    assert.equal(when.getUTCMinutes(), 30);
    assert.ok([7, 8].includes(when.getUTCHours()), `09:30 Berlin is 07:30 or 08:30 UTC, got ${when.toISOString()}`);

    const upd = await op.call('cron.update', { id: job.id, patch: { name: 'renamed', enabled: false } });
    validate('CronJob', upd, 'cron.update');
    assert.equal(upd.name, 'renamed');
    assert.equal(upd.enabled, false);
    assert.equal(upd.state.nextRunAtMs, undefined);
    await cronEvent(reader, 'updated', job.id);
    const hidden = checkList(await reader.call('cron.list', {}));
    assert.ok(!hidden.jobs.some((j) => j.id === job.id), 'disabled jobs are left out by default');
    const shown = checkList(await reader.call('cron.list', { includeDisabled: true, query: 'RENAMED' }));
    assert.deepEqual(shown.jobs.map((j) => j.id), [job.id]);

    const re = await op.call('cron.update', { id: job.id, patch: { enabled: true, schedule: { kind: 'every', everyMs: 60000, anchorMs: 0 } } });
    assert.equal(re.state.nextRunAtMs % 60000, 0);
    assert.ok(re.state.nextRunAtMs > Date.now() - 1000 && re.state.nextRunAtMs <= Date.now() + 61000);

    assert.deepEqual(await op.call('cron.remove', { id: job.id }), { ok: true, removed: true });
    await cronEvent(reader, 'removed', job.id);
    await op.call('cron.remove', { jobId: cronJob.id });
    const after = await reader.call('cron.status', {});
    assert.equal(after.jobs, st.jobs - 1);
  });

  test('an unknown id: INVALID_REQUEST "Automation not found" with details CRON_JOB_NOT_FOUND', async () => {
    const calls = [
      ['cron.get', { id: 'nope' }], ['cron.remove', { id: 'nope' }], ['cron.run', { id: 'nope', mode: 'force' }],
      ['cron.update', { id: 'nope', patch: { name: 'x' } }], ['cron.runs', { id: 'nope' }],
    ];
    for (const [method, params] of calls) {
      const res = await op.request(method, params);
      assert.equal(res.ok, false, method);
      assert.equal(res.error.code, 'INVALID_REQUEST');
      assert.match(res.error.message, /^Automation not found: nope\. /);
      validate('CronJobNotFoundErrorDetails', res.error.details, `${method} details`);
      assert.deepEqual(res.error.details, { code: 'CRON_JOB_NOT_FOUND', jobId: 'nope' });
    }
  });

  test('bad params are refused with the reason; a past `at` is refused; scopes as the seed', async () => {
    const bad = [
      [systemJob({ schedule: { kind: 'cron', expr: '61 * * * *' } }), /invalid cron\.add params: schedule\.expr: minute field: 61 is out of range 0-59/],
      [systemJob({ schedule: { kind: 'cron', expr: '* * *' } }), /expected 5 or 6 fields/],
      [systemJob({ schedule: { kind: 'cron', expr: '0 9 * * *', tz: 'Mars/Olympus' } }), /schedule\.tz: unknown time zone/],
      [systemJob({ schedule: { kind: 'at', at: new Date(Date.now() - 60000).toISOString() } }), /schedule\.at is in the past/],
      [systemJob({ schedule: { kind: 'at', at: 'tomorrow' } }), /ISO 8601/],
      [systemJob({ sessionTarget: 'isolated' }), /isolated job requires payload\.kind="agentTurn"/],
      [agentJob({ sessionTarget: 'main' }), /main job requires payload\.kind="systemEvent"/],
      [systemJob({ wakeMode: 'later' }), /wakeMode/],
      [{ ...systemJob(), name: undefined }, /required property 'name'/],
      [systemJob({ extra: 1 }), /unexpected property 'extra'/],
    ];
    for (const [params, re] of bad) {
      const res = await op.request('cron.add', JSON.parse(JSON.stringify(params)));
      assert.equal(res.ok, false, JSON.stringify(params));
      assert.equal(res.error.code, 'INVALID_REQUEST');
      assert.match(res.error.message, re);
    }
    const denied = await reader.request('cron.add', systemJob());
    assert.equal(denied.ok, false);
    assert.equal(denied.error.code, 'FORBIDDEN');
  });

  test('cron.run force: a systemEvent reaches the main session; started/finished events; the run log', async () => {
    const job = await add(op, systemJob({ name: 'sys-run', payload: { kind: 'systemEvent', text: 'the backup finished' } }));
    llm.script({ reply: 'noted the backup' });
    const before = llm.completions().length;
    const r = await op.call('cron.run', { id: job.id, mode: 'force' });
    assert.equal(r.ok, true);
    assert.equal(r.enqueued, true);
    assert.match(r.runId, new RegExp(`^manual:${job.id}:\\d+:\\d+$`));
    const started = await cronEvent(reader, 'started', job.id);
    assert.equal(typeof started.payload.runAtMs, 'number');
    const fin = await cronEvent(reader, 'finished', job.id);
    assert.equal(fin.payload.status, 'ok');
    assert.equal(fin.payload.runId, r.runId);
    assert.equal(fin.payload.nextRunAtMs, job.state.nextRunAtMs);
    const req = llm.completions().slice(before).find((q) => JSON.stringify(q.body.messages).includes('the backup finished'));
    assert.ok(req, 'the model saw the system event');
    const hist = await op.call('chat.history', { sessionKey: 'main' });
    assert.ok(JSON.stringify(hist.messages).includes('noted the backup'));

    const runs = checkRuns(await reader.call('cron.runs', { id: job.id }));
    assert.equal(runs.total, 1);
    const e = runs.entries[0];
    assert.equal(e.jobId, job.id);
    assert.equal(e.action, 'finished');
    assert.equal(e.status, 'ok');
    assert.equal(e.completionStatus, 'succeeded');
    assert.equal(e.deliveryStatus, 'not-requested');
    assert.equal(e.runId, r.runId);
    assert.equal(e.jobName, 'sys-run');
    const got = await op.call('cron.get', { id: job.id });
    assert.equal(got.state.lastRunStatus, 'ok');
    assert.equal(got.lastRunStatus, 'ok');
    assert.equal(got.state.consecutiveErrors, 0);
    const due = await op.call('cron.run', { id: job.id, mode: 'due' });
    assert.deepEqual(due, { ok: true, ran: false, reason: 'not-due' });
    await op.call('cron.remove', { id: job.id });
  });

  test('agentTurn runs on the model in its own session; announce delivery is recorded as refused', async () => {
    const job = await add(op, agentJob({ name: 'report', delivery: { mode: 'announce', channel: 'telegram', to: '12345' } }));
    llm.script({ reply: 'the report body', chunks: 2 });
    const r = await op.call('cron.run', { id: job.id });
    const fin = await cronEvent(reader, 'finished', job.id);
    assert.equal(fin.payload.status, 'ok');
    assert.equal(fin.payload.summary, 'the report body');
    assert.equal(fin.payload.deliveryStatus, 'not-delivered');
    const hist = await op.call('chat.history', { sessionKey: `agent:main:cron:${job.id}` });
    assert.ok(JSON.stringify(hist.messages).includes('write the daily report'));
    assert.ok(JSON.stringify(hist.messages).includes('the report body'));
    const main = await op.call('chat.history', { sessionKey: 'main' });
    assert.ok(!JSON.stringify(main.messages).includes('write the daily report'), 'not in the main session');
    const runs = checkRuns(await reader.call('cron.runs', { jobId: job.id }));
    const e = runs.entries[0];
    assert.equal(e.runId, r.runId);
    assert.equal(e.sessionKey, `agent:main:cron:${job.id}`);
    assert.equal(e.deliveryStatus, 'not-delivered');
    assert.equal(e.delivered, false);
    assert.match(e.deliveryError, /channel/);
    const got = await op.call('cron.get', { id: job.id });
    assert.equal(got.state.lastDeliveryStatus, 'not-delivered');
    await op.call('cron.remove', { id: job.id });
  });

  test('one run of a job at a time, and a long run does not delay another job', async () => {
    const slow = await add(op, agentJob({ name: 'slow' }));
    llm.script({ reply: 'slow reply', chunks: 2, delayMs: 3000 });
    const first = await op.call('cron.run', { id: slow.id, mode: 'force' });
    assert.equal(first.enqueued, true);
    await cronEvent(reader, 'started', slow.id);
    const second = await op.call('cron.run', { id: slow.id, mode: 'force' });
    assert.deepEqual(second, { ok: true, ran: false, reason: 'already-running' });
    // A job due every second keeps running on time while the slow one is busy.
    const from = reader.events.length;
    const fast = await add(op, systemJob({ name: 'fast', schedule: { kind: 'every', everyMs: 1000 }, wakeMode: 'next-heartbeat' }));
    await reader.waitFor(() => reader.events.slice(from).filter((e) => e.event === 'cron' && e.payload.jobId === fast.id && e.payload.action === 'finished').length >= 2, 6000, 'two runs of the fast job');
    const slowDone = reader.events.slice(from).some((e) => e.event === 'cron' && e.payload.jobId === slow.id && e.payload.action === 'finished');
    assert.equal(slowDone, false, 'the fast job ran twice while the slow one was still running');
    const fin = await cronEvent(reader, 'finished', slow.id, () => true, 15000);
    assert.equal(fin.payload.status, 'ok');
    const runs = checkRuns(await reader.call('cron.runs', { id: slow.id }));
    assert.equal(runs.total, 1, 'the refused second run left no entry');
    await op.call('cron.remove', { id: fast.id });
    await op.call('cron.remove', { id: slow.id });
  });

  test('an `at` job runs at its time and is deleted; with deleteAfterRun false it stays, disabled', async () => {
    const at = new Date(Date.now() + 1500).toISOString();
    const gone = await add(op, systemJob({ name: 'once', schedule: { kind: 'at', at }, wakeMode: 'next-heartbeat' }));
    assert.equal(gone.deleteAfterRun, true);
    const kept = await add(op, systemJob({ name: 'once-kept', deleteAfterRun: false, schedule: { kind: 'at', at }, wakeMode: 'next-heartbeat' }));
    const fin = await cronEvent(reader, 'finished', gone.id);
    assert.equal(fin.payload.status, 'ok');
    assert.ok(fin.payload.runAtMs >= Date.parse(at), 'not before its time');
    await cronEvent(reader, 'removed', gone.id);
    assert.equal((await op.request('cron.get', { id: gone.id })).error.details.code, 'CRON_JOB_NOT_FOUND');
    await cronEvent(reader, 'finished', kept.id);
    const k = await op.call('cron.get', { id: kept.id });
    validate('CronJob', k, 'kept at job');
    assert.equal(k.enabled, false);
    assert.equal(k.state.lastRunStatus, 'ok');
    assert.equal(k.state.nextRunAtMs, undefined);
    const again = await op.request('cron.update', { id: kept.id, patch: { enabled: true } });
    assert.equal(again.ok, false);
    assert.match(again.error.message, /invalid cron\.update params: schedule\.at is in the past/);
    await op.call('cron.remove', { id: kept.id });
  });

  test('cron.runs pages and filters; cron.list sorts and pages', async () => {
    const job = await add(op, systemJob({ name: 'paged', wakeMode: 'next-heartbeat' }));
    for (let i = 0; i < 3; i++) {
      await op.call('cron.run', { id: job.id, mode: 'force' });
      await eventually(async () => (await reader.call('cron.runs', { id: job.id })).total === i + 1, 5000, `run ${i + 1} logged`);
    }
    const p1 = checkRuns(await reader.call('cron.runs', { id: job.id, limit: 2 }));
    assert.equal(p1.entries.length, 2);
    assert.equal(p1.hasMore, true);
    assert.equal(p1.nextOffset, 2);
    const p2 = checkRuns(await reader.call('cron.runs', { id: job.id, limit: 2, offset: 2 }));
    assert.equal(p2.entries.length, 1);
    assert.equal(p2.hasMore, false);
    assert.ok(p1.entries[0].ts >= p1.entries[1].ts, 'newest first');
    assert.equal((await reader.call('cron.runs', { id: job.id, statuses: ['error'] })).total, 0);
    assert.equal((await reader.call('cron.runs', { scope: 'all', status: 'ok', query: 'paged' })).total >= 3, true);
    const bad = await reader.request('cron.runs', { limit: 500 });
    assert.equal(bad.ok, false);
    assert.match(bad.error.message, /invalid cron\.runs params/);
    const l = checkList(await reader.call('cron.list', { includeDisabled: true, sortBy: 'name', sortDir: 'asc', limit: 1 }));
    assert.equal(l.jobs.length, 1);
    await op.call('cron.remove', { id: job.id });
  });
});

describe('cron.enabled false', () => {
  test('nothing is timed: status says so and a due job does not run; cron.run still runs it', async () => {
    const gw = await startGateway({ config: { cron: { enabled: false } } });
    try {
      const op = await connectClient(gw);
      const job = await add(op, systemJob({ name: 'off', schedule: { kind: 'every', everyMs: 500 }, wakeMode: 'next-heartbeat' }));
      const st = await op.call('cron.status', {});
      assert.equal(st.enabled, false);
      assert.equal(st.nextWakeAtMs, null);
      await sleep(1500);
      assert.equal((await op.call('cron.runs', { id: job.id })).total, 0);
      await op.call('cron.run', { id: job.id });
      await eventually(async () => (await op.call('cron.runs', { id: job.id })).total === 1, 5000, 'the manual run');
      op.close();
    } finally {
      await gw.stop();
    }
  });
});

describe('cron across restarts and clock jumps', () => {
  let llm;
  before(async () => { llm = await startFakeLlm({ apiKey: 'sk-test' }); });
  after(async () => { await llm?.close(); });

  test('a job due while clawgate was down runs once at start (cron, at), never twice; every skips', async () => {
    const stateDir = makeStateDir();
    const clockFile = path.join(stateDir, 'clock-offset');
    fs.writeFileSync(clockFile, '0');
    const env = { CLAWGATE_TEST_CLOCK_FILE: clockFile };
    let gw = await startGateway({ stateDir, keepStateDir: true, config: llmConfig(llm), env });
    let op = await connectClient(gw);
    const daily = await add(op, systemJob({ name: 'daily', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'America/New_York' }, wakeMode: 'next-heartbeat' }));
    const every = await add(op, systemJob({ name: 'hourly', schedule: { kind: 'every', everyMs: 3600000 }, wakeMode: 'next-heartbeat' }));
    const once = await add(op, systemJob({ name: 'once', schedule: { kind: 'at', at: new Date(Date.now() + 2 * 3600000).toISOString() }, wakeMode: 'next-heartbeat' }));
    const noCatch = await add(op, { ...systemJob({ name: 'nocatch', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'America/New_York' }, wakeMode: 'next-heartbeat' }), catchUp: false });
    op.close();
    await gw.stop();

    // Down across the due times: start a day later.
    const offset = daily.state.nextRunAtMs - Date.now() + 3 * 3600000;
    fs.writeFileSync(clockFile, String(offset));
    gw = await startGateway({ stateDir, keepStateDir: true, config: llmConfig(llm), env });
    op = await connectClient(gw);
    await eventually(async () => (await op.call('cron.runs', { id: daily.id })).total === 1, 5000, 'daily caught up');
    const d = await op.call('cron.get', { id: daily.id });
    assert.equal(d.state.lastRunStatus, 'ok');
    assert.ok(d.state.nextRunAtMs > Date.now() + offset, 'its next run is in the future');
    await eventually(async () => (await op.request('cron.get', { id: once.id })).ok === false, 5000, 'the missed at job ran and was deleted');
    const e = await op.call('cron.get', { id: every.id });
    assert.equal(e.state.lastRunAtMs, undefined, 'every: catchUp off by default, not run');
    assert.ok(e.state.nextRunAtMs > Date.now() + offset);
    const n = await op.call('cron.get', { id: noCatch.id });
    assert.equal(n.state.lastRunAtMs, undefined, 'catchUp false: skipped');
    assert.ok(n.state.nextRunAtMs > Date.now() + offset);
    op.close();
    await gw.stop();

    // Again at the same time: nothing runs twice.
    gw = await startGateway({ stateDir, keepStateDir: true, config: llmConfig(llm), env });
    op = await connectClient(gw);
    await sleep(1500);
    assert.equal((await op.call('cron.runs', { id: daily.id })).total, 1);
    assert.equal((await op.call('cron.runs', { id: every.id })).total, 0);
    op.close();
    await gw.stop('SIGTERM', { keepStateDir: false });
  });

  test('a clock jump forward runs a passed cron job once; backward brings an every job back', async () => {
    const stateDir = makeStateDir();
    const clockFile = path.join(stateDir, 'clock-offset');
    fs.writeFileSync(clockFile, '0');
    const gw = await startGateway({ stateDir, config: llmConfig(llm), env: { CLAWGATE_TEST_CLOCK_FILE: clockFile } });
    try {
      const op = await connectClient(gw);
      const job = await add(op, systemJob({ name: 'jump', schedule: { kind: 'cron', expr: '0 0 * * *' }, wakeMode: 'next-heartbeat' }));
      const every = await add(op, systemJob({ name: 'jump-every', schedule: { kind: 'every', everyMs: 3600000 }, wakeMode: 'next-heartbeat' }));
      // Forward past midnight UTC and past the every job's first time (two of them).
      const offset = job.state.nextRunAtMs - Date.now() + 2 * 3600000 + 120000;
      fs.writeFileSync(clockFile, String(offset));
      process.kill(gw.pid, 'SIGUSR2');
      const fin = await cronEvent(op, 'finished', job.id);
      assert.equal(fin.payload.status, 'ok');
      await sleep(1000);
      assert.equal((await op.call('cron.runs', { id: job.id })).total, 1, 'once, not once per missed time');
      const e = await op.call('cron.get', { id: every.id });
      assert.equal(e.state.lastRunAtMs, undefined);
      assert.ok(e.state.nextRunAtMs > Date.now() + offset);
      // Backward to the real time: the every job's next time comes back within an hour.
      fs.writeFileSync(clockFile, '0');
      process.kill(gw.pid, 'SIGUSR2');
      await eventually(async () => (await op.call('cron.get', { id: every.id })).state.nextRunAtMs <= Date.now() + 3600000, 5000, 'every job brought back');
      op.close();
    } finally {
      await gw.stop();
    }
  });
});
