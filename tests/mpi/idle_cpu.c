/*
 * idle_cpu.c - idle ranks do not burn a core. After a burst of tasks (so
 * every rank's threads have been busy and spinning), the driver goes quiet;
 * each rank measures its own process CPU time (getrusage RUSAGE_SELF, user +
 * sys, every thread of the process) over one quiet second, starting one
 * second into the quiet period so spin windows have passed. Workers measure
 * from a helper thread started before lumen_finalize (their main thread
 * serves tasks inside lumen_finalize) and write the figure to a file in a
 * folder of this run; the driver measures itself, collects the files and
 * checks that every rank used under 10% of one core. Run with 4 ranks on a
 * 2-core machine (and 2).
 */
#include "check.h"

#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

LUMEN_REMOTE(idle_work)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    return lumen_return_i64(ctx, 0, x * 2);
}

static char dir[256];
static int my_rank;

static double cpu_seconds(void)
{
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec * 1e-6;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* waits for the driver's "quiet" mark, lets 1 s pass, measures 1 s */
static double measure_quiet_second(void)
{
    char mark[512];
    snprintf(mark, sizeof mark, "%s/quiet", dir);
    double t0 = now_s();
    while (!exists(mark)) {
        CHECKF(now_s() - t0 < 60, "no quiet mark after 60 s");
        sleep_ms(20);
    }
    sleep_ms(1000);
    double c0 = cpu_seconds(), w0 = now_s();
    sleep_ms(1000);
    double c1 = cpu_seconds(), w1 = now_s();
    return (c1 - c0) / (w1 - w0);
}

static void *sampler(void *arg)
{
    (void)arg;
    double frac = measure_quiet_second();
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s/rank%d", dir, my_rank);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    CHECK(f);
    fprintf(f, "%.6f\n", frac);
    CHECK(fclose(f) == 0);
    CHECK(rename(tmp, path) == 0);
    return NULL;
}

int main(int argc, char **argv)
{
    int provided, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    CHECK(provided >= MPI_THREAD_SERIALIZED);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (my_rank == 0) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/lumen-idle-XXXXXX", t && *t ? t : "/tmp");
        CHECK(mkdtemp(dir) != NULL);
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    CHECK_OK(lumen_init(&argc, &argv, NULL));

    if (!lumen_is_driver()) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, sampler, NULL) == 0);
        CHECK_OK(lumen_finalize()); /* serves tasks, then waits for the driver */
        pthread_join(t, NULL);
        MPI_Finalize();
        return 0;
    }

    /* a burst of work on every rank */
    enum { N = 2000 };
    static lumen_ref r[N];
    static lumen_value v[N];
    for (int64_t i = 0; i < N; i++)
        CHECK_OK(LUMEN_CALL(&r[i], "idle_work", LUMEN_ARG(i)));
    CHECK_OK(lumen_get_many(r, N, T_TIMEOUT, v));
    for (int64_t i = 0; i < N; i++) {
        CHECK(v[i].i64 == 2 * i);
        lumen_ref_release(r[i]);
    }
    /* quiet from now on */
    char mark[512];
    snprintf(mark, sizeof mark, "%s/quiet", dir);
    FILE *f = fopen(mark, "w");
    CHECK(f);
    fclose(f);
    double mine = measure_quiet_second();

    int failed = 0;
    printf("driver (rank 0): %.2f%% of a core while idle\n", 100 * mine);
    if (mine >= 0.10)
        failed = 1;
    for (int rank = 1; rank < size; rank++) {
        char path[512];
        snprintf(path, sizeof path, "%s/rank%d", dir, rank);
        double t0 = now_s();
        while (!exists(path)) {
            CHECKF(now_s() - t0 < 30, "rank %d wrote no figure", rank);
            sleep_ms(20);
        }
        FILE *in = fopen(path, "r");
        CHECK(in);
        double frac = -1;
        CHECK(fscanf(in, "%lf", &frac) == 1);
        fclose(in);
        unlink(path);
        printf("rank %d: %.2f%% of a core while idle\n", rank, 100 * frac);
        if (frac >= 0.10)
            failed = 1;
    }
    unlink(mark);
    rmdir(dir);
    CHECKF(!failed, "an idle rank used 10%% of a core or more (figures above)");
    printf("idle_cpu: OK on %d ranks\n", size);
    CHECK_OK(lumen_finalize());
    MPI_Finalize();
    return 0;
}
