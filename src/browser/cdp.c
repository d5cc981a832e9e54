/* Chromium over the DevTools pipe (see cdp.h).
 *
 * One launch is one `proc`: the process handle, the pipe we write commands to (the
 * child's fd 3), the pipe we read from (its fd 4) and a kill timer, freed when all four
 * handles have closed. The cg_cdp points at the current proc only; an exited proc
 * finishes closing on its own, so a relaunch never waits for it.
 *
 * Pending commands sit in one list with their deadlines; a single timer is kept armed
 * for the earliest one. When the browser exits every pending command is failed. A
 * command sent while no browser runs is failed on the next loop turn (the timer at 0),
 * so a reply never runs inside cg_cdp_send.
 *
 * Reading: bytes are appended to a buffer and split at NUL bytes; a message without a
 * NUL past CG_CDP_MAX_MESSAGE kills the browser (it would otherwise grow without bound). */
#include "browser/cdp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define KILL_GRACE_MS 3000
#define READ_CHUNK (256 * 1024)

typedef struct pending {
    struct pending *prev, *next;
    uint64_t id;
    uint64_t deadline_ms;    /* monotonic */
    cg_cdp_status expire_as; /* CG_CDP_TIMEOUT, or CG_CDP_GONE for a send that failed */
    const char *why;         /* with CG_CDP_GONE: why it could not be sent */
    char method[64];
    cg_cdp_reply_fn reply;
    void *data;
} pending;

typedef struct proc {
    cg_cdp *owner; /* NULL once detached from the cg_cdp (exited or freed) */
    uv_process_t process;
    uv_pipe_t to_browser, from_browser;
    uv_timer_t kill_timer;
    int open_handles;
    int pid;
    bool exited;
    cg_buf in; /* bytes read, not yet split */
} proc;

struct cg_cdp {
    uv_loop_t *loop;
    cg_cdp_event_fn on_event;
    cg_cdp_exit_fn on_exit;
    void *data;
    proc *p;
    bool ready;
    uint64_t next_id;
    pending *head;
    size_t n_pending;
    uv_timer_t timer;
};

static uint64_t mono_ms(void)
{
    return cg_mono_ns() / 1000000u;
}

/* ---- pending commands ---- */

static void on_timer(uv_timer_t *t);

static void unlink_pending(cg_cdp *cdp, pending *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        cdp->head = c->next;
    if (c->next) c->next->prev = c->prev;
    cdp->n_pending--;
}

static pending *find_pending(cg_cdp *cdp, uint64_t id)
{
    for (pending *c = cdp->head; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

static void arm_timer(cg_cdp *cdp)
{
    if (!cdp->head) {
        uv_timer_stop(&cdp->timer);
        return;
    }
    uint64_t earliest = UINT64_MAX;
    for (pending *c = cdp->head; c; c = c->next)
        if (c->deadline_ms < earliest) earliest = c->deadline_ms;
    uint64_t now = mono_ms();
    uv_timer_start(&cdp->timer, on_timer, earliest > now ? earliest - now : 0, 0);
}

/* Unlinks c, runs its reply and frees it. The reply may send or forget other commands. */
static void complete(cg_cdp *cdp, pending *c, cg_cdp_status status, const json_t *result,
                     const char *error)
{
    unlink_pending(cdp, c);
    c->reply(status, result, error, c->data);
    free(c);
}

static void fail_all(cg_cdp *cdp, const char *why)
{
    char msg[256];
    snprintf(msg, sizeof msg, "browser %s", why);
    /* A reply may send new commands (they are failed on the next turn: no browser). */
    while (cdp->head) {
        pending *c = cdp->head;
        complete(cdp, c, CG_CDP_GONE, NULL, msg);
    }
}

static void on_timer(uv_timer_t *t)
{
    cg_cdp *cdp = t->data;
    uint64_t now = mono_ms();
    for (;;) {
        pending *due = NULL;
        for (pending *c = cdp->head; c; c = c->next)
            if (c->deadline_ms <= now) {
                due = c;
                break;
            }
        if (!due) break;
        char msg[160];
        if (due->expire_as == CG_CDP_GONE)
            snprintf(msg, sizeof msg, "%s", due->why);
        else
            snprintf(msg, sizeof msg, "%s timed out", due->method);
        complete(cdp, due, due->expire_as, NULL, msg);
    }
    arm_timer(cdp);
}

/* ---- the process ---- */

static void proc_handle_closed(uv_handle_t *h)
{
    proc *p = h->data;
    if (--p->open_handles == 0) {
        cg_buf_reset(&p->in);
        free(p);
    }
}

static void proc_close_handles(proc *p)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&p->process, (uv_handle_t *)&p->to_browser,
                         (uv_handle_t *)&p->from_browser, (uv_handle_t *)&p->kill_timer};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        if (!uv_is_closing(hs[i])) uv_close(hs[i], proc_handle_closed);
}

/* The proc stops being the current one: pending commands fail, the owner hears why. */
static void detach_proc(cg_cdp *cdp, const char *how, bool notify)
{
    proc *p = cdp->p;
    cdp->p = NULL;
    cdp->ready = false;
    p->owner = NULL;
    uv_read_stop((uv_stream_t *)&p->from_browser);
    fail_all(cdp, how);
    if (notify && cdp->on_exit) cdp->on_exit(how, cdp->data);
}

static void on_process_exit(uv_process_t *h, int64_t status, int term_signal)
{
    proc *p = h->data;
    p->exited = true;
    /* Renderers and helpers are in the browser's process group: take them along. */
    if (p->pid > 0) kill(-p->pid, SIGKILL);
    char how[96];
    if (term_signal)
        snprintf(how, sizeof how, "killed by signal %d", term_signal);
    else
        snprintf(how, sizeof how, "exited with status %lld", (long long)status);
    cg_log(term_signal == SIGTERM || (!term_signal && status == 0) ? CG_LOG_INFO : CG_LOG_WARN,
           "browser", "chromium stopped", json_pack("{s:i, s:s}", "pid", p->pid, "how", how));
    cg_cdp *cdp = p->owner;
    if (cdp) detach_proc(cdp, how, true);
    proc_close_handles(p);
}

static void on_kill_timer(uv_timer_t *t)
{
    proc *p = t->data;
    if (!p->exited && p->pid > 0) kill(-p->pid, SIGKILL);
}

/* Something is wrong with the pipes: the browser cannot be talked to any more. */
static void kill_proc(proc *p)
{
    if (!p->exited && p->pid > 0) kill(-p->pid, SIGKILL);
}

/* ---- reading ---- */

static void dispatch_message(cg_cdp *cdp, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *msg = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(msg)) {
        json_decref(msg);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    if (json_is_integer(id)) {
        pending *c = find_pending(cdp, (uint64_t)json_integer_value(id));
        cdp->ready = true;
        if (c) {
            json_t *error = json_object_get(msg, "error");
            if (error) {
                const char *m = json_string_value(json_object_get(error, "message"));
                char buf[512];
                snprintf(buf, sizeof buf, "%s: %s", c->method, m ? m : "protocol error");
                complete(cdp, c, CG_CDP_ERROR, NULL, buf);
            } else {
                json_t *result = json_object_get(msg, "result");
                complete(cdp, c, CG_CDP_OK, result ? result : json_object(), NULL);
            }
            arm_timer(cdp);
        }
    } else {
        const char *method = json_string_value(json_object_get(msg, "method"));
        const char *session = json_string_value(json_object_get(msg, "sessionId"));
        if (method && cdp->on_event)
            cdp->on_event(method, json_object_get(msg, "params"), session, cdp->data);
    }
    json_decref(msg);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    proc *p = h->data;
    cg_buf_reserve(&p->in, READ_CHUNK);
    buf->base = p->in.data + p->in.len;
    buf->len = READ_CHUNK;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    proc *p = s->data;
    if (n < 0) {
        /* The browser closed its end: it is exiting (the exit callback reaps it). */
        uv_read_stop(s);
        if (n != UV_EOF) kill_proc(p);
        return;
    }
    p->in.len += (size_t)n;
    size_t start = 0;
    /* Split at NULs; each message dispatched may detach p (the browser went away). */
    while (p->owner) {
        char *nul = memchr(p->in.data + start, '\0', p->in.len - start);
        if (!nul) break;
        size_t len = (size_t)(nul - (p->in.data + start));
        dispatch_message(p->owner, p->in.data + start, len);
        start += len + 1;
    }
    if (start) {
        memmove(p->in.data, p->in.data + start, p->in.len - start);
        p->in.len -= start;
    }
    if (p->in.len > CG_CDP_MAX_MESSAGE) {
        cg_log(CG_LOG_WARN, "browser", "message from chromium over the bound; killing it",
               json_pack("{s:I}", "bytes", (json_int_t)p->in.len));
        p->in.len = 0;
        uv_read_stop(s);
        kill_proc(p);
    }
}

/* ---- writing ---- */

typedef struct write_req {
    uv_write_t req;
    char *text;
} write_req;

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    if (status < 0 && status != UV_ECANCELED) kill_proc(req->handle->data);
    free(w->text);
    free(w);
}

static int write_message(proc *p, const json_t *msg)
{
    if (uv_stream_get_write_queue_size((uv_stream_t *)&p->to_browser) > CG_CDP_MAX_QUEUED)
        return -1;
    size_t len = json_dumpb(msg, NULL, 0, JSON_COMPACT);
    if (!len) return -1;
    write_req *w = cg_xmalloc(sizeof *w);
    w->text = cg_xmalloc(len + 1);
    json_dumpb(msg, w->text, len, JSON_COMPACT);
    w->text[len] = '\0'; /* the message separator */
    uv_buf_t b = uv_buf_init(w->text, (unsigned)len + 1);
    if (uv_write(&w->req, (uv_stream_t *)&p->to_browser, &b, 1, on_written) != 0) {
        free(w->text);
        free(w);
        return -1;
    }
    return 0;
}

/* ---- public ---- */

cg_cdp *cg_cdp_new(uv_loop_t *loop, cg_cdp_event_fn on_event, cg_cdp_exit_fn on_exit, void *data)
{
    cg_cdp *cdp = cg_xcalloc(1, sizeof *cdp);
    cdp->loop = loop;
    cdp->on_event = on_event;
    cdp->on_exit = on_exit;
    cdp->data = data;
    cdp->next_id = 1;
    uv_timer_init(loop, &cdp->timer);
    cdp->timer.data = cdp;
    return cdp;
}

static void free_after_close(uv_handle_t *h)
{
    free(h->data);
}

void cg_cdp_free(cg_cdp *cdp)
{
    if (!cdp) return;
    if (cdp->p) {
        proc *p = cdp->p;
        kill_proc(p);
        detach_proc(cdp, "stopped", false);
        /* Not waiting for the exit: the loop is ending. The process handle's close
         * leaves the child to init, which reaps it. */
        proc_close_handles(p);
    }
    fail_all(cdp, "stopped");
    uv_close((uv_handle_t *)&cdp->timer, free_after_close);
}

int cg_cdp_launch(cg_cdp *cdp, const cg_cdp_launch_opts *opts, char *err, size_t errlen)
{
    if (cdp->p) return 0;
    if (access(opts->executable, X_OK) != 0) {
        snprintf(err, errlen, "browser executable not found: %s", opts->executable);
        return -1;
    }
    int rc = cg_mkdir_p(opts->user_data_dir, 0700);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create %s: %s", opts->user_data_dir, strerror(-rc));
        return -1;
    }
    char profile_arg[4200];
    snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", opts->user_data_dir);
    const char *args[32];
    size_t n = 0;
    args[n++] = opts->executable;
    if (opts->headless) args[n++] = "--headless=new";
    args[n++] = "--remote-debugging-pipe";
    args[n++] = profile_arg;
    args[n++] = "--no-first-run";
    args[n++] = "--no-default-browser-check";
    args[n++] = "--disable-gpu";
    args[n++] = "--disable-dev-shm-usage";
    args[n++] = "--disable-background-networking";
    args[n++] = "--disable-component-update";
    args[n++] = "--disable-sync";
    args[n++] = "--disable-extensions";
    args[n++] = "--mute-audio";
    args[n++] = "--password-store=basic";
    if (opts->no_sandbox) args[n++] = "--no-sandbox";
    args[n++] = "about:blank";
    args[n] = NULL;

    proc *p = cg_xcalloc(1, sizeof *p);
    p->owner = cdp;
    uv_pipe_init(cdp->loop, &p->to_browser, 0);
    uv_pipe_init(cdp->loop, &p->from_browser, 0);
    uv_timer_init(cdp->loop, &p->kill_timer);
    p->process.data = p->to_browser.data = p->from_browser.data = p->kill_timer.data = p;

    uv_stdio_container_t stdio[5] = {
        {.flags = UV_IGNORE},
        {.flags = UV_IGNORE},
        {.flags = UV_IGNORE},
        /* Flags are the child's view: it reads fd 3 and writes fd 4. */
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&p->to_browser},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
         .data.stream = (uv_stream_t *)&p->from_browser},
    };
    uv_process_options_t po = {
        .exit_cb = on_process_exit,
        .file = opts->executable,
        .args = (char **)args,
        .stdio_count = 5,
        .stdio = stdio,
        /* Its own process group (setsid): stopping it reaches every helper process. */
        .flags = UV_PROCESS_DETACHED,
    };
    rc = uv_spawn(cdp->loop, &p->process, &po);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start %s: %s", opts->executable, uv_strerror(rc));
        /* uv_spawn leaves the process handle initialized even when it fails. */
        p->open_handles = 4;
        p->owner = NULL;
        p->exited = true;
        proc_close_handles(p);
        return -1;
    }
    p->open_handles = 4;
    p->pid = p->process.pid;
    cdp->p = p;
    cdp->ready = false;
    uv_read_start((uv_stream_t *)&p->from_browser, on_alloc, on_read);
    cg_log(CG_LOG_INFO, "browser", "chromium started",
           json_pack("{s:i, s:s}", "pid", p->pid, "profile", opts->user_data_dir));
    return 0;
}

bool cg_cdp_running(const cg_cdp *cdp)
{
    return cdp->p != NULL;
}

bool cg_cdp_ready(const cg_cdp *cdp)
{
    return cdp->p && cdp->ready;
}

int cg_cdp_pid(const cg_cdp *cdp)
{
    return cdp->p ? cdp->p->pid : 0;
}

void cg_cdp_stop(cg_cdp *cdp)
{
    proc *p = cdp->p;
    if (!p || uv_is_active((uv_handle_t *)&p->kill_timer)) return;
    kill(-p->pid, SIGTERM);
    uv_timer_start(&p->kill_timer, on_kill_timer, KILL_GRACE_MS, 0);
}

uint64_t cg_cdp_send(cg_cdp *cdp, const char *method, json_t *params, const char *session_id,
                     uint64_t timeout_ms, cg_cdp_reply_fn reply, void *data)
{
    pending *c = cg_xcalloc(1, sizeof *c);
    c->id = cdp->next_id++;
    snprintf(c->method, sizeof c->method, "%s", method);
    c->reply = reply;
    c->data = data;
    c->expire_as = CG_CDP_TIMEOUT;
    c->deadline_ms = mono_ms() + timeout_ms;
    json_t *msg = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)c->id, "method", method, "params",
                            params ? params : json_object());
    if (session_id) json_object_set_new(msg, "sessionId", json_string(session_id));
    c->why = !cdp->p                                ? "browser is not running"
             : cdp->n_pending >= CG_CDP_MAX_PENDING ? "too many browser commands in flight"
             : write_message(cdp->p, msg) != 0      ? "browser is not reading its commands"
                                                    : NULL;
    if (c->why) {
        /* Failed on the next turn, never inside this call. */
        c->expire_as = CG_CDP_GONE;
        c->deadline_ms = 0;
    }
    json_decref(msg);
    c->next = cdp->head;
    if (cdp->head) cdp->head->prev = c;
    cdp->head = c;
    cdp->n_pending++;
    arm_timer(cdp);
    return c->id;
}

void cg_cdp_forget(cg_cdp *cdp, uint64_t id)
{
    pending *c = find_pending(cdp, id);
    if (!c) return;
    unlink_pending(cdp, c);
    free(c);
    arm_timer(cdp);
}
