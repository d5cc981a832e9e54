// Starting and stopping the clawgate binary for a test.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { clawgateBin } from './peer.mjs';

const live = new Set();
process.on('exit', () => {
  for (const p of live) { try { p.kill('SIGKILL'); } catch { /* ignore */ } }
});

export const SANITIZER_PATTERNS = [/ERROR: AddressSanitizer/, /ERROR: LeakSanitizer/, /runtime error:/, /SUMMARY: UndefinedBehaviorSanitizer/];

/** Throws when text (a process's stderr) holds a sanitizer report. */
export function assertNoSanitizerReport(text, what = 'clawgate') {
  for (const re of SANITIZER_PATTERNS) {
    const m = re.exec(text);
    if (m) {
      const start = Math.max(0, m.index - 200);
      throw new Error(`${what}: sanitizer report in stderr:\n${text.slice(start, start + 4000)}`);
    }
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Plain HTTP GET (or other method) over node:http. Resolves {status, headers, body, json}. */
export function httpRequest(port, urlPath, { method = 'GET', headers = {}, host = '127.0.0.1', timeoutMs = 5000, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path: urlPath, method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`HTTP ${method} ${urlPath} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function waitForExit(proc, timeoutMs) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    proc.once('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
  });
}

/** VmRSS of a process in KiB (Linux /proc). */
export function rssKiB(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
  return m ? Number(m[1]) : NaN;
}

/** Writes obj as <stateDir>/clawgate.json (pretty JSON). */
export function writeConfig(stateDir, obj) {
  const p = path.join(stateDir, 'clawgate.json');
  fs.writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2) + '\n');
  return p;
}

export function makeStateDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-it-'));
}

/**
 * Spawns clawgate without waiting for anything. Resolves {proc, out()} so a test can check
 * refusals to start. argv is the full argument list.
 */
/** process.env without variables that would change clawgate's settings (or its model
 * providers) behind a test's back. */
export function cleanEnv(extra = {}) {
  const e = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(OPENCLAW_|CLAWGATE_)/.test(k) && !/^CLAWGATE_(BIN|PEER_DIR)$/.test(k)) continue;
    /* Model provider credentials would make clawgate configure real providers. */
    if (/^(OPENAI|ANTHROPIC)_(API_KEY|BASE_URL)$/.test(k)) continue;
    e[k] = v;
  }
  return { ...e, ...extra };
}

export function spawnClawgate(argv, { env = {}, cwd } = {}) {
  const proc = spawn(clawgateBin(), argv, { env: cleanEnv(env), cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => { live.delete(proc); resolve({ code, signal }); }));
  const closed = new Promise((resolve) => proc.on('close', () => resolve()));
  return { proc, exited, closed, out: () => ({ stdout, stderr }) };
}

/** Runs clawgate to completion (for `call` and refusal tests). Resolves {code, signal, stdout, stderr}. */
export async function runClawgate(argv, { env = {}, timeoutMs = 20000 } = {}) {
  const h = spawnClawgate(argv, { env });
  const r = await waitForExit(h.proc, timeoutMs);
  if (!r) {
    h.proc.kill('SIGKILL');
    throw new Error(`clawgate ${argv.join(' ')} did not exit within ${timeoutMs} ms\n${h.out().stderr}`);
  }
  await h.closed;
  const { stdout, stderr } = h.out();
  assertNoSanitizerReport(stderr, `clawgate ${argv[0]}`);
  return { ...r, stdout, stderr };
}

/**
 * Starts a gateway and waits for GET /healthz 200.
 * options:
 *   config      object (or string) written to <state>/clawgate.json before start
 *   args        extra arguments after the defaults
 *   argv        replaces the whole argument list (use {port}, {stateDir} yourself)
 *   auth        --auth value (default "token"; null to omit)
 *   token       --token value (default random; null to omit)
 *   password    --password value (omitted unless given)
 *   bind        --bind value (default "loopback"; null to omit)
 *   port        port (default: a free one; null to omit --port)
 *   host        address to reach it at (health polling, url; default 127.0.0.1)
 *   portFlag    false: do not pass --port (the port must then come from config/env)
 *   stateDir    existing state dir (default: a new mkdtemp dir)
 *   env         extra environment
 *   readyTimeoutMs  bound for /healthz (default 15000)
 *   keepStateDir    do not delete the state dir on stop
 */
export async function startGateway(options = {}) {
  // A free port can be taken between freePort() and clawgate's bind (ctest runs files in
  // parallel): retry with a new port when the start failed on EADDRINUSE.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGatewayOnce(options);
    } catch (e) {
      const retry = attempt < 3 && options.port === undefined && !options.argv && /in use|EADDRINUSE/i.test(e.message);
      if (!retry) throw e;
    }
  }
}

async function startGatewayOnce(options) {
  const stateDir = options.stateDir || makeStateDir();
  const port = options.port === undefined ? await freePort() : options.port;
  const token = options.token === undefined ? 'tok-' + randomBytes(12).toString('hex') : options.token;
  const auth = options.auth === undefined ? 'token' : options.auth;
  const bind = options.bind === undefined ? 'loopback' : options.bind;
  if (options.config !== undefined) writeConfig(stateDir, options.config);
  let argv = options.argv;
  if (!argv) {
    argv = ['run'];
    if (port !== null && options.portFlag !== false) argv.push('--port', String(port));
    if (bind !== null) argv.push('--bind', bind);
    if (auth !== null) argv.push('--auth', auth);
    if (token !== null && auth === 'token') argv.push('--token', token);
    if (options.password !== undefined) argv.push('--password', options.password);
    argv.push('--state-dir', stateDir);
    argv.push(...(options.args || []));
  }
  const h = spawnClawgate(argv, { env: options.env || {} });
  const gw = {
    port,
    stateDir,
    proc: h.proc,
    pid: h.proc.pid,
    url: `ws://${options.host || '127.0.0.1'}:${port}`,
    token: auth === 'token' ? (token ?? undefined) : undefined,
    password: options.password,
    argv,
    logs: h.out,
    exited: h.exited,
    configPath: path.join(stateDir, 'clawgate.json'),
    logPath: path.join(stateDir, 'logs', 'clawgate.log'),
    stopped: false,
    http: (p, o) => httpRequest(port, p, { host: options.host || '127.0.0.1', ...o }),
    /** Parsed lines of DIR/logs/clawgate.log (throws on a non-JSON line). */
    logLines() {
      let text;
      try { text = fs.readFileSync(gw.logPath, 'utf8'); } catch { return []; }
      return text.split('\n').filter((l) => l.length).map((l, i) => {
        try { return JSON.parse(l); } catch { throw new Error(`log line ${i + 1} is not JSON: ${l}`); }
      });
    },
    readConfig() { return fs.readFileSync(gw.configPath, 'utf8'); },
    rssKiB() { return rssKiB(h.proc.pid); },
    /**
     * Sends `signal` and waits for exit within timeoutMs; asserts exit code 0 (unless
     * expectCode is given: a number, or null to accept anything) and no sanitizer report.
     * Resolves {code, signal, stdout, stderr, ms}.
     */
    async stop(signal = 'SIGTERM', { timeoutMs = 5000, expectCode = 0, keepStateDir = options.keepStateDir } = {}) {
      if (gw.stopped) return gw.stopResult;
      gw.stopped = true;
      const t0 = Date.now();
      if (h.proc.exitCode === null && h.proc.signalCode === null) h.proc.kill(signal);
      const r = await waitForExit(h.proc, timeoutMs);
      if (!r) {
        h.proc.kill('SIGKILL');
        await waitForExit(h.proc, 2000);
        throw new Error(`clawgate did not exit within ${timeoutMs} ms of ${signal}\nstderr:\n${h.out().stderr.slice(-4000)}`);
      }
      await Promise.race([h.closed, sleep(1000)]);
      const ms = Date.now() - t0;
      const { stdout, stderr } = h.out();
      gw.stopResult = { ...r, stdout, stderr, ms };
      if (!keepStateDir) fs.rmSync(stateDir, { recursive: true, force: true });
      assertNoSanitizerReport(stderr);
      if (expectCode !== null && (r.code !== expectCode)) {
        throw new Error(`clawgate exited with code ${r.code} signal ${r.signal} (expected ${expectCode})\nstderr:\n${stderr.slice(-4000)}`);
      }
      return gw.stopResult;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15000);
  let lastErr;
  for (;;) {
    if (h.proc.exitCode !== null || h.proc.signalCode !== null) {
      await Promise.race([h.closed, sleep(500)]);
      const { stdout, stderr } = h.out();
      throw new Error(`clawgate exited early (code ${h.proc.exitCode}, signal ${h.proc.signalCode})\nargv: ${argv.join(' ')}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    }
    if (port !== null) {
      try {
        const r = await httpRequest(port, '/healthz', { timeoutMs: 1000, host: options.host || '127.0.0.1' });
        if (r.status === 200) break;
        lastErr = new Error(`/healthz answered ${r.status}`);
      } catch (e) { lastErr = e; }
    }
    if (Date.now() > deadline) {
      h.proc.kill('SIGKILL');
      throw new Error(`clawgate not healthy within bound: ${lastErr && lastErr.message}\nstderr:\n${h.out().stderr}`);
    }
    await sleep(50);
  }
  return gw;
}

/** Polls fn() (sync or async) until it returns a truthy value; throws the last error/value after timeoutMs. */
export async function eventually(fn, timeoutMs = 3000, what = 'condition', intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await sleep(intervalMs);
  }
}
