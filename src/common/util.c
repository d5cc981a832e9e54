/* Small shared helpers. Randomness comes from OpenSSL's CSPRNG. */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int64_t cg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t cg_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void cg_iso8601_ms(int64_t epoch_ms, char *buf, size_t len)
{
    time_t secs = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(epoch_ms % 1000));
}

static void random_bytes(unsigned char *out, size_t n)
{
    if (RAND_bytes(out, (int)n) != 1) abort();
}

void cg_uuid4(char *buf)
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void cg_random_hex(char *buf, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char *b = cg_xmalloc(n ? n : 1);
    random_bytes(b, n);
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = hex[b[i] >> 4];
        buf[2 * i + 1] = hex[b[i] & 15];
    }
    buf[2 * n] = 0;
    free(b);
}

void *cg_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

void *cg_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) abort();
    return p;
}

void *cg_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) abort();
    return p;
}

void cg_thread_background(void)
{
    static _Thread_local bool lowered;
    if (lowered) return;
    lowered = true;
    /* On Linux a thread id names one thread for setpriority. Failure leaves it as it was. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
}

char *cg_strdup(const char *s)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

char *cg_strdup_vprintf(size_t max, const char *fmt, va_list ap)
{
    char *out = cg_xmalloc(max);
    int n = vsnprintf(out, max, fmt, ap);
    if (n < 0) {
        out[0] = '\0';
    } else if ((size_t)n >= max) {
        /* The last character kept starts at its lead byte (back over 10xxxxxx bytes);
         * when its lead byte asks for more bytes than were kept, drop it. */
        size_t len = max - 1, lead = len;
        while (lead > 0 && ((unsigned char)out[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead > 0) {
            unsigned char c = (unsigned char)out[lead - 1];
            size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (lead - 1 + need > len) len = lead - 1;
        }
        out[len] = '\0';
    }
    return out;
}

void cg_buf_reserve(cg_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = cg_xrealloc(b->data, cap);
    b->cap = cap;
}

void cg_buf_append(cg_buf *b, const void *data, size_t len)
{
    cg_buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

void cg_buf_appends(cg_buf *b, const char *s)
{
    cg_buf_append(b, s, strlen(s));
}

void cg_buf_reset(cg_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int cg_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    size_t plen = strlen(path);
    char *tmp = cg_xmalloc(plen + 32);
    char rnd[17];
    cg_random_hex(rnd, 8);
    snprintf(tmp, plen + 32, "%s.tmp-%s", path, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = -errno;
        free(tmp);
        return e;
    }
    const char *p = data;
    size_t left = len;
    int rc = 0;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            rc = -errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    /* Make the rename itself durable. */
    char *dup = cg_strdup(path);
    int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dup);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int cg_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    *out = NULL;
    if (out_len) *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return -EFBIG;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = cg_xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > max) {
                free(buf);
                close(fd);
                return -EFBIG;
            }
            cap *= 2;
            buf = cg_xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = -errno;
            free(buf);
            close(fd);
            return e;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (len > max) {
        free(buf);
        return -EFBIG;
    }
    buf[len] = 0;
    *out = buf;
    if (out_len) *out_len = len;
    return 0;
}

int cg_mkdir_p(const char *path, unsigned mode)
{
    char *p = cg_strdup(path);
    int rc = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, mode) != 0 && errno != EEXIST) rc = -errno;
        *s = '/';
        if (rc) break;
    }
    if (rc == 0 && mkdir(p, mode) != 0 && errno != EEXIST) rc = -errno;
    free(p);
    return rc;
}

bool cg_json_array_has_string(const json_t *array, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(array, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
    }
    return false;
}
