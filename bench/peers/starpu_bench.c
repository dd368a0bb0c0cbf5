/*
 * starpu_bench.c - StarPU's in-process task figures, for bench/compare.sh.
 *
 *   cc -O2 starpu_bench.c $(pkg-config --cflags --libs starpu-1.3) -lm -o starpu_bench
 *   STARPU_NCPU=2 ./starpu_bench [--reps N] [--rep-ms M]
 *
 * One process, StarPU's CPU workers (STARPU_NCPU of them; compare.sh sets 2,
 * the cores lumen's 2 ranks use), no data handles, an empty CPU codelet:
 *   single client tasks sync   submit one task with task->synchronous = 1
 *                              (starpu_task_submit returns once it ran); repeat
 *   single client tasks async  submit 10,000 tasks, starpu_task_wait_for_all()
 * Lines in Ray's format, as lumen's microbench:
 *     <name> per second <mean> +- <stddev>
 * Statistics as microbench.c (Ray's timeit): warm-up, REPS repetitions of at
 * least REP_S seconds, population standard deviation.
 *
 * Actors and objects have no StarPU counterpart here (StarPU's data handles
 * live in one address space; starpu-mpi is another model): not measured.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime, and the pthread types starpu.h needs under -std=c17 */
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <starpu.h>

#define MAX_REPS 32
#define ASYNC_BATCH 10000
static int g_reps = 5;
static double g_rep_s = 0.3;
static double g_warm_s = 0.15;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void empty_cpu(void *buffers[], void *arg)
{
    (void)buffers;
    (void)arg;
}

static struct starpu_codelet g_empty = {
    .where = STARPU_CPU,
    .cpu_funcs = {empty_cpu},
    .nbuffers = 0,
    .name = "empty",
};

static void check(int ret, const char *what)
{
    if (ret != 0) {
        fprintf(stderr, "starpu_bench: %s failed (%d)\n", what, ret);
        exit(1);
    }
}

/* 100 synchronous tasks; returns tasks */
static double step_sync(void)
{
    for (int i = 0; i < 100; i++) {
        struct starpu_task *t = starpu_task_create();
        t->cl = &g_empty;
        t->synchronous = 1;
        check(starpu_task_submit(t), "starpu_task_submit (sync)");
    }
    return 100;
}

/* ASYNC_BATCH tasks in flight, then wait for all of them */
static double step_async(void)
{
    for (int i = 0; i < ASYNC_BATCH; i++) {
        struct starpu_task *t = starpu_task_create();
        t->cl = &g_empty;
        check(starpu_task_submit(t), "starpu_task_submit (async)");
    }
    check(starpu_task_wait_for_all(), "starpu_task_wait_for_all");
    return ASYNC_BATCH;
}

static void measure(const char *name, double (*step)(void))
{
    double rates[MAX_REPS], t0 = now_s();
    do
        step();
    while (now_s() - t0 < g_warm_s);
    for (int r = 0; r < g_reps; r++) {
        double ops = 0, start = now_s(), t;
        do
            ops += step();
        while ((t = now_s() - start) < g_rep_s);
        rates[r] = ops / t;
    }
    double mean = 0, sd = 0;
    for (int r = 0; r < g_reps; r++)
        mean += rates[r];
    mean /= g_reps;
    for (int r = 0; r < g_reps; r++)
        sd += (rates[r] - mean) * (rates[r] - mean);
    printf("%s per second %.2f +- %.2f\n", name, mean, sqrt(sd / g_reps));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            g_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rep-ms") && i + 1 < argc)
            g_rep_s = atof(argv[++i]) / 1000.0;
        else {
            fprintf(stderr, "usage: %s [--reps N] [--rep-ms M]\n", argv[0]);
            return 2;
        }
    }
    if (g_reps < 1 || g_reps > MAX_REPS || !(g_rep_s > 0))
        return 2;
    check(starpu_init(NULL), "starpu_init");
    fprintf(stderr, "# starpu %d.%d: %u CPU workers\n", STARPU_MAJOR_VERSION, STARPU_MINOR_VERSION,
            starpu_cpu_worker_get_count());
    measure("single client tasks sync", step_sync);
    measure("single client tasks async", step_async);
    starpu_shutdown();
    return 0;
}
