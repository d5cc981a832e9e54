/* logs.tail: the method table row and its handler.
 *
 * Params follow LogsTailParams strictly (cursor >= 0, limit 1..5000, maxBytes
 * 1..1000000, nothing else); one parser serves both the table's params check and the
 * handler, so the handler never trusts unchecked input. The work itself is
 * cg_logs_tail_file (logs_tail.c) on the current log file, cg_log_path(): a bounded
 * read (at most maxBytes + 1 bytes, so 1 MB) done inline on the loop thread. */
#include "methods/logs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

typedef struct logs_tail_params {
    bool has_cursor;
    json_int_t cursor, limit, max_bytes;
} logs_tail_params;

static int parse_params(const json_t *params, logs_tail_params *out, char *err, size_t errlen)
{
    out->cursor = -1;
    out->limit = CG_LOGS_TAIL_DEFAULT_LIMIT;
    out->max_bytes = CG_LOGS_TAIL_DEFAULT_MAX_BYTES;
    if (cg_params_unpack(params, err, errlen, "{s?I, s?I, s?I}", "cursor", &out->cursor, "limit",
                         &out->limit, "maxBytes", &out->max_bytes) != 0)
        return -1;
    out->has_cursor = json_object_get(params, "cursor") != NULL;
    if (out->has_cursor && out->cursor < 0) {
        snprintf(err, errlen, "at /cursor: must be >= 0");
        return -1;
    }
    if (out->limit < 1 || out->limit > CG_LOGS_TAIL_MAX_LIMIT) {
        snprintf(err, errlen, "at /limit: must be >= 1 and <= %d", CG_LOGS_TAIL_MAX_LIMIT);
        return -1;
    }
    if (out->max_bytes < 1 || out->max_bytes > CG_LOGS_TAIL_MAX_MAX_BYTES) {
        snprintf(err, errlen, "at /maxBytes: must be >= 1 and <= %d", CG_LOGS_TAIL_MAX_MAX_BYTES);
        return -1;
    }
    return 0;
}

static int check_logs_tail(const json_t *params, char *err, size_t errlen)
{
    logs_tail_params parsed;
    return parse_params(params, &parsed, err, errlen);
}

static void handle_logs_tail(cg_req *req)
{
    logs_tail_params p;
    char err[256];
    if (parse_params(req->params, &p, err, sizeof err) != 0) {
        char message[300];
        snprintf(message, sizeof message, "invalid logs.tail params: %s", err);
        cg_req_error(req, "INVALID_REQUEST", message, NULL);
        return;
    }
    const char *path = cg_log_path();
    if (!path) {
        cg_req_error(req, "UNAVAILABLE", "gateway log is not open", NULL);
        return;
    }
    json_t *result = cg_logs_tail_file(path, p.has_cursor, p.cursor, p.limit, p.max_bytes);
    if (!result) {
        char message[300];
        snprintf(message, sizeof message, "cannot read gateway log: %s", strerror(errno));
        cg_req_error(req, "UNAVAILABLE", message, NULL);
        return;
    }
    cg_req_ok(req, result);
}

const cg_method cg_methods_logs[] = {
    {.name = "logs.tail",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_logs_tail,
     .handler = handle_logs_tail,
     .summary = "Tail the gateway's JSON-lines log from a cursor"},
    {.name = NULL},
};
