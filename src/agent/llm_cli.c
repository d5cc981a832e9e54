/* api "cli" and the built-in offline provider.
 *
 * cli: models.providers.<id>.command = [argv...] runs (no shell) with the prompt on
 * stdin, CLAWGATE_PROVIDER and CLAWGATE_MODEL in its environment, in a process group of
 * its own. Its stdout streams as reply text (cleaned to UTF-8, never split inside a
 * character); exit 0 ends the reply, any other exit is an error with the last 2 KiB of
 * stderr. No output for the provider's idle timeout kills it (timeout), as does a
 * cancel (the whole group, SIGKILL). The prompt: the system prompt and the
 * conversation as plain text ("User: ...", "Assistant: ..."); a single user message
 * without a system prompt goes as it is.
 *
 * offline: used when nothing is configured; streams a reply saying so and how to add a
 * model, in a few pieces. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/llm_internal.h"

extern char **environ;

typedef struct cg_llm_child {
    uv_process_t proc;
    uv_pipe_t in, out, err;
    uv_write_t write;
    uv_shutdown_t shutdown;
    cg_llm_stream *s; /* NULL once stopped */
    char *prompt;
    int open; /* handles not yet closed */
    bool spawned, exited, out_eof, err_eof;
    int64_t status;
    int term_signal;
    cg_buf pending; /* an incomplete UTF-8 sequence from stdout */
    char err_tail[CG_LLM_STDERR_TAIL];
    size_t err_len;       /* bytes in err_tail (the last ones seen) */
    char read_buf[65536]; /* shared by stdout and stderr: libuv reads one at a time */
} cg_llm_child;

static void child_maybe_free(cg_llm_child *c)
{
    if (c->open > 0 || c->s) return;
    free(c->prompt);
    cg_buf_reset(&c->pending);
    free(c);
}

static void on_child_handle_closed(uv_handle_t *h)
{
    cg_llm_child *c = h->data;
    c->open--;
    child_maybe_free(c);
}

static void close_handle(cg_llm_child *c, uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, on_child_handle_closed);
}

static void close_pipes(cg_llm_child *c)
{
    close_handle(c, (uv_handle_t *)&c->in);
    close_handle(c, (uv_handle_t *)&c->out);
    close_handle(c, (uv_handle_t *)&c->err);
}

char *cg_llm_cli_prompt(const char *system, const json_t *messages)
{
    if (!system && json_array_size(messages) == 1)
        return cg_llm_content_text(json_object_get(json_array_get(messages, 0), "content"));
    cg_buf b = {0};
    if (system) {
        cg_buf_appends(&b, system);
        cg_buf_appends(&b, "\n\n");
    }
    size_t i;
    const json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        char *text = cg_llm_content_text(json_object_get(m, "content"));
        cg_buf_appends(&b, role && !strcmp(role, "assistant") ? "Assistant: " : "User: ");
        cg_buf_appends(&b, text);
        cg_buf_appends(&b, "\n\n");
        free(text);
    }
    cg_buf_appends(&b, "Assistant:");
    return b.data;
}

void cg_llm_cli_stop(cg_llm_stream *s)
{
    cg_llm_child *c = s->child;
    if (!c) return;
    s->child = NULL;
    c->s = NULL;
    if (c->spawned && !c->exited) {
        /* The whole group: a wrapper script's children go too. */
        if (kill(-c->proc.pid, SIGKILL) != 0) uv_process_kill(&c->proc, SIGKILL);
    }
    close_pipes(c);
    if (!c->spawned || c->exited) close_handle(c, (uv_handle_t *)&c->proc);
    child_maybe_free(c);
}

static void child_done(cg_llm_child *c)
{
    cg_llm_stream *s = c->s;
    if (!s || !c->exited || !c->out_eof || !c->err_eof) return;
    cg_llm_stream_hold(s);
    /* What is left of an incomplete character. */
    if (c->pending.len) {
        cg_buf text = {0};
        cg_llm_utf8_append(&text, c->pending.data, c->pending.len, true);
        c->pending.len = 0;
        cg_llm_stream_text(s, text.data, text.len);
        cg_buf_reset(&text);
    }
    if (s->cancelled || s->finished) {
        cg_llm_stream_unhold(s);
        return;
    }
    const cg_llm_provider *p = s->provider;
    cg_llm_failure f;
    const cg_llm_failure *outcome = NULL;
    if (s->too_big) {
        cg_llm_failure_set(&f, "server", 0,
                           "the output of %s passed clawgate's limit (%zu bytes) and was cut there",
                           p->command[0], CG_LLM_MAX_REPLY_BYTES);
        outcome = &f;
    } else if (c->status != 0 || c->term_signal != 0) {
        char tail[CG_LLM_STDERR_TAIL + 1];
        cg_llm_error_text(c->err_tail, c->err_len, tail, sizeof tail);
        if (c->term_signal)
            cg_llm_failure_set(&f, "server", 0, "%s was killed by signal %d%s%s", p->command[0],
                               c->term_signal, tail[0] ? ": " : "", tail);
        else
            cg_llm_failure_set(&f, "server", 0, "%s exited with status %lld%s%s", p->command[0],
                               (long long)c->status, tail[0] ? ": " : "", tail);
        outcome = &f;
    } else {
        snprintf(s->stop_reason, sizeof s->stop_reason, "stop");
    }
    /* The child is finished with: close it before the stream moves on. */
    s->child = NULL;
    c->s = NULL;
    close_pipes(c);
    close_handle(c, (uv_handle_t *)&c->proc);
    child_maybe_free(c);
    uv_timer_stop(&s->timer);
    cg_llm_stream_attempt_end(s, outcome);
    cg_llm_stream_unhold(s);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int term_signal)
{
    cg_llm_child *c = proc->data;
    c->exited = true;
    c->status = status;
    c->term_signal = term_signal;
    if (!c->s) {
        close_handle(c, (uv_handle_t *)&c->proc);
        return;
    }
    child_done(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    cg_llm_child *c = h->data;
    buf->base = c->read_buf;
    buf->len = sizeof c->read_buf;
}

static void on_out(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    cg_llm_child *c = st->data;
    cg_llm_stream *s = c->s;
    if (n < 0) {
        uv_read_stop(st);
        c->out_eof = true;
        if (s) child_done(c);
        return;
    }
    if (n == 0 || !s) return;
    cg_llm_stream_hold(s);
    cg_llm_stream_timer(s, CG_LLM_T_IDLE, (uint64_t)s->provider->idle_timeout_ms);
    cg_buf_append(&c->pending, buf->base, (size_t)n);
    cg_buf text = {0};
    size_t used = cg_llm_utf8_append(&text, c->pending.data, c->pending.len, false);
    memmove(c->pending.data, c->pending.data + used, c->pending.len - used);
    c->pending.len -= used;
    bool go_on = cg_llm_stream_text(s, text.data, text.len);
    cg_buf_reset(&text);
    if (!go_on && !s->cancelled && !s->finished && s->too_big) {
        /* Too much: stop the child and end with what fitted. */
        if (c->spawned && !c->exited && kill(-c->proc.pid, SIGKILL) != 0)
            uv_process_kill(&c->proc, SIGKILL);
        uv_read_stop(st);
        c->out_eof = true;
    }
    cg_llm_stream_unhold(s);
}

static void on_err(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    cg_llm_child *c = st->data;
    if (n < 0) {
        uv_read_stop(st);
        c->err_eof = true;
        if (c->s) child_done(c);
        return;
    }
    /* Keep the last CG_LLM_STDERR_TAIL bytes. */
    size_t len = (size_t)n;
    if (len >= sizeof c->err_tail) {
        memcpy(c->err_tail, buf->base + len - sizeof c->err_tail, sizeof c->err_tail);
        c->err_len = sizeof c->err_tail;
    } else {
        size_t keep = c->err_len + len > sizeof c->err_tail ? sizeof c->err_tail - len : c->err_len;
        memmove(c->err_tail, c->err_tail + c->err_len - keep, keep);
        memcpy(c->err_tail + keep, buf->base, len);
        c->err_len = keep + len;
    }
}

static void on_written(uv_write_t *w, int status)
{
    cg_llm_child *c = w->data;
    if (status == 0 && !uv_is_closing((uv_handle_t *)&c->in))
        uv_shutdown(&c->shutdown, (uv_stream_t *)&c->in, NULL);
}

void cg_llm_cli_idle(cg_llm_stream *s)
{
    const cg_llm_provider *p = s->provider;
    cg_llm_cli_stop(s);
    cg_llm_failure f;
    cg_llm_failure_set(&f, "timeout", 0,
                       "%s wrote nothing for %lld s and was stopped (models.providers.%s."
                       "timeoutSeconds raises the limit)",
                       p->command[0], (long long)((p->idle_timeout_ms + 999) / 1000), p->id);
    cg_llm_stream_attempt_end(s, &f);
}

/* environ plus the model's names; the strings are owned by the returned block. */
static char **child_env(const cg_llm_stream *s, char **extra)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = cg_xcalloc(n + 3, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "CLAWGATE_PROVIDER=", 18) &&
            strncmp(environ[i], "CLAWGATE_MODEL=", 15))
            env[k++] = environ[i];
    size_t len = strlen(s->provider->id) + 32;
    extra[0] = cg_xmalloc(len);
    snprintf(extra[0], len, "CLAWGATE_PROVIDER=%s", s->provider->id);
    len = strlen(s->model_id) + 32;
    extra[1] = cg_xmalloc(len);
    snprintf(extra[1], len, "CLAWGATE_MODEL=%s", s->model_id);
    env[k++] = extra[0];
    env[k++] = extra[1];
    env[k] = NULL;
    return env;
}

void cg_llm_cli_attempt(cg_llm_stream *s)
{
    const cg_llm_provider *p = s->provider;
    uv_loop_t *loop = cg_llm_loop(s->llm);
    cg_llm_child *c = cg_xcalloc(1, sizeof *c);
    c->s = s;
    s->child = c;
    uv_pipe_init(loop, &c->in, 0);
    uv_pipe_init(loop, &c->out, 0);
    uv_pipe_init(loop, &c->err, 0);
    c->in.data = c->out.data = c->err.data = c->proc.data = c->write.data = c;
    c->open = 4; /* three pipes and the process */
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&c->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->err},
    };
    char *extra[2] = {NULL, NULL};
    char **env = child_env(s, extra);
    uv_process_options_t opts = {
        .exit_cb = on_exit_cb,
        .file = p->command[0],
        .args = p->command,
        .env = env,
        .flags = UV_PROCESS_DETACHED, /* its own process group, killed whole */
        .stdio_count = 3,
        .stdio = stdio,
    };
    int rc = uv_spawn(loop, &c->proc, &opts);
    free(env);
    free(extra[0]);
    free(extra[1]);
    if (rc != 0) {
        cg_llm_cli_stop(s); /* closes the pipes and the process handle */
        cg_llm_failure f;
        cg_llm_failure_set(&f, "config", 0, "%s.command: cannot run \"%s\": %s", p->path,
                           p->command[0], uv_strerror(rc));
        /* Never inside cg_llm_start: attempts start from the stream's timer. */
        cg_llm_stream_attempt_end(s, &f);
        return;
    }
    c->spawned = true;
    c->prompt = cg_llm_cli_prompt(s->system, s->messages);
    uv_buf_t b = uv_buf_init(c->prompt, (unsigned)strlen(c->prompt));
    if (uv_write(&c->write, (uv_stream_t *)&c->in, &b, 1, on_written) != 0)
        close_handle(c, (uv_handle_t *)&c->in);
    uv_read_start((uv_stream_t *)&c->out, on_alloc, on_out);
    uv_read_start((uv_stream_t *)&c->err, on_alloc, on_err);
    cg_llm_stream_timer(s, CG_LLM_T_IDLE, (uint64_t)p->idle_timeout_ms);
}

/* ---- offline ---- */

const char cg_llm_offline_text[] =
    "No model is configured, so this is clawgate's built-in offline reply: nothing was sent "
    "to a model.\n\n"
    "To chat with a model, add a provider to clawgate.json (in the state directory, "
    "~/.clawgate by default) or through config.patch, for example a local Ollama:\n\n"
    "  \"models\": {\"providers\": {\"ollama\": {\"baseUrl\": \"http://127.0.0.1:11434/v1\", "
    "\"api\": \"openai-completions\", \"models\": [{\"id\": \"llama3.2\", \"name\": \"Llama "
    "3.2\"}]}}},\n"
    "  \"agents\": {\"defaults\": {\"model\": \"ollama/llama3.2\"}}\n\n"
    "or start clawgate with OPENAI_API_KEY or ANTHROPIC_API_KEY set. Changes made through "
    "config.patch apply to the next message without a restart.";

#define OFFLINE_PIECE 48 /* bytes per delta, at a space */
#define OFFLINE_PACE_MS 15

void cg_llm_offline_attempt(cg_llm_stream *s)
{
    s->offline_pos = 0;
    cg_llm_offline_tick(s);
}

void cg_llm_offline_tick(cg_llm_stream *s)
{
    size_t total = sizeof cg_llm_offline_text - 1;
    size_t start = s->offline_pos, end = start + OFFLINE_PIECE;
    if (end >= total) {
        end = total;
    } else {
        while (end < total && cg_llm_offline_text[end] != ' ')
            end++;
    }
    s->offline_pos = end;
    if (!cg_llm_stream_text(s, cg_llm_offline_text + start, end - start)) return;
    if (end < total) {
        cg_llm_stream_timer(s, CG_LLM_T_OFFLINE, OFFLINE_PACE_MS);
        return;
    }
    snprintf(s->stop_reason, sizeof s->stop_reason, "stop");
    s->usage = (cg_llm_usage){0};
    cg_llm_stream_attempt_end(s, NULL);
}
