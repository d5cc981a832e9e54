/* Unit tests for cron expressions and time zones (src/cron/expr.c, tz.c, schedule.c): a
 * table of expressions with a zone and a starting instant against their next times
 * (checked against Python's zoneinfo for the DST rows), including spring-forward gaps
 * and fall-back overlaps in America/New_York and Europe/Berlin, times past the zone
 * files' last transition (the POSIX footer rule), 6-field seconds, Feb 29, L, #n, names;
 * sequences through a DST change (each local time once); invalid expressions and their
 * messages; zone names (case-insensitive, refused paths); ISO 8601 and `every`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cron/expr.h"
#include "cron/schedule.h"
#include "cron/tz.h"

static int64_t iso(const char *s)
{
    int64_t ms = cg_cron_parse_iso8601(s);
    assert_true(ms >= 0);
    return ms;
}

static void fmt(int64_t ms, char *buf, size_t len)
{
    if (ms < 0) {
        snprintf(buf, len, "none");
        return;
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct next_case {
    const char *expr, *tz, *from, *want; /* want "none": no next time */
} next_case;

static const next_case next_cases[] = {
    /* basics, UTC */
    {"* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
    {"* * * * *", "UTC", "2026-01-01T00:00:30.500Z", "2026-01-01T00:01:00Z"},
    {"*/15 * * * *", "UTC", "2026-01-01T00:14:59Z", "2026-01-01T00:15:00Z"},
    {"0 9 * * *", "UTC", "2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z"},
    {"0 9 * * 1-5", "UTC", "2026-01-02T10:00:00Z", "2026-01-05T09:00:00Z"}, /* Fri -> Mon */
    {"0 9 * * MON-FRI", "UTC", "2026-01-02T10:00:00Z", "2026-01-05T09:00:00Z"},
    {"0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"}, /* 7 = Sunday */
    {"0 0 * * sun", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 1 jan *", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"0 0 1 JAN,jul *", "UTC", "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"},
    {"5,10-12 * * * *", "UTC", "2026-01-01T00:10:00Z", "2026-01-01T00:11:00Z"},
    {"10-40/10 * * * *", "UTC", "2026-01-01T00:40:00Z", "2026-01-01T01:10:00Z"},
    {"30/15 * * * *", "UTC", "2026-01-01T00:46:00Z", "2026-01-01T01:30:00Z"},
    {"0 0 ? * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    /* day-of-month OR day-of-week when both are restricted (croner's default) */
    {"0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},   /* Fri 2nd */
    {"0 0 13 * 5", "UTC", "2026-01-10T00:00:00Z", "2026-01-13T00:00:00Z"},   /* Tue 13th */
    {"0 0 */10 * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-11T00:00:00Z"}, /* step: not * */
    /* 6 fields: seconds first */
    {"*/10 * * * * *", "UTC", "2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z"},
    {"30 0 12 * * *", "UTC", "2026-01-01T12:00:30Z", "2026-01-02T12:00:30Z"},
    /* Feb 29, L, #n, nL */
    {"0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", "Europe/Berlin", "2028-03-01T00:00:00Z", "2032-02-28T23:00:00Z"},
    {"0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", "none"},
    {"0 0 L * *", "UTC", "2026-02-01T00:00:00Z", "2026-02-28T00:00:00Z"},
    {"0 0 L 2 *", "UTC", "2027-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 12 * * FRI#2", "UTC", "2026-01-01T00:00:00Z", "2026-01-09T12:00:00Z"},
    {"0 9 * * 5L", "UTC", "2026-01-01T00:00:00Z", "2026-01-30T09:00:00Z"},
    /* zones */
    {"0 9 * * *", "Europe/Berlin", "2026-01-01T00:00:00Z", "2026-01-01T08:00:00Z"},
    {"0 9 * * *", "Europe/Berlin", "2026-07-01T00:00:00Z", "2026-07-01T07:00:00Z"},
    {"0 9 * * *", "europe/berlin", "2026-07-01T00:00:00Z", "2026-07-01T07:00:00Z"},
    {"0 9 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T03:30:00Z"},
    /* America/New_York spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) */
    {"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
    {"30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
    {"0 3 * * *", "America/New_York", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"},
    /* fall back 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z): 01:30 once, the first */
    {"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
    {"30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
    {"30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", "2026-11-02T06:30:00Z"},
    /* Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00 -> 02:00 */
    {"30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
    {"30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
    {"30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
    /* past the files' last transition (2037): the POSIX rule of the footer */
    {"0 9 1 7 *", "Europe/Berlin", "2045-01-01T00:00:00Z", "2045-07-01T07:00:00Z"},
    {"30 2 13 3 *", "America/New_York", "2050-01-01T00:00:00Z", "2050-03-13T07:00:00Z"},
    {"30 1 6 11 *", "America/New_York", "2050-01-01T00:00:00Z", "2050-11-06T05:30:00Z"},
};

static void test_next_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof next_cases / sizeof next_cases[0]; i++) {
        const next_case *c = &next_cases[i];
        char err[256], got[32];
        cg_cron_expr e;
        assert_int_equal(cg_cron_parse(c->expr, &e, err, sizeof err), 0);
        const cg_tz *tz = cg_tz_get(c->tz, err, sizeof err);
        assert_non_null(tz);
        fmt(cg_cron_next(&e, tz, iso(c->from)), got, sizeof got);
        if (strcmp(got, c->want) != 0) {
            print_error("%s [%s] from %s: got %s, want %s\n", c->expr, c->tz, c->from, got,
                        c->want);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Walks next times from `from` and compares the sequence. */
static void check_sequence(const char *expr, const char *zone, const char *from,
                           const char *const *want, size_t n)
{
    char err[256], got[32];
    cg_cron_expr e;
    assert_int_equal(cg_cron_parse(expr, &e, err, sizeof err), 0);
    const cg_tz *tz = cg_tz_get(zone, err, sizeof err);
    assert_non_null(tz);
    int64_t t = iso(from);
    for (size_t i = 0; i < n; i++) {
        t = cg_cron_next(&e, tz, t);
        fmt(t, got, sizeof got);
        assert_string_equal(got, want[i]);
    }
}

static void test_fall_back_runs_each_local_time_once(void **state)
{
    (void)state;
    /* 01:00-01:59 happens twice; the second pass (EST, 06:00Z-06:59Z) is not run again. */
    static const char *const want[] = {"2026-11-01T05:20:00Z", "2026-11-01T05:40:00Z",
                                       "2026-11-01T07:00:00Z", "2026-11-01T07:20:00Z"};
    check_sequence("*/20 * * * *", "America/New_York", "2026-11-01T05:00:00Z", want, 4);
}

static void test_spring_forward_gap_runs_once(void **state)
{
    (void)state;
    /* 02:00, 02:15, 02:30, 02:45 do not exist: one run at 03:00 EDT (07:00Z), then 03:15. */
    static const char *const want[] = {"2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z",
                                       "2026-03-08T07:15:00Z"};
    check_sequence("*/15 * * * *", "America/New_York", "2026-03-08T06:30:00Z", want, 3);
}

typedef struct bad_case {
    const char *expr, *message;
} bad_case;

static void test_invalid_expressions(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"", "expected 5 or 6 fields, got 0"},
        {"* * * *", "expected 5 or 6 fields, got 4"},
        {"* * * * * * *", "expected 5 or 6 fields, got more than 6"},
        {"60 * * * *", "minute field: 60 is out of range 0-59"},
        {"* 24 * * *", "hour field: 24 is out of range 0-23"},
        {"* * 0 * *", "day-of-month field: 0 is out of range 1-31"},
        {"* * * 13 *", "month field: 13 is out of range 1-12"},
        {"* * * * 8", "day-of-week field: 8 is out of range 0-7"},
        {"61 * * * * *", "second field: 61 is out of range 0-59"},
        {"5-1 * * * *", "minute field: range 5-1 goes backwards"},
        {"*/0 * * * *", "minute field: step 0 is out of range 1-60"},
        {"*/x * * * *", "minute field: step must be a number"},
        {"1,,2 * * * *", "minute field: empty list item"},
        {"* * * FOO *", "month field: unexpected 'FOO'"},
        {"* * * * MON#6", "day-of-week field: occurrence 6 is out of range 1-5"},
        {"1x * * * *", "minute field: unexpected 'x'"},
        {"L * * * *", "minute field: unexpected 'L'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        cg_cron_expr e;
        assert_int_equal(cg_cron_parse(cases[i].expr, &e, err, sizeof err), -1);
        if (!strstr(err, cases[i].message)) {
            print_error("'%s': got '%s', want '%s'\n", cases[i].expr, err, cases[i].message);
            fail();
        }
    }
    char long_expr[CG_CRON_EXPR_MAX + 8];
    memset(long_expr, '1', sizeof long_expr - 1);
    long_expr[sizeof long_expr - 1] = '\0';
    char err[256];
    cg_cron_expr e;
    assert_int_equal(cg_cron_parse(long_expr, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than"));
}

static void test_zone_names(void **state)
{
    (void)state;
    char err[256];
    const cg_tz *a = cg_tz_get("America/New_York", err, sizeof err);
    assert_non_null(a);
    assert_ptr_equal(cg_tz_get("america/new_york", err, sizeof err), a); /* cached, same zone */
    assert_string_equal(cg_tz_name(cg_tz_get("AMERICA/NEW_YORK", err, sizeof err)),
                        "America/New_York");
    assert_int_equal(cg_tz_offset(a, iso("2026-01-15T12:00:00Z") / 1000), -5 * 3600);
    assert_int_equal(cg_tz_offset(a, iso("2026-07-15T12:00:00Z") / 1000), -4 * 3600);
    assert_int_equal(cg_tz_offset(cg_tz_get(NULL, err, sizeof err), 0), 0);
    assert_int_equal(cg_tz_offset(cg_tz_get("utc", err, sizeof err), 0), 0);
    static const char *const bad[] = {"../../etc/passwd", "/etc/localtime",   "Europe//Berlin",
                                      "Mars/Olympus",     "Europe/Berlin/..", "a b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(cg_tz_get(bad[i], err, sizeof err));
        assert_true(strstr(err, "time zone") != NULL);
    }
}

static void test_iso8601(void **state)
{
    (void)state;
    assert_int_equal(cg_cron_parse_iso8601("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(cg_cron_parse_iso8601("2026-12-03T17:00:00.250Z"), 1796317200250);
    assert_int_equal(cg_cron_parse_iso8601("2026-12-03T18:00:00+01:00"), 1796317200000);
    assert_int_equal(cg_cron_parse_iso8601("2026-12-03T17:00"), 1796317200000);
    assert_int_equal(cg_cron_parse_iso8601("2026-02-30T00:00:00Z"), -1);
    assert_int_equal(cg_cron_parse_iso8601("2026-12-03"), -1);
    assert_int_equal(cg_cron_parse_iso8601("2026-12-03T17:00:00Zjunk"), -1);
}

static void test_every_schedule(void **state)
{
    (void)state;
    char err[256];
    cg_cron_schedule s;
    json_t *o = json_pack("{s:s, s:i, s:i}", "kind", "every", "everyMs", 1000, "anchorMs", 500);
    assert_int_equal(cg_cron_schedule_parse(o, 0, &s, err, sizeof err), 0);
    assert_int_equal(cg_cron_schedule_next(&s, 0), 500);
    assert_int_equal(cg_cron_schedule_next(&s, 500), 1500);
    assert_int_equal(cg_cron_schedule_next(&s, 1499), 1500);
    json_decref(o);
    o = json_pack("{s:s, s:s}", "kind", "on-exit", "command", "x");
    assert_int_equal(cg_cron_schedule_parse(o, 0, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "not supported"));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_table),
        cmocka_unit_test(test_fall_back_runs_each_local_time_once),
        cmocka_unit_test(test_spring_forward_gap_runs_once),
        cmocka_unit_test(test_invalid_expressions),
        cmocka_unit_test(test_zone_names),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_every_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
