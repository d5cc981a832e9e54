// Overview: the gateway at a glance. Health, version and uptime come from hello-ok's
// snapshot and `status`; presence (who is connected) from `system-presence` and then from
// `presence` events; readiness failures from GET /readyz, read again on each `health`
// event and `presence` change rather than on a timer.

import { h, fill, duration, ago, table } from '../dom.js';

export default {
  title: 'Overview',
  methods: ['status', 'system-presence'],
  async mount(ctx, el) {
    const stats = h('div.grid');
    const ready = h('div.card');
    const presence = h('div');
    el.append(stats, h('h2', 'Readiness'), ready, h('h2', 'Connected clients'), presence);
    let status = null;
    let entries = ctx.gw.hello?.snapshot?.presence ?? [];
    const startedAt = Date.now() - (ctx.gw.hello?.snapshot?.uptimeMs ?? 0);

    const stat = (label, value) => h('div.stat', h('div.label', label), h('div.value', value));
    const renderStats = () => {
      const clients = entries.filter((p) => p.mode !== 'gateway');
      fill(stats,
        stat('Version', ctx.gw.hello?.server?.version ?? '—'),
        stat('Uptime', duration(Date.now() - startedAt)),
        stat('Health', status?.eventLoop?.degraded ? 'degraded' : 'ok'),
        stat('Connections', String(clients.length)),
        stat('Sessions', String(status?.sessions?.count ?? '—')),
        stat('Memory', status?.processMemory?.rssBytes ? `${(status.processMemory.rssBytes / 1048576).toFixed(1)} MB` : '—'));
    };
    const renderPresence = () => {
      renderStats();
      fill(presence, table([
        ['Client', (p) => p.host ?? p.instanceId ?? '—'],
        ['Mode', (p) => p.mode ?? '—'],
        ['Version', (p) => p.version ?? '—'],
        ['Platform', (p) => p.platform ?? '—'],
        ['Seen', (p) => ago(p.ts)],
      ], entries, { empty: 'No clients.' }));
    };
    const loadReadiness = async () => {
      try {
        const r = await (await fetch('/readyz', { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(10000)]), cache: 'no-store' })).json();
        fill(ready, r.ready ? h('span.ok', 'Ready') : h('span.error', 'Not ready'),
          r.failing?.length ? h('ul', r.failing.map((f) => h('li', typeof f === 'string' ? f : JSON.stringify(f)))) : h('p.muted', 'No failing checks.'));
      } catch (err) {
        if (err.name !== 'AbortError') fill(ready, h('span.error', `readiness unknown: ${err.message}`));
      }
    };

    status = await ctx.request('status', {});
    entries = await ctx.request('system-presence', {});
    renderPresence();
    loadReadiness();
    ctx.on('presence', (p) => {
      if (Array.isArray(p?.presence)) entries = p.presence;
      renderPresence();
      loadReadiness();
    });
    ctx.on('health', () => loadReadiness());
    // Uptime is a clock, not a list: it ticks with the gateway's own `tick` event.
    ctx.on('tick', renderStats);
  },
};
