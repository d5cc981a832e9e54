// Chat: talk to an agent in one of its sessions.
//
// The agent comes from agents.list, the sessions of that agent from sessions.list (the
// agent's main session `agent:<id>:main` by default, or #/chat?session=<key>; "New
// session" makes a fresh key, created by its first message). The transcript is read
// once with chat.history; after that everything arrives as events:
//   chat             a run's status, delta (the whole text so far), final, aborted, error:
//                    one reply bubble per runId, re-rendered as Markdown on each delta
//   session.message  committed transcript entries (after sessions.subscribe): user turns
//                    sent by other clients, and the stored end of a reply
//   sessions.changed the session list; a reset or delete of the open session reloads it
// A run is going from the moment we send (or a history placeholder / a chat event says
// so) until its terminal chat event; meanwhile the composer (#chat-input) is disabled
// and Abort (chat.abort) shows. Images (PNG, JPEG, WebP; at most 8 of 5 MB each, as
// chat.send accepts) are read in the browser and sent as base64 attachments.

import { h, fill, busy, bytes } from '../dom.js';
import { renderMarkdown } from '../markdown.js';

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];
const MAX_IMAGES = 8;
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const NEW_SESSION = '\u0000new';
const PHASES = {
  preparing_workspace: 'Preparing the workspace…',
  preparing_context: 'Reading the conversation…',
  starting_model: 'Waiting for the model…',
};

const agentOf = (key) => /^agent:([^:]+):/.exec(key ?? '')?.[1];
const shortKey = (key) => key.split(':').slice(2).join(':') || key;
const textOf = (m) => (typeof m?.content === 'string' ? m.content
  : (Array.isArray(m?.content) ? m.content : []).filter((p) => p?.type === 'text').map((p) => p.text).join(''));
const imagesOf = (m) => (Array.isArray(m?.content) ? m.content : []).filter((p) => p?.type === 'image');
const newId = () => crypto.randomUUID?.() ?? `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).slice(String(r.result).indexOf(',') + 1));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

export default {
  title: 'Chat',
  methods: ['chat.send', 'chat.history', 'chat.abort', 'agents.list', 'sessions.list'],
  async mount(ctx, el) {
    const agentSel = h('select#chat-agent');
    const sessionSel = h('select#chat-session');
    const log = h('div#chat-messages.messages', { role: 'log', 'aria-label': 'Conversation', tabindex: '0' });
    const fileList = h('ul#chat-attachments.chat-files', { 'aria-label': 'Attached images', hidden: true });
    const input = h('textarea#chat-input', { rows: 2, disabled: true, 'aria-label': 'Message', placeholder: 'Message (Enter sends, Shift+Enter: new line)' });
    const fileInput = h('input#chat-file', { type: 'file', accept: IMAGE_TYPES.join(','), multiple: true, hidden: true });
    const attachBtn = h('button#chat-attach', { type: 'button', disabled: true, title: 'Attach images (PNG, JPEG, WebP)', onclick: () => fileInput.click() }, 'Attach');
    const sendBtn = h('button#chat-send.primary', { type: 'submit', disabled: true }, 'Send');
    const abortBtn = h('button#chat-abort.danger', { type: 'button', hidden: true }, 'Abort');
    const form = h('form#chat-form.composer', { 'aria-label': 'Send a message' },
      input, h('div.chat-actions', attachBtn, fileInput, sendBtn, abortBtn));
    el.append(h('div.chat',
      h('div.row.chat-bar', h('label', 'Agent ', agentSel), h('label', 'Session ', sessionSel)),
      log, fileList, form));

    let agentId = null;
    let key = null;
    let mainKey = 'main';
    let loading = true;
    let running = null; // the going run's id ('' when its id is unknown), or null
    let attachments = [];
    const sessions = new Map(); // key -> row, this agent's
    const runs = new Map(); // runId -> {text, state, phase, error}, this session's
    const bubbles = new Map(); // 'u:'/'a:' + runId -> element

    const sync = () => {
      const idle = !loading && !!agentId && !!key && running === null;
      input.disabled = !idle;
      sendBtn.disabled = !idle;
      attachBtn.disabled = !idle;
      abortBtn.hidden = running === null;
    };

    // While the history renders nothing is measured (one layout at the end, not one per message).
    const atBottom = () => !loading && log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    const place = (node, stick = atBottom()) => {
      log.querySelector('.chat-empty')?.remove();
      if (!node.isConnected) log.append(node);
      if (stick && !loading) log.scrollTop = log.scrollHeight;
    };

    const userBubble = (text, images, runId) => {
      const node = h('div.msg.user', { dataset: { role: 'user' } },
        h('div.body', text),
        images.length ? h('div.chat-images', images.map((name) => h('span.chip', { title: 'Attached image' }, name))) : null);
      if (runId) bubbles.set(`u:${runId}`, node);
      place(node, true);
      return node;
    };

    const paint = (runId) => {
      const r = runs.get(runId);
      let node = bubbles.get(`a:${runId}`);
      const stick = atBottom();
      if (!node) {
        node = h('div.msg.assistant', { dataset: { role: 'assistant', run: runId } }, h('div.body'), h('div.note'));
        bubbles.set(`a:${runId}`, node);
      }
      const live = r.state === 'status' || r.state === 'delta';
      fill(node.firstChild, r.text ? renderMarkdown(r.text) : live ? h('span.muted', PHASES[r.phase] ?? 'Thinking…') : null);
      node.classList.toggle('streaming', live);
      node.classList.toggle('aborted', r.state === 'aborted');
      node.classList.toggle('failed', r.state === 'error');
      node.dataset.state = r.state;
      fill(node.lastChild, r.state === 'aborted' ? 'Aborted' : r.state === 'error' ? `Error: ${r.error || 'the run failed'}`
        : live || r.state === 'final' ? '' : r.state[0].toUpperCase() + r.state.slice(1)); // e.g. "Interrupted"
      place(node, stick);
    };

    const addMessage = (m) => {
      if (m.role === 'user') {
        if (m.runId && bubbles.has(`u:${m.runId}`)) return;
        userBubble(textOf(m), imagesOf(m).map((p) => p.fileName ?? p.mimeType ?? 'image'), m.runId);
      } else if (m.role === 'assistant' && m.runId) {
        const state = m.status === 'running' ? 'delta' : !m.status || m.status === 'complete' ? 'final' : m.status;
        const seen = runs.get(m.runId);
        if (state === 'delta' && seen) return; // the live events know more
        if (state === 'delta' && running === null) running = m.runId;
        runs.set(m.runId, { text: textOf(m), state, error: m.errorMessage, phase: seen?.phase });
        paint(m.runId);
      } else {
        const cls = m.role === 'assistant' ? 'msg.assistant' : 'msg.system';
        place(h(`div.${cls}`, { dataset: { role: m.role } }, h('div.body', m.role === 'assistant' ? renderMarkdown(textOf(m)) : textOf(m))));
      }
    };

    const renderSessions = () => {
      const main = `agent:${agentId}:${mainKey}`;
      const rows = [...sessions.values()].sort((a, b) => (b.updatedAt ?? 0) - (a.updatedAt ?? 0));
      const keys = [main, ...rows.map((r) => r.key).filter((k) => k !== main)];
      if (key && !keys.includes(key)) keys.push(key);
      fill(sessionSel,
        keys.map((k) => h('option', { value: k }, sessions.get(k)?.label ?? (k === main ? 'main' : shortKey(k)))),
        h('option', { value: NEW_SESSION }, '+ New session'));
      sessionSel.value = key;
    };

    const openSession = async (k) => {
      key = k;
      loading = true;
      running = null;
      runs.clear();
      bubbles.clear();
      sync();
      renderSessions();
      // The address names the session (a reload comes back to it), unless the view was left.
      if (!ctx.signal.aborted) history.replaceState(null, '', `#/chat?session=${encodeURIComponent(k)}`);
      fill(log, h('p.muted.chat-empty', 'Loading…'));
      try {
        const [res, described] = await Promise.all([ctx.request('chat.history', { sessionKey: k }),
          ctx.gw.can('sessions.describe') ? ctx.request('sessions.describe', { key: k }) : null]);
        if (key !== k) return;
        const live = new Map(runs); // events that arrived while reading
        runs.clear();
        fill(log);
        for (const m of res.messages ?? []) addMessage(m); // a `running` placeholder sets running
        // The session row knows best whether a run is going (a placeholder may be stale).
        if (described && described.session?.status !== 'running') running = null;
        else if (described && running === null) running = '';
        for (const [id, r] of live) {
          runs.set(id, r);
          paint(id);
          if (r.state === 'status' || r.state === 'delta') running = id;
          else if (running === id || running === '') running = null;
        }
        if (!log.childElementCount) log.append(h('p.empty.chat-empty', 'No messages yet.'));
        log.scrollTop = log.scrollHeight;
      } catch (err) {
        if (key !== k) return;
        fill(log, h('p.error.chat-empty', `Could not read this session: ${err.message}`));
      }
      loading = false;
      sync();
    };

    const loadSessions = async () => {
      const res = await ctx.request('sessions.list', { agentId, includeLastMessage: false });
      sessions.clear();
      for (const row of res.sessions ?? []) sessions.set(row.key, row);
      renderSessions();
    };

    const renderFiles = () => {
      fileList.hidden = !attachments.length;
      fill(fileList, attachments.map((a) => h('li',
        h('span', `${a.name} (${bytes(a.size)})`),
        h('button.ghost', { type: 'button', 'aria-label': `Remove ${a.name}`, onclick: () => { attachments = attachments.filter((x) => x !== a); renderFiles(); } }, '✕'))));
    };

    const send = async () => {
      const text = input.value;
      if (input.disabled || (!text.trim() && !attachments.length)) return;
      const runId = newId();
      const sent = attachments;
      const sessionKey = key;
      running = runId;
      sync();
      const bubble = userBubble(text, sent.map((a) => a.name), runId);
      input.value = '';
      attachments = [];
      renderFiles();
      try {
        const params = { sessionKey, message: text, idempotencyKey: runId };
        if (sent.length) params.attachments = sent.map((a) => ({ type: 'image', mimeType: a.mimeType, fileName: a.name, content: a.content }));
        await ctx.request('chat.send', params);
      } catch (err) {
        ctx.toast(err.message, 'error');
        if (key !== sessionKey) return;
        bubble.remove();
        bubbles.delete(`u:${runId}`);
        if (!input.value) input.value = text;
        if (!attachments.length) attachments = sent;
        renderFiles();
        if (running === runId) running = null;
        sync();
        input.focus();
      }
    };

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      send();
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        send();
      }
    });
    fileInput.addEventListener('change', async () => {
      for (const f of fileInput.files) {
        if (!IMAGE_TYPES.includes(f.type)) ctx.toast(`${f.name}: only PNG, JPEG and WebP images can be attached.`, 'error');
        else if (f.size > MAX_IMAGE_BYTES) ctx.toast(`${f.name} is larger than 5 MB.`, 'error');
        else if (attachments.length >= MAX_IMAGES) ctx.toast(`At most ${MAX_IMAGES} images per message.`, 'error');
        else attachments.push({ name: f.name, mimeType: f.type, size: f.size, content: await readBase64(f) });
      }
      fileInput.value = '';
      renderFiles();
    });
    abortBtn.addEventListener('click', () => busy(abortBtn, async () => {
      const was = running;
      const res = await ctx.request('chat.abort', was ? { sessionKey: key, runId: was } : { sessionKey: key });
      // Nothing was going after all (the end came first or was missed): free the composer.
      if (!res?.aborted && running === was) {
        running = null;
        sync();
      }
    }, ctx.toast));
    agentSel.addEventListener('change', async () => {
      agentId = agentSel.value;
      await Promise.all([busy(null, loadSessions, ctx.toast), openSession(`agent:${agentId}:${mainKey}`)]);
    });
    sessionSel.addEventListener('change', () => {
      if (sessionSel.value === NEW_SESSION) openSession(`agent:${agentId}:chat-${Date.now().toString(36)}`);
      else openSession(sessionSel.value);
      input.focus();
    });

    ctx.on('chat', (p) => {
      if (p.sessionKey !== key || !p.runId) return;
      const r = runs.get(p.runId) ?? { text: '', state: 'status' };
      runs.set(p.runId, r);
      if (p.state === 'status') r.phase = p.phase;
      else if (p.state === 'delta') {
        r.state = 'delta';
        r.text = p.message ? textOf(p.message) : p.replace ? p.deltaText : r.text + (p.deltaText ?? '');
      } else {
        r.state = p.state;
        if (p.message) r.text = textOf(p.message);
        r.error = p.errorMessage;
      }
      const ended = ['final', 'aborted', 'error'].includes(p.state);
      if (ended && (running === p.runId || running === '')) running = null;
      if (!ended && r.state !== 'final') running = p.runId;
      if (loading) return;
      paint(p.runId);
      sync();
      if (ended && running === null && (document.activeElement === document.body || document.activeElement === abortBtn)) input.focus();
    });
    ctx.on('session.message', (p) => {
      const m = p.message;
      if (p.sessionKey !== key || loading || !m) return;
      if (m.role === 'assistant' && m.runId && (m.status === 'running' || runs.get(m.runId)?.state === 'final')) return;
      addMessage(m);
      sync();
    });
    ctx.on('sessions.changed', (p) => {
      if (agentOf(p.sessionKey) !== agentId) return;
      if (p.reason === 'delete') sessions.delete(p.sessionKey);
      else if (p.session) sessions.set(p.sessionKey, p.session);
      if (p.sessionKey === key && ['reset', 'new', 'delete', 'compact'].includes(p.reason)) openSession(key);
      else renderSessions();
    });

    const [list] = await Promise.all([ctx.request('agents.list', {}),
      ctx.gw.can('sessions.subscribe') ? ctx.request('sessions.subscribe', {}) : null]);
    mainKey = list.mainKey || 'main';
    const wanted = ctx.params.session;
    agentId = agentOf(wanted) ?? ctx.params.agent ?? list.defaultId;
    fill(agentSel, (list.agents ?? []).map((a) => h('option', { value: a.id }, a.identity?.name ?? a.name ?? a.id)));
    agentSel.value = agentId;
    await Promise.all([loadSessions(), openSession(wanted || `agent:${agentId}:${mainKey}`)]);
  },
};
