/* The method table and authorization: role, then existence, then scope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "gateway/methods.h"

static const char *err_code(json_t *e)
{
    return json_string_value(json_object_get(e, "code"));
}

static const char *err_msg(json_t *e)
{
    return json_string_value(json_object_get(e, "message"));
}

static void test_table_is_consistent(void **state)
{
    const cg_method *m;
    size_t n = 0;
    for (size_t i = 0; (m = cg_method_at(i)); i++, n++) {
        assert_non_null(m->handler);
        assert_true(m->roles == CG_ROLE_OPERATOR || m->roles == CG_ROLE_NODE ||
                    m->roles == (CG_ROLE_OPERATOR | CG_ROLE_NODE));
        /* node-only methods need no operator scope; methods operators may call need one */
        assert_int_equal(m->roles == CG_ROLE_NODE, m->scope == CG_SCOPE_NONE);
        assert_ptr_equal(cg_method_find(m->name), m);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(cg_method_at(j)->name, m->name);
    }
    assert_true(n >= 7);
    assert_null(cg_method_find("no.such.method"));
}

static void test_seed_scopes(void **state)
{
    assert_int_equal(cg_method_find("health")->scope, CG_SCOPE_READ);
    assert_int_equal(cg_method_find("config.get")->scope, CG_SCOPE_READ);
    assert_int_equal(cg_method_find("config.schema")->scope, CG_SCOPE_READ);
    assert_int_equal(cg_method_find("config.set")->scope, CG_SCOPE_ADMIN);
    assert_int_equal(cg_method_find("config.patch")->scope, CG_SCOPE_ADMIN);
    assert_int_equal(cg_method_find("config.apply")->scope, CG_SCOPE_ADMIN);
    assert_int_equal(cg_method_find("logs.tail")->scope, CG_SCOPE_READ);
    assert_int_equal(cg_method_find("node.list")->scope, CG_SCOPE_READ);
    static const char *const pairing[] = {
        "node.pair.list",    "node.pair.approve", "node.pair.reject", "node.pair.remove",
        "node.pair.request", "node.pair.verify",  "node.rename",      NULL};
    for (const char *const *name = pairing; *name; name++)
        assert_int_equal(cg_method_find(*name)->scope, CG_SCOPE_PAIRING);
    /* The seed's request and verify also take a node asking about itself. */
    assert_int_equal(cg_method_find("node.pair.request")->roles, CG_ROLE_OPERATOR | CG_ROLE_NODE);
    assert_int_equal(cg_method_find("node.pair.approve")->roles, CG_ROLE_OPERATOR);
    assert_int_equal(cg_method_find("node.event")->roles, CG_ROLE_NODE);
    /* Listed only when it works (issue 6); real since issue 10, for nodes as OpenClaw's. */
    assert_int_equal(cg_method_find("skills.bins")->roles, CG_ROLE_NODE);
    assert_int_equal(cg_method_find("skills.status")->scope, CG_SCOPE_READ);
    assert_int_equal(cg_method_find("skills.install")->scope, CG_SCOPE_ADMIN);
    assert_int_equal(cg_method_find("skills.update")->scope, CG_SCOPE_ADMIN);
}

static void test_scope_grants(void **state)
{
    unsigned op = CG_ROLE_OPERATOR;
    assert_true(cg_scope_granted(op, CG_SCOPEBIT_READ, CG_SCOPE_READ));
    assert_true(cg_scope_granted(op, CG_SCOPEBIT_WRITE, CG_SCOPE_READ));
    assert_false(cg_scope_granted(op, CG_SCOPEBIT_READ, CG_SCOPE_WRITE));
    assert_false(cg_scope_granted(op, CG_SCOPEBIT_WRITE, CG_SCOPE_ADMIN));
    assert_false(cg_scope_granted(op, CG_SCOPEBIT_PAIRING, CG_SCOPE_APPROVALS));
    assert_true(cg_scope_granted(op, CG_SCOPEBIT_APPROVALS, CG_SCOPE_APPROVALS));
    assert_true(cg_scope_granted(op, CG_SCOPEBIT_PAIRING, CG_SCOPE_PAIRING));
    assert_false(cg_scope_granted(op, 0, CG_SCOPE_READ));
    for (cg_scope s = CG_SCOPE_READ; s <= CG_SCOPE_PAIRING; s++)
        assert_true(cg_scope_granted(op, CG_SCOPEBIT_ADMIN, s));
}

static void test_authorize_order(void **state)
{
    const cg_method *health = cg_method_find("health"), *set = cg_method_find("config.set"),
                    *node_event = cg_method_find("node.event"),
                    *request = cg_method_find("node.pair.request");
    json_t *e;

    assert_null(cg_authorize(CG_ROLE_OPERATOR, CG_SCOPEBIT_READ, "health", health));

    e = cg_authorize(CG_ROLE_OPERATOR, CG_SCOPEBIT_READ | CG_SCOPEBIT_WRITE, "config.set", set);
    assert_string_equal(err_code(e), "FORBIDDEN");
    assert_string_equal(err_msg(e), "missing scope: operator.admin");
    json_t *d = json_object_get(e, "details");
    assert_string_equal(json_string_value(json_object_get(d, "code")), "MISSING_SCOPE");
    assert_string_equal(json_string_value(json_object_get(d, "missingScope")), "operator.admin");
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "requiredScopes"), 0)),
                        "operator.admin");
    json_decref(e);

    e = cg_authorize(CG_ROLE_OPERATOR, 0, "health", health);
    assert_string_equal(err_msg(e), "missing scope: operator.read");
    json_decref(e);

    /* unknown method: admin learns it is unknown, others get missing admin */
    e = cg_authorize(CG_ROLE_OPERATOR, CG_SCOPEBIT_ADMIN, "nope", NULL);
    assert_string_equal(err_code(e), "INVALID_REQUEST");
    assert_string_equal(err_msg(e), "unknown method: nope");
    json_decref(e);
    e = cg_authorize(CG_ROLE_OPERATOR, CG_SCOPEBIT_READ, "nope", NULL);
    assert_string_equal(err_code(e), "FORBIDDEN");
    assert_string_equal(err_msg(e), "missing scope: operator.admin");
    json_decref(e);

    /* role comes first */
    e = cg_authorize(CG_ROLE_NODE, 0, "health", health);
    assert_string_equal(err_msg(e), "unauthorized role: node");
    json_decref(e);
    e = cg_authorize(CG_ROLE_NODE, 0, "nope", NULL);
    assert_string_equal(err_msg(e), "unauthorized role: node");
    json_decref(e);
    assert_null(cg_authorize(CG_ROLE_NODE, 0, "node.event", node_event));
    e = cg_authorize(CG_ROLE_OPERATOR, CG_SCOPEBIT_ADMIN, "node.event", node_event);
    assert_string_equal(err_msg(e), "unauthorized role: operator");
    json_decref(e);
    /* A row for both roles: a node needs no scope, an operator its scope. */
    assert_null(cg_authorize(CG_ROLE_NODE, 0, "node.pair.request", request));
    assert_null(cg_authorize(CG_ROLE_OPERATOR, CG_SCOPEBIT_PAIRING, "node.pair.request", request));
    e = cg_authorize(CG_ROLE_OPERATOR, CG_SCOPEBIT_READ, "node.pair.request", request);
    assert_string_equal(err_msg(e), "missing scope: operator.pairing");
    json_decref(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_consistent),
        cmocka_unit_test(test_seed_scopes),
        cmocka_unit_test(test_scope_grants),
        cmocka_unit_test(test_authorize_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
