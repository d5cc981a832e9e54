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
 * "running" by a crash becomes "interrupted".
 *
 * Threads: every function runs on the loop thread. Callbacks (done, history, the
 * listener) run on the loop thread too, never inside the call that caused them. done
 * reports the store's outcome (0 after the commit, -1 with the error); a call that
 * refuses (returns -1) never calls its done.
 *
 * Reads see writes: a history read starts only after every write this module submitted
 * before it has completed, so a reply built right after cg_sessions_append sees the
 * message appended.
 *
 * Transcripts: each session has one current transcript, numbered 1, 2, ... A reset
 * starts a new one (the main session of an agent keeps its session id, any other gets a
 * new id) and archives the old one in the store under its own id and the session id it
 * had; a delete archives it too. The newest CG_SESSIONS_MAX_ARCHIVED archived
 * transcripts are kept. `generation` changes whenever the current transcript does:
 * a run that appended to a session should stop writing once it changed. */
#ifndef CG_AGENT_SESSIONS_H
#define CG_AGENT_SESSIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store/store.h"

/* Caps. Sessions in the index; messages in one transcript (beyond it append refuses:
 * compact or reset the session); one message's serialized size; a key's length. */
#define CG_SESSIONS_MAX 50000
#define CG_SESSIONS_MAX_MESSAGES 10000
#define CG_SESSIONS_MAX_MESSAGE_BYTES (16u * 1024 * 1024)
#define CG_SESSION_KEY_MAX 512
/* Archived transcripts kept (oldest dropped first). */
#define CG_SESSIONS_MAX_ARCHIVED 1024
/* Messages one history read returns at most, and their total serialized size. */
#define CG_SESSIONS_HISTORY_MAX 1000
#define CG_SESSIONS_HISTORY_MAX_BYTES (64u * 1024 * 1024)
/* lastMessagePreview: characters (code points), as the real gateway's default. */
#define CG_SESSIONS_PREVIEW_CHARS 240

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
    int64_t generation; /* changes when a reset replaces the transcript */
    bool running;       /* a message appended "running" in this process is not final yet */
} cg_session;

typedef void (*cg_sessions_done_fn)(int status, const char *error, void *data);

/* Loads the index (blocking: at startup) and marks crashed runs interrupted. NULL with
 * a message in err when the store cannot be read. */
cg_sessions *cg_sessions_open(cg_store *store, uv_loop_t *loop, char *err, size_t errlen);
/* Frees the index. Writes queued keep going (their dones are not called); reads in
 * flight finish without calling back. */
void cg_sessions_free(cg_sessions *s);
/* The gateway is stopping: from now on writes refuse ("gateway shutting down") and
 * history reads answer an empty list, so nothing reaches a store being closed. */
void cg_sessions_stop(cg_sessions *s);

/* Why the last call that returned -1 (or NULL) refused. */
const char *cg_sessions_error(const cg_sessions *s);

/* The canonical key of `key` (see above) into out; false when it is not a valid key
 * (empty, longer than CG_SESSION_KEY_MAX, control characters, "agent:" without an agent
 * id and a name). default_agent NULL means "main". */
bool cg_session_key_canonical(const char *key, const char *default_agent, char *out, size_t outlen);
/* Whether a canonical key is its agent's main session ("agent:<id>:main"). */
bool cg_session_key_is_main(const char *canonical_key);
/* The agent id of a canonical key into out (false when it is not one). */
bool cg_session_key_agent(const char *canonical_key, char *out, size_t outlen);

/* By key (canonical, or a form cg_session_key_canonical turns into one with the default
 * agent "main"). The record is valid until the next call that changes the index. */
const cg_session *cg_sessions_find(const cg_sessions *s, const char *key);
const cg_session *cg_sessions_find_by_id(const cg_sessions *s, const char *session_id);
/* The session, created (and written through) when absent. NULL past the cap or for a
 * key that is not valid. agent_id NULL: the key's. */
const cg_session *cg_sessions_ensure(cg_sessions *s, const char *key, const char *agent_id,
                                     int64_t now_ms);
/* Every session, newest update first (a new array of borrowed records, *n set; free()
 * the array). */
const cg_session **cg_sessions_sorted(const cg_sessions *s, size_t *n);
size_t cg_sessions_count(const cg_sessions *s);

/* Appends a transcript message (copied); returns its sequence number in the session
 * (1, 2, ...), or -1 when the session is unknown, the message is not an object with a
 * string role, is larger than CG_SESSIONS_MAX_MESSAGE_BYTES, or the transcript holds
 * CG_SESSIONS_MAX_MESSAGES (cg_sessions_error says which). done after the commit.
 * status "running" marks the session running until the message is replaced by one with
 * another status. An assistant message's usage {input, output} adds to the session's
 * token counts; a user or assistant message with text becomes lastMessagePreview. */
int64_t cg_sessions_append(cg_sessions *s, const char *key, const json_t *message,
                           cg_sessions_done_fn done, void *data);
/* Replaces message `seq` of the session (a running reply becoming final). 0, or -1 when
 * the session is unknown or seq is not in its current transcript (done then reports -1
 * "message not found" when compaction removed it meanwhile). */
int cg_sessions_replace(cg_sessions *s, const char *key, int64_t seq, const json_t *message,
                        cg_sessions_done_fn done, void *data);

/* The last `limit` messages (oldest first), read off the loop; cb runs on the loop with
 * messages (a new ref, [] for an unknown session), the total and whether older ones
 * exist. limit is clamped to 1 .. CG_SESSIONS_HISTORY_MAX. Each message is the stored
 * body plus "__openclaw": {"seq": n}; one still "running" in the store that no run of
 * this process owns is reported "interrupted". */
typedef void (*cg_sessions_history_fn)(json_t *messages, int64_t total, bool has_more, void *data);
void cg_sessions_history(cg_sessions *s, const char *key, int64_t limit, cg_sessions_history_fn cb,
                         void *data);

/* ---- changes made by the sessions.* methods ---- */

/* Merges `changes` into the session's meta (a member whose value is null is removed)
 * and bumps updatedAt. 0, or -1 when the session is unknown. */
int cg_sessions_patch_meta(cg_sessions *s, const char *key, const json_t *changes, int64_t now_ms,
                           cg_sessions_done_fn done, void *data);
/* Starts a new transcript (see above): counts, tokens and preview start over, meta is
 * kept, generation changes. 0, or -1 when unknown. */
int cg_sessions_reset(cg_sessions *s, const char *key, int64_t now_ms, cg_sessions_done_fn done,
                      void *data);
/* Removes the session, archiving its transcript. 0, or -1 when unknown. */
int cg_sessions_delete(cg_sessions *s, const char *key, int64_t now_ms, cg_sessions_done_fn done,
                       void *data);
/* Keeps the newest max_lines messages of the transcript and drops the older ones.
 * Returns how many are kept (the count before when it was not above max_lines: nothing
 * is written and done is not called), or -1 when unknown. */
int64_t cg_sessions_compact(cg_sessions *s, const char *key, int64_t max_lines, int64_t now_ms,
                            cg_sessions_done_fn done, void *data);

/* ---- being told ---- */

typedef enum {
    CG_SESSIONS_CREATED, /* cg_sessions_ensure made a session (message NULL, seq 0) */
    CG_SESSIONS_MESSAGE, /* a message was appended or replaced and committed */
} cg_sessions_event;
/* Called on the loop for the events above (the record is borrowed for the call; message
 * too). One listener; NULL removes it. */
typedef void (*cg_sessions_listener_fn)(const cg_session *sess, cg_sessions_event ev, int64_t seq,
                                        const json_t *message, void *data);
void cg_sessions_set_listener(cg_sessions *s, cg_sessions_listener_fn fn, void *data);

/* The preview text of a transcript message (user or assistant text, whitespace trimmed,
 * cut to max_chars code points with "..."), or NULL. Caller frees. */
char *cg_sessions_message_text(const json_t *message, size_t max_chars);

#endif
