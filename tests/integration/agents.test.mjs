// Agents (issue 9): agents.list / create / update / delete, agents.files.list / get / set
// confined to the workspace (unsupported names, a symlink and a hard link pointing out of
// it, the 2 MiB bound), agent.identity.get, and config changes seen at once. Results are
// validated against the schema's <Method>Result / AgentIdentityResult by the client
// harness; the real gateway's answers are in ../shared/OBSERVED.md ("Chat and agent runs").
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { connectClient } from './lib/client.mjs';
import { startGateway } from './lib/gateway.mjs';

function assertError(res, code, message) {
  assert.equal(res.ok, false, `expected ${code}, got ${JSON.stringify(res.payload)}`);
  assert.equal(res.error.code, code, JSON.stringify(res.error));
  if (message instanceof RegExp) assert.match(res.error.message, message);
  else if (message) assert.equal(res.error.message, message);
}

const FILES = ['AGENTS.md', 'SOUL.md', 'IDENTITY.md', 'USER.md', 'BOOTSTRAP.md', 'MEMORY.md'];

describe('agents', () => {
  let gw, admin, reader, writer, outside;
  before(async () => {
    gw = await startGateway();
    admin = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    reader = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    writer = await connectClient(gw, { params: { scopes: ['operator.write'] } });
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-outside-'));
  });
  after(async () => {
    for (const c of [admin, reader, writer]) c.close();
    fs.rmSync(outside, { recursive: true, force: true });
    await gw.stop();
  });

  test('the default agent main, with its workspace at <state>/workspace', async () => {
    const res = await reader.call('agents.list', {});
    assert.deepEqual(res, { defaultId: 'main', mainKey: 'main', scope: 'per-sender', agents: [{ id: 'main', workspace: path.join(gw.stateDir, 'workspace') }] });
    assertError(await reader.request('agents.list', { x: 1 }), 'INVALID_REQUEST', "invalid agents.list params: unexpected property 'x'");
  });

  test('agents.create: a slug of the name, stored in config, visible at once, with a workspace', async () => {
    const res = await writer.call('agents.create', { name: 'Barsbot', emoji: '🦀', model: 'openai/gpt-5' });
    const workspace = path.join(gw.stateDir, 'workspace-barsbot');
    assert.deepEqual(res, { ok: true, agentId: 'barsbot', name: 'Barsbot', workspace, model: 'openai/gpt-5' });
    const cfg = JSON.parse(gw.readConfig());
    assert.deepEqual(cfg.agents.entries.barsbot, { name: 'Barsbot', workspace, identity: { name: 'Barsbot', emoji: '🦀' }, model: 'openai/gpt-5' });
    assert.match(fs.readFileSync(path.join(workspace, 'IDENTITY.md'), 'utf8'), /- Name: Barsbot\n- Emoji: 🦀/);
    const list = await reader.call('agents.list', {});
    const bars = list.agents.find((a) => a.id === 'barsbot');
    assert.deepEqual(bars, { id: 'barsbot', name: 'Barsbot', workspace, identity: { name: 'Barsbot', emoji: '🦀' }, model: { primary: 'openai/gpt-5' } });

    const spaced = await writer.call('agents.create', { name: '  Night Owl! ' });
    assert.equal(spaced.agentId, 'night-owl');
    assert.equal(spaced.name, 'Night Owl!');

    assertError(await writer.request('agents.create', { name: 'barsbot' }), 'INVALID_REQUEST', 'agent "barsbot" already exists');
    assertError(await writer.request('agents.create', { name: 'Main' }), 'INVALID_REQUEST', 'agent "main" already exists');
    assertError(await writer.request('agents.create', { name: '!!!' }), 'INVALID_REQUEST', /has no valid id characters/);
    assertError(await writer.request('agents.create', { name: 'rel', workspace: 'relative/dir' }), 'INVALID_REQUEST', /workspace must be an absolute path/);
    assertError(await writer.request('agents.create', {}), 'INVALID_REQUEST', "invalid agents.create params: must have required property 'name'");
    assertError(await writer.request('agents.create', { name: 'x', color: 'red' }), 'INVALID_REQUEST', "invalid agents.create params: unexpected property 'color'");
    assertError(await reader.request('agents.create', { name: 'Nope' }), 'FORBIDDEN');
  });

  test('an agent added through config.patch is listed at once', async () => {
    const { hash } = await admin.call('config.get', {});
    await admin.call('config.patch', { raw: JSON.stringify({ agents: { entries: { ops: { name: 'Ops' } } } }), baseHash: hash });
    const list = await reader.call('agents.list', {});
    const ops = list.agents.find((a) => a.id === 'ops');
    assert.equal(ops.name, 'Ops');
    assert.equal(ops.workspace, path.join(gw.stateDir, 'workspace-ops'));
  });

  test('agents.update: name, emoji, model (null removes it), workspace', async () => {
    assert.deepEqual(await writer.call('agents.update', { agentId: 'barsbot', name: 'Bars', emoji: '🐚', model: null }), { ok: true, agentId: 'barsbot' });
    const bars = (await reader.call('agents.list', {})).agents.find((a) => a.id === 'barsbot');
    assert.equal(bars.name, 'Bars');
    assert.equal(bars.identity.emoji, '🐚');
    assert.equal(bars.model, undefined);
    const ws = path.join(gw.stateDir, 'ws-ops');
    await writer.call('agents.update', { agentId: 'ops', workspace: ws });
    assert.ok(fs.statSync(ws).isDirectory());
    assertError(await writer.request('agents.update', { agentId: 'ghost', name: 'x' }), 'INVALID_REQUEST', 'agent "ghost" not found');
    assertError(await writer.request('agents.update', { agentId: 'ops', model: '' }), 'INVALID_REQUEST', /at \/model: must NOT have fewer than 1 characters/);
  });

  test('agents.files: the six files, set and get, missing ones', async () => {
    const list = await reader.call('agents.files.list', { agentId: 'barsbot' });
    assert.equal(list.agentId, 'barsbot');
    assert.deepEqual(list.files.map((f) => f.name), FILES);
    assert.equal(list.files.find((f) => f.name === 'IDENTITY.md').missing, false);
    assert.equal(list.files.find((f) => f.name === 'MEMORY.md').expectedAbsent, true);
    assert.equal(list.files.find((f) => f.name === 'SOUL.md').missing, true);

    const set = await writer.call('agents.files.set', { agentId: 'barsbot', name: 'SOUL.md', content: 'Be kind. ünïcode ✓\n' });
    assert.equal(set.ok, true);
    assert.equal(set.file.path, path.join(gw.stateDir, 'workspace-barsbot', 'SOUL.md'));
    assert.equal(set.file.size, Buffer.byteLength('Be kind. ünïcode ✓\n'));
    const got = await reader.call('agents.files.get', { agentId: 'barsbot', name: 'SOUL.md' });
    assert.equal(got.file.content, 'Be kind. ünïcode ✓\n');
    assert.equal(got.file.missing, false);
    assert.equal(fs.readFileSync(path.join(gw.stateDir, 'workspace-barsbot', 'SOUL.md'), 'utf8'), 'Be kind. ünïcode ✓\n');
    const missing = await reader.call('agents.files.get', { agentId: 'barsbot', name: 'USER.md' });
    assert.deepEqual(missing.file, { name: 'USER.md', path: path.join(gw.stateDir, 'workspace-barsbot', 'USER.md'), missing: true });
    // main's workspace is made on the first write.
    await writer.call('agents.files.set', { agentId: 'main', name: 'AGENTS.md', content: '# rules' });
    assert.equal(fs.readFileSync(path.join(gw.stateDir, 'workspace', 'AGENTS.md'), 'utf8'), '# rules');
    assertError(await reader.request('agents.files.set', { agentId: 'main', name: 'AGENTS.md', content: 'x' }), 'FORBIDDEN');
    assertError(await reader.request('agents.files.list', { agentId: 'ghost' }), 'INVALID_REQUEST', 'agent "ghost" not found');
  });

  test('agents.files stay inside the workspace: names outside the list, symlinks and hard links out of it', async () => {
    for (const name of ['../escape.md', 'evil.md', '/etc/passwd', 'SOUL.md/..', 'soul.md']) {
      assertError(await writer.request('agents.files.set', { agentId: 'barsbot', name, content: 'x' }), 'INVALID_REQUEST', `unsupported file "${name}"`);
      assertError(await reader.request('agents.files.get', { agentId: 'barsbot', name }), 'INVALID_REQUEST', `unsupported file "${name}"`);
    }
    assert.equal(fs.existsSync(path.join(gw.stateDir, 'escape.md')), false);

    const ws = path.join(gw.stateDir, 'workspace-barsbot');
    const secret = path.join(outside, 'secret.txt');
    fs.writeFileSync(secret, 'top secret');
    fs.symlinkSync(secret, path.join(ws, 'USER.md'));
    assertError(await reader.request('agents.files.get', { agentId: 'barsbot', name: 'USER.md' }), 'INVALID_REQUEST', 'unsafe workspace file "USER.md"');
    assertError(await writer.request('agents.files.set', { agentId: 'barsbot', name: 'USER.md', content: 'overwrite' }), 'INVALID_REQUEST', 'unsafe workspace file "USER.md"');
    assert.equal(fs.readFileSync(secret, 'utf8'), 'top secret');
    const listed = (await reader.call('agents.files.list', { agentId: 'barsbot' })).files.find((f) => f.name === 'USER.md');
    assert.equal(listed.missing, true);
    fs.unlinkSync(path.join(ws, 'USER.md'));

    fs.linkSync(secret, path.join(ws, 'MEMORY.md'));
    assertError(await reader.request('agents.files.get', { agentId: 'barsbot', name: 'MEMORY.md' }), 'INVALID_REQUEST', 'unsafe workspace file "MEMORY.md"');
    assertError(await writer.request('agents.files.set', { agentId: 'barsbot', name: 'MEMORY.md', content: 'overwrite' }), 'INVALID_REQUEST', 'unsafe workspace file "MEMORY.md"');
    assert.equal(fs.readFileSync(secret, 'utf8'), 'top secret');
    fs.unlinkSync(path.join(ws, 'MEMORY.md'));

    // 2 MiB each: larger content is refused, a larger file on disk is not read.
    const big = 'x'.repeat(2 * 1024 * 1024 + 1);
    assertError(await writer.request('agents.files.set', { agentId: 'barsbot', name: 'MEMORY.md', content: big }), 'INVALID_REQUEST', /at \/content: must NOT have more than 2097152 characters/);
    assert.equal((await writer.call('agents.files.set', { agentId: 'barsbot', name: 'MEMORY.md', content: big.slice(1) })).file.size, 2 * 1024 * 1024);
    fs.writeFileSync(path.join(ws, 'BOOTSTRAP.md'), big);
    assertError(await reader.request('agents.files.get', { agentId: 'barsbot', name: 'BOOTSTRAP.md' }), 'INVALID_REQUEST', /larger than 2097152 bytes/);
  });

  test('agent.identity.get: configured, from IDENTITY.md, or the default', async () => {
    let id = await reader.call('agent.identity.get', {});
    assert.deepEqual(id, { agentId: 'main', name: 'Assistant', nameSource: 'default', avatar: 'A' });
    await writer.call('agents.files.set', { agentId: 'main', name: 'IDENTITY.md', content: '# IDENTITY\n\n- **Name:** Molty\n- Emoji: 🦞\n- Vibe: (pick one)\n' });
    id = await reader.call('agent.identity.get', { agentId: 'main' });
    assert.deepEqual(id, { agentId: 'main', name: 'Molty', nameSource: 'workspace', avatar: '🦞', emoji: '🦞' });
    id = await reader.call('agent.identity.get', { agentId: 'barsbot' });
    assert.deepEqual(id, { agentId: 'barsbot', name: 'Bars', nameSource: 'agent', avatar: '🐚', emoji: '🐚' });
    id = await reader.call('agent.identity.get', { sessionKey: 'agent:barsbot:chat' });
    assert.equal(id.agentId, 'barsbot');
    assertError(await reader.request('agent.identity.get', { sessionKey: 'agent::x' }), 'INVALID_REQUEST', 'invalid agent.identity.get params: malformed session key "agent::x"');
    const unknown = await reader.request('agent.identity.get', { agentId: 'ghost' });
    assertError(unknown, 'INVALID_REQUEST', 'Unknown agent id "ghost"');
    assert.equal(unknown.error.details.code, 'UNKNOWN_AGENT_ID');
  });

  test('agents.delete: main refused; the entry, its sessions and its workspace go', async () => {
    assertError(await writer.request('agents.delete', { agentId: 'main' }), 'INVALID_REQUEST', 'Agent "main" is the default agent and cannot be deleted.');
    assertError(await writer.request('agents.delete', { agentId: 'ghost' }), 'INVALID_REQUEST', 'agent "ghost" not found');
    assertError(await reader.request('agents.delete', { agentId: 'barsbot' }), 'FORBIDDEN');
    await writer.call('sessions.patch', { key: 'agent:barsbot:chat', label: 'doomed' });
    const ws = path.join(gw.stateDir, 'workspace-barsbot');
    const res = await writer.call('agents.delete', { agentId: 'barsbot' });
    assert.deepEqual(res, { ok: true, agentId: 'barsbot', removedBindings: 0, removed: [{ path: ws, method: 'trash' }] });
    assert.equal(fs.existsSync(ws), false);
    assert.equal(fs.readdirSync(path.join(gw.stateDir, 'trash')).length, 1);
    assert.equal(JSON.parse(gw.readConfig()).agents.entries.barsbot, undefined);
    assert.equal((await reader.call('agents.list', {})).agents.some((a) => a.id === 'barsbot'), false);
    assert.equal((await reader.call('sessions.list', { agentId: 'barsbot' })).count, 0);
    assertError(await writer.request('agents.files.get', { agentId: 'barsbot', name: 'SOUL.md' }), 'INVALID_REQUEST', 'agent "barsbot" not found');
    // A workspace outside the state dir is left where the user put it.
    const mine = path.join(outside, 'mine');
    await writer.call('agents.create', { name: 'Mine', workspace: mine });
    const kept = await writer.call('agents.delete', { agentId: 'mine' });
    assert.deepEqual(kept.failed, [{ path: mine, reason: 'outside the state directory; left in place' }]);
    assert.ok(fs.existsSync(path.join(mine, 'IDENTITY.md')));
    // deleteFiles: false keeps the workspace.
    await writer.call('agents.delete', { agentId: 'night-owl', deleteFiles: false });
    assert.ok(fs.existsSync(path.join(gw.stateDir, 'workspace-night-owl')));
  });
});
