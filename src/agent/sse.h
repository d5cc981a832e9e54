/* A Server-Sent Events parser (the WHATWG event-stream format) for provider streams.
 * Chunks from the network do not align with events or lines: feed whatever arrived.
 * Lines end in LF, CRLF or CR (a CRLF split across two chunks counts once). Comment
 * lines (":...") and the id and retry fields are skipped; "data" lines join with LF;
 * an empty line dispatches the event. Bounded: a line or an event's data longer than
 * the limit is an error, never a larger buffer. */
#ifndef CG_AGENT_SSE_H
#define CG_AGENT_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

#define CG_SSE_MAX_EVENT_NAME 64

typedef struct cg_sse {
    size_t max_bytes; /* of one line, and of one event's data */
    cg_buf line;
    cg_buf data;
    bool has_data;
    bool skip_lf; /* the previous chunk ended in CR */
    bool started; /* past a leading BOM */
    char event[CG_SSE_MAX_EVENT_NAME + 1];
} cg_sse;

/* An event: its type ("message" when the stream named none) and data (NUL-terminated,
 * len bytes). Returns 0 to go on, anything else to stop parsing (returned by feed). */
typedef int (*cg_sse_event_fn)(const char *event, const char *data, size_t len, void *ud);

#define CG_SSE_TOO_LONG (-1000)

void cg_sse_init(cg_sse *p, size_t max_bytes);
void cg_sse_reset(cg_sse *p); /* frees the buffers */
/* 0, CG_SSE_TOO_LONG, or what fn returned. */
int cg_sse_feed(cg_sse *p, const char *buf, size_t len, cg_sse_event_fn fn, void *ud);

#endif
