/* Writes and reloads, one at a time, on libuv's thread pool.
 *
 * Every operation that reads or writes the file is a job in one FIFO per store. At most
 * one job runs: when it is started (on the loop) it takes a reference to the file
 * version installed at that moment, so it checks baseHash and the disk against the
 * state left by every job before it; its preparing half (config.c, write.c) runs on a
 * thread-pool thread and touches nothing of the store; when it completes, the loop
 * installs what it made, starts the next job, then calls the owner's callback. So the
 * loop never waits for the disk, writes land in the order they were asked for, and the
 * owner (config.c in methods, the gateway's reload) sees the new state installed when
 * it is called.
 *
 * Reload triggers coalesce: a reload that has not started yet already reads whatever
 * the file holds when it starts, so another trigger meanwhile joins it.
 *
 * A gated write (config.apply) takes two trips to the thread pool: the first validates,
 * then the loop asks the gate (the gateway binds the listener the new settings want),
 * and only when the gate passes does the second trip write the file. The job keeps its
 * turn meanwhile, so nothing else touches the file between. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "config/config_internal.h"

typedef enum { JOB_WRITE, JOB_RELOAD } job_type;

struct cg_config_job {
    uv_work_t work;
    cg_config *cfg;
    uv_loop_t *loop;
    cg_config_job *next;
    job_type type;
    cg_config_file *base; /* the version installed when the job started (a reference) */
    void *data;

    cg_config_write_kind write_kind;
    char *raw;
    char *base_hash;   /* NULL when the caller gave none */
    bool base_current; /* cg_config_patch_async: based on the version installed at start */
    cg_config_write_done write_done;
    cg_config_write_gate write_gate; /* NULL: validate and write in one trip */
    bool committing;                 /* the gate passed: the second trip writes */
    cg_config_write_plan write_plan;

    cg_config_reload_done reload_done;
    cg_config_reload_plan reload_plan;
};

/* Thread pool: the job's preparing half. Reads the store's sources, which never change. */
static void run_job(uv_work_t *work)
{
    cg_thread_background();
    cg_config_job *job = work->data;
    const cg_config_sources *src = &job->cfg->sources;
    if (job->type == JOB_RELOAD) {
        cg_config_prepare_reload(src, job->base, &job->reload_plan);
        return;
    }
    if (!job->committing)
        cg_config_prepare_write(src, job->base, job->write_kind, job->raw,
                                job->base_current ? job->base->hash : job->base_hash,
                                &job->write_plan);
    if ((job->committing || !job->write_gate) && job->write_plan.text)
        cg_config_commit_write(src, job->write_kind, &job->write_plan);
}

static void job_done(uv_work_t *work, int status);

/* Starts the head of the queue unless a job is running. */
static void start_next(cg_config *cfg)
{
    cg_config_job *job = cfg->queue_head;
    if (cfg->running || !job) return;
    cfg->queue_head = job->next;
    if (!cfg->queue_head) cfg->queue_tail = NULL;
    if (cfg->waiting_reload == job) cfg->waiting_reload = NULL;
    cfg->running = job;
    job->base = cg_config_file_ref(cfg->file);
    job->work.data = job;
    /* Fails only without a work callback. */
    uv_queue_work(job->loop, &job->work, run_job, job_done);
}

/* Loop: installs what the job made, starts the next one, tells the owner. */
static void finish_job(cg_config_job *job)
{
    cg_config *cfg = job->cfg;
    cg_config_file_unref(job->base);
    cfg->running = NULL;
    if (job->type == JOB_WRITE) {
        cg_config_write_result result;
        cg_config_finish_write(cfg, job->write_kind, &job->write_plan, &result);
        start_next(cfg);
        job->write_done(cfg, &result, job->data);
    } else {
        int result = cg_config_finish_reload(cfg, &job->reload_plan);
        start_next(cfg);
        job->reload_done(cfg, result, job->data);
    }
    free(job->raw);
    free(job->base_hash);
    free(job);
}

/* Loop, after a trip to the thread pool. Jobs are never cancelled, so the work always
 * ran (status 0). A gated write that validated asks its gate before the second trip. */
static void job_done(uv_work_t *work, int status)
{
    cg_config_job *job = work->data;
    if (job->type == JOB_WRITE && job->write_gate && !job->committing && job->write_plan.text) {
        job->committing = true;
        job->write_gate(job->cfg, job->write_plan.change.settings, (cg_config_gate *)job,
                        job->data);
        return;
    }
    finish_job(job);
}

void cg_config_gate_pass(cg_config_gate *gate, const char *refusal)
{
    cg_config_job *job = (cg_config_job *)gate;
    if (!refusal) {
        uv_queue_work(job->loop, &job->work, run_job, job_done);
        return;
    }
    cg_config_write_plan_drop(&job->write_plan);
    job->write_plan.error =
        json_pack("{s:s, s:s, s:b}", "code", "UNAVAILABLE", "message", refusal, "retryable", 0);
    finish_job(job);
}

static cg_config_job *job_new(cg_config *cfg, uv_loop_t *loop, job_type type, void *data)
{
    cg_config_job *job = cg_xcalloc(1, sizeof *job);
    job->cfg = cfg;
    job->loop = loop;
    job->type = type;
    job->data = data;
    return job;
}

static void enqueue(cg_config *cfg, cg_config_job *job)
{
    if (cfg->queue_tail)
        cfg->queue_tail->next = job;
    else
        cfg->queue_head = job;
    cfg->queue_tail = job;
    start_next(cfg);
}

void cg_config_write_gated_async(cg_config *cfg, uv_loop_t *loop, cg_config_write_kind kind,
                                 const char *raw, const char *base_hash, cg_config_write_gate gate,
                                 cg_config_write_done done, void *data)
{
    cg_config_job *job = job_new(cfg, loop, JOB_WRITE, data);
    job->write_kind = kind;
    job->raw = cg_strdup(raw);
    job->base_hash = cg_strdup(base_hash);
    job->write_gate = gate;
    job->write_done = done;
    enqueue(cfg, job);
}

void cg_config_write_async(cg_config *cfg, uv_loop_t *loop, cg_config_write_kind kind,
                           const char *raw, const char *base_hash, cg_config_write_done done,
                           void *data)
{
    cg_config_write_gated_async(cfg, loop, kind, raw, base_hash, NULL, done, data);
}

void cg_config_patch_async(cg_config *cfg, uv_loop_t *loop, const json_t *patch,
                           cg_config_write_done done, void *data)
{
    cg_config_job *job = job_new(cfg, loop, JOB_WRITE, data);
    job->write_kind = CG_CONFIG_PATCH;
    job->raw = json_dumps(patch, JSON_COMPACT);
    job->base_current = true;
    job->write_done = done;
    enqueue(cfg, job);
}

int cg_config_reload_async(cg_config *cfg, uv_loop_t *loop, cg_config_reload_done done, void *data)
{
    if (cfg->waiting_reload) return 1;
    cg_config_job *job = job_new(cfg, loop, JOB_RELOAD, data);
    job->reload_done = done;
    cfg->waiting_reload = job;
    enqueue(cfg, job);
    return 0;
}
