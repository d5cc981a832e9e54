/* Cron, as OpenClaw's (issue 10): cron.list, cron.status, cron.get, cron.add,
 * cron.update, cron.remove, cron.run, cron.runs and the `cron` event.
 *
 * A job lives in memory (its CronJob body without state, its state, its parsed
 * schedule) and in the state store: cron_jobs holds body and state as JSON, cron_runs
 * the CronRunLogEntry of each finished run, the newest CRON_RUN_LOG_KEEP per job. The
 * scheduler (src/cron/scheduler.h) holds each enabled job's next due time and calls
 * on_due when it comes.
 *
 * A run, in order:
 *   1. its state is written with runningAtMs and the *next* due time (or none for an
 *      `at` job), and only once that write has committed
 *   2. `started` is broadcast and the payload goes to the run engine: systemEvent as a
 *      system line in the agent's main session (wakeMode "now" runs it at once,
 *      "next-heartbeat" only queues it for the session's next run); agentTurn as a user
 *      turn in a session of its own, "cron:<jobId>" (or the session:<key> target);
 *   3. when it ends, an agentTurn reply with delivery {mode: "announce"} goes to
 *      cg_channels_deliver; then the state (lastRunAtMs, lastRunStatus, ...) and the run
 *      log entry are written and `finished` is broadcast; an `at` job that succeeded is
 *      deleted unless deleteAfterRun is false (else it is disabled).
 * Because step 1 commits before anything runs, a run is at most once: a crash or kill
 * mid-run leaves the next due time in the future, and the restart does not run it
 * again (its runningAtMs is cleared and logged as interrupted).
 *
 * Missed runs: a due time that is already CG_CRON_JUMP_THRESHOLD_MS past when the timer
 * hands it over (the gateway was down, the machine slept, the clock jumped forward)
 * runs once when the job's catchUp says so (clawgate's extension; default on for `at`
 * and `cron`, off for `every`), else it is skipped to the next due time after now.
 * A clock set backwards brings `every` and `cron` jobs' next times back to the first
 * one after the new now. One run of a job at a time: a due time that comes while the
 * job runs is skipped (state.consecutiveSkipped). Jobs run concurrently with each
 * other: each run is handed to the engine and the loop moves on. */
#include "methods/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "agent/agents.h"
#include "auth/device_sig.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "cron/schedule.h"
#include "cron/scheduler.h"
#include "methods/channels.h"
#include "methods/runs.h"
#include "methods/sessions.h"
#include "proto/frame.h"
#include "store/store.h"

#define CRON_JOBS_MAX 10000
#define CRON_RUN_LOG_KEEP 200
#define CRON_SUMMARY_MAX 2000
#define CRON_LIST_DEFAULT_LIMIT 50
#define CRON_RUNS_DEFAULT_LIMIT 50
#define CRON_RUNS_SCAN_MAX 5000 /* newest log entries looked at by one cron.runs */
#define CRON_ID_MAX 64

typedef struct cron_job {
    char id[CRON_ID_MAX + 1];
    json_t *body;  /* CronJob without state and mirrors; may hold clawgate's catchUp */
    json_t *state; /* CronJob.state */
    cg_cron_schedule sched;
    bool running;
} cron_job;

typedef struct cron_mod {
    cg_gateway *gw;
    cg_cron_sched *sched;
    cg_strmap *by_id;
    cron_job **jobs; /* in creation order */
    size_t n, cap;
    bool enabled; /* config cron.enabled (default true) */
    uint64_t run_seq;
} cron_mod;

static void mod_free(void *data);
static void mod_stop(void *data);
static const cg_conn_key cron_key = {.name = "cron", .free_data = mod_free, .stop = mod_stop};

static cron_mod *mod_of(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &cron_key);
}

/* The scheduler is gone once the gateway stops (runs ending then change no timer); with
 * cron.enabled false nothing is timed (cron.run still runs a job). */
static void sched_set(cron_mod *m, const char *id, int64_t due_ms)
{
    if (m->sched && m->enabled) cg_cron_sched_set(m->sched, id, due_ms);
}

static void sched_remove(cron_mod *m, const char *id)
{
    if (m->sched) cg_cron_sched_remove(m->sched, id);
}

/* ---- jobs in memory ---- */

static cron_job *job_find(cron_mod *m, const char *id)
{
    return id ? cg_strmap_get(m->by_id, id) : NULL;
}

static void job_free(cron_job *j)
{
    json_decref(j->body);
    json_decref(j->state);
    free(j);
}

static void jobs_add(cron_mod *m, cron_job *j)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->jobs = cg_xrealloc(m->jobs, m->cap * sizeof *m->jobs);
    }
    m->jobs[m->n++] = j;
    cg_strmap_set(m->by_id, j->id, j);
}

static void jobs_remove(cron_mod *m, cron_job *j)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->jobs[i] == j) {
            memmove(&m->jobs[i], &m->jobs[i + 1], (m->n - i - 1) * sizeof *m->jobs);
            m->n--;
            break;
        }
    cg_strmap_remove(m->by_id, j->id);
    sched_remove(m, j->id);
    job_free(j);
}

static const char *body_str(const cron_job *j, const char *key)
{
    return json_string_value(json_object_get(j->body, key));
}

static bool job_enabled(const cron_job *j)
{
    return !json_is_false(json_object_get(j->body, "enabled"));
}

static bool job_catch_up(const cron_job *j)
{
    const json_t *v = json_object_get(j->body, "catchUp");
    return json_is_boolean(v) ? json_is_true(v) : j->sched.kind != CG_SCHEDULE_EVERY;
}

static int64_t state_int(const cron_job *j, const char *key, int64_t fallback)
{
    const json_t *v = json_object_get(j->state, key);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

static void state_set_int(cron_job *j, const char *key, int64_t v)
{
    if (v < 0)
        json_object_del(j->state, key);
    else
        json_object_set_new(j->state, key, json_integer(v));
}

static const char *agent_of(const cron_job *j)
{
    const char *a = body_str(j, "agentId");
    return a ? a : CG_AGENTS_DEFAULT_ID;
}

/* The CronJob on the wire: the body, its state, and the mirrors the real gateway adds. */
static json_t *job_output(const cron_job *j)
{
    json_t *out = json_deep_copy(j->body);
    json_object_del(out, "catchUp");
    json_object_set_new(out, "state", json_deep_copy(j->state));
    static const char *const mirrors[] = {"nextRunAtMs",        "lastRunAtMs",
                                          "lastRunStatus",      "lastRunError",
                                          "lastDeliveryStatus", "lastDeliveryError"};
    for (size_t i = 0; i < sizeof mirrors / sizeof mirrors[0]; i++) {
        const char *from = strcmp(mirrors[i], "lastRunError") ? mirrors[i] : "lastError";
        json_t *v = json_object_get(j->state, from);
        if (v) json_object_set(out, mirrors[i], v);
    }
    return out;
}

static void broadcast(cron_mod *m, json_t *payload)
{
    cg_gateway_broadcast(m->gw, "cron", payload, CG_ROLE_OPERATOR, CG_SCOPE_READ, 0);
}

/* ---- the state store ---- */

typedef struct write_job {
    cg_store_batch batch;
    cg_store_done_fn done;
    void *data;
} write_job;

static int write_run(sqlite3 *db, void *data, char *err, size_t errlen)
{
    return cg_store_batch_run(db, &((write_job *)data)->batch, err, errlen);
}

static void write_done(int status, const char *error, void *data)
{
    write_job *w = data;
    if (status != 0)
        cg_log(CG_LOG_ERROR, "cron", "state write failed",
               json_pack("{s:s}", "error", error ? error : "?"));
    if (w->done) w->done(status, error, w->data);
    cg_store_batch_clear(&w->batch);
    free(w);
}

static write_job *write_new(cg_store_done_fn done, void *data)
{
    write_job *w = cg_xcalloc(1, sizeof *w);
    w->done = done;
    w->data = data;
    return w;
}

static void write_submit(cron_mod *m, write_job *w)
{
    struct cg_store *store = cg_gateway_store(m->gw);
    if (store)
        cg_store_write(store, write_run, write_done, w);
    else
        write_done(-1, "state store closed", w); /* a run that ended after the stop */
}

static void arg_json(cg_store_stmt *s, const json_t *v)
{
    cg_store_arg_text_owned(s, json_dumps(v, JSON_COMPACT));
}

static void write_save_job(write_job *w, const cron_job *j)
{
    cg_store_stmt *s = cg_store_batch_add(
        &w->batch, "INSERT INTO cron_jobs(job_id, body, state, created_at_ms, updated_at_ms) "
                   "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(job_id) DO UPDATE SET "
                   "body = ?2, state = ?3, updated_at_ms = ?5");
    cg_store_arg_text(s, j->id);
    arg_json(s, j->body);
    arg_json(s, j->state);
    cg_store_arg_int(s, json_integer_value(json_object_get(j->body, "createdAtMs")));
    cg_store_arg_int(s, json_integer_value(json_object_get(j->body, "updatedAtMs")));
}

static void write_save_state(write_job *w, const cron_job *j)
{
    cg_store_stmt *s =
        cg_store_batch_add(&w->batch, "UPDATE cron_jobs SET state = ?2 WHERE job_id = ?1");
    cg_store_arg_text(s, j->id);
    arg_json(s, j->state);
}

static void write_delete_job(write_job *w, const char *id)
{
    cg_store_arg_text(cg_store_batch_add(&w->batch, "DELETE FROM cron_jobs WHERE job_id = ?1"), id);
    cg_store_arg_text(cg_store_batch_add(&w->batch, "DELETE FROM cron_runs WHERE job_id = ?1"), id);
}

static void write_log_entry(write_job *w, const char *id, const json_t *entry)
{
    cg_store_stmt *s =
        cg_store_batch_add(&w->batch, "INSERT INTO cron_runs(job_id, ts, body) VALUES(?1, ?2, ?3)");
    cg_store_arg_text(s, id);
    cg_store_arg_int(s, json_integer_value(json_object_get(entry, "ts")));
    arg_json(s, entry);
    s = cg_store_batch_add(&w->batch, "DELETE FROM cron_runs WHERE job_id = ?1 AND entry_id NOT IN "
                                      "(SELECT entry_id FROM cron_runs WHERE job_id = ?1 "
                                      "ORDER BY entry_id DESC LIMIT ?2)");
    cg_store_arg_text(s, id);
    cg_store_arg_int(s, CRON_RUN_LOG_KEEP);
}

/* The job's state, written in the background (failures are logged). */
static void save_state(cron_mod *m, const cron_job *j)
{
    write_job *w = write_new(NULL, NULL);
    write_save_state(w, j);
    write_submit(m, w);
}

/* ---- validation (CronAddParams, and a job after a cron.update patch) ---- */

static bool in_list(const char *key, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(key, *list)) return true;
    return false;
}

/* Every key of obj is in allowed; those in unsupported get "is not supported". */
static int check_keys(const json_t *obj, const char *path, const char *const *allowed,
                      const char *const *unsupported, char *err, size_t errlen)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (in_list(key, allowed)) continue;
        if (unsupported && in_list(key, unsupported))
            snprintf(err, errlen, "at %s/%s: is not supported by clawgate", path, key);
        else if (*path)
            snprintf(err, errlen, "at %s: unexpected property '%s'", path, key);
        else
            snprintf(err, errlen, "unexpected property '%s'", key);
        return -1;
    }
    return 0;
}

/* A member that must be a string (non-empty when nonempty), when present. */
static int check_string(const json_t *obj, const char *path, const char *key, bool required,
                        bool nonempty, bool nullable, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (!required) return 0;
        if (*path)
            snprintf(err, errlen, "at %s: must have required property '%s'", path, key);
        else
            snprintf(err, errlen, "must have required property '%s'", key);
        return -1;
    }
    if (nullable && json_is_null(v)) return 0;
    if (!json_is_string(v)) {
        snprintf(err, errlen, "at %s/%s: must be string", path, key);
        return -1;
    }
    if (nonempty && json_string_length(v) == 0) {
        snprintf(err, errlen, "at %s/%s: must NOT have fewer than 1 characters", path, key);
        return -1;
    }
    return 0;
}

static int check_bool(const json_t *obj, const char *path, const char *key, char *err,
                      size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (v && !json_is_boolean(v)) {
        snprintf(err, errlen, "at %s/%s: must be boolean", path, key);
        return -1;
    }
    return 0;
}

static int check_schedule(const json_t *s, int64_t now, cg_cron_schedule *out, char *err,
                          size_t errlen)
{
    if (!json_is_object(s)) {
        snprintf(err, errlen, "at /schedule: must be object");
        return -1;
    }
    const char *kind = json_string_value(json_object_get(s, "kind"));
    static const char *const at_keys[] = {"kind", "at", NULL};
    static const char *const every_keys[] = {"kind", "everyMs", "anchorMs", NULL};
    static const char *const cron_keys[] = {"kind", "expr", "tz", "staggerMs", NULL};
    const char *const *keys = !kind                    ? NULL
                              : !strcmp(kind, "at")    ? at_keys
                              : !strcmp(kind, "every") ? every_keys
                              : !strcmp(kind, "cron")  ? cron_keys
                                                       : NULL;
    if (keys && check_keys(s, "/schedule", keys, NULL, err, errlen) != 0) return -1;
    for (const char *const *k = (const char *const[]){"everyMs", "anchorMs", "staggerMs", NULL}; *k;
         k++) {
        const json_t *v = json_object_get(s, *k);
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
            snprintf(err, errlen, "at /schedule/%s: must be a non-negative integer", *k);
            return -1;
        }
    }
    if (keys && (check_string(s, "/schedule", "at", false, true, false, err, errlen) != 0 ||
                 check_string(s, "/schedule", "expr", false, true, false, err, errlen) != 0 ||
                 check_string(s, "/schedule", "tz", false, false, false, err, errlen) != 0))
        return -1;
    if (cg_cron_schedule_parse(s, now, out, err, errlen) != 0) return -1;
    if (out->kind == CG_SCHEDULE_AT && out->at_ms <= now) {
        snprintf(err, errlen, "schedule.at is in the past");
        return -1;
    }
    return 0;
}

static int check_payload(const json_t *p, char *err, size_t errlen)
{
    if (!json_is_object(p)) {
        snprintf(err, errlen, "at /payload: must be object");
        return -1;
    }
    const char *kind = json_string_value(json_object_get(p, "kind"));
    static const char *const unsupported[] = {"toolsAllow",
                                              "toolsAllowIsDefault",
                                              "fallbacks",
                                              "timeoutSeconds",
                                              "allowUnsafeExternalContent",
                                              "lightContext",
                                              NULL};
    if (kind && !strcmp(kind, "systemEvent")) {
        static const char *const keys[] = {"kind", "text", NULL};
        return check_keys(p, "/payload", keys, unsupported, err, errlen) ||
               check_string(p, "/payload", "text", true, true, false, err, errlen);
    }
    if (kind && !strcmp(kind, "agentTurn")) {
        static const char *const keys[] = {"kind", "message", "model", "thinking", NULL};
        return check_keys(p, "/payload", keys, unsupported, err, errlen) ||
               check_string(p, "/payload", "message", true, true, false, err, errlen) ||
               check_string(p, "/payload", "model", false, true, false, err, errlen) ||
               check_string(p, "/payload", "thinking", false, true, false, err, errlen);
    }
    if (kind)
        snprintf(err, errlen, "payload.kind \"%s\" is not supported by clawgate", kind);
    else
        snprintf(err, errlen, "at /payload: must have required property 'kind'");
    return -1;
}

static int check_delivery(const json_t *d, char *err, size_t errlen)
{
    if (!d) return 0;
    if (!json_is_object(d)) {
        snprintf(err, errlen, "at /delivery: must be object");
        return -1;
    }
    static const char *const keys[] = {"mode", "channel", "to", "bestEffort", NULL};
    static const char *const unsupported[] = {"threadId", "accountId", "failureDestination",
                                              "completionDestination", NULL};
    if (check_keys(d, "/delivery", keys, unsupported, err, errlen) ||
        check_string(d, "/delivery", "mode", true, true, false, err, errlen) ||
        check_string(d, "/delivery", "channel", false, true, false, err, errlen) ||
        check_string(d, "/delivery", "to", false, true, false, err, errlen) ||
        check_bool(d, "/delivery", "bestEffort", err, errlen))
        return -1;
    const char *mode = json_string_value(json_object_get(d, "mode"));
    if (!strcmp(mode, "webhook")) {
        snprintf(err, errlen, "at /delivery/mode: \"webhook\" is not supported by clawgate");
        return -1;
    }
    if (strcmp(mode, "none") != 0 && strcmp(mode, "announce") != 0) {
        snprintf(err, errlen, "at /delivery/mode: must be equal to one of the allowed values");
        return -1;
    }
    return 0;
}

static const char *const job_keys[] = {
    "name",     "displayName", "description", "enabled",  "deleteAfterRun",
    "catchUp",  "agentId",     "sessionKey",  "schedule", "sessionTarget",
    "wakeMode", "payload",     "delivery",    NULL};
static const char *const job_keys_unsupported[] = {"declarationKey", "owner",        "pacing",
                                                   "trigger",        "failureAlert", NULL};

/* A whole job as cron.add takes it (and as a patched job must be). 0, or -1 with err. */
static int check_job(const json_t *b, int64_t now, cg_cron_schedule *sched, char *err,
                     size_t errlen)
{
    if (!json_is_object(b)) {
        snprintf(err, errlen, "must be object");
        return -1;
    }
    if (check_keys(b, "", job_keys, job_keys_unsupported, err, errlen) ||
        check_string(b, "", "name", true, true, false, err, errlen) ||
        check_string(b, "", "displayName", false, true, false, err, errlen) ||
        check_string(b, "", "description", false, false, false, err, errlen) ||
        check_string(b, "", "agentId", false, true, true, err, errlen) ||
        check_string(b, "", "sessionKey", false, true, true, err, errlen) ||
        check_string(b, "", "sessionTarget", true, true, false, err, errlen) ||
        check_string(b, "", "wakeMode", true, true, false, err, errlen) ||
        check_bool(b, "", "enabled", err, errlen) ||
        check_bool(b, "", "deleteAfterRun", err, errlen) ||
        check_bool(b, "", "catchUp", err, errlen))
        return -1;
    if (!json_object_get(b, "schedule") || !json_object_get(b, "payload")) {
        snprintf(err, errlen, "must have required property '%s'",
                 json_object_get(b, "schedule") ? "payload" : "schedule");
        return -1;
    }
    const char *agent = json_string_value(json_object_get(b, "agentId"));
    char normalized[CG_AGENT_ID_MAX + 1];
    if (agent && !cg_agent_id_normalize(agent, normalized, sizeof normalized)) {
        snprintf(err, errlen, "at /agentId: invalid agent id");
        return -1;
    }
    const char *wake = json_string_value(json_object_get(b, "wakeMode"));
    if (strcmp(wake, "now") != 0 && strcmp(wake, "next-heartbeat") != 0) {
        snprintf(err, errlen, "at /wakeMode: must be equal to one of the allowed values");
        return -1;
    }
    if (check_payload(json_object_get(b, "payload"), err, errlen) ||
        check_delivery(json_object_get(b, "delivery"), err, errlen) ||
        check_schedule(json_object_get(b, "schedule"), now, sched, err, errlen))
        return -1;
    const char *target = json_string_value(json_object_get(b, "sessionTarget"));
    const char *kind = json_string_value(json_object_get(json_object_get(b, "payload"), "kind"));
    bool system = !strcmp(kind, "systemEvent");
    if (!strcmp(target, "main")) {
        if (!system) {
            snprintf(err, errlen, "main job requires payload.kind=\"systemEvent\"");
            return -1;
        }
    } else if (!strcmp(target, "isolated")) {
        if (system) {
            snprintf(err, errlen, "isolated job requires payload.kind=\"agentTurn\"");
            return -1;
        }
    } else if (!strncmp(target, "session:", 8) && target[8]) {
        if (strlen(target + 8) > CG_SESSION_KEY_MAX) {
            snprintf(err, errlen, "at /sessionTarget: session key too long");
            return -1;
        }
    } else if (!strcmp(target, "current")) {
        snprintf(err, errlen, "at /sessionTarget: \"current\" is not supported by clawgate");
        return -1;
    } else {
        snprintf(err, errlen, "at /sessionTarget: must be main, isolated or session:<key>");
        return -1;
    }
    const json_t *delivery = json_object_get(b, "delivery");
    const char *mode = json_string_value(json_object_get(delivery, "mode"));
    if (system && mode && !strcmp(mode, "announce")) {
        snprintf(err, errlen, "delivery applies to agentTurn jobs");
        return -1;
    }
    return 0;
}

static int check_add(const json_t *params, char *err, size_t errlen)
{
    cg_cron_schedule sched;
    return check_job(params, cg_cron_sched_now(), &sched, err, errlen);
}

/* {id} or {jobId}, plus the extra keys given. */
static int check_id_params(const json_t *params, const char *const *extra, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "must be object");
        return -1;
    }
    bool has_id = json_object_get(params, "id"), has_job_id = json_object_get(params, "jobId");
    if (has_id == has_job_id) {
        snprintf(err, errlen,
                 has_id ? "give id or jobId, not both" : "must have required property 'id'");
        return -1;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        if (!strcmp(key, "id") || !strcmp(key, "jobId")) {
            if (!json_is_string(v) || !json_string_length(v)) {
                snprintf(err, errlen, "at /%s: must be a non-empty string", key);
                return -1;
            }
        } else if (!extra || !in_list(key, extra)) {
            snprintf(err, errlen, "unexpected property '%s'", key);
            return -1;
        }
    }
    return 0;
}

static int check_get(const json_t *params, char *err, size_t errlen)
{
    return check_id_params(params, NULL, err, errlen);
}

static int check_update(const json_t *params, char *err, size_t errlen)
{
    static const char *const extra[] = {"patch", NULL};
    if (check_id_params(params, extra, err, errlen) != 0) return -1;
    const json_t *patch = json_object_get(params, "patch");
    if (!json_is_object(patch)) {
        snprintf(err, errlen,
                 patch ? "at /patch: must be object" : "must have required property 'patch'");
        return -1;
    }
    static const char *const unsupported[] = {"declarationKey", "owner", "pacing", "trigger",
                                              "failureAlert",   "state", NULL};
    return check_keys(patch, "/patch", job_keys, unsupported, err, errlen);
}

static int check_run(const json_t *params, char *err, size_t errlen)
{
    static const char *const extra[] = {"mode", NULL};
    if (check_id_params(params, extra, err, errlen) != 0) return -1;
    const json_t *mode = json_object_get(params, "mode");
    const char *m = json_string_value(mode);
    if (mode && (!m || (strcmp(m, "due") && strcmp(m, "force") && strcmp(m, "if-enabled")))) {
        snprintf(err, errlen, "at /mode: must be equal to one of the allowed values");
        return -1;
    }
    return 0;
}

/* ---- runs ---- */

typedef struct cron_run {
    cron_mod *mod;
    char job_id[CRON_ID_MAX + 1];
    char run_id[160];
    char session_key[CG_SESSION_KEY_BUF];
    int64_t run_at_ms;
    bool is_at;
    char *job_name;
    char *channel, *to; /* delivery announce, else NULL */
    bool announce;
    const char *status; /* ok, error, skipped */
    char *summary, *error;
    const char *delivery_status;
    char *delivery_error;
} cron_run;

static void run_free(cron_run *r)
{
    free(r->job_name);
    free(r->channel);
    free(r->to);
    free(r->summary);
    free(r->error);
    free(r->delivery_error);
    free(r);
}

static void remove_job(cron_mod *m, cron_job *j, cg_store_done_fn done, void *data);

/* `finished` goes out once the run's log entry has committed (cron.runs then lists it);
 * a succeeded `at` job is deleted after that. */
typedef struct finish_note {
    cron_mod *mod;
    json_t *event;
    char job_id[CRON_ID_MAX + 1];
    bool delete_it;
} finish_note;

static void finish_committed(int status, const char *error, void *data)
{
    finish_note *note = data;
    (void)status;
    (void)error;
    broadcast(note->mod, note->event);
    cron_job *j = note->delete_it ? job_find(note->mod, note->job_id) : NULL;
    if (j) remove_job(note->mod, j, NULL, NULL);
    free(note);
}

/* The run's end: state, log entry, `finished`, and an `at` job's deletion. */
static void run_finish(cron_run *r)
{
    cron_mod *m = r->mod;
    cron_job *j = job_find(m, r->job_id);
    if (!j) {
        run_free(r);
        return;
    }
    int64_t now = cg_cron_sched_now();
    int64_t duration = now - r->run_at_ms > 0 ? now - r->run_at_ms : 0;
    bool ok = !strcmp(r->status, "ok");
    j->running = false;
    json_object_del(j->state, "runningAtMs");
    state_set_int(j, "lastRunAtMs", r->run_at_ms);
    json_object_set_new(j->state, "lastRunStatus", json_string(r->status));
    json_object_set_new(j->state, "lastStatus", json_string(r->status));
    state_set_int(j, "lastDurationMs", duration);
    state_set_int(j, "consecutiveErrors", ok ? 0 : state_int(j, "consecutiveErrors", 0) + 1);
    state_set_int(j, "consecutiveSkipped", 0);
    if (r->error)
        json_object_set_new(j->state, "lastError", json_string(r->error));
    else
        json_object_del(j->state, "lastError");
    json_object_set_new(j->state, "lastDeliveryStatus", json_string(r->delivery_status));
    if (r->announce)
        json_object_set_new(j->state, "lastDelivered", json_boolean(!r->delivery_error));
    if (r->delivery_error)
        json_object_set_new(j->state, "lastDeliveryError", json_string(r->delivery_error));
    else
        json_object_del(j->state, "lastDeliveryError");

    json_t *entry = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "ts", now,
                              "jobId", r->job_id, "action", "finished", "status", r->status,
                              "completionStatus", ok ? "succeeded" : "failed", "runId", r->run_id,
                              "runAtMs", r->run_at_ms, "durationMs", duration, "deliveryStatus",
                              r->delivery_status, "jobName", r->job_name);
    if (r->summary) json_object_set_new(entry, "summary", json_string(r->summary));
    if (r->error) json_object_set_new(entry, "error", json_string(r->error));
    if (r->delivery_error)
        json_object_set_new(entry, "deliveryError", json_string(r->delivery_error));
    if (r->announce) json_object_set_new(entry, "delivered", json_boolean(!r->delivery_error));
    if (*r->session_key) json_object_set_new(entry, "sessionKey", json_string(r->session_key));
    int64_t next = state_int(j, "nextRunAtMs", -1);
    if (next >= 0) json_object_set_new(entry, "nextRunAtMs", json_integer(next));

    json_t *event =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "jobId", r->job_id, "action", "finished",
                  "status", r->status, "runAtMs", r->run_at_ms, "durationMs", duration, "runId",
                  r->run_id, "deliveryStatus", r->delivery_status);
    if (r->summary) json_object_set_new(event, "summary", json_string(r->summary));
    if (r->error) json_object_set_new(event, "error", json_string(r->error));
    if (next >= 0) json_object_set_new(event, "nextRunAtMs", json_integer(next));

    finish_note *note = cg_xcalloc(1, sizeof *note);
    note->mod = m;
    note->event = event;
    snprintf(note->job_id, sizeof note->job_id, "%s", r->job_id);
    note->delete_it = r->is_at && ok && !json_is_false(json_object_get(j->body, "deleteAfterRun"));
    if (r->is_at && !note->delete_it) json_object_set_new(j->body, "enabled", json_false());
    write_job *w = write_new(finish_committed, note);
    write_log_entry(w, r->job_id, entry);
    if (!note->delete_it) write_save_job(w, j);
    write_submit(m, w);
    json_decref(entry);
    run_free(r);
}

static void on_delivered(const json_t *result, const json_t *error, void *data)
{
    cron_run *r = data;
    (void)result;
    if (error) {
        const char *msg = json_string_value(json_object_get(error, "message"));
        r->delivery_status = "not-delivered";
        r->delivery_error = cg_strdup(msg ? msg : "delivery failed");
    } else {
        r->delivery_status = "delivered";
    }
    run_finish(r);
}

static void on_run_end(const cg_run_result *res, void *data)
{
    cron_run *r = data;
    r->status = res->status == CG_RUN_OK ? "ok" : "error";
    if (res->status != CG_RUN_OK)
        r->error = cg_strdup(res->error_message              ? res->error_message
                             : res->status == CG_RUN_ABORTED ? "run aborted"
                                                             : "run failed");
    if (res->text && *res->text) {
        size_t len = strlen(res->text);
        if (len > CRON_SUMMARY_MAX) len = CRON_SUMMARY_MAX;
        while (len > 0 && ((unsigned char)res->text[len] & 0xC0) == 0x80)
            len--; /* not inside a UTF-8 character */
        r->summary = cg_xmalloc(len + 1);
        memcpy(r->summary, res->text, len);
        r->summary[len] = '\0';
    }
    if (r->announce && res->status == CG_RUN_OK && r->summary) {
        cg_channels_deliver(r->mod->gw, r->channel, r->to, r->summary, on_delivered, r);
        return;
    }
    if (r->announce) {
        r->delivery_status = "not-delivered";
        r->delivery_error = cg_strdup(res->status == CG_RUN_OK ? "empty reply" : "run failed");
    }
    run_finish(r);
}

/* After the state with runningAtMs committed: `started`, then the payload to the engine. */
static void run_begin(int status, const char *error, void *data)
{
    cron_run *r = data;
    cron_mod *m = r->mod;
    cron_job *j = job_find(m, r->job_id);
    (void)error;
    if (!j || status != 0) {
        /* Not recorded as running: nothing ran, so nothing is logged. */
        if (j) j->running = false;
        run_free(r);
        return;
    }
    broadcast(m, json_pack("{s:s, s:s, s:I, s:s}", "jobId", r->job_id, "action", "started",
                           "runAtMs", r->run_at_ms, "runId", r->run_id));
    const json_t *payload = json_object_get(j->body, "payload");
    bool system = !strcmp(json_string_value(json_object_get(payload, "kind")), "systemEvent");
    const char *target = body_str(j, "sessionTarget");
    char own[CRON_ID_MAX + 8];
    snprintf(own, sizeof own, "cron:%s", j->id);
    const char *key = !strcmp(target, "main")       ? "main"
                      : !strcmp(target, "isolated") ? own
                                                    : target + strlen("session:");
    json_t *err = NULL;
    cg_run_status existing = CG_RUN_UNKNOWN;
    bool queue_only = system && !strcmp(body_str(j, "wakeMode"), "next-heartbeat");
    if (cg_methods_session_key(m->gw, key, agent_of(j), r->session_key, sizeof r->session_key,
                               &err)) {
        char agent[CG_AGENT_ID_MAX + 1];
        if (!cg_session_key_agent(r->session_key, agent, sizeof agent))
            snprintf(agent, sizeof agent, "%s", agent_of(j));
        cg_run_spec spec = {
            .run_id = r->run_id,
            .session_key = r->session_key,
            .agent_id = agent,
            .message = system ? NULL : json_string_value(json_object_get(payload, "message")),
            .system_event = system ? json_string_value(json_object_get(payload, "text")) : NULL,
            .model = json_string_value(json_object_get(payload, "model")),
            .thinking = json_string_value(json_object_get(payload, "thinking")),
            .queue_only = queue_only,
        };
        if (cg_runs_submit(m->gw, &spec, queue_only ? NULL : on_run_end, r, &existing, &err) == 0 &&
            existing == CG_RUN_UNKNOWN) {
            if (!queue_only) return; /* on_run_end follows */
            r->status = "ok";
            run_finish(r);
            return;
        }
    } else {
        r->session_key[0] = '\0';
    }
    const char *msg = err ? json_string_value(json_object_get(err, "message"))
                          : "a run with this id already exists";
    r->status = "error";
    r->error = cg_strdup(msg ? msg : "the run could not start");
    if (r->announce) r->delivery_status = "not-delivered";
    json_decref(err);
    run_finish(r);
}

/* The next due time after now for a recurring job, -1 for `at` (it runs once). */
static int64_t next_after(const cron_job *j, int64_t now)
{
    return j->sched.kind == CG_SCHEDULE_AT ? -1 : cg_cron_schedule_next(&j->sched, now);
}

/* Starts a run of j now: the next due time is set and written before it runs. */
static void start_run(cron_mod *m, cron_job *j, const char *run_id, int64_t now)
{
    cron_run *r = cg_xcalloc(1, sizeof *r);
    r->mod = m;
    snprintf(r->job_id, sizeof r->job_id, "%s", j->id);
    snprintf(r->run_id, sizeof r->run_id, "%s", run_id);
    r->run_at_ms = now;
    r->is_at = j->sched.kind == CG_SCHEDULE_AT;
    r->job_name = cg_strdup(body_str(j, "name"));
    r->delivery_status = "not-requested";
    const json_t *delivery = json_object_get(j->body, "delivery");
    const char *mode = json_string_value(json_object_get(delivery, "mode"));
    if (mode && !strcmp(mode, "announce")) {
        r->announce = true;
        r->channel = cg_strdup(json_string_value(json_object_get(delivery, "channel")));
        r->to = cg_strdup(json_string_value(json_object_get(delivery, "to")));
    }
    j->running = true;
    int64_t next = job_enabled(j) ? next_after(j, now) : -1;
    state_set_int(j, "runningAtMs", now);
    state_set_int(j, "nextRunAtMs", next);
    if (next >= 0)
        sched_set(m, j->id, next);
    else
        sched_remove(m, j->id);
    write_job *w = write_new(run_begin, r);
    write_save_state(w, j);
    write_submit(m, w);
}

static void scheduled_run(cron_mod *m, cron_job *j, int64_t due_ms, int64_t now)
{
    char run_id[160];
    snprintf(run_id, sizeof run_id, "cron:%s:%lld", j->id, (long long)due_ms);
    start_run(m, j, run_id, now);
}

/* Moves j's next due time to the first after now without running (a skipped or missed
 * time); an `at` job that will not run is disabled. */
static void skip_to_next(cron_mod *m, cron_job *j, int64_t now, bool count_skip)
{
    int64_t next = next_after(j, now);
    state_set_int(j, "nextRunAtMs", next);
    if (count_skip)
        state_set_int(j, "consecutiveSkipped", state_int(j, "consecutiveSkipped", 0) + 1);
    write_job *w = write_new(NULL, NULL);
    if (next >= 0) {
        sched_set(m, j->id, next);
    } else {
        json_object_set_new(j->body, "enabled", json_false());
        sched_remove(m, j->id);
    }
    write_save_job(w, j);
    write_submit(m, w);
}

static void on_due(const char *job_id, int64_t due_ms, int64_t now, void *data)
{
    cron_mod *m = data;
    cron_job *j = job_find(m, job_id);
    if (!j || !job_enabled(j)) return;
    if (j->running) {
        cg_logf(CG_LOG_INFO, "cron", "job %s is still running: its run due at %lld is skipped",
                j->id, (long long)due_ms);
        skip_to_next(m, j, now, true);
        return;
    }
    if (now - due_ms > CG_CRON_JUMP_THRESHOLD_MS && !job_catch_up(j)) {
        cg_logf(CG_LOG_INFO, "cron", "job %s missed its run due at %lld (catchUp off)", j->id,
                (long long)due_ms);
        skip_to_next(m, j, now, false);
        return;
    }
    scheduled_run(m, j, due_ms, now);
}

/* The wall clock moved: a backward set brings recurring jobs' next times back to the
 * first after the new now (a forward one needs nothing here: the timer hands the jobs
 * now past due to on_due, which applies catchUp). */
static void on_clock(int64_t jump_ms, void *data)
{
    cron_mod *m = data;
    if (jump_ms >= 0) return;
    int64_t now = cg_cron_sched_now();
    for (size_t i = 0; i < m->n; i++) {
        cron_job *j = m->jobs[i];
        int64_t next = state_int(j, "nextRunAtMs", -1);
        if (!job_enabled(j) || j->running || next < 0 || j->sched.kind == CG_SCHEDULE_AT) continue;
        int64_t earlier = next_after(j, now);
        if (earlier >= 0 && earlier < next) {
            state_set_int(j, "nextRunAtMs", earlier);
            sched_set(m, j->id, earlier);
            save_state(m, j);
        }
    }
}

static void remove_job(cron_mod *m, cron_job *j, cg_store_done_fn done, void *data)
{
    char id[CRON_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", j->id);
    write_job *w = write_new(done, data);
    write_delete_job(w, id);
    write_submit(m, w);
    jobs_remove(m, j);
    broadcast(m, json_pack("{s:s, s:s}", "jobId", id, "action", "removed"));
}

/* ---- methods ---- */

static void not_found(cg_req *req, const char *id)
{
    char msg[256];
    snprintf(msg, sizeof msg,
             "Automation not found: %.120s. List automations and retry with a current job id.", id);
    cg_req_error(req, "INVALID_REQUEST", msg,
                 json_pack("{s:s, s:s}", "code", "CRON_JOB_NOT_FOUND", "jobId", id));
}

static const char *param_id(const cg_req *req)
{
    const char *id = json_string_value(json_object_get(req->params, "id"));
    return id ? id : json_string_value(json_object_get(req->params, "jobId"));
}

static void invalid(cg_req *req, const char *method, const char *why)
{
    char msg[512];
    snprintf(msg, sizeof msg, "invalid %s params: %s", method, why);
    cg_req_error(req, "INVALID_REQUEST", msg, NULL);
}

static bool contains_ci(const char *hay, const char *needle)
{
    if (!hay) return false;
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n)) return true;
    return false;
}

static const char *list_sort_key;
static int list_sort_desc;

static int compare_jobs(const void *a, const void *b)
{
    const cron_job *x = *(cron_job *const *)a, *y = *(cron_job *const *)b;
    int c;
    if (!strcmp(list_sort_key, "name")) {
        c = strcasecmp(body_str(x, "name"), body_str(y, "name"));
    } else {
        bool by_next = !strcmp(list_sort_key, "nextRunAtMs");
        int64_t vx = by_next ? state_int(x, "nextRunAtMs", INT64_MAX)
                             : json_integer_value(json_object_get(x->body, "updatedAtMs"));
        int64_t vy = by_next ? state_int(y, "nextRunAtMs", INT64_MAX)
                             : json_integer_value(json_object_get(y->body, "updatedAtMs"));
        c = vx < vy ? -1 : vx > vy;
    }
    return list_sort_desc ? -c : c;
}

static const char *schedule_kind_name(const cron_job *j)
{
    return j->sched.kind == CG_SCHEDULE_AT      ? "at"
           : j->sched.kind == CG_SCHEDULE_EVERY ? "every"
                                                : "cron";
}

static bool list_matches(const cron_job *j, const json_t *p)
{
    const char *enabled = json_string_value(json_object_get(p, "enabled"));
    if (!enabled) enabled = json_is_true(json_object_get(p, "includeDisabled")) ? "all" : "enabled";
    if (!strcmp(enabled, "enabled") && !job_enabled(j)) return false;
    if (!strcmp(enabled, "disabled") && job_enabled(j)) return false;
    const char *kind = json_string_value(json_object_get(p, "scheduleKind"));
    if (kind && strcmp(kind, "all") && strcmp(kind, schedule_kind_name(j))) return false;
    const char *last = json_string_value(json_object_get(p, "lastRunStatus"));
    const char *status = json_string_value(json_object_get(j->state, "lastRunStatus"));
    if (last && strcmp(last, "all") && strcmp(last, status ? status : "unknown")) return false;
    if (json_is_string(json_object_get(p, "trigger")) &&
        !strcmp(json_string_value(json_object_get(p, "trigger")), "conditional"))
        return false; /* clawgate jobs have no trigger scripts */
    const char *agent = json_string_value(json_object_get(p, "agentId"));
    if (agent && strcmp(agent, agent_of(j))) return false;
    const char *query = json_string_value(json_object_get(p, "query"));
    if (query && *query && !contains_ci(body_str(j, "name"), query) &&
        !contains_ci(body_str(j, "description"), query) && !contains_ci(j->id, query))
        return false;
    return true;
}

static void page_envelope(json_t *out, size_t total, size_t offset, size_t limit, size_t count)
{
    bool more = offset + count < total;
    json_object_set_new(out, "total", json_integer((json_int_t)total));
    json_object_set_new(out, "offset", json_integer((json_int_t)offset));
    json_object_set_new(out, "limit", json_integer((json_int_t)limit));
    json_object_set_new(out, "hasMore", json_boolean(more));
    json_object_set_new(out, "nextOffset",
                        more ? json_integer((json_int_t)(offset + count)) : json_null());
}

/* The real resolveCronListSnapshotRevision: "sha256:" + base64url of the SHA-256 of the
 * whole filtered, sorted list (keys sorted), so a client paging through it can tell that
 * the inventory changed between pages (the Control UI refuses a page without it). */
static json_t *snapshot_revision(cron_job **match, size_t total)
{
    json_t *all = json_array();
    for (size_t i = 0; i < total; i++)
        json_array_append_new(all, job_output(match[i]));
    char *text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    unsigned char digest[32];
    unsigned int digest_len = 0;
    char encoded[7 + CG_BASE64URL_ENCODED_SIZE(sizeof digest)] = "sha256:";
    bool hashed = text && EVP_Digest(text, strlen(text), digest, &digest_len, EVP_sha256(), NULL) &&
                  cg_base64url_encode(digest, digest_len, encoded + 7, sizeof encoded - 7) > 0;
    free(text);
    return json_string(hashed ? encoded : "sha256:");
}

static void handle_list(cg_req *req)
{
    cron_mod *m = mod_of(req->gw);
    const json_t *p = req->params;
    cron_job **match = cg_xmalloc((m->n ? m->n : 1) * sizeof *match);
    size_t total = 0;
    for (size_t i = 0; i < m->n; i++)
        if (list_matches(m->jobs[i], p)) match[total++] = m->jobs[i];
    const char *sort = json_string_value(json_object_get(p, "sortBy"));
    const char *dir = json_string_value(json_object_get(p, "sortDir"));
    list_sort_key = sort ? sort : "nextRunAtMs";
    list_sort_desc = dir && !strcmp(dir, "desc");
    qsort(match, total, sizeof *match, compare_jobs);
    json_t *limit_v = json_object_get(p, "limit"), *offset_v = json_object_get(p, "offset");
    size_t limit = limit_v ? (size_t)json_integer_value(limit_v) : CRON_LIST_DEFAULT_LIMIT;
    size_t offset = offset_v ? (size_t)json_integer_value(offset_v) : 0;
    json_t *jobs = json_array();
    for (size_t i = offset; i < total && i < offset + limit; i++)
        json_array_append_new(jobs, job_output(match[i]));
    json_t *out =
        json_pack("{s:o, s:o}", "jobs", jobs, "snapshotRevision", snapshot_revision(match, total));
    free(match);
    page_envelope(out, total, offset, limit, json_array_size(jobs));
    cg_req_ok(req, out);
}

static void handle_status(cg_req *req)
{
    cron_mod *m = mod_of(req->gw);
    int64_t wake = m->enabled && m->sched ? cg_cron_sched_next_wake(m->sched) : -1;
    cg_req_ok(req, json_pack("{s:b, s:s, s:I, s:o}", "enabled", m->enabled, "storage", "sqlite",
                             "jobs", (json_int_t)m->n, "nextWakeAtMs",
                             wake >= 0 ? json_integer(wake) : json_null()));
}

static void handle_get(cg_req *req)
{
    cron_job *j = job_find(mod_of(req->gw), param_id(req));
    if (!j) {
        not_found(req, param_id(req));
        return;
    }
    cg_req_ok(req, job_output(j));
}

/* A method's answer once its write has committed. */
typedef struct held_answer {
    cg_req_hold hold;
    json_t *payload;
    const char *what;
} held_answer;

static void answer_held(int status, const char *error, void *data)
{
    held_answer *h = data;
    cg_req_hold_answer(&h->hold, status, error, h->what, h->payload);
    free(h);
}

static held_answer *hold_new(cg_req *req, const char *what)
{
    held_answer *h = cg_xcalloc(1, sizeof *h);
    h->what = what;
    if (!cg_req_hold_start(&h->hold, req)) {
        free(h);
        return NULL;
    }
    return h;
}

/* An agent that does not exist is refused as runs would refuse it. */
static bool agent_exists(cg_req *req, const json_t *body)
{
    const char *agent = json_string_value(json_object_get(body, "agentId"));
    char key[CG_SESSION_KEY_BUF];
    json_t *error = NULL;
    if (!agent || cg_methods_session_key(req->gw, "main", agent, key, sizeof key, &error))
        return true;
    cg_req_error_shape(req, error);
    return false;
}

/* Saves j (new or changed), arms it, answers req with the job after the commit and
 * broadcasts `action`. */
static void save_and_answer(cron_mod *m, cron_job *j, cg_req *req, const char *action)
{
    int64_t next = state_int(j, "nextRunAtMs", -1);
    if (next >= 0 && job_enabled(j) && !j->running)
        sched_set(m, j->id, next);
    else if (!j->running)
        sched_remove(m, j->id);
    json_t *event =
        json_pack("{s:s, s:s, s:o}", "jobId", j->id, "action", action, "job", job_output(j));
    if (next >= 0) json_object_set_new(event, "nextRunAtMs", json_integer(next));
    broadcast(m, event);
    held_answer *h = hold_new(req, "cron job");
    write_job *w = write_new(h ? answer_held : NULL, h);
    if (h) h->payload = job_output(j);
    write_save_job(w, j);
    write_submit(m, w);
}

/* The job's next due time from its schedule, in its state (none when disabled). */
static void plan_next(cron_job *j, int64_t now)
{
    int64_t next = -1;
    if (job_enabled(j))
        next = j->sched.kind == CG_SCHEDULE_AT ? j->sched.at_ms
                                               : cg_cron_schedule_next(&j->sched, now);
    state_set_int(j, "nextRunAtMs", next);
}

static void handle_add(cg_req *req)
{
    cron_mod *m = mod_of(req->gw);
    int64_t now = cg_cron_sched_now();
    char err[256];
    cg_cron_schedule sched;
    if (check_job(req->params, now, &sched, err, sizeof err) != 0) {
        invalid(req, "cron.add", err);
        return;
    }
    if (!agent_exists(req, req->params)) return;
    if (m->n >= CRON_JOBS_MAX) {
        cg_req_error(req, "INVALID_REQUEST", "too many cron jobs", NULL);
        return;
    }
    cron_job *j = cg_xcalloc(1, sizeof *j);
    cg_uuid4(j->id);
    j->body = json_deep_copy(req->params);
    j->state = json_object();
    j->sched = sched;
    for (const char *const *k = (const char *const[]){"agentId", "sessionKey", NULL}; *k; k++)
        if (json_is_null(json_object_get(j->body, *k))) json_object_del(j->body, *k);
    json_object_set_new(j->body, "id", json_string(j->id));
    if (!json_object_get(j->body, "enabled")) json_object_set_new(j->body, "enabled", json_true());
    if (sched.kind == CG_SCHEDULE_AT && !json_object_get(j->body, "deleteAfterRun"))
        json_object_set_new(j->body, "deleteAfterRun", json_true());
    if (sched.kind == CG_SCHEDULE_EVERY)
        json_object_set_new(json_object_get(j->body, "schedule"), "anchorMs",
                            json_integer(sched.anchor_ms));
    json_object_set_new(j->body, "createdAtMs", json_integer(now));
    json_object_set_new(j->body, "updatedAtMs", json_integer(now));
    plan_next(j, now);
    jobs_add(m, j);
    save_and_answer(m, j, req, "added");
}

static void handle_update(cg_req *req)
{
    cron_mod *m = mod_of(req->gw);
    cron_job *j = job_find(m, param_id(req));
    if (!j) {
        not_found(req, param_id(req));
        return;
    }
    const json_t *patch = json_object_get(req->params, "patch");
    json_t *next = json_deep_copy(j->body);
    static const char *const fixed[] = {"id", "createdAtMs", "updatedAtMs", NULL};
    for (const char *const *k = fixed; *k; k++)
        json_object_del(next, *k);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)patch, key, v)
    {
        json_t *old = json_object_get(next, key);
        /* payload and delivery of the same kind / mode merge; anything else replaces. */
        bool merge = (!strcmp(key, "payload") || !strcmp(key, "delivery")) && json_is_object(v) &&
                     json_is_object(old);
        const char *tag = !strcmp(key, "payload") ? "kind" : "mode";
        if (merge && json_object_get(v, tag) &&
            !json_equal(json_object_get(v, tag), json_object_get(old, tag)))
            merge = false;
        if (merge)
            json_object_update(old, v);
        else if (json_is_null(v))
            json_object_del(next, key);
        else
            json_object_set(next, key, v);
    }
    int64_t now = cg_cron_sched_now();
    char err[256];
    cg_cron_schedule sched;
    /* An `at` job whose time has passed keeps its schedule when the patch leaves it. */
    bool keep_schedule = !json_object_get(patch, "schedule");
    if (keep_schedule && j->sched.kind == CG_SCHEDULE_AT) {
        json_t *probe = json_deep_copy(next);
        json_object_set_new(probe, "schedule",
                            json_pack("{s:s, s:i}", "kind", "every", "everyMs", 1));
        int rc = check_job(probe, now, &sched, err, sizeof err);
        json_decref(probe);
        sched = j->sched;
        if (rc != 0) goto bad;
        if (json_is_true(json_object_get(patch, "enabled")) && sched.at_ms <= now) {
            snprintf(err, sizeof err, "schedule.at is in the past");
            goto bad;
        }
    } else if (check_job(next, now, &sched, err, sizeof err) != 0) {
        goto bad;
    }
    if (!agent_exists(req, next)) {
        json_decref(next);
        return;
    }
    json_object_set_new(next, "id", json_string(j->id));
    json_object_set(next, "createdAtMs", json_object_get(j->body, "createdAtMs"));
    json_object_set_new(next, "updatedAtMs", json_integer(now));
    if (sched.kind == CG_SCHEDULE_EVERY)
        json_object_set_new(json_object_get(next, "schedule"), "anchorMs",
                            json_integer(sched.anchor_ms));
    bool schedule_changed = !keep_schedule || json_object_get(patch, "enabled");
    json_decref(j->body);
    j->body = next;
    j->sched = sched;
    if (schedule_changed && !j->running) plan_next(j, now);
    save_and_answer(m, j, req, "updated");
    return;
bad:
    json_decref(next);
    invalid(req, "cron.update", err);
}

static void handle_remove(cg_req *req)
{
    cron_mod *m = mod_of(req->gw);
    cron_job *j = job_find(m, param_id(req));
    if (!j) {
        not_found(req, param_id(req));
        return;
    }
    held_answer *h = hold_new(req, "cron job removal");
    if (h) h->payload = json_pack("{s:b, s:b}", "ok", 1, "removed", 1);
    remove_job(m, j, h ? answer_held : NULL, h);
}

static void handle_run(cg_req *req)
{
    cron_mod *m = mod_of(req->gw);
    cron_job *j = job_find(m, param_id(req));
    if (!j) {
        not_found(req, param_id(req));
        return;
    }
    const char *mode = json_string_value(json_object_get(req->params, "mode"));
    if (!mode) mode = "force";
    int64_t now = cg_cron_sched_now();
    const char *reason = NULL;
    int64_t next = state_int(j, "nextRunAtMs", -1);
    if (j->running)
        reason = "already-running";
    else if (!strcmp(mode, "if-enabled") && !job_enabled(j))
        reason = "disabled";
    else if (!strcmp(mode, "due") && (!job_enabled(j) || next < 0 || next > now))
        reason = "not-due";
    if (reason) {
        cg_req_ok(req, json_pack("{s:b, s:b, s:s}", "ok", 1, "ran", 0, "reason", reason));
        return;
    }
    char run_id[160];
    snprintf(run_id, sizeof run_id, "manual:%s:%lld:%llu", j->id, (long long)now,
             (unsigned long long)++m->run_seq);
    start_run(m, j, run_id, now);
    cg_req_ok(req, json_pack("{s:b, s:b, s:s}", "ok", 1, "enqueued", 1, "runId", run_id));
}

/* cron.runs: the log entries are read off the loop (a read transaction on the thread
 * pool), filtered and paged on the loop. */
typedef struct runs_query {
    cg_req *req; /* NULL once the registry ended it */
    char job_id[CRON_ID_MAX + 1];
    char **rows;
    size_t n;
} runs_query;

static int runs_read(sqlite3 *db, void *data, char *err, size_t errlen)
{
    runs_query *q = data;
    sqlite3_stmt *st;
    const char *sql = *q->job_id ? "SELECT body FROM cron_runs WHERE job_id = ?1 "
                                   "ORDER BY entry_id DESC LIMIT ?2"
                                 : "SELECT body FROM cron_runs ORDER BY entry_id DESC LIMIT ?2";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    if (*q->job_id) sqlite3_bind_text(st, 1, q->job_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, CRON_RUNS_SCAN_MAX);
    q->rows = cg_xcalloc(CRON_RUNS_SCAN_MAX, sizeof *q->rows);
    while (sqlite3_step(st) == SQLITE_ROW && q->n < CRON_RUNS_SCAN_MAX) {
        const char *body = (const char *)sqlite3_column_text(st, 0);
        if (body) q->rows[q->n++] = cg_strdup(body);
    }
    sqlite3_finalize(st);
    return 0;
}

static bool in_string_set(const json_t *one, const json_t *many, const char *value)
{
    if (json_is_string(one) && strcmp(json_string_value(one), "all") &&
        (!value || strcmp(json_string_value(one), value)))
        return false;
    if (json_is_array(many)) {
        size_t i;
        const json_t *v;
        json_array_foreach(many, i,
                           v) if (value && !strcmp(json_string_value(v), value)) return true;
        return false;
    }
    return true;
}

static bool entry_matches(const json_t *e, const json_t *p, cron_mod *m)
{
    const json_t *status = json_object_get(e, "status");
    const json_t *delivery = json_object_get(e, "deliveryStatus");
    if (!in_string_set(json_object_get(p, "status"), json_object_get(p, "statuses"),
                       json_string_value(status)))
        return false;
    if (!in_string_set(json_object_get(p, "deliveryStatus"), json_object_get(p, "deliveryStatuses"),
                       json_string_value(delivery)))
        return false;
    const char *run_id = json_string_value(json_object_get(p, "runId"));
    if (run_id && strcmp(run_id, json_string_value(json_object_get(e, "runId")) ?: ""))
        return false;
    const char *agent = json_string_value(json_object_get(p, "agentId"));
    if (agent) {
        cron_job *j = job_find(m, json_string_value(json_object_get(e, "jobId")));
        if (!j || strcmp(agent, agent_of(j))) return false;
    }
    const char *query = json_string_value(json_object_get(p, "query"));
    if (query && *query && !contains_ci(json_string_value(json_object_get(e, "summary")), query) &&
        !contains_ci(json_string_value(json_object_get(e, "jobName")), query) &&
        !contains_ci(json_string_value(json_object_get(e, "error")), query))
        return false;
    return true;
}

static void runs_free(runs_query *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->rows[i]);
    free(q->rows);
    free(q);
}

static void runs_done(int status, const char *error, void *data)
{
    runs_query *q = data;
    cg_req *req = q->req;
    if (!req) {
        runs_free(q);
        return;
    }
    cg_req_on_cancel(req, NULL, NULL);
    if (status != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "cron run log unavailable: %s", error ? error : "?");
        cg_req_error(req, "UNAVAILABLE", msg, NULL);
        runs_free(q);
        return;
    }
    const json_t *p = req->params;
    json_t *all = json_array();
    for (size_t i = 0; i < q->n; i++) {
        json_t *e = json_loads(q->rows[i], 0, NULL);
        if (e && entry_matches(e, p, mod_of(req->gw)))
            json_array_append_new(all, e);
        else
            json_decref(e);
    }
    const char *dir = json_string_value(json_object_get(p, "sortDir"));
    size_t total = json_array_size(all);
    json_t *limit_v = json_object_get(p, "limit"), *offset_v = json_object_get(p, "offset");
    size_t limit = limit_v ? (size_t)json_integer_value(limit_v) : CRON_RUNS_DEFAULT_LIMIT;
    size_t offset = offset_v ? (size_t)json_integer_value(offset_v) : 0;
    bool asc = dir && !strcmp(dir, "asc");
    json_t *entries = json_array();
    for (size_t k = offset; k < total && k < offset + limit; k++)
        json_array_append(entries, json_array_get(all, asc ? total - 1 - k : k));
    json_decref(all);
    json_t *out = json_pack("{s:o}", "entries", entries);
    page_envelope(out, total, offset, limit, json_array_size(entries));
    cg_req_ok(req, out);
    runs_free(q);
}

static void runs_cancel(cg_req *req, cg_req_end why, void *data)
{
    (void)req;
    (void)why;
    ((runs_query *)data)->req = NULL;
}

static const char *const runs_status_values[] = {"all", "ok", "error", "skipped", NULL};
static const char *const runs_delivery_values[] = {"delivered", "not-delivered", "unknown",
                                                   "not-requested", NULL};
static const char *const runs_delivery_one[] = {"all",     "delivered",     "not-delivered",
                                                "unknown", "not-requested", NULL};
static const char *const sort_dir_values[] = {"asc", "desc", NULL};
static const char *const runs_scope_values[] = {"job", "all", NULL};

static int check_string_items(const json_t *arr, const char *key, const char *const *values,
                              char *err, size_t errlen)
{
    if (!arr) return 0;
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > 4) {
        snprintf(err, errlen, "at /%s: must be a non-empty array", key);
        return -1;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !in_list(json_string_value(v), values) ||
            !strcmp(json_string_value(v), "all")) {
            snprintf(err, errlen, "at /%s/%zu: must be equal to one of the allowed values", key, i);
            return -1;
        }
    }
    return 0;
}

static int check_runs(const json_t *params, char *err, size_t errlen)
{
    static const cg_param_field fields[] = {
        {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
        {"scope", CG_PF_ENUM, 0, 0, 0, runs_scope_values},
        {"id", CG_PF_STRING, 0, 1, CRON_ID_MAX, NULL},
        {"jobId", CG_PF_STRING, 0, 1, CRON_ID_MAX, NULL},
        {"runId", CG_PF_STRING, 0, 1, 0, NULL},
        {"limit", CG_PF_INT, 0, 1, 200, NULL},
        {"offset", CG_PF_INT, 0, 0, 0, NULL},
        {"statuses", CG_PF_STRING_ARRAY, 0, 1, 3, NULL},
        {"status", CG_PF_ENUM, 0, 0, 0, runs_status_values},
        {"deliveryStatuses", CG_PF_STRING_ARRAY, 0, 1, 4, NULL},
        {"deliveryStatus", CG_PF_ENUM, 0, 0, 0, runs_delivery_one},
        {"query", CG_PF_STRING, 0, 0, 0, NULL},
        {"sortDir", CG_PF_ENUM, 0, 0, 0, sort_dir_values},
        {NULL, 0, 0, 0, 0, NULL},
    };
    if (cg_params_check_fields(params, fields, err, errlen) != 0) return -1;
    return check_string_items(json_object_get(params, "statuses"), "statuses", runs_status_values,
                              err, errlen) ||
           check_string_items(json_object_get(params, "deliveryStatuses"), "deliveryStatuses",
                              runs_delivery_values, err, errlen);
}

static void handle_runs(cg_req *req)
{
    cron_mod *m = mod_of(req->gw);
    const char *id = param_id(req);
    const char *scope = json_string_value(json_object_get(req->params, "scope"));
    if (scope && !strcmp(scope, "all")) id = NULL;
    if (id && !job_find(m, id)) {
        not_found(req, id);
        return;
    }
    runs_query *q = cg_xcalloc(1, sizeof *q);
    if (id) snprintf(q->job_id, sizeof q->job_id, "%s", id);
    if (!(q->req = cg_req_defer(req))) {
        free(q);
        return;
    }
    cg_req_on_cancel(q->req, runs_cancel, q);
    cg_store_read_async(cg_gateway_store(m->gw), runs_read, runs_done, q);
}

static const char *const list_enabled_values[] = {"all", "enabled", "disabled", NULL};
static const char *const list_kind_values[] = {"all",     "at",     "every", "cron",
                                               "on-exit", "stream", NULL};
static const char *const list_last_values[] = {"all", "ok", "error", "skipped", "unknown", NULL};
static const char *const list_trigger_values[] = {"all", "conditional", "unconditional", NULL};
static const char *const list_sort_values[] = {"nextRunAtMs", "updatedAtMs", "name", NULL};

static int check_list(const json_t *params, char *err, size_t errlen)
{
    /* compact and includeDeliveryPreviews are accepted: clawgate's rows are always the
     * compact CronJob and it has no delivery previews to include. */
    static const cg_param_field fields[] = {
        {"includeDisabled", CG_PF_BOOL, 0, 0, 0, NULL},
        {"limit", CG_PF_INT, 0, 1, 200, NULL},
        {"offset", CG_PF_INT, 0, 0, 0, NULL},
        {"query", CG_PF_STRING, 0, 0, 0, NULL},
        {"enabled", CG_PF_ENUM, 0, 0, 0, list_enabled_values},
        {"scheduleKind", CG_PF_ENUM, 0, 0, 0, list_kind_values},
        {"lastRunStatus", CG_PF_ENUM, 0, 0, 0, list_last_values},
        {"trigger", CG_PF_ENUM, 0, 0, 0, list_trigger_values},
        {"sortBy", CG_PF_ENUM, 0, 0, 0, list_sort_values},
        {"sortDir", CG_PF_ENUM, 0, 0, 0, sort_dir_values},
        {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
        {"compact", CG_PF_BOOL, 0, 0, 0, NULL},
        {"includeDeliveryPreviews", CG_PF_BOOL, 0, 0, 0, NULL},
        {NULL, 0, 0, 0, 0, NULL},
    };
    return cg_params_check_fields(params, fields, err, errlen);
}

/* ---- startup ---- */

typedef struct load_ctx {
    cron_mod *mod;
    int64_t now;
    size_t bad;
} load_ctx;

/* Turns one stored row into a job (a row that no longer parses is logged and skipped). */
static void load_row(load_ctx *c, const char *id, const char *body_text, const char *state_text)
{
    cron_mod *m = c->mod;
    json_t *body = json_loads(body_text, 0, NULL), *state = json_loads(state_text, 0, NULL);
    cg_cron_schedule sched;
    char err[256];
    if (!json_is_object(body) || !json_is_object(state) || strlen(id) > CRON_ID_MAX ||
        cg_cron_schedule_parse(json_object_get(body, "schedule"),
                               json_integer_value(json_object_get(body, "createdAtMs")), &sched,
                               err, sizeof err) != 0) {
        cg_log(CG_LOG_ERROR, "cron", "stored job skipped", json_pack("{s:s}", "jobId", id));
        c->bad++;
        json_decref(body);
        json_decref(state);
        return;
    }
    cron_job *j = cg_xcalloc(1, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", id);
    j->body = body;
    j->state = state;
    j->sched = sched;
    jobs_add(m, j);
}

static int load_rows(sqlite3 *db, void *data, char *err, size_t errlen)
{
    load_ctx *c = data;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT job_id, body, state FROM cron_jobs ORDER BY created_at_ms",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        load_row(c, (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1),
                 (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    return 0;
}

/* A loaded job: a run cut short by the last stop is recorded as interrupted (it is not
 * run again: its next due time was written before it started); the job is armed with
 * its stored next due time, which on_due treats as missed when it has passed. */
static void restore_job(cron_mod *m, cron_job *j, int64_t now)
{
    if (json_object_get(j->state, "runningAtMs")) {
        cg_log(CG_LOG_WARN, "cron", "run interrupted by the last stop, not run again",
               json_pack("{s:s}", "jobId", j->id));
        json_object_del(j->state, "runningAtMs");
        json_object_set_new(j->state, "lastRunStatus", json_string("error"));
        json_object_set_new(j->state, "lastStatus", json_string("error"));
        json_object_set_new(j->state, "lastError", json_string("interrupted by a gateway stop"));
        save_state(m, j);
    }
    if (!job_enabled(j)) return;
    int64_t next = state_int(j, "nextRunAtMs", -1);
    if (next < 0 && j->sched.kind != CG_SCHEDULE_AT) {
        plan_next(j, now);
        next = state_int(j, "nextRunAtMs", -1);
        save_state(m, j);
    }
    if (next >= 0) sched_set(m, j->id, next);
}

static void mod_stop(void *data)
{
    cron_mod *m = data;
    if (m->sched) cg_cron_sched_close(m->sched);
    m->sched = NULL;
}

static void mod_free(void *data)
{
    cron_mod *m = data;
    for (size_t i = 0; i < m->n; i++)
        job_free(m->jobs[i]);
    free(m->jobs);
    cg_strmap_free(m->by_id);
    free(m);
}

void cg_methods_cron_attach(cg_gateway *gw)
{
    cron_mod *m = cg_xcalloc(1, sizeof *m);
    m->gw = gw;
    m->by_id = cg_strmap_new();
    const json_t *conf = json_object_get(cg_gateway_settings(gw)->doc, "cron");
    m->enabled = !json_is_false(json_object_get(conf, "enabled"));
    char err[256];
    m->sched = cg_cron_sched_new(cg_gateway_loop(gw), on_due, on_clock, m, err, sizeof err);
    cg_gateway_set_data(gw, &cron_key, m);
    if (!m->sched) {
        cg_gateway_set_subsystem(gw, "cron", false, err);
        return;
    }
    load_ctx c = {.mod = m, .now = cg_cron_sched_now()};
    if (cg_store_read(cg_gateway_store(gw), load_rows, &c, err, sizeof err) != 0) {
        cg_log(CG_LOG_ERROR, "cron", "cannot load jobs", json_pack("{s:s}", "error", err));
        cg_gateway_set_subsystem(gw, "cron", false, err);
        return;
    }
    if (m->enabled)
        for (size_t i = 0; i < m->n; i++)
            restore_job(m, m->jobs[i], c.now);
    cg_logf(CG_LOG_INFO, "cron", "%zu jobs loaded (%zu unreadable), next wake %lld", m->n, c.bad,
            (long long)cg_cron_sched_next_wake(m->sched));
}

const cg_method cg_methods_cron[] = {
    {.name = "cron.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_list,
     .handler = handle_list,
     .summary = "Cron jobs (CronJob), filtered, sorted and paged: {jobs, total, offset, limit, "
                "hasMore, nextOffset}."},
    {.name = "cron.status",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_status,
     .summary = "Whether cron runs, its storage, the number of jobs and the next wake time."},
    {.name = "cron.get",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_get,
     .handler = handle_get,
     .summary = "One cron job by id."},
    {.name = "cron.add",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_add,
     .handler = handle_add,
     .summary = "Adds a job (at / every / cron schedule; systemEvent or agentTurn payload), "
                "answered once saved."},
    {.name = "cron.update",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_update,
     .handler = handle_update,
     .summary = "Patches a job; its next run is planned again when its schedule or enabled "
                "changed."},
    {.name = "cron.remove",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_get,
     .handler = handle_remove,
     .summary = "Removes a job and its run log."},
    {.name = "cron.run",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_run,
     .handler = handle_run,
     .summary = "Runs a job now (mode force, the default), if due, or if enabled; never a "
                "second run of a running job."},
    {.name = "cron.runs",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_runs,
     .handler = handle_runs,
     .summary = "The run log (CronRunLogEntry, newest first), of one job or all: {entries, "
                "total, offset, limit, hasMore, nextOffset}."},
    {.name = NULL},
};
