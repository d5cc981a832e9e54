// Raw TCP access for hand-built HTTP upgrade requests and hand-built WebSocket frames.
// Only tests build frames by hand; the product uses libraries.
import net from 'node:net';
import { randomBytes, createHash } from 'node:crypto';
import { validate } from './schema.mjs';

/** Envelope validation of a frame read on a raw socket (ResponseFrame/EventFrame, ErrorShape). */
export function validateEnvelope(frame) {
  if (frame && frame.type === 'res') {
    validate('ResponseFrame', frame, 'response frame');
    if (frame.ok === false) validate('ErrorShape', frame.error, 'error');
  } else if (frame && frame.type === 'event') {
    validate('EventFrame', frame, 'event frame');
  } else {
    throw new Error(`server frame of unknown type: ${JSON.stringify(frame).slice(0, 300)}`);
  }
  return frame;
}

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

/**
 * Encodes one client frame. opts: fin (true), opcode, payload (Buffer|string), mask (true),
 * rsv (0..7), claimedLength (write this length in the header instead of payload.length),
 * maskKey (Buffer of 4).
 */
export function encodeFrame({ fin = true, opcode = OP.TEXT, payload = Buffer.alloc(0), mask = true, rsv = 0, claimedLength, maskKey } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const len = claimedLength ?? data.length;
  let header;
  if (len < 126) {
    header = Buffer.alloc(2);
    header[1] = len;
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  header[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf);
  if (!mask) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const key = maskKey || randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([header, key, body]);
}

export function closePayload(code, reason = '') {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

export class RawSocket {
  /** Opens a TCP connection to host:port. */
  static connect(port, host = '127.0.0.1', { timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host });
      const timer = setTimeout(() => { sock.destroy(); reject(new Error('TCP connect timed out')); }, timeoutMs);
      sock.once('connect', () => { clearTimeout(timer); resolve(new RawSocket(sock, port, host)); });
      sock.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  constructor(sock, port, host) {
    this.sock = sock;
    this.port = port;
    this.host = host;
    this.buf = Buffer.alloc(0);
    this.ended = false;
    this.error = null;
    this.waiters = [];
    this.frames = [];          // server frames parsed so far (after upgrade)
    this.upgraded = false;
    this.closeFrame = null;    // {code, reason} of the server's close frame
    this.sock.setNoDelay(true);
    this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this._pump(); });
    this.sock.on('end', () => { this.ended = true; this._pump(); });
    this.sock.on('close', () => { this.ended = true; this._pump(); });
    this.sock.on('error', (e) => { this.error = e; this.ended = true; this._pump(); });
  }

  _pump() {
    if (this.upgraded) this._parseFrames();
    const keep = [];
    for (const w of this.waiters) {
      let v;
      try { v = w.pred(); } catch (e) { clearTimeout(w.timer); w.reject(e); continue; }
      if (v !== undefined) { clearTimeout(w.timer); w.resolve(v); } else keep.push(w);
    }
    this.waiters = keep;
  }

  waitFor(pred, timeoutMs = 5000, what = 'data') {
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`raw socket: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(w);
      this._pump();
    });
  }

  write(data) {
    return new Promise((resolve) => this.sock.write(data, () => resolve()));
  }

  /** Writes data one byte at a time with delayMs between bytes. */
  async writeSlowly(data, delayMs = 5) {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
    for (let i = 0; i < b.length; i++) {
      if (this.ended) return;
      await this.write(b.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }

  /**
   * Reads an HTTP response head (+ body when Content-Length says so, not after a HEAD
   * request: pass {head: true}). Does not consume frames.
   */
  readHttpResponse(timeoutMs = 5000, { head: headRequest = false } = {}) {
    return this.waitFor(() => {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.ended) throw new Error(`connection closed before an HTTP response: ${JSON.stringify(this.buf.toString('latin1'))}`);
        return undefined;
      }
      const head = this.buf.subarray(0, end).toString('latin1');
      const lines = head.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
      if (!m) throw new Error(`bad status line: ${lines[0]}`);
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const status = Number(m[1]);
      let bodyLen = 0;
      if (status !== 101 && !headRequest && headers['content-length'] !== undefined) bodyLen = Number(headers['content-length']);
      if (this.buf.length < end + 4 + bodyLen) {
        if (this.ended) bodyLen = this.buf.length - end - 4;
        else return undefined;
      }
      const body = this.buf.subarray(end + 4, end + 4 + bodyLen).toString('utf8');
      this.buf = this.buf.subarray(end + 4 + bodyLen);
      return { status, reason: m[2], headers, body };
    }, timeoutMs, 'HTTP response');
  }

  /**
   * Sends a WebSocket upgrade request (hand-built) and reads the response. On 101 the socket
   * switches to frame parsing. opts: path, host (Host header), headers (extra, object),
   * key, version (13), omit (array of header names to leave out), slow (delay ms per byte).
   */
  async upgrade({ path = '/', host, headers = {}, key, version = '13', omit = [], slow } = {}) {
    key = key ?? randomBytes(16).toString('base64');
    const h = {
      Host: host ?? `127.0.0.1:${this.port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': version,
      ...headers,
    };
    for (const o of omit) delete h[o];
    let req = `GET ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(h)) req += `${k}: ${v}\r\n`;
    req += '\r\n';
    if (slow) await this.writeSlowly(req, slow); else await this.write(req);
    const res = await this.readHttpResponse();
    if (res.status === 101) {
      const expect = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      if (res.headers['sec-websocket-accept'] !== expect) throw new Error(`bad Sec-WebSocket-Accept: ${res.headers['sec-websocket-accept']}`);
      this.upgraded = true;
      this._pump();
    }
    return res;
  }

  _parseFrames() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = !!(b[0] & 0x80);
      const rsv = (b[0] >> 4) & 7;
      const opcode = b[0] & 0xf;
      const masked = !!(b[1] & 0x80);
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); off = 10; }
      if (masked) off += 4;
      if (b.length < off + len) return;
      let payload = Buffer.from(b.subarray(off, off + len));
      if (masked) {
        const key = b.subarray(off - 4, off);
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      }
      this.buf = b.subarray(off + len);
      const f = { fin, rsv, opcode, masked, payload };
      this.frames.push(f);
      if (opcode === OP.CLOSE && !this.closeFrame) {
        this.closeFrame = payload.length >= 2
          ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') }
          : { code: 1005, reason: '' };
      }
    }
  }

  sendFrame(opts) { return this.write(encodeFrame(opts)); }
  sendText(str) { return this.sendFrame({ opcode: OP.TEXT, payload: str }); }
  sendBinary(buf) { return this.sendFrame({ opcode: OP.BINARY, payload: buf }); }
  sendJson(obj, { binary = false } = {}) { return this.sendFrame({ opcode: binary ? OP.BINARY : OP.TEXT, payload: JSON.stringify(obj) }); }
  ping(payload = '') { return this.sendFrame({ opcode: OP.PING, payload }); }
  sendClose(code = 1000, reason = '') { return this.sendFrame({ opcode: OP.CLOSE, payload: closePayload(code, reason) }); }

  /** Index of the next frame not yet consumed by nextFrame/nextMessage. */
  get cursor() { return this._cursor || 0; }

  /** Resolves the next server frame (any opcode). */
  nextFrame(timeoutMs = 5000) {
    return this.waitFor(() => {
      const i = this.cursor;
      if (i < this.frames.length) { this._cursor = i + 1; return this.frames[i]; }
      if (this.ended) throw new Error('connection closed while waiting for a frame');
      return undefined;
    }, timeoutMs, 'frame');
  }

  /**
   * Resolves the next complete data message (reassembling fragments) as
   * {opcode, text, json}; control frames in between are skipped (pongs are recorded in
   * this.frames). A close frame rejects with err.closeFrame set.
   */
  async nextMessage(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    const parts = [];
    let opcode = null;
    for (;;) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()));
      if (f.opcode === OP.CLOSE) throw Object.assign(new Error(`server closed: ${JSON.stringify(this.closeFrame)}`), { closeFrame: this.closeFrame });
      if (f.opcode >= 8) continue;
      if (opcode === null) opcode = f.opcode;
      parts.push(f.payload);
      if (f.fin) {
        const text = Buffer.concat(parts).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        return { opcode, text, json };
      }
    }
  }

  /** Resolves the next JSON message (skipping nothing else). */
  async nextJson(timeoutMs = 5000) {
    const m = await this.nextMessage(timeoutMs);
    if (m.json === undefined) throw new Error(`server sent non-JSON: ${m.text.slice(0, 200)}`);
    return validateEnvelope(m.json);
  }

  /** Waits for the server's close frame (then the TCP end). Resolves {code, reason}. */
  waitClose(timeoutMs = 5000) {
    return this.waitFor(() => {
      if (this.closeFrame) return this.closeFrame;
      if (this.ended) return { code: 1006, reason: '' };
      return undefined;
    }, timeoutMs, 'close');
  }

  /** Waits until the TCP connection has ended. */
  waitEnd(timeoutMs = 5000) {
    return this.waitFor(() => (this.ended ? true : undefined), timeoutMs, 'TCP end');
  }

  destroy() { this.sock.destroy(); }
}

/** Opens a TCP connection, upgrades, and reads connect.challenge. Resolves the RawSocket (with .challenge). */
export async function rawWebSocket(port, upgradeOpts = {}) {
  const s = await RawSocket.connect(port);
  const res = await s.upgrade(upgradeOpts);
  if (res.status !== 101) throw new Error(`upgrade refused: ${res.status} ${res.body}`);
  const ch = await s.nextJson();
  if (ch.event !== 'connect.challenge') throw new Error(`first message is not connect.challenge: ${JSON.stringify(ch)}`);
  s.challenge = ch.payload;
  return s;
}

/** Reads messages until the response with `id` arrives (events in between are skipped). */
export async function readResponse(s, id, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await s.nextJson(Math.max(1, deadline - Date.now()));
    if (m.type === 'res' && m.id === id) return m;
  }
}

/** rawWebSocket + a successful connect (default v4 params with gw.token). */
export async function rawConnected(gw, { params, upgrade } = {}) {
  const { defaultConnectParams } = await import('./client.mjs');
  const s = await rawWebSocket(gw.port, upgrade);
  await s.sendJson({ type: 'req', id: 'c1', method: 'connect', params: params ?? defaultConnectParams({ token: gw.token }) });
  const res = await readResponse(s, 'c1');
  if (!res.ok) throw new Error(`connect refused: ${JSON.stringify(res.error)}`);
  s.hello = res.payload;
  return s;
}
