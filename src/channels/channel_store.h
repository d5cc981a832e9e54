/* Writes of the channel modules (telegram offsets, pairing requests, approved senders):
 * a statement batch handed to the state store's writer thread, its result logged when it
 * fails and passed on to done. The batch's contents are taken over (the struct is
 * copied and cleared), so the caller can build one on the stack. */
#ifndef CG_CHANNELS_CHANNEL_STORE_H
#define CG_CHANNELS_CHANNEL_STORE_H

#include "store/store.h"

/* done may be NULL. */
void cg_channel_store_write(cg_store *st, cg_store_batch *batch, cg_store_done_fn done, void *data);

#endif
