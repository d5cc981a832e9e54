/* gateway.tailscale.mode serve|funnel: the `tailscale` child and the port it proxies to.
 *
 * As OpenClaw does, the gateway opens one more listener, on 127.0.0.1 and a port the
 * kernel picks, and runs `tailscale serve --yes --bg=false <port>` (or `funnel`) as a
 * child it owns: Tailscale terminates HTTPS on the tailnet (or the internet) and proxies
 * to that port. Connections accepted there carry their ingress (auth/tailscale.h); the
 * gateway's own listeners stay as they are. In the foreground (--bg=false) the route
 * lives as long as the child, so stopping the child removes it (which is what
 * gateway.tailscale.resetOnExit used to ask for).
 *
 * Start: the mode needs `tailscale` on PATH, checked before anything binds (a clear
 * startup error otherwise); the config already refused funnel without password auth.
 * The child's stdout and stderr share one pipe, logged line by line (a bounded line,
 * a bounded number of lines per child). When the child exits on its own it is restarted
 * after a back-off: 1 s, doubling to 60 s, back to 1 s once a child stayed up 60 s;
 * meanwhile the health subsystem "tailscale" fails. Shutdown closes the port and sends
 * SIGTERM, then SIGKILL 500 ms later, so the gateway still exits within a second; the
 * loop runs until the child exited, so none is left unreaped.
 *
 * Not done (OpenClaw does): retrying through `sudo -n` when tailscale wants root,
 * waiting for tailscaled to finish booting, adopting routes of older releases. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "gateway/gateway_int.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
#define STABLE_MS 60000   /* a child up this long starts the back-off over */
#define KILL_AFTER_MS 500 /* from SIGTERM to SIGKILL at shutdown */
#define OUTPUT_LINE_MAX 512
#define OUTPUT_LINES_MAX 100 /* logged per child */
#define DRAIN_MAX 65536      /* output read at exit */

typedef struct serve_child {
    cg_tailscale_serve *owner;
    uv_process_t proc;
    uv_pipe_t out;
    int open_handles;
    uint64_t started_ms;
    char line[OUTPUT_LINE_MAX];
    size_t line_len;
    int lines;
} serve_child;

struct cg_tailscale_serve {
    cg_gateway *gw;
    cg_tailscale_mode mode;
    const char *name; /* "serve" or "funnel" */
    cg_listener *ingress;
    uv_timer_t timer; /* the restart back-off; the SIGKILL deadline at shutdown */
    serve_child *child;
    uint64_t backoff_ms;
    unsigned starts;
    bool stopping;
};

static uint64_t mono_ms(void)
{
    return cg_mono_ns() / 1000000u;
}

/* Whether PATH holds an executable file `name` (an empty entry is the current dir). */
static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path) return false;
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char file[4096];
        struct stat st;
        if (len + strlen(name) + 2 <= sizeof file) {
            snprintf(file, sizeof file, "%.*s%s%s", (int)len, len ? p : "", len ? "/" : "", name);
            if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0) return true;
        }
        if (!end) return false;
        p = end;
    }
}

int cg_tailscale_serve_check(const cg_settings *s, char *err, size_t errlen)
{
    if (s->tailscale_mode == CG_TAILSCALE_OFF || on_path("tailscale")) return 0;
    snprintf(err, errlen,
             "gateway.tailscale.mode is %s, but the tailscale command is not on PATH (install "
             "Tailscale, or set gateway.tailscale.mode to off)",
             s->tailscale_mode == CG_TAILSCALE_SERVE ? "serve" : "funnel");
    return -1;
}

/* ---- the child's output ---- */

static void emit_line(serve_child *ch)
{
    if (ch->line_len == 0) return;
    if (ch->lines++ < OUTPUT_LINES_MAX)
        cg_log(CG_LOG_INFO, "tailscale", "tailscale output",
               json_pack("{s:s, s:s%}", "mode", ch->owner->name, "line", ch->line, ch->line_len));
    else if (ch->lines == OUTPUT_LINES_MAX + 1)
        cg_log(CG_LOG_WARN, "tailscale", "further tailscale output is not logged",
               json_pack("{s:s}", "mode", ch->owner->name));
    ch->line_len = 0;
}

static void take_output(serve_child *ch, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' || data[i] == '\r') {
            emit_line(ch);
        } else {
            ch->line[ch->line_len++] = data[i];
            if (ch->line_len == sizeof ch->line) emit_line(ch);
        }
    }
}

static void on_output_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char chunk[4096]; /* consumed before the next read */
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_output(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    serve_child *ch = s->data;
    if (nread > 0)
        take_output(ch, buf->base, (size_t)nread);
    else if (nread < 0)
        uv_read_stop(s);
}

/* What the child wrote before it exited and is still in the pipe (the last error, most
 * often), read now: a process it left behind may hold the pipe open. */
static void drain_output(serve_child *ch)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&ch->out, &fd) != 0) return;
    char chunk[4096];
    ssize_t n;
    for (size_t total = 0; total < DRAIN_MAX && (n = read(fd, chunk, sizeof chunk)) > 0;
         total += (size_t)n)
        take_output(ch, chunk, (size_t)n);
    emit_line(ch);
}

/* ---- the child ---- */

static void child_handle_closed(uv_handle_t *h)
{
    serve_child *ch = h->data;
    if (--ch->open_handles == 0) free(ch);
}

static void spawn_child(cg_tailscale_serve *s);

static void on_restart_due(uv_timer_t *t)
{
    spawn_child(t->data);
}

/* The child is gone (or never started): try again after the back-off. */
static void schedule_restart(cg_tailscale_serve *s, const char *what)
{
    uint64_t delay = s->backoff_ms;
    s->backoff_ms = delay * 2 < BACKOFF_MAX_MS ? delay * 2 : BACKOFF_MAX_MS;
    char message[256];
    snprintf(message, sizeof message, "tailscale %s %s; restarting in %llu s", s->name, what,
             (unsigned long long)(delay / 1000));
    cg_gateway_set_subsystem(s->gw, "tailscale", false, message);
    uv_timer_start(&s->timer, on_restart_due, delay, 0);
}

static void on_child_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
    serve_child *ch = p->data;
    cg_tailscale_serve *s = ch->owner;
    uint64_t up_ms = mono_ms() - ch->started_ms;
    drain_output(ch);
    s->child = NULL;
    uv_close((uv_handle_t *)&ch->proc, child_handle_closed);
    uv_close((uv_handle_t *)&ch->out, child_handle_closed);
    if (s->stopping) {
        cg_log(CG_LOG_INFO, "tailscale", "tailscale stopped",
               json_pack("{s:s, s:I, s:i}", "mode", s->name, "exitStatus", (json_int_t)exit_status,
                         "signal", term_signal));
        uv_timer_stop(&s->timer);
        uv_close((uv_handle_t *)&s->timer, NULL);
        return;
    }
    if (up_ms >= STABLE_MS) s->backoff_ms = BACKOFF_FIRST_MS;
    cg_log(CG_LOG_WARN, "tailscale", "tailscale exited; restarting after a back-off",
           json_pack("{s:s, s:I, s:i, s:I, s:I}", "mode", s->name, "exitStatus",
                     (json_int_t)exit_status, "signal", term_signal, "uptimeMs", (json_int_t)up_ms,
                     "restartInMs", (json_int_t)s->backoff_ms));
    char what[64];
    if (term_signal)
        snprintf(what, sizeof what, "was killed by signal %d", term_signal);
    else
        snprintf(what, sizeof what, "exited with status %lld", (long long)exit_status);
    schedule_restart(s, what);
}

static void spawn_child(cg_tailscale_serve *s)
{
    serve_child *ch = cg_xcalloc(1, sizeof *ch);
    ch->owner = s;
    ch->proc.data = ch->out.data = ch;
    ch->open_handles = 1;
    uv_pipe_init(s->gw->loop, &ch->out, 0);
    char port[16];
    snprintf(port, sizeof port, "%d", cg_listener_port(s->ingress));
    char *args[] = {"tailscale", (char *)s->name, "--yes", "--bg=false", port, NULL};
    uv_file fds[2];
    int rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
    if (rc == 0) {
        uv_pipe_open(&ch->out, fds[0]);
        uv_stdio_container_t stdio[3] = {
            {.flags = UV_IGNORE},
            {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
            {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
        };
        uv_process_options_t opts = {.exit_cb = on_child_exit,
                                     .file = args[0],
                                     .args = args,
                                     .stdio_count = 3,
                                     .stdio = stdio};
        /* From here the process handle exists, spawned or not, and closes like the pipe. */
        ch->open_handles = 2;
        rc = uv_spawn(s->gw->loop, &ch->proc, &opts);
        close(fds[1]);
    }
    s->starts++;
    if (rc != 0) {
        cg_log(CG_LOG_ERROR, "tailscale", "cannot run tailscale",
               json_pack("{s:s, s:s}", "mode", s->name, "error", uv_strerror(rc)));
        if (ch->open_handles == 2) uv_close((uv_handle_t *)&ch->proc, child_handle_closed);
        uv_close((uv_handle_t *)&ch->out, child_handle_closed);
        char what[160];
        snprintf(what, sizeof what, "could not be started (%s)", uv_strerror(rc));
        schedule_restart(s, what);
        return;
    }
    ch->started_ms = mono_ms();
    s->child = ch;
    uv_read_start((uv_stream_t *)&ch->out, on_output_alloc, on_output);
    cg_log(CG_LOG_INFO, "tailscale", s->starts == 1 ? "tailscale started" : "tailscale restarted",
           json_pack("{s:s, s:i, s:s, s:i}", "mode", s->name, "pid", ch->proc.pid, "target", port,
                     "start", s->starts));
    cg_gateway_set_subsystem(s->gw, "tailscale", true, NULL);
}

/* ---- the port ---- */

static void on_ingress(cg_listener *l, uv_stream_t *server, void *data)
{
    cg_gateway *gw = data;
    cg_conn_accept(gw, server, NULL,
                   gw->tailscale_serve->mode == CG_TAILSCALE_SERVE ? CG_INGRESS_TAILSCALE_SERVE
                                                                   : CG_INGRESS_TAILSCALE_FUNNEL);
}

int cg_tailscale_serve_start(cg_gateway *gw, char *err, size_t errlen)
{
    cg_tailscale_mode mode = gw->settings->tailscale_mode;
    if (mode == CG_TAILSCALE_OFF) return 0;
    const char *name = mode == CG_TAILSCALE_SERVE ? "serve" : "funnel";
    cg_listener *ingress;
    int rc = cg_listener_open(gw->loop, "127.0.0.1", 0, on_ingress, gw, &ingress);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1 for tailscale %s: %s", name,
                 uv_strerror(rc));
        return -1;
    }
    cg_tailscale_serve *s = cg_xcalloc(1, sizeof *s);
    *s = (cg_tailscale_serve){
        .gw = gw, .mode = mode, .name = name, .ingress = ingress, .backoff_ms = BACKOFF_FIRST_MS};
    uv_timer_init(gw->loop, &s->timer);
    s->timer.data = s;
    gw->tailscale_serve = s;
    cg_log(CG_LOG_INFO, "tailscale", "tailscale port listening",
           json_pack("{s:s, s:s}", "mode", name, "address", cg_listener_address(ingress)));
    spawn_child(s);
    return 0;
}

static void on_kill_due(uv_timer_t *t)
{
    cg_tailscale_serve *s = t->data;
    if (!s->child) return;
    cg_log(CG_LOG_WARN, "tailscale", "tailscale ignored SIGTERM; killing it",
           json_pack("{s:s, s:i}", "mode", s->name, "afterMs", KILL_AFTER_MS));
    uv_process_kill(&s->child->proc, SIGKILL);
}

void cg_tailscale_serve_stop(cg_gateway *gw)
{
    cg_tailscale_serve *s = gw->tailscale_serve;
    if (!s || s->stopping) return;
    s->stopping = true;
    cg_listener_close(s->ingress);
    s->ingress = NULL;
    uv_timer_stop(&s->timer);
    if (!s->child) {
        uv_close((uv_handle_t *)&s->timer, NULL);
        return;
    }
    uv_process_kill(&s->child->proc, SIGTERM);
    uv_timer_start(&s->timer, on_kill_due, KILL_AFTER_MS, 0);
}

void cg_tailscale_serve_free(cg_gateway *gw)
{
    free(gw->tailscale_serve);
    gw->tailscale_serve = NULL;
}
