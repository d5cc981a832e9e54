/* Small shared helpers: clocks, random ids, base64 (via OpenSSL), string building. */
#ifndef CG_COMMON_UTIL_H
#define CG_COMMON_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

int64_t cg_now_ms(void);   /* wall clock, ms since the epoch */
uint64_t cg_mono_ns(void); /* monotonic */
/* ISO-8601 UTC with milliseconds, e.g. 2026-11-24T21:41:20.123Z; buf >= 25 bytes. */
void cg_iso8601_ms(int64_t epoch_ms, char *buf, size_t len);
/* A random RFC 4122 v4 UUID, lowercase; buf >= 37 bytes. */
void cg_uuid4(char *buf);
/* n random bytes as lowercase hex; buf >= 2n+1. */
void cg_random_hex(char *buf, size_t n);
/* Lowers the calling thread's CPU priority (nice 10), once per thread: background work
 * (the thread pool, the log writer) yields the CPU to the loop, whose latency every
 * client feels. */
void cg_thread_background(void);
char *cg_strdup(const char *s); /* NULL-safe; aborts on OOM */
/* fmt formatted into a new string of at most max - 1 bytes; a longer text is cut at the
 * last UTF-8 character boundary that fits, so a cut never leaves half a character. */
char *cg_strdup_vprintf(size_t max, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void *cg_xmalloc(size_t n); /* aborts on OOM */
void *cg_xcalloc(size_t n, size_t m);
void *cg_xrealloc(void *p, size_t n);

/* A growable byte buffer. */
typedef struct cg_buf {
    char *data;
    size_t len, cap;
} cg_buf;
/* Room for `extra` more bytes and the NUL kept after them. */
void cg_buf_reserve(cg_buf *b, size_t extra);
void cg_buf_append(cg_buf *b, const void *data, size_t len);
void cg_buf_appends(cg_buf *b, const char *s);
void cg_buf_reset(cg_buf *b); /* frees */

/* Writes `data` to `path` atomically: temp file beside it, fsync, rename, fsync dir.
 * mode for the new file (e.g. 0600). 0 or -errno. */
int cg_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* Reads a whole file (up to max bytes). 0, -ENOENT, -EFBIG or -errno; *out malloc'd,
 * NUL-terminated. */
int cg_read_file(const char *path, size_t max, char **out, size_t *out_len);
/* mkdir -p with mode. 0 or -errno. */
int cg_mkdir_p(const char *path, unsigned mode);

/* Whether the JSON array holds the string s (non-strings are skipped). */
bool cg_json_array_has_string(const json_t *array, const char *s);

#endif
