/* The gateway's public face: what main.c, method families and the modules beside them
 * use. The internals (gateway_int.h, conn.h) are for src/gateway only.
 *
 * Connections: a method or module sees a connection as an opaque cg_conn. It can read
 * what the client said at connect (client info, role, scopes, caps, commands,
 * permissions, device; never the credentials), attach its own data under a key, be
 * told when connections authenticate and close (hooks), find one by its connId, and
 * send it events. Broadcasts go to every connected client whose role and scopes allow
 * the event; each frame gets that connection's own seq. Events marked droppable (tick,
 * health, presence, chat deltas) are skipped for a connection whose output is backed
 * up past the low-water mark; responses are never dropped. */
#ifndef CG_GATEWAY_GATEWAY_H
#define CG_GATEWAY_GATEWAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "gateway/methods.h"

typedef struct cg_gateway cg_gateway;
typedef struct cg_conn cg_conn;

cg_gateway *cg_gateway_new(uv_loop_t *loop, cg_config *cfg);
/* Binds the listeners and starts timers, signals and the config watcher. 0 or -1 (the
 * reason printed and logged). */
int cg_gateway_start(cg_gateway *gw);
void cg_gateway_free(cg_gateway *gw);
/* Begins a graceful shutdown: pending requests answered UNAVAILABLE, a `shutdown`
 * event, close 1012, exit within a second. */
void cg_gateway_shutdown(cg_gateway *gw, const char *reason);

uv_loop_t *cg_gateway_loop(cg_gateway *gw);
/* The state store (DIR/state.db) and the device registry on it. */
struct cg_store *cg_gateway_store(cg_gateway *gw);
struct cg_devices *cg_gateway_devices(cg_gateway *gw);
cg_config *cg_gateway_config(cg_gateway *gw);
const cg_settings *cg_gateway_settings(cg_gateway *gw);
uint64_t cg_gateway_uptime_ms(cg_gateway *gw);
/* The addresses the gateway listens on ("ws://127.0.0.1:18789", ...). New ref. */
json_t *cg_gateway_listen_urls(cg_gateway *gw);

/* Told after new settings are in place (a reload or a config write changed anything in
 * the configuration, settings->doc included), on the loop. For modules that read their
 * own sections of the document (model providers, agents). */
typedef void (*cg_settings_hook_fn)(cg_gateway *gw, const cg_settings *settings, void *data);
void cg_gateway_add_settings_hook(cg_gateway *gw, cg_settings_hook_fn fn, void *data);
/* Moves the listeners to what `next` asks for (port, bind, TLS): the new sockets are
 * bound before the old ones close, so on failure nothing changes. A certificate to
 * generate is made on the thread pool. done gets NULL, or the address and the OS
 * error; it may be called before this returns. `next` must live until done. Open
 * connections stay open. */
typedef void (*cg_rebind_done)(cg_gateway *gw, const char *error, void *data);
void cg_gateway_rebind_async(cg_gateway *gw, const cg_settings *next, cg_rebind_done done,
                             void *data);

/* ---- health ---- */

/* The health snapshot (hello-ok.snapshot.health and the `health` method), at most a
 * second old. A new reference to a shared object: do not modify it. */
json_t *cg_gateway_health(cg_gateway *gw);
/* Its text. Borrowed until the next call. */
const char *cg_gateway_health_json(cg_gateway *gw, size_t *len);
/* A subsystem reports whether it works: a failing one makes health ok:false and
 * /readyz list it. message NULL when ok. */
void cg_gateway_set_subsystem(cg_gateway *gw, const char *name, bool ok, const char *message);

/* ---- connections ---- */

typedef enum {
    CG_CONN_AUTHENTICATED, /* connect succeeded; hello-ok is about to go out */
    CG_CONN_CLOSED,        /* the connection is closing; nothing more can be sent */
} cg_conn_event;
typedef void (*cg_conn_hook_fn)(cg_gateway *gw, cg_conn *c, cg_conn_event ev, void *data);
void cg_gateway_add_conn_hook(cg_gateway *gw, cg_conn_hook_fn fn, void *data);

/* A connected client by its connId, or NULL. */
cg_conn *cg_gateway_find_conn(cg_gateway *gw, const char *conn_id);
size_t cg_gateway_conn_count(cg_gateway *gw);

const char *cg_conn_id(const cg_conn *c);
unsigned cg_conn_role(const cg_conn *c);   /* CG_ROLE_* */
unsigned cg_conn_scopes(const cg_conn *c); /* CG_SCOPEBIT_* */
/* The client's address (through trusted proxies), or CG_CLIENT_IP_UNKNOWN. */
const char *cg_conn_client_ip(const cg_conn *c);
const char *cg_conn_client_id(const cg_conn *c);
const char *cg_conn_client_mode(const cg_conn *c);
int64_t cg_conn_connected_at_ms(const cg_conn *c);
/* The connect params as the client sent them, without `auth`. Borrowed. */
const json_t *cg_conn_params(const cg_conn *c);
/* The device identity the connection proved at connect (Ed25519), or NULL. */
const char *cg_conn_device_id(const cg_conn *c);
/* Whether it authenticated with that device's token (rather than a shared secret). */
bool cg_conn_via_device_token(const cg_conn *c);
/* Ends a connection with a WebSocket close frame (e.g. 4001 "device removed"). */
void cg_conn_disconnect(cg_conn *c, uint16_t code, const char *reason);
/* Calls fn for every connected client (hello-ok sent, not closed). fn may disconnect
 * the connection it is given, nothing else. */
typedef void (*cg_conn_visit_fn)(cg_conn *c, void *data);
void cg_gateway_foreach_conn(cg_gateway *gw, cg_conn_visit_fn fn, void *data);

/* Per-connection data of a module: declare one static key per module. The data is freed
 * with key->free_data after the CLOSED hooks ran. */
typedef struct cg_conn_key {
    const char *name;
    void (*free_data)(void *data);
    /* Gateway data only, optional: the gateway is stopping (its last loop turns follow);
     * close the module's libuv handles here, so the loop can end. */
    void (*stop)(void *data);
} cg_conn_key;
void cg_conn_set_data(cg_conn *c, const cg_conn_key *key, void *data);
void *cg_conn_get_data(const cg_conn *c, const cg_conn_key *key);

/* Gateway-wide data of a module (its registry, say), under a static key like the
 * per-connection data; freed with key->free_data when the gateway is freed. */
void cg_gateway_set_data(cg_gateway *gw, const cg_conn_key *key, void *data);
void *cg_gateway_get_data(const cg_gateway *gw, const cg_conn_key *key);

/* ---- events ---- */

#define CG_EVENT_DROPPABLE 1u     /* skipped for a backed-up connection */
#define CG_EVENT_STATE_VERSION 2u /* the frame carries stateVersion {presence, health} */

/* One event to one connection (payload consumed). false when not sent. */
bool cg_conn_send_event(cg_conn *c, const char *event, json_t *payload, unsigned flags);
/* To every connected client allowed by `roles` and holding `scope` (payload consumed,
 * serialized once). */
void cg_gateway_broadcast(cg_gateway *gw, const char *event, json_t *payload, unsigned roles,
                          cg_scope scope, unsigned flags);

/* ---- HTTP routes of modules ---- */

/* A method family may serve HTTP beside the WebSocket (the OpenAI-compatible endpoint,
 * say): it registers a route, and each request on it comes to its handler as an opaque
 * exchange, which the handler answers at once or later, whole or streamed.
 *
 * Routing (gateway/http_routes.c): the gateway's own routes first (/healthz, /readyz,
 * /), then modules' routes by exact path, or by prefix for a route whose path ends in
 * "/" with prefix set. A route whose enabled() says false does not exist (404). The
 * path but not the method: 405 with Allow; HEAD wherever GET is (the body is left out).
 * CG_HTTP_AUTH_GATEWAY wants the gateway credential as `Authorization: Bearer` (token
 * or password; nothing in auth mode none): without it 401, and a wrong one counts
 * toward gateway.auth.rateLimit like a refused connect (429 with Retry-After while
 * locked out); those answers are OpenAI-style error JSON, as the real gateway's HTTP
 * endpoints answer. The longest prefix wins; "/" with prefix is the fallback for every
 * path nothing else takes, and takes GET / from the gateway's own 426 (the Control UI).
 *
 * An exchange lives until it is answered (respond, or stream_end), until its client
 * goes away, or until its deadline (the route's timeout_ms, default
 * CG_HTTP_EXCHANGE_TIMEOUT_MS; cg_http_exchange_set_timeout moves it): an exchange not
 * yet answered then gets 504, a streamed one is cut; on shutdown one not yet answered
 * gets 503. In each of those cases on_close is called first (when set): nothing more
 * can be sent, and x is freed when it returns. A handler that does not answer during
 * its call must set on_close, and must not touch x after answering or after on_close.
 *
 * Keep-alive and pipelining: one exchange at a time per connection. While one is open
 * the connection reads on (so a client that goes away is noticed at once) but parses
 * nothing: pipelined requests are kept, up to gateway.limits.preauthMaxBytes (beyond
 * that reading stops until the answer ends), and handled in order after it. Keep-alive
 * holds after answers and streamed answers alike (chunked), unless the request asked
 * for close. All calls on the loop thread. */
#define CG_HTTP_GET 0x01u
#define CG_HTTP_POST 0x02u
#define CG_HTTP_PUT 0x04u
#define CG_HTTP_DELETE 0x08u
#define CG_HTTP_PATCH 0x10u
#define CG_HTTP_EXCHANGE_TIMEOUT_MS 60000
#define CG_HTTP_MAX_ROUTES 32

typedef enum {
    CG_HTTP_AUTH_NONE,    /* open */
    CG_HTTP_AUTH_GATEWAY, /* Authorization: Bearer <gateway token or password> */
} cg_http_auth;

typedef struct cg_http_exchange cg_http_exchange;
typedef void (*cg_http_handler_fn)(cg_http_exchange *x, void *data);
typedef bool (*cg_http_enabled_fn)(cg_gateway *gw, void *data);
typedef void (*cg_http_exchange_fn)(cg_http_exchange *x, void *data);

typedef struct cg_http_route_spec {
    const char *path; /* "/v1/models"; copied */
    bool prefix;      /* path ends in "/" and matches every path below it */
    unsigned methods; /* CG_HTTP_* bits */
    cg_http_auth auth;
    cg_http_handler_fn handler;
    cg_http_enabled_fn enabled; /* NULL: always; checked on every request */
    void *data;
    int64_t timeout_ms; /* the exchange's deadline; 0: CG_HTTP_EXCHANGE_TIMEOUT_MS */
} cg_http_route_spec;

/* 0, or -1 when the table is full or the path is taken. */
int cg_gateway_add_http_route(cg_gateway *gw, const cg_http_route_spec *spec);

/* The request. Strings are borrowed from x. */
cg_gateway *cg_http_exchange_gateway(const cg_http_exchange *x);
const char *cg_http_exchange_method(const cg_http_exchange *x); /* "GET", "POST", ... */
const char *cg_http_exchange_path(const cg_http_exchange *x);   /* without the query */
const char *cg_http_exchange_query(const cg_http_exchange *x);  /* after '?', or NULL */
/* A header's value (repeated ones joined with ", "), NULL when absent. */
const char *cg_http_exchange_header(const cg_http_exchange *x, const char *lowercase_name);
const char *cg_http_exchange_body(const cg_http_exchange *x, size_t *len);
const char *cg_http_exchange_client_ip(const cg_http_exchange *x);

/* Told when the exchange ends before its answer did (see above); on_drain (may be NULL)
 * when a streamed answer that backed up has been written out. */
void cg_http_exchange_on_close(cg_http_exchange *x, cg_http_exchange_fn on_close,
                               cg_http_exchange_fn on_drain, void *data);
void cg_http_exchange_set_timeout(cg_http_exchange *x, int64_t timeout_ms);

/* A whole answer: x is done. headers: extra lines, each ending in CRLF, or NULL. */
void cg_http_exchange_respond(cg_http_exchange *x, int status, const char *content_type,
                              const char *headers, const void *body, size_t len);
/* The same with a JSON body (consumed), Cache-Control: no-store. */
void cg_http_exchange_respond_json(cg_http_exchange *x, int status, json_t *body);
/* A streamed answer: the head (chunked), chunks or Server-Sent Events, the end (x is
 * done). A write returns false when the client is gone, or when it does not read and
 * more than gateway.limits.maxBufferedBytes wait for it (the connection is then cut);
 * on_close follows, x stays valid until then. cg_http_exchange_writable tells a
 * producer that can wait to do so until on_drain. */
void cg_http_exchange_stream_begin(cg_http_exchange *x, int status, const char *content_type,
                                   const char *headers);
bool cg_http_exchange_stream_write(cg_http_exchange *x, const void *data, size_t len);
bool cg_http_exchange_stream_sse(cg_http_exchange *x, const char *event, const char *data,
                                 size_t len);
bool cg_http_exchange_writable(cg_http_exchange *x);
void cg_http_exchange_stream_end(cg_http_exchange *x);

/* ---- presence (the connected clients, for system-presence and hello-ok) ---- */

/* The presence list (PresenceEntry objects). New ref. */
json_t *cg_gateway_presence(cg_gateway *gw);
/* How many times the list changed (hello-ok.snapshot.stateVersion.presence). */
int64_t cg_gateway_presence_version(cg_gateway *gw);

#endif
