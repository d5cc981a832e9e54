// Device identity for the Control UI: an Ed25519 key pair made by WebCrypto, kept in
// IndexedDB (the private key as a non-extractable CryptoKey, so page scripts can sign
// with it but never read it), and the device token the gateway issues once the device is
// paired, kept in localStorage per gateway URL.
//
// The gateway checks a signature over
//   v3|deviceId|clientId|clientMode|role|scopes|signedAtMs|token|nonce|platform|deviceFamily
// where deviceId is the hex SHA-256 of the raw public key and the key and signature travel
// as base64url (src/auth/device_sig.c). WebCrypto exists only in a secure context
// (https, or http on a loopback host); elsewhere the UI connects with the token alone.

const DB_NAME = 'clawgate';
const STORE = 'identity';
const KEY = 'device';

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function hex(bytes) {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function idb(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
  });
}

export function deviceIdentitySupported() {
  return Boolean(globalThis.isSecureContext && crypto?.subtle && globalThis.indexedDB);
}

/** The stored identity {deviceId, publicKey (base64url raw), privateKey (CryptoKey)},
 * made and stored on first use. Resolves null when this browser cannot make one. */
export async function loadIdentity() {
  if (!deviceIdentitySupported()) return null;
  try {
    const db = await openDb();
    let stored = await idb(db, 'readonly', (s) => s.get(KEY));
    if (!stored) {
      const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
      const raw = await crypto.subtle.exportKey('raw', pair.publicKey);
      const digest = await crypto.subtle.digest('SHA-256', raw);
      stored = { deviceId: hex(digest), publicKey: b64url(raw), privateKey: pair.privateKey };
      await idb(db, 'readwrite', (s) => s.put(stored, KEY));
    }
    db.close();
    return stored;
  } catch (err) {
    console.warn('device identity unavailable:', err);
    return null;
  }
}

function normalizeMetadata(value) {
  return (value ?? '').trim().replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** The connect params' `device` block for these params and the challenge nonce. */
export async function signConnect(identity, params, nonce) {
  const auth = params.auth ?? {};
  const signedAt = Date.now();
  const payload = [
    'v3', identity.deviceId, params.client.id, params.client.mode, params.role ?? 'operator',
    (params.scopes ?? []).join(','), String(signedAt),
    auth.token ?? auth.deviceToken ?? auth.bootstrapToken ?? '', nonce,
    normalizeMetadata(params.client.platform), normalizeMetadata(params.client.deviceFamily),
  ].join('|');
  const sig = await crypto.subtle.sign('Ed25519', identity.privateKey, new TextEncoder().encode(payload));
  return { id: identity.deviceId, publicKey: identity.publicKey, signature: b64url(sig), signedAt, nonce };
}

const tokenKey = (url) => `clawgate.deviceToken:${url}`;
export const loadDeviceToken = (url) => localStorage.getItem(tokenKey(url));
export const saveDeviceToken = (url, token) => localStorage.setItem(tokenKey(url), token);
export const forgetDeviceToken = (url) => localStorage.removeItem(tokenKey(url));
