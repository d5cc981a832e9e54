/* The state store: DIR/state.db, one SQLite database in WAL mode for everything the
 * gateway must remember across restarts (paired devices and their tokens, pairing
 * requests, nodes; later issues add their tables through migrations in schema.c).
 *
 * Durability: a write is acknowledged (its done callback runs with status 0) only after
 * the transaction holding it has committed with synchronous=FULL, so an acknowledged
 * write survives kill -9 and power loss alike. A kill -9 at any moment leaves the
 * database consistent: SQLite recovers the WAL on the next open.
 *
 * Threads: all SQLite work for writes runs on the store's one writer thread; the loop
 * only queues jobs and receives their completions (through a uv_async_t). Call every
 * function on the loop thread (the one that runs `loop`); cg_store_read may run
 * elsewhere, one caller at a time. Write functions (cg_store_write_fn) run on the
 * writer thread, done callbacks on the loop thread. cg_store_open, cg_store_read and
 * cg_store_close block: they are for startup, shutdown, or callers that accept it.
 *
 * Order: write jobs run and complete in submission order. The writer groups
 * consecutive queued jobs (up to CG_STORE_MAX_GROUP) into one transaction, each job in
 * its own SAVEPOINT, so one failing job rolls back alone and a burst of writes costs one
 * fsync. A job refused before it runs (queue full, store closing) completes on the next
 * loop wakeup, possibly ahead of accepted jobs queued before it. */
#ifndef CG_STORE_STORE_H
#define CG_STORE_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <uv.h>

/* Jobs accepted and not yet completed by the writer, at most; beyond it a write is
 * refused with done(-1, "state store queue full"). Writes come from client actions that
 * are rate-limited elsewhere, so reaching it means the disk has stopped keeping up. */
#define CG_STORE_MAX_QUEUED 65536
/* Jobs per transaction, at most: bounds how long the first of a group waits for the
 * rest to run before its commit. */
#define CG_STORE_MAX_GROUP 256

typedef struct cg_store cg_store;

/* Opens (creating dir with mode 0700 and dir/state.db with mode 0600; -wal and -shm
 * take the database file's mode) with journal_mode=WAL, synchronous=FULL,
 * foreign_keys=ON and a busy timeout; runs the migrations up to
 * cg_store_schema_version(), each in its own transaction; refuses a database whose
 * version is newer than this build knows. Blocks: call it at startup, before the loop
 * serves. Starts the writer thread. NULL with a message in err on failure. */
cg_store *cg_store_open(uv_loop_t *loop, const char *dir, char *err, size_t errlen);

/* Reads on the caller's thread, blocking: fn runs inside one read transaction (a single
 * consistent snapshot) on the store's read-only connection, which sees every write
 * acknowledged so far and nothing uncommitted. For startup loads, or anywhere the
 * caller accepts blocking; one caller at a time. Returns fn's result (-1 with err when
 * the transaction cannot start); a non-zero result without text in err gets a generic
 * one. */
typedef int (*cg_store_read_fn)(sqlite3 *db, void *data, char *err, size_t errlen);
int cg_store_read(cg_store *st, cg_store_read_fn fn, void *data, char *err, size_t errlen);

/* What a write or an asynchronous read reports on the loop thread. */
typedef void (*cg_store_done_fn)(int status, const char *error, void *data);

/* Reads off the loop: fn runs on libuv's thread pool, inside one read transaction on a
 * read-only connection of its own (WAL lets readers run beside the writer and each
 * other; the store keeps up to CG_STORE_MAX_IDLE_READERS idle ones for reuse and opens
 * more when reads overlap), and done runs on the loop thread afterwards, never inside
 * this call: status 0, or -1 with fn's error text (or "state store closed" once
 * cg_store_close has begun: fn does not run then). fn sees every write whose done has
 * run, and possibly later ones. Loop thread only, not after cg_store_close; reads in
 * flight at cg_store_close still complete (their done runs on a later loop turn) and
 * keep the store's memory until they have. */
#define CG_STORE_MAX_IDLE_READERS 4
void cg_store_read_async(cg_store *st, cg_store_read_fn fn, cg_store_done_fn done, void *data);

/* Queues a write. fn runs on the writer thread inside a transaction and its own
 * SAVEPOINT; it must not begin, commit or roll back transactions itself. A non-zero
 * return (with text in err, errlen >= 256) rolls back that job's changes only. done
 * then runs on the loop thread, never inside cg_store_write: status 0 after COMMIT, or
 * -1 with the error text (fn's, the commit's, "state store queue full" or "state store
 * closed"); the data is durable before done reports success. A commit that fails
 * (disk full, I/O error) fails every job of its group with SQLite's message, is logged,
 * and later writes go on. done may be NULL. */
typedef int (*cg_store_write_fn)(sqlite3 *db, void *data, char *err, size_t errlen);
void cg_store_write(cg_store *st, cg_store_write_fn fn, cg_store_done_fn done, void *data);

/* A batch of statements with their arguments: built on the loop thread, run by a write
 * function on the writer thread (cg_store_batch_run), in order, each prepared, bound,
 * stepped to SQLITE_DONE and finalized. SQL strings are borrowed (literals); text
 * arguments are copied or owned. */
#define CG_STORE_STMT_MAX_ARGS 12

typedef struct cg_store_arg {
    enum { CG_STORE_ARG_NULL, CG_STORE_ARG_TEXT, CG_STORE_ARG_INT } kind;
    char *text;
    int64_t integer;
} cg_store_arg;

typedef struct cg_store_stmt {
    const char *sql;
    cg_store_arg args[CG_STORE_STMT_MAX_ARGS];
    int n_args;
    const char *unchanged_error; /* when set: the batch fails with it if no row changed */
} cg_store_stmt;

typedef struct cg_store_batch {
    cg_store_stmt *stmts;
    size_t n, cap;
} cg_store_batch;

/* Appends a statement; its arguments follow, in order (?1, ?2, ...). */
cg_store_stmt *cg_store_batch_add(cg_store_batch *b, const char *sql);
void cg_store_arg_text(cg_store_stmt *s, const char *text); /* copied; NULL binds NULL */
void cg_store_arg_text_owned(cg_store_stmt *s, char *text); /* malloc'd; NULL binds NULL */
void cg_store_arg_int(cg_store_stmt *s, int64_t v);
void cg_store_arg_null(cg_store_stmt *s);
/* Writer thread: runs every statement; 0, or -1 with SQLite's message in err. */
int cg_store_batch_run(sqlite3 *db, const cg_store_batch *b, char *err, size_t errlen);
/* Frees what the batch holds (the struct itself is the caller's). */
void cg_store_batch_clear(cg_store_batch *b);

/* Writes submitted whose done has not run yet (queued, running, or awaiting delivery). */
size_t cg_store_pending(const cg_store *st);

/* Finishes every queued write, stops the writer thread, then calls every remaining done
 * directly, in order, before returning (it does not run the loop); writes submitted
 * from those dones get done(-1, "state store closed"). Closes both connections and
 * uv_close()s the async handle; the store's memory is freed in that handle's close
 * callback, so the loop must run once more (as it does to finish). Call it once, on the
 * loop thread, possibly from a done callback; st is not usable after it returns. */
void cg_store_close(cg_store *st);

/* The path of the database file. */
const char *cg_store_path(const cg_store *st);

/* Schema (schema.c). The version this build migrates to: the number of migrations. */
int cg_store_schema_version(void);
/* The SQL that migrates a database at version - 1 to version (1 .. schema version). */
const char *cg_store_migration(int version);

#endif
