/* Skill installers (see install.h).
 *
 * Design: one cg_skill_install object per install, a small state machine on the loop:
 *
 *   node / uv / go:  check the value -> spawn the installer -> exit + both pipes closed
 *                    -> result
 *   download:        [pool] fetch + sha256 -> (extract?) spawn tar into a staging folder
 *                    -> [pool] check and publish the staged tree -> result
 *
 * One timer serves both as the deadline of the whole install and, armed at 0, as the
 * way a result decided at once is delivered on a later loop turn. At the deadline the
 * installer's process group is killed (it was spawned detached, i.e. as a group leader)
 * and the result says so. A thread-pool step cannot be stopped: the result goes out at
 * the deadline anyway (curl's own timeout ends the download soon after), and whatever
 * the step leaves behind is removed by a cleanup step. The object frees itself when it
 * has answered (or was cancelled), its handles are closed and no pool step runs. */
#include "skills/install.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

extern char **environ;

typedef enum { STEP_NONE, STEP_FETCH, STEP_PUBLISH, STEP_CLEANUP } pool_step;

struct cg_skill_install {
    uv_loop_t *loop;
    char *skill_key;
    char *label; /* "npm", "tar", ...: the program, for messages */
    json_t *spec;
    uint64_t timeout_ms;
    cg_skill_install_fn cb;
    void *data;
    bool finished, cancelled, timed_out;
    int open_handles;
    json_t *pending; /* a result waiting for the 0 timer */

    uv_timer_t timer;

    /* the running process */
    uv_process_t proc;
    uv_pipe_t out_pipe, err_pipe;
    bool running, exited, out_open, err_open;
    int64_t exit_status;
    int term_signal;
    cg_buf out, err;
    size_t out_dropped, err_dropped;
    void (*on_exit)(cg_skill_install *in);

    /* downloads */
    uv_work_t work;
    pool_step step; /* STEP_NONE: no pool step runs */
    char *tools_root, *target_dir, *filename, *tmp_path, *staging_dir;
    const char *archive_flag; /* "-z", "-j" or NULL (no extraction) */
    uint64_t downloaded;
    char *step_error;
    char *step_message;
};

/* ---- results ---- */

/* Text without leading and trailing whitespace; invalid UTF-8 becomes "?". New ref. */
static json_t *trimmed_text(const char *s)
{
    if (!s) s = "";
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    json_t *v = json_stringn(s, n);
    if (!v) {
        char *copy = cg_xmalloc(n + 1);
        for (size_t i = 0; i < n; i++)
            copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
        v = json_stringn(copy, n);
        free(copy);
    }
    return v;
}

static json_t *result_new(bool ok, const char *message, const char *out, const char *err,
                          int64_t code, bool has_code)
{
    return json_pack("{s:b, s:o, s:o, s:o, s:o}", "ok", ok, "message", trimmed_text(message),
                     "stdout", trimmed_text(out), "stderr", trimmed_text(err), "code",
                     has_code ? json_integer(code) : json_null());
}

/* OpenClaw's summarizeInstallOutput: the first "error" line, else one mentioning an
 * error or a failure, else the last line; whitespace collapsed, 200 characters. */
static bool summarize(const char *text, char *out, size_t outlen)
{
    const char *pick = NULL, *last = NULL, *mention = NULL;
    size_t pick_len = 0, last_len = 0, mention_len = 0;
    for (const char *s = text; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        const char *b = s;
        size_t l = n;
        while (l && isspace((unsigned char)*b)) {
            b++;
            l--;
        }
        while (l && isspace((unsigned char)b[l - 1]))
            l--;
        if (l) {
            char low[256];
            size_t ll = l < sizeof low - 1 ? l : sizeof low - 1;
            for (size_t i = 0; i < ll; i++)
                low[i] = (char)tolower((unsigned char)b[i]);
            low[ll] = 0;
            if (!pick && !strncmp(low, "error", 5) && !isalnum((unsigned char)low[5])) {
                pick = b;
                pick_len = l;
            }
            if (!mention &&
                (strstr(low, "err!") || strstr(low, "error:") || strstr(low, "failed"))) {
                mention = b;
                mention_len = l;
            }
            last = b;
            last_len = l;
        }
        s = e ? e + 1 : NULL;
    }
    if (!pick) {
        pick = mention ? mention : last;
        pick_len = mention ? mention_len : last_len;
    }
    if (!pick) return false;
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < pick_len && o + 4 < outlen; i++) {
        if (isspace((unsigned char)pick[i])) {
            space = true;
            continue;
        }
        if (space && o) out[o++] = ' ';
        space = false;
        out[o++] = pick[i];
    }
    out[o] = 0;
    if (o >= 200) snprintf(out + 199, outlen - 199, "…");
    return true;
}

static void failure_message(char *buf, size_t len, const char *what, int64_t code, bool has_code,
                            const char *out, const char *err)
{
    char code_s[32], summary[300];
    if (has_code)
        snprintf(code_s, sizeof code_s, "exit %lld", (long long)code);
    else
        snprintf(code_s, sizeof code_s, "unknown exit");
    if (summarize(err, summary, sizeof summary) || summarize(out, summary, sizeof summary))
        snprintf(buf, len, "%s failed (%s): %s", what, code_s, summary);
    else
        snprintf(buf, len, "%s failed (%s)", what, code_s);
}

/* ---- lifetime ---- */

static void free_install(cg_skill_install *in)
{
    json_decref(in->spec);
    json_decref(in->pending);
    cg_buf_reset(&in->out);
    cg_buf_reset(&in->err);
    free(in->skill_key);
    free(in->label);
    free(in->tools_root);
    free(in->target_dir);
    free(in->filename);
    free(in->tmp_path);
    free(in->staging_dir);
    free(in->step_error);
    free(in->step_message);
    free(in);
}

static void maybe_free(cg_skill_install *in)
{
    if (in->open_handles == 0 && in->step == STEP_NONE && (in->finished || in->cancelled))
        free_install(in);
}

static void on_handle_closed(uv_handle_t *h)
{
    cg_skill_install *in = h->data;
    in->open_handles--;
    maybe_free(in);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, on_handle_closed);
}

static void kill_group(cg_skill_install *in)
{
    if (in->running && in->proc.pid > 0) kill(-in->proc.pid, SIGKILL);
}

static void start_cleanup(cg_skill_install *in);
static void on_timer(uv_timer_t *t);

/* Answers (once) and lets go of the timer. */
static void finish(cg_skill_install *in, json_t *result)
{
    if (in->finished || in->cancelled) {
        json_decref(result);
        return;
    }
    in->finished = true;
    uv_timer_stop(&in->timer);
    close_handle((uv_handle_t *)&in->timer);
    cg_log(json_is_true(json_object_get(result, "ok")) ? CG_LOG_INFO : CG_LOG_WARN, "skills",
           "skill install finished",
           json_pack("{s:s, s:s, s:O, s:O}", "skillKey", in->skill_key, "installId",
                     json_string_value(json_object_get(in->spec, "id")), "ok",
                     json_object_get(result, "ok"), "message", json_object_get(result, "message")));
    in->cb(result, in->data);
    if (in->step == STEP_NONE && (in->tmp_path || in->staging_dir)) start_cleanup(in);
    maybe_free(in);
}

/* A result decided now, delivered on a later loop turn. */
static void finish_later(cg_skill_install *in, json_t *result)
{
    in->pending = result;
    uv_timer_start(&in->timer, on_timer, 0, 0);
}

void cg_skill_install_cancel(cg_skill_install *in)
{
    if (in->finished || in->cancelled) return;
    in->cancelled = true;
    kill_group(in);
    uv_timer_stop(&in->timer);
    close_handle((uv_handle_t *)&in->timer);
    if (in->running) {
        if (in->out_open) close_handle((uv_handle_t *)&in->out_pipe);
        if (in->err_open) close_handle((uv_handle_t *)&in->err_pipe);
        in->out_open = in->err_open = false;
    }
    if (in->step == STEP_NONE && (in->tmp_path || in->staging_dir)) start_cleanup(in);
    maybe_free(in);
}

/* ---- processes ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static __thread char chunk[16384];
    buf->base = chunk;
    buf->len = sizeof chunk;
}

static void process_maybe_done(cg_skill_install *in)
{
    if (!in->exited || in->out_open || in->err_open) return;
    in->running = false;
    if (in->cancelled) return;
    if (in->out.len || in->err.len)
        cg_log(CG_LOG_INFO, "skills", "installer output",
               json_pack("{s:s, s:s, s:o, s:o, s:I, s:I}", "skillKey", in->skill_key, "program",
                         in->label, "stdout", trimmed_text(in->out.data), "stderr",
                         trimmed_text(in->err.data), "stdoutDropped", (json_int_t)in->out_dropped,
                         "stderrDropped", (json_int_t)in->err_dropped));
    in->on_exit(in);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    cg_skill_install *in = s->data;
    bool is_out = s == (uv_stream_t *)&in->out_pipe;
    if (n < 0) {
        if (is_out)
            in->out_open = false;
        else
            in->err_open = false;
        close_handle((uv_handle_t *)s);
        process_maybe_done(in);
        return;
    }
    cg_buf *b = is_out ? &in->out : &in->err;
    size_t *dropped = is_out ? &in->out_dropped : &in->err_dropped;
    size_t room = b->len < CG_SKILL_INSTALL_OUTPUT_MAX ? CG_SKILL_INSTALL_OUTPUT_MAX - b->len : 0;
    size_t take = (size_t)n < room ? (size_t)n : room;
    if (take) cg_buf_append(b, buf->base, take);
    *dropped += (size_t)n - take;
}

static void on_proc_exit(uv_process_t *p, int64_t status, int signal)
{
    cg_skill_install *in = p->data;
    in->exited = true;
    in->exit_status = status;
    in->term_signal = signal;
    close_handle((uv_handle_t *)p);
    process_maybe_done(in);
}

/* Spawns argv (argv[0] looked up on PATH) in its own process group; on_exit runs once it
 * exited and its output is read. false (with *error set) when it could not start. */
static bool spawn(cg_skill_install *in, char **argv, char **env, const char *cwd,
                  void (*on_exit)(cg_skill_install *), char *error, size_t errlen)
{
    free(in->label);
    in->label = cg_strdup(argv[0]);
    cg_buf_reset(&in->out);
    cg_buf_reset(&in->err);
    in->out_dropped = in->err_dropped = 0;
    in->exited = false;
    in->on_exit = on_exit;
    uv_pipe_init(in->loop, &in->out_pipe, 0);
    uv_pipe_init(in->loop, &in->err_pipe, 0);
    in->out_pipe.data = in->err_pipe.data = in->proc.data = in;
    in->open_handles += 3;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&in->out_pipe},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&in->err_pipe},
    };
    uv_process_options_t opts = {
        .exit_cb = on_proc_exit,
        .file = argv[0],
        .args = argv,
        .env = env,
        .cwd = cwd,
        .flags = UV_PROCESS_DETACHED | UV_PROCESS_WINDOWS_HIDE,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int rc = uv_spawn(in->loop, &in->proc, &opts);
    if (rc != 0) {
        close_handle((uv_handle_t *)&in->proc);
        close_handle((uv_handle_t *)&in->out_pipe);
        close_handle((uv_handle_t *)&in->err_pipe);
        if (rc == UV_ENOENT)
            snprintf(error, errlen, "%s not installed (not found on PATH)", argv[0]);
        else
            snprintf(error, errlen, "%s could not be started: %s", argv[0], uv_strerror(rc));
        return false;
    }
    in->running = in->out_open = in->err_open = true;
    uv_read_start((uv_stream_t *)&in->out_pipe, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&in->err_pipe, on_alloc, on_read);
    cg_log(CG_LOG_INFO, "skills", "installer started",
           json_pack("{s:s, s:s, s:I}", "skillKey", in->skill_key, "program", argv[0], "pid",
                     (json_int_t)in->proc.pid));
    return true;
}

static json_t *process_failure(cg_skill_install *in, const char *what)
{
    char msg[512];
    bool has_code = in->term_signal == 0;
    if (in->timed_out)
        snprintf(msg, sizeof msg, "%s timed out after %llu ms (installer killed)", what,
                 (unsigned long long)in->timeout_ms);
    else
        failure_message(msg, sizeof msg, what, in->exit_status, has_code, in->out.data,
                        in->err.data);
    return result_new(false, msg, in->out.data, in->err.data, in->exit_status,
                      has_code && !in->timed_out);
}

static void package_installer_exited(cg_skill_install *in)
{
    if (!in->timed_out && in->term_signal == 0 && in->exit_status == 0)
        finish(in, result_new(true, "Installed", in->out.data, in->err.data, 0, true));
    else
        finish(in, process_failure(in, "Install"));
}

/* ---- timer: deadline and delayed results ---- */

static void on_timer(uv_timer_t *t)
{
    cg_skill_install *in = t->data;
    if (in->pending) {
        json_t *r = in->pending;
        in->pending = NULL;
        finish(in, r);
        return;
    }
    in->timed_out = true;
    cg_log(CG_LOG_WARN, "skills", "skill install timed out",
           json_pack("{s:s, s:I}", "skillKey", in->skill_key, "timeoutMs",
                     (json_int_t)in->timeout_ms));
    if (in->running) {
        kill_group(in); /* the exit comes back through on_proc_exit */
        return;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "Install timed out after %llu ms",
             (unsigned long long)in->timeout_ms);
    finish(in, result_new(false, msg, NULL, NULL, 0, false));
}

/* ---- node, uv, go ---- */

static const char *check_value(const char *value, const char *what, const char *pattern, bool icase,
                               char *err, size_t errlen)
{
    if (!value || !*value || value[0] == '-') {
        snprintf(err, errlen, "%s value is empty or starts with a dash", what);
        return err;
    }
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)) != 0) {
        snprintf(err, errlen, "%s value could not be checked", what);
        return err;
    }
    int rc = regexec(&re, value, 0, NULL, 0);
    regfree(&re);
    if (rc != 0) {
        snprintf(err, errlen, "%s value contains invalid characters: %s", what, value);
        return err;
    }
    return NULL;
}

static char **env_with(const char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = cg_xcalloc(n + m + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        env[k++] = (char *)extra[i];
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < m && !replaced; j++) {
            size_t kl = strcspn(extra[j], "=");
            replaced = !strncmp(environ[i], extra[j], kl + 1);
        }
        if (!replaced) env[k++] = environ[i];
    }
    return env;
}

static void start_package_installer(cg_skill_install *in, const char *state_dir)
{
    const char *kind = json_string_value(json_object_get(in->spec, "kind"));
    char err[4608];
    char *argv[8] = {0};
    char **env = NULL;
    char prefix_a[4200], prefix_b[4200];
    const char *bad = NULL;
    if (!strcmp(kind, "node")) {
        const char *pkg = json_string_value(json_object_get(in->spec, "package"));
        bad = check_value(pkg, "node package",
                          "^(@[a-z0-9._-]+/)?[a-z0-9._-]+(@[a-z0-9^~>=<.*|-]+)?$", false, err,
                          sizeof err);
        char **a = (char *[]){"npm", "install", "-g", "--ignore-scripts", (char *)pkg, NULL};
        memcpy(argv, a, 6 * sizeof *a);
        char prefix[4096];
        snprintf(prefix, sizeof prefix, "%s/tools/node/npm", state_dir);
        int rc = bad ? 0 : cg_mkdir_p(prefix, 0700);
        if (rc != 0) {
            snprintf(err, sizeof err, "could not create %s: %s", prefix, strerror(-rc));
            bad = err;
        }
        snprintf(prefix_a, sizeof prefix_a, "NPM_CONFIG_PREFIX=%s", prefix);
        snprintf(prefix_b, sizeof prefix_b, "npm_config_prefix=%s", prefix);
        const char *extra[] = {prefix_a, prefix_b, NULL};
        env = env_with(extra);
    } else if (!strcmp(kind, "uv")) {
        const char *pkg = json_string_value(json_object_get(in->spec, "package"));
        bad = check_value(
            pkg, "uv package",
            "^[a-z0-9][a-z0-9._-]*(\\[[a-z0-9,._-]+\\])?(([><=!~]=?|===?)[a-z0-9.*_-]+)?$", true,
            err, sizeof err);
        char **a = (char *[]){"uv", "tool", "install", (char *)pkg, NULL};
        memcpy(argv, a, 5 * sizeof *a);
    } else if (!strcmp(kind, "go")) {
        const char *module = json_string_value(json_object_get(in->spec, "module"));
        bad = check_value(module, "go module", "^[a-zA-Z0-9][a-zA-Z0-9._/-]*@[a-z0-9v._-]+$", false,
                          err, sizeof err);
        char **a = (char *[]){"go", "install", (char *)module, NULL};
        memcpy(argv, a, 4 * sizeof *a);
    } else {
        snprintf(err, sizeof err, "%s installs are not supported by clawgate", kind);
        bad = err;
    }
    if (!bad && !spawn(in, argv, env, state_dir, package_installer_exited, err, sizeof err))
        bad = err;
    free(env);
    if (bad) finish_later(in, result_new(false, bad, NULL, NULL, 0, false));
}

/* ---- download ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct fetch_state {
    FILE *f;
    EVP_MD_CTX *md;
    uint64_t bytes;
    bool too_large;
} fetch_state;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    fetch_state *fs = userdata;
    size_t n = size * nmemb;
    if (fs->bytes + n > CG_SKILL_DOWNLOAD_MAX_BYTES) {
        fs->too_large = true;
        return 0;
    }
    if (fwrite(data, 1, n, fs->f) != n) return 0;
    EVP_DigestUpdate(fs->md, data, n);
    fs->bytes += n;
    return n;
}

static void set_step_error(cg_skill_install *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_step_error(cg_skill_install *in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(in->step_error);
    in->step_error = cg_strdup_vprintf(1024, fmt, ap);
    va_end(ap);
}

static void fetch_work(uv_work_t *w)
{
    cg_skill_install *in = w->data;
    cg_thread_background();
    const char *url = json_string_value(json_object_get(in->spec, "url"));
    const char *sha = json_string_value(json_object_get(in->spec, "sha256"));
    int made = cg_mkdir_p(in->target_dir, 0755);
    if (made != 0) {
        set_step_error(in, "could not create %s: %s", in->target_dir, strerror(-made));
        return;
    }
    int fd = open(in->tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_step_error(in, "could not create %s: %s", in->tmp_path, strerror(errno));
        return;
    }
    fetch_state fs = {.f = fdopen(fd, "wb"), .md = EVP_MD_CTX_new()};
    EVP_DigestInit_ex(fs.md, EVP_sha256(), NULL);
    CURL *c = curl_easy_init();
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)in->timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "clawgate-skills");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &fs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    bool write_ok = fclose(fs.f) == 0;
    unsigned char digest[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(fs.md, digest, &dl);
    EVP_MD_CTX_free(fs.md);
    in->downloaded = fs.bytes;
    if (fs.too_large)
        set_step_error(in, "Skill download exceeds %llu-byte limit",
                       (unsigned long long)CG_SKILL_DOWNLOAD_MAX_BYTES);
    else if (rc != CURLE_OK)
        set_step_error(in, "Download failed: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        set_step_error(in, "Download failed (%ld)", status);
    else if (!write_ok)
        set_step_error(in, "could not write %s", in->tmp_path);
    if (in->step_error) return;
    if (sha) {
        char hex[65];
        for (unsigned i = 0; i < dl && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", digest[i]);
        if (strcmp(hex, sha) != 0) {
            set_step_error(in,
                           "SHA-256 mismatch for %s: expected %s, actual %s. The download was "
                           "discarded; verify the publisher checksum or update the skill manifest "
                           "before retrying.",
                           in->filename, sha, hex);
            return;
        }
    }
    if (!in->archive_flag) {
        char dest[4600];
        snprintf(dest, sizeof dest, "%s/%s", in->target_dir, in->filename);
        if (rename(in->tmp_path, dest) != 0) {
            set_step_error(in, "could not move the download to %s: %s", dest, strerror(errno));
            return;
        }
        free(in->tmp_path);
        in->tmp_path = NULL;
        char msg[4700];
        snprintf(msg, sizeof msg, "Downloaded to %s", dest);
        in->step_message = cg_strdup(msg);
        return;
    }
    if (mkdir(in->staging_dir, 0700) != 0)
        set_step_error(in, "could not create %s: %s", in->staging_dir, strerror(errno));
}

/* Checks the staged tree (folders and regular files with one link only), then moves it
 * into the target folder. */
static bool publish_dir(cg_skill_install *in, const char *src, const char *dst, const char *rel,
                        bool check_only, int depth)
{
    if (depth > 64) {
        set_step_error(in, "archive is nested too deep");
        return false;
    }
    DIR *d = opendir(src);
    if (!d) {
        set_step_error(in, "could not read %s: %s", src, strerror(errno));
        return false;
    }
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char s[4096], t[4096], r[4096];
        snprintf(s, sizeof s, "%s/%s", src, de->d_name);
        snprintf(t, sizeof t, "%s/%s", dst, de->d_name);
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        struct stat st;
        if (lstat(s, &st) != 0) {
            set_step_error(in, "could not read %s: %s", s, strerror(errno));
            ok = false;
        } else if (S_ISDIR(st.st_mode)) {
            if (!check_only) {
                struct stat ts;
                if (lstat(t, &ts) == 0 && !S_ISDIR(ts.st_mode)) {
                    set_step_error(in, "archive entry replaces a file with a folder: %s", r);
                    ok = false;
                    break;
                }
                mkdir(t, st.st_mode & 0777);
            }
            ok = publish_dir(in, s, t, r, check_only, depth + 1);
        } else if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
            set_step_error(in, "archive staging contains unsupported entry: %s", r);
            ok = false;
        } else if (!check_only) {
            struct stat ts;
            if (lstat(t, &ts) == 0 && S_ISLNK(ts.st_mode)) {
                set_step_error(in, "archive entry traverses symlink in destination: %s", r);
                ok = false;
            } else if (rename(s, t) != 0) {
                set_step_error(in, "could not move %s: %s", r, strerror(errno));
                ok = false;
            }
        }
    }
    closedir(d);
    return ok;
}

static void publish_work(uv_work_t *w)
{
    cg_skill_install *in = w->data;
    cg_thread_background();
    if (publish_dir(in, in->staging_dir, in->target_dir, "", true, 0) &&
        publish_dir(in, in->staging_dir, in->target_dir, "", false, 0)) {
        char msg[4200];
        snprintf(msg, sizeof msg, "Downloaded and extracted to %s", in->target_dir);
        in->step_message = cg_strdup(msg);
    }
    rm_tree(in->staging_dir);
    unlink(in->tmp_path);
    free(in->staging_dir);
    free(in->tmp_path);
    in->staging_dir = in->tmp_path = NULL;
}

static void cleanup_work(uv_work_t *w)
{
    cg_skill_install *in = w->data;
    cg_thread_background();
    if (in->staging_dir) rm_tree(in->staging_dir);
    if (in->tmp_path) unlink(in->tmp_path);
}

static void step_after(uv_work_t *w, int status);

static void queue_step(cg_skill_install *in, pool_step step, uv_work_cb fn)
{
    in->step = step;
    in->work.data = in;
    uv_queue_work(in->loop, &in->work, fn, step_after);
}

static void start_cleanup(cg_skill_install *in)
{
    queue_step(in, STEP_CLEANUP, cleanup_work);
}

static void tar_exited(cg_skill_install *in)
{
    if (in->timed_out || in->term_signal != 0 || in->exit_status != 0) {
        finish(in, process_failure(in, "Extract"));
        return;
    }
    queue_step(in, STEP_PUBLISH, publish_work);
}

static void step_after(uv_work_t *w, int status)
{
    (void)status;
    cg_skill_install *in = w->data;
    pool_step step = in->step;
    in->step = STEP_NONE;
    if (step == STEP_CLEANUP) {
        free(in->staging_dir);
        free(in->tmp_path);
        in->staging_dir = in->tmp_path = NULL;
        maybe_free(in);
        return;
    }
    if (in->finished || in->cancelled) { /* answered at the deadline, or nobody waits */
        if (in->tmp_path || in->staging_dir)
            start_cleanup(in);
        else
            maybe_free(in);
        return;
    }
    char out[64];
    snprintf(out, sizeof out, "downloaded=%llu", (unsigned long long)in->downloaded);
    if (in->step_error) {
        finish(in, result_new(false, in->step_error, NULL, in->step_error, 0, false));
    } else if (step == STEP_PUBLISH || !in->archive_flag) {
        finish(in, result_new(true, in->step_message, step == STEP_PUBLISH ? in->out.data : out,
                              in->err.data, 0, true));
    } else {
        char strip[48];
        int64_t n = json_integer_value(json_object_get(in->spec, "stripComponents"));
        snprintf(strip, sizeof strip, "--strip-components=%lld", (long long)(n > 0 ? n : 0));
        char *argv[] = {"tar",        "-x", (char *)in->archive_flag, "-f",
                        in->tmp_path, "-C", in->staging_dir,          "--no-same-owner",
                        strip,        NULL};
        char err[512];
        if (!spawn(in, argv, NULL, in->tools_root, tar_exited, err, sizeof err))
            finish(in, result_new(false, err, NULL, err, 0, false));
    }
}

/* DIR/tools/<key>: the key as a path segment (OpenClaw's safePathSegmentHashed: unsafe
 * characters become "_", and a hash suffix keeps changed keys distinct). */
static char *tools_root_for(const char *state_dir, const char *key)
{
    char seg[160];
    size_t n = 0;
    bool changed = key[0] == '.' || !key[0];
    for (const char *s = key; *s && n < 100; s++) {
        bool ok = isalnum((unsigned char)*s) || *s == '.' || *s == '_' || *s == '-';
        seg[n++] = ok ? *s : '_';
        changed |= !ok;
    }
    changed |= strlen(key) > 100;
    seg[n] = 0;
    if (changed) {
        unsigned char d[32];
        unsigned int dl = 0;
        EVP_Digest(key, strlen(key), d, &dl, EVP_sha256(), NULL);
        snprintf(seg + n, sizeof seg - n, "-%02x%02x%02x%02x", d[0], d[1], d[2], d[3]);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/tools/%s", state_dir, seg);
    return cg_strdup(path);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

static void start_download(cg_skill_install *in, const char *state_dir)
{
    char err[13000];
    const char *url = json_string_value(json_object_get(in->spec, "url"));
    in->tools_root = tools_root_for(state_dir, in->skill_key);
    /* targetDir: inside the tools folder, never outside it. */
    const char *raw = json_string_value(json_object_get(in->spec, "targetDir"));
    while (raw && isspace((unsigned char)*raw))
        raw++;
    char target[4200];
    if (!raw || !*raw) {
        snprintf(target, sizeof target, "%s", in->tools_root);
    } else {
        if (raw[0] == '/' || raw[0] == '~')
            snprintf(target, sizeof target, "%s", raw);
        else
            snprintf(target, sizeof target, "%s/%s", in->tools_root, raw);
        size_t rl = strlen(in->tools_root);
        bool inside = !strncmp(target, in->tools_root, rl) && (target[rl] == '/' || !target[rl]);
        for (const char *p = target; inside && (p = strstr(p, "..")); p += 2)
            if ((p == target || p[-1] == '/') && (p[2] == '/' || !p[2])) inside = false;
        if (!inside) {
            snprintf(err, sizeof err,
                     "Refusing to install outside the skill tools directory. targetDir=\"%s\" "
                     "resolves to \"%s\". Allowed root: \"%s\".",
                     raw, target, in->tools_root);
            finish_later(in, result_new(false, err, NULL, err, 0, false));
            return;
        }
    }
    in->target_dir = cg_strdup(target);
    /* The file name: the last segment of the URL's path. */
    const char *path = strstr(url, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    char name[256] = "";
    if (path) {
        size_t plen = strcspn(path, "?#");
        const char *last = path + plen;
        while (last > path && last[-1] != '/')
            last--;
        size_t nl = (size_t)(path + plen - last);
        if (nl < sizeof name) {
            memcpy(name, last, nl);
            name[nl] = 0;
        }
    }
    if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
        snprintf(name, sizeof name, "download");
    in->filename = cg_strdup(name);
    const char *archive = json_string_value(json_object_get(in->spec, "archive"));
    const char *type = archive                                                   ? archive
                       : ends_with(name, ".tar.gz") || ends_with(name, ".tgz")   ? "tar.gz"
                       : ends_with(name, ".tar.bz2") || ends_with(name, ".tbz2") ? "tar.bz2"
                       : ends_with(name, ".zip")                                 ? "zip"
                                                                                 : NULL;
    const json_t *extract = json_object_get(in->spec, "extract");
    bool want = json_is_boolean(extract) ? json_is_true(extract) : type != NULL;
    if (want) {
        if (!type) {
            finish_later(in, result_new(false,
                                        "extract requested but archive type could not be detected",
                                        NULL, NULL, 0, false));
            return;
        }
        if (!strcasecmp(type, "tar.gz") || !strcasecmp(type, "tgz"))
            in->archive_flag = "-z";
        else if (!strcasecmp(type, "tar.bz2") || !strcasecmp(type, "tbz2"))
            in->archive_flag = "-j";
        else {
            snprintf(err, sizeof err, "archive type %s is not supported by clawgate", type);
            finish_later(in, result_new(false, err, NULL, NULL, 0, false));
            return;
        }
    }
    char hex[17], tmp[4300];
    cg_random_hex(hex, 8);
    snprintf(tmp, sizeof tmp, "%s/.download-%s", in->tools_root, hex);
    in->tmp_path = cg_strdup(tmp);
    snprintf(tmp, sizeof tmp, "%s/.extract-%s", in->tools_root, hex);
    in->staging_dir = in->archive_flag ? cg_strdup(tmp) : NULL;
    queue_step(in, STEP_FETCH, fetch_work);
}

cg_skill_install *cg_skill_install_start(uv_loop_t *loop, const char *state_dir,
                                         const char *skill_key, const json_t *spec,
                                         uint64_t timeout_ms, cg_skill_install_fn cb, void *data)
{
    cg_skill_install *in = cg_xcalloc(1, sizeof *in);
    in->loop = loop;
    in->skill_key = cg_strdup(skill_key);
    in->spec = json_deep_copy(spec);
    in->timeout_ms = timeout_ms;
    in->cb = cb;
    in->data = data;
    uv_timer_init(loop, &in->timer);
    in->timer.data = in;
    in->open_handles = 1;
    uv_timer_start(&in->timer, on_timer, timeout_ms, 0);
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    cg_log(CG_LOG_INFO, "skills", "skill install started",
           json_pack("{s:s, s:s?, s:s?, s:I}", "skillKey", skill_key, "installId",
                     json_string_value(json_object_get(spec, "id")), "kind", kind, "timeoutMs",
                     (json_int_t)timeout_ms));
    if (kind && !strcmp(kind, "download"))
        start_download(in, state_dir);
    else
        start_package_installer(in, state_dir);
    return in;
}
