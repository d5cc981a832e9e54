/* Cron expressions, as OpenClaw's scheduler (croner) reads them, and their next time in
 * an IANA zone.
 *
 * Syntax: 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first).
 * Each field is a comma list of `*`, `?` (same as `*`), a value, a range `a-b`, and a
 * step on any of them (`*` + `/n`, `a-b/n`, `a/n` meaning a to the field's end).
 * Months JAN-DEC and weekdays SUN-SAT by name (any case); weekday 7 is Sunday too.
 * Day-of-month `L` is the month's last day; day-of-week `d#n` is the n-th (1-5) such
 * weekday of the month and `dL` the last one. When both day fields are restricted a day
 * matching either runs (the classic cron OR, croner's default); when one is `*` or `?`
 * the other alone decides.
 *
 * Time zones and DST (cg_cron_next): the expression is matched against local wall-clock
 * time. A local time that does not exist (skipped by a spring-forward) runs once, at the
 * first instant after the gap; a local time that occurs twice (fall-back) runs once, at
 * its first occurrence. */
#ifndef CG_CRON_EXPR_H
#define CG_CRON_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cron/tz.h"

#define CG_CRON_EXPR_MAX 256 /* characters */
/* How far ahead a next time is looked for: an expression with none in this many years
 * (Feb 30, say) has no next time. 28 years is a full cycle of the calendar. */
#define CG_CRON_SEARCH_YEARS 29

typedef struct cg_cron_expr {
    uint64_t seconds, minutes; /* bit n: value n */
    uint32_t hours, days, months;
    uint8_t weekdays;       /* bit 0 Sunday .. bit 6 Saturday */
    uint8_t weekday_nth[7]; /* per weekday: bit n-1 the n-th (1-5) of the month, bit 5 the last */
    bool last_day;          /* day-of-month L */
    bool days_any, weekdays_any;
} cg_cron_expr;

/* Parses text; 0, or -1 with a message such as "minute field: 61 is out of range 0-59". */
int cg_cron_parse(const char *text, cg_cron_expr *out, char *err, size_t errlen);

/* The first matching instant strictly after after_ms (ms since the epoch), whole
 * seconds, in zone tz; -1 when there is none within CG_CRON_SEARCH_YEARS. */
int64_t cg_cron_next(const cg_cron_expr *e, const cg_tz *tz, int64_t after_ms);

#endif
