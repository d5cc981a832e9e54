/* HTTP/1.1 on a stream: requests in (http-parser), responses out.
 *
 * The parser reads one request at a time, bounded: header bytes (request line and
 * headers) by max_header_bytes (431 beyond), the body by max_body_bytes (413 as soon as
 * a Content-Length or the chunks so far pass it). It stops after each complete request
 * (or after the headers of an upgrade) so the owner answers before the next pipelined
 * request is read; cg_http_parser_next() readies it for the next one on a keep-alive
 * connection.
 *
 * Responses carry the seed's security headers (X-Frame-Options DENY,
 * X-Content-Type-Options nosniff, Referrer-Policy no-referrer, and a
 * Content-Security-Policy of default-src 'self' unless the caller gives its own).
 * Streaming responses use chunked transfer coding; Server-Sent Events are chunks in
 * text/event-stream form. A producer writes while cg_stream_writable() says so and
 * goes on from the stream's on_drain otherwise, so a slow reader holds at most
 * CG_STREAM_WRITE_HIGH_WATER plus one chunk. */
#ifndef CG_NET_HTTP_H
#define CG_NET_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"
#include "net/stream.h"

typedef struct cg_http_header {
    char *name; /* lowercased */
    char *value;
} cg_http_header;

typedef struct cg_http_request {
    enum http_method method;
    char *target;      /* as sent: path and query */
    char *path;        /* the target up to '?' */
    const char *query; /* after '?' (inside target), or NULL */
    cg_http_header *headers;
    size_t n_headers;
    cg_buf body;
    bool keep_alive;
    bool upgrade;
} cg_http_request;

/* A header's value; repeated headers are joined with ", ". NULL when absent. */
const char *cg_http_request_header(const cg_http_request *r, const char *lowercase_name);
/* Whether a comma-separated header holds `token` (case-insensitive), e.g. Connection. */
bool cg_http_header_has_token(const char *value, const char *token);

typedef enum {
    CG_HTTP_NEED_MORE, /* everything was consumed; the request is not complete */
    CG_HTTP_READY,     /* a request (or an upgrade's headers) is in parser->request */
    CG_HTTP_BAD,       /* answer parser->error_status and close */
} cg_http_result;

typedef struct cg_http_parser {
    http_parser parser;
    cg_http_request request;
    size_t max_header_bytes, max_body_bytes;
    size_t header_bytes;
    int error_status; /* 400, 413 or 431 after CG_HTTP_BAD */
    bool message_done;
    bool in_value;
    cg_buf field, value;
} cg_http_parser;

void cg_http_parser_init(cg_http_parser *p, size_t max_header_bytes, size_t max_body_bytes);
/* Forgets the answered request and reads the next one. */
void cg_http_parser_next(cg_http_parser *p);
void cg_http_parser_free(cg_http_parser *p);
/* Parses data; *used tells how much was consumed (for an upgrade, what follows is the
 * first WebSocket bytes; after a complete request, the next pipelined one). */
cg_http_result cg_http_parser_feed(cg_http_parser *p, const uint8_t *data, size_t len,
                                   size_t *used);

const char *cg_http_reason(int status);

typedef struct cg_http_response {
    int status;
    const char *content_type; /* NULL: no body type (e.g. 204) */
    const char *headers;      /* extra header lines, each ending in CRLF, or NULL */
    const void *body;
    size_t body_len;
    bool head_only;  /* HEAD: the headers of the body, not the body */
    bool keep_alive; /* else Connection: close */
} cg_http_response;

/* Writes a whole response to the stream. */
void cg_http_respond(cg_stream *s, const cg_http_response *r);
/* 101 Switching Protocols with the caller's headers (Upgrade, Connection, ...). */
void cg_http_respond_switching(cg_stream *s, const char *headers);
/* A response head with Transfer-Encoding: chunked; the body follows as chunks. */
void cg_http_stream_begin(cg_stream *s, int status, const char *content_type, const char *headers,
                          bool keep_alive);
void cg_http_stream_chunk(cg_stream *s, const void *data, size_t len);
/* One Server-Sent Event (`event:` omitted when NULL; data split into `data:` lines). */
void cg_http_stream_sse(cg_stream *s, const char *event, const char *data, size_t len);
/* The last chunk. */
void cg_http_stream_end(cg_stream *s);

#endif
