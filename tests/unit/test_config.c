/* Unit tests of the config store on real files in a temporary state dir: paths and
 * precedence (flag > environment > file > default), token generation, load refusals,
 * config.get's payload (a string hash also without a file), writes (hash guard,
 * refusals leaving the file untouched, noop patches, placeholder round trip,
 * restartRequired), reloads (own writes are no change, an invalid file keeps the running
 * settings and shows valid:false), the client's read, and the thread-pool queue on a
 * real libuv loop: writes and reloads run one at a time in order, each checked against
 * the state its turn finds, done never runs before the call returns, reload triggers
 * coalesce, and the disk is read and written off the loop (a FIFO as the config file
 * blocks whoever reads it until the loop feeds it). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config.h"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static const char *const env_names[] = {
    "CLAWGATE_STATE_DIR",        "OPENCLAW_STATE_DIR",     "CLAWGATE_CONFIG_PATH",
    "OPENCLAW_CONFIG_PATH",      "CLAWGATE_GATEWAY_PORT",  "OPENCLAW_GATEWAY_PORT",
    "CLAWGATE_GATEWAY_TOKEN",    "OPENCLAW_GATEWAY_TOKEN", "CLAWGATE_GATEWAY_PASSWORD",
    "OPENCLAW_GATEWAY_PASSWORD",
};

static int setup(void **state)
{
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        unsetenv(env_names[i]);
    fixture *f = cg_xcalloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/cg-config-test-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/clawgate.json", f->dir);
    *state = f;
    return cg_log_open(f->dir, CG_LOG_DEFAULT_MAX_BYTES);
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_log_close();
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", f->dir);
    if (system(command) != 0) return -1;
    free(f);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *read_text(const char *path)
{
    char *data;
    size_t len;
    assert_int_equal(cg_read_file(path, 1 << 20, &data, &len), 0);
    return data;
}

static cg_config *open_config(fixture *f, const cg_overrides *extra)
{
    cg_overrides ov = extra ? *extra : (cg_overrides){0};
    ov.state_dir = f->dir;
    char err[256];
    cg_config *cfg = cg_config_new(&ov, err, sizeof err);
    if (!cfg) fail_msg("cg_config_new: %s", err);
    return cfg;
}

static cg_config *load_config(fixture *f, const cg_overrides *extra)
{
    cg_config *cfg = open_config(f, extra);
    char err[256];
    char *token = NULL;
    if (cg_config_load(cfg, &token, err, sizeof err) != 0) fail_msg("load: %s", err);
    free(token);
    return cfg;
}

static const char *get_string(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static const char *current_hash(const cg_config *cfg)
{
    static char hash[80];
    json_t *result = cg_config_get_result(cfg);
    snprintf(hash, sizeof hash, "%s", get_string(result, "hash") ? get_string(result, "hash") : "");
    json_decref(result);
    return hash;
}

#define NO_FILE_HASH "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct write_outcome {
    int calls;
    cg_config_write_result result;
    char (*order)[32]; /* shared record of completions, or NULL */
    size_t *order_len;
    const char *name;
} write_outcome;

static void record_write(cg_config *cfg, cg_config_write_result *result, void *data)
{
    write_outcome *outcome = data;
    outcome->calls++;
    outcome->result = *result;
    if (outcome->order) snprintf(outcome->order[(*outcome->order_len)++], 32, "%s", outcome->name);
}

/* Runs one write to completion on a private loop: 0 with out->payload, or -1 with *error. */
static int write_config(cg_config *cfg, cg_config_write_kind kind, const char *raw,
                        const char *base_hash, cg_config_write_result *out, json_t **error)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    write_outcome outcome = {0};
    cg_config_write_async(cfg, &loop, kind, raw, base_hash, record_write, &outcome);
    assert_int_equal(outcome.calls, 0); /* never before the call returns */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(outcome.calls, 1);
    *out = outcome.result;
    *error = outcome.result.error;
    assert_true(!out->payload != !out->error);
    return out->error ? -1 : 0;
}

typedef struct reload_outcome {
    int calls;
    int results[4];
} reload_outcome;

static void record_reload(cg_config *cfg, int result, void *data)
{
    reload_outcome *outcome = data;
    outcome->results[outcome->calls++] = result;
}

/* Runs one reload to completion on a private loop; returns its result. */
static int reload_config(cg_config *cfg)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    reload_outcome outcome = {0};
    assert_int_equal(cg_config_reload_async(cfg, &loop, record_reload, &outcome), 0);
    assert_int_equal(outcome.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(outcome.calls, 1);
    return outcome.results[0];
}

static void test_paths_from_environment(void **state)
{
    fixture *f = *state;
    char other[160], path[200];
    snprintf(other, sizeof other, "%s/openclaw-state", f->dir);
    setenv("OPENCLAW_STATE_DIR", other, 1);
    char err[256];
    cg_overrides none = {0};
    cg_config *cfg = cg_config_new(&none, err, sizeof err);
    assert_non_null(cfg);
    assert_string_equal(cg_config_state_dir(cfg), other);
    snprintf(path, sizeof path, "%s/clawgate.json", other);
    assert_string_equal(cg_config_path(cfg), path);
    struct stat st;
    assert_int_equal(stat(other, &st), 0); /* created */
    cg_config_free(cfg);

    setenv("CLAWGATE_STATE_DIR", f->dir, 1); /* CLAWGATE_ wins over OPENCLAW_ */
    setenv("CLAWGATE_CONFIG_PATH", "/tmp/elsewhere.json", 1);
    cfg = cg_config_new(&none, err, sizeof err);
    assert_string_equal(cg_config_state_dir(cfg), f->dir);
    assert_string_equal(cg_config_path(cfg), "/tmp/elsewhere.json");
    cg_config_free(cfg);

    cg_overrides flags = {.state_dir = other, .config_path = f->path}; /* flags win */
    cfg = cg_config_new(&flags, err, sizeof err);
    assert_string_equal(cg_config_state_dir(cfg), other);
    assert_string_equal(cg_config_path(cfg), f->path);
    cg_config_free(cfg);
}

static void test_no_file_result(void **state)
{
    fixture *f = *state;
    cg_overrides ov = {.auth_mode = "none"};
    cg_config *cfg = load_config(f, &ov);
    json_t *result = cg_config_get_result(cfg);
    json_t *expected = json_pack("{s:s, s:b, s:n, s:{}, s:s, s:b, s:[]}", "path", f->path, "exists",
                                 0, "raw", "config", "hash", NO_FILE_HASH, "valid", 1, "issues");
    assert_true(json_equal(result, expected));
    size_t len;
    const char *cached = cg_config_get_result_json(cfg, &len);
    json_t *reparsed = json_loadb(cached, len, 0, NULL);
    assert_true(json_equal(reparsed, expected));
    assert_int_equal(access(f->path, F_OK), -1); /* nothing written */
    const cg_settings *s = cg_config_settings(cfg);
    assert_int_equal(s->port, CG_DEFAULT_PORT);
    assert_int_equal(s->bind, CG_BIND_LOOPBACK);
    assert_int_equal(s->auth_mode, CG_AUTH_NONE);
    assert_true(s->local_bypass);
    assert_int_equal(s->limits.max_payload_bytes, 26214400);
    assert_int_equal(s->limits.json_budget_bytes, 134217728);
    assert_int_equal(s->rate_limit.lockout_ms, 300000);
    assert_true(s->rate_limit.exempt_loopback);
    assert_int_equal(s->tick_interval_ms, 30000);
    assert_int_equal(s->log_max_file_bytes, 100LL * 1024 * 1024);
    json_decref(reparsed);
    json_decref(expected);
    json_decref(result);
    cg_config_free(cfg);
}

static void test_token_generated_and_redacted(void **state)
{
    fixture *f = *state;
    write_text(f->path, "{\"gateway\":{\"port\":19001},\"custom\":{\"keep\":true}}");
    cg_config *cfg = open_config(f, NULL);
    char err[256];
    char *token = NULL;
    assert_int_equal(cg_config_load(cfg, &token, err, sizeof err), 0);
    assert_non_null(token);
    assert_int_equal(strlen(token), 48);
    assert_string_equal(cg_config_settings(cfg)->token, token);
    assert_int_equal(cg_config_settings(cfg)->auth_mode, CG_AUTH_TOKEN);

    char *text = read_text(f->path);
    assert_non_null(strstr(text, token));
    assert_non_null(strstr(text, "\"keep\""));
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    size_t len;
    const char *payload = cg_config_get_result_json(cfg, &len);
    assert_null(strstr(payload, token));
    assert_non_null(strstr(payload, CG_REDACTED));
    json_t *result = cg_config_get_result(cfg);
    assert_true(json_is_true(json_object_get(result, "exists")));
    assert_true(strncmp(get_string(result, "hash"), "sha256:", 7) == 0);
    assert_null(strstr(get_string(result, "raw"), token));
    json_decref(result);
    free(text);
    cg_config_free(cfg);

    /* A second start finds the token and generates nothing. */
    cfg = open_config(f, NULL);
    char *again = NULL;
    assert_int_equal(cg_config_load(cfg, &again, err, sizeof err), 0);
    assert_null(again);
    assert_string_equal(cg_config_settings(cfg)->token, token);
    free(token);
    cg_config_free(cfg);
}

static void test_precedence(void **state)
{
    fixture *f = *state;
    write_text(f->path, "{\"gateway\":{\"port\":19002,\"auth\":{\"token\":\"file-token\"}}}");
    cg_config *cfg = load_config(f, NULL);
    assert_int_equal(cg_config_settings(cfg)->port, 19002);
    assert_string_equal(cg_config_settings(cfg)->token, "file-token");
    cg_config_free(cfg);

    setenv("OPENCLAW_GATEWAY_PORT", "19003", 1);
    setenv("OPENCLAW_GATEWAY_TOKEN", "openclaw-env-token", 1);
    cfg = load_config(f, NULL);
    assert_int_equal(cg_config_settings(cfg)->port, 19003);
    assert_string_equal(cg_config_settings(cfg)->token, "openclaw-env-token");
    cg_config_free(cfg);

    setenv("CLAWGATE_GATEWAY_PORT", "19004", 1);
    setenv("CLAWGATE_GATEWAY_TOKEN", "env-token", 1);
    cfg = load_config(f, NULL);
    assert_int_equal(cg_config_settings(cfg)->port, 19004);
    assert_string_equal(cg_config_settings(cfg)->token, "env-token");
    cg_config_free(cfg);

    cg_overrides flags = {.port = 19005, .token = "flag-token", .bind = "lan"};
    cfg = load_config(f, &flags);
    assert_int_equal(cg_config_settings(cfg)->port, 19005);
    assert_string_equal(cg_config_settings(cfg)->token, "flag-token");
    assert_int_equal(cg_config_settings(cfg)->bind, CG_BIND_ALL);
    cg_config_free(cfg);

    setenv("CLAWGATE_GATEWAY_PORT", "not-a-port", 1);
    cfg = open_config(f, NULL);
    char err[256];
    char *token = NULL;
    assert_int_equal(cg_config_load(cfg, &token, err, sizeof err), -1);
    assert_non_null(strstr(err, "CLAWGATE_GATEWAY_PORT"));
    cg_config_free(cfg);
}

static void assert_load_refused(fixture *f, const char *text, const char *expected_part)
{
    write_text(f->path, text);
    cg_config *cfg = open_config(f, NULL);
    char err[256];
    char *token = NULL;
    assert_int_equal(cg_config_load(cfg, &token, err, sizeof err), -1);
    assert_null(token);
    if (!strstr(err, expected_part)) fail_msg("error \"%s\" lacks \"%s\"", err, expected_part);
    char *after = read_text(f->path);
    assert_string_equal(after, text); /* a refused load writes nothing */
    free(after);
    cg_config_free(cfg);
}

static void test_load_refusals(void **state)
{
    fixture *f = *state;
    assert_load_refused(f, "{\"gateway\":{\"auth\":{\"mode\":\"trusted-proxy\"}}}",
                        "gateway.auth.mode: \"trusted-proxy\" is not supported");
    assert_load_refused(f,
                        "{\"gateway\":{\"auth\":{\"password\":{\"source\":\"env\",\"id\":\"X\"}}}}",
                        "gateway.auth.password: secret references are not supported");
    assert_load_refused(f, "{\"gateway\":{\"bind\":\"lan\",\"auth\":{\"mode\":\"none\"}}}",
                        "gateway.bind");
    assert_load_refused(f, "{\"gateway\":{\"port\":\"18789\"}}", "gateway.port: expected integer");
    assert_load_refused(f, "{gateway: {port: 1}, // JSON5\n}", "not valid JSON");
    assert_load_refused(f, "{\"gateway\":{\"bind\":\"custom\",\"auth\":{\"token\":\"t\"}}}",
                        "gateway.customBindHost");
}

static void test_write_hash_guard_leaves_file_unchanged(void **state)
{
    fixture *f = *state;
    const char *original = "{\n  \"gateway\": {\"auth\": {\"token\": \"tok\"}}\n}\n";
    write_text(f->path, original);
    cg_config *cfg = load_config(f, NULL);
    cg_config_write_result out;
    json_t *error = NULL;

    assert_int_equal(
        write_config(cfg, CG_CONFIG_SET, "{\"gateway\":{\"port\":1}}", NULL, &out, &error), -1);
    assert_string_equal(get_string(error, "code"), "INVALID_REQUEST");
    assert_string_equal(get_string(error, "message"),
                        "config base hash required; re-run config.get and retry");
    assert_string_equal(get_string(json_object_get(error, "details"), "code"),
                        "CONFIG_HASH_MISMATCH");
    json_decref(error);

    assert_int_equal(write_config(cfg, CG_CONFIG_PATCH, "{\"gateway\":{\"port\":1}}", "sha256:0000",
                                  &out, &error),
                     -1);
    assert_string_equal(get_string(json_object_get(error, "details"), "code"),
                        "CONFIG_HASH_MISMATCH");
    json_decref(error);

    /* Invalid content with the right hash: refused with the issues. */
    char hash[80];
    snprintf(hash, sizeof hash, "%s", current_hash(cfg));
    assert_int_equal(
        write_config(cfg, CG_CONFIG_PATCH, "{\"gateway\":{\"bind\":\"mars\"}}", hash, &out, &error),
        -1);
    assert_string_equal(get_string(error, "code"), "INVALID_REQUEST");
    assert_non_null(strstr(get_string(error, "message"), "invalid config: gateway.bind"));
    json_t *details = json_object_get(error, "details");
    assert_string_equal(get_string(details, "code"), "INVALID_CONFIG");
    assert_string_equal(get_string(json_array_get(json_object_get(details, "issues"), 0), "path"),
                        "gateway.bind");
    json_decref(error);

    /* Someone else edited the file: our hash is stale even if the caller's matches ours. */
    char *text = read_text(f->path);
    assert_string_equal(text, original);
    free(text);
    write_text(f->path, "{\"gateway\":{\"auth\":{\"token\":\"tok\"}},\"x\":1}");
    assert_int_equal(write_config(cfg, CG_CONFIG_SET, "{\"gateway\":{\"auth\":{\"token\":\"t\"}}}",
                                  hash, &out, &error),
                     -1);
    assert_string_equal(get_string(json_object_get(error, "details"), "code"),
                        "CONFIG_HASH_MISMATCH");
    json_decref(error);
    text = read_text(f->path);
    assert_string_equal(text, "{\"gateway\":{\"auth\":{\"token\":\"tok\"}},\"x\":1}");
    free(text);
    cg_config_free(cfg);
}

static void test_patch_noop_writes_nothing(void **state)
{
    fixture *f = *state;
    write_text(f->path, "{\"gateway\":{\"port\":19010,\"auth\":{\"token\":\"tok\"}}}");
    cg_config *cfg = load_config(f, NULL);
    struct stat before, after;
    assert_int_equal(stat(f->path, &before), 0);
    char hash[80];
    snprintf(hash, sizeof hash, "%s", current_hash(cfg));
    cg_config_write_result out;
    json_t *error = NULL;
    assert_int_equal(write_config(cfg, CG_CONFIG_PATCH,
                                  "{\"gateway\":{\"port\":19010,\"auth\":{\"token\":\"" CG_REDACTED
                                  "\"}},\"absent\":null}",
                                  hash, &out, &error),
                     0);
    assert_true(json_is_true(json_object_get(out.payload, "noop")));
    assert_int_equal(json_array_size(json_object_get(out.payload, "changedPaths")), 0);
    assert_string_equal(get_string(out.payload, "hash"), hash);
    assert_false(out.settings_changed);
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino); /* an atomic write would have a new inode */
    json_decref(out.payload);
    cg_config_free(cfg);
}

static void test_patch_writes_and_reports(void **state)
{
    fixture *f = *state;
    write_text(f->path, "{\"gateway\":{\"port\":19020,\"auth\":{\"token\":\"tok\"}},\"keep\":[1]}");
    cg_config *cfg = load_config(f, NULL);
    char hash[80];
    snprintf(hash, sizeof hash, "%s", current_hash(cfg));
    cg_config_write_result out;
    json_t *error = NULL;
    assert_int_equal(write_config(cfg, CG_CONFIG_PATCH,
                                  "{\"gateway\":{\"port\":19021,\"tls\":{\"enabled\":true},"
                                  "\"limits\":{\"maxPayloadBytes\":1000}}}",
                                  hash, &out, &error),
                     0);
    json_t *expected_restart = json_pack("[s, s]", "gateway.port", "gateway.tls.enabled");
    assert_true(json_equal(json_object_get(out.payload, "restartRequired"), expected_restart));
    json_t *expected_changed = json_pack("[s, s, s]", "gateway.port", "gateway.tls.enabled",
                                         "gateway.limits.maxPayloadBytes");
    assert_true(json_equal(json_object_get(out.payload, "changedPaths"), expected_changed));
    assert_true(json_is_true(json_object_get(out.payload, "ok")));
    assert_string_equal(get_string(out.payload, "path"), f->path);
    assert_string_not_equal(get_string(out.payload, "hash"), hash);
    assert_string_equal(get_string(out.payload, "hash"), current_hash(cfg));
    assert_string_equal(
        get_string(json_object_get(
                       json_object_get(json_object_get(out.payload, "config"), "gateway"), "auth"),
                   "token"),
        CG_REDACTED);
    assert_true(out.settings_changed);
    assert_true(out.listener_changed);
    assert_int_equal(cg_config_settings(cfg)->port, 19021);
    assert_int_equal(cg_config_settings(cfg)->limits.max_payload_bytes, 1000);

    char *text = read_text(f->path);
    json_t *on_disk = json_loads(text, 0, NULL);
    assert_string_equal(
        get_string(json_object_get(json_object_get(on_disk, "gateway"), "auth"), "token"), "tok");
    assert_non_null(json_object_get(on_disk, "keep"));
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Our own write reads back as no change. */
    assert_int_equal(reload_config(cfg), 0);

    cg_log_flush(); /* the log is written by its own thread */
    char *log = read_text(cg_log_path());
    assert_non_null(strstr(log, "\"subsystem\":\"config\""));
    assert_non_null(strstr(log, "config written"));
    assert_null(strstr(log, "\"tok\"")); /* no secrets in the log */
    free(log);

    json_decref(on_disk);
    free(text);
    json_decref(expected_changed);
    json_decref(expected_restart);
    json_decref(out.payload);
    cg_config_free(cfg);
}

static void test_placeholder_round_trip_and_apply(void **state)
{
    fixture *f = *state;
    write_text(f->path, "{\"gateway\":{\"auth\":{\"token\":\"tok\"}},"
                        "\"models\":{\"providers\":{\"p\":{\"apiKey\":\"sk-1\"}}}}");
    cg_config *cfg = load_config(f, NULL);
    json_t *result = cg_config_get_result(cfg);
    const char *raw = get_string(result, "raw");
    assert_null(strstr(raw, "tok\""));
    assert_null(strstr(raw, "sk-1"));

    /* config.set with what config.get showed keeps the secrets. */
    cg_config_write_result out;
    json_t *error = NULL;
    assert_int_equal(
        write_config(cfg, CG_CONFIG_SET, raw, get_string(result, "hash"), &out, &error), 0);
    assert_false(out.settings_changed);
    assert_int_equal(json_array_size(json_object_get(out.payload, "restartRequired")), 0);
    assert_null(json_object_get(out.payload, "changedPaths"));
    char *text = read_text(f->path);
    assert_non_null(strstr(text, "\"tok\""));
    assert_non_null(strstr(text, "\"sk-1\""));
    free(text);
    json_decref(out.payload);
    json_decref(result);

    /* A placeholder with nothing stored behind it is refused. */
    char hash[80];
    snprintf(hash, sizeof hash, "%s", current_hash(cfg));
    assert_int_equal(
        write_config(cfg, CG_CONFIG_SET,
                     "{\"gateway\":{\"auth\":{\"token\":\"tok\",\"password\":\"" CG_REDACTED
                     "\"}}}",
                     hash, &out, &error),
        -1);
    assert_string_equal(get_string(error, "code"), "INVALID_REQUEST");
    assert_non_null(strstr(get_string(error, "message"), "gateway.auth.password"));
    json_decref(error);

    /* apply: restartRequired is always empty; the caller learns about the listener. */
    assert_int_equal(write_config(cfg, CG_CONFIG_APPLY,
                                  "{\"gateway\":{\"port\":19030,\"auth\":{\"token\":\"" CG_REDACTED
                                  "\"}}}",
                                  hash, &out, &error),
                     0);
    assert_int_equal(json_array_size(json_object_get(out.payload, "restartRequired")), 0);
    assert_true(out.listener_changed);
    assert_string_equal(cg_config_settings(cfg)->token, "tok");
    assert_int_equal(cg_config_settings(cfg)->port, 19030);
    json_decref(out.payload);
    cg_config_free(cfg);
}

static void test_first_write_takes_no_hash_or_the_no_file_hash(void **state)
{
    fixture *f = *state;
    cg_overrides ov = {.token = "flag-token"};
    cg_config *cfg = load_config(f, &ov);
    assert_int_equal(access(f->path, F_OK), -1);
    assert_string_equal(current_hash(cfg), NO_FILE_HASH);
    cg_config_write_result out;
    json_t *error = NULL;
    const char *raw = "{\"gateway\":{\"tickIntervalMs\":1000}}";
    assert_int_equal(write_config(cfg, CG_CONFIG_SET, raw, "sha256:stale", &out, &error), -1);
    assert_string_equal(get_string(json_object_get(error, "details"), "code"),
                        "CONFIG_HASH_MISMATCH");
    json_decref(error);
    assert_int_equal(access(f->path, F_OK), -1);

    assert_int_equal(write_config(cfg, CG_CONFIG_SET, raw, NO_FILE_HASH, &out, &error), 0);
    char *text = read_text(f->path);
    assert_string_equal(text, raw); /* written as given */
    free(text);
    assert_int_equal(cg_config_settings(cfg)->tick_interval_ms, 1000);
    assert_true(out.settings_changed);
    assert_false(out.listener_changed);
    json_decref(out.payload);
    cg_config_free(cfg);

    unlink(f->path);
    cfg = load_config(f, &ov);
    assert_int_equal(write_config(cfg, CG_CONFIG_PATCH, raw, NULL, &out, &error), 0);
    assert_string_not_equal(get_string(out.payload, "hash"), NO_FILE_HASH);
    json_decref(out.payload);
    cg_config_free(cfg);
}

static void test_reload(void **state)
{
    fixture *f = *state;
    write_text(f->path, "{\"gateway\":{\"port\":19040,\"auth\":{\"token\":\"tok\"}}}");
    cg_config *cfg = load_config(f, NULL);
    assert_int_equal(reload_config(cfg), 0);

    /* Only an unknown key changes: the file is new, the settings are not. */
    write_text(f->path, "{\"gateway\":{\"port\":19040,\"auth\":{\"token\":\"tok\"}},\"note\":1}");
    assert_int_equal(reload_config(cfg), 0);

    write_text(f->path, "{\"gateway\":{\"port\":19041,\"auth\":{\"token\":\"tok\"}}}");
    assert_int_equal(reload_config(cfg), 1);
    assert_true(cg_config_listener_changed(cfg));
    assert_int_equal(cg_config_settings(cfg)->port, 19041);

    /* Invalid: the running settings stay; config.get shows the file and its issues. */
    write_text(f->path, "{\"gateway\":{\"port\":\"nope\",\"auth\":{\"token\":\"tok\"}}}");
    assert_int_equal(reload_config(cfg), -1);
    assert_false(cg_config_valid(cfg));
    assert_int_equal(cg_config_settings(cfg)->port, 19041);
    json_t *result = cg_config_get_result(cfg);
    assert_true(json_is_false(json_object_get(result, "valid")));
    assert_string_equal(get_string(json_array_get(json_object_get(result, "issues"), 0), "path"),
                        "gateway.port");
    json_decref(result);
    size_t len;
    assert_non_null(strstr(cg_config_get_result_json(cfg, &len), "\"valid\":false"));
    assert_int_equal(reload_config(cfg), -1); /* same bytes, still invalid */

    write_text(f->path, "not json");
    assert_int_equal(reload_config(cfg), -1);
    result = cg_config_get_result(cfg);
    assert_true(json_is_null(json_object_get(result, "raw")));
    json_decref(result);

    write_text(f->path, "{\"gateway\":{\"port\":19041,\"auth\":{\"token\":\"tok\"}}}");
    assert_int_equal(reload_config(cfg), 0);
    assert_true(cg_config_valid(cfg));
    cg_config_free(cfg);
}

static void test_client_read_writes_nothing(void **state)
{
    fixture *f = *state;
    setenv("CG_TEST_FILE_TOKEN", "from-variable", 1);
    write_text(f->path,
               "{\"gateway\":{\"port\":19060,\"auth\":{\"token\":\"${CG_TEST_FILE_TOKEN}\"},"
               "\"tls\":{\"enabled\":true,\"certPath\":\"/c.pem\",\"keyPath\":\"/k.pem\"}}}");
    struct stat before, after;
    assert_int_equal(stat(f->path, &before), 0);
    char err[256];
    cg_overrides none = {.state_dir = f->dir};
    cg_config *cfg = cg_config_new(&none, err, sizeof err);
    assert_int_equal(cg_config_read(cfg, err, sizeof err), 0);
    const cg_settings *s = cg_config_settings(cfg);
    assert_int_equal(s->port, 19060);
    assert_string_equal(s->token, "from-variable");
    assert_true(s->tls_enabled);
    assert_string_equal(s->tls_cert_path, "/c.pem");
    cg_config_free(cfg);
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);

    /* No token anywhere: nothing generated, nothing written. */
    unlink(f->path);
    cfg = cg_config_new(&none, err, sizeof err);
    assert_int_equal(cg_config_read(cfg, err, sizeof err), 0);
    assert_null(cg_config_settings(cfg)->token);
    assert_int_equal(access(f->path, F_OK), -1);
    cg_config_free(cfg);

    write_text(f->path, "{\"gateway\":{\"port\":\"x\"}}");
    cfg = cg_config_new(&none, err, sizeof err);
    assert_int_equal(cg_config_read(cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "gateway.port: expected integer"));
    cg_config_free(cfg);
    unsetenv("CG_TEST_FILE_TOKEN");
}

static void test_writes_run_in_order_against_the_state_their_turn_finds(void **state)
{
    fixture *f = *state;
    write_text(f->path, "{\"gateway\":{\"auth\":{\"token\":\"tok\"}}}");
    cg_config *cfg = load_config(f, NULL);
    char base[80];
    snprintf(base, sizeof base, "%s", current_hash(cfg));
    uv_loop_t loop;
    uv_loop_init(&loop);
    char order[4][32];
    size_t order_len = 0;
    write_outcome a = {.order = order, .order_len = &order_len, .name = "a"};
    write_outcome b = a, c = a;
    b.name = "b";
    c.name = "c";
    const char *first = "{\"gateway\":{\"auth\":{\"token\":\"tok\"}},\"a\":1}";
    cg_config_write_async(cfg, &loop, CG_CONFIG_SET, first, base, record_write, &a);
    /* Based on the same hash, but its turn comes after a's write. */
    cg_config_write_async(cfg, &loop, CG_CONFIG_PATCH, "{\"b\":2}", base, record_write, &b);
    cg_config_write_async(cfg, &loop, CG_CONFIG_PATCH, "{\"c\":3}", NULL, record_write, &c);
    assert_int_equal(order_len, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    assert_int_equal(order_len, 3);
    assert_string_equal(order[0], "a");
    assert_string_equal(order[1], "b");
    assert_string_equal(order[2], "c");
    assert_non_null(a.result.payload);
    assert_string_equal(get_string(json_object_get(b.result.error, "details"), "code"),
                        "CONFIG_HASH_MISMATCH");
    assert_string_equal(get_string(c.result.error, "message"),
                        "config base hash required; re-run config.get and retry");
    char *text = read_text(f->path);
    assert_string_equal(text, first); /* byte for byte what a wrote */
    free(text);
    assert_string_equal(get_string(a.result.payload, "hash"), current_hash(cfg));
    json_decref(a.result.payload);
    json_decref(b.result.error);
    json_decref(c.result.error);
    cg_config_free(cfg);
}

static void test_reload_triggers_coalesce_and_queue_behind_writes(void **state)
{
    fixture *f = *state;
    write_text(f->path, "{\"gateway\":{\"port\":19070,\"auth\":{\"token\":\"tok\"}}}");
    cg_config *cfg = load_config(f, NULL);
    write_text(f->path, "{\"gateway\":{\"port\":19071,\"auth\":{\"token\":\"tok\"}}}");
    uv_loop_t loop;
    uv_loop_init(&loop);
    reload_outcome reloads = {0};
    assert_int_equal(cg_config_reload_async(cfg, &loop, record_reload, &reloads), 0); /* runs */
    assert_int_equal(cg_config_reload_async(cfg, &loop, record_reload, &reloads), 0); /* waits */
    assert_int_equal(cg_config_reload_async(cfg, &loop, record_reload, &reloads), 1); /* joins */
    assert_int_equal(reloads.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(reloads.calls, 2);
    assert_int_equal(reloads.results[0], 1); /* the edit */
    assert_int_equal(reloads.results[1], 0); /* nothing new since */
    assert_int_equal(cg_config_settings(cfg)->port, 19071);

    /* A reload asked for while a write is queued reads what the write left: no change. */
    write_outcome w = {0};
    cg_config_write_async(cfg, &loop, CG_CONFIG_PATCH, "{\"gateway\":{\"port\":19072}}",
                          current_hash(cfg), record_write, &w);
    reloads = (reload_outcome){0};
    assert_int_equal(cg_config_reload_async(cfg, &loop, record_reload, &reloads), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(w.calls, 1);
    assert_non_null(w.result.payload);
    assert_int_equal(reloads.calls, 1);
    assert_int_equal(reloads.results[0], 0);
    assert_int_equal(cg_config_settings(cfg)->port, 19072);

    /* Invalid: -1, the running settings stay. */
    write_text(f->path, "{\"gateway\":{\"port\":0}}");
    reloads = (reload_outcome){0};
    cg_config_reload_async(cfg, &loop, record_reload, &reloads);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(reloads.results[0], -1);
    assert_false(cg_config_valid(cfg));
    assert_int_equal(cg_config_settings(cfg)->port, 19072);
    assert_int_equal(uv_loop_close(&loop), 0);
    json_decref(w.result.payload);
    cg_config_free(cfg);
}

/* Feeds the FIFO at the config path from the loop: only a loop that is not blocked by
 * the job reading it gets here. */
typedef struct fifo_feed {
    uv_timer_t timer;
    const char *path;
    const char *text;
} fifo_feed;

static void feed_fifo(uv_timer_t *timer)
{
    fifo_feed *feed = timer->data;
    int fd = open(feed->path, O_WRONLY); /* the job has it open for reading, or soon will */
    assert_true(fd >= 0);
    assert_int_equal(write(fd, feed->text, strlen(feed->text)), (ssize_t)strlen(feed->text));
    close(fd);
    uv_close((uv_handle_t *)timer, NULL);
}

static void start_feeding(uv_loop_t *loop, fifo_feed *feed, const char *path, const char *text)
{
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    feed->path = path;
    feed->text = text;
    uv_timer_init(loop, &feed->timer);
    feed->timer.data = feed;
    uv_timer_start(&feed->timer, feed_fifo, 20, 0);
}

static void test_disk_work_runs_off_the_loop(void **state)
{
    fixture *f = *state;
    alarm(30); /* a job on the loop thread would block it for good */
    const char *original = "{\"gateway\":{\"port\":19080,\"auth\":{\"token\":\"tok\"}}}";
    write_text(f->path, original);
    cg_config *cfg = load_config(f, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);

    /* A reload reads the FIFO on the thread pool while the loop feeds it. */
    fifo_feed feed;
    const char *edited = "{\"gateway\":{\"port\":19081,\"auth\":{\"token\":\"tok\"}}}";
    start_feeding(&loop, &feed, f->path, edited);
    reload_outcome reloads = {0};
    cg_config_reload_async(cfg, &loop, record_reload, &reloads);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(reloads.results[0], 1);
    assert_int_equal(cg_config_settings(cfg)->port, 19081);

    /* A write re-reads the disk before writing: the same, then it replaces the FIFO. */
    start_feeding(&loop, &feed, f->path, edited);
    write_outcome w = {0};
    cg_config_write_async(cfg, &loop, CG_CONFIG_PATCH, "{\"gateway\":{\"port\":19082}}",
                          current_hash(cfg), record_write, &w);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_non_null(w.result.payload);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(cg_config_settings(cfg)->port, 19082);
    assert_int_equal(uv_loop_close(&loop), 0);
    alarm(0);
    json_decref(w.result.payload);
    cg_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paths_from_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_file_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_generated_and_redacted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_hash_guard_leaves_file_unchanged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_patch_noop_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patch_writes_and_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placeholder_round_trip_and_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_write_takes_no_hash_or_the_no_file_hash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_read_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_run_in_order_against_the_state_their_turn_finds,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_triggers_coalesce_and_queue_behind_writes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_work_runs_off_the_loop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
