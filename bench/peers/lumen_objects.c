/*
 * lumen_objects.c - lumen's put + get of 1 MiB and 256 MiB objects, the
 * object figures of bench/compare.sh that bench/microbench.c does not have
 * (it puts 1 GiB and gets 256 MiB across ranks; compare.sh takes those from it).
 *
 *   mpirun -np 2 ./lumen_objects [--reps N] [--rep-ms M]
 *
 * One step: lumen_put of N bytes from a resident buffer on the driver, then
 * lumen_get of the new reference (same node: the value points into the
 * shared store, no copy), then release. The line is bytes put per second of
 * put + get + release, in Ray's format:
 *     single client put+get 1 MiB gigabytes per second <mean> +- <sd>
 * Statistics as microbench.c (Ray's timeit): warm-up, REPS repetitions of at
 * least REP_S seconds, population standard deviation. Gigabytes are 1e9 bytes.
 * Anchor, in the same invocation and in alternating repetitions with the
 * figure it anchors: memcpy of the same size between resident, page-aligned
 * buffers (`memcpy 1 MiB gigabytes`, `memcpy 256 MiB gigabytes`).
 * Rank 1 only serves (it holds no object). Progress notes go to stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lumen.h>

#define MAX_REPS 32
static int g_reps = 5;
static double g_rep_s = 0.3;
static double g_warm_s = 0.15;

#define TRY(call)                                                                          \
    do {                                                                                   \
        lumen_status s_ = (call);                                                          \
        if (s_ != LUMEN_OK) {                                                              \
            fprintf(stderr, "lumen_objects %s:%d: %s: %s (%s)\n", __FILE__, __LINE__,      \
                    #call, lumen_strerror(s_), lumen_last_error());                        \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                  \
        }                                                                                  \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* RssShmem of this process: the store's background prefault is done when it
 * stops growing (as microbench.c's wait_prefault) */
static long rss_shmem_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "RssShmem: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static void wait_prefault(void)
{
    long last = rss_shmem_kb();
    int stable = 0;
    double t0 = now_s();
    while (stable < 6 && now_s() - t0 < 20.0) {
        struct timespec ts = {0, 25 * 1000 * 1000};
        nanosleep(&ts, NULL);
        long cur = rss_shmem_kb();
        stable = cur == last ? stable + 1 : 0;
        last = cur;
    }
}

/* one put + get + release of n bytes; returns gigabytes, sets *secs */
static double step_put_get(const char *src, size_t n, double *secs)
{
    lumen_ref ref;
    lumen_value v;
    double t0 = now_s();
    TRY(lumen_put(src, n, &ref));
    TRY(lumen_get(ref, 30000, &v));
    if (v.size != n || ((const char *)v.data)[n - 1] != src[n - 1]) {
        fprintf(stderr, "lumen_objects: got %zu bytes or wrong contents\n", v.size);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    TRY(lumen_ref_release(ref));
    *secs = now_s() - t0;
    return (double)n / 1e9;
}

static void print_line(const char *name, const double *rates)
{
    double mean = 0, sd = 0;
    for (int r = 0; r < g_reps; r++)
        mean += rates[r];
    mean /= g_reps;
    for (int r = 0; r < g_reps; r++)
        sd += (rates[r] - mean) * (rates[r] - mean);
    printf("%s per second %.2f +- %.2f\n", name, mean, sqrt(sd / g_reps));
    fflush(stdout);
}

/* one memcpy of n bytes between resident buffers: the anchor */
static double step_memcpy(char *dst, const char *src, size_t n, double *secs)
{
    double t0 = now_s();
    memcpy(dst, src, n);
    *secs = now_s() - t0;
    __asm__ __volatile__("" ::"r"(dst) : "memory");
    return (double)n / 1e9;
}

/* put + get of n bytes and its memcpy anchor, in alternating repetitions (as
 * microbench.c's timeit_pair), so a slow patch of the machine hits both */
static void measure(const char *label, size_t n)
{
    char *src = NULL, *dst = NULL;
    if (posix_memalign((void **)&src, 4096, n) != 0 || posix_memalign((void **)&dst, 4096, n) != 0) {
        fprintf(stderr, "lumen_objects: no memory for %zu bytes\n", n);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    memset(src, 0x5a, n); /* resident source and destination */
    memset(dst, 0x01, n);
    double pg[MAX_REPS], mc[MAX_REPS], secs;
    for (int w = 0; w < 2; w++) {
        double t0 = now_s();
        do
            w ? step_memcpy(dst, src, n, &secs) : step_put_get(src, n, &secs);
        while (now_s() - t0 < g_warm_s);
    }
    for (int r = 0; r < g_reps; r++) {
        for (int w = 0; w < 2; w++) {
            double gb = 0, counted = 0, start = now_s();
            do {
                gb += w ? step_memcpy(dst, src, n, &secs) : step_put_get(src, n, &secs);
                counted += secs;
            } while (now_s() - start < g_rep_s);
            (w ? mc : pg)[r] = gb / counted;
        }
    }
    char name[96];
    snprintf(name, sizeof name, "single client put+get %s gigabytes", label);
    print_line(name, pg);
    snprintf(name, sizeof name, "memcpy %s gigabytes", label);
    print_line(name, mc);
    free(dst);
    free(src);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            g_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rep-ms") && i + 1 < argc)
            g_rep_s = atof(argv[++i]) / 1000.0;
        else {
            fprintf(stderr, "usage: mpirun -np 2 %s [--reps N] [--rep-ms M]\n", argv[0]);
            return 2;
        }
    }
    if (g_reps < 1 || g_reps > MAX_REPS || !(g_rep_s > 0))
        return 2;
    TRY(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        wait_prefault();
        measure("1 MiB", (size_t)1 << 20);
        measure("256 MiB", (size_t)256 << 20);
    }
    return lumen_finalize() == LUMEN_OK ? 0 : 1;
}
