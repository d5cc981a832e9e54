/* Agent runs: a user turn in a session, answered by a model, streamed to every operator
 * (src/methods/runs.c). chat.send, agent and wake submit runs; chat.abort and
 * agent.wait look them up.
 *
 * A run belongs to one session; a session runs one at a time, the others wait in its
 * queue, in order. A run's id is the caller's idempotencyKey: submitting a known id
 * starts nothing and tells how that run stands. */
#ifndef CG_METHODS_RUNS_H
#define CG_METHODS_RUNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway/gateway.h"

#define CG_RUNS_QUEUE_MAX 32 /* waiting runs per session */
#define CG_RUNS_MAX 4096     /* runs in flight or queued, all sessions */

typedef enum {
    CG_RUN_UNKNOWN,
    CG_RUN_QUEUED,
    CG_RUN_RUNNING,
    CG_RUN_OK,
    CG_RUN_ERROR,
    CG_RUN_ABORTED,
} cg_run_status;

/* How a run ended (borrowed for the callback). */
typedef struct cg_run_result {
    const char *run_id, *session_key, *agent_id;
    cg_run_status status;
    const char *text;          /* the reply (partial when aborted or failed) */
    const char *stop_reason;   /* "stop", "length", "tool_calls", "rpc" (aborted), ... */
    const char *error_kind;    /* failed: auth, rate_limit, server, network, timeout, ... */
    const char *error_message; /* failed: what a user can act on */
    int64_t started_at_ms, ended_at_ms;
    int64_t input_tokens, output_tokens; /* as the provider reported them (0: unknown) */
} cg_run_result;

typedef void (*cg_run_end_fn)(const cg_run_result *result, void *data);

typedef struct cg_run_spec {
    const char *run_id;      /* the idempotencyKey */
    const char *session_key; /* canonical */
    const char *agent_id;
    const char *message;       /* the user's text */
    const json_t *attachments; /* chat.send's attachments, or NULL */
    const char *thinking;      /* NULL or a level */
    const char *model;         /* NULL, or "<provider>/<model>" for this run */
    const char *system_event;  /* wake: a system line instead of a user turn (message NULL) */
    bool queue_only;           /* a system event stored for the session's next run; no run starts */
} cg_run_spec;

/* Queues a run (its user turn is written first; the provider is called after that
 * commit). end (may be NULL) runs once when it ends. 0, or -1 with *error (a new
 * ErrorShape): bad attachments, a full queue, an unknown session key. A known run id is
 * not an error: *existing tells how it stands (CG_RUN_UNKNOWN when it was new). */
int cg_runs_submit(cg_gateway *gw, const cg_run_spec *spec, cg_run_end_fn end, void *data,
                   cg_run_status *existing, json_t **error);

/* chat.abort: the session's running run (or run_id only) and its queued ones are
 * stopped, keeping the partial text. The ids stopped are appended to run_ids. */
void cg_runs_abort(cg_gateway *gw, const char *session_key, const char *run_id, json_t *run_ids);
/* The same; queued false leaves the waiting runs alone (sessions.abort without
 * clearQueued). */
void cg_runs_abort_ex(cg_gateway *gw, const char *session_key, const char *run_id, bool queued,
                      json_t *run_ids);

/* How a run stands; a finished one is remembered for a while (CG_RUN_UNKNOWN after). *
 * result (may be NULL) is filled for a finished run, borrowed until the next runs call. */
cg_run_status cg_runs_lookup(cg_gateway *gw, const char *run_id, cg_run_result *result);
/* Calls end when run_id ends (at once when it has ended); false for an unknown run.
 * The returned handle cancels the wait (cg_runs_unwatch) when its waiter leaves. */
typedef struct cg_run_watch cg_run_watch;
cg_run_watch *cg_runs_watch(cg_gateway *gw, const char *run_id, cg_run_end_fn end, void *data);
void cg_runs_unwatch(cg_run_watch *w);
/* Like cg_runs_watch, and text gets the reply's text as it is sent to clients (each
 * call appends; batched like the chat deltas). */
typedef void (*cg_run_text_fn)(const char *text, size_t len, void *data);
cg_run_watch *cg_runs_watch_text(cg_gateway *gw, const char *run_id, cg_run_text_fn text,
                                 cg_run_end_fn end, void *data);

/* A transcript in conversation order: each reply right after its run's user turn (a
 * message sent during a run is stored at once, before that run's reply). New ref. */
json_t *cg_runs_conversation_order(const json_t *messages);

/* Sets up the run engine as gateway data (after the providers and sessions). */
void cg_methods_runs_attach(cg_gateway *gw);

#endif
