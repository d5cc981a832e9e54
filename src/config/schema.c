/* The one schema of the configuration, and the one walker over documents.
 *
 * The schema is written once below as a table of rows, one per dotted path, each with
 * the JSON Schema annotations of that node (type, enum, default, description, ...).
 * Paths use the notation of config.schema's uiHints: "*" is any key of an object not
 * named at that level (JSON Schema additionalProperties), a trailing "[]" is every
 * element of an array (items): "hooks.mappings[].sessionKey". Nodes a row does not
 * annotate are plain containers without a type, so keys clawgate does not read stay
 * unvalidated and pass through untouched. The JSON Schema document is built from the
 * rows on first use; everything reads it: config.schema serves it, validation
 * (validate.c) checks documents with it, the settings builder takes its defaults from
 * its "default" annotations, redaction (redact.c) and config.schema's uiHints both take
 * their secrets from its "x-sensitive" annotations. What is validated, what is redacted
 * and what clients are told therefore cannot drift apart.
 *
 * Secrets: every path a running OpenClaw 2026.9.6 gateway's config.schema marks
 * `sensitive` in its uiHints (204 paths: base schema, bundled channels and plugins),
 * generalized with "*" where it lists one path per channel, media capability, provider
 * or plugin (a sensitive object, such as a secret-reference under webhookSecret, is
 * redacted whole, which covers the paths it lists below one); plus, at any depth,
 * members named apiKey, botToken, secret or password (secret_member_names). A secret
 * clawgate reads itself is typed (a string); an OpenClaw secret-reference object there is
 * refused by name.
 *
 * The walker (cg_config_walk) visits a document alongside this schema and, optionally, a
 * second document at the same paths; validation, redaction and placeholder restore are
 * visitors of it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/util.h"
#include "config/config_internal.h"

typedef struct schema_row {
    const char *path;
    const char *annotations; /* JSON object text */
} schema_row;

#define SENSITIVE "{\"x-sensitive\":true}"
#define SECRET(path)                                                                               \
    {                                                                                              \
        path, SENSITIVE                                                                            \
    }
/* A channel's secret, at the channel and in each of its accounts. */
#define CHANNEL_SECRET(field) SECRET("channels.*." field), SECRET("channels.*.accounts.*." field)
/* The credentials of an outgoing HTTP request block (providers, media understanding). */
#define REQUEST_SECRETS(prefix)                                                                    \
    SECRET(prefix ".request.auth.token"), SECRET(prefix ".request.auth.value"),                    \
        SECRET(prefix ".request.headers.*"), SECRET(prefix ".request.tls.ca"),                     \
        SECRET(prefix ".request.tls.cert"), SECRET(prefix ".request.tls.key"),                     \
        SECRET(prefix ".request.tls.passphrase"), SECRET(prefix ".request.proxy.tls.ca"),          \
        SECRET(prefix ".request.proxy.tls.cert"), SECRET(prefix ".request.proxy.tls.key"),         \
        SECRET(prefix ".request.proxy.tls.passphrase")

/* The rows are laid out as JSON, not as C. */
// clang-format off
static const schema_row schema_rows[] = {
    {"", "{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
         "\"title\":\"clawgate configuration\","
         "\"description\":\"OpenClaw key names; keys not listed here are kept and passed through.\","
         "\"type\":\"object\"}"},

    {"gateway", "{\"type\":\"object\"}"},
    {"gateway.port", "{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535,\"default\":18789,"
        "\"description\":\"Port of the WebSocket + HTTP listener. --port and *_GATEWAY_PORT win.\"}"},
    {"gateway.bind", "{\"type\":\"string\","
        "\"enum\":[\"loopback\",\"lan\",\"all\",\"auto\",\"custom\",\"tailnet\"],\"default\":\"loopback\","
        "\"description\":\"loopback (and auto): 127.0.0.1/::1; lan and all: every interface; custom: "
        "gateway.customBindHost; tailnet: the 100.64.0.0/10 address plus loopback.\"}"},
    {"gateway.customBindHost", "{\"type\":\"string\",\"minLength\":1,"
        "\"description\":\"Address to listen on when bind is custom.\"}"},
    {"gateway.publicOrigin", "{\"type\":\"string\",\"minLength\":1,"
        "\"description\":\"Externally reachable origin of the gateway; browsers from it are allowed.\"}"},
    {"gateway.auth", "{\"type\":\"object\"}"},
    {"gateway.auth.mode", "{\"type\":\"string\",\"enum\":[\"token\",\"password\",\"none\"],"
        "\"x-unsupportedValues\":[\"trusted-proxy\"],\"default\":\"token\","
        "\"description\":\"Shared-secret mode. none is allowed only on loopback binds.\"}"},
    {"gateway.auth.token", "{\"type\":\"string\",\"minLength\":1,\"x-sensitive\":true,"
        "\"description\":\"Shared token; generated on first start when missing.\"}"},
    {"gateway.auth.password", "{\"type\":\"string\",\"minLength\":1,\"x-sensitive\":true,"
        "\"description\":\"Shared password for auth mode password.\"}"},
    {"gateway.auth.allowTailscale", "{\"type\":\"boolean\","
        "\"description\":\"Accept Tailscale Serve identity headers, verified with tailscale whois (default: on when tailscale.mode is serve and auth mode is not password).\"}"},
    {"gateway.auth.localBypass", "{\"type\":\"boolean\",\"default\":true,"
        "\"description\":\"Let direct loopback connections without a credential in.\"}"},
    {"gateway.auth.rateLimit", "{\"type\":\"object\"}"},
    {"gateway.auth.rateLimit.maxAttempts", "{\"type\":\"integer\",\"minimum\":1,\"default\":10}"},
    {"gateway.auth.rateLimit.windowMs", "{\"type\":\"integer\",\"minimum\":1,\"default\":60000}"},
    {"gateway.auth.rateLimit.lockoutMs", "{\"type\":\"integer\",\"minimum\":0,\"default\":300000}"},
    {"gateway.auth.rateLimit.exemptLoopback", "{\"type\":\"boolean\",\"default\":true}"},
    {"gateway.controlUi", "{\"type\":\"object\"}"},
    {"gateway.controlUi.enabled", "{\"type\":\"boolean\",\"default\":true}"},
    {"gateway.controlUi.basePath", "{\"type\":\"string\"}"},
    {"gateway.controlUi.allowedOrigins", "{\"type\":\"array\",\"default\":[],"
        "\"description\":\"Browser origins allowed to connect; empty: loopback and publicOrigin only; [\\\"*\\\"]: any.\"}"},
    {"gateway.controlUi.allowedOrigins[]", "{\"type\":\"string\",\"minLength\":1}"},
    {"gateway.nodes", "{\"type\":\"object\"}"},
    {"gateway.nodes.pairing", "{\"type\":\"object\"}"},
    {"gateway.nodes.pairing.autoApproveLocal", "{\"type\":\"boolean\",\"default\":true,"
        "\"description\":\"Approve devices connecting directly from loopback without an operator.\"}"},
    {"gateway.nodes.commands", "{\"type\":\"object\"}"},
    {"gateway.nodes.commands.allow", "{\"type\":\"array\",\"default\":[],"
        "\"description\":\"Node commands node.invoke may relay beyond the platform defaults "
        "(file, camera, screen, SMS, ...).\"}"},
    {"gateway.nodes.commands.allow[]", "{\"type\":\"string\",\"minLength\":1}"},
    {"gateway.nodes.commands.deny", "{\"type\":\"array\",\"default\":[],"
        "\"description\":\"Node commands node.invoke never relays; wins over allow.\"}"},
    {"gateway.nodes.commands.deny[]", "{\"type\":\"string\",\"minLength\":1}"},
    {"gateway.tailscale", "{\"type\":\"object\"}"},
    {"gateway.tailscale.mode", "{\"type\":\"string\",\"enum\":[\"off\",\"serve\",\"funnel\"],\"default\":\"off\","
        "\"description\":\"Run tailscale serve (tailnet) or funnel (public; needs password auth) in front of the gateway, supervised.\"}"},
    {"gateway.tailscale.resetOnExit", "{\"type\":\"boolean\",\"default\":false}"},
    {"gateway.trustedProxies", "{\"type\":\"array\",\"default\":[],"
        "\"description\":\"Proxy addresses (IPs or CIDRs) whose X-Forwarded-For / X-Real-IP are believed.\"}"},
    {"gateway.trustedProxies[]", "{\"type\":\"string\",\"minLength\":1}"},
    {"gateway.tls", "{\"type\":\"object\"}"},
    {"gateway.tls.enabled", "{\"type\":\"boolean\",\"default\":false}"},
    {"gateway.tls.certPath", "{\"type\":\"string\",\"minLength\":1,"
        "\"description\":\"PEM certificate; unset: a self-signed pair generated under the state dir.\"}"},
    {"gateway.tls.keyPath", "{\"type\":\"string\",\"minLength\":1}"},
    {"gateway.limits", "{\"type\":\"object\"}"},
    {"gateway.limits.maxPayloadBytes", "{\"type\":\"integer\",\"minimum\":1,\"default\":26214400}"},
    {"gateway.limits.maxBufferedBytes", "{\"type\":\"integer\",\"minimum\":1,\"default\":52428800}"},
    {"gateway.limits.preauthMaxBytes", "{\"type\":\"integer\",\"minimum\":1,\"default\":65536}"},
    {"gateway.limits.handshakeTimeoutMs", "{\"type\":\"integer\",\"minimum\":1,\"default\":15000}"},
    {"gateway.limits.maxPreauthPerIp", "{\"type\":\"integer\",\"minimum\":1,\"default\":64}"},
    {"gateway.limits.jsonBudgetBytes", "{\"type\":\"integer\",\"minimum\":1,\"default\":134217728}"},
    {"gateway.limits.httpBodyBytes", "{\"type\":\"integer\",\"minimum\":1,\"default\":20971520,"
        "\"description\":\"Largest HTTP request body; 413 beyond.\"}"},
    {"gateway.limits.maxConnections", "{\"type\":\"integer\",\"minimum\":1,\"default\":10000,"
        "\"description\":\"WebSocket connections open at once; upgrades beyond get 503.\"}"},
    {"gateway.http", "{\"type\":\"object\"}"},
    {"gateway.http.endpoints", "{\"type\":\"object\"}"},
    {"hooks", "{\"type\":\"object\"}"},
    {"hooks.enabled", "{\"type\":\"boolean\",\"default\":false,"
        "\"description\":\"Serve POST /hooks/wake and /hooks/agent (needs hooks.token).\"}"},
    {"hooks.token", "{\"type\":\"string\",\"minLength\":1,\"x-sensitive\":true,"
        "\"description\":\"The webhook token (Authorization: Bearer or X-OpenClaw-Token); not the gateway token.\"}"},
    {"gateway.http.endpoints.chatCompletions", "{\"type\":\"object\"}"},
    {"gateway.http.endpoints.chatCompletions.enabled", "{\"type\":\"boolean\",\"default\":false,"
        "\"description\":\"Serve the OpenAI-compatible POST /v1/chat/completions and GET /v1/models "
        "(bearer: the gateway token or password). Applies at once.\"}"},
    {"gateway.tickIntervalMs", "{\"type\":\"integer\",\"minimum\":10,\"default\":30000,"
        "\"description\":\"Interval of the tick event.\"}"},
    SECRET("gateway.controlUi.github.token"),
    SECRET("gateway.remote.token"),
    SECRET("gateway.remote.password"),
    SECRET("gateway.remote.edgeAuth.*"),

    {"logging", "{\"type\":\"object\"}"},
    {"logging.maxFileBytes", "{\"type\":\"integer\",\"minimum\":1,\"default\":104857600,"
        "\"description\":\"Size at which the gateway log rotates.\"}"},

    {"models", "{\"type\":\"object\"}"},
    {"models.providers", "{\"type\":\"object\"}"},
    {"models.providers.*", "{\"type\":\"object\"}"},
    {"models.providers.*.apiKey", "{\"type\":[\"string\",\"object\"],\"x-sensitive\":true,"
        "\"required\":[\"source\",\"id\"],"
        "\"description\":\"The provider's key: a string (\\\"${VAR}\\\" reads a variable) or {source: \\\"env\\\", id: \\\"VAR\\\"}.\"}"},
    {"models.providers.*.apiKey.source", "{\"type\":\"string\",\"enum\":[\"env\"],"
        "\"x-unsupportedValues\":[\"file\",\"exec\"]}"},
    {"models.providers.*.apiKey.id", "{\"type\":\"string\",\"minLength\":1}"},
    {"models.providers.*.api", "{\"type\":\"string\","
        "\"enum\":[\"openai-completions\",\"anthropic-messages\",\"cli\"],"
        "\"x-unsupportedValues\":[\"azure-openai-responses\",\"bedrock-converse-stream\",\"github-copilot\","
        "\"google-generative-ai\",\"google-vertex\",\"ollama\",\"openai-chatgpt-responses\","
        "\"openai-responses\",\"pi-messages\"],"
        "\"description\":\"openai-completions (the default with baseUrl), anthropic-messages, or clawgate's cli (with command).\"}"},
    {"models.providers.*.baseUrl", "{\"type\":\"string\",\"minLength\":1}"},
    {"models.providers.*.command", "{\"type\":\"array\",\"minItems\":1,"
        "\"description\":\"api cli: the argv of the program to run; the prompt goes to its stdin, its stdout is the reply.\"}"},
    {"models.providers.*.command[]", "{\"type\":\"string\"}"},
    {"models.providers.*.timeoutSeconds", "{\"type\":\"number\",\"minimum\":1,"
        "\"description\":\"How long the provider may send nothing before the request is abandoned (default 120).\"}"},
    {"models.providers.*.models", "{\"type\":\"array\"}"},
    {"models.providers.*.models[]", "{\"type\":\"object\"}"},
    {"models.providers.*.models[].id", "{\"type\":\"string\",\"minLength\":1}"},
    {"models.providers.*.models[].contextWindow", "{\"type\":\"integer\",\"minimum\":1}"},
    {"models.providers.*.models[].maxTokens", "{\"type\":\"integer\",\"minimum\":1}"},
    {"models.providers.*.models[].reasoning", "{\"type\":\"boolean\"}"},
    {"agents.defaults.model", "{\"type\":[\"string\",\"object\"],"
        "\"description\":\"\\\"<provider>/<model>\\\" or {primary, fallbacks}: fallbacks are tried in order when a model fails before its reply starts.\"}"},
    {"agents.defaults.model.primary", "{\"type\":\"string\",\"minLength\":1}"},
    {"agents.defaults.model.fallbacks", "{\"type\":\"array\"}"},
    {"agents.defaults.model.fallbacks[]", "{\"type\":\"string\",\"minLength\":1}"},
    SECRET("models.providers.*.headers.*"),
    SECRET("models.providers.*.localService.env.*"),
    REQUEST_SECRETS("models.providers.*"),

    {"agents", "{\"type\":\"object\"}"},
    SECRET("agents.defaults.sandbox.ssh.identityData"),
    SECRET("agents.defaults.sandbox.ssh.certificateData"),
    SECRET("agents.defaults.sandbox.ssh.knownHostsData"),
    SECRET("agents.entries.*.sandbox.ssh.identityData"),
    SECRET("agents.entries.*.sandbox.ssh.certificateData"),
    SECRET("agents.entries.*.sandbox.ssh.knownHostsData"),
    SECRET("agents.entries.*.memory.search.remote.apiKey"),
    SECRET("agents.entries.*.tts.providers.*.apiKey"),
    SECRET("agents.entries.*.tts.personas.*.providers.*.apiKey"),

    CHANNEL_SECRET("token"),
    CHANNEL_SECRET("botToken"),
    CHANNEL_SECRET("appToken"),
    CHANNEL_SECRET("userToken"),
    CHANNEL_SECRET("accessToken"),
    CHANNEL_SECRET("authToken"),
    CHANNEL_SECRET("channelAccessToken"),
    CHANNEL_SECRET("verificationToken"),
    CHANNEL_SECRET("password"),
    CHANNEL_SECRET("appPassword"),
    CHANNEL_SECRET("apiPassword"),
    CHANNEL_SECRET("appSecret"),
    CHANNEL_SECRET("botSecret"),
    CHANNEL_SECRET("botSecretFile"),
    CHANNEL_SECRET("channelSecret"),
    CHANNEL_SECRET("signingSecret"),
    CHANNEL_SECRET("webhookSecret"),
    CHANNEL_SECRET("secretFile"),
    CHANNEL_SECRET("encryptKey"),
    CHANNEL_SECRET("privateKey"),
    CHANNEL_SECRET("serviceAccount"),
    CHANNEL_SECRET("webhookUrl"),
    CHANNEL_SECRET("incomingUrl"),
    CHANNEL_SECRET("nickserv.password"),
    CHANNEL_SECRET("pluralkit.token"),
    CHANNEL_SECRET("relay.authToken"),
    CHANNEL_SECRET("activities.clientSecret"),
    CHANNEL_SECRET("voice.tts.providers.*.apiKey"),
    CHANNEL_SECRET("voice.tts.personas.*.providers.*.apiKey"),
    CHANNEL_SECRET("peers.*.token"),
    CHANNEL_SECRET("peers.*.outboundToken"),
    CHANNEL_SECRET("guard.apiKeyEnv"),

    SECRET("plugins.entries.*.config.apiKey"),
    SECRET("plugins.entries.*.config.mirror.token"),
    SECRET("plugins.entries.*.config.webSearch.apiKey"),
    SECRET("plugins.entries.*.config.webSearch.headers.*"),
    SECRET("plugins.entries.*.config.accounts.*.password"),
    SECRET("plugins.entries.*.config.routes.*.secret"),
    SECRET("plugins.entries.onepassword"),

    SECRET("hooks.gmail.pushToken"),
    SECRET("hooks.mappings.*.sessionKey"),
    SECRET("hooks.mappings[].sessionKey"),
    SECRET("cron.webhookToken"),
    SECRET("mcp.servers.*.env.*"),
    SECRET("mcp.servers.*.headers.*"),
    SECRET("nodeHost.mcp.servers.*.env.*"),
    SECRET("nodeHost.mcp.servers.*.headers.*"),
    SECRET("memory.search.remote.apiKey"),
    SECRET("proxy.proxyUrl"),
    SECRET("security.installPolicy.exec.env.*"),
    SECRET("skills.entries.*.apiKey"),
    SECRET("talk.providers.*.apiKey"),
    SECRET("talk.realtime.providers.*.apiKey"),
    SECRET("tts.providers.*.apiKey"),
    SECRET("tts.personas.*.providers.*.apiKey"),
    SECRET("tools.web.fetch.headers.*"),
    REQUEST_SECRETS("tools.media.*"),
    REQUEST_SECRETS("tools.media.models.*"),
    REQUEST_SECRETS("tools.media.models[]"),
};
// clang-format on

/* Members that are secrets wherever they appear, known to the schema or not. */
static const char *const secret_member_names[] = {"apiKey", "botToken", "secret", "password"};

static json_t *config_schema;
static uv_once_t config_schema_once = UV_ONCE_INIT;

static json_t *child_container(json_t *node, const char *member, json_t *(*make)(void))
{
    json_t *child = json_object_get(node, member);
    if (!json_is_object(child)) json_object_set_new(node, member, child = make());
    return child;
}

/* The node one path segment below node, created when missing. */
static json_t *schema_child(json_t *node, const char *segment)
{
    if (!strcmp(segment, "*")) return child_container(node, "additionalProperties", json_object);
    size_t len = strlen(segment);
    bool elements = len > 2 && !strcmp(segment + len - 2, "[]");
    if (elements) len -= 2;
    json_t *properties = child_container(node, "properties", json_object);
    char *name = cg_xmalloc(len + 1);
    memcpy(name, segment, len);
    name[len] = 0;
    json_t *child = json_object_get(properties, name);
    if (!child) json_object_set_new(properties, name, child = json_object());
    free(name);
    return elements ? child_container(child, "items", json_object) : child;
}

static void build_schema(void)
{
    config_schema = json_object();
    for (size_t i = 0; i < sizeof schema_rows / sizeof schema_rows[0]; i++) {
        json_t *node = config_schema;
        char *path = cg_strdup(schema_rows[i].path);
        char *save = NULL;
        for (char *segment = strtok_r(path, ".", &save); segment;
             segment = strtok_r(NULL, ".", &save))
            node = schema_child(node, segment);
        free(path);
        json_error_t error;
        json_t *annotations = json_loads(schema_rows[i].annotations, 0, &error);
        /* The rows are constants: one that does not parse is a build defect, caught by
         * every test that touches the config. */
        if (!json_is_object(annotations)) abort();
        json_object_update(node, annotations);
        json_decref(annotations);
    }
}

const json_t *cg_config_schema_doc(void)
{
    uv_once(&config_schema_once, build_schema);
    return config_schema;
}

const json_t *cg_config_schema_at(const char *dotted_path)
{
    const json_t *node = cg_config_schema_doc();
    char *path = cg_strdup(dotted_path);
    char *save = NULL;
    for (char *key = strtok_r(path, ".", &save); key && node; key = strtok_r(NULL, ".", &save))
        node = json_object_get(json_object_get(node, "properties"), key);
    free(path);
    return node;
}

void cg_config_issue_add(json_t *issues, const char *path, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_array_append_new(issues, json_pack("{s:s, s:s}", "path", path, "message", message));
}

char *cg_config_path_join(const char *parent, const char *key)
{
    size_t plen = strlen(parent), klen = strlen(key);
    char *out = cg_xmalloc(plen + klen + 2);
    if (plen) {
        memcpy(out, parent, plen);
        out[plen] = '.';
        memcpy(out + plen + 1, key, klen + 1);
    } else {
        memcpy(out, key, klen + 1);
    }
    return out;
}

/* ---- the walker ---- */

static bool is_secret_member_name(const char *key)
{
    for (size_t i = 0; i < sizeof secret_member_names / sizeof secret_member_names[0]; i++)
        if (!strcmp(key, secret_member_names[i])) return true;
    return false;
}

static bool schema_sensitive(const json_t *schema)
{
    return json_is_true(json_object_get(schema, "x-sensitive"));
}

static const json_t *member_schema(const json_t *schema, const char *key)
{
    const json_t *named = json_object_get(json_object_get(schema, "properties"), key);
    if (named) return named;
    const json_t *additional = json_object_get(schema, "additionalProperties");
    return json_is_object(additional) ? additional : NULL;
}

static json_t *walk_node(const json_t *value, const cg_config_node *node, cg_config_visit visit,
                         void *ctx);

static json_t *walk_members(const json_t *value, const cg_config_node *node, cg_config_visit visit,
                            void *ctx)
{
    json_t *out = json_object();
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        char *path = cg_config_path_join(node->path, key);
        const json_t *schema = member_schema(node->schema, key);
        cg_config_node child = {
            .path = path,
            .schema = schema,
            .sensitive = schema_sensitive(schema) || is_secret_member_name(key),
            .peer = json_is_object(node->peer) ? json_object_get(node->peer, key) : NULL,
        };
        json_object_set_new(out, key, walk_node(member, &child, visit, ctx));
        free(path);
    }
    return out;
}

static json_t *walk_elements(const json_t *value, const cg_config_node *node, cg_config_visit visit,
                             void *ctx)
{
    json_t *out = json_array();
    const json_t *items = json_object_get(node->schema, "items");
    size_t i;
    const json_t *element;
    json_array_foreach(value, i, element)
    {
        char index[24];
        snprintf(index, sizeof index, "%zu", i);
        char *path = cg_config_path_join(node->path, index);
        cg_config_node child = {
            .path = path,
            .schema = items,
            .sensitive = schema_sensitive(items),
            .peer = json_is_array(node->peer) ? json_array_get(node->peer, i) : NULL,
        };
        json_array_append_new(out, walk_node(element, &child, visit, ctx));
        free(path);
    }
    return out;
}

static json_t *walk_node(const json_t *value, const cg_config_node *node, cg_config_visit visit,
                         void *ctx)
{
    json_t *out = visit(value, node, ctx);
    if (out) return out;
    if (json_is_object(value)) return walk_members(value, node, visit, ctx);
    if (json_is_array(value)) return walk_elements(value, node, visit, ctx);
    return json_incref((json_t *)value);
}

json_t *cg_config_walk(const json_t *doc, const json_t *peer, cg_config_visit visit, void *ctx)
{
    const json_t *schema = cg_config_schema_doc();
    cg_config_node root = {.path = "", .schema = schema, .sensitive = false, .peer = peer};
    return walk_node(doc, &root, visit, ctx);
}

/* ---- config.schema ---- */

/* uiHints: every described or sensitive node, by its path in the rows' notation. */
static void collect_ui_hints(const json_t *schema, const char *path, json_t *hints)
{
    if (*path) {
        const json_t *description = json_object_get(schema, "description");
        bool sensitive = schema_sensitive(schema);
        if (description || sensitive) {
            json_t *hint = json_object();
            if (description) json_object_set(hint, "help", (json_t *)description);
            if (sensitive) json_object_set_new(hint, "sensitive", json_true());
            json_object_set_new(hints, path, hint);
        }
    }
    const char *key;
    const json_t *sub;
    json_object_foreach((json_t *)json_object_get(schema, "properties"), key, sub)
    {
        char *child = cg_config_path_join(path, key);
        collect_ui_hints(sub, child, hints);
        free(child);
    }
    const json_t *additional = json_object_get(schema, "additionalProperties");
    if (json_is_object(additional)) {
        char *child = cg_config_path_join(path, "*");
        collect_ui_hints(additional, child, hints);
        free(child);
    }
    const json_t *items = json_object_get(schema, "items");
    if (json_is_object(items)) {
        size_t len = strlen(path);
        char *child = cg_xmalloc(len + 3);
        memcpy(child, path, len);
        memcpy(child + len, "[]", 3);
        collect_ui_hints(items, child, hints);
        free(child);
    }
}

json_t *cg_config_schema(void)
{
    char generated_at[32];
    cg_iso8601_ms(cg_now_ms(), generated_at, sizeof generated_at);
    json_t *hints = json_object();
    collect_ui_hints(cg_config_schema_doc(), "", hints);
    return json_pack("{s:O, s:o, s:s, s:s}", "schema", cg_config_schema_doc(), "uiHints", hints,
                     "version", CLAWGATE_VERSION, "generatedAt", generated_at);
}
