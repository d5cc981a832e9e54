/* The onboarding wizard's engine (see wizard/wizard.h for the steps and what is written).
 *
 * A session is a small state machine: `step` names the question being asked, the
 * answers so far live in the session, and each answer either moves `step` on (the next
 * question depends on earlier answers: the token or password question only for those
 * modes, the model questions only when a provider was chosen, the base URL only for an
 * OpenAI-compatible one) or leaves it with `answer_error` set. Two answers start work
 * and make the session busy: the key check (an HTTP GET through the libcurl multi
 * client, body bounded by CHECK_BODY_MAX) and the final write (cg_config_patch_async).
 * Their completions move the session and call on_update.
 *
 * Lifetimes: the idle timer is its own allocation (freed in its close callback), so
 * the session can go at once. A key check in flight is cancelled on free (curl never
 * calls back after that); a write in flight cannot be, so a session freed during its
 * write is only marked `freed` and freed by the write's callback. */
#include "wizard/wizard.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agents.h"
#include "common/util.h"

#define CHECK_BODY_MAX (1024u * 1024)
#define CHECK_CONNECT_TIMEOUT_MS 10000
#define CHECK_TOTAL_TIMEOUT_MS 20000
#define SECRET_MIN 8
#define TEXT_MAX 4096
#define TOKEN_BYTES 24
#define OPENAI_BASE "https://api.openai.com/v1"
#define ANTHROPIC_BASE "https://api.anthropic.com"
#define ANTHROPIC_VERSION "2023-06-01"
#define CUSTOM_PROVIDER_ID "custom"

typedef enum {
    STEP_AUTH_MODE,
    STEP_AUTH_TOKEN,
    STEP_AUTH_PASSWORD,
    STEP_PROVIDER,
    STEP_BASE_URL,
    STEP_API_KEY,
    STEP_MODEL,
    STEP_WORKSPACE,
    STEP_AGENT_ID,
    STEP_AGENT_NAME,
    STEP_CONFIRM,
} step_kind;

typedef struct step_spec {
    const char *id;
    const char *type;
    const char *title;
    const char *message;
    const char *placeholder;
    bool sensitive;
} step_spec;

static const step_spec steps[] = {
    [STEP_AUTH_MODE] = {"auth-mode", "select", "Gateway auth",
                        "How should clients prove who they are?", NULL, false},
    [STEP_AUTH_TOKEN] = {"auth-token", "text", "Gateway token",
                         "The gateway token (leave empty to generate one).",
                         "leave empty to generate", true},
    [STEP_AUTH_PASSWORD] = {"auth-password", "text", "Gateway password",
                            "The gateway password (at least 8 characters).", NULL, true},
    [STEP_PROVIDER] = {"model-provider", "select", "Model provider",
                       "Which model provider should agents use?", NULL, false},
    [STEP_BASE_URL] = {"model-base-url", "text", "Provider URL",
                       "The OpenAI-compatible API's base URL.", "http://127.0.0.1:11434/v1", false},
    [STEP_API_KEY] = {"model-api-key", "text", "API key", NULL, NULL, true},
    [STEP_MODEL] = {"model-default", "select", "Default model",
                    "Which model should agents use by default?", NULL, false},
    [STEP_WORKSPACE] = {"workspace", "text", "Workspace",
                        "The agent's workspace directory (absolute or ~/...).", NULL, false},
    [STEP_AGENT_ID] = {"agent-id", "text", "First agent", "The first agent's id.", "main", false},
    [STEP_AGENT_NAME] = {"agent-name", "text", "Agent name",
                         "The first agent's display name (optional).", NULL, false},
    [STEP_CONFIRM] = {"confirm", "confirm", "Write the configuration", NULL, NULL, false},
};

typedef enum { WORK_NONE, WORK_CHECK, WORK_WRITE } work_kind;

struct cg_wizard {
    cg_wizard_options opt;
    char *workspace_hint;
    uv_timer_t *timer;
    cg_wizard_status status;
    char *error;
    char *answer_error;
    step_kind step;
    work_kind work;
    bool freed;

    cg_http_req *check;
    char *check_body;
    size_t check_len;
    char *check_url;

    /* The answers. */
    char *auth_mode;
    char *token;
    bool token_generated;
    char *password;
    char *provider; /* openai, anthropic, openai-compatible, skip */
    char *base_url; /* the URL the key was checked against */
    char *api_key;
    json_t *models; /* the ids the provider listed */
    char *model;
    char *workspace;
    char agent_id[CG_AGENT_ID_MAX + 1];
    char *agent_name;
};

static void set_string(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? cg_strdup(value) : NULL;
}

static void set_answer_error(cg_wizard *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_answer_error(cg_wizard *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(w->answer_error);
    w->answer_error = cg_strdup_vprintf(512, fmt, ap);
    va_end(ap);
}

static const json_t *doc_at(const cg_wizard *w, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(cg_config_document(w->opt.cfg), a);
    if (b) v = json_object_get(v, b);
    if (c) v = json_object_get(v, c);
    return v;
}

/* ---- the idle timer ---- */

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void on_idle_timeout(uv_timer_t *t)
{
    cg_wizard *w = t->data;
    if (w->status != CG_WIZARD_RUNNING || w->work != WORK_NONE) return;
    w->status = CG_WIZARD_CANCELLED;
    char text[128];
    snprintf(text, sizeof text, "wizard expired: no answer for %llu s",
             (unsigned long long)(w->opt.idle_timeout_ms / 1000));
    set_string(&w->error, text);
    if (w->opt.on_update) w->opt.on_update(w, w->opt.data);
}

static void restart_idle_timer(cg_wizard *w)
{
    if (!w->timer) return;
    if (w->status == CG_WIZARD_RUNNING && w->work == WORK_NONE)
        uv_timer_start(w->timer, on_idle_timeout, w->opt.idle_timeout_ms, 0);
    else
        uv_timer_stop(w->timer);
}

/* ---- the session ---- */

cg_wizard *cg_wizard_new(const cg_wizard_options *opt)
{
    cg_wizard *w = cg_xcalloc(1, sizeof *w);
    w->opt = *opt;
    w->workspace_hint = cg_strdup(opt->workspace);
    w->opt.workspace = NULL;
    w->status = CG_WIZARD_RUNNING;
    w->step = STEP_AUTH_MODE;
    w->models = json_array();
    snprintf(w->agent_id, sizeof w->agent_id, "%s", CG_AGENTS_DEFAULT_ID);
    if (opt->idle_timeout_ms) {
        w->timer = cg_xcalloc(1, sizeof *w->timer);
        uv_timer_init(opt->loop, w->timer);
        w->timer->data = w;
        restart_idle_timer(w);
    }
    return w;
}

static void destroy(cg_wizard *w)
{
    free(w->workspace_hint);
    free(w->error);
    free(w->answer_error);
    free(w->check_body);
    free(w->check_url);
    free(w->auth_mode);
    free(w->token);
    free(w->password);
    free(w->provider);
    free(w->base_url);
    free(w->api_key);
    json_decref(w->models);
    free(w->model);
    free(w->workspace);
    free(w->agent_name);
    free(w);
}

void cg_wizard_free(cg_wizard *w)
{
    if (!w) return;
    if (w->timer) {
        uv_timer_stop(w->timer);
        uv_close((uv_handle_t *)w->timer, on_timer_closed);
        w->timer = NULL;
    }
    if (w->check) {
        cg_http_cancel(w->check);
        w->check = NULL;
    }
    if (w->work == WORK_WRITE) {
        w->freed = true; /* the write's callback frees */
        return;
    }
    destroy(w);
}

cg_wizard_status cg_wizard_status_of(const cg_wizard *w)
{
    return w->status;
}

const char *cg_wizard_status_name(cg_wizard_status status)
{
    switch (status) {
    case CG_WIZARD_RUNNING:
        return "running";
    case CG_WIZARD_DONE:
        return "done";
    case CG_WIZARD_CANCELLED:
        return "cancelled";
    case CG_WIZARD_ERROR:
        return "error";
    }
    return "error";
}

const char *cg_wizard_error(const cg_wizard *w)
{
    return w->error;
}

bool cg_wizard_busy(const cg_wizard *w)
{
    return w->work != WORK_NONE;
}

bool cg_wizard_step_sensitive(const cg_wizard *w)
{
    return w->status == CG_WIZARD_RUNNING && steps[w->step].sensitive;
}

const char *cg_wizard_answer_error(const cg_wizard *w)
{
    return w->answer_error;
}

bool cg_wizard_cancel(cg_wizard *w)
{
    if (w->status != CG_WIZARD_RUNNING || w->work == WORK_WRITE) return false;
    if (w->check) {
        cg_http_cancel(w->check);
        w->check = NULL;
        w->work = WORK_NONE;
    }
    w->status = CG_WIZARD_CANCELLED;
    set_string(&w->error, "cancelled");
    restart_idle_timer(w);
    return true;
}

/* ---- steps as the client sees them ---- */

static json_t *option(const char *value, const char *label, const char *hint)
{
    json_t *o = json_pack("{s:s, s:s}", "value", value, "label", label);
    if (hint) json_object_set_new(o, "hint", json_string(hint));
    return o;
}

static const char *provider_id(const cg_wizard *w)
{
    if (!strcmp(w->provider, "openai-compatible")) return CUSTOM_PROVIDER_ID;
    return w->provider;
}

static bool provider_is_anthropic(const cg_wizard *w)
{
    return !strcmp(w->provider, "anthropic");
}

static bool key_required(const cg_wizard *w)
{
    return strcmp(w->provider, "openai-compatible") != 0;
}

/* The workspace suggested: the start param, agents.defaults.workspace, DIR/workspace. */
static char *default_workspace(const cg_wizard *w)
{
    if (w->workspace_hint && *w->workspace_hint) return cg_strdup(w->workspace_hint);
    const char *configured = json_string_value(doc_at(w, "agents", "defaults", "workspace"));
    if (configured && *configured) return cg_strdup(configured);
    const char *dir = cg_config_state_dir(w->opt.cfg);
    size_t len = strlen(dir) + sizeof "/workspace";
    char *out = cg_xmalloc(len);
    snprintf(out, len, "%s/workspace", dir);
    return out;
}

/* "sk-...abcd": enough to recognize a key, not to use it. */
static void mask_secret(const char *secret, char *out, size_t outlen)
{
    size_t len = secret ? strlen(secret) : 0;
    if (len == 0)
        snprintf(out, outlen, "(none)");
    else if (len <= 8)
        snprintf(out, outlen, "****");
    else
        snprintf(out, outlen, "****%s", secret + len - 4);
}

static char *summary(const cg_wizard *w)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "Gateway auth: %s", w->auth_mode);
    if (w->token_generated)
        fprintf(f, " (generated token: %s; clients need it to connect)", w->token);
    else if (w->token)
        fprintf(f, " (token entered)");
    else if (w->password)
        fprintf(f, " (password entered)");
    fprintf(f, "\n");
    if (!strcmp(w->provider, "skip")) {
        fprintf(f, "Model provider: none configured\n");
    } else {
        char masked[32];
        mask_secret(w->api_key, masked, sizeof masked);
        fprintf(f, "Model provider: %s at %s, key %s\n", provider_id(w), w->base_url, masked);
        fprintf(f, "Default model: %s/%s\n", provider_id(w), w->model);
    }
    fprintf(f, "Workspace: %s\n", w->workspace);
    fprintf(f, "First agent: %s", w->agent_id);
    if (w->agent_name) fprintf(f, " (%s)", w->agent_name);
    fprintf(f, "\nConfig file: %s\nWrite this configuration?", cg_config_path(w->opt.cfg));
    fclose(f);
    return text;
}

static char *api_key_message(const cg_wizard *w)
{
    char text[1024];
    snprintf(text, sizeof text, "The %s API key (checked with a call to %s)%s.", provider_id(w),
             w->base_url, key_required(w) ? "" : "; leave empty if the server needs none");
    return cg_strdup(text);
}

json_t *cg_wizard_step(const cg_wizard *w)
{
    if (w->status != CG_WIZARD_RUNNING || w->work != WORK_NONE) return NULL;
    const step_spec *spec = &steps[w->step];
    json_t *step = json_pack("{s:s, s:s, s:s, s:s}", "id", spec->id, "type", spec->type, "title",
                             spec->title, "executor", "client");
    char *message = NULL;
    json_t *options = NULL, *initial = NULL;
    switch (w->step) {
    case STEP_AUTH_MODE: {
        options = json_array();
        json_array_append_new(options, option("token", "Token", "a shared secret (recommended)"));
        json_array_append_new(options, option("password", "Password", "a password people type"));
        json_array_append_new(options, option("none", "None", "loopback only, no credential"));
        const char *mode = json_string_value(doc_at(w, "gateway", "auth", "mode"));
        initial = json_string(
            mode && (!strcmp(mode, "password") || !strcmp(mode, "none")) ? mode : "token");
        break;
    }
    case STEP_PROVIDER:
        options = json_array();
        json_array_append_new(options, option("openai", "OpenAI", "api.openai.com"));
        json_array_append_new(options, option("anthropic", "Anthropic", "api.anthropic.com"));
        json_array_append_new(options, option("openai-compatible", "OpenAI-compatible",
                                              "any server with /chat/completions and /models"));
        json_array_append_new(options, option("skip", "Skip", "configure a provider later"));
        initial = json_string("openai");
        break;
    case STEP_API_KEY:
        message = api_key_message(w);
        break;
    case STEP_MODEL: {
        if (json_array_size(w->models) == 0) {
            json_object_set_new(step, "type", json_string("text"));
            message = cg_strdup("The provider listed no models: which model id should agents "
                                "use by default?");
            break;
        }
        options = json_array();
        size_t i;
        json_t *id;
        json_array_foreach(w->models, i, id)
        {
            const char *value = json_string_value(id);
            json_array_append_new(options, option(value, value, NULL));
        }
        initial = json_incref(json_array_get(w->models, 0));
        break;
    }
    case STEP_WORKSPACE: {
        char *workspace = default_workspace(w);
        initial = json_string(workspace);
        free(workspace);
        break;
    }
    case STEP_AGENT_ID:
        initial = json_string(CG_AGENTS_DEFAULT_ID);
        break;
    case STEP_CONFIRM:
        message = summary(w);
        initial = json_true();
        break;
    default:
        break;
    }
    const char *base = message ? message : spec->message;
    if (w->answer_error) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        fprintf(f, "%s\n%s", w->answer_error, base);
        fclose(f);
        json_object_set_new(step, "message", json_string(text));
        free(text);
    } else {
        json_object_set_new(step, "message", json_string(base));
    }
    free(message);
    if (options) json_object_set_new(step, "options", options);
    if (initial) json_object_set_new(step, "initialValue", initial);
    if (spec->placeholder) json_object_set_new(step, "placeholder", json_string(spec->placeholder));
    if (spec->sensitive) json_object_set_new(step, "sensitive", json_true());
    return step;
}

json_t *cg_wizard_result(const cg_wizard *w)
{
    json_t *result = json_pack("{s:b, s:s}", "done", w->status != CG_WIZARD_RUNNING, "status",
                               cg_wizard_status_name(w->status));
    json_t *step = cg_wizard_step(w);
    if (step) json_object_set_new(result, "step", step);
    const char *error = w->status == CG_WIZARD_RUNNING ? w->answer_error : w->error;
    if (error) json_object_set_new(result, "error", json_string(error));
    return result;
}

/* ---- the key check ---- */

static bool on_check_data(cg_http_req *r, const char *buf, size_t len, void *data)
{
    cg_wizard *w = data;
    if (w->check_len + len > CHECK_BODY_MAX) return false;
    w->check_body = cg_xrealloc(w->check_body, w->check_len + len + 1);
    memcpy(w->check_body + w->check_len, buf, len);
    w->check_len += len;
    w->check_body[w->check_len] = 0;
    return true;
}

/* The provider's own words from an error body ({error: {message}} or {error: "..."}). */
static void provider_message(const cg_wizard *w, char *out, size_t outlen)
{
    *out = 0;
    json_t *doc = w->check_body ? json_loadb(w->check_body, w->check_len, 0, NULL) : NULL;
    const json_t *error = json_object_get(doc, "error");
    const char *message = json_string_value(json_object_get(error, "message"));
    if (!message) message = json_string_value(error);
    if (!message) message = json_string_value(json_object_get(doc, "message"));
    if (message) {
        /* At most 200 bytes, cut on a character boundary: a cut UTF-8 sequence would
         * make jansson drop the step's message and the result's error. */
        size_t n = strlen(message);
        if (n > 200) {
            n = 200;
            while (n > 0 && ((unsigned char)message[n] & 0xC0) == 0x80)
                n--;
        }
        snprintf(out, outlen, ": %.*s", (int)n, message);
    }
    json_decref(doc);
}

/* The model ids of a 200 answer ({data: [{id}]}), at most CG_WIZARD_MAX_MODELS. */
static void take_models(cg_wizard *w)
{
    json_array_clear(w->models);
    json_t *doc = w->check_body ? json_loadb(w->check_body, w->check_len, 0, NULL) : NULL;
    size_t i;
    const json_t *entry;
    json_array_foreach(json_object_get(doc, "data"), i, entry)
    {
        const char *id = json_string_value(json_object_get(entry, "id"));
        if (!id || !*id || strlen(id) > 256) continue;
        if (json_array_size(w->models) >= CG_WIZARD_MAX_MODELS) break;
        json_array_append_new(w->models, json_string(id));
    }
    json_decref(doc);
}

static void on_check_done(cg_http_req *r, const cg_http_result *res, void *data)
{
    cg_wizard *w = data;
    w->check = NULL;
    w->work = WORK_NONE;
    char words[256];
    if (res->status == CG_HTTP_OK && res->code == 200) {
        take_models(w);
        w->step = STEP_MODEL;
    } else if (res->status == CG_HTTP_OK && (res->code == 401 || res->code == 403)) {
        provider_message(w, words, sizeof words);
        set_answer_error(w, "The provider refused the key (HTTP %ld%s).", res->code, words);
    } else if (res->status == CG_HTTP_OK) {
        provider_message(w, words, sizeof words);
        set_answer_error(w, "The key could not be checked: GET %s answered HTTP %ld%s.",
                         w->check_url, res->code, words);
    } else if (res->status == CG_HTTP_ABORTED) {
        set_answer_error(w,
                         "The key could not be checked: the model list from %s is larger "
                         "than %u bytes.",
                         w->check_url, CHECK_BODY_MAX);
    } else {
        set_answer_error(w, "The key could not be checked: %s could not be reached (%s).",
                         w->check_url, res->error && *res->error ? res->error : "network error");
    }
    if (w->step == STEP_API_KEY) set_string(&w->api_key, NULL); /* asked again */
    free(w->check_body);
    w->check_body = NULL;
    w->check_len = 0;
    restart_idle_timer(w);
    if (w->opt.on_update) w->opt.on_update(w, w->opt.data);
}

static void start_check(cg_wizard *w)
{
    char url[TEXT_MAX + 32];
    snprintf(url, sizeof url, "%s%s", w->base_url,
             provider_is_anthropic(w) ? "/v1/models" : "/models");
    set_string(&w->check_url, url);
    char auth[TEXT_MAX + 32];
    const char *headers[3];
    size_t n = 0;
    if (provider_is_anthropic(w)) {
        snprintf(auth, sizeof auth, "x-api-key: %s", w->api_key);
        headers[n++] = auth;
        headers[n++] = "anthropic-version: " ANTHROPIC_VERSION;
    } else if (*w->api_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", w->api_key);
        headers[n++] = auth;
    }
    headers[n++] = "Accept: application/json";
    cg_http_request rq = {.method = "GET",
                          .url = url,
                          .headers = headers,
                          .n_headers = n,
                          .connect_timeout_ms = CHECK_CONNECT_TIMEOUT_MS,
                          .idle_timeout_ms = CHECK_TOTAL_TIMEOUT_MS,
                          .total_timeout_ms = CHECK_TOTAL_TIMEOUT_MS};
    static const cg_http_callbacks callbacks = {.on_data = on_check_data, .on_done = on_check_done};
    w->work = WORK_CHECK;
    restart_idle_timer(w);
    cg_http_req *r = cg_http_start(w->opt.http, &rq, &callbacks, w);
    if (w->work == WORK_CHECK) w->check = r; /* unless it already ended */
}

/* ---- the write ---- */

static json_t *object_at(json_t *parent, const char *key)
{
    json_t *child = json_object_get(parent, key);
    if (!child) json_object_set_new(parent, key, child = json_object());
    return child;
}

/* The merge patch of everything answered (see wizard.h for the keys). */
static json_t *config_patch(const cg_wizard *w)
{
    json_t *patch = json_object();
    json_t *auth = object_at(object_at(patch, "gateway"), "auth");
    json_object_set_new(auth, "mode", json_string(w->auth_mode));
    if (w->token) json_object_set_new(auth, "token", json_string(w->token));
    if (w->password) json_object_set_new(auth, "password", json_string(w->password));
    json_t *agents = object_at(patch, "agents");
    if (strcmp(w->provider, "skip") != 0) {
        json_t *provider =
            json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "baseUrl", w->base_url, "api",
                      provider_is_anthropic(w) ? "anthropic-messages" : "openai-completions",
                      "models", "id", w->model, "name", w->model);
        if (*w->api_key) json_object_set_new(provider, "apiKey", json_string(w->api_key));
        json_object_set_new(object_at(object_at(patch, "models"), "providers"), provider_id(w),
                            provider);
        char primary[TEXT_MAX];
        snprintf(primary, sizeof primary, "%s/%s", provider_id(w), w->model);
        json_object_set_new(object_at(object_at(agents, "defaults"), "model"), "primary",
                            json_string(primary));
    }
    bool is_main = !strcmp(w->agent_id, CG_AGENTS_DEFAULT_ID);
    if (is_main)
        json_object_set_new(object_at(agents, "defaults"), "workspace", json_string(w->workspace));
    if (!is_main || w->agent_name) {
        json_t *entry = object_at(object_at(agents, "entries"), w->agent_id);
        if (!is_main) json_object_set_new(entry, "workspace", json_string(w->workspace));
        if (w->agent_name) json_object_set_new(entry, "name", json_string(w->agent_name));
    }
    return patch;
}

static void on_written(cg_config *cfg, cg_config_write_result *result, void *data)
{
    cg_wizard *w = data;
    w->work = WORK_NONE;
    if (result->error) {
        w->status = CG_WIZARD_ERROR;
        const char *message = json_string_value(json_object_get(result->error, "message"));
        char text[600];
        snprintf(text, sizeof text, "the configuration was not written: %s",
                 message ? message : "refused");
        set_string(&w->error, text);
    } else {
        w->status = CG_WIZARD_DONE;
    }
    json_decref(result->payload);
    json_decref(result->error);
    if (w->freed) {
        destroy(w);
        return;
    }
    restart_idle_timer(w);
    if (w->opt.on_update) w->opt.on_update(w, w->opt.data);
}

static void start_write(cg_wizard *w)
{
    json_t *patch = config_patch(w);
    w->work = WORK_WRITE;
    restart_idle_timer(w);
    cg_config_patch_async(w->opt.cfg, w->opt.loop, patch, on_written, w);
    json_decref(patch);
}

/* ---- answers ---- */

/* A text answer: a string, or a number or boolean as text (as the real session takes
 * them); NULL for anything else. Leading and trailing whitespace go. */
static char *text_value(const json_t *value)
{
    char buf[64];
    const char *s = buf;
    if (json_is_string(value))
        s = json_string_value(value);
    else if (json_is_integer(value))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
    else if (json_is_real(value))
        snprintf(buf, sizeof buf, "%g", json_real_value(value));
    else if (json_is_boolean(value))
        s = json_is_true(value) ? "true" : "false";
    else if (!value || json_is_null(value))
        s = "";
    else
        return NULL;
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    char *out = cg_xmalloc(len + 1);
    memcpy(out, s, len);
    out[len] = 0;
    return out;
}

/* Printable ASCII without spaces: what a token, a key (both go into HTTP headers) or a
 * URL may hold. */
static bool plain_ascii(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e) return false;
    return true;
}

/* The select's value when it is one of choices (NULL-terminated), else NULL. */
static const char *choice(const json_t *value, const char *const *choices)
{
    const char *s = json_string_value(value);
    for (size_t i = 0; s && choices[i]; i++)
        if (!strcmp(s, choices[i])) return choices[i];
    return NULL;
}

static bool model_listed(const cg_wizard *w, const char *id)
{
    size_t i;
    const json_t *listed;
    json_array_foreach(w->models, i, listed)
    {
        if (!strcmp(json_string_value(listed), id)) return true;
    }
    return false;
}

static bool valid_base_url(const char *url)
{
    const char *host = !strncasecmp(url, "http://", 7)    ? url + 7
                       : !strncasecmp(url, "https://", 8) ? url + 8
                                                          : NULL;
    return host && *host && *host != '/' && plain_ascii(url);
}

/* Takes a valid answer to the current step and moves on; false (answer_error set) when
 * it does not validate. */
static bool take_answer(cg_wizard *w, const json_t *value)
{
    static const char *const modes[] = {"token", "password", "none", NULL};
    static const char *const providers[] = {"openai", "anthropic", "openai-compatible", "skip",
                                            NULL};
    if (w->step == STEP_AUTH_MODE || w->step == STEP_PROVIDER) {
        const char *picked = choice(value, w->step == STEP_AUTH_MODE ? modes : providers);
        if (!picked) {
            set_answer_error(w, "Pick one of the options.");
            return false;
        }
        if (w->step == STEP_AUTH_MODE) {
            set_string(&w->auth_mode, picked);
            set_string(&w->token, NULL);
            set_string(&w->password, NULL);
            w->token_generated = false;
            w->step = !strcmp(picked, "token")      ? STEP_AUTH_TOKEN
                      : !strcmp(picked, "password") ? STEP_AUTH_PASSWORD
                                                    : STEP_PROVIDER;
            return true;
        }
        set_string(&w->provider, picked);
        if (!strcmp(picked, "skip")) {
            w->step = STEP_WORKSPACE;
        } else if (!strcmp(picked, "openai-compatible")) {
            w->step = STEP_BASE_URL;
        } else {
            const char *env =
                getenv(!strcmp(picked, "openai") ? "OPENAI_BASE_URL" : "ANTHROPIC_BASE_URL");
            const char *url = env && *env                 ? env
                              : !strcmp(picked, "openai") ? OPENAI_BASE
                                                          : ANTHROPIC_BASE;
            set_string(&w->base_url, url);
            size_t len = strlen(w->base_url);
            while (len > 0 && w->base_url[len - 1] == '/')
                w->base_url[--len] = 0;
            w->step = STEP_API_KEY;
        }
        return true;
    }
    if (w->step == STEP_CONFIRM) {
        if (!json_is_boolean(value)) {
            set_answer_error(w, "Answer true (write it) or false (cancel).");
            return false;
        }
        if (json_is_false(value)) {
            w->status = CG_WIZARD_CANCELLED;
            set_string(&w->error, "cancelled: the configuration was not written");
            return true;
        }
        start_write(w);
        return true;
    }
    char *text = text_value(value);
    if (!text) {
        set_answer_error(w, "The answer must be text.");
        return false;
    }
    bool ok = true;
    size_t len = strlen(text);
    if (len > TEXT_MAX) {
        set_answer_error(w, "The answer is too long (at most %d characters).", TEXT_MAX);
        ok = false;
    } else if (w->step == STEP_AUTH_TOKEN) {
        if (len == 0) {
            char token[2 * TOKEN_BYTES + 1];
            cg_random_hex(token, TOKEN_BYTES);
            set_string(&w->token, token);
            w->token_generated = true;
            w->step = STEP_PROVIDER;
        } else if (len < SECRET_MIN || !plain_ascii(text)) {
            set_answer_error(w,
                             "A token needs at least %d characters: letters, digits or "
                             "punctuation, no spaces.",
                             SECRET_MIN);
            ok = false;
        } else {
            set_string(&w->token, text);
            w->step = STEP_PROVIDER;
        }
    } else if (w->step == STEP_AUTH_PASSWORD) {
        if (len < SECRET_MIN) {
            set_answer_error(w, "A password needs at least %d characters.", SECRET_MIN);
            ok = false;
        } else {
            set_string(&w->password, text);
            w->step = STEP_PROVIDER;
        }
    } else if (w->step == STEP_BASE_URL) {
        while (len > 0 && text[len - 1] == '/')
            text[--len] = 0;
        if (!valid_base_url(text)) {
            set_answer_error(w, "The URL must start with http:// or https:// and name a host.");
            ok = false;
        } else {
            set_string(&w->base_url, text);
            w->step = STEP_API_KEY;
        }
    } else if (w->step == STEP_API_KEY) {
        if ((len == 0 && key_required(w)) || !plain_ascii(text)) {
            set_answer_error(w, len == 0 ? "An API key is required."
                                         : "A key is letters, digits or punctuation, no spaces.");
            ok = false;
        } else {
            set_string(&w->api_key, text);
            free(text);
            start_check(w);
            return true;
        }
    } else if (w->step == STEP_MODEL) {
        bool listed = json_array_size(w->models) ? model_listed(w, text) : len > 0;
        if (!listed) {
            set_answer_error(w, json_array_size(w->models) ? "Pick one of the listed models."
                                                           : "A model id is required.");
            ok = false;
        } else {
            set_string(&w->model, text);
            w->step = STEP_WORKSPACE;
        }
    } else if (w->step == STEP_WORKSPACE) {
        char *workspace = len ? cg_strdup(text) : default_workspace(w);
        if (workspace[0] != '/' &&
            !(workspace[0] == '~' && (!workspace[1] || workspace[1] == '/'))) {
            set_answer_error(w, "The workspace must be an absolute path or start with ~/.");
            ok = false;
            free(workspace);
        } else {
            free(w->workspace);
            w->workspace = workspace;
            w->step = STEP_AGENT_ID;
        }
    } else if (w->step == STEP_AGENT_ID) {
        char id[CG_AGENT_ID_MAX + 1];
        if (!cg_agent_id_normalize(len ? text : CG_AGENTS_DEFAULT_ID, id, sizeof id)) {
            set_answer_error(w, "An agent id needs a letter or digit (a-z, 0-9, _ and -).");
            ok = false;
        } else {
            snprintf(w->agent_id, sizeof w->agent_id, "%s", id);
            w->step = STEP_AGENT_NAME;
        }
    } else if (w->step == STEP_AGENT_NAME) {
        set_string(&w->agent_name, len ? text : NULL);
        w->step = STEP_CONFIRM;
    }
    free(text);
    return ok;
}

int cg_wizard_answer(cg_wizard *w, const char *step_id, const json_t *value, char *err,
                     size_t errlen)
{
    if (w->status != CG_WIZARD_RUNNING) {
        snprintf(err, errlen, "wizard not running");
        return -1;
    }
    if (w->work != WORK_NONE) {
        snprintf(err, errlen, "wizard is busy with the previous answer");
        return -1;
    }
    if (!step_id || strcmp(step_id, steps[w->step].id) != 0) {
        snprintf(err, errlen, "wizard: no pending step \"%.64s\" (the current step is \"%s\")",
                 step_id ? step_id : "", steps[w->step].id);
        return -1;
    }
    set_string(&w->answer_error, NULL);
    take_answer(w, value);
    restart_idle_timer(w);
    return 0;
}
