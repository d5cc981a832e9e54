/* Agents: who answers, from the configuration (OpenClaw's agents.entries.<id>), each with
 * a workspace directory holding the files its system prompt is built from. A domain
 * module over config/: no gateway header.
 *
 * The default agent is "main" and always exists, configured or not. Other agents are the
 * ids under agents.entries, read from the configuration document on every call, so a
 * config.patch (or agents.create) is visible at once. An agent's workspace is, as the
 * real gateway resolves it: its entry's `workspace` ("~/" expanded); else, with
 * agents.defaults.workspace set, that directory for main and <it>/<id> for the others;
 * else <state>/workspace for main and <state>/workspace-<id> for the others.
 *
 * Workspace files are the real gateway's six (CG_AGENT_FILES), 2 MiB each at most. They
 * are read and written on libuv's thread pool, confined to the workspace: the names
 * come from that fixed list (no path ever comes from a client), a file is opened with
 * O_NOFOLLOW relative to the workspace directory and must be a regular file with one
 * link (a symlink or hard link to elsewhere is refused as "unsafe workspace file"), and
 * writes go through cg_write_file_atomic (temp file, fsync, rename, fsync of the
 * directory; a rename replaces a symlink rather than following it).
 *
 * Results and errors handed to callbacks are new references the callback owns; errors
 * are ErrorShape objects ({code, message, details?}). Callbacks run on the loop thread,
 * never inside the call that started them. */
#ifndef CG_AGENT_AGENTS_H
#define CG_AGENT_AGENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config/config.h"

#define CG_AGENTS_DEFAULT_ID "main"
#define CG_AGENT_ID_MAX 64
#define CG_AGENT_FILE_MAX_BYTES (2u * 1024 * 1024)
/* Agents one configuration may define (agents.create refuses beyond). */
#define CG_AGENTS_MAX 256

/* The workspace files, in system prompt order (AGENTS.md, SOUL.md, IDENTITY.md, USER.md,
 * BOOTSTRAP.md, MEMORY.md), NULL-terminated. */
extern const char *const CG_AGENT_FILES[];
bool cg_agent_file_allowed(const char *name);

/* OpenClaw's normalizeAgentIdStrict: an id matching [a-z0-9][a-z0-9_-]{0,63}
 * (case-insensitive) is lowercased; anything else is lowercased, runs of other
 * characters become "-", leading and trailing "-" go, and it is cut to 64. false when
 * nothing is left. out holds at least CG_AGENT_ID_MAX + 1 bytes. */
bool cg_agent_id_normalize(const char *in, char *out, size_t outlen);

typedef struct cg_agent {
    char id[CG_AGENT_ID_MAX + 1];
    char *name;           /* entry name, else identity.name, else NULL */
    char *workspace;      /* absolute path */
    char *model;          /* entry model (a string, or {primary}), else NULL */
    char *emoji, *avatar; /* identity.emoji / identity.avatar, else NULL */
    bool configured;      /* agents.entries.<id> exists */
    bool is_default;
} cg_agent;

typedef struct cg_agents cg_agents;

cg_agents *cg_agents_new(cg_config *cfg, uv_loop_t *loop);
/* Jobs in flight finish without calling back. */
void cg_agents_free(cg_agents *a);

/* The agent with this id (normalized first) as the configuration has it now, or NULL.
 * Free with cg_agent_free. */
cg_agent *cg_agents_find(cg_agents *a, const char *id);
/* Every agent, the default first (*n set). Free with cg_agents_list_free. */
cg_agent **cg_agents_list(cg_agents *a, size_t *n);
void cg_agents_list_free(cg_agent **list, size_t n);
void cg_agent_free(cg_agent *agent);
const char *cg_agents_state_dir(const cg_agents *a);

/* The result or the error (exactly one is set; both new references the callback owns). */
typedef void (*cg_agents_result_fn)(json_t *result, json_t *error, void *data);

/* agents.list's payload (AgentsListResult). New ref. */
json_t *cg_agents_list_result(cg_agents *a);

/* agents.create / update / delete with their params (already checked against the
 * schema): the configuration is changed through cg_config_patch_async, the workspace
 * created (create: with an IDENTITY.md naming the agent when there is none) or, for a
 * delete with deleteFiles (default true) of a workspace inside the state dir, moved to
 * <state>/trash/. Results: AgentsCreateResult, AgentsUpdateResult, AgentsDeleteResult.
 * Refusals are the real gateway's: `agent "x" already exists`, `agent "x" not found`,
 * the default agent cannot be deleted. */
void cg_agents_create(cg_agents *a, const json_t *params, cg_agents_result_fn cb, void *data);
void cg_agents_update(cg_agents *a, const json_t *params, cg_agents_result_fn cb, void *data);
void cg_agents_delete(cg_agents *a, const json_t *params, cg_agents_result_fn cb, void *data);

/* agents.files.list / get / set (AgentsFilesListResult, AgentsFilesGetResult,
 * AgentsFilesSetResult). content is copied. */
void cg_agents_files_list(cg_agents *a, const char *agent_id, cg_agents_result_fn cb, void *data);
void cg_agents_file_get(cg_agents *a, const char *agent_id, const char *name,
                        cg_agents_result_fn cb, void *data);
void cg_agents_file_set(cg_agents *a, const char *agent_id, const char *name, const char *content,
                        size_t len, cg_agents_result_fn cb, void *data);

/* agent.identity.get's payload (AgentIdentityResult): the configured identity
 * (nameSource "agent"), else the workspace's IDENTITY.md ("- Name: ...", "- Emoji: ...",
 * "- Avatar: ..." lines; nameSource "workspace"), else "Assistant" / "A" ("default"). */
void cg_agents_identity(cg_agents *a, const char *agent_id, cg_agents_result_fn cb, void *data);

/* The system prompt of an agent, built on the thread pool from its workspace files: a
 * line naming the agent, then per present, non-empty file "## <name>\n\n<content>\n\n",
 * in CG_AGENT_FILES order. cb gets the text (malloc'd, the callback frees it), or NULL
 * with an error message when the agent does not exist. */
typedef void (*cg_agents_prompt_fn)(char *prompt, const char *error, void *data);
void cg_agents_system_prompt(cg_agents *a, const char *agent_id, cg_agents_prompt_fn cb,
                             void *data);

#endif
