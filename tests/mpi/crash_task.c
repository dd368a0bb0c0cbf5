/*
 * crash_task.c - a rank that crashes ends the job, and says where: a task
 * that calls abort() makes the rank running it print "lumen: rank R
 * (host H, pid P) died of signal 6 (SIGABRT) while running task
 * 'crash_me'", and the MPI launcher ends every rank. Registered with a pass
 * expression on that line and a short timeout, so a hang fails it.
 */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

LUMEN_REMOTE(crash_me)
{
    (void)ctx;
    fflush(stdout);
    abort();
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_rank() == 0) {
        lumen_ref r;
        CHECK_OK(lumen_remote("crash_me", NULL, 0, NULL, &r));
        lumen_value v;
        lumen_get(r, 30000, &v); /* the job ends before this returns */
        fprintf(stderr, "crash_task: the job is still alive after the crash\n");
        return 3;
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
