/* DM pairing for a channel, as OpenClaw's (src/pairing/pairing-store.ts): an unknown
 * sender who writes to the bot gets a pairing code; an operator approves the request
 * (channels.pairing.approve) and the sender is allowed from then on, or dismisses it.
 *
 * Codes: 8 characters from "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" (no 0/O, 1/I), drawn
 * from OpenSSL's RAND_bytes, unique among the pending ones. A request expires an hour
 * after it was made; at most CG_PAIRING_PENDING_MAX are pending per account (a sender
 * beyond that gets no code until one is resolved or expires). A sender who writes again
 * while pending keeps the code (lastSeenAt moves). Requests are named on the wire by an
 * opaque id: base64url(sha256(channel NUL account NUL sender NUL createdAt)), 32
 * characters, so listing does not expose the codes.
 *
 * State: the pending requests (table channel_pairing) and the approved senders
 * (channel_allow) are loaded once and kept in memory; every change is written through
 * to the state store. All calls on the loop thread. */
#ifndef CG_CHANNELS_PAIRING_H
#define CG_CHANNELS_PAIRING_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define CG_PAIRING_CODE_LEN 8
#define CG_PAIRING_PENDING_MAX 3
#define CG_PAIRING_TTL_MS (3600 * 1000)
#define CG_PAIRING_ALLOW_MAX 10000 /* approved senders per channel */

typedef struct cg_pairing cg_pairing;

/* Loads the channel's requests and approved senders (blocking read: at attach). NULL
 * with err on failure. */
cg_pairing *cg_pairing_open(cg_store *st, const char *channel, char *err, size_t errlen);
void cg_pairing_free(cg_pairing *p);

/* Whether sender_id was approved through pairing. */
bool cg_pairing_allowed(const cg_pairing *p, const char *sender_id);

/* An unknown sender wrote: their code (borrowed until the next call), creating the
 * request when there is none (*created true). NULL when the pending cap is reached. meta
 * (borrowed, string values: username, name, chatId ...) is kept with the request. */
const char *cg_pairing_request(cg_pairing *p, const char *sender_id, const json_t *meta,
                               int64_t now_ms, bool *created);

/* The pending requests, oldest first: [{requestId, senderId, code, metadata, createdAt,
 * lastSeenAt, expiresAt}] (ISO 8601 times). New ref. */
json_t *cg_pairing_list(cg_pairing *p, int64_t now_ms);

/* Approves (the sender joins the allowed) or dismisses the request named request_id
 * (its opaque id) or, with by_code, its code (case-insensitive). Returns false when no
 * such request is pending; else copies the sender id to sender (bound senderlen) and
 * done runs once the change is durable (may be NULL). */
bool cg_pairing_resolve(cg_pairing *p, const char *id_or_code, bool by_code, bool approve,
                        int64_t now_ms, char *sender, size_t senderlen, cg_store_done_fn done,
                        void *data);

#endif
