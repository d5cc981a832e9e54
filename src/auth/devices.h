/* The device registry: paired devices (Ed25519 identities), their role tokens, and
 * pending pairing requests (OpenClaw's device pairing).
 *
 * The registry lives in memory (a few hundred devices at most) and every change is
 * written through to the state store (store/store.h): the change is made in memory at
 * once, so the next connect sees it, and the caller's `done` runs on the loop once the
 * write is committed. Whoever answers a client (hello-ok with a new token, an approval)
 * answers from `done`, so nothing is acknowledged before it is durable. A failed write
 * leaves memory ahead of the disk until a restart reloads it; the failure reaches the
 * caller's done and the log.
 *
 * Roles and scopes are kept as the strings clients send ("operator", "node",
 * "operator.read", ...); a device's approval is a set of roles and a set of operator
 * scopes. A device holds at most one token per role, issued with the scopes approved
 * for it: the same token on every connect until it is rotated, revoked, or replaced by
 * the approval of an upgrade. Pending requests expire after 5 minutes (the real
 * gateway's TTL). */
#ifndef CG_AUTH_DEVICES_H
#define CG_AUTH_DEVICES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/device_sig.h"
#include "store/store.h"

#define CG_DEVICE_PENDING_TTL_MS 300000
#define CG_DEVICES_MAX 10000        /* paired devices */
#define CG_DEVICE_REQUESTS_MAX 1000 /* pending requests overall */

typedef enum { CG_DEVICE_ROLE_OPERATOR, CG_DEVICE_ROLE_NODE, CG_DEVICE_ROLE_COUNT } cg_device_role;

typedef struct cg_device_token {
    bool present;
    char token[CG_DEVICE_TOKEN_SIZE];
    json_t *scopes; /* array of scope names */
    int64_t created_at_ms, rotated_at_ms, revoked_at_ms;
} cg_device_token;

typedef struct cg_device {
    char id[65];
    char *public_key;
    char *label;    /* operator-chosen name (device.pair.rename), or NULL */
    json_t *roles;  /* approved roles */
    json_t *scopes; /* approved operator scopes */
    json_t *meta;   /* clientId, clientMode, platform, deviceFamily, displayName, approvedVia */
    int64_t created_at_ms, approved_at_ms, last_seen_at_ms;
    char last_seen_reason[32];
    cg_device_token tokens[CG_DEVICE_ROLE_COUNT];
} cg_device;

typedef struct cg_device_request {
    char request_id[37];
    char device_id[65];
    json_t *entry; /* the public entry (DevicePairRequestedEvent's shape) */
    int64_t ts;
} cg_device_request;

/* What a connecting device asks for. */
typedef struct cg_device_claim {
    const char *device_id, *public_key;
    cg_device_role role;
    const json_t *scopes; /* recognized operator scopes asked for (array) */
    const json_t *client; /* connect params' client object */
    const char *remote_ip;
} cg_device_claim;

typedef struct cg_devices cg_devices;
/* Called on the loop after the change is committed (status 0) or failed (-1). */
typedef void (*cg_devices_done)(int status, const char *error, void *data);

/* Loads the registry from the store (synchronously, at startup). */
cg_devices *cg_devices_open(cg_store *st, char *err, size_t errlen);
void cg_devices_free(cg_devices *d);

const char *cg_device_role_name(cg_device_role role);
/* -1 for anything but "operator" and "node". */
int cg_device_role_parse(const char *name);

cg_device *cg_devices_find(cg_devices *d, const char *device_id);
/* A pending request by id (expired ones are gone). */
cg_device_request *cg_devices_request(cg_devices *d, const char *request_id, int64_t now_ms);

/* Whether the device is approved for the role and every scope asked for. */
bool cg_device_approved(const cg_device *dev, cg_device_role role, const json_t *scopes);
/* Whether `scopes` asks for nothing beyond `allowed` (operator.admin allows all,
 * operator.write allows operator.read). */
bool cg_scopes_within(const json_t *scopes, const json_t *allowed);
/* The first scope of `scopes` that `allowed` does not cover, or NULL. */
const char *cg_scopes_missing(const json_t *scopes, const json_t *allowed);
/* The device's live token for the role when `token` equals it (constant time). */
const cg_device_token *cg_device_token_check(const cg_device *dev, cg_device_role role,
                                             const char *token);

/* Approval without an operator (a direct-loopback device while autoApproveLocal):
 * creates or upgrades the device for the claim (approvedVia "silent") and issues a new
 * token for the role. Returns the device, done after the commit; NULL (done not called)
 * when CG_DEVICES_MAX devices are paired already. */
cg_device *cg_devices_approve_silent(cg_devices *d, const cg_device_claim *claim, int64_t now_ms,
                                     cg_devices_done done, void *data);
/* Makes sure an approved device holds a live token for the role. Returns true and
 * calls done after the commit when one had to be issued; false (done not called) when
 * the device already had one. */
bool cg_devices_ensure_token(cg_devices *d, cg_device *dev, cg_device_role role, int64_t now_ms,
                             cg_devices_done done, void *data);
/* Records a connect (last seen, client metadata); written behind, acknowledged to no
 * one. */
void cg_devices_seen(cg_devices *d, cg_device *dev, const json_t *client, const char *reason,
                     int64_t now_ms);

/* A pairing request for the claim: an open one of this device that already covers the
 * claim is reused (*created false), otherwise one is opened or widened (*created true;
 * announce it). NULL when too many requests are open. done after the commit. */
cg_device_request *cg_devices_request_pairing(cg_devices *d, const cg_device_claim *claim,
                                              int64_t now_ms, bool *created, cg_devices_done done,
                                              void *data);

/* device.pair.* and device.token.*. Each returns NULL on success (done will be called)
 * or a refusal message (static text or written into err; done not called). */
typedef struct cg_device_approval {
    cg_device *device;
    char request_id[37];
} cg_device_approval;
/* caller_scopes: the approver's scopes; approving needs every scope granted. */
const char *cg_devices_approve(cg_devices *d, const char *request_id, const json_t *caller_scopes,
                               int64_t now_ms, cg_device_approval *out, char *err, size_t errlen,
                               cg_devices_done done, void *data);
/* Fills device_id of the rejected request. */
const char *cg_devices_reject(cg_devices *d, const char *request_id, int64_t now_ms,
                              char device_id[65], cg_devices_done done, void *data);
const char *cg_devices_remove(cg_devices *d, const char *device_id, cg_devices_done done,
                              void *data);
const char *cg_devices_rename(cg_devices *d, const char *device_id, const char *label,
                              cg_devices_done done, void *data);
/* scopes NULL: the token's current scopes. caller_scopes NULL: not checked (a role
 * other than operator, where the caller is admin). The new token is in the device. */
const char *cg_devices_rotate(cg_devices *d, const char *device_id, cg_device_role role,
                              const json_t *scopes, const json_t *caller_scopes, int64_t now_ms,
                              char *err, size_t errlen, cg_devices_done done, void *data);
const char *cg_devices_revoke(cg_devices *d, const char *device_id, cg_device_role role,
                              const json_t *caller_scopes, int64_t now_ms, char *err, size_t errlen,
                              cg_devices_done done, void *data);

/* JSON views. */
/* A paired device as device.pair.list shows it (tokens summarized, never the token). */
json_t *cg_device_json(const cg_device *dev);
/* {pending: [...], paired: [...]}; connected(device_id) marks paired entries. */
json_t *cg_devices_list_json(cg_devices *d, int64_t now_ms,
                             bool (*connected)(const char *device_id, void *data), void *data);

#endif
