// Interop (issue 8): the real OpenClaw node host runs commands through clawgate. `openclaw
// node run` connects, `openclaw nodes approve` approves its surface; `openclaw nodes
// status/list/describe` show it; `openclaw nodes invoke ... system.which` finds sh;
// node.invoke system.run echo hi answers hi; killing the node host mid-invoke fails the
// call within a second; a restarted node host needs no new approval and runs again.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { connectClient } from './lib/client.mjs';
import { startGateway, eventually } from './lib/gateway.mjs';
import { OPENCLAW_BIN } from './lib/peer.mjs';
import { openclaw } from './lib/openclaw.mjs';
import { startNodeHost } from './lib/nodehost.mjs';

function nodesCli(gw, args) {
  return openclaw(['nodes', ...args, '--url', gw.url, '--token', gw.token, '--json'], { timeoutMs: 90000 });
}

function json(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.ok(r.json !== undefined, `${what}: stdout is JSON:\n${r.stdout}`);
  return r.json;
}

describe('the real node host runs commands through clawgate', { skip: !fs.existsSync(OPENCLAW_BIN) && 'reference peer not installed' }, () => {
  let gw, home, host, op;
  before(async () => {
    gw = await startGateway();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-node-host-'));
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => {
    op?.close();
    if (host) await host.stop();
    if (gw) await gw.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const invoke = (nodeId, command, params, extra = {}) =>
    op.request('node.invoke', { nodeId, command, params, idempotencyKey: randomUUID(), ...extra }, { timeoutMs: 60000 });

  test('approve, status/list/describe, which, run, kill mid-invoke, restart', async () => {
    host = startNodeHost(gw, home);
    const pending = await eventually(async () => {
      const list = json(await nodesCli(gw, ['pending']), 'nodes pending');
      return list.find((p) => p.clientId === 'node-host');
    }, 90000, `the node host's request\n${host.log()}`, 1000);
    const { nodeId } = pending;
    json(await nodesCli(gw, ['approve', pending.requestId]), 'nodes approve');
    await eventually(async () => (await op.call('node.describe', { nodeId })).approvalState === 'approved', 10000, 'approved');

    // `openclaw nodes status` and `list` show it paired and connected; `describe` its surface.
    const status = json(await nodesCli(gw, ['status']), 'nodes status');
    const statusEntry = (status.nodes || []).find((n) => n.nodeId === nodeId);
    assert.ok(statusEntry, `nodes status lists the node: ${JSON.stringify(status)}`);
    assert.equal(statusEntry.connected, true);
    assert.equal(statusEntry.paired, true);
    const list = json(await nodesCli(gw, ['list']), 'nodes list');
    assert.ok([...(list.paired || []), ...(list.nodes || [])].some((n) => n.nodeId === nodeId), JSON.stringify(list));
    const described = json(await nodesCli(gw, ['describe', '--node', nodeId]), 'nodes describe');
    assert.equal(described.nodeId, nodeId);
    assert.ok(described.commands.includes('system.which'), JSON.stringify(described));
    assert.equal(described.connected, true);

    // `openclaw nodes invoke` finds sh.
    const which = json(await nodesCli(gw, ['invoke', '--node', nodeId, '--command', 'system.which', '--params', '{"bins":["sh"]}']), 'nodes invoke');
    const found = which.payload?.bins?.sh ?? which.bins?.sh ?? JSON.stringify(which);
    assert.match(String(found), /\/(usr\/)?bin\/sh$/, JSON.stringify(which));

    // system.run echo hi.
    const run = await invoke(nodeId, 'system.run', { command: ['echo', 'hi'] });
    assert.equal(run.ok, true, JSON.stringify(run.error));
    assert.equal(run.payload.payload.stdout, 'hi\n');
    assert.equal(run.payload.payload.exitCode, 0);

    // clawgate's own policy asks first: the call waits for an approver; deny stops it.
    const approver = await connectClient(gw, { params: { client: { id: 'openclaw-control-ui', version: '2026.9.6', platform: 'linux', mode: 'webchat' }, scopes: ['operator.admin', 'operator.approvals'] } });
    const setPolicy = async (defaults) => {
      const { hash } = await op.call('exec.approvals.get', {});
      await op.call('exec.approvals.set', { file: { version: 1, defaults }, baseHash: hash });
    };
    const asked = (word, from) => approver.waitEvent('exec.approval.requested', { from, timeoutMs: 10000, predicate: (e) => e.payload.request.systemRunPlan?.argv?.[1] === word });
    await setPolicy({ security: 'full', ask: 'always' });
    let from = approver.events.length;
    let settled = false;
    const held = invoke(nodeId, 'system.run', { command: ['echo', 'approved'] }).finally(() => { settled = true; });
    const ev = await asked('approved', from);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false, 'the call waits for the approver');
    await approver.call('exec.approval.resolve', { id: ev.payload.id, decision: 'allow-once' });
    const allowed = await held;
    assert.equal(allowed.ok, true, JSON.stringify(allowed.error));
    assert.equal(allowed.payload.payload.stdout, 'approved\n');
    from = approver.events.length;
    const stopped = invoke(nodeId, 'system.run', { command: ['echo', 'denied'] });
    await approver.call('exec.approval.resolve', { id: (await asked('denied', from)).payload.id, decision: 'deny' });
    const denied = await stopped;
    assert.equal(denied.ok, false);
    assert.match(denied.error.message, /denied/);
    approver.close();
    await setPolicy({ security: 'full', ask: 'off' });

    // Its own exec approvals policy, read through it.
    const policy = await op.call('exec.approvals.node.get', { nodeId });
    assert.equal(policy.file.version, 1);
    assert.equal(typeof policy.hash, 'string');

    // Killed mid-invoke: the call fails within a second.
    const slow = invoke(nodeId, 'system.run', { command: ['sleep', '30'] });
    await new Promise((r) => setTimeout(r, 1000));
    const killedAt = Date.now();
    await host.kill();
    const res = await slow;
    const took = Date.now() - killedAt;
    assert.equal(res.ok, false);
    assert.equal(res.error.code, 'UNAVAILABLE');
    assert.equal(res.error.message, 'DISCONNECTED: node disconnected (system.run)');
    assert.ok(took < 1000, `failed ${took} ms after the kill`);

    // Restarted: connected and approved without a new request; runs again.
    host = startNodeHost(gw, home);
    await eventually(async () => (await op.call('node.describe', { nodeId })).connected, 90000, `the node host back\n${host.log()}`, 1000);
    assert.equal((await op.call('node.describe', { nodeId })).approvalState, 'approved');
    assert.deepEqual(json(await nodesCli(gw, ['pending']), 'nodes pending'), []);
    const again = await invoke(nodeId, 'system.which', { bins: ['sh'] });
    assert.equal(again.ok, true, JSON.stringify(again.error));
  });
});
