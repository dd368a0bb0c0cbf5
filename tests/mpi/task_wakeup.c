/*
 * task_wakeup.c - a task submitted to an idle rank always runs. Executor
 * threads spin for a short window after their last work, then go to sleep;
 * a task arriving just as a thread goes to sleep must still wake it. The
 * driver submits one task at a time after pauses around the spin window
 * (default LUMEN_SPIN_US: 2 ms), 600 times - first to any rank, then all to
 * the last rank (rank k offers a resource "rank<k>") - and checks each
 * result with a 10 s timeout: a lost wake-up shows as a timeout instead of a
 * task that runs a few microseconds later.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

LUMEN_REMOTE(wake_id)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    return lumen_return_i64(ctx, 0, x ^ 0x5555);
}

/* keeps a core busy so lumen's threads get preempted at arbitrary points */
static atomic_int burn_stop;
static void *burner(void *arg)
{
    (void)arg;
    volatile uint64_t x = 1;
    while (!atomic_load(&burn_stop))
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005ull + 1;
    return NULL;
}

int main(int argc, char **argv)
{
    int provided, rank;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    /* rank k offers "rank<k>=1", so a task can be sent to a given rank */
    char res[32];
    snprintf(res, sizeof res, "rank%d=1", rank);
    lumen_init_options io = {.field_mask = LUMEN_INIT_RESOURCES, .resources = res};
    CHECK_OK(lumen_init(&argc, &argv, &io));
    pthread_t burn;
    CHECK(pthread_create(&burn, NULL, burner, NULL) == 0);
    if (lumen_is_driver()) {
        enum { N = 600 };
        uint64_t x = 88172645463325252ull;
        double worst = 0;
        int64_t worst_i = -1;
        /* the last rank serves the second half: it is idle between tasks for
         * about the pause, right at the end of its spin window */
        char target[32];
        snprintf(target, sizeof target, "rank%d=1", lumen_world_size() - 1);
        lumen_task_options o = {.field_mask = LUMEN_TASK_RESOURCES, .resources = target};
        for (int64_t i = 0; i < N; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            long us = 1700 + (long)(x % 700); /* 1.7 .. 2.4 ms */
            struct timespec ts = {0, us * 1000};
            nanosleep(&ts, NULL);
            lumen_ref r;
            int pinned = i >= N / 3;
            lumen_arg a = lumen_arg_i64(i);
            double t0 = now_s();
            CHECK_OK(lumen_remote("wake_id", &a, 1, pinned ? &o : NULL, &r));
            int64_t v = -1;
            lumen_status st = lumen_get_i64(r, 10000, &v);
            double dt = now_s() - t0;
            CHECKF(st == LUMEN_OK, "task %lld (%s) after a %ld us pause: get gave %d (%s) after %.3f s: it never ran",
                   (long long)i, pinned ? target : "anywhere", us, (int)st, lumen_strerror(st), dt);
            CHECK(v == (i ^ 0x5555));
            if (dt > worst && i > 0) {
                worst = dt;
                worst_i = i;
            }
            CHECK_OK(lumen_ref_release(r));
        }
        printf("task_wakeup: %d tasks after idle pauses, slowest round trip after the first %.3f ms (task %lld), "
               "on %d ranks\n", N, worst * 1e3, (long long)worst_i, lumen_world_size());
    }
    atomic_store(&burn_stop, 1);
    pthread_join(burn, NULL);
    CHECK_OK(lumen_finalize());
    MPI_Finalize();
    return 0;
}
