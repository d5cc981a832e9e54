/* A connection: the stream's callbacks, the move to WebSocket, sending, lifetime.
 * See conn.h for the design. */
#include "gateway/conn.h"

#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "common/log.h"
#include "gateway/gateway_int.h"
#include "proto/frame.h"

static uint64_t mono_ms(void)
{
    return cg_mono_ns() / 1000000u;
}

static cg_conn *conn_of(cg_stream *s)
{
    return (cg_conn *)s; /* the stream is the first member */
}

static size_t on_data(cg_stream *s, const uint8_t *data, size_t len)
{
    cg_conn *c = conn_of(s);
    switch (c->phase) {
    case CG_PHASE_HTTP:
        return cg_http_conn_feed(c, data, len);
    case CG_PHASE_WS:
        return cg_ws_feed(c->ws, data, len);
    case CG_PHASE_CLOSED:
        break;
    }
    return len;
}

static void on_drain(cg_stream *s)
{
    cg_conn *c = conn_of(s);
    if (c->ws)
        cg_ws_drained(c->ws);
    else if (c->phase == CG_PHASE_HTTP && c->exchange)
        cg_http_exchange_drained(c); /* a streamed answer may go on */
    else if (c->phase == CG_PHASE_HTTP)
        cg_stream_resume(s); /* the answers it waited behind are out */
}

/* What depended on a closed connection ends here: its pending requests, the CLOSED hooks,
 * its place in the connId map and in the connection count. */
void cg_conn_finish_closing(cg_conn *c)
{
    cg_connect_closed(c);
    cg_pending_conn_closed(c);
    cg_http_exchange_conn_closed(c);
    if (c->registered) cg_clients_closed(c);
    if (c->counted_ws) {
        c->counted_ws = false;
        c->gw->n_ws--;
    }
}

/* The stream stopped being open. Nothing more is processed at once; the rest follows on
 * the next loop turn, because this may run inside a send (a 1013 cut while a request is
 * being answered or a broadcast goes out), where ending requests or running hooks would
 * pull state from under the caller. */
static void on_closing(cg_stream *s)
{
    cg_conn *c = conn_of(s);
    if (c->phase == CG_PHASE_CLOSED) return;
    c->phase = CG_PHASE_CLOSED;
    cg_clients_closing_later(c->gw, c);
}

static void on_closed(cg_stream *s)
{
    cg_conn *c = conn_of(s);
    cg_clients_removed(c->gw, c);
    cg_conn_unref(c);
}

static const cg_stream_callbacks stream_callbacks = {
    .on_data = on_data,
    .on_drain = on_drain,
    .on_closing = on_closing,
    .on_closed = on_closed,
};

void cg_conn_accept(cg_gateway *gw, uv_stream_t *server, SSL_CTX *tls, cg_ingress ingress)
{
    cg_conn *c = cg_xcalloc(1, sizeof *c);
    c->gw = gw;
    c->ingress = ingress;
    c->refs = 1; /* the socket's */
    c->phase = CG_PHASE_HTTP;
    c->accepted_ms = c->last_active_ms = mono_ms();
    cg_clients_added(gw, c);
    if (cg_stream_accept(&c->stream, server, tls, &stream_callbacks, c) != 0) return;
    snprintf(c->client_ip, sizeof c->client_ip, "%s", c->stream.peer_ip);
}

void cg_conn_tailscale_headers(const cg_conn *c, cg_tailscale_headers *out)
{
    *out = (cg_tailscale_headers){.ingress = c->ingress,
                                  .peer_ip = c->stream.peer_ip,
                                  .forwarded_for = c->forwarded_for,
                                  .forwarded_proto = c->forwarded_proto,
                                  .forwarded_host = c->forwarded_host,
                                  .user_login = c->ts_user_login,
                                  .funnel_request = c->ts_funnel_request};
}

void cg_conn_ref(cg_conn *c)
{
    c->refs++;
}

static void conn_free(cg_conn *c)
{
    cg_conn_data_free(c);
    cg_http_conn_free(c);
    cg_ws_free(c->ws);
    free(c->host);
    free(c->origin);
    free(c->forwarded_for);
    free(c->real_ip);
    free(c->forwarded_proto);
    free(c->forwarded_host);
    free(c->ts_user_login);
    free(c->ts_funnel_request);
    json_decref(c->params);
    free(c);
}

void cg_conn_unref(cg_conn *c)
{
    if (--c->refs == 0) conn_free(c);
}

static void on_ws_message(cg_ws *ws, const char *data, size_t len)
{
    cg_conn_message(cg_ws_user(ws), data, len);
}

static const cg_ws_callbacks ws_callbacks = {.on_message = on_ws_message};

size_t cg_conn_upgraded(cg_conn *c, const uint8_t *rest, size_t rest_len)
{
    const cg_limits *l = &c->gw->settings->limits;
    c->ws = cg_ws_new(&c->stream, &ws_callbacks, c, (uint64_t)l->preauth_max_bytes,
                      (uint64_t)l->max_buffered_bytes);
    if (!c->ws) {
        cg_conn_close(c);
        return rest_len;
    }
    c->phase = CG_PHASE_WS;
    c->counted_ws = true;
    c->gw->n_ws++;
    cg_connect_start(c);
    return rest_len > 0 ? cg_ws_feed(c->ws, rest, rest_len) : 0;
}

bool cg_conn_deliverable(const cg_conn *c)
{
    return c->connected && c->phase == CG_PHASE_WS && !cg_ws_closing(c->ws);
}

void cg_conn_send_ok(cg_conn *c, const char *id, const char *payload_json, size_t len)
{
    if (!c->ws) return;
    cg_buf b = {0};
    cg_frame_res_ok(&b, id, payload_json, len);
    cg_ws_send_text(c->ws, b.data, b.len);
    cg_buf_reset(&b);
}

void cg_conn_send_error(cg_conn *c, const char *id, json_t *error)
{
    if (c->ws) {
        cg_buf b = {0};
        cg_frame_res_error(&b, id ? id : "invalid", error);
        cg_ws_send_text(c->ws, b.data, b.len);
        cg_buf_reset(&b);
    }
    json_decref(error);
}

/* Above this much queued output, droppable events are skipped (never responses). */
static size_t droppable_low_water(const cg_conn *c)
{
    size_t max = (size_t)c->gw->settings->limits.max_buffered_bytes;
    return max / 4 < 1024 * 1024 ? max / 4 : 1024 * 1024;
}

bool cg_conn_send_event_raw(cg_conn *c, const char *event, const char *payload_json, size_t len,
                            unsigned flags)
{
    if (!cg_conn_deliverable(c)) return false;
    if ((flags & CG_EVENT_DROPPABLE) && cg_ws_buffered(c->ws) > droppable_low_water(c)) {
        c->dropped_events++;
        return false;
    }
    cg_buf b = {0};
    cg_state_version sv = {.presence = cg_gateway_presence_version(c->gw),
                           .health = c->gw->health_version};
    cg_frame_event(&b, event, payload_json, len, ++c->event_seq,
                   (flags & CG_EVENT_STATE_VERSION) ? &sv : NULL);
    bool sent = cg_ws_send_text(c->ws, b.data, b.len);
    cg_buf_reset(&b);
    return sent;
}

bool cg_conn_send_event(cg_conn *c, const char *event, json_t *payload, unsigned flags)
{
    char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(payload);
    bool sent = cg_conn_send_event_raw(c, event, text, strlen(text), flags);
    free(text);
    return sent;
}

void cg_conn_send_challenge(cg_conn *c, const char *payload_json, size_t len)
{
    cg_buf b = {0};
    cg_frame_event(&b, "connect.challenge", payload_json, len, 0, NULL);
    cg_ws_send_text(c->ws, b.data, b.len);
    cg_buf_reset(&b);
}

void cg_conn_ws_close(cg_conn *c, uint16_t code, const char *reason)
{
    if (c->ws)
        cg_ws_close(c->ws, code, reason);
    else
        cg_stream_close_graceful(&c->stream);
}

void cg_conn_close(cg_conn *c)
{
    cg_stream_close(&c->stream);
}
