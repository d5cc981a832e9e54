/* Connection plumbing: accept, read, write batching, pause/resume, close, lifetime.
 * See conn.h for the design. */
#include "gateway/conn.h"

#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "common/log.h"
#include "gateway/gateway_int.h"

static uint64_t mono_ms(void)
{
    return cg_mono_ns() / 1000000u;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    cg_conn *c = h->data;
    cg_gateway *gw = c->gw;
    /* One shared buffer: input is consumed (or copied to `pending`) before the next read. */
    if (!gw->read_buf_busy) {
        gw->read_buf_busy = true;
        *buf = uv_buf_init(gw->read_buf, sizeof gw->read_buf);
    } else {
        *buf = uv_buf_init(cg_xmalloc(CG_READ_BUF_SIZE), CG_READ_BUF_SIZE);
    }
}

static void release_read_buf(cg_gateway *gw, const uv_buf_t *buf)
{
    if (buf->base == gw->read_buf)
        gw->read_buf_busy = false;
    else
        free(buf->base);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cg_conn *c = s->data;
    cg_gateway *gw = c->gw;
    if (nread < 0) {
        release_read_buf(gw, buf);
        cg_conn_close(c);
        return;
    }
    if (nread == 0 || c->closed) {
        release_read_buf(gw, buf);
        return;
    }
    cg_conn_ref(c);
    c->in_callback = true;
    if (c->ssl) {
        if (cg_tls_read(c, (const uint8_t *)buf->base, (size_t)nread) < 0) cg_conn_close(c);
    } else {
        cg_conn_feed(c, (const uint8_t *)buf->base, (size_t)nread);
    }
    c->in_callback = false;
    release_read_buf(gw, buf);
    cg_conn_flush(c);
    cg_conn_unref(c);
}

void cg_conn_accept(cg_gateway *gw, uv_stream_t *server, bool tls)
{
    cg_conn *c = cg_xcalloc(1, sizeof *c);
    c->gw = gw;
    c->refs = 1; /* the socket's */
    c->serial = ++gw->next_serial;
    uv_tcp_init(gw->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        c->closed = true;
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer_ip, sizeof c->peer_ip);
        else
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer_ip, sizeof c->peer_ip);
    }
    if (strncmp(c->peer_ip, "::ffff:", 7) == 0)
        memmove(c->peer_ip, c->peer_ip + 7, strlen(c->peer_ip + 7) + 1);
    c->peer_loopback = cg_addr_is_loopback(c->peer_ip);
    c->accepted_ms = mono_ms();
    c->phase = CG_CONN_HTTP;
    cg_gateway_conn_added(gw, c);
    if (tls && cg_tls_conn_init(c, gw->ssl_ctx) != 0) {
        cg_conn_close(c);
        return;
    }
    cg_http_begin(c);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void cg_conn_ref(cg_conn *c)
{
    c->refs++;
}

static void conn_free(cg_conn *c)
{
    cg_http_free(c);
    cg_ws_free(c);
    cg_tls_conn_free(c);
    cg_buf_reset(&c->out);
    cg_buf_reset(&c->pending);
    cg_buf_reset(&c->msg);
    free(c->host);
    free(c->origin);
    free(c->forwarded_for);
    free(c->real_ip);
    free(c->client_id);
    free(c->client_mode);
    free(c);
}

void cg_conn_unref(cg_conn *c)
{
    if (--c->refs == 0) conn_free(c);
}

void cg_conn_feed(cg_conn *c, const uint8_t *data, size_t len)
{
    if (c->closed || len == 0) return;
    if (c->paused) {
        cg_buf_append(&c->pending, data, len);
        return;
    }
    switch (c->phase) {
    case CG_CONN_HTTP:
        cg_http_feed(c, data, len);
        break;
    case CG_CONN_WS:
        cg_ws_feed(c, data, len);
        break;
    case CG_CONN_CLOSING:
        break;
    }
}

void cg_conn_write(cg_conn *c, const void *data, size_t len)
{
    if (c->closed) return;
    if (c->ssl)
        cg_tls_write(c, data, len);
    else
        cg_buf_append(&c->out, data, len);
}

size_t cg_conn_buffered(const cg_conn *c)
{
    return c->out.len + c->bytes_in_flight;
}

#define WRITE_HIGH_WATER (256 * 1024)

typedef struct write_req {
    uv_write_t req;
    cg_conn *conn;
    char *data;
    size_t len;
} write_req;

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    cg_conn *c = w->conn;
    c->bytes_in_flight -= w->len;
    free(w->data);
    free(w);
    if (status < 0)
        cg_conn_close(c);
    else
        cg_conn_flush(c); /* what waited in `out` for the kernel to drain, or the close */
    cg_conn_unref(c);
}

void cg_conn_flush(cg_conn *c)
{
    if (c->in_callback || c->closed) return;
    /* At most WRITE_HIGH_WATER bytes are handed to libuv; the rest waits in `out`, so it
     * can still be dropped when a consumer that does not read is cut off with 1013. */
    if (c->out.len > 0 && c->bytes_in_flight < WRITE_HIGH_WATER) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
        /* Fast path: the kernel takes it all now and no request is allocated. */
        int n = c->bytes_in_flight == 0 ? uv_try_write((uv_stream_t *)&c->tcp, &b, 1) : UV_EAGAIN;
        if (n < 0 && n != UV_EAGAIN) {
            cg_conn_close(c);
            return;
        }
        size_t done = n > 0 ? (size_t)n : 0;
        if (done == c->out.len) {
            c->out.len = 0;
            /* Do not keep a large buffer around for an idle connection. */
            if (c->out.cap > 16384) cg_buf_reset(&c->out);
        } else {
            write_req *w = cg_xmalloc(sizeof *w);
            w->conn = c;
            w->len = c->out.len - done;
            if (done == 0) {
                w->data = c->out.data; /* hand the buffer over */
                c->out.data = NULL;
                c->out.len = c->out.cap = 0;
            } else {
                w->data = cg_xmalloc(w->len);
                memcpy(w->data, c->out.data + done, w->len);
                c->out.len = 0;
            }
            c->bytes_in_flight += w->len;
            cg_conn_ref(c);
            uv_buf_t wb = uv_buf_init(w->data, (unsigned)w->len);
            if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &wb, 1, on_written) != 0) {
                c->bytes_in_flight -= w->len;
                free(w->data);
                free(w);
                cg_conn_unref(c);
                cg_conn_close(c);
                return;
            }
        }
    }
    if (c->close_when_flushed && cg_conn_buffered(c) == 0) cg_conn_close(c);
}

void cg_conn_pause(cg_conn *c)
{
    if (c->paused || c->closed) return;
    c->paused = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

void cg_conn_resume(cg_conn *c)
{
    if (!c->paused || c->closed) return;
    c->paused = false;
    c->in_callback = true;
    cg_ws_resume(c);
    if (!c->paused && c->pending.len > 0) {
        cg_buf held = c->pending;
        memset(&c->pending, 0, sizeof c->pending);
        cg_conn_feed(c, (const uint8_t *)held.data, held.len);
        cg_buf_reset(&held);
    }
    c->in_callback = false;
    if (!c->paused && !c->closed && c->phase != CG_CONN_CLOSING)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    cg_conn_flush(c);
}

bool cg_conn_deliverable(const cg_conn *c)
{
    return c->connected && !c->closed && c->phase == CG_CONN_WS;
}

static void on_closed(uv_handle_t *h)
{
    cg_conn *c = h->data;
    cg_gateway_conn_removed(c->gw, c);
    cg_conn_unref(c);
}

void cg_conn_close(cg_conn *c)
{
    if (c->closed) return;
    c->closed = true;
    c->phase = CG_CONN_CLOSING;
    cg_pending_conn_closed(c);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void cg_conn_close_after_flush(cg_conn *c)
{
    if (c->closed) return;
    c->close_when_flushed = true;
    c->phase = CG_CONN_CLOSING;
    c->close_deadline_ms = mono_ms() + 2000;
    uv_read_stop((uv_stream_t *)&c->tcp);
    cg_conn_flush(c);
}
