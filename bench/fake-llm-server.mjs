// A local OpenAI-compatible streaming provider for bench/chat.sh (cg-chatsim), run as its
// own process with the reference peer's node:
//
//   node bench/fake-llm-server.mjs --port 0 --log /tmp/provider.log
//
// prints `{"port":P}` once listening. Routes (any prefix, so baseUrl may end in /v1):
//   POST .../chat/completions  stream true: SSE chunks; false: one JSON answer
//   GET  .../models            {object: "list", data: [{id: "m1"}]}
//
// What to stream is read from the newest user message holding a marker
//   chatsim:<id>:<chunks>:<delayMs>:<size>
// streams <chunks> content deltas of <size> bytes each (chunk i is i modulo 10^(size-1),
// zero-padded to size-1 digits, then a space), <delayMs> apart (0: all written at once,
// as fast as the socket takes them). The first write carries the role chunk and the first
// content chunk together, so the first SSE data byte is the first text. Without a marker
// (e.g. a title or summary request the gateway makes on its own) the reply is "ok".
//
// For every marked request one JSON line goes to --log once the response ended:
//   {"id", "req_us", "first_us", "last_us", "chunks", "bytes"}
// times in microseconds of CLOCK_MONOTONIC (process.hrtime, the clock cg_mono_ns reads):
// the request body fully received, just before the first SSE data chunk was written, just
// after the last one ([DONE]) was written.
import http from 'node:http';
import fs from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(opt('--port', '0'));
const logPath = opt('--log', '');
const dumpPath = opt('--dump-unmarked', ''); // requests without a marker, for debugging
const logFd = logPath ? fs.openSync(logPath, 'a') : -1;
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const MARKER = /chatsim:([A-Za-z0-9_.-]+):(\d+):(\d+):(\d+)/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function chunkText(i, size) {
  const digits = Math.max(1, size - 1);
  return String(i % 10 ** Math.min(digits, 15)).padStart(digits, '0') + (size > 1 ? ' ' : '');
}

// The newest user message holding a marker (the real gateway appends user messages of its
// own, e.g. internal context, after the one the client sent).
function findMarker(body) {
  const msgs = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (m?.role !== 'user') continue;
    let text = '';
    if (typeof m.content === 'string') text = m.content;
    else if (Array.isArray(m.content)) text = m.content.map((p) => (p?.type === 'text' ? p.text : '')).join('');
    const found = MARKER.exec(text);
    if (found) return found;
  }
  return null;
}

async function complete(req, res, body, reqUs) {
  const m = findMarker(body);
  if (!m && dumpPath) fs.appendFileSync(dumpPath, JSON.stringify(body) + '\n');
  const id = m ? m[1] : null;
  const n = m ? Math.min(Number(m[2]), 1000000) : 1;
  const delayMs = m ? Math.min(Number(m[3]), 60000) : 0;
  const size = m ? Math.max(1, Math.min(Number(m[4]), 4096)) : 2;
  const parts = [];
  for (let i = 0; i < n; i++) parts.push(m ? chunkText(i, size) : 'ok');
  const model = body?.model || 'm1';
  const cid = `chatcmpl-bench${reqUs}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta, finish = null) =>
    `data: ${JSON.stringify({ id: cid, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  if (body?.stream !== true) {
    const text = parts.join('');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: cid, object: 'chat.completion', created, model, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: n, total_tokens: n + 1 } }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const firstUs = nowUs();
  res.write(chunk({ role: 'assistant', content: '' }) + chunk({ content: parts[0] }));
  let bytes = Buffer.byteLength(parts[0]);
  for (let i = 1; i < parts.length; i++) {
    if (delayMs > 0) await sleep(delayMs);
    if (res.destroyed) return;
    res.write(chunk({ content: parts[i] }));
    bytes += Buffer.byteLength(parts[i]);
  }
  let tail = chunk({}, 'stop');
  if (body?.stream_options?.include_usage === true) {
    tail += `data: ${JSON.stringify({ id: cid, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: 1, completion_tokens: n, total_tokens: n + 1 } })}\n\n`;
  }
  res.end(tail + 'data: [DONE]\n\n');
  const lastUs = nowUs();
  if (id && logFd >= 0) {
    fs.writeSync(logFd, JSON.stringify({ id, req_us: reqUs, first_us: firstUs, last_us: lastUs, chunks: n, bytes }) + '\n');
  }
}

const server = http.createServer((req, res) => {
  const bufs = [];
  req.on('data', (c) => bufs.push(c));
  req.on('end', () => {
    const reqUs = nowUs();
    const path = req.url.split('?')[0];
    if (req.method === 'GET' && path.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'm1', object: 'model', created: 0, owned_by: 'bench' }] }));
      return;
    }
    if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route for ${req.method} ${path}` } }));
      return;
    }
    let body;
    try {
      body = JSON.parse(Buffer.concat(bufs).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'bad JSON' } }));
      return;
    }
    complete(req, res, body, reqUs).catch((e) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
});
server.keepAliveTimeout = 5000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 1000).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
