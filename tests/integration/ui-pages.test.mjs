// The methods the real Control UI's pages call (issue 11), over a plain client: each
// answers truthfully for what clawgate has. system.info reports this host and process
// (compared with what Node reads here), environments.list the gateway and each known
// node (available while connected), plugins.list and plugins.catalog.browse nothing,
// themes.list the UI's built-in themes with the config's ui.prefs selection, which a
// config.patch without baseHash may set (only ui.prefs: any other hashless patch is
// still refused, the file unchanged). sessions.list takes hasBoard (no clawgate session
// has a dashboard) and sortBy "activity"; cron.list carries a snapshotRevision that
// follows the inventory. Frames are schema-checked by the client harness
// (SystemInfoResult, EnvironmentsListResult, PluginsListResult).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { connectClient } from './lib/client.mjs';
import { startGateway, sleep } from './lib/gateway.mjs';
import { simNode } from './lib/simnode.mjs';

const NODE_ARCH = { x64: 'x64', arm64: 'arm64' };

describe('the Control UI pages\' methods', () => {
  let gw, admin, reader;
  before(async () => {
    gw = await startGateway();
    admin = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    reader = await connectClient(gw, { params: { scopes: ['operator.read'] } });
  });
  after(async () => {
    admin?.close();
    reader?.close();
    await gw?.stop();
  });

  test('system.info: this host and this process', async () => {
    const info = await reader.call('system.info', {});
    assert.equal(info.hostname, os.hostname());
    assert.equal(info.machineName, os.hostname().split('.')[0]);
    assert.equal(info.platform, os.platform());
    assert.equal(info.release, os.release());
    if (NODE_ARCH[os.arch()]) assert.equal(info.arch, os.arch());
    assert.equal(info.osLabel, `${os.type()} ${os.release()}`);
    assert.equal(info.pid, gw.pid);
    assert.equal(info.port, gw.port);
    assert.equal(info.cpuCount, os.cpus().length);
    assert.equal(info.memoryTotalBytes, os.totalmem());
    assert.ok(info.memoryFreeBytes > 0 && info.memoryFreeBytes <= info.memoryTotalBytes);
    assert.ok(info.uptimeMs >= 0 && info.uptimeMs < 600000);
    assert.equal(info.diskPath, gw.stateDir);
    assert.ok(info.diskAvailableBytes > 0 && info.diskAvailableBytes <= info.diskTotalBytes);
    assert.match(info.nodeVersion, /^clawgate \d/);
    assert.deepEqual(info.defaultAgentUtilityModel, { status: 'unavailable' });
    const res = await reader.request('system.info', { verbose: true });
    assert.equal(res.error.code, 'INVALID_REQUEST');
    assert.match(res.error.message, /^invalid system\.info params/);
  });

  test('environments.list: the gateway, and a node while connected and after', async () => {
    const before = await reader.call('environments.list', {});
    assert.deepEqual(before.environments, [{
      id: 'gateway', type: 'local', label: 'Gateway local', status: 'available', platform: os.platform(),
      sessionHost: true, trust: 'persistent', capabilities: ['agent.run', 'sessions', 'tools', 'workspace'],
    }]);
    // A node (its device auto-approved on loopback) whose command surface an operator approves.
    const node = await simNode(gw, { caps: ['system'], commands: ['canvas.present', 'system.which'], client: { id: 'node-host', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'node', displayName: 'env-node' } });
    let pending;
    for (const deadline = Date.now() + 5000; Date.now() < deadline && !pending; await sleep(50)) {
      pending = (await admin.call('node.pair.list', {})).pending.find((p) => p.nodeId === node.nodeId);
    }
    await admin.call('node.pair.approve', { requestId: pending.requestId });
    const envOf = async () => (await reader.call('environments.list', { includeDesktopSetup: true })).environments.find((e) => e.id === `node:${node.nodeId}`);
    const live = await envOf();
    assert.equal(live.type, 'node');
    assert.equal(live.label, 'env-node');
    assert.equal(live.status, 'available');
    assert.equal(live.platform, 'linux');
    assert.deepEqual(live.capabilities, ['canvas.present', 'system', 'system.which']);
    // What node.invoke would send it: canvas.present is not allowlisted for linux.
    assert.deepEqual(live.invocableCommands, ['system.which']);
    node.client.close();
    let gone;
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(100)) {
      gone = await envOf();
      if (gone?.status === 'unavailable') break;
    }
    assert.equal(gone.status, 'unavailable', 'a paired node stays listed, unavailable');
    assert.equal(gone.invocableCommands, undefined);
    assert.deepEqual((await reader.call('environments.list', { projection: 'profiles' })).environments, []);
    const res = await reader.request('environments.list', { projection: 'all' });
    assert.equal(res.error.code, 'INVALID_REQUEST');
  });

  test('plugins.list and plugins.catalog.browse: no plugins, no catalog', async () => {
    assert.deepEqual(await reader.call('plugins.list', {}), { plugins: [], diagnostics: [], mutationAllowed: false });
    assert.deepEqual(await reader.call('plugins.catalog.browse', { intent: 'featured', pageSize: 24 }), { items: [] });
    const res = await reader.request('plugins.catalog.browse', { pageSize: 500 });
    assert.equal(res.error.code, 'INVALID_REQUEST');
  });

  test('themes.list follows ui.prefs; a hashless config.patch may set ui.prefs only', async () => {
    const first = await reader.call('themes.list', {});
    assert.deepEqual(first.current, { id: 'claw', mode: 'system', scope: 'gateway', overrides: {} });
    assert.equal(first.theme.id, 'claw');
    assert.deepEqual(first.themes.map((t) => t.id), ['claw', 'knot', 'dash', 'absolutely', 'tide', 'beacon', 'phosphor', 'crt', 'manuscript', 'rose', 'miami']);
    assert.ok(first.themes.every((t) => t.source === 'builtin' && t.modes.join() === 'light,dark'));
    // The UI's prefs sync: no baseHash, only ui.prefs.
    const { hash } = await admin.call('config.get', {});
    await admin.call('config.patch', { raw: JSON.stringify({ gateway: { tickIntervalMs: 30000 } }), baseHash: hash });
    const before = gw.readConfig();
    await admin.call('config.patch', { raw: JSON.stringify({ ui: { prefs: { theme: 'tide', themeMode: 'dark' } } }), note: 'control-ui prefs sync' });
    const after = JSON.parse(gw.readConfig());
    assert.deepEqual(after.ui, { prefs: { theme: 'tide', themeMode: 'dark' } });
    assert.equal(after.gateway.tickIntervalMs, 30000, 'the rest of the file is kept');
    assert.notEqual(gw.readConfig(), before);
    const now = await reader.call('themes.list', {});
    assert.deepEqual(now.current, { id: 'tide', mode: 'dark', effectiveMode: 'dark', scope: 'gateway', overrides: {} });
    assert.equal(now.theme.name, 'Tide');
    // Anything else without baseHash is refused and leaves the file as it was.
    const written = gw.readConfig();
    for (const raw of [{ gateway: { tickIntervalMs: 20000 } }, { ui: { prefs: { theme: 'knot' } }, gateway: { tickIntervalMs: 20000 } }, { ui: { other: 1 } }]) {
      const res = await admin.request('config.patch', { raw: JSON.stringify(raw) });
      assert.equal(res.ok, false, JSON.stringify(raw));
      assert.equal(res.error.code, 'INVALID_REQUEST');
      assert.match(res.error.message, /base hash required/);
    }
    assert.equal(gw.readConfig(), written);
    // An unknown theme id: the real fallback to claw, naming what was asked for.
    await admin.call('config.patch', { raw: JSON.stringify({ ui: { prefs: { theme: 'nope' } } }) });
    assert.deepEqual((await reader.call('themes.list', {})).current, { id: 'claw', mode: 'dark', effectiveMode: 'dark', scope: 'gateway', overrides: {}, requestedId: 'nope' });
  });

  test('sessions.list: hasBoard (no session has a dashboard) and sortBy activity', async () => {
    await admin.call('sessions.patch', { key: 'agent:main:boards', label: 'Boards' });
    const all = await reader.call('sessions.list', { sortBy: 'activity' });
    assert.ok(all.sessions.some((s) => s.key === 'agent:main:boards'));
    assert.deepEqual((await reader.call('sessions.list', { hasBoard: true })).sessions, []);
    assert.deepEqual((await reader.call('sessions.list', { hasBoard: false, sortBy: 'activity' })).sessions.map((s) => s.key), all.sessions.map((s) => s.key));
    const res = await reader.request('sessions.list', { hasBoard: 'yes' });
    assert.equal(res.error.code, 'INVALID_REQUEST');
  });

  test('cron.list: a snapshotRevision that changes with the inventory', async () => {
    const empty = await reader.call('cron.list', { includeDisabled: true, limit: 200, offset: 0 });
    assert.match(empty.snapshotRevision, /^sha256:[A-Za-z0-9_-]{43}$/);
    assert.equal((await reader.call('cron.list', { includeDisabled: true })).snapshotRevision, empty.snapshotRevision, 'stable while nothing changes');
    await admin.call('cron.add', { name: 'rev', schedule: { kind: 'every', everyMs: 3600000 }, sessionTarget: 'main', wakeMode: 'next-heartbeat', payload: { kind: 'systemEvent', text: 'hi' } });
    const one = await reader.call('cron.list', { includeDisabled: true });
    assert.equal(one.jobs.length, 1);
    assert.notEqual(one.snapshotRevision, empty.snapshotRevision);
  });
});
