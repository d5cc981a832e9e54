/* browser.request (issue 10, Browser): OpenClaw's browser control routes over the gateway.
 *
 * Params as the real gateway takes them: {method: GET|POST|DELETE, path: "/...", query?,
 * body?, timeoutMs?, target?: "host"|"node", node?}. The request is deferred through the
 * pending registry and answered by
 *   - the local controller (src/browser/controller.h), which drives Chromium itself; or
 *   - a connected node that declares `browser.proxy`, relayed as node.invoke command
 *     "browser.proxy" {method, path, query, body, timeoutMs}; its answer's `result` is
 *     the payload (the node host wraps route results as {result, files?}).
 * Which one, as the real gateway's resolveBrowserNodeTarget: config
 * gateway.nodes.browser.mode ("auto" default, "manual", "off") and .node (a node id);
 * target "node" / node in the params ask for a node explicitly. In auto mode without an
 * explicit or configured node, a node is used only when no local browser is available
 * and exactly one browser-capable node is connected.
 *
 * Answers: the route's JSON as payload; a route's 4xx is INVALID_REQUEST, a 5xx (or the
 * deadline) UNAVAILABLE, each with the route's body {error, code} as details. The
 * deadline is timeoutMs (default 30 s, at most 120 s); the controller ends the call at
 * that deadline with a clear message and the registry's own deadline is a little later.
 *
 * Config (OpenClaw's keys where they exist): browser.enabled (false: every call refused),
 * browser.executablePath (/usr/bin/chromium), browser.headless (true), browser.noSandbox
 * (default: when running as root), browser.evaluateEnabled (true), browser.ssrfPolicy
 * {dangerouslyAllowPrivateNetwork, allowPrivateNetwork, allowedHostnames} (private
 * addresses refused by default, see browser/url_policy.h), and clawgate's own
 * browser.idleTimeoutMs (300000; 0 keeps it running). The profile lives under
 * <state dir>/browser/profile, screenshots under <state dir>/browser/screenshots. */
#include "methods/browser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "browser/controller.h"
#include "common/log.h"
#include "common/util.h"
#include "methods/nodes.h"
#include "proto/frame.h"

#define DEFAULT_EXECUTABLE "/usr/bin/chromium"
#define REQUEST_DEFAULT_TIMEOUT_MS 30000
#define REQUEST_MAX_TIMEOUT_MS 120000
/* The registry's deadline after the controller's (or the node's) own. */
#define REGISTRY_GRACE_MS 3000
#define NODE_GRACE_MS 2000

typedef struct browser_state {
    cg_browser *browser;
    bool stopped;
} browser_state;

static void stop_state(void *data)
{
    browser_state *st = data;
    if (st->stopped) return;
    st->stopped = true;
    cg_browser_free(st->browser); /* its handles close on the loop's last turns */
    st->browser = NULL;
}

static void free_state(void *data)
{
    browser_state *st = data;
    if (!st->stopped) cg_browser_free(st->browser);
    free(st);
}

static const cg_conn_key state_key = {
    .name = "browser", .free_data = free_state, .stop = stop_state};

static const json_t *browser_config(const cg_settings *s)
{
    return json_object_get(s->doc, "browser");
}

static bool config_bool(const json_t *section, const char *key, bool dflt)
{
    const json_t *v = json_object_get(section, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static const char *executable_of(const cg_settings *s)
{
    const char *exe = json_string_value(json_object_get(browser_config(s), "executablePath"));
    return exe && *exe ? exe : DEFAULT_EXECUTABLE;
}

/* browser.ssrfPolicy.allowedHostnames: the strings, borrowed from the settings (which
 * outlive the call that reads them); at most 256. */
#define MAX_ALLOWED_HOSTNAMES 256

static void options_from(const cg_settings *s, const char *state_dir, cg_browser_options *o,
                         const char **hosts)
{
    const json_t *cfg = browser_config(s);
    const json_t *idle = json_object_get(cfg, "idleTimeoutMs");
    const json_t *ssrf = json_object_get(cfg, "ssrfPolicy");
    const json_t *allowed = json_object_get(ssrf, "allowedHostnames"), *h;
    size_t i, n = 0;
    json_array_foreach(allowed, i, h)
    {
        const char *name = json_string_value(h);
        if (name && *name && n < MAX_ALLOWED_HOSTNAMES) hosts[n++] = name;
    }
    o->allowed_hostnames = (char *const *)hosts;
    o->allowed_hostnames_len = n;
    o->allow_private_network = config_bool(ssrf, "dangerouslyAllowPrivateNetwork", false) ||
                               config_bool(ssrf, "allowPrivateNetwork", false);
    o->executable = executable_of(s);
    o->state_dir = state_dir;
    o->headless = config_bool(cfg, "headless", true);
    o->no_sandbox = config_bool(cfg, "noSandbox", geteuid() == 0);
    o->evaluate_enabled = config_bool(cfg, "evaluateEnabled", true);
    o->idle_ms = json_is_integer(idle) && json_integer_value(idle) >= 0
                     ? (uint64_t)json_integer_value(idle)
                     : CG_BROWSER_DEFAULT_IDLE_MS;
}

static void on_settings(cg_gateway *gw, const cg_settings *settings, void *data)
{
    browser_state *st = cg_gateway_get_data(gw, &state_key);
    if (!st || st->stopped) return;
    cg_browser_options o;
    const char *hosts[MAX_ALLOWED_HOSTNAMES];
    options_from(settings, cg_config_state_dir(cg_gateway_config(gw)), &o, hosts);
    cg_browser_set_options(st->browser, &o);
}

void cg_methods_browser_attach(cg_gateway *gw)
{
    browser_state *st = cg_xcalloc(1, sizeof *st);
    cg_browser_options o;
    const char *hosts[MAX_ALLOWED_HOSTNAMES];
    options_from(cg_gateway_settings(gw), cg_config_state_dir(cg_gateway_config(gw)), &o, hosts);
    st->browser = cg_browser_new(cg_gateway_loop(gw), &o);
    cg_gateway_set_data(gw, &state_key, st);
    cg_gateway_add_settings_hook(gw, on_settings, NULL);
}

/* ---- params ---- */

static bool method_known(const char *m)
{
    return !strcasecmp(m, "GET") || !strcasecmp(m, "POST") || !strcasecmp(m, "DELETE");
}

static int check_request(const json_t *params, char *err, size_t errlen)
{
    const char *method, *path, *target = NULL, *node = NULL;
    json_t *query = NULL, *body = NULL, *timeout = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s:s, s?:o, s?:o, s?:o, s?:s, s?:s}", "method",
                         &method, "path", &path, "query", &query, "body", &body, "timeoutMs",
                         &timeout, "target", &target, "node", &node))
        return -1;
    const char *problem = NULL;
    if (!method_known(method))
        problem = "method must be GET, POST, or DELETE";
    else if (path[0] != '/')
        problem = "path must start with /";
    else if (strlen(path) > 2048)
        problem = "path too long";
    else if (query && !json_is_object(query) && !json_is_null(query))
        problem = "query must be an object";
    else if (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) < 1))
        problem = "timeoutMs must be a positive integer";
    else if (target && strcmp(target, "host") && strcmp(target, "node"))
        problem = "target must be \"host\" or \"node\"";
    else if (node && (!*node || strlen(node) > 256 || !target || strcmp(target, "node")))
        problem = "node requires target=\"node\" and a nonempty selector of at most 256 "
                  "characters";
    if (problem) {
        snprintf(err, errlen, "%s", problem);
        return -1;
    }
    return 0;
}

/* ---- answering ---- */

typedef struct browser_call {
    cg_req *req;
    cg_browser_call *local;
    cg_node_call *remote;
} browser_call;

static void on_req_ended(cg_req *req, cg_req_end why, void *data)
{
    browser_call *bc = data;
    if (bc->local) cg_browser_call_cancel(bc->local);
    if (bc->remote) cg_node_call_cancel(bc->remote);
    free(bc);
}

/* The route's answer: 2xx ok, 4xx INVALID_REQUEST, else UNAVAILABLE; body as details. */
static void answer_route(cg_req *req, int status, json_t *body)
{
    if (status >= 200 && status < 300) {
        cg_req_ok(req, body);
        return;
    }
    const char *error = json_string_value(json_object_get(body, "error"));
    char message[600];
    if (error)
        snprintf(message, sizeof message, "%s", error);
    else
        snprintf(message, sizeof message, "browser request failed (%d)", status);
    json_t *details = json_is_object(body) ? body : NULL;
    if (!details) json_decref(body);
    cg_req_error(req, status >= 400 && status < 500 ? CG_ERR_INVALID_REQUEST : CG_ERR_UNAVAILABLE,
                 message, details);
}

static void local_done(int status, json_t *body, void *data)
{
    browser_call *bc = data;
    bc->local = NULL;
    answer_route(bc->req, status, body);
    free(bc);
}

static void node_done(const json_t *result, const json_t *error, void *data)
{
    browser_call *bc = data;
    bc->remote = NULL;
    if (!result) {
        cg_req_error_shape(bc->req, json_incref((json_t *)error));
    } else {
        const json_t *payload = json_object_get(result, "payload");
        const json_t *route_result = json_object_get(payload, "result");
        const json_t *failure = json_object_get(payload, "error");
        if (route_result) {
            cg_req_ok(bc->req, json_incref((json_t *)route_result));
        } else if (failure) {
            /* A node reporting the route's failure: {error: {status, body}} or a message. */
            json_t *fbody = json_object_get(failure, "body");
            int status = (int)json_integer_value(json_object_get(failure, "status"));
            if (json_is_object(fbody) && status)
                answer_route(bc->req, status, json_incref(fbody));
            else
                cg_req_error(bc->req, CG_ERR_UNAVAILABLE,
                             json_is_string(failure) ? json_string_value(failure)
                                                     : "browser proxy failed",
                             NULL);
        } else {
            cg_req_error(bc->req, CG_ERR_UNAVAILABLE, "browser proxy failed", NULL);
        }
    }
    free(bc);
}

/* ---- choosing a node ---- */

typedef struct node_scan {
    cg_gateway *gw;
    const char *wanted; /* a node id, or NULL for any */
    const char *found;  /* the last match */
    size_t count;
} node_scan;

static void scan_node(cg_conn *c, void *data)
{
    node_scan *s = data;
    const char *node_id = cg_conn_device_id(c);
    cg_node_live live;
    if (cg_conn_role(c) != CG_ROLE_NODE || !node_id ||
        !cg_nodes_live(cg_gateway_nodes(s->gw), node_id, &live))
        return;
    if (!cg_json_array_has_string(live.commands, "browser.proxy") &&
        !cg_json_array_has_string(live.caps, "browser"))
        return;
    if (s->wanted && strcmp(s->wanted, node_id) != 0) return;
    s->found = node_id;
    s->count++;
}

/* The node to relay to: *node_id set, or NULL for the local browser; false when the
 * request cannot be served (answered). */
static bool pick_node(cg_req *req, const char **node_id)
{
    const json_t *policy = json_object_get(
        json_object_get(json_object_get(cg_gateway_settings(req->gw)->doc, "gateway"), "nodes"),
        "browser");
    const char *mode = json_string_value(json_object_get(policy, "mode"));
    const char *configured = json_string_value(json_object_get(policy, "node"));
    const char *target = json_string_value(json_object_get(req->params, "target"));
    const char *requested = json_string_value(json_object_get(req->params, "node"));
    bool explicit_node = target && !strcmp(target, "node");
    *node_id = NULL;
    if (target && !strcmp(target, "host")) return true;
    if (mode && !strcmp(mode, "off")) {
        if (!explicit_node) return true;
        cg_req_error(req, CG_ERR_UNAVAILABLE,
                     "Node browser proxy is disabled (gateway.nodes.browser.mode=off).", NULL);
        return false;
    }
    const char *wanted = requested ? requested : configured && *configured ? configured : NULL;
    if (!explicit_node && !wanted) {
        if (mode && !strcmp(mode, "manual")) return true;
        if (access(executable_of(cg_gateway_settings(req->gw)), X_OK) == 0) return true;
    }
    node_scan scan = {req->gw, wanted, NULL, 0};
    cg_gateway_foreach_conn(req->gw, scan_node, &scan);
    if (scan.count == 0) {
        if (!explicit_node && !wanted) return true;
        cg_req_error(req, CG_ERR_UNAVAILABLE,
                     wanted ? "browser node not connected" : "No connected browser-capable nodes.",
                     wanted ? json_pack("{s:s}", "node", wanted) : NULL);
        return false;
    }
    if (scan.count > 1) {
        if (!explicit_node) return true;
        char msg[200];
        snprintf(msg, sizeof msg,
                 "Multiple browser-capable nodes connected (%zu). Set gateway.nodes.browser.node "
                 "or pass node=<id>.",
                 scan.count);
        cg_req_error(req, CG_ERR_UNAVAILABLE, msg, NULL);
        return false;
    }
    *node_id = scan.found;
    return true;
}

/* ---- browser.request ---- */

static void handle_request(cg_req *req)
{
    const cg_settings *s = cg_gateway_settings(req->gw);
    browser_state *st = cg_gateway_get_data(req->gw, &state_key);
    if (!config_bool(browser_config(s), "enabled", true) || !st || st->stopped) {
        cg_req_error(req, CG_ERR_UNAVAILABLE, "browser control is disabled (browser.enabled=false)",
                     NULL);
        return;
    }
    char method[8];
    snprintf(method, sizeof method, "%s",
             json_string_value(json_object_get(req->params, "method")));
    for (char *p = method; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    const char *path = json_string_value(json_object_get(req->params, "path"));
    const json_t *query = json_object_get(req->params, "query");
    const json_t *body = json_object_get(req->params, "body");
    const json_t *t = json_object_get(req->params, "timeoutMs");
    uint64_t timeout_ms = t ? (uint64_t)json_integer_value(t) : REQUEST_DEFAULT_TIMEOUT_MS;
    if (timeout_ms > REQUEST_MAX_TIMEOUT_MS) timeout_ms = REQUEST_MAX_TIMEOUT_MS;

    const char *node_id;
    if (!pick_node(req, &node_id)) return;
    if (node_id) {
        char hint[512], message[640];
        const char *reason =
            cg_node_command_check(req->gw, node_id, "browser.proxy", hint, sizeof hint);
        if (reason) {
            snprintf(message, sizeof message, "node command not allowed: %s", hint);
            cg_req_error(req, CG_ERR_INVALID_REQUEST, message,
                         json_pack("{s:s, s:s}", "reason", reason, "command", "browser.proxy"));
            return;
        }
    }

    browser_call *bc = cg_xcalloc(1, sizeof *bc);
    bc->req = cg_req_defer(req);
    if (!bc->req) {
        free(bc);
        return;
    }
    req = bc->req;
    if (node_id) {
        cg_req_set_timeout(req, timeout_ms + NODE_GRACE_MS + REGISTRY_GRACE_MS);
        json_t *params = json_pack("{s:s, s:s, s:O, s:O, s:I}", "method", method, "path", path,
                                   "query", query ? query : json_null(), "body",
                                   body ? body : json_null(), "timeoutMs", (json_int_t)timeout_ms);
        char key[37];
        cg_uuid4(key);
        json_t *error = NULL;
        bc->remote = cg_node_call_start(req->gw, node_id, "browser.proxy", params,
                                        timeout_ms + NODE_GRACE_MS, key, node_done, bc, &error);
        if (!bc->remote) {
            cg_req_error_shape(req, error);
            free(bc);
            return;
        }
    } else {
        cg_req_set_timeout(req, timeout_ms + REGISTRY_GRACE_MS);
        bc->local =
            cg_browser_request(st->browser, method, path, query, body, timeout_ms, local_done, bc);
    }
    cg_req_on_cancel(req, on_req_ended, bc);
}

const cg_method cg_methods_browser[] = {
    {.name = "browser.request",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_request,
     .handler = handle_request,
     .summary = "Browser control routes (status, tabs, navigate, screenshot, snapshot, act) "
                "answered by a headless Chromium driven over CDP, or relayed to a node "
                "declaring browser.proxy.",
     .timeout_ms = REQUEST_MAX_TIMEOUT_MS + REGISTRY_GRACE_MS},
    {0},
};
