/* Model providers without a loop: the SSE parser, the configuration (providers, keys,
 * the default chain, issues naming keys, providers from the environment), the retry
 * decision, error kinds and texts, UTF-8 cleaning, request bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/llm_internal.h"

/* ---- SSE ---- */

typedef struct events {
    char log[4096];
    int n;
    int stop_at;
} events;

static int record(const char *event, const char *data, size_t len, void *ud)
{
    events *e = ud;
    size_t used = strlen(e->log);
    snprintf(e->log + used, sizeof e->log - used, "[%s|%.*s]", event, (int)len, data);
    e->n++;
    return e->stop_at && e->n == e->stop_at ? 7 : 0;
}

static void feed_all(const char *text, size_t piece, events *e)
{
    cg_sse p;
    cg_sse_init(&p, 1024);
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i += piece) {
        size_t n = len - i < piece ? len - i : piece;
        assert_int_equal(cg_sse_feed(&p, text + i, n, record, e), 0);
    }
    cg_sse_reset(&p);
}

static void test_sse_split_anywhere(void **state)
{
    const char *text = "\xEF\xBB\xBF: comment\n"
                       "event: a\ndata: one\n\n"
                       "data: two\r\ndata:  three\r\n\r\n"
                       "id: 5\nretry: 10\ndata\n\n"
                       "event: b\rdata: four\r\r"
                       "data: not dispatched without a blank line\n";
    const char *want = "[a|one][message|two\n three][message|][b|four]";
    for (size_t piece = 1; piece <= strlen(text); piece++) {
        events e = {.n = 0};
        feed_all(text, piece, &e);
        if (strcmp(e.log, want)) fail_msg("piece %zu: %s", piece, e.log);
    }
}

static void test_sse_bounds_and_stop(void **state)
{
    cg_sse p;
    cg_sse_init(&p, 16);
    events e = {.n = 0};
    assert_int_equal(cg_sse_feed(&p, "data: 0123456789abcdef", 22, record, &e), CG_SSE_TOO_LONG);
    cg_sse_reset(&p);
    cg_sse_init(&p, 16);
    assert_int_equal(cg_sse_feed(&p, "data: 0123456789", 16, record, &e), 0);
    assert_int_equal(cg_sse_feed(&p, "abcdef\n", 7, record, &e), CG_SSE_TOO_LONG);
    cg_sse_reset(&p);
    /* data lines joined past the bound */
    cg_sse_init(&p, 16);
    assert_int_equal(cg_sse_feed(&p, "data: 0123456789\ndata: 0123456789\n", 34, record, &e),
                     CG_SSE_TOO_LONG);
    cg_sse_reset(&p);
    cg_sse_init(&p, 1024);
    events s = {.stop_at = 1};
    assert_int_equal(cg_sse_feed(&p, "data: a\n\ndata: b\n\n", 18, record, &s), 7);
    assert_int_equal(s.n, 1);
    cg_sse_reset(&p);
}

/* ---- configuration ---- */

static cg_llm_conf *build(const char *text, json_t **issues_out)
{
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    if (!doc) fail_msg("bad test json: %s", err.text);
    json_t *issues = json_array();
    cg_llm_conf *c = cg_llm_conf_build(doc, issues);
    json_decref(doc);
    if (issues_out)
        *issues_out = issues;
    else
        json_decref(issues);
    return c;
}

static bool has_issue(const json_t *issues, const char *path, const char *part)
{
    size_t i;
    const json_t *issue;
    json_array_foreach(issues, i, issue)
    {
        const char *p = json_string_value(json_object_get(issue, "path"));
        const char *m = json_string_value(json_object_get(issue, "message"));
        if (!strcmp(p, path) && strstr(m, part)) return true;
    }
    return false;
}

static int clean_env(void **state)
{
    unsetenv("OPENAI_API_KEY");
    unsetenv("OPENAI_BASE_URL");
    unsetenv("ANTHROPIC_API_KEY");
    unsetenv("ANTHROPIC_BASE_URL");
    unsetenv("TEST_LLM_KEY");
    return 0;
}

static void test_nothing_configured_is_offline(void **state)
{
    cg_llm_conf *c = build("{}", NULL);
    assert_true(c->offline);
    assert_int_equal(c->chain_len, 1);
    assert_string_equal(c->chain[0], "offline/offline");
    cg_llm_conf_unref(c);
}

static void test_providers_keys_and_chain(void **state)
{
    setenv("TEST_LLM_KEY", "from-env", 1);
    json_t *issues;
    cg_llm_conf *c =
        build("{\"models\":{\"providers\":{"
              "\"o\":{\"baseUrl\":\"http://h:1/v1/\",\"apiKey\":\"k1\",\"headers\":{\"X-A\":\"b\"},"
              "\"models\":[{\"id\":\"m\",\"name\":\"M\",\"contextWindow\":100,\"input\":[\"text\","
              "\"image\"]}]},"
              "\"a\":{\"api\":\"anthropic-messages\",\"apiKey\":{\"source\":\"env\",\"id\":\"TEST_"
              "LLM_KEY\"},"
              "\"models\":[{\"id\":\"c\"}]},"
              "\"cli\":{\"api\":\"cli\",\"command\":[\"ollama\",\"run\",\"x\"]}}},"
              "\"agents\":{\"defaults\":{\"model\":{\"primary\":\"a/c\",\"fallbacks\":[\"o/"
              "m\",\"c\",\"a/c\"]}}}}",
              &issues);
    assert_int_equal(json_array_size(issues), 0);
    assert_false(c->offline);
    assert_int_equal(c->n_providers, 3);
    const cg_llm_provider *o = cg_llm_conf_provider(c, "o");
    assert_int_equal(o->api, CG_LLM_API_OPENAI);
    assert_string_equal(o->base_url, "http://h:1/v1");
    assert_string_equal(o->api_key, "k1");
    assert_true(o->key_in_config);
    assert_string_equal(o->headers[0], "X-A: b");
    assert_true(o->models[0].images);
    assert_int_equal(o->models[0].context_window, 100);
    const cg_llm_provider *a = cg_llm_conf_provider(c, "a");
    assert_int_equal(a->api, CG_LLM_API_ANTHROPIC);
    assert_string_equal(a->base_url, "https://api.anthropic.com");
    assert_string_equal(a->api_key, "from-env");
    assert_string_equal(a->api_key_env, "TEST_LLM_KEY");
    const cg_llm_provider *cli = cg_llm_conf_provider(c, "cli");
    assert_int_equal(cli->api, CG_LLM_API_CLI);
    assert_string_equal(cli->command[2], "x");
    assert_null(cli->command[3]);
    /* primary, then fallbacks without repeats; a bare id one provider lists is kept */
    assert_int_equal(c->chain_len, 3);
    assert_string_equal(c->chain[0], "a/c");
    assert_string_equal(c->chain[1], "o/m");
    assert_string_equal(c->chain[2], "c");
    const cg_llm_provider *p;
    const cg_llm_model *m;
    const char *id;
    char err[256];
    assert_int_equal(cg_llm_conf_resolve(c, "c", &p, &id, &m, err, sizeof err), 0);
    assert_string_equal(p->id, "a");
    assert_int_equal(cg_llm_conf_resolve(c, "o/unlisted/x", &p, &id, &m, err, sizeof err), 0);
    assert_string_equal(id, "unlisted/x");
    assert_null(m);
    json_decref(issues);
    cg_llm_conf_unref(c);
}

static void test_issues_name_the_key(void **state)
{
    json_t *issues;
    cg_llm_conf *c =
        build("{\"models\":{\"providers\":{"
              "\"r\":{\"baseUrl\":\"http://h\",\"api\":\"openai-responses\"},"
              "\"w\":{\"baseUrl\":\"http://h\",\"api\":\"whatever\"},"
              "\"nocmd\":{\"api\":\"cli\"},"
              "\"nourl\":{\"models\":[{\"id\":\"x\"}]},"
              "\"ftp\":{\"baseUrl\":\"ftp://h\"},"
              "\"ref\":{\"baseUrl\":\"http://h\",\"apiKey\":{\"source\":\"file\",\"id\":\"/k\"}},"
              "\"m\":{\"baseUrl\":\"http://h\",\"models\":[{\"name\":\"no id\"}]}}},"
              "\"agents\":{\"defaults\":{\"model\":\"ghost/x\"}}}",
              &issues);
    assert_true(has_issue(issues, "models.providers.r.api", "not supported by clawgate"));
    assert_true(has_issue(issues, "models.providers.w.api", "unknown api"));
    assert_true(has_issue(issues, "models.providers.nocmd.command", "needs command"));
    assert_true(has_issue(issues, "models.providers.nourl.baseUrl", "required"));
    assert_true(has_issue(issues, "models.providers.ftp.baseUrl", "http"));
    assert_true(has_issue(issues, "models.providers.ref.apiKey", "source"));
    assert_true(has_issue(issues, "models.providers.m.models.0", "id"));
    assert_true(has_issue(issues, "agents.defaults.model", "models.providers.ghost"));
    json_decref(issues);
    cg_llm_conf_unref(c);
}

static void test_environment_providers(void **state)
{
    setenv("OPENAI_API_KEY", "sk-o", 1);
    setenv("OPENAI_BASE_URL", "http://proxy:8/v1/", 1);
    setenv("ANTHROPIC_API_KEY", "sk-a", 1);
    cg_llm_conf *c = build("{}", NULL);
    assert_false(c->offline);
    const cg_llm_provider *o = cg_llm_conf_provider(c, "openai");
    assert_non_null(o);
    assert_true(o->automatic);
    assert_string_equal(o->base_url, "http://proxy:8/v1");
    assert_string_equal(o->api_key, "sk-o");
    assert_string_equal(o->models[0].id, CG_LLM_OPENAI_DEFAULT_MODEL);
    const cg_llm_provider *a = cg_llm_conf_provider(c, "anthropic");
    assert_string_equal(a->base_url, CG_LLM_ANTHROPIC_DEFAULT_BASE);
    assert_string_equal(c->chain[0], "openai/" CG_LLM_OPENAI_DEFAULT_MODEL);
    cg_llm_conf_unref(c);
    /* A configured openai without a key takes the variable's. */
    c = build("{\"models\":{\"providers\":{\"openai\":{\"models\":[{\"id\":\"g\"}]}}}}", NULL);
    o = cg_llm_conf_provider(c, "openai");
    assert_false(o->automatic);
    assert_string_equal(o->api_key, "sk-o");
    assert_string_equal(o->api_key_env, "OPENAI_API_KEY");
    assert_string_equal(c->chain[0], "openai/g");
    assert_non_null(cg_llm_conf_provider(c, "anthropic")); /* still from the environment */
    cg_llm_conf_unref(c);
    clean_env(NULL);
    /* Without the variable, openai needs a key it does not have. */
    c = build("{\"models\":{\"providers\":{\"openai\":{\"models\":[{\"id\":\"g\"}]}}}}", NULL);
    o = cg_llm_conf_provider(c, "openai");
    assert_true(o->needs_key);
    assert_null(o->api_key);
    cg_llm_conf_unref(c);
}

/* ---- retries and errors ---- */

static void test_retry_decisions(void **state)
{
    int64_t now = 1700000000000;
    assert_int_equal(cg_llm_retry_delay_ms(429, NULL, NULL, 0, 0, now), 1000);
    assert_int_equal(cg_llm_retry_delay_ms(503, NULL, NULL, 1, 1000, now), 2000);
    assert_int_equal(cg_llm_retry_delay_ms(500, NULL, NULL, 2, 3000, now), 4000);
    assert_int_equal(cg_llm_retry_delay_ms(500, NULL, NULL, 3, 7000, now), -1); /* 3 retries */
    assert_int_equal(cg_llm_retry_delay_ms(400, NULL, NULL, 0, 0, now), -1);
    assert_int_equal(cg_llm_retry_delay_ms(401, NULL, NULL, 0, 0, now), -1);
    assert_int_equal(cg_llm_retry_delay_ms(404, NULL, NULL, 0, 0, now), -1);
    assert_int_equal(cg_llm_retry_delay_ms(429, "7", NULL, 0, 0, now), 7000);
    assert_int_equal(cg_llm_retry_delay_ms(429, "0", NULL, 0, 0, now), 0);
    assert_int_equal(cg_llm_retry_delay_ms(429, "2", "350", 0, 0, now), 350); /* -ms wins */
    assert_int_equal(cg_llm_retry_delay_ms(429, "61", NULL, 0, 0, now), -1);  /* past 60 s */
    assert_int_equal(cg_llm_retry_delay_ms(429, "30", NULL, 1, 31000, now), -1);
    assert_int_equal(cg_llm_retry_delay_ms(429, "30", NULL, 1, 30000, now), 30000);
    /* an HTTP date 5 s ahead (curl_getdate) */
    assert_int_equal(
        cg_llm_retry_delay_ms(503, "Tue, 14 Nov 2023 22:13:25 GMT", NULL, 0, 0, 1700000000000),
        5000);
    assert_int_equal(
        cg_llm_retry_delay_ms(503, "Tue, 14 Nov 2023 22:13:15 GMT", NULL, 0, 0, 1700000000000), 0);
}

static void test_kinds_and_texts(void **state)
{
    assert_string_equal(cg_llm_kind_for_status(401), "auth");
    assert_string_equal(cg_llm_kind_for_status(403), "auth");
    assert_string_equal(cg_llm_kind_for_status(429), "rate_limit");
    assert_string_equal(cg_llm_kind_for_status(500), "server");
    assert_string_equal(cg_llm_kind_for_status(529), "server");
    assert_string_equal(cg_llm_kind_for_status(404), "config");
    assert_string_equal(cg_llm_kind_for_status(400), "input");
    char out[64];
    const char *openai =
        "{\"error\":{\"message\":\"Incorrect API key\\nprovided\",\"type\":\"x\"}}";
    cg_llm_error_text(openai, strlen(openai), out, sizeof out);
    assert_string_equal(out, "Incorrect API key provided");
    const char *anthropic =
        "{\"type\":\"error\",\"error\":{\"type\":\"a\",\"message\":\"Overloaded\"}}";
    cg_llm_error_text(anthropic, strlen(anthropic), out, sizeof out);
    assert_string_equal(out, "Overloaded");
    cg_llm_error_text("{\"error\":\"plain\"}", 17, out, sizeof out);
    assert_string_equal(out, "plain");
    cg_llm_error_text("Bad Gateway\nmore", 16, out, sizeof out);
    assert_string_equal(out, "Bad Gateway");
    cg_llm_error_text("<html><body>502</body></html>", 29, out, sizeof out);
    assert_string_equal(out, "");
    char small[8];
    const char *accents = "{\"error\":{\"message\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}}";
    cg_llm_error_text(accents, strlen(accents), small, sizeof small);
    assert_string_equal(small, "\xc3\xa9\xc3\xa9\xc3\xa9"); /* cut between characters */
}

static void test_utf8_cleaning(void **state)
{
    cg_buf b = {0};
    assert_int_equal(cg_llm_utf8_append(&b, "a\xc3", 2, false), 1); /* waits for the rest */
    assert_int_equal(b.len, 1);
    assert_int_equal(cg_llm_utf8_append(&b, "\xc3\xa9", 2, false), 2);
    assert_int_equal(cg_llm_utf8_append(&b,
                                        "\xff"
                                        "b",
                                        2, false),
                     2);
    assert_int_equal(cg_llm_utf8_append(&b, "\xed\xa0\x80", 3, false), 3); /* a surrogate */
    assert_int_equal(cg_llm_utf8_append(&b, "\xe2\x82", 2, true), 2);      /* cut at the end */
    cg_buf_append(&b, "", 1);
    /* \xff; the surrogate's three bytes; the cut sequence's two */
    assert_string_equal(b.data, "a\xc3\xa9\xef\xbf\xbd"
                                "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                "\xef\xbf\xbd\xef\xbf\xbd");
    cg_buf_reset(&b);
}

static void test_cli_prompt(void **state)
{
    json_t *one = json_pack("[{s:s, s:s}]", "role", "user", "content", "just this");
    char *p = cg_llm_cli_prompt(NULL, one);
    assert_string_equal(p, "just this");
    free(p);
    json_t *many = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:[{s:s, s:s}]}]", "role", "user",
                             "content", "hi", "role", "assistant", "content", "hello", "role",
                             "user", "content", "type", "text", "text", "and?");
    p = cg_llm_cli_prompt("sys", many);
    assert_string_equal(p, "sys\n\nUser: hi\n\nAssistant: hello\n\nUser: and?\n\nAssistant:");
    free(p);
    json_decref(one);
    json_decref(many);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_split_anywhere),
        cmocka_unit_test(test_sse_bounds_and_stop),
        cmocka_unit_test_setup(test_nothing_configured_is_offline, clean_env),
        cmocka_unit_test_setup(test_providers_keys_and_chain, clean_env),
        cmocka_unit_test_setup(test_issues_name_the_key, clean_env),
        cmocka_unit_test_setup(test_environment_providers, clean_env),
        cmocka_unit_test(test_retry_decisions),
        cmocka_unit_test(test_kinds_and_texts),
        cmocka_unit_test(test_utf8_cleaning),
        cmocka_unit_test(test_cli_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
