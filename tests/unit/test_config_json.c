/* Unit tests of the config store's document operations: RFC 7396 merge patch (the RFC's
 * appendix A examples), changed-path listing, redaction and placeholder restore (for
 * every path config.schema's uiHints mark sensitive, enumerated from the payload so a
 * path added later is covered too), issue messages that never carry a secret, schema
 * validation with "${VAR}" substitution, and the config.schema payload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/config_internal.h"

static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *value = json_loads(text, JSON_DECODE_ANY, &error);
    if (!value) fail_msg("bad test JSON %s: %s", text, error.text);
    return value;
}

static void assert_json_eq(const json_t *actual, const char *expected_text)
{
    json_t *expected = parse(expected_text);
    if (!json_equal((json_t *)actual, expected)) {
        char *got = json_dumps(actual, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("expected %s, got %s", expected_text, got);
    }
    json_decref(expected);
}

static void test_merge_patch_rfc7396_examples(void **state)
{
    static const char *const cases[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
        {"{\"a\":\"foo\"}", "null", "null"},
        {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *target = parse(cases[i][0]), *patch = parse(cases[i][1]);
        json_t *target_before = json_deep_copy(target);
        json_t *result = cg_json_merge_patch(target, patch);
        assert_json_eq(result, cases[i][2]);
        assert_true(json_equal(target, target_before)); /* inputs untouched */
        json_decref(result);
        json_decref(target);
        json_decref(target_before);
        json_decref(patch);
    }
}

static void test_changed_paths(void **state)
{
    json_t *a = parse("{\"gateway\":{\"port\":1,\"tls\":{\"enabled\":false},\"x\":[1]},\"k\":1}");
    json_t *b = parse("{\"gateway\":{\"port\":2,\"tls\":{\"enabled\":false,\"certPath\":\"c\"},"
                      "\"x\":[1,2]},\"n\":{\"m\":true}}");
    json_t *out = json_array();
    cg_json_changed_paths(a, b, "", out);
    assert_json_eq(out, "[\"gateway.port\",\"gateway.tls.certPath\",\"gateway.x\",\"k\",\"n.m\"]");
    json_decref(out);
    out = json_array();
    cg_json_changed_paths(a, a, "", out);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
    json_decref(a);
    json_decref(b);
}

static void test_redaction(void **state)
{
    json_t *doc =
        parse("{\"gateway\":{\"port\":1,\"auth\":{\"token\":\"t\",\"password\":\"p\"},"
              "\"remote\":{\"url\":\"wss://x\"}},"
              "\"models\":{\"providers\":{\"openai\":{\"apiKey\":\"sk\",\"baseUrl\":\"u\"}}},"
              "\"list\":[{\"botToken\":\"b\",\"secret\":42,\"name\":\"n\"}],"
              "\"other\":{\"secret\":{\"nested\":\"hidden\"},\"password\":null}}");
    size_t count;
    json_t *redacted = cg_config_redact_counted(doc, &count);
    assert_int_equal(count, 6);
    assert_json_eq(
        redacted, "{\"gateway\":{\"port\":1,\"auth\":{\"token\":\"" CG_REDACTED "\",\"password\":"
                  "\"" CG_REDACTED "\"},\"remote\":{\"url\":\"wss://x\"}},"
                  "\"models\":{\"providers\":{\"openai\":{\"apiKey\":\"" CG_REDACTED "\","
                  "\"baseUrl\":\"u\"}}},"
                  "\"list\":[{\"botToken\":\"" CG_REDACTED "\",\"secret\":\"" CG_REDACTED "\","
                  "\"name\":\"n\"}],\"other\":{\"secret\":\"" CG_REDACTED "\",\"password\":null}}");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(doc, "gateway"), "auth"), "token")),
                        "t"); /* the original is not touched */

    /* The redacted document sent back restores to the original. */
    json_t *issues = json_array();
    size_t restored;
    json_t *back = cg_config_restore_redacted(redacted, doc, issues, &restored);
    assert_int_equal(restored, 6);
    assert_int_equal(json_array_size(issues), 0);
    assert_true(json_equal(back, doc));
    json_decref(back);
    json_decref(redacted);
    json_decref(issues);
    json_decref(doc);
}

/* Sets value at a uiHints path pattern in doc: "*" becomes the key "k", "name[]" an array
 * holding one element. Returns the concrete dotted path (array elements by index). */
static char *set_at_pattern(json_t *doc, const char *pattern, json_t *value)
{
    char *segments = strdup(pattern), *save = NULL;
    char concrete[512] = "";
    json_t *node = doc;
    char *segment = strtok_r(segments, ".", &save);
    while (segment) {
        char *next = strtok_r(NULL, ".", &save);
        size_t len = strlen(segment);
        bool elements = len > 2 && !strcmp(segment + len - 2, "[]");
        if (elements) segment[len - 2] = 0;
        const char *key = strcmp(segment, "*") ? segment : "k";
        snprintf(concrete + strlen(concrete), sizeof concrete - strlen(concrete), "%s%s%s",
                 *concrete ? "." : "", key, elements ? ".0" : "");
        json_t *child = json_object_get(node, key);
        if (elements) {
            if (!child) json_object_set_new(node, key, child = json_array());
            if (!next) {
                json_array_append_new(child, value);
                break;
            }
            if (!json_array_size(child)) json_array_append_new(child, json_object());
            node = json_array_get(child, 0);
        } else if (!next) {
            json_object_set_new(node, key, value);
        } else {
            if (!child) json_object_set_new(node, key, child = json_object());
            node = child;
        }
        segment = next;
    }
    free(segments);
    return strdup(concrete);
}

static const json_t *value_at(const json_t *doc, const char *concrete)
{
    char *keys = strdup(concrete), *save = NULL;
    const json_t *node = doc;
    for (char *key = strtok_r(keys, ".", &save); key && node; key = strtok_r(NULL, ".", &save))
        node = json_is_array(node) ? json_array_get(node, strtoul(key, NULL, 10))
                                   : json_object_get(node, key);
    free(keys);
    return node;
}

/* The sensitive paths of config.schema's uiHints (new ref). */
static json_t *sensitive_hint_paths(void)
{
    json_t *payload = cg_config_schema();
    json_t *paths = json_array();
    const char *path;
    json_t *hint;
    json_object_foreach(json_object_get(payload, "uiHints"), path, hint)
    {
        if (json_is_true(json_object_get(hint, "sensitive")))
            json_array_append_new(paths, json_string(path));
    }
    json_decref(payload);
    return paths;
}

static void test_every_sensitive_hint_is_redacted_and_restored(void **state)
{
    json_t *paths = sensitive_hint_paths();
    /* Those the real gateway marks, and the key names, are among them. */
    static const char *const expected[] = {
        "gateway.auth.token",
        "gateway.auth.password",
        "channels.*.token",
        "channels.*.botToken",
        "channels.*.webhookSecret",
        "channels.*.accounts.*.botToken",
        "models.providers.*.apiKey",
        "models.providers.*.headers.*",
        "hooks.token",
        "hooks.mappings[].sessionKey",
        "mcp.servers.*.env.*",
        "plugins.entries.*.config.webSearch.apiKey",
        "tools.media.models[].request.tls.key",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        bool found = false;
        for (size_t j = 0; j < json_array_size(paths); j++)
            found |= !strcmp(json_string_value(json_array_get(paths, j)), expected[i]);
        if (!found) fail_msg("uiHints do not mark %s sensitive", expected[i]);
    }
    size_t i;
    json_t *path;
    json_array_foreach(paths, i, path)
    {
        const char *pattern = json_string_value(path);
        json_t *values[] = {json_sprintf("secret-%zu-value", i), json_integer(4242424242),
                            json_pack("{s:s}", "id", "nested-secret")};
        const char *markers[] = {"-value", "4242424242", "nested-secret"};
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            json_t *doc = json_object();
            char *concrete = set_at_pattern(doc, pattern, json_incref(values[v]));
            size_t count;
            json_t *redacted = cg_config_redact_counted(doc, &count);
            const json_t *shown = value_at(redacted, concrete);
            if (count != 1 || !json_is_string(shown) ||
                strcmp(json_string_value(shown), CG_REDACTED))
                fail_msg("%s (%s) is not redacted", pattern, concrete);
            char *text = json_dumps(redacted, JSON_COMPACT);
            if (strstr(text, markers[v])) fail_msg("%s: the value leaks in %s", pattern, text);
            json_t *issues = json_array();
            size_t restored;
            json_t *back = cg_config_restore_redacted(redacted, doc, issues, &restored);
            if (restored != 1 || json_array_size(issues) || !json_equal(back, doc))
                fail_msg("%s: the placeholder does not restore %s", pattern, markers[v]);
            free(text);
            free(concrete);
            json_decref(back);
            json_decref(issues);
            json_decref(redacted);
            json_decref(doc);
            json_decref(values[v]);
        }
    }
    json_decref(paths);
}

static void test_named_secrets_of_the_issue(void **state)
{
    json_t *doc = parse("{\"channels\":{\"telegram\":{\"token\":\"tg-1\",\"botToken\":\"tg-2\","
                        "\"webhookSecret\":\"tg-3\",\"accounts\":{\"a\":{\"botToken\":\"tg-4\"}}}},"
                        "\"models\":{\"providers\":{\"x\":{\"headers\":{\"Authorization\":"
                        "\"Bearer hd-5\"}}}},\"hooks\":{\"token\":\"hk-6\"}}");
    size_t count;
    json_t *redacted = cg_config_redact_counted(doc, &count);
    assert_int_equal(count, 6);
    char *text = json_dumps(redacted, JSON_COMPACT);
    assert_null(strstr(text, "tg-"));
    assert_null(strstr(text, "hd-5"));
    assert_null(strstr(text, "hk-6"));
    free(text);
    json_decref(redacted);
    json_decref(doc);
}

/* Issues never carry a value found at a sensitive path, nor text around a parse error. */
static void test_issues_never_carry_secrets(void **state)
{
    static const char *const documents[] = {
        "{\"gateway\":{\"auth\":{\"token\":{\"source\":\"env\",\"id\":\"LEAK-1\"}}}}",
        "{\"gateway\":{\"auth\":{\"password\":[\"LEAK-2\"]}}}",
        "{\"models\":{\"providers\":{\"p\":{\"apiKey\":{\"id\":\"LEAK-3\"}}}}}",
        "{\"gateway\":{\"auth\":{\"token\":\"LEAK-4",
        "{\"gateway\":{\"auth\":{\"token\":\"LEAK-5\" \"mode\":\"token\"}}}",
        "{\"gateway\":{\"auth\":{\"token\":LEAK-6}}}",
        "{\"hooks\":{\"token\":\"LEAK-7\",\"token\":\"LEAK-8\"}}",
        "{\"channels\":{\"x\":{\"token\":\"LEAK-9\\u0000\"}},\"gateway\":{\"port\":\"80\"}}",
    };
    for (size_t i = 0; i < sizeof documents / sizeof documents[0]; i++) {
        json_t *issues = json_array();
        json_t *doc = cg_config_parse(documents[i], strlen(documents[i]), issues);
        if (doc) json_decref(cg_config_resolve(doc, issues));
        if (!json_array_size(issues)) fail_msg("%s: no issue", documents[i]);
        char *text = json_dumps(issues, JSON_COMPACT);
        if (strstr(text, "LEAK")) fail_msg("%s: issues carry the secret: %s", documents[i], text);
        free(text);
        json_decref(doc);
        json_decref(issues);
    }
}

static void test_restore_without_stored_value_is_an_issue(void **state)
{
    json_t *stored = parse("{\"gateway\":{\"auth\":{\"token\":\"t\"}}}");
    json_t *doc = parse("{\"gateway\":{\"auth\":{\"token\":\"" CG_REDACTED
                        "\",\"password\":\"" CG_REDACTED "\"}}}");
    json_t *issues = json_array();
    size_t restored;
    json_decref(cg_config_restore_redacted(doc, stored, issues, &restored));
    assert_int_equal(restored, 1);
    assert_int_equal(json_array_size(issues), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(issues, 0), "path")),
                        "gateway.auth.password");
    json_decref(issues);
    json_decref(doc);
    json_decref(stored);
}

/* Validates text; returns the issues (new ref) and, when wanted, the resolved document. */
static json_t *validate(const char *text, json_t **resolved_out)
{
    json_t *doc = parse(text), *issues = json_array();
    json_t *resolved = cg_config_resolve(doc, issues);
    if (resolved_out)
        *resolved_out = resolved;
    else
        json_decref(resolved);
    json_decref(doc);
    return issues;
}

static void assert_one_issue(const char *text, const char *path, const char *message_part)
{
    json_t *issues = validate(text, NULL);
    if (json_array_size(issues) != 1)
        fail_msg("%s: expected one issue, got %zu", text, json_array_size(issues));
    const json_t *issue = json_array_get(issues, 0);
    assert_string_equal(json_string_value(json_object_get(issue, "path")), path);
    const char *message = json_string_value(json_object_get(issue, "message"));
    if (!strstr(message, message_part))
        fail_msg("message \"%s\" lacks \"%s\"", message, message_part);
    json_decref(issues);
}

static void test_validation_issues(void **state)
{
    assert_one_issue("{\"gateway\":{\"port\":\"80\"}}", "gateway.port", "expected integer");
    assert_one_issue("{\"gateway\":{\"port\":70000}}", "gateway.port", "<= 65535");
    assert_one_issue("{\"gateway\":{\"port\":1.5}}", "gateway.port", "expected integer");
    assert_one_issue("{\"gateway\":{\"bind\":\"everywhere\"}}", "gateway.bind", "must be one of");
    assert_one_issue("{\"gateway\":{\"auth\":{\"mode\":\"trusted-proxy\"}}}", "gateway.auth.mode",
                     "\"trusted-proxy\" is not supported");
    assert_one_issue("{\"gateway\":{\"auth\":{\"password\":{\"source\":\"env\",\"id\":\"P\"}}}}",
                     "gateway.auth.password", "secret references are not supported");
    assert_one_issue("{\"gateway\":{\"trustedProxies\":[\"10.0.0.1\",7]}}",
                     "gateway.trustedProxies.1", "expected string");
    assert_one_issue("{\"gateway\":{\"limits\":{\"maxPayloadBytes\":0}}}",
                     "gateway.limits.maxPayloadBytes", ">= 1");
    assert_one_issue("{\"gateway\":{\"tailscale\":{\"mode\":\"on\"}}}", "gateway.tailscale.mode",
                     "must be one of");
    assert_one_issue("{\"models\":{\"providers\":{\"x\":{\"apiKey\":5}}}}",
                     "models.providers.x.apiKey", "expected string");
    assert_one_issue("{\"gateway\":[]}", "gateway", "expected object");
}

static void test_unknown_keys_pass_through(void **state)
{
    const char *text =
        "{\"gateway\":{\"mode\":\"local\",\"remote\":{\"url\":\"${NOT_SET_ANYWHERE}\"},"
        "\"port\":1234},\"plugins\":{\"x\":[1,{\"y\":null}]},"
        "\"agents\":{\"list\":[{\"id\":\"main\"}]}}";
    json_t *resolved;
    json_t *issues = validate(text, &resolved);
    assert_int_equal(json_array_size(issues), 0);
    json_t *doc = parse(text);
    assert_true(json_equal(resolved, doc)); /* unknown keys untouched, no substitution there */
    json_decref(doc);
    json_decref(resolved);
    json_decref(issues);
}

static void test_env_substitution(void **state)
{
    setenv("CG_TEST_TOKEN", "s3cret", 1);
    unsetenv("CG_TEST_MISSING");
    json_t *resolved;
    json_t *issues = validate("{\"gateway\":{\"auth\":{\"token\":\"${CG_TEST_TOKEN}\"},"
                              "\"publicOrigin\":\"https://$${CG_TEST_TOKEN}/${CG_TEST_TOKEN}\"}}",
                              &resolved);
    assert_int_equal(json_array_size(issues), 0);
    json_t *gateway = json_object_get(resolved, "gateway");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(gateway, "auth"), "token")), "s3cret");
    assert_string_equal(json_string_value(json_object_get(gateway, "publicOrigin")),
                        "https://${CG_TEST_TOKEN}/s3cret");
    json_decref(resolved);
    json_decref(issues);

    assert_one_issue("{\"gateway\":{\"auth\":{\"token\":\"${CG_TEST_MISSING}\"}}}",
                     "gateway.auth.token", "CG_TEST_MISSING is not set");
    setenv("CG_TEST_BIND", "lan", 1);
    issues = validate("{\"gateway\":{\"bind\":\"${CG_TEST_BIND}\"}}", NULL);
    assert_int_equal(json_array_size(issues), 0);
    json_decref(issues);
    unsetenv("CG_TEST_TOKEN");
    unsetenv("CG_TEST_BIND");
}

static void test_schema_payload(void **state)
{
    json_t *payload = cg_config_schema();
    assert_non_null(json_object_get(payload, "schema"));
    assert_string_equal(json_string_value(json_object_get(payload, "version")), CLAWGATE_VERSION);
    assert_true(json_string_length(json_object_get(payload, "generatedAt")) > 0);
    json_t *hints = json_object_get(payload, "uiHints");
    assert_true(
        json_is_true(json_object_get(json_object_get(hints, "gateway.auth.token"), "sensitive")));
    assert_true(json_is_true(
        json_object_get(json_object_get(hints, "models.providers.*.apiKey"), "sensitive")));
    assert_int_equal(json_object_size(payload), 4);
    /* The defaults settings use are the schema's. */
    assert_int_equal(
        json_integer_value(json_object_get(cg_config_schema_at("gateway.port"), "default")),
        CG_DEFAULT_PORT);
    json_decref(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_patch_rfc7396_examples),
        cmocka_unit_test(test_changed_paths),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_every_sensitive_hint_is_redacted_and_restored),
        cmocka_unit_test(test_named_secrets_of_the_issue),
        cmocka_unit_test(test_issues_never_carry_secrets),
        cmocka_unit_test(test_restore_without_stored_value_is_an_issue),
        cmocka_unit_test(test_validation_issues),
        cmocka_unit_test(test_unknown_keys_pass_through),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_schema_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
