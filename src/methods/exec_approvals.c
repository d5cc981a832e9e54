/* Exec approvals (issue 8), as the real gateway answers them:
 *   exec.approvals.get / set     the gateway's policy file, DIR/exec-approvals.json
 *                                (exec/store.c), as ExecApprovalsSnapshot + resolvedDefaults
 *   exec.approval.request        a pending approval announced to approval clients; answers
 *                                the decision (twoPhase: "accepted" first, on the same id)
 *   exec.approval.waitDecision   waits for a pending approval's decision
 *   exec.approval.resolve        allow-once, allow-always (writes an allowlist entry bound
 *                                to the argv and cwd), deny
 *   exec.approval.get / list     one pending approval / all the caller may see
 *   plugin.approval.list, openclaw.approval.list
 *                                plugin and system-agent approvals: clawgate has none of
 *                                those kinds, so always []
 * and the gate in front of system.run (cg_exec_gate_check, exec_approvals.h).
 *
 * Who gets exec.approval.requested / resolved (OpenClaw's canDeliverApprovals and
 * isApprovalRecordVisibleToClient): operators holding operator.admin or operator.approvals
 * that are the Control UI or a native app, or declare cap "approvals"/"exec-approvals";
 * of those, admins see every approval, others only approvals their own device asked for
 * (a requester without a device: only that connection). The requester's own connection is
 * not sent its request and does not count as an approver. The same visibility filters
 * exec.approval.list / get / waitDecision / resolve. */
#include "methods/exec_approvals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "exec/approvals.h"
#include "exec/store.h"
#include "gateway/methods.h"

#define COMMAND_DISPLAY_MAX 16384 /* OpenClaw's EXEC_APPROVAL_MAX_OUTPUT */
#define ANSWER_GRACE_MS 5000      /* a waiting request's deadline past its approval's expiry */

typedef struct exec_state {
    cg_gateway *gw;
    cg_exec_store *store;
    cg_approvals *approvals;
    uv_timer_t timer;
} exec_state;

static void free_state(void *data);

static const cg_conn_key state_key = {.name = "exec-approvals", .free_data = free_state};

static exec_state *state_of(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &state_key);
}

/* ---- who waits on an approval ---- */

typedef enum { WAIT_REQUEST, WAIT_DECISION } wait_kind;

typedef struct waiter {
    struct waiter *prev, *next;
    struct owner *owner;
    cg_req *req;
    wait_kind kind;
} waiter;

struct cg_exec_gate {
    exec_state *st;
    cg_approval *ap;
    cg_exec_gate_done done;
    void *data;
    cg_exec_verdict verdict;
};

typedef struct owner {
    waiter *waiters;
    cg_exec_gate *gate;
} owner;

static void free_state(void *data)
{
    exec_state *st = data;
    /* The loop has run to its end: close the timer and let its close complete. */
    uv_close((uv_handle_t *)&st->timer, NULL);
    uv_run(cg_gateway_loop(st->gw), UV_RUN_NOWAIT);
    for (cg_approval *ap = cg_approvals_first(st->approvals); ap; ap = ap->next) {
        owner *o = ap->owner; /* waiters ended with their requests; a gate not cancelled */
        if (o) free(o->gate);
        free(o);
    }
    cg_approvals_free(st->approvals);
    cg_exec_store_free(st->store);
    free(st);
}

static owner *owner_of(cg_approval *ap)
{
    if (!ap->owner) ap->owner = cg_xcalloc(1, sizeof(owner));
    return ap->owner;
}

static void waiter_unlink(waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->owner->waiters = w->next;
    if (w->next) w->next->prev = w->prev;
}

static void on_waiter_cancel(cg_req *req, cg_req_end why, void *data)
{
    waiter *w = data;
    waiter_unlink(w);
    free(w);
}

static void add_waiter(cg_approval *ap, cg_req *req, wait_kind kind)
{
    owner *o = owner_of(ap);
    waiter *w = cg_xcalloc(1, sizeof *w);
    w->owner = o;
    w->req = req;
    w->kind = kind;
    w->next = o->waiters;
    if (o->waiters) o->waiters->prev = w;
    o->waiters = w;
    cg_req_on_cancel(req, on_waiter_cancel, w);
    int64_t left = ap->expires_at_ms - cg_now_ms();
    cg_req_set_timeout(req, (uint64_t)(left > 0 ? left : 0) + ANSWER_GRACE_MS);
}

static json_t *decision_json(const cg_approval *ap)
{
    return ap->decision ? json_string(ap->decision) : json_null();
}

static json_t *request_answer(const cg_approval *ap)
{
    return json_pack("{s:s, s:o, s:I, s:I}", "id", ap->id, "decision", decision_json(ap),
                     "createdAtMs", (json_int_t)ap->created_at_ms, "expiresAtMs",
                     (json_int_t)ap->expires_at_ms);
}

static json_t *wait_answer(const cg_approval *ap)
{
    json_t *a = request_answer(ap);
    json_object_set_new(a, "terminalReason", json_string(ap->terminal_reason));
    return a;
}

/* ---- the timer: expiries and the end of graces ---- */

static void settle(exec_state *st, cg_approval *ap);

static void on_expired(cg_approval *ap, void *ctx)
{
    settle(ctx, ap);
}

static void arm(exec_state *st);

static void on_timer(uv_timer_t *t)
{
    exec_state *st = t->data;
    cg_approvals_sweep(st->approvals, cg_now_ms(), on_expired, NULL, st);
    arm(st);
}

static void arm(exec_state *st)
{
    int64_t due = cg_approvals_next_due(st->approvals);
    if (due < 0) {
        uv_timer_stop(&st->timer);
        return;
    }
    int64_t now = cg_now_ms();
    uv_timer_start(&st->timer, on_timer, (uint64_t)(due > now ? due - now : 0), 0);
}

/* ---- visibility and delivery ---- */

static bool client_id_is(const cg_conn *c, const char *const *ids)
{
    const char *id = cg_conn_client_id(c);
    for (; id && *ids; ids++)
        if (!strcmp(id, *ids)) return true;
    return false;
}

/* OpenClaw's canDeliverApprovals(client, "exec"). */
static bool is_approval_client(const cg_conn *c)
{
    static const char *const ids[] = {"openclaw-control-ui", "openclaw-macos", "openclaw-ios",
                                      "openclaw-android", NULL};
    if (cg_conn_role(c) != CG_ROLE_OPERATOR) return false;
    if (!(cg_conn_scopes(c) & (CG_SCOPEBIT_ADMIN | CG_SCOPEBIT_APPROVALS))) return false;
    const json_t *caps = json_object_get(cg_conn_params(c), "caps");
    return client_id_is(c, ids) || cg_json_array_has_string(caps, "approvals") ||
           cg_json_array_has_string(caps, "exec-approvals");
}

/* OpenClaw's isApprovalRecordVisibleToClient. */
static bool visible_to(const cg_approval *ap, void *ctx)
{
    const cg_conn *c = ctx;
    if (cg_conn_scopes(c) & CG_SCOPEBIT_ADMIN) return true;
    if (ap->requester_device_id) {
        const char *own = cg_conn_device_id(c);
        return own && !strcmp(own, ap->requester_device_id);
    }
    if (ap->requester_conn_id) return !strcmp(ap->requester_conn_id, cg_conn_id(c));
    return true;
}

typedef struct delivery {
    const cg_approval *ap;
    const char *event;
    json_t *payload;
    const char *exclude_conn;
    size_t sent;
} delivery;

static void deliver_one(cg_conn *c, void *data)
{
    delivery *d = data;
    if (d->exclude_conn && !strcmp(cg_conn_id(c), d->exclude_conn)) return;
    if (!is_approval_client(c) || !visible_to(d->ap, c)) return;
    /* An approver counts whether or not this frame could be queued (as OpenClaw counts
     * the approval clients it addresses, not what reached them). */
    d->sent++;
    cg_conn_send_event(c, d->event, json_incref(d->payload), CG_EVENT_DROPPABLE);
}

/* Sends event to the approval's approval clients; how many there are. payload consumed. */
static size_t deliver(exec_state *st, const cg_approval *ap, const char *event, json_t *payload,
                      const char *exclude_conn)
{
    delivery d = {ap, event, payload, exclude_conn, 0};
    cg_gateway_foreach_conn(st->gw, deliver_one, &d);
    json_decref(payload);
    return d.sent;
}

static size_t announce(exec_state *st, const cg_approval *ap)
{
    json_t *payload = json_pack(
        "{s:s, s:s, s:O, s:I, s:I}", "approvalKind", "exec", "id", ap->id, "request", ap->request,
        "createdAtMs", (json_int_t)ap->created_at_ms, "expiresAtMs", (json_int_t)ap->expires_at_ms);
    return deliver(st, ap, "exec.approval.requested", payload, ap->requester_conn_id);
}

/* ---- the request object ---- */

static const char *str_or_null(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A non-empty trimmed copy, or NULL. */
static char *trimmed(const char *s)
{
    if (!s) return NULL;
    size_t start = strspn(s, " \t\r\n"), len = strlen(s + start);
    while (len > 0 && strchr(" \t\r\n", s[start + len - 1]))
        len--;
    if (!len) return NULL;
    char *out = cg_xmalloc(len + 1);
    memcpy(out, s + start, len);
    out[len] = 0;
    return out;
}

static json_t *nullable(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Control characters shown as \u{XX}, as OpenClaw shows invisible characters. */
static char *display_text(const char *s)
{
    cg_buf b = {0};
    cg_buf_reserve(&b, strlen(s));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            char esc[12];
            snprintf(esc, sizeof esc, "\\u{%X}", *p);
            cg_buf_appends(&b, esc);
        } else {
            cg_buf_append(&b, p, 1);
        }
    }
    return b.data;
}

/* argv as one line, quoting what a shell would split. */
static char *format_argv(const json_t *argv)
{
    cg_buf b = {0};
    cg_buf_reserve(&b, 0);
    size_t i;
    json_t *a;
    json_array_foreach(argv, i, a)
    {
        const char *s = json_string_value(a);
        if (i) cg_buf_appends(&b, " ");
        bool quote = !*s || strpbrk(s, " \t\n\"'\\$`|&;<>()*?[]{}~#!") != NULL;
        if (!quote) {
            cg_buf_appends(&b, s);
            continue;
        }
        cg_buf_appends(&b, "\"");
        for (; *s; s++) {
            if (strchr("\"\\$`", *s)) cg_buf_appends(&b, "\\");
            cg_buf_append(&b, s, 1);
        }
        cg_buf_appends(&b, "\"");
    }
    return b.data;
}

static json_t *allowed_decisions(const char *ask, bool allow_always_unavailable)
{
    if ((ask && !strcmp(ask, "always")) || allow_always_unavailable)
        return json_pack("[s, s]", "allow-once", "deny");
    return json_pack("[s, s, s]", "allow-once", "allow-always", "deny");
}

static bool decision_allowed(const cg_approval *ap, const char *decision)
{
    return cg_json_array_has_string(json_object_get(ap->request, "allowedDecisions"), decision);
}

/* The argv and cwd an approval binds (systemRunPlan for host node, else commandArgv). */
static const json_t *approval_argv(const cg_approval *ap)
{
    const json_t *plan = json_object_get(ap->request, "systemRunPlan");
    const json_t *argv = plan ? json_object_get(plan, "argv") : NULL;
    return argv ? argv : json_object_get(ap->request, "commandArgv");
}

static const char *approval_cwd(const cg_approval *ap)
{
    const json_t *plan = json_object_get(ap->request, "systemRunPlan");
    const char *cwd = plan ? str_or_null(json_object_get(plan, "cwd")) : NULL;
    return cwd ? cwd : str_or_null(json_object_get(ap->request, "cwd"));
}

/* ---- allow-always: the allowlist entry ---- */

typedef struct allow_always_write {
    char *agent_id;
    json_t *argv;
    char *cwd;
    char approval_id[CG_APPROVAL_ID_MAX + 1];
} allow_always_write;

static json_t *edit_allow_always(const cg_exec_store *s, const json_t *current, void *data,
                                 json_t **error)
{
    allow_always_write *w = data;
    return cg_exec_policy_add_allow_always(current, w->agent_id, w->argv, w->cwd, cg_now_ms());
}

static void allow_always_written(const json_t *snapshot, const json_t *error, void *data)
{
    allow_always_write *w = data;
    if (error)
        cg_log(CG_LOG_WARN, "exec-approvals", "allow-always entry not saved",
               json_pack("{s:s, s:O}", "approvalId", w->approval_id, "error", error));
    else
        cg_log(CG_LOG_INFO, "exec-approvals", "allow-always entry saved",
               json_pack("{s:s, s:s}", "approvalId", w->approval_id, "agent",
                         w->agent_id ? w->agent_id : "*"));
    free(w->agent_id);
    json_decref(w->argv);
    free(w->cwd);
    free(w);
}

static void persist_allow_always(exec_state *st, const cg_approval *ap)
{
    const json_t *argv = approval_argv(ap);
    /* Only the gateway's own gate consults its policy file: an approval someone asked for
     * with exec.approval.request is enforced by its requester, as on the real gateway
     * (whose policy file an allow-always there leaves unchanged). */
    if (!ap->from_gate || !json_array_size(argv)) return;
    allow_always_write *w = cg_xcalloc(1, sizeof *w);
    w->agent_id = cg_strdup(str_or_null(json_object_get(ap->request, "agentId")));
    w->argv = json_deep_copy(argv);
    w->cwd = cg_strdup(approval_cwd(ap));
    snprintf(w->approval_id, sizeof w->approval_id, "%s", ap->id);
    if (!cg_exec_store_write(st->store, cg_gateway_loop(st->gw), edit_allow_always,
                             allow_always_written, w)) {
        json_t *e = json_pack("{s:s, s:s}", "code", "UNAVAILABLE", "message", "write queue full");
        allow_always_written(NULL, e, w);
        json_decref(e);
    }
}

/* ---- settling a decided approval ---- */

static json_t *gate_error(const char *message, const char *reason, const cg_approval *ap)
{
    json_t *details = json_pack("{s:s}", "reason", reason);
    if (ap) json_object_set_new(details, "approvalId", json_string(ap->id));
    return json_pack("{s:s, s:s, s:o}", "code", "INVALID_REQUEST", "message", message, "details",
                     details);
}

/* Answers whoever waits on a decided approval, and its gate. */
static void settle(exec_state *st, cg_approval *ap)
{
    owner *o = ap->owner;
    ap->owner = NULL;
    if (!o) return;
    while (o->waiters) {
        waiter *w = o->waiters;
        waiter_unlink(w);
        cg_req_on_cancel(w->req, NULL, NULL);
        cg_req_ok(w->req, w->kind == WAIT_REQUEST ? request_answer(ap) : wait_answer(ap));
        free(w);
    }
    cg_exec_gate *g = o->gate;
    free(o);
    if (!g) return;
    bool allowed = ap->decision && strcmp(ap->decision, "deny") != 0;
    json_t *error = NULL;
    if (!ap->decision && !strcmp(ap->terminal_reason, "cancelled")) {
        free(g); /* withdrawn: done is not called */
        return;
    }
    if (!ap->decision && cg_exec_policy_fallback_allows(&g->verdict)) {
        allowed = true; /* askFallback lets it run unanswered */
    } else if (!allowed) {
        error = ap->decision
                    ? gate_error("SYSTEM_RUN_DENIED: user denied", "user-denied", ap)
                    : gate_error("SYSTEM_RUN_DENIED: approval timed out", "approval-timeout", ap);
    }
    cg_exec_gate_done done = g->done;
    void *data = g->data;
    free(g);
    done(allowed, error, data);
    json_decref(error);
}

static void decide(exec_state *st, cg_approval *ap, const char *decision, const char *reason)
{
    cg_approvals_decide(st->approvals, ap, decision, reason, cg_now_ms());
    if (decision && !strcmp(decision, "allow-always")) persist_allow_always(st, ap);
    settle(st, ap);
    arm(st);
}

/* ---- params ---- */

static int bad(char *err, size_t errlen, const char *key, const char *what)
{
    snprintf(err, errlen, "at /%s: %s", key, what);
    return -1;
}

static bool all_strings(const json_t *a, bool non_empty)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || (non_empty && !json_string_length(v))) return false;
    }
    return true;
}

typedef enum {
    P_STRING,         /* string, minLength 1 */
    P_STRING_NULL,    /* string or null */
    P_STRING_NULL_NE, /* non-empty string or null */
    P_BOOL,           /* boolean */
    P_INT_POS,        /* integer >= 1 */
    P_STRINGS,        /* array of strings */
    P_STRINGS_NE,     /* array of non-empty strings */
    P_OBJECT,         /* object (checked further by the handler) */
    P_THREAD_ID,      /* string, number or null */
} param_type;

typedef struct param_rule {
    const char *key;
    param_type type;
} param_rule;

static int check_rules(const json_t *params, const param_rule *rules, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "must be object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        const param_rule *r = rules;
        while (r->key && strcmp(r->key, key))
            r++;
        if (!r->key) {
            snprintf(err, errlen, "at root: unexpected property '%.64s'", key);
            return -1;
        }
        switch (r->type) {
        case P_STRING:
            if (!json_is_string(v) || !json_string_length(v))
                return bad(err, errlen, key,
                           json_is_string(v) ? "must NOT have fewer than 1 characters"
                                             : "must be string");
            break;
        case P_STRING_NULL:
            if (!json_is_string(v) && !json_is_null(v))
                return bad(err, errlen, key, "must be string or null");
            break;
        case P_STRING_NULL_NE:
            if (!json_is_null(v) && (!json_is_string(v) || !json_string_length(v)))
                return bad(err, errlen, key, "must be a non-empty string or null");
            break;
        case P_BOOL:
            if (!json_is_boolean(v)) return bad(err, errlen, key, "must be boolean");
            break;
        case P_INT_POS:
            if (!json_is_integer(v)) return bad(err, errlen, key, "must be integer");
            if (json_integer_value(v) < 1) return bad(err, errlen, key, "must be >= 1");
            break;
        case P_STRINGS:
        case P_STRINGS_NE:
            if (!json_is_array(v) || !all_strings(v, r->type == P_STRINGS_NE))
                return bad(err, errlen, key,
                           r->type == P_STRINGS ? "must be an array of strings"
                                                : "must be an array of non-empty strings");
            break;
        case P_OBJECT:
            if (!json_is_object(v)) return bad(err, errlen, key, "must be object");
            break;
        case P_THREAD_ID:
            if (!json_is_string(v) && !json_is_number(v) && !json_is_null(v))
                return bad(err, errlen, key, "must be a string, a number or null");
            break;
        }
    }
    return 0;
}

static int check_plan(const json_t *plan, char *err, size_t errlen)
{
    static const param_rule rules[] = {
        {"argv", P_STRINGS},
        {"cwd", P_STRING_NULL},
        {"commandText", P_STRING_NULL},
        {"commandPreview", P_STRING_NULL},
        {"agentId", P_STRING_NULL},
        {"sessionKey", P_STRING_NULL},
        {"policySnapshot", P_OBJECT},
        {"mutableFileOperand", P_OBJECT},
        {NULL, 0},
    };
    char inner[200];
    if (check_rules(plan, rules, inner, sizeof inner)) {
        snprintf(err, errlen, "at /systemRunPlan: %s", inner);
        return -1;
    }
    static const char *const required[] = {"argv", "cwd", "commandText", "agentId", "sessionKey"};
    for (size_t i = 0; i < 5; i++)
        if (!json_object_get(plan, required[i])) {
            snprintf(err, errlen, "at /systemRunPlan: must have required property '%s'",
                     required[i]);
            return -1;
        }
    if (!json_is_string(json_object_get(plan, "commandText"))) {
        snprintf(err, errlen, "at /systemRunPlan/commandText: must be string");
        return -1;
    }
    return 0;
}

static int check_request(const json_t *params, char *err, size_t errlen)
{
    static const param_rule rules[] = {
        {"id", P_STRING},
        {"command", P_STRING},
        {"commandArgv", P_STRINGS},
        {"systemRunPlan", P_OBJECT},
        {"env", P_OBJECT},
        {"cwd", P_STRING_NULL},
        {"nodeId", P_STRING_NULL_NE},
        {"host", P_STRING_NULL},
        {"security", P_STRING_NULL},
        {"ask", P_STRING_NULL},
        {"warningText", P_STRING_NULL},
        {"scope", P_OBJECT},
        {"unavailableDecisions", P_STRINGS},
        {"commandSpans", P_STRINGS}, /* replaced below */
        {"agentId", P_STRING_NULL},
        {"resolvedPath", P_STRING_NULL},
        {"sessionKey", P_STRING_NULL},
        {"sessionId", P_STRING_NULL},
        {"runId", P_STRING_NULL},
        {"toolCallId", P_STRING_NULL},
        {"turnSourceChannel", P_STRING_NULL},
        {"turnSourceTo", P_STRING_NULL},
        {"turnSourceAccountId", P_STRING_NULL},
        {"turnSourceThreadId", P_THREAD_ID},
        {"approvalReviewerDeviceIds", P_STRINGS_NE},
        {"requireDeliveryRoute", P_BOOL},
        {"suppressDelivery", P_BOOL},
        {"deliverToApprovalClientsOnly", P_BOOL},
        {"timeoutMs", P_INT_POS},
        {"twoPhase", P_BOOL},
        {NULL, 0},
    };
    /* commandSpans are objects, not strings: check them apart. */
    json_t *copy = json_copy((json_t *)params);
    json_t *spans = json_object_get(params, "commandSpans");
    if (spans) json_object_del(copy, "commandSpans");
    int rc = check_rules(copy, rules, err, errlen);
    json_decref(copy);
    if (rc) return -1;
    if (spans && !json_is_array(spans)) return bad(err, errlen, "commandSpans", "must be array");
    size_t i;
    json_t *span;
    json_array_foreach(spans, i, span)
    {
        json_int_t start = -1, end = -1;
        json_error_t je;
        if (json_unpack_ex(span, &je, JSON_STRICT, "{s:I, s:I}", "startIndex", &start, "endIndex",
                           &end) ||
            start < 0 || end < 1)
            return bad(err, errlen, "commandSpans",
                       "items must be {startIndex >= 0, endIndex >= 1} integers");
    }
    const json_t *unavailable = json_object_get(params, "unavailableDecisions");
    if (unavailable && (json_array_size(unavailable) != 1 ||
                        strcmp(json_string_value(json_array_get(unavailable, 0)), "allow-always")))
        return bad(err, errlen, "unavailableDecisions", "must be [\"allow-always\"]");
    const json_t *env = json_object_get(params, "env");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)env, k, v)
    {
        if (!json_is_string(v)) return bad(err, errlen, "env", "values must be strings");
    }
    const json_t *plan = json_object_get(params, "systemRunPlan");
    if (plan && check_plan(plan, err, errlen)) return -1;
    return 0;
}

static int check_id(const json_t *params, char *err, size_t errlen)
{
    return cg_params_one_string(params, "id", err, errlen);
}

/* waitDecision: the real gateway checks nothing but the id, in the handler. */
static int check_object(const json_t *params, char *err, size_t errlen)
{
    if (json_is_object(params)) return 0;
    snprintf(err, errlen, "must be object");
    return -1;
}

static int check_resolve(const json_t *params, char *err, size_t errlen)
{
    const char *id, *decision;
    json_t *reviewer = NULL;
    json_int_t days = 0;
    int has_days = 0;
    json_t *days_v = json_object_get(params, "grantExpiresInDays");
    if (days_v && !json_is_integer(days_v))
        return bad(err, errlen, "grantExpiresInDays", "must be integer");
    if (cg_params_unpack(params, err, errlen, "{s:s, s:s, s?o, s?I}", "id", &id, "decision",
                         &decision, "reviewer", &reviewer, "grantExpiresInDays", &days))
        return -1;
    has_days = days_v != NULL;
    if (!*id) return bad(err, errlen, "id", "must NOT have fewer than 1 characters");
    if (!*decision) return bad(err, errlen, "decision", "must NOT have fewer than 1 characters");
    if (has_days && (days < 1 || days > 3650))
        return bad(err, errlen, "grantExpiresInDays", "must be between 1 and 3650");
    if (reviewer) {
        const char *channel, *account, *sender;
        char inner[160];
        if (cg_params_unpack(reviewer, inner, sizeof inner, "{s:s, s:s, s:s}", "channel", &channel,
                             "accountId", &account, "senderId", &sender))
            return bad(err, errlen, "reviewer", inner);
    }
    return 0;
}

static int check_set(const json_t *params, char *err, size_t errlen)
{
    json_t *file;
    const char *base_hash = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:o, s?s}", "file", &file, "baseHash", &base_hash))
        return -1;
    if (base_hash && !*base_hash)
        return bad(err, errlen, "baseHash", "must NOT have fewer than 1 characters");
    return cg_exec_policy_validate(file, err, errlen);
}

static const char *param(const cg_req *req, const char *key)
{
    return str_or_null(json_object_get(req->params, key));
}

/* ---- exec.approvals.get / set ---- */

static void handle_policy_get(cg_req *req)
{
    exec_state *st = state_of(req->gw);
    cg_req_ok(req, cg_exec_store_snapshot(st->store));
}

typedef struct policy_set {
    cg_req_hold hold;
    json_t *file;
    char *base_hash;
} policy_set;

static json_t *hash_refusal(const char *message)
{
    return json_pack("{s:s, s:s}", "code", "INVALID_REQUEST", "message", message);
}

static json_t *edit_set(const cg_exec_store *s, const json_t *current, void *data, json_t **error)
{
    policy_set *p = data;
    const char *hash = cg_exec_store_hash(s);
    if (cg_exec_store_exists(s) && !p->base_hash) {
        *error =
            hash_refusal("exec approvals base hash required; re-run exec.approvals.get and retry");
        return NULL;
    }
    if (p->base_hash && strcmp(p->base_hash, hash)) {
        *error = hash_refusal(
            "exec approvals changed since last load; re-run exec.approvals.get and retry");
        return NULL;
    }
    json_t *next = cg_exec_policy_normalize(p->file);
    /* The socket's token is never shown, so a file sent back without it keeps the stored
     * one (OpenClaw's mergeExecApprovalsSocketDefaults). */
    const json_t *cur_socket = json_object_get(current, "socket");
    json_t *socket = json_object_get(next, "socket");
    const json_t *token = json_object_get(cur_socket, "token");
    if (socket && token && !json_object_get(socket, "token"))
        json_object_set(socket, "token", (json_t *)token);
    return next;
}

static void set_done(const json_t *snapshot, const json_t *error, void *data)
{
    policy_set *p = data;
    if (p->hold.req) {
        if (error)
            cg_req_error_shape(p->hold.req, json_deep_copy(error));
        else
            cg_req_hold_answer(&p->hold, 0, NULL, "exec approvals", json_deep_copy(snapshot));
    }
    if (!error)
        cg_log(CG_LOG_INFO, "exec-approvals", "exec approvals written",
               json_pack("{s:s}", "hash", json_string_value(json_object_get(snapshot, "hash"))));
    json_decref(p->file);
    free(p->base_hash);
    free(p);
}

static void handle_policy_set(cg_req *req)
{
    exec_state *st = state_of(req->gw);
    policy_set *p = cg_xcalloc(1, sizeof *p);
    p->file = json_deep_copy(json_object_get(req->params, "file"));
    p->base_hash = cg_strdup(param(req, "baseHash"));
    if (!cg_req_hold_start(&p->hold, req)) {
        json_decref(p->file);
        free(p->base_hash);
        free(p);
        return;
    }
    if (!cg_exec_store_write(st->store, cg_gateway_loop(st->gw), edit_set, set_done, p)) {
        cg_req_error_shape(p->hold.req,
                           json_pack("{s:s, s:s, s:b}", "code", "UNAVAILABLE", "message",
                                     "too many exec approvals writes", "retryable", 1));
        json_decref(p->file);
        free(p->base_hash);
        free(p);
    }
}

/* ---- creating approvals (exec.approval.request and the gate) ---- */

static void refuse(cg_req *req, const char *message, json_t *details)
{
    cg_req_error(req, "INVALID_REQUEST", message, details);
}

static void not_found(cg_req *req)
{
    refuse(req, "unknown or expired approval id",
           json_pack("{s:s, s:s}", "reason", "APPROVAL_NOT_FOUND", "remediation",
                     "Re-request the action; pending approvals are cleared after expiry or "
                     "restart."));
}

static json_t *too_many(void)
{
    return json_pack("{s:s, s:s, s:b}", "code", "UNAVAILABLE", "message",
                     "too many pending exec approvals; resolve some first", "retryable", 1);
}

/* The request object of exec.approval.request (the real gateway's keys). NULL with
 * *error when the params do not make one. */
static json_t *build_request(const json_t *p, json_t **error)
{
    char *host = trimmed(str_or_null(json_object_get(p, "host")));
    char *node_id = trimmed(str_or_null(json_object_get(p, "nodeId")));
    bool on_node = host && !strcmp(host, "node");
    const json_t *plan = on_node ? json_object_get(p, "systemRunPlan") : NULL;
    const char *msg = NULL;
    json_t *details = NULL;
    json_t *request = NULL;
    char *command = NULL, *cwd = NULL, *agent = NULL, *session = NULL, *text = NULL;
    const json_t *argv = plan ? json_object_get(plan, "argv") : json_object_get(p, "commandArgv");
    if (plan) {
        command = trimmed(str_or_null(json_object_get(plan, "commandText")));
        if (!command && json_array_size(argv)) command = format_argv(argv);
        cwd = trimmed(str_or_null(json_object_get(plan, "cwd")));
        agent = trimmed(str_or_null(json_object_get(plan, "agentId")));
        session = trimmed(str_or_null(json_object_get(plan, "sessionKey")));
    } else {
        command = trimmed(str_or_null(json_object_get(p, "command")));
        cwd = trimmed(str_or_null(json_object_get(p, "cwd")));
        agent = trimmed(str_or_null(json_object_get(p, "agentId")));
        session = trimmed(str_or_null(json_object_get(p, "sessionKey")));
    }
    const char *id = str_or_null(json_object_get(p, "id"));
    if (on_node && !node_id)
        msg = "nodeId is required for host=node";
    else if (on_node && !plan)
        msg = "systemRunPlan is required for host=node";
    else if (!command)
        msg = "command is required";
    else if (id && !strncmp(id, "plugin:", 7))
        msg = "approval ids starting with plugin: are reserved";
    else if (on_node && !json_array_size(argv))
        msg = "commandArgv is required for host=node";
    else if (id && !cg_approval_id_valid(id)) {
        msg = "approval id must be 1-128 characters using only letters, numbers, '.', '_', "
              "':', or '-', and cannot be '.' or '..'";
        details = json_pack("{s:s, s:s}", "code", "EXEC_APPROVAL_ID_INVALID", "reason",
                            "INVALID_APPROVAL_ID");
    } else if (strlen(command) > COMMAND_DISPLAY_MAX) {
        msg = "command exceeds exec approval display limit";
        details = json_pack("{s:s}", "reason", "EXEC_APPROVAL_COMMAND_DISPLAY_LIMIT");
    }
    if (msg) {
        *error = json_pack("{s:s, s:s}", "code", "INVALID_REQUEST", "message", msg);
        if (details) json_object_set_new(*error, "details", details);
        goto out;
    }
    text = display_text(command);
    const char *ask = str_or_null(json_object_get(p, "ask"));
    const char *security = str_or_null(json_object_get(p, "security"));
    bool no_always = json_array_size(json_object_get(p, "unavailableDecisions")) > 0;
    /* The real gateway's keys, in its order. */
    request = json_pack("{s:s}", "command", text);
    if (!on_node && json_array_size(argv))
        json_object_set_new(request, "commandArgv", json_deep_copy(argv));
    const json_t *env = json_object_get(p, "env");
    if (json_object_size(env)) {
        json_t *keys = json_array();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)env, k, v)
        {
            json_array_append_new(keys, json_string(k));
        }
        json_object_set_new(request, "envKeys", keys);
    }
    if (plan) {
        char *preview = trimmed(str_or_null(json_object_get(plan, "commandPreview")));
        if (!preview) preview = trimmed(str_or_null(json_object_get(p, "command")));
        if (preview && !strcmp(preview, text)) {
            free(preview);
            preview = NULL;
        }
        char *preview_text = preview ? display_text(preview) : NULL;
        json_object_set_new(request, "systemRunBinding",
                            json_pack("{s:O, s:o, s:o, s:o, s:n}", "argv", argv, "cwd",
                                      nullable(cwd), "agentId", nullable(agent), "sessionKey",
                                      nullable(session), "envHash"));
        json_object_set_new(request, "systemRunPlan",
                            json_pack("{s:O, s:o, s:s, s:o, s:o, s:o}", "argv", argv, "cwd",
                                      nullable(cwd), "commandText", text, "commandPreview",
                                      nullable(preview_text), "agentId", nullable(agent),
                                      "sessionKey", nullable(session)));
        free(preview);
        free(preview_text);
    } else {
        json_object_set_new(request, "systemRunBinding", json_null());
        json_object_set_new(request, "systemRunPlan", json_null());
    }
    json_object_set_new(request, "cwd", nullable(cwd));
    json_object_set_new(request, "nodeId", on_node ? json_string(node_id) : json_null());
    json_object_set_new(request, "host", nullable(host));
    static const char *const securities[] = {"deny", "allowlist", "full", NULL};
    static const char *const asks[] = {"off", "on-miss", "always", NULL};
    const char *sec_norm = NULL, *ask_norm = NULL;
    for (size_t i = 0; security && securities[i]; i++)
        if (!strcmp(security, securities[i])) sec_norm = securities[i];
    for (size_t i = 0; ask && asks[i]; i++)
        if (!strcmp(ask, asks[i])) ask_norm = asks[i];
    json_object_set_new(request, "security", nullable(sec_norm));
    json_object_set_new(request, "ask", nullable(ask_norm));
    char *warning = trimmed(str_or_null(json_object_get(p, "warningText")));
    char *warning_text = warning ? display_text(warning) : NULL;
    json_object_set_new(request, "warningText", nullable(warning_text));
    free(warning);
    free(warning_text);
    const json_t *scope = json_object_get(p, "scope");
    json_object_set_new(request, "scope", scope ? json_deep_copy(scope) : json_null());
    /* OpenClaw's shell analysis summary; clawgate does not parse commands: null, as
     * OpenClaw sends when its analysis is unavailable. */
    json_object_set_new(request, "commandAnalysis", json_null());
    if (no_always)
        json_object_set_new(request, "unavailableDecisions", json_pack("[s]", "allow-always"));
    json_object_set_new(request, "allowedDecisions", allowed_decisions(ask_norm, no_always));
    json_object_set_new(request, "agentId", nullable(agent));
    char *resolved_path = trimmed(str_or_null(json_object_get(p, "resolvedPath")));
    json_object_set_new(request, "resolvedPath", nullable(resolved_path));
    free(resolved_path);
    json_object_set_new(request, "sessionKey", nullable(session));
    static const char *const passthrough[] = {
        "sessionId",           "runId", "toolCallId", "turnSourceChannel", "turnSourceTo",
        "turnSourceAccountId", NULL};
    for (size_t i = 0; passthrough[i]; i++) {
        char *v = trimmed(str_or_null(json_object_get(p, passthrough[i])));
        json_object_set_new(request, passthrough[i], nullable(v));
        free(v);
    }
    const json_t *thread = json_object_get(p, "turnSourceThreadId");
    json_object_set_new(request, "turnSourceThreadId",
                        thread ? json_deep_copy(thread) : json_null());
    json_object_set_new(request, "cronExecutionSource", json_null());
    json_object_set_new(request, "cronOperationBinding", json_null());
out:
    free(host);
    free(node_id);
    free(command);
    free(cwd);
    free(agent);
    free(session);
    free(text);
    return request;
}

/* ---- exec.approval.request ---- */

static void handle_request(cg_req *req)
{
    exec_state *st = state_of(req->gw);
    json_t *error = NULL;
    json_t *request = build_request(req->params, &error);
    if (!request) {
        cg_req_error_shape(req, error);
        return;
    }
    const char *id = param(req, "id");
    cg_approval *existing = NULL;
    if (id &&
        cg_approvals_find(st->approvals, id, CG_APPROVAL_PENDING, NULL, NULL, &existing) ==
            CG_APPROVAL_FOUND &&
        !strcmp(existing->id, id)) {
        json_decref(request);
        refuse(req, "approval id already pending", NULL);
        return;
    }
    const json_t *timeout = json_object_get(req->params, "timeoutMs");
    int64_t timeout_ms = timeout ? json_integer_value(timeout) : CG_APPROVAL_DEFAULT_TIMEOUT_MS;
    bool two_phase = json_is_true(json_object_get(req->params, "twoPhase"));
    bool suppress = json_is_true(json_object_get(req->params, "suppressDelivery"));
    const json_t *require_route = json_object_get(req->params, "requireDeliveryRoute");
    bool keep_without_route = json_is_false(require_route);
    cg_req *p = cg_req_defer(req);
    if (!p) {
        json_decref(request);
        return;
    }
    cg_approval *ap;
    switch (cg_approvals_add(st->approvals, json_string_value(json_object_get(p->params, "id")),
                             request, timeout_ms, cg_now_ms(), cg_conn_id(p->conn),
                             cg_conn_device_id(p->conn), &ap)) {
    case CG_APPROVALS_DUPLICATE:
        refuse(p, "approval id already pending", NULL);
        return;
    case CG_APPROVALS_FULL:
        cg_req_error_shape(p, too_many());
        return;
    case CG_APPROVALS_ADDED:
        break;
    }
    size_t approvers = suppress ? 0 : announce(st, ap);
    if (!approvers && !keep_without_route) {
        /* No approval client can answer: decided "none" at once, as the real gateway. */
        cg_approvals_decide(st->approvals, ap, NULL, "no-route", cg_now_ms());
        cg_req_ok(p, request_answer(ap));
        arm(st);
        return;
    }
    if (two_phase)
        cg_req_accept(p, json_pack("{s:s, s:s, s:s, s:I, s:I}", "status", "accepted", "id", ap->id,
                                   "deliveryRoute", approvers ? "approval-client" : "none",
                                   "createdAtMs", (json_int_t)ap->created_at_ms, "expiresAtMs",
                                   (json_int_t)ap->expires_at_ms));
    add_waiter(ap, p, WAIT_REQUEST);
    arm(st);
}

/* ---- waitDecision, get, list ---- */

static void handle_wait(cg_req *req)
{
    exec_state *st = state_of(req->gw);
    cg_approval *ap = NULL;
    char *trim = trimmed(param(req, "id"));
    char id[CG_APPROVAL_ID_MAX + 2];
    snprintf(id, sizeof id, "%s", trim ? trim : "");
    free(trim);
    if (!id[0]) {
        refuse(req, "id is required", NULL);
        return;
    }
    cg_approvals_find(st->approvals, id, CG_APPROVAL_PENDING, NULL, NULL, &ap);
    if (ap && strcmp(ap->id, id)) ap = NULL; /* waits take exact ids */
    if (!ap) {
        cg_approvals_find(st->approvals, id, CG_APPROVAL_DECIDED, NULL, NULL, &ap);
        if (ap && strcmp(ap->id, id)) ap = NULL;
    }
    if (!ap || !visible_to(ap, req->conn)) {
        refuse(req, "approval expired or not found", NULL);
        return;
    }
    if (ap->state == CG_APPROVAL_DECIDED) {
        cg_req_ok(req, wait_answer(ap));
        return;
    }
    cg_req *p = cg_req_defer(req);
    if (p) add_waiter(ap, p, WAIT_DECISION);
}

/* A pending approval the caller may see, by id or unique prefix; NULL after answering. */
static cg_approval *lookup(cg_req *req, exec_state *st, cg_approval_state state, bool answer)
{
    cg_approval *ap = NULL;
    cg_approval_lookup r =
        cg_approvals_find(st->approvals, param(req, "id"), state, visible_to, req->conn, &ap);
    if (r == CG_APPROVAL_AMBIGUOUS && answer) {
        refuse(req, "ambiguous approval id prefix; use the full id", NULL);
        return NULL;
    }
    if (!ap && answer) not_found(req);
    return ap;
}

static void handle_get(cg_req *req)
{
    exec_state *st = state_of(req->gw);
    cg_approval *ap = lookup(req, st, CG_APPROVAL_PENDING, true);
    if (!ap) return;
    const json_t *r = ap->request;
    const json_t *plan = json_object_get(r, "systemRunPlan");
    const char *text = str_or_null(json_object_get(r, "command"));
    const char *preview = str_or_null(json_object_get(r, "commandPreview"));
    if (!preview && json_is_object(plan))
        preview = str_or_null(json_object_get(plan, "commandPreview"));
    if (preview && text && !strcmp(preview, text)) preview = NULL;
    cg_req_ok(req, json_pack("{s:s, s:s, s:o, s:O, s:O, s:O, s:O, s:I}", "id", ap->id,
                             "commandText", text ? text : "", "commandPreview", nullable(preview),
                             "allowedDecisions", json_object_get(r, "allowedDecisions"), "host",
                             json_object_get(r, "host"), "nodeId", json_object_get(r, "nodeId"),
                             "agentId", json_object_get(r, "agentId"), "expiresAtMs",
                             (json_int_t)ap->expires_at_ms));
}

static void handle_list(cg_req *req)
{
    exec_state *st = state_of(req->gw);
    json_t *list = json_array();
    for (cg_approval *ap = cg_approvals_first(st->approvals); ap; ap = ap->next) {
        if (ap->state != CG_APPROVAL_PENDING || !visible_to(ap, req->conn)) continue;
        json_array_append_new(
            list, json_pack("{s:s, s:O, s:I, s:I, s:s}", "id", ap->id, "request", ap->request,
                            "createdAtMs", (json_int_t)ap->created_at_ms, "expiresAtMs",
                            (json_int_t)ap->expires_at_ms, "approvalKind", "exec"));
    }
    cg_req_ok(req, list);
}

/* plugin.approval.list, openclaw.approval.list: plugin and system-agent approvals, of
 * which clawgate has none. */
static void handle_other_list(cg_req *req)
{
    cg_req_ok(req, json_array());
}

/* ---- exec.approval.resolve ---- */

static const char *decision_name(const char *d)
{
    static const char *const names[] = {"allow-once", "allow-always", "deny", NULL};
    for (size_t i = 0; d && names[i]; i++)
        if (!strcmp(d, names[i])) return names[i];
    return NULL;
}

static void handle_resolve(cg_req *req)
{
    exec_state *st = state_of(req->gw);
    const char *decision = decision_name(param(req, "decision"));
    if (!decision) {
        refuse(req, "invalid decision", NULL);
        return;
    }
    if (json_object_get(req->params, "reviewer")) {
        /* A channel reviewer's custody: clawgate has no channels to vouch for one. */
        not_found(req);
        return;
    }
    cg_approval *ap = NULL;
    cg_approval_lookup r = cg_approvals_find(st->approvals, param(req, "id"), CG_APPROVAL_PENDING,
                                             visible_to, req->conn, &ap);
    if (r == CG_APPROVAL_AMBIGUOUS) {
        refuse(req, "ambiguous approval id prefix; use the full id", NULL);
        return;
    }
    if (!ap) {
        cg_approval *done = lookup(req, st, CG_APPROVAL_DECIDED, false);
        if (!done) {
            not_found(req);
        } else if (done->decision && !strcmp(done->decision, decision)) {
            cg_req_ok(req, json_pack("{s:b}", "ok", 1));
        } else {
            refuse(req, "approval already resolved",
                   json_pack("{s:s}", "reason", "APPROVAL_ALREADY_RESOLVED"));
        }
        return;
    }
    if (!decision_allowed(ap, decision)) {
        refuse(req, "allow-always is unavailable for this command",
               json_pack("{s:s}", "reason", "APPROVAL_ALLOW_ALWAYS_UNAVAILABLE"));
        return;
    }
    const json_t *client = json_object_get(cg_conn_params(req->conn), "client");
    const char *by = str_or_null(json_object_get(client, "displayName"));
    if (!by) by = cg_conn_client_id(req->conn);
    json_t *event =
        json_pack("{s:s, s:s, s:o, s:I, s:O}", "id", ap->id, "decision", decision, "resolvedBy",
                  nullable(by), "ts", (json_int_t)cg_now_ms(), "request", ap->request);
    cg_log(CG_LOG_INFO, "exec-approvals", "exec approval resolved",
           json_pack("{s:s, s:s, s:o}", "id", ap->id, "decision", decision, "by", nullable(by)));
    decide(st, ap, decision, "user");
    deliver(st, ap, "exec.approval.resolved", event, NULL);
    cg_req_ok(req, json_pack("{s:b}", "ok", 1));
}

/* ---- the gate ---- */

static json_t *gate_refusal(const char *message, const char *reason, const cg_exec_verdict *v,
                            const char *agent_id)
{
    json_t *e = gate_error(message, reason, NULL);
    json_t *details = json_object_get(e, "details");
    if (v) {
        json_object_set_new(details, "security",
                            json_string(cg_exec_security_name(v->policy.security)));
        json_object_set_new(details, "ask", json_string(cg_exec_ask_name(v->policy.ask)));
    }
    if (agent_id) json_object_set_new(details, "agentId", json_string(agent_id));
    return e;
}

cg_exec_gate_status cg_exec_gate_check(cg_gateway *gw, const cg_conn *caller, const char *node_id,
                                       const json_t *run_params, cg_exec_gate_done done, void *data,
                                       cg_exec_gate **gate, json_t **error)
{
    *gate = NULL;
    *error = NULL;
    exec_state *st = state_of(gw);
    if (!st) {
        *error = json_pack("{s:s, s:s}", "code", "UNAVAILABLE", "message",
                           "exec approvals are not available");
        return CG_EXEC_GATE_REFUSE;
    }
    const json_t *argv = json_object_get(run_params, "command");
    if (!json_is_array(argv) || !json_array_size(argv) || !all_strings(argv, false) ||
        !json_string_length(json_array_get(argv, 0))) {
        *error = gate_refusal("system.run needs command: a non-empty array of strings",
                              "invalid-command", NULL, NULL);
        return CG_EXEC_GATE_REFUSE;
    }
    char *agent_id = trimmed(str_or_null(json_object_get(run_params, "agentId")));
    char *cwd = trimmed(str_or_null(json_object_get(run_params, "cwd")));
    const json_t *file = cg_exec_store_doc(st->store);
    cg_exec_verdict v = cg_exec_policy_evaluate(file, agent_id, argv, cwd);
    cg_exec_gate_status status = CG_EXEC_GATE_ALLOW;
    if (v.decision == CG_EXEC_DECIDE_REFUSE) {
        *error = gate_refusal(v.message, v.reason, &v, agent_id);
        status = CG_EXEC_GATE_REFUSE;
        goto out;
    }
    if (v.decision == CG_EXEC_DECIDE_ALLOW) goto out;
    /* Ask an approver: the approval exec.approval.request would make for host node. */
    json_t *plan =
        json_pack("{s:O, s:o, s:s, s:n, s:o, s:o}", "argv", argv, "cwd", nullable(cwd),
                  "commandText", "", "commandPreview", "agentId", nullable(agent_id), "sessionKey",
                  nullable(str_or_null(json_object_get(run_params, "sessionKey"))));
    const char *raw = str_or_null(json_object_get(run_params, "rawCommand"));
    char *text = raw && *raw ? cg_strdup(raw) : format_argv(argv);
    json_object_set_new(plan, "commandText", json_string(text));
    json_t *params =
        json_pack("{s:s, s:s, s:o, s:s, s:s}", "host", "node", "nodeId", node_id, "systemRunPlan",
                  plan, "security", cg_exec_security_name(v.policy.security), "ask",
                  cg_exec_ask_name(v.policy.ask));
    free(text);
    json_t *request = build_request(params, error);
    json_decref(params);
    if (!request) {
        status = CG_EXEC_GATE_REFUSE;
        goto out;
    }
    cg_approval *ap;
    if (cg_approvals_add(st->approvals, NULL, request, CG_APPROVAL_DEFAULT_TIMEOUT_MS, cg_now_ms(),
                         cg_conn_id(caller), cg_conn_device_id(caller),
                         &ap) != CG_APPROVALS_ADDED) {
        *error = too_many();
        status = CG_EXEC_GATE_REFUSE;
        goto out;
    }
    ap->from_gate = true;
    if (!announce(st, ap)) {
        cg_approvals_decide(st->approvals, ap, NULL, "no-route", cg_now_ms());
        arm(st);
        if (!cg_exec_policy_fallback_allows(&v)) {
            *error = gate_refusal("SYSTEM_RUN_DENIED: approval required (no approver connected)",
                                  "no-approval-route", &v, agent_id);
            status = CG_EXEC_GATE_REFUSE;
        }
        goto out;
    }
    cg_exec_gate *g = cg_xcalloc(1, sizeof *g);
    g->st = st;
    g->ap = ap;
    g->done = done;
    g->data = data;
    g->verdict = v;
    owner_of(ap)->gate = g;
    *gate = g;
    status = CG_EXEC_GATE_ASK;
    arm(st);
    cg_log(
        CG_LOG_INFO, "exec-approvals", "system.run waits for an approval",
        json_pack("{s:s, s:s, s:o}", "id", ap->id, "nodeId", node_id, "agent", nullable(agent_id)));
out:
    free(agent_id);
    free(cwd);
    return status;
}

void cg_exec_gate_cancel(cg_exec_gate *gate)
{
    if (!gate) return;
    exec_state *st = gate->st;
    cg_approval *ap = gate->ap;
    owner *o = ap->owner;
    if (o) o->gate = NULL;
    free(gate);
    decide(st, ap, NULL, "cancelled");
}

/* ---- attach ---- */

int cg_methods_exec_approvals_attach(cg_gateway *gw, char *err, size_t errlen)
{
    char *warning = NULL;
    cg_exec_store *store =
        cg_exec_store_open(cg_config_state_dir(cg_gateway_config(gw)), &warning, err, errlen);
    if (!store) return -1;
    if (warning) {
        cg_log(CG_LOG_WARN, "exec-approvals", "exec approvals file invalid",
               json_pack("{s:s}", "error", warning));
        free(warning);
    }
    exec_state *st = cg_xcalloc(1, sizeof *st);
    st->gw = gw;
    st->store = store;
    st->approvals = cg_approvals_new();
    uv_timer_init(cg_gateway_loop(gw), &st->timer);
    uv_unref((uv_handle_t *)&st->timer); /* approvals never keep a stopping gateway alive */
    st->timer.data = st;
    cg_gateway_set_data(gw, &state_key, st);
    return 0;
}

/* ---- the table ---- */

const cg_method cg_methods_exec_approvals[] = {
    {.name = "exec.approvals.get",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_APPROVALS,
     .check = cg_params_check_empty,
     .handler = handle_policy_get,
     .summary = "The gateway's exec policy file (DIR/exec-approvals.json) and its resolved "
                "defaults"},
    {.name = "exec.approvals.set",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_APPROVALS,
     .check = check_set,
     .handler = handle_policy_set,
     .summary = "Replace the exec policy file (baseHash once it exists), written atomically"},
    {.name = "exec.approval.request",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_APPROVALS,
     .check = check_request,
     .handler = handle_request,
     .summary = "Ask approval clients to approve a command; answers the decision (null when "
                "expired or no approver is connected)",
     .timeout_ms = (uint64_t)CG_APPROVAL_DEFAULT_TIMEOUT_MS + ANSWER_GRACE_MS},
    {.name = "exec.approval.waitDecision",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_APPROVALS,
     .check = check_object,
     .handler = handle_wait,
     .summary = "Wait for a pending exec approval's decision"},
    {.name = "exec.approval.resolve",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_APPROVALS,
     .check = check_resolve,
     .handler = handle_resolve,
     .summary = "Decide a pending exec approval: allow-once, allow-always (adds an allowlist "
                "entry for that argv and cwd) or deny"},
    {.name = "exec.approval.get",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_APPROVALS,
     .check = check_id,
     .handler = handle_get,
     .summary = "One pending exec approval, as an approver sees it"},
    {.name = "exec.approval.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_APPROVALS,
     .check = cg_params_check_empty,
     .handler = handle_list,
     .summary = "Pending exec approvals the caller may see"},
    {.name = "plugin.approval.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_APPROVALS,
     .check = cg_params_check_empty,
     .handler = handle_other_list,
     .summary = "Pending plugin approvals (clawgate runs no plugins: always empty)"},
    {.name = "openclaw.approval.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_APPROVALS,
     .check = cg_params_check_empty,
     .handler = handle_other_list,
     .summary = "Pending system-agent approvals (clawgate has no system agent: always empty)"},
    {.name = NULL},
};
