// The gateway's JSON-lines log and logs.tail (issue 2 "Methods in this issue"); logs.tail
// of a 1 MB log runs off the loop (issue 6 "The loop never blocks").
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway, makeStateDir, eventually, sleep } from './lib/gateway.mjs';
import { GatewayClient, connectClient } from './lib/client.mjs';
import { rawConnected, encodeFrame, closePayload, OP } from './lib/raw.mjs';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const ISO_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function lineText(l) {
  return JSON.stringify(l).toLowerCase();
}

describe('log file', () => {
  let gw;
  before(async () => {
    gw = await startGateway();
    // generate: a connect + disconnect, an auth failure, a config write
    const c = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    await c.call('config.set', { raw: JSON.stringify({ custom: { logged: true } }) });
    c.close();
    await c.closed;
    const bad = await GatewayClient.open(gw.url, {});
    const r = await bad.connect({ auth: { token: 'wrong-token' } });
    assert.equal(r.ok, false);
    await bad.waitClose();
    await sleep(300);
  });
  after(async () => { await gw.stop(); });

  test('DIR/logs/clawgate.log: one JSON object a line with time, level, subsystem, message', () => {
    assert.ok(fs.existsSync(gw.logPath), `${gw.logPath} exists`);
    const text = fs.readFileSync(gw.logPath, 'utf8');
    assert.ok(text.endsWith('\n'), 'the last line is complete');
    const lines = gw.logLines();
    assert.ok(lines.length >= 5, `only ${lines.length} lines`);
    for (const l of lines) {
      assert.equal(typeof l, 'object');
      assert.match(l.time, ISO_MS_UTC, `time ${l.time}`);
      assert.ok(Math.abs(Date.parse(l.time) - Date.now()) < 600000, `time ${l.time} is now-ish`);
      assert.ok(LEVELS.includes(l.level), `level ${l.level}`);
      assert.equal(typeof l.subsystem, 'string');
      assert.ok(l.subsystem.length > 0);
      assert.equal(typeof l.message, 'string');
      assert.ok(l.message.length > 0);
      assert.deepEqual(Object.keys(l).slice(0, 4), ['time', 'level', 'subsystem', 'message'], 'time, level, subsystem, message come first');
    }
    for (let i = 1; i < lines.length; i++) assert.ok(lines[i].time >= lines[i - 1].time, 'lines are in time order');
  });

  test('the log records start, listening, connect, disconnect, auth failure and config write', () => {
    const lines = gw.logLines();
    const has = (what, re) => assert.ok(lines.some((l) => re.test(lineText(l))), `no log line for ${what}:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    has('start', /start/);
    has('listening', /listen/);
    has('connect', /connect/);
    has('disconnect', /disconnect|closed|close/);
    has('auth failure', /mismatch|unauthori[sz]ed|auth[^"]*fail|auth_token_mismatch/);
    has('config write', /config/);
    assert.ok(lines.some((l) => /config/.test(lineText(l)) && /writ|set|saved|updated/.test(lineText(l))), 'a config write line');
    assert.ok(lines.some((l) => String(l.port ?? '').includes(String(gw.port)) || lineText(l).includes(String(gw.port))), 'the listening line names the port');
    assert.ok(!fs.readFileSync(gw.logPath, 'utf8').includes(gw.token), 'the token is never logged');
    assert.ok(!fs.readFileSync(gw.logPath, 'utf8').includes('wrong-token'), 'presented credentials are never logged');
  });
});

describe('logs.tail', () => {
  let gw; let c;
  before(async () => {
    gw = await startGateway();
    c = await connectClient(gw, { params: { scopes: ['operator.read'] } });
  });
  after(async () => { c.close(); await gw.stop(); });

  const fileLines = () => fs.readFileSync(gw.logPath, 'utf8').split('\n').filter(Boolean);
  const churn = async (n = 3) => {
    for (let i = 0; i < n; i++) {
      const x = await connectClient(gw);
      x.close();
      await x.closed;
    }
  };

  test('no cursor: the newest whole lines, cursor at the end of the last whole line', async () => {
    await churn(2);
    const t = await c.call('logs.tail', {});
    assert.equal(typeof t.file, 'string');
    assert.equal(fs.realpathSync(t.file), fs.realpathSync(gw.logPath));
    assert.ok(t.lines.length > 0);
    assert.ok(t.cursor <= t.size);
    const all = fs.readFileSync(gw.logPath);
    assert.ok(t.size <= all.length);
    assert.equal(all[t.cursor - 1], 0x0a, 'the cursor is the byte after a newline');
    const whole = all.subarray(0, t.cursor).toString('utf8').split('\n').filter(Boolean);
    assert.deepEqual(t.lines, whole.slice(-t.lines.length), 'the lines are the newest lines before the cursor');
    assert.equal(t.lines.length, whole.length, 'a small file comes back whole');
    for (const l of t.lines) JSON.parse(l);
    assert.ok(!t.reset);
  });

  test('limit keeps the newest lines and sets truncated', async () => {
    const t = await c.call('logs.tail', { limit: 2 });
    assert.equal(t.lines.length, 2);
    assert.equal(t.truncated, true);
    const all = fs.readFileSync(gw.logPath).subarray(0, t.cursor).toString('utf8').split('\n').filter(Boolean);
    assert.deepEqual(t.lines, all.slice(-2));
  });

  test('maxBytes: only whole lines within the byte budget', async () => {
    await churn(3);
    const max = 400;
    const t = await c.call('logs.tail', { maxBytes: max });
    const bytes = t.lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    assert.ok(bytes <= max, `${bytes} bytes returned for maxBytes ${max}`);
    assert.equal(t.truncated, true);
    for (const l of t.lines) JSON.parse(l);
  });

  test('a cursor continues: only lines written after it', async () => {
    const t1 = await c.call('logs.tail', {});
    const t2 = await c.call('logs.tail', { cursor: t1.cursor });
    assert.ok(!t2.reset);
    await churn(2);
    await sleep(100);
    const t3 = await c.call('logs.tail', { cursor: t2.cursor });
    assert.ok(!t3.reset, 'no reset');
    assert.ok(t3.lines.length >= 2, `${t3.lines.length} new lines`);
    assert.ok(t3.cursor > t2.cursor);
    const expected = fs.readFileSync(gw.logPath).subarray(t2.cursor, t3.cursor).toString('utf8').split('\n').filter(Boolean);
    assert.deepEqual(t3.lines, expected);
    const t4 = await c.call('logs.tail', { cursor: t3.cursor });
    // nothing is returned twice: t4 holds exactly what was written after t3's cursor
    assert.ok(t4.cursor >= t3.cursor);
    const expected4 = fs.readFileSync(gw.logPath).subarray(t3.cursor, t4.cursor).toString('utf8').split('\n').filter(Boolean);
    assert.deepEqual(t4.lines, expected4);
  });

  test('a cursor continuation with more than limit lines keeps the newest and sets truncated', async () => {
    const t1 = await c.call('logs.tail', {});
    await churn(3);
    const t2 = await c.call('logs.tail', { cursor: t1.cursor, limit: 1 });
    assert.equal(t2.lines.length, 1);
    assert.equal(t2.truncated, true);
    const expected = fs.readFileSync(gw.logPath).subarray(t1.cursor, t2.cursor).toString('utf8').split('\n').filter(Boolean);
    assert.deepEqual(t2.lines, expected.slice(-1));
  });

  test('a cursor past the size resets: reset true, then as with no cursor', async () => {
    const size = fs.statSync(gw.logPath).size;
    const t = await c.call('logs.tail', { cursor: size + 1000000 });
    assert.equal(t.reset, true);
    assert.ok(t.lines.length > 0);
    assert.ok(t.cursor <= t.size);
  });

  test('a cursor at the size returns nothing new', async () => {
    const t1 = await c.call('logs.tail', {});
    const t2 = await c.call('logs.tail', { cursor: t1.cursor });
    assert.ok(!t2.reset);
    assert.ok(t2.cursor >= t1.cursor);
  });

  test('params are checked against LogsTailParams', async () => {
    for (const p of [{ bogus: 1 }, { limit: 0 }, { limit: 5001 }, { maxBytes: 0 }, { maxBytes: 1000001 }, { cursor: -1 }, { cursor: 'x' }, { limit: 1.5 }]) {
      const r = await c.request('logs.tail', p);
      assert.equal(r.ok, false, `accepted ${JSON.stringify(p)}`);
      assert.equal(r.error.code, 'INVALID_REQUEST');
    }
    assert.equal((await c.request('logs.tail', { limit: 5000, maxBytes: 1000000, cursor: 0 })).ok, true);
  });

  test('log lines keep arriving after the tail (eventually visible through a cursor)', async () => {
    const t1 = await c.call('logs.tail', {});
    const bad = await GatewayClient.open(gw.url, {});
    await bad.connect({ auth: { token: 'definitely-wrong' } });
    await bad.waitClose();
    const t2 = await eventually(async () => { const t = await c.call('logs.tail', { cursor: t1.cursor }); return t.lines.some((l) => /mismatch|unauthori/i.test(l)) && t; }, 3000, 'the auth failure line');
    assert.ok(t2.lines.every((l) => !l.includes('definitely-wrong')));
  });
});

describe('log rotation (logging.maxFileBytes)', () => {
  const MAX = 4096;
  let gw; let c;
  before(async () => {
    gw = await startGateway({ config: { logging: { maxFileBytes: MAX } } });
    c = await connectClient(gw, { params: { scopes: ['operator.read'] } });
  });
  after(async () => { c.close(); await gw.stop(); });

  test('rotates into clawgate.log.1 ... .5 (.1 the newest); each stays near the limit', async () => {
    const t0 = await c.call('logs.tail', {});
    for (let i = 0; i < 80; i++) {
      const x = await connectClient(gw);
      x.close();
      await x.closed;
    }
    await sleep(200);
    const dir = gw.logPath.slice(0, gw.logPath.lastIndexOf('/'));
    const files = fs.readdirSync(dir).sort();
    for (let i = 1; i <= 5; i++) assert.ok(files.includes(`clawgate.log.${i}`), `clawgate.log.${i} in ${files}`);
    assert.ok(!files.includes('clawgate.log.6'), `at most 5 rotated files: ${files}`);
    for (const f of ['clawgate.log', 'clawgate.log.1', 'clawgate.log.5']) {
      const size = fs.statSync(`${dir}/${f}`).size;
      assert.ok(size <= MAX + 2048, `${f} is ${size} bytes for maxFileBytes ${MAX}`);
      for (const l of fs.readFileSync(`${dir}/${f}`, 'utf8').split('\n').filter(Boolean)) JSON.parse(l);
    }
    const newest = (f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8').split('\n').filter(Boolean).pop()).time;
    assert.ok(newest('clawgate.log.1') >= newest('clawgate.log.2'), '.1 is newer than .2');
    assert.ok(newest('clawgate.log') >= newest('clawgate.log.1'), 'the live file is the newest');
    // a cursor from before the rotation is past the new size: reset
    const stale = await c.call('logs.tail', { cursor: t0.cursor > fs.statSync(gw.logPath).size ? t0.cursor : fs.statSync(gw.logPath).size + 4096 });
    assert.equal(stale.reset, true);
    assert.ok(stale.lines.length > 0);
  });
});

// A state dir whose log already holds `bytes` of ~250-byte JSON lines, so a 1 MB window
// is full and holds fewer lines than the 5,000 limit.
function stateDirWithBigLog(bytes) {
  const dir = makeStateDir();
  fs.mkdirSync(path.join(dir, 'logs'), { mode: 0o700 });
  const pad = 'x'.repeat(150);
  const lines = [];
  let size = 0;
  for (let n = 0; size < bytes; n++) {
    const line = JSON.stringify({ time: new Date().toISOString(), level: 'info', subsystem: 'filler', message: 'filler line', n, pad }) + '\n';
    lines.push(line);
    size += line.length;
  }
  fs.writeFileSync(path.join(dir, 'logs', 'clawgate.log'), lines.join(''), { mode: 0o600 });
  return dir;
}

// The whole lines of `buf` between byte offsets start and end (a line cut at start is dropped).
function wholeLinesBetween(buf, start, end) {
  let from = start;
  if (start > 0 && buf[start - 1] !== 0x0a) from = buf.indexOf(0x0a, start) + 1;
  return buf.subarray(from, end).toString('utf8').split('\n').filter(Boolean);
}

const TAIL_1MB = { maxBytes: 1000000, limit: 5000 };

describe('logs.tail of a 1 MB log (off the loop)', () => {
  let gw; let c;
  before(async () => {
    gw = await startGateway({ stateDir: stateDirWithBigLog(1500000) });
    c = await connectClient(gw, { params: { scopes: ['operator.read'] } });
  });
  after(async () => { c.close(); await gw.stop(); });

  test('answers the whole lines of the last 1 MB, the newest last', async () => {
    const t = await c.call('logs.tail', TAIL_1MB);
    assert.ok(t.size > 1000000, `size ${t.size}`);
    assert.equal(t.truncated, true);
    assert.equal(t.reset, false);
    const file = fs.readFileSync(gw.logPath);
    assert.equal(file[t.cursor - 1], 0x0a, 'the cursor is the byte after a newline');
    assert.deepEqual(t.lines, wholeLinesBetween(file, t.size - 1000000, t.cursor));
    const bytes = t.lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    assert.ok(bytes <= 1000000 && bytes > 990000, `${bytes} bytes of lines`);
    assert.ok(t.lines.length > 3000 && t.lines.length < 5000, `${t.lines.length} lines`);
    for (const l of t.lines) JSON.parse(l);

    const d = await c.call('logs.tail', { maxBytes: 1000000 });
    assert.equal(d.lines.length, 500, 'the default limit keeps the newest 500');
    assert.deepEqual(d.lines, wholeLinesBetween(fs.readFileSync(gw.logPath), 0, d.cursor).slice(-500));
  });

  test('while one client tails 1 MB in a loop, health on another connection is answered', async () => {
    const other = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    let tails = 0;
    let stop = false;
    const tailer = (async () => {
      while (!stop) {
        const t = await c.call('logs.tail', TAIL_1MB);
        assert.ok(t.lines.length > 3000);
        tails++;
      }
    })();
    try {
      for (let i = 0; i < 20; i++) {
        const h = await other.call('health', {});
        assert.equal(h.ok, true);
      }
    } finally {
      stop = true;
      await tailer;
      other.close();
    }
    assert.ok(tails > 0, 'the tailing client was answered too');
  });

  test('a health pipelined behind a 1 MB logs.tail on the same connection is answered first', async () => {
    // Both frames arrive in one read; a tail done on the loop would be answered before the
    // loop even looks at the health request.
    const s = await rawConnected(gw);
    try {
      await s.write(Buffer.concat([
        encodeFrame({ opcode: OP.TEXT, payload: JSON.stringify({ type: 'req', id: 't', method: 'logs.tail', params: TAIL_1MB }) }),
        encodeFrame({ opcode: OP.TEXT, payload: JSON.stringify({ type: 'req', id: 'h', method: 'health', params: {} }) }),
      ]));
      const ids = [];
      const res = {};
      while (ids.length < 2) {
        const m = await s.nextJson(10000);
        if (m.type !== 'res') continue;
        ids.push(m.id);
        res[m.id] = m;
      }
      assert.deepEqual(ids, ['h', 't']);
      assert.equal(res.h.ok, true);
      assert.equal(res.t.ok, true);
      assert.ok(res.t.payload.lines.length > 3000);
    } finally {
      s.destroy();
    }
  });
});

describe('logs.tail answers that cut a reader off (regression: the close ran inside the answer)', () => {
  test('answers that push a non-reading client past maxBufferedBytes close it 1013; nothing crashes', async () => {
    const stateDir = stateDirWithBigLog(1500000);
    fs.writeFileSync(`${stateDir}/clawgate.json`, JSON.stringify({ gateway: { limits: { maxBufferedBytes: 3000000 } } }));
    const gw = await startGateway({ stateDir });
    try {
      const s = await rawConnected(gw);
      s.sock.pause(); // never reads: the answers pile up until the 1013 cut, mid-answer
      const frames = Array.from({ length: 60 }, (_, i) => encodeFrame({ opcode: OP.TEXT, payload: JSON.stringify({ type: 'req', id: `t${i}`, method: 'logs.tail', params: TAIL_1MB }) }));
      await s.write(Buffer.concat(frames));
      await eventually(() => gw.logLines().some((l) => l.message === 'client disconnected'), 15000, 'the cut');
      s.destroy();
      const c = await connectClient(gw, { params: { scopes: ['operator.read'] } });
      assert.equal((await c.call('health', {})).ok, true, 'the gateway is still up');
      c.close();
    } finally {
      await gw.stop(); // throws on a crash, a sanitizer report or a non-zero exit
    }
  });
});

describe('logs.tail whose client or gateway goes away mid-work', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ stateDir: stateDirWithBigLog(1500000) });
  });
  after(async () => { await gw.stop(); });

  const tailFrame = (id) => encodeFrame({ opcode: OP.TEXT, payload: JSON.stringify({ type: 'req', id, method: 'logs.tail', params: TAIL_1MB }) });

  test('a client that closes or drops right after asking: no crash, no leak (ASan)', async () => {
    for (let i = 0; i < 10; i++) {
      // Close frame in the same read: the request ends while its job is queued or running.
      const a = await rawConnected(gw);
      await a.write(Buffer.concat([tailFrame(`a${i}`), encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000) })]));
      a.destroy();
      // No close frame: the TCP connection just goes away.
      const b = await rawConnected(gw);
      await b.write(tailFrame(`b${i}`));
      b.destroy();
    }
    const c = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    const t = await c.call('logs.tail', TAIL_1MB);
    assert.ok(t.lines.length > 3000);
    assert.equal((await c.call('health', {})).ok, true);
    c.close();
    await c.closed;
  });

  test('tails in flight when the gateway stops: each is answered (the waiting ones UNAVAILABLE), then it exits 0', async () => {
    const s = await rawConnected(gw);
    const ids = Array.from({ length: 20 }, (_, i) => `t${i}`);
    await s.write(Buffer.concat(ids.map(tailFrame))); // one tail runs at a time: most wait
    const r = await gw.stop(); // throws on a sanitizer report or a non-zero exit
    assert.equal(r.code, 0);
    assert.ok(r.ms <= 1000, `exited ${r.ms} ms after SIGTERM with answers pending`);
    await s.waitEnd(5000);
    const texts = s.frames.filter((f) => f.opcode === OP.TEXT).map((f) => JSON.parse(f.payload.toString()));
    const answers = new Map(texts.filter((m) => m.type === 'res').map((m) => [m.id, m]));
    for (const id of ids) assert.ok(answers.has(id), `${id} was answered before the close`);
    const refused = [...answers.values()].filter((m) => !m.ok);
    assert.ok(refused.length > 0, 'some tails were still waiting at SIGTERM');
    for (const m of refused) {
      assert.equal(m.error.code, 'UNAVAILABLE');
      assert.equal(m.error.message, 'gateway shutting down');
      assert.equal(m.error.retryable, true);
    }
    const last = texts.at(-1);
    assert.equal(last.event, 'shutdown', 'the answers come before the shutdown event');
    assert.equal(s.closeFrame?.code, 1012);
    s.destroy();
  });
});

describe('logs.subscribe: new log lines pushed as logs.appended events', () => {
  let gw; let c;
  before(async () => {
    gw = await startGateway();
    c = await connectClient(gw, { params: { scopes: ['operator.read'] } });
  });
  after(async () => { c.close(); await gw.stop(); });

  const appended = (client, from) => client.events.slice(from).filter((e) => e.event === 'logs.appended');
  const badConnect = async (token) => {
    const bad = await GatewayClient.open(gw.url, {});
    await bad.connect({ auth: { token } });
    await bad.waitClose();
  };

  test('after subscribing, a line written to the log arrives as an event, cursor = its end in the file', async () => {
    assert.deepEqual(await c.call('logs.subscribe', {}), { subscribed: true });
    const from = c.events.length;
    await badConnect('live-wrong-1');
    const ev = await c.waitEvent('logs.appended', { from, timeoutMs: 5000, predicate: (e) => e.payload.lines.some((l) => /mismatch/i.test(l)) });
    const p = ev.payload;
    assert.ok(p.lines.length >= 1 && p.lines.length <= 200);
    assert.equal(p.reset, false);
    assert.equal(p.dropped, 0);
    for (const l of p.lines) JSON.parse(l);
    const file = fs.readFileSync(gw.logPath);
    assert.equal(file[p.cursor - 1], 0x0a, 'cursor is the byte after a newline');
    const before = file.subarray(0, p.cursor).toString('utf8').split('\n').filter(Boolean);
    assert.deepEqual(p.lines, before.slice(-p.lines.length), 'the event holds the lines just before its cursor, in file order');
    // history + live without a gap or a repeat: the tail's cursor and the events' cursors line up
    const t = await c.call('logs.tail', {});
    const from2 = c.events.length;
    await badConnect('live-wrong-2');
    await c.waitEvent('logs.appended', { from: from2, predicate: (e) => e.payload.lines.some((l) => l.includes('mismatch')) });
    const live = appended(c, 0).map((e) => e.payload).filter((q) => q.cursor > t.cursor).flatMap((q) => q.lines);
    const fileNow = fs.readFileSync(gw.logPath).toString('utf8');
    const after = fileNow.slice(t.cursor).split('\n').filter(Boolean);
    assert.deepEqual(live, after.slice(0, live.length), 'the events continue exactly where the tail stopped');
  });

  test('logs.unsubscribe stops the events; a connection that never subscribed gets none', async () => {
    const other = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    assert.deepEqual(await c.call('logs.unsubscribe', {}), { subscribed: false });
    const from = c.events.length;
    await badConnect('live-wrong-3');
    await eventually(() => gw.logLines().filter((l) => /mismatch/i.test(JSON.stringify(l))).length >= 3, 3000, 'the third mismatch line');
    await sleep(300);
    assert.equal(appended(c, from).length, 0, 'no event after unsubscribe');
    assert.equal(appended(other, 0).length, 0, 'no event without subscribe');
    other.close();
    assert.deepEqual(await c.call('logs.unsubscribe', {}), { subscribed: false }, 'unsubscribing twice is fine');
  });

  test('same scope as logs.tail; params are exactly {}', async () => {
    const none = await connectClient(gw, { params: { scopes: [] } });
    const r = await none.request('logs.subscribe', {});
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'FORBIDDEN');
    none.close();
    const bad = await c.request('logs.subscribe', { follow: true });
    assert.equal(bad.ok, false);
    assert.equal(bad.error.code, 'INVALID_REQUEST');
    assert.match(bad.error.message, /^invalid logs\.subscribe params/);
    assert.ok(c.hello.features.methods.includes('logs.subscribe'));
    assert.ok(c.hello.features.methods.includes('logs.unsubscribe'));
  });

  test('a subscriber that goes away mid-stream and a stop with subscribers: no crash, no leak (ASan)', async () => {
    for (let i = 0; i < 5; i++) {
      const x = await connectClient(gw, { params: { scopes: ['operator.read'] } });
      await x.call('logs.subscribe', {});
      await badConnect(`gone-${i}`);
      x.close();
    }
    await c.call('logs.subscribe', {});
  });
});

describe('logs.subscribe across a rotation (logging.maxFileBytes)', () => {
  test('the first lines of a new file come in an event with reset: true and cursors in the new file', async () => {
    const gw = await startGateway({ config: { logging: { maxFileBytes: 4096 } } });
    const c = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    try {
      await c.call('logs.subscribe', {});
      const ev = await eventually(async () => {
        const x = await connectClient(gw);
        x.close();
        await x.closed;
        return c.events.find((e) => e.event === 'logs.appended' && e.payload.reset);
      }, 15000, 'an event with reset');
      assert.ok(ev.payload.cursor <= 4096 + 2048, `cursor ${ev.payload.cursor} is an offset in the new file`);
      for (const e of c.events.filter((f) => f.event === 'logs.appended')) assert.ok(e.payload.lines.length >= 1 && e.payload.lines.length <= 200);
    } finally {
      c.close();
      await gw.stop();
    }
  });
});

describe('logs.appended for a reader whose output is backed up', () => {
  test('its events are skipped (droppable) and the next one it gets counts the lines in dropped', async () => {
    const stateDir = stateDirWithBigLog(1500000);
    fs.writeFileSync(`${stateDir}/clawgate.json`, JSON.stringify({ gateway: { limits: { maxBufferedBytes: 32000000 } } }));
    const gw = await startGateway({ stateDir });
    const badConnect = async () => {
      const bad = await GatewayClient.open(gw.url, {});
      await bad.connect({ auth: { token: 'slow-reader-wrong' } });
      await bad.waitClose();
    };
    try {
      const s = await rawConnected(gw);
      await s.sendJson({ type: 'req', id: 'sub', method: 'logs.subscribe', params: {} });
      for (;;) { const m = await s.nextJson(5000); if (m.id === 'sub') { assert.equal(m.ok, true); break; } }
      // Stop reading and have ~10 MB of answers queued for it: far past the 1 MB mark above
      // which droppable events are skipped, far below the 32 MB cut.
      s.sock.pause();
      await s.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => encodeFrame({ opcode: OP.TEXT, payload: JSON.stringify({ type: 'req', id: `t${i}`, method: 'logs.tail', params: TAIL_1MB }) }))));
      await sleep(1500); // the tails run one after another on the pool
      for (let i = 0; i < 3; i++) await badConnect();
      await eventually(() => gw.logLines().filter((l) => l.reason?.includes('mismatch')).length >= 3, 5000, 'the refused connects in the log');
      await sleep(300);
      s.sock.resume();
      const answers = new Set();
      const events = [];
      const deadline = Date.now() + 20000;
      let caused = false;
      while (Date.now() < deadline && !events.some((e) => e.payload.dropped > 0)) {
        const m = await s.nextJson(Math.max(1, deadline - Date.now()));
        if (m.type === 'res') answers.add(m.id);
        if (m.type === 'event' && m.event === 'logs.appended') events.push(m);
        if (answers.size === 10 && !caused) {
          caused = true;
          await badConnect(); // a line after the backlog drained: its event carries the count
        }
      }
      assert.equal(answers.size, 10, 'every tail was answered (responses are never dropped)');
      const withCount = events.find((e) => e.payload.dropped > 0);
      assert.ok(withCount, `an event reports the skipped lines: ${JSON.stringify(events.map((e) => e.payload.dropped))}`);
      assert.ok(withCount.payload.dropped >= 3, `dropped ${withCount.payload.dropped}`);
      s.destroy();
    } finally {
      await gw.stop();
    }
  });
});
