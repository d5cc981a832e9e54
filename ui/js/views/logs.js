// Logs: a live tail of the gateway's JSON-lines log with a filter.
//
// It subscribes first (logs.subscribe: new lines then arrive as `logs.appended` events,
// {lines, cursor, reset, dropped}), then reads the newest lines with logs.tail. Events
// that overlap the tail (cursor not past the tail's, and not a new file) are skipped, so
// nothing shows twice and nothing between the two is lost. No polling. At most MAX_LINES
// are kept. Pause holds new lines back (counted) until resume; auto-scroll follows the
// newest line. The filter matches text anywhere in the line (case-insensitive) and a
// minimum level; it only hides lines, it does not drop them.

import { h, fill } from '../dom.js';

const MAX_LINES = 2000;
const TAIL_LINES = 500;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

function parse(text) {
  try {
    const o = JSON.parse(text);
    const { time, level, subsystem, message, ...rest } = o;
    return { text, lower: text.toLowerCase(), time, level: String(level ?? 'info'), subsystem, message, rest };
  } catch {
    return { text, lower: text.toLowerCase(), level: 'info', message: text, rest: {} };
  }
}

export default {
  title: 'Logs',
  methods: ['logs.tail', 'logs.subscribe'],
  async mount(ctx, el) {
    const live = ctx.gw.can('logs.subscribe');
    let lines = [];
    let held = [];
    let paused = false;
    let tailCursor = null; // set once the tail has answered: events up to it are in the tail
    let early = []; // events received before that
    let overlap = true; // still skipping events covered by the tail

    const filter = h('input#logs-filter', { type: 'search', placeholder: 'text in the line', autocomplete: 'off', oninput: renderAll });
    const level = h('select#logs-level', { onchange: renderAll }, h('option', { value: '' }, 'all levels'),
      LEVELS.slice(1, 5).map((l) => h('option', { value: l }, `${l} and above`)));
    const pause = h('button#logs-pause', { type: 'button', 'aria-pressed': 'false', onclick: togglePause }, 'Pause');
    const follow = h('input#logs-follow', { type: 'checkbox', checked: true, onchange: () => follow.checked && scrollEnd() });
    const count = h('span#logs-count.muted', { role: 'status' });
    const list = h('div#logs-list.logs-list', { role: 'log', 'aria-label': 'Gateway log', tabindex: '0' });
    el.append(h('div',
      h('div.row.logs-tools',
        h('label', 'Filter ', filter),
        h('label', 'Level ', level),
        pause,
        h('label.logs-follow', follow, ' Auto-scroll'),
        count),
      live ? null : h('p.hint', 'This gateway has no logs.subscribe: showing the lines read at load only.')), list);

    function matches(l) {
      const q = filter.value.trim().toLowerCase();
      const min = LEVELS.indexOf(level.value);
      if (min > 0 && LEVELS.indexOf(l.level) < min) return false;
      return !q || l.lower.includes(q);
    }
    function row(l) {
      if (l.gap) return h('div.logs-gap', l.gap);
      const extra = Object.keys(l.rest).length ? JSON.stringify(l.rest) : '';
      return h(`div.logs-line.lv-${LEVELS.includes(l.level) ? l.level : 'info'}`,
        h('time', l.time ? l.time.slice(11, 23) : ''), ' ',
        h('span.logs-level', l.level), ' ',
        l.subsystem ? h('span.logs-sub', `${l.subsystem}: `) : null,
        h('span.logs-msg', l.message ?? ''),
        extra ? h('span.logs-extra', ` ${extra}`) : null);
    }
    function updateCount() {
      const shown = list.childElementCount;
      count.textContent = `${lines.length} lines, ${shown} shown${held.length ? `, ${held.length} new while paused` : ''}`;
    }
    function scrollEnd() {
      list.scrollTop = list.scrollHeight;
    }
    function renderAll() {
      fill(list, lines.filter((l) => l.gap || matches(l)).map(row));
      updateCount();
      if (follow.checked) scrollEnd();
    }
    function add(newLines) {
      if (!newLines.length) return;
      lines.push(...newLines);
      if (lines.length > MAX_LINES) {
        lines = lines.slice(-MAX_LINES);
        renderAll();
        return;
      }
      list.append(...newLines.filter((l) => l.gap || matches(l)).map(row));
      updateCount();
      if (follow.checked) scrollEnd();
    }
    function togglePause() {
      paused = !paused;
      pause.textContent = paused ? 'Resume' : 'Pause';
      pause.setAttribute('aria-pressed', String(paused));
      if (!paused) {
        const h2 = held;
        held = [];
        add(h2);
      }
      updateCount();
    }
    function onAppended(p) {
      if (tailCursor === null) {
        early.push(p);
        return;
      }
      if (overlap && !p.reset && p.cursor <= tailCursor) return;
      overlap = false;
      const next = (p.dropped ? [{ gap: `… ${p.dropped} line(s) not received here (read them with logs.tail)` }] : [])
        .concat((p.lines ?? []).map(parse));
      if (paused) {
        held.push(...next);
        if (held.length > MAX_LINES) held = held.slice(-MAX_LINES);
        updateCount();
      } else {
        add(next);
      }
    }

    if (live) {
      ctx.on('logs.appended', onAppended);
      await ctx.request('logs.subscribe', {});
    }
    let tail;
    try {
      tail = await ctx.request('logs.tail', { limit: TAIL_LINES });
    } catch (err) {
      // No unmount is registered when mount fails: end the subscription here.
      if (live) ctx.request('logs.unsubscribe', {}).catch(() => {});
      throw err;
    }
    lines = tail.lines.map(parse);
    tailCursor = tail.cursor;
    renderAll();
    for (const p of early.splice(0)) onAppended(p);

    return () => {
      if (live && ctx.gw.state === 'connected') ctx.request('logs.unsubscribe', {}).catch(() => {});
    };
  },
};
