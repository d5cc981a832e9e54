/* The device registry (see devices.h): memory first, written through to the store.
 *
 * Every change snapshots what it touched into a write job: a short list of SQL
 * statements with their arguments copied, so the writer thread shares nothing with the
 * loop. A device is written whole (an upsert of its row, then its token rows replaced),
 * which keeps each job independent of the ones before it. */
#include "auth/devices.h"

#include "auth/auth.h"

#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"

struct cg_devices {
    cg_store *store;
    cg_strmap *by_id; /* device id -> cg_device */
    cg_device **devices;
    size_t n_devices, cap_devices;
    cg_device_request **requests; /* oldest first */
    size_t n_requests, cap_requests;
};

static const char *const role_names[CG_DEVICE_ROLE_COUNT] = {"operator", "node"};

const char *cg_device_role_name(cg_device_role role)
{
    return role_names[role];
}

int cg_device_role_parse(const char *name)
{
    for (int r = 0; r < CG_DEVICE_ROLE_COUNT; r++)
        if (name && strcmp(name, role_names[r]) == 0) return r;
    return -1;
}

/* ---- scope sets ---- */

static bool scope_allowed(const char *scope, const json_t *allowed)
{
    if (cg_json_array_has_string(allowed, scope) ||
        cg_json_array_has_string(allowed, "operator.admin"))
        return true;
    return strcmp(scope, "operator.read") == 0 &&
           cg_json_array_has_string(allowed, "operator.write");
}

const char *cg_scopes_missing(const json_t *scopes, const json_t *allowed)
{
    size_t i;
    json_t *v;
    json_array_foreach(scopes, i, v)
    {
        const char *s = json_string_value(v);
        if (s && !scope_allowed(s, allowed)) return s;
    }
    return NULL;
}

bool cg_scopes_within(const json_t *scopes, const json_t *allowed)
{
    return cg_scopes_missing(scopes, allowed) == NULL;
}

/* a ∪ b, in order of first appearance. New ref. */
static json_t *string_union(const json_t *a, const json_t *b)
{
    json_t *out = json_array();
    const json_t *both[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        size_t i;
        json_t *v;
        json_array_foreach(both[k], i, v) if (json_is_string(v) &&
                                              !cg_json_array_has_string(out, json_string_value(v)))
            json_array_append(out, v);
    }
    return out;
}

/* ---- write jobs ---- */

typedef struct write_job {
    cg_store_batch batch;
    cg_devices_done done;
    void *data;
} write_job;

static cg_store_stmt *job_add(write_job *j, const char *sql)
{
    return cg_store_batch_add(&j->batch, sql);
}

static void arg_json(cg_store_stmt *s, const json_t *v)
{
    cg_store_arg_text_owned(s, json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY));
}

/* A time or count where 0 means unset: stored as NULL. */
static void arg_int(cg_store_stmt *s, int64_t v)
{
    if (v)
        cg_store_arg_int(s, v);
    else
        cg_store_arg_null(s);
}

static void job_free(write_job *j)
{
    cg_store_batch_clear(&j->batch);
    free(j);
}

static int job_run(sqlite3 *db, void *data, char *err, size_t errlen)
{
    return cg_store_batch_run(db, &((write_job *)data)->batch, err, errlen);
}

static void job_done(int status, const char *error, void *data)
{
    write_job *j = data;
    if (status != 0)
        cg_log(CG_LOG_ERROR, "devices", "state write failed",
               json_pack("{s:s}", "error", error ? error : "?"));
    if (j->done) j->done(status, error, j->data);
    job_free(j);
}

static write_job *job_new(cg_devices_done done, void *data)
{
    write_job *j = cg_xcalloc(1, sizeof *j);
    j->done = done;
    j->data = data;
    return j;
}

static void job_submit(cg_devices *d, write_job *j)
{
    cg_store_write(d->store, job_run, job_done, j);
}

static void job_save_device(write_job *j, const cg_device *dev)
{
    cg_store_stmt *s = job_add(
        j, "INSERT INTO devices(device_id, public_key, display_name, roles, scopes, meta, "
           "created_at_ms, approved_at_ms, last_seen_at_ms, last_seen_reason) "
           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(device_id) DO UPDATE SET "
           "public_key = ?2, display_name = ?3, roles = ?4, scopes = ?5, meta = ?6, "
           "created_at_ms = ?7, approved_at_ms = ?8, last_seen_at_ms = ?9, last_seen_reason = ?10");
    cg_store_arg_text(s, dev->id);
    cg_store_arg_text(s, dev->public_key);
    cg_store_arg_text(s, dev->label);
    arg_json(s, dev->roles);
    arg_json(s, dev->scopes);
    arg_json(s, dev->meta);
    arg_int(s, dev->created_at_ms);
    arg_int(s, dev->approved_at_ms);
    arg_int(s, dev->last_seen_at_ms);
    cg_store_arg_text(s, dev->last_seen_reason[0] ? dev->last_seen_reason : NULL);
    s = job_add(j, "DELETE FROM device_tokens WHERE device_id = ?1");
    cg_store_arg_text(s, dev->id);
    for (int r = 0; r < CG_DEVICE_ROLE_COUNT; r++) {
        const cg_device_token *t = &dev->tokens[r];
        if (!t->present) continue;
        s = job_add(j, "INSERT INTO device_tokens(device_id, role, token, scopes, created_at_ms, "
                       "rotated_at_ms, revoked_at_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        cg_store_arg_text(s, dev->id);
        cg_store_arg_text(s, role_names[r]);
        cg_store_arg_text(s, t->token);
        arg_json(s, t->scopes);
        arg_int(s, t->created_at_ms);
        arg_int(s, t->rotated_at_ms);
        arg_int(s, t->revoked_at_ms);
    }
}

static void job_save_request(write_job *j, const cg_device_request *r)
{
    cg_store_stmt *s =
        job_add(j, "INSERT OR REPLACE INTO device_pair_requests(request_id, device_id, "
                   "body, created_at_ms) VALUES(?1, ?2, ?3, ?4)");
    cg_store_arg_text(s, r->request_id);
    cg_store_arg_text(s, r->device_id);
    arg_json(s, r->entry);
    arg_int(s, r->ts);
}

static void job_delete_request(write_job *j, const char *request_id)
{
    cg_store_stmt *s = job_add(j, "DELETE FROM device_pair_requests WHERE request_id = ?1");
    cg_store_arg_text(s, request_id);
}

/* ---- memory ---- */

static void token_clear(cg_device_token *t)
{
    json_decref(t->scopes);
    memset(t, 0, sizeof *t);
}

static void device_free(cg_device *dev)
{
    free(dev->public_key);
    free(dev->label);
    json_decref(dev->roles);
    json_decref(dev->scopes);
    json_decref(dev->meta);
    for (int r = 0; r < CG_DEVICE_ROLE_COUNT; r++)
        token_clear(&dev->tokens[r]);
    free(dev);
}

static void request_free(cg_device_request *r)
{
    json_decref(r->entry);
    free(r);
}

static void add_device(cg_devices *d, cg_device *dev)
{
    if (d->n_devices == d->cap_devices) {
        d->cap_devices = d->cap_devices ? d->cap_devices * 2 : 16;
        d->devices = cg_xrealloc(d->devices, d->cap_devices * sizeof *d->devices);
    }
    d->devices[d->n_devices++] = dev;
    cg_strmap_set(d->by_id, dev->id, dev);
}

static void drop_device(cg_devices *d, cg_device *dev)
{
    cg_strmap_remove(d->by_id, dev->id);
    for (size_t i = 0; i < d->n_devices; i++) {
        if (d->devices[i] != dev) continue;
        memmove(&d->devices[i], &d->devices[i + 1], (d->n_devices - i - 1) * sizeof *d->devices);
        d->n_devices--;
        break;
    }
    device_free(dev);
}

static void add_request(cg_devices *d, cg_device_request *r)
{
    if (d->n_requests == d->cap_requests) {
        d->cap_requests = d->cap_requests ? d->cap_requests * 2 : 16;
        d->requests = cg_xrealloc(d->requests, d->cap_requests * sizeof *d->requests);
    }
    d->requests[d->n_requests++] = r;
}

static void drop_request_at(cg_devices *d, size_t i)
{
    request_free(d->requests[i]);
    memmove(&d->requests[i], &d->requests[i + 1], (d->n_requests - i - 1) * sizeof *d->requests);
    d->n_requests--;
}

/* Drops expired requests (and their rows, written behind). */
static void prune_requests(cg_devices *d, int64_t now_ms)
{
    write_job *j = NULL;
    for (size_t i = 0; i < d->n_requests;) {
        if (now_ms - d->requests[i]->ts <= CG_DEVICE_PENDING_TTL_MS) {
            i++;
            continue;
        }
        if (!j) j = job_new(NULL, NULL);
        job_delete_request(j, d->requests[i]->request_id);
        drop_request_at(d, i);
    }
    if (j) job_submit(d, j);
}

/* ---- loading ---- */

static json_t *column_json(sqlite3_stmt *st, int col, json_t *fallback)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    if (!v) return fallback;
    json_decref(fallback);
    return v;
}

static char *column_strdup(sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    return text ? cg_strdup(text) : NULL;
}

static int load(sqlite3 *db, void *data, char *err, size_t errlen)
{
    cg_devices *d = data;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT device_id, public_key, display_name, roles, scopes, meta, "
                           "created_at_ms, approved_at_ms, last_seen_at_ms, last_seen_reason "
                           "FROM devices ORDER BY created_at_ms",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!id || strlen(id) != 64) continue;
        cg_device *dev = cg_xcalloc(1, sizeof *dev);
        memcpy(dev->id, id, 65);
        dev->public_key = column_strdup(st, 1);
        if (!dev->public_key) dev->public_key = cg_strdup("");
        dev->label = column_strdup(st, 2);
        dev->roles = column_json(st, 3, json_array());
        dev->scopes = column_json(st, 4, json_array());
        dev->meta = column_json(st, 5, json_object());
        dev->created_at_ms = sqlite3_column_int64(st, 6);
        dev->approved_at_ms = sqlite3_column_int64(st, 7);
        dev->last_seen_at_ms = sqlite3_column_int64(st, 8);
        const char *reason = (const char *)sqlite3_column_text(st, 9);
        snprintf(dev->last_seen_reason, sizeof dev->last_seen_reason, "%s", reason ? reason : "");
        add_device(d, dev);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db,
                           "SELECT device_id, role, token, scopes, created_at_ms, rotated_at_ms, "
                           "revoked_at_ms FROM device_tokens",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(st) == SQLITE_ROW) {
        cg_device *dev = cg_strmap_get(d->by_id, (const char *)sqlite3_column_text(st, 0));
        int role = cg_device_role_parse((const char *)sqlite3_column_text(st, 1));
        const char *token = (const char *)sqlite3_column_text(st, 2);
        if (!dev || role < 0 || !token || strlen(token) >= CG_DEVICE_TOKEN_SIZE) continue;
        cg_device_token *t = &dev->tokens[role];
        t->present = true;
        snprintf(t->token, sizeof t->token, "%s", token);
        t->scopes = column_json(st, 3, json_array());
        t->created_at_ms = sqlite3_column_int64(st, 4);
        t->rotated_at_ms = sqlite3_column_int64(st, 5);
        t->revoked_at_ms = sqlite3_column_int64(st, 6);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db,
                           "SELECT request_id, device_id, body, created_at_ms FROM "
                           "device_pair_requests ORDER BY created_at_ms",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *rid = (const char *)sqlite3_column_text(st, 0);
        const char *did = (const char *)sqlite3_column_text(st, 1);
        json_t *entry = column_json(st, 2, NULL);
        if (!rid || !did || strlen(rid) > 36 || strlen(did) > 64 || !json_is_object(entry)) {
            json_decref(entry);
            continue;
        }
        cg_device_request *r = cg_xcalloc(1, sizeof *r);
        snprintf(r->request_id, sizeof r->request_id, "%s", rid);
        snprintf(r->device_id, sizeof r->device_id, "%s", did);
        r->entry = entry;
        r->ts = sqlite3_column_int64(st, 3);
        add_request(d, r);
    }
    sqlite3_finalize(st);
    return 0;
fail:
    snprintf(err, errlen, "loading devices: %s", sqlite3_errmsg(db));
    return -1;
}

cg_devices *cg_devices_open(cg_store *st, char *err, size_t errlen)
{
    cg_devices *d = cg_xcalloc(1, sizeof *d);
    d->store = st;
    d->by_id = cg_strmap_new();
    if (cg_store_read(st, load, d, err, errlen) != 0) {
        cg_devices_free(d);
        return NULL;
    }
    return d;
}

void cg_devices_free(cg_devices *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_devices; i++)
        device_free(d->devices[i]);
    for (size_t i = 0; i < d->n_requests; i++)
        request_free(d->requests[i]);
    free(d->devices);
    free(d->requests);
    cg_strmap_free(d->by_id);
    free(d);
}

/* ---- queries ---- */

cg_device *cg_devices_find(cg_devices *d, const char *device_id)
{
    return device_id ? cg_strmap_get(d->by_id, device_id) : NULL;
}

cg_device_request *cg_devices_request(cg_devices *d, const char *request_id, int64_t now_ms)
{
    prune_requests(d, now_ms);
    for (size_t i = 0; i < d->n_requests; i++)
        if (strcmp(d->requests[i]->request_id, request_id) == 0) return d->requests[i];
    return NULL;
}

bool cg_device_approved(const cg_device *dev, cg_device_role role, const json_t *scopes)
{
    if (!dev || !cg_json_array_has_string(dev->roles, role_names[role])) return false;
    return role != CG_DEVICE_ROLE_OPERATOR || cg_scopes_within(scopes, dev->scopes);
}

const cg_device_token *cg_device_token_check(const cg_device *dev, cg_device_role role,
                                             const char *token)
{
    if (!dev || !token || !*token) return NULL;
    const cg_device_token *t = &dev->tokens[role];
    if (!t->present || t->revoked_at_ms) return NULL;
    size_t len = strlen(t->token);
    if (strlen(token) != len || CRYPTO_memcmp(t->token, token, len) != 0) return NULL;
    return t;
}

/* ---- connect-time changes ---- */

static const char *client_string(const json_t *client, const char *key)
{
    const char *s = json_string_value(json_object_get(client, key));
    return s && *s ? s : NULL;
}

/* The device's client metadata, from what it said at connect. */
static void set_meta(cg_device *dev, const json_t *client)
{
    static const struct {
        const char *from, *to;
    } keys[] = {{"id", "clientId"},
                {"mode", "clientMode"},
                {"platform", "platform"},
                {"deviceFamily", "deviceFamily"},
                {"displayName", "displayName"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = client_string(client, keys[i].from);
        if (v) json_object_set_new(dev->meta, keys[i].to, json_stringn(v, strnlen(v, 256)));
    }
}

static void issue_token(cg_device *dev, cg_device_role role, int64_t now_ms)
{
    cg_device_token *t = &dev->tokens[role];
    bool existed = t->present;
    int64_t created = existed ? t->created_at_ms : now_ms;
    token_clear(t);
    cg_device_token_new(t->token);
    t->present = true;
    t->scopes = role == CG_DEVICE_ROLE_OPERATOR ? json_deep_copy(dev->scopes) : json_array();
    t->created_at_ms = created;
    t->rotated_at_ms = existed ? now_ms : 0;
}

/* The known device, or a new one for the claim; NULL when the registry is full. */
static cg_device *device_for_claim(cg_devices *d, const cg_device_claim *claim, int64_t now_ms)
{
    cg_device *dev = cg_devices_find(d, claim->device_id);
    if (dev || d->n_devices >= CG_DEVICES_MAX) return dev;
    dev = cg_xcalloc(1, sizeof *dev);
    snprintf(dev->id, sizeof dev->id, "%s", claim->device_id);
    dev->public_key = cg_strdup(claim->public_key);
    dev->roles = json_array();
    dev->scopes = json_array();
    dev->meta = json_object();
    dev->created_at_ms = now_ms;
    add_device(d, dev);
    return dev;
}

/* Adds the claim's role and scopes to the device's approval. */
static void widen_approval(cg_device *dev, cg_device_role role, const json_t *scopes)
{
    json_t *roles = json_array();
    json_array_append_new(roles, json_string(role_names[role]));
    json_t *merged = string_union(dev->roles, roles);
    json_decref(roles);
    json_decref(dev->roles);
    dev->roles = merged;
    if (role == CG_DEVICE_ROLE_OPERATOR) {
        merged = string_union(dev->scopes, scopes);
        json_decref(dev->scopes);
        dev->scopes = merged;
    }
}

cg_device *cg_devices_approve_silent(cg_devices *d, const cg_device_claim *claim, int64_t now_ms,
                                     cg_devices_done done, void *data)
{
    cg_device *dev = device_for_claim(d, claim, now_ms);
    if (!dev) return NULL;
    widen_approval(dev, claim->role, claim->scopes);
    set_meta(dev, claim->client);
    json_object_set_new(dev->meta, "approvedVia", json_string("silent"));
    dev->approved_at_ms = now_ms;
    issue_token(dev, claim->role, now_ms);
    dev->last_seen_at_ms = now_ms;
    snprintf(dev->last_seen_reason, sizeof dev->last_seen_reason, "connect");
    write_job *j = job_new(done, data);
    job_save_device(j, dev);
    /* An open request of this device is answered by this approval. */
    for (size_t i = 0; i < d->n_requests;) {
        if (strcmp(d->requests[i]->device_id, dev->id) != 0) {
            i++;
            continue;
        }
        job_delete_request(j, d->requests[i]->request_id);
        drop_request_at(d, i);
    }
    job_submit(d, j);
    return dev;
}

bool cg_devices_ensure_token(cg_devices *d, cg_device *dev, cg_device_role role, int64_t now_ms,
                             cg_devices_done done, void *data)
{
    const cg_device_token *t = &dev->tokens[role];
    if (t->present && !t->revoked_at_ms) return false;
    issue_token(dev, role, now_ms);
    write_job *j = job_new(done, data);
    job_save_device(j, dev);
    job_submit(d, j);
    return true;
}

void cg_devices_seen(cg_devices *d, cg_device *dev, const json_t *client, const char *reason,
                     int64_t now_ms)
{
    set_meta(dev, client);
    dev->last_seen_at_ms = now_ms;
    snprintf(dev->last_seen_reason, sizeof dev->last_seen_reason, "%s", reason);
    /* Every connect passes here: only the columns it changed, not the whole device. */
    write_job *j = job_new(NULL, NULL);
    cg_store_stmt *st = job_add(j, "UPDATE devices SET meta = ?2, last_seen_at_ms = ?3, "
                                   "last_seen_reason = ?4 WHERE device_id = ?1");
    cg_store_arg_text(st, dev->id);
    arg_json(st, dev->meta);
    arg_int(st, dev->last_seen_at_ms);
    cg_store_arg_text(st, dev->last_seen_reason);
    job_submit(d, j);
}

/* The public pending entry for a claim (DevicePairRequestedEvent). */
static json_t *request_entry(const char *request_id, const cg_device_claim *claim,
                             const json_t *roles, const json_t *scopes, bool is_repair,
                             int64_t now_ms)
{
    json_t *e = json_pack("{s:s, s:s, s:s}", "requestId", request_id, "deviceId", claim->device_id,
                          "publicKey", claim->public_key);
    static const struct {
        const char *from, *to;
    } keys[] = {{"displayName", "displayName"},
                {"platform", "platform"},
                {"deviceFamily", "deviceFamily"},
                {"id", "clientId"},
                {"mode", "clientMode"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = client_string(claim->client, keys[i].from);
        if (v) json_object_set_new(e, keys[i].to, json_stringn(v, strnlen(v, 256)));
    }
    json_object_set_new(e, "role", json_string(role_names[claim->role]));
    json_object_set_new(e, "roles", json_deep_copy(roles));
    json_object_set_new(e, "scopes", json_deep_copy(scopes));
    if (claim->remote_ip && *claim->remote_ip && !cg_addr_is_loopback(claim->remote_ip))
        json_object_set_new(e, "remoteIp", json_string(claim->remote_ip));
    json_object_set_new(e, "silent", json_false());
    json_object_set_new(e, "isRepair", json_boolean(is_repair));
    json_object_set_new(e, "ts", json_integer(now_ms));
    return e;
}

cg_device_request *cg_devices_request_pairing(cg_devices *d, const cg_device_claim *claim,
                                              int64_t now_ms, bool *created, cg_devices_done done,
                                              void *data)
{
    prune_requests(d, now_ms);
    cg_device_request *open = NULL;
    for (size_t i = 0; i < d->n_requests; i++)
        if (strcmp(d->requests[i]->device_id, claim->device_id) == 0) open = d->requests[i];
    json_t *want_roles = json_pack("[s]", role_names[claim->role]);
    json_t *want_scopes =
        claim->role == CG_DEVICE_ROLE_OPERATOR ? json_deep_copy(claim->scopes) : json_array();
    if (open) {
        const json_t *roles = json_object_get(open->entry, "roles");
        const json_t *scopes = json_object_get(open->entry, "scopes");
        bool covered = cg_json_array_has_string(roles, role_names[claim->role]) &&
                       cg_scopes_within(want_scopes, scopes);
        if (covered) {
            json_decref(want_roles);
            json_decref(want_scopes);
            *created = false;
            return open;
        }
        json_t *r = string_union(roles, want_roles), *s = string_union(scopes, want_scopes);
        json_decref(want_roles);
        json_decref(want_scopes);
        want_roles = r;
        want_scopes = s;
    } else if (d->n_requests >= CG_DEVICE_REQUESTS_MAX) {
        json_decref(want_roles);
        json_decref(want_scopes);
        return NULL;
    }
    if (!open) {
        open = cg_xcalloc(1, sizeof *open);
        cg_uuid4(open->request_id);
        snprintf(open->device_id, sizeof open->device_id, "%s", claim->device_id);
        add_request(d, open);
    }
    json_decref(open->entry);
    open->entry = request_entry(open->request_id, claim, want_roles, want_scopes,
                                cg_devices_find(d, claim->device_id) != NULL, now_ms);
    open->ts = now_ms;
    json_decref(want_roles);
    json_decref(want_scopes);
    write_job *j = job_new(done, data);
    job_save_request(j, open);
    job_submit(d, j);
    *created = true;
    return open;
}

/* ---- operator actions ---- */

static size_t request_index(cg_devices *d, const char *request_id)
{
    for (size_t i = 0; i < d->n_requests; i++)
        if (strcmp(d->requests[i]->request_id, request_id) == 0) return i;
    return (size_t)-1;
}

const char *cg_devices_approve(cg_devices *d, const char *request_id, const json_t *caller_scopes,
                               int64_t now_ms, cg_device_approval *out, char *err, size_t errlen,
                               cg_devices_done done, void *data)
{
    prune_requests(d, now_ms);
    size_t idx = request_index(d, request_id);
    if (idx == (size_t)-1) return "unknown requestId";
    cg_device_request *r = d->requests[idx];
    const json_t *roles = json_object_get(r->entry, "roles");
    const json_t *scopes = json_object_get(r->entry, "scopes");
    cg_device *existing = cg_devices_find(d, r->device_id);
    /* The approver must hold every operator scope the device ends up with. */
    if (cg_json_array_has_string(roles, "operator")) {
        json_t *granted = string_union(existing ? existing->scopes : NULL, scopes);
        const char *missing = cg_scopes_missing(granted, caller_scopes);
        if (missing) {
            snprintf(err, errlen, "missing scope: %s", missing);
            json_decref(granted);
            return err;
        }
        json_decref(granted);
    }
    cg_device_claim claim = {.device_id = r->device_id,
                             .public_key =
                                 json_string_value(json_object_get(r->entry, "publicKey")),
                             .scopes = scopes};
    json_t *client = json_object();
    static const struct {
        const char *from, *to;
    } keys[] = {{"clientId", "id"},
                {"clientMode", "mode"},
                {"platform", "platform"},
                {"deviceFamily", "deviceFamily"},
                {"displayName", "displayName"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(r->entry, keys[i].from);
        if (json_is_string(v)) json_object_set(client, keys[i].to, v);
    }
    cg_device *dev = device_for_claim(d, &claim, now_ms);
    if (!dev) {
        json_decref(client);
        return "too many paired devices";
    }
    set_meta(dev, client);
    json_decref(client);
    size_t i;
    json_t *v;
    json_array_foreach(roles, i, v)
    {
        int role = cg_device_role_parse(json_string_value(v));
        if (role < 0) continue;
        widen_approval(dev, role, scopes);
    }
    json_array_foreach(roles, i, v)
    {
        int role = cg_device_role_parse(json_string_value(v));
        if (role >= 0) issue_token(dev, role, now_ms);
    }
    json_object_set_new(dev->meta, "approvedVia", json_string("owner"));
    dev->approved_at_ms = now_ms;
    out->device = dev;
    snprintf(out->request_id, sizeof out->request_id, "%s", r->request_id);
    write_job *j = job_new(done, data);
    job_save_device(j, dev);
    job_delete_request(j, r->request_id);
    drop_request_at(d, idx);
    job_submit(d, j);
    return NULL;
}

const char *cg_devices_reject(cg_devices *d, const char *request_id, int64_t now_ms,
                              char device_id[65], cg_devices_done done, void *data)
{
    prune_requests(d, now_ms);
    size_t idx = request_index(d, request_id);
    if (idx == (size_t)-1) return "unknown requestId";
    memcpy(device_id, d->requests[idx]->device_id, 65);
    write_job *j = job_new(done, data);
    job_delete_request(j, request_id);
    drop_request_at(d, idx);
    job_submit(d, j);
    return NULL;
}

const char *cg_devices_remove(cg_devices *d, const char *device_id, cg_devices_done done,
                              void *data)
{
    cg_device *dev = cg_devices_find(d, device_id);
    if (!dev) return "unknown deviceId";
    write_job *j = job_new(done, data);
    cg_store_stmt *s = job_add(j, "DELETE FROM devices WHERE device_id = ?1");
    cg_store_arg_text(s, dev->id);
    s = job_add(j, "DELETE FROM device_tokens WHERE device_id = ?1");
    cg_store_arg_text(s, dev->id);
    s = job_add(j, "DELETE FROM device_pair_requests WHERE device_id = ?1");
    cg_store_arg_text(s, dev->id);
    for (size_t i = 0; i < d->n_requests;) {
        if (strcmp(d->requests[i]->device_id, dev->id) == 0)
            drop_request_at(d, i);
        else
            i++;
    }
    drop_device(d, dev);
    job_submit(d, j);
    return NULL;
}

const char *cg_devices_rename(cg_devices *d, const char *device_id, const char *label,
                              cg_devices_done done, void *data)
{
    cg_device *dev = cg_devices_find(d, device_id);
    if (!dev) return "unknown deviceId";
    free(dev->label);
    dev->label = cg_strdup(label);
    write_job *j = job_new(done, data);
    job_save_device(j, dev);
    job_submit(d, j);
    return NULL;
}

const char *cg_devices_rotate(cg_devices *d, const char *device_id, cg_device_role role,
                              const json_t *scopes, const json_t *caller_scopes, int64_t now_ms,
                              char *err, size_t errlen, cg_devices_done done, void *data)
{
    cg_device *dev = cg_devices_find(d, device_id);
    if (!dev || !cg_json_array_has_string(dev->roles, role_names[role]))
        return "device token rotation denied";
    cg_device_token *t = &dev->tokens[role];
    json_t *want = json_deep_copy(scopes                            ? scopes
                                  : t->present && t->scopes         ? t->scopes
                                  : role == CG_DEVICE_ROLE_OPERATOR ? dev->scopes
                                                                    : NULL);
    if (!want) want = json_array();
    bool within = role == CG_DEVICE_ROLE_OPERATOR ? cg_scopes_within(want, dev->scopes)
                                                  : json_array_size(want) == 0;
    /* The caller must hold what the token grants now and what it will grant. */
    const char *missing = !caller_scopes            ? NULL
                          : t->present && t->scopes ? cg_scopes_missing(t->scopes, caller_scopes)
                                                    : NULL;
    if (!missing && caller_scopes) missing = cg_scopes_missing(want, caller_scopes);
    if (!within || missing) {
        json_decref(want);
        return "device token rotation denied";
    }
    issue_token(dev, role, now_ms);
    json_decref(t->scopes);
    t->scopes = want;
    t->rotated_at_ms = now_ms;
    (void)err;
    (void)errlen;
    write_job *j = job_new(done, data);
    job_save_device(j, dev);
    job_submit(d, j);
    return NULL;
}

const char *cg_devices_revoke(cg_devices *d, const char *device_id, cg_device_role role,
                              const json_t *caller_scopes, int64_t now_ms, char *err, size_t errlen,
                              cg_devices_done done, void *data)
{
    cg_device *dev = cg_devices_find(d, device_id);
    cg_device_token *t = dev ? &dev->tokens[role] : NULL;
    if (!t || !t->present || !cg_json_array_has_string(dev->roles, role_names[role]))
        return "device token revocation denied";
    if (caller_scopes && cg_scopes_missing(t->scopes, caller_scopes))
        return "device token revocation denied";
    (void)err;
    (void)errlen;
    t->revoked_at_ms = now_ms;
    write_job *j = job_new(done, data);
    job_save_device(j, dev);
    job_submit(d, j);
    return NULL;
}

/* ---- JSON views ---- */

json_t *cg_device_json(const cg_device *dev)
{
    json_t *o = json_pack("{s:s, s:s}", "deviceId", dev->id, "publicKey", dev->public_key);
    const char *k;
    json_t *v;
    json_object_foreach(dev->meta, k, v) json_object_set(o, k, v);
    if (dev->label) json_object_set_new(o, "operatorLabel", json_string(dev->label));
    size_t n_roles = json_array_size(dev->roles);
    if (n_roles) json_object_set(o, "role", json_array_get(dev->roles, n_roles - 1));
    json_object_set(o, "roles", dev->roles);
    json_object_set(o, "scopes", dev->scopes);
    json_object_set_new(o, "createdAtMs", json_integer(dev->created_at_ms));
    if (dev->approved_at_ms)
        json_object_set_new(o, "approvedAtMs", json_integer(dev->approved_at_ms));
    if (dev->last_seen_at_ms) {
        json_object_set_new(o, "lastSeenAtMs", json_integer(dev->last_seen_at_ms));
        json_object_set_new(o, "lastSeenReason", json_string(dev->last_seen_reason));
    }
    json_t *tokens = json_array();
    for (int r = 0; r < CG_DEVICE_ROLE_COUNT; r++) {
        const cg_device_token *t = &dev->tokens[r];
        if (!t->present) continue;
        json_t *e = json_pack("{s:s, s:O, s:I}", "role", role_names[r], "scopes", t->scopes,
                              "createdAtMs", (json_int_t)t->created_at_ms);
        if (t->rotated_at_ms) json_object_set_new(e, "rotatedAtMs", json_integer(t->rotated_at_ms));
        if (t->revoked_at_ms) json_object_set_new(e, "revokedAtMs", json_integer(t->revoked_at_ms));
        json_array_append_new(tokens, e);
    }
    if (json_array_size(tokens))
        json_object_set_new(o, "tokens", tokens);
    else
        json_decref(tokens);
    return o;
}

json_t *cg_devices_list_json(cg_devices *d, int64_t now_ms,
                             bool (*connected)(const char *device_id, void *data), void *data)
{
    prune_requests(d, now_ms);
    json_t *pending = json_array(), *paired = json_array();
    for (size_t i = 0; i < d->n_requests; i++)
        json_array_append(pending, d->requests[i]->entry);
    for (size_t i = 0; i < d->n_devices; i++) {
        json_t *e = cg_device_json(d->devices[i]);
        json_object_set_new(e, "connected", json_boolean(connected(d->devices[i]->id, data)));
        json_array_append_new(paired, e);
    }
    return json_pack("{s:o, s:o}", "pending", pending, "paired", paired);
}
