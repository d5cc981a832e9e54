// Exec approvals (issue 8): the gateway's policy file (exec.approvals.get/set) and
// pending approvals (exec.approval.request / waitDecision / resolve / get / list), who
// receives exec.approval.requested / resolved, compared with the real gateway's answers
// (tests/fixtures/real-gateway/approvals-exec-approval-flow.json, exec-approvals-file.json).
// Every frame is validated against the schema by the client harness (exec.approvals.* as
// ExecApprovalsSnapshot).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connectClient } from './lib/client.mjs';
import { startGateway, sleep } from './lib/gateway.mjs';
import { assertShape, fixture } from './lib/shape.mjs';

const FLOW = fixture('approvals-exec-approval-flow.json');
const FILE = fixture('exec-approvals-file.json');
const REQ = { command: 'echo hi', commandArgv: ['echo', 'hi'], cwd: '/tmp', agentId: 'main', sessionKey: 'agent:main:main', host: 'gateway', timeoutMs: 120000 };
const NOT_FOUND = { reason: 'APPROVAL_NOT_FOUND', remediation: 'Re-request the action; pending approvals are cleared after expiry or restart.' };

// clawgate does not analyse commands: commandAnalysis is null (as OpenClaw sends when its
// analysis is unavailable); everything else has the real gateway's shape.
const withoutAnalysis = (o) => {
  const c = structuredClone(o);
  const req = c.request ?? c;
  delete req.commandAnalysis;
  return c;
};
const recordedRequested = FLOW['approval client connected: one-phase, allow-once'].pendingEvents.eventsAtControlUi[0].payload;
const recordedResolved = FLOW['approval client connected: one-phase, allow-once'].resolvedEvents.eventsAtControlUi[0].payload;

/** Everything received on `c` since `from`, by event name. */
const eventsOf = (c, name, from = 0) => c.events.slice(from).filter((e) => e.event === name);

/** The n-th response frame on id (the harness resolves a request with the first). */
function nthResponse(c, id, n) {
  return c.waitFor(() => c.frames.filter((f) => f.type === 'res' && f.id === id)[n - 1], 10000, `response ${n} on ${id}`);
}

async function clients(gw) {
  // A: the requester, an admin CLI on the shared token (no device, not an approval client).
  const A = await connectClient(gw, { params: { scopes: ['operator.admin', 'operator.approvals'] } });
  // U: the Control UI, an approval client by its client id.
  const U = await connectClient(gw, {
    params: { client: { id: 'openclaw-control-ui', version: '2026.9.6', platform: 'linux', mode: 'webchat' }, scopes: ['operator.admin', 'operator.read', 'operator.write', 'operator.approvals'] },
  });
  // AP: operator.approvals only, no device, not a UI: sees only what it asked itself.
  const AP = await connectClient(gw, { params: { scopes: ['operator.approvals'] } });
  // C: an approval client by cap, without operator.admin: sees only its own device's.
  const C = await connectClient(gw, { params: { scopes: ['operator.approvals'], caps: ['exec-approvals'] } });
  // R: read+write, no approvals scope.
  const R = await connectClient(gw, { params: { scopes: ['operator.read', 'operator.write'] } });
  return { A, U, AP, C, R };
}

describe('exec.approvals.get / set: the policy file', () => {
  let gw, A, R;
  before(async () => {
    gw = await startGateway();
    A = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    R = await connectClient(gw, { params: { scopes: ['operator.read', 'operator.write'] } });
  });
  after(async () => { A?.close(); R?.close(); await gw.stop(); });

  const file = (extra = {}) => ({ version: 1, defaults: { security: 'allowlist', ask: 'on-miss', askFallback: 'deny' }, agents: { main: { security: 'allowlist', ask: 'on-miss', askFallback: 'deny', allowlist: [{ pattern: '/usr/bin/echo' }] } }, ...extra });
  const policyPath = () => path.join(gw.stateDir, 'exec-approvals.json');

  test('fresh: no file, OpenClaw defaults resolved', async () => {
    const snap = await A.call('exec.approvals.get', {});
    assert.equal(snap.path, policyPath());
    assert.equal(snap.exists, false);
    assert.match(snap.hash, /^missing:e3b0c442/);
    assert.deepEqual(snap.file, { version: 1, defaults: {}, agents: {} });
    assert.deepEqual(snap.resolvedDefaults, FILE['exec.approvals.get (fresh)'].response.payload.resolvedDefaults);
    const shapeOf = structuredClone(FILE['exec.approvals.get (fresh)'].response.payload);
    delete shapeOf.file.socket; // clawgate has no exec-approvals socket
    assertShape(snap, shapeOf, 'exec.approvals.get');
    const bad = await A.request('exec.approvals.get', { foo: 1 });
    assert.equal(bad.error.code, 'INVALID_REQUEST');
    assert.match(bad.error.message, /unexpected property 'foo'/);
    const forbidden = await R.request('exec.approvals.get', {});
    assert.equal(forbidden.error.code, 'FORBIDDEN');
    assert.equal(forbidden.error.details.missingScope, 'operator.approvals');
  });

  test('set: first write, hash rules with the real messages, ids, atomic 0600 file', async () => {
    const fresh = await A.call('exec.approvals.get', {});
    const first = await A.call('exec.approvals.set', { file: file(), baseHash: fresh.hash });
    assert.equal(first.exists, true);
    assert.notEqual(first.hash, fresh.hash);
    const entry = first.file.agents.main.allowlist[0];
    assert.deepEqual(Object.keys(entry), ['pattern', 'id']);
    assert.match(entry.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(first.resolvedDefaults, { security: 'allowlist', ask: 'on-miss', askFallback: 'deny', autoAllowSkills: false });
    const st = fs.statSync(policyPath());
    assert.equal(st.mode & 0o777, 0o600);
    const onDisk = fs.readFileSync(policyPath(), 'utf8');
    assert.deepEqual(JSON.parse(onDisk), first.file);
    const crypto = await import('node:crypto');
    assert.equal(first.hash, crypto.createHash('sha256').update(onDisk).digest('hex'));
    assert.deepEqual(fs.readdirSync(gw.stateDir).filter((n) => n.includes('.tmp')), []);

    let r = await A.request('exec.approvals.set', { file: file() });
    assert.deepEqual(r.error, FILE['exec.approvals.set missing baseHash'].response.error);
    r = await A.request('exec.approvals.set', { file: file(), baseHash: 'sha256:0000' });
    assert.deepEqual(r.error, FILE['exec.approvals.set baseHash wrong'].response.error);
    r = await A.request('exec.approvals.set', { file: file(), baseHash: fresh.hash });
    assert.deepEqual(r.error, FILE['exec.approvals.set stale baseHash (the fresh one)'].response.error);
    assert.equal(fs.readFileSync(policyPath(), 'utf8'), onDisk, 'a refused write leaves the file');
    assert.deepEqual(await A.call('exec.approvals.get', {}), first);
  });

  test('set: a bad file is INVALID_REQUEST naming what is wrong; nothing written', async () => {
    const { hash } = await A.call('exec.approvals.get', {});
    const before = fs.readFileSync(policyPath(), 'utf8');
    const cases = [
      [{ ...file(), version: 2 }, /at \/file\/version: must be equal to constant/],
      [{ defaults: {} }, /at \/file: must have required property 'version'/],
      [{ version: 1, agents: { main: { allowlist: 'x' } } }, /at \/file\/agents\/main\/allowlist: must be array/],
      [{ version: 1, defaults: { security: 'bogus' } }, /\/file\/defaults\/security: must be one of deny, allowlist, full/],
      [{ version: 1, agents: { main: { ask: 'sometimes' } } }, /\/file\/agents\/main\/ask: must be one of off, on-miss, always/],
      [{ version: 1, defaults: { askFallback: 'maybe' } }, /askFallback: must be one of deny, allowlist, full/],
      [{ version: 1, agents: { main: { allowlist: [{ id: 'x' }] } } }, /must have required property 'pattern'/],
      [{ version: 1, agents: { main: { allowlist: [{ pattern: '/bin/ls', source: 'manual' }] } } }, /source must be "allow-always"/],
    ];
    for (const [f, re] of cases) {
      const r = await A.request('exec.approvals.set', { file: f, baseHash: hash });
      assert.equal(r.ok, false, JSON.stringify(f));
      assert.equal(r.error.code, 'INVALID_REQUEST');
      assert.match(r.error.message, /^invalid exec\.approvals\.set params: /);
      assert.match(r.error.message, re);
    }
    assert.equal(fs.readFileSync(policyPath(), 'utf8'), before);
  });

  test('set: every entry field kept but commandText; the socket token stored, never shown', async () => {
    const { hash } = await A.call('exec.approvals.get', {});
    const req = FILE['exec.approvals.set with socket {path, token} and an allowlist entry with all fields'];
    const snap = await A.call('exec.approvals.set', { file: req.request.params.file, baseHash: hash });
    assert.deepEqual(snap.file, req.response.payload.file);
    assert.deepEqual(snap.resolvedDefaults, req.response.payload.resolvedDefaults);
    const disk = JSON.parse(fs.readFileSync(policyPath(), 'utf8'));
    assert.equal(disk.socket.token, 'fixture-socket-token');
    // Sent back as shown (no token), the stored token stays.
    const again = await A.call('exec.approvals.set', { file: { version: 1, socket: { path: '/tmp/fixture.sock' } }, baseHash: snap.hash });
    assert.deepEqual(again.file, { version: 1, socket: { path: '/tmp/fixture.sock' }, defaults: {}, agents: {} });
    assert.equal(JSON.parse(fs.readFileSync(policyPath(), 'utf8')).socket.token, 'fixture-socket-token');
  });

  test('a file edited by someone else: the next write is refused as changed, then works', async () => {
    const { hash } = await A.call('exec.approvals.get', {});
    fs.writeFileSync(policyPath(), JSON.stringify({ version: 1, defaults: { security: 'deny' } }));
    let r = await A.request('exec.approvals.set', { file: { version: 1 }, baseHash: hash });
    assert.equal(r.error?.message, 'exec approvals changed since last load; re-run exec.approvals.get and retry');
    const now = await A.call('exec.approvals.get', {});
    assert.equal(now.resolvedDefaults.security, 'deny');
    r = await A.call('exec.approvals.set', { file: { version: 1 }, baseHash: now.hash });
    assert.equal(r.resolvedDefaults.security, 'full');
  });

  test('the file survives a restart', async () => {
    const { hash } = await A.call('exec.approvals.get', {});
    const snap = await A.call('exec.approvals.set', { file: file(), baseHash: hash });
    A.close(); R.close();
    await gw.stop('SIGTERM', { keepStateDir: true });
    gw = await startGateway({ stateDir: gw.stateDir });
    A = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    R = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    assert.deepEqual(await A.call('exec.approvals.get', {}), snap);
  });
});

describe('exec.approval.*: pending approvals', () => {
  let gw, A, U, AP, C, R;
  before(async () => {
    gw = await startGateway();
    // The approval clients connect later: first, requests with nobody to ask.
    A = await connectClient(gw, { params: { scopes: ['operator.admin', 'operator.approvals'] } });
  });
  after(async () => { for (const c of [A, U, AP, C, R]) c?.close(); await gw.stop(); });

  test('no approval client: decision null at once; then already resolved, gone from get/list', async () => {
    const t0 = Date.now();
    const res = await A.call('exec.approval.request', REQ);
    assert.ok(Date.now() - t0 < 2000);
    assertShape(res, FLOW['no approval client: exec.approval.request one-phase'].response.payload, 'request answer');
    assert.equal(res.decision, null);
    assert.equal(res.expiresAtMs - res.createdAtMs, 120000);
    let r = await A.request('exec.approval.get', { id: res.id });
    assert.deepEqual(r.error, FLOW['no approval client: exec.approval.get {id} after'].response.error);
    assert.deepEqual(await A.call('exec.approval.list', {}), []);
    r = await A.request('exec.approval.resolve', { id: res.id, decision: 'allow-once' });
    assert.deepEqual(r.error, FLOW['no approval client: exec.approval.resolve it'].response.error);
    // twoPhase: no "accepted" either, the final null at once; waitDecision says why.
    const two = await A.request('exec.approval.request', { ...REQ, twoPhase: true });
    assert.equal(two.payload.decision, null);
    const w = await A.call('exec.approval.waitDecision', { id: two.payload.id });
    assert.deepEqual(w, { ...two.payload, terminalReason: 'no-route' });
    assert.equal(eventsOf(A, 'exec.approval.requested').length, 0);
    assert.deepEqual(await A.call('plugin.approval.list', {}), []);
    assert.deepEqual(await A.call('openclaw.approval.list', {}), []);
  });

  test('one-phase allow-once: who gets the events, get, list, waitDecision, resolve, repeats', async () => {
    ({ U, AP, C, R } = await clients(gw));
    const marks = [A, U, AP, C].map((c) => c.events.length);
    const pending = A.request('exec.approval.request', REQ, { timeoutMs: 20000 });
    const ev = await U.waitEvent('exec.approval.requested', { from: marks[1] });
    assertShape(withoutAnalysis(ev.payload), withoutAnalysis(recordedRequested), 'exec.approval.requested');
    assert.equal(ev.payload.request.commandAnalysis, null);
    assert.deepEqual(withoutAnalysis(ev.payload.request), withoutAnalysis(recordedRequested.request));
    const { id } = ev.payload;
    // Not to the requester, not to a non-UI approvals holder, not to a non-admin
    // approval client of another device.
    await sleep(200);
    assert.equal(eventsOf(A, 'exec.approval.requested', marks[0]).length, 0);
    assert.equal(eventsOf(AP, 'exec.approval.requested', marks[2]).length, 0);
    assert.equal(eventsOf(C, 'exec.approval.requested', marks[3]).length, 0);

    const got = await U.call('exec.approval.get', { id });
    assert.deepEqual(got, { ...FLOW['approval client connected: one-phase, allow-once']['exec.approval.get {id}'].response.payload, id, expiresAtMs: ev.payload.expiresAtMs });
    assert.deepEqual(await U.call('exec.approval.get', { id: id.slice(0, 8) }), got);
    const listed = await U.call('exec.approval.list', {});
    assert.deepEqual(listed, [{ id, request: ev.payload.request, createdAtMs: ev.payload.createdAtMs, expiresAtMs: ev.payload.expiresAtMs, approvalKind: 'exec' }]);
    assert.deepEqual(await A.call('exec.approval.list', {}), listed);
    assert.deepEqual(await AP.call('exec.approval.list', {}), []);
    assert.deepEqual(await C.call('exec.approval.list', {}), []);
    assert.equal((await C.request('exec.approval.get', { id })).error.details.reason, 'APPROVAL_NOT_FOUND');
    const forbidden = await R.request('exec.approval.list', {});
    assert.deepEqual(forbidden.error, FLOW['approval client connected: one-phase, allow-once']['exec.approval.list (cli read+write)'].response.error);
    assert.deepEqual(await U.call('plugin.approval.list', {}), []);
    assert.deepEqual(await U.call('openclaw.approval.list', {}), []);

    const waitA = A.request('exec.approval.waitDecision', { id });
    const waitU = U.request('exec.approval.waitDecision', { id });
    await sleep(100);
    const uMark = U.events.length;
    assert.deepEqual(await U.call('exec.approval.resolve', { id, decision: 'allow-once' }), { ok: true });
    const answer = (await pending).payload;
    assert.deepEqual(answer, { id, decision: 'allow-once', createdAtMs: ev.payload.createdAtMs, expiresAtMs: ev.payload.expiresAtMs });
    for (const w of [await waitA, await waitU]) assert.deepEqual(w.payload, { ...answer, terminalReason: 'user' });
    const resolved = await U.waitEvent('exec.approval.resolved', { from: uMark });
    assertShape(withoutAnalysis(resolved.payload), withoutAnalysis(recordedResolved), 'exec.approval.resolved');
    assert.equal(resolved.payload.resolvedBy, 'openclaw-control-ui');
    assert.equal(resolved.payload.decision, 'allow-once');
    assert.deepEqual(resolved.payload.request, ev.payload.request);

    assert.deepEqual(await U.call('exec.approval.resolve', { id, decision: 'allow-once' }), { ok: true });
    const again = await U.request('exec.approval.resolve', { id, decision: 'deny' });
    assert.deepEqual(again.error, FLOW['approval client connected: one-phase, allow-once']['exec.approval.resolve again, different decision (deny)'].response.error);
    assert.deepEqual((await A.call('exec.approval.waitDecision', { id })), { ...answer, terminalReason: 'user' });
    assert.deepEqual((await U.request('exec.approval.get', { id })).error.details, NOT_FOUND);
    assert.deepEqual(await U.call('exec.approval.list', {}), []);
  });

  test('twoPhase: "accepted" first, the decision later on the same id; deny by another admin', async () => {
    const req = { ...REQ, command: 'rm -rf /tmp/fixture-x', commandArgv: ['rm', '-rf', '/tmp/fixture-x'], twoPhase: true };
    const id = `two-${Date.now()}`;
    const first = await A.request('exec.approval.request', { ...req, id }, { id: 'r-two' });
    assertShape(first.payload, FLOW['approval client connected: twoPhase, deny by cli admin'].response.payload, 'accepted');
    assert.equal(first.payload.status, 'accepted');
    assert.equal(first.payload.deliveryRoute, 'approval-client');
    assert.equal(first.payload.id, id);
    const dup = await A.request('exec.approval.request', { ...req, id });
    assert.deepEqual(dup.error, FLOW['explicit id again while pending'].response.error);
    assert.deepEqual(await A.call('exec.approval.resolve', { id, decision: 'deny' }), { ok: true });
    const final = await nthResponse(A, 'r-two', 2);
    assert.equal(final.ok, true);
    assert.deepEqual(final.payload, { id, decision: 'deny', createdAtMs: first.payload.createdAtMs, expiresAtMs: first.payload.expiresAtMs });
    const r = await U.request('exec.approval.resolve', { id, decision: 'allow-once' });
    assert.equal(r.error.details.reason, 'APPROVAL_ALREADY_RESOLVED');
  });

  test('ask always: allow-always unavailable; invalid decision; reviewer custody unknown', async () => {
    const first = await A.call('exec.approval.request', { ...REQ, twoPhase: true, ask: 'always' });
    const { id } = first;
    const got = await U.call('exec.approval.get', { id });
    assert.deepEqual(got.allowedDecisions, ['allow-once', 'deny']);
    let r = await U.request('exec.approval.resolve', { id, decision: 'allow-always' });
    assert.deepEqual(r.error, FLOW['ask:"always": resolve allow-always'].response.error);
    r = await U.request('exec.approval.resolve', { id, decision: 'bogus' });
    assert.deepEqual(r.error, FLOW['resolve decision "bogus"'].response.error);
    r = await U.request('exec.approval.resolve', { id, decision: 'deny', reviewer: { channel: 'telegram', accountId: 'a', senderId: 's' } });
    assert.equal(r.error.details.reason, 'APPROVAL_NOT_FOUND');
    assert.deepEqual(await U.call('exec.approval.resolve', { id, decision: 'deny' }), { ok: true });
  });

  test('expiry: decision null after timeoutMs; waitDecision says timeout; resolve is refused', async () => {
    const t0 = Date.now();
    const res = await A.call('exec.approval.request', { ...REQ, timeoutMs: 1500 });
    const took = Date.now() - t0;
    assert.equal(res.decision, null);
    assert.ok(took >= 1400 && took < 5000, `answered after ${took} ms`);
    assert.equal(res.expiresAtMs - res.createdAtMs, 1500);
    assert.deepEqual((await U.request('exec.approval.get', { id: res.id })).error.details, NOT_FOUND);
    assert.deepEqual(await U.call('exec.approval.waitDecision', { id: res.id }), { ...res, terminalReason: 'timeout' });
    const r = await U.request('exec.approval.resolve', { id: res.id, decision: 'allow-once' });
    assert.deepEqual(r.error, FLOW['after expiry: exec.approval.resolve'].response.error);
  });

  test('a visibility pair: an approvals-only requester sees its own request, admins see all', async () => {
    const own = await AP.call('exec.approval.request', { ...REQ, twoPhase: true });
    assert.equal(own.deliveryRoute, 'approval-client');
    const ids = (l) => l.map((x) => x.id);
    assert.deepEqual(ids(await AP.call('exec.approval.list', {})), [own.id]);
    assert.ok(ids(await U.call('exec.approval.list', {})).includes(own.id));
    assert.deepEqual(await C.call('exec.approval.list', {}), []);
    assert.deepEqual(await U.call('exec.approval.resolve', { id: own.id, decision: 'allow-once' }), { ok: true });
    const w = await AP.call('exec.approval.waitDecision', { id: own.id });
    assert.equal(w.decision, 'allow-once');
  });

  test('bad requests get the real gateway\'s refusals', async () => {
    const cases = [
      ['explicit id "plugin:x"', { ...REQ, id: 'plugin:x', twoPhase: true }],
      ['explicit id with spaces "a b"', { ...REQ, id: 'a b', twoPhase: true }],
      ['missing command', { twoPhase: true }],
      ['command "   "', { command: '   ', twoPhase: true }],
      ['host node without nodeId', { ...REQ, host: 'node', twoPhase: true }],
      ['host node without systemRunPlan', { ...REQ, host: 'node', nodeId: 'n1', twoPhase: true }],
      ['unknown param', { ...REQ, foo: 1, twoPhase: true }],
      ['timeoutMs 0', { ...REQ, timeoutMs: 0 }],
    ];
    for (const [name, params] of cases) {
      const r = await A.request('exec.approval.request', params);
      assert.deepEqual(r.error, FLOW[name].response.error, name);
    }
    assert.deepEqual((await A.request('exec.approval.waitDecision', {})).error, FLOW['exec.approval.waitDecision {}'].response.error);
    assert.deepEqual((await A.request('exec.approval.waitDecision', { id: 'no-such-approval' })).error, FLOW['exec.approval.waitDecision unknown id'].response.error);
    assert.equal((await A.request('exec.approval.resolve', {})).error.code, 'INVALID_REQUEST');
    assert.deepEqual((await A.request('exec.approval.resolve', { id: 'no-such-approval', decision: 'allow-once' })).error, FLOW['exec.approval.resolve unknown id'].response.error);
    // A huge timeout is clamped as the real gateway clamps it; the default is 30 minutes.
    const big = await A.call('exec.approval.request', { ...REQ, timeoutMs: 99999999999, twoPhase: true });
    assert.equal(big.expiresAtMs - big.createdAtMs, 2147000000);
    const dflt = await A.call('exec.approval.request', { command: 'echo default', twoPhase: true });
    assert.equal(dflt.expiresAtMs - dflt.createdAtMs, 1800000);
    for (const id of [big.id, dflt.id]) await U.call('exec.approval.resolve', { id, decision: 'deny' });
  });

  test('host node: the request carries systemRunPlan and systemRunBinding, get shows host and nodeId', async () => {
    const plan = { argv: ['echo', 'hi'], cwd: null, commandText: 'echo hi', agentId: 'main', sessionKey: 'agent:main:main' };
    const uMark = U.events.length;
    const res = await A.call('exec.approval.request', { host: 'node', nodeId: 'node-1', systemRunPlan: plan, twoPhase: true, timeoutMs: 120000 });
    const ev = await U.waitEvent('exec.approval.requested', { from: uMark });
    const recorded = fixture('exec-node-approval-flow.json')['host node, allow-once'].pendingEvents.eventsAtControlUi[0].payload;
    assertShape(withoutAnalysis(ev.payload), withoutAnalysis(recorded), 'exec.approval.requested (host node)');
    assert.deepEqual(ev.payload.request.systemRunPlan, { ...plan, commandPreview: null });
    assert.deepEqual(ev.payload.request.systemRunBinding, { argv: ['echo', 'hi'], cwd: null, agentId: 'main', sessionKey: 'agent:main:main', envHash: null });
    const got = await U.call('exec.approval.get', { id: res.id });
    assert.equal(got.host, 'node');
    assert.equal(got.nodeId, 'node-1');
    assert.equal(got.commandText, 'echo hi');
    // allow-always on a requested approval is the requester's to enforce: the gateway's
    // own policy file is left as it is (as the real gateway leaves it).
    const before = await A.call('exec.approvals.get', {});
    assert.deepEqual(await U.call('exec.approval.resolve', { id: res.id, decision: 'allow-always' }), { ok: true });
    await sleep(200);
    assert.deepEqual(await A.call('exec.approvals.get', {}), before);
  });

  test('the requester leaving does not end its approval; the approval still resolves', async () => {
    const X = await connectClient(gw, { params: { scopes: ['operator.approvals'] } });
    X.request('exec.approval.request', { ...REQ, id: 'left-behind' }).catch(() => {});
    await U.waitFor(() => U.events.find((e) => e.event === 'exec.approval.requested' && e.payload.id === 'left-behind'), 5000, 'requested');
    X.terminate();
    await sleep(200);
    assert.ok((await U.call('exec.approval.list', {})).some((x) => x.id === 'left-behind'));
    assert.deepEqual(await U.call('exec.approval.resolve', { id: 'left-behind', decision: 'deny' }), { ok: true });
  });
});
