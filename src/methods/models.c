/* models.list and models.authStatus over the gateway's model providers (agent/llm.h).
 *
 *   models.list        {models: [ModelChoice]} (params.provider: one provider's): the
 *                      configured models of every provider
 *                      (or `offline` when nothing is configured), plus GET {baseUrl}/models
 *                      discovery for OpenAI-compatible providers that list none, cached a
 *                      minute (`refresh: true` fetches again). Answered when discovery
 *                      ends, 5 s at most.
 *   models.authStatus  {ts, providers: [{provider, authProvider, displayName, status
 *                      ("static": a key is there, "missing": the provider needs one),
 *                      profiles: [], apiKey?: {source: "env", envVar} | {source:
 *                      "config"}}], providerCapabilities: []}, the real gateway's shape
 *                      for API-key providers (clawgate has no OAuth profiles).
 *
 * The providers live as gateway data; a settings hook reconfigures them when the
 * configuration changes, so config.patch applies to the next run without a restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway.h"
#include "gateway/methods.h"
#include "methods/models.h"

typedef struct models_state {
    cg_llm *llm;
    bool stopped;
} models_state;

static void stop_state(void *data)
{
    models_state *st = data;
    if (st->stopped) return;
    st->stopped = true;
    cg_llm_free(st->llm); /* its handles close on the loop's last turns */
    st->llm = NULL;
}

static void free_state(void *data)
{
    models_state *st = data;
    /* Stopped with the gateway; a gateway that never ran has no handle open. */
    if (!st->stopped) cg_llm_free(st->llm);
    free(st);
}

static const cg_conn_key state_key = {
    .name = "models", .free_data = free_state, .stop = stop_state};

cg_llm *cg_gateway_llm(cg_gateway *gw)
{
    models_state *st = cg_gateway_get_data(gw, &state_key);
    return st && !st->stopped ? st->llm : NULL;
}

static void log_issues(json_t *issues)
{
    size_t i;
    json_t *issue;
    json_array_foreach(issues, i, issue)
    {
        cg_log(CG_LOG_WARN, "models", "model provider configuration problem",
               json_pack("{s:O, s:O}", "path", json_object_get(issue, "path"), "message",
                         json_object_get(issue, "message")));
    }
    json_decref(issues);
}

static void on_settings(cg_gateway *gw, const cg_settings *settings, void *data)
{
    models_state *st = cg_gateway_get_data(gw, &state_key);
    if (!st || st->stopped) return;
    json_t *issues = json_array();
    cg_llm_configure(st->llm, settings->doc, issues);
    log_issues(issues);
}

void cg_methods_models_attach(cg_gateway *gw)
{
    models_state *st = calloc(1, sizeof *st);
    if (!st) abort();
    json_t *issues = json_array();
    st->llm = cg_llm_new(cg_gateway_loop(gw), cg_gateway_settings(gw)->doc, issues);
    log_issues(issues);
    cg_gateway_set_data(gw, &state_key, st);
    cg_gateway_add_settings_hook(gw, on_settings, NULL);
}

/* ---- models.list ---- */

typedef struct list_call {
    cg_req *req;
    cg_llm_catalog_req *catalog;
} list_call;

/* params.provider keeps one provider's models. */
static json_t *list_result(json_t *models, const json_t *params)
{
    const char *provider = json_string_value(json_object_get(params, "provider"));
    if (provider) {
        json_t *kept = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(models, i, m)
        {
            if (!strcmp(json_string_value(json_object_get(m, "provider")), provider))
                json_array_append(kept, m);
        }
        json_decref(models);
        models = kept;
    }
    return json_pack("{s:o}", "models", models);
}

static void on_list_cancel(cg_req *req, cg_req_end why, void *data)
{
    list_call *call = data;
    cg_llm_catalog_cancel(call->catalog);
    free(call);
}

static void on_catalog(json_t *models, void *data)
{
    list_call *call = data;
    cg_req_on_cancel(call->req, NULL, NULL);
    cg_req_ok(call->req, list_result(models, call->req->params));
    free(call);
}

static void handle_list(cg_req *req)
{
    cg_llm *llm = cg_gateway_llm(req->gw);
    if (!llm) {
        cg_req_error(req, "UNAVAILABLE", "model providers are not running", NULL);
        return;
    }
    bool refresh = json_is_true(json_object_get(req->params, "refresh"));
    if (json_is_true(json_object_get(req->params, "preparedOnly"))) {
        /* What is known now, without waiting for discovery. */
        cg_req_ok(req, list_result(cg_llm_catalog(llm), req->params));
        return;
    }
    cg_req *p = cg_req_defer(req);
    if (!p) return;
    list_call *call = calloc(1, sizeof *call);
    if (!call) abort();
    call->req = p;
    cg_req_on_cancel(p, on_list_cancel, call);
    call->catalog = cg_llm_catalog_async(llm, refresh, on_catalog, call);
}

/* ModelsListParams as the 2026.9.6 gateway has it: the real CLI's `openclaw models
 * list` sends includeDetails, which the 2026.9.1 schema lacks. */
static int check_list(const json_t *params, char *err, size_t errlen)
{
    const char *agent = NULL, *view = NULL, *session = NULL, *profile = NULL, *provider = NULL;
    int caps = 0, prepared = 0, refresh = 0, details = 0, defaults = 0;
    if (cg_params_unpack(params, err, errlen, "{s?s, s?s, s?s, s?s, s?b, s?b, s?b, s?b, s?b, s?s}",
                         "agentId", &agent, "sessionKey", &session, "authProfileId", &profile,
                         "provider", &provider, "includeDetails", &details,
                         "includeProviderCapabilities", &caps, "includeDefaultModels", &defaults,
                         "preparedOnly", &prepared, "refresh", &refresh, "view", &view) != 0)
        return -1;
    if ((session && !*session) || (provider && !*provider)) {
        snprintf(err, errlen, "sessionKey and provider must not be empty");
        return -1;
    }
    if (agent && !*agent) {
        snprintf(err, errlen, "agentId must not be empty");
        return -1;
    }
    if (prepared && refresh) {
        snprintf(err, errlen, "preparedOnly and refresh cannot both be true");
        return -1;
    }
    static const char *const views[] = {"default", "configured", "provider-config", "all"};
    bool known = !view;
    for (size_t i = 0; view && i < sizeof views / sizeof views[0]; i++)
        if (!strcmp(view, views[i])) known = true;
    if (!known) {
        snprintf(err, errlen, "view must be one of default, configured, provider-config, all");
        return -1;
    }
    return 0;
}

/* ---- models.authStatus ---- */

static void handle_auth_status(cg_req *req)
{
    cg_llm *llm = cg_gateway_llm(req->gw);
    if (!llm) {
        cg_req_error(req, "UNAVAILABLE", "model providers are not running", NULL);
        return;
    }
    cg_req_ok(req, cg_llm_auth_status(llm));
}

static int check_auth_status(const json_t *params, char *err, size_t errlen)
{
    const char *agent = NULL;
    int refresh = 0;
    return cg_params_unpack(params, err, errlen, "{s?b, s?s}", "refresh", &refresh, "agentId",
                            &agent);
}

const cg_method cg_methods_models[] = {
    {.name = "models.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_list,
     .handler = handle_list,
     .summary = "Configured models of every provider, with GET /models discovery for "
                "OpenAI-compatible servers (cached).",
     .timeout_ms = 15000},
    {.name = "models.authStatus",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_auth_status,
     .handler = handle_auth_status,
     .summary = "Which model providers have credentials (API keys from the config or the "
                "environment)."},
    {.name = NULL},
};
