/*
 * nccl.c - the NCCL backend of collective groups: the same operations on
 * device (CUDA) buffers, built when CMake finds CUDA and NCCL
 * (LUMEN_HAVE_NCCL).
 *
 * Every member is one NCCL rank with its own communicator and CUDA stream
 * (members on one lumen rank use different GPUs, as NCCL requires). The
 * group's host side (group.c, ops.c) still does the rendezvous and checks
 * every operation's arguments first (a signature-only host operation), so a
 * mismatch fails on every member before NCCL sees it, and a member that
 * never comes times out on the host instead of hanging in a kernel. The
 * NCCL unique id is made by member 0 and broadcast over the host group.
 *
 * libnccl and libcudart are opened with dlopen on the first NCCL group, so
 * a lumen built with NCCL support runs on machines without CUDA; there the
 * NCCL backend fails with LUMEN_ERR_INVALID_ARG ("no GPU"/"no NCCL").
 */
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "collective/coll.h"
#include "common/error.h"

#define SYM(lib, name) static __typeof__(name) *p_##name;
SYM(nccl, ncclGetUniqueId)
SYM(nccl, ncclCommInitRank)
SYM(nccl, ncclCommDestroy)
SYM(nccl, ncclCommAbort)
SYM(nccl, ncclAllReduce)
SYM(nccl, ncclBroadcast)
SYM(nccl, ncclAllGather)
SYM(nccl, ncclReduceScatter)
SYM(nccl, ncclSend)
SYM(nccl, ncclRecv)
SYM(nccl, ncclGetErrorString)
SYM(cuda, cudaSetDevice)
SYM(cuda, cudaGetDeviceCount)
SYM(cuda, cudaGetDevice)
SYM(cuda, cudaStreamCreate)
SYM(cuda, cudaStreamDestroy)
SYM(cuda, cudaStreamQuery)
SYM(cuda, cudaGetErrorString)
#undef SYM

typedef struct nccl_member {
    ncclComm_t comm;
    cudaStream_t stream;
    int ready;
} nccl_member;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded; /* 0 not tried, 1 ok, -1 failed */
static char load_why[200];

static lumen_status load(void)
{
    pthread_mutex_lock(&load_lock);
    if (!loaded) {
        void *hn = dlopen("libnccl.so.2", RTLD_NOW | RTLD_GLOBAL);
        void *hc = dlopen("libcudart.so", RTLD_NOW | RTLD_GLOBAL);
        if (!hc)
            hc = dlopen("libcudart.so.13", RTLD_NOW | RTLD_GLOBAL);
        loaded = hn && hc ? 1 : -1;
        if (!hn || !hc)
            snprintf(load_why, sizeof load_why, "backend NCCL: cannot load %s", !hn ? "libnccl.so.2" : "libcudart.so");
#define LOAD(h, name)                                                                                \
    if (loaded == 1 && !(p_##name = (__typeof__(p_##name))dlsym(h, #name))) {                        \
        loaded = -1;                                                                                 \
        snprintf(load_why, sizeof load_why, "backend NCCL: %s not found", #name);                    \
    }
        LOAD(hn, ncclGetUniqueId)
        LOAD(hn, ncclCommInitRank)
        LOAD(hn, ncclCommDestroy)
        LOAD(hn, ncclCommAbort)
        LOAD(hn, ncclAllReduce)
        LOAD(hn, ncclBroadcast)
        LOAD(hn, ncclAllGather)
        LOAD(hn, ncclReduceScatter)
        LOAD(hn, ncclSend)
        LOAD(hn, ncclRecv)
        LOAD(hn, ncclGetErrorString)
        LOAD(hc, cudaSetDevice)
        LOAD(hc, cudaGetDeviceCount)
        LOAD(hc, cudaGetDevice)
        LOAD(hc, cudaStreamCreate)
        LOAD(hc, cudaStreamDestroy)
        LOAD(hc, cudaStreamQuery)
        LOAD(hc, cudaGetErrorString)
#undef LOAD
        int n = 0;
        if (loaded == 1 && (p_cudaGetDeviceCount(&n) != cudaSuccess || n == 0)) {
            loaded = -1;
            snprintf(load_why, sizeof load_why, "backend NCCL: no GPU on this machine");
        }
    }
    lumen_status st = loaded == 1 ? LUMEN_OK : lm_error(LUMEN_ERR_INVALID_ARG, "%s", load_why);
    pthread_mutex_unlock(&load_lock);
    return st;
}

lumen_status lm_coll_nccl_available(void) { return load(); }

static ncclDataType_t nccl_type(int dt)
{
    switch (dt) {
    case LUMEN_DTYPE_INT32: return ncclInt32;
    case LUMEN_DTYPE_INT64: return ncclInt64;
    case LUMEN_DTYPE_FLOAT32: return ncclFloat32;
    case LUMEN_DTYPE_FLOAT64: return ncclFloat64;
    default: return ncclUint8;
    }
}

static ncclRedOp_t nccl_op(int op)
{
    switch (op) {
    case LUMEN_REDUCE_SUM: return ncclSum;
    case LUMEN_REDUCE_PROD: return ncclProd;
    case LUMEN_REDUCE_MIN: return ncclMin;
    default: return ncclMax;
    }
}

lumen_status lm_coll_nccl_setup(lm_rt *rt, lm_coll_group *g, int li)
{
    (void)rt;
    lumen_status st = load();
    if (st != LUMEN_OK)
        return st;
    int grank = g->locals[li];
    pthread_mutex_lock(&lm_coll.lock);
    if (!g->nccl)
        g->nccl = calloc((size_t)g->nlocal, sizeof(nccl_member));
    nccl_member *m = g->nccl ? &((nccl_member *)g->nccl)[li] : NULL;
    pthread_mutex_unlock(&lm_coll.lock);
    if (!m)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the NCCL communicator");
    /* the member's GPU: the first one lumen assigned to it (an actor or task
     * with num_gpus), else the calling thread's current CUDA device */
    lumen_runtime_context c;
    int dev = 0;
    if (lumen_get_runtime_context(&c) == LUMEN_OK && c.num_gpu_ids > 0)
        dev = c.gpu_ids[0];
    else if (p_cudaGetDevice(&dev) != cudaSuccess)
        dev = 0;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (grank == 0 && p_ncclGetUniqueId(&id) != ncclSuccess)
        memset(&id, 0, sizeof id); /* the others learn it below: an all-zero id */
    st = lm_coll_host_op(g->name, LM_COLL_BROADCAST, &id, &id, sizeof id, LUMEN_DTYPE_UINT8, 0, 0);
    if (st != LUMEN_OK)
        return st;
    static const ncclUniqueId zero;
    if (!memcmp(&id, &zero, sizeof id))
        return lm_error(LUMEN_ERR_INTERNAL, "backend NCCL: member 0 could not make a unique id");
    cudaError_t ce = p_cudaSetDevice(dev);
    if (ce == cudaSuccess)
        ce = p_cudaStreamCreate(&m->stream);
    if (ce != cudaSuccess)
        return lm_error(LUMEN_ERR_INTERNAL, "backend NCCL: CUDA device %d: %s", dev, p_cudaGetErrorString(ce));
    ncclResult_t r = p_ncclCommInitRank(&m->comm, g->world, id, grank);
    if (r != ncclSuccess) {
        p_cudaStreamDestroy(m->stream);
        return lm_error(LUMEN_ERR_INTERNAL, "backend NCCL: ncclCommInitRank: %s", p_ncclGetErrorString(r));
    }
    m->ready = 1;
    return LUMEN_OK;
}

void lm_coll_nccl_free(lm_coll_group *g)
{
    nccl_member *ms = g->nccl;
    if (!ms)
        return;
    for (int i = 0; i < g->nlocal; i++)
        if (ms[i].ready) {
            p_ncclCommDestroy(ms[i].comm);
            p_cudaStreamDestroy(ms[i].stream);
        }
    free(ms);
    g->nccl = NULL;
}

lumen_status lm_coll_nccl_op(lm_coll_group *g, int li, int kind, const void *send, void *recv, size_t count,
                             int dtype, int op, int peer, uint64_t deadline_ns)
{
    nccl_member *m = g->nccl ? &((nccl_member *)g->nccl)[li] : NULL;
    if (!m || !m->ready)
        return lm_error(LUMEN_ERR_INVALID_ARG, "collective group '%s': its NCCL communicator is not set up",
                        g->name);
    /* the host side checks that every member calls the same operation with
     * the same arguments, and bounds the wait for late members */
    if (kind != LM_COLL_REQ_SEND && kind != LM_COLL_REQ_RECV) {
        lumen_status st = lm_coll_host_op(g->name, kind, NULL, NULL, count, dtype, op, 1);
        if (st != LUMEN_OK || kind == LM_COLL_BARRIER)
            return st;
    }
    ncclDataType_t t = nccl_type(dtype);
    ncclResult_t r = ncclSuccess;
    switch (kind) {
    case LM_COLL_ALLREDUCE: r = p_ncclAllReduce(recv, recv, count, t, nccl_op(op), m->comm, m->stream); break;
    case LM_COLL_BROADCAST: r = p_ncclBroadcast(recv, recv, count, t, op, m->comm, m->stream); break;
    case LM_COLL_ALLGATHER: r = p_ncclAllGather(send, recv, count, t, m->comm, m->stream); break;
    case LM_COLL_REDUCESCATTER: r = p_ncclReduceScatter(send, recv, count, t, nccl_op(op), m->comm, m->stream); break;
    case LM_COLL_REQ_SEND: r = p_ncclSend(send, count, t, peer, m->comm, m->stream); break;
    case LM_COLL_REQ_RECV: r = p_ncclRecv(recv, count, t, peer, m->comm, m->stream); break;
    default: break;
    }
    if (r != ncclSuccess)
        return lm_error(LUMEN_ERR_INTERNAL, "collective %s on group '%s': NCCL: %s", lm_coll_kind_name(kind),
                        g->name, p_ncclGetErrorString(r));
    /* wait for the stream, bounded: a peer that never posts its half of a
     * send/recv must not hang this member */
    for (;;) {
        cudaError_t ce = p_cudaStreamQuery(m->stream);
        if (ce == cudaSuccess)
            return LUMEN_OK;
        if (ce != cudaErrorNotReady)
            return lm_error(LUMEN_ERR_INTERNAL, "collective group '%s': CUDA: %s", g->name, p_cudaGetErrorString(ce));
        if (deadline_ns && lm_now_ns() > deadline_ns) {
            p_ncclCommAbort(m->comm);
            m->ready = 0;
            p_cudaStreamDestroy(m->stream);
            return lm_error(LUMEN_ERR_TIMEOUT,
                            "collective operation on group '%s' (NCCL) timed out; its NCCL communicator was "
                            "aborted, destroy the group",
                            g->name);
        }
        sched_yield();
    }
}
