/* The cron timer: which job is due next, and one libuv timer for it (no polling).
 *
 * Jobs are ids with a due time (wall clock, ms) in a binary min-heap; the single
 * uv_timer_t is armed for the root. When it fires, every job whose time has come is
 * handed to `due` (and leaves the heap: the caller sets its next time with
 * cg_cron_sched_set after deciding what to do). Nothing here knows what a job does.
 *
 * The wall clock is read through cg_cron_sched_now() only. Clock changes:
 *   - the kernel's clock is set (NTP step, date -s): a CLOCK_REALTIME timerfd armed with
 *     TFD_TIMER_CANCEL_ON_SET, watched by a uv_poll_t, becomes readable and read() fails
 *     with ECANCELED; `clock_changed` is told the jump, then the timer is re-armed;
 *   - a suspend (libuv's timers run on CLOCK_MONOTONIC, which stops while the machine
 *     sleeps): the timer fires late by the wall clock; that lateness past
 *     CG_CRON_JUMP_THRESHOLD_MS is reported the same way;
 *   - tests only: with env CLAWGATE_TEST_CLOCK_OFFSET_MS the clock reads that much
 *     ahead, and with env CLAWGATE_TEST_CLOCK_FILE naming a file, SIGUSR2 re-reads the
 *     offset (ms, decimal) from it and reports the jump like a clock set. Without those
 *     variables neither exists.
 * Loop thread only. */
#ifndef CG_CRON_SCHEDULER_H
#define CG_CRON_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define CG_CRON_JUMP_THRESHOLD_MS 5000
/* The longest timer armed at once; a later due time re-arms on expiry (keeps the
 * lateness check meaningful and the value within libuv's range). */
#define CG_CRON_MAX_SLEEP_MS (6 * 3600 * 1000)

typedef struct cg_cron_sched cg_cron_sched;

/* A job's time has come: due_ms is the time it was set for, now_ms the clock. */
typedef void (*cg_cron_due_fn)(const char *job_id, int64_t due_ms, int64_t now_ms, void *data);
/* The wall clock moved by jump_ms (positive: forward) against what the monotonic clock
 * says; every job's time should be looked at again. */
typedef void (*cg_cron_clock_fn)(int64_t jump_ms, void *data);

/* NULL on failure (message in err). The timerfd watch is best effort: a system without
 * it loses only the immediate notice of a clock set. */
cg_cron_sched *cg_cron_sched_new(uv_loop_t *loop, cg_cron_due_fn due, cg_cron_clock_fn clock,
                                 void *data, char *err, size_t errlen);
/* Sets (or moves) job_id's due time; re-arms the timer when the earliest changed. */
void cg_cron_sched_set(cg_cron_sched *s, const char *job_id, int64_t due_ms);
void cg_cron_sched_remove(cg_cron_sched *s, const char *job_id);
/* The earliest due time, or -1 when nothing is scheduled. */
int64_t cg_cron_sched_next_wake(const cg_cron_sched *s);
/* Closes the handles; s is freed once they have closed (the loop must run). */
void cg_cron_sched_close(cg_cron_sched *s);

/* The wall clock in ms since the epoch (plus the test offset when enabled). */
int64_t cg_cron_sched_now(void);

#endif
