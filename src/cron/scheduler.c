/* The cron timer (see scheduler.h): a min-heap of (due time, job id) with an index by
 * id, one uv_timer_t for the root, and the clock-change watchers.
 *
 * The timer is armed for min(root due - now, CG_CRON_MAX_SLEEP_MS) on libuv's monotonic
 * clock. On expiry the wall clock is read once: the expected wall time (what the clock
 * said when arming plus the delay) against the actual one gives the lateness; past
 * CG_CRON_JUMP_THRESHOLD_MS it is a jump (suspend or a clock set the timerfd did not
 * report) and clock_changed hears of it before due jobs are handed out. */
#include "cron/scheduler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strmap.h"

typedef struct heap_entry {
    int64_t due_ms;
    size_t index;
    char id[];
} heap_entry;

struct cg_cron_sched {
    uv_loop_t *loop;
    cg_cron_due_fn due;
    cg_cron_clock_fn clock;
    void *data;
    heap_entry **heap;
    size_t n, cap;
    cg_strmap *by_id;
    uv_timer_t timer;
    int64_t armed_wall_ms; /* wall time the timer is expected to fire at, -1 when idle */
    int timerfd;
    uv_poll_t clock_poll;
    bool polling;
    uv_signal_t test_signal;
    bool test_signal_on;
    int open_handles;
};

/* ---- the clock ---- */

static bool test_offset_loaded;
static int64_t test_offset_ms;

static int64_t read_offset_file(const char *path, int64_t fallback)
{
    FILE *f = fopen(path, "r");
    if (!f) return fallback;
    long long v;
    int ok = fscanf(f, "%lld", &v);
    fclose(f);
    return ok == 1 ? (int64_t)v : fallback;
}

int64_t cg_cron_sched_now(void)
{
    if (!test_offset_loaded) {
        const char *env = getenv("CLAWGATE_TEST_CLOCK_OFFSET_MS");
        test_offset_ms = env ? strtoll(env, NULL, 10) : 0;
        const char *file = getenv("CLAWGATE_TEST_CLOCK_FILE");
        if (file) test_offset_ms = read_offset_file(file, test_offset_ms);
        test_offset_loaded = true;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + test_offset_ms;
}

/* ---- the heap ---- */

static void heap_place(cg_cron_sched *s, size_t i, heap_entry *e)
{
    s->heap[i] = e;
    e->index = i;
}

static void heap_up(cg_cron_sched *s, size_t i)
{
    heap_entry *e = s->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (s->heap[parent]->due_ms <= e->due_ms) break;
        heap_place(s, i, s->heap[parent]);
        i = parent;
    }
    heap_place(s, i, e);
}

static void heap_down(cg_cron_sched *s, size_t i)
{
    heap_entry *e = s->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= s->n) break;
        if (child + 1 < s->n && s->heap[child + 1]->due_ms < s->heap[child]->due_ms) child++;
        if (s->heap[child]->due_ms >= e->due_ms) break;
        heap_place(s, i, s->heap[child]);
        i = child;
    }
    heap_place(s, i, e);
}

static void heap_delete(cg_cron_sched *s, heap_entry *e)
{
    size_t i = e->index;
    heap_entry *last = s->heap[--s->n];
    if (last != e) {
        heap_place(s, i, last);
        heap_up(s, i);
        heap_down(s, last->index);
    }
    cg_strmap_remove(s->by_id, e->id);
    free(e);
}

/* ---- the timer ---- */

static void on_timer(uv_timer_t *t);

static void arm(cg_cron_sched *s)
{
    if (s->n == 0) {
        uv_timer_stop(&s->timer);
        s->armed_wall_ms = -1;
        return;
    }
    int64_t now = cg_cron_sched_now();
    int64_t delay = s->heap[0]->due_ms - now;
    if (delay < 0) delay = 0;
    if (delay > CG_CRON_MAX_SLEEP_MS) delay = CG_CRON_MAX_SLEEP_MS;
    s->armed_wall_ms = now + delay;
    uv_update_time(s->loop);
    uv_timer_start(&s->timer, on_timer, (uint64_t)delay, 0);
}

static void on_timer(uv_timer_t *t)
{
    cg_cron_sched *s = t->data;
    int64_t now = cg_cron_sched_now();
    int64_t lateness = now - s->armed_wall_ms;
    if (lateness > CG_CRON_JUMP_THRESHOLD_MS) {
        cg_logf(CG_LOG_WARN, "cron", "timer fired %lld ms late: suspend or clock change",
                (long long)lateness);
        s->clock(lateness, s->data);
    }
    /* Hand out every job due by now; each leaves the heap first, so `due` may set it
     * again (its next time is after now, so this loop ends). */
    while (s->n > 0 && s->heap[0]->due_ms <= now) {
        heap_entry *e = s->heap[0];
        char id[256];
        snprintf(id, sizeof id, "%s", e->id);
        int64_t due_ms = e->due_ms;
        heap_delete(s, e);
        s->due(id, due_ms, now, s->data);
    }
    arm(s);
}

void cg_cron_sched_set(cg_cron_sched *s, const char *job_id, int64_t due_ms)
{
    heap_entry *e = cg_strmap_get(s->by_id, job_id);
    int64_t old_root = s->n ? s->heap[0]->due_ms : -1;
    if (e) {
        e->due_ms = due_ms;
        heap_up(s, e->index);
        heap_down(s, e->index);
    } else {
        size_t len = strlen(job_id);
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            heap_entry **heap = realloc(s->heap, cap * sizeof *heap);
            if (!heap) return;
            s->heap = heap;
            s->cap = cap;
        }
        e = malloc(sizeof *e + len + 1);
        if (!e) return;
        memcpy(e->id, job_id, len + 1);
        e->due_ms = due_ms;
        s->heap[s->n] = e;
        e->index = s->n++;
        heap_up(s, e->index);
        cg_strmap_set(s->by_id, e->id, e);
    }
    if (s->heap[0]->due_ms != old_root) arm(s);
}

void cg_cron_sched_remove(cg_cron_sched *s, const char *job_id)
{
    heap_entry *e = cg_strmap_get(s->by_id, job_id);
    if (!e) return;
    bool root = e->index == 0;
    heap_delete(s, e);
    if (root) arm(s);
}

int64_t cg_cron_sched_next_wake(const cg_cron_sched *s)
{
    return s->n ? s->heap[0]->due_ms : -1;
}

/* ---- clock changes ---- */

/* Arms the timerfd far ahead with CANCEL_ON_SET: it never expires, it only reports a set. */
static int arm_timerfd(int fd)
{
    struct itimerspec its = {0};
    clock_gettime(CLOCK_REALTIME, &its.it_value);
    its.it_value.tv_sec += 10 * 365 * 86400;
    return timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL);
}

static void report_jump(cg_cron_sched *s)
{
    int64_t expected = s->armed_wall_ms;
    int64_t jump = 0;
    if (expected >= 0) {
        uint64_t left = uv_timer_get_due_in(&s->timer);
        jump = cg_cron_sched_now() - (expected - (int64_t)left);
    }
    cg_logf(CG_LOG_WARN, "cron", "wall clock changed by about %lld ms", (long long)jump);
    s->clock(jump, s->data);
    arm(s);
}

static void on_clock_set(uv_poll_t *p, int status, int events)
{
    cg_cron_sched *s = p->data;
    (void)events;
    uint64_t expirations;
    ssize_t n = status == 0 ? read(s->timerfd, &expirations, sizeof expirations) : -1;
    if (n < 0 && errno == EAGAIN) return;
    arm_timerfd(s->timerfd);
    report_jump(s);
}

static void on_test_signal(uv_signal_t *h, int signum)
{
    cg_cron_sched *s = h->data;
    (void)signum;
    test_offset_ms = read_offset_file(getenv("CLAWGATE_TEST_CLOCK_FILE"), test_offset_ms);
    report_jump(s);
}

cg_cron_sched *cg_cron_sched_new(uv_loop_t *loop, cg_cron_due_fn due, cg_cron_clock_fn clock,
                                 void *data, char *err, size_t errlen)
{
    cg_cron_sched *s = calloc(1, sizeof *s);
    if (!s || !(s->by_id = cg_strmap_new())) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->due = due;
    s->clock = clock;
    s->data = data;
    s->armed_wall_ms = -1;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->open_handles = 1;
    s->timerfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->timerfd >= 0 && arm_timerfd(s->timerfd) == 0 &&
        uv_poll_init(loop, &s->clock_poll, s->timerfd) == 0) {
        s->clock_poll.data = s;
        uv_poll_start(&s->clock_poll, UV_READABLE, on_clock_set);
        s->polling = true;
        s->open_handles++;
    } else {
        cg_logf(CG_LOG_WARN, "cron", "no clock-set notification (timerfd: %s)", strerror(errno));
    }
    if (getenv("CLAWGATE_TEST_CLOCK_FILE")) {
        uv_signal_init(loop, &s->test_signal);
        s->test_signal.data = s;
        uv_signal_start(&s->test_signal, on_test_signal, SIGUSR2);
        s->test_signal_on = true;
        s->open_handles++;
    }
    return s;
}

static void on_closed(uv_handle_t *h)
{
    cg_cron_sched *s = h->data;
    if (--s->open_handles > 0) return;
    if (s->timerfd >= 0) close(s->timerfd);
    while (s->n > 0)
        heap_delete(s, s->heap[s->n - 1]);
    free(s->heap);
    cg_strmap_free(s->by_id);
    free(s);
}

void cg_cron_sched_close(cg_cron_sched *s)
{
    uv_close((uv_handle_t *)&s->timer, on_closed);
    if (s->polling) uv_close((uv_handle_t *)&s->clock_poll, on_closed);
    if (s->test_signal_on) uv_close((uv_handle_t *)&s->test_signal, on_closed);
}
