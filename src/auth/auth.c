/* Authentication decisions over request facts (see auth/auth.h), without the network.
 *
 * Secrets: both sides are hashed with SHA-256 and the digests compared with
 * CRYPTO_memcmp, so neither the position of the first difference nor the length of
 * the expected secret shows in the timing.
 *
 * Addresses are parsed with inet_pton; an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * is treated as the IPv4 address it carries, both for loopback and for CIDR matching,
 * so a dual-stack socket's peer matches "127.0.0.1" or "10.0.0.0/8" entries.
 *
 * Host names: only the literal names localhost, 127.0.0.1 and [::1] count as loopback
 * (case-insensitive, any port). Resolving names would let DNS rebinding in.
 *
 * Origins (CONTRACT.md "Browser origins"): a configured allowedOrigins list is matched
 * exactly (ASCII case-insensitively, as origins are), "*" allowing all; with no list,
 * an origin passes only when it is gateway.publicOrigin or when the origin's host and
 * the Host header are both loopback names. The rate limiter lives in ratelimit.c. */
#include "auth/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool cg_secret_equal(const char *expected, const char *given)
{
    if (!expected || !given) return false;
    unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned int alen = 0, blen = 0;
    if (EVP_Digest(expected, strlen(expected), a, &alen, EVP_sha256(), NULL) != 1) return false;
    if (EVP_Digest(given, strlen(given), b, &blen, EVP_sha256(), NULL) != 1) return false;
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* A parsed address: IPv4 in the first 4 bytes (bits 32), or IPv6 (bits 128). */
typedef struct parsed_addr {
    unsigned char bytes[16];
    int bits;
} parsed_addr;

static bool parse_addr(const char *text, parsed_addr *out)
{
    if (!text) return false;
    if (inet_pton(AF_INET, text, out->bytes) == 1) {
        out->bits = 32;
        return true;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, text, &a6) != 1) return false;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(out->bytes, &a6.s6_addr[12], 4);
        out->bits = 32;
    } else {
        memcpy(out->bytes, a6.s6_addr, 16);
        out->bits = 128;
    }
    return true;
}

bool cg_addr_is_loopback(const char *ip)
{
    parsed_addr a;
    if (!parse_addr(ip, &a)) return false;
    if (a.bits == 32) return a.bytes[0] == 127;
    static const unsigned char v6_loopback[16] = {[15] = 1};
    return memcmp(a.bytes, v6_loopback, 16) == 0;
}

/* Whether the first prefix_bits bits of a and b agree. */
static bool prefix_equal(const unsigned char *a, const unsigned char *b, int prefix_bits)
{
    int whole = prefix_bits / 8, rest = prefix_bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0) return false;
    if (rest == 0) return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* "10.0.0.0/8", "::1/128" or a bare address; false for anything malformed. */
static bool entry_matches(const parsed_addr *ip, const char *entry)
{
    char host[64];
    const char *slash = strchr(entry, '/');
    size_t host_len = slash ? (size_t)(slash - entry) : strlen(entry);
    if (host_len >= sizeof host) return false;
    memcpy(host, entry, host_len);
    host[host_len] = 0;
    parsed_addr net;
    if (!parse_addr(host, &net)) return false;
    int prefix = net.bits;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (slash[1] == 0 || *end != 0 || p < 0) return false;
        /* A mapped network such as ::ffff:10.0.0.0/104 counts its IPv4 bits. */
        if (net.bits == 32 && strchr(host, ':')) p -= 96;
        if (p < 0 || p > net.bits) return false;
        prefix = (int)p;
    }
    return ip->bits == net.bits && prefix_equal(ip->bytes, net.bytes, prefix);
}

bool cg_addr_in_list(const char *ip, char *const *list, size_t len)
{
    parsed_addr a;
    if (!parse_addr(ip, &a)) return false;
    for (size_t i = 0; i < len; i++) {
        if (list[i] && entry_matches(&a, list[i])) return true;
    }
    return false;
}

/* The host of an authority ("host", "host:port", "[v6]", "[v6]:port"), brackets kept,
 * copied into out; false when the port is not digits or the form is broken. */
static bool authority_host(const char *authority, size_t len, char *out, size_t outlen)
{
    size_t host_len;
    if (len > 0 && authority[0] == '[') {
        const char *close = memchr(authority, ']', len);
        if (!close) return false;
        host_len = (size_t)(close - authority) + 1;
    } else {
        const char *colon = memchr(authority, ':', len);
        host_len = colon ? (size_t)(colon - authority) : len;
    }
    if (host_len == 0 || host_len >= outlen) return false;
    if (host_len < len) {
        if (authority[host_len] != ':') return false;
        for (size_t i = host_len + 1; i < len; i++) {
            if (authority[i] < '0' || authority[i] > '9') return false;
        }
    }
    memcpy(out, authority, host_len);
    out[host_len] = 0;
    return true;
}

static bool is_loopback_name(const char *authority, size_t len)
{
    char host[64];
    if (!authority_host(authority, len, host, sizeof host)) return false;
    return strcasecmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
           strcmp(host, "[::1]") == 0;
}

bool cg_host_is_loopback_name(const char *host_header)
{
    return host_header && is_loopback_name(host_header, strlen(host_header));
}

/* The origin's host is a loopback name: "scheme://authority" with no path. */
static bool origin_is_loopback(const char *origin)
{
    const char *sep = strstr(origin, "://");
    if (!sep) return false;
    const char *authority = sep + 3;
    return is_loopback_name(authority, strlen(authority));
}

bool cg_origin_allowed(const char *origin, const char *host_header, const cg_settings *s)
{
    if (!origin) return true;
    if (s->allowed_origins_len > 0) {
        for (size_t i = 0; i < s->allowed_origins_len; i++) {
            const char *allowed = s->allowed_origins[i];
            if (allowed && (strcmp(allowed, "*") == 0 || strcasecmp(allowed, origin) == 0))
                return true;
        }
        return false;
    }
    if (s->public_origin && strcasecmp(s->public_origin, origin) == 0) return true;
    return origin_is_loopback(origin) && cg_host_is_loopback_name(host_header);
}

#define MAX_FORWARDED_ENTRY 64 /* the longest address with a port, with room */

/* One forwarded hop, trimmed, with an optional port stripped ("[v6]:443", "1.2.3.4:80");
 * false when it is empty, over-long or not an address. */
static bool forwarded_address(const char *start, const char *end, char *out, size_t outlen)
{
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t n = (size_t)(end - start);
    if (n == 0 || n >= MAX_FORWARDED_ENTRY || n >= outlen) return false;
    memcpy(out, start, n);
    out[n] = 0;
    parsed_addr a;
    if (parse_addr(out, &a)) return true;
    if (out[0] == '[') {
        char *close = strchr(out, ']');
        if (!close || (close[1] && (close[1] != ':' || !close[2]))) return false;
        for (const char *d = close + 2; close[1] && *d; d++)
            if (*d < '0' || *d > '9') return false;
        *close = 0;
        memmove(out, out + 1, strlen(out + 1) + 1);
        return inet_pton(AF_INET6, out, a.bytes) == 1;
    }
    char *colon = strchr(out, ':');
    if (!colon || strchr(colon + 1, ':') || !colon[1]) return false;
    for (const char *d = colon + 1; *d; d++)
        if (*d < '0' || *d > '9') return false;
    *colon = 0;
    return inet_pton(AF_INET, out, a.bytes) == 1;
}

/* A hop run by us (loopback or a trusted proxy) names no client. */
static bool ours(const char *hop, const cg_settings *s)
{
    return cg_addr_is_loopback(hop) ||
           cg_addr_in_list(hop, s->trusted_proxies, s->trusted_proxies_len);
}

bool cg_client_ip(const cg_http_facts *req, const cg_settings *s, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", req->peer_ip);
    if (!cg_addr_in_list(req->peer_ip, s->trusted_proxies, s->trusted_proxies_len)) return true;
    char hop[MAX_FORWARDED_ENTRY];
    if (req->forwarded_for) {
        /* A header we cannot read in full is not believed at all. */
        for (const char *start = req->forwarded_for;;) {
            const char *end = strchr(start, ',');
            if (!end) end = start + strlen(start);
            if (!forwarded_address(start, end, hop, sizeof hop)) goto unknown;
            if (!*end) break;
            start = end + 1;
        }
        /* From the right: the nearest hop that is neither loopback nor one of our
         * proxies is the client; a chain of only our own hops names none. */
        const char *end = req->forwarded_for + strlen(req->forwarded_for);
        for (;;) {
            const char *start = end;
            while (start > req->forwarded_for && start[-1] != ',')
                start--;
            forwarded_address(start, end, hop, sizeof hop);
            if (!ours(hop, s)) {
                snprintf(out, outlen, "%s", hop);
                return true;
            }
            if (start == req->forwarded_for) break;
            end = start - 1;
        }
    } else if (req->real_ip && forwarded_address(req->real_ip, req->real_ip + strlen(req->real_ip),
                                                 hop, sizeof hop)) {
        /* The same rule as a forwarded chain: only a hop that is not ours names a client. */
        if (!ours(hop, s)) {
            snprintf(out, outlen, "%s", hop);
            return true;
        }
    } else if (!req->real_ip) {
        return true; /* the proxy forwarded nothing: it is the client */
    }
unknown:
    snprintf(out, outlen, "%s", CG_CLIENT_IP_UNKNOWN);
    return false;
}

bool cg_http_bearer_ok(const char *authorization, const cg_settings *s)
{
    if (s->auth_mode == CG_AUTH_NONE) return true;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return false;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    return cg_secret_equal(s->auth_mode == CG_AUTH_TOKEN ? s->token : s->password, given);
}

bool cg_is_local_direct(const cg_http_facts *req, const cg_settings *s)
{
    if (!s->local_bypass) return false;
    if (!cg_addr_is_loopback(req->peer_ip)) return false;
    if (!cg_host_is_loopback_name(req->host)) return false;
    if (req->forwarded_for || req->real_ip) {
        if (!cg_addr_in_list(req->peer_ip, s->trusted_proxies, s->trusted_proxies_len))
            return false;
        char client[64];
        if (!cg_client_ip(req, s, client, sizeof client) || !cg_addr_is_loopback(client))
            return false;
    }
    return cg_origin_allowed(req->origin, req->host, s);
}

bool cg_is_local_for_pairing(const cg_http_facts *req, const char *client_id,
                             const char *client_mode, const cg_settings *s)
{
    if (!cg_addr_is_loopback(req->peer_ip) || req->forwarded_for || req->real_ip) return false;
    if (!req->origin) return true;
    bool browser_ui = (client_id && strcmp(client_id, "openclaw-control-ui") == 0) ||
                      (client_mode && strcmp(client_mode, "webchat") == 0);
    return browser_ui && cg_origin_allowed(req->origin, req->host, s);
}
