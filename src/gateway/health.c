/* Health: the event loop's own measurements, subsystem states, the health snapshot
 * (served by `health` and embedded in hello-ok) and /readyz's readiness.
 *
 * A 500 ms timer measures how late it fires (event-loop delay; p99 and max over the last
 * 128 samples), libuv's idle time gives utilization, getrusage the CPU ratio.
 * Subsystems (config, log, listener, ...) report ok or a message through
 * cg_gateway_set_subsystem; any failing one makes health ok:false. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "gateway/gateway_int.h"

#define LOOP_SAMPLE_MS 500
#define HEALTH_CACHE_NS (1000ull * 1000 * 1000)

/* ---- event-loop health ---- */

static uint64_t cpu_time_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

static void on_loop_sample(uv_timer_t *t)
{
    cg_gateway *gw = t->data;
    cg_loop_stats *ls = &gw->loop_stats;
    uint64_t now = uv_hrtime();
    double late_ms = now > ls->expected_ns ? (double)(now - ls->expected_ns) / 1e6 : 0;
    ls->delays_ms[ls->next_delay] = late_ms;
    ls->next_delay = (ls->next_delay + 1) % CG_LOOP_SAMPLES;
    if (ls->n_delays < CG_LOOP_SAMPLES) ls->n_delays++;
    ls->expected_ns = now + ls->interval_ms * 1000000u;

    uint64_t idle = uv_metrics_idle_time(gw->loop), cpu = cpu_time_us();
    uint64_t wall = now - ls->last_wall_ns;
    if (wall > 0) {
        double busy = 1.0 - (double)(idle - ls->last_idle_ns) / (double)wall;
        ls->utilization = busy < 0 ? 0 : busy > 1 ? 1 : busy;
        ls->cpu_core_ratio = (double)(cpu - ls->last_cpu_us) * 1000.0 / (double)wall;
    }
    ls->last_idle_ns = idle;
    ls->last_wall_ns = now;
    ls->last_cpu_us = cpu;
}

void cg_health_forget(cg_gateway *gw)
{
    json_decref(gw->health);
    free(gw->health_json);
    gw->health = NULL;
    gw->health_json = NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static json_t *event_loop_json(cg_gateway *gw)
{
    cg_loop_stats *ls = &gw->loop_stats;
    double sorted[CG_LOOP_SAMPLES], p99 = 0, max = 0;
    memcpy(sorted, ls->delays_ms, ls->n_delays * sizeof(double));
    qsort(sorted, ls->n_delays, sizeof(double), cmp_double);
    if (ls->n_delays) {
        max = sorted[ls->n_delays - 1];
        p99 = sorted[(ls->n_delays * 99) / 100 < ls->n_delays ? (ls->n_delays * 99) / 100
                                                              : ls->n_delays - 1];
    }
    json_t *reasons = json_array();
    if (p99 > 200) json_array_append_new(reasons, json_string("event_loop_delay"));
    if (ls->utilization > 0.95)
        json_array_append_new(reasons, json_string("event_loop_utilization"));
    if (ls->cpu_core_ratio > 0.95) json_array_append_new(reasons, json_string("cpu"));
    bool degraded = json_array_size(reasons) > 0;
    if (degraded && !ls->degraded_since_ms) ls->degraded_since_ms = cg_now_ms();
    if (!degraded) ls->degraded_since_ms = 0;
    json_t *o = json_pack("{s:b, s:o, s:f, s:f, s:f, s:f, s:f}", "degraded", degraded, "reasons",
                          reasons, "intervalMs", (double)ls->interval_ms, "delayP99Ms", p99,
                          "delayMaxMs", max, "utilization", ls->utilization, "cpuCoreRatio",
                          ls->cpu_core_ratio < 0 ? 0.0 : ls->cpu_core_ratio);
    json_object_set_new(o, "degradedSinceMs",
                        ls->degraded_since_ms ? json_integer(ls->degraded_since_ms) : json_null());
    return o;
}

/* The failing subsystems as [{name, message}], or NULL when all work. */
static json_t *failing_subsystems(const cg_gateway *gw)
{
    json_t *failing = NULL;
    for (size_t i = 0; i < gw->n_subsystems; i++) {
        const cg_subsystem *sub = &gw->subsystems[i];
        if (sub->ok) continue;
        if (!failing) failing = json_array();
        json_array_append_new(failing, json_pack("{s:s, s:s}", "name", sub->name, "message",
                                                 sub->message ? sub->message : "failed"));
    }
    return failing;
}

/* The health object and its text, recomputed at most once a second: `health` answers
 * with the text, hello-ok embeds the object, so both show the same snapshot. A failing
 * subsystem makes ok false and is listed in `failing` (the schema allows only ok:true
 * and no such field; the decision wins, see docs/design.md). */
static void refresh_health(cg_gateway *gw)
{
    uint64_t t0 = cg_mono_ns();
    if (gw->health && t0 - gw->health_at_ns <= HEALTH_CACHE_NS) return;
    json_t *failing = failing_subsystems(gw);
    json_t *h = json_pack("{s:b, s:I, s:o, s:{s:s}}", "ok", failing == NULL, "ts",
                          (json_int_t)cg_now_ms(), "eventLoop", event_loop_json(gw), "configReload",
                          "hotReloadStatus", gw->config_watch_active ? "active" : "disabled");
    if (failing) json_object_set_new(h, "failing", failing);
    json_object_set_new(h, "durationMs",
                        json_integer((json_int_t)((cg_mono_ns() - t0) / 1000000u)));
    cg_health_forget(gw);
    gw->health = h;
    gw->health_json = json_dumps(h, JSON_COMPACT);
    gw->health_len = strlen(gw->health_json);
    gw->health_at_ns = t0;
    gw->health_version++;
}

json_t *cg_gateway_health(cg_gateway *gw)
{
    refresh_health(gw);
    return json_incref(gw->health);
}

json_t *cg_gateway_health_snapshot(cg_gateway *gw)
{
    refresh_health(gw);
    if (json_is_true(json_object_get(gw->health, "ok"))) return json_incref(gw->health);
    /* hello-ok must validate for every client (ok is const true there): the snapshot
     * leaves ok and failing out; `health` has the details. */
    json_t *copy = json_copy(gw->health);
    json_object_del(copy, "ok");
    json_object_del(copy, "failing");
    return copy;
}

const char *cg_gateway_health_json(cg_gateway *gw, size_t *len)
{
    refresh_health(gw);
    *len = gw->health_len;
    return gw->health_json;
}

json_t *cg_gateway_readiness(cg_gateway *gw, int *status)
{
    json_t *failing = json_array();
    if (!gw->ready) json_array_append_new(failing, json_string("startup"));
    if (gw->shutting_down) json_array_append_new(failing, json_string("shutdown"));
    for (size_t i = 0; i < gw->n_subsystems; i++)
        if (!gw->subsystems[i].ok)
            json_array_append_new(failing, json_string(gw->subsystems[i].name));
    /* Running on the last good config (or with a failed part) still serves: 200. */
    bool ready = gw->ready && !gw->shutting_down;
    *status = ready ? 200 : 503;
    return json_pack("{s:b, s:o, s:I}", "ready", ready, "failing", failing, "uptimeMs",
                     (json_int_t)cg_gateway_uptime_ms(gw));
}

void cg_gateway_set_subsystem(cg_gateway *gw, const char *name, bool ok, const char *message)
{
    cg_subsystem *sub = NULL;
    for (size_t i = 0; i < gw->n_subsystems && !sub; i++)
        if (strcmp(gw->subsystems[i].name, name) == 0) sub = &gw->subsystems[i];
    if (!sub) {
        if (gw->n_subsystems == CG_MAX_SUBSYSTEMS) abort(); /* a build defect */
        sub = &gw->subsystems[gw->n_subsystems++];
        sub->name = cg_strdup(name);
    }
    bool changed = sub->ok != ok || (message && (!sub->message || strcmp(sub->message, message)));
    sub->ok = ok;
    free(sub->message);
    sub->message = cg_strdup(message);
    if (changed) cg_health_forget(gw);
}

void cg_health_init(cg_gateway *gw)
{
    uv_timer_init(gw->loop, &gw->loop_stats.timer);
    gw->loop_stats.timer.data = gw;
}

void cg_health_start(cg_gateway *gw)
{
    cg_loop_stats *ls = &gw->loop_stats;
    ls->interval_ms = LOOP_SAMPLE_MS;
    ls->expected_ns = uv_hrtime() + LOOP_SAMPLE_MS * 1000000ull;
    ls->last_wall_ns = uv_hrtime();
    ls->last_idle_ns = uv_metrics_idle_time(gw->loop);
    ls->last_cpu_us = cpu_time_us();
    uv_timer_start(&ls->timer, on_loop_sample, LOOP_SAMPLE_MS, LOOP_SAMPLE_MS);
    uv_unref((uv_handle_t *)&ls->timer);
}

void cg_health_stop(cg_gateway *gw)
{
    if (!uv_is_closing((uv_handle_t *)&gw->loop_stats.timer))
        uv_close((uv_handle_t *)&gw->loop_stats.timer, NULL);
}

void cg_health_free(cg_gateway *gw)
{
    cg_health_forget(gw);
    for (size_t i = 0; i < gw->n_subsystems; i++) {
        free(gw->subsystems[i].name);
        free(gw->subsystems[i].message);
    }
    gw->n_subsystems = 0;
}
