/* Unit tests for the JSON-lines log (common/log.c): the line format parsed back with
 * jansson, field order and precedence, long and non-UTF-8 messages, rotation into
 * clawgate.log.1 .. .5 with .1 the newest, and the writer thread: lines logged from
 * several threads arrive whole and in each thread's order (across rotations), a writer
 * stuck on a full FIFO never blocks the caller, close drains the queue, and a full queue
 * drops lines and says so where they are missing. Each test works in its own temp state
 * dir; the helpers that read the log call cg_log_flush first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

typedef struct log_fixture {
    char state_dir[64];
} log_fixture;

static int setup(void **state)
{
    log_fixture *fx = cg_xcalloc(1, sizeof *fx);
    snprintf(fx->state_dir, sizeof fx->state_dir, "/tmp/cg-test-log-XXXXXX");
    if (!mkdtemp(fx->state_dir)) return -1;
    *state = fx;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    log_fixture *fx = *state;
    cg_log_close();
    cg_log_set_max_pending_bytes(0);
    int rc = nftw(fx->state_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return rc;
}

/* Lines of JSON, each parsed; asserts every line is a JSON object and nothing follows the
 * last newline. */
static json_t *parse_lines(const char *data, size_t len)
{
    json_t *lines = json_array();
    const char *start = data;
    for (const char *nl; (nl = memchr(start, '\n', len - (size_t)(start - data))); start = nl + 1) {
        json_error_t err;
        json_t *obj = json_loadb(start, (size_t)(nl - start), 0, &err);
        assert_non_null(obj);
        assert_true(json_is_object(obj));
        json_array_append_new(lines, obj);
    }
    assert_true(start == data + len);
    return lines;
}

/* The lines of a file, once everything logged so far is in it. */
static json_t *read_lines(const char *path)
{
    cg_log_flush();
    char *data;
    size_t len;
    assert_int_equal(cg_read_file(path, 1 << 20, &data, &len), 0);
    json_t *lines = parse_lines(data, len);
    free(data);
    return lines;
}

static void path_of(char *buf, size_t len, const char *suffix)
{
    snprintf(buf, len, "%s%s", cg_log_path(), suffix);
}

static void test_line_format(void **state)
{
    log_fixture *fx = *state;
    assert_null(cg_log_path());
    assert_int_equal(cg_log_open(fx->state_dir, 0), 0);
    char expected[128];
    snprintf(expected, sizeof expected, "%s/logs/clawgate.log", fx->state_dir);
    assert_string_equal(cg_log_path(), expected);

    int64_t before = cg_now_ms();
    cg_log(CG_LOG_INFO, "gateway", "listening",
           json_pack("{s:i, s:s, s:s}", "port", 18789, "bind", "loopback", "level", "bogus"));
    cg_log(CG_LOG_WARN, "auth", "plain", NULL);
    cg_logf(CG_LOG_ERROR, "config", "bad key %s at %d", "gateway.port", 3);
    cg_log(CG_LOG_DEBUG, "ws", "not an object", json_integer(5));

    json_t *lines = read_lines(cg_log_path());
    assert_int_equal(json_array_size(lines), 4);

    json_t *first = json_array_get(lines, 0);
    const char *keys[] = {"time", "level", "subsystem", "message", "port", "bind"};
    void *it = json_object_iter(first);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_non_null(it);
        assert_string_equal(json_object_iter_key(it), keys[i]);
        it = json_object_iter_next(first, it);
    }
    assert_null(it); /* "level" in the fields did not add or override a key */
    assert_string_equal(json_string_value(json_object_get(first, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(first, "subsystem")), "gateway");
    assert_string_equal(json_string_value(json_object_get(first, "message")), "listening");
    assert_int_equal(json_integer_value(json_object_get(first, "port")), 18789);

    const char *time = json_string_value(json_object_get(first, "time"));
    assert_int_equal(strlen(time), 24);
    assert_int_equal(time[4], '-');
    assert_int_equal(time[10], 'T');
    assert_int_equal(time[19], '.');
    assert_int_equal(time[23], 'Z');
    char now_prefix[32];
    cg_iso8601_ms(before, now_prefix, sizeof now_prefix);
    assert_memory_equal(time, now_prefix, 10); /* same UTC day (test runs in well under one) */

    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 1), "level")),
                        "warn");
    json_t *third = json_array_get(lines, 2);
    assert_string_equal(json_string_value(json_object_get(third, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(third, "message")),
                        "bad key gateway.port at 3");
    json_t *fourth = json_array_get(lines, 3);
    assert_string_equal(json_string_value(json_object_get(fourth, "level")), "debug");
    assert_int_equal(json_object_size(fourth), 4);
    json_decref(lines);
}

static void test_long_and_invalid_messages(void **state)
{
    log_fixture *fx = *state;
    assert_int_equal(cg_log_open(fx->state_dir, 0), 0);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cg_logf(CG_LOG_INFO, "test", "%s!", big);
    cg_log(CG_LOG_INFO, "test", "origin \xff\xfe here", NULL);
    cg_log(CG_LOG_INFO, "test", "multi\nline \"quoted\"", NULL);

    json_t *lines = read_lines(cg_log_path());
    assert_int_equal(json_array_size(lines), 3);
    const char *msg = json_string_value(json_object_get(json_array_get(lines, 0), "message"));
    assert_int_equal(strlen(msg), sizeof big);
    assert_int_equal(msg[sizeof big - 1], '!');
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 1), "message")),
                        "origin ?? here");
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 2), "message")),
                        "multi\nline \"quoted\"");
    json_decref(lines);
}

static void test_appends_to_existing_file(void **state)
{
    log_fixture *fx = *state;
    assert_int_equal(cg_log_open(fx->state_dir, 0), 0);
    cg_log(CG_LOG_INFO, "test", "first run", NULL);
    cg_log_close();
    assert_null(cg_log_path());
    assert_int_equal(cg_log_open(fx->state_dir, 0), 0);
    cg_log(CG_LOG_INFO, "test", "second run", NULL);
    json_t *lines = read_lines(cg_log_path());
    assert_int_equal(json_array_size(lines), 2);
    json_decref(lines);
}

static int64_t file_size(const char *path)
{
    cg_log_flush();
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void test_rotation_keeps_five_newest_first(void **state)
{
    log_fixture *fx = *state;
    const int64_t max = 300;
    assert_int_equal(cg_log_open(fx->state_dir, max), 0);
    /* Each line is about 90 bytes, so three fit in a file: 40 lines rotate many times. */
    for (int n = 0; n < 40; n++)
        cg_log(CG_LOG_INFO, "test", "line", json_pack("{s:i}", "n", n));

    char path[256];
    int last_seen = 40;
    for (int i = 0; i <= CG_LOG_KEEP_FILES; i++) {
        if (i == 0) {
            path_of(path, sizeof path, "");
        } else {
            char suffix[8];
            snprintf(suffix, sizeof suffix, ".%d", i);
            path_of(path, sizeof path, suffix);
        }
        int64_t size = file_size(path);
        assert_true(size > 0);
        assert_true(size <= max);
        /* Going from the live file to .5, each file holds strictly older lines. */
        json_t *lines = read_lines(path);
        assert_true(json_array_size(lines) > 0);
        for (size_t k = json_array_size(lines); k-- > 0;) {
            int n = (int)json_integer_value(json_object_get(json_array_get(lines, k), "n"));
            assert_int_equal(n, last_seen - 1);
            last_seen = n;
        }
        json_decref(lines);
    }
    path_of(path, sizeof path, ".6");
    assert_int_equal(file_size(path), -1);
    assert_true(last_seen > 0); /* the oldest lines were dropped */
}

static void test_oversized_line_goes_into_empty_file(void **state)
{
    log_fixture *fx = *state;
    assert_int_equal(cg_log_open(fx->state_dir, 50), 0);
    cg_log(CG_LOG_INFO, "test", "a line much longer than the fifty byte limit", NULL);
    cg_log(CG_LOG_INFO, "test", "another line much longer than the limit", NULL);
    json_t *lines = read_lines(cg_log_path());
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 0), "message")),
                        "another line much longer than the limit");
    json_decref(lines);
    char path[256];
    path_of(path, sizeof path, ".1");
    lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 1);
    json_decref(lines);
}

static void test_set_max_file_bytes(void **state)
{
    log_fixture *fx = *state;
    assert_int_equal(cg_log_open(fx->state_dir, 0), 0);
    cg_log(CG_LOG_INFO, "test", "before the limit changes", NULL);
    cg_log_set_max_file_bytes(10);
    cg_log(CG_LOG_INFO, "test", "after", NULL);
    char path[256];
    path_of(path, sizeof path, ".1");
    assert_true(file_size(path) > 0);
    json_t *lines = read_lines(cg_log_path());
    assert_int_equal(json_array_size(lines), 1);
    json_decref(lines);
}

/* ---- the writer thread ---- */

#define THREADS 4
#define LINES_PER_THREAD 500

static void *log_from_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int n = 0; n < LINES_PER_THREAD; n++)
        cg_log(CG_LOG_INFO, "test", "from a thread", json_pack("{s:i, s:i}", "thread", t, "n", n));
    return NULL;
}

/* About 110 bytes a line, 2,000 lines: four files of 64 KiB, so nothing rotates away. */
static void test_lines_from_threads_arrive_whole_in_order(void **state)
{
    log_fixture *fx = *state;
    const int64_t max = 64 * 1024;
    assert_int_equal(cg_log_open(fx->state_dir, max), 0);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, log_from_thread, (void *)(intptr_t)t),
                         0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);

    int next[THREADS] = {0};
    char path[256];
    path_of(path, sizeof path, ".1");
    assert_true(file_size(path) > 0); /* it did rotate */
    for (int i = CG_LOG_KEEP_FILES; i >= 0; i--) {
        char suffix[8] = "";
        if (i > 0) snprintf(suffix, sizeof suffix, ".%d", i);
        path_of(path, sizeof path, suffix);
        int64_t size = file_size(path);
        if (size < 0) continue;
        assert_true(size <= max);
        json_t *lines = read_lines(path);
        for (size_t k = 0; k < json_array_size(lines); k++) {
            json_t *line = json_array_get(lines, k);
            int t = (int)json_integer_value(json_object_get(line, "thread"));
            assert_true(t >= 0 && t < THREADS);
            assert_int_equal(json_integer_value(json_object_get(line, "n")), next[t]);
            next[t]++;
        }
        json_decref(lines);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(next[t], LINES_PER_THREAD);
}

/* A log whose "file" is a FIFO nobody reads yet: once the pipe's 64 KiB are full the
 * writer is stuck in writev(2), as on a stalled disk. */
typedef struct fifo_reader {
    int fd;
    pthread_t thread;
    cg_buf data;
} fifo_reader;

static void open_fifo_log(log_fixture *fx, fifo_reader *r)
{
    char path[128];
    snprintf(path, sizeof path, "%s/logs", fx->state_dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/logs/clawgate.log", fx->state_dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    /* Non-blocking so the open does not wait for a writer; blocking reads afterwards. */
    r->fd = open(path, O_RDONLY | O_NONBLOCK);
    assert_true(r->fd >= 0);
    assert_int_equal(fcntl(r->fd, F_SETFL, 0), 0);
    assert_int_equal(cg_log_open(fx->state_dir, 0), 0);
}

static void *read_fifo(void *arg)
{
    fifo_reader *r = arg;
    char buf[65536];
    for (;;) {
        ssize_t n = read(r->fd, buf, sizeof buf);
        if (n > 0)
            cg_buf_append(&r->data, buf, (size_t)n);
        else if (n == 0 || errno != EINTR)
            break;
    }
    return NULL;
}

#define FIFO_LINES 3000

/* Logs FIFO_LINES numbered lines into the stuck writer, then reads the FIFO while
 * cg_log_close drains the queue; returns the lines that came out. */
static json_t *log_into_stuck_writer(fifo_reader *r)
{
    /* The synchronous log this replaced would block here for good: fail instead. */
    alarm(60);
    for (int n = 0; n < FIFO_LINES; n++)
        cg_log(CG_LOG_INFO, "test", "queued", json_pack("{s:i}", "n", n));
    assert_true(FIFO_LINES * 80 > fcntl(r->fd, F_GETPIPE_SZ)); /* the writer is stuck */
    assert_int_equal(pthread_create(&r->thread, NULL, read_fifo, r), 0);
    cg_log_close(); /* EOF for the reader once drained */
    pthread_join(r->thread, NULL);
    alarm(0);
    close(r->fd);
    json_t *lines = parse_lines(r->data.data, r->data.len);
    cg_buf_reset(&r->data);
    return lines;
}

static void test_stuck_writer_never_blocks_and_close_drains(void **state)
{
    fifo_reader r = {0};
    open_fifo_log(*state, &r);
    json_t *lines = log_into_stuck_writer(&r);
    assert_int_equal(json_array_size(lines), FIFO_LINES);
    for (size_t k = 0; k < json_array_size(lines); k++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(lines, k), "n")),
                         (json_int_t)k);
    json_decref(lines);
}

static void test_full_queue_drops_and_reports_the_gap(void **state)
{
    fifo_reader r = {0};
    cg_log_set_max_pending_bytes(16 * 1024);
    open_fifo_log(*state, &r);
    json_t *lines = log_into_stuck_writer(&r);
    json_int_t expected = 0, notices = 0;
    for (size_t k = 0; k < json_array_size(lines); k++) {
        json_t *line = json_array_get(lines, k);
        const char *subsystem = json_string_value(json_object_get(line, "subsystem"));
        if (strcmp(subsystem, "log") == 0) {
            assert_string_equal(json_string_value(json_object_get(line, "level")), "warn");
            assert_int_equal(json_object_size(line), 4);
            unsigned long long dropped = 0;
            char tail = 0;
            assert_int_equal(sscanf(json_string_value(json_object_get(line, "message")),
                                    "dropped %llu log line%c", &dropped, &tail),
                             2);
            assert_true(dropped > 0);
            /* The notice stands where the lines are missing. */
            expected += (json_int_t)dropped;
            notices++;
            continue;
        }
        assert_int_equal(json_integer_value(json_object_get(line, "n")), expected);
        expected++;
    }
    assert_int_equal(expected, FIFO_LINES); /* kept + dropped = logged */
    assert_true(notices > 0);
    assert_true(json_array_size(lines) < FIFO_LINES);
    json_decref(lines);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_and_invalid_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_appends_to_existing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_keeps_five_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_line_goes_into_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_max_file_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lines_from_threads_arrive_whole_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stuck_writer_never_blocks_and_close_drains, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_drops_and_reports_the_gap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
