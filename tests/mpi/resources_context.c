/*
 * resources_context.c - resources, runtime context, scheduling strategies
 * and bad input of the actor / placement group API (run with
 * LUMEN_NUM_CPUS=2 LUMEN_RESOURCES=widget=3, and again with
 * LUMEN_RANK_IS_NODE=1). Every rank also offers "rcrk<rank>=1" so a zero-CPU
 * task can be pinned to it to learn its node.
 * Resources: lumen_cluster_resources has CPU 2*world_size and widget
 * 3*world_size (GPU and unknown names 0), lumen_rank_resources gives each
 * rank's own totals, lumen_available_resources equals the totals when idle
 * and drops while an actor holds widget=2.
 * Runtime context: outside a task in_task 0, rank, node, world size, actor
 * NIL, empty task id; inside a task in_task 1, a task id (different per
 * task), the function name, the assigned CPU equal to the task's num_cpus
 * (1 by default, 2, 0.5, 0) and custom resources, actor NIL; inside an actor
 * method (and its constructor) the actor equals the creator's handle.
 * Scheduling: 4*world_size SPREAD tasks reach every node; NODE_AFFINITY hard
 * to the last rank's node runs every task (and an actor) there; hard
 * affinity to a node id that does not exist is refused by lumen_remote
 * (INFEASIBLE or INVALID_ARG), soft affinity to it runs anyway.
 * Bad input: NULL out pointers and NULL / empty / too long names, bad
 * option values (negative max_concurrency, max_restarts < -1, NaN CPUs,
 * malformed resources, bad strategies and bundle strings, num_returns out
 * of range) return LUMEN_ERR_INVALID_ARG (or OUT_OF_RANGE where the task API
 * does) and never crash.
 */
#include "check.h"

#include <hwloc.h>
#include <math.h>
#include <string.h>

#define MAXR 64

static int nranks, nnodes;
static int node_of[MAXR];

LUMEN_REMOTE(rc_node) { return lumen_return_i64(ctx, 0, lumen_node_id()); }

/* (ms) sleeps; slot 0: rank */
LUMEN_REMOTE(rc_rank)
{
    int64_t ms = 0;
    if (lumen_num_args(ctx) > 0)
        TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    sleep_ms((long)ms);
    return lumen_return_i64(ctx, 0, lumen_rank());
}

/* (cpu, widget) expected: slot 0 "" or the problems, slot 1 the task id */
LUMEN_REMOTE(rc_ctx)
{
    double want_cpu, want_widget;
    TASK_TRY(lumen_arg_get_f64(ctx, 0, &want_cpu));
    TASK_TRY(lumen_arg_get_f64(ctx, 1, &want_widget));
    lumen_runtime_context rc;
    memset(&rc, 0x5a, sizeof rc);
    TASK_TRY(lumen_get_runtime_context(&rc));
    char err[1024] = "";
    size_t k = 0;
#define RC_EXPECT(cond, ...)                                                                                          \
    do {                                                                                                             \
        if (!(cond) && k < sizeof err - 1) {                                                                         \
            k += (size_t)snprintf(err + k, sizeof err - k, __VA_ARGS__);                                             \
            if (k >= sizeof err)                                                                                     \
                k = sizeof err - 1;                                                                                  \
        }                                                                                                            \
    } while (0)
    RC_EXPECT(rc.in_task == 1, "in_task %d; ", rc.in_task);
    RC_EXPECT(rc.rank == lumen_rank(), "rank %d, lumen_rank %d; ", rc.rank, lumen_rank());
    RC_EXPECT(rc.node_id == lumen_node_id(), "node %d, lumen_node_id %d; ", rc.node_id, lumen_node_id());
    RC_EXPECT(rc.world_size == lumen_world_size(), "world_size %d; ", rc.world_size);
    RC_EXPECT(memchr(rc.task_id, 0, sizeof rc.task_id) && strlen(rc.task_id) > 0, "empty task id; ");
    RC_EXPECT(rc.function && strcmp(rc.function, "rc_ctx") == 0, "function \"%s\"; ",
              rc.function ? rc.function : "(null)");
    RC_EXPECT(lumen_resources_get(&rc.assigned, "CPU") == want_cpu, "assigned CPU %g, wanted %g; ",
              lumen_resources_get(&rc.assigned, "CPU"), want_cpu);
    RC_EXPECT(lumen_resources_get(&rc.assigned, "widget") == want_widget, "assigned widget %g, wanted %g; ",
              lumen_resources_get(&rc.assigned, "widget"), want_widget);
    RC_EXPECT(lumen_resources_get(&rc.assigned, "GPU") == 0, "assigned GPU %g; ",
              lumen_resources_get(&rc.assigned, "GPU"));
    RC_EXPECT(rc.num_gpu_ids == 0, "num_gpu_ids %d; ", rc.num_gpu_ids);
    RC_EXPECT(lumen_actor_is_nil(rc.actor), "actor not NIL in a plain task; ");
    TASK_TRY(lumen_return_str(ctx, 0, err));
    return lumen_return_str(ctx, 1, memchr(rc.task_id, 0, sizeof rc.task_id) ? rc.task_id : "");
}

/* an actor that remembers the handle its constructor saw */
typedef struct rcactor {
    lumen_actor seen_in_init;
    int init_in_task;
} rcactor;

static lumen_status rcactor_init(lumen_task_ctx *ctx, void **self)
{
    rcactor *a = calloc(1, sizeof *a);
    if (!a)
        return lumen_task_fail(ctx, "no memory");
    lumen_runtime_context rc;
    lumen_status st = lumen_get_runtime_context(&rc);
    if (st != LUMEN_OK) {
        free(a);
        return lumen_task_fail(ctx, "runtime context in the constructor: %s", lumen_last_error());
    }
    a->seen_in_init = rc.actor;
    a->init_in_task = rc.in_task;
    *self = a;
    return LUMEN_OK;
}

static void rcactor_destroy(void *self) { free(self); }

LUMEN_ACTOR_CLASS(RcActor, rcactor_init, rcactor_destroy)

/* whoami(): slot 0 the context's actor (bytes), slot 1 the constructor's,
 * slot 2 "" or the problems, slot 3 the node */
LUMEN_METHOD(RcActor, whoami)
{
    rcactor *a = self;
    lumen_runtime_context rc;
    TASK_TRY(lumen_get_runtime_context(&rc));
    char err[512] = "";
    size_t k = 0;
    RC_EXPECT(rc.in_task == 1, "in_task %d; ", rc.in_task);
    RC_EXPECT(a->init_in_task == 1, "constructor: in_task %d; ", a->init_in_task);
    RC_EXPECT(rc.rank == lumen_rank(), "rank %d; ", rc.rank);
    RC_EXPECT(memchr(rc.task_id, 0, sizeof rc.task_id) && strlen(rc.task_id) > 0, "empty task id; ");
    RC_EXPECT(rc.function && strstr(rc.function, "whoami"), "function \"%s\"; ", rc.function ? rc.function : "(null)");
    TASK_TRY(lumen_return_bytes(ctx, 0, &rc.actor, sizeof rc.actor));
    TASK_TRY(lumen_return_bytes(ctx, 1, &a->seen_in_init, sizeof a->seen_in_init));
    TASK_TRY(lumen_return_str(ctx, 2, err));
    return lumen_return_i64(ctx, 3, lumen_node_id());
}

LUMEN_METHOD(RcActor, node)
{
    (void)self;
    return lumen_return_i64(ctx, 0, lumen_node_id());
}

/* lumen_actor_exit and lumen_actor_fatal outside an actor: errors, not crashes */
LUMEN_REMOTE(rc_not_actor)
{
    int64_t bad = 0;
    bad |= (lumen_actor_exit(ctx) == LUMEN_OK) << 0;
    bad |= (lumen_actor_exit(NULL) != LUMEN_ERR_INVALID_ARG) << 1;
    bad |= (lumen_actor_fatal(NULL, "x") != LUMEN_ERR_INVALID_ARG) << 2;
    lumen_actor a;
    bad |= (lumen_arg_get_actor(ctx, 0, &a) != LUMEN_ERR_TYPE_MISMATCH) << 3;
    bad |= (lumen_arg_get_actor(ctx, 1, NULL) != LUMEN_ERR_INVALID_ARG) << 4;
    bad |= (lumen_arg_get_actor(ctx, 5, &a) != LUMEN_ERR_OUT_OF_RANGE) << 5;
    bad |= (lumen_arg_get_actor(NULL, 0, &a) != LUMEN_ERR_INVALID_ARG) << 6;
    bad |= (lumen_arg_type(ctx, 1) != LUMEN_TYPE_ACTOR) << 7;
    bad |= (lumen_arg_get_actor(ctx, 1, &a) != LUMEN_OK) << 8;
    return lumen_return_i64(ctx, 0, bad);
}

/* ---- helpers ------------------------------------------------------------ */
static void learn_nodes(void)
{
    nranks = lumen_world_size();
    CHECK(nranks <= MAXR);
    lumen_ref r[MAXR];
    char res[32];
    for (int k = 0; k < nranks; k++) {
        snprintf(res, sizeof res, "rcrk%d=0.01", k);
        lumen_task_options o = {.field_mask = LUMEN_TASK_RESOURCES | LUMEN_TASK_NUM_CPUS, .resources = res,
                                .num_cpus = 0};
        CHECK_OK(lumen_remote("rc_node", NULL, 0, &o, &r[k]));
    }
    int seen[MAXR] = {0};
    nnodes = 0;
    for (int k = 0; k < nranks; k++) {
        int64_t v = -1;
        CHECK_OK(lumen_get_i64(r[k], T_TIMEOUT, &v));
        CHECK_OK(lumen_ref_release(r[k]));
        CHECK(v >= 0 && v <= k);
        node_of[k] = (int)v;
        if (!seen[v]++)
            nnodes++;
    }
}

static double wait_avail(const char *name, double want, double seconds)
{
    double t0 = now_s(), v;
    for (;;) {
        lumen_resources r;
        CHECK_OK(lumen_available_resources(&r));
        v = lumen_resources_get(&r, name);
        if (v == want || now_s() - t0 >= seconds)
            return v;
        sleep_ms(20);
    }
}

/* ---- tests -------------------------------------------------------------- */
static void test_resources(void)
{
    const int n = nranks;
    lumen_resources cr;
    CHECK_OK(lumen_cluster_resources(&cr));
    CHECK(cr.count >= 2 && cr.count <= LUMEN_MAX_RESOURCES);
    CHECKF(lumen_resources_get(&cr, "CPU") == 2 * n, "cluster CPU %g", lumen_resources_get(&cr, "CPU"));
    CHECKF(lumen_resources_get(&cr, "widget") == 3 * n, "cluster widget %g", lumen_resources_get(&cr, "widget"));
    CHECK(lumen_resources_get(&cr, "GPU") == 0);
    CHECK(lumen_resources_get(&cr, "no-such-resource") == 0);
    CHECK(lumen_resources_get(&cr, "") == 0);
    CHECK(lumen_resources_get(&cr, "widge") == 0);
    for (size_t i = 0; i < cr.count; i++) {
        CHECK(memchr(cr.r[i].name, 0, sizeof cr.r[i].name) != NULL);
        CHECK(cr.r[i].amount >= 0);
        printf("%s%s=%g", i ? "," : "cluster: ", cr.r[i].name, cr.r[i].amount);
    }
    printf("\n");
    for (int k = 0; k < n; k++) {
        lumen_resources rr;
        CHECK_OK(lumen_rank_resources(k, &rr));
        CHECK(lumen_resources_get(&rr, "CPU") == 2);
        CHECK(lumen_resources_get(&rr, "widget") == 3);
        char name[32];
        for (int j = 0; j < n; j++) {
            snprintf(name, sizeof name, "rcrk%d", j);
            CHECKF(lumen_resources_get(&rr, name) == (j == k), "rank %d: %s=%g", k, name, lumen_resources_get(&rr, name));
        }
    }
    lumen_resources rr;
    CHECK(lumen_rank_resources(-1, &rr) != LUMEN_OK);
    CHECK(lumen_rank_resources(n, &rr) != LUMEN_OK);
    /* idle: all available */
    CHECK(wait_avail("CPU", 2 * n, 10) == 2 * n);
    CHECK(wait_avail("widget", 3 * n, 10) == 3 * n);

    /* an actor holding widget=2 */
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_RESOURCES, .resources = "widget=2"};
    lumen_actor a;
    CHECK_OK(lumen_actor_create("RcActor", NULL, 0, &o, &a));
    lumen_ref ready;
    CHECK_OK(lumen_actor_ready(a, &ready));
    int64_t one;
    CHECK_OK(lumen_get_i64(ready, T_TIMEOUT, &one));
    CHECK_OK(lumen_ref_release(ready));
    double w = wait_avail("widget", 3 * n - 2, 5);
    CHECKF(w == 3 * n - 2, "available widget %g with an actor holding 2, wanted %d", w, 3 * n - 2);
    CHECK_OK(lumen_cluster_resources(&cr));
    CHECK(lumen_resources_get(&cr, "widget") == 3 * n);
    CHECK_OK(lumen_actor_kill(a, 1));
    w = wait_avail("widget", 3 * n, 10);
    CHECKF(w == 3 * n, "available widget %g after the actor was killed, wanted %d", w, 3 * n);
    CHECK_OK(lumen_actor_release(a));
}

static void check_task_ctx(const lumen_task_options *o, double cpu, double widget, char *tid_out)
{
    lumen_arg args[2] = {lumen_arg_f64(cpu), lumen_arg_f64(widget)};
    lumen_task_options oo = o ? *o : (lumen_task_options){0};
    oo.field_mask |= LUMEN_TASK_NUM_RETURNS;
    oo.num_returns = 2;
    lumen_ref r[2];
    CHECK_OK(lumen_remote("rc_ctx", args, 2, &oo, r));
    lumen_value v[2];
    CHECK_OK(lumen_get_many(r, 2, T_TIMEOUT, v));
    CHECKF(v[0].size == 0, "runtime context in a task (num_cpus %g, widget %g): %s", cpu, widget,
           (const char *)v[0].data);
    snprintf(tid_out, 33, "%s", (const char *)v[1].data);
    CHECK_OK(lumen_ref_release(r[0]));
    CHECK_OK(lumen_ref_release(r[1]));
}

/* the host as hwloc sees it from this test: what the context must report */
static void check_topology(const lumen_runtime_context *rc)
{
    hwloc_topology_t topo;
    CHECK(hwloc_topology_init(&topo) == 0);
    CHECK(hwloc_topology_load(topo) == 0);
    int numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    uint64_t mem = hwloc_get_root_obj(topo)->total_memory;
    hwloc_topology_destroy(topo);
    CHECKF(rc->numa_domains == (numa > 0 ? numa : 1), "numa_domains %d, hwloc sees %d", rc->numa_domains, numa);
    CHECKF(rc->host_cores == (cores > 0 ? cores : 1), "host_cores %d, hwloc sees %d", rc->host_cores, cores);
    CHECKF(rc->host_memory == mem && mem > 0, "host_memory %llu, hwloc sees %llu", (unsigned long long)rc->host_memory,
           (unsigned long long)mem);
    CHECKF(rc->numa_node >= -1 && rc->numa_node < rc->numa_domains, "numa_node %d of %d", rc->numa_node,
           rc->numa_domains);
    if (rc->numa_domains == 1)
        CHECKF(rc->numa_node == 0, "numa_node %d on a host with one domain", rc->numa_node);
}

static void test_context(void)
{
    lumen_runtime_context rc;
    memset(&rc, 0x5a, sizeof rc);
    CHECK_OK(lumen_get_runtime_context(&rc));
    CHECK(rc.in_task == 0);
    CHECK(rc.rank == 0 && rc.rank == lumen_rank());
    CHECK(rc.node_id == lumen_node_id());
    CHECK(rc.world_size == lumen_world_size());
    CHECK(lumen_actor_is_nil(rc.actor));
    CHECK(rc.task_id[0] == 0);
    CHECK(rc.num_gpu_ids == 0);
    check_topology(&rc);
    printf("host: %d NUMA domain(s), this rank in %d, %d cores, %.1f GiB\n", rc.numa_domains, rc.numa_node,
           rc.host_cores, (double)rc.host_memory / (1 << 30));

    char t1[33], t2[33], t3[33], t4[33], t5[33];
    check_task_ctx(NULL, 1, 0, t1);
    lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_CPUS, .num_cpus = 2};
    check_task_ctx(&o, 2, 0, t2);
    o.num_cpus = 0.5;
    check_task_ctx(&o, 0.5, 0, t3);
    o.num_cpus = 0;
    check_task_ctx(&o, 0, 0, t4);
    o = (lumen_task_options){.field_mask = LUMEN_TASK_RESOURCES, .resources = "widget=2"};
    check_task_ctx(&o, 1, 2, t5);
    const char *ids[5] = {t1, t2, t3, t4, t5};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < i; j++)
            CHECKF(strcmp(ids[i], ids[j]) != 0, "tasks %d and %d have the same id %s", j, i, ids[i]);
    printf("task ids: %s %s ...\n", t1, t2);
    /* the driver is still outside a task */
    CHECK_OK(lumen_get_runtime_context(&rc));
    CHECK(rc.in_task == 0 && rc.task_id[0] == 0);

    /* inside an actor method: the actor is the creator's handle */
    lumen_actor a;
    CHECK_OK(lumen_actor_create("RcActor", NULL, 0, NULL, &a));
    lumen_call_options co = {.field_mask = LUMEN_CALL_NUM_RETURNS, .num_returns = 4};
    lumen_ref r[4];
    CHECK_OK(lumen_actor_call(a, "whoami", NULL, 0, &co, r));
    lumen_value v[4];
    CHECK_OK(lumen_get_many(r, 4, T_TIMEOUT, v));
    CHECK(v[0].type == LUMEN_TYPE_BYTES && v[0].size == sizeof(lumen_actor));
    CHECK(v[1].type == LUMEN_TYPE_BYTES && v[1].size == sizeof(lumen_actor));
    lumen_actor in_method, in_init;
    memcpy(&in_method, v[0].data, sizeof in_method);
    memcpy(&in_init, v[1].data, sizeof in_init);
    CHECKF(v[2].size == 0, "runtime context in a method: %s", (const char *)v[2].data);
    CHECK(!lumen_actor_is_nil(in_method));
    CHECK(lumen_actor_equal(in_method, a));
    CHECK(lumen_actor_equal(in_init, a));
    for (int i = 0; i < 4; i++)
        CHECK_OK(lumen_ref_release(r[i]));
    CHECK_OK(lumen_actor_release(a));
}

static void test_scheduling(void)
{
    const int n = nranks;
    /* SPREAD: every node gets some of 4n sleepers */
    int m = 4 * n;
    lumen_ref r[4 * MAXR];
    for (int i = 0; i < m; i++) {
        lumen_task_options o = {.field_mask = LUMEN_TASK_SCHEDULING, .scheduling = lumen_sched_spread()};
        lumen_arg a = lumen_arg_i64(50);
        CHECK_OK(lumen_remote("rc_rank", &a, 1, &o, &r[i]));
    }
    int per_rank[MAXR] = {0}, per_node[MAXR] = {0};
    for (int i = 0; i < m; i++) {
        int64_t k = -1;
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &k));
        CHECK(k >= 0 && k < n);
        per_rank[k]++;
        per_node[node_of[k]]++;
        CHECK_OK(lumen_ref_release(r[i]));
    }
    printf("SPREAD over %d nodes, per rank:", nnodes);
    for (int k = 0; k < n; k++)
        printf(" %d", per_rank[k]);
    printf("\n");
    for (int k = 0; k < n; k++)
        if (node_of[k] == k)
            CHECKF(per_node[k] > 0, "no SPREAD task ran on node %d", k);

    /* NODE_AFFINITY hard: the last rank's node */
    int target = node_of[n - 1];
    for (int i = 0; i < 2 * n; i++) {
        lumen_task_options o = {.field_mask = LUMEN_TASK_SCHEDULING,
                                .scheduling = lumen_sched_node_affinity(target, 0)};
        lumen_arg a = lumen_arg_i64(20);
        CHECK_OK(lumen_remote("rc_rank", &a, 1, &o, &r[i]));
    }
    for (int i = 0; i < 2 * n; i++) {
        int64_t k = -1;
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &k));
        CHECKF(k >= 0 && k < n && node_of[k] == target, "a task with hard affinity to node %d ran on rank %lld (node %d)",
               target, (long long)k, k >= 0 && k < n ? node_of[k] : -1);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    /* an actor too */
    lumen_actor_options ao = {.field_mask = LUMEN_ACTOR_SCHEDULING, .scheduling = lumen_sched_node_affinity(target, 0)};
    lumen_actor act;
    CHECK_OK(lumen_actor_create("RcActor", NULL, 0, &ao, &act));
    lumen_ref nr;
    CHECK_OK(LUMEN_ACTOR_CALL0(&nr, act, "node"));
    int64_t an = -1;
    CHECK_OK(lumen_get_i64(nr, T_TIMEOUT, &an));
    CHECKF(an == target, "actor with hard affinity to node %d lives on node %lld", target, (long long)an);
    CHECK_OK(lumen_ref_release(nr));
    CHECK_OK(lumen_actor_release(act));

    /* nodes that do not exist */
    int missing[4] = {1000, -5, -1, 0};
    int nmissing = 3;
    for (int k = 1; k < n; k++)
        if (node_of[k] != k) { /* a rank id that is no node's id */
            missing[nmissing++] = k;
            break;
        }
    for (int i = 0; i < nmissing; i++) {
        lumen_task_options o = {.field_mask = LUMEN_TASK_SCHEDULING,
                                .scheduling = lumen_sched_node_affinity(missing[i], 0)};
        lumen_ref t = LUMEN_REF_NIL;
        lumen_status st = lumen_remote("rc_rank", NULL, 0, &o, &t);
        CHECKF(st == LUMEN_ERR_INFEASIBLE || st == LUMEN_ERR_INVALID_ARG,
               "hard affinity to missing node %d: lumen_remote gave %d (%s)", missing[i], (int)st, lumen_strerror(st));
        printf("hard affinity to node %d: %s\n", missing[i], lumen_last_error());
        /* soft: runs anyway (a negative id is a bad value, not a missing node) */
        if (missing[i] < 0)
            continue;
        o.scheduling = lumen_sched_node_affinity(missing[i], 1);
        CHECK_OK(lumen_remote("rc_rank", NULL, 0, &o, &t));
        int64_t k = -1;
        CHECK_OK(lumen_get_i64(t, T_TIMEOUT, &k));
        CHECK(k >= 0 && k < n);
        CHECK_OK(lumen_ref_release(t));
    }
    /* the same for an actor */
    ao.scheduling = lumen_sched_node_affinity(1000, 0);
    lumen_status st = lumen_actor_create("RcActor", NULL, 0, &ao, &act);
    CHECKF(st == LUMEN_ERR_INFEASIBLE || st == LUMEN_ERR_INVALID_ARG,
           "actor with hard affinity to missing node 1000: %d (%s)", (int)st, lumen_strerror(st));
    ao.scheduling = lumen_sched_node_affinity(1000, 1);
    CHECK_OK(lumen_actor_create("RcActor", NULL, 0, &ao, &act));
    CHECK_OK(LUMEN_ACTOR_CALL0(&nr, act, "node"));
    CHECK_OK(lumen_get_i64(nr, T_TIMEOUT, &an));
    CHECK_OK(lumen_ref_release(nr));
    CHECK_OK(lumen_actor_release(act));
}

#define WANT(call, want)                                                                                               \
    do {                                                                                                              \
        lumen_status w_ = (call);                                                                                     \
        CHECKF(w_ == (want), "%s gave %d (%s), wanted %s", #call, (int)w_, lumen_strerror(w_), #want);               \
        CHECKF(strlen(lumen_last_error()) > 0, "%s: no message", #call);                                              \
    } while (0)
/* integer option values out of their range: INVALID_ARG or OUT_OF_RANGE */
#define WANT_RANGE(call)                                                                                               \
    do {                                                                                                              \
        lumen_status w_ = (call);                                                                                     \
        CHECKF(w_ == LUMEN_ERR_INVALID_ARG || w_ == LUMEN_ERR_OUT_OF_RANGE,                                           \
               "%s gave %d (%s), wanted INVALID_ARG or OUT_OF_RANGE", #call, (int)w_, lumen_strerror(w_));           \
        CHECKF(strlen(lumen_last_error()) > 0, "%s: no message", #call);                                              \
    } while (0)
#define WANT_ERR(call)                                                                                                 \
    do {                                                                                                              \
        lumen_status w_ = (call);                                                                                     \
        CHECKF(w_ != LUMEN_OK, "%s succeeded", #call);                                                                \
    } while (0)

static void test_bad_input(void)
{
    lumen_actor a, good;
    lumen_ref r;
    CHECK_OK(lumen_actor_create("RcActor", NULL, 0, NULL, &good));

    /* NULL out pointers */
    WANT(lumen_actor_create("RcActor", NULL, 0, NULL, NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_actor_create(NULL, NULL, 0, NULL, &a), LUMEN_ERR_INVALID_ARG);
    WANT_ERR(lumen_actor_create("", NULL, 0, NULL, &a));
    WANT(lumen_actor_create("RcActor", NULL, 1, NULL, &a), LUMEN_ERR_INVALID_ARG);
    lumen_arg many_args[LUMEN_MAX_ARGS + 1];
    for (int i = 0; i <= LUMEN_MAX_ARGS; i++)
        many_args[i] = lumen_arg_i64(i);
    WANT(lumen_actor_create("RcActor", many_args, LUMEN_MAX_ARGS + 1, NULL, &a), LUMEN_ERR_OUT_OF_RANGE);
    WANT(lumen_actor_call(good, "node", many_args, LUMEN_MAX_ARGS + 1, NULL, &r), LUMEN_ERR_OUT_OF_RANGE);
    WANT(lumen_actor_call(good, "node", NULL, 0, NULL, NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_actor_call(good, NULL, NULL, 0, NULL, &r), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_actor_call(good, "node", NULL, 2, NULL, &r), LUMEN_ERR_INVALID_ARG);
    WANT_ERR(lumen_actor_call(LUMEN_ACTOR_NIL, "node", NULL, 0, NULL, &r));
    WANT(lumen_actor_ready(good, NULL), LUMEN_ERR_INVALID_ARG);
    WANT_ERR(lumen_actor_ready(LUMEN_ACTOR_NIL, &r));
    WANT(lumen_get_actor("x", NULL, NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_get_actor(NULL, NULL, &a), LUMEN_ERR_INVALID_ARG);
    WANT_ERR(lumen_get_actor("", NULL, &a));
    WANT_ERR(lumen_actor_kill(LUMEN_ACTOR_NIL, 1));
    WANT_ERR(lumen_actor_terminate(LUMEN_ACTOR_NIL));
    WANT_ERR(lumen_actor_release(LUMEN_ACTOR_NIL));
    WANT(lumen_register_actor_class(NULL, rcactor_init, NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_register_actor_class("", rcactor_init, NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_register_actor_class("NoInit", NULL, NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_register_method(NULL, "m", RcActor__node), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_register_method("RcActor", NULL, RcActor__node), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_register_method("RcActor", "", RcActor__node), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_register_method("RcActor", "m", NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_cluster_resources(NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_available_resources(NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_rank_resources(0, NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_get_runtime_context(NULL), LUMEN_ERR_INVALID_ARG);

    /* names */
    char long_name[LUMEN_ACTOR_NAME_MAX + 8];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_NAME, .name = NULL};
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    o.name = "";
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    long_name[LUMEN_ACTOR_NAME_MAX] = 0; /* 128 chars: one too many */
    o.name = long_name;
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_get_actor(long_name, NULL, &a), LUMEN_ERR_INVALID_ARG);
    long_name[LUMEN_ACTOR_NAME_MAX - 1] = 0; /* 127 chars: the longest allowed */
    CHECK_OK(lumen_actor_create("RcActor", NULL, 0, &o, &a));
    lumen_actor f;
    CHECK_OK(lumen_get_actor(long_name, NULL, &f));
    CHECK(lumen_actor_equal(a, f));
    CHECK_OK(lumen_actor_release(a));
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_NAME | LUMEN_ACTOR_NAMESPACE, .name = "ok"};
    long_name[LUMEN_ACTOR_NAME_MAX] = 'n';
    long_name[LUMEN_ACTOR_NAME_MAX - 1] = 'n';
    o.namespace_ = long_name;
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_get_actor("ok", long_name, &a), LUMEN_ERR_INVALID_ARG);
    long_name[LUMEN_ACTOR_NAME_MAX] = 0;

    /* option values */
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_MAX_CONCURRENCY, .max_concurrency = -1};
    WANT_RANGE(lumen_actor_create("RcActor", NULL, 0, &o, &a));
    o.max_concurrency = 0;
    WANT_RANGE(lumen_actor_create("RcActor", NULL, 0, &o, &a));
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_MAX_RESTARTS, .max_restarts = -2};
    WANT_RANGE(lumen_actor_create("RcActor", NULL, 0, &o, &a));
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_MAX_TASK_RETRIES, .max_task_retries = -2};
    WANT_RANGE(lumen_actor_create("RcActor", NULL, 0, &o, &a));
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_MAX_PENDING_CALLS, .max_pending_calls = -2};
    WANT_RANGE(lumen_actor_create("RcActor", NULL, 0, &o, &a));
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_NUM_CPUS, .num_cpus = -1};
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    o.num_cpus = NAN;
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_NUM_GPUS, .num_gpus = INFINITY};
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_RESOURCES, .resources = "widget"};
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    o.resources = "widget=-1";
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_LIFETIME, .lifetime = (lumen_actor_lifetime)7};
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    o = (lumen_actor_options){.field_mask = LUMEN_ACTOR_SCHEDULING};
    o.scheduling.kind = (lumen_sched_kind)99;
    WANT(lumen_actor_create("RcActor", NULL, 0, &o, &a), LUMEN_ERR_INVALID_ARG);
    /* fields outside the mask are ignored */
    o = (lumen_actor_options){.field_mask = 0, .max_concurrency = -5, .num_cpus = NAN, .name = ""};
    CHECK_OK(lumen_actor_create("RcActor", NULL, 0, &o, &a));
    CHECK_OK(lumen_actor_release(a));

    /* call options */
    lumen_call_options co = {.field_mask = LUMEN_CALL_NUM_RETURNS, .num_returns = 0};
    lumen_ref many[LUMEN_MAX_RETURNS + 1];
    WANT(lumen_actor_call(good, "node", NULL, 0, &co, many), LUMEN_ERR_OUT_OF_RANGE);
    co.num_returns = LUMEN_MAX_RETURNS + 1;
    WANT(lumen_actor_call(good, "node", NULL, 0, &co, many), LUMEN_ERR_OUT_OF_RANGE);
    co.num_returns = -1;
    WANT(lumen_actor_call(good, "node", NULL, 0, &co, many), LUMEN_ERR_OUT_OF_RANGE);

    /* task scheduling values */
    lumen_task_options to = {.field_mask = LUMEN_TASK_SCHEDULING};
    to.scheduling.kind = (lumen_sched_kind)99;
    WANT(lumen_remote("rc_rank", NULL, 0, &to, &r), LUMEN_ERR_INVALID_ARG);
    to.scheduling = lumen_sched_placement_group(LUMEN_PLACEMENT_GROUP_NIL, 0);
    WANT_ERR(lumen_remote("rc_rank", NULL, 0, &to, &r));

    /* placement groups */
    lumen_placement_group pg;
    const char *b1[1] = {"CPU=1"};
    const char *bad_bundles[][1] = {{"CPU=-1"}, {"CPU"}, {"=1"}, {"CPU=nan"}, {NULL}};
    WANT(lumen_placement_group_create(NULL, 1, LUMEN_PG_PACK, NULL, &pg), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_placement_group_create(b1, 0, LUMEN_PG_PACK, NULL, &pg), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_placement_group_create(b1, 1, LUMEN_PG_PACK, NULL, NULL), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_placement_group_create(b1, 1, (lumen_pg_strategy)9, NULL, &pg), LUMEN_ERR_INVALID_ARG);
    WANT(lumen_placement_group_create(b1, 1, (lumen_pg_strategy)-1, NULL, &pg), LUMEN_ERR_INVALID_ARG);
    for (size_t i = 0; i < sizeof bad_bundles / sizeof bad_bundles[0]; i++)
        WANT(lumen_placement_group_create(bad_bundles[i], 1, LUMEN_PG_PACK, NULL, &pg), LUMEN_ERR_INVALID_ARG);
    WANT_ERR(lumen_placement_group_ready(LUMEN_PLACEMENT_GROUP_NIL, &r));
    WANT_ERR(lumen_placement_group_wait(LUMEN_PLACEMENT_GROUP_NIL, 10));
    WANT_ERR(lumen_placement_group_remove(LUMEN_PLACEMENT_GROUP_NIL));
    int br, bn;
    WANT_ERR(lumen_placement_group_bundle_rank(LUMEN_PLACEMENT_GROUP_NIL, 0, 10, &br, &bn));
    CHECK_OK(lumen_placement_group_create(b1, 1, LUMEN_PG_PACK, "bad-input", &pg));
    CHECK_OK(lumen_placement_group_wait(pg, T_TIMEOUT));
    WANT(lumen_placement_group_ready(pg, NULL), LUMEN_ERR_INVALID_ARG);
    WANT_ERR(lumen_placement_group_bundle_rank(pg, 1, 10, &br, &bn));
    WANT_ERR(lumen_placement_group_bundle_rank(pg, -1, 10, &br, &bn));
    to.scheduling = lumen_sched_placement_group(pg, 5); /* no bundle 5 */
    WANT_ERR(lumen_remote("rc_rank", NULL, 0, &to, &r));
    to.scheduling = lumen_sched_placement_group(pg, -2);
    WANT_ERR(lumen_remote("rc_rank", NULL, 0, &to, &r));
    /* the good group still works */
    to.scheduling = lumen_sched_placement_group(pg, 0);
    CHECK_OK(lumen_remote("rc_rank", NULL, 0, &to, &r));
    int64_t k;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &k));
    CHECK_OK(lumen_ref_release(r));
    CHECK_OK(lumen_placement_group_remove(pg));

    /* actor-only calls outside an actor, lumen_arg_get_actor misuse */
    lumen_arg args[2] = {lumen_arg_i64(1), lumen_arg_actor(good)};
    CHECK_OK(lumen_remote("rc_not_actor", args, 2, NULL, &r));
    int64_t mask = -1;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &mask));
    CHECKF(mask == 0, "actor calls in a plain task: failed checks mask 0x%llx", (unsigned long long)mask);
    CHECK_OK(lumen_ref_release(r));

    /* the good actor survived all that */
    CHECK_OK(LUMEN_ACTOR_CALL0(&r, good, "node"));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &k));
    CHECK_OK(lumen_ref_release(r));
    CHECK_OK(lumen_actor_release(good));
}

int main(int argc, char **argv)
{
    int provided, rank;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    CHECK(provided >= MPI_THREAD_SERIALIZED);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char res[128];
    const char *env = getenv("LUMEN_RESOURCES");
    snprintf(res, sizeof res, "%s%srcrk%d=1", env && *env ? env : "", env && *env ? "," : "", rank);
    lumen_init_options io = {.field_mask = LUMEN_INIT_RESOURCES, .resources = res};
    CHECK_OK(lumen_init(&argc, &argv, &io));
    if (lumen_is_driver()) {
        learn_nodes();
        printf("%d ranks, %d nodes\n", nranks, nnodes);
        test_resources();
        test_context();
        test_scheduling();
        test_bad_input();
        printf("resources_context: OK on %d ranks\n", nranks);
    }
    CHECK_OK(lumen_finalize());
    MPI_Finalize();
    return 0;
}
