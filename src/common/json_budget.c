/* jansson allocation hooks with a per-thread budget. The hooks hand out plain malloc
 * blocks (callers free json_dumps() output with free()); a budgeted parse counts what it
 * allocates and fails the allocation that would pass the budget. Frees during a parse
 * are not credited back: the budget bounds the work a message can cause, not just the
 * memory it finally holds. */
#include "common/json_budget.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local bool budget_active;
static _Thread_local size_t budget_left;
static _Thread_local bool budget_exceeded;

static void *budget_malloc(size_t n)
{
    if (budget_active) {
        if (n > budget_left) {
            budget_exceeded = true;
            return NULL;
        }
        budget_left -= n;
    }
    return malloc(n);
}

void cg_json_budget_install(void)
{
    json_set_alloc_funcs(budget_malloc, free);
}

json_t *cg_json_parse(const char *data, size_t len, size_t budget, bool *over_budget,
                      json_error_t *err)
{
    memset(err, 0, sizeof *err);
    budget_active = true;
    budget_left = budget;
    budget_exceeded = false;
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY, err);
    budget_active = false;
    *over_budget = budget_exceeded;
    if (budget_exceeded && v) {
        json_decref(v);
        v = NULL;
    }
    return v;
}
