/* Device pairing and device tokens (operator.pairing), over the device registry
 * (auth/devices.h), in the real gateway's shapes (tests/fixtures/real-gateway/pairing-*):
 *   device.pair.list      pending requests and paired devices (tokens summarized)
 *   device.pair.approve   approve a pending request: the approver must hold every
 *                         operator scope the device is granted, and operator.admin for
 *                         any other role; a new token is issued for each role asked
 *   device.pair.reject    drop a pending request
 *   device.pair.remove    forget a device; its connections close 4001 "device removed"
 *   device.pair.rename    the operator's label for a device (event device.pair.changed)
 *   device.token.rotate   a new token for a role (returned only to the device itself);
 *                         the device's connections in that role close 4001
 *   device.token.revoke   revoke a role's token; those connections close 4001 too
 *
 * A caller that authenticated with a device token (not the shared secret) manages only
 * its own device unless it holds operator.admin, as the real gateway decides.
 *
 * Every change is answered after the store commits it: the request is deferred and
 * the registry's done callback answers it, then announces the change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/devices.h"
#include "common/log.h"
#include "common/util.h"
#include "gateway/gateway.h"
#include "gateway/methods.h"
#include "methods/nodes.h"

/* What to do once the registry's write is committed. */
typedef struct commit_reply {
    cg_req_hold hold;
    cg_gateway *gw;
    json_t *payload;   /* the answer */
    const char *event; /* broadcast to operator.pairing holders, or NULL */
    json_t *event_payload;
    char close_device[65]; /* close this device's connections afterwards, or "" */
    int close_role;        /* only those of this role (cg_role bits), or 0 for all */
    const char *close_reason;
} commit_reply;

typedef struct close_match {
    const char *device_id;
    unsigned role;
    const char *reason;
} close_match;

static void close_if_device(cg_conn *c, void *data)
{
    const close_match *m = data;
    const char *id = cg_conn_device_id(c);
    if (id && strcmp(id, m->device_id) == 0 && (!m->role || cg_conn_role(c) == m->role))
        cg_conn_disconnect(c, 4001, m->reason);
}

static void on_committed(int status, const char *error, void *data)
{
    commit_reply *r = data;
    if (status == 0 && r->event)
        cg_gateway_broadcast(r->gw, r->event, r->event_payload, CG_ROLE_OPERATOR, CG_SCOPE_PAIRING,
                             CG_EVENT_DROPPABLE);
    else
        json_decref(r->event_payload);
    cg_req_hold_answer(&r->hold, status, error, "device pairing state", r->payload);
    if (status == 0 && r->close_device[0]) {
        close_match m = {r->close_device, (unsigned)r->close_role, r->close_reason};
        cg_gateway_foreach_conn(r->gw, close_if_device, &m);
    }
    free(r);
}

/* Defers req until the commit; NULL when the registry refused to hold it (answered). */
static commit_reply *reply_later(cg_req *req)
{
    commit_reply *r = cg_xcalloc(1, sizeof *r);
    r->gw = req->gw;
    if (!cg_req_hold_start(&r->hold, req)) {
        free(r);
        return NULL;
    }
    return r;
}

/* The refusal of a deferred request whose change was not made. */
static void reply_refused(commit_reply *r, const char *message)
{
    cg_req_error(r->hold.req, "INVALID_REQUEST", message, NULL);
    free(r);
}

static cg_devices *devices_of(cg_req *req)
{
    return cg_gateway_devices(req->gw);
}

static bool caller_is_admin(cg_req *req)
{
    return (cg_conn_scopes(req->conn) & CG_SCOPEBIT_ADMIN) != 0;
}

/* The caller's own device when it authenticated with that device's token, else NULL. */
static const char *caller_device(cg_req *req)
{
    return cg_conn_via_device_token(req->conn) ? cg_conn_device_id(req->conn) : NULL;
}

/* A device-token caller without operator.admin manages only its own device. */
static bool denies_cross_device(cg_req *req, const char *target)
{
    const char *own = caller_device(req);
    return own && strcmp(own, target) != 0 && !caller_is_admin(req);
}

static const char *param(cg_req *req, const char *key)
{
    return json_string_value(json_object_get(req->params, key));
}

/* ---- device.pair.list ---- */

typedef struct connected_query {
    cg_gateway *gw;
    const char *device_id;
    bool found;
} connected_query;

static void find_device_conn(cg_conn *c, void *data)
{
    connected_query *q = data;
    const char *id = cg_conn_device_id(c);
    if (id && strcmp(id, q->device_id) == 0) q->found = true;
}

static bool device_connected(const char *device_id, void *data)
{
    connected_query q = {.gw = data, .device_id = device_id};
    cg_gateway_foreach_conn(q.gw, find_device_conn, &q);
    return q.found;
}

/* Keeps the entries of `key` whose deviceId is `own`. */
static void keep_own(json_t *list, const char *key, const char *own)
{
    json_t *entries = json_object_get(list, key);
    for (size_t i = json_array_size(entries); i-- > 0;) {
        const char *id = json_string_value(json_object_get(json_array_get(entries, i), "deviceId"));
        if (!id || strcmp(id, own) != 0) json_array_remove(entries, i);
    }
}

static void handle_list(cg_req *req)
{
    json_t *list = cg_devices_list_json(devices_of(req), cg_now_ms(), device_connected, req->gw);
    const char *own = caller_device(req);
    if (own && !caller_is_admin(req)) {
        keep_own(list, "pending", own);
        keep_own(list, "paired", own);
    }
    cg_req_ok(req, list);
}

/* ---- approve, reject ---- */

static int check_request_id(const json_t *params, char *err, size_t errlen)
{
    return cg_params_one_string(params, "requestId", err, errlen);
}

static bool requests_other_role(const cg_device_request *r)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(r->entry, "roles"), i, v)
    {
        if (strcmp(json_string_value(v), "operator") != 0) return true;
    }
    return false;
}

static void handle_approve(cg_req *req)
{
    cg_devices *devices = devices_of(req);
    const char *request_id = param(req, "requestId");
    int64_t now = cg_now_ms();
    if (!caller_is_admin(req)) {
        const cg_device_request *r = cg_devices_request(devices, request_id, now);
        const char *own = caller_device(req);
        if (!r || (own && strcmp(r->device_id, own) != 0) || requests_other_role(r)) {
            cg_req_error(req, "INVALID_REQUEST", "device pairing approval denied", NULL);
            return;
        }
    }
    commit_reply *reply = reply_later(req);
    if (!reply) return;
    json_t *caller_scopes = cg_scope_names(cg_conn_scopes(reply->hold.req->conn));
    cg_device_approval out;
    char err[160];
    const char *refused =
        cg_devices_approve(devices, param(reply->hold.req, "requestId"), caller_scopes, now, &out,
                           err, sizeof err, on_committed, reply);
    json_decref(caller_scopes);
    if (refused) {
        reply_refused(reply, refused);
        return;
    }
    reply->payload =
        json_pack("{s:s, s:o}", "requestId", out.request_id, "device", cg_device_json(out.device));
    reply->event = "device.pair.resolved";
    reply->event_payload =
        json_pack("{s:s, s:s, s:s, s:I}", "requestId", out.request_id, "deviceId", out.device->id,
                  "decision", "approved", "ts", (json_int_t)now);
    cg_log(CG_LOG_INFO, "devices", "device pairing approved",
           json_pack("{s:s, s:O}", "device", out.device->id, "roles", out.device->roles));
}

static void handle_reject(cg_req *req)
{
    cg_devices *devices = devices_of(req);
    const char *request_id = param(req, "requestId");
    int64_t now = cg_now_ms();
    const char *own = caller_device(req);
    if (own && !caller_is_admin(req)) {
        const cg_device_request *r = cg_devices_request(devices, request_id, now);
        if (!r || strcmp(r->device_id, own) != 0) {
            cg_req_error(req, "INVALID_REQUEST", "device pairing rejection denied", NULL);
            return;
        }
    }
    commit_reply *reply = reply_later(req);
    if (!reply) return;
    char device_id[65];
    request_id = param(reply->hold.req, "requestId");
    const char *refused =
        cg_devices_reject(devices, request_id, now, device_id, on_committed, reply);
    if (refused) {
        reply_refused(reply, refused);
        return;
    }
    reply->payload = json_pack("{s:s, s:s}", "requestId", request_id, "deviceId", device_id);
    reply->event = "device.pair.resolved";
    reply->event_payload = json_pack("{s:s, s:s, s:s, s:I}", "requestId", request_id, "deviceId",
                                     device_id, "decision", "rejected", "ts", (json_int_t)now);
}

/* ---- remove, rename ---- */

static int check_device_id(const json_t *params, char *err, size_t errlen)
{
    return cg_params_one_string(params, "deviceId", err, errlen);
}

static bool has_other_role(const cg_device *dev)
{
    size_t i;
    json_t *v;
    json_array_foreach(dev->roles, i, v)
    {
        if (strcmp(json_string_value(v), "operator") != 0) return true;
    }
    return false;
}

/* The cross-device and role-management refusals of remove and rename. */
static bool manage_denied(cg_req *req, const char *device_id)
{
    if (denies_cross_device(req, device_id)) return true;
    const cg_device *dev = cg_devices_find(devices_of(req), device_id);
    return caller_device(req) && !caller_is_admin(req) && dev && has_other_role(dev);
}

static void handle_remove(cg_req *req)
{
    const char *device_id = param(req, "deviceId");
    if (manage_denied(req, device_id)) {
        cg_req_error(req, "INVALID_REQUEST", "device pairing removal denied", NULL);
        return;
    }
    commit_reply *reply = reply_later(req);
    if (!reply) return;
    device_id = param(reply->hold.req, "deviceId");
    const char *refused =
        cg_devices_remove(devices_of(reply->hold.req), device_id, on_committed, reply);
    if (refused) {
        reply_refused(reply, refused);
        return;
    }
    reply->payload = json_pack("{s:s}", "deviceId", device_id);
    /* The node it was goes with it (written behind this removal, in order). */
    cg_nodes *nodes = cg_gateway_nodes(reply->gw);
    json_t *node_result = NULL, *node_events = json_array();
    if (nodes)
        cg_nodes_remove(nodes, device_id, cg_now_ms(), &node_result, node_events, NULL, NULL);
    json_decref(node_result);
    json_decref(node_events);
    snprintf(reply->close_device, sizeof reply->close_device, "%s", device_id);
    reply->close_reason = "device removed";
    cg_log(CG_LOG_INFO, "devices", "device pairing removed",
           json_pack("{s:s}", "device", device_id));
}

static int check_rename(const json_t *params, char *err, size_t errlen)
{
    const char *id, *label = NULL, *display_name = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s?s, s?s}", "deviceId", &id, "label", &label,
                         "displayName", &display_name))
        return -1;
    /* DevicePairRenameParams says label; displayName is accepted for the seed's callers. */
    const char *name = label ? label : display_name;
    if (!*id || !name || (label && display_name)) {
        snprintf(err, errlen, "needs deviceId and one of label or displayName");
        return -1;
    }
    size_t len = strlen(name);
    if (len == 0 || len > 64) {
        snprintf(err, errlen, "label must be 1 to 64 characters");
        return -1;
    }
    return 0;
}

static void handle_rename(cg_req *req)
{
    const char *device_id = param(req, "deviceId");
    const char *label = param(req, "label") ? param(req, "label") : param(req, "displayName");
    char trimmed[65];
    size_t start = strspn(label, " \t\r\n"), len = strlen(label + start);
    while (len > 0 && strchr(" \t\r\n", label[start + len - 1]))
        len--;
    snprintf(trimmed, sizeof trimmed, "%.*s", (int)len, label + start);
    if (!trimmed[0]) {
        cg_req_error(req, "INVALID_REQUEST", "label required", NULL);
        return;
    }
    if (manage_denied(req, device_id)) {
        cg_req_error(req, "INVALID_REQUEST", "device pairing rename denied", NULL);
        return;
    }
    commit_reply *reply = reply_later(req);
    if (!reply) return;
    device_id = param(reply->hold.req, "deviceId");
    const char *refused =
        cg_devices_rename(devices_of(reply->hold.req), device_id, trimmed, on_committed, reply);
    if (refused) {
        reply_refused(reply, refused);
        return;
    }
    reply->payload = json_pack("{s:s, s:s}", "deviceId", device_id, "label", trimmed);
    reply->event = "device.pair.changed";
    reply->event_payload = json_object();
}

/* ---- tokens ---- */

static int check_rotate(const json_t *params, char *err, size_t errlen)
{
    const char *id, *role;
    json_t *scopes = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s:s, s?o}", "deviceId", &id, "role", &role,
                         "scopes", &scopes))
        return -1;
    if (!*id || !*role) {
        snprintf(err, errlen, "deviceId and role must not be empty");
        return -1;
    }
    size_t i;
    json_t *v;
    if (scopes && !json_is_array(scopes)) {
        snprintf(err, errlen, "scopes must be an array of strings");
        return -1;
    }
    json_array_foreach(scopes, i, v)
    {
        if (!json_is_string(v) || !json_string_length(v)) {
            snprintf(err, errlen, "scopes must be an array of non-empty strings");
            return -1;
        }
    }
    return 0;
}

static int check_revoke(const json_t *params, char *err, size_t errlen)
{
    const char *id, *role;
    if (cg_params_unpack(params, err, errlen, "{s:s, s:s}", "deviceId", &id, "role", &role))
        return -1;
    if (!*id || !*role) {
        snprintf(err, errlen, "deviceId and role must not be empty");
        return -1;
    }
    return 0;
}

/* The role a token call names, when the caller may manage it; -1 after refusing. */
static int token_role(cg_req *req, const char *denied)
{
    const char *device_id = param(req, "deviceId");
    int role = cg_device_role_parse(param(req, "role"));
    bool other_role = role != CG_DEVICE_ROLE_OPERATOR;
    if (denies_cross_device(req, device_id) || (other_role && !caller_is_admin(req)) || role < 0) {
        cg_log(CG_LOG_WARN, "devices", denied,
               json_pack("{s:s, s:s}", "device", device_id, "role", param(req, "role")));
        cg_req_error(req, "INVALID_REQUEST", denied, NULL);
        return -1;
    }
    return role;
}

static void handle_rotate(cg_req *req)
{
    int role = token_role(req, "device token rotation denied");
    if (role < 0) return;
    const char *own = caller_device(req);
    commit_reply *reply = reply_later(req);
    if (!reply) return;
    cg_devices *devices = devices_of(reply->hold.req);
    const char *device_id = param(reply->hold.req, "deviceId");
    bool in_band = own && strcmp(own, device_id) == 0;
    json_t *caller_scopes = cg_scope_names(cg_conn_scopes(reply->hold.req->conn));
    int64_t now = cg_now_ms();
    char err[160];
    const char *refused = cg_devices_rotate(devices, device_id, role,
                                            json_object_get(reply->hold.req->params, "scopes"),
                                            role == CG_DEVICE_ROLE_OPERATOR ? caller_scopes : NULL,
                                            now, err, sizeof err, on_committed, reply);
    json_decref(caller_scopes);
    if (refused) {
        reply_refused(reply, refused);
        return;
    }
    const cg_device_token *t = &cg_devices_find(devices, device_id)->tokens[role];
    reply->payload =
        json_pack("{s:s, s:s, s:O, s:I, s:s}", "deviceId", device_id, "role",
                  cg_device_role_name(role), "scopes", t->scopes, "rotatedAtMs", (json_int_t)now,
                  "tokenDelivery", in_band ? "in-band" : "withheld-cross-device");
    if (in_band) json_object_set_new(reply->payload, "token", json_string(t->token));
    /* As the real gateway: every connection of the device in that role ends; it comes
     * back with the new token (or the shared secret, which hands it the new one). */
    snprintf(reply->close_device, sizeof reply->close_device, "%s", device_id);
    reply->close_role = role == CG_DEVICE_ROLE_NODE ? CG_ROLE_NODE : CG_ROLE_OPERATOR;
    reply->close_reason = "device removed";
    cg_log(CG_LOG_INFO, "devices", "device token rotated",
           json_pack("{s:s, s:s}", "device", device_id, "role", cg_device_role_name(role)));
}

static void handle_revoke(cg_req *req)
{
    int role = token_role(req, "device token revocation denied");
    if (role < 0) return;
    commit_reply *reply = reply_later(req);
    if (!reply) return;
    const char *device_id = param(reply->hold.req, "deviceId");
    json_t *caller_scopes = cg_scope_names(cg_conn_scopes(reply->hold.req->conn));
    int64_t now = cg_now_ms();
    char err[160];
    const char *refused = cg_devices_revoke(devices_of(reply->hold.req), device_id, role,
                                            role == CG_DEVICE_ROLE_OPERATOR ? caller_scopes : NULL,
                                            now, err, sizeof err, on_committed, reply);
    json_decref(caller_scopes);
    if (refused) {
        reply_refused(reply, refused);
        return;
    }
    reply->payload = json_pack("{s:s, s:s, s:I}", "deviceId", device_id, "role",
                               cg_device_role_name(role), "revokedAtMs", (json_int_t)now);
    snprintf(reply->close_device, sizeof reply->close_device, "%s", device_id);
    reply->close_role = role == CG_DEVICE_ROLE_NODE ? CG_ROLE_NODE : CG_ROLE_OPERATOR;
    reply->close_reason = "device removed";
    cg_log(CG_LOG_INFO, "devices", "device token revoked",
           json_pack("{s:s, s:s}", "device", device_id, "role", cg_device_role_name(role)));
}

const cg_method cg_methods_devices[] = {
    {.name = "device.pair.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = cg_params_check_empty,
     .handler = handle_list,
     .summary = "Pending device pairing requests and paired devices"},
    {.name = "device.pair.approve",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_request_id,
     .handler = handle_approve,
     .summary = "Approve a pending device (the approver must hold every scope it grants)"},
    {.name = "device.pair.reject",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_request_id,
     .handler = handle_reject,
     .summary = "Reject a pending device pairing request"},
    {.name = "device.pair.remove",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_device_id,
     .handler = handle_remove,
     .summary = "Forget a paired device and close its connections"},
    {.name = "device.pair.rename",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_rename,
     .handler = handle_rename,
     .summary = "Set the label of a paired device"},
    {.name = "device.token.rotate",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_rotate,
     .handler = handle_rotate,
     .summary = "Issue a new token for a device role (returned only to that device)"},
    {.name = "device.token.revoke",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_revoke,
     .handler = handle_revoke,
     .summary = "Revoke a device role's token and close its connections"},
    {.name = NULL},
};
