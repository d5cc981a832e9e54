/* What the model-provider files share (llm.c, llm_conf.c, llm_http.c, llm_cli.c) and
 * what the unit tests reach. Everything runs on the loop thread.
 *
 *   llm_conf.c  the configuration: providers, models, the default chain, credentials,
 *               the retry decision and error wording that do not depend on a stream
 *   llm.c       cg_llm and its streams: attempts, retries, fallbacks, outcomes; the
 *               catalog (with discovery) and auth status
 *   llm_http.c  openai-completions and anthropic-messages over cg_http (SSE)
 *   llm_cli.c   api "cli" (a child process) and the built-in offline provider */
#ifndef CG_AGENT_LLM_INTERNAL_H
#define CG_AGENT_LLM_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/http_client.h"
#include "agent/llm.h"
#include "agent/sse.h"
#include "common/util.h"

#define CG_LLM_MAX_REPLY_BYTES ((size_t)4 * 1024 * 1024) /* text of one reply */
#define CG_LLM_MAX_SSE_BYTES ((size_t)1024 * 1024)       /* one SSE line or event */
#define CG_LLM_MAX_ERROR_BODY ((size_t)64 * 1024)        /* kept of an error response */
#define CG_LLM_MAX_JSON_BODY ((size_t)8 * 1024 * 1024)   /* a non-streamed answer */
#define CG_LLM_MAX_RETRIES 3
#define CG_LLM_RETRY_WINDOW_MS 60000
#define CG_LLM_DEFAULT_IDLE_MS 120000
#define CG_LLM_CONNECT_TIMEOUT_MS 10000
#define CG_LLM_STDERR_TAIL 2048
#define CG_LLM_MAX_PROVIDERS 256
#define CG_LLM_MAX_MODELS 4096 /* per provider, configured or discovered */
#define CG_LLM_MAX_CHAIN 16    /* primary + fallbacks */

#define CG_LLM_OPENAI_DEFAULT_BASE "https://api.openai.com/v1"
#define CG_LLM_ANTHROPIC_DEFAULT_BASE "https://api.anthropic.com"
#define CG_LLM_OPENAI_DEFAULT_MODEL "gpt-6-astra"
#define CG_LLM_ANTHROPIC_DEFAULT_MODEL "claude-opus-5"
#define CG_LLM_ANTHROPIC_VERSION "2023-06-01"

typedef enum {
    CG_LLM_API_OPENAI,    /* openai-completions */
    CG_LLM_API_ANTHROPIC, /* anthropic-messages */
    CG_LLM_API_CLI,       /* clawgate's own: a command, prompt on stdin */
    CG_LLM_API_OFFLINE,   /* built in: says no model is configured */
} cg_llm_api;

typedef struct cg_llm_model {
    char *id, *name;
    int64_t context_window, max_tokens; /* 0: not given */
    bool reasoning;
    bool images; /* input includes "image" */
} cg_llm_model;

typedef struct cg_llm_provider {
    char *id;
    char *path; /* "models.providers.<id>", or the variable that configured it */
    cg_llm_api api;
    char *base_url;     /* no trailing slash; NULL for cli and offline */
    char *api_key;      /* NULL: none */
    char *api_key_env;  /* the environment variable the key comes (or would come) from */
    bool key_in_config; /* the key is written in the config itself */
    bool needs_key;     /* a hosted API that refuses requests without one */
    bool automatic;     /* configured from OPENAI_API_KEY / ANTHROPIC_API_KEY */
    char **headers;     /* "Name: value" */
    size_t n_headers;
    char **command; /* cli argv, NULL-terminated */
    size_t n_command;
    cg_llm_model *models;
    size_t n_models;
    int64_t idle_timeout_ms;
} cg_llm_provider;

/* One configuration, shared by reference: streams keep the one they started with. */
typedef struct cg_llm_conf {
    unsigned refs;
    cg_llm_provider *providers;
    size_t n_providers;
    char **chain; /* the default model, then its fallbacks: "<provider>/<model>" */
    size_t chain_len;
    bool offline; /* nothing is configured: the offline provider answers */
} cg_llm_conf;

/* Builds the configuration from a resolved document and the environment; problems go
 * to issues as {path, message}. Never NULL. */
cg_llm_conf *cg_llm_conf_build(const json_t *doc, json_t *issues);
cg_llm_conf *cg_llm_conf_ref(cg_llm_conf *c);
void cg_llm_conf_unref(cg_llm_conf *c);
const cg_llm_provider *cg_llm_conf_provider(const cg_llm_conf *c, const char *id);
/* Splits "<provider>/<model>" (or a bare model id that exactly one provider lists) into
 * its provider and model id (*model_id points into ref or at the provider's model). The
 * model is NULL when the provider does not list it (it may still exist upstream). 0, or
 * -1 with a message in err. */
int cg_llm_conf_resolve(const cg_llm_conf *c, const char *ref, const cg_llm_provider **provider,
                        const char **model_id, const cg_llm_model **model, char *err,
                        size_t errlen);

/* The retry decision for an attempt that failed before any output with HTTP status code
 * (429, 5xx retry; nothing else does). retry_after / retry_after_ms are the response's
 * headers (NULL when absent); retries_done counts earlier retries of this model and
 * elapsed_ms the time since its first attempt. Returns the delay before the next
 * attempt in ms, or -1: no retry (3 retries already, or the wait would end past 60 s
 * from the first attempt). */
int64_t cg_llm_retry_delay_ms(long code, const char *retry_after, const char *retry_after_ms,
                              int retries_done, int64_t elapsed_ms, int64_t now_epoch_ms);
/* errorKind of an HTTP status: 401/403 auth, 429 rate_limit, 5xx server, 404 config,
 * other 4xx input. */
const char *cg_llm_kind_for_status(long code);
/* The error text of a provider's error body ({error: {message}} or {error: "..."} or
 * {message}; else the body's first line), cleaned to printable UTF-8 and bounded.
 * Writes "" when there is nothing useful. */
void cg_llm_error_text(const char *body, size_t len, char *out, size_t outlen);
/* Appends bytes to out as valid UTF-8 (invalid bytes become U+FFFD); an incomplete
 * sequence at the end is left unconsumed unless final. Returns the bytes consumed. */
size_t cg_llm_utf8_append(cg_buf *out, const char *in, size_t len, bool final);

/* ---- streams ---- */

typedef enum {
    CG_LLM_T_NONE,
    CG_LLM_T_ATTEMPT,
    CG_LLM_T_FINISH,
    CG_LLM_T_OFFLINE,
    CG_LLM_T_IDLE
} cg_llm_timer_use;

struct cg_llm_child; /* llm_cli.c */

/* How one attempt failed. */
typedef struct cg_llm_failure {
    const char *kind; /* errorKind */
    char message[1024];
    long code;           /* HTTP status, 0 when none */
    int64_t retry_in_ms; /* >= 0: retryable after that long (cg_llm_retry_delay_ms) */
} cg_llm_failure;

struct cg_llm_stream {
    cg_llm *llm;
    cg_llm_conf *conf;
    cg_llm_callbacks cb;
    void *data;
    json_t *messages; /* copies of the request */
    char *system;
    char *thinking;
    char *chain[CG_LLM_MAX_CHAIN];
    size_t chain_len, chain_pos;
    /* the current attempt */
    const cg_llm_provider *provider;
    const cg_llm_model *model; /* NULL when the provider does not list it */
    char *model_id;
    int retries;
    uint64_t model_started_ms; /* monotonic, first attempt of this model */
    cg_http_req *http;
    struct cg_llm_child *child;
    size_t offline_pos;
    uv_timer_t timer;
    cg_llm_timer_use timer_use;
    /* what the attempt received */
    long code;
    bool sse; /* the response is an event stream (else a JSON body) */
    cg_sse parser;
    cg_buf body;   /* an error body or a JSON answer, bounded */
    bool complete; /* the stream said it ended ([DONE], finish_reason, message_stop) */
    bool tool_call;
    char tool_name[128];
    cg_llm_failure stream_failure; /* an error event inside the stream */
    bool has_stream_failure;
    bool too_big;
    /* the run */
    size_t reply_bytes;
    bool streamed;
    char stop_reason[48];
    cg_llm_usage usage;
    cg_buf earlier_errors; /* "; provider/model: message" of models that failed */
    /* the outcome */
    cg_llm_failure final;
    bool failed;
    char note[256];
    /* life */
    bool cancelled, finished, released;
    int busy;
    cg_llm_stream *prev, *next;
};

/* llm.c, for the attempt implementations. */
/* Every entry from the loop holds the stream while it runs; the last unhold of a
 * released stream frees it (after its timer handle closes). */
void cg_llm_stream_hold(cg_llm_stream *s);
void cg_llm_stream_unhold(cg_llm_stream *s);
/* Delivers reply text; false when the stream must stop (cancelled, or the reply passed
 * its bound). The stream may be released inside: after false, touch nothing but
 * the return path. */
bool cg_llm_stream_text(cg_llm_stream *s, const char *text, size_t len);
/* The attempt ended: f NULL when it succeeded. Called at a safe point (a transfer's
 * end, a timer, a child's exit), never inside a curl callback. */
void cg_llm_stream_attempt_end(cg_llm_stream *s, const cg_llm_failure *f);
void cg_llm_failure_set(cg_llm_failure *f, const char *kind, long code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
cg_http *cg_llm_http(cg_llm *llm);
uv_loop_t *cg_llm_loop(cg_llm *llm);
/* The stream's timer, for an attempt's own use (offline chunks, the CLI idle guard). */
void cg_llm_stream_timer(cg_llm_stream *s, cg_llm_timer_use use, uint64_t ms);

/* llm_http.c */
void cg_llm_http_attempt(cg_llm_stream *s);
void cg_llm_http_idle(cg_llm_stream *s); /* the idle guard fired */
/* The JSON request body of an attempt (tests). New ref. */
json_t *cg_llm_http_body(const cg_llm_stream *s);

/* llm_cli.c */
void cg_llm_cli_attempt(cg_llm_stream *s);
/* Ends the attempt's child: killed (its process group), no more callbacks. */
void cg_llm_cli_stop(cg_llm_stream *s);
void cg_llm_cli_idle(cg_llm_stream *s); /* the idle guard fired */
/* The prompt a CLI receives on stdin. Caller frees. */
char *cg_llm_cli_prompt(const char *system, const json_t *messages);
void cg_llm_offline_attempt(cg_llm_stream *s);
void cg_llm_offline_tick(cg_llm_stream *s);
extern const char cg_llm_offline_text[];

/* Text of a message's content (a string, or the text parts of an array). Caller frees. */
char *cg_llm_content_text(const json_t *content);
/* Whether content holds an image part. */
bool cg_llm_content_has_image(const json_t *content);

#endif
