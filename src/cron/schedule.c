/* Schedules (see schedule.h): parsing the wire object once into what the timer needs,
 * and the next due time of each kind. */
#include "cron/schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p)) return -1;
        v = v * 10 + (*(*p)++ - '0');
    }
    return v;
}

int64_t cg_cron_parse_iso8601(const char *text)
{
    const char *p = text;
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-') return -1;
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-') return -1;
    int d = digits(&p, 2);
    if (d < 1 || d > cg_days_in_month(y, mo)) return -1;
    if (*p != 'T' && *p != 't' && *p != ' ') return -1;
    p++;
    int h = digits(&p, 2), mi = -1, s = 0, ms = 0;
    if (h < 0 || h > 23 || *p++ != ':' || (mi = digits(&p, 2)) < 0 || mi > 59) return -1;
    if (*p == ':') {
        p++;
        if ((s = digits(&p, 2)) < 0 || s > 59) return -1;
        if (*p == '.') {
            p++;
            int scale = 100;
            if (!isdigit((unsigned char)*p)) return -1;
            while (isdigit((unsigned char)*p)) {
                ms += (*p++ - '0') * scale;
                scale /= 10;
            }
        }
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2), om = 0;
        if (oh < 0 || oh > 23) return -1;
        if (*p == ':') p++;
        if (*p && (om = digits(&p, 2)) < 0) return -1;
        if (om > 59) return -1;
        offset = sign * (oh * 3600 + om * 60);
    }
    if (*p) return -1;
    int64_t secs = cg_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset;
    return secs * 1000 + ms;
}

static int64_t get_int(const json_t *o, const char *key, int64_t fallback)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

int cg_cron_schedule_parse(const json_t *schedule, int64_t anchor_default, cg_cron_schedule *out,
                           char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *kind = json_string_value(json_object_get(schedule, "kind"));
    if (!kind) {
        snprintf(err, errlen, "schedule.kind is required");
        return -1;
    }
    if (!strcmp(kind, "at")) {
        const char *at = json_string_value(json_object_get(schedule, "at"));
        out->kind = CG_SCHEDULE_AT;
        out->at_ms = at ? cg_cron_parse_iso8601(at) : -1;
        if (out->at_ms < 0) {
            snprintf(err, errlen, "schedule.at: not an ISO 8601 date-time");
            return -1;
        }
        return 0;
    }
    if (!strcmp(kind, "every")) {
        out->kind = CG_SCHEDULE_EVERY;
        out->every_ms = get_int(schedule, "everyMs", 0);
        out->anchor_ms = get_int(schedule, "anchorMs", anchor_default);
        if (out->every_ms < 1 || out->anchor_ms < 0) {
            snprintf(err, errlen, "schedule.everyMs must be a positive integer");
            return -1;
        }
        return 0;
    }
    if (!strcmp(kind, "cron")) {
        const char *expr = json_string_value(json_object_get(schedule, "expr"));
        const char *tz = json_string_value(json_object_get(schedule, "tz"));
        char why[200];
        out->kind = CG_SCHEDULE_CRON;
        out->stagger_ms = get_int(schedule, "staggerMs", 0);
        if (!expr || cg_cron_parse(expr, &out->expr, why, sizeof why) != 0) {
            snprintf(err, errlen, "schedule.expr: %s", expr ? why : "required");
            return -1;
        }
        if (!(out->tz = cg_tz_get(tz, why, sizeof why))) {
            snprintf(err, errlen, "schedule.tz: %s", why);
            return -1;
        }
        if (cg_cron_next(&out->expr, out->tz, anchor_default) < 0) {
            snprintf(err, errlen, "schedule.expr: never matches");
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "schedule.kind \"%s\" is not supported by clawgate", kind);
    return -1;
}

int64_t cg_cron_schedule_next(const cg_cron_schedule *s, int64_t after_ms)
{
    switch (s->kind) {
    case CG_SCHEDULE_AT:
        return s->at_ms;
    case CG_SCHEDULE_EVERY: {
        if (after_ms < s->anchor_ms) return s->anchor_ms;
        int64_t k = (after_ms - s->anchor_ms) / s->every_ms + 1;
        return s->anchor_ms + k * s->every_ms;
    }
    case CG_SCHEDULE_CRON: {
        int64_t next = cg_cron_next(&s->expr, s->tz, after_ms - s->stagger_ms);
        return next < 0 ? -1 : next + s->stagger_ms;
    }
    }
    return -1;
}
