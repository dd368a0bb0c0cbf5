/*
 * monte_carlo_pi.c - estimate pi with 1,000 tasks, the C twin of Ray's
 * Monte Carlo pi example:
 *
 *   @ray.remote
 *   def sample(seed, n):
 *       rng = random.Random(seed)
 *       return sum(rng.random()**2 + rng.random()**2 < 1 for _ in range(n))
 *   hits = sum(ray.get([sample.remote(i, n) for i in range(1000)]))
 *   pi = 4 * hits / (1000 * n)
 *
 * Each task draws its points from its own seed, so the estimate is the same
 * whatever the number of ranks. Exits 0 when |estimate - pi| < 0.01.
 *
 *   mpirun -np 4 ./monte_carlo_pi [tasks] [samples_per_task]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <lumen.h>

/* splitmix64: turns consecutive seeds into well-spread starting states */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* xorshift64*: a small, fast generator, good enough for sampling */
static uint64_t xorshift64s(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* uniform double in [0, 1) from the top 53 bits */
static double uniform01(uint64_t *s) { return (double)(xorshift64s(s) >> 11) * 0x1.0p-53; }

/* sample(seed, n): how many of n random points in the unit square fall inside
 * the quarter circle */
LUMEN_REMOTE(sample)
{
    int64_t seed, n;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &seed);
    if (st == LUMEN_OK)
        st = lumen_arg_get_i64(ctx, 1, &n);
    if (st != LUMEN_OK)
        return st;
    if (n < 0)
        return lumen_task_fail(ctx, "sample: n = %lld is negative", (long long)n);
    uint64_t sm = (uint64_t)seed, state = splitmix64(&sm);
    if (state == 0)
        state = 1; /* xorshift's one forbidden state */
    int64_t hits = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = uniform01(&state), y = uniform01(&state);
        hits += x * x + y * y < 1.0;
    }
    return lumen_return_i64(ctx, 0, hits);
}

#define TRY(call)                                                                            \
    do {                                                                                     \
        lumen_status s_ = (call);                                                            \
        if (s_ != LUMEN_OK) {                                                                \
            fprintf(stderr, "%s: %s (%s)\n", #call, lumen_strerror(s_), lumen_last_error()); \
            goto out;                                                                        \
        }                                                                                    \
    } while (0)

static const double PI = 3.14159265358979323846;

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int driver(int64_t tasks, int64_t per_task)
{
    int rc = 1;
    size_t submitted = 0;
    lumen_ref *refs = calloc((size_t)tasks, sizeof *refs);
    lumen_value *vals = calloc((size_t)tasks, sizeof *vals);
    if (!refs || !vals) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    double t0 = now();

    /* futures = [sample.remote(i, n) for i in range(tasks)] */
    for (int64_t i = 0; i < tasks; i++, submitted++)
        TRY(LUMEN_CALL(&refs[i], "sample", LUMEN_ARG(i), LUMEN_ARG(per_task)));

    /* hits = sum(ray.get(futures)) */
    TRY(lumen_get_many(refs, (size_t)tasks, LUMEN_TIMEOUT_INFINITE, vals));
    int64_t hits = 0;
    for (int64_t i = 0; i < tasks; i++)
        hits += vals[i].i64;

    double secs = now() - t0;
    double samples = (double)tasks * (double)per_task;
    double pi_est = 4.0 * (double)hits / samples;
    double err = fabs(pi_est - PI);
    printf("pi ~= %.6f (error %.2e) from %.0f samples in %lld tasks on %d ranks, %.3f s\n", pi_est, err,
           samples, (long long)tasks, lumen_world_size(), secs);
    rc = err < 0.01 ? 0 : 1;
    if (rc)
        fprintf(stderr, "error %.4f is not below 0.01\n", err);
out:
    for (size_t i = 0; i < submitted; i++)
        lumen_ref_release(refs[i]);
    free(refs);
    free(vals);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 1;
    TRY(lumen_init(&argc, &argv, NULL));
    int64_t tasks = argc > 1 ? atoll(argv[1]) : 1000;
    int64_t per_task = argc > 2 ? atoll(argv[2]) : 100000;
    if (tasks < 1 || per_task < 1) {
        if (lumen_is_driver())
            fprintf(stderr, "usage: %s [tasks >= 1] [samples_per_task >= 1]\n", argv[0]);
        lumen_finalize();
        return 2;
    }
    rc = lumen_is_driver() ? driver(tasks, per_task) : 0;
    TRY(lumen_finalize());
    return rc;
out:
    return 1;
}
