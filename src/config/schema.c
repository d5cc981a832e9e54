/* The one JSON Schema of the configuration keys clawgate knows.
 *
 * It is written once below as JSON text and parsed on first use; everything reads it:
 * config.schema serves it, cg_config_resolve validates documents with it, the settings
 * builder takes its defaults from its "default" annotations, and the uiHints mark its
 * secrets. Validation and what clients are told therefore cannot drift apart.
 *
 * The walker understands the subset the schema uses: type (a name or a list), enum,
 * minimum, maximum, minLength, minItems, maxItems, properties, additionalProperties (a
 * schema, or true / absent = unknown keys pass through untouched), items, plus two
 * annotations of our own: "x-secret" (the value is a secret string; an OpenClaw
 * secret-reference object there is unsupported) and "x-unsupportedValues" (OpenClaw
 * values clawgate refuses by name rather than as a generic enum miss). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "config/config_internal.h"

/* clang-format off: the schema text is laid out as JSON, not as C. */
// clang-format off
static const char config_schema_text[] =
    "{"
    "\"$schema\":\"http://json-schema.org/draft-07/schema#\","
    "\"title\":\"clawgate configuration\","
    "\"description\":\"OpenClaw key names; keys not listed here are kept and passed through.\","
    "\"type\":\"object\",\"additionalProperties\":true,"
    "\"properties\":{"
    "\"gateway\":{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "  \"port\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535,\"default\":18789,"
    "    \"description\":\"Port of the WebSocket + HTTP listener. --port and *_GATEWAY_PORT win.\"},"
    "  \"bind\":{\"type\":\"string\","
    "    \"enum\":[\"loopback\",\"lan\",\"all\",\"auto\",\"custom\",\"tailnet\"],\"default\":\"loopback\","
    "    \"description\":\"loopback (and auto): 127.0.0.1/::1; lan and all: every interface; custom: "
    "gateway.customBindHost; tailnet: the 100.64.0.0/10 address plus loopback.\"},"
    "  \"customBindHost\":{\"type\":\"string\",\"minLength\":1,"
    "    \"description\":\"Address to listen on when bind is custom.\"},"
    "  \"publicOrigin\":{\"type\":\"string\",\"minLength\":1,"
    "    \"description\":\"Externally reachable origin of the gateway; browsers from it are allowed.\"},"
    "  \"auth\":{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "    \"mode\":{\"type\":\"string\",\"enum\":[\"token\",\"password\",\"none\"],"
    "      \"x-unsupportedValues\":[\"trusted-proxy\"],\"default\":\"token\","
    "      \"description\":\"Shared-secret mode. none is allowed only on loopback binds.\"},"
    "    \"token\":{\"type\":\"string\",\"minLength\":1,\"x-secret\":true,"
    "      \"description\":\"Shared token; generated on first start when missing.\"},"
    "    \"password\":{\"type\":\"string\",\"minLength\":1,\"x-secret\":true,"
    "      \"description\":\"Shared password for auth mode password.\"},"
    "    \"allowTailscale\":{\"type\":\"boolean\","
    "      \"description\":\"Accept Tailscale Serve identity headers (default: on when tailscale.mode is serve).\"},"
    "    \"localBypass\":{\"type\":\"boolean\",\"default\":true,"
    "      \"description\":\"Let direct loopback connections without a credential in.\"},"
    "    \"rateLimit\":{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "      \"maxAttempts\":{\"type\":\"integer\",\"minimum\":1,\"default\":10},"
    "      \"windowMs\":{\"type\":\"integer\",\"minimum\":1,\"default\":60000},"
    "      \"lockoutMs\":{\"type\":\"integer\",\"minimum\":0,\"default\":300000},"
    "      \"exemptLoopback\":{\"type\":\"boolean\",\"default\":true}"
    "    }}"
    "  }},"
    "  \"controlUi\":{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "    \"enabled\":{\"type\":\"boolean\",\"default\":true},"
    "    \"basePath\":{\"type\":\"string\"},"
    "    \"allowedOrigins\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":1},"
    "      \"default\":[],"
    "      \"description\":\"Browser origins allowed to connect; empty: loopback and publicOrigin only; [\\\"*\\\"]: any.\"}"
    "  }},"
    "  \"tailscale\":{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "    \"mode\":{\"type\":\"string\",\"enum\":[\"off\",\"serve\",\"funnel\"],\"default\":\"off\"},"
    "    \"resetOnExit\":{\"type\":\"boolean\",\"default\":false}"
    "  }},"
    "  \"trustedProxies\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":1},"
    "    \"default\":[],"
    "    \"description\":\"Proxy addresses (IPs or CIDRs) whose X-Forwarded-For / X-Real-IP are believed.\"},"
    "  \"tls\":{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "    \"enabled\":{\"type\":\"boolean\",\"default\":false},"
    "    \"certPath\":{\"type\":\"string\",\"minLength\":1,"
    "      \"description\":\"PEM certificate; unset: a self-signed pair generated under the state dir.\"},"
    "    \"keyPath\":{\"type\":\"string\",\"minLength\":1}"
    "  }},"
    "  \"limits\":{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "    \"maxPayloadBytes\":{\"type\":\"integer\",\"minimum\":1,\"default\":26214400},"
    "    \"maxBufferedBytes\":{\"type\":\"integer\",\"minimum\":1,\"default\":52428800},"
    "    \"preauthMaxBytes\":{\"type\":\"integer\",\"minimum\":1,\"default\":65536},"
    "    \"handshakeTimeoutMs\":{\"type\":\"integer\",\"minimum\":1,\"default\":15000},"
    "    \"maxPreauthPerIp\":{\"type\":\"integer\",\"minimum\":1,\"default\":64},"
    "    \"jsonBudgetBytes\":{\"type\":\"integer\",\"minimum\":1,\"default\":134217728},"
    "    \"httpBodyBytes\":{\"type\":\"integer\",\"minimum\":1,\"default\":20971520,"
    "      \"description\":\"Largest HTTP request body; 413 beyond.\"},"
    "    \"maxConnections\":{\"type\":\"integer\",\"minimum\":1,\"default\":10000,"
    "      \"description\":\"WebSocket connections open at once; upgrades beyond get 503.\"}"
    "  }},"
    "  \"tickIntervalMs\":{\"type\":\"integer\",\"minimum\":10,\"default\":30000,"
    "    \"description\":\"Interval of the tick event.\"}"
    "}},"
    "\"logging\":{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "  \"maxFileBytes\":{\"type\":\"integer\",\"minimum\":1,\"default\":104857600,"
    "    \"description\":\"Size at which the gateway log rotates.\"}"
    "}},"
    "\"models\":{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "  \"providers\":{\"type\":\"object\",\"additionalProperties\":{"
    "    \"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "      \"apiKey\":{\"type\":\"string\",\"x-secret\":true}"
    "  }}}"
    "}},"
    "\"agents\":{\"type\":\"object\",\"additionalProperties\":true}"
    "}}";
// clang-format on

static json_t *config_schema;

const json_t *cg_config_schema_doc(void)
{
    if (!config_schema) {
        json_error_t error;
        config_schema = json_loads(config_schema_text, 0, &error);
        /* The text is a constant: failing to parse it is a build defect, caught by tests. */
        if (!config_schema) abort();
    }
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

static const char *json_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static bool type_matches(const char *type, const json_t *value)
{
    if (!strcmp(type, "number")) return json_is_number(value);
    if (!strcmp(type, "boolean")) return json_is_boolean(value);
    return !strcmp(type, json_type_name(value));
}

static bool schema_type_matches(const json_t *type, const json_t *value)
{
    if (json_is_string(type)) return type_matches(json_string_value(type), value);
    size_t i;
    const json_t *one;
    json_array_foreach(type, i, one)
    {
        if (type_matches(json_string_value(one), value)) return true;
    }
    return false;
}

static bool is_env_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_env_name_char(char c)
{
    return is_env_name_start(c) || (c >= '0' && c <= '9');
}

/* "${NAME}" (NAME: [A-Z_][A-Z0-9_]*) is replaced by the variable; "$${" is a literal "${";
 * anything else stays as written. */
static json_t *substitute_env(const json_t *value, const char *path, json_t *issues)
{
    const char *s = json_string_value(value);
    if (!strchr(s, '$')) return json_incref((json_t *)value);
    cg_buf out = {0};
    const char *p = s;
    while (*p) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            cg_buf_appends(&out, "${");
            p += 3;
            continue;
        }
        if (p[0] == '$' && p[1] == '{' && is_env_name_start(p[2])) {
            const char *name = p + 2, *end = name;
            while (is_env_name_char(*end))
                end++;
            if (*end == '}') {
                char var[256];
                size_t n = (size_t)(end - name);
                if (n < sizeof var) {
                    memcpy(var, name, n);
                    var[n] = 0;
                    const char *env = getenv(var);
                    if (env && *env)
                        cg_buf_appends(&out, env);
                    else
                        cg_config_issue_add(issues, path, "environment variable %s is not set",
                                            var);
                    p = end + 1;
                    continue;
                }
            }
        }
        cg_buf_append(&out, p, 1);
        p++;
    }
    json_t *result = json_stringn(out.data ? out.data : "", out.len);
    cg_buf_reset(&out);
    return result;
}

static bool enum_contains(const json_t *list, const json_t *value)
{
    size_t i;
    const json_t *one;
    json_array_foreach(list, i, one)
    {
        if (json_equal((json_t *)one, (json_t *)value)) return true;
    }
    return false;
}

static void enum_issue(const json_t *schema, const json_t *value, const char *path, json_t *issues)
{
    char allowed[256] = "";
    size_t i, used = 0;
    const json_t *one;
    json_array_foreach(json_object_get(schema, "enum"), i, one)
    {
        used += (size_t)snprintf(allowed + used, used < sizeof allowed ? sizeof allowed - used : 0,
                                 "%s%s", i ? ", " : "", json_string_value(one));
    }
    const char *text = json_is_string(value) ? json_string_value(value) : "";
    if (json_is_string(value) &&
        enum_contains(json_object_get(schema, "x-unsupportedValues"), value))
        cg_config_issue_add(issues, path, "\"%s\" is not supported by clawgate (supported: %s)",
                            text, allowed);
    else
        cg_config_issue_add(issues, path, "must be one of: %s", allowed);
}

static void check_bounds(const json_t *schema, const json_t *value, const char *path,
                         json_t *issues)
{
    const json_t *min = json_object_get(schema, "minimum"),
                 *max = json_object_get(schema, "maximum");
    double v = json_number_value(value);
    if (min && v < json_number_value(min))
        cg_config_issue_add(issues, path, "must be >= %lld", (long long)json_number_value(min));
    if (max && v > json_number_value(max))
        cg_config_issue_add(issues, path, "must be <= %lld", (long long)json_number_value(max));
}

static json_t *resolve_node(const json_t *schema, const json_t *value, const char *path,
                            json_t *issues);

static json_t *resolve_object(const json_t *schema, const json_t *value, const char *path,
                              json_t *issues)
{
    const json_t *properties = json_object_get(schema, "properties");
    const json_t *additional = json_object_get(schema, "additionalProperties");
    json_t *out = json_object();
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        const json_t *sub = json_object_get(properties, key);
        if (!sub && json_is_object(additional)) sub = additional;
        if (sub) {
            char *child = cg_config_path_join(path, key);
            json_object_set_new(out, key, resolve_node(sub, member, child, issues));
            free(child);
        } else {
            json_object_set(out, key, member);
        }
    }
    return out;
}

static json_t *resolve_array(const json_t *schema, const json_t *value, const char *path,
                             json_t *issues)
{
    const json_t *min = json_object_get(schema, "minItems"),
                 *max = json_object_get(schema, "maxItems");
    size_t len = json_array_size(value);
    if (min && (json_int_t)len < json_integer_value(min))
        cg_config_issue_add(issues, path, "must have at least %lld items",
                            (long long)json_integer_value(min));
    if (max && (json_int_t)len > json_integer_value(max))
        cg_config_issue_add(issues, path, "must have at most %lld items",
                            (long long)json_integer_value(max));
    const json_t *items = json_object_get(schema, "items");
    if (!items) return json_incref((json_t *)value);
    json_t *out = json_array();
    size_t i;
    const json_t *element;
    json_array_foreach(value, i, element)
    {
        char index[24];
        snprintf(index, sizeof index, "%zu", i);
        char *child = cg_config_path_join(path, index);
        json_array_append_new(out, resolve_node(items, element, child, issues));
        free(child);
    }
    return out;
}

static json_t *resolve_node(const json_t *schema, const json_t *value, const char *path,
                            json_t *issues)
{
    if (json_is_true(json_object_get(schema, "x-secret")) && json_is_object(value)) {
        cg_config_issue_add(issues, path,
                            "secret references are not supported by clawgate; use a string "
                            "(\"${VAR}\" reads an environment variable)");
        return json_incref((json_t *)value);
    }
    const json_t *type = json_object_get(schema, "type");
    if (type && !schema_type_matches(type, value)) {
        const char *expected = json_is_string(type) ? json_string_value(type) : "another type";
        cg_config_issue_add(issues, path, "expected %s, got %s", expected, json_type_name(value));
        return json_incref((json_t *)value);
    }
    json_t *resolved;
    if (json_is_string(value)) {
        size_t issues_before = json_array_size(issues);
        resolved = substitute_env(value, path, issues);
        if (json_array_size(issues) > issues_before) return resolved; /* a variable is missing */
        const json_t *min_length = json_object_get(schema, "minLength");
        if (min_length && json_string_length(resolved) < (size_t)json_integer_value(min_length))
            cg_config_issue_add(issues, path, "must not be empty");
    } else if (json_is_object(value)) {
        resolved = resolve_object(schema, value, path, issues);
    } else if (json_is_array(value)) {
        resolved = resolve_array(schema, value, path, issues);
    } else {
        if (json_is_number(value)) check_bounds(schema, value, path, issues);
        resolved = json_incref((json_t *)value);
    }
    const json_t *allowed = json_object_get(schema, "enum");
    if (allowed && !enum_contains(allowed, resolved)) enum_issue(schema, resolved, path, issues);
    return resolved;
}

json_t *cg_config_resolve(const json_t *doc, json_t *issues)
{
    return resolve_node(cg_config_schema_doc(), doc, "", issues);
}

/* uiHints: every described or secret key, by dotted path ("*" for any map key). */
static void collect_ui_hints(const json_t *schema, const char *path, json_t *hints)
{
    if (*path) {
        const json_t *description = json_object_get(schema, "description");
        bool secret = json_is_true(json_object_get(schema, "x-secret"));
        if (description || secret) {
            json_t *hint = json_object();
            if (description) json_object_set(hint, "help", (json_t *)description);
            if (secret) json_object_set_new(hint, "sensitive", json_true());
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
