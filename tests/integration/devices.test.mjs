// Device identity and device pairing (issue 7): Ed25519 proofs and their refusals, the
// credential order, device tokens in hello-ok, local auto-approval, pending requests and
// operator approval, token rotation and revocation, removal, persistence across a
// restart. Every frame is validated against the schema by the client harness.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayClient, connectClient } from './lib/client.mjs';
import { startGateway, eventually } from './lib/gateway.mjs';
import { newIdentity, deviceForParams } from './lib/device.mjs';
import { assertShape, fixture } from './lib/shape.mjs';

// The real gateway's answers (tests/fixtures/real-gateway/pairing-*.json).
const NONLOCAL = fixture('pairing-device-nonlocal.json');
const TOKENS = fixture('pairing-tokens.json');
const payloadOf = (step) => step.response.payload;
// Keys a paired device or pending entry has only sometimes.
const DEVICE_OPTIONAL = ['deviceFamily', 'displayName', 'operatorLabel', 'lastSeenAtMs', 'lastSeenReason', 'rotatedAtMs', 'lastUsedAtMs', 'revokedAtMs', 'remoteIp'];

const CLI = { id: 'cli', version: '1.0.0', platform: 'linux', deviceFamily: 'Linux', mode: 'cli' };

/** Opens a connection and sends a connect signed by `identity`. */
async function deviceConnect(gw, identity, { role = 'operator', scopes = ['operator.read'], auth, origin, client = CLI, mutate, signedAt, version } = {}) {
  const c = await GatewayClient.open(gw.url, { origin });
  const params = { minProtocol: 4, maxProtocol: 4, client, role, scopes, auth: auth ?? { token: gw.token } };
  if (identity) params.device = deviceForParams(identity, params, { nonce: c.challenge.nonce, signedAt: signedAt ?? c.challenge.ts, version });
  if (mutate) mutate(params);
  const res = await c.connect(params, { replace: true });
  return { c, res };
}

async function expectRefused(gw, identity, opts, code, detailsCode) {
  const { c, res } = await deviceConnect(gw, identity, opts);
  assert.equal(res.ok, false, `accepted: ${JSON.stringify(res.payload?.auth)}`);
  assert.equal(res.error.code, code);
  assert.equal(res.error.details?.code, detailsCode, JSON.stringify(res.error));
  const closed = await c.waitClose();
  assert.equal(closed.code, 1008);
  return res.error;
}

/** An origin that is allowed (loopback) but makes a cli client not local for pairing. */
const remoteLike = (gw) => ({ origin: `http://127.0.0.1:${gw.port}` });

describe('device identity', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { await gw.stop(); });

  test('each broken proof gets the real gateway refusal and close 1008', async () => {
    const id = newIdentity();
    const other = newIdentity();
    let e = await expectRefused(gw, id, { mutate: (p) => { p.device.nonce = 'not-the-challenge'; } }, 'INVALID_REQUEST', 'DEVICE_AUTH_NONCE_MISMATCH');
    assert.equal(e.details.reason, 'device-nonce-mismatch');
    e = await expectRefused(gw, id, { mutate: (p) => { p.device.nonce = '  '; } }, 'INVALID_REQUEST', 'DEVICE_AUTH_NONCE_REQUIRED');
    assert.equal(e.details.reason, 'device-nonce-missing');
    e = await expectRefused(gw, id, { mutate: (p) => { p.scopes = ['operator.admin']; } }, 'INVALID_REQUEST', 'DEVICE_AUTH_SIGNATURE_INVALID');
    assert.equal(e.details.reason, 'device-signature');
    e = await expectRefused(gw, id, { mutate: (p) => { p.device.publicKey = other.publicKey; } }, 'INVALID_REQUEST', 'DEVICE_AUTH_DEVICE_ID_MISMATCH');
    assert.equal(e.details.reason, 'device-id-mismatch');
    e = await expectRefused(gw, id, { mutate: (p) => { p.device.publicKey = 'not-a-key!'; } }, 'INVALID_REQUEST', 'DEVICE_AUTH_DEVICE_ID_MISMATCH');
    e = await expectRefused(gw, id, { signedAt: Date.now() - 180000 }, 'INVALID_REQUEST', 'DEVICE_AUTH_SIGNATURE_EXPIRED');
    assert.equal(e.details.reason, 'device-signature-stale');
  });

  test('a v2 payload is still accepted', async () => {
    const { c, res } = await deviceConnect(gw, newIdentity(), { version: 'v2' });
    assert.equal(res.ok, true, JSON.stringify(res.error));
    c.close();
  });

  test('a node without a device block is refused: NOT_PAIRED, DEVICE_IDENTITY_REQUIRED', async () => {
    const e = await expectRefused(gw, null, { role: 'node', scopes: [], client: { id: 'node-host', version: '1', platform: 'linux', mode: 'node' } }, 'NOT_PAIRED', 'DEVICE_IDENTITY_REQUIRED');
    assert.equal(e.message, 'device identity required');
  });
});

describe('device tokens and local auto-approval', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { await gw.stop(); });

  test('a loopback device is approved on first sight and keeps one token', async () => {
    const id = newIdentity();
    const first = await deviceConnect(gw, id, { scopes: ['operator.read', 'operator.write'] });
    assert.equal(first.res.ok, true, JSON.stringify(first.res.error));
    const auth = first.res.payload.auth;
    assert.equal(typeof auth.deviceToken, 'string');
    assert.match(auth.deviceToken, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(auth.role, 'operator');
    assert.deepEqual(auth.scopes, ['operator.read', 'operator.write']);
    assert.equal(typeof auth.issuedAtMs, 'number');
    const second = await deviceConnect(gw, id, { scopes: ['operator.read', 'operator.write'] });
    assert.equal(second.res.payload.auth.deviceToken, auth.deviceToken, 'the same token on every connect');
    // Two tabs with one identity: both stay usable.
    assert.ok((await first.c.request('health', {})).ok);
    assert.ok((await second.c.request('health', {})).ok);
    first.c.close();
    second.c.close();

    // The device token alone authenticates; asking for less grants exactly that.
    const byToken = await deviceConnect(gw, id, { auth: { deviceToken: auth.deviceToken }, scopes: ['operator.read'] });
    assert.equal(byToken.res.ok, true, JSON.stringify(byToken.res.error));
    assert.deepEqual(byToken.res.payload.auth.scopes, ['operator.read']);
    byToken.c.close();
    // auth.token that is not the shared token is tried as the device's token.
    const asToken = await deviceConnect(gw, id, { auth: { token: auth.deviceToken } });
    assert.equal(asToken.res.ok, true, JSON.stringify(asToken.res.error));
    asToken.c.close();

    let e = await expectRefused(gw, id, { auth: { deviceToken: auth.deviceToken }, scopes: ['operator.admin'] }, 'INVALID_REQUEST', 'AUTH_SCOPE_MISMATCH');
    assert.equal(e.message, 'unauthorized: device token scope mismatch (re-pair or approve scope upgrade)');
    e = await expectRefused(gw, id, { auth: { deviceToken: 'x'.repeat(43) } }, 'INVALID_REQUEST', 'AUTH_DEVICE_TOKEN_MISMATCH');
    assert.equal(e.message, 'unauthorized: device token mismatch (rotate/reissue device token)');
    assert.deepEqual(e.details, { code: 'AUTH_DEVICE_TOKEN_MISMATCH', authReason: 'device_token_mismatch', canRetryWithDeviceToken: false, recommendedNextStep: 'update_auth_credentials' });
    // A wrong auth.token is a wrong shared token; the device may retry with its token.
    e = await expectRefused(gw, id, { auth: { token: 'wrong' } }, 'INVALID_REQUEST', 'AUTH_TOKEN_MISMATCH');
    assert.equal(e.message, "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)");
    assert.deepEqual(e.details, { code: 'AUTH_TOKEN_MISMATCH', authReason: 'token_mismatch', canRetryWithDeviceToken: true, recommendedNextStep: 'retry_with_device_token' });
  });

  test('auto-approval announces device.pair.resolved, never device.pair.requested', async () => {
    const admin = await connectClient(gw, { params: { scopes: ['operator.pairing'] } });
    const from = admin.events.length;
    const id = newIdentity();
    const { c } = await deviceConnect(gw, id);
    const ev = await admin.waitEvent('device.pair.resolved', { from });
    assert.equal(ev.payload.deviceId, id.deviceId);
    assert.equal(ev.payload.decision, 'approved');
    assert.ok(!admin.events.slice(from).some((f) => f.event === 'device.pair.requested'));
    const listed = (await admin.call('device.pair.list', {})).paired.find((d) => d.deviceId === id.deviceId);
    assert.equal(listed.approvedVia, 'silent');
    c.close();
    admin.close();
  });

  test('a loopback scope upgrade is approved too, with a new token; the old one is refused', async () => {
    const id = newIdentity();
    const a = await deviceConnect(gw, id, { scopes: ['operator.read'] });
    const oldToken = a.res.payload.auth.deviceToken;
    a.c.close();
    const b = await deviceConnect(gw, id, { scopes: ['operator.read', 'operator.admin'] });
    assert.equal(b.res.ok, true, JSON.stringify(b.res.error));
    assert.notEqual(b.res.payload.auth.deviceToken, oldToken);
    b.c.close();
    await expectRefused(gw, id, { auth: { deviceToken: oldToken } }, 'INVALID_REQUEST', 'AUTH_DEVICE_TOKEN_MISMATCH');
  });

  test('autoApproveLocal false (config.patch) applies at once: a loopback device waits for approval', async () => {
    const admin = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    const cfg = await admin.call('config.get', {});
    await admin.call('config.patch', { raw: JSON.stringify({ gateway: { nodes: { pairing: { autoApproveLocal: false } } } }), baseHash: cfg.hash });
    const e = await expectRefused(gw, newIdentity(), {}, 'NOT_PAIRED', 'PAIRING_REQUIRED');
    assert.equal(e.details.reason, 'not-paired');
    const cfg2 = await admin.call('config.get', {});
    await admin.call('config.patch', { raw: JSON.stringify({ gateway: { nodes: { pairing: { autoApproveLocal: true } } } }), baseHash: cfg2.hash });
    const ok = await deviceConnect(gw, newIdentity());
    assert.equal(ok.res.ok, true);
    ok.c.close();
    admin.close();
  });
});

describe('device pairing by an operator', () => {
  let gw, admin;
  before(async () => {
    gw = await startGateway();
    admin = await connectClient(gw, { params: { scopes: ['operator.admin', 'operator.pairing'] } });
  });
  after(async () => { admin.close(); await gw.stop(); });

  test('a device that is not local gets a pending request, announced; approval lets it in', async () => {
    const id = newIdentity();
    const from = admin.events.length;
    const e = await expectRefused(gw, id, { ...remoteLike(gw), scopes: ['operator.read'] }, 'NOT_PAIRED', 'PAIRING_REQUIRED');
    assert.equal(e.message, 'pairing required: device is not approved yet');
    assert.equal(e.details.reason, 'not-paired');
    assert.equal(e.details.deviceId, id.deviceId);
    assert.equal(e.details.requestedRole, 'operator');
    assert.deepEqual(e.details.requestedScopes, ['operator.read']);
    assert.equal(typeof e.details.remediationHint, 'string');
    assertShape(e, NONLOCAL.notPaired.connect.response.error, 'PAIRING_REQUIRED refusal');
    const requestId = e.details.requestId;
    const ev = await admin.waitEvent('device.pair.requested', { from });
    assertShape(ev.payload, NONLOCAL.notPaired.eventsAtAdmin[0].payload, 'device.pair.requested', { optional: DEVICE_OPTIONAL });
    assert.equal(ev.payload.requestId, requestId);
    assert.equal(ev.payload.deviceId, id.deviceId);
    assert.equal(ev.payload.publicKey, id.publicKey);

    // A second refused attempt reuses the open request.
    const again = await expectRefused(gw, id, { ...remoteLike(gw), scopes: ['operator.read'] }, 'NOT_PAIRED', 'PAIRING_REQUIRED');
    assert.equal(again.details.requestId, requestId);

    const list = await admin.call('device.pair.list', {});
    const pending = list.pending.find((p) => p.requestId === requestId);
    assert.ok(pending, 'listed as pending');
    assertShape(pending, payloadOf(NONLOCAL.listAtEnd).pending[0], 'pending entry', { optional: DEVICE_OPTIONAL });

    const resolvedFrom = admin.events.length;
    const approved = await admin.call('device.pair.approve', { requestId });
    assert.equal(approved.requestId, requestId);
    assert.equal(approved.device.deviceId, id.deviceId);
    assert.equal(approved.device.approvedVia, 'owner');
    assert.ok(!JSON.stringify(approved).includes('"token":'), 'never the token itself');
    assertShape(approved, payloadOf(NONLOCAL.approve), 'device.pair.approve', { optional: DEVICE_OPTIONAL });
    const resolved = await admin.waitEvent('device.pair.resolved', { from: resolvedFrom });
    assertShape(resolved.payload, NONLOCAL.approve.eventsAtAdmin[0].payload, 'device.pair.resolved');
    assert.deepEqual({ ...resolved.payload, ts: 0 }, { requestId, deviceId: id.deviceId, decision: 'approved', ts: 0 });

    const again2 = await admin.request('device.pair.approve', { requestId });
    assert.equal(again2.ok, false);
    assert.equal(again2.error.message, 'unknown requestId');

    const { c, res } = await deviceConnect(gw, id, { ...remoteLike(gw), scopes: ['operator.read'] });
    assert.equal(res.ok, true, JSON.stringify(res.error));
    assert.equal(typeof res.payload.auth.deviceToken, 'string');
    const listed = (await admin.call('device.pair.list', {})).paired.find((d) => d.deviceId === id.deviceId);
    assert.equal(listed.connected, true);
    assert.deepEqual(listed.tokens.map((t) => t.role), ['operator']);
    assertShape(listed, payloadOf(NONLOCAL.listAtEnd).paired[1], 'paired entry', { optional: DEVICE_OPTIONAL });
    c.close();

    // Asking for more than approved: a scope upgrade request with the approved set.
    const up = await expectRefused(gw, id, { ...remoteLike(gw), scopes: ['operator.read', 'operator.admin'] }, 'NOT_PAIRED', 'PAIRING_REQUIRED');
    assert.equal(up.details.reason, 'scope-upgrade');
    assert.deepEqual(up.details.approvedScopes, ['operator.read']);
    assert.deepEqual(up.details.approvedRoles, ['operator']);
    assertShape(up, NONLOCAL.scopeUpgrade.connect.response.error, 'scope-upgrade refusal');
    const role = await expectRefused(gw, id, { ...remoteLike(gw), role: 'node', scopes: [], client: { id: 'node-host', version: '1', platform: 'linux', mode: 'node' } }, 'NOT_PAIRED', 'PAIRING_REQUIRED');
    assert.equal(role.details.reason, 'role-upgrade');
  });

  test('reject drops the request; unknown ids are refused', async () => {
    const id = newIdentity();
    const e = await expectRefused(gw, id, remoteLike(gw), 'NOT_PAIRED', 'PAIRING_REQUIRED');
    const from = admin.events.length;
    const rejected = await admin.call('device.pair.reject', { requestId: e.details.requestId });
    assert.deepEqual(rejected, { requestId: e.details.requestId, deviceId: id.deviceId });
    const ev = await admin.waitEvent('device.pair.resolved', { from });
    assert.equal(ev.payload.decision, 'rejected');
    for (const m of ['device.pair.approve', 'device.pair.reject']) {
      const res = await admin.request(m, { requestId: e.details.requestId });
      assert.equal(res.error.message, 'unknown requestId');
    }
    const bad = await admin.request('device.pair.approve', {});
    assert.equal(bad.error.code, 'INVALID_REQUEST');
  });

  test('the approver must hold every scope it grants', async () => {
    const id = newIdentity();
    const e = await expectRefused(gw, id, { ...remoteLike(gw), scopes: ['operator.admin'] }, 'NOT_PAIRED', 'PAIRING_REQUIRED');
    const pairer = await connectClient(gw, { params: { scopes: ['operator.pairing'] } });
    const res = await pairer.request('device.pair.approve', { requestId: e.details.requestId });
    assert.equal(res.ok, false);
    assert.equal(res.error.message, 'missing scope: operator.admin');
    assert.ok((await admin.call('device.pair.list', {})).pending.some((p) => p.requestId === e.details.requestId), 'still pending');
    const nodeReq = await expectRefused(gw, newIdentity(), { ...remoteLike(gw), role: 'node', scopes: [], client: { id: 'node-host', version: '1', platform: 'linux', mode: 'node' } }, 'NOT_PAIRED', 'PAIRING_REQUIRED');
    const nodeRes = await pairer.request('device.pair.approve', { requestId: nodeReq.details.requestId });
    assert.equal(nodeRes.error.message, 'device pairing approval denied');
    pairer.close();
    await admin.call('device.pair.approve', { requestId: e.details.requestId });
  });

  test('rotate another device\'s token: withheld; the old token is refused, the device gets the new one on its next connect', async () => {
    const id = newIdentity();
    const a = await deviceConnect(gw, id, { scopes: ['operator.read'] });
    const oldToken = a.res.payload.auth.deviceToken;
    const rotated = await admin.call('device.token.rotate', { deviceId: id.deviceId, role: 'operator' });
    assert.deepEqual(await a.c.waitClose(), { code: 4001, reason: 'device removed' }, 'its connections in that role end');
    assert.equal(rotated.tokenDelivery, 'withheld-cross-device');
    assert.equal(rotated.token, undefined);
    assert.deepEqual(rotated.scopes, ['operator.read']);
    assertShape(rotated, payloadOf(TOKENS.rotateOtherByAdmin), 'device.token.rotate (cross-device)');
    await expectRefused(gw, id, { auth: { deviceToken: oldToken } }, 'INVALID_REQUEST', 'AUTH_DEVICE_TOKEN_MISMATCH');
    const b = await deviceConnect(gw, id, { scopes: ['operator.read'] });
    assert.notEqual(b.res.payload.auth.deviceToken, oldToken);
    b.c.close();

    // The device itself rotating through its token gets it in band.
    const own = await deviceConnect(gw, id, { auth: { deviceToken: b.res.payload.auth.deviceToken }, scopes: ['operator.read'] });
    const r2 = await own.c.request('device.token.rotate', { deviceId: id.deviceId, role: 'operator' });
    // operator.pairing is needed to call it at all.
    assert.equal(r2.error.code, 'FORBIDDEN');
    own.c.close();
    const nodeRole = await admin.request('device.token.rotate', { deviceId: id.deviceId, role: 'node' });
    assert.equal(nodeRole.error.message, 'device token rotation denied');
    const unknown = await admin.request('device.token.revoke', { deviceId: 'f'.repeat(64), role: 'operator' });
    assert.equal(unknown.error.message, 'device token revocation denied');
  });

  test('revoke closes the device\'s connections and refuses the token at once', async () => {
    const id = newIdentity();
    const a = await deviceConnect(gw, id, { scopes: ['operator.read'] });
    const token = a.res.payload.auth.deviceToken;
    const revoked = await admin.call('device.token.revoke', { deviceId: id.deviceId, role: 'operator' });
    assert.equal(revoked.deviceId, id.deviceId);
    assert.equal(revoked.role, 'operator');
    assertShape(revoked, payloadOf(TOKENS.revoke), 'device.token.revoke');
    assert.deepEqual(await a.c.waitClose(), { code: 4001, reason: 'device removed' });
    await expectRefused(gw, id, { auth: { deviceToken: token } }, 'INVALID_REQUEST', 'AUTH_DEVICE_TOKEN_MISMATCH');
    // Revoking twice succeeds, as the real gateway.
    assert.equal((await admin.call('device.token.revoke', { deviceId: id.deviceId, role: 'operator' })).deviceId, id.deviceId);
  });

  test('remove forgets the device and closes its connections 4001 "device removed"', async () => {
    const id = newIdentity();
    const a = await deviceConnect(gw, id);
    const token = a.res.payload.auth.deviceToken;
    const from = admin.events.length;
    const renamed = await admin.call('device.pair.rename', { deviceId: id.deviceId, label: '  Laptop  ' });
    assert.deepEqual(renamed, { deviceId: id.deviceId, label: 'Laptop' });
    assert.deepEqual((await admin.waitEvent('device.pair.changed', { from })).payload, {});
    const entry = (await admin.call('device.pair.list', {})).paired.find((d) => d.deviceId === id.deviceId);
    assert.equal(entry.operatorLabel, 'Laptop');
    const removed = await admin.call('device.pair.remove', { deviceId: id.deviceId });
    assert.deepEqual(removed, { deviceId: id.deviceId });
    const closed = await a.c.waitClose();
    assert.deepEqual(closed, { code: 4001, reason: 'device removed' });
    assert.ok(!(await admin.call('device.pair.list', {})).paired.some((d) => d.deviceId === id.deviceId));
    await expectRefused(gw, id, { auth: { deviceToken: token } }, 'INVALID_REQUEST', 'AUTH_DEVICE_TOKEN_MISMATCH');
    const again = await admin.request('device.pair.remove', { deviceId: id.deviceId });
    assert.equal(again.error.message, 'unknown deviceId');
  });

  test('removing a node\'s device forgets the node too', async () => {
    const id = newIdentity();
    const node = await deviceConnect(gw, id, { role: 'node', scopes: [], client: { id: 'node-host', version: '1', platform: 'linux', mode: 'node' } });
    assert.equal(node.res.ok, true, JSON.stringify(node.res.error));
    const listed = await eventually(async () => (await admin.call('node.pair.list', {})).pending.find((p) => p.nodeId === id.deviceId), 3000, 'the node surface pending');
    assert.ok(listed);
    await admin.call('device.pair.remove', { deviceId: id.deviceId });
    assert.equal((await node.c.waitClose()).code, 4001);
    const after = await admin.call('node.pair.list', {});
    assert.ok(![...after.pending, ...after.paired].some((n) => n.nodeId === id.deviceId), JSON.stringify(after));
    assert.ok(!(await admin.call('node.list', {})).nodes.some((n) => n.nodeId === id.deviceId));
  });
});

describe('local, and the failed-auth limit', () => {
  let gw;
  before(async () => { gw = await startGateway({ config: { gateway: { auth: { rateLimit: { maxAttempts: 3, windowMs: 60000, lockoutMs: 60000 } } } } }); });
  after(async () => { await gw.stop(); });

  test('the Control UI from an allowed origin is local (approved on sight); another client with an Origin is not', async () => {
    const ui = { id: 'openclaw-control-ui', version: '1', platform: 'linux', mode: 'webchat' };
    const a = await deviceConnect(gw, newIdentity(), { ...remoteLike(gw), client: ui });
    assert.equal(a.res.ok, true, JSON.stringify(a.res.error));
    assert.equal(typeof a.res.payload.auth.deviceToken, 'string');
    a.c.close();
    await expectRefused(gw, newIdentity(), remoteLike(gw), 'NOT_PAIRED', 'PAIRING_REQUIRED');
  });

  test('a wrong device token counts once toward the limit; a bad signature counts too', async () => {
    const id = newIdentity();
    const first = await deviceConnect(gw, id);
    const token = first.res.payload.auth.deviceToken;
    first.c.close();
    // Browser-like connects (an Origin) are limited even from loopback.
    await expectRefused(gw, id, { ...remoteLike(gw), auth: { deviceToken: 'y'.repeat(43) } }, 'INVALID_REQUEST', 'AUTH_DEVICE_TOKEN_MISMATCH');
    await expectRefused(gw, id, { ...remoteLike(gw), auth: { deviceToken: 'y'.repeat(43) } }, 'INVALID_REQUEST', 'AUTH_DEVICE_TOKEN_MISMATCH');
    // Two failures so far: the right token still gets in (and resets the count).
    const ok = await deviceConnect(gw, id, { ...remoteLike(gw), auth: { deviceToken: token } });
    assert.equal(ok.res.ok, true, JSON.stringify(ok.res.error));
    ok.c.close();
    for (let i = 0; i < 3; i++) {
      await expectRefused(gw, id, { ...remoteLike(gw), auth: { deviceToken: token }, mutate: (p) => { p.device.nonce = 'wrong'; } }, 'INVALID_REQUEST', 'DEVICE_AUTH_NONCE_MISMATCH');
    }
    const locked = await expectRefused(gw, id, { ...remoteLike(gw), auth: { deviceToken: token } }, 'INVALID_REQUEST', 'AUTH_RATE_LIMITED');
    assert.equal(locked.retryable, true);
  });
});

describe('persistence', () => {
  test('approvals and tokens survive a restart (state.db, mode 0600)', async () => {
    const fs = await import('node:fs');
    const gw = await startGateway();
    const id = newIdentity();
    const a = await deviceConnect(gw, id, { scopes: ['operator.read'] });
    const token = a.res.payload.auth.deviceToken;
    a.c.close();
    const db = `${gw.stateDir}/state.db`;
    assert.equal(fs.statSync(db).mode & 0o777, 0o600);
    await gw.stop('SIGTERM', { keepStateDir: true });
    const gw2 = await startGateway({ stateDir: gw.stateDir, token: gw.token });
    try {
      const b = await deviceConnect(gw2, id, { auth: { deviceToken: token }, scopes: ['operator.read'] });
      assert.equal(b.res.ok, true, JSON.stringify(b.res.error));
      assert.equal(b.res.payload.auth.deviceToken, token);
      b.c.close();
    } finally {
      await gw2.stop();
    }
  });
});
