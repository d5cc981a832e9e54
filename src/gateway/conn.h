/* One client connection, from accept to close (src/gateway internal).
 *
 * A connection owns a net stream. It starts in the HTTP phase (gateway/http_routes.c
 * answers requests from the route table, keep-alive, until a valid WebSocket upgrade),
 * becomes a WebSocket (net/ws.c), and is "connected" once its `connect` request
 * succeeded (gateway/connect.c); from then on every message goes to
 * gateway/dispatch.c.
 *
 * Closing: the stream reports when it stops being open (a close this side started, a
 * graceful close, EOF, an error); the connection then ends its pending requests, runs
 * the CLOSED hooks and leaves the connId map at once, even while a lingering close
 * still runs. The struct lives on while references remain: the socket holds one, each
 * pending request one, an off-loop parse one. */
#ifndef CG_GATEWAY_CONN_H
#define CG_GATEWAY_CONN_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/tailscale.h"
#include "gateway/gateway.h"
#include "net/http.h"
#include "net/stream.h"
#include "net/ws.h"

struct cg_req;

typedef enum {
    CG_PHASE_HTTP,   /* reading HTTP requests */
    CG_PHASE_WS,     /* upgraded; waiting for `connect`, or connected */
    CG_PHASE_CLOSED, /* the stream stopped; nothing more is processed */
} cg_conn_phase;

typedef struct cg_conn_data {
    struct cg_conn_data *next;
    const cg_conn_key *key;
    void *data;
} cg_conn_data;

struct cg_conn {
    cg_stream stream; /* first: the stream's callbacks find the connection from it */
    cg_gateway *gw;
    cg_conn *prev, *next; /* the gateway's list of connections */
    int refs;
    cg_conn_phase phase;
    uint64_t accepted_ms;    /* monotonic, for the handshake timeout */
    uint64_t last_active_ms; /* monotonic: an HTTP keep-alive connection's idle time */
    bool counted_ws;         /* counted toward gateway.limits.maxConnections */

    /* HTTP phase. */
    cg_http_parser *http;
    struct cg_http_exchange *exchange; /* the request being answered later, or NULL */
    bool http_feeding;                 /* inside cg_http_conn_feed */

    /* Facts kept from the upgrade request for `connect`. */
    char *host, *origin, *forwarded_for, *real_ip;
    /* The listener it came in on; on Tailscale's, the headers its proxy and identity
     * checks read (auth/tailscale.h), kept from the upgrade too. */
    cg_ingress ingress;
    char *forwarded_proto, *forwarded_host, *ts_user_login, *ts_funnel_request;
    /* The client's address: the peer, what a trusted proxy forwarded, or "unknown". */
    char client_ip[INET6_ADDRSTRLEN];

    /* WebSocket phase. */
    cg_ws *ws;
    char nonce[37];

    /* After connect. registered: in the connId map, hooks told (before hello-ok);
     * connected: hello-ok sent, events and requests flow. */
    bool registered;
    bool connected;
    bool connect_pending; /* connect waits for a whois answer or the registry's write */
    struct cg_tailscale_wait *ts_wait; /* the whois answer awaited, or NULL */
    void *connect_wait;                /* the connect it belongs to (gateway/connect.c) */
    int protocol;
    unsigned role;   /* cg_role bits: exactly one */
    unsigned scopes; /* CG_SCOPEBIT_* */
    char conn_id[37];
    json_t *params;        /* the connect params without auth */
    char device_id[65];    /* the proven device identity (hex SHA-256), or "" */
    bool via_device_token; /* authenticated by that device's token */
    int64_t connected_at_ms;
    uint64_t event_seq;
    uint64_t dropped_events;
    cg_conn_data *data;

    /* Deferred requests of this connection (gateway/request.c). */
    struct cg_req *pending_head;
    size_t n_pending;
};

/* Accepts a pending connection on a listener (ingress: which kind of listener). */
void cg_conn_accept(cg_gateway *gw, uv_stream_t *server, SSL_CTX *tls, cg_ingress ingress);
/* What the upgrade request told the Tailscale checks (strings borrowed from c). */
void cg_conn_tailscale_headers(const cg_conn *c, cg_tailscale_headers *out);

void cg_conn_ref(cg_conn *c);
void cg_conn_unref(cg_conn *c);

/* Whether a frame sent now can reach the client (connected, not closing). */
bool cg_conn_deliverable(const cg_conn *c);
/* A response frame to one connection. */
void cg_conn_send_ok(cg_conn *c, const char *id, const char *payload_json, size_t len);
/* An error response (error consumed); a NULL id answers on "invalid". */
void cg_conn_send_error(cg_conn *c, const char *id, json_t *error);
/* An event with the connection's next seq (payload already serialized). */
bool cg_conn_send_event_raw(cg_conn *c, const char *event, const char *payload_json, size_t len,
                            unsigned flags);
/* The connect.challenge event: the only event without a seq. */
void cg_conn_send_challenge(cg_conn *c, const char *payload_json, size_t len);

/* Ends what depended on a closed connection (pending requests, hooks, counts). */
void cg_conn_finish_closing(cg_conn *c);
/* Ends the WebSocket with a close frame (graceful, lingering). */
void cg_conn_ws_close(cg_conn *c, uint16_t code, const char *reason);
/* Closes at once. */
void cg_conn_close(cg_conn *c);

/* The upgrade succeeded: the connection speaks WebSocket from now on. rest: bytes that
 * followed the upgrade request. Returns how many of them were consumed. */
size_t cg_conn_upgraded(cg_conn *c, const uint8_t *rest, size_t rest_len);

#endif
