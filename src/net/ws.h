/* WebSocket (RFC 6455) server sessions over a stream, through wslay in no-buffering
 * mode.
 *
 * Input: wslay's own buffering would trust the length a frame header claims (15 bytes
 * can make it allocate 25 MiB) and copy each message twice, so it is off: frames
 * arrive in chunks and are reassembled here, growing only as bytes arrive. The message
 * limit is checked against the claimed length at each frame start (close 1009 before
 * the bytes are read), and a message may have at most CG_WS_MAX_FRAGMENTS frames.
 * wslay still validates framing, masking and UTF-8 and answers closes itself. While
 * paused, messages that wslay completes from bytes it already holds wait in a queue
 * and run, in order, on resume; the rest of the input stays with the stream.
 *
 * Output: frames go to the stream. wslay answers every ping with a pong; a peer that
 * pings and never reads would make those pile up, so a pong written while the stream
 * is backed up waits in a single slot instead (RFC 6455 lets an endpoint answer only
 * the latest ping), and goes out when the stream drains. Once the output passes
 * max_buffered_bytes the frames not yet handed to the kernel are dropped and the
 * session closes with 1013.
 *
 * Every close this side starts (1002, 1007, 1008, 1009, 1011-1013, 4000s) sends the
 * close frame and then closes the stream gracefully (net/stream.h), so the frame
 * reaches a peer that is still sending. */
#ifndef CG_NET_WS_H
#define CG_NET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/stream.h"

#define CG_WS_MAX_FRAGMENTS 65536
#define CG_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct cg_ws cg_ws;

typedef struct cg_ws_callbacks {
    /* A complete text or binary message. */
    void (*on_message)(cg_ws *ws, const char *data, size_t len);
} cg_ws_callbacks;

/* After the 101 response was written. NULL on allocation failure. */
cg_ws *cg_ws_new(cg_stream *s, const cg_ws_callbacks *cb, void *user, uint64_t max_message_bytes,
                 uint64_t max_buffered_bytes);
void cg_ws_free(cg_ws *ws);
void *cg_ws_user(const cg_ws *ws);
void cg_ws_set_limits(cg_ws *ws, uint64_t max_message_bytes, uint64_t max_buffered_bytes);

/* Bytes from the stream; returns how many were consumed (fewer when paused). */
size_t cg_ws_feed(cg_ws *ws, const uint8_t *data, size_t len);
void cg_ws_pause(cg_ws *ws);
/* Runs the messages that completed while paused (stops if paused again). */
void cg_ws_resume(cg_ws *ws);
bool cg_ws_paused(const cg_ws *ws);
/* The stream drained: the held pong goes out. */
void cg_ws_drained(cg_ws *ws);

/* Queues one text message. false when it could not be sent (closing, or the output
 * passed its bound and the session is closing with 1013). */
bool cg_ws_send_text(cg_ws *ws, const char *data, size_t len);
/* Bytes queued toward the peer. */
size_t cg_ws_buffered(const cg_ws *ws);
/* Sends a close frame and closes the stream gracefully. */
void cg_ws_close(cg_ws *ws, uint16_t code, const char *reason);
/* Whether this side sent or queued its close frame. */
bool cg_ws_closing(const cg_ws *ws);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (which must decode to 16 bytes): false
 * when the key is malformed. Used by the server and the client. */
bool cg_ws_accept_key(const char *key, char out[29]);

#endif
