/* Pieces the bench tools share (cg-loadgen, cg-nodesim): a log-linear latency histogram,
 * Ed25519 device identities that sign connect payloads the way OpenClaw clients do,
 * numeric option parsing and the file-descriptor limit. */
#ifndef CG_BENCH_COMMON_H
#define CG_BENCH_COMMON_H

#include "auth/device_sig.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

/* Latencies in microseconds: 1 us buckets below 256 us, then 128 sub-buckets per power
 * of two (under 0.8% error), so memory does not grow with the number of samples. */
#define BENCH_SUB_BITS 7
#define BENCH_SUB (1u << BENCH_SUB_BITS)
#define BENCH_HIST_BUCKETS (2 * BENCH_SUB + 40 * BENCH_SUB)

typedef struct bench_hist {
    uint64_t count[BENCH_HIST_BUCKETS];
    uint64_t total, max_us;
} bench_hist;

void bench_hist_add(bench_hist *h, uint64_t us);
/* The p-quantile (0..1) in ms, 0 with no samples. */
double bench_hist_percentile_ms(const bench_hist *h, double p);

/* A device identity: publicKey = base64url of the raw key, id = its hex SHA-256. */
typedef struct bench_device {
    EVP_PKEY *key;
    char id[65];
    char public_key[CG_DEVICE_PUBLIC_KEY_LEN + 1];
} bench_device;

/* What a connect says about its client, as the device signs it. */
typedef struct bench_device_client {
    const char *client_id, *client_mode, *role;
    const char *scopes_csv; /* the scopes comma-joined, as sent */
    const char *token;      /* auth.token, "" when none */
    const char *platform;   /* lowercase, as sent */
    const char *family;     /* deviceFamily trimmed and lowercased; NULL or "" when none */
} bench_device_client;

/* A fresh Ed25519 key; false when OpenSSL could not make one. */
bool bench_device_new(bench_device *d);
void bench_device_free(bench_device *d);
/* connect.params.device for one connect: the v3 payload
 *   v3|id|client_id|client_mode|role|scopes|signed_at|token|nonce|platform|family
 * signed with the challenge's nonce and ts. NULL if signing failed. */
json_t *bench_device_block(const bench_device *d, const bench_device_client *cl, const char *nonce,
                           json_int_t signed_at);

/* strtod of the whole of s, within [min, max]. */
bool bench_num_arg(const char *s, double min, double max, double *out);
/* Raises the RLIMIT_NOFILE soft limit to the hard limit. */
void bench_raise_nofile(void);

/* CPU accounting. utime + stime of those processes in clock ticks (one that is gone
 * counts 0); the ticks the whole machine spent busy (user, nice, system, irq, softirq; all
 * cores, /proc/stat); this process's own utime + stime in microseconds. */
uint64_t bench_pids_ticks(const int *pids, int npids);
uint64_t bench_machine_ticks(void);
uint64_t bench_self_cpu_us(void);
/* "PID[,PID...]" into pids (at most max); false when malformed. */
bool bench_pid_list_arg(const char *v, int *pids, int max, int *n);

#endif
