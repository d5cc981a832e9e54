/* A Telegram Bot API client for one bot (channels.telegram), on the libuv loop.
 *
 * Lifecycle: cg_telegram_start checks the token with getMe, then long-polls getUpdates
 * (libcurl multi through agent/http_client.h, never blocking the loop) and hands every
 * text message up through on_message. The update offset is kept in the state store
 * (channel_state, with the bot's id), so a restart neither redelivers nor skips updates.
 *
 * Failures: a 401/404 from getMe or getUpdates means a bad token: polling stops, the
 * status says "unauthorized" with lastError, and nothing is retried until the token
 * changes or the channel is started again. Network errors, timeouts and 5xx back off
 * exponentially with jitter (retry.minDelayMs doubling up to retry.maxDelayMs) and
 * recover by themselves; a 429 waits its retry_after.
 *
 * Sending: cg_telegram_send queues a text for a chat; texts are split at Telegram's
 * 4,096-character limit (on paragraph, then line, then word boundaries when possible)
 * and the parts go out in order, one sendMessage at a time for the whole bot (which keeps
 * a chat's parts ordered and a 429 honoured for all). A part that fails on the network
 * or with 5xx/429 is retried a few times; other errors fail the send. */
#ifndef CG_CHANNELS_TELEGRAM_H
#define CG_CHANNELS_TELEGRAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store/store.h"

#define CG_TELEGRAM_TEXT_LIMIT 4096 /* characters (UTF-16 units) per message */
#define CG_TELEGRAM_SEND_QUEUE_MAX 1024
#define CG_TELEGRAM_TEXT_MAX (1024 * 1024) /* bytes of one text to send, at most */

typedef struct cg_telegram cg_telegram;

typedef struct cg_telegram_conf {
    const char *token;        /* NULL or "": not configured */
    const char *token_source; /* "config", "env", "none" */
    const char *api_root;     /* NULL: https://api.telegram.org */
    int poll_timeout_s;       /* getUpdates long-poll timeout; 0: 30 */
    int64_t min_delay_ms;     /* back-off start; 0: 1000 */
    int64_t max_delay_ms;     /* back-off cap; 0: 30000; both capped at one hour */
} cg_telegram_conf;

/* One inbound text message (borrowed for the callback). */
typedef struct cg_telegram_message {
    const char *chat_id, *chat_type; /* "private", "group", "supergroup", "channel" */
    const char *from_id, *from_username, *from_name;
    const char *text;
    int64_t message_id;
    bool is_group;
    bool mentioned; /* @bot in the text or its entities, or a reply to the bot */
} cg_telegram_message;

typedef struct cg_telegram_callbacks {
    void (*on_message)(cg_telegram *t, const cg_telegram_message *m, void *data);
} cg_telegram_callbacks;

cg_telegram *cg_telegram_new(uv_loop_t *loop, cg_store *store, const cg_telegram_callbacks *cb,
                             void *data);
/* Closes the HTTP handles (the loop must run once more) and fails queued sends. */
void cg_telegram_close(cg_telegram *t);
void cg_telegram_free(cg_telegram *t);

/* Takes new settings (copied). A running bot whose token or API root changed restarts
 * with them; an unauthorized one starts again when its token changed. */
void cg_telegram_configure(cg_telegram *t, const cg_telegram_conf *conf);
/* Starts (getMe, then polling); -1 when no token is configured. Starting a running bot
 * is a no-op; an unauthorized one tries again. */
int cg_telegram_start(cg_telegram *t);
/* Stops polling; queued sends fail with "channel stopped". */
void cg_telegram_stop(cg_telegram *t);
bool cg_telegram_running(const cg_telegram *t);
/* Whether the token was refused (polling stopped until a new token or a start). */
bool cg_telegram_unauthorized(const cg_telegram *t);
/* The account's status (ChannelsStatusResult.channelAccounts item fields). New ref. */
json_t *cg_telegram_status(const cg_telegram *t);

/* done gets the last part's message_id, or error (borrowed). Called exactly once, maybe
 * before this returns (a bot not running, a full queue, an empty, oversized or non-UTF-8 text). */
typedef void (*cg_telegram_sent_fn)(int64_t message_id, const char *error, void *data);
void cg_telegram_send(cg_telegram *t, const char *chat_id, const char *text, int64_t reply_to,
                      cg_telegram_sent_fn done, void *data);

/* The next part of a text to send: skips blanks from *pos, then takes the longest run
 * within limit UTF-16 units, cut at a blank line, else a newline, else a space when the
 * limit falls inside a word (a word longer than the limit is cut where it must be);
 * the blanks at the cut are dropped. false when nothing but blanks is left. *pos moves
 * past the part. */
bool cg_telegram_next_part(const char *text, size_t len, size_t limit, size_t *pos, size_t *start,
                           size_t *part_len);

#endif
