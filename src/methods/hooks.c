/* Webhooks, as OpenClaw's (issue 10): with `hooks.enabled` and `hooks.token`,
 *   POST /hooks/wake  {text, mode?, sessionKey?, agentId?}  a system event for the agent
 *        (mode "now", the default, also runs it): 200 {ok, mode, eventOutcome: "queued"};
 *   POST /hooks/agent {message, name?, sessionKey?, agentId?, deliver?, channel?, to?}
 *        a run of the agent on its own hook session: 200 {ok, runId} at once.
 * The token comes as `Authorization: Bearer` or `X-OpenClaw-Token`, never the gateway's
 * own token and never in the query string (400); a missing or wrong one is 401
 * "Unauthorized"; any method but POST is 405 with `Allow: POST`; a bad body is 400
 * {ok: false, error}; all as the real gateway answers (tests/fixtures OBSERVED). Runs go
 * through the run engine (methods/runs.c) like chat.send's. Disabled, the paths are 404. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agents.h"
#include "auth/auth.h"
#include "common/log.h"
#include "common/util.h"
#include "methods/channels.h"
#include "methods/hooks.h"
#include "methods/runs.h"
#include "methods/sessions.h"

#define HOOK_BODY_MAX (256u * 1024)

static const json_t *hooks_config(cg_gateway *gw)
{
    return json_object_get(cg_gateway_settings(gw)->doc, "hooks");
}

static const char *hooks_token(cg_gateway *gw)
{
    const char *token = json_string_value(json_object_get(hooks_config(gw), "token"));
    return token && *token ? token : NULL;
}

static bool enabled(cg_gateway *gw, void *data)
{
    return json_is_true(json_object_get(hooks_config(gw), "enabled")) && hooks_token(gw);
}

static void respond_text(cg_http_exchange *x, int status, const char *headers, const char *text)
{
    cg_http_exchange_respond(x, status, "text/plain; charset=utf-8", headers, text, strlen(text));
}

static void respond_error(cg_http_exchange *x, const char *error)
{
    cg_http_exchange_respond_json(x, 400, json_pack("{s:b, s:s}", "ok", 0, "error", error));
}

/* The token a request carries: Authorization: Bearer <t>, else X-OpenClaw-Token. */
static const char *request_token(const cg_http_exchange *x)
{
    const char *auth = cg_http_exchange_header(x, "authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7)) return auth + 7;
    return cg_http_exchange_header(x, "x-openclaw-token");
}

static bool query_has_token(const char *query)
{
    for (const char *p = query; p && *p;) {
        if (!strncmp(p, "token=", 6) || !strcmp(p, "token")) return true;
        p = strchr(p, '&');
        if (p) p++;
    }
    return false;
}

static const char *text_field(const json_t *body, const char *key)
{
    const char *s = json_string_value(json_object_get(body, key));
    if (!s) return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return *s ? s : NULL;
}

/* The hook's target session: its sessionKey, else the agent's main session (wake) or a
 * session of its own (agent: "hook:<uuid>"). out: canonical. */
static bool target_session(cg_http_exchange *x, const json_t *body, bool own, char *out, size_t len)
{
    cg_gateway *gw = cg_http_exchange_gateway(x);
    const char *key = text_field(body, "sessionKey");
    char fresh[64];
    if (!key && own) {
        char id[37];
        cg_uuid4(id);
        snprintf(fresh, sizeof fresh, "hook:%s", id);
        key = fresh;
    }
    json_t *error = NULL;
    if (cg_methods_session_key(gw, key ? key : "main", text_field(body, "agentId"), out, len,
                               &error))
        return true;
    respond_error(x, json_string_value(json_object_get(error, "message")));
    json_decref(error);
    return false;
}

/* Hands the run to the engine; false (answered 503 with its reason) when it refuses. */
static bool submit(cg_http_exchange *x, const cg_run_spec *spec)
{
    cg_run_status existing;
    json_t *error = NULL;
    if (cg_runs_submit(cg_http_exchange_gateway(x), spec, NULL, NULL, &existing, &error) == 0)
        return true;
    cg_http_exchange_respond_json(x, 503,
                                  json_pack("{s:b, s:s}", "ok", 0, "error",
                                            json_string_value(json_object_get(error, "message"))));
    json_decref(error);
    return false;
}

static void serve_wake(cg_http_exchange *x, const json_t *body)
{
    const char *text = text_field(body, "text");
    const char *mode = json_string_value(json_object_get(body, "mode"));
    if (!text) {
        respond_error(x, "text required");
        return;
    }
    if (mode && strcmp(mode, "now") != 0 && strcmp(mode, "next-heartbeat") != 0) {
        respond_error(x, "mode must be now or next-heartbeat");
        return;
    }
    char key[CG_SESSION_KEY_BUF], agent[CG_AGENT_ID_MAX + 1];
    if (!target_session(x, body, false, key, sizeof key)) return;
    if (!cg_session_key_agent(key, agent, sizeof agent))
        snprintf(agent, sizeof agent, "%s", CG_AGENTS_DEFAULT_ID);
    char run_id[48] = "hook-wake:";
    cg_uuid4(run_id + strlen(run_id));
    bool now = !mode || !strcmp(mode, "now");
    cg_run_spec spec = {.run_id = run_id,
                        .session_key = key,
                        .agent_id = agent,
                        .system_event = text,
                        .queue_only = !now};
    if (!submit(x, &spec)) return;
    cg_http_exchange_respond_json(x, 200,
                                  json_pack("{s:b, s:s, s:s}", "ok", 1, "mode",
                                            now ? "now" : "next-heartbeat", "eventOutcome",
                                            "queued"));
}

static void serve_agent(cg_http_exchange *x, const json_t *body)
{
    const char *message = text_field(body, "message");
    if (!message) {
        respond_error(x, "message required");
        return;
    }
    /* deliver (with a recipient): the reply goes to `to` on `channel` when the run ends. */
    const char *channel = json_string_value(json_object_get(body, "channel"));
    const char *to = json_string_value(json_object_get(body, "to"));
    bool deliver = json_is_true(json_object_get(body, "deliver")) && (channel || to);
    if (deliver && !cg_channels_supported(channel)) {
        respond_error(x, "unsupported channel");
        return;
    }
    if (deliver && (!to || !*to)) {
        respond_error(x, "delivery needs a recipient (to)");
        return;
    }
    char key[CG_SESSION_KEY_BUF], agent[CG_AGENT_ID_MAX + 1];
    if (!target_session(x, body, true, key, sizeof key)) return;
    if (!cg_session_key_agent(key, agent, sizeof agent))
        snprintf(agent, sizeof agent, "%s", CG_AGENTS_DEFAULT_ID);
    char run_id[48];
    cg_uuid4(run_id);
    cg_run_spec spec = {
        .run_id = run_id, .session_key = key, .agent_id = agent, .message = message};
    if (!submit(x, &spec)) return;
    if (deliver && !cg_channels_deliver_reply(cg_http_exchange_gateway(x), run_id, channel, to))
        cg_log(CG_LOG_WARN, "hooks", "reply delivery not arranged",
               json_pack("{s:s, s:s}", "runId", run_id, "to", to));
    cg_http_exchange_respond_json(x, 200, json_pack("{s:b, s:s}", "ok", 1, "runId", run_id));
}

static void serve(cg_http_exchange *x, void *data)
{
    cg_gateway *gw = cg_http_exchange_gateway(x);
    if (query_has_token(cg_http_exchange_query(x))) {
        respond_text(x, 400, NULL,
                     "Hook token must be provided via Authorization: Bearer <token> or "
                     "X-OpenClaw-Token header (query parameters are not allowed).");
        return;
    }
    if (strcmp(cg_http_exchange_method(x), "POST") != 0) {
        respond_text(x, 405, "Allow: POST\r\n", "Method Not Allowed");
        return;
    }
    const char *token = request_token(x);
    if (!token || !cg_secret_equal(hooks_token(gw), token)) {
        respond_text(x, 401, NULL, "Unauthorized");
        return;
    }
    const char *sub = cg_http_exchange_path(x) + strlen("/hooks/");
    if (strcmp(sub, "wake") != 0 && strcmp(sub, "agent") != 0) {
        respond_text(x, 404, NULL, "Not Found");
        return;
    }
    size_t len = 0;
    const char *text = cg_http_exchange_body(x, &len);
    if (len > HOOK_BODY_MAX) {
        cg_http_exchange_respond_json(
            x, 413, json_pack("{s:b, s:s}", "ok", 0, "error", "payload too large"));
        return;
    }
    json_t *body = len ? json_loadb(text, len, 0, NULL) : json_object();
    if (!json_is_object(body)) {
        json_decref(body);
        respond_error(x, "invalid JSON body");
        return;
    }
    if (!strcmp(sub, "wake"))
        serve_wake(x, body);
    else
        serve_agent(x, body);
    json_decref(body);
}

void cg_methods_hooks_attach(cg_gateway *gw)
{
    const cg_http_route_spec route = {
        .path = "/hooks/",
        .prefix = true,
        .methods = CG_HTTP_GET | CG_HTTP_POST | CG_HTTP_PUT | CG_HTTP_DELETE | CG_HTTP_PATCH,
        .auth = CG_HTTP_AUTH_NONE,
        .handler = serve,
        .enabled = enabled,
    };
    if (cg_gateway_add_http_route(gw, &route) != 0)
        cg_log(CG_LOG_ERROR, "hooks", "cannot register the webhook route", NULL);
}
