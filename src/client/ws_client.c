/* Asynchronous WebSocket client: libuv TCP, optional OpenSSL TLS, http-parser for the
 * upgrade response, wslay (client context, buffering mode) for frames.
 *
 * States run RESOLVING -> CONNECTING -> TLS (wss only) -> UPGRADE -> OPEN -> DONE.
 * Bytes flow through two buffers: `pending` holds plaintext to send (the upgrade
 * request, then whatever wslay's send callback produces); on plain ws it is the wire.
 * With TLS, flush() passes it to SSL_write in one piece, and the pipe BIO
 * (net/tls_bio.h) appends the resulting records to `wire`, which is what gets written.
 * Incoming ciphertext is offered to OpenSSL through the same BIO (`tls`), and each
 * decrypted chunk is offered to http-parser or wslay (`ws_in`).
 *
 * User callbacks that run inside a read (on_open, on_message) may send or close; those
 * calls only queue work, and the read callback sends everything in one write at the
 * end (`depth` tracks that nesting). The end of a connection always goes through
 * uv_close() of both handles, and on_close runs from the last close callback, so it
 * is never nested inside another callback of this client. */
#include "client/ws_client.h"

#include "common/util.h"
#include "net/tls_bio.h"
#include "net/ws.h"

#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#define DEFAULT_MAX_MESSAGE (64ull * 1024 * 1024)
#define SHUTDOWN_LINGER_MS 1000
#define READ_BUF_SIZE 65536
#define PLAIN_BUF_SIZE 16384
#define MASK_POOL_SIZE 4096

typedef enum { ST_RESOLVING, ST_CONNECTING, ST_TLS, ST_UPGRADE, ST_OPEN, ST_DONE } ws_state;

/* Lives only from connect until the upgrade response has been checked. */
typedef struct handshake {
    http_parser parser;
    cg_buf field, value;
    bool in_value, headers_done;
    bool upgrade_ok, connection_ok, accept_ok, extensions;
    char expected_accept[29];
} handshake;

struct cg_ws_client {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    cg_ws_client_callbacks cbs;
    void *user;
    ws_state state;
    bool resolving, closing_handles, close_requested;
    int handles_open;
    int depth;
    uint64_t timeout_ms;
    uint64_t max_message;
    cg_ws_url url;
    SSL *ssl;
    handshake *hs;
    wslay_event_context_ptr ws;
    cg_tls_pipe tls; /* the SSL's BIO: ciphertext in, `wire` out */
    const char *ws_in;
    size_t ws_in_len;
    cg_buf pending, wire;
    uint16_t close_code;
    char reason[124];
    char message[256];
    cg_ws_close_info info;
};

typedef struct write_req {
    uv_write_t req;
    cg_ws_client *c;
    char *data;
} write_req;

static _Thread_local char read_buf[READ_BUF_SIZE];
static _Thread_local char plain_buf[PLAIN_BUF_SIZE];
static _Thread_local uint8_t mask_pool[MASK_POOL_SIZE];
static _Thread_local size_t mask_pool_left;

static void flush(cg_ws_client *c);
static void pump(cg_ws_client *c);

/* ---- ending ---- */

static void maybe_free(cg_ws_client *c)
{
    if (c->handles_open > 0 || c->resolving) return;
    c->info.close_code = c->close_code;
    c->info.reason = c->reason;
    c->info.message = c->message;
    if (c->cbs.on_close) c->cbs.on_close(c, &c->info, c->user);
    if (c->ws) wslay_event_context_free(c->ws);
    if (c->ssl) SSL_free(c->ssl);
    if (c->hs) {
        cg_buf_reset(&c->hs->field);
        cg_buf_reset(&c->hs->value);
        free(c->hs);
    }
    cg_buf_reset(&c->pending);
    cg_buf_reset(&c->wire);
    cg_ws_url_free(&c->url);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    cg_ws_client *c = h->data;
    c->handles_open--;
    maybe_free(c);
}

static void close_handles(cg_ws_client *c)
{
    if (c->closing_handles) return;
    c->closing_handles = true;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    if (c->resolving) uv_cancel((uv_req_t *)&c->gai);
}

/* Records how the connection ended (first call wins) and moves to DONE. */
static bool set_outcome(cg_ws_client *c, cg_ws_status st, int uv_error, const char *fmt, va_list ap)
{
    if (c->state == ST_DONE) return false;
    c->info.was_open = c->state == ST_OPEN;
    c->state = ST_DONE;
    c->info.status = st;
    c->info.uv_error = uv_error;
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    return true;
}

/* Ends at once: nothing more is sent. */
__attribute__((format(printf, 4, 5))) static void fail(cg_ws_client *c, cg_ws_status st,
                                                       int uv_error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool first = set_outcome(c, st, uv_error, fmt, ap);
    va_end(ap);
    if (first) close_handles(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    close_handles(req->data);
}

static void on_linger_timeout(uv_timer_t *t)
{
    close_handles(t->data);
}

/* Ends after what is queued (a close frame, TLS close_notify) has been written, or after
 * a short linger if the peer does not take it. */
__attribute__((format(printf, 2, 3))) static void finish_graceful(cg_ws_client *c, const char *fmt,
                                                                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool first = set_outcome(c, CG_WS_CLOSED, 0, fmt, ap);
    va_end(ap);
    if (!first) return;
    if (c->ws && wslay_event_want_write(c->ws)) wslay_event_send(c->ws);
    if (c->ssl && SSL_is_init_finished(c->ssl)) {
        flush(c); /* encrypt the close frame before close_notify */
        SSL_shutdown(c->ssl);
    }
    flush(c);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_start(&c->timer, on_linger_timeout, SHUTDOWN_LINGER_MS, 0);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) close_handles(c);
}

static const char *stage_name(ws_state st)
{
    switch (st) {
    case ST_RESOLVING:
        return "resolving the host";
    case ST_CONNECTING:
        return "connecting";
    case ST_TLS:
        return "in the TLS handshake";
    case ST_UPGRADE:
        return "in the WebSocket upgrade";
    default:
        return "connecting";
    }
}

static void on_timeout(uv_timer_t *t)
{
    cg_ws_client *c = t->data;
    fail(c, CG_WS_ERR_TIMEOUT, 0, "timed out after %llu ms %s", (unsigned long long)c->timeout_ms,
         stage_name(c->state));
}

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status)
{
    write_req *wr = (write_req *)req;
    cg_ws_client *c = wr->c;
    free(wr->data);
    free(wr);
    if (status < 0 && status != UV_ECANCELED)
        fail(c, CG_WS_ERR_IO, status, "write failed: %s", uv_strerror(status));
}

/* Encrypts pending plaintext (TLS) and hands the wire bytes to libuv in one write. */
static void flush(cg_ws_client *c)
{
    if (c->closing_handles) return;
    if (c->ssl && c->pending.len > 0 && SSL_is_init_finished(c->ssl)) {
        int r = SSL_write(c->ssl, c->pending.data, (int)c->pending.len);
        if (r <= 0) {
            fail(c, CG_WS_ERR_TLS, 0, "TLS write failed");
            return;
        }
        c->pending.len = 0;
    }
    cg_buf *out = c->ssl ? &c->wire : &c->pending;
    if (out->len == 0) return;
    write_req *wr = cg_xmalloc(sizeof *wr);
    wr->c = c;
    wr->data = out->data;
    uv_buf_t b = uv_buf_init(out->data, (unsigned)out->len);
    out->data = NULL;
    out->len = out->cap = 0;
    int r = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) {
        free(wr->data);
        free(wr);
        fail(c, CG_WS_ERR_IO, r, "write failed: %s", uv_strerror(r));
    }
}

static void ssl_error_text(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown TLS error");
    ERR_clear_error();
}

SSL_CTX *cg_ws_tls_ctx_new(const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ssl_error_text(err, errlen);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok;
    if (ca_file) {
        ok = SSL_CTX_load_verify_locations(ctx, ca_file, NULL);
        /* A pinned self-signed leaf is a complete trust anchor on its own. */
        X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN);
    } else {
        ok = SSL_CTX_set_default_verify_paths(ctx);
    }
    if (ok != 1) {
        char e[200];
        ssl_error_text(e, sizeof e);
        snprintf(err, errlen, "cannot load trusted certificates%s%s: %s", ca_file ? " from " : "",
                 ca_file ? ca_file : "", e);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* ---- wslay ---- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user)
{
    cg_ws_client *c = user;
    if (c->ws_in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = c->ws_in_len < len ? c->ws_in_len : len;
    memcpy(buf, c->ws_in, n);
    c->ws_in += n;
    c->ws_in_len -= n;
    return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *user)
{
    cg_ws_client *c = user;
    cg_buf_append(&c->pending, data, len);
    return (ssize_t)len;
}

/* Masks come from a pool refilled from the CSPRNG, one RAND_bytes call per 4 KiB. */
static int ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    while (len > 0) {
        if (mask_pool_left == 0) {
            if (RAND_bytes(mask_pool, MASK_POOL_SIZE) != 1) return -1;
            mask_pool_left = MASK_POOL_SIZE;
        }
        size_t n = len < mask_pool_left ? len : mask_pool_left;
        memcpy(buf, mask_pool + MASK_POOL_SIZE - mask_pool_left, n);
        mask_pool_left -= n;
        buf += n;
        len -= n;
    }
    return 0;
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
    cg_ws_client *c = user;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) {
        if (c->cbs.on_message && c->state == ST_OPEN)
            c->cbs.on_message(c, (const char *)arg->msg, arg->msg_length, c->user);
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        c->close_code = arg->status_code;
        size_t n = arg->msg_length > 2 ? arg->msg_length - 2 : 0;
        if (n >= sizeof c->reason) n = sizeof c->reason - 1;
        if (n > 0) memcpy(c->reason, arg->msg + 2, n);
        c->reason[n] = '\0';
    }
}

/* ---- upgrade ---- */

static void base64(const unsigned char *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static void finish_header(handshake *hs)
{
    cg_buf_append(&hs->field, "", 1);
    cg_buf_append(&hs->value, "", 1);
    const char *f = hs->field.data, *v = hs->value.data;
    if (strcasecmp(f, "upgrade") == 0)
        hs->upgrade_ok = strcasecmp(v, "websocket") == 0;
    else if (strcasecmp(f, "connection") == 0)
        hs->connection_ok = strcasestr(v, "upgrade") != NULL;
    else if (strcasecmp(f, "sec-websocket-accept") == 0)
        hs->accept_ok = strcmp(v, hs->expected_accept) == 0;
    else if (strcasecmp(f, "sec-websocket-extensions") == 0)
        hs->extensions = true;
    hs->field.len = hs->value.len = 0;
    hs->in_value = false;
}

static int hp_header_field(http_parser *p, const char *at, size_t len)
{
    handshake *hs = p->data;
    if (hs->in_value) finish_header(hs);
    cg_buf_append(&hs->field, at, len);
    return 0;
}

static int hp_header_value(http_parser *p, const char *at, size_t len)
{
    handshake *hs = p->data;
    hs->in_value = true;
    cg_buf_append(&hs->value, at, len);
    return 0;
}

static int hp_headers_complete(http_parser *p)
{
    handshake *hs = p->data;
    if (hs->in_value) finish_header(hs);
    hs->headers_done = true;
    return 0;
}

static const http_parser_settings hp_settings = {
    .on_header_field = hp_header_field,
    .on_header_value = hp_header_value,
    .on_headers_complete = hp_headers_complete,
};

static void send_upgrade(cg_ws_client *c)
{
    unsigned char key_raw[16];
    char key[25];
    if (RAND_bytes(key_raw, sizeof key_raw) != 1) {
        fail(c, CG_WS_ERR_HANDSHAKE, 0, "no randomness for the WebSocket key");
        return;
    }
    base64(key_raw, sizeof key_raw, key);
    c->hs = cg_xcalloc(1, sizeof *c->hs);
    cg_ws_accept_key(key, c->hs->expected_accept);
    http_parser_init(&c->hs->parser, HTTP_RESPONSE);
    c->hs->parser.data = c->hs;

    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "User-Agent: clawgate/" CLAWGATE_VERSION "\r\n\r\n",
                     c->url.path, c->url.authority, key);
    if (n < 0 || (size_t)n >= sizeof req) {
        fail(c, CG_WS_ERR_URL, 0, "URL too long");
        return;
    }
    c->state = ST_UPGRADE;
    cg_buf_append(&c->pending, req, (size_t)n);
    flush(c);
}

/* Returns the number of bytes consumed by the upgrade response. On a 101 with the
 * upgrade headers http-parser stops right after them; what follows is WebSocket data. */
static size_t feed_upgrade(cg_ws_client *c, const char *data, size_t len)
{
    handshake *hs = c->hs;
    size_t n = http_parser_execute(&hs->parser, &hp_settings, data, len);
    if (!hs->headers_done) {
        enum http_errno e = HTTP_PARSER_ERRNO(&hs->parser);
        if (e != HPE_OK)
            fail(c, CG_WS_ERR_HANDSHAKE, 0, "malformed upgrade response: %s",
                 http_errno_description(e));
        return len;
    }
    unsigned status = hs->parser.status_code;
    if (status != 101) {
        c->info.http_status = (int)status;
        fail(c, CG_WS_ERR_HANDSHAKE, 0, "upgrade refused: HTTP %u", status);
        return len;
    }
    if (!hs->parser.upgrade || !hs->upgrade_ok || !hs->connection_ok || !hs->accept_ok ||
        hs->extensions) {
        fail(c, CG_WS_ERR_HANDSHAKE, 0, "invalid upgrade response (%s)",
             !hs->upgrade_ok      ? "Upgrade header"
             : !hs->connection_ok ? "Connection header"
             : !hs->accept_ok     ? "Sec-WebSocket-Accept"
                                  : "unrequested extension");
        return len;
    }
    cg_buf_reset(&hs->field);
    cg_buf_reset(&hs->value);
    free(hs);
    c->hs = NULL;

    static const struct wslay_event_callbacks cbs = {
        .recv_callback = ws_recv_cb,
        .send_callback = ws_send_cb,
        .genmask_callback = ws_genmask_cb,
        .on_msg_recv_callback = ws_msg_cb,
    };
    if (wslay_event_context_client_init(&c->ws, &cbs, c) != 0) {
        fail(c, CG_WS_ERR_PROTOCOL, 0, "out of memory");
        return len;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, c->max_message);
    c->state = ST_OPEN;
    uv_timer_stop(&c->timer);
    if (c->cbs.on_open) c->cbs.on_open(c, c->user);
    return n;
}

/* ---- reading ---- */

static void feed_ws(cg_ws_client *c, const char *data, size_t len)
{
    c->ws_in = data;
    c->ws_in_len = len;
    int r = wslay_event_recv(c->ws);
    c->ws_in_len = 0;
    if (r != 0) fail(c, CG_WS_ERR_PROTOCOL, 0, "WebSocket protocol error (%d)", r);
}

/* Plaintext from the peer: upgrade response first, then frames. */
static void on_plain(cg_ws_client *c, const char *data, size_t len)
{
    if (c->state == ST_UPGRADE) {
        size_t n = feed_upgrade(c, data, len);
        data += n;
        len -= n;
    }
    if (c->state == ST_OPEN && len > 0) feed_ws(c, data, len);
}

static void tls_handshake_step(cg_ws_client *c)
{
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        send_upgrade(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        flush(c);
        return;
    }
    long vr = SSL_get_verify_result(c->ssl);
    char buf[200];
    ssl_error_text(buf, sizeof buf);
    if (vr != X509_V_OK)
        fail(c, CG_WS_ERR_TLS, 0, "TLS certificate verification failed: %s",
             X509_verify_cert_error_string(vr));
    else
        fail(c, CG_WS_ERR_TLS, 0, "TLS handshake failed: %s", buf);
}

static void on_tls_data(cg_ws_client *c, const char *data, size_t len)
{
    c->tls.in = (const uint8_t *)data;
    c->tls.in_len = len;
    if (c->state == ST_TLS) tls_handshake_step(c);
    while (c->state == ST_UPGRADE || c->state == ST_OPEN) {
        int r = SSL_read(c->ssl, plain_buf, sizeof plain_buf);
        if (r > 0) {
            on_plain(c, plain_buf, (size_t)r);
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            fail(c, CG_WS_ERR_EOF, UV_EOF, "connection closed by the peer (TLS close_notify)");
        } else {
            char buf[200];
            ssl_error_text(buf, sizeof buf);
            fail(c, CG_WS_ERR_TLS, 0, "TLS read failed: %s", buf);
        }
    }
    c->tls.in_len = 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cg_ws_client *c = s->data;
    if (nread == 0 || c->state == ST_DONE) return;
    if (nread < 0) {
        if (nread == UV_EOF)
            fail(c, CG_WS_ERR_EOF, UV_EOF,
                 c->state == ST_OPEN ? "connection closed by the peer without a close frame"
                                     : "connection closed by the peer during the handshake");
        else
            fail(c, CG_WS_ERR_IO, (int)nread, "read failed: %s", uv_strerror((int)nread));
        return;
    }
    c->depth++;
    if (c->ssl)
        on_tls_data(c, buf->base, (size_t)nread);
    else
        on_plain(c, buf->base, (size_t)nread);
    c->depth--;
    pump(c);
}

/* After a batch of work: send what wslay has queued, then act on a close. */
static void pump(cg_ws_client *c)
{
    if (c->state != ST_OPEN) {
        flush(c);
        return;
    }
    if (wslay_event_want_write(c->ws) && wslay_event_send(c->ws) != 0) {
        fail(c, CG_WS_ERR_PROTOCOL, 0, "WebSocket send failed");
        return;
    }
    if (wslay_event_get_close_received(c->ws))
        finish_graceful(c, "closed by the peer (%u%s%s)", c->close_code, c->reason[0] ? ": " : "",
                        c->reason);
    else if (c->close_requested)
        finish_graceful(c, "closed");
    else
        flush(c);
}

/* ---- connecting ---- */

static void on_connect(uv_connect_t *req, int status)
{
    cg_ws_client *c = req->data;
    if (c->state == ST_DONE) return;
    if (status < 0) {
        fail(c, CG_WS_ERR_CONNECT, status, "connect failed: %s", uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        fail(c, CG_WS_ERR_IO, r, "read failed: %s", uv_strerror(r));
        return;
    }
    if (c->ssl) {
        c->state = ST_TLS;
        tls_handshake_step(c);
    } else {
        send_upgrade(c);
    }
}

static void start_connect(cg_ws_client *c, const struct sockaddr *addr)
{
    c->state = ST_CONNECTING;
    c->connect_req.data = c;
    int r = uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect);
    if (r < 0) fail(c, CG_WS_ERR_CONNECT, r, "connect failed: %s", uv_strerror(r));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    cg_ws_client *c = req->data;
    c->resolving = false;
    if (c->state == ST_DONE) {
        uv_freeaddrinfo(res);
        maybe_free(c);
        return;
    }
    if (status < 0)
        fail(c, CG_WS_ERR_RESOLVE, status, "cannot resolve %s: %s", c->url.host,
             uv_strerror(status));
    else
        start_connect(c, res->ai_addr);
    uv_freeaddrinfo(res);
}

bool cg_ws_url_parse(const char *url, cg_ws_url *u)
{
    memset(u, 0, sizeof *u);
    const char *p;
    if (strncasecmp(url, "ws://", 5) == 0) {
        p = url + 5;
    } else if (strncasecmp(url, "wss://", 6) == 0) {
        u->tls = true;
        p = url + 6;
    } else {
        return false;
    }
    size_t alen = strcspn(p, "/?#");
    if (alen == 0 || memchr(p, '@', alen)) return false;
    u->authority = cg_xmalloc(alen + 1);
    memcpy(u->authority, p, alen);
    u->authority[alen] = '\0';
    const char *rest = p + alen;
    size_t plen = strcspn(rest, "#");
    u->path = cg_xmalloc(plen + 2);
    size_t off = 0;
    if (rest[0] != '/') u->path[off++] = '/';
    memcpy(u->path + off, rest, plen);
    u->path[off + plen] = '\0';

    const char *a = u->authority, *port = NULL;
    size_t hlen;
    if (a[0] == '[') {
        const char *end = strchr(a, ']');
        if (!end || end == a + 1) return false;
        hlen = (size_t)(end - a - 1);
        a++;
        if (end[1] == ':')
            port = end + 2;
        else if (end[1] != '\0')
            return false;
    } else {
        const char *colon = strchr(a, ':');
        if (colon && strchr(colon + 1, ':')) return false;
        hlen = colon ? (size_t)(colon - a) : strlen(a);
        port = colon ? colon + 1 : NULL;
    }
    if (hlen == 0) return false;
    u->host = cg_xmalloc(hlen + 1);
    memcpy(u->host, a, hlen);
    u->host[hlen] = '\0';
    u->port = u->tls ? 443 : 80;
    if (port) {
        char *end;
        long v = strtol(port, &end, 10);
        if (*port == '\0' || *end != '\0' || v < 1 || v > 65535) return false;
        u->port = (int)v;
    }
    return true;
}

void cg_ws_url_free(cg_ws_url *u)
{
    free(u->host);
    free(u->authority);
    free(u->path);
    memset(u, 0, sizeof *u);
}

static bool setup_tls(cg_ws_client *c, const cg_ws_client_options *opts, bool numeric_host)
{
    char err[300];
    SSL_CTX *ctx = opts->ssl_ctx;
    if (ctx)
        SSL_CTX_up_ref(ctx);
    else if (!(ctx = cg_ws_tls_ctx_new(opts->ca_file, err, sizeof err))) {
        fail(c, CG_WS_ERR_TLS, 0, "%s", err);
        return false;
    }
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    if (!c->ssl) {
        fail(c, CG_WS_ERR_TLS, 0, "cannot create a TLS session");
        return false;
    }
    c->tls.out = &c->wire;
    BIO *bio = cg_tls_pipe_bio(&c->tls);
    if (!bio) {
        fail(c, CG_WS_ERR_TLS, 0, "cannot create a TLS session");
        return false;
    }
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_connect_state(c->ssl);
    if (!numeric_host) SSL_set_tlsext_host_name(c->ssl, c->url.host);
    if (!opts->skip_hostname_check) {
        int ok = numeric_host ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->url.host)
                              : SSL_set1_host(c->ssl, c->url.host);
        if (ok != 1) {
            fail(c, CG_WS_ERR_TLS, 0, "cannot set the host name to verify");
            return false;
        }
    }
    return true;
}

cg_ws_client *cg_ws_client_connect(uv_loop_t *loop, const char *url,
                                   const cg_ws_client_options *opts,
                                   const cg_ws_client_callbacks *cbs, void *user)
{
    static const cg_ws_client_options no_opts;
    if (!opts) opts = &no_opts;
    cg_ws_client *c = cg_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->cbs = *cbs;
    c->user = user;
    c->timeout_ms = opts->handshake_timeout_ms;
    c->max_message = opts->max_message_bytes ? opts->max_message_bytes : DEFAULT_MAX_MESSAGE;
    c->state = ST_RESOLVING;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c->gai.data = c;
    c->handles_open = 2;

    if (!cg_ws_url_parse(url, &c->url)) {
        fail(c, CG_WS_ERR_URL, 0, "invalid WebSocket URL: %s", url);
        return c;
    }
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    bool numeric = uv_ip4_addr(c->url.host, c->url.port, &addr.in4) == 0 ||
                   uv_ip6_addr(c->url.host, c->url.port, &addr.in6) == 0;
    if (c->url.tls && !setup_tls(c, opts, numeric)) return c;
    if (c->timeout_ms) uv_timer_start(&c->timer, on_timeout, c->timeout_ms, 0);
    if (numeric) {
        start_connect(c, &addr.sa);
        return c;
    }
    char port[8];
    snprintf(port, sizeof port, "%d", c->url.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int r = uv_getaddrinfo(loop, &c->gai, on_resolved, c->url.host, port, &hints);
    if (r < 0)
        fail(c, CG_WS_ERR_RESOLVE, r, "cannot resolve %s: %s", c->url.host, uv_strerror(r));
    else
        c->resolving = true;
    return c;
}

int cg_ws_client_send_text(cg_ws_client *c, const char *data, size_t len)
{
    if (c->state != ST_OPEN || c->close_requested) return -1;
    struct wslay_event_msg m = {
        .opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)data, .msg_length = len};
    if (wslay_event_queue_msg(c->ws, &m) != 0) return -1;
    if (c->depth == 0) pump(c);
    return 0;
}

void cg_ws_client_close(cg_ws_client *c, uint16_t code, const char *reason)
{
    if (c->state == ST_DONE || c->close_requested) return;
    if (c->state != ST_OPEN) {
        fail(c, CG_WS_CLOSED, 0, "closed before the connection was open");
        return;
    }
    c->close_requested = true;
    const char *r = reason ? reason : "";
    wslay_event_queue_close(c->ws, code, (const uint8_t *)r, strlen(r));
    if (c->depth == 0) pump(c);
}
