// The Control UI's startup methods whose result the schema does not define (chat.startup,
// chat.metadata, plugin.approval.list, openclaw.approval.list, models.authStatus,
// sessions.describe), compared by shape with what the real OpenClaw gateway answered to the
// same params (tests/fixtures/real-gateway/ui-startup-<method>.frames.json, recorded by
// `record-real-gateway.mjs --only ui-startup`; the calls and how the sessions were made are in
// ui-startup.json). The steps mirror the recorder's: each call on a gateway with no config
// and on one with the fake provider, first with no session ("fresh", "provider"), then after
// chat.send on the main session and sessions.patch on a new key ("with-session",
// "provider-with-session"). Shapes: same keys, same JSON types, recursively; arrays by
// element shape when both sides have elements (lib/shape.mjs). An error is compared by code.
// `optional` lists the keys one side has and the other lacks, each with the reason; for keys
// of the real gateway's that clawgate lacks, why the real UI copes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient } from './lib/client.mjs';
import { startGateway } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { assertShape, fixture } from './lib/shape.mjs';

const CALLS = fixture('ui-startup.json').calls;
const RECORDED = Object.fromEntries([...new Set(CALLS.map((c) => c.method))]
  .map((m) => [m, fixture(`ui-startup-${m}.frames.json`).calls]));
const UI_CLIENT = { id: 'openclaw-control-ui', version: '2026.9.6', platform: 'linux', mode: 'webchat' };
const UI_SCOPES = ['operator.admin', 'operator.read', 'operator.write', 'operator.approvals', 'operator.pairing', 'operator.questions'];
const MAIN_KEY = 'agent:main:main';
const PATCHED_KEY = 'agent:main:ui-fixture';

// The real answer to method+params in a recorded state (a response frame).
function recorded(method, params, state) {
  const call = RECORDED[method].find((c) => c.state === state && JSON.stringify(c.request.params) === JSON.stringify(params));
  assert.ok(call, `no recording of ${method} ${JSON.stringify(params)} in state ${state}`);
  return call.response;
}

// chat.startup with a sessionKey is the real gateway's chat.history handler. Real only in the
// envelope: pendingInputs (its queue of inputs accepted while a run is busy), deltaCursor
// (incremental history), defaults and sessionInfo (the session's row and model defaults, also
// in sessions.list/describe), inFlightRun (the recording's provider run was still going), as
// chat-shapes.test.mjs finds for chat.history. The real UI copes: it reads `pendingInputs ?? []`,
// falls back from sessionInfo.sessionId to the top-level sessionId, and treats deltaCursor and
// inFlightRun as absent when missing.
const STARTUP_REAL_ONLY = ['pendingInputs', 'deltaCursor', 'defaults', 'sessionInfo', 'nextOffset', 'inFlightRun'];
// On a message: the real gateway's transcript bookkeeping (idempotencyKey, __openclaw) and
// clawgate's own runId, as in chat-shapes.test.mjs.
const MESSAGE_EXTRAS = ['idempotencyKey', '__openclaw', 'api', 'responseId', 'cacheRead', 'cacheWrite', 'cost', 'runId'];
// A model in chat.metadata, as in models.list (chat-shapes.test.mjs): clawgate's own input
// (the configured input kinds); real only tags ("default") and its thinking levels (clawgate
// has no thinking control).
const MODEL_EXTRAS = ['input', 'tags', 'thinkingLevels', 'thinkingDefault'];
// A session row of sessions.describe.
//  - clawgate's own: lastMessagePreview and lastActivityAt (its sessions.list row keys);
//    inputTokens/outputTokens/totalTokens from creation on (the real row has totalTokens only
//    once a run reported usage: runtime-dependent).
//  - real only, features clawgate lacks: sharing and ownership (visibility, createdVia,
//    createdActor, owner, sharingRole, hiddenFromInvolvingMe, permissionModePending), its run
//    ledger on the row (status, startedAt, endedAt, runtimeMs, lastRunId, lastRunError,
//    abortedLastRun, systemSent, hasAutomation, activitySummary, placement, snapshotAt),
//    thinking/fast/queue/usage modes (thinking*, effectiveFastMode*, fastAutoOnSeconds,
//    effectiveResponseUsage, effectiveQueueMode), runtime selection (agentRuntime,
//    runtimeSelectionLocked), context budget (contextTokens, totalTokensFresh), chatType.
//    The real UI reads all of these as optional (it renders rows from clawgate's sessions.list,
//    which lacks the same keys, since issue 11).
//  - modelProvider/model: the real gateway has a built-in default model; clawgate with no
//    model configured has none to name (config-dependent, so optional in the "no config" run).
const ROW_OWN = ['lastMessagePreview', 'lastActivityAt', 'inputTokens', 'outputTokens', 'totalTokens'];
const ROW_REAL_ONLY = ['visibility', 'permissionModePending', 'createdVia', 'createdActor', 'owner', 'sharingRole', 'hiddenFromInvolvingMe',
  'status', 'startedAt', 'endedAt', 'runtimeMs', 'lastRunId', 'lastRunError', 'abortedLastRun', 'systemSent', 'hasAutomation', 'activitySummary',
  'placement', 'snapshotAt', 'thinkingLevels', 'thinkingOptions', 'thinkingDefault', 'effectiveFastMode', 'effectiveFastModeSource',
  'fastAutoOnSeconds', 'effectiveResponseUsage', 'effectiveQueueMode', 'agentRuntime', 'runtimeSelectionLocked', 'contextTokens',
  'totalTokensFresh', 'chatType'];

// Compares clawgate's response to one call with the recording; `configured`: a model is configured.
function compare(method, params, res, real, configured) {
  const what = `${method} ${JSON.stringify(params)}`;
  assert.equal(res.ok, real.ok, `${what}: ok ${res.ok} where the real gateway answered ${JSON.stringify(real.error ?? real.payload).slice(0, 200)}`);
  if (!real.ok) {
    assert.equal(res.error.code, real.error.code, `${what}: ${JSON.stringify(res.error)}`);
    return;
  }
  const mine = res.payload;
  const theirs = real.payload;
  if (method === 'chat.startup' && 'resolution' in theirs) {
    assert.deepEqual(mine, theirs, what);
  } else if (method === 'chat.startup') {
    assertShape({ ...mine, messages: [] }, { ...theirs, messages: [] }, what, { optional: STARTUP_REAL_ONLY });
    // Messages by role where both have one: the recordings end on a failed run (custom
    // "run-failed-before-reply" turn, no provider) or a run still going; clawgate's assistant
    // turns are compared with the real ones in chat-shapes.test.mjs (chat.history).
    for (const role of new Set(theirs.messages.map((m) => m.role))) {
      const m = mine.messages.find((x) => x.role === role);
      if (m) assertShape(m, theirs.messages.find((x) => x.role === role), `${what} ${role} message`, { optional: MESSAGE_EXTRAS });
    }
    assert.deepEqual(mine.messages.map((m) => m.role).includes('user'), theirs.messages.map((m) => m.role).includes('user'), `${what}: a user turn`);
  } else if (method === 'chat.metadata') {
    // commands: the real gateway lists its ~50-70 slash commands (plugins add some once a run
    // loaded them); clawgate has no text commands, so its list is empty (the UI then offers
    // none). swarmEnabled: the real one's swarm config (true by default); clawgate has none.
    assertShape(mine, theirs, what, { optional: MODEL_EXTRAS });
    assert.deepEqual(mine.accountSelection, theirs.accountSelection, `${what}: accountSelection`);
  } else if (method === 'models.authStatus') {
    // providerCapabilities: the real gateway's provider plugins that offer API-key or login
    // setup (22 here); clawgate has no setup flows, so the list is empty (the UI shows none).
    assertShape(mine, theirs, what);
  } else if (method === 'sessions.describe') {
    const optional = [...ROW_OWN, ...ROW_REAL_ONLY, ...(configured ? [] : ['modelProvider', 'model'])];
    assertShape(mine, theirs, what, { optional });
    if (theirs.session) assert.equal(mine.session.key, theirs.session.key);
  } else {
    assertShape(mine, theirs, what);
    assert.deepEqual(mine, theirs, what);
  }
}

const RUNS = [
  { name: 'a gateway with no model configured', states: ['fresh', 'with-session'], configured: false },
  { name: 'a gateway with the fake provider', states: ['provider', 'provider-with-session'], configured: true },
];

for (const run of RUNS) {
  describe(`Control UI startup answers in the real gateway's shapes: ${run.name}`, () => {
    let gw, llm, ui;
    before(async () => {
      llm = await startFakeLlm({ apiKey: 'sk-test' });
      gw = await startGateway(run.configured ? {
        config: {
          models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1', contextWindow: 200000, maxTokens: 1000 }] } } },
          agents: { defaults: { model: { primary: 'fake/m1' } } },
        },
      } : {});
      ui = await connectClient(gw, { params: { client: UI_CLIENT, scopes: UI_SCOPES } });
    });
    after(async () => {
      ui?.close();
      await gw?.stop();
      await llm?.close();
    });

    const callAll = async (state) => {
      for (const { method, params } of CALLS) {
        compare(method, params, await ui.request(method, params), recorded(method, params, state), run.configured);
      }
    };

    test(`no session yet (${run.states[0]})`, () => callAll(run.states[0]));

    test(`after chat.send on the main session and sessions.patch on a new key (${run.states[1]})`, async () => {
      llm.script({ reply: 'Hello from the fake provider.' });
      const runId = `ui-shapes-${process.pid}-${run.states[1]}`;
      await ui.call('chat.send', { sessionKey: MAIN_KEY, message: 'hello from the ui-startup fixture', idempotencyKey: runId });
      await ui.waitEvent('chat', { timeoutMs: 15000, predicate: (e) => e.payload.runId === runId && ['final', 'error'].includes(e.payload.state) });
      await ui.call('sessions.patch', { key: PATCHED_KEY, label: 'UI fixture' });
      await callAll(run.states[1]);
    });
  });
}
