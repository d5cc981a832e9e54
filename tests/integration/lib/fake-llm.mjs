// A local model provider for tests: OpenAI-compatible and Anthropic-compatible HTTP
// endpoints on one node:http server, streaming real Server-Sent Events, scriptable per
// request, recording every request.
//
//   const llm = await startFakeLlm({ apiKey: 'sk-test' });
//   config: models.providers.fake = { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-test',
//             api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] }
//           or { baseUrl: llm.anthropicBaseUrl, api: 'anthropic-messages', ... }
//   llm.script({ reply: 'Hello there', chunks: 3, delayMs: 20 });  // the next completion
//   ... run a chat ...
//   const req = await llm.waitForRequest((r) => r.kind === 'openai');
//   req.body.messages, req.headers.authorization, await req.closed
//   await llm.close();
//
// Routes (any prefix before them is accepted, so baseUrl may end in /v1 or not):
//   POST .../chat/completions   OpenAI chat completions (stream true: SSE; false: JSON)
//   POST .../messages           Anthropic messages (stream true: SSE; false: JSON)
//   GET  .../models             OpenAI model list {object: "list", data: [{id, ...}]}
//
// A script (the next completion request takes the next one, first in first out; with
// none queued, `defaultScript` applies, itself { reply: 'ok' } unless set):
//   reply        text of the reply, or (request) => text; echo: true answers
//                "echo: <last user text>"
//   chunks       number of text deltas the reply is split into (default 1; never splits
//                inside a character), or an explicit array of strings (reply ignored)
//   delayMs      pause before each delta after the first (default 0)
//   firstByteDelayMs  pause before the response head is written (default 0)
//   status       answer this HTTP status with an error body instead of streaming
//                (400, 401, 403, 404, 429, 500, 503, ...); errorMessage overrides the
//                text; body (object or string) overrides the whole body
//   retryAfter   Retry-After header value (seconds, or a string) with a status
//   headers      extra response headers
//   cutAfter     destroy the socket after this many deltas (a stream cut mid-way)
//   errorAfter   after this many deltas send an in-stream error event (Anthropic
//                `event: error`, OpenAI `data: {"error": ...}`) and end the response
//   hang         write the head (hang: 'head') or nothing (hang: true) and then send
//                nothing more until the client goes away
//   toolCall     {name, arguments (object), id?}: after the text, a tool call (OpenAI
//                tool_calls, finish_reason "tool_calls"; Anthropic tool_use block,
//                stop_reason "tool_use")
//   stopReason   finish reason to report (default "stop" / "end_turn"; "length" /
//                "max_tokens" ...)
//   usage        {input, output} tokens to report (default: counted words)
//   noUsage      send no usage at all
//   fragment     write the SSE bytes in pieces of this many bytes (tests line reassembly)
//   crlf         end SSE lines with \r\n
//   comments     send SSE comment lines (": keep-alive") and, for Anthropic, ping events
//
// Each request is recorded in llm.requests as
//   { kind: 'openai' | 'anthropic' | 'models' | 'other', method, path, headers, body
//     (parsed JSON or the raw text), rawBody, at (ms), script (what answered it),
//     closed (a promise resolving to the time the connection closed), closedAt,
//     clientAborted (the client went away before the response ended), images (the image
//     parts found in the messages, normalized to {mimeType, data}) }.
// llm.completions() lists the completion requests only.
import http from 'node:http';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function splitText(text, n) {
  const chars = Array.from(text);
  if (n <= 1 || chars.length <= 1) return [text];
  const parts = [];
  const size = Math.ceil(chars.length / n);
  for (let i = 0; i < chars.length; i += size) parts.push(chars.slice(i, i + size).join(''));
  return parts;
}

function lastUserText(kind, body) {
  const msgs = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return m.content.filter((p) => p?.type === 'text').map((p) => p.text).join('');
  }
  return '';
}

function findImages(kind, body) {
  const out = [];
  for (const m of Array.isArray(body?.messages) ? body.messages : []) {
    if (!Array.isArray(m?.content)) continue;
    for (const p of m.content) {
      if (p?.type === 'image_url') {
        const url = typeof p.image_url === 'string' ? p.image_url : p.image_url?.url;
        const mm = /^data:([^;]+);base64,(.*)$/s.exec(url || '');
        out.push(mm ? { mimeType: mm[1], data: mm[2] } : { url });
      } else if (p?.type === 'image' && p.source) {
        out.push({ mimeType: p.source.media_type, data: p.source.data });
      }
    }
  }
  return out;
}

function countTokens(text) {
  return String(text).split(/\s+/).filter(Boolean).length;
}

const OPENAI_ERRORS = {
  400: ['invalid_request_error', 'Bad request: the fake provider refused this request'],
  401: ['invalid_request_error', 'Incorrect API key provided'],
  403: ['permission_error', 'You are not allowed to use this model'],
  404: ['invalid_request_error', 'The model does not exist'],
  429: ['rate_limit_exceeded', 'Rate limit reached for requests'],
  500: ['server_error', 'The server had an error while processing your request'],
  502: ['server_error', 'Bad gateway'],
  503: ['server_error', 'The engine is currently overloaded'],
};
const ANTHROPIC_ERRORS = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export async function startFakeLlm({ apiKey, host = '127.0.0.1', models } = {}) {
  const queue = [];
  const requests = [];
  const waiters = [];
  const sockets = new Set();
  let seq = 0;

  const llm = {
    requests,
    apiKey,
    defaultScript: { reply: 'ok' },
    models: models || [{ id: 'fake-model', owned_by: 'fake' }, { id: 'fake-model-2', owned_by: 'fake' }],
    /** Queues scripts for the next completion requests, in order. */
    script(...scripts) { queue.push(...scripts); return llm; },
    /** Scripts still queued. */
    pending() { return queue.length; },
    /** Replaces the script used when none is queued. */
    setDefault(s) { llm.defaultScript = s; return llm; },
    completions() { return requests.filter((r) => r.kind === 'openai' || r.kind === 'anthropic'); },
    /** Resolves the first recorded request (past or future) matching pred. */
    waitForRequest(pred = () => true, timeoutMs = 5000) {
      const found = requests.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`fake-llm: no matching request within ${timeoutMs} ms (${requests.length} recorded)`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    /** Resolves once n completion requests were recorded. */
    async waitForCompletions(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (llm.completions().length < n) {
        if (Date.now() > deadline) throw new Error(`fake-llm: ${llm.completions().length} completion requests, expected ${n}`);
        await sleep(10);
      }
      return llm.completions();
    },
    reset() { queue.length = 0; requests.length = 0; },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
    },
  };

  function record(req, rawBody) {
    let body = rawBody;
    try { body = rawBody.length ? JSON.parse(rawBody) : undefined; } catch { /* keep the text */ }
    const path = req.url.split('?')[0];
    let kind = 'other';
    if (req.method === 'POST' && path.endsWith('/chat/completions')) kind = 'openai';
    else if (req.method === 'POST' && path.endsWith('/messages')) kind = 'anthropic';
    else if (req.method === 'GET' && path.endsWith('/models')) kind = 'models';
    let markClosed;
    const r = {
      id: ++seq,
      kind,
      method: req.method,
      path,
      headers: req.headers,
      body,
      rawBody,
      at: Date.now(),
      closedAt: null,
      clientAborted: false,
      images: findImages(kind, body),
      closed: new Promise((resolve) => { markClosed = resolve; }),
    };
    r.markClosed = (t) => { if (r.closedAt === null) { r.closedAt = t; markClosed(t); } };
    requests.push(r);
    for (const w of [...waiters]) {
      if (w.pred(r)) {
        clearTimeout(w.timer);
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(r);
      }
    }
    return r;
  }

  function authorized(kind, req) {
    if (!llm.apiKey) return true;
    if (kind === 'anthropic') return req.headers['x-api-key'] === llm.apiKey;
    return req.headers.authorization === `Bearer ${llm.apiKey}`;
  }

  function errorBody(kind, status, message) {
    if (kind === 'anthropic') {
      return { type: 'error', error: { type: ANTHROPIC_ERRORS[status] || 'api_error', message: message || `fake error ${status}` } };
    }
    const [type, text] = OPENAI_ERRORS[status] || ['server_error', `fake error ${status}`];
    return { error: { message: message || text, type, param: null, code: status === 401 ? 'invalid_api_key' : null } };
  }

  async function answerError(res, kind, s) {
    const headers = { 'content-type': 'application/json', ...(s.headers || {}) };
    if (s.retryAfter !== undefined) headers['retry-after'] = String(s.retryAfter);
    const body = s.body !== undefined ? (typeof s.body === 'string' ? s.body : JSON.stringify(s.body))
      : JSON.stringify(errorBody(kind, s.status, s.errorMessage));
    res.writeHead(s.status, headers);
    res.end(body);
  }

  function openaiChunks(r, s, parts, model) {
    const id = `chatcmpl-fake${r.id}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta, finish = null, extra = {}) => ({
      id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra,
    });
    const events = [];
    events.push({ data: chunk({ role: 'assistant', content: '' }) });
    parts.forEach((p) => events.push({ data: chunk({ content: p }), delta: true }));
    let finish = s.stopReason || 'stop';
    if (s.toolCall) {
      const callId = s.toolCall.id || `call_fake${r.id}`;
      const args = JSON.stringify(s.toolCall.arguments || {});
      events.push({ data: chunk({ tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: s.toolCall.name, arguments: '' } }] }) });
      const half = Math.ceil(args.length / 2);
      events.push({ data: chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, half) } }] }) });
      events.push({ data: chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] }) });
      finish = s.stopReason || 'tool_calls';
    }
    events.push({ data: chunk({}, finish) });
    const includeUsage = r.body?.stream_options?.include_usage === true;
    if (!s.noUsage && includeUsage) {
      const u = s.usage || { input: countTokens(JSON.stringify(r.body?.messages || [])), output: countTokens(parts.join('')) };
      events.push({ data: { id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output } } });
    }
    events.push({ raw: '[DONE]' });
    return events;
  }

  function anthropicEvents(r, s, parts, model) {
    const u = s.usage || { input: countTokens(JSON.stringify(r.body?.messages || [])), output: countTokens(parts.join('')) };
    const events = [];
    events.push({ event: 'message_start', data: { type: 'message_start', message: { id: `msg_fake${r.id}`, type: 'message', role: 'assistant', content: [], model, stop_reason: null, stop_sequence: null, usage: s.noUsage ? {} : { input_tokens: u.input, output_tokens: 1 } } } });
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } });
    if (s.comments) events.push({ event: 'ping', data: { type: 'ping' } });
    parts.forEach((p) => events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } }, delta: true }));
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } });
    let stop = s.stopReason || 'end_turn';
    if (s.toolCall) {
      const args = JSON.stringify(s.toolCall.arguments || {});
      events.push({ event: 'content_block_start', data: { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: s.toolCall.id || `toolu_fake${r.id}`, name: s.toolCall.name, input: {} } } });
      events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: args } } });
      events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: 1 } });
      stop = s.stopReason || 'tool_use';
    }
    events.push({ event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: s.noUsage ? {} : { output_tokens: u.output } } });
    events.push({ event: 'message_stop', data: { type: 'message_stop' } });
    return events;
  }

  function sseText(ev, crlf) {
    const nl = crlf ? '\r\n' : '\n';
    let out = '';
    if (ev.event) out += `event: ${ev.event}${nl}`;
    out += `data: ${ev.raw !== undefined ? ev.raw : JSON.stringify(ev.data)}${nl}${nl}`;
    return out;
  }

  async function write(res, text, s) {
    if (res.destroyed) return false;
    if (!s.fragment) return res.write(text);
    const buf = Buffer.from(text);
    for (let i = 0; i < buf.length; i += s.fragment) {
      if (res.destroyed) return false;
      res.write(buf.subarray(i, i + s.fragment));
      await sleep(1);
    }
    return true;
  }

  async function answerCompletion(req, res, r) {
    const kind = r.kind;
    if (!authorized(kind, req)) {
      r.script = { status: 401 };
      return answerError(res, kind, { status: 401, errorMessage: kind === 'anthropic' ? 'invalid x-api-key' : undefined });
    }
    const s = queue.length ? queue.shift() : llm.defaultScript;
    r.script = s;
    if (s.firstByteDelayMs) await sleep(s.firstByteDelayMs);
    if (res.destroyed) return;
    if (s.status) return answerError(res, kind, s);
    if (s.hang) {
      if (s.hang === 'head') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.flushHeaders();
      }
      return; /* until the client goes away (or llm.close()) */
    }
    let text;
    let parts;
    if (Array.isArray(s.chunks)) {
      parts = s.chunks;
      text = parts.join('');
    } else {
      text = s.echo ? `echo: ${lastUserText(kind, r.body)}` : typeof s.reply === 'function' ? String(s.reply(r)) : String(s.reply ?? '');
      parts = text.length ? splitText(text, s.chunks || 1) : [];
    }
    const model = r.body?.model || 'fake-model';
    const stream = r.body?.stream === true;
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json', ...(s.headers || {}) });
      if (kind === 'anthropic') {
        const content = [{ type: 'text', text }];
        if (s.toolCall) content.push({ type: 'tool_use', id: `toolu_fake${r.id}`, name: s.toolCall.name, input: s.toolCall.arguments || {} });
        res.end(JSON.stringify({ id: `msg_fake${r.id}`, type: 'message', role: 'assistant', model, content, stop_reason: s.toolCall ? 'tool_use' : s.stopReason || 'end_turn', usage: { input_tokens: 1, output_tokens: countTokens(text) } }));
      } else {
        res.end(JSON.stringify({ id: `chatcmpl-fake${r.id}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: s.stopReason || 'stop' }], usage: { prompt_tokens: 1, completion_tokens: countTokens(text), total_tokens: 1 + countTokens(text) } }));
      }
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...(s.headers || {}) });
    const events = kind === 'anthropic' ? anthropicEvents(r, s, parts, model) : openaiChunks(r, s, parts, model);
    let deltas = 0;
    for (const ev of events) {
      if (res.destroyed) return;
      if (ev.delta) {
        if (deltas > 0 && s.delayMs) await sleep(s.delayMs);
        if (res.destroyed) return;
        if (s.cutAfter !== undefined && deltas >= s.cutAfter) {
          res.socket?.destroy();
          return;
        }
        if (s.errorAfter !== undefined && deltas >= s.errorAfter) {
          const err = kind === 'anthropic'
            ? { event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: s.errorMessage || 'Overloaded' } } }
            : { data: { error: { message: s.errorMessage || 'The server had an error while streaming', type: 'server_error' } } };
          await write(res, sseText(err, s.crlf), s);
          res.end();
          return;
        }
        deltas++;
      }
      if (s.comments) await write(res, `: keep-alive${s.crlf ? '\r\n' : '\n'}`, s);
      await write(res, sseText(ev, s.crlf), s);
    }
    res.end();
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = record(req, Buffer.concat(chunks).toString('utf8'));
      res.on('close', () => {
        if (!res.writableFinished) r.clientAborted = true;
        r.markClosed(Date.now());
      });
      const go = async () => {
        if (r.kind === 'models') {
          if (llm.apiKey && req.headers.authorization !== `Bearer ${llm.apiKey}` && req.headers['x-api-key'] !== llm.apiKey) {
            return answerError(res, 'openai', { status: 401 });
          }
          if (llm.modelsStatus) return answerError(res, 'openai', { status: llm.modelsStatus });
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ object: 'list', data: llm.models.map((m) => ({ object: 'model', created: 0, owned_by: 'fake', ...m })) }));
        }
        if (r.kind === 'openai' || r.kind === 'anthropic') return answerCompletion(req, res, r);
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `fake-llm: no route for ${req.method} ${r.path}` } }));
      };
      go().catch((e) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(e));
      });
    });
  });
  server.keepAliveTimeout = 1000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address();
  llm.port = port;
  llm.url = `http://${host}:${port}`;
  llm.openaiBaseUrl = `${llm.url}/v1`;
  llm.anthropicBaseUrl = llm.url;
  return llm;
}
