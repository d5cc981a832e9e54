/* The JSON budget: hostile width is stopped by the budget, depth is an ordinary error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/json_budget.h"

static int setup(void **state)
{
    cg_json_budget_install();
    return 0;
}

static void test_small_message_parses(void **state)
{
    bool over;
    json_error_t err;
    const char *s = "{\"type\":\"req\",\"id\":\"1\",\"method\":\"health\"}";
    json_t *v = cg_json_parse(s, strlen(s), 1 << 20, &over, &err);
    assert_non_null(v);
    assert_false(over);
    json_decref(v);
}

static void test_wide_message_stops_at_budget(void **state)
{
    /* 4 MiB of [{},{},...] needs far more than 1 MiB of nodes */
    size_t n = 4u << 20;
    char *s = malloc(n + 2);
    s[0] = '[';
    size_t i = 1;
    while (i + 3 < n) {
        memcpy(s + i, "{},", 3);
        i += 3;
    }
    s[i++] = '{';
    s[i++] = '}';
    s[i++] = ']';
    bool over;
    json_error_t err;
    json_t *v = cg_json_parse(s, i, 1u << 20, &over, &err);
    assert_null(v);
    assert_true(over);
    /* the same input fits a large budget */
    v = cg_json_parse(s, i, 1u << 30, &over, &err);
    assert_non_null(v);
    assert_false(over);
    json_decref(v);
    free(s);
}

static void test_deep_message_is_malformed_not_over_budget(void **state)
{
    size_t depth = 3000;
    char *s = malloc(2 * depth + 1);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    bool over;
    json_error_t err;
    json_t *v = cg_json_parse(s, 2 * depth, 1u << 27, &over, &err);
    assert_null(v);
    assert_false(over);
    assert_true(err.text[0] != 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_message_parses),
        cmocka_unit_test(test_wide_message_stops_at_budget),
        cmocka_unit_test(test_deep_message_is_malformed_not_over_budget),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
