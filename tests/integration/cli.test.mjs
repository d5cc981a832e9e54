// `clawgate call` reads its settings through the config module, so it resolves the
// state dir's config exactly as the gateway does (issue 6 "Core corrections"): the same
// "${VAR}" / "$${" substitution, the same validation, the same precedence.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, runClawgate, makeStateDir, writeConfig, freePort } from './lib/gateway.mjs';

function parseJson(text, what) {
  try { return JSON.parse(text); } catch { throw new Error(`${what}: stdout is not JSON:\n${text}`); }
}

describe('clawgate call resolves the config as the gateway does', () => {
  const dirs = [];
  after(async () => {
    const fs = await import('node:fs');
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('the token from the file with "${VAR}" and a literal "$${": the gateway and the CLI agree', async () => {
    const stateDir = makeStateDir();
    const port = await freePort();
    // The gateway's token is "tok-${LITERAL}-part42": "$${" stays a literal "${".
    writeConfig(stateDir, { gateway: { port, auth: { mode: 'token', token: 'tok-$${LITERAL}-${CG_IT_PART}' } } });
    const env = { CG_IT_PART: 'part42' };
    const gw = await startGateway({ stateDir, port, token: null, env, keepStateDir: true });
    try {
      const r = await runClawgate(['call', 'health'], { env: { ...env, CLAWGATE_STATE_DIR: stateDir } });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.equal(parseJson(r.stdout, 'call health').ok, true);
    } finally {
      await gw.stop();
      dirs.push(stateDir);
    }
  });

  test('a config the gateway would refuse is reported by name, not guessed around', async () => {
    const stateDir = makeStateDir();
    dirs.push(stateDir);
    writeConfig(stateDir, { gateway: { port: '18789x' } });
    const r = await runClawgate(['call', 'health', '--state-dir', stateDir]);
    assert.equal(r.code, 1);
    const out = parseJson(r.stdout, 'invalid config');
    assert.equal(out.ok, false);
    assert.match(out.error.message, /gateway\.port: expected integer/);

    writeConfig(stateDir, { gateway: { auth: { token: '${CG_IT_UNSET_VARIABLE}' } } });
    const r2 = await runClawgate(['call', 'health', '--state-dir', stateDir]);
    assert.equal(r2.code, 1);
    assert.match(parseJson(r2.stdout, 'missing variable').error.message, /CG_IT_UNSET_VARIABLE is not set/);
  });
});
