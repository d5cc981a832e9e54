/* A small asynchronous WebSocket client on a libuv loop (used by `clawgate call` and
 * the bench load generator).
 *
 * One cg_ws_client is one connection to a ws:// or wss:// URL: resolve (numeric hosts
 * skip the resolver), TCP connect, optional TLS (OpenSSL, client side, custom BIO over
 * the libuv stream), an HTTP/1.1 upgrade checked with http-parser and
 * Sec-WebSocket-Accept, then a wslay client context. Messages received are handed to
 * on_message whole (wslay buffering mode: the peer is a gateway we chose to talk to,
 * and a cap on the message size bounds what it can make us hold). Sends made while a
 * read callback is running are batched into one write (and one TLS record) per turn.
 *
 * Lifetime: cg_ws_client_connect() starts the connection; on_open fires once the
 * upgrade succeeded; on_close fires exactly once, when everything is over (an error at
 * any stage, a close handshake, EOF, or after cg_ws_client_close()), after which the
 * client is freed and must not be touched. Loop-thread only. */
#ifndef CG_CLIENT_WS_CLIENT_H
#define CG_CLIENT_WS_CLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct cg_ws_client cg_ws_client;

/* How a connection ended. */
typedef enum {
    CG_WS_CLOSED,        /* close handshake, or closed by cg_ws_client_close() */
    CG_WS_ERR_URL,       /* the URL could not be used */
    CG_WS_ERR_RESOLVE,   /* the host name did not resolve */
    CG_WS_ERR_CONNECT,   /* TCP connect failed (refused, unreachable, ...) */
    CG_WS_ERR_TIMEOUT,   /* connect + TLS + upgrade took longer than allowed */
    CG_WS_ERR_TLS,       /* TLS handshake or certificate verification failed */
    CG_WS_ERR_HANDSHAKE, /* the HTTP upgrade was refused or malformed */
    CG_WS_ERR_PROTOCOL,  /* a WebSocket protocol error */
    CG_WS_ERR_EOF,       /* the peer went away without a close frame */
    CG_WS_ERR_IO,        /* a read or write failed */
} cg_ws_status;

typedef struct cg_ws_close_info {
    cg_ws_status status;
    bool was_open;       /* the upgrade had succeeded */
    int uv_error;        /* the libuv error behind RESOLVE/CONNECT/IO/EOF, else 0 */
    int http_status;     /* status of a refused upgrade (e.g. 429, 503), else 0 */
    uint16_t close_code; /* code of the close frame received, 0 if none */
    const char *reason;  /* reason of the close frame received ("" if none) */
    const char *message; /* human-readable description of how it ended */
} cg_ws_close_info;

typedef struct cg_ws_client_callbacks {
    void (*on_open)(cg_ws_client *c, void *user);
    /* A whole text or binary message; `data` is valid during the call only. */
    void (*on_message)(cg_ws_client *c, const char *data, size_t len, void *user);
    void (*on_close)(cg_ws_client *c, const cg_ws_close_info *info, void *user);
} cg_ws_client_callbacks;

typedef struct cg_ws_client_options {
    /* wss only. A shared context from cg_ws_tls_ctx_new() (reference taken), or NULL to
     * build one from ca_file for this connection. */
    SSL_CTX *ssl_ctx;
    /* wss only, used when ssl_ctx is NULL: PEM certificates to trust instead of the
     * system store (a self-signed gateway certificate works as its own anchor). */
    const char *ca_file;
    /* wss only: skip matching the URL host against the certificate. Meant for a pinned
     * certificate (ca_file) whose names may not include the address dialed. */
    bool skip_hostname_check;
    /* Limit for resolve + connect + TLS + upgrade, ms; 0 means none. */
    uint64_t handshake_timeout_ms;
    /* Largest message accepted (close 1009 beyond it); 0 means 64 MiB. */
    uint64_t max_message_bytes;
} cg_ws_client_options;

/* A parsed ws[s]://host[:port][/path] URL (IPv6 literals in brackets, no user info). */
typedef struct cg_ws_url {
    bool tls;
    char *host;      /* without brackets */
    char *authority; /* host[:port] as written, for the Host header */
    char *path;      /* "/" when empty; includes any query */
    int port;        /* 80 / 443 when absent */
} cg_ws_url;

/* Parses `url` into `out` (zeroed first). false when it is not a usable ws/wss URL.
 * Release with cg_ws_url_free() whatever the result. */
bool cg_ws_url_parse(const char *url, cg_ws_url *out);
void cg_ws_url_free(cg_ws_url *u);

/* A client TLS context: TLS 1.2+, peer verification against ca_file (or the system
 * store when NULL), SSL_MODE_RELEASE_BUFFERS. NULL on error with `err` filled. */
SSL_CTX *cg_ws_tls_ctx_new(const char *ca_file, char *err, size_t errlen);

/* Starts connecting to `url` (ws://host[:port][/path] or wss://...). Always returns a
 * client: a URL it cannot use is reported through on_close (CG_WS_ERR_URL) from the
 * loop, never synchronously. */
cg_ws_client *cg_ws_client_connect(uv_loop_t *loop, const char *url,
                                   const cg_ws_client_options *opts,
                                   const cg_ws_client_callbacks *cbs, void *user);

/* Queues a text message. 0, or -1 when the connection is not open. */
int cg_ws_client_send_text(cg_ws_client *c, const char *data, size_t len);

/* Sends a close frame (when open) and ends the connection; on_close follows with
 * CG_WS_CLOSED unless it already ended otherwise. Safe to call more than once. */
void cg_ws_client_close(cg_ws_client *c, uint16_t code, const char *reason);

#endif
