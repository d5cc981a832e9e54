/* What modules attach to connections with (gateway/clients.c, gateway.h): the connId map,
 * lifecycle hooks in order, per-module data and its release; and the string map under
 * the connId map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/strmap.h"
#include "gateway/gateway_int.h"

static void test_strmap(void **state)
{
    cg_strmap *m = cg_strmap_new();
    static int values[5000];
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "conn-%d", i);
        cg_strmap_set(m, key, &values[i]);
    }
    assert_int_equal(cg_strmap_size(m), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "conn-%d", i);
        assert_ptr_equal(cg_strmap_remove(m, key), &values[i]);
    }
    assert_int_equal(cg_strmap_size(m), 2500);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "conn-%d", i);
        assert_ptr_equal(cg_strmap_get(m, key), i % 2 ? &values[i] : NULL);
    }
    /* Reuse after removals (tombstones) and replacement. */
    for (int round = 0; round < 20; round++) {
        cg_strmap_set(m, "churn", &values[round]);
        assert_ptr_equal(cg_strmap_get(m, "churn"), &values[round]);
        assert_ptr_equal(cg_strmap_remove(m, "churn"), &values[round]);
    }
    cg_strmap_set(m, "conn-1", &values[0]);
    assert_ptr_equal(cg_strmap_get(m, "conn-1"), &values[0]);
    assert_int_equal(cg_strmap_size(m), 2500);
    assert_null(cg_strmap_remove(m, "absent"));
    cg_strmap_free(m);
}

typedef struct seen {
    cg_conn *conn;
    cg_conn_event ev;
    bool found_in_map; /* what cg_gateway_find_conn said during the hook */
} seen;

static seen events[8];
static size_t n_events;

static void hook(cg_gateway *gw, cg_conn *c, cg_conn_event ev, void *data)
{
    assert_ptr_equal(data, &n_events);
    events[n_events++] = (seen){c, ev, cg_gateway_find_conn(gw, cg_conn_id(c)) == c};
}

static int freed;
static void free_counted(void *data)
{
    freed++;
    free(data);
}

static const cg_conn_key module_a = {.name = "a", .free_data = free_counted};
static const cg_conn_key module_b = {.name = "b", .free_data = free_counted};

static cg_conn *fake_conn(cg_gateway *gw, const char *id)
{
    cg_conn *c = cg_xcalloc(1, sizeof *c);
    c->gw = gw;
    c->refs = 1;
    snprintf(c->conn_id, sizeof c->conn_id, "%s", id);
    snprintf(c->client_ip, sizeof c->client_ip, "127.0.0.1");
    c->params = json_pack("{s:{s:s, s:s}, s:[s]}", "client", "id", "test", "mode", "test", "caps",
                          "browser");
    return c;
}

static void test_hooks_map_and_data(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cg_gateway gw = {.loop = &loop};
    cg_clients_init(&gw);
    cg_gateway_add_conn_hook(&gw, hook, &n_events);
    cg_conn *a = fake_conn(&gw, "conn-a"), *b = fake_conn(&gw, "conn-b");

    cg_clients_authenticated(a);
    cg_clients_authenticated(b);
    assert_int_equal(cg_gateway_conn_count(&gw), 2);
    assert_ptr_equal(cg_gateway_find_conn(&gw, "conn-a"), a);
    assert_ptr_equal(cg_gateway_find_conn(&gw, "conn-b"), b);
    assert_null(cg_gateway_find_conn(&gw, "conn-c"));
    assert_string_equal(cg_conn_client_mode(a), "test");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(cg_conn_params(a), "caps"), 0)),
        "browser");

    /* Module data: per key, replaced (old freed), released with the connection. */
    cg_conn_set_data(a, &module_a, strdup("first"));
    cg_conn_set_data(a, &module_b, strdup("other module"));
    assert_string_equal(cg_conn_get_data(a, &module_a), "first");
    cg_conn_set_data(a, &module_a, strdup("second"));
    assert_int_equal(freed, 1);
    assert_string_equal(cg_conn_get_data(a, &module_a), "second");
    assert_string_equal(cg_conn_get_data(a, &module_b), "other module");
    assert_null(cg_conn_get_data(b, &module_a));

    cg_clients_closed(a);
    assert_null(cg_gateway_find_conn(&gw, "conn-a"));
    assert_int_equal(cg_gateway_conn_count(&gw), 1);
    assert_string_equal(cg_conn_get_data(a, &module_a), "second"); /* still there for hooks */
    cg_conn_data_free(a);
    assert_int_equal(freed, 3);

    assert_int_equal(n_events, 3);
    assert_ptr_equal(events[0].conn, a);
    assert_int_equal(events[0].ev, CG_CONN_AUTHENTICATED);
    assert_true(events[0].found_in_map); /* registered before the hook runs */
    assert_ptr_equal(events[1].conn, b);
    assert_ptr_equal(events[2].conn, a);
    assert_int_equal(events[2].ev, CG_CONN_CLOSED);
    assert_false(events[2].found_in_map); /* gone from the map before the hook runs */

    cg_clients_closed(b);
    cg_conn_unref(a);
    cg_conn_unref(b);
    uv_close((uv_handle_t *)&gw.closing_timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    cg_clients_free(&gw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strmap),
        cmocka_unit_test(test_hooks_map_and_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
