// Sessions: every agent's sessions, newest first. Loaded once with sessions.list (after
// sessions.subscribe), then kept from events: sessions.changed (create, patch, reset,
// compact, delete, ... with the row, except for a delete) and session.message (a
// committed transcript entry, with the session's new row). Per session: open it in Chat,
// preview its last messages (sessions.preview), compact it (sessions.compact), and reset
// (sessions.reset) or delete (sessions.delete) it after a confirmation in the page.

import { h, fill, ago, table, busy } from '../dom.js';

const PREVIEW_ITEMS = 20;

export default {
  title: 'Sessions',
  methods: ['sessions.list', 'sessions.subscribe', 'sessions.preview', 'sessions.reset', 'sessions.delete', 'sessions.compact'],
  async mount(ctx, el) {
    const rows = new Map(); // key -> SessionRow
    let filter = '';
    let confirming = null; // {key, action}
    let previewKey = null;
    const search = h('input#sessions-filter', { type: 'search', placeholder: 'Filter by key or label', 'aria-label': 'Filter sessions' });
    const count = h('span#sessions-count.muted');
    const list = h('div#sessions-list');
    const preview = h('div#session-preview.card', { hidden: true, 'aria-live': 'polite' });
    el.append(h('div.row.sessions-bar', search, count), list, preview);

    const label = (r) => r.label ?? r.displayName ?? r.key.split(':').slice(2).join(':');

    const act = (btn, fn, done) => busy(btn, async () => {
      const res = await fn();
      if (done) ctx.toast(done(res), 'info');
    }, ctx.toast);

    const actions = (r) => {
      if (confirming?.key === r.key) {
        const what = confirming.action;
        const yes = h('button#session-confirm.danger', {
          type: 'button',
          onclick: () => act(yes, async () => {
            confirming = null;
            if (what === 'delete') await ctx.request('sessions.delete', { key: r.key });
            else await ctx.request('sessions.reset', { key: r.key, reason: 'reset' });
            render();
          }, () => (what === 'delete' ? `Deleted ${r.key}.` : `Reset ${r.key}: a new transcript.`)),
        }, what === 'delete' ? 'Delete for good' : 'Reset transcript');
        const no = h('button', { type: 'button', onclick: () => { confirming = null; render(); } }, 'Cancel');
        queueMicrotask(() => no.focus());
        return h('div.row.confirm', { role: 'group', 'aria-label': `Confirm ${what} of ${r.key}` },
          h('span', what === 'delete' ? 'Delete this session and its transcript?' : 'Start this session over with an empty transcript?'), yes, no);
      }
      const name = label(r);
      const compact = h('button', {
        type: 'button', 'aria-label': `Compact ${name}`,
        onclick: () => act(compact, () => ctx.request('sessions.compact', { key: r.key }),
          (res) => (res.compacted ? `Compacted ${name}: kept the newest ${res.kept} messages.` : `Nothing to compact in ${name}${res.kept ? ` (${res.kept} messages)` : ''}.`)),
      }, 'Compact');
      return h('div.row.actions',
        h('button', { type: 'button', 'aria-label': `Open ${name} in chat`, onclick: () => ctx.navigate('chat', { session: r.key }) }, 'Open'),
        h('button', { type: 'button', 'aria-label': `Preview ${name}`, 'aria-pressed': String(previewKey === r.key), onclick: () => showPreview(r.key) }, 'Preview'),
        compact,
        h('button', { type: 'button', 'aria-label': `Reset ${name}`, onclick: () => { confirming = { key: r.key, action: 'reset' }; render(); } }, 'Reset'),
        r.isMain ? null : h('button.danger', { type: 'button', 'aria-label': `Delete ${name}`, onclick: () => { confirming = { key: r.key, action: 'delete' }; render(); } }, 'Delete'));
    };

    const render = () => {
      const f = filter.toLowerCase();
      const shown = [...rows.values()]
        .filter((r) => !f || r.key.includes(f) || (r.label ?? '').toLowerCase().includes(f))
        .sort((a, b) => (b.updatedAt ?? 0) - (a.updatedAt ?? 0));
      count.textContent = `${shown.length} of ${rows.size}`;
      fill(list, table([
        ['Session', (r) => h('div', h('strong', label(r)), h('div.muted.mono-small', r.key), r.status === 'running' ? h('span.chip.live', 'running') : null)],
        ['Last message', (r) => h('span.session-last', r.lastMessagePreview ?? '—')],
        ['Updated', (r) => ago(r.updatedAt)],
        ['Tokens', (r) => String(r.totalTokens ?? 0)],
        ['', actions],
      ], shown, { empty: rows.size ? 'No session matches.' : 'No sessions yet. Start one in Chat.', rowAttrs: (r) => ({ dataset: { key: r.key } }) }));
    };

    const showPreview = async (key) => {
      if (previewKey === key) {
        previewKey = null;
        preview.hidden = true;
        render();
        return;
      }
      previewKey = key;
      render();
      preview.hidden = false;
      fill(preview, h('h2', `Preview: ${key}`), h('p.muted', 'Loading…'));
      try {
        const res = await ctx.request('sessions.preview', { keys: [key], limit: PREVIEW_ITEMS, maxChars: 800 });
        if (previewKey !== key) return;
        const items = res.previews?.[0]?.items ?? [];
        fill(preview, h('h2', `Preview: ${label(rows.get(key) ?? { key })}`),
          items.length ? h('ol.preview-items', items.map((it) => h('li', { dataset: { role: it.role } }, h('span.role', it.role), ' ', it.text)))
            : h('p.empty', 'This session has no messages.'));
      } catch (err) {
        if (previewKey === key) fill(preview, h('p.error', err.message));
      }
    };

    const upsert = (p) => {
      if (p.reason === 'delete') {
        rows.delete(p.sessionKey);
        if (previewKey === p.sessionKey) {
          previewKey = null;
          preview.hidden = true;
        }
      } else if (p.session) {
        rows.set(p.sessionKey, p.session);
      } else return;
      if (confirming && !rows.has(confirming.key)) confirming = null;
      render();
      // A preview shown for a session that changed is read again.
      if (previewKey === p.sessionKey) {
        const key = previewKey;
        previewKey = null;
        showPreview(key);
      }
    };

    search.addEventListener('input', () => {
      filter = search.value.trim();
      render();
    });
    ctx.on('sessions.changed', upsert);
    ctx.on('session.message', (p) => upsert({ sessionKey: p.sessionKey, session: p.session }));

    const res = await ctx.request('sessions.subscribe', { includeLastMessage: true });
    for (const r of res.list?.sessions ?? []) rows.set(r.key, r);
    render();
  },
};
