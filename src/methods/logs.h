/* logs.tail: the gateway's own log, read by cursor (src/methods/logs.c registers the
 * method and runs it off the loop; src/methods/logs_tail.c holds the file logic, which
 * needs no gateway). */
#ifndef CG_METHODS_LOGS_H
#define CG_METHODS_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/methods.h"

#define CG_LOGS_TAIL_DEFAULT_LIMIT 500
#define CG_LOGS_TAIL_MAX_LIMIT 5000
#define CG_LOGS_TAIL_DEFAULT_MAX_BYTES 250000
#define CG_LOGS_TAIL_MAX_MAX_BYTES 1000000

extern const cg_method cg_methods_logs[];
/* logs.subscribe / logs.unsubscribe (src/methods/logs_live.c): new lines pushed as
 * logs.appended events. Attach after cg_log_open; without a log file the methods
 * answer UNAVAILABLE. */
extern const cg_method cg_methods_logs_live[];
struct cg_gateway;
void cg_methods_logs_live_attach(struct cg_gateway *gw);

/* LogsTailResult {file, cursor, size, lines, truncated, reset, skippedBytes} for the
 * file at `path` (a missing file reads as empty), as compact JSON text: malloc'd,
 * NUL-terminated, *len its length. Without a cursor: whole lines from the last
 * max_bytes, the newest `limit` of them. With a cursor up to the size: the lines after
 * it; more than max_bytes waiting skips the oldest (reset, truncated, skippedBytes =
 * bytes jumped over up to the first line returned); more than `limit` lines keeps the
 * newest (truncated). A cursor past the size: reset, then as without one. The returned
 * cursor is the offset after the last whole line; a trailing partial line is left for
 * the next call. Reads at most max_bytes + 1 bytes. limit and max_bytes must be >= 1,
 * cursor >= 0. NULL with errno set when the file can't be read. Shares no state, so any
 * thread may call it (logs.tail runs it on the thread pool). */
char *cg_logs_tail_file(const char *path, bool has_cursor, int64_t cursor, int64_t limit,
                        int64_t max_bytes, size_t *len);

#endif
