/* Tailscale Serve identity (see auth/tailscale.h): the header checks, pure, and the
 * whois cache with its children.
 *
 * The cache maps a client IP to an entry. An entry is either waiting for its lookup (one
 * `tailscale whois --json <ip>` child, whose waiters are the checks that asked meanwhile)
 * or holds an answer until it expires: the login whois named, "no login", "failed" or
 * "unavailable" (the child could not be started: tailscale is not on PATH). Entries also
 * sit in a list, oldest first; when the cache is full the expired ones go, then the
 * oldest answered one. An entry whose lookup runs is never evicted, and at most
 * CG_TAILSCALE_MAX_LOOKUPS run at once, so the cache cannot fill with them.
 *
 * A lookup owns three libuv handles: the process, its stdout pipe and a timer. It ends
 * ("finishes") when the child exited and stdout reached EOF, or when the timer fires or
 * the output passes its bound (the child is then killed with SIGKILL). Finishing stores
 * the answer in the entry and runs the waiters one at a time: each is unlinked before
 * its callback runs, so a callback may cancel other waiters or start new checks (which
 * find the fresh answer). The lookup is freed once its handles have closed; the process
 * handle closes only after the child exited, so no child is left unreaped. stderr goes
 * to /dev/null; the exit status is logged instead. */
#include "auth/tailscale.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "common/json_budget.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"

#define WHOIS_JSON_BUDGET ((size_t)8 * 1024 * 1024)
#define READ_CHUNK 16384

/* ---- the header checks ---- */

static bool present(const char *header)
{
    return header && *header;
}

bool cg_tailscale_client_ip(const cg_tailscale_headers *h, char *out, size_t outlen)
{
    if (h->ingress == CG_INGRESS_DIRECT || !cg_addr_is_loopback(h->peer_ip)) return false;
    if (!present(h->forwarded_for) || !present(h->forwarded_proto) || !present(h->forwarded_host))
        return false;
    if (h->ingress == CG_INGRESS_TAILSCALE_SERVE
            ? h->funnel_request != NULL
            : h->funnel_request && strcmp(h->funnel_request, "?1") != 0)
        return false;
    /* Tailscale's proxy is the loopback peer: its hops are ours, the client is the
     * rightmost one that is not (cg_client_ip's rule, failing closed the same way). */
    char *proxies[] = {"127.0.0.0/8", "::1/128"};
    cg_settings via_tailscale = {.trusted_proxies = proxies, .trusted_proxies_len = 2};
    cg_http_facts facts = {.peer_ip = h->peer_ip, .forwarded_for = h->forwarded_for};
    return cg_client_ip(&facts, &via_tailscale, out, outlen) && !cg_addr_is_loopback(out);
}

/* The header's login, trimmed: [*start, *start + *len). */
static void trimmed(const char *s, const char **start, size_t *len)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *start = s;
    *len = n;
}

bool cg_tailscale_candidate(const cg_tailscale_headers *h, const cg_settings *s)
{
    char client[64];
    const char *login;
    size_t len;
    if (!s->allow_tailscale || h->ingress != CG_INGRESS_TAILSCALE_SERVE || !h->user_login)
        return false;
    trimmed(h->user_login, &login, &len);
    return len > 0 && cg_tailscale_client_ip(h, client, sizeof client);
}

const char *cg_tailscale_code(cg_tailscale_result r)
{
    switch (r) {
    case CG_TAILSCALE_WHOIS_FAILED:
        return "AUTH_TAILSCALE_WHOIS_FAILED";
    case CG_TAILSCALE_IDENTITY_MISMATCH:
        return "AUTH_TAILSCALE_IDENTITY_MISMATCH";
    case CG_TAILSCALE_OK:
    case CG_TAILSCALE_UNAVAILABLE:
        break;
    }
    return NULL;
}

const char *cg_tailscale_message(cg_tailscale_result r)
{
    switch (r) {
    case CG_TAILSCALE_WHOIS_FAILED:
        return "unauthorized: tailscale identity check failed (use Tailscale Serve auth or "
               "gateway token/password)";
    case CG_TAILSCALE_IDENTITY_MISMATCH:
        return "unauthorized: tailscale identity mismatch (use Tailscale Serve auth or gateway "
               "token/password)";
    case CG_TAILSCALE_OK:
    case CG_TAILSCALE_UNAVAILABLE:
        break;
    }
    return NULL;
}

/* ---- the whois cache ---- */

typedef enum {
    ANSWER_LOGIN,       /* whois named a login */
    ANSWER_NO_LOGIN,    /* whois answered without one */
    ANSWER_FAILED,      /* exit status, signal, timeout, output bound, unreadable JSON */
    ANSWER_UNAVAILABLE, /* the child could not be started */
} answer;

typedef struct lookup lookup;

typedef struct entry {
    struct entry *prev, *next; /* the age list, oldest first */
    char *ip;
    lookup *lookup; /* while the whois child runs */
    answer answer;
    char *login;         /* ANSWER_LOGIN */
    uint64_t expires_ms; /* monotonic; once answered */
} entry;

struct cg_tailscale_wait {
    cg_tailscale_wait *prev, *next; /* the lookup's waiters */
    lookup *lookup;
    char *login_header;
    cg_tailscale_done done;
    void *data;
};

struct lookup {
    lookup *prev, *next; /* the running lookups */
    cg_tailscale *ts;
    entry *entry; /* NULL once finished */
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    int open_handles;
    bool exited, out_done, proc_closing;
    int64_t exit_status;
    int term_signal;
    const char *failure; /* why it failed, for the log; NULL while none */
    cg_buf output;
    cg_tailscale_wait *waiters;
};

struct cg_tailscale {
    uv_loop_t *loop;
    cg_strmap *by_ip; /* ip -> entry */
    entry *oldest, *newest;
    lookup *running;
    size_t n_running;
    bool stopped;
};

static uint64_t mono_ms(void)
{
    return cg_mono_ns() / 1000000u;
}

cg_tailscale *cg_tailscale_new(uv_loop_t *loop)
{
    cg_tailscale *ts = cg_xcalloc(1, sizeof *ts);
    ts->loop = loop;
    ts->by_ip = cg_strmap_new();
    return ts;
}

static void entry_free(cg_tailscale *ts, entry *e)
{
    cg_strmap_remove(ts->by_ip, e->ip);
    if (e->prev)
        e->prev->next = e->next;
    else
        ts->oldest = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        ts->newest = e->prev;
    free(e->ip);
    free(e->login);
    free(e);
}

static entry *entry_new(cg_tailscale *ts, const char *ip)
{
    entry *e = cg_xcalloc(1, sizeof *e);
    e->ip = cg_strdup(ip);
    e->prev = ts->newest;
    if (ts->newest)
        ts->newest->next = e;
    else
        ts->oldest = e;
    ts->newest = e;
    cg_strmap_set(ts->by_ip, ip, e);
    return e;
}

/* Room for one more entry: expired ones go, then the oldest answered one. */
static void make_room(cg_tailscale *ts, uint64_t now)
{
    if (cg_strmap_size(ts->by_ip) < CG_TAILSCALE_MAX_ENTRIES) return;
    for (entry *e = ts->oldest, *next; e; e = next) {
        next = e->next;
        if (!e->lookup && e->expires_ms <= now) entry_free(ts, e);
    }
    for (entry *e = ts->oldest; e && cg_strmap_size(ts->by_ip) >= CG_TAILSCALE_MAX_ENTRIES;
         e = e->next) {
        if (!e->lookup) {
            entry_free(ts, e);
            break;
        }
    }
}

/* What an answered entry means for one claimed login. */
static cg_tailscale_result judge(const entry *e, const char *login_header)
{
    const char *claimed;
    size_t len;
    switch (e->answer) {
    case ANSWER_LOGIN:
        trimmed(login_header, &claimed, &len);
        return strlen(e->login) == len && strncasecmp(e->login, claimed, len) == 0
                   ? CG_TAILSCALE_OK
                   : CG_TAILSCALE_IDENTITY_MISMATCH;
    case ANSWER_UNAVAILABLE:
        return CG_TAILSCALE_UNAVAILABLE;
    case ANSWER_NO_LOGIN:
    case ANSWER_FAILED:
        break;
    }
    return CG_TAILSCALE_WHOIS_FAILED;
}

static void answer_now(const entry *e, const char *login_header, cg_tailscale_done done, void *data)
{
    cg_tailscale_result r = judge(e, login_header);
    done(r, r == CG_TAILSCALE_OK ? e->login : NULL, data);
}

/* A non-empty string member, trimmed (copied), or NULL. */
static char *string_member(const json_t *obj, const char *key)
{
    const char *value = json_string_value(json_object_get(obj, key)), *start;
    size_t len;
    if (!value) return NULL;
    trimmed(value, &start, &len);
    if (len == 0) return NULL;
    char *out = cg_xmalloc(len + 1);
    memcpy(out, start, len);
    out[len] = 0;
    return out;
}

/* The login in whois's answer, as OpenClaw reads it: UserProfile (or userProfile, or
 * User) .LoginName / .Login / .login, else a top-level LoginName / login. The answer is
 * the text between the first '{' and the last '}' (tailscale may print noise around it).
 * Returns false when the text is not JSON. */
static bool parse_whois(const char *text, size_t len, char **login)
{
    *login = NULL;
    const char *open = memchr(text, '{', len), *close = NULL;
    for (size_t i = len; i > 0 && !close; i--)
        if (text[i - 1] == '}') close = text + i - 1;
    if (!open || !close || close < open) return false;
    bool over_budget = false;
    json_error_t err;
    memset(&err, 0, sizeof err);
    json_t *doc =
        cg_json_parse(open, (size_t)(close - open) + 1, WHOIS_JSON_BUDGET, &over_budget, &err);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return false;
    }
    const json_t *profile = json_object_get(doc, "UserProfile");
    if (!json_is_object(profile)) profile = json_object_get(doc, "userProfile");
    if (!json_is_object(profile)) profile = json_object_get(doc, "User");
    if (!json_is_object(profile)) profile = NULL;
    static const char *const profile_keys[] = {"LoginName", "Login", "login"};
    for (size_t i = 0; profile && i < 3 && !*login; i++)
        *login = string_member(profile, profile_keys[i]);
    if (!*login) *login = string_member(doc, "LoginName");
    if (!*login) *login = string_member(doc, "login");
    json_decref(doc);
    return true;
}

static void lookup_handle_closed(uv_handle_t *h)
{
    lookup *l = h->data;
    if (--l->open_handles > 0) return;
    cg_buf_reset(&l->output);
    free(l);
}

static void close_handle(lookup *l, uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, lookup_handle_closed);
}

/* Stores the answer, runs the waiters, and starts closing what can close. */
static void lookup_finish(lookup *l)
{
    cg_tailscale *ts = l->ts;
    entry *e = l->entry;
    l->entry = NULL;
    if (l->prev)
        l->prev->next = l->next;
    else
        ts->running = l->next;
    if (l->next) l->next->prev = l->prev;
    ts->n_running--;

    char *login = NULL;
    if (!l->failure && (l->term_signal || l->exit_status != 0)) l->failure = "exit status";
    if (!l->failure && !parse_whois(l->output.data ? l->output.data : "", l->output.len, &login))
        l->failure = "unreadable answer";
    e->lookup = NULL;
    e->answer = l->failure ? ANSWER_FAILED : login ? ANSWER_LOGIN : ANSWER_NO_LOGIN;
    e->login = login;
    e->expires_ms =
        mono_ms() + (l->failure ? CG_TAILSCALE_ERROR_TTL_MS : CG_TAILSCALE_CACHE_TTL_MS);
    if (e->answer != ANSWER_LOGIN) {
        json_t *fields = json_pack("{s:s, s:s}", "ip", e->ip, "reason",
                                   l->failure ? l->failure : "no login in its answer");
        if (l->exited)
            json_object_update_new(fields,
                                   json_pack("{s:I, s:i}", "exitStatus", (json_int_t)l->exit_status,
                                             "signal", l->term_signal));
        cg_log(CG_LOG_WARN, "tailscale", "tailscale whois gave no identity", fields);
    }

    for (cg_tailscale_wait *w; (w = l->waiters);) {
        l->waiters = w->next;
        if (w->next) w->next->prev = NULL;
        answer_now(e, w->login_header, w->done, w->data);
        free(w->login_header);
        free(w);
    }
    close_handle(l, (uv_handle_t *)&l->timer);
    close_handle(l, (uv_handle_t *)&l->out);
    if (l->exited) close_handle(l, (uv_handle_t *)&l->proc);
}

/* Ends the child early (timeout, output bound, shutdown); it finishes as failed. */
static void lookup_abort(lookup *l, const char *why)
{
    if (!l->failure) l->failure = why;
    if (!l->exited) uv_process_kill(&l->proc, SIGKILL);
    if (!l->out_done) {
        l->out_done = true;
        uv_read_stop((uv_stream_t *)&l->out);
    }
    if (l->entry) lookup_finish(l);
}

static void on_whois_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
    lookup *l = p->data;
    l->exited = true;
    l->exit_status = exit_status;
    l->term_signal = term_signal;
    if (!l->entry)
        close_handle(l, (uv_handle_t *)&l->proc); /* finished earlier: only the child was left */
    else if (l->out_done)
        lookup_finish(l);
}

static void on_whois_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    lookup *l = h->data;
    cg_buf_reserve(&l->output, READ_CHUNK);
    *buf = uv_buf_init(l->output.data + l->output.len, READ_CHUNK);
}

static void on_whois_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lookup *l = s->data;
    if (nread > 0) {
        l->output.len += (size_t)nread;
        l->output.data[l->output.len] = 0;
        if (l->output.len > CG_TAILSCALE_WHOIS_MAX_OUTPUT) lookup_abort(l, "output over bound");
        return;
    }
    if (nread == 0) return;
    l->out_done = true;
    uv_read_stop(s);
    if (l->exited && l->entry) lookup_finish(l);
}

static void on_whois_timeout(uv_timer_t *t)
{
    lookup_abort(t->data, "timed out");
}

/* Starts the child for e. 0, or a libuv error: the handles then close by themselves. */
static int lookup_start(cg_tailscale *ts, entry *e)
{
    lookup *l = cg_xcalloc(1, sizeof *l);
    l->ts = ts;
    l->entry = e;
    l->proc.data = l->out.data = l->timer.data = l;
    uv_pipe_init(ts->loop, &l->out, 0);
    uv_timer_init(ts->loop, &l->timer);
    l->open_handles = 3;
    char *args[] = {"tailscale", "whois", "--json", e->ip, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&l->out},
        {.flags = UV_IGNORE},
    };
    uv_process_options_t opts = {
        .exit_cb = on_whois_exit, .file = args[0], .args = args, .stdio_count = 3, .stdio = stdio};
    int rc = uv_spawn(ts->loop, &l->proc, &opts);
    if (rc != 0) {
        /* uv_spawn initialized the process handle even so: it closes like the others. */
        l->entry = NULL;
        close_handle(l, (uv_handle_t *)&l->proc);
        close_handle(l, (uv_handle_t *)&l->out);
        close_handle(l, (uv_handle_t *)&l->timer);
        return rc;
    }
    uv_read_start((uv_stream_t *)&l->out, on_whois_alloc, on_whois_read);
    uv_timer_start(&l->timer, on_whois_timeout, CG_TAILSCALE_WHOIS_TIMEOUT_MS, 0);
    e->lookup = l;
    l->next = ts->running;
    if (ts->running) ts->running->prev = l;
    ts->running = l;
    ts->n_running++;
    return 0;
}

cg_tailscale_wait *cg_tailscale_verify(cg_tailscale *ts, const char *client_ip,
                                       const char *login_header, cg_tailscale_done done, void *data)
{
    uint64_t now = mono_ms();
    entry *e = cg_strmap_get(ts->by_ip, client_ip);
    if (e && !e->lookup && e->expires_ms <= now) {
        entry_free(ts, e);
        e = NULL;
    }
    if (!e) {
        if (ts->stopped || ts->n_running >= CG_TAILSCALE_MAX_LOOKUPS) {
            if (!ts->stopped)
                cg_log(CG_LOG_WARN, "tailscale", "too many tailscale whois lookups at once",
                       json_pack("{s:s, s:i}", "ip", client_ip, "max", CG_TAILSCALE_MAX_LOOKUPS));
            done(CG_TAILSCALE_WHOIS_FAILED, NULL, data);
            return NULL;
        }
        make_room(ts, now);
        e = entry_new(ts, client_ip);
        int rc = lookup_start(ts, e);
        if (rc != 0) {
            cg_log(CG_LOG_WARN, "tailscale", "cannot run tailscale whois",
                   json_pack("{s:s, s:s}", "ip", client_ip, "error", uv_strerror(rc)));
            e->answer = ANSWER_UNAVAILABLE;
            e->expires_ms = now + CG_TAILSCALE_ERROR_TTL_MS;
        }
    }
    if (!e->lookup) {
        answer_now(e, login_header, done, data);
        return NULL;
    }
    cg_tailscale_wait *w = cg_xcalloc(1, sizeof *w);
    *w = (cg_tailscale_wait){.lookup = e->lookup,
                             .login_header = cg_strdup(login_header),
                             .done = done,
                             .data = data,
                             .next = e->lookup->waiters};
    if (w->next) w->next->prev = w;
    e->lookup->waiters = w;
    return w;
}

void cg_tailscale_cancel(cg_tailscale_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->lookup->waiters = w->next;
    if (w->next) w->next->prev = w->prev;
    free(w->login_header);
    free(w);
}

void cg_tailscale_stop(cg_tailscale *ts)
{
    ts->stopped = true;
    for (lookup *l = ts->running, *next; l; l = next) {
        next = l->next;
        lookup_abort(l, "gateway stopping");
    }
}

void cg_tailscale_free(cg_tailscale *ts)
{
    if (!ts) return;
    if (ts->running) abort(); /* a child still runs: the caller did not stop and drain */
    while (ts->oldest)
        entry_free(ts, ts->oldest);
    cg_strmap_free(ts->by_ip);
    free(ts);
}
