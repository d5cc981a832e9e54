// Nodes: the machines that run commands for the gateway.
//  - Pending pairings, either way a node waits: its command surface (node.pair.list:
//    the caps and commands it asks to expose, approved with node.pair.approve / reject)
//    or its device (device.pair.list entries asking for role node, when the node is not
//    auto-approved as a local device: device.pair.approve / reject). Re-read on
//    node.pair.* and device.pair.* events.
//  - Known nodes (node.list: connected, paired, approval state, caps, commands), re-read
//    on node.pair.* events and on `presence` (a node connecting or leaving changes it).
//  - One node's details (node.describe; then kept current from node.list's entry, which
//    is the same record) and, when it is connected with approved commands, a form that
//    runs one of them with JSON params (node.invoke) and shows what the node answered.

import { h, fill, ago, busy, table } from '../dom.js';

export default {
  title: 'Nodes',
  methods: ['node.list', 'node.describe', 'node.pair.list', 'node.invoke'],
  async mount(ctx, el) {
    const pendingEl = h('div#node-pairings');
    const listEl = h('div#node-list');
    const infoEl = h('div');
    const invokeEl = h('div', { hidden: true });
    const detailEl = h('section#node-detail.card', { hidden: true, 'aria-labelledby': 'node-detail-title' }, infoEl, invokeEl);
    el.append(h('h2', 'Pending pairings'), pendingEl, h('h2', 'Nodes'), listEl, detailEl);
    let nodes = [];
    let selected = null; // nodeId shown in the details
    let invoke = null; // the invoke form of the selected node: {nodeId, select, params, timeout, result}
    const fail = (err) => ctx.toast(err.message || String(err), 'error');

    const decide = (p, approve, btn) => busy(btn, async () => {
      const method = `${p.kind}.pair.${approve ? 'approve' : 'reject'}`;
      await ctx.request(method, { requestId: p.requestId });
      ctx.toast(`${approve ? 'Approved' : 'Rejected'} ${nodeName(p)}`);
      reloadPending();
      reloadNodes();
    }, ctx.toast);

    const loadPending = latest(async () => {
      const [surfaces, devices] = await Promise.all([
        ctx.request('node.pair.list', {}),
        ctx.gw.can('device.pair.list') ? ctx.request('device.pair.list', {}) : { pending: [] },
      ]);
      return [
        ...surfaces.pending.map((p) => ({ ...p, kind: 'node' })),
        ...devices.pending.filter((p) => (p.roles ?? [p.role]).includes('node')).map((p) => ({ ...p, nodeId: p.deviceId, kind: 'device' })),
      ];
    }, (pending) => fill(pendingEl, table([
      ['Node', (p) => [h('strong', nodeName(p)), h('div.muted', p.nodeId.slice(0, 16))]],
      ['Asks for', (p) => (p.kind === 'device'
        ? `device pairing as a node${p.remoteIp ? ` from ${p.remoteIp}` : ''}`
        : [list('Commands', p.commands), list('Caps', p.caps),
          p.requiredApproveScopes?.includes('operator.admin') ? h('div.hint', 'approving needs operator.admin') : null])],
      ['Asked', (p) => ago(p.ts)],
      ['Actions', (p) => h('div.row', btn('Approve', 'primary', (b) => decide(p, true, b)), btn('Reject', 'danger', (b) => decide(p, false, b)))],
    ], pending, { empty: 'No node is waiting for approval.', rowAttrs: (p) => ({ dataset: { requestId: p.requestId } }) })));

    const loadNodes = latest(async () => (await ctx.request('node.list', {})).nodes, (list) => {
      nodes = list;
      fill(listEl, table([
        ['Node', (n) => [h('strong', nodeName(n)), h('div.muted', n.nodeId.slice(0, 16))]],
        ['State', (n) => [h(n.connected ? 'span.ok' : 'span.muted', n.connected ? 'connected' : 'offline'), h('div.muted', n.approvalState ?? (n.paired ? 'paired' : 'unpaired'))]],
        ['Platform', (n) => n.platform ?? '—'],
        ['Commands', (n) => (n.commands?.length ? n.commands.join(', ') : '—')],
        ['Seen', (n) => (n.connected ? 'now' : ago(n.lastSeenAtMs))],
        ['Actions', (n) => btn('Details', '', () => describe(n.nodeId), `Details of ${nodeName(n)}`)],
      ], nodes, { empty: 'No nodes yet. Start one with `openclaw node run` pointed at this gateway.', rowAttrs: (n) => ({ dataset: { nodeId: n.nodeId } }) }));
      const shown = selected && nodes.find((n) => n.nodeId === selected);
      if (shown) renderDetail(shown);
    });

    const describe = (nodeId) => ctx.request('node.describe', { nodeId }).then((d) => {
      selected = nodeId;
      renderDetail(d);
      detailEl.scrollIntoView?.({ block: 'nearest' });
    }, fail);

    const renderDetail = (d) => {
      detailEl.hidden = false;
      fill(infoEl, h('h2#node-detail-title', nodeName(d)), h('dl.facts',
        fact('Node id', h('code', d.nodeId)),
        fact('State', `${d.connected ? 'connected' : 'offline'}, ${d.approvalState ?? '—'}${d.paired ? ', paired' : ''}`),
        fact('Platform', [d.platform, d.deviceFamily, d.version].filter(Boolean).join(' · ') || '—'),
        d.remoteIp ? fact('Address', d.remoteIp) : null,
        fact('Caps', d.caps?.join(', ') || '—'),
        fact('Commands', d.commands?.join(', ') || '—'),
        d.pendingDeclaredCommands ? fact('Asks for', d.pendingDeclaredCommands.join(', ')) : null,
        d.connectedAtMs ? fact('Connected', ago(d.connectedAtMs)) : fact('Last seen', ago(d.lastSeenAtMs)),
        d.approvedAtMs ? fact('Approved', ago(d.approvedAtMs)) : null));
      const commands = d.connected ? d.commands ?? [] : [];
      invokeEl.hidden = !commands.length;
      if (!commands.length) return;
      if (invoke?.nodeId !== d.nodeId) buildInvoke(d.nodeId);
      const keep = invoke.select.value;
      fill(invoke.select, commands.map((c) => h('option', { value: c }, c)));
      if (commands.includes(keep)) invoke.select.value = keep;
    };

    const buildInvoke = (nodeId) => {
      const select = h('select#invoke-command', { required: true });
      const params = h('textarea#invoke-params.mono', { rows: 4, spellcheck: false }, '{}');
      const timeout = h('input#invoke-timeout', { type: 'number', min: 1, max: 600000, value: 30000, inputMode: 'numeric' });
      const result = h('pre#invoke-result', { hidden: true, 'aria-live': 'polite' });
      const submit = h('button.primary', { type: 'submit' }, 'Invoke');
      const form = h('form.invoke', {
        onsubmit: (e) => {
          e.preventDefault();
          let p;
          try { p = JSON.parse(params.value.trim() || '{}'); } catch (err) { ctx.toast(`Params are not valid JSON: ${err.message}`, 'error'); return; }
          const timeoutMs = Number(timeout.value) || 30000;
          busy(submit, async () => {
            result.hidden = false;
            result.classList.remove('error');
            fill(result, `Running ${select.value}…`);
            try {
              // The gateway answers by its own deadline; a system.run may first wait for an
              // exec approval (Approvals), so the page waits longer than timeoutMs.
              const res = await ctx.request('node.invoke', { nodeId, command: select.value, params: p, timeoutMs, idempotencyKey: uuid() }, { timeoutMs: timeoutMs + 300000 });
              const payload = res.payload !== undefined ? res.payload : res.payloadJSON ? JSON.parse(res.payloadJSON) : null;
              fill(result, JSON.stringify(payload, null, 2));
            } catch (err) {
              result.classList.add('error');
              fill(result, `${err.code ?? 'ERROR'}: ${err.message}`);
              throw err;
            }
          }, ctx.toast);
        },
      },
      h('h3', 'Invoke a command'),
      h('label', 'Command ', select),
      h('label', 'Params (JSON)', params),
      h('label', 'Timeout (ms) ', timeout),
      h('div.row', submit), result);
      fill(invokeEl, form);
      invoke = { nodeId, select, params, timeout, result };
    };

    const reloadPending = () => loadPending().catch(fail);
    const reloadNodes = () => loadNodes().catch(fail);
    await Promise.all([loadPending(), loadNodes()]);
    for (const ev of ['node.pair.requested', 'node.pair.resolved']) ctx.on(ev, () => { reloadPending(); reloadNodes(); });
    for (const ev of ['device.pair.requested', 'device.pair.resolved']) ctx.on(ev, reloadPending);
    ctx.on('presence', reloadNodes);
    if (ctx.params.node) await describe(ctx.params.node);
  },
};

/** Wraps a loader so that, when calls overlap, only the newest one's result is rendered. */
function latest(load, render) {
  let seq = 0;
  return async () => {
    const mine = ++seq;
    const value = await load();
    if (mine === seq) render(value);
  };
}

function nodeName(n) {
  return n.displayName || n.clientId || `node ${n.nodeId.slice(0, 12)}`;
}

function fact(term, value) {
  return [h('dt', term), h('dd', value)];
}

function list(label, items) {
  return items?.length ? h('div', h('span.muted', `${label}: `), items.join(', ')) : null;
}

function btn(label, cls, onclick, name) {
  const b = h(cls ? `button.${cls}` : 'button', { type: 'button', 'aria-label': name, onclick: () => onclick(b) }, label);
  return b;
}

function uuid() {
  return crypto.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
