/* libcurl multi on the libuv loop. See http_client.h.
 *
 * curl asks for socket interest through CURLMOPT_SOCKETFUNCTION (one uv_poll_t per
 * socket, assigned with curl_multi_assign) and for a timeout through
 * CURLMOPT_TIMERFUNCTION (one uv_timer_t; curl_multi_socket_action is never called from
 * inside it). After every action the finished transfers are drained with
 * curl_multi_info_read. curl forbids adding or removing handles from inside its own
 * callbacks, so while a curl call is on the stack (depth > 0) starts, cancels and a free
 * are queued and done when it returns. */
#include "agent/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_IDLE_TIMEOUT_MS 120000L
#define MAX_HEADER_BYTES (16 * 1024)

typedef struct poll_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    cg_http *h;
    struct poll_ctx *prev, *next;
} poll_ctx;

struct cg_http_req {
    cg_http *h;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    cg_http_callbacks cb;
    void *data;
    bool added;     /* in the multi handle */
    bool cancelled; /* no callback any more; reaped when depth returns to 0 */
    bool head_seen;
    bool aborted; /* on_data said stop */
    cg_buf resp_headers;
    char errbuf[CURL_ERROR_SIZE];
    cg_http_req *prev, *next;
};

struct cg_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    poll_ctx *polls;
    cg_http_req *reqs;
    int depth;
    bool freeing;
    int open_handles; /* uv handles not yet closed; the struct is freed at 0 */
};

static uv_once_t curl_once = UV_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The poll handle is the first member of its context. */
static void handle_closed(uv_handle_t *handle)
{
    cg_http *h = handle->data;
    if (handle->type == UV_POLL) free((poll_ctx *)(void *)handle);
    if (--h->open_handles == 0) free(h);
}

static void teardown(cg_http *h);
static void process_deferred(cg_http *h);

static void enter(cg_http *h)
{
    h->depth++;
}

static void leave(cg_http *h)
{
    if (--h->depth > 0) return;
    process_deferred(h);
}

/* ---- requests ---- */

static void unlink_req(cg_http_req *r)
{
    cg_http *h = r->h;
    if (r->prev)
        r->prev->next = r->next;
    else if (h->reqs == r)
        h->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void free_req(cg_http_req *r)
{
    if (r->added) curl_multi_remove_handle(r->h->multi, r->easy);
    r->added = false;
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    cg_buf_reset(&r->resp_headers);
    unlink_req(r);
    free(r);
}

static size_t on_curl_header(char *buf, size_t size, size_t n, void *userdata)
{
    cg_http_req *r = userdata;
    size_t len = size * n;
    if (r->cancelled) return 0;
    if (len >= 5 && !memcmp(buf, "HTTP/", 5)) r->resp_headers.len = 0; /* a new response */
    if (r->resp_headers.len + len <= MAX_HEADER_BYTES) cg_buf_append(&r->resp_headers, buf, len);
    if ((len == 2 && !memcmp(buf, "\r\n", 2)) || (len == 1 && buf[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && !r->head_seen) {
            r->head_seen = true;
            if (r->cb.on_head) r->cb.on_head(r, code, r->data);
            if (r->cancelled) return 0;
        }
    }
    return len;
}

static size_t on_curl_write(char *buf, size_t size, size_t n, void *userdata)
{
    cg_http_req *r = userdata;
    size_t len = size * n;
    if (r->cancelled) return 0;
    if (!r->head_seen) {
        long code = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        r->head_seen = true;
        if (r->cb.on_head) r->cb.on_head(r, code, r->data);
        if (r->cancelled) return 0;
    }
    if (!r->cb.on_data) return len;
    if (!r->cb.on_data(r, buf, len, r->data)) {
        r->aborted = true;
        return 0;
    }
    return r->cancelled ? 0 : len;
}

static void add_now(cg_http *h, cg_http_req *r)
{
    /* Fails only out of memory or on misuse (never inside a curl callback here: such
     * starts are deferred), neither of which can be answered sensibly. */
    if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) abort();
    r->added = true;
}

cg_http_req *cg_http_start(cg_http *h, const cg_http_request *rq, const cg_http_callbacks *cb,
                           void *data)
{
    uv_once(&curl_once, curl_init_once);
    cg_http_req *r = cg_xcalloc(1, sizeof *r);
    r->h = h;
    r->cb = *cb;
    r->data = data;
    r->easy = curl_easy_init();
    if (!r->easy) abort(); /* out of memory */
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_curl_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_curl_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    long connect_ms =
        rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    long idle_ms = rq->idle_timeout_ms > 0 ? rq->idle_timeout_ms : DEFAULT_IDLE_TIMEOUT_MS;
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (idle_ms + 999) / 1000);
    if (rq->total_timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, rq->total_timeout_ms);
    for (size_t i = 0; i < rq->n_headers; i++)
        r->headers = curl_slist_append(r->headers, rq->headers[i]);
    /* No "Expect: 100-continue" round trip before a body. */
    r->headers = curl_slist_append(r->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (rq->method && !strcmp(rq->method, "POST")) {
        r->body = cg_xmalloc(rq->body_len + 1);
        if (rq->body_len) memcpy(r->body, rq->body, rq->body_len);
        r->body[rq->body_len] = 0;
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    r->next = h->reqs;
    if (h->reqs) h->reqs->prev = r;
    h->reqs = r;
    if (h->depth == 0) {
        enter(h);
        add_now(h, r);
        leave(h);
    }
    /* else: added by process_deferred when the curl call on the stack returns */
    return r;
}

void cg_http_cancel(cg_http_req *r)
{
    if (!r || r->cancelled) return;
    r->cancelled = true;
    cg_http *h = r->h;
    if (h->depth == 0) free_req(r);
    /* else: reaped by process_deferred; its curl callbacks refuse to go on meanwhile */
}

const char *cg_http_header(cg_http_req *r, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = r->resp_headers.data, *end = p ? p + r->resp_headers.len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if ((size_t)(eol - p) > nlen && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t len = (size_t)(ve - v);
            if (len >= outlen) len = outlen - 1;
            memcpy(out, v, len);
            out[len] = 0;
            return out;
        }
        p = eol + 1;
    }
    return NULL;
}

size_t cg_http_active(const cg_http *h)
{
    size_t n = 0;
    for (const cg_http_req *r = h->reqs; r; r = r->next)
        if (!r->cancelled) n++;
    return n;
}

/* ---- finished transfers ---- */

static cg_http_status classify(CURLcode rc, bool connected)
{
    switch (rc) {
    case CURLE_OK:
        return CG_HTTP_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        return CG_HTTP_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return CG_HTTP_TIMEOUT;
    case CURLE_WRITE_ERROR:
        return CG_HTTP_ABORTED;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return connected ? CG_HTTP_CUT : CG_HTTP_CONNECT;
    default:
        return CG_HTTP_FAILED;
    }
}

static void drain(cg_http *h)
{
    CURLMsg *msg;
    int left;
    while (!h->freeing && (msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        cg_http_req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r || r->cancelled) continue;
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(h->multi, r->easy);
        r->added = false;
        long code = 0;
        curl_off_t connect_time = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connect_time);
        bool connected = connect_time > 0 || code > 0;
        cg_http_result res = {
            .status = classify(rc, connected), .code = code, .connected = connected};
        if (r->aborted) res.status = CG_HTTP_ABORTED;
        if (rc == CURLE_OPERATION_TIMEDOUT && !connected) res.status = CG_HTTP_TIMEOUT;
        res.error = rc == CURLE_OK ? "" : (r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        r->cancelled = true; /* nothing more after on_done */
        if (r->cb.on_done) r->cb.on_done(r, &res, r->data);
        free_req(r);
    }
}

static void socket_action(cg_http *h, curl_socket_t fd, int flags)
{
    enter(h);
    int running = 0;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    drain(h);
    leave(h);
}

static void process_deferred(cg_http *h)
{
    /* Nothing here may run a curl call that calls back into user code, so the loop ends. */
    h->depth++;
    cg_http_req *next;
    for (cg_http_req *r = h->reqs; r; r = next) {
        next = r->next;
        if (r->cancelled)
            free_req(r);
        else if (!r->added && !h->freeing)
            add_now(h, r);
    }
    h->depth--;
    if (h->freeing) teardown(h);
}

/* ---- the curl <-> libuv glue ---- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    poll_ctx *ctx = (poll_ctx *)p;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    socket_action(ctx->h, ctx->fd, flags);
}

static void close_poll(cg_http *h, poll_ctx *ctx)
{
    if (ctx->prev)
        ctx->prev->next = ctx->next;
    else
        h->polls = ctx->next;
    if (ctx->next) ctx->next->prev = ctx->prev;
    uv_poll_stop(&ctx->poll);
    uv_close((uv_handle_t *)&ctx->poll, handle_closed);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    cg_http *h = userp;
    poll_ctx *ctx = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ctx) {
            curl_multi_assign(h->multi, fd, NULL);
            close_poll(h, ctx);
        }
        return 0;
    }
    if (!ctx) {
        ctx = cg_xcalloc(1, sizeof *ctx);
        ctx->fd = fd;
        ctx->h = h;
        if (uv_poll_init_socket(h->loop, &ctx->poll, fd) != 0) {
            free(ctx);
            return -1;
        }
        ctx->poll.data = h;
        h->open_handles++;
        ctx->next = h->polls;
        if (h->polls) h->polls->prev = ctx;
        h->polls = ctx;
        curl_multi_assign(h->multi, fd, ctx);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    uv_poll_start(&ctx->poll, events, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    cg_http *h = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

cg_http *cg_http_new(uv_loop_t *loop)
{
    uv_once(&curl_once, curl_init_once);
    cg_http *h = cg_xcalloc(1, sizeof *h);
    h->loop = loop;
    h->multi = curl_multi_init();
    if (!h->multi) abort();
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->open_handles = 1;
    return h;
}

static void teardown(cg_http *h)
{
    h->depth++; /* no deferral loop from here */
    while (h->reqs)
        free_req(h->reqs);
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    while (h->polls)
        close_poll(h, h->polls);
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, handle_closed);
}

void cg_http_free(cg_http *h)
{
    if (!h || h->freeing) return;
    h->freeing = true;
    for (cg_http_req *r = h->reqs; r; r = r->next)
        r->cancelled = true;
    if (h->depth == 0) teardown(h);
}
