/* Unit tests for auth/tailscale.c and the Tailscale settings: which requests Tailscale's
 * proxy sent and who they name, which are auth candidates, the refusal codes, the
 * settings' cross-key rules, and the whois cache against tests/integration/lib/
 * fake-tailscale linked as `tailscale` into a temp dir first on PATH: a confirmed
 * login, a mismatch, failures, noisy output, one child for concurrent checks of an IP,
 * cancel, tailscale missing, the output bound, the timeout, stop, and eviction from a
 * full cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/tailscale.h"
#include "common/util.h"
#include "config/config_internal.h"

/* ---- the header checks ---- */

static cg_tailscale_headers serve_request(void)
{
    return (cg_tailscale_headers){.ingress = CG_INGRESS_TAILSCALE_SERVE,
                                  .peer_ip = "127.0.0.1",
                                  .forwarded_for = "100.101.102.103",
                                  .forwarded_proto = "https",
                                  .forwarded_host = "gw.tailnet.ts.net",
                                  .user_login = "alice@example.com"};
}

static bool client_of(const cg_tailscale_headers *h, const char *expected)
{
    char ip[64] = "";
    bool ok = cg_tailscale_client_ip(h, ip, sizeof ip);
    if (ok && expected) assert_string_equal(ip, expected);
    return ok;
}

static void test_client_ip(void **state)
{
    cg_tailscale_headers h = serve_request();
    assert_true(client_of(&h, "100.101.102.103"));
    h.peer_ip = "::1";
    assert_true(client_of(&h, "100.101.102.103"));
    /* A hop the client sent itself is to the left of the one Tailscale appended. */
    h.forwarded_for = "203.0.113.9, 100.101.102.103";
    assert_true(client_of(&h, "100.101.102.103"));
    h.forwarded_for = "fd7a:115c:a1e0::1, 127.0.0.1";
    assert_true(client_of(&h, "fd7a:115c:a1e0::1"));

    const char *unusable[] = {"127.0.0.1", "127.0.0.1, ::1", "x", "", "100.1.2.3, ,"};
    for (size_t i = 0; i < sizeof unusable / sizeof unusable[0]; i++) {
        h = serve_request();
        h.forwarded_for = unusable[i];
        assert_false(client_of(&h, NULL));
    }
    h = serve_request();
    h.peer_ip = "100.64.0.1"; /* not through the local proxy */
    assert_false(client_of(&h, NULL));
    h = serve_request();
    h.ingress = CG_INGRESS_DIRECT;
    assert_false(client_of(&h, NULL));
    const char **missing[] = {&h.forwarded_for, &h.forwarded_proto, &h.forwarded_host};
    for (size_t i = 0; i < 3; i++) {
        h = serve_request();
        *missing[i] = NULL;
        assert_false(client_of(&h, NULL));
        h = serve_request();
        *missing[i] = "";
        assert_false(client_of(&h, NULL));
    }

    /* The Funnel marker: never on serve; absent or ?1 on funnel. */
    h = serve_request();
    h.funnel_request = "?1";
    assert_false(client_of(&h, NULL));
    h.ingress = CG_INGRESS_TAILSCALE_FUNNEL;
    assert_true(client_of(&h, "100.101.102.103"));
    h.funnel_request = NULL;
    assert_true(client_of(&h, "100.101.102.103"));
    h.funnel_request = "?0";
    assert_false(client_of(&h, NULL));
}

static void test_candidate(void **state)
{
    cg_settings s = {.allow_tailscale = true};
    cg_tailscale_headers h = serve_request();
    assert_true(cg_tailscale_candidate(&h, &s));
    s.allow_tailscale = false;
    assert_false(cg_tailscale_candidate(&h, &s));
    s.allow_tailscale = true;
    h.user_login = NULL;
    assert_false(cg_tailscale_candidate(&h, &s));
    h.user_login = "  ";
    assert_false(cg_tailscale_candidate(&h, &s));
    h = serve_request();
    h.ingress = CG_INGRESS_TAILSCALE_FUNNEL; /* the public internet: never by login */
    assert_false(cg_tailscale_candidate(&h, &s));
    h = serve_request();
    h.ingress = CG_INGRESS_DIRECT;
    assert_false(cg_tailscale_candidate(&h, &s));
    h = serve_request();
    h.forwarded_host = NULL;
    assert_false(cg_tailscale_candidate(&h, &s));
}

static void test_codes(void **state)
{
    assert_string_equal(cg_tailscale_code(CG_TAILSCALE_WHOIS_FAILED),
                        "AUTH_TAILSCALE_WHOIS_FAILED");
    assert_string_equal(cg_tailscale_code(CG_TAILSCALE_IDENTITY_MISMATCH),
                        "AUTH_TAILSCALE_IDENTITY_MISMATCH");
    assert_string_equal(cg_tailscale_message(CG_TAILSCALE_WHOIS_FAILED),
                        "unauthorized: tailscale identity check failed (use Tailscale Serve auth "
                        "or gateway token/password)");
    assert_string_equal(cg_tailscale_message(CG_TAILSCALE_IDENTITY_MISMATCH),
                        "unauthorized: tailscale identity mismatch (use Tailscale Serve auth or "
                        "gateway token/password)");
    assert_null(cg_tailscale_code(CG_TAILSCALE_OK));
    assert_null(cg_tailscale_code(CG_TAILSCALE_UNAVAILABLE));
    assert_null(cg_tailscale_message(CG_TAILSCALE_OK));
    assert_null(cg_tailscale_message(CG_TAILSCALE_UNAVAILABLE));
}

/* ---- settings ---- */

/* Settings of a document, or NULL with its first issue in issue_path / issue_message. */
static cg_settings *settings_of(const char *text, char *issue, size_t issue_len)
{
    json_t *issues = json_array();
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    json_t *resolved = cg_config_resolve(doc, issues);
    cg_overrides ov = {0};
    cg_settings *s = json_array_size(issues) ? NULL : cg_settings_build(resolved, &ov, issues);
    const json_t *first = json_array_get(issues, 0);
    snprintf(issue, issue_len, "%s: %s", json_string_value(json_object_get(first, "path")),
             json_string_value(json_object_get(first, "message")));
    json_decref(resolved);
    json_decref(doc);
    json_decref(issues);
    return s;
}

static void assert_refused(const char *text, const char *issue_part)
{
    char issue[512];
    cg_settings *s = settings_of(text, issue, sizeof issue);
    if (s) fail_msg("%s: accepted", text);
    if (!strstr(issue, issue_part))
        fail_msg("%s: issue \"%s\" lacks \"%s\"", text, issue, issue_part);
}

static void assert_allow(const char *text, cg_tailscale_mode mode, bool allow)
{
    char issue[512];
    cg_settings *s = settings_of(text, issue, sizeof issue);
    if (!s) fail_msg("%s: refused: %s", text, issue);
    assert_int_equal(s->tailscale_mode, mode);
    assert_int_equal(s->allow_tailscale, allow);
    cg_settings_free(s);
}

static void test_settings(void **state)
{
    assert_allow("{}", CG_TAILSCALE_OFF, false);
    assert_allow("{\"gateway\":{\"tailscale\":{\"mode\":\"serve\"}}}", CG_TAILSCALE_SERVE, true);
    assert_allow("{\"gateway\":{\"tailscale\":{\"mode\":\"serve\"},\"auth\":{\"mode\":\"password\","
                 "\"password\":\"pw\"}}}",
                 CG_TAILSCALE_SERVE, false);
    assert_allow("{\"gateway\":{\"tailscale\":{\"mode\":\"serve\"},\"auth\":"
                 "{\"allowTailscale\":false}}}",
                 CG_TAILSCALE_SERVE, false);
    assert_allow("{\"gateway\":{\"auth\":{\"allowTailscale\":true}}}", CG_TAILSCALE_OFF, true);
    assert_allow(
        "{\"gateway\":{\"tailscale\":{\"mode\":\"funnel\"},\"auth\":{\"mode\":\"password\","
        "\"password\":\"pw\"}}}",
        CG_TAILSCALE_FUNNEL, false);
    assert_allow("{\"gateway\":{\"tailscale\":{\"mode\":\"serve\"},\"bind\":\"custom\","
                 "\"customBindHost\":\"127.0.0.1\"}}",
                 CG_TAILSCALE_SERVE, true);

    assert_refused("{\"gateway\":{\"tailscale\":{\"mode\":\"funnel\"}}}",
                   "gateway.auth.mode: tailscale funnel requires gateway auth mode=password");
    assert_refused(
        "{\"gateway\":{\"tailscale\":{\"mode\":\"serve\"},\"auth\":{\"mode\":\"none\"}}}",
        "gateway.auth.mode: gateway.auth.mode=none cannot be used with "
        "gateway.tailscale.mode=serve");
    assert_refused("{\"gateway\":{\"tailscale\":{\"mode\":\"serve\"},\"bind\":\"lan\"}}",
                   "gateway.bind: gateway.bind must resolve to loopback when "
                   "gateway.tailscale.mode=serve");
    assert_refused("{\"gateway\":{\"tailscale\":{\"mode\":\"funnel\"},\"bind\":\"tailnet\","
                   "\"auth\":{\"mode\":\"password\",\"password\":\"pw\"}}}",
                   "gateway.bind: gateway.bind must resolve to loopback");
    assert_refused("{\"gateway\":{\"tailscale\":{\"mode\":\"serve\"},\"bind\":\"custom\","
                   "\"customBindHost\":\"127.example.com\"}}",
                   "gateway.bind: gateway.bind must resolve to loopback");
}

/* ---- the whois cache against the fake tailscale ---- */

static char fake_dir[256];
static char *saved_path;

/* tests/integration/lib/fake-tailscale, found from this file's own (absolute) path. */
static void fake_script(char *out, size_t len)
{
    snprintf(out, len, "%s", __FILE__);
    char *slash = strrchr(out, '/');
    assert_non_null(slash);
    snprintf(slash, len - (size_t)(slash - out), "/../integration/lib/fake-tailscale");
}

static int setup_fake(void **state)
{
    snprintf(fake_dir, sizeof fake_dir, "/tmp/cg-tailscale-XXXXXX");
    if (!mkdtemp(fake_dir)) return -1;
    char script[1024], link[512];
    fake_script(script, sizeof script);
    snprintf(link, sizeof link, "%s/tailscale", fake_dir);
    if (symlink(script, link) != 0) return -1;
    saved_path = cg_strdup(getenv("PATH"));
    char path[4096];
    snprintf(path, sizeof path, "%s:%s", fake_dir, saved_path ? saved_path : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    setenv("FAKE_TAILSCALE_DIR", fake_dir, 1);
    return 0;
}

static int teardown_fake(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fake_dir);
    if (system(cmd) != 0) return -1;
    setenv("PATH", saved_path ? saved_path : "/usr/bin:/bin", 1);
    free(saved_path);
    return 0;
}

static void write_fake_file(const char *name, const char *content)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fake_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void remove_fake_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fake_dir, name);
    unlink(path);
}

/* How many times the fake ran `whois ... ip`. */
static int whois_runs(const char *ip)
{
    char path[512], line[512], want[128];
    snprintf(path, sizeof path, "%s/argv", fake_dir);
    snprintf(want, sizeof want, "whois\t--json\t%s\t\n", ip);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strcmp(line, want) == 0) n++;
    if (f) fclose(f);
    return n;
}

typedef struct answer_box {
    int calls;
    cg_tailscale_result result;
    char login[128];
} answer_box;

static void on_answer(cg_tailscale_result r, const char *login, void *data)
{
    answer_box *box = data;
    box->calls++;
    box->result = r;
    snprintf(box->login, sizeof box->login, "%s", login ? login : "");
}

/* Runs the loop until box has its answer (bounded). */
static void wait_answer(uv_loop_t *loop, answer_box *box, int64_t bound_ms)
{
    uint64_t deadline = cg_mono_ns() + (uint64_t)bound_ms * 1000000u;
    while (box->calls == 0 && cg_mono_ns() < deadline)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(box->calls, 1);
}

/* Stops ts, lets every handle close, frees it. */
static void finish(uv_loop_t *loop, cg_tailscale *ts)
{
    cg_tailscale_stop(ts);
    uv_run(loop, UV_RUN_DEFAULT);
    cg_tailscale_free(ts);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_whois_confirms_and_caches(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cg_tailscale *ts = cg_tailscale_new(&loop);
    write_fake_file("whois-100.64.0.7.json",
                    "{\"Node\":{\"Name\":\"laptop\"},\"UserProfile\":{\"ID\":1,"
                    "\"LoginName\":\"Alice@Example.com\",\"DisplayName\":\"Alice\"}}\n");
    answer_box a = {0};
    assert_non_null(cg_tailscale_verify(ts, "100.64.0.7", " alice@example.COM ", on_answer, &a));
    assert_int_equal(a.calls, 0); /* never before the child answered */
    wait_answer(&loop, &a, 5000);
    assert_int_equal(a.result, CG_TAILSCALE_OK);
    assert_string_equal(a.login, "Alice@Example.com");

    /* Cached: answered at once, for the same and for another claimed login. */
    answer_box b = {0}, c = {0};
    assert_null(cg_tailscale_verify(ts, "100.64.0.7", "alice@example.com", on_answer, &b));
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.result, CG_TAILSCALE_OK);
    assert_null(cg_tailscale_verify(ts, "100.64.0.7", "mallory@example.com", on_answer, &c));
    assert_int_equal(c.result, CG_TAILSCALE_IDENTITY_MISMATCH);
    assert_string_equal(c.login, "");
    assert_int_equal(whois_runs("100.64.0.7"), 1);
    finish(&loop, ts);
}

static void test_whois_failures(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cg_tailscale *ts = cg_tailscale_new(&loop);
    struct {
        const char *ip, *file; /* file NULL: whois exits 1 */
        cg_tailscale_result result;
        const char *login;
    } cases[] = {
        {"100.64.1.1", NULL, CG_TAILSCALE_WHOIS_FAILED, ""},
        {"100.64.1.2", "{\"UserProfile\":{\"DisplayName\":\"no login\"}}",
         CG_TAILSCALE_WHOIS_FAILED, ""},
        {"100.64.1.3", "not json at all", CG_TAILSCALE_WHOIS_FAILED, ""},
        {"100.64.1.4", "warning: noise\n{\"User\":{\"Login\":\"bob@example.com\"}}\ntrailer",
         CG_TAILSCALE_OK, "bob@example.com"},
        {"100.64.1.5", "{\"LoginName\":\"bob@example.com\"}", CG_TAILSCALE_OK, "bob@example.com"},
        {"100.64.1.6", "{\"UserProfile\":{\"LoginName\":\"carol@example.com\"}}",
         CG_TAILSCALE_IDENTITY_MISMATCH, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "whois-%s.json", cases[i].ip);
        if (cases[i].file) write_fake_file(name, cases[i].file);
        answer_box box = {0};
        cg_tailscale_verify(ts, cases[i].ip, "bob@example.com", on_answer, &box);
        wait_answer(&loop, &box, 5000);
        assert_int_equal(box.result, cases[i].result);
        assert_string_equal(box.login, cases[i].login);
    }

    /* Over the output bound: failed, though the JSON would name bob. */
    size_t big = CG_TAILSCALE_WHOIS_MAX_OUTPUT + 1000;
    char *doc = cg_xmalloc(big + 100);
    int n = snprintf(doc, 100, "{\"LoginName\":\"bob@example.com\",\"pad\":\"");
    memset(doc + n, 'x', big);
    snprintf(doc + n + big, 100, "\"}");
    write_fake_file("whois-100.64.1.7.json", doc);
    free(doc);
    answer_box box = {0};
    cg_tailscale_verify(ts, "100.64.1.7", "bob@example.com", on_answer, &box);
    wait_answer(&loop, &box, 5000);
    assert_int_equal(box.result, CG_TAILSCALE_WHOIS_FAILED);
    finish(&loop, ts);
}

static void test_whois_shared_and_cancelled(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cg_tailscale *ts = cg_tailscale_new(&loop);
    write_fake_file("whois-100.64.2.1.json",
                    "{\"UserProfile\":{\"LoginName\":\"dan@example.com\"}}");
    write_fake_file("whois-delay", "0.3");
    answer_box a = {0}, b = {0}, gone = {0};
    assert_non_null(cg_tailscale_verify(ts, "100.64.2.1", "dan@example.com", on_answer, &a));
    cg_tailscale_wait *w =
        cg_tailscale_verify(ts, "100.64.2.1", "dan@example.com", on_answer, &gone);
    assert_non_null(w);
    assert_non_null(cg_tailscale_verify(ts, "100.64.2.1", "eve@example.com", on_answer, &b));
    cg_tailscale_cancel(w);
    wait_answer(&loop, &a, 5000);
    wait_answer(&loop, &b, 5000);
    assert_int_equal(a.result, CG_TAILSCALE_OK);
    assert_int_equal(b.result, CG_TAILSCALE_IDENTITY_MISMATCH);
    assert_int_equal(gone.calls, 0);
    assert_int_equal(whois_runs("100.64.2.1"), 1);
    remove_fake_file("whois-delay");
    finish(&loop, ts);
}

static void test_whois_unavailable(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cg_tailscale *ts = cg_tailscale_new(&loop);
    char *path = cg_strdup(getenv("PATH"));
    setenv("PATH", "/nonexistent-cg-test", 1);
    answer_box a = {0};
    assert_null(cg_tailscale_verify(ts, "100.64.3.1", "fay@example.com", on_answer, &a));
    assert_int_equal(a.result, CG_TAILSCALE_UNAVAILABLE);
    assert_null(cg_tailscale_code(a.result));
    setenv("PATH", path, 1);
    free(path);
    finish(&loop, ts);
}

static void test_whois_timeout(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cg_tailscale *ts = cg_tailscale_new(&loop);
    write_fake_file("whois-100.64.4.1.json", "{\"LoginName\":\"gus@example.com\"}");
    write_fake_file("whois-delay", "30");
    answer_box a = {0};
    uint64_t t0 = cg_mono_ns();
    cg_tailscale_verify(ts, "100.64.4.1", "gus@example.com", on_answer, &a);
    wait_answer(&loop, &a, CG_TAILSCALE_WHOIS_TIMEOUT_MS + 3000);
    uint64_t ms = (cg_mono_ns() - t0) / 1000000u;
    assert_int_equal(a.result, CG_TAILSCALE_WHOIS_FAILED);
    assert_true(ms >= CG_TAILSCALE_WHOIS_TIMEOUT_MS - 100 &&
                ms < CG_TAILSCALE_WHOIS_TIMEOUT_MS + 3000);

    /* stop answers a running check at once, and later ones without a child. */
    write_fake_file("whois-100.64.4.2.json", "{\"LoginName\":\"gus@example.com\"}");
    answer_box b = {0}, c = {0};
    assert_non_null(cg_tailscale_verify(ts, "100.64.4.2", "gus@example.com", on_answer, &b));
    cg_tailscale_stop(ts);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.result, CG_TAILSCALE_WHOIS_FAILED);
    assert_null(cg_tailscale_verify(ts, "100.64.4.3", "gus@example.com", on_answer, &c));
    assert_int_equal(c.result, CG_TAILSCALE_WHOIS_FAILED);
    remove_fake_file("whois-delay");
    uv_run(&loop, UV_RUN_DEFAULT);
    cg_tailscale_free(ts);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A full cache drops its oldest answer: that IP is looked up again. The cache is filled
 * with answers that name no login (kept 60 s), 32 children at a time. */
static void test_cache_bound(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cg_tailscale *ts = cg_tailscale_new(&loop);
    write_fake_file("whois-100.64.5.0.json", "{\"LoginName\":\"hal@example.com\"}");
    write_fake_file("whois-default.json", "{\"Node\":{}}");
    answer_box first = {0};
    cg_tailscale_verify(ts, "100.64.5.0", "hal@example.com", on_answer, &first);
    wait_answer(&loop, &first, 5000);
    static answer_box fill[CG_TAILSCALE_MAX_ENTRIES];
    memset(fill, 0, sizeof fill);
    for (int i = 1; i < CG_TAILSCALE_MAX_ENTRIES; i += CG_TAILSCALE_MAX_LOOKUPS) {
        int end = i + CG_TAILSCALE_MAX_LOOKUPS < CG_TAILSCALE_MAX_ENTRIES
                      ? i + CG_TAILSCALE_MAX_LOOKUPS
                      : CG_TAILSCALE_MAX_ENTRIES;
        for (int j = i; j < end; j++) {
            char ip[32];
            snprintf(ip, sizeof ip, "100.65.%d.%d", j / 256, j % 256);
            assert_non_null(cg_tailscale_verify(ts, ip, "hal@example.com", on_answer, &fill[j]));
        }
        for (int j = i; j < end; j++) {
            wait_answer(&loop, &fill[j], 5000);
            assert_int_equal(fill[j].result, CG_TAILSCALE_WHOIS_FAILED);
        }
    }
    answer_box cached = {0};
    assert_null(cg_tailscale_verify(ts, "100.64.5.0", "hal@example.com", on_answer, &cached));
    assert_int_equal(whois_runs("100.64.5.0"), 1);
    answer_box one_more = {0}, again = {0};
    cg_tailscale_verify(ts, "100.64.5.1", "hal@example.com", on_answer, &one_more);
    wait_answer(&loop, &one_more, 5000);
    assert_non_null(cg_tailscale_verify(ts, "100.64.5.0", "hal@example.com", on_answer, &again));
    wait_answer(&loop, &again, 5000);
    assert_int_equal(again.result, CG_TAILSCALE_OK);
    assert_int_equal(whois_runs("100.64.5.0"), 2);
    finish(&loop, ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_ip),
        cmocka_unit_test(test_candidate),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_settings),
        cmocka_unit_test_setup_teardown(test_whois_confirms_and_caches, setup_fake, teardown_fake),
        cmocka_unit_test_setup_teardown(test_whois_failures, setup_fake, teardown_fake),
        cmocka_unit_test_setup_teardown(test_whois_shared_and_cancelled, setup_fake, teardown_fake),
        cmocka_unit_test_setup_teardown(test_whois_unavailable, setup_fake, teardown_fake),
        cmocka_unit_test_setup_teardown(test_whois_timeout, setup_fake, teardown_fake),
        cmocka_unit_test_setup_teardown(test_cache_bound, setup_fake, teardown_fake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
