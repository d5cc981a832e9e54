// A gateway client over `ws` that validates every frame it receives against
// protocol.schema.json (CONTRACT.md "Result and event shapes") and checks event seq.
import { randomUUID } from 'node:crypto';
import { peerRequire } from './peer.mjs';
import {
  validate, validateChallenge, validateLegacyHello, resultDefinitionFor, eventDefinitionFor,
  validatePresenceEvent, validatePresenceList, SchemaViolation,
} from './schema.mjs';

const WebSocket = peerRequire('ws');

export const ALL_OPERATOR_SCOPES = [
  'operator.read', 'operator.write', 'operator.admin', 'operator.approvals',
  'operator.questions', 'operator.pairing', 'operator.talk', 'operator.talk.secrets',
];

export function defaultConnectParams({ token, password, scopes = ['operator.admin'] } = {}) {
  const p = {
    minProtocol: 4,
    maxProtocol: 4,
    client: { id: 'cli', version: '1.0.0', platform: 'linux', mode: 'cli' },
    role: 'operator',
    scopes,
  };
  if (token !== undefined || password !== undefined) {
    p.auth = {};
    if (token !== undefined) p.auth.token = token;
    if (password !== undefined) p.auth.password = password;
  }
  return p;
}

/** The protocol version the contract says the server must choose, or null (mismatch). */
export function chosenProtocol(minProtocol, maxProtocol) {
  const chosen = Math.min(maxProtocol, 4);
  return chosen >= Math.max(minProtocol, 1) ? chosen : null;
}

let idCounter = 0;

export class GatewayClient {
  /**
   * Opens a WebSocket and waits for connect.challenge.
   * opts: headers, origin, host (Host header), timeoutMs, token (default credential for connect()),
   * expectChallenge (default true), wsOptions.
   */
  static async open(url, opts = {}) {
    const c = new GatewayClient(url, opts);
    try {
      await c._opened;
      if (opts.expectChallenge !== false) await c.waitChallenge(opts.timeoutMs ?? 5000);
    } catch (e) {
      c.terminate();
      throw e;
    }
    return c;
  }

  constructor(url, opts = {}) {
    this.url = url;
    this.opts = opts;
    this.token = opts.token;
    this.password = opts.password;
    this.frames = [];        // every parsed frame, in order
    this.events = [];        // event frames (including connect.challenge)
    this.responses = new Map();
    this.pending = new Map(); // id -> {method, params, resolve, reject, timer}
    this.methods = new Map(); // id -> {method, params}
    this.waiters = [];        // {pred, resolve, reject, timer}
    this.violations = [];
    this.expectedSeq = 1;
    this.challenge = null;
    this.hello = null;
    this.protocol = null;
    this.closeInfo = null;
    const headers = { ...(opts.headers || {}) };
    if (opts.host) headers.Host = opts.host;
    const wsOpts = { headers, perMessageDeflate: false, handshakeTimeout: opts.timeoutMs ?? 5000, ...(opts.wsOptions || {}) };
    if (opts.origin) wsOpts.origin = opts.origin;
    this.ws = new WebSocket(url, wsOpts);
    this._opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => {
        reject(Object.assign(new Error(`unexpected HTTP response ${res.statusCode}`), { statusCode: res.statusCode, headers: res.headers }));
      });
    });
    this._opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(Object.assign(new Error(`connection closed (${code} ${this.closeInfo.reason}) before response to ${p.method}`), { closeInfo: this.closeInfo })); }
        this.pending.clear();
        this._checkWaiters();
        resolve(this.closeInfo);
      });
    });
    this.ws.on('error', (err) => { this.lastError = err; });
    this.ws.on('message', (data, isBinary) => this._onMessage(data, isBinary));
  }

  _violation(err) {
    this.violations.push(err);
    if (this.opts.recordViolations) return false;
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(err); }
    this.pending.clear();
    for (const w of this.waiters) { clearTimeout(w.timer); w.reject(err); }
    this.waiters = [];
  }

  /** Throws the first schema/protocol violation seen on this connection. */
  assertClean() {
    if (this.violations.length && !this.opts.recordViolations) throw this.violations[0];
  }

  _onMessage(data, isBinary) {
    let frame;
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data).toString('utf8');
    try {
      frame = JSON.parse(text);
    } catch (e) {
      this._violation(new Error(`server sent a non-JSON ${isBinary ? 'binary' : 'text'} message: ${text.slice(0, 200)}`));
      return;
    }
    this.frames.push(frame);
    try {
      this._validateFrame(frame);
    } catch (e) {
      if (this._violation(e) !== false) return;
    }
    if (frame.type === 'event') {
      this.events.push(frame);
    } else if (frame.type === 'res') {
      this.responses.set(frame.id, frame);
      const p = this.pending.get(frame.id);
      if (p) {
        this.pending.delete(frame.id);
        clearTimeout(p.timer);
        p.resolve(frame);
      }
    }
    this._checkWaiters();
  }

  _validateFrame(frame) {
    if (!frame || typeof frame !== 'object') throw new Error(`server frame is not an object: ${JSON.stringify(frame)}`);
    if (frame.type === 'event') {
      validate('EventFrame', frame, 'event frame');
      if (frame.event === 'connect.challenge') {
        if (this.frames.length !== 1) throw new Error('connect.challenge is not the first frame');
        this.challenge = frame.payload;
        validateChallenge(frame.payload, { allowExtra: this.opts.strictChallenge === false });
        return;
      }
      if (!Number.isInteger(frame.seq)) throw new Error(`event ${frame.event} has no seq: ${JSON.stringify(frame)}`);
      if (frame.seq !== this.expectedSeq) throw new Error(`event ${frame.event} has seq ${frame.seq}, expected ${this.expectedSeq}`);
      this.expectedSeq++;
      const def = eventDefinitionFor(frame.event);
      if (def) validate(def, frame.payload, `${frame.event} event payload`);
      if (frame.event === 'presence') validatePresenceEvent(frame.payload);
      if (this.onEventValidate) this.onEventValidate(frame);
      return;
    }
    if (frame.type === 'res') {
      validate('ResponseFrame', frame, 'response frame');
      if (!frame.ok) {
        if (!frame.error) throw new Error(`response ok:false without error: ${JSON.stringify(frame)}`);
        validate('ErrorShape', frame.error, 'error');
        return;
      }
      const sent = this.methods.get(frame.id);
      if (!sent) return;
      if (sent.method === 'connect') {
        const p = sent.params || {};
        const chosen = chosenProtocol(p.minProtocol, p.maxProtocol);
        if (chosen !== null && chosen <= 2) {
          validateLegacyHello(frame.payload);
        } else {
          validate('HelloOk', frame.payload, 'hello-ok');
          validate('HelloOk/properties/snapshot/properties/health', frame.payload.snapshot.health, 'hello-ok.snapshot.health');
        }
        return;
      }
      const def = resultDefinitionFor(sent.method, sent.params);
      if (def) validate(def, frame.payload, `${sent.method} result`);
      if (sent.method === 'system-presence') validatePresenceList(frame.payload, 'system-presence result');
      return;
    }
    throw new Error(`server sent a frame of unknown type: ${JSON.stringify(frame).slice(0, 300)}`);
  }

  _checkWaiters() {
    const keep = [];
    for (const w of this.waiters) {
      let v;
      try { v = w.pred(); } catch (e) { clearTimeout(w.timer); w.reject(e); continue; }
      if (v !== undefined && v !== false && v !== null) { clearTimeout(w.timer); w.resolve(v); } else keep.push(w);
    }
    this.waiters = keep;
  }

  /** Resolves with pred()'s first truthy value, checked on every frame and on close. */
  waitFor(pred, timeoutMs = 5000, what = 'condition') {
    return new Promise((resolve, reject) => {
      this.assertClean();
      const w = { pred, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(w);
      this._checkWaiters();
    });
  }

  waitChallenge(timeoutMs = 5000) {
    return this.waitFor(() => this.challenge || (this.closeInfo && (() => { throw new Error(`closed before connect.challenge: ${JSON.stringify(this.closeInfo)}`); })()), timeoutMs, 'connect.challenge');
  }

  /** Waits for the n-th (1-based, counting from `from`) event named `name`. */
  waitEvent(name, { timeoutMs = 5000, from = 0, predicate } = {}) {
    return this.waitFor(() => {
      const ev = this.events.slice(from).find((e) => e.event === name && (!predicate || predicate(e)));
      if (ev) return ev;
      if (this.closeInfo) throw new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for event ${name}`);
      return undefined;
    }, timeoutMs, `event ${name}`);
  }

  waitClose(timeoutMs = 5000) {
    return Promise.race([
      this.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for close`)), timeoutMs).unref()),
    ]);
  }

  /** Sends a string or object as is (text frame unless binary). Records id->method when it looks like a request. */
  sendRaw(data, { binary = false } = {}) {
    if (typeof data === 'object' && !Buffer.isBuffer(data)) {
      if (data && typeof data.id === 'string' && typeof data.method === 'string') this.methods.set(data.id, { method: data.method, params: data.params });
      data = JSON.stringify(data);
    }
    this.ws.send(binary ? Buffer.from(data) : data, { binary });
  }

  /** Sends a request and resolves with the whole res frame (ok or not). */
  request(method, params, { id, timeoutMs = 10000, binary = false, omitParams = false } = {}) {
    try { this.assertClean(); } catch (e) { return Promise.reject(e); }
    id = id ?? `${++idCounter}:${randomUUID()}`;
    const frame = { type: 'req', id, method };
    if (!omitParams) frame.params = params === undefined ? {} : params;
    this.methods.set(id, { method, params: frame.params });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for response to ${method}`));
      }, timeoutMs);
      this.pending.set(id, { method, params, resolve, reject, timer });
      if (this.closeInfo) { clearTimeout(timer); this.pending.delete(id); reject(new Error(`connection already closed (${this.closeInfo.code})`)); return; }
      this.ws.send(binary ? Buffer.from(JSON.stringify(frame)) : JSON.stringify(frame), { binary });
    });
  }

  /** Like request() but asserts ok and returns the payload. */
  async call(method, params, opts) {
    const res = await this.request(method, params, opts);
    if (!res.ok) throw Object.assign(new Error(`${method} failed: ${JSON.stringify(res.error)}`), { response: res });
    return res.payload;
  }

  /**
   * Sends connect. `params` is merged over the defaults (a key set to undefined is dropped);
   * `replace: true` sends params exactly. Resolves with the res frame.
   */
  async connect(params = {}, { replace = false, timeoutMs = 10000 } = {}) {
    const full = replace ? params : { ...defaultConnectParams({ token: this.token, password: this.password }), ...params };
    const res = await this.request('connect', full, { timeoutMs });
    if (res.ok) {
      this.hello = res.payload;
      this.protocol = res.payload.protocol ?? res.payload.protocolVersion;
    }
    return res;
  }

  close(code = 1000) {
    try { this.ws.close(code); } catch { /* ignore */ }
    this.assertClean();
  }

  terminate() {
    try { this.ws.terminate(); } catch { /* ignore */ }
  }
}

/** Opens a client against gw (from startGateway) and connects; asserts hello-ok. */
export async function connectClient(gw, { params = {}, headers, origin, host, token, timeoutMs } = {}) {
  const c = await GatewayClient.open(gw.url, { headers, origin, host, token: token === undefined ? gw.token : token, timeoutMs });
  const res = await c.connect(params);
  if (!res.ok) {
    c.terminate();
    throw new Error(`connect refused: ${JSON.stringify(res.error)}`);
  }
  return c;
}

export { SchemaViolation };
