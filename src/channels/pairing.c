/* DM pairing (pairing.h): the pending requests in a small array (at most
 * CG_PAIRING_PENDING_MAX), the approved senders in a JSON object used as a set, both
 * mirrored to the state store by write-through batches. */
#include "channels/pairing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "channels/channel_store.h"
#include "common/util.h"

#define ACCOUNT_ID "default"
static const char CODE_ALPHABET[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

typedef struct pending {
    char *sender, *request_id;
    char code[CG_PAIRING_CODE_LEN + 1];
    json_t *meta;
    int64_t created_ms, last_seen_ms;
} pending;

struct cg_pairing {
    cg_store *store;
    char *channel;
    pending reqs[CG_PAIRING_PENDING_MAX];
    size_t n;
    json_t *allowed; /* sender id -> true */
};

/* base64url(sha256(channel \0 account \0 sender \0 createdAt)), 32 characters, as
 * OpenClaw's resolveChannelPairingRequestId. */
static char *request_id(const char *channel, const char *sender, int64_t created_ms)
{
    char iso[40];
    cg_iso8601_ms(created_ms, iso, sizeof iso);
    cg_buf in = {0};
    cg_buf_append(&in, channel, strlen(channel) + 1);
    cg_buf_append(&in, ACCOUNT_ID, strlen(ACCOUNT_ID) + 1);
    cg_buf_append(&in, sender, strlen(sender) + 1);
    cg_buf_append(&in, iso, strlen(iso));
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(in.data, in.len, md, &mdlen, EVP_sha256(), NULL) != 1) abort();
    cg_buf_reset(&in);
    char b64[48];
    EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
    for (char *c = b64; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    b64[32] = '\0';
    return cg_strdup(b64);
}

static void pending_clear(pending *r)
{
    free(r->sender);
    free(r->request_id);
    json_decref(r->meta);
    memset(r, 0, sizeof *r);
}

static void remove_at(cg_pairing *p, size_t i)
{
    pending_clear(&p->reqs[i]);
    memmove(&p->reqs[i], &p->reqs[i + 1], (p->n - i - 1) * sizeof p->reqs[0]);
    p->n--;
    memset(&p->reqs[p->n], 0, sizeof p->reqs[0]);
}

static void add_delete(cg_pairing *p, cg_store_batch *b, const char *sender)
{
    cg_store_stmt *s =
        cg_store_batch_add(b, "DELETE FROM channel_pairing WHERE channel = ?1 AND sender_id = ?2");
    cg_store_arg_text(s, p->channel);
    cg_store_arg_text(s, sender);
}

/* Drops expired requests (their deletes go into b). */
static void prune(cg_pairing *p, int64_t now_ms, cg_store_batch *b)
{
    for (size_t i = 0; i < p->n;) {
        if (now_ms - p->reqs[i].created_ms > CG_PAIRING_TTL_MS) {
            add_delete(p, b, p->reqs[i].sender);
            remove_at(p, i);
        } else {
            i++;
        }
    }
}

static void flush(cg_pairing *p, cg_store_batch *b, cg_store_done_fn done, void *data)
{
    if (b->n || done) cg_channel_store_write(p->store, b, done, data);
}

/* ---- loading ---- */

static int load_rows(sqlite3 *db, void *data, char *err, size_t errlen)
{
    cg_pairing *p = data;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT sender_id, code, body, created_at_ms FROM channel_pairing "
                           "WHERE channel = ?1 ORDER BY created_at_ms LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, p->channel, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, CG_PAIRING_PENDING_MAX);
    while (sqlite3_step(st) == SQLITE_ROW) {
        pending *r = &p->reqs[p->n++];
        r->sender = cg_strdup((const char *)sqlite3_column_text(st, 0));
        snprintf(r->code, sizeof r->code, "%s", (const char *)sqlite3_column_text(st, 1));
        json_t *body = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        r->meta = json_incref(json_object_get(body, "meta"));
        if (!json_is_object(r->meta)) {
            json_decref(r->meta);
            r->meta = json_object();
        }
        r->created_ms = sqlite3_column_int64(st, 3);
        r->last_seen_ms = json_integer_value(json_object_get(body, "lastSeenAtMs"));
        if (!r->last_seen_ms) r->last_seen_ms = r->created_ms;
        json_decref(body);
        r->request_id = request_id(p->channel, r->sender, r->created_ms);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT sender_id FROM channel_allow WHERE channel = ?1 LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, p->channel, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, CG_PAIRING_ALLOW_MAX);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_set_new(p->allowed, (const char *)sqlite3_column_text(st, 0), json_true());
    sqlite3_finalize(st);
    return 0;
fail:
    snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    return -1;
}

cg_pairing *cg_pairing_open(cg_store *st, const char *channel, char *err, size_t errlen)
{
    cg_pairing *p = cg_xcalloc(1, sizeof *p);
    p->store = st;
    p->channel = cg_strdup(channel);
    p->allowed = json_object();
    if (cg_store_read(st, load_rows, p, err, errlen) != 0) {
        cg_pairing_free(p);
        return NULL;
    }
    return p;
}

void cg_pairing_free(cg_pairing *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++)
        pending_clear(&p->reqs[i]);
    json_decref(p->allowed);
    free(p->channel);
    free(p);
}

bool cg_pairing_allowed(const cg_pairing *p, const char *sender_id)
{
    return json_object_get(p->allowed, sender_id) != NULL;
}

/* ---- requests ---- */

static void new_code(const cg_pairing *p, char *out)
{
    for (;;) {
        unsigned char r[CG_PAIRING_CODE_LEN];
        if (RAND_bytes(r, sizeof r) != 1) abort();
        for (size_t i = 0; i < CG_PAIRING_CODE_LEN; i++)
            out[i] = CODE_ALPHABET[r[i] % 32]; /* 256 is a multiple of 32: no bias */
        out[CG_PAIRING_CODE_LEN] = '\0';
        bool taken = false;
        for (size_t i = 0; i < p->n; i++)
            taken |= !strcmp(p->reqs[i].code, out);
        if (!taken) return;
    }
}

static void add_upsert(cg_pairing *p, cg_store_batch *b, const pending *r)
{
    cg_store_stmt *s = cg_store_batch_add(
        b, "INSERT INTO channel_pairing(channel, sender_id, code, body, created_at_ms) "
           "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(channel, sender_id) DO UPDATE SET "
           "code = excluded.code, body = excluded.body, created_at_ms = excluded.created_at_ms");
    cg_store_arg_text(s, p->channel);
    cg_store_arg_text(s, r->sender);
    cg_store_arg_text(s, r->code);
    json_t *body =
        json_pack("{s:O, s:I}", "meta", r->meta, "lastSeenAtMs", (json_int_t)r->last_seen_ms);
    cg_store_arg_text_owned(s, json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS));
    json_decref(body);
    cg_store_arg_int(s, r->created_ms);
}

static json_t *string_meta(const json_t *meta)
{
    json_t *out = json_object();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)meta, k, v)
    {
        if (json_is_string(v) && *json_string_value(v)) json_object_set(out, k, (json_t *)v);
    }
    return out;
}

const char *cg_pairing_request(cg_pairing *p, const char *sender_id, const json_t *meta,
                               int64_t now_ms, bool *created)
{
    cg_store_batch b = {0};
    prune(p, now_ms, &b);
    *created = false;
    pending *r = NULL;
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->reqs[i].sender, sender_id)) r = &p->reqs[i];
    if (r) {
        r->last_seen_ms = now_ms;
        json_decref(r->meta);
        r->meta = string_meta(meta);
    } else if (p->n < CG_PAIRING_PENDING_MAX) {
        r = &p->reqs[p->n];
        new_code(p, r->code);
        p->n++;
        r->sender = cg_strdup(sender_id);
        r->meta = string_meta(meta);
        r->created_ms = r->last_seen_ms = now_ms;
        r->request_id = request_id(p->channel, sender_id, now_ms);
        *created = true;
    }
    if (r) add_upsert(p, &b, r);
    flush(p, &b, NULL, NULL);
    return r ? r->code : NULL;
}

json_t *cg_pairing_list(cg_pairing *p, int64_t now_ms)
{
    cg_store_batch b = {0};
    prune(p, now_ms, &b);
    flush(p, &b, NULL, NULL);
    json_t *out = json_array();
    for (size_t i = 0; i < p->n; i++) {
        const pending *r = &p->reqs[i];
        char created[40], seen[40], expires[40];
        cg_iso8601_ms(r->created_ms, created, sizeof created);
        cg_iso8601_ms(r->last_seen_ms, seen, sizeof seen);
        cg_iso8601_ms(r->created_ms + CG_PAIRING_TTL_MS, expires, sizeof expires);
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:s}", "requestId",
                                             r->request_id, "senderId", r->sender, "code", r->code,
                                             "metadata", r->meta, "createdAt", created,
                                             "lastSeenAt", seen, "expiresAt", expires));
    }
    return out;
}

bool cg_pairing_resolve(cg_pairing *p, const char *id_or_code, bool by_code, bool approve,
                        int64_t now_ms, char *sender, size_t senderlen, cg_store_done_fn done,
                        void *data)
{
    cg_store_batch b = {0};
    prune(p, now_ms, &b);
    size_t i = 0;
    while (i < p->n && !(by_code ? !strcasecmp(p->reqs[i].code, id_or_code)
                                 : !strcmp(p->reqs[i].request_id, id_or_code)))
        i++;
    if (i == p->n) {
        flush(p, &b, NULL, NULL);
        return false;
    }
    snprintf(sender, senderlen, "%s", p->reqs[i].sender);
    add_delete(p, &b, p->reqs[i].sender);
    if (approve && json_object_size(p->allowed) < CG_PAIRING_ALLOW_MAX) {
        json_object_set_new(p->allowed, p->reqs[i].sender, json_true());
        cg_store_stmt *s = cg_store_batch_add(
            &b, "INSERT OR REPLACE INTO channel_allow(channel, sender_id, approved_at_ms) "
                "VALUES(?1, ?2, ?3)");
        cg_store_arg_text(s, p->channel);
        cg_store_arg_text(s, p->reqs[i].sender);
        cg_store_arg_int(s, now_ms);
    }
    remove_at(p, i);
    flush(p, &b, done, data);
    return true;
}
