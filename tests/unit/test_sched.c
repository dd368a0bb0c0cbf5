/*
 * test_sched.c - the scheduler's decisions on a made-up cluster: resource
 * parsing, feasibility (with the reason named), least-loaded choice,
 * locality preference, round-robin among equals and the per-rank in-flight
 * cap that keeps work at the submitter until a rank frees up; SPREAD's
 * node-major order and node affinity (hard and soft).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static int failures;
#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                            \
        }                                                                          \
    } while (0)

static lm_rt *fake_cluster(int size)
{
    lm_rt *rt = calloc(1, sizeof *rt);
    rt->size = size;
    rt->nres = 2;
    strcpy(rt->resname[0], "CPU");
    strcpy(rt->resname[1], "GPU");
    rt->res_total = calloc((size_t)size * LM_MAX_RES, sizeof(double));
    rt->inflight = calloc((size_t)size, sizeof(int));
    rt->node_of = calloc((size_t)size, sizeof(int));
    rt->max_inflight = 4;
    for (int r = 0; r < size; r++) {
        rt->res_total[(size_t)r * LM_MAX_RES] = 1; /* 1 CPU each */
        rt->node_of[r] = r / 2;                   /* two ranks per node */
    }
    return rt;
}

static void free_cluster(lm_rt *rt)
{
    free(rt->spread_order);
    free(rt->res_total);
    free(rt->inflight);
    free(rt->node_of);
    free(rt);
}

static void test_parse(void)
{
    lm_rt *rt = fake_cluster(2);
    double d[LM_MAX_RES] = {0};
    CHECK(lm_parse_resources(rt, "ssd=2,fpga=0.5", d, 1) == LUMEN_OK);
    CHECK(rt->nres == 4 && !strcmp(rt->resname[2], "ssd") && d[2] == 2 && d[3] == 0.5);
    memset(d, 0, sizeof d);
    CHECK(lm_parse_resources(rt, "CPU=2,GPU=1,fpga=1", d, 0) == LUMEN_OK);
    CHECK(d[0] == 2 && d[1] == 1 && d[3] == 1);
    CHECK(lm_parse_resources(rt, "tpu=1", d, 0) == LUMEN_ERR_INFEASIBLE);
    CHECK(lm_parse_resources(rt, "ssd", d, 0) == LUMEN_ERR_INVALID_ARG);
    CHECK(lm_parse_resources(rt, "ssd=-1", d, 0) == LUMEN_ERR_INVALID_ARG);
    CHECK(lm_parse_resources(rt, "ssd=abc", d, 0) == LUMEN_ERR_INVALID_ARG);
    CHECK(lm_parse_resources(rt, "=3", d, 0) == LUMEN_ERR_INVALID_ARG);
    CHECK(lm_parse_resources(rt, "", d, 0) == LUMEN_OK);
    CHECK(lm_parse_resources(rt, NULL, d, 0) == LUMEN_OK);
    free_cluster(rt);
}

static void test_feasible(void)
{
    lm_rt *rt = fake_cluster(4);
    rt->res_total[3 * LM_MAX_RES + 1] = 2; /* rank 3 has 2 GPUs */
    double d[LM_MAX_RES] = {1, 0};
    char why[256];
    CHECK(lm_sched_feasible(rt, d, why, sizeof why));
    d[1] = 2;
    CHECK(lm_sched_feasible(rt, d, why, sizeof why));
    CHECK(lm_sched_pick(rt, d, -1, 0, NULL) == 3); /* only rank 3 fits */
    d[1] = 3;
    CHECK(!lm_sched_feasible(rt, d, why, sizeof why));
    CHECK(strstr(why, "GPU=3") && strstr(why, "offers 2"));
    d[1] = 0;
    d[0] = 1.5;
    CHECK(!lm_sched_feasible(rt, d, why, sizeof why));
    CHECK(strstr(why, "CPU"));
    CHECK(lm_sched_pick(rt, d, -1, 0, NULL) == -1);
    free_cluster(rt);
}

static void test_pick(void)
{
    lm_rt *rt = fake_cluster(4);
    double d[LM_MAX_RES] = {1, 0};
    /* round robin among equally loaded ranks */
    int seen[4] = {0};
    for (int i = 0; i < 4; i++) {
        int r = lm_sched_pick(rt, d, -1, 0, NULL);
        CHECK(r >= 0);
        seen[r]++;
        rt->inflight[r]++;
    }
    CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1);
    /* least loaded wins */
    rt->inflight[0] = 3;
    rt->inflight[1] = 3;
    rt->inflight[2] = 0;
    rt->inflight[3] = 2;
    CHECK(lm_sched_pick(rt, d, -1, 0, NULL) == 2);
    /* locality: node 1 holds ranks 2 and 3; a tie at load goes to the data */
    rt->inflight[0] = 1;
    rt->inflight[1] = 1;
    rt->inflight[2] = 1;
    rt->inflight[3] = 1;
    int r = lm_sched_pick(rt, d, 1, 0, NULL);
    CHECK(r == 2 || r == 3);
    /* ...but not when the data's node is much busier */
    rt->inflight[2] = 4;
    rt->inflight[3] = 4;
    rt->inflight[0] = 0;
    r = lm_sched_pick(rt, d, 1, 0, NULL);
    CHECK(r == 0 || r == 1);
    /* cap: every rank at max_inflight per CPU -> wait at the submitter */
    for (int i = 0; i < 4; i++)
        rt->inflight[i] = rt->max_inflight;
    CHECK(lm_sched_pick(rt, d, -1, 0, NULL) == -1);
    rt->inflight[1]--;
    CHECK(lm_sched_pick(rt, d, -1, 0, NULL) == 1);
    /* zero-CPU tasks still respect the cap */
    double z[LM_MAX_RES] = {0};
    rt->inflight[1]++;
    CHECK(lm_sched_pick(rt, z, -1, 0, NULL) == -1);
    free_cluster(rt);
}

static void test_strategies(void)
{
    lm_rt *rt = fake_cluster(4); /* nodes 0 (ranks 0,1) and 2 (ranks 2,3) */
    for (int r = 0; r < 4; r++)
        rt->node_of[r] = r < 2 ? 0 : 2;
    rt->rank = 0;
    CHECK(lm_sched_init(rt) == LUMEN_OK);
    /* node-major: 0, 2, 1, 3 */
    CHECK(rt->spread_order[0] == 0 && rt->spread_order[1] == 2 && rt->spread_order[2] == 1 &&
          rt->spread_order[3] == 3);
    double d[LM_MAX_RES] = {1, 0};
    lumen_scheduling_strategy spread = lumen_sched_spread();
    int seen[4] = {0};
    int prev_node = -1, alternates = 1;
    for (int i = 0; i < 8; i++) {
        int r = lm_sched_pick(rt, d, -1, 0, &spread);
        CHECK(r >= 0 && r < 4);
        if (r < 0)
            break;
        seen[r]++;
        alternates &= rt->node_of[r] != prev_node;
        prev_node = rt->node_of[r];
    }
    CHECK(seen[0] == 2 && seen[1] == 2 && seen[2] == 2 && seen[3] == 2);
    CHECK(alternates); /* consecutive picks change node */

    lumen_scheduling_strategy hard = lumen_sched_node_affinity(2, 0);
    for (int i = 0; i < 6; i++) {
        int r = lm_sched_pick(rt, d, -1, 0, &hard);
        CHECK(r == 2 || r == 3);
    }
    CHECK(lm_sched_check(rt, d, &hard, "f") == LUMEN_OK);
    lumen_scheduling_strategy bad = lumen_sched_node_affinity(1, 0); /* rank 1 is not a node id */
    CHECK(lm_sched_check(rt, d, &bad, "f") == LUMEN_ERR_INFEASIBLE);
    lumen_scheduling_strategy soft = lumen_sched_node_affinity(7, 1);
    CHECK(lm_sched_check(rt, d, &soft, "f") == LUMEN_OK);
    CHECK(lm_sched_pick(rt, d, -1, 0, &soft) >= 0);
    /* hard affinity to a node without the resource */
    rt->res_total[0 * LM_MAX_RES + 1] = 1; /* only rank 0 has a GPU */
    double g[LM_MAX_RES] = {1, 1};
    CHECK(lm_sched_check(rt, g, &hard, "f") == LUMEN_ERR_INFEASIBLE);
    free_cluster(rt);
}

int main(void)
{
    test_parse();
    test_feasible();
    test_pick();
    test_strategies();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("sched: all checks passed\n");
    return 0;
}
