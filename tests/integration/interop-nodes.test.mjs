// Interop (issue 7): the real OpenClaw node host and CLI against clawgate's node pairing.
// `openclaw node run` connects (its device auto-approved on loopback); `openclaw nodes
// pending` lists its command surface; `openclaw nodes approve` approves it (the CLI
// reconnects with the request's requiredApproveScopes) and the open connection is
// approved at once; a restarted node host is paired and connected without a new
// request; restarting clawgate keeps the approval and the node host comes back by
// itself. What the real gateway answered is in tests/fixtures/real-gateway/pairing-*.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGateway, eventually } from './lib/gateway.mjs';
import { OPENCLAW_BIN } from './lib/peer.mjs';
import { startNodeHost } from './lib/nodehost.mjs';
import { openclaw } from './lib/openclaw.mjs';

function cli(gw, args) {
  return openclaw(['nodes', ...args, '--url', gw.url, '--token', gw.token, '--json'], { timeoutMs: 90000 });
}

function json(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.ok(r.json !== undefined, `${what}: stdout is JSON:\n${r.stdout}`);
  return r.json;
}

/** The node host's entry of `openclaw nodes list --json` (node.pair.list merged with node.list). */
async function listedNode(gw, nodeId) {
  const list = json(await cli(gw, ['list']), 'nodes list');
  return [...(list.paired || []), ...(list.nodes || [])].find((n) => n.nodeId === nodeId);
}

describe('the real node host and `openclaw nodes` against clawgate', { skip: !fs.existsSync(OPENCLAW_BIN) && 'reference peer not installed' }, () => {
  let gw, home, host;
  before(async () => {
    gw = await startGateway({ keepStateDir: true });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-node-host-'));
  });
  after(async () => {
    if (host) await host.stop();
    if (gw) await gw.stop('SIGTERM', { keepStateDir: false });
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('pending, approve, node host restart, clawgate restart', async () => {
    host = startNodeHost(gw, home);
    // `openclaw nodes pending` lists the node host's surface.
    const pending = await eventually(async () => {
      const list = json(await cli(gw, ['pending']), 'nodes pending');
      return list.find((p) => p.clientId === 'node-host');
    }, 90000, `the node host's request in \`openclaw nodes pending\`\n${host.log()}`, 1000);
    const { nodeId, requestId } = pending;
    assert.match(nodeId, /^[0-9a-f]{64}$/);
    assert.equal(pending.clientMode, 'node');
    assert.equal(pending.silent, true, 'its device was approved on loopback without a prompt');
    assert.ok(pending.commands.includes('system.run'), JSON.stringify(pending.commands));
    assert.deepEqual(pending.requiredApproveScopes, ['operator.pairing', 'operator.admin']);
    let entry = await listedNode(gw, nodeId);
    assert.equal(entry.approvalState, 'pending-approval');
    assert.equal(entry.connected, true);

    // `openclaw nodes approve` (reconnects with operator.admin, as requiredApproveScopes says).
    const approved = json(await cli(gw, ['approve', requestId]), 'nodes approve');
    assert.equal(approved.requestId, requestId);
    assert.equal(approved.node.nodeId, nodeId);
    entry = await eventually(async () => {
      const e = await listedNode(gw, nodeId);
      return e && e.approvalState === 'approved' && e.connected ? e : null;
    }, 10000, 'the open connection approved');
    assert.equal(entry.paired, true);
    assert.ok(entry.commands.includes('system.run'));
    assert.deepEqual(json(await cli(gw, ['pending']), 'nodes pending'), []);
    const unknown = await cli(gw, ['approve', requestId]);
    assert.notEqual(unknown.code, 0, 'approving twice fails');

    // The node host restarts: paired and connected, nothing to approve.
    await host.stop();
    await eventually(async () => (await listedNode(gw, nodeId))?.connected === false, 15000, 'the node host gone');
    host = startNodeHost(gw, home);
    entry = await eventually(async () => {
      const e = await listedNode(gw, nodeId);
      return e && e.connected ? e : null;
    }, 90000, `the node host back\n${host.log()}`, 1000);
    assert.equal(entry.approvalState, 'approved');
    assert.equal(entry.paired, true);
    assert.deepEqual(json(await cli(gw, ['pending']), 'nodes pending'), []);

    // clawgate restarts on the same state: the approval holds, the node host reconnects.
    const { stateDir, port, token } = gw;
    await gw.stop('SIGTERM', { keepStateDir: true });
    gw = await startGateway({ stateDir, port, token, keepStateDir: true });
    entry = await eventually(async () => {
      const e = await listedNode(gw, nodeId);
      return e && e.connected ? e : null;
    }, 90000, `the node host reconnected to the restarted clawgate\n${host.log()}`, 1000);
    assert.equal(entry.approvalState, 'approved');
    assert.deepEqual(json(await cli(gw, ['pending']), 'nodes pending'), []);
  });
});

describe('a node host whose device needs an operator', { skip: !fs.existsSync(OPENCLAW_BIN) && 'reference peer not installed' }, () => {
  let gw, home, host;
  before(async () => {
    gw = await startGateway({ config: { gateway: { nodes: { pairing: { autoApproveLocal: false } } } } });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-node-host-'));
  });
  after(async () => {
    if (host) await host.stop();
    if (gw) await gw.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('is refused PAIRING_REQUIRED and does not retry; once `openclaw devices approve`d, a restart connects', async () => {
    host = startNodeHost(gw, home);
    const devices = (args) => openclaw(['devices', ...args, '--url', gw.url, '--token', gw.token, '--json'], { timeoutMs: 90000 });
    const request = await eventually(async () => {
      const list = json(await devices(['list']), 'devices list');
      return list.pending.find((p) => p.clientId === 'node-host');
    }, 90000, `the node host's device request\n${host.log()}`, 1000);
    assert.equal(request.role, 'node');
    // It does not retry: no second connect reaches clawgate within a few seconds.
    const connects = () => gw.logLines().filter((l) => l.message === 'connect refused' && l.code === 'PAIRING_REQUIRED').length;
    await eventually(() => connects() >= 1, 5000, 'the refusal logged');
    const before = connects();
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(connects(), before, `the node host retried:\n${host.log()}`);
    json(await devices(['approve', request.requestId]), 'devices approve');

    await host.stop();
    host = startNodeHost(gw, home);
    const pending = await eventually(async () => {
      const list = json(await cli(gw, ['pending']), 'nodes pending');
      return list.find((p) => p.nodeId === request.deviceId);
    }, 90000, `the restarted node host connected and filed its surface\n${host.log()}`, 1000);
    assert.equal(pending.clientId, 'node-host');
    const entry = await listedNode(gw, request.deviceId);
    assert.equal(entry.connected, true);
  });
});
