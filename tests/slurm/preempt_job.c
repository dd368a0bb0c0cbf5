/*
 * preempt_job.c - a job for the Slurm signal test: every rank registers a
 * checkpoint hook, the driver prints that it waits and then loops on small
 * tasks until lumen_preempted(); the test sends SIGUSR1 to the batch script
 * (scancel --batch --signal=USR1, as --signal=B:USR1@T would), whose trap
 * hands it to mpirun and on to the ranks. Every rank's hook prints a line,
 * the driver stops, and the job ends cleanly through lumen_finalize with
 * exit 0. Gives up (exit 1) after 60 s without the signal.
 */
#define _DEFAULT_SOURCE /* usleep */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <lumen.h>

LUMEN_REMOTE(tick) { return lumen_return_i64(ctx, 0, 1); }

static void hook(void *arg)
{
    (void)arg;
    printf("checkpoint written by rank %d\n", lumen_rank());
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (lumen_init(&argc, &argv, NULL) != LUMEN_OK)
        return 1;
    lumen_register_checkpoint_hook(hook, NULL);
    int rc = 0;
    if (lumen_is_driver()) {
        printf("waiting for the end of the allocation\n");
        fflush(stdout);
        time_t t0 = time(NULL);
        while (!lumen_preempted() && time(NULL) - t0 < 60) {
            lumen_ref r;
            int64_t v;
            if (LUMEN_CALL(&r, "tick", LUMEN_ARG(1)) == LUMEN_OK) {
                lumen_get_i64(r, 10000, &v);
                lumen_ref_release(r);
            }
            usleep(20000);
        }
        if (lumen_preempted()) {
            sleep(1); /* the other ranks' hooks print too */
            printf("preempted: stopping cleanly\n");
        } else {
            printf("no signal in 60 s\n");
            rc = 1;
        }
        fflush(stdout);
    }
    lumen_finalize();
    return rc;
}
