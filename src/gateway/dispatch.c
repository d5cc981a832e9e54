/* From a complete WebSocket message to a handler's answer.
 *
 * Parsing: small messages parse on the loop; larger ones (over 256 KiB) on the thread
 * pool while the connection is paused, so a hostile 25 MiB message never stalls the
 * other clients. Every parse runs under the JSON budget (gateway.limits.jsonBudgetBytes):
 * passing it closes the connection with 1009; any other parse failure, including
 * nesting deeper than jansson allows, is an ordinary malformed request.
 *
 * Authorization (cg_authorize, in CONTRACT.md's order: role, existence, scope), then
 * the params check, all read from the one method table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_budget.h"
#include "common/log.h"
#include "gateway/gateway_int.h"
#include "proto/frame.h"

#define OFF_LOOP_PARSE_BYTES (256 * 1024)

static void route(cg_conn *c, json_t *msg, bool over_budget, const json_error_t *jerr)
{
    if (c->phase != CG_PHASE_WS || cg_ws_closing(c->ws)) {
        json_decref(msg);
        return;
    }
    if (over_budget) {
        cg_log(CG_LOG_WARN, "ws", "message over the JSON budget",
               json_pack("{s:s}", "ip", c->client_ip));
        cg_conn_ws_close(c, 1009, "message too complex");
        return;
    }
    if (!msg) {
        char text[256];
        snprintf(text, sizeof text, "invalid request frame: malformed JSON: %s",
                 jerr->text[0] ? jerr->text : "parse error");
        cg_conn_send_error(c, NULL, cg_error_new(CG_ERR_INVALID_REQUEST, text, NULL));
        if (!c->connected) cg_conn_ws_close(c, 1008, "invalid handshake");
        return;
    }
    if (c->connected)
        cg_dispatch_message(c, msg);
    else
        cg_connect_message(c, msg);
    json_decref(msg);
}

typedef struct parse_job {
    uv_work_t work;
    cg_conn *conn;
    char *data;
    size_t len;
    size_t budget;
    json_t *result;
    bool over_budget;
    json_error_t err;
} parse_job;

static void parse_work(uv_work_t *w)
{
    cg_thread_background();
    parse_job *j = (parse_job *)w;
    j->result = cg_json_parse(j->data, j->len, j->budget, &j->over_budget, &j->err);
}

static void parse_done(uv_work_t *w, int status)
{
    parse_job *j = (parse_job *)w;
    cg_conn *c = j->conn;
    free(j->data);
    route(c, j->result, j->over_budget, &j->err);
    if (c->phase == CG_PHASE_WS) {
        cg_ws_resume(c->ws);
        if (!cg_ws_paused(c->ws)) cg_stream_resume(&c->stream);
    }
    cg_conn_unref(c);
    free(j);
}

void cg_conn_message(cg_conn *c, const char *data, size_t len)
{
    if (c->phase != CG_PHASE_WS) return;
    size_t budget = (size_t)c->gw->settings->limits.json_budget_bytes;
    if (len > OFF_LOOP_PARSE_BYTES) {
        parse_job *j = cg_xcalloc(1, sizeof *j);
        j->conn = c;
        j->data = cg_xmalloc(len);
        memcpy(j->data, data, len);
        j->len = len;
        j->budget = budget;
        cg_conn_ref(c);
        cg_ws_pause(c->ws); /* messages wslay completes meanwhile wait, in order */
        uv_queue_work(c->gw->loop, &j->work, parse_work, parse_done);
        return;
    }
    bool over = false;
    json_error_t jerr;
    json_t *msg = cg_json_parse(data, len, budget, &over, &jerr);
    route(c, msg, over, &jerr);
}

void cg_dispatch_message(cg_conn *c, json_t *msg)
{
    const char *id, *method;
    json_t *params;
    char err[512];
    if (cg_frame_parse_req(msg, &id, &method, &params, err, sizeof err) != 0) {
        cg_conn_send_error(c, id, cg_error_new(CG_ERR_INVALID_REQUEST, err, NULL));
        return;
    }
    const cg_method *m = cg_method_find(method);
    cg_req req = {.gw = c->gw, .conn = c, .method = m, .id = cg_strdup(id)};
    req.params = params ? json_incref(params) : json_object();
    json_t *denied = cg_authorize(c->role, c->scopes, method, m);
    if (denied) {
        cg_req_error_shape(&req, denied);
    } else if (m->check && m->check(req.params, err, sizeof err) != 0) {
        char text[640];
        snprintf(text, sizeof text, "invalid %s params: %s", m->name, err);
        cg_req_error(&req, CG_ERR_INVALID_REQUEST, text, NULL);
    } else {
        m->handler(&req);
        if (!req.answered && !req.deferred)
            cg_req_error(&req, CG_ERR_UNAVAILABLE, "the method did not answer", NULL);
    }
    if (!req.deferred) {
        free(req.id);
        json_decref(req.params);
    }
}
