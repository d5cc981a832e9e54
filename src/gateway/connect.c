/* The connect handshake on a connection: connect.challenge, then one `connect` request
 * run through proto/handshake.c's steps in CONTRACT.md's order. Any refusal answers the
 * error and closes (1008; 1002 for a protocol mismatch). Success registers the client
 * (connId map, AUTHENTICATED hooks, presence) and answers hello-ok.
 *
 * A connect with a device identity also goes through device pairing (auth/devices.h):
 * the signature is verified, a device token is checked against the registry, and an
 * unknown device is approved on the spot (direct loopback, autoApproveLocal) or gets a
 * pending request and NOT_PAIRED. When that changes the registry (a token issued, a
 * device approved, a request opened) the answer waits for the store's commit: the
 * connection is then `connect_pending` until it goes out. It holds a reference, so a
 * client that leaves meanwhile just ends the wait; the handshake timeout bounds it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway_int.h"
#include "proto/frame.h"
#include "proto/handshake.h"

void cg_connect_start(cg_conn *c)
{
    cg_uuid4(c->nonce);
    json_t *p = json_pack("{s:s, s:I}", "nonce", c->nonce, "ts", (json_int_t)cg_now_ms());
    char *text = json_dumps(p, JSON_COMPACT);
    cg_conn_send_challenge(c, text, strlen(text));
    free(text);
    json_decref(p);
}

static const char *error_code(const json_t *error)
{
    const json_t *d = json_object_get(error, "details");
    const json_t *code = json_is_object(d) ? json_object_get(d, "code") : NULL;
    return json_is_string(code) ? json_string_value(code)
                                : json_string_value(json_object_get(error, "code"));
}

/* Answers the refusal (consumed) and closes. */
static void refuse(cg_conn *c, const char *id, json_t *error, uint16_t close_code)
{
    cg_log(CG_LOG_WARN, "auth", "connect refused",
           json_pack("{s:s, s:s, s:s}", "ip", c->client_ip, "code", error_code(error), "reason",
                     json_string_value(json_object_get(error, "message"))));
    cg_conn_send_error(c, id, error);
    cg_conn_ws_close(c, close_code, close_code == 1002 ? "protocol mismatch" : "connect refused");
}

/* The client's address through trusted proxies; an unreadable forwarded header makes
 * it unknown (no bypass, its own rate-limit key), logged once: here, at connect. */
static void resolve_client_ip(cg_conn *c, const cg_http_facts *facts, const cg_settings *s)
{
    if (cg_client_ip(facts, s, c->client_ip, sizeof c->client_ip)) return;
    cg_log(CG_LOG_WARN, "auth", "client address unknown: unreadable forwarding header",
           json_pack("{s:s, s:s%, s:s%}", "peer", c->stream.peer_ip, "forwardedFor",
                     c->forwarded_for ? c->forwarded_for : "",
                     c->forwarded_for ? strnlen(c->forwarded_for, 256) : 0, "realIp",
                     c->real_ip ? c->real_ip : "", c->real_ip ? strnlen(c->real_ip, 256) : 0));
}

/* What a connect has established so far. */
typedef struct connect_state {
    cg_conn *c;
    char *id;
    json_t *params; /* a copy */
    int protocol;
    unsigned role, scopes;
    cg_credential credential;
    cg_device_proof proof; /* the verified device (proof.version 0: none) */
    bool limited;          /* counted by the failed-auth limiter */
    /* The outcome once the registry's write is committed. */
    json_t *refusal; /* an ErrorShape, or NULL to admit */
    char close_reason[160];
    const char *announce_event; /* broadcast to operator.pairing holders after the commit */
    json_t *announce;
    char device_token[CG_DEVICE_TOKEN_SIZE];
    int64_t token_issued_at_ms;
} connect_state;

static void state_free(connect_state *st)
{
    free(st->id);
    json_decref(st->params);
    json_decref(st->refusal);
    json_decref(st->announce);
    free(st);
}

static cg_http_facts conn_facts(const cg_conn *c)
{
    return (cg_http_facts){.peer_ip = c->stream.peer_ip,
                           .host = c->host,
                           .origin = c->origin,
                           .forwarded_for = c->forwarded_for,
                           .real_ip = c->real_ip};
}

/* A refused credential counts toward the limit (once per attempt). */
static void count_failure(connect_state *st)
{
    cg_gateway *gw = st->c->gw;
    if (st->limited)
        cg_rate_limiter_fail(gw->rate_limiter, st->c->client_ip, &gw->settings->rate_limit,
                             cg_now_ms());
}

/* The failed-auth lockout and the device proof. Returns false after refusing. */
static bool check_lockout_and_device(connect_state *st)
{
    cg_conn *c = st->c;
    cg_gateway *gw = c->gw;
    const cg_settings *s = gw->settings;
    /* A connection through the Tailscale ingress already holds the forwarded client. */
    if (c->ingress == CG_INGRESS_DIRECT) {
        cg_http_facts facts = conn_facts(c);
        resolve_client_ip(c, &facts, s);
    }
    /* Limited per client address; browser connects even from loopback. */
    st->limited = s->auth_mode != CG_AUTH_NONE && !(cg_addr_is_loopback(c->client_ip) &&
                                                    s->rate_limit.exempt_loopback && !c->origin);
    if (st->limited) {
        int64_t left =
            cg_rate_limiter_check(gw->rate_limiter, c->client_ip, &s->rate_limit, cg_now_ms());
        if (left > 0) {
            refuse(c, st->id, cg_connect_rate_limited(left), 1008);
            return false;
        }
    }
    json_t *denied = cg_connect_verify_device(st->params, c->nonce, cg_now_ms(), &st->proof);
    if (denied) {
        count_failure(st);
        refuse(c, st->id, denied, 1008);
        return false;
    }
    return true;
}

/* The credential (shared secret, device token, local bypass). Returns false after
 * refusing. */
static bool check_credential(connect_state *st, const char **device_token)
{
    cg_conn *c = st->c;
    cg_http_facts facts = conn_facts(c);
    bool mismatch;
    json_t *denied = cg_connect_authenticate(&facts, st->params, c->gw->settings, &st->credential,
                                             device_token, &mismatch);
    if (denied) {
        if (mismatch) count_failure(st);
        refuse(c, st->id, denied, 1008);
        return false;
    }
    return true;
}

static json_t *method_names(void)
{
    json_t *a = json_array();
    const cg_method *m;
    for (size_t i = 0; (m = cg_method_at(i)); i++)
        json_array_append_new(a, json_string(m->name));
    return a;
}

/* The connection is in: registered, then told so. */
static void admit(connect_state *st)
{
    cg_conn *c = st->c;
    cg_gateway *gw = c->gw;
    const cg_settings *s = gw->settings;
    if (st->limited) cg_rate_limiter_reset(gw->rate_limiter, c->client_ip);
    c->protocol = st->protocol;
    c->role = st->role;
    c->scopes = st->scopes;
    c->params = json_deep_copy(st->params);
    json_object_del(c->params, "auth");
    c->connected_at_ms = cg_now_ms();
    cg_uuid4(c->conn_id);
    const cg_limits *l = &s->limits;
    cg_ws_set_limits(c->ws, (uint64_t)l->max_payload_bytes, (uint64_t)l->max_buffered_bytes);
    cg_clients_authenticated(c);

    json_t *methods = method_names(), *events = cg_gateway_event_names();
    /* What the real CLI checks before it relies on a method: `openclaw models list`
     * calls models.list only with published-model-catalog. */
    json_t *capabilities = json_array();
    if (cg_method_find("models.list"))
        json_array_append_new(capabilities, json_string("published-model-catalog"));
    /* Presence is for operators who may read it; others get [] (as the real gateway). */
    json_t *health = cg_gateway_health_snapshot(gw),
           *presence =
               cg_scope_granted(st->role, st->scopes, CG_SCOPE_READ) && st->role == CG_ROLE_OPERATOR
                   ? cg_gateway_presence(gw)
                   : json_array();
    cg_hello_inputs in = {.protocol = st->protocol,
                          .conn_id = c->conn_id,
                          .methods = methods,
                          .events = events,
                          .capabilities = capabilities,
                          .health = health,
                          .presence = presence,
                          .presence_version = cg_gateway_presence_version(gw),
                          .health_version = gw->health_version,
                          .uptime_ms = cg_gateway_uptime_ms(gw),
                          .role = st->role,
                          .scopes = st->scopes,
                          .device_token = st->device_token[0] ? st->device_token : NULL,
                          .device_token_issued_at_ms = st->token_issued_at_ms,
                          .max_payload_bytes = l->max_payload_bytes,
                          .max_buffered_bytes = l->max_buffered_bytes,
                          .tick_interval_ms = s->tick_interval_ms};
    json_t *hello = cg_hello_ok(&in);
    json_decref(methods);
    json_decref(events);
    json_decref(capabilities);
    json_decref(health);
    json_decref(presence);
    char *payload = json_dumps(hello, JSON_COMPACT);
    json_decref(hello);
    cg_conn_send_ok(c, st->id, payload, strlen(payload));
    free(payload);
    c->connected = c->registered; /* events flow from here on, unless it closed meanwhile */
    cg_log(CG_LOG_INFO, "gateway", "client connected",
           json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:i, s:o}", "connId", c->conn_id, "ip",
                     c->client_ip, "client", cg_conn_client_id(c), "mode", cg_conn_client_mode(c),
                     "device", cg_conn_device_id(c), "role",
                     st->role == CG_ROLE_NODE ? "node" : "operator", "protocol", st->protocol,
                     "scopes", cg_scope_names(st->scopes)));
}

/* ---- device pairing at connect ---- */

static const struct {
    const char *reason, *requirement, *hint;
} pairing_reasons[] = {
    {"not-paired", "device is not approved yet",
     "Approve this device from the pending pairing requests."},
    {"role-upgrade", "device is asking for a higher role than currently approved",
     "Review the requested role upgrade, then approve the pending request."},
    {"scope-upgrade", "device is asking for more scopes than currently approved",
     "Review the requested scopes, then approve the pending upgrade."},
};

/* NOT_PAIRED with PAIRING_REQUIRED details, and the close reason that goes with it. */
static json_t *pairing_refusal(connect_state *st, const cg_device *dev, cg_device_role role,
                               const char *device_id, const char *request_id, const json_t *scopes)
{
    json_t *none = json_array();
    bool has_role = cg_device_approved(dev, role, none);
    json_decref(none);
    int k = !dev || !json_array_size(dev->roles) ? 0 : !has_role ? 1 : 2;
    char message[96];
    snprintf(message, sizeof message, "pairing required: %s", pairing_reasons[k].requirement);
    snprintf(st->close_reason, sizeof st->close_reason, "%s (requestId: %s)", message, request_id);
    json_t *details =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "code", "PAIRING_REQUIRED", "reason",
                  pairing_reasons[k].reason, "requestId", request_id, "remediationHint",
                  pairing_reasons[k].hint, "deviceId", device_id, "requestedRole",
                  st->role == CG_ROLE_NODE ? "node" : "operator", "requestedScopes", scopes);
    const char *client_id = cg_connect_client_field(st->params, "id");
    if (client_id && strcmp(client_id, "openclaw-control-ui") == 0) {
        json_object_set_new(details, "recommendedNextStep", json_string("wait_then_retry"));
        json_object_set_new(details, "retryable", json_true());
        json_object_set_new(details, "pauseReconnect", json_false());
    }
    if (dev && json_array_size(dev->roles)) {
        json_object_set(details, "approvedRoles", dev->roles);
        if (json_array_size(dev->scopes)) json_object_set(details, "approvedScopes", dev->scopes);
    }
    return cg_error_new(CG_ERR_NOT_PAIRED, message, details);
}

static void finish(connect_state *st)
{
    cg_conn *c = st->c;
    c->connect_pending = false;
    if (st->announce) {
        cg_gateway_broadcast(c->gw, st->announce_event, st->announce, CG_ROLE_OPERATOR,
                             CG_SCOPE_PAIRING, CG_EVENT_DROPPABLE);
        st->announce = NULL;
    }
    if (c->phase != CG_PHASE_WS) {
        /* The client left while the registry was written. */
    } else if (st->refusal) {
        json_t *e = st->refusal;
        st->refusal = NULL;
        cg_log(CG_LOG_WARN, "auth", "connect refused",
               json_pack("{s:s, s:s, s:s}", "ip", c->client_ip, "code", error_code(e), "reason",
                         json_string_value(json_object_get(e, "message"))));
        cg_conn_send_error(c, st->id, e);
        cg_conn_ws_close(c, 1008, st->close_reason[0] ? st->close_reason : "connect refused");
    } else {
        admit(st);
    }
    cg_conn_unref(c);
    state_free(st);
}

static void on_registry_written(int status, const char *error, void *data)
{
    connect_state *st = data;
    if (status != 0) {
        json_decref(st->refusal);
        json_decref(st->announce);
        st->announce = NULL;
        st->refusal = cg_error_new(CG_ERR_UNAVAILABLE, "state store write failed; retry", NULL);
        json_object_set_new(st->refusal, "retryable", json_true());
    }
    finish(st);
}

/* Waits for the registry's write, or finishes now when nothing was written. */
static void settle(connect_state *st, bool wrote)
{
    if (!wrote) finish(st);
}

static void take_token(connect_state *st, const cg_device_token *t)
{
    snprintf(st->device_token, sizeof st->device_token, "%s", t->token);
    st->token_issued_at_ms = t->rotated_at_ms ? t->rotated_at_ms : t->created_at_ms;
}

/* Device pairing for a connect that carries a device block (credential checked). */
static void pair_device(connect_state *st, const char *device_token)
{
    cg_conn *c = st->c;
    cg_gateway *gw = c->gw;
    cg_devices *devices = gw->devices;
    const json_t *device = json_object_get(st->params, "device");
    const char *device_id = json_string_value(json_object_get(device, "id"));
    cg_device_role role = st->role == CG_ROLE_NODE ? CG_DEVICE_ROLE_NODE : CG_DEVICE_ROLE_OPERATOR;
    json_t *scopes = cg_scope_names(st->scopes);
    cg_device *dev = cg_devices_find(devices, device_id);
    int64_t now = cg_now_ms();
    snprintf(c->device_id, sizeof c->device_id, "%s", device_id);
    c->connect_pending = true;
    cg_conn_ref(c);

    if (st->credential == CG_CRED_DEVICE_TOKEN) {
        const cg_device_token *t = cg_device_token_check(dev, role, device_token);
        if (!t || !cg_scopes_within(scopes, t->scopes)) {
            if (!t) count_failure(st);
            /* A wrong auth.token is a wrong shared token (the device may retry with its
             * token); a wrong auth.deviceToken is a wrong device token. */
            bool via_token_field =
                !json_object_get(json_object_get(st->params, "auth"), "deviceToken");
            cg_http_facts facts = conn_facts(c);
            bool local = cg_is_local_for_pairing(&facts, NULL, NULL, gw->settings);
            st->refusal = cg_connect_auth_failure(t ? CG_AUTH_FAIL_SCOPE_MISMATCH
                                                  : via_token_field &&
                                                          gw->settings->auth_mode == CG_AUTH_TOKEN
                                                      ? CG_AUTH_FAIL_TOKEN_MISMATCH
                                                      : CG_AUTH_FAIL_DEVICE_TOKEN_MISMATCH,
                                                  st->params, local);
        } else {
            c->via_device_token = true;
            take_token(st, t);
            cg_devices_seen(devices, dev, json_object_get(st->params, "client"),
                            "device-token-auth", now);
        }
        json_decref(scopes);
        finish(st);
        return;
    }
    cg_device_claim claim = {.device_id = device_id,
                             .public_key = st->proof.public_key,
                             .role = role,
                             .scopes = scopes,
                             .client = json_object_get(st->params, "client"),
                             .remote_ip = c->client_ip};
    if (cg_device_approved(dev, role, scopes)) {
        bool wrote = cg_devices_ensure_token(devices, dev, role, now, on_registry_written, st);
        take_token(st, &dev->tokens[role]);
        if (!wrote) cg_devices_seen(devices, dev, claim.client, "connect", now);
        json_decref(scopes);
        settle(st, wrote);
        return;
    }
    cg_http_facts facts = conn_facts(c);
    if (gw->settings->auto_approve_local &&
        cg_is_local_for_pairing(&facts, cg_connect_client_field(st->params, "id"),
                                cg_connect_client_field(st->params, "mode"), gw->settings)) {
        dev = cg_devices_approve_silent(devices, &claim, now, on_registry_written, st);
        if (!dev) {
            st->refusal = cg_error_new(CG_ERR_UNAVAILABLE, "too many paired devices", NULL);
            json_decref(scopes);
            finish(st);
            return;
        }
        take_token(st, &dev->tokens[role]);
        /* As the real gateway: a resolution nobody was asked about, no request before. */
        char request_id[37];
        cg_uuid4(request_id);
        st->announce_event = "device.pair.resolved";
        st->announce = json_pack("{s:s, s:s, s:s, s:I}", "requestId", request_id, "deviceId",
                                 device_id, "decision", "approved", "ts", (json_int_t)now);
        json_decref(scopes);
        return;
    }
    bool created = false;
    cg_device_request *r =
        cg_devices_request_pairing(devices, &claim, now, &created, on_registry_written, st);
    if (!r) {
        st->refusal = cg_error_new(CG_ERR_UNAVAILABLE, "too many pending pairing requests", NULL);
        json_object_set_new(st->refusal, "retryable", json_true());
        json_decref(scopes);
        finish(st);
        return;
    }
    st->refusal = pairing_refusal(st, dev, role, device_id, r->request_id, scopes);
    if (created) {
        st->announce_event = "device.pair.requested";
        st->announce = json_deep_copy(r->entry);
    }
    json_decref(scopes);
    settle(st, created);
}

/* Who the client is is settled: a node must have proven a device; a device goes
 * through pairing; anyone else is in. Takes st. */
static void after_credential(connect_state *st, const char *device_token)
{
    cg_conn *c = st->c;
    bool has_device = st->proof.version != 0;
    if (st->role == CG_ROLE_NODE && !has_device) {
        refuse(c, st->id,
               cg_error_new(CG_ERR_NOT_PAIRED, "device identity required",
                            json_pack("{s:s}", "code", "DEVICE_IDENTITY_REQUIRED")),
               1008);
        state_free(st);
    } else if (has_device) {
        /* device_token points into st->params, which pair_device keeps. */
        pair_device(st, device_token);
    } else {
        admit(st);
        state_free(st);
    }
}

/* ---- Tailscale Serve identity ---- */

static bool has_auth_string(const json_t *params, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(params, "auth"), key));
    return v && *v;
}

/* A connection through `tailscale serve` naming a tailnet user, with no shared secret
 * sent (a secret is checked as usual, as OpenClaw does). */
static bool tailscale_candidate(const connect_state *st)
{
    const cg_settings *s = st->c->gw->settings;
    if (s->auth_mode == CG_AUTH_NONE || has_auth_string(st->params, "token") ||
        has_auth_string(st->params, "password"))
        return false;
    cg_tailscale_headers h;
    cg_conn_tailscale_headers(st->c, &h);
    return cg_tailscale_candidate(&h, s);
}

static void on_tailscale_verified(cg_tailscale_result r, const char *login, void *data)
{
    connect_state *st = data;
    cg_conn *c = st->c;
    c->ts_wait = NULL;
    c->connect_wait = NULL;
    c->connect_pending = false;
    if (c->phase != CG_PHASE_WS) {
        cg_conn_unref(c);
        state_free(st);
        return;
    }
    const char *device_token = NULL;
    if (r == CG_TAILSCALE_OK) {
        st->credential = CG_CRED_TAILSCALE;
        cg_log(CG_LOG_INFO, "auth", "tailscale identity verified",
               json_pack("{s:s, s:s}", "ip", c->client_ip, "login", login ? login : ""));
        after_credential(st, NULL);
    } else if (r == CG_TAILSCALE_UNAVAILABLE) {
        if (check_credential(st, &device_token))
            after_credential(st, device_token);
        else
            state_free(st);
    } else {
        /* A login whois contradicts is a forged claim: it counts; a failed lookup not. */
        if (r == CG_TAILSCALE_IDENTITY_MISMATCH) count_failure(st);
        refuse(
            c, st->id,
            cg_error_coded(CG_ERR_INVALID_REQUEST, cg_tailscale_message(r), cg_tailscale_code(r)),
            1008);
        state_free(st);
    }
    cg_conn_unref(c);
}

/* Asks whois (cached 60 s) who the forwarded client is; the connect continues in
 * on_tailscale_verified, possibly before this returns. */
static void wait_for_tailscale(connect_state *st)
{
    cg_conn *c = st->c;
    cg_conn_ref(c);
    c->connect_pending = true;
    c->connect_wait = st;
    cg_tailscale_wait *w = cg_tailscale_verify(c->gw->tailscale, c->client_ip, c->ts_user_login,
                                               on_tailscale_verified, st);
    if (w) c->ts_wait = w;
}

void cg_connect_closed(cg_conn *c)
{
    if (!c->ts_wait) return;
    cg_tailscale_cancel(c->ts_wait);
    c->ts_wait = NULL;
    connect_state *st = c->connect_wait;
    c->connect_wait = NULL;
    state_free(st);
    cg_conn_unref(c);
}

void cg_connect_message(cg_conn *c, json_t *msg)
{
    const cg_settings *s = c->gw->settings;
    const char *id = NULL, *device_token = NULL;
    json_t *params = NULL, *error;
    int protocol = 0;
    unsigned role = 0, scopes = 0;
    if (c->connect_pending) {
        id = json_string_value(json_object_get(msg, "id"));
        refuse(c, id, cg_error_new(CG_ERR_INVALID_REQUEST, "connect already in progress", NULL),
               1008);
        return;
    }
    if ((error = cg_connect_check_frame(msg, &id, &params))) {
        refuse(c, id, error, 1008);
        return;
    }
    if ((error = cg_connect_negotiate(params, &protocol))) {
        refuse(c, id, error, 1002);
        return;
    }
    if ((error = cg_connect_check_params(params, protocol)) ||
        (error = cg_connect_check_origin(c->origin, c->host, s)) ||
        (error = cg_connect_role(params, &role, &scopes))) {
        refuse(c, id, error, 1008);
        return;
    }
    connect_state *st = cg_xcalloc(1, sizeof *st);
    st->c = c;
    st->id = id ? cg_strdup(id) : NULL;
    st->params = json_deep_copy(params);
    st->protocol = protocol;
    st->role = role;
    st->scopes = scopes;
    if (!check_lockout_and_device(st)) {
        state_free(st);
        return;
    }
    if (tailscale_candidate(st)) {
        wait_for_tailscale(st);
        return;
    }
    if (!check_credential(st, &device_token)) {
        state_free(st);
        return;
    }
    after_credential(st, device_token);
}
