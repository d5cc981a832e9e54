/* The connect handshake's steps (see handshake.c), pure over their inputs so they are
 * unit-tested directly. gateway/connect.c runs them in order against a connection. */
#ifndef CG_PROTO_HANDSHAKE_H
#define CG_PROTO_HANDSHAKE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "auth/device_sig.h"
#include "config/config.h"
#include "proto/scopes.h"

#define CG_MAX_PROTOCOL 4

/* The protocol version to speak: min(max_protocol, 4) when that is at least
 * max(min_protocol, 1); otherwise -1 (PROTOCOL_MISMATCH). */
int cg_negotiate_protocol(json_int_t min_protocol, json_int_t max_protocol);

/* Checks connect params for a negotiated version: strictly against ConnectParams for
 * 3 and 4, loosely (the seed's shape) for 1 and 2. 0, or -1 with what was wrong. */
int cg_connect_params_check(const json_t *params, int protocol, char *err, size_t errlen);

/* The steps, in order. Each returns NULL, or the ErrorShape to answer (new ref), after
 * which the connection closes 1008 (1002 for a protocol mismatch). */
/* A request frame for `connect` with integer min/maxProtocol. *id is set whenever the
 * frame had a usable string id; *params borrowed from msg. */
json_t *cg_connect_check_frame(const json_t *msg, const char **id, json_t **params);
json_t *cg_connect_negotiate(const json_t *params, int *protocol);
json_t *cg_connect_check_params(const json_t *params, int protocol);
json_t *cg_connect_check_origin(const char *origin, const char *host, const cg_settings *s);
/* The refusal during a failed-auth lockout. */
json_t *cg_connect_rate_limited(int64_t retry_after_ms);
/* How a connect proved itself. */
typedef enum {
    CG_CRED_OPEN,         /* auth mode none */
    CG_CRED_SHARED,       /* the shared token or password */
    CG_CRED_BYPASS,       /* no credential, direct loopback */
    CG_CRED_DEVICE_TOKEN, /* a device token, still to be checked against the registry */
    CG_CRED_TAILSCALE,    /* a tailnet user vouched for by tailscale whois */
} cg_credential;

/* The credential, in the order: auth.token (auth.password in password mode)
 * equal to the shared secret is the shared secret; otherwise, with a device block,
 * auth.deviceToken (else auth.token) is a device token for the caller to check
 * (*device_token, borrowed from params); otherwise a wrong secret is refused
 * (*mismatch: it counts toward the rate limit) and no credential may use the local
 * bypass. */
json_t *cg_connect_authenticate(const cg_http_facts *facts, const json_t *params,
                                const cg_settings *s, cg_credential *kind,
                                const char **device_token, bool *mismatch);
/* A string of the connect params' client object ("id", "mode", ...), or NULL. */
const char *cg_connect_client_field(const json_t *params, const char *key);

/* A refused credential, as the real gateway words it for this kind of client (CLI,
 * Control UI, other; `local`: a direct loopback peer), with details {code, authReason,
 * canRetryWithDeviceToken, recommendedNextStep}. */
typedef enum {
    CG_AUTH_FAIL_TOKEN_MISSING,
    CG_AUTH_FAIL_TOKEN_MISMATCH,
    CG_AUTH_FAIL_PASSWORD_MISSING,
    CG_AUTH_FAIL_PASSWORD_MISMATCH,
    CG_AUTH_FAIL_DEVICE_TOKEN_MISMATCH,
    CG_AUTH_FAIL_SCOPE_MISMATCH,
} cg_auth_failure;
json_t *cg_connect_auth_failure(cg_auth_failure reason, const json_t *params, bool local);
/* Role (operator by default, or node) and the granted operator scope bits. */
json_t *cg_connect_role(const json_t *params, unsigned *role, unsigned *scopes);

/* What hello-ok reports. */
typedef struct cg_hello_inputs {
    int protocol;
    const char *conn_id;
    const json_t *methods;      /* features.methods (v1/v2: capabilities) */
    const json_t *events;       /* features.events */
    const json_t *capabilities; /* features.capabilities, or NULL */
    const json_t *health;       /* snapshot.health */
    const json_t *presence;     /* snapshot.presence */
    int64_t presence_version, health_version;
    uint64_t uptime_ms;
    unsigned role, scopes;
    const char *device_token; /* the device's token for the role, or NULL */
    int64_t device_token_issued_at_ms;
    int64_t max_payload_bytes, max_buffered_bytes, tick_interval_ms;
} cg_hello_inputs;

/* The hello-ok payload in the negotiated shape (v3/v4: HelloOk; v1/v2: the seed's). */
json_t *cg_hello_ok(const cg_hello_inputs *in);

/* The device identity proof (connect.params.device) against this connection's challenge
 * nonce and the wall clock: NULL when there is no device (proof->version 0) or its proof
 * holds (*proof filled), else the real gateway's refusal, INVALID_REQUEST with the
 * message and details {code: DEVICE_AUTH_*, reason} (then close 1008 with the message). */
json_t *cg_connect_verify_device(const json_t *params, const char *nonce, int64_t now_ms,
                                 cg_device_proof *proof);

#endif
