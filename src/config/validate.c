/* Validation of a document against the schema, with "${VAR}" substitution.
 *
 * A visitor of the one walker (schema.c): every node the schema describes is checked,
 * and every string there has "${VAR}" replaced from the environment; nodes it does not
 * describe are shared untouched. The checks are the subset of JSON Schema the rows use:
 * type (a name or a list), required (of an object), enum, minimum, maximum, minLength,
 * minItems, maxItems, plus two annotations of our own: "x-sensitive" on a string-typed node (a
 * secret clawgate reads: an OpenClaw secret-reference object there is unsupported) and
 * "x-unsupportedValues" (OpenClaw values clawgate refuses by name rather than as a
 * generic enum miss).
 *
 * Issue messages name the path and what is wrong, never the value of a sensitive node,
 * and name a variable rather than its value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "config/config_internal.h"

static const char *json_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static bool type_matches(const char *type, const json_t *value)
{
    if (!strcmp(type, "number")) return json_is_number(value);
    if (!strcmp(type, "boolean")) return json_is_boolean(value);
    return !strcmp(type, json_type_name(value));
}

static bool schema_type_matches(const json_t *type, const json_t *value)
{
    if (json_is_string(type)) return type_matches(json_string_value(type), value);
    size_t i;
    const json_t *one;
    json_array_foreach(type, i, one)
    {
        if (type_matches(json_string_value(one), value)) return true;
    }
    return false;
}

static bool is_env_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_env_name_char(char c)
{
    return is_env_name_start(c) || (c >= '0' && c <= '9');
}

/* "${NAME}" (NAME: [A-Z_][A-Z0-9_]*) is replaced by the variable; "$${" is a literal "${";
 * anything else stays as written. */
static json_t *substitute_env(const json_t *value, const char *path, json_t *issues)
{
    const char *s = json_string_value(value);
    if (!strchr(s, '$')) return json_incref((json_t *)value);
    cg_buf out = {0};
    const char *p = s;
    while (*p) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            cg_buf_appends(&out, "${");
            p += 3;
            continue;
        }
        if (p[0] == '$' && p[1] == '{' && is_env_name_start(p[2])) {
            const char *name = p + 2, *end = name;
            while (is_env_name_char(*end))
                end++;
            if (*end == '}') {
                char var[256];
                size_t n = (size_t)(end - name);
                if (n < sizeof var) {
                    memcpy(var, name, n);
                    var[n] = 0;
                    const char *env = getenv(var);
                    if (env && *env)
                        cg_buf_appends(&out, env);
                    else
                        cg_config_issue_add(issues, path, "environment variable %s is not set",
                                            var);
                    p = end + 1;
                    continue;
                }
            }
        }
        cg_buf_append(&out, p, 1);
        p++;
    }
    json_t *result = json_stringn(out.data ? out.data : "", out.len);
    cg_buf_reset(&out);
    return result;
}

static bool enum_contains(const json_t *list, const json_t *value)
{
    size_t i;
    const json_t *one;
    json_array_foreach(list, i, one)
    {
        if (json_equal((json_t *)one, (json_t *)value)) return true;
    }
    return false;
}

static void enum_issue(const cg_config_node *node, const json_t *value, json_t *issues)
{
    char allowed[256] = "";
    size_t i, used = 0;
    const json_t *one;
    json_array_foreach(json_object_get(node->schema, "enum"), i, one)
    {
        used += (size_t)snprintf(allowed + used, used < sizeof allowed ? sizeof allowed - used : 0,
                                 "%s%s", i ? ", " : "", json_string_value(one));
    }
    if (!node->sensitive && json_is_string(value) &&
        enum_contains(json_object_get(node->schema, "x-unsupportedValues"), value))
        cg_config_issue_add(issues, node->path,
                            "\"%s\" is not supported by clawgate (supported: %s)",
                            json_string_value(value), allowed);
    else
        cg_config_issue_add(issues, node->path, "must be one of: %s", allowed);
}

static void check_bounds(const cg_config_node *node, const json_t *value, json_t *issues)
{
    const json_t *min = json_object_get(node->schema, "minimum"),
                 *max = json_object_get(node->schema, "maximum");
    double v = json_number_value(value);
    if (min && v < json_number_value(min))
        cg_config_issue_add(issues, node->path, "must be >= %lld",
                            (long long)json_number_value(min));
    if (max && v > json_number_value(max))
        cg_config_issue_add(issues, node->path, "must be <= %lld",
                            (long long)json_number_value(max));
}

static void check_items(const cg_config_node *node, const json_t *value, json_t *issues)
{
    const json_t *min = json_object_get(node->schema, "minItems"),
                 *max = json_object_get(node->schema, "maxItems");
    size_t len = json_array_size(value);
    if (min && (json_int_t)len < json_integer_value(min))
        cg_config_issue_add(issues, node->path, "must have at least %lld items",
                            (long long)json_integer_value(min));
    if (max && (json_int_t)len > json_integer_value(max))
        cg_config_issue_add(issues, node->path, "must have at most %lld items",
                            (long long)json_integer_value(max));
}

static json_t *resolve_string(const json_t *value, const cg_config_node *node, json_t *issues)
{
    size_t issues_before = json_array_size(issues);
    json_t *resolved = substitute_env(value, node->path, issues);
    if (json_array_size(issues) > issues_before) return resolved; /* a variable is missing */
    const json_t *min_length = json_object_get(node->schema, "minLength");
    if (min_length && json_string_length(resolved) < (size_t)json_integer_value(min_length))
        cg_config_issue_add(issues, node->path, "must not be empty");
    return resolved;
}

/* The walker's visitor: a node's resolved value, or NULL to have its members resolved. */
static json_t *resolve_visit(const json_t *value, const cg_config_node *node, void *ctx)
{
    json_t *issues = ctx;
    const json_t *schema = node->schema;
    if (!schema) return json_incref((json_t *)value);
    const json_t *type = json_object_get(schema, "type");
    if (node->sensitive && json_is_string(type) && !strcmp(json_string_value(type), "string") &&
        json_is_object(value)) {
        cg_config_issue_add(issues, node->path,
                            "secret references are not supported by clawgate; use a string "
                            "(\"${VAR}\" reads an environment variable)");
        return json_incref((json_t *)value);
    }
    if (type && !schema_type_matches(type, value)) {
        char expected[128] = "";
        if (json_is_string(type)) {
            snprintf(expected, sizeof expected, "%s", json_string_value(type));
        } else {
            size_t i, used = 0;
            const json_t *one;
            json_array_foreach(type, i, one)
            {
                used += (size_t)snprintf(expected + used,
                                         used < sizeof expected ? sizeof expected - used : 0,
                                         "%s%s", i ? " or " : "", json_string_value(one));
            }
        }
        cg_config_issue_add(issues, node->path, "expected %s, got %s", expected,
                            json_type_name(value));
        return json_incref((json_t *)value);
    }
    if (json_is_object(value)) {
        size_t i;
        const json_t *key;
        json_array_foreach(json_object_get(schema, "required"), i, key)
        {
            if (!json_object_get(value, json_string_value(key)))
                cg_config_issue_add(issues, node->path, "missing %s", json_string_value(key));
        }
        return NULL;
    }
    if (json_is_array(value)) {
        check_items(node, value, issues);
        return NULL;
    }
    json_t *resolved =
        json_is_string(value) ? resolve_string(value, node, issues) : json_incref((json_t *)value);
    if (json_is_number(value)) check_bounds(node, value, issues);
    const json_t *allowed = json_object_get(schema, "enum");
    if (allowed && !enum_contains(allowed, resolved)) enum_issue(node, resolved, issues);
    return resolved;
}

json_t *cg_config_resolve(const json_t *doc, json_t *issues)
{
    return cg_config_walk(doc, NULL, resolve_visit, issues);
}
