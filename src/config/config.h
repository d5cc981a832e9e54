/* Configuration: DIR/clawgate.json, OpenClaw's key names, plain JSON.
 *
 * The store owns the document as written on disk (`raw`), its parsed form, and the
 * effective settings derived from document + environment + command line
 * (flag > environment > file > default). Keys clawgate knows are validated strictly
 * against the schema config.schema serves (cg_config_schema()); unknown keys pass through
 * untouched. "${VAR}" in string values is replaced from the environment when settings are
 * derived, never in what is written back.
 *
 * The loop never waits for the disk: writes (config.set / patch / apply) and reloads run
 * on libuv's thread pool, one at a time in the order they were asked for, and are
 * installed on the loop when they complete. A write checks its baseHash against the
 * state it finds when its turn comes, writes atomically (temp file in the same dir,
 * fsync, rename, fsync of the dir) and leaves the file byte-for-byte unchanged when it
 * is refused. Only the first load at start (and cg_config_read, for clients) reads
 * synchronously.
 *
 * Secrets (the paths config.schema's uiHints mark sensitive, and members named apiKey,
 * botToken, secret or password) are redacted to "__OPENCLAW_REDACTED__" in everything
 * sent to clients, and a write that sends the placeholder back keeps the stored secret. */
#ifndef CG_CONFIG_CONFIG_H
#define CG_CONFIG_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define CG_REDACTED "__OPENCLAW_REDACTED__"
#define CG_DEFAULT_PORT 18789

typedef enum { CG_AUTH_NONE, CG_AUTH_TOKEN, CG_AUTH_PASSWORD } cg_auth_mode;

typedef enum {
    CG_BIND_LOOPBACK, /* "loopback", "auto" */
    CG_BIND_ALL,      /* "lan", "all" */
    CG_BIND_CUSTOM,   /* "custom" + gateway.customBindHost */
    CG_BIND_TAILNET,  /* the host's 100.64.0.0/10 address plus loopback */
} cg_bind_mode;

typedef enum {
    CG_TAILSCALE_OFF,
    CG_TAILSCALE_SERVE,  /* `tailscale serve`: the tailnet reaches the gateway */
    CG_TAILSCALE_FUNNEL, /* `tailscale funnel`: the public internet does (password only) */
} cg_tailscale_mode;

typedef struct cg_limits {
    int64_t max_payload_bytes;    /* 26214400 */
    int64_t max_buffered_bytes;   /* 52428800 */
    int64_t preauth_max_bytes;    /* 65536 */
    int64_t handshake_timeout_ms; /* 15000 */
    int64_t max_preauth_per_ip;   /* 64 */
    int64_t json_budget_bytes;    /* 134217728 */
    int64_t http_body_bytes;      /* 20971520 */
    int64_t max_connections;      /* 10000 */
} cg_limits;

typedef struct cg_rate_limit {
    int64_t max_attempts; /* 10 */
    int64_t window_ms;    /* 60000 */
    int64_t lockout_ms;   /* 300000 */
    bool exempt_loopback; /* true */
} cg_rate_limit;

/* Effective settings. Immutable once built: a reload builds a new one and swaps it, so a
 * connection may keep a pointer for the duration of one callback. Strings are owned. */
typedef struct cg_settings {
    int port;
    cg_bind_mode bind;
    char *bind_name;        /* as configured: "loopback", "lan", ... */
    char *custom_bind_host; /* NULL unless set */
    cg_auth_mode auth_mode;
    char *token;          /* NULL when unset */
    char *password;       /* NULL when unset */
    bool local_bypass;    /* gateway.auth.localBypass, default true */
    bool allow_tailscale; /* gateway.auth.allowTailscale (default: serve, not password) */
    cg_tailscale_mode tailscale_mode; /* gateway.tailscale.mode */
    bool auto_approve_local;          /* gateway.nodes.pairing.autoApproveLocal, default true */
    bool http_chat_completions;       /* gateway.http.endpoints.chatCompletions.enabled, false */
    char **node_commands_allow;       /* gateway.nodes.commands.allow: node commands opted in */
    size_t node_commands_allow_len;
    char **node_commands_deny; /* gateway.nodes.commands.deny: never relayed (wins) */
    size_t node_commands_deny_len;
    cg_rate_limit rate_limit;
    char **allowed_origins; /* gateway.controlUi.allowedOrigins */
    size_t allowed_origins_len;
    char *public_origin;    /* gateway.publicOrigin or NULL */
    char **trusted_proxies; /* gateway.trustedProxies: IPs or CIDRs */
    size_t trusted_proxies_len;
    bool tls_enabled;
    char *tls_cert_path; /* NULL: generated under DIR/tls/ */
    char *tls_key_path;
    cg_limits limits;
    int64_t tick_interval_ms;   /* 30000 */
    int64_t log_max_file_bytes; /* logging.maxFileBytes, 100 MB */
    /* The whole document these settings came from, "${VAR}" replaced (secrets in clear):
     * for the modules that read their own sections (models, agents). Immutable. A change
     * in those sections (settings.c module_sections) counts as a settings change. */
    json_t *doc;
} cg_settings;

/* Command-line flags and environment; NULL / 0 means "not given". */
typedef struct cg_overrides {
    const char
        *state_dir; /* --state-dir, else CLAWGATE_STATE_DIR, OPENCLAW_STATE_DIR, ~/.clawgate */
    const char *config_path; /* --config, else *_CONFIG_PATH, else <state>/clawgate.json */
    int port;                /* --port, else *_GATEWAY_PORT */
    const char *bind;        /* --bind */
    const char *auth_mode;   /* --auth */
    const char *token;       /* --token, else *_GATEWAY_TOKEN */
    const char *password;    /* --password, else *_GATEWAY_PASSWORD */
} cg_overrides;

typedef struct cg_config cg_config;

/* CLAWGATE_<suffix>, else OPENCLAW_<suffix> (e.g. "GATEWAY_TOKEN"); empty counts as unset. */
const char *cg_config_env(const char *suffix);

/* Resolves the state dir and config path (flags, then environment, then defaults) and
 * creates the state dir (0700). Returns NULL with a message in err on failure. */
cg_config *cg_config_new(const cg_overrides *ov, char *err, size_t errlen);
/* Frees the store. Writes and reloads in flight keep the loop alive: free after it ran. */
void cg_config_free(cg_config *cfg);

/* First load at start. A missing file is an empty document. Any problem (unparsable
 * JSON, a known key with a bad value, an unsupported OpenClaw value such as auth mode
 * "trusted-proxy", a non-loopback bind with auth none) is fatal: -1 with err naming the
 * key. With auth mode token and no token anywhere, generates one, saves it as
 * gateway.auth.token and sets *generated_token (caller prints it once, then frees). */
int cg_config_load(cg_config *cfg, char **generated_token, char *err, size_t errlen);

/* The settings a client of the gateway (`clawgate call`) needs, read the same way: like
 * cg_config_load, but nothing is written, no token is generated and nothing is logged.
 * 0, or -1 with err. */
int cg_config_read(cg_config *cfg, char *err, size_t errlen);

typedef void (*cg_config_reload_done)(cg_config *cfg, int result, void *data);
/* Re-reads the file on the thread pool (SIGHUP or a change seen by the watcher) and calls
 * done on the loop, after the new state is installed, with 1 when the settings changed,
 * 0 when nothing changed (including our own writes), -1 when the file is invalid: the
 * running settings stay, and valid:false + issues are kept for config.get and /readyz
 * until a valid file is read.
 * Reloads queue behind writes in flight. Triggers coalesce: while a reload is waiting
 * for its turn, another call joins it (returns 1; its done is not called, the waiting
 * reload reads the file after this call anyway). Otherwise returns 0 and done is called
 * exactly once, never before this returns. */
int cg_config_reload_async(cg_config *cfg, uv_loop_t *loop, cg_config_reload_done done, void *data);

const cg_settings *cg_config_settings(const cg_config *cfg);
/* Called after every swap of the running settings, whatever caused it (a reload, a
 * config.* write, a module's cg_config_patch_async): the previous settings stay valid
 * until the next swap, so a holder of the pointer must follow it here. One listener. */
typedef void (*cg_config_settings_fn)(cg_config *cfg, void *data);
void cg_config_on_settings_change(cg_config *cfg, cg_config_settings_fn fn, void *data);
/* Called after a file with other bytes than before is installed (a config.* write, a
 * module's patch, or a reload of a file changed by hand), whether or not the settings
 * changed. One listener. */
typedef void (*cg_config_file_fn)(cg_config *cfg, void *data);
void cg_config_on_file_change(cg_config *cfg, cg_config_file_fn fn, void *data);
const char *cg_config_state_dir(const cg_config *cfg);
const char *cg_config_path(const cg_config *cfg);
/* config.get's hash of the file the running settings came from ("sha256:<hex>"). */
const char *cg_config_hash(const cg_config *cfg);
bool cg_config_valid(const cg_config *cfg); /* false after an invalid reload */

/* config.get's payload: {path, exists, raw, config, hash, valid, issues}, redacted. hash is
 * always a string: "sha256:<hex>" of the file's bytes, of zero bytes when there is no
 * file. New ref. */
json_t *cg_config_get_result(const cg_config *cfg);
/* The same payload, serialized once per change of file or validity (for cg_req_ok_raw).
 * Borrowed: valid until the next load, reload or write is installed. */
const char *cg_config_get_result_json(const cg_config *cfg, size_t *len);
/* Whether the last settings swap (reload or write) changed port, bind, customBindHost or
 * TLS, i.e. whether a reload should re-bind the listener. */
bool cg_config_listener_changed(const cg_config *cfg);

typedef enum { CG_CONFIG_SET, CG_CONFIG_PATCH, CG_CONFIG_APPLY } cg_config_write_kind;

typedef struct cg_config_write_result {
    json_t *payload;       /* {ok, path, hash, config, restartRequired[, changedPaths][, noop]} */
    json_t *error;         /* a refusal: an ErrorShape (INVALID_REQUEST with details.code
                              CONFIG_HASH_MISMATCH or INVALID_CONFIG, UNAVAILABLE) */
    bool listener_changed; /* port, bind, customBindHost or tls.* changed */
    bool settings_changed; /* anything in cg_settings changed */
} cg_config_write_result;

/* done owns result->payload and result->error (exactly one is set). */
typedef void (*cg_config_write_done)(cg_config *cfg, cg_config_write_result *result, void *data);
/* Queues a write of a whole document (set, apply) or a merge patch (patch). When its turn
 * comes it is checked against the state and the disk as they are then: once the file
 * exists base_hash must name it (CONFIG_HASH_MISMATCH otherwise); before, it may be NULL
 * or the no-file hash. The document is validated and written on the thread pool; the
 * new state is installed on the loop, then done is called there (never before this
 * returns). raw and base_hash are copied. */
void cg_config_write_async(cg_config *cfg, uv_loop_t *loop, cg_config_write_kind kind,
                           const char *raw, const char *base_hash, cg_config_write_done done,
                           void *data);

/* A merge patch the gateway itself makes (agents.create, agents.update, ...): queued like
 * config.patch, validated and written the same way, but based on whatever version is
 * installed when its turn comes instead of a client's baseHash (a file someone else
 * edited and the gateway has not reloaded yet still refuses it). patch is serialized at
 * once (the caller keeps its reference). */
void cg_config_patch_async(cg_config *cfg, uv_loop_t *loop, const json_t *patch,
                           cg_config_write_done done, void *data);

/* The document as last loaded, reloaded or written: the parsed file ({} when there is
 * no file, NULL when the file is not a JSON object), "${VAR}" not substituted. Borrowed:
 * valid until the next load, reload or write is installed (do not keep it across loop
 * turns). After an invalid reload it is that invalid file's document. */
const json_t *cg_config_document(const cg_config *cfg);

/* A gate asked before a write touches the file, for changes that must be possible
 * first (config.apply moving the listener). Called on the loop with the settings the
 * write would install (borrowed until the gate passes); it answers exactly once, now or
 * later, with cg_config_gate_pass: NULL to go on, or a message, which refuses the write
 * with UNAVAILABLE <message> and leaves the file as it was. */
typedef struct cg_config_gate cg_config_gate;
typedef void (*cg_config_write_gate)(cg_config *cfg, const cg_settings *next, cg_config_gate *gate,
                                     void *data);
void cg_config_gate_pass(cg_config_gate *gate, const char *refusal);
/* cg_config_write_async with a gate between validating and writing. */
void cg_config_write_gated_async(cg_config *cfg, uv_loop_t *loop, cg_config_write_kind kind,
                                 const char *raw, const char *base_hash, cg_config_write_gate gate,
                                 cg_config_write_done done, void *data);

/* config.schema's payload (ConfigSchemaResponse). New ref. */
json_t *cg_config_schema(void);

/* Helpers, exposed for tests. */
json_t *cg_json_merge_patch(const json_t *target, const json_t *patch); /* RFC 7396, new ref */
json_t *cg_config_redact(const json_t *doc); /* a copy, secrets redacted */

#endif
