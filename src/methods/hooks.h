/* Webhooks (src/methods/hooks.c): POST /hooks/wake and /hooks/agent, as OpenClaw's. */
#ifndef CG_METHODS_HOOKS_H
#define CG_METHODS_HOOKS_H

#include "gateway/gateway.h"

/* Registers the /hooks/ route (answering only while hooks.enabled and hooks.token are
 * set); after the run engine. */
void cg_methods_hooks_attach(cg_gateway *gw);

#endif
