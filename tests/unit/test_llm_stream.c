/* Streams of agent/llm.h on a real libuv loop against a tiny HTTP server in the same
 * loop (scripted responses, recorded requests), and against child processes for
 * api "cli": deltas, usage, stop reasons, the retry policy, fallbacks, error kinds, tool
 * calls, cancel (the upstream connection closes at once, no on_done), idle timeouts,
 * and the offline provider. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/llm.h"
#include "agent/llm_internal.h"
#include "common/util.h"

/* ---- a scripted HTTP server on the loop ---- */

#define MAX_STEPS 16
#define MAX_REQS 16

typedef struct script {
    const char *head; /* status line and headers, without the blank line */
    bool chunked;     /* each step is one chunk; a terminator after the last */
    const char *steps[MAX_STEPS];
    unsigned delay_ms;              /* before each step */
    unsigned step_delay[MAX_STEPS]; /* when non-zero: before that step instead */
    int cut_after;                  /* > 0: close after this many steps, unterminated */
    bool hang;                      /* after the head, nothing */
} script;

typedef struct srv srv;
typedef struct sconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    srv *s;
    cg_buf in;
    const script *sc;
    int step;
    bool responded, closing;
    int handles;
    struct sconn *next;
} sconn;

struct srv {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    const script *scripts;
    int n_scripts, next;
    char *reqs[MAX_REQS];
    int n_reqs;
    int peer_closed; /* connections the client closed */
    uint64_t peer_closed_at;
    sconn *conns;
};

static void sconn_closed(uv_handle_t *h)
{
    sconn *c = h->data;
    if (--c->handles > 0) return;
    cg_buf_reset(&c->in);
    free(c);
}

static void sconn_close(sconn *c)
{
    if (c->closing) return;
    c->closing = true;
    srv *s = c->s;
    for (sconn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, sconn_closed);
    uv_close((uv_handle_t *)&c->tcp, sconn_closed);
}

static void put(sconn *c, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    assert_int_equal(n, (int)len); /* loopback takes these small writes whole */
}

static void step_cb(uv_timer_t *t)
{
    sconn *c = t->data;
    const script *sc = c->sc;
    if (sc->cut_after > 0 && c->step >= sc->cut_after) {
        sconn_close(c);
        return;
    }
    const char *data = sc->steps[c->step];
    if (!data) {
        if (sc->chunked) put(c, "0\r\n\r\n", 5);
        sconn_close(c);
        return;
    }
    if (sc->chunked) {
        char size[32];
        int n = snprintf(size, sizeof size, "%zx\r\n", strlen(data));
        put(c, size, (size_t)n);
        put(c, data, strlen(data));
        put(c, "\r\n", 2);
    } else {
        put(c, data, strlen(data));
    }
    c->step++;
    unsigned delay = sc->step_delay[c->step] ? sc->step_delay[c->step] : sc->delay_ms;
    uv_timer_start(&c->timer, step_cb, delay, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char mem[65536];
    buf->base = mem;
    buf->len = sizeof mem;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    sconn *c = st->data;
    srv *s = c->s;
    if (n < 0) {
        s->peer_closed++;
        s->peer_closed_at = uv_now(s->loop);
        sconn_close(c);
        return;
    }
    if (c->responded) return;
    cg_buf_append(&c->in, buf->base, (size_t)n);
    char *end = c->in.data ? strstr(c->in.data, "\r\n\r\n") : NULL;
    if (!end) return;
    size_t head = (size_t)(end - c->in.data) + 4, body = 0;
    const char *cl = strcasestr(c->in.data, "Content-Length:");
    if (cl && cl < end) body = (size_t)strtoul(cl + 15, NULL, 10);
    if (c->in.len < head + body) return;
    c->responded = true;
    if (s->n_reqs < MAX_REQS) s->reqs[s->n_reqs++] = cg_strdup(c->in.data);
    assert_true(s->next < s->n_scripts);
    c->sc = &s->scripts[s->next++];
    put(c, c->sc->head, strlen(c->sc->head));
    put(c, "\r\n\r\n", 4);
    if (c->sc->hang) return;
    uv_timer_start(&c->timer, step_cb, c->sc->delay_ms, 0);
}

static void on_connection(uv_stream_t *l, int status)
{
    srv *s = l->data;
    sconn *c = cg_xcalloc(1, sizeof *c);
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = s->conns;
    s->conns = c;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void srv_start(srv *s, uv_loop_t *loop, const script *scripts, int n)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->scripts = scripts;
    s->n_scripts = n;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 16, on_connection), 0);
    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    s->port = ntohs(bound.sin_port);
}

static void srv_stop(srv *s)
{
    while (s->conns)
        sconn_close(s->conns);
    uv_close((uv_handle_t *)&s->listener, NULL);
    for (int i = 0; i < s->n_reqs; i++)
        free(s->reqs[i]);
}

/* ---- a stream and what it reported ---- */

typedef struct result {
    cg_buf text;
    int deltas;
    bool done;
    char kind[32], message[2048], stop[48], note[256], provider[64], model[128];
    cg_llm_usage usage;
    bool streamed;
    cg_llm_stream *stream;
    bool cancel_on_first_delta;
    uv_loop_t *loop;
    uint64_t cancelled_at;
} result;

static void on_delta(const char *text, size_t len, void *data)
{
    result *r = data;
    cg_buf_append(&r->text, text, len);
    r->deltas++;
    if (r->cancel_on_first_delta && r->deltas == 1) {
        if (r->loop) r->cancelled_at = uv_now(r->loop);
        cg_llm_cancel(r->stream);
    }
}

static void on_done(const cg_llm_outcome *o, void *data)
{
    result *r = data;
    assert_false(r->done);
    r->done = true;
    snprintf(r->kind, sizeof r->kind, "%s", o->error_kind ? o->error_kind : "");
    snprintf(r->message, sizeof r->message, "%s", o->error_message ? o->error_message : "");
    snprintf(r->stop, sizeof r->stop, "%s", o->stop_reason ? o->stop_reason : "");
    snprintf(r->note, sizeof r->note, "%s", o->note ? o->note : "");
    snprintf(r->provider, sizeof r->provider, "%s", o->provider ? o->provider : "");
    snprintf(r->model, sizeof r->model, "%s", o->model ? o->model : "");
    r->usage = o->usage;
    r->streamed = o->streamed;
}

static const cg_llm_callbacks callbacks = {.on_delta = on_delta, .on_done = on_done};

typedef struct env {
    uv_loop_t loop;
    srv server, server2;
    bool has_server2;
    cg_llm *llm;
    result r;
} env;

static int setup(void **state)
{
    env *e = cg_xcalloc(1, sizeof *e);
    uv_loop_init(&e->loop);
    signal(SIGPIPE, SIG_IGN);
    unsetenv("OPENAI_API_KEY");
    unsetenv("ANTHROPIC_API_KEY");
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    if (e->llm) cg_llm_free(e->llm);
    if (e->server.loop) srv_stop(&e->server);
    if (e->has_server2) srv_stop(&e->server2);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0); /* every handle closed */
    cg_buf_reset(&e->r.text);
    free(e);
    return 0;
}

static void wake(uv_timer_t *t) {}

/* Runs the loop until flag is set or ms pass. */
static void run_until(env *e, const bool *flag, uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(&e->loop, &t);
    uint64_t deadline = uv_now(&e->loop) + ms;
    while (!*flag && uv_now(&e->loop) < deadline) {
        uv_timer_start(&t, wake, 20, 0);
        uv_run(&e->loop, UV_RUN_ONCE);
        uv_update_time(&e->loop);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

static void run_for(env *e, uint64_t ms)
{
    bool never = false;
    run_until(e, &never, ms);
}

static cg_llm *make_llm(env *e, const char *config_fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, config_fmt);
    vsnprintf(text, sizeof text, config_fmt, ap);
    va_end(ap);
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (!doc) fail_msg("bad test config: %s: %s", jerr.text, text);
    json_t *issues = json_array();
    e->llm = cg_llm_new(&e->loop, doc, issues);
    if (json_array_size(issues)) {
        char *t = json_dumps(issues, 0);
        fail_msg("config issues: %s", t);
    }
    json_decref(issues);
    json_decref(doc);
    return e->llm;
}

static void start(env *e, const char *model, const char *user_text)
{
    json_t *messages = json_pack("[{s:s, s:s}]", "role", "user", "content", user_text);
    cg_llm_request req = {.model = model, .system = "Be brief.", .messages = messages};
    e->r.stream = cg_llm_start(e->llm, &req, &callbacks, &e->r);
    json_decref(messages);
    assert_non_null(e->r.stream);
    assert_false(e->r.done); /* never inside cg_llm_start */
}

#define SSE_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked"
#define OPENAI_CONFIG                                                                              \
    "{\"models\":{\"providers\":{\"p\":{\"baseUrl\":\"http://127.0.0.1:%d/"                        \
    "v1\",\"apiKey\":\"sk-t\","                                                                    \
    "\"timeoutSeconds\":2,\"models\":[{\"id\":\"m\"}]}}}}"

/* ---- openai-completions ---- */

static void test_openai_stream(void **state)
{
    env *e = *state;
    static const script scripts[] = {{
        .head = SSE_HEAD,
        .chunked = true,
        .steps =
            {"data: "
             "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
             "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel",
             "lo\"}}]}\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" w\xc3",
             "\xb6rld\"}}]}\n",
             "\n: keep-alive\n\ndata: "
             "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
             "data: "
             "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\n\ndata: "
             "[DONE]\n\n",
             NULL},
        .delay_ms = 5,
    }};
    srv_start(&e->server, &e->loop, scripts, 1);
    make_llm(e, OPENAI_CONFIG, e->server.port);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 5000);
    assert_true(e->r.done);
    assert_string_equal(e->r.kind, "");
    assert_string_equal(e->r.text.data, "Hello w\xc3\xb6rld");
    assert_int_equal(e->r.deltas, 2);
    assert_string_equal(e->r.stop, "stop");
    assert_int_equal(e->r.usage.input, 5);
    assert_int_equal(e->r.usage.output, 3);
    assert_true(e->r.streamed);
    assert_string_equal(e->r.provider, "p");
    assert_string_equal(e->r.model, "m");
    assert_int_equal(e->server.n_reqs, 1);
    const char *req = e->server.reqs[0];
    assert_non_null(strstr(req, "POST /v1/chat/completions HTTP/1.1"));
    assert_non_null(strcasestr(req, "Authorization: Bearer sk-t"));
    assert_non_null(strstr(req, "\"stream\":true"));
    assert_non_null(strstr(req, "\"include_usage\":true"));
    assert_non_null(strstr(req, "{\"role\":\"system\",\"content\":\"Be brief.\"}"));
    assert_non_null(strstr(req, "\"model\":\"m\""));
}

static void test_openai_json_answer(void **state)
{
    env *e = *state;
    static const script scripts[] = {{
        .head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close",
        .steps =
            {"{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"whole answer\"},"
             "\"finish_reason\":\"length\"}]}",
             NULL},
    }};
    srv_start(&e->server, &e->loop, scripts, 1);
    make_llm(e, OPENAI_CONFIG, e->server.port);
    start(e, "p/m", "hi");
    run_until(e, &e->r.done, 5000);
    if (e->r.kind[0]) fail_msg("%s: %s", e->r.kind, e->r.message);
    assert_string_equal(e->r.text.data, "whole answer");
    assert_string_equal(e->r.stop, "length");
}

static void test_tool_call_ends_the_reply(void **state)
{
    env *e = *state;
    static const script scripts[] = {{
        .head = SSE_HEAD,
        .chunked = true,
        .steps = {"data: {\"choices\":[{\"delta\":{\"content\":\"Let me check.\"}}]}\n\n",
                  "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\","
                  "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}"
                  "}]}}]}\n\n",
                  "data: "
                  "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
                  "\"arguments\":\"{}\"}}]}}]}\n\n",
                  NULL},
        .delay_ms = 5,
    }};
    srv_start(&e->server, &e->loop, scripts, 1);
    make_llm(e, OPENAI_CONFIG, e->server.port);
    start(e, NULL, "weather?");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "");
    assert_string_equal(e->r.text.data, "Let me check.");
    assert_string_equal(e->r.stop, "tool_calls");
    assert_non_null(strstr(e->r.note, "get_weather"));
    assert_non_null(strstr(e->r.note, "tools are not available"));
}

/* ---- anthropic-messages ---- */

static void test_anthropic_stream(void **state)
{
    env *e = *state;
    static const script scripts[] = {{
        .head = SSE_HEAD,
        .chunked = true,
        .steps =
            {"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
             "{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
             "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
             "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: "
             "{\"type\":\"ping\"}\n\n",
             "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
             "\"delta\":{\"type\":\"text_delta\",\"text\":\"Bonjour\"}}\n\n",
             "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
             "\"delta\":{\"type\":\"text_delta\",\"text\":\" !\"}}\n\n",
             "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
             "\"max_tokens\"},\"usage\":{\"output_tokens\":7}}\n\nevent: message_stop\ndata: "
             "{\"type\":\"message_stop\"}\n\n",
             NULL},
        .delay_ms = 5,
    }};
    srv_start(&e->server, &e->loop, scripts, 1);
    make_llm(e,
             "{\"models\":{\"providers\":{\"a\":{\"baseUrl\":\"http://127.0.0.1:%d/v1/\",\"api\":"
             "\"anthropic-messages\",\"apiKey\":\"k-ant\",\"models\":[{\"id\":\"c\",\"maxTokens\":"
             "1000}]}}}}",
             e->server.port);
    start(e, "a/c", "salut");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "");
    assert_string_equal(e->r.text.data, "Bonjour !");
    assert_string_equal(e->r.stop, "length");
    assert_int_equal(e->r.usage.input, 12);
    assert_int_equal(e->r.usage.output, 7);
    const char *req = e->server.reqs[0];
    assert_non_null(strstr(req, "POST /v1/messages HTTP/1.1")); /* not /v1/v1 */
    assert_non_null(strcasestr(req, "x-api-key: k-ant"));
    assert_non_null(strcasestr(req, "anthropic-version: 2023-06-01"));
    assert_non_null(strstr(req, "\"system\":\"Be brief.\""));
    assert_non_null(strstr(req, "\"max_tokens\":1000"));
}

static void test_anthropic_error_event_before_text_is_retried(void **state)
{
    env *e = *state;
    static const script scripts[] = {
        {.head = SSE_HEAD,
         .chunked = true,
         .steps =
             {"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
              "\"message\":\"Overloaded\"}}\n\n",
              NULL}},
        {.head = SSE_HEAD,
         .chunked = true,
         .steps =
             {"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}\n\nevent: message_stop\ndata: "
              "{\"type\":\"message_stop\"}\n\n",
              NULL}},
    };
    srv_start(&e->server, &e->loop, scripts, 2);
    make_llm(e,
             "{\"models\":{\"providers\":{\"a\":{\"baseUrl\":\"http://127.0.0.1:%d\",\"api\":"
             "\"anthropic-messages\",\"apiKey\":\"k\",\"models\":[{\"id\":\"c\"}]}}}}",
             e->server.port);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 5000); /* the first back-off is 1 s */
    assert_string_equal(e->r.kind, "");
    assert_string_equal(e->r.text.data, "ok");
    assert_int_equal(e->server.n_reqs, 2);
    assert_non_null(strstr(e->server.reqs[0], "POST /v1/messages HTTP/1.1"));
}

/* ---- retries, fallbacks, error kinds ---- */

#define STATUS(line, extra, body)                                                                  \
    {                                                                                              \
        .head = "HTTP/1.1 " line "\r\nContent-Type: application/json\r\nConnection: close" extra,  \
        .steps = {body, NULL},                                                                     \
    }
#define OK_SCRIPT(text)                                                                            \
    {                                                                                              \
        .head = SSE_HEAD, .chunked = true,                                                         \
        .steps = {"data: {\"choices\":[{\"delta\":{\"content\":\"" text "\"},\"finish_reason\":"   \
                  "\"stop\"}]}\n\ndata: [DONE]\n\n",                                               \
                  NULL},                                                                           \
    }

static void test_429_then_ok(void **state)
{
    env *e = *state;
    static const script scripts[] = {
        STATUS("429 Too Many Requests", "\r\nRetry-After: 0",
               "{\"error\":{\"message\":\"slow down\"}}"),
        OK_SCRIPT("after the wait"),
    };
    srv_start(&e->server, &e->loop, scripts, 2);
    make_llm(e, OPENAI_CONFIG, e->server.port);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "");
    assert_string_equal(e->r.text.data, "after the wait");
    assert_int_equal(e->server.n_reqs, 2);
}

static void test_5xx_retried_three_times_then_server_error(void **state)
{
    env *e = *state;
    static const script scripts[] = {
        STATUS("503 Service Unavailable", "\r\nRetry-After: 0",
               "{\"error\":{\"message\":\"busy\"}}"),
        STATUS("503 Service Unavailable", "\r\nRetry-After: 0",
               "{\"error\":{\"message\":\"busy\"}}"),
        STATUS("500 Internal Server Error", "\r\nRetry-After: 0",
               "{\"error\":{\"message\":\"busy\"}}"),
        STATUS("502 Bad Gateway", "\r\nRetry-After: 0", "{\"error\":{\"message\":\"still busy\"}}"),
    };
    srv_start(&e->server, &e->loop, scripts, 4);
    make_llm(e, OPENAI_CONFIG, e->server.port);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "server");
    assert_non_null(strstr(e->r.message, "HTTP 502"));
    assert_non_null(strstr(e->r.message, "still busy"));
    assert_int_equal(e->server.n_reqs, 4); /* one attempt and 3 retries */
    assert_false(e->r.streamed);
}

static void test_retry_after_past_the_window_is_not_waited_for(void **state)
{
    env *e = *state;
    static const script scripts[] = {
        STATUS("429 Too Many Requests", "\r\nRetry-After: 120",
               "{\"error\":{\"message\":\"quota\"}}"),
    };
    srv_start(&e->server, &e->loop, scripts, 1);
    make_llm(e, OPENAI_CONFIG, e->server.port);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 3000);
    assert_true(e->r.done);
    assert_string_equal(e->r.kind, "rate_limit");
    assert_non_null(strstr(e->r.message, "120"));
    assert_int_equal(e->server.n_reqs, 1);
}

static void test_401_is_auth_and_falls_back(void **state)
{
    env *e = *state;
    static const script scripts[] = {
        STATUS("401 Unauthorized", "", "{\"error\":{\"message\":\"Incorrect API key provided\"}}"),
    };
    static const script scripts2[] = {OK_SCRIPT("from the fallback")};
    srv_start(&e->server, &e->loop, scripts, 1);
    srv_start(&e->server2, &e->loop, scripts2, 1);
    e->has_server2 = true;
    make_llm(
        e,
        "{\"models\":{\"providers\":{\"p\":{\"baseUrl\":\"http://127.0.0.1:%d/v1\",\"apiKey\":"
        "\"bad\",\"models\":[{\"id\":\"m\"}]},\"q\":{\"baseUrl\":\"http://127.0.0.1:%d\","
        "\"models\":[{\"id\":\"n\"}]}}},\"agents\":{\"defaults\":{\"model\":{\"primary\":\"p/m\","
        "\"fallbacks\":[\"q/n\"]}}}}",
        e->server.port, e->server2.port);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "");
    assert_string_equal(e->r.text.data, "from the fallback");
    assert_string_equal(e->r.provider, "q");
    assert_string_equal(e->r.model, "n");
    assert_int_equal(e->server.n_reqs, 1); /* a 401 is not retried */
    assert_int_equal(e->server2.n_reqs, 1);
    assert_non_null(strstr(e->server2.reqs[0], "POST /chat/completions HTTP/1.1"));
}

static void test_every_model_failing_reports_the_primary(void **state)
{
    env *e = *state;
    static const script scripts[] = {
        STATUS("401 Unauthorized", "", "{\"error\":{\"message\":\"Incorrect API key provided\"}}"),
    };
    srv_start(&e->server, &e->loop, scripts, 1);
    make_llm(
        e,
        "{\"models\":{\"providers\":{\"p\":{\"baseUrl\":\"http://127.0.0.1:%d/v1\",\"apiKey\":"
        "\"bad\",\"models\":[{\"id\":\"m\"}]},\"q\":{\"baseUrl\":\"http://127.0.0.1:1\","
        "\"models\":[{\"id\":\"n\"}]}}},\"agents\":{\"defaults\":{\"model\":{\"primary\":\"p/m\","
        "\"fallbacks\":[\"q/n\"]}}}}",
        e->server.port);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "auth");
    assert_non_null(strstr(e->r.message, "p/m"));
    assert_non_null(strstr(e->r.message, "Incorrect API key"));
    assert_non_null(strstr(e->r.message, "q/n"));
    assert_non_null(strstr(e->r.message, "apiKey"));
}

static void test_cut_mid_stream_keeps_the_partial_text(void **state)
{
    env *e = *state;
    static const script scripts[] = {{
        .head = SSE_HEAD,
        .chunked = true,
        .steps = {"data: {\"choices\":[{\"delta\":{\"content\":\"partial \"}}]}\n\n",
                  "data: {\"choices\":[{\"delta\":{\"content\":\"never\"}}]}\n\n", NULL},
        .cut_after = 1,
        .delay_ms = 5,
    }};
    srv_start(&e->server, &e->loop, scripts, 1);
    make_llm(e, OPENAI_CONFIG, e->server.port);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "network");
    assert_string_equal(e->r.text.data, "partial ");
    assert_true(e->r.streamed);
    assert_int_equal(e->server.n_reqs, 1); /* nothing is retried after output */
}

static void test_connection_refused_is_network(void **state)
{
    env *e = *state;
    make_llm(e, OPENAI_CONFIG, 1);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "network");
    assert_non_null(strstr(e->r.message, "cannot reach p"));
}

static void test_idle_timeout(void **state)
{
    env *e = *state;
    static const script scripts[] = {{.head = SSE_HEAD, .chunked = true, .hang = true}};
    srv_start(&e->server, &e->loop, scripts, 1);
    make_llm(e, OPENAI_CONFIG, e->server.port); /* timeoutSeconds: 2 */
    uint64_t t0 = uv_now(&e->loop);
    start(e, NULL, "hi");
    run_until(e, &e->r.done, 8000);
    assert_true(e->r.done);
    assert_string_equal(e->r.kind, "timeout");
    assert_non_null(strstr(e->r.message, "timeoutSeconds"));
    if (uv_now(&e->loop) - t0 >= 6000)
        fail_msg("timed out after %llu ms", (unsigned long long)(uv_now(&e->loop) - t0));
}

static void test_cancel_closes_the_connection_at_once(void **state)
{
    env *e = *state;
    static const script scripts[] = {{
        .head = SSE_HEAD,
        .chunked = true,
        .steps = {"data: {\"choices\":[{\"delta\":{\"content\":\"first\"}}]}\n\n",
                  "data: {\"choices\":[{\"delta\":{\"content\":\"second\"}}]}\n\n", NULL},
        .step_delay = {0, 5000}, /* the second chunk would come much later */
    }};
    srv_start(&e->server, &e->loop, scripts, 1);
    make_llm(e, OPENAI_CONFIG, e->server.port);
    e->r.cancel_on_first_delta = true; /* cancelled from inside on_delta */
    e->r.loop = &e->loop;
    start(e, NULL, "hi");
    uint64_t t0 = uv_now(&e->loop);
    while (e->r.deltas == 0 && uv_now(&e->loop) - t0 < 3000)
        run_for(e, 10);
    assert_int_equal(e->r.deltas, 1);
    uint64_t cancelled_at = e->r.cancelled_at;
    while (e->server.peer_closed == 0 && uv_now(&e->loop) - cancelled_at < 2000)
        run_for(e, 10);
    assert_int_equal(e->server.peer_closed, 1);
    if (e->server.peer_closed_at - cancelled_at >= 1000)
        fail_msg("closed after %llu ms",
                 (unsigned long long)(e->server.peer_closed_at - cancelled_at));
    run_for(e, 100);
    assert_false(e->r.done); /* no on_done after a cancel */
}

/* ---- cg_http itself ---- */

typedef struct http_outcome {
    bool done;
    cg_http_result res;
    uint64_t at;
    uv_loop_t *loop;
} http_outcome;

static void http_done(cg_http_req *r, const cg_http_result *res, void *data)
{
    http_outcome *o = data;
    o->done = true;
    o->res = *res;
    o->res.error = NULL;
    o->at = uv_now(o->loop);
}

static void test_http_total_timeout(void **state)
{
    env *e = *state;
    static const script scripts[] = {{.head = SSE_HEAD, .chunked = true, .hang = true}};
    srv_start(&e->server, &e->loop, scripts, 1);
    cg_http *h = cg_http_new(&e->loop);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", e->server.port);
    cg_http_request rq = {.method = "GET", .url = url, .total_timeout_ms = 500};
    http_outcome o = {.loop = &e->loop};
    static const cg_http_callbacks cb = {.on_done = http_done};
    uint64_t t0 = uv_now(&e->loop);
    cg_http_start(h, &rq, &cb, &o);
    run_until(e, &o.done, 5000);
    assert_true(o.done);
    assert_int_equal(o.res.status, CG_HTTP_TIMEOUT);
    assert_true(o.res.connected);
    if (o.at - t0 > 2000) fail_msg("timed out after %llu ms", (unsigned long long)(o.at - t0));
    cg_http_free(h);
}

/* ---- requests that cannot start ---- */

static void test_image_to_a_text_model_is_refused(void **state)
{
    env *e = *state;
    make_llm(e, OPENAI_CONFIG, 1);
    json_t *messages = json_pack("[{s:s, s:[{s:s, s:s}, {s:s, s:s, s:s}]}]", "role", "user",
                                 "content", "type", "text", "text", "look", "type", "image",
                                 "mimeType", "image/png", "data", "iVBORw0KGgo=");
    cg_llm_request req = {.messages = messages};
    e->r.stream = cg_llm_start(e->llm, &req, &callbacks, &e->r);
    json_decref(messages);
    assert_false(e->r.done);
    assert_false(cg_llm_accepts_images(e->llm, NULL));
    run_until(e, &e->r.done, 2000);
    assert_string_equal(e->r.kind, "input");
    assert_non_null(strstr(e->r.message, "image"));
}

static void test_images_in_each_api_format(void **state)
{
    env *e = *state;
    static const script scripts[] = {
        OK_SCRIPT("a cat"),
        {.head = SSE_HEAD,
         .chunked = true,
         .steps = {"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", NULL}}};
    srv_start(&e->server, &e->loop, scripts, 2);
    make_llm(
        e,
        "{\"models\":{\"providers\":{\"p\":{\"baseUrl\":\"http://127.0.0.1:%d\",\"models\":[{"
        "\"id\":\"v\",\"input\":[\"text\",\"image\"]}]},\"a\":{\"baseUrl\":\"http://127.0.0.1:%d\","
        "\"api\":\"anthropic-messages\",\"apiKey\":\"k\",\"models\":[{\"id\":\"v\",\"input\":"
        "[\"text\",\"image\"]}]}}}}",
        e->server.port, e->server.port);
    assert_true(cg_llm_accepts_images(e->llm, "p/v"));
    json_t *messages = json_pack("[{s:s, s:[{s:s, s:s}, {s:s, s:s, s:s}]}]", "role", "user",
                                 "content", "type", "text", "text", "what is it?", "type", "image",
                                 "mimeType", "image/png", "data", "iVBORw0KGgo=");
    cg_llm_request req = {.model = "p/v", .messages = messages};
    e->r.stream = cg_llm_start(e->llm, &req, &callbacks, &e->r);
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "");
    assert_non_null(strstr(e->server.reqs[0],
                           "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,"
                           "iVBORw0KGgo=\"}}"));
    result r2 = {0};
    req.model = "a/v";
    cg_llm_start(e->llm, &req, &callbacks, &r2);
    run_until(e, &r2.done, 5000);
    assert_string_equal(r2.kind, "");
    assert_non_null(strstr(e->server.reqs[1],
                           "{\"type\":\"image\",\"source\":{\"type\":\"base64\","
                           "\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}}"));
    json_decref(messages);
    cg_buf_reset(&r2.text);
}

static void test_bad_messages_end_on_a_later_turn(void **state)
{
    env *e = *state;
    make_llm(e, OPENAI_CONFIG, 1);
    json_t *messages = json_pack("[{s:s, s:s}]", "role", "robot", "content", "x");
    cg_llm_request req = {.messages = messages};
    e->r.stream = cg_llm_start(e->llm, &req, &callbacks, &e->r);
    json_decref(messages);
    assert_false(e->r.done);
    run_until(e, &e->r.done, 2000);
    assert_string_equal(e->r.kind, "input");
}

static void test_unknown_provider_is_config(void **state)
{
    env *e = *state;
    make_llm(e, OPENAI_CONFIG, 1);
    start(e, "nope/x", "hi");
    run_until(e, &e->r.done, 2000);
    assert_string_equal(e->r.kind, "config");
    assert_non_null(strstr(e->r.message, "models.providers.nope"));
}

/* ---- offline and cli ---- */

static void test_offline_reply_when_nothing_is_configured(void **state)
{
    env *e = *state;
    make_llm(e, "{}");
    start(e, NULL, "hello?");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "");
    assert_string_equal(e->r.provider, "offline");
    assert_string_equal(e->r.text.data, cg_llm_offline_text);
    assert_true(e->r.deltas > 3);
    assert_non_null(strstr(e->r.text.data, "No model is configured"));
    json_t *catalog = cg_llm_catalog(e->llm);
    assert_int_equal(json_array_size(catalog), 1);
    json_decref(catalog);
}

#define CLI_CONFIG(cmd)                                                                            \
    "{\"models\":{\"providers\":{\"sh\":{\"api\":\"cli\",\"timeoutSeconds\":2,\"command\":" cmd    \
    "}}}}"

static void test_cli_streams_stdout(void **state)
{
    env *e = *state;
    make_llm(e, CLI_CONFIG("[\"sh\",\"-c\",\"printf 'model=%%s ' \\\"$CLAWGATE_MODEL\\\"; cat\"]"));
    start(e, NULL, "hello there");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "");
    assert_string_equal(e->r.text.data,
                        "model=default Be brief.\n\nUser: hello there\n\nAssistant:");
    assert_string_equal(e->r.stop, "stop");
}

static void test_cli_failure_has_the_stderr_tail(void **state)
{
    env *e = *state;
    make_llm(
        e, CLI_CONFIG("[\"sh\",\"-c\",\"cat >/dev/null; printf partial; echo boom >&2; exit 3\"]"));
    start(e, NULL, "x");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "server");
    assert_non_null(strstr(e->r.message, "status 3"));
    assert_non_null(strstr(e->r.message, "boom"));
    assert_string_equal(e->r.text.data, "partial");
    assert_true(e->r.streamed);
}

static void test_cli_missing_program_is_config(void **state)
{
    env *e = *state;
    make_llm(e, CLI_CONFIG("[\"/nonexistent/clawgate-model\"]"));
    start(e, NULL, "x");
    run_until(e, &e->r.done, 5000);
    assert_string_equal(e->r.kind, "config");
    assert_non_null(strstr(e->r.message, "models.providers.sh.command"));
}

static void test_cli_cancel_kills_the_child(void **state)
{
    env *e = *state;
    char pidfile[] = "/tmp/clawgate-llm-pid-XXXXXX";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    char config[1024];
    snprintf(config, sizeof config,
             CLI_CONFIG("[\"sh\",\"-c\",\"echo $$ > %s; echo started; exec sleep 30\"]"), pidfile);
    make_llm(e, "%s", config);
    e->r.cancel_on_first_delta = true;
    start(e, NULL, "x");
    uint64_t t0 = uv_now(&e->loop);
    while (e->r.deltas == 0 && uv_now(&e->loop) - t0 < 3000)
        run_for(e, 20);
    assert_int_equal(e->r.deltas, 1);
    run_for(e, 300);
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    int pid = 0;
    assert_int_equal(fscanf(f, "%d", &pid), 1);
    fclose(f);
    unlink(pidfile);
    assert_true(kill(pid, 0) != 0 && errno == ESRCH); /* killed and reaped */
    assert_false(e->r.done);
}

static void test_cli_idle_timeout(void **state)
{
    env *e = *state;
    make_llm(e, CLI_CONFIG("[\"sleep\",\"30\"]"));
    start(e, NULL, "x");
    run_until(e, &e->r.done, 6000);
    assert_string_equal(e->r.kind, "timeout");
}

/* ---- reconfiguration ---- */

static void test_configure_applies_to_the_next_stream(void **state)
{
    env *e = *state;
    make_llm(e, "{}");
    json_t *doc = json_loads(CLI_CONFIG("[\"sh\",\"-c\",\"cat >/dev/null; printf new\"]"), 0, NULL);
    json_t *issues = json_array();
    start(e, NULL, "old"); /* offline, started before the change */
    cg_llm_configure(e->llm, doc, issues);
    assert_int_equal(json_array_size(issues), 0);
    result r2 = {0};
    json_t *messages = json_pack("[{s:s, s:s}]", "role", "user", "content", "x");
    cg_llm_request req = {.messages = messages};
    cg_llm_start(e->llm, &req, &callbacks, &r2);
    run_until(e, &e->r.done, 5000);
    run_until(e, &r2.done, 5000);
    assert_string_equal(e->r.provider, "offline");
    assert_string_equal(r2.text.data, "new");
    json_decref(messages);
    json_decref(issues);
    json_decref(doc);
    cg_buf_reset(&r2.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_openai_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_openai_json_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tool_call_ends_the_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anthropic_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anthropic_error_event_before_text_is_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_429_then_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_5xx_retried_three_times_then_server_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_past_the_window_is_not_waited_for, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_401_is_auth_and_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_model_failing_reports_the_primary, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cut_mid_stream_keeps_the_partial_text, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused_is_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_closes_the_connection_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_total_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_to_a_text_model_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_images_in_each_api_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_messages_end_on_a_later_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_provider_is_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_reply_when_nothing_is_configured, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cli_streams_stdout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_failure_has_the_stderr_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_missing_program_is_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_cancel_kills_the_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_configure_applies_to_the_next_stream, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
