/* The exec approvals family (src/methods/exec_approvals.c): the gateway's policy file
 * (exec.approvals.*), pending approvals (exec.approval.*), and the gateway's own gate
 * in front of system.run (below). */
#ifndef CG_METHODS_EXEC_APPROVALS_H
#define CG_METHODS_EXEC_APPROVALS_H

#include <stddef.h>

#include "gateway/gateway.h"

extern const cg_method cg_methods_exec_approvals[];

/* Sets up the family's state (policy file path under the state dir, the pending
 * approvals, their timers) as gateway data. Call after cg_gateway_start, before the
 * loop runs. 0, or -1 with a message in err. */
int cg_methods_exec_approvals_attach(cg_gateway *gw, char *err, size_t errlen);

/* ---- the gateway's gate in front of system.run ----
 *
 * node.invoke asks it before relaying `system.run` to a node. clawgate's policy for the
 * calling agent (params.agentId: agents.<id> over defaults; none: defaults) decides:
 * allow now, refuse now (security deny, or an allowlist miss with ask off), or ask an
 * approver: a pending approval is created and announced as exec.approval.requested,
 * and done runs once with the decision (unless cancelled first). */
typedef struct cg_exec_gate cg_exec_gate;

typedef enum {
    CG_EXEC_GATE_ALLOW,  /* relay it now */
    CG_EXEC_GATE_REFUSE, /* *error is the ErrorShape to answer */
    CG_EXEC_GATE_ASK,    /* *gate is pending; done will be called */
} cg_exec_gate_status;

/* allowed: an approver allowed it (allow-once or allow-always), or it went unanswered and
 * askFallback lets it run; else error is the ErrorShape to answer: INVALID_REQUEST
 * "SYSTEM_RUN_DENIED: user denied" (details.reason "user-denied") or "SYSTEM_RUN_DENIED:
 * approval timed out" ("approval-timeout"), details.approvalId. error borrowed for the
 * call. The gate is freed after done returns.
 *
 * Immediate refusals (*error, INVALID_REQUEST, details {reason, security, ask, agentId}):
 * "security-deny", "allowlist-miss", "no-approval-route" (ASK with no approval client
 * connected and askFallback not allowing it), "invalid-command" (run_params.command is
 * not a non-empty array of strings); UNAVAILABLE (retryable) when 1,024 approvals are
 * pending. */
typedef void (*cg_exec_gate_done)(bool allowed, const json_t *error, void *data);

/* done is never called before cg_exec_gate_check returns.
 * caller: the operator connection calling node.invoke (its device scopes who sees the
 * approval). run_params: the system.run params ({command: [argv], rawCommand, cwd,
 * agentId, sessionKey, ...}). */
cg_exec_gate_status cg_exec_gate_check(cg_gateway *gw, const cg_conn *caller, const char *node_id,
                                       const json_t *run_params, cg_exec_gate_done done, void *data,
                                       cg_exec_gate **gate, json_t **error);
/* Withdraws a pending gate (the caller left): its approval ends without a decision
 * (terminalReason "cancelled", no longer listed) and done is never called. Only before
 * done ran. */
void cg_exec_gate_cancel(cg_exec_gate *gate);

#endif
