// Closes that reach the client, slow readers and connection limits (issue 6):
// - a frame over maxPayloadBytes gets close 1009 even while the client is still sending
//   it (lingering close: no ECONNRESET);
// - a client that pings and never reads costs one held pong, not a growing buffer, and
//   is answered for its latest ping;
// - droppable events are skipped for a backed-up connection, responses never are;
// - gateway.limits.maxConnections: upgrades beyond it get HTTP 503 with a clear body.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, sleep } from './lib/gateway.mjs';
import { RawSocket, rawConnected, readResponse, OP, encodeFrame } from './lib/raw.mjs';
import { connectClient } from './lib/client.mjs';

describe('closes reach the client', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { await gw.stop(); });

  test('a 27 MB frame (over the default 26 MB maxPayloadBytes) gets close 1009, not a reset', async () => {
    const s = await rawConnected(gw);
    const payload = Buffer.alloc(27 * 1024 * 1024, 0x20);
    const frame = encodeFrame({ opcode: OP.TEXT, payload });
    // Write it all, as a client that does not read its socket while sending would.
    await new Promise((resolve) => s.sock.write(frame, () => resolve()));
    const close = await s.waitClose(10000);
    assert.equal(close.code, 1009, `close ${JSON.stringify(close)} error ${s.error && s.error.code}`);
    assert.equal(s.error?.code ?? null, null, 'no ECONNRESET');
    s.destroy();
  });

  test('a refused connect (1008) reaches a client that keeps sending', async () => {
    const s = await RawSocket.connect(gw.port);
    await s.upgrade();
    await s.nextJson();
    await s.sendJson({ type: 'req', id: 'x', method: 'health', params: {} }); // not connect
    for (let i = 0; i < 200; i++) s.sock.write(encodeFrame({ opcode: OP.TEXT, payload: 'x'.repeat(1000) }));
    const close = await s.waitClose(5000);
    assert.equal(close.code, 1008);
    assert.equal(s.error?.code ?? null, null, 'no ECONNRESET');
    s.destroy();
  });
});

describe('slow readers', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ config: { gateway: { tickIntervalMs: 10, limits: { maxBufferedBytes: 512 * 1024 * 1024 } } } });
  });
  after(async () => { await gw.stop(); });

  test('pings from a client that never reads: one held pong, for the latest ping', async () => {
    const s = await rawConnected(gw);
    s.sock.pause();
    const pings = 100000;
    const tag = (i) => Buffer.from(String(i).padStart(12, '0') + 'p'.repeat(113)); // 125-byte payloads
    for (let i = 0; i < pings; i += 1000) {
      const batch = [];
      for (let j = i; j < i + 1000; j++) batch.push(encodeFrame({ opcode: OP.PING, payload: tag(j) }));
      await new Promise((resolve) => s.sock.write(Buffer.concat(batch), () => resolve()));
    }
    await sleep(300);
    s.sock.resume();
    // Health on the same connection: the connection still works after the flood.
    await s.sendJson({ type: 'req', id: 'after', method: 'health', params: {} });
    const res = await readResponse(s, 'after', 15000);
    assert.equal(res.ok, true);
    await sleep(200);
    const pongs = s.frames.filter((f) => f.opcode === OP.PONG);
    assert.ok(pongs.length > 0, 'pongs are answered');
    // Buffered, all 100k pongs (12.7 MB) would arrive once we read; held in one slot,
    // only what the kernel took while we did not read, plus the latest.
    assert.ok(pongs.length < pings / 2, `${pongs.length} pongs for ${pings} pings: they were not coalesced`);
    assert.equal(pongs.at(-1).payload.toString(), tag(pings - 1).toString(), 'the last pong answers the latest ping');
    s.destroy();
  });

  test('a backed-up connection skips droppable events (tick) but gets every response', async () => {
    const s = await rawConnected(gw);
    s.sock.pause();
    const n = 1500;
    const reqs = [];
    for (let i = 0; i < n; i++) reqs.push(encodeFrame({ opcode: OP.TEXT, payload: JSON.stringify({ type: 'req', id: `s${i}`, method: 'config.schema', params: {} }) }));
    await new Promise((resolve) => s.sock.write(Buffer.concat(reqs), () => resolve()));
    await sleep(1500); // ~150 ticks go out meanwhile, to everyone not backed up
    s.sock.resume();
    await readResponse(s, `s${n - 1}`, 30000);
    const messages = s.frames.filter((f) => f.opcode === OP.TEXT).map((f) => JSON.parse(f.payload.toString()));
    const responses = messages.filter((m) => m.type === 'res' && /^s\d+$/.test(m.id));
    assert.equal(responses.length, n, 'no response is dropped');
    const seqs = messages.filter((m) => m.type === 'event' && m.event !== 'connect.challenge').map((m) => m.seq);
    seqs.forEach((seq, i) => assert.equal(seq, i + 1, `seq stays contiguous: dropped events take no number (${seqs.slice(0, 20)})`));
    s.destroy();
    const line = await (async () => {
      for (let i = 0; i < 50; i++) {
        const l = gw.logLines().filter((x) => x.message === 'client disconnected' && x.droppedEvents > 0);
        if (l.length) return l.at(-1);
        await sleep(100);
      }
      return null;
    })();
    assert.ok(line, 'the disconnect log line counts the dropped events');
  });
});

describe('gateway.limits.maxConnections', () => {
  let gw;
  before(async () => { gw = await startGateway({ config: { gateway: { limits: { maxConnections: 3 } } } }); });
  after(async () => { await gw.stop(); });

  test('upgrades beyond the limit get 503 with a clear body; a freed slot is usable again', async () => {
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await connectClient(gw));
    const s = await RawSocket.connect(gw.port);
    const r = await s.upgrade();
    assert.equal(r.status, 503);
    assert.match(r.body, /maxConnections \(3\)/);
    s.destroy();
    assert.equal((await gw.http('/healthz')).status, 200, 'plain HTTP is not counted');
    held[0].close();
    await held[0].closed;
    await sleep(100);
    const again = await connectClient(gw);
    assert.equal((await again.request('health', {})).ok, true);
    again.close();
    for (const c of held.slice(1)) c.close();
  });
});
