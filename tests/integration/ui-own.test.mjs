// clawgate's own Control UI, the shell, in headless Chromium: the address `clawgate run`
// prints carries a generated token in the fragment (never in the log), the page connects
// with it and drops it from the address bar; a wrong token shows the sign-in form; a
// gateway restart shows "reconnecting" and the page comes back by itself; a browser that
// is a new device on a non-loopback address waits in "pairing required" until an operator
// approves it; the layout fits a phone, follows a dark system theme, and works from the
// keyboard; the whole UI stays under 300 KB.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectClient } from './lib/client.mjs';
import { startGateway, makeStateDir, sleep } from './lib/gateway.mjs';
import { launchUi, uiMissing } from './lib/ui.mjs';

const UI_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../ui');
const lanAddress = Object.values(os.networkInterfaces()).flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

async function until(what, fn, timeoutMs = 30000) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
    const v = await fn();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('the whole UI (ui/) is under 300 KB', () => {
  let total = 0;
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else total += fs.statSync(path.join(dir, e.name)).size;
    }
  };
  walk(UI_DIR);
  console.log(`ui-own: ui/ is ${total} bytes`);
  assert.ok(total > 10000, `ui/ holds the UI (${total} bytes)`);
  assert.ok(total < 300 * 1024, `ui/ is ${total} bytes`);
});

describe('the own Control UI in Chromium', { skip: uiMissing }, () => {
  let ui;
  before(async () => { ui = await launchUi(); });
  after(async () => { await ui?.close(); });

  test('the printed address carries a generated token in the fragment; the page connects and drops it', async () => {
    const gw = await startGateway({ token: null });
    try {
      const line = await until('the Control UI line', () => gw.logs().stdout.match(/^Control UI: (http:\/\/\S+)$/m));
      const url = new URL(line[1]);
      const token = new URLSearchParams(url.hash.slice(1)).get('token');
      assert.match(token, /^[0-9a-f]{48}$/);
      assert.equal(url.search, '', 'no query string');
      const page = await ui.open(gw, { token });
      assert.doesNotMatch(page.url(), /token/);
      await page.getByText('Connected clients').waitFor();
      await until('the UI in the presence table', () => page.getByRole('cell', { name: 'clawgate UI' }).count());
      await ui.screenshot(page, 'overview');
      assert.deepEqual(ui.problems(page), []);
      await page.context().close();
      const log = fs.readFileSync(gw.logPath, 'utf8');
      assert.ok(log.length > 0 && !log.includes(token), 'the token is not in the log');
    } finally {
      await gw.stop();
    }
  });

  test('a wrong token shows the sign-in form; the right one connects', async () => {
    const gw = await startGateway();
    try {
      const page = await ui.open(gw, { token: 'not-the-token', expectConnected: false });
      await page.waitForSelector('html[data-connection="unauthorized"]', { timeout: 30000 });
      await page.getByText('Sign in to the gateway').waitFor();
      assert.match(await page.locator('main').innerText(), /token mismatch/);
      await ui.screenshot(page, 'sign-in');
      await page.fill('#login-token', gw.token);
      await page.keyboard.press('Enter');
      await page.waitForSelector('html[data-connection="connected"]', { timeout: 30000 });
      await page.waitForSelector('section.view[data-view="chat"] #chat-input:enabled', { timeout: 30000 }); // it opens on Chat, ready to type
      assert.deepEqual(ui.problems(page, (p) => /AUTH_TOKEN_MISMATCH|token mismatch/.test(p)), []);
      await page.context().close();
    } finally {
      await gw.stop();
    }
  });

  test('a gateway restart shows "reconnecting" with its back-off, and the page reconnects by itself', async () => {
    const stateDir = makeStateDir();
    let gw = await startGateway({ stateDir, keepStateDir: true });
    const { port, token } = gw;
    try {
      const page = await ui.open(gw);
      await gw.stop();
      await page.waitForSelector('html[data-connection="reconnecting"]', { timeout: 30000 });
      assert.match(await page.locator('#banner').innerText(), /Retrying in \d+\.\d s/);
      assert.equal(await page.locator('#status').innerText(), 'reconnecting…');
      gw = await startGateway({ stateDir, port, token });
      await page.waitForSelector('html[data-connection="connected"]', { timeout: 30000 });
      await page.waitForSelector('section.view[data-view="overview"]');
      assert.equal(await page.locator('#banner').isHidden(), true);
      // The browser reports the refused reconnects as console errors; nothing else.
      assert.deepEqual(ui.problems(page, (p) => /WebSocket connection to .* failed/.test(p)), []);
      await page.context().close();
    } finally {
      await gw.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('a new device on a non-loopback address waits for pairing; an operator approves it; it connects',
    { skip: !lanAddress && 'no non-loopback IPv4 address' }, async () => {
      const gw = await startGateway({ bind: 'lan', host: lanAddress, config: { gateway: { controlUi: { allowedOrigins: ['*'] } } } });
      const origin = `http://${lanAddress}:${gw.port}`;
      // WebCrypto needs a secure context; this flag makes the plain-http LAN origin one,
      // as https would in real use.
      const lan = await launchUi({ args: [`--unsafely-treat-insecure-origin-as-secure=${origin}`] });
      const op = await connectClient(gw, { params: { scopes: ['operator.admin', 'operator.pairing'] } });
      try {
        const page = await lan.open(gw, { host: lanAddress, expectConnected: false });
        await page.waitForSelector('html[data-connection="pairing"]', { timeout: 30000 });
        await page.getByText('Waiting for approval').waitFor();
        await lan.screenshot(page, 'pairing-required');
        const pending = await until('a pending device pairing', async () => (await op.call('device.pair.list', {})).pending?.[0]);
        assert.match(await page.locator('main').innerText(), new RegExp(pending.requestId));
        await op.call('device.pair.approve', { requestId: pending.requestId });
        await page.waitForSelector('html[data-connection="connected"]', { timeout: 30000 });
        const paired = (await op.call('device.pair.list', {})).paired;
        assert.ok(paired.some((d) => d.deviceId === pending.deviceId), 'the browser is a paired device');
        assert.deepEqual(lan.problems(page, (p) => /NOT_PAIRED|pairing required/.test(p)), []);
      } finally {
        op.close();
        await lan.close();
        await gw.stop();
      }
    });

  test('phone-sized, dark, and from the keyboard', async () => {
    const gw = await startGateway();
    try {
      const page = await ui.open(gw, { phone: true, colorScheme: 'dark' });
      const fit = await page.evaluate(() => ({ scroll: document.scrollingElement.scrollWidth, width: innerWidth }));
      assert.ok(fit.scroll <= fit.width, `no horizontal overflow on a phone: ${JSON.stringify(fit)}`);
      const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const dark = await bg();
      assert.equal(dark, 'rgb(20, 21, 23)', 'the dark palette follows the system');
      await ui.screenshot(page, 'overview-phone-dark');
      await page.click('#theme'); // system -> light
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
      assert.equal(await bg(), 'rgb(247, 247, 248)');
      await page.context().close();

      // Keyboard: the first Tab reaches the skip link, then the header; a nav link opens with Enter.
      const desk = await ui.open(gw);
      await desk.keyboard.press('Tab');
      assert.equal(await desk.evaluate(() => document.activeElement.className), 'skip');
      await desk.focus('nav a[data-view="sessions"]');
      await desk.keyboard.press('Enter');
      await desk.waitForSelector('section.view[data-view="sessions"]');
      assert.match(desk.url(), /#\/sessions$/);
      assert.equal(await desk.locator('nav a[aria-current="page"]').getAttribute('data-view'), 'sessions');
      assert.deepEqual(ui.problems(desk), []);
      await desk.context().close();
    } finally {
      await gw.stop();
    }
  });
});
