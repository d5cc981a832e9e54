/* The gateway's exec policy: DIR/exec-approvals.json, in OpenClaw's shape (pure; no I/O).
 *
 *   {version: 1, socket?: {path, token}, defaults?: {security, ask, askFallback,
 *    autoAllowSkills}, agents?: {<agentId or "*">: {security, ask, askFallback,
 *    autoAllowSkills, allowlist: [{id, pattern, argPattern, source, lastUsedAt, ...}],
 *    mcpTools: [...]}}}
 *
 * An agent's policy is agents.<id> over agents."*" over defaults over OpenClaw's built-in
 * defaults (security full, ask off, askFallback deny, autoAllowSkills false); with no
 * agent id only agents."*" and defaults apply. Its allowlist is agents."*".allowlist
 * followed by agents.<id>.allowlist.
 *
 * Allowlist entries match the argv of a system.run as the gateway sees it (not resolved
 * on the node): `pattern` is a glob (`*` within a path segment, `**` across, `?` one
 * character) over argv[0] when the pattern names a path (has `/` or `~`), else over the
 * basename of a bare argv[0]; a bare `*` without argPattern matches every command. An
 * `argPattern` of the form sha256:cwd-argv:v1:<hex> binds the entry to the exact
 * arguments and working directory (what allow-always writes, hashed as OpenClaw hashes
 * it); another argPattern is a POSIX extended regex over the arguments joined by spaces.
 * allow-always entries match only through their hash. */
#ifndef CG_EXEC_POLICY_H
#define CG_EXEC_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CG_EXEC_POLICY_MAX_BYTES (1024u * 1024) /* the file, serialized */
#define CG_EXEC_HASH_LEN (8 + 64 + 1)           /* "missing:" + hex + NUL */
#define CG_EXEC_ARG_HASH_LEN (19 + 64 + 1)      /* "sha256:cwd-argv:v1:" + hex + NUL */

typedef enum { CG_EXEC_SEC_DENY, CG_EXEC_SEC_ALLOWLIST, CG_EXEC_SEC_FULL } cg_exec_security;
typedef enum { CG_EXEC_ASK_OFF, CG_EXEC_ASK_ON_MISS, CG_EXEC_ASK_ALWAYS } cg_exec_ask;

typedef struct cg_exec_resolved {
    cg_exec_security security;
    cg_exec_ask ask;
    cg_exec_security ask_fallback;
    bool auto_allow_skills;
} cg_exec_resolved;

const char *cg_exec_security_name(cg_exec_security s);
const char *cg_exec_ask_name(cg_exec_ask a);

/* The file as held when there is none: {version: 1, defaults: {}, agents: {}}. New ref. */
json_t *cg_exec_policy_empty(void);
/* What a broken file on disk is taken as (OpenClaw's fail-closed fallback): security deny,
 * ask off, askFallback deny. New ref. */
json_t *cg_exec_policy_fail_closed(void);

/* Checks a file against the shape above: version 1, known keys only, security one of
 * deny|allowlist|full, ask off|on-miss|always, askFallback like security, allowlist
 * entries objects with a non-empty pattern, at most 1,024 agents and 4,096 entries per
 * allowlist. 0, or -1 with "at /file/agents/main/ask: must be one of off, on-miss, always". */
int cg_exec_policy_validate(const json_t *file, char *err, size_t errlen);

/* A copy ready to store: allowlist entries without an id get a random UUID, as OpenClaw
 * does. New ref. */
json_t *cg_exec_policy_normalize(const json_t *file);

/* The text written to disk: 2-space indented JSON, keys in order, final newline.
 * malloc'd. */
char *cg_exec_policy_serialize(const json_t *file, size_t *len);

/* Parses text read from disk. A file that does not validate is NULL (the caller holds the
 * fail-closed policy instead) with the reason in err. New ref. */
json_t *cg_exec_policy_parse(const char *raw, size_t len, char *err, size_t errlen);

/* OpenClaw's snapshot hash: sha256 hex of the raw bytes; "missing:<sha256 of nothing>"
 * when raw is NULL. out >= CG_EXEC_HASH_LEN. */
void cg_exec_policy_hash(const char *raw, size_t len, char *out);

/* The file as shown to clients: socket.token removed. New ref. */
json_t *cg_exec_policy_view(const json_t *file);

/* The policy of an agent (NULL: no agent) and the file's resolved defaults. */
cg_exec_resolved cg_exec_policy_resolve(const json_t *file, const char *agent_id);
/* {security, ask, askFallback, autoAllowSkills} of the defaults alone. New ref. */
json_t *cg_exec_policy_resolved_defaults(const json_t *file);

/* The cwd-bound argument hash of allow-always entries (OpenClaw's
 * buildCwdBoundHashedArgPattern on POSIX): sha256 over the normalized cwd ("." when
 * NULL or empty) and argv[1..], each length-prefixed. argv: an array of strings.
 * out >= CG_EXEC_ARG_HASH_LEN. */
void cg_exec_arg_hash(const json_t *argv, const char *cwd, char *out);

/* Glob match of the allowlist patterns (see above). */
bool cg_exec_glob_match(const char *pattern, const char *target);

/* The allowlist entry of the agent's policy that matches argv in cwd, or NULL (borrowed). */
const json_t *cg_exec_policy_match(const json_t *file, const char *agent_id, const json_t *argv,
                                   const char *cwd);

typedef enum {
    CG_EXEC_DECIDE_ALLOW,
    CG_EXEC_DECIDE_REFUSE,
    CG_EXEC_DECIDE_ASK,
} cg_exec_decision;

typedef struct cg_exec_verdict {
    cg_exec_decision decision;
    cg_exec_resolved policy;
    bool allowlist_hit;
    const char *reason;  /* REFUSE: "security-deny" or "allowlist-miss" */
    const char *message; /* REFUSE: "SYSTEM_RUN_DENIED: ..." */
} cg_exec_verdict;

/* What the policy says about running argv in cwd for agent_id:
 *   security deny                                  -> REFUSE (security-deny)
 *   ask always                                     -> ASK
 *   security full                                  -> ALLOW
 *   allowlist hit                                  -> ALLOW
 *   allowlist miss, ask off                        -> REFUSE (allowlist-miss)
 *   allowlist miss, ask on-miss                    -> ASK */
cg_exec_verdict cg_exec_policy_evaluate(const json_t *file, const char *agent_id,
                                        const json_t *argv, const char *cwd);

/* What an unanswered approval falls back to (askFallback, never above security, as
 * OpenClaw's node host decides): true when the command may run anyway (askFallback full,
 * or allowlist with an allowlist hit). */
bool cg_exec_policy_fallback_allows(const cg_exec_verdict *v);

/* A copy of file with an allow-always entry for argv in cwd under agents.<agent_id>
 * (agents."*" when agent_id is NULL): {id, pattern: argv[0], argPattern: <arg hash>,
 * source: "allow-always", lastUsedAt: now_ms}. NULL when an equal entry exists already
 * or argv is empty. New ref. */
json_t *cg_exec_policy_add_allow_always(const json_t *file, const char *agent_id,
                                        const json_t *argv, const char *cwd, int64_t now_ms);

#endif
