// Configuration methods and reloads: config.get/set/patch/apply/schema, baseHash rules,
// redaction, restartRequired, listener restart, external edits, SIGHUP
// (issue 2 "Methods in this issue", CONTRACT.md "Configuration"); every path
// config.schema's uiHints mark sensitive kept out of answers, errors, issues and the log,
// the no-file hash, writes whose request ends early (issue 6 "Core corrections").
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { startGateway, freePort, httpRequest, eventually, sleep } from './lib/gateway.mjs';
import { connectClient } from './lib/client.mjs';

const REDACTED = '__OPENCLAW_REDACTED__';

function fileState(gw) {
  if (!fs.existsSync(gw.configPath)) return { exists: false };
  const st = fs.statSync(gw.configPath);
  return { exists: true, bytes: fs.readFileSync(gw.configPath), mtimeMs: st.mtimeMs, ino: st.ino };
}

function assertFileUnchanged(before, after, what) {
  assert.equal(after.exists, before.exists, `${what}: file existence changed`);
  if (before.exists) {
    assert.ok(Buffer.compare(before.bytes, after.bytes) === 0, `${what}: file bytes changed`);
    assert.equal(after.ino, before.ino, `${what}: file was replaced`);
  }
}

function assertHashMismatch(res) {
  assert.equal(res.ok, false, 'expected CONFIG_HASH_MISMATCH');
  assert.equal(res.error.code, 'INVALID_REQUEST', JSON.stringify(res.error));
  assert.equal(res.error.details?.code, 'CONFIG_HASH_MISMATCH', JSON.stringify(res.error));
}

function assertRefused(res, what) {
  assert.equal(res.ok, false, `${what} was accepted`);
  assert.equal(res.error.code, 'INVALID_REQUEST', `${what}: ${JSON.stringify(res.error)}`);
}

function portRefuses(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

describe('config.get / set / patch', () => {
  let gw; let c;
  before(async () => {
    gw = await startGateway();
    c = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => { c.close(); await gw.stop(); });

  test('config.get with no file', async () => {
    const g = await c.call('config.get', {});
    assert.equal(typeof g.path, 'string');
    assert.ok(g.path.endsWith('clawgate.json'), g.path);
    assert.equal(fs.realpathSync(require_dir(g.path)), fs.realpathSync(gw.stateDir));
    assert.deepEqual({ exists: g.exists, raw: g.raw, config: g.config, valid: g.valid, issues: g.issues },
      { exists: false, raw: null, config: {}, valid: true, issues: [] });
    // Always a string (CONTRACT.md), as the real gateway's: "sha256:" + SHA-256 of zero bytes.
    assert.equal(g.hash, `sha256:${createHash('sha256').update('').digest('hex')}`);
  });

  test('config.set creates the file (no baseHash needed while there is none)', async () => {
    const doc = { gateway: { tickIntervalMs: 30000 }, myPlugin: { nested: [1, { a: null }], flag: true }, 'x-unknown': 'kept' };
    const r = await c.call('config.set', { raw: JSON.stringify(doc, null, 2) });
    assert.equal(r.ok, true);
    assert.equal(typeof r.hash, 'string');
    assert.ok(r.hash.length > 0);
    assert.deepEqual(r.restartRequired, []);
    assert.deepEqual(r.config, doc);
    assert.deepEqual(JSON.parse(fs.readFileSync(gw.configPath, 'utf8')), doc, 'file holds the document, unknown keys kept');
    const g = await c.call('config.get', {});
    assert.equal(g.exists, true);
    assert.equal(g.hash, r.hash);
    assert.equal(g.valid, true);
    assert.deepEqual(g.config, doc);
    assert.equal(g.raw, fs.readFileSync(gw.configPath, 'utf8'), 'raw is the file as written');
  });

  test('once the file exists: baseHash required; a stale one gets CONFIG_HASH_MISMATCH; file untouched', async () => {
    const before = fileState(gw);
    const g = await c.call('config.get', {});
    const doc = { gateway: { tickIntervalMs: 25000 } };
    assertRefused(await c.request('config.set', { raw: JSON.stringify(doc) }), 'config.set without baseHash');
    assertFileUnchanged(before, fileState(gw), 'set without baseHash');
    assertHashMismatch(await c.request('config.set', { raw: JSON.stringify(doc), baseHash: 'sha256:stale' }));
    assertRefused(await c.request('config.patch', { raw: '{"a":1}' }), 'config.patch without baseHash');
    assertHashMismatch(await c.request('config.patch', { raw: '{"a":1}', baseHash: g.hash + 'x' }));
    assertHashMismatch(await c.request('config.apply', { raw: JSON.stringify(doc), baseHash: 'nope' }));
    assertFileUnchanged(before, fileState(gw), 'stale baseHash');
    assert.equal((await c.call('config.get', {})).hash, g.hash);
  });

  test('config.set with the current hash replaces the whole document', async () => {
    const g = await c.call('config.get', {});
    const doc = { gateway: { tickIntervalMs: 25000 }, myPlugin: { v: 2 } };
    const r = await c.call('config.set', { raw: JSON.stringify(doc), baseHash: g.hash });
    assert.notEqual(r.hash, g.hash);
    assert.deepEqual(JSON.parse(fs.readFileSync(gw.configPath, 'utf8')), doc);
    assertHashMismatch(await c.request('config.set', { raw: JSON.stringify(doc), baseHash: g.hash }));
  });

  test('config.patch merges (RFC 7396), lists changedPaths and applies live', async () => {
    const g = await c.call('config.get', {});
    const r = await c.call('config.patch', { raw: JSON.stringify({ gateway: { tickIntervalMs: 1234 }, added: { x: [1, 2] } }), baseHash: g.hash });
    assert.equal(r.ok, true);
    assert.ok(!r.noop, 'not a noop');
    assert.ok(Array.isArray(r.changedPaths) && r.changedPaths.includes('gateway.tickIntervalMs'), `changedPaths ${JSON.stringify(r.changedPaths)}`);
    assert.deepEqual(r.restartRequired, []);
    const onDisk = JSON.parse(fs.readFileSync(gw.configPath, 'utf8'));
    assert.deepEqual(onDisk, { gateway: { tickIntervalMs: 1234 }, myPlugin: { v: 2 }, added: { x: [1, 2] } });
    const fresh = await connectClient(gw);
    assert.equal(fresh.hello.policy.tickIntervalMs, 1234, 'new connections see the patched tick interval');
    fresh.close();
    // null deletes, arrays are replaced
    const g2 = await c.call('config.get', {});
    await c.call('config.patch', { raw: JSON.stringify({ myPlugin: null, added: { x: [3] } }), baseHash: g2.hash });
    assert.deepEqual(JSON.parse(fs.readFileSync(gw.configPath, 'utf8')), { gateway: { tickIntervalMs: 1234 }, added: { x: [3] } });
  });

  test('every config commit is announced to readers as config.changed {path, hash, ts}', async () => {
    const reader = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    const nobody = await connectClient(gw, { params: { scopes: [] } });
    try {
      assert.ok(reader.hello.features.events.includes('config.changed'));
      const g = await c.call('config.get', {});
      const from = reader.events.length;
      const r = await c.call('config.patch', { raw: JSON.stringify({ announced: { n: 1 } }), baseHash: g.hash });
      const ev = await reader.waitEvent('config.changed', { from });
      assert.deepEqual(Object.keys(ev.payload).sort(), ['hash', 'path', 'ts']);
      assert.equal(ev.payload.hash, r.hash);
      assert.equal(ev.payload.path, gw.configPath);
      // A change made to the file by hand is announced too, once it is reloaded.
      const from2 = reader.events.length;
      const doc = JSON.parse(fs.readFileSync(gw.configPath, 'utf8'));
      doc.announced.n = 2;
      fs.writeFileSync(gw.configPath, JSON.stringify(doc));
      const ev2 = await reader.waitEvent('config.changed', { from: from2, timeoutMs: 10000 });
      assert.equal(ev2.payload.hash, (await c.call('config.get', {})).hash);
      assert.ok(!nobody.events.some((e) => e.event === 'config.changed'), 'no event without operator.read');
    } finally {
      reader.close();
      nobody.close();
    }
  });

  test('a patch that changes nothing writes nothing and answers noop: true', async () => {
    const g = await c.call('config.get', {});
    const before = fileState(gw);
    await sleep(20);
    const r = await c.call('config.patch', { raw: JSON.stringify({ gateway: { tickIntervalMs: 1234 } }), baseHash: g.hash });
    assert.equal(r.noop, true);
    assert.equal(r.hash, g.hash);
    const after = fileState(gw);
    assertFileUnchanged(before, after, 'noop patch');
    assert.equal(after.mtimeMs, before.mtimeMs, 'noop patch did not touch the file');
  });

  test('restartRequired lists gateway.port when a patch changes it; the listener keeps running', async () => {
    const g = await c.call('config.get', {});
    const other = await freePort();
    const r = await c.call('config.patch', { raw: JSON.stringify({ gateway: { port: other } }), baseHash: g.hash });
    assert.deepEqual(r.restartRequired, ['gateway.port']);
    assert.deepEqual(r.changedPaths, ['gateway.port']);
    assert.equal((await c.request('health', {})).ok, true);
    assert.equal((await httpRequest(gw.port, '/healthz')).status, 200);
    // and a patch touching only a live setting requires nothing
    const g2 = await c.call('config.get', {});
    const r2 = await c.call('config.patch', { raw: JSON.stringify({ gateway: { tickIntervalMs: 2000 } }), baseHash: g2.hash });
    assert.deepEqual(r2.restartRequired, []);
  });

  test('invalid values and documents are refused and leave the file byte-for-byte unchanged', async () => {
    const g = await c.call('config.get', {});
    const before = fileState(gw);
    const bad = [
      ['set', '{not json'],
      ['set', '[]'],
      ['set', '"just a string"'],
      ['set', JSON.stringify({ gateway: { port: 'abc' } })],
      ['set', JSON.stringify({ gateway: { port: 70000 } })],
      ['set', JSON.stringify({ gateway: { auth: { mode: 'bogus' } } })],
      ['set', JSON.stringify({ gateway: { auth: { mode: 'trusted-proxy' } } })],
      ['set', JSON.stringify({ gateway: { bind: 'moon' } })],
      ['set', JSON.stringify({ gateway: { limits: { maxPayloadBytes: 'big' } } })],
      ['patch', JSON.stringify({ gateway: { tickIntervalMs: -5 } })],
      ['patch', JSON.stringify({ gateway: { auth: { rateLimit: { maxAttempts: 'x' } } } })],
      ['patch', '{"gateway":'],
      ['apply', JSON.stringify({ gateway: { port: -1 } })],
    ];
    for (const [kind, raw] of bad) {
      assertRefused(await c.request(`config.${kind}`, { raw, baseHash: g.hash }), `config.${kind} ${raw}`);
    }
    assertFileUnchanged(before, fileState(gw), 'refused writes');
    assert.equal((await c.call('config.get', {})).hash, g.hash);
  });

  test('params are checked strictly against <Method>Params', async () => {
    const g = await c.call('config.get', {});
    const before = fileState(gw);
    assertRefused(await c.request('config.set', { raw: '{}', baseHash: g.hash, bogus: 1 }), 'config.set with an unknown field');
    assertRefused(await c.request('config.set', { baseHash: g.hash }), 'config.set without raw');
    assertRefused(await c.request('config.set', { raw: '', baseHash: g.hash }), 'config.set with empty raw');
    assertRefused(await c.request('config.set', { raw: { a: 1 }, baseHash: g.hash }), 'config.set with a non-string raw');
    assertRefused(await c.request('config.patch', { raw: '{}', baseHash: g.hash, extra: true }), 'config.patch with an unknown field');
    assertRefused(await c.request('config.get', { bogus: 1 }), 'config.get with an unknown field');
    assertRefused(await c.request('config.schema', { bogus: 1 }), 'config.schema with an unknown field');
    assertFileUnchanged(before, fileState(gw), 'refused params');
    // every field ConfigPatchParams allows is accepted
    const r = await c.request('config.patch', {
      raw: JSON.stringify({ extraKey: 1 }), baseHash: g.hash, note: 'from a test', sessionKey: 'main',
      deliveryContext: { channel: 'x', to: 'y' }, replacePaths: ['extraKey'], restartDelayMs: 0,
    });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(JSON.parse(fs.readFileSync(gw.configPath, 'utf8')).extraKey, 1);
  });

  test('config.schema returns a ConfigSchemaResponse describing the known keys', async () => {
    const s = await c.call('config.schema', {});
    assert.equal(typeof s.schema, 'object');
    assert.equal(s.schema.type, 'object');
    assert.ok(s.schema.properties && s.schema.properties.gateway, 'schema describes gateway');
    assert.equal(typeof s.version, 'string');
    assert.ok(!Number.isNaN(Date.parse(s.generatedAt)), `generatedAt ${s.generatedAt}`);
  });
});

describe('the first write', () => {
  let gw; let c;
  before(async () => {
    gw = await startGateway();
    c = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => { c.close(); await gw.stop(); });

  test("takes config.get's no-file hash; a stale one gets CONFIG_HASH_MISMATCH and writes nothing", async () => {
    const before = fileState(gw);
    for (const method of ['config.set', 'config.patch', 'config.apply']) {
      assertHashMismatch(await c.request(method, { raw: '{"a":1}', baseHash: 'sha256:stale' }));
    }
    assertFileUnchanged(before, fileState(gw), 'stale hash without a file');
    const g = await c.call('config.get', {});
    assert.equal(g.exists, false);
    const r = await c.call('config.patch', { raw: '{"first":true}', baseHash: g.hash });
    assert.equal(r.ok, true);
    assert.notEqual(r.hash, g.hash);
    assert.deepEqual(JSON.parse(fs.readFileSync(gw.configPath, 'utf8')), { first: true });
  });
});

function require_dir(p) {
  return p.slice(0, p.lastIndexOf('/'));
}

describe('secrets are redacted', () => {
  const SECRET = 'file-secret-token-0123456789';
  const doc = {
    gateway: { auth: { mode: 'token', token: SECRET } },
    custom: { apiKey: 'k-secret-1', deep: { password: 'p-secret-2', botToken: 'b-secret-3', secret: 's-secret-4', keep: 'visible' } },
  };
  let gw; let c;
  before(async () => {
    gw = await startGateway({ token: null, config: doc });
    c = await connectClient(gw, { token: SECRET, params: { scopes: ['operator.admin'] } });
  });
  after(async () => { c.close(); await gw.stop(); });

  const secrets = [SECRET, 'k-secret-1', 'p-secret-2', 'b-secret-3', 's-secret-4'];
  const assertNoSecrets = (obj, what) => {
    const text = JSON.stringify(obj);
    for (const s of secrets) assert.ok(!text.includes(s), `${what} leaks ${s}`);
  };

  test('config.get redacts raw and config', async () => {
    const g = await c.call('config.get', {});
    assertNoSecrets(g, 'config.get');
    assert.ok(g.raw.includes(REDACTED), 'raw carries the placeholder');
    assert.equal(g.config.gateway.auth.token, REDACTED);
    assert.equal(g.config.custom.apiKey, REDACTED);
    assert.equal(g.config.custom.deep.password, REDACTED);
    assert.equal(g.config.custom.deep.botToken, REDACTED);
    assert.equal(g.config.custom.deep.secret, REDACTED);
    assert.equal(g.config.custom.deep.keep, 'visible');
    assert.equal(g.config.gateway.auth.mode, 'token');
  });

  test('writing the placeholder back keeps the stored secrets', async () => {
    const g = await c.call('config.get', {});
    const next = JSON.parse(JSON.stringify(g.config));
    next.gateway.tickIntervalMs = 15000;
    const r = await c.call('config.set', { raw: JSON.stringify(next), baseHash: g.hash });
    assertNoSecrets(r, 'config.set result');
    const onDisk = JSON.parse(fs.readFileSync(gw.configPath, 'utf8'));
    assert.equal(onDisk.gateway.auth.token, SECRET);
    assert.equal(onDisk.custom.apiKey, 'k-secret-1');
    assert.equal(onDisk.custom.deep.password, 'p-secret-2');
    assert.equal(onDisk.gateway.tickIntervalMs, 15000);
    assert.ok(!fs.readFileSync(gw.configPath, 'utf8').includes(REDACTED), 'the placeholder is never written');
    const again = await connectClient(gw, { token: SECRET, host: 'example.com' });
    again.close();
    // raw round trip through config.patch with the placeholder, too
    const g2 = await c.call('config.get', {});
    const p = await c.call('config.patch', { raw: JSON.stringify({ gateway: { auth: { token: REDACTED } }, custom: { extra: 1 } }), baseHash: g2.hash });
    assertNoSecrets(p, 'config.patch result');
    assert.equal(JSON.parse(fs.readFileSync(gw.configPath, 'utf8')).gateway.auth.token, SECRET);
  });

  test('changing the token with config.patch applies to new connections at once', async () => {
    const g = await c.call('config.get', {});
    const r = await c.call('config.patch', { raw: JSON.stringify({ gateway: { auth: { token: 'new-token-abcdef' } } }), baseHash: g.hash });
    assert.deepEqual(r.restartRequired, []);
    assertNoSecrets(r, 'config.patch result');
    assert.ok(!JSON.stringify(r).includes('new-token-abcdef'), 'the new token is redacted too');
    const ok = await connectClient(gw, { token: 'new-token-abcdef', host: 'example.com' });
    ok.close();
    await assert.rejects(connectClient(gw, { token: SECRET, host: 'example.com' }), /AUTH_TOKEN_MISMATCH/);
    assert.equal((await c.request('health', {})).ok, true, 'the open connection stays');
  });
});

// Sets value at a uiHints path pattern ("*": the key "k", "name[]": a one-element array) in
// a copy of doc. Returns {doc, concrete} or null when doc has another shape there.
function placeAt(doc, pattern, value) {
  const out = structuredClone(doc);
  let node = out;
  const concrete = [];
  const segments = pattern.split('.');
  for (const [i, raw] of segments.entries()) {
    const last = i === segments.length - 1;
    const elements = raw.endsWith('[]');
    const key = raw.replace(/\[\]$/, '') === '*' ? 'k' : raw.replace(/\[\]$/, '');
    concrete.push(key);
    const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (!isObject(node)) return null;
    if (elements) {
      if (node[key] === undefined) node[key] = [];
      if (!Array.isArray(node[key])) return null;
      concrete.push(0);
      if (last) { if (node[key].length) return null; node[key].push(value); break; }
      if (!node[key].length) node[key].push({});
      node = node[key][0];
    } else if (last) {
      if (node[key] !== undefined) return null;
      node[key] = value;
    } else {
      if (node[key] === undefined) node[key] = {};
      node = node[key];
    }
  }
  return { doc: out, concrete };
}

const valueAt = (doc, concrete) => concrete.reduce((v, k) => (v == null ? v : v[k]), doc);

describe('every path config.schema marks sensitive stays secret', () => {
  const MARK = `SeCrEt${randomBytes(4).toString('hex')}`;
  let gw; let c;
  let docs; // [{doc, placed: [{pattern, concrete, secret}]}]
  before(async () => {
    gw = await startGateway();
    c = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => { c.close(); await gw.stop(); });

  const assertNoSecret = (value, what) => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    assert.ok(!text.includes(MARK), `${what} shows a secret: ${text.slice(Math.max(0, text.indexOf(MARK) - 200), text.indexOf(MARK) + 100)}`);
  };
  const write = async (method, params) => {
    const res = await c.request(method, params);
    assertNoSecret(res, `${method} answer`);
    return res;
  };

  test('config.schema: uiHints mark the secrets, and each gets a unique value in a document', async () => {
    const s = await c.call('config.schema', {});
    const paths = Object.entries(s.uiHints).filter(([, h]) => h.sensitive === true).map(([p]) => p);
    for (const p of ['gateway.auth.token', 'gateway.auth.password', 'channels.*.token', 'channels.*.botToken',
      'channels.*.webhookSecret', 'channels.*.accounts.*.token', 'models.providers.*.apiKey',
      'models.providers.*.headers.*', 'hooks.token', 'hooks.mappings[].sessionKey']) {
      assert.ok(paths.includes(p), `uiHints do not mark ${p} sensitive`);
    }
    // Paths that need another shape at the same place (hooks.mappings as a map and as a
    // list) go to another document.
    docs = [];
    for (const [i, pattern] of paths.entries()) {
      const secret = `${MARK}-${i}-${randomBytes(6).toString('hex')}`;
      let placed = null;
      for (const d of docs) {
        const r = placeAt(d.doc, pattern, secret);
        if (r) { d.doc = r.doc; d.placed.push({ pattern, concrete: r.concrete, secret }); placed = d; break; }
      }
      if (!placed) {
        const r = placeAt({}, pattern, secret);
        assert.ok(r, `cannot place ${pattern}`);
        docs.push({ doc: r.doc, placed: [{ pattern, concrete: r.concrete, secret }] });
      }
    }
    assert.equal(docs.reduce((n, d) => n + d.placed.length, 0), paths.length);
  });

  test('config.set / patch / apply answers and config.get show none; the placeholder keeps every one', async () => {
    for (const { doc, placed } of docs) {
      let g = await c.call('config.get', {});
      const set = await write('config.set', { raw: JSON.stringify(doc), baseHash: g.hash });
      assert.equal(set.ok, true, JSON.stringify(set.error));
      g = await c.call('config.get', {});
      assertNoSecret(g, 'config.get');
      const shown = JSON.parse(g.raw);
      for (const { pattern, concrete } of placed) {
        assert.equal(valueAt(g.config, concrete), REDACTED, `config.get config at ${pattern}`);
        assert.equal(valueAt(shown, concrete), REDACTED, `config.get raw at ${pattern}`);
      }
      // What config.get showed, written back: every stored secret stays.
      const back = await write('config.set', { raw: g.raw, baseHash: g.hash });
      assert.equal(back.ok, true, JSON.stringify(back.error));
      const onDisk = JSON.parse(fs.readFileSync(gw.configPath, 'utf8'));
      for (const { pattern, concrete, secret } of placed) assert.equal(valueAt(onDisk, concrete), secret, `kept at ${pattern}`);
      // The same through patch (placeholders and plain values) and apply.
      g = await c.call('config.get', {});
      const patch = await write('config.patch', { raw: JSON.stringify({ ...JSON.parse(g.raw), note: 1 }), baseHash: g.hash });
      assert.equal(patch.ok, true, JSON.stringify(patch.error));
      g = await c.call('config.get', {});
      const apply = await write('config.apply', { raw: JSON.stringify({ ...doc, note: 2 }), baseHash: g.hash });
      assert.equal(apply.ok, true, JSON.stringify(apply.error));
      const final = JSON.parse(fs.readFileSync(gw.configPath, 'utf8'));
      for (const { pattern, concrete, secret } of placed) assert.equal(valueAt(final, concrete), secret, `after patch and apply at ${pattern}`);
    }
  });

  test('refused writes carrying secrets do not echo them', async () => {
    const { doc, placed } = docs[0];
    const text = JSON.stringify(doc);
    const last = placed[placed.length - 1].secret;
    const g = await c.call('config.get', {});
    const before = fileState(gw);
    const refused = [
      ['config.set', JSON.stringify({ ...doc, gateway: { ...doc.gateway, port: 'not-a-port' } })],
      ['config.patch', text.slice(0, text.indexOf(last) + 12)], // ends inside a secret
      ['config.apply', text.replace(`"${last}"`, `${last}`)], // a secret as a bare word
      ['config.set', JSON.stringify({ gateway: { auth: { token: { source: 'env', provider: 'default', id: `${MARK}-ref` } } } })],
      ['config.set', `{"hooks":{"token":"${MARK}-dup-1","token":"${MARK}-dup-2"}}`],
      ['config.patch', JSON.stringify({ hooks: { gmail: { pushToken: REDACTED } }, gateway: { auth: { password: `${MARK}-new` } } })],
      ['config.set', JSON.stringify({ ...doc, models: { providers: { k: { apiKey: [`${MARK}-array`] } } } })],
    ];
    for (const [method, raw] of refused) {
      const res = await write(method, { raw, baseHash: g.hash });
      assert.equal(res.ok, false, `${method} ${raw.slice(0, 80)} was accepted`);
    }
    assertFileUnchanged(before, fileState(gw), 'refused writes');
  });

  test('an invalid file on reload: issues and config.get show no secret', async () => {
    const { doc, placed } = docs[0];
    fs.writeFileSync(gw.configPath, JSON.stringify({ ...doc, gateway: { ...doc.gateway, tickIntervalMs: 'x' } }));
    const g = await eventually(async () => { const x = await c.call('config.get', {}); return x.valid === false && x; }, 4000, 'valid:false');
    assert.ok(g.issues.some((i) => i.path === 'gateway.tickIntervalMs'));
    assertNoSecret(g, 'config.get of an invalid file');
    const text = JSON.stringify(doc);
    fs.writeFileSync(gw.configPath, text.slice(0, text.indexOf(placed[0].secret) + 12));
    const g2 = await eventually(async () => { const x = await c.call('config.get', {}); return x.valid === false && x.raw === null && x; }, 4000, 'an unparsable file');
    assertNoSecret(g2, 'config.get of an unparsable file');
    const rz = await gw.http('/readyz');
    assertNoSecret(rz.body, '/readyz');
  });

  test('logs.tail (the gateway log) shows none', async () => {
    const t = await c.call('logs.tail', { limit: 5000, maxBytes: 1000000 });
    assert.ok(t.lines.some((l) => /config written/.test(l)), 'the writes were logged');
    assert.ok(t.lines.some((l) => /config write refused/.test(l)), 'the refusals were logged');
    assertNoSecret(t, 'logs.tail');
    assertNoSecret(fs.readFileSync(gw.logPath, 'utf8'), 'the log file');
  });
});

describe('a write whose request ends early still completes', () => {
  // About 200 KB: parsed on the loop at once, written on the thread pool.
  const bulkyDoc = (tick) => ({ gateway: { tickIntervalMs: tick }, bulk: Array.from({ length: 12000 }, (_, i) => `item-${i}`) });
  const sendWrite = (c, id, params) => c.sendRaw(JSON.stringify({ type: 'req', id, method: 'config.set', params }));
  const fileHash = (p) => `sha256:${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;

  test('the client leaves right after config.set: the write is installed and applied', async () => {
    const gw = await startGateway();
    try {
      const c = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
      const g = await c.call('config.get', {});
      const doc = bulkyDoc(4321);
      sendWrite(c, 'left-early', { raw: JSON.stringify(doc), baseHash: g.hash });
      c.close();
      await eventually(() => fs.existsSync(gw.configPath) && fs.readFileSync(gw.configPath, 'utf8') === JSON.stringify(doc), 5000, 'the file written');
      const c2 = await connectClient(gw, { params: { scopes: ['operator.read'] } });
      await eventually(async () => (await c2.call('config.get', {})).hash === fileHash(gw.configPath), 3000, 'the write installed');
      const c3 = await connectClient(gw);
      assert.equal(c3.hello.policy.tickIntervalMs, 4321, 'applied to new connections');
      c3.close(); c2.close();
    } finally { await gw.stop(); }
  });

  test('the gateway stops with writes in flight: exit 0, the file whole (old or new)', async () => {
    const original = { gateway: { tickIntervalMs: 30000 } };
    const gw = await startGateway({ config: original });
    const c = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    const g = await c.call('config.get', {});
    const docs = [bulkyDoc(1111), bulkyDoc(2222)];
    sendWrite(c, 'w1', { raw: JSON.stringify(docs[0]), baseHash: g.hash });
    sendWrite(c, 'w2', { raw: JSON.stringify(docs[1]), baseHash: g.hash });
    await gw.stop('SIGTERM', { keepStateDir: true }); // exit 0 within 5 s, no sanitizer report
    try {
      const onDisk = JSON.parse(fs.readFileSync(gw.configPath, 'utf8'));
      assert.ok([original, docs[0]].some((d) => JSON.stringify(d) === JSON.stringify(onDisk)), 'the file is one whole document; the stale second write never lands');
    } finally { fs.rmSync(gw.stateDir, { recursive: true, force: true }); }
  });
});

describe('config.apply restarts the listener in-process', () => {
  let gw; let p1; let p2;
  before(async () => {
    p1 = await freePort();
    gw = await startGateway({ port: p1, portFlag: false, config: { gateway: { port: p1 } } });
  });
  after(async () => { await gw.stop(); });

  test('apply with a new port: restartRequired [], the new port listens, the open connection stays open', async () => {
    const c = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    const g = await c.call('config.get', {});
    p2 = await freePort();
    const r = await c.call('config.apply', { raw: JSON.stringify({ gateway: { port: p2 } }), baseHash: g.hash });
    assert.equal(r.ok, true);
    assert.deepEqual(r.restartRequired, []);
    await eventually(async () => (await httpRequest(p2, '/healthz', { timeoutMs: 500 })).status === 200, 5000, `/healthz on new port ${p2}`);
    await eventually(() => portRefuses(p1), 5000, `old port ${p1} closed`);
    assert.equal(c.closeInfo, null, 'the open connection stays open');
    assert.equal((await c.request('health', {})).ok, true);
    assert.equal((await c.request('config.get', {})).ok, true);
    const c2 = await connectClient({ ...gw, url: `ws://127.0.0.1:${p2}` });
    assert.equal((await c2.request('health', {})).ok, true);
    c2.close(); c.close();
  });

  test('apply to a port in use: UNAVAILABLE naming the address and the OS error; the old listener and the old file stay', async () => {
    const busy = net.createServer();
    await new Promise((r) => busy.listen(0, '127.0.0.1', r));
    const taken = busy.address().port;
    try {
      const c = await connectClient({ ...gw, url: `ws://127.0.0.1:${p2}` });
      const g = await c.call('config.get', {});
      const before = fileState(gw);
      const r = await c.request('config.apply', { raw: JSON.stringify({ gateway: { port: taken } }), baseHash: g.hash });
      assert.equal(r.ok, false);
      assert.equal(r.error.code, 'UNAVAILABLE', JSON.stringify(r.error));
      assert.match(r.error.message, new RegExp(`127\\.0\\.0\\.1:${taken}`));
      assert.match(r.error.message, /address already in use/);
      assertFileUnchanged(before, fileState(gw), 'refused apply');
      assert.equal((await c.call('config.get', {})).hash, g.hash);
      assert.equal((await httpRequest(p2, '/healthz', { timeoutMs: 1000 })).status, 200, 'still listening where it was');
      const c2 = await connectClient({ ...gw, url: `ws://127.0.0.1:${p2}` });
      assert.equal((await c2.request('health', {})).ok, true, 'new connections still come in');
      c2.close(); c.close();
    } finally {
      busy.close();
    }
  });

  test('apply that keeps the port but changes the bind or turns TLS on moves the listener on the same port', async () => {
    const c = await connectClient({ ...gw, url: `ws://127.0.0.1:${p2}` });
    let g = await c.call('config.get', {});
    const r = await c.call('config.apply', { raw: JSON.stringify({ gateway: { port: p2, tls: { enabled: true } } }), baseHash: g.hash });
    assert.equal(r.ok, true);
    assert.ok(fs.existsSync(`${gw.stateDir}/tls/gateway-cert.pem`), 'a certificate was generated');
    await assert.rejects(httpRequest(p2, '/healthz', { timeoutMs: 1000 }), 'plain HTTP is gone: TLS now');
    g = await c.call('config.get', {});
    const back = await c.call('config.apply', { raw: JSON.stringify({ gateway: { port: p2 } }), baseHash: g.hash });
    assert.equal(back.ok, true);
    assert.equal((await httpRequest(p2, '/healthz', { timeoutMs: 1000 })).status, 200);
    assert.equal(c.closeInfo, null, 'the connection that asked stays open throughout');
    c.close();
  });
});

describe('external edits, invalid files, SIGHUP', () => {
  let gw; let c;
  before(async () => {
    gw = await startGateway({ config: { gateway: { tickIntervalMs: 30000 }, custom: { v: 1 } } });
    c = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });
  after(async () => { c.close(); await gw.stop(); });

  const writeFile = (obj) => fs.writeFileSync(gw.configPath, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));

  test('an edit by someone else is picked up within 2 s', async () => {
    const g0 = await c.call('config.get', {});
    assert.equal(g0.config.custom.v, 1);
    writeFile({ gateway: { tickIntervalMs: 777 }, custom: { v: 2 } });
    const t0 = Date.now();
    const g = await eventually(async () => { const x = await c.call('config.get', {}); return x.config.custom?.v === 2 && x; }, 4000, 'config.get to show the edit');
    assert.ok(Date.now() - t0 <= 3000, `picked up after ${Date.now() - t0} ms`);
    assert.notEqual(g.hash, g0.hash);
    const fresh = await connectClient(gw);
    assert.equal(fresh.hello.policy.tickIntervalMs, 777, 'the reloaded settings apply');
    fresh.close();
    assertHashMismatch(await c.request('config.set', { raw: '{"a":1}', baseHash: g0.hash }));
  });

  test('an invalid file on reload keeps the running config: valid:false, issues, /readyz failing ["config"]', async () => {
    writeFile('{ "gateway": { "tickIntervalMs": "oops" ');
    const g = await eventually(async () => { const x = await c.call('config.get', {}); return x.valid === false && x; }, 4000, 'valid:false');
    assert.ok(Array.isArray(g.issues) && g.issues.length > 0, 'issues listed');
    for (const i of g.issues) {
      assert.equal(typeof i.path, 'string');
      assert.equal(typeof i.message, 'string');
    }
    const rz = await gw.http('/readyz');
    assert.equal(rz.status, 200);
    assert.deepEqual(rz.json.failing, ['config']);
    const h = await c.call('health', {});
    assert.equal(h.ok, false, 'health says the config failed');
    assert.deepEqual(h.failing.map((f) => f.name), ['config']);
    const fresh = await connectClient(gw);
    assert.equal(fresh.hello.policy.tickIntervalMs, 777, 'still running on the last good config');
    assert.equal(fresh.hello.snapshot.health.ok, undefined, 'hello-ok stays schema-valid: no ok:false there');
    fresh.close();
    // a known key with a bad value is invalid too
    writeFile({ gateway: { tickIntervalMs: 'oops' } });
    await sleep(300);
    const g2 = await eventually(async () => { const x = await c.call('config.get', {}); return x.valid === false && x.issues.some((i) => i.path.includes('tickIntervalMs')) && x; }, 4000, 'issue naming gateway.tickIntervalMs');
    assert.ok(g2);
    // fixed again
    writeFile({ gateway: { tickIntervalMs: 888 } });
    await eventually(async () => { const x = await c.call('config.get', {}); return x.valid === true && x; }, 4000, 'valid:true again');
    const rz2 = await gw.http('/readyz');
    assert.equal(rz2.status, 200);
    assert.deepEqual(rz2.json.failing, []);
    const h2 = await c.call('health', {});
    assert.equal(h2.ok, true);
    assert.equal(h2.failing, undefined);
  });

  test("clawgate's own writes do not trigger a reload; an external edit does (log)", async () => {
    const reloads = () => gw.logLines().filter((l) => /reload/i.test(l.message)).length;
    const r0 = reloads();
    assert.ok(r0 > 0, 'the earlier external edits were logged as reloads');
    const g = await c.call('config.get', {});
    await c.call('config.patch', { raw: JSON.stringify({ custom: { own: Date.now() } }), baseHash: g.hash });
    await sleep(2500);
    assert.equal(reloads(), r0, 'no reload after our own write');
  });

  test('SIGHUP reloads the file', async () => {
    writeFile({ gateway: { tickIntervalMs: 999 }, custom: { hup: true } });
    gw.proc.kill('SIGHUP');
    await eventually(async () => (await c.call('config.get', {})).config.custom?.hup === true, 2000, 'reload after SIGHUP');
    const fresh = await connectClient(gw);
    assert.equal(fresh.hello.policy.tickIntervalMs, 999);
    fresh.close();
    assert.equal(gw.proc.exitCode, null, 'still running after SIGHUP');
  });
});

describe('precedence: flag > environment > file', () => {
  test('CLAWGATE_GATEWAY_PORT beats gateway.port in the file; --port beats both', async () => {
    const envPort = await freePort();
    const filePort = await freePort();
    const gw = await startGateway({ port: envPort, portFlag: false, env: { CLAWGATE_GATEWAY_PORT: String(envPort) }, config: { gateway: { port: filePort } } });
    try {
      assert.equal((await httpRequest(envPort, '/healthz')).status, 200);
      assert.equal(await portRefuses(filePort), true, 'the file port is not used');
    } finally { await gw.stop(); }
    const flagPort = await freePort();
    const gw2 = await startGateway({ port: flagPort, env: { OPENCLAW_GATEWAY_PORT: String(envPort) }, config: { gateway: { port: filePort } } });
    try {
      assert.equal((await httpRequest(flagPort, '/healthz')).status, 200);
      assert.equal(await portRefuses(envPort), true);
    } finally { await gw2.stop(); }
  });

  test('CLAWGATE_CONFIG_PATH points at another file', async () => {
    const other = `${fs.mkdtempSync('/tmp/clawgate-cfg-')}/elsewhere.json`;
    fs.writeFileSync(other, JSON.stringify({ gateway: { tickIntervalMs: 4321 } }));
    const gw = await startGateway({ env: { CLAWGATE_CONFIG_PATH: other } });
    try {
      const c = await connectClient(gw, { params: { scopes: ['operator.read'] } });
      assert.equal(c.hello.policy.tickIntervalMs, 4321);
      const g = await c.call('config.get', {});
      assert.equal(fs.realpathSync(g.path), fs.realpathSync(other));
      c.close();
    } finally { await gw.stop(); fs.rmSync(other.slice(0, other.lastIndexOf('/')), { recursive: true, force: true }); }
  });
});
