/* Authentication decisions that do not need the network: shared-secret comparison, the
 * local-direct bypass, browser origin checks, trusted proxies and the failed-auth rate
 * limiter. Pure functions over the request facts, so they are unit-tested directly. */
#ifndef CG_AUTH_AUTH_H
#define CG_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"

/* Constant-time equality of two NUL-terminated secrets (time independent of where they
 * differ; lengths are compared through a digest so the length is not leaked either). */
bool cg_secret_equal(const char *expected, const char *given);

/* Whether the textual address (IPv4, IPv6, or IPv4-mapped IPv6) is loopback. */
bool cg_addr_is_loopback(const char *ip);
/* Whether ip matches one of the entries (exact IPs or CIDRs such as 10.0.0.0/8, ::1/128). */
bool cg_addr_in_list(const char *ip, char *const *list, size_t len);

/* What the HTTP upgrade request told us, as the auth checks need it. */
typedef struct cg_http_facts {
    const char *peer_ip;       /* the socket peer, textual */
    const char *host;          /* Host header or NULL */
    const char *origin;        /* Origin header or NULL */
    const char *forwarded_for; /* X-Forwarded-For or NULL */
    const char *real_ip;       /* X-Real-IP or NULL */
} cg_http_facts;

/* An HTTP Authorization header carrying the gateway's shared secret ("Bearer <token>",
 * or the password in password mode; any value in mode none). */
bool cg_http_bearer_ok(const char *authorization, const cg_settings *s);

/* Host header's host part is localhost, 127.0.0.1 or [::1] (any port). */
bool cg_host_is_loopback_name(const char *host_header);

#define CG_CLIENT_IP_UNKNOWN "unknown"

/* The seed's resolveRequestClientIp: the peer, unless the peer is a trusted proxy; then
 * the rightmost X-Forwarded-For hop that is neither loopback nor a trusted proxy (ports
 * and IPv6 brackets stripped), or X-Real-IP when there is no X-Forwarded-For, or the
 * proxy itself when it forwarded neither. It fails closed: an empty, over-long or
 * unparsable X-Forwarded-For entry anywhere in the header, a bad X-Real-IP, or a chain
 * (or an X-Real-IP) of only our own hops makes the client unknown:
 * returns false with out = CG_CLIENT_IP_UNKNOWN, which is never loopback. */
bool cg_client_ip(const cg_http_facts *req, const cg_settings *s, char *out, size_t outlen);

/* The seed's isLocalDirectRequest, with CONTRACT.md's origin rule folded in: the peer
 * and the resolved client are loopback, Host is a loopback name, forwarding headers
 * come only from a trusted proxy, and the origin (if any) is allowed. */
bool cg_is_local_direct(const cg_http_facts *req, const cg_settings *s);

/* Direct loopback as device pairing decides it (the real gateway's rule): a loopback
 * peer, no forwarding headers, and no Origin unless the client is the Control UI or
 * webchat from an allowed origin. The Host header does not matter here. */
bool cg_is_local_for_pairing(const cg_http_facts *req, const char *client_id,
                             const char *client_mode, const cg_settings *s);

/* CONTRACT.md's browser-origin rule: NULL origin is allowed. */
bool cg_origin_allowed(const char *origin, const char *host_header, const cg_settings *s);

/* Failed-authentication limiter, per client address (gateway.auth.rateLimit). */
typedef struct cg_rate_limiter cg_rate_limiter;
cg_rate_limiter *cg_rate_limiter_new(void);
void cg_rate_limiter_free(cg_rate_limiter *rl);
/* 0 when ip may try now; otherwise the milliseconds of lockout left. */
int64_t cg_rate_limiter_check(cg_rate_limiter *rl, const char *ip, const cg_rate_limit *cfg,
                              int64_t now_ms);
/* A mismatch: counts toward the limit (a lockout starts at maxAttempts in windowMs). */
void cg_rate_limiter_fail(cg_rate_limiter *rl, const char *ip, const cg_rate_limit *cfg,
                          int64_t now_ms);
/* A success resets the address. */
void cg_rate_limiter_reset(cg_rate_limiter *rl, const char *ip);
/* Drops entries that have expired; bounded memory under address churn. */
void cg_rate_limiter_sweep(cg_rate_limiter *rl, const cg_rate_limit *cfg, int64_t now_ms);

#endif
