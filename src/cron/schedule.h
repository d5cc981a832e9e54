/* A job's schedule (CronJob.schedule) and its next due time:
 *   {kind: "at", at: ISO 8601}            once, at that instant;
 *   {kind: "every", everyMs, anchorMs?}   anchorMs + k * everyMs (anchor: when added);
 *   {kind: "cron", expr, tz?, staggerMs?} the expression in zone tz (UTC when absent),
 *                                         plus staggerMs.
 * The kinds clawgate does not run (on-exit, stream) are refused with a clear message. */
#ifndef CG_CRON_SCHEDULE_H
#define CG_CRON_SCHEDULE_H

#include <jansson.h>
#include <stdint.h>

#include "cron/expr.h"

typedef enum { CG_SCHEDULE_AT, CG_SCHEDULE_EVERY, CG_SCHEDULE_CRON } cg_schedule_kind;

typedef struct cg_cron_schedule {
    cg_schedule_kind kind;
    int64_t at_ms;
    int64_t every_ms, anchor_ms;
    cg_cron_expr expr;
    const cg_tz *tz;
    int64_t stagger_ms;
} cg_cron_schedule;

/* Parses a schedule object; anchor_default (now, when added) is an every job's anchor
 * when it has none, and where a cron expression must match within the search window.
 * 0, or -1 with a message in err ("schedule.expr: minute field: ..."). */
int cg_cron_schedule_parse(const json_t *schedule, int64_t anchor_default, cg_cron_schedule *out,
                           char *err, size_t errlen);
/* The first due time strictly after after_ms; for "at" its instant whatever after_ms is
 * (the caller decides whether it is past). -1 when there is none. */
int64_t cg_cron_schedule_next(const cg_cron_schedule *s, int64_t after_ms);
/* An ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS[.fff]] with Z or +-HH:MM; UTC when no
 * offset) to ms since the epoch; -1 when malformed. */
int64_t cg_cron_parse_iso8601(const char *text);

#endif
