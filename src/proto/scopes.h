/* Roles and operator scopes: what a connection is and what it may call (CONTRACT.md
 * "Connecting"; the seed's scope tables). operator.admin grants every scope;
 * operator.write also satisfies operator.read. Nodes need no operator scope. */
#ifndef CG_PROTO_SCOPES_H
#define CG_PROTO_SCOPES_H

#include <jansson.h>
#include <stdbool.h>

typedef enum {
    CG_ROLE_OPERATOR = 1u << 0,
    CG_ROLE_NODE = 1u << 1,
} cg_role;

/* The scope a method needs (the seed's tables). NODE methods need no operator scope. */
typedef enum {
    CG_SCOPE_NONE,      /* node-role methods */
    CG_SCOPE_READ,      /* operator.read or operator.write */
    CG_SCOPE_WRITE,     /* operator.write */
    CG_SCOPE_ADMIN,     /* operator.admin */
    CG_SCOPE_APPROVALS, /* operator.approvals */
    CG_SCOPE_PAIRING,   /* operator.pairing */
    CG_SCOPE_QUESTIONS, /* operator.questions */
} cg_scope;

/* Operator scope bits a connection holds. */
enum {
    CG_SCOPEBIT_READ = 1u << 0,
    CG_SCOPEBIT_WRITE = 1u << 1,
    CG_SCOPEBIT_ADMIN = 1u << 2,
    CG_SCOPEBIT_APPROVALS = 1u << 3,
    CG_SCOPEBIT_QUESTIONS = 1u << 4,
    CG_SCOPEBIT_PAIRING = 1u << 5,
    CG_SCOPEBIT_TALK = 1u << 6,
    CG_SCOPEBIT_TALK_SECRETS = 1u << 7,
};

/* Whether a connection with this role and these scope bits holds `scope`:
 * operator.admin grants all, READ accepts read or write. Nodes need no operator scope. */
bool cg_scope_granted(unsigned role, unsigned scopes, cg_scope scope);

/* "operator.read", ...; "" for CG_SCOPE_NONE. */
const char *cg_scope_name(cg_scope scope);
/* Operator scope bits for the recognized scope names in `scopes` (others dropped). */
unsigned cg_scope_bits(const json_t *scopes);
/* The names of the scope bits, in a fixed order. New ref. */
json_t *cg_scope_names(unsigned bits);

#endif
