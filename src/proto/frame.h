/* Frames on the wire: {type:"req"|"res"|"event"}, and the error shape.
 *
 * Responses and events are assembled as text around a payload that is already
 * serialized, so a cached payload (health, config.get) or a broadcast payload
 * serialized once is never re-encoded per request or per recipient. */
#ifndef CG_PROTO_FRAME_H
#define CG_PROTO_FRAME_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

/* Top-level error codes (exactly the real gateway's). */
#define CG_ERR_INVALID_REQUEST "INVALID_REQUEST"
#define CG_ERR_FORBIDDEN "FORBIDDEN"
#define CG_ERR_UNAVAILABLE "UNAVAILABLE"
#define CG_ERR_NOT_PAIRED "NOT_PAIRED"
#define CG_ERR_APPROVAL_NOT_FOUND "APPROVAL_NOT_FOUND"

/* {code, message[, details]}: an ErrorShape. details consumed (may be NULL). */
json_t *cg_error_new(const char *code, const char *message, json_t *details);
/* The same with details {code: detail_code}. */
json_t *cg_error_coded(const char *code, const char *message, const char *detail_code);

/* {"type":"res","id":ID,"ok":true[,"payload":P]} into out; payload_json may be NULL. */
void cg_frame_res_ok(cg_buf *out, const char *id, const char *payload_json, size_t payload_len);
/* {"type":"res","id":ID,"ok":false,"error":E} into out. */
void cg_frame_res_error(cg_buf *out, const char *id, const json_t *error);
/* StateVersion: how many times presence and health changed. */
typedef struct cg_state_version {
    int64_t presence, health;
} cg_state_version;

/* {"type":"event","event":NAME,"payload":P[,"seq":N][,"stateVersion":{...}]} into out;
 * seq 0 omits it, a NULL state_version too. */
void cg_frame_event(cg_buf *out, const char *event, const char *payload_json, size_t payload_len,
                    uint64_t seq, const cg_state_version *state_version);

/* A request frame's parts, borrowed from the parsed message. Returns 0, or -1 with a
 * message; *id is still set when the frame had a usable string id. */
int cg_frame_parse_req(const json_t *msg, const char **id, const char **method, json_t **params,
                       char *err, size_t errlen);

#endif
