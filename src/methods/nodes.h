/* The node.* method family (src/methods/nodes.c) and its hold on node connections. */
#ifndef CG_METHODS_NODES_H
#define CG_METHODS_NODES_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/gateway.h"
#include "nodes/registry.h"

extern const cg_method cg_methods_nodes[];

/* Loads the node registry from the gateway's state store, keeps it as gateway data and
 * follows node connections (call after cg_gateway_start, before the loop runs). 0, or -1
 * with a message in err. */
int cg_methods_nodes_attach(cg_gateway *gw, char *err, size_t errlen);

/* The registry cg_methods_nodes_attach loaded, for the methods that use nodes (node.invoke
 * asks cg_nodes_command_allowed). */
cg_nodes *cg_gateway_nodes(cg_gateway *gw);

/* ---- calling a command on a node (src/methods/node_invoke.c) ----
 *
 * The relay under node.invoke, also used by methods that act on a node themselves
 * (exec.approvals.node.get/set). A call sends `node.invoke.request {id, nodeId, command,
 * paramsJSON, timeoutMs, idempotencyKey}` to the node's live connection and ends exactly
 * once, through done, unless cancelled first: with the node's answer, or UNAVAILABLE
 * "TIMEOUT: node invoke timed out" when timeout_ms passes, or UNAVAILABLE
 * "DISCONNECTED: node disconnected (<command>)" as soon as the node's connection
 * closes (at shutdown too: every connection closes). It checks only that the node is
 * connected: allowlists and scopes are the caller's. */
typedef struct cg_node_call cg_node_call;

/* result: {ok: true, nodeId, command, payload, payloadJSON} when the node answered ok,
 * else NULL and error is the ErrorShape to answer (the node's own error as UNAVAILABLE
 * "<code>: <message>" with details.nodeError). Both borrowed for the call. The call is
 * freed after done returns. */
typedef void (*cg_node_call_done)(const json_t *result, const json_t *error, void *data);

#define CG_NODE_CALL_DEFAULT_TIMEOUT_MS 30000
#define CG_NODE_CALL_MAX_TIMEOUT_MS 600000

/* Starts a call. params: the command's params (consumed; NULL for none). The call, or
 * NULL with *error (a new ErrorShape) when the node is not connected or too many calls
 * are in flight; done is then never called. */
cg_node_call *cg_node_call_start(cg_gateway *gw, const char *node_id, const char *command,
                                 json_t *params, uint64_t timeout_ms, const char *idempotency_key,
                                 cg_node_call_done done, void *data, json_t **error);
/* Forgets the call: done is never called; a late answer from the node is ignored. */
void cg_node_call_cancel(cg_node_call *call);

/* Sets up the relay (node.invoke, node.invoke.result) as gateway data; with
 * cg_methods_nodes_attach. */
void cg_methods_node_invoke_attach(cg_gateway *gw);
/* Whether node.invoke may send `command` to the connected node_id (its effective surface
 * and the allowlist of nodes/policy.h): NULL when it may or the node is not connected,
 * else the real gateway's reason, with its message in hint. */
const char *cg_node_command_check(cg_gateway *gw, const char *node_id, const char *command,
                                  char *hint, size_t hint_len);
/* Whether node_id was recently sent a system.run with this runId (its exec.* events
 * are believed only then, as the real gateway's authorizeNodeSystemRunEvent). */
bool cg_node_run_known(cg_gateway *gw, const char *node_id, const char *run_id);

#endif
