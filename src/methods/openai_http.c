/* The OpenAI-compatible HTTP API (see openai_http.h and docs/design.md, "The
 * OpenAI-compatible endpoint"), as the real gateway's src/gateway/openai-http.ts and
 * models-http.ts answer it:
 *
 *   POST /v1/chat/completions {model?, messages, stream?, stream_options?, user?, ...}
 *     model       "openclaw" / "openclaw/default" (the default agent), "openclaw/<agentId>"
 *                 (also "openclaw:<id>", "agent:<id>"), or clawgate's own extension, a
 *                 provider model "<provider>/<model>" run on the default agent (or the
 *                 one of x-openclaw-agent-id) with that model. x-openclaw-model also
 *                 overrides the model, as in OpenClaw.
 *     session     x-openclaw-session-key, else agent:<agentId>:openai-user:<user> with
 *                 `user`, else a fresh agent:<agentId>:openai:<uuid> per request.
 *     message     the last user (or tool) message; earlier conversation entries of the
 *                 request go before it as context, in the real gateway's markers; its
 *                 image_url parts (base64 data: URLs) go as attachments.
 *     answer      stream false: one chat.completion when the run ends; stream true: SSE
 *                 chat.completion.chunk, the role first, content deltas as the run's
 *                 text streams, a last chunk with finish_reason (and a usage chunk with
 *                 stream_options.include_usage), then `data: [DONE]`.
 *     errors      OpenAI error JSON {error: {message, type, code?}}: 400 for a bad
 *                 request, 401 (gateway), 404 while disabled (gateway), 429 when the
 *                 session's queue is full, 502 / 504 / 429 for a failed run with its
 *                 message; a run failing mid-stream ends the stream with an error event
 *                 and [DONE].
 *     The client going away before the end aborts the run (its partial text stays in
 *     the session's transcript, as for chat.abort).
 *
 *   GET /v1/models, GET /v1/models/<id>: "openclaw", "openclaw/default" and
 *   "openclaw/<agentId>" for every agent, as {id, object: "model", created: 0,
 *   owned_by: "openclaw", permission: []}. */
#include "methods/openai_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agents.h"
#include "agent/llm.h"
#include "agent/sessions.h"
#include "common/json_budget.h"
#include "common/log.h"
#include "common/util.h"
#include "methods/models.h"
#include "methods/runs.h"
#include "methods/sessions.h"

/* A run may take this long (as the `agent` method's bound), the answer a little more. */
#define RUN_TIMEOUT_MS (10 * 60 * 1000)
#define EXCHANGE_TIMEOUT_MS (RUN_TIMEOUT_MS + 30 * 1000)
#define IMAGES_MAX 8
#define IMAGE_MAX_BYTES (5u * 1024 * 1024)
#define NO_RESPONSE "No response from OpenClaw."
#define HISTORY_MARKER "[Chat messages since your last reply - for context]"
#define CURRENT_MARKER "[Current message - respond to this]"

static bool enabled(cg_gateway *gw, void *data)
{
    return cg_gateway_settings(gw)->http_chat_completions;
}

/* ---- answers ---- */

static json_t *error_body(const char *message, const char *type, const char *code)
{
    json_t *e = json_pack("{s:s, s:s}", "message", message, "type", type);
    if (code) json_object_set_new(e, "code", json_string(code));
    return json_pack("{s:o}", "error", e);
}

static void respond_error(cg_http_exchange *x, int status, const char *message, const char *type,
                          const char *code)
{
    cg_http_exchange_respond_json(x, status, error_body(message, type, code));
}

static void invalid(cg_http_exchange *x, const char *message)
{
    respond_error(x, 400, message, "invalid_request_error", NULL);
}

/* ---- the request ---- */

/* A header's value without surrounding blanks into out; false when absent or empty. One
 * that does not fit comes out empty (the caller refuses it). */
static bool header_trimmed(cg_http_exchange *x, const char *name, char *out, size_t len)
{
    const char *v = cg_http_exchange_header(x, name);
    if (!v) return false;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (!n) return false;
    if (n >= len) n = 0; /* too long: present, and refused as empty */
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

/* [a-z0-9][a-z0-9_-]{0,63}, case-insensitive (OpenClaw's agent id in a model name). */
static bool agent_id_syntax(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > CG_AGENT_ID_MAX || !isalnum((unsigned char)s[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return false;
    return true;
}

/* The agent a model name targets into out: "" for the default agent. false when the
 * name is not an agent's. */
static bool agent_of_model(const char *model, char *out, size_t len)
{
    out[0] = '\0';
    if (!strcasecmp(model, "openclaw") || !strcasecmp(model, "openclaw/default")) return true;
    const char *id = NULL;
    if (!strncasecmp(model, "openclaw/", 9) || !strncasecmp(model, "openclaw:", 9))
        id = model + 9;
    else if (!strncasecmp(model, "agent:", 6))
        id = model + 6;
    if (!id || !agent_id_syntax(id)) return false;
    return cg_agent_id_normalize(id, out, len);
}

/* Whether "<provider>/<model>" names a provider the gateway has (configured, or one of
 * the catalog's: env-configured, offline). */
static bool provider_model(cg_gateway *gw, const char *model)
{
    const char *slash = strchr(model, '/');
    if (!slash || slash == model || !slash[1]) return false;
    size_t plen = (size_t)(slash - model);
    char provider[128];
    if (plen >= sizeof provider) return false;
    memcpy(provider, model, plen);
    provider[plen] = '\0';
    const json_t *doc = cg_gateway_settings(gw)->doc;
    if (json_object_get(json_object_get(json_object_get(doc, "models"), "providers"), provider))
        return true;
    cg_llm *llm = cg_gateway_llm(gw);
    if (!llm) return false;
    json_t *catalog = cg_llm_catalog(llm);
    bool found = false;
    size_t i;
    json_t *m;
    json_array_foreach(catalog, i, m)
    {
        const char *p = json_string_value(json_object_get(m, "provider"));
        if (p && !strcmp(p, provider)) found = true;
    }
    json_decref(catalog);
    return found;
}

static bool agent_exists(cg_gateway *gw, const char *id)
{
    cg_agents *agents = cg_gateway_agents(gw);
    cg_agent *a = agents ? cg_agents_find(agents, id) : NULL;
    cg_agent_free(a);
    return a != NULL;
}

/* The text of a message's content: a string, or the text / input_text parts joined with
 * "\n". NULL when there is none. */
static char *content_text(const json_t *content)
{
    if (json_is_string(content)) return cg_strdup(json_string_value(content));
    if (!json_is_array(content)) return NULL;
    cg_buf b = {0};
    size_t i, n = 0;
    const json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        const char *text = json_string_value(json_object_get(part, "text"));
        if (!text || !type || (strcmp(type, "text") && strcmp(type, "input_text")))
            text = json_string_value(json_object_get(part, "input_text"));
        if (!text) continue;
        if (n++) cg_buf_appends(&b, "\n");
        cg_buf_appends(&b, text);
    }
    if (!n) {
        cg_buf_reset(&b);
        return NULL;
    }
    cg_buf_append(&b, "", 1);
    return b.data;
}

/* text without leading and trailing white space, in place. */
static char *trim(char *text)
{
    if (!text) return NULL;
    char *s = text;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    memmove(text, s, n);
    text[n] = '\0';
    return text;
}

/* The active turn's images: image_url parts with base64 data: URLs, as chat.send
 * attachments. NULL (and *error) when one is unusable; an empty array when none. */
static json_t *images_of(const json_t *content, const char **error)
{
    json_t *out = json_array();
    if (!json_is_array(content)) return out;
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        if (!type || strcmp(type, "image_url")) continue;
        const json_t *iu = json_object_get(part, "image_url");
        const char *url = json_is_string(iu) ? json_string_value(iu)
                                             : json_string_value(json_object_get(iu, "url"));
        const char *comma = url ? strchr(url, ',') : NULL;
        char mime[64];
        size_t mlen = comma ? (size_t)(comma - url) : 0;
        if (!url || strncmp(url, "data:", 5) || !comma || mlen < 13 || mlen - 5 >= sizeof mime ||
            strncmp(comma - 7, ";base64", 7)) {
            *error = "Invalid image_url content in `messages`.";
            json_decref(out);
            return NULL;
        }
        memcpy(mime, url + 5, mlen - 12);
        mime[mlen - 12] = '\0';
        if (json_array_size(out) >= IMAGES_MAX) {
            *error = "Too many image_url parts (limit 8)";
            json_decref(out);
            return NULL;
        }
        if (strlen(comma + 1) / 4 * 3 > IMAGE_MAX_BYTES ||
            (strcmp(mime, "image/png") && strcmp(mime, "image/jpeg") &&
             strcmp(mime, "image/webp"))) {
            *error = "Invalid image_url content in `messages`.";
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, json_pack("{s:s, s:s}", "mimeType", mime, "content", comma + 1));
    }
    return out;
}

typedef struct turn {
    char *message;       /* what the run is asked */
    json_t *attachments; /* the active turn's images, or NULL */
} turn;

/* The run's message from the request's messages, as the real gateway builds it: the last
 * user or tool entry is the current one; earlier user / assistant / tool entries go
 * before it as context. System and developer messages are not used (see design.md).
 * false with *error when there is nothing to ask or an image is unusable. */
static bool build_turn(const json_t *messages, turn *t, const char **error)
{
    typedef struct entry {
        const char *role;
        char *sender;
        char *body;
        const json_t *content;
    } entry;
    size_t n = json_array_size(messages), count = 0;
    entry *entries = cg_xcalloc(n ? n : 1, sizeof *entries);
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role) continue;
        if (!strcmp(role, "function")) role = "tool";
        if (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "tool")) continue;
        const json_t *content = json_object_get(m, "content");
        char *body = trim(content_text(content));
        if ((!body || !*body) && strcmp(role, "user")) {
            free(body);
            continue;
        }
        const char *id = json_string_value(json_object_get(m, "tool_call_id"));
        const char *name = json_string_value(json_object_get(m, "name"));
        char sender[160];
        if (!strcmp(role, "user"))
            snprintf(sender, sizeof sender, "User");
        else if (!strcmp(role, "assistant"))
            snprintf(sender, sizeof sender, "Assistant");
        else if (id || name)
            snprintf(sender, sizeof sender, "Tool:%.100s", id ? id : name);
        else
            snprintf(sender, sizeof sender, "Tool");
        entries[count++] = (entry){.role = role,
                                   .sender = cg_strdup(sender),
                                   .body = body ? body : cg_strdup(""),
                                   .content = content};
    }
    ssize_t current = -1;
    for (size_t i = count; i-- > 0 && current < 0;)
        if (strcmp(entries[i].role, "assistant")) current = (ssize_t)i;
    bool ok = false;
    t->message = NULL;
    t->attachments = NULL;
    if (current >= 0) {
        entry *cur = &entries[current];
        t->attachments = !strcmp(cur->role, "user") ? images_of(cur->content, error) : NULL;
        if (t->attachments || strcmp(cur->role, "user")) {
            if (!*cur->body && json_array_size(t->attachments)) {
                free(cur->body);
                cur->body = cg_strdup("User sent image(s) with no text.");
            }
            cg_buf b = {0};
            size_t history = 0;
            for (ssize_t i = 0; i < current; i++)
                if (*entries[i].body) history++;
            if (!history && strcmp(cur->role, "tool")) {
                cg_buf_appends(&b, cur->body);
            } else {
                if (history) {
                    cg_buf_appends(&b, HISTORY_MARKER "\n");
                    for (ssize_t i = 0; i < current; i++) {
                        if (!*entries[i].body) continue;
                        cg_buf_appends(&b, entries[i].sender);
                        cg_buf_appends(&b, ": ");
                        cg_buf_appends(&b, entries[i].body);
                        cg_buf_appends(&b, "\n");
                    }
                    cg_buf_appends(&b, "\n" CURRENT_MARKER "\n");
                }
                cg_buf_appends(&b, cur->sender);
                cg_buf_appends(&b, ": ");
                cg_buf_appends(&b, cur->body);
            }
            cg_buf_append(&b, "", 1);
            t->message = b.data;
            ok = *t->message != '\0';
            if (!ok) *error = "Missing user message in `messages`.";
        }
    } else {
        *error = "Missing user message in `messages`.";
    }
    for (size_t i = 0; i < count; i++) {
        free(entries[i].sender);
        free(entries[i].body);
    }
    free(entries);
    if (!ok) {
        free(t->message);
        json_decref(t->attachments);
        t->message = NULL;
        t->attachments = NULL;
    }
    return ok;
}

/* The request's fields the endpoint reads, with their types (zod's messages). NULL when
 * fine. */
static const char *check_types(const json_t *body, char *err, size_t len)
{
    static const struct {
        const char *key;
        json_type type;
        bool nullable;
    } fields[] = {
        {"model", JSON_STRING, false},
        {"stream", JSON_TRUE, true},
        {"messages", JSON_ARRAY, false},
        {"user", JSON_STRING, false},
        {"stream_options", JSON_OBJECT, true},
        {"max_tokens", JSON_INTEGER, true},
        {"max_completion_tokens", JSON_INTEGER, true},
        {"temperature", JSON_REAL, true},
        {"top_p", JSON_REAL, true},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const json_t *v = json_object_get(body, fields[i].key);
        if (!v || (fields[i].nullable && json_is_null(v))) continue;
        bool ok;
        const char *expected;
        switch (fields[i].type) {
        case JSON_STRING:
            ok = json_is_string(v), expected = "string";
            break;
        case JSON_TRUE:
            ok = json_is_boolean(v), expected = "boolean";
            break;
        case JSON_ARRAY:
            ok = json_is_array(v), expected = "array";
            break;
        case JSON_OBJECT:
            ok = json_is_object(v), expected = "object";
            break;
        case JSON_INTEGER:
            ok = json_is_integer(v) && json_integer_value(v) > 0, expected = "positive integer";
            break;
        default:
            ok = json_is_number(v), expected = "number";
            break;
        }
        if (!ok) {
            snprintf(err, len, "%s: Expected %s", fields[i].key, expected);
            return err;
        }
    }
    return NULL;
}

/* ---- a completion in flight ---- */

typedef struct completion {
    cg_gateway *gw;
    cg_http_exchange *x;
    cg_run_watch *watch;
    char run_id[48];
    char *session_key;
    char *model; /* as the client named it, echoed in every answer */
    bool stream, include_usage;
    int64_t created;
} completion;

static void completion_free(completion *c)
{
    cg_runs_unwatch(c->watch);
    free(c->session_key);
    free(c->model);
    free(c);
}

static json_t *usage_of(const cg_run_result *r)
{
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)r->input_tokens,
                     "completion_tokens", (json_int_t)r->output_tokens, "total_tokens",
                     (json_int_t)(r->input_tokens + r->output_tokens));
}

static const char *finish_reason(const cg_run_result *r)
{
    return r->stop_reason && !strcmp(r->stop_reason, "length") ? "length" : "stop";
}

/* A failed run's HTTP status and OpenAI error type. */
static int failure_status(const cg_run_result *r, const char **type)
{
    const char *kind = r->error_kind ? r->error_kind : "";
    *type = "api_error";
    if (!strcmp(kind, "rate_limit")) {
        *type = "rate_limit_error";
        return 429;
    }
    if (!strcmp(kind, "timeout")) return 504;
    if (!strcmp(kind, "auth")) *type = "authentication_error";
    return 502;
}

static void send_chunk(completion *c, json_t *delta, const char *finish)
{
    json_t *chunk =
        json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}]}", "id", c->run_id, "object",
                  "chat.completion.chunk", "created", (json_int_t)c->created, "model", c->model,
                  "choices", "index", 0, "delta", delta, "finish_reason", finish);
    if (!finish)
        json_object_set_new(json_array_get(json_object_get(chunk, "choices"), 0), "finish_reason",
                            json_null());
    char *text = json_dumps(chunk, JSON_COMPACT);
    json_decref(chunk);
    cg_http_exchange_stream_sse(c->x, NULL, text, strlen(text));
    free(text);
}

static void send_json_event(completion *c, json_t *event)
{
    char *text = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    cg_http_exchange_stream_sse(c->x, NULL, text, strlen(text));
    free(text);
}

static void on_text(const char *text, size_t len, void *data)
{
    completion *c = data;
    if (!c->stream || !len) return;
    send_chunk(c, json_pack("{s:s%}", "content", text, len), NULL);
}

static void on_end(const cg_run_result *r, void *data)
{
    completion *c = data;
    c->watch = NULL; /* the engine frees it after this call */
    bool failed = r->status == CG_RUN_ERROR;
    const char *message = r->error_message ? r->error_message : "the run failed";
    if (failed)
        cg_log(CG_LOG_WARN, "openai-http", "chat completion failed",
               json_pack("{s:s, s:s, s:s?}", "runId", c->run_id, "error", message, "errorKind",
                         r->error_kind));
    const char *type;
    if (c->stream) {
        if (failed) {
            failure_status(r, &type);
            send_json_event(c, error_body(message, type, r->error_kind));
        } else {
            if (!*r->text) send_chunk(c, json_pack("{s:s}", "content", NO_RESPONSE), NULL);
            send_chunk(c, json_object(), finish_reason(r));
            if (c->include_usage)
                send_json_event(c, json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", c->run_id,
                                             "object", "chat.completion.chunk", "created",
                                             (json_int_t)c->created, "model", c->model, "choices",
                                             "usage", usage_of(r)));
        }
        cg_http_exchange_stream_sse(c->x, NULL, "[DONE]", 6);
        cg_http_exchange_stream_end(c->x);
    } else if (failed) {
        int status = failure_status(r, &type);
        respond_error(c->x, status, message, type, r->error_kind);
    } else {
        json_t *body = json_pack(
            "{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:o}", "id", c->run_id, "object",
            "chat.completion", "created", (json_int_t)c->created, "model", c->model, "choices",
            "index", 0, "message", "role", "assistant", "content", *r->text ? r->text : NO_RESPONSE,
            "finish_reason", finish_reason(r), "usage", usage_of(r));
        cg_http_exchange_respond_json(c->x, 200, body);
    }
    completion_free(c);
}

/* The client went away (or the deadline passed, or the gateway stops): the run stops. */
static void on_gone(cg_http_exchange *x, void *data)
{
    completion *c = data;
    cg_runs_unwatch(c->watch);
    c->watch = NULL;
    json_t *ids = json_array();
    cg_runs_abort(c->gw, c->session_key, c->run_id, ids);
    if (json_array_size(ids))
        cg_log(CG_LOG_INFO, "openai-http", "client went away: run aborted",
               json_pack("{s:s, s:s}", "runId", c->run_id, "sessionKey", c->session_key));
    json_decref(ids);
    completion_free(c);
}

/* ---- POST /v1/chat/completions ---- */

/* The agent, model override and session key of a request into the out parameters; false
 * when answered (400). */
static bool resolve_target(cg_http_exchange *x, const json_t *body, const char *model, char *agent,
                           size_t agent_len, const char **override, char *key, size_t key_len)
{
    cg_gateway *gw = cg_http_exchange_gateway(x);
    char header[CG_SESSION_KEY_MAX + 1], message[CG_SESSION_KEY_MAX + 128];
    *override = NULL;
    agent[0] = '\0';
    /* x-openclaw-agent-id (or x-openclaw-agent) first, as in OpenClaw. */
    if (header_trimmed(x, "x-openclaw-agent-id", header, sizeof header) ||
        header_trimmed(x, "x-openclaw-agent", header, sizeof header)) {
        if (!agent_id_syntax(header) || !cg_agent_id_normalize(header, agent, agent_len)) {
            snprintf(message, sizeof message, "Unknown agent '%.200s'.", header);
            invalid(x, message);
            return false;
        }
    }
    char from_model[CG_AGENT_ID_MAX + 1];
    if (agent_of_model(model, from_model, sizeof from_model)) {
        if (!agent[0] && from_model[0]) snprintf(agent, agent_len, "%s", from_model);
    } else if (provider_model(gw, model)) {
        *override = model;
    } else {
        invalid(x, "Invalid `model`. Use `openclaw`, `openclaw/<agentId>` or a configured "
                   "`<provider>/<model>`.");
        return false;
    }
    if (!agent[0]) snprintf(agent, agent_len, "%s", CG_AGENTS_DEFAULT_ID);
    if (!agent_exists(gw, agent)) {
        snprintf(message, sizeof message, "Unknown agent '%s'.", agent);
        invalid(x, message);
        return false;
    }
    const char *header_model = cg_http_exchange_header(x, "x-openclaw-model");
    if (header_model && *header_model) {
        if (!provider_model(gw, header_model)) {
            invalid(x, "Invalid `x-openclaw-model`.");
            return false;
        }
        *override = header_model;
    }
    /* The session: the header, the user, or a fresh one. */
    char raw[CG_SESSION_KEY_MAX + 64];
    const char *user = json_string_value(json_object_get(body, "user"));
    if (header_trimmed(x, "x-openclaw-session-key", header, sizeof header)) {
        if (!strncasecmp(header, "subagent:", 9) || !strncasecmp(header, "cron:", 5) ||
            !strncasecmp(header, "acp:", 4) || strstr(header, ":subagent:") ||
            strstr(header, ":cron:") || strstr(header, ":acp:")) {
            invalid(x, "`x-openclaw-session-key` cannot use reserved internal session "
                       "namespaces.");
            return false;
        }
        snprintf(raw, sizeof raw, "%s", header);
    } else if (user && *user) {
        snprintf(raw, sizeof raw, "agent:%s:openai-user:%.*s", agent, CG_SESSION_KEY_MAX, user);
    } else {
        char uuid[37];
        cg_uuid4(uuid);
        snprintf(raw, sizeof raw, "agent:%s:openai:%s", agent, uuid);
    }
    json_t *error = NULL;
    if (!cg_methods_session_key(gw, raw, agent, key, key_len, &error)) {
        const char *m = json_string_value(json_object_get(error, "message"));
        invalid(x, m ? m : "invalid session key");
        json_decref(error);
        return false;
    }
    return true;
}

static void serve_completions(cg_http_exchange *x, void *data)
{
    cg_gateway *gw = cg_http_exchange_gateway(x);
    size_t len;
    const char *text = cg_http_exchange_body(x, &len);
    bool over = false;
    json_error_t jerr;
    json_t *body =
        len ? cg_json_parse(text, len, (size_t)cg_gateway_settings(gw)->limits.json_budget_bytes,
                            &over, &jerr)
            : json_object();
    if (!body) {
        if (over)
            respond_error(x, 413, "Payload too large", "invalid_request_error", NULL);
        else
            invalid(x, jerr.text[0] ? jerr.text : "Invalid JSON body");
        return;
    }
    char err[160];
    if (!json_is_object(body)) {
        invalid(x, "Expected object");
        json_decref(body);
        return;
    }
    if (check_types(body, err, sizeof err)) {
        invalid(x, err);
        json_decref(body);
        return;
    }
    const char *model = json_string_value(json_object_get(body, "model"));
    char *model_name = cg_strdup(model && *model ? model : "openclaw");
    trim(model_name);
    if (!*model_name) {
        free(model_name);
        model_name = cg_strdup("openclaw");
    }
    char agent[CG_AGENT_ID_MAX + 1], key[CG_SESSION_KEY_BUF];
    const char *override;
    turn t = {0};
    const char *turn_error = NULL;
    if (!resolve_target(x, body, model_name, agent, sizeof agent, &override, key, sizeof key))
        goto done;
    if (!build_turn(json_object_get(body, "messages"), &t, &turn_error)) {
        invalid(x, turn_error);
        goto done;
    }
    cg_llm *llm = cg_gateway_llm(gw);
    if (json_array_size(t.attachments) && llm && !cg_llm_accepts_images(llm, override)) {
        invalid(x, "the model does not take images; choose a model whose input includes images");
        goto done;
    }
    completion *c = cg_xcalloc(1, sizeof *c);
    c->gw = gw;
    c->x = x;
    char uuid[37];
    cg_uuid4(uuid);
    snprintf(c->run_id, sizeof c->run_id, "chatcmpl_%s", uuid);
    c->session_key = cg_strdup(key);
    c->model = cg_strdup(model_name);
    c->stream = json_is_true(json_object_get(body, "stream"));
    c->include_usage =
        c->stream &&
        json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    c->created = cg_now_ms() / 1000;
    cg_run_spec spec = {
        .run_id = c->run_id,
        .session_key = key,
        .agent_id = agent,
        .message = t.message,
        .attachments = json_array_size(t.attachments) ? t.attachments : NULL,
        .model = override,
    };
    cg_run_status existing;
    json_t *error = NULL;
    if (cg_runs_submit(gw, &spec, NULL, NULL, &existing, &error) != 0) {
        const char *m = json_string_value(json_object_get(error, "message"));
        const char *code =
            json_string_value(json_object_get(json_object_get(error, "details"), "code"));
        bool busy = json_is_true(json_object_get(error, "retryable"));
        respond_error(x, busy ? 429 : 503, m ? m : "the run could not start",
                      busy ? "rate_limit_error" : "api_error", code);
        json_decref(error);
        completion_free(c);
        goto done;
    }
    c->watch = cg_runs_watch_text(gw, c->run_id, on_text, on_end, c);
    if (!c->watch) { /* cannot happen: a fresh id, just queued */
        respond_error(x, 500, "internal error", "api_error", NULL);
        completion_free(c);
        goto done;
    }
    cg_http_exchange_on_close(x, on_gone, NULL, c);
    if (c->stream) {
        cg_http_exchange_stream_begin(x, 200, "text/event-stream; charset=utf-8",
                                      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
        send_chunk(c, json_pack("{s:s}", "role", "assistant"), NULL);
    }
done:
    free(t.message);
    json_decref(t.attachments);
    free(model_name);
    json_decref(body);
}

/* ---- GET /v1/models ---- */

static json_t *model_entry(const char *id)
{
    return json_pack("{s:s, s:s, s:i, s:s, s:[]}", "id", id, "object", "model", "created", 0,
                     "owned_by", "openclaw", "permission");
}

/* "openclaw", "openclaw/default", "openclaw/<id>" for every agent. */
static json_t *model_ids(cg_gateway *gw)
{
    json_t *ids = json_pack("[s, s]", "openclaw", "openclaw/default");
    cg_agents *agents = cg_gateway_agents(gw);
    size_t n = 0;
    cg_agent **list = agents ? cg_agents_list(agents, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        char id[CG_AGENT_ID_MAX + 16];
        snprintf(id, sizeof id, "openclaw/%s", list[i]->id);
        json_array_append_new(ids, json_string(id));
    }
    if (list) cg_agents_list_free(list, n);
    return ids;
}

static void serve_models(cg_http_exchange *x, void *data)
{
    json_t *ids = model_ids(cg_http_exchange_gateway(x));
    json_t *list = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        json_array_append_new(list, model_entry(json_string_value(id)));
    }
    json_decref(ids);
    cg_http_exchange_respond_json(x, 200, json_pack("{s:s, s:o}", "object", "list", "data", list));
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decoding into out; false on a bad escape or a NUL. */
static bool percent_decode(const char *in, char *out, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; in[i]; i++) {
        char ch = in[i];
        if (ch == '%') {
            int hi = hex_value(in[i + 1]), lo = hi < 0 ? -1 : hex_value(in[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= len) return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    return true;
}

static void serve_model(cg_http_exchange *x, void *data)
{
    const char *encoded = cg_http_exchange_path(x) + strlen("/v1/models/");
    char id[256], agent[CG_AGENT_ID_MAX + 1], message[320];
    if (!*encoded) {
        invalid(x, "Missing model id.");
        return;
    }
    if (!percent_decode(encoded, id, sizeof id)) {
        invalid(x, "Invalid model id encoding.");
        return;
    }
    if (!agent_of_model(trim(id), agent, sizeof agent)) {
        invalid(x, "Invalid model id.");
        return;
    }
    json_t *ids = model_ids(cg_http_exchange_gateway(x));
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (!strcmp(json_string_value(v), id)) found = true;
    }
    json_decref(ids);
    if (!found) {
        snprintf(message, sizeof message, "Model '%s' not found.", id);
        respond_error(x, 404, message, "invalid_request_error", NULL);
        return;
    }
    cg_http_exchange_respond_json(x, 200, model_entry(id));
}

void cg_methods_openai_http_attach(cg_gateway *gw)
{
    const cg_http_route_spec routes[] = {
        {.path = "/v1/chat/completions",
         .methods = CG_HTTP_POST,
         .auth = CG_HTTP_AUTH_GATEWAY,
         .handler = serve_completions,
         .enabled = enabled,
         .timeout_ms = EXCHANGE_TIMEOUT_MS},
        {.path = "/v1/models",
         .methods = CG_HTTP_GET,
         .auth = CG_HTTP_AUTH_GATEWAY,
         .handler = serve_models,
         .enabled = enabled},
        {.path = "/v1/models/",
         .prefix = true,
         .methods = CG_HTTP_GET,
         .auth = CG_HTTP_AUTH_GATEWAY,
         .handler = serve_model,
         .enabled = enabled},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (cg_gateway_add_http_route(gw, &routes[i]) != 0)
            cg_log(CG_LOG_ERROR, "openai-http", "cannot register a route",
                   json_pack("{s:s}", "path", routes[i].path));
}
