/* Secrets out of, and back into, configuration documents.
 *
 * What is secret: gateway.auth.token, gateway.auth.password, and any member named
 * apiKey, botToken, secret or password at any depth. Their string and number values
 * become "__OPENCLAW_REDACTED__" in everything sent to clients (objects under such a
 * name are descended instead: a secret is a scalar). A document written back with the
 * placeholder somewhere gets the stored value of that same path restored, so clients can
 * edit what config.get showed them without knowing the secrets. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "config/config_internal.h"

static const char *const secret_names[] = {"apiKey", "botToken", "secret", "password"};

static bool is_secret_member(const char *parent_path, const char *key)
{
    for (size_t i = 0; i < sizeof secret_names / sizeof secret_names[0]; i++)
        if (!strcmp(key, secret_names[i])) return true;
    return !strcmp(parent_path, "gateway.auth") && !strcmp(key, "token");
}

static json_t *redact_node(const json_t *value, const char *path, size_t *count);

static json_t *redact_object(const json_t *value, const char *path, size_t *count)
{
    json_t *out = json_object();
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        if ((json_is_string(member) || json_is_number(member)) && is_secret_member(path, key)) {
            json_object_set_new(out, key, json_string(CG_REDACTED));
            (*count)++;
            continue;
        }
        char *child = cg_config_path_join(path, key);
        json_object_set_new(out, key, redact_node(member, child, count));
        free(child);
    }
    return out;
}

static json_t *redact_node(const json_t *value, const char *path, size_t *count)
{
    if (json_is_object(value)) return redact_object(value, path, count);
    if (json_is_array(value)) {
        json_t *out = json_array();
        size_t i;
        const json_t *element;
        json_array_foreach(value, i, element)
        {
            char index[24];
            snprintf(index, sizeof index, "%zu", i);
            char *child = cg_config_path_join(path, index);
            json_array_append_new(out, redact_node(element, child, count));
            free(child);
        }
        return out;
    }
    return json_incref((json_t *)value);
}

json_t *cg_config_redact_counted(const json_t *doc, size_t *redacted_count)
{
    *redacted_count = 0;
    return redact_node(doc, "", redacted_count);
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

/* The stored value a placeholder stands for (new ref), or NULL after adding an issue. */
static json_t *stored_secret(const json_t *stored_child, const char *path, json_t *issues)
{
    if (stored_child && !is_placeholder(stored_child)) return json_deep_copy(stored_child);
    cg_config_issue_add(issues, path,
                        "is the redacted placeholder but no value is stored there to keep");
    return NULL;
}

static size_t restore_at(json_t *doc, const json_t *stored, const char *path, json_t *issues);

static size_t restore_members(json_t *doc, const json_t *stored, const char *path, json_t *issues)
{
    size_t restored = 0;
    const char *key;
    json_t *member;
    json_object_foreach(doc, key, member)
    {
        char *child = cg_config_path_join(path, key);
        const json_t *stored_member = json_is_object(stored) ? json_object_get(stored, key) : NULL;
        if (is_placeholder(member)) {
            json_t *replacement = stored_secret(stored_member, child, issues);
            if (replacement) {
                json_object_set_new(doc, key, replacement);
                restored++;
            }
        } else {
            restored += restore_at(member, stored_member, child, issues);
        }
        free(child);
    }
    return restored;
}

static size_t restore_elements(json_t *doc, const json_t *stored, const char *path, json_t *issues)
{
    size_t restored = 0;
    size_t i;
    json_t *element;
    json_array_foreach(doc, i, element)
    {
        char index[24];
        snprintf(index, sizeof index, "%zu", i);
        char *child = cg_config_path_join(path, index);
        const json_t *stored_element = json_is_array(stored) ? json_array_get(stored, i) : NULL;
        if (is_placeholder(element)) {
            json_t *replacement = stored_secret(stored_element, child, issues);
            if (replacement) {
                json_array_set_new(doc, i, replacement);
                restored++;
            }
        } else {
            restored += restore_at(element, stored_element, child, issues);
        }
        free(child);
    }
    return restored;
}

static size_t restore_at(json_t *doc, const json_t *stored, const char *path, json_t *issues)
{
    if (json_is_object(doc)) return restore_members(doc, stored, path, issues);
    if (json_is_array(doc)) return restore_elements(doc, stored, path, issues);
    return 0;
}

size_t cg_config_restore_redacted(json_t *doc, const json_t *stored, json_t *issues)
{
    return restore_at(doc, stored, "", issues);
}
