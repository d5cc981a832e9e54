/* Strict params checks. See params.h. */
#include "proto/params.h"

#include <stdio.h>
#include <string.h>

int cg_params_check_empty(const json_t *params, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object");
        return -1;
    }
    if (json_object_size(params) > 0) {
        const char *key = json_object_iter_key(json_object_iter((json_t *)params));
        snprintf(err, errlen, "unexpected property '%s'", key);
        return -1;
    }
    return 0;
}

int cg_params_vunpack(const json_t *params, char *err, size_t errlen, const char *fmt, va_list ap)
{
    json_error_t je;
    memset(&je, 0, sizeof je);
    if (json_vunpack_ex((json_t *)params, &je, JSON_STRICT, fmt, ap) != 0) {
        snprintf(err, errlen, "%s", je.text[0] ? je.text : "params do not match");
        return -1;
    }
    return 0;
}

int cg_params_unpack(const json_t *params, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cg_params_vunpack(params, err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int cg_params_one_string(const json_t *params, const char *key, char *err, size_t errlen)
{
    const char *value;
    if (cg_params_unpack(params, err, errlen, "{s:s}", key, &value)) return -1;
    if (!*value) {
        snprintf(err, errlen, "at /%s: must NOT have fewer than 1 characters", key);
        return -1;
    }
    return 0;
}

static size_t code_points(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = 0, len = json_string_length(v);
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) n++;
    return n;
}

static int check_field(const json_t *v, const cg_param_field *f, char *err, size_t errlen)
{
    if (json_is_null(v) && (f->flags & CG_PF_NULLABLE)) return 0;
    switch (f->type) {
    case CG_PF_UNSUPPORTED:
        snprintf(err, errlen, "at /%s: is not supported by clawgate", f->name);
        return -1;
    case CG_PF_BOOL:
        if (json_is_boolean(v)) return 0;
        snprintf(err, errlen, "at /%s: must be boolean", f->name);
        return -1;
    case CG_PF_INT:
        if (!json_is_integer(v)) {
            snprintf(err, errlen, "at /%s: must be integer", f->name);
            return -1;
        }
        if (json_integer_value(v) < f->min) {
            snprintf(err, errlen, "at /%s: must be >= %lld", f->name, (long long)f->min);
            return -1;
        }
        if (f->max && json_integer_value(v) > f->max) {
            snprintf(err, errlen, "at /%s: must be <= %lld", f->name, (long long)f->max);
            return -1;
        }
        return 0;
    case CG_PF_NUMBER:
        if (!json_is_number(v)) {
            snprintf(err, errlen, "at /%s: must be number", f->name);
            return -1;
        }
        if (json_number_value(v) < (double)f->min) {
            snprintf(err, errlen, "at /%s: must be >= %lld", f->name, (long long)f->min);
            return -1;
        }
        return 0;
    case CG_PF_STRING: {
        if (!json_is_string(v)) {
            snprintf(err, errlen, "at /%s: must be string", f->name);
            return -1;
        }
        size_t n = code_points(v), max = f->max ? (size_t)f->max : 65536;
        if (n < (size_t)f->min) {
            snprintf(err, errlen, "at /%s: must NOT have fewer than %lld characters", f->name,
                     (long long)f->min);
            return -1;
        }
        if (n > max) {
            snprintf(err, errlen, "at /%s: must NOT have more than %zu characters", f->name, max);
            return -1;
        }
        if (memchr(json_string_value(v), 0, json_string_length(v))) {
            snprintf(err, errlen, "at /%s: must NOT contain U+0000", f->name);
            return -1;
        }
        return 0;
    }
    case CG_PF_STRING_ARRAY: {
        if (!json_is_array(v)) {
            snprintf(err, errlen, "at /%s: must be array", f->name);
            return -1;
        }
        size_t n = json_array_size(v), max = f->max ? (size_t)f->max : 1024;
        if (n < (size_t)f->min) {
            snprintf(err, errlen, "at /%s: must NOT have fewer than %lld items", f->name,
                     (long long)f->min);
            return -1;
        }
        if (n > max) {
            snprintf(err, errlen, "at /%s: must NOT have more than %zu items", f->name, max);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            const json_t *item = json_array_get(v, i);
            if (!json_is_string(item) || json_string_length(item) == 0 ||
                json_string_length(item) > 65536) {
                snprintf(err, errlen, "at /%s/%zu: must be a string of 1 to 65536 characters",
                         f->name, i);
                return -1;
            }
        }
        return 0;
    }
    case CG_PF_ENUM:
        if (json_is_boolean(v) && (f->flags & CG_PF_OR_BOOL)) return 0;
        for (size_t i = 0; json_is_string(v) && f->values && f->values[i]; i++)
            if (strcmp(json_string_value(v), f->values[i]) == 0) return 0;
        snprintf(err, errlen, "at /%s: must be equal to one of the allowed values", f->name);
        return -1;
    }
    return -1;
}

int cg_params_check_fields(const json_t *params, const cg_param_field *fields, char *err,
                           size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object");
        return -1;
    }
    for (const cg_param_field *f = fields; f->name; f++)
        if ((f->flags & CG_PF_REQUIRED) && !json_object_get(params, f->name)) {
            snprintf(err, errlen, "must have required property '%s'", f->name);
            return -1;
        }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        const cg_param_field *f = fields;
        while (f->name && strcmp(f->name, key) != 0)
            f++;
        if (!f->name) {
            snprintf(err, errlen, "unexpected property '%.64s'", key);
            return -1;
        }
        if (check_field(v, f, err, errlen)) return -1;
    }
    return 0;
}
