/*
 * sgd_allreduce.c - data-parallel SGD on a linear model with 4 worker actors
 * (Ray: ray.util.collective with one worker per GPU/CPU). Each worker holds
 * its own shard of a synthetic regression data set, computes the gradient of
 * the mean squared error on mini-batches of it, and the workers sum their
 * gradients with the group's allreduce, so every worker applies the same
 * update and the weights stay identical. The driver prints the loss of each
 * epoch, which falls.
 *
 *   mpirun -np 2 ./sgd_allreduce      (any number of ranks; 1 works too)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lumen.h>
#include <lumen/collective.h>

#define WORKERS 4
#define DIM 8
#define SHARD 2048   /* samples per worker */
#define BATCH 256    /* per worker, per step */
#define EPOCHS 15
#define LR 0.05

typedef struct worker {
    int rank;
    double *x, *y;   /* SHARD x DIM features, SHARD targets */
    double w[DIM + 1]; /* weights and bias, the same on every worker */
} worker;

static double urand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (double)((*s >> 8) & 0xffffff) / (double)0x1000000;
}

/* Worker(rank): joins group "sgd" and makes its shard */
static lumen_status worker_init(lumen_task_ctx *ctx, void **self)
{
    int64_t rank;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &rank);
    if (st != LUMEN_OK)
        return st;
    worker *wk = calloc(1, sizeof *wk);
    if (!wk || !(wk->x = malloc(sizeof(double) * SHARD * DIM)) || !(wk->y = malloc(sizeof(double) * SHARD))) {
        if (wk)
            free(wk->x);
        free(wk);
        return lumen_task_fail(ctx, "no memory");
    }
    wk->rank = (int)rank;
    unsigned seed = 1234u + 77u * (unsigned)rank;
    for (int i = 0; i < SHARD; i++) { /* y = sum_j (j+1)/DIM * x_j - 0.5 + noise */
        double t = -0.5;
        for (int j = 0; j < DIM; j++) {
            double v = 2.0 * urand(&seed) - 1.0;
            wk->x[i * DIM + j] = v;
            t += (double)(j + 1) / DIM * v;
        }
        wk->y[i] = t + 0.01 * (urand(&seed) - 0.5);
    }
    *self = wk;
    return LUMEN_OK;
}

static void worker_destroy(void *self)
{
    worker *wk = self;
    free(wk->x);
    free(wk->y);
    free(wk);
}

LUMEN_ACTOR_CLASS(Worker, worker_init, worker_destroy)

/* join(): col.init_collective_group(WORKERS, rank, "mpi", "sgd") */
LUMEN_METHOD(Worker, join)
{
    worker *wk = self;
    lumen_status st = lumen_collective_init(WORKERS, wk->rank, LUMEN_COLL_MPI, "sgd", NULL);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "init: %s", lumen_last_error());
    return lumen_return_i64(ctx, 0, lumen_rank());
}

/* epoch(): one pass over the shard in mini-batches; returns the mean loss
 * over every worker's data before the epoch's updates */
LUMEN_METHOD(Worker, epoch)
{
    worker *wk = self;
    double epoch_loss = 0;
    for (int b0 = 0; b0 < SHARD; b0 += BATCH) {
        /* grad[0..DIM] for the weights and bias, grad[DIM+1] the squared error */
        double grad[DIM + 2] = {0};
        for (int i = b0; i < b0 + BATCH; i++) {
            const double *xi = &wk->x[i * DIM];
            double pred = wk->w[DIM];
            for (int j = 0; j < DIM; j++)
                pred += wk->w[j] * xi[j];
            double err = pred - wk->y[i];
            for (int j = 0; j < DIM; j++)
                grad[j] += 2.0 * err * xi[j];
            grad[DIM] += 2.0 * err;
            grad[DIM + 1] += err * err;
        }
        /* sum the gradients of all workers: every worker gets the same sum */
        lumen_status st = lumen_collective_allreduce("sgd", grad, DIM + 2, LUMEN_DTYPE_FLOAT64, LUMEN_REDUCE_SUM);
        if (st != LUMEN_OK)
            return lumen_task_fail(ctx, "allreduce: %s", lumen_last_error());
        double n = (double)BATCH * WORKERS;
        for (int j = 0; j <= DIM; j++)
            wk->w[j] -= LR * grad[j] / n;
        epoch_loss += grad[DIM + 1];
    }
    return lumen_return_f64(ctx, 0, epoch_loss / ((double)SHARD * WORKERS));
}

/* the weights, to check that every worker holds the same */
LUMEN_METHOD(Worker, weights) { return lumen_return_bytes(ctx, 0, ((worker *)self)->w, sizeof(double) * (DIM + 1)); }

#define TRY(call)                                                                                   \
    do {                                                                                            \
        lumen_status s_ = (call);                                                                   \
        if (s_ != LUMEN_OK) {                                                                       \
            fprintf(stderr, "sgd_allreduce: %s: %s (%s)\n", #call, lumen_strerror(s_), lumen_last_error()); \
            return 1;                                                                               \
        }                                                                                           \
    } while (0)

static int driver(void)
{
    lumen_actor w[WORKERS];
    lumen_ref r[WORKERS];
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_SCHEDULING, .scheduling = lumen_sched_spread()};
    for (int i = 0; i < WORKERS; i++) /* workers = [Worker.remote(i) for i in range(4)] */
        TRY(lumen_actor_create("Worker", (lumen_arg[]){LUMEN_ARG(i)}, 1, &o, &w[i]));
    for (int i = 0; i < WORKERS; i++) /* every member joins at once */
        TRY(LUMEN_ACTOR_CALL0(&r[i], w[i], "join"));
    for (int i = 0; i < WORKERS; i++) {
        int64_t where;
        TRY(lumen_get_i64(r[i], LUMEN_TIMEOUT_INFINITE, &where));
        printf("worker %d on rank %lld\n", i, (long long)where);
        lumen_ref_release(r[i]);
    }
    double first = 0, last = 0;
    for (int e = 0; e < EPOCHS; e++) {
        for (int i = 0; i < WORKERS; i++)
            TRY(LUMEN_ACTOR_CALL0(&r[i], w[i], "epoch"));
        double loss[WORKERS];
        for (int i = 0; i < WORKERS; i++) {
            TRY(lumen_get_f64(r[i], LUMEN_TIMEOUT_INFINITE, &loss[i]));
            lumen_ref_release(r[i]);
        }
        printf("epoch %2d  loss %.6f\n", e, loss[0]);
        if (e == 0)
            first = loss[0];
        last = loss[0];
    }
    /* the weights are the same on every worker */
    lumen_value v[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        TRY(LUMEN_ACTOR_CALL0(&r[i], w[i], "weights"));
    TRY(lumen_get_many(r, WORKERS, LUMEN_TIMEOUT_INFINITE, v));
    int same = 1;
    for (int i = 1; i < WORKERS; i++)
        same &= v[i].size == v[0].size && !memcmp(v[i].data, v[0].data, v[0].size);
    const double *wt = v[0].data;
    printf("weights:");
    for (int j = 0; j < DIM; j++)
        printf(" %.3f", wt[j]);
    printf("  bias %.3f  (true: 0.125 .. 1.000, bias -0.500)\n", wt[DIM]);
    for (int i = 0; i < WORKERS; i++) {
        lumen_ref_release(r[i]);
        lumen_actor_release(w[i]);
    }
    printf("loss fell from %.6f to %.6f; workers agree: %s\n", first, last, same ? "yes" : "NO");
    return last < first && same ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (lumen_init(&argc, &argv, NULL) != LUMEN_OK) {
        fprintf(stderr, "lumen_init: %s\n", lumen_last_error());
        return 1;
    }
    int rc = lumen_is_driver() ? driver() : 0;
    lumen_finalize();
    return rc;
}
