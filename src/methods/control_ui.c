/* The Control UI over HTTP (issue 11), as the real gateway serves it.
 *
 * Routes, under B = gateway.controlUi.basePath normalised ("" for "/"):
 *   B/control-ui-config.json (and the legacy B/__openclaw/control-ui-config.json)
 *       the UI's bootstrap config, behind the gateway credential as a bearer (the
 *       route API's 401/429 JSON without it);
 *   B/ and everything below it (a prefix route; with B "" it is the fallback for every
 *       path no other route takes, GET / included: an upgrade on / stays the
 *       WebSocket's) the files; B itself redirects to B/.
 * With gateway.controlUi.enabled false none of these exist (404, and GET / the
 * gateway's 426).
 *
 * The files come from gateway.controlUi.root when set (a folder: the real UI's
 * dist/control-ui, say), else from the ones embedded at build time (ui/, see ui/ui.h).
 * A path that could leave the folder is 404 (ui/ui.h, cg_ui_relpath and the real-path
 * check); a missing file with an extension is 404, any other missing path is the
 * single page app's index.html when the request's Accept admits HTML (or it has none),
 * else 404. Only GET and HEAD are served; other methods get 404, and so do, with the
 * UI at the root, the namespaces the real gateway keeps out of it (/health[z],
 * /ready[z], /startup[z], /api, /j, /v1, /ui and below). Every file carries a strong ETag (its
 * sha256; 304 on If-None-Match) and Vary: Accept-Encoding; with Accept-Encoding gzip, an embedded
 * file goes out as its precompressed copy and a root file as its `.gz` sibling when
 * there is one. The root folder is read on the libuv thread pool, a file at most
 * CONTROL_UI_FILE_MAX bytes (larger: 404 with a warning); an exchange whose client
 * goes away meanwhile is dropped when the read is done.
 *
 * index.html of a root folder is rewritten (base path and build-id attributes, asset
 * references under B) and sent with a CSP that admits its inline scripts by sha256 and
 * 'wasm-unsafe-eval', Cache-Control no-cache; the other root files get the real
 * gateway's CSP without hashes. The embedded UI has no inline script: the gateway's
 * default CSP (default-src 'self') holds for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/util.h"
#include "methods/control_ui.h"
#include "ui/ui.h"

#define CONTROL_UI_FILE_MAX (32u * 1024 * 1024)
#define BASE_MAX 128
#define REL_MAX 1024

static const json_t *control_ui_config(cg_gateway *gw)
{
    return json_object_get(json_object_get(cg_gateway_settings(gw)->doc, "gateway"), "controlUi");
}

static bool enabled(cg_gateway *gw, void *data)
{
    (void)data;
    return !json_is_false(json_object_get(control_ui_config(gw), "enabled"));
}

/* gateway.controlUi.root, or NULL for the embedded files. */
static const char *root_folder(cg_gateway *gw)
{
    const char *root = json_string_value(json_object_get(control_ui_config(gw), "root"));
    return root && *root ? root : NULL;
}

/* Whether Accept-Encoding admits gzip (a q of 0 refuses it). */
static bool accepts_gzip(const char *accept)
{
    for (const char *p = accept; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p + strcspn(p, ",");
        size_t name = strcspn(p, ";, ");
        if ((name == 4 && !strncasecmp(p, "gzip", 4)) || (name == 1 && *p == '*')) {
            const char *q = strstr(p, "q=");
            bool zero = q && q < end && strtod(q + 2, NULL) == 0.0;
            return !zero;
        }
        p = end;
    }
    return false;
}

/* Whether Accept admits an HTML answer (none at all does): the single page app's
 * fallback is for pages, not for an API client's request. */
static bool accepts_html(const char *accept)
{
    if (!accept || !accept[strspn(accept, " ")]) return true;
    return strcasestr(accept, "text/html") || strcasestr(accept, "application/xhtml+xml") ||
           strstr(accept, "*/*") || strcasestr(accept, "text/*");
}

/* With the UI at the root, the namespaces it leaves to others, as the real gateway
 * does: probes, the HTTP APIs, and /ui (a base path mistaken for the root). */
static bool reserved_path(const char *path)
{
    static const char *const roots[] = {"/health",   "/healthz", "/ready", "/readyz", "/startup",
                                        "/startupz", "/api",     "/j",     "/v1",     "/ui"};
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
        size_t n = strlen(roots[i]);
        if (!strncmp(path, roots[i], n) && (path[n] == '\0' || path[n] == '/')) return true;
    }
    return false;
}

static bool etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match) return false;
    if (!strcmp(if_none_match, "*")) return true;
    return strstr(if_none_match, etag) != NULL;
}

static void respond_not_found(cg_http_exchange *x)
{
    static const char text[] = "Not Found";
    cg_http_exchange_respond(x, 404, "text/plain; charset=utf-8", NULL, text, sizeof text - 1);
}

/* A file with its ETag: 304 when the client has it, else 200 (gzip tells the body is
 * gzip-coded). headers: more header lines, or NULL. */
static void respond_file(cg_http_exchange *x, const char *rel, const void *body, size_t len,
                         const char *etag, bool gzip, const char *headers)
{
    cg_buf h = {0};
    cg_buf_appends(&h, "Cache-Control: no-cache\r\nVary: Accept-Encoding\r\n");
    if (etag) {
        cg_buf_appends(&h, "ETag: ");
        cg_buf_appends(&h, etag);
        cg_buf_appends(&h, "\r\n");
    }
    if (headers) cg_buf_appends(&h, headers);
    if (etag && etag_matches(cg_http_exchange_header(x, "if-none-match"), etag)) {
        cg_http_exchange_respond(x, 304, NULL, h.data, NULL, 0);
    } else {
        if (gzip) cg_buf_appends(&h, "Content-Encoding: gzip\r\n");
        cg_http_exchange_respond(x, 200, cg_ui_content_type(rel), h.data, body, len);
    }
    cg_buf_reset(&h);
}

static void serve_embedded(cg_http_exchange *x, const char *rel, bool spa)
{
    const cg_ui_asset *a = cg_ui_embedded_find(rel);
    if (!a && spa) a = cg_ui_embedded_find("index.html");
    if (!a) {
        respond_not_found(x);
        return;
    }
    bool gzip = a->gz && accepts_gzip(cg_http_exchange_header(x, "accept-encoding"));
    /* The gzip copy is another representation: another ETag. */
    char etag[80];
    snprintf(etag, sizeof etag, "%.*s%s\"", (int)strlen(a->etag) - 1, a->etag, gzip ? "-gz" : "");
    respond_file(x, a->path, gzip ? a->gz : a->data, gzip ? a->gz_len : a->len, etag, gzip, NULL);
}

/* ---- the root folder, read on the thread pool ---- */

typedef struct root_read {
    uv_work_t work;
    cg_http_exchange *x; /* NULL once the client went away */
    char *root;
    char base[BASE_MAX];
    char rel[REL_MAX];
    bool want_gzip;
    bool spa; /* a missing page is index.html */
    /* the answer */
    cg_ui_read_result result;
    cg_ui_file file;
    bool index; /* file is index.html, rewritten */
    char *csp;
} root_read;

static bool is_index(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    return !strcmp(slash ? slash + 1 : rel, "index.html");
}

static void root_read_work(uv_work_t *w)
{
    root_read *r = w->data;
    r->index = is_index(r->rel);
    r->result =
        cg_ui_root_read(r->root, r->rel, r->want_gzip && !r->index, CONTROL_UI_FILE_MAX, &r->file);
    if (r->result == CG_UI_READ_NOT_FOUND && r->spa) {
        r->index = true;
        snprintf(r->rel, sizeof r->rel, "index.html");
        r->result = cg_ui_root_read(r->root, r->rel, false, CONTROL_UI_FILE_MAX, &r->file);
    }
    if (r->result != CG_UI_READ_OK) return;
    if (r->index) {
        size_t len;
        char *page = cg_ui_index_rewrite(r->file.data, r->file.len, r->base, &len);
        free(r->file.data);
        r->file.data = page;
        r->file.len = len;
        r->csp = cg_ui_csp(page, len, true);
    } else {
        r->csp = cg_ui_csp(NULL, 0, false);
    }
}

static void root_read_free(root_read *r)
{
    free(r->root);
    free(r->file.data);
    free(r->csp);
    free(r);
}

static void root_read_done(uv_work_t *w, int status)
{
    root_read *r = w->data;
    cg_http_exchange *x = r->x;
    if (!x) {
        root_read_free(r);
        return;
    }
    cg_http_exchange_on_close(x, NULL, NULL, NULL);
    if (status != 0 || r->result != CG_UI_READ_OK) {
        if (r->result == CG_UI_READ_TOO_BIG)
            cg_log(CG_LOG_WARN, "control-ui", "a Control UI file is too large to serve",
                   json_pack("{s:s, s:I}", "path", r->rel, "max", (json_int_t)CONTROL_UI_FILE_MAX));
        respond_not_found(x);
        root_read_free(r);
        return;
    }
    char *csp = cg_xmalloc(strlen(r->csp) + 40);
    sprintf(csp, "Content-Security-Policy: %s\r\n", r->csp);
    respond_file(x, r->rel, r->file.data, r->file.len, r->index ? NULL : r->file.etag, r->file.gzip,
                 csp);
    free(csp);
    root_read_free(r);
}

static void root_read_client_gone(cg_http_exchange *x, void *data)
{
    (void)x;
    ((root_read *)data)->x = NULL;
}

static void serve_root(cg_http_exchange *x, const char *root, const char *base, const char *rel,
                       bool spa)
{
    root_read *r = cg_xcalloc(1, sizeof *r);
    r->x = x;
    r->root = cg_strdup(root);
    snprintf(r->base, sizeof r->base, "%s", base);
    snprintf(r->rel, sizeof r->rel, "%s", rel);
    r->want_gzip = accepts_gzip(cg_http_exchange_header(x, "accept-encoding"));
    r->spa = spa;
    r->work.data = r;
    cg_http_exchange_on_close(x, root_read_client_gone, NULL, r);
    if (uv_queue_work(cg_gateway_loop(cg_http_exchange_gateway(x)), &r->work, root_read_work,
                      root_read_done) != 0) {
        cg_http_exchange_on_close(x, NULL, NULL, NULL);
        respond_not_found(x);
        root_read_free(r);
    }
}

/* ---- routes ---- */

typedef struct control_ui {
    char base[BASE_MAX];
} control_ui;

static void serve_files(cg_http_exchange *x, void *data)
{
    control_ui *ui = data;
    const char *method = cg_http_exchange_method(x);
    const char *path = cg_http_exchange_path(x);
    char rel[REL_MAX];
    if ((strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) ||
        (!ui->base[0] && reserved_path(path)) ||
        !cg_ui_relpath(path + strlen(ui->base), rel, sizeof rel)) {
        respond_not_found(x);
        return;
    }
    bool spa = !cg_ui_is_asset_name(rel) && accepts_html(cg_http_exchange_header(x, "accept"));
    const char *root = root_folder(cg_http_exchange_gateway(x));
    if (root)
        serve_root(x, root, ui->base, rel, spa);
    else
        serve_embedded(x, rel, spa);
}

static void redirect_to_base(cg_http_exchange *x, void *data)
{
    control_ui *ui = data;
    char headers[BASE_MAX + 32];
    snprintf(headers, sizeof headers, "Location: %s/\r\n", ui->base);
    cg_http_exchange_respond(x, 302, NULL, headers, NULL, 0);
}

/* The assistant's name and avatar as the UI shows them: the default agent's identity
 * in agents.list (the one with default: true, else the first), else "Assistant"/"A". */
static void assistant_identity(const json_t *doc, const char **name, const char **avatar)
{
    *name = "Assistant";
    *avatar = "A";
    const json_t *list = json_object_get(json_object_get(doc, "agents"), "list");
    const json_t *agent = json_array_get(list, 0);
    size_t i;
    const json_t *a;
    json_array_foreach(list, i, a) if (json_is_true(json_object_get(a, "default"))) agent = a;
    const json_t *identity = json_object_get(agent, "identity");
    const char *n = json_string_value(json_object_get(identity, "name"));
    const char *av = json_string_value(json_object_get(identity, "avatar"));
    if (!av || !*av) av = json_string_value(json_object_get(identity, "emoji"));
    if (n && *n) *name = n;
    if (av && *av) *avatar = av;
}

static void serve_config(cg_http_exchange *x, void *data)
{
    control_ui *ui = data;
    cg_gateway *gw = cg_http_exchange_gateway(x);
    const json_t *doc = cg_gateway_settings(gw)->doc;
    const json_t *cui = control_ui_config(gw);
    const char *name, *avatar;
    assistant_identity(doc, &name, &avatar);
    const char *sandbox = json_string_value(json_object_get(cui, "embedSandbox"));
    if (!sandbox || (strcmp(sandbox, "trusted") != 0 && strcmp(sandbox, "strict") != 0))
        sandbox = "scripts";
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:n, s:n, s:n, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:[]}", "basePath",
        ui->base, "assistantName", name, "assistantAvatar", avatar, "assistantAvatarSource",
        "assistantAvatarStatus", "assistantAvatarReason", "serverVersion", CLAWGATE_VERSION,
        "embedSandbox", sandbox, "allowExternalEmbedUrls",
        json_is_true(json_object_get(cui, "allowExternalEmbedUrls")), "automaticallyFetchFavicons",
        !json_is_false(json_object_get(cui, "automaticallyFetchFavicons")), "communityInvite",
        !json_is_false(json_object_get(cui, "communityInvite")), "terminalEnabled", 0,
        "cliAgentsEnabled", 0, "pluginAssetsRequireAuth",
        cg_gateway_settings(gw)->auth_mode != CG_AUTH_NONE, "pluginFrameGrants");
    const json_t *seam = json_object_get(json_object_get(doc, "ui"), "seamColor");
    if (json_is_string(seam)) json_object_set(body, "seamColor", (json_t *)seam);
    const json_t *env = json_object_get(cui, "environment");
    if (env) json_object_set(body, "environment", (json_t *)env);
    if (!strcmp(cg_http_exchange_method(x), "HEAD")) {
        json_decref(body);
        cg_http_exchange_respond(x, 200, "application/json; charset=utf-8",
                                 "Cache-Control: no-cache\r\n", NULL, 0);
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    cg_http_exchange_respond(x, 200, "application/json; charset=utf-8",
                             "Cache-Control: no-cache\r\n", text, strlen(text));
    free(text);
}

static const cg_conn_key control_ui_key = {.name = "control-ui", .free_data = free};

void cg_methods_control_ui_attach(cg_gateway *gw)
{
    control_ui *ui = cg_xcalloc(1, sizeof *ui);
    const char *configured = json_string_value(json_object_get(control_ui_config(gw), "basePath"));
    if (!cg_ui_base_path(configured, ui->base, sizeof ui->base)) {
        cg_log(CG_LOG_ERROR, "control-ui",
               "gateway.controlUi.basePath is not a usable path: the Control UI is at /",
               json_pack("{s:s}", "basePath", configured));
        ui->base[0] = '\0';
    }
    cg_gateway_set_data(gw, &control_ui_key, ui);
    char path[BASE_MAX + 64];
    unsigned all = CG_HTTP_GET | CG_HTTP_POST | CG_HTTP_PUT | CG_HTTP_DELETE | CG_HTTP_PATCH;
    bool ok = true;
    snprintf(path, sizeof path, "%s/", ui->base);
    cg_http_route_spec files = {.path = path,
                                .prefix = true,
                                .methods = all,
                                .handler = serve_files,
                                .enabled = enabled,
                                .data = ui};
    ok &= cg_gateway_add_http_route(gw, &files) == 0;
    static const char *const config_paths[] = {"/control-ui-config.json",
                                               "/__openclaw/control-ui-config.json"};
    for (size_t i = 0; i < sizeof config_paths / sizeof config_paths[0]; i++) {
        snprintf(path, sizeof path, "%s%s", ui->base, config_paths[i]);
        cg_http_route_spec config = {.path = path,
                                     .methods = CG_HTTP_GET,
                                     .auth = CG_HTTP_AUTH_GATEWAY,
                                     .handler = serve_config,
                                     .enabled = enabled,
                                     .data = ui};
        ok &= cg_gateway_add_http_route(gw, &config) == 0;
    }
    if (ui->base[0]) {
        cg_http_route_spec redirect = {.path = ui->base,
                                       .methods = CG_HTTP_GET,
                                       .handler = redirect_to_base,
                                       .enabled = enabled,
                                       .data = ui};
        ok &= cg_gateway_add_http_route(gw, &redirect) == 0;
    }
    if (!ok) cg_log(CG_LOG_ERROR, "control-ui", "cannot register the Control UI's routes", NULL);
}
