// clawgate's answers and events for chat, agent runs, sessions, agents and models, compared
// by shape with what the real OpenClaw gateway answered for the same calls on the same
// fake provider (tests/fixtures/real-gateway/{chat,sessions,agents,agent}-*.json, recorded
// by tests/fixtures/real-gateway/record-chat.mjs; CHAT-NOTES.md). The steps mirror the
// recorder's. `optional` lists keys one side has and the other lacks: keys of the real
// gateway's that clawgate does not send (the real one's bookkeeping, features clawgate does
// not have) and the few that clawgate adds; each list says which is which.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient } from './lib/client.mjs';
import { startGateway, sleep } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { assertShape, fixture } from './lib/shape.mjs';

const RUN = fixture('chat-send-run.json');
const HISTORY = fixture('chat-history.json');
const ABORT = fixture('chat-abort.json');
const ERROR = fixture('chat-error.json');
const AGENT = fixture('agent-run.json');
const SESSIONS = fixture('sessions.json');
const AGENTS = fixture('agents.json');

const real = (entry) => {
  assert.ok(entry?.response, `fixture entry has a response: ${JSON.stringify(entry).slice(0, 200)}`);
  return entry.response;
};
const realPayload = (entry) => real(entry).payload;
const chatOf = (events, state) => events.find((e) => e.event === 'chat' && e.payload.state === state)?.payload;
const agentOf = (events, stream, phase) => events.find((e) => e.event === 'agent' && e.payload.stream === stream && (!phase || e.payload.data?.phase === phase))?.payload;

// Keys of the real gateway's own bookkeeping, absent from clawgate's answers.
const REAL_TRANSCRIPT_META = ['idempotencyKey', '__openclaw', 'api', 'responseId', 'cacheRead', 'cacheWrite', 'cost'];
const REAL_HISTORY_EXTRAS = ['pendingInputs', 'deltaCursor', 'defaults', 'sessionInfo', 'nextOffset'];

let n = 0;
const key = () => `shape-${process.pid}-${++n}`;

describe('clawgate answers chat, agent, sessions, agents and models in the real gateway\'s shapes', () => {
  let gw, llm, a, r;
  const events = (c, runId) => c.events.filter((e) => (e.event === 'chat' || e.event === 'agent') && e.payload.runId === runId);
  const terminal = (c, runId, timeoutMs = 10000) => c.waitEvent('chat', { timeoutMs, predicate: (e) => e.payload.runId === runId && ['final', 'aborted', 'error'].includes(e.payload.state) });
  const responsesTo = (c, id) => c.frames.filter((f) => f.type === 'res' && f.id === id);

  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1', contextWindow: 200000, maxTokens: 1000 }] } } },
        agents: { defaults: { model: { primary: 'fake/m1' } } },
      },
    });
    a = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    r = await connectClient(gw, { params: { scopes: ['operator.read'] } });
  });
  after(async () => {
    a?.close();
    r?.close();
    await gw?.stop();
    await llm?.close();
  });

  let mainRun;
  test('chat.send: started, in_flight, ok', async () => {
    llm.script({ reply: 'Hello there, how can I help you today?', chunks: 6, delayMs: 100, usage: { input: 12, output: 9 } });
    mainRun = key();
    const send = await a.request('chat.send', { sessionKey: 'main', message: 'hi', idempotencyKey: mainRun });
    assertShape(send, real(RUN.send), 'chat.send');
    const again = await a.request('chat.send', { sessionKey: 'main', message: 'hi', idempotencyKey: mainRun });
    assertShape(again, real(RUN.sendSameKeyWhileRunning), 'chat.send (same key, running)');
    assert.equal(again.payload.status, 'in_flight');
    await terminal(a, mainRun);
    const after = await a.request('chat.send', { sessionKey: 'main', message: 'hi', idempotencyKey: mainRun });
    assert.deepEqual(after.payload, { runId: mainRun, status: 'ok' });
  });

  test('chat events: status, delta, final', () => {
    for (const c of [a, r]) {
      const ev = events(c, mainRun);
      const realEv = c === a ? RUN.eventsAtAdmin : RUN.eventsAtReadOnly;
      assert.deepEqual(ev.filter((e) => e.event === 'chat' && e.payload.state === 'status').map((e) => e.payload.phase),
        realEv.filter((e) => e.event === 'chat' && e.payload.state === 'status').map((e) => e.payload.phase));
      assertShape(chatOf(ev, 'status'), chatOf(realEv, 'status'), 'chat status');
      assertShape(chatOf(ev, 'delta'), chatOf(realEv, 'delta'), 'chat delta');
      // clawgate's final also carries the run's usage (issue 9: "final with message, stopReason and usage").
      assertShape(chatOf(ev, 'final'), chatOf(realEv, 'final'), 'chat final', { optional: ['usage'] });
      // The real gateway sends the agent lifecycle end before the chat final.
      const endAt = (list) => list.findIndex((e) => e.event === 'agent' && e.payload.stream === 'lifecycle' && e.payload.data.phase === 'end');
      const finalAt = (list) => list.findIndex((e) => e.event === 'chat' && e.payload.state === 'final');
      assert.ok(endAt(realEv) < finalAt(realEv));
      assert.ok(endAt(ev) >= 0 && endAt(ev) < finalAt(ev), 'agent lifecycle end before chat final');
    }
  });

  test('agent events: lifecycle start/end, assistant, usage (without the fields AgentEvent forbids)', () => {
    const ev = events(a, mainRun);
    // The real gateway puts sessionKey/sessionId/agentId/isHeartbeat on agent events, which the
    // 2026.9.1 AgentEvent schema forbids (OBSERVED.md); clawgate validates clean instead.
    const FORBIDDEN_BY_SCHEMA = ['sessionKey', 'sessionId', 'agentId', 'isHeartbeat'];
    assertShape(agentOf(ev, 'lifecycle', 'start'), agentOf(RUN.eventsAtAdmin, 'lifecycle', 'start'), 'agent lifecycle start', { optional: FORBIDDEN_BY_SCHEMA });
    // Real only: itemId (the assistant message's id).
    assertShape(agentOf(ev, 'assistant'), agentOf(RUN.eventsAtAdmin, 'assistant'), 'agent assistant', { optional: [...FORBIDDEN_BY_SCHEMA, 'itemId'] });
    // Real only: its run bookkeeping (liveness, receipts, replay state).
    assertShape(agentOf(ev, 'lifecycle', 'end'), agentOf(RUN.eventsAtAdmin, 'lifecycle', 'end'), 'agent lifecycle end',
      { optional: [...FORBIDDEN_BY_SCHEMA, 'aborted', 'livenessState', 'replayInvalid', 'terminalReply', 'terminalReceipt', 'executionSettled', 'stopReason'] });
    const usage = agentOf(ev, 'usage');
    if (usage) assertShape(usage, agentOf(RUN.eventsAtAdmin, 'usage'), 'agent usage', { optional: [...FORBIDDEN_BY_SCHEMA, 'inputTokens', 'totalTokens'] });
  });

  test('chat.history: one exchange; an unknown session', async () => {
    const h = await a.request('chat.history', { sessionKey: 'main' });
    const realH = real(HISTORY.main);
    assertShape({ ...h, payload: { ...h.payload, messages: [] } }, { ...realH, payload: { ...realH.payload, messages: [] } }, 'chat.history', { optional: REAL_HISTORY_EXTRAS });
    // clawgate's own on each message: runId (the real gateway keeps it in __openclaw.runId).
    const role = (x, rl) => x.payload.messages.find((m) => m.role === rl);
    assertShape(role(h, 'user'), role(realH, 'user'), 'chat.history user turn', { optional: [...REAL_TRANSCRIPT_META, 'runId'] });
    assertShape(role(h, 'assistant'), role(realH, 'assistant'), 'chat.history assistant turn', { optional: [...REAL_TRANSCRIPT_META, 'runId'] });
    const unknown = await a.request('chat.history', { sessionKey: 'no-such-session' });
    assertShape(unknown, real(HISTORY.unknown), 'chat.history (unknown session)', { optional: REAL_HISTORY_EXTRAS });
    assert.deepEqual(unknown.payload.messages, []);
    assert.equal(unknown.payload.totalMessages, 0);
    assert.equal(unknown.payload.hasMore, false);
  });

  test('chat.abort: aborted (partial text kept), again, no run', async () => {
    llm.script({ reply: 'a b c d e f g h i j k l m n o p q r s t', chunks: 20, delayMs: 250 });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'abortme', message: 'count slowly', idempotencyKey: runId });
    await a.waitEvent('chat', { timeoutMs: 10000, predicate: (e) => e.payload.runId === runId && e.payload.state === 'delta' });
    await sleep(700);
    assertShape(await a.request('chat.abort', { sessionKey: 'abortme', runId }), real(ABORT.abort), 'chat.abort');
    const aborted = await terminal(a, runId);
    assertShape(aborted.payload, chatOf(ABORT.events, 'aborted'), 'chat aborted event');
    assert.equal(aborted.payload.stopReason, chatOf(ABORT.events, 'aborted').stopReason);
    assertShape(await a.request('chat.abort', { sessionKey: 'abortme', runId }), real(ABORT.abortAgain), 'chat.abort again');
    assert.deepEqual((await a.request('chat.abort', { sessionKey: 'never-used' })).payload, realPayload(ABORT.abortUnknownSession));
  });

  test('chat error event (provider 400)', async () => {
    llm.script({ status: 400, errorMessage: 'fake provider says no' });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'errs', message: 'fail please', idempotencyKey: runId });
    const err = await terminal(a, runId);
    // Real only: errorDetail.failoverReason (its fallback chain); clawgate's own: errorKind (issue 9).
    assertShape(err.payload, chatOf(ERROR.events, 'error'), 'chat error event', { optional: ['errorKind', 'failoverReason'] });
  });

  test('agent: accepted, then the result on the same request id; agent.wait', async () => {
    llm.script({ reply: 'agent says hi', chunks: 3, delayMs: 100 });
    const runId = key();
    const id = `agent-${runId}`;
    const accepted = await a.request('agent', { message: 'hello agent', sessionKey: 'agent-run', idempotencyKey: runId }, { id });
    assertShape(accepted, real(AGENT.agent), 'agent (accepted)');
    const wait = await a.request('agent.wait', { runId, timeoutMs: 10000 }, { timeoutMs: 15000 });
    // Real only: its run bookkeeping.
    assertShape(wait, real(AGENT['agent.wait {runId, timeoutMs:30000}']), 'agent.wait',
      { optional: ['startedAt', 'livenessState', 'terminalReceipt', 'terminalReply'] });
    await sleep(300);
    const [, final] = responsesTo(a, id);
    assert.ok(final, 'a second response on the agent request id');
    // Real only: meta.agentMeta, meta.aborted, meta.systemPromptReport, ... (its run report).
    const REAL_META = ['agentMeta', 'aborted', 'systemPromptReport', 'finalAssistantVisibleText', 'finalAssistantRawText', 'executionTrace', 'requestShaping', 'completion', 'toolSummary', 'stopReason', 'livenessState', 'replayInvalid', 'terminalReceipt', 'finalPromptText', 'sourceReplyDeliveryState'];
    assertShape(final, AGENT.responsesOnTheAgentRequestId[1], 'agent (result)', { optional: REAL_META });
    assert.equal(final.payload.result.payloads[0].text, 'agent says hi');
    assertShape(await a.request('agent.wait', { runId: 'no-such-run', timeoutMs: 500 }), real(AGENT['agent.wait unknown run']), 'agent.wait (unknown run)');
  });

  test('agent: a failing run answers ok:false UNAVAILABLE with {runId, status:"error", summary}', async () => {
    llm.script({ status: 400, errorMessage: 'fake provider says no' });
    const runId = key();
    const id = `agent-${runId}`;
    await a.request('agent', { message: 'fail', sessionKey: 'agent-fail', idempotencyKey: runId }, { id });
    const wait = await a.request('agent.wait', { runId, timeoutMs: 10000 }, { timeoutMs: 15000 });
    assertShape(wait, real(AGENT['agent.wait failing']), 'agent.wait (failed run)', { optional: ['startedAt'] });
    await sleep(300);
    const [, final] = responsesTo(a, id);
    assert.ok(final, 'a second response on the agent request id');
    // The real gateway also puts {runId, status:"error", summary} in the payload of that error
    // response; clawgate puts {runId, status, errorKind} in error.details instead (issue 9).
    assertShape(final, AGENT['agent failing: responses'][1], 'agent (failed)', { optional: ['payload', 'details'] });
    assert.equal(final.error.code, 'UNAVAILABLE');
  });

  test('sessions.list, preview, patch, reset, delete', async () => {
    llm.script({ reply: 'second session reply' });
    const runId = key();
    await a.call('chat.send', { sessionKey: 'work', message: 'hello work', idempotencyKey: runId });
    await terminal(a, runId);
    const list = await a.request('sessions.list', {});
    // Envelope. Real only: owners (session ownership), defaults.{agentRuntime, thinking*, modelSelectionTarget}.
    const ENVELOPE_REAL = ['owners', 'agentRuntime', 'thinkingLevels', 'thinkingOptions', 'thinkingDefault', 'modelSelectionTarget'];
    const realList = realPayload(SESSIONS['sessions.list {includeLastMessage:true, includeDerivedTitles:true}']);
    const row = list.payload.sessions.find((s) => s.key === 'agent:main:work');
    const realRow = realList.sessions.find((s) => s.key === 'agent:main:work');
    assertShape({ ...list.payload, sessions: [] }, { ...realList, sessions: [] }, 'sessions.list envelope', { optional: ENVELOPE_REAL });
    // A row. Real only: sharing/participants, run status and timing, runtime placement, thinking
    // options, context budget, fast mode, queue mode; clawgate's own: lastActivityAt.
    const ROW_REAL = ['visibility', 'permissionModePending', 'createdVia', 'participants', 'expandedParticipants', 'participantCount', 'chatType',
      'systemSent', 'abortedLastRun', 'thinkingLevels', 'thinkingOptions', 'thinkingDefault', 'effectiveFastMode', 'effectiveFastModeSource',
      'fastAutoOnSeconds', 'totalTokensFresh', 'status', 'startedAt', 'endedAt', 'runtimeMs', 'lastRunId', 'effectiveResponseUsage',
      'effectiveQueueMode', 'modelProvider', 'model', 'modelOverrideSource', 'runtimeSelectionLocked', 'agentRuntime', 'contextTokens',
      'contextBudgetStatus', 'snapshotAt', 'placement', 'hasActiveRun', 'activeRunIds', 'sharingRole', 'hasAutomation', 'derivedTitle', 'displayName'];
    assertShape(row, realRow, 'sessions.list row', { optional: [...ROW_REAL, 'lastActivityAt'] });

    assertShape(await a.request('sessions.preview', { keys: ['main', 'agent:main:work', 'nope'] }), real(SESSIONS['sessions.preview {keys:[main, work, unknown]}']), 'sessions.preview');

    // The session entry: the real gateway's holds ~50 keys of its run and lifecycle
    // bookkeeping (skills snapshot, system prompt report, diff baseline, ...). Compared: the
    // envelope, and clawgate's entry keys against the real entry's (same types; none invented).
    const entryCheck = (res, rec, what) => {
      const realRes = real(rec);
      const realEntry = realRes.payload.entry;
      const mine = res.payload.entry;
      // Real only in resolved: its agent runtime selection.
      assertShape({ ...res, payload: { ...res.payload, entry: {} } }, { ...realRes, payload: { ...realRes.payload, entry: {} } }, what, { optional: ['agentRuntime', 'runtimeSelectionLocked'] });
      const common = Object.fromEntries(Object.keys(mine).filter((k) => k in realEntry).map((k) => [k, realEntry[k]]));
      // clawgate's own: lastMessagePreview (the list row's, kept with the entry); label (the
      // recording cleared it before the reset).
      assertShape(mine, common, `${what} entry`, { optional: ['lastMessagePreview', 'label'] });
      for (const k of ['sessionId', 'updatedAt']) assert.ok(k in mine, `${what}: entry.${k}`);
    };
    entryCheck(await a.request('sessions.patch', { key: 'work', label: 'Work stuff' }), SESSIONS['sessions.patch {key:work, label}'], 'sessions.patch');
    const before = (await a.call('chat.history', { sessionKey: 'work' })).sessionId;
    const reset = await a.request('sessions.reset', { key: 'work' });
    entryCheck(reset, SESSIONS['sessions.reset {key:work}'], 'sessions.reset');
    // The real gateway (2026.9.6) kept the session id of a reset non-main session; clawgate
    // gives it a new one, as issue 9 asks (CHAT-NOTES.md).
    assert.notEqual(reset.payload.entry.sessionId, before);
    assertShape(await a.request('sessions.delete', { key: 'work' }), real(SESSIONS['sessions.delete {key:work}']), 'sessions.delete');
    assertShape(await a.request('sessions.delete', { key: 'work' }), real(SESSIONS['sessions.delete {key:work} again']), 'sessions.delete (again)');
    const main = await a.request('sessions.delete', { key: 'main' });
    assert.equal(main.ok, false);
    assert.equal(main.error.code, real(SESSIONS['sessions.delete {key:main}']).error.code);
  });

  // The real gateway needs operator.admin for sessions.reset and sessions.compact, and for
  // sessions.delete unless {archivedOnly: true} (then operator.write): its method-scopes
  // table ("dynamic" in the schema). clawgate asks operator.write for all three. Reported;
  // kept as a todo until the method table can express a params-dependent scope.
  test('sessions.delete and sessions.reset need operator.admin, as on the real gateway', { todo: 'clawgate asks operator.write (CHAT-NOTES.md)' }, async () => {
    const w = await connectClient(gw, { params: { scopes: ['operator.write'] } });
    try {
      const del = await w.request('sessions.delete', { key: 'abortme' });
      assert.deepEqual(del.error, real(SESSIONS['sessions.delete read-only caller']).error);
      const reset = await w.request('sessions.reset', { key: 'abortme' });
      assert.equal(reset.error?.details?.missingScope, 'operator.admin');
    } finally {
      w.close();
    }
  });

  test('agents.list, agents.create, agents.files.list/get, agent.identity.get, models.list', async () => {
    // Real only in agents.list: ownership/selectionRequired (multi-agent routing), per agent its
    // runtime, thinking options, model and permission mode, workspaceGit, who created it.
    const AGENT_REAL = ['ownership', 'selectionRequired', 'workspaceGit', 'agentRuntime', 'thinkingLevels', 'thinkingOptions', 'thinkingDefault', 'model', 'defaultPermissionMode',
      'createdVia', 'creatorAgentId', 'createdAt'];
    assertShape(await a.request('agents.list', {}), real(AGENTS['agents.list']), 'agents.list', { optional: AGENT_REAL });
    assertShape(await a.request('agents.create', { name: 'Barsbot' }), real(AGENTS['agents.create {name:"Barsbot"}']), 'agents.create');
    const dup = await a.request('agents.create', { name: 'Barsbot' });
    assert.equal(dup.ok, false);
    assert.equal(dup.error.code, real(AGENTS['agents.create {name:"Barsbot"} again']).error.code);
    assertShape(await a.request('agents.create', { name: 'Emo Bot', emoji: '🦀', model: 'fake/m1' }), real(AGENTS['agents.create {name:"Emo Bot", emoji, model}']), 'agents.create (model)');
    const listed = await a.request('agents.list', {});
    const realListed = real(AGENTS['agents.list after create']);
    assertShape(listed.payload.agents.find((x) => x.id === 'barsbot'), realListed.payload.agents.find((x) => x.id === 'barsbot'), 'agents.list entry (created)', { optional: AGENT_REAL });

    // The real gateway seeds AGENTS.md, SOUL.md, IDENTITY.md, USER.md, BOOTSTRAP.md into a new
    // workspace; clawgate does not, so compare a missing file with a missing file and a
    // written one with a present one.
    const files = await a.request('agents.files.list', { agentId: 'main' });
    const realFiles = real(AGENTS['agents.files.list main']);
    assertShape({ ...files, payload: { ...files.payload, files: [] } }, { ...realFiles, payload: { ...realFiles.payload, files: [] } }, 'agents.files.list');
    assertShape(files.payload.files.find((f) => f.name === 'MEMORY.md'), realFiles.payload.files.find((f) => f.name === 'MEMORY.md'), 'agents.files.list entry (missing)');
    assertShape(await a.request('agents.files.get', { agentId: 'main', name: 'MEMORY.md' }), real(AGENTS['agents.files.get main MEMORY.md']), 'agents.files.get (missing)');
    await a.call('agents.files.set', { agentId: 'main', name: 'AGENTS.md', content: '# AGENTS.md\n' });
    // Real only: hash (sha256 of the content).
    assertShape(await a.request('agents.files.get', { agentId: 'main', name: 'AGENTS.md' }), real(AGENTS['agents.files.get main AGENTS.md']), 'agents.files.get', { optional: ['hash'] });
    const relisted = await a.request('agents.files.list', { agentId: 'main' });
    assertShape(relisted.payload.files.find((f) => f.name === 'AGENTS.md'), realFiles.payload.files.find((f) => f.name === 'AGENTS.md'), 'agents.files.list entry (present)');
    const escape = await a.request('agents.files.get', { agentId: 'main', name: '../x.md' });
    assert.deepEqual(escape.error, real(AGENTS['agents.files.get main ../x.md']).error);

    assertShape(await a.request('agent.identity.get', {}), real(AGENTS['agent.identity.get {}']), 'agent.identity.get');
    assertShape(await a.request('agent.identity.get', { agentId: 'emo-bot' }), real(AGENTS['agent.identity.get {agentId:"emo-bot"}']), 'agent.identity.get (emoji)');
  });

  test('models.list', async (t) => {
    const rec = AGENTS['models.list {} before agents.create'] || AGENTS['models.list {}'];
    if (!rec?.response?.ok) return t.skip('the recording has no models.list answer (the real catalog was not ready)');
    // clawgate's own: input (the model's input kinds, from config; the real gateway sends it
    // with includeDetails, as `openclaw models list` asks). Real only: tags ("default"),
    // thinkingLevels, thinkingDefault.
    assertShape(await a.request('models.list', {}), real(rec), 'models.list', { optional: ['input', 'tags', 'thinkingLevels', 'thinkingDefault'] });
  });
});
