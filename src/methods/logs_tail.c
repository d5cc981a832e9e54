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
 * after a skip, so cursor + skippedBytes is exactly where the returned lines begin. */
#include "methods/logs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

/* A line that is not valid UTF-8 (the file was written by something else) is
 * returned with its non-ASCII bytes replaced by '?' instead of failing the call. */
static json_t *line_string(const char *data, size_t len)
{
    json_t *str = json_stringn(data, len);
    if (str) return str;
    char *copy = cg_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)data[i] >= 0x80 ? '?' : data[i];
    str = json_stringn(copy, len);
    free(copy);
    return str;
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

static json_t *tail_result(const char *path, int64_t cursor, int64_t size, json_t *lines,
                           bool truncated, bool reset, int64_t skipped)
{
    return json_pack("{s:s, s:I, s:I, s:o, s:b, s:b, s:I}", "file", path, "cursor",
                     (json_int_t)cursor, "size", (json_int_t)size, "lines", lines, "truncated",
                     truncated, "reset", reset, "skippedBytes", (json_int_t)skipped);
}

json_t *cg_logs_tail_file(const char *path, bool has_cursor, int64_t cursor, int64_t limit,
                          int64_t max_bytes)
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
        return tail_result(path, size, size, json_array(), truncated, reset, 0);
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

    json_t *lines = json_array();
    for (size_t pos = keep_from; pos < end;) {
        const char *nl = memchr(window + pos, '\n', end - pos);
        size_t line_len = (size_t)(nl - (window + pos));
        json_array_append_new(lines, line_string(window + pos, line_len));
        pos += line_len + 1;
    }
    int64_t skipped = skipping ? start + (int64_t)first - cursor : 0;
    json_t *result =
        tail_result(path, start + (int64_t)end, size, lines, truncated, reset, skipped);
    free(buf);
    return result;
}
