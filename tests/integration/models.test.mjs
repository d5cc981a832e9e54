// Model providers as the gateway shows them (issue 9 "Model providers"): models.list
// (ModelsListResult) with GET {baseUrl}/models discovery, cached; models.authStatus;
// published-model-catalog in hello-ok; the offline provider when nothing is configured;
// providers from OPENAI_API_KEY / ANTHROPIC_API_KEY; config changes applied live;
// unsupported api values refused naming the key. Streams themselves are tested through
// chat (chat tests) and by tests/unit/test_llm_stream.c.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, spawnClawgate, makeStateDir, writeConfig, waitForExit, freePort } from './lib/gateway.mjs';
import { connectClient } from './lib/client.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { openclaw } from './lib/openclaw.mjs';

const admin = (gw) => connectClient(gw, { params: { scopes: ['operator.admin', 'operator.read', 'operator.write'] } });

describe('nothing configured', () => {
  let gw;
  let c;
  before(async () => {
    gw = await startGateway();
    c = await admin(gw);
  });
  after(async () => { c?.close(); await gw.stop(); });

  test('hello-ok.features.capabilities has published-model-catalog', () => {
    assert.ok(c.hello.features.capabilities.includes('published-model-catalog'), JSON.stringify(c.hello.features));
    assert.ok(c.hello.features.methods.includes('models.list'));
    assert.ok(c.hello.features.methods.includes('models.authStatus'));
  });

  test('models.list offers the offline provider', async () => {
    const r = await c.call('models.list', {});
    assert.equal(r.models.length, 1);
    assert.equal(r.models[0].provider, 'offline');
    assert.equal(r.models[0].id, 'offline');
    assert.equal(r.models[0].available, true);
  });

  test('models.authStatus: no provider has or needs credentials', async () => {
    const r = await c.call('models.authStatus', {});
    assert.equal(typeof r.ts, 'number');
    assert.deepEqual(r.providers, []);
  });

  test('params are checked', async () => {
    const r = await c.request('models.list', { bogus: 1 });
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'INVALID_REQUEST');
    const r2 = await c.request('models.list', { preparedOnly: true, refresh: true });
    assert.equal(r2.ok, false);
  });

  test('operator.read is enough; no scope is not', async () => {
    const reader = await connectClient(gw, { params: { scopes: ['operator.read'] } });
    await reader.call('models.list', {});
    await reader.call('models.authStatus', {});
    reader.close();
    const none = await connectClient(gw, { params: { scopes: [] } });
    const r = await none.request('models.list', {});
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'FORBIDDEN');
    none.close();
  });
});

describe('configured providers, discovery and auth status', () => {
  let gw;
  let c;
  let llm;
  let bare;
  before(async () => {
    llm = await startFakeLlm({ apiKey: 'sk-fake' });
    bare = await startFakeLlm({ models: [{ id: 'llama3.2' }, { id: 'qwen3:8b' }] });
    gw = await startGateway({
      env: { FAKE_ANTHROPIC_KEY: 'sk-ant-fake' },
      config: {
        models: {
          providers: {
            fake: {
              baseUrl: llm.openaiBaseUrl,
              apiKey: 'sk-fake',
              api: 'openai-completions',
              models: [
                { id: 'm1', name: 'Model One', contextWindow: 32000, maxTokens: 4096, input: ['text', 'image'] },
                { id: 'm2', name: 'Model Two', reasoning: true },
              ],
            },
            claude: {
              baseUrl: llm.anthropicBaseUrl,
              apiKey: { source: 'env', id: 'FAKE_ANTHROPIC_KEY' },
              api: 'anthropic-messages',
              models: [{ id: 'claude-x', name: 'Claude X' }],
            },
            nokey: {
              baseUrl: llm.anthropicBaseUrl,
              apiKey: { source: 'env', id: 'UNSET_VARIABLE_FOR_TEST' },
              api: 'anthropic-messages',
              models: [{ id: 'c2' }],
            },
            local: { baseUrl: bare.openaiBaseUrl },
          },
        },
        agents: { defaults: { model: { primary: 'fake/m1', fallbacks: ['claude/claude-x'] } } },
      },
    });
    c = await admin(gw);
  });
  after(async () => {
    c?.close();
    await gw.stop();
    await llm.close();
    await bare.close();
  });

  test('models.list: every configured model with its provider, limits and input', async () => {
    const { models } = await c.call('models.list', {});
    const byKey = Object.fromEntries(models.map((m) => [`${m.provider}/${m.id}`, m]));
    assert.deepEqual(byKey['fake/m1'], { id: 'm1', name: 'Model One', provider: 'fake', contextWindow: 32000, reasoning: false, available: true, input: ['text', 'image'] });
    assert.equal(byKey['fake/m2'].reasoning, true);
    assert.deepEqual(byKey['fake/m2'].input, ['text']);
    assert.equal(byKey['claude/claude-x'].available, true);
    assert.equal(byKey['nokey/c2'].available, false);
    assert.equal(byKey['nokey/c2'].unavailableReason, 'missing-auth');
  });

  test('discovery: GET {baseUrl}/models for a provider that lists no models, cached', async () => {
    const before = bare.requests.filter((r) => r.kind === 'models').length;
    const { models } = await c.call('models.list', {});
    const local = models.filter((m) => m.provider === 'local').map((m) => m.id);
    assert.deepEqual(local.sort(), ['llama3.2', 'qwen3:8b']);
    const afterFirst = bare.requests.filter((r) => r.kind === 'models').length;
    assert.ok(afterFirst >= 1 && afterFirst <= before + 1, 'discovered once (the first list of the suite fetched)');
    await c.call('models.list', {});
    assert.equal(bare.requests.filter((r) => r.kind === 'models').length, afterFirst, 'the second list is served from the cache');
    await c.call('models.list', { refresh: true });
    assert.equal(bare.requests.filter((r) => r.kind === 'models').length, afterFirst + 1, 'refresh fetches again');
    assert.equal(llm.requests.filter((r) => r.kind === 'models').length, 0, 'providers that list models are not discovered');
  });

  test('discovery that fails still answers with the configured models', async () => {
    bare.modelsStatus = 500;
    const t0 = Date.now();
    const { models } = await c.call('models.list', { refresh: true });
    assert.ok(Date.now() - t0 < 6000);
    assert.ok(models.some((m) => m.provider === 'fake'));
    bare.modelsStatus = undefined;
  });

  test('params of the 2026.9.6 gateway: provider filters, includeDetails is accepted', async () => {
    const { models } = await c.call('models.list', { provider: 'claude', includeDetails: true, includeDefaultModels: false });
    assert.deepEqual(models.map((m) => m.id), ['claude-x']);
  });

  test('the real `openclaw models list` calls models.list and lists the models', async () => {
    const r = await openclaw(['models', 'list', '--json'], { gateway: gw, timeoutMs: 90000 });
    assert.equal(r.code, 0, r.stderr);
    const keys = r.json.models.map((m) => m.key);
    assert.ok(keys.includes('fake/m1'), r.stdout);
    assert.ok(keys.includes('claude/claude-x'), r.stdout);
  });

  test('models.authStatus: keys from the config and from the environment; missing ones', async () => {
    const r = await c.call('models.authStatus', {});
    const by = Object.fromEntries(r.providers.map((p) => [p.provider, p]));
    assert.equal(by.fake.status, 'static');
    assert.deepEqual(by.fake.apiKey, { source: 'config' });
    assert.equal(by.claude.status, 'static');
    assert.deepEqual(by.claude.apiKey, { source: 'env', envVar: 'FAKE_ANTHROPIC_KEY' });
    assert.equal(by.nokey.status, 'missing');
    assert.equal(by.nokey.apiKey, undefined);
    assert.equal(by.local, undefined, 'a keyless local server is not an auth provider');
    assert.deepEqual(by.fake.profiles, []);
    assert.ok(Array.isArray(r.providerCapabilities));
  });

  test('config.get redacts the keys, the env reference included', async () => {
    const r = await c.call('config.get', {});
    assert.doesNotMatch(r.raw, /sk-fake/);
    assert.equal(r.config.models.providers.fake.apiKey, '__OPENCLAW_REDACTED__');
  });

  test('config.patch: a new provider is listed at once; an unsupported api is refused naming the key', async () => {
    let cfg = await c.call('config.get', {});
    const added = await c.call('config.patch', {
      raw: JSON.stringify({ models: { providers: { extra: { baseUrl: llm.openaiBaseUrl, models: [{ id: 'e1' }] } } } }),
      baseHash: cfg.hash,
    });
    assert.equal(added.ok, true);
    const { models } = await c.call('models.list', {});
    assert.ok(models.some((m) => m.provider === 'extra' && m.id === 'e1'), JSON.stringify(models));
    cfg = await c.call('config.get', {});
    const r = await c.request('config.patch', {
      raw: JSON.stringify({ models: { providers: { bad: { baseUrl: llm.openaiBaseUrl, api: 'openai-responses' } } } }),
      baseHash: cfg.hash,
    });
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'INVALID_REQUEST');
    assert.match(JSON.stringify(r.error), /models\.providers\.bad\.api/);
    assert.match(JSON.stringify(r.error), /not supported by clawgate/);
  });
});

describe('providers from the environment', () => {
  let gw;
  let c;
  before(async () => {
    gw = await startGateway({ env: { OPENAI_API_KEY: 'sk-env-openai', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', ANTHROPIC_API_KEY: 'sk-env-ant' } });
    c = await admin(gw);
  });
  after(async () => { c?.close(); await gw.stop(); });

  test('OPENAI_API_KEY and ANTHROPIC_API_KEY configure openai and anthropic with a current model', async () => {
    const { models } = await c.call('models.list', {});
    const keys = models.map((m) => `${m.provider}/${m.id}`);
    assert.ok(keys.includes('openai/gpt-6-astra'), keys.join(', '));
    assert.ok(keys.includes('anthropic/claude-opus-5'), keys.join(', '));
    assert.ok(!keys.includes('offline/offline'));
    const auth = await c.call('models.authStatus', {});
    const by = Object.fromEntries(auth.providers.map((p) => [p.provider, p]));
    assert.deepEqual(by.openai.apiKey, { source: 'env', envVar: 'OPENAI_API_KEY' });
    assert.deepEqual(by.anthropic.apiKey, { source: 'env', envVar: 'ANTHROPIC_API_KEY' });
  });
});

describe('refused at start', () => {
  test('an api value OpenClaw accepts but clawgate does not: the key is named', async () => {
    const dir = makeStateDir();
    writeConfig(dir, { models: { providers: { g: { baseUrl: 'http://127.0.0.1:9', api: 'google-generative-ai' } } } });
    const h = spawnClawgate(['run', '--port', String(await freePort()), '--state-dir', dir, '--auth', 'none']);
    const r = await waitForExit(h.proc, 10000);
    assert.ok(r, 'exits');
    assert.notEqual(r.code, 0);
    assert.match(h.out().stderr, /models\.providers\.g\.api/);
    assert.match(h.out().stderr, /not supported by clawgate/);
  });
});
