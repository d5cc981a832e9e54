/* Pending exec approvals (pure: no I/O, no clock of its own; the caller passes now).
 *
 * An approval is pending until an approver decides, it expires, or its owner withdraws
 * it; it is then kept, decided, for CG_APPROVAL_GRACE_MS (as OpenClaw keeps resolved
 * entries for 15 s) so that resolving it again, or waiting for its decision, still
 * answers. At most CG_APPROVALS_MAX_PENDING are pending and CG_APPROVALS_MAX_KEPT decided
 * ones are kept (the oldest decided one goes first). */
#ifndef CG_EXEC_APPROVALS_H
#define CG_EXEC_APPROVALS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CG_APPROVALS_MAX_PENDING 1024
#define CG_APPROVALS_MAX_KEPT 1024
#define CG_APPROVAL_GRACE_MS 15000
#define CG_APPROVAL_DEFAULT_TIMEOUT_MS 1800000 /* OpenClaw's DEFAULT_EXEC_APPROVAL_TIMEOUT_MS */
#define CG_APPROVAL_MAX_TIMEOUT_MS 2147000000  /* OpenClaw's MAX_TIMER_TIMEOUT_MS */
#define CG_APPROVAL_ID_MAX 128

typedef enum { CG_APPROVAL_PENDING, CG_APPROVAL_DECIDED } cg_approval_state;

typedef struct cg_approval {
    char id[CG_APPROVAL_ID_MAX + 1];
    json_t *request; /* the request object shown to approvers */
    int64_t created_at_ms, expires_at_ms;
    /* Who asked (visibility): the requester's device, else its connection. */
    char *requester_conn_id;
    char *requester_device_id;
    bool from_gate; /* made by the system.run gate (allow-always then writes the policy) */
    cg_approval_state state;
    const char *decision;        /* "allow-once", "allow-always", "deny", or NULL */
    const char *terminal_reason; /* "user", "timeout", "no-route", "cancelled" */
    int64_t decided_at_ms;
    void *owner; /* the caller's data (waiters); NULL when it has none */
    struct cg_approval *prev, *next;
} cg_approval;

typedef struct cg_approvals cg_approvals;

cg_approvals *cg_approvals_new(void);
/* Frees every approval (their owner data must have been released by the caller). */
void cg_approvals_free(cg_approvals *a);

size_t cg_approvals_pending_count(const cg_approvals *a);

/* Whether an explicit id is acceptable: 1-128 characters of letters, digits, '.', '_',
 * ':' or '-', not "." or "..", not starting with "plugin:". */
bool cg_approval_id_valid(const char *id);

typedef enum {
    CG_APPROVALS_ADDED,
    CG_APPROVALS_DUPLICATE, /* an approval with this id exists (pending or kept) */
    CG_APPROVALS_FULL,
} cg_approvals_add_status;

/* Adds a pending approval (request consumed in every case). id NULL: a random UUID.
 * timeout_ms is clamped to [1, CG_APPROVAL_MAX_TIMEOUT_MS]. */
cg_approvals_add_status cg_approvals_add(cg_approvals *a, const char *id, json_t *request,
                                         int64_t timeout_ms, int64_t now_ms,
                                         const char *requester_conn_id,
                                         const char *requester_device_id, cg_approval **out);

/* Whether the caller may see the approval (ctx passed through). */
typedef bool (*cg_approval_visible_fn)(const cg_approval *ap, void *ctx);

typedef enum {
    CG_APPROVAL_FOUND,
    CG_APPROVAL_MISSING,
    CG_APPROVAL_AMBIGUOUS, /* a prefix of more than one visible approval */
} cg_approval_lookup;

/* Finds the visible approval whose id is `input`, else the one visible approval whose id
 * starts with it. state: which to consider. */
cg_approval_lookup cg_approvals_find(cg_approvals *a, const char *input, cg_approval_state state,
                                     cg_approval_visible_fn visible, void *ctx, cg_approval **out);

/* Decides a pending approval: decision NULL for none (expired, withdrawn, no route). It is
 * kept for CG_APPROVAL_GRACE_MS from now. */
void cg_approvals_decide(cg_approvals *a, cg_approval *ap, const char *decision,
                         const char *terminal_reason, int64_t now_ms);

/* The earliest moment something is due (an expiry or the end of a grace), or -1. */
int64_t cg_approvals_next_due(const cg_approvals *a);

/* Expires the pending approvals due at now (each decided NULL "timeout", then passed to
 * expired) and drops the kept ones whose grace ended (each passed to dropping first,
 * then freed). Either callback may be NULL. */
typedef void (*cg_approval_fn)(cg_approval *ap, void *ctx);
void cg_approvals_sweep(cg_approvals *a, int64_t now_ms, cg_approval_fn expired,
                        cg_approval_fn dropping, void *ctx);

/* Pending approvals, oldest first: for (ap = cg_approvals_first(a); ap; ap = ap->next) and
 * skip those not pending. */
cg_approval *cg_approvals_first(cg_approvals *a);

#endif
