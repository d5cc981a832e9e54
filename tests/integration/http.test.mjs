// HTTP beside the WebSocket (issue 6): the route table, keep-alive with several
// requests per connection, pipelining, HEAD, 405 with Allow, request-body and header
// limits, Connection: close and HTTP/1.0, and answers that reach a client that is still
// sending (lingering close).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/gateway.mjs';
import { RawSocket } from './lib/raw.mjs';

function assertSecurityHeaders(h, what) {
  assert.equal(h['x-frame-options'], 'DENY', `${what}: X-Frame-Options`);
  assert.equal(h['x-content-type-options'], 'nosniff', `${what}: X-Content-Type-Options`);
  assert.equal(h['content-security-policy'], "default-src 'self'", `${what}: Content-Security-Policy`);
  assert.equal(h['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
}

function readResponse(s) {
  return s.readHttpResponse(5000);
}

describe('HTTP routes and connections', () => {
  let gw;
  before(async () => { gw = await startGateway({ config: { gateway: { limits: { httpBodyBytes: 1000, preauthMaxBytes: 4096 } } } }); });
  after(async () => { await gw.stop(); });

  test('keep-alive: several requests on one connection, each answered, the connection stays open', async () => {
    const s = await RawSocket.connect(gw.port);
    const host = `127.0.0.1:${gw.port}`;
    for (const [path, status] of [['/healthz', 200], ['/readyz', 200], ['/nope.js', 404], ['/healthz', 200]]) {
      await s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const r = await readResponse(s);
      assert.equal(r.status, status, `${path}: ${r.status} ${r.body}`);
      assert.match(r.headers.connection, /keep-alive/i);
      assertSecurityHeaders(r.headers, path);
    }
    assert.equal(s.ended, false, 'still open after four requests');
    s.destroy();
  });

  test('pipelined requests are all answered, in order', async () => {
    const s = await RawSocket.connect(gw.port);
    const host = `127.0.0.1:${gw.port}`;
    await s.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /readyz HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /x.js HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    const a = await readResponse(s);
    const b = await readResponse(s);
    const c = await readResponse(s);
    assert.deepEqual(JSON.parse(a.body), { ok: true, status: 'live' });
    assert.equal(JSON.parse(b.body).ready, true);
    assert.equal(c.status, 404);
    s.destroy();
  });

  test('HEAD gets the headers of GET, Content-Length included, and no body', async () => {
    const s = await RawSocket.connect(gw.port);
    await s.write(`HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
    const head = await s.readHttpResponse(5000, { head: true });
    assert.equal(head.status, 200);
    assert.equal(head.body, '', 'no body after HEAD');
    const get = await s.readHttpResponse(5000);
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength(get.body));
    assert.equal(get.body, '{"ok":true,"status":"live"}', 'the next response starts right after the HEAD headers');
    s.destroy();
  });

  test('a known path with another method gets 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await gw.http('/healthz', { method, body: method === 'POST' ? '{}' : undefined });
      assert.equal(r.status, 405, `${method} /healthz`);
      assert.equal(r.headers.allow, 'GET, HEAD');
      assertSecurityHeaders(r.headers, `${method} /healthz`);
    }
    const r = await gw.http('/nope', { method: 'POST', body: 'x' });
    assert.equal(r.status, 404, 'an unknown path stays 404 whatever the method');
  });

  test('a body over gateway.limits.httpBodyBytes gets 413, by Content-Length or chunk by chunk', async () => {
    const big = await gw.http('/healthz', { method: 'POST', body: 'x'.repeat(5000) });
    assert.equal(big.status, 413);
    const s = await RawSocket.connect(gw.port);
    await s.write('POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    await s.write('200\r\n' + 'y'.repeat(512) + '\r\n');
    await s.write('300\r\n' + 'y'.repeat(768) + '\r\n');
    const r = await s.readHttpResponse(5000);
    assert.equal(r.status, 413);
    assert.match(r.headers.connection, /close/i);
    await s.waitEnd(5000);
    s.destroy();
    const small = await gw.http('/healthz', { method: 'POST', body: 'x'.repeat(500) });
    assert.equal(small.status, 405, 'a body within the limit reaches routing');
  });

  test('the 413 reaches a client that keeps sending its body (no reset)', async () => {
    const s = await RawSocket.connect(gw.port);
    await s.write('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n');
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let stop = false;
    const writer = (async () => { for (let i = 0; i < 40 && !stop && !s.ended; i++) await s.write(chunk); })();
    const r = await s.readHttpResponse(5000);
    stop = true;
    await writer.catch(() => {});
    assert.equal(r.status, 413);
    assert.equal(s.error?.code ?? null, null, `no reset: ${s.error && s.error.code}`);
    s.destroy();
  });

  test('request heads over preauthMaxBytes get 431', async () => {
    const r = await gw.http('/healthz', { headers: { 'X-Big': 'z'.repeat(6000) } }).catch((e) => e);
    assert.equal(r.status, 431, String(r.message || r.status));
  });

  test('Connection: close and HTTP/1.0 end the connection after the response', async () => {
    for (const req of ['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'GET /healthz HTTP/1.0\r\n\r\n']) {
      const s = await RawSocket.connect(gw.port);
      await s.write(req);
      const r = await s.readHttpResponse(5000);
      assert.equal(r.status, 200);
      assert.match(r.headers.connection, /close/i);
      await s.waitEnd(5000);
      s.destroy();
    }
    const s = await RawSocket.connect(gw.port);
    await s.write('GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const r = await s.readHttpResponse(5000);
    assert.match(r.headers.connection, /keep-alive/i, 'HTTP/1.0 may ask to stay');
    s.destroy();
  });

  test('an Upgrade other than websocket is ignored and the request routed (h2c)', async () => {
    const s = await RawSocket.connect(gw.port);
    await s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    const a = await s.readHttpResponse(5000);
    assert.equal(a.status, 200);
    assert.deepEqual(JSON.parse(a.body), { ok: true, status: 'live' });
    const b = await s.readHttpResponse(5000);
    assert.equal(JSON.parse(b.body).ready, true, 'and the connection goes on');
    s.destroy();
  });

  test('a client that pipelines without reading is not read further: its requests wait in its socket', async () => {
    const s = await RawSocket.connect(gw.port);
    s.sock.pause(); // never reads the answers
    const req = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); // 30 bytes for a ~330-byte answer
    const batch = Buffer.concat(Array.from({ length: 10000 }, () => req));
    for (let i = 0; i < 70; i++) s.sock.write(batch); // 21 MB of requests, ~230 MB of answers
    await new Promise((r) => setTimeout(r, 1500));
    // Read without bound, the gateway would have taken everything and queued the answers
    // in memory; bounded, most of the requests are still on our side of the socket.
    assert.ok(s.sock.writableLength > 10 * 1024 * 1024, `only ${s.sock.writableLength} bytes still unsent: the gateway kept reading`);
    s.destroy();
    assert.equal((await gw.http('/healthz')).status, 200, 'others are served');
  });

  test('a malformed request gets 400 and the connection closes', async () => {
    const s = await RawSocket.connect(gw.port);
    await s.write('GET / HTTP/1.1\r\nHost x\r\n\r\n');
    const r = await s.readHttpResponse(5000);
    assert.equal(r.status, 400);
    await s.waitEnd(5000);
    s.destroy();
  });
});
