/* The agents.* methods and agent.identity.get (issue 9) over agent/agents.c:
 *   agents.list            the default agent "main" and agents.entries (AgentsListResult)
 *   agents.create          a slug of the name as id, stored in config agents.entries.<id>,
 *                          its workspace created (AgentsCreateResult)
 *   agents.update          name, workspace, model (null removes it), emoji, avatar
 *   agents.delete          the entry removed, its sessions deleted (transcripts archived),
 *                          its workspace moved to <state>/trash/ when it lies in the state
 *                          dir (deleteFiles, default true); main refused
 *   agents.files.list/get/set   the six workspace files, confined to the workspace
 *   agent.identity.get     name, emoji, avatar (AgentIdentityResult)
 * Answers come from the thread pool or after the config write (cg_req_hold). Scopes: the
 * seed's table (list, files.list, files.get, identity read; the rest write). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "gateway/methods.h"
#include "methods/sessions.h"
#include "proto/frame.h"

/* ---- params (the schema's, with clawgate's own length bounds) ---- */

static const cg_param_field create_fields[] = {{"name", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
                                               {"workspace", CG_PF_STRING, 0, 1, 4096, NULL},
                                               {"model", CG_PF_STRING, 0, 1, 512, NULL},
                                               {"emoji", CG_PF_STRING, 0, 0, 64, NULL},
                                               {"avatar", CG_PF_STRING, 0, 0, 65536, NULL},
                                               {NULL, 0, 0, 0, 0, NULL}};

static int check_create(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, create_fields, err, errlen);
}

static const cg_param_field update_fields[] = {
    {"agentId", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {"name", CG_PF_STRING, 0, 1, 256, NULL},
    {"workspace", CG_PF_STRING, 0, 1, 4096, NULL},
    {"model", CG_PF_STRING, CG_PF_NULLABLE, 1, 512, NULL},
    {"emoji", CG_PF_STRING, 0, 0, 64, NULL},
    {"avatar", CG_PF_STRING, 0, 0, 65536, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

static int check_update(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, update_fields, err, errlen);
}

static const cg_param_field delete_fields[] = {
    {"agentId", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {"deleteFiles", CG_PF_BOOL, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

static int check_delete(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, delete_fields, err, errlen);
}

static const cg_param_field files_list_fields[] = {
    {"agentId", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL}, {NULL, 0, 0, 0, 0, NULL}};

static int check_files_list(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, files_list_fields, err, errlen);
}

static const cg_param_field files_get_fields[] = {
    {"agentId", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {"name", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

static int check_files_get(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, files_get_fields, err, errlen);
}

static const cg_param_field files_set_fields[] = {
    {"agentId", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {"name", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {"content", CG_PF_STRING, CG_PF_REQUIRED, 0, CG_AGENT_FILE_MAX_BYTES, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

static int check_files_set(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, files_set_fields, err, errlen);
}

static const cg_param_field identity_fields[] = {{"agentId", CG_PF_STRING, 0, 1, 256, NULL},
                                                 {"sessionKey", CG_PF_STRING, 0, 0, 1024, NULL},
                                                 {NULL, 0, 0, 0, 0, NULL}};

static int check_identity(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, identity_fields, err, errlen);
}

static const char *str_param(const cg_req *req, const char *name)
{
    return json_string_value(json_object_get(req->params, name));
}

/* ---- answering from the agents module ---- */

typedef struct agents_call {
    cg_req_hold hold;
    cg_gateway *gw;
    bool deleting; /* agents.delete: the agent's sessions go too */
    char agent_id[CG_AGENT_ID_MAX + 1];
} agents_call;

/* The deleted agent's sessions, their transcripts archived. */
static void delete_agent_sessions(cg_gateway *gw, const char *agent_id)
{
    cg_sessions *sessions = cg_gateway_sessions(gw);
    size_t n;
    const cg_session **all = cg_sessions_sorted(sessions, &n);
    char **keys = cg_xcalloc(n ? n : 1, sizeof *keys);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->agent_id, agent_id) == 0) keys[k++] = cg_strdup(all[i]->key);
    free(all);
    for (size_t i = 0; i < k; i++) {
        cg_methods_sessions_changed(gw, keys[i], "agent-delete");
        cg_sessions_delete(sessions, keys[i], cg_now_ms(), NULL, NULL);
        free(keys[i]);
    }
    free(keys);
}

static void on_result(json_t *result, json_t *error, void *data)
{
    agents_call *call = data;
    if (!error && call->deleting) delete_agent_sessions(call->gw, call->agent_id);
    if (!call->hold.req) {
        json_decref(result);
        json_decref(error);
    } else if (error) {
        cg_req_error_shape(call->hold.req, error);
        json_decref(result);
    } else {
        cg_req_ok(call->hold.req, result);
    }
    free(call);
}

static agents_call *call_start(cg_req *req)
{
    agents_call *call = cg_xcalloc(1, sizeof *call);
    call->gw = req->gw;
    if (!cg_req_hold_start(&call->hold, req)) {
        free(call);
        return NULL;
    }
    return call;
}

static void handle_list(cg_req *req)
{
    cg_req_ok(req, cg_agents_list_result(cg_gateway_agents(req->gw)));
}

static void handle_create(cg_req *req)
{
    agents_call *call = call_start(req);
    if (call)
        cg_agents_create(cg_gateway_agents(call->gw), call->hold.req->params, on_result, call);
}

static void handle_update(cg_req *req)
{
    agents_call *call = call_start(req);
    if (call)
        cg_agents_update(cg_gateway_agents(call->gw), call->hold.req->params, on_result, call);
}

static void handle_delete(cg_req *req)
{
    agents_call *call = call_start(req);
    if (!call) return;
    call->deleting = cg_agent_id_normalize(str_param(call->hold.req, "agentId"), call->agent_id,
                                           sizeof call->agent_id);
    cg_agents_delete(cg_gateway_agents(call->gw), call->hold.req->params, on_result, call);
}

static void handle_files_list(cg_req *req)
{
    agents_call *call = call_start(req);
    if (call)
        cg_agents_files_list(cg_gateway_agents(call->gw), str_param(call->hold.req, "agentId"),
                             on_result, call);
}

static void handle_files_get(cg_req *req)
{
    agents_call *call = call_start(req);
    if (call)
        cg_agents_file_get(cg_gateway_agents(call->gw), str_param(call->hold.req, "agentId"),
                           str_param(call->hold.req, "name"), on_result, call);
}

static void handle_files_set(cg_req *req)
{
    agents_call *call = call_start(req);
    if (!call) return;
    const json_t *content = json_object_get(call->hold.req->params, "content");
    cg_agents_file_set(cg_gateway_agents(call->gw), str_param(call->hold.req, "agentId"),
                       str_param(call->hold.req, "name"), json_string_value(content),
                       json_string_length(content), on_result, call);
}

static void handle_identity(cg_req *req)
{
    const char *agent = str_param(req, "agentId"), *key = str_param(req, "sessionKey");
    char agent_id[CG_AGENT_ID_MAX + 1] = CG_AGENTS_DEFAULT_ID;
    if (key && *key) {
        char canonical[CG_SESSION_KEY_BUF];
        if (!cg_session_key_canonical(key, NULL, canonical, sizeof canonical)) {
            char msg[1200];
            snprintf(msg, sizeof msg,
                     "invalid agent.identity.get params: malformed session key \"%.1024s\"", key);
            cg_req_error(req, CG_ERR_INVALID_REQUEST, msg, NULL);
            return;
        }
        json_t *error;
        if (!cg_methods_session_key(req->gw, key, agent, canonical, sizeof canonical, &error)) {
            cg_req_error_shape(req, error);
            return;
        }
        cg_session_key_agent(canonical, agent_id, sizeof agent_id);
    } else if (agent) {
        cg_agent *found = cg_agents_find(cg_gateway_agents(req->gw), agent);
        if (!found) {
            char msg[400];
            snprintf(msg, sizeof msg, "Unknown agent id \"%.256s\"", agent);
            cg_req_error(req, CG_ERR_INVALID_REQUEST, msg,
                         json_pack("{s:s}", "code", "UNKNOWN_AGENT_ID"));
            return;
        }
        snprintf(agent_id, sizeof agent_id, "%s", found->id);
        cg_agent_free(found);
    }
    agents_call *call = call_start(req);
    if (call) cg_agents_identity(cg_gateway_agents(call->gw), agent_id, on_result, call);
}

const cg_method cg_methods_agents[] = {
    {.name = "agents.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_list,
     .summary = "The agents: the default \"main\" and those in config agents.entries"},
    {.name = "agents.create",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_create,
     .handler = handle_create,
     .summary = "Create an agent (id: a slug of the name) in config agents.entries, with its "
                "workspace"},
    {.name = "agents.update",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_update,
     .handler = handle_update,
     .summary = "Change an agent's name, workspace, model, emoji or avatar"},
    {.name = "agents.delete",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_delete,
     .handler = handle_delete,
     .summary = "Delete an agent and its sessions; its workspace goes to <state>/trash/"},
    {.name = "agents.files.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_files_list,
     .handler = handle_files_list,
     .summary = "An agent's workspace files (AGENTS.md, SOUL.md, IDENTITY.md, USER.md, "
                "BOOTSTRAP.md, MEMORY.md)"},
    {.name = "agents.files.get",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_files_get,
     .handler = handle_files_get,
     .summary = "Read one workspace file (2 MiB at most; symlinks refused)"},
    {.name = "agents.files.set",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_files_set,
     .handler = handle_files_set,
     .summary = "Write one workspace file atomically (2 MiB at most; symlinks refused)"},
    {.name = "agent.identity.get",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_identity,
     .handler = handle_identity,
     .summary = "An agent's name, emoji and avatar"},
    {.name = NULL},
};
