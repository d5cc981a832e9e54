/* Secrets out of, and back into, configuration documents.
 *
 * What is secret is decided by the walker (schema.c): a node the schema marks
 * "x-sensitive" (the paths config.schema's uiHints mark `sensitive`), or a member named
 * apiKey, botToken, secret or password at any depth. Its value, whatever it is (a
 * string, a number, an object such as a whole service-account key), becomes
 * "__OPENCLAW_REDACTED__" in everything sent to clients; null stays null.
 *
 * A document written back with the placeholder somewhere gets the stored value of that
 * same path restored, so clients can edit what config.get showed them without knowing
 * the secrets. A placeholder with nothing stored behind it is an issue: it is never
 * written to disk. */
#include <string.h>

#include "config/config_internal.h"

static json_t *redact_visit(const json_t *value, const cg_config_node *node, void *ctx)
{
    size_t *count = ctx;
    if (!node->sensitive || json_is_null(value)) return NULL;
    (*count)++;
    return json_string(CG_REDACTED);
}

json_t *cg_config_redact_counted(const json_t *doc, size_t *redacted_count)
{
    *redacted_count = 0;
    return cg_config_walk(doc, NULL, redact_visit, redacted_count);
}

json_t *cg_config_redact(const json_t *doc)
{
    size_t count;
    return cg_config_redact_counted(doc, &count);
}

static bool is_placeholder(const json_t *value)
{
    return json_is_string(value) && !strcmp(json_string_value(value), CG_REDACTED);
}

typedef struct restore_ctx {
    json_t *issues;
    size_t restored;
} restore_ctx;

static json_t *restore_visit(const json_t *value, const cg_config_node *node, void *ctx)
{
    restore_ctx *restore = ctx;
    if (!is_placeholder(value)) return NULL;
    if (node->peer && !is_placeholder(node->peer)) {
        restore->restored++;
        return json_deep_copy(node->peer);
    }
    cg_config_issue_add(restore->issues, node->path,
                        "is the redacted placeholder but no value is stored there to keep");
    return json_incref((json_t *)value);
}

json_t *cg_config_restore_redacted(const json_t *doc, const json_t *stored, json_t *issues,
                                   size_t *restored_count)
{
    restore_ctx restore = {.issues = issues, .restored = 0};
    json_t *out = cg_config_walk(doc, stored, restore_visit, &restore);
    *restored_count = restore.restored;
    return out;
}
