// Agents: the assistants the gateway runs, each with its own workspace.
//  - The list (agents.list) and a form that creates one (agents.create: the gateway makes
//    its id from the name, writes it into the config and creates its workspace).
//  - The selected agent (#/agents?agent=ID, else the default one): its name and model
//    (agents.update; an empty model removes it), its workspace files (agents.files.list,
//    one opened with agents.files.get into a textarea and saved with agents.files.set),
//    and delete (agents.delete, after an in-page confirmation; the default agent cannot go).
// Agents live in the config: the list is read again on each config.changed event (an agent
// made elsewhere appears; the open editor stays as it is unless its agent went away).

import { h, fill, busy, table, bytes, ago } from '../dom.js';

export default {
  title: 'Agents',
  methods: ['agents.list', 'agents.create', 'agents.update', 'agents.delete', 'agents.files.list', 'agents.files.get', 'agents.files.set'],
  async mount(ctx, el) {
    const listEl = h('div#agent-list');
    const detailEl = h('section#agent-detail', { 'aria-labelledby': 'agent-detail-title' });
    const createName = h('input#agent-create-name', { required: true, maxLength: 256, autocomplete: 'off', placeholder: 'e.g. Ops Bot' });
    const createModel = h('input#agent-create-model', { maxLength: 512, autocomplete: 'off', placeholder: 'provider/model (optional)' });
    const createBtn = h('button.primary', { type: 'submit' }, 'Create');
    const createForm = h('form#agent-create.card.form-row', {
      onsubmit: (e) => {
        e.preventDefault();
        const params = { name: createName.value.trim() };
        if (createModel.value.trim()) params.model = createModel.value.trim();
        busy(createBtn, async () => {
          const res = await ctx.request('agents.create', params);
          ctx.toast(`Created agent ${res.name} (${res.agentId})`);
          createForm.reset();
          await load(res.agentId);
        }, ctx.toast);
      },
    }, h('h2', 'New agent'), h('label', 'Name ', createName), h('label', 'Model ', createModel), createBtn);
    el.append(listEl, createForm, detailEl);
    let data = { agents: [] };
    let selected = null;

    const load = async (select = selected, detail = true) => {
      data = await ctx.request('agents.list', {});
      const ids = data.agents.map((a) => a.id);
      const kept = ids.includes(select);
      selected = kept ? select : data.defaultId ?? ids[0];
      fill(listEl, table([
        ['Name', (a) => h('button.link', { type: 'button', 'aria-pressed': String(a.id === selected), onclick: () => show(a.id) }, agentName(a))],
        ['Id', (a) => [h('code', a.id), a.id === data.defaultId ? h('span.muted', ' (default)') : null]],
        ['Model', (a) => modelOf(a) || h('span.muted', 'default')],
        ['Workspace', (a) => h('code', a.workspace ?? '—')],
      ], data.agents, { empty: 'No agents.', rowAttrs: (a) => ({ dataset: { agentId: a.id } }) }));
      if (detail || !kept) await renderDetail();
    };

    const show = (id) => {
      selected = id;
      for (const b of listEl.querySelectorAll('button.link')) b.setAttribute('aria-pressed', String(b.closest('tr').dataset.agentId === id));
      renderDetail().catch((err) => ctx.toast(err.message, 'error'));
    };

    const renderDetail = async () => {
      const agent = data.agents.find((a) => a.id === selected);
      if (!agent) {
        fill(detailEl);
        return;
      }
      const files = await ctx.request('agents.files.list', { agentId: agent.id });
      if (selected !== agent.id) return;
      const name = h('input#agent-name', { required: true, maxLength: 256, value: agentName(agent) });
      const model = h('input#agent-model', { maxLength: 512, value: modelOf(agent) ?? '', placeholder: 'provider/model (empty: the default)' });
      const save = h('button.primary', { type: 'submit' }, 'Save');
      const editForm = h('form#agent-edit.form-row', {
        onsubmit: (e) => {
          e.preventDefault();
          busy(save, async () => {
            await ctx.request('agents.update', { agentId: agent.id, name: name.value.trim(), model: model.value.trim() || null });
            ctx.toast(`Saved agent ${agent.id}`);
            await load(agent.id);
          }, ctx.toast);
        },
      }, h('label', 'Name ', name), h('label', 'Model ', model), save);
      const editor = h('div#agent-file');
      const fileButtons = files.files.map((f) => h('button', {
        type: 'button', dataset: { file: f.name }, 'aria-pressed': 'false',
        title: f.missing ? 'not created yet' : `${bytes(f.size ?? 0)}, changed ${ago(f.updatedAtMs)}`,
        onclick: () => openFile(agent.id, f.name, editor, fileButtons),
      }, f.name, f.missing ? h('span.muted', ' (new)') : null));
      fill(detailEl,
        h('h2#agent-detail-title', `Agent ${agentName(agent)}`),
        h('div.card', editForm),
        h('div.card', h('h3', 'Workspace files'), h('p.muted', h('code', files.workspace)), h('div.row.files', { role: 'group', 'aria-label': 'Workspace files' }, fileButtons), editor),
        deleteZone(agent));
    };

    const openFile = async (agentId, fileName, editor, buttons) => {
      for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.file === fileName));
      let file;
      try {
        ({ file } = await ctx.request('agents.files.get', { agentId, name: fileName }));
      } catch (err) {
        ctx.toast(err.message, 'error');
        return;
      }
      const content = h('textarea#agent-file-content.mono', { rows: 14, spellcheck: false, 'aria-label': `Content of ${fileName}` });
      content.value = file.content ?? '';
      const status = h('span.muted', file.missing ? 'not created yet: saving creates it' : '');
      const save = h('button#agent-file-save.primary', { type: 'submit' }, `Save ${fileName}`);
      content.addEventListener('input', () => { status.textContent = 'unsaved changes'; });
      fill(editor, h('form.file-editor', {
        onsubmit: (e) => {
          e.preventDefault();
          busy(save, async () => {
            await ctx.request('agents.files.set', { agentId, name: fileName, content: content.value });
            status.textContent = `saved ${new Date().toLocaleTimeString()}`;
            ctx.toast(`Saved ${fileName}`);
          }, ctx.toast);
        },
      }, h('label', h('code', file.path ?? fileName), content), h('div.row', save, status)));
      content.focus();
    };

    const deleteZone = (agent) => {
      const zone = h('div.card.delete-zone');
      const ask = () => {
        const confirm = h('button#agent-delete-confirm.danger', { type: 'button' }, `Delete ${agent.id}`);
        confirm.addEventListener('click', () => busy(confirm, async () => {
          await ctx.request('agents.delete', { agentId: agent.id });
          ctx.toast(`Deleted agent ${agent.id}`);
          await load(data.defaultId);
        }, ctx.toast));
        fill(zone, h('p', { role: 'alert' }, `Delete agent ${agentName(agent)}? Its sessions are deleted and its workspace is moved to the trash.`),
          h('div.row', confirm, h('button', { type: 'button', onclick: idle }, 'Cancel')));
        confirm.focus();
      };
      const idle = () => fill(zone, agent.id === data.defaultId
        ? h('p.muted', 'The default agent cannot be deleted.')
        : h('button#agent-delete.danger', { type: 'button', onclick: ask }, 'Delete agent…'));
      idle();
      return zone;
    };

    await load(ctx.params.agent);
    ctx.on('config.changed', () => load(selected, false).catch((err) => ctx.toast(err.message, 'error')));
  },
};

function agentName(a) {
  return a.name || a.identity?.name || a.id;
}

function modelOf(a) {
  return typeof a.model === 'string' ? a.model : a.model?.primary;
}
