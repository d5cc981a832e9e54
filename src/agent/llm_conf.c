/* The model-provider configuration, read from the resolved document (OpenClaw's keys):
 *
 *   models.providers.<id> = {baseUrl, apiKey, api, headers?, models: [{id, name,
 *       contextWindow, maxTokens, reasoning?, input?}], timeoutSeconds?, command?}
 *   agents.defaults.model = "<provider>/<model>" | {primary, fallbacks: [...]}
 *
 * api: "openai-completions" (the default when baseUrl is set), "anthropic-messages",
 * "cli" (clawgate's own, with command: [argv...]). apiKey: a string ("${VAR}" is already
 * replaced by the config store) or {source: "env", id: "VAR"}. A provider named openai or
 * anthropic without a key takes OPENAI_API_KEY / ANTHROPIC_API_KEY; one the config does
 * not name is configured from those variables (and OPENAI_BASE_URL / ANTHROPIC_BASE_URL)
 * with a current default model. With no provider at all, `offline` answers.
 *
 * Also here: the retry decision, errorKind of a status, the text of an error body, and
 * UTF-8 cleaning, which do not depend on a stream. */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/llm_internal.h"

static const char *env_value(const char *name)
{
    const char *v = name ? getenv(name) : NULL;
    return v && *v ? v : NULL;
}

static void issue(json_t *issues, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void issue(json_t *issues, const char *path, const char *fmt, ...)
{
    if (!issues) return;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_array_append_new(issues, json_pack("{s:s, s:s}", "path", path, "message", message));
}

static const json_t *at(const json_t *doc, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(doc, a);
    if (b) v = json_object_get(v, b);
    if (c) v = json_object_get(v, c);
    return v;
}

static char *trim_slash(const char *url)
{
    char *s = cg_strdup(url);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = 0;
    return s;
}

static bool host_is(const char *url, const char *host)
{
    const char *p = strstr(url ? url : "", "://");
    if (!p) return false;
    p += 3;
    size_t n = strlen(host);
    return !strncasecmp(p, host, n) && (p[n] == 0 || p[n] == '/' || p[n] == ':');
}

static void model_add(cg_llm_provider *p, const char *id, const char *name, int64_t ctx,
                      int64_t max_tokens, bool reasoning, bool images)
{
    p->models = cg_xrealloc(p->models, (p->n_models + 1) * sizeof *p->models);
    p->models[p->n_models++] = (cg_llm_model){.id = cg_strdup(id),
                                              .name = cg_strdup(name ? name : id),
                                              .context_window = ctx,
                                              .max_tokens = max_tokens,
                                              .reasoning = reasoning,
                                              .images = images};
}

static int64_t positive_int(const json_t *v, const char *path, json_t *issues)
{
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        issue(issues, path, "must be a positive integer");
        return 0;
    }
    return json_integer_value(v);
}

static void parse_models(cg_llm_provider *p, const json_t *list, const char *base, json_t *issues)
{
    if (!list) return;
    char path[512];
    snprintf(path, sizeof path, "%s.models", base);
    if (!json_is_array(list)) {
        issue(issues, path, "must be an array of {id, name, ...}");
        return;
    }
    size_t i;
    const json_t *m;
    json_array_foreach(list, i, m)
    {
        snprintf(path, sizeof path, "%s.models.%zu", base, i);
        if (p->n_models >= CG_LLM_MAX_MODELS) {
            issue(issues, path, "too many models (at most %d per provider)", CG_LLM_MAX_MODELS);
            return;
        }
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!json_is_object(m) || !id || !*id) {
            issue(issues, path, "a model needs an id (a non-empty string)");
            continue;
        }
        const char *name = json_string_value(json_object_get(m, "name"));
        char sub[600];
        snprintf(sub, sizeof sub, "%s.contextWindow", path);
        int64_t ctx = positive_int(json_object_get(m, "contextWindow"), sub, issues);
        snprintf(sub, sizeof sub, "%s.maxTokens", path);
        int64_t max_tokens = positive_int(json_object_get(m, "maxTokens"), sub, issues);
        bool images = cg_json_array_has_string(json_object_get(m, "input"), "image");
        model_add(p, id, name && *name ? name : id, ctx, max_tokens,
                  json_is_true(json_object_get(m, "reasoning")), images);
    }
}

static void parse_headers(cg_llm_provider *p, const json_t *headers, const char *base,
                          json_t *issues)
{
    if (!headers) return;
    char path[512];
    snprintf(path, sizeof path, "%s.headers", base);
    if (!json_is_object(headers)) {
        issue(issues, path, "must be an object of header names to string values");
        return;
    }
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)headers, name, value)
    {
        snprintf(path, sizeof path, "%s.headers.%s", base, name);
        const char *v = json_string_value(value);
        if (!v || !*name || strpbrk(name, ":\r\n \t") || strpbrk(v, "\r\n")) {
            issue(issues, path, "must be a string without line breaks, under a valid header name");
            continue;
        }
        size_t len = strlen(name) + strlen(v) + 3;
        char *line = cg_xmalloc(len);
        snprintf(line, len, "%s: %s", name, v);
        p->headers = cg_xrealloc(p->headers, (p->n_headers + 1) * sizeof *p->headers);
        p->headers[p->n_headers++] = line;
    }
}

static void parse_api_key(cg_llm_provider *p, const json_t *key, const char *base, json_t *issues)
{
    char path[512];
    snprintf(path, sizeof path, "%s.apiKey", base);
    if (json_is_string(key)) {
        if (*json_string_value(key)) {
            p->api_key = cg_strdup(json_string_value(key));
            p->key_in_config = true;
        }
        return;
    }
    if (json_is_object(key)) {
        const char *source = json_string_value(json_object_get(key, "source"));
        const char *id = json_string_value(json_object_get(key, "id"));
        if (!source || strcmp(source, "env") != 0 || !id || !*id) {
            issue(issues, path,
                  "only {\"source\": \"env\", \"id\": \"VAR\"} references are supported by "
                  "clawgate (or a string; \"${VAR}\" reads an environment variable)");
            return;
        }
        p->api_key_env = cg_strdup(id);
        p->api_key = cg_strdup(env_value(id));
        p->needs_key = true; /* a key was meant to be there */
        return;
    }
    if (key && !json_is_null(key))
        issue(issues, path, "must be a string or {\"source\": \"env\", \"id\": \"VAR\"}");
}

static void provider_free(cg_llm_provider *p)
{
    free(p->id);
    free(p->path);
    free(p->base_url);
    free(p->api_key);
    free(p->api_key_env);
    for (size_t i = 0; i < p->n_headers; i++)
        free(p->headers[i]);
    free(p->headers);
    for (size_t i = 0; i < p->n_command; i++)
        free(p->command[i]);
    free(p->command);
    for (size_t i = 0; i < p->n_models; i++) {
        free(p->models[i].id);
        free(p->models[i].name);
    }
    free(p->models);
}

static const char *const unsupported_apis[] = {
    "azure-openai-responses",   "bedrock-converse-stream", "github-copilot",
    "google-generative-ai",     "google-vertex",           "ollama",
    "openai-chatgpt-responses", "openai-responses",        "pi-messages"};

/* One configured provider; false when it cannot be used (issues say why). */
static bool parse_provider(cg_llm_provider *p, const char *id, const json_t *v, json_t *issues)
{
    char base[400];
    snprintf(base, sizeof base, "models.providers.%s", id);
    p->id = cg_strdup(id);
    p->path = cg_strdup(base);
    p->idle_timeout_ms = CG_LLM_DEFAULT_IDLE_MS;
    if (!json_is_object(v)) {
        issue(issues, base, "must be an object {baseUrl, apiKey, api, models}");
        return false;
    }
    if (!*id || strchr(id, '/')) {
        issue(issues, base, "a provider id must be non-empty and contain no '/'");
        return false;
    }
    char path[512];
    const char *api = json_string_value(json_object_get(v, "api"));
    const char *base_url = json_string_value(json_object_get(v, "baseUrl"));
    snprintf(path, sizeof path, "%s.api", base);
    if (!api) {
        if (json_object_get(v, "api")) {
            issue(issues, path, "must be a string");
            return false;
        }
        p->api = !strcmp(id, "anthropic") && !base_url ? CG_LLM_API_ANTHROPIC : CG_LLM_API_OPENAI;
    } else if (!strcmp(api, "openai-completions")) {
        p->api = CG_LLM_API_OPENAI;
    } else if (!strcmp(api, "anthropic-messages")) {
        p->api = CG_LLM_API_ANTHROPIC;
    } else if (!strcmp(api, "cli")) {
        p->api = CG_LLM_API_CLI;
    } else {
        bool known = false;
        for (size_t i = 0; i < sizeof unsupported_apis / sizeof unsupported_apis[0]; i++)
            if (!strcmp(api, unsupported_apis[i])) known = true;
        issue(issues, path,
              known ? "\"%s\" is not supported by clawgate (supported: openai-completions, "
                      "anthropic-messages, cli)"
                    : "unknown api \"%s\" (supported: openai-completions, anthropic-messages, "
                      "cli)",
              api);
        return false;
    }
    const json_t *timeout = json_object_get(v, "timeoutSeconds");
    if (timeout) {
        snprintf(path, sizeof path, "%s.timeoutSeconds", base);
        if (!json_is_number(timeout) || json_number_value(timeout) <= 0 ||
            json_number_value(timeout) > 86400)
            issue(issues, path, "must be a number of seconds between 0 and 86400");
        else
            p->idle_timeout_ms = (int64_t)(json_number_value(timeout) * 1000);
    }
    parse_models(p, json_object_get(v, "models"), base, issues);
    if (p->api == CG_LLM_API_CLI) {
        const json_t *cmd = json_object_get(v, "command");
        snprintf(path, sizeof path, "%s.command", base);
        bool ok = json_is_array(cmd) && json_array_size(cmd) > 0 && json_array_size(cmd) <= 256;
        size_t i;
        const json_t *arg;
        json_array_foreach(cmd, i, arg) if (!json_is_string(arg) ||
                                            (i == 0 && !*json_string_value(arg))) ok = false;
        if (!ok) {
            issue(issues, path,
                  "api \"cli\" needs command: the argv of the program to run, e.g. "
                  "[\"ollama\", \"run\", \"llama3.2\"]");
            return false;
        }
        p->n_command = json_array_size(cmd);
        p->command = cg_xcalloc(p->n_command + 1, sizeof *p->command);
        json_array_foreach(cmd, i, arg) p->command[i] = cg_strdup(json_string_value(arg));
        if (p->n_models == 0) model_add(p, "default", id, 0, 0, false, false);
        return true;
    }
    if (base_url) {
        snprintf(path, sizeof path, "%s.baseUrl", base);
        if (strncasecmp(base_url, "http://", 7) && strncasecmp(base_url, "https://", 8)) {
            issue(issues, path, "must be an http:// or https:// URL");
            return false;
        }
        p->base_url = trim_slash(base_url);
    } else if (p->api == CG_LLM_API_ANTHROPIC) {
        p->base_url = cg_strdup(env_value("ANTHROPIC_BASE_URL") ? env_value("ANTHROPIC_BASE_URL")
                                                                : CG_LLM_ANTHROPIC_DEFAULT_BASE);
        char *t = trim_slash(p->base_url);
        free(p->base_url);
        p->base_url = t;
    } else if (!strcmp(id, "openai")) {
        p->base_url = trim_slash(env_value("OPENAI_BASE_URL") ? env_value("OPENAI_BASE_URL")
                                                              : CG_LLM_OPENAI_DEFAULT_BASE);
    } else {
        snprintf(path, sizeof path, "%s.baseUrl", base);
        issue(issues, path, "required: the provider's URL, e.g. \"http://127.0.0.1:11434/v1\"");
        return false;
    }
    parse_api_key(p, json_object_get(v, "apiKey"), base, issues);
    const char *env_key = p->api == CG_LLM_API_ANTHROPIC ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
    if (!p->api_key && !p->api_key_env &&
        (!strcmp(id, "openai") || !strcmp(id, "anthropic") ||
         host_is(p->base_url, "api.openai.com") || host_is(p->base_url, "api.anthropic.com"))) {
        p->api_key_env = cg_strdup(env_key);
        p->api_key = cg_strdup(env_value(env_key));
    }
    if (host_is(p->base_url, "api.openai.com") || host_is(p->base_url, "api.anthropic.com"))
        p->needs_key = true;
    parse_headers(p, json_object_get(v, "headers"), base, issues);
    return true;
}

static cg_llm_provider automatic_provider(cg_llm_api api)
{
    bool openai = api == CG_LLM_API_OPENAI;
    const char *id = openai ? "openai" : "anthropic";
    const char *key_var = openai ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY";
    const char *url_var = openai ? "OPENAI_BASE_URL" : "ANTHROPIC_BASE_URL";
    const char *url = env_value(url_var);
    cg_llm_provider p = {
        .id = cg_strdup(id),
        .path = cg_strdup(key_var),
        .api = api,
        .base_url = trim_slash(url      ? url
                               : openai ? CG_LLM_OPENAI_DEFAULT_BASE
                                        : CG_LLM_ANTHROPIC_DEFAULT_BASE),
        .api_key = cg_strdup(env_value(key_var)),
        .api_key_env = cg_strdup(key_var),
        .needs_key = true,
        .automatic = true,
        .idle_timeout_ms = CG_LLM_DEFAULT_IDLE_MS,
    };
    if (openai)
        model_add(&p, CG_LLM_OPENAI_DEFAULT_MODEL, "GPT-6 Astra", 1050000, 128000, true, true);
    else
        model_add(&p, CG_LLM_ANTHROPIC_DEFAULT_MODEL, "Claude Opus 5", 1000000, 128000, true, true);
    return p;
}

static cg_llm_provider offline_provider = {
    .id = "offline",
    .path = "offline",
    .api = CG_LLM_API_OFFLINE,
    .models = &(cg_llm_model){.id = "offline", .name = "Offline (no model configured)"},
    .n_models = 1,
    .idle_timeout_ms = CG_LLM_DEFAULT_IDLE_MS,
};

const cg_llm_provider *cg_llm_conf_provider(const cg_llm_conf *c, const char *id)
{
    for (size_t i = 0; i < c->n_providers; i++)
        if (!strcmp(c->providers[i].id, id)) return &c->providers[i];
    if (!strcmp(id, "offline")) return &offline_provider;
    return NULL;
}

int cg_llm_conf_resolve(const cg_llm_conf *c, const char *ref, const cg_llm_provider **provider,
                        const char **model_id, const cg_llm_model **model, char *err, size_t errlen)
{
    *provider = NULL;
    *model = NULL;
    *model_id = NULL;
    const char *slash = ref ? strchr(ref, '/') : NULL;
    if (!ref || !*ref) {
        snprintf(err, errlen, "no model is named");
        return -1;
    }
    if (!slash) {
        const cg_llm_provider *found = NULL;
        const cg_llm_model *found_model = NULL;
        int n = 0;
        for (size_t i = 0; i < c->n_providers; i++)
            for (size_t j = 0; j < c->providers[i].n_models; j++)
                if (!strcmp(c->providers[i].models[j].id, ref)) {
                    found = &c->providers[i];
                    found_model = &c->providers[i].models[j];
                    n++;
                }
        if (n != 1) {
            snprintf(err, errlen,
                     n ? "model \"%.200s\" is listed by several providers; write "
                         "\"<provider>/%.200s\""
                       : "model \"%.200s\" names no provider; write \"<provider>/%.200s\"",
                     ref, ref);
            return -1;
        }
        *provider = found;
        *model = found_model;
        *model_id = found_model->id;
        return 0;
    }
    char id[256];
    size_t len = (size_t)(slash - ref);
    if (len == 0 || len >= sizeof id || !slash[1]) {
        snprintf(err, errlen, "model \"%.200s\" is not \"<provider>/<model>\"", ref);
        return -1;
    }
    memcpy(id, ref, len);
    id[len] = 0;
    const cg_llm_provider *p = cg_llm_conf_provider(c, id);
    if (!p) {
        if (!strcmp(id, "openai") || !strcmp(id, "anthropic"))
            snprintf(err, errlen,
                     "provider \"%s\" is not configured: set %s, or add models.providers.%s", id,
                     !strcmp(id, "openai") ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY", id);
        else
            snprintf(err, errlen,
                     "provider \"%s\" is not configured: add models.providers.%s {baseUrl, "
                     "apiKey, api, models}",
                     id, id);
        return -1;
    }
    *provider = p;
    *model_id = slash + 1;
    for (size_t j = 0; j < p->n_models; j++)
        if (!strcmp(p->models[j].id, slash + 1)) *model = &p->models[j];
    return 0;
}

static void chain_add(cg_llm_conf *c, const char *ref)
{
    for (size_t i = 0; i < c->chain_len; i++)
        if (!strcmp(c->chain[i], ref)) return;
    if (c->chain_len >= CG_LLM_MAX_CHAIN) return;
    c->chain = cg_xrealloc(c->chain, (c->chain_len + 1) * sizeof *c->chain);
    c->chain[c->chain_len++] = cg_strdup(ref);
}

static void chain_entry(cg_llm_conf *c, const json_t *v, const char *path, json_t *issues)
{
    const char *ref = json_string_value(v);
    if (!ref || !*ref) {
        issue(issues, path, "must be a string \"<provider>/<model>\"");
        return;
    }
    const cg_llm_provider *p;
    const cg_llm_model *m;
    const char *model_id;
    char err[512];
    if (cg_llm_conf_resolve(c, ref, &p, &model_id, &m, err, sizeof err) != 0)
        issue(issues, path, "%s", err);
    chain_add(c, ref);
}

cg_llm_conf *cg_llm_conf_build(const json_t *doc, json_t *issues)
{
    cg_llm_conf *c = cg_xcalloc(1, sizeof *c);
    c->refs = 1;
    const json_t *providers = at(doc, "models", "providers", NULL);
    if (providers && !json_is_object(providers))
        issue(issues, "models.providers", "must be an object of provider ids");
    const char *id;
    const json_t *v;
    json_object_foreach((json_t *)providers, id, v)
    {
        if (c->n_providers >= CG_LLM_MAX_PROVIDERS) {
            issue(issues, "models.providers", "too many providers (at most %d)",
                  CG_LLM_MAX_PROVIDERS);
            break;
        }
        cg_llm_provider p = {0};
        if (!parse_provider(&p, id, v, issues)) {
            provider_free(&p);
            continue;
        }
        c->providers = cg_xrealloc(c->providers, (c->n_providers + 1) * sizeof *c->providers);
        c->providers[c->n_providers++] = p;
    }
    static const cg_llm_api automatic[] = {CG_LLM_API_OPENAI, CG_LLM_API_ANTHROPIC};
    for (size_t i = 0; i < 2; i++) {
        const char *aid = automatic[i] == CG_LLM_API_OPENAI ? "openai" : "anthropic";
        const char *var =
            automatic[i] == CG_LLM_API_OPENAI ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY";
        bool configured = false;
        for (size_t j = 0; j < c->n_providers; j++)
            if (!strcmp(c->providers[j].id, aid)) configured = true;
        if (configured || json_object_get(providers, aid) || !env_value(var)) continue;
        c->providers = cg_xrealloc(c->providers, (c->n_providers + 1) * sizeof *c->providers);
        c->providers[c->n_providers++] = automatic_provider(automatic[i]);
    }
    const json_t *model = at(doc, "agents", "defaults", "model");
    if (json_is_string(model)) {
        chain_entry(c, model, "agents.defaults.model", issues);
    } else if (json_is_object(model)) {
        const json_t *primary = json_object_get(model, "primary");
        if (primary) chain_entry(c, primary, "agents.defaults.model.primary", issues);
        const json_t *fallbacks = json_object_get(model, "fallbacks");
        if (fallbacks && !json_is_array(fallbacks))
            issue(issues, "agents.defaults.model.fallbacks", "must be an array of model names");
        size_t i;
        const json_t *f;
        json_array_foreach(fallbacks, i, f)
        {
            char path[96];
            snprintf(path, sizeof path, "agents.defaults.model.fallbacks.%zu", i);
            chain_entry(c, f, path, issues);
        }
    } else if (model && !json_is_null(model)) {
        issue(issues, "agents.defaults.model",
              "must be \"<provider>/<model>\" or {primary, fallbacks}");
    }
    if (c->chain_len == 0) {
        /* No default named: the first provider that lists a model. */
        for (size_t i = 0; i < c->n_providers && !c->chain_len; i++) {
            if (!c->providers[i].n_models) continue;
            char ref[1024];
            snprintf(ref, sizeof ref, "%s/%s", c->providers[i].id, c->providers[i].models[0].id);
            chain_add(c, ref);
        }
    }
    if (c->n_providers == 0 && c->chain_len == 0) {
        c->offline = true;
        chain_add(c, "offline/offline");
    } else if (c->chain_len == 0) {
        issue(issues, "agents.defaults.model",
              "no default model: set it to \"<provider>/<model>\" (no configured provider "
              "lists models)");
    }
    return c;
}

cg_llm_conf *cg_llm_conf_ref(cg_llm_conf *c)
{
    c->refs++;
    return c;
}

void cg_llm_conf_unref(cg_llm_conf *c)
{
    if (!c || --c->refs > 0) return;
    for (size_t i = 0; i < c->n_providers; i++)
        provider_free(&c->providers[i]);
    free(c->providers);
    for (size_t i = 0; i < c->chain_len; i++)
        free(c->chain[i]);
    free(c->chain);
    free(c);
}

/* ---- retries and errors ---- */

int64_t cg_llm_retry_delay_ms(long code, const char *retry_after, const char *retry_after_ms,
                              int retries_done, int64_t elapsed_ms, int64_t now_epoch_ms)
{
    if (code != 429 && (code < 500 || code > 599)) return -1;
    if (retries_done >= CG_LLM_MAX_RETRIES) return -1;
    int64_t delay = 1000LL << retries_done; /* 1 s, 2 s, 4 s */
    char *end;
    if (retry_after_ms && *retry_after_ms) {
        double ms = strtod(retry_after_ms, &end);
        if (end != retry_after_ms && ms >= 0 && ms < 1e9) delay = (int64_t)ms;
    } else if (retry_after && *retry_after) {
        double secs = strtod(retry_after, &end);
        if (end != retry_after && (*end == 0 || *end == ' ') && secs >= 0 && secs < 1e7) {
            delay = (int64_t)(secs * 1000);
        } else {
            time_t when = curl_getdate(retry_after, NULL);
            if (when != (time_t)-1) {
                delay = (int64_t)when * 1000 - now_epoch_ms;
                if (delay < 0) delay = 0;
            }
        }
    }
    if (elapsed_ms + delay > CG_LLM_RETRY_WINDOW_MS) return -1;
    return delay;
}

const char *cg_llm_kind_for_status(long code)
{
    if (code == 401 || code == 403) return "auth";
    if (code == 429) return "rate_limit";
    if (code >= 500) return "server";
    if (code == 404) return "config";
    if (code >= 400) return "input";
    return "server";
}

size_t cg_llm_utf8_append(cg_buf *out, const char *in, size_t len, bool final)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t need = c < 0x80             ? 1
                      : (c & 0xE0) == 0xC0 ? 2
                      : (c & 0xF0) == 0xE0 ? 3
                      : (c & 0xF8) == 0xF0 ? 4
                                           : 0;
        if (need == 0 || (need == 2 && c < 0xC2) || (need == 4 && c > 0xF4)) {
            cg_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        if (i + need > len) {
            /* An incomplete sequence at the end: wait for more unless this is all. */
            bool prefix_ok = true;
            for (size_t k = 1; i + k < len; k++)
                if ((s[i + k] & 0xC0) != 0x80) prefix_ok = false;
            if (!final && prefix_ok) return i;
            cg_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        bool ok = true;
        for (size_t k = 1; k < need; k++)
            if ((s[i + k] & 0xC0) != 0x80) ok = false;
        if (ok && need == 3) {
            unsigned cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
            if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) ok = false;
        } else if (ok && need == 4) {
            unsigned cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) |
                          ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
            if (cp < 0x10000 || cp > 0x10FFFF) ok = false;
        }
        if (!ok) {
            cg_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        cg_buf_append(out, in + i, need);
        i += need;
    }
    return i;
}

/* Printable, bounded text: control characters become spaces, runs of them one; cut
 * at outlen - 1 bytes on a character boundary. */
static void clean_text(const char *in, size_t len, char *out, size_t outlen)
{
    cg_buf b = {0};
    cg_llm_utf8_append(&b, in, len, true);
    size_t o = 0, i = 0;
    bool space = false;
    while (i < b.len) {
        unsigned char c = (unsigned char)b.data[i];
        size_t clen = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
        if (c < 0x20 || c == 0x7F) {
            if (!space && o && o + 2 < outlen) out[o++] = ' ';
            space = true;
            i++;
            continue;
        }
        if (o + clen + 1 > outlen) break;
        space = false;
        memcpy(out + o, b.data + i, clen);
        o += clen;
        i += clen;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = 0;
    cg_buf_reset(&b);
}

void cg_llm_error_text(const char *body, size_t len, char *out, size_t outlen)
{
    out[0] = 0;
    if (!body || !len) return;
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    const char *msg = NULL;
    if (doc) {
        const json_t *e = json_object_get(doc, "error");
        msg = json_string_value(json_object_get(e, "message"));
        if (!msg) msg = json_string_value(e);
        if (!msg) msg = json_string_value(json_object_get(doc, "message"));
        if (!msg) msg = json_string_value(json_object_get(doc, "detail"));
    }
    size_t cap = outlen < 301 ? outlen : 301;
    if (msg) {
        clean_text(msg, strlen(msg), out, cap);
    } else if (!doc) {
        const char *nl = memchr(body, '\n', len);
        size_t n = nl ? (size_t)(nl - body) : len;
        /* An HTML error page says nothing useful in its first line. */
        if (!(n > 0 && body[0] == '<')) clean_text(body, n, out, cap);
    }
    json_decref(doc);
}
