/* The gateway object: connections, the tick, health measurements, readiness,
 * broadcast, signals, config reloads and shutdown. See gateway.h. */
#include "gateway/gateway.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "gateway/gateway_int.h"
#include "proto/frame.h"

#define SWEEP_INTERVAL_MS 100
#define LOOP_SAMPLE_MS 500
#define HEALTH_CACHE_NS (1000ull * 1000 * 1000)

static const char *const event_names[] = {"connect.challenge", "tick", "shutdown", NULL};

json_t *cg_gateway_event_names(void)
{
    json_t *a = json_array();
    for (const char *const *e = event_names; *e; e++)
        json_array_append_new(a, json_string(*e));
    return a;
}

uv_loop_t *cg_gateway_loop(cg_gateway *gw)
{
    return gw->loop;
}

cg_config *cg_gateway_config(cg_gateway *gw)
{
    return gw->cfg;
}

const cg_settings *cg_gateway_settings(cg_gateway *gw)
{
    return gw->settings;
}

uint64_t cg_gateway_uptime_ms(cg_gateway *gw)
{
    return (cg_mono_ns() - gw->started_ns) / 1000000u;
}

void cg_gateway_conn_added(cg_gateway *gw, cg_conn *c)
{
    c->next = gw->conns;
    if (gw->conns) gw->conns->prev = c;
    gw->conns = c;
    gw->n_conns++;
}

void cg_gateway_conn_removed(cg_gateway *gw, cg_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (gw->conns == c)
        gw->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    gw->n_conns--;
    if (c->connected)
        cg_log(CG_LOG_INFO, "gateway", "client disconnected",
               json_pack("{s:s, s:s, s:s?}", "connId", c->conn_id, "ip", c->client_ip, "client",
                         c->client_id));
}

size_t cg_gateway_preauth_count(cg_gateway *gw, const char *ip)
{
    size_t n = 0;
    for (cg_conn *c = gw->conns; c; c = c->next)
        if (!c->connected && !c->closed && strcmp(c->peer_ip, ip) == 0) n++;
    return n;
}

void cg_conn_send_event_raw(cg_conn *c, const char *event, const char *payload_json, size_t len)
{
    if (!c->connected || c->closed || c->phase != CG_CONN_WS) return;
    cg_buf b = {0};
    cg_frame_event(&b, event, payload_json, len, ++c->event_seq);
    cg_ws_send_text(c, b.data, b.len);
    cg_buf_reset(&b);
}

void cg_conn_send_ok(cg_conn *c, const char *id, const char *payload_json, size_t len)
{
    cg_buf b = {0};
    cg_frame_res_ok(&b, id, payload_json, len);
    cg_ws_send_text(c, b.data, b.len);
    cg_buf_reset(&b);
}

void cg_conn_send_error(cg_conn *c, const char *id, json_t *error)
{
    cg_buf b = {0};
    cg_frame_res_error(&b, id ? id : "invalid", error);
    cg_ws_send_text(c, b.data, b.len);
    cg_buf_reset(&b);
    json_decref(error);
}

void cg_gateway_broadcast(cg_gateway *gw, const char *event, json_t *payload, unsigned roles,
                          cg_scope scope)
{
    char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = strlen(text);
    json_decref(payload);
    for (cg_conn *c = gw->conns; c; c = c->next)
        if (c->connected && (c->role & roles) && cg_scope_granted(c->role, c->scopes, scope))
            cg_conn_send_event_raw(c, event, text, len);
    free(text);
}

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

static void forget_health(cg_gateway *gw)
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

/* The health object and its text, recomputed at most once a second: `health` answers
 * with the text, hello-ok embeds the object, so both show the same snapshot. */
static void refresh_health(cg_gateway *gw)
{
    uint64_t t0 = cg_mono_ns();
    if (gw->health && t0 - gw->health_at_ns <= HEALTH_CACHE_NS) return;
    json_t *h =
        json_pack("{s:b, s:I, s:o, s:{s:s}}", "ok", 1, "ts", (json_int_t)cg_now_ms(), "eventLoop",
                  event_loop_json(gw), "configReload", "hotReloadStatus", "active");
    json_object_set_new(h, "durationMs",
                        json_integer((json_int_t)((cg_mono_ns() - t0) / 1000000u)));
    forget_health(gw);
    gw->health = h;
    gw->health_json = json_dumps(h, JSON_COMPACT);
    gw->health_len = strlen(gw->health_json);
    gw->health_at_ns = t0;
}

json_t *cg_gateway_health(cg_gateway *gw)
{
    refresh_health(gw);
    return json_incref(gw->health);
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
    if (!cg_config_valid(gw->cfg)) json_array_append_new(failing, json_string("config"));
    bool ready = gw->ready && !gw->shutting_down;
    *status = ready ? 200 : 503;
    return json_pack("{s:b, s:o, s:I}", "ready", ready, "failing", failing, "uptimeMs",
                     (json_int_t)cg_gateway_uptime_ms(gw));
}

/* ---- timers ---- */

static void on_tick(uv_timer_t *t)
{
    cg_gateway_broadcast(t->data, "tick", json_pack("{s:I}", "ts", (json_int_t)cg_now_ms()),
                         CG_ROLE_OPERATOR | CG_ROLE_NODE, CG_SCOPE_NONE);
}

static void on_sweep(uv_timer_t *t)
{
    cg_gateway *gw = t->data;
    uint64_t now = cg_mono_ns() / 1000000u;
    uint64_t timeout = (uint64_t)gw->settings->limits.handshake_timeout_ms;
    int64_t wall = cg_now_ms();
    cg_conn *next;
    for (cg_conn *c = gw->conns; c; c = next) {
        next = c->next;
        if (c->closed) continue;
        if (c->close_when_flushed) {
            if (now >= c->close_deadline_ms) cg_conn_close(c);
        } else if (!c->connected && now - c->accepted_ms >= timeout) {
            if (c->phase == CG_CONN_WS)
                cg_ws_close(c, 1008, "handshake timeout");
            else
                cg_conn_close(c);
        }
    }
    if (wall - gw->rate_limiter_swept_ms > 10000) {
        cg_rate_limiter_sweep(gw->rate_limiter, &gw->settings->rate_limit, wall);
        gw->rate_limiter_swept_ms = wall;
    }
}

static void start_tick(cg_gateway *gw)
{
    uint64_t iv = (uint64_t)gw->settings->tick_interval_ms;
    uv_timer_start(&gw->tick_timer, on_tick, iv, iv);
}

/* ---- config changes ---- */

static void on_relisten(uv_timer_t *t)
{
    cg_gateway *gw = t->data;
    cg_listeners_close(gw);
    char err[256] = "";
    if (gw->settings->tls_enabled && !gw->ssl_ctx) {
        gw->ssl_ctx =
            cg_tls_server_ctx(gw->settings, cg_config_state_dir(gw->cfg), err, sizeof err);
        if (!gw->ssl_ctx) cg_log(CG_LOG_ERROR, "tls", err, NULL);
    }
    if (cg_listeners_open(gw) != 0)
        cg_log(CG_LOG_ERROR, "gateway", "listener restart failed", NULL);
    else
        cg_log(CG_LOG_INFO, "gateway", "listener restarted", NULL);
}

static void remember_bound(cg_gateway *gw)
{
    const cg_settings *s = gw->settings;
    gw->bound_port = s->port;
    gw->bound_bind = s->bind;
    gw->bound_tls = s->tls_enabled;
    free(gw->bound_custom_host);
    gw->bound_custom_host = cg_strdup(s->custom_bind_host);
}

static bool listener_moved(const cg_gateway *gw)
{
    const cg_settings *s = gw->settings;
    const char *a = gw->bound_custom_host ? gw->bound_custom_host : "";
    const char *b = s->custom_bind_host ? s->custom_bind_host : "";
    return gw->bound_port != s->port || gw->bound_bind != s->bind ||
           gw->bound_tls != s->tls_enabled || strcmp(a, b) != 0;
}

void cg_gateway_settings_changed(cg_gateway *gw, bool may_rebind, int64_t restart_delay_ms)
{
    int64_t old_tick = gw->settings->tick_interval_ms;
    gw->settings = cg_config_settings(gw->cfg);
    forget_health(gw);
    cg_log_set_max_file_bytes(gw->settings->log_max_file_bytes);
    if (old_tick != gw->settings->tick_interval_ms) start_tick(gw);
    if (may_rebind && listener_moved(gw)) {
        remember_bound(gw);
        if (gw->ssl_ctx) {
            /* Accepted TLS connections hold their own reference to the context. */
            SSL_CTX_free(gw->ssl_ctx);
            gw->ssl_ctx = NULL;
        }
        uv_timer_start(&gw->relisten_timer, on_relisten,
                       restart_delay_ms > 0 ? (uint64_t)restart_delay_ms : 0, 0);
    }
}

static void reload(cg_gateway *gw, const char *why)
{
    if (cg_config_reload(gw->cfg) == 1) {
        cg_gateway_settings_changed(gw, false, 0);
        /* A reload never moves the listener: that needs a restart or config.apply. */
        cg_log(CG_LOG_INFO, "gateway", "settings applied",
               json_pack("{s:s, s:b}", "trigger", why, "restartRequired", listener_moved(gw)));
    }
}

static void on_config_changed(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
                              const uv_stat_t *curr)
{
    reload(h->data, "file");
}

/* ---- signals and shutdown ---- */

static void on_signal(uv_signal_t *h, int signum)
{
    cg_gateway *gw = h->data;
    if (signum == SIGHUP) {
        reload(gw, "SIGHUP");
        return;
    }
    cg_gateway_shutdown(gw, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_shutdown_deadline(uv_timer_t *t)
{
    cg_gateway *gw = t->data;
    cg_listeners_close(gw);
    for (cg_conn *c = gw->conns; c; c = c->next)
        cg_conn_close(c);
    close_handle((uv_handle_t *)&gw->tick_timer);
    close_handle((uv_handle_t *)&gw->sweep_timer);
    close_handle((uv_handle_t *)&gw->loop_stats.timer);
    close_handle((uv_handle_t *)&gw->relisten_timer);
    close_handle((uv_handle_t *)&gw->sig_int);
    close_handle((uv_handle_t *)&gw->sig_term);
    close_handle((uv_handle_t *)&gw->sig_hup);
    close_handle((uv_handle_t *)&gw->config_watch);
    close_handle((uv_handle_t *)&gw->shutdown_timer);
    close_handle((uv_handle_t *)&gw->pending_timer);
}

static void on_drain_check(uv_timer_t *t)
{
    cg_gateway *gw = t->data;
    bool pending = false;
    for (cg_conn *c = gw->conns; c; c = c->next)
        if (!c->closed && cg_conn_buffered(c) > 0) pending = true;
    if (!pending || ++gw->drain_checks > 30) on_shutdown_deadline(t);
}

void cg_gateway_shutdown(cg_gateway *gw, const char *reason)
{
    if (gw->shutting_down) return;
    gw->shutting_down = true;
    cg_log(CG_LOG_INFO, "gateway", "shutting down", json_pack("{s:s}", "reason", reason));
    cg_pending_shutdown(gw);
    /* The listeners stay open while connections drain: /readyz answers 503 and new
     * upgrades are refused. */
    json_t *payload = json_pack("{s:s}", "reason", "gateway stopping");
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    cg_conn *next;
    for (cg_conn *c = gw->conns; c; c = next) {
        next = c->next;
        if (c->connected) cg_conn_send_event_raw(c, "shutdown", text, strlen(text));
        if (c->phase == CG_CONN_WS)
            cg_ws_close(c, 1012, "service restart");
        else
            cg_conn_close(c);
    }
    free(text);
    /* Give the close frames up to ~1.5 s to leave, then close what remains. */
    uv_timer_start(&gw->shutdown_timer, on_drain_check, 50, 50);
}

/* ---- life cycle ---- */

cg_gateway *cg_gateway_new(uv_loop_t *loop, cg_config *cfg)
{
    cg_gateway *gw = cg_xcalloc(1, sizeof *gw);
    gw->loop = loop;
    gw->cfg = cfg;
    gw->settings = cg_config_settings(cfg);
    gw->started_ns = cg_mono_ns();
    gw->rate_limiter = cg_rate_limiter_new();
    cg_pending_init(gw);
    uv_timer_init(loop, &gw->tick_timer);
    uv_timer_init(loop, &gw->sweep_timer);
    uv_timer_init(loop, &gw->relisten_timer);
    uv_timer_init(loop, &gw->shutdown_timer);
    uv_timer_init(loop, &gw->loop_stats.timer);
    gw->tick_timer.data = gw->sweep_timer.data = gw->relisten_timer.data = gw;
    gw->shutdown_timer.data = gw->loop_stats.timer.data = gw;
    uv_signal_init(loop, &gw->sig_int);
    uv_signal_init(loop, &gw->sig_term);
    uv_signal_init(loop, &gw->sig_hup);
    gw->sig_int.data = gw->sig_term.data = gw->sig_hup.data = gw;
    uv_fs_poll_init(loop, &gw->config_watch);
    gw->config_watch.data = gw;
    return gw;
}

int cg_gateway_start(cg_gateway *gw)
{
    char err[512] = "";
    signal(SIGPIPE, SIG_IGN);
    if (gw->settings->tls_enabled) {
        gw->ssl_ctx =
            cg_tls_server_ctx(gw->settings, cg_config_state_dir(gw->cfg), err, sizeof err);
        if (!gw->ssl_ctx) {
            cg_log(CG_LOG_ERROR, "tls", err, NULL);
            fprintf(stderr, "clawgate: %s\n", err);
            return -1;
        }
    }
    remember_bound(gw);
    int rc = cg_listeners_open(gw);
    if (rc != 0) {
        fprintf(stderr, "clawgate: cannot listen on port %d: %s\n", gw->settings->port,
                uv_strerror(rc));
        return rc;
    }
    cg_loop_stats *ls = &gw->loop_stats;
    ls->interval_ms = LOOP_SAMPLE_MS;
    ls->expected_ns = uv_hrtime() + LOOP_SAMPLE_MS * 1000000ull;
    ls->last_wall_ns = uv_hrtime();
    ls->last_idle_ns = uv_metrics_idle_time(gw->loop);
    ls->last_cpu_us = cpu_time_us();
    uv_timer_start(&ls->timer, on_loop_sample, LOOP_SAMPLE_MS, LOOP_SAMPLE_MS);
    uv_unref((uv_handle_t *)&ls->timer);
    start_tick(gw);
    uv_timer_start(&gw->sweep_timer, on_sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    uv_signal_start(&gw->sig_int, on_signal, SIGINT);
    uv_signal_start(&gw->sig_term, on_signal, SIGTERM);
    uv_signal_start(&gw->sig_hup, on_signal, SIGHUP);
    uv_fs_poll_start(&gw->config_watch, on_config_changed, cg_config_path(gw->cfg), 1000);
    gw->ready = true;
    cg_log(CG_LOG_INFO, "gateway", "ready",
           json_pack("{s:i, s:s, s:b, s:I}", "port", gw->settings->port, "bind",
                     gw->settings->bind_name ? gw->settings->bind_name : "loopback", "tls",
                     gw->settings->tls_enabled, "startupMs", (json_int_t)cg_gateway_uptime_ms(gw)));
    return 0;
}

void cg_gateway_free(cg_gateway *gw)
{
    if (gw->ssl_ctx) SSL_CTX_free(gw->ssl_ctx);
    cg_rate_limiter_free(gw->rate_limiter);
    cg_pending_free(gw);
    forget_health(gw);
    free(gw->bound_custom_host);
    free(gw);
}
