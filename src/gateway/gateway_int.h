/* The gateway's internals, shared by the files of src/gateway only. Method families and
 * modules use gateway/gateway.h.
 *
 *   gateway.c      the object, listeners (bind modes, bind-first moves), timers,
 *                  signals, config reloads, shutdown
 *   conn.c         a connection: stream callbacks, phases, sending, lifetime
 *   http_routes.c  the HTTP phase: the route table, keep-alive, the upgrade
 *   connect.c      connect.challenge and the connect steps (proto/handshake.c)
 *   dispatch.c     message parsing (budgeted, off-loop when large) and dispatch
 *   request.c      answering now or later: the pending-request registry
 *   methods.c      the one method table
 *   clients.c      connected clients: connId map, hooks, module data, broadcast
 *   presence.c     the presence list
 *   health.c       event-loop health, the health snapshot, readiness
 *   tailscale_serve.c  the `tailscale serve|funnel` child and the port it proxies to */
#ifndef CG_GATEWAY_GATEWAY_INT_H
#define CG_GATEWAY_GATEWAY_INT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <uv.h>

#include "auth/auth.h"
#include "auth/devices.h"
#include "auth/tailscale.h"
#include "common/strmap.h"
#include "gateway/conn.h"
#include "gateway/gateway.h"
#include "gateway/request.h"
#include "net/listener.h"

#define CG_MAX_LISTENERS 8
#define CG_MAX_CONN_HOOKS 16
#define CG_MAX_SUBSYSTEMS 16
#define CG_LOOP_SAMPLES 128

/* Event-loop health: a timer measures how late it fires (delay) and libuv's idle time
 * gives utilization. */
typedef struct cg_loop_stats {
    uv_timer_t timer;
    uint64_t interval_ms;
    uint64_t expected_ns;
    double delays_ms[CG_LOOP_SAMPLES];
    size_t n_delays, next_delay;
    uint64_t last_idle_ns, last_wall_ns, last_cpu_us;
    double utilization, cpu_core_ratio;
    int64_t degraded_since_ms; /* 0 when not degraded */
} cg_loop_stats;

/* What the listeners are bound to, to tell whether new settings move them. */
typedef struct cg_listen_state {
    cg_listener *items[CG_MAX_LISTENERS];
    size_t n;
    SSL_CTX *tls; /* NULL: plain ws */
    int port;
    cg_bind_mode bind;
    char *custom_host;
    bool tls_enabled;
    char *cert_path, *key_path;
} cg_listen_state;

typedef struct cg_subsystem {
    char *name;
    bool ok;
    char *message;
} cg_subsystem;

typedef struct cg_presence cg_presence;
typedef struct cg_tailscale_serve cg_tailscale_serve;

struct cg_gateway {
    uv_loop_t *loop;
    cg_config *cfg;
    const cg_settings *settings; /* the config's current settings */
    uint64_t started_ns;

    cg_listen_state listen;

    /* Connections. */
    cg_conn *conns; /* every open connection */
    size_t n_conns;
    size_t n_ws;         /* upgraded ones, for gateway.limits.maxConnections */
    cg_strmap *conn_ids; /* connId -> connected cg_conn */
    /* Connections that closed and still have to finish (cg_conn_finish_closing), each
     * holding a reference, done on the next loop turn by closing_timer. */
    cg_conn **closing;
    size_t n_closing, cap_closing;
    uv_timer_t closing_timer;
    struct {
        cg_conn_hook_fn fn;
        void *data;
    } hooks[CG_MAX_CONN_HOOKS];
    size_t n_hooks;
    struct {
        cg_settings_hook_fn fn;
        void *data;
    } settings_hooks[CG_MAX_CONN_HOOKS];
    size_t n_settings_hooks;
    cg_presence *presence;
    /* Modules' HTTP routes (cg_gateway_add_http_route). */
    cg_http_route_spec http_routes[CG_HTTP_MAX_ROUTES];
    size_t n_http_routes;
    cg_conn_data *data; /* modules' gateway-wide data (cg_gateway_set_data) */

    cg_store *store;     /* DIR/state.db */
    cg_devices *devices; /* paired devices, tokens, pending device requests */

    cg_rate_limiter *rate_limiter;
    int64_t rate_limiter_swept_ms;

    /* Tailscale: the whois cache, and the serve/funnel child with its port (NULL when
     * gateway.tailscale.mode was off at start). */
    cg_tailscale *tailscale;
    cg_tailscale_serve *tailscale_serve;

    /* Pending requests (gateway/request.c): a min-heap by deadline. */
    cg_req **pending;
    size_t n_pending, cap_pending;
    uv_timer_t pending_timer;

    uv_timer_t tick_timer;
    uv_timer_t sweep_timer; /* handshake and keep-alive idle timeouts */
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_fs_poll_t config_watch;
    bool config_watch_active;

    /* Health: the snapshot and its text, reused while fresh; subsystem states. */
    cg_loop_stats loop_stats;
    json_t *health;
    char *health_json;
    size_t health_len;
    uint64_t health_at_ns;
    int64_t health_version;
    cg_subsystem subsystems[CG_MAX_SUBSYSTEMS];
    size_t n_subsystems;

    bool ready;
    bool shutting_down;
    uv_timer_t shutdown_timer; /* watches the connections drain */
    uint64_t shutdown_deadline_ms;
};

/* gateway/request.c: the pending-request registry. */
void cg_pending_init(cg_gateway *gw);
void cg_pending_free(cg_gateway *gw);
/* Ends every pending request of a closing connection (no answer is possible). */
void cg_pending_conn_closed(cg_conn *c);
/* Answers every pending request UNAVAILABLE "gateway shutting down". */
void cg_pending_shutdown(cg_gateway *gw);

/* gateway/clients.c */
void cg_clients_init(cg_gateway *gw);
void cg_clients_free(cg_gateway *gw);
void cg_clients_added(cg_gateway *gw, cg_conn *c);
void cg_clients_removed(cg_gateway *gw, cg_conn *c);
/* connect succeeded: into the connId map, AUTHENTICATED hooks. */
void cg_clients_authenticated(cg_conn *c);
/* The connection stopped: out of the map, CLOSED hooks. */
void cg_clients_closed(cg_conn *c);
/* Queues cg_conn_finish_closing for the next loop turn. */
void cg_clients_closing_later(cg_gateway *gw, cg_conn *c);
/* Finishes every queued close now (the shutdown's last step). */
void cg_clients_finish_closing(cg_gateway *gw);
void cg_conn_data_free(cg_conn *c);
void cg_gateway_data_free(cg_gateway *gw);
/* The gateway stops: each module's key->stop (it closes its libuv handles). */
void cg_gateway_data_stop(cg_gateway *gw);
/* features.events of hello-ok. New ref. */
json_t *cg_gateway_event_names(void);
/* Unauthenticated connections whose client address is ip. */
size_t cg_gateway_preauth_count(cg_gateway *gw, const char *ip);

/* gateway/presence.c (hooked into the connection lifecycle by cg_presence_attach). */
void cg_presence_attach(cg_gateway *gw);
void cg_presence_free(cg_gateway *gw);

/* gateway/health.c */
void cg_health_init(cg_gateway *gw);
void cg_health_start(cg_gateway *gw);
void cg_health_stop(cg_gateway *gw);
void cg_health_free(cg_gateway *gw);
/* Drops the cached snapshot (settings or a subsystem changed). */
void cg_health_forget(cg_gateway *gw);
/* hello-ok's snapshot.health: the health object, without ok and failing while a
 * subsystem fails. New ref. */
json_t *cg_gateway_health_snapshot(cg_gateway *gw);
/* /readyz's body and status. */
json_t *cg_gateway_readiness(cg_gateway *gw, int *status);

/* gateway/http_routes.c: the HTTP phase of a connection. */
size_t cg_http_conn_feed(cg_conn *c, const uint8_t *data, size_t len);
void cg_http_conn_free(cg_conn *c);
void cg_http_routes_free(cg_gateway *gw);
/* A connection's open exchange (c->exchange): its client went away (on_close, freed);
 * its answer backed up and is out (on_drain); the sweep checks its deadline; shutdown
 * answers it 503 (or cuts a streamed one). */
void cg_http_exchange_conn_closed(cg_conn *c);
void cg_http_exchange_drained(cg_conn *c);
void cg_http_exchange_sweep(cg_conn *c, uint64_t now_ms);
void cg_http_exchange_shutdown(cg_conn *c);

/* gateway/connect.c */
void cg_connect_start(cg_conn *c);
void cg_connect_message(cg_conn *c, json_t *msg);
/* The connection closed: drops a connect still waiting for whois. */
void cg_connect_closed(cg_conn *c);

/* gateway/tailscale_serve.c. Before binding: whether the mode can run (tailscale on
 * PATH); 0, or -1 with err. */
int cg_tailscale_serve_check(const cg_settings *s, char *err, size_t errlen);
/* After binding: opens the port Tailscale proxies to and starts the child (restarted
 * with back-off when it dies); 0, or -1 with err. Nothing happens in mode off. */
int cg_tailscale_serve_start(cg_gateway *gw, char *err, size_t errlen);
/* Shutdown: closes the port, SIGTERMs the child (SIGKILL after a bound). */
void cg_tailscale_serve_stop(cg_gateway *gw);
/* After the loop ended. */
void cg_tailscale_serve_free(cg_gateway *gw);

/* gateway/dispatch.c */
/* A complete message: parses (off the loop when large) and routes it. */
void cg_conn_message(cg_conn *c, const char *data, size_t len);
void cg_dispatch_message(cg_conn *c, json_t *msg);

#endif
