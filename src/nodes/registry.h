/* Node pairing: the nodes the gateway knows, the command surface (caps, commands,
 * permissions) each may expose, the surface requests waiting for an operator, and what
 * each connected node reported about itself. A domain module: no gateway header; the
 * method family (methods/nodes.c) feeds it connections and requests and sends the
 * events it returns.
 *
 * A node is known by its node id (the device id it proved at connect). Its record holds
 *   - what it last said about itself (clientId, displayName, platform, version, ...);
 *   - the approved surface, once an operator approved one (persisted);
 *   - at most one pending request: the surface it asks for beyond the approved one
 *     (persisted; a newer different surface supersedes it, reported as rejected); the
 *     real gateway gives these no expiry, and neither do we;
 *   - while connected, its live session: the connection, the surface it declared, the
 *     effective surface (declared and approved, nothing before the first approval), and
 *     what it reported after connect (host stats, skills, plugin tools, runner
 *     inventory; memory only, bounded).
 *
 * As the real gateway does at connect: an unapproved node gets a pending request and no
 * effective commands; a node declaring nothing beyond its approval (a narrower surface
 * included) gets what it declared and its stale pending request is cleared; a widened
 * surface gets a pending request while the approved part of it stays effective.
 * Approving takes effect on the open connection at once.
 *
 * Persistence: the state store's `nodes` rows (one per record: metadata and approved
 * surface as JSON) and `node_pair_requests` rows (the pending request). Every change is
 * applied in memory at once (so the next request sees it) and written as the record's
 * whole row; the mutations that answer a client take a done callback that runs after
 * the write committed, so an acknowledged approval survives a crash. A failed write is
 * logged and reported to done; memory keeps the change and the record's next write
 * stores it whole.
 *
 * Events: functions that change what operators see append {event, payload} objects to
 * an `events` array for the caller to send: `node.pair.requested` (the pending entry)
 * and `node.pair.resolved` ({requestId, nodeId, decision, ts}). */
#ifndef CG_NODES_REGISTRY_H
#define CG_NODES_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define CG_NODES_MAX 4096              /* node records */
#define CG_NODES_MAX_PENDING 1024      /* pending surface requests (one per node at most) */
#define CG_NODES_MAX_SURFACE_ITEMS 512 /* caps, commands or permissions of one surface */
#define CG_NODES_MAX_STRING 256        /* bytes of an id, a name, a cap or a command */
#define CG_NODES_MAX_SKILLS 64
#define CG_NODES_MAX_SKILL_BYTES 65536
#define CG_NODES_MAX_SKILLS_BYTES (512 * 1024)
#define CG_NODES_MAX_PLUGIN_TOOLS 128
#define CG_NODES_MAX_PLUGIN_TOOLS_BYTES (256 * 1024)

typedef struct cg_nodes cg_nodes;

typedef enum {
    CG_NODES_OK,
    CG_NODES_UNKNOWN, /* no such request or node */
    CG_NODES_FULL,    /* a cap above was reached */
} cg_nodes_status;

/* Runs on the loop after the change was written: status 0, or -1 with the error. */
typedef void (*cg_nodes_done_fn)(int status, const char *error, void *data);

/* Loads every record and pending request from the store (blocking: at startup). NULL
 * with a message in err when the store cannot be read. */
cg_nodes *cg_nodes_open(cg_store *store, char *err, size_t errlen);
void cg_nodes_free(cg_nodes *n);

/* ---- connections ---- */

/* A node connection authenticated. `decl` is what it declared, with the pending entry's
 * names: clientId, clientMode, displayName, platform, version, coreVersion, uiVersion,
 * deviceFamily, modelIdentifier (strings), caps, commands (string arrays), permissions
 * (object of booleans), pathEnv (string); anything missing or malformed counts as
 * absent, lists past the caps are cut. client_ip: the connection's address (reported
 * as remoteIp unless local). silent: its device was approved without a prompt, which
 * marks the first surface request silent, as the real gateway does. CG_NODES_FULL when
 * a new record would pass CG_NODES_MAX. */
cg_nodes_status cg_nodes_attach(cg_nodes *n, const char *node_id, const char *conn_id,
                                const char *client_ip, const json_t *decl, bool silent,
                                int64_t now_ms, json_t *events);
/* The connection closed; nothing happens unless it is the node's live one. */
void cg_nodes_detach(cg_nodes *n, const char *node_id, const char *conn_id, int64_t now_ms);
/* The node's live connection id, or NULL. */
const char *cg_nodes_live_conn(const cg_nodes *n, const char *node_id);

/* A connected node's session, for node.invoke: borrowed until the registry changes. */
typedef struct cg_node_live {
    const char *conn_id;
    const char *platform, *device_family; /* as declared; NULL when not */
    const json_t *caps;                   /* effective caps (array) */
    const json_t *commands;               /* effective commands: declared and approved */
    const json_t *declared_commands;      /* what the connection declared */
} cg_node_live;
/* false when the node is unknown or not connected. */
bool cg_nodes_live(const cg_nodes *n, const char *node_id, cg_node_live *out);

/* What node.invoke may send: the node is connected and `command` is in its effective
 * surface (approved and declared on this connection). */
bool cg_nodes_command_allowed(const cg_nodes *n, const char *node_id, const char *command);
bool cg_nodes_surface_approved(const cg_nodes *n, const char *node_id);
/* Whether the registry has a record of node_id (it connected once and was not removed). */
bool cg_nodes_known(const cg_nodes *n, const char *node_id);
/* The node's pending request id, or NULL. */
const char *cg_nodes_pending_request(const cg_nodes *n, const char *node_id);

/* ---- operators ---- */

/* node.pair.list: {pending: [...] newest first, paired: [...] latest approval first}.
 * only_node_id: just that node's entries (NULL: all). */
json_t *cg_nodes_pair_list(const cg_nodes *n, const char *only_node_id);
/* node.list's entries, connected first, then by name. device_approved(node_id, data):
 * when the node's device was approved for role node, 0 when it is not; a node is paired
 * when it is or its surface is approved (approvedAtMs: the surface's approval, else the
 * device's). with_pending: also the pending request's fields and nodes neither paired
 * nor connected (operators holding operator.pairing or admin); own_node_id sees its own
 * pendingRequestId anyway. */
json_t *cg_nodes_list(const cg_nodes *n, bool with_pending, const char *own_node_id,
                      int64_t (*device_approved)(const char *node_id, void *data), void *data);
/* The node a pending request is for, or NULL. */
const char *cg_nodes_request_node(const cg_nodes *n, const char *request_id);
/* The operator scopes approving a request needs ("operator.pairing", plus
 * "operator.admin" for a surface with system.run, system.which, fs.listDir and the
 * other host-level commands, else "operator.write" when it has commands), as the
 * pending entry's requiredApproveScopes. NULL for an unknown request. New ref. */
json_t *cg_nodes_approval_scopes(const cg_nodes *n, const char *request_id);

/* The mutations below call done (may be NULL) only when they return CG_NODES_OK; their
 * result is a new reference for the answer. */

/* node.pair.approve: the pending surface becomes the approved one (and effective on the
 * live connection at once). Result {requestId, node}. */
cg_nodes_status cg_nodes_approve(cg_nodes *n, const char *request_id, int64_t now_ms,
                                 json_t **result, json_t *events, cg_nodes_done_fn done,
                                 void *data);
/* node.pair.reject: the pending request is dropped. Result {requestId, nodeId}. */
cg_nodes_status cg_nodes_reject(cg_nodes *n, const char *request_id, int64_t now_ms,
                                json_t **result, json_t *events, cg_nodes_done_fn done, void *data);
/* node.pair.remove: the record, its approval and its request are dropped (the caller
 * disconnects the node). Result {nodeId}. */
cg_nodes_status cg_nodes_remove(cg_nodes *n, const char *node_id, int64_t now_ms, json_t **result,
                                json_t *events, cg_nodes_done_fn done, void *data);
/* node.rename: an approved node's display name. Result {nodeId, displayName}. */
cg_nodes_status cg_nodes_rename(cg_nodes *n, const char *node_id, const char *display_name,
                                json_t **result, cg_nodes_done_fn done, void *data);

/* node.pair.request (the seed's): `decl` as for attach, with nodeId. A surface the
 * approval already covers: {status: "approved", requestId: the approving request's,
 * created: false}; else the pending request, reused when it asks for the same surface:
 * {status: "pending", requestId, created}. CG_NODES_FULL past a cap. */
cg_nodes_status cg_nodes_request(cg_nodes *n, const json_t *decl, int64_t now_ms, json_t **result,
                                 json_t *events, cg_nodes_done_fn done, void *data);
/* node.pair.verify (the seed's): {nodeId, paired (an approved surface), approvedCommands}. */
json_t *cg_nodes_verify(const cg_nodes *n, const char *node_id);

/* ---- what a connected node reports (memory only) ---- */

typedef enum {
    CG_NODE_HOST_STATS,       /* node.event node.host.stats payload (checked by caller) */
    CG_NODE_SKILLS,           /* node.skills.update skills */
    CG_NODE_PLUGIN_TOOLS,     /* node.pluginTools.update tools */
    CG_NODE_RUNNER_INVENTORY, /* node.runnerInventory.update declaration */
} cg_node_report;

/* Keeps a report of the node's live connection conn_id (value consumed; skills and
 * tools are normalized and bounded as the real gateway does). Returns what clients
 * see of it (new ref: the host stats with updatedAtMs, the skills, the plugin tools
 * the effective commands allow, the declaration), or NULL when conn_id is not the
 * node's live connection. */
json_t *cg_nodes_report(cg_nodes *n, const char *node_id, const char *conn_id, cg_node_report kind,
                        json_t *value, int64_t now_ms);

#endif
