// The onboarding wizard (issue 10, Wizard): wizard.start / next / cancel / status over the
// WebSocket with the fake model provider (a good and a bad key), every frame checked
// against the schema (WizardStartResult, WizardNextResult, WizardStatusResult); one
// wizard at a time; the written config used at once (the new token, the chosen model
// answering chat.send) and after a restart; cancel and an idle timeout writing nothing;
// `clawgate onboard` through a stdin pipe writing the same config, EOF writing nothing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { connectClient, GatewayClient } from './lib/client.mjs';
import { startGateway, makeStateDir, writeConfig, cleanEnv, assertNoSanitizerReport, waitForExit, sleep } from './lib/gateway.mjs';
import { validate } from './lib/schema.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';

const OLD_TOKEN = 'old-token-1234567890';
const NEW_TOKEN = 'new-token-abcdef123456';
const WORKSPACE = path.join(os.tmpdir(), 'clawgate-wizard-ws');
const initialConfig = () => ({ gateway: { auth: { mode: 'token', token: OLD_TOKEN } }, custom: { keep: [1, 2] } });
const readConfig = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'clawgate.json'), 'utf8'));

/** The answers of one walk, in order: [stepId, value]. */
const answers = (llm, key = 'sk-good') => [
  ['auth-mode', 'token'],
  ['auth-token', NEW_TOKEN],
  ['model-provider', 'openai-compatible'],
  ['model-base-url', llm.openaiBaseUrl],
  ['model-api-key', key],
  ['model-default', 'fake-model-2'],
  ['workspace', WORKSPACE],
  ['agent-id', 'main'],
  ['agent-name', 'Main'],
  ['confirm', true],
];

async function connectWith(gw, token, scopes = ['operator.admin']) {
  const c = await GatewayClient.open(gw.url, { token });
  const res = await c.connect({ scopes });
  return { c, res };
}

describe('wizard over the WebSocket', () => {
  let gw, llm, op;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-good' });
    gw = await startGateway({ auth: null, token: null, config: initialConfig(), keepStateDir: true });
    op = await connectClient(gw, { token: OLD_TOKEN });
  });
  after(async () => {
    op?.close();
    await gw?.stop();
    await llm?.close();
  });

  test('needs operator.admin; bad params are INVALID_REQUEST', async () => {
    const { c: reader } = await connectWith(gw, OLD_TOKEN, ['operator.read', 'operator.write']);
    for (const method of ['wizard.start', 'wizard.next', 'wizard.cancel', 'wizard.status']) {
      const res = await reader.request(method, method === 'wizard.start' ? {} : { sessionId: 'x' });
      assert.equal(res.ok, false);
      assert.equal(res.error.code, 'FORBIDDEN', method);
      assert.equal(res.error.details.missingScope, 'operator.admin');
    }
    reader.close();
    for (const [method, params, what] of [
      ['wizard.start', { bogus: 1 }, /unexpected property 'bogus'/],
      ['wizard.start', { flow: 'channels' }, /channels flow is not supported/],
      ['wizard.next', {}, /sessionId/],
      ['wizard.next', { sessionId: 'x', answer: { value: 1 } }, /stepId/],
      ['wizard.status', { sessionId: '' }, /sessionId/],
    ]) {
      const res = await op.request(method, params);
      assert.equal(res.ok, false, method);
      assert.equal(res.error.code, 'INVALID_REQUEST');
      assert.match(res.error.message, new RegExp(`^invalid ${method.replace('.', '\\.')} params: `));
      assert.match(res.error.message, what);
    }
  });

  test('a full walk: one at a time, status, a wrong step, a bad key asked again, the config written and used at once', async () => {
    const before = fs.readFileSync(gw.configPath, 'utf8');
    const start = await op.call('wizard.start', {});
    assert.equal(typeof start.sessionId, 'string');
    assert.equal(start.done, false);
    assert.equal(start.status, 'running');
    assert.equal(start.step.id, 'auth-mode');
    assert.equal(start.step.type, 'select');
    assert.deepEqual(start.step.options.map((o) => o.value), ['token', 'password', 'none']);
    const sessionId = start.sessionId;

    const busy = await op.request('wizard.start', {});
    assert.equal(busy.ok, false);
    assert.equal(busy.error.code, 'UNAVAILABLE');
    assert.equal(busy.error.message, 'wizard already running');
    assert.equal(busy.error.retryable, true);

    const status = await op.call('wizard.status', { sessionId });
    validate('WizardStatusResult', status);
    assert.deepEqual(status, { status: 'running' });

    const unknown = await op.request('wizard.next', { sessionId: 'no-such-session' });
    assert.equal(unknown.ok, false);
    assert.equal(unknown.error.message, 'wizard not found');
    assert.deepEqual(unknown.error.details, { code: 'WIZARD_NOT_FOUND' });

    const wrong = await op.request('wizard.next', { sessionId, answer: { stepId: 'model-provider', value: 'openai' } });
    assert.equal(wrong.ok, false);
    assert.equal(wrong.error.code, 'INVALID_REQUEST');
    assert.match(wrong.error.message, /no pending step/);

    // Without an answer, next shows the current step again.
    assert.equal((await op.call('wizard.next', { sessionId })).step.id, 'auth-mode');

    let result;
    for (const [stepId, value] of answers(llm, 'sk-bad')) {
      result = await op.call('wizard.next', { sessionId, answer: { stepId, value } });
      if (stepId === 'model-api-key') {
        // The live check refused the key: the same step again, with the reason.
        assert.equal(result.done, false);
        assert.equal(result.step.id, 'model-api-key');
        assert.equal(result.step.sensitive, true);
        assert.match(result.error, /refused the key \(HTTP 401/);
        assert.match(result.step.message, /refused the key/);
        const models = llm.requests.filter((r) => r.kind === 'models');
        assert.equal(models.at(-1).headers.authorization, 'Bearer sk-bad');
        result = await op.call('wizard.next', { sessionId, answer: { stepId, value: 'sk-good' } });
        assert.equal(result.step.id, 'model-default');
        assert.deepEqual(result.step.options.map((o) => o.value), ['fake-model', 'fake-model-2']);
      } else if (stepId !== 'confirm') {
        assert.equal(result.done, false, `after ${stepId}: ${JSON.stringify(result)}`);
        assert.equal(result.error, undefined, `after ${stepId}: ${result.error}`);
      }
      if (stepId === 'agent-name') {
        assert.equal(result.step.type, 'confirm');
        assert.match(result.step.message, /Default model: custom\/fake-model-2/);
        assert.doesNotMatch(result.step.message, /sk-good/);
        assert.equal(fs.readFileSync(gw.configPath, 'utf8'), before, 'nothing written before the confirm');
      }
    }
    assert.deepEqual(result, { done: true, status: 'done' });
    const gone = await op.request('wizard.status', { sessionId });
    assert.equal(gone.error?.details?.code, 'WIZARD_NOT_FOUND', 'a reported end drops the session');

    const doc = readConfig(gw.stateDir);
    assert.deepEqual(doc.custom, { keep: [1, 2] }, 'unrelated keys stay');
    assert.deepEqual(doc.gateway.auth, { mode: 'token', token: NEW_TOKEN });
    assert.deepEqual(doc.models.providers.custom, {
      baseUrl: llm.openaiBaseUrl.replace(/\/+$/, ''), api: 'openai-completions', apiKey: 'sk-good',
      models: [{ id: 'fake-model-2', name: 'fake-model-2' }],
    });
    assert.deepEqual(doc.agents, { defaults: { model: { primary: 'custom/fake-model-2' }, workspace: WORKSPACE }, entries: { main: { name: 'Main' } } });

    // The running gateway took it at once: the new token works, the old one no longer.
    const fresh = await connectWith(gw, NEW_TOKEN);
    assert.equal(fresh.res.ok, true, JSON.stringify(fresh.res.error));
    const stale = await connectWith(gw, OLD_TOKEN);
    assert.equal(stale.res.ok, false);
    assert.equal(stale.res.error.details.code, 'AUTH_TOKEN_MISMATCH');
    stale.c.terminate();

    // The chosen model answers a chat.
    llm.script({ reply: 'hello from the wizard model' });
    const runId = 'wizard-run-1';
    await fresh.c.call('chat.send', { sessionKey: 'main', message: 'hi', idempotencyKey: runId });
    const fin = await fresh.c.waitEvent('chat', { timeoutMs: 10000, predicate: (e) => e.payload.runId === runId && ['final', 'error'].includes(e.payload.state) });
    assert.equal(fin.payload.state, 'final', JSON.stringify(fin.payload));
    const completion = llm.completions().at(-1);
    assert.equal(completion.body.model, 'fake-model-2');
    assert.equal(completion.headers.authorization, 'Bearer sk-good');
    fresh.c.close();

    // And after a restart on the written file.
    op.close();
    await gw.stop();
    gw = await startGateway({ auth: null, token: null, stateDir: gw.stateDir });
    const again = await connectWith(gw, NEW_TOKEN);
    assert.equal(again.res.ok, true, JSON.stringify(again.res.error));
    op = again.c;
  });

  test('a next waiting on the key check is deferred, and a cancel ends it', async () => {
    // A provider that accepts the connection and never answers.
    const sockets = new Set();
    const silent = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const before = fs.readFileSync(gw.configPath, 'utf8');
      const { sessionId } = await op.call('wizard.start', {});
      await op.call('wizard.next', { sessionId, answer: { stepId: 'auth-mode', value: 'none' } });
      await op.call('wizard.next', { sessionId, answer: { stepId: 'model-provider', value: 'openai-compatible' } });
      await op.call('wizard.next', { sessionId, answer: { stepId: 'model-base-url', value: `http://127.0.0.1:${silent.address().port}/v1` } });
      const waiting = op.call('wizard.next', { sessionId, answer: { stepId: 'model-api-key', value: 'sk-any' } });
      let answered = false;
      waiting.then(() => { answered = true; }, () => { answered = true; });
      await sleep(300);
      assert.equal(answered, false, 'wizard.next waits for the check');
      assert.deepEqual(await op.call('wizard.status', { sessionId }), { status: 'running' });
      const cancelled = await op.call('wizard.cancel', { sessionId });
      assert.deepEqual(cancelled, { status: 'cancelled', error: 'cancelled' });
      assert.deepEqual(await waiting, { done: true, status: 'cancelled', error: 'cancelled' });
      assert.equal(fs.readFileSync(gw.configPath, 'utf8'), before);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('cancel writes nothing and frees the slot', async () => {
    const before = fs.readFileSync(gw.configPath, 'utf8');
    const { sessionId } = await op.call('wizard.start', { workspace: '/srv/hint' });
    await op.call('wizard.next', { sessionId, answer: { stepId: 'auth-mode', value: 'none' } });
    const step = await op.call('wizard.next', { sessionId, answer: { stepId: 'model-provider', value: 'skip' } });
    assert.equal(step.step.id, 'workspace');
    assert.equal(step.step.initialValue, '/srv/hint', 'the start param is the suggestion');
    const cancelled = await op.call('wizard.cancel', { sessionId });
    validate('WizardStatusResult', cancelled);
    assert.deepEqual(cancelled, { status: 'cancelled', error: 'cancelled' });
    assert.equal(fs.readFileSync(gw.configPath, 'utf8'), before);
    const after = await op.request('wizard.next', { sessionId, answer: { stepId: 'workspace', value: '/x' } });
    assert.equal(after.error?.details?.code, 'WIZARD_NOT_FOUND');
    const next = await op.call('wizard.start', {});
    assert.equal(next.step.id, 'auth-mode');
    assert.notEqual(next.sessionId, sessionId);
    await op.call('wizard.cancel', { sessionId: next.sessionId });
    await sleep(300);
    assert.equal(fs.readFileSync(gw.configPath, 'utf8'), before);
  });
});

test('an abandoned wizard expires after wizard.sessionTimeoutMs and writes nothing', async () => {
  const gw = await startGateway({ config: { wizard: { sessionTimeoutMs: 300 } } });
  try {
    const op = await connectClient(gw);
    const before = fs.readFileSync(gw.configPath, 'utf8');
    const { sessionId } = await op.call('wizard.start', {});
    await op.call('wizard.next', { sessionId, answer: { stepId: 'auth-mode', value: 'none' } });
    await sleep(1000);
    const status = await op.call('wizard.status', { sessionId });
    validate('WizardStatusResult', status);
    assert.equal(status.status, 'cancelled');
    assert.match(status.error, /expired/);
    assert.equal(fs.readFileSync(gw.configPath, 'utf8'), before);
    const again = await op.call('wizard.start', {});
    assert.equal(again.status, 'running', 'an expired session does not block the next');
    op.close();
  } finally {
    await gw.stop();
  }
});

/** Runs `clawgate onboard --state-dir dir`, writing `lines` to its stdin, then EOF. */
async function onboard(dir, lines) {
  const proc = spawn(process.env.CLAWGATE_BIN, ['onboard', '--state-dir', dir], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  proc.stdin.end(lines.map((l) => `${l}\n`).join(''));
  const r = await waitForExit(proc, 20000);
  if (!r) {
    proc.kill('SIGKILL');
    throw new Error(`clawgate onboard did not exit\n${stdout}\n${stderr}`);
  }
  await new Promise((resolve) => (proc.exitCode !== null ? setImmediate(resolve) : proc.on('close', resolve)));
  assertNoSanitizerReport(stderr, 'clawgate onboard');
  return { code: r.code, stdout, stderr };
}

describe('clawgate onboard', () => {
  let llm;
  before(async () => { llm = await startFakeLlm({ apiKey: 'sk-good' }); });
  after(async () => { await llm?.close(); });

  test('through a stdin pipe it writes the same config as the WebSocket wizard', async () => {
    const dir = makeStateDir();
    writeConfig(dir, initialConfig());
    // Select by number or by value; a bad key first, asked again.
    const lines = ['1', NEW_TOKEN, 'openai-compatible', llm.openaiBaseUrl, 'sk-bad', 'sk-good', '2', WORKSPACE, '', 'Main', 'y'];
    const r = await onboard(dir, lines);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /refused the key/);
    assert.match(r.stdout, /configuration written to /);
    assert.doesNotMatch(r.stdout, /sk-good|new-token/, 'secrets are not printed');
    const doc = readConfig(dir);
    assert.deepEqual(doc, {
      ...initialConfig(),
      gateway: { auth: { mode: 'token', token: NEW_TOKEN } },
      models: { providers: { custom: { baseUrl: llm.openaiBaseUrl.replace(/\/+$/, ''), api: 'openai-completions', apiKey: 'sk-good', models: [{ id: 'fake-model-2', name: 'fake-model-2' }] } } },
      agents: { defaults: { model: { primary: 'custom/fake-model-2' }, workspace: WORKSPACE }, entries: { main: { name: 'Main' } } },
    });
    // A gateway starts on it, and the new token connects.
    const gw = await startGateway({ auth: null, token: null, stateDir: dir });
    try {
      const { c, res } = await connectWith(gw, NEW_TOKEN);
      assert.equal(res.ok, true, JSON.stringify(res.error));
      c.close();
    } finally {
      await gw.stop();
    }
  });

  test('EOF before the end cancels: nothing written', async () => {
    const dir = makeStateDir();
    writeConfig(dir, initialConfig());
    const before = fs.readFileSync(path.join(dir, 'clawgate.json'), 'utf8');
    const r = await onboard(dir, ['token', NEW_TOKEN, 'skip']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /cancelled: nothing was written/);
    assert.equal(fs.readFileSync(path.join(dir, 'clawgate.json'), 'utf8'), before);
    // With no file at all, none is created.
    const empty = makeStateDir();
    const r2 = await onboard(empty, []);
    assert.equal(r2.code, 1);
    assert.equal(fs.existsSync(path.join(empty, 'clawgate.json')), false);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(empty, { recursive: true, force: true });
  });
});
