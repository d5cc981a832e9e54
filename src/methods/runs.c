/* The run engine (see runs.h): sessions' queues, one model stream per running run, the
 * `chat` and `agent` events, and the transcript writes.
 *
 * A run's life, as the real gateway shapes it on the wire:
 *   submit      the user turn is appended to the transcript; the run waits in its
 *               session's lane until that write committed and the run ahead ended;
 *   start       chat status preparing_workspace; agent lifecycle start; the history is
 *               read (off the loop) -> chat status preparing_context; a reply placeholder
 *               (status "running") is appended, so a crash leaves it "interrupted";
 *               chat status starting_model; the provider stream starts;
 *   deltas      text is accumulated; the first goes out at once, later ones at most
 *               every FLUSH_MS per run (one engine timer flushes every run with text
 *               waiting): chat delta {deltaText, message: the whole text so far} and
 *               agent assistant {text, delta};
 *   end         the placeholder is replaced by the final reply (usage, stopReason,
 *               provider, model) or by what there was (aborted, error); chat final /
 *               aborted / error; agent lifecycle end or error; the next run starts.
 * Each run counts seq for its own chat and agent events together.
 *
 * The chat event's errorKind takes the schema's values (rate_limit, timeout, else
 * unknown); the finer kind (auth, server, network, ...) travels in
 * errorDetail.providerRuntimeFailureKind and in the agent lifecycle error's data. */
#include "methods/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/llm.h"
#include "agent/sessions.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "methods/models.h"
#include "methods/sessions.h"
#include "methods/skills.h"
#include "proto/frame.h"

#define FLUSH_MS 50
#define CONTEXT_MESSAGES 200               /* history sent to the model */
#define REPLY_MAX_BYTES (4u * 1024 * 1024) /* a reply beyond this is cut and ended */
#define FINISHED_KEEP_MS (10 * 60 * 1000)  /* agent.wait and repeated keys see it this long */
#define FINISHED_MAX 4096

typedef struct lane lane;
typedef struct engine engine;

struct cg_run_watch {
    struct cg_run_watch *next;
    struct run *run;
    cg_run_text_fn text;
    cg_run_end_fn end;
    void *data;
};

typedef struct run {
    struct run *next_in_lane;
    struct run *prev, *next; /* the engine's list: running and queued, then finished */
    engine *e;
    lane *lane;
    char *id, *session_key, *agent_id, *message, *thinking, *model, *system_event;
    json_t *attachments;
    cg_run_status status;
    bool user_committed, started, flush_pending;
    cg_llm_stream *stream;
    char *text;
    size_t len, cap, flushed;
    int64_t seq, reply_seq, started_at_ms, ended_at_ms;
    char *stop_reason, *error_kind, *error_message, *provider, *model_used;
    cg_llm_usage usage;
    cg_run_end_fn end;
    void *end_data;
    cg_run_watch *watches;
    json_t *context; /* the messages for the model, between the history read and the start */
} run;

struct lane {
    struct lane *next_lane;
    char *key;
    run *active;
    run *head, *tail; /* waiting, in order */
    size_t waiting;
};

struct engine {
    cg_gateway *gw;
    cg_strmap *runs;  /* id -> run (live and remembered) */
    cg_strmap *lanes; /* session key -> lane (one per session that ever ran) */
    lane *lanes_head;
    run *live_head;             /* queued and running */
    run *done_head, *done_tail; /* finished, oldest first */
    size_t n_live, n_done;
    uv_timer_t *flush_timer;
    bool flush_armed;
};

static void free_engine(void *data);
static void stop_engine(void *data);
static const cg_conn_key engine_key = {
    .name = "runs", .free_data = free_engine, .stop = stop_engine};

static engine *engine_of(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &engine_key);
}

static char *dup_or_null(const char *s)
{
    return s ? cg_strdup(s) : NULL;
}

static void run_free(run *r)
{
    free(r->id);
    free(r->session_key);
    free(r->agent_id);
    free(r->message);
    free(r->thinking);
    free(r->model);
    free(r->system_event);
    json_decref(r->attachments);
    json_decref(r->context);
    free(r->text);
    free(r->stop_reason);
    free(r->error_kind);
    free(r->error_message);
    free(r->provider);
    free(r->model_used);
    while (r->watches) {
        cg_run_watch *w = r->watches;
        r->watches = w->next;
        free(w);
    }
    free(r);
}

/* ---- events ---- */

static json_t *chat_payload(run *r, const char *state)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:s}", "runId", r->id, "sessionKey", r->session_key,
                     "agentId", r->agent_id, "seq", (json_int_t)++r->seq, "state", state);
}

static void send_chat(run *r, json_t *payload, unsigned flags)
{
    cg_gateway_broadcast(r->e->gw, "chat", payload, CG_ROLE_OPERATOR, CG_SCOPE_READ, flags);
}

static void send_agent(run *r, const char *stream, json_t *data, unsigned flags)
{
    json_t *p = json_pack("{s:s, s:I, s:s, s:I, s:o}", "runId", r->id, "seq", (json_int_t)++r->seq,
                          "stream", stream, "ts", (json_int_t)cg_now_ms(), "data", data);
    cg_gateway_broadcast(r->e->gw, "agent", p, CG_ROLE_OPERATOR, CG_SCOPE_READ, flags);
}

static void send_status(run *r, const char *phase)
{
    json_t *p = chat_payload(r, "status");
    json_object_set_new(p, "phase", json_string(phase));
    send_chat(r, p, 0);
}

static json_t *assistant_message(const run *r)
{
    json_t *text = json_stringn(r->text ? r->text : "", r->len);
    return json_pack("{s:s, s:[{s:s, s:o}], s:I}", "role", "assistant", "content", "type", "text",
                     "text", text, "timestamp", (json_int_t)cg_now_ms());
}

/* Sends the text not yet sent. */
static void flush(run *r)
{
    r->flush_pending = false;
    if (r->flushed == r->len) return;
    json_t *p = chat_payload(r, "delta");
    json_t *delta = json_stringn(r->text + r->flushed, r->len - r->flushed);
    json_object_set(p, "deltaText", delta);
    json_object_set_new(p, "message", assistant_message(r));
    send_chat(r, p, CG_EVENT_DROPPABLE);
    send_agent(r, "assistant", json_pack("{s:s%, s:O}", "text", r->text, r->len, "delta", delta),
               CG_EVENT_DROPPABLE);
    json_decref(delta);
    for (cg_run_watch *w = r->watches; w; w = w->next)
        if (w->text) w->text(r->text + r->flushed, r->len - r->flushed, w->data);
    r->flushed = r->len;
}

static void on_flush_timer(uv_timer_t *t)
{
    engine *e = t->data;
    bool more = false;
    for (run *r = e->live_head; r; r = r->next)
        if (r->flush_pending) flush(r);
    for (run *r = e->live_head; r && !more; r = r->next)
        more = r->flush_pending;
    if (!more) {
        uv_timer_stop(t);
        e->flush_armed = false;
    }
}

/* ---- the transcript ---- */

static void log_write_failure(int status, const char *error, void *data)
{
    if (status != 0)
        cg_log(CG_LOG_ERROR, "runs", "transcript write failed",
               json_pack("{s:s}", "error", error ? error : "unknown"));
}

/* The reply as the transcript keeps it. */
static json_t *reply_record(const run *r, const char *status)
{
    json_t *m = assistant_message(r);
    if (r->provider) json_object_set_new(m, "provider", json_string(r->provider));
    if (r->model_used) json_object_set_new(m, "model", json_string(r->model_used));
    json_object_set_new(m, "usage",
                        json_pack("{s:I, s:I, s:I}", "input", (json_int_t)r->usage.input, "output",
                                  (json_int_t)r->usage.output, "totalTokens",
                                  (json_int_t)(r->usage.input + r->usage.output)));
    if (r->stop_reason) json_object_set_new(m, "stopReason", json_string(r->stop_reason));
    if (r->error_message) json_object_set_new(m, "errorMessage", json_string(r->error_message));
    json_object_set_new(m, "runId", json_string(r->id));
    json_object_set_new(m, "status", json_string(status));
    return m;
}

/* ---- ending ---- */

static void lane_next(lane *l);

static void remember(engine *e, run *r)
{
    /* From the live list to the finished list. */
    if (r->prev)
        r->prev->next = r->next;
    else
        e->live_head = r->next;
    if (r->next) r->next->prev = r->prev;
    e->n_live--;
    r->prev = e->done_tail;
    r->next = NULL;
    if (e->done_tail)
        e->done_tail->next = r;
    else
        e->done_head = r;
    e->done_tail = r;
    e->n_done++;
    int64_t now = cg_now_ms();
    /* A run whose user turn is still being written is kept: its commit callback has it. */
    while (e->done_head && e->done_head->user_committed &&
           (e->n_done > FINISHED_MAX || now - e->done_head->ended_at_ms > FINISHED_KEEP_MS)) {
        run *old = e->done_head;
        e->done_head = old->next;
        if (e->done_head)
            e->done_head->prev = NULL;
        else
            e->done_tail = NULL;
        e->n_done--;
        cg_strmap_remove(e->runs, old->id);
        run_free(old);
    }
}

static void fill_result(const run *r, cg_run_result *out)
{
    *out = (cg_run_result){
        .run_id = r->id,
        .session_key = r->session_key,
        .agent_id = r->agent_id,
        .status = r->status,
        .text = r->text ? r->text : "",
        .stop_reason = r->stop_reason,
        .error_kind = r->error_kind,
        .error_message = r->error_message,
        .started_at_ms = r->started_at_ms,
        .ended_at_ms = r->ended_at_ms,
        .input_tokens = r->usage.input,
        .output_tokens = r->usage.output,
    };
}

static const char *schema_error_kind(const char *kind)
{
    if (kind && (!strcmp(kind, "rate_limit") || !strcmp(kind, "timeout"))) return kind;
    return "unknown";
}

/* The run ended (status set, the stream gone): the transcript, the events, the
 * watchers, the lane. */
static void finish(run *r)
{
    engine *e = r->e;
    lane *l = r->lane;
    r->ended_at_ms = cg_now_ms();
    if (r->flush_pending || r->flushed < r->len) flush(r);
    const char *record_status = r->status == CG_RUN_OK        ? "complete"
                                : r->status == CG_RUN_ABORTED ? "aborted"
                                                              : "error";
    if (r->reply_seq > 0) {
        json_t *m = reply_record(r, record_status);
        cg_sessions_replace(cg_gateway_sessions(e->gw), r->session_key, r->reply_seq, m,
                            log_write_failure, NULL);
        json_decref(m);
    }
    json_t *usage = json_pack("{s:I, s:I, s:I}", "input", (json_int_t)r->usage.input, "output",
                              (json_int_t)r->usage.output, "totalTokens",
                              (json_int_t)(r->usage.input + r->usage.output));
    json_t *p;
    if (r->status == CG_RUN_OK) {
        p = chat_payload(r, "final");
        json_object_set_new(p, "message", assistant_message(r));
        json_object_set_new(p, "stopReason", json_string(r->stop_reason ? r->stop_reason : "stop"));
        json_object_set(p, "usage", usage);
    } else if (r->status == CG_RUN_ABORTED) {
        p = chat_payload(r, "aborted");
        json_object_set_new(p, "message", assistant_message(r));
        json_object_set_new(p, "stopReason", json_string("rpc"));
    } else {
        p = chat_payload(r, "error");
        if (r->len) json_object_set_new(p, "message", assistant_message(r));
        json_object_set_new(p, "errorMessage",
                            json_string(r->error_message ? r->error_message : "run failed"));
        json_object_set_new(p, "errorKind", json_string(schema_error_kind(r->error_kind)));
        json_t *detail = json_object();
        if (r->provider) json_object_set_new(detail, "provider", json_string(r->provider));
        if (r->model_used) json_object_set_new(detail, "model", json_string(r->model_used));
        if (r->error_kind)
            json_object_set_new(detail, "providerRuntimeFailureKind", json_string(r->error_kind));
        json_object_set_new(p, "errorDetail", detail);
    }
    /* As the real gateway orders them: the agent usage and lifecycle end first, the chat
     * terminal event last, so a client that stops reading at final has seen the end. */
    if (r->usage.output || r->usage.input)
        send_agent(r, "usage",
                   json_pack("{s:I, s:I}", "inputTokens", (json_int_t)r->usage.input,
                             "outputTokens", (json_int_t)r->usage.output),
                   0);
    json_t *data =
        json_pack("{s:s, s:I, s:I, s:b}", "phase", r->status == CG_RUN_ERROR ? "error" : "end",
                  "startedAt", (json_int_t)r->started_at_ms, "endedAt", (json_int_t)r->ended_at_ms,
                  "aborted", r->status == CG_RUN_ABORTED);
    if (r->stop_reason) json_object_set_new(data, "stopReason", json_string(r->stop_reason));
    if (r->status == CG_RUN_ERROR) {
        json_object_set_new(data, "error",
                            json_string(r->error_message ? r->error_message : "run failed"));
        if (r->error_kind) json_object_set_new(data, "errorKind", json_string(r->error_kind));
    }
    send_agent(r, "lifecycle", data, 0);
    send_chat(r, p, 0);
    json_decref(usage);
    cg_methods_sessions_changed(e->gw, r->session_key, "run-end");

    cg_run_result result;
    fill_result(r, &result);
    cg_run_end_fn end = r->end;
    r->end = NULL;
    if (end) end(&result, r->end_data);
    while (r->watches) {
        cg_run_watch *w = r->watches;
        r->watches = w->next;
        w->end(&result, w->data);
        free(w);
    }
    if (l && l->active == r) l->active = NULL;
    r->lane = NULL;
    remember(e, r);
    if (l) lane_next(l);
}

/* ---- the model stream ---- */

static void on_delta(const char *text, size_t len, void *data)
{
    run *r = data;
    if (r->len + len > REPLY_MAX_BYTES) len = REPLY_MAX_BYTES - r->len;
    if (!len) return;
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + len + 1)
            cap *= 2;
        r->text = cg_xrealloc(r->text, cap);
        r->cap = cap;
    }
    memcpy(r->text + r->len, text, len);
    r->len += len;
    r->text[r->len] = '\0';
    engine *e = r->e;
    if (r->flushed == 0 && !r->flush_pending) {
        flush(r); /* the first delta at once */
        return;
    }
    r->flush_pending = true;
    if (!e->flush_armed) {
        uv_timer_start(e->flush_timer, on_flush_timer, FLUSH_MS, FLUSH_MS);
        e->flush_armed = true;
    }
}

static void on_stream_done(const cg_llm_outcome *o, void *data)
{
    run *r = data;
    r->stream = NULL;
    r->usage = o->usage;
    r->provider = dup_or_null(o->provider);
    r->model_used = dup_or_null(o->model);
    r->stop_reason = dup_or_null(o->stop_reason);
    if (o->note) {
        /* Shown with the text: the model asked for tools, which are not available. */
        char note[512];
        snprintf(note, sizeof note, "%s[%s]", r->len ? "\n\n" : "", o->note);
        on_delta(note, strlen(note), r);
    }
    if (o->error_kind) {
        r->status = CG_RUN_ERROR;
        r->error_kind = cg_strdup(o->error_kind);
        r->error_message = dup_or_null(o->error_message);
    } else {
        r->status = CG_RUN_OK;
    }
    finish(r);
}

json_t *cg_runs_conversation_order(const json_t *messages)
{
    /* Each reply goes right after the user turn of its run; everything else keeps its
     * place. Replies whose turn is not in the list stay where they are. */
    size_t n = json_array_size(messages);
    json_t *out = json_array();
    bool *placed = cg_xcalloc(n ? n : 1, sizeof *placed);
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *run_id = json_string_value(json_object_get(m, "runId"));
        if (placed[i]) continue;
        if (role && !strcmp(role, "assistant") && run_id) {
            bool turn_before = false;
            for (size_t j = 0; j < i && !turn_before; j++) {
                const json_t *u = json_array_get(messages, j);
                const char *urole = json_string_value(json_object_get(u, "role"));
                const char *urun = json_string_value(json_object_get(u, "runId"));
                turn_before =
                    urole && strcmp(urole, "assistant") != 0 && urun && !strcmp(urun, run_id);
            }
            if (turn_before) continue; /* placed after its turn */
        }
        json_array_append(out, (json_t *)m);
        placed[i] = true;
        if (!role || !strcmp(role, "assistant") || !run_id) continue;
        for (size_t k = i + 1; k < n; k++) {
            const json_t *a = json_array_get(messages, k);
            const char *arole = json_string_value(json_object_get(a, "role"));
            const char *arun = json_string_value(json_object_get(a, "runId"));
            if (!placed[k] && arole && !strcmp(arole, "assistant") && arun &&
                !strcmp(arun, run_id)) {
                json_array_append(out, (json_t *)a);
                placed[k] = true;
            }
        }
    }
    free(placed);
    return out;
}

/* Transcript messages as the provider takes them for run r: in conversation order, up to
 * and including r's own user turn (later turns wait for their runs); user and assistant
 * text, images of user turns kept; failed or empty replies left out. */
static json_t *model_messages(const run *r, const json_t *history)
{
    json_t *ordered = cg_runs_conversation_order(history);
    json_t *out = json_array();
    size_t i;
    const json_t *m;
    json_array_foreach(ordered, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *run_id = json_string_value(json_object_get(m, "runId"));
        const json_t *content = json_object_get(m, "content");
        if (!role) continue;
        if (!strcmp(role, "system")) {
            /* A system event (wake): the model reads it as a line of its own. */
            const char *text = json_string_value(content);
            if (text)
                json_array_append_new(out, json_pack("{s:s, s:s++}", "role", "user", "content",
                                                     "System: ", text, ""));
        } else if (!strcmp(role, "user") || !strcmp(role, "assistant")) {
            if (!strcmp(role, "assistant")) {
                const char *text =
                    json_string_value(json_object_get(json_array_get(content, 0), "text"));
                if (!text || !*text) continue;
            }
            json_array_append_new(out, json_pack("{s:s, s:O}", "role", role, "content", content));
        }
        if (strcmp(role, "assistant") != 0 && run_id && !strcmp(run_id, r->id)) break;
    }
    json_decref(ordered);
    return out;
}

static void on_prompt(char *prompt, const char *error, void *data);

static void on_history(json_t *messages, int64_t total, bool has_more, void *data)
{
    run *r = data;
    if (r->status != CG_RUN_RUNNING) { /* aborted while the history was read */
        json_decref(messages);
        finish(r);
        return;
    }
    send_status(r, "preparing_context");
    r->context = model_messages(r, messages);
    json_decref(messages);
    /* The workspace files, then the agent's eligible skills (methods/skills.c). */
    cg_methods_skills_system_prompt(r->e->gw, r->agent_id, on_prompt, r);
}

static void on_prompt(char *prompt, const char *error, void *data)
{
    run *r = data;
    if (r->status != CG_RUN_RUNNING) {
        free(prompt);
        finish(r);
        return;
    }
    if (error)
        cg_log(CG_LOG_WARN, "runs", "system prompt unavailable",
               json_pack("{s:s, s:s}", "agentId", r->agent_id, "error", error));
    cg_sessions *sessions = cg_gateway_sessions(r->e->gw);
    json_t *placeholder = reply_record(r, "running");
    r->reply_seq =
        cg_sessions_append(sessions, r->session_key, placeholder, log_write_failure, NULL);
    json_decref(placeholder);
    send_status(r, "starting_model");
    const cg_session *s = cg_sessions_find(sessions, r->session_key);
    const char *override = json_string_value(json_object_get(s ? s->meta : NULL, "model"));
    cg_llm_request req = {
        .model = r->model ? r->model : override,
        .system = prompt,
        .messages = r->context,
        .thinking = r->thinking,
    };
    static const cg_llm_callbacks callbacks = {.on_delta = on_delta, .on_done = on_stream_done};
    cg_llm *llm = cg_gateway_llm(r->e->gw);
    if (!llm) { /* the gateway is stopping */
        free(prompt);
        r->status = CG_RUN_ERROR;
        r->error_kind = cg_strdup("cancelled");
        r->error_message = cg_strdup("the gateway is shutting down");
        finish(r);
        return;
    }
    r->stream = cg_llm_start(llm, &req, &callbacks, r);
    free(prompt);
}

static void run_start(run *r)
{
    cg_methods_sessions_changed(r->e->gw, r->session_key, "run-start");
    r->started = true;
    r->status = CG_RUN_RUNNING;
    r->started_at_ms = cg_now_ms();
    send_status(r, "preparing_workspace");
    send_agent(r, "lifecycle",
               json_pack("{s:s, s:I}", "phase", "start", "startedAt", (json_int_t)r->started_at_ms),
               0);
    cg_sessions_history(cg_gateway_sessions(r->e->gw), r->session_key, CONTEXT_MESSAGES, on_history,
                        r);
}

/* Starts the lane's next run once its user turn is stored. */
static void lane_next(lane *l)
{
    if (l->active || !l->head || !l->head->user_committed) return;
    run *r = l->head;
    l->head = r->next_in_lane;
    if (!l->head) l->tail = NULL;
    l->waiting--;
    l->active = r;
    run_start(r);
}

static void on_user_committed(int status, const char *error, void *data)
{
    run *r = data;
    if (status != 0) log_write_failure(status, error, NULL);
    r->user_committed = true;
    if (r->lane) lane_next(r->lane);
}

/* ---- submitting ---- */

static lane *lane_of(engine *e, const char *key)
{
    lane *l = cg_strmap_get(e->lanes, key);
    if (!l) {
        l = cg_xcalloc(1, sizeof *l);
        l->key = cg_strdup(key);
        cg_strmap_set(e->lanes, key, l);
        l->next_lane = e->lanes_head;
        e->lanes_head = l;
    }
    return l;
}

static json_t *user_record(const cg_run_spec *spec, int64_t now)
{
    json_t *content;
    if (spec->attachments && json_array_size(spec->attachments)) {
        content = json_array();
        if (spec->message && *spec->message)
            json_array_append_new(content,
                                  json_pack("{s:s, s:s}", "type", "text", "text", spec->message));
        size_t i;
        const json_t *a;
        json_array_foreach(spec->attachments, i, a)
        {
            json_array_append_new(content, json_pack("{s:s, s:O, s:O}", "type", "image", "mimeType",
                                                     json_object_get(a, "mimeType"), "data",
                                                     json_object_get(a, "content")));
        }
    } else {
        content = json_string(spec->message ? spec->message : "");
    }
    json_t *m = json_pack("{s:s, s:o, s:I, s:s, s:s}", "role",
                          spec->system_event ? "system" : "user", "content", content, "timestamp",
                          (json_int_t)now, "runId", spec->run_id, "status", "complete");
    if (spec->system_event) json_object_set_new(m, "content", json_string(spec->system_event));
    return m;
}

int cg_runs_submit(cg_gateway *gw, const cg_run_spec *spec, cg_run_end_fn end, void *data,
                   cg_run_status *existing, json_t **error)
{
    engine *e = engine_of(gw);
    *existing = CG_RUN_UNKNOWN;
    *error = NULL;
    run *known = cg_strmap_get(e->runs, spec->run_id);
    if (known) {
        *existing = known->status;
        return 0;
    }
    if (e->n_live >= CG_RUNS_MAX) {
        *error = cg_error_new(CG_ERR_UNAVAILABLE, "too many runs in flight",
                              json_pack("{s:s}", "code", "RUN_LIMIT"));
        json_object_set_new(*error, "retryable", json_true());
        return -1;
    }
    lane *l = lane_of(e, spec->session_key);
    if (l->waiting >= CG_RUNS_QUEUE_MAX) {
        *error = cg_error_new(CG_ERR_UNAVAILABLE, "too many messages waiting in this session",
                              json_pack("{s:s}", "code", "QUEUE_FULL"));
        json_object_set_new(*error, "retryable", json_true());
        return -1;
    }
    cg_sessions *sessions = cg_gateway_sessions(gw);
    int64_t now = cg_now_ms();
    if (!cg_sessions_ensure(sessions, spec->session_key, spec->agent_id, now)) {
        *error = cg_error_new(CG_ERR_UNAVAILABLE, "too many sessions",
                              json_pack("{s:s}", "code", "SESSION_LIMIT"));
        return -1;
    }
    if (spec->queue_only) {
        /* Read by the session's next run, whoever starts it. */
        json_t *event = user_record(spec, now);
        json_object_del(event, "runId");
        int64_t seq =
            cg_sessions_append(sessions, spec->session_key, event, log_write_failure, NULL);
        json_decref(event);
        if (seq < 0) {
            const char *why = cg_sessions_error(sessions);
            *error = cg_error_new(CG_ERR_INVALID_REQUEST, why ? why : "system event not stored",
                                  json_pack("{s:s}", "code", "TRANSCRIPT_REFUSED"));
            return -1;
        }
        return 0;
    }
    run *r = cg_xcalloc(1, sizeof *r);
    r->e = e;
    r->id = cg_strdup(spec->run_id);
    r->session_key = cg_strdup(spec->session_key);
    r->agent_id = cg_strdup(spec->agent_id);
    r->message = dup_or_null(spec->message);
    r->thinking = dup_or_null(spec->thinking);
    r->model = dup_or_null(spec->model);
    r->system_event = dup_or_null(spec->system_event);
    r->attachments = spec->attachments ? json_deep_copy(spec->attachments) : NULL;
    r->status = CG_RUN_QUEUED;
    r->end = end;
    r->end_data = data;
    r->lane = l;
    cg_strmap_set(e->runs, r->id, r);
    r->next = e->live_head;
    if (e->live_head) e->live_head->prev = r;
    e->live_head = r;
    e->n_live++;
    if (l->tail)
        l->tail->next_in_lane = r;
    else
        l->head = r;
    l->tail = r;
    l->waiting++;
    json_t *user = user_record(spec, now);
    int64_t seq = cg_sessions_append(sessions, r->session_key, user, on_user_committed, r);
    json_decref(user);
    if (seq < 0) {
        /* Not stored (a full transcript, a message too large): the run never was. */
        const char *why = cg_sessions_error(sessions);
        *error = cg_error_new(CG_ERR_INVALID_REQUEST, why ? why : "message not stored",
                              json_pack("{s:s}", "code", "TRANSCRIPT_REFUSED"));
        l->tail = NULL;
        run **link = &l->head;
        while (*link && *link != r)
            link = &(*link)->next_in_lane;
        *link = NULL;
        for (run *q = l->head; q; q = q->next_in_lane)
            l->tail = q;
        l->waiting--;
        e->live_head = r->next;
        if (r->next) r->next->prev = NULL;
        e->n_live--;
        cg_strmap_remove(e->runs, r->id);
        run_free(r);
        return -1;
    }
    cg_methods_sessions_changed(gw, r->session_key, "message");
    return 0;
}

/* ---- aborting, looking up, watching ---- */

static void abort_run(run *r)
{
    lane *l = r->lane;
    if (r->status != CG_RUN_QUEUED && r->status != CG_RUN_RUNNING) return;
    if (r->status == CG_RUN_QUEUED) {
        /* Out of the queue: it never started. */
        run **link = &l->head;
        run *prev = NULL;
        for (; *link && *link != r; prev = *link, link = &(*link)->next_in_lane)
            ;
        if (*link) {
            *link = r->next_in_lane;
            if (l->tail == r) l->tail = prev;
            l->waiting--;
        }
        r->status = CG_RUN_ABORTED;
        r->stop_reason = cg_strdup("rpc");
        r->lane = NULL;
        finish(r);
        return;
    }
    r->status = CG_RUN_ABORTED;
    free(r->stop_reason);
    r->stop_reason = cg_strdup("rpc");
    if (r->stream) {
        cg_llm_cancel(r->stream);
        r->stream = NULL;
        finish(r);
    }
    /* Else the history is being read: on_history finishes it. */
}

void cg_runs_abort(cg_gateway *gw, const char *session_key, const char *run_id, json_t *run_ids)
{
    cg_runs_abort_ex(gw, session_key, run_id, true, run_ids);
}

void cg_runs_abort_ex(cg_gateway *gw, const char *session_key, const char *run_id, bool queued,
                      json_t *run_ids)
{
    engine *e = engine_of(gw);
    lane *l = cg_strmap_get(e->lanes, session_key);
    if (!l) return;
    run *victims[CG_RUNS_QUEUE_MAX + 1];
    size_t n = 0;
    if (l->active && (!run_id || !strcmp(l->active->id, run_id))) victims[n++] = l->active;
    for (run *r = queued ? l->head : NULL; r && n < CG_RUNS_QUEUE_MAX + 1; r = r->next_in_lane)
        if (!run_id || !strcmp(r->id, run_id)) victims[n++] = r;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(run_ids, json_string(victims[i]->id));
        abort_run(victims[i]);
    }
}

cg_run_status cg_runs_lookup(cg_gateway *gw, const char *run_id, cg_run_result *result)
{
    run *r = cg_strmap_get(engine_of(gw)->runs, run_id);
    if (!r) return CG_RUN_UNKNOWN;
    if (result) fill_result(r, result);
    return r->status;
}

cg_run_watch *cg_runs_watch(cg_gateway *gw, const char *run_id, cg_run_end_fn end, void *data)
{
    return cg_runs_watch_text(gw, run_id, NULL, end, data);
}

cg_run_watch *cg_runs_watch_text(cg_gateway *gw, const char *run_id, cg_run_text_fn text,
                                 cg_run_end_fn end, void *data)
{
    run *r = cg_strmap_get(engine_of(gw)->runs, run_id);
    if (!r || (r->status != CG_RUN_QUEUED && r->status != CG_RUN_RUNNING)) return NULL;
    cg_run_watch *w = cg_xcalloc(1, sizeof *w);
    w->run = r;
    w->text = text;
    w->end = end;
    w->data = data;
    w->next = r->watches;
    r->watches = w;
    return w;
}

void cg_runs_unwatch(cg_run_watch *w)
{
    if (!w) return;
    for (cg_run_watch **link = &w->run->watches; *link; link = &(*link)->next) {
        if (*link != w) continue;
        *link = w->next;
        free(w);
        return;
    }
}

/* ---- life cycle ---- */

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

static void stop_engine(void *data)
{
    engine *e = data;
    for (run *r = e->live_head; r; r = r->next)
        if (r->stream) {
            cg_llm_cancel(r->stream);
            r->stream = NULL;
        }
    if (e->flush_timer) {
        uv_close((uv_handle_t *)e->flush_timer, timer_closed);
        e->flush_timer = NULL;
    }
}

static void free_engine(void *data)
{
    engine *e = data;
    for (run *r = e->live_head, *next; r; r = next) {
        next = r->next;
        run_free(r);
    }
    for (run *r = e->done_head, *next; r; r = next) {
        next = r->next;
        run_free(r);
    }
    cg_strmap_free(e->runs);
    for (lane *l = e->lanes_head, *next; l; l = next) {
        next = l->next_lane;
        free(l->key);
        free(l);
    }
    cg_strmap_free(e->lanes);
    free(e);
}

/* A session about to be reset, deleted or compacted: its runs stop first. */
static void on_session_change(cg_gateway *gw, const char *key, const char *reason, void *data)
{
    json_t *ids = json_array();
    cg_runs_abort(gw, key, NULL, ids);
    json_decref(ids);
}

void cg_methods_runs_attach(cg_gateway *gw)
{
    engine *e = cg_xcalloc(1, sizeof *e);
    e->gw = gw;
    e->runs = cg_strmap_new();
    e->lanes = cg_strmap_new();
    e->flush_timer = cg_xmalloc(sizeof *e->flush_timer);
    uv_timer_init(cg_gateway_loop(gw), e->flush_timer);
    e->flush_timer->data = e;
    cg_gateway_set_data(gw, &engine_key, e);
    cg_methods_sessions_add_hook(gw, on_session_change, NULL);
}
