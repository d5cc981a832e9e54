/* Presence: who is connected, for hello-ok.snapshot.presence, `system-presence` and the
 * `presence` event.
 *
 * Every operator and node connection is listed, except the short-lived kinds the real
 * gateway leaves out too (client modes cli, probe, backend). An entry is a
 * PresenceEntry built from what the client said at connect; it is added when the
 * connection authenticates and, when it closes, kept for PRESENCE_GONE_MS with reason
 * "disconnect" so a watcher sees who left. Each change bumps the version
 * (stateVersion.presence) and sends the whole list to operators holding operator.read,
 * as a droppable event: a client that misses one gets the next whole list. */
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_int.h"

#define PRESENCE_GONE_MS (5 * 60 * 1000)

typedef struct presence_item {
    struct presence_item *next;
    char conn_id[37];
    json_t *entry;
    int64_t gone_at_ms; /* 0 while connected */
} presence_item;

struct cg_presence {
    presence_item *head;
    int64_t version;
};

static bool listed(const cg_conn *c)
{
    const char *mode = cg_conn_client_mode(c);
    return !mode ||
           (strcmp(mode, "cli") != 0 && strcmp(mode, "probe") != 0 && strcmp(mode, "backend") != 0);
}

static void copy_string(json_t *entry, const char *key, const json_t *from, const char *from_key)
{
    const json_t *v = json_object_get(from, from_key);
    if (json_is_string(v) && json_string_length(v) > 0) json_object_set(entry, key, (json_t *)v);
}

/* A PresenceEntry for a connection (only the schema's fields). */
static json_t *entry_for(const cg_conn *c, const char *reason)
{
    const json_t *params = cg_conn_params(c);
    const json_t *client = json_object_get(params, "client");
    json_t *e = json_object();
    copy_string(e, "host", client, "displayName");
    if (!json_object_get(e, "host")) copy_string(e, "host", client, "id");
    if (strcmp(cg_conn_client_ip(c), CG_CLIENT_IP_UNKNOWN) != 0)
        json_object_set_new(e, "ip", json_string(cg_conn_client_ip(c)));
    copy_string(e, "version", client, "version");
    copy_string(e, "platform", client, "platform");
    copy_string(e, "deviceFamily", client, "deviceFamily");
    copy_string(e, "modelIdentifier", client, "modelIdentifier");
    copy_string(e, "timeZone", client, "timeZone");
    copy_string(e, "mode", client, "mode");
    copy_string(e, "instanceId", client, "instanceId");
    copy_string(e, "deviceId", json_object_get(params, "device"), "id");
    json_object_set_new(e, "reason", json_string(reason));
    int64_t now = cg_now_ms();
    json_object_set_new(e, "ts", json_integer(now));
    json_object_set_new(e, "onlineSince", json_integer(cg_conn_connected_at_ms(c)));
    json_object_set_new(e, "roles",
                        json_pack("[s]", cg_conn_role(c) == CG_ROLE_NODE ? "node" : "operator"));
    json_object_set_new(e, "scopes", cg_scope_names(cg_conn_scopes(c)));
    return e;
}

/* Drops entries that left long enough ago. */
static void prune(cg_presence *p, int64_t now)
{
    for (presence_item **link = &p->head; *link;) {
        presence_item *it = *link;
        if (it->gone_at_ms && now - it->gone_at_ms >= PRESENCE_GONE_MS) {
            *link = it->next;
            json_decref(it->entry);
            free(it);
        } else {
            link = &it->next;
        }
    }
}

json_t *cg_gateway_presence(cg_gateway *gw)
{
    cg_presence *p = gw->presence;
    prune(p, cg_now_ms());
    json_t *list = json_array();
    for (presence_item *it = p->head; it; it = it->next)
        json_array_append(list, it->entry);
    return list;
}

int64_t cg_gateway_presence_version(cg_gateway *gw)
{
    return gw->presence->version;
}

static void changed(cg_gateway *gw)
{
    gw->presence->version++;
    cg_gateway_broadcast(gw, "presence", json_pack("{s:o}", "presence", cg_gateway_presence(gw)),
                         CG_ROLE_OPERATOR, CG_SCOPE_READ, CG_EVENT_DROPPABLE);
}

static void on_conn(cg_gateway *gw, cg_conn *c, cg_conn_event ev, void *data)
{
    cg_presence *p = gw->presence;
    if (!listed(c)) return;
    if (ev == CG_CONN_AUTHENTICATED) {
        presence_item *it = cg_xcalloc(1, sizeof *it);
        snprintf(it->conn_id, sizeof it->conn_id, "%s", cg_conn_id(c));
        it->entry = entry_for(c, "connect");
        it->next = p->head;
        p->head = it;
        changed(gw);
        return;
    }
    for (presence_item *it = p->head; it; it = it->next) {
        if (it->gone_at_ms || strcmp(it->conn_id, cg_conn_id(c)) != 0) continue;
        it->gone_at_ms = cg_now_ms();
        json_object_set_new(it->entry, "reason", json_string("disconnect"));
        json_object_set_new(it->entry, "ts", json_integer(it->gone_at_ms));
        changed(gw);
        return;
    }
}

void cg_presence_attach(cg_gateway *gw)
{
    gw->presence = cg_xcalloc(1, sizeof *gw->presence);
    cg_gateway_add_conn_hook(gw, on_conn, NULL);
}

void cg_presence_free(cg_gateway *gw)
{
    if (!gw->presence) return;
    prune(gw->presence, INT64_MAX);
    for (presence_item *it = gw->presence->head, *next; it; it = next) {
        next = it->next;
        json_decref(it->entry);
        free(it);
    }
    free(gw->presence);
    gw->presence = NULL;
}
