/* health: the same object hello-ok carries as snapshot.health, served from a cache
 * that is at most a second old (it is polled hard by monitors and benchmarks). */
#include "gateway/gateway.h"
#include "gateway/methods.h"

static void handle_health(cg_req *req)
{
    size_t len;
    const char *json = cg_gateway_health_json(req->gw, &len);
    cg_req_ok_raw(req, json, len);
}

static int check_health(const json_t *params, char *err, size_t errlen)
{
    int probe = 0;
    return cg_params_unpack(params, err, errlen, "{s?b}", "probe", &probe);
}

const cg_method cg_methods_health[] = {
    {.name = "health",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_health,
     .handler = handle_health,
     .summary = "Gateway health: event-loop delay and utilization, config reload state."},
    {.name = NULL},
};
