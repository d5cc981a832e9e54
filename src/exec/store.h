/* The policy file on disk: DIR/exec-approvals.json, held in memory, written atomically.
 *
 * Loaded once at start (before the loop serves). Writes are jobs in one FIFO: at most one
 * runs; when its turn comes its edit function builds the new document from the version
 * installed then (so a baseHash is checked against every write before it); the text is
 * written on libuv's thread pool (temp file, fsync, rename, fsync of the dir; mode 0600),
 * after checking that the disk still holds the installed version; the result is installed
 * on the loop and done is called there. A file changed on disk by someone else is
 * installed as it is found (a broken one as the fail-closed policy) and the write refused
 * "exec approvals changed since last load". The loop never touches the disk after start. */
#ifndef CG_EXEC_STORE_H
#define CG_EXEC_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "exec/policy.h"

#define CG_EXEC_STORE_MAX_QUEUE 256

typedef struct cg_exec_store cg_exec_store;

/* Reads DIR/exec-approvals.json. A missing file is the empty policy; a broken one is
 * the fail-closed policy (and logged by the caller from *warning). NULL with err only
 * when the file cannot be read at all. *warning (may be NULL): malloc'd, or NULL. */
cg_exec_store *cg_exec_store_open(const char *state_dir, char **warning, char *err, size_t errlen);
/* Frees the store; no write may be in flight (the loop ran to its end). */
void cg_exec_store_free(cg_exec_store *s);

const char *cg_exec_store_path(const cg_exec_store *s);
bool cg_exec_store_exists(const cg_exec_store *s);
const char *cg_exec_store_hash(const cg_exec_store *s);
/* The policy in force (borrowed until the next write is installed). */
const json_t *cg_exec_store_doc(const cg_exec_store *s);

/* The ExecApprovalsSnapshot: {path, exists, hash, file (socket token removed),
 * resolvedDefaults}. New ref. */
json_t *cg_exec_store_snapshot(const cg_exec_store *s);

/* Builds the next document from the installed one (borrowed): a new ref; or NULL with
 * *error (a new ErrorShape) to refuse the write; or NULL alone when there is nothing to
 * change (done then gets the current snapshot). Runs on the loop. */
typedef json_t *(*cg_exec_store_edit_fn)(const cg_exec_store *s, const json_t *current, void *data,
                                         json_t **error);
/* error NULL when the write was installed (snapshot is the new ExecApprovalsSnapshot,
 * borrowed), else the refusal (borrowed). Runs on the loop, never before write returns. */
typedef void (*cg_exec_store_done_fn)(const json_t *snapshot, const json_t *error, void *data);

/* Queues a write. false when the queue is full (nothing queued, done never called). */
bool cg_exec_store_write(cg_exec_store *s, uv_loop_t *loop, cg_exec_store_edit_fn edit,
                         cg_exec_store_done_fn done, void *data);

#endif
