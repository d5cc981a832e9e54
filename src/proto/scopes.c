/* Roles and operator scopes. See scopes.h. */
#include "proto/scopes.h"

#include <string.h>

static const struct {
    const char *name;
    unsigned bit;
} operator_scopes[] = {
    {"operator.read", CG_SCOPEBIT_READ},
    {"operator.write", CG_SCOPEBIT_WRITE},
    {"operator.admin", CG_SCOPEBIT_ADMIN},
    {"operator.approvals", CG_SCOPEBIT_APPROVALS},
    {"operator.questions", CG_SCOPEBIT_QUESTIONS},
    {"operator.pairing", CG_SCOPEBIT_PAIRING},
    {"operator.talk", CG_SCOPEBIT_TALK},
    {"operator.talk.secrets", CG_SCOPEBIT_TALK_SECRETS},
};
#define N_OPERATOR_SCOPES (sizeof operator_scopes / sizeof operator_scopes[0])

const char *cg_scope_name(cg_scope scope)
{
    switch (scope) {
    case CG_SCOPE_READ:
        return "operator.read";
    case CG_SCOPE_WRITE:
        return "operator.write";
    case CG_SCOPE_ADMIN:
        return "operator.admin";
    case CG_SCOPE_APPROVALS:
        return "operator.approvals";
    case CG_SCOPE_PAIRING:
        return "operator.pairing";
    case CG_SCOPE_QUESTIONS:
        return "operator.questions";
    case CG_SCOPE_NONE:
        break;
    }
    return "";
}

bool cg_scope_granted(unsigned role, unsigned scopes, cg_scope scope)
{
    if (role == CG_ROLE_NODE || scope == CG_SCOPE_NONE) return true;
    if (scopes & CG_SCOPEBIT_ADMIN) return true;
    switch (scope) {
    case CG_SCOPE_READ:
        return scopes & (CG_SCOPEBIT_READ | CG_SCOPEBIT_WRITE);
    case CG_SCOPE_WRITE:
        return scopes & CG_SCOPEBIT_WRITE;
    case CG_SCOPE_APPROVALS:
        return scopes & CG_SCOPEBIT_APPROVALS;
    case CG_SCOPE_PAIRING:
        return scopes & CG_SCOPEBIT_PAIRING;
    case CG_SCOPE_QUESTIONS:
        return scopes & CG_SCOPEBIT_QUESTIONS;
    case CG_SCOPE_ADMIN:
    case CG_SCOPE_NONE:
        break;
    }
    return false;
}

unsigned cg_scope_bits(const json_t *scopes)
{
    unsigned bits = 0;
    size_t i;
    json_t *v;
    json_array_foreach(scopes, i, v)
    {
        for (size_t k = 0; k < N_OPERATOR_SCOPES; k++)
            if (json_is_string(v) && strcmp(json_string_value(v), operator_scopes[k].name) == 0)
                bits |= operator_scopes[k].bit;
    }
    return bits;
}

json_t *cg_scope_names(unsigned bits)
{
    json_t *a = json_array();
    for (size_t i = 0; i < N_OPERATOR_SCOPES; i++)
        if (bits & operator_scopes[i].bit)
            json_array_append_new(a, json_string(operator_scopes[i].name));
    return a;
}
