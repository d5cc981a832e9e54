/* The connect handshake on a connection: connect.challenge, then one `connect` request
 * run through proto/handshake.c's steps in CONTRACT.md's order. Any refusal answers the
 * error and closes (1008; 1002 for a protocol mismatch). Success registers the client
 * (connId map, AUTHENTICATED hooks, presence) and answers hello-ok. */
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

/* The failed-auth lockout, then the credential. Returns false after refusing. */
static bool authenticate(cg_conn *c, const char *id, const json_t *params)
{
    cg_gateway *gw = c->gw;
    const cg_settings *s = gw->settings;
    cg_http_facts facts = {.peer_ip = c->stream.peer_ip,
                           .host = c->host,
                           .origin = c->origin,
                           .forwarded_for = c->forwarded_for,
                           .real_ip = c->real_ip};
    resolve_client_ip(c, &facts, s);
    /* Limited per client address; browser connects even from loopback. */
    bool limited =
        !(cg_addr_is_loopback(c->client_ip) && s->rate_limit.exempt_loopback && !c->origin);
    int64_t now = cg_now_ms();
    if (limited && s->auth_mode != CG_AUTH_NONE) {
        int64_t left = cg_rate_limiter_check(gw->rate_limiter, c->client_ip, &s->rate_limit, now);
        if (left > 0) {
            refuse(c, id, cg_connect_rate_limited(left), 1008);
            return false;
        }
    }
    bool mismatch;
    json_t *denied = cg_connect_authenticate(&facts, params, s, &mismatch);
    if (denied) {
        if (mismatch && limited)
            cg_rate_limiter_fail(gw->rate_limiter, c->client_ip, &s->rate_limit, now);
        refuse(c, id, denied, 1008);
        return false;
    }
    if (limited) cg_rate_limiter_reset(gw->rate_limiter, c->client_ip);
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
static void admit(cg_conn *c, const char *id, const json_t *params, int protocol, unsigned role,
                  unsigned scopes)
{
    cg_gateway *gw = c->gw;
    const cg_settings *s = gw->settings;
    c->protocol = protocol;
    c->role = role;
    c->scopes = scopes;
    c->params = json_deep_copy(params);
    json_object_del(c->params, "auth");
    c->connected_at_ms = cg_now_ms();
    cg_uuid4(c->conn_id);
    const cg_limits *l = &s->limits;
    cg_ws_set_limits(c->ws, (uint64_t)l->max_payload_bytes, (uint64_t)l->max_buffered_bytes);
    cg_clients_authenticated(c);

    json_t *methods = method_names(), *events = cg_gateway_event_names();
    /* Presence is for operators who may read it; others get [] (as the real gateway). */
    json_t *health = cg_gateway_health_snapshot(gw),
           *presence = cg_scope_granted(role, scopes, CG_SCOPE_READ) && role == CG_ROLE_OPERATOR
                           ? cg_gateway_presence(gw)
                           : json_array();
    cg_hello_inputs in = {.protocol = protocol,
                          .conn_id = c->conn_id,
                          .methods = methods,
                          .events = events,
                          .health = health,
                          .presence = presence,
                          .presence_version = cg_gateway_presence_version(gw),
                          .health_version = gw->health_version,
                          .uptime_ms = cg_gateway_uptime_ms(gw),
                          .role = role,
                          .scopes = scopes,
                          .max_payload_bytes = l->max_payload_bytes,
                          .max_buffered_bytes = l->max_buffered_bytes,
                          .tick_interval_ms = s->tick_interval_ms};
    json_t *hello = cg_hello_ok(&in);
    json_decref(methods);
    json_decref(events);
    json_decref(health);
    json_decref(presence);
    char *payload = json_dumps(hello, JSON_COMPACT);
    json_decref(hello);
    cg_conn_send_ok(c, id, payload, strlen(payload));
    free(payload);
    c->connected = c->registered; /* events flow from here on, unless it closed meanwhile */
    cg_log(CG_LOG_INFO, "gateway", "client connected",
           json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:i, s:o}", "connId", c->conn_id, "ip",
                     c->client_ip, "client", cg_conn_client_id(c), "mode", cg_conn_client_mode(c),
                     "role", role == CG_ROLE_NODE ? "node" : "operator", "protocol", protocol,
                     "scopes", cg_scope_names(scopes)));
}

void cg_connect_message(cg_conn *c, json_t *msg)
{
    const cg_settings *s = c->gw->settings;
    const char *id = NULL;
    json_t *params = NULL, *error;
    int protocol = 0;
    unsigned role = 0, scopes = 0;
    if ((error = cg_connect_check_frame(msg, &id, &params))) {
        refuse(c, id, error, 1008);
    } else if ((error = cg_connect_negotiate(params, &protocol))) {
        refuse(c, id, error, 1002);
    } else if ((error = cg_connect_check_params(params, protocol)) ||
               (error = cg_connect_check_origin(c->origin, c->host, s))) {
        refuse(c, id, error, 1008);
    } else if (!authenticate(c, id, params)) {
        return;
    } else if ((error = cg_connect_role(params, &role, &scopes))) {
        refuse(c, id, error, 1008);
    } else {
        admit(c, id, params, protocol, role, scopes);
    }
}
