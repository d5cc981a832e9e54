/* Channels (src/methods/channels.c over src/channels): messaging services the assistant
 * answers on, Telegram first. Besides the channels.* methods, the one way to deliver text
 * to a channel's recipient: the `send` method, cron's agentTurn delivery and
 * /hooks/agent's `deliver` all go through cg_channels_deliver. */
#ifndef CG_METHODS_CHANNELS_H
#define CG_METHODS_CHANNELS_H

#include <jansson.h>

#include "gateway/gateway.h"

/* How a delivery ended: error NULL and result {channel, to, messageId, ...} when the
 * channel took it, else error (an ErrorShape) and result NULL. Both borrowed. */
typedef void (*cg_channel_sent_fn)(const json_t *result, const json_t *error, void *data);

/* Sends text to `to` (the channel's chat or user id) on `channel` ("telegram"; NULL or
 * "last" picks the one configured channel). done runs exactly once, possibly before this
 * returns (an unknown or stopped channel is refused at once); data must live until it
 * does. Long texts are split as the channel requires. */
void cg_channels_deliver(cg_gateway *gw, const char *channel, const char *to, const char *text,
                         cg_channel_sent_fn done, void *data);

/* Whether channel names a channel clawgate has (NULL, "last" and "telegram"). */
bool cg_channels_supported(const char *channel);
/* When run_id ends, its reply (or a short failure notice) goes to `to` on `channel`, as
 * the replies to channel messages do: /hooks/agent's deliver. false when that cannot be
 * arranged (an unsupported channel, no recipient, an unknown run). */
bool cg_channels_deliver_reply(cg_gateway *gw, const char *run_id, const char *channel,
                               const char *to);

/* Sets up the channels (Telegram) as gateway data and starts a configured bot (after
 * the run engine). */
void cg_methods_channels_attach(cg_gateway *gw);

#endif
