/* Exec approvals, below the wire: the policy file's shape, hash and resolution
 * (exec/policy.c), allowlist matching and the allow-always entry, the pending approvals
 * registry (exec/approvals.c), and the system.run gate (methods/exec_approvals.c) over a
 * gateway with fake connections: allow, refuse (deny, allowlist miss, bad params, a
 * broken file), no approver connected, askFallback. Fake connections cannot take frames,
 * so the gate's ASK path (an approver connected) is left to the integration tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "exec/approvals.h"
#include "exec/policy.h"
#include "gateway/gateway_int.h"
#include "methods/exec_approvals.h"

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) fail_msg("bad test JSON: %s", je.text);
    return v;
}

/* ---- the file's shape ---- */

static void expect_invalid(const char *file, const char *needle)
{
    json_t *doc = parse(file);
    char err[256] = "";
    assert_int_equal(cg_exec_policy_validate(doc, err, sizeof err), -1);
    if (!strstr(err, needle)) fail_msg("'%s' does not mention '%s'", err, needle);
    json_decref(doc);
}

static void test_validate(void **state)
{
    json_t *ok =
        parse("{\"version\":1,\"socket\":{\"path\":\"/s\",\"token\":\"t\"},"
              "\"defaults\":{\"security\":\"allowlist\",\"ask\":\"on-miss\","
              "\"askFallback\":\"deny\",\"autoAllowSkills\":true},"
              "\"agents\":{\"main\":{\"security\":\"full\",\"allowlist\":[{\"pattern\":"
              "\"/bin/ls\",\"id\":\"e1\",\"source\":\"allow-always\",\"argPattern\":\"-la\","
              "\"lastUsedAt\":1}]}}}");
    char err[256];
    assert_int_equal(cg_exec_policy_validate(ok, err, sizeof err), 0);
    json_decref(ok);
    expect_invalid("{\"version\":2}", "at /file/version: must be equal to constant");
    expect_invalid("{\"defaults\":{}}", "at /file: must have required property 'version'");
    expect_invalid("{\"version\":1,\"agents\":{\"main\":{\"allowlist\":\"x\"}}}",
                   "at /file/agents/main/allowlist: must be array");
    expect_invalid("{\"version\":1,\"defaults\":{\"security\":\"bogus\"}}",
                   "/file/defaults/security: must be one of deny, allowlist, full");
    expect_invalid("{\"version\":1,\"agents\":{\"main\":{\"ask\":\"sometimes\"}}}",
                   "/file/agents/main/ask: must be one of off, on-miss, always");
    expect_invalid("{\"version\":1,\"defaults\":{\"askFallback\":\"ask\"}}", "askFallback");
    expect_invalid("{\"version\":1,\"agents\":{\"main\":{\"allowlist\":[{\"id\":\"x\"}]}}}",
                   "must have required property 'pattern'");
    expect_invalid("{\"version\":1,\"agents\":{\"main\":{\"allowlist\":[{\"pattern\":\" \"}]}}}",
                   "pattern: must be a non-empty string");
    expect_invalid("{\"version\":1,\"agents\":{\"main\":{\"allowlist\":[{\"pattern\":\"a\","
                   "\"source\":\"manual\"}]}}}",
                   "source must be \"allow-always\"");
    expect_invalid("{\"version\":1,\"extra\":1}", "unexpected property 'extra'");
    expect_invalid("{\"version\":1,\"defaults\":{\"autoAllowSkills\":\"yes\"}}",
                   "autoAllowSkills: must be boolean");
}

static void test_normalize_hash_view(void **state)
{
    json_t *in =
        parse("{\"version\":1,\"socket\":{\"path\":\" /s \",\"token\":\"secret\"},"
              "\"agents\":{\"main\":{\"allowlist\":[{\"commandText\":\"ls\",\"argPattern\":"
              "\"-l\",\"pattern\":\"/bin/ls\"}]}}}");
    json_t *n = cg_exec_policy_normalize(in);
    /* defaults and agents always there; entry keys in OpenClaw's order, id added after
     * pattern, commandText dropped; socket strings trimmed. */
    json_t *entry = json_array_get(
        json_object_get(json_object_get(json_object_get(n, "agents"), "main"), "allowlist"), 0);
    const char *keys[3];
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(entry, k, v)
    {
        if (i < 3) keys[i] = k;
        i++;
    }
    assert_int_equal(i, 3);
    assert_string_equal(keys[0], "pattern");
    assert_string_equal(keys[1], "id");
    assert_string_equal(keys[2], "argPattern");
    assert_int_equal(strlen(json_string_value(json_object_get(entry, "id"))), 36);
    assert_true(json_is_object(json_object_get(n, "defaults")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(n, "socket"), "path")),
                        "/s");
    json_t *view = cg_exec_policy_view(n);
    assert_null(json_object_get(json_object_get(view, "socket"), "token"));
    assert_non_null(json_object_get(json_object_get(n, "socket"), "token"));
    size_t len;
    char *text = cg_exec_policy_serialize(n, &len);
    assert_int_equal(text[len - 1], '\n');
    assert_non_null(strstr(text, "\n  \"version\": 1,"));
    free(text);
    char hash[CG_EXEC_HASH_LEN];
    cg_exec_policy_hash(NULL, 0, hash);
    assert_string_equal(hash,
                        "missing:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cg_exec_policy_hash("abc", 3, hash);
    assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    json_decref(view);
    json_decref(n);
    json_decref(in);
}

static void test_resolve(void **state)
{
    json_t *empty = cg_exec_policy_empty();
    cg_exec_resolved r = cg_exec_policy_resolve(empty, NULL);
    assert_int_equal(r.security, CG_EXEC_SEC_FULL);
    assert_int_equal(r.ask, CG_EXEC_ASK_OFF);
    assert_int_equal(r.ask_fallback, CG_EXEC_SEC_DENY);
    assert_false(r.auto_allow_skills);
    json_t *d = cg_exec_policy_resolved_defaults(empty);
    assert_string_equal(json_string_value(json_object_get(d, "security")), "full");
    assert_string_equal(json_string_value(json_object_get(d, "ask")), "off");
    assert_string_equal(json_string_value(json_object_get(d, "askFallback")), "deny");
    assert_true(json_is_false(json_object_get(d, "autoAllowSkills")));
    json_decref(d);
    json_decref(empty);

    json_t *f = parse("{\"version\":1,\"defaults\":{\"security\":\"allowlist\",\"ask\":\"off\"},"
                      "\"agents\":{\"*\":{\"ask\":\"on-miss\"},\"ops\":{\"security\":\"deny\"},"
                      "\"dev\":{\"security\":\"full\",\"ask\":\"always\"}}}");
    r = cg_exec_policy_resolve(f, NULL); /* no agent: "*" over defaults */
    assert_int_equal(r.security, CG_EXEC_SEC_ALLOWLIST);
    assert_int_equal(r.ask, CG_EXEC_ASK_ON_MISS);
    r = cg_exec_policy_resolve(f, "ops");
    assert_int_equal(r.security, CG_EXEC_SEC_DENY);
    assert_int_equal(r.ask, CG_EXEC_ASK_ON_MISS);
    r = cg_exec_policy_resolve(f, "dev");
    assert_int_equal(r.security, CG_EXEC_SEC_FULL);
    assert_int_equal(r.ask, CG_EXEC_ASK_ALWAYS);
    json_decref(f);
}

static void test_glob(void **state)
{
    assert_true(cg_exec_glob_match("/usr/bin/*", "/usr/bin/echo"));
    assert_false(cg_exec_glob_match("/usr/bin/*", "/usr/bin/sub/echo"));
    assert_true(cg_exec_glob_match("/usr/**", "/usr/bin/sub/echo"));
    assert_true(cg_exec_glob_match("ec?o", "echo"));
    assert_false(cg_exec_glob_match("ec?o", "ec/o"));
    assert_true(cg_exec_glob_match("*", "anything"));
    assert_false(cg_exec_glob_match("echo", "echoo"));
    assert_true(cg_exec_glob_match("", ""));
    /* Many stars do not blow up (dynamic programming, not backtracking). */
    assert_false(cg_exec_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b",
                                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_arg_hash(void **state)
{
    /* OpenClaw's buildCwdBoundHashedArgPattern(["echo","hi"], "/tmp"), computed by node:
     * sha256("4\0/tmp\0" + "1\0" + "2\0hi\0"). */
    json_t *argv = parse("[\"echo\",\"hi\"]");
    char h[CG_EXEC_ARG_HASH_LEN], h2[CG_EXEC_ARG_HASH_LEN];
    cg_exec_arg_hash(argv, "/tmp", h);
    char subject[] = "4\0/tmp\0001\0002\0hi";
    char expected[CG_EXEC_HASH_LEN];
    cg_exec_policy_hash(subject, sizeof subject, expected);
    assert_string_equal(h + 19, expected);
    assert_memory_equal(h, "sha256:cwd-argv:v1:", 19);
    cg_exec_arg_hash(argv, "/tmp/./", h2); /* normalized like path.posix.normalize */
    assert_string_not_equal(h, h2);        /* trailing slash kept: "/tmp/" */
    cg_exec_arg_hash(argv, "//tmp/x/..", h2);
    assert_string_equal(h, h2);
    cg_exec_arg_hash(argv, NULL, h2);
    assert_string_not_equal(h, h2);
    json_decref(argv);
}

static void test_evaluate_and_allow_always(void **state)
{
    json_t *f = parse("{\"version\":1,\"defaults\":{\"security\":\"allowlist\",\"ask\":\"off\"},"
                      "\"agents\":{\"main\":{\"allowlist\":[{\"pattern\":\"ls\"},{\"pattern\":"
                      "\"/usr/bin/*\",\"argPattern\":\"^-v\"}]},"
                      "\"ops\":{\"security\":\"deny\"},\"ask\":{\"ask\":\"on-miss\"}}}");
    json_t *ls = parse("[\"ls\",\"-la\"]"), *abs_ls = parse("[\"/bin/ls\"]");
    json_t *v1 = parse("[\"/usr/bin/git\",\"-v\"]"), *v2 = parse("[\"/usr/bin/git\",\"x\"]");
    json_t *echo = parse("[\"echo\",\"hi\"]");
    cg_exec_verdict v = cg_exec_policy_evaluate(f, "main", ls, "/tmp");
    assert_int_equal(v.decision, CG_EXEC_DECIDE_ALLOW);
    /* A bare pattern names a bare command, not a path to one. */
    v = cg_exec_policy_evaluate(f, "main", abs_ls, "/tmp");
    assert_int_equal(v.decision, CG_EXEC_DECIDE_REFUSE);
    assert_string_equal(v.reason, "allowlist-miss");
    assert_string_equal(v.message, "SYSTEM_RUN_DENIED: allowlist miss");
    assert_int_equal(cg_exec_policy_evaluate(f, "main", v1, NULL).decision, CG_EXEC_DECIDE_ALLOW);
    assert_int_equal(cg_exec_policy_evaluate(f, "main", v2, NULL).decision, CG_EXEC_DECIDE_REFUSE);
    /* No agent: defaults, without main's allowlist. */
    assert_int_equal(cg_exec_policy_evaluate(f, NULL, ls, NULL).decision, CG_EXEC_DECIDE_REFUSE);
    v = cg_exec_policy_evaluate(f, "ops", ls, NULL);
    assert_int_equal(v.decision, CG_EXEC_DECIDE_REFUSE);
    assert_string_equal(v.reason, "security-deny");
    assert_int_equal(cg_exec_policy_evaluate(f, "ask", echo, "/tmp").decision, CG_EXEC_DECIDE_ASK);

    /* allow-always: bound to argv and cwd, under the agent (or "*"), once. */
    json_t *g = cg_exec_policy_add_allow_always(f, "ask", echo, "/tmp", 1234);
    assert_non_null(g);
    json_t *entry = json_array_get(
        json_object_get(json_object_get(json_object_get(g, "agents"), "ask"), "allowlist"), 0);
    assert_string_equal(json_string_value(json_object_get(entry, "pattern")), "echo");
    assert_string_equal(json_string_value(json_object_get(entry, "source")), "allow-always");
    assert_int_equal(json_integer_value(json_object_get(entry, "lastUsedAt")), 1234);
    char h[CG_EXEC_ARG_HASH_LEN];
    cg_exec_arg_hash(echo, "/tmp", h);
    assert_string_equal(json_string_value(json_object_get(entry, "argPattern")), h);
    char err[256];
    assert_int_equal(cg_exec_policy_validate(g, err, sizeof err), 0);
    assert_null(cg_exec_policy_add_allow_always(g, "ask", echo, "/tmp", 99)); /* already there */
    assert_int_equal(cg_exec_policy_evaluate(g, "ask", echo, "/tmp").decision,
                     CG_EXEC_DECIDE_ALLOW);
    assert_int_equal(cg_exec_policy_evaluate(g, "ask", echo, "/var").decision, CG_EXEC_DECIDE_ASK);
    json_t *other = parse("[\"echo\",\"bye\"]"), *renamed = parse("[\"/bin/echo\",\"hi\"]");
    assert_int_equal(cg_exec_policy_evaluate(g, "ask", other, "/tmp").decision, CG_EXEC_DECIDE_ASK);
    assert_int_equal(cg_exec_policy_evaluate(g, "ask", renamed, "/tmp").decision,
                     CG_EXEC_DECIDE_ASK);
    assert_int_equal(cg_exec_policy_evaluate(g, "main", echo, "/tmp").decision,
                     CG_EXEC_DECIDE_REFUSE); /* another agent's entry does not count */
    json_t *w = cg_exec_policy_add_allow_always(f, NULL, echo, NULL, 1);
    assert_non_null(json_object_get(json_object_get(w, "agents"), "*"));
    assert_int_equal(cg_exec_policy_evaluate(w, "main", echo, NULL).decision,
                     CG_EXEC_DECIDE_ALLOW); /* "*" applies to every agent */

    /* askFallback, never above security. */
    cg_exec_verdict fb = {
        .policy = {CG_EXEC_SEC_ALLOWLIST, CG_EXEC_ASK_ON_MISS, CG_EXEC_SEC_FULL, false}};
    assert_false(cg_exec_policy_fallback_allows(&fb));
    fb.allowlist_hit = true;
    assert_true(cg_exec_policy_fallback_allows(&fb));
    fb.policy.security = CG_EXEC_SEC_FULL;
    fb.allowlist_hit = false;
    assert_true(cg_exec_policy_fallback_allows(&fb));
    fb.policy.ask_fallback = CG_EXEC_SEC_DENY;
    assert_false(cg_exec_policy_fallback_allows(&fb));
    json_t *all[] = {f, ls, abs_ls, v1, v2, echo, g, other, renamed, w};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        json_decref(all[i]);
}

/* ---- the pending approvals ---- */

static int swept, dropped;
static void count_expired(cg_approval *ap, void *ctx)
{
    assert_null(ap->decision);
    assert_string_equal(ap->terminal_reason, "timeout");
    swept++;
}
static void count_dropped(cg_approval *ap, void *ctx)
{
    dropped++;
}

static void test_registry(void **state)
{
    cg_approvals *a = cg_approvals_new();
    cg_approval *ap, *found;
    assert_true(cg_approval_id_valid("fixture-approval-1"));
    assert_false(cg_approval_id_valid("a b"));
    assert_false(cg_approval_id_valid(".."));
    assert_false(cg_approval_id_valid("plugin:x"));
    assert_int_equal(cg_approvals_add(a, "abc-1", json_object(), 1000, 0, "c1", NULL, &ap),
                     CG_APPROVALS_ADDED);
    assert_int_equal(ap->expires_at_ms, 1000);
    assert_int_equal(cg_approvals_add(a, "abc-1", json_object(), 1000, 0, "c1", NULL, &found),
                     CG_APPROVALS_DUPLICATE);
    assert_int_equal(cg_approvals_add(a, "abc-2", json_object(), 5000000000LL, 0, "c1", NULL, &ap),
                     CG_APPROVALS_ADDED);
    assert_int_equal(ap->expires_at_ms, CG_APPROVAL_MAX_TIMEOUT_MS); /* clamped */
    /* Exact, unique prefix, ambiguous prefix. */
    assert_int_equal(cg_approvals_find(a, "abc-1", CG_APPROVAL_PENDING, NULL, NULL, &found),
                     CG_APPROVAL_FOUND);
    assert_int_equal(cg_approvals_find(a, "abc-2", CG_APPROVAL_PENDING, NULL, NULL, &found),
                     CG_APPROVAL_FOUND);
    assert_int_equal(cg_approvals_find(a, "abc", CG_APPROVAL_PENDING, NULL, NULL, &found),
                     CG_APPROVAL_AMBIGUOUS);
    assert_int_equal(cg_approvals_find(a, "zzz", CG_APPROVAL_PENDING, NULL, NULL, &found),
                     CG_APPROVAL_MISSING);
    /* Expiry, then the grace, then gone. */
    assert_int_equal(cg_approvals_next_due(a), 1000);
    cg_approvals_sweep(a, 999, count_expired, count_dropped, NULL);
    assert_int_equal(swept, 0);
    cg_approvals_sweep(a, 1000, count_expired, count_dropped, NULL);
    assert_int_equal(swept, 1);
    assert_int_equal(cg_approvals_pending_count(a), 1);
    assert_int_equal(cg_approvals_find(a, "abc-1", CG_APPROVAL_DECIDED, NULL, NULL, &found),
                     CG_APPROVAL_FOUND);
    assert_int_equal(cg_approvals_next_due(a), 1000 + CG_APPROVAL_GRACE_MS);
    cg_approvals_sweep(a, 1000 + CG_APPROVAL_GRACE_MS, count_expired, count_dropped, NULL);
    assert_int_equal(dropped, 1);
    assert_int_equal(cg_approvals_find(a, "abc-1", CG_APPROVAL_DECIDED, NULL, NULL, &found),
                     CG_APPROVAL_MISSING);
    /* The cap. */
    for (int i = 1; i < CG_APPROVALS_MAX_PENDING; i++)
        assert_int_equal(cg_approvals_add(a, NULL, json_object(), 1000, 0, NULL, NULL, &ap),
                         CG_APPROVALS_ADDED);
    assert_int_equal(cg_approvals_add(a, NULL, json_object(), 1000, 0, NULL, NULL, &ap),
                     CG_APPROVALS_FULL);
    cg_approvals_free(a);
}

/* ---- the gate ---- */

typedef struct gate_fixture {
    char dir[64];
    uv_loop_t loop;
    cg_config *cfg;
    cg_gateway gw;
    cg_conn *approver; /* an approval client (Control UI, admin) */
    cg_conn *caller;   /* the operator calling node.invoke */
} gate_fixture;

static int gate_calls;
static bool gate_allowed;
static char gate_reason[64];

static void on_gate(bool allowed, const json_t *error, void *data)
{
    assert_ptr_equal(data, &gate_calls);
    gate_calls++;
    gate_allowed = allowed;
    const char *reason =
        json_string_value(json_object_get(json_object_get(error, "details"), "reason"));
    snprintf(gate_reason, sizeof gate_reason, "%s", reason ? reason : "");
    if (!allowed)
        assert_string_equal(json_string_value(json_object_get(error, "code")), "INVALID_REQUEST");
}

static cg_conn *fake_conn(cg_gateway *gw, const char *id, const char *client_id, unsigned scopes)
{
    cg_conn *c = cg_xcalloc(1, sizeof *c);
    c->gw = gw;
    c->refs = 1;
    c->role = CG_ROLE_OPERATOR;
    c->scopes = scopes;
    snprintf(c->conn_id, sizeof c->conn_id, "%s", id);
    snprintf(c->client_ip, sizeof c->client_ip, "127.0.0.1");
    c->params = json_pack("{s:{s:s, s:s}}", "client", "id", client_id, "mode", "webchat");
    cg_clients_authenticated(c);
    return c;
}

static void write_policy(const char *dir, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/exec-approvals.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static gate_fixture *gate_setup(const char *policy, bool with_approver)
{
    gate_fixture *f = cg_xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cg-exec-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    if (policy) write_policy(f->dir, policy);
    uv_loop_init(&f->loop);
    char err[256];
    cg_overrides ov = {.state_dir = f->dir};
    f->cfg = cg_config_new(&ov, err, sizeof err);
    assert_non_null(f->cfg);
    f->gw.loop = &f->loop;
    f->gw.cfg = f->cfg;
    cg_clients_init(&f->gw);
    cg_pending_init(&f->gw);
    assert_int_equal(cg_methods_exec_approvals_attach(&f->gw, err, sizeof err), 0);
    if (with_approver)
        f->approver = fake_conn(&f->gw, "approver", "openclaw-control-ui",
                                CG_SCOPEBIT_ADMIN | CG_SCOPEBIT_APPROVALS);
    f->caller = fake_conn(&f->gw, "caller", "cli", CG_SCOPEBIT_WRITE);
    gate_calls = 0;
    gate_reason[0] = 0;
    return f;
}

static void gate_teardown(gate_fixture *f)
{
    cg_conn *conns[] = {f->approver, f->caller};
    for (size_t i = 0; i < 2; i++) {
        if (!conns[i]) continue;
        cg_clients_closed(conns[i]);
        cg_conn_data_free(conns[i]);
        json_decref(conns[i]->params);
        free(conns[i]);
    }
    cg_gateway_data_free(&f->gw);
    cg_pending_free(&f->gw);
    cg_clients_free(&f->gw);
    uv_close((uv_handle_t *)&f->gw.pending_timer, NULL);
    uv_close((uv_handle_t *)&f->gw.closing_timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    cg_config_free(f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

static cg_exec_gate_status check(gate_fixture *f, const char *run_params, cg_exec_gate **gate,
                                 json_t **error)
{
    json_t *p = parse(run_params);
    cg_exec_gate_status s =
        cg_exec_gate_check(&f->gw, f->caller, "node-1", p, on_gate, &gate_calls, gate, error);
    json_decref(p);
    return s;
}

static void test_gate_refuse_and_allow(void **state)
{
    gate_fixture *f = gate_setup("{\"version\":1,\"defaults\":{\"security\":\"allowlist\","
                                 "\"ask\":\"off\"},\"agents\":{\"main\":{\"allowlist\":"
                                 "[{\"pattern\":\"uname\"}]},\"ops\":{\"security\":\"deny\"},"
                                 "\"dev\":{\"security\":\"full\"}}}",
                                 true);
    cg_exec_gate *gate;
    json_t *error;
    assert_int_equal(
        check(f, "{\"command\":[\"uname\",\"-a\"],\"agentId\":\"main\"}", &gate, &error),
        CG_EXEC_GATE_ALLOW);
    assert_null(gate);
    assert_null(error);
    assert_int_equal(
        check(f, "{\"command\":[\"rm\",\"-rf\",\"/\"],\"agentId\":\"main\"}", &gate, &error),
        CG_EXEC_GATE_REFUSE);
    assert_string_equal(json_string_value(json_object_get(error, "code")), "INVALID_REQUEST");
    assert_string_equal(json_string_value(json_object_get(error, "message")),
                        "SYSTEM_RUN_DENIED: allowlist miss");
    json_t *details = json_object_get(error, "details");
    assert_string_equal(json_string_value(json_object_get(details, "reason")), "allowlist-miss");
    assert_string_equal(json_string_value(json_object_get(details, "agentId")), "main");
    json_decref(error);
    assert_int_equal(check(f, "{\"command\":[\"uname\"],\"agentId\":\"ops\"}", &gate, &error),
                     CG_EXEC_GATE_REFUSE);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(error, "details"), "reason")),
        "security-deny");
    json_decref(error);
    assert_int_equal(check(f, "{\"command\":[\"anything\"],\"agentId\":\"dev\"}", &gate, &error),
                     CG_EXEC_GATE_ALLOW);
    /* No agent: the defaults (allowlist, ask off), without main's allowlist. */
    assert_int_equal(check(f, "{\"command\":[\"uname\"]}", &gate, &error), CG_EXEC_GATE_REFUSE);
    json_decref(error);
    /* Bad run params. */
    assert_int_equal(check(f, "{\"command\":\"uname -a\"}", &gate, &error), CG_EXEC_GATE_REFUSE);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(error, "details"), "reason")),
        "invalid-command");
    json_decref(error);
    assert_int_equal(check(f, "{\"command\":[]}", &gate, &error), CG_EXEC_GATE_REFUSE);
    json_decref(error);
    assert_int_equal(gate_calls, 0);
    gate_teardown(f);
}

static void test_gate_without_approver(void **state)
{
    /* No approval client connected: refused at once (askFallback deny)... */
    gate_fixture *f = gate_setup("{\"version\":1,\"defaults\":{\"security\":\"full\","
                                 "\"ask\":\"always\"},\"agents\":{\"lenient\":{\"askFallback\":"
                                 "\"full\"}}}",
                                 false);
    cg_exec_gate *gate;
    json_t *error;
    assert_int_equal(check(f, "{\"command\":[\"echo\"]}", &gate, &error), CG_EXEC_GATE_REFUSE);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(error, "details"), "reason")),
        "no-approval-route");
    json_decref(error);
    /* ...unless askFallback lets it run unanswered. */
    assert_int_equal(check(f, "{\"command\":[\"echo\"],\"agentId\":\"lenient\"}", &gate, &error),
                     CG_EXEC_GATE_ALLOW);
    /* The caller itself is no approver, even when it could be one. */
    f->caller->scopes = CG_SCOPEBIT_ADMIN;
    json_decref(f->caller->params);
    f->caller->params =
        json_pack("{s:{s:s, s:s}}", "client", "id", "openclaw-control-ui", "mode", "webchat");
    assert_int_equal(check(f, "{\"command\":[\"echo\"]}", &gate, &error), CG_EXEC_GATE_REFUSE);
    json_decref(error);
    assert_int_equal(gate_calls, 0);
    gate_teardown(f);
}

static void test_gate_broken_file(void **state)
{
    /* A file that does not validate: every command is refused (fail-closed). */
    gate_fixture *f = gate_setup("{\"version\":1,\"defaults\":{\"security\":\"nope\"}}", true);
    cg_exec_gate *gate;
    json_t *error;
    assert_int_equal(check(f, "{\"command\":[\"echo\"]}", &gate, &error), CG_EXEC_GATE_REFUSE);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(error, "details"), "reason")),
        "security-deny");
    json_decref(error);
    gate_teardown(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_normalize_hash_view),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_arg_hash),
        cmocka_unit_test(test_evaluate_and_allow_always),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_gate_refuse_and_allow),
        cmocka_unit_test(test_gate_without_approver),
        cmocka_unit_test(test_gate_broken_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
