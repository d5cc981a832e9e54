/* Effective settings: a resolved document (validated, "${VAR}" substituted), command-line
 * flags and the environment, combined as flag > environment > file > default.
 *
 * Every default comes from the schema's "default" annotations (read through
 * setting_value), so the schema config.schema serves is also what an absent key means.
 * The checks that span several keys live here: a non-loopback bind needs auth, bind custom
 * needs a host, password mode needs a password, TLS paths come in pairs, Tailscale serve
 * and funnel need a loopback bind and auth (funnel: a password), as OpenClaw's
 * gateway demands. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "config/config_internal.h"

/* The document's value at a dotted path, else the schema's default there, else NULL. */
static const json_t *setting_value(const json_t *resolved, const char *dotted_path)
{
    char *path = cg_strdup(dotted_path);
    char *save = NULL;
    const json_t *node = resolved;
    for (char *key = strtok_r(path, ".", &save); key && node; key = strtok_r(NULL, ".", &save))
        node = json_object_get(node, key);
    free(path);
    if (node) return node;
    return json_object_get(cg_config_schema_at(dotted_path), "default");
}

static int64_t setting_int(const json_t *resolved, const char *path)
{
    return (int64_t)json_integer_value(setting_value(resolved, path));
}

static bool setting_bool(const json_t *resolved, const char *path)
{
    return json_is_true(setting_value(resolved, path));
}

static char *setting_string(const json_t *resolved, const char *path)
{
    return cg_strdup(json_string_value(setting_value(resolved, path)));
}

static char **setting_strings(const json_t *resolved, const char *path, size_t *len)
{
    const json_t *list = setting_value(resolved, path);
    *len = json_array_size(list);
    char **out = cg_xcalloc(*len ? *len : 1, sizeof *out);
    for (size_t i = 0; i < *len; i++)
        out[i] = cg_strdup(json_string_value(json_array_get(list, i)));
    return out;
}

static bool bind_from_name(const char *name, cg_bind_mode *bind)
{
    static const struct {
        const char *name;
        cg_bind_mode mode;
    } binds[] = {{"loopback", CG_BIND_LOOPBACK}, {"auto", CG_BIND_LOOPBACK},
                 {"lan", CG_BIND_ALL},           {"all", CG_BIND_ALL},
                 {"custom", CG_BIND_CUSTOM},     {"tailnet", CG_BIND_TAILNET}};
    for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
        if (!strcmp(name, binds[i].name)) {
            *bind = binds[i].mode;
            return true;
        }
    }
    return false;
}

static bool auth_mode_from_name(const char *name, cg_auth_mode *mode)
{
    if (!strcmp(name, "token"))
        *mode = CG_AUTH_TOKEN;
    else if (!strcmp(name, "password"))
        *mode = CG_AUTH_PASSWORD;
    else if (!strcmp(name, "none"))
        *mode = CG_AUTH_NONE;
    else
        return false;
    return true;
}

static void resolve_port(cg_settings *s, const json_t *resolved, const cg_overrides *ov,
                         json_t *issues)
{
    s->port = (int)setting_int(resolved, "gateway.port");
    const char *env = cg_config_env("GATEWAY_PORT");
    const char *which = env && env == getenv("CLAWGATE_GATEWAY_PORT") ? "CLAWGATE_GATEWAY_PORT"
                                                                      : "OPENCLAW_GATEWAY_PORT";
    if (ov->port > 0) {
        s->port = ov->port;
    } else if (env) {
        char *end;
        errno = 0;
        long port = strtol(env, &end, 10);
        if (errno || *end || port < 1 || port > 65535)
            cg_config_issue_add(issues, which, "\"%s\" is not a port (1-65535)", env);
        else
            s->port = (int)port;
    }
}

static void resolve_bind(cg_settings *s, const json_t *resolved, const cg_overrides *ov,
                         json_t *issues)
{
    s->bind_name =
        cg_strdup(ov->bind ? ov->bind : json_string_value(setting_value(resolved, "gateway.bind")));
    if (!bind_from_name(s->bind_name, &s->bind))
        cg_config_issue_add(issues, "--bind",
                            "\"%s\" is not a bind mode (loopback, lan, all, auto, custom, tailnet)",
                            s->bind_name);
    s->custom_bind_host = setting_string(resolved, "gateway.customBindHost");
    if (s->bind == CG_BIND_CUSTOM && !s->custom_bind_host)
        cg_config_issue_add(issues, "gateway.customBindHost",
                            "is required when gateway.bind is custom");
}

static void resolve_auth(cg_settings *s, const json_t *resolved, const cg_overrides *ov,
                         json_t *issues)
{
    const char *env_token = cg_config_env("GATEWAY_TOKEN");
    const char *env_password = cg_config_env("GATEWAY_PASSWORD");
    s->token =
        cg_strdup(ov->token   ? ov->token
                  : env_token ? env_token
                              : json_string_value(setting_value(resolved, "gateway.auth.token")));
    s->password = cg_strdup(
        ov->password   ? ov->password
        : env_password ? env_password
                       : json_string_value(setting_value(resolved, "gateway.auth.password")));

    const json_t *file_mode =
        json_object_get(json_object_get(json_object_get(resolved, "gateway"), "auth"), "mode");
    if (ov->auth_mode) {
        if (!auth_mode_from_name(ov->auth_mode, &s->auth_mode))
            cg_config_issue_add(issues, "--auth",
                                "\"%s\" is not an auth mode (token, password, none)",
                                ov->auth_mode);
    } else if (file_mode) {
        auth_mode_from_name(json_string_value(file_mode), &s->auth_mode);
    } else {
        /* Unset: a password alone selects password mode; anything else is token mode. */
        s->auth_mode = s->password && !s->token ? CG_AUTH_PASSWORD : CG_AUTH_TOKEN;
    }
    if (s->auth_mode == CG_AUTH_PASSWORD && !s->password)
        cg_config_issue_add(issues, "gateway.auth.password",
                            "is required when gateway.auth.mode is password");
    if (s->auth_mode == CG_AUTH_NONE && s->bind != CG_BIND_LOOPBACK)
        cg_config_issue_add(issues, "gateway.bind",
                            "bind \"%s\" reaches beyond loopback and needs auth, but "
                            "gateway.auth.mode is none",
                            s->bind_name);

    s->local_bypass = setting_bool(resolved, "gateway.auth.localBypass");
    s->auto_approve_local = setting_bool(resolved, "gateway.nodes.pairing.autoApproveLocal");
    s->http_chat_completions =
        setting_bool(resolved, "gateway.http.endpoints.chatCompletions.enabled");
    s->rate_limit = (cg_rate_limit){
        .max_attempts = setting_int(resolved, "gateway.auth.rateLimit.maxAttempts"),
        .window_ms = setting_int(resolved, "gateway.auth.rateLimit.windowMs"),
        .lockout_ms = setting_int(resolved, "gateway.auth.rateLimit.lockoutMs"),
        .exempt_loopback = setting_bool(resolved, "gateway.auth.rateLimit.exemptLoopback"),
    };
}

/* 127.0.0.0/8 or ::1, as an address literal (a name never counts). */
static bool is_loopback_literal(const char *host)
{
    unsigned char a[16];
    if (host && inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
    return host && inet_pton(AF_INET6, host, a) == 1 && IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a);
}

/* gateway.tailscale.mode and what it needs of bind and auth (OpenClaw's messages). */
static void resolve_tailscale(cg_settings *s, const json_t *resolved, json_t *issues)
{
    const char *mode = json_string_value(setting_value(resolved, "gateway.tailscale.mode"));
    s->tailscale_mode = !strcmp(mode, "serve")    ? CG_TAILSCALE_SERVE
                        : !strcmp(mode, "funnel") ? CG_TAILSCALE_FUNNEL
                                                  : CG_TAILSCALE_OFF;
    const json_t *allow = setting_value(resolved, "gateway.auth.allowTailscale");
    s->allow_tailscale =
        allow ? json_is_true(allow)
              : s->tailscale_mode == CG_TAILSCALE_SERVE && s->auth_mode != CG_AUTH_PASSWORD;
    if (s->tailscale_mode == CG_TAILSCALE_OFF) return;
    if (s->tailscale_mode == CG_TAILSCALE_FUNNEL && s->auth_mode != CG_AUTH_PASSWORD)
        cg_config_issue_add(issues, "gateway.auth.mode",
                            "tailscale funnel requires gateway auth mode=password (set "
                            "gateway.auth.password or OPENCLAW_GATEWAY_PASSWORD)");
    else if (s->auth_mode == CG_AUTH_NONE)
        cg_config_issue_add(issues, "gateway.auth.mode",
                            "gateway.auth.mode=none cannot be used with gateway.tailscale.mode=%s; "
                            "configure token or password auth before exposing the gateway "
                            "through Tailscale",
                            mode);
    bool loopback = s->bind == CG_BIND_LOOPBACK ||
                    (s->bind == CG_BIND_CUSTOM && is_loopback_literal(s->custom_bind_host));
    if (!loopback)
        cg_config_issue_add(issues, "gateway.bind",
                            "gateway.bind must resolve to loopback when gateway.tailscale.mode=%s "
                            "(use gateway.bind=\"loopback\" or gateway.bind=\"custom\" with "
                            "gateway.customBindHost=\"127.0.0.1\")",
                            mode);
}

static void resolve_tls(cg_settings *s, const json_t *resolved, json_t *issues)
{
    s->tls_enabled = setting_bool(resolved, "gateway.tls.enabled");
    s->tls_cert_path = setting_string(resolved, "gateway.tls.certPath");
    s->tls_key_path = setting_string(resolved, "gateway.tls.keyPath");
    if (!s->tls_cert_path != !s->tls_key_path)
        cg_config_issue_add(issues,
                            s->tls_cert_path ? "gateway.tls.keyPath" : "gateway.tls.certPath",
                            "gateway.tls.certPath and gateway.tls.keyPath go together");
}

cg_settings *cg_settings_build(const json_t *resolved, const cg_overrides *ov, json_t *issues)
{
    size_t issues_before = json_array_size(issues);
    cg_settings *s = cg_xcalloc(1, sizeof *s);
    s->doc = json_incref((json_t *)resolved);
    resolve_port(s, resolved, ov, issues);
    resolve_bind(s, resolved, ov, issues);
    resolve_auth(s, resolved, ov, issues);
    resolve_tailscale(s, resolved, issues);
    resolve_tls(s, resolved, issues);
    s->allowed_origins =
        setting_strings(resolved, "gateway.controlUi.allowedOrigins", &s->allowed_origins_len);
    s->public_origin = setting_string(resolved, "gateway.publicOrigin");
    s->trusted_proxies =
        setting_strings(resolved, "gateway.trustedProxies", &s->trusted_proxies_len);
    s->node_commands_allow =
        setting_strings(resolved, "gateway.nodes.commands.allow", &s->node_commands_allow_len);
    s->node_commands_deny =
        setting_strings(resolved, "gateway.nodes.commands.deny", &s->node_commands_deny_len);
    s->limits = (cg_limits){
        .max_payload_bytes = setting_int(resolved, "gateway.limits.maxPayloadBytes"),
        .max_buffered_bytes = setting_int(resolved, "gateway.limits.maxBufferedBytes"),
        .preauth_max_bytes = setting_int(resolved, "gateway.limits.preauthMaxBytes"),
        .handshake_timeout_ms = setting_int(resolved, "gateway.limits.handshakeTimeoutMs"),
        .max_preauth_per_ip = setting_int(resolved, "gateway.limits.maxPreauthPerIp"),
        .json_budget_bytes = setting_int(resolved, "gateway.limits.jsonBudgetBytes"),
        .http_body_bytes = setting_int(resolved, "gateway.limits.httpBodyBytes"),
        .max_connections = setting_int(resolved, "gateway.limits.maxConnections"),
    };
    s->tick_interval_ms = setting_int(resolved, "gateway.tickIntervalMs");
    s->log_max_file_bytes = setting_int(resolved, "logging.maxFileBytes");
    if (json_array_size(issues) > issues_before) {
        cg_settings_free(s);
        return NULL;
    }
    return s;
}

static void free_strings(char **list, size_t len)
{
    for (size_t i = 0; i < len; i++)
        free(list[i]);
    free(list);
}

void cg_settings_free(cg_settings *s)
{
    if (!s) return;
    json_decref(s->doc);
    free(s->bind_name);
    free(s->custom_bind_host);
    free(s->token);
    free(s->password);
    free_strings(s->allowed_origins, s->allowed_origins_len);
    free(s->public_origin);
    free_strings(s->trusted_proxies, s->trusted_proxies_len);
    free_strings(s->node_commands_allow, s->node_commands_allow_len);
    free_strings(s->node_commands_deny, s->node_commands_deny_len);
    free(s->tls_cert_path);
    free(s->tls_key_path);
    free(s);
}

static bool same_string(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool same_strings(char **a, size_t alen, char **b, size_t blen)
{
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++)
        if (!same_string(a[i], b[i])) return false;
    return true;
}

bool cg_settings_listener_equal(const cg_settings *a, const cg_settings *b)
{
    return a->port == b->port && a->bind == b->bind && same_string(a->bind_name, b->bind_name) &&
           same_string(a->custom_bind_host, b->custom_bind_host) &&
           a->tls_enabled == b->tls_enabled && same_string(a->tls_cert_path, b->tls_cert_path) &&
           same_string(a->tls_key_path, b->tls_key_path);
}

/* The document's sections that modules read themselves (settings->doc): a change there is
 * a settings change, so the modules hear of it; other unknown keys are not. */
static const char *const module_sections[] = {"models", "agents", "channels", "bindings"};

static bool same_module_sections(const json_t *a, const json_t *b)
{
    for (size_t i = 0; i < sizeof module_sections / sizeof module_sections[0]; i++) {
        json_t *x = json_object_get(a, module_sections[i]),
               *y = json_object_get(b, module_sections[i]);
        if (!x != !y || (x && !json_equal(x, y))) return false;
    }
    return true;
}

bool cg_settings_equal(const cg_settings *a, const cg_settings *b)
{
    return cg_settings_listener_equal(a, b) && a->auth_mode == b->auth_mode &&
           same_string(a->token, b->token) && same_string(a->password, b->password) &&
           a->local_bypass == b->local_bypass && a->allow_tailscale == b->allow_tailscale &&
           a->tailscale_mode == b->tailscale_mode &&
           a->auto_approve_local == b->auto_approve_local &&
           a->http_chat_completions == b->http_chat_completions &&
           a->rate_limit.max_attempts == b->rate_limit.max_attempts &&
           a->rate_limit.window_ms == b->rate_limit.window_ms &&
           a->rate_limit.lockout_ms == b->rate_limit.lockout_ms &&
           a->rate_limit.exempt_loopback == b->rate_limit.exempt_loopback &&
           same_strings(a->allowed_origins, a->allowed_origins_len, b->allowed_origins,
                        b->allowed_origins_len) &&
           same_string(a->public_origin, b->public_origin) &&
           same_strings(a->trusted_proxies, a->trusted_proxies_len, b->trusted_proxies,
                        b->trusted_proxies_len) &&
           same_strings(a->node_commands_allow, a->node_commands_allow_len, b->node_commands_allow,
                        b->node_commands_allow_len) &&
           same_strings(a->node_commands_deny, a->node_commands_deny_len, b->node_commands_deny,
                        b->node_commands_deny_len) &&
           !memcmp(&a->limits, &b->limits, sizeof a->limits) &&
           a->tick_interval_ms == b->tick_interval_ms &&
           a->log_max_file_bytes == b->log_max_file_bytes && same_module_sections(a->doc, b->doc);
}
