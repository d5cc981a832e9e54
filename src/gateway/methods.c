/* The method table: the families' rows, looked up by name. See methods.h. */
#include "gateway/methods.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "proto/frame.h"

extern const cg_method cg_methods_health[];
extern const cg_method cg_methods_config[];
extern const cg_method cg_methods_logs[];
extern const cg_method cg_methods_system[];
extern const cg_method cg_methods_devices[];
extern const cg_method cg_methods_nodes[];
extern const cg_method cg_methods_node_invoke[];
extern const cg_method cg_methods_exec_approvals_node[];
extern const cg_method cg_methods_exec_approvals[];
extern const cg_method cg_methods_models[];
extern const cg_method cg_methods_sessions[];
extern const cg_method cg_methods_agents[];
extern const cg_method cg_methods_chat[];
extern const cg_method cg_methods_wizard[];
extern const cg_method cg_methods_channels[];
extern const cg_method cg_methods_skills[];
extern const cg_method cg_methods_cron[];
extern const cg_method cg_methods_browser[];
extern const cg_method cg_methods_ui_startup[];
extern const cg_method cg_methods_logs_live[];
extern const cg_method cg_methods_ui_pages[];

static const cg_method *const families[] = {
    cg_methods_health,      cg_methods_config,         cg_methods_logs,
    cg_methods_system,      cg_methods_devices,        cg_methods_nodes,
    cg_methods_node_invoke, cg_methods_exec_approvals, cg_methods_exec_approvals_node,
    cg_methods_models,      cg_methods_sessions,       cg_methods_agents,
    cg_methods_chat,        cg_methods_wizard,         cg_methods_channels,
    cg_methods_skills,      cg_methods_cron,           cg_methods_browser,
    cg_methods_ui_startup,  cg_methods_logs_live,      cg_methods_ui_pages,
};

/* The rows in table order, and by name for lookup, built once from the families:
 * every request looks its method up, and every hello-ok lists them all. */
static const cg_method **rows, **by_name;
static size_t n_rows;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static int compare_names(const void *a, const void *b)
{
    return strcmp((*(const cg_method *const *)a)->name, (*(const cg_method *const *)b)->name);
}

static void build_index(void)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const cg_method *m = families[f]; m->name; m++)
            n_rows++;
    rows = cg_xcalloc(n_rows, sizeof *rows);
    by_name = cg_xcalloc(n_rows, sizeof *by_name);
    size_t i = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const cg_method *m = families[f]; m->name; m++)
            rows[i++] = m;
    memcpy(by_name, rows, n_rows * sizeof *rows);
    qsort(by_name, n_rows, sizeof *by_name, compare_names);
}

const cg_method *cg_method_at(size_t index)
{
    pthread_once(&index_once, build_index);
    return index < n_rows ? rows[index] : NULL;
}

const cg_method *cg_method_find(const char *name)
{
    pthread_once(&index_once, build_index);
    cg_method key = {.name = name};
    const cg_method *keyp = &key;
    const cg_method **found = bsearch(&keyp, by_name, n_rows, sizeof *by_name, compare_names);
    return found ? *found : NULL;
}

json_t *cg_error_missing_scope(const char *scope)
{
    char msg[96];
    snprintf(msg, sizeof msg, "missing scope: %s", scope);
    return cg_error_new(CG_ERR_FORBIDDEN, msg,
                        json_pack("{s:s, s:s, s:[s]}", "code", "MISSING_SCOPE", "missingScope",
                                  scope, "requiredScopes", scope));
}

json_t *cg_authorize(unsigned role, unsigned scopes, const char *name, const cg_method *m)
{
    if (role == CG_ROLE_NODE) {
        if (!m || !(m->roles & CG_ROLE_NODE))
            return cg_error_new(CG_ERR_INVALID_REQUEST, "unauthorized role: node", NULL);
        return NULL;
    }
    if (m && !(m->roles & CG_ROLE_OPERATOR))
        return cg_error_new(CG_ERR_INVALID_REQUEST, "unauthorized role: operator", NULL);
    if (!m) {
        if (!(scopes & CG_SCOPEBIT_ADMIN)) return cg_error_missing_scope("operator.admin");
        char msg[320];
        snprintf(msg, sizeof msg, "unknown method: %.256s", name);
        return cg_error_new(CG_ERR_INVALID_REQUEST, msg, NULL);
    }
    if (!cg_scope_granted(role, scopes, m->scope))
        return cg_error_missing_scope(cg_scope_name(m->scope));
    return NULL;
}
