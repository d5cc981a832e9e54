// Simulated nodes: role-node clients with their own Ed25519 device identities (auto-
// approved on loopback, like the real node host's), which answer node.invoke.request
// as a handler says. For fan-out and failure tests the real node host cannot stage.
import assert from 'node:assert/strict';
import { GatewayClient } from './client.mjs';
import { newIdentity, deviceForParams } from './device.mjs';

/**
 * Connects a node. handler(request) gets the node.invoke.request payload (paramsJSON
 * parsed into .params) and returns {payload} (ok), {error: {code, message}} (a node-side
 * error), or undefined (never answers); it may be async. Every request received is kept
 * in node.requests.
 */
export async function simNode(gw, {
  identity = newIdentity(),
  caps = ['system'],
  commands = ['system.which', 'system.run'],
  client = { id: 'node-host', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'node' },
  handler = (req) => ({ payload: { echo: req.params ?? null } }),
} = {}) {
  const c = await GatewayClient.open(gw.url);
  const params = { minProtocol: 4, maxProtocol: 4, client, role: 'node', scopes: [], auth: { token: gw.token }, caps, commands };
  params.device = deviceForParams(identity, params, { nonce: c.challenge.nonce, signedAt: c.challenge.ts });
  const res = await c.connect(params, { replace: true });
  assert.equal(res.ok, true, JSON.stringify(res.error));
  const node = { client: c, nodeId: identity.deviceId, identity, requests: [], results: [] };
  c.ws.on('message', async (data) => {
    let frame;
    try { frame = JSON.parse(data.toString('utf8')); } catch { return; }
    if (frame.type !== 'event' || frame.event !== 'node.invoke.request') return;
    const req = { ...frame.payload, params: frame.payload.paramsJSON === undefined ? undefined : JSON.parse(frame.payload.paramsJSON) };
    node.requests.push(req);
    const out = await handler(req);
    if (!out || c.closeInfo) return;
    const result = out.error
      ? { id: req.id, nodeId: node.nodeId, ok: false, error: out.error }
      : { id: req.id, nodeId: node.nodeId, ok: true, payloadJSON: JSON.stringify(out.payload) };
    node.results.push(await c.request('node.invoke.result', result).catch((e) => ({ error: e.message })));
  });
  return node;
}

/** Approves nodeId's pending command surface (admin holds operator.admin). */
export async function approveNode(admin, nodeId) {
  const { pending } = await admin.call('node.pair.list', {});
  const entry = pending.find((p) => p.nodeId === nodeId);
  assert.ok(entry, `no pending surface for ${nodeId}`);
  await admin.call('node.pair.approve', { requestId: entry.requestId });
}

/** A node connected and approved. */
export async function approvedNode(gw, admin, opts) {
  const node = await simNode(gw, opts);
  await approveNode(admin, node.nodeId);
  return node;
}
