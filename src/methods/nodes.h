/* The node.* method family (src/methods/nodes.c) and its hold on node connections. */
#ifndef CG_METHODS_NODES_H
#define CG_METHODS_NODES_H

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

#endif
