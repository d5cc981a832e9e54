/* HTTP/1.1 requests in, responses out. See http.h. */
#include "net/http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECURITY_HEADERS                                                                           \
    "X-Frame-Options: DENY\r\n"                                                                    \
    "X-Content-Type-Options: nosniff\r\n"                                                          \
    "Referrer-Policy: no-referrer\r\n"
#define DEFAULT_CSP "Content-Security-Policy: default-src 'self'\r\n"
#define MAX_HEADERS 128

static cg_http_parser *parser_of(http_parser *p)
{
    return (cg_http_parser *)p; /* http_parser is the first member */
}

/* Bounds the request line and headers; false once they pass the limit. */
static bool count_header_bytes(cg_http_parser *p, size_t len)
{
    p->header_bytes += len;
    if (p->header_bytes <= p->max_header_bytes) return true;
    p->error_status = 431;
    return false;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    cg_http_parser *p = parser_of(hp);
    if (!count_header_bytes(p, len)) return -1;
    size_t old = p->request.target ? strlen(p->request.target) : 0;
    p->request.target = cg_xrealloc(p->request.target, old + len + 1);
    memcpy(p->request.target + old, at, len);
    p->request.target[old + len] = 0;
    return 0;
}

/* Keeps the header just read. A repeated header is one list, as HTTP says: its values
 * are joined into the first with ", ". */
static bool store_header(cg_http_parser *p)
{
    cg_http_request *r = &p->request;
    char *name = cg_xmalloc(p->field.len + 1);
    for (size_t i = 0; i < p->field.len; i++)
        name[i] = (char)tolower((unsigned char)p->field.data[i]);
    name[p->field.len] = 0;
    cg_buf_append(&p->value, "", 1);
    p->field.len = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcmp(r->headers[i].name, name) != 0) continue;
        size_t a = strlen(r->headers[i].value), b = p->value.len;
        r->headers[i].value = cg_xrealloc(r->headers[i].value, a + 2 + b);
        memcpy(r->headers[i].value + a, ", ", 2);
        memcpy(r->headers[i].value + a + 2, p->value.data, b);
        free(name);
        p->value.len = 0;
        return true;
    }
    if (r->n_headers >= MAX_HEADERS) {
        free(name);
        return false;
    }
    if (r->n_headers % 16 == 0)
        r->headers = cg_xrealloc(r->headers, (r->n_headers + 16) * sizeof *r->headers);
    r->headers[r->n_headers].name = name;
    r->headers[r->n_headers].value = cg_xmalloc(p->value.len);
    memcpy(r->headers[r->n_headers].value, p->value.data, p->value.len);
    r->n_headers++;
    p->value.len = 0;
    return true;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    cg_http_parser *p = parser_of(hp);
    if (!count_header_bytes(p, len)) return -1;
    if (p->in_value) {
        p->in_value = false;
        if (!store_header(p)) {
            p->error_status = 431;
            return -1;
        }
    }
    cg_buf_append(&p->field, at, len);
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    cg_http_parser *p = parser_of(hp);
    if (!count_header_bytes(p, len)) return -1;
    p->in_value = true;
    cg_buf_append(&p->value, at, len);
    return 0;
}

static int on_headers_complete(http_parser *hp)
{
    cg_http_parser *p = parser_of(hp);
    if (p->in_value && !store_header(p)) {
        p->error_status = 431;
        return -1;
    }
    p->in_value = false;
    cg_http_request *r = &p->request;
    r->method = (enum http_method)hp->method;
    r->keep_alive = http_should_keep_alive(hp);
    if (!r->target) r->target = cg_strdup("/");
    char *q = strchr(r->target, '?');
    r->path = q ? strndup(r->target, (size_t)(q - r->target)) : cg_strdup(r->target);
    if (!r->path) abort();
    r->query = q ? q + 1 : NULL;
    if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->max_body_bytes) {
        p->error_status = 413;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    cg_http_parser *p = parser_of(hp);
    if (p->request.body.len + len > p->max_body_bytes) {
        p->error_status = 413;
        return -1;
    }
    cg_buf_append(&p->request.body, at, len);
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    parser_of(hp)->message_done = true;
    http_parser_pause(hp, 1); /* one request at a time: the owner answers first */
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void cg_http_parser_init(cg_http_parser *p, size_t max_header_bytes, size_t max_body_bytes)
{
    memset(p, 0, sizeof *p);
    http_parser_init(&p->parser, HTTP_REQUEST);
    p->max_header_bytes = max_header_bytes;
    p->max_body_bytes = max_body_bytes;
}

static void free_request(cg_http_request *r)
{
    free(r->target);
    free(r->path);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    cg_buf_reset(&r->body);
    memset(r, 0, sizeof *r);
}

void cg_http_parser_free(cg_http_parser *p)
{
    free_request(&p->request);
    cg_buf_reset(&p->field);
    cg_buf_reset(&p->value);
}

void cg_http_parser_next(cg_http_parser *p)
{
    size_t max_header = p->max_header_bytes, max_body = p->max_body_bytes;
    cg_http_parser_free(p);
    cg_http_parser_init(p, max_header, max_body);
}

cg_http_result cg_http_parser_feed(cg_http_parser *p, const uint8_t *data, size_t len, size_t *used)
{
    *used = http_parser_execute(&p->parser, &settings, (const char *)data, len);
    if (p->parser.upgrade || p->message_done) {
        p->request.upgrade = p->parser.upgrade;
        return CG_HTTP_READY;
    }
    if (HTTP_PARSER_ERRNO(&p->parser) != HPE_OK) {
        if (!p->error_status) p->error_status = 400;
        return CG_HTTP_BAD;
    }
    return CG_HTTP_NEED_MORE;
}

const char *cg_http_request_header(const cg_http_request *r, const char *lowercase_name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcmp(r->headers[i].name, lowercase_name) == 0) return r->headers[i].value;
    return NULL;
}

bool cg_http_header_has_token(const char *value, const char *token)
{
    if (!value) return false;
    size_t tl = strlen(token);
    const char *s = value;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == tl && strncasecmp(s, token, tl) == 0) return true;
        s = e;
    }
    return false;
}

const char *cg_http_reason(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    }
    return "Unknown";
}

/* Status line, security headers, the caller's headers, connection. */
static void write_head(cg_buf *b, int status, const char *content_type, const char *headers,
                       bool keep_alive)
{
    char line[128];
    snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, cg_http_reason(status));
    cg_buf_appends(b, line);
    cg_buf_appends(b, SECURITY_HEADERS);
    if (!headers || !strcasestr(headers, "content-security-policy:"))
        cg_buf_appends(b, DEFAULT_CSP);
    if (content_type) {
        cg_buf_appends(b, "Content-Type: ");
        cg_buf_appends(b, content_type);
        cg_buf_appends(b, "\r\n");
    }
    if (headers) cg_buf_appends(b, headers);
    if (status != 101)
        cg_buf_appends(b, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
}

void cg_http_respond(cg_stream *s, const cg_http_response *r)
{
    cg_buf b = {0};
    write_head(&b, r->status, r->content_type, r->headers, r->keep_alive);
    char length[64];
    snprintf(length, sizeof length, "Content-Length: %zu\r\n\r\n", r->body_len);
    cg_buf_appends(&b, length);
    if (r->body_len && !r->head_only) cg_buf_append(&b, r->body, r->body_len);
    cg_stream_write(s, b.data, b.len);
    cg_buf_reset(&b);
}

void cg_http_respond_switching(cg_stream *s, const char *headers)
{
    cg_buf b = {0};
    write_head(&b, 101, NULL, headers, true);
    cg_buf_appends(&b, "\r\n");
    cg_stream_write(s, b.data, b.len);
    cg_buf_reset(&b);
}

void cg_http_stream_begin(cg_stream *s, int status, const char *content_type, const char *headers,
                          bool keep_alive)
{
    cg_buf b = {0};
    write_head(&b, status, content_type, headers, keep_alive);
    cg_buf_appends(&b, "Transfer-Encoding: chunked\r\n\r\n");
    cg_stream_write(s, b.data, b.len);
    cg_buf_reset(&b);
}

void cg_http_stream_chunk(cg_stream *s, const void *data, size_t len)
{
    if (len == 0) return; /* an empty chunk would end the body */
    cg_buf b = {0};
    char size[32];
    snprintf(size, sizeof size, "%zx\r\n", len);
    cg_buf_appends(&b, size);
    cg_buf_append(&b, data, len);
    cg_buf_appends(&b, "\r\n");
    cg_stream_write(s, b.data, b.len);
    cg_buf_reset(&b);
}

void cg_http_stream_sse(cg_stream *s, const char *event, const char *data, size_t len)
{
    cg_buf b = {0};
    if (event) {
        cg_buf_appends(&b, "event: ");
        cg_buf_appends(&b, event);
        cg_buf_appends(&b, "\n");
    }
    /* Each line of the data is its own data: field (a receiver joins them with "\n").
     * CR, LF and CRLF all end a line in SSE, so all three split here: a CR in the data
     * cannot start a field of its own. */
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && data[i] != '\n' && data[i] != '\r') continue;
        cg_buf_appends(&b, "data: ");
        cg_buf_append(&b, data + start, i - start);
        cg_buf_appends(&b, "\n");
        if (i + 1 < len && data[i] == '\r' && data[i + 1] == '\n') i++;
        start = i + 1;
    }
    cg_buf_appends(&b, "\n");
    cg_http_stream_chunk(s, b.data, b.len);
    cg_buf_reset(&b);
}

void cg_http_stream_end(cg_stream *s)
{
    cg_stream_write(s, "0\r\n\r\n", 5);
}
