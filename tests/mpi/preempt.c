/*
 * preempt.c - the end of an allocation: every rank registers a checkpoint
 * hook that writes a file; the driver sends itself SIGUSR1 (what
 * `sbatch --signal=USR1@T` delivers), lumen tells every rank, each runs its
 * hook and lumen_preempted() becomes 1 everywhere (checked on each rank by a
 * task pinned there with a per-rank resource), and the program then ends
 * cleanly through lumen_finalize. NULL hooks are refused. With
 * LUMEN_TEST_PREEMPT_SIGNAL=TERM (the _sigterm variant) the last rank sends
 * itself SIGTERM instead (what Slurm and mpirun send at the end), so the
 * news also travels from a rank that is not the driver.
 */
#include "check.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static char path_of[256];

static void hook(void *arg)
{
    FILE *f = fopen((const char *)arg, "w");
    if (f) {
        fprintf(f, "checkpoint of rank %d\n", lumen_rank());
        fclose(f);
    }
}

/* 1 once this rank has run its hook and is marked preempted (waits up to 20 s) */
LUMEN_REMOTE(pre_check)
{
    for (int i = 0; i < 2000 && !lumen_preempted(); i++)
        usleep(10000);
    int ok = lumen_preempted() && access(path_of, F_OK) == 0;
    return lumen_return_i64(ctx, 0, ok ? lumen_rank() + 1000 : -1);
}

int main(int argc, char **argv)
{
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &(int){0});
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    uint64_t tag = (uint64_t)getpid();
    MPI_Bcast(&tag, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    snprintf(path_of, sizeof path_of, "/tmp/lumen-preempt-test-%llu-%d", (unsigned long long)tag, rank);
    char res[32];
    snprintf(res, sizeof res, "prerank%d=1", rank);
    setenv("LUMEN_RESOURCES", res, 1);
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    CHECK_ST(lumen_register_checkpoint_hook(NULL, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_OK(lumen_register_checkpoint_hook(hook, path_of));
    const char *which = getenv("LUMEN_TEST_PREEMPT_SIGNAL");
    int sig = which && strcmp(which, "TERM") == 0 ? SIGTERM : SIGUSR1;
    int sender = sig == SIGTERM ? lumen_world_size() - 1 : 0;
    CHECK(!lumen_preempted());
    MPI_Barrier(MPI_COMM_WORLD); /* every hook registered before the signal */
    if (rank == sender)
        CHECK(kill(getpid(), sig) == 0);
    if (rank == 0) {
        int n = lumen_world_size();
        lumen_ref r[64];
        for (int k = 0; k < n && k < 64; k++) {
            char want[32];
            snprintf(want, sizeof want, "prerank%d=1", k);
            lumen_task_options o = {.field_mask = LUMEN_TASK_RESOURCES | LUMEN_TASK_NUM_CPUS, .resources = want,
                                    .num_cpus = 0};
            CHECK_OK(lumen_remote("pre_check", NULL, 0, &o, &r[k]));
        }
        for (int k = 0; k < n && k < 64; k++) {
            int64_t v;
            CHECK_OK(lumen_get_i64(r[k], T_TIMEOUT, &v));
            CHECKF(v == k + 1000, "rank %d: hook not run or not marked preempted (%lld)", k, (long long)v);
            CHECK_OK(lumen_ref_release(r[k]));
        }
        CHECK(lumen_preempted());
        printf("preempt: every rank of %d ran its checkpoint hook (SIG%s to rank %d)\n", n,
               sig == SIGTERM ? "TERM" : "USR1", sender);
    }
    CHECK_OK(lumen_finalize());
    unlink(path_of);
    MPI_Finalize();
    return 0;
}
