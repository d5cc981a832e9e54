/* The node.* methods of node pairing (issue 7), over the registry in nodes/registry.c.
 *
 * Operators (operator.pairing): node.pair.list, node.pair.approve, node.pair.reject,
 * node.pair.remove, node.rename; operator.read: node.list. The seed's node.pair.request
 * and node.pair.verify (the real gateway dropped them) also take a node asking about
 * itself. Nodes, after connect: node.event, node.skills.update, node.pluginTools.update,
 * node.runnerInventory.update, answered as the real gateway answers its node host.
 *
 * Node connections: a conn hook attaches every role-node connection to the registry when
 * it authenticates (which requests approval of its surface as the real gateway does) and
 * detaches it when it closes. A node is its proven device id (cg_conn_device_id).
 *
 * Answers of changes come after the change is stored (the request is deferred until the
 * store's commit); events go out at once: node.pair.requested and node.pair.resolved to
 * operators holding operator.pairing, droppable as the real gateway's, and an approval's
 * node.pair.resolved also to the node itself (the real node host republishes its runner
 * inventory on it). Approving a surface with host-level commands needs the scopes the
 * request's requiredApproveScopes name (operator.admin for system.run and its kin). */
#include "methods/nodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/devices.h"
#include "common/log.h"
#include "common/util.h"
#include "gateway/methods.h"

static void free_registry(void *data)
{
    cg_nodes_free(data);
}

static const cg_conn_key registry_key = {.name = "nodes", .free_data = free_registry};

cg_nodes *cg_gateway_nodes(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &registry_key);
}

/* The node id of a node connection: the device it proved at connect (connect refuses a
 * node without one). */
static const char *node_id_of(const cg_conn *c)
{
    return cg_conn_device_id(c);
}

/* Whether the node's device was approved without a prompt (local auto-approval): its
 * first surface request is then marked silent, as the real gateway marks it. */
static bool approved_silently(cg_gateway *gw, const char *node_id)
{
    const cg_device *dev = cg_devices_find(cg_gateway_devices(gw), node_id);
    const char *via = dev ? json_string_value(json_object_get(dev->meta, "approvedVia")) : NULL;
    return via && strcmp(via, "silent") == 0;
}

/* Sends what a registry change produced (events consumed). */
static void send_events(cg_gateway *gw, json_t *events)
{
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "event"));
        json_t *payload = json_object_get(e, "payload");
        const char *decision = json_string_value(json_object_get(payload, "decision"));
        if (decision && strcmp(decision, "approved") == 0) {
            const char *node_id = json_string_value(json_object_get(payload, "nodeId"));
            const char *conn_id = cg_nodes_live_conn(cg_gateway_nodes(gw), node_id);
            cg_conn *node = conn_id ? cg_gateway_find_conn(gw, conn_id) : NULL;
            if (node) cg_conn_send_event(node, name, json_incref(payload), 0);
        }
        cg_gateway_broadcast(gw, name, json_incref(payload), CG_ROLE_OPERATOR, CG_SCOPE_PAIRING,
                             CG_EVENT_DROPPABLE);
    }
    json_decref(events);
}

/* ---- node connections ---- */

/* What a node declared at connect, in the registry's names. */
static json_t *connect_declaration(const cg_conn *c)
{
    const json_t *params = cg_conn_params(c), *client = json_object_get(params, "client");
    json_t *decl = json_object();
    static const char *const client_keys[][2] = {
        {"clientId", "id"},
        {"clientMode", "mode"},
        {"displayName", "displayName"},
        {"platform", "platform"},
        {"version", "version"},
        {"deviceFamily", "deviceFamily"},
        {"modelIdentifier", "modelIdentifier"},
    };
    for (size_t i = 0; i < sizeof client_keys / sizeof client_keys[0]; i++) {
        json_t *v = json_object_get(client, client_keys[i][1]);
        if (v) json_object_set(decl, client_keys[i][0], v);
    }
    static const char *const keys[] = {"caps", "commands", "permissions", "pathEnv"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(params, keys[i]);
        if (v) json_object_set(decl, keys[i], v);
    }
    return decl;
}

static void on_conn(cg_gateway *gw, cg_conn *c, cg_conn_event ev, void *data)
{
    cg_nodes *nodes = data;
    const char *node_id = node_id_of(c);
    if (cg_conn_role(c) != CG_ROLE_NODE || !node_id) return;
    if (ev == CG_CONN_CLOSED) {
        cg_nodes_detach(nodes, node_id, cg_conn_id(c), cg_now_ms());
        return;
    }
    json_t *decl = connect_declaration(c), *events = json_array();
    if (cg_nodes_attach(nodes, node_id, cg_conn_id(c), cg_conn_client_ip(c), decl,
                        approved_silently(gw, node_id), cg_now_ms(), events) != CG_NODES_OK) {
        cg_log(CG_LOG_WARN, "nodes", "node refused: too many nodes",
               json_pack("{s:s, s:i}", "nodeId", node_id, "max", CG_NODES_MAX));
        cg_conn_disconnect(c, 1008, "too many nodes");
    }
    json_decref(decl);
    send_events(gw, events);
}

int cg_methods_nodes_attach(cg_gateway *gw, char *err, size_t errlen)
{
    cg_nodes *nodes = cg_nodes_open(cg_gateway_store(gw), err, errlen);
    if (!nodes) return -1;
    cg_gateway_set_data(gw, &registry_key, nodes);
    cg_gateway_add_conn_hook(gw, on_conn, nodes);
    return 0;
}

/* ---- answering after the store committed ---- */

/* A change's answer, sent once the registry's write has committed. */
typedef struct saved_answer {
    cg_req_hold hold;
    json_t *result;
} saved_answer;

static void on_saved(int status, const char *error, void *data)
{
    saved_answer *a = data;
    cg_req_hold_answer(&a->hold, status, error, "node pairing state", a->result);
    free(a);
}

typedef cg_nodes_status (*change_fn)(cg_req *req, cg_nodes *nodes, json_t **result, json_t *events,
                                     cg_nodes_done_fn done, void *data);

/* Runs a change and answers its result once stored; an unknown id is `unknown`'s
 * INVALID_REQUEST. Whether the change was made. req is not to be used afterwards. */
static bool change(cg_req *req, change_fn fn, const char *unknown)
{
    cg_gateway *gw = req->gw;
    saved_answer *a = cg_xcalloc(1, sizeof *a);
    if (!cg_req_hold_start(&a->hold, req)) {
        free(a);
        return false;
    }
    cg_req *pending = a->hold.req;
    json_t *events = json_array();
    cg_nodes_status status = fn(pending, cg_gateway_nodes(gw), &a->result, events, on_saved, a);
    if (status != CG_NODES_OK) {
        free(a);
        if (status == CG_NODES_UNKNOWN)
            cg_req_error(pending, "INVALID_REQUEST", unknown, NULL);
        else
            cg_req_error_shape(pending,
                               json_pack("{s:s, s:s, s:b}", "code", "UNAVAILABLE", "message",
                                         "too many node pairing requests; approve or "
                                         "reject some",
                                         "retryable", 1));
    }
    send_events(gw, events);
    return status == CG_NODES_OK;
}

/* ---- params ---- */

static const char *string_param(const cg_req *req, const char *key)
{
    return json_string_value(json_object_get(req->params, key));
}

static int non_empty(const char *value, const char *field, char *err, size_t errlen)
{
    if (value && !*value) {
        snprintf(err, errlen, "at /%s: must NOT have fewer than 1 characters", field);
        return -1;
    }
    return 0;
}

/* Characters (code points) of a JSON string, as JSON Schema's lengths count them. */
static size_t chars(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = 0, len = json_string_length(v);
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) n++;
    return n;
}

static int length_within(const json_t *v, const char *path, size_t min, size_t max, char *err,
                         size_t errlen)
{
    if (!json_is_string(v)) {
        snprintf(err, errlen, "at %s: must be string", path);
        return -1;
    }
    size_t n = chars(v);
    if (n < min || n > max) {
        snprintf(err, errlen, "at %s: must NOT have %s than %zu characters", path,
                 n < min ? "fewer" : "more", n < min ? min : max);
        return -1;
    }
    return 0;
}

/* A string the registry keeps: 1 to CG_NODES_MAX_STRING bytes, no NUL. */
static int short_string(const json_t *v, const char *path, char *err, size_t errlen)
{
    if (length_within(v, path, 1, SIZE_MAX, err, errlen)) return -1;
    if (memchr(json_string_value(v), '\0', json_string_length(v))) {
        snprintf(err, errlen, "at %s: must NOT contain U+0000", path);
        return -1;
    }
    if (json_string_length(v) > CG_NODES_MAX_STRING) {
        snprintf(err, errlen, "at %s: must NOT be longer than %d bytes", path, CG_NODES_MAX_STRING);
        return -1;
    }
    return 0;
}

static int check_request_id(const json_t *params, char *err, size_t errlen)
{
    return cg_params_one_string(params, "requestId", err, errlen);
}

static int check_node_id(const json_t *params, char *err, size_t errlen)
{
    return cg_params_one_string(params, "nodeId", err, errlen);
}

static int check_rename(const json_t *params, char *err, size_t errlen)
{
    const char *id = NULL, *name = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s:s}", "nodeId", &id, "displayName", &name) ||
        non_empty(id, "nodeId", err, errlen))
        return -1;
    return short_string(json_object_get(params, "displayName"), "/displayName", err, errlen);
}

/* A list of at most CG_NODES_MAX_SURFACE_ITEMS short strings. */
static int check_string_list(const json_t *v, const char *field, char *err, size_t errlen)
{
    char path[64];
    if (!v) return 0;
    if (!json_is_array(v)) {
        snprintf(err, errlen, "at /%s: must be array", field);
        return -1;
    }
    if (json_array_size(v) > CG_NODES_MAX_SURFACE_ITEMS) {
        snprintf(err, errlen, "at /%s: must NOT have more than %d items", field,
                 CG_NODES_MAX_SURFACE_ITEMS);
        return -1;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        snprintf(path, sizeof path, "/%s/%zu", field, i);
        if (short_string(item, path, err, errlen)) return -1;
    }
    return 0;
}

/* The seed's node.pair.request params, bounded as the registry keeps them. */
static int check_pair_request(const json_t *params, char *err, size_t errlen)
{
    const char *id = NULL, *name = NULL, *platform = NULL, *version = NULL;
    json_t *caps = NULL, *commands = NULL, *permissions = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s?:s, s?:s, s?:s, s?:o, s?:o, s?:o}", "nodeId",
                         &id, "displayName", &name, "platform", &platform, "version", &version,
                         "caps", &caps, "commands", &commands, "permissions", &permissions))
        return -1;
    static const char *const strings[] = {"nodeId", "displayName", "platform", "version"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        char path[32];
        snprintf(path, sizeof path, "/%s", strings[i]);
        const json_t *v = json_object_get(params, strings[i]);
        if (v && short_string(v, path, err, errlen)) return -1;
    }
    if (check_string_list(caps, "caps", err, errlen) ||
        check_string_list(commands, "commands", err, errlen))
        return -1;
    if (!permissions) return 0;
    if (!json_is_object(permissions) ||
        json_object_size(permissions) > CG_NODES_MAX_SURFACE_ITEMS) {
        snprintf(err, errlen, "at /permissions: must be an object of at most %d booleans",
                 CG_NODES_MAX_SURFACE_ITEMS);
        return -1;
    }
    const char *key;
    const json_t *value;
    json_object_foreach(permissions, key, value)
    {
        if (!json_is_boolean(value) || strlen(key) > CG_NODES_MAX_STRING) {
            snprintf(err, errlen, "at /permissions/%.64s: must be boolean", key);
            return -1;
        }
    }
    return 0;
}

static int check_event(const json_t *params, char *err, size_t errlen)
{
    const char *event = NULL, *payload_json = NULL;
    json_t *payload = NULL;
    return cg_params_unpack(params, err, errlen, "{s:s, s?:o, s?:s}", "event", &event, "payload",
                            &payload, "payloadJSON", &payload_json) ||
                   non_empty(event, "event", err, errlen)
               ? -1
               : 0;
}

/* NodeSkillDescriptor's name: ^(?!.*--)[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$ */
static bool skill_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 64 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--")) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* NodePluginToolDescriptor's name: ^[A-Za-z][A-Za-z0-9_-]{0,63}$ */
static bool tool_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* The array under `field`, each item checked strictly by check_item. */
static int check_items(const json_t *params, const char *field, size_t max_items,
                       int (*check_item)(const json_t *item, const char *path, char *err,
                                         size_t errlen),
                       char *err, size_t errlen)
{
    json_t *items = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:o}", field, &items)) return -1;
    if (!json_is_array(items)) {
        snprintf(err, errlen, "at /%s: must be array", field);
        return -1;
    }
    if (max_items && json_array_size(items) > max_items) {
        snprintf(err, errlen, "at /%s: must NOT have more than %zu items", field, max_items);
        return -1;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        char path[64];
        snprintf(path, sizeof path, "/%s/%zu", field, i);
        if (check_item(item, path, err, errlen)) return -1;
    }
    return 0;
}

static int check_skill(const json_t *skill, const char *path, char *err, size_t errlen)
{
    json_t *name, *description, *content;
    char where[96];
    if (cg_params_unpack(skill, err, errlen, "{s:o, s:o, s:o}", "name", &name, "description",
                         &description, "content", &content)) {
        char inner[256];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, errlen, "at %s: %s", path, inner);
        return -1;
    }
    snprintf(where, sizeof where, "%s/name", path);
    if (length_within(name, where, 1, 64, err, errlen)) return -1;
    if (!skill_name(json_string_value(name))) {
        snprintf(err, errlen,
                 "at %s: must match pattern \"^(?!.*--)[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$\"",
                 where);
        return -1;
    }
    snprintf(where, sizeof where, "%s/description", path);
    if (length_within(description, where, 1, 1024, err, errlen)) return -1;
    snprintf(where, sizeof where, "%s/content", path);
    return length_within(content, where, 1, CG_NODES_MAX_SKILL_BYTES, err, errlen);
}

static int check_skills(const json_t *params, char *err, size_t errlen)
{
    return check_items(params, "skills", CG_NODES_MAX_SKILLS, check_skill, err, errlen);
}

static int check_tool(const json_t *tool, const char *path, char *err, size_t errlen)
{
    json_t *plugin_id, *name, *description, *parameters = NULL, *command = NULL, *mcp = NULL;
    char where[96];
    if (cg_params_unpack(tool, err, errlen, "{s:o, s:o, s:o, s?:o, s?:o, s?:o}", "pluginId",
                         &plugin_id, "name", &name, "description", &description, "parameters",
                         &parameters, "command", &command, "mcp", &mcp)) {
        char inner[256];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, errlen, "at %s: %s", path, inner);
        return -1;
    }
    snprintf(where, sizeof where, "%s/pluginId", path);
    if (length_within(plugin_id, where, 1, SIZE_MAX, err, errlen)) return -1;
    snprintf(where, sizeof where, "%s/name", path);
    if (length_within(name, where, 1, 64, err, errlen)) return -1;
    if (!tool_name(json_string_value(name))) {
        snprintf(err, errlen, "at %s: must match pattern \"^[A-Za-z][A-Za-z0-9_-]{0,63}$\"", where);
        return -1;
    }
    snprintf(where, sizeof where, "%s/description", path);
    if (length_within(description, where, 1, SIZE_MAX, err, errlen)) return -1;
    if (parameters && !json_is_object(parameters)) {
        snprintf(err, errlen, "at %s/parameters: must be object", path);
        return -1;
    }
    snprintf(where, sizeof where, "%s/command", path);
    if (command && length_within(command, where, 1, SIZE_MAX, err, errlen)) return -1;
    if (!mcp) return 0;
    json_t *server, *mcp_tool;
    if (cg_params_unpack(mcp, err, errlen, "{s:o, s:o}", "server", &server, "tool", &mcp_tool)) {
        char inner[256];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, errlen, "at %s/mcp: %s", path, inner);
        return -1;
    }
    snprintf(where, sizeof where, "%s/mcp/server", path);
    if (length_within(server, where, 1, SIZE_MAX, err, errlen)) return -1;
    snprintf(where, sizeof where, "%s/mcp/tool", path);
    return length_within(mcp_tool, where, 1, SIZE_MAX, err, errlen);
}

static int check_plugin_tools(const json_t *params, char *err, size_t errlen)
{
    return check_items(params, "tools", 0, check_tool, err, errlen);
}

/* ---- operators: pairing ---- */

/* The device of a caller that authenticated with its device token: such a caller
 * manages only its own node unless it holds operator.admin, as the real gateway
 * decides (a shared-secret caller manages all). NULL for the others and for admins. */
static const char *restricted_to(const cg_req *req)
{
    if (!cg_conn_via_device_token(req->conn) || (cg_conn_scopes(req->conn) & CG_SCOPEBIT_ADMIN))
        return NULL;
    return cg_conn_device_id(req->conn);
}

static bool denies_other_node(const cg_req *req, const char *node_id)
{
    const char *own = restricted_to(req);
    return own && (!node_id || strcmp(own, node_id) != 0);
}

static void handle_pair_list(cg_req *req)
{
    cg_req_ok(req, cg_nodes_pair_list(cg_gateway_nodes(req->gw), restricted_to(req)));
}

/* The cg_scope of an operator scope name requiredApproveScopes uses. */
static cg_scope scope_named(const char *name)
{
    for (cg_scope s = CG_SCOPE_READ; s <= CG_SCOPE_PAIRING; s++)
        if (strcmp(cg_scope_name(s), name) == 0) return s;
    return CG_SCOPE_ADMIN;
}

/* FORBIDDEN missing scope when the caller lacks one the request's approval needs. */
static bool lacks_approval_scope(cg_req *req)
{
    json_t *scopes =
        cg_nodes_approval_scopes(cg_gateway_nodes(req->gw), string_param(req, "requestId"));
    size_t i;
    json_t *scope;
    json_array_foreach(scopes, i, scope)
    {
        const char *name = json_string_value(scope);
        if (cg_scope_granted(cg_conn_role(req->conn), cg_conn_scopes(req->conn), scope_named(name)))
            continue;
        char message[96];
        snprintf(message, sizeof message, "missing scope: %s", name);
        json_t *required = strcmp(name, "operator.pairing") == 0
                               ? json_pack("[s]", name)
                               : json_pack("[s, s]", "operator.pairing", name);
        cg_req_error(req, "FORBIDDEN", message,
                     json_pack("{s:s, s:s, s:o}", "code", "MISSING_SCOPE", "missingScope", name,
                               "requiredScopes", required));
        json_decref(scopes);
        return true;
    }
    json_decref(scopes);
    return false;
}

static cg_nodes_status approve(cg_req *req, cg_nodes *nodes, json_t **result, json_t *events,
                               cg_nodes_done_fn done, void *data)
{
    return cg_nodes_approve(nodes, string_param(req, "requestId"), cg_now_ms(), result, events,
                            done, data);
}

static cg_nodes_status reject(cg_req *req, cg_nodes *nodes, json_t **result, json_t *events,
                              cg_nodes_done_fn done, void *data)
{
    return cg_nodes_reject(nodes, string_param(req, "requestId"), cg_now_ms(), result, events, done,
                           data);
}

static void handle_pair_resolve(cg_req *req, bool approving)
{
    const char *node_id =
        cg_nodes_request_node(cg_gateway_nodes(req->gw), string_param(req, "requestId"));
    if (denies_other_node(req, node_id)) {
        cg_req_error(req, "INVALID_REQUEST",
                     approving ? "node pairing approval denied" : "node pairing rejection denied",
                     NULL);
        return;
    }
    if (!node_id) {
        cg_req_error(req, "INVALID_REQUEST", "unknown requestId", NULL);
        return;
    }
    if (approving && lacks_approval_scope(req)) return;
    change(req, approving ? approve : reject, "unknown requestId");
}

static void handle_pair_approve(cg_req *req)
{
    handle_pair_resolve(req, true);
}

static void handle_pair_reject(cg_req *req)
{
    handle_pair_resolve(req, false);
}

static void disconnect_removed(cg_conn *c, void *data)
{
    const char *node_id = node_id_of(c);
    if (cg_conn_role(c) == CG_ROLE_NODE && node_id && strcmp(node_id, data) == 0)
        cg_conn_disconnect(c, 4001, "device removed");
}

static cg_nodes_status remove_node(cg_req *req, cg_nodes *nodes, json_t **result, json_t *events,
                                   cg_nodes_done_fn done, void *data)
{
    return cg_nodes_remove(nodes, string_param(req, "nodeId"), cg_now_ms(), result, events, done,
                           data);
}

/* node.pair.remove: the node's record and, as the real gateway revokes the device's
 * node role, a device that is only a node; its connections close 4001. */
static void handle_pair_remove(cg_req *req)
{
    cg_gateway *gw = req->gw;
    char *node_id = cg_strdup(string_param(req, "nodeId"));
    cg_devices *devices = cg_gateway_devices(gw);
    const cg_device *dev = cg_devices_find(devices, node_id);
    if (denies_other_node(req, node_id) ||
        (restricted_to(req) && dev && cg_json_array_has_string(dev->roles, "node"))) {
        cg_req_error(req, "INVALID_REQUEST", "node pairing removal denied", NULL);
    } else if (change(req, remove_node, "unknown nodeId")) {
        if (dev && json_array_size(dev->roles) == 1 && cg_json_array_has_string(dev->roles, "node"))
            cg_devices_remove(devices, node_id, NULL, NULL);
        cg_gateway_foreach_conn(gw, disconnect_removed, node_id);
    }
    free(node_id);
}

static cg_nodes_status rename_node(cg_req *req, cg_nodes *nodes, json_t **result, json_t *events,
                                   cg_nodes_done_fn done, void *data)
{
    return cg_nodes_rename(nodes, string_param(req, "nodeId"), string_param(req, "displayName"),
                           result, done, data);
}

static void handle_rename(cg_req *req)
{
    if (denies_other_node(req, string_param(req, "nodeId"))) {
        cg_req_error(req, "INVALID_REQUEST", "node rename denied", NULL);
        return;
    }
    const char *name = string_param(req, "displayName");
    size_t len = strlen(name);
    while (len && strchr(" \t\r\n\f\v", name[len - 1]))
        len--;
    while (len && strchr(" \t\r\n\f\v", *name))
        name++, len--;
    if (!len) {
        cg_req_error(req, "INVALID_REQUEST", "displayName required", NULL);
        return;
    }
    json_object_set_new(req->params, "displayName", json_stringn(name, len));
    change(req, rename_node, "unknown nodeId");
}

static int64_t device_approved(const char *node_id, void *data)
{
    const cg_device *dev = cg_devices_find(data, node_id);
    return dev && cg_json_array_has_string(dev->roles, "node") ? dev->approved_at_ms : 0;
}

static void handle_list(cg_req *req)
{
    /* Pending requests show to the operators who may approve them, as the real gateway's
     * canReadPendingNodePairing. */
    bool with_pending = cg_conn_scopes(req->conn) & (CG_SCOPEBIT_PAIRING | CG_SCOPEBIT_ADMIN);
    json_t *nodes =
        cg_nodes_list(cg_gateway_nodes(req->gw), with_pending, cg_conn_device_id(req->conn),
                      device_approved, cg_gateway_devices(req->gw));
    cg_req_ok(req, json_pack("{s:I, s:o}", "ts", (json_int_t)cg_now_ms(), "nodes", nodes));
}

/* node.describe: node.list's entry of one node, with ts, as the real gateway answers. */
static void handle_describe(cg_req *req)
{
    const char *node_id = string_param(req, "nodeId");
    bool with_pending = cg_conn_scopes(req->conn) & (CG_SCOPEBIT_PAIRING | CG_SCOPEBIT_ADMIN);
    json_t *nodes =
        cg_nodes_list(cg_gateway_nodes(req->gw), with_pending, cg_conn_device_id(req->conn),
                      device_approved, cg_gateway_devices(req->gw));
    size_t i;
    json_t *entry, *found = NULL;
    json_array_foreach(nodes, i, entry)
    {
        const char *id = json_string_value(json_object_get(entry, "nodeId"));
        if (id && !strcmp(id, node_id)) found = entry;
    }
    if (!found) {
        json_decref(nodes);
        cg_req_error(req, "INVALID_REQUEST", "unknown nodeId", NULL);
        return;
    }
    json_t *result = json_pack("{s:I}", "ts", (json_int_t)cg_now_ms());
    json_object_update(result, found);
    json_decref(nodes);
    cg_req_ok(req, result);
}

/* node.pair.request and node.pair.verify: a node may ask about itself only. */
static bool about_itself(cg_req *req, const char *what)
{
    if (cg_conn_role(req->conn) != CG_ROLE_NODE) return true;
    const char *own = node_id_of(req->conn);
    if (own && strcmp(own, string_param(req, "nodeId")) == 0) return true;
    char message[96];
    snprintf(message, sizeof message, "node pairing %s denied: a node may only ask about itself",
             what);
    cg_req_error(req, "INVALID_REQUEST", message,
                 json_pack("{s:s}", "reason", "device-ownership-mismatch"));
    return false;
}

static cg_nodes_status request(cg_req *req, cg_nodes *nodes, json_t **result, json_t *events,
                               cg_nodes_done_fn done, void *data)
{
    return cg_nodes_request(nodes, req->params, cg_now_ms(), result, events, done, data);
}

static void handle_pair_request(cg_req *req)
{
    if (about_itself(req, "request")) change(req, request, "unknown nodeId");
}

static void handle_pair_verify(cg_req *req)
{
    if (about_itself(req, "verify"))
        cg_req_ok(req, cg_nodes_verify(cg_gateway_nodes(req->gw), string_param(req, "nodeId")));
}

/* ---- nodes, after connect ---- */

#define HOST_STATS_MAX_BYTES 4096
#define EXEC_EVENT_MAX_BYTES 65536 /* an exec event carries the command's output */

static bool integer_in(const json_t *v, json_int_t min, json_int_t max)
{
    return json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= max;
}

/* NodeHostStatsPayload: {cpuCount 1..4096, loadAverage? [3 numbers 0..1e5],
 * memoryTotalBytes, memoryFreeBytes (<= total), diskTotalBytes?, diskAvailableBytes?
 * (both or neither, available <= total)}, nothing else. */
static bool host_stats_valid(const json_t *s)
{
    static const char *const known[] = {"cpuCount",
                                        "loadAverage",
                                        "memoryTotalBytes",
                                        "memoryFreeBytes",
                                        "diskTotalBytes",
                                        "diskAvailableBytes",
                                        NULL};
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)s, key, value)
    {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (!ok) return false;
    }
    const json_t *load = json_object_get(s, "loadAverage");
    if (load) {
        if (json_array_size(load) != 3) return false;
        size_t i;
        json_array_foreach(load, i, value)
        {
            if (!json_is_number(value) || json_number_value(value) < 0 ||
                json_number_value(value) > 1e5)
                return false;
        }
    }
    const json_int_t big = (json_int_t)1 << 53;
    const json_t *mem_total = json_object_get(s, "memoryTotalBytes"),
                 *mem_free = json_object_get(s, "memoryFreeBytes"),
                 *disk_total = json_object_get(s, "diskTotalBytes"),
                 *disk_free = json_object_get(s, "diskAvailableBytes");
    if (!integer_in(json_object_get(s, "cpuCount"), 1, 4096) || !integer_in(mem_total, 0, big) ||
        !integer_in(mem_free, 0, json_integer_value(mem_total)))
        return false;
    if (!disk_total && !disk_free) return true;
    return integer_in(disk_total, 0, big) &&
           integer_in(disk_free, 0, json_integer_value(disk_total));
}

static json_t *event_result(const char *event, bool handled, const char *reason)
{
    return json_pack("{s:b, s:s, s:b, s:s}", "ok", 1, "event", event, "handled", handled, "reason",
                     reason);
}

/* node.event. As the real gateway: events count from the node's current connection once
 * its surface is approved; before that they are refused as a pairing change (retryable;
 * the node host publishes its stats again later). Host stats are kept and passed on to
 * readers (node.hostStats); exec events as handle_exec_event says; the other events
 * arrive with the issues that use them and are answered unsupported_event, as the real
 * gateway answers an event it does not know. */
/* exec.started / exec.finished / exec.denied: believed only about a system.run this
 * gateway sent that node (its runId), as the real gateway's authorizeNodeSystemRunEvent.
 * The real gateway turns them into system events of the run's session for the agent;
 * until sessions exist (issue 9) they are logged. body consumed. */
static void handle_exec_event(cg_req *req, const char *event, const char *node_id, json_t *body)
{
    const char *run_id = json_string_value(json_object_get(body, "runId"));
    if (!json_is_object(body)) {
        cg_req_ok(req, event_result(event, false, "invalid_payload"));
    } else if (!cg_node_run_known(req->gw, node_id, run_id)) {
        cg_req_ok(req, event_result(event, false, "unmatched_exec_event"));
    } else {
        json_t *fields =
            json_pack("{s:s, s:s, s:s}", "nodeId", node_id, "event", event, "runId", run_id);
        static const char *const keys[] = {"command", "exitCode", "timedOut", "reason", NULL};
        for (const char *const *k = keys; *k; k++) {
            json_t *v = json_object_get(body, *k);
            if (v && !json_is_object(v) && !json_is_array(v)) json_object_set(fields, *k, v);
        }
        cg_log(CG_LOG_INFO, "nodes", "node exec event", fields);
        cg_req_ok(req, event_result(event, true, "recorded"));
    }
    json_decref(body);
}

static void handle_event(cg_req *req)
{
    cg_nodes *nodes = cg_gateway_nodes(req->gw);
    const char *event = string_param(req, "event"), *node_id = node_id_of(req->conn),
               *live = cg_nodes_live_conn(nodes, node_id);
    if (!live || strcmp(live, cg_conn_id(req->conn)) != 0 ||
        !cg_nodes_surface_approved(nodes, node_id)) {
        cg_req_error_shape(req,
                           json_pack("{s:s, s:s, s:b, s:{s:s}}", "code", "UNAVAILABLE", "message",
                                     "node pairing changed while invocation was active",
                                     "retryable", 1, "details", "code", "PAIRING_CHANGED"));
        return;
    }
    bool exec = !strcmp(event, "exec.started") || !strcmp(event, "exec.finished") ||
                !strcmp(event, "exec.denied");
    if (strcmp(event, "node.host.stats") != 0 && !exec) {
        cg_req_ok(req, event_result(event, false, "unsupported_event"));
        return;
    }
    const json_t *payload = json_object_get(req->params, "payload");
    const char *text = string_param(req, "payloadJSON");
    size_t max = exec ? EXEC_EVENT_MAX_BYTES : HOST_STATS_MAX_BYTES;
    json_t *body = text && strlen(text) <= max        ? json_loads(text, 0, NULL)
                   : !text && json_is_object(payload) ? json_deep_copy(payload)
                                                      : NULL;
    if (exec) {
        handle_exec_event(req, event, node_id, body);
        return;
    }
    json_t *stats = body;
    if (!json_is_object(stats) || !host_stats_valid(stats)) {
        json_decref(stats);
        cg_req_ok(req, event_result(event, false, "invalid_payload"));
        return;
    }
    json_t *kept = cg_nodes_report(nodes, node_id, live, CG_NODE_HOST_STATS, stats, cg_now_ms());
    cg_gateway_broadcast(req->gw, "node.hostStats",
                         json_pack("{s:s, s:o}", "nodeId", node_id, "hostStats", kept),
                         CG_ROLE_OPERATOR, CG_SCOPE_READ, CG_EVENT_DROPPABLE);
    cg_req_ok(req, event_result(event, true, "updated"));
}

/* node.skills.update / node.pluginTools.update: {nodeId, <field>: what is kept}. */
static void handle_update(cg_req *req, cg_node_report kind, const char *field)
{
    const char *node_id = node_id_of(req->conn);
    json_t *kept =
        cg_nodes_report(cg_gateway_nodes(req->gw), node_id, cg_conn_id(req->conn), kind,
                        json_deep_copy(json_object_get(req->params, field)), cg_now_ms());
    if (!kept) {
        cg_req_error(req, "INVALID_REQUEST", "unknown nodeId", NULL);
        return;
    }
    cg_req_ok(req, json_pack("{s:s, s:o}", "nodeId", node_id, field, kept));
}

static void handle_skills_update(cg_req *req)
{
    handle_update(req, CG_NODE_SKILLS, "skills");
}

static void handle_plugin_tools_update(cg_req *req)
{
    handle_update(req, CG_NODE_PLUGIN_TOOLS, "tools");
}

#define WORKER_FEATURE "node-worker-supervisor-v6"

static bool has_only(const json_t *object, const char *const *keys)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)object, key, value)
    {
        bool ok = false;
        for (const char *const *k = keys; *k && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (!ok) return false;
    }
    return true;
}

/* The workerHost of a v6 declaration: {enabled: false}, or enabled with a capacity
 * {total 1..1024, available 0..total} and optional feature flags. */
static bool worker_host_valid(const json_t *w)
{
    static const char *const keys[] = {"enabled",
                                       "capacity",
                                       "bundlePrewarm",
                                       "bundleRetention",
                                       "bundleStatus",
                                       "portalStream",
                                       "environmentSession",
                                       "preparedWorkspace",
                                       "capturedExecPolicy",
                                       NULL};
    static const char *const flags[] = {"bundlePrewarm",
                                        "bundleRetention",
                                        "bundleStatus",
                                        "portalStream",
                                        "environmentSession",
                                        "preparedWorkspace",
                                        NULL};
    static const char *const capacity_keys[] = {"total", "available", NULL};
    const json_t *enabled = json_object_get(w, "enabled"),
                 *capacity = json_object_get(w, "capacity");
    if (!json_is_object(w) || !json_is_boolean(enabled)) return false;
    if (!json_is_true(enabled)) return json_object_size(w) == 1;
    const json_t *total = json_object_get(capacity, "total");
    if (!json_is_object(capacity) || json_object_size(capacity) != 2 ||
        !has_only(capacity, capacity_keys) || !integer_in(total, 1, 1024) ||
        !integer_in(json_object_get(capacity, "available"), 0, json_integer_value(total)) ||
        !has_only(w, keys))
        return false;
    for (const char *const *f = flags; *f; f++) {
        const json_t *v = json_object_get(w, *f);
        if (v && (!json_is_number(v) || json_number_value(v) != 1)) return false;
    }
    const json_t *captured = json_object_get(w, "capturedExecPolicy");
    if (captured && !json_is_true(captured)) return false;
    return !json_object_get(w, "bundleStatus") || json_object_get(w, "bundleRetention");
}

/* The node host's runner declaration, checked as the real gateway's closed parse:
 * 0 current (no features, or WORKER_FEATURE with its workerHost), 1 a retired worker
 * protocol, -1 invalid. */
static int runner_inventory(const json_t *d)
{
    static const char *const retired_keys[] = {"protocolFeatures", "workerRuns", "workerHost",
                                               NULL};
    const json_t *features = json_object_get(d, "protocolFeatures");
    if (!json_is_array(features)) return -1;
    if (json_array_size(features) == 0) return json_object_size(d) == 1 ? 0 : -1;
    const char *feature = json_string_value(json_array_get(features, 0));
    if (json_array_size(features) != 1 || !feature) return -1;
    if (strncmp(feature, "node-worker-supervisor-v", 24) == 0 && strlen(feature) == 25 &&
        feature[24] >= '1' && feature[24] <= '5')
        return json_object_size(d) <= 2 && has_only(d, retired_keys) ? 1 : -1;
    if (strcmp(feature, WORKER_FEATURE) != 0 || json_object_size(d) != 2) return -1;
    return worker_host_valid(json_object_get(d, "workerHost")) ? 0 : -1;
}

/* node.runnerInventory.update: kept once the node's surface is approved; before that
 * UNAVAILABLE, which the real node host retries (with backoff) until it is. */
static void handle_runner_inventory(cg_req *req)
{
    cg_nodes *nodes = cg_gateway_nodes(req->gw);
    const char *node_id = node_id_of(req->conn), *live = cg_nodes_live_conn(nodes, node_id);
    int kind = runner_inventory(req->params);
    char message[512];
    if (kind < 0) {
        cg_req_error(req, "INVALID_REQUEST", "invalid node runner inventory", NULL);
    } else if (!live || strcmp(live, cg_conn_id(req->conn)) != 0) {
        cg_req_error(req, "INVALID_REQUEST", "unknown nodeId", NULL);
    } else if (kind == 1) {
        snprintf(message, sizeof message,
                 "device worker node %s requires an update before it can host sessions; run "
                 "openclaw update, then reconnect it (for a headless node, run openclaw node "
                 "restart)",
                 node_id);
        cg_req_error(req, "INVALID_REQUEST", message, NULL);
    } else if (!cg_nodes_surface_approved(nodes, node_id)) {
        const char *pending = cg_nodes_pending_request(nodes, node_id);
        if (pending)
            snprintf(message, sizeof message,
                     "node capability surface is awaiting operator approval; run `openclaw nodes "
                     "approve %s` (see `openclaw nodes pending`), then this node retries "
                     "automatically",
                     pending);
        else
            snprintf(message, sizeof message,
                     "node runner inventory publication is not current; retry after pairing "
                     "completes");
        cg_req_error(req, "UNAVAILABLE", message, NULL);
    } else {
        json_decref(cg_nodes_report(nodes, node_id, live, CG_NODE_RUNNER_INVENTORY,
                                    json_deep_copy(req->params), cg_now_ms()));
        cg_req_ok(req, json_pack("{s:s}", "nodeId", node_id));
    }
}

const cg_method cg_methods_nodes[] = {
    {.name = "node.pair.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = cg_params_check_empty,
     .handler = handle_pair_list,
     .summary = "Node surface requests waiting for approval, and the approved nodes"},
    {.name = "node.pair.approve",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_request_id,
     .handler = handle_pair_approve,
     .summary = "Approve a node's surface (host commands such as system.run also need "
                "operator.admin)"},
    {.name = "node.pair.reject",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_request_id,
     .handler = handle_pair_reject,
     .summary = "Reject a node's pending surface request"},
    {.name = "node.pair.remove",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_node_id,
     .handler = handle_pair_remove,
     .summary = "Forget a node and its approval; its connections close 4001"},
    {.name = "node.pair.request",
     .roles = CG_ROLE_OPERATOR | CG_ROLE_NODE,
     .scope = CG_SCOPE_PAIRING,
     .check = check_pair_request,
     .handler = handle_pair_request,
     .summary = "Ask approval of a node's surface (a node: its own only)"},
    {.name = "node.pair.verify",
     .roles = CG_ROLE_OPERATOR | CG_ROLE_NODE,
     .scope = CG_SCOPE_PAIRING,
     .check = check_node_id,
     .handler = handle_pair_verify,
     .summary = "Whether a node's surface is approved, and its approved commands"},
    {.name = "node.rename",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_rename,
     .handler = handle_rename,
     .summary = "Rename an approved node"},
    {.name = "node.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_list,
     .summary = "Known nodes: paired, connected, approval state, surface"},
    {.name = "node.describe",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_node_id,
     .handler = handle_describe,
     .summary = "One node as node.list shows it"},
    {.name = "node.event",
     .roles = CG_ROLE_NODE,
     .scope = CG_SCOPE_NONE,
     .check = check_event,
     .handler = handle_event,
     .summary = "An event from a node (node.host.stats is kept and passed on)"},
    {.name = "node.skills.update",
     .roles = CG_ROLE_NODE,
     .scope = CG_SCOPE_NONE,
     .check = check_skills,
     .handler = handle_skills_update,
     .summary = "The skills a connected node offers"},
    {.name = "node.pluginTools.update",
     .roles = CG_ROLE_NODE,
     .scope = CG_SCOPE_NONE,
     .check = check_plugin_tools,
     .handler = handle_plugin_tools_update,
     .summary = "The plugin tools a connected node offers"},
    {.name = "node.runnerInventory.update",
     .roles = CG_ROLE_NODE,
     .scope = CG_SCOPE_NONE,
     .check = NULL,
     .handler = handle_runner_inventory,
     .summary = "A node host's worker runner declaration (after approval)"},
    {.name = NULL},
};
