/* The Telegram Bot API client (telegram.h).
 *
 * One bot, two lanes on one cg_http (libcurl multi on the loop):
 *   - the poll lane: getMe, then getUpdates long polls back to back. Its timer waits out
 *     a back-off or a 429 before the next call. `verified` says whether getMe passed for
 *     the current token: after a failure the timer retries getMe until it has, then
 *     getUpdates.
 *   - the send lane: a FIFO of texts, each split into parts; one sendMessage in flight.
 *     Its own timer spaces retries.
 * Every call carries the lane's generation; stop and restart bump it, so an answer
 * arriving for an older call (cancelled requests never answer, but a callback may stop
 * the bot mid-way through a batch of updates) is ignored.
 *
 * Responses are read into a bounded buffer (CG_TELEGRAM_BODY_MAX) and parsed whole. */
#include "channels/telegram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "agent/http_client.h"
#include "channels/channel_store.h"
#include "common/log.h"
#include "common/util.h"

#define DEFAULT_API_ROOT "https://api.telegram.org"
#define BODY_MAX (8u * 1024 * 1024)
#define SEND_ATTEMPTS 5
#define RETRY_AFTER_MAX_MS (300 * 1000)
#define RETRY_DELAY_MAX_MS (3600 * 1000) /* retry.minDelayMs / maxDelayMs are capped here */

typedef enum {
    TG_STOPPED,
    TG_PROBING, /* getMe in flight */
    TG_POLLING, /* getUpdates in flight */
    TG_BACKOFF, /* waiting before the next call after a failure or a 429 */
    TG_UNAUTHORIZED,
} tg_state;

typedef struct send_job {
    struct send_job *next;
    char *chat_id, *text;
    size_t pos, part_start, part_len; /* the part being sent; pos: where the next starts */
    size_t first_start;
    int64_t reply_to, last_message_id;
    int attempts;
    cg_telegram_sent_fn done;
    void *data;
} send_job;

struct cg_telegram {
    uv_loop_t *loop;
    cg_store *store;
    cg_http *http;
    cg_telegram_callbacks cb;
    void *cb_data;

    char *token, *token_source, *api_root;
    int poll_timeout_s;
    int64_t min_delay_ms, max_delay_ms;

    tg_state state;
    bool verified, connected, handles_open, closed;
    uint64_t gen;
    uv_timer_t poll_timer, send_timer;
    cg_http_req *poll_req, *send_req;
    cg_buf poll_body, send_body;

    int64_t offset, bot_id;
    char *bot_username;
    int reconnect_attempts;
    int64_t last_start_at, last_stop_at, last_inbound_at, last_outbound_at, last_connected_at,
        last_transport_at, last_probe_at;
    char *last_error;
    json_t *probe;

    send_job *send_head, *send_tail;
    size_t send_count;
    bool send_waiting; /* send_timer armed */
};

static void poll_next(cg_telegram *t);
static void send_next(cg_telegram *t);

static void set_str(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? cg_strdup(value) : NULL;
}

static void set_error(cg_telegram *t, const char *error)
{
    set_str(&t->last_error, error);
}

/* ---- calls ---- */

static bool append_bounded(cg_buf *b, const char *buf, size_t len)
{
    if (b->len + len > BODY_MAX) return false;
    cg_buf_append(b, buf, len);
    return true;
}

static bool on_poll_data(cg_http_req *r, const char *buf, size_t len, void *data)
{
    return append_bounded(&((cg_telegram *)data)->poll_body, buf, len);
}

static bool on_send_data(cg_http_req *r, const char *buf, size_t len, void *data)
{
    return append_bounded(&((cg_telegram *)data)->send_body, buf, len);
}

typedef void (*call_done_fn)(cg_http_req *r, const cg_http_result *res, void *data);

/* POSTs body (consumed) as JSON to <root>/bot<token>/<method> on the poll lane or the
 * send lane. The token is in the URL: never log it. */
static cg_http_req *api_call(cg_telegram *t, const char *method, json_t *body, long idle_ms,
                             bool send_lane, call_done_fn done)
{
    char url[2048];
    snprintf(url, sizeof url, "%s/bot%s/%s", t->api_root ? t->api_root : DEFAULT_API_ROOT, t->token,
             method);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    static const char *const headers[] = {"Content-Type: application/json"};
    cg_http_request rq = {.method = "POST",
                          .url = url,
                          .headers = headers,
                          .n_headers = 1,
                          .body = text,
                          .body_len = strlen(text),
                          .connect_timeout_ms = 10000,
                          .idle_timeout_ms = idle_ms};
    cg_buf_reset(send_lane ? &t->send_body : &t->poll_body);
    cg_http_callbacks cb = {.on_data = send_lane ? on_send_data : on_poll_data, .on_done = done};
    cg_http_req *r = cg_http_start(t->http, &rq, &cb, t);
    free(text);
    return r;
}

typedef enum { CALL_OK, CALL_UNAUTHORIZED, CALL_RATE, CALL_RETRY, CALL_FAIL } outcome;

/* What an answer means; *doc gets the parsed body (new ref, may be NULL). */
static outcome classify(const cg_http_result *res, const cg_buf *body, json_t **doc,
                        int64_t *retry_after_ms, char *err, size_t errlen)
{
    *doc = NULL;
    if (res->status != CG_HTTP_OK) {
        snprintf(err, errlen, "network: %s",
                 res->status == CG_HTTP_ABORTED ? "response too large"
                 : res->error && *res->error    ? res->error
                                                : "request failed");
        return CALL_RETRY;
    }
    *doc = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    const char *desc = json_string_value(json_object_get(*doc, "description"));
    if (res->code == 200 && json_is_true(json_object_get(*doc, "ok"))) return CALL_OK;
    if (res->code == 401 || res->code == 404) {
        snprintf(err, errlen, "bad token (%ld %s)", res->code,
                 desc               ? desc
                 : res->code == 401 ? "Unauthorized"
                                    : "Not Found");
        return CALL_UNAUTHORIZED;
    }
    if (res->code == 429) {
        json_int_t s =
            json_integer_value(json_object_get(json_object_get(*doc, "parameters"), "retry_after"));
        /* Capped before the multiplication: a server's huge retry_after must not overflow. */
        if (s > RETRY_AFTER_MAX_MS / 1000) s = RETRY_AFTER_MAX_MS / 1000;
        *retry_after_ms = s > 0 ? (int64_t)s * 1000 : 1000;
        snprintf(err, errlen, "rate limited (retry after %lld s)",
                 (long long)(*retry_after_ms / 1000));
        return CALL_RATE;
    }
    snprintf(err, errlen, "HTTP %ld%s%s", res->code, desc ? ": " : "", desc ? desc : "");
    return res->code >= 500 || res->code == 409 || !*doc ? CALL_RETRY : CALL_FAIL;
}

/* The delay before retry number `attempt` (0-based): min doubling up to max, the upper
 * half of it drawn at random so many clients do not retry in step. */
static uint64_t backoff_ms(const cg_telegram *t, int attempt)
{
    int64_t d = t->min_delay_ms;
    for (int i = 0; i < attempt && d < t->max_delay_ms; i++)
        d *= 2;
    if (d > t->max_delay_ms) d = t->max_delay_ms;
    uint64_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1) r = 0;
    return (uint64_t)d / 2 + r % ((uint64_t)d / 2 + 1);
}

/* ---- the update offset (channel_state) ---- */

typedef struct offset_read {
    int64_t bot_id, offset;
} offset_read;

static int read_offset(sqlite3 *db, void *data, char *err, size_t errlen)
{
    offset_read *o = data;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT body FROM channel_state WHERE channel = 'telegram' AND "
                           "account_id = 'default'",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        json_t *body = text ? json_loads(text, 0, NULL) : NULL;
        if (json_integer_value(json_object_get(body, "botId")) == o->bot_id)
            o->offset = json_integer_value(json_object_get(body, "offset"));
        json_decref(body);
    }
    sqlite3_finalize(st);
    return 0;
}

static void load_offset(cg_telegram *t)
{
    offset_read o = {.bot_id = t->bot_id};
    char err[256] = "";
    if (cg_store_read(t->store, read_offset, &o, err, sizeof err) != 0)
        cg_log(CG_LOG_WARN, "telegram", "cannot read the update offset",
               json_pack("{s:s}", "error", err));
    t->offset = o.offset;
}

static void save_offset(cg_telegram *t)
{
    cg_store_batch b = {0};
    cg_store_stmt *s = cg_store_batch_add(
        &b, "INSERT INTO channel_state(channel, account_id, body) VALUES('telegram', "
            "'default', ?1) ON CONFLICT(channel, account_id) DO UPDATE SET body = excluded.body");
    json_t *body =
        json_pack("{s:I, s:I}", "botId", (json_int_t)t->bot_id, "offset", (json_int_t)t->offset);
    cg_store_arg_text_owned(s, json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS));
    json_decref(body);
    cg_channel_store_write(t->store, &b, NULL, NULL);
}

/* ---- the poll lane ---- */

static bool is_running(const cg_telegram *t)
{
    return t->state == TG_PROBING || t->state == TG_POLLING || t->state == TG_BACKOFF;
}

static void on_poll_timer(uv_timer_t *timer)
{
    poll_next(timer->data);
}

static void poll_wait(cg_telegram *t, uint64_t ms)
{
    t->state = TG_BACKOFF;
    t->connected = false;
    uv_timer_start(&t->poll_timer, on_poll_timer, ms, 0);
}

static void poll_failed(cg_telegram *t, outcome o, int64_t retry_after_ms, const char *err)
{
    set_error(t, err);
    if (o == CALL_UNAUTHORIZED) {
        t->state = TG_UNAUTHORIZED;
        t->connected = false;
        t->verified = false;
        t->last_stop_at = cg_now_ms();
        cg_log(CG_LOG_ERROR, "telegram", "the bot token was refused; polling stopped",
               json_pack("{s:s}", "error", err));
        return;
    }
    uint64_t ms = o == CALL_RATE ? (uint64_t)retry_after_ms : backoff_ms(t, t->reconnect_attempts);
    if (o != CALL_RATE) t->reconnect_attempts++;
    cg_log(CG_LOG_WARN, "telegram", "call failed; retrying",
           json_pack("{s:s, s:I}", "error", err, "delayMs", (json_int_t)ms));
    poll_wait(t, ms);
}

static void on_get_me(cg_http_req *r, const cg_http_result *res, void *data)
{
    cg_telegram *t = data;
    t->poll_req = NULL;
    json_t *doc;
    int64_t retry_after = 0;
    char err[512];
    outcome o = classify(res, &t->poll_body, &doc, &retry_after, err, sizeof err);
    t->last_probe_at = cg_now_ms();
    if (res->connected) t->last_transport_at = t->last_probe_at;
    if (o != CALL_OK) {
        json_decref(t->probe);
        t->probe = json_pack("{s:b, s:s}", "ok", 0, "error", err);
        json_decref(doc);
        poll_failed(t, o, retry_after, err);
        return;
    }
    const json_t *me = json_object_get(doc, "result");
    int64_t bot_id = json_integer_value(json_object_get(me, "id"));
    const char *username = json_string_value(json_object_get(me, "username"));
    json_decref(t->probe);
    t->probe = json_pack("{s:b, s:{s:I, s:s?}}", "ok", 1, "bot", "id", (json_int_t)bot_id,
                         "username", username);
    if (bot_id != t->bot_id || !t->verified) {
        t->bot_id = bot_id;
        load_offset(t);
    }
    set_str(&t->bot_username, username);
    json_decref(doc);
    t->verified = true;
    poll_next(t);
}

/* Whether a group message is addressed to the bot: @username in the text (Telegram's
 * "mention" entities are such substrings), a text_mention of the bot, or a reply to one
 * of the bot's messages. */
static bool mentions_bot(const cg_telegram *t, const json_t *msg, const char *text)
{
    const json_t *reply = json_object_get(msg, "reply_to_message");
    if (reply &&
        json_integer_value(json_object_get(json_object_get(reply, "from"), "id")) == t->bot_id)
        return true;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(msg, "entities"), i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        if (type && !strcmp(type, "text_mention") &&
            json_integer_value(json_object_get(json_object_get(e, "user"), "id")) == t->bot_id)
            return true;
    }
    if (!t->bot_username || !*t->bot_username) return false;
    size_t n = strlen(t->bot_username);
    for (const char *p = strchr(text, '@'); p; p = strchr(p + 1, '@')) {
        if (strncasecmp(p + 1, t->bot_username, n) != 0) continue;
        char next = p[1 + n];
        if (!(next == '_' || (next >= '0' && next <= '9') || (next >= 'a' && next <= 'z') ||
              (next >= 'A' && next <= 'Z')))
            return true;
    }
    return false;
}

static void id_text(const json_t *v, char *out, size_t outlen)
{
    if (json_is_integer(v))
        snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, outlen, "%s", json_string_value(v) ? json_string_value(v) : "");
}

/* One update: a text message goes up; everything else is skipped. */
static void deliver_update(cg_telegram *t, const json_t *update)
{
    const json_t *msg = json_object_get(update, "message");
    const char *text = json_string_value(json_object_get(msg, "text"));
    const json_t *chat = json_object_get(msg, "chat");
    const json_t *from = json_object_get(msg, "from");
    if (!text || !chat || !from || json_is_true(json_object_get(from, "is_bot"))) return;
    char chat_id[32], from_id[32], name[256];
    id_text(json_object_get(chat, "id"), chat_id, sizeof chat_id);
    id_text(json_object_get(from, "id"), from_id, sizeof from_id);
    const char *first = json_string_value(json_object_get(from, "first_name"));
    const char *last = json_string_value(json_object_get(from, "last_name"));
    snprintf(name, sizeof name, "%s%s%s", first ? first : "", first && last ? " " : "",
             last ? last : "");
    const char *type = json_string_value(json_object_get(chat, "type"));
    bool group = type && (!strcmp(type, "group") || !strcmp(type, "supergroup"));
    cg_telegram_message m = {
        .chat_id = chat_id,
        .chat_type = type ? type : "private",
        .from_id = from_id,
        .from_username = json_string_value(json_object_get(from, "username")),
        .from_name = name,
        .text = text,
        .message_id = json_integer_value(json_object_get(msg, "message_id")),
        .is_group = group,
        .mentioned = group && mentions_bot(t, msg, text),
    };
    if (!*chat_id || !*from_id) return;
    t->last_inbound_at = cg_now_ms();
    if (t->cb.on_message) t->cb.on_message(t, &m, t->cb_data);
}

static void on_updates(cg_http_req *r, const cg_http_result *res, void *data)
{
    cg_telegram *t = data;
    t->poll_req = NULL;
    json_t *doc;
    int64_t retry_after = 0;
    char err[512];
    outcome o = classify(res, &t->poll_body, &doc, &retry_after, err, sizeof err);
    if (res->connected) t->last_transport_at = cg_now_ms();
    if (o != CALL_OK) {
        json_decref(doc);
        poll_failed(t, o, retry_after, err);
        return;
    }
    if (!t->connected) t->last_connected_at = cg_now_ms();
    t->connected = true;
    t->reconnect_attempts = 0;
    set_error(t, NULL);
    uint64_t gen = t->gen;
    int64_t before = t->offset;
    size_t i;
    const json_t *u;
    json_array_foreach(json_object_get(doc, "result"), i, u)
    {
        int64_t id = json_integer_value(json_object_get(u, "update_id"));
        if (id < t->offset) continue; /* already handled */
        t->offset = id + 1;
        deliver_update(t, u);
        if (t->gen != gen) break; /* a callback stopped or restarted the bot */
    }
    json_decref(doc);
    if (t->offset != before) save_offset(t);
    if (t->gen == gen && t->state == TG_POLLING) poll_next(t);
}

/* The next call of the poll lane: getMe until the token is verified, then getUpdates. */
static void poll_next(cg_telegram *t)
{
    if (t->closed || !t->token) return;
    if (!t->verified) {
        t->state = TG_PROBING;
        t->poll_req = api_call(t, "getMe", json_object(), 15000, false, on_get_me);
        return;
    }
    t->state = TG_POLLING;
    json_t *body =
        json_pack("{s:i, s:[s]}", "timeout", t->poll_timeout_s, "allowed_updates", "message");
    if (t->offset > 0) json_object_set_new(body, "offset", json_integer(t->offset));
    t->poll_req =
        api_call(t, "getUpdates", body, (long)(t->poll_timeout_s + 15) * 1000, false, on_updates);
}

/* ---- the send lane ---- */

static void job_free(send_job *j)
{
    free(j->chat_id);
    free(j->text);
    free(j);
}

/* Takes the head job off the queue and reports how it ended. */
static void job_finish(cg_telegram *t, const char *error)
{
    send_job *j = t->send_head;
    t->send_head = j->next;
    if (!t->send_head) t->send_tail = NULL;
    t->send_count--;
    j->done(j->last_message_id, error, j->data);
    job_free(j);
}

static void fail_all_sends(cg_telegram *t, const char *error)
{
    if (t->send_req) {
        cg_http_cancel(t->send_req);
        t->send_req = NULL;
    }
    if (t->handles_open) uv_timer_stop(&t->send_timer);
    t->send_waiting = false;
    while (t->send_head)
        job_finish(t, error);
}

static void on_send_timer(uv_timer_t *timer)
{
    cg_telegram *t = timer->data;
    t->send_waiting = false;
    send_next(t);
}

static void on_sent(cg_http_req *r, const cg_http_result *res, void *data)
{
    cg_telegram *t = data;
    t->send_req = NULL;
    send_job *j = t->send_head;
    json_t *doc;
    int64_t retry_after = 0;
    char err[512];
    outcome o = classify(res, &t->send_body, &doc, &retry_after, err, sizeof err);
    if (o == CALL_OK) {
        j->last_message_id =
            json_integer_value(json_object_get(json_object_get(doc, "result"), "message_id"));
        json_decref(doc);
        t->last_outbound_at = cg_now_ms();
        j->attempts = 0;
        if (!cg_telegram_next_part(j->text, strlen(j->text), CG_TELEGRAM_TEXT_LIMIT, &j->pos,
                                   &j->part_start, &j->part_len))
            job_finish(t, NULL);
        send_next(t);
        return;
    }
    json_decref(doc);
    if ((o == CALL_RATE || o == CALL_RETRY) && ++j->attempts < SEND_ATTEMPTS) {
        t->send_waiting = true;
        uv_timer_start(&t->send_timer, on_send_timer,
                       o == CALL_RATE ? (uint64_t)retry_after : backoff_ms(t, j->attempts - 1), 0);
        return;
    }
    if (o == CALL_UNAUTHORIZED) set_error(t, err);
    job_finish(t, err);
    send_next(t);
}

static void send_next(cg_telegram *t)
{
    if (t->send_req || t->send_waiting || !t->send_head || t->closed) return;
    send_job *j = t->send_head;
    json_t *body = json_pack("{s:s, s:s%}", "chat_id", j->chat_id, "text", j->text + j->part_start,
                             j->part_len);
    if (j->reply_to > 0 && j->part_start == j->first_start)
        json_object_set_new(body, "reply_parameters",
                            json_pack("{s:I, s:b}", "message_id", (json_int_t)j->reply_to,
                                      "allow_sending_without_reply", 1));
    t->send_req = api_call(t, "sendMessage", body, 30000, true, on_sent);
}

/* sendMessage's body is built with jansson, which refuses invalid UTF-8. */
static bool valid_utf8(const char *text, size_t len)
{
    json_t *s = json_stringn(text, len);
    json_decref(s);
    return s != NULL;
}

void cg_telegram_send(cg_telegram *t, const char *chat_id, const char *text, int64_t reply_to,
                      cg_telegram_sent_fn done, void *data)
{
    const char *refusal = NULL;
    size_t len = text ? strlen(text) : 0;
    if (!is_running(t))
        refusal = t->state == TG_UNAUTHORIZED ? "telegram: bad token" : "telegram: not running";
    else if (!chat_id || !*chat_id)
        refusal = "telegram: no chat id";
    else if (len == 0)
        refusal = "telegram: empty message";
    else if (len > CG_TELEGRAM_TEXT_MAX)
        refusal = "telegram: message too long";
    else if (t->send_count >= CG_TELEGRAM_SEND_QUEUE_MAX)
        refusal = "telegram: send queue full";
    else if (!valid_utf8(text, len))
        refusal = "telegram: text is not valid UTF-8";
    if (refusal) {
        done(0, refusal, data);
        return;
    }
    send_job *j = cg_xcalloc(1, sizeof *j);
    bool any = cg_telegram_next_part(text, len, CG_TELEGRAM_TEXT_LIMIT, &j->pos, &j->part_start,
                                     &j->part_len);
    j->first_start = j->part_start;
    j->chat_id = cg_strdup(chat_id);
    j->text = cg_strdup(text);
    j->reply_to = reply_to;
    j->done = done;
    j->data = data;
    if (!any) {
        job_free(j);
        done(0, "telegram: empty message", data);
        return;
    }
    if (t->send_tail)
        t->send_tail->next = j;
    else
        t->send_head = j;
    t->send_tail = j;
    t->send_count++;
    send_next(t);
}

/* ---- splitting ---- */

/* UTF-16 units of the character starting at s[i] and its length in bytes. */
static size_t char_units(const unsigned char *s, size_t len, size_t i, size_t *bytes)
{
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > len) n = len - i;
    *bytes = n;
    return n == 4 ? 2 : 1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

bool cg_telegram_next_part(const char *text, size_t len, size_t limit, size_t *pos, size_t *start,
                           size_t *part_len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t p = *pos;
    for (;;) {
        while (p < len && is_space(text[p]))
            p++;
        if (p >= len) {
            *pos = len;
            return false;
        }
        /* The longest prefix within the limit, and the best cut inside it. */
        size_t end = p, units = 0, para = 0, line = 0, word = 0;
        while (end < len) {
            size_t bytes, u = char_units(s, len, end, &bytes);
            if (units + u > limit) break;
            if (text[end] == '\n' && end > p && text[end - 1] == '\n') para = end - 1;
            if (text[end] == '\n') line = end;
            if (text[end] == ' ') word = end;
            units += u;
            end += bytes;
        }
        size_t cut = end;
        if (end < len && !is_space(text[end])) /* the limit falls inside a word */
            cut = para > p ? para : line > p ? line : word > p ? word : end;
        size_t part_end = cut;
        while (part_end > p && is_space(text[part_end - 1]))
            part_end--;
        *pos = cut;
        if (part_end > p) {
            *start = p;
            *part_len = part_end - p;
            return true;
        }
        p = cut;
    }
}

/* ---- lifecycle ---- */

cg_telegram *cg_telegram_new(uv_loop_t *loop, cg_store *store, const cg_telegram_callbacks *cb,
                             void *data)
{
    cg_telegram *t = cg_xcalloc(1, sizeof *t);
    t->loop = loop;
    t->store = store;
    t->cb = *cb;
    t->cb_data = data;
    t->poll_timeout_s = 30;
    t->min_delay_ms = 1000;
    t->max_delay_ms = 30000;
    return t;
}

/* The HTTP client and timers exist from the first start until close. */
static void open_handles(cg_telegram *t)
{
    if (t->handles_open) return;
    t->http = cg_http_new(t->loop);
    uv_timer_init(t->loop, &t->poll_timer);
    uv_timer_init(t->loop, &t->send_timer);
    t->poll_timer.data = t->send_timer.data = t;
    t->handles_open = true;
}

static void halt_polling(cg_telegram *t)
{
    t->gen++;
    if (t->poll_req) {
        cg_http_cancel(t->poll_req);
        t->poll_req = NULL;
    }
    if (t->handles_open) uv_timer_stop(&t->poll_timer);
    t->connected = false;
}

void cg_telegram_stop(cg_telegram *t)
{
    bool was = is_running(t);
    halt_polling(t);
    fail_all_sends(t, "telegram: channel stopped");
    if (was) t->last_stop_at = cg_now_ms();
    if (t->state != TG_UNAUTHORIZED) t->state = TG_STOPPED;
}

int cg_telegram_start(cg_telegram *t)
{
    if (t->closed || !t->token) return -1;
    if (is_running(t)) return 0;
    open_handles(t);
    halt_polling(t);
    t->verified = false;
    t->reconnect_attempts = 0;
    t->last_start_at = cg_now_ms();
    set_error(t, NULL);
    poll_next(t);
    return 0;
}

bool cg_telegram_running(const cg_telegram *t)
{
    return is_running(t);
}

bool cg_telegram_unauthorized(const cg_telegram *t)
{
    return t->state == TG_UNAUTHORIZED;
}

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

void cg_telegram_configure(cg_telegram *t, const cg_telegram_conf *conf)
{
    const char *token = conf->token && *conf->token ? conf->token : NULL;
    char *root = NULL;
    if (conf->api_root && *conf->api_root) {
        root = cg_strdup(conf->api_root);
        for (size_t n = strlen(root); n > 0 && root[n - 1] == '/'; n--)
            root[n - 1] = '\0';
    }
    bool changed = !same(token, t->token) || !same(root, t->api_root);
    set_str(&t->token, token);
    free(t->api_root);
    t->api_root = root;
    set_str(&t->token_source, conf->token_source);
    t->poll_timeout_s = conf->poll_timeout_s > 0 ? conf->poll_timeout_s : 30;
    t->min_delay_ms = conf->min_delay_ms > 0 ? conf->min_delay_ms : 1000;
    t->max_delay_ms = conf->max_delay_ms > 0 ? conf->max_delay_ms : 30000;
    if (t->min_delay_ms > RETRY_DELAY_MAX_MS) t->min_delay_ms = RETRY_DELAY_MAX_MS;
    if (t->max_delay_ms > RETRY_DELAY_MAX_MS) t->max_delay_ms = RETRY_DELAY_MAX_MS;
    if (t->max_delay_ms < t->min_delay_ms) t->max_delay_ms = t->min_delay_ms;
    if (!changed) return;
    bool restart = is_running(t) || t->state == TG_UNAUTHORIZED;
    cg_telegram_stop(t);
    t->state = TG_STOPPED;
    t->bot_id = 0;
    t->offset = 0;
    json_decref(t->probe);
    t->probe = NULL;
    if (restart && t->token) cg_telegram_start(t);
}

static json_t *time_or_null(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

json_t *cg_telegram_status(const cg_telegram *t)
{
    static const char *const health[] = {[TG_STOPPED] = "stopped",
                                         [TG_PROBING] = "starting",
                                         [TG_POLLING] = "healthy",
                                         [TG_BACKOFF] = "reconnecting",
                                         [TG_UNAUTHORIZED] = "unauthorized"};
    json_t *s = json_pack(
        "{s:s, s:b, s:b, s:b, s:b, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:s}",
        "accountId", "default", "configured", t->token != NULL, "running", is_running(t),
        "connected", t->connected, "linked", t->token != NULL, "reconnectAttempts",
        t->reconnect_attempts, "lastError",
        t->last_error ? json_string(t->last_error) : json_null(), "lastStartAt",
        time_or_null(t->last_start_at), "lastStopAt", time_or_null(t->last_stop_at),
        "lastInboundAt", time_or_null(t->last_inbound_at), "lastOutboundAt",
        time_or_null(t->last_outbound_at), "lastConnectedAt", time_or_null(t->last_connected_at),
        "lastTransportActivityAt", time_or_null(t->last_transport_at), "lastProbeAt",
        time_or_null(t->last_probe_at), "mode", "polling", "healthState",
        t->token ? health[t->state] : "not-configured", "tokenSource",
        t->token_source ? t->token_source : "none");
    if (t->probe) json_object_set(s, "probe", t->probe);
    return s;
}

void cg_telegram_close(cg_telegram *t)
{
    if (t->closed) return;
    cg_telegram_stop(t);
    t->closed = true;
    if (!t->handles_open) return;
    uv_close((uv_handle_t *)&t->poll_timer, NULL);
    uv_close((uv_handle_t *)&t->send_timer, NULL);
    cg_http_free(t->http);
    t->http = NULL;
    t->handles_open = false;
}

void cg_telegram_free(cg_telegram *t)
{
    if (!t) return;
    fail_all_sends(t, "telegram: channel stopped");
    cg_http_free(t->http); /* NULL when closed or never started */
    free(t->token);
    free(t->token_source);
    free(t->api_root);
    free(t->bot_username);
    free(t->last_error);
    json_decref(t->probe);
    cg_buf_reset(&t->poll_body);
    cg_buf_reset(&t->send_body);
    free(t);
}
