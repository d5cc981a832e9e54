/* The browser's navigation policy (see url_policy.h). Addresses count as non-public when
 * they are unspecified, loopback, RFC 1918 private, link-local, CGNAT (100.64/10),
 * benchmarking (198.18/15), multicast or reserved (224/3), IPv6 unique-local (fc00::/7)
 * or link-local (fe80::/10); IPv4-mapped IPv6 addresses are judged as their IPv4. */
#include "browser/url_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool cg_url_scheme(const char *url, char *out, size_t len)
{
    size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    if (!n || url[n] != ':' || !isalpha((unsigned char)url[0]) || n >= len) return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)url[i]);
    out[n] = '\0';
    return true;
}

bool cg_url_host(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://");
    if (!p) return false;
    p += 3;
    size_t auth_len = strcspn(p, "/?#\\");
    /* user:pass@ goes before the last '@' of the authority. */
    for (size_t i = auth_len; i > 0; i--)
        if (p[i - 1] == '@') {
            p += i;
            auth_len -= i;
            break;
        }
    size_t host_len;
    if (p[0] == '[') {
        const char *end = memchr(p, ']', auth_len);
        if (!end) return false;
        p++;
        host_len = (size_t)(end - p);
    } else {
        host_len = strcspn(p, ":/?#\\");
        if (host_len > auth_len) host_len = auth_len;
    }
    if (!host_len || host_len >= len) return false;
    for (size_t i = 0; i < host_len; i++)
        out[i] = (char)tolower((unsigned char)p[i]);
    out[host_len] = '\0';
    /* A trailing dot names the same host. */
    if (host_len > 1 && out[host_len - 1] == '.') out[host_len - 1] = '\0';
    return true;
}

static bool v4_private(uint32_t a) /* host byte order */
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
    return b0 == 0 || b0 == 10 || b0 == 127 || (b0 == 169 && b1 == 254) ||
           (b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168) ||
           (b0 == 100 && (b1 & 0xc0) == 64) || (b0 == 198 && (b1 & 0xfe) == 18) || b0 >= 224;
}

static bool v6_private(const struct in6_addr *a)
{
    const uint8_t *b = a->s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(b, mapped, 12))
        return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
                          b[15]);
    static const uint8_t zero[15] = {0};
    if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1)) return true; /* :: and ::1 */
    return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || b[0] == 0xff;
}

bool cg_addr_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6) return v6_private(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return true;
}

int cg_host_literal_private(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return v4_private(ntohl(a4.s_addr));
    if (inet_pton(AF_INET6, host, &a6) == 1) return v6_private(&a6);
    return -1;
}

bool cg_host_is_localhost(const char *host)
{
    size_t n = strlen(host);
    return !strcmp(host, "localhost") || (n > 10 && !strcmp(host + n - 10, ".localhost"));
}

bool cg_host_in_list(const char *host, char *const *patterns, size_t n)
{
    size_t hl = strlen(host);
    for (size_t i = 0; i < n; i++) {
        const char *p = patterns[i];
        if (!strcasecmp(p, host)) return true;
        if (!strncmp(p, "*.", 2)) {
            size_t sl = strlen(p + 1); /* ".suffix" */
            if (hl > sl && !strcasecmp(host + hl - sl, p + 1)) return true;
        }
    }
    return false;
}
