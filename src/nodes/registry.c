/* The node registry (see nodes/registry.h for the contract).
 *
 * Memory: one cg_node per known node, in a list (for listings) and a map by node id; a
 * second map finds a node by its pending request id. Surfaces, metadata and reports are
 * jansson values, already normalized and bounded when stored, so projections only copy.
 * A surface is {caps: [..], commands: [..], permissions?: {..}}; the approved one also
 * carries the names and versions it was approved with, createdAtMs, approvedAtMs and the
 * requestId that approved it; the pending one is the pending entry without nodeId and
 * requiredApproveScopes (those are derived when listed).
 *
 * Persistence (store.c style jobs): each change snapshots the record into a job (the
 * node row's body text, and the pending row or none) and queues it on the store; the
 * writer thread replaces both rows in one savepoint. Jobs complete in order, so the
 * database ends at the last snapshot of every record. */
#include "nodes/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "nodes/policy.h"

/* Node commands relayed to the host itself: approving a surface that has one needs
 * operator.admin, as the real gateway requires (node-pairing-authz). */
static const char *const admin_commands[] = {
    "system.run.prepare",
    "system.run",
    "system.which",
    "system.execApprovals.get",
    "system.execApprovals.set",
    "browser.proxy",
    "browser.proxy.upload.v1",
    "fs.listDir",
    "terminal.upload",
    NULL,
};

/* The declared metadata a record and a request keep, in the pending entry's order. */
static const char *const meta_keys[] = {
    "clientId",    "clientMode", "displayName",  "platform",        "version",
    "coreVersion", "uiVersion",  "deviceFamily", "modelIdentifier", NULL,
};

/* The metadata an approved surface keeps from its request. */
static const char *const surface_meta_keys[] = {"version", "coreVersion", "uiVersion",
                                                "modelIdentifier", NULL};

#define REPORT_KINDS 4

typedef struct cg_node {
    struct cg_node *prev, *next;
    char *id;
    json_t *meta; /* last declared: meta_keys and remoteIp */
    int64_t created_at_ms, last_connected_at_ms, last_disconnected_at_ms;
    json_t *surface; /* approved surface, or NULL */
    json_t *pending; /* pending request, or NULL */
    /* The live session. */
    char *conn_id; /* NULL when not connected */
    int64_t connected_at_ms;
    json_t *declared, *effective;
    char *path_env;
    json_t *reports[REPORT_KINDS];
} cg_node;

struct cg_nodes {
    cg_store *store;
    cg_strmap *by_id, *by_request;
    cg_node *head;
    size_t count, n_pending;
};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0) return true;
    return false;
}

/* ---- normalizing what a client sends ---- */

/* A non-empty string within CG_NODES_MAX_STRING bytes, or NULL. */
static const char *short_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s && json_string_length(v) <= CG_NODES_MAX_STRING ? s : NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Trims *s (len bytes) of ASCII white space; returns the new length. */
static size_t trim(const char **s, size_t len)
{
    while (len && is_space(**s))
        (*s)++, len--;
    while (len && is_space((*s)[len - 1]))
        len--;
    return len;
}

/* A string list: items trimmed, empty, overlong and repeated ones dropped, cut at
 * CG_NODES_MAX_SURFACE_ITEMS; private commands dropped when asked. Always an array. */
static json_t *clean_list(const json_t *v, bool commands)
{
    json_t *out = json_array();
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        const char *s = json_string_value(item);
        if (!s) continue;
        size_t len = trim(&s, json_string_length(item));
        if (!len || len > CG_NODES_MAX_STRING || memchr(s, '\0', len)) continue;
        char buf[CG_NODES_MAX_STRING + 1];
        memcpy(buf, s, len);
        buf[len] = '\0';
        bool seen = false;
        size_t j;
        const json_t *prev;
        json_array_foreach(out, j, prev)
        {
            if (strcmp(json_string_value(prev), buf) == 0) seen = true;
        }
        if (seen || (commands && cg_node_command_private(buf))) continue;
        if (json_array_size(out) == CG_NODES_MAX_SURFACE_ITEMS) break;
        json_array_append_new(out, json_string(buf));
    }
    return out;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Permissions: boolean values only, keys sorted (so key order never makes a surface
 * look different), cut at CG_NODES_MAX_SURFACE_ITEMS. NULL when none. */
static json_t *clean_permissions(const json_t *v)
{
    size_t n = 0;
    const char *keys[CG_NODES_MAX_SURFACE_ITEMS];
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        if (n == CG_NODES_MAX_SURFACE_ITEMS) break;
        if (json_is_boolean(value) && *key && strlen(key) <= CG_NODES_MAX_STRING) keys[n++] = key;
    }
    if (!n) return NULL;
    qsort(keys, n, sizeof keys[0], compare_keys);
    json_t *out = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(v, keys[i]));
    return out;
}

/* {caps, commands, permissions?} of a declaration. */
static json_t *declared_surface(const json_t *decl)
{
    json_t *s = json_pack("{s:o, s:o}", "caps", clean_list(json_object_get(decl, "caps"), false),
                          "commands", clean_list(json_object_get(decl, "commands"), true));
    json_t *permissions = clean_permissions(json_object_get(decl, "permissions"));
    if (permissions) json_object_set_new(s, "permissions", permissions);
    return s;
}

/* The metadata of a declaration: meta_keys as short strings, and remoteIp for a client
 * that is not local. */
static json_t *declared_meta(const json_t *decl, const char *client_ip)
{
    json_t *m = json_object();
    for (const char *const *k = meta_keys; *k; k++) {
        const char *s = short_string(json_object_get(decl, *k));
        if (s) json_object_set_new(m, *k, json_string(s));
    }
    if (client_ip && strcmp(client_ip, CG_CLIENT_IP_UNKNOWN) != 0 &&
        !cg_addr_is_loopback(client_ip))
        json_object_set_new(m, "remoteIp", json_string(client_ip));
    return m;
}

/* ---- surfaces ---- */

static bool subset(const json_t *a, const json_t *b)
{
    size_t i;
    const json_t *item;
    json_array_foreach(a, i, item)
    {
        if (!cg_json_array_has_string(b, json_string_value(item))) return false;
    }
    return true;
}

static json_t *intersect(const json_t *declared, const json_t *approved)
{
    json_t *out = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(declared, i, item)
    {
        if (cg_json_array_has_string(approved, json_string_value(item)))
            json_array_append(out, item);
    }
    return out;
}

static const json_t *caps_of(const json_t *s)
{
    return json_object_get(s, "caps");
}

static const json_t *commands_of(const json_t *s)
{
    return json_object_get(s, "commands");
}

static const json_t *permissions_of(const json_t *s)
{
    return json_object_get(s, "permissions");
}

static bool same_set(const json_t *a, const json_t *b)
{
    return subset(a, b) && subset(b, a);
}

/* Same caps, commands (as sets) and permissions: the same thing to approve. */
static bool same_surface(const json_t *a, const json_t *b)
{
    const json_t *pa = permissions_of(a), *pb = permissions_of(b);
    return same_set(caps_of(a), caps_of(b)) && same_set(commands_of(a), commands_of(b)) &&
           ((!pa && !pb) || json_equal((json_t *)pa, (json_t *)pb));
}

/* Whether `declared` asks for anything `approved` does not grant: a cap or command
 * outside it, or a permission declared true that was not approved true. */
static bool widens(const json_t *declared, const json_t *approved)
{
    if (!subset(caps_of(declared), caps_of(approved)) ||
        !subset(commands_of(declared), commands_of(approved)))
        return true;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)permissions_of(declared), key, value)
    {
        if (json_is_true(value) && !json_is_true(json_object_get(permissions_of(approved), key)))
            return true;
    }
    return false;
}

/* What a connection may use: what it declared, within the approval (nothing before one).
 * A permission declared false stays false; one declared true is the approved value. */
static json_t *effective_surface(const json_t *declared, const json_t *approved)
{
    if (!approved) return json_pack("{s:[], s:[]}", "caps", "commands");
    json_t *e = json_pack("{s:o, s:o}", "caps", intersect(caps_of(declared), caps_of(approved)),
                          "commands", intersect(commands_of(declared), commands_of(approved)));
    json_t *permissions = json_object();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)permissions_of(declared), key, value)
    {
        const json_t *granted = json_object_get(permissions_of(approved), key);
        if (!json_is_true(value))
            json_object_set_new(permissions, key, json_false());
        else if (granted)
            json_object_set(permissions, key, (json_t *)granted);
    }
    if (json_object_size(permissions))
        json_object_set_new(e, "permissions", permissions);
    else
        json_decref(permissions);
    return e;
}

/* requiredApproveScopes of a command list. */
static json_t *approval_scopes(const json_t *commands)
{
    size_t i;
    const json_t *item;
    json_array_foreach(commands, i, item)
    {
        if (in_list(admin_commands, json_string_value(item)))
            return json_pack("[s, s]", "operator.pairing", "operator.admin");
    }
    return json_array_size(commands) ? json_pack("[s, s]", "operator.pairing", "operator.write")
                                     : json_pack("[s]", "operator.pairing");
}

/* A sorted copy of a string list (node.list shows them sorted). */
static int compare_strings(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The items of `list` (consumed) in `order`. */
static json_t *sorted_by(json_t *list, int (*order)(const void *, const void *))
{
    size_t n = json_array_size(list);
    json_t **items = cg_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(list, i));
    qsort(items, n, sizeof *items, order);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, items[i]);
    free(items);
    json_decref(list);
    return out;
}

static json_t *sorted(const json_t *list)
{
    return sorted_by(json_copy((json_t *)list), compare_strings);
}

/* ---- records ---- */

static cg_node *find(const cg_nodes *n, const char *node_id)
{
    return node_id ? cg_strmap_get(n->by_id, node_id) : NULL;
}

static cg_node *add_node(cg_nodes *n, const char *node_id, int64_t now_ms)
{
    cg_node *node = cg_xcalloc(1, sizeof *node);
    node->id = cg_strdup(node_id);
    node->meta = json_object();
    node->created_at_ms = now_ms;
    node->next = n->head;
    if (n->head) n->head->prev = node;
    n->head = node;
    n->count++;
    cg_strmap_set(n->by_id, node_id, node);
    return node;
}

static void clear_live(cg_node *node)
{
    free(node->conn_id);
    node->conn_id = NULL;
    json_decref(node->declared);
    json_decref(node->effective);
    node->declared = node->effective = NULL;
    free(node->path_env);
    node->path_env = NULL;
    for (int k = 0; k < REPORT_KINDS; k++) {
        json_decref(node->reports[k]);
        node->reports[k] = NULL;
    }
}

static void drop_pending(cg_nodes *n, cg_node *node)
{
    if (!node->pending) return;
    cg_strmap_remove(n->by_request, json_string_value(json_object_get(node->pending, "requestId")));
    json_decref(node->pending);
    node->pending = NULL;
    n->n_pending--;
}

static void free_node(cg_node *node)
{
    clear_live(node);
    free(node->id);
    json_decref(node->meta);
    json_decref(node->surface);
    json_decref(node->pending);
    free(node);
}

static void remove_node(cg_nodes *n, cg_node *node)
{
    drop_pending(n, node);
    cg_strmap_remove(n->by_id, node->id);
    if (node->prev)
        node->prev->next = node->next;
    else
        n->head = node->next;
    if (node->next) node->next->prev = node->prev;
    n->count--;
    free_node(node);
}

static const char *request_id_of(const cg_node *node)
{
    return json_string_value(json_object_get(node->pending, "requestId"));
}

static void add_event(json_t *events, const char *name, json_t *payload)
{
    json_array_append_new(events, json_pack("{s:s, s:o}", "event", name, "payload", payload));
}

static void resolved(json_t *events, const char *request_id, const char *node_id,
                     const char *decision, int64_t now_ms)
{
    add_event(events, "node.pair.resolved",
              json_pack("{s:s, s:s, s:s, s:I}", "requestId", request_id, "nodeId", node_id,
                        "decision", decision, "ts", (json_int_t)now_ms));
}

/* ---- projections ---- */

static void copy_key(json_t *to, const char *key, const json_t *from)
{
    json_t *v = json_object_get(from, key);
    if (v) json_object_set(to, key, v);
}

/* The first of the values that is present. */
static void copy_first(json_t *to, const char *key, const json_t *a, const json_t *b,
                       const json_t *c)
{
    const json_t *from[] = {a, b, c};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(from[i], key);
        if (v) {
            json_object_set(to, key, v);
            return;
        }
    }
}

static void set_time(json_t *to, const char *key, int64_t ms)
{
    if (ms) json_object_set_new(to, key, json_integer(ms));
}

/* The pending entry (node.pair.list, node.pair.requested). */
static json_t *pending_entry(const cg_node *node)
{
    const json_t *p = node->pending;
    json_t *e = json_object();
    copy_key(e, "requestId", p);
    json_object_set_new(e, "nodeId", json_string(node->id));
    for (const char *const *k = meta_keys; *k; k++)
        copy_first(e, *k, p, node->meta, NULL);
    copy_key(e, "caps", p);
    copy_key(e, "commands", p);
    json_object_set_new(e, "requiredApproveScopes", approval_scopes(commands_of(p)));
    copy_key(e, "permissions", p);
    copy_first(e, "remoteIp", p, node->meta, NULL);
    copy_key(e, "silent", p);
    copy_key(e, "ts", p);
    return e;
}

/* The last time the node was seen: its live connection or its last one. */
static int64_t last_seen_ms(const cg_node *node)
{
    return node->conn_id && node->connected_at_ms > node->last_connected_at_ms
               ? node->connected_at_ms
               : node->last_connected_at_ms;
}

/* A paired node (node.pair.list's paired, node.pair.approve's node). */
static json_t *paired_entry(const cg_node *node)
{
    const json_t *s = node->surface;
    json_t *e = json_pack("{s:s}", "nodeId", node->id);
    copy_key(e, "clientId", node->meta);
    copy_key(e, "clientMode", node->meta);
    copy_first(e, "displayName", s, node->meta, NULL);
    copy_key(e, "platform", node->meta);
    copy_key(e, "version", s);
    copy_key(e, "coreVersion", s);
    copy_key(e, "uiVersion", s);
    copy_key(e, "deviceFamily", node->meta);
    copy_key(e, "modelIdentifier", s);
    copy_key(e, "caps", s);
    copy_key(e, "commands", s);
    copy_key(e, "permissions", s);
    copy_key(e, "remoteIp", node->meta);
    copy_key(e, "createdAtMs", s);
    copy_key(e, "approvedAtMs", s);
    set_time(e, "lastConnectedAtMs", node->last_connected_at_ms);
    set_time(e, "lastDisconnectedAtMs", node->last_disconnected_at_ms);
    if (last_seen_ms(node)) {
        set_time(e, "lastSeenAtMs", last_seen_ms(node));
        json_object_set_new(e, "lastSeenReason", json_string("connect"));
    }
    return e;
}

static json_t *plugin_tools_view(const cg_node *node);

static bool session_host(const cg_node *node)
{
    const json_t *inventory = node->reports[CG_NODE_RUNNER_INVENTORY];
    return json_is_true(json_object_get(json_object_get(inventory, "workerHost"), "enabled"));
}

/* A node.list entry, as the real gateway's node catalog builds it. device_approved_ms:
 * when the node's device was approved for role node, or 0. */
static json_t *list_entry(const cg_node *node, bool with_pending, bool own,
                          int64_t device_approved_ms)
{
    const json_t *s = node->surface, *p = node->pending, *m = node->meta;
    bool live = node->conn_id != NULL;
    json_t *e = json_pack("{s:s}", "nodeId", node->id);
    /* Versions and the model: the live connection's, else what was approved or asked. */
    const json_t *versions = live ? m : s, *asked = live ? NULL : p;
    copy_first(e, "displayName", s, m, p);
    copy_first(e, "platform", m, p, NULL);
    copy_first(e, "version", versions, asked, NULL);
    copy_first(e, "coreVersion", versions, asked, NULL);
    copy_first(e, "uiVersion", versions, asked, NULL);
    copy_first(e, "clientId", m, p, NULL);
    copy_first(e, "clientMode", m, p, NULL);
    copy_first(e, "deviceFamily", m, p, NULL);
    copy_first(e, "modelIdentifier", versions, asked, NULL);
    copy_first(e, "remoteIp", m, p, NULL);
    const json_t *shown = live ? node->effective : s;
    json_object_set_new(e, "caps", sorted(caps_of(shown)));
    json_object_set_new(e, "commands", sorted(commands_of(shown)));
    json_object_set_new(e, "sessionHost", json_boolean(live && session_host(node)));
    if (live && node->reports[CG_NODE_HOST_STATS])
        json_object_set_new(e, "hostStats", json_deep_copy(node->reports[CG_NODE_HOST_STATS]));
    if (live) json_object_set_new(e, "nodePluginTools", plugin_tools_view(node));
    if (live && node->path_env) json_object_set_new(e, "pathEnv", json_string(node->path_env));
    copy_key(e, "permissions", shown);
    json_object_set_new(e, "approvalState",
                        json_string(p   ? (s ? "pending-reapproval" : "pending-approval")
                                    : s ? "approved"
                                        : "unapproved"));
    if (p && (with_pending || own))
        json_object_set_new(e, "pendingRequestId", json_string(request_id_of(node)));
    if (p && with_pending) {
        json_object_set_new(e, "pendingDeclaredCaps", sorted(caps_of(p)));
        json_object_set_new(e, "pendingDeclaredCommands", sorted(commands_of(p)));
        if (permissions_of(p))
            json_object_set(e, "pendingDeclaredPermissions", (json_t *)permissions_of(p));
    }
    if (live) set_time(e, "connectedAtMs", node->connected_at_ms);
    set_time(e, "lastConnectedAtMs", last_seen_ms(node));
    if (!live) set_time(e, "lastDisconnectedAtMs", node->last_disconnected_at_ms);
    if (last_seen_ms(node)) {
        set_time(e, "lastSeenAtMs", last_seen_ms(node));
        json_object_set_new(e, "lastSeenReason", json_string("connect"));
    }
    copy_key(e, "approvedAtMs", s);
    if (!s) set_time(e, "approvedAtMs", device_approved_ms);
    json_object_set_new(e, "paired", json_boolean(device_approved_ms || s));
    json_object_set_new(e, "connected", json_boolean(live));
    return e;
}

/* ---- persistence ---- */

/* One record's rows, snapshotted on the loop for the writer thread. */
typedef struct write_job {
    char *node_id;
    char *body; /* the nodes row's body; NULL: the node is gone */
    int64_t created_at_ms, approved_at_ms;
    char *request_id, *request_body; /* the pending row, or NULL */
    int64_t request_ts;
    cg_nodes_done_fn done;
    void *data;
} write_job;

static json_t *record_body(const cg_node *node)
{
    json_t *b = json_deep_copy(node->meta);
    set_time(b, "lastConnectedAtMs", node->last_connected_at_ms);
    set_time(b, "lastDisconnectedAtMs", node->last_disconnected_at_ms);
    if (node->surface) json_object_set(b, "surface", node->surface);
    return b;
}

static int run(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    return -1;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* On the writer thread: the record's rows become the snapshot. */
static int write_rows(sqlite3 *db, void *data, char *err, size_t errlen)
{
    write_job *j = data;
    sqlite3_stmt *st =
        prepare(db, "DELETE FROM node_pair_requests WHERE node_id = ?1", err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, j->node_id, -1, SQLITE_STATIC);
    if (run(db, st, err, errlen)) return -1;
    if (!j->body) {
        if (!(st = prepare(db, "DELETE FROM nodes WHERE node_id = ?1", err, errlen))) return -1;
        sqlite3_bind_text(st, 1, j->node_id, -1, SQLITE_STATIC);
        return run(db, st, err, errlen);
    }
    if (!(st = prepare(db,
                       "INSERT OR REPLACE INTO nodes(node_id, body, created_at_ms, approved_at_ms)"
                       " VALUES(?1, ?2, ?3, ?4)",
                       err, errlen)))
        return -1;
    sqlite3_bind_text(st, 1, j->node_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, j->created_at_ms);
    if (j->approved_at_ms)
        sqlite3_bind_int64(st, 4, j->approved_at_ms);
    else
        sqlite3_bind_null(st, 4);
    if (run(db, st, err, errlen)) return -1;
    if (!j->request_id) return 0;
    if (!(st = prepare(db,
                       "INSERT OR REPLACE INTO node_pair_requests(request_id, node_id, body,"
                       " created_at_ms) VALUES(?1, ?2, ?3, ?4)",
                       err, errlen)))
        return -1;
    sqlite3_bind_text(st, 1, j->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->node_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->request_body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, j->request_ts);
    return run(db, st, err, errlen);
}

static void written(int status, const char *error, void *data)
{
    write_job *j = data;
    if (status)
        cg_log(CG_LOG_ERROR, "nodes", "node pairing state not saved",
               json_pack("{s:s, s:s}", "nodeId", j->node_id, "error", error));
    if (j->done) j->done(status, error, j->data);
    free(j->node_id);
    free(j->body);
    free(j->request_id);
    free(j->request_body);
    free(j);
}

/* Queues the record's rows (node NULL: node_id's rows are deleted). */
static void persist(cg_nodes *n, const char *node_id, const cg_node *node, cg_nodes_done_fn done,
                    void *data)
{
    write_job *j = cg_xcalloc(1, sizeof *j);
    j->node_id = cg_strdup(node_id);
    j->done = done;
    j->data = data;
    if (node) {
        json_t *body = record_body(node);
        j->body = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        j->created_at_ms = node->created_at_ms;
        j->approved_at_ms = json_integer_value(json_object_get(node->surface, "approvedAtMs"));
        if (node->pending) {
            j->request_id = cg_strdup(request_id_of(node));
            j->request_body = json_dumps(node->pending, JSON_COMPACT);
            j->request_ts = json_integer_value(json_object_get(node->pending, "ts"));
        }
    }
    cg_store_write(n->store, write_rows, written, j);
}

/* A stored surface or request, with its lists normalized again (the database is ours,
 * but a hand edit must not break what the registry assumes). NULL when not an object. */
static json_t *restore_surface(const json_t *v)
{
    if (!json_is_object(v)) return NULL;
    json_t *s = json_deep_copy(v);
    json_object_set_new(s, "caps", clean_list(json_object_get(v, "caps"), false));
    json_object_set_new(s, "commands", clean_list(json_object_get(v, "commands"), true));
    json_t *permissions = clean_permissions(json_object_get(v, "permissions"));
    json_object_del(s, "permissions");
    if (permissions) json_object_set_new(s, "permissions", permissions);
    return s;
}

static json_t *column_json(sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (json_is_object(v)) return v;
    json_decref(v);
    return NULL;
}

static void restore_node(cg_nodes *n, sqlite3_stmt *st)
{
    const char *id = (const char *)sqlite3_column_text(st, 0);
    json_t *body = column_json(st, 1);
    if (!id || !*id || find(n, id) || !body || n->count >= CG_NODES_MAX) {
        cg_log(CG_LOG_WARN, "nodes", "skipped a stored node", json_pack("{s:s?}", "nodeId", id));
        json_decref(body);
        return;
    }
    cg_node *node = add_node(n, id, sqlite3_column_int64(st, 2));
    json_t *meta = declared_meta(body, NULL);
    copy_key(meta, "remoteIp", body);
    json_decref(node->meta);
    node->meta = meta;
    node->last_connected_at_ms = json_integer_value(json_object_get(body, "lastConnectedAtMs"));
    node->last_disconnected_at_ms =
        json_integer_value(json_object_get(body, "lastDisconnectedAtMs"));
    node->surface = restore_surface(json_object_get(body, "surface"));
    json_decref(body);
}

static void restore_request(cg_nodes *n, sqlite3_stmt *st)
{
    const char *request_id = (const char *)sqlite3_column_text(st, 0);
    cg_node *node = find(n, (const char *)sqlite3_column_text(st, 1));
    json_t *body = column_json(st, 2);
    json_t *pending = restore_surface(body);
    json_decref(body);
    if (!request_id || !node || node->pending || !pending || n->n_pending >= CG_NODES_MAX_PENDING) {
        cg_log(CG_LOG_WARN, "nodes", "skipped a stored node pairing request",
               json_pack("{s:s?}", "requestId", request_id));
        json_decref(pending);
        return;
    }
    json_object_set_new(pending, "requestId", json_string(request_id));
    node->pending = pending;
    cg_strmap_set(n->by_request, request_id, node);
    n->n_pending++;
}

static int load(sqlite3 *db, void *data, char *err, size_t errlen)
{
    cg_nodes *n = data;
    sqlite3_stmt *st = prepare(
        db, "SELECT node_id, body, created_at_ms FROM nodes ORDER BY created_at_ms", err, errlen);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        restore_node(n, st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    if (!(st = prepare(db,
                       "SELECT request_id, node_id, body FROM node_pair_requests"
                       " ORDER BY created_at_ms",
                       err, errlen)))
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        restore_request(n, st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

cg_nodes *cg_nodes_open(cg_store *store, char *err, size_t errlen)
{
    cg_nodes *n = cg_xcalloc(1, sizeof *n);
    n->store = store;
    n->by_id = cg_strmap_new();
    n->by_request = cg_strmap_new();
    if (cg_store_read(store, load, n, err, errlen) != 0) {
        cg_nodes_free(n);
        return NULL;
    }
    return n;
}

void cg_nodes_free(cg_nodes *n)
{
    if (!n) return;
    while (n->head)
        remove_node(n, n->head);
    cg_strmap_free(n->by_id);
    cg_strmap_free(n->by_request);
    free(n);
}

/* ---- requests ---- */

/* The node asks for `surface`: its pending request is reused when it asks for the same
 * thing (metadata and ts refreshed), else a new one supersedes it. */
static cg_nodes_status ask(cg_nodes *n, cg_node *node, const json_t *surface, const json_t *meta,
                           bool silent, int64_t now_ms, json_t *events, bool *created)
{
    json_t *p = node->pending;
    if (p && same_surface(p, surface)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)meta, key, value)
        {
            json_object_set(p, key, value);
        }
        if (!silent) json_object_del(p, "silent");
        json_object_set_new(p, "ts", json_integer(now_ms));
        *created = false;
        return CG_NODES_OK;
    }
    if (!p && n->n_pending >= CG_NODES_MAX_PENDING) return CG_NODES_FULL;
    char id[37];
    cg_uuid4(id);
    p = json_pack("{s:s}", "requestId", id);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)meta, key, value)
    {
        json_object_set(p, key, value);
    }
    copy_key(p, "caps", surface);
    copy_key(p, "commands", surface);
    copy_key(p, "permissions", surface);
    if (silent) json_object_set_new(p, "silent", json_true());
    json_object_set_new(p, "ts", json_integer(now_ms));
    if (node->pending) {
        resolved(events, request_id_of(node), node->id, "rejected", now_ms);
        drop_pending(n, node);
    }
    node->pending = p;
    cg_strmap_set(n->by_request, id, node);
    n->n_pending++;
    add_event(events, "node.pair.requested", pending_entry(node));
    *created = true;
    return CG_NODES_OK;
}

/* ---- connections ---- */

#define PATH_ENV_MAX 8192

cg_nodes_status cg_nodes_attach(cg_nodes *n, const char *node_id, const char *conn_id,
                                const char *client_ip, const json_t *decl, bool silent,
                                int64_t now_ms, json_t *events)
{
    cg_node *node = find(n, node_id);
    if (!node) {
        if (n->count >= CG_NODES_MAX) return CG_NODES_FULL;
        node = add_node(n, node_id, now_ms);
    }
    clear_live(node);
    json_decref(node->meta);
    node->meta = declared_meta(decl, client_ip);
    node->conn_id = cg_strdup(conn_id);
    /* As the real gateway, connections are recorded on an approved node only. */
    node->connected_at_ms = now_ms;
    if (node->surface) {
        node->last_connected_at_ms = now_ms;
        if (node->last_disconnected_at_ms < now_ms) node->last_disconnected_at_ms = 0;
    }
    node->declared = declared_surface(decl);
    node->effective = effective_surface(node->declared, node->surface);
    const json_t *path_env = json_object_get(decl, "pathEnv");
    if (json_is_string(path_env) && json_string_length(path_env) <= PATH_ENV_MAX)
        node->path_env = cg_strdup(json_string_value(path_env));
    if (!node->surface || widens(node->declared, node->surface)) {
        bool created;
        if (ask(n, node, node->declared, node->meta, silent && !node->surface, now_ms, events,
                &created) != CG_NODES_OK)
            cg_log(CG_LOG_WARN, "nodes", "too many pending node pairing requests",
                   json_pack("{s:s, s:i}", "nodeId", node->id, "max", CG_NODES_MAX_PENDING));
    } else if (node->pending) {
        /* The approval covers what it declares now: a stale request goes. */
        resolved(events, request_id_of(node), node->id, "rejected", now_ms);
        drop_pending(n, node);
    }
    persist(n, node->id, node, NULL, NULL);
    return CG_NODES_OK;
}

void cg_nodes_detach(cg_nodes *n, const char *node_id, const char *conn_id, int64_t now_ms)
{
    cg_node *node = find(n, node_id);
    if (!node || !node->conn_id || strcmp(node->conn_id, conn_id) != 0) return;
    clear_live(node);
    if (!node->surface) return;
    node->last_disconnected_at_ms = now_ms;
    persist(n, node->id, node, NULL, NULL);
}

const char *cg_nodes_live_conn(const cg_nodes *n, const char *node_id)
{
    const cg_node *node = find(n, node_id);
    return node ? node->conn_id : NULL;
}

bool cg_nodes_command_allowed(const cg_nodes *n, const char *node_id, const char *command)
{
    const cg_node *node = find(n, node_id);
    return node && node->conn_id && cg_json_array_has_string(commands_of(node->effective), command);
}

bool cg_nodes_live(const cg_nodes *n, const char *node_id, cg_node_live *out)
{
    const cg_node *node = find(n, node_id);
    if (!node || !node->conn_id) return false;
    *out = (cg_node_live){
        .conn_id = node->conn_id,
        .platform = json_string_value(json_object_get(node->meta, "platform")),
        .device_family = json_string_value(json_object_get(node->meta, "deviceFamily")),
        .caps = caps_of(node->effective),
        .commands = commands_of(node->effective),
        .declared_commands = commands_of(node->declared),
    };
    return true;
}

bool cg_nodes_known(const cg_nodes *n, const char *node_id)
{
    return find(n, node_id) != NULL;
}

bool cg_nodes_surface_approved(const cg_nodes *n, const char *node_id)
{
    const cg_node *node = find(n, node_id);
    return node && node->surface;
}

const char *cg_nodes_pending_request(const cg_nodes *n, const char *node_id)
{
    const cg_node *node = find(n, node_id);
    return node && node->pending ? request_id_of(node) : NULL;
}

/* ---- operators ---- */

typedef struct ranked {
    json_t *entry;
    int64_t rank;
    const cg_node *node;
} ranked;

static int newest_first(const void *a, const void *b)
{
    int64_t x = ((const ranked *)a)->rank, y = ((const ranked *)b)->rank;
    return x < y ? 1 : x > y ? -1 : 0;
}

static json_t *ranked_array(ranked *items, size_t count, int (*order)(const void *, const void *))
{
    qsort(items, count, sizeof *items, order);
    json_t *a = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(a, items[i].entry);
    return a;
}

json_t *cg_nodes_pair_list(const cg_nodes *n, const char *only_node_id)
{
    ranked *pending = cg_xcalloc(n->count + 1, sizeof *pending),
           *paired = cg_xcalloc(n->count + 1, sizeof *paired);
    size_t n_pending = 0, n_paired = 0;
    for (const cg_node *node = n->head; node; node = node->next) {
        if (only_node_id && strcmp(node->id, only_node_id) != 0) continue;
        if (node->pending)
            pending[n_pending++] =
                (ranked){pending_entry(node),
                         json_integer_value(json_object_get(node->pending, "ts")), node};
        if (node->surface)
            paired[n_paired++] =
                (ranked){paired_entry(node),
                         json_integer_value(json_object_get(node->surface, "approvedAtMs")), node};
    }
    json_t *list =
        json_pack("{s:o, s:o}", "pending", ranked_array(pending, n_pending, newest_first), "paired",
                  ranked_array(paired, n_paired, newest_first));
    free(pending);
    free(paired);
    return list;
}

static const char *list_name(const json_t *entry)
{
    const char *name = json_string_value(json_object_get(entry, "displayName"));
    return name ? name : json_string_value(json_object_get(entry, "nodeId"));
}

/* Connected first, then by name (case-insensitive), then by id. */
static int catalog_order(const void *a, const void *b)
{
    const json_t *x = ((const ranked *)a)->entry, *y = ((const ranked *)b)->entry;
    int cx = json_is_true(json_object_get(x, "connected")),
        cy = json_is_true(json_object_get(y, "connected"));
    if (cx != cy) return cy - cx;
    int c = strcasecmp(list_name(x), list_name(y));
    return c ? c : strcmp(((const ranked *)a)->node->id, ((const ranked *)b)->node->id);
}

json_t *cg_nodes_list(const cg_nodes *n, bool with_pending, const char *own_node_id,
                      int64_t (*device_approved)(const char *node_id, void *data), void *data)
{
    ranked *items = cg_xcalloc(n->count + 1, sizeof *items);
    size_t count = 0;
    for (const cg_node *node = n->head; node; node = node->next) {
        int64_t approved_ms = device_approved(node->id, data);
        if (!with_pending && !approved_ms && !node->surface && !node->conn_id) continue;
        bool own = own_node_id && strcmp(own_node_id, node->id) == 0;
        items[count++] = (ranked){list_entry(node, with_pending, own, approved_ms), 0, node};
    }
    json_t *a = ranked_array(items, count, catalog_order);
    free(items);
    return a;
}

const char *cg_nodes_request_node(const cg_nodes *n, const char *request_id)
{
    const cg_node *node = cg_strmap_get(n->by_request, request_id);
    return node ? node->id : NULL;
}

json_t *cg_nodes_approval_scopes(const cg_nodes *n, const char *request_id)
{
    const cg_node *node = cg_strmap_get(n->by_request, request_id);
    return node ? approval_scopes(commands_of(node->pending)) : NULL;
}

cg_nodes_status cg_nodes_approve(cg_nodes *n, const char *request_id, int64_t now_ms,
                                 json_t **result, json_t *events, cg_nodes_done_fn done, void *data)
{
    cg_node *node = cg_strmap_get(n->by_request, request_id);
    if (!node) return CG_NODES_UNKNOWN;
    const json_t *p = node->pending, *old = node->surface;
    /* Approvals of one node are strictly ordered in time. */
    int64_t approved_at = now_ms,
            previous = json_integer_value(json_object_get(old, "approvedAtMs"));
    if (old && approved_at <= previous) approved_at = previous + 1;
    json_t *s = json_object();
    copy_first(s, "displayName", old, p, NULL);
    for (const char *const *k = surface_meta_keys; *k; k++)
        copy_key(s, *k, p);
    copy_key(s, "caps", p);
    copy_key(s, "commands", p);
    copy_key(s, "permissions", p);
    json_object_set_new(
        s, "createdAtMs",
        json_integer(old ? json_integer_value(json_object_get(old, "createdAtMs")) : approved_at));
    json_object_set_new(s, "approvedAtMs", json_integer(approved_at));
    copy_key(s, "requestId", p);
    json_decref(node->surface);
    node->surface = s;
    char id[CG_NODES_MAX_STRING + 1];
    snprintf(id, sizeof id, "%s", request_id_of(node));
    drop_pending(n, node);
    if (node->conn_id) {
        json_decref(node->effective);
        node->effective = effective_surface(node->declared, node->surface);
    }
    resolved(events, id, node->id, "approved", now_ms);
    *result = json_pack("{s:s, s:o}", "requestId", id, "node", paired_entry(node));
    persist(n, node->id, node, done, data);
    return CG_NODES_OK;
}

cg_nodes_status cg_nodes_reject(cg_nodes *n, const char *request_id, int64_t now_ms,
                                json_t **result, json_t *events, cg_nodes_done_fn done, void *data)
{
    cg_node *node = cg_strmap_get(n->by_request, request_id);
    if (!node) return CG_NODES_UNKNOWN;
    *result = json_pack("{s:s, s:s}", "requestId", request_id_of(node), "nodeId", node->id);
    resolved(events, request_id_of(node), node->id, "rejected", now_ms);
    drop_pending(n, node);
    persist(n, node->id, node, done, data);
    return CG_NODES_OK;
}

cg_nodes_status cg_nodes_remove(cg_nodes *n, const char *node_id, int64_t now_ms, json_t **result,
                                json_t *events, cg_nodes_done_fn done, void *data)
{
    cg_node *node = find(n, node_id);
    if (!node) return CG_NODES_UNKNOWN;
    *result = json_pack("{s:s}", "nodeId", node->id);
    resolved(events, "", node->id, "removed", now_ms);
    persist(n, node->id, NULL, done, data);
    remove_node(n, node);
    return CG_NODES_OK;
}

cg_nodes_status cg_nodes_rename(cg_nodes *n, const char *node_id, const char *display_name,
                                json_t **result, cg_nodes_done_fn done, void *data)
{
    cg_node *node = find(n, node_id);
    if (!node || !node->surface) return CG_NODES_UNKNOWN;
    json_object_set_new(node->surface, "displayName", json_string(display_name));
    *result = json_pack("{s:s, s:s}", "nodeId", node->id, "displayName", display_name);
    persist(n, node->id, node, done, data);
    return CG_NODES_OK;
}

cg_nodes_status cg_nodes_request(cg_nodes *n, const json_t *decl, int64_t now_ms, json_t **result,
                                 json_t *events, cg_nodes_done_fn done, void *data)
{
    const char *node_id = json_string_value(json_object_get(decl, "nodeId"));
    cg_node *node = find(n, node_id);
    bool added = false;
    if (!node) {
        if (n->count >= CG_NODES_MAX) return CG_NODES_FULL;
        node = add_node(n, node_id, now_ms);
        json_decref(node->meta);
        node->meta = declared_meta(decl, NULL);
        added = true;
    }
    json_t *surface = declared_surface(decl);
    if (node->surface && !widens(surface, node->surface)) {
        *result = json_pack("{s:s, s:O?, s:b}", "status", "approved", "requestId",
                            json_object_get(node->surface, "requestId"), "created", 0);
    } else {
        json_t *meta = declared_meta(decl, NULL);
        bool created;
        cg_nodes_status status = ask(n, node, surface, meta, false, now_ms, events, &created);
        json_decref(meta);
        if (status != CG_NODES_OK) {
            json_decref(surface);
            if (added) remove_node(n, node);
            return status;
        }
        *result = json_pack("{s:s, s:s, s:b}", "status", "pending", "requestId",
                            request_id_of(node), "created", created);
    }
    json_decref(surface);
    persist(n, node->id, node, done, data);
    return CG_NODES_OK;
}

json_t *cg_nodes_verify(const cg_nodes *n, const char *node_id)
{
    const cg_node *node = find(n, node_id);
    const json_t *s = node ? node->surface : NULL;
    return json_pack("{s:s, s:b, s:o}", "nodeId", node_id, "paired", s != NULL, "approvedCommands",
                     s ? json_deep_copy(commands_of(s)) : json_array());
}

/* ---- reports ---- */

/* A trimmed copy of a string member, cut at max bytes (on a character boundary), or
 * NULL when empty. */
static json_t *trimmed_string(const json_t *object, const char *key, size_t max)
{
    const char *s = json_string_value(json_object_get(object, key));
    if (!s) return NULL;
    size_t len = trim(&s, json_string_length(json_object_get(object, key)));
    if (len > max) {
        len = max;
        while (len && ((unsigned char)s[len] & 0xc0) == 0x80)
            len--;
    }
    return len ? json_stringn(s, len) : NULL;
}

static int skill_order(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
                  json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* node.skills.update's skills as the real gateway keeps them: a description (trimmed,
 * at most 1024 bytes) and content (at most CG_NODES_MAX_SKILL_BYTES) each, names
 * unique, at most CG_NODES_MAX_SKILLS and CG_NODES_MAX_SKILLS_BYTES of content in all,
 * by name. The rest is dropped. */
static json_t *normalize_skills(const json_t *skills)
{
    json_t *out = json_array();
    size_t total = 0, i;
    const json_t *skill;
    json_array_foreach(skills, i, skill)
    {
        json_t *name = trimmed_string(skill, "name", CG_NODES_MAX_STRING);
        json_t *description = trimmed_string(skill, "description", 1024);
        const json_t *content = json_object_get(skill, "content");
        size_t bytes = json_string_length(content);
        bool keep = name && description && json_is_string(content) && bytes &&
                    bytes <= CG_NODES_MAX_SKILL_BYTES &&
                    total + bytes <= CG_NODES_MAX_SKILLS_BYTES &&
                    json_array_size(out) < CG_NODES_MAX_SKILLS;
        size_t j;
        const json_t *prev;
        json_array_foreach(out, j, prev)
        {
            if (keep && json_equal(json_object_get(prev, "name"), name)) keep = false;
        }
        if (keep) {
            total += bytes;
            json_array_append_new(out, json_pack("{s:O, s:O, s:O}", "name", name, "description",
                                                 description, "content", content));
        }
        json_decref(name);
        json_decref(description);
    }
    return sorted_by(out, skill_order);
}

static int tool_order(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    static const char *const keys[] = {"pluginId", "name", "command", NULL};
    for (const char *const *k = keys; *k; k++) {
        int c = strcmp(json_string_value(json_object_get(x, *k)),
                       json_string_value(json_object_get(y, *k)));
        if (c) return c;
    }
    return 0;
}

/* One plugin tool descriptor, or NULL when the real gateway would drop it. */
static json_t *tool_descriptor(const json_t *tool)
{
    json_t *plugin_id = trimmed_string(tool, "pluginId", CG_NODES_MAX_STRING),
           *name = trimmed_string(tool, "name", CG_NODES_MAX_STRING),
           *description = trimmed_string(tool, "description", 1024),
           *command = trimmed_string(tool, "command", CG_NODES_MAX_STRING);
    const json_t *mcp = json_object_get(tool, "mcp");
    json_t *server = trimmed_string(mcp, "server", CG_NODES_MAX_STRING),
           *mcp_tool = trimmed_string(mcp, "tool", CG_NODES_MAX_STRING);
    json_t *d = NULL;
    bool reserved = plugin_id && strcmp(json_string_value(plugin_id), "node-mcp") == 0;
    if (plugin_id && name && description && command &&
        (!reserved ||
         (strcmp(json_string_value(command), "mcp.tools.call.v1") == 0 && server && mcp_tool))) {
        const json_t *parameters = json_object_get(tool, "parameters");
        d = json_pack("{s:O, s:O, s:O, s:o, s:O}", "pluginId", plugin_id, "name", name,
                      "description", description, "parameters",
                      json_is_object(parameters)
                          ? json_deep_copy(parameters)
                          : json_pack("{s:s, s:{}, s:b}", "type", "object", "properties",
                                      "additionalProperties", 1),
                      "command", command);
        if (server && mcp_tool)
            json_object_set_new(d, "mcp",
                                json_pack("{s:O, s:O}", "server", server, "tool", mcp_tool));
    }
    json_decref(plugin_id);
    json_decref(name);
    json_decref(description);
    json_decref(command);
    json_decref(server);
    json_decref(mcp_tool);
    return d;
}

/* node.pluginTools.update's tools as the real gateway keeps them: valid descriptors, by
 * plugin, name and command, one per plugin and name, at most CG_NODES_MAX_PLUGIN_TOOLS;
 * and (ours) at most CG_NODES_MAX_PLUGIN_TOOLS_BYTES of them serialized. */
static json_t *normalize_tools(const json_t *tools)
{
    json_t *all = json_array();
    size_t i;
    const json_t *tool;
    json_array_foreach(tools, i, tool)
    {
        json_t *d = tool_descriptor(tool);
        if (d) json_array_append_new(all, d);
    }
    all = sorted_by(all, tool_order);
    json_t *out = json_array();
    size_t total = 0;
    json_t *d;
    json_array_foreach(all, i, d)
    {
        const json_t *last = json_array_get(out, json_array_size(out) - 1);
        if (last && json_equal(json_object_get(last, "pluginId"), json_object_get(d, "pluginId")) &&
            json_equal(json_object_get(last, "name"), json_object_get(d, "name")))
            continue;
        char *text = json_dumps(d, JSON_COMPACT);
        size_t bytes = strlen(text);
        free(text);
        if (json_array_size(out) == CG_NODES_MAX_PLUGIN_TOOLS ||
            total + bytes > CG_NODES_MAX_PLUGIN_TOOLS_BYTES)
            break;
        total += bytes;
        json_array_append(out, d);
    }
    json_decref(all);
    return out;
}

/* The plugin tools the node's effective commands allow. */
static json_t *plugin_tools_view(const cg_node *node)
{
    json_t *out = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(node->reports[CG_NODE_PLUGIN_TOOLS], i, d)
    {
        if (cg_json_array_has_string(commands_of(node->effective),
                                     json_string_value(json_object_get(d, "command"))))
            json_array_append(out, d);
    }
    return out;
}

json_t *cg_nodes_report(cg_nodes *n, const char *node_id, const char *conn_id, cg_node_report kind,
                        json_t *value, int64_t now_ms)
{
    cg_node *node = find(n, node_id);
    if (!node || !node->conn_id || strcmp(node->conn_id, conn_id) != 0) {
        json_decref(value);
        return NULL;
    }
    json_t *kept = value;
    if (kind == CG_NODE_HOST_STATS) {
        json_object_set_new(kept, "updatedAtMs", json_integer(now_ms));
    } else if (kind == CG_NODE_SKILLS) {
        kept = normalize_skills(value);
        json_decref(value);
    } else if (kind == CG_NODE_PLUGIN_TOOLS) {
        kept = normalize_tools(value);
        json_decref(value);
    }
    json_decref(node->reports[kind]);
    node->reports[kind] = kept;
    return kind == CG_NODE_PLUGIN_TOOLS ? plugin_tools_view(node) : json_deep_copy(kept);
}
