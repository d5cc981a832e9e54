// Authorization: roles, scopes, unknown methods, the order of the checks
// (issue 2 "Authorization", CONTRACT.md "Frames and errors").
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startGateway } from './lib/gateway.mjs';
import { GatewayClient, connectClient, ALL_OPERATOR_SCOPES } from './lib/client.mjs';

function assertMissingScope(res, scope) {
  assert.equal(res.ok, false, `expected FORBIDDEN missing ${scope}`);
  assert.equal(res.error.code, 'FORBIDDEN', JSON.stringify(res.error));
  assert.equal(res.error.message, `missing scope: ${scope}`);
  assert.equal(res.error.details?.code, 'MISSING_SCOPE');
  assert.equal(res.error.details?.missingScope, scope);
  assert.ok(Array.isArray(res.error.details?.requiredScopes) && res.error.details.requiredScopes.includes(scope),
    `requiredScopes ${JSON.stringify(res.error.details?.requiredScopes)}`);
}

function assertInvalid(res, message) {
  assert.equal(res.ok, false, `expected INVALID_REQUEST "${message}"`);
  assert.equal(res.error.code, 'INVALID_REQUEST', JSON.stringify(res.error));
  assert.equal(res.error.message, message);
}

const SET_PARAMS = { raw: '{}' };

describe('authorization', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { await gw.stop(); });

  const as = (scopes, extra = {}) => connectClient(gw, { params: { scopes, ...extra } });

  test('operator.read: health, config.get, config.schema, logs.tail yes; config.set/patch/apply no', async () => {
    const c = await as(['operator.read']);
    for (const m of ['health', 'config.get', 'config.schema', 'logs.tail']) {
      const r = await c.request(m, {});
      assert.equal(r.ok, true, `${m}: ${JSON.stringify(r.error)}`);
    }
    for (const m of ['config.set', 'config.patch', 'config.apply']) assertMissingScope(await c.request(m, SET_PARAMS), 'operator.admin');
    assert.equal(fs.existsSync(gw.configPath), false, 'refused writes wrote nothing');
    c.close();
  });

  test('operator.write satisfies READ but not ADMIN', async () => {
    const c = await as(['operator.write']);
    assert.equal((await c.request('health', {})).ok, true);
    assert.equal((await c.request('config.get', {})).ok, true);
    assertMissingScope(await c.request('config.set', SET_PARAMS), 'operator.admin');
    c.close();
  });

  test('no scopes: READ methods are refused with missing operator.read', async () => {
    const c = await as([]);
    assertMissingScope(await c.request('health', {}), 'operator.read');
    assertMissingScope(await c.request('config.get', {}), 'operator.read');
    c.close();
  });

  test('scopes that grant nothing here (approvals, pairing, talk) do not satisfy READ', async () => {
    const c = await as(['operator.approvals', 'operator.pairing', 'operator.talk']);
    assertMissingScope(await c.request('health', {}), 'operator.read');
    c.close();
  });

  test('operator.admin grants everything', async () => {
    const c = await as(['operator.admin']);
    for (const m of ['health', 'config.get', 'config.schema', 'logs.tail']) assert.equal((await c.request(m, {})).ok, true, m);
    const get = await c.call('config.get', {});
    const r = await c.request('config.set', { raw: '{"custom":{"a":1}}', ...(get.hash ? { baseHash: get.hash } : {}) });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    c.close();
  });

  test('unknown method: INVALID_REQUEST "unknown method: X" for an admin, FORBIDDEN missing operator.admin otherwise', async () => {
    const admin = await as(['operator.admin']);
    assertInvalid(await admin.request('no.such.method', {}), 'unknown method: no.such.method');
    const reader = await as(['operator.read', 'operator.write']);
    assertMissingScope(await reader.request('no.such.method', {}), 'operator.admin');
    admin.close(); reader.close();
  });

  test('unrecognized scope strings are dropped from hello-ok.auth.scopes', async () => {
    const c = await as(['operator.read', 'bogus.scope', 'operator.admin2', 'OPERATOR.READ', 'operator.write']);
    assert.deepEqual([...c.hello.auth.scopes].sort(), ['operator.read', 'operator.write']);
    assertMissingScope(await c.request('config.set', SET_PARAMS), 'operator.admin');
    c.close();
  });

  test('every recognized operator scope is granted to a shared-secret connect', async () => {
    const c = await as(ALL_OPERATOR_SCOPES);
    assert.deepEqual([...c.hello.auth.scopes].sort(), [...ALL_OPERATOR_SCOPES].sort());
    c.close();
  });

  test('the local bypass grants what it asks for too', async () => {
    const c = await GatewayClient.open(gw.url, {});
    const res = await c.connect({ auth: undefined, scopes: ['operator.read'] });
    assert.equal(res.ok, true, JSON.stringify(res.error));
    assert.deepEqual(res.payload.auth.scopes, ['operator.read']);
    assertMissingScope(await c.request('config.set', SET_PARAMS), 'operator.admin');
    c.close();
  });

  test('role node: operator methods and unknown methods -> INVALID_REQUEST "unauthorized role: node"', async (t) => {
    const c = await GatewayClient.open(gw.url, { token: gw.token });
    const res = await c.connect({ role: 'node', scopes: [], client: { id: 'node-host', version: '1.0.0', platform: 'linux', mode: 'node' } });
    if (!res.ok && /DEVICE_IDENTITY|PAIRING/.test(res.error.details?.code || '')) {
      t.skip(`a node connect needs a device identity here (${res.error.details.code}); covered by the identity issue`);
      c.terminate();
      return;
    }
    assert.equal(res.ok, true, JSON.stringify(res.error));
    assert.equal(res.payload.auth.role, 'node');
    for (const m of ['health', 'config.get', 'config.set', 'logs.tail', 'no.such.method']) {
      assertInvalid(await c.request(m, {}), 'unauthorized role: node');
    }
    c.close();
  });

  test('operator calling a node-role method -> INVALID_REQUEST "unauthorized role: operator" (role checked before scope)', async (t) => {
    const c = await as(['operator.admin']);
    const nodeMethods = ['node.event', 'node.invoke.result'].filter((m) => c.hello.features.methods.includes(m));
    if (!nodeMethods.length) {
      t.skip('no node-role method is in features.methods yet (node.event / node.invoke.result join in the nodes issue)');
      c.close();
      return;
    }
    for (const m of nodeMethods) assertInvalid(await c.request(m, {}), 'unauthorized role: operator');
    const none = await as([]);
    for (const m of nodeMethods) assertInvalid(await none.request(m, {}), 'unauthorized role: operator');
    c.close(); none.close();
  });

  test('an unknown role is refused or can call nothing', async () => {
    const c = await GatewayClient.open(gw.url, { token: gw.token });
    const res = await c.connect({ role: 'superuser', scopes: ['operator.admin'] });
    if (!res.ok) {
      assert.equal(res.error.code, 'INVALID_REQUEST');
      assert.equal((await c.waitClose()).code, 1008);
      return;
    }
    const r = await c.request('health', {});
    assert.equal(r.ok, false, 'a made-up role must not be treated as operator');
    c.close();
  });
});
