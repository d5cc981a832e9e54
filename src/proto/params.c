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
