/* cg_llm: the providers of one configuration and the completions streaming through them.
 * See llm.h for the contract and llm_internal.h for the files.
 *
 * A stream walks its chain of models (the one asked for or the default, then the
 * fallbacks). Each model gets attempts: one, plus retries of a 429 or 5xx that came
 * before any text (back-off 1, 2, 4 s or the Retry-After, at most 3, all within 60 s of
 * the model's first attempt). A model that fails before any text is left for the next in
 * the chain; once text has been delivered nothing is retried or replaced and a failure
 * ends the run with the partial text. on_done fires from the stream's timer or from the
 * end of a transfer or child, never inside cg_llm_start, and never after cg_llm_cancel.
 *
 * Every entry from the loop (timer, transfer, child) holds the stream (busy) while it
 * runs, so a callback that cancels its own stream only marks it; the memory goes when
 * the last holder lets go and the timer handle has closed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/llm_internal.h"
#include "common/log.h"

#define DISCOVERY_TTL_MS 60000
#define DISCOVERY_FAIL_TTL_MS 10000
#define DISCOVERY_TIMEOUT_MS 5000
#define DISCOVERY_MAX_BODY ((size_t)4 * 1024 * 1024)

typedef struct disc_entry {
    char *provider_id, *base_url;
    json_t *ids; /* model ids discovered; NULL: never succeeded */
    uint64_t fetched_ms;
    bool fetched, last_ok;
    cg_http_req *req;
    cg_buf body;
    bool body_too_big;
    struct cg_llm *llm;
    struct disc_entry *next;
} disc_entry;

struct cg_llm_catalog_req {
    cg_llm *llm;
    cg_llm_catalog_done done;
    void *data;
    uv_timer_t timer;
    bool finished;
    struct cg_llm_catalog_req *prev, *next;
};

struct cg_llm {
    uv_loop_t *loop;
    cg_http *http;
    cg_llm_conf *conf;
    cg_llm_stream *streams;
    disc_entry *disc;
    cg_llm_catalog_req *catalogs;
};

static uint64_t mono_ms(void)
{
    return cg_mono_ns() / 1000000u;
}

cg_http *cg_llm_http(cg_llm *llm)
{
    return llm->http;
}

uv_loop_t *cg_llm_loop(cg_llm *llm)
{
    return llm->loop;
}

void cg_llm_failure_set(cg_llm_failure *f, const char *kind, long code, const char *fmt, ...)
{
    f->kind = kind;
    f->code = code;
    f->retry_in_ms = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
}

/* ---- content helpers ---- */

char *cg_llm_content_text(const json_t *content)
{
    if (json_is_string(content)) return cg_strdup(json_string_value(content));
    cg_buf b = {0};
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        const char *text = json_string_value(json_object_get(part, "text"));
        if (type && !strcmp(type, "text") && text) {
            if (b.len) cg_buf_append(&b, "\n", 1);
            cg_buf_appends(&b, text);
        }
    }
    if (!b.data) return cg_strdup("");
    return b.data;
}

bool cg_llm_content_has_image(const json_t *content)
{
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        if (type && !strcmp(type, "image")) return true;
    }
    return false;
}

/* The request's messages as the contract has them, or a reason they are not. */
static bool messages_valid(const json_t *messages, char *err, size_t errlen)
{
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        snprintf(err, errlen, "the request has no messages");
        return false;
    }
    size_t i;
    const json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        const json_t *content = json_object_get(m, "content");
        if (!role || (strcmp(role, "user") && strcmp(role, "assistant"))) {
            snprintf(err, errlen, "message %zu: role must be user or assistant", i);
            return false;
        }
        if (!json_is_string(content) && !json_is_array(content)) {
            snprintf(err, errlen, "message %zu: content must be text or a list of parts", i);
            return false;
        }
        size_t j;
        const json_t *part;
        json_array_foreach(content, j, part)
        {
            const char *type = json_string_value(json_object_get(part, "type"));
            if (type && !strcmp(type, "text") && json_is_string(json_object_get(part, "text")))
                continue;
            if (type && !strcmp(type, "image") &&
                json_is_string(json_object_get(part, "mimeType")) &&
                json_is_string(json_object_get(part, "data")))
                continue;
            snprintf(err, errlen,
                     "message %zu part %zu: not {type: text, text} or {type: image, "
                     "mimeType, data}",
                     i, j);
            return false;
        }
    }
    return true;
}

static bool last_user_has_image(const json_t *messages)
{
    for (size_t i = json_array_size(messages); i-- > 0;) {
        const json_t *m = json_array_get(messages, i);
        if (!strcmp(json_string_value(json_object_get(m, "role")), "user"))
            return cg_llm_content_has_image(json_object_get(m, "content"));
    }
    return false;
}

/* ---- stream life ---- */

static void stream_closed(uv_handle_t *h)
{
    cg_llm_stream *s = h->data;
    cg_sse_reset(&s->parser);
    cg_buf_reset(&s->body);
    cg_buf_reset(&s->earlier_errors);
    free(s);
}

void cg_llm_stream_hold(cg_llm_stream *s)
{
    s->busy++;
}

void cg_llm_stream_unhold(cg_llm_stream *s)
{
    if (--s->busy == 0 && s->released) uv_close((uv_handle_t *)&s->timer, stream_closed);
}

static void stop_attempt(cg_llm_stream *s)
{
    if (s->http) {
        cg_http_cancel(s->http);
        s->http = NULL;
    }
    if (s->child) cg_llm_cli_stop(s);
    uv_timer_stop(&s->timer);
    s->timer_use = CG_LLM_T_NONE;
}

/* Drops everything but the memory and the timer handle (closed once nobody holds s). */
static void release(cg_llm_stream *s)
{
    if (s->released) return;
    stop_attempt(s);
    s->released = true;
    cg_llm *llm = s->llm;
    if (s->prev)
        s->prev->next = s->next;
    else if (llm->streams == s)
        llm->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    cg_llm_conf_unref(s->conf);
    s->conf = NULL;
    s->provider = NULL;
    s->model = NULL;
    json_decref(s->messages);
    s->messages = NULL;
    free(s->system);
    free(s->thinking);
    free(s->model_id);
    s->system = s->thinking = s->model_id = NULL;
    for (size_t i = 0; i < s->chain_len; i++)
        free(s->chain[i]);
    s->chain_len = 0;
    if (s->busy == 0) uv_close((uv_handle_t *)&s->timer, stream_closed);
}

static void on_stream_timer(uv_timer_t *t);

void cg_llm_stream_timer(cg_llm_stream *s, cg_llm_timer_use use, uint64_t ms)
{
    s->timer_use = use;
    uv_timer_start(&s->timer, on_stream_timer, ms, 0);
}

static const char *stop_reason_or(const cg_llm_stream *s, const char *dflt)
{
    return s->stop_reason[0] ? s->stop_reason : dflt;
}

static void finish(cg_llm_stream *s)
{
    if (s->finished || s->cancelled) return;
    s->finished = true;
    stop_attempt(s);
    char provider[256] = "", model[512] = "";
    if (s->provider) snprintf(provider, sizeof provider, "%s", s->provider->id);
    if (s->model_id) snprintf(model, sizeof model, "%s", s->model_id);
    if (s->tool_call && !s->failed)
        snprintf(s->note, sizeof s->note,
                 "The model asked to use a tool (%s), but tools are not available in clawgate "
                 "yet; the reply ends here.",
                 s->tool_name[0] ? s->tool_name : "unnamed");
    cg_llm_outcome out = {
        .error_kind = s->failed ? s->final.kind : NULL,
        .error_message = s->failed ? s->final.message : NULL,
        .stop_reason = s->failed      ? "error"
                       : s->tool_call ? "tool_calls"
                                      : stop_reason_or(s, "stop"),
        .note = s->note[0] ? s->note : NULL,
        .provider = provider[0] ? provider : NULL,
        .model = model[0] ? model : NULL,
        .usage = s->usage,
        .streamed = s->streamed,
    };
    cg_llm_stream_hold(s);
    if (s->cb.on_done) s->cb.on_done(&out, s->data);
    release(s);
    cg_llm_stream_unhold(s);
}

static void finish_failed(cg_llm_stream *s, const cg_llm_failure *f)
{
    s->final = *f;
    s->failed = true;
    finish(s);
}

static void begin_attempt(cg_llm_stream *s);

/* The current model failed before any text: on to the next one, or the end. When every
 * model failed, the run reports the primary's kind (the model the user chose) and what
 * each model said. */
static void next_model(cg_llm_stream *s, const cg_llm_failure *f)
{
    if (s->earlier_errors.len) cg_buf_appends(&s->earlier_errors, "; ");
    if (s->earlier_errors.len < 4096) {
        cg_buf_appends(&s->earlier_errors, s->chain[s->chain_pos]);
        cg_buf_appends(&s->earlier_errors, ": ");
        cg_buf_appends(&s->earlier_errors, f->message);
    }
    if (s->chain_pos == 0) s->final = *f;
    if (s->chain_pos + 1 < s->chain_len) {
        cg_log(CG_LOG_WARN, "llm", "model failed, trying the next one",
               json_pack("{s:s, s:s, s:s, s:s}", "model", s->chain[s->chain_pos], "next",
                         s->chain[s->chain_pos + 1], "errorKind", f->kind, "error", f->message));
        s->chain_pos++;
        s->retries = 0;
        begin_attempt(s);
        return;
    }
    if (s->chain_pos == 0) {
        finish_failed(s, f);
        return;
    }
    cg_llm_failure all = s->final;
    snprintf(all.message, sizeof all.message, "every model failed: %s", s->earlier_errors.data);
    finish_failed(s, &all);
}

void cg_llm_stream_attempt_end(cg_llm_stream *s, const cg_llm_failure *f)
{
    s->http = NULL;
    if (s->cancelled || s->finished) return;
    if (!f) {
        finish(s);
        return;
    }
    if (s->streamed) {
        finish_failed(s, f);
        return;
    }
    if (f->retry_in_ms >= 0) {
        s->retries++;
        cg_log(CG_LOG_INFO, "llm", "retrying",
               json_pack("{s:s, s:I, s:I, s:s}", "model", s->chain[s->chain_pos], "attempt",
                         (json_int_t)s->retries + 1, "delayMs", (json_int_t)f->retry_in_ms, "error",
                         f->message));
        cg_llm_stream_timer(s, CG_LLM_T_ATTEMPT, (uint64_t)f->retry_in_ms);
        return;
    }
    next_model(s, f);
}

bool cg_llm_stream_text(cg_llm_stream *s, const char *text, size_t len)
{
    if (s->cancelled || s->finished) return false;
    if (len == 0) return true;
    if (s->reply_bytes + len > CG_LLM_MAX_REPLY_BYTES) {
        s->too_big = true;
        return false;
    }
    s->reply_bytes += len;
    s->streamed = true;
    cg_llm_stream_hold(s);
    if (s->cb.on_delta) s->cb.on_delta(text, len, s->data);
    bool alive = !s->cancelled && !s->finished;
    cg_llm_stream_unhold(s);
    return alive;
}

static void begin_attempt(cg_llm_stream *s)
{
    cg_llm_failure f;
    const char *ref = s->chain[s->chain_pos];
    char err[512];
    const cg_llm_provider *p;
    const cg_llm_model *m;
    const char *model_id;
    if (s->retries == 0) s->model_started_ms = mono_ms();
    if (cg_llm_conf_resolve(s->conf, ref, &p, &model_id, &m, err, sizeof err) != 0) {
        cg_llm_failure_set(&f, "config", 0, "%s", err);
        next_model(s, &f);
        return;
    }
    s->provider = p;
    s->model = m;
    free(s->model_id);
    s->model_id = cg_strdup(model_id);
    if (p->needs_key && !p->api_key) {
        if (p->api_key_env)
            cg_llm_failure_set(&f, "auth", 0,
                               "%s has no API key: set the environment variable %s (or "
                               "models.providers.%s.apiKey) and try again",
                               p->id, p->api_key_env, p->id);
        else
            cg_llm_failure_set(&f, "auth", 0, "%s has no API key: set models.providers.%s.apiKey",
                               p->id, p->id);
        next_model(s, &f);
        return;
    }
    if (last_user_has_image(s->messages) && !(m && m->images)) {
        if (p->api == CG_LLM_API_CLI || p->api == CG_LLM_API_OFFLINE)
            cg_llm_failure_set(&f, "input", 0, "%s/%s cannot take images", p->id, model_id);
        else
            cg_llm_failure_set(&f, "input", 0,
                               "%s/%s does not accept images: list \"image\" in its input "
                               "(models.providers.%s.models[].input) if it does",
                               p->id, model_id, p->id);
        next_model(s, &f);
        return;
    }
    /* A fresh attempt. */
    s->code = 0;
    s->sse = false;
    cg_sse_reset(&s->parser);
    cg_sse_init(&s->parser, CG_LLM_MAX_SSE_BYTES);
    s->body.len = 0;
    s->complete = false;
    s->tool_call = false;
    s->has_stream_failure = false;
    s->too_big = false;
    s->stop_reason[0] = 0;
    s->usage = (cg_llm_usage){0};
    switch (p->api) {
    case CG_LLM_API_OPENAI:
    case CG_LLM_API_ANTHROPIC:
        cg_llm_http_attempt(s);
        break;
    case CG_LLM_API_CLI:
        cg_llm_cli_attempt(s);
        break;
    case CG_LLM_API_OFFLINE:
        cg_llm_offline_attempt(s);
        break;
    }
}

static void on_stream_timer(uv_timer_t *t)
{
    cg_llm_stream *s = t->data;
    if (s->released) return;
    cg_llm_timer_use use = s->timer_use;
    s->timer_use = CG_LLM_T_NONE;
    cg_llm_stream_hold(s);
    switch (use) {
    case CG_LLM_T_ATTEMPT:
        begin_attempt(s);
        break;
    case CG_LLM_T_FINISH:
        finish(s);
        break;
    case CG_LLM_T_OFFLINE:
        cg_llm_offline_tick(s);
        break;
    case CG_LLM_T_IDLE:
        if (s->child)
            cg_llm_cli_idle(s);
        else
            cg_llm_http_idle(s);
        break;
    case CG_LLM_T_NONE:
        break;
    }
    cg_llm_stream_unhold(s);
}

cg_llm_stream *cg_llm_start(cg_llm *llm, const cg_llm_request *req, const cg_llm_callbacks *cb,
                            void *data)
{
    cg_llm_stream *s = cg_xcalloc(1, sizeof *s);
    s->llm = llm;
    s->conf = cg_llm_conf_ref(llm->conf);
    s->cb = *cb;
    s->data = data;
    s->messages = req->messages ? json_deep_copy(req->messages) : json_array();
    s->system = req->system && *req->system ? cg_strdup(req->system) : NULL;
    s->thinking = req->thinking && *req->thinking ? cg_strdup(req->thinking) : NULL;
    cg_sse_init(&s->parser, CG_LLM_MAX_SSE_BYTES);
    uv_timer_init(llm->loop, &s->timer);
    s->timer.data = s;
    if (req->model && *req->model) s->chain[s->chain_len++] = cg_strdup(req->model);
    /* The default's fallbacks follow whatever model was asked for. */
    for (size_t i = 0; i < s->conf->chain_len && s->chain_len < CG_LLM_MAX_CHAIN; i++) {
        if (i == 0 && s->chain_len) continue;
        bool dup = false;
        for (size_t j = 0; j < s->chain_len; j++)
            if (!strcmp(s->chain[j], s->conf->chain[i])) dup = true;
        if (!dup) s->chain[s->chain_len++] = cg_strdup(s->conf->chain[i]);
    }
    s->next = llm->streams;
    if (llm->streams) llm->streams->prev = s;
    llm->streams = s;
    char err[256];
    if (!messages_valid(s->messages, err, sizeof err)) {
        cg_llm_failure_set(&s->final, "input", 0, "%s", err);
        s->failed = true;
        cg_llm_stream_timer(s, CG_LLM_T_FINISH, 0);
    } else if (s->chain_len == 0) {
        cg_llm_failure_set(&s->final, "config", 0,
                           "no model is configured: set agents.defaults.model to "
                           "\"<provider>/<model>\"");
        s->failed = true;
        cg_llm_stream_timer(s, CG_LLM_T_FINISH, 0);
    } else {
        cg_llm_stream_timer(s, CG_LLM_T_ATTEMPT, 0);
    }
    return s;
}

void cg_llm_cancel(cg_llm_stream *s)
{
    if (!s || s->cancelled || s->finished) return;
    s->cancelled = true;
    release(s);
}

/* ---- the providers ---- */

cg_llm *cg_llm_new(uv_loop_t *loop, const json_t *config_doc, json_t *issues)
{
    cg_llm *llm = cg_xcalloc(1, sizeof *llm);
    llm->loop = loop;
    llm->http = cg_http_new(loop);
    llm->conf = cg_llm_conf_build(config_doc, issues);
    return llm;
}

void cg_llm_configure(cg_llm *llm, const json_t *config_doc, json_t *issues)
{
    cg_llm_conf *next = cg_llm_conf_build(config_doc, issues);
    cg_llm_conf_unref(llm->conf);
    llm->conf = next;
}

static void catalog_closed(uv_handle_t *h)
{
    free(h->data);
}

static void catalog_release(cg_llm_catalog_req *c)
{
    cg_llm *llm = c->llm;
    if (c->prev)
        c->prev->next = c->next;
    else if (llm->catalogs == c)
        llm->catalogs = c->next;
    if (c->next) c->next->prev = c->prev;
    c->finished = true;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, catalog_closed);
}

void cg_llm_free(cg_llm *llm)
{
    if (!llm) return;
    while (llm->streams)
        cg_llm_cancel(llm->streams);
    while (llm->catalogs)
        catalog_release(llm->catalogs);
    while (llm->disc) {
        disc_entry *d = llm->disc;
        llm->disc = d->next;
        if (d->req) cg_http_cancel(d->req);
        free(d->provider_id);
        free(d->base_url);
        json_decref(d->ids);
        cg_buf_reset(&d->body);
        free(d);
    }
    cg_http_free(llm->http);
    cg_llm_conf_unref(llm->conf);
    free(llm);
}

bool cg_llm_accepts_images(cg_llm *llm, const char *model)
{
    const char *ref = model && *model ? model : llm->conf->chain_len ? llm->conf->chain[0] : NULL;
    const cg_llm_provider *p;
    const cg_llm_model *m;
    const char *id;
    char err[256];
    if (!ref || cg_llm_conf_resolve(llm->conf, ref, &p, &id, &m, err, sizeof err) != 0)
        return false;
    return m && m->images && (p->api == CG_LLM_API_OPENAI || p->api == CG_LLM_API_ANTHROPIC);
}

/* ---- catalog and discovery ---- */

static bool provider_available(const cg_llm_provider *p)
{
    return !(p->needs_key && !p->api_key);
}

static bool discovers(const cg_llm_provider *p)
{
    return p->api == CG_LLM_API_OPENAI && p->n_models == 0 && provider_available(p);
}

static disc_entry *disc_find(cg_llm *llm, const cg_llm_provider *p)
{
    for (disc_entry *d = llm->disc; d; d = d->next)
        if (!strcmp(d->provider_id, p->id) && !strcmp(d->base_url, p->base_url)) return d;
    return NULL;
}

static json_t *model_entry(const cg_llm_provider *p, const cg_llm_model *m, const char *id)
{
    json_t *e = json_pack("{s:s, s:s, s:s}", "id", id, "name", m && m->name ? m->name : id,
                          "provider", p->id);
    if (m && m->context_window > 0)
        json_object_set_new(e, "contextWindow", json_integer(m->context_window));
    json_object_set_new(e, "reasoning", json_boolean(m && m->reasoning));
    bool ok = provider_available(p);
    json_object_set_new(e, "available", json_boolean(ok));
    if (!ok) json_object_set_new(e, "unavailableReason", json_string("missing-auth"));
    json_object_set_new(e, "input",
                        m && m->images ? json_pack("[s,s]", "text", "image")
                                       : json_pack("[s]", "text"));
    return e;
}

json_t *cg_llm_catalog(cg_llm *llm)
{
    json_t *out = json_array();
    const cg_llm_conf *c = llm->conf;
    if (c->offline) {
        const cg_llm_provider *off = cg_llm_conf_provider(c, "offline");
        json_array_append_new(out, model_entry(off, &off->models[0], "offline"));
        return out;
    }
    for (size_t i = 0; i < c->n_providers; i++) {
        const cg_llm_provider *p = &c->providers[i];
        for (size_t j = 0; j < p->n_models; j++)
            json_array_append_new(out, model_entry(p, &p->models[j], p->models[j].id));
        disc_entry *d = discovers(p) ? disc_find(llm, p) : NULL;
        size_t k;
        const json_t *id;
        json_array_foreach(d ? d->ids : NULL, k, id)
            json_array_append_new(out, model_entry(p, NULL, json_string_value(id)));
    }
    return out;
}

static bool disc_in_flight(cg_llm *llm)
{
    for (disc_entry *d = llm->disc; d; d = d->next)
        if (d->req) return true;
    return false;
}

static void catalog_deliver(cg_llm_catalog_req *c)
{
    if (c->finished) return;
    json_t *models = cg_llm_catalog(c->llm);
    cg_llm_catalog_done done = c->done;
    void *data = c->data;
    catalog_release(c);
    done(models, data);
}

static void catalogs_check(cg_llm *llm)
{
    if (disc_in_flight(llm)) return;
    while (llm->catalogs)
        catalog_deliver(llm->catalogs);
}

static bool disc_on_data(cg_http_req *r, const char *buf, size_t len, void *data)
{
    disc_entry *d = data;
    if (d->body.len + len > DISCOVERY_MAX_BODY) {
        d->body_too_big = true;
        return false;
    }
    cg_buf_append(&d->body, buf, len);
    return true;
}

static void disc_on_done(cg_http_req *r, const cg_http_result *res, void *data)
{
    disc_entry *d = data;
    cg_llm *llm = d->llm;
    d->req = NULL;
    d->fetched = true;
    d->fetched_ms = mono_ms();
    d->last_ok = false;
    if (res->status == CG_HTTP_OK && res->code >= 200 && res->code < 300) {
        json_error_t jerr;
        json_t *doc = json_loadb(d->body.data ? d->body.data : "", d->body.len, 0, &jerr);
        const json_t *list = json_object_get(doc, "data");
        if (!list) list = json_object_get(doc, "models"); /* some servers */
        if (json_is_array(list)) {
            json_t *ids = json_array();
            size_t i;
            const json_t *m;
            json_array_foreach(list, i, m)
            {
                const char *id = json_string_value(json_object_get(m, "id"));
                if (!id) id = json_string_value(json_object_get(m, "name"));
                if (id && *id && json_array_size(ids) < CG_LLM_MAX_MODELS && strlen(id) < 512)
                    json_array_append_new(ids, json_string(id));
            }
            json_decref(d->ids);
            d->ids = ids;
            d->last_ok = true;
        }
        json_decref(doc);
    }
    if (!d->last_ok)
        cg_log(CG_LOG_WARN, "llm", "model discovery failed",
               json_pack("{s:s, s:s, s:I, s:s}", "provider", d->provider_id, "url", d->base_url,
                         "status", (json_int_t)res->code, "error",
                         d->body_too_big ? "answer too large" : res->error));
    cg_buf_reset(&d->body);
    d->body_too_big = false;
    catalogs_check(llm);
}

static void disc_start(cg_llm *llm, const cg_llm_provider *p, disc_entry *d)
{
    char url[2048];
    snprintf(url, sizeof url, "%s/models", p->base_url);
    const char *headers[72];
    size_t n = 0;
    char auth[1024];
    headers[n++] = "Accept: application/json";
    if (p->api_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", p->api_key);
        headers[n++] = auth;
    }
    for (size_t i = 0; i < p->n_headers && n < 72; i++)
        headers[n++] = p->headers[i];
    cg_http_request rq = {.method = "GET",
                          .url = url,
                          .headers = headers,
                          .n_headers = n,
                          .connect_timeout_ms = DISCOVERY_TIMEOUT_MS,
                          .idle_timeout_ms = DISCOVERY_TIMEOUT_MS,
                          .total_timeout_ms = DISCOVERY_TIMEOUT_MS};
    static const cg_http_callbacks cb = {.on_data = disc_on_data, .on_done = disc_on_done};
    d->body.len = 0;
    d->req = cg_http_start(llm->http, &rq, &cb, d);
}

static void on_catalog_timer(uv_timer_t *t)
{
    catalog_deliver(t->data);
}

cg_llm_catalog_req *cg_llm_catalog_async(cg_llm *llm, bool refresh, cg_llm_catalog_done done,
                                         void *data)
{
    uint64_t now = mono_ms();
    const cg_llm_conf *c = llm->conf;
    for (size_t i = 0; i < c->n_providers && !c->offline; i++) {
        const cg_llm_provider *p = &c->providers[i];
        if (!discovers(p)) continue;
        disc_entry *d = disc_find(llm, p);
        if (!d) {
            d = cg_xcalloc(1, sizeof *d);
            d->provider_id = cg_strdup(p->id);
            d->base_url = cg_strdup(p->base_url);
            d->llm = llm;
            d->next = llm->disc;
            llm->disc = d;
        }
        if (d->req) continue;
        uint64_t ttl = d->last_ok ? DISCOVERY_TTL_MS : DISCOVERY_FAIL_TTL_MS;
        if (refresh || !d->fetched || now - d->fetched_ms >= ttl) disc_start(llm, p, d);
    }
    cg_llm_catalog_req *cr = cg_xcalloc(1, sizeof *cr);
    cr->llm = llm;
    cr->done = done;
    cr->data = data;
    uv_timer_init(llm->loop, &cr->timer);
    cr->timer.data = cr;
    cr->next = llm->catalogs;
    if (llm->catalogs) llm->catalogs->prev = cr;
    llm->catalogs = cr;
    /* Now when nothing is being fetched; else when the fetches end, 5 s at most. */
    uv_timer_start(&cr->timer, on_catalog_timer,
                   disc_in_flight(llm) ? DISCOVERY_TIMEOUT_MS + 500 : 0, 0);
    return cr;
}

void cg_llm_catalog_cancel(cg_llm_catalog_req *req)
{
    if (req && !req->finished) catalog_release(req);
}

json_t *cg_llm_auth_status(cg_llm *llm)
{
    json_t *providers = json_array();
    const cg_llm_conf *c = llm->conf;
    for (size_t i = 0; i < c->n_providers; i++) {
        const cg_llm_provider *p = &c->providers[i];
        if (p->api == CG_LLM_API_CLI) continue;
        if (!p->api_key && !p->needs_key) continue; /* a local server without keys */
        json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:[]}", "provider", p->id, "authProvider",
                              p->id, "displayName", p->id, "status",
                              p->api_key ? "static" : "missing", "profiles");
        if (p->api_key) {
            json_t *key = json_pack("{s:s}", "source", p->key_in_config ? "config" : "env");
            if (!p->key_in_config && p->api_key_env)
                json_object_set_new(key, "envVar", json_string(p->api_key_env));
            json_object_set_new(e, "apiKey", key);
        }
        json_array_append_new(providers, e);
    }
    return json_pack("{s:I, s:o, s:[]}", "ts", (json_int_t)cg_now_ms(), "providers", providers,
                     "providerCapabilities");
}
