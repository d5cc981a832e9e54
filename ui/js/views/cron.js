// Cron: the gateway's scheduled jobs. The list and the scheduler status come from
// cron.list and cron.status, read again on each `cron` event (added, updated, removed,
// started, finished) rather than on a timer; a job being run shows as running between
// its started and finished events. Per job: run now (cron.run, mode force),
// enable/disable (cron.update), remove (cron.remove, confirmed by a second click) and
// its run log (cron.runs), which follows the job's `finished` events. The add form
// covers the three schedule kinds (cron expression with time zone, every N units, at a
// date and time) and both payloads: a systemEvent line for the main session, or an
// agentTurn message in a session of the job's own (sessionTarget follows the payload).

import { h, fill, busy, table, ago, time, duration } from '../dom.js';

const UNITS = { seconds: 1000, minutes: 60000, hours: 3600000, days: 86400000 };

function describeSchedule(s) {
  if (!s) return '—';
  if (s.kind === 'cron') return `cron ${s.expr}${s.tz ? ` (${s.tz})` : ''}`;
  if (s.kind === 'every') return `every ${duration(s.everyMs)}`;
  if (s.kind === 'at') return `at ${time(Date.parse(s.at))}`;
  return s.kind;
}

function describePayload(p) {
  if (p?.kind === 'systemEvent') return `system event: ${p.text}`;
  if (p?.kind === 'agentTurn') return `agent turn: ${p.message}`;
  return p?.kind ?? '—';
}

export default {
  title: 'Cron',
  methods: ['cron.list', 'cron.status', 'cron.add', 'cron.update', 'cron.remove', 'cron.run', 'cron.runs'],
  async mount(ctx, el) {
    let jobs = [];
    let status = null;
    let selected = ctx.params.job ?? null; // job whose run log shows
    const running = new Set();

    const statusEl = h('div#cron-status.grid');
    const listEl = h('div#cron-jobs');
    const runsEl = h('section#cron-runs.cron-runs', { 'aria-label': 'Run log' });
    el.append(statusEl, h('h2', 'Jobs'), listEl, runsEl, h('h2', 'Add a job'), addForm());

    const stat = (label, value) => h('div.stat', h('div.label', label), h('div.value', value));

    async function load() {
      const [st, list] = await Promise.all([
        ctx.request('cron.status', {}),
        ctx.request('cron.list', { includeDisabled: true, limit: 200 }),
      ]);
      status = st;
      jobs = list?.jobs ?? [];
      render();
    }

    function render() {
      fill(statusEl,
        stat('Scheduler', status?.enabled === false ? 'disabled' : 'on'),
        stat('Jobs', String(status?.jobs ?? jobs.length)),
        stat('Next wake', status?.nextWakeAtMs ? ago(status.nextWakeAtMs) : '—'));
      fill(listEl, table([
        ['Name', (j) => h('strong', j.name)],
        ['Schedule', (j) => describeSchedule(j.schedule)],
        ['Payload', (j) => h('span.cron-payload', describePayload(j.payload))],
        ['State', (j) => (running.has(j.id) ? h('span.ok', 'running…') : j.enabled ? 'enabled' : h('span.muted', 'disabled'))],
        ['Next run', (j) => (j.enabled && j.state?.nextRunAtMs ? ago(j.state.nextRunAtMs) : '—')],
        ['Last run', (j) => (j.state?.lastRunAtMs ? [h(`span.${j.state.lastRunStatus === 'ok' ? 'ok' : 'error'}`, j.state.lastRunStatus ?? '?'), ` ${ago(j.state.lastRunAtMs)}`] : '—')],
        ['Actions', actions],
      ], jobs, { empty: 'No jobs yet. Add one below.', rowAttrs: (j) => ({ dataset: { job: j.id }, class: j.id === selected ? 'selected' : null }) }));
    }

    function actions(j) {
      const remove = h('button.danger', { type: 'button', 'aria-label': `Remove ${j.name}` }, 'Remove');
      let armed = null;
      remove.addEventListener('click', () => {
        if (!armed) {
          remove.textContent = 'Confirm remove';
          armed = setTimeout(() => { armed = null; remove.textContent = 'Remove'; }, 5000);
          return;
        }
        clearTimeout(armed);
        busy(remove, async () => {
          await ctx.request('cron.remove', { id: j.id });
          if (selected === j.id) selectRuns(null);
          ctx.toast(`Removed ${j.name}.`);
        }, ctx.toast);
      });
      return h('div.row.cron-actions',
        h('button', { type: 'button', 'aria-label': `Run ${j.name} now`, onclick: (e) => busy(e.target, async () => {
          const r = await ctx.request('cron.run', { id: j.id, mode: 'force' });
          ctx.toast(r?.enqueued || r?.ran ? `${j.name} is running.` : `${j.name} did not run${r?.reason ? `: ${r.reason}` : ''}.`);
          selectRuns(j.id);
        }, ctx.toast) }, 'Run now'),
        h('button', { type: 'button', 'aria-label': `${j.enabled ? 'Disable' : 'Enable'} ${j.name}`, onclick: (e) => busy(e.target, () =>
          ctx.request('cron.update', { id: j.id, patch: { enabled: !j.enabled } }), ctx.toast) }, j.enabled ? 'Disable' : 'Enable'),
        h('button', { type: 'button', 'aria-label': `Run log of ${j.name}`, 'aria-pressed': String(selected === j.id), onclick: () => selectRuns(selected === j.id ? null : j.id) }, 'Runs'),
        remove);
    }

    function selectRuns(id) {
      selected = id;
      render();
      loadRuns();
    }

    async function loadRuns() {
      const job = jobs.find((j) => j.id === selected);
      if (!selected || !job) {
        fill(runsEl);
        return;
      }
      const want = selected;
      const res = await ctx.request('cron.runs', { id: selected, limit: 50 }).catch((err) => {
        ctx.toast(err.message, 'error');
        return null;
      });
      if (want !== selected || !res) return;
      fill(runsEl, h('h2', `Run log: ${job.name}`), table([
        ['Finished', (r) => time(r.ts)],
        ['Status', (r) => h(`span.${r.status === 'ok' ? 'ok' : 'error'}`, r.status ?? '?')],
        ['Took', (r) => (r.durationMs !== undefined ? duration(r.durationMs) : '—')],
        ['Result', (r) => h('span.cron-summary', r.error ?? r.summary ?? '')],
      ], res.entries ?? [], { empty: 'No runs yet.' }));
    }

    function addForm() {
      const name = h('input#cron-name', { required: true, autocomplete: 'off' });
      const kind = h('select#cron-kind', ['cron', 'every', 'at'].map((k) => h('option', { value: k }, k)));
      const expr = h('input#cron-expr', { value: '0 9 * * *', spellcheck: false });
      const tz = h('input#cron-tz', { placeholder: 'gateway time zone', value: Intl.DateTimeFormat().resolvedOptions().timeZone ?? '' });
      const every = h('input#cron-every', { type: 'number', min: '1', step: '1', value: '30' });
      const unit = h('select#cron-unit', { 'aria-label': 'Unit' }, Object.keys(UNITS).map((u) => h('option', { value: u, selected: u === 'minutes' }, u)));
      const at = h('input#cron-at', { type: 'datetime-local' });
      const payloadKind = h('select#cron-payload-kind', h('option', { value: 'systemEvent' }, 'system event in the main session'), h('option', { value: 'agentTurn' }, 'agent turn in its own session'));
      const text = h('textarea#cron-text', { rows: 2, required: true });
      const textLabel = h('span', 'Text');
      const enabled = h('input#cron-enabled', { type: 'checkbox', checked: true });
      const submit = h('button#cron-add.primary', { type: 'submit' }, 'Add job');
      const parts = {
        cron: h('div.row', h('label', 'Expression ', expr), h('label', 'Time zone ', tz)),
        every: h('div.row', h('label', 'Every ', every), unit),
        at: h('div.row', h('label', 'At ', at)),
      };
      const sync = () => {
        for (const [k, p] of Object.entries(parts)) p.hidden = k !== kind.value;
        textLabel.textContent = payloadKind.value === 'agentTurn' ? 'Message to the agent' : 'System event text';
      };
      kind.addEventListener('change', sync);
      payloadKind.addEventListener('change', sync);
      sync();
      const form = h('form#cron-form.card.cron-form', { 'aria-label': 'Add a cron job', onsubmit: (e) => {
        e.preventDefault();
        busy(submit, async () => {
          const schedule = kind.value === 'cron' ? { kind: 'cron', expr: expr.value.trim(), ...(tz.value.trim() ? { tz: tz.value.trim() } : {}) }
            : kind.value === 'every' ? { kind: 'every', everyMs: Math.round(Number(every.value) * UNITS[unit.value]) }
              : { kind: 'at', at: at.value ? new Date(at.value).toISOString() : '' };
          const agent = payloadKind.value === 'agentTurn';
          const job = await ctx.request('cron.add', {
            name: name.value.trim(), enabled: enabled.checked, schedule,
            sessionTarget: agent ? 'isolated' : 'main', wakeMode: 'now',
            payload: agent ? { kind: 'agentTurn', message: text.value } : { kind: 'systemEvent', text: text.value },
          });
          ctx.toast(`Added ${job.name}.`);
          name.value = '';
          text.value = '';
        }, ctx.toast);
      } },
      h('div.row', h('label', 'Name ', name), h('label', 'Schedule ', kind)),
      parts.cron, parts.every, parts.at,
      h('div.row', h('label', 'Payload ', payloadKind)),
      h('label.cron-text', textLabel, text),
      h('div.row', h('label', enabled, ' Enabled'), submit));
      return form;
    }

    ctx.on('cron', (p) => {
      if (p?.action === 'started') running.add(p.jobId);
      if (p?.action === 'finished' || p?.action === 'removed') running.delete(p.jobId);
      load().then(() => { if (p?.jobId === selected && p?.action === 'finished') loadRuns(); })
        .catch((err) => ctx.toast(err.message, 'error'));
    });
    await load();
    if (selected) loadRuns();
  },
};
