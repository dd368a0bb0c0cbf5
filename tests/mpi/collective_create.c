/*
 * collective_create.c - a collective group declared from the driver (Ray's
 * create_collective_group): 1 to 4 actors spread over the ranks join group
 * "cg<n>" through the built-in method every actor answers; their ready
 * references say each joined as rank i; their own methods then see their
 * rank and the group size and allreduce with the group name (checked against
 * the serial sum). Bad input is refused at once, and a second declaration
 * of the same name on the same actors fails in the ready references.
 */
#include "check.h"

#include "lumen/collective.h"

static lumen_status member_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = NULL;
    return LUMEN_OK;
}
LUMEN_ACTOR_CLASS(CMember, member_init, NULL);

/* args: group name; returns rank * 1000 + world size */
LUMEN_METHOD(CMember, whoami)
{
    (void)self;
    const char *name;
    int rank, world;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &name));
    TASK_TRY(lumen_collective_rank(name, &rank));
    TASK_TRY(lumen_collective_world_size(name, &world));
    return lumen_return_i64(ctx, 0, (int64_t)rank * 1000 + world);
}

/* args: group name; allreduce {rank, rank^2, 1} and return the three sums packed */
LUMEN_METHOD(CMember, sums)
{
    (void)self;
    const char *name;
    int rank;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &name));
    TASK_TRY(lumen_collective_rank(name, &rank));
    int64_t v[3] = {rank, (int64_t)rank * rank, 1};
    TASK_TRY(lumen_collective_allreduce(name, v, 3, LUMEN_DTYPE_INT64, LUMEN_REDUCE_SUM));
    return lumen_return_i64(ctx, 0, v[0] * 1000000 + v[1] * 1000 + v[2]);
}

LUMEN_METHOD(CMember, leave)
{
    (void)self;
    const char *name;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &name));
    TASK_TRY(lumen_collective_destroy(name));
    return lumen_return_i64(ctx, 0, 1);
}

static void call_all(lumen_actor *a, int n, const char *method, const char *name, int64_t *out)
{
    lumen_ref r[4];
    for (int i = 0; i < n; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a[i], method, LUMEN_ARG(name)));
    for (int i = 0; i < n; i++) {
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &out[i]));
        CHECK_OK(lumen_ref_release(r[i]));
    }
}

static void group_of(int n)
{
    lumen_actor a[4];
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_SCHEDULING | LUMEN_ACTOR_NUM_CPUS,
                             .num_cpus = 0, .scheduling = lumen_sched_spread()};
    for (int i = 0; i < n; i++)
        CHECK_OK(lumen_actor_create("CMember", NULL, 0, &o, &a[i]));
    char name[16];
    snprintf(name, sizeof name, "cg%d", n);
    lumen_ref ready[4];
    CHECK_OK(lumen_collective_create_group(a, (size_t)n, LUMEN_COLL_MPI, name, NULL, ready));
    for (int i = 0; i < n; i++) {
        int64_t r;
        CHECK_OK(lumen_get_i64(ready[i], T_TIMEOUT, &r));
        CHECK(r == i);
        CHECK_OK(lumen_ref_release(ready[i]));
    }
    int64_t out[4];
    call_all(a, n, "whoami", name, out);
    for (int i = 0; i < n; i++)
        CHECKF(out[i] == (int64_t)i * 1000 + n, "member %d: %lld", i, (long long)out[i]);
    int64_t s0 = 0, s1 = 0;
    for (int i = 0; i < n; i++) {
        s0 += i;
        s1 += (int64_t)i * i;
    }
    call_all(a, n, "sums", name, out);
    for (int i = 0; i < n; i++)
        CHECK(out[i] == s0 * 1000000 + s1 * 1000 + n);

    /* the same name again on the same actors: each member is in it already */
    lumen_collective_options quick = {.field_mask = LUMEN_COLL_TIMEOUT_MS, .timeout_ms = 2000};
    CHECK_OK(lumen_collective_create_group(a, (size_t)n, LUMEN_COLL_MPI, name, &quick, ready));
    for (int i = 0; i < n; i++) {
        lumen_value v;
        CHECK_ST(lumen_get(ready[i], T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
        CHECK_ERRMSG("already");
        CHECK_OK(lumen_ref_release(ready[i]));
    }
    call_all(a, n, "leave", name, out);
    for (int i = 0; i < n; i++)
        CHECK_OK(lumen_actor_kill(a[i], 1));
}

static void bad_input(void)
{
    lumen_actor a[2] = {LUMEN_ACTOR_NIL, LUMEN_ACTOR_NIL};
    lumen_ref ready[2];
    CHECK_ST(lumen_collective_create_group(NULL, 1, LUMEN_COLL_MPI, "x", NULL, ready), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_collective_create_group(a, 0, LUMEN_COLL_MPI, "x", NULL, ready), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_collective_create_group(a, 1, LUMEN_COLL_MPI, NULL, NULL, ready), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_collective_create_group(a, 1, LUMEN_COLL_MPI, "", NULL, ready), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_collective_create_group(a, 1, (lumen_coll_backend)7, "x", NULL, ready), LUMEN_ERR_INVALID_ARG);
    lumen_actor m;
    CHECK_OK(lumen_actor_create("CMember", NULL, 0, NULL, &m));
    lumen_actor twice[2] = {m, m};
    CHECK_ST(lumen_collective_create_group(twice, 2, LUMEN_COLL_MPI, "x", NULL, ready), LUMEN_ERR_INVALID_ARG);
    CHECK_ERRMSG("same actor");
    CHECK_OK(lumen_actor_kill(m, 1));
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        for (int n = 1; n <= 4; n++)
            group_of(n);
        bad_input();
        printf("collective_create: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
