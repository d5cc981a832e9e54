/* Sessions and transcripts (see agent/sessions.h for the contract).
 *
 * Memory: one record per session (key, ids, meta, counts, preview), in a map by key and
 * an array for listing. Transcripts stay in SQLite: tables sessions, transcripts and
 * transcript_messages (store/schema.c, version 2).
 *
 * Writes: every change updates the record at once and queues one store job holding the
 * statements it needs (the full session row is rewritten: it is small), so the store's
 * writer applies them in order and the next write's SQL sees the state this module
 * assumed. Jobs carry copies of everything they bind.
 *
 * Reads: history reads run through cg_store_read_async once every write submitted
 * before them has completed (writes complete in submission order, so one counter pair
 * suffices); a waiting read sits in a FIFO drained by write completions.
 *
 * Crash recovery: a message stored "running" whose run died with the process is marked
 * "interrupted" by a write queued at open; until it commits (and for any row written
 * "running" by a run that is not live in this process) history reports it interrupted.
 *
 * Lifetime: jobs in flight hold the module; cg_sessions_free marks it freed and the last
 * job to finish frees it without calling back. */
#include "agent/sessions.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agents.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"

typedef struct sess_rec {
    cg_session pub;
    char *transcript_id;
    int64_t last_seq;
    int64_t *running; /* seqs appended "running" and not yet replaced */
    size_t n_running, cap_running;
    size_t index; /* in cg_sessions.all */
} sess_rec;

typedef struct hist_req hist_req;

struct cg_sessions {
    cg_store *store;
    uv_loop_t *loop;
    cg_strmap *by_key;
    sess_rec **all;
    size_t n, cap;
    char error[256];
    bool stopped, freed;
    uint64_t writes_submitted, writes_done;
    size_t inflight; /* write jobs and reads not yet called back */
    hist_req *wait_head, *wait_tail;
    int64_t generation_counter;
    cg_sessions_listener_fn listener;
    void *listener_data;
};

static void set_error(cg_sessions *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(cg_sessions *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
}

const char *cg_sessions_error(const cg_sessions *s)
{
    return s->error;
}

static void maybe_free(cg_sessions *s);

/* ---- keys ---- */

bool cg_session_key_canonical(const char *key, const char *default_agent, char *out, size_t outlen)
{
    if (!key || !out || outlen == 0) return false;
    while (*key == ' ' || *key == '\t' || *key == '\n' || *key == '\r')
        key++;
    size_t len = strlen(key);
    while (len > 0 && (key[len - 1] == ' ' || key[len - 1] == '\t' || key[len - 1] == '\n' ||
                       key[len - 1] == '\r'))
        len--;
    if (len == 0 || len > CG_SESSION_KEY_MAX) return false;
    char lower[CG_SESSION_KEY_MAX + 1];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f) return false;
        lower[i] = (char)tolower(c);
    }
    lower[len] = 0;
    char def[CG_AGENT_ID_MAX + 1];
    if (!cg_agent_id_normalize(default_agent ? default_agent : CG_AGENTS_DEFAULT_ID, def,
                               sizeof def))
        return false;
    int n;
    if (strcmp(lower, "main") == 0) {
        n = snprintf(out, outlen, "agent:%s:main", def);
    } else if (strncmp(lower, "agent:", 6) == 0) {
        const char *id_start = lower + 6, *colon = strchr(id_start, ':');
        if (!colon || colon == id_start || !colon[1] || colon[1] == ':') return false;
        char raw_id[CG_SESSION_KEY_MAX + 1], id[CG_AGENT_ID_MAX + 1];
        snprintf(raw_id, sizeof raw_id, "%.*s", (int)(colon - id_start), id_start);
        if (!cg_agent_id_normalize(raw_id, id, sizeof id)) return false;
        n = snprintf(out, outlen, "agent:%s:%s", id, colon + 1);
    } else {
        n = snprintf(out, outlen, "agent:%s:%s", def, lower);
    }
    return n > 0 && (size_t)n < outlen && (size_t)n <= CG_SESSION_KEY_MAX + CG_AGENT_ID_MAX + 8;
}

bool cg_session_key_agent(const char *canonical_key, char *out, size_t outlen)
{
    if (strncmp(canonical_key, "agent:", 6) != 0) return false;
    const char *colon = strchr(canonical_key + 6, ':');
    if (!colon || (size_t)(colon - canonical_key - 6) >= outlen) return false;
    snprintf(out, outlen, "%.*s", (int)(colon - canonical_key - 6), canonical_key + 6);
    return out[0] != 0;
}

bool cg_session_key_is_main(const char *canonical_key)
{
    if (strncmp(canonical_key, "agent:", 6) != 0) return false;
    const char *colon = strchr(canonical_key + 6, ':');
    return colon && strcmp(colon + 1, "main") == 0;
}

/* ---- message text ---- */

static void append_text(cg_buf *b, const char *text)
{
    if (!text || !*text) return;
    if (b->len) cg_buf_append(b, "\n", 1);
    cg_buf_appends(b, text);
}

char *cg_sessions_message_text(const json_t *message, size_t max_chars)
{
    const char *role = json_string_value(json_object_get(message, "role"));
    if (!role || (strcmp(role, "user") && strcmp(role, "assistant"))) return NULL;
    const json_t *content = json_object_get(message, "content");
    cg_buf b = {0};
    if (json_is_string(content)) {
        append_text(&b, json_string_value(content));
    } else if (json_is_array(content)) {
        size_t i;
        const json_t *part;
        json_array_foreach(content, i, part)
        {
            const char *type = json_string_value(json_object_get(part, "type"));
            if (type && (!strcmp(type, "text") || !strcmp(type, "input_text")))
                append_text(&b, json_string_value(json_object_get(part, "text")));
        }
    }
    if (!b.len) append_text(&b, json_string_value(json_object_get(message, "text")));
    if (!b.len) return NULL;
    /* Trim. */
    char *start = b.data, *end = b.data + b.len;
    while (start < end && isspace((unsigned char)*start))
        start++;
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    if (start == end) {
        cg_buf_reset(&b);
        return NULL;
    }
    /* Cut at max_chars code points, the last three of them "...". */
    size_t chars = 0, cut = 0;
    for (char *p = start; p < end; p++) {
        if (((unsigned char)*p & 0xc0) == 0x80) continue;
        if (chars == (max_chars > 3 ? max_chars - 3 : 0)) cut = (size_t)(p - start);
        chars++;
    }
    size_t keep = (size_t)(end - start);
    bool truncated = max_chars > 0 && chars > max_chars;
    if (truncated) keep = cut;
    char *out = cg_xmalloc(keep + 4);
    memcpy(out, start, keep);
    if (truncated)
        memcpy(out + keep, "...", 4);
    else
        out[keep] = 0;
    cg_buf_reset(&b);
    return out;
}

/* ---- write jobs ---- */

typedef struct write_job {
    cg_sessions *s;
    cg_store_batch batch;
    cg_sessions_done_fn done;
    void *data;
    /* Told to the listener after the commit. */
    char *key;
    int64_t generation;
    cg_sessions_event event;
    bool notify;
    int64_t seq;
    json_t *message;
} write_job;

static cg_store_stmt *job_add(write_job *j, const char *sql)
{
    return cg_store_batch_add(&j->batch, sql);
}

static write_job *job_new(cg_sessions *s, cg_sessions_done_fn done, void *data)
{
    write_job *j = cg_xcalloc(1, sizeof *j);
    j->s = s;
    j->done = done;
    j->data = data;
    return j;
}

static void job_free(write_job *j)
{
    cg_store_batch_clear(&j->batch);
    free(j->key);
    json_decref(j->message);
    free(j);
}

static int job_run(sqlite3 *db, void *data, char *err, size_t errlen)
{
    return cg_store_batch_run(db, &((write_job *)data)->batch, err, errlen);
}

static void start_waiting_reads(cg_sessions *s);
static sess_rec *rec_find(const cg_sessions *s, const char *key);

static void job_done(int status, const char *error, void *data)
{
    write_job *j = data;
    cg_sessions *s = j->s;
    s->writes_done++;
    s->inflight--;
    if (!s->freed) {
        if (status != 0)
            cg_log(CG_LOG_ERROR, "sessions", "session write failed",
                   json_pack("{s:s, s:s?}", "error", error ? error : "?", "sessionKey", j->key));
        if (status == 0 && j->notify && s->listener) {
            sess_rec *r = rec_find(s, j->key);
            if (r && r->pub.generation == j->generation)
                s->listener(&r->pub, j->event, j->seq, j->message, s->listener_data);
        }
        if (j->done) j->done(status, error, j->data);
    }
    start_waiting_reads(s);
    job_free(j);
    maybe_free(s);
}

/* Queues the job; its done runs after the commit. */
static void job_submit(cg_sessions *s, write_job *j)
{
    s->writes_submitted++;
    s->inflight++;
    cg_store_write(s->store, job_run, job_done, j);
}

static void job_save_session(write_job *j, const sess_rec *r)
{
    cg_store_stmt *st = job_add(
        j, "INSERT INTO sessions(session_key, session_id, agent_id, transcript_id, meta, "
           "created_at_ms, updated_at_ms, input_tokens, output_tokens, last_preview) "
           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(session_key) DO UPDATE "
           "SET session_id = ?2, agent_id = ?3, transcript_id = ?4, meta = ?5, "
           "created_at_ms = ?6, updated_at_ms = ?7, input_tokens = ?8, output_tokens = ?9, "
           "last_preview = ?10");
    cg_store_arg_text(st, r->pub.key);
    cg_store_arg_text(st, r->pub.session_id);
    cg_store_arg_text(st, r->pub.agent_id);
    cg_store_arg_text(st, r->transcript_id);
    cg_store_arg_text_owned(st, json_dumps(r->pub.meta, JSON_COMPACT));
    cg_store_arg_int(st, r->pub.created_at_ms);
    cg_store_arg_int(st, r->pub.updated_at_ms);
    cg_store_arg_int(st, r->pub.input_tokens);
    cg_store_arg_int(st, r->pub.output_tokens);
    cg_store_arg_text(st, r->pub.last_preview);
}

static void job_new_transcript(write_job *j, const sess_rec *r, int64_t now_ms)
{
    cg_store_stmt *st =
        job_add(j, "INSERT INTO transcripts(transcript_id, session_key, session_id, "
                   "agent_id, created_at_ms) VALUES(?1, ?2, ?3, ?4, ?5)");
    cg_store_arg_text(st, r->transcript_id);
    cg_store_arg_text(st, r->pub.key);
    cg_store_arg_text(st, r->pub.session_id);
    cg_store_arg_text(st, r->pub.agent_id);
    cg_store_arg_int(st, now_ms);
}

static void job_archive_transcript(write_job *j, const char *transcript_id, const char *reason,
                                   int64_t now_ms)
{
    cg_store_stmt *st =
        job_add(j, "UPDATE transcripts SET archived_at_ms = ?1, archive_reason = ?2 "
                   "WHERE transcript_id = ?3");
    cg_store_arg_int(st, now_ms);
    cg_store_arg_text(st, reason);
    cg_store_arg_text(st, transcript_id);
    st = job_add(j, "DELETE FROM transcripts WHERE archived_at_ms IS NOT NULL AND "
                    "transcript_id NOT IN (SELECT transcript_id FROM transcripts WHERE "
                    "archived_at_ms IS NOT NULL ORDER BY archived_at_ms DESC, rowid DESC "
                    "LIMIT ?1)");
    cg_store_arg_int(st, CG_SESSIONS_MAX_ARCHIVED);
}

/* ---- records ---- */

static sess_rec *rec_find(const cg_sessions *s, const char *key)
{
    sess_rec *r = cg_strmap_get(s->by_key, key);
    if (r || !key) return r;
    char canonical[CG_SESSION_KEY_MAX + CG_AGENT_ID_MAX + 16];
    if (!cg_session_key_canonical(key, NULL, canonical, sizeof canonical)) return NULL;
    return cg_strmap_get(s->by_key, canonical);
}

static void rec_free(sess_rec *r)
{
    free(r->pub.key);
    free(r->pub.session_id);
    free(r->pub.agent_id);
    json_decref(r->pub.meta);
    free(r->pub.last_preview);
    free(r->transcript_id);
    free(r->running);
    free(r);
}

static void rec_add(cg_sessions *s, sess_rec *r)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->all = cg_xrealloc(s->all, s->cap * sizeof *s->all);
    }
    r->index = s->n;
    s->all[s->n++] = r;
    cg_strmap_set(s->by_key, r->pub.key, r);
    r->pub.generation = ++s->generation_counter;
}

static void rec_remove(cg_sessions *s, sess_rec *r)
{
    cg_strmap_remove(s->by_key, r->pub.key);
    sess_rec *last = s->all[--s->n];
    s->all[r->index] = last;
    last->index = r->index;
    rec_free(r);
}

static char *new_uuid(void)
{
    char id[37];
    cg_uuid4(id);
    return cg_strdup(id);
}

static void running_add(sess_rec *r, int64_t seq)
{
    if (r->n_running == r->cap_running) {
        r->cap_running = r->cap_running ? r->cap_running * 2 : 2;
        r->running = cg_xrealloc(r->running, r->cap_running * sizeof *r->running);
    }
    r->running[r->n_running++] = seq;
    r->pub.running = true;
}

static void running_remove(sess_rec *r, int64_t seq)
{
    for (size_t i = 0; i < r->n_running; i++)
        if (r->running[i] == seq) {
            r->running[i] = r->running[--r->n_running];
            break;
        }
    r->pub.running = r->n_running > 0;
}

static bool running_has(const sess_rec *r, int64_t seq)
{
    for (size_t i = 0; i < r->n_running; i++)
        if (r->running[i] == seq) return true;
    return false;
}

/* ---- open ---- */

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

typedef struct load_ctx {
    cg_sessions *s;
    int64_t running_rows;
} load_ctx;

static int load_fn(sqlite3 *db, void *data, char *err, size_t errlen)
{
    load_ctx *ctx = data;
    cg_sessions *s = ctx->s;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT session_key, session_id, agent_id, transcript_id, meta, "
                           "created_at_ms, updated_at_ms, input_tokens, output_tokens, "
                           "last_preview FROM sessions",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(st) == SQLITE_ROW) {
        sess_rec *r = cg_xcalloc(1, sizeof *r);
        r->pub.key = cg_strdup(col_text(st, 0));
        r->pub.session_id = cg_strdup(col_text(st, 1));
        r->pub.agent_id = cg_strdup(col_text(st, 2));
        r->transcript_id = cg_strdup(col_text(st, 3));
        const char *meta = col_text(st, 4);
        r->pub.meta = meta ? json_loads(meta, 0, NULL) : NULL;
        if (!json_is_object(r->pub.meta)) {
            json_decref(r->pub.meta);
            r->pub.meta = json_object();
        }
        r->pub.created_at_ms = sqlite3_column_int64(st, 5);
        r->pub.updated_at_ms = sqlite3_column_int64(st, 6);
        r->pub.input_tokens = sqlite3_column_int64(st, 7);
        r->pub.output_tokens = sqlite3_column_int64(st, 8);
        r->pub.last_preview = cg_strdup(col_text(st, 9));
        if (!r->pub.key || !r->pub.session_id || !r->pub.agent_id || !r->transcript_id) {
            rec_free(r);
            continue;
        }
        rec_add(s, r);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db,
                           "SELECT s.session_key, count(m.seq), max(m.seq) FROM sessions s "
                           "JOIN transcript_messages m ON m.transcript_id = s.transcript_id "
                           "GROUP BY s.session_key",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(st) == SQLITE_ROW) {
        sess_rec *r = cg_strmap_get(s->by_key, col_text(st, 0));
        if (!r) continue;
        r->pub.message_count = sqlite3_column_int64(st, 1);
        r->last_seq = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM transcript_messages WHERE status = 'running'",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW) ctx->running_rows = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
fail:
    snprintf(err, errlen, "cannot load sessions: %s", sqlite3_errmsg(db));
    return -1;
}

/* Writer thread: every message left "running" becomes "interrupted", in its body too. */
static int recover_fn(sqlite3 *db, void *data, char *err, size_t errlen)
{
    sqlite3_stmt *sel, *upd;
    if (sqlite3_prepare_v2(db,
                           "SELECT transcript_id, seq, body FROM transcript_messages "
                           "WHERE status = 'running'",
                           -1, &sel, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(db,
                           "UPDATE transcript_messages SET status = 'interrupted', body = ?1 "
                           "WHERE transcript_id = ?2 AND seq = ?3",
                           -1, &upd, NULL) != SQLITE_OK) {
        sqlite3_finalize(sel);
        goto fail;
    }
    /* Collected first: rows are not updated under the SELECT walking them. */
    json_t *rows = json_array();
    while (sqlite3_step(sel) == SQLITE_ROW) {
        json_t *body = json_loads(col_text(sel, 2) ? col_text(sel, 2) : "", 0, NULL);
        if (!json_is_object(body)) {
            json_decref(body);
            body = json_object();
        }
        json_object_set_new(body, "status", json_string("interrupted"));
        json_array_append_new(rows,
                              json_pack("{s:s, s:I, s:o}", "t", col_text(sel, 0), "seq",
                                        (json_int_t)sqlite3_column_int64(sel, 1), "body", body));
    }
    sqlite3_finalize(sel);
    size_t i;
    json_t *row;
    int rc = 0;
    json_array_foreach(rows, i, row)
    {
        char *text = json_dumps(json_object_get(row, "body"), JSON_COMPACT);
        sqlite3_bind_text(upd, 1, text, -1, free);
        sqlite3_bind_text(upd, 2, json_string_value(json_object_get(row, "t")), -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(upd, 3, json_integer_value(json_object_get(row, "seq")));
        if (sqlite3_step(upd) != SQLITE_DONE) rc = -1;
        sqlite3_reset(upd);
        if (rc) break;
    }
    json_decref(rows);
    if (rc) snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(upd);
    return rc;
fail:
    snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    return -1;
}

static void recover_done(int status, const char *error, void *data)
{
    cg_sessions *s = data;
    s->writes_done++;
    s->inflight--;
    if (!s->freed) {
        if (status != 0)
            cg_log(CG_LOG_ERROR, "sessions", "cannot mark interrupted runs",
                   json_pack("{s:s}", "error", error ? error : "?"));
    }
    start_waiting_reads(s);
    maybe_free(s);
}

cg_sessions *cg_sessions_open(cg_store *store, uv_loop_t *loop, char *err, size_t errlen)
{
    cg_sessions *s = cg_xcalloc(1, sizeof *s);
    s->store = store;
    s->loop = loop;
    s->by_key = cg_strmap_new();
    load_ctx ctx = {.s = s};
    if (cg_store_read(store, load_fn, &ctx, err, errlen) != 0) {
        s->freed = true;
        maybe_free(s);
        return NULL;
    }
    if (ctx.running_rows > 0) {
        cg_log(CG_LOG_INFO, "sessions", "marking runs cut short by a restart as interrupted",
               json_pack("{s:I}", "messages", (json_int_t)ctx.running_rows));
        s->writes_submitted++;
        s->inflight++;
        cg_store_write(store, recover_fn, recover_done, s);
    }
    return s;
}

static void really_free(cg_sessions *s)
{
    for (size_t i = 0; i < s->n; i++)
        rec_free(s->all[i]);
    free(s->all);
    cg_strmap_free(s->by_key);
    free(s);
}

static void maybe_free(cg_sessions *s)
{
    if (s->freed && s->inflight == 0) really_free(s);
}

void cg_sessions_free(cg_sessions *s)
{
    if (!s) return;
    s->freed = true;
    s->listener = NULL;
    maybe_free(s);
}

void cg_sessions_stop(cg_sessions *s)
{
    s->stopped = true;
}

void cg_sessions_set_listener(cg_sessions *s, cg_sessions_listener_fn fn, void *data)
{
    s->listener = fn;
    s->listener_data = data;
}

/* ---- lookups ---- */

const cg_session *cg_sessions_find(const cg_sessions *s, const char *key)
{
    sess_rec *r = rec_find(s, key);
    return r ? &r->pub : NULL;
}

const cg_session *cg_sessions_find_by_id(const cg_sessions *s, const char *session_id)
{
    for (size_t i = 0; session_id && i < s->n; i++)
        if (strcmp(s->all[i]->pub.session_id, session_id) == 0) return &s->all[i]->pub;
    return NULL;
}

size_t cg_sessions_count(const cg_sessions *s)
{
    return s->n;
}

static int newest_first(const void *a, const void *b)
{
    const cg_session *x = *(const cg_session *const *)a, *y = *(const cg_session *const *)b;
    if (x->updated_at_ms != y->updated_at_ms) return x->updated_at_ms > y->updated_at_ms ? -1 : 1;
    return strcmp(x->key, y->key);
}

const cg_session **cg_sessions_sorted(const cg_sessions *s, size_t *n)
{
    const cg_session **out = cg_xcalloc(s->n ? s->n : 1, sizeof *out);
    for (size_t i = 0; i < s->n; i++)
        out[i] = &s->all[i]->pub;
    qsort(out, s->n, sizeof *out, newest_first);
    *n = s->n;
    return out;
}

/* ---- changes ---- */

static bool refuse_stopped(cg_sessions *s)
{
    if (!s->stopped) return false;
    set_error(s, "gateway shutting down");
    return true;
}

static sess_rec *known(cg_sessions *s, const char *key)
{
    sess_rec *r = rec_find(s, key);
    if (!r) set_error(s, "unknown session: %s", key ? key : "(none)");
    return r;
}

const cg_session *cg_sessions_ensure(cg_sessions *s, const char *key, const char *agent_id,
                                     int64_t now_ms)
{
    if (refuse_stopped(s)) return NULL;
    char canonical[CG_SESSION_KEY_MAX + CG_AGENT_ID_MAX + 16];
    if (!cg_session_key_canonical(key, NULL, canonical, sizeof canonical)) {
        set_error(s, "invalid session key");
        return NULL;
    }
    sess_rec *r = cg_strmap_get(s->by_key, canonical);
    if (r) return &r->pub;
    if (s->n >= CG_SESSIONS_MAX) {
        set_error(s, "too many sessions (%d); delete some", CG_SESSIONS_MAX);
        return NULL;
    }
    char key_agent[CG_AGENT_ID_MAX + 1];
    if (!cg_session_key_agent(canonical, key_agent, sizeof key_agent)) {
        set_error(s, "invalid session key");
        return NULL;
    }
    r = cg_xcalloc(1, sizeof *r);
    r->pub.key = cg_strdup(canonical);
    r->pub.session_id = new_uuid();
    r->pub.agent_id = cg_strdup(agent_id ? agent_id : key_agent);
    r->pub.meta = json_object();
    r->pub.created_at_ms = r->pub.updated_at_ms = now_ms;
    r->transcript_id = new_uuid();
    rec_add(s, r);
    write_job *j = job_new(s, NULL, NULL);
    job_new_transcript(j, r, now_ms);
    job_save_session(j, r);
    j->key = cg_strdup(r->pub.key);
    j->generation = r->pub.generation;
    j->event = CG_SESSIONS_CREATED;
    j->notify = true;
    job_submit(s, j);
    return &r->pub;
}

static const char *message_status(const json_t *message)
{
    const char *status = json_string_value(json_object_get(message, "status"));
    return status && *status ? status : "complete";
}

static json_int_t usage_of(const json_t *message, const char *field)
{
    const char *role = json_string_value(json_object_get(message, "role"));
    if (!role || strcmp(role, "assistant")) return 0;
    const json_t *v = json_object_get(json_object_get(message, "usage"), field);
    if (json_is_integer(v) && json_integer_value(v) > 0) return json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 9e15)
        return (json_int_t)json_real_value(v);
    return 0;
}

/* What a stored message changes in the record; returns the serialized body or NULL with
 * the error set. */
static char *take_message(cg_sessions *s, sess_rec *r, const json_t *message)
{
    if (!json_is_object(message) || !json_is_string(json_object_get(message, "role"))) {
        set_error(s, "a transcript message must be an object with a string role");
        return NULL;
    }
    char *text = json_dumps(message, JSON_COMPACT);
    if (!text || strlen(text) > CG_SESSIONS_MAX_MESSAGE_BYTES) {
        free(text);
        set_error(s, "message too large (more than %u bytes)", CG_SESSIONS_MAX_MESSAGE_BYTES);
        return NULL;
    }
    r->pub.input_tokens += usage_of(message, "input");
    r->pub.output_tokens += usage_of(message, "output");
    char *preview = cg_sessions_message_text(message, CG_SESSIONS_PREVIEW_CHARS);
    if (preview) {
        free(r->pub.last_preview);
        r->pub.last_preview = preview;
    }
    int64_t now = cg_now_ms();
    if (now > r->pub.updated_at_ms) r->pub.updated_at_ms = now;
    return text;
}

int64_t cg_sessions_append(cg_sessions *s, const char *key, const json_t *message,
                           cg_sessions_done_fn done, void *data)
{
    if (refuse_stopped(s)) return -1;
    sess_rec *r = known(s, key);
    if (!r) return -1;
    if (r->pub.message_count >= CG_SESSIONS_MAX_MESSAGES) {
        set_error(s, "session transcript is full (%d messages); compact or reset it",
                  CG_SESSIONS_MAX_MESSAGES);
        return -1;
    }
    char *body = take_message(s, r, message);
    if (!body) return -1;
    int64_t seq = ++r->last_seq;
    r->pub.message_count++;
    const char *status = message_status(message);
    if (strcmp(status, "running") == 0) running_add(r, seq);
    write_job *j = job_new(s, done, data);
    cg_store_stmt *st =
        job_add(j, "INSERT INTO transcript_messages(transcript_id, seq, body, status, "
                   "run_id, created_at_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    cg_store_arg_text(st, r->transcript_id);
    cg_store_arg_int(st, seq);
    cg_store_arg_text_owned(st, body);
    cg_store_arg_text(st, status);
    cg_store_arg_text(st, json_string_value(json_object_get(message, "runId")));
    cg_store_arg_int(st, cg_now_ms());
    job_save_session(j, r);
    j->key = cg_strdup(r->pub.key);
    j->generation = r->pub.generation;
    j->event = CG_SESSIONS_MESSAGE;
    j->notify = true;
    j->seq = seq;
    j->message = json_deep_copy(message);
    job_submit(s, j);
    return seq;
}

int cg_sessions_replace(cg_sessions *s, const char *key, int64_t seq, const json_t *message,
                        cg_sessions_done_fn done, void *data)
{
    if (refuse_stopped(s)) return -1;
    sess_rec *r = known(s, key);
    if (!r) return -1;
    if (seq < 1 || seq > r->last_seq) {
        set_error(s, "no message %lld in session %s", (long long)seq, r->pub.key);
        return -1;
    }
    char *body = take_message(s, r, message);
    if (!body) return -1;
    const char *status = message_status(message);
    if (strcmp(status, "running") == 0) {
        if (!running_has(r, seq)) running_add(r, seq);
    } else {
        running_remove(r, seq);
    }
    write_job *j = job_new(s, done, data);
    cg_store_stmt *st =
        job_add(j, "UPDATE transcript_messages SET body = ?1, status = ?2, run_id = ?3 "
                   "WHERE transcript_id = ?4 AND seq = ?5");
    cg_store_arg_text_owned(st, body);
    cg_store_arg_text(st, status);
    cg_store_arg_text(st, json_string_value(json_object_get(message, "runId")));
    cg_store_arg_text(st, r->transcript_id);
    cg_store_arg_int(st, seq);
    st->unchanged_error = "message not found";
    job_save_session(j, r);
    j->key = cg_strdup(r->pub.key);
    j->generation = r->pub.generation;
    j->event = CG_SESSIONS_MESSAGE;
    j->notify = true;
    j->seq = seq;
    j->message = json_deep_copy(message);
    job_submit(s, j);
    return 0;
}

int cg_sessions_patch_meta(cg_sessions *s, const char *key, const json_t *changes, int64_t now_ms,
                           cg_sessions_done_fn done, void *data)
{
    if (refuse_stopped(s)) return -1;
    sess_rec *r = known(s, key);
    if (!r) return -1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)changes, k, v)
    {
        if (json_is_null(v))
            json_object_del(r->pub.meta, k);
        else
            json_object_set(r->pub.meta, k, v);
    }
    if (now_ms > r->pub.updated_at_ms) r->pub.updated_at_ms = now_ms;
    write_job *j = job_new(s, done, data);
    job_save_session(j, r);
    j->key = cg_strdup(r->pub.key);
    job_submit(s, j);
    return 0;
}

int cg_sessions_reset(cg_sessions *s, const char *key, int64_t now_ms, cg_sessions_done_fn done,
                      void *data)
{
    if (refuse_stopped(s)) return -1;
    sess_rec *r = known(s, key);
    if (!r) return -1;
    write_job *j = job_new(s, done, data);
    job_archive_transcript(j, r->transcript_id, "reset", now_ms);
    free(r->transcript_id);
    r->transcript_id = new_uuid();
    if (!cg_session_key_is_main(r->pub.key)) {
        free(r->pub.session_id);
        r->pub.session_id = new_uuid();
    }
    r->pub.message_count = 0;
    r->last_seq = 0;
    r->pub.input_tokens = r->pub.output_tokens = 0;
    free(r->pub.last_preview);
    r->pub.last_preview = NULL;
    r->n_running = 0;
    r->pub.running = false;
    r->pub.generation = ++s->generation_counter;
    if (now_ms > r->pub.updated_at_ms) r->pub.updated_at_ms = now_ms;
    job_new_transcript(j, r, now_ms);
    job_save_session(j, r);
    j->key = cg_strdup(r->pub.key);
    job_submit(s, j);
    return 0;
}

int cg_sessions_delete(cg_sessions *s, const char *key, int64_t now_ms, cg_sessions_done_fn done,
                       void *data)
{
    if (refuse_stopped(s)) return -1;
    sess_rec *r = known(s, key);
    if (!r) return -1;
    write_job *j = job_new(s, done, data);
    job_archive_transcript(j, r->transcript_id, "delete", now_ms);
    cg_store_stmt *st = job_add(j, "DELETE FROM sessions WHERE session_key = ?1");
    cg_store_arg_text(st, r->pub.key);
    j->key = cg_strdup(r->pub.key);
    rec_remove(s, r);
    job_submit(s, j);
    return 0;
}

int64_t cg_sessions_compact(cg_sessions *s, const char *key, int64_t max_lines, int64_t now_ms,
                            cg_sessions_done_fn done, void *data)
{
    if (refuse_stopped(s)) return -1;
    sess_rec *r = known(s, key);
    if (!r) return -1;
    if (max_lines < 1) max_lines = 1;
    if (r->pub.message_count <= max_lines) return r->pub.message_count;
    write_job *j = job_new(s, done, data);
    cg_store_stmt *st =
        job_add(j, "DELETE FROM transcript_messages WHERE transcript_id = ?1 AND "
                   "seq < (SELECT min(seq) FROM (SELECT seq FROM transcript_messages "
                   "WHERE transcript_id = ?1 ORDER BY seq DESC LIMIT ?2))");
    cg_store_arg_text(st, r->transcript_id);
    cg_store_arg_int(st, max_lines);
    r->pub.message_count = max_lines;
    if (now_ms > r->pub.updated_at_ms) r->pub.updated_at_ms = now_ms;
    job_save_session(j, r);
    j->key = cg_strdup(r->pub.key);
    job_submit(s, j);
    return max_lines;
}

/* ---- history ---- */

struct hist_req {
    hist_req *next;
    cg_sessions *s;
    uint64_t need; /* writes_done must reach it before the read starts */
    char *key;
    char *transcript_id; /* NULL: answer [] without reading */
    int64_t limit;
    cg_sessions_history_fn cb;
    void *data;
    json_t *messages;
    int64_t total;
    bool has_more;
};

static void hist_free(hist_req *h)
{
    free(h->key);
    free(h->transcript_id);
    json_decref(h->messages);
    free(h);
}

/* Thread pool, inside the read transaction. */
static int hist_read(sqlite3 *db, void *data, char *err, size_t errlen)
{
    hist_req *h = data;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM transcript_messages WHERE transcript_id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, h->transcript_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) h->total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, body FROM transcript_messages WHERE transcript_id = ?1 "
                           "ORDER BY seq DESC LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, h->transcript_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, h->limit);
    json_t *newest_first = json_array();
    size_t bytes = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int len = sqlite3_column_bytes(st, 1);
        const char *text = (const char *)sqlite3_column_blob(st, 1);
        if (bytes + (size_t)len > CG_SESSIONS_HISTORY_MAX_BYTES && json_array_size(newest_first))
            break;
        bytes += (size_t)len;
        json_t *msg = text ? json_loadb(text, (size_t)len, 0, NULL) : NULL;
        if (!json_is_object(msg)) {
            json_decref(msg);
            continue;
        }
        json_t *meta = json_object_get(msg, "__openclaw");
        if (!json_is_object(meta)) {
            meta = json_object();
            json_object_set_new(msg, "__openclaw", meta);
        }
        json_object_set_new(meta, "seq", json_integer(sqlite3_column_int64(st, 0)));
        json_array_append_new(newest_first, msg);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(newest_first);
        goto fail;
    }
    size_t n = json_array_size(newest_first);
    h->messages = json_array();
    for (size_t i = n; i > 0; i--)
        json_array_append(h->messages, json_array_get(newest_first, i - 1));
    json_decref(newest_first);
    h->has_more = h->total > (int64_t)n;
    return 0;
fail:
    snprintf(err, errlen, "cannot read the transcript: %s", sqlite3_errmsg(db));
    return -1;
}

/* Loop: what the read found, with runs that are not live reported interrupted. */
static void hist_deliver(hist_req *h)
{
    cg_sessions *s = h->s;
    if (!h->messages) h->messages = json_array();
    sess_rec *r = h->key ? rec_find(s, h->key) : NULL;
    bool same = r && h->transcript_id && strcmp(r->transcript_id, h->transcript_id) == 0;
    size_t i;
    json_t *msg;
    json_array_foreach(h->messages, i, msg)
    {
        if (strcmp(message_status(msg), "running") != 0) continue;
        int64_t seq =
            json_integer_value(json_object_get(json_object_get(msg, "__openclaw"), "seq"));
        if (!same || !running_has(r, seq))
            json_object_set_new(msg, "status", json_string("interrupted"));
    }
    json_t *messages = h->messages;
    h->messages = NULL;
    h->cb(messages, h->total, h->has_more, h->data);
}

static void hist_read_done(int status, const char *error, void *data)
{
    hist_req *h = data;
    cg_sessions *s = h->s;
    s->inflight--;
    if (!s->freed) {
        if (status != 0) {
            cg_log(CG_LOG_ERROR, "sessions", "history read failed",
                   json_pack("{s:s, s:s?}", "error", error ? error : "?", "sessionKey", h->key));
            json_decref(h->messages);
            h->messages = NULL;
            h->total = 0;
            h->has_more = false;
        }
        hist_deliver(h);
    }
    hist_free(h);
    maybe_free(s);
}

static void nothing_work(uv_work_t *work)
{
    (void)work;
}

static void nothing_after(uv_work_t *work, int status)
{
    hist_req *h = work->data;
    free(work);
    hist_read_done(0, NULL, h);
}

static void hist_start(hist_req *h)
{
    cg_sessions *s = h->s;
    if (h->transcript_id && !s->stopped && !s->freed) {
        cg_store_read_async(s->store, hist_read, hist_read_done, h);
        return;
    }
    /* Nothing to read: answer on a later loop turn all the same. */
    uv_work_t *work = cg_xcalloc(1, sizeof *work);
    work->data = h;
    uv_queue_work(s->loop, work, nothing_work, nothing_after);
}

static void start_waiting_reads(cg_sessions *s)
{
    while (s->wait_head && s->wait_head->need <= s->writes_done) {
        hist_req *h = s->wait_head;
        s->wait_head = h->next;
        if (!s->wait_head) s->wait_tail = NULL;
        hist_start(h);
    }
}

void cg_sessions_history(cg_sessions *s, const char *key, int64_t limit, cg_sessions_history_fn cb,
                         void *data)
{
    hist_req *h = cg_xcalloc(1, sizeof *h);
    h->s = s;
    h->cb = cb;
    h->data = data;
    h->limit = limit < 1 ? 1 : limit > CG_SESSIONS_HISTORY_MAX ? CG_SESSIONS_HISTORY_MAX : limit;
    sess_rec *r = rec_find(s, key);
    if (r) {
        h->key = cg_strdup(r->pub.key);
        h->transcript_id = cg_strdup(r->transcript_id);
    }
    h->need = s->writes_submitted;
    s->inflight++;
    if (!s->stopped && h->need > s->writes_done) {
        if (s->wait_tail)
            s->wait_tail->next = h;
        else
            s->wait_head = h;
        s->wait_tail = h;
        return;
    }
    hist_start(h);
}
