/* A request being answered, and the method table row that answers it.
 *
 * Handlers run on the loop thread. A handler answers exactly once, with cg_req_ok /
 * cg_req_error, either before it returns or later: to answer later (a node invoke, an
 * approval, a thread-pool job) it calls cg_req_defer() and keeps the returned copy;
 * the copy holds a reference on the connection, so answering after the client left
 * is safe (the answer is dropped). */
#ifndef CG_GATEWAY_REQUEST_H
#define CG_GATEWAY_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct cg_gateway;
struct cg_conn;
struct cg_method;

typedef struct cg_req {
    struct cg_gateway *gw;
    struct cg_conn *conn;
    const struct cg_method *method;
    char *id;       /* the request id, owned by the request */
    json_t *params; /* never NULL: {} when absent; a reference owned by the request */
    bool answered;
    bool deferred;
} cg_req;

/* Answers ok; `payload` is consumed (NULL answers without a payload). */
void cg_req_ok(cg_req *req, json_t *payload);
/* Answers ok with a payload that is already serialized JSON. */
void cg_req_ok_raw(cg_req *req, const char *payload_json, size_t len);
/* Answers an error; `details` (may be NULL) is consumed. */
void cg_req_error(cg_req *req, const char *code, const char *message, json_t *details);
/* Answers an error shape built with cg_error_new (consumed). */
void cg_req_error_shape(cg_req *req, json_t *error);
/* Moves the request to the heap to answer after the handler returns. The original must
 * not be used afterwards. The copy is freed by its answer. */
cg_req *cg_req_defer(cg_req *req);

#endif
