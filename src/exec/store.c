/* DIR/exec-approvals.json: the installed version, and the FIFO of writes. See store.h. */
#include "exec/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define FILE_NAME "exec-approvals.json"

typedef struct write_job {
    struct write_job *next;
    cg_exec_store *store;
    cg_exec_store_edit_fn edit;
    cg_exec_store_done_fn done;
    void *data;
    uv_work_t work;
    /* Set on the loop before the work runs. */
    json_t *next_doc;
    json_t *error;
    char *text;
    size_t text_len;
    /* Set by the work. */
    int write_rc;
    bool disk_changed;
    int read_rc;
    char *disk_raw;
    size_t disk_len;
} write_job;

struct cg_exec_store {
    char *path;
    bool exists;
    char *raw; /* NULL when there is no file */
    size_t raw_len;
    char hash[CG_EXEC_HASH_LEN];
    json_t *doc;
    write_job *head, *tail; /* head runs when running */
    size_t queued;
    bool running;
    uv_loop_t *loop;
};

static json_t *refusal(const char *code, const char *message)
{
    return json_pack("{s:s, s:s}", "code", code, "message", message);
}

/* Installs raw (owned; NULL: no file) as the current version. */
static void install(cg_exec_store *s, char *raw, size_t len, json_t *doc, char **warning)
{
    free(s->raw);
    json_decref(s->doc);
    s->raw = raw;
    s->raw_len = len;
    s->exists = raw != NULL;
    cg_exec_policy_hash(raw, len, s->hash);
    if (doc) {
        s->doc = doc;
        return;
    }
    if (!raw) {
        s->doc = cg_exec_policy_empty();
        return;
    }
    char why[256];
    json_t *parsed = cg_exec_policy_parse(raw, len, why, sizeof why);
    s->doc = parsed ? cg_exec_policy_normalize(parsed) : NULL;
    json_decref(parsed);
    if (!s->doc) {
        s->doc = cg_exec_policy_fail_closed();
        if (warning) {
            size_t n = strlen(s->path) + strlen(why) + 64;
            *warning = cg_xmalloc(n);
            snprintf(*warning, n, "%s is invalid (%s): every command is refused until it is fixed",
                     s->path, why);
        }
    }
}

cg_exec_store *cg_exec_store_open(const char *state_dir, char **warning, char *err, size_t errlen)
{
    if (warning) *warning = NULL;
    cg_exec_store *s = cg_xcalloc(1, sizeof *s);
    size_t n = strlen(state_dir) + sizeof FILE_NAME + 2;
    s->path = cg_xmalloc(n);
    snprintf(s->path, n, "%s/%s", state_dir, FILE_NAME);
    char *raw = NULL;
    size_t len = 0;
    int rc = cg_read_file(s->path, CG_EXEC_POLICY_MAX_BYTES, &raw, &len);
    if (rc < 0 && rc != -ENOENT) {
        snprintf(err, errlen, "cannot read %s: %s", s->path,
                 rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
        free(s->path);
        free(s);
        return NULL;
    }
    install(s, rc == 0 ? raw : NULL, len, NULL, warning);
    return s;
}

void cg_exec_store_free(cg_exec_store *s)
{
    if (!s) return;
    if (s->running) abort(); /* a write is in flight: the loop did not run to its end */
    free(s->path);
    free(s->raw);
    json_decref(s->doc);
    free(s);
}

const char *cg_exec_store_path(const cg_exec_store *s)
{
    return s->path;
}

bool cg_exec_store_exists(const cg_exec_store *s)
{
    return s->exists;
}

const char *cg_exec_store_hash(const cg_exec_store *s)
{
    return s->hash;
}

const json_t *cg_exec_store_doc(const cg_exec_store *s)
{
    return s->doc;
}

json_t *cg_exec_store_snapshot(const cg_exec_store *s)
{
    return json_pack("{s:s, s:b, s:s, s:o, s:o}", "path", s->path, "exists", s->exists, "hash",
                     s->hash, "file", cg_exec_policy_view(s->doc), "resolvedDefaults",
                     cg_exec_policy_resolved_defaults(s->doc));
}

/* ---- the queue ---- */

static void start_next(cg_exec_store *s);

/* Thread pool: check the disk still holds the installed version, then write. */
static void write_work(uv_work_t *w)
{
    write_job *j = w->data;
    cg_thread_background();
    if (j->error || !j->text) return; /* refused, or nothing to write */
    const cg_exec_store *s = j->store;
    j->read_rc = cg_read_file(s->path, CG_EXEC_POLICY_MAX_BYTES, &j->disk_raw, &j->disk_len);
    bool same = s->raw ? j->read_rc == 0 && j->disk_len == s->raw_len &&
                             memcmp(j->disk_raw, s->raw, s->raw_len) == 0
                       : j->read_rc == -ENOENT;
    if (!same) {
        /* Someone else changed it (installed by write_done), or it cannot be read. */
        j->disk_changed = j->read_rc == 0 || j->read_rc == -ENOENT;
        return;
    }
    j->write_rc = cg_write_file_atomic(s->path, j->text, j->text_len, 0600);
}

static void write_done(uv_work_t *w, int status)
{
    write_job *j = w->data;
    cg_exec_store *s = j->store;
    if (!j->error && j->text) {
        if (j->disk_changed) {
            char *disk = j->read_rc == 0 ? j->disk_raw : NULL;
            if (disk) j->disk_raw = NULL;
            install(s, disk, j->disk_len, NULL, NULL);
            j->error = refusal("INVALID_REQUEST", "exec approvals changed since last load; re-run "
                                                  "exec.approvals.get and retry");
        } else if (j->read_rc < 0 && j->read_rc != -ENOENT) {
            char message[512];
            snprintf(message, sizeof message, "exec approvals not saved: cannot read %s: %s",
                     s->path, strerror(-j->read_rc));
            j->error = refusal("UNAVAILABLE", message);
        } else if (j->write_rc < 0 || status < 0) {
            char message[512];
            snprintf(message, sizeof message, "exec approvals not saved: %s",
                     strerror(j->write_rc < 0 ? -j->write_rc : ECANCELED));
            j->error = refusal("UNAVAILABLE", message);
        } else {
            install(s, j->text, j->text_len, j->next_doc, NULL);
            j->text = NULL;
            j->next_doc = NULL;
        }
    }
    s->head = j->next;
    if (!s->head) s->tail = NULL;
    s->queued--;
    s->running = false;
    json_t *snapshot = j->error ? NULL : cg_exec_store_snapshot(s);
    j->done(snapshot, j->error, j->data);
    json_decref(snapshot);
    json_decref(j->error);
    json_decref(j->next_doc);
    free(j->text);
    free(j->disk_raw);
    free(j);
    start_next(s);
}

static void start_next(cg_exec_store *s)
{
    if (s->running || !s->head) return;
    write_job *j = s->head;
    s->running = true;
    j->next_doc = j->edit(s, s->doc, j->data, &j->error);
    if (j->next_doc) {
        j->text = cg_exec_policy_serialize(j->next_doc, &j->text_len);
        if (j->text_len > CG_EXEC_POLICY_MAX_BYTES) {
            j->error = refusal("INVALID_REQUEST", "exec approvals file larger than 1 MiB");
        }
    }
    j->work.data = j;
    if (uv_queue_work(s->loop, &j->work, write_work, write_done) != 0) abort();
}

bool cg_exec_store_write(cg_exec_store *s, uv_loop_t *loop, cg_exec_store_edit_fn edit,
                         cg_exec_store_done_fn done, void *data)
{
    if (s->queued >= CG_EXEC_STORE_MAX_QUEUE) return false;
    write_job *j = cg_xcalloc(1, sizeof *j);
    j->store = s;
    j->edit = edit;
    j->done = done;
    j->data = data;
    s->loop = loop;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->queued++;
    start_next(s);
    return true;
}
