/* The sessions.* and agents.* method families (src/methods/sessions.c, agents.c) and
 * what the chat engine uses from them: the session index, the agents, and announcing
 * session changes.
 *
 * Events, as the real gateway sends them:
 *   sessions.changed  {sessionKey, agentId, reason, ts, sessionId?, updatedAt?, kind?,
 *                     session?: <the session's sessions.list row>} to connections that
 *                     called sessions.subscribe (droppable for a slow reader);
 *   session.message   {sessionKey, agentId, sessionId, message, messageSeq, session} to
 *                     those and to connections that called sessions.messages.subscribe
 *                     for that key, for every transcript message appended or replaced
 *                     (after its commit), whoever wrote it.
 * All on the loop thread. */
#ifndef CG_METHODS_SESSIONS_H
#define CG_METHODS_SESSIONS_H

#include <stddef.h>

#include "agent/agents.h"
#include "agent/sessions.h"
#include "gateway/gateway.h"

extern const cg_method cg_methods_sessions[];
extern const cg_method cg_methods_agents[];

/* Opens the session index on the gateway's state store (blocking: call after
 * cg_gateway_start, before the loop serves), the agents over its configuration, keeps
 * both as gateway data, and follows connections for their subscriptions. 0, or -1 with
 * a message in err. */
int cg_methods_sessions_attach(cg_gateway *gw, char *err, size_t errlen);

/* What cg_methods_sessions_attach opened (NULL before). */
cg_sessions *cg_gateway_sessions(cg_gateway *gw);
cg_agents *cg_gateway_agents(cg_gateway *gw);

/* Announces a change of a session (a run started or ended, ...) as sessions.changed
 * with reason (e.g. "run-start", "run-end"); key canonical or not. A key that names no
 * session announces {sessionKey, reason, ts} only. */
void cg_methods_sessions_changed(cg_gateway *gw, const char *key, const char *reason);

/* Told before sessions.reset, sessions.delete, sessions.compact or an agent's deletion
 * changes a session (reason "reset", "new", "delete", "compact", "agent-delete"), so a
 * run on it can be aborted first; key canonical. At most 8 hooks. */
typedef void (*cg_sessions_change_hook)(cg_gateway *gw, const char *key, const char *reason,
                                        void *data);
void cg_methods_sessions_add_hook(cg_gateway *gw, cg_sessions_change_hook fn, void *data);

/* The canonical key of a client's key (bare keys belong to agent_id when given, else to
 * the default agent) whose agent exists, or NULL with *error set (INVALID_REQUEST: an
 * invalid key, an agent that does not match the key's, an unknown agent with details
 * {code: UNKNOWN_AGENT_ID}). out holds CG_SESSION_KEY_MAX + CG_AGENT_ID_MAX + 16 bytes. */
#define CG_SESSION_KEY_BUF (CG_SESSION_KEY_MAX + CG_AGENT_ID_MAX + 16)
const char *cg_methods_session_key(cg_gateway *gw, const char *key, const char *agent_id, char *out,
                                   size_t outlen, json_t **error);

/* A session's sessions.list row (SessionRow). New ref. */
json_t *cg_methods_session_row(cg_gateway *gw, const cg_session *sess, bool include_last_message);

#endif
