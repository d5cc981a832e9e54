/* Control UI static files: path safety, content types, the root folder reader, the
 * index.html rewrite and its CSP (see ui.h for the design). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "ui/ui.h"

const cg_ui_asset *cg_ui_embedded_find(const char *rel)
{
    for (size_t i = 0; i < cg_ui_embedded_count; i++)
        if (!strcmp(cg_ui_embedded[i].path, rel)) return &cg_ui_embedded[i];
    return NULL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* A decoded segment that may not be a file name part. */
static bool bad_segment(const char *seg, size_t n)
{
    return (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.');
}

bool cg_ui_relpath(const char *url_path, char *out, size_t len)
{
    if (!url_path || url_path[0] != '/' || len == 0) return false;
    size_t o = 0, seg_start = 0;
    for (const char *p = url_path + 1;; p++) {
        char c = *p;
        if (c == '%') {
            int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
            if (lo < 0) return false;
            c = (char)(hi * 16 + lo);
            if (c == '\0' || c == '/' || c == '\\') return false;
            p += 2;
        } else if (c == '\\') {
            return false;
        } else if (c == '/' || c == '\0') {
            if (bad_segment(out + seg_start, o - seg_start)) return false;
            if (c == '\0') break;
            if (o == seg_start) return false; /* an empty segment: "//" */
            seg_start = o + 1;
        }
        if (o + 1 >= len) return false;
        out[o++] = c;
    }
    out[o] = '\0';
    if (o == 0 || out[o - 1] == '/') {
        const char *index = "index.html";
        if (o + strlen(index) + 1 > len) return false;
        memcpy(out + o, index, strlen(index) + 1);
    }
    return true;
}

static const struct {
    const char *ext, *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".webmanifest", "application/manifest+json; charset=utf-8"},
    {".map", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".avif", "image/avif"},
    {".ico", "image/x-icon"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".ttf", "font/ttf"},
    {".otf", "font/otf"},
    {".wasm", "application/wasm"},
    {".txt", "text/plain; charset=utf-8"},
    {".mp3", "audio/mpeg"},
    {".wav", "audio/wav"},
    {".mp4", "video/mp4"},
    {".webm", "video/webm"},
};

static const char *extension(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *dot = strrchr(slash ? slash : rel, '.');
    return dot && dot != (slash ? slash + 1 : rel) ? dot : NULL;
}

const char *cg_ui_content_type(const char *rel)
{
    const char *ext = extension(rel);
    for (size_t i = 0; ext && i < sizeof content_types / sizeof content_types[0]; i++)
        if (!strcasecmp(ext, content_types[i].ext)) return content_types[i].type;
    return "application/octet-stream";
}

bool cg_ui_is_asset_name(const char *rel)
{
    const char *ext = extension(rel);
    return ext && strcasecmp(ext, ".html") != 0;
}

static void sha256_etag(const void *data, size_t len, char out[72])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL) != 1) abort();
    out[0] = '"';
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 1 + 2 * i, 3, "%02x", digest[i]);
    out[1 + 2 * n] = '"';
    out[2 + 2 * n] = '\0';
}

/* Opens path for reading when its real path is below root_real and it is a regular
 * file; -1 otherwise. */
static int open_inside(const char *root_real, const char *path, struct stat *st)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) return -1;
    size_t n = strlen(root_real);
    if (strncmp(real, root_real, n) != 0 || (real[n] != '/' && !(n == 1 && root_real[0] == '/')))
        return -1;
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

cg_ui_read_result cg_ui_root_read(const char *root, const char *rel, bool want_gzip, size_t max,
                                  cg_ui_file *out)
{
    memset(out, 0, sizeof *out);
    char root_real[PATH_MAX], path[PATH_MAX + 8];
    if (!realpath(root, root_real)) return CG_UI_READ_NOT_FOUND;
    struct stat st;
    int fd = -1;
    if (want_gzip &&
        (size_t)snprintf(path, sizeof path, "%s/%s.gz", root_real, rel) < sizeof path) {
        fd = open_inside(root_real, path, &st);
        out->gzip = fd >= 0;
    }
    if (fd < 0) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", root_real, rel) >= sizeof path)
            return CG_UI_READ_NOT_FOUND;
        fd = open_inside(root_real, path, &st);
    }
    if (fd < 0) return CG_UI_READ_NOT_FOUND;
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return CG_UI_READ_TOO_BIG;
    }
    size_t size = (size_t)st.st_size, got = 0;
    out->data = cg_xmalloc(size + 1);
    while (got < size) {
        ssize_t r = read(fd, out->data + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    out->data[got] = '\0';
    out->len = got;
    sha256_etag(out->data, got, out->etag);
    return CG_UI_READ_OK;
}

bool cg_ui_base_path(const char *configured, char *out, size_t len)
{
    if (len == 0) return false;
    out[0] = '\0';
    if (!configured) return true;
    while (*configured == '/')
        configured++;
    size_t n = strlen(configured);
    while (n > 0 && configured[n - 1] == '/')
        n--;
    if (n == 0) return true;
    if (n + 2 > len) return false;
    out[0] = '/';
    memcpy(out + 1, configured, n);
    out[n + 1] = '\0';
    char rel[256];
    char probe[300];
    snprintf(probe, sizeof probe, "%s/", out);
    /* The same rules as a request path: no "..", no encoded separators. */
    return strlen(out) < sizeof rel && cg_ui_relpath(probe, rel, sizeof rel) &&
           !strpbrk(out, "%\"<>? #");
}

/* Case-insensitive search for needle in [s, end). */
static const char *find_ci(const char *s, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    for (; s + n <= end; s++)
        if (!strncasecmp(s, needle, n)) return s;
    return NULL;
}

#define BUILD_ID_ATTR " data-openclaw-control-ui-build-id=\""

char *cg_ui_index_rewrite(const char *html, size_t len, const char *base, size_t *out_len)
{
    const char *end = html + len;
    cg_buf b = {0};
    const char *tag = NULL;
    for (const char *p = html; (p = find_ci(p, end, "<html")) != NULL; p += 5)
        if (p + 5 < end && (p[5] == '>' || isspace((unsigned char)p[5]))) {
            tag = p;
            break;
        }
    const char *tag_end = tag ? memchr(tag, '>', (size_t)(end - tag)) : NULL;
    const char *p = html;
    while (p < end) {
        if (tag_end && p == tag) {
            cg_buf_appends(&b, "<html data-openclaw-control-ui-base-path=\"");
            cg_buf_appends(&b, base);
            cg_buf_appends(&b, "\" data-openclaw-terminal-enabled=\"false\"");
            for (const char *q = tag + 5; q < tag_end;) {
                size_t n = strlen(BUILD_ID_ATTR);
                const char *close;
                if ((size_t)(tag_end - q) > n && !strncasecmp(q, BUILD_ID_ATTR, n) &&
                    (close = memchr(q + n, '"', (size_t)(tag_end - q - n))) != NULL) {
                    q = close + 1;
                    continue;
                }
                cg_buf_append(&b, q++, 1);
            }
            p = tag_end;
            continue;
        }
        if ((size_t)(end - p) >= 8 && !strncmp(p, "src=\"./", 7)) {
            cg_buf_appends(&b, "src=\"");
            cg_buf_appends(&b, base);
            cg_buf_appends(&b, "/");
            p += 7;
            continue;
        }
        if ((size_t)(end - p) >= 9 && !strncmp(p, "href=\"./", 8)) {
            cg_buf_appends(&b, "href=\"");
            cg_buf_appends(&b, base);
            cg_buf_appends(&b, "/");
            p += 8;
            continue;
        }
        cg_buf_append(&b, p++, 1);
    }
    cg_buf_reserve(&b, 0);
    *out_len = b.len;
    return b.data;
}

/* Whether a <script ...> open tag has a src attribute. */
static bool has_src(const char *open, const char *close)
{
    for (const char *p = open; (p = find_ci(p, close, "src")) != NULL; p += 3) {
        bool starts = isspace((unsigned char)p[-1]);
        char after = p + 3 < close ? p[3] : '>';
        if (starts && (after == '=' || after == '>' || isspace((unsigned char)after))) return true;
    }
    return false;
}

char *cg_ui_csp(const char *html, size_t len, bool allow_wasm)
{
    cg_buf b = {0};
    cg_buf_appends(&b, "default-src 'self'; base-uri 'none'; object-src 'none'; "
                       "frame-ancestors 'none'; frame-src 'self' http: https:; script-src 'self'");
    const char *end = html ? html + len : NULL;
    for (const char *p = html; p && (p = find_ci(p, end, "<script")) != NULL;) {
        const char *open_end = memchr(p, '>', (size_t)(end - p));
        if (!open_end) break;
        if (p + 7 < end && p[7] != '>' && !isspace((unsigned char)p[7])) {
            p += 7;
            continue;
        }
        const char *body = open_end + 1;
        const char *close = find_ci(body, end, "</script>");
        if (!close) break;
        if (!has_src(p + 7, open_end) && close > body) {
            unsigned char digest[EVP_MAX_MD_SIZE];
            unsigned n = 0;
            char b64[64];
            if (EVP_Digest(body, (size_t)(close - body), digest, &n, EVP_sha256(), NULL) != 1)
                abort();
            EVP_EncodeBlock((unsigned char *)b64, digest, (int)n);
            cg_buf_appends(&b, " 'sha256-");
            cg_buf_appends(&b, b64);
            cg_buf_appends(&b, "'");
        }
        p = close + 9;
    }
    if (allow_wasm) cg_buf_appends(&b, " 'wasm-unsafe-eval'");
    cg_buf_appends(&b, "; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; "
                       "img-src 'self' data: blob: https:; media-src 'self' data: blob:; "
                       "font-src 'self' https://fonts.gstatic.com; worker-src 'self'; "
                       "connect-src 'self' ws: wss: data: https://api.openai.com "
                       "https://tweakcn.com");
    return b.data;
}
