/* WebSocket framing through wslay, in no-buffering mode.
 *
 * wslay's own buffering would trust the length a frame header claims (15 bytes can make
 * it allocate 25 MiB) and copy each message twice, so it is off: frames arrive in
 * chunks and are reassembled here into c->msg, which only grows as bytes actually
 * arrive. The message limit (preauthMaxBytes before `connect`, maxPayloadBytes after)
 * is checked against the claimed length at each frame start, so an oversized message
 * is refused (close 1009) before its bytes are read. wslay still validates framing,
 * masking and UTF-8 and answers pings and closes itself.
 *
 * While the connection is paused (a large message parsing on the thread pool), wslay
 * may still finish frames already in its 4 KiB input buffer: messages completed then
 * wait in a small queue and run, in order, on resume. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway_int.h"

#define MAX_FRAGMENTS 65536
#define MAX_QUEUED_CONTROL 1024

typedef struct cg_queued_msg {
    struct cg_queued_msg *next;
    cg_buf data;
} cg_queued_msg;

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    cg_conn *c = user;
    if (c->paused || c->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    cg_conn_write(user, data, len);
    return (ssize_t)len;
}

static int64_t message_limit(const cg_conn *c)
{
    const cg_limits *l = &c->gw->settings->limits;
    return c->connected ? l->max_payload_bytes : l->preauth_max_bytes;
}

static void fail(cg_conn *c, uint16_t code, const char *reason)
{
    if (wslay_event_get_close_sent(c->ws)) return;
    wslay_event_queue_close(c->ws, code, (const uint8_t *)reason, strlen(reason));
    wslay_event_shutdown_read(c->ws);
}

static void on_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    cg_conn *c = user;
    c->frame_is_data = !(arg->opcode & 0x8);
    c->frame_fin = arg->fin;
    if (!c->frame_is_data) return;
    if (arg->opcode != WSLAY_CONTINUATION_FRAME) {
        c->msg_opcode = arg->opcode;
        c->msg.len = 0;
        c->msg_frames = 0;
    }
    c->msg_frames++;
    int64_t limit = message_limit(c);
    if ((uint64_t)c->msg.len + arg->payload_length > (uint64_t)limit) {
        cg_log(CG_LOG_WARN, "ws", "message too big",
               json_pack("{s:s, s:I, s:I}", "ip", c->peer_ip, "claimed",
                         (json_int_t)(c->msg.len + arg->payload_length), "limit",
                         (json_int_t)limit));
        fail(c, 1009, "message too big");
    } else if (c->msg_frames > MAX_FRAGMENTS) {
        fail(c, 1009, "too many fragments");
    }
}

static void on_frame_chunk(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
    cg_conn *c = user;
    if (c->frame_is_data && wslay_event_get_read_enabled(ctx))
        cg_buf_append(&c->msg, arg->data, arg->data_length);
}

static void on_frame_end(wslay_event_context_ptr ctx, void *user)
{
    cg_conn *c = user;
    if (!c->frame_is_data || !c->frame_fin || !wslay_event_get_read_enabled(ctx)) return;
    c->msg_opcode = 0;
    if (c->paused || c->queued_head) {
        cg_queued_msg *q = cg_xcalloc(1, sizeof *q);
        q->data = c->msg;
        memset(&c->msg, 0, sizeof c->msg);
        if (c->queued_tail)
            c->queued_tail->next = q;
        else
            c->queued_head = q;
        c->queued_tail = q;
        return;
    }
    cg_conn_message(c, c->msg.data ? c->msg.data : "", c->msg.len);
    c->msg.len = 0;
    if (c->msg.cap > 65536) cg_buf_reset(&c->msg);
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    /* Data messages arrive through the frame callbacks; of the control frames only a
     * close matters here: wslay queued the reply, and settle() closes the socket once
     * it is written. */
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) wslay_event_shutdown_read(ctx);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv,
    .send_callback = ws_send,
    .on_frame_recv_start_callback = on_frame_start,
    .on_frame_recv_chunk_callback = on_frame_chunk,
    .on_frame_recv_end_callback = on_frame_end,
    .on_msg_recv_callback = on_msg,
};

int cg_ws_begin(cg_conn *c)
{
    if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) return -1;
    wslay_event_config_set_no_buffering(c->ws, 1);
    wslay_event_config_set_max_recv_msg_length(c->ws,
                                               (uint64_t)c->gw->settings->limits.max_payload_bytes);
    c->phase = CG_CONN_WS;
    return 0;
}

/* After wslay ran: send what it queued, and close when the close handshake is over. */
static void settle(cg_conn *c)
{
    if (c->closed) return;
    wslay_event_send(c->ws);
    if (wslay_event_get_queued_msg_count(c->ws) > MAX_QUEUED_CONTROL) {
        cg_conn_close(c); /* a peer that sends pings and never reads */
        return;
    }
    if (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws)) {
        cg_conn_close_after_flush(c);
        return;
    }
    if (cg_conn_buffered(c) > (size_t)c->gw->settings->limits.max_buffered_bytes) {
        cg_log(
            CG_LOG_WARN, "ws", "slow consumer",
            json_pack("{s:s, s:I}", "ip", c->peer_ip, "buffered", (json_int_t)cg_conn_buffered(c)));
        /* Output not yet handed to the kernel is whole frames (see conn.c): drop it so
         * the close frame is next after what is already in flight. TLS records cannot
         * be dropped; there the close frame waits behind them. */
        if (!c->ssl) c->out.len = 0;
        cg_ws_close(c, 1013, "slow consumer");
        return;
    }
    cg_conn_flush(c);
}

void cg_ws_feed(cg_conn *c, const uint8_t *data, size_t len)
{
    if (!c->ws) return;
    c->in = data;
    c->in_len = len;
    int rc = wslay_event_recv(c->ws);
    if (c->in_len > 0) {
        /* Paused mid-way: keep the rest for cg_conn_resume. */
        cg_buf_append(&c->pending, c->in, c->in_len);
        c->in_len = 0;
    }
    c->in = NULL;
    if (c->closed) return;
    if (rc == WSLAY_ERR_CALLBACK_FAILURE || rc == WSLAY_ERR_PROTO) {
        /* A control frame wslay refuses without answering (over 125 bytes, fragmented,
         * non-minimal length): answer close 1002 ourselves. */
        if (!wslay_event_get_close_sent(c->ws)) {
            static const uint8_t close_1002[] = {0x88, 0x02, 0x03, 0xEA};
            cg_conn_write(c, close_1002, sizeof close_1002);
        } else {
            wslay_event_send(c->ws);
        }
        cg_conn_close_after_flush(c);
        return;
    }
    if (rc != 0) {
        cg_conn_close(c);
        return;
    }
    settle(c);
}

void cg_ws_resume(cg_conn *c)
{
    while (c->queued_head && !c->paused && !c->closed) {
        cg_queued_msg *q = c->queued_head;
        c->queued_head = q->next;
        if (!c->queued_head) c->queued_tail = NULL;
        cg_conn_message(c, q->data.data ? q->data.data : "", q->data.len);
        cg_buf_reset(&q->data);
        free(q);
    }
}

void cg_ws_send_text(cg_conn *c, const char *data, size_t len)
{
    if (!c->ws || c->closed || !wslay_event_get_write_enabled(c->ws)) return;
    struct wslay_event_msg m = {
        .opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)data, .msg_length = len};
    if (wslay_event_queue_msg(c->ws, &m) != 0) return;
    settle(c); /* the socket write itself waits for the end of a read callback */
}

void cg_ws_close(cg_conn *c, uint16_t code, const char *reason)
{
    if (!c->ws || c->closed) return;
    fail(c, code, reason);
    wslay_event_send(c->ws);
    cg_conn_close_after_flush(c);
}

void cg_ws_free(cg_conn *c)
{
    while (c->queued_head) {
        cg_queued_msg *q = c->queued_head;
        c->queued_head = q->next;
        cg_buf_reset(&q->data);
        free(q);
    }
    if (c->ws) wslay_event_context_free(c->ws);
    c->ws = NULL;
}
