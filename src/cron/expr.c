/* Cron expressions (see expr.h): a parser into bit sets, one per field, and a search
 * for the next matching local time that jumps field by field (a month that does not
 * match is skipped whole, then a day, an hour, a minute), so a next time costs a few
 * dozen steps however sparse the expression.
 *
 * Local to UTC: a matching local wall-clock time is turned into the earliest UTC instant
 * that shows it (a repeated fall-back time: the first occurrence); a local time no
 * instant shows (a spring-forward gap) becomes the first instant whose local time is
 * past it, which is the transition itself. A candidate whose instant is not after the
 * starting point (the second pass through a repeated hour) is passed over, so every
 * local time runs once. */
#include "cron/expr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NTH_LAST 0x20u
/* Candidates looked at before giving up (the second pass of a repeated hour in a
 * seconds expression costs 3600). */
#define SEARCH_STEPS_MAX 200000

typedef struct field_spec {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] is value min + i, or NULL */
} field_spec;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const weekday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

enum { F_SECOND, F_MINUTE, F_HOUR, F_DAY, F_MONTH, F_WEEKDAY };
static const field_spec fields[] = {
    {"second", 0, 59, NULL},       {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},         {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, month_names}, {"day-of-week", 0, 7, weekday_names},
};

/* A value: digits or (for months and weekdays) a three-letter name. Advances *p. */
static int parse_value(const field_spec *f, const char **p, int *out, char *err, size_t errlen)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        int v = 0;
        while (isdigit((unsigned char)*s) && v <= 1000)
            v = v * 10 + (*s++ - '0');
        if (v < f->min || v > f->max) {
            snprintf(err, errlen, "%s field: %d is out of range %d-%d", f->name, v, f->min, f->max);
            return -1;
        }
        *out = v;
        *p = s;
        return 0;
    }
    if (f->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
        isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3])) {
        int count = f == &fields[F_MONTH] ? 12 : 7;
        for (int i = 0; i < count; i++)
            if (!strncasecmp(s, f->names[i], 3)) {
                *out = f->min + i;
                *p = s + 3;
                return 0;
            }
    }
    snprintf(err, errlen, "%s field: unexpected '%.12s'", f->name, s);
    return -1;
}

static int parse_number(const field_spec *f, const char **p, int lo, int hi, int *out, char *err,
                        size_t errlen, const char *what)
{
    const char *s = *p;
    int v = 0;
    if (!isdigit((unsigned char)*s)) {
        snprintf(err, errlen, "%s field: %s must be a number", f->name, what);
        return -1;
    }
    while (isdigit((unsigned char)*s) && v <= 1000)
        v = v * 10 + (*s++ - '0');
    if (v < lo || v > hi) {
        snprintf(err, errlen, "%s field: %s %d is out of range %d-%d", f->name, what, v, lo, hi);
        return -1;
    }
    *out = v;
    *p = s;
    return 0;
}

/* One comma-separated item of field f into bits (and e's extras for the day fields). */
static int parse_item(const field_spec *f, const char *item, uint64_t *bits, cg_cron_expr *e,
                      char *err, size_t errlen)
{
    const char *p = item;
    if (f == &fields[F_DAY] && !strcasecmp(item, "L")) {
        e->last_day = true;
        return 0;
    }
    int lo, hi;
    bool star = *p == '*' || *p == '?';
    if (star) {
        lo = f->min;
        hi = f == &fields[F_WEEKDAY] ? 6 : f->max;
        p++;
    } else {
        if (parse_value(f, &p, &lo, err, errlen) != 0) return -1;
        hi = lo;
        if (f == &fields[F_WEEKDAY] && (*p == '#' || *p == 'L' || *p == 'l')) {
            int nth = 6;
            if (*p == '#') {
                p++;
                if (parse_number(f, &p, 1, 5, &nth, err, errlen, "occurrence") != 0) return -1;
            } else {
                p++;
            }
            if (*p) goto trailing;
            e->weekday_nth[lo % 7] |= (uint8_t)(1u << (nth - 1));
            return 0;
        }
        if (*p == '-') {
            p++;
            if (parse_value(f, &p, &hi, err, errlen) != 0) return -1;
            if (hi < lo) {
                snprintf(err, errlen, "%s field: range %d-%d goes backwards", f->name, lo, hi);
                return -1;
            }
        }
    }
    int step = 1;
    if (*p == '/') {
        p++;
        if (parse_number(f, &p, 1, f->max - f->min + 1, &step, err, errlen, "step") != 0) return -1;
        if (!star && hi == lo) hi = f->max;
    }
    if (*p) goto trailing;
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ull << (f == &fields[F_WEEKDAY] ? v % 7 : v);
    return 0;
trailing:
    snprintf(err, errlen, "%s field: unexpected '%.12s' in '%.24s'", f->name, p, item);
    return -1;
}

static int parse_field(const field_spec *f, const char *text, uint64_t *bits, bool *any,
                       cg_cron_expr *e, char *err, size_t errlen)
{
    *bits = 0;
    *any = !strcmp(text, "*") || !strcmp(text, "?");
    char item[CG_CRON_EXPR_MAX + 1];
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0) {
            snprintf(err, errlen, "%s field: empty list item", f->name);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (parse_item(f, item, bits, e, err, errlen) != 0) return -1;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

int cg_cron_parse(const char *text, cg_cron_expr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    if (len > CG_CRON_EXPR_MAX) {
        snprintf(err, errlen, "longer than %d characters", CG_CRON_EXPR_MAX);
        return -1;
    }
    char copy[CG_CRON_EXPR_MAX + 1], *parts[7];
    memcpy(copy, text, len + 1);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, " \t\r\n", &save); tok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == 7) break;
        parts[n++] = tok;
    }
    if (n != 5 && n != 6) {
        snprintf(err, errlen, "expected 5 or 6 fields, got %s%d", n == 7 ? "more than " : "",
                 n == 7 ? 6 : n);
        return -1;
    }
    int first = n == 5 ? F_MINUTE : F_SECOND;
    if (n == 5) out->seconds = 1;
    uint64_t bits[6];
    bool any[6];
    for (int i = 0; i < n; i++)
        if (parse_field(&fields[first + i], parts[i], &bits[first + i], &any[first + i], out, err,
                        errlen) != 0)
            return -1;
    if (n == 6) out->seconds = bits[F_SECOND];
    out->minutes = bits[F_MINUTE];
    out->hours = (uint32_t)bits[F_HOUR];
    out->days = (uint32_t)bits[F_DAY];
    out->months = (uint32_t)bits[F_MONTH];
    out->weekdays = (uint8_t)bits[F_WEEKDAY];
    out->days_any = any[F_DAY];
    out->weekdays_any = any[F_WEEKDAY];
    return 0;
}

/* ---- next time ---- */

typedef struct local_time {
    int64_t year;
    int month, day, hour, minute, second;
} local_time;

static int next_bit(uint64_t bits, int from, int max)
{
    for (int v = from; v <= max; v++)
        if (bits >> v & 1) return v;
    return -1;
}

static bool day_matches(const cg_cron_expr *e, int64_t y, int m, int d)
{
    int dim = cg_days_in_month(y, m);
    int wd = cg_weekday_from_days(cg_days_from_civil(y, m, d));
    bool dom = (e->days >> d & 1) || (e->last_day && d == dim);
    uint8_t nth = e->weekday_nth[wd];
    bool dow =
        (e->weekdays >> wd & 1) || (nth >> ((d - 1) / 7) & 1) || ((nth & NTH_LAST) && d + 7 > dim);
    if (e->days_any && e->weekdays_any) return true;
    if (e->days_any) return dow;
    if (e->weekdays_any) return dom;
    return dom || dow;
}

static void next_day(local_time *t)
{
    t->hour = t->minute = t->second = 0;
    if (++t->day > cg_days_in_month(t->year, t->month)) {
        t->day = 1;
        if (++t->month > 12) {
            t->month = 1;
            t->year++;
        }
    }
}

/* Moves t forward to the first local time >= t that matches; false past year_limit. */
static bool next_local(const cg_cron_expr *e, local_time *t, int64_t year_limit)
{
    while (t->year <= year_limit) {
        if (!(e->months >> t->month & 1)) {
            int m = next_bit(e->months, t->month + 1, 12);
            if (m < 0) {
                t->year++;
                m = next_bit(e->months, 1, 12);
                if (m < 0) return false;
            }
            t->month = m;
            t->day = 1;
            t->hour = t->minute = t->second = 0;
            continue;
        }
        if (!day_matches(e, t->year, t->month, t->day)) {
            next_day(t);
            continue;
        }
        int h = next_bit(e->hours, t->hour, 23);
        if (h < 0) {
            next_day(t);
            continue;
        }
        if (h != t->hour) {
            t->hour = h;
            t->minute = t->second = 0;
        }
        int mi = next_bit(e->minutes, t->minute, 59);
        if (mi < 0) {
            t->minute = t->second = 0;
            if (++t->hour > 23) next_day(t);
            continue;
        }
        if (mi != t->minute) {
            t->minute = mi;
            t->second = 0;
        }
        int s = next_bit(e->seconds, t->second, 59);
        if (s < 0) {
            t->second = 0;
            if (++t->minute > 59) {
                t->minute = 0;
                if (++t->hour > 23) next_day(t);
            }
            continue;
        }
        t->second = s;
        return true;
    }
    return false;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t local_seconds(const local_time *t)
{
    return cg_days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 + t->minute * 60 +
           t->second;
}

static void local_fields(int64_t ls, local_time *t)
{
    int64_t days = floor_div(ls, 86400), rem = ls - days * 86400;
    cg_civil_from_days(days, &t->year, &t->month, &t->day);
    t->hour = (int)(rem / 3600);
    t->minute = (int)(rem / 60 % 60);
    t->second = (int)(rem % 60);
}

/* The earliest UTC instant whose local time is ls, or (in a gap) the first whose local
 * time is past it. Offsets are within 26 h, so every candidate lies in ls -/+ 26 h. */
static int64_t local_to_utc(const cg_tz *tz, int64_t ls)
{
    const int64_t window = 26 * 3600;
    int32_t offs[6];
    offs[0] = cg_tz_offset(tz, ls - window);
    offs[1] = cg_tz_offset(tz, ls);
    offs[2] = cg_tz_offset(tz, ls + window);
    for (int i = 0; i < 3; i++)
        offs[3 + i] = cg_tz_offset(tz, ls - offs[i]);
    int64_t best = INT64_MAX;
    int32_t lo_off = offs[0], hi_off = offs[0];
    for (int i = 0; i < 6; i++) {
        int64_t u = ls - offs[i];
        if (cg_tz_offset(tz, u) == offs[i] && u < best) best = u;
        if (offs[i] < lo_off) lo_off = offs[i];
        if (offs[i] > hi_off) hi_off = offs[i];
    }
    if (best != INT64_MAX) return best;
    int64_t lo = ls - hi_off, hi = ls - lo_off; /* first u in [lo, hi] with local(u) > ls */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (mid + cg_tz_offset(tz, mid) > ls)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int64_t cg_cron_next(const cg_cron_expr *e, const cg_tz *tz, int64_t after_ms)
{
    const int64_t limit = INT64_C(253402300799); /* 9999-12-31T23:59:59Z */
    int64_t start = floor_div(after_ms, 1000) + 1;
    if (start < -limit || start > limit) return -1;
    local_time t;
    local_fields(start + cg_tz_offset(tz, start), &t);
    int64_t year_limit = t.year + CG_CRON_SEARCH_YEARS;
    for (int steps = 0; steps < SEARCH_STEPS_MAX; steps++) {
        if (!next_local(e, &t, year_limit)) return -1;
        int64_t ls = local_seconds(&t);
        int64_t u = local_to_utc(tz, ls);
        if (u >= start) return u > limit ? -1 : u * 1000;
        local_fields(ls + 1, &t);
    }
    return -1;
}
