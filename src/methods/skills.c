/* Skills methods, as OpenClaw's:
 *
 *   skills.status   (read)  {agentId?} -> {workspaceDir, managedSkillsDir, agentId,
 *                           skills: [status entry]} (skills/catalog.h) for one agent's
 *                           workspace (default main); unknown agent: INVALID_REQUEST
 *                           `unknown agent id "x"`.
 *   skills.bins     (node)  {} -> SkillsBinsResult {bins}: every bin the skills of every
 *                           agent name, sorted (node hosts ask it to allow those bins).
 *   skills.update   (admin) {skillKey, enabled?, apiKey?, env?} -> {ok, skillKey,
 *                           config: the entry, redacted}: a merge patch of
 *                           skills.entries.<skillKey> through the config writer (atomic,
 *                           queued with other writes); an empty apiKey or env value
 *                           removes it, the redaction placeholder keeps it.
 *   skills.install  (admin) {name, installId, agentId?, timeoutMs?} -> {ok, message,
 *                           stdout, stderr, code} (skills/install.h); a failure is
 *                           UNAVAILABLE <message> with that result in details. The
 *                           request waits in the pending registry with a deadline past
 *                           the install's own timeout; a client that leaves cancels it.
 *
 * ClawHub sources (`source: "clawhub"` / `"upload"`) are refused as not supported.
 * Every scan runs on the thread pool (cg_skills_scan_async); handlers keep their request
 * in a small job that the registry's cancel hook detaches, so a late scan or install
 * result for a request that ended is dropped. */
#include "methods/skills.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "gateway/methods.h"
#include "methods/sessions.h"
#include "proto/frame.h"
#include "skills/catalog.h"
#include "skills/install.h"

/* The install's deadline in the pending registry: its own timeout plus the scan before
 * it and the time to report a kill. */
#define INSTALL_GRACE_MS 15000

typedef struct install_job install_job;

typedef struct skills_state {
    install_job *installs; /* in flight */
    bool stopped;
} skills_state;

struct install_job {
    cg_gateway *gw;
    cg_req *req;          /* NULL once the registry ended it */
    cg_skill_install *in; /* while the installer runs */
    bool scanning;        /* while the catalog scan runs */
    uint64_t timeout_ms;
    char *skill_key;
    install_job *prev, *next;
};

static void stop_state(void *data)
{
    skills_state *st = data;
    st->stopped = true;
    for (install_job *j = st->installs; j; j = j->next) {
        cg_skill_install_cancel(j->in);
        j->in = NULL;
    }
    st->installs = NULL;
}

static void free_state(void *data)
{
    free(data);
}

static const cg_conn_key state_key = {
    .name = "skills", .free_data = free_state, .stop = stop_state};

static skills_state *state_of(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &state_key);
}

void cg_methods_skills_attach(cg_gateway *gw)
{
    cg_gateway_set_data(gw, &state_key, cg_xcalloc(1, sizeof(skills_state)));
}

/* ---- params ---- */

static const cg_param_field status_fields[] = {{"agentId", CG_PF_STRING, 0, 1, 256, NULL},
                                               {"sessionKey", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
                                               {NULL, 0, 0, 0, 0, NULL}};

static int check_status(const json_t *params, char *err, size_t errlen)
{
    return cg_params_check_fields(params, status_fields, err, errlen);
}

static const cg_param_field install_fields[] = {
    {"name", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {"installId", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {"agentId", CG_PF_STRING, 0, 1, 256, NULL},
    {"timeoutMs", CG_PF_INT, 0, 1000, 0, NULL},
    {"dangerouslyForceUnsafeInstall", CG_PF_BOOL, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

static const cg_param_field update_fields[] = {
    {"skillKey", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {"enabled", CG_PF_BOOL, 0, 0, 0, NULL},
    {"apiKey", CG_PF_STRING, 0, 0, 65536, NULL},
    {NULL, 0, 0, 0, 0, NULL}};

/* The ClawHub variants of install and update: recognized, not supported. */
static int refuse_source(const json_t *params, char *err, size_t errlen)
{
    if (!json_object_get(params, "source")) return 0;
    snprintf(err, errlen, "at /source: is not supported by clawgate");
    return -1;
}

static int check_install(const json_t *params, char *err, size_t errlen)
{
    if (refuse_source(params, err, errlen)) return -1;
    return cg_params_check_fields(params, install_fields, err, errlen);
}

static int check_update(const json_t *params, char *err, size_t errlen)
{
    if (refuse_source(params, err, errlen)) return -1;
    const json_t *env = json_object_get(params, "env");
    if (env) {
        if (!json_is_object(env)) {
            snprintf(err, errlen, "at /env: must be object");
            return -1;
        }
        if (json_object_size(env) > 256) {
            snprintf(err, errlen, "at /env: must NOT have more than 256 properties");
            return -1;
        }
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)env, k,
                            v) if (!json_is_string(v) || json_string_length(v) > 65536)
        {
            snprintf(err, errlen, "at /env/%s: must be string", k);
            return -1;
        }
    }
    json_t *rest = json_copy((json_t *)params);
    json_object_del(rest, "env");
    int rc = cg_params_check_fields(rest, update_fields, err, errlen);
    json_decref(rest);
    return rc;
}

/* ---- resolving the agent ---- */

/* The agent the params name (default main), or NULL after answering the request. */
static cg_agent *agent_of(cg_req *req)
{
    const char *id = json_string_value(json_object_get(req->params, "agentId"));
    cg_agent *a = cg_agents_find(cg_gateway_agents(req->gw), id ? id : CG_AGENTS_DEFAULT_ID);
    if (!a) {
        char msg[400];
        snprintf(msg, sizeof msg, "unknown agent id \"%.256s\"", id ? id : CG_AGENTS_DEFAULT_ID);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, msg,
                     json_pack("{s:s}", "code", "UNKNOWN_AGENT_ID"));
    }
    return a;
}

/* The configuration as written now (not the running settings, which keep their
 * document when only sections they do not read change): skills.entries and the paths
 * skills require may be anywhere in it. "${VAR}" strings are not substituted: a value
 * that names a variable counts as set. */
static const json_t *config_doc(cg_gateway *gw)
{
    return cg_config_document(cg_gateway_config(gw));
}

static const char *state_dir(cg_gateway *gw)
{
    return cg_config_state_dir(cg_gateway_config(gw));
}

/* ---- status and bins: one scan answered ---- */

typedef struct scan_call {
    cg_req *req;
    bool bins; /* skills.bins: the union of bins; else the one report */
} scan_call;

static void scan_call_cancelled(cg_req *req, cg_req_end why, void *data)
{
    (void)req;
    (void)why;
    ((scan_call *)data)->req = NULL; /* the scan still runs; its callback frees the call */
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void on_scan(cg_skills_scan_result *results, size_t n, void *data)
{
    scan_call *c = data;
    if (c->req) {
        if (c->bins) {
            /* The union of each agent's sorted list, sorted again. */
            json_t *set = json_object();
            for (size_t i = 0; i < n; i++) {
                size_t k;
                json_t *b;
                json_array_foreach(results[i].bins, k, b)
                    json_object_set_new(set, json_string_value(b), json_true());
            }
            size_t m = json_object_size(set), k = 0;
            const char **names = cg_xcalloc(m ? m : 1, sizeof *names);
            const char *name;
            json_t *v;
            json_object_foreach(set, name, v) names[k++] = name;
            qsort(names, m, sizeof *names, compare_names);
            json_t *sorted = json_array();
            for (k = 0; k < m; k++)
                json_array_append_new(sorted, json_string(names[k]));
            free(names);
            json_decref(set);
            cg_req_ok(c->req, json_pack("{s:o}", "bins", sorted));
        } else {
            cg_req_ok(c->req, json_incref(results[0].report));
        }
    }
    free(c);
}

static void scan_and_answer(cg_req *req, const cg_skills_target *targets, size_t n, bool bins)
{
    cg_gateway *gw = req->gw;
    scan_call *c = cg_xcalloc(1, sizeof *c);
    c->bins = bins;
    c->req = cg_req_defer(req);
    if (!c->req) {
        free(c);
        return;
    }
    cg_req_on_cancel(c->req, scan_call_cancelled, c);
    cg_skills_scan_async(cg_gateway_loop(gw), targets, n, state_dir(gw), config_doc(gw), on_scan,
                         c);
}

static void handle_status(cg_req *req)
{
    cg_agent *a = agent_of(req);
    if (!a) return;
    cg_skills_target t = {.agent_id = a->id, .workspace_dir = a->workspace};
    scan_and_answer(req, &t, 1, false);
    cg_agent_free(a);
}

static void handle_bins(cg_req *req)
{
    size_t n;
    cg_agent **list = cg_agents_list(cg_gateway_agents(req->gw), &n);
    cg_skills_target *targets = cg_xcalloc(n ? n : 1, sizeof *targets);
    for (size_t i = 0; i < n; i++) {
        targets[i].agent_id = list[i]->id;
        targets[i].workspace_dir = list[i]->workspace;
    }
    scan_and_answer(req, targets, n, true);
    free(targets);
    cg_agents_list_free(list, n);
}

/* ---- update ---- */

typedef struct update_call {
    cg_req_hold hold;
    cg_gateway *gw;
    char *skill_key;
} update_call;

static void on_update_written(cg_config *cfg, cg_config_write_result *result, void *data)
{
    update_call *u = data;
    if (result->error) {
        if (u->hold.req) {
            cg_req *req = u->hold.req;
            u->hold.req = NULL;
            cg_req_error_shape(req, result->error);
        } else {
            json_decref(result->error);
        }
    } else {
        const json_t *entry = json_object_get(
            json_object_get(json_object_get(cg_config_document(cfg), "skills"), "entries"),
            u->skill_key);
        json_t *redacted = cg_config_redact(entry ? entry : json_object());
        cg_log(CG_LOG_INFO, "skills", "skill config updated",
               json_pack("{s:s}", "skillKey", u->skill_key));
        cg_req_hold_answer(
            &u->hold, 0, NULL, "skill config",
            json_pack("{s:b, s:s, s:o}", "ok", 1, "skillKey", u->skill_key, "config", redacted));
    }
    json_decref(result->payload);
    free(u->skill_key);
    free(u);
}

static bool is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
    return true;
}

static json_t *trimmed(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    return json_stringn(s, n);
}

static void handle_update(cg_req *req)
{
    const char *key = json_string_value(json_object_get(req->params, "skillKey"));
    json_t *entry = json_object();
    const json_t *enabled = json_object_get(req->params, "enabled");
    if (enabled) json_object_set(entry, "enabled", (json_t *)enabled);
    const char *api_key = json_string_value(json_object_get(req->params, "apiKey"));
    if (api_key) {
        if (is_blank(api_key))
            json_object_set_new(entry, "apiKey", json_null());
        else
            json_object_set_new(entry, "apiKey", trimmed(api_key)); /* placeholder: kept */
    }
    const json_t *env = json_object_get(req->params, "env");
    if (env) {
        json_t *e = json_object();
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)env, k, v)
        {
            if (is_blank(k)) continue;
            json_t *name = trimmed(k);
            const char *val = json_string_value(v);
            if (strcmp(val, CG_REDACTED) != 0)
                json_object_set_new(e, json_string_value(name),
                                    is_blank(val) ? json_null() : trimmed(val));
            json_decref(name);
        }
        json_object_set_new(entry, "env", e);
    }
    json_t *patch = json_pack("{s:{s:{s:o}}}", "skills", "entries", key, entry);
    update_call *u = cg_xcalloc(1, sizeof *u);
    u->gw = req->gw;
    u->skill_key = cg_strdup(key);
    if (!cg_req_hold_start(&u->hold, req)) {
        json_decref(patch);
        free(u->skill_key);
        free(u);
        return;
    }
    cg_config_patch_async(cg_gateway_config(u->gw), cg_gateway_loop(u->gw), patch,
                          on_update_written, u);
    json_decref(patch);
}

/* ---- install ---- */

static void job_unlink(install_job *j)
{
    skills_state *st = state_of(j->gw);
    if (j->prev)
        j->prev->next = j->next;
    else if (st && st->installs == j)
        st->installs = j->next;
    if (j->next) j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

static void job_free(install_job *j)
{
    free(j->skill_key);
    free(j);
}

static void install_cancelled(cg_req *req, cg_req_end why, void *data)
{
    (void)req;
    install_job *j = data;
    j->req = NULL;
    if (j->in) {
        cg_log(CG_LOG_WARN, "skills", "skill install abandoned",
               json_pack("{s:s, s:s}", "skillKey", j->skill_key ? j->skill_key : "", "reason",
                         why == CG_REQ_END_CLOSED    ? "client gone"
                         : why == CG_REQ_END_TIMEOUT ? "deadline"
                                                     : "shutdown"));
        cg_skill_install_cancel(j->in);
        j->in = NULL;
        job_unlink(j);
    }
    if (!j->scanning && !j->in) job_free(j);
}

static void on_installed(json_t *result, void *data)
{
    install_job *j = data;
    j->in = NULL;
    job_unlink(j);
    if (j->req) {
        cg_req *req = j->req;
        j->req = NULL;
        if (json_is_true(json_object_get(result, "ok")))
            cg_req_ok(req, json_incref(result));
        else
            cg_req_error(req, CG_ERR_UNAVAILABLE,
                         json_string_value(json_object_get(result, "message")),
                         json_incref(result));
    }
    json_decref(result);
    job_free(j);
}

static void refuse_install(install_job *j, const char *message)
{
    cg_req *req = j->req;
    j->req = NULL;
    cg_req_error(req, CG_ERR_UNAVAILABLE, message,
                 json_pack("{s:b, s:s, s:s, s:s, s:n}", "ok", 0, "message", message, "stdout", "",
                           "stderr", "", "code"));
}

static void on_install_scan(cg_skills_scan_result *results, size_t n, void *data)
{
    (void)n;
    install_job *j = data;
    j->scanning = false;
    skills_state *st = state_of(j->gw);
    if (!j->req || !st || st->stopped) {
        if (j->req) refuse_install(j, "the gateway is shutting down");
        job_free(j);
        return;
    }
    const char *name = json_string_value(json_object_get(j->req->params, "name"));
    const char *install_id = json_string_value(json_object_get(j->req->params, "installId"));
    const json_t *skill = NULL;
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(results[0].report, "skills"), i,
                       s) if (!strcmp(json_string_value(json_object_get(s, "name")), name)) skill =
        s;
    char msg[600];
    if (!skill) {
        snprintf(msg, sizeof msg, "Skill not found: %.256s", name);
        refuse_install(j, msg);
        job_free(j);
        return;
    }
    const json_t *spec = NULL;
    json_array_foreach(json_object_get(results[0].specs, name), i,
                       s) if (!strcmp(json_string_value(json_object_get(s, "id")), install_id))
        spec = s;
    if (!spec) {
        snprintf(msg, sizeof msg, "Installer not found: %.256s", install_id);
        refuse_install(j, msg);
        job_free(j);
        return;
    }
    j->skill_key = cg_strdup(json_string_value(json_object_get(skill, "skillKey")));
    j->in = cg_skill_install_start(cg_gateway_loop(j->gw), state_dir(j->gw), j->skill_key, spec,
                                   j->timeout_ms, on_installed, j);
    j->next = st->installs;
    if (st->installs) st->installs->prev = j;
    st->installs = j;
}

static void handle_install(cg_req *req)
{
    cg_agent *a = agent_of(req);
    if (!a) return;
    json_int_t t = json_integer_value(json_object_get(req->params, "timeoutMs"));
    uint64_t timeout = t ? (uint64_t)t : CG_SKILL_INSTALL_DEFAULT_TIMEOUT_MS;
    if (timeout < CG_SKILL_INSTALL_MIN_TIMEOUT_MS) timeout = CG_SKILL_INSTALL_MIN_TIMEOUT_MS;
    if (timeout > CG_SKILL_INSTALL_MAX_TIMEOUT_MS) timeout = CG_SKILL_INSTALL_MAX_TIMEOUT_MS;
    install_job *j = cg_xcalloc(1, sizeof *j);
    j->gw = req->gw;
    j->timeout_ms = timeout;
    j->req = cg_req_defer(req);
    if (!j->req) {
        free(j);
        cg_agent_free(a);
        return;
    }
    cg_req_set_timeout(j->req, timeout + INSTALL_GRACE_MS);
    cg_req_on_cancel(j->req, install_cancelled, j);
    j->scanning = true;
    cg_skills_target target = {.agent_id = a->id, .workspace_dir = a->workspace};
    cg_skills_scan_async(cg_gateway_loop(j->gw), &target, 1, state_dir(j->gw), config_doc(j->gw),
                         on_install_scan, j);
    cg_agent_free(a);
}

/* ---- the system prompt ---- */

typedef struct prompt_call {
    cg_gateway *gw;
    char *agent_id;
    char *base;
    cg_agents_prompt_fn cb;
    void *data;
} prompt_call;

static void on_prompt_scan(cg_skills_scan_result *results, size_t n, void *data)
{
    prompt_call *p = data;
    const char *section = n ? results[0].prompt : "";
    cg_buf b = {0};
    cg_buf_appends(&b, p->base);
    if (section && *section) {
        if (b.len && b.data[b.len - 1] != '\n') cg_buf_appends(&b, "\n");
        cg_buf_appends(&b, "\n");
        cg_buf_appends(&b, section);
    }
    p->cb(b.data, NULL, p->data);
    free(p->base);
    free(p->agent_id);
    free(p);
}

static void on_base_prompt(char *prompt, const char *error, void *data)
{
    prompt_call *p = data;
    cg_agent *a = error ? NULL : cg_agents_find(cg_gateway_agents(p->gw), p->agent_id);
    if (!a) {
        p->cb(prompt, error, p->data);
        free(p->agent_id);
        free(p);
        return;
    }
    p->base = prompt ? prompt : cg_strdup("");
    cg_skills_target t = {.agent_id = a->id, .workspace_dir = a->workspace};
    cg_skills_scan_async(cg_gateway_loop(p->gw), &t, 1, state_dir(p->gw), config_doc(p->gw),
                         on_prompt_scan, p);
    cg_agent_free(a);
}

void cg_methods_skills_system_prompt(cg_gateway *gw, const char *agent_id, cg_agents_prompt_fn cb,
                                     void *data)
{
    prompt_call *p = cg_xcalloc(1, sizeof *p);
    p->gw = gw;
    p->agent_id = cg_strdup(agent_id ? agent_id : CG_AGENTS_DEFAULT_ID);
    p->cb = cb;
    p->data = data;
    cg_agents_system_prompt(cg_gateway_agents(gw), agent_id, on_base_prompt, p);
}

const cg_method cg_methods_skills[] = {
    {.name = "skills.status",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_status,
     .handler = handle_status,
     .summary = "An agent's skills (workspace skills/ and DIR/skills): eligibility, what "
                "each is missing, install options"},
    {.name = "skills.bins",
     .roles = CG_ROLE_NODE,
     .scope = CG_SCOPE_NONE,
     .check = cg_params_check_empty,
     .handler = handle_bins,
     .summary = "Every binary the skills of all agents require (for node hosts)"},
    {.name = "skills.update",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_update,
     .handler = handle_update,
     .summary = "Enable or disable a skill, set its apiKey and env (config skills.entries)"},
    {.name = "skills.install",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_install,
     .handler = handle_install,
     .summary = "Run a skill's installer (download with sha256, npm, uv, go) with a timeout",
     .timeout_ms = CG_SKILL_INSTALL_DEFAULT_TIMEOUT_MS + INSTALL_GRACE_MS},
    {.name = NULL},
};
