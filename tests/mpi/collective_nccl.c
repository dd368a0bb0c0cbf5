/*
 * collective_nccl.c - the NCCL backend of collective groups on device
 * buffers: one member per visible GPU (threads of the driver, each on its
 * own device, at most 4), allreduce (sum, max), broadcast, allgather,
 * reduce-scatter, barrier and send/recv with the data checked on the host,
 * and a mismatched count failing on every member. Built only when lumen is
 * built with CUDA and NCCL; exits 77 (ctest: SKIPPED) when the machine has
 * no GPU or no NCCL library to load.
 */
#include "check.h"

#include <pthread.h>
#include <cuda_runtime_api.h>
#include <lumen/collective.h>

#define N 4096
static int g_world;
static int g_fail;

#define TCHECK(cond, ...)                                                                    \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "member %d: line %d: %s (%s): ", r, __LINE__, #cond, lumen_last_error()); \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
            g_fail = 1;                                                                      \
            return NULL;                                                                     \
        }                                                                                    \
    } while (0)

static void *member(void *arg)
{
    int r = (int)(intptr_t)arg, W = g_world;
    TCHECK(cudaSetDevice(r) == cudaSuccess, "cudaSetDevice");
    TCHECK(lumen_collective_init(W, r, LUMEN_COLL_NCCL, "nccl", NULL) == LUMEN_OK, "init");
    float *d, *d2, h[N * 4];
    TCHECK(cudaMalloc((void **)&d, sizeof(float) * N * 4) == cudaSuccess, "cudaMalloc");
    TCHECK(cudaMalloc((void **)&d2, sizeof(float) * N * 4) == cudaSuccess, "cudaMalloc");
    for (int i = 0; i < N; i++)
        h[i] = (float)(i % 100 + r);
    cudaMemcpy(d, h, sizeof(float) * N, cudaMemcpyHostToDevice);
    TCHECK(lumen_collective_allreduce("nccl", d, N, LUMEN_DTYPE_FLOAT32, LUMEN_REDUCE_SUM) == LUMEN_OK, "allreduce");
    cudaMemcpy(h, d, sizeof(float) * N, cudaMemcpyDeviceToHost);
    for (int i = 0; i < N; i++)
        TCHECK(h[i] == (float)((i % 100) * W + W * (W - 1) / 2), "allreduce [%d] = %g", i, h[i]);
    for (int i = 0; i < N; i++)
        h[i] = (float)(r == 0 ? i : -1);
    cudaMemcpy(d, h, sizeof(float) * N, cudaMemcpyHostToDevice);
    TCHECK(lumen_collective_broadcast("nccl", d, N, LUMEN_DTYPE_FLOAT32, 0) == LUMEN_OK, "broadcast");
    cudaMemcpy(h, d, sizeof(float) * N, cudaMemcpyDeviceToHost);
    for (int i = 0; i < N; i++)
        TCHECK(h[i] == (float)i, "broadcast [%d] = %g", i, h[i]);
    for (int i = 0; i < N; i++)
        h[i] = (float)(r * N + i);
    cudaMemcpy(d, h, sizeof(float) * N, cudaMemcpyHostToDevice);
    TCHECK(lumen_collective_allgather("nccl", d, d2, N, LUMEN_DTYPE_FLOAT32) == LUMEN_OK, "allgather");
    cudaMemcpy(h, d2, sizeof(float) * N * W, cudaMemcpyDeviceToHost);
    for (int i = 0; i < N * W; i++)
        TCHECK(h[i] == (float)i, "allgather [%d] = %g", i, h[i]);
    TCHECK(lumen_collective_reducescatter("nccl", d2, d, N, LUMEN_DTYPE_FLOAT32, LUMEN_REDUCE_MAX) == LUMEN_OK,
           "reducescatter");
    cudaMemcpy(h, d, sizeof(float) * N, cudaMemcpyDeviceToHost);
    for (int i = 0; i < N; i++)
        TCHECK(h[i] == (float)(r * N + i), "reducescatter [%d] = %g", i, h[i]);
    TCHECK(lumen_collective_barrier("nccl") == LUMEN_OK, "barrier");
    if (W > 1 && r < 2) {
        if (r == 0)
            TCHECK(lumen_collective_send("nccl", d2, N, LUMEN_DTYPE_FLOAT32, 1) == LUMEN_OK, "send");
        else {
            TCHECK(lumen_collective_recv("nccl", d, N, LUMEN_DTYPE_FLOAT32, 0) == LUMEN_OK, "recv");
            cudaMemcpy(h, d, sizeof(float) * N, cudaMemcpyDeviceToHost);
            for (int i = 0; i < N; i++)
                TCHECK(h[i] == (float)i, "recv [%d] = %g", i, h[i]);
        }
    }
    if (W > 1) {
        lumen_status st = lumen_collective_allreduce("nccl", d, N + (size_t)r, LUMEN_DTYPE_FLOAT32, LUMEN_REDUCE_SUM);
        TCHECK(st == LUMEN_ERR_OUT_OF_RANGE && strstr(lumen_last_error(), "counts differ"), "mismatch: %d", st);
    }
    TCHECK(lumen_collective_destroy("nccl") == LUMEN_OK, "destroy");
    cudaFree(d);
    cudaFree(d2);
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    int rc = 0;
    if (lumen_is_driver()) {
        int ndev = 0;
        if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
            /* the library says the same */
            lumen_status st = lumen_collective_init(1, 0, LUMEN_COLL_NCCL, "nccl", NULL);
            CHECK(st == LUMEN_ERR_INVALID_ARG);
            printf("collective_nccl: no GPU here (%s): skipped\n", lumen_last_error());
            rc = 77;
        } else {
            g_world = ndev < 4 ? ndev : 4;
            pthread_t t[4];
            for (int i = 0; i < g_world; i++)
                pthread_create(&t[i], NULL, member, (void *)(intptr_t)i);
            for (int i = 0; i < g_world; i++)
                pthread_join(t[i], NULL);
            CHECK(!g_fail);
            printf("collective_nccl: %d members on %d GPUs: OK\n", g_world, g_world);
        }
    }
    CHECK_OK(lumen_finalize());
    return rc;
}
