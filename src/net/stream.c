/* A TCP connection as a byte stream. See stream.h for the design. */
#include "net/stream.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

/* One read buffer for every stream: input is consumed (or copied to `held`) before the
 * next read, and the loop is single-threaded. */
#define READ_BUF_SIZE (64 * 1024)
static char read_buf[READ_BUF_SIZE];
static bool read_buf_busy;
static uint8_t plain_buf[16384]; /* TLS plaintext, consumed before the next SSL_read */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    if (!read_buf_busy) {
        read_buf_busy = true;
        *buf = uv_buf_init(read_buf, sizeof read_buf);
    } else {
        *buf = uv_buf_init(cg_xmalloc(READ_BUF_SIZE), READ_BUF_SIZE);
    }
}

static void release_read_buf(const uv_buf_t *buf)
{
    if (buf->base == read_buf)
        read_buf_busy = false;
    else
        free(buf->base);
}

bool cg_stream_is_open(const cg_stream *s)
{
    return s->state == CG_STREAM_OPEN;
}

/* Input while closing gracefully is read only to be thrown away. */
static void discard(cg_stream *s, size_t len)
{
    s->discarded += len;
    if (s->discarded > CG_STREAM_LINGER_MAX_BYTES) cg_stream_close(s);
}

/* Holding: past hold_max held bytes, reading stops. */
static void hold_check(cg_stream *s)
{
    if (s->holding && !s->paused && s->held.len > s->hold_max) {
        s->paused = true;
        uv_read_stop((uv_stream_t *)&s->tcp);
    }
}

static void deliver(cg_stream *s, const uint8_t *data, size_t len)
{
    if (s->state != CG_STREAM_OPEN) {
        discard(s, len);
        return;
    }
    if (s->paused || s->holding || s->held.len > 0) {
        cg_buf_append(&s->held, data, len);
        hold_check(s);
        return;
    }
    size_t used = s->cb->on_data(s, data, len);
    if (used < len && s->state == CG_STREAM_OPEN) {
        cg_buf_append(&s->held, data + used, len - used);
        if (s->holding)
            hold_check(s);
        else
            cg_stream_pause(s);
    }
}

/* Ciphertext in: decrypts every complete record and delivers the plaintext. */
static void tls_read(cg_stream *s, const uint8_t *data, size_t len)
{
    s->tls.in = data;
    s->tls.in_len = len;
    while (s->state == CG_STREAM_OPEN) {
        int n = SSL_read(s->ssl, plain_buf, sizeof plain_buf);
        if (n > 0) {
            deliver(s, plain_buf, (size_t)n);
            continue;
        }
        int e = SSL_get_error(s->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        ERR_clear_error();
        cg_stream_close(s); /* a TLS alert, a close_notify or garbage */
        break;
    }
    s->tls.in = NULL;
    s->tls.in_len = 0;
}

static void on_read(uv_stream_t *handle, ssize_t nread, const uv_buf_t *buf)
{
    cg_stream *s = handle->data;
    if (nread < 0) {
        release_read_buf(buf);
        cg_stream_close(s); /* EOF or error, in every state */
        return;
    }
    if (nread > 0 && s->state != CG_STREAM_CLOSED) {
        s->in_read_callback = true;
        if (s->state != CG_STREAM_OPEN)
            discard(s, (size_t)nread);
        else if (s->ssl)
            tls_read(s, (const uint8_t *)buf->base, (size_t)nread);
        else
            deliver(s, (const uint8_t *)buf->base, (size_t)nread);
        s->in_read_callback = false;
    }
    release_read_buf(buf);
    cg_stream_flush(s);
}

int cg_stream_accept(cg_stream *s, uv_stream_t *server, SSL_CTX *ctx, const cg_stream_callbacks *cb,
                     void *user)
{
    s->cb = cb;
    s->user = user;
    s->state = CG_STREAM_OPEN;
    uv_tcp_init(server->loop, &s->tcp);
    s->tcp.data = s;
    int rc = uv_accept(server, (uv_stream_t *)&s->tcp);
    if (rc == 0 && ctx) {
        s->ssl = SSL_new(ctx);
        BIO *bio = s->ssl ? cg_tls_pipe_bio(&s->tls) : NULL;
        s->tls.out = &s->out;
        if (bio) {
            SSL_set_bio(s->ssl, bio, bio);
            SSL_set_accept_state(s->ssl);
        } else {
            rc = UV_ENOMEM;
        }
    }
    if (rc != 0) {
        cg_stream_close(s);
        return rc;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, s->peer_ip, sizeof s->peer_ip);
        else
            uv_ip6_name((struct sockaddr_in6 *)&ss, s->peer_ip, sizeof s->peer_ip);
    }
    if (strncmp(s->peer_ip, "::ffff:", 7) == 0)
        memmove(s->peer_ip, s->peer_ip + 7, strlen(s->peer_ip + 7) + 1);
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    return 0;
}

void cg_stream_write(cg_stream *s, const void *data, size_t len)
{
    if (len == 0 || (s->state != CG_STREAM_OPEN && s->state != CG_STREAM_DRAINING)) return;
    if (s->ssl) {
        if (SSL_write(s->ssl, data, (int)len) <= 0) ERR_clear_error();
    } else {
        cg_buf_append(&s->out, data, len);
    }
    cg_stream_flush(s);
}

size_t cg_stream_buffered(const cg_stream *s)
{
    return s->out.len + s->in_flight;
}

bool cg_stream_backed_up(const cg_stream *s)
{
    return s->in_flight > 0;
}

void cg_stream_drop_unsent(cg_stream *s)
{
    if (!s->ssl) s->out.len = 0;
}

typedef struct write_req {
    uv_write_t req;
    cg_stream *stream;
    char *data;
    size_t len;
} write_req;

static void on_shutdown(uv_shutdown_t *req, int status)
{
    cg_stream *s = req->data;
    free(req);
    if (status < 0) cg_stream_close(s);
}

/* Graceful close, once everything queued is written: FIN, then linger. */
static void shut_down_writing(cg_stream *s)
{
    s->state = CG_STREAM_LINGERING;
    uv_shutdown_t *req = cg_xmalloc(sizeof *req);
    req->data = s;
    if (uv_shutdown(req, (uv_stream_t *)&s->tcp, on_shutdown) != 0) {
        free(req);
        cg_stream_close(s);
    }
}

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    cg_stream *s = w->stream;
    s->in_flight -= w->len;
    free(w->data);
    free(w);
    if (s->state == CG_STREAM_CLOSED) return;
    if (status < 0) {
        cg_stream_close(s);
        return;
    }
    cg_stream_flush(s);
    if (s->was_backed_up && cg_stream_buffered(s) == 0 && s->state != CG_STREAM_CLOSED) {
        s->was_backed_up = false;
        if (s->cb->on_drain) s->cb->on_drain(s);
    }
}

/* Hands `out` to the kernel: all of it when it takes it now, else up to the high-water
 * mark through uv_write (the buffer is handed over, not copied, when nothing was taken). */
static void write_out(cg_stream *s)
{
    uv_buf_t b = uv_buf_init(s->out.data, (unsigned)s->out.len);
    int n = s->in_flight == 0 ? uv_try_write((uv_stream_t *)&s->tcp, &b, 1) : UV_EAGAIN;
    if (n < 0 && n != UV_EAGAIN) {
        cg_stream_close(s);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    if (done == s->out.len) {
        s->out.len = 0;
        if (s->out.cap > 16384) cg_buf_reset(&s->out); /* no large buffer for an idle peer */
        return;
    }
    write_req *w = cg_xmalloc(sizeof *w);
    w->stream = s;
    w->len = s->out.len - done;
    if (done == 0) {
        w->data = s->out.data;
        s->out.data = NULL;
        s->out.len = s->out.cap = 0;
    } else {
        w->data = cg_xmalloc(w->len);
        memcpy(w->data, s->out.data + done, w->len);
        s->out.len = 0;
    }
    s->in_flight += w->len;
    s->was_backed_up = true;
    uv_buf_t wb = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&s->tcp, &wb, 1, on_written) != 0) {
        s->in_flight -= w->len;
        free(w->data);
        free(w);
        cg_stream_close(s);
    }
}

void cg_stream_flush(cg_stream *s)
{
    if (s->in_read_callback || s->state == CG_STREAM_CLOSED || s->state == CG_STREAM_LINGERING)
        return;
    if (s->out.len > 0 && s->in_flight < CG_STREAM_WRITE_HIGH_WATER) write_out(s);
    if (s->state == CG_STREAM_DRAINING && cg_stream_buffered(s) == 0) shut_down_writing(s);
}

bool cg_stream_writable(cg_stream *s)
{
    if (s->state != CG_STREAM_OPEN) return false;
    if (s->out.len > 0 && s->in_flight < CG_STREAM_WRITE_HIGH_WATER) write_out(s);
    /* Still this much queued means some of it is with uv_write: on_written will call
     * on_drain once everything is out. */
    return cg_stream_buffered(s) < CG_STREAM_WRITE_HIGH_WATER;
}

void cg_stream_pause(cg_stream *s)
{
    if (s->paused || s->state != CG_STREAM_OPEN) return;
    s->paused = true;
    uv_read_stop((uv_stream_t *)&s->tcp);
}

void cg_stream_hold(cg_stream *s, size_t max_bytes)
{
    if (s->state != CG_STREAM_OPEN) return;
    s->holding = true;
    s->hold_max = max_bytes;
    hold_check(s);
}

void cg_stream_resume(cg_stream *s)
{
    if ((!s->paused && !s->holding) || s->state != CG_STREAM_OPEN) return;
    bool was_reading = !s->paused;
    s->paused = false;
    s->holding = false;
    bool outer = s->in_read_callback;
    s->in_read_callback = true;
    if (s->held.len > 0) {
        cg_buf held = s->held;
        memset(&s->held, 0, sizeof s->held);
        deliver(s, (const uint8_t *)held.data, held.len);
        cg_buf_reset(&held);
    }
    s->in_read_callback = outer;
    if (!s->paused && !was_reading && s->state == CG_STREAM_OPEN)
        uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    cg_stream_flush(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    cg_stream *s = h->data;
    cg_buf_reset(&s->out);
    cg_buf_reset(&s->held);
    if (s->ssl) SSL_free(s->ssl);
    s->ssl = NULL;
    s->cb->on_closed(s);
}

void cg_stream_close(cg_stream *s)
{
    if (s->state == CG_STREAM_CLOSED) return;
    bool was_open = s->state == CG_STREAM_OPEN;
    s->state = CG_STREAM_CLOSED;
    if (s->linger_timer) {
        uv_close((uv_handle_t *)s->linger_timer, (uv_close_cb)free);
        s->linger_timer = NULL;
    }
    if (was_open && s->cb->on_closing) s->cb->on_closing(s);
    uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
}

static void on_linger_timeout(uv_timer_t *t)
{
    cg_stream_close(t->data);
}

void cg_stream_close_graceful(cg_stream *s)
{
    if (s->state != CG_STREAM_OPEN) return;
    s->state = CG_STREAM_DRAINING;
    cg_buf_reset(&s->held);
    s->holding = false;
    if (s->cb->on_closing) s->cb->on_closing(s);
    s->linger_timer = cg_xmalloc(sizeof *s->linger_timer);
    uv_timer_init(s->tcp.loop, s->linger_timer);
    s->linger_timer->data = s;
    uv_timer_start(s->linger_timer, on_linger_timeout, CG_STREAM_LINGER_MS, 0);
    if (s->paused) {
        s->paused = false;
        uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    }
    cg_stream_flush(s);
}
