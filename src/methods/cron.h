/* The cron family (src/methods/cron.c over src/cron): jobs that wake the agent on a
 * schedule, persisted in the state store (cron_jobs, cron_runs), timed by one libuv
 * timer (src/cron/scheduler.h), run through the run engine (methods/runs.h). */
#ifndef CG_METHODS_CRON_H
#define CG_METHODS_CRON_H

#include "gateway/gateway.h"

extern const cg_method cg_methods_cron[];

/* Loads the jobs from the state store (blocking: at startup, after the sessions and the
 * run engine attached), catches up on missed runs and arms the timer. Problems are
 * logged; cron then reports its subsystem failing. */
void cg_methods_cron_attach(cg_gateway *gw);

#endif
