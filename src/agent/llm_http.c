/* openai-completions and anthropic-messages: one attempt of a stream over cg_http.
 *
 * OpenAI: POST {baseUrl}/chat/completions, "Authorization: Bearer <key>", {model,
 * messages (system first), stream: true, stream_options: {include_usage: true},
 * reasoning_effort?}; SSE "data:" chunks until "data: [DONE]"; text in
 * choices[0].delta.content, the end in finish_reason, usage in the last chunk.
 * Anthropic: POST {baseUrl}/v1/messages ({baseUrl}/messages when baseUrl ends in /v1),
 * x-api-key, anthropic-version 2023-06-01, {model, max_tokens, system, messages, stream:
 * true, thinking?}; SSE events message_start, content_block_*, message_delta,
 * message_stop, ping, error.
 *
 * A tool call (OpenAI delta.tool_calls, Anthropic a tool_use block) ends the attempt at
 * once with the text so far: tools are not available yet, and waiting for a tool result
 * that never comes would hang the run. A server that ignores stream: true and answers
 * JSON is read as a whole answer. Everything kept is bounded: SSE lines and events
 * (1 MiB), the reply (4 MiB), error bodies (64 KiB). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/llm_internal.h"

enum { EV_GO_ON = 0, EV_STOP = 1 };

static bool is_openai(const cg_llm_stream *s)
{
    return s->provider->api == CG_LLM_API_OPENAI;
}

/* ---- request bodies ---- */

static bool model_images(const cg_llm_stream *s)
{
    return s->model && s->model->images;
}

static json_t *openai_content(const json_t *content, bool user, bool images)
{
    if (json_is_string(content) || !user) {
        char *text = cg_llm_content_text(content);
        json_t *v = json_string(text);
        free(text);
        return v;
    }
    json_t *parts = json_array();
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        if (!strcmp(type, "text")) {
            json_array_append_new(parts, json_pack("{s:s, s:O}", "type", "text", "text",
                                                   json_object_get(part, "text")));
        } else if (images) {
            const char *mime = json_string_value(json_object_get(part, "mimeType"));
            const char *data = json_string_value(json_object_get(part, "data"));
            size_t len = strlen(mime) + strlen(data) + 16;
            char *url = cg_xmalloc(len);
            snprintf(url, len, "data:%s;base64,%s", mime, data);
            json_array_append_new(
                parts, json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url", "url", url));
            free(url);
        } else {
            json_array_append_new(parts,
                                  json_pack("{s:s, s:s}", "type", "text", "text",
                                            "[an image was attached; this model cannot see it]"));
        }
    }
    return parts;
}

static json_t *anthropic_content(const json_t *content, bool user, bool images)
{
    if (json_is_string(content)) return json_incref((json_t *)content);
    json_t *parts = json_array();
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        if (!strcmp(type, "text")) {
            const char *text = json_string_value(json_object_get(part, "text"));
            if (*text)
                json_array_append_new(parts, json_pack("{s:s, s:s}", "type", "text", "text", text));
        } else if (user && images) {
            json_array_append_new(parts, json_pack("{s:s, s:{s:s, s:O, s:O}}", "type", "image",
                                                   "source", "type", "base64", "media_type",
                                                   json_object_get(part, "mimeType"), "data",
                                                   json_object_get(part, "data")));
        } else {
            json_array_append_new(parts,
                                  json_pack("{s:s, s:s}", "type", "text", "text",
                                            "[an image was attached; this model cannot see it]"));
        }
    }
    return parts;
}

static bool content_empty(const json_t *c)
{
    return json_is_string(c) ? json_string_length(c) == 0 : json_array_size(c) == 0;
}

static int64_t thinking_budget(const char *level)
{
    if (!level) return 0;
    if (!strcmp(level, "minimal")) return 1024;
    if (!strcmp(level, "low")) return 2048;
    if (!strcmp(level, "medium")) return 8192;
    if (!strcmp(level, "high")) return 16384;
    if (!strcmp(level, "xhigh")) return 32768;
    return 0; /* "off" and anything else */
}

json_t *cg_llm_http_body(const cg_llm_stream *s)
{
    bool openai = is_openai(s), images = model_images(s);
    json_t *messages = json_array();
    if (openai && s->system)
        json_array_append_new(messages,
                              json_pack("{s:s, s:s}", "role", "system", "content", s->system));
    size_t i;
    const json_t *m;
    json_array_foreach(s->messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        bool user = !strcmp(role, "user");
        json_t *content = openai ? openai_content(json_object_get(m, "content"), user, images)
                                 : anthropic_content(json_object_get(m, "content"), user, images);
        /* Anthropic refuses empty turns and a conversation that opens with the assistant. */
        if (!openai && (content_empty(content) || (!user && json_array_size(messages) == 0))) {
            json_decref(content);
            continue;
        }
        json_array_append_new(messages, json_pack("{s:s, s:o}", "role", user ? "user" : "assistant",
                                                  "content", content));
    }
    json_t *body =
        json_pack("{s:s, s:o, s:b}", "model", s->model_id, "messages", messages, "stream", true);
    bool reasoning = s->model && s->model->reasoning && thinking_budget(s->thinking) > 0;
    if (openai) {
        json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", true));
        if (reasoning)
            json_object_set_new(body, "reasoning_effort",
                                json_string(!strcmp(s->thinking, "xhigh") ? "high" : s->thinking));
        if (s->model && s->model->max_tokens > 0)
            json_object_set_new(body, "max_tokens", json_integer(s->model->max_tokens));
    } else {
        int64_t max_tokens = s->model && s->model->max_tokens > 0 ? s->model->max_tokens : 8192;
        if (s->system) json_object_set_new(body, "system", json_string(s->system));
        if (reasoning) {
            int64_t budget = thinking_budget(s->thinking);
            if (max_tokens <= budget) max_tokens = budget + 4096;
            json_object_set_new(
                body, "thinking",
                json_pack("{s:s, s:I}", "type", "enabled", "budget_tokens", (json_int_t)budget));
        }
        json_object_set_new(body, "max_tokens", json_integer(max_tokens));
    }
    return body;
}

/* ---- what comes back ---- */

static void set_stop(cg_llm_stream *s, const char *reason)
{
    static const char *const map[][2] = {
        {"stop", "stop"},           {"end_turn", "stop"},
        {"stop_sequence", "stop"},  {"length", "length"},
        {"max_tokens", "length"},   {"tool_calls", "tool_calls"},
        {"tool_use", "tool_calls"}, {"function_call", "tool_calls"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(reason, map[i][0])) {
            snprintf(s->stop_reason, sizeof s->stop_reason, "%s", map[i][1]);
            return;
        }
    snprintf(s->stop_reason, sizeof s->stop_reason, "%s", reason);
}

static void tool_seen(cg_llm_stream *s, const char *name)
{
    s->tool_call = true;
    snprintf(s->tool_name, sizeof s->tool_name, "%s", name ? name : "");
    snprintf(s->stop_reason, sizeof s->stop_reason, "tool_calls");
}

static void stream_error(cg_llm_stream *s, const char *type, const char *message)
{
    const char *kind = "server";
    long code = 503;
    if (type && (strstr(type, "rate_limit") || strstr(type, "rate-limit"))) {
        kind = "rate_limit";
        code = 429;
    } else if (type && (strstr(type, "authentication") || strstr(type, "permission"))) {
        kind = "auth";
        code = 401;
    } else if (type && strstr(type, "invalid_request")) {
        kind = "input";
        code = 400;
    }
    char text[320];
    cg_llm_error_text(message, message ? strlen(message) : 0, text, sizeof text);
    cg_llm_failure_set(&s->stream_failure, kind, code, "%s reported an error mid-stream: %s",
                       s->provider->id,
                       text[0] ? text
                       : type  ? type
                               : "unknown error");
    s->has_stream_failure = true;
}

static void take_usage(cg_llm_stream *s, const json_t *usage, const char *in_key,
                       const char *out_key)
{
    const json_t *in = json_object_get(usage, in_key), *out = json_object_get(usage, out_key);
    if (json_is_integer(in)) s->usage.input = json_integer_value(in);
    if (json_is_integer(out)) s->usage.output = json_integer_value(out);
}

static int text_out(cg_llm_stream *s, const char *text)
{
    if (!text || !*text) return EV_GO_ON;
    return cg_llm_stream_text(s, text, strlen(text)) ? EV_GO_ON : EV_STOP;
}

static int openai_chunk(cg_llm_stream *s, const json_t *chunk)
{
    const json_t *err = json_object_get(chunk, "error");
    if (err) {
        const char *msg = json_string_value(json_object_get(err, "message"));
        if (!msg) msg = json_string_value(err);
        stream_error(s, json_string_value(json_object_get(err, "type")), msg);
        return EV_STOP;
    }
    const json_t *usage = json_object_get(chunk, "usage");
    if (json_is_object(usage)) take_usage(s, usage, "prompt_tokens", "completion_tokens");
    const json_t *choice = json_array_get(json_object_get(chunk, "choices"), 0);
    if (!choice) return EV_GO_ON;
    const json_t *delta = json_object_get(choice, "delta");
    if (!delta) delta = json_object_get(choice, "message");
    const json_t *tools = json_object_get(delta, "tool_calls");
    if (json_array_size(tools) > 0 || json_object_get(delta, "function_call")) {
        const json_t *fn = json_object_get(json_array_get(tools, 0), "function");
        if (!fn) fn = json_object_get(delta, "function_call");
        /* Text in the same chunk comes first. */
        if (text_out(s, json_string_value(json_object_get(delta, "content"))) == EV_STOP)
            return EV_STOP;
        tool_seen(s, json_string_value(json_object_get(fn, "name")));
        return EV_STOP;
    }
    if (text_out(s, json_string_value(json_object_get(delta, "content"))) == EV_STOP)
        return EV_STOP;
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
    if (finish) {
        set_stop(s, finish);
        s->complete = true;
        if (!strcmp(finish, "tool_calls") || !strcmp(finish, "function_call")) {
            tool_seen(s, NULL);
            return EV_STOP;
        }
    }
    return EV_GO_ON;
}

static int anthropic_event(cg_llm_stream *s, const char *event, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type) type = event;
    if (!strcmp(type, "message_start")) {
        take_usage(s, json_object_get(json_object_get(ev, "message"), "usage"), "input_tokens",
                   "output_tokens");
    } else if (!strcmp(type, "content_block_start")) {
        const json_t *block = json_object_get(ev, "content_block");
        const char *btype = json_string_value(json_object_get(block, "type"));
        if (btype && (!strcmp(btype, "tool_use") || !strcmp(btype, "server_tool_use"))) {
            tool_seen(s, json_string_value(json_object_get(block, "name")));
            return EV_STOP;
        }
        if (btype && !strcmp(btype, "text"))
            return text_out(s, json_string_value(json_object_get(block, "text")));
    } else if (!strcmp(type, "content_block_delta")) {
        const json_t *delta = json_object_get(ev, "delta");
        const char *dtype = json_string_value(json_object_get(delta, "type"));
        if (dtype && !strcmp(dtype, "text_delta"))
            return text_out(s, json_string_value(json_object_get(delta, "text")));
        /* thinking_delta, signature_delta, input_json_delta: not reply text */
    } else if (!strcmp(type, "message_delta")) {
        const char *reason =
            json_string_value(json_object_get(json_object_get(ev, "delta"), "stop_reason"));
        if (reason) set_stop(s, reason);
        const json_t *usage = json_object_get(ev, "usage");
        const json_t *out = json_object_get(usage, "output_tokens");
        if (json_is_integer(out)) s->usage.output = json_integer_value(out);
        const json_t *in = json_object_get(usage, "input_tokens");
        if (json_is_integer(in) && json_integer_value(in) > 0)
            s->usage.input = json_integer_value(in);
        if (reason && !strcmp(reason, "tool_use")) {
            tool_seen(s, NULL);
            return EV_STOP;
        }
    } else if (!strcmp(type, "message_stop")) {
        s->complete = true;
        if (!s->stop_reason[0]) set_stop(s, "end_turn");
    } else if (!strcmp(type, "error")) {
        const json_t *err = json_object_get(ev, "error");
        stream_error(s, json_string_value(json_object_get(err, "type")),
                     json_string_value(json_object_get(err, "message")));
        return EV_STOP;
    }
    return EV_GO_ON;
}

static int on_event(const char *event, const char *data, size_t len, void *ud)
{
    cg_llm_stream *s = ud;
    if (is_openai(s) && len == 6 && !memcmp(data, "[DONE]", 6)) {
        s->complete = true;
        return EV_GO_ON;
    }
    json_error_t jerr;
    json_t *ev = json_loadb(data, len, 0, &jerr);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return EV_GO_ON; /* a keep-alive or a line some server adds: not ours to read */
    }
    int rc = is_openai(s) ? openai_chunk(s, ev) : anthropic_event(s, event, ev);
    json_decref(ev);
    return rc;
}

/* A whole (non-streamed) answer. */
static void read_json_answer(cg_llm_stream *s)
{
    json_error_t jerr;
    json_t *doc = json_loadb(s->body.data ? s->body.data : "", s->body.len, 0, &jerr);
    if (!json_is_object(doc)) {
        cg_llm_failure_set(&s->stream_failure, "server", 502,
                           "%s answered with something that is neither an event stream nor "
                           "JSON",
                           s->provider->id);
        s->has_stream_failure = true;
        json_decref(doc);
        return;
    }
    if (is_openai(s)) {
        if (openai_chunk(s, doc) == EV_GO_ON && !s->has_stream_failure) s->complete = true;
    } else {
        take_usage(s, json_object_get(doc, "usage"), "input_tokens", "output_tokens");
        size_t i;
        const json_t *block;
        json_array_foreach(json_object_get(doc, "content"), i, block)
        {
            const char *type = json_string_value(json_object_get(block, "type"));
            if (type && !strcmp(type, "text")) {
                if (text_out(s, json_string_value(json_object_get(block, "text"))) == EV_STOP)
                    break;
            } else if (type && !strcmp(type, "tool_use")) {
                tool_seen(s, json_string_value(json_object_get(block, "name")));
                break;
            }
        }
        const char *reason = json_string_value(json_object_get(doc, "stop_reason"));
        if (reason && !s->tool_call) set_stop(s, reason);
        if (json_object_get(doc, "error")) {
            const json_t *err = json_object_get(doc, "error");
            stream_error(s, json_string_value(json_object_get(err, "type")),
                         json_string_value(json_object_get(err, "message")));
        } else {
            s->complete = true;
        }
    }
    json_decref(doc);
}

/* The idle guard: nothing from the provider for its timeout ends the attempt. curl's
 * low-speed limit is set too, but a guard of our own does not depend on when curl next
 * looks at a quiet transfer. */
static void idle_restart(cg_llm_stream *s)
{
    cg_llm_stream_timer(s, CG_LLM_T_IDLE, (uint64_t)s->provider->idle_timeout_ms);
}

void cg_llm_http_idle(cg_llm_stream *s)
{
    const cg_llm_provider *p = s->provider;
    if (s->http) {
        cg_http_cancel(s->http);
        s->http = NULL;
    }
    cg_llm_failure f;
    if (s->code)
        cg_llm_failure_set(&f, "timeout", 0,
                           "%s sent nothing for %lld s, so the request was abandoned "
                           "(models.providers.%s.timeoutSeconds raises the limit)",
                           p->id, (long long)((p->idle_timeout_ms + 999) / 1000), p->id);
    else
        cg_llm_failure_set(&f, "timeout", 0,
                           "%s did not answer within %lld s (models.providers.%s.timeoutSeconds "
                           "raises the limit)",
                           p->id, (long long)((p->idle_timeout_ms + 999) / 1000), p->id);
    cg_llm_stream_attempt_end(s, &f);
}

static void on_head(cg_http_req *r, long code, void *data)
{
    cg_llm_stream *s = data;
    s->code = code;
    idle_restart(s);
    char ctype[128];
    const char *ct = cg_http_header(r, "content-type", ctype, sizeof ctype);
    s->sse = code >= 200 && code < 300 && (!ct || strstr(ct, "event-stream"));
}

static bool on_data(cg_http_req *r, const char *buf, size_t len, void *data)
{
    cg_llm_stream *s = data;
    if (s->cancelled || s->finished) return false;
    idle_restart(s);
    if (s->code < 200 || s->code >= 300) { /* an error body: keep its start */
        size_t room = CG_LLM_MAX_ERROR_BODY - s->body.len;
        cg_buf_append(&s->body, buf, len < room ? len : room);
        return true;
    }
    if (!s->sse) {
        if (s->body.len + len > CG_LLM_MAX_JSON_BODY) {
            s->too_big = true;
            return false;
        }
        cg_buf_append(&s->body, buf, len);
        return true;
    }
    cg_llm_stream_hold(s); /* a callback cancelling the stream must not free the parser */
    int rc = cg_sse_feed(&s->parser, buf, len, on_event, s);
    bool go_on = rc == 0 && !s->cancelled && !s->finished;
    if (rc == CG_SSE_TOO_LONG) {
        cg_llm_failure_set(&s->stream_failure, "server", 0,
                           "%s sent an event larger than clawgate accepts (1 MiB)",
                           s->provider->id);
        s->has_stream_failure = true;
    }
    cg_llm_stream_unhold(s);
    return go_on;
}

static void describe_http_error(cg_llm_stream *s, cg_http_req *r, cg_llm_failure *f)
{
    char text[320];
    cg_llm_error_text(s->body.data, s->body.len, text, sizeof text);
    const char *kind = cg_llm_kind_for_status(s->code);
    const cg_llm_provider *p = s->provider;
    char detail[400];
    if (text[0])
        snprintf(detail, sizeof detail, "HTTP %ld: %s", s->code, text);
    else
        snprintf(detail, sizeof detail, "HTTP %ld", s->code);
    if (!strcmp(kind, "auth")) {
        if (p->api_key_env && !p->key_in_config)
            cg_llm_failure_set(f, kind, s->code,
                               "%s refused the API key (%s): check the environment variable %s",
                               p->id, detail, p->api_key_env);
        else if (p->api_key)
            cg_llm_failure_set(f, kind, s->code,
                               "%s refused the API key (%s): check models.providers.%s.apiKey",
                               p->id, detail, p->id);
        else
            cg_llm_failure_set(f, kind, s->code,
                               "%s needs an API key (%s): set models.providers.%s.apiKey", p->id,
                               detail, p->id);
    } else if (!strcmp(kind, "rate_limit")) {
        cg_llm_failure_set(f, kind, s->code,
                           "%s is rate limiting requests (%s); try again in a little while", p->id,
                           detail);
    } else if (!strcmp(kind, "server")) {
        cg_llm_failure_set(f, kind, s->code, "%s failed (%s); try again later", p->id, detail);
    } else if (!strcmp(kind, "config")) {
        cg_llm_failure_set(f, kind, s->code,
                           "%s has no model \"%s\" or no API at %s (%s): check "
                           "models.providers.%s.baseUrl and the model id",
                           p->id, s->model_id, p->base_url, detail, p->id);
    } else {
        cg_llm_failure_set(f, kind, s->code, "%s refused the request (%s)", p->id, detail);
    }
    char ra[64], ra_ms[64];
    const char *retry_after = cg_http_header(r, "retry-after", ra, sizeof ra);
    const char *retry_after_ms = cg_http_header(r, "retry-after-ms", ra_ms, sizeof ra_ms);
    int64_t elapsed = (int64_t)(cg_mono_ns() / 1000000u - s->model_started_ms);
    f->retry_in_ms = cg_llm_retry_delay_ms(s->code, retry_after, retry_after_ms, s->retries,
                                           elapsed, cg_now_ms());
    if (f->retry_in_ms < 0 && retry_after && !strcmp(kind, "rate_limit")) {
        size_t n = strlen(f->message);
        snprintf(f->message + n, sizeof f->message - n, " (the provider asks to wait %s s)",
                 retry_after);
    }
}

static void on_done(cg_http_req *r, const cg_http_result *res, void *data)
{
    cg_llm_stream *s = data;
    s->http = NULL;
    if (s->cancelled || s->finished) return;
    cg_llm_stream_hold(s);
    uv_timer_stop(&s->timer);
    s->timer_use = CG_LLM_T_NONE;
    cg_llm_failure f;
    const cg_llm_failure *outcome = NULL;
    const cg_llm_provider *p = s->provider;
    bool ok_status = s->code >= 200 && s->code < 300;
    if (s->tool_call) {
        outcome = NULL; /* ends with the text so far */
    } else if (s->has_stream_failure) {
        f = s->stream_failure;
        if (!s->streamed) {
            int64_t elapsed = (int64_t)(cg_mono_ns() / 1000000u - s->model_started_ms);
            f.retry_in_ms =
                cg_llm_retry_delay_ms(f.code, NULL, NULL, s->retries, elapsed, cg_now_ms());
        }
        outcome = &f;
    } else if (s->too_big) {
        cg_llm_failure_set(&f, "server", 0,
                           "the reply from %s passed clawgate's limit (%zu bytes) and was cut "
                           "there",
                           p->id, CG_LLM_MAX_REPLY_BYTES);
        outcome = &f;
    } else if (res->status == CG_HTTP_OK && ok_status) {
        if (!s->sse) read_json_answer(s);
        if (s->tool_call) {
            outcome = NULL;
        } else if (s->has_stream_failure) {
            f = s->stream_failure;
            outcome = &f;
        } else if (!s->complete) {
            cg_llm_failure_set(&f, "network", 0,
                               "the stream from %s ended before the reply was complete", p->id);
            outcome = &f;
        }
    } else if (res->status == CG_HTTP_OK) {
        describe_http_error(s, r, &f);
        outcome = &f;
    } else if (res->status == CG_HTTP_CONNECT) {
        cg_llm_failure_set(&f, "network", 0, "cannot reach %s at %s: %s", p->id, p->base_url,
                           res->error);
        outcome = &f;
    } else if (res->status == CG_HTTP_TIMEOUT) {
        if (res->connected)
            cg_llm_failure_set(&f, "timeout", 0,
                               "%s sent nothing for %lld s, so the request was abandoned "
                               "(models.providers.%s.timeoutSeconds raises the limit)",
                               p->id, (long long)((p->idle_timeout_ms + 999) / 1000), p->id);
        else
            cg_llm_failure_set(&f, "network", 0, "cannot reach %s at %s: no connection within %d s",
                               p->id, p->base_url, CG_LLM_CONNECT_TIMEOUT_MS / 1000);
        outcome = &f;
    } else if (res->status == CG_HTTP_CUT) {
        cg_llm_failure_set(&f, "network", 0, "the connection to %s was cut mid-reply (%s)", p->id,
                           res->error);
        outcome = &f;
    } else {
        cg_llm_failure_set(&f, "network", 0, "the request to %s failed: %s", p->id, res->error);
        outcome = &f;
    }
    cg_llm_stream_attempt_end(s, outcome);
    cg_llm_stream_unhold(s);
}

void cg_llm_http_attempt(cg_llm_stream *s)
{
    const cg_llm_provider *p = s->provider;
    bool openai = is_openai(s);
    char url[2048];
    if (openai) {
        snprintf(url, sizeof url, "%s/chat/completions", p->base_url);
    } else {
        size_t n = strlen(p->base_url);
        bool v1 = n >= 3 && !strcmp(p->base_url + n - 3, "/v1");
        snprintf(url, sizeof url, "%s%s", p->base_url, v1 ? "/messages" : "/v1/messages");
    }
    json_t *body = cg_llm_http_body(s);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const char *headers[80];
    size_t n = 0;
    char auth[2048];
    headers[n++] = "Content-Type: application/json";
    headers[n++] = "Accept: text/event-stream";
    if (openai) {
        if (p->api_key) {
            snprintf(auth, sizeof auth, "Authorization: Bearer %s", p->api_key);
            headers[n++] = auth;
        }
    } else {
        headers[n++] = "anthropic-version: " CG_LLM_ANTHROPIC_VERSION;
        if (p->api_key) {
            snprintf(auth, sizeof auth, "x-api-key: %s", p->api_key);
            headers[n++] = auth;
        }
    }
    for (size_t i = 0; i < p->n_headers && n < sizeof headers / sizeof headers[0]; i++)
        headers[n++] = p->headers[i];
    cg_http_request rq = {.method = "POST",
                          .url = url,
                          .headers = headers,
                          .n_headers = n,
                          .body = text,
                          .body_len = strlen(text),
                          .connect_timeout_ms = CG_LLM_CONNECT_TIMEOUT_MS,
                          .idle_timeout_ms = p->idle_timeout_ms + 5000};
    static const cg_http_callbacks cb = {
        .on_head = on_head, .on_data = on_data, .on_done = on_done};
    s->http = cg_http_start(cg_llm_http(s->llm), &rq, &cb, s);
    free(text);
    idle_restart(s);
}
