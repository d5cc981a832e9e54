/* The gateway's JSON-lines log (see common/log.h for the format).
 *
 * Design: one process-wide log, used from the loop thread only, so the state is a
 * handful of statics. The file is opened O_APPEND and every line (object + '\n') is
 * serialized into one buffer and handed to a single write(2), so readers such as
 * logs.tail only ever see whole lines behind each other. The current size is tracked
 * from fstat at open plus what we wrote; when the next line would push the file past
 * the limit, clawgate.log.4 -> .5, ... , clawgate.log -> .1 (rename replaces the
 * oldest) and a fresh file is opened. A line larger than the limit still goes into an
 * empty file rather than being dropped.
 *
 * The fixed keys (time, level, subsystem, message) come first and win over a field of
 * the same name; jansson keeps insertion order, so the fields follow in the order the
 * caller built them. When stderr is a terminal (checked at open) each line is echoed
 * there in a short human form. Before cg_log_open (or after cg_log_close) there is no
 * file, so lines go to stderr in that form regardless: early failures stay visible. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

static int log_fd = -1;
static char *log_file_path;
static int64_t log_size;
static int64_t log_max_bytes = CG_LOG_DEFAULT_MAX_BYTES;
static bool stderr_is_terminal; /* checked once at open */

static const char *level_name(cg_log_level level)
{
    switch (level) {
    case CG_LOG_DEBUG:
        return "debug";
    case CG_LOG_INFO:
        return "info";
    case CG_LOG_WARN:
        return "warn";
    case CG_LOG_ERROR:
        return "error";
    }
    return "info";
}

static int open_log_file(void)
{
    int fd = open(log_file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    log_fd = fd;
    log_size = (int64_t)st.st_size;
    return 0;
}

int cg_log_open(const char *state_dir, int64_t max_file_bytes)
{
    cg_log_close();
    size_t dir_len = strlen(state_dir) + sizeof "/logs";
    char *dir = cg_xmalloc(dir_len);
    snprintf(dir, dir_len, "%s/logs", state_dir);
    int rc = cg_mkdir_p(dir, 0700);
    if (rc != 0) {
        free(dir);
        return rc;
    }
    size_t path_len = dir_len + sizeof "/clawgate.log";
    log_file_path = cg_xmalloc(path_len);
    snprintf(log_file_path, path_len, "%s/clawgate.log", dir);
    free(dir);
    cg_log_set_max_file_bytes(max_file_bytes);
    stderr_is_terminal = isatty(STDERR_FILENO);
    rc = open_log_file();
    if (rc != 0) {
        free(log_file_path);
        log_file_path = NULL;
    }
    return rc;
}

void cg_log_set_max_file_bytes(int64_t max_file_bytes)
{
    log_max_bytes = max_file_bytes > 0 ? max_file_bytes : CG_LOG_DEFAULT_MAX_BYTES;
}

void cg_log_close(void)
{
    if (log_fd >= 0) close(log_fd);
    log_fd = -1;
    free(log_file_path);
    log_file_path = NULL;
    log_size = 0;
}

const char *cg_log_path(void)
{
    return log_file_path;
}

/* Shifts clawgate.log.N to .N+1 (the oldest is replaced) and the live file to .1,
 * then starts a new live file. If a rename fails the live file keeps growing rather
 * than losing lines. */
static void rotate(void)
{
    size_t len = strlen(log_file_path) + 8;
    char *from = cg_xmalloc(len), *to = cg_xmalloc(len);
    bool shifted = true;
    for (int n = CG_LOG_KEEP_FILES - 1; n >= 1 && shifted; n--) {
        snprintf(from, len, "%s.%d", log_file_path, n);
        snprintf(to, len, "%s.%d", log_file_path, n + 1);
        shifted = rename(from, to) == 0 || errno == ENOENT;
    }
    snprintf(to, len, "%s.1", log_file_path);
    /* Never move the live file over a .1 that could not be shifted away. */
    bool moved = shifted && rename(log_file_path, to) == 0;
    free(from);
    free(to);
    if (!moved) return;
    int old_fd = log_fd;
    if (open_log_file() == 0) {
        close(old_fd);
    } else {
        /* Keep appending to the renamed file: still on disk, still rotated later. */
        log_fd = old_fd;
    }
}

static void write_line(const char *data, size_t len)
{
    if (log_size > 0 && log_size + (int64_t)len > log_max_bytes) rotate();
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(log_fd, data + done, len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        done += (size_t)w;
    }
    log_size += (int64_t)len;
}

/* "21:41:20.123 info  gateway: listening {"port":18789}" */
static void echo_to_stderr(const char *time, const char *level, const char *subsystem,
                           const char *message, const json_t *fields)
{
    char *extra = json_object_size(fields) ? json_dumps(fields, JSON_COMPACT) : NULL;
    fprintf(stderr, "%s %-5s %s: %s%s%s\n", time + 11, level, subsystem, message, extra ? " " : "",
            extra ? extra : "");
    free(extra);
}

/* A message that is not valid UTF-8 (say, a raw header value) is kept with its non-ASCII
 * bytes replaced by '?' rather than lost. */
static json_t *ascii_only_string(const char *text)
{
    char *copy = cg_strdup(text);
    for (char *c = copy; *c; c++) {
        if ((unsigned char)*c >= 0x80) *c = '?';
    }
    json_t *str = json_string(copy);
    free(copy);
    return str;
}

void cg_log(cg_log_level level, const char *subsystem, const char *message, json_t *fields)
{
    char time[32];
    cg_iso8601_ms(cg_now_ms(), time, sizeof time);
    const char *level_str = level_name(level);
    if (fields && !json_is_object(fields)) {
        json_decref(fields);
        fields = NULL;
    }

    if (log_fd < 0 || stderr_is_terminal)
        echo_to_stderr(time, level_str, subsystem, message, fields);
    if (log_fd < 0) {
        json_decref(fields);
        return;
    }

    json_t *line = json_object();
    json_object_set_new(line, "time", json_string(time));
    json_object_set_new(line, "level", json_string(level_str));
    json_object_set_new(line, "subsystem", json_string(subsystem));
    json_t *msg = json_string(message);
    json_object_set_new(line, "message", msg ? msg : ascii_only_string(message));
    if (fields) json_object_update_missing(line, fields);
    json_decref(fields);

    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text) return;
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL; the buffer is only used with its length */
    write_line(text, len + 1);
    free(text);
}

void cg_logf(cg_log_level level, const char *subsystem, const char *fmt, ...)
{
    char stack_buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack_buf, sizeof stack_buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof stack_buf) {
        cg_log(level, subsystem, stack_buf, NULL);
        return;
    }
    char *heap_buf = cg_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(heap_buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cg_log(level, subsystem, heap_buf, NULL);
    free(heap_buf);
}
