// node.invoke (issue 8): the relay to a node and back, its errors as the real gateway
// words them, the command allowlist, idempotency, node.invoke.result ownership, node
// disconnects failing only that node's calls, node.describe. Nodes are simulated
// (lib/simnode.mjs); the real node host is in interop-nodes.test.mjs. Every frame is
// validated against the schema by the client harness (the node's node.invoke.request
// against NodeInvokeRequestEvent).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient } from './lib/client.mjs';
import { startGateway, sleep, eventually } from './lib/gateway.mjs';
import { simNode, approvedNode } from './lib/simnode.mjs';
import { assertShape, fixture } from './lib/shape.mjs';

// The real gateway's answers (tests/fixtures/real-gateway/INVOKE-NOTES.md).
const realDescribe = fixture('nodes-invoke-list-describe.json')['node.describe (connected, approved)'].response.payload;
const realWhich = fixture('nodes-invoke-real-node.json').cases.find((c) => c.case === 'system.which {bins:[sh]}').response.payload;
// Keys that come and go with what a node declared or did.
const OPTIONAL = ['permissions', 'pathEnv', 'hostStats', 'nodePluginTools', 'remoteIp', 'lastConnectedAtMs', 'lastDisconnectedAtMs', 'connectedAtMs', 'lastSeenAtMs', 'lastSeenReason', 'displayName'];

const operator = (gw, scopes) => connectClient(gw, { params: { scopes } });
let keys = 0;
const key = () => `k-${process.pid}-${++keys}`;

function assertError(res, code, message) {
  assert.equal(res.ok, false, `expected ${code} ${message}, got ${JSON.stringify(res.payload)}`);
  assert.equal(res.error.code, code, JSON.stringify(res.error));
  if (message instanceof RegExp) assert.match(res.error.message, message);
  else assert.equal(res.error.message, message);
}

describe('node.invoke', () => {
  let gw, admin, writer;
  before(async () => {
    gw = await startGateway({ config: { gateway: { nodes: { commands: { allow: ['sms.send'], deny: ['system.notify'] } } } } });
    admin = await operator(gw, ['operator.admin']);
    writer = await operator(gw, ['operator.write', 'operator.read']);
  });
  after(async () => {
    admin.close();
    writer.close();
    await gw.stop();
  });

  test('relays a command to the node and answers its result', async () => {
    const node = await approvedNode(gw, admin, { handler: (req) => ({ payload: { bins: { sh: '/usr/bin/sh' }, asked: req.params } }) });
    const idempotencyKey = key();
    const res = await writer.call('node.invoke', { nodeId: node.nodeId, command: 'system.which', params: { bins: ['sh'] }, idempotencyKey });
    assert.deepEqual(res.payload, { bins: { sh: '/usr/bin/sh' }, asked: { bins: ['sh'] } });
    assertShape(res, { ...realWhich, payload: res.payload }, 'node.invoke result');
    assert.deepEqual(JSON.parse(res.payloadJSON), res.payload);
    assert.equal(res.ok, true);
    assert.equal(res.nodeId, node.nodeId);
    assert.equal(res.command, 'system.which');
    const sent = node.requests[0];
    assert.equal(sent.nodeId, node.nodeId);
    assert.equal(sent.command, 'system.which');
    assert.equal(sent.timeoutMs, 30000);
    assert.equal(sent.idempotencyKey, idempotencyKey);
    assert.match(sent.id, /^[0-9a-f-]{36}$/);
    await eventually(() => node.results.length === 1, 3000, 'the node\'s node.invoke.result answer');
    assert.deepEqual(node.results[0].payload, { ok: true });
    node.client.close();
  });

  test('system.run goes out with a runId and the keys the real gateway forwards; approval overrides are refused', async () => {
    const node = await approvedNode(gw, admin, { handler: () => ({ payload: { exitCode: 0, stdout: 'hi\n' } }) });
    const run = (params) => writer.request('node.invoke', { nodeId: node.nodeId, command: 'system.run', params, idempotencyKey: key(), timeoutMs: 5000 });
    const res = await run({ command: ['echo', 'hi'], cwd: '/tmp', foo: 1 });
    assert.equal(res.payload.payload.stdout, 'hi\n');
    const { params, timeoutMs } = node.requests[0];
    assert.deepEqual(params.command, ['echo', 'hi']);
    assert.equal(params.cwd, '/tmp');
    assert.equal(params.foo, undefined);
    assert.match(params.runId, /^[0-9a-f-]{36}$/);
    assert.equal(timeoutMs, 5000);
    // As the real gateway answers (tests/fixtures/real-gateway/nodes-invoke-real-node.json).
    let r = await run({ command: ['echo', 'hi'], approved: true, approvalDecision: 'allow-once' });
    assertError(r, 'INVALID_REQUEST', 'approval override requires params.runId');
    assert.deepEqual(r.error.details, { code: 'MISSING_RUN_ID' });
    r = await run({ command: ['echo', 'hi'], approved: true, runId: 'no-such-approval' });
    assertError(r, 'INVALID_REQUEST', 'unknown or expired approval id');
    assert.deepEqual(r.error.details, { code: 'UNKNOWN_APPROVAL_ID', runId: 'no-such-approval' });
    r = await run({ command: ['echo', 'hi'], approvalSource: 'bogus' });
    assertError(r, 'INVALID_REQUEST', 'approval source invalid');
    assert.equal(node.requests.length, 1, 'refused runs never reach the node');
    node.client.close();
  });

  test('bad params, in the real gateway\'s words', async () => {
    const base = { nodeId: 'n', command: 'system.which' };
    assertError(await writer.request('node.invoke', base), 'INVALID_REQUEST', "invalid node.invoke params: must have required property 'idempotencyKey'");
    assertError(await writer.request('node.invoke', { ...base, idempotencyKey: '' }), 'INVALID_REQUEST', 'invalid node.invoke params: at /idempotencyKey: must not have fewer than 1 characters');
    assertError(await writer.request('node.invoke', { ...base, command: '', idempotencyKey: key() }), 'INVALID_REQUEST', 'invalid node.invoke params: at /command: must not have fewer than 1 characters');
    assertError(await writer.request('node.invoke', { ...base, idempotencyKey: key(), foo: 1 }), 'INVALID_REQUEST', "invalid node.invoke params: at root: unexpected property 'foo'");
    assertError(await writer.request('node.invoke', { ...base, idempotencyKey: key(), timeoutMs: 1.5 }), 'INVALID_REQUEST', 'invalid node.invoke params: at /timeoutMs: must be integer');
    assertError(await writer.request('node.invoke', { ...base, command: '   ', idempotencyKey: key() }), 'INVALID_REQUEST', 'nodeId and command required');
    // timeoutMs 0 would be "no deadline" to the real gateway; here every call has one.
    assertError(await writer.request('node.invoke', { ...base, idempotencyKey: key(), timeoutMs: 0 }), 'INVALID_REQUEST', 'invalid node.invoke params: at /timeoutMs: must be >= 1');
  });

  test('an unknown node, a disconnected node', async () => {
    const unknown = await writer.request('node.invoke', { nodeId: 'no-such-node', command: 'system.which', idempotencyKey: key() });
    assertError(unknown, 'UNAVAILABLE', 'node pairing changed while invocation was active');
    assert.equal(unknown.error.retryable, true);
    assert.deepEqual(unknown.error.details, { code: 'PAIRING_CHANGED' });
    const node = await approvedNode(gw, admin);
    node.client.close();
    await node.client.closed;
    await sleep(100);
    const gone = await writer.request('node.invoke', { nodeId: node.nodeId, command: 'system.which', idempotencyKey: key() });
    assertError(gone, 'UNAVAILABLE', 'node not connected');
    assert.deepEqual(gone.error.details, { code: 'NOT_CONNECTED', nodeError: { code: 'NOT_CONNECTED', message: 'node not connected' }, nodeCommandDispatched: false });
  });

  test('commands outside the allowlist or the surface are refused with reason and command', async () => {
    const node = await approvedNode(gw, admin, { commands: ['system.which', 'fs.listDir', 'sms.send', 'system.notify', 'camera.snap', 'system.execApprovals.get'] });
    const refused = async (client, command, message, reason) => {
      const res = await client.request('node.invoke', { nodeId: node.nodeId, command, idempotencyKey: key() });
      assertError(res, 'INVALID_REQUEST', message);
      if (reason) assert.deepEqual(res.error.details, { reason, command });
      return res;
    };
    // File commands need gateway.nodes.commands.allow (issue 8), and fs.listDir an admin.
    await refused(admin, 'fs.listDir', 'node command not allowed: "fs.listDir" requires explicit gateway.nodes.commands.allow opt-in', 'command not allowlisted');
    const forbidden = await writer.request('node.invoke', { nodeId: node.nodeId, command: 'fs.listDir', idempotencyKey: key() });
    assertError(forbidden, 'FORBIDDEN', 'missing scope: operator.admin');
    await refused(admin, 'camera.snap', 'node command not allowed: "camera.snap" requires explicit gateway.nodes.commands.allow opt-in', 'command not allowlisted');
    await refused(admin, 'system.notify', 'node command not allowed: "system.notify" is blocked by gateway.nodes.commands.deny', 'command not allowlisted');
    await refused(admin, 'computer.act', 'node command not allowed: the node (platform: linux) does not support "computer.act"', 'command not declared by node');
    // Host commands come from the approved surface: not declared, not allowlisted.
    await refused(admin, 'system.run', 'node command not allowed: "system.run" is not in the allowlist for platform "linux"', 'command not allowlisted');
    await refused(admin, 'contacts.search', 'node command not allowed: "contacts.search" is not in the allowlist for platform "linux"', 'command not allowlisted');
    await refused(admin, 'system.execApprovals.get', 'node.invoke does not allow system.execApprovals.*; use exec.approvals.node.*');
    await refused(admin, 'worker.launch.v1', 'node.invoke does not allow private node controls');
    // Allowed by gateway.nodes.commands.allow.
    const ok = await admin.call('node.invoke', { nodeId: node.nodeId, command: 'sms.send', params: { to: 'x' }, idempotencyKey: key() });
    assert.deepEqual(ok.payload, { echo: { to: 'x' } });
    node.client.close();
  });

  test('before its surface is approved, a node has no commands', async () => {
    const node = await simNode(gw, { commands: ['system.which', 'computer.act'] });
    const res = await admin.request('node.invoke', { nodeId: node.nodeId, command: 'computer.act', idempotencyKey: key() });
    assertError(res, 'INVALID_REQUEST', /declared command surface is pending approval; run `openclaw nodes pending`/);
    assert.equal(res.error.details.reason, 'node did not declare commands');
    const host = await admin.request('node.invoke', { nodeId: node.nodeId, command: 'system.which', idempotencyKey: key() });
    assertError(host, 'INVALID_REQUEST', 'node command not allowed: "system.which" is not in the allowlist for platform "linux"');
    assert.equal(node.requests.length, 0);
    node.client.close();
  });

  test('a node that does not answer in time: TIMEOUT', async () => {
    const node = await approvedNode(gw, admin, { handler: () => undefined });
    const started = Date.now();
    const res = await writer.request('node.invoke', { nodeId: node.nodeId, command: 'system.which', idempotencyKey: key(), timeoutMs: 300 });
    const took = Date.now() - started;
    assertError(res, 'UNAVAILABLE', 'TIMEOUT: node invoke timed out');
    assert.deepEqual(res.error.details.nodeError, { code: 'TIMEOUT', message: 'node invoke timed out' });
    assert.ok(took >= 280 && took < 3000, `took ${took} ms`);
    // Its late answer is ignored.
    const late = await node.client.call('node.invoke.result', { id: node.requests[0].id, nodeId: node.nodeId, ok: true, payloadJSON: '{}' });
    assert.deepEqual(late, { ok: true, ignored: true });
    node.client.close();
  });

  test('a node-side error comes back as UNAVAILABLE "<code>: <message>" with details.nodeError', async () => {
    const node = await approvedNode(gw, admin, { handler: () => ({ error: { code: 'SYSTEM_RUN_DENIED', message: 'approval required' } }) });
    const res = await writer.request('node.invoke', { nodeId: node.nodeId, command: 'system.run', params: { command: ['ls'] }, idempotencyKey: key() });
    assertError(res, 'UNAVAILABLE', 'SYSTEM_RUN_DENIED: approval required');
    assert.deepEqual(res.error.details.nodeError, { code: 'SYSTEM_RUN_DENIED', message: 'approval required' });
    node.client.close();
  });

  test('only the node that owns a request may answer it', async () => {
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    const owner = await approvedNode(gw, admin, { handler: async () => { await gate; return { payload: { from: 'owner' } }; } });
    const other = await approvedNode(gw, admin);
    const pending = writer.request('node.invoke', { nodeId: owner.nodeId, command: 'system.which', idempotencyKey: key() });
    await owner.client.waitEvent('node.invoke.request');
    const id = owner.requests[0].id;
    assertError(await other.client.request('node.invoke.result', { id, nodeId: owner.nodeId, ok: true, payloadJSON: '{"from":"other"}' }), 'INVALID_REQUEST', 'nodeId mismatch');
    assert.deepEqual(await other.client.call('node.invoke.result', { id, nodeId: other.nodeId, ok: true, payloadJSON: '{"from":"other"}' }), { ok: true, ignored: true });
    assertError(await writer.request('node.invoke.result', { id, nodeId: owner.nodeId, ok: true }), 'INVALID_REQUEST', 'unauthorized role: operator');
    release();
    const res = await pending;
    assert.deepEqual(res.payload.payload, { from: 'owner' });
    owner.client.close();
    other.client.close();
  });

  test('exec events count only for a system.run sent to that node', async () => {
    const node = await approvedNode(gw, admin, { handler: () => ({ payload: { exitCode: 0 } }) });
    const other = await approvedNode(gw, admin);
    await writer.call('node.invoke', { nodeId: node.nodeId, command: 'system.run', params: { command: ['true'], runId: 'run-exec-1' }, idempotencyKey: key() });
    const event = (c, name, body) => c.call('node.event', { event: name, payloadJSON: JSON.stringify(body) });
    assert.deepEqual(await event(node.client, 'exec.finished', { runId: 'run-exec-1', command: 'true', exitCode: 0 }), { ok: true, event: 'exec.finished', handled: true, reason: 'recorded' });
    assert.deepEqual(await event(node.client, 'exec.started', { runId: 'never-sent' }), { ok: true, event: 'exec.started', handled: false, reason: 'unmatched_exec_event' });
    assert.deepEqual(await event(other.client, 'exec.denied', { runId: 'run-exec-1' }), { ok: true, event: 'exec.denied', handled: false, reason: 'unmatched_exec_event' });
    assert.deepEqual(await node.client.call('node.event', { event: 'exec.started', payloadJSON: '{not json' }), { ok: true, event: 'exec.started', handled: false, reason: 'invalid_payload' });
    node.client.close();
    other.client.close();
  });

  test('exec.approvals.node.get/set go to the node itself', async () => {
    const snapshot = { path: '/home/n/.openclaw/exec-approvals.json', exists: true, hash: 'h1', file: { version: 1, defaults: { security: 'full', ask: 'off' } } };
    let answer = snapshot;
    const node = await approvedNode(gw, admin, {
      commands: ['system.which', 'system.execApprovals.get', 'system.execApprovals.set'],
      handler: (req) => (req.command === 'system.execApprovals.set' ? { payload: { ...snapshot, hash: 'h2', file: req.params.file } } : { payload: answer }),
    });
    assert.deepEqual(await admin.call('exec.approvals.node.get', { nodeId: node.nodeId }), snapshot);
    assert.deepEqual(node.requests[0].params, {});
    const file = { version: 1, defaults: { security: 'allowlist', ask: 'on-miss' } };
    const set = await admin.call('exec.approvals.node.set', { nodeId: node.nodeId, file, baseHash: 'h1' });
    assert.equal(set.hash, 'h2');
    assert.deepEqual(node.requests[1].params, { file, baseHash: 'h1' });
    answer = { nonsense: true, file: 'x' };
    assertError(await admin.request('exec.approvals.node.get', { nodeId: node.nodeId }), 'INVALID_REQUEST', 'node returned invalid exec approvals payload');
    assertError(await writer.request('exec.approvals.node.get', { nodeId: node.nodeId }), 'FORBIDDEN', 'missing scope: operator.admin');
    const plain = await approvedNode(gw, admin);
    const refused = await admin.request('exec.approvals.node.get', { nodeId: plain.nodeId });
    assertError(refused, 'INVALID_REQUEST', 'node command not allowed: system.execApprovals.get (command not allowlisted)');
    assert.deepEqual(refused.error.details, { command: 'system.execApprovals.get', reason: 'command not allowlisted' });
    node.client.close();
    plain.client.close();
    await node.client.closed;
    await sleep(100);
    const gone = await admin.request('exec.approvals.node.get', { nodeId: node.nodeId });
    assertError(gone, 'UNAVAILABLE', 'NOT_CONNECTED: node not connected');
    assert.deepEqual(gone.error.details, { nodeError: { code: 'NOT_CONNECTED', message: 'node not connected' }, nodeCommandDispatched: false });
  });

  test('a repeated idempotencyKey joins the call in flight, then gets its answer again', async () => {
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    let n = 0;
    const node = await approvedNode(gw, admin, { handler: async () => { await gate; return { payload: { run: ++n } }; } });
    const params = { nodeId: node.nodeId, command: 'system.which', params: { bins: ['sh'] }, idempotencyKey: key() };
    const first = writer.request('node.invoke', params);
    await node.client.waitEvent('node.invoke.request');
    const second = admin.request('node.invoke', params);
    await sleep(100);
    release();
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual(a.payload.payload, { run: 1 });
    assert.deepEqual(b.payload.payload, { run: 1 });
    const third = await writer.call('node.invoke', params);
    assert.deepEqual(third.payload, { run: 1 });
    assert.equal(node.requests.length, 1);
    // Another key runs again.
    assert.deepEqual((await writer.call('node.invoke', { ...params, idempotencyKey: key() })).payload, { run: 2 });
    node.client.close();
  });

  test('a node gone mid-call fails its calls at once', async () => {
    const node = await approvedNode(gw, admin, { handler: () => undefined });
    const pending = writer.request('node.invoke', { nodeId: node.nodeId, command: 'system.run', params: { command: ['sleep', '10'] }, idempotencyKey: key() });
    await node.client.waitEvent('node.invoke.request');
    const killed = Date.now();
    node.client.terminate();
    const res = await pending;
    const took = Date.now() - killed;
    assertError(res, 'UNAVAILABLE', 'DISCONNECTED: node disconnected (system.run)');
    assert.equal(res.error.details.nodeError.code, 'DISCONNECTED');
    assert.ok(took < 1000, `failed ${took} ms after the kill`);
  });

  test('a node is in presence while connected, and left with reason disconnect', async () => {
    const node = await approvedNode(gw, admin, { client: { id: 'node-host', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'node', displayName: 'present-node' } });
    const entry = (await writer.call('system-presence', {})).find((p) => p.deviceId === node.nodeId);
    assert.ok(entry, 'the node is listed');
    assert.deepEqual(entry.roles, ['node']);
    assert.equal(entry.host, 'present-node');
    assert.equal(entry.reason, 'connect');
    const from = writer.events.length;
    node.client.close();
    const gone = await writer.waitEvent('presence', { from, predicate: (e) => e.payload.presence.some((p) => p.deviceId === node.nodeId && p.reason === 'disconnect') });
    assert.equal(typeof gone.stateVersion.presence, 'number');
  });

  test('node.describe answers node.list\'s entry with ts; an unknown node is refused', async () => {
    const node = await approvedNode(gw, admin, { client: { id: 'node-host', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'node', displayName: 'describe-me' } });
    const d = await writer.call('node.describe', { nodeId: node.nodeId });
    const { nodes } = await writer.call('node.list', {});
    const listed = nodes.find((x) => x.nodeId === node.nodeId);
    assert.equal(typeof d.ts, 'number');
    const { ts, ...rest } = d;
    assert.deepEqual(rest, listed);
    assert.equal(d.displayName, 'describe-me');
    assertShape(d, realDescribe, 'node.describe', { optional: OPTIONAL });
    assert.equal(d.connected, true);
    assert.equal(d.paired, true);
    assertError(await writer.request('node.describe', { nodeId: 'nope' }), 'INVALID_REQUEST', 'unknown nodeId');
    assertError(await writer.request('node.describe', {}), 'INVALID_REQUEST', /invalid node\.describe params/);
    node.client.close();
  });
});

describe('node.invoke fan-out', () => {
  let gw, admin;
  before(async () => {
    gw = await startGateway();
    admin = await operator(gw, ['operator.admin']);
  });
  after(async () => {
    admin.close();
    await gw.stop();
  });

  test('100 nodes, calls in parallel; one node killed mid-call fails only its own calls', async () => {
    const victimIndex = 37;
    const nodes = [];
    for (let i = 0; i < 100; i++) {
      const handler = i === victimIndex
        ? () => undefined
        : async (req) => { await sleep(20 + (i % 7) * 10); return { payload: { node: i, n: req.params.n } }; };
      nodes.push(await approvedNode(gw, admin, { handler }));
    }
    const callers = await Promise.all([1, 2, 3, 4].map(() => operator(gw, ['operator.write'])));
    const calls = [];
    for (let round = 0; round < 3; round++) {
      nodes.forEach((node, i) => {
        const c = callers[(i + round) % callers.length];
        calls.push({ i, res: c.request('node.invoke', { nodeId: node.nodeId, command: 'system.which', params: { n: round }, idempotencyKey: key() }, { timeoutMs: 20000 }) });
      });
    }
    const victim = nodes[victimIndex];
    await eventually(() => victim.requests.length === 3, 10000, 'the victim\'s three requests');
    victim.client.terminate();
    const results = await Promise.all(calls.map(async ({ i, res }) => ({ i, res: await res })));
    for (const { i, res } of results) {
      if (i === victimIndex) {
        assertError(res, 'UNAVAILABLE', 'DISCONNECTED: node disconnected (system.which)');
      } else {
        assert.equal(res.ok, true, JSON.stringify(res.error));
        assert.equal(res.payload.payload.node, i);
        assert.equal(res.payload.nodeId, nodes[i].nodeId);
      }
    }
    for (const c of callers) c.close();
    for (const node of nodes) node.client.close();
  });
});

// clawgate's own gate in front of system.run (issue 8): the gateway's policy
// (DIR/exec-approvals.json through exec.approvals.set) decides before the node sees it.
describe('node.invoke system.run meets clawgate\'s exec policy first', () => {
  let gw, admin, writer, approver, node;
  const ran = () => node.requests.filter((r) => r.command === 'system.run');
  async function policy(file) {
    const { hash } = await admin.call('exec.approvals.get', {});
    await admin.call('exec.approvals.set', { file: { version: 1, ...file }, baseHash: hash });
  }
  const run = (argv, extra = {}, client = writer) => client.request('node.invoke', { nodeId: node.nodeId, command: 'system.run', params: { command: argv, cwd: '/tmp', ...extra }, idempotencyKey: key(), timeoutMs: 10000 }, { timeoutMs: 20000 });
  const requestedFor = (argv, from) => approver.waitEvent('exec.approval.requested', { from, predicate: (e) => JSON.stringify(e.payload.request.systemRunPlan?.argv) === JSON.stringify(argv) });

  before(async () => {
    gw = await startGateway();
    admin = await operator(gw, ['operator.admin']);
    writer = await operator(gw, ['operator.write', 'operator.read']);
    node = await approvedNode(gw, admin, { handler: (req) => ({ payload: { exitCode: 0, stdout: `${req.params.command.join(' ')}\n`, asked: req.params } }) });
  });
  after(async () => {
    for (const c of [admin, writer, approver, node?.client]) c?.close();
    await gw.stop();
  });

  test('with no policy file (security full, ask off) it runs', async () => {
    const res = await run(['echo', 'free']);
    assert.equal(res.ok, true, JSON.stringify(res.error));
    assert.equal(res.payload.payload.stdout, 'echo free\n');
  });

  test('security deny refuses it before the node sees it', async () => {
    await policy({ defaults: { security: 'deny' } });
    const before = ran().length;
    const res = await run(['echo', 'no']);
    assertError(res, 'INVALID_REQUEST', /SYSTEM_RUN_DENIED: security=deny/);
    assert.equal(res.error.details.reason, 'security-deny');
    assert.equal(ran().length, before);
  });

  test('an allowlist miss with ask off is refused; a hit runs; agents.<id> wins over defaults', async () => {
    await policy({ defaults: { security: 'allowlist', ask: 'off' }, agents: { ops: { security: 'full', ask: 'off' }, main: { allowlist: [{ pattern: 'echo' }] } } });
    const miss = await run(['echo', 'x']);
    assertError(miss, 'INVALID_REQUEST', /SYSTEM_RUN_DENIED: allowlist miss/);
    assert.equal(miss.error.details.reason, 'allowlist-miss');
    const hit = await run(['echo', 'allowed'], { agentId: 'main' });
    assert.equal(hit.ok, true, JSON.stringify(hit.error));
    const ops = await run(['uname'], { agentId: 'ops' });
    assert.equal(ops.ok, true, JSON.stringify(ops.error));
  });

  test('ask always with no approver connected is refused at once', async () => {
    await policy({ defaults: { security: 'full', ask: 'always' } });
    const res = await run(['echo', 'nobody']);
    assertError(res, 'INVALID_REQUEST', /.+/);
    assert.equal(res.error.details.reason, 'no-approval-route');
  });

  test('ask always holds the call until an approver allows it; then a plain system.run goes out', async () => {
    approver = await connectClient(gw, { params: { client: { id: 'openclaw-control-ui', version: '2026.9.6', platform: 'linux', mode: 'webchat' }, scopes: ['operator.admin', 'operator.approvals'] } });
    await policy({ defaults: { security: 'full', ask: 'always' } });
    const from = approver.events.length;
    const before = ran().length;
    const pending = run(['echo', 'held']);
    const ev = await requestedFor(['echo', 'held'], from);
    assert.equal(ev.payload.request.host, 'node');
    assert.equal(ev.payload.request.nodeId, node.nodeId);
    await sleep(200);
    assert.equal(ran().length, before, 'nothing reached the node while the approver thinks');
    const listed = await approver.call('exec.approval.list', {});
    assert.ok(listed.some((a) => a.id === ev.payload.id), 'the held run is listed');
    assert.deepEqual(await approver.call('exec.approval.resolve', { id: ev.payload.id, decision: 'allow-once' }), { ok: true });
    const res = await pending;
    assert.equal(res.ok, true, JSON.stringify(res.error));
    assert.equal(res.payload.payload.stdout, 'echo held\n');
    const sent = ran().at(-1).params;
    assert.equal(sent.approved, undefined);
    assert.equal(sent.approvalDecision, undefined);
  });

  test('deny stops it; the node never sees it', async () => {
    const from = approver.events.length;
    const before = ran().length;
    const pending = run(['rm', '-rf', '/tmp/x']);
    const ev = await requestedFor(['rm', '-rf', '/tmp/x'], from);
    await approver.call('exec.approval.resolve', { id: ev.payload.id, decision: 'deny' });
    const res = await pending;
    assertError(res, 'INVALID_REQUEST', /denied/);
    assert.equal(ran().length, before);
  });

  test('a caller that leaves withdraws its approval', async () => {
    const caller = await operator(gw, ['operator.write']);
    const from = approver.events.length;
    run(['sleep', '1'], {}, caller).catch(() => {});
    const ev = await requestedFor(['sleep', '1'], from);
    caller.terminate();
    await eventually(async () => !(await approver.call('exec.approval.list', {})).some((a) => a.id === ev.payload.id), 3000, 'the approval withdrawn');
  });

  test('allow-always writes an entry for that argv and cwd: the same run passes on its own, another still asks', async () => {
    await policy({ defaults: { security: 'allowlist', ask: 'on-miss' } });
    let from = approver.events.length;
    const first = run(['ls', '-l'], { agentId: 'main' });
    const ev = await requestedFor(['ls', '-l'], from);
    await approver.call('exec.approval.resolve', { id: ev.payload.id, decision: 'allow-always' });
    assert.equal((await first).ok, true);
    // The entry is written on the thread pool, right after the run was let through.
    const entry = await eventually(async () => {
      const { file } = await admin.call('exec.approvals.get', {});
      return file.agents.main?.allowlist?.find((e) => e.source === 'allow-always');
    }, 3000, 'the allow-always entry');
    assert.equal(entry.pattern, 'ls');
    assert.match(entry.argPattern, /^sha256:cwd-argv:v1:[0-9a-f]{64}$/, JSON.stringify(entry));
    from = approver.events.length;
    const again = await run(['ls', '-l'], { agentId: 'main' });
    assert.equal(again.ok, true, JSON.stringify(again.error));
    assert.equal(eventsOf(approver, 'exec.approval.requested', from).length, 0, 'the same argv and cwd did not ask');
    const other = run(['ls', '-a'], { agentId: 'main' });
    const ev2 = await requestedFor(['ls', '-a'], from);
    await approver.call('exec.approval.resolve', { id: ev2.payload.id, decision: 'deny' });
    assert.equal((await other).ok, false);
  });
});

function eventsOf(c, name, from = 0) {
  return c.events.slice(from).filter((e) => e.event === name);
}
