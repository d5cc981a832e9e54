/* Outgoing HTTP on the libuv loop: libcurl's multi interface driven by one uv_poll_t per
 * socket and one uv_timer_t (../shared/STACK-NOTES.md), so a slow provider never blocks
 * the loop. Everything runs on the loop thread.
 *
 * Body bytes are handed to on_data as they arrive (no buffering here: the receiver bounds
 * what it keeps). Requests use HTTP/1.1 (streams over HTTP/2 have pause bugs in curl
 * 7.88), CURLOPT_NOSIGNAL, a connect timeout and an idle timeout (curl's low-speed limit:
 * fewer than 1 byte/s for that long), never a total timeout unless asked. Redirects are
 * not followed.
 *
 * Re-entrancy: callbacks may call cg_http_start, cg_http_cancel and cg_http_free on any
 * request, including their own; work curl forbids inside its callbacks is deferred to the
 * moment the current curl call returns (still on the same loop turn). */
#ifndef CG_AGENT_HTTP_CLIENT_H
#define CG_AGENT_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct cg_http cg_http;
typedef struct cg_http_req cg_http_req;

typedef enum {
    CG_HTTP_OK,      /* a whole response arrived (any status code) */
    CG_HTTP_CONNECT, /* could not resolve, connect or finish the TLS handshake */
    CG_HTTP_TIMEOUT, /* the connect timeout or the idle timeout passed */
    CG_HTTP_CUT,     /* the connection broke before the response was complete */
    CG_HTTP_ABORTED, /* on_data returned false */
    CG_HTTP_FAILED,  /* anything else (a malformed URL, a protocol error) */
} cg_http_status;

typedef struct cg_http_result {
    cg_http_status status;
    long code;         /* HTTP status; 0 when no response head arrived */
    bool connected;    /* a connection was established (a timeout after it is idle) */
    const char *error; /* curl's words ("" when OK); valid during on_done */
} cg_http_result;

typedef struct cg_http_request {
    const char *method;         /* "GET" or "POST" */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* "Name: value" lines */
    size_t n_headers;
    const char *body; /* copied; NULL for none */
    size_t body_len;
    long connect_timeout_ms; /* 0: 10 s */
    long idle_timeout_ms;    /* 0: 120 s; rounded up to whole seconds */
    long total_timeout_ms;   /* 0: none (streams) */
} cg_http_request;

typedef struct cg_http_callbacks {
    /* The response head arrived (status line and headers), before any body byte.
     * Optional. */
    void (*on_head)(cg_http_req *r, long code, void *data);
    /* Body bytes as they arrive. false aborts the transfer (CG_HTTP_ABORTED). */
    bool (*on_data)(cg_http_req *r, const char *buf, size_t len, void *data);
    /* Exactly once, unless the request was cancelled first; the request is freed after. */
    void (*on_done)(cg_http_req *r, const cg_http_result *res, void *data);
} cg_http_callbacks;

cg_http *cg_http_new(uv_loop_t *loop);
/* Cancels every request (no on_done) and frees; the handles close on the next loop
 * turns (run the loop before closing it). */
void cg_http_free(cg_http *h);

/* Starts a request. Never NULL: a request that cannot start ends through on_done. */
cg_http_req *cg_http_start(cg_http *h, const cg_http_request *rq, const cg_http_callbacks *cb,
                           void *data);
/* Ends a request at once: its connection is closed, on_done is never called. */
void cg_http_cancel(cg_http_req *r);
/* A header of the current response (case-insensitive name), or NULL. Valid until the
 * next callback returns. */
const char *cg_http_header(cg_http_req *r, const char *name, char *out, size_t outlen);
/* Requests in flight (tests). */
size_t cg_http_active(const cg_http *h);

#endif
