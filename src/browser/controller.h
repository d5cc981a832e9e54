/* The browser controller: OpenClaw's browser control routes answered by a Chromium that
 * clawgate drives itself (src/browser/cdp.h).
 *
 * A request is a route call: method + path + query + body, answered once through done
 * with an HTTP-like status and a JSON body, as OpenClaw's browser control server answers
 * (2xx: the route's result; 4xx/5xx: {error, code?}). Routes:
 *   GET  /                 status {enabled, running, cdpReady, pid, profile, userDataDir, ...}
 *   POST /start, /stop     launch (waits until the browser answers) / stop it
 *   GET  /tabs             {running, tabs: [{targetId, title, url, type}]}
 *   POST /tabs/open {url}  a new tab, loaded: {targetId, title, url, type}
 *                          (urls: http, https, about:blank; hosts as url_policy.h says)
 *   POST /tabs/focus {targetId}, DELETE /tabs/<targetId>   {ok, targetId}
 *   POST /navigate {url, targetId?}   {ok, targetId, url, title} once loaded
 *   POST /screenshot {targetId?, fullPage?, type?, includeBase64?}
 *                          {ok, path, targetId, url, type, bytes, base64?}: the image
 *                          is written under <state>/browser/screenshots
 *   GET  /snapshot?targetId=&maxChars=   {ok, format: "ai", targetId, url, title,
 *                          snapshot, refs: {e1: {role, name}}, truncated}
 *   POST /act {kind: click|type|press|evaluate, ref?, selector?, text?, submit?, key?,
 *              fn?, targetId?}   {ok, targetId, url, result?}
 * Routes that need the browser launch it on first use; it stops after idle_ms without
 * calls. A route without targetId uses the tab last opened, focused or navigated, else
 * the first page tab, else a new one.
 *
 * Every call has a deadline (timeout_ms): past it the call ends 504 {code: "TIMEOUT"};
 * an evaluate still running in the page is terminated (Runtime.terminateExecution), so a
 * page stuck in `while (true) {}` is usable again. Calls run concurrently: one tab's hang
 * never holds another call. The browser dying ends its calls 503 and the next call
 * launches a new one. All on the loop thread; files are written on the thread pool. */
#ifndef CG_BROWSER_CONTROLLER_H
#define CG_BROWSER_CONTROLLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define CG_BROWSER_DEFAULT_IDLE_MS (5 * 60 * 1000)
#define CG_BROWSER_MAX_CALLS 256
#define CG_BROWSER_MAX_EVAL_RESULT (1024 * 1024)

typedef struct cg_browser cg_browser;
typedef struct cg_browser_call cg_browser_call;

typedef struct cg_browser_options {
    const char *executable; /* the Chromium binary */
    const char *state_dir;  /* the profile goes under <state_dir>/browser */
    bool headless;
    bool no_sandbox;
    bool evaluate_enabled;          /* act kind evaluate allowed */
    uint64_t idle_ms;               /* stop after this long without calls; 0: never */
    bool allow_private_network;     /* browser.ssrfPolicy: see url_policy.h */
    char *const *allowed_hostnames; /* copied */
    size_t allowed_hostnames_len;
} cg_browser_options;

/* status: 200, 400, 403, 404, 409, 503, 504; body consumed by the callee (a new ref). */
typedef void (*cg_browser_done)(int status, json_t *body, void *data);

cg_browser *cg_browser_new(uv_loop_t *loop, const cg_browser_options *opts);
/* Ends every call (503, "browser controller stopped"), stops the browser, frees. */
void cg_browser_free(cg_browser *b);
/* New options (a config reload); a running browser keeps the ones it started with. */
void cg_browser_set_options(cg_browser *b, const cg_browser_options *opts);

/* Starts a route call; done runs exactly once, never during this call, unless the
 * call is cancelled first. query: object or NULL; body: any or NULL (both borrowed). */
cg_browser_call *cg_browser_request(cg_browser *b, const char *method, const char *path,
                                    const json_t *query, const json_t *body, uint64_t timeout_ms,
                                    cg_browser_done done, void *data);
/* Forgets a call (its requester went away): done is never called. */
void cg_browser_call_cancel(cg_browser_call *call);

#endif
