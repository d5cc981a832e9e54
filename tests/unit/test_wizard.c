/* Unit tests of the onboarding wizard's engine (wizard/wizard.c), driven step by step on
 * a real configuration in a temporary state dir, with a local model provider: a small
 * HTTP server on the same loop that lists two models for the key "good-key" and answers
 * 401 to any other. They show: the steps and their shapes, validation errors asking
 * the same step again, a refused key and an unreachable provider asked again, the model
 * list feeding the model step, cancel / a declined confirm / an idle timeout / a
 * session freed midway writing nothing (the file byte-for-byte as before), and a full
 * walk writing OpenClaw's keys once, merged into the existing file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common/util.h"
#include "config/config.h"
#include "wizard/wizard.h"

#define EXISTING                                                                                   \
    "{\"gateway\": {\"auth\": {\"mode\": \"none\"}}, \"custom\": {\"keep\": [1, 2]}, "             \
    "\"models\": {\"providers\": {\"other\": {\"baseUrl\": \"http://127.0.0.1:9/v1\", "            \
    "\"api\": \"openai-completions\", \"models\": [{\"id\": \"o1\", \"name\": \"O1\"}]}}}}\n"

/* ---- the local provider ---- */

typedef struct provider {
    uv_tcp_t server;
    int port;
    int requests;
    char last_request[4096];
} provider;

typedef struct exchange {
    uv_tcp_t tcp;
    provider *p;
    char buf[4096];
    size_t len;
    uv_write_t write;
    char *response;
} exchange;

static void on_exchange_closed(uv_handle_t *h)
{
    exchange *x = h->data;
    free(x->response);
    free(x);
}

static void on_written(uv_write_t *wr, int status)
{
    exchange *x = wr->data;
    uv_close((uv_handle_t *)&x->tcp, on_exchange_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    exchange *x = h->data;
    *buf = uv_buf_init(x->buf + x->len, (unsigned)(sizeof x->buf - 1 - x->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    exchange *x = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_exchange_closed);
        return;
    }
    x->len += (size_t)n;
    x->buf[x->len] = 0;
    if (!strstr(x->buf, "\r\n\r\n")) return;
    uv_read_stop(s);
    x->p->requests++;
    snprintf(x->p->last_request, sizeof x->p->last_request, "%s", x->buf);
    bool good = strstr(x->buf, "Bearer good-key\r\n") || strstr(x->buf, "x-api-key: good-key\r\n");
    /* "Bearer accented-key": a refusal whose message is 1 + 2 x 300 bytes of UTF-8. */
    char accented[700] = "{\"error\":{\"message\":\"a";
    for (int i = 0; i < 300; i++)
        strcat(accented, "\xC3\xA9");
    strcat(accented, "\"}}");
    const char *body = good ? "{\"object\":\"list\",\"data\":[{\"id\":\"m-alpha\"},{\"id\":"
                              "\"m-beta\"},{\"nope\":1}]}"
                       : strstr(x->buf, "Bearer accented-key\r\n")
                           ? accented
                           : "{\"error\":{\"message\":\"Incorrect API key provided\"}}";
    size_t cap = strlen(body) + 256;
    x->response = cg_xmalloc(cap);
    snprintf(x->response, cap,
             "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             good ? "200 OK" : "401 Unauthorized", strlen(body), body);
    uv_buf_t out = uv_buf_init(x->response, (unsigned)strlen(x->response));
    x->write.data = x;
    uv_write(&x->write, s, &out, 1, on_written);
}

static void on_connection(uv_stream_t *server, int status)
{
    provider *p = server->data;
    exchange *x = cg_xcalloc(1, sizeof *x);
    x->p = p;
    uv_tcp_init(server->loop, &x->tcp);
    x->tcp.data = x;
    if (uv_accept(server, (uv_stream_t *)&x->tcp) == 0)
        uv_read_start((uv_stream_t *)&x->tcp, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)&x->tcp, on_exchange_closed);
}

static void provider_start(provider *p, uv_loop_t *loop)
{
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &p->server);
    p->server.data = p;
    assert_int_equal(uv_tcp_bind(&p->server, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&p->server, 16, on_connection), 0);
    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&p->server, (struct sockaddr *)&bound, &len);
    p->port = ntohs(bound.sin_port);
}

/* ---- the fixture ---- */

typedef struct fixture {
    char dir[64];
    char path[128];
    uv_loop_t loop;
    cg_config *cfg;
    cg_http *http;
    provider provider;
    int updates;
} fixture;

static void count_update(cg_wizard *w, void *data)
{
    fixture *f = data;
    f->updates++;
}

static char *file_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return cg_strdup(buf);
}

static int setup(void **state)
{
    fixture *f = cg_xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cg-wizard-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/clawgate.json", f->dir);
    assert_int_equal(cg_write_file_atomic(f->path, EXISTING, strlen(EXISTING), 0600), 0);
    uv_loop_init(&f->loop);
    cg_overrides ov = {.state_dir = f->dir};
    char err[256];
    f->cfg = cg_config_new(&ov, err, sizeof err);
    assert_non_null(f->cfg);
    assert_int_equal(cg_config_read(f->cfg, err, sizeof err), 0);
    f->http = cg_http_new(&f->loop);
    provider_start(&f->provider, &f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_http_free(f->http);
    uv_close((uv_handle_t *)&f->provider.server, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    cg_config_free(f->cfg);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static cg_wizard *start(fixture *f, uint64_t idle_timeout_ms)
{
    cg_wizard_options opt = {.loop = &f->loop,
                             .cfg = f->cfg,
                             .http = f->http,
                             .idle_timeout_ms = idle_timeout_ms,
                             .on_update = count_update,
                             .data = f};
    return cg_wizard_new(&opt);
}

/* Runs the loop until the session is no longer busy. */
static void settle(fixture *f, cg_wizard *w)
{
    for (int i = 0; i < 100000 && cg_wizard_busy(w); i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_false(cg_wizard_busy(w));
}

static const char *step_id(cg_wizard *w)
{
    static char id[64];
    json_t *step = cg_wizard_step(w);
    assert_non_null(step);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(step, "id")));
    json_decref(step);
    return id;
}

/* Answers the current step, which must be `id`, and waits for the session. */
static void answer(fixture *f, cg_wizard *w, const char *id, json_t *value)
{
    assert_string_equal(step_id(w), id);
    char err[256];
    int rc = cg_wizard_answer(w, id, value, err, sizeof err);
    json_decref(value);
    assert_int_equal(rc, 0);
    settle(f, w);
}

static void base_url(fixture *f, char *out, size_t len)
{
    snprintf(out, len, "http://127.0.0.1:%d/v1/", f->provider.port);
}

/* Walks an OpenAI-compatible setup up to the confirm step. */
static void walk_to_confirm(fixture *f, cg_wizard *w)
{
    char url[64];
    base_url(f, url, sizeof url);
    answer(f, w, "auth-mode", json_string("password"));
    answer(f, w, "auth-password", json_string("a long password"));
    answer(f, w, "model-provider", json_string("openai-compatible"));
    answer(f, w, "model-base-url", json_string(url));
    answer(f, w, "model-api-key", json_string("good-key"));
    answer(f, w, "model-default", json_string("m-beta"));
    answer(f, w, "workspace", json_string("/srv/work"));
    answer(f, w, "agent-id", json_string(""));
    answer(f, w, "agent-name", json_string(""));
    assert_string_equal(step_id(w), "confirm");
}

static void assert_unchanged(fixture *f)
{
    char *text = file_text(f->path);
    assert_string_equal(text, EXISTING);
    free(text);
}

/* ---- tests ---- */

static void test_steps_and_shapes(void **state)
{
    fixture *f = *state;
    cg_wizard *w = start(f, 0);
    json_t *result = cg_wizard_result(w);
    assert_false(json_is_true(json_object_get(result, "done")));
    assert_string_equal(json_string_value(json_object_get(result, "status")), "running");
    json_t *step = json_object_get(result, "step");
    assert_string_equal(json_string_value(json_object_get(step, "type")), "select");
    assert_string_equal(json_string_value(json_object_get(step, "initialValue")), "none");
    assert_int_equal(json_array_size(json_object_get(step, "options")), 3);
    json_decref(result);

    answer(f, w, "auth-mode", json_string("token"));
    step = cg_wizard_step(w);
    assert_string_equal(json_string_value(json_object_get(step, "id")), "auth-token");
    assert_true(json_is_true(json_object_get(step, "sensitive")));
    json_decref(step);
    answer(f, w, "auth-token", json_string("")); /* generated */
    answer(f, w, "model-provider", json_string("openai-compatible"));
    char url[64];
    base_url(f, url, sizeof url);
    answer(f, w, "model-base-url", json_string(url));
    step = cg_wizard_step(w);
    assert_string_equal(json_string_value(json_object_get(step, "id")), "model-api-key");
    assert_true(json_is_true(json_object_get(step, "sensitive")));
    json_decref(step);
    answer(f, w, "model-api-key", json_string("good-key"));
    assert_int_equal(f->provider.requests, 1);
    assert_non_null(strstr(f->provider.last_request, "GET /v1/models HTTP/1.1"));
    step = cg_wizard_step(w);
    assert_string_equal(json_string_value(json_object_get(step, "id")), "model-default");
    json_t *options = json_object_get(step, "options");
    assert_int_equal(json_array_size(options), 2); /* the entry without an id is skipped */
    assert_string_equal(json_string_value(json_object_get(json_array_get(options, 1), "value")),
                        "m-beta");
    json_decref(step);
    answer(f, w, "model-default", json_string("m-alpha"));
    step = cg_wizard_step(w);
    char expected[128];
    snprintf(expected, sizeof expected, "%s/workspace", f->dir);
    assert_string_equal(json_string_value(json_object_get(step, "initialValue")), expected);
    json_decref(step);
    answer(f, w, "workspace", json_string(""));
    answer(f, w, "agent-id", json_string("main"));
    answer(f, w, "agent-name", json_string(""));
    step = cg_wizard_step(w);
    assert_string_equal(json_string_value(json_object_get(step, "type")), "confirm");
    const char *message = json_string_value(json_object_get(step, "message"));
    assert_non_null(strstr(message, "generated token: "));
    assert_non_null(strstr(message, "Default model: custom/m-alpha"));
    assert_null(strstr(message, "good-key")); /* the key is masked */
    json_decref(step);
    cg_wizard_free(w);
    assert_unchanged(f);
}

static void test_validation_asks_again(void **state)
{
    fixture *f = *state;
    cg_wizard *w = start(f, 0);
    char err[256];
    /* Not the current step: refused, nothing moves. */
    json_t *v = json_string("token");
    assert_int_equal(cg_wizard_answer(w, "model-provider", v, err, sizeof err), -1);
    assert_non_null(strstr(err, "no pending step"));
    json_decref(v);

    answer(f, w, "auth-mode", json_string("trusted-proxy"));
    assert_string_equal(step_id(w), "auth-mode");
    assert_string_equal(cg_wizard_answer_error(w), "Pick one of the options.");
    json_t *result = cg_wizard_result(w);
    assert_string_equal(json_string_value(json_object_get(result, "error")),
                        "Pick one of the options.");
    const char *message =
        json_string_value(json_object_get(json_object_get(result, "step"), "message"));
    assert_non_null(strstr(message, "Pick one of the options."));
    json_decref(result);

    answer(f, w, "auth-mode", json_string("token"));
    assert_null(cg_wizard_answer_error(w));
    answer(f, w, "auth-token", json_string("short"));
    assert_string_equal(step_id(w), "auth-token");
    assert_non_null(strstr(cg_wizard_answer_error(w), "at least 8"));
    answer(f, w, "auth-token", json_pack("{}"));
    assert_string_equal(cg_wizard_answer_error(w), "The answer must be text.");
    answer(f, w, "auth-token", json_string("long-enough-token"));
    answer(f, w, "model-provider", json_string("openai-compatible"));
    answer(f, w, "model-base-url", json_string("ftp://example.com"));
    assert_string_equal(step_id(w), "model-base-url");
    char url[64];
    base_url(f, url, sizeof url);
    answer(f, w, "model-base-url", json_string(url));
    answer(f, w, "model-api-key", json_string("good-key"));
    answer(f, w, "model-default", json_string("not-listed"));
    assert_string_equal(step_id(w), "model-default");
    answer(f, w, "model-default", json_string("m-alpha"));
    answer(f, w, "workspace", json_string("relative/dir"));
    assert_string_equal(step_id(w), "workspace");
    answer(f, w, "workspace", json_string("~/work"));
    answer(f, w, "agent-id", json_string("!!!"));
    assert_string_equal(step_id(w), "agent-id");
    answer(f, w, "agent-id", json_string("main"));
    answer(f, w, "agent-name", json_string(""));
    answer(f, w, "confirm", json_string("yes"));
    assert_string_equal(step_id(w), "confirm");
    assert_int_equal(cg_wizard_status_of(w), CG_WIZARD_RUNNING);
    cg_wizard_free(w);
    assert_unchanged(f);
}

static void test_bad_key_and_unreachable_provider_ask_again(void **state)
{
    fixture *f = *state;
    cg_wizard *w = start(f, 0);
    answer(f, w, "auth-mode", json_string("none"));
    answer(f, w, "model-provider", json_string("openai-compatible"));
    /* A port nothing listens on: the check says so and the key is asked again. */
    uv_tcp_t probe;
    uv_tcp_init(&f->loop, &probe);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(&probe, (const struct sockaddr *)&addr, 0);
    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&probe, (struct sockaddr *)&bound, &len);
    uv_close((uv_handle_t *)&probe, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(bound.sin_port));
    answer(f, w, "model-base-url", json_string(url));
    int updates = f->updates;
    answer(f, w, "model-api-key", json_string("good-key"));
    assert_int_equal(f->updates, updates + 1);
    assert_string_equal(step_id(w), "model-api-key");
    assert_non_null(strstr(cg_wizard_answer_error(w), "could not be reached"));
    cg_wizard_free(w);

    /* A refused key: the provider's words, asked again; the good one goes on. */
    w = start(f, 0);
    answer(f, w, "auth-mode", json_string("none"));
    answer(f, w, "model-provider", json_string("openai-compatible"));
    base_url(f, url, sizeof url);
    answer(f, w, "model-base-url", json_string(url));
    answer(f, w, "model-api-key", json_string("bad-key"));
    assert_string_equal(step_id(w), "model-api-key");
    assert_string_equal(cg_wizard_answer_error(w),
                        "The provider refused the key (HTTP 401: Incorrect API key provided).");
    assert_non_null(strstr(f->provider.last_request, "Authorization: Bearer bad-key"));
    /* A long non-ASCII refusal is cut on a character boundary: the step still carries
     * its message and the result its error (jansson refuses a cut UTF-8 sequence). */
    answer(f, w, "model-api-key", json_string("accented-key"));
    assert_string_equal(step_id(w), "model-api-key");
    assert_non_null(
        strstr(cg_wizard_answer_error(w), "The provider refused the key (HTTP 401: a\xC3\xA9"));
    json_t *result = cg_wizard_result(w);
    assert_true(json_is_string(json_object_get(result, "error")));
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(result, "step"), "message")),
               "The provider refused the key"));
    json_decref(result);
    answer(f, w, "model-api-key", json_string("good-key"));
    assert_string_equal(step_id(w), "model-default");
    cg_wizard_free(w);
    assert_unchanged(f);
}

static void test_full_walk_writes_once_and_merges(void **state)
{
    fixture *f = *state;
    cg_wizard *w = start(f, 0);
    char url[64];
    base_url(f, url, sizeof url);
    answer(f, w, "auth-mode", json_string("token"));
    answer(f, w, "auth-token", json_string("tok-entered-1234"));
    answer(f, w, "model-provider", json_string("openai-compatible"));
    answer(f, w, "model-base-url", json_string(url));
    answer(f, w, "model-api-key", json_string("good-key"));
    answer(f, w, "model-default", json_string("m-beta"));
    answer(f, w, "workspace", json_string("/srv/ops"));
    answer(f, w, "agent-id", json_string("Ops"));
    answer(f, w, "agent-name", json_string("Operations"));
    assert_unchanged(f); /* nothing before the confirm */
    answer(f, w, "confirm", json_true());
    assert_int_equal(cg_wizard_status_of(w), CG_WIZARD_DONE);
    json_t *result = cg_wizard_result(w);
    assert_true(json_is_true(json_object_get(result, "done")));
    assert_string_equal(json_string_value(json_object_get(result, "status")), "done");
    assert_null(json_object_get(result, "step"));
    json_decref(result);
    cg_wizard_free(w);

    json_t *doc = json_load_file(f->path, 0, NULL);
    assert_non_null(doc);
    json_t *expected = json_loads(
        "{\"gateway\": {\"auth\": {\"mode\": \"token\", \"token\": \"tok-entered-1234\"}},"
        " \"custom\": {\"keep\": [1, 2]},"
        " \"models\": {\"providers\": {"
        "   \"other\": {\"baseUrl\": \"http://127.0.0.1:9/v1\", \"api\": \"openai-completions\","
        "               \"models\": [{\"id\": \"o1\", \"name\": \"O1\"}]},"
        "   \"custom\": {\"baseUrl\": \"URL\", \"api\": \"openai-completions\","
        "                \"apiKey\": \"good-key\","
        "                \"models\": [{\"id\": \"m-beta\", \"name\": \"m-beta\"}]}}},"
        " \"agents\": {\"defaults\": {\"model\": {\"primary\": \"custom/m-beta\"}},"
        "   \"entries\": {\"ops\": {\"workspace\": \"/srv/ops\", \"name\": \"Operations\"}}}}",
        0, NULL);
    char trimmed[64];
    snprintf(trimmed, sizeof trimmed, "http://127.0.0.1:%d/v1", f->provider.port);
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(expected, "models"), "providers"),
                        "custom"),
        "baseUrl", json_string(trimmed));
    if (!json_equal(doc, expected)) {
        char *got = json_dumps(doc, JSON_SORT_KEYS);
        fail_msg("written config: %s", got);
    }
    json_decref(expected);
    json_decref(doc);
    /* The store installed it: the running settings follow at once. */
    assert_int_equal(cg_config_settings(f->cfg)->auth_mode, CG_AUTH_TOKEN);
    assert_string_equal(cg_config_settings(f->cfg)->token, "tok-entered-1234");
    /* Written atomically: no temp file left beside it. */
    char cmd[160];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", f->dir);
    assert_int_equal(system(cmd), 0);
}

static void test_anthropic_key_check(void **state)
{
    fixture *f = *state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f->provider.port);
    setenv("ANTHROPIC_BASE_URL", url, 1);
    cg_wizard *w = start(f, 0);
    answer(f, w, "auth-mode", json_string("none"));
    answer(f, w, "model-provider", json_string("anthropic"));
    answer(f, w, "model-api-key", json_string("good-key"));
    unsetenv("ANTHROPIC_BASE_URL");
    assert_non_null(strstr(f->provider.last_request, "GET /v1/models HTTP/1.1"));
    assert_non_null(strstr(f->provider.last_request, "x-api-key: good-key"));
    assert_non_null(strstr(f->provider.last_request, "anthropic-version: "));
    answer(f, w, "model-default", json_string("m-alpha"));
    answer(f, w, "workspace", json_string("/srv/a"));
    answer(f, w, "agent-id", json_string("main"));
    answer(f, w, "agent-name", json_string(""));
    answer(f, w, "confirm", json_true());
    assert_int_equal(cg_wizard_status_of(w), CG_WIZARD_DONE);
    cg_wizard_free(w);
    json_t *doc = json_load_file(f->path, 0, NULL);
    json_t *p =
        json_object_get(json_object_get(json_object_get(doc, "models"), "providers"), "anthropic");
    assert_string_equal(json_string_value(json_object_get(p, "api")), "anthropic-messages");
    assert_string_equal(json_string_value(json_object_get(p, "apiKey")), "good-key");
    json_t *agents = json_object_get(doc, "agents");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(agents, "defaults"), "workspace")),
        "/srv/a");
    assert_null(json_object_get(agents, "entries"));
    json_decref(doc);
}

static void test_cancel_writes_nothing(void **state)
{
    fixture *f = *state;
    cg_wizard *w = start(f, 0);
    walk_to_confirm(f, w);
    assert_true(cg_wizard_cancel(w));
    assert_int_equal(cg_wizard_status_of(w), CG_WIZARD_CANCELLED);
    assert_string_equal(cg_wizard_error(w), "cancelled");
    assert_false(cg_wizard_cancel(w));
    char err[256];
    json_t *v = json_true();
    assert_int_equal(cg_wizard_answer(w, "confirm", v, err, sizeof err), -1);
    assert_string_equal(err, "wizard not running");
    json_decref(v);
    cg_wizard_free(w);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_unchanged(f);

    /* Declining the confirm is a cancel too. */
    w = start(f, 0);
    walk_to_confirm(f, w);
    answer(f, w, "confirm", json_false());
    assert_int_equal(cg_wizard_status_of(w), CG_WIZARD_CANCELLED);
    cg_wizard_free(w);
    assert_unchanged(f);

    /* A session dropped during its key check: no callback, nothing written. */
    w = start(f, 0);
    answer(f, w, "auth-mode", json_string("none"));
    answer(f, w, "model-provider", json_string("openai-compatible"));
    char url[64];
    base_url(f, url, sizeof url);
    answer(f, w, "model-base-url", json_string(url));
    v = json_string("good-key");
    assert_int_equal(cg_wizard_answer(w, "model-api-key", v, err, sizeof err), 0);
    json_decref(v);
    assert_true(cg_wizard_busy(w));
    assert_null(cg_wizard_step(w));
    int updates = f->updates;
    cg_wizard_free(w);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->updates, updates);
    assert_unchanged(f);
}

/* A session freed while its write is in flight: the write completes (it is past its
 * commit point), then the session goes, without a callback. */
static void test_free_during_write(void **state)
{
    fixture *f = *state;
    cg_wizard *w = start(f, 60000);
    walk_to_confirm(f, w);
    char err[256];
    json_t *yes = json_true();
    assert_int_equal(cg_wizard_answer(w, "confirm", yes, err, sizeof err), 0);
    json_decref(yes);
    assert_true(cg_wizard_busy(w));
    assert_false(cg_wizard_cancel(w)); /* past the commit point */
    int updates = f->updates;
    cg_wizard_free(w);
    for (int i = 0; i < 1000 && cg_config_settings(f->cfg)->auth_mode != CG_AUTH_PASSWORD; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->updates, updates);
    json_t *doc = json_load_file(f->path, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(doc, "gateway"), "auth"), "password")),
                        "a long password");
    json_decref(doc);
}

static void test_idle_timeout_writes_nothing(void **state)
{
    fixture *f = *state;
    cg_wizard *w = start(f, 100);
    walk_to_confirm(f, w);
    int updates = f->updates;
    /* Bounded: with no timer armed the loop has nothing to wait for and returns at once. */
    for (int i = 0; i < 1000 && cg_wizard_status_of(w) == CG_WIZARD_RUNNING; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->updates, updates + 1);
    assert_int_equal(cg_wizard_status_of(w), CG_WIZARD_CANCELLED);
    assert_non_null(strstr(cg_wizard_error(w), "expired"));
    json_t *result = cg_wizard_result(w);
    assert_true(json_is_true(json_object_get(result, "done")));
    assert_string_equal(json_string_value(json_object_get(result, "status")), "cancelled");
    json_decref(result);
    cg_wizard_free(w);
    assert_unchanged(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_steps_and_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_asks_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_and_unreachable_provider_ask_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_walk_writes_once_and_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anthropic_key_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_during_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout_writes_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
