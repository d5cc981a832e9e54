/* The gateway's internals, shared by the files of src/gateway, src/net and src/proto.
 * Method families use gateway.h only. */
#ifndef CG_GATEWAY_GATEWAY_INT_H
#define CG_GATEWAY_GATEWAY_INT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <uv.h>

#include "auth/auth.h"
#include "gateway/conn.h"
#include "gateway/gateway.h"

#define CG_READ_BUF_SIZE (64 * 1024)
#define CG_MAX_LISTENERS 8
#define CG_LOOP_SAMPLES 128

typedef struct cg_listener {
    uv_tcp_t tcp;
    cg_gateway *gw;
    bool tls;
    char addr[64];
} cg_listener;

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

struct cg_gateway {
    uv_loop_t *loop;
    cg_config *cfg;
    const cg_settings *settings; /* the config's current settings */
    uint64_t started_ns;

    cg_listener *listeners[CG_MAX_LISTENERS];
    size_t n_listeners;
    uv_timer_t relisten_timer;
    /* What the listeners are bound to, to tell whether new settings move them. */
    int bound_port;
    cg_bind_mode bound_bind;
    char *bound_custom_host;
    bool bound_tls;
    SSL_CTX *ssl_ctx;

    cg_conn *conns; /* every open connection */
    size_t n_conns;
    uint64_t next_serial;
    char read_buf[CG_READ_BUF_SIZE];
    bool read_buf_busy;

    cg_rate_limiter *rate_limiter;
    int64_t rate_limiter_swept_ms;

    /* Pending requests (gateway/request.c): a min-heap by deadline. */
    cg_req **pending;
    size_t n_pending, cap_pending;
    uv_timer_t pending_timer;

    uv_timer_t tick_timer;
    uv_timer_t sweep_timer; /* handshake timeouts, closes that did not flush */
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_fs_poll_t config_watch;
    cg_loop_stats loop_stats;

    /* The health snapshot and its text, reused while fresh. */
    json_t *health;
    char *health_json;
    size_t health_len;
    uint64_t health_at_ns;

    bool ready;
    bool shutting_down;
    uv_timer_t shutdown_timer; /* checks every 50 ms whether the close frames left */
    int drain_checks;
};

/* gateway/request.c: the pending-request registry. */
void cg_pending_init(cg_gateway *gw);
void cg_pending_free(cg_gateway *gw);
/* Ends every pending request of a closing connection (no answer is possible). */
void cg_pending_conn_closed(cg_conn *c);
/* Answers every pending request UNAVAILABLE "gateway shutting down". */
void cg_pending_shutdown(cg_gateway *gw);

/* net/listener.c */
int cg_listeners_open(cg_gateway *gw);
void cg_listeners_close(cg_gateway *gw);

/* net/tls.c */
SSL_CTX *cg_tls_server_ctx(const cg_settings *s, const char *state_dir, char *err, size_t errlen);
int cg_tls_conn_init(cg_conn *c, SSL_CTX *ctx);
/* Encrypted bytes from the socket: decrypts and feeds the plaintext on. -1: fatal. */
int cg_tls_read(cg_conn *c, const uint8_t *data, size_t len);
/* Plaintext to send: encrypts into c->out. */
void cg_tls_write(cg_conn *c, const void *data, size_t len);
void cg_tls_conn_free(cg_conn *c);

/* net/http.c */
void cg_http_begin(cg_conn *c);
void cg_http_feed(cg_conn *c, const uint8_t *data, size_t len);
void cg_http_free(cg_conn *c);

/* net/ws.c */
int cg_ws_begin(cg_conn *c); /* after the 101 response */
void cg_ws_feed(cg_conn *c, const uint8_t *data, size_t len);
/* Queues one text message and sends it (flushes unless inside a read callback). */
void cg_ws_send_text(cg_conn *c, const char *data, size_t len);
/* Queues a close frame; the connection closes once it is written. */
void cg_ws_close(cg_conn *c, uint16_t code, const char *reason);
void cg_ws_free(cg_conn *c);
/* Processes messages that completed while the connection was paused. */
void cg_ws_resume(cg_conn *c);

/* proto/handshake.c: the first message of an upgraded connection. */
void cg_handshake_start(cg_conn *c);
void cg_handshake_message(cg_conn *c, json_t *msg);

/* gateway/dispatch.c: a message of a connected client. */
void cg_dispatch_message(cg_conn *c, json_t *msg);
/* A complete text/binary message: parses (off the loop when large) and routes it. */
void cg_conn_message(cg_conn *c, const char *data, size_t len);

/* gateway/gateway.c */
void cg_gateway_conn_added(cg_gateway *gw, cg_conn *c);
void cg_gateway_conn_removed(cg_gateway *gw, cg_conn *c);
/* Sends one event to one connection with its next seq. payload_json is serialized. */
void cg_conn_send_event_raw(cg_conn *c, const char *event, const char *payload_json, size_t len);
/* A response frame to one connection. */
void cg_conn_send_ok(cg_conn *c, const char *id, const char *payload_json, size_t len);
/* An error response (error consumed); a NULL id answers on "invalid". */
void cg_conn_send_error(cg_conn *c, const char *id, json_t *error);
/* Preauth connections from ip (non-loopback only). */
size_t cg_gateway_preauth_count(cg_gateway *gw, const char *ip);
/* The health snapshot's text (cg_gateway_health's object, serialized). */
const char *cg_gateway_health_json(cg_gateway *gw, size_t *len);
json_t *cg_gateway_readiness(cg_gateway *gw, int *status);
/* features.events of hello-ok. */
json_t *cg_gateway_event_names(void);

#endif
