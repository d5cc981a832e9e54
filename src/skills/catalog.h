/* Skills: discovery and eligibility, as OpenClaw's skills.status reports them.
 *
 * A skill is a folder holding a SKILL.md (front matter: skills/frontmatter.h). Two roots
 * are scanned, each folder name in byte order: the agent's workspace `skills/` (source
 * "openclaw-workspace") and DIR/skills (source "openclaw-managed"); a name found in the
 * workspace hides the managed one, as OpenClaw's precedence has it. A folder whose
 * SKILL.md cannot be read or parsed is left out (and logged), never fatal.
 *
 * The OpenClaw manifest is `metadata.openclaw` (or the legacy `metadata.clawdbot`),
 * written as a YAML mapping or as JSON text: requires {bins, anyBins, env, config}, os,
 * primaryEnv, skillKey, emoji, homepage, always, install specs (brew, node, go, uv,
 * download; unsafe or incomplete specs are dropped, as OpenClaw drops them). A skill is
 * eligible when it is not disabled (skills.entries.<skillKey>.enabled false) and, unless
 * `always`, every bin is an executable on PATH, one of anyBins is, every env variable is
 * set in the gateway's environment or in skills.entries.<skillKey>.env (or is the
 * primaryEnv and skills.entries.<skillKey>.apiKey is set), every config path is truthy
 * in the configuration, and the os list (if any) has this platform.
 *
 * Scanning reads directories, files and PATH: it blocks, so the gateway runs it on
 * libuv's thread pool (cg_skills_scan_async); cg_skills_scan itself is synchronous and
 * has no global state besides the process environment it reads. */
#ifndef CG_SKILLS_CATALOG_H
#define CG_SKILLS_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* Folders looked at per root at most (the rest are ignored and logged). */
#define CG_SKILLS_MAX_PER_ROOT 1024
/* The prompt's defaults (skills.limits.maxSkillsInPrompt / maxSkillsPromptChars). */
#define CG_SKILLS_PROMPT_MAX_SKILLS 150
#define CG_SKILLS_PROMPT_MAX_CHARS 18000

typedef struct cg_skills_target {
    const char *agent_id;
    const char *workspace_dir; /* absolute */
} cg_skills_target;

/* One scanned workspace. */
typedef struct cg_skills_scan_result {
    /* skills.status's payload: {workspaceDir, managedSkillsDir, agentId, skills: [entry]}
     * where an entry is {name, description, source, bundled, filePath, baseDir, skillKey,
     * primaryEnv?, emoji?, homepage?, always, disabled, blockedByAllowlist,
     * blockedByAgentFilter, eligible, platformIncompatible, modelVisible, userInvocable,
     * commandVisible, requirements, missing, configChecks, install: [{id, kind, label,
     * bins}]}. */
    json_t *report;
    /* The install specs of each skill by name, each with its resolved "id":
     * {<name>: [{id, kind, url?, sha256?, archive?, extract?, stripComponents?,
     * targetDir?, package?, module?, formula?, bins?, os?, label?}]}. */
    json_t *specs;
    /* Every bin the skills name (requires.bins, requires.anyBins, install bins), sorted,
     * distinct. */
    json_t *bins;
    /* The system prompt section listing the eligible, model-visible skills by name ("##
     * Skills" and the <available_skills> block, as OpenClaw formats it, within the
     * skills.limits bounds); "" when there are none. */
    char *prompt;
} cg_skills_scan_result;

/* Scans one workspace (blocking). config is the configuration document (may be NULL),
 * state_dir holds the managed skills/. */
void cg_skills_scan(const cg_skills_target *target, const char *state_dir, const json_t *config,
                    cg_skills_scan_result *out);
void cg_skills_scan_result_clear(cg_skills_scan_result *r);

/* Scans n workspaces on the thread pool; cb gets n results on the loop (it may keep or
 * clear them; the array is freed after cb returns). The targets and config are copied. */
typedef void (*cg_skills_scan_fn)(cg_skills_scan_result *results, size_t n, void *data);
void cg_skills_scan_async(uv_loop_t *loop, const cg_skills_target *targets, size_t n,
                          const char *state_dir, const json_t *config, cg_skills_scan_fn cb,
                          void *data);

/* The status entry of the skill named `name` (or with that skillKey) in a report, or NULL.
 * Borrowed. */
json_t *cg_skills_report_find(const json_t *report, const char *name);

#endif
