/* The everyday status methods the real CLI calls, in the real gateway's shapes
 * (tests/fixtures/real-gateway/):
 *   system-presence  the presence list (`openclaw system presence`)
 *   last-heartbeat   the last heartbeat run, null before the first
 *                    (`openclaw system heartbeat last`); heartbeats run with the agents
 *                    issue, so until then there is none to report
 *   status           the gateway's runtime summary (`openclaw status`,
 *                    `openclaw gateway status --require-rpc`): version, event loop,
 *                    memory, pid, and the agent, session and channel parts the CLI reads,
 *                    empty until the issues that bring agents and channels fill them */
#include <unistd.h>

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

static int check_status(const json_t *params, char *err, size_t errlen)
{
    int channel_summary = 0, cli_projection = 0;
    return cg_params_unpack(params, err, errlen, "{s?b, s?b}", "includeChannelSummary",
                            &channel_summary, "includeCliProjection", &cli_projection);
}

static void handle_status(cg_req *req)
{
    size_t rss = 0;
    uv_resident_set_memory(&rss);
    json_t *health = cg_gateway_health(req->gw);
    json_t *status = json_pack(
        "{s:s, s:{s:s, s:[]}, s:[], s:[], s:{s:[], s:i, s:{}, s:[], s:[]}, s:O, s:{s:I}, s:i, s:I}",
        "runtimeVersion", CLAWGATE_VERSION, "heartbeat", "defaultAgentId", "main", "agents",
        "channelSummary", "queuedSystemEvents", "sessions", "paths", "count", 0, "defaults",
        "recent", "byAgent", "eventLoop", json_object_get(health, "eventLoop"), "processMemory",
        "rssBytes", (json_int_t)rss, "pid", (int)getpid(), "uptimeMs",
        (json_int_t)cg_gateway_uptime_ms(req->gw));
    json_decref(health);
    cg_req_ok(req, status);
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
    {.name = "status",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_status,
     .handler = handle_status,
     .summary = "Runtime summary: version, event loop, memory, agents, sessions, channels"},
    {.name = NULL},
};
