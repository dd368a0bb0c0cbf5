/*
 * logging.c - per-rank log files with levels: with LUMEN_LOG_DIR and
 * LUMEN_LOG_LEVEL=info set before lumen_init, lumen_log from a task and from
 * an actor method lands in <dir>/rank-R.log of the rank that ran it, each
 * line naming the level, the rank, the function (or the actor class, the
 * actor id and the method) and the task id; a debug line is filtered out; a bad level is an
 * error.
 */
#include "check.h"

#include <unistd.h>

LUMEN_REMOTE(log_task)
{
    CHECK_OK(lumen_log(LUMEN_LOG_INFO, "hello from a task on rank %d", lumen_rank()));
    CHECK_OK(lumen_log(LUMEN_LOG_DEBUG, "this debug line is filtered"));
    return lumen_return_i64(ctx, 0, lumen_rank());
}

static lumen_status la_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = NULL;
    return LUMEN_OK;
}
LUMEN_ACTOR_CLASS(LogActor, la_init, NULL)
LUMEN_METHOD(LogActor, say)
{
    (void)self;
    lumen_log(LUMEN_LOG_WARNING, "hello from an actor");
    return lumen_return_i64(ctx, 0, lumen_rank());
}

static int file_has(const char *path, const char *a, const char *b, const char *not)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[2048];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        CHECKF(!not || !strstr(line, not), "a filtered line was written: %s", line);
        if (strstr(line, a) && strstr(line, b))
            found = 1;
    }
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &(int){0});
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char dir[128];
    uint64_t tag = (uint64_t)getpid();
    MPI_Bcast(&tag, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    snprintf(dir, sizeof dir, "/tmp/lumen-logtest-%llu", (unsigned long long)tag);
    setenv("LUMEN_LOG_DIR", dir, 1);
    setenv("LUMEN_LOG_LEVEL", "info", 1);
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (rank == 0) {
        int n = lumen_world_size();
        CHECK_ST(lumen_log((lumen_log_level)9, "x"), LUMEN_ERR_INVALID_ARG);
        CHECK_ST(lumen_log(LUMEN_LOG_INFO, NULL), LUMEN_ERR_INVALID_ARG);
        lumen_ref r;
        int64_t where;
        CHECK_OK(LUMEN_CALL(&r, "log_task", LUMEN_ARG(0)));
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &where));
        CHECK_OK(lumen_ref_release(r));
        char path[256], want[64];
        snprintf(path, sizeof path, "%s/rank-%lld.log", dir, (long long)where);
        snprintf(want, sizeof want, "INFO lumen rank=%lld function=log_task task=", (long long)where);
        CHECKF(file_has(path, want, "hello from a task", "filtered"), "%s has no task line", path);
        lumen_actor a;
        CHECK_OK(lumen_actor_create("LogActor", NULL, 0, NULL, &a));
        CHECK_OK(LUMEN_ACTOR_CALL0(&r, a, "say"));
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &where));
        CHECK_OK(lumen_ref_release(r));
        snprintf(path, sizeof path, "%s/rank-%lld.log", dir, (long long)where);
        char aid[33], actor_field[96];
        lumen_actor_hex(a, aid);
        snprintf(actor_field, sizeof actor_field, "actor=LogActor actor_id=%s method=say task=", aid);
        CHECKF(file_has(path, "WARNING lumen rank=", actor_field, NULL), "%s has no actor line with %s", path,
               actor_field);
        CHECK_OK(lumen_actor_release(a));
        printf("logging: OK on %d ranks\n", n);
    }
    CHECK_OK(lumen_finalize());
    MPI_Barrier(MPI_COMM_WORLD);
    char path[256];
    snprintf(path, sizeof path, "%s/rank-%d.log", dir, rank);
    unlink(path);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        rmdir(dir);
    MPI_Finalize();
    return 0;
}
