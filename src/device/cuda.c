/*
 * cuda.c - the CUDA backend of device memory, built when CMake finds CUDA.
 *
 * libcudart is opened with dlopen on first use, as the NCCL collective
 * backend does, so a lumen built with CUDA still runs on machines without
 * it: there lm_dev_cuda_open says why and device objects are refused with
 * that reason. Copies use cudaMemcpy with cudaMemcpyDefault (unified
 * addressing tells host from device memory, on any device); allocation sets
 * the device for the call and puts the caller's current device back.
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
SYM(cudaPointerGetAttributes)
SYM(cudaGetErrorString)
SYM(cudaGetLastError)
SYM(cudaMallocHost)
SYM(cudaFreeHost)

static lumen_status cuda_alloc(int device, size_t size, void **p)
{
    int prev = 0;
    p_cudaGetDevice(&prev);
    cudaError_t ce = p_cudaSetDevice(device);
    if (ce == cudaSuccess)
        ce = p_cudaMalloc(p, size ? size : 1);
    p_cudaSetDevice(prev);
    if (ce != cudaSuccess)
        return lm_error(ce == cudaErrorMemoryAllocation ? LUMEN_ERR_NO_MEMORY : LUMEN_ERR_INTERNAL,
                        "CUDA device %d: cannot allocate %zu bytes: %s", device, size, p_cudaGetErrorString(ce));
    return LUMEN_OK;
}

static void cuda_free(void *p) { p_cudaFree(p); }

static int cuda_where(const void *p)
{
    struct cudaPointerAttributes a;
    if (p_cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        p_cudaGetLastError(); /* older runtimes fail on plain host memory: that is an answer, not an error */
        return -1;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged ? a.device : -1;
}

static lumen_status cuda_copy(void *dst, const void *src, size_t size)
{
    if (!size)
        return LUMEN_OK;
    cudaError_t ce = p_cudaMemcpy(dst, src, size, cudaMemcpyDefault);
    if (ce != cudaSuccess)
        return lm_error(LUMEN_ERR_IO, "CUDA copy of %zu bytes failed: %s", size, p_cudaGetErrorString(ce));
    return LUMEN_OK;
}

/* pinned host memory for staging: copies to and from the device at full speed */
static lumen_status cuda_host_alloc(size_t size, void **p)
{
    cudaError_t ce = p_cudaMallocHost(p, size);
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
    .copy = cuda_copy,
    .host_alloc = cuda_host_alloc,
    .host_free = cuda_host_free,
};

const lm_dev_backend *lm_dev_cuda_open(char *why, size_t why_len)
{
    void *h = dlopen("libcudart.so", RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        h = dlopen("libcudart.so.13", RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        h = dlopen("libcudart.so.12", RTLD_NOW | RTLD_GLOBAL);
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
