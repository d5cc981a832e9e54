/* Where the browser may go: OpenClaw's navigation policy (browser.ssrfPolicy).
 *
 * Only http, https and about:blank are navigated to. By default a URL whose host is, or
 * resolves to, a loopback, private, link-local, shared (CGNAT) or otherwise non-public
 * address is refused, as the real gateway refuses it ("browser navigation blocked by
 * policy"): an agent steering the browser must not reach the gateway host's own
 * services or the LAN. browser.ssrfPolicy.dangerouslyAllowPrivateNetwork (or
 * allowPrivateNetwork) true lifts that; allowedHostnames ("example.internal",
 * "*.corp.example") lets named hosts through. Pure functions; resolving names is the
 * caller's (off the loop). */
#ifndef CG_BROWSER_URL_POLICY_H
#define CG_BROWSER_URL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* The scheme, lowercased, without ':' ("http"); false when the URL has none. */
bool cg_url_scheme(const char *url, char *out, size_t len);
/* The host of an http(s) URL, lowercased, without brackets or port; false when none. */
bool cg_url_host(const char *url, char *out, size_t len);
/* 1 when host is an IP literal of a non-public address, 0 a public one, -1 not a literal. */
int cg_host_literal_private(const char *host);
/* Whether a resolved address is non-public. */
bool cg_addr_private(const struct sockaddr *sa);
/* localhost and *.localhost, which resolve to loopback whatever DNS says. */
bool cg_host_is_localhost(const char *host);
/* Whether host matches one of patterns (exact, or "*.suffix" for any subdomain). */
bool cg_host_in_list(const char *host, char *const *patterns, size_t n);

#endif
