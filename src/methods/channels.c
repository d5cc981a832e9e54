/* Channels: delivery to a channel's recipient. No channel is built in yet, so every
 * delivery is refused with the reason; the Telegram channel replaces this. */
#include "methods/channels.h"

#include <stdio.h>

#include "proto/frame.h"

void cg_channels_deliver(cg_gateway *gw, const char *channel, const char *to, const char *text,
                         cg_channel_sent_fn done, void *data)
{
    (void)gw, (void)to, (void)text;
    char msg[160];
    snprintf(msg, sizeof msg, "channel not configured: %s", channel ? channel : "last");
    json_t *error = cg_error_new(CG_ERR_UNAVAILABLE, msg, NULL);
    done(NULL, error, data);
    json_decref(error);
}
