// Interop (issue 7): the real `openclaw devices` commands manage clawgate's device
// pairing: list a pending device, approve it, rotate and revoke its token, remove it.
// The device itself is a test client signing with a fresh Ed25519 identity; it sends an
// Origin header so it is not "local" and needs an operator's approval.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { GatewayClient } from './lib/client.mjs';
import { startGateway } from './lib/gateway.mjs';
import { newIdentity, deviceForParams } from './lib/device.mjs';
import { OPENCLAW_BIN } from './lib/peer.mjs';
import { openclaw } from './lib/openclaw.mjs';

async function deviceConnect(gw, identity, auth) {
  const c = await GatewayClient.open(gw.url, { origin: `http://127.0.0.1:${gw.port}` });
  const params = {
    minProtocol: 4, maxProtocol: 4, role: 'operator', scopes: ['operator.read'],
    client: { id: 'cli', version: '1.0.0', platform: 'linux', deviceFamily: 'Linux', mode: 'cli' },
    auth: auth ?? { token: gw.token },
  };
  params.device = deviceForParams(identity, params, { nonce: c.challenge.nonce, signedAt: c.challenge.ts });
  return { c, res: await c.connect(params, { replace: true }) };
}

function cli(gw, args) {
  return openclaw(['devices', ...args, '--url', gw.url, '--token', gw.token, '--json']);
}

function ok(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.ok(r.json, `${what}: stdout is JSON:\n${r.stdout}`);
  return r.json;
}

describe('openclaw devices against clawgate', { skip: !fs.existsSync(OPENCLAW_BIN) && 'reference peer not installed' }, () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { await gw.stop(); });

  test('list, approve, rotate, revoke, remove', async () => {
    const id = newIdentity();
    const first = await deviceConnect(gw, id);
    assert.equal(first.res.ok, false);
    assert.equal(first.res.error.details.code, 'PAIRING_REQUIRED');
    const requestId = first.res.error.details.requestId;

    const listed = ok(await cli(gw, ['list']), 'devices list');
    const pending = listed.pending.find((p) => p.requestId === requestId);
    assert.ok(pending, `pending request listed:\n${JSON.stringify(listed)}`);
    assert.equal(pending.deviceId, id.deviceId);

    ok(await cli(gw, ['approve', requestId]), 'devices approve');
    const second = await deviceConnect(gw, id);
    assert.equal(second.res.ok, true, JSON.stringify(second.res.error));
    const token = second.res.payload.auth.deviceToken;
    const paired = ok(await cli(gw, ['list']), 'devices list').paired.find((d) => d.deviceId === id.deviceId);
    assert.ok(paired, 'paired device listed');
    assert.equal(paired.connected, true);

    const rotated = ok(await cli(gw, ['rotate', '--device', id.deviceId, '--role', 'operator']), 'devices rotate');
    assert.equal(rotated.deviceId, id.deviceId);
    assert.equal(rotated.tokenDelivery, 'withheld-cross-device');
    const stale = await deviceConnect(gw, id, { deviceToken: token });
    assert.equal(stale.res.error.details.code, 'AUTH_DEVICE_TOKEN_MISMATCH');

    const third = await deviceConnect(gw, id);
    assert.equal(third.res.ok, true);
    ok(await cli(gw, ['revoke', '--device', id.deviceId, '--role', 'operator']), 'devices revoke');
    assert.equal((await third.c.waitClose()).code, 4001);
    const revoked = await deviceConnect(gw, id, { deviceToken: third.res.payload.auth.deviceToken });
    assert.equal(revoked.res.error.details.code, 'AUTH_DEVICE_TOKEN_MISMATCH');

    ok(await cli(gw, ['remove', id.deviceId]), 'devices remove');
    assert.ok(!ok(await cli(gw, ['list']), 'devices list').paired.some((d) => d.deviceId === id.deviceId));
  });
});
