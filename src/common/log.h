/* The gateway's own JSON-lines log, DIR/logs/clawgate.log.
 *
 * One object per line: {"time":"2026-11-24T21:41:20.123Z","level":"info",
 * "subsystem":"gateway","message":"listening", ...fields}. Lines reach the file through
 * one writer thread, so logging never waits for the disk: cg_log() formats the line on
 * the calling thread (any thread) and queues it. Every write(2) the writer makes carries
 * whole lines only, on an O_APPEND descriptor, so a reader (logs.tail) or a crash never
 * sees half a line behind an earlier one. When the file would pass the size limit it is
 * rotated into clawgate.log.1 .. clawgate.log.5 (.1 the newest) before the line that
 * would pass it. Lines also go to stderr in a short human form when stderr is a terminal.
 *
 * The queue is bounded (CG_LOG_DEFAULT_MAX_PENDING_BYTES of lines not yet written): a
 * line that does not fit is dropped and counted, and once the writer has made room it
 * writes {"level":"warn","subsystem":"log","message":"dropped N log lines"} where the
 * lines are missing. A caller never blocks on the disk.
 *
 * Threads: cg_log, cg_logf, cg_log_flush and the two setters from any thread, open or
 * not (before cg_log_open and after cg_log_close lines go straight to stderr, so early
 * failures stay visible). cg_log_open and cg_log_close from the thread that owns the
 * log's lifetime (main); cg_log_path's string is valid from open to close. */
#ifndef CG_COMMON_LOG_H
#define CG_COMMON_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CG_LOG_DEBUG, CG_LOG_INFO, CG_LOG_WARN, CG_LOG_ERROR } cg_log_level;

#define CG_LOG_DEFAULT_MAX_BYTES (100LL * 1024 * 1024)
#define CG_LOG_DEFAULT_MAX_PENDING_BYTES ((size_t)4 * 1024 * 1024)
#define CG_LOG_KEEP_FILES 5

/* Opens (creating DIR/logs) the log of a state dir and starts its writer thread.
 * 0 or a negative errno. */
int cg_log_open(const char *state_dir, int64_t max_file_bytes);
void cg_log_set_max_file_bytes(int64_t max_file_bytes);
/* Bounds the bytes of lines queued and not yet written (0: back to the default). Lines
 * that do not fit are dropped and counted (see above); tests use a small bound. */
void cg_log_set_max_pending_bytes(size_t max_pending_bytes);
/* Writes every queued line, stops the writer thread and closes the file. */
void cg_log_close(void);
/* Returns once every line queued before the call is in the file (no-op when closed).
 * For readers that need the log to be current, such as tests. */
void cg_log_flush(void);
/* Absolute path of the current log file, or NULL before cg_log_open. */
const char *cg_log_path(void);

/* An observer of the lines as they reach the file: fn(line, len, cursor, new_file, data)
 * for each line, without its '\n' (not NUL-terminated, valid only during the call), in
 * file order, on the writer thread, after the line was written. cursor is the file
 * offset after the line (as logs.tail counts it); new_file is true for the first line
 * of a file begun by a rotation. One observer at a time; NULL removes it, and once
 * cg_log_set_observer returns the previous one is not running and will not be called.
 * The observer must be quick and must not call cg_log_flush, cg_log_close or
 * cg_log_set_observer (cg_log is fine: the line is queued for the next batch). */
typedef void (*cg_log_observer_fn)(const char *line, size_t len, int64_t cursor, bool new_file,
                                   void *data);
void cg_log_set_observer(cg_log_observer_fn fn, void *data);

/* Logs one line. `fields` (an object or NULL) is consumed: its keys follow the fixed ones. */
void cg_log(cg_log_level level, const char *subsystem, const char *message, json_t *fields);
/* printf-style message, no fields. */
void cg_logf(cg_log_level level, const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
