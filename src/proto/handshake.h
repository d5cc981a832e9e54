/* The pure parts of the connect handshake, exposed for unit tests. The handshake
 * itself (cg_handshake_start / cg_handshake_message) is in gateway_int.h. */
#ifndef CG_PROTO_HANDSHAKE_H
#define CG_PROTO_HANDSHAKE_H

#include <jansson.h>
#include <stddef.h>

#define CG_MAX_PROTOCOL 4

/* The protocol version to speak: min(max_protocol, 4) when that is at least
 * max(min_protocol, 1); otherwise -1 (PROTOCOL_MISMATCH). */
int cg_negotiate_protocol(json_int_t min_protocol, json_int_t max_protocol);

/* Checks connect params for a negotiated version: strictly against ConnectParams for
 * 3 and 4, loosely (the seed's shape) for 1 and 2. 0, or -1 with what was wrong. */
int cg_connect_params_check(const json_t *params, int protocol, char *err, size_t errlen);

/* Operator scope bits for the recognized scope names in `scopes` (others dropped). */
unsigned cg_scope_bits(const json_t *scopes);
/* The names of the scope bits, in a fixed order. New ref. */
json_t *cg_scope_names(unsigned bits);

#endif
