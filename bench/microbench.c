/*
 * microbench.c - lumen's twin of `ray microbenchmark`.
 *
 * Prints one line per figure in Ray's own format
 *     <name> per second <mean> +- <stddev>
 * with Ray's names, plus anchors measured in the same invocation (raw MPI and
 * memcpy on this machine) and `ratio <what> <value>` lines that put figures
 * next to their anchors. Each figure is measured like Ray's timeit(): a short
 * warm-up, then REPS repetitions of about REP_S seconds each; mean and
 * population standard deviation (numpy's np.std) of the per-repetition rates.
 * Progress notes (settling, load average) go to stderr as `# ...` lines.
 *
 *   mpirun -np 2 ./microbench               tasks, put/get calls, 1 GiB put,
 *                                           actor calls, placement groups,
 *                                           anchors: mpi ping-pong, memcpy
 *   LUMEN_RANK_IS_NODE=1 mpirun -np 2 ./microbench --cross-only
 *                                           cross rank get (256 MiB), cross
 *                                           rank device get (256 MiB, when a
 *                                           device backend is there: CUDA, or
 *                                           LUMEN_DEVICE=emulated), anchors:
 *                                           mpi ping-pong, mpi point-to-point
 *
 * bench/run.sh runs both with the environment they need (store capacity and
 * prefault). Options: --cross-only, --detail (adds where-the-task-ran
 * breakdowns of the sync figure), --filter TEXT (only the lumen figures whose
 * name contains TEXT, like Ray's filter; anchors always run), --reps N,
 * --rep-ms M.
 *
 * MPI anchors run on MPI_COMM_WORLD while lumen does not own MPI, half of
 * their repetitions before lumen_init and half after lumen_finalize, so they
 * bracket the lumen figures in time: this program initialises MPI itself
 * (MPI_THREAD_SERIALIZED, what lumen needs), lumen_init uses it and leaves
 * MPI_Finalize to the program. The memcpy anchor runs in alternating
 * repetitions with the 1 GiB put it anchors. Anchors print after the lumen
 * figures of their invocation.
 *
 * "gigabytes" are 1e9 bytes, as in Ray's figures; objects are 1 GiB / 256 MiB.
 *
 * Actor figures, as Ray's ray_perf.py (the actor is Ray's
 * `@ray.remote(num_cpus=0) class Actor` whose small_value returns b"ok"):
 *   1:1 actor calls sync        one call, get, release; repeat. The actor
 *                               lives on rank 1 (a per-rank custom resource).
 *   1:1 actor calls async       1,000 calls, then get them all.
 *   1:1 actor calls concurrent  the same to an actor with max_concurrency=16.
 *   1:n actor calls async       the driver calls n actors, one per rank,
 *                               1,000 calls each, then gets them all.
 *   n:n actor calls async       one client task per rank (num_cpus=0, pinned
 *                               like the multi client task figure) makes 5,000
 *                               calls round robin over the n actors (one per
 *                               rank, handles passed as arguments) and gets
 *                               them; Ray's work(actors) with one client per rank.
 *   placement group create/removal  100 groups of one bundle {mb_pg: 0.001}
 *                               created, waited for, removed (Ray: "custom").
 * streaming generator objects  one generator task on rank 1 yields 20,000
 *                               small ints (lumen_yield_i64); the driver takes
 *                               each item as it comes (lumen_generator_next),
 *                               reads it and releases it. Items per second,
 *                               generator start and end included (Ray:
 *                               num_returns="streaming", no back-pressure).
 *   collective allreduce gigabytes  one member actor per rank in a collective
 *                               group (lumen/collective.h); 3 allreduces of a
 *                               64 MiB float32 buffer per step, timed from the
 *                               driver; anchor: mpi allreduce gigabytes (raw
 *                               MPI_Allreduce in place on MPI_COMM_WORLD,
 *                               half before lumen_init, half after finalize).
 * Each figure gets fresh actors, created and waited for (ready) before the
 * warm-up and released after it. With --detail, the sync figure is repeated
 * with the actor on the driver's rank.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lumen.h>
#include <lumen/collective.h>
#include <lumen/device.h>

/* ---- configuration --------------------------------------------------------- */
#define MAX_REPS 32
static int g_reps = 5;            /* repetitions per figure */
static double g_rep_s = 0.3;      /* seconds per repetition (at least one step) */
static double g_warm_s = 0.15;    /* warm-up before the repetitions */
static int g_rank, g_size;

#define PUT_LARGE_BYTES ((size_t)1 << 30)   /* single client put gigabytes */
#define CROSS_BYTES ((size_t)256 << 20)     /* cross rank get gigabytes, mpi p2p */
#define COLL_BYTES ((size_t)64 << 20)       /* collective / mpi allreduce gigabytes (float32) */
#define COLL_STEP 3                         /* allreduces per timed step */
#define ASYNC_BATCH 10000                   /* single client tasks async */
#define MULTI_BATCH 10000                   /* per client, multi client tasks async */
#define SMALL_STEP 1000                     /* put/get calls per timed step */
#define ACTOR_BATCH 1000                    /* 1:1 async/concurrent, 1:n per actor */
#define ACTOR_NN_CALLS 5000                 /* per client, n:n actor calls async */
#define ACTOR_CONCURRENCY 16                /* 1:1 actor calls concurrent */
#define ASYNC_IN_FLIGHT 100                 /* async actor calls: calls kept in flight */
#define ASYNC_CALLS 2000                    /* async actor calls: calls per step */
#define NUM_PGS 100                         /* placement groups per timed step */
#define MAX_RANKS 64                        /* ranks the multi-rank figures use */
/* No figure waits this long for one result: a get that times out is a hang in
 * the runtime, reported with the figure's name instead of blocking forever. */
#define GET_TIMEOUT_MS 30000
static const char *g_figure = "start-up"; /* figure being measured, for errors */
static const char *g_filter;              /* --filter: only figures naming this */

#define TRY(call)                                                                          \
    do {                                                                                   \
        lumen_status s_ = (call);                                                          \
        if (s_ != LUMEN_OK) {                                                              \
            fprintf(stderr, "microbench[%d] %s:%d (%s): %s: %s (%s)\n", g_rank, __FILE__,  \
                    __LINE__, g_figure, #call, lumen_strerror(s_), lumen_last_error());    \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                  \
        }                                                                                  \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- statistics and output --------------------------------------------------- */
typedef struct stat_t {
    double mean, sd;
} stat_t;

static stat_t stats_of(const double *v, int n)
{
    stat_t s = {0, 0};
    for (int i = 0; i < n; i++)
        s.mean += v[i];
    s.mean /= n;
    for (int i = 0; i < n; i++)
        s.sd += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = sqrt(s.sd / n); /* population sd, like Ray (np.std) */
    return s;
}

static void print_figure(const char *name, stat_t s)
{
    printf("%s per second %.2f +- %.2f\n", name, s.mean, s.sd);
    fflush(stdout);
}

static void print_ratio(const char *what, double v)
{
    printf("ratio %s %.3f\n", what, v);
    fflush(stdout);
}

/* A step does some operations and says how long the part that counts took:
 * returns the number of operations (or gigabytes) and sets *secs. */
typedef double (*step_fn)(void *arg, double *secs);

/* Ray's timeit(): warm up, then g_reps repetitions of at least g_rep_s each. */
static stat_t timeit(step_fn fn, void *arg)
{
    double rates[MAX_REPS];
    double t0 = now_s(), secs;
    do
        fn(arg, &secs);
    while (now_s() - t0 < g_warm_s);
    for (int r = 0; r < g_reps; r++) {
        double ops = 0, counted = 0, start = now_s();
        do {
            ops += fn(arg, &secs);
            counted += secs;
        } while (now_s() - start < g_rep_s);
        rates[r] = ops / counted;
    }
    return stats_of(rates, g_reps);
}

/* Two figures measured in alternating repetitions (A, B, A, B, ...), so that
 * a slow patch of a shared machine hits both and their ratio stays honest. */
static void timeit_pair(step_fn fa, void *aa, stat_t *sa, step_fn fb, void *ab, stat_t *sb)
{
    double ra[MAX_REPS], rb[MAX_REPS], secs;
    for (int w = 0; w < 2; w++) {
        double t0 = now_s();
        do
            (w ? fb : fa)(w ? ab : aa, &secs);
        while (now_s() - t0 < g_warm_s);
    }
    for (int r = 0; r < g_reps; r++) {
        for (int w = 0; w < 2; w++) {
            double ops = 0, counted = 0, start = now_s();
            do {
                ops += (w ? fb : fa)(w ? ab : aa, &secs);
                counted += secs;
            } while (now_s() - start < g_rep_s);
            (w ? rb : ra)[r] = ops / counted;
        }
    }
    *sa = stats_of(ra, g_reps);
    *sb = stats_of(rb, g_reps);
}

static void print_load(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            strcpy(buf, "?\n");
        fclose(f);
    }
    fprintf(stderr, "# load average %s: %s", when, buf);
}

/* ---- waiting for the store's background prefault ------------------------------
 * A node leader's store faults its first LUMEN_STORE_PREFAULT bytes in a
 * background thread after lumen_init. That thread competes for one of the two
 * cores, so the benchmark waits until it is done: the process's RssShmem stops
 * growing. Ranks that do not create a store see a constant figure at once. */
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

static long wait_prefault(void)
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
    return last;
}

/* ---- remote functions ---------------------------------------------------------- */
/* the empty task: no arguments, returns nothing (its result reads as NONE) */
LUMEN_REMOTE(mb_empty)
{
    (void)ctx;
    return LUMEN_OK;
}

/* on a rank: wait for this rank's prefault, return RssShmem in kB */
LUMEN_REMOTE(mb_settle)
{
    return lumen_return_i64(ctx, 0, wait_prefault());
}

static void release_all(lumen_ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        TRY(lumen_ref_release(refs[i]));
}

/* submit n empty tasks, get them all, release them */
static lumen_status empty_batch(lumen_ref *refs, lumen_value *vals, size_t n)
{
    lumen_status st = LUMEN_OK;
    for (size_t i = 0; i < n && st == LUMEN_OK; i++)
        st = lumen_remote("mb_empty", NULL, 0, NULL, &refs[i]);
    if (st != LUMEN_OK)
        return st;
    st = lumen_get_many(refs, n, GET_TIMEOUT_MS, vals);
    for (size_t i = 0; i < n; i++)
        lumen_ref_release(refs[i]);
    return st;
}

/* a client of "multi client tasks async": submits and gets its own batch */
LUMEN_REMOTE(mb_client)
{
    int64_t n;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &n);
    if (st != LUMEN_OK)
        return st;
    lumen_ref *refs = malloc((size_t)n * sizeof *refs);
    lumen_value *vals = malloc((size_t)n * sizeof *vals);
    if (!refs || !vals) {
        free(refs);
        free(vals);
        return lumen_task_fail(ctx, "no memory for %lld refs", (long long)n);
    }
    st = empty_batch(refs, vals, (size_t)n);
    free(refs);
    free(vals);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "batch failed: %s", lumen_last_error());
    return lumen_return_i64(ctx, 0, n);
}

/* produce a large object in this rank's store (zero-copy return) */
LUMEN_REMOTE(mb_produce)
{
    int64_t size;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &size);
    if (st != LUMEN_OK)
        return st;
    void *p;
    if ((st = lumen_return_alloc(ctx, 0, (size_t)size, &p)) != LUMEN_OK)
        return st;
    memset(p, 0x5a, (size_t)size);
    return LUMEN_OK;
}

/* produce a device object of `size` bytes of 0x5a on this rank's first
 * device (lumen/device.h) and return its reference */
LUMEN_REMOTE(mb_produce_device)
{
    int64_t size;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &size);
    if (st != LUMEN_OK)
        return st;
    static void *host, *dev; /* kept across steps: only the object is new */
    if (!host && !(host = malloc((size_t)size)))
        return lumen_task_fail(ctx, "no memory");
    if (!dev && (st = lumen_device_alloc(0, (size_t)size, &dev)) != LUMEN_OK)
        return st;
    memset(host, 0x5a, (size_t)size);
    if ((st = lumen_device_copy(dev, host, (size_t)size)) != LUMEN_OK)
        return st;
    lumen_ref r;
    if ((st = lumen_put_device(dev, (size_t)size, &r)) != LUMEN_OK)
        return st;
    st = lumen_return_ref(ctx, 0, r);
    lumen_ref_release(r);
    return st;
}

/* Ray's benchmark actor: @ray.remote(num_cpus=0) class Actor, no state */
static int g_actor_state;
static lumen_status mb_actor_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = &g_actor_state;
    return LUMEN_OK;
}
LUMEN_ACTOR_CLASS(MbActor, mb_actor_init, NULL)

/* def small_value(self): return b"ok" */
LUMEN_METHOD(MbActor, small_value)
{
    (void)self;
    return lumen_return_bytes(ctx, 0, "ok", 2);
}

/* async def small_value(self): an async actor's method that awaits (here
 * nothing: the continuation runs at the actor's next turn) and returns b"ok" */
static lumen_status mb_small_value_k(void *self, lumen_task_ctx *ctx, void *state)
{
    (void)self;
    (void)state;
    return lumen_return_bytes(ctx, 0, "ok", 2);
}
LUMEN_METHOD(MbActor, small_value_async)
{
    (void)self;
    return lumen_await(ctx, NULL, 0, mb_small_value_k, NULL);
}

/* collective allreduce gigabytes: one member per rank, group "mb_coll" */
static float *g_coll_buf;
LUMEN_METHOD(MbActor, coll_join)
{
    (void)self;
    int64_t world, rank;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &world);
    if (st == LUMEN_OK)
        st = lumen_arg_get_i64(ctx, 1, &rank);
    if (st == LUMEN_OK && !(g_coll_buf = calloc(1, COLL_BYTES)))
        return lumen_task_fail(ctx, "no memory");
    if (st == LUMEN_OK)
        memset(g_coll_buf, 0, COLL_BYTES); /* resident: zeros stay zeros when summed */
    if (st == LUMEN_OK)
        st = lumen_collective_init((int)world, (int)rank, LUMEN_COLL_MPI, "mb_coll", NULL);
    return st != LUMEN_OK ? lumen_task_fail(ctx, "%s", lumen_last_error()) : lumen_return_i64(ctx, 0, 0);
}

LUMEN_METHOD(MbActor, coll_run)
{
    (void)self;
    for (int i = 0; i < COLL_STEP; i++)
        if (lumen_collective_allreduce("mb_coll", g_coll_buf, COLL_BYTES / sizeof(float), LUMEN_DTYPE_FLOAT32,
                                       LUMEN_REDUCE_SUM) != LUMEN_OK)
            return lumen_task_fail(ctx, "%s", lumen_last_error());
    return lumen_return_i64(ctx, 0, 0);
}

LUMEN_METHOD(MbActor, coll_leave)
{
    (void)self;
    lumen_status st = lumen_collective_destroy("mb_coll");
    free(g_coll_buf);
    g_coll_buf = NULL;
    return st != LUMEN_OK ? lumen_task_fail(ctx, "%s", lumen_last_error()) : lumen_return_i64(ctx, 0, 0);
}

/* where the actor runs, to check its placement */
LUMEN_METHOD(MbActor, where)
{
    (void)self;
    return lumen_return_i64(ctx, 0, lumen_rank());
}

/* a client of "n:n actor calls async": args (n, actor, actor, ...); makes n
 * calls round robin over the actors and gets them all */
LUMEN_REMOTE(mb_actor_client)
{
    int64_t n;
    lumen_actor actors[LUMEN_MAX_ARGS];
    size_t na = lumen_num_args(ctx) - 1;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &n);
    for (size_t i = 0; i < na && st == LUMEN_OK; i++)
        st = lumen_arg_get_actor(ctx, i + 1, &actors[i]);
    if (st != LUMEN_OK || na < 1)
        return lumen_task_fail(ctx, "mb_actor_client(n, actor, ...): bad arguments");
    lumen_ref *refs = malloc((size_t)n * sizeof *refs);
    lumen_value *vals = malloc((size_t)n * sizeof *vals);
    if (!refs || !vals) {
        free(refs);
        free(vals);
        return lumen_task_fail(ctx, "no memory for %lld refs", (long long)n);
    }
    int64_t made = 0;
    for (; made < n && st == LUMEN_OK; made++)
        st = lumen_actor_call(actors[made % (int64_t)na], "small_value", NULL, 0, NULL, &refs[made]);
    if (st != LUMEN_OK)
        made--;
    else
        st = lumen_get_many(refs, (size_t)n, GET_TIMEOUT_MS, vals);
    for (int64_t i = 0; i < made; i++)
        lumen_ref_release(refs[i]);
    free(refs);
    free(vals);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "actor calls failed: %s", lumen_last_error());
    return lumen_return_i64(ctx, 0, n);
}

/* options that place a task on rank r: every rank offers resource "mb_rank<r>=1" */
static lumen_task_options on_rank(int r, double cpus, char *buf, size_t len)
{
    snprintf(buf, len, "mb_rank%d=1", r);
    lumen_task_options o = {.field_mask = LUMEN_TASK_RESOURCES | LUMEN_TASK_NUM_CPUS,
                            .num_cpus = cpus, .resources = buf};
    return o;
}

/* ---- MPI anchors (before lumen_init, both ranks) ------------------------------- */
static void mpi_pingpong(double *rates)
{
    char b[8] = {0};
    long n = 1000;
    /* warm up and size a repetition to about g_rep_s */
    for (int pass = 0; pass < 2; pass++) {
        double t0 = MPI_Wtime();
        for (long i = 0; i < n; i++) {
            if (g_rank == 0) {
                MPI_Send(b, 8, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
                MPI_Recv(b, 8, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (g_rank == 1) {
                MPI_Recv(b, 8, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(b, 8, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
            }
        }
        double dt = MPI_Wtime() - t0;
        if (g_rank == 0 && pass == 1)
            n = (long)(g_rep_s / (dt / (double)n)) + 1;
        MPI_Bcast(&n, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    }
    for (int r = 0; r < g_reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (long i = 0; i < n; i++) {
            if (g_rank == 0) {
                MPI_Send(b, 8, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
                MPI_Recv(b, 8, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (g_rank == 1) {
                MPI_Recv(b, 8, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(b, 8, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
            }
        }
        rates[r] = (double)n / (MPI_Wtime() - t0);
    }
}

/* n bytes, page aligned (like the store's blocks, which are 64-byte aligned)
 * and resident */
static void *touched(size_t n, int v)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, n) != 0) {
        fprintf(stderr, "microbench[%d]: no memory for %zu bytes\n", g_rank, n);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    memset(p, v, n);
    return p;
}

/* One-way bandwidth of a CROSS_BYTES message from rank 1 to rank 0: rank 0
 * asks (1 byte) and times until the message is in, as a lumen get does. */
static void mpi_p2p_gigabytes(double *rates)
{
    char *buf = touched(CROSS_BYTES, g_rank + 1);
    char go = 0;
    int per_rep = 3;
    for (int r = -1; r < g_reps; r++) { /* r == -1: warm-up */
        double t = 0;
        for (int i = 0; i < per_rep; i++) {
            if (g_rank == 0) {
                double t0 = MPI_Wtime();
                MPI_Send(&go, 1, MPI_BYTE, 1, 2, MPI_COMM_WORLD);
                MPI_Recv(buf, (int)CROSS_BYTES, MPI_BYTE, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                t += MPI_Wtime() - t0;
            } else if (g_rank == 1) {
                MPI_Recv(&go, 1, MPI_BYTE, 0, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, (int)CROSS_BYTES, MPI_BYTE, 0, 3, MPI_COMM_WORLD);
            }
        }
        if (r >= 0)
            rates[r] = (double)per_rep * (double)CROSS_BYTES / 1e9 / t;
    }
    free(buf);
}

/* MPI_Allreduce of COLL_BYTES of float32 (sum, in place) on every rank:
 * the anchor of "collective allreduce gigabytes" */
static void mpi_allreduce_gigabytes(double *rates)
{
    float *buf = (float *)touched(COLL_BYTES, 0);
    int n = (int)(COLL_BYTES / sizeof(float));
    for (int r = -1; r < g_reps; r++) { /* r == -1: warm-up */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < COLL_STEP; i++)
            MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t = MPI_Wtime() - t0;
        if (r >= 0)
            rates[r] = (double)COLL_STEP * (double)COLL_BYTES / 1e9 / t;
    }
    free(buf);
}

/* ---- memcpy anchor (driver) ------------------------------------------------------ */
typedef struct copy_arg {
    char *dst;
    const char *src;
    size_t n;
} copy_arg;

static double step_memcpy(void *arg, double *secs)
{
    copy_arg *a = arg;
    double t0 = now_s();
    memcpy(a->dst, a->src, a->n);
    *secs = now_s() - t0;
    __asm__ __volatile__("" ::"r"(a->dst) : "memory");
    return (double)a->n / 1e9;
}

/* ---- lumen figures (driver) ---------------------------------------------------- */
typedef struct task_arg {
    const lumen_task_options *opts;
} task_arg;

static double step_task_sync(void *arg, double *secs)
{
    task_arg *a = arg;
    double t0 = now_s();
    for (int i = 0; i < 100; i++) {
        lumen_ref ref;
        lumen_value v;
        TRY(lumen_remote("mb_empty", NULL, 0, a->opts, &ref));
        TRY(lumen_get(ref, GET_TIMEOUT_MS, &v));
        TRY(lumen_ref_release(ref));
    }
    *secs = now_s() - t0;
    return 100;
}

static lumen_ref g_refs[ASYNC_BATCH];
static lumen_value g_vals[ASYNC_BATCH];

static double step_task_async(void *arg, double *secs)
{
    (void)arg;
    double t0 = now_s();
    TRY(empty_batch(g_refs, g_vals, ASYNC_BATCH));
    *secs = now_s() - t0;
    return ASYNC_BATCH;
}

static double step_multi_client(void *arg, double *secs)
{
    (void)arg;
    lumen_ref refs[64];
    lumen_value vals[64];
    char res[64][32];
    int n = g_size < 64 ? g_size : 64;
    double t0 = now_s();
    for (int r = 0; r < n; r++) {
        /* a client holds no CPU: its empty tasks need them */
        lumen_task_options o = on_rank(r, 0.0, res[r], sizeof res[r]);
        lumen_arg a = lumen_arg_i64(MULTI_BATCH);
        TRY(lumen_remote("mb_client", &a, 1, &o, &refs[r]));
    }
    TRY(lumen_get_many(refs, (size_t)n, GET_TIMEOUT_MS, vals));
    release_all(refs, (size_t)n);
    *secs = now_s() - t0;
    return (double)n * MULTI_BATCH;
}

static double step_put_small(void *arg, double *secs)
{
    (void)arg;
    int64_t x = 0;
    double t0 = now_s();
    for (int i = 0; i < SMALL_STEP; i++) {
        lumen_ref ref;
        x++;
        TRY(lumen_put(&x, sizeof x, &ref));
        TRY(lumen_ref_release(ref));
    }
    *secs = now_s() - t0;
    return SMALL_STEP;
}

static double step_get_small(void *arg, double *secs)
{
    lumen_ref ref = *(lumen_ref *)arg;
    lumen_value v;
    double t0 = now_s();
    for (int i = 0; i < SMALL_STEP; i++)
        TRY(lumen_get(ref, GET_TIMEOUT_MS, &v));
    *secs = now_s() - t0;
    return SMALL_STEP;
}

static double step_put_large(void *arg, double *secs)
{
    copy_arg *a = arg;
    lumen_ref ref;
    double t0 = now_s();
    TRY(lumen_put(a->src, a->n, &ref));
    TRY(lumen_ref_release(ref));
    *secs = now_s() - t0;
    return (double)a->n / 1e9;
}

/* a fresh object produced on rank 1 each time; only the get is timed */
static double step_cross_get(void *arg, double *secs)
{
    (void)arg;
    char res[32];
    lumen_task_options o = on_rank(1, 1.0, res, sizeof res);
    lumen_arg a = lumen_arg_i64((int64_t)CROSS_BYTES);
    lumen_ref ref;
    lumen_value v;
    int ready;
    TRY(lumen_remote("mb_produce", &a, 1, &o, &ref));
    TRY(lumen_wait(&ref, 1, 1, GET_TIMEOUT_MS, &ready, NULL));
    double t0 = now_s();
    TRY(lumen_get(ref, GET_TIMEOUT_MS, &v));
    *secs = now_s() - t0;
    if (v.size != CROSS_BYTES || ((const unsigned char *)v.data)[v.size - 1] != 0x5a) {
        fprintf(stderr, "microbench: cross rank object has %zu bytes or wrong contents\n", v.size);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    TRY(lumen_ref_release(ref));
    return (double)CROSS_BYTES / 1e9;
}

/* a fresh device object produced on rank 1 each time; only the
 * lumen_get_device into the driver's device buffer is timed */
static double step_cross_device_get(void *arg, double *secs)
{
    void *dst = arg;
    char res[32];
    lumen_task_options o = on_rank(1, 1.0, res, sizeof res);
    lumen_arg a = lumen_arg_i64((int64_t)CROSS_BYTES);
    lumen_ref outer, ref;
    lumen_value v;
    TRY(lumen_remote("mb_produce_device", &a, 1, &o, &outer));
    TRY(lumen_get(outer, GET_TIMEOUT_MS, &v));
    TRY(lumen_ref_dup(v.ref, &ref));
    TRY(lumen_ref_release(outer));
    size_t n = 0;
    double t0 = now_s();
    TRY(lumen_get_device(ref, GET_TIMEOUT_MS, dst, CROSS_BYTES, &n));
    *secs = now_s() - t0;
    unsigned char last = 0;
    TRY(lumen_device_copy(&last, (char *)dst + CROSS_BYTES - 1, 1));
    if (n != CROSS_BYTES || last != 0x5a) {
        fprintf(stderr, "microbench: cross rank device object has %zu bytes or wrong contents\n", n);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    TRY(lumen_ref_release(ref));
    return (double)CROSS_BYTES / 1e9;
}

/* ---- actor and placement group figures (driver) -------------------------------- */
/* A fresh MbActor on rank r (every rank offers "mb_actor<r>=1000"), as Ray's
 * num_cpus=0 actor; waits until its constructor ran and checks where. */
static int g_async_actor; /* the next actor_on_rank makes an async actor */
static lumen_actor actor_on_rank(int r, int max_concurrency)
{
    char res[32];
    snprintf(res, sizeof res, "mb_actor%d=1", r);
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_NUM_CPUS | LUMEN_ACTOR_RESOURCES,
                             .num_cpus = 0.0, .resources = res};
    if (g_async_actor) {
        o.field_mask |= LUMEN_ACTOR_ASYNC;
        o.is_async = 1;
    }
    if (max_concurrency > 1) {
        o.field_mask |= LUMEN_ACTOR_MAX_CONCURRENCY;
        o.max_concurrency = max_concurrency;
    }
    lumen_actor a;
    lumen_ref ref;
    int64_t v;
    TRY(lumen_actor_create("MbActor", NULL, 0, &o, &a));
    TRY(lumen_actor_ready(a, &ref));
    TRY(lumen_get_i64(ref, GET_TIMEOUT_MS, &v));
    TRY(lumen_ref_release(ref));
    TRY(lumen_actor_call(a, "where", NULL, 0, NULL, &ref));
    TRY(lumen_get_i64(ref, GET_TIMEOUT_MS, &v));
    TRY(lumen_ref_release(ref));
    if (v != r)
        fprintf(stderr, "# %s: actor asked for on rank %d runs on rank %lld\n", g_figure, r, (long long)v);
    return a;
}

typedef struct actors_arg {
    lumen_actor a[MAX_RANKS];
    int n;
} actors_arg;

/* COLL_STEP allreduces of COLL_BYTES among the actors (one per rank), timed
 * from the driver: the calls, the operations and the replies */
static double step_coll_allreduce(void *arg, double *secs)
{
    actors_arg *aa = arg;
    lumen_ref refs[MAX_RANKS];
    double t0 = now_s();
    for (int i = 0; i < aa->n; i++)
        TRY(lumen_actor_call(aa->a[i], "coll_run", NULL, 0, NULL, &refs[i]));
    for (int i = 0; i < aa->n; i++) {
        int64_t v;
        TRY(lumen_get_i64(refs[i], GET_TIMEOUT_MS, &v));
        TRY(lumen_ref_release(refs[i]));
    }
    *secs = now_s() - t0;
    return (double)COLL_STEP * (double)COLL_BYTES / 1e9;
}

static void actors_call_all(actors_arg *aa, const char *method, int with_rank)
{
    lumen_ref refs[MAX_RANKS];
    for (int i = 0; i < aa->n; i++) {
        lumen_arg args[2] = {lumen_arg_i64(aa->n), lumen_arg_i64(i)};
        TRY(lumen_actor_call(aa->a[i], method, args, with_rank ? 2 : 0, NULL, &refs[i]));
    }
    for (int i = 0; i < aa->n; i++) {
        int64_t v;
        TRY(lumen_get_i64(refs[i], GET_TIMEOUT_MS, &v));
        TRY(lumen_ref_release(refs[i]));
    }
}

static double step_actor_sync(void *arg, double *secs)
{
    lumen_actor a = ((actors_arg *)arg)->a[0];
    double t0 = now_s();
    for (int i = 0; i < 100; i++) {
        lumen_ref ref;
        lumen_value v;
        TRY(lumen_actor_call(a, "small_value", NULL, 0, NULL, &ref));
        TRY(lumen_get(ref, GET_TIMEOUT_MS, &v));
        TRY(lumen_ref_release(ref));
    }
    *secs = now_s() - t0;
    return 100;
}

/* ACTOR_BATCH calls to each actor (grouped by actor, as Ray's Client), then
 * get them all */
static double step_actor_async(void *arg, double *secs)
{
    actors_arg *aa = arg;
    size_t n = 0;
    double t0 = now_s();
    for (int k = 0; k < aa->n; k++)
        for (int i = 0; i < ACTOR_BATCH; i++, n++)
            TRY(lumen_actor_call(aa->a[k], "small_value", NULL, 0, NULL, &g_refs[n]));
    TRY(lumen_get_many(g_refs, n, GET_TIMEOUT_MS, g_vals));
    release_all(g_refs, n);
    *secs = now_s() - t0;
    return (double)n;
}

/* ASYNC_CALLS calls to one async actor, ASYNC_IN_FLIGHT at a time: a
 * completion queue says which finished, and each finished call makes room
 * for the next (no thread blocked per call on either side) */
static double step_actor_async_in_flight(void *arg, double *secs)
{
    lumen_actor a = ((actors_arg *)arg)->a[0];
    lumen_completion_queue *cq;
    TRY(lumen_cq_create(&cq));
    int sent = 0, done = 0;
    double t0 = now_s();
    for (; sent < ASYNC_IN_FLIGHT; sent++) {
        lumen_ref r;
        TRY(lumen_actor_call(a, "small_value_async", NULL, 0, NULL, &r));
        TRY(lumen_cq_add(cq, r, 0));
        TRY(lumen_ref_release(r)); /* the queue holds it until it settles */
    }
    while (done < ASYNC_CALLS) {
        lumen_completion c[64];
        size_t n;
        TRY(lumen_cq_wait(cq, c, 64, GET_TIMEOUT_MS, &n));
        if (n == 0) {
            fprintf(stderr, "# %s: no call finished within %d ms\n", g_figure, GET_TIMEOUT_MS);
            exit(1);
        }
        for (size_t k = 0; k < n; k++) {
            TRY(c[k].status);
            done++;
            if (sent < ASYNC_CALLS) {
                lumen_ref r;
                TRY(lumen_actor_call(a, "small_value_async", NULL, 0, NULL, &r));
                TRY(lumen_cq_add(cq, r, 0));
                TRY(lumen_ref_release(r));
                sent++;
            }
        }
    }
    *secs = now_s() - t0;
    TRY(lumen_cq_destroy(cq));
    return ASYNC_CALLS;
}

static double step_actor_nn(void *arg, double *secs)
{
    actors_arg *aa = arg;
    lumen_ref refs[MAX_RANKS];
    lumen_value vals[MAX_RANKS];
    char res[MAX_RANKS][32];
    lumen_arg args[1 + MAX_RANKS];
    args[0] = lumen_arg_i64(ACTOR_NN_CALLS);
    for (int k = 0; k < aa->n; k++)
        args[1 + k] = lumen_arg_actor(aa->a[k]);
    double t0 = now_s();
    for (int r = 0; r < aa->n; r++) {
        /* a client holds no CPU, as in the multi client task figure */
        lumen_task_options o = on_rank(r, 0.0, res[r], sizeof res[r]);
        TRY(lumen_remote("mb_actor_client", args, 1 + (size_t)aa->n, &o, &refs[r]));
    }
    TRY(lumen_get_many(refs, (size_t)aa->n, GET_TIMEOUT_MS, vals));
    release_all(refs, (size_t)aa->n);
    *secs = now_s() - t0;
    return (double)aa->n * ACTOR_NN_CALLS;
}

/* Ray: 100 placement groups of one bundle {"custom": 0.001}, pg.wait(30 s)
 * each, then remove each */
static double step_pg(void *arg, double *secs)
{
    (void)arg;
    lumen_placement_group pgs[NUM_PGS];
    const char *bundle[1] = {"mb_pg=0.001"};
    double t0 = now_s();
    for (int i = 0; i < NUM_PGS; i++)
        TRY(lumen_placement_group_create(bundle, 1, LUMEN_PG_PACK, NULL, &pgs[i]));
    for (int i = 0; i < NUM_PGS; i++)
        TRY(lumen_placement_group_wait(pgs[i], GET_TIMEOUT_MS));
    for (int i = 0; i < NUM_PGS; i++)
        TRY(lumen_placement_group_remove(pgs[i]));
    *secs = now_s() - t0;
    return NUM_PGS;
}

static void release_actors(actors_arg *aa)
{
    for (int k = 0; k < aa->n; k++)
        TRY(lumen_actor_release(aa->a[k]));
    aa->n = 0;
}

/* Every rank waits for its store prefault; the driver waits for all. */
static void settle(void)
{
    double t0 = now_s();
    long kb = wait_prefault();
    lumen_ref refs[64];
    lumen_value vals[64];
    char res[64][32];
    int n = g_size < 64 ? g_size : 64;
    for (int r = 1; r < n; r++) {
        lumen_task_options o = on_rank(r, 0.0, res[r], sizeof res[r]);
        TRY(lumen_remote("mb_settle", NULL, 0, &o, &refs[r]));
    }
    if (n > 1) {
        TRY(lumen_get_many(refs + 1, (size_t)n - 1, GET_TIMEOUT_MS, vals + 1));
        release_all(refs + 1, (size_t)n - 1);
    }
    fprintf(stderr, "# settled in %.2f s (driver RssShmem %ld MiB)\n", now_s() - t0, kb / 1024);
}

/* --filter lets this figure run */
static int wanted(const char *name) { return !g_filter || strstr(name, g_filter); }

/* Measure and print one lumen figure unless --filter excludes it. */
static int measure(const char *name, step_fn fn, void *arg, stat_t *out)
{
    if (g_filter && !strstr(name, g_filter))
        return 0;
    g_figure = name;
    stat_t s = timeit(fn, arg);
    print_figure(name, s);
    if (out)
        *out = s;
    return 1;
}

/* ---- streaming generator ------------------------------------------------------------ */
#define GEN_ITEMS 20000

/* mb_stream(n): yields 0 .. n-1 */
LUMEN_REMOTE(mb_stream)
{
    int64_t n;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &n);
    for (int64_t i = 0; i < n && st == LUMEN_OK; i++)
        st = lumen_yield_i64(ctx, i);
    return st;
}

static double step_generator(void *arg, double *secs)
{
    (void)arg;
    char res[32];
    lumen_task_options o = on_rank(1, 1.0, res, sizeof res);
    double t0 = now_s();
    lumen_generator *g;
    TRY(lumen_remote_generator("mb_stream", (lumen_arg[]){lumen_arg_i64(GEN_ITEMS)}, 1, &o, &g));
    int64_t n = 0;
    lumen_ref r;
    lumen_status st;
    while ((st = lumen_generator_next(g, LUMEN_TIMEOUT_INFINITE, &r)) == LUMEN_OK) {
        int64_t v;
        TRY(lumen_get_i64(r, LUMEN_TIMEOUT_INFINITE, &v));
        if (v != n) {
            fprintf(stderr, "microbench: item %lld is %lld\n", (long long)n, (long long)v);
            exit(1);
        }
        TRY(lumen_ref_release(r));
        n++;
    }
    if (st != LUMEN_ERR_END_OF_STREAM || n != GEN_ITEMS) {
        fprintf(stderr, "microbench: generator ended with %s after %lld items\n", lumen_strerror(st), (long long)n);
        exit(1);
    }
    TRY(lumen_generator_release(g));
    *secs = now_s() - t0;
    return (double)n;
}

/* ---- main ------------------------------------------------------------------------- */
static void usage(const char *argv0)
{
    fprintf(stderr, "usage: mpirun -np 2 %s [--cross-only] [--detail] [--filter TEXT] [--reps N] [--rep-ms M]\n", argv0);
}

int main(int argc, char **argv)
{
    int cross = 0, detail = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cross-only"))
            cross = 1;
        else if (!strcmp(argv[i], "--detail"))
            detail = 1;
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            g_filter = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            g_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rep-ms") && i + 1 < argc)
            g_rep_s = atof(argv[++i]) / 1000.0;
        else {
            usage(argv[0]);
            return 2;
        }
    }
    if (g_reps < 1 || g_reps > MAX_REPS || !(g_rep_s > 0)) {
        usage(argv[0]);
        return 2;
    }

    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_size < 2) {
        if (g_rank == 0)
            fprintf(stderr, "microbench needs at least 2 ranks (mpirun -np 2)\n");
        MPI_Finalize();
        return 2;
    }

    /* ---- MPI anchors, first half: before lumen owns MPI ---- */
    double pp_rates[2 * MAX_REPS], p2p_rates[2 * MAX_REPS], ar_rates[2 * MAX_REPS];
    mpi_pingpong(pp_rates);
    if (cross)
        mpi_p2p_gigabytes(p2p_rates);
    else
        mpi_allreduce_gigabytes(ar_rates);

    /* ---- lumen ---- */
    char myres[96];
    /* mb_rank<r>: pins client tasks; mb_actor<r>: places actors (held while
     * they live, hence its own name); mb_pg: Ray's "custom" of the placement
     * group figure */
    snprintf(myres, sizeof myres, "mb_rank%d=1,mb_actor%d=1000,mb_pg=100", g_rank, g_rank);
    lumen_init_options io = {.field_mask = LUMEN_INIT_RESOURCES, .resources = myres};
    if (cross) {
        io.field_mask |= LUMEN_INIT_RANK_IS_NODE;
        io.rank_is_node = 1;
    }
    TRY(lumen_init(&argc, &argv, &io));
    if (!lumen_is_driver()) {
        wait_prefault(); /* serve nothing heavy before the store is faulted */
        TRY(lumen_finalize());
        mpi_pingpong(pp_rates + g_reps); /* second half of the anchors */
        if (cross)
            mpi_p2p_gigabytes(p2p_rates + g_reps);
        else
            mpi_allreduce_gigabytes(ar_rates + g_reps);
        MPI_Finalize();
        return 0;
    }
    g_figure = "settle";
    settle();
    print_load(cross ? "before the cross rank figures" : "before the lumen figures");

    stat_t cg, sync, task_async, actor_sync, actor_async, coll;
    int have_coll = 0;
    int have_cg = 0, have_sync = 0, have_task_async = 0, have_actor_sync = 0, have_actor_async = 0;
    stat_t dg;
    int have_dg = 0;
    char dg_name[96] = "";
    if (cross) {
        have_cg = measure("cross rank get gigabytes", step_cross_get, NULL, &cg);
        void *dst = NULL;
        if (lumen_device_count() > 0 && lumen_device_alloc(0, CROSS_BYTES, &dst) == LUMEN_OK) {
            const char *direct = getenv("LUMEN_DEVICE_DIRECT");
            snprintf(dg_name, sizeof dg_name, "cross rank device get gigabytes (%s, %s)", lumen_device_backend(),
                     direct && !strcmp(direct, "1") ? "direct" : direct && !strcmp(direct, "0") ? "staged" : "auto");
            have_dg = measure(dg_name, step_cross_device_get, dst, &dg);
            lumen_device_free(dst);
        } else {
            fprintf(stderr, "# no device figure: %s\n", lumen_last_error());
        }
    } else {
        task_arg any = {NULL};
        stat_t put;
        have_sync = measure("single client tasks sync", step_task_sync, &any, &sync);
        if (detail) {
            char r0[32], r1[32];
            lumen_task_options o0 = on_rank(0, 1.0, r0, sizeof r0), o1 = on_rank(1, 1.0, r1, sizeof r1);
            task_arg a0 = {&o0}, a1 = {&o1};
            measure("single client tasks sync (run on the driver's rank)", step_task_sync, &a0, NULL);
            measure("single client tasks sync (run on another rank)", step_task_sync, &a1, NULL);
        }
        have_task_async = measure("single client tasks async", step_task_async, NULL, &task_async);
        measure("multi client tasks async", step_multi_client, NULL, NULL);
        measure("single client put calls (Plasma Store)", step_put_small, NULL, NULL);
        int64_t zero = 0;
        lumen_ref small;
        TRY(lumen_put(&zero, sizeof zero, &small));
        measure("single client get calls (Plasma Store)", step_get_small, &small, NULL);
        TRY(lumen_ref_release(small));
        measure("streaming generator objects", step_generator, NULL, NULL);
        /* memcpy anchor and 1 GiB put, in alternating repetitions, from the
         * same source; the anchor copies into resident, aligned memory, as
         * the put does into the prefaulted store. */
        char *src = touched(PUT_LARGE_BYTES, 1), *dst = touched(PUT_LARGE_BYTES, 2);
        copy_arg ca = {dst, src, PUT_LARGE_BYTES}, pa = {NULL, src, PUT_LARGE_BYTES};
        const char *put_name = "single client put gigabytes";
        stat_t mcp;
        if (g_filter && !strstr(put_name, g_filter)) {
            g_figure = "memcpy gigabytes";
            mcp = timeit(step_memcpy, &ca);
            print_figure("memcpy gigabytes", mcp);
        } else {
            g_figure = put_name;
            timeit_pair(step_memcpy, &ca, &mcp, step_put_large, &pa, &put);
            print_figure("memcpy gigabytes", mcp);
            print_figure(put_name, put);
            print_ratio("single client put gigabytes / memcpy gigabytes", put.mean / mcp.mean);
        }
        free(dst);
        free(src);

        /* ---- actors: Ray's names; the 1:1 actor on rank 1 ---- */
        actors_arg aa = {.n = 0};
        const char *name = "1:1 actor calls sync";
        if (wanted(name)) {
            g_figure = name;
            aa.a[aa.n++] = actor_on_rank(1, 1);
            have_actor_sync = measure(name, step_actor_sync, &aa, &actor_sync);
            release_actors(&aa);
            if (detail) {
                g_figure = name = "1:1 actor calls sync (actor on the driver's rank)";
                aa.a[aa.n++] = actor_on_rank(0, 1);
                measure(name, step_actor_sync, &aa, NULL);
                release_actors(&aa);
            }
        }
        if (wanted(name = "1:1 actor calls async")) {
            g_figure = name;
            aa.a[aa.n++] = actor_on_rank(1, 1);
            have_actor_async = measure(name, step_actor_async, &aa, &actor_async);
            release_actors(&aa);
        }
        if (wanted(name = "1:1 actor calls concurrent")) {
            g_figure = name;
            aa.a[aa.n++] = actor_on_rank(1, ACTOR_CONCURRENCY);
            measure(name, step_actor_async, &aa, NULL);
            release_actors(&aa);
        }
        if (wanted(name = "async actor calls")) {
            /* an async actor (one thread) with ASYNC_IN_FLIGHT calls at once */
            g_figure = name;
            g_async_actor = 1;
            aa.a[aa.n++] = actor_on_rank(1, ASYNC_IN_FLIGHT);
            g_async_actor = 0;
            measure(name, step_actor_async_in_flight, &aa, NULL);
            release_actors(&aa);
        }
        int nr = g_size < MAX_RANKS ? g_size : MAX_RANKS;
        if (nr * ACTOR_BATCH > ASYNC_BATCH)
            nr = ASYNC_BATCH / ACTOR_BATCH; /* g_refs holds the 1:n batch */
        if (wanted(name = "1:n actor calls async")) {
            g_figure = name;
            for (int r = 0; r < nr; r++)
                aa.a[aa.n++] = actor_on_rank(r, 1);
            measure(name, step_actor_async, &aa, NULL);
            release_actors(&aa);
        }
        nr = g_size < MAX_RANKS - 1 ? g_size : MAX_RANKS - 1; /* n + 1 arguments */
        if (wanted(name = "n:n actor calls async")) {
            g_figure = name;
            for (int r = 0; r < nr; r++)
                aa.a[aa.n++] = actor_on_rank(r, 1);
            measure(name, step_actor_nn, &aa, NULL);
            release_actors(&aa);
        }
        measure("placement group create/removal", step_pg, NULL, NULL);

        /* ---- collective groups: one member actor per rank, 64 MiB float32 ---- */
        if (wanted(name = "collective allreduce gigabytes")) {
            g_figure = name;
            nr = g_size < MAX_RANKS ? g_size : MAX_RANKS;
            for (int r = 0; r < nr; r++)
                aa.a[aa.n++] = actor_on_rank(r, 1);
            actors_call_all(&aa, "coll_join", 1);
            have_coll = measure(name, step_coll_allreduce, &aa, &coll);
            actors_call_all(&aa, "coll_leave", 0);
            release_actors(&aa);
        }
    }
    print_load("at the end");
    g_figure = "shutdown";
    TRY(lumen_finalize());

    /* ---- MPI anchors, second half: after lumen let MPI go. Both halves
     * together bracket the lumen figures in time. ---- */
    mpi_pingpong(pp_rates + g_reps);
    stat_t pingpong = stats_of(pp_rates, 2 * g_reps);
    print_figure("mpi ping-pong round trips", pingpong);
    if (cross) {
        mpi_p2p_gigabytes(p2p_rates + g_reps);
        stat_t p2p = stats_of(p2p_rates, 2 * g_reps);
        print_figure("mpi point-to-point gigabytes", p2p);
        if (have_cg)
            print_ratio("cross rank get gigabytes / mpi point-to-point gigabytes", cg.mean / p2p.mean);
        if (have_dg) {
            char what[200];
            snprintf(what, sizeof what, "%s / mpi point-to-point gigabytes", dg_name);
            print_ratio(what, dg.mean / p2p.mean);
            if (have_cg) {
                snprintf(what, sizeof what, "%s / cross rank get gigabytes", dg_name);
                print_ratio(what, dg.mean / cg.mean);
            }
        }
    } else {
        mpi_allreduce_gigabytes(ar_rates + g_reps);
        stat_t ar = stats_of(ar_rates, 2 * g_reps);
        print_figure("mpi allreduce gigabytes", ar);
        if (have_coll)
            print_ratio("collective allreduce gigabytes / mpi allreduce gigabytes", coll.mean / ar.mean);
    }
    if (have_sync) {
        print_ratio("sync task round trip microseconds", 1e6 / sync.mean);
        print_ratio("sync task round trip / mpi ping-pong round trip", pingpong.mean / sync.mean);
    }
    if (have_actor_sync) {
        print_ratio("sync actor call round trip microseconds", 1e6 / actor_sync.mean);
        print_ratio("sync actor call round trip / mpi ping-pong round trip", pingpong.mean / actor_sync.mean);
        if (have_sync)
            print_ratio("sync actor call round trip / sync task round trip", sync.mean / actor_sync.mean);
    }
    if (have_actor_async && have_task_async)
        print_ratio("1:1 actor calls async / single client tasks async", actor_async.mean / task_async.mean);
    MPI_Finalize();
    return 0;
}
