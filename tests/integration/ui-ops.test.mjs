// clawgate's own Control UI, the Nodes, Approvals and Agents views (issue 11), in headless
// Chromium (lib/ui.mjs). Each test acts in the page as a user would and checks both what
// the page shows and what the gateway then holds, asked through an operator client:
//  - nodes: a simulated node connects, its command surface appears under Pending without
//    a reload (node.pair.requested), Approve makes it approved in node.list; a node whose
//    device is not auto-approved shows as a device pairing asking for role node; a command
//    invoked from the details form reaches the node and its answer is shown; a rejection
//    by another operator and a node asking again show without a reload;
//  - approvals: an operator's exec.approval.request appears live with its command, cwd and
//    host, the badge counts it, Allow once answers the requester with allow-once, Deny (on a
//    phone-sized dark page) with deny; a device pairing request is approved from the page;
//  - agents: one is created, renamed, given a workspace file, and deleted after confirming.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { GatewayClient, connectClient } from './lib/client.mjs';
import { startGateway, eventually } from './lib/gateway.mjs';
import { newIdentity, deviceForParams } from './lib/device.mjs';
import { simNode } from './lib/simnode.mjs';
import { launchUi, uiMissing } from './lib/ui.mjs';

const WAIT = { timeout: 15000 };

/** A connect signed by a fresh device that is not local for pairing (it carries an
 * Origin), so the gateway answers NOT_PAIRED and announces device.pair.requested. */
async function unpairedDevice(gw, { role = 'operator', scopes = ['operator.read'], client }) {
  const c = await GatewayClient.open(gw.url, { origin: `http://127.0.0.1:${gw.port}` });
  const params = { minProtocol: 4, maxProtocol: 4, client, role, scopes, auth: { token: gw.token } };
  const identity = newIdentity();
  params.device = deviceForParams(identity, params, { nonce: c.challenge.nonce, signedAt: c.challenge.ts });
  const res = await c.connect(params, { replace: true });
  assert.equal(res.ok, false);
  assert.equal(res.error.details?.code, 'PAIRING_REQUIRED', JSON.stringify(res.error));
  c.close();
  return { deviceId: identity.deviceId, requestId: res.error.details.requestId };
}

const EXEC = { command: 'echo hi', commandArgv: ['echo', 'hi'], cwd: '/srv/ui-test', host: 'gateway', agentId: 'main', timeoutMs: 120000 };

describe('Control UI: nodes, approvals, agents', { skip: uiMissing }, () => {
  let gw, admin, ui;
  const nodes = [];
  before(async () => {
    gw = await startGateway();
    admin = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    ui = await launchUi();
  });
  after(async () => {
    await ui?.close();
    for (const n of nodes) n.client.close();
    admin?.close();
    await gw?.stop();
  });

  test('nodes: a pending node appears live, Approve pairs it, a command runs on it', async () => {
    const page = await ui.open(gw, { view: 'nodes' });
    await page.locator('#node-pairings').getByText('No node is waiting for approval.').waitFor(WAIT);

    const node = await simNode(gw, {
      client: { id: 'node-host', displayName: 'ui-test-node', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'node' },
      handler: (req) => ({ payload: { bins: { sh: '/usr/bin/sh' }, asked: req.params } }),
    });
    nodes.push(node);
    const row = page.locator('#node-pairings tr', { hasText: 'ui-test-node' });
    await row.waitFor(WAIT);
    assert.match(await row.innerText(), /system\.run/);
    assert.match(await row.innerText(), /approving needs operator\.admin/);
    await row.getByRole('button', { name: 'Approve' }).click();

    await eventually(async () => (await admin.call('node.list', {})).nodes.find((n) => n.nodeId === node.nodeId)?.approvalState === 'approved', 10000, 'node approved');
    const paired = await admin.call('node.pair.list', {});
    assert.ok(paired.paired.some((p) => p.nodeId === node.nodeId), 'node.pair.list lists it paired');
    assert.ok(!paired.pending.some((p) => p.nodeId === node.nodeId));
    await row.waitFor({ state: 'detached', ...WAIT });
    const listed = page.locator('#node-list tr', { hasText: 'ui-test-node' });
    await listed.getByText('approved').waitFor(WAIT);
    assert.match(await listed.innerText(), /connected/);

    // Details, then invoke system.which with JSON params: the node gets them, the page shows its answer.
    await listed.getByRole('button', { name: 'Details of ui-test-node' }).click();
    const detail = page.locator('#node-detail');
    await detail.getByRole('heading', { name: 'ui-test-node' }).waitFor(WAIT);
    assert.match(await detail.innerText(), new RegExp(node.nodeId));
    await page.selectOption('#invoke-command', 'system.which');
    await page.fill('#invoke-params', '{"bins": ["sh"]}');
    await detail.getByRole('button', { name: 'Invoke' }).click();
    await page.locator('#invoke-result', { hasText: '/usr/bin/sh' }).waitFor(WAIT);
    assert.deepEqual(node.requests.at(-1).params, { bins: ['sh'] });
    assert.equal(node.requests.at(-1).command, 'system.which');
    assert.deepEqual(JSON.parse(await page.locator('#invoke-result').innerText()), { bins: { sh: '/usr/bin/sh' }, asked: { bins: ['sh'] } });
    await ui.screenshot(page, 'nodes');
    // Bad JSON params are refused in the page, nothing is sent.
    await page.fill('#invoke-params', '{bins');
    await detail.getByRole('button', { name: 'Invoke' }).click();
    await page.getByRole('alert').filter({ hasText: 'Params are not valid JSON' }).waitFor(WAIT);
    assert.equal(node.requests.length, 1);

    // A node whose device is not auto-approved waits as a device asking for role node.
    const dev = await unpairedDevice(gw, { role: 'node', scopes: [], client: { id: 'node-host', displayName: 'remote-node', version: '1', platform: 'linux', mode: 'node' } });
    const devRow = page.locator('#node-pairings tr', { hasText: 'remote-node' });
    await devRow.waitFor(WAIT);
    assert.match(await devRow.innerText(), /device pairing as a node/);
    await devRow.getByRole('button', { name: 'Approve' }).click();
    await eventually(async () => (await admin.call('device.pair.list', {})).paired.some((d) => d.deviceId === dev.deviceId && d.roles.includes('node')), 10000, 'node device approved');
    await devRow.waitFor({ state: 'detached', ...WAIT });

    // Decisions made elsewhere show too: another operator rejects a surface (node.pair.resolved);
    // the node, its device already paired, asks again on reconnecting (node.pair.requested only).
    const identity = newIdentity();
    const client = { id: 'node-host', displayName: 'second-node', version: '2026.9.6', platform: 'linux', deviceFamily: 'Linux', mode: 'node' };
    const first = await simNode(gw, { identity, client });
    const second = page.locator('#node-pairings tr', { hasText: 'second-node' });
    await second.waitFor(WAIT);
    const { pending } = await admin.call('node.pair.list', {});
    await admin.call('node.pair.reject', { requestId: pending.find((p) => p.nodeId === identity.deviceId).requestId });
    await second.waitFor({ state: 'detached', ...WAIT });
    first.client.close();
    await first.client.waitClose();
    nodes.push(await simNode(gw, { identity, client }));
    await second.waitFor(WAIT);
    assert.deepEqual(ui.problems(page), []);
  });

  test('approvals: an exec approval appears live, Allow once answers the requester; a device is approved', async () => {
    const page = await ui.open(gw, { view: 'approvals' });
    await page.locator('#exec-approvals').getByText('No exec approvals waiting.').waitFor(WAIT);

    const requester = await connectClient(gw, { params: { scopes: ['operator.admin'] } });
    const answer = requester.request('exec.approval.request', EXEC, { timeoutMs: 60000 });
    const item = page.locator('#exec-approvals article', { hasText: 'echo hi' });
    await item.waitFor(WAIT);
    const text = await item.innerText();
    assert.match(text, /\/srv\/ui-test/);
    assert.match(text, /gateway/);
    assert.match(text, /Expires\s+in \d/);
    await page.locator('nav a[data-view="approvals"] .badge', { hasText: '1' }).waitFor(WAIT);

    // A device pairing request, live too.
    const dev = await unpairedDevice(gw, { client: { id: 'cli', displayName: 'ui-test-laptop', version: '1', platform: 'linux', mode: 'cli' } });
    const devItem = page.locator('#device-pairings article', { hasText: 'ui-test-laptop' });
    await devItem.waitFor(WAIT);
    assert.match(await devItem.innerText(), /operator\.read/);
    await page.locator('nav a[data-view="approvals"] .badge', { hasText: '2' }).waitFor(WAIT);
    await ui.screenshot(page, 'approvals');

    await item.getByRole('button', { name: 'Allow once' }).click();
    const res = await answer;
    assert.equal(res.ok, true, JSON.stringify(res.error));
    assert.equal(res.payload.decision, 'allow-once');
    await item.waitFor({ state: 'detached', ...WAIT });

    await devItem.getByRole('button', { name: 'Approve' }).click();
    await eventually(async () => (await admin.call('device.pair.list', {})).paired.some((d) => d.deviceId === dev.deviceId), 10000, 'device approved');
    await devItem.waitFor({ state: 'detached', ...WAIT });
    assert.equal(await page.locator('nav a[data-view="approvals"] .badge').isHidden(), true);
    assert.deepEqual(ui.problems(page), []);

    // On a phone, dark: another request, denied from there.
    const phone = await ui.open(gw, { view: 'approvals', phone: true, colorScheme: 'dark' });
    const denied = requester.request('exec.approval.request', { ...EXEC, command: 'rm -rf /tmp/ui-test', commandArgv: ['rm', '-rf', '/tmp/ui-test'] }, { timeoutMs: 60000 });
    const phoneItem = phone.locator('#exec-approvals article', { hasText: 'rm -rf /tmp/ui-test' });
    await phoneItem.waitFor(WAIT);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal page overflow on a phone (${overflow} px)`);
    await ui.screenshot(phone, 'approvals-phone-dark');
    await phoneItem.getByRole('button', { name: 'Deny' }).click();
    assert.equal((await denied).payload.decision, 'deny');
    // The desktop page saw it come and go through events.
    await page.locator('#exec-approvals').getByText('No exec approvals waiting.').waitFor(WAIT);
    // playwright reports frames a little after the page has them: wait for the report.
    await eventually(() => ui.frames(page).some((f) => f.event === 'exec.approval.resolved' && f.payload.decision === 'deny'), 10000, 'the deny came as an event');
    requester.close();
    assert.deepEqual(ui.problems(phone), []);
    assert.deepEqual(ui.problems(page), []);
  });

  test('agents: create one, edit it, save a workspace file, delete it after confirming', async () => {
    const page = await ui.open(gw, { view: 'agents' });
    await page.locator('#agent-list tr[data-agent-id="main"]').waitFor(WAIT);

    await page.fill('#agent-create-name', 'Ops Bot');
    await page.fill('#agent-create-model', 'openai/gpt-5');
    await page.press('#agent-create-name', 'Enter');
    await page.locator('#agent-list tr[data-agent-id="ops-bot"]').waitFor(WAIT);
    const created = (await admin.call('agents.list', {})).agents.find((a) => a.id === 'ops-bot');
    assert.equal(created?.name, 'Ops Bot');
    assert.deepEqual(created.model, { primary: 'openai/gpt-5' });
    await page.getByRole('heading', { name: 'Agent Ops Bot' }).waitFor(WAIT);

    // Rename, drop the model.
    await page.fill('#agent-name', 'Ops Robot');
    await page.fill('#agent-model', '');
    await page.press('#agent-name', 'Enter');
    await page.getByRole('heading', { name: 'Agent Ops Robot' }).waitFor(WAIT);
    const updated = (await admin.call('agents.list', {})).agents.find((a) => a.id === 'ops-bot');
    assert.equal(updated.name, 'Ops Robot');
    assert.equal(updated.model, undefined);

    // A workspace file, written from the page.
    await page.getByRole('group', { name: 'Workspace files' }).getByRole('button', { name: /SOUL\.md/ }).click();
    await page.locator('#agent-file-content').waitFor(WAIT);
    const soul = 'Be brief.\nAnswer in English. ✓\n';
    await page.fill('#agent-file-content', soul);
    await page.click('#agent-file-save');
    await page.getByText(/^saved /).waitFor(WAIT);
    const got = await admin.call('agents.files.get', { agentId: 'ops-bot', name: 'SOUL.md' });
    assert.equal(got.file.content, soul);
    await ui.screenshot(page, 'agents');

    // Delete: asks first; Cancel keeps it, Delete removes it.
    await page.click('#agent-delete');
    await page.getByRole('button', { name: 'Cancel' }).click();
    assert.ok((await admin.call('agents.list', {})).agents.some((a) => a.id === 'ops-bot'));
    await page.click('#agent-delete');
    await page.click('#agent-delete-confirm');
    await page.locator('#agent-list tr[data-agent-id="ops-bot"]').waitFor({ state: 'detached', ...WAIT });
    assert.ok(!(await admin.call('agents.list', {})).agents.some((a) => a.id === 'ops-bot'));
    // The default agent offers no delete.
    await page.getByText('The default agent cannot be deleted.').waitFor(WAIT);
    // An agent made elsewhere appears without a reload (config.changed).
    await admin.call('agents.create', { name: 'Elsewhere', workspace: path.join(gw.stateDir, 'ws-elsewhere') });
    await page.locator('#agent-list tr[data-agent-id="elsewhere"]').waitFor(WAIT);
    assert.deepEqual(ui.problems(page), []);
  });
});
