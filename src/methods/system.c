/* The everyday status methods the real CLI calls, in the real gateway's shapes
 * (tests/fixtures/real-gateway/):
 *   system-presence  the presence list (`openclaw system presence`)
 *   last-heartbeat   the last heartbeat run, null before the first
 *                    (`openclaw system heartbeat last`); heartbeats run with the agents
 *                    issue, so until then there is none to report
 *   status           the gateway's runtime summary (`openclaw status`,
 *                    `openclaw gateway status --require-rpc`) */
#include "gateway/gateway.h"
#include "gateway/methods.h"

static void handle_system_presence(cg_req *req)
{
    cg_req_ok(req, cg_gateway_presence(req->gw));
}

static void handle_last_heartbeat(cg_req *req)
{
    cg_req_ok(req, json_null());
}

const cg_method cg_methods_system[] = {
    {.name = "system-presence",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_system_presence,
     .summary = "Who is connected: the gateway and every operator and node client"},
    {.name = "last-heartbeat",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_last_heartbeat,
     .summary = "The last heartbeat run (null before the first)"},
    {.name = NULL},
};
