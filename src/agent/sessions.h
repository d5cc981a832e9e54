/* Sessions and their transcripts, in the state store (DIR/state.db): the session index
 * in memory (one small record per session), transcript messages in SQLite only, read
 * off the loop. A domain module: no gateway header.
 *
 * Keys as in OpenClaw: "agent:<agentId>:<name>", lowercased; a bare "x" means
 * "agent:<default agent>:x"; "main" is the default agent's main session.
 *
 * A transcript message is a JSON object in OpenClaw's chat.history shape:
 *   user:      {role: "user", content: "text" | [parts], timestamp}
 *   assistant: {role: "assistant", content: [{type: "text", text}], provider, model,
 *               usage: {input, output, totalTokens}, stopReason, timestamp}
 * plus clawgate's own keys runId and status ("complete", "running", "interrupted",
 * "aborted", "error"). Writes are applied in memory (the index: counts, preview, tokens,
 * updatedAt) at once and written through the store's writer thread; done runs after
 * the commit, so an acknowledged write survives kill -9. At open, a message left
 * "running" by a crash becomes "interrupted". */
#ifndef CG_AGENT_SESSIONS_H
#define CG_AGENT_SESSIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store/store.h"

typedef struct cg_sessions cg_sessions;

typedef struct cg_session {
    char *key;        /* canonical */
    char *session_id; /* a UUID; a reset gives non-main sessions a new one */
    char *agent_id;
    json_t *meta; /* label, model (override), thinkingLevel, ... as sessions.patch set */
    int64_t created_at_ms, updated_at_ms;
    int64_t message_count;
    int64_t input_tokens, output_tokens;
    char *last_preview; /* lastMessagePreview, or NULL */
} cg_session;

typedef void (*cg_sessions_done_fn)(int status, const char *error, void *data);

/* Loads the index (blocking: at startup) and marks crashed runs interrupted. NULL with
 * a message in err when the store cannot be read. */
cg_sessions *cg_sessions_open(cg_store *store, uv_loop_t *loop, char *err, size_t errlen);
void cg_sessions_free(cg_sessions *s);

/* The canonical key of `key` (see above) into out; false when it is not a valid key. */
bool cg_session_key_canonical(const char *key, const char *default_agent, char *out, size_t outlen);

const cg_session *cg_sessions_find(const cg_sessions *s, const char *key);
/* The session, created (and written through) when absent. NULL past the cap. */
const cg_session *cg_sessions_ensure(cg_sessions *s, const char *key, const char *agent_id,
                                     int64_t now_ms);

/* Appends a transcript message (copied); returns its sequence number in the session
 * (1, 2, ...), or -1 when the session is unknown. done after the commit. */
int64_t cg_sessions_append(cg_sessions *s, const char *key, const json_t *message,
                           cg_sessions_done_fn done, void *data);
/* Replaces message `seq` of the session (a running reply becoming final). */
int cg_sessions_replace(cg_sessions *s, const char *key, int64_t seq, const json_t *message,
                        cg_sessions_done_fn done, void *data);

/* The last `limit` messages (oldest first), read off the loop; cb runs on the loop with
 * messages (a new ref, [] for an unknown session), the total and whether older ones
 * exist. */
typedef void (*cg_sessions_history_fn)(json_t *messages, int64_t total, bool has_more, void *data);
void cg_sessions_history(cg_sessions *s, const char *key, int64_t limit, cg_sessions_history_fn cb,
                         void *data);

#endif
