// Small DOM helpers shared by the views: h() builds elements (text is always set as
// text, never parsed as HTML, so gateway data cannot inject markup), plus formatting.

/** h('button.primary', {onclick, disabled: true, dataset: {x: 1}}, 'Save', child, [more]) */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const [tagName, id] = name.split('#');
  const el = document.createElement(tagName || 'div');
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function ago(ms) {
  if (!ms) return '—';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 0) return `in ${duration(-s * 1000)}`;
  if (s < 5) return 'just now';
  return `${duration(s * 1000)} ago`;
}

export function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function time(ms) {
  return ms ? new Date(ms).toLocaleString() : '—';
}

/** A labelled table from rows: columns = [[title, row => cell], ...]. */
export function table(columns, rows, { empty = 'Nothing here yet.', rowAttrs } = {}) {
  if (!rows.length) return h('p.empty', empty);
  return h('div.table-wrap',
    h('table',
      h('thead', h('tr', columns.map(([title]) => h('th', { scope: 'col' }, title)))),
      h('tbody', rows.map((row) => h('tr', rowAttrs?.(row) ?? null, columns.map(([, cell]) => h('td', cell(row))))))));
}

/** Runs fn (a promise-returning action) with btn disabled meanwhile; errors go to toast. */
export async function busy(btn, fn, toast) {
  if (btn) btn.disabled = true;
  try {
    return await fn();
  } catch (err) {
    toast?.(err.message || String(err), 'error');
    return undefined;
  } finally {
    if (btn) btn.disabled = false;
  }
}
