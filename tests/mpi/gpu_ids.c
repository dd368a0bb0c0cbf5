/*
 * gpu_ids.c - GPUs are assigned, not just counted (run with
 * LUMEN_NUM_GPUS=2 so every rank offers two device ids whether or not it
 * has GPUs): a task asking for one GPU gets one id in its runtime context,
 * two concurrent one-GPU tasks on a rank get different ids, two half-GPU
 * tasks may share one id, a task asking for two gets both, a task without
 * GPUs gets none, and an actor holding a GPU keeps its id for every call
 * while tasks on its rank get the other one. Fractions above one that are
 * not whole are refused. Ray's "memory" resource exists (bytes) and can be
 * asked for.
 */
#include "check.h"

#include <stdatomic.h>
#include <unistd.h>

/* returns rank * 100 + the GPU ids (as a bit mask) it was given; sleeps a
 * little so concurrent tasks overlap */
LUMEN_REMOTE(gpu_task)
{
    lumen_runtime_context rc;
    TASK_TRY(lumen_get_runtime_context(&rc));
    int64_t ms = 0;
    if (lumen_num_args(ctx) > 0)
        TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    int64_t mask = 0;
    for (int i = 0; i < rc.num_gpu_ids; i++)
        mask |= (int64_t)1 << rc.gpu_ids[i];
    usleep((useconds_t)(ms * 1000));
    return lumen_return_i64(ctx, 0, rc.rank * 100 + mask);
}

static lumen_status holder_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = NULL;
    return LUMEN_OK;
}
LUMEN_ACTOR_CLASS(GpuHolder, holder_init, NULL)
LUMEN_METHOD(GpuHolder, ids)
{
    (void)self;
    lumen_runtime_context rc;
    TASK_TRY(lumen_get_runtime_context(&rc));
    int64_t mask = 0;
    for (int i = 0; i < rc.num_gpu_ids; i++)
        mask |= (int64_t)1 << rc.gpu_ids[i];
    return lumen_return_i64(ctx, 0, rc.rank * 100 + mask);
}

static int64_t run(double gpus, int64_t ms, lumen_ref *out)
{
    lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_GPUS | LUMEN_TASK_NUM_CPUS, .num_gpus = gpus, .num_cpus = 0};
    lumen_arg a = lumen_arg_i64(ms);
    CHECK_OK(lumen_remote("gpu_task", &a, 1, &o, out));
    return 0;
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_rank() == 0) {
        int n = lumen_world_size();
        lumen_resources cr;
        CHECK_OK(lumen_cluster_resources(&cr));
        CHECKF(lumen_resources_get(&cr, "GPU") == 2.0 * n, "cluster GPU %g", lumen_resources_get(&cr, "GPU"));

        double mem = lumen_resources_get(&cr, "memory");
        CHECKF(mem > 1e6, "cluster memory %g bytes", mem);
        lumen_task_options mo = {.field_mask = LUMEN_TASK_RESOURCES, .resources = "memory=1000000"};
        lumen_ref mr;
        int64_t mv;
        CHECK_OK(lumen_remote("gpu_task", NULL, 0, &mo, &mr));
        CHECK_OK(lumen_get_i64(mr, T_TIMEOUT, &mv));
        CHECK_OK(lumen_ref_release(mr));
        lumen_task_options mbig = {.field_mask = LUMEN_TASK_RESOURCES, .resources = "memory=1e30"};
        CHECK_ST(lumen_remote("gpu_task", NULL, 0, &mbig, &mr), LUMEN_ERR_INFEASIBLE);

        /* 2 one-GPU tasks per rank at once: on each rank they hold ids {0} and {1} */
        lumen_ref r[64];
        int64_t v[64];
        int m = 2 * n;
        for (int i = 0; i < m; i++)
            run(1, 300, &r[i]);
        int64_t seen[16] = {0};
        for (int i = 0; i < m; i++) {
            CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &v[i]));
            int64_t mask = v[i] % 100, rank = v[i] / 100;
            CHECKF(mask == 1 || mask == 2, "a one-GPU task got id mask %lld", (long long)mask);
            CHECKF(!(seen[rank] & mask), "two one-GPU tasks on rank %lld got the same id", (long long)rank);
            seen[rank] |= mask;
            CHECK_OK(lumen_ref_release(r[i]));
        }
        /* two GPUs: both ids */
        run(2, 0, &r[0]);
        CHECK_OK(lumen_get_i64(r[0], T_TIMEOUT, &v[0]));
        CHECKF(v[0] % 100 == 3, "a two-GPU task got mask %lld", (long long)(v[0] % 100));
        CHECK_OK(lumen_ref_release(r[0]));
        /* half a GPU: one id */
        run(0.5, 0, &r[0]);
        CHECK_OK(lumen_get_i64(r[0], T_TIMEOUT, &v[0]));
        CHECKF(v[0] % 100 == 1 || v[0] % 100 == 2, "a half-GPU task got mask %lld", (long long)(v[0] % 100));
        CHECK_OK(lumen_ref_release(r[0]));
        /* no GPU: no id */
        run(0, 0, &r[0]);
        CHECK_OK(lumen_get_i64(r[0], T_TIMEOUT, &v[0]));
        CHECK(v[0] % 100 == 0);
        CHECK_OK(lumen_ref_release(r[0]));
        /* 1.5 GPUs is not a valid request */
        lumen_task_options bad = {.field_mask = LUMEN_TASK_NUM_GPUS, .num_gpus = 1.5};
        CHECK_ST(lumen_remote("gpu_task", NULL, 0, &bad, &r[0]), LUMEN_ERR_INVALID_ARG);

        /* an actor holding one GPU on the driver's node keeps its id; one-GPU
         * tasks sent there get the other id */
        lumen_actor_options ao = {.field_mask = LUMEN_ACTOR_NUM_GPUS | LUMEN_ACTOR_NUM_CPUS | LUMEN_ACTOR_SCHEDULING,
                                  .num_gpus = 1, .num_cpus = 0,
                                  .scheduling = lumen_sched_node_affinity(lumen_node_id(), 0)};
        /* node affinity names a node; with ranks sharing a node the actor may
         * land on any of its ranks: read where it went */
        lumen_actor a;
        CHECK_OK(lumen_actor_create("GpuHolder", NULL, 0, &ao, &a));
        lumen_ref ar;
        int64_t first = -1, again = -1;
        CHECK_OK(LUMEN_ACTOR_CALL0(&ar, a, "ids"));
        CHECK_OK(lumen_get_i64(ar, T_TIMEOUT, &first));
        CHECK_OK(lumen_ref_release(ar));
        CHECKF(first % 100 == 1 || first % 100 == 2, "the actor got GPU mask %lld", (long long)(first % 100));
        CHECK_OK(LUMEN_ACTOR_CALL0(&ar, a, "ids"));
        CHECK_OK(lumen_get_i64(ar, T_TIMEOUT, &again));
        CHECK_OK(lumen_ref_release(ar));
        CHECK(again == first);
        lumen_resources av;
        CHECK_OK(lumen_available_resources(&av));
        CHECKF(lumen_resources_get(&av, "GPU") == 2.0 * n - 1, "available GPU %g with the actor alive",
               lumen_resources_get(&av, "GPU"));
        CHECK_OK(lumen_actor_kill(a, 1));
        printf("gpu_ids: OK on %d ranks (actor on rank %lld with GPU mask %lld)\n", n, (long long)(first / 100),
               (long long)(first % 100));
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
