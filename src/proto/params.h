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

/* A table-driven check of an object's members, for params defined by a schema object
 * with additionalProperties false. Messages follow the schema validator's wording:
 * "must have required property 'key'", "unexpected property 'x'", "at /limit: must be
 * integer", "at /limit: must be >= 1", "at /label: must NOT have more than 512
 * characters", "at /sortBy: must be equal to one of the allowed values", and for members
 * clawgate recognizes but does not implement "at /x: is not supported by clawgate". */
typedef enum {
    CG_PF_STRING, /* min / max: length in code points (max 0: 65536) */
    CG_PF_BOOL,
    CG_PF_INT,          /* min / max: value bounds (max 0: none) */
    CG_PF_NUMBER,       /* min: lower bound */
    CG_PF_STRING_ARRAY, /* min / max: item count (max 0: 1024); items non-empty strings */
    CG_PF_ENUM,         /* one of values */
    CG_PF_UNSUPPORTED,  /* any value is refused */
} cg_param_type;

#define CG_PF_REQUIRED 1u
#define CG_PF_NULLABLE 2u /* null is accepted too */
#define CG_PF_OR_BOOL 4u  /* an enum that also accepts true / false */

typedef struct cg_param_field {
    const char *name; /* NULL ends the table */
    cg_param_type type;
    unsigned flags;
    int64_t min, max;
    const char *const *values; /* CG_PF_ENUM: NULL-terminated */
} cg_param_field;

int cg_params_check_fields(const json_t *params, const cg_param_field *fields, char *err,
                           size_t errlen);

#endif
