/*
 * placement_group.c - placement groups (run with LUMEN_NUM_CPUS=2, and again
 * with LUMEN_RANK_IS_NODE=1 so that every rank is a node). The node of every
 * rank is learnt first (each rank offers a custom resource "pgrk<rank>" and a
 * zero-CPU task pinned with it reports lumen_node_id). Then, with bundles of
 * "CPU=1": STRICT_SPREAD over as many bundles as nodes puts each on a
 * different node and one bundle more is LUMEN_ERR_INFEASIBLE at creation;
 * STRICT_PACK of 2 puts both on one node and more bundles than the biggest
 * node has CPUs is INFEASIBLE; PACK uses the fewest nodes; SPREAD over as
 * many bundles as nodes uses every node, and over every CPU of the job it
 * never puts more than a rank's CPUs on it. lumen_placement_group_bundle_rank
 * agrees with the node table, reserved CPUs leave lumen_available_resources
 * and come back on removal. A task scheduled into bundle i (or any bundle,
 * -1) runs on that bundle's rank; an actor scheduled into a bundle lives
 * there, and removing the group kills it (ACTOR_DIED) and frees its CPUs;
 * removing a group lets its running task finish but fails the task queued
 * behind it; a task asking for more than its bundle holds fails at once
 * (INFEASIBLE, naming the resource). A bundle bigger than any rank
 * ("CPU=1000") is INFEASIBLE with a
 * message. A group that fits by totals but not now (every CPU reserved by
 * another group) stays pending (wait times out, ready not ready) until the
 * first is removed, then is placed; a pending group removed before placement
 * fails its ready reference and its wait.
 */
#include "check.h"

#include <string.h>

#define MAXR 64

static int nranks, nnodes;
static int node_of[MAXR];   /* rank -> node id */
static int node_cpus[MAXR]; /* node id -> CPUs on it (2 per rank) */

LUMEN_REMOTE(pg_node) { return lumen_return_i64(ctx, 0, lumen_node_id()); }

LUMEN_REMOTE(pg_rank)
{
    if (lumen_num_args(ctx) > 0) {
        int64_t ms;
        TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
        sleep_ms((long)ms);
    }
    return lumen_return_i64(ctx, 0, lumen_rank());
}

static lumen_status pga_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = NULL;
    return LUMEN_OK;
}

LUMEN_ACTOR_CLASS(PgActor, pga_init, NULL)

LUMEN_METHOD(PgActor, where)
{
    (void)self;
    return lumen_return_i64(ctx, 0, lumen_rank());
}

static void learn_nodes(void)
{
    nranks = lumen_world_size();
    CHECK(nranks <= MAXR);
    lumen_ref r[MAXR];
    char res[32];
    for (int k = 0; k < nranks; k++) {
        snprintf(res, sizeof res, "pgrk%d=0.01", k);
        lumen_task_options o = {.field_mask = LUMEN_TASK_RESOURCES | LUMEN_TASK_NUM_CPUS, .resources = res,
                                .num_cpus = 0};
        CHECK_OK(lumen_remote("pg_node", NULL, 0, &o, &r[k]));
    }
    memset(node_cpus, 0, sizeof node_cpus);
    nnodes = 0;
    for (int k = 0; k < nranks; k++) {
        int64_t v = -1;
        CHECK_OK(lumen_get_i64(r[k], T_TIMEOUT, &v));
        CHECK_OK(lumen_ref_release(r[k]));
        CHECK(v >= 0 && v < nranks && v <= k);
        node_of[k] = (int)v;
        if (node_cpus[v] == 0)
            nnodes++;
        node_cpus[v] += 2;
    }
    CHECK(node_of[0] == 0 && lumen_node_id() == 0);
    printf("%d ranks on %d nodes:", nranks, nnodes);
    for (int k = 0; k < nranks; k++)
        printf(" %d", node_of[k]);
    printf("\n");
}

static double avail_cpu(void)
{
    lumen_resources r;
    CHECK_OK(lumen_available_resources(&r));
    return lumen_resources_get(&r, "CPU");
}

static double wait_avail_cpu(double want, double seconds)
{
    double t0 = now_s(), v;
    while ((v = avail_cpu()) != want && now_s() - t0 < seconds)
        sleep_ms(20);
    return v;
}

static void all_free(const char *after)
{
    double c = wait_avail_cpu(2 * nranks, 10);
    CHECKF(c == 2 * nranks, "available CPU %g 10 s %s, wanted %d", c, after, 2 * nranks);
}

/* a group of n "CPU=1" bundles, placed (waits); rank[i], node[i] of each */
static lumen_placement_group make_pg(size_t n, lumen_pg_strategy s, const char *name, int *rank, int *node)
{
    const char *b[MAXR * 2];
    CHECK(n <= MAXR * 2);
    for (size_t i = 0; i < n; i++)
        b[i] = "CPU=1";
    lumen_placement_group pg = LUMEN_PLACEMENT_GROUP_NIL;
    CHECK_OK(lumen_placement_group_create(b, n, s, name, &pg));
    CHECK_OK(lumen_placement_group_wait(pg, T_TIMEOUT));
    lumen_ref ready;
    CHECK_OK(lumen_placement_group_ready(pg, &ready));
    int64_t one = 0;
    CHECK_OK(lumen_get_i64(ready, T_TIMEOUT, &one));
    CHECK(one == 1);
    CHECK_OK(lumen_ref_release(ready));
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(lumen_placement_group_bundle_rank(pg, (int)i, T_TIMEOUT, &rank[i], &node[i]));
        CHECKF(rank[i] >= 0 && rank[i] < nranks, "bundle %zu on rank %d", i, rank[i]);
        CHECKF(node[i] == node_of[rank[i]], "bundle %zu: node %d, but rank %d is on node %d", i, node[i], rank[i],
               node_of[rank[i]]);
    }
    return pg;
}

static int distinct(const int *x, size_t n)
{
    int d = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < i && x[j] != x[i]; j++)
            ;
        d += j == i;
    }
    return d;
}

/* no rank holds more bundles of CPU=1 than its 2 CPUs */
static void check_capacity(const int *rank, size_t n, const char *what)
{
    int per[MAXR] = {0};
    for (size_t i = 0; i < n; i++)
        CHECKF(++per[rank[i]] <= 2, "%s: rank %d holds %d CPU=1 bundles with 2 CPUs", what, rank[i], per[rank[i]]);
}

static void expect_infeasible(const char *const *b, size_t n, lumen_pg_strategy s, const char *what)
{
    lumen_placement_group pg = LUMEN_PLACEMENT_GROUP_NIL;
    double t0 = now_s();
    lumen_status st = lumen_placement_group_create(b, n, s, NULL, &pg);
    CHECKF(st == LUMEN_ERR_INFEASIBLE, "%s: create gave %d (%s), wanted INFEASIBLE", what, (int)st,
           lumen_strerror(st));
    CHECKF(now_s() - t0 < 1.0, "%s: INFEASIBLE took %.3f s", what, now_s() - t0);
    CHECKF(strlen(lumen_last_error()) > 0, "%s: no message", what);
    printf("%s: %s\n", what, lumen_last_error());
}

static void test_strategies(void)
{
    int rank[MAXR * 2], node[MAXR * 2];
    int max_node_cpus = 0;
    for (int k = 0; k < nranks; k++)
        if (node_cpus[k] > max_node_cpus)
            max_node_cpus = node_cpus[k];
    const char *b[MAXR * 2 + 1];
    for (int i = 0; i < MAXR * 2 + 1; i++)
        b[i] = "CPU=1";

    /* STRICT_SPREAD: one bundle per node */
    lumen_placement_group pg = make_pg((size_t)nnodes, LUMEN_PG_STRICT_SPREAD, "ss", rank, node);
    CHECKF(distinct(node, (size_t)nnodes) == nnodes, "STRICT_SPREAD over %d nodes used %d", nnodes,
           distinct(node, (size_t)nnodes));
    double c = avail_cpu();
    CHECKF(c == 2 * nranks - nnodes, "available CPU %g with %d CPUs reserved, wanted %d", c, nnodes,
           2 * nranks - nnodes);
    CHECK_OK(lumen_placement_group_remove(pg));
    all_free("after removing the STRICT_SPREAD group");
    expect_infeasible(b, (size_t)nnodes + 1, LUMEN_PG_STRICT_SPREAD, "STRICT_SPREAD over nodes+1 bundles");

    /* STRICT_PACK: one node */
    pg = make_pg(2, LUMEN_PG_STRICT_PACK, NULL, rank, node);
    CHECKF(node[0] == node[1], "STRICT_PACK bundles on nodes %d and %d", node[0], node[1]);
    CHECK_OK(lumen_placement_group_remove(pg));
    all_free("after removing the STRICT_PACK group");
    expect_infeasible(b, (size_t)max_node_cpus + 1, LUMEN_PG_STRICT_PACK, "STRICT_PACK beyond the biggest node");

    /* PACK: the fewest nodes */
    size_t k = 2 * (size_t)nranks < 4 ? 2 * (size_t)nranks : 4;
    pg = make_pg(k, LUMEN_PG_PACK, "pack", rank, node);
    int cap[MAXR], fewest = 0;
    size_t covered = 0;
    memcpy(cap, node_cpus, sizeof cap);
    while (covered < k) { /* biggest nodes first */
        int best = 0;
        for (int j = 1; j < nranks; j++)
            if (cap[j] > cap[best])
                best = j;
        covered += (size_t)cap[best];
        cap[best] = 0;
        fewest++;
    }
    CHECKF(distinct(node, k) == fewest, "PACK of %zu bundles used %d nodes, %d would do", k, distinct(node, k), fewest);
    check_capacity(rank, k, "PACK");
    CHECK_OK(lumen_placement_group_remove(pg));
    all_free("after removing the PACK group");

    /* SPREAD: every node, then every CPU */
    pg = make_pg((size_t)nnodes, LUMEN_PG_SPREAD, NULL, rank, node);
    CHECKF(distinct(node, (size_t)nnodes) == nnodes, "SPREAD over %d bundles used %d of %d nodes", nnodes,
           distinct(node, (size_t)nnodes), nnodes);
    CHECK_OK(lumen_placement_group_remove(pg));
    all_free("after removing the SPREAD group");
    pg = make_pg(2 * (size_t)nranks, LUMEN_PG_SPREAD, NULL, rank, node);
    CHECK(distinct(node, 2 * (size_t)nranks) == nnodes);
    check_capacity(rank, 2 * (size_t)nranks, "SPREAD over every CPU");
    c = avail_cpu();
    CHECKF(c == 0, "available CPU %g with every CPU reserved", c);
    CHECK_OK(lumen_placement_group_remove(pg));
    all_free("after removing the SPREAD group over every CPU");
}

static void test_scheduling_into(void)
{
    int rank[MAXR * 2], node[MAXR * 2];
    size_t n = (size_t)nranks;
    lumen_placement_group pg = make_pg(n, LUMEN_PG_SPREAD, "sched", rank, node);
    /* tasks into each bundle: two per bundle, both on its rank */
    lumen_ref r[MAXR][2];
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 2; j++) {
            lumen_task_options o = {.field_mask = LUMEN_TASK_SCHEDULING,
                                    .scheduling = lumen_sched_placement_group(pg, (int)i)};
            lumen_arg a = lumen_arg_i64(20);
            CHECK_OK(lumen_remote("pg_rank", &a, 1, &o, &r[i][j]));
        }
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 2; j++) {
            int64_t got = -1;
            CHECK_OK(lumen_get_i64(r[i][j], T_TIMEOUT, &got));
            CHECKF(got == rank[i], "task in bundle %zu ran on rank %lld, the bundle is on rank %d", i, (long long)got,
                   rank[i]);
            CHECK_OK(lumen_ref_release(r[i][j]));
        }
    /* any bundle: one of the group's ranks */
    for (int j = 0; j < 4; j++) {
        lumen_task_options o = {.field_mask = LUMEN_TASK_SCHEDULING, .scheduling = lumen_sched_placement_group(pg, -1)};
        lumen_ref t;
        CHECK_OK(lumen_remote("pg_rank", NULL, 0, &o, &t));
        int64_t got = -1;
        CHECK_OK(lumen_get_i64(t, T_TIMEOUT, &got));
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= rank[i] == got;
        CHECKF(found, "task in any bundle ran on rank %lld, which holds none", (long long)got);
        CHECK_OK(lumen_ref_release(t));
    }
    /* a task that asks for more than its bundle holds (CPU=2 in a CPU=1
     * bundle) can never start: it fails at once, saying why */
    {
        lumen_task_options o = {.field_mask = LUMEN_TASK_SCHEDULING | LUMEN_TASK_NUM_CPUS,
                                .num_cpus = 2,
                                .scheduling = lumen_sched_placement_group(pg, 0)};
        lumen_ref t;
        CHECK_OK(lumen_remote("pg_rank", NULL, 0, &o, &t));
        lumen_value v;
        double t0 = now_s();
        CHECK_ST(lumen_get(t, T_TIMEOUT, &v), LUMEN_ERR_INFEASIBLE);
        CHECK_ERRMSG("CPU=2");
        CHECK_ERRMSG("bundle 0 holds 1");
        CHECKF(now_s() - t0 < 10, "the task too big for its bundle took %.1f s to fail", now_s() - t0);
        CHECK_OK(lumen_ref_release(t));
    }
    /* an actor into the last bundle lives there */
    lumen_actor_options ao = {.field_mask = LUMEN_ACTOR_SCHEDULING,
                              .scheduling = lumen_sched_placement_group(pg, (int)n - 1)};
    lumen_actor a;
    CHECK_OK(lumen_actor_create("PgActor", NULL, 0, &ao, &a));
    lumen_ref w;
    CHECK_OK(LUMEN_ACTOR_CALL0(&w, a, "where"));
    int64_t arank = -1;
    CHECK_OK(lumen_get_i64(w, T_TIMEOUT, &arank));
    CHECK_OK(lumen_ref_release(w));
    CHECKF(arank == rank[n - 1], "actor in bundle %zu lives on rank %lld, the bundle is on rank %d", n - 1,
           (long long)arank, rank[n - 1]);
    printf("tasks and an actor ran in their bundles (last bundle on rank %d)\n", rank[n - 1]);

    /* removal kills the actor and frees the CPUs */
    CHECK_OK(lumen_placement_group_remove(pg));
    double t0 = now_s();
    for (;;) {
        CHECK_OK(LUMEN_ACTOR_CALL0(&w, a, "where"));
        lumen_value v;
        lumen_status st = lumen_get(w, T_TIMEOUT, &v);
        CHECK_OK(lumen_ref_release(w));
        if (st == LUMEN_ERR_ACTOR_DIED)
            break;
        CHECKF(st == LUMEN_OK, "call to the group's actor after removal gave %d (%s)", (int)st, lumen_strerror(st));
        CHECKF(now_s() - t0 < 10, "the group's actor still answers 10 s after the group was removed");
        sleep_ms(20);
    }
    printf("after removal: %s\n", lumen_last_error());
    CHECK_OK(lumen_actor_release(a));
    all_free("after removing the group with an actor");

    /* removal: the running task finishes, the one queued behind it fails */
    pg = make_pg(1, LUMEN_PG_PACK, NULL, rank, node);
    lumen_task_options o = {.field_mask = LUMEN_TASK_SCHEDULING, .scheduling = lumen_sched_placement_group(pg, 0)};
    lumen_arg slow = lumen_arg_i64(600);
    lumen_ref running, queued;
    CHECK_OK(lumen_remote("pg_rank", &slow, 1, &o, &running));
    sleep_ms(200);
    CHECK_OK(lumen_remote("pg_rank", &slow, 1, &o, &queued));
    sleep_ms(50);
    CHECK_OK(lumen_placement_group_remove(pg));
    int64_t got = -1;
    CHECK_OK(lumen_get_i64(running, T_TIMEOUT, &got));
    CHECK(got == rank[0]);
    lumen_value v;
    lumen_status st = lumen_get(queued, T_TIMEOUT, &v);
    CHECKF(st != LUMEN_OK && st != LUMEN_ERR_TIMEOUT, "a task queued in a removed group gave %d (%s)", (int)st,
           lumen_strerror(st));
    printf("queued task in a removed group: %s: %s\n", lumen_strerror(st), lumen_last_error());
    CHECK_OK(lumen_ref_release(running));
    CHECK_OK(lumen_ref_release(queued));
    all_free("after removing the group with a running task");
}

static void test_infeasible_and_pending(void)
{
    const char *big[2] = {"CPU=1", "CPU=1000"};
    expect_infeasible(big, 2, LUMEN_PG_PACK, "bundle CPU=1000");
    const char *odd[1] = {"CPU=1,unobtainium=1"};
    expect_infeasible(odd, 1, LUMEN_PG_SPREAD, "bundle with unobtainium=1");

    /* every CPU reserved by A: B (one CPU) must wait for A's removal */
    int rank[MAXR * 2], node[MAXR * 2];
    lumen_placement_group a = make_pg(2 * (size_t)nranks, LUMEN_PG_PACK, "all", rank, node);
    const char *one[1] = {"CPU=1"};
    lumen_placement_group b;
    CHECK_OK(lumen_placement_group_create(one, 1, LUMEN_PG_PACK, "waiting", &b));
    lumen_ref ready;
    CHECK_OK(lumen_placement_group_ready(b, &ready));
    double t0 = now_s();
    CHECK_ST(lumen_placement_group_wait(b, 500), LUMEN_ERR_TIMEOUT);
    CHECKF(now_s() - t0 >= 0.4, "wait(500 ms) returned after %.3f s", now_s() - t0);
    int rdy = 0;
    size_t nready = 99;
    CHECK_OK(lumen_wait(&ready, 1, 1, 200, &rdy, &nready));
    CHECK(nready == 0 && !rdy);
    int br, bn;
    CHECK_ST(lumen_placement_group_bundle_rank(b, 0, 100, &br, &bn), LUMEN_ERR_TIMEOUT);
    /* a pending group removed before placement fails ready and wait */
    lumen_placement_group c;
    CHECK_OK(lumen_placement_group_create(one, 1, LUMEN_PG_PACK, NULL, &c));
    lumen_ref cready;
    CHECK_OK(lumen_placement_group_ready(c, &cready));
    CHECK_OK(lumen_placement_group_remove(c));
    lumen_value v;
    lumen_status st = lumen_get(cready, T_TIMEOUT, &v);
    CHECKF(st != LUMEN_OK && st != LUMEN_ERR_TIMEOUT, "ready of a group removed while pending gave %d (%s)", (int)st,
           lumen_strerror(st));
    st = lumen_placement_group_wait(c, T_TIMEOUT);
    CHECKF(st != LUMEN_OK && st != LUMEN_ERR_TIMEOUT, "wait on a group removed while pending gave %d (%s)", (int)st,
           lumen_strerror(st));
    CHECK_OK(lumen_ref_release(cready));

    CHECK_OK(lumen_placement_group_remove(a));
    CHECK_OK(lumen_placement_group_wait(b, T_TIMEOUT));
    int64_t one_v = 0;
    CHECK_OK(lumen_get_i64(ready, T_TIMEOUT, &one_v));
    CHECK(one_v == 1);
    CHECK_OK(lumen_ref_release(ready));
    CHECK_OK(lumen_placement_group_bundle_rank(b, 0, T_TIMEOUT, &br, &bn));
    CHECK(br >= 0 && br < nranks && bn == node_of[br]);
    printf("the waiting group was placed on rank %d once the first was removed\n", br);
    CHECK_OK(lumen_placement_group_remove(b));
    all_free("after removing every group");
}

int main(int argc, char **argv)
{
    int provided, rank;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    CHECK(provided >= MPI_THREAD_SERIALIZED);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    /* every rank offers pgrk<rank>=1, so a task can be pinned to it */
    char res[64];
    const char *env = getenv("LUMEN_RESOURCES");
    snprintf(res, sizeof res, "%s%spgrk%d=1", env && *env ? env : "", env && *env ? "," : "", rank);
    lumen_init_options io = {.field_mask = LUMEN_INIT_RESOURCES, .resources = res};
    CHECK_OK(lumen_init(&argc, &argv, &io));
    if (lumen_is_driver()) {
        learn_nodes();
        lumen_resources cr;
        CHECK_OK(lumen_cluster_resources(&cr));
        CHECKF(lumen_resources_get(&cr, "CPU") == 2 * nranks, "cluster CPU %g, wanted %d (run with LUMEN_NUM_CPUS=2)",
               lumen_resources_get(&cr, "CPU"), 2 * nranks);
        all_free("at the start");
        test_strategies();
        test_scheduling_into();
        test_infeasible_and_pending();
        printf("placement_group: OK on %d ranks, %d nodes\n", nranks, nnodes);
    }
    CHECK_OK(lumen_finalize());
    MPI_Finalize();
    return 0;
}
