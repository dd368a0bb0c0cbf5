/*
 * cuda.c - the CUDA backend of device memory, built when CMake finds CUDA.
 *
 * libcudart is opened with dlopen on first use, as the NCCL collective
 * backend does, so a lumen built with CUDA still runs on machines without
 * it: there lm_dev_cuda_open says why and device objects are refused with
 * that reason. A runtime the program already loaded is used first, so lumen
 * and the program share one.
 *
 * Every call that touches device memory makes its device current for the
 * call (an allocation, a copy from or into an object, a free) and puts the
 * caller's current device back, except on lumen's own threads, where
 * restoring the default (0) would create a context on device 0 for nothing.
 * Copies use cudaMemcpy with cudaMemcpyDefault (unified addressing tells
 * host from device memory, on any device) and then synchronise the legacy
 * default stream: cudaMemcpy may return before a device-to-device copy (or
 * one from pageable memory) is done, and lumen's copies must be complete
 * when they return (a put's source may be reused, a send reads the bytes).
 * The producer's own stream is the caller's: synchronise it before a put.
 */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>

#include "common/error.h"
#include "device/device.h"

#define SYM(name) static __typeof__(&name) p_##name;
SYM(cudaGetDeviceCount)
SYM(cudaGetDevice)
SYM(cudaSetDevice)
SYM(cudaMalloc)
SYM(cudaFree)
SYM(cudaMemcpy)
SYM(cudaStreamSynchronize)
SYM(cudaPointerGetAttributes)
SYM(cudaGetErrorString)
SYM(cudaGetLastError)
SYM(cudaMallocHost)
SYM(cudaFreeHost)

/* make device current for a call; *prev: what to put back (-1: nothing) */
static cudaError_t enter(int device, int *prev)
{
    *prev = -1;
    if (device < 0)
        return cudaSuccess;
    int cur = -1;
    if (p_cudaGetDevice(&cur) != cudaSuccess)
        cur = -1;
    if (cur == device)
        return cudaSuccess;
    cudaError_t ce = p_cudaSetDevice(device);
    if (ce == cudaSuccess && cur >= 0 && !lm_dev_on_internal_thread)
        *prev = cur;
    return ce;
}

static void leave(int prev)
{
    if (prev >= 0)
        p_cudaSetDevice(prev);
}

static lumen_status cuda_alloc(int device, size_t size, void **p)
{
    int prev;
    cudaError_t ce = enter(device, &prev);
    if (ce == cudaSuccess)
        ce = p_cudaMalloc(p, size ? size : 1);
    leave(prev);
    if (ce != cudaSuccess)
        return lm_error(ce == cudaErrorMemoryAllocation ? LUMEN_ERR_NO_MEMORY : LUMEN_ERR_INTERNAL,
                        "CUDA device %d: cannot allocate %zu bytes: %s", device, size, p_cudaGetErrorString(ce));
    return LUMEN_OK;
}

static lumen_status cuda_free(int device, void *p)
{
    int prev;
    cudaError_t ce = enter(device, &prev);
    if (ce == cudaSuccess)
        ce = p_cudaFree(p);
    leave(prev);
    if (ce != cudaSuccess)
        return lm_error(ce == cudaErrorInvalidValue || ce == cudaErrorInvalidDevicePointer ? LUMEN_ERR_INVALID_ARG
                                                                                            : LUMEN_ERR_INTERNAL,
                        "CUDA: cannot free %p: %s", p, p_cudaGetErrorString(ce));
    return LUMEN_OK;
}

static int cuda_where(const void *p)
{
    struct cudaPointerAttributes a;
    cudaError_t ce = p_cudaPointerGetAttributes(&a, p);
    if (ce != cudaSuccess) {
        if (ce == cudaErrorInvalidValue)
            p_cudaGetLastError(); /* runtimes before 11 fail on plain host memory: an answer, not an error */
        return -1;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged ? a.device : -1;
}

static size_t cuda_room(const void *p)
{
    (void)p;
    return 0; /* the runtime API cannot tell; cudaMemcpy checks the range */
}

static lumen_status cuda_copy(int device, void *dst, const void *src, size_t size)
{
    if (!size)
        return LUMEN_OK;
    int prev;
    cudaError_t ce = enter(device, &prev);
    if (ce == cudaSuccess)
        ce = p_cudaMemcpy(dst, src, size, cudaMemcpyDefault);
    if (ce == cudaSuccess)
        ce = p_cudaStreamSynchronize(cudaStreamLegacy);
    leave(prev);
    if (ce != cudaSuccess)
        return lm_error(LUMEN_ERR_IO, "CUDA copy of %zu bytes failed: %s", size, p_cudaGetErrorString(ce));
    return LUMEN_OK;
}

/* pinned host memory for staging: copies to and from the device at full speed */
static lumen_status cuda_host_alloc(int device, size_t size, void **p)
{
    int prev;
    cudaError_t ce = enter(device, &prev);
    if (ce == cudaSuccess)
        ce = p_cudaMallocHost(p, size);
    leave(prev);
    if (ce != cudaSuccess)
        return lm_error(LUMEN_ERR_NO_MEMORY, "CUDA: cannot pin %zu bytes of host memory: %s", size,
                        p_cudaGetErrorString(ce));
    return LUMEN_OK;
}

static void cuda_host_free(void *p) { p_cudaFreeHost(p); }

static lm_dev_backend cuda_backend = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .free = cuda_free,
    .where = cuda_where,
    .room = cuda_room,
    .copy = cuda_copy,
    .host_alloc = cuda_host_alloc,
    .host_free = cuda_host_free,
};

#define STR_(x) #x
#define STR(x) STR_(x)
#ifndef LUMEN_CUDART_MAJOR /* set by CMake from the toolkit found */
#define LUMEN_CUDART_MAJOR 13
#endif

const lm_dev_backend *lm_dev_cuda_open(char *why, size_t why_len)
{
    /* the runtime the program loaded, else the major version lumen was
     * built with, else whatever libcudart.so is */
    static const char *const loaded[] = {"libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"};
    void *h = NULL;
    for (size_t i = 0; !h && i < sizeof loaded / sizeof loaded[0]; i++)
        h = dlopen(loaded[i], RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    if (!h)
        h = dlopen("libcudart.so." STR(LUMEN_CUDART_MAJOR), RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        h = dlopen("libcudart.so", RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        snprintf(why, why_len, "no device memory: cannot load libcudart (%s)", dlerror());
        return NULL;
    }
#define LOAD(name)                                                                    \
    if (!(*(void **)&p_##name = dlsym(h, #name))) {                                   \
        snprintf(why, why_len, "no device memory: libcudart lacks %s", #name);        \
        return NULL;                                                                  \
    }
    LOAD(cudaGetDeviceCount)
    LOAD(cudaGetDevice)
    LOAD(cudaSetDevice)
    LOAD(cudaMalloc)
    LOAD(cudaFree)
    LOAD(cudaMemcpy)
    LOAD(cudaStreamSynchronize)
    LOAD(cudaPointerGetAttributes)
    LOAD(cudaGetErrorString)
    LOAD(cudaGetLastError)
    LOAD(cudaMallocHost)
    LOAD(cudaFreeHost)
#undef LOAD
    int n = 0;
    cudaError_t ce = p_cudaGetDeviceCount(&n);
    if (ce != cudaSuccess || n <= 0) {
        snprintf(why, why_len, "no device memory: CUDA sees no GPU (%s)",
                 ce != cudaSuccess ? p_cudaGetErrorString(ce) : "0 devices");
        return NULL;
    }
    cuda_backend.count = n;
    return &cuda_backend;
}
