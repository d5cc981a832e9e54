/* The sessions.* methods (issue 9) over agent/sessions.c, shaped as the real gateway
 * answers them:
 *   sessions.list           rows (SessionRow) newest first, filtered and paged
 *   sessions.subscribe      sessions.changed / session.message to this connection (with
 *                           list params: also the list, {subscribed, list})
 *   sessions.messages.subscribe / unsubscribe
 *                           session.message of one session to this connection
 *   sessions.preview        the last items ({role, text}) of up to 64 sessions
 *   sessions.describe       one row, or null
 *   sessions.resolve        a key from a key, session id, short id or label
 *   sessions.patch          label, model override, thinking level and the other display
 *                           settings clawgate keeps (others refused by the params check)
 *   sessions.reset          a new transcript (main keeps its session id)
 *   sessions.delete         archives the transcript (main refused)
 *   sessions.compact        keeps the newest maxLines messages (default 400); summarizing
 *                           older turns with the model is not done yet
 * Changes answer after their commit (cg_req_hold). Scopes: the seed's table (list and
 * preview read; patch, reset, delete, compact write); the others as the schema says
 * (read). */
#include "methods/sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "gateway/methods.h"
#include "proto/frame.h"

#define DEFAULT_COMPACT_LINES 400
#define LIST_MAX_ROWS 1000
#define PREVIEW_MAX_KEYS 64
#define MAX_SUBSCRIBED_KEYS 256
#define MAX_HOOKS 8

typedef struct sessions_state {
    cg_gateway *gw;
    cg_sessions *sessions;
    cg_agents *agents;
    struct {
        cg_sessions_change_hook fn;
        void *data;
    } hooks[MAX_HOOKS];
    size_t n_hooks;
} sessions_state;

static void free_state(void *data)
{
    sessions_state *st = data;
    cg_sessions_free(st->sessions);
    cg_agents_free(st->agents);
    free(st);
}

static void stop_state(void *data)
{
    sessions_state *st = data;
    cg_sessions_stop(st->sessions);
}

static const cg_conn_key state_key = {
    .name = "sessions", .free_data = free_state, .stop = stop_state};

static sessions_state *state_of(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &state_key);
}

cg_sessions *cg_gateway_sessions(cg_gateway *gw)
{
    sessions_state *st = state_of(gw);
    return st ? st->sessions : NULL;
}

cg_agents *cg_gateway_agents(cg_gateway *gw)
{
    sessions_state *st = state_of(gw);
    return st ? st->agents : NULL;
}

void cg_methods_sessions_add_hook(cg_gateway *gw, cg_sessions_change_hook fn, void *data)
{
    sessions_state *st = state_of(gw);
    if (!st || st->n_hooks == MAX_HOOKS) return;
    st->hooks[st->n_hooks].fn = fn;
    st->hooks[st->n_hooks].data = data;
    st->n_hooks++;
}

static void run_hooks(sessions_state *st, const char *key, const char *reason)
{
    for (size_t i = 0; i < st->n_hooks; i++)
        st->hooks[i].fn(st->gw, key, reason, st->hooks[i].data);
}

/* ---- subscriptions (per connection) ---- */

typedef struct conn_subs {
    bool sessions; /* sessions.subscribe */
    char *keys[MAX_SUBSCRIBED_KEYS];
    size_t n;
} conn_subs;

static void free_subs(void *data)
{
    conn_subs *subs = data;
    for (size_t i = 0; i < subs->n; i++)
        free(subs->keys[i]);
    free(subs);
}

static const cg_conn_key subs_key = {.name = "sessions.subscriptions", .free_data = free_subs};

static conn_subs *subs_of(cg_conn *c, bool create)
{
    conn_subs *subs = cg_conn_get_data(c, &subs_key);
    if (!subs && create) {
        subs = cg_xcalloc(1, sizeof *subs);
        cg_conn_set_data(c, &subs_key, subs);
    }
    return subs;
}

static bool subs_has_key(const conn_subs *subs, const char *key)
{
    for (size_t i = 0; subs && i < subs->n; i++)
        if (strcmp(subs->keys[i], key) == 0) return true;
    return false;
}

static bool may_read(const cg_conn *c)
{
    return cg_conn_role(c) == CG_ROLE_OPERATOR &&
           (cg_conn_scopes(c) & (CG_SCOPEBIT_READ | CG_SCOPEBIT_WRITE | CG_SCOPEBIT_ADMIN));
}

typedef struct fanout {
    const char *event;
    json_t *payload;
    const char *key; /* also to connections subscribed to this key; NULL: none */
    unsigned flags;
} fanout;

static void send_to_subscriber(cg_conn *c, void *data)
{
    fanout *f = data;
    conn_subs *subs = subs_of(c, false);
    if (!subs || !may_read(c)) return;
    if (subs->sessions || (f->key && subs_has_key(subs, f->key)))
        cg_conn_send_event(c, f->event, json_incref(f->payload), f->flags);
}

static void fan_out(cg_gateway *gw, const char *event, json_t *payload, const char *key,
                    unsigned flags)
{
    fanout f = {.event = event, .payload = payload, .key = key, .flags = flags};
    cg_gateway_foreach_conn(gw, send_to_subscriber, &f);
    json_decref(payload);
}

/* ---- keys and rows ---- */

static json_t *invalid(const char *message, json_t *details)
{
    return cg_error_new(CG_ERR_INVALID_REQUEST, message, details);
}

const char *cg_methods_session_key(cg_gateway *gw, const char *key, const char *agent_id, char *out,
                                   size_t outlen, json_t **error)
{
    *error = NULL;
    char msg[CG_SESSION_KEY_MAX + 160];
    char want[CG_AGENT_ID_MAX + 1] = "";
    if (agent_id && !cg_agent_id_normalize(agent_id, want, sizeof want)) {
        snprintf(msg, sizeof msg, "Unknown agent id \"%.64s\"", agent_id);
        *error = invalid(msg, json_pack("{s:s}", "code", "UNKNOWN_AGENT_ID"));
        return NULL;
    }
    if (!key || !cg_session_key_canonical(key, want[0] ? want : NULL, out, outlen)) {
        snprintf(msg, sizeof msg, "invalid session key \"%.512s\"", key ? key : "");
        *error = invalid(msg, NULL);
        return NULL;
    }
    char agent[CG_AGENT_ID_MAX + 1];
    cg_session_key_agent(out, agent, sizeof agent);
    if (want[0] && strcmp(want, agent) != 0) {
        snprintf(msg, sizeof msg, "agent \"%.64s\" does not match session key agent \"%s\"",
                 agent_id, agent);
        *error = invalid(msg, NULL);
        return NULL;
    }
    cg_agent *found = cg_agents_find(cg_gateway_agents(gw), agent);
    if (!found) {
        snprintf(msg, sizeof msg, "Unknown agent id \"%s\"", agent);
        *error = invalid(msg, json_pack("{s:s}", "code", "UNKNOWN_AGENT_ID"));
        return NULL;
    }
    cg_agent_free(found);
    return out;
}

/* "provider/model" split; a bare model has no provider. */
static void split_model(const char *ref, json_t *into, const char *provider_key,
                        const char *model_key)
{
    const char *slash = ref ? strchr(ref, '/') : NULL;
    if (!ref || !*ref) return;
    if (slash && slash != ref && slash[1]) {
        json_object_set_new(into, provider_key, json_stringn(ref, (size_t)(slash - ref)));
        json_object_set_new(into, model_key, json_string(slash + 1));
    } else {
        json_object_set_new(into, model_key, json_string(ref));
    }
}

/* agents.defaults.model ("provider/model" or {primary}), or NULL. Borrowed. */
static const char *default_model(cg_gateway *gw)
{
    const json_t *model = json_object_get(
        json_object_get(json_object_get(cg_config_document(cg_gateway_config(gw)), "agents"),
                        "defaults"),
        "model");
    if (json_is_object(model)) model = json_object_get(model, "primary");
    return json_string_value(model);
}

/* The contextWindow configured for ref ("provider/model") in models.providers, as a JSON
 * number, or null when it names no configured model (as the real gateway's list header). */
static json_t *context_window_of(cg_gateway *gw, const char *ref)
{
    const char *slash = ref ? strchr(ref, '/') : NULL;
    if (!slash || slash == ref || !slash[1]) return json_null();
    const json_t *providers = json_object_get(
        json_object_get(cg_config_document(cg_gateway_config(gw)), "models"), "providers");
    char provider[128];
    if ((size_t)(slash - ref) >= sizeof provider) return json_null();
    memcpy(provider, ref, (size_t)(slash - ref));
    provider[slash - ref] = '\0';
    const json_t *models = json_object_get(json_object_get(providers, provider), "models");
    size_t i;
    const json_t *m;
    json_array_foreach(models, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        const json_t *ctx = json_object_get(m, "contextWindow");
        if (id && !strcmp(id, slash + 1) && json_is_integer(ctx))
            return json_integer(json_integer_value(ctx));
    }
    return json_null();
}

json_t *cg_methods_session_row(cg_gateway *gw, const cg_session *sess, bool include_last_message)
{
    bool is_main = cg_session_key_is_main(sess->key);
    json_t *row =
        json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:b, s:b, s:b, s:I, s:I, s:I}", "key",
                  sess->key, "sessionId", sess->session_id, "kind", "direct", "agentId",
                  sess->agent_id, "isMain", is_main, "isBackground", 0, "updatedAt",
                  (json_int_t)sess->updated_at_ms, "createdAt", (json_int_t)sess->created_at_ms,
                  "archived", 0, "pinned", json_is_integer(json_object_get(sess->meta, "pinnedAt")),
                  "unread", json_is_true(json_object_get(sess->meta, "unread")), "inputTokens",
                  (json_int_t)sess->input_tokens, "outputTokens", (json_int_t)sess->output_tokens,
                  "totalTokens", (json_int_t)(sess->input_tokens + sess->output_tokens));
    /* As the real gateway classifies them: its main session, keys of runs without a key
     * (agent:<id>:explicit:...), and the rest "direct" (it says "custom" for sessions an
     * agent run created under a key of its caller's; clawgate does not tell them apart). */
    json_object_set_new(row, "classification",
                        json_string(is_main                           ? "main"
                                    : strstr(sess->key, ":explicit:") ? "explicit"
                                                                      : "direct"));
    const char *label = json_string_value(json_object_get(sess->meta, "label"));
    if (label) {
        json_object_set_new(row, "label", json_string(label));
        json_object_set_new(row, "displayName", json_string(label));
    }
    static const char *const copied[] = {"icon",          "color",        "category",
                                         "thinkingLevel", "verboseLevel", "reasoningLevel",
                                         "fastMode",      "pinnedAt",     NULL};
    for (size_t i = 0; copied[i]; i++) {
        json_t *v = json_object_get(sess->meta, copied[i]);
        if (v && !json_is_null(v)) json_object_set(row, copied[i], v);
    }
    /* The model the session runs on, as the real rows carry it: its override, else the
     * configured default (none without one); modelOverrideSource says which. */
    const char *model = json_string_value(json_object_get(sess->meta, "model"));
    split_model(model ? model : default_model(gw), row, "modelProvider", "model");
    json_object_set_new(row, "modelOverrideSource", model ? json_string("user") : json_null());
    if (include_last_message && sess->last_preview)
        json_object_set_new(row, "lastMessagePreview", json_string(sess->last_preview));
    if (sess->message_count > 0) {
        json_object_set_new(row, "lastInteractionAt", json_integer(sess->updated_at_ms));
        json_object_set_new(row, "lastActivityAt", json_integer(sess->updated_at_ms));
    }
    if (sess->running) json_object_set_new(row, "status", json_string("running"));
    return row;
}

/* The sessions.changed payload for a key (canonical). */
static json_t *changed_payload(cg_gateway *gw, const char *key, const char *agent_id,
                               const char *session_id, const char *reason)
{
    json_t *p = json_pack("{s:s, s:s, s:I}", "sessionKey", key, "reason", reason, "ts",
                          (json_int_t)cg_now_ms());
    char agent[CG_AGENT_ID_MAX + 1];
    if (agent_id)
        json_object_set_new(p, "agentId", json_string(agent_id));
    else if (cg_session_key_agent(key, agent, sizeof agent))
        json_object_set_new(p, "agentId", json_string(agent));
    const cg_session *sess =
        strcmp(reason, "delete") ? cg_sessions_find(cg_gateway_sessions(gw), key) : NULL;
    if (sess) {
        json_object_set_new(p, "sessionId", json_string(sess->session_id));
        json_object_set_new(p, "updatedAt", json_integer(sess->updated_at_ms));
        json_object_set_new(p, "kind", json_string("direct"));
        json_object_set_new(p, "session", cg_methods_session_row(gw, sess, true));
    } else if (session_id) {
        json_object_set_new(p, "sessionId", json_string(session_id));
    }
    return p;
}

static void announce(cg_gateway *gw, const char *key, const char *agent_id, const char *session_id,
                     const char *reason)
{
    fan_out(gw, "sessions.changed", changed_payload(gw, key, agent_id, session_id, reason), NULL,
            CG_EVENT_DROPPABLE);
}

void cg_methods_sessions_changed(cg_gateway *gw, const char *key, const char *reason)
{
    if (!state_of(gw) || !key) return;
    char canonical[CG_SESSION_KEY_BUF];
    if (!cg_session_key_canonical(key, NULL, canonical, sizeof canonical)) return;
    announce(gw, canonical, NULL, NULL, reason ? reason : "update");
}

/* The index's listener: new sessions and committed transcript messages. */
static void on_session_event(const cg_session *sess, cg_sessions_event ev, int64_t seq,
                             const json_t *message, void *data)
{
    sessions_state *st = data;
    if (ev == CG_SESSIONS_CREATED) {
        announce(st->gw, sess->key, sess->agent_id, NULL, "create");
        return;
    }
    json_t *msg = json_deep_copy(message);
    json_t *meta = json_object_get(msg, "__openclaw");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(msg, "__openclaw", meta);
    }
    json_object_set_new(meta, "seq", json_integer(seq));
    json_t *payload = json_pack(
        "{s:s, s:s, s:s, s:o, s:I, s:I, s:o}", "sessionKey", sess->key, "agentId", sess->agent_id,
        "sessionId", sess->session_id, "message", msg, "messageSeq", (json_int_t)seq, "updatedAt",
        (json_int_t)sess->updated_at_ms, "session", cg_methods_session_row(st->gw, sess, true));
    fan_out(st->gw, "session.message", payload, sess->key, 0);
}

int cg_methods_sessions_attach(cg_gateway *gw, char *err, size_t errlen)
{
    cg_sessions *sessions =
        cg_sessions_open(cg_gateway_store(gw), cg_gateway_loop(gw), err, errlen);
    if (!sessions) return -1;
    sessions_state *st = cg_xcalloc(1, sizeof *st);
    st->gw = gw;
    st->sessions = sessions;
    st->agents = cg_agents_new(cg_gateway_config(gw), cg_gateway_loop(gw));
    cg_sessions_set_listener(sessions, on_session_event, st);
    cg_gateway_set_data(gw, &state_key, st);
    return 0;
}

/* ---- params ---- */

static const char *const sort_by[] = {"updatedAt", "lastInteractionAt", NULL};
static const char *const board_faces[] = {"chat", "dashboard", NULL};
static const char *const all_value[] = {"all", NULL};
static const char *const reset_reasons[] = {"new", "reset", NULL};
static const char *const true_only[] = {NULL};

#define LIST_FIELDS                                                                                \
    {"limit", CG_PF_INT, 0, 1, 0, NULL}, {"offset", CG_PF_INT, 0, 0, 0, NULL},                     \
        {"activeMinutes", CG_PF_INT, 0, 1, 0, NULL},                                               \
        {"requireLastInteraction", CG_PF_BOOL, 0, 0, 0, NULL},                                     \
        {"sortBy", CG_PF_ENUM, 0, 0, 0, sort_by}, {"includeGlobal", CG_PF_BOOL, 0, 0, 0, NULL},    \
        {"includeUnknown", CG_PF_BOOL, 0, 0, 0, NULL},                                             \
        {"configuredAgentsOnly", CG_PF_BOOL, 0, 0, 0, NULL},                                       \
        {"includeDerivedTitles", CG_PF_BOOL, 0, 0, 0, NULL},                                       \
        {"includeLastMessage", CG_PF_BOOL, 0, 0, 0, NULL},                                         \
        {"label", CG_PF_STRING, 0, 1, 512, NULL}, {"boardFace", CG_PF_ENUM, 0, 0, 0, board_faces}, \
        {"creatorId", CG_PF_STRING, 0, 1, 0, NULL}, {"ownerId", CG_PF_STRING, 0, 1, 0, NULL},      \
        {"ownerFirst", CG_PF_BOOL, 0, 0, 0, NULL}, {"involvingMe", CG_PF_BOOL, 0, 0, 0, NULL},     \
        {"involvingProfileId", CG_PF_STRING, 0, 1, 0, NULL},                                       \
        {"includePeople", CG_PF_BOOL, 0, 0, 0, NULL}, {"spawnedBy", CG_PF_STRING, 0, 1, 0, NULL},  \
        {"agentId", CG_PF_STRING, 0, 1, 0, NULL}, {"search", CG_PF_STRING, 0, 0, 0, NULL},         \
        {"archived", CG_PF_ENUM, CG_PF_OR_BOOL, 0, 0, all_value},                                  \
        {"activeOnly", CG_PF_BOOL, 0, 0, 0, NULL},                                                 \
        {"excludeSubagents", CG_PF_BOOL, 0, 0, 0, NULL},                                           \
        {"excludeCron", CG_PF_BOOL, 0, 0, 0, NULL}, {"excludeSystem", CG_PF_BOOL, 0, 0, 0, NULL},  \
        {"includeActivitySummary", CG_PF_BOOL, 0, 0, 0, NULL},                                     \
    {                                                                                              \
        NULL, 0, 0, 0, 0, NULL                                                                     \
    }

static const cg_param_field list_fields[] = {LIST_FIELDS};

static int check_list(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, list_fields, err, errlen);
}

static const cg_param_field messages_subscribe_fields[] = {
    {"key", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
    {"includeApprovals", CG_PF_ENUM, CG_PF_OR_BOOL, 0, 0, true_only},
    {NULL, 0, 0, 0, 0, NULL}};

static int check_messages_subscribe(const json_t *params, char *err, size_t errlen)
{
    if (cg_params_check_fields(params, messages_subscribe_fields, err, errlen)) return -1;
    if (json_is_false(json_object_get(params, "includeApprovals"))) {
        snprintf(err, errlen, "at /includeApprovals: must be equal to constant");
        return -1;
    }
    return 0;
}

static const cg_param_field key_agent_fields[] = {{"key", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
                                                  {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
                                                  {NULL, 0, 0, 0, 0, NULL}};

static int check_key_agent(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, key_agent_fields, err, errlen);
}

static const cg_param_field preview_fields[] = {
    {"keys", CG_PF_STRING_ARRAY, CG_PF_REQUIRED, 1, 1024, NULL},
    {"limit", CG_PF_INT, 0, 1, 0, NULL},
    {"maxChars", CG_PF_INT, 0, 20, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

static int check_preview(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, preview_fields, err, errlen);
}

static const cg_param_field describe_fields[] = {
    {"key", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
    {"includeDerivedTitles", CG_PF_BOOL, 0, 0, 0, NULL},
    {"includeLastMessage", CG_PF_BOOL, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

static int check_describe(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, describe_fields, err, errlen);
}

static const cg_param_field resolve_fields[] = {{"key", CG_PF_STRING, 0, 1, 0, NULL},
                                                {"sessionId", CG_PF_STRING, 0, 1, 0, NULL},
                                                {"label", CG_PF_STRING, 0, 1, 512, NULL},
                                                {"shortId", CG_PF_STRING, 0, 1, 0, NULL},
                                                {"slugHint", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
                                                {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
                                                {"spawnedBy", CG_PF_STRING, 0, 1, 0, NULL},
                                                {"includeGlobal", CG_PF_BOOL, 0, 0, 0, NULL},
                                                {"includeUnknown", CG_PF_BOOL, 0, 0, 0, NULL},
                                                {"allowMissing", CG_PF_BOOL, 0, 0, 0, NULL},
                                                {NULL, 0, 0, 0, 0, NULL}};

static int check_resolve(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, resolve_fields, err, errlen);
}

/* sessions.patch: what clawgate keeps (display settings, the model override, the
 * thinking level); the schema's other members are refused rather than ignored. */
static const cg_param_field patch_fields[] = {
    {"key", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
    {"expectedSessionId", CG_PF_STRING, 0, 1, 0, NULL},
    {"label", CG_PF_STRING, CG_PF_NULLABLE, 1, 512, NULL},
    {"icon", CG_PF_STRING, CG_PF_NULLABLE, 0, 256, NULL},
    {"color", CG_PF_STRING, CG_PF_NULLABLE, 0, 256, NULL},
    {"category", CG_PF_STRING, CG_PF_NULLABLE, 1, 512, NULL},
    {"pinned", CG_PF_BOOL, 0, 0, 0, NULL},
    {"unread", CG_PF_BOOL, 0, 0, 0, NULL},
    {"thinkingLevel", CG_PF_STRING, CG_PF_NULLABLE, 1, 64, NULL},
    {"verboseLevel", CG_PF_STRING, CG_PF_NULLABLE, 1, 64, NULL},
    {"reasoningLevel", CG_PF_STRING, CG_PF_NULLABLE, 1, 64, NULL},
    {"fastMode", CG_PF_ENUM, CG_PF_NULLABLE | CG_PF_OR_BOOL, 0, 0,
     (const char *const[]){"auto", NULL}},
    {"model", CG_PF_STRING, CG_PF_NULLABLE, 1, 512, NULL},
    {"expectedLifecycleRevision", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"expectedPermissionMode", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"expectedToolOverrides", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"expectedMarkedUnreadAt", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"boardFace", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"statusNote", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"attention", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"ttlMinutes", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"archived", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"contextWindow", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"toolOverrides", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"traceLevel", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"responseUsage", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"elevatedLevel", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"execHost", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"execSecurity", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"execAsk", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"execNode", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"permissionMode", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"completionOwnerSessionKey", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"inheritedToolPolicyVersion", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"inheritedToolAllow", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"inheritedToolDeny", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"sendPolicy", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"groupActivation", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

static int check_patch(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, patch_fields, err, errlen);
}

static const cg_param_field reset_fields[] = {{"key", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
                                              {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
                                              {"reason", CG_PF_ENUM, 0, 0, 0, reset_reasons},
                                              {NULL, 0, 0, 0, 0, NULL}};

static int check_reset(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, reset_fields, err, errlen);
}

static const cg_param_field delete_fields[] = {
    {"key", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
    {"deleteTranscript", CG_PF_BOOL, 0, 0, 0, NULL},
    {"expectedSessionId", CG_PF_STRING, 0, 1, 0, NULL},
    {"expectedLifecycleRevision", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"expectedSessionUpdatedAt", CG_PF_NUMBER, 0, 0, 0, NULL},
    {"emitLifecycleHooks", CG_PF_BOOL, 0, 0, 0, NULL},
    {"archivedOnly", CG_PF_BOOL, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

static int check_delete(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, delete_fields, err, errlen);
}

static const cg_param_field compact_fields[] = {{"key", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
                                                {"agentId", CG_PF_STRING, 0, 1, 0, NULL},
                                                {"maxLines", CG_PF_INT, 0, 1, 0, NULL},
                                                {NULL, 0, 0, 0, 0, NULL}};

static int check_compact(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, compact_fields, err, errlen);
}

static const char *str_param(const cg_req *req, const char *name)
{
    return json_string_value(json_object_get(req->params, name));
}

/* The canonical key of the request's key + agentId, or NULL after answering the error. */
static const char *req_key(cg_req *req, char *out, size_t outlen)
{
    json_t *error;
    const char *key = cg_methods_session_key(req->gw, str_param(req, "key"),
                                             str_param(req, "agentId"), out, outlen, &error);
    if (!key) cg_req_error_shape(req, error);
    return key;
}

/* ---- sessions.list / subscribe ---- */

static bool contains_ci(const char *hay, const char *needle)
{
    if (!hay) return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0) return true;
    return n == 0;
}

static json_t *list_result(cg_gateway *gw, const json_t *params)
{
    cg_sessions *sessions = cg_gateway_sessions(gw);
    const char *agent = json_string_value(json_object_get(params, "agentId"));
    char agent_id[CG_AGENT_ID_MAX + 1] = "";
    if (agent) cg_agent_id_normalize(agent, agent_id, sizeof agent_id);
    const char *label = json_string_value(json_object_get(params, "label"));
    const char *search = json_string_value(json_object_get(params, "search"));
    const json_t *archived = json_object_get(params, "archived");
    const char *face = json_string_value(json_object_get(params, "boardFace"));
    bool include_last = !json_is_false(json_object_get(params, "includeLastMessage"));
    bool require_interaction = json_is_true(json_object_get(params, "requireLastInteraction"));
    bool configured_only = json_is_true(json_object_get(params, "configuredAgentsOnly"));
    json_int_t active = json_integer_value(json_object_get(params, "activeMinutes"));
    /* activeOnly: a run is going on it. clawgate records no system-made sessions
     * (excludeSystem keeps all) and no activity recaps (includeActivitySummary adds none). */
    bool active_only = json_is_true(json_object_get(params, "activeOnly"));
    bool no_subagents = json_is_true(json_object_get(params, "excludeSubagents"));
    bool no_cron = json_is_true(json_object_get(params, "excludeCron"));
    /* clawgate's sessions have no creators, owners, people or spawners, are never
     * archived and all face "chat": those filters match nothing. */
    bool none = json_is_true(archived) || json_object_get(params, "creatorId") ||
                json_object_get(params, "ownerId") ||
                json_is_true(json_object_get(params, "involvingMe")) ||
                json_object_get(params, "involvingProfileId") ||
                json_object_get(params, "spawnedBy") || (face && strcmp(face, "chat") != 0);
    int64_t now = cg_now_ms();
    size_t n;
    const cg_session **all = cg_sessions_sorted(sessions, &n);
    json_t *rows = json_array();
    size_t matched = 0;
    json_int_t offset = json_integer_value(json_object_get(params, "offset"));
    json_int_t limit = json_integer_value(json_object_get(params, "limit"));
    if (limit <= 0 || limit > LIST_MAX_ROWS) limit = LIST_MAX_ROWS;
    for (size_t i = 0; i < n && !none; i++) {
        const cg_session *s = all[i];
        if (agent_id[0] && strcmp(s->agent_id, agent_id) != 0) continue;
        const char *l = json_string_value(json_object_get(s->meta, "label"));
        if (label && (!l || strcmp(l, label) != 0)) continue;
        if (search && *search && !contains_ci(s->key, search) && !contains_ci(l, search) &&
            !contains_ci(s->session_id, search))
            continue;
        if (active > 0 && s->updated_at_ms < now - active * 60000) continue;
        if (require_interaction && s->message_count == 0) continue;
        if (active_only && !s->running) continue;
        if (no_subagents && strstr(s->key, ":subagent:")) continue;
        if (no_cron && strstr(s->key, ":cron:")) continue;
        if (configured_only) {
            cg_agent *a = cg_agents_find(cg_gateway_agents(gw), s->agent_id);
            bool ok = a != NULL;
            cg_agent_free(a);
            if (!ok) continue;
        }
        if ((json_int_t)matched >= offset && (json_int_t)json_array_size(rows) < limit)
            json_array_append_new(rows, cg_methods_session_row(gw, s, include_last));
        matched++;
    }
    free(all);
    size_t next = (size_t)offset + json_array_size(rows);
    bool has_more = next < matched;
    json_t *result =
        json_pack("{s:I, s:s, s:I, s:I, s:I, s:o, s:b, s:o}", "ts", (json_int_t)now, "path",
                  cg_store_path(cg_gateway_store(gw)), "count", (json_int_t)json_array_size(rows),
                  "totalCount", (json_int_t)matched, "limitApplied", (json_int_t)limit,
                  "nextOffset", has_more ? json_integer((json_int_t)next) : json_null(), "hasMore",
                  has_more, "sessions", rows);
    if (offset > 0) json_object_set_new(result, "offset", json_integer(offset));
    /* The default model as configured, for the list's header. */
    json_t *defaults =
        json_pack("{s:o}", "contextTokens", context_window_of(gw, default_model(gw)));
    split_model(default_model(gw), defaults, "modelProvider", "model");
    json_object_set_new(result, "defaults", defaults);
    return result;
}

static void handle_list(cg_req *req)
{
    cg_req_ok(req, list_result(req->gw, req->params));
}

static void handle_subscribe(cg_req *req)
{
    subs_of(req->conn, true)->sessions = true;
    if (json_object_size(req->params) == 0) {
        cg_req_ok(req, json_pack("{s:b}", "subscribed", 1));
        return;
    }
    cg_req_ok(req,
              json_pack("{s:b, s:o}", "subscribed", 1, "list", list_result(req->gw, req->params)));
}

/* includeApprovals opts in to the session's approval events; clawgate's exec approvals
 * belong to nodes and operators, never to a session, so there are none to add and the
 * subscription is the same. */
static void handle_messages_subscribe(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    if (!req_key(req, key, sizeof key)) return;
    conn_subs *subs = subs_of(req->conn, true);
    if (!subs_has_key(subs, key)) {
        if (subs->n == MAX_SUBSCRIBED_KEYS) {
            char msg[128];
            snprintf(msg, sizeof msg, "too many session subscriptions on this connection (%d)",
                     MAX_SUBSCRIBED_KEYS);
            cg_req_error(req, CG_ERR_INVALID_REQUEST, msg, NULL);
            return;
        }
        subs->keys[subs->n++] = cg_strdup(key);
    }
    cg_req_ok(req, json_pack("{s:b, s:s}", "subscribed", 1, "key", key));
}

static void handle_messages_unsubscribe(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    if (!req_key(req, key, sizeof key)) return;
    conn_subs *subs = subs_of(req->conn, false);
    for (size_t i = 0; subs && i < subs->n; i++)
        if (strcmp(subs->keys[i], key) == 0) {
            free(subs->keys[i]);
            subs->keys[i] = subs->keys[--subs->n];
            break;
        }
    cg_req_ok(req, json_pack("{s:b, s:s}", "subscribed", 0, "key", key));
}

/* ---- sessions.preview ---- */

typedef struct preview_call preview_call;

typedef struct preview_item {
    preview_call *call;
    json_t *entry; /* {key, status, items}, in the answer */
} preview_item;

struct preview_call {
    cg_req_hold hold;
    size_t waiting;
    size_t max_chars;
    json_t *previews;
    preview_item *items;
};

static void preview_finish(preview_call *call)
{
    if (call->hold.req)
        cg_req_ok(call->hold.req, json_pack("{s:I, s:O}", "ts", (json_int_t)cg_now_ms(), "previews",
                                            call->previews));
    json_decref(call->previews);
    free(call->items);
    free(call);
}

static void on_preview_history(json_t *messages, int64_t total, bool has_more, void *data)
{
    (void)total;
    (void)has_more;
    preview_item *item = data;
    preview_call *call = item->call;
    json_t *items = json_object_get(item->entry, "items");
    size_t i;
    json_t *msg;
    json_array_foreach(messages, i, msg)
    {
        char *text = cg_sessions_message_text(msg, call->max_chars);
        if (!text) continue;
        json_array_append_new(items, json_pack("{s:s, s:s}", "role",
                                               json_string_value(json_object_get(msg, "role")),
                                               "text", text));
        free(text);
    }
    json_decref(messages);
    json_object_set_new(item->entry, "status",
                        json_string(json_array_size(items) ? "ok" : "empty"));
    if (--call->waiting == 0) preview_finish(call);
}

static void handle_preview(cg_req *req)
{
    const json_t *keys = json_object_get(req->params, "keys");
    json_int_t limit = json_integer_value(json_object_get(req->params, "limit"));
    json_int_t max_chars = json_integer_value(json_object_get(req->params, "maxChars"));
    if (limit <= 0) limit = 12;
    if (max_chars <= 0) max_chars = 240;
    if (max_chars > 800) max_chars = 800;
    size_t n = json_array_size(keys) < PREVIEW_MAX_KEYS ? json_array_size(keys) : PREVIEW_MAX_KEYS;
    /* Every key first: one with an unknown agent refuses the whole call. */
    char(*canonical)[CG_SESSION_KEY_BUF] = cg_xcalloc(n ? n : 1, sizeof *canonical);
    for (size_t i = 0; i < n; i++) {
        json_t *error;
        if (!cg_methods_session_key(req->gw, json_string_value(json_array_get(keys, i)), NULL,
                                    canonical[i], sizeof canonical[i], &error)) {
            free(canonical);
            cg_req_error_shape(req, error);
            return;
        }
    }
    preview_call *call = cg_xcalloc(1, sizeof *call);
    call->max_chars = (size_t)max_chars;
    call->previews = json_array();
    call->items = cg_xcalloc(n ? n : 1, sizeof *call->items);
    if (!cg_req_hold_start(&call->hold, req)) {
        json_decref(call->previews);
        free(call->items);
        free(call);
        free(canonical);
        return;
    }
    cg_sessions *sessions = cg_gateway_sessions(call->hold.req->gw);
    call->waiting = 1; /* held until every read is started */
    for (size_t i = 0; i < n; i++) {
        json_t *entry =
            json_pack("{s:s, s:s, s:[]}", "key", json_string_value(json_array_get(keys, i)),
                      "status", "missing", "items");
        json_array_append_new(call->previews, entry);
        if (!cg_sessions_find(sessions, canonical[i])) continue;
        call->items[i] = (preview_item){.call = call, .entry = entry};
        call->waiting++;
        cg_sessions_history(sessions, canonical[i], limit, on_preview_history, &call->items[i]);
    }
    free(canonical);
    if (--call->waiting == 0) preview_finish(call);
}

/* ---- sessions.describe / resolve ---- */

static void handle_describe(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    const cg_session *sess = NULL;
    /* A bare key belongs to agentId when given (as the UI sends it), else to "main". */
    const char *agent = str_param(req, "agentId");
    char agent_id[CG_AGENT_ID_MAX + 1];
    if (agent) cg_agent_id_normalize(agent, agent_id, sizeof agent_id);
    if (cg_session_key_canonical(str_param(req, "key"), agent ? agent_id : NULL, key, sizeof key))
        sess = cg_sessions_find(cg_gateway_sessions(req->gw), key);
    bool include_last = !json_is_false(json_object_get(req->params, "includeLastMessage"));
    cg_req_ok(req,
              json_pack("{s:o}", "session",
                        sess ? cg_methods_session_row(req->gw, sess, include_last) : json_null()));
}

/* {modelProvider, model} a session runs on: its override, else the default model. */
static json_t *resolved_model_of(cg_gateway *gw, const cg_session *sess)
{
    json_t *out = json_object();
    const char *override = sess ? json_string_value(json_object_get(sess->meta, "model")) : NULL;
    split_model(override ? override : default_model(gw), out, "modelProvider", "model");
    return out;
}

static json_t *resolved(const cg_session *sess)
{
    json_t *r = json_pack("{s:b, s:s, s:s}", "ok", 1, "key", sess->key, "agentId", sess->agent_id);
    const char *label = json_string_value(json_object_get(sess->meta, "label"));
    if (label) json_object_set_new(r, "displayName", json_string(label));
    return r;
}

static void handle_resolve(cg_req *req)
{
    cg_gateway *gw = req->gw;
    cg_sessions *sessions = cg_gateway_sessions(gw);
    const char *key = str_param(req, "key"), *session_id = str_param(req, "sessionId"),
               *label = str_param(req, "label"), *short_id = str_param(req, "shortId"),
               *agent = str_param(req, "agentId");
    bool allow_missing = json_is_true(json_object_get(req->params, "allowMissing"));
    int given = !!key + !!session_id + !!label + !!short_id;
    if (given != 1) {
        cg_req_error(req, CG_ERR_INVALID_REQUEST,
                     "sessions.resolve needs exactly one of key, sessionId, shortId or label",
                     NULL);
        return;
    }
    if (json_object_get(req->params, "spawnedBy")) {
        /* No clawgate session was spawned by another. */
        cg_req_ok(req, json_pack("{s:b}", "ok", 0));
        return;
    }
    char agent_id[CG_AGENT_ID_MAX + 1] = "";
    if (agent) cg_agent_id_normalize(agent, agent_id, sizeof agent_id);
    if (key) {
        char canonical[CG_SESSION_KEY_BUF];
        json_t *error;
        if (!cg_methods_session_key(gw, key, agent, canonical, sizeof canonical, &error)) {
            cg_req_error_shape(req, error);
            return;
        }
        const cg_session *sess = cg_sessions_find(sessions, canonical);
        if (sess) {
            cg_req_ok(req, resolved(sess));
        } else if (allow_missing) {
            char a[CG_AGENT_ID_MAX + 1];
            cg_session_key_agent(canonical, a, sizeof a);
            cg_req_ok(req, json_pack("{s:b, s:s, s:s}", "ok", 1, "key", canonical, "agentId", a));
        } else {
            cg_req_ok(req, json_pack("{s:b}", "ok", 0));
        }
        return;
    }
    size_t n;
    const cg_session **all = cg_sessions_sorted(sessions, &n);
    json_t *candidates = json_array();
    const cg_session *first = NULL;
    for (size_t i = 0; i < n && json_array_size(candidates) < 10; i++) {
        const cg_session *s = all[i];
        if (agent_id[0] && strcmp(s->agent_id, agent_id) != 0) continue;
        const char *l = json_string_value(json_object_get(s->meta, "label"));
        bool match = session_id ? strcmp(s->session_id, session_id) == 0
                     : short_id ? strncasecmp(s->session_id, short_id, strlen(short_id)) == 0
                                : l && strcmp(l, label) == 0;
        if (!match) continue;
        if (!first) first = s;
        json_t *c = resolved(s);
        json_object_del(c, "ok");
        json_array_append_new(candidates, c);
    }
    if (json_array_size(candidates) == 1)
        cg_req_ok(req, resolved(first));
    else if (json_array_size(candidates) == 0)
        cg_req_ok(req, json_pack("{s:b}", "ok", 0));
    else
        cg_req_ok(req, json_pack("{s:b, s:O}", "ok", 0, "candidates", candidates));
    json_decref(candidates);
    free(all);
}

/* ---- changes, answered after the commit ---- */

typedef struct change_call {
    cg_req_hold hold;
    cg_gateway *gw;
    json_t *result;
    char key[CG_SESSION_KEY_BUF];
    char agent[CG_AGENT_ID_MAX + 1];
    char old_session_id[40];
    const char *reason; /* static: the sessions.changed reason */
} change_call;

static void on_change_saved(int status, const char *error, void *data)
{
    change_call *call = data;
    cg_gateway *gw = call->gw;
    cg_req_hold_answer(&call->hold, status, error, "session", call->result);
    if (status == 0)
        announce(gw, call->key, call->agent, call->old_session_id[0] ? call->old_session_id : NULL,
                 call->reason);
    free(call);
}

static change_call *change_start(cg_req *req, const char *key, const char *reason)
{
    change_call *call = cg_xcalloc(1, sizeof *call);
    call->gw = req->gw;
    call->reason = reason;
    snprintf(call->key, sizeof call->key, "%s", key);
    cg_session_key_agent(key, call->agent, sizeof call->agent);
    if (!cg_req_hold_start(&call->hold, req)) {
        free(call);
        return NULL;
    }
    return call;
}

/* A refusal before anything was changed. */
static void change_refuse(change_call *call, json_t *error)
{
    if (call->hold.req)
        cg_req_error_shape(call->hold.req, error);
    else
        json_decref(error);
    json_decref(call->result);
    free(call);
}

static json_t *entry_of(const cg_session *sess)
{
    json_t *entry = json_deep_copy(sess->meta);
    json_object_set_new(entry, "sessionId", json_string(sess->session_id));
    json_object_set_new(entry, "updatedAt", json_integer(sess->updated_at_ms));
    json_object_set_new(entry, "createdAt", json_integer(sess->created_at_ms));
    json_object_set_new(entry, "inputTokens", json_integer(sess->input_tokens));
    json_object_set_new(entry, "outputTokens", json_integer(sess->output_tokens));
    if (sess->last_preview)
        json_object_set_new(entry, "lastMessagePreview", json_string(sess->last_preview));
    return entry;
}

static json_t *session_missing(const cg_sessions *sessions, const char *key)
{
    char msg[CG_SESSION_KEY_BUF + 64];
    snprintf(msg, sizeof msg, "%s", cg_sessions_error(sessions));
    (void)key;
    return cg_error_new(CG_ERR_UNAVAILABLE, msg, NULL);
}

static void handle_patch(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    if (!req_key(req, key, sizeof key)) return;
    cg_sessions *sessions = cg_gateway_sessions(req->gw);
    const char *expected = str_param(req, "expectedSessionId");
    const cg_session *sess = cg_sessions_find(sessions, key);
    if (expected && (!sess || strcmp(sess->session_id, expected) != 0)) {
        char msg[CG_SESSION_KEY_BUF + 64];
        snprintf(msg, sizeof msg, "Session %s changed. Refresh the session list.", key);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, msg, NULL);
        return;
    }
    change_call *call = change_start(req, key, "patch");
    if (!call) return;
    int64_t now = cg_now_ms();
    sess = cg_sessions_ensure(sessions, key, NULL, now);
    if (!sess) {
        change_refuse(call, session_missing(sessions, key));
        return;
    }
    json_t *changes = json_object();
    static const char *const kept[] = {
        "label",        "icon",           "color",    "category", "unread", "thinkingLevel",
        "verboseLevel", "reasoningLevel", "fastMode", "model",    NULL};
    for (size_t i = 0; kept[i]; i++) {
        json_t *v = json_object_get(call->hold.req->params, kept[i]);
        if (v) json_object_set(changes, kept[i], v);
    }
    json_t *pinned = json_object_get(call->hold.req->params, "pinned");
    if (json_is_true(pinned) && !json_object_get(sess->meta, "pinnedAt"))
        json_object_set_new(changes, "pinnedAt", json_integer(now));
    if (json_is_false(pinned)) json_object_set_new(changes, "pinnedAt", json_null());
    if (json_is_false(json_object_get(changes, "unread"))) {
        json_object_set_new(changes, "unread", json_null());
        json_object_set_new(changes, "lastReadAt", json_integer(now));
    }
    cg_sessions_patch_meta(sessions, key, changes, now, on_change_saved, call);
    json_decref(changes);
    call->result = json_pack("{s:b, s:s, s:s, s:o, s:o}", "ok", 1, "path",
                             cg_store_path(cg_gateway_store(req->gw)), "key", key, "entry",
                             entry_of(sess), "resolved", resolved_model_of(req->gw, sess));
}

static void handle_reset(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    if (!req_key(req, key, sizeof key)) return;
    const char *reason = str_param(req, "reason");
    reason = reason && !strcmp(reason, "new") ? "new" : "reset";
    sessions_state *st = state_of(req->gw);
    change_call *call = change_start(req, key, reason);
    if (!call) return;
    int64_t now = cg_now_ms();
    const cg_session *sess = cg_sessions_ensure(st->sessions, key, NULL, now);
    if (!sess) {
        change_refuse(call, session_missing(st->sessions, key));
        return;
    }
    run_hooks(st, key, reason);
    if (cg_sessions_reset(st->sessions, key, now, on_change_saved, call) != 0) {
        change_refuse(call, session_missing(st->sessions, key));
        return;
    }
    sess = cg_sessions_find(st->sessions, key);
    /* The real gateway answers the model the session resolves to, as sessions.patch does. */
    call->result = json_pack("{s:b, s:s, s:o, s:o}", "ok", 1, "key", key, "entry", entry_of(sess),
                             "resolved", resolved_model_of(req->gw, sess));
}

static void handle_delete(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    if (!req_key(req, key, sizeof key)) return;
    sessions_state *st = state_of(req->gw);
    if (cg_session_key_is_main(key)) {
        char msg[CG_SESSION_KEY_BUF + 64];
        snprintf(msg, sizeof msg, "Cannot delete the main session (%s).", key);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, msg, NULL);
        return;
    }
    const cg_session *sess = cg_sessions_find(st->sessions, key);
    const char *expected = str_param(req, "expectedSessionId");
    if (expected && sess && strcmp(sess->session_id, expected) != 0) {
        char msg[CG_SESSION_KEY_BUF + 64];
        snprintf(msg, sizeof msg, "Session %s changed before deletion. Retry.", key);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, msg, NULL);
        return;
    }
    if (json_is_true(json_object_get(req->params, "archivedOnly"))) {
        char msg[CG_SESSION_KEY_BUF + 64];
        snprintf(msg, sizeof msg, "Session %s is not archived. Archive it first, then delete it.",
                 key);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, msg, NULL);
        return;
    }
    if (!sess) {
        cg_req_ok(
            req, json_pack("{s:b, s:s, s:b, s:[]}", "ok", 1, "key", key, "deleted", 0, "archived"));
        return;
    }
    change_call *call = change_start(req, key, "delete");
    if (!call) return;
    snprintf(call->old_session_id, sizeof call->old_session_id, "%s", sess->session_id);
    char archived[4096];
    snprintf(archived, sizeof archived, "%s#session:%s", cg_store_path(cg_gateway_store(req->gw)),
             sess->session_id);
    run_hooks(st, key, "delete");
    if (cg_sessions_delete(st->sessions, key, cg_now_ms(), on_change_saved, call) != 0) {
        change_refuse(call, session_missing(st->sessions, key));
        return;
    }
    call->result = json_pack("{s:b, s:s, s:b, s:[s]}", "ok", 1, "key", key, "deleted", 1,
                             "archived", archived);
}

static void handle_compact(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    if (!req_key(req, key, sizeof key)) return;
    sessions_state *st = state_of(req->gw);
    const cg_session *sess = cg_sessions_find(st->sessions, key);
    if (!sess) {
        cg_req_ok(req, json_pack("{s:b, s:s, s:b, s:s}", "ok", 1, "key", key, "compacted", 0,
                                 "reason", "no sessionId"));
        return;
    }
    if (sess->message_count == 0) {
        cg_req_ok(req, json_pack("{s:b, s:s, s:b, s:s}", "ok", 1, "key", key, "compacted", 0,
                                 "reason", "no transcript"));
        return;
    }
    json_int_t max_lines = json_integer_value(json_object_get(req->params, "maxLines"));
    if (max_lines <= 0) max_lines = DEFAULT_COMPACT_LINES;
    if (sess->message_count <= max_lines) {
        cg_req_ok(req, json_pack("{s:b, s:s, s:b, s:I}", "ok", 1, "key", key, "compacted", 0,
                                 "kept", (json_int_t)sess->message_count));
        return;
    }
    change_call *call = change_start(req, key, "compact");
    if (!call) return;
    run_hooks(st, key, "compact");
    int64_t kept =
        cg_sessions_compact(st->sessions, key, max_lines, cg_now_ms(), on_change_saved, call);
    if (kept < 0) {
        change_refuse(call, session_missing(st->sessions, key));
        return;
    }
    call->result = json_pack("{s:b, s:s, s:b, s:I}", "ok", 1, "key", key, "compacted", 1, "kept",
                             (json_int_t)kept);
}

const cg_method cg_methods_sessions[] = {
    {.name = "sessions.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_list,
     .handler = handle_list,
     .summary = "Sessions newest first (filter by agent, label, search, activity; paged), with "
                "lastMessagePreview and token counts"},
    {.name = "sessions.subscribe",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_list,
     .handler = handle_subscribe,
     .summary = "Receive sessions.changed and session.message; with list params, also the list"},
    {.name = "sessions.messages.subscribe",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_messages_subscribe,
     .handler = handle_messages_subscribe,
     .summary = "Receive session.message for one session"},
    {.name = "sessions.messages.unsubscribe",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_key_agent,
     .handler = handle_messages_unsubscribe,
     .summary = "Stop session.message for one session"},
    {.name = "sessions.preview",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_preview,
     .handler = handle_preview,
     .summary = "The last messages ({role, text}) of up to 64 sessions"},
    {.name = "sessions.describe",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_describe,
     .handler = handle_describe,
     .summary = "One session's row, or null"},
    {.name = "sessions.resolve",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_resolve,
     .handler = handle_resolve,
     .summary = "A session key from a key, session id, short id or label"},
    {.name = "sessions.patch",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_patch,
     .handler = handle_patch,
     .summary = "Set a session's label, model override, thinking level and display settings "
                "(creates the session)"},
    {.name = "sessions.reset",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_reset,
     .handler = handle_reset,
     .summary = "Start a new transcript (the main session keeps its id); the old one is archived"},
    {.name = "sessions.delete",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_delete,
     .handler = handle_delete,
     .summary = "Delete a session, archiving its transcript (not the main session)"},
    {.name = "sessions.compact",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_compact,
     .handler = handle_compact,
     .summary = "Keep the newest maxLines messages (default 400) of a session"},
    {.name = NULL},
};
