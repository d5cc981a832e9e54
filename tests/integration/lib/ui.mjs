// clawgate's own Control UI in a real browser, for the ui-*.test.mjs files: headless
// Debian chromium driven by playwright-core from the peer cache.
//
//   const ui = await launchUi();                       // one browser per test file
//   const page = await ui.open(gw, { view: 'chat' });  // #token=... then #/chat, connected
//   ... page.getByRole(...), page.locator('#chat-input') ...
//   await ui.screenshot(page, 'chat');                 // artifacts/ui/chat.png
//   assert.deepEqual(ui.problems(page), []);           // page errors, CSP refusals, failed calls
//   await ui.close();
//
// Screenshots go to $CLAWGATE_ARTIFACTS_DIR/ui, by default build/artifacts/ui next to
// the binary under test; docs/ui.md links them.
import fs from 'node:fs';
import path from 'node:path';
import { peerRequire } from './peer.mjs';

export const CHROMIUM = '/usr/bin/chromium';
let playwright = null;
try { playwright = peerRequire('playwright-core'); } catch { /* reported by uiMissing */ }

/** A reason to skip browser tests on this machine, or false. */
export const uiMissing = !playwright ? 'playwright-core is not in the peer cache'
  : !fs.existsSync(CHROMIUM) ? `${CHROMIUM} is not installed` : false;

export function artifactsDir() {
  const base = process.env.CLAWGATE_ARTIFACTS_DIR
    || path.join(path.dirname(process.env.CLAWGATE_BIN || 'build/clawgate'), 'artifacts');
  const dir = path.join(base, 'ui');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

const PHONE = { width: 390, height: 844 };

export async function launchUi({ args = [] } = {}) {
  const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', ...args] });
  const records = new WeakMap();

  /** A new page (own context: fresh storage and device identity) on the gateway's UI,
   * opened with the token in the fragment, waited until connected (unless
   * expectConnected is false). phone: a 390x844 viewport; colorScheme: 'light'|'dark'. */
  async function open(gw, { view = 'overview', token = gw.token, phone = false, colorScheme = 'light', expectConnected = true, host = '127.0.0.1', port = gw.port } = {}) {
    const context = await browser.newContext({ viewport: phone ? PHONE : { width: 1280, height: 800 }, colorScheme, isMobile: phone, hasTouch: phone });
    const page = await context.newPage();
    const rec = { errors: [], sent: new Map(), failed: [], frames: [] };
    records.set(page, rec);
    page.on('pageerror', (e) => rec.errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') rec.errors.push(`console: ${m.text()}`); });
    page.on('websocket', (ws) => {
      ws.on('framesent', ({ payload }) => {
        try { const f = JSON.parse(payload); if (f.type === 'req') rec.sent.set(f.id, f.method); } catch { /* not JSON */ }
      });
      ws.on('framereceived', ({ payload }) => {
        try {
          const f = JSON.parse(payload);
          rec.frames.push(f);
          if (f.type === 'res' && !f.ok) rec.failed.push(`${rec.sent.get(f.id)}: ${f.error?.code} ${f.error?.message}`);
        } catch { /* not JSON */ }
      });
    });
    const fragment = token ? `#token=${encodeURIComponent(token)}` : '';
    await page.goto(`http://${host}:${port}/${fragment}`, { waitUntil: 'load', timeout: 60000 });
    if (expectConnected) {
      await page.waitForSelector('html[data-connection="connected"]', { timeout: 30000 });
      // The UI opens on Chat; any other view is reached by its navigation link.
      if (view !== 'chat') await goto(page, view);
      else await page.waitForSelector('section.view[data-view="chat"] h1', { timeout: 30000 });
    }
    return page;
  }

  /** Switches the page to a view by its navigation link, as a user would. */
  async function goto(page, view) {
    await page.click(`nav a[data-view="${view}"]`);
    await page.waitForSelector(`section.view[data-view="${view}"] h1`, { timeout: 30000 });
  }

  /** Saves a screenshot of the page as artifacts/ui/<name>.png; returns its path. */
  async function screenshot(page, name) {
    const file = path.join(artifactsDir(), `${name}.png`);
    await page.screenshot({ path: file, fullPage: false });
    return file;
  }

  /** What went wrong on the page: script errors, console errors (CSP refusals among
   * them) and method calls that did not answer ok. `allow` filters expected failures. */
  function problems(page, allow = () => false) {
    const rec = records.get(page);
    return [...rec.errors, ...rec.failed].filter((p) => !allow(p));
  }

  /** Every frame the page received so far (parsed), for asserting on events. */
  const frames = (page) => records.get(page).frames;

  return { browser, open, goto, screenshot, problems, frames, close: () => browser.close() };
}
