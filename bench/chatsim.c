/* cg-chatsim: streaming chat through an OpenClaw-protocol gateway (clawgate or the real
 * one), against the local provider bench/fake-llm-server.mjs, which streams what the
 * message's marker `chatsim:<id>:<chunks>:<delayMs>:<size>` asks for and logs, per
 * marked request, its CLOCK_MONOTONIC times (request received, first SSE data chunk
 * written, last written) to a file (--provider-log) this tool reads.
 *
 * One libuv loop, one thread, operator connections (client cli, the shared token, no
 * device): the first with operator.read + operator.write (it sends chat.send), the others
 * operator.read (--reader-scopes). Three modes:
 *
 * --mode latency: one connection; --runs chat.send, one after the other, each on a session
 *   of its own, each streaming --chunks deltas of --size bytes --delay-ms apart. Per run:
 *   the provider's first byte to the client's first `chat` delta event (both
 *   CLOCK_MONOTONIC, same machine), chat.send to the provider's request, chat.send to the
 *   first delta, and the provider's last byte to the `final` event.
 * --mode fanout: --clients connections, one run (--chunks, --delay-ms, --size): `chat`
 *   delta events received per second summed over the clients (from the first delta any
 *   client got to the last final), the deltaText bytes and the frame bytes per second, and
 *   for every client whether the deltaText joined and the final text both equal the text
 *   the provider streamed; also the provider's last byte to the last client's final.
 * --mode sessions: one connection; --sessions sessions of --turns exchanges each (a
 *   reply of one short chunk), --inflight runs at a time, each on a different session:
 *   work item n is session n % sessions, turn n / sessions, so sessions fill evenly. Ends
 *   when every exchange is done (or --max-exchanges), or --time-limit passed (the runs in
 *   flight then finish,
 *   within --run-timeout). Reports exchanges done, errors, runs/s, chat.send to final.
 *
 * Prints one JSON line. A run is over at its `final`, `error` or `aborted` event (matched
 * by runId, which is chat.send's idempotencyKey) or after --run-timeout. Every phase has
 * a limit: connecting (--setup-timeout), each run, the whole mode (--time-limit), closing.
 * Nothing is asserted: it reports what it measured (exit 1 when nothing completed). */
#include "bench_common.h"
#include "client/ws_client.h"
#include "common/util.h"

#include <ctype.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define MAX_RETRIES 100
#define RETRY_DELAY_MS 100
#define EXIT_GRACE_MS 5000
#define LOG_POLL_MS 20
#define LOG_WAIT_MS 3000
#define FRAME_MAX 4096
#define MAX_INFLIGHT 4096
#define LOG_LINE_MAX 1024

#define PLATFORM "linux"
#define CLIENT_ID "cli"
#define CLIENT_MODE "cli"
#define ROLE "operator"

typedef enum { M_LATENCY, M_FANOUT, M_SESSIONS } mode;

typedef struct sim sim;

typedef struct client {
    sim *s;
    cg_ws_client *ws;
    bool ready, writer;
    int retries;
    /* fanout: this client's view of the run */
    uint64_t deltas, delta_bytes, frame_bytes, first_delta_ns, last_delta_ns, final_ns;
    cg_buf joined;
    bool done, final_ok, joined_ok, replaced;
} client;

/* A run in flight (sessions mode: one per slot; the others use slot 0). */
typedef struct slot {
    bool busy;
    uint64_t n, sent_ns, first_delta_ns;
    char id[64];
} slot;

/* The provider's log line for a run. */
typedef struct provider_times {
    uint64_t req_us, first_us, last_us;
} provider_times;

struct sim {
    uv_loop_t *loop;
    const char *url, *token, *provider_log;
    mode mode;
    json_t *auth, *writer_scopes, *reader_scopes;
    cg_ws_client_options opts;
    int nclients, connect_concurrency, chunks, delay_ms, size, runs, sessions, turns, inflight;
    double setup_timeout_s, run_timeout_s, time_limit_s, gap_ms;
    client *clients;
    int next_to_open, opening, ready, failed, lost;
    bool running, stopping, sending_done;
    char rid[13];
    char *expected; /* the text the provider streams, trimmed */
    size_t expected_len;
    uv_timer_t setup_timer, run_timer, limit_timer, retry_timer, log_timer, gap_timer, exit_timer;
    uv_signal_t sigint, sigterm;
    int *retry_queue, retry_len;
    char frame[FRAME_MAX];
    int rc;
    char *first_error;
    uint64_t t_start_ns, t_run_ns, t_end_ns;
    /* latency / fanout: runs so far */
    slot *slots;
    int run_index, ok_runs, failed_runs, log_waited_ms;
    bench_hist h_first_byte, h_send_delta, h_send_req, h_last_final, h_send_final;
    /* fanout */
    uint64_t fan_last_final_ns;
    provider_times fan_pt;
    bool fan_have_pt;
    /* sessions */
    uint64_t next_item, total_items, completed, errors, timeouts, in_flight;
    /* CPU over the measured part */
    int cpu_pids[64], ncpu_pids;
    uint64_t gw_ticks0, gw_ticks1, self_us0, self_us1, machine0, machine1;
};

static void stop(sim *s, int rc);
static void start_attempt(client *c);
static void next_latency_run(sim *s);
static void send_item(sim *s, slot *sl);

/* Keeps the first error's text (printed once); later ones are only counted. */
static void note_error(sim *s, const char *what, const json_t *err)
{
    if (s->first_error) return;
    char *text = err ? json_dumps(err, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    cg_buf b = {0};
    cg_buf_appends(&b, what);
    if (text) {
        cg_buf_appends(&b, ": ");
        cg_buf_append(&b, text, strlen(text) > 300 ? 300 : strlen(text));
    }
    s->first_error = b.data;
    free(text);
    fprintf(stderr, "cg-chatsim: %s (first error; later ones only counted)\n", s->first_error);
}

static double ms_between(uint64_t a_ns, uint64_t b_ns)
{
    return b_ns > a_ns ? (double)(b_ns - a_ns) / 1e6 : 0.0;
}

static void hist_add_ns(bench_hist *h, uint64_t from_ns, uint64_t to_ns)
{
    bench_hist_add(h, to_ns > from_ns ? (to_ns - from_ns) / 1000 : 0);
}

/* ---- the text the provider streams (as bench/fake-llm-server.mjs chunkText) ---- */

static void chunk_text(int i, int size, char *out, size_t cap)
{
    int digits = size > 1 ? size - 1 : 1;
    if (digits > 15) digits = 15;
    unsigned long long mod = 1;
    for (int d = 0; d < digits && d < 15; d++)
        mod *= 10;
    snprintf(out, cap, "%0*llu%s", digits, (unsigned long long)i % mod, size > 1 ? " " : "");
}

/* s[0..len) without leading and trailing whitespace. */
static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char)s[*len - 1]))
        (*len)--;
    return s;
}

static void build_expected(sim *s)
{
    cg_buf b = {0};
    char part[64];
    for (int i = 0; i < s->chunks; i++) {
        chunk_text(i, s->size, part, sizeof part);
        cg_buf_appends(&b, part);
    }
    size_t len = b.len;
    const char *t = trim(b.data ? b.data : "", &len);
    s->expected = cg_xmalloc(len + 1);
    memcpy(s->expected, t, len);
    s->expected[len] = '\0';
    s->expected_len = len;
    cg_buf_reset(&b);
}

static bool text_is_expected(const sim *s, const char *text, size_t len)
{
    const char *t = trim(text, &len);
    return len == s->expected_len && memcmp(t, s->expected, len) == 0;
}

/* The text of a chat event's message: content as a string, or its text parts joined. */
static void message_text(const json_t *message, cg_buf *out)
{
    json_t *content = json_object_get(message, "content");
    if (json_is_string(content)) {
        cg_buf_append(out, json_string_value(content), json_string_length(content));
        return;
    }
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        json_t *t = json_object_get(part, "text");
        if (json_is_string(t)) cg_buf_append(out, json_string_value(t), json_string_length(t));
    }
}

/* ---- the provider's log ---- */

/* Finds the line of run `id` in --provider-log; false while it is not there. */
static bool provider_lookup(const sim *s, const char *id, provider_times *pt)
{
    if (!s->provider_log) return false;
    FILE *f = fopen(s->provider_log, "r");
    if (!f) return false;
    char needle[96], line[LOG_LINE_MAX];
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", id);
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (!strstr(line, needle)) continue;
        json_t *j = json_loads(line, 0, NULL);
        if (j) {
            pt->req_us = (uint64_t)json_integer_value(json_object_get(j, "req_us"));
            pt->first_us = (uint64_t)json_integer_value(json_object_get(j, "first_us"));
            pt->last_us = (uint64_t)json_integer_value(json_object_get(j, "last_us"));
            found = pt->first_us > 0;
        }
        json_decref(j);
    }
    fclose(f);
    return found;
}

/* ---- requests ---- */

static void send_connect(client *c, const json_t *challenge)
{
    sim *s = c->s;
    (void)challenge;
    char instance[37];
    cg_uuid4(instance);
    json_t *params =
        json_pack("{s:i, s:i, s:{s:s, s:s, s:s, s:s, s:s}, s:[], s:s, s:O}", "minProtocol", 4,
                  "maxProtocol", 4, "client", "id", CLIENT_ID, "version", CLAWGATE_VERSION,
                  "platform", PLATFORM, "mode", CLIENT_MODE, "instanceId", instance, "caps", "role",
                  ROLE, "scopes", c->writer ? s->writer_scopes : s->reader_scopes);
    if (s->auth) json_object_set(params, "auth", s->auth);
    json_t *frame = json_pack("{s:s, s:s, s:s, s:o}", "type", "req", "id", "connect", "method",
                              "connect", "params", params);
    char *text = json_dumps(frame, JSON_COMPACT);
    if (text && c->ws) cg_ws_client_send_text(c->ws, text, strlen(text));
    free(text);
    json_decref(frame);
}

/* chat.send for slot `sl` (its id and n set): session `key`, the marker in the message. */
static bool send_chat(sim *s, slot *sl, const char *key, int chunks, int delay_ms, int size)
{
    client *w = &s->clients[0];
    int n = snprintf(s->frame, sizeof s->frame,
                     "{\"type\":\"req\",\"id\":\"send-%s\",\"method\":\"chat.send\",\"params\":{"
                     "\"sessionKey\":\"%s\",\"message\":\"bench chatsim:%s:%d:%d:%d\","
                     "\"idempotencyKey\":\"%s\"}}",
                     sl->id, key, sl->id, chunks, delay_ms, size, sl->id);
    if (n < 0 || (size_t)n >= sizeof s->frame || !w->ws) return false;
    sl->busy = true;
    sl->first_delta_ns = 0;
    sl->sent_ns = cg_mono_ns();
    return cg_ws_client_send_text(w->ws, s->frame, (size_t)n) == 0;
}

/* ---- latency mode ---- */

static void on_gap(uv_timer_t *t)
{
    next_latency_run(t->data);
}

static void latency_run_over(sim *s, bool ok)
{
    uv_timer_stop(&s->run_timer);
    s->slots[0].busy = false;
    if (ok)
        s->ok_runs++;
    else
        s->failed_runs++;
    uv_timer_start(&s->gap_timer, on_gap, (uint64_t)s->gap_ms, 0);
}

/* After the final: the provider's line, then the figures. */
static void on_latency_log(uv_timer_t *t)
{
    sim *s = t->data;
    slot *sl = &s->slots[0];
    provider_times pt;
    if (!provider_lookup(s, sl->id, &pt)) {
        s->log_waited_ms += LOG_POLL_MS;
        if (s->log_waited_ms < LOG_WAIT_MS) {
            uv_timer_start(&s->log_timer, on_latency_log, LOG_POLL_MS, 0);
            return;
        }
        note_error(s, "no provider log line for a run (is --provider-log right?)", NULL);
        latency_run_over(s, false);
        return;
    }
    hist_add_ns(&s->h_first_byte, pt.first_us * 1000, sl->first_delta_ns);
    hist_add_ns(&s->h_send_req, sl->sent_ns, pt.req_us * 1000);
    hist_add_ns(&s->h_last_final, pt.last_us * 1000, s->t_end_ns);
    latency_run_over(s, true);
}

static void on_run_timeout(uv_timer_t *t)
{
    sim *s = t->data;
    note_error(s, "a run did not end within --run-timeout", NULL);
    if (s->mode == M_LATENCY) {
        latency_run_over(s, false);
    } else {
        s->failed_runs++;
        stop(s, 0);
    }
}

static void next_latency_run(sim *s)
{
    if (s->stopping) return;
    if (s->run_index >= s->runs) {
        stop(s, 0);
        return;
    }
    slot *sl = &s->slots[0];
    int i = s->run_index++;
    snprintf(sl->id, sizeof sl->id, "%s-l%d", s->rid, i);
    char key[96];
    snprintf(key, sizeof key, "chatsim-%s-lat-%d", s->rid, i);
    s->log_waited_ms = 0;
    uv_timer_start(&s->run_timer, on_run_timeout, (uint64_t)(s->run_timeout_s * 1000), 0);
    if (!send_chat(s, sl, key, s->chunks, s->delay_ms, s->size)) {
        note_error(s, "chat.send could not be sent", NULL);
        latency_run_over(s, false);
    }
}

/* ---- fanout mode ---- */

static void on_fanout_log(uv_timer_t *t)
{
    sim *s = t->data;
    if (provider_lookup(s, s->slots[0].id, &s->fan_pt)) {
        s->fan_have_pt = true;
    } else {
        s->log_waited_ms += LOG_POLL_MS;
        if (s->log_waited_ms < LOG_WAIT_MS) {
            uv_timer_start(&s->log_timer, on_fanout_log, LOG_POLL_MS, 0);
            return;
        }
        note_error(s, "no provider log line for the run", NULL);
    }
    stop(s, 0);
}

static void fanout_check_done(sim *s)
{
    for (int i = 0; i < s->nclients; i++)
        if (s->clients[i].ready && !s->clients[i].done) return;
    uv_timer_stop(&s->run_timer);
    s->t_end_ns = s->fan_last_final_ns;
    s->ok_runs = 1;
    s->log_waited_ms = 0;
    on_fanout_log(&s->log_timer);
}

static void fanout_event(client *c, const char *state, json_t *payload, size_t frame_len)
{
    sim *s = c->s;
    uint64_t now = cg_mono_ns();
    if (strcmp(state, "delta") == 0) {
        json_t *dt = json_object_get(payload, "deltaText");
        if (!c->deltas) c->first_delta_ns = now;
        c->last_delta_ns = now;
        c->deltas++;
        c->frame_bytes += frame_len;
        if (json_is_true(json_object_get(payload, "replace"))) {
            c->replaced = true;
            c->joined.len = 0;
            message_text(json_object_get(payload, "message"), &c->joined);
        } else if (json_is_string(dt)) {
            c->delta_bytes += json_string_length(dt);
            cg_buf_append(&c->joined, json_string_value(dt), json_string_length(dt));
        }
        return;
    }
    if (c->done) return;
    c->done = true;
    c->final_ns = now;
    if (now > s->fan_last_final_ns) s->fan_last_final_ns = now;
    if (strcmp(state, "final") == 0) {
        cg_buf text = {0};
        message_text(json_object_get(payload, "message"), &text);
        c->final_ok = text_is_expected(s, text.data ? text.data : "", text.len);
        cg_buf_reset(&text);
        c->joined_ok = text_is_expected(s, c->joined.data ? c->joined.data : "", c->joined.len);
    } else {
        note_error(s, "the fan-out run ended without a final", payload);
    }
    fanout_check_done(s);
}

/* ---- sessions mode ---- */

static slot *slot_of_run(sim *s, const char *run_id)
{
    int nslots = s->mode == M_SESSIONS ? s->inflight : 1;
    for (int i = 0; i < nslots; i++)
        if (s->slots[i].busy && strcmp(s->slots[i].id, run_id) == 0) return &s->slots[i];
    return NULL;
}

static void on_limit(uv_timer_t *t)
{
    sim *s = t->data;
    s->sending_done = true;
    fprintf(stderr, "cg-chatsim: --time-limit reached after %llu of %llu exchanges\n",
            (unsigned long long)s->completed, (unsigned long long)s->total_items);
    if (s->in_flight == 0) stop(s, 0);
    /* the runs in flight finish (or --run-timeout, one timer for all: the oldest) */
    uv_timer_start(&s->run_timer, on_run_timeout, (uint64_t)(s->run_timeout_s * 1000), 0);
}

static void sessions_run_over(sim *s, slot *sl, bool ok)
{
    uint64_t now = cg_mono_ns();
    sl->busy = false;
    s->in_flight--;
    if (ok) {
        s->completed++;
        hist_add_ns(&s->h_send_final, sl->sent_ns, now);
    } else {
        s->errors++;
    }
    s->t_end_ns = now;
    send_item(s, sl);
    if (s->in_flight == 0 && (s->sending_done || s->next_item >= s->total_items)) stop(s, 0);
}

static void send_item(sim *s, slot *sl)
{
    if (s->stopping || s->sending_done || s->next_item >= s->total_items) return;
    uint64_t n = s->next_item++;
    sl->n = n;
    snprintf(sl->id, sizeof sl->id, "%s-s%llu", s->rid, (unsigned long long)n);
    char key[96];
    snprintf(key, sizeof key, "chatsim-%s-s-%llu", s->rid,
             (unsigned long long)(n % (uint64_t)s->sessions));
    s->in_flight++;
    if (!send_chat(s, sl, key, 1, 0, 2)) {
        note_error(s, "chat.send could not be sent", NULL);
        sl->busy = false;
        s->in_flight--;
        s->errors++;
    }
}

/* ---- frames ---- */

static void on_chat_event(client *c, json_t *payload, size_t frame_len)
{
    sim *s = c->s;
    const char *run_id = json_string_value(json_object_get(payload, "runId"));
    const char *state = json_string_value(json_object_get(payload, "state"));
    if (!run_id || !state) return;
    bool delta = strcmp(state, "delta") == 0;
    bool end =
        strcmp(state, "final") == 0 || strcmp(state, "error") == 0 || strcmp(state, "aborted") == 0;
    if (!delta && !end) return;
    if (s->mode == M_FANOUT) {
        if (strcmp(run_id, s->slots[0].id) == 0) fanout_event(c, state, payload, frame_len);
        return;
    }
    slot *sl = slot_of_run(s, run_id);
    if (!sl) return;
    if (delta) {
        if (!sl->first_delta_ns) sl->first_delta_ns = cg_mono_ns();
        return;
    }
    bool ok = strcmp(state, "final") == 0;
    if (!ok) note_error(s, "a run ended without a final", payload);
    if (s->mode == M_SESSIONS) {
        sessions_run_over(s, sl, ok);
        return;
    }
    /* latency */
    uint64_t now = cg_mono_ns();
    s->t_end_ns = now;
    if (!ok || !sl->first_delta_ns) {
        if (ok) note_error(s, "a run ended without any delta", payload);
        latency_run_over(s, false);
        return;
    }
    hist_add_ns(&s->h_send_delta, sl->sent_ns, sl->first_delta_ns);
    hist_add_ns(&s->h_send_final, sl->sent_ns, now);
    s->log_waited_ms = 0;
    on_latency_log(&s->log_timer);
}

/* chat.send answers: a refusal ends that run. */
static void on_send_answer(sim *s, json_t *frame, const char *id)
{
    if (json_is_true(json_object_get(frame, "ok"))) return;
    note_error(s, "chat.send refused", json_object_get(frame, "error"));
    slot *sl = slot_of_run(s, id + strlen("send-"));
    if (!sl) return;
    if (s->mode == M_SESSIONS)
        sessions_run_over(s, sl, false);
    else if (s->mode == M_LATENCY)
        latency_run_over(s, false);
    else {
        s->failed_runs++;
        stop(s, 1);
    }
}

static void all_connected(sim *s);

static void after_attempt(sim *s)
{
    if (s->ready + s->failed < s->nclients) {
        while (s->next_to_open < s->nclients && s->opening < s->connect_concurrency) {
            s->opening++;
            start_attempt(&s->clients[s->next_to_open++]);
        }
        return;
    }
    if (!s->running) all_connected(s);
}

static void on_connect_answer(client *c, json_t *frame)
{
    sim *s = c->s;
    if (!json_is_true(json_object_get(frame, "ok"))) {
        note_error(s, "connect refused", json_object_get(frame, "error"));
        cg_ws_client_close(c->ws, 1000, ""); /* on_close counts it */
        return;
    }
    s->opening--;
    c->ready = true;
    s->ready++;
    after_attempt(s);
}

static void on_message(cg_ws_client *ws, const char *data, size_t len, void *user)
{
    client *c = user;
    sim *s = c->s;
    (void)ws;
    if (s->stopping) return;
    json_t *frame = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(frame, "type"));
    if (type && strcmp(type, "event") == 0) {
        const char *ev = json_string_value(json_object_get(frame, "event"));
        json_t *payload = json_object_get(frame, "payload");
        if (ev && strcmp(ev, "chat") == 0 && c->ready)
            on_chat_event(c, payload, len);
        else if (ev && !c->ready && strcmp(ev, "connect.challenge") == 0)
            send_connect(c, payload);
    } else if (type && strcmp(type, "res") == 0) {
        const char *id = json_string_value(json_object_get(frame, "id"));
        if (!c->ready && id && strcmp(id, "connect") == 0)
            on_connect_answer(c, frame);
        else if (id && strncmp(id, "send-", 5) == 0)
            on_send_answer(s, frame, id);
    }
    json_decref(frame);
}

static void on_retry(uv_timer_t *t)
{
    sim *s = t->data;
    int n = s->retry_len;
    s->retry_len = 0;
    for (int i = 0; i < n; i++)
        start_attempt(&s->clients[s->retry_queue[i]]);
}

static void on_close(cg_ws_client *ws, const cg_ws_close_info *info, void *user)
{
    client *c = user;
    sim *s = c->s;
    (void)ws;
    c->ws = NULL;
    if (s->stopping) return;
    if (!c->ready) {
        bool busy = info->http_status == 503 || info->http_status == 429;
        if (busy && c->retries < MAX_RETRIES) {
            c->retries++;
            s->retry_queue[s->retry_len++] = (int)(c - s->clients);
            if (!uv_is_active((uv_handle_t *)&s->retry_timer))
                uv_timer_start(&s->retry_timer, on_retry, RETRY_DELAY_MS, 0);
            return;
        }
        s->failed++;
        s->opening--;
        if (s->failed <= 5) fprintf(stderr, "cg-chatsim: connection failed: %s\n", info->message);
        after_attempt(s);
        return;
    }
    c->ready = false;
    s->lost++;
    fprintf(stderr, "cg-chatsim: connection %d lost: %s\n", (int)(c - s->clients), info->message);
    if (c->writer || s->mode != M_FANOUT) {
        stop(s, 1);
        return;
    }
    if (s->running) fanout_check_done(s);
}

static const cg_ws_client_callbacks callbacks = {
    .on_message = on_message,
    .on_close = on_close,
};

static void start_attempt(client *c)
{
    c->ws = cg_ws_client_connect(c->s->loop, c->s->url, &c->s->opts, &callbacks, c);
}

/* ---- phases ---- */

static void all_connected(sim *s)
{
    uv_timer_stop(&s->setup_timer);
    if (!s->clients[0].ready) {
        fprintf(stderr, "cg-chatsim: the sending connection could not connect\n");
        stop(s, 1);
        return;
    }
    s->running = true;
    s->t_run_ns = cg_mono_ns();
    s->gw_ticks0 = bench_pids_ticks(s->cpu_pids, s->ncpu_pids);
    s->self_us0 = bench_self_cpu_us();
    s->machine0 = bench_machine_ticks();
    if (s->mode == M_LATENCY) {
        next_latency_run(s);
    } else if (s->mode == M_FANOUT) {
        slot *sl = &s->slots[0];
        snprintf(sl->id, sizeof sl->id, "%s-f", s->rid);
        char key[96];
        snprintf(key, sizeof key, "chatsim-%s-fanout", s->rid);
        uv_timer_start(&s->run_timer, on_run_timeout, (uint64_t)(s->run_timeout_s * 1000), 0);
        if (!send_chat(s, sl, key, s->chunks, s->delay_ms, s->size)) stop(s, 1);
    } else {
        if (s->time_limit_s > 0)
            uv_timer_start(&s->limit_timer, on_limit, (uint64_t)(s->time_limit_s * 1000), 0);
        for (int i = 0; i < s->inflight; i++)
            send_item(s, &s->slots[i]);
    }
}

static void on_setup_timeout(uv_timer_t *t)
{
    sim *s = t->data;
    fprintf(stderr, "cg-chatsim: setup not done after %.0f s: %d of %d connected, %d failed\n",
            s->setup_timeout_s, s->ready, s->nclients, s->failed);
    stop(s, 1);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    stop(h->data, 0);
}

static void on_exit_grace(uv_timer_t *t)
{
    fprintf(stderr, "cg-chatsim: connections still closing after %d ms; exiting\n", EXIT_GRACE_MS);
    uv_stop(t->loop);
}

static void stop(sim *s, int rc)
{
    if (s->stopping) return;
    s->stopping = true;
    if (rc) s->rc = rc;
    if (!s->t_end_ns) s->t_end_ns = cg_mono_ns();
    s->gw_ticks1 = bench_pids_ticks(s->cpu_pids, s->ncpu_pids);
    s->self_us1 = bench_self_cpu_us();
    s->machine1 = bench_machine_ticks();
    uv_timer_t *timers[] = {&s->setup_timer, &s->run_timer, &s->limit_timer,
                            &s->retry_timer, &s->log_timer, &s->gap_timer};
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++)
        uv_close((uv_handle_t *)timers[i], NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_timer_init(s->loop, &s->exit_timer);
    uv_timer_start(&s->exit_timer, on_exit_grace, EXIT_GRACE_MS, 0);
    uv_unref((uv_handle_t *)&s->exit_timer);
    for (int i = 0; i < s->next_to_open; i++)
        if (s->clients[i].ws) cg_ws_client_close(s->clients[i].ws, 1000, "done");
}

/* ---- report ---- */

static void put_hist(json_t *r, const char *name, const bench_hist *h)
{
    char key[96];
    const struct {
        const char *suffix;
        double p;
    } qs[] = {{"p50_ms", 0.5}, {"p90_ms", 0.9}, {"p99_ms", 0.99}};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        snprintf(key, sizeof key, "%s_%s", name, qs[i].suffix);
        json_object_set_new(r, key, json_real(bench_hist_percentile_ms(h, qs[i].p)));
    }
    snprintf(key, sizeof key, "%s_max_ms", name);
    json_object_set_new(r, key, json_real((double)h->max_us / 1000.0));
}

static void put_fanout(sim *s, json_t *r)
{
    uint64_t deltas = 0, dbytes = 0, fbytes = 0, first = 0, last = 0, min = UINT64_MAX, max = 0;
    int finals = 0, finals_ok = 0, joined_ok = 0, replaced = 0, connected = 0;
    for (int i = 0; i < s->nclients; i++) {
        client *c = &s->clients[i];
        if (!c->ready && !c->done && !c->deltas) continue;
        connected++;
        deltas += c->deltas;
        dbytes += c->delta_bytes;
        fbytes += c->frame_bytes;
        if (c->deltas < min) min = c->deltas;
        if (c->deltas > max) max = c->deltas;
        if (c->first_delta_ns && (!first || c->first_delta_ns < first)) first = c->first_delta_ns;
        if (c->last_delta_ns > last) last = c->last_delta_ns;
        finals += c->done;
        finals_ok += c->final_ok;
        joined_ok += c->joined_ok;
        replaced += c->replaced;
    }
    /* from the first delta any client got to the last final: the whole delivery, also
     * when a gateway sends only a delta or two (a burst) */
    if (s->fan_last_final_ns > last) last = s->fan_last_final_ns;
    double window = last > first ? (double)(last - first) / 1e9 : 0;
    json_object_set_new(r, "clients", json_integer(connected));
    json_object_set_new(r, "deltas", json_integer((json_int_t)deltas));
    json_object_set_new(r, "deltas_per_client_min",
                        json_integer(min == UINT64_MAX ? 0 : (json_int_t)min));
    json_object_set_new(r, "deltas_per_client_max", json_integer((json_int_t)max));
    json_object_set_new(r, "window_s", json_real(window));
    json_object_set_new(r, "deltas_per_s", json_real(window > 0 ? (double)deltas / window : 0));
    json_object_set_new(r, "delta_text_bytes", json_integer((json_int_t)dbytes));
    json_object_set_new(r, "text_bytes_per_s", json_real(window > 0 ? (double)dbytes / window : 0));
    json_object_set_new(r, "frame_bytes", json_integer((json_int_t)fbytes));
    json_object_set_new(r, "frame_bytes_per_s",
                        json_real(window > 0 ? (double)fbytes / window : 0));
    json_object_set_new(r, "finals", json_integer(finals));
    json_object_set_new(r, "finals_ok", json_integer(finals_ok));
    json_object_set_new(r, "joined_ok", json_integer(joined_ok));
    json_object_set_new(r, "replaced", json_integer(replaced));
    json_object_set_new(r, "expected_bytes", json_integer((json_int_t)s->expected_len));
    if (s->fan_have_pt) {
        json_object_set_new(
            r, "provider_stream_ms",
            json_real(ms_between(s->fan_pt.first_us * 1000, s->fan_pt.last_us * 1000)));
        json_object_set_new(r, "first_byte_to_first_delta_ms",
                            json_real(ms_between(s->fan_pt.first_us * 1000, first)));
        json_object_set_new(r, "last_byte_to_last_final_ms",
                            json_real(ms_between(s->fan_pt.last_us * 1000, s->fan_last_final_ns)));
    }
}

static void print_report(sim *s)
{
    static const char *names[] = {"latency", "fanout", "sessions"};
    double secs = s->running ? (double)(s->t_end_ns - s->t_run_ns) / 1e9 : 0;
    json_t *r = json_pack("{s:s, s:f}", "mode", names[s->mode], "seconds", secs);
    if (s->mode == M_LATENCY) {
        json_object_set_new(r, "runs", json_integer(s->run_index));
        json_object_set_new(r, "ok", json_integer(s->ok_runs));
        json_object_set_new(r, "failed", json_integer(s->failed_runs));
        put_hist(r, "first_byte_to_delta", &s->h_first_byte);
        put_hist(r, "send_to_provider", &s->h_send_req);
        put_hist(r, "send_to_delta", &s->h_send_delta);
        put_hist(r, "last_byte_to_final", &s->h_last_final);
        put_hist(r, "send_to_final", &s->h_send_final);
    } else if (s->mode == M_FANOUT) {
        put_fanout(s, r);
        json_object_set_new(r, "lost_connections", json_integer(s->lost));
    } else {
        json_object_set_new(r, "sessions", json_integer(s->sessions));
        json_object_set_new(r, "turns", json_integer(s->turns));
        json_object_set_new(r, "inflight", json_integer(s->inflight));
        json_object_set_new(r, "target", json_integer((json_int_t)s->total_items));
        json_object_set_new(r, "exchanges", json_integer((json_int_t)s->completed));
        json_object_set_new(r, "errors", json_integer((json_int_t)s->errors));
        json_object_set_new(r, "unfinished", json_integer((json_int_t)s->in_flight));
        uint64_t done = s->completed + s->errors;
        uint64_t sess = done < (uint64_t)s->sessions ? done : (uint64_t)s->sessions;
        json_object_set_new(r, "sessions_touched", json_integer((json_int_t)sess));
        json_object_set_new(r, "turns_per_session",
                            json_real(2.0 * (double)s->completed / (double)s->sessions));
        json_object_set_new(r, "runs_per_s", json_real(secs > 0 ? (double)s->completed / secs : 0));
        put_hist(r, "send_to_final", &s->h_send_final);
    }
    json_object_set_new(r, "connect_errors", json_integer(s->failed));
    double hz = (double)sysconf(_SC_CLK_TCK);
    double cpu_secs = s->running ? (double)(s->t_end_ns - s->t_run_ns) / 1e9 : 0;
    if (cpu_secs > 0) {
        double gw = 100.0 * (double)(s->gw_ticks1 - s->gw_ticks0) / hz / cpu_secs;
        double self = (double)(s->self_us1 - s->self_us0) / 1e4 / cpu_secs;
        double all = 100.0 * (double)(s->machine1 - s->machine0) / hz / cpu_secs;
        if (s->ncpu_pids > 0) json_object_set_new(r, "cpu_gateway_pct", json_real(gw));
        json_object_set_new(r, "cpu_chatsim_pct", json_real(self));
        json_object_set_new(r, "cpu_rest_pct",
                            json_real(all - self - gw > 0 ? all - self - gw : 0));
    }
    if (s->first_error) json_object_set_new(r, "first_error", json_string(s->first_error));
    char *text = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(text);
    free(text);
    json_decref(r);
}

/* ---- setup ---- */

static const char usage[] =
    "usage: cg-chatsim --url ws://HOST:PORT --token T --provider-log FILE --mode MODE [...]\n"
    "  --mode latency   [--runs 50] [--chunks 20] [--delay-ms 20] [--size 8] [--gap-ms 100]\n"
    "  --mode fanout    [--clients 100] [--chunks 2000] [--delay-ms 1] [--size 8]\n"
    "  --mode sessions  [--sessions 1000] [--turns 50] [--inflight 32] [--time-limit 0]\n"
    "                   [--max-exchanges N]   (stop after N exchanges in all)\n"
    "  common: [--run-timeout 120] [--setup-timeout 120] [--connect-concurrency 32]\n"
    "          [--timeout-ms 15000] [--cpu-pids PID,...] [--ca-file PEM]\n"
    "          [--writer-scopes operator.read,operator.write] [--reader-scopes operator.read]\n"
    "  The provider is bench/fake-llm-server.mjs; it streams what each message's marker\n"
    "  chatsim:<id>:<chunks>:<delayMs>:<size> asks for and logs its times to FILE.\n"
    "  --turns counts exchanges (a user turn and a reply). Prints one JSON line.\n";

static int bad(const char *what)
{
    fprintf(stderr, "cg-chatsim: %s\n%s", what, usage);
    return 2;
}

static json_t *scope_list(const char *csv)
{
    json_t *a = json_array();
    for (const char *sc = csv; *sc;) {
        size_t n = strcspn(sc, ",");
        if (n > 0) json_array_append_new(a, json_stringn(sc, n));
        sc += n + (sc[n] == ',');
    }
    return a;
}

int main(int argc, char **argv)
{
    static sim s_; /* big (the histograms): not on the stack */
    sim *s = &s_;
    s->mode = M_LATENCY;
    s->nclients = -1;
    s->chunks = -1;
    s->delay_ms = -1;
    s->size = 8;
    s->runs = 50;
    s->sessions = 1000;
    s->turns = 50;
    s->inflight = 32;
    s->gap_ms = 100;
    s->setup_timeout_s = 120;
    s->run_timeout_s = 120;
    s->connect_concurrency = 32;
    const char *ca_file = NULL, *writer_scopes = "operator.read,operator.write",
               *reader_scopes = "operator.read";
    double timeout_ms = 15000, max_exchanges = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (i + 1 >= argc) return bad("missing value or unknown option");
        const char *v = argv[++i];
        double d;
        if (strcmp(a, "--url") == 0)
            s->url = v;
        else if (strcmp(a, "--token") == 0)
            s->token = v;
        else if (strcmp(a, "--provider-log") == 0)
            s->provider_log = v;
        else if (strcmp(a, "--ca-file") == 0)
            ca_file = v;
        else if (strcmp(a, "--writer-scopes") == 0)
            writer_scopes = v;
        else if (strcmp(a, "--reader-scopes") == 0)
            reader_scopes = v;
        else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "latency") == 0)
                s->mode = M_LATENCY;
            else if (strcmp(v, "fanout") == 0)
                s->mode = M_FANOUT;
            else if (strcmp(v, "sessions") == 0)
                s->mode = M_SESSIONS;
            else
                return bad("--mode is latency, fanout or sessions");
        } else if (strcmp(a, "--cpu-pids") == 0) {
            if (!bench_pid_list_arg(v, s->cpu_pids, (int)(sizeof s->cpu_pids / sizeof *s->cpu_pids),
                                    &s->ncpu_pids))
                return bad("--cpu-pids takes PID[,PID...]");
        } else if (strcmp(a, "--clients") == 0 && bench_num_arg(v, 1, 1e5, &d))
            s->nclients = (int)d;
        else if (strcmp(a, "--chunks") == 0 && bench_num_arg(v, 1, 1e6, &d))
            s->chunks = (int)d;
        else if (strcmp(a, "--delay-ms") == 0 && bench_num_arg(v, 0, 60000, &d))
            s->delay_ms = (int)d;
        else if (strcmp(a, "--size") == 0 && bench_num_arg(v, 1, 16, &d))
            s->size = (int)d;
        else if (strcmp(a, "--runs") == 0 && bench_num_arg(v, 1, 1e6, &d))
            s->runs = (int)d;
        else if (strcmp(a, "--gap-ms") == 0 && bench_num_arg(v, 0, 60000, &d))
            s->gap_ms = d;
        else if (strcmp(a, "--sessions") == 0 && bench_num_arg(v, 1, 1e7, &d))
            s->sessions = (int)d;
        else if (strcmp(a, "--turns") == 0 && bench_num_arg(v, 1, 1e6, &d))
            s->turns = (int)d;
        else if (strcmp(a, "--inflight") == 0 && bench_num_arg(v, 1, MAX_INFLIGHT, &d))
            s->inflight = (int)d;
        else if (strcmp(a, "--max-exchanges") == 0 && bench_num_arg(v, 0, 1e12, &d))
            max_exchanges = d;
        else if (strcmp(a, "--time-limit") == 0 && bench_num_arg(v, 0, 1e7, &d))
            s->time_limit_s = d;
        else if (strcmp(a, "--run-timeout") == 0 && bench_num_arg(v, 0.1, 1e6, &d))
            s->run_timeout_s = d;
        else if (strcmp(a, "--setup-timeout") == 0 && bench_num_arg(v, 1, 1e6, &d))
            s->setup_timeout_s = d;
        else if (strcmp(a, "--connect-concurrency") == 0 && bench_num_arg(v, 1, 1e6, &d))
            s->connect_concurrency = (int)d;
        else if (strcmp(a, "--timeout-ms") == 0 && bench_num_arg(v, 1, 1e9, &d))
            timeout_ms = d;
        else
            return bad(a);
    }
    if (!s->url) return bad("--url is required");
    if (!s->token) return bad("--token is required");
    if (!s->provider_log && s->mode != M_SESSIONS)
        return bad("--provider-log is required in this mode");
    if (s->nclients < 0) s->nclients = s->mode == M_FANOUT ? 100 : 1;
    if (s->mode != M_FANOUT) s->nclients = 1;
    if (s->chunks < 0) s->chunks = s->mode == M_FANOUT ? 2000 : 20;
    if (s->delay_ms < 0) s->delay_ms = s->mode == M_FANOUT ? 1 : 20;
    cg_ws_url u;
    bool url_ok = cg_ws_url_parse(s->url, &u);
    bool wss = u.tls;
    cg_ws_url_free(&u);
    if (!url_ok) return bad("--url must be ws://HOST:PORT or wss://HOST:PORT");

    bench_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    s->auth = json_pack("{s:s}", "token", s->token);
    s->writer_scopes = scope_list(writer_scopes);
    s->reader_scopes = scope_list(reader_scopes);
    cg_random_hex(s->rid, 6);
    build_expected(s);
    s->total_items = (uint64_t)s->sessions * (uint64_t)s->turns;
    if (max_exchanges > 0 && (uint64_t)max_exchanges < s->total_items)
        s->total_items = (uint64_t)max_exchanges;
    s->opts.handshake_timeout_ms = (uint64_t)timeout_ms;
    if (wss) {
        char err[300];
        s->opts.ssl_ctx = cg_ws_tls_ctx_new(ca_file, err, sizeof err);
        if (!s->opts.ssl_ctx) {
            fprintf(stderr, "cg-chatsim: %s\n", err);
            return 1;
        }
        s->opts.skip_hostname_check = ca_file != NULL;
    }
    s->clients = cg_xcalloc((size_t)s->nclients, sizeof *s->clients);
    s->retry_queue = cg_xcalloc((size_t)s->nclients, sizeof *s->retry_queue);
    s->slots = cg_xcalloc((size_t)s->inflight, sizeof *s->slots);
    for (int i = 0; i < s->nclients; i++) {
        s->clients[i].s = s;
        s->clients[i].writer = i == 0;
    }

    s->loop = uv_default_loop();
    uv_timer_t *timers[] = {&s->setup_timer, &s->run_timer, &s->limit_timer,
                            &s->retry_timer, &s->log_timer, &s->gap_timer};
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) {
        uv_timer_init(s->loop, timers[i]);
        timers[i]->data = s;
    }
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_timer_start(&s->setup_timer, on_setup_timeout, (uint64_t)(s->setup_timeout_s * 1000), 0);

    s->t_start_ns = cg_mono_ns();
    after_attempt(s);
    uv_run(s->loop, UV_RUN_DEFAULT);

    print_report(s);
    bool any = s->mode == M_SESSIONS ? s->completed > 0 : s->ok_runs > 0;
    int rc = s->rc ? s->rc : any ? 0 : 1;
    for (int i = 0; i < s->nclients; i++)
        cg_buf_reset(&s->clients[i].joined);
    free(s->clients);
    free(s->retry_queue);
    free(s->slots);
    free(s->expected);
    free(s->first_error);
    json_decref(s->auth);
    json_decref(s->writer_scopes);
    json_decref(s->reader_scopes);
    if (s->opts.ssl_ctx) SSL_CTX_free(s->opts.ssl_ctx);
    return rc;
}
