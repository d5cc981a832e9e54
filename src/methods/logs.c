/* logs.tail: the method table row and its handler.
 *
 * Params follow LogsTailParams strictly (cursor >= 0, limit 1..5000, maxBytes
 * 1..1000000, nothing else); one parser serves both the table's params check and the
 * handler, so the handler never trusts unchecked input.
 *
 * The work runs off the loop: reading up to 1 MB and building up to 5,000 strings took
 * tens of milliseconds, during which every other client waited. The handler checks the
 * params, defers the request (cg_req_defer) and queues a job on libuv's thread pool
 * that reads the window and writes the result as JSON text (cg_logs_tail_file, on a copy
 * of cg_log_path()); back on the loop the text goes out as is (cg_req_ok_raw). The job
 * and the request point at each other: if the registry ends the request first (the
 * connection closed, the deadline passed, the gateway is stopping) the cancel hook
 * clears the job's pointer and cancels the job if it has not started, and the
 * after-work callback then only frees. One tail runs at a time; others wait their turn in
 * a FIFO here, so a client pipelining tails cannot take every thread of the pool, which
 * config writes and large-message parses share. The job makes no jansson allocations, so the
 * JSON budget (json_budget.c: a thread-local counter, active only inside cg_json_parse,
 * which shares the pool's threads) neither counts nor limits it. */
#include "methods/logs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/log.h"
#include "common/util.h"
#include "gateway/gateway.h"

typedef struct logs_tail_params {
    bool has_cursor;
    json_int_t cursor, limit, max_bytes;
} logs_tail_params;

static int parse_params(const json_t *params, logs_tail_params *out, char *err, size_t errlen)
{
    out->cursor = -1;
    out->limit = CG_LOGS_TAIL_DEFAULT_LIMIT;
    out->max_bytes = CG_LOGS_TAIL_DEFAULT_MAX_BYTES;
    if (cg_params_unpack(params, err, errlen, "{s?I, s?I, s?I}", "cursor", &out->cursor, "limit",
                         &out->limit, "maxBytes", &out->max_bytes) != 0)
        return -1;
    out->has_cursor = json_object_get(params, "cursor") != NULL;
    if (out->has_cursor && out->cursor < 0) {
        snprintf(err, errlen, "at /cursor: must be >= 0");
        return -1;
    }
    if (out->limit < 1 || out->limit > CG_LOGS_TAIL_MAX_LIMIT) {
        snprintf(err, errlen, "at /limit: must be >= 1 and <= %d", CG_LOGS_TAIL_MAX_LIMIT);
        return -1;
    }
    if (out->max_bytes < 1 || out->max_bytes > CG_LOGS_TAIL_MAX_MAX_BYTES) {
        snprintf(err, errlen, "at /maxBytes: must be >= 1 and <= %d", CG_LOGS_TAIL_MAX_MAX_BYTES);
        return -1;
    }
    return 0;
}

static int check_logs_tail(const json_t *params, char *err, size_t errlen)
{
    logs_tail_params parsed;
    return parse_params(params, &parsed, err, errlen);
}

#define MAX_RUNNING_TAILS 1

typedef struct tail_job {
    uv_work_t work;
    uv_loop_t *loop;
    struct tail_job *next; /* in the waiting FIFO */
    bool waiting;
    cg_req *req; /* NULL once the registry has ended the request */
    char *path;
    logs_tail_params params;
    char *payload; /* the LogsTailResult as JSON text, or NULL with read_errno set */
    size_t payload_len;
    int read_errno;
} tail_job;

/* On the thread pool. */
static void tail_work(uv_work_t *work)
{
    cg_thread_background();
    tail_job *job = work->data;
    const logs_tail_params *p = &job->params;
    job->payload = cg_logs_tail_file(job->path, p->has_cursor, p->cursor, p->limit, p->max_bytes,
                                     &job->payload_len);
    if (!job->payload) job->read_errno = errno;
}

/* Tails running on the pool, and those waiting for their turn (loop thread only). */
static struct {
    size_t running;
    tail_job *head, *tail;
} tails;

static void tail_done(uv_work_t *work, int status);

static void start_tail(tail_job *job)
{
    tails.running++;
    uv_queue_work(job->loop, &job->work, tail_work, tail_done);
}

static void start_next_tail(void)
{
    while (tails.running < MAX_RUNNING_TAILS && tails.head) {
        tail_job *job = tails.head;
        tails.head = job->next;
        if (!tails.head) tails.tail = NULL;
        job->waiting = false;
        start_tail(job);
    }
}

static void free_job(tail_job *job)
{
    free(job->payload);
    free(job->path);
    free(job);
}

static void tail_done(uv_work_t *work, int status)
{
    tail_job *job = work->data;
    tails.running--;
    if (job->req && job->payload) {
        cg_req_ok_raw(job->req, job->payload, job->payload_len);
    } else if (job->req) {
        char message[300];
        snprintf(message, sizeof message, "cannot read gateway log: %s", strerror(job->read_errno));
        cg_req_error(job->req, "UNAVAILABLE", message, NULL);
    }
    free_job(job);
    start_next_tail();
}

static void tail_request_ended(cg_req *req, cg_req_end why, void *data)
{
    tail_job *job = data;
    job->req = NULL;
    if (job->waiting) {
        tail_job **link = &tails.head, *prev = NULL;
        while (*link != job) {
            prev = *link;
            link = &(*link)->next;
        }
        *link = job->next;
        if (tails.tail == job) tails.tail = prev;
        free_job(job);
        return;
    }
    /* Only a job that has not started can be cancelled; tail_done runs either way. */
    uv_cancel((uv_req_t *)&job->work);
}

static void handle_logs_tail(cg_req *req)
{
    logs_tail_params params;
    char err[256];
    if (parse_params(req->params, &params, err, sizeof err) != 0) {
        char message[300];
        snprintf(message, sizeof message, "invalid logs.tail params: %s", err);
        cg_req_error(req, "INVALID_REQUEST", message, NULL);
        return;
    }
    const char *path = cg_log_path();
    if (!path) {
        cg_req_error(req, "UNAVAILABLE", "gateway log is not open", NULL);
        return;
    }
    cg_req *pending = cg_req_defer(req);
    if (!pending) return;
    tail_job *job = cg_xcalloc(1, sizeof *job);
    job->work.data = job;
    job->loop = cg_gateway_loop(pending->gw);
    job->req = pending;
    job->path = cg_strdup(path);
    job->params = params;
    cg_req_on_cancel(pending, tail_request_ended, job);
    if (tails.running < MAX_RUNNING_TAILS) {
        start_tail(job);
        return;
    }
    job->waiting = true;
    if (tails.tail)
        tails.tail->next = job;
    else
        tails.head = job;
    tails.tail = job;
}

const cg_method cg_methods_logs[] = {
    {.name = "logs.tail",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_logs_tail,
     .handler = handle_logs_tail,
     .summary = "Tail the gateway's JSON-lines log from a cursor"},
    {.name = NULL},
};
