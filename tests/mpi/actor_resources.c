/*
 * actor_resources.c - actors hold resources (run with LUMEN_NUM_CPUS=2
 * LUMEN_RESOURCES=slot=1 on every rank): an actor no rank can hold (1000
 * CPUs, slot=2, a resource nobody has) is refused by lumen_actor_create with
 * LUMEN_ERR_INFEASIBLE; world_size actors needing slot=1 all become ready,
 * one per rank (each reports its rank from lumen_get_runtime_context inside
 * a method); lumen_available_resources shows slot 0 while they live and
 * CPU untouched (an actor without num_cpus holds no CPU), while
 * lumen_cluster_resources shows slot=world_size; one more slot=1 actor stays
 * pending (its ready reference times out, lumen_wait reports 0 ready after
 * ~500 ms, a call to it waits) until one of the others is killed, then it
 * is placed on the freed rank and answers; once all are gone the slots are
 * available again. An actor with num_cpus=2 on every rank holds all CPUs: a
 * task waits until one of them is killed.
 */
#include "check.h"

#include <string.h>

static lumen_status slotted_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = NULL;
    return LUMEN_OK;
}

LUMEN_ACTOR_CLASS(Slotted, slotted_init, NULL)

/* where(): the rank (from the runtime context; checked against lumen_rank) */
LUMEN_METHOD(Slotted, where)
{
    (void)self;
    lumen_runtime_context rc;
    TASK_TRY(lumen_get_runtime_context(&rc));
    if (rc.rank != lumen_rank())
        return lumen_task_fail(ctx, "runtime context rank %d, lumen_rank %d", rc.rank, lumen_rank());
    if (!rc.in_task)
        return lumen_task_fail(ctx, "runtime context: in_task 0 inside a method");
    return lumen_return_i64(ctx, 0, rc.rank);
}

LUMEN_REMOTE(ar_rank) { return lumen_return_i64(ctx, 0, lumen_rank()); }

static double avail(const char *name)
{
    lumen_resources r;
    CHECK_OK(lumen_available_resources(&r));
    return lumen_resources_get(&r, name);
}

/* polls available_resources until `name` is `want` (resource release may be
 * asynchronous); returns the last value seen */
static double wait_avail(const char *name, double want, double seconds)
{
    double t0 = now_s(), v;
    while ((v = avail(name)) != want && now_s() - t0 < seconds)
        sleep_ms(20);
    return v;
}

static int64_t where(lumen_actor a)
{
    lumen_ref r;
    CHECK_OK(LUMEN_ACTOR_CALL0(&r, a, "where"));
    int64_t v = -1;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    CHECK_OK(lumen_ref_release(r));
    return v;
}

static void expect_infeasible(const lumen_actor_options *o, const char *what)
{
    lumen_actor a = LUMEN_ACTOR_NIL;
    double t0 = now_s();
    lumen_status st = lumen_actor_create("Slotted", NULL, 0, o, &a);
    CHECKF(st == LUMEN_ERR_INFEASIBLE, "%s: lumen_actor_create gave %d (%s), wanted INFEASIBLE", what, (int)st,
           lumen_strerror(st));
    CHECKF(now_s() - t0 < 1.0, "%s: INFEASIBLE took %.3f s", what, now_s() - t0);
    CHECKF(strlen(lumen_last_error()) > 0, "%s: no message", what);
    printf("%s: %s\n", what, lumen_last_error());
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        const int n = lumen_world_size();
        lumen_resources cr;
        CHECK_OK(lumen_cluster_resources(&cr));
        CHECKF(lumen_resources_get(&cr, "slot") == n, "cluster slot %g, wanted %d (run with LUMEN_RESOURCES=slot=1)",
               lumen_resources_get(&cr, "slot"), n);
        CHECKF(lumen_resources_get(&cr, "CPU") == 2 * n, "cluster CPU %g, wanted %d (run with LUMEN_NUM_CPUS=2)",
               lumen_resources_get(&cr, "CPU"), 2 * n);
        CHECK(wait_avail("slot", n, 5) == n);

        /* infeasible */
        lumen_actor_options o = {.field_mask = LUMEN_ACTOR_NUM_CPUS, .num_cpus = 1000};
        expect_infeasible(&o, "actor num_cpus=1000");
        o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_RESOURCES, .resources = "slot=2"};
        expect_infeasible(&o, "actor slot=2");
        o.resources = "unobtainium=1";
        expect_infeasible(&o, "actor unobtainium=1");
        o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_NUM_GPUS, .num_gpus = 1};
        expect_infeasible(&o, "actor num_gpus=1");

        /* one slot actor per rank */
        o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_RESOURCES, .resources = "slot=1"};
        lumen_actor a[64];
        lumen_ref ready[64];
        CHECK(n <= 63);
        for (int i = 0; i < n; i++) {
            CHECK_OK(lumen_actor_create("Slotted", NULL, 0, &o, &a[i]));
            CHECK_OK(lumen_actor_ready(a[i], &ready[i]));
        }
        lumen_value rv[64];
        CHECK_OK(lumen_get_many(ready, (size_t)n, T_TIMEOUT, rv));
        int seen[64] = {0};
        int64_t rank_of[64];
        for (int i = 0; i < n; i++) {
            CHECK(rv[i].type == LUMEN_TYPE_I64 && rv[i].i64 == 1);
            CHECK_OK(lumen_ref_release(ready[i]));
            rank_of[i] = where(a[i]);
            CHECK(rank_of[i] >= 0 && rank_of[i] < n);
            CHECKF(!seen[rank_of[i]]++, "two slot=1 actors on rank %lld (each rank has slot=1)", (long long)rank_of[i]);
        }
        double s = wait_avail("slot", 0, 5);
        CHECKF(s == 0, "available slot %g while %d slot actors live, wanted 0", s, n);
        double c = avail("CPU");
        CHECKF(c == 2 * n, "available CPU %g while only actors without num_cpus live, wanted %d", c, 2 * n);
        CHECK_OK(lumen_cluster_resources(&cr));
        CHECK(lumen_resources_get(&cr, "slot") == n);

        /* one too many: pending */
        lumen_actor extra;
        CHECK_OK(lumen_actor_create("Slotted", NULL, 0, &o, &extra));
        lumen_ref er, call;
        CHECK_OK(lumen_actor_ready(extra, &er));
        CHECK_OK(LUMEN_ACTOR_CALL0(&call, extra, "where"));
        lumen_value v;
        CHECK_ST(lumen_get(er, 200, &v), LUMEN_ERR_TIMEOUT);
        int rdy[2] = {0, 0};
        size_t nready = 99;
        lumen_ref both[2] = {er, call};
        double t0 = now_s();
        CHECK_OK(lumen_wait(both, 2, 1, 500, rdy, &nready));
        double dt = now_s() - t0;
        CHECKF(nready == 0 && !rdy[0] && !rdy[1], "the extra slot actor is ready (%zu) with every slot taken", nready);
        CHECKF(dt >= 0.4, "lumen_wait(500 ms) returned after %.3f s", dt);
        /* free one slot */
        int victim = n - 1;
        CHECK_OK(lumen_actor_kill(a[victim], 1));
        CHECK_OK(lumen_get(er, T_TIMEOUT, &v));
        CHECK(v.type == LUMEN_TYPE_I64 && v.i64 == 1);
        int64_t er_rank = -1;
        CHECK_OK(lumen_get_i64(call, T_TIMEOUT, &er_rank));
        CHECKF(er_rank == rank_of[victim], "the extra actor went to rank %lld, the freed slot is on rank %lld",
               (long long)er_rank, (long long)rank_of[victim]);
        CHECK_OK(lumen_ref_release(er));
        CHECK_OK(lumen_ref_release(call));
        s = avail("slot");
        CHECKF(s == 0, "available slot %g, wanted 0", s);
        printf("%d slot actors on ranks 0..%d; the extra one waited and then took rank %lld\n", n, n - 1,
               (long long)er_rank);

        /* all gone: the slots come back */
        CHECK_OK(lumen_actor_kill(extra, 1));
        for (int i = 0; i < n - 1; i++)
            CHECK_OK(lumen_actor_kill(a[i], 1));
        for (int i = 0; i < n; i++)
            CHECK_OK(lumen_actor_release(a[i]));
        CHECK_OK(lumen_actor_release(extra));
        s = wait_avail("slot", n, 10);
        CHECKF(s == n, "available slot %g 10 s after every slot actor was killed, wanted %d", s, n);

        /* an actor with num_cpus holds them */
        o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_NUM_CPUS, .num_cpus = 1};
        lumen_actor one;
        CHECK_OK(lumen_actor_create("Slotted", NULL, 0, &o, &one));
        CHECK(where(one) >= 0);
        c = wait_avail("CPU", 2 * n - 1, 5);
        CHECKF(c == 2 * n - 1, "available CPU %g with a num_cpus=1 actor alive, wanted %d", c, 2 * n - 1);
        CHECK_OK(lumen_actor_release(one));
        c = wait_avail("CPU", 2 * n, 10);
        CHECKF(c == 2 * n, "available CPU %g after the num_cpus=1 actor was released, wanted %d", c, 2 * n);

        /* num_cpus=2 on every rank: a task must wait for a CPU */
        o.num_cpus = 2;
        for (int i = 0; i < n; i++) {
            CHECK_OK(lumen_actor_create("Slotted", NULL, 0, &o, &a[i]));
            CHECK_OK(lumen_actor_ready(a[i], &ready[i]));
        }
        CHECK_OK(lumen_get_many(ready, (size_t)n, T_TIMEOUT, rv));
        for (int i = 0; i < n; i++)
            CHECK_OK(lumen_ref_release(ready[i]));
        CHECK(wait_avail("CPU", 0, 5) == 0);
        lumen_ref t;
        CHECK_OK(lumen_remote("ar_rank", NULL, 0, NULL, &t));
        CHECK_ST(lumen_get(t, 500, &v), LUMEN_ERR_TIMEOUT);
        int64_t freed = where(a[0]);
        CHECK_OK(lumen_actor_kill(a[0], 1));
        int64_t trank = -1;
        CHECK_OK(lumen_get_i64(t, T_TIMEOUT, &trank));
        CHECKF(trank == freed, "the task ran on rank %lld, the only free CPUs are on rank %lld", (long long)trank,
               (long long)freed);
        CHECK_OK(lumen_ref_release(t));
        for (int i = 0; i < n; i++)
            CHECK_OK(lumen_actor_release(a[i]));
        c = wait_avail("CPU", 2 * n, 10);
        CHECKF(c == 2 * n, "available CPU %g after every actor was released, wanted %d", c, 2 * n);
        printf("actor_resources: OK on %d ranks\n", n);
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
