/* The pending-request registry (gateway/request.c): deadlines fire in order on a real
 * loop, a closing connection ends its requests, shutdown ends them all, caps refuse,
 * and every end runs the owner's hook exactly once. The connections here are not
 * connected, so nothing is sent; what a client receives is covered by the integration
 * tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "gateway/gateway_int.h"

typedef struct ended {
    char id[16];
    cg_req_end why;
} ended;

static ended ends[CG_REQ_MAX_PENDING_PER_CONN * 2];
static size_t n_ends;

static void on_cancel(cg_req *req, cg_req_end why, void *data)
{
    snprintf(ends[n_ends].id, sizeof ends[n_ends].id, "%s", req->id);
    ends[n_ends].why = why;
    n_ends++;
    assert_ptr_equal(data, &n_ends);
    assert_non_null(req->params); /* still readable in the hook */
}

static const cg_method slow_method = {.name = "test.slow", .timeout_ms = 60000};

typedef struct fixture {
    uv_loop_t loop;
    cg_gateway gw;
    cg_conn *conn;
} fixture;

static cg_conn *new_conn(cg_gateway *gw)
{
    cg_conn *c = cg_xcalloc(1, sizeof *c);
    c->gw = gw;
    c->refs = 1;
    c->phase = CG_PHASE_WS;
    return c;
}

static int setup(void **state)
{
    fixture *f = cg_xcalloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    f->gw.loop = &f->loop;
    cg_pending_init(&f->gw);
    f->conn = new_conn(&f->gw);
    n_ends = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    uv_close((uv_handle_t *)&f->gw.pending_timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_loop_close(&f->loop);
    cg_pending_free(&f->gw);
    cg_conn_unref(f->conn);
    free(f);
    return 0;
}

/* Defers a request with this id and timeout; the hook records its end. */
static cg_req *defer(fixture *f, cg_conn *c, const char *id, uint64_t timeout_ms)
{
    cg_req req = {.gw = &f->gw,
                  .conn = c,
                  .method = &slow_method,
                  .id = cg_strdup(id),
                  .params = json_pack("{s:s}", "id", id)};
    cg_req *p = cg_req_defer(&req);
    if (!p) {
        free(req.id);
        json_decref(req.params);
        return NULL;
    }
    assert_null(req.id); /* the original gave everything to the copy */
    if (timeout_ms) cg_req_set_timeout(p, timeout_ms);
    cg_req_on_cancel(p, on_cancel, &n_ends);
    return p;
}

static void test_deadlines_fire_in_order(void **state)
{
    fixture *f = *state;
    defer(f, f->conn, "c", 60);
    defer(f, f->conn, "a", 20);
    cg_req *b = defer(f, f->conn, "b", 40);
    defer(f, f->conn, "late", 60000);
    assert_int_equal(f->gw.n_pending, 4);
    assert_int_equal(f->conn->n_pending, 4);
    assert_int_equal(f->conn->refs, 5); /* each pending request holds the connection */
    cg_req_set_timeout(b, 10);          /* moves ahead of a */
    while (n_ends < 3)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_string_equal(ends[0].id, "b");
    assert_string_equal(ends[1].id, "a");
    assert_string_equal(ends[2].id, "c");
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(ends[i].why, CG_REQ_END_TIMEOUT);
    assert_int_equal(f->gw.n_pending, 1);
    assert_int_equal(f->conn->refs, 2);
    cg_pending_shutdown(&f->gw);
    assert_int_equal(n_ends, 4);
    assert_string_equal(ends[3].id, "late");
    assert_int_equal(ends[3].why, CG_REQ_END_SHUTDOWN);
}

static void test_answer_leaves_the_registry_without_the_hook(void **state)
{
    fixture *f = *state;
    cg_req *p = defer(f, f->conn, "x", 0);
    cg_req *q = defer(f, f->conn, "y", 0);
    cg_req_accept(p, json_pack("{s:s}", "status", "accepted")); /* intermediate: stays */
    assert_int_equal(f->gw.n_pending, 2);
    cg_req_ok(p, json_pack("{s:b}", "done", 1));
    cg_req_error(q, "INVALID_REQUEST", "no", NULL);
    assert_int_equal(f->gw.n_pending, 0);
    assert_int_equal(f->conn->n_pending, 0);
    assert_null(f->conn->pending_head);
    assert_int_equal(n_ends, 0); /* answered by the owner: no cancel */
    assert_int_equal(f->conn->refs, 1);
}

static void test_close_ends_only_that_connection(void **state)
{
    fixture *f = *state;
    cg_conn *other = new_conn(&f->gw);
    defer(f, f->conn, "mine1", 0);
    defer(f, other, "theirs", 0);
    defer(f, f->conn, "mine2", 0);
    cg_pending_conn_closed(f->conn);
    assert_int_equal(n_ends, 2);
    assert_int_equal(ends[0].why, CG_REQ_END_CLOSED);
    assert_int_equal(ends[1].why, CG_REQ_END_CLOSED);
    assert_true(strncmp(ends[0].id, "mine", 4) == 0 && strncmp(ends[1].id, "mine", 4) == 0);
    assert_int_equal(f->gw.n_pending, 1);
    assert_int_equal(other->n_pending, 1);
    cg_pending_shutdown(&f->gw);
    assert_string_equal(ends[2].id, "theirs");
    cg_conn_unref(other);
}

static void test_caps(void **state)
{
    fixture *f = *state;
    char id[16];
    for (size_t i = 0; i < CG_REQ_MAX_PENDING_PER_CONN; i++) {
        snprintf(id, sizeof id, "r%zu", i);
        assert_non_null(defer(f, f->conn, id, 0));
    }
    assert_null(defer(f, f->conn, "one-too-many", 0)); /* answered UNAVAILABLE, not kept */
    assert_int_equal(f->conn->n_pending, CG_REQ_MAX_PENDING_PER_CONN);
    cg_conn *other = new_conn(&f->gw);
    assert_non_null(defer(f, other, "elsewhere", 0)); /* the cap is per connection */
    cg_pending_shutdown(&f->gw);
    assert_int_equal(n_ends, CG_REQ_MAX_PENDING_PER_CONN + 1);
    cg_conn_unref(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deadlines_fire_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_leaves_the_registry_without_the_hook, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_ends_only_that_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
