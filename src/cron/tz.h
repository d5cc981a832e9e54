/* IANA time zones read from the system's TZif files (/usr/share/zoneinfo, or env TZDIR), without
 * touching the process-wide TZ: a zone is loaded once (its transitions and the POSIX
 * rule in the file's footer for times after the last one) and cached for the life of
 * the process, so computing an offset is a binary search and never reads a file.
 *
 * Names are matched as the real gateway accepts them: exactly ("Europe/Berlin"), or
 * case-insensitively ("europe/berlin") when no file has the exact name. "UTC" and "Z"
 * work without the database. Thread-safe (the cache is locked); loading reads one small
 * file, once per zone. */
#ifndef CG_CRON_TZ_H
#define CG_CRON_TZ_H

#include <stddef.h>
#include <stdint.h>

#define CG_TZ_NAME_MAX 64

typedef struct cg_tz cg_tz;

/* The zone, loaded on first use; NULL with a message in err for an unknown or invalid
 * name. NULL or "" is UTC. The pointer stays valid until the process ends. */
const cg_tz *cg_tz_get(const char *name, char *err, size_t errlen);
/* The zone's canonical name (as its file is named). */
const char *cg_tz_name(const cg_tz *tz);
/* Seconds east of UTC in effect at the UTC instant t (seconds since the epoch). */
int32_t cg_tz_offset(const cg_tz *tz, int64_t t);

/* Civil dates (proleptic Gregorian): days since 1970-01-01 of y-m-d (m 1-12) and back. */
int64_t cg_days_from_civil(int64_t y, int m, int d);
void cg_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int cg_days_in_month(int64_t y, int m);
/* 0 = Sunday. */
int cg_weekday_from_days(int64_t days);

#endif
