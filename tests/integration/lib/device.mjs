// Device identities for tests: an Ed25519 key pair and the signed `device` block of
// connect params, built as OpenClaw's clients build it (../shared/REFERENCE.md "Device
// identity"): publicKey is base64url of the raw 32-byte key, id its hex SHA-256, and the
// signature covers
//   v3|deviceId|clientId|clientMode|role|scopes|signedAtMs|token|nonce|platform|deviceFamily
// (v2: without the last two fields; platform and deviceFamily trimmed, A-Z lowered).
// Only node:crypto. `node device.mjs` runs a self-check.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';

/** A fresh identity: {privateKey (KeyObject), publicKey (base64url raw), deviceId}. */
export function newIdentity() {
  return identityFromKey(generateKeyPairSync('ed25519').privateKey);
}

function identityFromKey(privateKey) {
  const publicKey = createPublicKey(privateKey).export({ format: 'jwk' }).x;
  const deviceId = createHash('sha256').update(Buffer.from(publicKey, 'base64url')).digest('hex');
  return { privateKey, publicKey, deviceId };
}

/** platform / deviceFamily as signed: trimmed, ASCII A-Z lowered, "" when absent. */
function normalizeMetadata(value) {
  return typeof value === 'string' ? value.trim().replace(/[A-Z]/g, (c) => c.toLowerCase()) : '';
}

/** The text a device signs. */
export function devicePayload({ deviceId, nonce, signedAt, clientId, clientMode, role = 'operator', scopes = [], token, platform, deviceFamily, version = 'v3' }) {
  const fields = [version, deviceId, clientId, clientMode, role, scopes.join(','), String(signedAt), token ?? '', nonce];
  if (version === 'v3') fields.push(normalizeMetadata(platform), normalizeMetadata(deviceFamily));
  else if (version !== 'v2') throw new Error(`unknown device payload version ${version}`);
  return fields.join('|');
}

/** The `device` block {id, publicKey, signature, signedAt, nonce} for connect params. */
export function signDevice(identity, { nonce, signedAt = Date.now(), clientId, clientMode, role, scopes, token, platform, deviceFamily, version = 'v3' }) {
  const payload = devicePayload({ deviceId: identity.deviceId, nonce, signedAt, clientId, clientMode, role, scopes, token, platform, deviceFamily, version });
  const signature = sign(null, Buffer.from(payload, 'utf8'), identity.privateKey).toString('base64url');
  return { id: identity.deviceId, publicKey: identity.publicKey, signature, signedAt, nonce };
}

/**
 * The `device` block for these connect params, signing what the gateway will check:
 * client id/mode/platform/deviceFamily, role (default operator), scopes as sent, and the
 * token auth.token ?? auth.deviceToken ?? auth.bootstrapToken.
 */
export function deviceForParams(identity, params, { nonce, signedAt, version } = {}) {
  const auth = params.auth ?? {};
  return signDevice(identity, {
    nonce, signedAt, version,
    clientId: params.client?.id,
    clientMode: params.client?.mode,
    role: params.role ?? 'operator',
    scopes: Array.isArray(params.scopes) ? params.scopes : [],
    token: auth.token ?? auth.deviceToken ?? auth.bootstrapToken,
    platform: params.client?.platform,
    deviceFamily: params.client?.deviceFamily,
  });
}

function selfCheck() {
  const assert = (ok, what) => { if (!ok) throw new Error(`device.mjs self-check: ${what}`); };
  // The vector tests/unit/test_device_sig.c checks the C verifier against: the key with
  // seed bytes 0x01..0x20, signed here.
  const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const fixed = identityFromKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  const fields = {
    nonce: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', signedAt: 1760000000000, clientId: 'cli',
    clientMode: 'cli', role: 'operator', scopes: ['operator.read', 'operator.write'],
    token: 'tok-123', platform: '  Linux ', deviceFamily: 'MacBookPro',
  };
  const v3 = signDevice(fixed, fields);
  const v2 = signDevice(fixed, { ...fields, version: 'v2' });
  assert(fixed.publicKey === 'ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ', 'fixed public key');
  assert(fixed.deviceId === '65b60673d6ed884bf01c2c222d82ada0740f29ac3355d6a925c81f17f47a27b8', 'fixed id');
  assert(v3.signature === 'dtt1ZDgu49sSt7Bxx4n576NRVjyCBwZk36VZ68eW8OhTmoy0xl_6nMqy8oG4VQVZKh9pkcJbtVi-KzvXumWPDQ', 'fixed v3 signature');
  assert(v2.signature === 'ejO8RnAQRWg2VgHogoFM5783NvsTCBNwW9z2q0h77fFx9D0oebthBFfnBdIPkAGSZEq1aGPMdhRA4O8S5vkjDA', 'fixed v2 signature');
  for (const [device, version] of [[v3, 'v3'], [v2, 'v2']]) {
    const payload = devicePayload({ ...fields, deviceId: fixed.deviceId, version });
    assert(verify(null, Buffer.from(payload), createPublicKey(fixed.privateKey), Buffer.from(device.signature, 'base64url')), `${version} verifies`);
  }
  assert(devicePayload({ ...fields, deviceId: 'd' }).endsWith('|tok-123|6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b|linux|macbookpro'), 'v3 normalizes metadata');
  const fresh = newIdentity();
  assert(Buffer.from(fresh.publicKey, 'base64url').length === 32 && /^[0-9a-f]{64}$/.test(fresh.deviceId), 'fresh identity shape');
  return { fixed: { publicKey: fixed.publicKey, deviceId: fixed.deviceId, v3: v3.signature, v2: v2.signature }, fields };
}

if (import.meta.main) console.log(JSON.stringify(selfCheck(), null, 2));
