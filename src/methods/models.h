/* The models family (src/methods/models.c): models.list and models.authStatus, and the
 * gateway's one set of model providers (agent/llm.h) that chat and agent runs use. */
#ifndef CG_METHODS_MODELS_H
#define CG_METHODS_MODELS_H

#include "agent/llm.h"
#include "gateway/gateway.h"

extern const cg_method cg_methods_models[];

/* Builds the providers from the running configuration as gateway data and follows
 * config changes (a reload or config.set / patch / apply reconfigures them: the next
 * run uses the new configuration, runs in flight finish on the old one). Problems in the
 * configuration are logged. Call after cg_gateway_start, before the loop runs, and
 * before the chat engine attaches (its stop hook must run first: see below). */
void cg_methods_models_attach(cg_gateway *gw);

/* The providers, or NULL before attach and once the gateway is stopping. Use it for one
 * cg_llm_start at a time rather than keeping it: when the gateway stops, cg_llm_free
 * cancels whatever streams are left (without on_done), so owners of streams must cancel
 * theirs first (gateway data stop hooks run newest first: attach after this). */
cg_llm *cg_gateway_llm(cg_gateway *gw);

#endif
