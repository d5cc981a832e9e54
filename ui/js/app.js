// clawgate's Control UI: the shell. It owns the one Gateway connection, the hash router
// (#/view?key=value), the navigation, the connection banner (connecting, reconnecting
// with its back-off, unauthorized with a sign-in form, pairing required), the theme and
// the toasts. Each view is an ES module in ./views/, loaded on first visit, exporting
//   { title, methods: [...], mount(ctx, el) -> unmount }
// A view is mounted while the gateway is connected and it is the current route, and
// mounted again after a reconnect (so it reloads its data and renews subscriptions).
// ctx: { gw, request(method, params, opts), on(event, fn) (undone at unmount), toast(text,
// kind), navigate(view, params), params, setBadge(view, n), signal (AbortSignal) }.
// The token arrives once in the URL fragment (#token=...; never a query string), is kept
// in localStorage and removed from the address bar.

import { Gateway } from './gateway.js';
import { h, fill } from './dom.js';

export const VIEWS = [
  ['chat', 'Chat'],
  ['overview', 'Overview'],
  ['sessions', 'Sessions'],
  ['agents', 'Agents'],
  ['nodes', 'Nodes'],
  ['approvals', 'Approvals'],
  ['config', 'Config'],
  ['logs', 'Logs'],
  ['cron', 'Cron'],
];

const DEFAULT_VIEW = 'chat'; // as the real UI: a person opens it to talk to the assistant
const TOKEN_KEY = 'clawgate.token';
const PASSWORD_KEY = 'clawgate.password';
const THEME_KEY = 'clawgate.theme';

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const statusEl = document.getElementById('status');
const nav = document.getElementById('nav');
const badges = new Map();

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const gw = new Gateway(wsUrl);
let current = null; // {id, unmount, abort}

function takeFragmentCredentials() {
  // #token=T, or #/view?token=T
  const raw = location.hash.slice(1);
  const frag = new URLSearchParams(raw.includes('?') ? raw.split('?')[1] : raw.includes('=') ? raw : '');
  const token = frag.get('token');
  const password = frag.get('password');
  if (token) localStorage.setItem(TOKEN_KEY, token);
  if (password) localStorage.setItem(PASSWORD_KEY, password);
  if (token || password) history.replaceState(null, '', `${location.pathname}#/${route().id}`);
}

function route() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const id = VIEWS.some(([v]) => v === path) ? path : DEFAULT_VIEW;
  return { id, params: Object.fromEntries(new URLSearchParams(query ?? '')) };
}

export function navigate(id, params = {}) {
  const q = new URLSearchParams(params).toString();
  location.hash = `#/${id}${q ? `?${q}` : ''}`;
}

function toast(text, kind = 'info') {
  const el = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, text);
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

function setBadge(id, n) {
  badges.set(id, n);
  const el = nav.querySelector(`[data-view="${id}"] .badge`);
  if (el) {
    el.textContent = n ? String(n) : '';
    el.hidden = !n;
  }
}

function renderNav() {
  const { id } = route();
  fill(nav, VIEWS.map(([v, title]) => h('a', {
    href: `#/${v}`, dataset: { view: v }, 'aria-current': v === id ? 'page' : null,
  }, title, h('span.badge', { hidden: !badges.get(v) }, badges.get(v) ? String(badges.get(v)) : ''))));
}

function unmountView() {
  if (!current) return;
  current.abort.abort();
  for (const off of current.offs) off();
  try { current.unmount?.(); } catch (err) { console.error(err); }
  current = null;
}

async function mountView() {
  unmountView();
  renderNav();
  const { id, params } = route();
  if (gw.state !== 'connected') {
    renderOffline();
    return;
  }
  const title = VIEWS.find(([v]) => v === id)[1];
  const el = h('section.view', { dataset: { view: id }, 'aria-labelledby': `h-${id}` });
  fill(main, el);
  document.title = `${title} · clawgate`;
  const mine = { id, offs: [], abort: new AbortController(), unmount: null };
  current = mine;
  let mod;
  try {
    mod = (await import(`./views/${id}.js`)).default;
  } catch (err) {
    fill(el, h(`h1#h-${id}`, title), h('p.error', `This view failed to load: ${err.message}`));
    return;
  }
  if (current !== mine) return;
  const ctx = {
    gw,
    params,
    signal: mine.abort.signal,
    request: (method, p, opts) => gw.request(method, p, opts),
    // A view still loading after it was left gets no listener (nothing would remove it).
    on: (event, fn) => {
      if (current !== mine) return () => {};
      const off = gw.on(event, fn);
      mine.offs.push(off);
      return off;
    },
    toast,
    navigate,
    setBadge,
  };
  const missing = (mod.methods ?? []).filter((m) => !gw.can(m));
  el.append(h(`h1#h-${id}`, title));
  if (missing.length && missing.length === (mod.methods ?? []).length) {
    el.append(h('p.empty', `This gateway does not offer ${missing.join(', ')}.`));
    return;
  }
  try {
    mine.unmount = (await mod.mount(ctx, el)) ?? null;
  } catch (err) {
    el.append(h('p.error', err.message || String(err)));
  }
  if (current !== mine) mine.unmount?.();
}

function renderOffline() {
  const s = gw.state;
  if (s === 'unauthorized') {
    const token = h('input#login-token', { type: 'password', autocomplete: 'current-password', placeholder: 'gateway token', 'aria-label': 'Gateway token' });
    const password = h('input#login-password', { type: 'password', autocomplete: 'current-password', placeholder: 'or gateway password', 'aria-label': 'Gateway password' });
    const form = h('form.card.login', {
      onsubmit: (e) => {
        e.preventDefault();
        const t = token.value.trim();
        const p = password.value;
        localStorage.setItem(TOKEN_KEY, t);
        localStorage.setItem(PASSWORD_KEY, p);
        gw.setCredentials({ token: t, password: p });
      },
    },
    h('h1', 'Sign in to the gateway'),
    h('p', gw.stateDetail || 'This gateway needs its token or password.'),
    h('p.hint', 'The token is printed when the gateway starts (', h('code', 'make run'), ') and kept in ', h('code', 'gateway.auth.token'), '.'),
    h('label', 'Token', token), h('label', 'Password', password),
    h('button.primary', { type: 'submit' }, 'Connect'));
    fill(main, form);
    token.focus();
    return;
  }
  if (s === 'pairing') {
    fill(main, h('div.card',
      h('h1', 'Waiting for approval'),
      h('p', 'This browser is a new device for this gateway. Approve it from a signed-in Control UI (Approvals) or the CLI:'),
      h('pre', `clawgate call device.pair.approve --params '{"requestId":"${gw.stateDetail}"}'`),
      h('p.hint', 'It connects by itself once approved.')));
    return;
  }
  fill(main, h('div.card.offline', h('h1', s === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'),
    h('p', 'The Control UI connects to the gateway over a WebSocket at ', h('code', wsUrl), '.')));
}

function renderState(state, detail) {
  const labels = { idle: 'idle', connecting: 'connecting…', connected: 'connected', reconnecting: 'reconnecting…', unauthorized: 'signed out', pairing: 'pairing required' };
  statusEl.textContent = labels[state] ?? state;
  statusEl.dataset.state = state;
  document.getElementById('signout').hidden = state !== 'connected' || !localStorage.getItem(TOKEN_KEY);
  banner.hidden = state !== 'reconnecting';
  if (state === 'reconnecting') {
    fill(banner, `Disconnected from the gateway${detail ? ` (${detail})` : ''}. Retrying in ${(gw.retryInMs / 1000).toFixed(1)} s. `,
      h('button', { type: 'button', onclick: () => gw.reconnectNow() }, 'Retry now'));
  }
  if (state === 'connected') {
    nav.hidden = false;
    mountView();
  } else if (state !== 'connecting' || !current) {
    unmountView();
    renderOffline();
  }
}

function applyTheme() {
  const theme = localStorage.getItem(THEME_KEY) || 'system';
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const btn = document.getElementById('theme');
  btn.title = `Theme: ${theme === 'system' ? 'follows the system' : theme} (click to change)`;
  btn.setAttribute('aria-label', btn.title);
}

function boot() {
  takeFragmentCredentials();
  applyTheme();
  document.getElementById('theme').addEventListener('click', () => {
    const order = ['system', 'light', 'dark'];
    const now = localStorage.getItem(THEME_KEY) || 'system';
    localStorage.setItem(THEME_KEY, order[(order.indexOf(now) + 1) % order.length]);
    applyTheme();
  });
  document.getElementById('signout').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(PASSWORD_KEY);
    gw.setCredentials({});
  });
  window.addEventListener('hashchange', () => {
    takeFragmentCredentials();
    if (gw.state === 'connected') mountView();
    main.focus({ preventScroll: true });
  });
  renderNav();
  gw.onState(renderState);
  gw.token = localStorage.getItem(TOKEN_KEY) || '';
  gw.password = localStorage.getItem(PASSWORD_KEY) || '';
  gw.start();
  // Approvals waiting anywhere show as a badge on the Approvals link.
  const refreshApprovals = async () => {
    if (gw.state !== 'connected') return;
    let n = 0;
    if (gw.can('exec.approval.list')) n += (await gw.request('exec.approval.list', {}).catch(() => []))?.length ?? 0;
    if (gw.can('device.pair.list')) n += (await gw.request('device.pair.list', {}).catch(() => ({})))?.pending?.length ?? 0;
    setBadge('approvals', n);
  };
  gw.onState((s) => { if (s === 'connected') refreshApprovals(); });
  for (const ev of ['exec.approval.requested', 'exec.approval.resolved', 'device.pair.requested', 'device.pair.resolved']) gw.on(ev, refreshApprovals);
}

boot();
