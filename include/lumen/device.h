/*
 * lumen/device.h - objects in device (GPU) memory: Ray's GPU objects.
 *
 * In Ray an actor method can return a GPU tensor that stays on the GPU that
 * made it (`@ray.method(tensor_transport=...)`); the object store keeps only
 * its metadata, and a reader on another GPU gets the tensor moved
 * device-to-device instead of through the CPU object store. lumen's
 * equivalent:
 *
 *   lumen_put_device(dev_ptr, size, &ref)   the bytes are copied into device
 *        memory owned by this rank, on the device dev_ptr lies on; ref is an
 *        ordinary reference (pass it to tasks and actors, release it, borrow
 *        it) whose value is of type LUMEN_TYPE_DEVICE
 *   lumen_get_device(ref, timeout, dst, capacity, &size)   copies the bytes
 *        into dst, device or host memory, from whichever rank holds them
 *   lumen_arg_get_device(ctx, i, dst, capacity, &size)     the same for a task
 *        or method argument that was a device object's reference
 *
 * Between ranks the bytes move over the object transport: straight from and
 * into device memory when the transport can (the CUDA backend with UCX built
 * with CUDA support; LUMEN_DEVICE_DIRECT=1 forces it, e.g. for a CUDA-aware
 * MPI, =0 forbids it; each rank decides for its own side), otherwise through
 * host staging buffers (pinned on CUDA, kept for reuse): the holder copies
 * into one and sends it, a reader whose dst is device memory receives into
 * one and copies to dst (a host dst receives directly). On the holding rank
 * a read is one device copy. The memory is freed when the object is freed
 * (every reference released), like any object's. timeout_ms bounds the wait
 * for the object to exist; the copy itself ends with the data or an error.
 *
 * Device memory comes from a backend chosen at first use by LUMEN_DEVICE:
 * "cuda" (the default when lumen is built with CUDA and a GPU is visible),
 * "emulated[:N]" (host memory standing in for N devices, so the device path
 * runs on machines without a GPU: tests, CI, laptops), or "none". The
 * lumen_device_* helpers below allocate and copy with that backend, so a
 * program need not link CUDA itself; any cudaMalloc'ed pointer works too.
 */
#ifndef LUMEN_DEVICE_H
#define LUMEN_DEVICE_H

#include <lumen.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "cuda", "emulated" or "none"; the reason for "none" is in
 * lumen_device_count's error. Needs no lumen_init. */
const char *lumen_device_backend(void);
/* Number of devices this process sees (0 when there is no backend; then
 * lumen_last_error() says why). Needs no lumen_init. */
int lumen_device_count(void);

/* Device memory from the backend: size bytes on device 0..count-1. */
lumen_status lumen_device_alloc(int device, size_t size, void **ptr);
lumen_status lumen_device_free(void *ptr);
/* Copy size bytes; dst and src are each host or device memory. */
lumen_status lumen_device_copy(void *dst, const void *src, size_t size);
/* The device ptr lies on, or -1 for host memory. */
int lumen_device_of(const void *ptr);

/* Store a copy of size bytes of device memory as an object held in device
 * memory on this rank (same device as src). LUMEN_ERR_INVALID_ARG when src
 * is not device memory (lumen_put takes host memory), LUMEN_ERR_UNSUPPORTED
 * when there is no device backend. */
lumen_status lumen_put_device(const void *src, size_t size, lumen_ref *out);
/* In a task or actor method: return slot i is a device object holding a
 * copy of size bytes of device memory (Ray: a method with
 * tensor_transport returning a tensor). The bytes stay in this rank's
 * device memory; the caller owns the object (lumen_get_device on the
 * returned reference reads them from here), and its release frees them. */
lumen_status lumen_return_device(lumen_task_ctx *ctx, size_t i, const void *src, size_t size);
/* Wait up to timeout_ms for a device object, then copy its bytes into dst
 * (device or host memory of capacity bytes). *size (may be NULL) gets the
 * object's size. LUMEN_ERR_TYPE_MISMATCH when ref is not a device object,
 * LUMEN_ERR_OUT_OF_RANGE when it does not fit (*size says how big it is;
 * dst NULL with capacity 0 asks just that), LUMEN_ERR_IO when a transfer
 * fails (from another rank, the message names the holder) or a device copy
 * fails, LUMEN_ERR_INVALID_REF when the reference or the object is gone. */
lumen_status lumen_get_device(lumen_ref ref, int64_t timeout_ms, void *dst, size_t capacity, size_t *size);
/* Where a device object lives: the holding rank and its device, and size. */
lumen_status lumen_device_object_info(lumen_ref ref, int64_t timeout_ms, int *rank, int *device, size_t *size);
/* A task or method argument that is a device object (lumen_arg_type gives
 * LUMEN_TYPE_DEVICE): copy its bytes into dst, as lumen_get_device. */
lumen_status lumen_arg_get_device(const lumen_task_ctx *ctx, size_t i, void *dst, size_t capacity, size_t *size);

#ifdef __cplusplus
}
#endif
#endif
