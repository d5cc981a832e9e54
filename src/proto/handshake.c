/* The connect handshake's steps, as pure functions over the connect frame, the request
 * facts and the settings (gateway/connect.c runs them in order and sends the frames).
 *
 * Order (CONTRACT.md "Connecting"): the frame, protocol negotiation (min(maxProtocol, 4)
 * must be at least max(minProtocol, 1), else PROTOCOL_MISMATCH and close 1002), the
 * params (strictly against ConnectParams for v3/v4, loosely for v1/v2), the browser
 * origin, the failed-auth lockout (gateway state), the credential or the local bypass,
 * then role and scopes. Each step returns NULL or the ErrorShape to answer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "proto/frame.h"
#include "proto/handshake.h"
#include "proto/params.h"
#include "proto/scopes.h"

static const char *const client_ids[] = {"webchat-ui",
                                         "openclaw-control-ui",
                                         "openclaw-browser-copilot",
                                         "openclaw-tui",
                                         "webchat",
                                         "cli",
                                         "gateway-client",
                                         "openclaw-macos",
                                         "openclaw-linux",
                                         "openclaw-ios",
                                         "openclaw-watchos",
                                         "openclaw-android",
                                         "node-host",
                                         "openclaw-worker",
                                         "test",
                                         "fingerprint",
                                         "openclaw-probe",
                                         NULL};
static const char *const client_modes[] = {"webchat", "cli",   "ui",   "backend", "node",
                                           "worker",  "probe", "test", NULL};

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

static int check_string_array(const json_t *a, const char *what, char *err, size_t errlen)
{
    if (!a) return 0;
    if (!json_is_array(a)) {
        snprintf(err, errlen, "%s must be an array", what);
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            snprintf(err, errlen, "%s/%zu must be a non-empty string", what, i);
            return -1;
        }
    }
    return 0;
}

/* cg_params_unpack, with where the problem was in front of the message. */
static int unpack(const json_t *v, char *err, size_t errlen, const char *where, const char *fmt,
                  ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    int rc = cg_params_vunpack(v, what, sizeof what, fmt, ap);
    va_end(ap);
    if (rc != 0) snprintf(err, errlen, "%s: %s", where, what);
    return rc;
}

static bool nonempty(const char *s)
{
    return !s || *s;
}

/* ConnectParams of protocol.schema.json, checked strictly. */
static int check_connect_strict(const json_t *p, char *err, size_t errlen)
{
    json_int_t minp, maxp;
    json_t *client, *caps = NULL, *commands = NULL, *computer = NULL, *worker = NULL, *perms = NULL,
                    *scopes = NULL, *device = NULL, *auth = NULL;
    const char *path_env = NULL, *role = NULL, *locale = NULL, *ua = NULL;
    if (unpack(p, err, errlen, "params",
               "{s:I, s:I, s:o, s?o, s?o, s?o, s?o, s?o, s?s, s?s, s?o, s?o, s?o, s?s, s?s}",
               "minProtocol", &minp, "maxProtocol", &maxp, "client", &client, "caps", &caps,
               "commands", &commands, "computerUse", &computer, "workerRuns", &worker,
               "permissions", &perms, "pathEnv", &path_env, "role", &role, "scopes", &scopes,
               "device", &device, "auth", &auth, "locale", &locale, "userAgent", &ua))
        return -1;
    const char *id, *name = NULL, *version, *build = NULL, *platform, *family = NULL, *model = NULL,
                    *tz = NULL, *mode, *instance = NULL;
    if (unpack(client, err, errlen, "client", "{s:s, s?s, s:s, s?s, s:s, s?s, s?s, s?s, s:s, s?s}",
               "id", &id, "displayName", &name, "version", &version, "buildId", &build, "platform",
               &platform, "deviceFamily", &family, "modelIdentifier", &model, "timeZone", &tz,
               "mode", &mode, "instanceId", &instance))
        return -1;
    if (!in_list(id, client_ids)) {
        snprintf(err, errlen, "client.id: unknown client id '%.64s'", id);
        return -1;
    }
    if (!in_list(mode, client_modes)) {
        snprintf(err, errlen, "client.mode: unknown mode '%.64s'", mode);
        return -1;
    }
    if (!*version || !*platform || !nonempty(name) || !nonempty(build) || !nonempty(family) ||
        !nonempty(model) || !nonempty(tz) || !nonempty(instance) || !nonempty(role)) {
        snprintf(err, errlen, "client: strings must not be empty");
        return -1;
    }
    if ((build && strlen(build) > 96) || (tz && strlen(tz) > 64)) {
        snprintf(err, errlen, "client: buildId or timeZone too long");
        return -1;
    }
    if (check_string_array(caps, "caps", err, errlen) ||
        check_string_array(commands, "commands", err, errlen) ||
        check_string_array(scopes, "scopes", err, errlen))
        return -1;
    if (perms) {
        const char *k;
        json_t *v;
        if (!json_is_object(perms)) {
            snprintf(err, errlen, "permissions must be an object");
            return -1;
        }
        json_object_foreach(perms, k, v)
        {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "permissions.%.64s must be a boolean", k);
                return -1;
            }
        }
    }
    if (worker) {
        const char *bundle, *ver;
        json_t *features;
        json_int_t prewarm = 1;
        if (unpack(worker, err, errlen, "workerRuns", "{s:s, s:s, s:o, s?I}", "bundleHash", &bundle,
                   "openclawVersion", &ver, "protocolFeatures", &features, "bundlePrewarm",
                   &prewarm))
            return -1;
        if (check_string_array(features, "workerRuns.protocolFeatures", err, errlen)) return -1;
    }
    if (device) {
        const char *did, *pk, *sig, *nonce;
        json_int_t signed_at;
        if (unpack(device, err, errlen, "device", "{s:s, s:s, s:s, s:I, s:s}", "id", &did,
                   "publicKey", &pk, "signature", &sig, "signedAt", &signed_at, "nonce", &nonce))
            return -1;
        if (!*did || !*pk || !*sig || !*nonce || signed_at < 0) {
            snprintf(err, errlen, "device: fields must be non-empty");
            return -1;
        }
    }
    if (auth) {
        const char *t = NULL, *bt = NULL, *dt = NULL, *pw = NULL, *art = NULL, *arit = NULL;
        if (unpack(auth, err, errlen, "auth", "{s?s, s?s, s?s, s?s, s?s, s?s}", "token", &t,
                   "bootstrapToken", &bt, "deviceToken", &dt, "password", &pw,
                   "approvalRuntimeToken", &art, "agentRuntimeIdentityToken", &arit))
            return -1;
    }
    return 0;
}

/* v1/v2: the seed's looser shape (any client id and mode). */
static int check_connect_loose(const json_t *p, char *err, size_t errlen)
{
    json_t *client = json_object_get(p, "client");
    if (!json_is_object(client) || !json_is_string(json_object_get(client, "id"))) {
        snprintf(err, errlen, "client.id is required");
        return -1;
    }
    json_t *auth = json_object_get(p, "auth");
    if (auth && !json_is_object(auth)) {
        snprintf(err, errlen, "auth must be an object");
        return -1;
    }
    json_t *role = json_object_get(p, "role");
    if (role && !json_is_string(role)) {
        snprintf(err, errlen, "role must be a string");
        return -1;
    }
    return check_string_array(json_object_get(p, "scopes"), "scopes", err, errlen);
}

static const char *auth_string(const json_t *params, const char *key)
{
    json_t *v = json_object_get(json_object_get(params, "auth"), key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *cg_connect_client_field(const json_t *params, const char *key)
{
    return json_string_value(json_object_get(json_object_get(params, "client"), key));
}

static bool client_is(const json_t *params, const char *key, const char *value)
{
    const char *v = cg_connect_client_field(params, key);
    return v && strcmp(v, value) == 0;
}

json_t *cg_connect_auth_failure(cg_auth_failure reason, const json_t *params, bool local)
{
    static const struct {
        const char *code, *auth_reason, *next_step;
    } kinds[] = {
        [CG_AUTH_FAIL_TOKEN_MISSING] = {"AUTH_TOKEN_MISSING", "token_missing",
                                        "update_auth_configuration"},
        [CG_AUTH_FAIL_TOKEN_MISMATCH] = {"AUTH_TOKEN_MISMATCH", "token_mismatch",
                                         "update_auth_credentials"},
        [CG_AUTH_FAIL_PASSWORD_MISSING] = {"AUTH_PASSWORD_MISSING", "password_missing",
                                           "update_auth_configuration"},
        [CG_AUTH_FAIL_PASSWORD_MISMATCH] = {"AUTH_PASSWORD_MISMATCH", "password_mismatch",
                                            "update_auth_credentials"},
        [CG_AUTH_FAIL_DEVICE_TOKEN_MISMATCH] = {"AUTH_DEVICE_TOKEN_MISMATCH",
                                                "device_token_mismatch", "update_auth_credentials"},
        [CG_AUTH_FAIL_SCOPE_MISMATCH] = {"AUTH_SCOPE_MISMATCH", "scope_mismatch",
                                         "review_auth_configuration"},
    };
    /* The hint names what this kind of client should do (the real gateway's texts). */
    bool cli = client_is(params, "mode", "cli");
    bool ui =
        client_is(params, "id", "openclaw-control-ui") || client_is(params, "mode", "webchat");
    const char *token_hint =
        cli  ? local ? "use this gateway's gateway.auth.token or pair the device"
                     : "set gateway.remote.token to match gateway.auth.token"
        : ui ? "open the dashboard URL and paste the token in Control UI settings"
             : "provide gateway auth token";
    const char *password_hint = cli  ? local ? "use this gateway's gateway.auth.password"
                                             : "set gateway.remote.password to match "
                                               "gateway.auth.password"
                                : ui ? "enter the password in Control UI settings"
                                     : "provide gateway auth password";
    char message[200];
    switch (reason) {
    case CG_AUTH_FAIL_TOKEN_MISSING:
        snprintf(message, sizeof message, "unauthorized: gateway token missing (%s)",
                 ui ? "paste in Control UI settings or openclaw doctor --generate-gateway-token; "
                      "restart"
                    : token_hint);
        break;
    case CG_AUTH_FAIL_TOKEN_MISMATCH:
        snprintf(message, sizeof message, "unauthorized: gateway token mismatch (%s)", token_hint);
        break;
    case CG_AUTH_FAIL_PASSWORD_MISSING:
        snprintf(message, sizeof message, "unauthorized: gateway password missing (%s)",
                 password_hint);
        break;
    case CG_AUTH_FAIL_PASSWORD_MISMATCH:
        snprintf(message, sizeof message, "unauthorized: gateway password mismatch (%s)",
                 password_hint);
        break;
    case CG_AUTH_FAIL_DEVICE_TOKEN_MISMATCH:
        snprintf(message, sizeof message,
                 "unauthorized: device token mismatch (rotate/reissue device token)");
        break;
    case CG_AUTH_FAIL_SCOPE_MISMATCH:
        snprintf(message, sizeof message,
                 "unauthorized: device token scope mismatch (re-pair or approve scope upgrade)");
        break;
    }
    /* A device that sent a wrong auth.token may still hold a device token to retry with. */
    const json_t *auth = json_object_get(params, "auth");
    bool retry = reason == CG_AUTH_FAIL_TOKEN_MISMATCH &&
                 json_is_object(json_object_get(params, "device")) &&
                 json_object_get(auth, "token") && !json_object_get(auth, "deviceToken");
    return cg_error_new(CG_ERR_INVALID_REQUEST, message,
                        json_pack("{s:s, s:s, s:b, s:s}", "code", kinds[reason].code, "authReason",
                                  kinds[reason].auth_reason, "canRetryWithDeviceToken", retry,
                                  "recommendedNextStep",
                                  retry ? "retry_with_device_token" : kinds[reason].next_step));
}

json_t *cg_connect_authenticate(const cg_http_facts *facts, const json_t *params,
                                const cg_settings *s, cg_credential *kind,
                                const char **device_token, bool *mismatch)
{
    *mismatch = false;
    *device_token = NULL;
    *kind = CG_CRED_OPEN;
    if (s->auth_mode == CG_AUTH_NONE) return NULL;
    bool token_mode = s->auth_mode == CG_AUTH_TOKEN;
    bool has_device = json_is_object(json_object_get(params, "device"));
    const char *token = auth_string(params, "token");
    const char *dev_token = auth_string(params, "deviceToken");
    const char *password = auth_string(params, "password");
    const char *shared_given = token_mode ? token : password;
    const char *expected = token_mode ? s->token : s->password;
    bool local = cg_addr_is_loopback(facts->peer_ip) && !facts->forwarded_for && !facts->real_ip;
    if (shared_given && expected && cg_secret_equal(expected, shared_given)) {
        *kind = CG_CRED_SHARED;
        return NULL;
    }
    /* A wrong shared secret beside a device token in another field is still a wrong
     * secret: refused and counted, so a paired device cannot guess the secret freely. */
    bool secret_field_is_token = token_mode && !dev_token;
    if (shared_given && !secret_field_is_token) {
        *mismatch = true;
        return cg_connect_auth_failure(token_mode ? CG_AUTH_FAIL_TOKEN_MISMATCH
                                                  : CG_AUTH_FAIL_PASSWORD_MISMATCH,
                                       params, local);
    }
    /* Not the shared secret: with a device block, auth.deviceToken (else auth.token) is
     * that device's token, checked against the registry by the caller. */
    if (has_device && (dev_token || token)) {
        *kind = CG_CRED_DEVICE_TOKEN;
        *device_token = dev_token ? dev_token : token;
        return NULL;
    }
    if (shared_given) {
        *mismatch = true;
        return cg_connect_auth_failure(token_mode ? CG_AUTH_FAIL_TOKEN_MISMATCH
                                                  : CG_AUTH_FAIL_PASSWORD_MISMATCH,
                                       params, local);
    }
    if (cg_is_local_direct(facts, s)) {
        *kind = CG_CRED_BYPASS;
        return NULL;
    }
    return cg_connect_auth_failure(
        token_mode ? CG_AUTH_FAIL_TOKEN_MISSING : CG_AUTH_FAIL_PASSWORD_MISSING, params, local);
}

int cg_negotiate_protocol(json_int_t min_protocol, json_int_t max_protocol)
{
    json_int_t chosen = max_protocol < CG_MAX_PROTOCOL ? max_protocol : CG_MAX_PROTOCOL;
    return chosen >= (min_protocol > 1 ? min_protocol : 1) ? (int)chosen : -1;
}

int cg_connect_params_check(const json_t *params, int protocol, char *err, size_t errlen)
{
    return protocol >= 3 ? check_connect_strict(params, err, errlen)
                         : check_connect_loose(params, err, errlen);
}

json_t *cg_connect_check_frame(const json_t *msg, const char **id, json_t **params)
{
    const char *method;
    char err[400], text[480];
    if (cg_frame_parse_req(msg, id, &method, params, err, sizeof err) != 0) {
        snprintf(text, sizeof text, "invalid handshake: %s", err);
        return cg_error_new(CG_ERR_INVALID_REQUEST, text, NULL);
    }
    if (strcmp(method, "connect") != 0)
        return cg_error_new(CG_ERR_INVALID_REQUEST,
                            "invalid handshake: first request must be connect", NULL);
    if (!json_is_object(*params) || !json_is_integer(json_object_get(*params, "minProtocol")) ||
        !json_is_integer(json_object_get(*params, "maxProtocol")))
        return cg_error_new(CG_ERR_INVALID_REQUEST,
                            "invalid connect params: minProtocol and maxProtocol must be integers",
                            NULL);
    return NULL;
}

json_t *cg_connect_negotiate(const json_t *params, int *protocol)
{
    json_int_t minp = json_integer_value(json_object_get(params, "minProtocol"));
    json_int_t maxp = json_integer_value(json_object_get(params, "maxProtocol"));
    *protocol = cg_negotiate_protocol(minp, maxp);
    if (*protocol > 0) return NULL;
    char text[200];
    snprintf(text, sizeof text,
             "protocol mismatch: client supports %lld-%lld, gateway supports 1-%d", (long long)minp,
             (long long)maxp, CG_MAX_PROTOCOL);
    return cg_error_new(CG_ERR_INVALID_REQUEST, text,
                        json_pack("{s:s, s:i, s:i}", "code", "PROTOCOL_MISMATCH", "minProtocol", 1,
                                  "maxProtocol", CG_MAX_PROTOCOL));
}

json_t *cg_connect_check_params(const json_t *params, int protocol)
{
    char err[400], text[480];
    if (cg_connect_params_check(params, protocol, err, sizeof err) == 0) return NULL;
    snprintf(text, sizeof text, "invalid connect params: %s", err);
    return cg_error_new(CG_ERR_INVALID_REQUEST, text, NULL);
}

json_t *cg_connect_check_origin(const char *origin, const char *host, const cg_settings *s)
{
    if (!origin || cg_origin_allowed(origin, host, s)) return NULL;
    return cg_error_coded(CG_ERR_INVALID_REQUEST,
                          "origin not allowed (open the Control UI from the gateway host or add "
                          "it to gateway.controlUi.allowedOrigins)",
                          "CONTROL_UI_ORIGIN_NOT_ALLOWED");
}

json_t *cg_connect_rate_limited(int64_t retry_after_ms)
{
    json_t *e = cg_error_coded(CG_ERR_INVALID_REQUEST,
                               "unauthorized: too many failed authentication attempts (retry "
                               "later)",
                               "AUTH_RATE_LIMITED");
    json_object_set_new(e, "retryable", json_true());
    json_object_set_new(e, "retryAfterMs", json_integer(retry_after_ms));
    return e;
}

json_t *cg_connect_role(const json_t *params, unsigned *role, unsigned *scopes)
{
    const char *name = json_string_value(json_object_get(params, "role"));
    if (!name || strcmp(name, "operator") == 0) {
        *role = CG_ROLE_OPERATOR;
        *scopes = cg_scope_bits(json_object_get(params, "scopes"));
        return NULL;
    }
    if (strcmp(name, "node") == 0) {
        *role = CG_ROLE_NODE;
        *scopes = 0;
        return NULL;
    }
    char text[160];
    snprintf(text, sizeof text, "invalid connect params: unknown role '%.64s'", name);
    return cg_error_new(CG_ERR_INVALID_REQUEST, text, NULL);
}

json_t *cg_hello_ok(const cg_hello_inputs *in)
{
    if (in->protocol < 3) {
        return json_pack("{s:s, s:i, s:s, s:O}", "event", "hello-ok", "protocolVersion",
                         in->protocol, "serverVersion", CLAWGATE_VERSION, "capabilities",
                         in->methods);
    }
    json_t *hello = json_pack(
        "{s:s, s:i, s:{s:s, s:s}, s:{s:O, s:O}, s:{s:O, s:O, s:{s:I, s:I}, s:I},"
        " s:{s:s, s:o}, s:{s:I, s:I, s:I}}",
        "type", "hello-ok", "protocol", in->protocol, "server", "version", CLAWGATE_VERSION,
        "connId", in->conn_id, "features", "methods", in->methods, "events", in->events, "snapshot",
        "presence", in->presence, "health", in->health, "stateVersion", "presence",
        (json_int_t)in->presence_version, "health", (json_int_t)in->health_version, "uptimeMs",
        (json_int_t)in->uptime_ms, "auth", "role", in->role == CG_ROLE_NODE ? "node" : "operator",
        "scopes", cg_scope_names(in->scopes), "policy", "maxPayload",
        (json_int_t)in->max_payload_bytes, "maxBufferedBytes", (json_int_t)in->max_buffered_bytes,
        "tickIntervalMs", (json_int_t)in->tick_interval_ms);
    if (json_array_size(in->capabilities) > 0)
        json_object_set(json_object_get(hello, "features"), "capabilities",
                        (json_t *)in->capabilities);
    if (in->device_token) {
        json_t *auth = json_object_get(hello, "auth");
        json_object_set_new(auth, "deviceToken", json_string(in->device_token));
        json_object_set_new(auth, "issuedAtMs", json_integer(in->device_token_issued_at_ms));
    }
    return hello;
}

json_t *cg_connect_verify_device(const json_t *params, const char *nonce, int64_t now_ms,
                                 cg_device_proof *proof)
{
    *proof = (cg_device_proof){0};
    const json_t *device = json_object_get(params, "device");
    if (!device || json_is_null(device)) return NULL;
    cg_device_sig_result r = cg_device_sig_verify(params, nonce, now_ms, proof);
    if (r == CG_DEVICE_SIG_OK) return NULL;
    return cg_error_new(
        CG_ERR_INVALID_REQUEST, cg_device_sig_message(r),
        json_pack("{s:s, s:s}", "code", cg_device_sig_code(r), "reason", cg_device_sig_reason(r)));
}
