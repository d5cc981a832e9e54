/* The config.* methods: get, set, patch, apply, schema.
 *
 * The store (config/config.h) does the work; this file checks params strictly against
 * the schema's Config<Method>Params, answers, and tells the gateway what a write changed
 * so it can apply it live before the answer goes out. Only config.apply moves the
 * listener, and it binds the new one before the file is written (the store's write
 * gate): a port in use refuses the write with UNAVAILABLE naming the address and the
 * OS error, and the gateway keeps listening where it was with the old file. set and
 * patch report what would need it in restartRequired. restartDelayMs is accepted and
 * not needed: the move keeps open connections and happens before the answer. config.get
 * answers with the store's pre-serialized payload. note, sessionKey and deliveryContext
 * are logged and otherwise ignored; replacePaths is accepted (RFC 7396 replaces arrays
 * anyway).
 *
 * Writes run on the thread pool (cg_config_write_async), so a write request is deferred
 * (cg_req_defer) and answered when the store calls back. If the registry ends the request
 * first (the client left, the deadline passed, the gateway is stopping), the write still
 * completes, is installed and applied live; only the answer is dropped.
 *
 * A config.patch without baseHash that only sets Control UI preferences ({"ui": {"prefs":
 * {...}}}, what the UI's "prefs sync" sends when a theme or accent is picked) is applied
 * last-writer-wins on top of the installed version, as the real gateway's hashless patch
 * for ui.prefs (HASHLESS_PATCH_LWW_PATH_PREFIXES); any other hashless patch of an existing
 * file is still refused. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "gateway/methods.h"

#define REPLACE_PATHS_MAX 256

static int check_non_empty(const char *value, const char *field, char *err, size_t errlen)
{
    if (value && !*value) {
        snprintf(err, errlen, "at /%s: must NOT have fewer than 1 characters", field);
        return -1;
    }
    return 0;
}

static int check_set_params(const json_t *params, char *err, size_t errlen)
{
    const char *raw = NULL, *base_hash = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s?:s}", "raw", &raw, "baseHash", &base_hash))
        return -1;
    return check_non_empty(raw, "raw", err, errlen) ||
                   check_non_empty(base_hash, "baseHash", err, errlen)
               ? -1
               : 0;
}

static int check_delivery_context(const json_t *context, char *err, size_t errlen)
{
    const char *channel = NULL, *to = NULL, *account_id = NULL;
    json_t *thread_id = NULL;
    if (!context) return 0;
    if (cg_params_unpack(context, err, errlen, "{s?:s, s?:s, s?:s, s?:o}", "channel", &channel,
                         "to", &to, "accountId", &account_id, "threadId", &thread_id))
        return -1;
    if (thread_id && !json_is_string(thread_id) && !json_is_number(thread_id)) {
        snprintf(err, errlen, "at /deliveryContext/threadId: must be string or number");
        return -1;
    }
    return 0;
}

/* ConfigApplyParams, and ConfigPatchParams when replacePaths is allowed. */
static int check_write_params(const json_t *params, bool allow_replace_paths, char *err,
                              size_t errlen)
{
    const char *raw = NULL, *base_hash = NULL, *session_key = NULL, *note = NULL;
    json_t *delivery_context = NULL, *restart_delay = NULL, *replace_paths = NULL;
    int rc =
        allow_replace_paths
            ? cg_params_unpack(params, err, errlen, "{s:s, s?:s, s?:s, s?:o, s?:s, s?:o, s?:o}",
                               "raw", &raw, "baseHash", &base_hash, "sessionKey", &session_key,
                               "deliveryContext", &delivery_context, "note", &note,
                               "restartDelayMs", &restart_delay, "replacePaths", &replace_paths)
            : cg_params_unpack(params, err, errlen, "{s:s, s?:s, s?:s, s?:o, s?:s, s?:o}", "raw",
                               &raw, "baseHash", &base_hash, "sessionKey", &session_key,
                               "deliveryContext", &delivery_context, "note", &note,
                               "restartDelayMs", &restart_delay);
    if (rc) return -1;
    if (check_non_empty(raw, "raw", err, errlen) ||
        check_non_empty(base_hash, "baseHash", err, errlen))
        return -1;
    if (check_delivery_context(delivery_context, err, errlen)) return -1;
    if (restart_delay &&
        (!json_is_integer(restart_delay) || json_integer_value(restart_delay) < 0)) {
        snprintf(err, errlen, "at /restartDelayMs: must be an integer >= 0");
        return -1;
    }
    if (replace_paths) {
        if (!json_is_array(replace_paths)) {
            snprintf(err, errlen, "at /replacePaths: must be array");
            return -1;
        }
        if (json_array_size(replace_paths) > REPLACE_PATHS_MAX) {
            snprintf(err, errlen, "at /replacePaths: must NOT have more than %d items",
                     REPLACE_PATHS_MAX);
            return -1;
        }
        size_t i;
        const json_t *path;
        json_array_foreach(replace_paths, i, path)
        {
            if (!json_is_string(path) || json_string_length(path) == 0) {
                snprintf(err, errlen, "at /replacePaths/%zu: must be a non-empty string", i);
                return -1;
            }
        }
    }
    return 0;
}

static int check_patch_params(const json_t *params, char *err, size_t errlen)
{
    return check_write_params(params, true, err, errlen);
}

static int check_apply_params(const json_t *params, char *err, size_t errlen)
{
    return check_write_params(params, false, err, errlen);
}

static void handle_get(cg_req *req)
{
    size_t len;
    const char *payload = cg_config_get_result_json(cg_gateway_config(req->gw), &len);
    cg_req_ok_raw(req, payload, len);
}

/* A write in flight. */
typedef struct config_write_call {
    cg_req *req; /* the deferred request; NULL once the registry ended it */
    cg_gateway *gw;
    cg_config_write_kind kind;
    bool moved; /* apply moved the listener before writing */
    cg_config_gate *gate;
} config_write_call;

static void on_request_ended(cg_req *req, cg_req_end why, void *data)
{
    config_write_call *call = data;
    call->req = NULL;
}

static void on_listener_moved(cg_gateway *gw, const char *error, void *data)
{
    config_write_call *call = data;
    call->moved = error == NULL;
    cg_config_gate_pass(call->gate, error);
}

/* config.apply's gate: the listener moves first (bound before the old one closes), or
 * the write is refused. Also after an earlier set/patch that only reported
 * restartRequired. */
static void move_listener_first(cg_config *cfg, const cg_settings *next, cg_config_gate *gate,
                                void *data)
{
    config_write_call *call = data;
    call->gate = gate;
    cg_gateway_rebind_async(call->gw, next, on_listener_moved, call);
}

static void on_moved_back(cg_gateway *gw, const char *error, void *data)
{
    if (error)
        cg_log(CG_LOG_ERROR, "config", "listener could not move back after a failed write",
               json_pack("{s:s}", "error", error));
}

static void on_written(cg_config *cfg, cg_config_write_result *result, void *data)
{
    config_write_call *call = data;
    /* The listener moved but the disk refused the file: back to the running settings. */
    if (result->error && call->moved)
        cg_gateway_rebind_async(call->gw, cg_gateway_settings(call->gw), on_moved_back, NULL);
    if (!call->req) {
        json_decref(result->payload);
        json_decref(result->error);
    } else if (result->error) {
        cg_req_error_shape(call->req, result->error);
    } else {
        cg_req_ok(call->req, result->payload);
    }
    free(call);
}

/* The merge patch raw holds when it only touches ui.prefs ({"ui": {"prefs": {...}}}), else
 * NULL. New ref. */
static json_t *ui_prefs_patch(const char *raw)
{
    json_t *patch = raw ? json_loads(raw, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const json_t *ui = json_object_get(patch, "ui");
    if (json_object_size(patch) == 1 && json_object_size(ui) == 1 &&
        json_is_object(json_object_get(ui, "prefs")))
        return patch;
    json_decref(patch);
    return NULL;
}

static void handle_write(cg_req *req, cg_config_write_kind kind)
{
    const json_t *params = req->params;
    static const char *const context_fields[] = {"note", "sessionKey", "deliveryContext"};
    json_t *context = json_pack("{s:s}", "method", req->method->name);
    for (size_t i = 0; i < sizeof context_fields / sizeof context_fields[0]; i++) {
        json_t *value = json_object_get(params, context_fields[i]);
        if (value) json_object_set(context, context_fields[i], value);
    }
    if (json_object_size(context) > 1)
        cg_log(CG_LOG_INFO, "config", "config write requested", context);
    else
        json_decref(context);

    cg_gateway *gw = req->gw;
    cg_req *pending = cg_req_defer(req);
    if (!pending) return;
    config_write_call *call = cg_xcalloc(1, sizeof *call);
    *call = (config_write_call){.req = pending, .gw = gw, .kind = kind};
    cg_req_on_cancel(pending, on_request_ended, call);
    json_t *prefs = NULL;
    if (kind == CG_CONFIG_PATCH && !json_object_get(pending->params, "baseHash") &&
        (prefs = ui_prefs_patch(json_string_value(json_object_get(pending->params, "raw"))))) {
        cg_config_patch_async(cg_gateway_config(gw), cg_gateway_loop(gw), prefs, on_written, call);
        json_decref(prefs);
        return;
    }
    cg_config_write_gated_async(cg_gateway_config(gw), cg_gateway_loop(gw), kind,
                                json_string_value(json_object_get(pending->params, "raw")),
                                json_string_value(json_object_get(pending->params, "baseHash")),
                                kind == CG_CONFIG_APPLY ? move_listener_first : NULL, on_written,
                                call);
}

static void handle_set(cg_req *req)
{
    handle_write(req, CG_CONFIG_SET);
}

static void handle_patch(cg_req *req)
{
    handle_write(req, CG_CONFIG_PATCH);
}

static void handle_apply(cg_req *req)
{
    handle_write(req, CG_CONFIG_APPLY);
}

static void handle_schema(cg_req *req)
{
    cg_req_ok(req, cg_config_schema());
}

const cg_method cg_methods_config[] = {
    {.name = "config.get",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_get,
     .summary = "The config file, redacted, with its hash and validity"},
    {.name = "config.set",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_set_params,
     .handler = handle_set,
     .summary = "Replace the whole config file (baseHash guarded)"},
    {.name = "config.patch",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_patch_params,
     .handler = handle_patch,
     .summary = "Apply an RFC 7396 merge patch to the config file (baseHash guarded)"},
    {.name = "config.apply",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_apply_params,
     .handler = handle_apply,
     .summary = "Replace the config file and apply it, re-binding the listener if needed"},
    {.name = "config.schema",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_schema,
     .summary = "JSON Schema of the config keys clawgate knows"},
    {.name = NULL},
};
