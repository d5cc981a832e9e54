// Config: the gateway's configuration as a form and as raw JSON text.
//
// The form is built from `config.schema`: one collapsible section per top-level key,
// a field for every scalar leaf the schema names (string, number, integer, boolean,
// enum), labelled and explained by uiHints (label, help; sensitive fields are password
// inputs that show only whether a secret is set; order/group when given). Arrays,
// objects under "*" keys and anything else are edited in the raw editor. Values come
// from `config.get` ({config, raw, hash, valid, issues}); an empty field means "not
// set" (the default shows as placeholder).
// Saving the form sends only what changed as a merge patch (config.patch), the raw
// editor the whole text (config.set), both with baseHash = the hash read. A stale hash
// (CONFIG_HASH_MISMATCH: someone else wrote the file) shows a conflict with a reload;
// refused values (INVALID_CONFIG details.issues) show next to the fields and in a list.
// A config.changed event (someone else wrote the file) reloads the view when nothing is
// being edited here; with unsaved edits it says so (#config-stale) and keeps them.

import { h, fill, busy } from '../dom.js';

const REDACTED = '__OPENCLAW_REDACTED__';
const SCALARS = ['string', 'number', 'integer', 'boolean'];

const typeOf = (s) => (Array.isArray(s.type) ? s.type.find((t) => SCALARS.includes(t)) : s.type) ?? (s.enum ? 'string' : null);
const get = (obj, path) => path.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
const fieldId = (path) => `cfg-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;

export default {
  title: 'Config',
  methods: ['config.get', 'config.schema', 'config.patch', 'config.set'],
  async mount(ctx, el) {
    let snap = null; // config.get
    let rawShown = ''; // the raw text as loaded, to tell an edit
    let writing = false; // our own write's config.changed is not news
    let mode = ctx.params.mode === 'raw' ? 'raw' : 'form';
    const [schemaRes] = await Promise.all([ctx.request('config.schema', {}), load()]);
    const schema = schemaRes.schema ?? {};
    const hints = schemaRes.uiHints ?? {};
    const fields = new Map(); // path -> {input, type, sensitive, err}

    const meta = h('p#config-meta.muted');
    const conflict = h('div#config-conflict.card.config-conflict', { role: 'alert', hidden: true },
      h('strong', 'The configuration changed since it was loaded. '),
      'Someone else saved it meanwhile, so your save was refused. Reload to see the current version (your unsaved edits here are discarded), then make your change again. ',
      h('button#config-reload-conflict', { type: 'button', onclick: (e) => busy(e.target, reload, ctx.toast) }, 'Reload'));
    const stale = h('div#config-stale.card.config-conflict', { role: 'status', hidden: true },
      'The configuration was changed elsewhere while you were editing. Saving now will be refused; ',
      h('button#config-reload-stale', { type: 'button', onclick: (e) => busy(e.target, reload, ctx.toast) }, 'Reload'),
      ' to see it (your unsaved edits here are discarded).');
    const issues = h('div#config-issues.card.config-issues', { role: 'alert', hidden: true });
    const tabs = h('div.row.config-tabs', { role: 'group', 'aria-label': 'Editor' },
      h('button#config-tab-form', { type: 'button', onclick: () => setMode('form') }, 'Form'),
      h('button#config-tab-raw', { type: 'button', onclick: () => setMode('raw') }, 'Raw JSON'),
      h('span.spacer'),
      h('button#config-reload', { type: 'button', onclick: (e) => busy(e.target, reload, ctx.toast) }, 'Reload'));

    const sections = h('div.config-sections');
    const saveForm = h('button#config-save.primary', { type: 'submit', disabled: true }, 'Save');
    const form = h('form#config-form.config-form', { 'aria-label': 'Configuration form', novalidate: true, onsubmit: (e) => { e.preventDefault(); saveForm.disabled = true; busy(null, submitForm, ctx.toast).finally(updateDirty); } },
      sections, h('div.row.config-actions', saveForm, h('span.muted', 'Only changed fields are written.')));
    const raw = h('textarea#config-raw.mono', { rows: 24, spellcheck: false, 'aria-label': 'Configuration as JSON' });
    const saveRaw = h('button#config-save-raw.primary', { type: 'submit' }, 'Save');
    const rawForm = h('form#config-raw-form.config-raw', { 'aria-label': 'Raw configuration', onsubmit: (e) => { e.preventDefault(); busy(saveRaw, submitRaw, ctx.toast); } },
      h('p.hint', 'The whole file as JSON. Secrets show as ', h('code', REDACTED), '; leaving that placeholder keeps the stored secret.'),
      raw, h('div.row.config-actions', saveRaw, h('span.muted', 'Ctrl+Enter saves.')));
    raw.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) rawForm.requestSubmit(); });
    el.append(meta, tabs, stale, conflict, issues, form, rawForm);

    async function load() {
      snap = await ctx.request('config.get', {});
    }
    async function reload() {
      await load();
      conflict.hidden = true;
      stale.hidden = true;
      render();
      showIssues(snap.valid === false ? snap.issues : []);
    }
    function setMode(m) {
      mode = m;
      render();
    }

    function render() {
      const hash = snap.hash ? snap.hash.replace(/^sha256:/, '').slice(0, 12) : '—';
      fill(meta, snap.path ? h('code', snap.path) : 'no file', ` · hash ${hash}`, snap.exists === false ? ' · not written yet' : '',
        snap.valid === false ? h('span.error', ' · the file on disk is invalid; the gateway runs on the last good config') : '');
      el.querySelector('#config-tab-form').setAttribute('aria-pressed', String(mode === 'form'));
      el.querySelector('#config-tab-raw').setAttribute('aria-pressed', String(mode === 'raw'));
      form.hidden = mode !== 'form';
      rawForm.hidden = mode !== 'raw';
      raw.value = snap.raw ?? JSON.stringify(snap.config ?? {}, null, 2);
      rawShown = raw.value;
      renderForm();
    }

    function renderForm() {
      const open = new Set([...sections.querySelectorAll('details[open]')].map((d) => d.dataset.key));
      fields.clear();
      const props = Object.entries(schema.properties ?? {});
      const order = (k) => hints[k]?.order ?? 0;
      props.sort((a, b) => order(a[0]) - order(b[0]));
      const groups = new Map();
      for (const [key, sub] of props) {
        const body = h('div.config-fields');
        walk(sub, key, body);
        if (!body.childElementCount) continue;
        const group = hints[key]?.group ?? '';
        if (!groups.has(group)) groups.set(group, []);
        const count = body.querySelectorAll('.config-field').length;
        groups.get(group).push(h('details.card.config-section', { dataset: { key }, open: open.has(key) },
          h('summary', h('span', hints[key]?.label ?? key), h('span.muted', ` ${count} setting${count === 1 ? '' : 's'}`)),
          hints[key]?.help ? h('p.hint', hints[key].help) : null, body));
      }
      fill(sections, [...groups].map(([g, items]) => (g ? [h('h2', g), items] : items)));
      saveForm.disabled = true;
    }

    function walk(s, path, into) {
      if (s.properties) {
        const inner = path.includes('.') ? h('fieldset.config-group', h('legend', hints[path]?.label ?? path.split('.').pop())) : into;
        for (const [k, sub] of Object.entries(s.properties)) walk(sub, `${path}.${k}`, inner);
        if (inner !== into && inner.querySelector('.config-field')) into.append(inner);
        return;
      }
      const type = typeOf(s);
      if (!SCALARS.includes(type) && !s.enum) return;
      const value = get(snap.config, path);
      if (value !== undefined && typeof value === 'object') return; // e.g. a secret reference: raw only
      into.append(field(s, type, path, value));
    }

    function field(s, type, path, value) {
      const hint = hints[path] ?? {};
      const sensitive = !!(hint.sensitive || s['x-sensitive']);
      const id = fieldId(path);
      const dflt = s.default !== undefined ? String(s.default) : '';
      let input;
      if (s.enum || type === 'boolean') {
        const options = s.enum ?? [true, false];
        input = h(`select#${id}`, h('option', { value: '' }, dflt ? `default (${dflt})` : 'not set'),
          options.map((o) => h('option', { value: JSON.stringify(o), selected: value === o }, String(o))));
      } else if (sensitive) {
        input = h(`input#${id}`, { type: 'password', autocomplete: 'off', placeholder: value !== undefined ? 'set (hidden): type to replace' : 'not set' });
      } else if (type === 'number' || type === 'integer') {
        input = h(`input#${id}`, { type: 'number', step: type === 'integer' ? '1' : 'any', min: s.minimum, max: s.maximum, placeholder: dflt, value: value ?? '' });
      } else {
        input = h(`input#${id}`, { type: 'text', placeholder: dflt, value: value ?? '', spellcheck: false });
      }
      const initial = input.value;
      input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', () => {
        input.dataset.dirty = String(input.value !== initial);
        updateDirty();
      });
      const err = h('p.error.config-field-error', { id: `${id}-error`, hidden: true });
      const help = hint.help ? h('p.hint', { id: `${id}-help` }, hint.help) : null;
      input.setAttribute('aria-describedby', [help && `${id}-help`, `${id}-error`].filter(Boolean).join(' '));
      fields.set(path, { input, type, sensitive, err });
      return h('div.config-field', { dataset: { path } },
        h('label', { for: id }, h('span', hint.label ?? path.split('.').pop()), h('code.muted', path)), input, help, err);
    }

    function updateDirty() {
      saveForm.disabled = !sections.querySelector('[data-dirty="true"]');
    }

    function valueOf(f) {
      const v = f.input.value;
      if (v === '') return null; // unset: the default applies
      if (f.input.tagName === 'SELECT') return JSON.parse(v);
      if (f.type === 'number' || f.type === 'integer') return Number(v);
      return v;
    }

    function patchFromForm() {
      const patch = {};
      let n = 0;
      for (const [path, f] of fields) {
        if (f.input.dataset.dirty !== 'true') continue;
        const v = valueOf(f);
        if (f.sensitive && v === null) continue; // an emptied secret field keeps the secret
        const keys = path.split('.');
        let o = patch;
        for (const k of keys.slice(0, -1)) o = o[k] ??= {};
        o[keys.at(-1)] = v;
        n++;
      }
      return n ? patch : null;
    }

    async function submitForm() {
      const patch = patchFromForm();
      if (!patch) return;
      await write('config.patch', { raw: JSON.stringify(patch), baseHash: snap.hash });
    }

    async function submitRaw() {
      try {
        JSON.parse(raw.value);
      } catch (err) {
        showIssues([{ path: '(raw)', message: `not valid JSON: ${err.message}` }]);
        raw.setAttribute('aria-invalid', 'true');
        return;
      }
      raw.removeAttribute('aria-invalid');
      await write('config.set', { raw: raw.value, baseHash: snap.hash });
    }

    async function write(method, params) {
      showIssues([]);
      writing = true;
      try {
        const res = await ctx.request(method, params);
        await load();
        render();
        stale.hidden = true;
        const restart = res?.restartRequired ?? [];
        ctx.toast(restart.length ? `Saved. A restart is needed for: ${restart.join(', ')}` : 'Saved.', 'info');
      } catch (err) {
        const code = err.details?.code;
        if (code === 'CONFIG_HASH_MISMATCH') {
          conflict.hidden = false;
          conflict.querySelector('button').focus();
        } else if (err.details?.issues?.length) {
          showIssues(err.details.issues);
        }
        ctx.toast(err.message || String(err), 'error');
      } finally {
        writing = false;
      }
    }

    function showIssues(list) {
      for (const f of fields.values()) {
        f.err.hidden = true;
        f.input.removeAttribute('aria-invalid');
      }
      issues.hidden = !list?.length;
      if (!list?.length) return;
      fill(issues, h('strong', 'The gateway refused these values:'),
        h('ul', list.map((i) => h('li', h('code', i.path || '(root)'), ` ${i.message}`))));
      for (const i of list) {
        const f = fields.get(i.path);
        if (!f) continue;
        f.err.textContent = i.message;
        f.err.hidden = false;
        f.input.setAttribute('aria-invalid', 'true');
        f.input.closest('details')?.setAttribute('open', '');
      }
    }

    render();
    showIssues(snap.valid === false ? snap.issues : []);
    ctx.on('config.changed', (ev) => {
      if (!snap || writing || ev?.hash === snap.hash) return;
      const editing = raw.value !== rawShown || sections.querySelector('[data-dirty="true"]');
      if (editing) stale.hidden = false;
      else reload().catch((err) => ctx.toast(err.message, 'error'));
    });
  },
};
