/* cg-loadgen: a load generator for OpenClaw-protocol gateways (clawgate or the real one).
 *
 * Load mode: opens C connections (ws or wss, token or password auth), completes the
 * connect handshake on each, then keeps N requests of one method in flight per
 * connection for a duration (after an unmeasured warm-up) or until a request count is
 * reached, and prints one JSON line: {method, connections, inflight, requests, errors,
 * seconds, rps, p50_ms, p90_ms, p99_ms, max_ms, connect_errors}.
 *
 * Changing params: every "{{n}}" in --params becomes a request counter (0, 1, 2, ...), so
 * each request can differ (a config.patch that changes a value each time). With
 * --base-hash HASH (or auto: the hash of a config.get sent first) each request also gets
 * params.baseHash, the newest `hash` seen in an ok answer, so config writes chain the
 * way a real client's do; run those at 1 connection x 1 in flight.
 *
 * Hold mode (--hold K): opens K connections, completes the handshake on each and idles
 * (connections refused as busy, HTTP 503/429, retry after 100 ms);
 * prints {"held":n,"failed":f,"seconds":t} once every attempt has finished, then holds
 * them until SIGINT/SIGTERM or --hold-seconds. Used to measure a gateway's memory per
 * connection.
 *
 * Connect-rate mode (--connect-rate): C loops, each opening a connection, reading the
 * connect.challenge, sending connect, waiting for hello-ok, closing, and starting over as
 * soon as the connection is gone (after RETRY_DELAY_MS when the attempt failed, so a
 * refusing gateway is not hammered). A connect's latency runs from the TCP connect start
 * to the hello-ok parsed; connects started during the warm-up are not measured. Prints
 * {mode, device, connections, connects, errors, unfinished, seconds, cps, p50_ms, p90_ms,
 * p99_ms, max_ms, first_p50_ms, first_max_ms, device_tokens, first_error}: `first_*` is
 * each loop's first connect (with --device, the one that pairs the device), `errors`
 * counts measured attempts that ended without hello-ok (refusal, HTTP 429/503, closed),
 * `unfinished` those still under way at the end, `device_tokens` the measured hello-oks
 * carrying auth.deviceToken; the first error's text goes to stderr once and into
 * first_error.
 *
 * Device identity (--device, any mode): every connection (every loop) gets its own
 * Ed25519 key, generated before the run (OpenSSL EVP), and each connect carries a device
 * block signed over the v3 payload with the challenge's nonce and ts
 * (../shared/REFERENCE.md "Device identity"). The client fields are fixed (id and mode
 * "cli", platform "linux", no deviceFamily), so the signed text is
 *   v3|<sha256 hex of the key>|cli|cli|operator|<scopes,>|<ts>|<token or "">|<nonce>|linux|
 * A gateway that auto-approves loopback devices pairs each one on its first connect.
 *
 * Design: one libuv loop, one thread (the gateway under test gets the other cores).
 * Each connection owns N slots; a request's id is its slot number, the slot keeps the
 * send time, and the response frees it and immediately reuses it, so the window never
 * drifts. Frames are built by copying a pre-rendered prefix and suffix around the id
 * (with changing params: the prefix, the id, the method part and this request's
 * params); sends made while handling one read go out in a single write (ws_client batches).
 * Latencies go into a log-linear histogram (1 us resolution below 256 us, then 128
 * sub-buckets per power of two, under 0.8% error), so memory does not grow with the
 * number of requests. Connects are started at most --connect-concurrency at a time. */
#include "bench_common.h"
#include "client/ws_client.h"
#include "common/util.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_RETRIES 100
#define RETRY_DELAY_MS 100

/* What every connect says about its client (and what a device signs). */
#define CLIENT_ID "cli"
#define CLIENT_MODE "cli"
#define CLIENT_PLATFORM "linux"
#define CLIENT_ROLE "operator"

typedef struct loadgen loadgen;

typedef struct conn {
    loadgen *lg;
    cg_ws_client *ws;
    bool ready;
    int retries;
    uint64_t *sent_ns; /* per slot; 0 when free */
    /* Connect-rate mode: this attempt's start, and how it went so far. */
    uint64_t begin_ns;
    bool hello, attempt_failed, first_done;
    /* --device: this connection's identity. */
    bench_device dev;
} conn;

struct loadgen {
    uv_loop_t *loop;
    const char *url, *method;
    char *params_json;
    json_t *auth, *scopes;
    cg_ws_client_options opts;
    int connections, inflight;
    double duration_s, warmup_s, hold_seconds;
    uint64_t count_limit; /* 0: run for duration_s */
    int hold;
    int connect_concurrency;
    conn *conns;
    int next_to_open, opening, ready, failed, open_total;
    bool measuring, stopping;
    uint64_t t_start_ns, t_measure_ns, t_end_ns;
    uint64_t sent, completed, errors;
    bench_hist hist;
    uv_timer_t timer, retry_timer;
    int *retry_queue, retry_len;
    uv_signal_t sigint, sigterm;
    char prefix[32];
    char *suffix;
    size_t suffix_len;
    /* Changing params (see the top): set when --params holds "{{n}}" or --base-hash is on. */
    bool changing_params;
    char *method_part; /* ","method":"m","params": */
    uint64_t params_counter;
    bool chain_hash, base_hash_auto; /* --base-hash given; "auto" (until config.get answers) */
    char *base_hash;                 /* the newest hash; NULL: none yet (no config file) */
    /* Connect-rate mode and device identities (see the top). */
    bool connect_rate, device;
    const char *token; /* auth.token, signed by devices ("" when none) */
    char *scopes_csv;  /* the scopes comma-joined, as signed */
    bench_hist first_hist;
    uint64_t device_tokens, unfinished;
    char *first_error;
};

/* ---- requests ---- */

#define BASE_HASH_ID "base-hash"

/* This request's params: "{{n}}" replaced by the counter, baseHash set when chaining. */
static void render_params(loadgen *lg, cg_buf *out)
{
    cg_buf text = {0};
    char n[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)lg->params_counter++);
    const char *p = lg->params_json;
    for (const char *hit; (hit = strstr(p, "{{n}}")); p = hit + 5) {
        cg_buf_append(&text, p, (size_t)(hit - p));
        cg_buf_appends(&text, n);
    }
    cg_buf_appends(&text, p);
    json_t *params = lg->base_hash ? json_loadb(text.data, text.len, 0, NULL) : NULL;
    if (json_is_object(params)) {
        json_object_set_new(params, "baseHash", json_string(lg->base_hash));
        char *chained = json_dumps(params, JSON_COMPACT);
        cg_buf_appends(out, chained);
        free(chained);
    } else {
        cg_buf_append(out, text.data, text.len);
    }
    json_decref(params);
    cg_buf_reset(&text);
}

static void send_changing_request(conn *c, int slot)
{
    loadgen *lg = c->lg;
    cg_buf frame = {0};
    char id[16];
    snprintf(id, sizeof id, "%d", slot);
    cg_buf_appends(&frame, lg->prefix);
    cg_buf_appends(&frame, id);
    cg_buf_appends(&frame, lg->method_part);
    render_params(lg, &frame);
    cg_buf_appends(&frame, "}");
    c->sent_ns[slot] = cg_mono_ns();
    if (cg_ws_client_send_text(c->ws, frame.data, frame.len) == 0)
        lg->sent++;
    else
        c->sent_ns[slot] = 0;
    cg_buf_reset(&frame);
}

static void send_request(conn *c, int slot)
{
    loadgen *lg = c->lg;
    if (lg->stopping || (lg->count_limit && lg->sent >= lg->count_limit)) return;
    if (lg->changing_params) {
        send_changing_request(c, slot);
        return;
    }
    char stack[4096];
    char id[16];
    int idlen = snprintf(id, sizeof id, "%d", slot);
    size_t plen = strlen(lg->prefix);
    size_t total = plen + (size_t)idlen + lg->suffix_len;
    char *buf = total <= sizeof stack ? stack : cg_xmalloc(total);
    memcpy(buf, lg->prefix, plen);
    memcpy(buf + plen, id, (size_t)idlen);
    memcpy(buf + plen + idlen, lg->suffix, lg->suffix_len);
    c->sent_ns[slot] = cg_mono_ns();
    if (cg_ws_client_send_text(c->ws, buf, total) == 0)
        lg->sent++;
    else
        c->sent_ns[slot] = 0;
    if (buf != stack) free(buf);
}

static void stop(loadgen *lg);

static void on_response(conn *c, json_t *frame)
{
    loadgen *lg = c->lg;
    const char *id = json_string_value(json_object_get(frame, "id"));
    if (!id || lg->stopping) return;
    char *end;
    long slot = strtol(id, &end, 10);
    if (*end != '\0' || slot < 0 || slot >= lg->inflight || c->sent_ns[slot] == 0) return;
    uint64_t now = cg_mono_ns();
    uint64_t sent = c->sent_ns[slot];
    c->sent_ns[slot] = 0;
    const char *hash =
        json_string_value(json_object_get(json_object_get(frame, "payload"), "hash"));
    if (lg->chain_hash && hash && json_is_true(json_object_get(frame, "ok"))) {
        free(lg->base_hash);
        lg->base_hash = cg_strdup(hash);
    }
    if (lg->measuring && sent >= lg->t_measure_ns) {
        bench_hist_add(&lg->hist, (now - sent) / 1000);
        lg->completed++;
        if (!json_is_true(json_object_get(frame, "ok"))) lg->errors++;
        if (lg->count_limit && lg->completed >= lg->count_limit) {
            stop(lg);
            return;
        }
    }
    send_request(c, (int)slot);
}

static void start_load(loadgen *lg);

static void on_connected(conn *c)
{
    loadgen *lg = c->lg;
    c->ready = true;
    lg->ready++;
    lg->opening--;
    if (lg->hold == 0) c->sent_ns = cg_xcalloc((size_t)lg->inflight, sizeof *c->sent_ns);
}

static void open_more(loadgen *lg);

/* ---- device identity (--device) ---- */

/* ---- connections ---- */

/* The connect request, answering `challenge` (the connect.challenge payload). */
static void send_connect(conn *c, const json_t *challenge)
{
    loadgen *lg = c->lg;
    char instance[37];
    cg_uuid4(instance);
    json_t *params =
        json_pack("{s:i, s:i, s:{s:s, s:s, s:s, s:s, s:s}, s:[], s:s, s:O}", "minProtocol", 4,
                  "maxProtocol", 4, "client", "id", CLIENT_ID, "version", CLAWGATE_VERSION,
                  "platform", CLIENT_PLATFORM, "mode", CLIENT_MODE, "instanceId", instance, "caps",
                  "role", CLIENT_ROLE, "scopes", lg->scopes);
    if (lg->auth) json_object_set(params, "auth", lg->auth);
    if (lg->device) {
        const char *nonce = json_string_value(json_object_get(challenge, "nonce"));
        json_t *ts = json_object_get(challenge, "ts");
        bench_device_client cl = {CLIENT_ID, CLIENT_MODE,     CLIENT_ROLE, lg->scopes_csv,
                                  lg->token, CLIENT_PLATFORM, NULL};
        json_t *device =
            bench_device_block(&c->dev, &cl, nonce ? nonce : "",
                               json_is_integer(ts) ? json_integer_value(ts) : cg_now_ms());
        if (device) json_object_set_new(params, "device", device);
    }
    json_t *frame = json_pack("{s:s, s:s, s:s, s:o}", "type", "req", "id", "connect", "method",
                              "connect", "params", params);
    char *s = json_dumps(frame, JSON_COMPACT);
    cg_ws_client_send_text(c->ws, s, strlen(s));
    free(s);
    json_decref(frame);
}

/* --base-hash auto: config.get on the first ready connection; its answer starts the load. */
static void request_base_hash(loadgen *lg)
{
    for (int i = 0; i < lg->open_total; i++) {
        if (!lg->conns[i].ready) continue;
        static const char req[] = "{\"type\":\"req\",\"id\":\"" BASE_HASH_ID
                                  "\",\"method\":\"config.get\",\"params\":{}}";
        cg_ws_client_send_text(lg->conns[i].ws, req, sizeof req - 1);
        return;
    }
}

/* A config.get without a file has no hash: the first write then needs none. */
static void on_base_hash(loadgen *lg, json_t *frame)
{
    if (!json_is_true(json_object_get(frame, "ok"))) {
        char *text = json_dumps(frame, JSON_COMPACT);
        fprintf(stderr, "cg-loadgen: config.get failed: %s\n", text ? text : "?");
        free(text);
        stop(lg);
        return;
    }
    const char *hash =
        json_string_value(json_object_get(json_object_get(frame, "payload"), "hash"));
    lg->base_hash = hash ? cg_strdup(hash) : NULL;
    lg->base_hash_auto = false;
    start_load(lg);
}

static void after_attempt(loadgen *lg)
{
    if (lg->ready + lg->failed < lg->open_total) {
        open_more(lg);
        return;
    }
    if (lg->hold > 0) {
        double secs = (double)(cg_mono_ns() - lg->t_start_ns) / 1e9;
        printf("{\"held\":%d,\"failed\":%d,\"seconds\":%.3f}\n", lg->ready, lg->failed, secs);
        fflush(stdout);
        if (lg->ready == 0) stop(lg);
    } else if (lg->ready == 0) {
        fprintf(stderr, "cg-loadgen: no connection could be established\n");
        stop(lg);
    } else if (lg->base_hash_auto) {
        request_base_hash(lg);
    } else {
        start_load(lg);
    }
}

/* ---- connect-rate mode ---- */

/* The attempt ends without hello-ok: counted when measured; the first text is kept. */
static void attempt_failed(conn *c, const char *message)
{
    loadgen *lg = c->lg;
    c->attempt_failed = true;
    if (!lg->first_error) {
        lg->first_error = cg_strdup(message);
        fprintf(stderr, "cg-loadgen: connect failed (first error, later ones only counted): %s\n",
                message);
    }
    if (lg->measuring && !lg->stopping && c->begin_ns >= lg->t_measure_ns) lg->errors++;
}

/* The answer to connect: hello-ok (timed) or a refusal; the connection closes either way. */
static void on_rate_answer(conn *c, json_t *frame)
{
    loadgen *lg = c->lg;
    if (c->hello || c->attempt_failed) return;
    if (json_is_true(json_object_get(frame, "ok"))) {
        c->hello = true;
        uint64_t us = (cg_mono_ns() - c->begin_ns) / 1000;
        if (!c->first_done) {
            c->first_done = true;
            bench_hist_add(&lg->first_hist, us);
        }
        if (lg->measuring && !lg->stopping && c->begin_ns >= lg->t_measure_ns) {
            bench_hist_add(&lg->hist, us);
            lg->completed++;
            json_t *auth = json_object_get(json_object_get(frame, "payload"), "auth");
            if (json_is_string(json_object_get(auth, "deviceToken"))) lg->device_tokens++;
            if (lg->count_limit && lg->completed >= lg->count_limit) {
                stop(lg);
                return;
            }
        }
    } else {
        char *err = json_dumps(json_object_get(frame, "error"), JSON_COMPACT);
        attempt_failed(c, err ? err : "connect refused");
        free(err);
    }
    cg_ws_client_close(c->ws, 1000, "");
}

static void on_message(cg_ws_client *ws, const char *data, size_t len, void *user)
{
    conn *c = user;
    json_t *frame = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(frame, "type"));
    if (!type) {
        json_decref(frame);
        return;
    }
    if (strcmp(type, "res") == 0) {
        const char *id = json_string_value(json_object_get(frame, "id"));
        if (c->lg->connect_rate) {
            on_rate_answer(c, frame);
        } else if (c->ready && id && strcmp(id, BASE_HASH_ID) == 0) {
            on_base_hash(c->lg, frame);
        } else if (c->ready) {
            on_response(c, frame);
        } else if (json_is_true(json_object_get(frame, "ok"))) {
            on_connected(c);
            after_attempt(c->lg);
        } else {
            char *err = json_dumps(json_object_get(frame, "error"), JSON_COMPACT);
            fprintf(stderr, "cg-loadgen: connect refused: %s\n", err ? err : "?");
            free(err);
            cg_ws_client_close(ws, 1000, "");
        }
    } else if (strcmp(type, "event") == 0 && !c->ready) {
        const char *ev = json_string_value(json_object_get(frame, "event"));
        if (ev && strcmp(ev, "connect.challenge") == 0)
            send_connect(c, json_object_get(frame, "payload"));
    }
    json_decref(frame);
}

static void on_retry(uv_timer_t *t);
static void start_attempt(conn *c);

/* c connects again RETRY_DELAY_MS from now (or a little sooner, with others queued). */
static void queue_retry(loadgen *lg, conn *c)
{
    lg->retry_queue[lg->retry_len++] = (int)(c - lg->conns);
    if (!uv_is_active((uv_handle_t *)&lg->retry_timer))
        uv_timer_start(&lg->retry_timer, on_retry, RETRY_DELAY_MS, 0);
}

static void on_close(cg_ws_client *ws, const cg_ws_close_info *info, void *user)
{
    conn *c = user;
    loadgen *lg = c->lg;
    c->ws = NULL;
    if (lg->stopping) return;
    if (lg->connect_rate) {
        if (!c->hello && !c->attempt_failed) attempt_failed(c, info->message);
        if (c->attempt_failed)
            queue_retry(lg, c);
        else
            start_attempt(c);
        return;
    }
    bool busy = info->http_status == 503 || info->http_status == 429;
    if (!c->ready && busy && c->retries < MAX_RETRIES) {
        c->retries++;
        queue_retry(lg, c);
        return;
    }
    if (!c->ready) {
        lg->failed++;
        lg->opening--;
        if (lg->failed <= 5) fprintf(stderr, "cg-loadgen: connection failed: %s\n", info->message);
        after_attempt(lg);
        return;
    }
    lg->ready--;
    fprintf(stderr, "cg-loadgen: connection lost: %s\n", info->message);
    if (lg->ready == 0) stop(lg);
}

static const cg_ws_client_callbacks callbacks = {
    .on_message = on_message,
    .on_close = on_close,
};

/* Connections the gateway turned away as busy (HTTP 503/429 before the upgrade) try
 * again; they keep their place in the connect window meanwhile. */
static void on_retry(uv_timer_t *t)
{
    loadgen *lg = t->data;
    int n = lg->retry_len;
    lg->retry_len = 0;
    for (int i = 0; i < n; i++)
        start_attempt(&lg->conns[lg->retry_queue[i]]);
}

static void start_attempt(conn *c)
{
    loadgen *lg = c->lg;
    c->hello = c->attempt_failed = false;
    c->begin_ns = cg_mono_ns();
    c->ws = cg_ws_client_connect(lg->loop, lg->url, &lg->opts, &callbacks, c);
}

static void open_more(loadgen *lg)
{
    while (lg->next_to_open < lg->open_total && lg->opening < lg->connect_concurrency) {
        conn *c = &lg->conns[lg->next_to_open++];
        lg->opening++;
        start_attempt(c);
    }
}

/* ---- phases ---- */

static void on_signal(uv_signal_t *s, int signum)
{
    stop(s->data);
}

static void on_end(uv_timer_t *t)
{
    stop(t->data);
}

static void on_warmed_up(uv_timer_t *t)
{
    loadgen *lg = t->data;
    lg->measuring = true;
    lg->t_measure_ns = cg_mono_ns();
    if (!lg->count_limit) uv_timer_start(&lg->timer, on_end, (uint64_t)(lg->duration_s * 1000), 0);
}

static void start_load(loadgen *lg)
{
    /* With a count (or no warm-up) every request is measured, the first ones included. */
    bool warm_up = lg->warmup_s > 0 && !lg->count_limit;
    if (!warm_up) on_warmed_up(&lg->timer);
    for (int i = 0; i < lg->open_total; i++) {
        conn *c = &lg->conns[i];
        if (c->ready)
            for (int s = 0; s < lg->inflight; s++)
                send_request(c, s);
    }
    if (warm_up) uv_timer_start(&lg->timer, on_warmed_up, (uint64_t)(lg->warmup_s * 1000), 0);
}

/* Connect-rate mode: every loop starts at once; the warm-up timer starts measuring. */
static void start_connect_rate(loadgen *lg)
{
    lg->next_to_open = lg->open_total;
    if (lg->warmup_s > 0)
        uv_timer_start(&lg->timer, on_warmed_up, (uint64_t)(lg->warmup_s * 1000), 0);
    else
        on_warmed_up(&lg->timer);
    for (int i = 0; i < lg->open_total; i++)
        start_attempt(&lg->conns[i]);
}

static void stop(loadgen *lg)
{
    if (lg->stopping) return;
    lg->stopping = true;
    lg->t_end_ns = cg_mono_ns();
    for (int i = 0; lg->connect_rate && lg->measuring && i < lg->open_total; i++) {
        const conn *c = &lg->conns[i];
        if (c->ws && !c->hello && !c->attempt_failed && c->begin_ns >= lg->t_measure_ns)
            lg->unfinished++;
    }
    uv_close((uv_handle_t *)&lg->timer, NULL);
    uv_close((uv_handle_t *)&lg->retry_timer, NULL);
    uv_close((uv_handle_t *)&lg->sigint, NULL);
    uv_close((uv_handle_t *)&lg->sigterm, NULL);
    for (int i = 0; i < lg->next_to_open; i++)
        if (lg->conns[i].ws) cg_ws_client_close(lg->conns[i].ws, 1000, "done");
}

static void print_report(loadgen *lg)
{
    double secs = lg->measuring ? (double)(lg->t_end_ns - lg->t_measure_ns) / 1e9 : 0;
    json_t *r = json_pack("{s:s, s:i, s:i, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i}", "method",
                          lg->method, "connections", lg->connections, "inflight", lg->inflight,
                          "requests", (json_int_t)lg->completed, "errors", (json_int_t)lg->errors,
                          "seconds", secs, "rps", secs > 0 ? (double)lg->completed / secs : 0.0,
                          "p50_ms", bench_hist_percentile_ms(&lg->hist, 0.50), "p90_ms",
                          bench_hist_percentile_ms(&lg->hist, 0.90), "p99_ms",
                          bench_hist_percentile_ms(&lg->hist, 0.99), "max_ms",
                          (double)lg->hist.max_us / 1000.0, "connect_errors", lg->failed);
    char *s = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(s);
    free(s);
    json_decref(r);
}

static void print_connect_rate_report(loadgen *lg)
{
    double secs = lg->measuring ? (double)(lg->t_end_ns - lg->t_measure_ns) / 1e9 : 0;
    json_t *r = json_pack(
        "{s:s, s:b, s:i, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I}", "mode",
        "connect-rate", "device", lg->device, "connections", lg->connections, "connects",
        (json_int_t)lg->completed, "errors", (json_int_t)lg->errors, "unfinished",
        (json_int_t)lg->unfinished, "seconds", secs, "cps",
        secs > 0 ? (double)lg->completed / secs : 0.0, "p50_ms",
        bench_hist_percentile_ms(&lg->hist, 0.50), "p90_ms",
        bench_hist_percentile_ms(&lg->hist, 0.90), "p99_ms",
        bench_hist_percentile_ms(&lg->hist, 0.99), "max_ms", (double)lg->hist.max_us / 1000.0,
        "first_p50_ms", bench_hist_percentile_ms(&lg->first_hist, 0.50), "first_max_ms",
        (double)lg->first_hist.max_us / 1000.0, "device_tokens", (json_int_t)lg->device_tokens);
    if (lg->first_error) json_object_set_new(r, "first_error", json_string(lg->first_error));
    char *s = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(s);
    free(s);
    json_decref(r);
}

/* ---- setup ---- */

static const char usage[] =
    "usage: cg-loadgen --url ws[s]://HOST:PORT [--token T | --password P] [--ca-file PEM]\n"
    "         [--method health] [--params JSON] [--base-hash HASH|auto] [--scopes a,b]\n"
    "         [--connections 1] [--inflight 32] [--duration 10 | --count N] [--warmup 1]\n"
    "         [--connect-concurrency 32] [--timeout-ms 15000]\n"
    "       cg-loadgen --url ... --hold K [--hold-seconds S]   (0 = until SIGINT/SIGTERM)\n"
    "       cg-loadgen --url ... --connect-rate [--connections 8] [--duration 10]\n"
    "         [--warmup 1] [--count N]   (connect, hello-ok, close, again; per connection)\n"
    "       --device (any mode): each connection signs its connect with its own Ed25519 key\n";

static int bad(const char *what)
{
    fprintf(stderr, "cg-loadgen: %s\n%s", what, usage);
    return 2;
}

int main(int argc, char **argv)
{
    loadgen lg = {.method = "health",
                  .connections = 1,
                  .inflight = 32,
                  .duration_s = 10,
                  .warmup_s = 1,
                  .connect_concurrency = 32};
    const char *token = NULL, *password = NULL, *params = "{}", *scopes = NULL, *ca_file = NULL,
               *base_hash = NULL;
    double timeout_ms = 15000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--connect-rate") == 0) {
            lg.connect_rate = true;
            continue;
        }
        if (strcmp(a, "--device") == 0) {
            lg.device = true;
            continue;
        }
        if (i + 1 >= argc) return bad("missing value or unknown option");
        const char *v = argv[++i];
        double d;
        if (strcmp(a, "--url") == 0)
            lg.url = v;
        else if (strcmp(a, "--token") == 0)
            token = v;
        else if (strcmp(a, "--password") == 0)
            password = v;
        else if (strcmp(a, "--ca-file") == 0)
            ca_file = v;
        else if (strcmp(a, "--method") == 0)
            lg.method = v;
        else if (strcmp(a, "--params") == 0)
            params = v;
        else if (strcmp(a, "--base-hash") == 0)
            base_hash = v;
        else if (strcmp(a, "--scopes") == 0)
            scopes = v;
        else if (strcmp(a, "--connections") == 0 && bench_num_arg(v, 1, 1e6, &d))
            lg.connections = (int)d;
        else if (strcmp(a, "--inflight") == 0 && bench_num_arg(v, 1, 1e5, &d))
            lg.inflight = (int)d;
        else if (strcmp(a, "--duration") == 0 && bench_num_arg(v, 0.01, 1e6, &d))
            lg.duration_s = d;
        else if (strcmp(a, "--warmup") == 0 && bench_num_arg(v, 0, 1e6, &d))
            lg.warmup_s = d;
        else if (strcmp(a, "--count") == 0 && bench_num_arg(v, 1, 1e15, &d))
            lg.count_limit = (uint64_t)d;
        else if (strcmp(a, "--hold") == 0 && bench_num_arg(v, 1, 1e7, &d))
            lg.hold = (int)d;
        else if (strcmp(a, "--hold-seconds") == 0 && bench_num_arg(v, 0, 1e9, &d))
            lg.hold_seconds = d;
        else if (strcmp(a, "--connect-concurrency") == 0 && bench_num_arg(v, 1, 1e6, &d))
            lg.connect_concurrency = (int)d;
        else if (strcmp(a, "--timeout-ms") == 0 && bench_num_arg(v, 1, 1e9, &d))
            timeout_ms = d;
        else
            return bad(a);
    }
    if (!lg.url) return bad("--url is required");
    if (lg.connect_rate && (lg.hold > 0 || base_hash))
        return bad("--connect-rate does not go with --hold or --base-hash");
    json_t *pj = json_loads(params, JSON_DECODE_ANY, NULL);
    if (!pj) return bad("--params must be valid JSON");
    lg.params_json = json_dumps(pj, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(pj);

    bench_raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    if (token || password) {
        lg.auth = json_object();
        if (token) json_object_set_new(lg.auth, "token", json_string(token));
        if (password) json_object_set_new(lg.auth, "password", json_string(password));
    }
    lg.scopes = json_array();
    const char *sc = scopes ? scopes
                            : "operator.read,operator.write,operator.admin,operator.approvals,"
                              "operator.pairing,operator.questions,operator.talk,"
                              "operator.talk.secrets";
    cg_buf csv = {0};
    while (*sc) {
        size_t n = strcspn(sc, ",");
        if (n > 0) {
            json_array_append_new(lg.scopes, json_stringn(sc, n));
            if (csv.len > 0) cg_buf_appends(&csv, ",");
            cg_buf_append(&csv, sc, n);
        }
        sc += n + (sc[n] == ',');
    }
    cg_buf_appends(&csv, ""); /* never NULL, even with no scopes */
    lg.scopes_csv = csv.data;
    lg.token = token ? token : "";

    /* The request frame is prefix + slot id + suffix, where the suffix is the method
     * part, the params and "}"; changing params are rendered between those per request. */
    snprintf(lg.prefix, sizeof lg.prefix, "{\"type\":\"req\",\"id\":\"");
    json_t *m = json_string(lg.method);
    char *method_json = json_dumps(m, JSON_ENCODE_ANY);
    json_decref(m);
    cg_buf method_part = {0};
    cg_buf_appends(&method_part, "\",\"method\":");
    cg_buf_appends(&method_part, method_json);
    cg_buf_appends(&method_part, ",\"params\":");
    free(method_json);
    lg.method_part = method_part.data;
    cg_buf suffix = {0};
    cg_buf_appends(&suffix, lg.method_part);
    cg_buf_appends(&suffix, lg.params_json);
    cg_buf_appends(&suffix, "}");
    lg.suffix = suffix.data;
    lg.suffix_len = suffix.len;
    lg.chain_hash = base_hash != NULL;
    lg.base_hash_auto = base_hash && strcmp(base_hash, "auto") == 0;
    if (base_hash && !lg.base_hash_auto) lg.base_hash = cg_strdup(base_hash);
    lg.changing_params = lg.chain_hash || strstr(lg.params_json, "{{n}}");

    cg_ws_url u;
    bool url_ok = cg_ws_url_parse(lg.url, &u);
    bool wss = u.tls;
    cg_ws_url_free(&u);
    if (!url_ok) return bad("--url must be ws://HOST:PORT or wss://HOST:PORT");
    lg.opts.handshake_timeout_ms = (uint64_t)timeout_ms;
    if (wss) {
        char err[300];
        lg.opts.ssl_ctx = cg_ws_tls_ctx_new(ca_file, err, sizeof err);
        if (!lg.opts.ssl_ctx) {
            fprintf(stderr, "cg-loadgen: %s\n", err);
            return 1;
        }
        lg.opts.skip_hostname_check = ca_file != NULL;
    }

    lg.loop = uv_default_loop();
    uv_timer_init(lg.loop, &lg.timer);
    uv_timer_init(lg.loop, &lg.retry_timer);
    lg.timer.data = lg.retry_timer.data = &lg;
    uv_signal_init(lg.loop, &lg.sigint);
    uv_signal_init(lg.loop, &lg.sigterm);
    lg.sigint.data = lg.sigterm.data = &lg;
    uv_signal_start(&lg.sigint, on_signal, SIGINT);
    uv_signal_start(&lg.sigterm, on_signal, SIGTERM);

    lg.open_total = lg.hold > 0 ? lg.hold : lg.connections;
    lg.conns = cg_xcalloc((size_t)lg.open_total, sizeof *lg.conns);
    lg.retry_queue = cg_xcalloc((size_t)lg.open_total, sizeof *lg.retry_queue);
    for (int i = 0; i < lg.open_total; i++) {
        lg.conns[i].lg = &lg;
        if (lg.device && !bench_device_new(&lg.conns[i].dev)) {
            fprintf(stderr, "cg-loadgen: cannot generate an Ed25519 key\n");
            return 1;
        }
    }
    if (lg.hold > 0 && lg.hold_seconds > 0)
        uv_timer_start(&lg.timer, on_end, (uint64_t)(lg.hold_seconds * 1000), 0);
    lg.t_start_ns = cg_mono_ns();
    if (lg.connect_rate)
        start_connect_rate(&lg);
    else
        open_more(&lg);
    uv_run(lg.loop, UV_RUN_DEFAULT);

    int rc = 0;
    if (lg.connect_rate)
        print_connect_rate_report(&lg);
    else if (lg.hold == 0)
        print_report(&lg);
    if (lg.hold == 0) rc = lg.completed > 0 ? 0 : 1;
    for (int i = 0; i < lg.open_total; i++) {
        free(lg.conns[i].sent_ns);
        bench_device_free(&lg.conns[i].dev);
    }
    free(lg.conns);
    free(lg.retry_queue);
    free(lg.suffix);
    free(lg.method_part);
    free(lg.base_hash);
    free(lg.params_json);
    free(lg.scopes_csv);
    free(lg.first_error);
    json_decref(lg.auth);
    json_decref(lg.scopes);
    if (lg.opts.ssl_ctx) SSL_CTX_free(lg.opts.ssl_ctx);
    uv_loop_close(lg.loop);
    return rc;
}
