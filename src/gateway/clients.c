/* Connected clients, as the rest of the system sees them: the list of connections, the
 * connId map, lifecycle hooks, per-module data, accessors and broadcast. See
 * gateway.h for the public contract. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway_int.h"
#include "proto/handshake.h"

static const char *const event_names[] = {"connect.challenge",
                                          "tick",
                                          "shutdown",
                                          "presence",
                                          "device.pair.requested",
                                          "device.pair.resolved",
                                          "node.pair.requested",
                                          "node.pair.resolved",
                                          "node.hostStats",
                                          "node.invoke.request",
                                          "exec.approval.requested",
                                          "exec.approval.resolved",
                                          "chat",
                                          "agent",
                                          "sessions.changed",
                                          "session.message",
                                          "config.changed",
                                          "cron",
                                          "logs.appended",
                                          NULL};

json_t *cg_gateway_event_names(void)
{
    json_t *a = json_array();
    for (const char *const *e = event_names; *e; e++)
        json_array_append_new(a, json_string(*e));
    return a;
}

void cg_clients_init(cg_gateway *gw)
{
    gw->conn_ids = cg_strmap_new();
    uv_timer_init(gw->loop, &gw->closing_timer);
    gw->closing_timer.data = gw;
}

void cg_clients_free(cg_gateway *gw)
{
    cg_strmap_free(gw->conn_ids);
    gw->conn_ids = NULL;
    free(gw->closing);
    gw->closing = NULL;
}

void cg_clients_finish_closing(cg_gateway *gw)
{
    /* Finishing may close more connections (a hook's broadcast cuts a slow reader): the
     * loop takes those too. */
    for (size_t i = 0; i < gw->n_closing; i++) {
        cg_conn *c = gw->closing[i];
        cg_conn_finish_closing(c);
        cg_conn_unref(c);
    }
    gw->n_closing = 0;
}

static void on_closing_timer(uv_timer_t *t)
{
    cg_clients_finish_closing(t->data);
}

void cg_clients_closing_later(cg_gateway *gw, cg_conn *c)
{
    if (gw->n_closing == gw->cap_closing) {
        gw->cap_closing = gw->cap_closing ? gw->cap_closing * 2 : 16;
        gw->closing = cg_xrealloc(gw->closing, gw->cap_closing * sizeof *gw->closing);
    }
    cg_conn_ref(c);
    gw->closing[gw->n_closing++] = c;
    if (!uv_is_closing((uv_handle_t *)&gw->closing_timer))
        uv_timer_start(&gw->closing_timer, on_closing_timer, 0, 0);
}

void cg_clients_added(cg_gateway *gw, cg_conn *c)
{
    c->next = gw->conns;
    if (gw->conns) gw->conns->prev = c;
    gw->conns = c;
    gw->n_conns++;
}

void cg_clients_removed(cg_gateway *gw, cg_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (gw->conns == c)
        gw->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    gw->n_conns--;
}

void cg_clients_authenticated(cg_conn *c)
{
    cg_gateway *gw = c->gw;
    c->registered = true;
    cg_strmap_set(gw->conn_ids, c->conn_id, c);
    for (size_t i = 0; i < gw->n_hooks; i++)
        gw->hooks[i].fn(gw, c, CG_CONN_AUTHENTICATED, gw->hooks[i].data);
}

void cg_clients_closed(cg_conn *c)
{
    cg_gateway *gw = c->gw;
    c->registered = false;
    cg_strmap_remove(gw->conn_ids, c->conn_id);
    for (size_t i = 0; i < gw->n_hooks; i++)
        gw->hooks[i].fn(gw, c, CG_CONN_CLOSED, gw->hooks[i].data);
    cg_log(CG_LOG_INFO, "gateway", "client disconnected",
           json_pack("{s:s, s:s, s:s?, s:I}", "connId", c->conn_id, "ip", c->client_ip, "client",
                     cg_conn_client_id(c), "droppedEvents", (json_int_t)c->dropped_events));
}

void cg_gateway_add_conn_hook(cg_gateway *gw, cg_conn_hook_fn fn, void *data)
{
    if (gw->n_hooks == CG_MAX_CONN_HOOKS) abort(); /* a build defect: raise the constant */
    gw->hooks[gw->n_hooks].fn = fn;
    gw->hooks[gw->n_hooks].data = data;
    gw->n_hooks++;
}

cg_conn *cg_gateway_find_conn(cg_gateway *gw, const char *conn_id)
{
    return cg_strmap_get(gw->conn_ids, conn_id);
}

size_t cg_gateway_conn_count(cg_gateway *gw)
{
    return cg_strmap_size(gw->conn_ids);
}

size_t cg_gateway_preauth_count(cg_gateway *gw, const char *ip)
{
    size_t n = 0;
    for (cg_conn *c = gw->conns; c; c = c->next)
        if (!c->connected && c->phase != CG_PHASE_CLOSED && strcmp(c->client_ip, ip) == 0) n++;
    return n;
}

/* ---- accessors ---- */

const char *cg_conn_id(const cg_conn *c)
{
    return c->conn_id;
}

unsigned cg_conn_role(const cg_conn *c)
{
    return c->role;
}

unsigned cg_conn_scopes(const cg_conn *c)
{
    return c->scopes;
}

const char *cg_conn_client_ip(const cg_conn *c)
{
    return c->client_ip;
}

const char *cg_conn_client_id(const cg_conn *c)
{
    return cg_connect_client_field(c->params, "id");
}

const char *cg_conn_client_mode(const cg_conn *c)
{
    return cg_connect_client_field(c->params, "mode");
}

int64_t cg_conn_connected_at_ms(const cg_conn *c)
{
    return c->connected_at_ms;
}

const json_t *cg_conn_params(const cg_conn *c)
{
    return c->params;
}

const char *cg_conn_device_id(const cg_conn *c)
{
    return c->device_id[0] ? c->device_id : NULL;
}

bool cg_conn_via_device_token(const cg_conn *c)
{
    return c->via_device_token;
}

void cg_conn_disconnect(cg_conn *c, uint16_t code, const char *reason)
{
    if (c->phase == CG_PHASE_WS) cg_conn_ws_close(c, code, reason);
}

void cg_gateway_foreach_conn(cg_gateway *gw, cg_conn_visit_fn fn, void *data)
{
    cg_conn *next;
    for (cg_conn *c = gw->conns; c; c = next) {
        next = c->next;
        if (c->connected && c->phase == CG_PHASE_WS) fn(c, data);
    }
}

/* ---- module data ---- */

/* One list of keyed data, for connections and for the gateway. */
static void data_set(cg_conn_data **list, const cg_conn_key *key, void *data)
{
    for (cg_conn_data *d = *list; d; d = d->next) {
        if (d->key != key) continue;
        if (d->data && key->free_data) key->free_data(d->data);
        d->data = data;
        return;
    }
    cg_conn_data *d = cg_xcalloc(1, sizeof *d);
    d->key = key;
    d->data = data;
    d->next = *list;
    *list = d;
}

static void *data_get(const cg_conn_data *list, const cg_conn_key *key)
{
    for (const cg_conn_data *d = list; d; d = d->next)
        if (d->key == key) return d->data;
    return NULL;
}

static void data_free(cg_conn_data **list)
{
    while (*list) {
        cg_conn_data *d = *list;
        *list = d->next;
        if (d->data && d->key->free_data) d->key->free_data(d->data);
        free(d);
    }
}

void cg_conn_set_data(cg_conn *c, const cg_conn_key *key, void *data)
{
    data_set(&c->data, key, data);
}

void *cg_conn_get_data(const cg_conn *c, const cg_conn_key *key)
{
    return data_get(c->data, key);
}

void cg_conn_data_free(cg_conn *c)
{
    data_free(&c->data);
}

void cg_gateway_set_data(cg_gateway *gw, const cg_conn_key *key, void *data)
{
    data_set(&gw->data, key, data);
}

void *cg_gateway_get_data(const cg_gateway *gw, const cg_conn_key *key)
{
    return data_get(gw->data, key);
}

void cg_gateway_data_stop(cg_gateway *gw)
{
    for (cg_conn_data *d = gw->data; d; d = d->next)
        if (d->data && d->key->stop) d->key->stop(d->data);
}

void cg_gateway_data_free(cg_gateway *gw)
{
    data_free(&gw->data);
}

/* ---- broadcast ---- */

void cg_gateway_broadcast(cg_gateway *gw, const char *event, json_t *payload, unsigned roles,
                          cg_scope scope, unsigned flags)
{
    char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = strlen(text);
    json_decref(payload);
    for (cg_conn *c = gw->conns; c; c = c->next)
        if (c->connected && (c->role & roles) && cg_scope_granted(c->role, c->scopes, scope))
            cg_conn_send_event_raw(c, event, text, len, flags);
    free(text);
}
