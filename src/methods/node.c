/* Node-role methods: what a node host sends the gateway.
 *
 * node.event: a node reports something that happened on it (node.host.stats,
 * exec.finished, ...). Each is logged; the answer says whether the gateway acted on it
 * (NodeEventResult). No event has a handler yet: the node registry and exec approvals
 * (ROADMAP 2) add them, so every event is answered handled:false with the reason.
 * skills.bins: the executables the gateway's skills need on a node, so the node host
 * can report which are present; with no skills installed the list is empty. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "gateway/conn.h"
#include "gateway/methods.h"

static int check_node_event(const json_t *params, char *err, size_t errlen)
{
    const char *event, *payload_json = NULL;
    json_t *payload = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s?o, s?s}", "event", &event, "payload",
                         &payload, "payloadJSON", &payload_json))
        return -1;
    if (!*event) {
        snprintf(err, errlen, "event must not be empty");
        return -1;
    }
    return 0;
}

static void handle_node_event(cg_req *req)
{
    const char *event = json_string_value(json_object_get(req->params, "event"));
    const char *payload_json = json_string_value(json_object_get(req->params, "payloadJSON"));
    cg_log(CG_LOG_DEBUG, "node", "node event",
           json_pack("{s:s, s:s?, s:s, s:I}", "event", event, "client", req->conn->client_id,
                     "connId", req->conn->conn_id, "payloadBytes",
                     (json_int_t)(payload_json ? strlen(payload_json) : 0)));
    cg_req_ok(req, json_pack("{s:b, s:s, s:b, s:s}", "ok", 1, "event", event, "handled", 0,
                             "reason", "no handler for this event"));
}

static void handle_skills_bins(cg_req *req)
{
    cg_req_ok(req, json_pack("{s:[]}", "bins"));
}

const cg_method cg_methods_node[] = {
    {.name = "node.event",
     .roles = CG_ROLE_NODE,
     .scope = CG_SCOPE_NONE,
     .check = check_node_event,
     .handler = handle_node_event,
     .summary = "A node reports an event; logged, answered with whether the gateway acted on it."},
    {.name = "skills.bins",
     .roles = CG_ROLE_NODE,
     .scope = CG_SCOPE_NONE,
     .check = cg_params_check_empty,
     .handler = handle_skills_bins,
     .summary = "Executables the installed skills need on a node."},
    {.name = NULL},
};
