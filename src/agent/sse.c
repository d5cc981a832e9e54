/* Server-Sent Events parsing. See sse.h. */
#include "agent/sse.h"

#include <string.h>

void cg_sse_init(cg_sse *p, size_t max_bytes)
{
    memset(p, 0, sizeof *p);
    p->max_bytes = max_bytes;
}

void cg_sse_reset(cg_sse *p)
{
    cg_buf_reset(&p->line);
    cg_buf_reset(&p->data);
    size_t max = p->max_bytes;
    cg_sse_init(p, max);
}

static int dispatch(cg_sse *p, cg_sse_event_fn fn, void *ud)
{
    int rc = 0;
    if (p->has_data) {
        const char *name = p->event[0] ? p->event : "message";
        if (!p->data.data) cg_buf_reserve(&p->data, 1);
        p->data.data[p->data.len] = 0;
        rc = fn(name, p->data.data, p->data.len, ud);
    }
    p->data.len = 0;
    p->has_data = false;
    p->event[0] = 0;
    return rc;
}

static int process_line(cg_sse *p, const char *line, size_t len, cg_sse_event_fn fn, void *ud)
{
    if (len == 0) return dispatch(p, fn, ud);
    if (line[0] == ':') return 0;
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = colon ? len - name_len - 1 : 0;
    if (value_len && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 4 && !memcmp(line, "data", 4)) {
        if (p->data.len + value_len + 1 > p->max_bytes) return CG_SSE_TOO_LONG;
        if (p->has_data) cg_buf_append(&p->data, "\n", 1);
        cg_buf_append(&p->data, value, value_len);
        p->has_data = true;
    } else if (name_len == 5 && !memcmp(line, "event", 5)) {
        size_t n = value_len < CG_SSE_MAX_EVENT_NAME ? value_len : CG_SSE_MAX_EVENT_NAME;
        memcpy(p->event, value, n);
        p->event[n] = 0;
    }
    return 0; /* id, retry and unknown fields are ignored */
}

int cg_sse_feed(cg_sse *p, const char *buf, size_t len, cg_sse_event_fn fn, void *ud)
{
    size_t i = 0;
    if (!p->started && len) {
        /* A UTF-8 BOM may open the stream (a partial one across chunks is not worth it). */
        if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) i = 3;
        p->started = true;
    }
    if (p->skip_lf && i < len) {
        if (buf[i] == '\n') i++;
        p->skip_lf = false;
    }
    while (i < len) {
        const char *start = buf + i;
        size_t rest = len - i, n = 0;
        while (n < rest && start[n] != '\n' && start[n] != '\r')
            n++;
        if (n == rest) { /* no line end yet: keep the piece */
            if (p->line.len + n > p->max_bytes) return CG_SSE_TOO_LONG;
            cg_buf_append(&p->line, start, n);
            return 0;
        }
        int rc;
        if (p->line.len) {
            if (p->line.len + n > p->max_bytes) return CG_SSE_TOO_LONG;
            cg_buf_append(&p->line, start, n);
            rc = process_line(p, p->line.data, p->line.len, fn, ud);
            p->line.len = 0;
        } else {
            if (n > p->max_bytes) return CG_SSE_TOO_LONG;
            rc = process_line(p, start, n, fn, ud);
        }
        i += n;
        if (start[n] == '\r') {
            i++;
            if (i == len)
                p->skip_lf = true;
            else if (buf[i] == '\n')
                i++;
        } else {
            i++;
        }
        if (rc) return rc;
    }
    return 0;
}
