/* `clawgate call`: one request to a gateway, as `openclaw gateway call` does it.
 *
 * Settings are resolved first, by the config module exactly as the gateway resolves its
 * own (flag > environment > config file > default, "${VAR}" substitution, validation):
 * the state dir, gateway.port, gateway.tls.enabled / certPath. Credentials: --token /
 * --password, else *_GATEWAY_TOKEN / *_GATEWAY_PASSWORD, else, for a loopback URL only,
 * gateway.auth.token / password from the config (the local gateway's own secret never
 * goes elsewhere). Then a private libuv loop runs one cg_ws_client through three phases:
 * wait for the connect.challenge event, send `connect` (client "cli", mode "cli", role
 * operator, every operator scope unless --scopes), and once hello-ok arrives send the
 * method request and wait for its response; other events (tick, presence...) are
 * ignored. One timer bounds the whole exchange. Whatever ends the exchange stores the
 * JSON to print in `out`, and the loop is left to wind down (close frame, handles)
 * before it is printed, so exactly one document reaches stdout. */
#include "cli/call.h"

#include "client/ws_client.h"
#include "common/util.h"
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#define DEFAULT_TIMEOUT_MS 10000

static const char *const all_operator_scopes[] = {
    "operator.read",    "operator.write",     "operator.admin", "operator.approvals",
    "operator.pairing", "operator.questions", "operator.talk",  "operator.talk.secrets",
};

typedef enum { PH_CHALLENGE, PH_HELLO, PH_RESULT, PH_FINISHED } call_phase;

typedef struct call_ctx {
    uv_timer_t timer;
    cg_ws_client *ws;
    const char *url;
    const char *method;
    json_t *params;
    json_t *scopes;
    json_t *auth; /* NULL when no credential */
    uint64_t timeout_ms;
    call_phase phase;
    char connect_id[37];
    char request_id[37];
    json_t *out; /* what to print */
    int exit_code;
} call_ctx;

/* ---- output ---- */

static json_t *error_doc(const char *type, const char *code, const char *message, json_t *details)
{
    json_t *err = json_object();
    json_object_set_new(err, "type", json_string(type));
    if (code) json_object_set_new(err, "code", json_string(code));
    json_object_set_new(err, "message", json_string(message));
    if (details) json_object_set_new(err, "details", details);
    return json_pack("{s:b, s:o}", "ok", 0, "error", err);
}

static int print_and_free(json_t *doc, int exit_code)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fputs(s ? s : "null", stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(s);
    json_decref(doc);
    return exit_code;
}

static int usage_error(const char *message)
{
    return print_and_free(error_doc("cli_error", "INVALID_REQUEST", message, NULL), 1);
}

/* ---- settings ---- */

static bool host_is_loopback(const char *host)
{
    unsigned char a[16];
    if (strcasecmp(host, "localhost") == 0) return true;
    if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a);
    return false;
}

static json_t *make_auth(const char *token, const char *password)
{
    if (!token && !password) return NULL;
    json_t *a = json_object();
    if (token) json_object_set_new(a, "token", json_string(token));
    if (password) json_object_set_new(a, "password", json_string(password));
    return a;
}

static json_t *parse_scopes(const char *list)
{
    json_t *arr = json_array();
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) json_array_append_new(arr, json_stringn(s, (size_t)(e - s)));
        p += n + (p[n] == ',');
    }
    return arr;
}

/* ---- the exchange ---- */

/* Stores the document to print and starts winding down. */
static void finish(call_ctx *cx, json_t *out, int exit_code)
{
    if (cx->phase == PH_FINISHED) {
        json_decref(out);
        return;
    }
    cx->phase = PH_FINISHED;
    cx->out = out;
    cx->exit_code = exit_code;
    uv_close((uv_handle_t *)&cx->timer, NULL);
    if (cx->ws) cg_ws_client_close(cx->ws, 1000, "done");
}

static void send_frame(call_ctx *cx, const char *id, const char *method, json_t *params)
{
    json_t *frame = json_pack("{s:s, s:s, s:s, s:O}", "type", "req", "id", id, "method", method,
                              "params", params);
    char *s = json_dumps(frame, JSON_COMPACT | JSON_ENCODE_ANY);
    cg_ws_client_send_text(cx->ws, s, strlen(s));
    free(s);
    json_decref(frame);
}

static void send_connect(call_ctx *cx)
{
    char instance[37];
    cg_uuid4(instance);
    cg_uuid4(cx->connect_id);
    json_t *client =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", "cli", "version", CLAWGATE_VERSION, "platform",
                  "linux", "mode", "cli", "instanceId", instance);
    json_t *params = json_pack("{s:i, s:i, s:o, s:[]}", "minProtocol", 4, "maxProtocol", 4,
                               "client", client, "caps");
    if (cx->auth) json_object_set(params, "auth", cx->auth);
    json_object_set_new(params, "role", json_string("operator"));
    json_object_set(params, "scopes", cx->scopes);
    send_frame(cx, cx->connect_id, "connect", params);
    json_decref(params);
    cx->phase = PH_HELLO;
}

/* The gateway's error object as received, tagged like the real CLI does. */
static json_t *request_error(json_t *frame)
{
    json_t *err = json_object_get(frame, "error");
    json_t *copy = json_pack("{s:s}", "type", "gateway_request_error");
    if (json_is_object(err))
        json_object_update(copy, err);
    else
        json_object_set_new(copy, "message", json_string("request failed"));
    return json_pack("{s:b, s:o}", "ok", 0, "error", copy);
}

static void on_response(call_ctx *cx, json_t *frame)
{
    const char *id = json_string_value(json_object_get(frame, "id"));
    bool ok = json_is_true(json_object_get(frame, "ok"));
    json_t *payload = json_object_get(frame, "payload");
    if (!id) return;
    if (cx->phase == PH_HELLO && strcmp(id, cx->connect_id) == 0) {
        if (!ok) {
            finish(cx, request_error(frame), 1);
            return;
        }
        const char *type = json_string_value(json_object_get(payload, "type"));
        if (!type || strcmp(type, "hello-ok") != 0) {
            finish(cx,
                   error_doc("gateway_request_error", "UNAVAILABLE",
                             "unexpected connect response (no hello-ok)", NULL),
                   1);
            return;
        }
        cg_uuid4(cx->request_id);
        send_frame(cx, cx->request_id, cx->method, cx->params);
        cx->phase = PH_RESULT;
    } else if (cx->phase == PH_RESULT && strcmp(id, cx->request_id) == 0) {
        if (ok)
            finish(cx, payload ? json_incref(payload) : json_null(), 0);
        else
            finish(cx, request_error(frame), 1);
    }
}

static void on_message(cg_ws_client *c, const char *data, size_t len, void *user)
{
    call_ctx *cx = user;
    json_t *frame = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(frame, "type"));
    if (type && strcmp(type, "event") == 0) {
        const char *ev = json_string_value(json_object_get(frame, "event"));
        if (cx->phase == PH_CHALLENGE && ev && strcmp(ev, "connect.challenge") == 0)
            send_connect(cx);
    } else if (type && strcmp(type, "res") == 0) {
        on_response(cx, frame);
    }
    json_decref(frame);
}

static json_t *transport_error(call_ctx *cx, const cg_ws_close_info *info)
{
    char msg[512];
    json_t *details = json_pack("{s:s}", "code", "NOT_CONNECTED");
    switch (info->status) {
    case CG_WS_ERR_RESOLVE:
    case CG_WS_ERR_CONNECT:
        snprintf(msg, sizeof msg, "Gateway not reachable at %s (%s).", cx->url,
                 uv_err_name(info->uv_error));
        json_object_set_new(details, "reason", json_string(info->message));
        break;
    case CG_WS_ERR_TLS:
    case CG_WS_ERR_HANDSHAKE:
        snprintf(msg, sizeof msg, "Gateway not reachable at %s (%s).", cx->url, info->message);
        break;
    case CG_WS_ERR_URL:
        snprintf(msg, sizeof msg, "%s", info->message);
        break;
    default:
        snprintf(msg, sizeof msg, "gateway closed (%u): %s",
                 info->close_code ? info->close_code : 1006,
                 info->reason[0] ? info->reason : info->message);
        json_object_set_new(details, "closeCode",
                            json_integer(info->close_code ? info->close_code : 1006));
        break;
    }
    return error_doc("gateway_transport_error", "UNAVAILABLE", msg, details);
}

static void on_ws_close(cg_ws_client *c, const cg_ws_close_info *info, void *user)
{
    call_ctx *cx = user;
    cx->ws = NULL;
    if (cx->phase != PH_FINISHED) finish(cx, transport_error(cx, info), 1);
}

static void on_timeout(uv_timer_t *t)
{
    call_ctx *cx = t->data;
    char msg[64];
    snprintf(msg, sizeof msg, "gateway timeout after %llums", (unsigned long long)cx->timeout_ms);
    finish(cx,
           error_doc("gateway_transport_error", "UNAVAILABLE", msg,
                     json_pack("{s:s}", "code", "TIMEOUT")),
           1);
}

static int run_call(call_ctx *cx, const cg_ws_client_options *opts)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &cx->timer);
    cx->timer.data = cx;
    uv_timer_start(&cx->timer, on_timeout, cx->timeout_ms, 0);
    static const cg_ws_client_callbacks cbs = {
        .on_message = on_message,
        .on_close = on_ws_close,
    };
    cx->ws = cg_ws_client_connect(&loop, cx->url, opts, &cbs, cx);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return print_and_free(cx->out, cx->exit_code);
}

/* ---- arguments ---- */

typedef struct call_args {
    const char *method, *url, *token, *password, *params, *scopes, *timeout, *port, *state_dir;
} call_args;

static const char usage[] =
    "usage: clawgate call METHOD [--url URL] [--token T | --password P] [--params JSON]\n"
    "                            [--scopes a,b] [--timeout MS] [--port N] [--json]\n"
    "                            [--state-dir DIR]\n";

/* 0 ok, 1 help printed, -1 error (message in err). */
static int parse_args(int argc, char **argv, call_args *a, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"--url", offsetof(call_args, url)},
        {"--token", offsetof(call_args, token)},
        {"--password", offsetof(call_args, password)},
        {"--params", offsetof(call_args, params)},
        {"--scopes", offsetof(call_args, scopes)},
        {"--timeout", offsetof(call_args, timeout)},
        {"--port", offsetof(call_args, port)},
        {"--state-dir", offsetof(call_args, state_dir)},
    };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(arg, "--json") == 0) continue;
        if (strncmp(arg, "--", 2) != 0) {
            if (a->method) {
                snprintf(err, errlen, "unexpected argument: %s", arg);
                return -1;
            }
            a->method = arg;
            continue;
        }
        size_t nlen = strcspn(arg, "=");
        size_t k;
        for (k = 0; k < sizeof opts / sizeof opts[0]; k++)
            if (strlen(opts[k].name) == nlen && strncmp(arg, opts[k].name, nlen) == 0) break;
        if (k == sizeof opts / sizeof opts[0]) {
            snprintf(err, errlen, "unknown option: %.*s", (int)nlen, arg);
            return -1;
        }
        const char *val;
        if (arg[nlen] == '=') {
            val = arg + nlen + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, errlen, "option %s needs a value", opts[k].name);
            return -1;
        }
        *(const char **)((char *)a + opts[k].off) = val;
    }
    if (!a->method) {
        snprintf(err, errlen, "missing METHOD");
        return -1;
    }
    return 0;
}

static bool parse_positive(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < 1 || v > max) return false;
    *out = v;
    return true;
}

int cg_cli_call(int argc, char **argv)
{
    call_args a = {0};
    char err[512];
    int pr = parse_args(argc, argv, &a, err, sizeof err);
    if (pr == 1) return 0;
    if (pr < 0) return usage_error(err);

    call_ctx cx = {.method = a.method, .timeout_ms = DEFAULT_TIMEOUT_MS};
    long v;
    if (a.timeout) {
        if (!parse_positive(a.timeout, 24L * 3600 * 1000, &v))
            return usage_error("--timeout must be a positive number of milliseconds.");
        cx.timeout_ms = (uint64_t)v;
    }
    json_error_t je;
    cx.params = a.params ? json_loads(a.params, JSON_DECODE_ANY, &je) : json_object();
    if (!cx.params) return usage_error("--params must be valid JSON.");

    long port = 0;
    if (a.port && !parse_positive(a.port, 65535, &port)) {
        json_decref(cx.params);
        return usage_error("--port must be a port number.");
    }
    cg_overrides ov = {.state_dir = a.state_dir, .port = (int)port};
    cg_config *cfg = cg_config_new(&ov, err, sizeof err);
    int rc;
    if (!cfg || cg_config_read(cfg, err, sizeof err) != 0) {
        rc = usage_error(err);
        goto out_cfg;
    }
    const cg_settings *s = cg_config_settings(cfg);

    char url_buf[300];
    if (a.url) {
        cx.url = a.url;
    } else {
        snprintf(url_buf, sizeof url_buf, "%s://127.0.0.1:%d", s->tls_enabled ? "wss" : "ws",
                 s->port);
        cx.url = url_buf;
    }
    cg_ws_url u;
    if (!cg_ws_url_parse(cx.url, &u)) {
        cg_ws_url_free(&u);
        snprintf(err, sizeof err, "invalid --url: %s (expected ws:// or wss://)", cx.url);
        rc = usage_error(err);
        goto out_cfg;
    }
    bool loopback = host_is_loopback(u.host);
    bool wss = u.tls;
    cg_ws_url_free(&u);

    const char *env_token = cg_config_env("GATEWAY_TOKEN");
    const char *env_password = cg_config_env("GATEWAY_PASSWORD");
    if (a.token || a.password)
        cx.auth = make_auth(a.token, a.password);
    else if (env_token || env_password)
        cx.auth = make_auth(env_token, env_password);
    else if (loopback)
        cx.auth = make_auth(s->token, s->password); /* from the file: no flag or variable */

    if (a.scopes) {
        cx.scopes = parse_scopes(a.scopes);
    } else {
        cx.scopes = json_array();
        for (size_t i = 0; i < sizeof all_operator_scopes / sizeof all_operator_scopes[0]; i++)
            json_array_append_new(cx.scopes, json_string(all_operator_scopes[i]));
    }

    /* A loopback wss gateway is trusted through its own certificate, whatever its names. */
    cg_ws_client_options opts = {0};
    char *cert = NULL;
    if (wss && loopback) {
        if (s->tls_cert_path) {
            cert = cg_strdup(s->tls_cert_path);
        } else {
            size_t n = strlen(cg_config_state_dir(cfg)) + sizeof "/tls/gateway-cert.pem";
            cert = cg_xmalloc(n);
            snprintf(cert, n, "%s/tls/gateway-cert.pem", cg_config_state_dir(cfg));
        }
        if (access(cert, R_OK) == 0) {
            opts.ca_file = cert;
            opts.skip_hostname_check = true;
        }
    }
    rc = run_call(&cx, &opts);
    free(cert);
    json_decref(cx.scopes);
    json_decref(cx.auth);
out_cfg:
    cg_config_free(cfg);
    json_decref(cx.params);
    return rc;
}
