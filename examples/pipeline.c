/*
 * pipeline.c - a producer-consumer pipeline with a streaming generator, the
 * C twin of Ray's
 *
 *   @ray.remote(num_returns="streaming", _generator_backpressure_num_objects=8)
 *   def produce(nblocks, n):
 *       for b in range(nblocks):
 *           yield make_block(b, n)          # one block of n doubles
 *
 *   @ray.remote
 *   def analyze(block):
 *       return block.sum(), block.max()
 *
 *   results = [analyze.remote(ref) for ref in produce.remote(64, 100_000)]
 *   for sum, max in ray.get(results): ...
 *
 * The producer task yields each block as soon as it is made (zero-copy:
 * lumen_yield_alloc + lumen_yield_commit write it straight into the object
 * store); the driver hands each block's reference to an analyze task the
 * moment it arrives, so analysis overlaps production. The back-pressure
 * bound keeps at most 8 blocks made and not yet taken. The driver checks
 * every result against the same block computed locally and exits non-zero
 * on any difference.
 *
 *   mpirun -np 4 ./pipeline [blocks] [doubles_per_block]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <lumen.h>

/* element i of block b */
static double element(int64_t b, int64_t i) { return sin(0.001 * (double)i + (double)b) * (double)(b + 1); }

/* produce(nblocks, n): yields nblocks blocks of n doubles */
LUMEN_REMOTE(produce)
{
    int64_t nblocks, n;
    lumen_status st;
    if ((st = lumen_arg_get_i64(ctx, 0, &nblocks)) != LUMEN_OK || (st = lumen_arg_get_i64(ctx, 1, &n)) != LUMEN_OK)
        return st;
    for (int64_t b = 0; b < nblocks; b++) {
        double *block;
        if ((st = lumen_yield_alloc(ctx, (size_t)n * sizeof(double), (void **)&block)) != LUMEN_OK)
            return st;
        for (int64_t i = 0; i < n; i++)
            block[i] = element(b, i);
        if ((st = lumen_yield_commit(ctx)) != LUMEN_OK)
            return st; /* cancelled: stop producing */
    }
    return LUMEN_OK;
}

/* analyze(block) -> (sum, max) */
LUMEN_REMOTE(analyze)
{
    const void *data;
    size_t size;
    lumen_status st = lumen_arg_get_bytes(ctx, 0, &data, &size);
    if (st != LUMEN_OK)
        return st;
    const double *x = data;
    size_t n = size / sizeof(double);
    double sum = 0, max = n ? x[0] : 0;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] > max)
            max = x[i];
    }
    if ((st = lumen_return_f64(ctx, 0, sum)) != LUMEN_OK)
        return st;
    return lumen_return_f64(ctx, 1, max);
}

#define CHECKED(call)                                                                             \
    do {                                                                                          \
        lumen_status s_ = (call);                                                                 \
        if (s_ != LUMEN_OK) {                                                                     \
            fprintf(stderr, "pipeline: %s: %s (%s)\n", #call, lumen_strerror(s_), lumen_last_error()); \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

int main(int argc, char **argv)
{
    CHECKED(lumen_init(&argc, &argv, NULL));
    int ok = 1;
    if (lumen_is_driver()) {
        int64_t nblocks = argc > 1 ? atoll(argv[1]) : 64;
        int64_t n = argc > 2 ? atoll(argv[2]) : 100000;
        if (nblocks < 1 || n < 1) {
            fprintf(stderr, "usage: pipeline [blocks >= 1] [doubles_per_block >= 1]\n");
            return 2;
        }
        lumen_task_options o = {.field_mask = LUMEN_TASK_GENERATOR_BACKPRESSURE,
                                .generator_backpressure_num_objects = 8};
        lumen_generator *gen;
        CHECKED(lumen_remote_generator("produce", (lumen_arg[]){lumen_arg_i64(nblocks), lumen_arg_i64(n)}, 2, &o,
                                       &gen));
        lumen_ref(*results)[2] = malloc((size_t)nblocks * sizeof *results);
        if (!results)
            return 1;
        /* each block goes to an analyze task as soon as it is produced */
        lumen_task_options two = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = 2};
        int64_t got = 0;
        lumen_ref block;
        lumen_status st;
        while ((st = lumen_generator_next(gen, LUMEN_TIMEOUT_INFINITE, &block)) == LUMEN_OK) {
            if (got == nblocks) {
                fprintf(stderr, "pipeline: more blocks than asked for\n");
                return 1;
            }
            CHECKED(lumen_remote("analyze", (lumen_arg[]){lumen_arg_ref(block)}, 1, &two, results[got]));
            CHECKED(lumen_ref_release(block)); /* the analyze task holds it until it ran */
            got++;
        }
        if (st != LUMEN_ERR_END_OF_STREAM || got != nblocks) {
            fprintf(stderr, "pipeline: the stream ended with '%s' after %lld blocks: %s\n", lumen_strerror(st),
                    (long long)got, lumen_last_error());
            return 1;
        }
        CHECKED(lumen_generator_release(gen));
        double total = 0;
        for (int64_t b = 0; b < nblocks; b++) {
            double sum, max, want_sum = 0, want_max = element(b, 0);
            CHECKED(lumen_get_f64(results[b][0], LUMEN_TIMEOUT_INFINITE, &sum));
            CHECKED(lumen_get_f64(results[b][1], LUMEN_TIMEOUT_INFINITE, &max));
            CHECKED(lumen_ref_release(results[b][0]));
            CHECKED(lumen_ref_release(results[b][1]));
            for (int64_t i = 0; i < n; i++) {
                double x = element(b, i);
                want_sum += x;
                if (x > want_max)
                    want_max = x;
            }
            if (fabs(sum - want_sum) > 1e-9 * (1 + fabs(want_sum)) || max != want_max) {
                fprintf(stderr, "pipeline: block %lld: sum %.17g max %.17g, wanted %.17g %.17g\n", (long long)b, sum,
                        max, want_sum, want_max);
                ok = 0;
            }
            if (b < 4 || b == nblocks - 1)
                printf("block %3lld: sum %14.6f  max %10.6f\n", (long long)b, sum, max);
            else if (b == 4)
                printf("...\n");
            total += sum;
        }
        free(results);
        printf("%lld blocks of %lld doubles streamed and analyzed on %d ranks: total %.6f%s\n", (long long)nblocks,
               (long long)n, lumen_world_size(), total, ok ? "" : " (WRONG)");
    }
    CHECKED(lumen_finalize());
    return ok ? 0 : 1;
}
