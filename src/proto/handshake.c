/* The connect handshake: connect.challenge, then one `connect` request.
 *
 * Order of checks: the frame, protocol negotiation (min(maxProtocol, 4) must be at least
 * max(minProtocol, 1), else PROTOCOL_MISMATCH and close 1002), the params (strictly
 * against ConnectParams for v3/v4, loosely for v1/v2), the browser origin, the
 * failed-auth lockout, then the credential (or the local bypass). Any failure answers
 * the error and closes 1008. Success answers hello-ok in the negotiated shape. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway_int.h"
#include "proto/frame.h"
#include "proto/handshake.h"

static const struct {
    const char *name;
    unsigned bit;
} operator_scopes[] = {
    {"operator.read", CG_SCOPEBIT_READ},
    {"operator.write", CG_SCOPEBIT_WRITE},
    {"operator.admin", CG_SCOPEBIT_ADMIN},
    {"operator.approvals", CG_SCOPEBIT_APPROVALS},
    {"operator.questions", CG_SCOPEBIT_QUESTIONS},
    {"operator.pairing", CG_SCOPEBIT_PAIRING},
    {"operator.talk", CG_SCOPEBIT_TALK},
    {"operator.talk.secrets", CG_SCOPEBIT_TALK_SECRETS},
};
#define N_OPERATOR_SCOPES (sizeof operator_scopes / sizeof operator_scopes[0])

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

void cg_handshake_start(cg_conn *c)
{
    cg_uuid4(c->nonce);
    json_t *p = json_pack("{s:s, s:I}", "nonce", c->nonce, "ts", (json_int_t)cg_now_ms());
    char *text = json_dumps(p, JSON_COMPACT);
    cg_buf b = {0};
    cg_frame_event(&b, "connect.challenge", text, strlen(text), 0);
    cg_ws_send_text(c, b.data, b.len);
    cg_buf_reset(&b);
    free(text);
    json_decref(p);
}

static void refuse(cg_conn *c, const char *id, json_t *error, uint16_t close_code)
{
    json_t *d = json_object_get(error, "details");
    cg_log(CG_LOG_WARN, "auth", "connect refused",
           json_pack("{s:s, s:s, s:s}", "ip", c->client_ip[0] ? c->client_ip : c->peer_ip, "code",
                     json_is_object(d) && json_is_string(json_object_get(d, "code"))
                         ? json_string_value(json_object_get(d, "code"))
                         : json_string_value(json_object_get(error, "code")),
                     "reason", json_string_value(json_object_get(error, "message"))));
    cg_conn_send_error(c, id, error);
    cg_ws_close(c, close_code, close_code == 1002 ? "protocol mismatch" : "connect refused");
}

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

/* NULL when the credential (or the local bypass) admits the connection. */
static json_t *authenticate(const cg_http_facts *facts, const json_t *params, const cg_settings *s,
                            bool *mismatch)
{
    *mismatch = false;
    if (s->auth_mode == CG_AUTH_NONE) return NULL;
    bool token_mode = s->auth_mode == CG_AUTH_TOKEN;
    const char *given = auth_string(params, token_mode ? "token" : "password");
    const char *expected = token_mode ? s->token : s->password;
    if (given) {
        if (expected && cg_secret_equal(expected, given)) return NULL;
        *mismatch = true;
        return token_mode
                   ? cg_error_coded(CG_ERR_INVALID_REQUEST,
                                    "unauthorized: gateway token mismatch (provide the gateway "
                                    "token in auth.token)",
                                    "AUTH_TOKEN_MISMATCH")
                   : cg_error_coded(CG_ERR_INVALID_REQUEST,
                                    "unauthorized: gateway password mismatch (provide the gateway "
                                    "password in auth.password)",
                                    "AUTH_PASSWORD_MISMATCH");
    }
    if (cg_is_local_direct(facts, s)) return NULL;
    return token_mode ? cg_error_coded(CG_ERR_INVALID_REQUEST,
                                       "unauthorized: gateway token missing (provide the gateway "
                                       "token in auth.token)",
                                       "AUTH_TOKEN_MISSING")
                      : cg_error_coded(CG_ERR_INVALID_REQUEST,
                                       "unauthorized: gateway password missing (provide the "
                                       "gateway password in auth.password)",
                                       "AUTH_PASSWORD_MISSING");
}

json_t *cg_scope_names(unsigned bits)
{
    json_t *a = json_array();
    for (size_t i = 0; i < N_OPERATOR_SCOPES; i++)
        if (bits & operator_scopes[i].bit)
            json_array_append_new(a, json_string(operator_scopes[i].name));
    return a;
}

static json_t *method_names(void)
{
    json_t *a = json_array();
    const cg_method *m;
    for (size_t i = 0; (m = cg_method_at(i)); i++)
        json_array_append_new(a, json_string(m->name));
    return a;
}

static json_t *hello_ok(cg_conn *c)
{
    cg_gateway *gw = c->gw;
    const cg_settings *s = gw->settings;
    if (c->protocol < 3) {
        return json_pack("{s:s, s:i, s:s, s:o}", "event", "hello-ok", "protocolVersion",
                         c->protocol, "serverVersion", CLAWGATE_VERSION, "capabilities",
                         method_names());
    }
    return json_pack(
        "{s:s, s:i, s:{s:s, s:s}, s:{s:o, s:o}, s:{s:[], s:o, s:{s:i, s:i}, s:I}, s:{s:s, s:o},"
        " s:{s:I, s:I, s:I}}",
        "type", "hello-ok", "protocol", c->protocol, "server", "version", CLAWGATE_VERSION,
        "connId", c->conn_id, "features", "methods", method_names(), "events",
        cg_gateway_event_names(), "snapshot", "presence", "health", cg_gateway_health(gw),
        "stateVersion", "presence", 0, "health", 0, "uptimeMs",
        (json_int_t)cg_gateway_uptime_ms(gw), "auth", "role",
        c->role == CG_ROLE_NODE ? "node" : "operator", "scopes", cg_scope_names(c->scopes),
        "policy", "maxPayload", (json_int_t)s->limits.max_payload_bytes, "maxBufferedBytes",
        (json_int_t)s->limits.max_buffered_bytes, "tickIntervalMs",
        (json_int_t)s->tick_interval_ms);
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

unsigned cg_scope_bits(const json_t *scopes)
{
    unsigned bits = 0;
    size_t i;
    json_t *v;
    json_array_foreach(scopes, i, v)
    {
        for (size_t k = 0; k < N_OPERATOR_SCOPES; k++)
            if (json_is_string(v) && strcmp(json_string_value(v), operator_scopes[k].name) == 0)
                bits |= operator_scopes[k].bit;
    }
    return bits;
}

void cg_handshake_message(cg_conn *c, json_t *msg)
{
    cg_gateway *gw = c->gw;
    const cg_settings *s = gw->settings;
    const char *id, *method;
    json_t *params;
    char err[400], text[480];
    if (cg_frame_parse_req(msg, &id, &method, &params, err, sizeof err) != 0) {
        snprintf(text, sizeof text, "invalid handshake: %s", err);
        refuse(c, id, cg_error_new(CG_ERR_INVALID_REQUEST, text, NULL), 1008);
        return;
    }
    if (strcmp(method, "connect") != 0) {
        refuse(c, id,
               cg_error_new(CG_ERR_INVALID_REQUEST,
                            "invalid handshake: first request must be connect", NULL),
               1008);
        return;
    }
    json_int_t minp, maxp;
    if (!json_is_object(params) || !json_is_integer(json_object_get(params, "minProtocol")) ||
        !json_is_integer(json_object_get(params, "maxProtocol"))) {
        refuse(c, id,
               cg_error_new(CG_ERR_INVALID_REQUEST,
                            "invalid connect params: minProtocol and maxProtocol must be integers",
                            NULL),
               1008);
        return;
    }
    minp = json_integer_value(json_object_get(params, "minProtocol"));
    maxp = json_integer_value(json_object_get(params, "maxProtocol"));
    int chosen = cg_negotiate_protocol(minp, maxp);
    if (chosen < 0) {
        snprintf(text, sizeof text,
                 "protocol mismatch: client supports %lld-%lld, gateway supports 1-%d",
                 (long long)minp, (long long)maxp, CG_MAX_PROTOCOL);
        refuse(c, id,
               cg_error_new(CG_ERR_INVALID_REQUEST, text,
                            json_pack("{s:s, s:i, s:i}", "code", "PROTOCOL_MISMATCH", "minProtocol",
                                      1, "maxProtocol", CG_MAX_PROTOCOL)),
               1002);
        return;
    }
    if (cg_connect_params_check(params, chosen, err, sizeof err) != 0) {
        snprintf(text, sizeof text, "invalid connect params: %s", err);
        refuse(c, id, cg_error_new(CG_ERR_INVALID_REQUEST, text, NULL), 1008);
        return;
    }
    if (c->origin && !cg_origin_allowed(c->origin, c->host, s)) {
        refuse(c, id,
               cg_error_coded(CG_ERR_INVALID_REQUEST,
                              "origin not allowed (open the Control UI from the gateway host or "
                              "add it to gateway.controlUi.allowedOrigins)",
                              "CONTROL_UI_ORIGIN_NOT_ALLOWED"),
               1008);
        return;
    }
    cg_http_facts facts = {.peer_ip = c->peer_ip,
                           .host = c->host,
                           .origin = c->origin,
                           .forwarded_for = c->forwarded_for,
                           .real_ip = c->real_ip};
    cg_client_ip(&facts, s, c->client_ip, sizeof c->client_ip);
    /* Limited per client address; browser connects even from loopback. */
    bool limited =
        !(cg_addr_is_loopback(c->client_ip) && s->rate_limit.exempt_loopback && !c->origin);
    int64_t now = cg_now_ms();
    if (limited && s->auth_mode != CG_AUTH_NONE) {
        int64_t left = cg_rate_limiter_check(gw->rate_limiter, c->client_ip, &s->rate_limit, now);
        if (left > 0) {
            json_t *e = cg_error_coded(CG_ERR_INVALID_REQUEST,
                                       "unauthorized: too many failed authentication attempts "
                                       "(retry later)",
                                       "AUTH_RATE_LIMITED");
            json_object_set_new(e, "retryable", json_true());
            json_object_set_new(e, "retryAfterMs", json_integer(left));
            refuse(c, id, e, 1008);
            return;
        }
    }
    bool mismatch;
    json_t *denied = authenticate(&facts, params, s, &mismatch);
    if (denied) {
        if (mismatch && limited)
            cg_rate_limiter_fail(gw->rate_limiter, c->client_ip, &s->rate_limit, now);
        refuse(c, id, denied, 1008);
        return;
    }
    if (limited) cg_rate_limiter_reset(gw->rate_limiter, c->client_ip);

    const char *role = json_string_value(json_object_get(params, "role"));
    if (!role || strcmp(role, "operator") == 0) {
        c->role = CG_ROLE_OPERATOR;
    } else if (strcmp(role, "node") == 0) {
        c->role = CG_ROLE_NODE;
    } else {
        snprintf(text, sizeof text, "invalid connect params: unknown role '%.64s'", role);
        refuse(c, id, cg_error_new(CG_ERR_INVALID_REQUEST, text, NULL), 1008);
        return;
    }
    c->scopes = c->role == CG_ROLE_OPERATOR ? cg_scope_bits(json_object_get(params, "scopes")) : 0;
    json_t *client = json_object_get(params, "client");
    c->client_id = cg_strdup(json_string_value(json_object_get(client, "id")));
    c->client_mode = cg_strdup(json_string_value(json_object_get(client, "mode")));
    c->protocol = chosen;
    cg_uuid4(c->conn_id);
    c->connected = true;

    json_t *hello = hello_ok(c);
    char *payload = json_dumps(hello, JSON_COMPACT);
    json_decref(hello);
    cg_conn_send_ok(c, id, payload, strlen(payload));
    free(payload);
    cg_log(CG_LOG_INFO, "gateway", "client connected",
           json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:i, s:o}", "connId", c->conn_id, "ip",
                     c->client_ip, "client", c->client_id, "mode", c->client_mode, "role",
                     c->role == CG_ROLE_NODE ? "node" : "operator", "protocol", c->protocol,
                     "scopes", cg_scope_names(c->scopes)));
}
