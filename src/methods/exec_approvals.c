/* The gateway's gate in front of system.run, until the exec approvals family lands
 * (branch approvals): with no policy file, OpenClaw's defaults (security full, ask off)
 * allow every run, which is what this answers. */
#include "methods/exec_approvals.h"

const cg_method cg_methods_exec_approvals[] = {{0}};

cg_exec_gate_status cg_exec_gate_check(cg_gateway *gw, const cg_conn *caller, const char *node_id,
                                       const json_t *run_params, cg_exec_gate_done done, void *data,
                                       cg_exec_gate **gate, json_t **error)
{
    return CG_EXEC_GATE_ALLOW;
}

void cg_exec_gate_cancel(cg_exec_gate *gate) {}
