// Runs the real OpenClaw CLI (the reference peer) for interop tests.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OPENCLAW_BIN, PEER_NODE_BIN_DIR } from './peer.mjs';

/**
 * Runs the real `openclaw` CLI with a throw-away HOME. With `gateway` ({port, token}) the
 * HOME holds the CLI's own config pointing at it and OPENCLAW_GATEWAY_URL/TOKEN are set,
 * as REFERENCE.md says (else status-style commands answer from local files).
 * Resolves {code, stdout, stderr, json}.
 */
export function openclaw(args, { timeoutMs = 60000, gateway } = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-cli-home-'));
  const env = { PATH: `${PEER_NODE_BIN_DIR}:${process.env.PATH}`, HOME: home, TMPDIR: os.tmpdir(), NO_COLOR: '1' };
  if (gateway) {
    fs.mkdirSync(path.join(home, '.openclaw'));
    fs.writeFileSync(path.join(home, '.openclaw', 'openclaw.json'), JSON.stringify({ gateway: { mode: 'local', port: gateway.port, auth: { mode: 'token', token: gateway.token } } }));
    env.OPENCLAW_GATEWAY_URL = `ws://127.0.0.1:${gateway.port}`;
    env.OPENCLAW_GATEWAY_TOKEN = gateway.token;
  }
  return new Promise((resolve, reject) => {
    const p = spawn(OPENCLAW_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = ''; let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`openclaw ${args.join(' ')} timed out\n${stderr}`)); }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      fs.rmSync(home, { recursive: true, force: true });
      let json;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ code, stdout, stderr, json });
    });
  });
}

