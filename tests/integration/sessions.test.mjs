// Sessions (issue 9): sessions.list / preview / describe / resolve / patch / reset /
// delete / compact / subscribe / messages.subscribe / messages.unsubscribe over the state
// store, as the real gateway shapes them. Transcripts are written by the chat engine; here
// they are seeded into DIR/state.db while the gateway is stopped (schema version 2), which
// also stands in for a crash: a message left "running" must come back "interrupted".
// Rows are checked against the schema's SessionRow, sessions.delete against
// SessionsDeleteResult (the client harness validates that one by itself).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { connectClient } from './lib/client.mjs';
import { startGateway, makeStateDir, eventually } from './lib/gateway.mjs';
import { validate } from './lib/schema.mjs';

const NOW = Date.now();

function assertError(res, code, message) {
  assert.equal(res.ok, false, `expected ${code}, got ${JSON.stringify(res.payload)}`);
  assert.equal(res.error.code, code, JSON.stringify(res.error));
  if (message instanceof RegExp) assert.match(res.error.message, message);
  else if (message) assert.equal(res.error.message, message);
}

/** Seeds sessions with transcripts: [{key, sessionId, updatedAt, messages, tokens}]. */
function seed(stateDir, sessions) {
  const db = new DatabaseSync(path.join(stateDir, 'state.db'));
  for (const s of sessions) {
    const transcript = `t-${s.sessionId}`;
    const agent = s.key.split(':')[1];
    const last = [...s.messages].reverse().find((m) => m.role === 'user' || m.role === 'assistant');
    const preview = last ? (typeof last.content === 'string' ? last.content : last.content[0].text) : null;
    db.prepare('INSERT INTO transcripts(transcript_id, session_key, session_id, agent_id, created_at_ms) VALUES(?, ?, ?, ?, ?)')
      .run(transcript, s.key, s.sessionId, agent, s.updatedAt);
    db.prepare(`INSERT INTO sessions(session_key, session_id, agent_id, transcript_id, meta, created_at_ms,
      updated_at_ms, input_tokens, output_tokens, last_preview) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(s.key, s.sessionId, agent, transcript, JSON.stringify(s.meta || {}), s.updatedAt - 1000, s.updatedAt,
        s.tokens?.[0] ?? 0, s.tokens?.[1] ?? 0, preview);
    s.messages.forEach((m, i) => {
      db.prepare('INSERT INTO transcript_messages(transcript_id, seq, body, status, run_id, created_at_ms) VALUES(?, ?, ?, ?, ?, ?)')
        .run(transcript, i + 1, JSON.stringify(m), m.status || 'complete', m.runId || null, s.updatedAt);
    });
  }
  db.close();
}

function query(stateDir, sql, ...args) {
  const db = new DatabaseSync(path.join(stateDir, 'state.db'), { readOnly: true });
  try { return db.prepare(sql).all(...args); } finally { db.close(); }
}

const user = (text) => ({ role: 'user', content: text, timestamp: NOW });
const assistant = (text, extra = {}) => ({ role: 'assistant', content: [{ type: 'text', text }], timestamp: NOW, provider: 'local', model: 'm', usage: { input: 10, output: 4, totalTokens: 14 }, stopReason: 'stop', ...extra });

const MAIN_ID = '11111111-1111-4111-8111-111111111111';
const WORK_ID = '22222222-2222-4222-8222-222222222222';
const OLD_ID = '33333333-3333-4333-8333-333333333333';

describe('sessions', () => {
  let gw, stateDir, admin, reader, writer, watcher, bystander;
  const start = async () => {
    gw = await startGateway({ stateDir, keepStateDir: true });
    admin = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    reader = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    writer = await connectClient(gw, { params: { scopes: ['operator.write'] } });
  };
  const stop = async () => {
    for (const c of [admin, reader, writer, watcher, bystander]) c?.close();
    watcher = bystander = undefined;
    await gw.stop();
  };

  before(async () => {
    stateDir = makeStateDir();
    // A first start creates state.db at schema version 2; then the transcripts are seeded.
    gw = await startGateway({ stateDir, keepStateDir: true });
    await gw.stop();
    seed(stateDir, [
      { key: 'agent:main:main', sessionId: MAIN_ID, updatedAt: NOW - 60_000, tokens: [10, 4],
        messages: [user('hello'), assistant('hi, how can I help?'), user('tell me a story about a lighthouse keeper and the sea')] },
      { key: 'agent:main:work', sessionId: WORK_ID, updatedAt: NOW - 30_000, meta: { label: 'Work chat' },
        messages: [user('w1'), assistant('w2'), user('w3'), assistant('w4'), user('w5'),
          assistant('half a repl', { status: 'running', runId: 'run-crashed', usage: undefined })] },
      { key: 'agent:main:old', sessionId: OLD_ID, updatedAt: NOW - 5 * 3600_000, messages: [user('ancient')] },
    ]);
    await start();
  });
  after(async () => {
    await stop();
  });

  test('a run cut short by the crash is marked interrupted at start', async () => {
    await eventually(() => {
      const rows = query(stateDir, "SELECT status, body FROM transcript_messages WHERE transcript_id = ? AND seq = 6", `t-${WORK_ID}`);
      assert.equal(rows[0].status, 'interrupted');
      assert.equal(JSON.parse(rows[0].body).status, 'interrupted');
      return true;
    });
    assert.equal(query(stateDir, "SELECT count(*) AS n FROM transcript_messages WHERE status = 'running'")[0].n, 0);
  });

  test('sessions.list: rows newest first with lastMessagePreview and token counts', async () => {
    const list = await reader.call('sessions.list', {});
    assert.equal(list.count, 3);
    assert.equal(list.totalCount, 3);
    assert.equal(list.hasMore, false);
    assert.equal(list.nextOffset, null);
    assert.equal(list.path, path.join(stateDir, 'state.db'));
    assert.deepEqual(list.sessions.map((r) => r.key), ['agent:main:work', 'agent:main:main', 'agent:main:old']);
    for (const row of list.sessions) validate('SessionRow', row, 'sessions.list row');
    const main = list.sessions[1];
    assert.equal(main.sessionId, MAIN_ID);
    assert.equal(main.isMain, true);
    assert.equal(main.agentId, 'main');
    assert.equal(main.kind, 'direct');
    assert.equal(main.lastMessagePreview, 'tell me a story about a lighthouse keeper and the sea');
    assert.equal(main.inputTokens, 10);
    assert.equal(main.outputTokens, 4);
    assert.equal(main.totalTokens, 14);
    assert.equal(main.updatedAt, NOW - 60_000);
    assert.equal(list.sessions[0].label, 'Work chat');
    assert.equal(list.sessions[0].displayName, 'Work chat');
  });

  test('sessions.list filters and pages', async () => {
    let list = await reader.call('sessions.list', { limit: 1 });
    assert.deepEqual(list.sessions.map((r) => r.key), ['agent:main:work']);
    assert.equal(list.hasMore, true);
    assert.equal(list.nextOffset, 1);
    list = await reader.call('sessions.list', { limit: 1, offset: 1 });
    assert.deepEqual(list.sessions.map((r) => r.key), ['agent:main:main']);
    list = await reader.call('sessions.list', { activeMinutes: 60 });
    assert.deepEqual(list.sessions.map((r) => r.key), ['agent:main:work', 'agent:main:main']);
    list = await reader.call('sessions.list', { label: 'Work chat' });
    assert.deepEqual(list.sessions.map((r) => r.key), ['agent:main:work']);
    list = await reader.call('sessions.list', { search: 'OLD' });
    assert.deepEqual(list.sessions.map((r) => r.key), ['agent:main:old']);
    list = await reader.call('sessions.list', { agentId: 'nobody' });
    assert.equal(list.count, 0);
    list = await reader.call('sessions.list', { archived: true });
    assert.equal(list.count, 0);
    list = await reader.call('sessions.list', { archived: 'all', includeLastMessage: false });
    assert.equal(list.count, 3);
    assert.ok(list.sessions.every((r) => r.lastMessagePreview === undefined));
  });

  test('sessions.list refuses params outside the schema', async () => {
    assertError(await reader.request('sessions.list', { bogus: 1 }), 'INVALID_REQUEST', "invalid sessions.list params: unexpected property 'bogus'");
    assertError(await reader.request('sessions.list', { limit: 0 }), 'INVALID_REQUEST', 'invalid sessions.list params: at /limit: must be >= 1');
    assertError(await reader.request('sessions.list', { sortBy: 'name' }), 'INVALID_REQUEST', /at \/sortBy: must be equal to one of the allowed values/);
    assertError(await reader.request('sessions.list', { archived: 'some' }), 'INVALID_REQUEST', /at \/archived/);
  });

  test('sessions.preview: the last items, cut to maxChars; missing keys; unknown agents refused', async () => {
    const res = await reader.call('sessions.preview', { keys: ['main', 'agent:main:work', 'agent:main:nothing'], limit: 2, maxChars: 20 });
    assert.equal(typeof res.ts, 'number');
    assert.equal(res.previews.length, 3);
    assert.deepEqual(res.previews[0], { key: 'main', status: 'ok', items: [
      { role: 'assistant', text: 'hi, how can I help?' },
      { role: 'user', text: 'tell me a story a...' },
    ] });
    assert.equal(res.previews[1].status, 'ok');
    assert.deepEqual(res.previews[1].items.map((i) => i.text), ['w5', 'half a repl']);
    assert.deepEqual(res.previews[2], { key: 'agent:main:nothing', status: 'missing', items: [] });
    assertError(await reader.request('sessions.preview', { keys: ['agent:ghost:main'] }), 'INVALID_REQUEST', 'Unknown agent id "ghost"');
    assertError(await reader.request('sessions.preview', { keys: [] }), 'INVALID_REQUEST', /at \/keys: must NOT have fewer than 1 items/);
    assertError(await reader.request('sessions.preview', { keys: ['x'], maxChars: 5 }), 'INVALID_REQUEST', /at \/maxChars: must be >= 20/);
  });

  test('sessions.describe and sessions.resolve', async () => {
    const d = await reader.call('sessions.describe', { key: 'MAIN' });
    validate('SessionRow', d.session, 'describe');
    assert.equal(d.session.key, 'agent:main:main');
    assert.deepEqual(await reader.call('sessions.describe', { key: 'agent:main:none' }), { session: null });

    const check = (r) => validate('SessionsResolveResult', r, 'resolve');
    let r = await reader.call('sessions.resolve', { key: 'work' });
    check(r);
    assert.deepEqual(r, { ok: true, key: 'agent:main:work', agentId: 'main', displayName: 'Work chat' });
    r = await reader.call('sessions.resolve', { sessionId: MAIN_ID });
    assert.deepEqual(r, { ok: true, key: 'agent:main:main', agentId: 'main' });
    r = await reader.call('sessions.resolve', { shortId: OLD_ID.slice(0, 8) });
    assert.equal(r.key, 'agent:main:old');
    r = await reader.call('sessions.resolve', { label: 'Work chat' });
    assert.equal(r.key, 'agent:main:work');
    r = await reader.call('sessions.resolve', { key: 'agent:main:missing' });
    check(r);
    assert.deepEqual(r, { ok: false });
    r = await reader.call('sessions.resolve', { key: 'agent:main:missing', allowMissing: true });
    assert.deepEqual(r, { ok: true, key: 'agent:main:missing', agentId: 'main' });
    assertError(await reader.request('sessions.resolve', {}), 'INVALID_REQUEST', /exactly one of key, sessionId, shortId or label/);
    assertError(await reader.request('sessions.resolve', { key: 'agent:ghost:x' }), 'INVALID_REQUEST', 'Unknown agent id "ghost"');
    const unknown = await reader.request('sessions.resolve', { key: 'x', agentId: 'ghost' });
    assertError(unknown, 'INVALID_REQUEST', 'Unknown agent id "ghost"');
    assert.equal(unknown.error.details.code, 'UNKNOWN_AGENT_ID');
  });

  test('subscriptions: sessions.changed to sessions.subscribe callers only; messages.subscribe answers the canonical key', async () => {
    watcher = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    bystander = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    assert.deepEqual(await watcher.call('sessions.subscribe', {}), { subscribed: true });
    const withList = await watcher.call('sessions.subscribe', { limit: 1 });
    assert.equal(withList.subscribed, true);
    assert.equal(withList.list.sessions.length, 1);
    const sub = await bystander.call('sessions.messages.subscribe', { key: 'Work' });
    assert.deepEqual(sub, { subscribed: true, key: 'agent:main:work' });
    // The real Control UI subscribes with includeApprovals (sessions have none here: the same subscription).
    assert.deepEqual(await bystander.call('sessions.messages.subscribe', { key: 'work', includeApprovals: true }), { subscribed: true, key: 'agent:main:work' });
    assertError(await bystander.request('sessions.messages.subscribe', { key: 'agent:main:work', agentId: 'other' }), 'INVALID_REQUEST', /does not match session key agent/);

    const from = { w: watcher.events.length, b: bystander.events.length };
    await writer.call('sessions.patch', { key: 'work', label: 'Renamed' });
    const ev = await watcher.waitEvent('sessions.changed', { from: from.w, predicate: (e) => e.payload.reason === 'patch' });
    assert.equal(ev.payload.sessionKey, 'agent:main:work');
    assert.equal(ev.payload.agentId, 'main');
    assert.equal(ev.payload.sessionId, WORK_ID);
    assert.equal(ev.payload.session.label, 'Renamed');
    validate('SessionRow', ev.payload.session, 'sessions.changed session');
    await writer.call('sessions.patch', { key: 'work', label: 'Work chat' });
    await watcher.waitEvent('sessions.changed', { from: from.w, predicate: (e) => e.payload.session?.label === 'Work chat' });
    assert.equal(bystander.events.slice(from.b).filter((e) => e.event === 'sessions.changed').length, 0);
    assert.deepEqual(await bystander.call('sessions.messages.unsubscribe', { key: 'work' }), { subscribed: false, key: 'agent:main:work' });
  });

  test('sessions.patch: label, model override, thinking level; creates the session; refuses what clawgate does not keep', async () => {
    const res = await writer.call('sessions.patch', { key: 'agent:main:notes', label: 'Notes', model: 'openai/gpt-5', thinkingLevel: 'high', pinned: true });
    assert.equal(res.ok, true);
    assert.equal(res.key, 'agent:main:notes');
    assert.equal(res.entry.label, 'Notes');
    assert.equal(typeof res.entry.sessionId, 'string');
    assert.deepEqual(res.resolved, { modelProvider: 'openai', model: 'gpt-5' });
    let row = (await reader.call('sessions.describe', { key: 'notes' })).session;
    assert.equal(row.label, 'Notes');
    assert.equal(row.model, 'gpt-5');
    assert.equal(row.modelProvider, 'openai');
    assert.equal(row.modelOverrideSource, 'user');
    assert.equal(row.thinkingLevel, 'high');
    assert.equal(row.pinned, true);
    await writer.call('sessions.patch', { key: 'notes', label: null, model: null, pinned: false });
    row = (await reader.call('sessions.describe', { key: 'notes' })).session;
    assert.equal(row.label, undefined);
    assert.equal(row.model, undefined);
    assert.equal(row.pinned, false);
    assertError(await writer.request('sessions.patch', { key: 'notes', permissionMode: 'full' }), 'INVALID_REQUEST', 'invalid sessions.patch params: at /permissionMode: is not supported by clawgate');
    assertError(await writer.request('sessions.patch', { key: 'notes', label: '' }), 'INVALID_REQUEST', /at \/label: must NOT have fewer than 1 characters/);
    assertError(await writer.request('sessions.patch', { key: 'notes', expectedSessionId: 'nope' }), 'INVALID_REQUEST', /changed/);
    assertError(await writer.request('sessions.patch', { key: 'agent:ghost:x' }), 'INVALID_REQUEST', 'Unknown agent id "ghost"');
    assertError(await writer.request('sessions.patch', { key: 'agent::x' }), 'INVALID_REQUEST', /invalid session key/);
    assertError(await reader.request('sessions.patch', { key: 'notes', label: 'x' }), 'FORBIDDEN');
  });

  test('sessions.compact keeps the newest maxLines messages', async () => {
    let res = await writer.call('sessions.compact', { key: 'work', maxLines: 10 });
    assert.deepEqual(res, { ok: true, key: 'agent:main:work', compacted: false, kept: 6 });
    res = await writer.call('sessions.compact', { key: 'work', maxLines: 2 });
    assert.deepEqual(res, { ok: true, key: 'agent:main:work', compacted: true, kept: 2 });
    const p = await reader.call('sessions.preview', { keys: ['work'], limit: 10 });
    assert.deepEqual(p.previews[0].items.map((i) => i.text), ['w5', 'half a repl']);
    assert.deepEqual(query(stateDir, 'SELECT seq FROM transcript_messages WHERE transcript_id = ? ORDER BY seq', `t-${WORK_ID}`).map((r) => r.seq), [5, 6]);
    assert.deepEqual(await writer.call('sessions.compact', { key: 'agent:main:none' }), { ok: true, key: 'agent:main:none', compacted: false, reason: 'no sessionId' });
    assert.deepEqual(await writer.call('sessions.compact', { key: 'notes' }), { ok: true, key: 'agent:main:notes', compacted: false, reason: 'no transcript' });
    assertError(await writer.request('sessions.compact', { key: 'work', maxLines: 0 }), 'INVALID_REQUEST', /at \/maxLines: must be >= 1/);
    assertError(await reader.request('sessions.compact', { key: 'work' }), 'FORBIDDEN');
  });

  test('sessions.reset: main keeps its id, others get a new one; old transcripts stay archived', async () => {
    const from = watcher.events.length;
    const main = await writer.call('sessions.reset', { key: 'main' });
    assert.equal(main.ok, true);
    assert.equal(main.key, 'agent:main:main');
    assert.equal(main.entry.sessionId, MAIN_ID);
    const work = await writer.call('sessions.reset', { key: 'work', reason: 'new' });
    assert.notEqual(work.entry.sessionId, WORK_ID);
    assert.equal(work.entry.label, 'Work chat'); // settings survive a reset
    const ev = await watcher.waitEvent('sessions.changed', { from, predicate: (e) => e.payload.reason === 'new' });
    assert.equal(ev.payload.sessionId, work.entry.sessionId);
    const p = await reader.call('sessions.preview', { keys: ['main', 'work'] });
    assert.deepEqual(p.previews.map((x) => x.status), ['empty', 'empty']);
    const row = (await reader.call('sessions.describe', { key: 'main' })).session;
    assert.equal(row.inputTokens, 0);
    assert.equal(row.lastMessagePreview, undefined);
    const archived = query(stateDir, 'SELECT session_id, archive_reason FROM transcripts WHERE archived_at_ms IS NOT NULL ORDER BY session_id');
    assert.deepEqual(archived.map((r) => [r.session_id, r.archive_reason]), [[MAIN_ID, 'reset'], [WORK_ID, 'reset']]);
    assert.equal(query(stateDir, 'SELECT count(*) AS n FROM transcript_messages WHERE transcript_id = ?', `t-${MAIN_ID}`)[0].n, 3);
    assertError(await reader.request('sessions.reset', { key: 'main' }), 'FORBIDDEN');
    assertError(await writer.request('sessions.reset', { key: 'main', reason: 'later' }), 'INVALID_REQUEST', /at \/reason/);
  });

  test('sessions.delete: main refused; others archived; unknown ones not deleted', async () => {
    assertError(await writer.request('sessions.delete', { key: 'main' }), 'INVALID_REQUEST', 'Cannot delete the main session (agent:main:main).');
    assertError(await reader.request('sessions.delete', { key: 'old' }), 'FORBIDDEN');
    const from = watcher.events.length;
    const res = await writer.call('sessions.delete', { key: 'old' });
    assert.equal(res.ok, true);
    assert.equal(res.key, 'agent:main:old');
    assert.equal(res.deleted, true);
    assert.deepEqual(res.archived, [`${path.join(stateDir, 'state.db')}#session:${OLD_ID}`]);
    const ev = await watcher.waitEvent('sessions.changed', { from, predicate: (e) => e.payload.reason === 'delete' });
    assert.deepEqual(Object.keys(ev.payload).sort(), ['agentId', 'reason', 'sessionId', 'sessionKey', 'ts']);
    assert.deepEqual(await writer.call('sessions.delete', { key: 'old' }), { ok: true, key: 'agent:main:old', deleted: false, archived: [] });
    assert.equal((await reader.call('sessions.describe', { key: 'old' })).session, null);
    assert.equal(query(stateDir, "SELECT count(*) AS n FROM transcripts WHERE session_id = ? AND archive_reason = 'delete'", OLD_ID)[0].n, 1);
  });

  test('everything survives a restart', async () => {
    await stop();
    await start();
    const list = await reader.call('sessions.list', {});
    assert.deepEqual(list.sessions.map((r) => r.key).sort(), ['agent:main:main', 'agent:main:notes', 'agent:main:work']);
    const main = list.sessions.find((r) => r.key === 'agent:main:main');
    assert.equal(main.sessionId, MAIN_ID);
    const work = list.sessions.find((r) => r.key === 'agent:main:work');
    assert.equal(work.label, 'Work chat');
    assert.notEqual(work.sessionId, WORK_ID);
  });
});
