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
 * GET / without an upgrade is a module's when one serves it (the Control UI, by its
 * prefix route on its base path), else 426 naming the WebSocket.
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

/* The gateway's own routes: answered at once. */
typedef struct own_route {
    const char *path;
    unsigned methods; /* METHOD() bits */
    void (*handler)(cg_conn *c, const cg_http_request *req);
    bool yields; /* a module's route for the same path (the Control UI's) comes first */
} own_route;

/* An exchange (gateway.h): the request stays in the connection's parser until the
 * exchange ends, which is why nothing else is parsed meanwhile. */
typedef enum {
    X_OPEN,      /* not answered yet */
    X_STREAMING, /* the head is out, chunks follow */
    X_ENDED,     /* ended before its answer (on_close is running): writes do nothing */
} x_state;

struct cg_http_exchange {
    cg_conn *conn; /* holds a reference */
    const cg_http_request *req;
    x_state state;
    bool head_only;
    bool keep_alive;
    uint64_t deadline_ms;
    cg_http_exchange_fn on_close, on_drain;
    void *data;
};

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

static void serve_healthz(cg_conn *c, const cg_http_request *req)
{
    respond_json(c, req, 200, json_pack("{s:b, s:s}", "ok", 1, "status", "live"));
}

static void serve_readyz(cg_conn *c, const cg_http_request *req)
{
    int status = 200;
    json_t *body = cg_gateway_readiness(c->gw, &status);
    respond_json(c, req, status, body);
}

/* GET / without an upgrade when no module serves it (the Control UI disabled). */
static void serve_root(cg_conn *c, const cg_http_request *req)
{
    respond_text(c, req, 426, "Upgrade: websocket\r\n",
                 "this is the OpenClaw gateway: connect with a WebSocket client\n");
}

static const own_route own_routes[] = {
    {"/healthz", GET_HEAD, serve_healthz, false},
    {"/readyz", GET_HEAD, serve_readyz, false},
    {"/", GET_HEAD, serve_root, true},
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

/* ---- modules' routes ---- */

int cg_gateway_add_http_route(cg_gateway *gw, const cg_http_route_spec *spec)
{
    if (gw->n_http_routes >= CG_HTTP_MAX_ROUTES || !spec->path || spec->path[0] != '/' ||
        !spec->handler)
        return -1;
    for (size_t i = 0; i < gw->n_http_routes; i++)
        if (!strcmp(gw->http_routes[i].path, spec->path)) return -1;
    cg_http_route_spec *r = &gw->http_routes[gw->n_http_routes++];
    *r = *spec;
    r->path = cg_strdup(spec->path);
    if (r->timeout_ms <= 0) r->timeout_ms = CG_HTTP_EXCHANGE_TIMEOUT_MS;
    return 0;
}

void cg_http_routes_free(cg_gateway *gw)
{
    for (size_t i = 0; i < gw->n_http_routes; i++)
        free((char *)gw->http_routes[i].path);
    gw->n_http_routes = 0;
}

/* A route's CG_HTTP_* bits as http-parser METHOD() bits (GET brings HEAD). */
static unsigned parser_methods(unsigned bits)
{
    unsigned m = 0;
    if (bits & CG_HTTP_GET) m |= GET_HEAD;
    if (bits & CG_HTTP_POST) m |= METHOD(HTTP_POST);
    if (bits & CG_HTTP_PUT) m |= METHOD(HTTP_PUT);
    if (bits & CG_HTTP_DELETE) m |= METHOD(HTTP_DELETE);
    if (bits & CG_HTTP_PATCH) m |= METHOD(HTTP_PATCH);
    return m;
}

static const cg_http_route_spec *module_route(cg_gateway *gw, const char *path)
{
    const cg_http_route_spec *best = NULL;
    for (size_t i = 0; i < gw->n_http_routes; i++) {
        const cg_http_route_spec *r = &gw->http_routes[i];
        bool match = r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path);
        if (!match || (r->enabled && !r->enabled(gw, r->data))) continue;
        if (!r->prefix) return r; /* an exact path wins over a prefix */
        if (!best || strlen(r->path) > strlen(best->path)) best = r;
    }
    return best;
}

static void respond_error_json(cg_conn *c, const cg_http_request *req, int status,
                               const char *headers, const char *message, const char *type)
{
    json_t *body = json_pack("{s:{s:s, s:s}}", "error", "message", message, "type", type);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char all[256];
    snprintf(all, sizeof all, "Cache-Control: no-store\r\n%s", headers ? headers : "");
    respond(c, req, status, "application/json; charset=utf-8", all, text, true);
    free(text);
}

/* The gateway credential as a bearer; a wrong one counts toward the auth rate limit of
 * the client's address (loopback exempt as for connects). false: answered. */
static bool authorized(cg_conn *c, const cg_http_request *req)
{
    cg_gateway *gw = c->gw;
    const cg_settings *s = gw->settings;
    if (s->auth_mode == CG_AUTH_NONE) return true;
    bool limited = !(cg_addr_is_loopback(c->client_ip) && s->rate_limit.exempt_loopback);
    int64_t now = cg_now_ms();
    if (limited) {
        int64_t left = cg_rate_limiter_check(gw->rate_limiter, c->client_ip, &s->rate_limit, now);
        if (left > 0) {
            char retry[64];
            snprintf(retry, sizeof retry, "Retry-After: %lld\r\n",
                     (long long)((left + 999) / 1000));
            respond_error_json(c, req, 429, retry,
                               "Too many failed authentication attempts. Please try again later.",
                               "rate_limited");
            return false;
        }
    }
    const char *authorization = cg_http_request_header(req, "authorization");
    if (cg_http_bearer_ok(authorization, s)) {
        if (limited) cg_rate_limiter_reset(gw->rate_limiter, c->client_ip);
        return true;
    }
    if (limited && authorization)
        cg_rate_limiter_fail(gw->rate_limiter, c->client_ip, &s->rate_limit, now);
    respond_error_json(c, req, 401, "WWW-Authenticate: Bearer\r\n", "Unauthorized", "unauthorized");
    return false;
}

/* ---- exchanges ---- */

/* The exchange is over (answered, or ended before its answer): the connection goes on
 * with the next request, or closes. */
static void exchange_finish(cg_http_exchange *x, bool keep_alive)
{
    cg_conn *c = x->conn;
    if (c->exchange == x) c->exchange = NULL;
    free(x);
    c->last_active_ms = mono_ms();
    if (!keep_alive) {
        cg_stream_close_graceful(&c->stream);
    } else if (!c->http_feeding && c->phase == CG_PHASE_HTTP && cg_stream_is_open(&c->stream)) {
        /* Answered later: the parser may read the next request now. (Answered during
         * its handler, the feeding loop goes on by itself.) */
        cg_http_parser_next(c->http);
        cg_stream_resume(&c->stream);
    }
    cg_conn_unref(c);
}

/* Ends x before its answer: on_close, then nothing more is sent through x. */
static void exchange_tell_closed(cg_http_exchange *x)
{
    x->state = X_ENDED;
    if (x->on_close) x->on_close(x, x->data);
}

static bool exchange_live(const cg_http_exchange *x)
{
    return x && x->state != X_ENDED;
}

static void start_exchange(cg_conn *c, const cg_http_request *req, const cg_http_route_spec *r)
{
    cg_http_exchange *x = cg_xcalloc(1, sizeof *x);
    x->conn = c;
    x->req = req;
    x->state = X_OPEN;
    x->head_only = req->method == HTTP_HEAD;
    x->keep_alive = req->keep_alive;
    x->deadline_ms = mono_ms() + (uint64_t)r->timeout_ms;
    cg_conn_ref(c);
    c->exchange = x;
    r->handler(x, r->data);
}

void cg_http_exchange_conn_closed(cg_conn *c)
{
    cg_http_exchange *x = c->exchange;
    if (!x) return;
    c->exchange = NULL;
    exchange_tell_closed(x);
    free(x);
    cg_conn_unref(c);
}

void cg_http_exchange_drained(cg_conn *c)
{
    cg_http_exchange *x = c->exchange;
    if (exchange_live(x) && x->state == X_STREAMING && x->on_drain) x->on_drain(x, x->data);
}

/* Ends an exchange now: one not answered gets status, a streamed one is cut. */
static void exchange_end_now(cg_conn *c, int status, const char *message, const char *type)
{
    cg_http_exchange *x = c->exchange;
    bool answered = x->state == X_STREAMING;
    exchange_tell_closed(x);
    if (!answered && cg_stream_is_open(&c->stream)) {
        json_t *body = json_pack("{s:{s:s, s:s}}", "error", "message", message, "type", type);
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        cg_http_response r = {.status = status,
                              .content_type = "application/json; charset=utf-8",
                              .headers = "Cache-Control: no-store\r\n",
                              .body = text,
                              .body_len = strlen(text),
                              .head_only = x->head_only,
                              .keep_alive = false};
        cg_http_respond(&c->stream, &r);
        free(text);
    }
    exchange_finish(x, false);
}

void cg_http_exchange_sweep(cg_conn *c, uint64_t now_ms)
{
    cg_http_exchange *x = c->exchange;
    if (!x || x->state == X_ENDED || now_ms < x->deadline_ms) return;
    cg_log(CG_LOG_WARN, "http", "an HTTP request was not answered in time",
           json_pack("{s:s, s:s}", "path", x->req->path, "ip", c->client_ip));
    exchange_end_now(c, 504, "the gateway did not answer in time", "timeout");
}

void cg_http_exchange_shutdown(cg_conn *c)
{
    if (exchange_live(c->exchange))
        exchange_end_now(c, 503, "the gateway is shutting down", "unavailable");
}

cg_gateway *cg_http_exchange_gateway(const cg_http_exchange *x)
{
    return x->conn->gw;
}

const char *cg_http_exchange_method(const cg_http_exchange *x)
{
    return http_method_str((enum http_method)x->req->method);
}

const char *cg_http_exchange_path(const cg_http_exchange *x)
{
    return x->req->path;
}

const char *cg_http_exchange_query(const cg_http_exchange *x)
{
    return x->req->query;
}

const char *cg_http_exchange_header(const cg_http_exchange *x, const char *lowercase_name)
{
    return cg_http_request_header(x->req, lowercase_name);
}

const char *cg_http_exchange_body(const cg_http_exchange *x, size_t *len)
{
    *len = x->req->body.len;
    return x->req->body.len ? x->req->body.data : "";
}

const char *cg_http_exchange_client_ip(const cg_http_exchange *x)
{
    return x->conn->client_ip;
}

void cg_http_exchange_on_close(cg_http_exchange *x, cg_http_exchange_fn on_close,
                               cg_http_exchange_fn on_drain, void *data)
{
    x->on_close = on_close;
    x->on_drain = on_drain;
    x->data = data;
}

void cg_http_exchange_set_timeout(cg_http_exchange *x, int64_t timeout_ms)
{
    x->deadline_ms = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
}

/* Keep-alive after this answer. */
static bool exchange_keep(const cg_http_exchange *x)
{
    return x->keep_alive && !x->conn->gw->shutting_down;
}

void cg_http_exchange_respond(cg_http_exchange *x, int status, const char *content_type,
                              const char *headers, const void *body, size_t len)
{
    if (!exchange_live(x) || x->state != X_OPEN) return;
    cg_conn *c = x->conn;
    bool keep = exchange_keep(x);
    cg_http_response r = {.status = status,
                          .content_type = content_type,
                          .headers = headers,
                          .body = body,
                          .body_len = len,
                          .head_only = x->head_only,
                          .keep_alive = keep};
    if (cg_stream_is_open(&c->stream)) cg_http_respond(&c->stream, &r);
    exchange_finish(x, keep);
}

void cg_http_exchange_respond_json(cg_http_exchange *x, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    cg_http_exchange_respond(x, status, "application/json; charset=utf-8",
                             "Cache-Control: no-store\r\n", text, text ? strlen(text) : 0);
    free(text);
}

void cg_http_exchange_stream_begin(cg_http_exchange *x, int status, const char *content_type,
                                   const char *headers)
{
    if (!exchange_live(x) || x->state != X_OPEN) return;
    x->state = X_STREAMING;
    cg_conn *c = x->conn;
    if (cg_stream_is_open(&c->stream))
        cg_http_stream_begin(&c->stream, status, content_type, headers, exchange_keep(x));
}

/* Whether a streamed answer can take more; cuts a client that lets too much wait. */
static bool stream_ok(cg_http_exchange *x)
{
    if (!exchange_live(x) || x->state != X_STREAMING) return false;
    cg_conn *c = x->conn;
    if (!cg_stream_is_open(&c->stream)) return false;
    if (cg_stream_buffered(&c->stream) > (size_t)c->gw->settings->limits.max_buffered_bytes) {
        cg_log(CG_LOG_WARN, "http", "a streamed HTTP answer is not read: connection cut",
               json_pack("{s:s, s:s}", "path", x->req->path, "ip", c->client_ip));
        cg_stream_close(&c->stream);
        return false;
    }
    return true;
}

bool cg_http_exchange_stream_write(cg_http_exchange *x, const void *data, size_t len)
{
    if (!stream_ok(x)) return false;
    if (!x->head_only) cg_http_stream_chunk(&x->conn->stream, data, len);
    return true;
}

bool cg_http_exchange_stream_sse(cg_http_exchange *x, const char *event, const char *data,
                                 size_t len)
{
    if (!stream_ok(x)) return false;
    if (!x->head_only) cg_http_stream_sse(&x->conn->stream, event, data, len);
    return true;
}

bool cg_http_exchange_writable(cg_http_exchange *x)
{
    return stream_ok(x) && cg_stream_writable(&x->conn->stream);
}

void cg_http_exchange_stream_end(cg_http_exchange *x)
{
    if (!exchange_live(x)) return;
    if (x->state == X_OPEN) cg_http_exchange_stream_begin(x, 200, NULL, NULL);
    cg_conn *c = x->conn;
    bool keep = exchange_keep(x);
    if (cg_stream_is_open(&c->stream) && !x->head_only) cg_http_stream_end(&c->stream);
    exchange_finish(x, keep);
}

/* ---- routing ---- */

static void route(cg_conn *c, const cg_http_request *req)
{
    const own_route *own = NULL;
    for (size_t i = 0; i < sizeof own_routes / sizeof own_routes[0] && !own; i++)
        if (strcmp(own_routes[i].path, req->path) == 0) own = &own_routes[i];
    const cg_http_route_spec *mod = own && !own->yields ? NULL : module_route(c->gw, req->path);
    if (mod) own = NULL;
    if (!own && !mod) {
        respond_text(c, req, 404, NULL, "not found\n");
        return;
    }
    unsigned methods = own ? own->methods : parser_methods(mod->methods);
    if (!(methods & METHOD(req->method))) {
        char allow[128];
        allow_header(methods, allow, sizeof allow);
        respond_text(c, req, 405, allow, "method not allowed\n");
        return;
    }
    if (own) {
        own->handler(c, req);
        return;
    }
    if (mod->auth == CG_HTTP_AUTH_GATEWAY && !authorized(c, req)) return;
    start_exchange(c, req, mod);
}

size_t cg_http_conn_feed(cg_conn *c, const uint8_t *data, size_t len)
{
    const cg_limits *l = &c->gw->settings->limits;
    if (!c->http) {
        c->http = cg_xmalloc(sizeof *c->http);
        cg_http_parser_init(c->http, (size_t)l->preauth_max_bytes, (size_t)l->http_body_bytes);
    }
    if (c->exchange) { /* not expected: the stream holds input while one is open */
        cg_stream_hold(&c->stream, (size_t)l->preauth_max_bytes);
        return 0;
    }
    size_t total = 0;
    c->http_feeding = true;
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
            c->http_feeding = false;
            return len;
        }
        const cg_http_request *req = &c->http->request;
        if (req->upgrade &&
            cg_http_header_has_token(cg_http_request_header(req, "upgrade"), "websocket")) {
            c->http_feeding = false;
            upgrade(c, req);
            cg_http_conn_free(c);
            if (!cg_stream_is_open(&c->stream)) return len;
            return total + cg_conn_upgraded(c, data + total, len - total);
        }
        route(c, req);
        c->last_active_ms = mono_ms();
        if (c->exchange) {
            /* Answered later: what follows waits, while the stream reads on. */
            cg_stream_hold(&c->stream, (size_t)l->preauth_max_bytes);
            break;
        }
        cg_http_parser_next(c->http);
    }
    c->http_feeding = false;
    return cg_stream_is_open(&c->stream) ? total : len;
}

void cg_http_conn_free(cg_conn *c)
{
    if (!c->http) return;
    cg_http_parser_free(c->http);
    free(c->http);
    c->http = NULL;
}
