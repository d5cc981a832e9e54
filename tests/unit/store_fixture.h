/* A cmocka fixture shared by the unit tests of registries over the state store: a loop,
 * a state store in a fresh temporary directory, and the registry opened on it (through
 * the test's own open/free functions), reopened on demand to prove persistence. Write
 * callbacks count into done_count / last_status. */
#ifndef CG_TESTS_STORE_FIXTURE_H
#define CG_TESTS_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

typedef void *(*store_fixture_open_fn)(cg_store *st, char *err, size_t errlen);
typedef void (*store_fixture_free_fn)(void *registry);

typedef struct store_fixture {
    uv_loop_t loop;
    char dir[64];
    cg_store *store;
    void *registry;
    store_fixture_open_fn open_registry;
    store_fixture_free_fn free_registry;
    int done_count, last_status;
} store_fixture;

static inline void store_fixture_on_done(int status, const char *error, void *data)
{
    store_fixture *f = data;
    f->done_count++;
    f->last_status = status;
}

/* Runs the loop until `n` writes have called store_fixture_on_done. */
static inline void store_fixture_wait(store_fixture *f, int n)
{
    while (f->done_count < n)
        uv_run(&f->loop, UV_RUN_ONCE);
}

/* Runs the loop until every queued write has completed. */
static inline void store_fixture_settle(store_fixture *f)
{
    while (cg_store_pending(f->store))
        uv_run(&f->loop, UV_RUN_ONCE);
}

static inline void store_fixture_open(store_fixture *f)
{
    char err[256];
    f->store = cg_store_open(&f->loop, f->dir, err, sizeof err);
    assert_non_null(f->store);
    f->registry = f->open_registry(f->store, err, sizeof err);
    assert_non_null(f->registry);
}

static inline void store_fixture_close(store_fixture *f)
{
    cg_store_close(f->store);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    f->free_registry(f->registry);
}

/* Closes and opens again on the same database: what a restart would load. */
static inline void store_fixture_reopen(store_fixture *f)
{
    store_fixture_settle(f);
    store_fixture_close(f);
    store_fixture_open(f);
}

static inline int store_fixture_setup(void **state, store_fixture_open_fn open_fn,
                                      store_fixture_free_fn free_fn)
{
    store_fixture *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    snprintf(f->dir, sizeof f->dir, "/tmp/cg-registry-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->open_registry = open_fn;
    f->free_registry = free_fn;
    store_fixture_open(f);
    *state = f;
    return 0;
}

static inline int store_fixture_teardown(void **state)
{
    store_fixture *f = *state;
    store_fixture_close(f);
    uv_loop_close(&f->loop);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

#endif
