/* The file side of logs.tail: a bounded window at the end of a JSON-lines file.
 *
 * Design: the window is [start, size) with start chosen from the cursor and maxBytes
 * before anything is read, so memory is bounded by maxBytes no matter how large the
 * file is. It is read with one pread that also takes the byte before `start`: when
 * that byte is not '\n' the window begins inside a line, and that partial first line
 * is dropped. The window ends after its last '\n' (a line still being written stays
 * for the next call, and the cursor stops before it). When more whole lines remain
 * than `limit`, a backward scan keeps the newest. The semantics (reset, truncated,
 * skippedBytes, a cursor past the end meaning the file was rotated) follow the real
 * gateway's log tail, except that skippedBytes also counts the partial line dropped
 * after a skip, so cursor + skippedBytes is exactly where the returned lines begin.
 *
 * The result is written straight out as JSON text, without a jansson tree: up to 5,000
 * strings through json_stringn and json_dumps cost ~17 ms of CPU per 1 MB tail, which
 * on a 2-core machine the thread pool takes from the loop; escaping the window into one
 * buffer costs a fraction of that. Each line is checked as UTF-8 first (overlongs,
 * surrogates and code points past U+10FFFF are invalid, as for jansson). */
#include "methods/logs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

/* Whether data is well-formed UTF-8. */
static bool utf8_valid(const unsigned char *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = data[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n) return false;
        for (size_t k = 1; k <= n; k++) {
            if ((data[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (data[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* The length of data as JSON string contents; *ascii tells whether every byte is < 0x80. */
static size_t escaped_len(const unsigned char *data, size_t len, bool *ascii)
{
    size_t n = len;
    bool only_ascii = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = data[i];
        if (c == '"' || c == '\\' || c == '\n' || c == '\t')
            n += 1;
        else if (c < 0x20)
            n += 5; /* \u00XX */
        else if (c >= 0x80)
            only_ascii = false;
    }
    *ascii = only_ascii;
    return n;
}

/* Appends data as a JSON string, sized first so the copy runs without checks. A line
 * that is not valid UTF-8 (the file was written by something else) goes out with its
 * non-ASCII bytes replaced by '?' instead of failing the call. */
static void append_json_string(cg_buf *out, const char *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)data;
    bool ascii;
    size_t n = escaped_len(u, len, &ascii);
    bool replace = !ascii && !utf8_valid(u, len);
    cg_buf_reserve(out, n + 2);
    char *w = out->data + out->len;
    *w++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c == '\n') {
            *w++ = '\\';
            *w++ = 'n';
        } else if (c == '\t') {
            *w++ = '\\';
            *w++ = 't';
        } else if (c < 0x20) {
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4];
            w[5] = hex[c & 15];
            w += 6;
        } else {
            *w++ = c >= 0x80 && replace ? '?' : (char)c;
        }
    }
    *w++ = '"';
    *w = 0;
    out->len = (size_t)(w - out->data);
}

/* Reads len bytes at offset, short only at end of file. Bytes read, or -1. */
static ssize_t read_at(int fd, char *buf, size_t len, off_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, buf + done, len - done, offset + (off_t)done);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* LogsTailResult is written in key order: this part up to the lines, ... */
static void begin_result(cg_buf *out, const char *path, int64_t cursor, int64_t size)
{
    cg_buf_appends(out, "{\"file\":");
    append_json_string(out, path, strlen(path));
    char num[64];
    snprintf(num, sizeof num, ",\"cursor\":%" PRId64 ",\"size\":%" PRId64 ",\"lines\":[", cursor,
             size);
    cg_buf_appends(out, num);
}

/* ... then the lines, then this part; returns the text (*len its length). */
static char *end_result(cg_buf *out, bool truncated, bool reset, int64_t skipped, size_t *len)
{
    char tail[96];
    snprintf(tail, sizeof tail, "],\"truncated\":%s,\"reset\":%s,\"skippedBytes\":%" PRId64 "}",
             truncated ? "true" : "false", reset ? "true" : "false", skipped);
    cg_buf_appends(out, tail);
    *len = out->len;
    return out->data;
}

char *cg_logs_tail_file(const char *path, bool has_cursor, int64_t cursor, int64_t limit,
                        int64_t max_bytes, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) return NULL;
    int64_t size = 0;
    if (fd >= 0) {
        struct stat st;
        int stat_errno = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
        if (stat_errno) {
            close(fd);
            errno = stat_errno;
            return NULL;
        }
        size = (int64_t)st.st_size;
    }

    bool reset = false, truncated = false, skipping = false;
    if (has_cursor && cursor > size) {
        reset = true; /* rotated or shrunk: start over as if no cursor was given */
        has_cursor = false;
    }
    int64_t start;
    if (has_cursor) {
        start = cursor;
        if (size - start > max_bytes) {
            start = size - max_bytes;
            reset = truncated = skipping = true;
        }
    } else {
        start = size > max_bytes ? size - max_bytes : 0;
        truncated = start > 0;
    }
    if (start >= size) {
        if (fd >= 0) close(fd);
        cg_buf out = {0};
        begin_result(&out, path, size, size);
        return end_result(&out, truncated, reset, 0, len);
    }

    /* The window, preceded by the byte before it when there is one. */
    size_t lead = start > 0 ? 1 : 0;
    size_t want = (size_t)(size - start) + lead;
    char *buf = cg_xmalloc(want);
    ssize_t got = read_at(fd, buf, want, (off_t)(start - (int64_t)lead));
    int read_errno = errno;
    close(fd);
    if (got < 0) {
        free(buf);
        errno = read_errno;
        return NULL;
    }
    const char *window = buf + lead;
    size_t window_len = (size_t)got > lead ? (size_t)got - lead : 0;

    /* [first, end) of the window holds the whole lines. */
    size_t first = 0;
    if (lead && window_len > 0 && buf[0] != '\n') {
        const char *nl = memchr(window, '\n', window_len);
        first = nl ? (size_t)(nl - window) + 1 : 0;
    }
    size_t end = first;
    const char *last_nl =
        window_len > first ? memrchr(window + first, '\n', window_len - first) : NULL;
    if (last_nl) end = (size_t)(last_nl - window) + 1;

    /* Walk back from the end, keeping at most `limit` lines. */
    size_t keep_from = end;
    int64_t kept = 0;
    while (keep_from > first && kept < limit) {
        const char *prev_nl =
            keep_from - 1 > first ? memrchr(window + first, '\n', keep_from - 1 - first) : NULL;
        keep_from = prev_nl ? (size_t)(prev_nl - window) + 1 : first;
        kept++;
    }
    if (keep_from > first) truncated = true;

    /* Escaping grows JSON lines by about a fifth (every '"' doubles): start there. */
    cg_buf out = {0};
    out.cap = (end - keep_from) + (end - keep_from) / 4 + strlen(path) + 256;
    out.data = cg_xmalloc(out.cap);
    begin_result(&out, path, start + (int64_t)end, size);
    for (size_t pos = keep_from; pos < end;) {
        const char *nl = memchr(window + pos, '\n', end - pos);
        size_t line_len = (size_t)(nl - (window + pos));
        if (pos > keep_from) cg_buf_append(&out, ",", 1);
        append_json_string(&out, window + pos, line_len);
        pos += line_len + 1;
    }
    free(buf);
    int64_t skipped = skipping ? start + (int64_t)first - cursor : 0;
    return end_result(&out, truncated, reset, skipped, len);
}
