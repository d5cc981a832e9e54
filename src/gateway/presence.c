/* Presence: who is connected, for hello-ok.snapshot.presence, `system-presence` and the
 * `presence` event, in the real gateway's shapes (tests/fixtures/real-gateway/).
 *
 * The gateway's own entry comes first (mode "gateway", reason "self", never expires).
 * Then every operator and node connection, newest change first, except the
 * short-lived kinds the real gateway leaves out too (client modes cli, probe,
 * backend). An entry is a PresenceEntry built from what the client said at connect
 * (the real gateway also sends clientId, which the schema forbids: left out); it is
 * added when the connection authenticates and, when it closes, kept with reason
 * "disconnect" for PRESENCE_GONE_MS so a watcher sees who left; entries of clients that
 * left are dropped, oldest first, beyond PRESENCE_MAX_ENTRIES. Each change bumps the version
 * (stateVersion.presence) and sends {presence: [...]} to operators holding
 * operator.read, with stateVersion on the frame, as a droppable event: a client that
 * misses one gets the next whole list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "gateway/gateway_int.h"

#define PRESENCE_GONE_MS (5 * 60 * 1000)
#define PRESENCE_MAX_ENTRIES 200

typedef struct presence_item {
    struct presence_item *next;
    char conn_id[37];
    json_t *entry;
    int64_t gone_at_ms; /* 0 while connected */
} presence_item;

struct cg_presence {
    presence_item *head; /* newest change first */
    int64_t version;
    json_t *self; /* the gateway's own entry, ts set when listed */
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
    const char *ip = cg_conn_client_ip(c);
    if (strcmp(ip, CG_CLIENT_IP_UNKNOWN) != 0 && !cg_addr_is_loopback(ip))
        json_object_set_new(e, "ip", json_string(ip));
    copy_string(e, "version", client, "version");
    copy_string(e, "platform", client, "platform");
    copy_string(e, "deviceFamily", client, "deviceFamily");
    copy_string(e, "modelIdentifier", client, "modelIdentifier");
    copy_string(e, "timeZone", client, "timeZone");
    copy_string(e, "mode", client, "mode");
    copy_string(e, "instanceId", client, "instanceId");
    copy_string(e, "deviceId", json_object_get(params, "device"), "id");
    bool node = cg_conn_role(c) == CG_ROLE_NODE;
    json_object_set_new(e, "roles", json_pack("[s]", node ? "node" : "operator"));
    if (cg_conn_scopes(c)) json_object_set_new(e, "scopes", cg_scope_names(cg_conn_scopes(c)));
    json_object_set_new(e, "onlineSince", json_integer(cg_conn_connected_at_ms(c)));
    json_object_set_new(e, "reason", json_string(reason));
    json_object_set_new(e, "ts", json_integer(cg_now_ms()));
    char text[256];
    snprintf(text, sizeof text, "%s: %s \xc2\xb7 mode %s", node ? "Node" : "Client",
             json_string_value(json_object_get(e, "host")),
             json_is_string(json_object_get(e, "mode"))
                 ? json_string_value(json_object_get(e, "mode"))
                 : "unknown");
    json_object_set_new(e, "text", json_string(text));
    return e;
}

/* The gateway's own entry, made once at start. */
static json_t *self_entry(void)
{
    char host[256] = "localhost", ip[64] = "", instance[37], text[512];
    size_t host_len = sizeof host;
    uv_os_gethostname(host, &host_len);
    bool has_ip = cg_host_ipv4(0, 0, ip, sizeof ip); /* as the real gateway reports itself */
    struct utsname u;
    char platform[160] = "linux";
    if (uname(&u) == 0) snprintf(platform, sizeof platform, "linux %s", u.release);
    cg_uuid4(instance);
    json_t *e = json_pack("{s:s}", "host", host);
    if (has_ip) json_object_set_new(e, "ip", json_string(ip));
    json_object_set_new(e, "version", json_string(CLAWGATE_VERSION));
    json_object_set_new(e, "platform", json_string(platform));
    json_object_set_new(e, "deviceFamily", json_string("Linux"));
    json_object_set_new(e, "mode", json_string("gateway"));
    json_object_set_new(e, "reason", json_string("self"));
    json_object_set_new(e, "instanceId", json_string(instance));
    snprintf(text, sizeof text,
             "Gateway: %s%s%s%s \xc2\xb7 app %s \xc2\xb7 mode gateway \xc2\xb7 reason self", host,
             has_ip ? " (" : "", ip, has_ip ? ")" : "", CLAWGATE_VERSION);
    json_object_set_new(e, "text", json_string(text));
    return e;
}

/* Drops entries of clients that left long enough ago, and, beyond the cap, the oldest
 * of those that left (connected clients always stay: maxConnections bounds them). */
static void prune(cg_presence *p, int64_t now)
{
    size_t kept = 0;
    for (presence_item **link = &p->head; *link;) {
        presence_item *it = *link;
        bool expired = it->gone_at_ms && now - it->gone_at_ms >= PRESENCE_GONE_MS;
        bool over = it->gone_at_ms && kept >= PRESENCE_MAX_ENTRIES;
        if (expired || over) {
            *link = it->next;
            json_decref(it->entry);
            free(it);
        } else {
            kept++;
            link = &it->next;
        }
    }
}

json_t *cg_gateway_presence(cg_gateway *gw)
{
    cg_presence *p = gw->presence;
    prune(p, cg_now_ms());
    json_t *list = json_array();
    json_object_set_new(p->self, "ts", json_integer(cg_now_ms()));
    json_array_append_new(list, json_deep_copy(p->self));
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
                         CG_ROLE_OPERATOR, CG_SCOPE_READ,
                         CG_EVENT_DROPPABLE | CG_EVENT_STATE_VERSION);
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
    for (presence_item **link = &p->head; *link; link = &(*link)->next) {
        presence_item *it = *link;
        if (it->gone_at_ms || strcmp(it->conn_id, cg_conn_id(c)) != 0) continue;
        *link = it->next; /* to the front: the newest change */
        it->next = p->head;
        p->head = it;
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
    gw->presence->self = self_entry();
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
    json_decref(gw->presence->self);
    free(gw->presence);
    gw->presence = NULL;
}
