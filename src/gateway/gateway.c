/* The gateway object: listeners, timers, signals, config reloads and shutdown. See
 * gateway.h; the other parts of src/gateway are listed in gateway_int.h.
 *
 * Listeners follow gateway.bind: loopback/auto listen on 127.0.0.1 and ::1 (a host
 * without IPv6 logs it and goes on), lan/all on 0.0.0.0 and ::, custom on
 * gateway.customBindHost, tailnet on the host's 100.64.0.0/10 address plus loopback.
 * Moving them (cg_gateway_rebind) binds the new sockets before closing the old ones, so a
 * port in use leaves the gateway listening where it was; when the new sockets need the
 * port the old ones hold (same port, another bind or TLS), the old ones close first and
 * come back if the new ones fail. A certificate that has to be generated is made on
 * the thread pool.
 *
 * With gateway.tailscale.mode serve or funnel, gateway/tailscale_serve.c adds one
 * listener and the `tailscale` child: checked before binding, started after it, stopped
 * first at shutdown.
 *
 * Shutdown: pending requests are answered UNAVAILABLE, connected clients get a
 * `shutdown` event and close 1012; once every connection has finished its close (or
 * after SHUTDOWN_GRACE_MS) the remaining sockets are closed and the loop ends. */
#include "gateway/gateway.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway_int.h"
#include "net/tls.h"

#define SWEEP_INTERVAL_MS 100
#define SHUTDOWN_CHECK_MS 20
#define SHUTDOWN_GRACE_MS 700

static uint64_t mono_ms(void)
{
    return cg_mono_ns() / 1000000u;
}

uv_loop_t *cg_gateway_loop(cg_gateway *gw)
{
    return gw->loop;
}

struct cg_store *cg_gateway_store(cg_gateway *gw)
{
    return gw->store;
}

struct cg_devices *cg_gateway_devices(cg_gateway *gw)
{
    return gw->devices;
}

/* The state store and what is loaded from it, before anything can connect. */
static int open_state(cg_gateway *gw, char *err, size_t errlen)
{
    gw->store = cg_store_open(gw->loop, cg_config_state_dir(gw->cfg), err, errlen);
    if (!gw->store) return -1;
    gw->devices = cg_devices_open(gw->store, err, errlen);
    return gw->devices ? 0 : -1;
}

/* Finishes the store's queued writes (their callbacks run now) and closes it. */
static void close_state(cg_gateway *gw)
{
    if (!gw->store) return;
    cg_store_close(gw->store);
    gw->store = NULL;
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

/* ---- listeners ---- */

typedef struct listen_address {
    char host[64];
    bool required; /* a failure to bind it fails the whole set */
} listen_address;

/* The addresses a bind mode listens on; returns how many. */
static size_t bind_addresses(const cg_settings *s, listen_address out[CG_MAX_LISTENERS])
{
    size_t n = 0;
#define ADD(h, req)                                                                                \
    do {                                                                                           \
        snprintf(out[n].host, sizeof out[n].host, "%s", (h));                                      \
        out[n++].required = (req);                                                                 \
    } while (0)
    switch (s->bind) {
    case CG_BIND_LOOPBACK:
        ADD("127.0.0.1", true);
        ADD("::1", false);
        break;
    case CG_BIND_ALL:
        ADD("0.0.0.0", true);
        ADD("::", false);
        break;
    case CG_BIND_CUSTOM:
        ADD(s->custom_bind_host ? s->custom_bind_host : "127.0.0.1", true);
        break;
    case CG_BIND_TAILNET: {
        char tailnet[64];
        if (cg_host_ipv4(0x64400000u, 0xFFC00000u, tailnet, sizeof tailnet)) /* 100.64/10 */
            ADD(tailnet, true);
        else
            cg_log(CG_LOG_WARN, "gateway", "no tailnet (100.64.0.0/10) address; loopback only",
                   NULL);
        ADD("127.0.0.1", true);
        ADD("::1", false);
        break;
    }
    }
#undef ADD
    return n;
}

static void on_accept(cg_listener *l, uv_stream_t *server, void *data)
{
    cg_gateway *gw = data;
    cg_conn_accept(gw, server, gw->listen.tls, CG_INGRESS_DIRECT);
}

static void close_set(cg_listen_state *set)
{
    for (size_t i = 0; i < set->n; i++)
        cg_listener_close(set->items[i]);
    set->n = 0;
}

/* Binds every address of s into set. 0, or a libuv error with the address in err. */
static int open_set(cg_gateway *gw, const cg_settings *s, cg_listen_state *set, char *err,
                    size_t errlen)
{
    listen_address addrs[CG_MAX_LISTENERS];
    size_t n = bind_addresses(s, addrs);
    for (size_t i = 0; i < n; i++) {
        cg_listener *l;
        int rc = cg_listener_open(gw->loop, addrs[i].host, s->port, on_accept, gw, &l);
        if (rc == 0) {
            set->items[set->n++] = l;
            continue;
        }
        bool v6 = strchr(addrs[i].host, ':') != NULL;
        if (!addrs[i].required) {
            cg_log(CG_LOG_WARN, "gateway", "optional listener unavailable",
                   json_pack("{s:s, s:i, s:s}", "host", addrs[i].host, "port", s->port, "error",
                             uv_strerror(rc)));
            continue;
        }
        snprintf(err, errlen, v6 ? "cannot listen on [%s]:%d: %s" : "cannot listen on %s:%d: %s",
                 addrs[i].host, s->port, uv_strerror(rc));
        close_set(set);
        return rc;
    }
    return 0;
}

static void set_listen_facts(cg_listen_state *set, const cg_settings *s)
{
    set->port = s->port;
    set->bind = s->bind;
    set->tls_enabled = s->tls_enabled;
    set->custom_host = cg_strdup(s->custom_bind_host);
    set->cert_path = cg_strdup(s->tls_cert_path);
    set->key_path = cg_strdup(s->tls_key_path);
}

static void free_listen_facts(cg_listen_state *set)
{
    free(set->custom_host);
    free(set->cert_path);
    free(set->key_path);
    if (set->tls) SSL_CTX_free(set->tls); /* accepted connections hold their own reference */
    set->custom_host = set->cert_path = set->key_path = NULL;
    set->tls = NULL;
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Whether `next` would move the listeners. */
static bool listener_differs(const cg_gateway *gw, const cg_settings *next)
{
    const cg_listen_state *l = &gw->listen;
    return l->port != next->port || l->bind != next->bind || l->tls_enabled != next->tls_enabled ||
           !same(l->custom_host, next->custom_bind_host) ||
           !same(l->cert_path, next->tls_cert_path) || !same(l->key_path, next->tls_key_path);
}

static void log_listening(const cg_listen_state *set)
{
    for (size_t i = 0; i < set->n; i++)
        cg_log(CG_LOG_INFO, "gateway", "listening",
               json_pack("{s:s, s:s}", "address", cg_listener_address(set->items[i]), "scheme",
                         set->tls ? "wss" : "ws"));
}

json_t *cg_gateway_listen_urls(cg_gateway *gw)
{
    json_t *urls = json_array();
    for (size_t i = 0; i < gw->listen.n; i++) {
        char url[96];
        snprintf(url, sizeof url, "%s://%s", gw->listen.tls ? "wss" : "ws",
                 cg_listener_address(gw->listen.items[i]));
        json_array_append_new(urls, json_string(url));
    }
    return urls;
}

/* Moves to `next` with its TLS context already made (tls NULL for plain ws). */
static int move_listeners(cg_gateway *gw, const cg_settings *next, SSL_CTX *tls, char *err,
                          size_t errlen)
{
    cg_listen_state fresh = {.tls = tls};
    int rc = open_set(gw, next, &fresh, err, errlen);
    if (rc == UV_EADDRINUSE && next->port == gw->listen.port) {
        /* Our own sockets hold the port (say loopback -> all): make room, and put them
         * back if the new ones still cannot bind. */
        cg_listen_state old = gw->listen;
        close_set(&gw->listen);
        rc = open_set(gw, next, &fresh, err, errlen);
        if (rc != 0) {
            char ignored[256];
            cg_settings restore = *next;
            restore.port = old.port;
            restore.bind = old.bind;
            restore.custom_bind_host = old.custom_host;
            if (open_set(gw, &restore, &gw->listen, ignored, sizeof ignored) != 0)
                cg_log(CG_LOG_ERROR, "gateway", "could not restore the previous listeners",
                       json_pack("{s:s}", "error", ignored));
        }
    }
    if (rc != 0) {
        if (tls) SSL_CTX_free(tls);
        cg_log(CG_LOG_ERROR, "gateway", "listener move refused; still listening as before",
               json_pack("{s:s}", "error", err));
        return -1;
    }
    close_set(&gw->listen);
    free_listen_facts(&gw->listen);
    gw->listen = fresh;
    set_listen_facts(&gw->listen, next);
    log_listening(&gw->listen);
    return 0;
}

/* The TLS context `s` asks for, making a self-signed certificate if needed (blocking:
 * key generation and fsync). NULL with err on failure. */
static SSL_CTX *tls_context(const cg_settings *s, const char *state_dir, bool *generated, char *err,
                            size_t errlen)
{
    cg_tls_files files;
    if (cg_tls_paths(s->tls_cert_path, s->tls_key_path, state_dir, &files, err, errlen) != 0)
        return NULL;
    *generated = files.generated;
    return cg_tls_server_ctx(&files, err, errlen);
}

static void log_generated(const cg_gateway *gw)
{
    cg_log(CG_LOG_INFO, "tls", "generated a self-signed certificate",
           json_pack("{s:s}", "dir", cg_config_state_dir(gw->cfg)));
}

/* At start, before the loop serves anyone: inline. */
static int rebind_now(cg_gateway *gw, const cg_settings *next, char *err, size_t errlen)
{
    SSL_CTX *tls = NULL;
    bool generated = false;
    if (next->tls_enabled &&
        !(tls = tls_context(next, cg_config_state_dir(gw->cfg), &generated, err, errlen)))
        return -1;
    if (generated) log_generated(gw);
    return move_listeners(gw, next, tls, err, errlen);
}

typedef struct rebind_job {
    uv_work_t work;
    cg_gateway *gw;
    const cg_settings *next;
    char *state_dir;
    cg_rebind_done done;
    void *data;
    SSL_CTX *tls;
    bool generated;
    char err[512];
} rebind_job;

static void make_tls_context(uv_work_t *w)
{
    cg_thread_background();
    rebind_job *job = w->data;
    job->tls = tls_context(job->next, job->state_dir, &job->generated, job->err, sizeof job->err);
}

static void tls_context_made(uv_work_t *w, int status)
{
    rebind_job *job = w->data;
    cg_gateway *gw = job->gw;
    if (job->generated) log_generated(gw);
    if (job->tls && gw->shutting_down) {
        SSL_CTX_free(job->tls);
        job->tls = NULL;
        snprintf(job->err, sizeof job->err, "the gateway is shutting down");
    }
    if (job->tls && move_listeners(gw, job->next, job->tls, job->err, sizeof job->err) == 0)
        job->done(gw, NULL, job->data);
    else
        job->done(gw, job->err, job->data);
    free(job->state_dir);
    free(job);
}

void cg_gateway_rebind_async(cg_gateway *gw, const cg_settings *next, cg_rebind_done done,
                             void *data)
{
    char err[512];
    if (!listener_differs(gw, next)) {
        done(gw, NULL, data);
    } else if (!next->tls_enabled) {
        done(gw, move_listeners(gw, next, NULL, err, sizeof err) == 0 ? NULL : err, data);
    } else {
        rebind_job *job = cg_xcalloc(1, sizeof *job);
        *job = (rebind_job){.gw = gw, .next = next, .done = done, .data = data};
        job->state_dir = cg_strdup(cg_config_state_dir(gw->cfg));
        job->work.data = job;
        uv_queue_work(gw->loop, &job->work, make_tls_context, tls_context_made);
    }
}

/* ---- timers ---- */

static void on_tick(uv_timer_t *t)
{
    cg_gateway_broadcast(t->data, "tick", json_pack("{s:I}", "ts", (json_int_t)cg_now_ms()),
                         CG_ROLE_OPERATOR | CG_ROLE_NODE, CG_SCOPE_NONE, CG_EVENT_DROPPABLE);
}

/* Handshake timeouts: upgraded but no connect, or an HTTP connection idle too long. */
static void on_sweep(uv_timer_t *t)
{
    cg_gateway *gw = t->data;
    uint64_t now = mono_ms();
    uint64_t timeout = (uint64_t)gw->settings->limits.handshake_timeout_ms;
    for (cg_conn *c = gw->conns; c; c = c->next) {
        if (c->phase == CG_PHASE_HTTP && c->exchange) {
            cg_http_exchange_sweep(c, now); /* its own deadline, not the idle one */
            continue;
        }
        if (c->connected || c->registered || c->phase == CG_PHASE_CLOSED) continue;
        if (c->phase == CG_PHASE_WS && now - c->accepted_ms >= timeout)
            cg_conn_ws_close(c, 1008, "handshake timeout");
        else if (c->phase == CG_PHASE_HTTP && now - c->last_active_ms >= timeout)
            cg_conn_close(c);
    }
    int64_t wall = cg_now_ms();
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

/* New settings are installed (whatever wrote them): apply what can change live (auth,
 * limits, origins, tick, log size), then the settings hooks. Listener changes go
 * through cg_gateway_rebind. */
static void settings_changed(cg_gateway *gw)
{
    int64_t old_tick = gw->settings->tick_interval_ms;
    /* Always follow the store: its previous settings are freed at the next swap. */
    gw->settings = cg_config_settings(gw->cfg);
    cg_health_forget(gw);
    cg_log_set_max_file_bytes(gw->settings->log_max_file_bytes);
    if (old_tick != gw->settings->tick_interval_ms && !gw->shutting_down) start_tick(gw);
    for (size_t i = 0; i < gw->n_settings_hooks; i++)
        gw->settings_hooks[i].fn(gw, gw->settings, gw->settings_hooks[i].data);
}

/* As the real gateway after each config commit: clients re-read what they show. */
static void on_config_file(cg_config *cfg, void *data)
{
    cg_gateway_broadcast(data, "config.changed",
                         json_pack("{s:s, s:s, s:I}", "path", cg_config_path(cfg), "hash",
                                   cg_config_hash(cfg), "ts", (json_int_t)cg_now_ms()),
                         CG_ROLE_OPERATOR, CG_SCOPE_READ, CG_EVENT_DROPPABLE);
}

void cg_gateway_add_settings_hook(cg_gateway *gw, cg_settings_hook_fn fn, void *data)
{
    if (gw->n_settings_hooks == CG_MAX_CONN_HOOKS) abort(); /* a build defect */
    gw->settings_hooks[gw->n_settings_hooks].fn = fn;
    gw->settings_hooks[gw->n_settings_hooks].data = data;
    gw->n_settings_hooks++;
}

static void report_config(cg_gateway *gw)
{
    if (cg_config_valid(gw->cfg)) {
        cg_gateway_set_subsystem(gw, "config", true, NULL);
        return;
    }
    cg_gateway_set_subsystem(gw, "config", false,
                             "the config file is invalid; running on the last good settings "
                             "(see config.get issues)");
}

static void on_reloaded(cg_config *cfg, int result, void *data)
{
    cg_gateway *gw = data;
    report_config(gw);
    if (result != 1) return;
    /* The settings were followed when they were installed (on_config_settings). */
    /* A reload never moves the listener: that needs config.apply or a restart. */
    cg_log(CG_LOG_INFO, "gateway", "settings applied",
           json_pack("{s:b}", "restartRequired", listener_differs(gw, gw->settings)));
}

/* The file is read and parsed on the thread pool; a trigger that arrives while a reload
 * waits for its turn joins it. */
static void reload(cg_gateway *gw)
{
    if (!gw->shutting_down) cg_config_reload_async(gw->cfg, gw->loop, on_reloaded, gw);
}

static void on_config_changed(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
                              const uv_stat_t *curr)
{
    reload(h->data);
}

/* ---- signals and shutdown ---- */

static void on_signal(uv_signal_t *h, int signum)
{
    cg_gateway *gw = h->data;
    if (signum == SIGHUP) {
        reload(gw);
        return;
    }
    cg_gateway_shutdown(gw, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void finish_shutdown(cg_gateway *gw)
{
    close_set(&gw->listen);
    for (cg_conn *c = gw->conns; c; c = c->next)
        cg_conn_close(c);
    cg_clients_finish_closing(gw);
    close_handle((uv_handle_t *)&gw->closing_timer);
    close_handle((uv_handle_t *)&gw->tick_timer);
    close_handle((uv_handle_t *)&gw->sweep_timer);
    close_handle((uv_handle_t *)&gw->sig_int);
    close_handle((uv_handle_t *)&gw->sig_term);
    close_handle((uv_handle_t *)&gw->sig_hup);
    /* Closing the handles restores the default actions; a second signal during the last
     * milliseconds of cleanup must not kill the process mid-exit. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    close_handle((uv_handle_t *)&gw->config_watch);
    close_handle((uv_handle_t *)&gw->shutdown_timer);
    close_handle((uv_handle_t *)&gw->pending_timer);
    cg_health_stop(gw);
    cg_gateway_data_stop(gw);
    close_state(gw);
}

/* Done once no connection is still finishing its close, or at the deadline. */
static void on_shutdown_check(uv_timer_t *t)
{
    cg_gateway *gw = t->data;
    bool draining = false;
    for (cg_conn *c = gw->conns; c && !draining; c = c->next)
        if (c->phase != CG_PHASE_CLOSED || cg_stream_buffered(&c->stream) > 0) draining = true;
    if (!draining || mono_ms() >= gw->shutdown_deadline_ms) finish_shutdown(gw);
}

void cg_gateway_shutdown(cg_gateway *gw, const char *reason)
{
    if (gw->shutting_down) return;
    gw->shutting_down = true;
    cg_log(CG_LOG_INFO, "gateway", "shutting down", json_pack("{s:s}", "reason", reason));
    /* Tailscale first: its route goes away while the connections drain. */
    cg_tailscale_serve_stop(gw);
    cg_tailscale_stop(gw->tailscale);
    cg_pending_shutdown(gw);
    /* The listeners stay open while connections drain: /readyz answers 503 and new
     * upgrades are refused. */
    cg_gateway_broadcast(gw, "shutdown", json_pack("{s:s}", "reason", "gateway stopping"),
                         CG_ROLE_OPERATOR | CG_ROLE_NODE, CG_SCOPE_NONE, 0);
    for (cg_conn *c = gw->conns; c; c = c->next) {
        if (c->phase == CG_PHASE_WS)
            cg_conn_ws_close(c, 1012, "service restart");
        else if (c->phase == CG_PHASE_HTTP) {
            cg_http_exchange_shutdown(c);
            cg_stream_close_graceful(&c->stream);
        }
    }
    gw->shutdown_deadline_ms = mono_ms() + SHUTDOWN_GRACE_MS;
    uv_timer_start(&gw->shutdown_timer, on_shutdown_check, 0, SHUTDOWN_CHECK_MS);
}

/* ---- life cycle ---- */

static void on_config_settings(cg_config *cfg, void *data)
{
    settings_changed(data);
}

cg_gateway *cg_gateway_new(uv_loop_t *loop, cg_config *cfg)
{
    cg_gateway *gw = cg_xcalloc(1, sizeof *gw);
    gw->loop = loop;
    gw->cfg = cfg;
    gw->settings = cg_config_settings(cfg);
    cg_config_on_settings_change(cfg, on_config_settings, gw);
    cg_config_on_file_change(cfg, on_config_file, gw);
    gw->started_ns = cg_mono_ns();
    gw->rate_limiter = cg_rate_limiter_new();
    gw->tailscale = cg_tailscale_new(loop);
    cg_clients_init(gw);
    cg_pending_init(gw);
    cg_health_init(gw);
    cg_presence_attach(gw);
    uv_timer_init(loop, &gw->tick_timer);
    uv_timer_init(loop, &gw->sweep_timer);
    uv_timer_init(loop, &gw->shutdown_timer);
    gw->tick_timer.data = gw->sweep_timer.data = gw->shutdown_timer.data = gw;
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
    /* Nothing else runs on the loop yet: a certificate is made here, inline. */
    gw->listen.port = -1; /* differs from anything: the first bind always happens */
    if (cg_tailscale_serve_check(gw->settings, err, sizeof err) != 0 ||
        open_state(gw, err, sizeof err) != 0 ||
        rebind_now(gw, gw->settings, err, sizeof err) != 0 ||
        cg_tailscale_serve_start(gw, err, sizeof err) != 0) {
        cg_log(CG_LOG_ERROR, "gateway", "cannot start", json_pack("{s:s}", "error", err));
        fprintf(stderr, "clawgate: %s\n", err);
        /* Close what cg_gateway_new opened, so that the caller can close the loop. */
        finish_shutdown(gw);
        uv_run(gw->loop, UV_RUN_DEFAULT);
        return -1;
    }
    cg_health_start(gw);
    start_tick(gw);
    uv_timer_start(&gw->sweep_timer, on_sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    uv_signal_start(&gw->sig_int, on_signal, SIGINT);
    uv_signal_start(&gw->sig_term, on_signal, SIGTERM);
    uv_signal_start(&gw->sig_hup, on_signal, SIGHUP);
    int rc = uv_fs_poll_start(&gw->config_watch, on_config_changed, cg_config_path(gw->cfg), 1000);
    gw->config_watch_active = rc == 0;
    if (rc != 0)
        cg_log(CG_LOG_WARN, "config", "config file watcher not running; SIGHUP still reloads",
               json_pack("{s:s}", "error", uv_strerror(rc)));
    report_config(gw);
    gw->ready = true;
    cg_log(CG_LOG_INFO, "gateway", "ready",
           json_pack("{s:i, s:s, s:b, s:I}", "port", gw->settings->port, "bind",
                     gw->settings->bind_name ? gw->settings->bind_name : "loopback", "tls",
                     gw->settings->tls_enabled, "startupMs", (json_int_t)cg_gateway_uptime_ms(gw)));
    return 0;
}

void cg_gateway_free(cg_gateway *gw)
{
    free_listen_facts(&gw->listen);
    cg_rate_limiter_free(gw->rate_limiter);
    cg_tailscale_serve_free(gw);
    cg_tailscale_free(gw->tailscale);
    cg_presence_free(gw);
    cg_pending_free(gw);
    cg_health_free(gw);
    cg_gateway_data_free(gw);
    cg_http_routes_free(gw);
    cg_devices_free(gw->devices);
    cg_clients_free(gw);
    free(gw);
}
