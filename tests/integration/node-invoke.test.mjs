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

  test('system.run goes out with a runId and without approval flags', async () => {
    const node = await approvedNode(gw, admin, { handler: () => ({ payload: { exitCode: 0, stdout: 'hi\n' } }) });
    const res = await writer.call('node.invoke', {
      nodeId: node.nodeId, command: 'system.run', params: { command: ['echo', 'hi'], approved: true, approvalDecision: 'allow-always' }, idempotencyKey: key(), timeoutMs: 5000,
    });
    assert.equal(res.payload.stdout, 'hi\n');
    const { params, timeoutMs } = node.requests[0];
    assert.deepEqual(params.command, ['echo', 'hi']);
    assert.equal(params.approved, undefined);
    assert.equal(params.approvalDecision, undefined);
    assert.match(params.runId, /^[0-9a-f-]{36}$/);
    assert.equal(timeoutMs, 5000);
    node.client.close();
  });

  test('bad params: idempotencyKey required, timeoutMs 0 refused, empty command', async () => {
    const base = { nodeId: 'n', command: 'system.which' };
    assertError(await writer.request('node.invoke', base), 'INVALID_REQUEST', /invalid node\.invoke params: .*idempotencyKey/);
    assertError(await writer.request('node.invoke', { ...base, idempotencyKey: key(), timeoutMs: 0 }), 'INVALID_REQUEST', 'invalid node.invoke params: at /timeoutMs: must be >= 1');
    assertError(await writer.request('node.invoke', { ...base, command: '', idempotencyKey: key() }), 'INVALID_REQUEST', /at \/command: must NOT have fewer than 1 characters/);
    assertError(await writer.request('node.invoke', { ...base, idempotencyKey: key(), extra: 1 }), 'INVALID_REQUEST', /invalid node\.invoke params/);
  });

  test('an unknown or disconnected node is not connected', async () => {
    const res = await writer.request('node.invoke', { nodeId: 'no-such-node', command: 'system.which', idempotencyKey: key() });
    assertError(res, 'UNAVAILABLE', 'node not connected');
    assert.equal(res.error.details.code, 'NOT_CONNECTED');
    const node = await approvedNode(gw, admin);
    node.client.close();
    await node.client.closed;
    await sleep(100);
    assertError(await writer.request('node.invoke', { nodeId: node.nodeId, command: 'system.which', idempotencyKey: key() }), 'UNAVAILABLE', 'node not connected');
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

  test('node.describe answers node.list\'s entry with ts; an unknown node is refused', async () => {
    const node = await approvedNode(gw, admin, { client: { id: 'node-host', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'node', displayName: 'describe-me' } });
    const d = await writer.call('node.describe', { nodeId: node.nodeId });
    const { nodes } = await writer.call('node.list', {});
    const listed = nodes.find((x) => x.nodeId === node.nodeId);
    assert.equal(typeof d.ts, 'number');
    const { ts, ...rest } = d;
    assert.deepEqual(rest, listed);
    assert.equal(d.displayName, 'describe-me');
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
