/* A Chromium browser process driven over the DevTools protocol on a pipe.
 *
 * cg_cdp_launch starts Chromium with `--remote-debugging-pipe`: it reads commands on its
 * fd 3 and writes answers and events on its fd 4, each message one JSON text ended by a
 * NUL byte. No WebSocket, no port: the pipes are libuv pipes on the gateway's loop.
 *
 * Commands (cg_cdp_send) get a fresh id; the reply callback runs exactly once: with the
 * result, the protocol error, CG_CDP_TIMEOUT when timeout_ms passes first, or CG_CDP_GONE
 * when the browser exits (every pending command fails at once then) — unless the caller
 * forgets the command first (cg_cdp_forget). Commands to a page go to its flattened
 * session (session_id from Target.attachToTarget {flatten: true}). Events go to the
 * event callback given at creation.
 *
 * Bounds: a message from the browser may be at most CG_CDP_MAX_MESSAGE bytes (a full-page
 * screenshot in base64 is the big one); a longer one kills the browser. At most
 * CG_CDP_MAX_PENDING commands wait for answers; bytes queued to the browser are capped.
 *
 * The browser runs in its own process group (so stopping it takes its renderers along)
 * and is reaped when it exits, however that happens; the exit callback says how. Each
 * launch has its own handles, so a new launch may follow an exit at once. */
#ifndef CG_BROWSER_CDP_H
#define CG_BROWSER_CDP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CG_CDP_MAX_MESSAGE ((size_t)64 * 1024 * 1024)
#define CG_CDP_MAX_PENDING 1024
#define CG_CDP_MAX_QUEUED ((size_t)16 * 1024 * 1024)

typedef struct cg_cdp cg_cdp;

typedef enum {
    CG_CDP_OK,
    CG_CDP_ERROR,   /* the browser answered with a protocol error */
    CG_CDP_TIMEOUT, /* no answer within the command's timeout */
    CG_CDP_GONE,    /* the browser is not running, or exited before answering */
} cg_cdp_status;

/* result: the command's `result` (borrowed) when ok; error: a message otherwise. */
typedef void (*cg_cdp_reply_fn)(cg_cdp_status status, const json_t *result, const char *error,
                                void *data);
/* An event: method, params (borrowed), session_id (NULL for the browser's own). */
typedef void (*cg_cdp_event_fn)(const char *method, const json_t *params, const char *session_id,
                                void *data);
/* The browser exited: a description ("exited with status 1", "killed by signal 9"). */
typedef void (*cg_cdp_exit_fn)(const char *how, void *data);

typedef struct cg_cdp_launch_opts {
    const char *executable;    /* /usr/bin/chromium */
    const char *user_data_dir; /* its profile; created if missing */
    bool headless;
    bool no_sandbox; /* needed as root */
} cg_cdp_launch_opts;

cg_cdp *cg_cdp_new(uv_loop_t *loop, cg_cdp_event_fn on_event, cg_cdp_exit_fn on_exit, void *data);
/* Kills a running browser, fails its pending commands (CG_CDP_GONE) and frees the object;
 * handles still closing free themselves later. on_exit is not called. */
void cg_cdp_free(cg_cdp *cdp);

/* Starts the browser. 0, or -1 with a message in err (no executable, spawn failed). */
int cg_cdp_launch(cg_cdp *cdp, const cg_cdp_launch_opts *opts, char *err, size_t errlen);
bool cg_cdp_running(const cg_cdp *cdp);
/* Whether the running browser has answered a command yet. */
bool cg_cdp_ready(const cg_cdp *cdp);
/* The browser's pid, or 0 when it does not run. */
int cg_cdp_pid(const cg_cdp *cdp);
/* Asks the browser to exit (SIGTERM to its group; SIGKILL after a grace period). */
void cg_cdp_stop(cg_cdp *cdp);

/* Sends method(params) (params consumed; NULL for {}) to the browser, or to session_id's
 * page. Returns the command id; reply runs later, never during this call (a browser that
 * does not run fails it on the next loop turn). */
uint64_t cg_cdp_send(cg_cdp *cdp, const char *method, json_t *params, const char *session_id,
                     uint64_t timeout_ms, cg_cdp_reply_fn reply, void *data);
/* Drops a pending command's callback: its answer, if any comes, is ignored. */
void cg_cdp_forget(cg_cdp *cdp, uint64_t id);

#endif
