/*
 * resources_api.c - what the job has and what runs where, as Ray reports
 * it: cluster_resources, available_resources (each rank answers for its
 * free pool), one rank's totals, and the runtime context of the calling
 * thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "common/error.h"
#include "gcs/gcs.h"
#include "runtime/config.h"

extern _Thread_local lumen_task_ctx *lm_tls_ctx;

double lumen_resources_get(const lumen_resources *r, const char *name)
{
    if (!r || !name)
        return 0;
    for (size_t i = 0; i < r->count && i < LUMEN_MAX_RESOURCES; i++)
        if (!strcmp(r->r[i].name, name))
            return r->r[i].amount;
    return 0;
}

/* amounts per slot -> named list; GPU listed only when some rank has one */
static void fill(lm_rt *rt, const double *sum, int show_gpu, lumen_resources *out)
{
    memset(out, 0, sizeof *out);
    for (int k = 0; k < rt->nres && k < LUMEN_MAX_RESOURCES; k++) {
        if (k == 1 && !show_gpu)
            continue;
        snprintf(out->r[out->count].name, sizeof out->r[0].name, "%s", rt->resname[k]);
        out->r[out->count].amount = sum[k] < 0 && sum[k] > -1e-9 ? 0 : sum[k];
        out->count++;
    }
}

static int any_gpu(lm_rt *rt)
{
    for (int r = 0; r < rt->size; r++)
        if (rt->res_total[(size_t)r * LM_MAX_RES + 1] > 0)
            return 1;
    return 0;
}

lumen_status lumen_cluster_resources(lumen_resources *out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_cluster_resources: out is NULL");
    double sum[LM_MAX_RES] = {0};
    for (int r = 0; r < rt->size; r++)
        for (int k = 0; k < LM_MAX_RES; k++)
            sum[k] += rt->res_total[(size_t)r * LM_MAX_RES + k];
    pthread_mutex_lock(&rt->lock);
    fill(rt, sum, any_gpu(rt), out);
    pthread_mutex_unlock(&rt->lock);
    return LUMEN_OK;
}

lumen_status lumen_rank_resources(int rank, lumen_resources *out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_rank_resources: out is NULL");
    if (rank < 0 || rank >= rt->size)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "rank %d not in 0..%d", rank, rt->size - 1);
    pthread_mutex_lock(&rt->lock);
    fill(rt, &rt->res_total[(size_t)rank * LM_MAX_RES], any_gpu(rt), out);
    pthread_mutex_unlock(&rt->lock);
    return LUMEN_OK;
}

lumen_status lumen_available_resources(lumen_resources *out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_available_resources: out is NULL");
    lm_rpc *r = calloc((size_t)rt->size, sizeof *r);
    if (!r)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
    double sum[LM_MAX_RES] = {0};
    for (int p = 0; p < rt->size; p++) {
        lm_rpc_begin(rt, &r[p]);
        lm_ctl_msg m = {.op = LM_CTL_RES_QUERY, .tag = r[p].tag};
        lm_ctl_send(rt, p, &m);
    }
    lumen_status st = LUMEN_OK;
    for (int p = 0; p < rt->size; p++) {
        lumen_status s = lm_rpc_wait(rt, &r[p], 30000000000ull);
        if (s == LUMEN_OK && r[p].reply.blob_len == sizeof(double) * LM_MAX_RES) {
            const double *a = r[p].reply.blob;
            for (int k = 0; k < LM_MAX_RES; k++)
                sum[k] += a[k];
        } else if (st == LUMEN_OK) {
            st = s != LUMEN_OK ? s : lm_error(LUMEN_ERR_PROTOCOL, "rank %d answered a malformed report", p);
        }
    }
    for (int p = 0; p < rt->size; p++)
        lm_rpc_end(rt, &r[p]);
    free(r);
    if (st != LUMEN_OK)
        return st;
    pthread_mutex_lock(&rt->lock);
    fill(rt, sum, any_gpu(rt), out);
    pthread_mutex_unlock(&rt->lock);
    return LUMEN_OK;
}

lumen_status lumen_get_runtime_context(lumen_runtime_context *out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_get_runtime_context: out is NULL");
    memset(out, 0, sizeof *out);
    out->rank = rt->rank;
    out->node_id = rt->node_id;
    out->world_size = rt->size;
    out->function = "";
    snprintf(out->job_id, sizeof out->job_id, "%016llx", (unsigned long long)rt->job_id);
    snprintf(out->job_dir, sizeof out->job_dir, "%s", rt->job_dir);
    const lm_topo *t = &rt->topo_of[rt->rank];
    out->numa_domains = t->numa_domains;
    out->numa_node = __builtin_popcountll(t->numa_mask) == 1 ? __builtin_ctzll(t->numa_mask) : -1;
    out->host_cores = t->cores;
    out->host_memory = t->memory;
    lumen_task_ctx *c = lm_tls_ctx;
    if (!c)
        return LUMEN_OK;
    out->in_task = 1;
    lm_oid tid = c->task->m.task_id;
    snprintf(out->task_id, sizeof out->task_id, "%016llx%016llx", (unsigned long long)tid.hi,
             (unsigned long long)tid.lo);
    out->function = c->task->m.fn;
    double held[LM_MAX_RES];
    memcpy(held, c->task->m.demand, sizeof held);
    if (c->actor) {
        out->actor = (lumen_actor){{c->actor->id.hi, c->actor->id.lo}};
        for (int k = 0; k < LM_MAX_RES; k++)
            held[k] = c->actor->demand[k] + (c->task->m.kind == LM_KIND_CALL ? c->task->m.demand[k] : 0);
    }
    pthread_mutex_lock(&rt->lock);
    memset(&out->assigned, 0, sizeof out->assigned);
    for (int k = 0; k < rt->nres && k < LUMEN_MAX_RESOURCES; k++) {
        if (held[k] <= 0)
            continue;
        snprintf(out->assigned.r[out->assigned.count].name, sizeof out->assigned.r[0].name, "%s", rt->resname[k]);
        out->assigned.r[out->assigned.count++].amount = held[k];
    }
    pthread_mutex_unlock(&rt->lock);
    out->num_gpu_ids = c->num_gpu_ids;
    memcpy(out->gpu_ids, c->gpu_ids, sizeof out->gpu_ids);
    return LUMEN_OK;
}
