/* A request being answered, now or later.
 *
 * Handlers run on the loop thread and answer exactly once, with cg_req_ok / cg_req_error,
 * either before they return or later. To answer later (a node invoke, an approval, a
 * thread-pool job, an agent run) a handler calls cg_req_defer() and keeps the returned
 * pointer: the request then lives in the gateway's pending-request registry until it
 * is answered. The registry gives every pending request
 *   - a deadline (the method row's timeout_ms, default CG_REQ_DEFAULT_TIMEOUT_MS, or
 *     cg_req_set_timeout): when it passes the client gets UNAVAILABLE "TIMEOUT: ...";
 *   - an end when its connection closes (nothing can be answered then) or the gateway
 *     stops (UNAVAILABLE "gateway shutting down");
 *   - caps: CG_REQ_MAX_PENDING_PER_CONN per connection, CG_REQ_MAX_PENDING overall.
 * In each of those three cases the owner's cancel hook (cg_req_on_cancel) runs after the
 * answer, and the request is freed when the hook returns: the owner drops its pointer
 * there (and, say, marks its thread-pool job orphaned). params stay readable until then.
 *
 * Intermediate responses (the seed's "accepted, more coming"): cg_req_accept() sends an
 * ok response on the request's id and keeps it pending; the final cg_req_ok/error later
 * goes out on the same id. */
#ifndef CG_GATEWAY_REQUEST_H
#define CG_GATEWAY_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CG_REQ_DEFAULT_TIMEOUT_MS 30000
#define CG_REQ_MAX_PENDING_PER_CONN 256
#define CG_REQ_MAX_PENDING 16384

struct cg_gateway;
struct cg_conn;
struct cg_method;
typedef struct cg_req cg_req;

/* Why the registry ended a pending request without its owner. */
typedef enum {
    CG_REQ_END_CLOSED,   /* the connection closed: no answer was possible */
    CG_REQ_END_TIMEOUT,  /* the deadline passed: answered UNAVAILABLE TIMEOUT */
    CG_REQ_END_SHUTDOWN, /* the gateway is stopping: answered UNAVAILABLE */
} cg_req_end;

typedef void (*cg_req_cancel_fn)(cg_req *req, cg_req_end why, void *data);

struct cg_req {
    struct cg_gateway *gw;
    struct cg_conn *conn;
    const struct cg_method *method;
    char *id;       /* the request id, owned by the request */
    json_t *params; /* never NULL: {} when absent; a reference owned by the request */
    bool answered;
    bool deferred;
    bool accepted; /* an intermediate response went out */

    /* Registry bookkeeping (deferred requests only). */
    uint64_t deadline_ms; /* monotonic */
    size_t heap_index;
    cg_req *conn_prev, *conn_next;
    cg_req_cancel_fn on_cancel;
    void *cancel_data;
};

/* Answers ok; `payload` is consumed (NULL answers without a payload). */
void cg_req_ok(cg_req *req, json_t *payload);
/* Answers ok with a payload that is already serialized JSON. */
void cg_req_ok_raw(cg_req *req, const char *payload_json, size_t len);
/* Answers an error; `details` (may be NULL) is consumed. */
void cg_req_error(cg_req *req, const char *code, const char *message, json_t *details);
/* Answers an error shape built with cg_error_new (consumed). */
void cg_req_error_shape(cg_req *req, json_t *error);

/* Moves the request into the pending registry. The original must not be used
 * afterwards. Returns NULL when a cap is reached: the request has then been answered
 * UNAVAILABLE (retryable) and the handler just returns. */
cg_req *cg_req_defer(cg_req *req);
/* Replaces the deadline: ms from now. */
void cg_req_set_timeout(cg_req *req, uint64_t ms);
/* The owner's cleanup when the registry ends the request (see above). */
void cg_req_on_cancel(cg_req *req, cg_req_cancel_fn fn, void *data);
/* An intermediate ok response (payload consumed); the request stays pending. */
void cg_req_accept(cg_req *req, json_t *payload);

/* A request answered once a state write has committed: the handler defers it into a
 * hold, makes its change, and the write's done callback answers through the hold. A
 * request the registry ends meanwhile (its client left, its deadline passed) leaves
 * h->req NULL and is not answered again. */
typedef struct cg_req_hold {
    cg_req *req;
} cg_req_hold;
/* Defers req into h. false when a cap was reached: req was answered UNAVAILABLE. */
bool cg_req_hold_start(cg_req_hold *h, cg_req *req);
/* After the write: ok with payload (consumed) when status is 0, else UNAVAILABLE
 * "<what> not saved: <error>", retryable. Nothing when the request already ended. */
void cg_req_hold_answer(cg_req_hold *h, int status, const char *error, const char *what,
                        json_t *payload);

#endif
