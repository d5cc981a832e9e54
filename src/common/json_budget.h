/* A per-parse allocation budget for jansson (CONTRACT.md: gateway.limits.jsonBudgetBytes).
 *
 * A 25 MiB message of `[{},{},...]` would otherwise make jansson allocate ~2 GiB. The
 * allocator hooks count bytes per thread while a budgeted parse runs and fail the
 * allocation that would pass the budget, which makes the parse fail cleanly. */
#ifndef CG_COMMON_JSON_BUDGET_H
#define CG_COMMON_JSON_BUDGET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Installs the allocator hooks; call once before any JSON is allocated or any thread runs. */
void cg_json_budget_install(void);

/* json_loadb (a duplicate key keeps the last value, as JSON.parse does) under a budget. On failure
 * returns NULL, sets *over_budget when the budget was the cause, and err's text otherwise. */
json_t *cg_json_parse(const char *data, size_t len, size_t budget, bool *over_budget,
                      json_error_t *err);

#endif
