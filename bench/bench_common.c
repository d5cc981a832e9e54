/* See bench_common.h. */
#include "bench_common.h"

#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static unsigned bucket_of(uint64_t us)
{
    if (us < 2 * BENCH_SUB) return (unsigned)us;
    unsigned e = (unsigned)(63 - __builtin_clzll(us)) - BENCH_SUB_BITS;
    unsigned idx = 2 * BENCH_SUB + (e - 1) * BENCH_SUB + (unsigned)((us >> e) - BENCH_SUB);
    return idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1;
}

/* Middle of a bucket, in microseconds. */
static double bucket_value(unsigned idx)
{
    if (idx < 2 * BENCH_SUB) return idx;
    unsigned e = (idx - 2 * BENCH_SUB) / BENCH_SUB + 1;
    uint64_t m = (idx - 2 * BENCH_SUB) % BENCH_SUB + BENCH_SUB;
    return (double)(m << e) + (double)(1ull << e) / 2;
}

void bench_hist_add(bench_hist *h, uint64_t us)
{
    h->count[bucket_of(us)]++;
    h->total++;
    if (us > h->max_us) h->max_us = us;
}

double bench_hist_percentile_ms(const bench_hist *h, double p)
{
    if (h->total == 0) return 0;
    uint64_t rank = (uint64_t)(p * (double)h->total + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) { /* a bucket's middle may lie past the largest sample */
            double v = bucket_value(i);
            return (v < (double)h->max_us ? v : (double)h->max_us) / 1000.0;
        }
    }
    return (double)h->max_us / 1000.0;
}

bool bench_device_new(bench_device *d)
{
    unsigned char raw[32], digest[EVP_MAX_MD_SIZE];
    size_t rawlen = sizeof raw;
    unsigned dlen = 0;
    d->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!d->key || EVP_PKEY_get_raw_public_key(d->key, raw, &rawlen) != 1 || rawlen != sizeof raw ||
        EVP_Digest(raw, rawlen, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
        return false;
    cg_base64url_encode(raw, rawlen, d->public_key, sizeof d->public_key);
    for (unsigned i = 0; i < dlen; i++)
        snprintf(d->id + 2 * i, 3, "%02x", digest[i]);
    return true;
}

void bench_device_free(bench_device *d)
{
    EVP_PKEY_free(d->key);
    d->key = NULL;
}

json_t *bench_device_block(const bench_device *d, const bench_device_client *cl, const char *nonce,
                           json_int_t signed_at)
{
    char at[24];
    snprintf(at, sizeof at, "%lld", (long long)signed_at);
    cg_buf text = {0};
    const char *fields[] = {"v3",
                            d->id,
                            cl->client_id,
                            cl->client_mode,
                            cl->role,
                            cl->scopes_csv,
                            at,
                            cl->token,
                            nonce,
                            cl->platform,
                            cl->family ? cl->family : ""};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (i > 0) cg_buf_appends(&text, "|");
        cg_buf_appends(&text, fields[i]);
    }
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, d->key) == 1 &&
              EVP_DigestSign(md, sig, &siglen, (const unsigned char *)text.data, text.len) == 1;
    EVP_MD_CTX_free(md);
    cg_buf_reset(&text);
    if (!ok) return NULL;
    char sig64[CG_BASE64URL_ENCODED_SIZE(64)];
    cg_base64url_encode(sig, siglen, sig64, sizeof sig64);
    return json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", d->id, "publicKey", d->public_key,
                     "signature", sig64, "signedAt", signed_at, "nonce", nonce);
}

bool bench_num_arg(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *s == '\0' || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}

void bench_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

uint64_t bench_pids_ticks(const int *pids, int npids)
{
    uint64_t total = 0;
    for (int i = 0; i < npids; i++) {
        char path[48], line[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", pids[i]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[n] = '\0';
        const char *p = strrchr(line, ')'); /* the command name may hold spaces */
        unsigned long long utime = 0, stime = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                        &stime) == 2)
            total += utime + stime;
    }
    return total;
}

uint64_t bench_machine_ticks(void)
{
    unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait,
                   &irq, &softirq);
    fclose(f);
    return n == 7 ? user + nice + sys + irq + softirq : 0;
}

uint64_t bench_self_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

bool bench_pid_list_arg(const char *v, int *pids, int max, int *n)
{
    *n = 0;
    for (const char *q = v; *q && *n < max;) {
        char *end;
        long pid = strtol(q, &end, 10);
        if (end == q || pid <= 0 || pid > 1 << 22 || (*end && *end != ',')) return false;
        pids[(*n)++] = (int)pid;
        q = *end ? end + 1 : end;
    }
    return true;
}
