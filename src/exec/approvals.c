/* Pending exec approvals. See approvals.h. Lists are short (<= 2,048): linear scans. */
#include "exec/approvals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct cg_approvals {
    cg_approval *head, *tail; /* creation order */
    size_t pending, kept;
};

cg_approvals *cg_approvals_new(void)
{
    return cg_xcalloc(1, sizeof(cg_approvals));
}

static void unlink_free(cg_approvals *a, cg_approval *ap)
{
    if (ap->prev)
        ap->prev->next = ap->next;
    else
        a->head = ap->next;
    if (ap->next)
        ap->next->prev = ap->prev;
    else
        a->tail = ap->prev;
    if (ap->state == CG_APPROVAL_PENDING)
        a->pending--;
    else
        a->kept--;
    json_decref(ap->request);
    free(ap->requester_conn_id);
    free(ap->requester_device_id);
    free(ap);
}

void cg_approvals_free(cg_approvals *a)
{
    if (!a) return;
    while (a->head)
        unlink_free(a, a->head);
    free(a);
}

size_t cg_approvals_pending_count(const cg_approvals *a)
{
    return a->pending;
}

bool cg_approval_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > CG_APPROVAL_ID_MAX || !strcmp(id, ".") || !strcmp(id, "..")) return false;
    if (!strncmp(id, "plugin:", 7)) return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

static cg_approval *find_exact(cg_approvals *a, const char *id)
{
    for (cg_approval *ap = a->head; ap; ap = ap->next)
        if (!strcmp(ap->id, id)) return ap;
    return NULL;
}

cg_approvals_add_status cg_approvals_add(cg_approvals *a, const char *id, json_t *request,
                                         int64_t timeout_ms, int64_t now_ms,
                                         const char *requester_conn_id,
                                         const char *requester_device_id, cg_approval **out)
{
    *out = NULL;
    if (id && find_exact(a, id)) {
        json_decref(request);
        return CG_APPROVALS_DUPLICATE;
    }
    if (a->pending >= CG_APPROVALS_MAX_PENDING) {
        json_decref(request);
        return CG_APPROVALS_FULL;
    }
    if (timeout_ms < 1) timeout_ms = 1;
    if (timeout_ms > CG_APPROVAL_MAX_TIMEOUT_MS) timeout_ms = CG_APPROVAL_MAX_TIMEOUT_MS;
    cg_approval *ap = cg_xcalloc(1, sizeof *ap);
    if (id)
        snprintf(ap->id, sizeof ap->id, "%s", id);
    else
        cg_uuid4(ap->id);
    ap->request = request;
    ap->created_at_ms = now_ms;
    ap->expires_at_ms = now_ms + timeout_ms;
    ap->requester_conn_id = cg_strdup(requester_conn_id);
    ap->requester_device_id = cg_strdup(requester_device_id);
    ap->state = CG_APPROVAL_PENDING;
    ap->prev = a->tail;
    if (a->tail)
        a->tail->next = ap;
    else
        a->head = ap;
    a->tail = ap;
    a->pending++;
    *out = ap;
    return CG_APPROVALS_ADDED;
}

cg_approval_lookup cg_approvals_find(cg_approvals *a, const char *input, cg_approval_state state,
                                     cg_approval_visible_fn visible, void *ctx, cg_approval **out)
{
    *out = NULL;
    size_t n = strlen(input);
    if (n == 0) return CG_APPROVAL_MISSING;
    cg_approval *prefix = NULL;
    bool ambiguous = false;
    for (cg_approval *ap = a->head; ap; ap = ap->next) {
        if (ap->state != state || strncmp(ap->id, input, n) != 0) continue;
        if (visible && !visible(ap, ctx)) continue;
        if (ap->id[n] == 0) {
            *out = ap;
            return CG_APPROVAL_FOUND;
        }
        if (prefix) ambiguous = true;
        prefix = ap;
    }
    if (ambiguous) return CG_APPROVAL_AMBIGUOUS;
    *out = prefix;
    return prefix ? CG_APPROVAL_FOUND : CG_APPROVAL_MISSING;
}

void cg_approvals_decide(cg_approvals *a, cg_approval *ap, const char *decision,
                         const char *terminal_reason, int64_t now_ms)
{
    if (ap->state != CG_APPROVAL_PENDING) return;
    ap->state = CG_APPROVAL_DECIDED;
    ap->decision = decision;
    ap->terminal_reason = terminal_reason;
    ap->decided_at_ms = now_ms;
    a->pending--;
    a->kept++;
    /* Keep at most CG_APPROVALS_MAX_KEPT decided ones: the oldest without an owner go. */
    for (cg_approval *old = a->head; old && a->kept > CG_APPROVALS_MAX_KEPT;) {
        cg_approval *next = old->next;
        if (old != ap && old->state == CG_APPROVAL_DECIDED && !old->owner) unlink_free(a, old);
        old = next;
    }
}

int64_t cg_approvals_next_due(const cg_approvals *a)
{
    int64_t due = -1;
    for (const cg_approval *ap = a->head; ap; ap = ap->next) {
        int64_t t = ap->state == CG_APPROVAL_PENDING ? ap->expires_at_ms
                                                     : ap->decided_at_ms + CG_APPROVAL_GRACE_MS;
        if (due < 0 || t < due) due = t;
    }
    return due;
}

void cg_approvals_sweep(cg_approvals *a, int64_t now_ms, cg_approval_fn expired,
                        cg_approval_fn dropping, void *ctx)
{
    /* One due approval at a time, from the head again after each callback: a callback may
     * add, decide or drop approvals (a gate's owner answering, say). Each step makes its
     * approval not due any more, so this ends. */
    for (;;) {
        cg_approval *ap = a->head;
        while (ap && !(ap->state == CG_APPROVAL_PENDING
                           ? ap->expires_at_ms <= now_ms
                           : ap->decided_at_ms + CG_APPROVAL_GRACE_MS <= now_ms))
            ap = ap->next;
        if (!ap) return;
        if (ap->state == CG_APPROVAL_PENDING) {
            cg_approvals_decide(a, ap, NULL, "timeout", now_ms);
            if (expired) expired(ap, ctx);
        } else {
            if (dropping) dropping(ap, ctx);
            unlink_free(a, ap);
        }
    }
}

cg_approval *cg_approvals_first(cg_approvals *a)
{
    return a->head;
}
