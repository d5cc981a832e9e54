// A local stand-in for Telegram's Bot API, for the channel tests: one bot, one token,
// on node:http, answering as api.telegram.org does for the calls clawgate makes.
//
//   const tg = await startTelegramStandin({ token: '123:abc', username: 'clawbot' });
//   config: channels.telegram = { botToken: '123:abc', apiRoot: tg.apiRoot }
//   tg.message({ chatId: 42, fromId: 42, text: 'hi' });          // a DM arrives
//   tg.message({ chatId: -100, chatType: 'group', fromId: 7, text: '@clawbot hi' });
//   const sent = await tg.waitForSend((m) => m.chat_id === '42');
//   await tg.close();
//
// Routes: POST or GET /bot<token>/<method> with a JSON body (or query string):
//   getMe        {id, is_bot, first_name, username}
//   getUpdates   {offset?, timeout?}: updates with update_id >= offset (those below are
//                confirmed and forgotten, as Telegram does); none queued: held until one
//                arrives or `timeout` seconds pass (then [])
//   sendMessage  {chat_id, text, reply_parameters?}: recorded in tg.sent, answered with
//                a Message (message_id counting from 1000; `at` and `hr`, performance.now(),
//                tell when it arrived, an update's non-enumerable queuedAt when it was queued); text over 4,096 characters
//                is refused with 400 "Bad Request: message is too long", as Telegram does
//   sendChatAction: true
//   anything else: 404 {ok: false, error_code: 404, description: "Not Found"}
// A wrong token: 401 {ok: false, error_code: 401, description: "Unauthorized"}.
//
// Failure switches (each takes the next `count` calls of `method`, '*' for any):
//   tg.rateLimit(method, { count, retryAfter })  429 with parameters.retry_after
//   tg.fail(method, { count, status })           5xx (default 500) error bodies
//   tg.cut(method, { count })                    the connection is destroyed, no answer
//   await tg.down() / await tg.up()              the server stops listening (refused
//                                                connections, open polls cut) and
//                                                comes back on the same port
//   tg.token = 'other'                           changes the valid token
// tg.calls records every call as {method, body, at, status}; tg.count(method) counts.
import http from 'node:http';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startTelegramStandin({ token = '123456:TEST-token', username = 'clawbot', botId = 999001, host = '127.0.0.1' } = {}) {
  const updates = [];
  const waiters = new Set(); // held getUpdates: {offset, finish}
  const sockets = new Set();
  const switches = [];
  let nextUpdateId = 1;
  let nextMessageId = 1000;
  let server;
  let port = 0;

  const tg = {
    token,
    username,
    botId,
    sent: [],
    calls: [],
    get apiRoot() { return `http://${host}:${port}`; },
    get port() { return port; },
    count(method) { return this.calls.filter((c) => c.method === method).length; },
    callsOf(method) { return this.calls.filter((c) => c.method === method); },

    /** Queues an update (its update_id is assigned) and wakes held polls. */
    update(u) {
      const update = { update_id: nextUpdateId++, ...u };
      Object.defineProperty(update, 'queuedAt', { value: performance.now() }); // not sent
      updates.push(update);
      for (const w of [...waiters]) w.check();
      return update;
    },
    /** A text message from a user: a DM by default, a group with chatType 'group'. */
    message({ chatId, fromId, text, chatType, username: fromUsername, firstName = 'Tess', entities, replyToFromId, messageId }) {
      const type = chatType || (chatId === fromId ? 'private' : 'group');
      const message = {
        message_id: messageId ?? nextMessageId++,
        date: Math.floor(Date.now() / 1000),
        chat: type === 'private' ? { id: chatId, type, first_name: firstName } : { id: chatId, type, title: 'A group' },
        from: { id: fromId, is_bot: false, first_name: firstName, ...(fromUsername ? { username: fromUsername } : {}) },
        text,
        ...(entities ? { entities } : {}),
        ...(replyToFromId ? { reply_to_message: { message_id: 1, date: 0, chat: { id: chatId, type }, from: { id: replyToFromId, is_bot: true, first_name: 'bot' } } } : {}),
      };
      return this.update({ message });
    },
    rateLimit(method, { count = 1, retryAfter = 1 } = {}) { switches.push({ method, count, kind: 'rate', retryAfter }); },
    fail(method, { count = 1, status = 500 } = {}) { switches.push({ method, count, kind: 'fail', status }); },
    cut(method, { count = 1 } = {}) { switches.push({ method, count, kind: 'cut' }); },

    /** Resolves with the first recorded sendMessage matching pred (seen already or later). */
    async waitForSend(pred = () => true, timeoutMs = 10000, from = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = this.sent.slice(from).find(pred);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`no matching sendMessage within ${timeoutMs} ms; sent: ${JSON.stringify(this.sent.slice(-5))}`);
        await sleep(20);
      }
    },
    async down() {
      for (const w of [...waiters]) w.cancel();
      const closed = new Promise((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    async up() { await listen(port); },
    async close() { await this.down(); },
  };

  function takeSwitch(method) {
    const s = switches.find((x) => x.count > 0 && (x.method === method || x.method === '*'));
    if (!s) return null;
    s.count--;
    return s;
  }

  function reply(res, status, body) {
    if (res.destroyed || res.writableEnded) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function getUpdates(res, params, call) {
    const offset = Number(params.offset || 0);
    if (offset > 0) {
      while (updates.length && updates[0].update_id < offset) updates.shift();
    }
    const ready = () => updates.filter((u) => u.update_id >= offset).slice(0, Number(params.limit || 100));
    const now = ready();
    const timeoutS = Number(params.timeout || 0);
    if (now.length || timeoutS <= 0) {
      reply(res, 200, { ok: true, result: now });
      return;
    }
    const w = {
      check() {
        const got = ready();
        if (!got.length) return;
        finish(got);
      },
      cancel() { waiters.delete(w); clearTimeout(timer); res.socket?.destroy(); },
    };
    function finish(result) {
      waiters.delete(w);
      clearTimeout(timer);
      call.answeredAt = Date.now();
      reply(res, 200, { ok: true, result });
    }
    const timer = setTimeout(() => finish([]), timeoutS * 1000);
    res.on('close', () => { waiters.delete(w); clearTimeout(timer); });
    waiters.add(w);
  }

  function handle(req, res, raw) {
    const url = new URL(req.url, 'http://x');
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    let params = Object.fromEntries(url.searchParams);
    if (raw.length) {
      try { params = { ...params, ...JSON.parse(raw) }; } catch { /* form bodies are not used */ }
    }
    const method = m ? m[2] : url.pathname;
    const call = { method, body: params, at: Date.now(), status: 0 };
    tg.calls.push(call);
    if (!m) { call.status = 404; reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' }); return; }
    if (m[1] !== tg.token) { call.status = 401; reply(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' }); return; }
    const sw = takeSwitch(method);
    if (sw?.kind === 'cut') { call.status = -1; req.socket.destroy(); return; }
    if (sw?.kind === 'rate') {
      call.status = 429;
      reply(res, 429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${sw.retryAfter}`, parameters: { retry_after: sw.retryAfter } });
      return;
    }
    if (sw?.kind === 'fail') { call.status = sw.status; reply(res, sw.status, { ok: false, error_code: sw.status, description: 'Internal Server Error' }); return; }
    call.status = 200;
    switch (method) {
      case 'getMe':
        reply(res, 200, { ok: true, result: { id: tg.botId, is_bot: true, first_name: 'Claw', username: tg.username, can_join_groups: true } });
        return;
      case 'getUpdates':
        getUpdates(res, params, call);
        return;
      case 'sendMessage': {
        const text = String(params.text ?? '');
        if (!text.length) { call.status = 400; reply(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message text is empty' }); return; }
        // Telegram counts UTF-16 code units, as JavaScript strings do.
        if (text.length > 4096) { call.status = 400; reply(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message is too long' }); return; }
        const message_id = nextMessageId++;
        tg.sent.push({ ...params, chat_id: String(params.chat_id), message_id, at: Date.now(), hr: performance.now() });
        reply(res, 200, { ok: true, result: { message_id, date: Math.floor(Date.now() / 1000), chat: { id: Number(params.chat_id) }, text } });
        return;
      }
      case 'sendChatAction':
        reply(res, 200, { ok: true, result: true });
        return;
      default:
        call.status = 404;
        reply(res, 404, { ok: false, error_code: 404, description: 'Not Found: method not found' });
    }
  }

  function listen(p) {
    server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, host, () => { port = server.address().port; resolve(); });
    });
  }

  await listen(0);
  return tg;
}
