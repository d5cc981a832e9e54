/* Unit tests for auth/auth.c and auth/ratelimit.c: constant-time secret comparison,
 * loopback and CIDR matching, loopback Host names, every browser-origin rule of
 * CONTRACT.md (including the DNS-rebinding origin), the local-direct bypass with and
 * without trusted proxies, and the failed-auth limiter's window, lockout, reset and
 * bounded memory. Settings are built by hand from a default-like base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/auth.h"

static cg_settings base_settings(void)
{
    cg_settings s = {0};
    s.port = CG_DEFAULT_PORT;
    s.auth_mode = CG_AUTH_TOKEN;
    s.local_bypass = true;
    s.rate_limit = (cg_rate_limit){10, 60000, 300000, true};
    return s;
}

static void test_secret_equal(void **state)
{
    assert_true(cg_secret_equal("s3cret-token", "s3cret-token"));
    assert_false(cg_secret_equal("s3cret-token", "s3cret-tokeN"));
    assert_false(cg_secret_equal("s3cret-token", "s3cret"));
    assert_false(cg_secret_equal("s3cret", "s3cret-token"));
    assert_false(cg_secret_equal("s3cret-token", ""));
    assert_true(cg_secret_equal("", ""));
    assert_false(cg_secret_equal(NULL, "x"));
    assert_false(cg_secret_equal("x", NULL));
}

static void test_addr_is_loopback(void **state)
{
    const char *yes[] = {"127.0.0.1",       "127.255.3.4",      "::1",
                         "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::FFFF:127.1.2.3"};
    const char *no[] = {"128.0.0.1", "10.0.0.1",  "::2", "::",           "::ffff:10.0.0.1",
                        "fe80::1",   "localhost", "",    "127.0.0.1:80", "1.2.3"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(cg_addr_is_loopback(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(cg_addr_is_loopback(no[i]));
    assert_false(cg_addr_is_loopback(NULL));
}

static void test_addr_in_list(void **state)
{
    char *list[] = {"10.0.0.0/8", "192.168.1.0/24", "203.0.113.7",
                    "fd00::/8",   "2001:db8::1",    "198.51.100.0/31"};
    size_t n = sizeof list / sizeof list[0];
    assert_true(cg_addr_in_list("10.1.2.3", list, n));
    assert_true(cg_addr_in_list("::ffff:10.1.2.3", list, n));
    assert_true(cg_addr_in_list("192.168.1.200", list, n));
    assert_false(cg_addr_in_list("192.168.2.1", list, n));
    assert_true(cg_addr_in_list("203.0.113.7", list, n));
    assert_false(cg_addr_in_list("203.0.113.8", list, n));
    assert_true(cg_addr_in_list("fdab:1::5", list, n));
    assert_false(cg_addr_in_list("fe00::1", list, n));
    assert_true(cg_addr_in_list("2001:db8:0::1", list, n));
    assert_false(cg_addr_in_list("2001:db8::2", list, n));
    assert_true(cg_addr_in_list("198.51.100.1", list, n));
    assert_false(cg_addr_in_list("198.51.100.2", list, n));
    assert_false(cg_addr_in_list("11.0.0.1", list, n));
    assert_false(cg_addr_in_list("not-an-ip", list, n));
    assert_false(cg_addr_in_list(NULL, list, n));
    assert_false(cg_addr_in_list("10.0.0.1", NULL, 0));

    /* Families do not cross, except through IPv4-mapped addresses. */
    char *any_v4[] = {"0.0.0.0/0"};
    assert_true(cg_addr_in_list("8.8.8.8", any_v4, 1));
    assert_false(cg_addr_in_list("2001:db8::1", any_v4, 1));
    char *mapped_net[] = {"::ffff:10.0.0.0/104"};
    assert_true(cg_addr_in_list("10.9.9.9", mapped_net, 1));
    assert_false(cg_addr_in_list("11.9.9.9", mapped_net, 1));

    /* Malformed entries match nothing. */
    char *bad[] = {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/-1", "garbage/8",
                   "::1/129",     ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cg_addr_in_list("10.0.0.1", &bad[i], 1));
    char *loop6[] = {"::1/128"};
    assert_true(cg_addr_in_list("::1", loop6, 1));
}

static void test_host_is_loopback_name(void **state)
{
    const char *yes[] = {"localhost", "LocalHost:18789", "127.0.0.1", "127.0.0.1:1",
                         "[::1]",     "[::1]:18789",     "localhost:"};
    const char *no[] = {"evil.example",
                        "evil.example:18789",
                        "localhost.evil.example",
                        "127.0.0.2",
                        "127.0.0.1.nip.io",
                        "::1",
                        "[::1",
                        "[::1]x",
                        "[::2]:18789",
                        "localhost:80a",
                        "localhost:80:80",
                        "",
                        "[]:80",
                        "[0:0:0:0:0:0:0:1]"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(cg_host_is_loopback_name(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(cg_host_is_loopback_name(no[i]));
    assert_false(cg_host_is_loopback_name(NULL));
}

static void test_origin_without_allow_list(void **state)
{
    cg_settings s = base_settings();
    assert_true(cg_origin_allowed(NULL, "localhost:18789", &s));
    assert_true(cg_origin_allowed(NULL, NULL, &s));
    assert_true(cg_origin_allowed("http://localhost:18789", "localhost:18789", &s));
    assert_true(cg_origin_allowed("http://127.0.0.1:5173", "[::1]:18789", &s));
    assert_true(cg_origin_allowed("https://[::1]", "127.0.0.1:18789", &s));
    /* DNS rebinding: a page on evil.example resolved to 127.0.0.1. */
    assert_false(cg_origin_allowed("http://evil.example:18789", "localhost:18789", &s));
    assert_false(cg_origin_allowed("http://evil.example:18789", "evil.example:18789", &s));
    /* A loopback origin is not enough when the Host header names something else. */
    assert_false(cg_origin_allowed("http://localhost:18789", "gw.example.com", &s));
    assert_false(cg_origin_allowed("http://localhost:18789", NULL, &s));
    assert_false(cg_origin_allowed("null", "localhost:18789", &s));
    assert_false(cg_origin_allowed("localhost:18789", "localhost:18789", &s));
    assert_false(cg_origin_allowed("http://localhost.evil.example", "localhost", &s));

    s.public_origin = "https://gw.example.com";
    assert_true(cg_origin_allowed("https://gw.example.com", "gw.example.com", &s));
    assert_true(cg_origin_allowed("https://GW.example.com", "gw.example.com", &s));
    assert_false(cg_origin_allowed("https://gw.example.com:8443", "gw.example.com", &s));
    assert_false(cg_origin_allowed("http://gw.example.com", "gw.example.com", &s));
    assert_true(cg_origin_allowed("http://localhost:18789", "localhost:18789", &s));
}

static void test_origin_with_allow_list(void **state)
{
    cg_settings s = base_settings();
    char *allowed[] = {"https://ui.example.com", "http://10.0.0.5:18789"};
    s.allowed_origins = allowed;
    s.allowed_origins_len = 2;
    assert_true(cg_origin_allowed(NULL, "localhost", &s));
    assert_true(cg_origin_allowed("https://ui.example.com", "gw.example.com", &s));
    assert_true(cg_origin_allowed("http://10.0.0.5:18789", "10.0.0.5:18789", &s));
    assert_false(cg_origin_allowed("https://ui.example.com:444", "gw.example.com", &s));
    assert_false(cg_origin_allowed("https://evil.example", "gw.example.com", &s));
    /* A non-empty list replaces the loopback and publicOrigin rules. */
    assert_false(cg_origin_allowed("http://localhost:18789", "localhost:18789", &s));
    s.public_origin = "https://gw.example.com";
    assert_false(cg_origin_allowed("https://gw.example.com", "gw.example.com", &s));

    char *star[] = {"*"};
    s.allowed_origins = star;
    s.allowed_origins_len = 1;
    assert_true(cg_origin_allowed("http://evil.example:18789", "localhost:18789", &s));
    assert_true(cg_origin_allowed("null", NULL, &s));
}

static void test_local_direct(void **state)
{
    cg_settings s = base_settings();
    cg_http_facts f = {.peer_ip = "127.0.0.1", .host = "127.0.0.1:18789"};
    assert_true(cg_is_local_direct(&f, &s));

    cg_http_facts v6 = {.peer_ip = "::1", .host = "[::1]:18789"};
    assert_true(cg_is_local_direct(&v6, &s));
    cg_http_facts mapped = {.peer_ip = "::ffff:127.0.0.1", .host = "localhost"};
    assert_true(cg_is_local_direct(&mapped, &s));

    s.local_bypass = false;
    assert_false(cg_is_local_direct(&f, &s));
    s.local_bypass = true;

    cg_http_facts remote = {.peer_ip = "192.168.1.20", .host = "localhost:18789"};
    assert_false(cg_is_local_direct(&remote, &s));
    cg_http_facts named = {.peer_ip = "127.0.0.1", .host = "gw.example.com"};
    assert_false(cg_is_local_direct(&named, &s));
    cg_http_facts no_host = {.peer_ip = "127.0.0.1", .host = NULL};
    assert_false(cg_is_local_direct(&no_host, &s));

    /* Browser pages: an allowed origin keeps the bypass, a rebinding page loses it. */
    cg_http_facts ui = {
        .peer_ip = "127.0.0.1", .host = "localhost:18789", .origin = "http://localhost:18789"};
    assert_true(cg_is_local_direct(&ui, &s));
    cg_http_facts rebinding = {
        .peer_ip = "127.0.0.1", .host = "localhost:18789", .origin = "http://evil.example:18789"};
    assert_false(cg_is_local_direct(&rebinding, &s));
}

static void test_local_direct_behind_proxy(void **state)
{
    cg_settings s = base_settings();
    cg_http_facts proxied = {
        .peer_ip = "127.0.0.1", .host = "localhost:18789", .forwarded_for = "127.0.0.1"};
    /* A local reverse proxy forwarding someone: not local unless trusted. */
    assert_false(cg_is_local_direct(&proxied, &s));

    /* Trusted, but a chain of only loopback / our own hops names no client: unknown, not
     * local (the real gateway resolves no client there either). */
    char *trusted[] = {"127.0.0.1"};
    s.trusted_proxies = trusted;
    s.trusted_proxies_len = 1;
    assert_false(cg_is_local_direct(&proxied, &s));

    /* A trusted local proxy that forwards nothing is itself the client. */
    cg_http_facts bare = {.peer_ip = "127.0.0.1", .host = "localhost:18789"};
    assert_true(cg_is_local_direct(&bare, &s));

    /* The reported hole: an unparsable forwarded value must not fall back to the proxy's
     * own loopback address. */
    cg_http_facts garbage = {.peer_ip = "127.0.0.1", .host = "localhost", .forwarded_for = "x"};
    assert_false(cg_is_local_direct(&garbage, &s));
    cg_http_facts bad_real = {.peer_ip = "127.0.0.1", .host = "localhost", .real_ip = "x"};
    assert_false(cg_is_local_direct(&bad_real, &s));

    /* A trusted proxy on another host is still not a loopback peer. */
    char *other[] = {"10.0.0.1"};
    s.trusted_proxies = other;
    cg_http_facts lan_proxy = {.peer_ip = "10.0.0.1", .host = "localhost", .forwarded_for = "::1"};
    assert_false(cg_is_local_direct(&lan_proxy, &s));

    /* A trusted local proxy forwarding a remote client: the client is not local. */
    s.trusted_proxies = trusted;
    cg_http_facts remote_client = {
        .peer_ip = "127.0.0.1", .host = "localhost", .forwarded_for = "203.0.113.7"};
    assert_false(cg_is_local_direct(&remote_client, &s));
    cg_http_facts real_ip = {.peer_ip = "127.0.0.1", .host = "localhost", .real_ip = "203.0.113.7"};
    assert_false(cg_is_local_direct(&real_ip, &s));
}

/* Resolves f's client; asserts the address (or unknown). */
static void expect_client(const cg_settings *s, const char *forwarded_for, const char *real_ip,
                          const char *expected)
{
    cg_http_facts f = {.peer_ip = "127.0.0.1", .forwarded_for = forwarded_for, .real_ip = real_ip};
    char ip[64];
    bool known = cg_client_ip(&f, s, ip, sizeof ip);
    assert_string_equal(ip, expected);
    assert_int_equal(known, strcmp(expected, CG_CLIENT_IP_UNKNOWN) != 0);
    assert_int_equal(cg_addr_is_loopback(ip), strcmp(expected, "127.0.0.1") == 0);
}

static void test_client_ip_resolution(void **state)
{
    cg_settings s = base_settings();
    char ip[64];
    cg_http_facts f = {.peer_ip = "10.0.0.5", .forwarded_for = "203.0.113.7"};
    assert_true(cg_client_ip(&f, &s, ip, sizeof ip));
    assert_string_equal(ip, "10.0.0.5"); /* untrusted peer: headers ignored */

    char *trusted[] = {"127.0.0.1", "10.0.0.0/8"};
    s.trusted_proxies = trusted;
    s.trusted_proxies_len = 2;
    expect_client(&s, "203.0.113.7", NULL, "203.0.113.7");
    /* the rightmost hop that is not ours; a spoofed leftmost entry is ignored */
    expect_client(&s, "1.2.3.4, 198.51.100.9, 10.0.0.7", NULL, "198.51.100.9");
    expect_client(&s, "127.0.0.1, 203.0.113.5", NULL, "203.0.113.5");
    /* IPv6 with brackets and ports, IPv4 with a port */
    expect_client(&s, "[2001:db8::1]:443", NULL, "2001:db8::1");
    expect_client(&s, "[2001:db8::1]", NULL, "2001:db8::1");
    expect_client(&s, " 2001:db8::2 ", NULL, "2001:db8::2");
    expect_client(&s, "203.0.113.9:8080, 10.0.0.7", NULL, "203.0.113.9");
    /* unreadable: garbage, empty, only separators, over-long, broken brackets or ports */
    char long_entry[301];
    memset(long_entry, '1', 300);
    long_entry[300] = 0;
    const char *unknown[] = {"x",
                             "",
                             ", ,",
                             long_entry,
                             "203.0.113.7, x",
                             "x, 203.0.113.7",
                             "[2001:db8::1",
                             "[2001:db8::1]:",
                             "203.0.113.9:80x",
                             "203.0.113.9:",
                             "::1]:80"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        expect_client(&s, unknown[i], NULL, CG_CLIENT_IP_UNKNOWN);
    /* a chain of only our own hops (loopback or trusted) names no client */
    expect_client(&s, "10.0.0.7, 10.0.0.8", NULL, CG_CLIENT_IP_UNKNOWN);
    expect_client(&s, "127.0.0.1", NULL, CG_CLIENT_IP_UNKNOWN);
    /* X-Real-IP only without X-Forwarded-For */
    expect_client(&s, NULL, " 2001:db8::1 ", "2001:db8::1");
    expect_client(&s, NULL, "203.0.113.4:99", "203.0.113.4");
    expect_client(&s, NULL, "x", CG_CLIENT_IP_UNKNOWN);
    expect_client(&s, NULL, "127.0.0.1", CG_CLIENT_IP_UNKNOWN); /* as X-Forwarded-For: 127.0.0.1 */
    expect_client(&s, NULL, "10.0.0.9", CG_CLIENT_IP_UNKNOWN);
    expect_client(&s, "[2001:db8::1]:abc", NULL, CG_CLIENT_IP_UNKNOWN);
    expect_client(&s, "x", "203.0.113.4", CG_CLIENT_IP_UNKNOWN);
    expect_client(&s, "203.0.113.7", "198.51.100.1", "203.0.113.7");
    /* a trusted proxy that forwards nothing is the client */
    expect_client(&s, NULL, NULL, "127.0.0.1");
}

static const cg_rate_limit LIMIT3 = {
    .max_attempts = 3, .window_ms = 1000, .lockout_ms = 5000, .exempt_loopback = true};

static void test_rate_limit_lockout(void **state)
{
    cg_rate_limiter *rl = cg_rate_limiter_new();
    int64_t t = 1000000;
    assert_int_equal(cg_rate_limiter_check(rl, "203.0.113.9", &LIMIT3, t), 0);
    cg_rate_limiter_fail(rl, "203.0.113.9", &LIMIT3, t);
    cg_rate_limiter_fail(rl, "203.0.113.9", &LIMIT3, t + 10);
    assert_int_equal(cg_rate_limiter_check(rl, "203.0.113.9", &LIMIT3, t + 20), 0);
    cg_rate_limiter_fail(rl, "203.0.113.9", &LIMIT3, t + 20);
    assert_int_equal(cg_rate_limiter_check(rl, "203.0.113.9", &LIMIT3, t + 20), 5000);
    assert_int_equal(cg_rate_limiter_check(rl, "203.0.113.9", &LIMIT3, t + 4020), 1000);
    /* Other addresses are unaffected; the mapped form is the same client. */
    assert_int_equal(cg_rate_limiter_check(rl, "203.0.113.10", &LIMIT3, t + 30), 0);
    assert_int_equal(cg_rate_limiter_check(rl, "::ffff:203.0.113.9", &LIMIT3, t + 4020), 1000);
    /* Failures during the lockout do not extend it. */
    cg_rate_limiter_fail(rl, "203.0.113.9", &LIMIT3, t + 4500);
    assert_int_equal(cg_rate_limiter_check(rl, "203.0.113.9", &LIMIT3, t + 4520), 500);
    /* After the lockout the address starts from zero. */
    assert_int_equal(cg_rate_limiter_check(rl, "203.0.113.9", &LIMIT3, t + 5020), 0);
    cg_rate_limiter_fail(rl, "203.0.113.9", &LIMIT3, t + 5100);
    cg_rate_limiter_fail(rl, "203.0.113.9", &LIMIT3, t + 5200);
    assert_int_equal(cg_rate_limiter_check(rl, "203.0.113.9", &LIMIT3, t + 5300), 0);
    cg_rate_limiter_fail(rl, "203.0.113.9", &LIMIT3, t + 5300);
    assert_int_equal(cg_rate_limiter_check(rl, "203.0.113.9", &LIMIT3, t + 5300), 5000);
    cg_rate_limiter_free(rl);
}

static void test_rate_limit_window(void **state)
{
    cg_rate_limiter *rl = cg_rate_limiter_new();
    int64_t t = 50000;
    cg_rate_limiter_fail(rl, "2001:db8::5", &LIMIT3, t);
    cg_rate_limiter_fail(rl, "2001:db8::5", &LIMIT3, t + 500);
    /* The window has passed: the count starts again. */
    cg_rate_limiter_fail(rl, "2001:db8::5", &LIMIT3, t + 1000);
    assert_int_equal(cg_rate_limiter_check(rl, "2001:db8::5", &LIMIT3, t + 1000), 0);
    cg_rate_limiter_fail(rl, "2001:db8:0::5", &LIMIT3, t + 1500);
    assert_int_equal(cg_rate_limiter_check(rl, "2001:db8::5", &LIMIT3, t + 1500), 0);
    cg_rate_limiter_fail(rl, "2001:DB8::5", &LIMIT3, t + 1900);
    assert_int_equal(cg_rate_limiter_check(rl, "2001:db8::5", &LIMIT3, t + 1900), 5000);
    cg_rate_limiter_free(rl);
}

static void test_rate_limit_success_resets(void **state)
{
    cg_rate_limiter *rl = cg_rate_limiter_new();
    cg_rate_limiter_fail(rl, "198.51.100.4", &LIMIT3, 100);
    cg_rate_limiter_fail(rl, "198.51.100.4", &LIMIT3, 200);
    cg_rate_limiter_reset(rl, "198.51.100.4");
    cg_rate_limiter_fail(rl, "198.51.100.4", &LIMIT3, 300);
    cg_rate_limiter_fail(rl, "198.51.100.4", &LIMIT3, 400);
    assert_int_equal(cg_rate_limiter_check(rl, "198.51.100.4", &LIMIT3, 500), 0);
    cg_rate_limiter_fail(rl, "198.51.100.4", &LIMIT3, 500);
    assert_int_equal(cg_rate_limiter_check(rl, "198.51.100.4", &LIMIT3, 500), 5000);
    cg_rate_limiter_reset(rl, "198.51.100.4");
    assert_int_equal(cg_rate_limiter_check(rl, "198.51.100.4", &LIMIT3, 600), 0);
    cg_rate_limiter_reset(rl, "198.51.100.99"); /* unknown: nothing to do */
    cg_rate_limiter_free(rl);
}

static void test_rate_limit_loopback_is_callers_choice(void **state)
{
    /* exemptLoopback is applied by the caller; the limiter counts loopback too. */
    cg_rate_limiter *rl = cg_rate_limiter_new();
    for (int i = 0; i < 3; i++)
        cg_rate_limiter_fail(rl, "127.0.0.1", &LIMIT3, 10);
    assert_int_equal(cg_rate_limiter_check(rl, "127.0.0.1", &LIMIT3, 10), 5000);
    cg_rate_limiter_free(rl);
}

static void test_rate_limit_sweep_and_bound(void **state)
{
    cg_rate_limiter *rl = cg_rate_limiter_new();
    const cg_rate_limit one_strike = {
        .max_attempts = 1, .window_ms = 1000, .lockout_ms = 1000000000, .exempt_loopback = true};
    char ip[32];
    /* Fill past the cap: the entries closest to expiry (the oldest) make room. */
    const int total = 65536 + 20;
    for (int i = 0; i < total; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        cg_rate_limiter_fail(rl, ip, &one_strike, i);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(ip, sizeof ip, "10.0.0.%d", i);
        assert_int_equal(cg_rate_limiter_check(rl, ip, &one_strike, total), 0);
    }
    snprintf(ip, sizeof ip, "10.0.0.%d", 20);
    assert_true(cg_rate_limiter_check(rl, ip, &one_strike, total) > 0);
    snprintf(ip, sizeof ip, "10.%d.%d.%d", ((total - 1) >> 16) & 255, ((total - 1) >> 8) & 255,
             (total - 1) & 255);
    assert_true(cg_rate_limiter_check(rl, ip, &one_strike, total) > 0);

    /* Once everything has expired a sweep empties the table. */
    int64_t later = 2000000000;
    cg_rate_limiter_sweep(rl, &one_strike, later);
    assert_int_equal(cg_rate_limiter_check(rl, ip, &one_strike, later), 0);
    cg_rate_limiter_free(rl);
}

static void test_rate_limit_sweep_keeps_live_entries(void **state)
{
    cg_rate_limiter *rl = cg_rate_limiter_new();
    for (int i = 0; i < 3; i++)
        cg_rate_limiter_fail(rl, "192.0.2.1", &LIMIT3, 0);
    cg_rate_limiter_fail(rl, "192.0.2.2", &LIMIT3, 0);
    cg_rate_limiter_fail(rl, "192.0.2.2", &LIMIT3, 0);
    cg_rate_limiter_sweep(rl, &LIMIT3, 500);
    assert_int_equal(cg_rate_limiter_check(rl, "192.0.2.1", &LIMIT3, 500), 4500);
    /* 192.0.2.2's two failures are still in its window. */
    cg_rate_limiter_fail(rl, "192.0.2.2", &LIMIT3, 600);
    assert_int_equal(cg_rate_limiter_check(rl, "192.0.2.2", &LIMIT3, 600), 5000);
    cg_rate_limiter_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_equal),
        cmocka_unit_test(test_addr_is_loopback),
        cmocka_unit_test(test_addr_in_list),
        cmocka_unit_test(test_host_is_loopback_name),
        cmocka_unit_test(test_origin_without_allow_list),
        cmocka_unit_test(test_origin_with_allow_list),
        cmocka_unit_test(test_local_direct),
        cmocka_unit_test(test_local_direct_behind_proxy),
        cmocka_unit_test(test_client_ip_resolution),
        cmocka_unit_test(test_rate_limit_lockout),
        cmocka_unit_test(test_rate_limit_window),
        cmocka_unit_test(test_rate_limit_success_resets),
        cmocka_unit_test(test_rate_limit_loopback_is_callers_choice),
        cmocka_unit_test(test_rate_limit_sweep_and_bound),
        cmocka_unit_test(test_rate_limit_sweep_keeps_live_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
