/* node.invoke: an operator runs a command on a connected node (issue 8).
 *
 * Two layers.
 *
 * The call relay (cg_node_call_*, declared in methods/nodes.h): a call has an id (a
 * UUID), the node's connection it was sent to, a timer, and a done callback. It sends
 * `node.invoke.request` to the node and ends exactly once: when the node answers with
 * `node.invoke.result` from that same connection, when its timer fires (TIMEOUT), when
 * the node's connection closes (DISCONNECTED, at once: the conn hook below), or when its
 * owner cancels it. Calls are found by id (a map) and by connection (a scan of the list
 * when a node leaves; a node has few calls). Every call's timer is closed when the call
 * ends, so shutdown, which closes every node connection, leaves none behind.
 *
 * The method (node.invoke): checks the command against the real gateway's rules
 * (private controls, system.execApprovals.*, admin-only commands, the node's effective
 * surface and the allowlist of nodes/policy.h), then runs it as an invocation, keyed by
 * (nodeId, command, idempotencyKey): a repeated key while the first is in flight joins
 * it, and within IDEMPOTENCY_TTL_MS after it ended gets its answer again (the real
 * gateway runs it twice; ours does not). An invocation holds its waiting requests (each
 * deferred in the gateway's pending registry; one that leaves just stops waiting), the
 * exec gate while clawgate's own policy asks an approver about a system.run (methods/
 * exec_approvals.h), then the call. Finished invocations are kept, oldest dropped first,
 * within IDEMPOTENCY_MAX entries and IDEMPOTENCY_MAX_BYTES of answers.
 *
 * system.run goes out as the real gateway forwards it: with a runId (added when
 * missing) and without the approval flags (`approved`, `approvalDecision`) an operator
 * could set to skip the node's own policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "methods/exec_approvals.h"
#include "methods/nodes.h"
#include "nodes/policy.h"
#include "proto/frame.h"

#define MAX_CALLS 16384
#define IDEMPOTENCY_TTL_MS (5 * 60 * 1000)
#define IDEMPOTENCY_MAX 4096
#define IDEMPOTENCY_MAX_BYTES (64u * 1024 * 1024)
#define WAITERS_MAX 64
/* A waiting request's deadline beyond the call's own: the call's timer answers first. */
#define DEADLINE_SLACK_MS 5000
/* How long an approver may take, as far as a waiting request is concerned. */
#define GATE_WAIT_MAX_MS (30 * 60 * 1000)
/* system.run runs whose exec.* events a node may still report. */
#define RUNS_REMEMBERED 1024

typedef struct relay relay;

struct cg_node_call {
    struct cg_node_call *prev, *next;
    relay *r;
    char id[37];
    char *node_id, *conn_id, *command;
    uv_timer_t timer;
    cg_node_call_done done;
    void *data;
};

typedef struct invocation {
    struct invocation *prev, *next; /* by age, oldest first */
    relay *r;
    char *key;
    char *node_id, *command, *idempotency_key;
    json_t *params; /* what goes to the node */
    uint64_t timeout_ms;
    cg_req *waiters[WAITERS_MAX];
    size_t n_waiters;
    cg_exec_gate *gate;
    cg_node_call *call;
    json_t *asked; /* the params as the caller sent them: a repeat must send the same */
    bool finished;
    int64_t finished_at_ms;
    char *result; /* the answer once finished: the ok payload, serialized, */
    size_t result_len;
    json_t *error; /* or the error */
} invocation;

typedef struct run_record {
    char run_id[96];
    char node_id[96];
} run_record;

struct relay {
    cg_gateway *gw;
    cg_strmap *calls; /* id -> cg_node_call */
    cg_node_call *calls_head;
    size_t n_calls;
    cg_strmap *invocations; /* key -> invocation */
    invocation *oldest, *newest;
    size_t n_invocations, invocation_bytes;
    run_record runs[RUNS_REMEMBERED];
    size_t next_run;
};

static void invocation_destroy(invocation *inv)
{
    json_decref(inv->params);
    json_decref(inv->asked);
    free(inv->result);
    json_decref(inv->error);
    free(inv->key);
    free(inv->node_id);
    free(inv->command);
    free(inv->idempotency_key);
    free(inv);
}

static void free_relay(void *data)
{
    relay *r = data;
    while (r->oldest) {
        invocation *inv = r->oldest;
        r->oldest = inv->next;
        invocation_destroy(inv);
    }
    cg_strmap_free(r->invocations);
    cg_strmap_free(r->calls);
    free(r);
}

static const cg_conn_key relay_key = {.name = "node-invoke", .free_data = free_relay};

static relay *relay_of(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &relay_key);
}

/* ---- the call relay ---- */

static json_t *node_error(const char *code, const char *message, bool dispatched)
{
    char text[320];
    snprintf(text, sizeof text, "%s: %s", code, message);
    return cg_error_new(CG_ERR_UNAVAILABLE, text,
                        json_pack("{s:{s:s, s:s}, s:b}", "nodeError", "code", code, "message",
                                  message, "nodeCommandDispatched", dispatched));
}

static json_t *not_connected(void)
{
    return cg_error_new(CG_ERR_UNAVAILABLE, "node not connected",
                        json_pack("{s:s, s:{s:s, s:s}, s:b}", "code", "NOT_CONNECTED", "nodeError",
                                  "code", "NOT_CONNECTED", "message", "node not connected",
                                  "nodeCommandDispatched", 0));
}

static void call_timer_closed(uv_handle_t *h)
{
    cg_node_call *call = h->data;
    free(call->node_id);
    free(call->conn_id);
    free(call->command);
    free(call);
}

static void call_unlink(cg_node_call *call)
{
    relay *r = call->r;
    cg_strmap_remove(r->calls, call->id);
    if (call->prev)
        call->prev->next = call->next;
    else
        r->calls_head = call->next;
    if (call->next) call->next->prev = call->prev;
    r->n_calls--;
}

/* Stops the timer; the struct is freed when its close completes (fields stay readable
 * until then). */
static void call_close(cg_node_call *call)
{
    uv_timer_stop(&call->timer);
    uv_close((uv_handle_t *)&call->timer, call_timer_closed);
}

static void call_forget(cg_node_call *call)
{
    call_unlink(call);
    call_close(call);
}

static void call_end(cg_node_call *call, const json_t *result, const json_t *error)
{
    call_forget(call);
    call->done(result, error, call->data);
}

static void on_call_timeout(uv_timer_t *t)
{
    cg_node_call *call = t->data;
    json_t *error = node_error("TIMEOUT", "node invoke timed out", true);
    call_end(call, NULL, error);
    json_decref(error);
}

/* Remembers a system.run's runId, so the node's exec.* events about it are believed. */
static void remember_run(relay *r, const char *node_id, const json_t *params)
{
    const char *run_id = json_string_value(json_object_get(params, "runId"));
    if (!run_id || strlen(run_id) >= sizeof r->runs[0].run_id ||
        strlen(node_id) >= sizeof r->runs[0].node_id)
        return;
    run_record *rec = &r->runs[r->next_run++ % RUNS_REMEMBERED];
    snprintf(rec->run_id, sizeof rec->run_id, "%s", run_id);
    snprintf(rec->node_id, sizeof rec->node_id, "%s", node_id);
}

bool cg_node_run_known(cg_gateway *gw, const char *node_id, const char *run_id)
{
    relay *r = relay_of(gw);
    if (!r || !node_id || !run_id) return false;
    for (size_t i = 0; i < RUNS_REMEMBERED; i++)
        if (!strcmp(r->runs[i].run_id, run_id) && !strcmp(r->runs[i].node_id, node_id)) return true;
    return false;
}

cg_node_call *cg_node_call_start(cg_gateway *gw, const char *node_id, const char *command,
                                 json_t *params, uint64_t timeout_ms, const char *idempotency_key,
                                 cg_node_call_done done, void *data, json_t **error)
{
    relay *r = relay_of(gw);
    cg_node_live live;
    cg_conn *node = NULL;
    if (cg_nodes_live(cg_gateway_nodes(gw), node_id, &live))
        node = cg_gateway_find_conn(gw, live.conn_id);
    if (!node) {
        json_decref(params);
        *error = not_connected();
        return NULL;
    }
    if (r->n_calls >= MAX_CALLS) {
        json_decref(params);
        *error = cg_error_new(CG_ERR_UNAVAILABLE, "too many node invocations in flight",
                              json_pack("{s:s}", "code", "INVOKE_LIMIT"));
        json_object_set_new(*error, "retryable", json_true());
        json_object_set_new(*error, "retryAfterMs", json_integer(1000));
        return NULL;
    }
    if (timeout_ms == 0 || timeout_ms > CG_NODE_CALL_MAX_TIMEOUT_MS)
        timeout_ms = timeout_ms ? CG_NODE_CALL_MAX_TIMEOUT_MS : CG_NODE_CALL_DEFAULT_TIMEOUT_MS;

    cg_node_call *call = cg_xcalloc(1, sizeof *call);
    call->r = r;
    cg_uuid4(call->id);
    call->node_id = cg_strdup(node_id);
    call->conn_id = cg_strdup(live.conn_id);
    call->command = cg_strdup(command);
    call->done = done;
    call->data = data;
    json_t *request = json_pack("{s:s, s:s, s:s, s:I}", "id", call->id, "nodeId", node_id,
                                "command", command, "timeoutMs", (json_int_t)timeout_ms);
    if (params) {
        char *text = json_dumps(params, JSON_COMPACT | JSON_ENCODE_ANY);
        json_object_set_new(request, "paramsJSON", json_string(text ? text : "null"));
        free(text);
        if (!strcmp(command, "system.run")) remember_run(r, node_id, params);
        json_decref(params);
    }
    if (idempotency_key && *idempotency_key)
        json_object_set_new(request, "idempotencyKey", json_string(idempotency_key));
    if (!cg_conn_send_event(node, "node.invoke.request", request, 0)) {
        free(call->node_id);
        free(call->conn_id);
        free(call->command);
        free(call);
        *error = node_error("UNAVAILABLE", "failed to send invoke to node", false);
        return NULL;
    }
    uv_timer_init(cg_gateway_loop(gw), &call->timer);
    call->timer.data = call;
    uv_timer_start(&call->timer, on_call_timeout, timeout_ms, 0);
    cg_strmap_set(r->calls, call->id, call);
    call->next = r->calls_head;
    if (r->calls_head) r->calls_head->prev = call;
    r->calls_head = call;
    r->n_calls++;
    return call;
}

void cg_node_call_cancel(cg_node_call *call)
{
    if (call) call_forget(call);
}

static json_t *disconnected(const char *command)
{
    char message[320];
    snprintf(message, sizeof message, "node disconnected (%s)", command);
    return node_error("DISCONNECTED", message, true);
}

static void invocations_node_gone(relay *r, const char *node_id);

/* A node's connection closed: its calls fail now, and so do the system.runs for it that
 * still wait on an approver. The calls are taken off the list first, then ended: a done
 * callback may start or end other calls. */
static void on_conn(cg_gateway *gw, cg_conn *c, cg_conn_event ev, void *data)
{
    relay *r = data;
    if (ev != CG_CONN_CLOSED || cg_conn_role(c) != CG_ROLE_NODE) return;
    const char *conn_id = cg_conn_id(c);
    cg_node_call *gone = NULL;
    for (cg_node_call *call = r->calls_head, *next; call; call = next) {
        next = call->next;
        if (strcmp(call->conn_id, conn_id) != 0) continue;
        call_unlink(call);
        call->next = gone;
        gone = call;
    }
    while (gone) {
        cg_node_call *call = gone;
        gone = call->next;
        json_t *error = disconnected(call->command);
        call_close(call);
        call->done(NULL, error, call->data);
        json_decref(error);
    }
    if (cg_conn_device_id(c)) invocations_node_gone(r, cg_conn_device_id(c));
}

void cg_methods_node_invoke_attach(cg_gateway *gw)
{
    relay *r = cg_xcalloc(1, sizeof *r);
    r->gw = gw;
    r->calls = cg_strmap_new();
    r->invocations = cg_strmap_new();
    cg_gateway_set_data(gw, &relay_key, r);
    cg_gateway_add_conn_hook(gw, on_conn, r);
}

const char *cg_node_command_check(cg_gateway *gw, const char *node_id, const char *command,
                                  char *hint, size_t hint_len)
{
    cg_node_live live;
    if (!cg_nodes_live(cg_gateway_nodes(gw), node_id, &live)) return NULL;
    const cg_settings *s = cg_gateway_settings(gw);
    cg_node_command_rules rules = {s->node_commands_allow, s->node_commands_allow_len,
                                   s->node_commands_deny, s->node_commands_deny_len};
    cg_node_command_subject subject = {live.platform, live.device_family, live.caps, live.commands,
                                       live.declared_commands};
    const char *reason = cg_node_command_refusal(&subject, &rules, command);
    if (reason) cg_node_command_hint(&subject, &rules, reason, command, hint, hint_len);
    return reason;
}

/* ---- node.invoke.result (from the node) ---- */

static int check_result(const json_t *params, char *err, size_t errlen)
{
    const char *id, *node_id, *payload_json = NULL, *code = NULL, *message = NULL;
    int ok;
    json_t *payload = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s:s, s:b, s?:o, s?:s, s?:{s?:s, s?:s}}", "id",
                         &id, "nodeId", &node_id, "ok", &ok, "payload", &payload, "payloadJSON",
                         &payload_json, "error", "code", &code, "message", &message))
        return -1;
    const char *empty = !*id                   ? "id"
                        : !*node_id            ? "nodeId"
                        : code && !*code       ? "error/code"
                        : message && !*message ? "error/message"
                                               : NULL;
    if (empty) {
        snprintf(err, errlen, "at /%s: must NOT have fewer than 1 characters", empty);
        return -1;
    }
    return 0;
}

/* The real node host sends payloadJSON: null and error: null; the real gateway drops
 * them before checking, and a non-string payloadJSON becomes payload. */
static json_t *normalize_result(const json_t *params)
{
    if (!json_is_object(params)) return json_incref((json_t *)params);
    json_t *p = json_copy((json_t *)params);
    json_t *pj = json_object_get(p, "payloadJSON");
    if (json_is_null(pj)) {
        json_object_del(p, "payloadJSON");
    } else if (pj && !json_is_string(pj)) {
        if (!json_object_get(p, "payload")) json_object_set(p, "payload", pj);
        json_object_del(p, "payloadJSON");
    }
    if (json_is_null(json_object_get(p, "error"))) json_object_del(p, "error");
    return p;
}

static void handle_result(cg_req *req)
{
    char err[256];
    json_t *p = normalize_result(req->params);
    if (check_result(p, err, sizeof err) != 0) {
        char message[320];
        snprintf(message, sizeof message, "invalid node.invoke.result params: %s", err);
        json_decref(p);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, message, NULL);
        return;
    }
    const char *id = json_string_value(json_object_get(p, "id")),
               *node_id = json_string_value(json_object_get(p, "nodeId")),
               *own = cg_conn_device_id(req->conn);
    if (own && strcmp(own, node_id) != 0) {
        json_decref(p);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, "nodeId mismatch", NULL);
        return;
    }
    relay *r = relay_of(req->gw);
    cg_node_call *call = cg_strmap_get(r->calls, id);
    if (!call || strcmp(call->node_id, node_id) != 0 ||
        strcmp(call->conn_id, cg_conn_id(req->conn)) != 0) {
        json_decref(p);
        cg_req_ok(req, json_pack("{s:b, s:b}", "ok", 1, "ignored", 1));
        return;
    }
    if (json_is_true(json_object_get(p, "ok"))) {
        const char *text = json_string_value(json_object_get(p, "payloadJSON"));
        json_t *payload = text ? json_loads(text, JSON_DECODE_ANY, NULL)
                               : json_incref(json_object_get(p, "payload"));
        json_t *result =
            json_pack("{s:b, s:s, s:s, s:o, s:o}", "ok", 1, "nodeId", node_id, "command",
                      call->command, "payload", payload ? payload : json_null(), "payloadJSON",
                      text ? json_string(text) : json_null());
        call_end(call, result, NULL);
        json_decref(result);
    } else {
        const json_t *e = json_object_get(p, "error");
        const char *code = json_string_value(json_object_get(e, "code")),
                   *message = json_string_value(json_object_get(e, "message"));
        char text[1024];
        if (!message) message = "node invoke failed";
        if (code)
            snprintf(text, sizeof text, "%s: %s", code, message);
        else
            snprintf(text, sizeof text, "%s", message);
        json_t *error = cg_error_new(
            CG_ERR_UNAVAILABLE, text,
            json_pack("{s:O, s:b}", "nodeError", e ? e : json_null(), "nodeCommandDispatched", 1));
        call_end(call, NULL, error);
        json_decref(error);
    }
    json_decref(p);
    cg_req_ok(req, json_pack("{s:b}", "ok", 1));
}

/* ---- invocations (node.invoke) ---- */

static void invocation_free(invocation *inv)
{
    relay *r = inv->r;
    cg_strmap_remove(r->invocations, inv->key);
    if (inv->prev)
        inv->prev->next = inv->next;
    else
        r->oldest = inv->next;
    if (inv->next)
        inv->next->prev = inv->prev;
    else
        r->newest = inv->prev;
    r->n_invocations--;
    if (inv->finished) r->invocation_bytes -= inv->result_len + 256;
    invocation_destroy(inv);
}

/* Drops finished invocations past their time, then the oldest finished ones while the
 * caps are passed. */
static void invocations_trim(relay *r, int64_t now_ms)
{
    for (invocation *inv = r->oldest, *next; inv; inv = next) {
        next = inv->next;
        if (!inv->finished) continue;
        if (now_ms - inv->finished_at_ms < IDEMPOTENCY_TTL_MS &&
            r->n_invocations < IDEMPOTENCY_MAX && r->invocation_bytes <= IDEMPOTENCY_MAX_BYTES)
            break;
        invocation_free(inv);
    }
}

static void answer(cg_req *req, const json_t *result, const json_t *error)
{
    if (result)
        cg_req_ok(req, json_incref((json_t *)result));
    else
        cg_req_error_shape(req, json_incref((json_t *)error));
}

/* A finished invocation's answer, again. */
static void answer_again(cg_req *req, const invocation *inv)
{
    if (inv->result)
        cg_req_ok_raw(req, inv->result, inv->result_len);
    else
        cg_req_error_shape(req, json_incref(inv->error));
}

static void waiter_left(cg_req *req, cg_req_end why, void *data);

/* The invocation ended: every waiter gets the answer. One that reached the node stays
 * for repeats of its key; one refused before (node gone, policy) is forgotten, so a
 * retry with the same key is judged again. */
static void invocation_finish(invocation *inv, const json_t *result, const json_t *error,
                              bool dispatched)
{
    cg_req *waiters[WAITERS_MAX];
    size_t n = inv->n_waiters;
    memcpy(waiters, inv->waiters, n * sizeof *waiters);
    inv->n_waiters = 0;
    inv->call = NULL;
    inv->gate = NULL;
    if (dispatched) {
        /* Kept serialized: the text is what a repeat sends, and all it costs. */
        inv->finished = true;
        inv->finished_at_ms = cg_now_ms();
        inv->result = result ? json_dumps(result, JSON_COMPACT) : NULL;
        inv->result_len = inv->result ? strlen(inv->result) : 0;
        inv->error = result ? NULL : json_incref((json_t *)error);
        inv->r->invocation_bytes += inv->result_len + 256;
        json_decref(inv->params);
        inv->params = NULL;
    }
    for (size_t i = 0; i < n; i++)
        answer(waiters[i], result, error);
    if (!dispatched) invocation_free(inv);
}

static void on_call_done(const json_t *result, const json_t *error, void *data)
{
    invocation_finish(data, result, error, true);
}

static void invocation_dispatch(invocation *inv)
{
    json_t *error = NULL;
    inv->call =
        cg_node_call_start(inv->r->gw, inv->node_id, inv->command, json_incref(inv->params),
                           inv->timeout_ms, inv->idempotency_key, on_call_done, inv, &error);
    if (!inv->call) {
        invocation_finish(inv, NULL, error, false);
        json_decref(error);
    }
}

/* The node left: its system.runs still waiting on an approver fail as its calls do. */
static void invocations_node_gone(relay *r, const char *node_id)
{
    invocation *held[64];
    size_t n;
    do {
        n = 0;
        for (invocation *inv = r->oldest; inv && n < 64; inv = inv->next)
            if (inv->gate && !strcmp(inv->node_id, node_id)) held[n++] = inv;
        for (size_t i = 0; i < n; i++) {
            cg_exec_gate_cancel(held[i]->gate);
            held[i]->gate = NULL;
            json_t *error = disconnected(held[i]->command);
            invocation_finish(held[i], NULL, error, false);
            json_decref(error);
        }
    } while (n == 64);
}

static json_t *surface_refused(cg_gateway *gw, const char *node_id, const char *command);

static void on_gate(bool allowed, const json_t *error, void *data)
{
    invocation *inv = data;
    inv->gate = NULL;
    if (!allowed) {
        invocation_finish(inv, NULL, error, false);
        return;
    }
    /* The approver may have taken minutes: the node and the rules are checked again. */
    json_t *refused = surface_refused(inv->r->gw, inv->node_id, inv->command);
    if (refused) {
        invocation_finish(inv, NULL, refused, false);
        json_decref(refused);
        return;
    }
    for (size_t i = 0; i < inv->n_waiters; i++)
        cg_req_set_timeout(inv->waiters[i], inv->timeout_ms + DEADLINE_SLACK_MS);
    invocation_dispatch(inv);
}

/* A waiting request ended without an answer (its client left, a deadline, shutdown). A
 * system.run waiting on an approver with nobody left to tell is withdrawn. */
static void waiter_left(cg_req *req, cg_req_end why, void *data)
{
    invocation *inv = data;
    for (size_t i = 0; i < inv->n_waiters; i++) {
        if (inv->waiters[i] != req) continue;
        inv->waiters[i] = inv->waiters[--inv->n_waiters];
        break;
    }
    if (inv->n_waiters == 0 && inv->gate) {
        cg_exec_gate_cancel(inv->gate);
        invocation_free(inv);
    }
}

/* Adds req to inv's waiters (deferred); false when it was answered instead. */
static bool invocation_wait(invocation *inv, cg_req *req, uint64_t timeout_ms)
{
    if (inv->n_waiters == WAITERS_MAX) {
        cg_req_error(req, CG_ERR_UNAVAILABLE, "too many callers waiting on this invocation",
                     json_pack("{s:s}", "code", "INVOKE_LIMIT"));
        return false;
    }
    cg_req *pending = cg_req_defer(req);
    if (!pending) return false;
    cg_req_set_timeout(pending, timeout_ms);
    cg_req_on_cancel(pending, waiter_left, inv);
    inv->waiters[inv->n_waiters++] = pending;
    return true;
}

/* NodeInvokeParams, with the real gateway's messages (its schema validator's). */
static int check_invoke(const json_t *params, char *err, size_t errlen)
{
    static const char *const required[] = {"nodeId", "command", "idempotencyKey", NULL};
    static const char *const strings[] = {"nodeId",
                                          "command",
                                          "idempotencyKey",
                                          "sessionKey",
                                          "turnSourceChannel",
                                          "turnSourceTo",
                                          "turnSourceAccountId",
                                          NULL};
    static const char *const others[] = {"params", "timeoutMs", "turnSourceThreadId", NULL};
    if (!json_is_object(params)) {
        snprintf(err, errlen, "at root: must be object");
        return -1;
    }
    for (const char *const *k = required; *k; k++)
        if (!json_object_get(params, *k)) {
            snprintf(err, errlen, "must have required property '%s'", *k);
            return -1;
        }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        bool string = false, other = false;
        for (const char *const *k = strings; *k && !string; k++)
            string = !strcmp(*k, key);
        for (const char *const *k = others; *k && !other; k++)
            other = !strcmp(*k, key);
        if (!string && !other) {
            snprintf(err, errlen, "at root: unexpected property '%.64s'", key);
            return -1;
        }
        if (string && !json_is_string(v)) {
            snprintf(err, errlen, "at /%s: must be string", key);
            return -1;
        }
        bool may_be_empty = !strncmp(key, "turnSource", 10);
        if (string && !may_be_empty && json_string_length(v) == 0) {
            snprintf(err, errlen, "at /%s: must not have fewer than 1 characters", key);
            return -1;
        }
    }
    const json_t *timeout = json_object_get(params, "timeoutMs"),
                 *thread = json_object_get(params, "turnSourceThreadId");
    if (timeout && !json_is_integer(timeout)) {
        snprintf(err, errlen, "at /timeoutMs: must be integer");
        return -1;
    }
    /* 0 means "no deadline" to the real gateway; every wait here has one. */
    if (timeout && json_integer_value(timeout) < 1) {
        snprintf(err, errlen, "at /timeoutMs: must be >= 1");
        return -1;
    }
    if (thread && !json_is_string(thread) && !json_is_number(thread)) {
        snprintf(err, errlen, "at /turnSourceThreadId: must be string or number");
        return -1;
    }
    return 0;
}

/* Whether s is nothing but ASCII white space. */
static bool blank(const char *s)
{
    return s[strspn(s, " \t\r\n\f\v")] == '\0';
}

static json_t *refusal(const char *message, json_t *details)
{
    return cg_error_new(CG_ERR_INVALID_REQUEST, message, details);
}

/* The command may not go through node.invoke at all, or not for this caller. NULL when
 * it may. */
static json_t *command_refused(cg_req *req, const char *command)
{
    if (cg_node_command_private(command))
        return refusal("node.invoke does not allow private node controls",
                       json_pack("{s:s}", "command", command));
    if (!strcmp(command, "system.execApprovals.get") ||
        !strcmp(command, "system.execApprovals.set"))
        return refusal("node.invoke does not allow system.execApprovals.*; use "
                       "exec.approvals.node.*",
                       json_pack("{s:s}", "command", command));
    if (cg_node_command_admin_only(command) && !(cg_conn_scopes(req->conn) & CG_SCOPEBIT_ADMIN))
        return cg_error_missing_scope("operator.admin");
    return NULL;
}

/* The node's surface and the allowlist. NULL when the command may be relayed. */
static json_t *surface_refused(cg_gateway *gw, const char *node_id, const char *command)
{
    cg_node_live live;
    if (!cg_nodes_known(cg_gateway_nodes(gw), node_id)) {
        /* As the real gateway words a node it has no pairing record of. */
        json_t *e =
            cg_error_new(CG_ERR_UNAVAILABLE, "node pairing changed while invocation was active",
                         json_pack("{s:s}", "code", "PAIRING_CHANGED"));
        json_object_set_new(e, "retryable", json_true());
        return e;
    }
    if (!cg_nodes_live(cg_gateway_nodes(gw), node_id, &live)) return not_connected();
    char hint[512];
    const char *reason = cg_node_command_check(gw, node_id, command, hint, sizeof hint);
    if (!reason) return NULL;
    return refusal(hint, json_pack("{s:s, s:s}", "reason", reason, "command", command));
}

static json_t *run_guard(const char *code, const char *message, const char *run_id)
{
    json_t *details = json_pack("{s:s}", "code", code);
    if (run_id) json_object_set_new(details, "runId", json_string(run_id));
    return refusal(message, details);
}

/* An operator's system.run may not carry approval overrides (`approved`,
 * `approvalDecision`, `approvalSource`): the real gateway honours them only for a
 * matching exec.approval record, which clawgate does not replay; they are refused in
 * its words. NULL when there are none. */
static json_t *approval_override_refused(const json_t *params)
{
    const json_t *source = json_object_get(params, "approvalSource");
    const char *source_text = json_string_value(source);
    bool overrides =
        json_object_get(params, "approved") || json_object_get(params, "approvalDecision");
    if (source && !json_is_null(source) &&
        (!source_text || strcmp(source_text, "ask-fallback") != 0))
        return run_guard("INVALID_APPROVAL_SOURCE", "approval source invalid", NULL);
    if (source_text && overrides)
        return run_guard("APPROVAL_SOURCE_MISMATCH",
                         "approval source cannot be combined with explicit approval", NULL);
    const char *decision = json_string_value(json_object_get(params, "approvalDecision"));
    bool wants = json_is_true(json_object_get(params, "approved")) || source_text ||
                 (decision && (!strcmp(decision, "allow-once") ||
                               !strcmp(decision, "allow-always") || !strcmp(decision, "deny")));
    if (!wants) return NULL;
    const char *run_id = json_string_value(json_object_get(params, "runId"));
    if (!run_id || blank(run_id))
        return run_guard("MISSING_RUN_ID", "approval override requires params.runId", NULL);
    return run_guard("UNKNOWN_APPROVAL_ID", "unknown or expired approval id", run_id);
}

/* The params as they go to the node: for system.run, the keys the real gateway forwards
 * and a runId (added when missing). */
static json_t *forwarded_params(const char *command, const json_t *params)
{
    static const char *const run_keys[] = {
        "command",    "rawCommand", "systemRunPlan",        "cwd",
        "env",        "timeoutMs",  "needsScreenRecording", "agentId",
        "sessionKey", "runId",      "suppressNotifyOnExit", NULL};
    if (!params) return NULL;
    if (strcmp(command, "system.run") != 0 || !json_is_object(params))
        return json_deep_copy(params);
    json_t *p = json_object();
    for (const char *const *k = run_keys; *k; k++) {
        json_t *v = json_object_get(params, *k);
        if (v) json_object_set_new(p, *k, json_deep_copy(v));
    }
    const char *run_id = json_string_value(json_object_get(p, "runId"));
    if (!run_id || blank(run_id)) {
        char id[37];
        cg_uuid4(id);
        json_object_set_new(p, "runId", json_string(id));
    }
    return p;
}

static void handle_invoke(cg_req *req)
{
    cg_gateway *gw = req->gw;
    const cg_conn *caller = req->conn;
    relay *r = relay_of(gw);
    const char *node_id = json_string_value(json_object_get(req->params, "nodeId")),
               *command = json_string_value(json_object_get(req->params, "command")),
               *key = json_string_value(json_object_get(req->params, "idempotencyKey"));
    const json_t *timeout = json_object_get(req->params, "timeoutMs");
    uint64_t timeout_ms =
        timeout ? (uint64_t)json_integer_value(timeout) : CG_NODE_CALL_DEFAULT_TIMEOUT_MS;
    if (timeout_ms > CG_NODE_CALL_MAX_TIMEOUT_MS) timeout_ms = CG_NODE_CALL_MAX_TIMEOUT_MS;

    if (blank(node_id) || blank(command)) {
        cg_req_error(req, CG_ERR_INVALID_REQUEST, "nodeId and command required", NULL);
        return;
    }
    json_t *refused = command_refused(req, command);
    if (!refused && !strcmp(command, "system.run") &&
        json_is_object(json_object_get(req->params, "params")))
        refused = approval_override_refused(json_object_get(req->params, "params"));
    if (refused) {
        cg_req_error_shape(req, refused);
        return;
    }
    invocations_trim(r, cg_now_ms());
    size_t key_len = strlen(node_id) + strlen(command) + strlen(key) + 3;
    char *inv_key = cg_xmalloc(key_len);
    snprintf(inv_key, key_len, "%s\n%s\n%s", node_id, command, key);
    invocation *inv = cg_strmap_get(r->invocations, inv_key);
    const json_t *asked = json_object_get(req->params, "params");
    if (inv &&
        !json_equal(inv->asked ? inv->asked : json_null(), asked ? (json_t *)asked : json_null())) {
        free(inv_key);
        cg_req_error(req, CG_ERR_INVALID_REQUEST,
                     "idempotencyKey already used for this node and command with other params",
                     json_pack("{s:s}", "code", "IDEMPOTENCY_CONFLICT"));
        return;
    }
    if (inv) {
        free(inv_key);
        if (inv->finished)
            answer_again(req, inv);
        else
            invocation_wait(
                inv, req, (inv->gate ? GATE_WAIT_MAX_MS : 0) + inv->timeout_ms + DEADLINE_SLACK_MS);
        return;
    }
    refused = surface_refused(gw, node_id, command);
    if (!refused && r->n_invocations >= IDEMPOTENCY_MAX)
        refused = cg_error_new(CG_ERR_UNAVAILABLE, "too many node invocations in flight",
                               json_pack("{s:s}", "code", "INVOKE_LIMIT"));
    if (refused) {
        free(inv_key);
        cg_req_error_shape(req, refused);
        return;
    }

    inv = cg_xcalloc(1, sizeof *inv);
    inv->r = r;
    inv->key = inv_key;
    inv->node_id = cg_strdup(node_id);
    inv->command = cg_strdup(command);
    inv->idempotency_key = cg_strdup(key);
    inv->params = forwarded_params(command, asked);
    inv->asked = asked ? json_incref((json_t *)asked) : NULL;
    inv->timeout_ms = timeout_ms;
    cg_strmap_set(r->invocations, inv->key, inv);
    inv->prev = r->newest;
    if (r->newest)
        r->newest->next = inv;
    else
        r->oldest = inv;
    r->newest = inv;
    r->n_invocations++;
    bool run = !strcmp(command, "system.run");
    if (!invocation_wait(inv, req, (run ? GATE_WAIT_MAX_MS : 0) + timeout_ms + DEADLINE_SLACK_MS)) {
        invocation_free(inv);
        return;
    }
    if (!run) {
        invocation_dispatch(inv);
        return;
    }
    /* The waiter is registered first. An operator's direct call: the defaults apply,
     * whatever agentId the params name (that goes to the node, whose policy reads it). */
    cg_exec_gate *gate = NULL;
    json_t *gate_error = NULL;
    switch (cg_exec_gate_check(gw, caller, node_id, NULL, inv->params, on_gate, inv, &gate,
                               &gate_error)) {
    case CG_EXEC_GATE_ALLOW:
        on_gate(true, NULL, inv);
        break;
    case CG_EXEC_GATE_REFUSE:
        invocation_finish(inv, NULL, gate_error, false);
        json_decref(gate_error);
        break;
    case CG_EXEC_GATE_ASK:
        inv->gate = gate;
        break;
    }
}

const cg_method cg_methods_node_invoke[] = {
    {.name = "node.invoke",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_invoke,
     .handler = handle_invoke,
     .summary = "Run a command on a connected node and answer its result",
     .timeout_ms = CG_NODE_CALL_DEFAULT_TIMEOUT_MS + DEADLINE_SLACK_MS},
    {.name = "node.invoke.result",
     .roles = CG_ROLE_NODE,
     .scope = CG_SCOPE_NONE,
     .handler = handle_result,
     .summary = "A node's answer to node.invoke.request"},
    {0},
};
