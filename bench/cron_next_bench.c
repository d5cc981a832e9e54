/* Cron figures without the gateway: 1,000 jobs' expressions (a mix of shapes over eight
 * zones, DST and not) parsed, then the next due time of every job computed from many
 * starting instants; prints ns per job for the parse and for one next-time computation.
 * Built and run by bench/cron.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cron/expr.h"
#include "cron/schedule.h"
#include "cron/tz.h"

#define JOBS 1000
#define ROUNDS 200

static const char *const exprs[] = {
    "0 9 * * *",       "*/5 * * * *",    "30 2 * * *",  "0 0 1 * *",
    "0 9 * * MON-FRI", "15 */2 * * *",   "0 0 29 2 *",  "0 12 * * FRI#2",
    "0 9 * * 5L",      "*/10 * * * * *", "0 0 L * *",   "5,35 8-18 * * *",
    "0 3 * * SUN",     "0 0 13 * 5",     "45 23 * * 6", "0 30 9 * * 1-5",
};
static const char *const zones[] = {"UTC",          "America/New_York", "Europe/Berlin",
                                    "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo",
                                    "Asia/Tokyo",   "Pacific/Chatham"};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void)
{
    static cg_cron_expr parsed[JOBS];
    static const cg_tz *tz[JOBS];
    char err[256];
    double t0 = now_ns();
    for (int i = 0; i < JOBS; i++) {
        if (cg_cron_parse(exprs[i % 16], &parsed[i], err, sizeof err) != 0) return 1;
        if (!(tz[i] = cg_tz_get(zones[i % 8], err, sizeof err))) return 1;
    }
    double parse_ns = (now_ns() - t0) / JOBS;
    int64_t from = cg_cron_parse_iso8601("2026-01-01T00:00:00Z"), sink = 0;
    t0 = now_ns();
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < JOBS; i++)
            sink += cg_cron_next(&parsed[i], tz[i], from + (int64_t)r * 7919777);
    double total = now_ns() - t0;
    printf("jobs %d, rounds %d\n", JOBS, ROUNDS);
    printf("parse + zone lookup: %.0f ns per job (first use of each zone reads its file)\n",
           parse_ns);
    printf("next due time: %.0f ns per job, %.2f ms for all %d jobs (checksum %lld)\n",
           total / ROUNDS / JOBS, total / ROUNDS / 1e6, JOBS, (long long)(sink % 1000));
    return 0;
}
