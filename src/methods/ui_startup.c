/* The methods the real OpenClaw Control UI (openclaw 2026.9.6) calls at startup that
 * no other family answers (issue 11). Each answers truthfully for what clawgate has,
 * in the real gateway's shape (the schema's <Method>Result, else its handler):
 *
 *   update.status                {sentinel: null, updateAvailable: null}: clawgate has
 *                                no update channel and makes no network check, so there
 *                                is no restart sentinel and no known update (admin).
 *   sessions.observer.visibility {visible} -> {ok: true}. The real gateway records per
 *                                connection whether its observer HUD is on screen, to
 *                                send observer summaries; clawgate produces none, so the
 *                                flag has no consumer and is only checked.
 *   question.list                {questions: []}: no agent tool asks questions here
 *                                (operator.questions, as the real method table has it).
 *   talk.catalog                 an empty catalog: no modes, transports or brains, and
 *                                no speech, transcription or realtime providers.
 *   progressCard.get             {card: null}: no run writes progress cards here.
 *   sessions.branches.list       the one line a clawgate transcript has (no rewind or
 *                                fork): a session with messages answers one active
 *                                branch {leafEntryId: its last message's sequence
 *                                number, headline: its last message preview,
 *                                messageCount}; an empty or unknown session none.
 *   sessions.companion.state     {exchanges: []}: there is no side companion.
 *   tasks.list                   {tasks: []}: no background task ledger.
 *   chat.startup                 the real one is chat.history plus a short-link form:
 *                                with sessionKey it answers what chat.history answers
 *                                (the same handler); {shortId (8-32 hex digits, as the
 *                                real validator asks), agentId} answers
 *                                {resolution: {ok: false}} since clawgate makes no
 *                                short chat links, the real answer for a missing one.
 *   chat.metadata                {models: the providers' catalog (as models.list),
 *                                commands: [], swarmEnabled: false, accountSelection:
 *                                automatic (clawgate has no per-session auth profile:
 *                                a provider's configured credential serves every turn)},
 *                                with runtimeSelectionLocked: false for a sessionKey
 *                                (clawgate has one runtime). Like the real answer it
 *                                names no agent (recorded:
 *                                tests/fixtures/real-gateway/ui-startup-*.frames.json).
 *
 * None of them keeps state, so the family needs no attach. Params are checked as the
 * real validators do (closed objects); a check fails with INVALID_REQUEST. */
#include <stdio.h>
#include <string.h>

#include "gateway/gateway.h"
#include "gateway/methods.h"
#include "methods/models.h"
#include "methods/sessions.h"

/* ---- update.status ---- */

static int check_update_status(const json_t *params, char *err, size_t errlen)
{
    int refresh = 0;
    return cg_params_unpack(params, err, errlen, "{s?b}", "refreshCheckout", &refresh);
}

static void handle_update_status(cg_req *req)
{
    cg_req_ok(req, json_pack("{s:n, s:n}", "sentinel", "updateAvailable"));
}

/* ---- sessions.observer.visibility ---- */

static int check_observer_visibility(const json_t *params, char *err, size_t errlen)
{
    int visible;
    return cg_params_unpack(params, err, errlen, "{s:b}", "visible", &visible);
}

static void handle_observer_visibility(cg_req *req)
{
    cg_req_ok(req, json_pack("{s:b}", "ok", 1));
}

/* ---- question.list, progressCard.get, sessions.companion.state ---- */

static void handle_question_list(cg_req *req)
{
    cg_req_ok(req, json_pack("{s:[]}", "questions"));
}

static int nonempty(const char *name, const char *value, char *err, size_t errlen)
{
    if (value && !*value) {
        snprintf(err, errlen, "%s must not be empty", name);
        return -1;
    }
    return 0;
}

static int check_progress_card(const json_t *params, char *err, size_t errlen)
{
    const char *key;
    if (cg_params_unpack(params, err, errlen, "{s:s}", "sessionKey", &key)) return -1;
    return nonempty("sessionKey", key, err, errlen);
}

static void handle_progress_card(cg_req *req)
{
    cg_req_ok(req, json_pack("{s:n}", "card"));
}

/* {sessionKey, agentId?}: sessions.branches.list and sessions.companion.state. */
static int check_session_ref(const json_t *params, char *err, size_t errlen)
{
    const char *key, *agent = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s?s}", "sessionKey", &key, "agentId", &agent))
        return -1;
    if (nonempty("sessionKey", key, err, errlen)) return -1;
    return nonempty("agentId", agent, err, errlen);
}

static void handle_companion_state(cg_req *req)
{
    cg_req_ok(req, json_pack("{s:[]}", "exchanges"));
}

/* ---- sessions.branches.list ---- */

static void handle_branches_list(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    json_t *error = NULL;
    const char *agent = json_string_value(json_object_get(req->params, "agentId"));
    if (!cg_methods_session_key(req->gw,
                                json_string_value(json_object_get(req->params, "sessionKey")),
                                agent, key, sizeof key, &error)) {
        cg_req_error_shape(req, error);
        return;
    }
    json_t *branches = json_array();
    const cg_session *s = cg_sessions_find(cg_gateway_sessions(req->gw), key);
    if (s && s->message_count > 0) {
        char leaf[24];
        snprintf(leaf, sizeof leaf, "%lld", (long long)s->message_count);
        json_array_append_new(branches,
                              json_pack("{s:s, s:s, s:I, s:b}", "leafEntryId", leaf, "headline",
                                        s->last_preview ? s->last_preview : "", "messageCount",
                                        (json_int_t)s->message_count, "active", 1));
    }
    cg_req_ok(req, json_pack("{s:o}", "branches", branches));
}

/* ---- tasks.list ---- */

static bool task_status_known(const json_t *v)
{
    static const char *const statuses[] = {"queued", "running",   "completed",
                                           "failed", "cancelled", "timed_out"};
    for (size_t i = 0; json_is_string(v) && i < sizeof statuses / sizeof statuses[0]; i++)
        if (!strcmp(json_string_value(v), statuses[i])) return true;
    return false;
}

/* TasksListParams, plus sortBy, which the 2026.9.6 UI sends for finished tasks. */
static int check_tasks_list(const json_t *params, char *err, size_t errlen)
{
    const char *agent = NULL, *key = NULL, *cursor = NULL, *sort = NULL;
    json_t *status = NULL, *limit = NULL;
    if (cg_params_unpack(params, err, errlen, "{s?o, s?s, s?s, s?o, s?s, s?s}", "status", &status,
                         "agentId", &agent, "sessionKey", &key, "limit", &limit, "cursor", &cursor,
                         "sortBy", &sort))
        return -1;
    if (nonempty("agentId", agent, err, errlen) || nonempty("sessionKey", key, err, errlen))
        return -1;
    bool status_ok = !status || task_status_known(status);
    if (json_is_array(status)) {
        size_t i;
        json_t *v;
        status_ok = true;
        json_array_foreach(status, i, v) status_ok = status_ok && task_status_known(v);
    }
    if (!status_ok) {
        snprintf(err, errlen,
                 "status must be queued, running, completed, failed, cancelled or "
                 "timed_out (or a list of them)");
        return -1;
    }
    if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
                  json_integer_value(limit) > 500)) {
        snprintf(err, errlen, "limit must be an integer from 1 to 500");
        return -1;
    }
    if (cursor && strlen(cursor) > 512) {
        snprintf(err, errlen, "cursor is too long");
        return -1;
    }
    return 0;
}

static void handle_tasks_list(cg_req *req)
{
    cg_req_ok(req, json_pack("{s:[]}", "tasks"));
}

/* ---- talk.catalog ---- */

/* TalkCatalogParams is {}; the UI's video probe sends the provider and model it uses. */
static int check_talk_catalog(const json_t *params, char *err, size_t errlen)
{
    const char *provider = NULL, *model = NULL;
    return cg_params_unpack(params, err, errlen, "{s?s, s?s}", "provider", &provider, "model",
                            &model);
}

static void handle_talk_catalog(cg_req *req)
{
    cg_req_ok(req,
              json_pack("{s:[], s:[], s:[], s:{s:b, s:[]}, s:{s:b, s:[]}, s:{s:b, s:[]}}", "modes",
                        "transports", "brains", "speech", "ready", 0, "providers", "transcription",
                        "ready", 0, "providers", "realtime", "ready", 0, "providers"));
}

/* ---- chat.startup ---- */

static int check_history_limits(const json_t *params, char *err, size_t errlen)
{
    const json_t *limit = json_object_get(params, "limit");
    const json_t *max_bytes = json_object_get(params, "maxBytes");
    if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
                  json_integer_value(limit) > 1000)) {
        snprintf(err, errlen, "limit must be an integer from 1 to 1000");
        return -1;
    }
    if (max_bytes && (!json_is_integer(max_bytes) || json_integer_value(max_bytes) < 1024)) {
        snprintf(err, errlen, "maxBytes must be an integer of at least 1024");
        return -1;
    }
    return 0;
}

/* A short chat link id: 8 to 32 hexadecimal digits (the real gateway's check). */
static int short_id_valid(const char *id)
{
    size_t n = strspn(id, "0123456789abcdefABCDEF");
    return id[n] == '\0' && n >= 8 && n <= 32;
}

/* ChatStartupParams: ChatHistoryParams, or {shortId, slugHint?, agentId, limit?,
 * maxBytes?}. */
static int check_chat_startup(const json_t *params, char *err, size_t errlen)
{
    const char *key = NULL, *s = NULL;
    json_t *o = NULL;
    if (json_object_get(params, "shortId")) {
        const char *short_id, *agent;
        if (cg_params_unpack(params, err, errlen, "{s:s, s?s, s:s, s?o, s?o}", "shortId", &short_id,
                             "slugHint", &s, "agentId", &agent, "limit", &o, "maxBytes", &o))
            return -1;
        if (!short_id_valid(short_id)) {
            snprintf(err, errlen, "shortId must be 8-32 hexadecimal characters");
            return -1;
        }
        if (nonempty("agentId", agent, err, errlen)) return -1;
        return check_history_limits(params, err, errlen);
    }
    if (cg_params_unpack(params, err, errlen,
                         "{s:s, s?s, s?s, s?o, s?o, s?o, s?o, s?o, s?s, s?s, s?o}", "sessionKey",
                         &key, "agentId", &s, "cursor", &s, "limit", &o, "maxBytes", &o, "offset",
                         &o, "pendingBefore", &o, "inputRunIds", &o, "messageId", &s, "sessionId",
                         &s, "maxChars", &o))
        return -1;
    if (nonempty("sessionKey", key, err, errlen)) return -1;
    return check_history_limits(params, err, errlen);
}

static void handle_chat_startup(cg_req *req)
{
    if (!json_object_get(req->params, "sessionKey")) {
        cg_req_ok(req, json_pack("{s:{s:b}}", "resolution", "ok", 0));
        return;
    }
    /* The first page of the conversation is chat.history's answer. */
    const cg_method *history = cg_method_find("chat.history");
    if (!history) {
        cg_req_error(req, "UNAVAILABLE", "chat history is not available", NULL);
        return;
    }
    history->handler(req);
}

/* ---- chat.metadata ---- */

static int check_chat_metadata(const json_t *params, char *err, size_t errlen)
{
    const char *agent = NULL, *key = NULL;
    if (cg_params_unpack(params, err, errlen, "{s?s, s?s}", "agentId", &agent, "sessionKey", &key))
        return -1;
    if (nonempty("agentId", agent, err, errlen)) return -1;
    return nonempty("sessionKey", key, err, errlen);
}

static void handle_chat_metadata(cg_req *req)
{
    const char *agent = json_string_value(json_object_get(req->params, "agentId"));
    const char *key = json_string_value(json_object_get(req->params, "sessionKey"));
    char canonical[CG_SESSION_KEY_BUF];
    json_t *error = NULL;
    /* Resolved only to refuse what the real gateway refuses (an unknown agent, a key of
     * another agent): a bare or absent key belongs to the given agent, else the default. */
    if (!cg_methods_session_key(req->gw, key ? key : "main", agent, canonical, sizeof canonical,
                                &error)) {
        cg_req_error_shape(req, error);
        return;
    }
    cg_llm *llm = cg_gateway_llm(req->gw);
    json_t *result =
        json_pack("{s:o, s:[], s:b, s:{s:s, s:s}}", "models",
                  llm ? cg_llm_catalog(llm) : json_array(), "commands", "swarmEnabled", 0,
                  "accountSelection", "kind", "automatic", "label", "Automatic account selection");
    if (key) json_object_set_new(result, "runtimeSelectionLocked", json_false());
    cg_req_ok(req, result);
}

const cg_method cg_methods_ui_startup[] = {
    {.name = "update.status",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_update_status,
     .handler = handle_update_status,
     .summary = "No restart sentinel and no known update: clawgate checks for none."},
    {.name = "sessions.observer.visibility",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_observer_visibility,
     .handler = handle_observer_visibility,
     .summary = "Accepts the UI's observer visibility; clawgate sends no observer summaries."},
    {.name = "question.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_QUESTIONS,
     .check = cg_params_check_empty,
     .handler = handle_question_list,
     .summary = "Pending agent questions: none (no tool asks questions here)."},
    {.name = "talk.catalog",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_talk_catalog,
     .handler = handle_talk_catalog,
     .summary = "Talk modes and providers: an empty catalog (no voice providers)."},
    {.name = "progressCard.get",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_progress_card,
     .handler = handle_progress_card,
     .summary = "A session's progress card: none (no run writes one)."},
    {.name = "sessions.branches.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_session_ref,
     .handler = handle_branches_list,
     .summary = "A session's transcript branches: its one line (none when empty)."},
    {.name = "sessions.companion.state",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_session_ref,
     .handler = handle_companion_state,
     .summary = "A session's side-companion exchanges: none."},
    {.name = "tasks.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_tasks_list,
     .handler = handle_tasks_list,
     .summary = "Background tasks: none (clawgate keeps no task ledger)."},
    {.name = "chat.startup",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_chat_startup,
     .handler = handle_chat_startup,
     .summary = "A chat's first history page (as chat.history); short chat links resolve to "
                "none."},
    {.name = "chat.metadata",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_chat_metadata,
     .handler = handle_chat_metadata,
     .summary = "An agent's chat metadata: its model catalog, no text commands, no swarm."},
    {.name = NULL},
};
