/*
 * collective_ops.c - collective groups among 1, 2, 3 and 4 member actors
 * (spread over the ranks, so under 1 rank all members share it, under 2 or
 * 4 they are mixed): each member knows its rank and the group size;
 * allreduce of every dtype with every op (sum, prod, min, max) on 0, 1, 7
 * and 1000 elements and a 64 MiB float32 sum, each element checked against
 * a serial computation of the same reduction; broadcast from every root,
 * allgather, reduce-scatter (every op on int64), barrier, and send/recv
 * between rank 0 and each other member both ways, with the data checked.
 * The checks run inside the members; the driver checks every member
 * passed them all, then destroys the group and makes it again; a last group
 * has its 3 members placed by a SPREAD placement group, one per bundle, and
 * 3 plain threads of the driver form a group too (allreduce, a send/recv
 * ring through memory).
 */
#include "check.h"

#include <pthread.h>
#include <lumen/collective.h>

typedef struct member {
    int rank, world;
    char name[64];
} member;

static lumen_status member_init(lumen_task_ctx *ctx, void **self)
{
    member *m = calloc(1, sizeof *m);
    if (!m)
        return lumen_task_fail(ctx, "no memory");
    *self = m;
    return LUMEN_OK;
}

static void member_destroy(void *self) { free(self); }

LUMEN_ACTOR_CLASS(Member, member_init, member_destroy)

/* join(world, rank, name) */
LUMEN_METHOD(Member, join)
{
    member *m = self;
    int64_t world, rank;
    const char *name;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &world));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &rank));
    TASK_TRY(lumen_arg_get_str(ctx, 2, &name));
    snprintf(m->name, sizeof m->name, "%s", name);
    lumen_status st = lumen_collective_init((int)world, (int)rank, LUMEN_COLL_MPI, name, NULL);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "init: %s", lumen_last_error());
    int r = -1, w = -1;
    TASK_TRY(lumen_collective_rank(name, &r));
    TASK_TRY(lumen_collective_world_size(name, &w));
    if (r != rank || w != world || !lumen_collective_is_initialized(name))
        return lumen_task_fail(ctx, "rank %d / size %d, wanted %lld / %lld", r, w, (long long)rank,
                               (long long)world);
    m->rank = r;
    m->world = w;
    return lumen_return_i64(ctx, 0, lumen_rank());
}

LUMEN_METHOD(Member, leave)
{
    member *m = self;
    lumen_status st = lumen_collective_destroy(m->name);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "destroy: %s", lumen_last_error());
    return lumen_return_i64(ctx, 0, lumen_collective_is_initialized(m->name));
}

/* the value member r contributes at index i for (dtype, op): small integers,
 * so every sum and product is exact in every dtype */
static int64_t input(int r, size_t i, int op)
{
    if (op == LUMEN_REDUCE_PROD)
        return 1 + (int64_t)((i + (size_t)r) % 2);
    return (int64_t)((i * 7 + (size_t)r * 13) % 31) + (op == LUMEN_REDUCE_SUM ? 0 : r);
}

static void put_elem(void *b, int dtype, size_t i, int64_t v)
{
    switch (dtype) {
    case LUMEN_DTYPE_INT32: ((int32_t *)b)[i] = (int32_t)v; break;
    case LUMEN_DTYPE_INT64: ((int64_t *)b)[i] = v; break;
    case LUMEN_DTYPE_FLOAT32: ((float *)b)[i] = (float)v; break;
    case LUMEN_DTYPE_FLOAT64: ((double *)b)[i] = (double)v; break;
    default: ((uint8_t *)b)[i] = (uint8_t)v; break;
    }
}

static int64_t get_elem(const void *b, int dtype, size_t i)
{
    switch (dtype) {
    case LUMEN_DTYPE_INT32: return ((const int32_t *)b)[i];
    case LUMEN_DTYPE_INT64: return ((const int64_t *)b)[i];
    case LUMEN_DTYPE_FLOAT32: return (int64_t)((const float *)b)[i];
    case LUMEN_DTYPE_FLOAT64: return (int64_t)((const double *)b)[i];
    default: return ((const uint8_t *)b)[i];
    }
}

static int64_t fold(int64_t a, int64_t b, int op, int dtype)
{
    int64_t v;
    switch (op) {
    case LUMEN_REDUCE_SUM: v = a + b; break;
    case LUMEN_REDUCE_PROD: v = a * b; break;
    case LUMEN_REDUCE_MIN: v = a < b ? a : b; break;
    default: v = a > b ? a : b; break;
    }
    return dtype == LUMEN_DTYPE_UINT8 ? (int64_t)(uint8_t)v : v;
}

static int64_t expect(int world, size_t i, int op, int dtype)
{
    int64_t e = input(0, i, op);
    for (int r = 1; r < world; r++)
        e = fold(e, input(r, i, op), op, dtype);
    return e;
}

#define MCHECK(cond, ...)                                                                    \
    do {                                                                                     \
        if (!(cond))                                                                         \
            return lumen_task_fail(ctx, __VA_ARGS__);                                        \
        checks++;                                                                            \
    } while (0)

/* suite(): every check; returns how many passed */
LUMEN_METHOD(Member, suite)
{
    member *m = self;
    int W = m->world, R = m->rank;
    const char *g = m->name;
    int64_t checks = 0;
    static const size_t sizes[] = {0, 1, 7, 1000};
    void *buf = malloc(8 * 1000 * 4 + 64), *out = malloc(8 * 1000 * 4 + 64);
    if (!buf || !out)
        return lumen_task_fail(ctx, "no memory");

    /* allreduce: every dtype x op x size */
    for (int dt = 0; dt <= LUMEN_DTYPE_UINT8; dt++)
        for (int op = 0; op <= LUMEN_REDUCE_MAX; op++)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                size_t n = sizes[s];
                if (dt == LUMEN_DTYPE_UINT8 && op == LUMEN_REDUCE_PROD)
                    continue; /* 2^4 still fits, but keep uint8 to byte sums */
                for (size_t i = 0; i < n; i++)
                    put_elem(buf, dt, i, input(R, i, op));
                lumen_status st = lumen_collective_allreduce(g, buf, n, (lumen_dtype)dt, (lumen_reduce_op)op);
                MCHECK(st == LUMEN_OK, "allreduce dt %d op %d n %zu: %s", dt, op, n, lumen_last_error());
                for (size_t i = 0; i < n; i++)
                    MCHECK(get_elem(buf, dt, i) == expect(W, i, op, dt),
                           "allreduce dt %d op %d n %zu: [%zu] = %lld, wanted %lld", dt, op, n, i,
                           (long long)get_elem(buf, dt, i), (long long)expect(W, i, op, dt));
            }

    /* 64 MiB float32 sum, in place in the member's buffer */
    {
        size_t n = (size_t)16 << 20;
        float *big = malloc(n * sizeof *big);
        if (!big)
            return lumen_task_fail(ctx, "no memory");
        for (size_t i = 0; i < n; i++)
            big[i] = (float)((i % 1024) + (size_t)R);
        lumen_status st = lumen_collective_allreduce(g, big, n, LUMEN_DTYPE_FLOAT32, LUMEN_REDUCE_SUM);
        MCHECK(st == LUMEN_OK, "64 MiB allreduce: %s", lumen_last_error());
        size_t bad = n;
        for (size_t i = 0; i < n && bad == n; i++)
            if (big[i] != (float)((i % 1024) * (size_t)W + (size_t)(W * (W - 1) / 2)))
                bad = i;
        free(big);
        MCHECK(bad == n, "64 MiB allreduce: element %zu wrong", bad);
    }

    /* 262147 doubles and int32 (over 1 MiB: the ring, with unequal chunks) */
    {
        size_t n = 262147;
        double *d = malloc(n * sizeof *d);
        int32_t *q = malloc(n * sizeof *q);
        if (!d || !q)
            return lumen_task_fail(ctx, "no memory");
        for (size_t i = 0; i < n; i++) {
            d[i] = (double)input(R, i, LUMEN_REDUCE_SUM);
            q[i] = (int32_t)input(R, i, LUMEN_REDUCE_MAX);
        }
        MCHECK(lumen_collective_allreduce(g, d, n, LUMEN_DTYPE_FLOAT64, LUMEN_REDUCE_SUM) == LUMEN_OK, "ring: %s",
               lumen_last_error());
        MCHECK(lumen_collective_allreduce(g, q, n, LUMEN_DTYPE_INT32, LUMEN_REDUCE_MAX) == LUMEN_OK, "ring: %s",
               lumen_last_error());
        size_t bad = n;
        for (size_t i = 0; i < n && bad == n; i++)
            if (d[i] != (double)expect(W, i, LUMEN_REDUCE_SUM, LUMEN_DTYPE_FLOAT64) ||
                q[i] != expect(W, i, LUMEN_REDUCE_MAX, LUMEN_DTYPE_INT32))
                bad = i;
        free(d);
        free(q);
        MCHECK(bad == n, "ring allreduce: element %zu wrong", bad);
    }

    /* broadcast from every root */
    for (int root = 0; root < W; root++) {
        int64_t *b = buf;
        for (int i = 0; i < 1000; i++)
            b[i] = R == root ? 1000 * root + i : -1;
        MCHECK(lumen_collective_broadcast(g, b, 1000, LUMEN_DTYPE_INT64, root) == LUMEN_OK, "broadcast: %s",
               lumen_last_error());
        for (int i = 0; i < 1000; i++)
            MCHECK(b[i] == 1000 * root + i, "broadcast root %d: [%d] = %lld", root, i, (long long)b[i]);
    }

    /* allgather: 7 doubles each */
    {
        double *s = buf, *o = out;
        for (int i = 0; i < 7; i++)
            s[i] = 100.0 * R + i;
        for (int i = 0; i < 7 * W; i++)
            o[i] = -1;
        MCHECK(lumen_collective_allgather(g, s, o, 7, LUMEN_DTYPE_FLOAT64) == LUMEN_OK, "allgather: %s",
               lumen_last_error());
        for (int r = 0; r < W; r++)
            for (int i = 0; i < 7; i++)
                MCHECK(o[r * 7 + i] == 100.0 * r + i, "allgather: block %d [%d] = %g", r, i, o[r * 7 + i]);
    }

    /* reduce-scatter: 5 int64 per member, every op */
    for (int op = 0; op <= LUMEN_REDUCE_MAX; op++) {
        int64_t *s = buf, *o = out;
        for (int b = 0; b < W; b++)
            for (int i = 0; i < 5; i++)
                s[b * 5 + i] = input(R, (size_t)(b * 5 + i), op);
        MCHECK(lumen_collective_reducescatter(g, s, o, 5, LUMEN_DTYPE_INT64, (lumen_reduce_op)op) == LUMEN_OK,
               "reducescatter: %s", lumen_last_error());
        for (int i = 0; i < 5; i++)
            MCHECK(o[i] == expect(W, (size_t)(R * 5 + i), op, LUMEN_DTYPE_INT64), "reducescatter op %d [%d] = %lld",
                   op, i, (long long)o[i]);
    }

    MCHECK(lumen_collective_barrier(g) == LUMEN_OK, "barrier: %s", lumen_last_error());

    /* send/recv: rank 0 <-> every other member, 1000 int32 */
    for (int peer = 1; peer < W; peer++) {
        int32_t *b = buf;
        if (R == 0) {
            for (int i = 0; i < 1000; i++)
                b[i] = peer * 10000 + i;
            MCHECK(lumen_collective_send(g, b, 1000, LUMEN_DTYPE_INT32, peer) == LUMEN_OK, "send: %s",
                   lumen_last_error());
            MCHECK(lumen_collective_recv(g, b, 1000, LUMEN_DTYPE_INT32, peer) == LUMEN_OK, "recv: %s",
                   lumen_last_error());
            for (int i = 0; i < 1000; i++)
                MCHECK(b[i] == -(peer * 10000 + i), "recv from %d: [%d] = %d", peer, i, b[i]);
        } else if (R == peer) {
            memset(b, 0, 4000);
            MCHECK(lumen_collective_recv(g, b, 1000, LUMEN_DTYPE_INT32, 0) == LUMEN_OK, "recv: %s",
                   lumen_last_error());
            for (int i = 0; i < 1000; i++) {
                MCHECK(b[i] == peer * 10000 + i, "recv from 0: [%d] = %d", i, b[i]);
                b[i] = -b[i];
            }
            MCHECK(lumen_collective_send(g, b, 1000, LUMEN_DTYPE_INT32, 0) == LUMEN_OK, "send: %s",
                   lumen_last_error());
        }
    }
    MCHECK(lumen_collective_barrier(g) == LUMEN_OK, "barrier: %s", lumen_last_error());
    free(buf);
    free(out);
    return lumen_return_i64(ctx, 0, checks);
}

/* pg: members go to bundle i of it (NIL: SPREAD) */
static void run_group(int world, const char *name, int round, lumen_placement_group pg)
{
    lumen_actor a[4];
    lumen_ref r[4];
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_SCHEDULING, .scheduling = lumen_sched_spread()};
    for (int i = 0; i < world; i++) {
        if (pg.opaque_[0] || pg.opaque_[1])
            o.scheduling = lumen_sched_placement_group(pg, i);
        CHECK_OK(lumen_actor_create("Member", NULL, 0, &o, &a[i]));
    }
    for (int i = 0; i < world; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a[i], "join", LUMEN_ARG(world), LUMEN_ARG(i), LUMEN_ARG(name)));
    int ranks_used = 0;
    for (int i = 0; i < world; i++) {
        int64_t where;
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &where));
        ranks_used |= 1 << where;
        lumen_ref_release(r[i]);
    }
    for (int i = 0; i < world; i++)
        CHECK_OK(LUMEN_ACTOR_CALL0(&r[i], a[i], "suite"));
    int64_t first = -1;
    for (int i = 0; i < world; i++) {
        int64_t n;
        CHECK_OK(lumen_get_i64(r[i], 4 * T_TIMEOUT, &n));
        CHECKF(n > 100, "member %d passed only %lld checks", i, (long long)n);
        if (first < 0)
            first = n;
        lumen_ref_release(r[i]);
    }
    for (int i = 0; i < world; i++)
        CHECK_OK(LUMEN_ACTOR_CALL0(&r[i], a[i], "leave"));
    for (int i = 0; i < world; i++) {
        int64_t still;
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &still));
        CHECK(still == 0);
        lumen_ref_release(r[i]);
    }
    printf("collective_ops: %d members on %d rank(s) (mask 0x%x), round %d: %lld checks each\n", world,
           __builtin_popcount((unsigned)ranks_used), (unsigned)ranks_used, round, (long long)first);
    for (int i = 0; i < world; i++)
        lumen_actor_release(a[i]);
}

/* members that are plain threads of the driver (not actors) */
static int g_thread_bad;
static void *thread_member(void *arg)
{
    int r = (int)(intptr_t)arg, W = 3;
    int64_t v[16];
    if (lumen_collective_init(W, r, LUMEN_COLL_MPI, "threads", NULL) != LUMEN_OK) {
        fprintf(stderr, "thread member %d: init: %s\n", r, lumen_last_error());
        g_thread_bad = 1;
        return NULL;
    }
    for (int it = 0; it < 50; it++) {
        for (int i = 0; i < 16; i++)
            v[i] = r * 100 + i + it;
        if (lumen_collective_allreduce("threads", v, 16, LUMEN_DTYPE_INT64, LUMEN_REDUCE_SUM) != LUMEN_OK) {
            fprintf(stderr, "thread member %d: allreduce: %s\n", r, lumen_last_error());
            g_thread_bad = 1;
        }
        for (int i = 0; i < 16; i++)
            if (v[i] != 300 + 3 * (i + it)) {
                fprintf(stderr, "thread member %d: allreduce [%d] = %lld\n", r, i, (long long)v[i]);
                g_thread_bad = 1;
                break;
            }
    }
    /* a ring of sends through memory: even ranks send first */
    int64_t x = r, y = -1;
    int to = (r + 1) % W, from = (r + W - 1) % W;
    lumen_status a, b;
    if (r % 2 == 0) {
        a = lumen_collective_send("threads", &x, 1, LUMEN_DTYPE_INT64, to);
        b = lumen_collective_recv("threads", &y, 1, LUMEN_DTYPE_INT64, from);
    } else {
        b = lumen_collective_recv("threads", &y, 1, LUMEN_DTYPE_INT64, from);
        a = lumen_collective_send("threads", &x, 1, LUMEN_DTYPE_INT64, to);
    }
    if (a != LUMEN_OK || b != LUMEN_OK || y != from) {
        fprintf(stderr, "thread member %d: send %d recv %d y %lld: %s\n", r, a, b, (long long)y, lumen_last_error());
        g_thread_bad = 1;
    }
    /* destroy ends the group for every member: wait for all first */
    if (lumen_collective_barrier("threads") != LUMEN_OK || lumen_collective_destroy("threads") != LUMEN_OK) {
        fprintf(stderr, "thread member %d: destroy: %s\n", r, lumen_last_error());
        g_thread_bad = 1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        char name[32];
        for (int world = 1; world <= 4; world++) {
            snprintf(name, sizeof name, "g%d", world);
            run_group(world, name, 0, LUMEN_PLACEMENT_GROUP_NIL);
        }
        run_group(2, "g2", 1, LUMEN_PLACEMENT_GROUP_NIL); /* the name is free again after destroy */
        /* members placed by a placement group, one per bundle (Ray: the ranks
         * of a placement group form the group) */
        const char *bundles[3] = {"CPU=0.1", "CPU=0.1", "CPU=0.1"};
        lumen_placement_group pg;
        CHECK_OK(lumen_placement_group_create(bundles, 3, LUMEN_PG_SPREAD, NULL, &pg));
        CHECK_OK(lumen_placement_group_wait(pg, T_TIMEOUT));
        run_group(3, "pg", 0, pg);
        CHECK_OK(lumen_placement_group_remove(pg));
        pthread_t t[3];
        for (int i = 0; i < 3; i++)
            pthread_create(&t[i], NULL, thread_member, (void *)(intptr_t)i);
        for (int i = 0; i < 3; i++)
            pthread_join(t[i], NULL);
        CHECK(!g_thread_bad);
        printf("collective_ops: 3 thread members of the driver OK\n");
        printf("collective_ops: OK\n");
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
