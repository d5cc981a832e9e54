/* The failed-authentication limiter (gateway.auth.rateLimit), per client address.
 *
 * Semantics (CONTRACT.md "Auth rate limit"): only mismatches are recorded. Failures
 * are counted in a window that opens at the first failure and lasts windowMs; the
 * maxAttempts-th failure inside it starts a lockout of lockoutMs, during which check
 * returns the milliseconds left (every connect is refused, even a correct one). When
 * the lockout ends the address starts from zero; a success resets it at once. The
 * window is fixed rather than sliding, so memory per address is constant whatever
 * maxAttempts is. gateway.auth.rateLimit.exemptLoopback is the CALLER's business:
 * this module limits whatever address it is given.
 *
 * Storage: a chained hash table keyed by the canonical textual address (inet_pton +
 * inet_ntop, IPv4-mapped IPv6 folded to IPv4, so one client is one key). The hash is
 * FNV-1a seeded from the CSPRNG per limiter, so a peer cannot precompute colliding
 * addresses. Memory is bounded: at most CG_RATE_LIMIT_MAX_ENTRIES entries; when full,
 * expired entries are swept first and, if that frees nothing, the entry closest to
 * expiry is evicted. The bucket array doubles as entries grow (load <= 1). */
#include "auth/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define CG_RATE_LIMIT_MAX_ENTRIES 65536
#define INITIAL_BUCKETS 64

typedef struct rl_entry {
    struct rl_entry *next;
    uint64_t hash;
    int64_t window_start_ms;
    int64_t locked_until_ms; /* 0: not locked */
    int64_t failures;        /* in the current window */
    char key[INET6_ADDRSTRLEN];
} rl_entry;

struct cg_rate_limiter {
    rl_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    uint64_t seed;
};

cg_rate_limiter *cg_rate_limiter_new(void)
{
    cg_rate_limiter *rl = cg_xcalloc(1, sizeof *rl);
    rl->nbuckets = INITIAL_BUCKETS;
    rl->buckets = cg_xcalloc(rl->nbuckets, sizeof *rl->buckets);
    if (RAND_bytes((unsigned char *)&rl->seed, sizeof rl->seed) != 1) abort();
    return rl;
}

void cg_rate_limiter_free(cg_rate_limiter *rl)
{
    if (!rl) return;
    for (size_t i = 0; i < rl->nbuckets; i++) {
        for (rl_entry *e = rl->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(rl->buckets);
    free(rl);
}

/* One client, one key: the canonical text of the address, or the input itself
 * (truncated) when it is not an address. */
static void canonical_key(const char *ip, char out[INET6_ADDRSTRLEN])
{
    unsigned char bytes[16];
    if (inet_pton(AF_INET, ip, bytes) == 1 && inet_ntop(AF_INET, bytes, out, INET6_ADDRSTRLEN))
        return;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, ip, &a6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&a6) && inet_ntop(AF_INET, &a6.s6_addr[12], out, INET6_ADDRSTRLEN))
            return;
        if (inet_ntop(AF_INET6, &a6, out, INET6_ADDRSTRLEN)) return;
    }
    size_t len = strnlen(ip, INET6_ADDRSTRLEN - 1);
    memcpy(out, ip, len);
    out[len] = 0;
}

static uint64_t key_hash(const cg_rate_limiter *rl, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull ^ rl->seed;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The link that points at the entry for key (or at the NULL ending its chain). */
static rl_entry **find_link(cg_rate_limiter *rl, const char *key, uint64_t hash)
{
    rl_entry **link = &rl->buckets[hash & (rl->nbuckets - 1)];
    while (*link && ((*link)->hash != hash || strcmp((*link)->key, key) != 0))
        link = &(*link)->next;
    return link;
}

static void unlink_entry(cg_rate_limiter *rl, rl_entry **link)
{
    rl_entry *e = *link;
    *link = e->next;
    free(e);
    rl->count--;
}

/* An entry that neither locks nor counts anything any more. */
static bool entry_expired(const rl_entry *e, const cg_rate_limit *cfg, int64_t now_ms)
{
    return e->locked_until_ms <= now_ms && now_ms - e->window_start_ms >= cfg->window_ms;
}

/* When an entry stops mattering; eviction picks the smallest. */
static int64_t entry_expiry(const rl_entry *e, const cg_rate_limit *cfg)
{
    int64_t window_end = e->window_start_ms + cfg->window_ms;
    return e->locked_until_ms > window_end ? e->locked_until_ms : window_end;
}

static void grow(cg_rate_limiter *rl)
{
    size_t nbuckets = rl->nbuckets * 2;
    rl_entry **buckets = cg_xcalloc(nbuckets, sizeof *buckets);
    for (size_t i = 0; i < rl->nbuckets; i++) {
        for (rl_entry *e = rl->buckets[i], *next; e; e = next) {
            next = e->next;
            rl_entry **head = &buckets[e->hash & (nbuckets - 1)];
            e->next = *head;
            *head = e;
        }
    }
    free(rl->buckets);
    rl->buckets = buckets;
    rl->nbuckets = nbuckets;
}

static void evict_soonest_expiring(cg_rate_limiter *rl, const cg_rate_limit *cfg)
{
    rl_entry **victim = NULL;
    for (size_t i = 0; i < rl->nbuckets; i++) {
        for (rl_entry **link = &rl->buckets[i]; *link; link = &(*link)->next) {
            if (!victim || entry_expiry(*link, cfg) < entry_expiry(*victim, cfg)) victim = link;
        }
    }
    if (victim) unlink_entry(rl, victim);
}

int64_t cg_rate_limiter_check(cg_rate_limiter *rl, const char *ip, const cg_rate_limit *cfg,
                              int64_t now_ms)
{
    char key[INET6_ADDRSTRLEN];
    canonical_key(ip, key);
    uint64_t hash = key_hash(rl, key);
    rl_entry **link = find_link(rl, key, hash);
    if (!*link) return 0;
    if ((*link)->locked_until_ms > now_ms) return (*link)->locked_until_ms - now_ms;
    if (entry_expired(*link, cfg, now_ms)) unlink_entry(rl, link);
    return 0;
}

void cg_rate_limiter_fail(cg_rate_limiter *rl, const char *ip, const cg_rate_limit *cfg,
                          int64_t now_ms)
{
    if (cfg->max_attempts <= 0) return; /* limiting switched off */
    char key[INET6_ADDRSTRLEN];
    canonical_key(ip, key);
    uint64_t hash = key_hash(rl, key);
    rl_entry **link = find_link(rl, key, hash);
    rl_entry *e = *link;
    if (!e) {
        if (rl->count >= CG_RATE_LIMIT_MAX_ENTRIES) {
            cg_rate_limiter_sweep(rl, cfg, now_ms);
            if (rl->count >= CG_RATE_LIMIT_MAX_ENTRIES) evict_soonest_expiring(rl, cfg);
        }
        if (rl->count >= rl->nbuckets) grow(rl);
        e = cg_xcalloc(1, sizeof *e);
        e->hash = hash;
        memcpy(e->key, key, sizeof e->key);
        e->window_start_ms = now_ms;
        rl_entry **head = &rl->buckets[hash & (rl->nbuckets - 1)];
        e->next = *head;
        *head = e;
        rl->count++;
    }
    if (e->locked_until_ms > now_ms) return; /* already locked out: no extension */
    if (e->locked_until_ms != 0 || now_ms - e->window_start_ms >= cfg->window_ms) {
        e->locked_until_ms = 0;
        e->failures = 0;
        e->window_start_ms = now_ms;
    }
    if (++e->failures >= cfg->max_attempts) {
        e->locked_until_ms = now_ms + cfg->lockout_ms;
        e->failures = 0;
    }
}

void cg_rate_limiter_reset(cg_rate_limiter *rl, const char *ip)
{
    char key[INET6_ADDRSTRLEN];
    canonical_key(ip, key);
    rl_entry **link = find_link(rl, key, key_hash(rl, key));
    if (*link) unlink_entry(rl, link);
}

void cg_rate_limiter_sweep(cg_rate_limiter *rl, const cg_rate_limit *cfg, int64_t now_ms)
{
    for (size_t i = 0; i < rl->nbuckets; i++) {
        rl_entry **link = &rl->buckets[i];
        while (*link) {
            if (entry_expired(*link, cfg, now_ms))
                unlink_entry(rl, link);
            else
                link = &(*link)->next;
        }
    }
}
