// The real OpenClaw Control UI's startup calls (issue 11): connected as the UI connects
// (client openclaw-control-ui, mode webchat, its scopes), each of the 24 methods it calls
// on startup answers ok to the params the 2026.9.6 bundle sends (taken from
// dist/control-ui/assets), every result validates against the schema's <Method>Result
// where there is one, and what clawgate lacks answers as an honest "none".
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient } from './lib/client.mjs';
import { startGateway } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { validate } from './lib/schema.mjs';

const UI_CLIENT = { id: 'openclaw-control-ui', version: '2026.9.6', platform: 'linux', mode: 'webchat' };
const UI_SCOPES = ['operator.admin', 'operator.read', 'operator.write', 'operator.approvals', 'operator.pairing', 'operator.questions'];
const KEY = 'agent:main:main';

// [method, params as the UI sends them, schema definition of the result or null]
const STARTUP_CALLS = [
  ['sessions.subscribe', {}, null],
  ['sessions.list', { includeDerivedTitles: true, includeLastMessage: true, archived: 'all', limit: 100, offset: 0 }, null],
  ['sessions.list', { activeOnly: true, archived: 'all', includeGlobal: true, includeUnknown: true }, null],
  ['config.get', {}, null],
  ['update.status', {}, 'UpdateStatusResult'],
  ['agents.list', {}, 'AgentsListResult'],
  ['exec.approval.list', {}, null],
  ['plugin.approval.list', {}, null],
  ['openclaw.approval.list', {}, null],
  ['sessions.observer.visibility', { visible: true }, 'SessionsObserverVisibilityResult'],
  ['agent.identity.get', { agentId: 'main' }, 'AgentIdentityResult'],
  ['agent.identity.get', { sessionKey: KEY }, 'AgentIdentityResult'],
  ['sessions.describe', { key: KEY, agentId: 'main' }, null],
  ['cron.list', { agentId: 'main', includeDisabled: true, includeDeliveryPreviews: false, limit: 1, offset: 0 }, null],
  ['cron.status', {}, null],
  ['models.authStatus', {}, null],
  ['question.list', {}, 'QuestionListResult'],
  ['models.list', { agentId: 'main', view: 'default' }, 'ModelsListResult'],
  ['chat.startup', { sessionKey: KEY, agentId: 'main', limit: 200, maxChars: 12000 }, null],
  ['talk.catalog', {}, 'TalkCatalogResult'],
  ['sessions.messages.subscribe', { key: KEY }, null],
  ['progressCard.get', { sessionKey: KEY }, 'ProgressCardGetResult'],
  ['chat.metadata', { agentId: 'main', sessionKey: KEY }, null],
  ['sessions.branches.list', { sessionKey: KEY, agentId: 'main' }, 'SessionsBranchesListResult'],
  ['sessions.companion.state', { sessionKey: KEY, agentId: 'main' }, 'SessionsCompanionStateResult'],
  ['tasks.list', { sessionKey: KEY, agentId: 'main', status: ['queued', 'running'], limit: 50 }, 'TasksListResult'],
  ['tasks.list', { sessionKey: KEY, agentId: 'main', status: ['completed', 'failed', 'timed_out', 'cancelled'], sortBy: 'endedAt', limit: 50 }, 'TasksListResult'],
];

describe('Control UI startup methods', () => {
  let gw, llm, ui;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] } } },
        agents: { defaults: { model: 'fake/m1' } },
      },
    });
    ui = await connectClient(gw, { params: { client: UI_CLIENT, scopes: UI_SCOPES } });
  });
  after(async () => {
    ui?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('hello-ok lists every startup method', async () => {
    const listed = new Set(ui.hello.features.methods);
    for (const [method] of STARTUP_CALLS) assert.ok(listed.has(method), `${method} missing from features.methods`);
  });

  test('each startup call answers ok to the params the UI sends, in the schema shape', async () => {
    for (const [method, params, def] of STARTUP_CALLS) {
      const res = await ui.request(method, params);
      assert.equal(res.ok, true, `${method} ${JSON.stringify(params)}: ${JSON.stringify(res.error)}`);
      if (def) validate(def, res.payload, `${method} result`);
    }
  });

  test('what clawgate has none of answers as none', async () => {
    assert.deepEqual(await ui.call('update.status', {}), { sentinel: null, updateAvailable: null });
    assert.deepEqual(await ui.call('question.list', {}), { questions: [] });
    assert.deepEqual(await ui.call('progressCard.get', { sessionKey: KEY }), { card: null });
    assert.deepEqual(await ui.call('sessions.companion.state', { sessionKey: KEY }), { exchanges: [] });
    assert.deepEqual(await ui.call('tasks.list', {}), { tasks: [] });
    assert.deepEqual(await ui.call('sessions.observer.visibility', { visible: false }), { ok: true });
    const talk = await ui.call('talk.catalog', {});
    assert.deepEqual(talk.modes, []);
    for (const kind of ['speech', 'transcription', 'realtime']) {
      assert.equal(talk[kind].ready, false);
      assert.deepEqual(talk[kind].providers, []);
    }
    assert.deepEqual(await ui.call('chat.startup', { shortId: 'deadbeef', agentId: 'main' }), { resolution: { ok: false } });
  });

  test('chat.startup answers the first history page and branches the one line of a session', async () => {
    const key = 'agent:main:ui-startup';
    assert.deepEqual(await ui.call('sessions.branches.list', { sessionKey: key }), { branches: [] });
    await ui.call('chat.inject', { sessionKey: key, message: 'hello from the gateway' });
    const page = await ui.call('chat.startup', { sessionKey: key, limit: 20 });
    assert.equal(page.sessionKey, key);
    assert.equal(page.messages.length, 1);
    assert.equal(page.messages[0].role, 'assistant');
    const { branches } = await ui.call('sessions.branches.list', { sessionKey: key, agentId: 'main' });
    validate('SessionsBranchesListResult', { branches }, 'sessions.branches.list result');
    assert.equal(branches.length, 1);
    assert.equal(branches[0].active, true);
    assert.equal(branches[0].messageCount, 1);
    assert.match(branches[0].headline, /hello from the gateway/);
  });

  test('sessions.list takes the UI\'s filters: activeOnly keeps running sessions, excludeCron drops cron ones', async () => {
    await ui.call('chat.inject', { sessionKey: 'cron:nightly', message: 'cron said hi' });
    const keys = async (p) => (await ui.call('sessions.list', { archived: 'all', includeGlobal: true, includeUnknown: true, ...p })).sessions.map((s) => s.key);
    assert.ok((await keys({})).includes('agent:main:cron:nightly'));
    assert.equal((await keys({ excludeCron: true, excludeSubagents: true, excludeSystem: true, includeActivitySummary: true })).includes('agent:main:cron:nightly'), false);
    assert.deepEqual(await keys({ activeOnly: true }), []);
    llm.script({ reply: 'slow reply', chunks: 4, delayMs: 400 });
    const idem = `ui-startup-${Date.now()}`;
    const { runId } = await ui.call('chat.send', { sessionKey: 'busy', message: 'hi', idempotencyKey: idem });
    await ui.waitEvent('chat', { timeoutMs: 10000, predicate: (e) => e.payload.runId === runId && e.payload.state === 'delta' });
    assert.deepEqual(await keys({ activeOnly: true }), ['agent:main:busy']);
    await ui.waitEvent('chat', { timeoutMs: 10000, predicate: (e) => e.payload.runId === runId && e.payload.state === 'final' });
  });

  test('sessions.describe reads a bare key as the given agent\'s', async () => {
    await ui.call('chat.inject', { sessionKey: 'agent:main:described', message: 'x' });
    const { session } = await ui.call('sessions.describe', { key: 'described', agentId: 'main' });
    assert.equal(session?.key, 'agent:main:described');
  });

  test('chat.metadata carries the configured models and automatic account selection', async () => {
    const meta = await ui.call('chat.metadata', { agentId: 'main' });
    assert.equal('agentId' in meta, false);
    assert.deepEqual(meta.accountSelection, { kind: 'automatic', label: 'Automatic account selection' });
    assert.ok(meta.models.some((m) => m.provider === 'fake' && m.id === 'm1'), JSON.stringify(meta.models));
    assert.deepEqual(meta.commands, []);
    assert.equal('runtimeSelectionLocked' in meta, false);
    const forSession = await ui.call('chat.metadata', { sessionKey: KEY });
    assert.equal(forSession.runtimeSelectionLocked, false);
  });

  test('bad params are INVALID_REQUEST naming what is wrong; scopes as the real method table', async () => {
    const bad = [
      ['sessions.observer.visibility', {}, /visible/],
      ['tasks.list', { status: 'sleeping' }, /status/],
      ['tasks.list', { limit: 0 }, /limit/],
      ['progressCard.get', { sessionKey: '' }, /sessionKey/],
      ['talk.catalog', { voice: 'x' }, /voice/],
      ['update.status', { refreshCheckout: 'yes' }, /true or false/],
      ['chat.startup', { shortId: 'abc' }, /agentId/],
      ['chat.startup', { shortId: 'abc123', agentId: 'main' }, /shortId must be 8-32 hexadecimal characters/],
      ['chat.startup', { shortId: 'deadbeefg', agentId: 'main' }, /shortId/],
      ['sessions.branches.list', { sessionKey: KEY, leafEntryId: '1' }, /leafEntryId/],
      ['question.list', { all: true }, /all/],
    ];
    for (const [method, params, re] of bad) {
      const res = await ui.request(method, params);
      assert.equal(res.ok, false, `${method} ${JSON.stringify(params)} answered ok`);
      assert.equal(res.error.code, 'INVALID_REQUEST');
      assert.match(res.error.message, new RegExp(`^invalid ${method.replace('.', '\\.')} params: `));
      assert.match(res.error.message, re);
    }
    const reader = await connectClient(gw, { params: { client: UI_CLIENT, scopes: ['operator.read'] } });
    try {
      const upd = await reader.request('update.status', {});
      assert.equal(upd.ok, false);
      assert.equal(upd.error.details?.missingScope, 'operator.admin');
      const q = await reader.request('question.list', {});
      assert.equal(q.ok, false);
      assert.equal(q.error.details?.missingScope, 'operator.questions');
      assert.equal((await reader.request('tasks.list', {})).ok, true);
    } finally {
      reader.close();
    }
  });
});
