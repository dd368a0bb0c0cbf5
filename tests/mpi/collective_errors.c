/*
 * collective_errors.c - every error of a collective group reaches every
 * member as a status and a message, never a hang or a crash: counts, dtypes,
 * reduce ops, broadcast roots and send/recv sizes that differ among members
 * (and the group still works afterwards); an unknown group name; NULL
 * pointers, bad ranks and a count that overflows; init with world sizes
 * that differ; a member that never arrives (the others time out, the group
 * is broken after); a member actor killed before the operation, or while
 * the others wait in it (they get ACTOR_DIED naming the member, long before
 * their timeout, and the name is free again); a group destroyed by one member while the others wait in an
 * allreduce (they get NOT_FOUND "destroyed"). Members are actors spread
 * over the ranks.
 */
#include "check.h"

#include <stdint.h>
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

/* join(world, rank, name, timeout_ms): returns the status */
LUMEN_METHOD(Member, join)
{
    member *m = self;
    int64_t world, rank, tmo;
    const char *name;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &world));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &rank));
    TASK_TRY(lumen_arg_get_str(ctx, 2, &name));
    TASK_TRY(lumen_arg_get_i64(ctx, 3, &tmo));
    snprintf(m->name, sizeof m->name, "%s", name);
    lumen_collective_options o = {.field_mask = LUMEN_COLL_TIMEOUT_MS, .timeout_ms = tmo};
    lumen_status st = lumen_collective_init((int)world, (int)rank, LUMEN_COLL_MPI, name, &o);
    m->rank = (int)rank;
    m->world = (int)world;
    if (st != LUMEN_OK && !*lumen_last_error())
        return lumen_task_fail(ctx, "init failed (%d) without a message", st);
    return lumen_return_i64(ctx, 0, st);
}

#define MCHECK(cond, ...)                                                                    \
    do {                                                                                     \
        if (!(cond))                                                                         \
            return lumen_task_fail(ctx, __VA_ARGS__);                                        \
        checks++;                                                                            \
    } while (0)
#define MERR(call, want, sub)                                                                \
    do {                                                                                     \
        lumen_status s_ = (call);                                                            \
        MCHECK(s_ == (want), "line %d: %s returned %d, wanted %d (%s)", __LINE__, #call, s_, \
               (want), lumen_last_error());                                                  \
        MCHECK(strstr(lumen_last_error(), (sub)) != NULL, "line %d: message \"%s\" lacks \"%s\"", \
               __LINE__, lumen_last_error(), (sub));                                         \
    } while (0)

/* errs(): the mismatch and argument errors, on every member */
LUMEN_METHOD(Member, errs)
{
    member *m = self;
    int W = m->world, R = m->rank;
    const char *g = m->name;
    int64_t checks = 0;
    int32_t b[32];
    float f[32];
    for (int i = 0; i < 32; i++)
        b[i] = R, f[i] = (float)R;
    if (W > 1) {
        MERR(lumen_collective_allreduce(g, b, 10 + (size_t)R, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM),
             LUMEN_ERR_OUT_OF_RANGE, "counts differ");
        MERR(R == 0 ? lumen_collective_allreduce(g, f, 8, LUMEN_DTYPE_FLOAT32, LUMEN_REDUCE_SUM)
                    : lumen_collective_allreduce(g, b, 8, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM),
             LUMEN_ERR_TYPE_MISMATCH, "dtypes differ");
        MERR(lumen_collective_allreduce(g, b, 8, LUMEN_DTYPE_INT32, R == 0 ? LUMEN_REDUCE_SUM : LUMEN_REDUCE_MAX),
             LUMEN_ERR_TYPE_MISMATCH, "reduce ops differ");
        MERR(lumen_collective_broadcast(g, b, 8, LUMEN_DTYPE_INT32, R == 0 ? 0 : 1), LUMEN_ERR_OUT_OF_RANGE,
             "roots differ");
        MERR(R == 0 ? lumen_collective_allreduce(g, b, 8, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM)
                    : lumen_collective_barrier(g),
             LUMEN_ERR_TYPE_MISMATCH, "different operations");
        /* send/recv sizes that differ: both sides fail */
        if (R == 0)
            MERR(lumen_collective_send(g, b, 10, LUMEN_DTYPE_INT32, 1), LUMEN_ERR_OUT_OF_RANGE, "receives 12");
        else if (R == 1)
            MERR(lumen_collective_recv(g, b, 12, LUMEN_DTYPE_INT32, 0), LUMEN_ERR_OUT_OF_RANGE, "sends 10");
    }
    /* the group still works */
    for (int i = 0; i < 32; i++)
        b[i] = R + 1;
    MCHECK(lumen_collective_allreduce(g, b, 32, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM) == LUMEN_OK, "allreduce: %s",
           lumen_last_error());
    for (int i = 0; i < 32; i++)
        MCHECK(b[i] == W * (W + 1) / 2, "allreduce after errors: %d", b[i]);
    /* local argument errors */
    MERR(lumen_collective_allreduce("no-such-group", b, 4, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM), LUMEN_ERR_NOT_FOUND,
         "no-such-group");
    MERR(lumen_collective_allreduce(NULL, b, 4, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM), LUMEN_ERR_INVALID_ARG, "NULL");
    MERR(lumen_collective_allreduce(g, NULL, 4, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM), LUMEN_ERR_INVALID_ARG, "NULL");
    MERR(lumen_collective_allgather(g, NULL, b, 4, LUMEN_DTYPE_INT32), LUMEN_ERR_INVALID_ARG, "NULL");
    MERR(lumen_collective_allreduce(g, b, SIZE_MAX / 2, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM), LUMEN_ERR_INVALID_ARG,
         "overflow");
    MERR(lumen_collective_allgather(g, b, b, (size_t)1 << 31, LUMEN_DTYPE_INT32), LUMEN_ERR_INVALID_ARG, "overflow");
    if (W > 1) /* fits alone, not times the members */
        MERR(lumen_collective_allgather(g, b, b, (size_t)1 << 30, LUMEN_DTYPE_INT32), LUMEN_ERR_INVALID_ARG,
             "overflow");
    MERR(lumen_collective_allreduce(g, b, 4, (lumen_dtype)99, LUMEN_REDUCE_SUM), LUMEN_ERR_INVALID_ARG, "dtype");
    MERR(lumen_collective_allreduce(g, b, 4, LUMEN_DTYPE_INT32, (lumen_reduce_op)9), LUMEN_ERR_INVALID_ARG, "op");
    MERR(lumen_collective_broadcast(g, b, 4, LUMEN_DTYPE_INT32, W), LUMEN_ERR_INVALID_ARG, "root");
    MERR(lumen_collective_send(g, b, 4, LUMEN_DTYPE_INT32, R), LUMEN_ERR_INVALID_ARG, "peer");
    MERR(lumen_collective_rank(g, NULL), LUMEN_ERR_INVALID_ARG, "NULL");
    MERR(lumen_collective_init(W, W, LUMEN_COLL_MPI, "other", NULL), LUMEN_ERR_INVALID_ARG, "rank");
    MERR(lumen_collective_init(0, 0, LUMEN_COLL_MPI, "other", NULL), LUMEN_ERR_INVALID_ARG, "world_size");
    MERR(lumen_collective_init(W, R, LUMEN_COLL_MPI, g, NULL), LUMEN_ERR_ALREADY_EXISTS, "already");
    MCHECK(lumen_collective_barrier(g) == LUMEN_OK, "barrier: %s", lumen_last_error());
    return lumen_return_i64(ctx, 0, checks);
}

/* op(): one allreduce; returns the status (the message checked against `want`) */
LUMEN_METHOD(Member, op)
{
    member *m = self;
    const char *want;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &want));
    int32_t b[4] = {1, 2, 3, 4};
    lumen_status st = lumen_collective_allreduce(m->name, b, 4, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM);
    if (st != LUMEN_OK && !strstr(lumen_last_error(), want))
        return lumen_task_fail(ctx, "status %d, message \"%s\" lacks \"%s\"", st, lumen_last_error(), want);
    /* a second call fails the same way at once (broken or destroyed) */
    lumen_status st2 = lumen_collective_allreduce(m->name, b, 4, LUMEN_DTYPE_INT32, LUMEN_REDUCE_SUM);
    if (st != LUMEN_OK && st2 != st)
        return lumen_task_fail(ctx, "second call: %d after %d (%s)", st2, st, lumen_last_error());
    return lumen_return_i64(ctx, 0, st);
}

/* destroy_after(ms) */
LUMEN_METHOD(Member, destroy_after)
{
    member *m = self;
    int64_t ms;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    sleep_ms(ms);
    lumen_status st = lumen_collective_destroy(m->name);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "destroy: %s", lumen_last_error());
    if (lumen_collective_is_initialized(m->name))
        return lumen_task_fail(ctx, "still initialized after destroy");
    return lumen_return_i64(ctx, 0, 0);
}

static void make(lumen_actor *a, int n)
{
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_SCHEDULING, .scheduling = lumen_sched_spread()};
    for (int i = 0; i < n; i++)
        CHECK_OK(lumen_actor_create("Member", NULL, 0, &o, &a[i]));
}

/* join all; world[i] is what member i says */
static void join(lumen_actor *a, int n, const int *world, const char *name, int64_t tmo, lumen_status *out)
{
    lumen_ref r[8];
    for (int i = 0; i < n; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a[i], "join", LUMEN_ARG(world[i]), LUMEN_ARG(i), LUMEN_ARG(name),
                                  LUMEN_ARG(tmo)));
    for (int i = 0; i < n; i++) {
        int64_t st;
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &st));
        out[i] = (lumen_status)st;
        lumen_ref_release(r[i]);
    }
}

static int64_t call_i64(lumen_actor a, const char *method, lumen_arg arg)
{
    lumen_ref r;
    int64_t v;
    CHECK_OK(lumen_actor_call(a, method, &arg, 1, NULL, &r));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    lumen_ref_release(r);
    return v;
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        lumen_actor a[4];
        lumen_status st[4];
        int w3[4] = {3, 3, 3, 3}, w2[4] = {2, 2, 2, 2};

        /* mismatches and argument errors, on 1 and 3 members */
        for (int n = 1; n <= 3; n += 2) {
            make(a, n);
            join(a, n, w3[0] == n ? w3 : (int[]){1, 1, 1, 1}, n == 1 ? "e1" : "e3", 30000, st);
            lumen_ref r[4];
            for (int i = 0; i < n; i++) {
                CHECK(st[i] == LUMEN_OK);
                CHECK_OK(LUMEN_ACTOR_CALL0(&r[i], a[i], "errs"));
            }
            for (int i = 0; i < n; i++) {
                int64_t c;
                CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &c));
                CHECK(c > 10);
                lumen_ref_release(r[i]);
            }
            for (int i = 0; i < n; i++)
                lumen_actor_release(a[i]);
        }
        printf("collective_errors: mismatches and bad arguments OK\n");

        /* world sizes that differ: nobody hangs, every member fails */
        make(a, 3);
        join(a, 3, (int[]){3, 3, 4}, "w", 2000, st);
        int invalid = 0;
        for (int i = 0; i < 3; i++) {
            CHECK(st[i] == LUMEN_ERR_INVALID_ARG || st[i] == LUMEN_ERR_TIMEOUT);
            invalid += st[i] == LUMEN_ERR_INVALID_ARG;
        }
        CHECK(invalid >= 1);
        for (int i = 0; i < 3; i++)
            lumen_actor_release(a[i]);
        printf("collective_errors: world size mismatch OK\n");

        /* a member that never arrives: the others time out */
        make(a, 3);
        join(a, 3, w3, "late", 1500, st);
        lumen_ref r[4];
        for (int i = 1; i < 3; i++)
            CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a[i], "op", LUMEN_ARG("timed out")));
        for (int i = 1; i < 3; i++) {
            int64_t s;
            CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &s));
            CHECK(s == LUMEN_ERR_TIMEOUT);
            lumen_ref_release(r[i]);
        }
        for (int i = 0; i < 3; i++)
            lumen_actor_release(a[i]);
        printf("collective_errors: absent member OK\n");

        /* a member actor killed: the others learn it (ACTOR_DIED, naming
         * the member and the cause) long before their 60 s timeout */
        make(a, 2);
        join(a, 2, w2, "killed", 60000, st);
        double t0 = now_s();
        CHECK_OK(lumen_actor_kill(a[0], 1));
        CHECK(call_i64(a[1], "op", lumen_arg_str("member 0 of collective group 'killed' is gone")) ==
              LUMEN_ERR_ACTOR_DIED);
        CHECKF(now_s() - t0 < 20, "the killed member was noticed after %.1f s", now_s() - t0);
        lumen_actor_release(a[0]);
        lumen_actor_release(a[1]);
        printf("collective_errors: killed member OK\n");

        /* killed while the others wait for it in an allreduce */
        make(a, 3);
        join(a, 3, w3, "killed2", 60000, st);
        for (int i = 1; i < 3; i++)
            CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a[i], "op", LUMEN_ARG("member 0 of collective group 'killed2' is gone")));
        sleep_ms(300);
        t0 = now_s();
        CHECK_OK(lumen_actor_kill(a[0], 1));
        for (int i = 1; i < 3; i++) {
            int64_t s;
            CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &s));
            CHECKF(s == LUMEN_ERR_ACTOR_DIED, "member %d: %lld after its peer was killed", i, (long long)s);
            lumen_ref_release(r[i]);
        }
        CHECKF(now_s() - t0 < 20, "the killed member was noticed after %.1f s", now_s() - t0);
        /* the name is free again */
        lumen_actor_release(a[0]);
        CHECK_OK(lumen_actor_create("Member", NULL, 0, NULL, &a[0]));
        join(a, 3, w3, "killed2", 30000, st);
        for (int i = 0; i < 3; i++)
            CHECK(st[i] == LUMEN_OK);
        for (int i = 0; i < 3; i++)
            lumen_actor_release(a[i]);
        printf("collective_errors: killed while the others wait OK\n");

        /* destroyed while the others wait */
        make(a, 3);
        join(a, 3, w3, "gone", 60000, st);
        for (int i = 1; i < 3; i++)
            CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a[i], "op", LUMEN_ARG("destroyed")));
        CHECK(call_i64(a[0], "destroy_after", lumen_arg_i64(300)) == 0);
        for (int i = 1; i < 3; i++) {
            int64_t s;
            CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &s));
            CHECK(s == LUMEN_ERR_NOT_FOUND);
            lumen_ref_release(r[i]);
        }
        /* the name is free again */
        join(a, 3, w3, "gone", 30000, st);
        for (int i = 0; i < 3; i++)
            CHECK(st[i] == LUMEN_OK);
        for (int i = 0; i < 3; i++)
            lumen_actor_release(a[i]);
        printf("collective_errors: destroyed while in use OK\n");
        printf("collective_errors: OK\n");
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
