/* The state store (see store/store.h for the contract).
 *
 * Design: two SQLite connections to DIR/state.db. The writer connection belongs to one
 * writer thread (the opener's until the thread starts, the closer's after it joined);
 * the read-only connection belongs to whoever calls cg_store_read. In WAL mode a reader
 * never blocks the writer and sees only committed transactions.
 *
 * Durability: synchronous=FULL. In WAL mode NORMAL skips the fsync of the WAL at each
 * commit: that still survives kill -9 (the page cache holds the data), but a power loss
 * can take back the last commits, which would break "done(0) means durable" for writes
 * the gateway has already acknowledged to a client (a paired device, an issued token).
 * FULL pays one fsync per commit; grouping (below) spreads it over every write queued
 * meanwhile, so a burst of connects costs a few fsyncs, not one each. The database file
 * is created by us with mode 0600 (and its directory entry made durable); SQLite gives
 * the -wal and -shm files the database file's mode, and leftover ones are tightened.
 *
 * The queue: jobs are accepted under one mutex into a FIFO and counted against
 * CG_STORE_MAX_QUEUED (accepted and not yet completed by the writer). The writer sleeps
 * on a condition variable, takes up to CG_STORE_MAX_GROUP jobs and runs them in one
 * transaction: BEGIN IMMEDIATE, then per job SAVEPOINT, fn, ROLLBACK TO on failure,
 * RELEASE; then COMMIT. A failing COMMIT (disk full, I/O error) is rolled back and
 * fails every job of the group with SQLite's message. If the transaction ends under a
 * job (SQLite rolls back by itself after some errors, such as a full disk), the jobs run
 * so far fail, and the ones not yet run go back to the head of the queue for the next
 * group. Finished jobs move to a completion list and one uv_async_send wakes the loop,
 * which drains the whole list per wakeup (libuv coalesces sends) and calls the dones in
 * order. The writer thread keeps normal priority (it holds acknowledged writes) and
 * blocks every signal.
 *
 * Closing: the writer drains the queue before it exits; cg_store_close joins it and then
 * delivers the completions itself on the calling (loop) thread rather than running the
 * loop. Delivery pops from a list kept in the store, so a done that calls
 * cg_store_close, or that writes (refused once closing), keeps the order. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

/* How long a connection waits for a lock another process holds (a `sqlite3` shell). */
#define BUSY_TIMEOUT_MS 5000
/* Error text of one job, at most (fn's err buffer). */
#define JOB_ERROR_MAX 256

typedef struct store_job {
    struct store_job *next;
    cg_store_write_fn fn;
    cg_store_done_fn done;
    void *data;
    int status;
    char *error; /* malloc'd when status is -1 */
} store_job;

typedef struct job_list {
    store_job *head, *tail;
    size_t len;
} job_list;

struct cg_store {
    uv_async_t async; /* wakes the loop for completions; the store is freed on its close */
    char *path;
    sqlite3 *writer_db;
    sqlite3 *reader_db;
    pthread_t thread;

    pthread_mutex_t mutex;
    pthread_cond_t wake;
    /* Under mutex. */
    job_list queue;  /* accepted, not yet taken by the writer */
    job_list done;   /* completed, not yet taken by the loop */
    size_t accepted; /* accepted and not completed by the writer */
    bool stopping;

    /* The loop thread's. */
    job_list ready; /* taken from done, being delivered */
    size_t pending;
    bool closing;
    bool async_closed;     /* the async handle's close callback ran */
    size_t reads_inflight; /* cg_store_read_async jobs not yet completed */
    sqlite3 *idle_readers[CG_STORE_MAX_IDLE_READERS];
    size_t n_idle_readers;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void list_push(job_list *l, store_job *job)
{
    job->next = NULL;
    if (l->tail)
        l->tail->next = job;
    else
        l->head = job;
    l->tail = job;
    l->len++;
}

static store_job *list_pop(job_list *l)
{
    store_job *job = l->head;
    l->head = job->next;
    if (!l->head) l->tail = NULL;
    l->len--;
    return job;
}

/* Appends all of src to dst and empties src. */
static void list_append(job_list *dst, job_list *src)
{
    if (!src->head) return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->len += src->len;
    *src = (job_list){0};
}

static void fail_job(store_job *job, const char *error)
{
    job->status = -1;
    free(job->error);
    job->error = cg_strdup(error);
}

/* ---- The writer thread ---- */

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The group's transaction is over (COMMIT failed, or SQLite rolled it back): rolls back
 * what is left of it and fails every job that ran and had not failed on its own. */
static void abort_group(sqlite3 *db, job_list *ran, const char *error)
{
    if (!sqlite3_get_autocommit(db)) exec(db, "ROLLBACK");
    for (store_job *job = ran->head; job; job = job->next)
        if (job->status == 0) fail_job(job, error);
}

/* Runs one job in its own savepoint. false when the group's transaction did not survive
 * it (the job has failed; the caller aborts the group). */
static bool run_job(sqlite3 *db, store_job *job)
{
    if (exec(db, "SAVEPOINT cg_job") != SQLITE_OK) {
        fail_job(job, sqlite3_errmsg(db));
        return false;
    }
    char err[JOB_ERROR_MAX] = "";
    if (job->fn(db, job->data, err, sizeof err) != 0) {
        fail_job(job, err[0] ? err : "state store write failed");
        if (sqlite3_get_autocommit(db) || exec(db, "ROLLBACK TO cg_job") != SQLITE_OK) return false;
    }
    return !sqlite3_get_autocommit(db) && exec(db, "RELEASE cg_job") == SQLITE_OK;
}

/* Runs the jobs of `group` in one transaction and moves those it finished to
 * `finished`; jobs left in `group` were not run (their transaction was lost first). */
static void run_group(cg_store *st, job_list *group, job_list *finished)
{
    sqlite3 *db = st->writer_db;
    job_list ran = {0};
    char error[JOB_ERROR_MAX];
    if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        snprintf(error, sizeof error, "%s", sqlite3_errmsg(db));
        cg_logf(CG_LOG_ERROR, "store", "cannot begin a write of %zu jobs: %s", group->len, error);
        list_append(&ran, group);
        abort_group(db, &ran, error);
        list_append(finished, &ran);
        return;
    }
    while (group->head) {
        store_job *job = list_pop(group);
        list_push(&ran, job);
        if (!run_job(db, job)) {
            cg_logf(CG_LOG_ERROR, "store", "a write ended its transaction (%s): %zu writes failed",
                    job->error ? job->error : "it reported success", ran.len);
            abort_group(db, &ran, "state store transaction rolled back");
            list_append(finished, &ran);
            return;
        }
    }
    if (exec(db, "COMMIT") != SQLITE_OK) {
        snprintf(error, sizeof error, "%s", sqlite3_errmsg(db));
        cg_logf(CG_LOG_ERROR, "store", "commit of %zu writes failed: %s", ran.len, error);
        abort_group(db, &ran, error);
    }
    list_append(finished, &ran);
}

static void *writer_main(void *arg)
{
    cg_store *st = arg;
    pthread_mutex_lock(&st->mutex);
    for (;;) {
        while (!st->queue.head && !st->stopping)
            pthread_cond_wait(&st->wake, &st->mutex);
        if (!st->queue.head) break;
        job_list group = {0};
        while (st->queue.head && group.len < CG_STORE_MAX_GROUP)
            list_push(&group, list_pop(&st->queue));
        pthread_mutex_unlock(&st->mutex);

        job_list finished = {0};
        run_group(st, &group, &finished);

        pthread_mutex_lock(&st->mutex);
        st->accepted -= finished.len;
        list_append(&st->done, &finished);
        /* Jobs not run go back in front of everything queued meanwhile. */
        list_append(&group, &st->queue);
        st->queue = group;
        uv_async_send(&st->async);
    }
    pthread_mutex_unlock(&st->mutex);
    return NULL;
}

/* ---- The loop thread ---- */

/* Calls the dones of every completion, in order, until none is left. Re-entrant: a done
 * that closes the store continues the same list. */
static void deliver(cg_store *st)
{
    for (;;) {
        if (!st->ready.head) {
            pthread_mutex_lock(&st->mutex);
            list_append(&st->ready, &st->done);
            pthread_mutex_unlock(&st->mutex);
            if (!st->ready.head) return;
        }
        store_job *job = list_pop(&st->ready);
        st->pending--;
        if (job->done) job->done(job->status, job->error, job->data);
        free(job->error);
        free(job);
    }
}

static void on_async(uv_async_t *async)
{
    deliver(async->data);
}

void cg_store_write(cg_store *st, cg_store_write_fn fn, cg_store_done_fn done, void *data)
{
    store_job *job = cg_xcalloc(1, sizeof *job);
    job->fn = fn;
    job->done = done;
    job->data = data;
    st->pending++;
    const char *refused = st->closing ? "state store closed" : NULL;
    pthread_mutex_lock(&st->mutex);
    if (!refused && st->accepted >= CG_STORE_MAX_QUEUED) refused = "state store queue full";
    if (refused) {
        fail_job(job, refused);
        list_push(&st->done, job);
    } else {
        list_push(&st->queue, job);
        st->accepted++;
        pthread_cond_signal(&st->wake);
    }
    pthread_mutex_unlock(&st->mutex);
    /* While closing, the delivery in progress picks the refusal up. */
    if (refused && !st->closing) uv_async_send(&st->async);
}

size_t cg_store_pending(const cg_store *st)
{
    return st->pending;
}

const char *cg_store_path(const cg_store *st)
{
    return st->path;
}

int cg_store_read(cg_store *st, cg_store_read_fn fn, void *data, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    sqlite3 *db = st->reader_db;
    if (exec(db, "BEGIN") != SQLITE_OK) {
        set_err(err, errlen, "state store read: %s", sqlite3_errmsg(db));
        return -1;
    }
    int rc = fn(db, data, err, errlen);
    if (rc != 0 && errlen > 0 && !err[0]) set_err(err, errlen, "state store read failed");
    if (exec(db, "COMMIT") != SQLITE_OK) {
        if (rc == 0) {
            rc = -1;
            set_err(err, errlen, "state store read: %s", sqlite3_errmsg(db));
        }
        exec(db, "ROLLBACK");
    }
    return rc;
}

static void close_db(sqlite3 *db)
{
    if (sqlite3_close(db) != SQLITE_OK)
        cg_logf(CG_LOG_WARN, "store", "state.db closed with statements left open: %s",
                sqlite3_errmsg(db));
}

static void store_free(cg_store *st)
{
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->mutex);
    free(st->path);
    free(st);
}

/* The memory goes once the handle is closed and no read is in flight. */
static void on_closed(uv_handle_t *handle)
{
    cg_store *st = handle->data;
    st->async_closed = true;
    if (st->reads_inflight == 0) store_free(st);
}

/* ---- reads on the thread pool ---- */

typedef struct read_job {
    uv_work_t work;
    cg_store *st;
    sqlite3 *db; /* taken from the idle ones on the loop, or opened by the worker */
    cg_store_read_fn fn;
    cg_store_done_fn done;
    void *data;
    int status;
    char error[JOB_ERROR_MAX];
} read_job;

static int open_db(const char *path, int flags, sqlite3 **out, char *err, size_t errlen);

static void read_refused(uv_work_t *work)
{
    read_job *job = work->data;
    job->status = -1;
    snprintf(job->error, sizeof job->error, "state store closed");
}

/* Thread pool. st->path never changes and st->closing is not read here: the loop decided
 * before queuing. */
static void read_work(uv_work_t *work)
{
    cg_thread_background();
    read_job *job = work->data;
    if (!job->db &&
        open_db(job->st->path, SQLITE_OPEN_READONLY, &job->db, job->error, sizeof job->error)) {
        job->status = -1;
        return;
    }
    sqlite3 *db = job->db;
    if (exec(db, "BEGIN") != SQLITE_OK) {
        snprintf(job->error, sizeof job->error, "state store read: %s", sqlite3_errmsg(db));
        job->status = -1;
        return;
    }
    job->status = job->fn(db, job->data, job->error, sizeof job->error) ? -1 : 0;
    if (job->status && !job->error[0])
        snprintf(job->error, sizeof job->error, "state store read failed");
    if (exec(db, "COMMIT") != SQLITE_OK) exec(db, "ROLLBACK");
}

static void read_after(uv_work_t *work, int status)
{
    read_job *job = work->data;
    cg_store *st = job->st;
    if (status == UV_ECANCELED) {
        job->status = -1;
        snprintf(job->error, sizeof job->error, "state store read cancelled");
    }
    if (job->db) {
        /* A connection whose transaction did not end is not reused. */
        if (!st->closing && st->n_idle_readers < CG_STORE_MAX_IDLE_READERS &&
            sqlite3_get_autocommit(job->db))
            st->idle_readers[st->n_idle_readers++] = job->db;
        else
            close_db(job->db);
    }
    st->reads_inflight--;
    if (job->done) job->done(job->status, job->status ? job->error : NULL, job->data);
    free(job);
    if (st->async_closed && st->reads_inflight == 0) store_free(st);
}

void cg_store_read_async(cg_store *st, cg_store_read_fn fn, cg_store_done_fn done, void *data)
{
    read_job *job = cg_xcalloc(1, sizeof *job);
    job->st = st;
    job->fn = fn;
    job->done = done;
    job->data = data;
    job->work.data = job;
    st->reads_inflight++;
    if (st->closing) {
        /* Completes on the pool without touching the database. */
        job->fn = NULL;
    } else if (st->n_idle_readers > 0) {
        job->db = st->idle_readers[--st->n_idle_readers];
    }
    uv_queue_work(st->async.loop, &job->work, job->fn ? read_work : read_refused, read_after);
}

void cg_store_close(cg_store *st)
{
    st->closing = true;
    pthread_mutex_lock(&st->mutex);
    st->stopping = true;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->mutex);
    pthread_join(st->thread, NULL);
    deliver(st);
    while (st->n_idle_readers > 0)
        close_db(st->idle_readers[--st->n_idle_readers]);
    /* The writer last: the last connection to close checkpoints and removes the WAL. */
    close_db(st->reader_db);
    close_db(st->writer_db);
    uv_close((uv_handle_t *)&st->async, on_closed);
}

/* ---- Opening ---- */

/* Opens `path` without following a symlink and makes it a regular file of mode 0600.
 * create: creates it when missing (*created says so); otherwise a missing file is fine.
 * 0, or -1 with err. */
static int make_private(const char *path, bool create, bool *created, char *err, size_t errlen)
{
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW;
    int fd = create ? open(path, flags | O_CREAT | O_EXCL, 0600) : -1;
    if (created) *created = fd >= 0;
    if (fd < 0 && (!create || errno == EEXIST)) fd = open(path, flags);
    if (fd < 0 && !create && errno == ENOENT) return 0;
    if (fd < 0) {
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) != 0) {
        set_err(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        rc = -1;
    } else if (!S_ISREG(sb.st_mode)) {
        set_err(err, errlen, "%s is not a regular file", path);
        rc = -1;
    } else if ((sb.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0) {
        set_err(err, errlen, "cannot make %s private (mode 0600): %s", path, strerror(errno));
        rc = -1;
    }
    close(fd);
    return rc;
}

/* Creates (or tightens) state.db, its -wal and -shm, all mode 0600. */
static int prepare_files(const char *dir, const char *path, char *err, size_t errlen)
{
    bool created;
    if (make_private(path, true, &created, err, errlen) != 0) return -1;
    if (created) {
        /* The new directory entry is durable before anything is committed into it. */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    static const char *const suffixes[] = {"-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char side[PATH_MAX];
        if ((size_t)snprintf(side, sizeof side, "%s%s", path, suffixes[i]) >= sizeof side) {
            set_err(err, errlen, "state dir path too long: %s", dir);
            return -1;
        }
        if (make_private(side, false, NULL, err, errlen) != 0) return -1;
    }
    return 0;
}

static int open_db(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(path, out, flags | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "cannot open %s: %s", path,
                *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
        sqlite3_close(*out);
        *out = NULL;
        return -1;
    }
    sqlite3_busy_timeout(*out, BUSY_TIMEOUT_MS);
    return 0;
}

/* WAL, FULL, foreign keys on the writer connection. */
static int configure_writer(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL) != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        return -1;
    }
    int rc = sqlite3_step(stmt);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0) : NULL;
    bool wal = mode && strcmp(mode, "wal") == 0;
    if (!wal)
        set_err(err, errlen, "%s: cannot switch to WAL mode (%s)", path,
                mode ? mode : sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    if (!wal) return -1;
    if (exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON") != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static int user_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(stmt) == SQLITE_ROW ? 0 : -1;
    if (rc == 0) *version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return rc;
}

/* One step per transaction, the version read inside it: a crash or a second process
 * never applies a migration twice. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    int latest = cg_store_schema_version();
    for (;;) {
        if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
            set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
            return -1;
        }
        int version;
        if (user_version(db, &version) != 0) {
            set_err(err, errlen, "%s: cannot read the schema version: %s", path,
                    sqlite3_errmsg(db));
            exec(db, "ROLLBACK");
            return -1;
        }
        if (version > latest) {
            set_err(err, errlen,
                    "%s has schema version %d, newer than this build knows (%d): refusing "
                    "to open it; run a newer clawgate",
                    path, version, latest);
            exec(db, "ROLLBACK");
            return -1;
        }
        if (version == latest) return exec(db, "COMMIT") == SQLITE_OK ? 0 : -1;
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d", version + 1);
        if (exec(db, cg_store_migration(version + 1)) != SQLITE_OK || exec(db, bump) != SQLITE_OK ||
            exec(db, "COMMIT") != SQLITE_OK) {
            set_err(err, errlen, "%s: migration to schema version %d failed: %s", path, version + 1,
                    sqlite3_errmsg(db));
            exec(db, "ROLLBACK");
            return -1;
        }
        cg_logf(CG_LOG_INFO, "store", "state.db migrated to schema version %d", version + 1);
    }
}

cg_store *cg_store_open(uv_loop_t *loop, const char *dir, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    int rc = cg_mkdir_p(dir, 0700);
    if (rc != 0) {
        set_err(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
        return NULL;
    }
    cg_store *st = cg_xcalloc(1, sizeof *st);
    size_t path_len = strlen(dir) + sizeof "/state.db";
    st->path = cg_xmalloc(path_len);
    snprintf(st->path, path_len, "%s/state.db", dir);
    if (prepare_files(dir, st->path, err, errlen) != 0 ||
        open_db(st->path, SQLITE_OPEN_READWRITE, &st->writer_db, err, errlen) != 0 ||
        configure_writer(st->writer_db, st->path, err, errlen) != 0 ||
        migrate(st->writer_db, st->path, err, errlen) != 0 ||
        open_db(st->path, SQLITE_OPEN_READONLY, &st->reader_db, err, errlen) != 0)
        goto fail;

    pthread_mutex_init(&st->mutex, NULL);
    pthread_cond_init(&st->wake, NULL);
    rc = uv_async_init(loop, &st->async, on_async);
    if (rc != 0) {
        set_err(err, errlen, "state store: %s", uv_strerror(rc));
        pthread_cond_destroy(&st->wake);
        pthread_mutex_destroy(&st->mutex);
        goto fail;
    }
    st->async.data = st;
    /* The writer blocks every signal: they stay with the loop thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&st->thread, NULL, writer_main, st);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        set_err(err, errlen, "state store: cannot start the writer thread: %s", strerror(rc));
        close_db(st->writer_db);
        close_db(st->reader_db);
        uv_close((uv_handle_t *)&st->async, on_closed);
        return NULL;
    }
    return st;

fail:
    sqlite3_close(st->writer_db);
    sqlite3_close(st->reader_db);
    free(st->path);
    free(st);
    return NULL;
}

/* ---- statement batches ---- */

cg_store_stmt *cg_store_batch_add(cg_store_batch *b, const char *sql)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->stmts = cg_xrealloc(b->stmts, b->cap * sizeof *b->stmts);
    }
    cg_store_stmt *s = &b->stmts[b->n++];
    memset(s, 0, sizeof *s);
    s->sql = sql;
    return s;
}

static cg_store_arg *next_arg(cg_store_stmt *s)
{
    if (s->n_args == CG_STORE_STMT_MAX_ARGS) abort(); /* a build defect: raise the constant */
    return &s->args[s->n_args++];
}

void cg_store_arg_text_owned(cg_store_stmt *s, char *text)
{
    cg_store_arg *a = next_arg(s);
    a->kind = text ? CG_STORE_ARG_TEXT : CG_STORE_ARG_NULL;
    a->text = text;
}

void cg_store_arg_text(cg_store_stmt *s, const char *text)
{
    cg_store_arg_text_owned(s, text ? cg_strdup(text) : NULL);
}

void cg_store_arg_int(cg_store_stmt *s, int64_t v)
{
    cg_store_arg *a = next_arg(s);
    a->kind = CG_STORE_ARG_INT;
    a->integer = v;
}

void cg_store_arg_null(cg_store_stmt *s)
{
    next_arg(s)->kind = CG_STORE_ARG_NULL;
}

int cg_store_batch_run(sqlite3 *db, const cg_store_batch *b, char *err, size_t errlen)
{
    for (size_t i = 0; i < b->n; i++) {
        const cg_store_stmt *s = &b->stmts[i];
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, s->sql, -1, &st, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s", sqlite3_errmsg(db));
            return -1;
        }
        for (int k = 0; k < s->n_args; k++) {
            const cg_store_arg *a = &s->args[k];
            if (a->kind == CG_STORE_ARG_NULL)
                sqlite3_bind_null(st, k + 1);
            else if (a->kind == CG_STORE_ARG_TEXT)
                sqlite3_bind_text(st, k + 1, a->text, -1, SQLITE_STATIC);
            else
                sqlite3_bind_int64(st, k + 1, a->integer);
        }
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            snprintf(err, errlen, "%s", sqlite3_errmsg(db));
            return -1;
        }
        if (s->unchanged_error && sqlite3_changes(db) == 0) {
            snprintf(err, errlen, "%s", s->unchanged_error);
            return -1;
        }
    }
    return 0;
}

void cg_store_batch_clear(cg_store_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        for (int k = 0; k < b->stmts[i].n_args; k++)
            free(b->stmts[i].args[k].text);
    free(b->stmts);
    *b = (cg_store_batch){0};
}
