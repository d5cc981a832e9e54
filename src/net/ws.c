/* WebSocket sessions over wslay. See ws.h for the design. */
#include "net/ws.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wslay/wslay.h>

#define PONG_SLOT_MAX (2 + 125) /* an unmasked header and the largest control payload */

typedef struct queued_msg {
    struct queued_msg *next;
    cg_buf data;
} queued_msg;

struct cg_ws {
    wslay_event_context_ptr ctx;
    cg_stream *stream;
    const cg_ws_callbacks *cb;
    void *user;
    uint64_t max_message_bytes, max_buffered_bytes;
    bool paused;

    /* Input. */
    const uint8_t *in; /* bytes being fed to wslay */
    size_t in_len;
    cg_buf msg; /* the message being reassembled */
    uint32_t msg_frames;
    bool frame_is_data; /* the frame being received belongs to a data message */
    bool frame_fin;
    queued_msg *queued_head, *queued_tail;

    /* Output: where the frame wslay is writing ends, and the held pong. */
    uint64_t out_payload_left;
    bool out_frame_is_pong;
    uint8_t pong[PONG_SLOT_MAX];
    size_t pong_len;
    bool pong_held;
};

void *cg_ws_user(const cg_ws *ws)
{
    return ws->user;
}

bool cg_ws_paused(const cg_ws *ws)
{
    return ws->paused;
}

bool cg_ws_closing(const cg_ws *ws)
{
    return wslay_event_get_close_sent(ws->ctx) || !cg_stream_is_open(ws->stream);
}

size_t cg_ws_buffered(const cg_ws *ws)
{
    return cg_stream_buffered(ws->stream) + (ws->pong_held ? ws->pong_len : 0);
}

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    cg_ws *ws = user;
    if (ws->paused || ws->in_len == 0 || !cg_stream_is_open(ws->stream)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < ws->in_len ? len : ws->in_len;
    memcpy(buf, ws->in, n);
    ws->in += n;
    ws->in_len -= n;
    return (ssize_t)n;
}

/* A complete pong frame is in the slot: out now, or held until the stream drains. */
static void pong_complete(cg_ws *ws)
{
    if (cg_stream_backed_up(ws->stream)) {
        ws->pong_held = true; /* replaces any older one: only the latest is answered */
        return;
    }
    ws->pong_held = false;
    cg_stream_write(ws->stream, ws->pong, ws->pong_len);
}

/* wslay writes each frame as its header, then its payload. Frames go to the stream,
 * except pongs, which collect in the slot. */
static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    cg_ws *ws = user;
    if (ws->out_payload_left == 0) {
        /* A server frame header: opcode, 7-bit length, extended length, no mask. */
        uint64_t payload = data[1] & 0x7f;
        if (payload == 126 && len >= 4) payload = ((uint64_t)data[2] << 8) | data[3];
        if (payload == 127 && len >= 10) {
            payload = 0;
            for (int i = 2; i < 10; i++)
                payload = (payload << 8) | data[i];
        }
        ws->out_payload_left = payload;
        ws->out_frame_is_pong = (data[0] & 0x0f) == WSLAY_PONG && len <= PONG_SLOT_MAX;
        if (ws->out_frame_is_pong) {
            memcpy(ws->pong, data, len);
            ws->pong_len = len;
            if (payload == 0) pong_complete(ws);
        } else {
            cg_stream_write(ws->stream, data, len);
        }
        return (ssize_t)len;
    }
    size_t n = len < ws->out_payload_left ? len : (size_t)ws->out_payload_left;
    if (ws->out_frame_is_pong) {
        if (ws->pong_len + n <= PONG_SLOT_MAX) memcpy(ws->pong + ws->pong_len, data, n);
        ws->pong_len += n;
    } else {
        cg_stream_write(ws->stream, data, n);
    }
    ws->out_payload_left -= n;
    if (ws->out_payload_left == 0 && ws->out_frame_is_pong) pong_complete(ws);
    return (ssize_t)len;
}

/* A close frame's reason is at most 123 bytes (RFC 6455 5.5): longer ones are cut at
 * a UTF-8 character boundary rather than lose the close frame. */
#define CLOSE_REASON_MAX 123

static void fail(cg_ws *ws, uint16_t code, const char *reason)
{
    if (wslay_event_get_close_sent(ws->ctx)) return;
    size_t len = strlen(reason);
    if (len > CLOSE_REASON_MAX) {
        len = CLOSE_REASON_MAX;
        while (len > 0 && ((unsigned char)reason[len] & 0xC0) == 0x80)
            len--;
    }
    wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, len);
    wslay_event_shutdown_read(ws->ctx);
}

static void on_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    cg_ws *ws = user;
    ws->frame_is_data = !(arg->opcode & 0x8);
    ws->frame_fin = arg->fin;
    if (!ws->frame_is_data) return;
    if (arg->opcode != WSLAY_CONTINUATION_FRAME) {
        ws->msg.len = 0;
        ws->msg_frames = 0;
    }
    ws->msg_frames++;
    if ((uint64_t)ws->msg.len + arg->payload_length > ws->max_message_bytes)
        fail(ws, 1009, "message too big");
    else if (ws->msg_frames > CG_WS_MAX_FRAGMENTS)
        fail(ws, 1009, "too many fragments");
}

static void on_frame_chunk(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
    cg_ws *ws = user;
    if (ws->frame_is_data && wslay_event_get_read_enabled(ctx))
        cg_buf_append(&ws->msg, arg->data, arg->data_length);
}

static void on_frame_end(wslay_event_context_ptr ctx, void *user)
{
    cg_ws *ws = user;
    if (!ws->frame_is_data || !ws->frame_fin || !wslay_event_get_read_enabled(ctx) ||
        !cg_stream_is_open(ws->stream))
        return;
    if (ws->paused || ws->queued_head) {
        queued_msg *q = cg_xcalloc(1, sizeof *q);
        q->data = ws->msg;
        memset(&ws->msg, 0, sizeof ws->msg);
        if (ws->queued_tail)
            ws->queued_tail->next = q;
        else
            ws->queued_head = q;
        ws->queued_tail = q;
        return;
    }
    ws->cb->on_message(ws, ws->msg.data ? ws->msg.data : "", ws->msg.len);
    ws->msg.len = 0;
    if (ws->msg.cap > 65536) cg_buf_reset(&ws->msg);
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    /* Data messages arrive through the frame callbacks; of the control frames only a
     * close matters: wslay queued the reply, and settle() closes once it is out. */
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) wslay_event_shutdown_read(ctx);
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = ws_recv,
    .send_callback = ws_send,
    .on_frame_recv_start_callback = on_frame_start,
    .on_frame_recv_chunk_callback = on_frame_chunk,
    .on_frame_recv_end_callback = on_frame_end,
    .on_msg_recv_callback = on_msg,
};

cg_ws *cg_ws_new(cg_stream *s, const cg_ws_callbacks *cb, void *user, uint64_t max_message_bytes,
                 uint64_t max_buffered_bytes)
{
    cg_ws *ws = cg_xcalloc(1, sizeof *ws);
    if (wslay_event_context_server_init(&ws->ctx, &callbacks, ws) != 0) {
        free(ws);
        return NULL;
    }
    wslay_event_config_set_no_buffering(ws->ctx, 1);
    ws->stream = s;
    ws->cb = cb;
    ws->user = user;
    cg_ws_set_limits(ws, max_message_bytes, max_buffered_bytes);
    return ws;
}

void cg_ws_set_limits(cg_ws *ws, uint64_t max_message_bytes, uint64_t max_buffered_bytes)
{
    ws->max_message_bytes = max_message_bytes;
    ws->max_buffered_bytes = max_buffered_bytes;
    /* In no-buffering mode this bounds each frame; messages are bounded in on_frame_start. */
    wslay_event_config_set_max_recv_msg_length(ws->ctx, max_message_bytes);
}

void cg_ws_free(cg_ws *ws)
{
    if (!ws) return;
    while (ws->queued_head) {
        queued_msg *q = ws->queued_head;
        ws->queued_head = q->next;
        cg_buf_reset(&q->data);
        free(q);
    }
    cg_buf_reset(&ws->msg);
    wslay_event_context_free(ws->ctx);
    free(ws);
}

/* After wslay ran: send what it queued; close the stream once the close handshake is
 * over; cut off a consumer whose output passed its bound. */
static void settle(cg_ws *ws)
{
    if (!cg_stream_is_open(ws->stream)) return;
    wslay_event_send(ws->ctx);
    if (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx)) {
        cg_stream_close_graceful(ws->stream);
        return;
    }
    if (cg_ws_buffered(ws) > ws->max_buffered_bytes && !wslay_event_get_close_sent(ws->ctx)) {
        /* What is not yet with the kernel is whole frames: drop it, so the close frame
         * is next after what is in flight. */
        cg_stream_drop_unsent(ws->stream);
        ws->pong_held = false;
        cg_ws_close(ws, 1013, "slow consumer");
    }
}

size_t cg_ws_feed(cg_ws *ws, const uint8_t *data, size_t len)
{
    ws->in = data;
    ws->in_len = len;
    int rc = wslay_event_recv(ws->ctx);
    size_t left = ws->in_len;
    ws->in = NULL;
    ws->in_len = 0;
    if (!cg_stream_is_open(ws->stream)) return len;
    if (rc == WSLAY_ERR_CALLBACK_FAILURE || rc == WSLAY_ERR_PROTO) {
        /* A control frame wslay refuses without answering (over 125 bytes, fragmented,
         * non-minimal length): answer close 1002 here. */
        if (!wslay_event_get_close_sent(ws->ctx)) {
            static const uint8_t close_1002[] = {0x88, 0x02, 0x03, 0xEA};
            cg_stream_write(ws->stream, close_1002, sizeof close_1002);
        } else {
            wslay_event_send(ws->ctx);
        }
        cg_stream_close_graceful(ws->stream);
        return len;
    }
    if (rc != 0) {
        cg_stream_close(ws->stream);
        return len;
    }
    settle(ws);
    return cg_stream_is_open(ws->stream) ? len - left : len;
}

void cg_ws_pause(cg_ws *ws)
{
    ws->paused = true;
}

void cg_ws_resume(cg_ws *ws)
{
    ws->paused = false;
    while (ws->queued_head && !ws->paused && cg_stream_is_open(ws->stream)) {
        queued_msg *q = ws->queued_head;
        ws->queued_head = q->next;
        if (!ws->queued_head) ws->queued_tail = NULL;
        ws->cb->on_message(ws, q->data.data ? q->data.data : "", q->data.len);
        cg_buf_reset(&q->data);
        free(q);
    }
}

void cg_ws_drained(cg_ws *ws)
{
    if (!ws->pong_held || !cg_stream_is_open(ws->stream)) return;
    ws->pong_held = false;
    cg_stream_write(ws->stream, ws->pong, ws->pong_len);
}

bool cg_ws_send_text(cg_ws *ws, const char *data, size_t len)
{
    if (!cg_stream_is_open(ws->stream) || !wslay_event_get_write_enabled(ws->ctx)) return false;
    struct wslay_event_msg m = {
        .opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)data, .msg_length = len};
    if (wslay_event_queue_msg(ws->ctx, &m) != 0) return false;
    settle(ws);
    return cg_stream_is_open(ws->stream) && !wslay_event_get_close_sent(ws->ctx);
}

void cg_ws_close(cg_ws *ws, uint16_t code, const char *reason)
{
    if (!cg_stream_is_open(ws->stream)) return;
    fail(ws, code, reason);
    wslay_event_send(ws->ctx);
    cg_stream_close_graceful(ws->stream);
}

bool cg_ws_accept_key(const char *key, char out[29])
{
    unsigned char decoded[32];
    size_t klen = strlen(key);
    if (klen != 24) return false;
    if (EVP_DecodeBlock(decoded, (const unsigned char *)key, (int)klen) != 18) return false;
    char concat[64];
    snprintf(concat, sizeof concat, "%s%s", key, CG_WS_GUID);
    unsigned char digest[20];
    unsigned int dlen = 0;
    EVP_Digest(concat, strlen(concat), digest, &dlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
    return true;
}
