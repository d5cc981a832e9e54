/* Time zones from TZif files (RFC 8536), see tz.h.
 *
 * A loaded zone keeps the 64-bit (version 2+) section only: its transition times, the
 * type index of each, the types' UTC offsets, and the footer's POSIX TZ string parsed
 * into a rule (std offset, dst offset, start and end dates) for instants after the last
 * transition. Version 1 files (32-bit only) are read from their one section. A file
 * without transitions and without a footer rule is a fixed offset (its first type).
 *
 * The cache is a locked linked list: few zones are ever used, and lookups of a zone
 * happen when a job is added or loaded, not on every computation (jobs keep the
 * pointer). */
#include "cron/tz.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TZ_FILE_MAX (256 * 1024)
#define TZ_TRANSITIONS_MAX 4096
#define TZ_TYPES_MAX 256

/* A POSIX rule date: Mm.w.d (month, week 1-5 where 5 is the last, weekday), Jn (1-365,
 * no Feb 29) or n (0-365), at `time` seconds local (may be negative or past 24 h). */
typedef struct tz_rule_date {
    enum { RULE_MONTH, RULE_JULIAN1, RULE_JULIAN0 } kind;
    int month, week, wday, day;
    int32_t time;
} tz_rule_date;

typedef struct tz_rule {
    bool present, has_dst;
    int32_t std_off, dst_off; /* seconds east */
    tz_rule_date start, end;
} tz_rule;

struct cg_tz {
    struct cg_tz *next;
    char name[CG_TZ_NAME_MAX + 1];
    size_t n_trans;
    int64_t *trans;   /* ascending */
    uint8_t *idx;     /* type of each transition */
    int32_t *offsets; /* per type */
    size_t n_types;
    int32_t before_off; /* before the first transition */
    tz_rule rule;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cg_tz *cache;
static cg_tz utc_zone = {.name = "UTC"};

int64_t cg_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void cg_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int cg_days_in_month(int64_t y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int cg_weekday_from_days(int64_t days)
{
    return (int)(days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6);
}

static const char *tz_dir(void)
{
    const char *dir = getenv("TZDIR");
    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

const char *cg_tz_name(const cg_tz *tz)
{
    return tz->name;
}

/* ---- the POSIX TZ string of the footer ---- */

static const char *rule_name(const char *p)
{
    if (*p == '<') {
        const char *end = strchr(p, '>');
        return end ? end + 1 : NULL;
    }
    const char *start = p;
    while (isalpha((unsigned char)*p))
        p++;
    return p - start >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds; NULL on a syntax error. */
static const char *rule_time(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p)) return NULL;
    int32_t parts[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)*p)) return NULL;
        int v = 0;
        while (isdigit((unsigned char)*p) && v < 1000)
            v = v * 10 + (*p++ - '0');
        parts[i] = v;
        if (*p != ':') break;
        p++;
    }
    if (parts[0] > 167 || parts[1] > 59 || parts[2] > 59) return NULL;
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return p;
}

static const char *rule_date(const char *p, tz_rule_date *d)
{
    char *end;
    d->time = 7200;
    if (*p == 'M') {
        d->kind = RULE_MONTH;
        d->month = (int)strtol(p + 1, &end, 10);
        if (*end != '.') return NULL;
        d->week = (int)strtol(end + 1, &end, 10);
        if (*end != '.') return NULL;
        d->wday = (int)strtol(end + 1, &end, 10);
        if (d->month < 1 || d->month > 12 || d->week < 1 || d->week > 5 || d->wday < 0 ||
            d->wday > 6)
            return NULL;
    } else if (*p == 'J') {
        d->kind = RULE_JULIAN1;
        d->day = (int)strtol(p + 1, &end, 10);
        if (d->day < 1 || d->day > 365) return NULL;
    } else if (isdigit((unsigned char)*p)) {
        d->kind = RULE_JULIAN0;
        d->day = (int)strtol(p, &end, 10);
        if (d->day > 365) return NULL;
    } else {
        return NULL;
    }
    p = end;
    if (*p == '/') p = rule_time(p + 1, &d->time);
    return p;
}

static bool parse_rule(const char *s, tz_rule *r)
{
    const char *p = rule_name(s);
    int32_t west;
    if (!p || !(p = rule_time(p, &west))) return false;
    r->std_off = -west;
    r->dst_off = r->std_off;
    r->present = true;
    if (!*p) return true;
    if (!(p = rule_name(p))) return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = rule_time(p, &west))) return false;
        r->dst_off = -west;
    }
    if (*p != ',' || !(p = rule_date(p + 1, &r->start))) return false;
    if (*p != ',' || !(p = rule_date(p + 1, &r->end))) return false;
    return *p == '\0';
}

/* Days since the epoch of a rule date in year y. */
static int64_t rule_day(const tz_rule_date *d, int64_t y)
{
    if (d->kind == RULE_JULIAN1) {
        int day = d->day; /* Feb 29 is never counted */
        int64_t jan1 = cg_days_from_civil(y, 1, 1);
        return jan1 + day - 1 + (is_leap(y) && day >= 60);
    }
    if (d->kind == RULE_JULIAN0) return cg_days_from_civil(y, 1, 1) + d->day;
    int64_t first = cg_days_from_civil(y, d->month, 1);
    int wd = cg_weekday_from_days(first);
    int day = 1 + (d->wday - wd + 7) % 7 + (d->week - 1) * 7;
    while (day > cg_days_in_month(y, d->month))
        day -= 7;
    return first + day - 1;
}

static int32_t rule_offset(const tz_rule *r, int64_t t)
{
    if (!r->has_dst) return r->std_off;
    int64_t y;
    int m, d;
    cg_civil_from_days((t + r->std_off) / 86400 - ((t + r->std_off) % 86400 < 0), &y, &m, &d);
    /* Start is given in standard time, end in daylight time. */
    int64_t start = rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
    int64_t end = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_off : r->std_off;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Parses a TZif image into tz; false with err on anything malformed. */
static bool parse_tzif(const unsigned char *buf, size_t len, cg_tz *tz, char *err, size_t errlen)
{
    if (len < 44 || memcmp(buf, "TZif", 4) != 0) goto bad;
    size_t counts[6];
    for (int i = 0; i < 6; i++)
        counts[i] = be32(buf + 20 + 4 * i);
    /* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
    size_t tsize = 4;
    const unsigned char *p = buf + 44;
    size_t v1 = counts[3] * 5 + counts[4] * 6 + counts[5] + counts[2] * 8 + counts[1] + counts[0];
    if (buf[4] >= '2') {
        if (v1 > len - 44 || len - 44 - v1 < 44) goto bad;
        p = buf + 44 + v1;
        if (memcmp(p, "TZif", 4) != 0) goto bad;
        for (int i = 0; i < 6; i++)
            counts[i] = be32(p + 20 + 4 * i);
        p += 44;
        tsize = 8;
    }
    size_t timecnt = counts[3], typecnt = counts[4];
    if (timecnt > TZ_TRANSITIONS_MAX || typecnt == 0 || typecnt > TZ_TYPES_MAX) goto bad;
    size_t body = timecnt * (tsize + 1) + typecnt * 6 + counts[5] + counts[2] * (tsize + 4) +
                  counts[1] + counts[0];
    if (body > (size_t)(buf + len - p)) goto bad;
    tz->trans = calloc(timecnt ? timecnt : 1, sizeof *tz->trans);
    tz->idx = calloc(timecnt ? timecnt : 1, 1);
    tz->offsets = calloc(typecnt, sizeof *tz->offsets);
    if (!tz->trans || !tz->idx || !tz->offsets) goto bad;
    tz->n_trans = timecnt;
    tz->n_types = typecnt;
    for (size_t i = 0; i < timecnt; i++) {
        tz->trans[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
        if (i && tz->trans[i] <= tz->trans[i - 1]) goto bad;
    }
    p += timecnt * tsize;
    for (size_t i = 0; i < timecnt; i++)
        if ((tz->idx[i] = p[i]) >= typecnt) goto bad;
    p += timecnt;
    for (size_t i = 0; i < typecnt; i++) {
        tz->offsets[i] = (int32_t)be32(p + i * 6);
        if (tz->offsets[i] < -26 * 3600 || tz->offsets[i] > 26 * 3600) goto bad;
    }
    p += typecnt * 6 + counts[5] + counts[2] * (tsize + 4) + counts[1] + counts[0];
    tz->before_off = tz->offsets[0]; /* before the first transition: type 0 (RFC 8536) */
    if (tsize == 8 && p < buf + len && *p == '\n') {
        const unsigned char *end = memchr(p + 1, '\n', (size_t)(buf + len - p - 1));
        if (end && end - p - 1 < 128) {
            char footer[128];
            memcpy(footer, p + 1, (size_t)(end - p - 1));
            footer[end - p - 1] = '\0';
            if (*footer && !parse_rule(footer, &tz->rule)) tz->rule.present = false;
        }
    }
    return true;
bad:
    snprintf(err, errlen, "invalid time zone file for %s", tz->name);
    return false;
}

int32_t cg_tz_offset(const cg_tz *tz, int64_t t)
{
    if (tz->n_trans == 0) return tz->rule.present ? rule_offset(&tz->rule, t) : tz->before_off;
    if (t < tz->trans[0]) return tz->before_off;
    if (t >= tz->trans[tz->n_trans - 1] && tz->rule.present) return rule_offset(&tz->rule, t);
    size_t lo = 0, hi = tz->n_trans; /* the last transition <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->offsets[tz->idx[lo]];
}

/* A name is a relative path of letters, digits and _+-. with no empty, "." or ".."
 * component. */
static bool valid_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > CG_TZ_NAME_MAX || name[0] == '/' || name[len - 1] == '/') return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_+-./", *p)) return false;
    for (const char *c = name; c;) {
        const char *slash = strchr(c, '/');
        size_t n = slash ? (size_t)(slash - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c = slash ? slash + 1 : NULL;
    }
    return true;
}

/* Resolves name case-insensitively under dir into out (the file's relative name). */
static bool find_case_insensitive(const char *dir, const char *name, char *out, size_t outlen)
{
    char path[1024], rel[512] = "";
    snprintf(path, sizeof path, "%s", dir);
    for (const char *c = name; c;) {
        const char *slash = strchr(c, '/');
        size_t n = slash ? (size_t)(slash - c) : strlen(c);
        DIR *d = opendir(path);
        if (!d) return false;
        struct dirent *e;
        bool found = false;
        while ((e = readdir(d))) {
            if (strlen(e->d_name) == n && !strncasecmp(e->d_name, c, n)) {
                size_t used = strlen(rel);
                snprintf(rel + used, sizeof rel - used, "%s%s", used ? "/" : "", e->d_name);
                used = strlen(path);
                snprintf(path + used, sizeof path - used, "/%s", e->d_name);
                found = true;
                break;
            }
        }
        closedir(d);
        if (!found) return false;
        c = slash ? slash + 1 : NULL;
    }
    if (strlen(rel) >= outlen) return false;
    memcpy(out, rel, strlen(rel) + 1);
    return true;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = malloc(TZ_FILE_MAX);
    size_t n = buf ? fread(buf, 1, TZ_FILE_MAX, f) : 0;
    bool whole = buf && feof(f) && !ferror(f);
    fclose(f);
    if (!whole) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void free_zone(cg_tz *tz)
{
    free(tz->trans);
    free(tz->idx);
    free(tz->offsets);
    free(tz);
}

static const cg_tz *load_zone(const char *name, char *err, size_t errlen)
{
    for (cg_tz *z = cache; z; z = z->next)
        if (!strcmp(z->name, name)) return z;
    const char *dir = tz_dir();
    char path[1024], real[CG_TZ_NAME_MAX + 1];
    snprintf(real, sizeof real, "%s", name);
    snprintf(path, sizeof path, "%s/%s", dir, real);
    size_t len = 0;
    unsigned char *buf = read_file(path, &len);
    if (!buf && find_case_insensitive(dir, name, real, sizeof real)) {
        for (cg_tz *z = cache; z; z = z->next)
            if (!strcmp(z->name, real)) return z;
        snprintf(path, sizeof path, "%s/%s", dir, real);
        buf = read_file(path, &len);
    }
    if (!buf) {
        snprintf(err, errlen, "unknown time zone: %s", name);
        return NULL;
    }
    cg_tz *tz = calloc(1, sizeof *tz);
    if (!tz) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(tz->name, sizeof tz->name, "%s", real);
    bool ok = parse_tzif(buf, len, tz, err, errlen);
    free(buf);
    if (!ok) {
        free_zone(tz);
        return NULL;
    }
    tz->next = cache;
    cache = tz;
    return tz;
}

const cg_tz *cg_tz_get(const char *name, char *err, size_t errlen)
{
    if (!name || !*name || !strcasecmp(name, "UTC") || !strcmp(name, "Z")) return &utc_zone;
    if (!valid_name(name)) {
        snprintf(err, errlen, "invalid time zone: %.80s", name);
        return NULL;
    }
    pthread_mutex_lock(&cache_lock);
    const cg_tz *tz = load_zone(name, err, errlen);
    pthread_mutex_unlock(&cache_lock);
    return tz;
}
