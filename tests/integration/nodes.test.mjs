// Node pairing (issue 7): a node's command surface waits for an operator's approval
// (node.pair.list / approve / reject / remove, node.rename, node.list, the events), the
// scopes an approval needs, what reconnecting with the same, a narrower or a wider
// surface does, the seed's node.pair.request / verify, the node host's calls after
// connect, and persistence across a restart. Nodes here are our own clients with signed
// device identities (auto-approved on loopback, as the real node host's device is); the
// shapes follow tests/fixtures/real-gateway/pairing-nodes.json and
// pairing-node-host-connect.json. Every frame is validated against the schema by the
// client harness (node.event's result against NodeEventResult).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayClient, connectClient } from './lib/client.mjs';
import { startGateway, eventually, sleep } from './lib/gateway.mjs';
import { newIdentity, deviceForParams } from './lib/device.mjs';
import { assertShape, fixture } from './lib/shape.mjs';

// The real gateway's answers (tests/fixtures/PAIRING-NOTES.md "Node pairing").
const real = fixture('pairing-nodes.json');
const realHost = fixture('pairing-node-host-connect.json');
const realPayload = (key) => real[key].response.payload;
// Keys that come and go with what a node declared or did (permissions, pathEnv, host
// stats, the times of past connections).
const OPTIONAL = ['permissions', 'pathEnv', 'hostStats', 'nodePluginTools', 'remoteIp', 'lastConnectedAtMs', 'lastDisconnectedAtMs', 'connectedAtMs', 'lastSeenAtMs', 'lastSeenReason', 'silent', 'displayName'];

const NODE_CLIENT = { id: 'node-host', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'node', displayName: 'fake-1' };
const HOST_STATS = { cpuCount: 2, loadAverage: [0.5, 0.4, 0.3], memoryTotalBytes: 1000, memoryFreeBytes: 400, diskTotalBytes: 5000, diskAvailableBytes: 100 };
const RUNNER = { protocolFeatures: ['node-worker-supervisor-v6'], workerHost: { enabled: false } };

/** A node connection with a signed device (role node, as the real node host). */
async function nodeConnect(gw, identity, { caps = [], commands = [], permissions, client = NODE_CLIENT, pathEnv } = {}) {
  const c = await GatewayClient.open(gw.url);
  const params = { minProtocol: 4, maxProtocol: 4, client, role: 'node', scopes: [], auth: { token: gw.token }, caps, commands };
  if (permissions) params.permissions = permissions;
  if (pathEnv) params.pathEnv = pathEnv;
  params.device = deviceForParams(identity, params, { nonce: c.challenge.nonce, signedAt: c.challenge.ts });
  const res = await c.connect(params, { replace: true });
  assert.equal(res.ok, true, JSON.stringify(res.error));
  return c;
}

const operator = (gw, scopes) => connectClient(gw, { params: { scopes } });

/** The node.pair.requested event for nodeId seen by c (from index `from`). */
const requested = (c, nodeId, from = 0) => c.waitEvent('node.pair.requested', { from, predicate: (e) => e.payload.nodeId === nodeId });
const resolvedEvent = (c, nodeId, decision, from = 0) => c.waitEvent('node.pair.resolved', { from, predicate: (e) => e.payload.nodeId === nodeId && e.payload.decision === decision });

async function listed(c, nodeId) {
  const { nodes, ts } = await c.call('node.list', {});
  assert.equal(typeof ts, 'number');
  return nodes.find((n) => n.nodeId === nodeId);
}

function assertError(res, code, message) {
  assert.equal(res.ok, false, `expected ${code} ${message}, got ${JSON.stringify(res.payload)}`);
  assert.equal(res.error.code, code, JSON.stringify(res.error));
  if (message instanceof RegExp) assert.match(res.error.message, message);
  else assert.equal(res.error.message, message);
}

describe('node surface approval', () => {
  let gw, admin, pairer, pairWriter, reader;
  before(async () => {
    gw = await startGateway();
    admin = await operator(gw, ['operator.admin']);
    pairer = await operator(gw, ['operator.pairing']);
    pairWriter = await operator(gw, ['operator.pairing', 'operator.write']);
    reader = await operator(gw, ['operator.read']);
  });
  after(async () => {
    for (const c of [admin, pairer, pairWriter, reader]) c.close();
    await gw.stop();
  });

  test('a node with system.run waits for approval; only an admin may approve it; approval reaches its open connection', async () => {
    const id = newIdentity();
    const from = { admin: admin.events.length, pairer: pairer.events.length, reader: reader.events.length };
    const node = await nodeConnect(gw, id, { caps: ['system'], commands: ['system.which', 'system.run'], pathEnv: '/usr/bin:/bin' });

    // node.pair.requested to operator.pairing holders (admin included), not to readers.
    const ev = await requested(pairer, id.deviceId, from.pairer);
    const requestId = ev.payload.requestId;
    assert.deepEqual({ ...ev.payload, ts: 0 }, {
      requestId, nodeId: id.deviceId, clientId: 'node-host', clientMode: 'node', displayName: 'fake-1',
      platform: 'linux', version: '2026.9.6', deviceFamily: 'Linux', caps: ['system'],
      commands: ['system.which', 'system.run'], requiredApproveScopes: ['operator.pairing', 'operator.admin'],
      silent: true, ts: 0,
    });
    assertShape(ev.payload, realHost.nodePairRequestedAtAdmin.payload, 'node.pair.requested');
    await requested(admin, id.deviceId, from.admin);
    await sleep(100);
    assert.ok(!reader.events.slice(from.reader).some((e) => e.event.startsWith('node.pair.')), 'readers get no pairing events');

    const list = await pairer.call('node.pair.list', {});
    assert.deepEqual(list.pending.find((p) => p.requestId === requestId), ev.payload);
    assertShape(list, realPayload('node.pair.list (admin)'), 'node.pair.list', { optional: OPTIONAL });
    assert.ok(!list.paired.some((p) => p.nodeId === id.deviceId));

    // node.list: connected and paired (its device), nothing effective yet.
    const before = await listed(admin, id.deviceId);
    assertShape(before, realPayload('node.list before approval').nodes[0], 'node.list entry before approval', { optional: OPTIONAL });
    assert.equal(before.approvalState, 'pending-approval');
    assert.equal(before.pendingRequestId, requestId);
    assert.deepEqual(before.pendingDeclaredCommands, ['system.run', 'system.which']);
    assert.deepEqual(before.pendingDeclaredCaps, ['system']);
    assert.deepEqual([before.caps, before.commands], [[], []]);
    assert.equal(before.paired, true);
    assert.equal(before.connected, true);
    assert.equal(before.pathEnv, '/usr/bin:/bin');
    assert.equal(before.sessionHost, false);
    assert.deepEqual(before.nodePluginTools, []);
    assert.equal(typeof before.connectedAtMs, 'number');
    assert.equal(before.lastSeenReason, 'connect');
    // A reader sees the node but not the request.
    const forReader = await listed(reader, id.deviceId);
    assert.equal(forReader.pendingRequestId, undefined);
    assert.equal(forReader.pendingDeclaredCommands, undefined);
    assert.equal(forReader.approvalState, 'pending-approval');

    // system.run needs operator.admin to approve, as on the real gateway (FORBIDDEN).
    for (const c of [pairer, pairWriter]) {
      const res = await c.request('node.pair.approve', { requestId });
      assertError(res, 'FORBIDDEN', 'missing scope: operator.admin');
      assert.deepEqual(res.error.details, { code: 'MISSING_SCOPE', missingScope: 'operator.admin', requiredScopes: ['operator.pairing', 'operator.admin'] });
    }

    const nodeFrom = node.events.length;
    const pairerFrom = pairer.events.length;
    const approved = await admin.call('node.pair.approve', { requestId });
    assertShape(approved, realPayload('node.pair.approve by admin'), 'node.pair.approve', { optional: OPTIONAL });
    assert.equal(approved.requestId, requestId);
    const n = approved.node;
    assert.equal(n.nodeId, id.deviceId);
    assert.deepEqual([n.clientId, n.clientMode, n.displayName, n.platform, n.version, n.deviceFamily], ['node-host', 'node', 'fake-1', 'linux', '2026.9.6', 'Linux']);
    assert.deepEqual(n.caps, ['system']);
    assert.deepEqual(n.commands, ['system.which', 'system.run']);
    assert.equal(n.createdAtMs, n.approvedAtMs);
    assert.equal(n.lastSeenReason, 'connect');
    // node.pair.resolved to pairing holders and to the node itself.
    const r = await resolvedEvent(pairer, id.deviceId, 'approved', pairerFrom);
    assert.deepEqual({ ...r.payload, ts: 0 }, { requestId, nodeId: id.deviceId, decision: 'approved', ts: 0 });
    const toNode = await node.waitEvent('node.pair.resolved', { from: nodeFrom });
    assert.equal(toNode.payload.requestId, requestId);

    const after = await listed(admin, id.deviceId);
    assertShape(after, realPayload('node.list after approval').nodes[0], 'node.list entry after approval', { optional: OPTIONAL });
    assert.equal(after.approvalState, 'approved');
    assert.deepEqual(after.commands, ['system.run', 'system.which']);
    assert.deepEqual(after.caps, ['system']);
    assert.equal(after.pendingRequestId, undefined);
    assert.equal(after.approvedAtMs, n.approvedAtMs);
    assert.equal(after.connected, true);
    const paired = (await pairer.call('node.pair.list', {})).paired.find((p) => p.nodeId === id.deviceId);
    assertShape(paired, realPayload('node.pair.list after approval').paired[0], 'node.pair.list paired entry', { optional: OPTIONAL });
    assert.deepEqual(paired.commands, ['system.which', 'system.run']);
    assert.ok(!(await pairer.call('node.pair.list', {})).pending.some((p) => p.nodeId === id.deviceId));

    assertError(await admin.request('node.pair.approve', { requestId }), 'INVALID_REQUEST', 'unknown requestId');
    node.close();
  });

  test('requiredApproveScopes: none for a commandless surface, operator.write for ordinary commands', async () => {
    const bare = newIdentity();
    const from = pairer.events.length;
    const a = await nodeConnect(gw, bare);
    const ev = await requested(pairer, bare.deviceId, from);
    assert.deepEqual(ev.payload.requiredApproveScopes, ['operator.pairing']);
    assert.deepEqual([ev.payload.caps, ev.payload.commands], [[], []]);
    assert.equal((await pairer.call('node.pair.approve', { requestId: ev.payload.requestId })).node.nodeId, bare.deviceId);

    const plain = newIdentity();
    const from2 = pairer.events.length;
    const b = await nodeConnect(gw, plain, { caps: ['camera'], commands: ['camera.list'] });
    const ev2 = await requested(pairer, plain.deviceId, from2);
    assert.deepEqual(ev2.payload.requiredApproveScopes, ['operator.pairing', 'operator.write']);
    const res = await pairer.request('node.pair.approve', { requestId: ev2.payload.requestId });
    assertError(res, 'FORBIDDEN', 'missing scope: operator.write');
    assert.deepEqual(res.error.details.requiredScopes, ['operator.pairing', 'operator.write']);
    await pairWriter.call('node.pair.approve', { requestId: ev2.payload.requestId });
    a.close();
    b.close();
  });

  test('reject drops the request; the node stays connected, unapproved; unknown ids are refused', async () => {
    const id = newIdentity();
    const from = pairer.events.length;
    const node = await nodeConnect(gw, id, { commands: ['system.which'] });
    const { payload } = await requested(pairer, id.deviceId, from);
    const nodeFrom = node.events.length;
    const rejected = await pairer.call('node.pair.reject', { requestId: payload.requestId });
    assert.deepEqual(rejected, { requestId: payload.requestId, nodeId: id.deviceId });
    assertShape(rejected, realPayload('node.pair.reject'), 'node.pair.reject');
    await resolvedEvent(pairer, id.deviceId, 'rejected', from);
    const entry = await listed(admin, id.deviceId);
    assert.equal(entry.approvalState, 'unapproved');
    assert.equal(entry.connected, true);
    assert.equal(entry.paired, true);
    assertError(await pairer.request('node.pair.reject', { requestId: payload.requestId }), 'INVALID_REQUEST', 'unknown requestId');
    assertError(await pairer.request('node.pair.approve', { requestId: 'no-such-request' }), 'INVALID_REQUEST', 'unknown requestId');
    assertError(await pairer.request('node.pair.approve', {}), 'INVALID_REQUEST', /^invalid node\.pair\.approve params/);
    assert.ok((await node.request('node.skills.update', { skills: [] })).ok, 'still connected');
    assert.ok(!node.events.slice(nodeFrom).some((e) => e.event.startsWith('node.pair.')), 'nothing sent to the node');
    node.close();
  });

  test('reconnecting: the same surface needs nothing, a narrower one neither, a wider one a new approval', async () => {
    const id = newIdentity();
    let from = pairer.events.length;
    let node = await nodeConnect(gw, id, { caps: ['system'], commands: ['system.which', 'camera.list'] });
    const first = await requested(pairer, id.deviceId, from);
    await admin.call('node.pair.approve', { requestId: first.payload.requestId });
    node.close();
    await node.waitClose();

    // Same surface, other order: approved at once, no request.
    from = pairer.events.length;
    node = await nodeConnect(gw, id, { caps: ['system'], commands: ['camera.list', 'system.which'] });
    let entry = await listed(admin, id.deviceId);
    assert.equal(entry.approvalState, 'approved');
    assert.deepEqual(entry.commands, ['camera.list', 'system.which']);
    node.close();
    await node.waitClose();

    // Narrower: what it declares, still approved, no request.
    node = await nodeConnect(gw, id, { caps: ['system'], commands: ['camera.list'] });
    entry = await listed(admin, id.deviceId);
    assert.equal(entry.approvalState, 'approved');
    assert.deepEqual(entry.commands, ['camera.list']);
    await sleep(100);
    assert.ok(!pairer.events.slice(from).some((e) => e.event === 'node.pair.requested' && e.payload.nodeId === id.deviceId), 'no request for a covered surface');
    node.close();
    await node.waitClose();

    // Wider: a new request for the whole surface; the approved part stays effective.
    from = pairer.events.length;
    node = await nodeConnect(gw, id, { caps: ['system'], commands: ['camera.list', 'system.which', 'system.run'] });
    const wider = await requested(pairer, id.deviceId, from);
    assert.deepEqual(wider.payload.commands, ['camera.list', 'system.which', 'system.run']);
    assert.equal(wider.payload.silent, undefined, 'an upgrade is never silent');
    entry = await listed(admin, id.deviceId);
    assert.equal(entry.approvalState, 'pending-reapproval');
    assert.deepEqual(entry.commands, ['camera.list', 'system.which']);
    assert.equal(entry.pendingRequestId, wider.payload.requestId);
    node.close();
    await node.waitClose();

    // The same wider surface again reuses the request; a covered one clears it.
    from = pairer.events.length;
    node = await nodeConnect(gw, id, { caps: ['system'], commands: ['system.run', 'camera.list', 'system.which'] });
    assert.equal((await listed(admin, id.deviceId)).pendingRequestId, wider.payload.requestId);
    node.close();
    await node.waitClose();
    node = await nodeConnect(gw, id, { caps: ['system'], commands: ['camera.list'] });
    const cleared = await resolvedEvent(pairer, id.deviceId, 'rejected', from);
    assert.equal(cleared.payload.requestId, wider.payload.requestId);
    entry = await listed(admin, id.deviceId);
    assert.equal(entry.approvalState, 'approved');
    node.close();
  });

  test('a new surface while one is pending supersedes it (reported rejected)', async () => {
    const id = newIdentity();
    const from = pairer.events.length;
    let node = await nodeConnect(gw, id, { commands: ['camera.list'] });
    const a = await requested(pairer, id.deviceId, from);
    node.close();
    await node.waitClose();
    const from2 = pairer.events.length;
    node = await nodeConnect(gw, id, { commands: ['camera.list', 'camera.snap'] });
    const superseded = await resolvedEvent(pairer, id.deviceId, 'rejected', from2);
    assert.equal(superseded.payload.requestId, a.payload.requestId);
    const b = await requested(pairer, id.deviceId, from2);
    assert.notEqual(b.payload.requestId, a.payload.requestId);
    assertError(await admin.request('node.pair.approve', { requestId: a.payload.requestId }), 'INVALID_REQUEST', 'unknown requestId');
    node.close();
  });

  test('rename: an approved node; blank and unknown refused', async () => {
    const id = newIdentity();
    const from = pairer.events.length;
    const node = await nodeConnect(gw, id);
    const ev = await requested(pairer, id.deviceId, from);
    assertError(await pairer.request('node.rename', { nodeId: id.deviceId, displayName: 'x' }), 'INVALID_REQUEST', 'unknown nodeId');
    await pairer.call('node.pair.approve', { requestId: ev.payload.requestId });
    assert.deepEqual(await pairer.call('node.rename', { nodeId: id.deviceId, displayName: '  Living room  ' }), { nodeId: id.deviceId, displayName: 'Living room' });
    assert.equal((await listed(admin, id.deviceId)).displayName, 'Living room');
    assertError(await pairer.request('node.rename', { nodeId: id.deviceId, displayName: '  ' }), 'INVALID_REQUEST', 'displayName required');
    assertError(await pairer.request('node.rename', { nodeId: 'f'.repeat(64), displayName: 'x' }), 'INVALID_REQUEST', 'unknown nodeId');
    assertError(await reader.request('node.rename', { nodeId: id.deviceId, displayName: 'x' }), 'FORBIDDEN', 'missing scope: operator.pairing');
    node.close();
  });

  test('remove: the node and its device are forgotten, its connection closes 4001 "device removed"', async () => {
    const id = newIdentity();
    const from = pairer.events.length;
    const node = await nodeConnect(gw, id, { commands: ['camera.list'] });
    const ev = await requested(pairer, id.deviceId, from);
    await admin.call('node.pair.approve', { requestId: ev.payload.requestId });
    const removedFrom = pairer.events.length;
    assert.deepEqual(await pairer.call('node.pair.remove', { nodeId: id.deviceId }), { nodeId: id.deviceId });
    const closed = await node.waitClose();
    assert.deepEqual(closed, { code: 4001, reason: 'device removed' });
    const r = await resolvedEvent(pairer, id.deviceId, 'removed', removedFrom);
    assert.equal(r.payload.requestId, '');
    assert.equal(await listed(admin, id.deviceId), undefined);
    assert.ok(!(await admin.call('device.pair.list', {})).paired.some((d) => d.deviceId === id.deviceId), 'the device is gone too');
    assertError(await pairer.request('node.pair.remove', { nodeId: id.deviceId }), 'INVALID_REQUEST', 'unknown nodeId');
    // Connecting again starts over: a fresh request.
    const again = await nodeConnect(gw, id, { commands: ['camera.list'] });
    assert.notEqual((await requested(pairer, id.deviceId, removedFrom)).payload.requestId, ev.payload.requestId);
    again.close();
  });

  test('the node host\'s calls after connect, before and after approval', async () => {
    const id = newIdentity();
    const from = pairer.events.length;
    const node = await nodeConnect(gw, id, { commands: ['system.which', 'mcp.tools.call.v1'] });
    const { payload } = await requested(pairer, id.deviceId, from);
    const stats = { event: 'node.host.stats', payloadJSON: JSON.stringify(HOST_STATS) };

    // Before approval, as recorded from the real gateway (pairing-node-host-connect.json).
    let res = await node.request('node.event', stats);
    assertError(res, 'UNAVAILABLE', 'node pairing changed while invocation was active');
    assert.equal(res.error.retryable, true);
    assert.deepEqual(res.error.details, { code: 'PAIRING_CHANGED' });
    res = await node.request('node.runnerInventory.update', RUNNER);
    assertError(res, 'UNAVAILABLE', `node capability surface is awaiting operator approval; run \`openclaw nodes approve ${payload.requestId}\` (see \`openclaw nodes pending\`), then this node retries automatically`);
    assert.deepEqual(await node.call('node.skills.update', { skills: [] }), { nodeId: id.deviceId, skills: [] });
    assert.deepEqual(await node.call('node.pluginTools.update', { tools: [] }), { nodeId: id.deviceId, tools: [] });

    // Skills are kept sorted, tools only for commands the node may run.
    const skills = [
      { name: 'zeta', description: ' last ', content: 'z' },
      { name: 'alpha', description: 'first', content: 'a' },
      { name: 'alpha', description: 'dup', content: 'dup' },
    ];
    const kept = await node.call('node.skills.update', { skills });
    assert.deepEqual(kept.skills, [{ name: 'alpha', description: 'first', content: 'a' }, { name: 'zeta', description: 'last', content: 'z' }]);
    const tools = [{ pluginId: 'node-mcp', name: 'search', description: 'Search', command: 'mcp.tools.call.v1', mcp: { server: 's', tool: 't' } }];
    assert.deepEqual((await node.call('node.pluginTools.update', { tools })).tools, [], 'no tools before approval');
    assertError(await node.request('node.skills.update', { skills: [{ name: 'Bad Name', description: 'd', content: 'c' }] }), 'INVALID_REQUEST', /^invalid node\.skills\.update params: at \/skills\/0\/name/);
    assertError(await node.request('node.runnerInventory.update', { protocolFeatures: ['nope'] }), 'INVALID_REQUEST', 'invalid node runner inventory');

    await admin.call('node.pair.approve', { requestId: payload.requestId });
    const adminFrom = admin.events.length;
    const readerFrom = reader.events.length;
    const ok = await node.call('node.event', stats);
    assert.deepEqual(ok, { ok: true, event: 'node.host.stats', handled: true, reason: 'updated' });
    const hostStats = await reader.waitEvent('node.hostStats', { from: readerFrom });
    assert.equal(hostStats.payload.nodeId, id.deviceId);
    assert.equal(hostStats.payload.hostStats.cpuCount, 2);
    assert.equal(typeof hostStats.payload.hostStats.updatedAtMs, 'number');
    await admin.waitEvent('node.hostStats', { from: adminFrom });
    assert.equal((await listed(admin, id.deviceId)).hostStats.memoryFreeBytes, 400);
    assert.deepEqual(await node.call('node.event', { event: 'node.host.stats', payload: { cpuCount: 0 } }), { ok: true, event: 'node.host.stats', handled: false, reason: 'invalid_payload' });
    assert.deepEqual(await node.call('node.event', { event: 'fixture.unknown', payloadJSON: '{}' }), { ok: true, event: 'fixture.unknown', handled: false, reason: 'unsupported_event' });
    assert.deepEqual(await node.call('node.event', { event: 'exec.finished', payloadJSON: '{}' }), { ok: true, event: 'exec.finished', handled: false, reason: 'unmatched_exec_event' });
    assert.deepEqual(await node.call('node.runnerInventory.update', RUNNER), { nodeId: id.deviceId });
    const retired = await node.request('node.runnerInventory.update', { protocolFeatures: ['node-worker-supervisor-v5'] });
    assertError(retired, 'INVALID_REQUEST', /requires an update before it can host sessions/);
    const now = await node.call('node.pluginTools.update', { tools });
    assert.equal(now.tools.length, 1);
    assert.deepEqual(now.tools[0].parameters, { type: 'object', properties: {}, additionalProperties: true });
    assert.equal((await listed(admin, id.deviceId)).nodePluginTools.length, 1);
    assertError(await node.request('node.event', {}), 'INVALID_REQUEST', /^invalid node\.event params/);
    node.close();
  });

  test('node-role methods are refused to operators; operator methods to nodes', async () => {
    for (const m of ['node.event', 'node.skills.update', 'node.pluginTools.update', 'node.runnerInventory.update']) {
      assertError(await admin.request(m, {}), 'INVALID_REQUEST', 'unauthorized role: operator');
      assert.ok(admin.hello.features.methods.includes(m), `features.methods lists ${m}`);
    }
    const node = await nodeConnect(gw, newIdentity());
    for (const m of ['node.pair.list', 'node.pair.approve', 'node.list', 'node.rename', 'node.pair.remove']) {
      assertError(await node.request(m, {}), 'INVALID_REQUEST', 'unauthorized role: node');
    }
    assertError(await reader.request('node.pair.list', {}), 'FORBIDDEN', 'missing scope: operator.pairing');
    const none = await operator(gw, []);
    assertError(await none.request('node.list', {}), 'FORBIDDEN', 'missing scope: operator.read');
    none.close();
    for (const e of ['node.pair.requested', 'node.pair.resolved']) assert.ok(admin.hello.features.events.includes(e), `features.events lists ${e}`);
    node.close();
  });
});

describe('node.pair.request and node.pair.verify (the seed\'s)', () => {
  let gw, admin, pairer, reader;
  before(async () => {
    gw = await startGateway();
    admin = await operator(gw, ['operator.admin']);
    pairer = await operator(gw, ['operator.pairing']);
    reader = await operator(gw, ['operator.read']);
  });
  after(async () => {
    for (const c of [admin, pairer, reader]) c.close();
    await gw.stop();
  });

  test('an operator asks for a node; the same request is reused; once approved it verifies', async () => {
    const nodeId = 'seed-node-1';
    const from = pairer.events.length;
    const params = { nodeId, displayName: 'Seed', platform: 'linux', version: '1.0', caps: ['camera'], commands: ['camera.list'], permissions: { camera: true } };
    const first = await pairer.call('node.pair.request', params);
    assert.equal(first.status, 'pending');
    assert.equal(first.created, true);
    const ev = await requested(pairer, nodeId, from);
    assert.equal(ev.payload.requestId, first.requestId);
    assert.deepEqual(ev.payload.permissions, { camera: true });
    assert.equal(ev.payload.displayName, 'Seed');
    const again = await pairer.call('node.pair.request', params);
    assert.deepEqual(again, { status: 'pending', requestId: first.requestId, created: false });
    assert.deepEqual(await pairer.call('node.pair.verify', { nodeId }), { nodeId, paired: false, approvedCommands: [] });
    const listedNode = await listed(admin, nodeId);
    assert.equal(listedNode.paired, false);
    assert.equal(listedNode.connected, false);
    assert.equal(listedNode.approvalState, 'pending-approval');
    assert.equal(await listed(reader, nodeId), undefined, 'neither paired nor connected: hidden from readers');

    await admin.call('node.pair.approve', { requestId: first.requestId });
    assert.deepEqual(await pairer.call('node.pair.verify', { nodeId }), { nodeId, paired: true, approvedCommands: ['camera.list'] });
    assert.deepEqual(await pairer.call('node.pair.request', { nodeId, commands: ['camera.list'] }), { status: 'approved', requestId: first.requestId, created: false });
    const wider = await pairer.call('node.pair.request', { nodeId, commands: ['camera.list', 'camera.snap'] });
    assert.equal(wider.status, 'pending');
    assert.notEqual(wider.requestId, first.requestId);
    assert.deepEqual(await pairer.call('node.pair.verify', { nodeId: 'nobody' }), { nodeId: 'nobody', paired: false, approvedCommands: [] });
  });

  test('a node may ask about itself only; readers may not ask', async () => {
    const id = newIdentity();
    const node = await nodeConnect(gw, id, { commands: ['camera.list'] });
    const own = await node.call('node.pair.request', { nodeId: id.deviceId, commands: ['camera.list'] });
    assert.equal(own.status, 'pending');
    assert.equal(own.created, false, 'the surface it connected with is already asked for');
    assert.deepEqual(await node.call('node.pair.verify', { nodeId: id.deviceId }), { nodeId: id.deviceId, paired: false, approvedCommands: [] });
    for (const m of ['node.pair.request', 'node.pair.verify']) {
      const res = await node.request(m, { nodeId: 'someone-else' });
      assertError(res, 'INVALID_REQUEST', /denied: a node may only ask about itself/);
      assert.equal(res.error.details.reason, 'device-ownership-mismatch');
      assertError(await reader.request(m, { nodeId: id.deviceId }), 'FORBIDDEN', 'missing scope: operator.pairing');
    }
    node.close();
  });

  test('params are bounded', async () => {
    assertError(await pairer.request('node.pair.request', { nodeId: 'n', commands: Array.from({ length: 513 }, (_, i) => `c${i}`) }), 'INVALID_REQUEST', /at \/commands: must NOT have more than 512 items/);
    assertError(await pairer.request('node.pair.request', { nodeId: 'x'.repeat(257) }), 'INVALID_REQUEST', /at \/nodeId: must NOT be longer than 256 bytes/);
    assertError(await pairer.request('node.pair.request', { nodeId: 'n', permissions: { a: 'yes' } }), 'INVALID_REQUEST', /permissions/);
    assertError(await pairer.request('node.pair.request', { nodeId: 'n', extra: 1 }), 'INVALID_REQUEST', /^invalid node\.pair\.request params/);
  });
});

describe('node pairing across a restart', () => {
  test('an approval and a pending request survive; the approved node reconnects without a new request', async () => {
    let gw = await startGateway({ keepStateDir: true });
    const { stateDir, port, token } = gw;
    const approvedId = newIdentity();
    const pendingId = newIdentity();
    let admin = await operator(gw, ['operator.admin']);
    let from = admin.events.length;
    let a = await nodeConnect(gw, approvedId, { caps: ['system'], commands: ['system.which'] });
    const ev = await requested(admin, approvedId.deviceId, from);
    const approved = await admin.call('node.pair.approve', { requestId: ev.payload.requestId });
    await admin.call('node.rename', { nodeId: approvedId.deviceId, displayName: 'kept name' });
    from = admin.events.length;
    const b = await nodeConnect(gw, pendingId, { commands: ['camera.list'] });
    const pending = await requested(admin, pendingId.deviceId, from);
    a.close();
    b.close();
    admin.close();
    await gw.stop();

    gw = await startGateway({ stateDir, port, token, keepStateDir: true });
    try {
      admin = await operator(gw, ['operator.admin']);
      const list = await admin.call('node.pair.list', {});
      const paired = list.paired.find((p) => p.nodeId === approvedId.deviceId);
      assert.equal(paired.approvedAtMs, approved.node.approvedAtMs);
      assert.equal(paired.displayName, 'kept name');
      assert.deepEqual(paired.commands, ['system.which']);
      assert.equal(typeof paired.lastDisconnectedAtMs, 'number');
      assert.deepEqual(list.pending.find((p) => p.nodeId === pendingId.deviceId), pending.payload);
      const offline = await listed(admin, approvedId.deviceId);
      assert.equal(offline.connected, false);
      assert.equal(offline.paired, true);
      assert.deepEqual(offline.commands, ['system.which'], 'the approved surface while offline');

      from = admin.events.length;
      a = await nodeConnect(gw, approvedId, { caps: ['system'], commands: ['system.which'] });
      const entry = await listed(admin, approvedId.deviceId);
      assert.equal(entry.approvalState, 'approved');
      assert.equal(entry.connected, true);
      assert.deepEqual(entry.commands, ['system.which']);
      await sleep(100);
      assert.ok(!admin.events.slice(from).some((e) => e.event === 'node.pair.requested'), 'no new request');
      assert.deepEqual(await a.call('node.runnerInventory.update', RUNNER), { nodeId: approvedId.deviceId });
      await admin.call('node.pair.approve', { requestId: pending.payload.requestId });
      a.close();
      admin.close();
    } finally {
      await gw.stop('SIGTERM', { keepStateDir: false });
    }
  });
});
