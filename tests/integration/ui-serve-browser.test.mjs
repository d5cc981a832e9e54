// The real OpenClaw Control UI (openclaw@2026.9.6's dist/control-ui) served by clawgate
// (gateway.controlUi.root) in a real browser: headless Chromium driven by playwright-core
// opens http://127.0.0.1:P/#token=T, the page renders under clawgate's CSP (its inline
// scripts admitted by hash: a refused one would be a console CSP error), and the UI
// connects: a client `openclaw-control-ui` appears in system-presence, and every call it
// makes on startup (recorded from its WebSocket frames) answers ok: the UI shows an error
// banner for each one that fails.
// Also prints the time from navigation start to first contentful paint (bench/results/ui.md).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectClient } from './lib/client.mjs';
import { startGateway, sleep } from './lib/gateway.mjs';
import { peerRequire } from './lib/peer.mjs';

const REAL_UI = path.join(os.homedir(), '.cache/clawgate-peer/node_modules/openclaw/dist/control-ui');
const CHROMIUM = '/usr/bin/chromium';

let playwright = null;
try { playwright = peerRequire('playwright-core'); } catch { /* skipped below */ }
const missing = !playwright ? 'playwright-core is not in the peer cache'
  : !fs.existsSync(CHROMIUM) ? `${CHROMIUM} is not installed`
    : !fs.existsSync(path.join(REAL_UI, 'index.html')) ? 'the real Control UI is not in the peer cache' : false;

describe('the real Control UI in Chromium', { skip: missing }, () => {
  let gw, browser, op;
  before(async () => {
    gw = await startGateway({ config: { gateway: { controlUi: { root: REAL_UI } } } });
    op = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    browser = await playwright.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    op?.close();
    await gw?.stop();
  });

  test('opens with #token=, renders under the CSP, connects as openclaw-control-ui', async () => {
    const page = await browser.newPage();
    const cspErrors = [];
    // Every request the UI sends on its WebSocket, and every answer that is not ok.
    const sent = new Map();
    const failed = [];
    let lastFrameAt = Date.now();
    page.on('websocket', (ws) => {
      ws.on('framesent', ({ payload }) => {
        lastFrameAt = Date.now();
        try { const f = JSON.parse(payload); if (f.type === 'req') sent.set(f.id, f.method); } catch { /* binary */ }
      });
      ws.on('framereceived', ({ payload }) => {
        lastFrameAt = Date.now();
        try {
          const f = JSON.parse(payload);
          if (f.type === 'res' && !f.ok) failed.push(`${sent.get(f.id)}: ${f.error?.code} ${f.error?.message}`);
        } catch { /* binary */ }
      });
    });
    page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
    const response = await page.goto(`http://127.0.0.1:${gw.port}/#token=${gw.token}`, { waitUntil: 'load', timeout: 60000 });
    assert.equal(response.status(), 200);
    let entry;
    for (const deadline = Date.now() + 60000; Date.now() < deadline && !entry; await sleep(250)) {
      const presence = await op.call('system-presence', {});
      // A PresenceEntry names the client in host and text ("Client: openclaw-control-ui").
      entry = presence.find((p) => p.mode === 'webchat' && p.host === 'openclaw-control-ui');
    }
    assert.ok(entry, 'a connected openclaw-control-ui client in system-presence');
    // The app mounted (the mount fallback stays hidden) and the token left the address bar.
    assert.equal(await page.locator('#openclaw-mount-fallback').isHidden(), true);
    assert.doesNotMatch(page.url(), /token=/);
    // The paint entry is recorded after the frame is presented, which a busy machine may
    // do after the UI has already connected: wait for it (at most 15 s).
    const fcp = await page.evaluate(() => new Promise((resolve) => {
      const entry = () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null;
      if (entry() !== null) return resolve(entry());
      new PerformanceObserver(() => { if (entry() !== null) resolve(entry()); }).observe({ type: 'paint', buffered: true });
      setTimeout(() => resolve(entry()), 15000);
    }));
    assert.ok(fcp !== null, 'a first contentful paint');
    console.log(`ui-serve-browser: first contentful paint ${fcp.toFixed(1)} ms after navigation start`);
    assert.deepEqual(cspErrors, [], 'no script refused by the CSP');
    // The startup calls settle (no frame for 2 s, at most 30 s); none of them failed.
    for (const deadline = Date.now() + 30000; Date.now() < deadline && Date.now() - lastFrameAt < 2000;) await sleep(200);
    const methods = [...new Set(sent.values())];
    console.log(`ui-serve-browser: ${methods.length} methods called on startup: ${methods.join(', ')}`);
    assert.ok(methods.includes('connect') && methods.includes('sessions.list'), 'the UI made its startup calls');
    assert.deepEqual(failed, [], 'every startup call answered ok');
    await page.screenshot({ path: path.join(os.tmpdir(), 'clawgate-real-control-ui.png') });
    await page.close();
  });
});
