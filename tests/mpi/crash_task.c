/*
 * crash_task.c - a rank that crashes ends the job, and says where: a task
 * that calls abort() makes the rank running it print "lumen: rank R
 * (host H, pid P) died of signal 6 (SIGABRT) while running task
 * 'crash_me'", and the MPI launcher ends every rank. Registered with a pass
 * expression on that line, a fail expression on the driver's "still alive"
 * (printed if the job outlives the crash by 20 s) and a 60 s timeout, so a
 * job that does not end fails it.
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
        lumen_get(r, 20000, &v); /* the job ends within seconds, long before this returns */
        fprintf(stderr, "crash_task: the job is still alive after the crash\n");
        return 3;
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
