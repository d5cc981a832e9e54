/* See channel_store.h: one heap job per write holding the batch until its done. */
#include "channels/channel_store.h"

#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"

typedef struct write_job {
    cg_store_batch batch;
    cg_store_done_fn done;
    void *data;
} write_job;

static int job_run(sqlite3 *db, void *data, char *err, size_t errlen)
{
    return cg_store_batch_run(db, &((write_job *)data)->batch, err, errlen);
}

static void job_done(int status, const char *error, void *data)
{
    write_job *j = data;
    if (status != 0)
        cg_log(CG_LOG_ERROR, "channels", "state write failed",
               json_pack("{s:s}", "error", error ? error : "?"));
    if (j->done) j->done(status, error, j->data);
    cg_store_batch_clear(&j->batch);
    free(j);
}

void cg_channel_store_write(cg_store *st, cg_store_batch *batch, cg_store_done_fn done, void *data)
{
    write_job *j = cg_xcalloc(1, sizeof *j);
    j->batch = *batch;
    *batch = (cg_store_batch){0};
    j->done = done;
    j->data = data;
    cg_store_write(st, job_run, job_done, j);
}
