/* Unit tests for logs.tail's file logic (cg_logs_tail_file): no cursor, a cursor in
 * range, at the end and past the end, the maxBytes skip, limit truncation, partial
 * first and trailing lines, a missing file; the JSON text itself (parsed back: the
 * LogsTailResult keys in order, every line byte for byte through the escapes, UTF-8
 * validity decided as jansson decides it, '?' for the non-ASCII bytes of an invalid
 * line); and the method table row with its strict params check. Files are written byte
 * for byte into a temp dir, so offsets in the assertions are exact. Last, the tail
 * against the live log while its writer thread appends: cursors chain with no line
 * lost, repeated or cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "methods/logs.h"

typedef struct tail_fixture {
    char dir[64];
    char path[96];
} tail_fixture;

static int setup(void **state)
{
    tail_fixture *fx = cg_xcalloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/cg-test-tail-XXXXXX");
    if (!mkdtemp(fx->dir)) return -1;
    snprintf(fx->path, sizeof fx->path, "%s/clawgate.log", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    tail_fixture *fx = *state;
    unlink(fx->path);
    int rc = rmdir(fx->dir);
    free(fx);
    return rc;
}

static void write_file(const char *path, const char *data, size_t len, bool append)
{
    int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text), false);
}

typedef struct tail_view {
    json_t *result;
    int64_t cursor, size, skipped;
    bool truncated, reset;
    json_t *lines;
} tail_view;

/* Runs the tail and checks its text is one JSON object with exactly the LogsTailResult
 * keys we send, in order. */
static tail_view tail(const char *path, bool has_cursor, int64_t cursor, int64_t limit,
                      int64_t max_bytes)
{
    tail_view v = {0};
    size_t len = 0;
    char *text = cg_logs_tail_file(path, has_cursor, cursor, limit, max_bytes, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    json_error_t err;
    v.result = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    free(text);
    assert_non_null(v.result);
    static const char *const keys[] = {"file",      "cursor", "size",        "lines",
                                       "truncated", "reset",  "skippedBytes"};
    void *it = json_object_iter(v.result);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_non_null(it);
        assert_string_equal(json_object_iter_key(it), keys[i]);
        it = json_object_iter_next(v.result, it);
    }
    assert_null(it);
    assert_string_equal(json_string_value(json_object_get(v.result, "file")), path);
    v.cursor = json_integer_value(json_object_get(v.result, "cursor"));
    v.size = json_integer_value(json_object_get(v.result, "size"));
    v.skipped = json_integer_value(json_object_get(v.result, "skippedBytes"));
    v.truncated = json_is_true(json_object_get(v.result, "truncated"));
    v.reset = json_is_true(json_object_get(v.result, "reset"));
    v.lines = json_object_get(v.result, "lines");
    assert_true(json_is_array(v.lines));
    return v;
}

static void assert_lines(const tail_view *v, const char *const *expected, size_t n)
{
    assert_int_equal(json_array_size(v->lines), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(v->lines, i)), expected[i]);
}

#define ASSERT_LINES(v, ...)                                                                       \
    do {                                                                                           \
        const char *const expected_[] = {__VA_ARGS__};                                             \
        assert_lines((v), expected_, sizeof expected_ / sizeof expected_[0]);                      \
    } while (0)

/* "aaa\nbbb\nccc\nddd\n": lines start at 0, 4, 8, 12; size 16. */
static const char FOUR_LINES[] = "aaa\nbbb\nccc\nddd\n";

static void test_no_cursor_whole_file(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, FOUR_LINES);
    tail_view v = tail(fx->path, false, 0, 500, 250000);
    ASSERT_LINES(&v, "aaa", "bbb", "ccc", "ddd");
    assert_int_equal(v.cursor, 16);
    assert_int_equal(v.size, 16);
    assert_false(v.truncated);
    assert_false(v.reset);
    assert_int_equal(v.skipped, 0);
    json_decref(v.result);
}

static void test_no_cursor_last_max_bytes_whole_lines(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, FOUR_LINES);
    /* The last 6 bytes start inside "ccc": that partial line is dropped. */
    tail_view v = tail(fx->path, false, 0, 500, 6);
    ASSERT_LINES(&v, "ddd");
    assert_int_equal(v.cursor, 16);
    assert_true(v.truncated);
    assert_false(v.reset);
    json_decref(v.result);
    /* The last 8 bytes start exactly at a line: it is kept. */
    v = tail(fx->path, false, 0, 500, 8);
    ASSERT_LINES(&v, "ccc", "ddd");
    assert_true(v.truncated);
    json_decref(v.result);
    /* maxBytes equal to the size reads it all. */
    v = tail(fx->path, false, 0, 500, 16);
    ASSERT_LINES(&v, "aaa", "bbb", "ccc", "ddd");
    assert_false(v.truncated);
    json_decref(v.result);
}

static void test_no_cursor_limit_keeps_newest(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, FOUR_LINES);
    tail_view v = tail(fx->path, false, 0, 2, 250000);
    ASSERT_LINES(&v, "ccc", "ddd");
    assert_int_equal(v.cursor, 16);
    assert_true(v.truncated);
    assert_false(v.reset);
    json_decref(v.result);
    v = tail(fx->path, false, 0, 1, 250000);
    ASSERT_LINES(&v, "ddd");
    json_decref(v.result);
}

static void test_cursor_in_range(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, FOUR_LINES);
    tail_view v = tail(fx->path, true, 8, 500, 250000);
    ASSERT_LINES(&v, "ccc", "ddd");
    assert_int_equal(v.cursor, 16);
    assert_false(v.truncated);
    assert_false(v.reset);
    assert_int_equal(v.skipped, 0);
    json_decref(v.result);

    v = tail(fx->path, true, 0, 500, 250000);
    ASSERT_LINES(&v, "aaa", "bbb", "ccc", "ddd");
    json_decref(v.result);

    /* A cursor at the end: nothing new, the cursor stays. */
    v = tail(fx->path, true, 16, 500, 250000);
    assert_int_equal(json_array_size(v.lines), 0);
    assert_int_equal(v.cursor, 16);
    assert_false(v.reset);
    assert_false(v.truncated);
    json_decref(v.result);

    /* Follow: append and read from the returned cursor. */
    write_file(fx->path, "eee\n", 4, true);
    v = tail(fx->path, true, 16, 500, 250000);
    ASSERT_LINES(&v, "eee");
    assert_int_equal(v.cursor, 20);
    assert_int_equal(v.size, 20);
    json_decref(v.result);
}

static void test_cursor_with_limit_keeps_newest(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, FOUR_LINES);
    tail_view v = tail(fx->path, true, 4, 2, 250000);
    ASSERT_LINES(&v, "ccc", "ddd");
    assert_int_equal(v.cursor, 16);
    assert_true(v.truncated);
    assert_false(v.reset);
    assert_int_equal(v.skipped, 0);
    json_decref(v.result);
}

static void test_cursor_past_size_resets(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, FOUR_LINES);
    tail_view v = tail(fx->path, true, 1000, 500, 250000);
    ASSERT_LINES(&v, "aaa", "bbb", "ccc", "ddd");
    assert_true(v.reset);
    assert_false(v.truncated);
    assert_int_equal(v.cursor, 16);
    assert_int_equal(v.skipped, 0);
    json_decref(v.result);
    /* Rotated and the new file is larger than maxBytes: as without a cursor. */
    v = tail(fx->path, true, 1000, 500, 6);
    ASSERT_LINES(&v, "ddd");
    assert_true(v.reset);
    assert_true(v.truncated);
    json_decref(v.result);
}

static void test_max_bytes_skip_from_cursor(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, FOUR_LINES);
    /* 16 bytes waiting after cursor 0, maxBytes 6: the window starts at 10, inside
     * "ccc", so the first line returned is "ddd" at 12: 12 bytes jumped over. */
    tail_view v = tail(fx->path, true, 0, 500, 6);
    ASSERT_LINES(&v, "ddd");
    assert_true(v.reset);
    assert_true(v.truncated);
    assert_int_equal(v.skipped, 12);
    assert_int_equal(v.cursor, 16);
    json_decref(v.result);
    /* A window that starts on a line boundary: cursor 4, maxBytes 8 -> starts at 8. */
    v = tail(fx->path, true, 4, 500, 8);
    ASSERT_LINES(&v, "ccc", "ddd");
    assert_true(v.reset);
    assert_int_equal(v.skipped, 4);
    json_decref(v.result);
}

static void test_partial_trailing_line(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, "aaa\nbbb\ncc");
    tail_view v = tail(fx->path, false, 0, 500, 250000);
    ASSERT_LINES(&v, "aaa", "bbb");
    assert_int_equal(v.cursor, 8);
    assert_int_equal(v.size, 10);
    json_decref(v.result);

    v = tail(fx->path, true, 8, 500, 250000);
    assert_int_equal(json_array_size(v.lines), 0);
    assert_int_equal(v.cursor, 8);
    json_decref(v.result);

    write_file(fx->path, "c\n", 2, true);
    v = tail(fx->path, true, 8, 500, 250000);
    ASSERT_LINES(&v, "ccc");
    assert_int_equal(v.cursor, 12);
    json_decref(v.result);
}

static void test_no_whole_line_in_window(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, "no newline yet");
    tail_view v = tail(fx->path, false, 0, 500, 250000);
    assert_int_equal(json_array_size(v.lines), 0);
    assert_int_equal(v.cursor, 0);
    json_decref(v.result);

    /* One long line bigger than maxBytes, then a short one. */
    write_text(fx->path, "0123456789012345678901234567890123456789\nok\n");
    v = tail(fx->path, false, 0, 500, 10);
    ASSERT_LINES(&v, "ok");
    assert_int_equal(v.cursor, 44);
    json_decref(v.result);
    /* A window entirely inside the long line: nothing returned, nothing half-read. */
    write_text(fx->path, "0123456789012345678901234567890123456789");
    v = tail(fx->path, true, 0, 500, 10);
    assert_int_equal(json_array_size(v.lines), 0);
    assert_true(v.reset);
    assert_int_equal(v.cursor, 30);
    assert_int_equal(v.skipped, 30);
    json_decref(v.result);
}

static void test_missing_and_empty_file(void **state)
{
    tail_fixture *fx = *state;
    tail_view v = tail(fx->path, false, 0, 500, 250000);
    assert_int_equal(json_array_size(v.lines), 0);
    assert_int_equal(v.cursor, 0);
    assert_int_equal(v.size, 0);
    assert_false(v.reset);
    json_decref(v.result);
    v = tail(fx->path, true, 5, 500, 250000);
    assert_true(v.reset);
    assert_int_equal(v.cursor, 0);
    json_decref(v.result);

    write_text(fx->path, "");
    v = tail(fx->path, true, 0, 500, 250000);
    assert_int_equal(json_array_size(v.lines), 0);
    assert_false(v.reset);
    json_decref(v.result);
}

static void test_unreadable_path_fails(void **state)
{
    tail_fixture *fx = *state;
    size_t len;
    assert_null(cg_logs_tail_file(fx->dir, false, 0, 500, 250000, &len));
}

static void test_empty_lines_and_invalid_utf8(void **state)
{
    tail_fixture *fx = *state;
    write_text(fx->path, "a\n\nb\xff\xfe\n{\"message\":\"caf\xc3\xa9\"}\n");
    tail_view v = tail(fx->path, false, 0, 500, 250000);
    ASSERT_LINES(&v, "a", "", "b??", "{\"message\":\"caf\xc3\xa9\"}");
    json_decref(v.result);
}

/* Each line comes back as exactly its bytes: quotes, backslashes, control characters,
 * an embedded NUL, DEL, U+2028 and a 4-byte sequence. */
static void test_escapes_round_trip(void **state)
{
    tail_fixture *fx = *state;
    static const char content[] = "{\"message\":\"say \\\"hi\\\"\"}\n"
                                  "back\\slash\ttab\x01\x1f\x7f end\n"
                                  "nul\0inside\n"
                                  "sep\xe2\x80\xa8 emoji \xf0\x9f\x98\x80\n";
    write_file(fx->path, content, sizeof content - 1, false);
    tail_view v = tail(fx->path, false, 0, 500, 250000);
    assert_int_equal(json_array_size(v.lines), 4);
    const char *line = content;
    for (size_t i = 0; i < 4; i++) {
        const char *nl = memchr(line, '\n', sizeof content - 1 - (size_t)(line - content));
        json_t *got = json_array_get(v.lines, i);
        assert_int_equal(json_string_length(got), (size_t)(nl - line));
        assert_memory_equal(json_string_value(got), line, (size_t)(nl - line));
        line = nl + 1;
    }
    json_decref(v.result);
}

/* Whether a line is valid UTF-8 is decided as jansson decides it (the oracle here): an
 * invalid one comes back with every non-ASCII byte as '?', a valid one unchanged. */
static void test_utf8_validity_matches_jansson(void **state)
{
    tail_fixture *fx = *state;
    static const char *const lines[] = {
        "ok \xc3\xa9 \xe2\x82\xac \xf4\x8f\xbf\xbf", /* 2, 3, 4 bytes; U+10FFFF */
        "overlong \xc0\xaf",
        "overlong3 \xe0\x80\xaf",
        "overlong4 \xf0\x80\x80\xaf",
        "surrogate \xed\xa0\x80",
        "too big \xf4\x90\x80\x80",
        "cut \xe2\x82",
        "lone \x80 continuation",
        "cut at the end \xc3",
        "\xf5\x80\x80\x80 f5",
    };
    size_t n = sizeof lines / sizeof lines[0];
    cg_buf content = {0};
    for (size_t i = 0; i < n; i++) {
        cg_buf_appends(&content, lines[i]);
        cg_buf_append(&content, "\n", 1);
    }
    write_file(fx->path, content.data, content.len, false);
    cg_buf_reset(&content);
    tail_view v = tail(fx->path, false, 0, 500, 250000);
    assert_int_equal(json_array_size(v.lines), n);
    for (size_t i = 0; i < n; i++) {
        json_t *as_jansson = json_string(lines[i]);
        char *expected = cg_strdup(lines[i]);
        if (!as_jansson)
            for (char *c = expected; *c; c++)
                if ((unsigned char)*c >= 0x80) *c = '?';
        assert_string_equal(json_string_value(json_array_get(v.lines, i)), expected);
        assert_true(i == 0 ? as_jansson != NULL : as_jansson == NULL);
        free(expected);
        json_decref(as_jansson);
    }
    json_decref(v.result);
}

static void test_large_file_small_window(void **state)
{
    tail_fixture *fx = *state;
    cg_buf content = {0};
    for (int i = 0; i < 20000; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "{\"n\":%d,\"message\":\"padding padding\"}\n", i);
        cg_buf_append(&content, line, (size_t)n);
    }
    write_file(fx->path, content.data, content.len, false);
    tail_view v = tail(fx->path, false, 0, 3, 1000);
    assert_int_equal(json_array_size(v.lines), 3);
    assert_string_equal(json_string_value(json_array_get(v.lines, 2)),
                        "{\"n\":19999,\"message\":\"padding padding\"}");
    assert_int_equal(v.cursor, (int64_t)content.len);
    assert_true(v.truncated);
    json_decref(v.result);
    cg_buf_reset(&content);
}

/* The table row: operator-only, read scope, and LogsTailParams checked strictly. */
static void test_method_row_and_params(void **state)
{
    const cg_method *m = cg_method_find("logs.tail");
    assert_non_null(m);
    assert_int_equal(m->roles, CG_ROLE_OPERATOR);
    assert_int_equal(m->scope, CG_SCOPE_READ);
    assert_non_null(m->check);
    assert_non_null(m->handler);

    const char *good[] = {"{}", "{\"cursor\":0}", "{\"cursor\":123456789012}",
                          "{\"limit\":1,\"maxBytes\":1}",
                          "{\"cursor\":5,\"limit\":5000,\"maxBytes\":1000000}"};
    const char *bad[] = {"{\"cursor\":-1}",        "{\"limit\":0}",
                         "{\"limit\":5001}",       "{\"maxBytes\":0}",
                         "{\"maxBytes\":1000001}", "{\"limit\":\"5\"}",
                         "{\"limit\":1.5}",        "{\"cursor\":null}",
                         "{\"follow\":true}",      "[]",
                         "{\"limit\":true}"};
    char err[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *params = json_loads(good[i], 0, NULL);
        err[0] = 0;
        assert_int_equal(m->check(params, err, sizeof err), 0);
        json_decref(params);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *params = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        err[0] = 0;
        assert_int_equal(m->check(params, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
        json_decref(params);
    }
}

#define APPENDED_LINES 5000

static void *append_numbered_lines(void *arg)
{
    for (int n = 0; n < APPENDED_LINES; n++)
        cg_log(CG_LOG_INFO, "test", "appended", json_pack("{s:i}", "n", n));
    return NULL;
}

/* The writer appends batches of whole lines with writev(2) while the tail reads: a read
 * may end inside a batch or a line, and the partial line must wait for the next call.
 * 5,000 lines of ~90 bytes stay under maxBytes and limit, so nothing may be skipped. */
static void test_tail_while_the_writer_appends(void **state)
{
    tail_fixture *fx = *state;
    assert_int_equal(cg_log_open(fx->dir, 0), 0);
    pthread_t writer;
    assert_int_equal(pthread_create(&writer, NULL, append_numbered_lines, NULL), 0);
    alarm(60);
    int64_t cursor = 0;
    json_int_t next = 0;
    while (next < APPENDED_LINES) {
        tail_view v =
            tail(cg_log_path(), true, cursor, CG_LOGS_TAIL_MAX_LIMIT, CG_LOGS_TAIL_MAX_MAX_BYTES);
        assert_false(v.reset);
        assert_false(v.truncated);
        for (size_t i = 0; i < json_array_size(v.lines); i++) {
            json_t *line = json_loads(json_string_value(json_array_get(v.lines, i)), 0, NULL);
            assert_non_null(line);
            assert_int_equal(json_integer_value(json_object_get(line, "n")), next);
            next++;
            json_decref(line);
        }
        cursor = v.cursor;
        json_decref(v.result);
    }
    alarm(0);
    pthread_join(writer, NULL);
    cg_log_close();
    char logs[128];
    snprintf(logs, sizeof logs, "%s/logs/clawgate.log", fx->dir);
    assert_int_equal(unlink(logs), 0);
    snprintf(logs, sizeof logs, "%s/logs", fx->dir);
    assert_int_equal(rmdir(logs), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_cursor_whole_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cursor_last_max_bytes_whole_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cursor_limit_keeps_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_in_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_with_limit_keeps_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_past_size_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_bytes_skip_from_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_trailing_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_whole_line_in_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_path_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_lines_and_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8_validity_matches_jansson, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_file_small_window, setup, teardown),
        cmocka_unit_test(test_method_row_and_params),
        cmocka_unit_test_setup_teardown(test_tail_while_the_writer_appends, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
