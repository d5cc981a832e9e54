/* Unit tests of the state store (store/store.c) on a real libuv loop and real files in a
 * temporary state dir: open creates state.db (and its -wal, -shm) with mode 0600 in WAL
 * mode, tightening leftover files; the schema version is the migration count and
 * reopening changes nothing; a newer schema version is refused; writes complete in
 * submission order, and done runs only once a second connection sees the data; within
 * one group a failing job rolls back alone, a failing COMMIT fails the whole group (and
 * is logged) while later writes go on, and a job that ends the transaction fails the
 * jobs before it and sends the rest to the next group; a full queue refuses on the next
 * loop wakeup; close drains the queue (also from inside a done); reads see acknowledged
 * writes; and kill -9 at a random moment, repeatedly on the same database, keeps it
 * consistent with every acknowledged write present and whole.
 *
 * Jobs that must share one group queue up behind a "blocker" job that holds the writer
 * until the test has queued them. Write functions run on the writer thread, so they
 * only record what they see; the asserts run on the test's thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "common/log.h"
#include "common/util.h"
#include "store/store.h"

/* Holds the writer thread inside a job until released. */
typedef struct gate {
    sem_t started, release;
    bool held;
} gate;

/* `st`, `gate` and `child` let teardown close a store, release the writer and kill a
 * child after a failed assert jumped out of a test, so a failure reports instead of
 * hanging. */
typedef struct fixture {
    char dir[64];
    char db_path[96];
    uv_loop_t loop;
    cg_store *st;
    gate gate;
    pid_t child; /* the kill -9 test's writer, while it runs */
} fixture;

static int setup(void **state)
{
    fixture *f = cg_xcalloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/cg-store-test-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db_path, sizeof f->db_path, "%s/state.db", f->dir);
    if (uv_loop_init(&f->loop) != 0) return -1;
    sem_init(&f->gate.started, 0, 0);
    sem_init(&f->gate.release, 0, 0);
    *state = f;
    return cg_log_open(f->dir, CG_LOG_DEFAULT_MAX_BYTES);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->child > 0) {
        kill(f->child, SIGKILL);
        waitpid(f->child, NULL, 0);
    }
    if (f->gate.held) sem_post(&f->gate.release);
    if (f->st) cg_store_close(f->st);
    sem_destroy(&f->gate.started);
    sem_destroy(&f->gate.release);
    cg_log_close();
    uv_run(&f->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&f->loop);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", f->dir);
    if (system(command) != 0) rc = -1;
    free(f);
    return rc;
}

static cg_store *open_store(fixture *f)
{
    char err[256];
    f->st = cg_store_open(&f->loop, f->dir, err, sizeof err);
    if (!f->st) fail_msg("cg_store_open: %s", err);
    return f->st;
}

static void close_store(fixture *f)
{
    cg_store *st = f->st;
    f->st = NULL;
    cg_store_close(st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* A second connection, as another process would have. */
static sqlite3 *open_probe(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

static bool device_exists(sqlite3 *db, const char *device_id)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM devices WHERE device_id = ?", -1, &stmt, NULL))
        return false;
    sqlite3_bind_text(stmt, 1, device_id, -1, SQLITE_STATIC);
    bool found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return found;
}

static int insert_device(sqlite3 *db, const char *device_id, const char *public_key,
                         int64_t created_at_ms, char *err, size_t errlen)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO devices(device_id, public_key, created_at_ms) "
                                "VALUES(?, ?, ?)",
                                -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, device_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, public_key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, created_at_ms);
        rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return rc == SQLITE_OK ? 0 : -1;
}

/* ---- Test jobs ---- */

typedef enum {
    JOB_INSERT,        /* insert device `id` */
    JOB_INSERT_FAIL,   /* insert device `id`, then fail with "refused by the job" */
    JOB_BAD_FK,        /* deferred foreign-key violation: COMMIT will fail */
    JOB_END_TX,        /* ROLLBACK the whole transaction, then fail */
    JOB_NOTHING,       /* succeed without writing */
    JOB_WRITE_ON_DONE, /* insert `id`; its done queues another insert of `id`-again */
} job_kind;

typedef struct test_job {
    job_kind kind;
    char id[32];
    const char *probe_path; /* set: record whether `unseen` is visible elsewhere */
    const char *unseen;
    cg_store *st; /* for dones that act on the store */
    /* Recorded by fn (writer thread). */
    bool ran;
    bool saw_unseen;
    /* Recorded by done (loop thread). */
    int status;
    char error[256];
    int order; /* position among dones, from 1 */
    bool seen_after_commit;
    struct test_job *chained;
} test_job;

static int done_count;
static const char *done_probe_path; /* set: done checks its row with a new connection */
static bool inside_write;           /* cg_store_write is on the stack */

static int test_fn(sqlite3 *db, void *data, char *err, size_t errlen)
{
    test_job *job = data;
    job->ran = true;
    if (job->probe_path) {
        sqlite3 *probe;
        if (sqlite3_open_v2(job->probe_path, &probe, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
            job->saw_unseen = device_exists(probe, job->unseen);
        sqlite3_close(probe);
    }
    switch (job->kind) {
    case JOB_INSERT:
    case JOB_WRITE_ON_DONE:
        return insert_device(db, job->id, "key", 1, err, errlen);
    case JOB_INSERT_FAIL:
        if (insert_device(db, job->id, "key", 1, err, errlen) != 0) return -1;
        snprintf(err, errlen, "refused by the job");
        return -1;
    case JOB_BAD_FK:
        if (sqlite3_exec(db,
                         "PRAGMA defer_foreign_keys=ON;"
                         "INSERT INTO device_tokens(device_id, role, token, created_at_ms) "
                         "VALUES('no-such-device', 'operator', 't', 1)",
                         NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s", sqlite3_errmsg(db));
            return -1;
        }
        return 0;
    case JOB_END_TX:
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        snprintf(err, errlen, "ended the transaction");
        return -1;
    case JOB_NOTHING:
        return 0;
    }
    return -1;
}

static void test_done(int status, const char *error, void *data)
{
    test_job *job = data;
    assert_false(inside_write);
    job->status = status;
    snprintf(job->error, sizeof job->error, "%s", error ? error : "");
    job->order = ++done_count;
    if (done_probe_path && status == 0) {
        sqlite3 *probe = open_probe(done_probe_path);
        job->seen_after_commit = device_exists(probe, job->id);
        sqlite3_close(probe);
    }
    if (job->kind == JOB_WRITE_ON_DONE) {
        job->chained = cg_xcalloc(1, sizeof *job->chained);
        job->chained->kind = JOB_INSERT;
        snprintf(job->chained->id, sizeof job->chained->id, "%.20s-again", job->id);
        job->chained->status = 99;
        cg_store_write(job->st, test_fn, test_done, job->chained);
    }
}

static void submit(cg_store *st, test_job *job)
{
    job->status = 99;
    job->st = st;
    inside_write = true;
    cg_store_write(st, test_fn, test_done, job);
    inside_write = false;
}

static void run_until_idle(fixture *f, cg_store *st)
{
    while (cg_store_pending(st) > 0)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static int blocker_fn(sqlite3 *db, void *data, char *err, size_t errlen)
{
    gate *g = data;
    sem_post(&g->started);
    sem_wait(&g->release);
    return 0;
}

static void hold_writer(fixture *f)
{
    cg_store_write(f->st, blocker_fn, NULL, &f->gate);
    sem_wait(&f->gate.started);
    f->gate.held = true;
}

static void release_writer(fixture *f)
{
    f->gate.held = false;
    sem_post(&f->gate.release);
}

/* ---- Tests ---- */

static mode_t file_mode(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_mode & 07777;
}

static void test_open_creates_private_wal(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    assert_string_equal(cg_store_path(st), f->db_path);
    assert_int_equal(file_mode(f->db_path), 0600);

    test_job job = {.kind = JOB_INSERT, .id = "dev-1"};
    submit(st, &job);
    run_until_idle(f, st);
    assert_int_equal(job.status, 0);
    char side[128];
    snprintf(side, sizeof side, "%s-wal", f->db_path);
    assert_int_equal(file_mode(side), 0600);
    snprintf(side, sizeof side, "%s-shm", f->db_path);
    assert_int_equal(file_mode(side), 0600);

    sqlite3 *probe = open_probe(f->db_path);
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(probe, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    assert_int_equal(query_int(probe, "PRAGMA user_version"), cg_store_schema_version());
    assert_int_equal(query_int(probe, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                      "AND name IN ('devices', 'device_tokens', "
                                      "'device_pair_requests', 'nodes', 'node_pair_requests')"),
                     5);
    sqlite3_close(probe);
    close_store(f);
}

static void test_open_tightens_leftover_files(void **state)
{
    fixture *f = *state;
    char wal[128];
    snprintf(wal, sizeof wal, "%s-wal", f->db_path);
    int fd = open(f->db_path, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0644), 0);
    close(fd);
    fd = open(wal, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0644), 0);
    close(fd);

    open_store(f);
    assert_int_equal(file_mode(f->db_path), 0600);
    assert_int_equal(file_mode(wal), 0600);
    close_store(f);
}

typedef struct read_count {
    int64_t devices;
} read_count;

static int count_devices(sqlite3 *db, void *data, char *err, size_t errlen)
{
    read_count *rc = data;
    rc->devices = query_int(db, "SELECT count(*) FROM devices");
    return 0;
}

static int failing_read(sqlite3 *db, void *data, char *err, size_t errlen)
{
    return 7;
}

static int schema_text(sqlite3 *db, void *data, char *err, size_t errlen)
{
    sqlite3_stmt *stmt;
    cg_buf *out = data;
    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master ORDER BY name", -1, &stmt, NULL))
        return -1;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        const char *sql = (const char *)sqlite3_column_text(stmt, 0);
        if (sql) cg_buf_appends(out, sql);
    }
    sqlite3_finalize(stmt);
    return 0;
}

static void test_reopen_is_idempotent_and_reads(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    test_job job = {.kind = JOB_INSERT, .id = "dev-1"};
    submit(st, &job);
    run_until_idle(f, st);
    assert_int_equal(job.status, 0);

    /* A read sees the acknowledged write. */
    char err[256];
    read_count count = {0};
    assert_int_equal(cg_store_read(st, count_devices, &count, err, sizeof err), 0);
    assert_int_equal(count.devices, 1);
    assert_int_equal(cg_store_read(st, failing_read, NULL, err, sizeof err), 7);
    assert_string_equal(err, "state store read failed");
    cg_buf before = {0};
    assert_int_equal(cg_store_read(st, schema_text, &before, err, sizeof err), 0);
    close_store(f);

    st = open_store(f);
    count.devices = 0;
    assert_int_equal(cg_store_read(st, count_devices, &count, err, sizeof err), 0);
    assert_int_equal(count.devices, 1);
    cg_buf after = {0};
    assert_int_equal(cg_store_read(st, schema_text, &after, err, sizeof err), 0);
    assert_string_equal(after.data, before.data);
    close_store(f);

    sqlite3 *probe = open_probe(f->db_path);
    assert_int_equal(query_int(probe, "PRAGMA user_version"), cg_store_schema_version());
    sqlite3_close(probe);
    cg_buf_reset(&before);
    cg_buf_reset(&after);
}

/* ---- reads on the thread pool ---- */

typedef struct async_read {
    read_count count;
    int status, calls;
    char error[128];
    bool on_loop_thread;
    uv_thread_t loop_thread;
} async_read;

static void async_read_done(int status, const char *error, void *data)
{
    async_read *r = data;
    uv_thread_t self = uv_thread_self();
    r->on_loop_thread = uv_thread_equal(&self, &r->loop_thread);
    r->status = status;
    r->calls++;
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
}

static int count_devices_slowly(sqlite3 *db, void *data, char *err, size_t errlen)
{
    usleep(20000);
    return count_devices(db, data, err, errlen);
}

static int failing_async_read(sqlite3 *db, void *data, char *err, size_t errlen)
{
    snprintf(err, errlen, "no such thing");
    return -1;
}

/* Reads run off the loop on their own connections, see acknowledged writes, overlap,
 * report failures, and a read in flight at close still completes. */
static void test_read_async(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    test_job job = {.kind = JOB_INSERT, .id = "dev-r"};
    submit(st, &job);
    run_until_idle(f, st);
    assert_int_equal(job.status, 0);

    enum { N = 12 };
    async_read reads[N];
    memset(reads, 0, sizeof reads);
    for (int i = 0; i < N; i++) {
        reads[i].loop_thread = uv_thread_self();
        reads[i].status = 99;
        cg_store_read_async(st, count_devices_slowly, async_read_done, &reads[i]);
        assert_int_equal(reads[i].calls, 0); /* never inside the call */
    }
    async_read bad = {.status = 99, .loop_thread = uv_thread_self()};
    cg_store_read_async(st, failing_async_read, async_read_done, &bad);
    for (int i = 0; i < N; i++)
        while (reads[i].calls == 0)
            uv_run(&f->loop, UV_RUN_ONCE);
    while (bad.calls == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    for (int i = 0; i < N; i++) {
        assert_int_equal(reads[i].calls, 1);
        assert_int_equal(reads[i].status, 0);
        assert_int_equal(reads[i].count.devices, 1);
        assert_true(reads[i].on_loop_thread);
    }
    assert_int_equal(bad.status, -1);
    assert_string_equal(bad.error, "no such thing");

    /* In flight at close: completes after it. */
    async_read late = {.status = 99, .loop_thread = uv_thread_self()};
    cg_store_read_async(st, count_devices_slowly, async_read_done, &late);
    close_store(f);
    assert_int_equal(late.calls, 1);
    assert_int_equal(late.status, 0);
    assert_int_equal(late.count.devices, 1);
}

static void test_newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    open_store(f);
    close_store(f);
    sqlite3 *probe = open_probe(f->db_path);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", cg_store_schema_version() + 1);
    assert_int_equal(sqlite3_exec(probe, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(probe);

    char err[256];
    assert_null(cg_store_open(&f->loop, f->dir, err, sizeof err));
    assert_non_null(strstr(err, "newer than this build knows"));
    assert_non_null(strstr(err, "state.db"));
}

static void test_writes_complete_in_order_after_commit(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    enum { N = 500 };
    test_job *jobs = cg_xcalloc(N, sizeof *jobs);
    done_count = 0;
    done_probe_path = f->db_path;
    for (int i = 0; i < N; i++) {
        jobs[i].kind = JOB_INSERT;
        snprintf(jobs[i].id, sizeof jobs[i].id, "dev-%d", i);
        submit(st, &jobs[i]);
    }
    assert_int_equal(cg_store_pending(st), N);
    run_until_idle(f, st);
    done_probe_path = NULL;
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i].status, 0);
        assert_int_equal(jobs[i].order, i + 1);
        assert_true(jobs[i].seen_after_commit);
    }
    free(jobs);
    close_store(f);
}

static void test_failing_job_rolls_back_alone(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    hold_writer(f);
    /* Queued while the writer is held: one group. b3 checks from another connection
     * that b1 is not committed yet when it runs, so b1 and b3 share a transaction. */
    test_job b1 = {.kind = JOB_INSERT, .id = "b1"};
    test_job b2 = {.kind = JOB_INSERT_FAIL, .id = "b2"};
    test_job b3 = {.kind = JOB_INSERT, .id = "b3", .probe_path = f->db_path, .unseen = "b1"};
    done_count = 0;
    submit(st, &b1);
    submit(st, &b2);
    submit(st, &b3);
    release_writer(f);
    run_until_idle(f, st);

    assert_true(b3.ran);
    assert_false(b3.saw_unseen);
    assert_int_equal(b1.status, 0);
    assert_int_equal(b2.status, -1);
    assert_string_equal(b2.error, "refused by the job");
    assert_int_equal(b3.status, 0);
    assert_int_equal(b1.order, 1);
    assert_int_equal(b2.order, 2);
    assert_int_equal(b3.order, 3);
    sqlite3 *probe = open_probe(f->db_path);
    assert_true(device_exists(probe, "b1"));
    assert_false(device_exists(probe, "b2"));
    assert_true(device_exists(probe, "b3"));
    sqlite3_close(probe);
    close_store(f);
}

static char *read_log(void)
{
    cg_log_flush();
    char *text;
    size_t len;
    assert_int_equal(cg_read_file(cg_log_path(), 1 << 20, &text, &len), 0);
    return text;
}

static void test_commit_failure_fails_group_and_store_goes_on(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    hold_writer(f);
    test_job c1 = {.kind = JOB_INSERT, .id = "c1"};
    test_job c2 = {.kind = JOB_BAD_FK};
    test_job c3 = {.kind = JOB_INSERT, .id = "c3"};
    submit(st, &c1);
    submit(st, &c2);
    submit(st, &c3);
    release_writer(f);
    run_until_idle(f, st);

    test_job *group[] = {&c1, &c2, &c3};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(group[i]->status, -1);
        assert_string_equal(group[i]->error, "FOREIGN KEY constraint failed");
    }
    char *log = read_log();
    assert_non_null(strstr(log, "commit of 3 writes failed: FOREIGN KEY constraint failed"));
    free(log);

    test_job later = {.kind = JOB_INSERT, .id = "c1"};
    submit(st, &later);
    run_until_idle(f, st);
    assert_int_equal(later.status, 0);
    sqlite3 *probe = open_probe(f->db_path);
    assert_int_equal(query_int(probe, "SELECT count(*) FROM devices"), 1);
    assert_int_equal(query_int(probe, "SELECT count(*) FROM device_tokens"), 0);
    sqlite3_close(probe);
    close_store(f);
}

static void test_job_that_ends_transaction(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    hold_writer(f);
    test_job e1 = {.kind = JOB_INSERT, .id = "e1"};
    test_job e2 = {.kind = JOB_END_TX};
    test_job e3 = {.kind = JOB_INSERT, .id = "e3"};
    done_count = 0;
    submit(st, &e1);
    submit(st, &e2);
    submit(st, &e3);
    release_writer(f);
    run_until_idle(f, st);

    assert_int_equal(e1.status, -1);
    assert_string_equal(e1.error, "state store transaction rolled back");
    assert_int_equal(e2.status, -1);
    assert_string_equal(e2.error, "ended the transaction");
    assert_int_equal(e3.status, 0); /* ran in the next group */
    assert_int_equal(e3.order, 3);
    sqlite3 *probe = open_probe(f->db_path);
    assert_false(device_exists(probe, "e1"));
    assert_true(device_exists(probe, "e3"));
    sqlite3_close(probe);
    close_store(f);
}

static void test_full_queue_refuses(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    hold_writer(f); /* the blocker is the first accepted job */
    size_t fillers = CG_STORE_MAX_QUEUED - 1;
    test_job *jobs = cg_xcalloc(fillers, sizeof *jobs);
    for (size_t i = 0; i < fillers; i++) {
        jobs[i].kind = JOB_NOTHING;
        submit(st, &jobs[i]);
    }
    test_job refused = {.kind = JOB_INSERT, .id = "refused"};
    done_count = 0;
    submit(st, &refused);
    assert_int_equal(refused.status, 99); /* not inside cg_store_write */
    while (refused.status == 99)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(refused.status, -1);
    assert_string_equal(refused.error, "state store queue full");
    assert_int_equal(refused.order, 1);
    assert_int_equal(cg_store_pending(st), CG_STORE_MAX_QUEUED);

    release_writer(f);
    run_until_idle(f, st);
    for (size_t i = 0; i < fillers; i++)
        assert_int_equal(jobs[i].status, 0);
    free(jobs);
    assert_false(refused.ran);
    close_store(f);
}

static void test_close_drains_queue(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    enum { N = 200 };
    test_job *jobs = cg_xcalloc(N, sizeof *jobs);
    done_count = 0;
    for (int i = 0; i < N; i++) {
        jobs[i].kind = i == N - 1 ? JOB_WRITE_ON_DONE : JOB_INSERT;
        snprintf(jobs[i].id, sizeof jobs[i].id, "dev-%d", i);
        submit(st, &jobs[i]);
    }
    f->st = NULL;
    cg_store_close(st); /* without running the loop */
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i].status, 0);
        assert_int_equal(jobs[i].order, i + 1);
    }
    /* Written from a done during close: refused, and still called back. */
    test_job *late = jobs[N - 1].chained;
    assert_non_null(late);
    assert_int_equal(late->status, -1);
    assert_string_equal(late->error, "state store closed");
    assert_int_equal(late->order, N + 1);
    free(late);
    free(jobs);
    uv_run(&f->loop, UV_RUN_DEFAULT);

    sqlite3 *probe = open_probe(f->db_path);
    assert_int_equal(query_int(probe, "SELECT count(*) FROM devices"), N);
    sqlite3_close(probe);
}

typedef struct closing_job {
    test_job job;
    bool close_in_done;
} closing_job;

static void close_in_done(int status, const char *error, void *data)
{
    closing_job *cj = data;
    test_done(status, error, &cj->job);
    if (cj->close_in_done) {
        cg_store_close(cj->job.st);
        cj->job.order = -cj->job.order; /* marks that close returned */
    }
}

static void test_close_from_done(void **state)
{
    fixture *f = *state;
    cg_store *st = open_store(f);
    hold_writer(f);
    closing_job jobs[4] = {{.close_in_done = true}};
    done_count = 0;
    for (int i = 0; i < 4; i++) {
        jobs[i].job.kind = JOB_INSERT;
        jobs[i].job.st = st;
        snprintf(jobs[i].job.id, sizeof jobs[i].job.id, "dev-%d", i);
        jobs[i].job.status = 99;
        cg_store_write(st, test_fn, close_in_done, &jobs[i]);
    }
    f->st = NULL; /* the first done closes it */
    release_writer(f);
    while (jobs[0].job.status == 99)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(jobs[0].job.order, -1); /* close returned after the rest were called */
    for (int i = 1; i < 4; i++) {
        assert_int_equal(jobs[i].job.status, 0);
        assert_int_equal(jobs[i].job.order, i + 1);
    }
}

/* ---- kill -9 ---- */

/* Each write inserts a device and its token; the key is long enough to span pages. */
#define CRASH_KEY_LEN 3000
#define CRASH_IN_FLIGHT 64
#define CRASH_ROUNDS 4

static void crash_key(int64_t seq, char *key)
{
    for (int i = 0; i < CRASH_KEY_LEN; i++)
        key[i] = (char)('a' + (seq * 31 + i * 7) % 26);
    key[CRASH_KEY_LEN] = 0;
}

typedef struct crash_child {
    cg_store *st;
    int ack_fd;
    int64_t next_seq, last_seq;
} crash_child;

typedef struct crash_write {
    crash_child *child;
    int64_t seq;
} crash_write;

static int crash_fn(sqlite3 *db, void *data, char *err, size_t errlen)
{
    crash_write *w = data;
    char id[32], key[CRASH_KEY_LEN + 1], token[32];
    snprintf(id, sizeof id, "dev-%" PRId64, w->seq);
    snprintf(token, sizeof token, "tok-%" PRId64, w->seq);
    crash_key(w->seq, key);
    if (insert_device(db, id, key, w->seq, err, errlen) != 0) return -1;
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO device_tokens(device_id, role, token, created_at_ms) "
                           "VALUES(?, 'operator', ?, ?)",
                           -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, w->seq);
    int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(stmt);
    return rc;
}

static void crash_submit(crash_child *c);

/* Acknowledges only here, after the commit. */
static void crash_done(int status, const char *error, void *data)
{
    crash_write *w = data;
    crash_child *c = w->child;
    int64_t seq = w->seq;
    free(w);
    if (status != 0) _exit(5);
    if (write(c->ack_fd, &seq, sizeof seq) != sizeof seq) _exit(6);
    if (c->next_seq <= c->last_seq) crash_submit(c);
}

static void crash_submit(crash_child *c)
{
    crash_write *w = cg_xmalloc(sizeof *w);
    w->child = c;
    w->seq = c->next_seq++;
    cg_store_write(c->st, crash_fn, crash_done, w);
}

/* The child: writes as fast as it can, acknowledging each write on ack_fd. */
static void crash_child_main(const char *dir, int ack_fd, int64_t first_seq)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) _exit(2);
    char err[256];
    crash_child c = {.ack_fd = ack_fd, .next_seq = first_seq, .last_seq = first_seq + 1000000};
    c.st = cg_store_open(&loop, dir, err, sizeof err);
    if (!c.st) _exit(3);
    for (int i = 0; i < CRASH_IN_FLIGHT; i++)
        crash_submit(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(4);
}

typedef struct crash_check {
    char integrity[64];
    int64_t rows, max_seq;
    int64_t bad_rows; /* not contiguous from 1, wrong key, or missing token */
} crash_check;

static int check_after_crash(sqlite3 *db, void *data, char *err, size_t errlen)
{
    crash_check *check = data;
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        snprintf(check->integrity, sizeof check->integrity, "%s", sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    if (sqlite3_prepare_v2(db,
                           "SELECT d.created_at_ms, d.device_id, d.public_key, t.token "
                           "FROM devices d LEFT JOIN device_tokens t USING(device_id) "
                           "ORDER BY d.created_at_ms",
                           -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(stmt, 0);
        char id[32], key[CRASH_KEY_LEN + 1], token[32];
        snprintf(id, sizeof id, "dev-%" PRId64, seq);
        snprintf(token, sizeof token, "tok-%" PRId64, seq);
        crash_key(seq, key);
        const char *got_id = (const char *)sqlite3_column_text(stmt, 1);
        const char *got_key = (const char *)sqlite3_column_text(stmt, 2);
        const char *got_token = (const char *)sqlite3_column_text(stmt, 3);
        check->rows++;
        if (seq != check->rows || !got_id || strcmp(got_id, id) || !got_key ||
            strcmp(got_key, key) || !got_token || strcmp(got_token, token))
            check->bad_rows++;
        check->max_seq = seq;
    }
    sqlite3_finalize(stmt);
    return 0;
}

/* Reads acknowledgements until `want` more arrived (0: until EOF); each must follow the
 * previous one. Returns how many arrived. */
static int64_t read_acks(int fd, int64_t *last_ack, int64_t want)
{
    int64_t got = 0;
    while (want == 0 || got < want) {
        int64_t seq;
        ssize_t n = read(fd, &seq, sizeof seq);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) break;
        assert_int_equal(n, sizeof seq);
        assert_int_equal(seq, *last_ack + 1);
        *last_ack = seq;
        got++;
    }
    return got;
}

static void test_kill_9_keeps_acknowledged_writes(void **state)
{
    fixture *f = *state;
    open_store(f);
    close_store(f);
    cg_log_close(); /* the child must not inherit the log's writer state */
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srandom(seed);
    print_message("kill -9 seed %u\n", seed);

    int64_t acked = 0; /* every sequence number up to this one was acknowledged */
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        f->child = pid;
        if (pid == 0) {
            close(fds[0]);
            crash_child_main(f->dir, fds[1], acked + 1);
        }
        close(fds[1]);
        /* A random moment: after 1 .. 400 acknowledgements, then 0 .. 3 ms more. */
        int64_t want = 1 + random() % 400;
        assert_int_equal(read_acks(fds[0], &acked, want), want);
        usleep((useconds_t)(random() % 3000));
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        f->child = 0;
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        read_acks(fds[0], &acked, 0); /* those written before it died count too */
        close(fds[0]);

        cg_store *st = open_store(f);
        crash_check check = {0};
        char err[256];
        assert_int_equal(cg_store_read(st, check_after_crash, &check, err, sizeof err), 0);
        close_store(f);
        assert_string_equal(check.integrity, "ok");
        assert_int_equal(check.bad_rows, 0);
        assert_true(check.max_seq >= acked);
        /* Committed but not yet acknowledged writes survive too: continue after them. */
        print_message("round %d: acked %" PRId64 " rows %" PRId64 "\n", round, acked,
                      check.max_seq);
        acked = check.max_seq;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_private_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_tightens_leftover_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_is_idempotent_and_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_complete_in_order_after_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failing_job_rolls_back_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure_fails_group_and_store_goes_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_job_that_ends_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_drains_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_9_keeps_acknowledged_writes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
