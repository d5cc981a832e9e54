/* The gateway: one libuv loop, its listeners, every connection, the tick timer, the
 * config store and the readiness state. Methods reach the rest of the system through it.
 *
 * Broadcasts go to every connected (post-handshake) client whose role and scopes allow
 * the event; each gets its own per-connection seq. */
#ifndef CG_GATEWAY_GATEWAY_H
#define CG_GATEWAY_GATEWAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "gateway/methods.h"

typedef struct cg_gateway cg_gateway;

cg_gateway *cg_gateway_new(uv_loop_t *loop, cg_config *cfg);
/* Binds the listeners and starts timers, signals and the config watcher. 0 or -errno. */
int cg_gateway_start(cg_gateway *gw);
void cg_gateway_free(cg_gateway *gw);

uv_loop_t *cg_gateway_loop(cg_gateway *gw);
cg_config *cg_gateway_config(cg_gateway *gw);
const cg_settings *cg_gateway_settings(cg_gateway *gw);
uint64_t cg_gateway_uptime_ms(cg_gateway *gw);

/* To every connected client allowed by `roles` and holding `scope`. payload consumed. */
void cg_gateway_broadcast(cg_gateway *gw, const char *event, json_t *payload, unsigned roles,
                          cg_scope scope);

/* After a config write or reload changed settings: applies what can change live (auth,
 * limits, origins, tick, log size) and, when may_rebind and the listeners' address
 * (port, bind, customBindHost, TLS) differs from the settings, re-binds them after
 * restart_delay_ms while keeping open connections open. */
void cg_gateway_settings_changed(cg_gateway *gw, bool may_rebind, int64_t restart_delay_ms);

/* The health snapshot (hello-ok.snapshot.health and the `health` method), at most a
 * second old. A new reference to a shared object: do not modify it. */
json_t *cg_gateway_health(cg_gateway *gw);

/* Begins a graceful shutdown: `shutdown` event, close 1012, exit within 2 s. */
void cg_gateway_shutdown(cg_gateway *gw, const char *reason);

#endif
