/*
 * gpus.c - this rank's GPUs: which devices the node has (the
 * CUDA_VISIBLE_DEVICES list, or the NVIDIA/AMD display and 3D controllers
 * hwloc sees on the PCI bus), this rank's share of them, and the ids given
 * to a task or actor for its num_gpus (Ray's get_gpu_ids): a fraction
 * below one shares a device with other fractions, a whole number takes
 * whole devices. Assignment runs under exec_lock.
 */
#include <hwloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runtime/runtime.h"

/* device ids this process may use, at most max; returns how many */
static int detect(int *ids, int max)
{
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    if (cvd) {
        int n = 0;
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", cvd);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save)) {
            char *end;
            long v = strtol(tok, &end, 10);
            if (*tok == '\0')
                continue;
            if (*end != '\0' || v < 0) /* a UUID or MIG name: count it, number it by position */
                v = n;
            ids[n++] = (int)v;
        }
        return n;
    }
    hwloc_topology_t topo;
    int n = 0;
    if (hwloc_topology_init(&topo) != 0)
        return 0;
    hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (hwloc_topology_load(topo) == 0) {
        for (hwloc_obj_t o = hwloc_get_next_pcidev(topo, NULL); o && n < max; o = hwloc_get_next_pcidev(topo, o)) {
            unsigned cls = o->attr->pcidev.class_id, vendor = o->attr->pcidev.vendor_id;
            if ((cls == 0x0300 || cls == 0x0302) && (vendor == 0x10de || vendor == 0x1002)) {
                ids[n] = n;
                n++;
            }
        }
    }
    hwloc_topology_destroy(topo);
    return n;
}

lumen_status lm_gpus_setup(lm_rt *rt, MPI_Comm node_comm, double *gpus)
{
    int ids[LUMEN_MAX_GPU_IDS];
    int n = detect(ids, LUMEN_MAX_GPU_IDS);
    /* the node's ranks share one list unless the launcher gave each its own
     * (srun --gpus-per-task sets a different CUDA_VISIBLE_DEVICES per rank) */
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++)
        h = (h ^ (uint64_t)(ids[i] + 1)) * 1099511628211ull;
    uint64_t lo = h, hi = h;
    MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, node_comm);
    MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, node_comm);
    int first = 0, count = n;
    if (lo == hi && rt->node_size > 1) { /* shared: a contiguous slice each */
        first = n * rt->node_rank / rt->node_size;
        count = n * (rt->node_rank + 1) / rt->node_size - first;
    }
    if (*gpus < 0) /* not set by the user: what we found */
        *gpus = count;
    rt->ngpu = 0;
    for (int i = 0; i < count && rt->ngpu < (int)ceil(*gpus) && rt->ngpu < LUMEN_MAX_GPU_IDS; i++) {
        rt->gpu_id[rt->ngpu] = ids[first + i];
        rt->gpu_free[rt->ngpu++] = 1.0;
    }
    /* asked for more GPUs than exist (a test, or devices we cannot see):
     * number the rest after the real ones so accounting still works */
    int next = 0;
    for (int i = 0; i < rt->ngpu; i++)
        if (rt->gpu_id[i] >= next)
            next = rt->gpu_id[i] + 1;
    while (rt->ngpu < (int)ceil(*gpus) && rt->ngpu < LUMEN_MAX_GPU_IDS) {
        rt->gpu_id[rt->ngpu] = next++;
        rt->gpu_free[rt->ngpu++] = 1.0;
    }
    return LUMEN_OK;
}

int lm_gpus_assign(lm_rt *rt, double demand, int *out)
{
    if (demand <= 0)
        return 0;
    if (demand < 1) { /* the fullest device it still fits on */
        int best = -1;
        for (int i = 0; i < rt->ngpu; i++)
            if (rt->gpu_free[i] + 1e-9 >= demand && (best < 0 || rt->gpu_free[i] < rt->gpu_free[best]))
                best = i;
        if (best < 0)
            return -1;
        rt->gpu_free[best] -= demand;
        out[0] = best;
        return 1;
    }
    int want = (int)ceil(demand - 1e-9), got = 0;
    for (int i = 0; i < rt->ngpu && got < want; i++)
        if (rt->gpu_free[i] > 1 - 1e-9)
            out[got++] = i;
    if (got < want)
        return -1;
    for (int i = 0; i < got; i++)
        rt->gpu_free[out[i]] = 0;
    return got;
}

void lm_gpus_release(lm_rt *rt, double demand, const int *slots, int n)
{
    for (int i = 0; i < n; i++) {
        if (slots[i] < 0 || slots[i] >= rt->ngpu)
            continue;
        rt->gpu_free[slots[i]] += demand < 1 ? demand : 1.0;
        if (rt->gpu_free[slots[i]] > 1)
            rt->gpu_free[slots[i]] = 1;
    }
}
