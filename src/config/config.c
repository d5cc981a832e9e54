/* The config store: one file, what it holds, and the settings running from it.
 *
 * Three layers, each replaced as a whole:
 *   file      exists / raw bytes / "sha256:<hex>" of those bytes / parsed document (NULL
 *             when the bytes are not a JSON object). Always what is on disk as of the last
 *             load, reload or write, valid or not: config.get shows it and patches and
 *             hash checks apply to it.
 *   validity  valid + issues of that file.
 *   settings  the last good cg_settings. An invalid file never replaces them, nor do
 *             equal ones. The previous generation is kept until the next swap, so the
 *             gateway can compare old and new after being told of a change.
 * config.get's payload is built (and serialized once) whenever the file or its validity
 * changes, so answering config.get costs a pointer read.
 *
 * Secrets are those of the schema (see schema.c); parse errors never quote the input.
 *
 * Writes never trust the cached file: they re-read it and refuse with
 * CONFIG_HASH_MISMATCH unless the disk still holds what the caller's baseHash names and
 * what we last saw. Reloads compare bytes, so our own writes read back as "no change". */
#include <errno.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config_internal.h"

#define CONFIG_FILE_MAX_BYTES (16u * 1024 * 1024)
#define CONFIG_FILE_MODE 0600
#define GENERATED_TOKEN_BYTES 24
#define HASH_TEXT_LEN (7 + 64 + 1) /* "sha256:" + hex + NUL */

struct cg_config {
    char *state_dir;
    char *path;
    /* Flags, copied: ov's strings point into the owned_* fields. */
    cg_overrides ov;
    char *owned_bind, *owned_auth_mode, *owned_token, *owned_password;

    bool exists;
    char *raw; /* NULL when the file does not exist */
    size_t raw_len;
    char hash[HASH_TEXT_LEN];
    json_t *doc; /* parsed file; {} when missing; NULL when not a JSON object */

    bool valid;
    json_t *issues;

    cg_settings *settings;
    cg_settings *retired_settings;
    bool listener_changed;

    json_t *get_result;
    char *get_result_json;
    size_t get_result_json_len;
};

static char *expand_home(const char *path)
{
    if (path[0] != '~' || (path[1] && path[1] != '/')) return cg_strdup(path);
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : "/";
    }
    cg_buf out = {0};
    cg_buf_appends(&out, home);
    cg_buf_appends(&out, path + 1);
    cg_buf_append(&out, "", 1);
    return out.data;
}

static const char *first_env(const char *a, const char *b)
{
    const char *value = getenv(a);
    if (value && *value) return value;
    value = getenv(b);
    return value && *value ? value : NULL;
}

cg_config *cg_config_new(const cg_overrides *ov, char *err, size_t errlen)
{
    const char *state =
        ov->state_dir ? ov->state_dir : first_env("CLAWGATE_STATE_DIR", "OPENCLAW_STATE_DIR");
    const char *path = ov->config_path ? ov->config_path
                                       : first_env("CLAWGATE_CONFIG_PATH", "OPENCLAW_CONFIG_PATH");
    cg_config *cfg = cg_xcalloc(1, sizeof *cfg);
    cfg->state_dir = expand_home(state ? state : "~/.clawgate");
    if (path) {
        cfg->path = expand_home(path);
    } else {
        cg_buf joined = {0};
        cg_buf_appends(&joined, cfg->state_dir);
        cg_buf_appends(&joined, "/clawgate.json");
        cg_buf_append(&joined, "", 1);
        cfg->path = joined.data;
    }
    int rc = cg_mkdir_p(cfg->state_dir, 0700);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create state dir %s: %s", cfg->state_dir, strerror(-rc));
        cg_config_free(cfg);
        return NULL;
    }
    cfg->ov.state_dir = cfg->state_dir;
    cfg->ov.config_path = cfg->path;
    cfg->ov.port = ov->port;
    cfg->ov.bind = cfg->owned_bind = cg_strdup(ov->bind);
    cfg->ov.auth_mode = cfg->owned_auth_mode = cg_strdup(ov->auth_mode);
    cfg->ov.token = cfg->owned_token = cg_strdup(ov->token);
    cfg->ov.password = cfg->owned_password = cg_strdup(ov->password);
    cfg->doc = json_object();
    cfg->valid = true;
    cfg->issues = json_array();
    return cfg;
}

void cg_config_free(cg_config *cfg)
{
    if (!cfg) return;
    free(cfg->state_dir);
    free(cfg->path);
    free(cfg->owned_bind);
    free(cfg->owned_auth_mode);
    free(cfg->owned_token);
    free(cfg->owned_password);
    free(cfg->raw);
    json_decref(cfg->doc);
    json_decref(cfg->issues);
    cg_settings_free(cfg->settings);
    cg_settings_free(cfg->retired_settings);
    json_decref(cfg->get_result);
    free(cfg->get_result_json);
    free(cfg);
}

const cg_settings *cg_config_settings(const cg_config *cfg)
{
    return cfg->settings;
}

const char *cg_config_state_dir(const cg_config *cfg)
{
    return cfg->state_dir;
}

const char *cg_config_path(const cg_config *cfg)
{
    return cfg->path;
}

bool cg_config_valid(const cg_config *cfg)
{
    return cfg->valid;
}

bool cg_config_listener_changed(const cg_config *cfg)
{
    return cfg->listener_changed;
}

json_t *cg_config_get_result(const cg_config *cfg)
{
    return json_deep_copy(cfg->get_result);
}

const char *cg_config_get_result_json(const cg_config *cfg, size_t *len)
{
    *len = cfg->get_result_json_len;
    return cfg->get_result_json;
}

static void hash_bytes(const char *data, size_t len, char out[HASH_TEXT_LEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL) != 1) abort();
    memcpy(out, "sha256:", 7);
    for (unsigned int i = 0; i < digest_len; i++) {
        out[7 + 2 * i] = hex[digest[i] >> 4];
        out[8 + 2 * i] = hex[digest[i] & 15];
    }
    out[7 + 2 * digest_len] = 0;
}

static const char *json_error_description(const json_error_t *error)
{
    switch (json_error_code(error)) {
    case json_error_out_of_memory:
        return "out of memory";
    case json_error_stack_overflow:
        return "nested too deeply";
    case json_error_invalid_utf8:
        return "invalid UTF-8";
    case json_error_premature_end_of_input:
        return "unexpected end of input";
    case json_error_end_of_input_expected:
        return "unexpected text after the document";
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "NUL character";
    case json_error_duplicate_key:
        return "duplicate object key";
    case json_error_numeric_overflow:
        return "number out of range";
    default:
        return "invalid syntax";
    }
}

json_t *cg_config_parse(const char *text, size_t len, json_t *issues)
{
    json_error_t error;
    memset(&error, 0, sizeof error);
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (!doc) {
        /* jansson's own text quotes the input near the error, which may be a secret. */
        cg_config_issue_add(issues, "", "not valid JSON (line %d, column %d): %s", error.line,
                            error.column, json_error_description(&error));
        return NULL;
    }
    if (!json_is_object(doc)) {
        cg_config_issue_add(issues, "", "the configuration must be a JSON object");
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Validates doc with the current flags and environment. Returns settings, or NULL with
 * issues. A token-mode configuration without any token is an issue here (only the first
 * load generates one). */
static cg_settings *evaluate(const cg_config *cfg, const json_t *doc, bool token_required,
                             json_t *issues)
{
    json_t *resolved = cg_config_resolve(doc, issues);
    cg_settings *settings = NULL;
    if (json_array_size(issues) == 0) settings = cg_settings_build(resolved, &cfg->ov, issues);
    json_decref(resolved);
    if (settings && token_required && settings->auth_mode == CG_AUTH_TOKEN && !settings->token) {
        cg_config_issue_add(issues, "gateway.auth.token",
                            "is required when gateway.auth.mode is token (or set "
                            "CLAWGATE_GATEWAY_TOKEN)");
        cg_settings_free(settings);
        settings = NULL;
    }
    return settings;
}

static void format_issue(const json_t *issues, char *out, size_t outlen)
{
    const json_t *first = json_array_get(issues, 0);
    const char *path = json_string_value(json_object_get(first, "path"));
    const char *message = json_string_value(json_object_get(first, "message"));
    size_t more = json_array_size(issues) - 1;
    int n = snprintf(out, outlen, "%s%s%s", path && *path ? path : "", path && *path ? ": " : "",
                     message ? message : "invalid");
    if (more && n >= 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, " (and %zu more)", more);
}

static void rebuild_get_result(cg_config *cfg)
{
    json_t *raw = json_null(), *config;
    if (cfg->doc) {
        size_t redacted;
        config = cg_config_redact_counted(cfg->doc, &redacted);
        if (cfg->exists && redacted) {
            char *text = json_dumps(config, JSON_INDENT(2));
            raw = json_string(text);
            free(text);
        } else if (cfg->exists) {
            raw = json_stringn(cfg->raw, cfg->raw_len);
        }
    } else {
        config = json_object(); /* unparsable: the text may hold secrets we cannot find */
    }
    json_decref(cfg->get_result);
    cfg->get_result = json_pack("{s:s, s:b, s:o, s:o, s:o, s:b, s:O}", "path", cfg->path, "exists",
                                cfg->exists, "raw", raw, "config", config, "hash",
                                cfg->exists ? json_string(cfg->hash) : json_null(), "valid",
                                cfg->valid, "issues", cfg->issues);
    free(cfg->get_result_json);
    cfg->get_result_json = json_dumps(cfg->get_result, JSON_COMPACT);
    cfg->get_result_json_len = strlen(cfg->get_result_json);
}

/* Replaces the file layer. Takes ownership of raw (NULL: no file) and doc. */
static void set_file_state(cg_config *cfg, char *raw, size_t raw_len, json_t *doc)
{
    free(cfg->raw);
    json_decref(cfg->doc);
    cfg->exists = raw != NULL;
    cfg->raw = raw;
    cfg->raw_len = raw_len;
    cfg->doc = doc;
    if (raw)
        hash_bytes(raw, raw_len, cfg->hash);
    else
        cfg->hash[0] = 0;
}

static void set_validity(cg_config *cfg, json_t *issues)
{
    json_decref(cfg->issues);
    cfg->issues = json_incref(issues);
    cfg->valid = json_array_size(issues) == 0;
}

/* Makes settings the running ones; returns whether anything in them changed. Equal
 * settings keep the running object, so a pointer held by the gateway stays the current
 * one until a change it is told about. */
static bool install_settings(cg_config *cfg, cg_settings *settings)
{
    if (cfg->settings && cg_settings_equal(cfg->settings, settings)) {
        cg_settings_free(settings);
        cfg->listener_changed = false;
        return false;
    }
    cfg->listener_changed = cfg->settings && !cg_settings_listener_equal(cfg->settings, settings);
    cg_settings_free(cfg->retired_settings);
    cfg->retired_settings = cfg->settings;
    cfg->settings = settings;
    return true;
}

/* Reads the file: 0 (with *raw NULL when it does not exist) or -errno. */
static int read_config_file(const cg_config *cfg, char **raw, size_t *len)
{
    *raw = NULL;
    *len = 0;
    int rc = cg_read_file(cfg->path, CONFIG_FILE_MAX_BYTES, raw, len);
    return rc == -ENOENT ? 0 : rc;
}

static bool same_as_cached(const cg_config *cfg, const char *raw, size_t len)
{
    if (!raw || !cfg->exists) return !raw && !cfg->exists;
    return len == cfg->raw_len && !memcmp(raw, cfg->raw, len);
}

static char *serialize_document(const json_t *doc, size_t *len)
{
    char *text = json_dumps(doc, JSON_INDENT(2));
    *len = strlen(text);
    char *with_newline = cg_xrealloc(text, *len + 2);
    with_newline[(*len)++] = '\n';
    with_newline[*len] = 0;
    return with_newline;
}

static int save_file(cg_config *cfg, const char *data, size_t len)
{
    return cg_write_file_atomic(cfg->path, data, len, CONFIG_FILE_MODE);
}

/* Puts a generated token into doc at gateway.auth.token. */
static void set_generated_token(json_t *doc, const char *token)
{
    json_t *gateway = json_object_get(doc, "gateway");
    if (!gateway) json_object_set_new(doc, "gateway", gateway = json_object());
    json_t *auth = json_object_get(gateway, "auth");
    if (!auth) json_object_set_new(gateway, "auth", auth = json_object());
    json_object_set_new(auth, "token", json_string(token));
}

int cg_config_load(cg_config *cfg, char **generated_token, char *err, size_t errlen)
{
    if (generated_token) *generated_token = NULL;
    char *raw;
    size_t len;
    int rc = read_config_file(cfg, &raw, &len);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read %s: %s", cfg->path, strerror(-rc));
        return -1;
    }
    json_t *issues = json_array();
    json_t *doc = raw ? cg_config_parse(raw, len, issues) : json_object();
    set_file_state(cfg, raw, len, doc);
    cg_settings *settings = doc ? evaluate(cfg, doc, false, issues) : NULL;
    if (settings && settings->auth_mode == CG_AUTH_TOKEN && !settings->token) {
        char token[2 * GENERATED_TOKEN_BYTES + 1];
        cg_random_hex(token, GENERATED_TOKEN_BYTES);
        json_t *with_token = json_deep_copy(doc);
        set_generated_token(with_token, token);
        size_t text_len;
        char *text = serialize_document(with_token, &text_len);
        rc = save_file(cfg, text, text_len);
        if (rc < 0) {
            snprintf(err, errlen, "cannot save the generated token to %s: %s", cfg->path,
                     strerror(-rc));
            free(text);
            json_decref(with_token);
            cg_settings_free(settings);
            json_decref(issues);
            return -1;
        }
        set_file_state(cfg, text, text_len, with_token);
        cg_settings_free(settings);
        settings = evaluate(cfg, with_token, true, issues);
        if (generated_token) *generated_token = cg_strdup(token);
        cg_log(CG_LOG_INFO, "config", "generated gateway.auth.token",
               json_pack("{s:s}", "path", cfg->path));
    }
    set_validity(cfg, issues);
    rebuild_get_result(cfg);
    if (!settings) {
        char what[400];
        format_issue(issues, what, sizeof what);
        snprintf(err, errlen, "invalid config %s: %s", cfg->path, what);
        cg_log(CG_LOG_ERROR, "config", "invalid config",
               json_pack("{s:s, s:O}", "path", cfg->path, "issues", issues));
        json_decref(issues);
        return -1;
    }
    json_decref(issues);
    install_settings(cfg, settings);
    cfg->listener_changed = false;
    cg_log(CG_LOG_INFO, "config", "config loaded",
           json_pack("{s:s, s:b, s:s?}", "path", cfg->path, "exists", cfg->exists, "hash",
                     cfg->exists ? cfg->hash : NULL));
    return 0;
}

int cg_config_reload(cg_config *cfg)
{
    char *raw;
    size_t len;
    json_t *issues = json_array();
    int rc = read_config_file(cfg, &raw, &len);
    if (rc == 0 && same_as_cached(cfg, raw, len)) {
        free(raw);
        json_decref(issues);
        return cfg->valid ? 0 : -1;
    }
    cg_settings *settings = NULL;
    if (rc < 0) {
        cg_config_issue_add(issues, "", "cannot read %s: %s", cfg->path, strerror(-rc));
    } else {
        json_t *doc = raw ? cg_config_parse(raw, len, issues) : json_object();
        set_file_state(cfg, raw, len, doc);
        if (doc) settings = evaluate(cfg, doc, true, issues);
    }
    set_validity(cfg, issues);
    rebuild_get_result(cfg);
    if (!settings) {
        cg_log(CG_LOG_WARN, "config", "config reload refused: keeping the running settings",
               json_pack("{s:s, s:O}", "path", cfg->path, "issues", issues));
        json_decref(issues);
        return -1;
    }
    json_decref(issues);
    bool changed = install_settings(cfg, settings);
    cg_log(CG_LOG_INFO, "config", "config reloaded",
           json_pack("{s:s, s:s?, s:b, s:b}", "path", cfg->path, "hash",
                     cfg->exists ? cfg->hash : NULL, "settingsChanged", changed, "listenerChanged",
                     cfg->listener_changed));
    return changed ? 1 : 0;
}

static const char *kind_name(cg_config_write_kind kind)
{
    return kind == CG_CONFIG_SET     ? "config.set"
           : kind == CG_CONFIG_PATCH ? "config.patch"
                                     : "config.apply";
}

static json_t *refusal(cg_config_write_kind kind, const char *code, const char *message,
                       json_t *details)
{
    cg_log(CG_LOG_WARN, "config", "config write refused",
           json_pack("{s:s, s:s, s:O?}", "method", kind_name(kind), "reason", message, "details",
                     details));
    json_t *error = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (details) json_object_set_new(error, "details", details);
    return error;
}

static json_t *hash_refusal(cg_config_write_kind kind, const char *message)
{
    return refusal(kind, "INVALID_REQUEST", message,
                   json_pack("{s:s}", "code", "CONFIG_HASH_MISMATCH"));
}

static json_t *invalid_config_refusal(cg_config_write_kind kind, json_t *issues)
{
    char what[400], message[480];
    format_issue(issues, what, sizeof what);
    snprintf(message, sizeof message, "invalid config: %s", what);
    return refusal(kind, "INVALID_REQUEST", message,
                   json_pack("{s:s, s:O}", "code", "INVALID_CONFIG", "issues", issues));
}

/* Checks that the disk still holds what we last saw and what the caller based its edit
 * on. Returns NULL or the refusal. */
static json_t *check_base(const cg_config *cfg, cg_config_write_kind kind, const char *base_hash)
{
    char *raw;
    size_t len;
    int rc = read_config_file(cfg, &raw, &len);
    bool unchanged = rc == 0 && same_as_cached(cfg, raw, len);
    free(raw);
    if (rc < 0) {
        char message[300];
        snprintf(message, sizeof message, "cannot read %s: %s", cfg->path, strerror(-rc));
        return refusal(kind, "UNAVAILABLE", message, NULL);
    }
    if (!unchanged)
        return hash_refusal(kind, "config changed since last load; re-run config.get and retry");
    if (!cfg->exists) return NULL;
    if (!base_hash || !*base_hash)
        return hash_refusal(kind, "config base hash required; re-run config.get and retry");
    if (strcmp(base_hash, cfg->hash))
        return hash_refusal(kind, "config changed since last load; re-run config.get and retry");
    return NULL;
}

/* The changed keys that need a listener restart: port, bind, customBindHost, tls.*. */
static json_t *restart_required(const json_t *changed)
{
    json_t *out = json_array();
    size_t i;
    const json_t *path;
    json_array_foreach(changed, i, path)
    {
        const char *p = json_string_value(path);
        if (!strcmp(p, "gateway.port") || !strcmp(p, "gateway.bind") ||
            !strcmp(p, "gateway.customBindHost") || !strncmp(p, "gateway.tls.", 12))
            json_array_append(out, (json_t *)path);
    }
    return out;
}

static json_t *write_payload(const cg_config *cfg, cg_config_write_kind kind, const json_t *changed,
                             bool noop)
{
    json_t *payload = json_pack("{s:b, s:s, s:s?, s:o, s:o}", "ok", 1, "path", cfg->path, "hash",
                                cfg->exists ? cfg->hash : NULL, "config",
                                cg_config_redact(cfg->doc), "restartRequired",
                                kind == CG_CONFIG_APPLY ? json_array() : restart_required(changed));
    if (kind == CG_CONFIG_PATCH) json_object_set(payload, "changedPaths", (json_t *)changed);
    if (noop) json_object_set_new(payload, "noop", json_true());
    return payload;
}

/* The document a write would leave on disk, or NULL with *error set. */
static json_t *proposed_document(const cg_config *cfg, cg_config_write_kind kind, const char *raw,
                                 json_t *issues, size_t *restored, json_t **error)
{
    json_t *incoming = cg_config_parse(raw, strlen(raw), issues);
    if (!incoming) {
        *error = invalid_config_refusal(kind, issues);
        return NULL;
    }
    json_t *merged = incoming;
    if (kind == CG_CONFIG_PATCH) {
        if (!cfg->doc) {
            json_decref(incoming);
            *error = refusal(kind, "INVALID_REQUEST",
                             "the config file is not a JSON object and cannot be patched; use "
                             "config.set",
                             NULL);
            return NULL;
        }
        merged = cg_json_merge_patch(cfg->doc, incoming);
        json_decref(incoming);
    }
    json_t *doc = cg_config_restore_redacted(merged, cfg->doc, issues, restored);
    json_decref(merged);
    if (json_array_size(issues)) {
        *error = invalid_config_refusal(kind, issues);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int cg_config_write(cg_config *cfg, cg_config_write_kind kind, const char *raw,
                    const char *base_hash, cg_config_write_result *out, json_t **error)
{
    *out = (cg_config_write_result){0};
    *error = check_base(cfg, kind, base_hash);
    if (*error) return -1;

    json_t *issues = json_array();
    size_t restored = 0;
    json_t *doc = proposed_document(cfg, kind, raw, issues, &restored, error);
    cg_settings *settings = doc ? evaluate(cfg, doc, true, issues) : NULL;
    if (doc && !settings) *error = invalid_config_refusal(kind, issues);
    json_decref(issues);
    if (!settings) {
        json_decref(doc);
        return -1;
    }

    json_t *changed = json_array();
    cg_json_changed_paths(cfg->doc, doc, "", changed);
    if (kind == CG_CONFIG_PATCH && json_array_size(changed) == 0) {
        cg_settings_free(settings);
        json_decref(doc);
        out->payload = write_payload(cfg, kind, changed, true);
        json_decref(changed);
        cg_log(CG_LOG_INFO, "config", "config patch changes nothing; not written",
               json_pack("{s:s}", "path", cfg->path));
        return 0;
    }

    size_t len;
    char *text;
    if (kind == CG_CONFIG_PATCH || restored) {
        text = serialize_document(doc, &len);
    } else {
        len = strlen(raw);
        text = cg_xmalloc(len + 1);
        memcpy(text, raw, len + 1);
    }
    int rc = save_file(cfg, text, len);
    if (rc < 0) {
        char message[300];
        snprintf(message, sizeof message, "cannot write %s: %s", cfg->path, strerror(-rc));
        *error = refusal(kind, "UNAVAILABLE", message, NULL);
        free(text);
        json_decref(doc);
        json_decref(changed);
        cg_settings_free(settings);
        return -1;
    }
    set_file_state(cfg, text, len, doc);
    json_t *no_issues = json_array();
    set_validity(cfg, no_issues);
    json_decref(no_issues);
    out->settings_changed = install_settings(cfg, settings);
    out->listener_changed = cfg->listener_changed;
    rebuild_get_result(cfg);
    out->payload = write_payload(cfg, kind, changed, false);
    cg_log(CG_LOG_INFO, "config", "config written",
           json_pack("{s:s, s:s, s:s, s:O, s:b, s:b}", "method", kind_name(kind), "path", cfg->path,
                     "hash", cfg->hash, "changedPaths", changed, "settingsChanged",
                     out->settings_changed, "listenerChanged", out->listener_changed));
    json_decref(changed);
    return 0;
}
