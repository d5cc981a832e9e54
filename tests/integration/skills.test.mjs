// Skills (issue 10, the Skills part): skill folders with SKILL.md in the agent's workspace
// skills/ and in <state>/skills; skills.status reports eligibility and what is missing
// (bins on PATH, env in the process or the skill's config, config paths, os); the
// workspace wins a name clash; skills.bins (node role) lists the bins; skills.update
// writes skills.entries.<skillKey> {enabled, apiKey, env} atomically and status follows;
// the fake model's system prompt lists eligible skills only; skills.install runs
// download (sha256 checked, tar.gz extracted), node (a fake npm on PATH records its
// argv: no shell) with a timeout that kills a hanging installer; output in logs.tail.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { connectClient } from './lib/client.mjs';
import { startGateway, makeStateDir, eventually } from './lib/gateway.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { simNode } from './lib/simnode.mjs';

function writeSkill(root, dir, frontMatter, body = 'Instructions.\n') {
  fs.mkdirSync(path.join(root, dir), { recursive: true });
  fs.writeFileSync(path.join(root, dir, 'SKILL.md'), `---\n${frontMatter}\n---\n\n${body}`);
}

// A fake npm: records its argv one per line, then NPM_CONFIG_PREFIX, in
// $CG_FAKE_NPM_RECORD; the package "hang-pkg" makes it hang with a child in its process
// group, "fail-pkg" makes it fail.
function writeFakeNpm(dir) {
  fs.writeFileSync(path.join(dir, 'npm'), [
    '#!/bin/sh',
    'for a in "$@"; do printf \'%s\\n\' "$a"; done > "$CG_FAKE_NPM_RECORD"',
    'printf \'prefix=%s\\n\' "$NPM_CONFIG_PREFIX" >> "$CG_FAKE_NPM_RECORD"',
    'echo "added 1 package from fake npm"',
    'echo "npm warn fake warning" >&2',
    'if [ "$4" = "hang-pkg" ]; then sleep 67 & wait; fi',
    'if [ "$4" = "fail-pkg" ]; then echo "npm error 404 Not Found - fail-pkg" >&2; exit 7; fi',
    'exit 0',
  ].join('\n'), { mode: 0o755 });
  // A fake go: records its argv too.
  fs.writeFileSync(path.join(dir, 'go'), '#!/bin/sh\nfor a in "$@"; do printf \'%s\\n\' "$a"; done > "$CG_FAKE_NPM_RECORD"\necho "go: installed"\n', { mode: 0o755 });
}

const noSleepLeft = () => !execFileSync('ps', ['-eo', 'args']).toString().split('\n').some((l) => l.trim() === 'sleep 67');

// skills.status's entry for this SKILL.md, recorded from the real OpenClaw 2026.9.6 gateway
// (workspace skills/alpha, ALPHA_KEY unset, nope-bin absent, custom.flag unset); paths
// are this test's.
const ALPHA_SKILL_MD = 'name: alpha\ndescription: Alpha test skill.\nmetadata: {"openclaw": {"primaryEnv": "ALPHA_KEY", "requires": {"bins": ["sh", "nope-bin"], "env": ["ALPHA_KEY"], "config": ["other.flag"]}, "install": [{"id": "dl", "kind": "download", "url": "https://example.com/a.tar.gz"}, {"kind": "node", "package": "left-pad"}]}}';
const realAlphaEntry = (dir) => ({
  name: 'alpha', description: 'Alpha test skill.', source: 'openclaw-workspace', bundled: false,
  filePath: path.join(dir, 'SKILL.md'), baseDir: dir, skillKey: 'alpha', primaryEnv: 'ALPHA_KEY',
  always: false, disabled: false, blockedByAllowlist: false, blockedByAgentFilter: false, eligible: false,
  platformIncompatible: false, modelVisible: false, userInvocable: true, commandVisible: false,
  requirements: { bins: ['sh', 'nope-bin'], anyBins: [], env: ['ALPHA_KEY'], config: ['other.flag'], os: [] },
  missing: { bins: ['nope-bin'], anyBins: [], env: ['ALPHA_KEY'], config: ['other.flag'], os: [] },
  configChecks: [{ path: 'other.flag', satisfied: false }],
  install: [{ id: 'node-1', kind: 'node', label: 'Install left-pad (npm)', bins: [] }],
});

const find = (report, name) => report.skills.find((s) => s.name === name);
const assertError = (res, code, re) => {
  assert.equal(res.ok, false, JSON.stringify(res));
  assert.equal(res.error.code, code, JSON.stringify(res.error));
  assert.match(res.error.message, re);
};

describe('skills', () => {
  let gw, llm, op, server, stateDir, wsSkills, fakeBin, npmRecord, archive, archiveSha;

  before(async () => {
    stateDir = makeStateDir();
    wsSkills = path.join(stateDir, 'workspace', 'skills');
    const managed = path.join(stateDir, 'skills');

    // An archive served by a local HTTP server: pkg/bin/tool, unpacked with stripComponents 1.
    const src = fs.mkdtempSync(path.join(stateDir, 'src-'));
    fs.mkdirSync(path.join(src, 'pkg', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(src, 'pkg', 'bin', 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
    archive = path.join(stateDir, 'tool.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', src, 'pkg']);
    archiveSha = crypto.createHash('sha256').update(fs.readFileSync(archive)).digest('hex');
    server = http.createServer((req, res) => {
      if (req.url.split('?')[0] === '/dl/tool.tar.gz') {
        res.writeHead(200, { 'content-type': 'application/gzip' });
        res.end(fs.readFileSync(archive));
      } else {
        res.writeHead(404);
        res.end('nope');
      }
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${server.address().port}`;

    // The fake npm first on PATH.
    fakeBin = path.join(stateDir, 'fakebin');
    fs.mkdirSync(fakeBin);
    npmRecord = path.join(stateDir, 'npm-argv.txt');
    writeFakeNpm(fakeBin);

    writeSkill(wsSkills, 'ready', [
      'name: ready',
      'description: "Always ready: needs only sh."',
      'homepage: https://example.com/ready',
      'metadata: {"openclaw": {"emoji": "✅", "requires": {"bins": ["sh"]}}}',
    ].join('\n'));
    writeSkill(wsSkills, 'needs-bin', [
      'name: needs-bin',
      'description: Needs a binary nobody has.',
      'metadata:',
      '  {',
      '    "openclaw":',
      '      {',
      '        "requires": { "bins": ["cg-no-such-bin-xyz", "sh"], "anyBins": ["cg-nope-1", "cg-nope-2"] },',
      '      },',
      '  }',
    ].join('\n'));
    writeSkill(wsSkills, 'needs-env', [
      'name: needs-env',
      'description: >',
      '  Needs an API key',
      '  and another variable.',
      'metadata:',
      '  openclaw:',
      '    primaryEnv: CG_SKILL_TEST_KEY',
      '    requires:',
      '      env:',
      '        - CG_SKILL_TEST_KEY',
      '        - CG_SKILL_OTHER',
      '        - CG_SKILL_PRESENT',
    ].join('\n'));
    writeSkill(wsSkills, 'needs-config', [
      'name: needs-config',
      'description: Needs config paths.',
      'metadata: {"openclaw": {"requires": {"config": ["custom.flag", "custom.off", "browser.enabled"]}}}',
    ].join('\n'));
    writeSkill(wsSkills, 'other-os', [
      'name: other-os',
      'description: Only on another platform.',
      `metadata: {"openclaw": {"os": ["${process.platform === 'win32' ? 'darwin' : 'win32'}"]}}`,
    ].join('\n'));
    writeSkill(wsSkills, 'alpha', ALPHA_SKILL_MD);
    writeSkill(wsSkills, 'dup', 'name: dup\ndescription: the workspace copy');
    writeSkill(managed, 'dup', 'name: dup\ndescription: the managed copy');
    writeSkill(managed, 'managed-only', 'name: managed-only\ndescription: Lives in the state dir.\nmetadata: {"openclaw": {"requires": {"bins": ["sh"]}}}');
    writeSkill(wsSkills, 'broken', 'name: broken\ndescription: "never closed');
    writeSkill(wsSkills, 'installer', [
      'name: installer',
      'description: Has installers.',
      'metadata:',
      '  {',
      '    "openclaw":',
      '      {',
      '        "skillKey": "inst",',
      '        "requires": { "bins": ["cg-installed-tool"] },',
      '        "install":',
      '          [',
      `            { "id": "dl-ok", "kind": "download", "url": "${base}/dl/tool.tar.gz", "sha256": "${archiveSha}", "archive": "tar.gz", "extract": true, "stripComponents": 1, "targetDir": "runtime", "bins": ["tool"] },`,
      `            { "id": "dl-bad", "kind": "download", "url": "${base}/dl/tool.tar.gz", "sha256": "${'0'.repeat(64)}", "extract": true, "targetDir": "bad" },`,
      `            { "id": "dl-escape", "kind": "download", "url": "${base}/dl/tool.tar.gz", "targetDir": "../../escape" },`,
      `            { "id": "dl-404", "kind": "download", "url": "${base}/dl/missing.tar.gz" },`,
      `            { "id": "dl-plain", "kind": "download", "url": "${base}/dl/tool.tar.gz?x=1", "extract": false },`,
      '            { "id": "uv", "kind": "uv", "package": "some-tool" },',
      '            { "id": "npm", "kind": "node", "package": "left-pad@>1.0|2", "bins": ["left-pad"] },',
      '            { "id": "npm-semicolon", "kind": "node", "package": "evil;touch pwned" },',
      '            { "id": "npm-hang", "kind": "node", "package": "hang-pkg" },',
      '            { "id": "npm-fail", "kind": "node", "package": "fail-pkg" },',
      '            { "kind": "go", "module": "example.com/cmd/thing@latest", "bins": ["thing"] },',
      '          ],',
      '      },',
      '  }',
    ].join('\n'));

    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      stateDir,
      config: {
        custom: { flag: true, off: false },
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] } } },
        agents: { defaults: { model: 'fake/m1' } },
      },
      env: { PATH: `${fakeBin}:${process.env.PATH}`, CG_SKILL_PRESENT: 'yes', CG_FAKE_NPM_RECORD: npmRecord },
    });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
  });

  after(async () => {
    op?.close();
    await gw?.stop();
    await llm?.close();
    await new Promise((r) => (server ? server.close(r) : r()));
  });

  test('skills.status: eligibility and what each skill is missing', async () => {
    const report = await op.call('skills.status', {});
    assert.equal(report.workspaceDir, path.join(stateDir, 'workspace'));
    assert.equal(report.managedSkillsDir, path.join(stateDir, 'skills'));
    assert.equal(report.agentId, 'main');

    const ready = find(report, 'ready');
    assert.equal(ready.eligible, true);
    assert.equal(ready.source, 'openclaw-workspace');
    assert.equal(ready.description, 'Always ready: needs only sh.');
    assert.equal(ready.filePath, path.join(wsSkills, 'ready', 'SKILL.md'));
    assert.equal(ready.baseDir, path.join(wsSkills, 'ready'));
    assert.equal(ready.skillKey, 'ready');
    assert.equal(ready.emoji, '✅');
    assert.equal(ready.homepage, 'https://example.com/ready');
    assert.deepEqual(ready.requirements.bins, ['sh']);
    assert.deepEqual(ready.missing, { bins: [], anyBins: [], env: [], config: [], os: [] });

    const nb = find(report, 'needs-bin');
    assert.equal(nb.eligible, false);
    assert.deepEqual(nb.missing.bins, ['cg-no-such-bin-xyz']);
    assert.deepEqual(nb.missing.anyBins, ['cg-nope-1', 'cg-nope-2']);

    const ne = find(report, 'needs-env');
    assert.equal(ne.description, 'Needs an API key and another variable.\n');
    assert.equal(ne.primaryEnv, 'CG_SKILL_TEST_KEY');
    assert.equal(ne.eligible, false);
    assert.deepEqual(ne.missing.env, ['CG_SKILL_TEST_KEY', 'CG_SKILL_OTHER'], 'CG_SKILL_PRESENT comes from the environment');

    const nc = find(report, 'needs-config');
    assert.equal(nc.eligible, false);
    assert.deepEqual(nc.missing.config, ['custom.off']);
    assert.deepEqual(nc.configChecks, [
      { path: 'custom.flag', satisfied: true },
      { path: 'custom.off', satisfied: false },
      { path: 'browser.enabled', satisfied: true },
    ]);

    const os = find(report, 'other-os');
    assert.equal(os.eligible, false);
    assert.equal(os.platformIncompatible, true);
    assert.equal(os.missing.os.length, 1);

    assert.equal(find(report, 'broken'), undefined, 'a SKILL.md that does not parse is left out');
    const inst = find(report, 'installer');
    assert.equal(inst.skillKey, 'inst');
    assert.deepEqual(inst.install, [{ id: 'uv', kind: 'uv', label: 'Install some-tool (uv)', bins: [] }],
      'one preferred option (uv, then node, before go and download), as OpenClaw offers it');
  });

  test('a status entry is exactly what the real gateway reported for the same SKILL.md', async () => {
    const report = await op.call('skills.status', {});
    assert.deepEqual(find(report, 'alpha'), realAlphaEntry(path.join(wsSkills, 'alpha')));
  });

  test('the workspace copy wins a name clash with <state>/skills; managed skills are listed', async () => {
    const report = await op.call('skills.status', {});
    const dups = report.skills.filter((s) => s.name === 'dup');
    assert.equal(dups.length, 1);
    assert.equal(dups[0].description, 'the workspace copy');
    assert.equal(dups[0].source, 'openclaw-workspace');
    const managed = find(report, 'managed-only');
    assert.equal(managed.source, 'openclaw-managed');
    assert.equal(managed.filePath, path.join(stateDir, 'skills', 'managed-only', 'SKILL.md'));
    assert.equal(managed.eligible, true);
  });

  test('skills.status refusals: unknown agent, bad params', async () => {
    assertError(await op.request('skills.status', { agentId: 'nobody' }), 'INVALID_REQUEST', /unknown agent id "nobody"/);
    assertError(await op.request('skills.status', { bogus: 1 }), 'INVALID_REQUEST', /invalid skills.status params: .*bogus/);
    const reader = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    assert.ok((await reader.call('skills.status', {})).skills.length > 0, 'operator.read may read status');
    assertError(await reader.request('skills.update', { skillKey: 'ready', enabled: false }), 'FORBIDDEN', /operator.admin/);
    assertError(await reader.request('skills.install', { name: 'installer', installId: 'npm' }), 'FORBIDDEN', /operator.admin/);
    reader.close();
  });

  test('skills.bins: the bins every skill names, sorted; for nodes only', async () => {
    const node = await simNode(gw);
    const res = await node.client.call('skills.bins', {});
    for (const b of ['sh', 'cg-no-such-bin-xyz', 'cg-nope-1', 'cg-nope-2', 'cg-installed-tool', 'tool', 'left-pad', 'thing'])
      assert.ok(res.bins.includes(b), `${b} in ${JSON.stringify(res.bins)}`);
    assert.deepEqual(res.bins, [...res.bins].sort());
    assert.equal(new Set(res.bins).size, res.bins.length);
    assertError(await node.client.request('skills.bins', { x: 1 }), 'INVALID_REQUEST', /invalid skills.bins params/);
    node.client.close();
    assertError(await op.request('skills.bins', {}), 'INVALID_REQUEST', /unauthorized role: operator/);
  });

  test('skills.update: env and apiKey make a skill eligible; enabled:false disables it; written to the config', async () => {
    const before = gw.readConfig();
    let res = await op.call('skills.update', { skillKey: 'needs-env', apiKey: 'sk-skill-secret', env: { CG_SKILL_OTHER: 'v1', '  ': 'ignored' } });
    assert.equal(res.ok, true);
    assert.equal(res.skillKey, 'needs-env');
    assert.deepEqual(res.config, { apiKey: '__OPENCLAW_REDACTED__', env: { CG_SKILL_OTHER: 'v1' } });
    let file = JSON.parse(gw.readConfig());
    assert.deepEqual(file.skills.entries['needs-env'], { apiKey: 'sk-skill-secret', env: { CG_SKILL_OTHER: 'v1' } });
    assert.deepEqual(file.custom, JSON.parse(before).custom, 'the rest of the file stays');
    assert.ok(!fs.readdirSync(stateDir).some((f) => f.startsWith('clawgate.json.') || f.endsWith('.tmp')), 'no temp file left (atomic write)');

    let ne = find(await op.call('skills.status', {}), 'needs-env');
    assert.equal(ne.eligible, true, JSON.stringify(ne.missing));

    res = await op.call('skills.update', { skillKey: 'needs-env', env: { CG_SKILL_OTHER: '' }, apiKey: '__OPENCLAW_REDACTED__' });
    file = JSON.parse(gw.readConfig());
    assert.deepEqual(file.skills.entries['needs-env'], { apiKey: 'sk-skill-secret', env: {} }, 'empty env value removes it; the placeholder keeps the key');
    ne = find(await op.call('skills.status', {}), 'needs-env');
    assert.deepEqual(ne.missing.env, ['CG_SKILL_OTHER']);

    await op.call('skills.update', { skillKey: 'ready', enabled: false });
    let ready = find(await op.call('skills.status', {}), 'ready');
    assert.equal(ready.disabled, true);
    assert.equal(ready.eligible, false);
    assert.equal(JSON.parse(gw.readConfig()).skills.entries.ready.enabled, false);
    await op.call('skills.update', { skillKey: 'ready', enabled: true });
    ready = find(await op.call('skills.status', {}), 'ready');
    assert.equal(ready.eligible, true);

    assertError(await op.request('skills.update', { enabled: true }), 'INVALID_REQUEST', /invalid skills.update params: .*skillKey/);
    assertError(await op.request('skills.update', { skillKey: 'x', env: { A: 1 } }), 'INVALID_REQUEST', /invalid skills.update params: at \/env\/A/);
    assertError(await op.request('skills.update', { source: 'clawhub', slug: 'x' }), 'INVALID_REQUEST', /not supported/);
  });

  test('the system prompt seen by the model lists eligible skills only', async () => {
    llm.script({ reply: 'ok' });
    const n = llm.completions().length;
    await op.call('chat.send', { sessionKey: 'main', message: 'which skills?', idempotencyKey: `skills-${Date.now()}` });
    const req = await llm.waitForRequest((q) => q.kind === 'openai' && llm.completions().indexOf(q) >= n, 10000);
    const system = req.body.messages.filter((m) => m.role === 'system').map((m) => (typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''))).join('\n');
    assert.match(system, /<available_skills>[\s\S]*<\/available_skills>/);
    assert.ok(system.includes(`<name>ready</name>\n    <description>Always ready: needs only sh.</description>\n    <location>${path.join(wsSkills, 'ready', 'SKILL.md')}</location>`), system);
    assert.ok(system.includes('<name>managed-only</name>'));
    for (const missing of ['needs-bin', 'needs-config', 'other-os', 'installer'])
      assert.ok(!system.includes(`<name>${missing}</name>`), `${missing} is not eligible`);
  });

  test('the prompt keeps to skills.limits: at most maxSkillsInPrompt skills, with OpenClaw\'s note', async () => {
    const patch = async (obj) => {
      const { hash } = await op.call('config.get', {});
      await op.call('config.patch', { raw: JSON.stringify(obj), baseHash: hash });
    };
    await patch({ skills: { limits: { maxSkillsInPrompt: 1 } } });
    try {
      llm.script({ reply: 'ok' });
      const n = llm.completions().length;
      await op.call('chat.send', { sessionKey: 'limits', message: 'skills?', idempotencyKey: `skills-limit-${Date.now()}` });
      const req = await llm.waitForRequest((q) => q.kind === 'openai' && llm.completions().indexOf(q) >= n, 10000);
      const system = req.body.messages.filter((m) => m.role === 'system').map((m) => (typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''))).join('\n');
      assert.equal(system.match(/<skill>/g).length, 1, system);
      assert.match(system, /⚠️ Skills truncated: included 1 of [2-9]\d*\. Run `openclaw skills check` to audit\./);
      assert.ok(system.includes('<name>dup</name>'), 'the first by name');
    } finally {
      await patch({ skills: { limits: null } });
    }
  });

  test('skills.install download: fetched, sha256 checked, extracted under <state>/tools/<skillKey>', async () => {
    const res = await op.call('skills.install', { name: 'installer', installId: 'dl-ok', timeoutMs: 20000 }, { timeoutMs: 30000 });
    assert.equal(res.ok, true, JSON.stringify(res));
    const target = path.join(stateDir, 'tools', 'inst', 'runtime');
    assert.equal(res.message, `Downloaded and extracted to ${target}`);
    assert.equal(fs.readFileSync(path.join(target, 'bin', 'tool'), 'utf8'), '#!/bin/sh\necho tool\n');
    assert.ok(!fs.readdirSync(path.join(stateDir, 'tools', 'inst')).some((f) => f.startsWith('.')), 'no staging or temp file left');
  });

  test('skills.install download refusals: a wrong sha256, a targetDir outside the tools folder, HTTP 404', async () => {
    const bad = await op.request('skills.install', { name: 'installer', installId: 'dl-bad' }, { timeoutMs: 30000 });
    assertError(bad, 'UNAVAILABLE', new RegExp(`SHA-256 mismatch for tool.tar.gz: expected ${'0'.repeat(64)}, actual ${archiveSha}`));
    assert.equal(bad.error.details.ok, false);
    assert.ok(!fs.existsSync(path.join(stateDir, 'tools', 'inst', 'bad', 'tool.tar.gz')), 'the download was discarded');
    await eventually(() => !fs.readdirSync(path.join(stateDir, 'tools', 'inst')).some((f) => f.startsWith('.')), 5000, 'temp files removed');

    assertError(await op.request('skills.install', { name: 'installer', installId: 'dl-escape' }), 'UNAVAILABLE', /Refusing to install outside the skill tools directory/);
    assert.ok(!fs.existsSync(path.join(stateDir, 'escape')));
    assertError(await op.request('skills.install', { name: 'installer', installId: 'dl-404' }), 'UNAVAILABLE', /Download failed/);
  });

  test('skills.install download without extraction: the file is kept as downloaded', async () => {
    const res = await op.call('skills.install', { name: 'installer', installId: 'dl-plain' });
    const file = path.join(stateDir, 'tools', 'inst', 'tool.tar.gz');
    assert.equal(res.message, `Downloaded to ${file}`);
    assert.equal(res.stdout, `downloaded=${fs.statSync(archive).size}`);
    assert.deepEqual(fs.readFileSync(file), fs.readFileSync(archive));
  });

  test('skills.install go and uv: go gets its argv; a missing installer is a clear error', async (t) => {
    fs.rmSync(npmRecord, { force: true });
    const res = await op.call('skills.install', { name: 'installer', installId: 'go-10' });
    assert.equal(res.ok, true);
    assert.equal(res.stdout, 'go: installed');
    assert.deepEqual(fs.readFileSync(npmRecord, 'utf8').split('\n').filter(Boolean), ['install', 'example.com/cmd/thing@latest']);
    const uvOnPath = (process.env.PATH || '').split(':').some((d) => d && fs.existsSync(path.join(d, 'uv')));
    if (uvOnPath) {
      t.skip('uv is installed on this machine');
      return;
    }
    assertError(await op.request('skills.install', { name: 'installer', installId: 'uv' }), 'UNAVAILABLE', /^uv not installed \(not found on PATH\)$/);
  });

  test('skills.install node: npm gets an argv (no shell), its prefix under <state>/tools; output in logs.tail', async () => {
    fs.rmSync(npmRecord, { force: true });
    const res = await op.call('skills.install', { name: 'installer', installId: 'npm' });
    assert.deepEqual(res, { ok: true, message: 'Installed', stdout: 'added 1 package from fake npm', stderr: 'npm warn fake warning', code: 0 });
    assert.deepEqual(fs.readFileSync(npmRecord, 'utf8').split('\n').filter(Boolean), [
      'install', '-g', '--ignore-scripts', 'left-pad@>1.0|2', // one argument: a shell would have piped and redirected
      `prefix=${path.join(stateDir, 'tools', 'node', 'npm')}`,
    ]);
    assert.ok(!fs.existsSync(path.join(stateDir, '1.0')) && !fs.existsSync('1.0'), 'no redirection happened');

    const semi = await op.request('skills.install', { name: 'installer', installId: 'npm-semicolon' });
    assertError(semi, 'UNAVAILABLE', /node package value contains invalid characters: evil;touch pwned/);

    const failed = await op.request('skills.install', { name: 'installer', installId: 'npm-fail' });
    assertError(failed, 'UNAVAILABLE', /^Install failed \(exit 7\): npm error 404 Not Found - fail-pkg$/);
    assert.equal(failed.error.details.code, 7);

    await eventually(async () => {
      const tail = await op.call('logs.tail', { limit: 500 });
      return tail.lines.some((l) => l.includes('added 1 package from fake npm'));
    }, 5000, 'installer output in logs.tail');

    assertError(await op.request('skills.install', { name: 'nope', installId: 'npm' }), 'UNAVAILABLE', /^Skill not found: nope$/);
    assertError(await op.request('skills.install', { name: 'installer', installId: 'nope' }), 'UNAVAILABLE', /^Installer not found: nope$/);
    assertError(await op.request('skills.install', { name: 'installer' }), 'INVALID_REQUEST', /invalid skills.install params: .*installId/);
    assertError(await op.request('skills.install', { name: 'installer', installId: 'npm', timeoutMs: 5 }), 'INVALID_REQUEST', /timeoutMs/);
  });

  test('skills.install: a hanging installer is killed at the timeout with a clear error', async () => {
    const started = Date.now();
    const res = await op.request('skills.install', { name: 'installer', installId: 'npm-hang', timeoutMs: 1500 }, { timeoutMs: 30000 });
    assertError(res, 'UNAVAILABLE', /^Install timed out after 1500 ms \(installer killed\)$/);
    assert.ok(Date.now() - started < 20000, 'answered well before the hung child would end');
    assert.equal(res.error.details.stdout, 'added 1 package from fake npm');
    // The whole process group went: no `sleep 67` of the fake npm is left.
    await eventually(noSleepLeft, 5000, 'the installer\'s children killed');
  });

  test('a client that leaves cancels its install: the installer is killed', async () => {
    fs.rmSync(npmRecord, { force: true });
    const c = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    c.request('skills.install', { name: 'installer', installId: 'npm-hang', timeoutMs: 60000 }, { timeoutMs: 60000 }).catch(() => {});
    await eventually(() => fs.existsSync(npmRecord) && !noSleepLeft(), 5000, 'the installer and its child started');
    c.terminate();
    await eventually(noSleepLeft, 5000, 'the installer killed when its client left');
    await eventually(() => gw.logLines().some((l) => l.message === 'skill install abandoned' && l.reason === 'client gone'), 5000, 'logged');
  });
});

describe('skills install at shutdown', () => {
  test('an install in flight is answered UNAVAILABLE and killed; the gateway exits cleanly', async () => {
    const stateDir = makeStateDir();
    const fakeBin = path.join(stateDir, 'fakebin');
    fs.mkdirSync(fakeBin);
    writeFakeNpm(fakeBin);
    const record = path.join(stateDir, 'npm-argv.txt');
    writeSkill(path.join(stateDir, 'workspace', 'skills'), 'slow', 'name: slow\ndescription: slow\nmetadata: {"openclaw": {"install": [{"id": "npm", "kind": "node", "package": "hang-pkg"}]}}');
    const gw = await startGateway({ stateDir, env: { PATH: `${fakeBin}:${process.env.PATH}`, CG_FAKE_NPM_RECORD: record } });
    const op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    const pending = op.request('skills.install', { name: 'slow', installId: 'npm', timeoutMs: 60000 }, { timeoutMs: 60000 });
    await eventually(() => fs.existsSync(record) && !noSleepLeft(), 5000, 'the installer and its child started');
    const stopped = gw.stop();
    const res = await pending.catch((e) => ({ closed: e.message }));
    if (!res.closed) assertError(res, 'UNAVAILABLE', /shutting down/);
    await stopped;
    await eventually(noSleepLeft, 5000, 'the installer killed at shutdown');
  });
});
