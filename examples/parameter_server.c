/*
 * parameter_server.c - asynchronous parameter server, the C twin of Ray's
 * parameter server example
 * (https://docs.ray.io/en/latest/ray-core/examples/plot_parameter_server.html):
 *
 *   @ray.remote
 *   class ParameterServer:
 *       def __init__(self, lr): self.w = zeros(DIM); self.lr = lr
 *       def apply_gradients(self, g): self.w -= self.lr * g; return self.updates
 *       def get_weights(self): return self.w
 *       def num_updates(self): return self.updates
 *
 *   @ray.remote
 *   def compute_gradients(ps, step):               # a worker
 *       w = ray.get(ps.get_weights.remote())
 *       x, y = batch(step)                         # from a fixed dataset
 *       g = x.T @ (x @ w - y) / len(y)
 *       ray.get(ps.apply_gradients.remote(g))      # push the gradient
 *       return mean((x @ w - y) ** 2)
 *
 *   ps = ParameterServer.remote(lr)
 *   in_flight = [compute_gradients.remote(ps, i) for i in range(workers)]
 *   for i in range(updates):                       # asynchronous: no barrier
 *       [done], in_flight = ray.wait(in_flight)
 *       in_flight.append(compute_gradients.remote(ps, workers + i))
 *       if i % 40 == 0: print(i, loss(ray.get(ps.get_weights.remote())))
 *
 * The model is linear, DIM = 1000 weights, trained by least squares on a fixed
 * synthetic dataset of 4096 rows made from a known weight vector (plus a little
 * noise); any rank regenerates any row from its index, so no data moves. The
 * loss is the mean squared error on 256 held-out rows, computed by the driver
 * from the server's weights. Workers read weights that may be a few updates
 * old (that is the asynchrony); the loss still falls. Exits non-zero unless
 * the final loss is below 1% of the initial one.
 *
 *   mpirun -np 4 ./parameter_server [updates] [workers_in_flight]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lumen.h>

enum {
    DIM = 1000,        /* weights of the linear model */
    TRAIN_ROWS = 4096, /* the fixed training set: rows 0 .. TRAIN_ROWS-1 */
    EVAL_ROWS = 256,   /* held out: rows TRAIN_ROWS .. TRAIN_ROWS+EVAL_ROWS-1 */
    BATCH = 64,        /* rows per gradient */
    PRINT_EVERY = 40   /* updates between two loss lines */
};
#define NOISE 0.01                                  /* label noise (standard deviation) */
#define LEARNING_RATE (0.4 * (double)BATCH / DIM) /* stable for gradients up to ~16 updates stale */

/* ---- the dataset: counter-based random numbers ----------------------------- */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static double uniform_pm1(uint64_t *s) { return (double)(splitmix64(s) >> 11) * 0x1.0p-52 - 1.0; }

/* the known weights, uniform in [-1, 1) */
static void true_weights(double *w)
{
    uint64_t s = 0x5eed;
    for (int j = 0; j < DIM; j++)
        w[j] = uniform_pm1(&s);
}

/* row r: features of variance 1 (uniform in [-sqrt 3, sqrt 3)) and its label
 * y = x . w_true + noise */
static double make_row(uint64_t r, const double *w_true, double *x)
{
    uint64_t s = (r + 1) * 0xd1b54a32d192ed03ull;
    double y = 0;
    for (int j = 0; j < DIM; j++) {
        x[j] = 1.7320508075688772 * uniform_pm1(&s);
        y += x[j] * w_true[j];
    }
    return y + NOISE * 1.7320508075688772 * uniform_pm1(&s);
}

/* mean squared error of w on the held-out rows */
static double eval_loss(const double *w, const double *w_true, double *x)
{
    double sum = 0;
    for (int r = 0; r < EVAL_ROWS; r++) {
        double y = make_row(TRAIN_ROWS + (uint64_t)r, w_true, x), p = 0;
        for (int j = 0; j < DIM; j++)
            p += x[j] * w[j];
        sum += (p - y) * (p - y);
    }
    return sum / EVAL_ROWS;
}

/* ---- the parameter server actor ---------------------------------------------- */
typedef struct ps_state {
    double lr;
    int64_t updates;
    double w[DIM];
} ps_state;

/* __init__(self, lr) */
static lumen_status ps_init(lumen_task_ctx *ctx, void **self)
{
    double lr;
    if (lumen_arg_get_f64(ctx, 0, &lr) != LUMEN_OK || !(lr > 0))
        return lumen_task_fail(ctx, "ParameterServer(lr): lr must be a positive double");
    ps_state *ps = calloc(1, sizeof *ps);
    if (!ps)
        return lumen_task_fail(ctx, "ParameterServer: out of memory");
    ps->lr = lr;
    *self = ps;
    return LUMEN_OK;
}

static void ps_destroy(void *self) { free(self); }

LUMEN_ACTOR_CLASS(ParameterServer, ps_init, ps_destroy)

/* def get_weights(self): return self.w  (DIM doubles as bytes) */
LUMEN_METHOD(ParameterServer, get_weights)
{
    ps_state *ps = self;
    return lumen_return_bytes(ctx, 0, ps->w, sizeof ps->w);
}

/* def apply_gradients(self, g): self.w -= self.lr * g; returns the number of
 * updates applied so far */
LUMEN_METHOD(ParameterServer, apply_gradients)
{
    ps_state *ps = self;
    const void *data;
    size_t size;
    lumen_status st = lumen_arg_get_bytes(ctx, 0, &data, &size);
    if (st != LUMEN_OK)
        return st;
    if (size != sizeof ps->w)
        return lumen_task_fail(ctx, "apply_gradients: %zu bytes, expected %zu", size, sizeof ps->w);
    for (int j = 0; j < DIM; j++) {
        double g; /* the bytes need not be aligned for a double */
        memcpy(&g, (const char *)data + (size_t)j * sizeof g, sizeof g);
        ps->w[j] -= ps->lr * g;
    }
    return lumen_return_i64(ctx, 0, ++ps->updates);
}

/* def num_updates(self): return self.updates */
LUMEN_METHOD(ParameterServer, num_updates)
{
    ps_state *ps = self;
    return lumen_return_i64(ctx, 0, ps->updates);
}

/* ---- a worker ----------------------------------------------------------------- */
/* the weights as the server has them now */
static lumen_status fetch_weights(lumen_actor ps, double *w)
{
    lumen_ref ref;
    lumen_value v;
    lumen_status st = LUMEN_ACTOR_CALL0(&ref, ps, "get_weights");
    if (st != LUMEN_OK)
        return st;
    st = lumen_get(ref, LUMEN_TIMEOUT_INFINITE, &v);
    if (st == LUMEN_OK && (v.type != LUMEN_TYPE_BYTES || v.size != DIM * sizeof(double)))
        st = LUMEN_ERR_TYPE_MISMATCH;
    if (st == LUMEN_OK)
        memcpy(w, v.data, DIM * sizeof(double));
    lumen_ref_release(ref);
    return st;
}

/* compute_gradients(ps, step): pull, compute on batch `step`, push; returns
 * the batch's mean squared error before the update */
LUMEN_REMOTE(compute_gradients)
{
    lumen_actor ps;
    int64_t step;
    lumen_status st = lumen_arg_get_actor(ctx, 0, &ps);
    if (st == LUMEN_OK)
        st = lumen_arg_get_i64(ctx, 1, &step);
    if (st != LUMEN_OK)
        return st;
    double *buf = malloc(4 * DIM * sizeof(double));
    if (!buf)
        return lumen_task_fail(ctx, "compute_gradients: out of memory");
    double *w = buf, *w_true = buf + DIM, *x = buf + 2 * DIM, *g = buf + 3 * DIM;
    if ((st = fetch_weights(ps, w)) != LUMEN_OK) {
        st = lumen_task_fail(ctx, "get_weights: %s (%s)", lumen_strerror(st), lumen_last_error());
        goto out;
    }
    true_weights(w_true);
    memset(g, 0, DIM * sizeof(double));
    uint64_t pick = (uint64_t)step * 0x94d049bb133111ebull + 7;
    double loss = 0;
    for (int b = 0; b < BATCH; b++) {
        double y = make_row(splitmix64(&pick) % TRAIN_ROWS, w_true, x), p = 0;
        for (int j = 0; j < DIM; j++)
            p += x[j] * w[j];
        double e = p - y;
        loss += e * e;
        for (int j = 0; j < DIM; j++)
            g[j] += e * x[j];
    }
    for (int j = 0; j < DIM; j++)
        g[j] /= BATCH;
    /* ps.apply_gradients.remote(g): the bytes are copied at the call */
    lumen_ref applied;
    int64_t n;
    if ((st = LUMEN_ACTOR_CALL(&applied, ps, "apply_gradients", LUMEN_BYTES(g, DIM * sizeof(double)))) !=
        LUMEN_OK) {
        st = lumen_task_fail(ctx, "apply_gradients.remote: %s", lumen_last_error());
        goto out;
    }
    st = lumen_get_i64(applied, LUMEN_TIMEOUT_INFINITE, &n);
    lumen_ref_release(applied);
    if (st != LUMEN_OK) {
        st = lumen_task_fail(ctx, "apply_gradients: %s (%s)", lumen_strerror(st), lumen_last_error());
        goto out;
    }
    st = lumen_return_f64(ctx, 0, loss / BATCH);
out:
    free(buf);
    return st;
}

/* ---- the driver ------------------------------------------------------------------ */
#define TRY(call)                                                                            \
    do {                                                                                     \
        lumen_status s_ = (call);                                                            \
        if (s_ != LUMEN_OK) {                                                                \
            fprintf(stderr, "%s: %s (%s)\n", #call, lumen_strerror(s_), lumen_last_error()); \
            goto out;                                                                        \
        }                                                                                    \
    } while (0)

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int driver(int64_t updates, int workers)
{
    int rc = 1;
    lumen_actor ps = LUMEN_ACTOR_NIL;
    lumen_ref *in_flight = calloc((size_t)workers, sizeof *in_flight);
    int *ready = calloc((size_t)workers, sizeof *ready);
    double *w = malloc(DIM * sizeof *w), *w_true = malloc(DIM * sizeof *w_true), *x = malloc(DIM * sizeof *x);
    int64_t submitted = 0, done = 0;
    double first = 0, loss = 0, batch_loss = 0;
    if (!in_flight || !ready || !w || !w_true || !x) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    true_weights(w_true);
    double t0 = now();

    /* ps = ParameterServer.remote(lr) */
    lumen_arg lr = lumen_arg_f64(LEARNING_RATE);
    TRY(lumen_actor_create("ParameterServer", &lr, 1, NULL, &ps));
    TRY(fetch_weights(ps, w));
    first = loss = eval_loss(w, w_true, x);
    printf("update %4d: loss %10.6f\n", 0, loss);

    /* keep `workers` gradient computations in flight */
    for (int i = 0; i < workers && submitted < updates; i++, submitted++) {
        lumen_arg a[2] = {lumen_arg_actor(ps), lumen_arg_i64(submitted)};
        TRY(lumen_remote("compute_gradients", a, 2, NULL, &in_flight[i]));
    }
    while (done < updates) {
        int live = (int)(submitted - done < workers ? submitted - done : workers);
        size_t nready;
        TRY(lumen_wait(in_flight, (size_t)live, 1, LUMEN_TIMEOUT_INFINITE, ready, &nready));
        for (int i = live - 1; i >= 0; i--) {
            if (!ready[i])
                continue;
            lumen_status st = lumen_get_f64(in_flight[i], 0, &batch_loss);
            lumen_ref_release(in_flight[i]);
            /* close the gap: the slots 0 .. live-1 stay the live ones */
            in_flight[i] = in_flight[--live];
            done++;
            if (st != LUMEN_OK) {
                fprintf(stderr, "compute_gradients: %s (%s)\n", lumen_strerror(st), lumen_last_error());
                goto out;
            }
            if (submitted < updates) {
                lumen_arg a[2] = {lumen_arg_actor(ps), lumen_arg_i64(submitted)};
                TRY(lumen_remote("compute_gradients", a, 2, NULL, &in_flight[live]));
                live++;
                submitted++;
            }
            if (done % PRINT_EVERY == 0 || done == updates) {
                TRY(fetch_weights(ps, w));
                loss = eval_loss(w, w_true, x);
                printf("update %4lld: loss %10.6f (a worker's batch: %.6f)\n", (long long)done, loss,
                       batch_loss);
            }
        }
    }
    /* the server applied every gradient once */
    lumen_ref cnt;
    int64_t applied = -1;
    TRY(LUMEN_ACTOR_CALL0(&cnt, ps, "num_updates"));
    TRY(lumen_get_i64(cnt, LUMEN_TIMEOUT_INFINITE, &applied));
    TRY(lumen_ref_release(cnt));
    printf("%lld updates from %d workers in flight on %d ranks, %.2f s: loss %.6f -> %.6f\n",
           (long long)updates, workers, lumen_world_size(), now() - t0, first, loss);
    if (applied != updates)
        fprintf(stderr, "the server applied %lld gradients, expected %lld\n", (long long)applied,
                (long long)updates);
    else if (!(loss < 0.01 * first))
        fprintf(stderr, "the loss did not fall below 1%% of its first value\n");
    else
        rc = 0;
out:
    for (int64_t i = done; i < submitted; i++)
        lumen_ref_release(in_flight[i - done]);
    if (!lumen_actor_is_nil(ps))
        lumen_actor_release(ps);
    free(in_flight);
    free(ready);
    free(w);
    free(w_true);
    free(x);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 1;
    TRY(lumen_init(&argc, &argv, NULL));
    int64_t updates = argc > 1 ? atoll(argv[1]) : 400;
    int workers = argc > 2 ? atoi(argv[2]) : (lumen_world_size() > 2 ? lumen_world_size() : 2);
    if (updates < 1 || workers < 1) {
        if (lumen_is_driver())
            fprintf(stderr, "usage: %s [updates >= 1] [workers_in_flight >= 1]\n", argv[0]);
        lumen_finalize();
        return 2;
    }
    rc = lumen_is_driver() ? driver(updates, workers) : 0;
    TRY(lumen_finalize());
    return rc;
out:
    return 1;
}
