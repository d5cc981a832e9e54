/* The OpenAI-compatible HTTP API (src/methods/openai_http.c), off unless
 * gateway.http.endpoints.chatCompletions.enabled: POST /v1/chat/completions runs a turn
 * of an agent through the run engine (methods/runs.h), answered as one chat.completion
 * or streamed as chat.completion.chunk Server-Sent Events; GET /v1/models and
 * GET /v1/models/<id> list the agents as models. docs/design.md, "The OpenAI-compatible
 * endpoint", tells the rules. */
#ifndef CG_METHODS_OPENAI_HTTP_H
#define CG_METHODS_OPENAI_HTTP_H

#include "gateway/gateway.h"

/* Registers the routes (they answer 404 while the setting is off; it applies at once).
 * The run engine must be attached before the first request comes. */
void cg_methods_openai_http_attach(cg_gateway *gw);

#endif
