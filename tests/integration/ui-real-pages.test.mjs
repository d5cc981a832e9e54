// The real OpenClaw Control UI's pages (openclaw@2026.9.6's dist/control-ui, served by
// clawgate as gateway.controlUi.root) in headless Chromium (issue 11). After startup, the
// test walks the pages the issue names and the ones the navigation offers (chat,
// sessions, agents, dashboards, systems, automations, plugins, activity, logs, the
// settings pages: appearance, channels, plugins, devices/nodes, gateway, talk, updates),
// as the UI's own router does (history.pushState + popstate), waits until the page's calls
// settle, and asserts that every call the UI made answered ok and that no error banner
// (role=alert, .callout.danger) is on screen: the UI shows one for each call that fails.
// Then the actions: on the devices page (/nodes) it approves a node's pending pairing
// (Actions > Approve), in the chat it resolves an exec approval an operator asked for
// (Allow once), and on the appearance page it picks a theme, which the UI writes with
// config.patch: the gateway holds it afterwards (config.get). One screenshot per page,
// artifacts/ui/real-<page>.png.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectClient } from './lib/client.mjs';
import { startGateway, sleep } from './lib/gateway.mjs';
import { simNode } from './lib/simnode.mjs';
import { startFakeLlm } from './lib/fake-llm.mjs';
import { CHROMIUM, artifactsDir, uiMissing } from './lib/ui.mjs';
import { peerRequire } from './lib/peer.mjs';

const REAL_UI = path.join(os.homedir(), '.cache/clawgate-peer/node_modules/openclaw/dist/control-ui');
const missing = uiMissing
  || (!fs.existsSync(path.join(REAL_UI, 'index.html')) ? 'the real Control UI is not in the peer cache' : false);

// path -> methods the page must have called (proof that it loaded its data from clawgate).
const PAGES = [
  ['chat', '/chat/main', []], // the UI opens on it: its chat.startup is a startup call
  ['sessions', '/sessions', []], // the sidebar's sessions.list subscription feeds it
  ['agents', '/agents', ['sessions.list']],
  ['agents-settings', '/settings/agents', ['models.list']],
  ['dashboards', '/dashboards', ['sessions.list']],
  ['systems', '/systems', ['environments.list', 'node.list', 'system.info']],
  ['automations', '/automations', ['cron.list', 'cron.status']],
  ['plugins', '/plugins', ['plugins.list']],
  ['activity', '/activity', ['sessions.list']],
  ['logs', '/logs', ['logs.tail']],
  ['appearance', '/settings/appearance', ['themes.list']],
  ['channels', '/settings/channels', ['channels.status', 'plugins.list']],
  ['plugin-settings', '/settings/plugins', ['plugins.list']],
  ['gateway', '/settings/connection', []],
  ['talk', '/settings/talk', ['talk.catalog']],
  ['updates', '/settings/updates', ['update.status']],
  ['nodes', '/nodes', ['node.list', 'device.pair.list', 'exec.approvals.get']],
];

describe('the real Control UI pages against clawgate', { skip: missing }, () => {
  let gw, llm, op, browser, page, node;
  const sent = new Map(); // request id -> method
  let called = [];
  let failed = [];
  let lastFrameAt = Date.now();

  before(async () => {
    // A model provider (a local stand-in), so the chat is not the "no provider" notice.
    llm = await startFakeLlm({ apiKey: 'sk-test' });
    gw = await startGateway({
      config: {
        gateway: { controlUi: { root: REAL_UI } },
        models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test', api: 'openai-completions', models: [{ id: 'm1', name: 'M1', contextWindow: 8000, maxTokens: 1000 }] } } },
        // The chat asks for model setup unless the agent names its model (AgentSummary.model).
        agents: { defaults: { model: 'fake/m1' }, entries: { main: { model: 'fake/m1' } } },
      },
    });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    const { chromium } = peerRequire('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('websocket', (ws) => {
      ws.on('framesent', ({ payload }) => {
        lastFrameAt = Date.now();
        try {
          const f = JSON.parse(payload);
          if (f.type === 'req') { sent.set(f.id, f.method); called.push(f.method); }
        } catch { /* not JSON */ }
      });
      ws.on('framereceived', ({ payload }) => {
        lastFrameAt = Date.now();
        try {
          const f = JSON.parse(payload);
          if (f.type === 'res' && !f.ok) failed.push(`${sent.get(f.id)}: ${f.error?.code} ${f.error?.message}`);
        } catch { /* not JSON */ }
      });
    });
  });
  after(async () => {
    await browser?.close();
    node?.client.close();
    op?.close();
    await gw?.stop();
    await llm?.close();
  });

  /** Waits until no frame has gone either way for 1 s (at most 10 s). */
  async function settle() {
    await sleep(300);
    for (const deadline = Date.now() + 10000; Date.now() < deadline && Date.now() - lastFrameAt < 1000;) await sleep(100);
  }

  async function visit(urlPath) {
    called = [];
    failed = [];
    await page.evaluate((u) => { history.pushState(null, '', u); dispatchEvent(new PopStateEvent('popstate')); }, urlPath);
    await settle();
  }

  /** The error banners on screen (the UI renders one per failed call). */
  const banners = () => page.locator('[role="alert"]:visible, .callout.danger:visible').allInnerTexts();

  const shot = (name) => page.screenshot({ path: path.join(artifactsDir(), `real-${name}.png`) });

  test('connects with its device identity, and every startup call answers ok', async () => {
    await page.goto(`http://127.0.0.1:${gw.port}/#token=${gw.token}`, { waitUntil: 'load', timeout: 60000 });
    let entry;
    for (const deadline = Date.now() + 60000; Date.now() < deadline && !entry; await sleep(250)) {
      entry = (await op.call('system-presence', {})).find((p) => p.host === 'openclaw-control-ui');
    }
    assert.ok(entry, 'the UI is connected');
    const startup = ['sessions.list', 'chat.startup'];
    for (const deadline = Date.now() + 30000; Date.now() < deadline && !startup.every((m) => called.includes(m));) await sleep(200);
    for (const m of startup) assert.ok(called.includes(m), `the UI called ${m} on startup`);
    await settle();
    assert.deepEqual(failed, [], 'every startup call answered ok');
    // The UI connected with a device identity: its device is paired with the gateway.
    const devices = await op.call('device.pair.list', {});
    assert.ok(devices.paired.some((d) => d.clientId === 'openclaw-control-ui'), 'the UI device is paired');
  });

  for (const [name, urlPath, expected] of PAGES) {
    test(`${name} (${urlPath}): every call ok, no error banner`, async () => {
      if (name === 'nodes') {
        // A node whose surface (system.run) waits for an operator's approval.
        node = await simNode(gw, { client: { id: 'node-host', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'node', displayName: 'sim-node' } });
      }
      await visit(urlPath);
      await shot(name);
      for (const m of expected) assert.ok(called.includes(m), `${urlPath} called ${m} (called: ${[...new Set(called)].join(', ')})`);
      assert.deepEqual(failed, [], `every call of ${urlPath} answered ok`);
      assert.deepEqual(await banners(), [], `no error banner on ${urlPath}`);
    });
  }

  test('the systems page shows this host as clawgate reports it', async () => {
    await visit('/systems');
    const info = await op.call('system.info', {});
    await page.getByText(info.osLabel).first().waitFor({ timeout: 10000 });
  });

  test('nodes page: approving a pending node pairing', async () => {
    await visit('/nodes');
    const pending = (await op.call('node.list', {})).nodes.find((n) => n.nodeId === node.nodeId);
    assert.equal(pending.approvalState, 'pending-approval');
    await page.getByRole('button', { name: 'Actions for sim-node' }).first().click();
    await page.getByRole('menuitem', { name: 'Approve' }).click();
    let state;
    for (const deadline = Date.now() + 15000; Date.now() < deadline && state !== 'approved'; await sleep(200)) {
      state = (await op.call('node.list', {})).nodes.find((n) => n.nodeId === node.nodeId).approvalState;
    }
    assert.equal(state, 'approved', 'the node is approved');
    await settle();
    assert.ok(called.includes('node.pair.approve'), 'the UI approved with node.pair.approve');
    assert.deepEqual(failed, []);
    assert.deepEqual(await banners(), []);
    await shot('nodes-approved');
  });

  test('chat: resolving an exec approval (Allow once)', async () => {
    await visit('/chat/main');
    const decided = op.call('exec.approval.request', {
      command: 'echo from-the-test', commandArgv: ['echo', 'from-the-test'], cwd: '/tmp', agentId: 'main',
      sessionKey: 'agent:main:main', host: 'gateway', timeoutMs: 60000,
    }, { timeoutMs: 60000 });
    // The chat's approval card (the inbox panel holds a hidden copy too).
    await page.locator('text=echo from-the-test >> visible=true').first().waitFor({ timeout: 15000 });
    await shot('approval');
    await page.locator('button:visible', { hasText: 'Allow once' }).first().click();
    const answer = await decided;
    assert.equal(answer.decision, 'allow-once');
    await settle();
    assert.ok(called.includes('exec.approval.resolve'), 'the UI resolved it with exec.approval.resolve');
    assert.deepEqual(failed, []);
    assert.deepEqual(await banners(), []);
  });

  test('appearance: picking a theme writes ui.prefs.theme to the gateway config', async () => {
    await visit('/settings/appearance');
    assert.notEqual((await op.call('config.get', {})).config.ui?.prefs?.theme, 'knot');
    await page.getByText('Knot', { exact: true }).first().click();
    let theme;
    for (const deadline = Date.now() + 15000; Date.now() < deadline && theme !== 'knot'; await sleep(200)) {
      theme = (await op.call('config.get', {})).config.ui?.prefs?.theme;
    }
    assert.equal(theme, 'knot', 'the gateway holds the picked theme');
    assert.equal((await op.call('themes.list', {})).current.id, 'knot', 'themes.list reports it as current');
    await settle();
    assert.ok(called.includes('config.patch'), 'the UI wrote it with config.patch');
    assert.deepEqual(failed, []);
    assert.deepEqual(await banners(), []);
    await shot('appearance-knot');
  });
});
