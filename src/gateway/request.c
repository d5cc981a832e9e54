/* Answering requests, now or later. See request.h. */
#include "gateway/request.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_int.h"
#include "proto/frame.h"

static void finish(cg_req *req)
{
    req->answered = true;
    if (req->deferred) {
        cg_conn_unref(req->conn);
        free(req->id);
        json_decref(req->params);
        free(req);
    }
}

static bool deliverable(const cg_req *req)
{
    return !req->answered && req->conn && !req->conn->closed && req->conn->connected;
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

cg_req *cg_req_defer(cg_req *req)
{
    cg_req *copy = cg_xmalloc(sizeof *copy);
    *copy = *req;
    copy->deferred = true;
    cg_conn_ref(copy->conn);
    /* The original no longer owns anything: the dispatcher must not free it. */
    req->deferred = true;
    req->id = NULL;
    req->params = NULL;
    return copy;
}
