/* The HTTP phase of a connection: http-parser reads one request. GET /healthz and
 * /readyz are answered (then the socket closes); a valid WebSocket upgrade on `/` gets
 * 101 and the connection moves to net/ws.c, with any bytes after the headers handed
 * to it. Everything else gets a plain error status. Header bytes are bounded by
 * preauthMaxBytes; every response carries the security headers. */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "common/log.h"
#include "gateway/gateway_int.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define SECURITY_HEADERS                                                                           \
    "X-Frame-Options: DENY\r\n"                                                                    \
    "X-Content-Type-Options: nosniff\r\n"                                                          \
    "Content-Security-Policy: default-src 'self'\r\n"                                              \
    "Referrer-Policy: no-referrer\r\n"

enum {
    H_NONE,
    H_HOST,
    H_ORIGIN,
    H_UPGRADE,
    H_CONNECTION,
    H_KEY,
    H_VERSION,
    H_FORWARDED_FOR,
    H_REAL_IP,
    H_OTHER
};

typedef struct cg_http_state {
    http_parser parser;
    size_t total;
    cg_buf url;
    cg_buf field;
    int current; /* which header the value bytes belong to */
    bool in_value;
    cg_buf values[H_OTHER];
    bool seen[H_OTHER];
    bool message_done;
} cg_http_state;

static int header_id(const cg_buf *f)
{
    static const struct {
        const char *name;
        int id;
    } known[] = {
        {"host", H_HOST},
        {"origin", H_ORIGIN},
        {"upgrade", H_UPGRADE},
        {"connection", H_CONNECTION},
        {"sec-websocket-key", H_KEY},
        {"sec-websocket-version", H_VERSION},
        {"x-forwarded-for", H_FORWARDED_FOR},
        {"x-real-ip", H_REAL_IP},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (f->len == strlen(known[i].name) && strncasecmp(f->data, known[i].name, f->len) == 0)
            return known[i].id;
    return H_OTHER;
}

static cg_http_state *state_of(http_parser *p)
{
    return (cg_http_state *)p; /* parser is the first member */
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    cg_buf_append(&state_of(p)->url, at, len);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    cg_http_state *h = state_of(p);
    if (h->in_value) {
        h->in_value = false;
        h->field.len = 0;
    }
    cg_buf_append(&h->field, at, len);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    cg_http_state *h = state_of(p);
    if (!h->in_value) {
        h->in_value = true;
        h->current = header_id(&h->field);
        if (h->current != H_OTHER) {
            /* A repeated header is joined as HTTP says: "a, b". */
            if (h->seen[h->current]) cg_buf_append(&h->values[h->current], ", ", 2);
            h->seen[h->current] = true;
        }
    }
    if (h->current != H_OTHER) cg_buf_append(&h->values[h->current], at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    /* One request per connection: stop here, a pipelined second one is not read. */
    state_of(p)->message_done = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_message_complete = on_message_complete,
};

void cg_http_begin(cg_conn *c)
{
    c->http = cg_xcalloc(1, sizeof *c->http);
    http_parser_init(&c->http->parser, HTTP_REQUEST);
}

void cg_http_free(cg_conn *c)
{
    cg_http_state *h = c->http;
    if (!h) return;
    cg_buf_reset(&h->url);
    cg_buf_reset(&h->field);
    for (int i = 0; i < H_OTHER; i++)
        cg_buf_reset(&h->values[i]);
    free(h);
    c->http = NULL;
}

static void respond(cg_conn *c, int status, const char *reason, const char *extra_headers,
                    const char *content_type, const char *body)
{
    char head[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\n" SECURITY_HEADERS
                     "Content-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, reason, content_type, blen, extra_headers ? extra_headers : "");
    cg_conn_write(c, head, (size_t)n);
    if (blen) cg_conn_write(c, body, blen);
    cg_conn_close_after_flush(c);
}

static void respond_json(cg_conn *c, int status, const char *reason, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    respond(c, status, reason, NULL, "application/json; charset=utf-8", text);
    free(text);
    json_decref(body);
}

static bool has_token(const cg_buf *v, const char *token)
{
    /* Comma-separated, case-insensitive list membership ("keep-alive, Upgrade"). */
    if (!v->data) return false;
    size_t tl = strlen(token);
    const char *s = v->data;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == tl && strncasecmp(s, token, tl) == 0) return true;
        s = e;
    }
    return false;
}

static bool websocket_accept(const char *key, char out[29])
{
    unsigned char decoded[32];
    size_t klen = strlen(key);
    if (klen != 24) return false;
    if (EVP_DecodeBlock(decoded, (const unsigned char *)key, (int)klen) != 18) return false;
    char concat[64];
    snprintf(concat, sizeof concat, "%s%s", key, WS_GUID);
    unsigned char digest[20];
    unsigned int dlen = 0;
    EVP_Digest(concat, strlen(concat), digest, &dlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
    return true;
}

static void upgrade(cg_conn *c, const uint8_t *rest, size_t rest_len)
{
    cg_http_state *h = c->http;
    cg_gateway *gw = c->gw;
    const char *path = h->url.data ? h->url.data : "";
    size_t plen = strcspn(path, "?");
    if (h->parser.method != HTTP_GET || plen != 1 || path[0] != '/') {
        respond(c, 404, "Not Found", NULL, "text/plain; charset=utf-8", "not found\n");
        return;
    }
    char accept[29];
    if (!has_token(&h->values[H_UPGRADE], "websocket") ||
        !has_token(&h->values[H_CONNECTION], "upgrade") || !h->values[H_VERSION].data ||
        strcmp(h->values[H_VERSION].data, "13") != 0 || !h->values[H_KEY].data ||
        !websocket_accept(h->values[H_KEY].data, accept)) {
        respond(c, 400, "Bad Request", "Sec-WebSocket-Version: 13\r\n", "text/plain; charset=utf-8",
                "invalid websocket upgrade\n");
        return;
    }
    if (gw->shutting_down) {
        respond(c, 503, "Service Unavailable", "Retry-After: 2\r\n", "text/plain; charset=utf-8",
                "shutting down\n");
        return;
    }
    if (!c->peer_loopback && cg_gateway_preauth_count(gw, c->peer_ip) >
                                 (size_t)gw->settings->limits.max_preauth_per_ip) {
        cg_log(CG_LOG_WARN, "http", "too many unauthenticated connections",
               json_pack("{s:s}", "ip", c->peer_ip));
        respond(c, 429, "Too Many Requests", "Retry-After: 5\r\n", "text/plain; charset=utf-8",
                "too many unauthenticated connections\n");
        return;
    }
    c->host = cg_strdup(h->values[H_HOST].data);
    c->origin = cg_strdup(h->values[H_ORIGIN].data);
    c->forwarded_for = cg_strdup(h->values[H_FORWARDED_FOR].data);
    c->real_ip = cg_strdup(h->values[H_REAL_IP].data);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n" SECURITY_HEADERS "\r\n",
                     accept);
    cg_conn_write(c, head, (size_t)n);
    cg_http_free(c);
    if (cg_ws_begin(c) != 0) {
        cg_conn_close(c);
        return;
    }
    cg_handshake_start(c);
    if (rest_len > 0) cg_conn_feed(c, rest, rest_len);
}

static void serve(cg_conn *c)
{
    cg_http_state *h = c->http;
    const char *path = h->url.data ? h->url.data : "";
    size_t plen = strcspn(path, "?");
    bool get = h->parser.method == HTTP_GET || h->parser.method == HTTP_HEAD;
    if (get && plen == 8 && strncmp(path, "/healthz", 8) == 0) {
        respond_json(c, 200, "OK", json_pack("{s:b, s:s}", "ok", 1, "status", "live"));
    } else if (get && plen == 7 && strncmp(path, "/readyz", 7) == 0) {
        int status = 200;
        json_t *body = cg_gateway_readiness(c->gw, &status);
        respond_json(c, status, status == 200 ? "OK" : "Service Unavailable", body);
    } else {
        respond(c, 404, "Not Found", NULL, "text/plain; charset=utf-8", "not found\n");
    }
}

void cg_http_feed(cg_conn *c, const uint8_t *data, size_t len)
{
    cg_http_state *h = c->http;
    if (!h) return;
    h->total += len;
    size_t n = http_parser_execute(&h->parser, &parser_settings, (const char *)data, len);
    if (h->parser.upgrade) {
        upgrade(c, data + n, len - n);
        return;
    }
    if (h->message_done) {
        serve(c);
        return;
    }
    if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK) {
        respond(c, 400, "Bad Request", NULL, "text/plain; charset=utf-8", "bad request\n");
        return;
    }
    if (h->total > (size_t)c->gw->settings->limits.preauth_max_bytes) {
        respond(c, 431, "Request Header Fields Too Large", NULL, "text/plain; charset=utf-8",
                "request too large\n");
    }
}
