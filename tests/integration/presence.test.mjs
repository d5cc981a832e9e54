// Presence and the everyday status methods (issue 6 "Honest surfaces"):
// hello-ok.snapshot.presence lists the gateway and the connected clients, stateVersion
// counts changes, operators get a `presence` event on each connect and disconnect, CLI
// clients are left out as the real gateway does, and system-presence / last-heartbeat
// answer in the real gateway's shapes (tests/fixtures/real-gateway/).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/gateway.mjs';
import { connectClient } from './lib/client.mjs';
import { validate } from './lib/schema.mjs';

const TEST_CLIENT = { id: 'test', version: '1.2.3', platform: 'linux', mode: 'test', displayName: 'fixture-test', instanceId: 'inst-1', deviceFamily: 'Linux', modelIdentifier: 'm1', timeZone: 'UTC' };

describe('presence', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { await gw.stop(); });

  test('the gateway lists itself first (mode gateway, reason self)', async () => {
    const c = await connectClient(gw);
    const list = await c.call('system-presence', {});
    assert.ok(Array.isArray(list));
    const self = list[0];
    assert.equal(self.mode, 'gateway');
    assert.equal(self.reason, 'self');
    for (const k of ['host', 'version', 'platform', 'deviceFamily', 'instanceId', 'text', 'ts']) assert.ok(self[k] !== undefined, `self.${k}`);
    assert.match(self.text, /^Gateway: /);
    for (const e of list) validate('PresenceEntry', e, 'system-presence entry');
    c.close();
  });

  test('connect and disconnect: a presence event with the whole list and stateVersion; CLI clients left out', async () => {
    const watcher = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    const v0 = watcher.hello.snapshot.stateVersion.presence;
    const from = watcher.events.length;
    const cli = await connectClient(gw, { params: { client: { id: 'cli', version: '1', platform: 'linux', mode: 'cli' } } });
    const b = await connectClient(gw, { params: { client: TEST_CLIENT, scopes: ['operator.read', 'operator.write'] } });
    const connected = await watcher.waitEvent('presence', { from, predicate: (e) => e.payload.presence.some((p) => p.instanceId === 'inst-1') });
    const entry = connected.payload.presence.find((p) => p.instanceId === 'inst-1');
    assert.equal(entry.reason, 'connect');
    assert.equal(entry.host, 'fixture-test');
    assert.equal(entry.mode, 'test');
    assert.deepEqual(entry.roles, ['operator']);
    assert.deepEqual(entry.scopes, ['operator.read', 'operator.write']);
    assert.equal(entry.clientId, undefined, 'the schema has no clientId');
    assert.equal(entry.ip, undefined, 'a loopback client has no ip, as the real gateway');
    for (const e of connected.payload.presence) validate('PresenceEntry', e, 'presence entry');
    assert.ok(connected.stateVersion.presence > v0, 'stateVersion counts the change');
    assert.equal(typeof connected.stateVersion.health, 'number');
    assert.ok(!connected.payload.presence.some((p) => p.mode === 'cli'), 'CLI clients are not presence');

    // The new client's own snapshot has the gateway and itself.
    const snap = b.hello.snapshot.presence;
    assert.equal(snap[0].reason, 'self');
    assert.ok(snap.some((p) => p.instanceId === 'inst-1'));
    assert.ok(b.hello.snapshot.stateVersion.presence >= 1);

    const before = watcher.events.length;
    b.close();
    const gone = await watcher.waitEvent('presence', { from: before, predicate: (e) => e.payload.presence.some((p) => p.instanceId === 'inst-1' && p.reason === 'disconnect') });
    assert.ok(gone.stateVersion.presence > connected.stateVersion.presence);
    const list = await watcher.call('system-presence', {});
    assert.equal(list.find((p) => p.instanceId === 'inst-1').reason, 'disconnect', 'the one who left stays listed a while');
    assert.equal(list.findIndex((p) => p.instanceId === 'inst-1'), 1, 'newest change first, after the gateway');
    cli.close();
    watcher.close();
  });

  test('presence needs operator.read: no events and an empty snapshot without it', async () => {
    const noScope = await connectClient(gw, { params: { scopes: [] } });
    assert.deepEqual(noScope.hello.snapshot.presence, [], 'snapshot filtered per recipient, as the real gateway');
    const from = noScope.events.length;
    const other = await connectClient(gw, { params: { client: { ...TEST_CLIENT, instanceId: 'inst-2' } } });
    other.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(noScope.events.slice(from).filter((e) => e.event === 'presence').length, 0);
    noScope.close();
  });

  test('last-heartbeat is null before any heartbeat ran (the real gateway on a fresh start)', async () => {
    const c = await connectClient(gw);
    assert.equal(await c.call('last-heartbeat', {}), null);
    const bad = await c.request('last-heartbeat', { x: 1 });
    assert.equal(bad.ok, false);
    assert.equal(bad.error.code, 'INVALID_REQUEST');
    c.close();
  });
});
