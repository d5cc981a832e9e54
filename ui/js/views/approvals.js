// Approvals: what waits for an operator's yes or no. Two live queues:
//  - exec approvals (exec.approval.list, then exec.approval.requested / resolved events):
//    each shows the command, cwd, host or node, agent and expiry, with the decisions the
//    gateway allows for it (allowedDecisions: allow-once, allow-always, deny), answered
//    with exec.approval.resolve. The gateway sends no event when an approval expires, so
//    each item drops itself at its expiresAtMs; the "expires in" texts refresh on `tick`.
//  - device pairing requests (device.pair.list, re-read on device.pair.requested /
//    resolved), approved or rejected with device.pair.approve / reject.
// The view keeps the Approvals badge in step with what it shows.

import { h, fill, ago, busy } from '../dom.js';

const DECISIONS = [['allow-once', 'Allow once', 'primary'], ['allow-always', 'Always allow', ''], ['deny', 'Deny', 'danger']];

export default {
  title: 'Approvals',
  methods: ['exec.approval.list', 'device.pair.list'],
  async mount(ctx, el) {
    const execEl = h('div#exec-approvals.queue');
    const devicesEl = h('div#device-pairings.queue');
    el.append(h('h2', 'Exec approvals'), execEl, h('h2', 'Device pairing'), devicesEl);
    const approvals = new Map(); // id -> {id, request, createdAtMs, expiresAtMs}
    const expiry = new Map(); // id -> timer
    let devices = [];

    const badge = () => ctx.setBadge('approvals', approvals.size + devices.length);

    const drop = (id) => {
      clearTimeout(expiry.get(id));
      expiry.delete(id);
      if (approvals.delete(id)) renderExec();
    };
    const add = (a) => {
      if (!a?.id || a.expiresAtMs <= Date.now()) return;
      approvals.set(a.id, a);
      clearTimeout(expiry.get(a.id));
      expiry.set(a.id, setTimeout(() => drop(a.id), Math.min(a.expiresAtMs - Date.now(), 2 ** 31 - 1)));
    };

    const resolve = (a, decision, label, btn) => busy(btn, async () => {
      await ctx.request('exec.approval.resolve', { id: a.id, decision });
      ctx.toast(`${label}: ${commandOf(a.request)}`);
      drop(a.id);
    }, ctx.toast);

    const renderExec = () => {
      const items = [...approvals.values()].sort((x, y) => x.createdAtMs - y.createdAtMs);
      fill(execEl, items.length ? items.map((a) => {
        const r = a.request ?? {};
        const allowed = r.allowedDecisions ?? DECISIONS.map(([d]) => d);
        return h('article.card.pending', { id: `approval-${a.id}`, dataset: { approvalId: a.id }, 'aria-label': `Exec approval: ${commandOf(r)}` },
          h('pre.command', commandOf(r)),
          r.warningText ? h('p.error', r.warningText) : null,
          h('dl.facts',
            fact('Directory', cwdOf(r) ?? '—'),
            fact('Host', r.host === 'node' && r.nodeId ? `node ${r.nodeId}` : r.host ?? '—'),
            r.agentId ? fact('Agent', r.agentId) : null,
            r.sessionKey ? fact('Session', r.sessionKey) : null,
            fact('Expires', h('time', { dateTime: new Date(a.expiresAtMs).toISOString(), dataset: { ms: a.expiresAtMs } }, ago(a.expiresAtMs)))),
          h('div.row.actions', DECISIONS.filter(([d]) => allowed.includes(d))
            .map(([d, label, cls]) => button(label, cls, (btn) => resolve(a, d, label, btn)))));
      }) : h('p.empty', 'No exec approvals waiting.'));
      badge();
    };

    const decide = (p, approve, btn) => busy(btn, async () => {
      await ctx.request(approve ? 'device.pair.approve' : 'device.pair.reject', { requestId: p.requestId });
      ctx.toast(`${approve ? 'Approved' : 'Rejected'} ${deviceName(p)}`);
      devices = devices.filter((d) => d.requestId !== p.requestId);
      renderDevices();
    }, ctx.toast);

    const renderDevices = () => {
      fill(devicesEl, devices.length ? devices.map((p) => h('article.card.pending', { id: `pairing-${p.requestId}`, 'aria-label': `Pairing request: ${deviceName(p)}` },
        h('strong', deviceName(p)),
        h('dl.facts',
          fact('Device', p.deviceId.slice(0, 16)),
          fact('Role', (p.roles ?? [p.role]).join(', ')),
          fact('Scopes', p.scopes?.length ? p.scopes.join(', ') : 'none'),
          p.platform ? fact('Platform', p.platform) : null,
          p.remoteIp ? fact('Address', p.remoteIp) : null,
          fact('Asked', ago(p.ts)),
          p.isRepair ? fact('Note', 'asks again (repair or upgrade)') : null),
        h('div.row.actions', button('Approve', 'primary', (btn) => decide(p, true, btn)), button('Reject', 'danger', (btn) => decide(p, false, btn)))))
        : h('p.empty', 'No devices waiting for pairing.'));
      badge();
    };

    const loadDevices = async () => {
      devices = (await ctx.request('device.pair.list', {})).pending ?? [];
      renderDevices();
    };

    for (const a of await ctx.request('exec.approval.list', {})) add(a);
    renderExec();
    await loadDevices();
    ctx.on('exec.approval.requested', (a) => { add(a); renderExec(); });
    ctx.on('exec.approval.resolved', (e) => drop(e?.id));
    ctx.on('device.pair.requested', () => loadDevices().catch((err) => ctx.toast(err.message, 'error')));
    ctx.on('device.pair.resolved', () => loadDevices().catch((err) => ctx.toast(err.message, 'error')));
    ctx.on('tick', () => { for (const t of execEl.querySelectorAll('time')) t.textContent = ago(Number(t.dataset.ms)); });
    return () => { for (const t of expiry.values()) clearTimeout(t); };
  },
};

function fact(term, value) {
  return [h('dt', term), h('dd', value)];
}

function button(label, cls, onclick) {
  const btn = h(cls ? `button.${cls}` : 'button', { type: 'button', onclick: () => onclick(btn) }, label);
  return btn;
}

function commandOf(r) {
  return r?.command || (r?.systemRunPlan?.argv ?? r?.commandArgv ?? []).join(' ') || '(no command)';
}

function cwdOf(r) {
  return r?.systemRunPlan?.cwd ?? r?.cwd;
}

function deviceName(p) {
  return p.displayName || p.clientId || `device ${p.deviceId.slice(0, 12)}`;
}
