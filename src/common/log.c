/* The gateway's JSON-lines log (see common/log.h for the format and the threading rules).
 *
 * Design: one process-wide log with one writer thread. cg_log() builds the whole line on
 * the calling thread (jansson objects are per call, so any thread may log) into one
 * malloc'd node, then takes the mutex only to append the node to a FIFO list and to
 * count its bytes against the bound: no I/O and no allocation happen under the mutex on
 * the callers' side. The writer sleeps on a condition variable, takes the whole list in
 * one step, and writes it outside the mutex with writev(2): consecutive lines that fit in
 * the current file go out in one call, so every write carries whole lines only and
 * readers (logs.tail) see whole lines behind each other. Rotation is the writer's alone:
 * the current size is tracked from fstat at open plus what was written; when the next
 * line would push the file past the limit, clawgate.log.4 -> .5, ..., clawgate.log -> .1
 * (rename replaces the oldest) and a fresh file is opened. A line larger than the limit
 * still goes into an empty file rather than being dropped.
 *
 * The bound counts bytes queued or being written. A line that does not fit is freed and
 * counted; a line always fits into an empty queue, so one oversized line is not lost.
 * Room only returns when the writer finishes a batch, and in that same critical section
 * it queues the "dropped N log lines" notice behind what is waiting, which is exactly
 * where the missing lines would have been. cg_log_flush waits on a sequence number
 * (lines queued before the call), so it returns even while others keep logging;
 * cg_log_close sets `stopping`, and the writer exits only once the list is empty, so
 * nothing queued before close is lost.
 *
 * The fixed keys (time, level, subsystem, message) come first and win over a field of
 * the same name; jansson keeps insertion order, so the fields follow in the order the
 * caller built them. When stderr is a terminal (checked at open) each line carries its
 * short human form too, which the writer prints. Before cg_log_open (or after
 * cg_log_close) there is no writer, so lines go to stderr in that form at once, from the
 * caller: early failures stay visible. The writer thread blocks every signal.
 *
 * The observer (logs.subscribe's feed) is told each run of lines right after the run's
 * writev, on the writer thread, under its own mutex (never log_mutex, so callers keep
 * queueing meanwhile); setting it takes that mutex too, which is how a removal waits for
 * a call in progress. Only lines that went to the file are observed. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/util.h"

/* Lines per writev(2) at most (Linux takes up to 1024 iovecs). */
#define WRITE_RUN_MAX_LINES 128

/* One queued line: the JSON line with its '\n', then (when echoing) the human form. */
typedef struct log_line {
    struct log_line *next;
    uint64_t seq; /* 1, 2, ... in queue order; 0 for the writer's own drop notice */
    size_t len, echo_len;
    char data[];
} log_line;

/* Shared between callers and the writer, under log_mutex. log_wake tells the writer
 * there are lines (or that it should stop); log_written tells cg_log_flush a batch is
 * in the file. log_running: the writer accepts lines; log_stopping: drain, then exit. */
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t log_written = PTHREAD_COND_INITIALIZER;
static bool log_running, log_stopping;
static log_line *queue_head, *queue_tail;
static size_t pending_bytes; /* queued + being written */
static size_t max_pending_bytes = CG_LOG_DEFAULT_MAX_PENDING_BYTES;
static uint64_t dropped_lines;
static uint64_t queued_seq, written_seq;
static int64_t log_max_bytes = CG_LOG_DEFAULT_MAX_BYTES;

/* Set by cg_log_open before the writer starts, cleared by cg_log_close after it joined. */
static pthread_t writer_thread;
static bool writer_started;
static char *log_file_path;
static atomic_bool echo_lines; /* stderr is a terminal (checked at open) */

/* The writer's own. */
static int log_fd = -1;
static int64_t log_size;

/* The observer, under observer_mutex (held by the writer while it calls it). */
static pthread_mutex_t observer_mutex = PTHREAD_MUTEX_INITIALIZER;
static cg_log_observer_fn observer_fn;
static void *observer_data;

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

/* The short human form, malloc'd (NULL on failure):
 * "21:41:20.123 info  gateway: listening {"port":18789}\n" */
static char *human_form(const char *time, const char *level, const char *subsystem,
                        const char *message, const json_t *fields)
{
    char *extra = json_object_size(fields) ? json_dumps(fields, JSON_COMPACT) : NULL;
    char *text;
    if (asprintf(&text, "%s %-5s %s: %s%s%s\n", time + 11, level, subsystem, message,
                 extra ? " " : "", extra ? extra : "") < 0)
        text = NULL;
    free(extra);
    return text;
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

/* The queued form of one line; NULL when it cannot be serialized. `fields` is borrowed. */
static log_line *format_line(const char *time, const char *level, const char *subsystem,
                             const char *message, const json_t *fields, bool echo)
{
    json_t *obj = json_object();
    json_object_set_new(obj, "time", json_string(time));
    json_object_set_new(obj, "level", json_string(level));
    json_object_set_new(obj, "subsystem", json_string(subsystem));
    json_t *msg = json_string(message);
    json_object_set_new(obj, "message", msg ? msg : ascii_only_string(message));
    if (fields) json_object_update_missing(obj, (json_t *)fields);

    /* Most lines fit the stack buffer: then the node is the only allocation. */
    char stack[1024];
    size_t len = json_dumpb(obj, stack, sizeof stack, JSON_COMPACT);
    char *echo_text = len > 0 && echo ? human_form(time, level, subsystem, message, fields) : NULL;
    size_t echo_len = echo_text ? strlen(echo_text) : 0;
    log_line *line = NULL;
    if (len > 0) {
        line = cg_xmalloc(sizeof *line + len + 1 + echo_len);
        line->next = NULL;
        line->seq = 0;
        line->len = len + 1;
        line->echo_len = echo_len;
        if (len <= sizeof stack)
            memcpy(line->data, stack, len);
        else
            json_dumpb(obj, line->data, len, JSON_COMPACT);
        line->data[len] = '\n';
        if (echo_len > 0) memcpy(line->data + len + 1, echo_text, echo_len);
    }
    free(echo_text);
    json_decref(obj);
    return line;
}

static size_t line_bytes(const log_line *line)
{
    return line->len + line->echo_len;
}

/* Under log_mutex. */
static void append_line(log_line *line)
{
    if (queue_tail)
        queue_tail->next = line;
    else
        queue_head = line;
    queue_tail = line;
    pending_bytes += line_bytes(line);
}

/* Takes the line (queued, or dropped and freed); false when there is no writer. */
static bool enqueue(log_line *line)
{
    pthread_mutex_lock(&log_mutex);
    if (!log_running) {
        pthread_mutex_unlock(&log_mutex);
        return false;
    }
    if (pending_bytes > 0 && pending_bytes + line_bytes(line) > max_pending_bytes) {
        dropped_lines++;
        pthread_mutex_unlock(&log_mutex);
        free(line);
        return true;
    }
    bool was_empty = queue_head == NULL;
    line->seq = ++queued_seq;
    append_line(line);
    /* The writer only sleeps on an empty queue. */
    if (was_empty) pthread_cond_signal(&log_wake);
    pthread_mutex_unlock(&log_mutex);
    return true;
}

/* ---- the writer thread ---- */

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

/* Shifts clawgate.log.N to .N+1 (the oldest is replaced) and the live file to .1,
 * then starts a new live file. If a rename fails the live file keeps growing rather
 * than losing lines. Whether a new file was begun. */
static bool rotate(void)
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
    if (!moved) return false;
    int old_fd = log_fd;
    if (open_log_file() == 0) {
        close(old_fd);
        return true;
    }
    /* Keep appending to the renamed file: still on disk, still rotated later. */
    log_fd = old_fd;
    return false;
}

/* Writes whole lines; a short write (a full disk) goes on from where it stopped, and an
 * error gives up on the rest of the run, as a failed write(2) of one line did before. */
static void write_run(struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(log_fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        log_size += (int64_t)w;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
}

/* Writes one run and shows it to the observer; *new_file (a rotation came before the
 * run) is passed with its first line, then cleared. */
static void flush_run(struct iovec *iov, log_line **lines, int n, bool *new_file)
{
    int64_t cursor = log_size;
    write_run(iov, n);
    pthread_mutex_lock(&observer_mutex);
    for (int i = 0; observer_fn && i < n; i++) {
        cursor += (int64_t)lines[i]->len;
        observer_fn(lines[i]->data, lines[i]->len - 1, cursor, *new_file && i == 0, observer_data);
    }
    pthread_mutex_unlock(&observer_mutex);
    if (n > 0) *new_file = false;
}

/* Writes and frees a batch; returns its bytes (as counted in pending_bytes) and the
 * sequence number of its last caller line (0 when it had none). */
static size_t write_batch(log_line *batch, int64_t max_bytes, uint64_t *last_seq)
{
    struct iovec iov[WRITE_RUN_MAX_LINES];
    log_line *lines[WRITE_RUN_MAX_LINES];
    int n = 0;
    int64_t run = 0; /* bytes in iov, not yet in log_size */
    bool new_file = false;
    for (log_line *line = batch; line; line = line->next) {
        int64_t len = (int64_t)line->len;
        bool over = log_size + run > 0 && log_size + run + len > max_bytes;
        if (over || n == WRITE_RUN_MAX_LINES) {
            flush_run(iov, lines, n, &new_file);
            n = 0;
            run = 0;
            if (over && rotate()) new_file = true;
        }
        iov[n].iov_base = line->data;
        iov[n].iov_len = line->len;
        lines[n] = line;
        n++;
        run += len;
    }
    flush_run(iov, lines, n, &new_file);

    size_t bytes = 0;
    *last_seq = 0;
    while (batch) {
        log_line *next = batch->next;
        if (batch->echo_len > 0) {
            ssize_t w = write(STDERR_FILENO, batch->data + batch->len, batch->echo_len);
            (void)w; /* the terminal echo is best effort */
        }
        if (batch->seq) *last_seq = batch->seq;
        bytes += line_bytes(batch);
        free(batch);
        batch = next;
    }
    return bytes;
}

/* Under log_mutex: the notice for lines dropped while the queue was full. */
static void queue_drop_notice(void)
{
    char time[32], message[64];
    cg_iso8601_ms(cg_now_ms(), time, sizeof time);
    snprintf(message, sizeof message, "dropped %llu log lines", (unsigned long long)dropped_lines);
    log_line *notice = format_line(time, "warn", "log", message, NULL, atomic_load(&echo_lines));
    if (!notice) return;
    dropped_lines = 0;
    append_line(notice);
}

static void *writer_main(void *arg)
{
    cg_thread_background();
    pthread_mutex_lock(&log_mutex);
    for (;;) {
        while (!queue_head && !log_stopping)
            pthread_cond_wait(&log_wake, &log_mutex);
        if (!queue_head) break;
        log_line *batch = queue_head;
        queue_head = queue_tail = NULL;
        int64_t max_bytes = log_max_bytes;
        pthread_mutex_unlock(&log_mutex);

        uint64_t last_seq;
        size_t bytes = write_batch(batch, max_bytes, &last_seq);

        pthread_mutex_lock(&log_mutex);
        pending_bytes -= bytes;
        if (last_seq) written_seq = last_seq;
        if (dropped_lines) queue_drop_notice();
        pthread_cond_broadcast(&log_written);
    }
    log_running = false;
    pthread_cond_broadcast(&log_written);
    pthread_mutex_unlock(&log_mutex);
    return NULL;
}

/* ---- open, close, settings ---- */

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
    atomic_store(&echo_lines, isatty(STDERR_FILENO));
    rc = open_log_file();
    if (rc == 0) {
        pthread_mutex_lock(&log_mutex);
        log_running = true;
        log_stopping = false;
        pthread_mutex_unlock(&log_mutex);
        /* The writer blocks every signal: they stay with the loop thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = -pthread_create(&writer_thread, NULL, writer_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        writer_started = rc == 0;
        if (rc != 0) {
            pthread_mutex_lock(&log_mutex);
            log_running = false;
            pthread_mutex_unlock(&log_mutex);
            close(log_fd);
            log_fd = -1;
        }
    }
    if (rc != 0) {
        free(log_file_path);
        log_file_path = NULL;
    }
    return rc;
}

void cg_log_set_max_file_bytes(int64_t max_file_bytes)
{
    pthread_mutex_lock(&log_mutex);
    log_max_bytes = max_file_bytes > 0 ? max_file_bytes : CG_LOG_DEFAULT_MAX_BYTES;
    pthread_mutex_unlock(&log_mutex);
}

void cg_log_set_max_pending_bytes(size_t max_pending)
{
    pthread_mutex_lock(&log_mutex);
    max_pending_bytes = max_pending > 0 ? max_pending : CG_LOG_DEFAULT_MAX_PENDING_BYTES;
    pthread_mutex_unlock(&log_mutex);
}

void cg_log_close(void)
{
    if (writer_started) {
        pthread_mutex_lock(&log_mutex);
        log_stopping = true;
        pthread_cond_signal(&log_wake);
        pthread_mutex_unlock(&log_mutex);
        pthread_join(writer_thread, NULL);
        writer_started = false;
    }
    if (log_fd >= 0) close(log_fd);
    log_fd = -1;
    free(log_file_path);
    log_file_path = NULL;
    log_size = 0;
    atomic_store(&echo_lines, false);
}

void cg_log_flush(void)
{
    pthread_mutex_lock(&log_mutex);
    uint64_t target = queued_seq;
    while (log_running && written_seq < target)
        pthread_cond_wait(&log_written, &log_mutex);
    pthread_mutex_unlock(&log_mutex);
}

void cg_log_set_observer(cg_log_observer_fn fn, void *data)
{
    pthread_mutex_lock(&observer_mutex);
    observer_fn = fn;
    observer_data = data;
    pthread_mutex_unlock(&observer_mutex);
}

const char *cg_log_path(void)
{
    return log_file_path;
}

/* ---- logging ---- */

void cg_log(cg_log_level level, const char *subsystem, const char *message, json_t *fields)
{
    char time[32];
    cg_iso8601_ms(cg_now_ms(), time, sizeof time);
    const char *level_str = level_name(level);
    if (fields && !json_is_object(fields)) {
        json_decref(fields);
        fields = NULL;
    }
    log_line *line =
        format_line(time, level_str, subsystem, message, fields, atomic_load(&echo_lines));
    if (!line || !enqueue(line)) {
        free(line);
        char *text = human_form(time, level_str, subsystem, message, fields);
        if (text) fputs(text, stderr);
        free(text);
    }
    json_decref(fields);
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
