/* Skills methods (src/methods/skills.c): skills.status, skills.bins, skills.update,
 * skills.install over the skills module (src/skills), and the skills section of an
 * agent's system prompt. */
#ifndef CG_METHODS_SKILLS_H
#define CG_METHODS_SKILLS_H

#include "agent/agents.h"
#include "gateway/gateway.h"

/* Keeps the installs in flight as gateway data (stopped with the gateway). */
void cg_methods_skills_attach(cg_gateway *gw);

/* The agent's system prompt (cg_agents_system_prompt) followed by the "## Skills"
 * section listing its eligible skills, scanned on the thread pool. cb as
 * cg_agents_prompt_fn: the text (the callback frees it), or NULL and the error. */
void cg_methods_skills_system_prompt(cg_gateway *gw, const char *agent_id, cg_agents_prompt_fn cb,
                                     void *data);

#endif
