/* Answering requests, now or later: the pending-request registry. See request.h.
 *
 * Pending requests sit in a binary min-heap by deadline (one timer, armed for the
 * earliest) and in a doubly linked list per connection (ended at once when it closes).
 * A pending request holds a reference on its connection, so the struct outlives the
 * socket until the request ends. */
#include "gateway/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway_int.h"
#include "proto/frame.h"

static uint64_t mono_ms(void)
{
    return cg_mono_ns() / 1000000u;
}

/* ---- the deadline heap ---- */

static void heap_swap(cg_gateway *gw, size_t a, size_t b)
{
    cg_req *t = gw->pending[a];
    gw->pending[a] = gw->pending[b];
    gw->pending[b] = t;
    gw->pending[a]->heap_index = a;
    gw->pending[b]->heap_index = b;
}

static void heap_up(cg_gateway *gw, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (gw->pending[parent]->deadline_ms <= gw->pending[i]->deadline_ms) break;
        heap_swap(gw, i, parent);
        i = parent;
    }
}

static void heap_down(cg_gateway *gw, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < gw->n_pending && gw->pending[l]->deadline_ms < gw->pending[m]->deadline_ms) m = l;
        if (r < gw->n_pending && gw->pending[r]->deadline_ms < gw->pending[m]->deadline_ms) m = r;
        if (m == i) return;
        heap_swap(gw, i, m);
        i = m;
    }
}

static void heap_remove(cg_gateway *gw, cg_req *req)
{
    size_t i = req->heap_index, last = gw->n_pending - 1;
    if (i != last) {
        heap_swap(gw, i, last);
        gw->n_pending--;
        heap_down(gw, i);
        heap_up(gw, i);
    } else {
        gw->n_pending--;
    }
}

static void on_deadline(uv_timer_t *t);

static void arm_timer(cg_gateway *gw)
{
    if (gw->n_pending == 0) {
        uv_timer_stop(&gw->pending_timer);
        return;
    }
    uint64_t now = mono_ms(), due = gw->pending[0]->deadline_ms;
    uv_timer_start(&gw->pending_timer, on_deadline, due > now ? due - now : 0, 0);
}

/* ---- registry membership ---- */

static void unregister(cg_req *req)
{
    cg_gateway *gw = req->gw;
    cg_conn *c = req->conn;
    heap_remove(gw, req);
    if (req->conn_prev)
        req->conn_prev->conn_next = req->conn_next;
    else
        c->pending_head = req->conn_next;
    if (req->conn_next) req->conn_next->conn_prev = req->conn_prev;
    c->n_pending--;
    arm_timer(gw);
}

static void release(cg_req *req)
{
    cg_conn_unref(req->conn);
    free(req->id);
    json_decref(req->params);
    free(req);
}

/* Ends a pending request without its owner: the answer (if any) went out already. */
static void end_pending(cg_req *req, cg_req_end why)
{
    unregister(req);
    req->answered = true;
    if (req->on_cancel) req->on_cancel(req, why, req->cancel_data);
    release(req);
}

void cg_pending_init(cg_gateway *gw)
{
    uv_timer_init(gw->loop, &gw->pending_timer);
    gw->pending_timer.data = gw;
}

void cg_pending_free(cg_gateway *gw)
{
    free(gw->pending);
    gw->pending = NULL;
}

/* Answers `error` (consumed) when the client is still there, then ends the request. */
static void end_with_error(cg_req *req, json_t *error, cg_req_end why)
{
    if (!req->answered && cg_conn_deliverable(req->conn))
        cg_conn_send_error(req->conn, req->id, error);
    else
        json_decref(error);
    end_pending(req, why);
}

static void on_deadline(uv_timer_t *t)
{
    cg_gateway *gw = t->data;
    uint64_t now = mono_ms();
    while (gw->n_pending > 0 && gw->pending[0]->deadline_ms <= now) {
        cg_req *req = gw->pending[0];
        char message[200];
        snprintf(message, sizeof message, "TIMEOUT: %s did not finish in time",
                 req->method ? req->method->name : "request");
        end_with_error(
            req, cg_error_new(CG_ERR_UNAVAILABLE, message, json_pack("{s:s}", "code", "TIMEOUT")),
            CG_REQ_END_TIMEOUT);
    }
    arm_timer(gw);
}

void cg_pending_conn_closed(cg_conn *c)
{
    while (c->pending_head)
        end_pending(c->pending_head, CG_REQ_END_CLOSED);
}

void cg_pending_shutdown(cg_gateway *gw)
{
    while (gw->n_pending > 0) {
        json_t *err = cg_error_new(CG_ERR_UNAVAILABLE, "gateway shutting down",
                                   json_pack("{s:s}", "code", "SHUTDOWN"));
        json_object_set_new(err, "retryable", json_true());
        end_with_error(gw->pending[gw->n_pending - 1], err, CG_REQ_END_SHUTDOWN);
    }
}

/* ---- answering ---- */

/* After the final answer: a pending request leaves the registry. */
static void finish(cg_req *req)
{
    req->answered = true;
    if (!req->deferred) return;
    unregister(req);
    release(req);
}

static bool deliverable(const cg_req *req)
{
    return !req->answered && req->conn && cg_conn_deliverable(req->conn);
}

void cg_req_ok_raw(cg_req *req, const char *payload_json, size_t len)
{
    if (req->answered) return;
    if (deliverable(req)) cg_conn_send_ok(req->conn, req->id, payload_json, len);
    finish(req);
}

void cg_req_ok(cg_req *req, json_t *payload)
{
    if (!payload) {
        cg_req_ok_raw(req, NULL, 0);
        return;
    }
    char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(payload);
    cg_req_ok_raw(req, text, strlen(text));
    free(text);
}

void cg_req_error_shape(cg_req *req, json_t *error)
{
    if (req->answered) {
        json_decref(error);
        return;
    }
    if (deliverable(req))
        cg_conn_send_error(req->conn, req->id, error);
    else
        json_decref(error);
    finish(req);
}

void cg_req_error(cg_req *req, const char *code, const char *message, json_t *details)
{
    cg_req_error_shape(req, cg_error_new(code, message, details));
}

void cg_req_accept(cg_req *req, json_t *payload)
{
    if (req->answered) {
        json_decref(payload);
        return;
    }
    req->accepted = true;
    if (!deliverable(req)) {
        json_decref(payload);
        return;
    }
    char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(payload);
    cg_conn_send_ok(req->conn, req->id, text, strlen(text));
    free(text);
}

cg_req *cg_req_defer(cg_req *req)
{
    cg_gateway *gw = req->gw;
    cg_conn *c = req->conn;
    if (c->n_pending >= CG_REQ_MAX_PENDING_PER_CONN || gw->n_pending >= CG_REQ_MAX_PENDING) {
        json_t *err = cg_error_new(CG_ERR_UNAVAILABLE,
                                   c->n_pending >= CG_REQ_MAX_PENDING_PER_CONN
                                       ? "too many pending requests on this connection"
                                       : "too many pending requests on the gateway",
                                   json_pack("{s:s}", "code", "PENDING_LIMIT"));
        json_object_set_new(err, "retryable", json_true());
        json_object_set_new(err, "retryAfterMs", json_integer(1000));
        cg_req_error_shape(req, err);
        return NULL;
    }
    cg_req *copy = cg_xmalloc(sizeof *copy);
    *copy = *req;
    copy->deferred = true;
    copy->on_cancel = NULL;
    copy->cancel_data = NULL;
    uint64_t timeout = req->method && req->method->timeout_ms ? req->method->timeout_ms
                                                              : CG_REQ_DEFAULT_TIMEOUT_MS;
    copy->deadline_ms = mono_ms() + timeout;
    cg_conn_ref(c);
    /* The original no longer owns anything: the dispatcher must not free it. */
    req->deferred = true;
    req->id = NULL;
    req->params = NULL;

    if (gw->n_pending == gw->cap_pending) {
        gw->cap_pending = gw->cap_pending ? gw->cap_pending * 2 : 64;
        gw->pending = cg_xrealloc(gw->pending, gw->cap_pending * sizeof *gw->pending);
    }
    copy->heap_index = gw->n_pending;
    gw->pending[gw->n_pending++] = copy;
    heap_up(gw, copy->heap_index);
    copy->conn_prev = NULL;
    copy->conn_next = c->pending_head;
    if (c->pending_head) c->pending_head->conn_prev = copy;
    c->pending_head = copy;
    c->n_pending++;
    arm_timer(gw);
    return copy;
}

void cg_req_set_timeout(cg_req *req, uint64_t ms)
{
    if (!req->deferred || req->answered) return;
    req->deadline_ms = mono_ms() + ms;
    heap_down(req->gw, req->heap_index);
    heap_up(req->gw, req->heap_index);
    arm_timer(req->gw);
}

void cg_req_on_cancel(cg_req *req, cg_req_cancel_fn fn, void *data)
{
    req->on_cancel = fn;
    req->cancel_data = data;
}

/* ---- answering after a commit ---- */

static void hold_ended(cg_req *req, cg_req_end why, void *data)
{
    ((cg_req_hold *)data)->req = NULL;
}

bool cg_req_hold_start(cg_req_hold *h, cg_req *req)
{
    h->req = cg_req_defer(req);
    if (!h->req) return false;
    cg_req_on_cancel(h->req, hold_ended, h);
    return true;
}

void cg_req_hold_answer(cg_req_hold *h, int status, const char *error, const char *what,
                        json_t *payload)
{
    cg_req *req = h->req;
    h->req = NULL;
    if (!req) {
        json_decref(payload);
    } else if (status == 0) {
        cg_req_ok(req, payload);
    } else {
        json_decref(payload);
        char message[400];
        snprintf(message, sizeof message, "%s not saved: %.256s", what, error ? error : "");
        json_t *e = cg_error_new(CG_ERR_UNAVAILABLE, message, NULL);
        json_object_set_new(e, "retryable", json_true());
        cg_req_error_shape(req, e);
    }
}
