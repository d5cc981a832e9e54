/* One accepted TCP connection as a byte stream: optional TLS, batched writes,
 * pause/resume, bounded output, and three ways to close. It knows nothing of HTTP or
 * WebSocket; it reports up through callbacks, as libuv handles do.
 *
 * Input: libuv reads into one process-wide 64 KiB buffer (an idle stream holds no read
 * buffer); TLS decrypts through a pipe BIO (net/tls_bio.h). Plaintext goes to
 * on_data, which returns how much it consumed: a short count (the owner paused, say a
 * large message is parsing on the thread pool) leaves the rest held here and stops
 * reading until cg_stream_resume() hands it over again.
 *
 * Output: cg_stream_write() appends to `out` (encrypting first under TLS). Inside a read
 * callback the socket is written once, at its end, so pipelined requests answered in
 * one callback cost one syscall; elsewhere each write is flushed at once. A flush
 * tries uv_try_write first and hands at most CG_STREAM_WRITE_HIGH_WATER bytes to
 * uv_write; the rest waits in `out`, where whole frames can still be dropped
 * (cg_stream_drop_unsent) when a consumer that does not read is cut off.
 *
 * Closing: cg_stream_close() closes now. cg_stream_close_graceful() is the lingering
 * close every refusal needs so that its last words reach the peer: stop delivering
 * input, write what is queued, shut down the write side, then read and discard input
 * for up to CG_STREAM_LINGER_MS or CG_STREAM_LINGER_MAX_BYTES before closing. (Closing
 * a socket with unread input makes the kernel send RST, and the peer sees ECONNRESET
 * instead of the close frame or HTTP error that was written.) */
#ifndef CG_NET_STREAM_H
#define CG_NET_STREAM_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/util.h"
#include "net/tls_bio.h"

#define CG_STREAM_WRITE_HIGH_WATER (256 * 1024)
#define CG_STREAM_LINGER_MS 2000
#define CG_STREAM_LINGER_MAX_BYTES (64ull * 1024 * 1024)

typedef struct cg_stream cg_stream;

typedef struct cg_stream_callbacks {
    /* Plaintext from the peer; returns the bytes consumed (less than len pauses). */
    size_t (*on_data)(cg_stream *s, const uint8_t *data, size_t len);
    /* Everything queued has been written (after a time with output in flight). */
    void (*on_drain)(cg_stream *s);
    /* The stream stopped being open (a close began: graceful or not, EOF, an error): no
     * more input is delivered. Called once. */
    void (*on_closing)(cg_stream *s);
    /* The socket is released: the memory holding the stream may be freed now. */
    void (*on_closed)(cg_stream *s);
} cg_stream_callbacks;

typedef enum {
    CG_STREAM_OPEN,
    CG_STREAM_DRAINING,  /* graceful close: writing what is queued, input discarded */
    CG_STREAM_LINGERING, /* write side shut down, discarding input until EOF */
    CG_STREAM_CLOSED,
} cg_stream_state;

struct cg_stream {
    uv_tcp_t tcp; /* first: the handle's data points back here */
    const cg_stream_callbacks *cb;
    void *user;
    cg_stream_state state;
    bool paused;
    bool holding;          /* cg_stream_hold: reading on, delivering nothing */
    size_t hold_max;       /* held bytes beyond which reading stops while holding */
    bool in_read_callback; /* flush once at its end */
    bool was_backed_up;    /* on_drain is due when the output empties */
    char peer_ip[INET6_ADDRSTRLEN];

    SSL *ssl;
    cg_tls_pipe tls;

    cg_buf out;       /* bytes ready for the socket, not yet handed to libuv */
    size_t in_flight; /* handed to uv_write, not yet written */
    cg_buf held;      /* input not consumed while paused */

    uint64_t discarded; /* input thrown away while closing gracefully */
    uv_timer_t *linger_timer;
};

/* Accepts a pending connection of `server` into s (memory owned by the caller, zeroed).
 * ctx non-NULL: TLS. 0, or a negative libuv error (then on_closed still follows). */
int cg_stream_accept(cg_stream *s, uv_stream_t *server, SSL_CTX *ctx, const cg_stream_callbacks *cb,
                     void *user);

void cg_stream_write(cg_stream *s, const void *data, size_t len);
/* Writes what is in `out` (inside a read callback: deferred to its end). */
void cg_stream_flush(cg_stream *s);
/* Bytes queued toward the peer and not yet written. */
size_t cg_stream_buffered(const cg_stream *s);
/* For a producer (a streamed response): whether to write more now. Writes out what is
 * queued first (even inside a read callback); false means the kernel is not keeping
 * up: stop, and go on when on_drain is called (it will be). */
bool cg_stream_writable(cg_stream *s);
/* Whether the kernel has stopped taking our bytes (output is in flight). */
bool cg_stream_backed_up(const cg_stream *s);
/* Drops queued bytes not yet handed to the kernel (whole frames, on plain streams only:
 * a TLS record cannot be cut). */
void cg_stream_drop_unsent(cg_stream *s);

void cg_stream_pause(cg_stream *s);
/* Delivers nothing for now but keeps reading, so that a peer that goes away is noticed
 * (on_closing) while its owner waits on something else: input is kept, up to max_bytes,
 * beyond which reading stops as with cg_stream_pause. on_data returning a short count
 * while holding keeps the rest the same way. */
void cg_stream_hold(cg_stream *s, size_t max_bytes);
/* Hands held input to on_data again (ending a pause or a hold), then reads on. */
void cg_stream_resume(cg_stream *s);

void cg_stream_close(cg_stream *s);
void cg_stream_close_graceful(cg_stream *s);
bool cg_stream_is_open(const cg_stream *s);

#endif
