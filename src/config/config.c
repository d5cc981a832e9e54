/* The config store: one file, what it holds, and the settings running from it.
 *
 * Three layers, each replaced as a whole:
 *   file      a cg_config_file version: exists / raw bytes / "sha256:<hex>" of those
 *             bytes (of zero bytes when there is no file) / parsed document (NULL when
 *             the bytes are not a JSON object). Always what is on disk as of the last
 *             load, reload or write, valid or not: config.get shows it and patches and
 *             hash checks apply to it. Versions are immutable and counted, so a job on
 *             the thread pool can read the one it started from while the loop goes on.
 *   validity  valid + issues of that file.
 *   settings  the last good cg_settings. An invalid file never replaces them, nor do
 *             equal ones. The previous generation is kept until the next swap, so the
 *             gateway can compare old and new after being told of a change.
 * config.get's payload (the view) is built and serialized whenever the file or its
 * validity changes, by whoever prepared the change (a thread-pool job, mostly), so
 * answering config.get costs a pointer read.
 *
 * Reloads compare bytes, so our own writes read back as "no change". The preparing
 * halves of reloads and writes (cg_config_prepare_*) touch no store state; the loop
 * installs what they made (cg_config_install). */
#include <errno.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config_internal.h"

#define CONFIG_FILE_MODE 0600
#define GENERATED_TOKEN_BYTES 24

const char *cg_config_env(const char *suffix)
{
    static const char *const prefixes[] = {"CLAWGATE_", "OPENCLAW_"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefixes[i], suffix);
        const char *value = getenv(name);
        if (value && *value) return value;
    }
    return NULL;
}

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

static void hash_bytes(const char *data, size_t len, char out[CG_CONFIG_HASH_LEN])
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

/* ---- file versions ---- */

cg_config_file *cg_config_file_new(char *raw, size_t raw_len, json_t *doc)
{
    cg_config_file *file = cg_xcalloc(1, sizeof *file);
    file->refs = 1;
    file->exists = raw != NULL;
    file->raw = raw;
    file->raw_len = raw ? raw_len : 0;
    file->doc = doc;
    hash_bytes(raw ? raw : "", file->raw_len, file->hash);
    return file;
}

cg_config_file *cg_config_file_ref(cg_config_file *file)
{
    file->refs++;
    return file;
}

void cg_config_file_unref(cg_config_file *file)
{
    if (!file || --file->refs > 0) return;
    free(file->raw);
    json_decref(file->doc);
    free(file);
}

bool cg_config_file_holds(const cg_config_file *file, const char *raw, size_t len)
{
    if (!raw || !file->exists) return !raw && !file->exists;
    return len == file->raw_len && !memcmp(raw, file->raw, len);
}

int cg_config_read_disk(const cg_config_sources *src, char **raw, size_t *len)
{
    *raw = NULL;
    *len = 0;
    int rc = cg_read_file(src->path, CG_CONFIG_FILE_MAX_BYTES, raw, len);
    return rc == -ENOENT ? 0 : rc;
}

int cg_config_write_disk(const cg_config_sources *src, const char *text, size_t len)
{
    return cg_write_file_atomic(src->path, text, len, CONFIG_FILE_MODE);
}

char *cg_config_serialize(const json_t *doc, size_t *len)
{
    char *text = json_dumps(doc, JSON_INDENT(2));
    *len = strlen(text);
    char *with_newline = cg_xrealloc(text, *len + 2);
    with_newline[(*len)++] = '\n';
    with_newline[*len] = 0;
    return with_newline;
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

cg_settings *cg_config_evaluate(const cg_config_sources *src, const json_t *doc,
                                bool token_required, json_t *issues)
{
    json_t *resolved = cg_config_resolve(doc, issues);
    cg_settings *settings = NULL;
    if (json_array_size(issues) == 0) settings = cg_settings_build(resolved, &src->ov, issues);
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

void cg_config_describe_issues(const json_t *issues, char *out, size_t outlen)
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

void cg_config_view_build(cg_config_view *view, const cg_config_sources *src,
                          const cg_config_file *file, const json_t *issues)
{
    json_t *raw = json_null(), *config;
    if (file->doc) {
        size_t redacted;
        config = cg_config_redact_counted(file->doc, &redacted);
        if (file->exists && redacted) {
            char *text = json_dumps(config, JSON_INDENT(2));
            raw = json_string(text);
            free(text);
        } else if (file->exists) {
            raw = json_stringn(file->raw, file->raw_len);
        }
    } else {
        config = json_object(); /* unparsable: the text may hold secrets we cannot find */
    }
    view->result = json_pack("{s:s, s:b, s:o, s:o, s:s, s:b, s:O}", "path", src->path, "exists",
                             file->exists, "raw", raw, "config", config, "hash", file->hash,
                             "valid", json_array_size(issues) == 0, "issues", issues);
    view->json = json_dumps(view->result, JSON_COMPACT);
    view->json_len = strlen(view->json);
}

static void view_free(cg_config_view *view)
{
    json_decref(view->result);
    free(view->json);
    *view = (cg_config_view){0};
}

void cg_config_change_discard(cg_config_change *change)
{
    cg_config_file_unref(change->file);
    json_decref(change->issues);
    cg_settings_free(change->settings);
    view_free(&change->view);
    *change = (cg_config_change){0};
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

bool cg_config_install(cg_config *cfg, cg_config_change *change)
{
    bool new_file = change->file && (!cfg->file || strcmp(cfg->file->hash, change->file->hash));
    if (change->file) {
        cg_config_file_unref(cfg->file);
        cfg->file = change->file;
    }
    if (change->issues) {
        json_decref(cfg->issues);
        cfg->issues = change->issues;
        cfg->valid = json_array_size(cfg->issues) == 0;
    }
    if (change->view.result) {
        view_free(&cfg->view);
        cfg->view = change->view;
    }
    bool changed = change->settings && install_settings(cfg, change->settings);
    *change = (cg_config_change){0};
    if (changed && cfg->on_settings) cfg->on_settings(cfg, cfg->on_settings_data);
    if (new_file && cfg->on_file) cfg->on_file(cfg, cfg->on_file_data);
    return changed;
}

void cg_config_on_settings_change(cg_config *cfg, cg_config_settings_fn fn, void *data)
{
    cfg->on_settings = fn;
    cfg->on_settings_data = data;
}

void cg_config_on_file_change(cg_config *cfg, cg_config_file_fn fn, void *data)
{
    cfg->on_file = fn;
    cfg->on_file_data = data;
}

/* ---- the store ---- */

cg_config *cg_config_new(const cg_overrides *ov, char *err, size_t errlen)
{
    const char *state = ov->state_dir ? ov->state_dir : cg_config_env("STATE_DIR");
    const char *path = ov->config_path ? ov->config_path : cg_config_env("CONFIG_PATH");
    cg_config *cfg = cg_xcalloc(1, sizeof *cfg);
    cg_config_sources *src = &cfg->sources;
    src->state_dir = expand_home(state ? state : "~/.clawgate");
    if (path) {
        src->path = expand_home(path);
    } else {
        cg_buf joined = {0};
        cg_buf_appends(&joined, src->state_dir);
        cg_buf_appends(&joined, "/clawgate.json");
        cg_buf_append(&joined, "", 1);
        src->path = joined.data;
    }
    src->ov.state_dir = src->state_dir;
    src->ov.config_path = src->path;
    src->ov.port = ov->port;
    src->ov.bind = src->owned_bind = cg_strdup(ov->bind);
    src->ov.auth_mode = src->owned_auth_mode = cg_strdup(ov->auth_mode);
    src->ov.token = src->owned_token = cg_strdup(ov->token);
    src->ov.password = src->owned_password = cg_strdup(ov->password);
    cfg->file = cg_config_file_new(NULL, 0, json_object());
    cfg->valid = true;
    cfg->issues = json_array();
    cg_config_view_build(&cfg->view, src, cfg->file, cfg->issues);
    int rc = cg_mkdir_p(src->state_dir, 0700);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create state dir %s: %s", src->state_dir, strerror(-rc));
        cg_config_free(cfg);
        return NULL;
    }
    return cfg;
}

void cg_config_free(cg_config *cfg)
{
    if (!cfg) return;
    cg_config_sources *src = &cfg->sources;
    free(src->state_dir);
    free(src->path);
    free(src->owned_bind);
    free(src->owned_auth_mode);
    free(src->owned_token);
    free(src->owned_password);
    cg_config_file_unref(cfg->file);
    json_decref(cfg->issues);
    cg_settings_free(cfg->settings);
    cg_settings_free(cfg->retired_settings);
    view_free(&cfg->view);
    free(cfg);
}

const cg_settings *cg_config_settings(const cg_config *cfg)
{
    return cfg->settings;
}

const char *cg_config_state_dir(const cg_config *cfg)
{
    return cfg->sources.state_dir;
}

const char *cg_config_path(const cg_config *cfg)
{
    return cfg->sources.path;
}

const char *cg_config_hash(const cg_config *cfg)
{
    return cfg->file->hash;
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
    return json_deep_copy(cfg->view.result);
}

const char *cg_config_get_result_json(const cg_config *cfg, size_t *len)
{
    *len = cfg->view.json_len;
    return cfg->view.json;
}

/* ---- the first load ---- */

/* Saves doc with a generated token at gateway.auth.token. Returns the new file version
 * (NULL with err set on failure) and the token. */
static cg_config_file *save_generated_token(const cg_config_sources *src, const json_t *doc,
                                            char token[2 * GENERATED_TOKEN_BYTES + 1], char *err,
                                            size_t errlen)
{
    cg_random_hex(token, GENERATED_TOKEN_BYTES);
    json_t *with_token = json_deep_copy(doc);
    json_t *gateway = json_object_get(with_token, "gateway");
    if (!json_is_object(gateway))
        json_object_set_new(with_token, "gateway", gateway = json_object());
    json_t *auth = json_object_get(gateway, "auth");
    if (!json_is_object(auth)) json_object_set_new(gateway, "auth", auth = json_object());
    json_object_set_new(auth, "token", json_string(token));
    size_t len;
    char *text = cg_config_serialize(with_token, &len);
    int rc = cg_config_write_disk(src, text, len);
    if (rc < 0) {
        snprintf(err, errlen, "cannot save the generated token to %s: %s", src->path,
                 strerror(-rc));
        free(text);
        json_decref(with_token);
        return NULL;
    }
    return cg_config_file_new(text, len, with_token);
}

/* Reads, validates and installs the file; with generated_token set, generates and saves
 * a missing token. */
static int load(cg_config *cfg, char **generated_token, char *err, size_t errlen)
{
    const cg_config_sources *src = &cfg->sources;
    char *raw;
    size_t len;
    int rc = cg_config_read_disk(src, &raw, &len);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read %s: %s", src->path, strerror(-rc));
        return -1;
    }
    cg_config_change change = {.issues = json_array()};
    json_t *doc = raw ? cg_config_parse(raw, len, change.issues) : json_object();
    change.file = cg_config_file_new(raw, len, doc);
    if (doc) change.settings = cg_config_evaluate(src, doc, false, change.issues);
    if (generated_token && change.settings && change.settings->auth_mode == CG_AUTH_TOKEN &&
        !change.settings->token) {
        char token[2 * GENERATED_TOKEN_BYTES + 1];
        cg_config_file *with_token = save_generated_token(src, doc, token, err, errlen);
        if (!with_token) {
            cg_config_change_discard(&change);
            return -1;
        }
        cg_settings_free(change.settings);
        cg_config_file_unref(change.file);
        change.file = with_token;
        change.settings = cg_config_evaluate(src, with_token->doc, true, change.issues);
        *generated_token = cg_strdup(token);
        cg_log(CG_LOG_INFO, "config", "generated gateway.auth.token",
               json_pack("{s:s}", "path", src->path));
    }
    if (!change.settings) {
        char what[400];
        cg_config_describe_issues(change.issues, what, sizeof what);
        snprintf(err, errlen, "invalid config %s: %s", src->path, what);
        cg_config_change_discard(&change);
        return -1;
    }
    cg_config_view_build(&change.view, src, change.file, change.issues);
    cg_config_install(cfg, &change);
    cfg->listener_changed = false;
    return 0;
}

int cg_config_load(cg_config *cfg, char **generated_token, char *err, size_t errlen)
{
    char *generated = NULL;
    if (load(cfg, &generated, err, errlen) < 0) {
        cg_log(CG_LOG_ERROR, "config", "invalid config",
               json_pack("{s:s, s:s}", "path", cfg->sources.path, "error", err));
        return -1;
    }
    if (generated_token)
        *generated_token = generated;
    else
        free(generated);
    cg_log(CG_LOG_INFO, "config", "config loaded",
           json_pack("{s:s, s:b, s:s}", "path", cfg->sources.path, "exists", cfg->file->exists,
                     "hash", cfg->file->hash));
    return 0;
}

int cg_config_read(cg_config *cfg, char *err, size_t errlen)
{
    return load(cfg, NULL, err, errlen);
}

/* ---- reloads ---- */

void cg_config_prepare_reload(const cg_config_sources *src, const cg_config_file *current,
                              cg_config_reload_plan *plan)
{
    *plan = (cg_config_reload_plan){0};
    char *raw;
    size_t len;
    int rc = cg_config_read_disk(src, &raw, &len);
    if (rc == 0 && cg_config_file_holds(current, raw, len)) {
        free(raw);
        plan->unchanged = true;
        return;
    }
    cg_config_change *change = &plan->change;
    change->issues = json_array();
    if (rc < 0) {
        cg_config_issue_add(change->issues, "", "cannot read %s: %s", src->path, strerror(-rc));
        cg_config_view_build(&change->view, src, current, change->issues);
        return;
    }
    json_t *doc = raw ? cg_config_parse(raw, len, change->issues) : json_object();
    change->file = cg_config_file_new(raw, len, doc);
    if (doc) change->settings = cg_config_evaluate(src, doc, true, change->issues);
    cg_config_view_build(&change->view, src, change->file, change->issues);
}

int cg_config_finish_reload(cg_config *cfg, cg_config_reload_plan *plan)
{
    if (plan->unchanged) return cfg->valid ? 0 : -1;
    const char *path = cfg->sources.path;
    if (!plan->change.settings) {
        cg_log(CG_LOG_WARN, "config", "config reload refused: keeping the running settings",
               json_pack("{s:s, s:O}", "path", path, "issues", plan->change.issues));
        cg_config_install(cfg, &plan->change);
        return -1;
    }
    bool changed = cg_config_install(cfg, &plan->change);
    cg_log(CG_LOG_INFO, "config", "config reloaded",
           json_pack("{s:s, s:s, s:b, s:b}", "path", path, "hash", cfg->file->hash,
                     "settingsChanged", changed, "listenerChanged", cfg->listener_changed));
    return changed ? 1 : 0;
}

const json_t *cg_config_document(const cg_config *cfg)
{
    return cfg->file ? cfg->file->doc : NULL;
}
