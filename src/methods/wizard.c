/* The wizard.* methods: wizard.start, wizard.next, wizard.cancel, wizard.status, thin
 * handlers over the engine (wizard/wizard.h), as OpenClaw's (its dist wizard-*.mjs):
 *
 *   - one session at a time: a start while one runs is refused UNAVAILABLE "wizard
 *     already running" (retryable, details.code SETUP_ADMISSION_BUSY); an ended session
 *     is replaced by the next start;
 *   - an unknown sessionId is INVALID_REQUEST "wizard not found" (details.code
 *     WIZARD_NOT_FOUND); an answer to another step than the current one is
 *     INVALID_REQUEST "wizard: no pending step ...";
 *   - an answer that does not validate is answered ok with the same step asked again
 *     and `error` set; a terminal result (done, cancelled, error) is reported once by
 *     next or status, then the session is dropped, as the real gateway purges it.
 * The answer to the API key step and the confirm step take time (a live call to the
 * provider, the config write): wizard.next defers through the pending-request registry
 * (deadline WIZARD_NEXT_TIMEOUT_MS) and is answered from the engine's on_update. One
 * such waiter at a time; if its client goes away, the session goes on.
 *
 * An idle session (no answer for wizard.sessionTimeoutMs, default 30 min) ends
 * cancelled with nothing written. Results validate as WizardStartResult /
 * WizardNextResult / WizardStatusResult. All four need operator.admin. */
#include "methods/wizard.h"

#include <stdlib.h>
#include <string.h>

#include "agent/http_client.h"
#include "common/util.h"
#include "gateway/methods.h"
#include "proto/frame.h"
#include "wizard/wizard.h"

#define WIZARD_NEXT_TIMEOUT_MS 60000
#define SESSION_ID_LEN 36

typedef struct wizard_host {
    cg_http *http;
    cg_wizard *session;
    char session_id[SESSION_ID_LEN + 1];
    cg_req *waiting; /* a wizard.next waiting for the busy session */
} wizard_host;

static void host_stop(void *data)
{
    wizard_host *host = data;
    cg_wizard_free(host->session);
    host->session = NULL;
    cg_http_free(host->http);
    host->http = NULL;
}

static void host_free(void *data)
{
    wizard_host *host = data;
    host_stop(host);
    free(host);
}

static const cg_conn_key host_key = {.name = "wizard", .free_data = host_free, .stop = host_stop};

static wizard_host *host_of(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &host_key);
}

/* wizard.sessionTimeoutMs, a positive integer; else 30 minutes. */
static uint64_t idle_timeout_ms(cg_gateway *gw)
{
    const json_t *v = json_object_get(json_object_get(cg_gateway_settings(gw)->doc, "wizard"),
                                      "sessionTimeoutMs");
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
                                                           : CG_WIZARD_DEFAULT_IDLE_TIMEOUT_MS;
}

static void drop_session(wizard_host *host)
{
    cg_wizard_free(host->session);
    host->session = NULL;
    host->session_id[0] = 0;
}

/* The session's result for a client; an ended session is dropped once reported. */
static json_t *report(wizard_host *host)
{
    json_t *result = cg_wizard_result(host->session);
    if (cg_wizard_status_of(host->session) != CG_WIZARD_RUNNING) drop_session(host);
    return result;
}

static void on_update(cg_wizard *w, void *data)
{
    wizard_host *host = data;
    cg_req *waiting = host->waiting;
    if (!waiting || cg_wizard_busy(w)) return;
    host->waiting = NULL;
    cg_req_ok(waiting, report(host));
}

static void on_waiter_ended(cg_req *req, cg_req_end why, void *data)
{
    wizard_host *host = data;
    if (host->waiting == req) host->waiting = NULL;
}

/* The session named by params.sessionId, or NULL (answered WIZARD_NOT_FOUND). */
static cg_wizard *find_session(cg_req *req, wizard_host *host)
{
    const char *id = json_string_value(json_object_get(req->params, "sessionId"));
    if (host->session && id && !strcmp(id, host->session_id)) return host->session;
    cg_req_error(req, "INVALID_REQUEST", "wizard not found",
                 json_pack("{s:s}", "code", "WIZARD_NOT_FOUND"));
    return NULL;
}

/* ---- params ---- */

static int check_start_params(const json_t *params, char *err, size_t errlen)
{
    static const char *const modes[] = {"local", "remote", NULL};
    static const char *const flows[] = {"setup", "channels", NULL};
    static const cg_param_field fields[] = {
        {"mode", CG_PF_ENUM, 0, 0, 0, modes},         {"workspace", CG_PF_STRING, 0, 0, 4096, NULL},
        {"installDaemon", CG_PF_BOOL, 0, 0, 0, NULL}, {"flow", CG_PF_ENUM, 0, 0, 0, flows},
        {"channel", CG_PF_STRING, 0, 1, 256, NULL},   {NULL, 0, 0, 0, 0, NULL},
    };
    if (cg_params_check_fields(params, fields, err, errlen)) return -1;
    const char *mode = json_string_value(json_object_get(params, "mode"));
    const char *flow = json_string_value(json_object_get(params, "flow"));
    if (mode && !strcmp(mode, "remote")) {
        snprintf(err, errlen, "at /mode: \"remote\" is not supported by clawgate");
        return -1;
    }
    if ((flow && !strcmp(flow, "channels")) || json_object_get(params, "channel")) {
        snprintf(err, errlen, "at /flow: the channels flow is not supported by clawgate");
        return -1;
    }
    if (json_is_true(json_object_get(params, "installDaemon"))) {
        snprintf(err, errlen, "at /installDaemon: is not supported by clawgate");
        return -1;
    }
    return 0;
}

static int check_session_params(const json_t *params, char *err, size_t errlen)
{
    return cg_params_one_string(params, "sessionId", err, errlen);
}

static int check_next_params(const json_t *params, char *err, size_t errlen)
{
    const char *session_id = NULL;
    json_t *answer = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s?:o}", "sessionId", &session_id, "answer",
                         &answer))
        return -1;
    if (!*session_id) {
        snprintf(err, errlen, "at /sessionId: must NOT have fewer than 1 characters");
        return -1;
    }
    if (!answer) return 0;
    const char *step_id = NULL;
    json_t *value = NULL;
    if (!json_is_object(answer)) {
        snprintf(err, errlen, "at /answer: must be object");
        return -1;
    }
    char inner[256];
    if (cg_params_unpack(answer, inner, sizeof inner, "{s:s, s?:o}", "stepId", &step_id, "value",
                         &value)) {
        snprintf(err, errlen, "at /answer: %s", inner);
        return -1;
    }
    if (!*step_id) {
        snprintf(err, errlen, "at /answer/stepId: must NOT have fewer than 1 characters");
        return -1;
    }
    return 0;
}

/* ---- handlers ---- */

static void handle_start(cg_req *req)
{
    wizard_host *host = host_of(req->gw);
    if (host->session && cg_wizard_status_of(host->session) == CG_WIZARD_RUNNING) {
        json_t *error = cg_error_new("UNAVAILABLE", "wizard already running",
                                     json_pack("{s:s}", "code", "SETUP_ADMISSION_BUSY"));
        json_object_set_new(error, "retryable", json_true());
        cg_req_error_shape(req, error);
        return;
    }
    drop_session(host);
    cg_wizard_options opt = {
        .loop = cg_gateway_loop(req->gw),
        .cfg = cg_gateway_config(req->gw),
        .http = host->http,
        .idle_timeout_ms = idle_timeout_ms(req->gw),
        .workspace = json_string_value(json_object_get(req->params, "workspace")),
        .on_update = on_update,
        .data = host,
    };
    host->session = cg_wizard_new(&opt);
    cg_uuid4(host->session_id);
    json_t *result = cg_wizard_result(host->session);
    json_object_set_new(result, "sessionId", json_string(host->session_id));
    cg_req_ok(req, result);
}

static void handle_next(cg_req *req)
{
    wizard_host *host = host_of(req->gw);
    cg_wizard *w = find_session(req, host);
    if (!w) return;
    if (host->waiting) {
        cg_req_error(req, "INVALID_REQUEST", "wizard is busy with the previous answer", NULL);
        return;
    }
    const json_t *answer = json_object_get(req->params, "answer");
    if (answer) {
        char err[256];
        if (cg_wizard_answer(w, json_string_value(json_object_get(answer, "stepId")),
                             json_object_get(answer, "value"), err, sizeof err)) {
            cg_req_error(req, "INVALID_REQUEST", err, NULL);
            return;
        }
    }
    if (!cg_wizard_busy(w)) {
        cg_req_ok(req, report(host));
        return;
    }
    cg_req *pending = cg_req_defer(req);
    if (!pending) return;
    host->waiting = pending;
    cg_req_on_cancel(pending, on_waiter_ended, host);
}

static json_t *status_of(const cg_wizard *w)
{
    json_t *result = json_pack("{s:s}", "status", cg_wizard_status_name(cg_wizard_status_of(w)));
    if (cg_wizard_error(w)) json_object_set_new(result, "error", json_string(cg_wizard_error(w)));
    return result;
}

static void handle_cancel(cg_req *req)
{
    wizard_host *host = host_of(req->gw);
    cg_wizard *w = find_session(req, host);
    if (!w) return;
    cg_wizard_cancel(w);
    json_t *result = status_of(w);
    on_update(w, host); /* a waiting wizard.next learns the end */
    if (host->session && cg_wizard_status_of(host->session) != CG_WIZARD_RUNNING)
        drop_session(host);
    cg_req_ok(req, result);
}

static void handle_status(cg_req *req)
{
    wizard_host *host = host_of(req->gw);
    cg_wizard *w = find_session(req, host);
    if (!w) return;
    json_t *result = status_of(w);
    if (cg_wizard_status_of(w) != CG_WIZARD_RUNNING && !host->waiting) drop_session(host);
    cg_req_ok(req, result);
}

void cg_methods_wizard_attach(cg_gateway *gw)
{
    wizard_host *host = cg_xcalloc(1, sizeof *host);
    host->http = cg_http_new(cg_gateway_loop(gw));
    cg_gateway_set_data(gw, &host_key, host);
}

const cg_method cg_methods_wizard[] = {
    {.name = "wizard.start",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_start_params,
     .handler = handle_start,
     .summary = "Start the onboarding wizard (one at a time): its session id and first step"},
    {.name = "wizard.next",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_next_params,
     .handler = handle_next,
     .summary = "Answer the wizard's current step and get the next one (or the end)",
     .timeout_ms = WIZARD_NEXT_TIMEOUT_MS},
    {.name = "wizard.cancel",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_session_params,
     .handler = handle_cancel,
     .summary = "Cancel the wizard: nothing is written"},
    {.name = "wizard.status",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_session_params,
     .handler = handle_status,
     .summary = "The wizard session's status (running, done, cancelled, error)"},
    {.name = NULL},
};
