/* Tailscale Serve identity: which requests Tailscale proxied, and whether the login it
 * names is true.
 *
 * With gateway.tailscale.mode serve or funnel the gateway listens on one more socket, a
 * loopback port that only `tailscale serve|funnel` is told about (gateway/
 * tailscale_serve.c); connections accepted there carry their ingress. Such a request
 * is attributed to the client Tailscale names in X-Forwarded-For when it came from
 * loopback with X-Forwarded-For, -Proto and -Host (as Tailscale's proxy sends them);
 * otherwise it is refused at the upgrade, as OpenClaw refuses unattributable proxy
 * traffic. On the gateway's own listeners nothing here applies.
 *
 * A serve request that also carries Tailscale-User-Login, with gateway.auth
 * .allowTailscale on, is a candidate for Tailscale auth: `tailscale whois --json <client
 * ip>` (async, a child process with a pipe; output bounded, killed after a timeout) must
 * name the same login (ASCII case-insensitively, both trimmed, as OpenClaw compares).
 * Answers are cached per IP: a login, or an answer without one, for 60 s; a failure for
 * 5 s (OpenClaw's TTLs). The cache is bounded, and concurrent checks of one IP share one
 * child. Funnel requests come from the public internet and are never candidates.
 *
 * Everything runs on the loop thread that owns the cg_tailscale. */
#ifndef CG_AUTH_TAILSCALE_H
#define CG_AUTH_TAILSCALE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config/config.h"

#define CG_TAILSCALE_CACHE_TTL_MS 60000
#define CG_TAILSCALE_ERROR_TTL_MS 5000
#define CG_TAILSCALE_WHOIS_TIMEOUT_MS 5000
#define CG_TAILSCALE_WHOIS_MAX_OUTPUT 200000 /* bytes; OpenClaw's maxBuffer */
#define CG_TAILSCALE_MAX_ENTRIES 1024        /* cached IPs */
#define CG_TAILSCALE_MAX_LOOKUPS 32          /* whois children at once */

/* Which listener a connection came in on. */
typedef enum {
    CG_INGRESS_DIRECT,           /* the gateway's own listeners */
    CG_INGRESS_TAILSCALE_SERVE,  /* the loopback port `tailscale serve` proxies to */
    CG_INGRESS_TAILSCALE_FUNNEL, /* the same for `tailscale funnel` */
} cg_ingress;

/* What the upgrade request said, as the Tailscale checks need it. */
typedef struct cg_tailscale_headers {
    cg_ingress ingress;
    const char *peer_ip;         /* the socket peer, textual */
    const char *forwarded_for;   /* X-Forwarded-For or NULL */
    const char *forwarded_proto; /* X-Forwarded-Proto or NULL */
    const char *forwarded_host;  /* X-Forwarded-Host or NULL */
    const char *user_login;      /* Tailscale-User-Login or NULL */
    const char *funnel_request;  /* Tailscale-Funnel-Request or NULL */
} cg_tailscale_headers;

/* For a request that came in through Tailscale (ingress not DIRECT): whether Tailscale's
 * proxy sent it, and the client it names. True when the peer is loopback, the three
 * X-Forwarded headers are present, the rightmost X-Forwarded-For hop that is not
 * loopback is a readable address (written to out), and the Tailscale-Funnel-Request
 * marker fits the ingress (serve: absent; funnel: absent or "?1"). False otherwise, and
 * for a DIRECT request: the caller answers 403. */
bool cg_tailscale_client_ip(const cg_tailscale_headers *h, char *out, size_t outlen);

/* Whether this upgrade request may authenticate as its Tailscale login: a serve request
 * Tailscale's proxy sent (cg_tailscale_client_ip), with a non-empty Tailscale-User-Login,
 * and gateway.auth.allowTailscale. Whether the connect presented a shared secret
 * (which skips the Tailscale check, as in OpenClaw) is the caller's part. */
bool cg_tailscale_candidate(const cg_tailscale_headers *h, const cg_settings *s);

typedef enum {
    CG_TAILSCALE_OK,                /* whois names the login the header claims */
    CG_TAILSCALE_UNAVAILABLE,       /* tailscale could not be run: use the configured auth */
    CG_TAILSCALE_WHOIS_FAILED,      /* whois failed, timed out, or named no login */
    CG_TAILSCALE_IDENTITY_MISMATCH, /* whois names another login */
} cg_tailscale_result;

/* The connect refusal for a result: "AUTH_TAILSCALE_WHOIS_FAILED" or
 * "AUTH_TAILSCALE_IDENTITY_MISMATCH" (details.code) and OpenClaw's message for it; NULL
 * for OK and UNAVAILABLE, which refuse nothing. */
const char *cg_tailscale_code(cg_tailscale_result r);
const char *cg_tailscale_message(cg_tailscale_result r);

/* The whois cache and its children; one per gateway. */
typedef struct cg_tailscale cg_tailscale;
cg_tailscale *cg_tailscale_new(uv_loop_t *loop);
/* The gateway's shutdown: kills running whois children with SIGKILL, answers their
 * waiters WHOIS_FAILED (now, from inside this call), and makes later checks that find
 * no cached answer get WHOIS_FAILED at once. */
void cg_tailscale_stop(cg_tailscale *ts);
/* Frees the cache. No child may still run: call after the loop ended (stop, then run the
 * loop until it has no more handles, as the gateway does). */
void cg_tailscale_free(cg_tailscale *ts);

/* login: the login whois gave (borrowed for the call) with OK, else NULL. */
typedef void (*cg_tailscale_done)(cg_tailscale_result r, const char *login, void *data);
typedef struct cg_tailscale_wait cg_tailscale_wait;

/* Checks login_header against `tailscale whois --json <client_ip>` (client_ip from
 * cg_tailscale_client_ip). When the answer is known now (cached, or tailscale cannot be
 * started, or too many children run) done runs before this returns, which returns NULL.
 * Otherwise it returns a wait handle and done runs later on the loop, once, within the
 * whois timeout. The handle is valid until done starts or until cg_tailscale_cancel.
 * Both strings are copied. */
cg_tailscale_wait *cg_tailscale_verify(cg_tailscale *ts, const char *client_ip,
                                       const char *login_header, cg_tailscale_done done,
                                       void *data);
/* The caller no longer wants the answer (its connection closed): done will not run and
 * the handle is freed. The whois child goes on and its answer is still cached. */
void cg_tailscale_cancel(cg_tailscale_wait *w);

#endif
