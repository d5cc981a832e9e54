/* One client connection, from accept to close.
 *
 * A connection starts in the HTTP phase (net/http.c parses the request with
 * http-parser; /healthz and /readyz are answered and the socket closed), becomes a
 * WebSocket after a valid upgrade (net/ws.c runs wslay without buffering and
 * reassembles messages itself, within the limits), and is "connected" once its
 * `connect` request succeeded (proto/handshake.c); from then on every message goes to
 * gateway/dispatch.c.
 *
 * Bytes in: libuv reads into the gateway's one shared read buffer; TLS (net/tls.c)
 * decrypts into the same path; cg_conn_feed() hands plaintext to the current phase.
 * A connection can be paused (a large message parsing on the thread pool): input left
 * over is copied into `pending` and reading stops until cg_conn_resume().
 * Bytes out: everything lands in `out` (through TLS when on) and is written with one
 * uv_write per loop turn at most (cg_conn_flush), so pipelined requests answered in
 * one read callback go out in one syscall.
 *
 * Lifetime: a reference count. The socket holds one; a deferred request holds one.
 * cg_conn_close() closes the socket; the struct is freed when the last reference goes. */
#ifndef CG_GATEWAY_CONN_H
#define CG_GATEWAY_CONN_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "common/util.h"
#include "gateway/methods.h"
#include "net/tls_bio.h"

struct cg_gateway;
struct cg_http_state;

typedef enum {
    CG_CONN_HTTP,    /* reading an HTTP request */
    CG_CONN_WS,      /* upgraded; waiting for `connect` or connected */
    CG_CONN_CLOSING, /* no more input is processed */
} cg_conn_phase;

typedef struct cg_conn {
    uv_tcp_t tcp; /* first: the handle's data points back here */
    struct cg_gateway *gw;
    struct cg_conn *prev, *next; /* the gateway's list of connections */
    uint64_t serial;
    int refs;
    cg_conn_phase phase;
    bool closed;      /* uv_close called */
    bool paused;      /* input held in `pending` */
    bool in_callback; /* inside a read callback: flush once at its end */
    bool peer_loopback;
    bool counted_preauth; /* counted in the per-address pre-connect limit */
    char peer_ip[INET6_ADDRSTRLEN];
    uint64_t accepted_ms; /* monotonic ms, for the handshake timeout */

    /* HTTP phase only (freed on upgrade). */
    struct cg_http_state *http;
    /* Facts kept from the upgrade request for `connect`. */
    char *host, *origin, *forwarded_for, *real_ip;
    /* The client's address: the peer, or what a trusted proxy forwarded (set at connect). */
    char client_ip[INET6_ADDRSTRLEN];

    /* TLS, when the listener is TLS. */
    SSL *ssl;
    cg_tls_pipe tls; /* the SSL's BIO: ciphertext in, c->out out */

    /* WebSocket phase. */
    wslay_event_context_ptr ws;
    const uint8_t *in; /* plaintext being fed to wslay */
    size_t in_len;
    cg_buf msg;         /* message being reassembled */
    uint8_t msg_opcode; /* 0: no message in progress */
    uint32_t msg_frames;
    bool frame_is_data; /* the frame being received belongs to a data message */
    bool frame_fin;
    struct cg_queued_msg *queued_head, *queued_tail; /* messages completed while paused */

    /* After connect. */
    bool connected;
    int protocol;
    unsigned role;   /* cg_role bits: exactly one */
    unsigned scopes; /* CG_SCOPEBIT_* */
    char conn_id[37];
    char nonce[37];
    char *client_id, *client_mode;
    uint64_t event_seq;

    /* Deferred requests of this connection (gateway/request.c). */
    struct cg_req *pending_head;
    size_t n_pending;

    /* Output. */
    cg_buf out;             /* bytes ready for the socket */
    size_t bytes_in_flight; /* handed to uv_write, not yet written */
    cg_buf pending;         /* input held while paused */
    bool close_when_flushed;
    uint64_t close_deadline_ms; /* monotonic; the sweep closes it then regardless */
} cg_conn;

/* Accepts a pending connection on `server`. */
void cg_conn_accept(struct cg_gateway *gw, uv_stream_t *server, bool tls);

void cg_conn_ref(cg_conn *c);
void cg_conn_unref(cg_conn *c);

/* Plaintext from the peer (after TLS). */
void cg_conn_feed(cg_conn *c, const uint8_t *data, size_t len);
/* Raw bytes for the socket (the TLS layer encrypts first when on). */
void cg_conn_write(cg_conn *c, const void *data, size_t len);
/* Writes what is in `out` (no-op inside a read callback: done at its end). */
void cg_conn_flush(cg_conn *c);
/* Bytes queued toward this peer and not yet written. */
size_t cg_conn_buffered(const cg_conn *c);

void cg_conn_pause(cg_conn *c);
void cg_conn_resume(cg_conn *c);

/* Whether a frame sent now can reach the client (connected, not closing). */
bool cg_conn_deliverable(const cg_conn *c);

/* Closes the socket now (after what was already handed to the kernel). */
void cg_conn_close(cg_conn *c);
/* Closes once queued output is written (bounded: the sweep closes it after 2 s). */
void cg_conn_close_after_flush(cg_conn *c);

#endif
