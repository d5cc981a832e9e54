/* exec.approvals.node.get / exec.approvals.node.set: a node's own exec approvals policy,
 * read and written by the node itself (its system.execApprovals.get / .set commands)
 * through the call relay (cg_node_call_*). As the real gateway: a connected node must
 * have the command in its surface and the allowlist; the node's answer is the result (a
 * get's answer must be an ExecApprovalsNodeSnapshot-like object); its errors come back as
 * node.invoke's do. operator.admin, as the real gateway's method scopes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "methods/nodes.h"
#include "proto/frame.h"

#define NODE_APPROVALS_TIMEOUT_MS 30000

typedef struct node_approvals_call {
    cg_req *req;
    cg_node_call *call;
    bool get;
} node_approvals_call;

static void on_req_ended(cg_req *req, cg_req_end why, void *data)
{
    node_approvals_call *a = data;
    cg_node_call_cancel(a->call);
    free(a);
}

static void on_node_answer(const json_t *result, const json_t *error, void *data)
{
    node_approvals_call *a = data;
    cg_req *req = a->req;
    cg_req_on_cancel(req, NULL, NULL);
    if (error) {
        cg_req_error_shape(req, json_incref((json_t *)error));
    } else {
        const json_t *payload = json_object_get(result, "payload");
        const json_t *file = json_object_get(payload, "file");
        if (a->get && (!json_is_object(payload) ||
                       (file && (!json_is_object(file) ||
                                 json_number_value(json_object_get(file, "version")) != 1))))
            cg_req_error(req, CG_ERR_INVALID_REQUEST,
                         "node returned invalid exec approvals payload", NULL);
        else
            cg_req_ok(req, json_incref(payload ? (json_t *)payload : json_null()));
    }
    free(a);
}

/* The command must be one the node may be sent (its surface and the allowlist). */
static bool node_command_refused(cg_req *req, const char *node_id, const char *command)
{
    char hint[512], message[256];
    const char *reason = cg_node_command_check(req->gw, node_id, command, hint, sizeof hint);
    if (!reason) return false;
    snprintf(message, sizeof message, "node command not allowed: %s (%s)", command, reason);
    cg_req_error(req, CG_ERR_INVALID_REQUEST, message,
                 json_pack("{s:s, s:s}", "command", command, "reason", reason));
    return true;
}

static void relay(cg_req *req, bool get)
{
    const char *node_id = json_string_value(json_object_get(req->params, "nodeId"));
    const char *command = get ? "system.execApprovals.get" : "system.execApprovals.set";
    if (!node_id[strspn(node_id, " \t\r\n")]) {
        cg_req_error(req, CG_ERR_INVALID_REQUEST, "nodeId required", NULL);
        return;
    }
    if (node_command_refused(req, node_id, command)) return;
    json_t *params = json_object();
    if (!get) {
        static const char *const keys[] = {"file", "baseHash", NULL};
        for (const char *const *k = keys; *k; k++) {
            json_t *v = json_object_get(req->params, *k);
            if (v) json_object_set(params, *k, v);
        }
    }
    node_approvals_call *a = cg_xcalloc(1, sizeof *a);
    a->get = get;
    a->req = cg_req_defer(req);
    if (!a->req) {
        json_decref(params);
        free(a);
        return;
    }
    cg_req_set_timeout(a->req, NODE_APPROVALS_TIMEOUT_MS + 5000);
    json_t *error = NULL;
    a->call = cg_node_call_start(a->req->gw, node_id, command, params, NODE_APPROVALS_TIMEOUT_MS,
                                 NULL, on_node_answer, a, &error);
    if (!a->call) {
        /* The real gateway words a node it cannot reach as the relay's own error. */
        const char *code = json_string_value(json_object_get(
            json_object_get(json_object_get(error, "details"), "nodeError"), "code"));
        if (code && !strcmp(code, "NOT_CONNECTED")) {
            json_decref(error);
            error = cg_error_new(CG_ERR_UNAVAILABLE, "NOT_CONNECTED: node not connected",
                                 json_pack("{s:{s:s, s:s}, s:b}", "nodeError", "code",
                                           "NOT_CONNECTED", "message", "node not connected",
                                           "nodeCommandDispatched", 0));
        }
        cg_req_error_shape(a->req, error);
        free(a);
        return;
    }
    cg_req_on_cancel(a->req, on_req_ended, a);
}

static void handle_get(cg_req *req)
{
    relay(req, true);
}

static void handle_set(cg_req *req)
{
    relay(req, false);
}

static int check_get(const json_t *params, char *err, size_t errlen)
{
    return cg_params_one_string(params, "nodeId", err, errlen);
}

/* ExecApprovalsNodeSetParams: nodeId, file (an object with version 1; the node checks the
 * rest), baseHash. */
static int check_set(const json_t *params, char *err, size_t errlen)
{
    const char *node_id, *base_hash = NULL;
    json_t *file = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s:o, s?:s}", "nodeId", &node_id, "file", &file,
                         "baseHash", &base_hash))
        return -1;
    if (!*node_id) {
        snprintf(err, errlen, "at /nodeId: must NOT have fewer than 1 characters");
        return -1;
    }
    if (!json_is_object(file) || json_number_value(json_object_get(file, "version")) != 1) {
        snprintf(err, errlen, "at /file: must be an object with version 1");
        return -1;
    }
    return 0;
}

const cg_method cg_methods_exec_approvals_node[] = {
    {.name = "exec.approvals.node.get",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_get,
     .handler = handle_get,
     .summary = "A node's own exec approvals policy, read by the node"},
    {.name = "exec.approvals.node.set",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_set,
     .handler = handle_set,
     .summary = "Replace a node's own exec approvals policy (baseHash as the node requires)"},
    {0},
};
