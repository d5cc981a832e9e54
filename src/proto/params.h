/* Strict params checks with clear errors: json_unpack_ex with JSON_STRICT, its error
 * text turned into the message a client sees ("invalid <method> params: <what>"). */
#ifndef CG_PROTO_PARAMS_H
#define CG_PROTO_PARAMS_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>

/* A params check for methods that take no params: {} or absent. */
int cg_params_check_empty(const json_t *params, char *err, size_t errlen);
/* Runs json_unpack_ex(params, JSON_STRICT, fmt, ...) and turns its error into err. */
int cg_params_unpack(const json_t *params, char *err, size_t errlen, const char *fmt, ...);
int cg_params_vunpack(const json_t *params, char *err, size_t errlen, const char *fmt, va_list ap);

/* Params that are exactly {key: non-empty string} (requestId, deviceId, nodeId, ...). */
int cg_params_one_string(const json_t *params, const char *key, char *err, size_t errlen);

#endif
