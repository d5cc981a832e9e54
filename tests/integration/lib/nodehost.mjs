// The real OpenClaw node host (`openclaw node run`) as a child of a test, with its
// identity in `home` (kept across restarts), stopped with every helper it started.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cleanEnv, waitForExit } from './gateway.mjs';
import { OPENCLAW_BIN, PEER_NODE_BIN_DIR } from './peer.mjs';

const live = new Set();
process.on('exit', () => { for (const pgid of live) { try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ } } });

/** Every process group below `pid` (the node host starts helpers in groups of their own). */
function groupsBelow(pid) {
  const table = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.push({ pid: Number(d), ppid: Number(f[1]), pgid: Number(f[2]) });
    } catch { /* exited meanwhile */ }
  }
  const groups = new Set();
  const frontier = [pid];
  while (frontier.length) {
    const p = frontier.pop();
    for (const e of table) if (e.ppid === p) { groups.add(e.pgid); frontier.push(e.pid); }
  }
  groups.delete(pid);
  return groups;
}

/** `openclaw node run` against gw, with its identity in `home` (kept across restarts). */
export function startNodeHost(gw, home) {
  const logPath = path.join(home, 'node-host.log');
  const out = fs.openSync(logPath, 'a');
  const child = spawn(OPENCLAW_BIN, ['node', 'run', '--host', '127.0.0.1', '--port', String(gw.port), '--no-tls'], {
    cwd: home,
    env: cleanEnv({ HOME: home, OPENCLAW_GATEWAY_TOKEN: gw.token, PATH: `${PEER_NODE_BIN_DIR}:${process.env.PATH}`, NO_COLOR: '1' }),
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  live.add(child.pid);
  return {
    child,
    log: () => fs.readFileSync(logPath, 'utf8'),
    async stop() {
      const helpers = groupsBelow(child.pid);
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      if (!(await waitForExit(child, 8000))) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      for (const g of helpers) try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ }
      live.delete(child.pid);
    },
    /** SIGKILL, as a crash: no goodbye to the gateway. */
    async kill() {
      const helpers = groupsBelow(child.pid);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      for (const g of helpers) try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ }
      await waitForExit(child, 5000);
      live.delete(child.pid);
    },
  };
}

