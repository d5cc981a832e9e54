/* The browser controller (see controller.h): routes as small chains of CDP commands.
 *
 * A call is a state machine driven by continuations: every step sends one CDP command
 * (send_cmd) naming the function that takes its result (c->next); the shared helpers
 * resolve_tab (pick the tab, attach a flattened session) and eval (Runtime.evaluate by
 * value) continue with c->after. A call has exactly one command in flight, or waits
 * for an event (a page's load, the browser's exit), or for a thread-pool job (writing
 * a screenshot); finish() undoes whichever it is, so a call can end at any moment: its
 * deadline timer, the browser's exit, or its requester cancelling it.
 *
 * Sessions: one flattened CDP session per tab, cached (targetId -> sessionId) and dropped
 * when the browser reports the tab or the session gone. Page.enable is sent once per
 * session, before the first navigation (for Page.loadEventFired). */
#include "browser/controller.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "browser/cdp.h"
#include "browser/page_scripts.h"
#include "browser/url_policy.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_SESSIONS 64
/* Tabs closed lately: Target.getTargets may list a tab for a moment after the browser
 * reported it destroyed, so lists leave these out. */
#define RECENTLY_CLOSED 32
#define ID_LEN 64
#define SNAPSHOT_DEFAULT_CHARS 20000
#define SNAPSHOT_MAX_CHARS 500000
#define MAX_SCREENSHOT_B64 ((size_t)48 * 1024 * 1024)
/* Screenshots kept in DIR/browser/screenshots: older ones are removed after each write. */
#define SCREENSHOTS_KEPT 100
/* A CDP command's own timeout beyond the call's deadline: the call's timer ends it first. */
#define CDP_BACKSTOP_MS 2000

typedef struct session {
    char target_id[ID_LEN];
    char session_id[ID_LEN];
    bool page_enabled;
} session;

struct cg_browser {
    uv_loop_t *loop;
    cg_cdp *cdp;
    char *executable, *user_data_dir, *shot_dir;
    bool headless, no_sandbox, evaluate_enabled;
    uint64_t idle_ms;
    bool allow_private_network;
    char **allowed_hostnames;
    size_t allowed_hostnames_len;
    session sessions[MAX_SESSIONS];
    size_t n_sessions;
    char current[ID_LEN]; /* the tab last opened, focused or navigated */
    char closed[RECENTLY_CLOSED][ID_LEN];
    size_t closed_next;
    cg_browser_call *calls;
    size_t n_calls;
    size_t n_busy; /* calls that count as use (all but status): the idle timer waits for 0 */
    uint64_t shot_seq;
    uv_timer_t idle_timer;
};

typedef void (*step_fn)(cg_browser_call *c, const json_t *result);
typedef struct shot_job shot_job;
typedef struct dns_job dns_job;

struct cg_browser_call {
    cg_browser *b;
    cg_browser_call *prev, *next_call;
    cg_browser_done done;
    void *data;
    bool cancelled;
    char method[8];
    char *path;
    json_t *query, *body; /* body: always an object */
    uint64_t timeout_ms;
    uv_timer_t timer; /* first: start on the next turn; then: the deadline */

    uint64_t cdp_id; /* the command in flight, 0 when none */
    const char *cdp_method;
    step_fn next;  /* takes the command's result */
    step_fn after; /* continuation of resolve_tab / eval */

    char target_id[ID_LEN];
    char session_id[ID_LEN];
    char *tab_url;
    bool wait_load, load_seen, navigated; /* a navigation waiting for its load event */
    bool wait_exit;                       /* /stop waiting for the browser to exit */
    shot_job *job;                        /* a screenshot being written */
    dns_job *dns;                         /* a URL's host being resolved */
    json_t *acc;                          /* what a route collects on the way */
    bool over_cap;                        /* refused: CG_BROWSER_MAX_CALLS in flight */
    bool busy;                            /* counts as use of the browser (not GET /) */
    bool wait_destroyed, destroyed_seen;  /* a closed tab, waiting for the browser to drop it */
    double x, y;
};

/* ---- helpers ---- */

static json_t *error_body(const char *message, const char *code)
{
    json_t *body = json_pack("{s:s}", "error", message);
    if (code) json_object_set_new(body, "code", json_string(code));
    return body;
}

static const char *arg_str(const cg_browser_call *c, const char *key)
{
    const char *s = json_string_value(json_object_get(c->body, key));
    if (!s) s = json_string_value(json_object_get(c->query, key));
    return s && *s ? s : NULL;
}

/* A boolean member: true, or the strings "true" / "1" (query values are strings). */
static bool arg_bool(const cg_browser_call *c, const char *key)
{
    const json_t *v = json_object_get(c->body, key);
    if (!v) v = json_object_get(c->query, key);
    if (json_is_boolean(v)) return json_is_true(v);
    const char *s = json_string_value(v);
    return s && (!strcmp(s, "true") || !strcmp(s, "1"));
}

static int64_t arg_int(const cg_browser_call *c, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(c->body, key);
    if (!v) v = json_object_get(c->query, key);
    if (json_is_integer(v)) return json_integer_value(v);
    const char *s = json_string_value(v);
    if (s && *s) {
        char *end;
        long long n = strtoll(s, &end, 10);
        if (!*end) return n;
    }
    return dflt;
}

static session *find_session(cg_browser *b, const char *target_id)
{
    for (size_t i = 0; i < b->n_sessions; i++)
        if (!strcmp(b->sessions[i].target_id, target_id)) return &b->sessions[i];
    return NULL;
}

static void drop_session_at(cg_browser *b, size_t i)
{
    b->sessions[i] = b->sessions[--b->n_sessions];
}

static void forget_tab(cg_browser *b, const char *target_id)
{
    for (size_t i = 0; i < b->n_sessions; i++)
        if (!strcmp(b->sessions[i].target_id, target_id)) {
            drop_session_at(b, i);
            break;
        }
    if (!strcmp(b->current, target_id)) b->current[0] = '\0';
}

static void note_closed(cg_browser *b, const char *target_id)
{
    snprintf(b->closed[b->closed_next], ID_LEN, "%s", target_id);
    b->closed_next = (b->closed_next + 1) % RECENTLY_CLOSED;
}

static bool recently_closed(const cg_browser *b, const char *target_id)
{
    for (size_t i = 0; i < RECENTLY_CLOSED; i++)
        if (!strcmp(b->closed[i], target_id)) return true;
    return false;
}

/* A page tab the browser lists and has not reported closed. */
static bool is_open_page(const cg_browser *b, const json_t *info)
{
    const char *type = json_string_value(json_object_get(info, "type"));
    const char *id = json_string_value(json_object_get(info, "targetId"));
    return type && id && !strcmp(type, "page") && !recently_closed(b, id);
}

static void set_current(cg_browser *b, const char *target_id)
{
    snprintf(b->current, sizeof b->current, "%s", target_id);
}

/* ---- call lifecycle ---- */

struct dns_job {
    uv_getaddrinfo_t req;
    cg_browser_call *c; /* NULL once the call ended without it */
};

struct shot_job {
    uv_work_t work;
    cg_browser_call *c; /* NULL once the call ended without it */
    char *base64;
    char *path;
    size_t bytes;
    int error; /* 0, or a negative errno; EINVAL: not base64 */
};

static void free_call(uv_handle_t *h)
{
    cg_browser_call *c = h->data;
    free(c->path);
    free(c->tab_url);
    json_decref(c->query);
    json_decref(c->body);
    json_decref(c->acc);
    free(c);
}

static void on_idle(uv_timer_t *t)
{
    cg_browser *b = t->data;
    if (b->n_busy || !cg_cdp_running(b->cdp)) return;
    cg_log(CG_LOG_INFO, "browser", "idle: stopping chromium",
           json_pack("{s:I}", "idleMs", (json_int_t)b->idle_ms));
    cg_cdp_stop(b->cdp);
}

/* Ends the call: undoes what it waits for, answers (unless cancelled), frees it. */
static void finish(cg_browser_call *c, int status, json_t *body)
{
    cg_browser *b = c->b;
    if (c->cdp_id) cg_cdp_forget(b->cdp, c->cdp_id);
    c->cdp_id = 0;
    if (c->job) c->job->c = NULL;
    if (c->dns) c->dns->c = NULL;
    if (c->prev)
        c->prev->next_call = c->next_call;
    else
        b->calls = c->next_call;
    if (c->next_call) c->next_call->prev = c->prev;
    b->n_calls--;
    if (c->busy) b->n_busy--;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, free_call);
    if (!c->cancelled)
        c->done(status, body, c->data);
    else
        json_decref(body);
    if (c->busy && !b->n_busy && b->idle_ms && cg_cdp_running(b->cdp))
        uv_timer_start(&b->idle_timer, on_idle, b->idle_ms, 0);
}

static void finish_error(cg_browser_call *c, int status, const char *message, const char *code)
{
    finish(c, status, error_body(message, code));
}

static void ignore_reply(cg_cdp_status status, const json_t *result, const char *error, void *data)
{
}

static void on_deadline(uv_timer_t *t)
{
    cg_browser_call *c = t->data;
    char msg[256];
    /* A script still running in the page (while (true) {}) would keep its tab stuck. */
    if (c->cdp_id && c->cdp_method && !strcmp(c->cdp_method, "Runtime.evaluate") &&
        c->session_id[0])
        cg_cdp_send(c->b->cdp, "Runtime.terminateExecution", NULL, c->session_id, 5000,
                    ignore_reply, NULL);
    const char *what = c->wait_load ? "waiting for the page to load" : c->cdp_method;
    snprintf(msg, sizeof msg, "browser %s %s timed out after %llu ms%s%s%s", c->method, c->path,
             (unsigned long long)c->timeout_ms, what ? " (" : "", what ? what : "",
             what ? ")" : "");
    finish_error(c, 504, msg, "TIMEOUT");
}

static void cdp_reply(cg_cdp_status status, const json_t *result, const char *error, void *data)
{
    cg_browser_call *c = data;
    c->cdp_id = 0;
    switch (status) {
    case CG_CDP_OK:
        c->next(c, result);
        return;
    case CG_CDP_ERROR:
        if (strstr(error, "No target with given id") || strstr(error, "No session with given id")) {
            forget_tab(c->b, c->target_id);
            char msg[160];
            snprintf(msg, sizeof msg, "tab not found: %s", c->target_id);
            finish_error(c, 404, msg, "TAB_NOT_FOUND");
        } else {
            finish_error(c, 500, error, "CDP_ERROR");
        }
        return;
    case CG_CDP_TIMEOUT:
        finish_error(c, 504, error, "TIMEOUT");
        return;
    case CG_CDP_GONE:
        finish_error(c, 503, error, "BROWSER_UNAVAILABLE");
        return;
    }
}

static void send_cmd(cg_browser_call *c, const char *method, json_t *params, bool to_page,
                     step_fn next)
{
    c->next = next;
    c->cdp_method = method;
    c->cdp_id = cg_cdp_send(c->b->cdp, method, params, to_page ? c->session_id : NULL,
                            c->timeout_ms + CDP_BACKSTOP_MS, cdp_reply, c);
}

static bool ensure_running(cg_browser_call *c)
{
    cg_browser *b = c->b;
    if (cg_cdp_running(b->cdp)) return true;
    cg_cdp_launch_opts o = {b->executable, b->user_data_dir, b->headless, b->no_sandbox};
    char err[512];
    if (cg_cdp_launch(b->cdp, &o, err, sizeof err) != 0) {
        finish_error(c, 503, err, "BROWSER_UNAVAILABLE");
        return false;
    }
    /* Target.targetDestroyed events: closed tabs leave the session cache, /tabs/<id>
     * DELETE answers once the tab is gone. */
    cg_cdp_send(b->cdp, "Target.setDiscoverTargets", json_pack("{s:b}", "discover", 1), NULL,
                c->timeout_ms, ignore_reply, NULL);
    return true;
}

/* ---- resolve_tab: the call's tab, attached ---- */

static void tab_ready(cg_browser_call *c)
{
    step_fn f = c->after;
    f(c, NULL);
}

static void tab_attached(cg_browser_call *c, const json_t *result)
{
    cg_browser *b = c->b;
    const char *sid = json_string_value(json_object_get(result, "sessionId"));
    if (!sid) {
        finish_error(c, 500, "Target.attachToTarget gave no sessionId", "CDP_ERROR");
        return;
    }
    snprintf(c->session_id, sizeof c->session_id, "%s", sid);
    if (b->n_sessions == MAX_SESSIONS) drop_session_at(b, 0);
    session *s = &b->sessions[b->n_sessions++];
    memset(s, 0, sizeof *s);
    snprintf(s->target_id, sizeof s->target_id, "%s", c->target_id);
    snprintf(s->session_id, sizeof s->session_id, "%s", sid);
    tab_ready(c);
}

static void attach_tab(cg_browser_call *c)
{
    session *s = find_session(c->b, c->target_id);
    if (s) {
        snprintf(c->session_id, sizeof c->session_id, "%s", s->session_id);
        tab_ready(c);
        return;
    }
    send_cmd(c, "Target.attachToTarget",
             json_pack("{s:s, s:b}", "targetId", c->target_id, "flatten", 1), false, tab_attached);
}

static void tab_created(cg_browser_call *c, const json_t *result)
{
    const char *id = json_string_value(json_object_get(result, "targetId"));
    if (!id) {
        finish_error(c, 500, "Target.createTarget gave no targetId", "CDP_ERROR");
        return;
    }
    snprintf(c->target_id, sizeof c->target_id, "%s", id);
    free(c->tab_url);
    c->tab_url = cg_strdup("about:blank");
    attach_tab(c);
}

static void got_targets(cg_browser_call *c, const json_t *result)
{
    const char *want = arg_str(c, "targetId");
    const json_t *infos = json_object_get(result, "targetInfos");
    const json_t *pick = NULL, *first = NULL, *info;
    size_t i;
    json_array_foreach(infos, i, info)
    {
        if (!is_open_page(c->b, info)) continue;
        const char *id = json_string_value(json_object_get(info, "targetId"));
        if (!id) continue;
        if (!first) first = info;
        if (want ? !strcmp(id, want) : !strcmp(id, c->b->current)) pick = info;
    }
    if (want && !pick) {
        char msg[160];
        snprintf(msg, sizeof msg, "tab not found: %s", want);
        finish_error(c, 404, msg, "TAB_NOT_FOUND");
        return;
    }
    if (!pick) pick = first;
    if (!pick) {
        send_cmd(c, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"), false,
                 tab_created);
        return;
    }
    snprintf(c->target_id, sizeof c->target_id, "%s",
             json_string_value(json_object_get(pick, "targetId")));
    free(c->tab_url);
    c->tab_url = cg_strdup(json_string_value(json_object_get(pick, "url")));
    attach_tab(c);
}

/* Launches the browser if needed, then continues with `after` on the call's tab. */
static void resolve_tab(cg_browser_call *c, step_fn after)
{
    if (!ensure_running(c)) return;
    c->after = after;
    send_cmd(c, "Target.getTargets", NULL, false, got_targets);
}

/* ---- eval: Runtime.evaluate by value in the call's tab ---- */

static void eval_done(cg_browser_call *c, const json_t *result)
{
    const json_t *exc = json_object_get(result, "exceptionDetails");
    if (exc) {
        const char *text =
            json_string_value(json_object_get(json_object_get(exc, "exception"), "description"));
        if (!text) text = json_string_value(json_object_get(exc, "text"));
        char msg[1024];
        snprintf(msg, sizeof msg, "evaluate failed: %s", text ? text : "exception");
        finish_error(c, 400, msg, "EVALUATE_FAILED");
        return;
    }
    const json_t *value = json_object_get(json_object_get(result, "result"), "value");
    json_t *null = json_null();
    step_fn f = c->after;
    f(c, value ? value : null);
}

static void eval(cg_browser_call *c, const char *expression, bool await, step_fn after)
{
    c->after = after;
    send_cmd(c, "Runtime.evaluate",
             json_pack("{s:s, s:b, s:b, s:b}", "expression", expression, "returnByValue", 1,
                       "awaitPromise", await, "userGesture", 1),
             true, eval_done);
}

/* A script call: "<fn>(<arg1>, <arg2>)" with JSON-encoded string arguments (or null). */
static char *script_call(const char *fn, const char *a1, const char *a2)
{
    json_t *args =
        json_pack("[o,o]", a1 ? json_string(a1) : json_null(), a2 ? json_string(a2) : json_null());
    char *argtext = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    size_t n = strlen(argtext);
    argtext[n - 1] = '\0'; /* drop the brackets: "a1,a2" */
    cg_buf out = {0};
    cg_buf_appends(&out, fn);
    cg_buf_appends(&out, "(");
    cg_buf_appends(&out, argtext + 1);
    cg_buf_appends(&out, ")");
    free(argtext);
    return out.data;
}

/* ---- GET / and /start, /stop ---- */

static json_t *status_body(cg_browser *b)
{
    int pid = cg_cdp_pid(b->cdp);
    return json_pack("{s:b, s:s, s:s, s:s, s:b, s:b, s:o, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b}",
                     "enabled", 1, "profile", "openclaw", "driver", "clawgate", "transport", "cdp",
                     "running", cg_cdp_running(b->cdp), "cdpReady", cg_cdp_ready(b->cdp), "pid",
                     pid ? json_integer(pid) : json_null(), "userDataDir", b->user_data_dir,
                     "executablePath", b->executable, "detectedBrowser", "chromium",
                     "detectedExecutablePath", b->executable, "headless", b->headless, "noSandbox",
                     b->no_sandbox, "attachOnly", 0, "evaluateEnabled", b->evaluate_enabled);
}

static void route_status(cg_browser_call *c)
{
    finish(c, 200, status_body(c->b));
}

static void started(cg_browser_call *c, const json_t *result)
{
    json_t *body = status_body(c->b);
    json_object_set_new(body, "ok", json_true());
    const char *product = json_string_value(json_object_get(result, "product"));
    if (product) json_object_set_new(body, "version", json_string(product));
    finish(c, 200, body);
}

static void route_start(cg_browser_call *c)
{
    if (!ensure_running(c)) return;
    send_cmd(c, "Browser.getVersion", NULL, false, started);
}

static void route_stop(cg_browser_call *c)
{
    if (!cg_cdp_running(c->b->cdp)) {
        finish(c, 200, json_pack("{s:b, s:b, s:s}", "ok", 1, "stopped", 0, "profile", "openclaw"));
        return;
    }
    c->wait_exit = true;
    cg_cdp_stop(c->b->cdp);
}

/* ---- tabs ---- */

static json_t *tab_json(const json_t *info)
{
    return json_pack("{s:O, s:O, s:O, s:s}", "targetId", json_object_get(info, "targetId"), "title",
                     json_object_get(info, "title"), "url", json_object_get(info, "url"), "type",
                     "page");
}

static void tabs_listed(cg_browser_call *c, const json_t *result)
{
    json_t *tabs = json_array();
    const json_t *info;
    size_t i;
    json_array_foreach(json_object_get(result, "targetInfos"), i, info)
    {
        if (is_open_page(c->b, info)) json_array_append_new(tabs, tab_json(info));
    }
    finish(c, 200, json_pack("{s:b, s:o}", "running", 1, "tabs", tabs));
}

static void route_tabs(cg_browser_call *c)
{
    if (!cg_cdp_running(c->b->cdp)) {
        finish(c, 200, json_pack("{s:b, s:[]}", "running", 0, "tabs"));
        return;
    }
    send_cmd(c, "Target.getTargets", NULL, false, tabs_listed);
}

/* focus and close: the tab must exist, then one command on it. */
static void tab_acted(cg_browser_call *c, const json_t *result)
{
    cg_browser *b = c->b;
    if (!strcmp(c->path, "/tabs/focus")) {
        set_current(b, c->target_id);
    } else {
        forget_tab(b, c->target_id);
        /* closeTarget answers before the tab is gone: wait for targetDestroyed. */
        if (!c->destroyed_seen) return;
        note_closed(b, c->target_id);
    }
    c->wait_destroyed = false;
    finish(c, 200, json_pack("{s:b, s:s}", "ok", 1, "targetId", c->target_id));
}

static void tab_checked(cg_browser_call *c, const json_t *result)
{
    const json_t *info;
    size_t i;
    json_array_foreach(json_object_get(result, "targetInfos"), i, info)
    {
        const char *id = json_string_value(json_object_get(info, "targetId"));
        if (is_open_page(c->b, info) && !strcmp(id, c->target_id)) {
            bool focus = !strcmp(c->path, "/tabs/focus");
            c->wait_destroyed = !focus;
            send_cmd(c, focus ? "Target.activateTarget" : "Target.closeTarget",
                     json_pack("{s:s}", "targetId", c->target_id), false, tab_acted);
            return;
        }
    }
    char msg[160];
    snprintf(msg, sizeof msg, "tab not found: %s", c->target_id);
    finish_error(c, 404, msg, "TAB_NOT_FOUND");
}

static void route_tab_focus_or_close(cg_browser_call *c, const char *target_id)
{
    if (!target_id || !*target_id || strlen(target_id) >= ID_LEN) {
        finish_error(c, 400, "targetId is required", NULL);
        return;
    }
    snprintf(c->target_id, sizeof c->target_id, "%s", target_id);
    if (!cg_cdp_running(c->b->cdp) && strcmp(c->path, "/tabs/focus") != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "tab not found: %s", target_id);
        finish_error(c, 404, msg, "TAB_NOT_FOUND");
        return;
    }
    if (!ensure_running(c)) return;
    send_cmd(c, "Target.getTargets", NULL, false, tab_checked);
}

/* ---- navigation (/navigate, /tabs/open) ---- */

static int host_verdict(cg_browser *b, const char *host);
static void navigation_blocked(cg_browser_call *c, const char *message);

static void nav_info(cg_browser_call *c, const json_t *value)
{
    cg_browser *b = c->b;
    set_current(b, c->target_id);
    const json_t *url = json_object_get(value, "url"), *title = json_object_get(value, "title");
    char host[256];
    /* Redirected to a non-public address (by its literal; names were checked before). */
    if (json_is_string(url) && cg_url_host(json_string_value(url), host, sizeof host) &&
        host_verdict(b, host) == 0) {
        cg_cdp_send(b->cdp, "Page.navigate", json_pack("{s:s}", "url", "about:blank"),
                    c->session_id, 5000, ignore_reply, NULL);
        navigation_blocked(c, "browser navigation blocked by policy");
        return;
    }
    json_t *body;
    if (!strcmp(c->path, "/tabs/open"))
        body = json_pack("{s:s, s:O, s:O, s:s}", "targetId", c->target_id, "title", title, "url",
                         url, "type", "page");
    else
        body = json_pack("{s:b, s:s, s:O, s:O}", "ok", 1, "targetId", c->target_id, "url", url,
                         "title", title);
    finish(c, 200, body);
}

static void nav_loaded(cg_browser_call *c)
{
    c->wait_load = false;
    eval(c, CG_JS_PAGE_INFO, false, nav_info);
}

static void nav_sent(cg_browser_call *c, const json_t *result)
{
    const char *error_text = json_string_value(json_object_get(result, "errorText"));
    if (error_text && *error_text) {
        char msg[512];
        snprintf(msg, sizeof msg, "navigation failed: %s", error_text);
        c->wait_load = false;
        finish_error(c, 400, msg, "NAVIGATION_FAILED");
        return;
    }
    /* No loaderId: a same-document navigation (#fragment), nothing more to load. */
    if (!json_object_get(result, "loaderId") || c->load_seen)
        nav_loaded(c);
    else
        c->navigated = true; /* the load event continues (on_event) */
}

static void nav_enabled(cg_browser_call *c, const json_t *result)
{
    session *s = find_session(c->b, c->target_id);
    if (s) s->page_enabled = true;
    c->wait_load = true;
    c->load_seen = c->navigated = false;
    send_cmd(c, "Page.navigate", json_pack("{s:s}", "url", arg_str(c, "url")), true, nav_sent);
}

static void nav_start(cg_browser_call *c, const json_t *unused)
{
    session *s = find_session(c->b, c->target_id);
    if (s && s->page_enabled)
        nav_enabled(c, NULL);
    else
        send_cmd(c, "Page.enable", NULL, true, nav_enabled);
}

/* ---- where navigation may go (url_policy.h) ---- */

static void navigation_blocked(cg_browser_call *c, const char *message)
{
    json_t *body = error_body(message, NULL);
    json_object_set_new(body, "reason", json_string("navigation_blocked"));
    finish(c, 400, body);
}

static void tabs_open_checked(cg_browser_call *c);

/* The URL passed the policy: go on with the route. */
static void url_passed(cg_browser_call *c)
{
    if (!strcmp(c->path, "/tabs/open"))
        tabs_open_checked(c);
    else
        resolve_tab(c, nav_start);
}

static void host_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dns_job *j = req->data;
    cg_browser_call *c = j->c;
    bool private = false;
    for (struct addrinfo *a = status == 0 ? res : NULL; a; a = a->ai_next)
        if (cg_addr_private(a->ai_addr)) private = true;
    uv_freeaddrinfo(res);
    free(j);
    if (!c) return;
    c->dns = NULL;
    /* A name that does not resolve is the browser's to report (net::ERR_NAME_NOT_RESOLVED). */
    if (private)
        navigation_blocked(c, "browser navigation blocked by policy");
    else
        url_passed(c);
}

/* Whether host may be navigated to without resolving it: 1 yes, 0 no, -1 resolve it. */
static int host_verdict(cg_browser *b, const char *host)
{
    if (b->allow_private_network ||
        cg_host_in_list(host, b->allowed_hostnames, b->allowed_hostnames_len))
        return 1;
    if (cg_host_is_localhost(host)) return 0;
    int literal = cg_host_literal_private(host);
    return literal < 0 ? -1 : !literal;
}

/* Checks the call's url (http, https or about:blank; its host by the policy), then goes
 * on with url_passed, or answers. */
static void check_url(cg_browser_call *c)
{
    cg_browser *b = c->b;
    const char *url = arg_str(c, "url");
    char scheme[24], host[256], msg[96];
    if (!url) {
        finish_error(c, 400, "url is required", NULL);
        return;
    }
    if (!cg_url_scheme(url, scheme, sizeof scheme)) {
        finish_error(c, 400, "Invalid URL", NULL);
        return;
    }
    if (!strcmp(url, "about:blank")) {
        url_passed(c);
        return;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(msg, sizeof msg, "Navigation blocked: unsupported protocol \"%.20s:\"", scheme);
        navigation_blocked(c, msg);
        return;
    }
    if (!cg_url_host(url, host, sizeof host)) {
        finish_error(c, 400, "Invalid URL", NULL);
        return;
    }
    int verdict = host_verdict(b, host);
    if (verdict == 0) {
        navigation_blocked(c, "browser navigation blocked by policy");
        return;
    }
    if (verdict == 1) {
        url_passed(c);
        return;
    }
    dns_job *j = cg_xcalloc(1, sizeof *j);
    j->req.data = j;
    j->c = c;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (uv_getaddrinfo(b->loop, &j->req, host_resolved, host, NULL, &hints) != 0) {
        free(j);
        url_passed(c); /* the browser reports what it cannot resolve */
        return;
    }
    c->dns = j;
}

static void route_navigate(cg_browser_call *c)
{
    check_url(c);
}

static void opened(cg_browser_call *c, const json_t *result)
{
    const char *id = json_string_value(json_object_get(result, "targetId"));
    if (!id) {
        finish_error(c, 500, "Target.createTarget gave no targetId", "CDP_ERROR");
        return;
    }
    snprintf(c->target_id, sizeof c->target_id, "%s", id);
    c->after = nav_start;
    attach_tab(c);
}

static void tabs_open_checked(cg_browser_call *c)
{
    if (!ensure_running(c)) return;
    send_cmd(c, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"), false, opened);
}

static void route_tabs_open(cg_browser_call *c)
{
    check_url(c);
}

/* ---- screenshot ---- */

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Our own files only (not a temp file of a write in progress). */
static int shot_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 4 &&
           (!strcmp(e->d_name + n - 4, ".png") || !strcmp(e->d_name + n - 4, ".jpg"));
}

/* Removes all but the newest SCREENSHOTS_KEPT files of dir (names start with the time in
 * ms, all of the same width for centuries, so name order is age order). */
static void prune_shots(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, shot_filter, by_name);
    if (n < 0) return;
    for (int i = 0; i < n; i++) {
        if (i < n - SCREENSHOTS_KEPT) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            unlink(path);
        }
        free(names[i]);
    }
    free(names);
}

static void shot_work(uv_work_t *w)
{
    shot_job *j = w->data;
    size_t len = strlen(j->base64);
    unsigned char *png = malloc(len / 4 * 3 + 3);
    if (!png) {
        j->error = -ENOMEM;
        return;
    }
    int n = EVP_DecodeBlock(png, (const unsigned char *)j->base64, (int)len);
    if (n < 0 || len % 4) {
        j->error = -EINVAL;
        free(png);
        return;
    }
    /* EVP_DecodeBlock counts padding as bytes: take them back off. */
    if (len >= 1 && j->base64[len - 1] == '=') n--;
    if (len >= 2 && j->base64[len - 2] == '=') n--;
    char *slash = strrchr(j->path, '/');
    *slash = '\0';
    j->error = cg_mkdir_p(j->path, 0700);
    *slash = '/';
    if (!j->error) j->error = cg_write_file_atomic(j->path, png, (size_t)n, 0600);
    j->bytes = (size_t)n;
    free(png);
    if (!j->error) {
        *slash = '\0';
        prune_shots(j->path);
        *slash = '/';
    }
}

static void shot_written(uv_work_t *w, int status)
{
    shot_job *j = w->data;
    cg_browser_call *c = j->c;
    if (c) {
        c->job = NULL;
        if (j->error) {
            char msg[512];
            snprintf(msg, sizeof msg, "screenshot not saved: %s",
                     j->error == -EINVAL ? "bad image data" : strerror(-j->error));
            finish_error(c, 500, msg, NULL);
        } else {
            json_t *body = c->acc;
            c->acc = NULL;
            json_object_set_new(body, "path", json_string(j->path));
            json_object_set_new(body, "bytes", json_integer((json_int_t)j->bytes));
            if (!arg_bool(c, "includeBase64")) json_object_del(body, "base64");
            finish(c, 200, body);
        }
    }
    free(j->base64);
    free(j->path);
    free(j);
}

static void shot_taken(cg_browser_call *c, const json_t *result)
{
    const char *data = json_string_value(json_object_get(result, "data"));
    if (!data || strlen(data) > MAX_SCREENSHOT_B64) {
        finish_error(c, 500, data ? "screenshot too large" : "Page.captureScreenshot gave no data",
                     NULL);
        return;
    }
    cg_browser *b = c->b;
    const char *type = arg_str(c, "type") && !strcmp(arg_str(c, "type"), "jpeg") ? "jpeg" : "png";
    char path[4200];
    snprintf(path, sizeof path, "%s/%lld-%llu.%s", b->shot_dir, (long long)cg_now_ms(),
             (unsigned long long)++b->shot_seq, !strcmp(type, "jpeg") ? "jpg" : "png");
    c->acc = json_pack("{s:b, s:s, s:s, s:s, s:s}", "ok", 1, "targetId", c->target_id, "url",
                       c->tab_url ? c->tab_url : "", "type", type, "base64", data);
    shot_job *j = cg_xcalloc(1, sizeof *j);
    j->work.data = j;
    j->c = c;
    j->base64 = cg_strdup(data);
    j->path = cg_strdup(path);
    c->job = j;
    uv_queue_work(b->loop, &j->work, shot_work, shot_written);
}

static void shot_capture(cg_browser_call *c, const json_t *clip)
{
    bool jpeg = arg_str(c, "type") && !strcmp(arg_str(c, "type"), "jpeg");
    json_t *p = json_pack("{s:s, s:b}", "format", jpeg ? "jpeg" : "png", "captureBeyondViewport",
                          clip != NULL);
    if (jpeg) json_object_set_new(p, "quality", json_integer(85));
    if (clip) json_object_set(p, "clip", (json_t *)clip);
    send_cmd(c, "Page.captureScreenshot", p, true, shot_taken);
}

static void shot_metrics(cg_browser_call *c, const json_t *result)
{
    const json_t *size = json_object_get(result, "cssContentSize");
    if (!size) size = json_object_get(result, "contentSize");
    double w = json_number_value(json_object_get(size, "width"));
    double h = json_number_value(json_object_get(size, "height"));
    json_t *clip = json_pack("{s:i, s:i, s:f, s:f, s:i}", "x", 0, "y", 0, "width", w > 1 ? w : 1,
                             "height", h > 1 ? h : 1, "scale", 1);
    shot_capture(c, clip);
    json_decref(clip);
}

static void shot_tab(cg_browser_call *c, const json_t *unused)
{
    if (arg_bool(c, "fullPage"))
        send_cmd(c, "Page.getLayoutMetrics", NULL, true, shot_metrics);
    else
        shot_capture(c, NULL);
}

static void route_screenshot(cg_browser_call *c)
{
    const char *type = arg_str(c, "type");
    if (type && strcmp(type, "png") && strcmp(type, "jpeg")) {
        finish_error(c, 400, "type must be png or jpeg", NULL);
        return;
    }
    resolve_tab(c, shot_tab);
}

/* ---- snapshot ---- */

static void snapshot_taken(cg_browser_call *c, const json_t *value)
{
    if (!json_is_object(value)) {
        finish_error(c, 500, "snapshot script gave no result", NULL);
        return;
    }
    json_t *body = json_pack("{s:b, s:s, s:s}", "ok", 1, "format", "ai", "targetId", c->target_id);
    json_object_update(body, (json_t *)value);
    finish(c, 200, body);
}

static void snapshot_tab(cg_browser_call *c, const json_t *unused)
{
    int64_t max = arg_int(c, "maxChars", SNAPSHOT_DEFAULT_CHARS);
    if (max < 1) max = 1;
    if (max > SNAPSHOT_MAX_CHARS) max = SNAPSHOT_MAX_CHARS;
    char call[32];
    snprintf(call, sizeof call, "(%lld)", (long long)max);
    cg_buf script = {0};
    cg_buf_appends(&script, CG_JS_SNAPSHOT);
    cg_buf_appends(&script, call);
    eval(c, script.data, false, snapshot_taken);
    cg_buf_reset(&script);
}

static void route_snapshot(cg_browser_call *c)
{
    const char *format = arg_str(c, "format");
    if (format && strcmp(format, "ai") != 0) {
        finish_error(c, 400, "only format=ai is supported", NULL);
        return;
    }
    resolve_tab(c, snapshot_tab);
}

/* ---- act ---- */

static void act_ok(cg_browser_call *c, const json_t *unused)
{
    finish(c, 200,
           json_pack("{s:b, s:s, s:s}", "ok", 1, "targetId", c->target_id, "url",
                     c->tab_url ? c->tab_url : ""));
}

/* A script answered {error}: the element was not there. */
static bool act_script_failed(cg_browser_call *c, const json_t *value)
{
    const char *error = json_string_value(json_object_get(value, "error"));
    if (!error && json_is_object(value)) return false;
    finish_error(c, 404, error ? error : "element not found", "ELEMENT_NOT_FOUND");
    return true;
}

static void click_released(cg_browser_call *c, const json_t *result)
{
    act_ok(c, NULL);
}

static void click_pressed(cg_browser_call *c, const json_t *result)
{
    send_cmd(c, "Input.dispatchMouseEvent",
             json_pack("{s:s, s:f, s:f, s:s, s:i}", "type", "mouseReleased", "x", c->x, "y", c->y,
                       "button", "left", "clickCount", 1),
             true, click_released);
}

static void click_at(cg_browser_call *c, const json_t *value)
{
    if (act_script_failed(c, value)) return;
    c->x = json_number_value(json_object_get(value, "x"));
    c->y = json_number_value(json_object_get(value, "y"));
    send_cmd(c, "Input.dispatchMouseEvent",
             json_pack("{s:s, s:f, s:f, s:s, s:i}", "type", "mousePressed", "x", c->x, "y", c->y,
                       "button", "left", "clickCount", 1),
             true, click_pressed);
}

/* Keys `press` and `type {submit}` know: name, code, Windows key code, text. */
typedef struct key_def {
    const char *key, *code;
    int vk;
    const char *text;
} key_def;

static const key_def named_keys[] = {
    {"Enter", "Enter", 13, "\r"},
    {"Tab", "Tab", 9, NULL},
    {"Escape", "Escape", 27, NULL},
    {"Backspace", "Backspace", 8, NULL},
    {"Delete", "Delete", 46, NULL},
    {"ArrowLeft", "ArrowLeft", 37, NULL},
    {"ArrowUp", "ArrowUp", 38, NULL},
    {"ArrowRight", "ArrowRight", 39, NULL},
    {"ArrowDown", "ArrowDown", 40, NULL},
    {"Home", "Home", 36, NULL},
    {"End", "End", 35, NULL},
    {"PageUp", "PageUp", 33, NULL},
    {"PageDown", "PageDown", 34, NULL},
    {"Space", "Space", 32, " "},
};

static json_t *key_event(const char *type, const char *key)
{
    for (size_t i = 0; i < sizeof named_keys / sizeof named_keys[0]; i++) {
        const key_def *k = &named_keys[i];
        if (strcmp(k->key, key) != 0) continue;
        json_t *e = json_pack("{s:s, s:s, s:s, s:i}", "type", type, "key",
                              !strcmp(k->key, "Space") ? " " : k->key, "code", k->code,
                              "windowsVirtualKeyCode", k->vk);
        if (k->text && !strcmp(type, "keyDown"))
            json_object_set_new(e, "text", json_string(k->text));
        return e;
    }
    /* One printable ASCII character. */
    if (key[0] > ' ' && key[0] < 127 && !key[1]) {
        char code[16];
        if (isalpha((unsigned char)key[0]))
            snprintf(code, sizeof code, "Key%c", toupper(key[0]));
        else if (isdigit((unsigned char)key[0]))
            snprintf(code, sizeof code, "Digit%c", key[0]);
        else
            code[0] = '\0';
        json_t *e = json_pack("{s:s, s:s, s:s, s:i}", "type", type, "key", key, "code", code,
                              "windowsVirtualKeyCode", toupper((unsigned char)key[0]));
        if (!strcmp(type, "keyDown")) json_object_set_new(e, "text", json_string(key));
        return e;
    }
    return NULL;
}

static void key_up(cg_browser_call *c, const json_t *result)
{
    const char *key = !strcmp(arg_str(c, "kind"), "press") ? arg_str(c, "key") : "Enter";
    send_cmd(c, "Input.dispatchKeyEvent", key_event("keyUp", key), true, act_ok);
}

static void press_key(cg_browser_call *c, const json_t *unused)
{
    const char *key = !strcmp(arg_str(c, "kind"), "press") ? arg_str(c, "key") : "Enter";
    send_cmd(c, "Input.dispatchKeyEvent", key_event("keyDown", key), true, key_up);
}

static void typed(cg_browser_call *c, const json_t *result)
{
    if (arg_bool(c, "submit"))
        press_key(c, NULL);
    else
        act_ok(c, NULL);
}

static void type_focused(cg_browser_call *c, const json_t *value)
{
    if (act_script_failed(c, value)) return;
    const char *text = json_string_value(json_object_get(c->body, "text"));
    send_cmd(c, "Input.insertText", json_pack("{s:s}", "text", text), true, typed);
}

static void evaluated(cg_browser_call *c, const json_t *value)
{
    size_t size = json_dumpb(value, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (size > CG_BROWSER_MAX_EVAL_RESULT) {
        char msg[160];
        snprintf(msg, sizeof msg, "evaluate result too large: %zu bytes (limit %d)", size,
                 CG_BROWSER_MAX_EVAL_RESULT);
        finish_error(c, 400, msg, "RESULT_TOO_LARGE");
        return;
    }
    finish(c, 200,
           json_pack("{s:b, s:s, s:s, s:O}", "ok", 1, "targetId", c->target_id, "url",
                     c->tab_url ? c->tab_url : "", "result", value));
}

static void act_on_tab(cg_browser_call *c, const json_t *unused)
{
    const char *kind = arg_str(c, "kind");
    const char *ref = arg_str(c, "ref"), *sel = arg_str(c, "selector");
    if (!strcmp(kind, "click") || !strcmp(kind, "type")) {
        char *script =
            script_call(!strcmp(kind, "click") ? CG_JS_CLICK_POINT : CG_JS_FOCUS_FOR_TYPING, ref,
                        ref ? NULL : sel);
        eval(c, script, false, !strcmp(kind, "click") ? click_at : type_focused);
        free(script);
    } else if (!strcmp(kind, "press")) {
        press_key(c, NULL);
    } else {
        json_t *r = ref ? json_string(ref) : json_null();
        char *ref_json = json_dumps(r, JSON_ENCODE_ANY);
        json_decref(r);
        cg_buf script = {0};
        cg_buf_appends(&script, "(async () => {\n  const ref = ");
        cg_buf_appends(&script, ref_json);
        cg_buf_appends(&script, ";\n  let el;\n  if (ref) {\n    el = document.querySelector("
                                "'[data-clawgate-ref=\"' + CSS.escape(ref) + '\"]');\n"
                                "    if (!el) throw new Error('unknown ref: ' + ref);\n  }\n"
                                "  const fn = (");
        cg_buf_appends(&script, arg_str(c, "fn"));
        cg_buf_appends(&script, "\n);\n  return typeof fn === 'function' ? await fn(el) : fn;\n"
                                "})()");
        free(ref_json);
        eval(c, script.data, true, evaluated);
        cg_buf_reset(&script);
    }
}

static void route_act(cg_browser_call *c)
{
    const char *kind = arg_str(c, "kind");
    const char *error = NULL;
    char msg[160];
    if (!kind)
        error = "kind is required";
    else if (!strcmp(kind, "click") || !strcmp(kind, "type")) {
        if (!arg_str(c, "ref") && !arg_str(c, "selector"))
            error = !strcmp(kind, "click") ? "click requires ref or selector"
                                           : "type requires ref or selector";
        else if (!strcmp(kind, "type") && !json_is_string(json_object_get(c->body, "text")))
            error = "type requires text";
    } else if (!strcmp(kind, "press")) {
        const char *key = arg_str(c, "key");
        json_t *probe = key ? key_event("keyDown", key) : NULL;
        if (!probe) error = key ? "press: unsupported key" : "press requires key";
        json_decref(probe);
    } else if (!strcmp(kind, "evaluate")) {
        if (!c->b->evaluate_enabled) {
            finish_error(c, 403, "evaluate is disabled (browser.evaluateEnabled=false)",
                         "EVALUATE_DISABLED");
            return;
        }
        if (!arg_str(c, "fn")) error = "evaluate requires fn";
    } else {
        snprintf(msg, sizeof msg, "unsupported act kind: %s", kind);
        error = msg;
    }
    if (error) {
        finish_error(c, 400, error, "INVALID_REQUEST");
        return;
    }
    resolve_tab(c, act_on_tab);
}

/* ---- routing ---- */

static void route(cg_browser_call *c)
{
    const char *m = c->method, *p = c->path;
    bool get = !strcmp(m, "GET"), post = !strcmp(m, "POST"), del = !strcmp(m, "DELETE");
    if (get && !strcmp(p, "/"))
        route_status(c);
    else if (post && !strcmp(p, "/start"))
        route_start(c);
    else if (post && !strcmp(p, "/stop"))
        route_stop(c);
    else if (get && !strcmp(p, "/tabs"))
        route_tabs(c);
    else if (post && !strcmp(p, "/tabs/open"))
        route_tabs_open(c);
    else if (post && !strcmp(p, "/tabs/focus"))
        route_tab_focus_or_close(c, arg_str(c, "targetId"));
    else if (del && !strncmp(p, "/tabs/", 6) && p[6] && !strchr(p + 6, '/'))
        route_tab_focus_or_close(c, p + 6);
    else if (post && !strcmp(p, "/navigate"))
        route_navigate(c);
    else if (post && !strcmp(p, "/screenshot"))
        route_screenshot(c);
    else if (get && !strcmp(p, "/snapshot"))
        route_snapshot(c);
    else if (post && !strcmp(p, "/act"))
        route_act(c);
    else {
        char msg[300];
        snprintf(msg, sizeof msg, "unknown browser route: %s %.200s", m, p);
        finish_error(c, 404, msg, "NOT_FOUND");
    }
}

static void on_start(uv_timer_t *t)
{
    cg_browser_call *c = t->data;
    uv_timer_start(&c->timer, on_deadline, c->timeout_ms, 0);
    if (c->over_cap)
        finish_error(c, 503, "too many browser calls in flight", "BUSY");
    else
        route(c);
}

cg_browser_call *cg_browser_request(cg_browser *b, const char *method, const char *path,
                                    const json_t *query, const json_t *body, uint64_t timeout_ms,
                                    cg_browser_done done, void *data)
{
    cg_browser_call *c = cg_xcalloc(1, sizeof *c);
    c->b = b;
    c->done = done;
    c->data = data;
    snprintf(c->method, sizeof c->method, "%s", method);
    c->path = cg_strdup(path);
    c->query = json_is_object(query) ? json_deep_copy(query) : json_object();
    c->body = json_is_object(body) ? json_deep_copy(body) : json_object();
    c->timeout_ms = timeout_ms ? timeout_ms : 30000;
    uv_timer_init(b->loop, &c->timer);
    c->timer.data = c;
    c->next_call = b->calls;
    if (b->calls) b->calls->prev = c;
    b->calls = c;
    b->n_calls++;
    /* Asking for the status is not using the browser: it does not hold off the idle stop. */
    c->busy = strcmp(c->method, "GET") != 0 || strcmp(c->path, "/") != 0;
    if (c->busy) {
        b->n_busy++;
        uv_timer_stop(&b->idle_timer);
    }
    c->over_cap = b->n_calls > CG_BROWSER_MAX_CALLS;
    uv_timer_start(&c->timer, on_start, 0, 0);
    return c;
}

void cg_browser_call_cancel(cg_browser_call *call)
{
    call->cancelled = true;
    finish(call, 0, NULL);
}

/* ---- events from the browser ---- */

static void on_event(const char *method, const json_t *params, const char *session_id, void *data)
{
    cg_browser *b = data;
    if (!strcmp(method, "Page.loadEventFired") && session_id) {
        for (cg_browser_call *c = b->calls; c; c = c->next_call) {
            if (!c->wait_load || strcmp(c->session_id, session_id) != 0) continue;
            c->load_seen = true;
            if (c->navigated) {
                nav_loaded(c);
                return; /* the list may have changed; one navigation per session waits */
            }
        }
    } else if (!strcmp(method, "Target.detachedFromTarget")) {
        const char *sid = json_string_value(json_object_get(params, "sessionId"));
        for (size_t i = 0; sid && i < b->n_sessions; i++)
            if (!strcmp(b->sessions[i].session_id, sid)) {
                drop_session_at(b, i);
                break;
            }
    } else if (!strcmp(method, "Target.targetDestroyed")) {
        const char *id = json_string_value(json_object_get(params, "targetId"));
        if (!id) return;
        forget_tab(b, id);
        note_closed(b, id);
        for (cg_browser_call *c = b->calls; c; c = c->next_call) {
            if (!c->wait_destroyed || strcmp(c->target_id, id) != 0) continue;
            c->destroyed_seen = true;
            if (!c->cdp_id) {
                tab_acted(c, NULL);
                return; /* the list changed */
            }
        }
    }
}

static void on_browser_exit(const char *how, void *data)
{
    cg_browser *b = data;
    b->n_sessions = 0;
    b->current[0] = '\0';
    uv_timer_stop(&b->idle_timer);
    /* Calls waiting for an event rather than a command (those failed already). */
    for (;;) {
        cg_browser_call *c = b->calls;
        while (c && !c->wait_exit && !((c->wait_load || c->wait_destroyed) && !c->cdp_id))
            c = c->next_call;
        if (!c) break;
        if (c->wait_exit) {
            finish(c, 200,
                   json_pack("{s:b, s:b, s:s}", "ok", 1, "stopped", 1, "profile", "openclaw"));
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "browser %s", how);
            finish_error(c, 503, msg, "BROWSER_UNAVAILABLE");
        }
    }
}

/* ---- object ---- */

static void free_strings(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

static void apply_options(cg_browser *b, const cg_browser_options *o)
{
    free(b->executable);
    free(b->user_data_dir);
    free(b->shot_dir);
    b->executable = cg_strdup(o->executable);
    size_t n = strlen(o->state_dir) + 64;
    b->user_data_dir = cg_xmalloc(n);
    snprintf(b->user_data_dir, n, "%s/browser/profile", o->state_dir);
    b->shot_dir = cg_xmalloc(n);
    snprintf(b->shot_dir, n, "%s/browser/screenshots", o->state_dir);
    b->headless = o->headless;
    b->no_sandbox = o->no_sandbox;
    b->evaluate_enabled = o->evaluate_enabled;
    b->idle_ms = o->idle_ms;
    b->allow_private_network = o->allow_private_network;
    free_strings(b->allowed_hostnames, b->allowed_hostnames_len);
    b->allowed_hostnames = cg_xcalloc(o->allowed_hostnames_len + 1, sizeof(char *));
    for (size_t i = 0; i < o->allowed_hostnames_len; i++)
        b->allowed_hostnames[i] = cg_strdup(o->allowed_hostnames[i]);
    b->allowed_hostnames_len = o->allowed_hostnames_len;
}

cg_browser *cg_browser_new(uv_loop_t *loop, const cg_browser_options *opts)
{
    cg_browser *b = cg_xcalloc(1, sizeof *b);
    b->loop = loop;
    apply_options(b, opts);
    b->cdp = cg_cdp_new(loop, on_event, on_browser_exit, b);
    uv_timer_init(loop, &b->idle_timer);
    b->idle_timer.data = b;
    return b;
}

void cg_browser_set_options(cg_browser *b, const cg_browser_options *opts)
{
    apply_options(b, opts);
    if (!b->n_busy && b->idle_ms && cg_cdp_running(b->cdp))
        uv_timer_start(&b->idle_timer, on_idle, b->idle_ms, 0);
    else if (!b->idle_ms)
        uv_timer_stop(&b->idle_timer);
}

static void free_browser(uv_handle_t *h)
{
    cg_browser *b = h->data;
    free(b->executable);
    free(b->user_data_dir);
    free(b->shot_dir);
    free_strings(b->allowed_hostnames, b->allowed_hostnames_len);
    free(b);
}

void cg_browser_free(cg_browser *b)
{
    if (!b) return;
    while (b->calls)
        finish_error(b->calls, 503, "browser controller stopped", "BROWSER_UNAVAILABLE");
    cg_cdp_free(b->cdp);
    b->cdp = NULL;
    uv_close((uv_handle_t *)&b->idle_timer, free_browser);
}
