// The Control UI's one WebSocket to the gateway.
//
// A small state machine: connecting -> (connect.challenge) -> connect -> connected, and on
// a close: reconnecting with exponential back-off (0.5 s doubling to 15 s, with jitter),
// unless the gateway refused the credentials (unauthorized: waits for new ones) or the
// device needs approval (pairing: retries slowly, since an operator may approve it).
// Requests are promises with a deadline; events fan out to listeners by name ("*" gets
// every event). Views never touch the socket: they call request() and on().

import { loadIdentity, signConnect, loadDeviceToken, saveDeviceToken, forgetDeviceToken } from './device.js';

export const UI_VERSION = document.documentElement.dataset.version || 'dev';
const SCOPES = ['operator.admin', 'operator.read', 'operator.write', 'operator.approvals', 'operator.pairing'];
const CHALLENGE_TIMEOUT_MS = 10000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PAIRING_RETRY_MS = 3000;

export class GatewayError extends Error {
  constructor(error) {
    super(error?.message || 'request failed');
    this.code = error?.code || 'UNAVAILABLE';
    this.details = error?.details;
  }
}

export class Gateway {
  constructor(url) {
    this.url = url;
    this.token = '';
    this.password = '';
    this.state = 'idle'; // idle connecting connected reconnecting unauthorized pairing
    this.stateDetail = '';
    this.hello = null;
    this.methods = new Set();
    this.retryInMs = 0;
    this.attempt = 0;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Map();
    this.stateListeners = new Set();
    this.retryTimer = null;
    this.identity = undefined;
  }

  /** Credentials to connect with; a change reconnects. */
  setCredentials({ token = '', password = '' }) {
    this.token = token;
    this.password = password;
    this.reconnectNow();
  }

  start() {
    if (this.state === 'idle') this.open();
  }

  reconnectNow() {
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    if (this.ws) this.ws.close(1000, 'reconnect');
    else this.open();
  }

  can(method) {
    return this.methods.has(method);
  }

  onState(fn) {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  /** Calls fn(payload, eventName) for each `event` frame named `name` ("*": all). */
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name)?.delete(fn);
  }

  request(method, params = {}, { timeoutMs = 30000 } = {}) {
    if (this.state !== 'connected') return Promise.reject(new GatewayError({ code: 'UNAVAILABLE', message: 'not connected to the gateway' }));
    return this.send(method, params, timeoutMs);
  }

  send(method, params, timeoutMs) {
    const id = `ui-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new GatewayError({ code: 'TIMEOUT', message: `${method} did not answer within ${timeoutMs / 1000} s` }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ type: 'req', id, method, params }));
    });
  }

  setState(state, detail = '') {
    this.state = state;
    this.stateDetail = detail;
    document.documentElement.dataset.connection = state;
    for (const fn of this.stateListeners) fn(state, detail);
  }

  async open() {
    clearTimeout(this.retryTimer);
    if (this.identity === undefined) this.identity = await loadIdentity();
    this.setState(this.attempt ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    let challengeTimer = setTimeout(() => ws.close(4000, 'no connect.challenge'), CHALLENGE_TIMEOUT_MS);
    let refusal = null;
    ws.onmessage = (msg) => {
      let frame;
      try { frame = JSON.parse(msg.data); } catch { return; }
      if (frame.type === 'event' && frame.event === 'connect.challenge') {
        clearTimeout(challengeTimer);
        challengeTimer = null;
        this.handshake(frame.payload?.nonce).catch((err) => { refusal = err; ws.close(4001, 'refused'); });
      } else if (frame.type === 'res') {
        const p = this.pending.get(frame.id);
        if (!p) return;
        this.pending.delete(frame.id);
        clearTimeout(p.timer);
        if (frame.ok) p.resolve(frame.payload);
        else p.reject(new GatewayError(frame.error));
      } else if (frame.type === 'event') {
        for (const key of [frame.event, '*']) for (const fn of this.listeners.get(key) ?? []) {
          try { fn(frame.payload, frame.event); } catch (err) { console.error(err); }
        }
      }
    };
    ws.onclose = () => {
      clearTimeout(challengeTimer);
      if (this.ws !== ws) return;
      this.ws = null;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new GatewayError({ code: 'UNAVAILABLE', message: 'the connection closed' }));
      }
      this.pending.clear();
      this.afterClose(refusal);
    };
  }

  async handshake(nonce) {
    const params = {
      minProtocol: 4,
      maxProtocol: 4,
      client: { id: 'openclaw-control-ui', displayName: 'clawgate UI', version: UI_VERSION, platform: 'web', mode: 'webchat', instanceId: instanceId() },
      role: 'operator',
      scopes: SCOPES,
      caps: [],
      userAgent: navigator.userAgent,
      locale: navigator.language,
    };
    const deviceToken = this.identity ? loadDeviceToken(this.url) : null;
    if (this.token) params.auth = { token: this.token };
    else if (this.password) params.auth = { password: this.password };
    else if (deviceToken) params.auth = { deviceToken };
    if (this.identity && nonce) params.device = await signConnect(this.identity, params, nonce);
    const hello = await this.send('connect', params, CHALLENGE_TIMEOUT_MS);
    this.hello = hello;
    this.methods = new Set(hello.features?.methods ?? []);
    if (hello.auth?.deviceToken) saveDeviceToken(this.url, hello.auth.deviceToken);
    this.attempt = 0;
    this.setState('connected');
  }

  afterClose(refusal) {
    const code = refusal?.details?.code || refusal?.code;
    if (code === 'AUTH_DEVICE_TOKEN_MISMATCH') forgetDeviceToken(this.url);
    if (refusal instanceof GatewayError && refusal.code === 'NOT_PAIRED') {
      this.setState('pairing', refusal.details?.requestId || '');
      this.retryTimer = setTimeout(() => this.open(), PAIRING_RETRY_MS);
      return;
    }
    if (refusal instanceof GatewayError && /^AUTH_/.test(code) && code !== 'AUTH_RATE_LIMITED' && code !== 'AUTH_DEVICE_TOKEN_MISMATCH') {
      this.setState('unauthorized', refusal.message);
      return;
    }
    this.attempt += 1;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.attempt - 1));
    this.retryInMs = Math.round(base * (0.75 + Math.random() * 0.5));
    this.setState('reconnecting', refusal?.message || '');
    this.retryTimer = setTimeout(() => this.open(), this.retryInMs);
  }
}

function instanceId() {
  let id = sessionStorage.getItem('clawgate.instanceId');
  if (!id) {
    id = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
    sessionStorage.setItem('clawgate.instanceId', id);
  }
  return id;
}
