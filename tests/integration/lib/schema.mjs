// Validation of every frame clawgate sends against protocol.schema.json@2026.9.1
// (@openclaw/gateway-protocol), following CONTRACT.md "Result and event shapes".
import fs from 'node:fs';
import { peerRequire, PROTOCOL_SCHEMA_PATH } from './peer.mjs';

const Ajv = peerRequire('ajv');
const addFormats = peerRequire('ajv-formats');

export const protocolSchema = JSON.parse(fs.readFileSync(PROTOCOL_SCHEMA_PATH, 'utf8'));
const defs = protocolSchema.definitions;

const ajv = new (Ajv.default || Ajv)({ strict: false, allErrors: true, validateFormats: true });
(addFormats.default || addFormats)(ajv);

const compiled = new Map();

/** Resolves "Name" or "Name/properties/x/..." (a JSON pointer below definitions). */
function resolveDef(name) {
  const parts = name.split('/');
  let node = defs[parts[0]];
  for (const p of parts.slice(1)) {
    if (node === undefined) break;
    node = node[p];
  }
  if (node === undefined) throw new Error(`protocol.schema.json has no definition ${name}`);
  return node;
}

export function hasDefinition(name) {
  return Object.prototype.hasOwnProperty.call(defs, name);
}

export function validatorFor(name) {
  let v = compiled.get(name);
  if (!v) {
    v = ajv.compile(resolveDef(name));
    compiled.set(name, v);
  }
  return v;
}

export class SchemaViolation extends Error {
  constructor(what, def, errors, value) {
    const text = ajv.errorsText(errors, { separator: '; ', dataVar: what });
    super(`schema violation: ${what} does not validate against ${def}: ${text}\n  value: ${abbreviate(value)}`);
    this.name = 'SchemaViolation';
    this.definition = def;
    this.errors = errors;
    this.value = value;
  }
}

function abbreviate(value) {
  let s;
  try { s = JSON.stringify(value); } catch { s = String(value); }
  return s && s.length > 2000 ? s.slice(0, 2000) + '...' : s;
}

/** Throws SchemaViolation when value does not validate against definition `def`. */
export function validate(def, value, what = 'value') {
  if (def === HEALTH_DEF && value && value.ok === false) return validateFailingHealth(value, what);
  const v = validatorFor(def);
  if (!v(value)) throw new SchemaViolation(what, def, v.errors, value);
  return value;
}

export const HEALTH_DEF = 'HelloOk/properties/snapshot/properties/health';

/**
 * The one deliberate deviation (issue 6, docs/design.md): `health` reports ok:false and a
 * `failing` list [{name, message}] when a subsystem fails, where the schema has ok const
 * true and no such field. Everything else must still validate.
 */
function validateFailingHealth(value, what) {
  const { ok, failing, ...rest } = value;
  const problems = [];
  if (!Array.isArray(failing) || failing.length === 0) problems.push('ok:false needs a non-empty failing list');
  else for (const f of failing) {
    if (!f || typeof f.name !== 'string' || !f.name || typeof f.message !== 'string' || Object.keys(f).length !== 2) {
      problems.push(`failing entries are {name, message}: ${JSON.stringify(f)}`);
    }
  }
  if (problems.length) throw new SchemaViolation(what, HEALTH_DEF, problems.map((m) => ({ instancePath: '', message: m })), value);
  const v = validatorFor(HEALTH_DEF);
  if (!v(rest)) throw new SchemaViolation(what, HEALTH_DEF, v.errors, value);
  return value;
}

// CONTRACT.md table: methods whose result has a definition.
const RESULT_DEFS = {
  health: HEALTH_DEF,
  'config.schema': 'ConfigSchemaResponse',
  'exec.approvals.get': 'ExecApprovalsSnapshot',
  'exec.approvals.set': 'ExecApprovalsSnapshot',
  'agent.identity.get': 'AgentIdentityResult',
  'system.info': 'SystemInfoResult',
  'environments.list': 'EnvironmentsListResult',
  'plugins.list': 'PluginsListResult',
};
// "<Method>Result" family from the same table.
const RESULT_FAMILY = [/^agents\./, /^logs\.tail$/, /^models\.list$/, /^skills\.bins$/, /^cron\.add$/,
  /^channels\.status$/, /^wizard\.(start|next|status)$/, /^device\.token\.rotate$/, /^node\.event$/, /^sessions\.delete$/,
  /^channels\.pairing\.(list|approve|dismiss)$/];

export function pascalMethod(method) {
  return method.split(/[._-]/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

/** The definition a successful result of `method` must validate against, or null. */
export function resultDefinitionFor(method, params) {
  if (RESULT_DEFS[method]) return RESULT_DEFS[method];
  if (method === 'chat.history') {
    return params && params.cursor !== undefined ? 'ChatHistoryCursorResult' : null;
  }
  if (RESULT_FAMILY.some((re) => re.test(method))) {
    const name = pascalMethod(method) + 'Result';
    return hasDefinition(name) ? name : null;
  }
  return null;
}

const EVENT_DEFS = {
  tick: 'TickEvent',
  shutdown: 'ShutdownEvent',
  chat: 'ChatEvent',
  agent: 'AgentEvent',
  'node.invoke.request': 'NodeInvokeRequestEvent',
  'device.pair.requested': 'DevicePairRequestedEvent',
  'device.pair.resolved': 'DevicePairResolvedEvent',
};

export function eventDefinitionFor(event) {
  return EVENT_DEFS[event] || null;
}

/**
 * Shapes with no definition of their own but made of PresenceEntry (CONTRACT.md table):
 * the `presence` event payload {presence: [PresenceEntry]} and the system-presence result
 * [PresenceEntry]. Throws SchemaViolation.
 */
export function validatePresenceList(list, what) {
  if (!Array.isArray(list)) {
    throw new SchemaViolation(what, 'PresenceEntry[]', [{ instancePath: '', message: 'must be an array' }], list);
  }
  list.forEach((e, i) => validate('PresenceEntry', e, `${what}[${i}]`));
}

export function validatePresenceEvent(payload) {
  const keys = payload && typeof payload === 'object' ? Object.keys(payload) : [];
  if (keys.length !== 1 || keys[0] !== 'presence') {
    throw new SchemaViolation('presence event payload', '{presence}', [{ instancePath: '', message: 'must be exactly {presence: [...]}' }], payload);
  }
  validatePresenceList(payload.presence, 'presence event payload.presence');
}

export function paramsDefinitionFor(method) {
  const name = pascalMethod(method) + 'Params';
  return hasDefinition(name) ? name : null;
}

/** The seed's v1/v2 hello-ok payload: exactly {event:"hello-ok", protocolVersion, serverVersion, capabilities}. */
export function validateLegacyHello(payload) {
  const problems = [];
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) problems.push('not an object');
  else {
    if (payload.event !== 'hello-ok') problems.push('event must be "hello-ok"');
    if (!Number.isInteger(payload.protocolVersion)) problems.push('protocolVersion must be an integer');
    if (typeof payload.serverVersion !== 'string' || !payload.serverVersion) problems.push('serverVersion must be a non-empty string');
    if (!Array.isArray(payload.capabilities)) problems.push('capabilities must be an array');
    const extra = Object.keys(payload).filter((k) => !['event', 'protocolVersion', 'serverVersion', 'capabilities'].includes(k));
    if (extra.length) problems.push(`unexpected properties: ${extra.join(', ')}`);
  }
  if (problems.length) {
    throw new SchemaViolation('hello-ok (v1/v2)', 'seed hello-ok', problems.map((m) => ({ instancePath: '', message: m })), payload);
  }
  return payload;
}

/** connect.challenge payload: exactly {nonce: non-empty string, ts: integer >= 0}. */
export function validateChallenge(payload, { allowExtra = false } = {}) {
  const problems = [];
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) problems.push('not an object');
  else {
    if (typeof payload.nonce !== 'string' || !payload.nonce) problems.push('nonce must be a non-empty string');
    if (!Number.isInteger(payload.ts) || payload.ts < 0) problems.push('ts must be an integer >= 0');
    const extra = Object.keys(payload).filter((k) => !['nonce', 'ts'].includes(k));
    if (extra.length && !allowExtra) problems.push(`unexpected properties: ${extra.join(', ')}`);
  }
  if (problems.length) {
    throw new SchemaViolation('connect.challenge payload', '{nonce, ts}', problems.map((m) => ({ instancePath: '', message: m })), payload);
  }
  return payload;
}
