/* Model providers: one streamed completion at a time per cg_llm_stream, over libcurl's
 * multi interface on the libuv loop (never blocking the loop), or a child process for
 * `api: "cli"`, or the built-in `offline` provider. A domain module: no gateway header.
 *
 * Configuration is OpenClaw's: models.providers.<id> = {baseUrl, apiKey, api, headers?,
 * models: [{id, name, contextWindow, maxTokens, reasoning?, input?}]} with api
 * "openai-completions" (the default when baseUrl is set), "anthropic-messages", or
 * clawgate's "cli" ({command: [argv...]}); agents.defaults.model = "<provider>/<model>"
 * or {primary, fallbacks}. OPENAI_API_KEY / ANTHROPIC_API_KEY (and *_BASE_URL) configure
 * those providers when the config names none; with nothing at all, `offline` answers
 * that no model is configured and how to add one.
 *
 * Retry policy (docs/design.md): a 429 or 5xx before any output is retried with
 * back-off, honouring Retry-After, at most 3 times within 60 s; after output started
 * nothing is retried. Fallback models are tried in order when a provider fails before
 * streaming starts. */
#ifndef CG_AGENT_LLM_H
#define CG_AGENT_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct cg_llm cg_llm;               /* the providers of one configuration */
typedef struct cg_llm_stream cg_llm_stream; /* one streamed completion */

typedef struct cg_llm_usage {
    int64_t input, output; /* tokens; 0 when the provider did not say */
} cg_llm_usage;

/* How a completion ended. Strings live until on_done returns. */
typedef struct cg_llm_outcome {
    const char *error_kind;       /* NULL on success; else "auth", "rate_limit", "server",
                                     "network", "timeout", "cancelled", "config", "input" */
    const char *error_message;    /* a message a user can act on (NULL on success) */
    const char *stop_reason;      /* "stop", "length", "tool_calls" (ended: tools are not
                                     available), or the provider's own */
    const char *note;             /* NULL, or a note to show with the text (tools unavailable) */
    const char *provider, *model; /* what answered (after fallbacks) */
    cg_llm_usage usage;
    bool streamed; /* some text was delivered before the end */
} cg_llm_outcome;

typedef struct cg_llm_callbacks {
    /* Text appended to the reply (UTF-8, never split inside a character). */
    void (*on_delta)(const char *text, size_t len, void *data);
    /* Exactly once, unless the stream was cancelled first. The stream is freed after. */
    void (*on_done)(const cg_llm_outcome *outcome, void *data);
} cg_llm_callbacks;

typedef struct cg_llm_request {
    const char *model;      /* "<provider>/<model>", or NULL: agents.defaults.model */
    const char *system;     /* system prompt, or NULL */
    const json_t *messages; /* [{role: "user"|"assistant", content: "text" or [{type:
                               "text", text} | {type: "image", mimeType, data (base64)}]}] */
    const char *thinking;   /* NULL, or a thinking level ("low", "medium", "high") */
} cg_llm_request;

/* Providers from a resolved configuration document (secrets in clear). Config problems
 * (an api value clawgate does not support, a model string naming no provider) are
 * appended to issues as {path, message}. */
cg_llm *cg_llm_new(uv_loop_t *loop, const json_t *config_doc, json_t *issues);
/* Cancels every stream (no on_done) and frees; handles close on the loop's next turns. */
void cg_llm_free(cg_llm *llm);
/* Replaces the configuration (a config reload or write): the next cg_llm_start uses it;
 * streams in flight go on with the one they started with. Issues as for cg_llm_new. */
void cg_llm_configure(cg_llm *llm, const json_t *config_doc, json_t *issues);

/* Starts a completion. NULL never: a request that cannot start ends through on_done on
 * a later loop turn (error_kind "config" or "input"). */
cg_llm_stream *cg_llm_start(cg_llm *llm, const cg_llm_request *req, const cg_llm_callbacks *cb,
                            void *data);
/* Closes the upstream request at once; on_done is never called. */
void cg_llm_cancel(cg_llm_stream *stream);

/* models.list's entries: [{id, name, provider, contextWindow, reasoning, available, input?}]
 * (configured models, plus GET {baseUrl}/models discovery for OpenAI-compatible servers,
 * cached). New ref. */
json_t *cg_llm_catalog(cg_llm *llm);
/* The catalog once discovery is fresh: GET {baseUrl}/models of every OpenAI-compatible
 * provider that lists no models itself, cached for a minute (failures for 10 s; refresh
 * forces it), each bounded by 5 s. done gets the catalog (a new ref) on a later loop
 * turn, unless cancelled first. */
typedef struct cg_llm_catalog_req cg_llm_catalog_req;
typedef void (*cg_llm_catalog_done)(json_t *models, void *data);
cg_llm_catalog_req *cg_llm_catalog_async(cg_llm *llm, bool refresh, cg_llm_catalog_done done,
                                         void *data);
void cg_llm_catalog_cancel(cg_llm_catalog_req *req);
/* models.authStatus: which providers have credentials. New ref. */
json_t *cg_llm_auth_status(cg_llm *llm);
/* Whether model ("<provider>/<model>" or NULL for the default) accepts images. */
bool cg_llm_accepts_images(cg_llm *llm, const char *model);

#endif
