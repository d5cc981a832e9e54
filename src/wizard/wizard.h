/* The onboarding wizard's engine (issue 10): one session walks a person through the
 * first configuration, one step at a time, and writes it once at the end.
 *
 * A domain module over config/ and agent/ (no gateway header): wizard.* (methods/wizard.c)
 * and `clawgate onboard` (cli/onboard.c) drive the same engine. The steps, in order:
 *   auth-mode (select token|password|none), auth-token (text, sensitive; empty
 *   generates one) or auth-password (text, sensitive), model-provider (select openai,
 *   anthropic, openai-compatible, skip), model-base-url (text; openai-compatible only),
 *   model-api-key (text, sensitive; checked with a live call to the provider's model
 *   list), model-default (select among the models the provider listed), workspace
 *   (text, absolute or ~/), agent-id (text, default main), agent-name (text, optional),
 *   confirm (confirm, with the summary in its message; no cancels).
 * Each step is a schema WizardStep. An answer that does not validate leaves the step
 * current with the reason prepended to its message and kept in cg_wizard_answer_error.
 *
 * Two answers work asynchronously (cg_wizard_busy() is true until they finish, and
 * on_update is called then): the API key check (GET <baseUrl>/models, Bearer key, or
 * Anthropic's /v1/models with x-api-key, through the libcurl multi client: 401/403
 * "refused the key", a network failure, another status are asked again), and the final
 * write: one RFC 7396 merge patch through the config store (cg_config_patch_async:
 * validated, temp file, fsync, rename), with OpenClaw's key names:
 *   gateway.auth {mode, token | password}, models.providers.<id> {baseUrl, apiKey, api,
 *   models: [{id, name}]}, agents.defaults.model.primary "<id>/<model>",
 *   agents.defaults.workspace (main) or agents.entries.<id>.workspace, and
 *   agents.entries.<id>.name.
 * Keys the wizard does not ask about stay as they are. Until that write nothing is
 * written: a cancel, an idle timeout (no answer for idle_timeout_ms: status cancelled)
 * or a session freed midway leaves the file untouched. Once the write started, the
 * session cannot be cancelled (its result decides: done, or error with the reason).
 *
 * Everything runs on the loop thread. */
#ifndef CG_WIZARD_WIZARD_H
#define CG_WIZARD_WIZARD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/http_client.h"
#include "config/config.h"

#define CG_WIZARD_DEFAULT_IDLE_TIMEOUT_MS (30 * 60 * 1000)
/* Model ids kept from a provider's list (the select's options). */
#define CG_WIZARD_MAX_MODELS 200

typedef enum {
    CG_WIZARD_RUNNING,
    CG_WIZARD_DONE,
    CG_WIZARD_CANCELLED,
    CG_WIZARD_ERROR,
} cg_wizard_status;

typedef struct cg_wizard cg_wizard;
/* The session moved on its own: an asynchronous answer finished (a new step, the same
 * step with an error, or the end) or the idle timeout ended it. */
typedef void (*cg_wizard_update_fn)(cg_wizard *w, void *data);

typedef struct cg_wizard_options {
    uv_loop_t *loop;
    cg_config *cfg;           /* read for defaults, written once at the end */
    cg_http *http;            /* the key check's client */
    uint64_t idle_timeout_ms; /* 0: never */
    const char *workspace;    /* the workspace step's initial value, or NULL */
    cg_wizard_update_fn on_update;
    void *data;
} cg_wizard_options;

cg_wizard *cg_wizard_new(const cg_wizard_options *opt);
/* Ends the session (nothing written unless the write already started) and frees it; a
 * key check in flight is cancelled, a write in flight finishes first. No more
 * on_update. Handles close on the next loop turns. */
void cg_wizard_free(cg_wizard *w);

cg_wizard_status cg_wizard_status_of(const cg_wizard *w);
const char *cg_wizard_status_name(cg_wizard_status status);
/* Why the session ended (cancelled, timed out, the write refused), or NULL. */
const char *cg_wizard_error(const cg_wizard *w);
/* A key check or the write is in flight: no step until on_update. */
bool cg_wizard_busy(const cg_wizard *w);
/* Whether the current step (if any) wants its answer unechoed. */
bool cg_wizard_step_sensitive(const cg_wizard *w);

/* The current step as a WizardStep, or NULL when busy or ended. New ref. */
json_t *cg_wizard_step(const cg_wizard *w);
/* {done, step?, status, error?} (WizardNextResult). New ref. */
json_t *cg_wizard_result(const cg_wizard *w);

/* Answers the current step. -1 with err when the answer cannot be taken at all (not
 * running, busy, step_id is not the current step); 0 otherwise: the session moved on,
 * asked the step again (cg_wizard_answer_error says why), or became busy. */
int cg_wizard_answer(cg_wizard *w, const char *step_id, const json_t *value, char *err,
                     size_t errlen);
/* Why the last answer was refused (the step is asked again), or NULL. */
const char *cg_wizard_answer_error(const cg_wizard *w);

/* Cancels a running session (nothing is written). false when it is not running or its
 * write already started. */
bool cg_wizard_cancel(cg_wizard *w);

#endif
