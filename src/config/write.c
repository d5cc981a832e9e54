/* config.set / config.patch / config.apply: what a write leaves, prepared off the loop.
 *
 * cg_config_prepare_write runs on a thread-pool thread when the write's turn comes
 * (queue.c runs one at a time), against the file version installed at that moment:
 *   1. the disk must still hold that version (else someone else edited it:
 *      CONFIG_HASH_MISMATCH), and baseHash must name it: required once the file
 *      exists; before, absent or the no-file hash;
 *   2. the new document: the request's raw text (set, apply) or the current document
 *      merge-patched with it (patch), with placeholders restored from the current one;
 *   3. validation and settings, exactly as a reload would see the result;
 *   4. a patch that changes nothing answers noop and writes nothing; otherwise the text
 *      is written atomically (raw as given when nothing was restored, else the document
 *      re-serialized), and config.get's new payload and the answer are built.
 * Any refusal leaves the file untouched. cg_config_finish_write then installs the result
 * on the loop and logs it; logging and installing never happen on the thread.
 *
 * Error messages and the log name paths and reasons, never values: a refused document
 * may carry secrets. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config_internal.h"

static const char *kind_name(cg_config_write_kind kind)
{
    return kind == CG_CONFIG_SET     ? "config.set"
           : kind == CG_CONFIG_PATCH ? "config.patch"
                                     : "config.apply";
}

static json_t *refusal(const char *code, const char *message, json_t *details)
{
    json_t *error = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (details) json_object_set_new(error, "details", details);
    return error;
}

static json_t *hash_refusal(const char *message)
{
    return refusal("INVALID_REQUEST", message, json_pack("{s:s}", "code", "CONFIG_HASH_MISMATCH"));
}

static json_t *invalid_config_refusal(json_t *issues)
{
    char what[400], message[480];
    cg_config_describe_issues(issues, what, sizeof what);
    snprintf(message, sizeof message, "invalid config: %s", what);
    return refusal("INVALID_REQUEST", message,
                   json_pack("{s:s, s:O}", "code", "INVALID_CONFIG", "issues", issues));
}

/* Checks that the disk still holds the current version and that the caller based its
 * edit on it. Returns NULL or the refusal. */
static json_t *check_base(const cg_config_sources *src, const cg_config_file *current,
                          const char *base_hash)
{
    char *raw;
    size_t len;
    int rc = cg_config_read_disk(src, &raw, &len);
    bool unchanged = rc == 0 && cg_config_file_holds(current, raw, len);
    free(raw);
    if (rc < 0) {
        char message[300];
        snprintf(message, sizeof message, "cannot read %s: %s", src->path, strerror(-rc));
        return refusal("UNAVAILABLE", message, NULL);
    }
    if (!unchanged)
        return hash_refusal("config changed since last load; re-run config.get and retry");
    if (current->exists && (!base_hash || !*base_hash))
        return hash_refusal("config base hash required; re-run config.get and retry");
    if (base_hash && strcmp(base_hash, current->hash))
        return hash_refusal("config changed since last load; re-run config.get and retry");
    return NULL;
}

/* The changed keys that need a restart: port, bind, customBindHost, tls.* (the listener)
 * and tailscale.* (the serve child starts with the gateway). */
static json_t *restart_required(const json_t *changed)
{
    json_t *out = json_array();
    size_t i;
    const json_t *path;
    json_array_foreach(changed, i, path)
    {
        const char *p = json_string_value(path);
        if (!strcmp(p, "gateway.port") || !strcmp(p, "gateway.bind") ||
            !strcmp(p, "gateway.customBindHost") || !strncmp(p, "gateway.tls.", 12) ||
            !strncmp(p, "gateway.tailscale.", 18))
            json_array_append(out, (json_t *)path);
    }
    return out;
}

static json_t *write_payload(const cg_config_sources *src, const cg_config_file *file,
                             cg_config_write_kind kind, const json_t *changed, bool noop)
{
    json_t *payload =
        json_pack("{s:b, s:s, s:s, s:o, s:o}", "ok", 1, "path", src->path, "hash", file->hash,
                  "config", cg_config_redact(file->doc), "restartRequired",
                  kind == CG_CONFIG_APPLY ? json_array() : restart_required(changed));
    if (kind == CG_CONFIG_PATCH) json_object_set(payload, "changedPaths", (json_t *)changed);
    if (noop) json_object_set_new(payload, "noop", json_true());
    return payload;
}

/* The document a write would leave on disk, or NULL with *error set. */
static json_t *proposed_document(const cg_config_file *current, cg_config_write_kind kind,
                                 const char *raw, json_t *issues, size_t *restored, json_t **error)
{
    json_t *incoming = cg_config_parse(raw, strlen(raw), issues);
    if (!incoming) {
        *error = invalid_config_refusal(issues);
        return NULL;
    }
    json_t *merged = incoming;
    if (kind == CG_CONFIG_PATCH) {
        if (!current->doc) {
            json_decref(incoming);
            *error = refusal("INVALID_REQUEST",
                             "the config file is not a JSON object and cannot be patched; use "
                             "config.set",
                             NULL);
            return NULL;
        }
        merged = cg_json_merge_patch(current->doc, incoming);
        json_decref(incoming);
    }
    json_t *doc = cg_config_restore_redacted(merged, current->doc, issues, restored);
    json_decref(merged);
    if (json_array_size(issues)) {
        *error = invalid_config_refusal(issues);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

void cg_config_prepare_write(const cg_config_sources *src, const cg_config_file *current,
                             cg_config_write_kind kind, const char *raw, const char *base_hash,
                             cg_config_write_plan *plan)
{
    *plan = (cg_config_write_plan){0};
    plan->error = check_base(src, current, base_hash);
    if (plan->error) return;
    if (strlen(raw) > CG_CONFIG_FILE_MAX_BYTES) {
        plan->error = refusal("INVALID_REQUEST",
                              "invalid config: larger than the 16 MiB a config file may have",
                              json_pack("{s:s}", "code", "INVALID_CONFIG"));
        return;
    }

    json_t *issues = json_array();
    size_t restored = 0;
    json_t *doc = proposed_document(current, kind, raw, issues, &restored, &plan->error);
    cg_settings *settings = doc ? cg_config_evaluate(src, doc, true, issues) : NULL;
    if (doc && !settings) plan->error = invalid_config_refusal(issues);
    if (!settings) {
        json_decref(issues);
        json_decref(doc);
        return;
    }

    plan->changed_paths = json_array();
    cg_json_changed_paths(current->doc, doc, "", plan->changed_paths);
    if (kind == CG_CONFIG_PATCH && json_array_size(plan->changed_paths) == 0) {
        cg_settings_free(settings);
        json_decref(doc);
        json_decref(issues);
        plan->payload = write_payload(src, current, kind, plan->changed_paths, true);
        return;
    }

    if (kind == CG_CONFIG_PATCH || restored) {
        plan->text = cg_config_serialize(doc, &plan->text_len);
    } else {
        plan->text_len = strlen(raw);
        plan->text = cg_xmalloc(plan->text_len + 1);
        memcpy(plan->text, raw, plan->text_len + 1);
    }
    plan->doc = doc;
    plan->change.issues = issues;
    plan->change.settings = settings;
}

void cg_config_commit_write(const cg_config_sources *src, cg_config_write_kind kind,
                            cg_config_write_plan *plan)
{
    int rc = cg_config_write_disk(src, plan->text, plan->text_len);
    if (rc < 0) {
        char message[300];
        snprintf(message, sizeof message, "cannot write %s: %s", src->path, strerror(-rc));
        plan->error = refusal("UNAVAILABLE", message, NULL);
        cg_config_write_plan_drop(plan);
        return;
    }
    cg_config_change *change = &plan->change;
    change->file = cg_config_file_new(plan->text, plan->text_len, plan->doc);
    plan->text = NULL;
    plan->doc = NULL;
    cg_config_view_build(&change->view, src, change->file, change->issues);
    plan->payload = write_payload(src, change->file, kind, plan->changed_paths, false);
}

void cg_config_write_plan_drop(cg_config_write_plan *plan)
{
    free(plan->text);
    json_decref(plan->doc);
    plan->text = NULL;
    plan->doc = NULL;
    cg_config_change_discard(&plan->change);
}

void cg_config_finish_write(cg_config *cfg, cg_config_write_kind kind, cg_config_write_plan *plan,
                            cg_config_write_result *out)
{
    *out = (cg_config_write_result){.payload = plan->payload, .error = plan->error};
    const char *path = cfg->sources.path;
    if (plan->error) {
        cg_log(CG_LOG_WARN, "config", "config write refused",
               json_pack("{s:s, s:O, s:O?}", "method", kind_name(kind), "reason",
                         json_object_get(plan->error, "message"), "details",
                         json_object_get(plan->error, "details")));
    } else if (!plan->change.file) {
        cg_log(CG_LOG_INFO, "config", "config patch changes nothing; not written",
               json_pack("{s:s}", "path", path));
    } else {
        out->settings_changed = cg_config_install(cfg, &plan->change);
        out->listener_changed = cfg->listener_changed;
        cg_log(CG_LOG_INFO, "config", "config written",
               json_pack("{s:s, s:s, s:s, s:O, s:b, s:b}", "method", kind_name(kind), "path", path,
                         "hash", cfg->file->hash, "changedPaths", plan->changed_paths,
                         "settingsChanged", out->settings_changed, "listenerChanged",
                         out->listener_changed));
    }
    json_decref(plan->changed_paths);
    *plan = (cg_config_write_plan){0};
}
