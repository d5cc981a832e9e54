/* libFuzzer harness for the cron expression parser and next-time search
 * (src/cron/expr.c, tz.c) and the ISO 8601 parser (src/cron/schedule.c).
 *
 * Input: byte 0 picks a zone from a fixed list (zones with DST both ways, half-hour and
 * 45-minute offsets), bytes 1-8 a starting instant (clamped to years 1900-2400), the
 * rest is the expression (also tried as an ISO 8601 date-time). Properties checked
 * beyond "no crash, no sanitizer report": every next time is strictly after its
 * starting point, whole seconds, and a chain of next times strictly increases.
 *
 * `make fuzz` builds it with clang -fsanitize=fuzzer,address,undefined; the ctest
 * fuzz.cron_expr_corpus replays tests/fuzz/cron_expr/ through it with the normal
 * compiler and fuzz/replay_main.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron/expr.h"
#include "cron/schedule.h"
#include "cron/tz.h"

static const char *const zones[] = {"UTC",
                                    "America/New_York",
                                    "Europe/Berlin",
                                    "Australia/Lord_Howe",
                                    "Asia/Kolkata",
                                    "Asia/Kathmandu",
                                    "Pacific/Chatham",
                                    "America/Sao_Paulo",
                                    "Australia/Sydney",
                                    "europe/london"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9 || size > CG_CRON_EXPR_MAX + 9) return 0;
    char err[256];
    const cg_tz *tz = cg_tz_get(zones[data[0] % (sizeof zones / sizeof zones[0])], err, sizeof err);
    if (!tz) return 0; /* a system without that zone file */
    uint64_t raw;
    memcpy(&raw, data + 1, sizeof raw);
    const int64_t lo = -2208988800000LL, span = 15778476000000LL; /* 1900 .. 2400 */
    int64_t from = lo + (int64_t)(raw % (uint64_t)span);
    char text[CG_CRON_EXPR_MAX + 1];
    memcpy(text, data + 9, size - 9);
    text[size - 9] = '\0';
    (void)cg_cron_parse_iso8601(text);
    cg_cron_expr e;
    if (cg_cron_parse(text, &e, err, sizeof err) != 0) return 0;
    for (int i = 0; i < 4; i++) {
        int64_t next = cg_cron_next(&e, tz, from);
        if (next < 0) break;
        if (next <= from || next % 1000 != 0) abort();
        from = next;
    }
    return 0;
}
