/* The chat and agent methods over the run engine (methods/runs.c): chat.send,
 * chat.abort, chat.history, chat.inject, agent, agent.wait (send is in channels.c).
 *
 * chat.send answers at once {runId: idempotencyKey, status: "started"}; the run's
 * events follow (runs.c). A repeated key starts nothing: "in_flight" while that run
 * lives, "ok" after. `agent` answers twice on one request id, as the seed's two-phase
 * reply: {runId, agentId, sessionKey, status: "accepted", acceptedAt}, then the result
 * (or ok:false UNAVAILABLE when the run failed). agent.wait answers when the run ends or
 * when its timeout passes ({status: "timeout"}, also for a run it does not know). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/llm.h"
#include "agent/sessions.h"
#include "common/util.h"
#include "methods/models.h"
#include "methods/runs.h"
#include "methods/sessions.h"
#include "proto/frame.h"

#define ATTACHMENT_MAX_BYTES (5u * 1024 * 1024)
#define ATTACHMENTS_MAX 8
#define HISTORY_DEFAULT_LIMIT 200
#define AGENT_RUN_TIMEOUT_MS (10 * 60 * 1000)
#define WAIT_DEFAULT_MS 30000
#define WAIT_MAX_MS (10 * 60 * 1000)

static const char *str(const cg_req *req, const char *key)
{
    return json_string_value(json_object_get(req->params, key));
}

/* The canonical key of req's sessionKey (with its agentId) into out; false (answered)
 * when it is not one or its agent does not exist. */
static bool session_key(cg_req *req, const char *key, char *out, size_t len)
{
    json_t *error = NULL;
    if (cg_methods_session_key(req->gw, key, str(req, "agentId"), out, len, &error)) return true;
    cg_req_error_shape(req, error);
    return false;
}

/* The agent of a canonical key into out. */
static void agent_of_key(const char *key, char *out, size_t len)
{
    if (!cg_session_key_agent(key, out, len)) snprintf(out, len, "%s", CG_AGENTS_DEFAULT_ID);
}

/* ---- chat.send ---- */

/* Images only (png, jpeg, webp), base64 within ATTACHMENT_MAX_BYTES decoded, for a model
 * that takes images. NULL when fine, else the message. */
static const char *attachments_refused(cg_gateway *gw, const json_t *list, const char *model)
{
    if (!list) return NULL;
    if (!json_is_array(list) || json_array_size(list) > ATTACHMENTS_MAX)
        return "attachments must be an array of at most 8 images";
    size_t i;
    const json_t *a;
    json_array_foreach(list, i, a)
    {
        const char *mime = json_string_value(json_object_get(a, "mimeType"));
        const char *content = json_string_value(json_object_get(a, "content"));
        if (!mime || (strcmp(mime, "image/png") != 0 && strcmp(mime, "image/jpeg") != 0 &&
                      strcmp(mime, "image/webp") != 0))
            return "only image attachments (image/png, image/jpeg, image/webp) are supported";
        if (!content || !*content) return "an image attachment needs its base64 content";
        if (strlen(content) / 4 * 3 > ATTACHMENT_MAX_BYTES)
            return "an image attachment is larger than 5 MB";
        if (content[strspn(content, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789+/=\r\n")] != '\0')
            return "an image attachment's content is not base64";
    }
    if (json_array_size(list) && !cg_llm_accepts_images(cg_gateway_llm(gw), model))
        return "the model does not take images; choose a model whose input includes images";
    return NULL;
}

/* chat.send takes the schema's keys and ignores the others the real Control UI sends
 * (mentions, workContext, __controlUiReconnectResume, ...). */
static int check_send(const json_t *params, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "at root: must be object");
        return -1;
    }
    static const char *const required[] = {"sessionKey", "message", "idempotencyKey", NULL};
    for (const char *const *k = required; *k; k++) {
        const json_t *v = json_object_get(params, *k);
        if (!v) {
            snprintf(err, errlen, "must have required property '%s'", *k);
            return -1;
        }
        if (!json_is_string(v)) {
            snprintf(err, errlen, "at /%s: must be string", *k);
            return -1;
        }
    }
    size_t key_len = json_string_length(json_object_get(params, "sessionKey"));
    if (key_len < 1 || key_len > 512) {
        snprintf(err, errlen, "at /sessionKey: must be 1 to 512 characters");
        return -1;
    }
    if (!json_string_length(json_object_get(params, "idempotencyKey"))) {
        snprintf(err, errlen, "at /idempotencyKey: must not have fewer than 1 characters");
        return -1;
    }
    const json_t *thinking = json_object_get(params, "thinking");
    if (thinking && !json_is_string(thinking)) {
        snprintf(err, errlen, "at /thinking: must be string");
        return -1;
    }
    return 0;
}

static void handle_send(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF], agent[CG_AGENT_ID_MAX + 1];
    if (!session_key(req, str(req, "sessionKey"), key, sizeof key)) return;
    agent_of_key(key, agent, sizeof agent);
    const json_t *attachments = json_object_get(req->params, "attachments");
    const char *refused = attachments_refused(req->gw, attachments, NULL);
    if (refused) {
        cg_req_error(req, CG_ERR_INVALID_REQUEST, refused,
                     json_pack("{s:s}", "code", "INVALID_ATTACHMENT"));
        return;
    }
    const char *run_id = str(req, "idempotencyKey");
    cg_run_spec spec = {
        .run_id = run_id,
        .session_key = key,
        .agent_id = agent,
        .message = str(req, "message"),
        .attachments = attachments,
        .thinking = str(req, "thinking"),
    };
    cg_run_status existing;
    json_t *error;
    if (cg_runs_submit(req->gw, &spec, NULL, NULL, &existing, &error) != 0) {
        cg_req_error_shape(req, error);
        return;
    }
    const char *status = existing == CG_RUN_UNKNOWN                                ? "started"
                         : existing == CG_RUN_QUEUED || existing == CG_RUN_RUNNING ? "in_flight"
                                                                                   : "ok";
    cg_req_ok(req, json_pack("{s:s, s:s}", "runId", run_id, "status", status));
}

/* ---- chat.abort, chat.history, chat.inject ---- */

static void handle_abort(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    if (!session_key(req, str(req, "sessionKey"), key, sizeof key)) return;
    json_t *ids = json_array();
    cg_runs_abort(req->gw, key, str(req, "runId"), ids);
    cg_req_ok(req, json_pack("{s:b, s:b, s:o}", "ok", 1, "aborted", json_array_size(ids) > 0,
                             "runIds", ids));
}

typedef struct history_read {
    cg_req *req;
    char *key;
} history_read;

static void history_left(cg_req *req, cg_req_end why, void *data)
{
    history_read *h = data;
    h->req = NULL; /* the read finishes and is dropped */
}

/* The transcript as chat.history shows it: conversation order, without clawgate's
 * bookkeeping (__openclaw), a reply's status only when it did not complete. */
static json_t *history_view(const json_t *messages)
{
    json_t *out = cg_runs_conversation_order(messages);
    size_t i;
    json_t *m;
    json_array_foreach(out, i, m)
    {
        json_t *copy = json_copy(m);
        json_object_del(copy, "__openclaw");
        const char *status = json_string_value(json_object_get(copy, "status"));
        if (status && !strcmp(status, "complete")) json_object_del(copy, "status");
        json_array_set_new(out, i, copy);
    }
    return out;
}

static void on_history(json_t *messages, int64_t total, bool has_more, void *data)
{
    history_read *h = data;
    if (h->req) {
        cg_req_on_cancel(h->req, NULL, NULL);
        const cg_session *s = cg_sessions_find(cg_gateway_sessions(h->req->gw), h->key);
        json_t *result = json_pack("{s:s, s:o, s:o, s:b, s:I}", "sessionKey", h->key, "sessionId",
                                   s ? json_string(s->session_id) : json_null(), "messages",
                                   history_view(messages), "hasMore", has_more, "totalMessages",
                                   (json_int_t)total);
        if (!s) json_object_del(result, "sessionId");
        cg_req_ok(h->req, result);
    }
    json_decref(messages);
    free(h->key);
    free(h);
}

static void handle_history(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF];
    if (!session_key(req, str(req, "sessionKey"), key, sizeof key)) return;
    const json_t *limit = json_object_get(req->params, "limit");
    history_read *h = cg_xcalloc(1, sizeof *h);
    h->key = cg_strdup(key);
    h->req = cg_req_defer(req);
    if (!h->req) {
        free(h->key);
        free(h);
        return;
    }
    cg_req_on_cancel(h->req, history_left, h);
    cg_sessions_history(cg_gateway_sessions(h->req->gw), key,
                        limit ? json_integer_value(limit) : HISTORY_DEFAULT_LIMIT, on_history, h);
}

static void on_injected(int status, const char *error, void *data)
{
    cg_req_hold *hold = data;
    cg_req_hold_answer(hold, status, error, "transcript entry", json_pack("{s:b}", "ok", 1));
    free(hold);
}

/* chat.inject: an assistant entry in the transcript, without a run. */
static void handle_inject(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF], agent[CG_AGENT_ID_MAX + 1];
    if (!session_key(req, str(req, "sessionKey"), key, sizeof key)) return;
    agent_of_key(key, agent, sizeof agent);
    cg_sessions *sessions = cg_gateway_sessions(req->gw);
    if (!cg_sessions_ensure(sessions, key, agent, cg_now_ms())) {
        cg_req_error(req, CG_ERR_UNAVAILABLE, "too many sessions", NULL);
        return;
    }
    json_t *m = json_pack("{s:s, s:[{s:s, s:s}], s:I, s:s}", "role", "assistant", "content", "type",
                          "text", "text", str(req, "message"), "timestamp", (json_int_t)cg_now_ms(),
                          "status", "complete");
    if (str(req, "label")) json_object_set_new(m, "label", json_string(str(req, "label")));
    cg_req_hold *hold = cg_xcalloc(1, sizeof *hold);
    if (!cg_req_hold_start(hold, req)) {
        free(hold);
        json_decref(m);
        return;
    }
    cg_sessions_append(sessions, key, m, on_injected, hold);
    json_decref(m);
    cg_methods_sessions_changed(hold->req->gw, key, "inject");
}

/* ---- agent, agent.wait ---- */

static void agent_left(cg_req *req, cg_req_end why, void *data)
{
    *(cg_req **)data = NULL;
}

static void on_agent_end(const cg_run_result *r, void *data)
{
    cg_req **slot = data;
    cg_req *req = *slot;
    free(slot);
    if (!req) return;
    cg_req_on_cancel(req, NULL, NULL);
    if (r->status == CG_RUN_OK) {
        cg_req_ok(req, json_pack("{s:s, s:s, s:s, s:{s:[{s:s, s:n}], s:{s:I}}}", "runId", r->run_id,
                                 "status", "ok", "summary", "completed", "result", "payloads",
                                 "text", r->text, "mediaUrl", "meta", "durationMs",
                                 (json_int_t)(r->ended_at_ms - r->started_at_ms)));
    } else {
        const char *message = r->status == CG_RUN_ABORTED ? "run aborted"
                              : r->error_message          ? r->error_message
                                                          : "run failed";
        json_t *details = json_pack("{s:s, s:s}", "runId", r->run_id, "status",
                                    r->status == CG_RUN_ABORTED ? "aborted" : "error");
        if (r->error_kind) json_object_set_new(details, "errorKind", json_string(r->error_kind));
        cg_req_error(req, CG_ERR_UNAVAILABLE, message, details);
    }
}

static void handle_agent(cg_req *req)
{
    cg_gateway *gw = req->gw;
    cg_agent *known = cg_agents_find(
        cg_gateway_agents(gw), str(req, "agentId") ? str(req, "agentId") : CG_AGENTS_DEFAULT_ID);
    if (!known) {
        cg_req_error(
            req, CG_ERR_INVALID_REQUEST, "unknown agent id",
            json_pack("{s:s, s:s}", "code", "UNKNOWN_AGENT_ID", "agentId", str(req, "agentId")));
        return;
    }
    char agent[CG_AGENT_ID_MAX + 1];
    snprintf(agent, sizeof agent, "%s", known->id);
    cg_agent_free(known);
    const char *run_id = str(req, "idempotencyKey");
    char key[CG_SESSION_KEY_BUF], raw[CG_SESSION_KEY_BUF];
    if (str(req, "sessionKey") && *str(req, "sessionKey"))
        snprintf(raw, sizeof raw, "%s", str(req, "sessionKey"));
    else if (str(req, "sessionId") && *str(req, "sessionId")) /* `openclaw agent --session-id` */
        snprintf(raw, sizeof raw, "agent:%s:explicit:%s", agent, str(req, "sessionId"));
    else /* a run without a key, as OpenClaw names it */
        snprintf(raw, sizeof raw, "agent:%s:explicit:%s", agent, run_id);
    if (!session_key(req, raw, key, sizeof key)) return;
    cg_req **slot = cg_xcalloc(1, sizeof *slot);
    cg_req *pending = cg_req_defer(req);
    if (!pending) {
        free(slot);
        return;
    }
    *slot = pending;
    cg_req_set_timeout(pending, AGENT_RUN_TIMEOUT_MS);
    cg_run_spec spec = {
        .run_id = run_id,
        .session_key = key,
        .agent_id = agent,
        .message = str(pending, "message"),
        .thinking = str(pending, "thinking"),
        .model = str(pending, "model"),
    };
    cg_run_status existing;
    json_t *error;
    if (cg_runs_submit(gw, &spec, on_agent_end, slot, &existing, &error) != 0) {
        free(slot);
        cg_req_error_shape(pending, error);
        return;
    }
    if (existing != CG_RUN_UNKNOWN) {
        /* A repeated key: its run is already there; wait for it or answer at once. */
        cg_run_result result;
        if (existing != CG_RUN_QUEUED && existing != CG_RUN_RUNNING) {
            cg_runs_lookup(gw, run_id, &result);
            on_agent_end(&result, slot);
            return;
        }
        cg_runs_watch(gw, run_id, on_agent_end, slot);
    }
    cg_req_on_cancel(pending, agent_left, slot);
    cg_req_accept(pending, json_pack("{s:s, s:s, s:s, s:s, s:I}", "runId", run_id, "sessionKey",
                                     key, "agentId", agent, "status", "accepted", "acceptedAt",
                                     (json_int_t)cg_now_ms()));
}

typedef struct wait {
    cg_req *req;
    cg_run_watch *watch;
    uv_timer_t *timer;
} wait;

static void wait_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void wait_end(wait *w)
{
    if (w->watch) cg_runs_unwatch(w->watch);
    uv_close((uv_handle_t *)w->timer, wait_timer_closed);
    free(w);
}

static json_t *wait_result(const cg_run_result *r)
{
    if (r->status == CG_RUN_OK)
        return json_pack("{s:s, s:s, s:I, s:s}", "runId", r->run_id, "status", "ok", "endedAt",
                         (json_int_t)r->ended_at_ms, "stopReason",
                         r->stop_reason ? r->stop_reason : "stop");
    return json_pack("{s:s, s:s, s:I, s:s}", "runId", r->run_id, "status", "error", "endedAt",
                     (json_int_t)r->ended_at_ms, "error",
                     r->status == CG_RUN_ABORTED ? "run aborted"
                     : r->error_message          ? r->error_message
                                                 : "run failed");
}

static void on_wait_end(const cg_run_result *r, void *data)
{
    wait *w = data;
    w->watch = NULL; /* the engine frees its watch after this */
    cg_req_on_cancel(w->req, NULL, NULL);
    cg_req_ok(w->req, wait_result(r));
    wait_end(w);
}

static void on_wait_timeout(uv_timer_t *t)
{
    wait *w = t->data;
    cg_req_on_cancel(w->req, NULL, NULL);
    cg_req_ok(w->req, json_pack("{s:s, s:s}", "runId", str(w->req, "runId"), "status", "timeout"));
    wait_end(w);
}

static void wait_left(cg_req *req, cg_req_end why, void *data)
{
    wait_end(data);
}

static void handle_wait(cg_req *req)
{
    const char *run_id = str(req, "runId");
    const json_t *t = json_object_get(req->params, "timeoutMs");
    uint64_t timeout = t ? (uint64_t)json_integer_value(t) : WAIT_DEFAULT_MS;
    if (timeout > WAIT_MAX_MS) timeout = WAIT_MAX_MS;
    cg_run_result result;
    cg_run_status status = cg_runs_lookup(req->gw, run_id, &result);
    if (status == CG_RUN_UNKNOWN || timeout == 0) {
        if (status == CG_RUN_UNKNOWN || status == CG_RUN_QUEUED || status == CG_RUN_RUNNING)
            cg_req_ok(req, json_pack("{s:s, s:s}", "runId", run_id, "status", "timeout"));
        else
            cg_req_ok(req, wait_result(&result));
        return;
    }
    if (status != CG_RUN_QUEUED && status != CG_RUN_RUNNING) {
        cg_req_ok(req, wait_result(&result));
        return;
    }
    wait *w = cg_xcalloc(1, sizeof *w);
    w->req = cg_req_defer(req);
    if (!w->req) {
        free(w);
        return;
    }
    cg_req_set_timeout(w->req, timeout + 5000);
    w->timer = cg_xmalloc(sizeof *w->timer);
    uv_timer_init(cg_gateway_loop(w->req->gw), w->timer);
    w->timer->data = w;
    uv_timer_start(w->timer, on_wait_timeout, timeout, 0);
    w->watch = cg_runs_watch(w->req->gw, run_id, on_wait_end, w);
    cg_req_on_cancel(w->req, wait_left, w);
}

/* sessions.abort {key?, runId?, agentId?, clearQueued?}: the running run of a session
 * (found by its key, or by the run id); the queue too with clearQueued. */
static void handle_sessions_abort(cg_req *req)
{
    const char *run_id = str(req, "runId");
    char key[CG_SESSION_KEY_BUF];
    if (str(req, "key")) {
        if (!session_key(req, str(req, "key"), key, sizeof key)) return;
    } else if (run_id) {
        cg_run_result r;
        if (cg_runs_lookup(req->gw, run_id, &r) == CG_RUN_UNKNOWN) {
            cg_req_ok(req, json_pack("{s:b, s:n, s:s}", "ok", 1, "abortedRunId", "status",
                                     "no-active-run"));
            return;
        }
        snprintf(key, sizeof key, "%s", r.session_key);
    } else {
        cg_req_error(req, CG_ERR_INVALID_REQUEST, "key or runId required", NULL);
        return;
    }
    json_t *ids = json_array();
    cg_runs_abort_ex(req->gw, key, run_id,
                     json_is_true(json_object_get(req->params, "clearQueued")), ids);
    bool aborted = json_array_size(ids) > 0;
    json_t *first = json_array_get(ids, 0);
    cg_req_ok(req,
              json_pack("{s:b, s:O, s:s}", "ok", 1, "abortedRunId", aborted ? first : json_null(),
                        "status", aborted ? "aborted" : "no-active-run"));
    json_decref(ids);
    if (aborted) cg_methods_sessions_changed(req->gw, key, "abort");
}

/* wake {mode, text, sessionKey?, agentId?}: a system event for the agent's (main)
 * session; mode "now" also starts a run that reads it, "next-heartbeat" leaves it for the
 * session's next run. */
static void handle_wake(cg_req *req)
{
    char key[CG_SESSION_KEY_BUF], agent[CG_AGENT_ID_MAX + 1];
    if (!session_key(req, str(req, "sessionKey") ? str(req, "sessionKey") : "main", key,
                     sizeof key))
        return;
    agent_of_key(key, agent, sizeof agent);
    bool now = !strcmp(str(req, "mode"), "now");
    char run_id[48] = "wake:";
    cg_uuid4(run_id + 5);
    cg_run_spec spec = {.run_id = run_id,
                        .session_key = key,
                        .agent_id = agent,
                        .system_event = str(req, "text"),
                        .queue_only = !now};
    cg_run_status existing;
    json_t *error;
    if (cg_runs_submit(req->gw, &spec, NULL, NULL, &existing, &error) != 0) {
        cg_req_error_shape(req, error);
        return;
    }
    json_t *result = json_pack("{s:b, s:s, s:s}", "ok", 1, "mode", now ? "now" : "next-heartbeat",
                               "eventOutcome", "queued");
    if (now) json_object_set_new(result, "runId", json_string(run_id));
    cg_req_ok(req, result);
}

/* ---- params ---- */

static int check_abort(const json_t *params, char *err, size_t errlen)
{
    const char *key, *agent = NULL, *run_id = NULL;
    int preserve = 0;
    return cg_params_unpack(params, err, errlen, "{s:s, s?:s, s?:s, s?:b}", "sessionKey", &key,
                            "agentId", &agent, "runId", &run_id, "preserveSideRuns", &preserve);
}

/* ChatHistoryParams, plus maxBytes as the real gateway takes it (the Control UI sends it,
 * and inputRunIds, after each run; chat.startup takes the same keys). clawgate keeps no
 * pending inputs, so inputRunIds has no receipts to add. */
static int check_history(const json_t *params, char *err, size_t errlen)
{
    const char *key, *s = NULL;
    json_t *limit = NULL, *max_bytes = NULL, *run_ids = NULL, *other = NULL;
    if (cg_params_unpack(params, err, errlen,
                         "{s:s, s?:s, s?:o, s?:o, s?:s, s?:s, s?:o, s?:o, s?:o, s?:o, s?:s}",
                         "sessionKey", &key, "agentId", &s, "limit", &limit, "offset", &other,
                         "cursor", &s, "sessionId", &s, "maxChars", &other, "maxBytes", &max_bytes,
                         "pendingBefore", &other, "inputRunIds", &run_ids, "messageId", &s))
        return -1;
    if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
                  json_integer_value(limit) > 1000)) {
        snprintf(err, errlen, "at /limit: must be an integer from 1 to 1000");
        return -1;
    }
    if (max_bytes && (!json_is_integer(max_bytes) || json_integer_value(max_bytes) < 1)) {
        snprintf(err, errlen, "at /maxBytes: must be an integer of at least 1");
        return -1;
    }
    if (run_ids) {
        size_t i, n = json_array_size(run_ids);
        json_t *id;
        if (!json_is_array(run_ids) || n < 1 || n > 50) {
            snprintf(err, errlen, "at /inputRunIds: must be an array of 1 to 50 run ids");
            return -1;
        }
        json_array_foreach(run_ids, i, id)
        {
            size_t len = json_string_length(id);
            if (!json_is_string(id) || len < 1 || len > 256) {
                snprintf(err, errlen, "at /inputRunIds/%zu: must be a run id string", i);
                return -1;
            }
        }
    }
    return 0;
}

static int check_inject(const json_t *params, char *err, size_t errlen)
{
    const char *key, *message, *agent = NULL, *label = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s:s, s?:s, s?:s}", "sessionKey", &key,
                         "message", &message, "agentId", &agent, "label", &label))
        return -1;
    if (!*message) {
        snprintf(err, errlen, "at /message: must not have fewer than 1 characters");
        return -1;
    }
    return 0;
}

static int check_agent(const json_t *params, char *err, size_t errlen)
{
    const char *message, *key, *s = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s:s, s?:s, s?:s, s?:s, s?:s, s?:s, *}",
                         "message", &message, "idempotencyKey", &key, "agentId", &s, "sessionKey",
                         &s, "sessionId", &s, "thinking", &s, "model", &s))
        return -1;
    if (!*message || !*key) {
        snprintf(err, errlen, "at /%s: must not have fewer than 1 characters",
                 !*message ? "message" : "idempotencyKey");
        return -1;
    }
    return 0;
}

static int check_sessions_abort(const json_t *params, char *err, size_t errlen)
{
    const char *s = NULL;
    int clear = 0;
    return cg_params_unpack(params, err, errlen, "{s?:s, s?:s, s?:s, s?:b}", "key", &s, "runId", &s,
                            "agentId", &s, "clearQueued", &clear);
}

static int check_wake(const json_t *params, char *err, size_t errlen)
{
    const char *mode, *text, *s = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s:s, s?:s, s?:s, *}", "mode", &mode, "text",
                         &text, "sessionKey", &s, "agentId", &s))
        return -1;
    if (strcmp(mode, "now") != 0 && strcmp(mode, "next-heartbeat") != 0) {
        snprintf(err, errlen, "at /mode: must be \"now\" or \"next-heartbeat\"");
        return -1;
    }
    if (!*text) {
        snprintf(err, errlen, "at /text: must not have fewer than 1 characters");
        return -1;
    }
    return 0;
}

static int check_wait(const json_t *params, char *err, size_t errlen)
{
    const char *run_id;
    json_t *t = NULL;
    if (cg_params_unpack(params, err, errlen, "{s:s, s?:o}", "runId", &run_id, "timeoutMs", &t))
        return -1;
    if (t && (!json_is_integer(t) || json_integer_value(t) < 0)) {
        snprintf(err, errlen, "at /timeoutMs: must be an integer >= 0");
        return -1;
    }
    return 0;
}

const cg_method cg_methods_chat[] = {
    {.name = "chat.send",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_send,
     .handler = handle_send,
     .summary = "Send a message to a session; the reply streams as chat events"},
    {.name = "chat.abort",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_abort,
     .handler = handle_abort,
     .summary = "Stop a session's run (and its queue), keeping the partial text"},
    {.name = "chat.history",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_history,
     .handler = handle_history,
     .summary = "A session's transcript, newest last"},
    {.name = "chat.inject",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_inject,
     .handler = handle_inject,
     .summary = "Add an assistant entry to a transcript without a run"},
    {.name = "agent",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_agent,
     .handler = handle_agent,
     .summary = "Run an agent: accepted now, the result on the same request id"},
    {.name = "agent.wait",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_wait,
     .handler = handle_wait,
     .summary = "Wait for a run to end (or the timeout)"},
    {.name = "sessions.abort",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_sessions_abort,
     .handler = handle_sessions_abort,
     .summary = "Stop a session's running run (its queue too with clearQueued)"},
    {.name = "wake",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_wake,
     .handler = handle_wake,
     .summary = "A system event for an agent's session; mode now also runs it"},
    {0},
};
