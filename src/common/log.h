/* The gateway's own JSON-lines log, DIR/logs/clawgate.log.
 *
 * One object per line: {"time":"2026-11-24T21:41:20.123Z","level":"info",
 * "subsystem":"gateway","message":"listening", ...fields}. Each line is written with one
 * write(2) on an O_APPEND descriptor, so a crash never leaves half a line behind an
 * earlier one. When the file would pass the size limit it is rotated into
 * clawgate.log.1 .. clawgate.log.5 (.1 the newest) before the write. Lines also go to
 * stderr in a short human form when stderr is a terminal. Loop-thread only. */
#ifndef CG_COMMON_LOG_H
#define CG_COMMON_LOG_H

#include <jansson.h>
#include <stdint.h>

typedef enum { CG_LOG_DEBUG, CG_LOG_INFO, CG_LOG_WARN, CG_LOG_ERROR } cg_log_level;

#define CG_LOG_DEFAULT_MAX_BYTES (100LL * 1024 * 1024)
#define CG_LOG_KEEP_FILES 5

/* Opens (creating DIR/logs) the log of a state dir. 0 or a negative errno. */
int cg_log_open(const char *state_dir, int64_t max_file_bytes);
void cg_log_set_max_file_bytes(int64_t max_file_bytes);
void cg_log_close(void);
/* Absolute path of the current log file, or NULL before cg_log_open. */
const char *cg_log_path(void);

/* Logs one line. `fields` (an object or NULL) is consumed: its keys follow the fixed ones. */
void cg_log(cg_log_level level, const char *subsystem, const char *message, json_t *fields);
/* printf-style message, no fields. */
void cg_logf(cg_log_level level, const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
