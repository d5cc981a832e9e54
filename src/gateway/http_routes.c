/* The HTTP side of the gateway: the route table and a connection's HTTP phase.
 *
 * A route is (path, methods, auth, handler). A request is matched by exact path:
 * none matches -> 404; the path matches but not the method -> 405 with Allow; the
 * route wants the gateway credential and the request lacks it -> 401. HEAD is served
 * wherever GET is, without the body. Connections are kept alive as HTTP/1.1 says
 * (Connection: close or HTTP/1.0 without keep-alive ends them after the response), and
 * pipelined requests are answered in order. Bodies are bounded by
 * gateway.limits.httpBodyBytes (413), request heads by preauthMaxBytes (431); a
 * malformed request gets 400. Those three close the connection after the answer, with
 * the stream's lingering close so the answer is read even while the peer still sends.
 * A client that pipelines requests without reading the answers is not read further
 * while the kernel does not take our bytes (cg_stream_writable): its requests wait in
 * its socket, and the idle timeout ends it.
 *
 * Only `Upgrade: websocket` is an upgrade; another Upgrade header (h2c, say) is
 * ignored, as RFC 9110 allows, and the request routed. The WebSocket upgrade is the
 * route for GET / with Upgrade: websocket; it is refused
 * with 503 while shutting down or when gateway.limits.maxConnections upgraded
 * connections are open, and with 429 when one address holds too many unauthenticated
 * connections. On the Tailscale ingress (gateway/tailscale_serve.c) an upgrade that
 * Tailscale's proxy did not send gets 403. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway_int.h"

#define METHOD(m) (1u << (m))
#define GET_HEAD (METHOD(HTTP_GET) | METHOD(HTTP_HEAD))

typedef enum {
    CG_HTTP_AUTH_NONE,    /* open: probes */
    CG_HTTP_AUTH_GATEWAY, /* Authorization: Bearer <gateway token or password> */
} cg_http_auth;

typedef struct cg_http_exchange {
    cg_conn *conn;
    const cg_http_request *req;
} cg_http_exchange;

typedef struct cg_http_route {
    const char *path;
    unsigned methods; /* METHOD() bits */
    cg_http_auth auth;
    void (*handler)(cg_http_exchange *x);
} cg_http_route;

static uint64_t mono_ms(void)
{
    return cg_mono_ns() / 1000000u;
}

/* Writes a response; closes gracefully after it unless the request keeps the
 * connection alive and `keep` allows. */
static void respond(cg_conn *c, const cg_http_request *req, int status, const char *content_type,
                    const char *headers, const char *body, bool keep)
{
    bool keep_alive = keep && req && req->keep_alive && !c->gw->shutting_down;
    cg_http_response r = {.status = status,
                          .content_type = content_type,
                          .headers = headers,
                          .body = body,
                          .body_len = body ? strlen(body) : 0,
                          .head_only = req && req->method == HTTP_HEAD,
                          .keep_alive = keep_alive};
    cg_http_respond(&c->stream, &r);
    if (!keep_alive) cg_stream_close_graceful(&c->stream);
}

static void respond_text(cg_conn *c, const cg_http_request *req, int status, const char *headers,
                         const char *body)
{
    respond(c, req, status, "text/plain; charset=utf-8", headers, body, true);
}

static void respond_json(cg_conn *c, const cg_http_request *req, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    respond(c, req, status, "application/json; charset=utf-8", "Cache-Control: no-store\r\n", text,
            true);
    free(text);
}

static void serve_healthz(cg_http_exchange *x)
{
    respond_json(x->conn, x->req, 200, json_pack("{s:b, s:s}", "ok", 1, "status", "live"));
}

static void serve_readyz(cg_http_exchange *x)
{
    int status = 200;
    json_t *body = cg_gateway_readiness(x->conn->gw, &status);
    respond_json(x->conn, x->req, status, body);
}

/* GET / without an upgrade: nothing is served there yet (the Control UI will be). */
static void serve_root(cg_http_exchange *x)
{
    respond_text(x->conn, x->req, 426, "Upgrade: websocket\r\n",
                 "this is the OpenClaw gateway: connect with a WebSocket client\n");
}

static const cg_http_route routes[] = {
    {"/healthz", GET_HEAD, CG_HTTP_AUTH_NONE, serve_healthz},
    {"/readyz", GET_HEAD, CG_HTTP_AUTH_NONE, serve_readyz},
    {"/", GET_HEAD, CG_HTTP_AUTH_NONE, serve_root},
};

/* "GET, HEAD" for the Allow header. */
static void allow_header(unsigned methods, char *out, size_t len)
{
    size_t used = (size_t)snprintf(out, len, "Allow: ");
    bool first = true;
    for (unsigned m = 0; m < 32 && used < len; m++) {
        if (!(methods & METHOD(m))) continue;
        used += (size_t)snprintf(out + used, len - used, "%s%s", first ? "" : ", ",
                                 http_method_str((enum http_method)m));
        first = false;
    }
    if (used < len) snprintf(out + used, len - used, "\r\n");
}

/* On the Tailscale ingress: keeps the headers its checks read and makes the client
 * Tailscale names the connection's client address; answers 403 when Tailscale's proxy
 * did not send the request (it names no client), as OpenClaw answers proxy traffic it
 * cannot attribute. */
static bool tailscale_attributed(cg_conn *c, const cg_http_request *req)
{
    c->forwarded_proto = cg_strdup(cg_http_request_header(req, "x-forwarded-proto"));
    c->forwarded_host = cg_strdup(cg_http_request_header(req, "x-forwarded-host"));
    c->ts_user_login = cg_strdup(cg_http_request_header(req, "tailscale-user-login"));
    c->ts_funnel_request = cg_strdup(cg_http_request_header(req, "tailscale-funnel-request"));
    cg_tailscale_headers h;
    cg_conn_tailscale_headers(c, &h);
    if (cg_tailscale_client_ip(&h, c->client_ip, sizeof c->client_ip)) return true;
    cg_log(CG_LOG_WARN, "tailscale", "refused a request on the tailscale port that names no client",
           json_pack("{s:s}", "peer", c->stream.peer_ip));
    respond(c, NULL, 403, "application/json; charset=utf-8", NULL,
            "{\"error\":{\"message\":\"Proxy client attribution is required. This port takes "
            "requests proxied by tailscale serve or funnel only.\",\"type\":"
            "\"proxy_attribution_required\"}}",
            false);
    return false;
}

static void upgrade(cg_conn *c, const cg_http_request *req)
{
    cg_gateway *gw = c->gw;
    const char *key = cg_http_request_header(req, "sec-websocket-key");
    const char *version = cg_http_request_header(req, "sec-websocket-version");
    char accept[29];
    if (req->method != HTTP_GET || strcmp(req->path, "/") != 0) {
        respond_text(c, NULL, 404, NULL, "not found\n");
        return;
    }
    /* The caller saw Upgrade: websocket; the rest of RFC 6455's request must be there. */
    if (!cg_http_header_has_token(cg_http_request_header(req, "connection"), "upgrade") ||
        !version || strcmp(version, "13") != 0 || !key || !cg_ws_accept_key(key, accept)) {
        respond_text(c, NULL, 400, "Sec-WebSocket-Version: 13\r\n", "invalid websocket upgrade\n");
        return;
    }
    if (gw->shutting_down) {
        respond_text(c, NULL, 503, "Retry-After: 2\r\n", "shutting down\n");
        return;
    }
    int64_t max_conns = gw->settings->limits.max_connections;
    if ((int64_t)gw->n_ws >= max_conns) {
        char body[160];
        snprintf(body, sizeof body,
                 "too many connections: gateway.limits.maxConnections (%lld) are open\n",
                 (long long)max_conns);
        cg_log(CG_LOG_WARN, "http", "connection limit reached",
               json_pack("{s:s, s:I}", "ip", c->stream.peer_ip, "maxConnections",
                         (json_int_t)max_conns));
        respond_text(c, NULL, 503, "Retry-After: 5\r\n", body);
        return;
    }
    c->host = cg_strdup(cg_http_request_header(req, "host"));
    c->origin = cg_strdup(cg_http_request_header(req, "origin"));
    c->forwarded_for = cg_strdup(cg_http_request_header(req, "x-forwarded-for"));
    c->real_ip = cg_strdup(cg_http_request_header(req, "x-real-ip"));
    if (c->ingress != CG_INGRESS_DIRECT && !tailscale_attributed(c, req)) return;
    /* Per client: the peer, or on the Tailscale port the client Tailscale named. */
    if (!cg_addr_is_loopback(c->client_ip) && cg_gateway_preauth_count(gw, c->client_ip) >
                                                  (size_t)gw->settings->limits.max_preauth_per_ip) {
        cg_log(CG_LOG_WARN, "http", "too many unauthenticated connections",
               json_pack("{s:s}", "ip", c->client_ip));
        respond_text(c, NULL, 429, "Retry-After: 5\r\n", "too many unauthenticated connections\n");
        return;
    }
    char headers[160];
    snprintf(headers, sizeof headers,
             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", accept);
    cg_http_respond_switching(&c->stream, headers);
}

static bool authorized(const cg_conn *c, const cg_http_request *req, cg_http_auth auth)
{
    if (auth == CG_HTTP_AUTH_NONE) return true;
    return cg_http_bearer_ok(cg_http_request_header(req, "authorization"), c->gw->settings);
}

static void route(cg_conn *c, const cg_http_request *req)
{
    const cg_http_route *found = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !found; i++)
        if (strcmp(routes[i].path, req->path) == 0) found = &routes[i];
    if (!found) {
        respond_text(c, req, 404, NULL, "not found\n");
        return;
    }
    if (!(found->methods & METHOD(req->method))) {
        char allow[128];
        allow_header(found->methods, allow, sizeof allow);
        respond_text(c, req, 405, allow, "method not allowed\n");
        return;
    }
    if (!authorized(c, req, found->auth)) {
        respond(c, req, 401, "application/json; charset=utf-8", "WWW-Authenticate: Bearer\r\n",
                "{\"ok\":false,\"error\":\"Unauthorized\"}", true);
        return;
    }
    cg_http_exchange x = {.conn = c, .req = req};
    found->handler(&x);
}

size_t cg_http_conn_feed(cg_conn *c, const uint8_t *data, size_t len)
{
    const cg_limits *l = &c->gw->settings->limits;
    if (!c->http) {
        c->http = cg_xmalloc(sizeof *c->http);
        cg_http_parser_init(c->http, (size_t)l->preauth_max_bytes, (size_t)l->http_body_bytes);
    }
    size_t total = 0;
    while (total < len && c->phase == CG_PHASE_HTTP && cg_stream_is_open(&c->stream)) {
        /* Answers the peer has not read yet: read on once they are out (on_drain). */
        if (!cg_stream_writable(&c->stream)) break;
        size_t used;
        cg_http_result r = cg_http_parser_feed(c->http, data + total, len - total, &used);
        total += used;
        if (r == CG_HTTP_NEED_MORE) break;
        if (r == CG_HTTP_BAD) {
            int status = c->http->error_status;
            respond_text(c, NULL, status, NULL,
                         status == 413   ? "request body too large\n"
                         : status == 431 ? "request header fields too large\n"
                                         : "bad request\n");
            return len;
        }
        const cg_http_request *req = &c->http->request;
        if (req->upgrade &&
            cg_http_header_has_token(cg_http_request_header(req, "upgrade"), "websocket")) {
            upgrade(c, req);
            cg_http_conn_free(c);
            if (!cg_stream_is_open(&c->stream)) return len;
            return total + cg_conn_upgraded(c, data + total, len - total);
        }
        route(c, req);
        cg_http_parser_next(c->http);
        c->last_active_ms = mono_ms();
    }
    return cg_stream_is_open(&c->stream) ? total : len;
}

void cg_http_conn_free(cg_conn *c)
{
    if (!c->http) return;
    cg_http_parser_free(c->http);
    free(c->http);
    c->http = NULL;
}
