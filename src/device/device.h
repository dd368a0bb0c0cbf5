/*
 * device.h - device memory and the objects that live in it (private).
 *
 * Two layers:
 *   - a backend (backend.c) that allocates, frees and copies device memory
 *     and says where a pointer lies: CUDA (cuda.c, libcudart opened with
 *     dlopen, built when CMake finds CUDA) or "emulated" (host memory that
 *     lumen treats as a device's, chosen with LUMEN_DEVICE=emulated so the
 *     whole device-object path runs and is tested on machines without a GPU);
 *   - device objects (objects.c): Ray's GPU objects. A lumen_put_device copies
 *     the bytes into device memory owned by the putting rank (which is also
 *     the object's owner) and registers an ordinary lumen object whose value
 *     is a small descriptor (lm_devdesc: holder rank, device, size, id), so
 *     references, borrowing, task arguments and freeing work as for any
 *     object. lumen_return_device does the same for a task's return slot:
 *     the bytes stay on the rank that ran it, the caller owns the object.
 *     A reader on another rank FETCHes the bytes from the holder
 *     (runtime/fetch.c calls lm_dev_serve first): straight from device
 *     memory when the transport moves device memory (UCX built with CUDA),
 *     else through host staging buffers (staging.c). The bytes are freed
 *     when the owner frees the object (runtime/objects.c calls
 *     lm_dev_free_value: a release here, or FREE to the holder).
 * Everything here is thread-safe (one mutex for the table, none held while
 * copying); lm_dev_serve runs on the thread holding the progress role.
 */
#ifndef LUMEN_DEVICE_DEVICE_H
#define LUMEN_DEVICE_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "lumen.h"
#include "store/store.h"

/* ---- backends ------------------------------------------------------------ */
typedef struct lm_dev_backend {
    const char *name; /* "cuda" or "emulated" */
    int count;        /* devices visible to this process */
    /* Each call that touches device memory names the device (-1: host
     * memory only); CUDA makes it current for the call and puts the
     * caller's back (not on lumen's own threads, see lm_dev_internal_thread) */
    lumen_status (*alloc)(int device, size_t size, void **p);
    /* p must be what alloc returned: LUMEN_ERR_INVALID_ARG otherwise */
    lumen_status (*free)(int device, void *p);
    /* the device p (a byte of it) lies on, or -1 for host memory */
    int (*where)(const void *p);
    /* bytes from p to the end of its allocation, 0 when the backend cannot
     * tell (CUDA) */
    size_t (*room)(const void *p);
    /* size bytes from src to dst, each host or device memory; complete
     * (synchronised) when it returns */
    lumen_status (*copy)(int device, void *dst, const void *src, size_t size);
    /* host memory for staging (CUDA: pinned); NULL: malloc/free */
    lumen_status (*host_alloc)(int device, size_t size, void **p);
    void (*host_free)(void *p);
} lm_dev_backend;

/* The backend of this process, chosen once (LUMEN_DEVICE: "cuda",
 * "emulated[:N]", "none", or unset for CUDA when it loads and sees a GPU);
 * NULL when there is none, with the reason in lm_dev_why_none(). */
const lm_dev_backend *lm_dev_backend_get(void);
const char *lm_dev_why_none(void);
/* Mark the calling thread as lumen's own (the progress thread): the CUDA
 * backend leaves the device it set current there instead of restoring the
 * thread's default, which would create a context on device 0 for nothing. */
void lm_dev_internal_thread(void);
extern _Thread_local int lm_dev_on_internal_thread;

#ifdef LUMEN_HAVE_CUDA
/* CUDA through dlopen(libcudart); NULL with the reason in why */
const lm_dev_backend *lm_dev_cuda_open(char *why, size_t why_len);
#endif
const lm_dev_backend *lm_dev_emulated_open(int count);

/* ---- staging (staging.c) ------------------------------------------------- */
/* A host buffer of at least size bytes (kept ones are reused). Give it back
 * with lm_staging_put. */
lumen_status lm_staging_get(int device, size_t size, void **out);
void lm_staging_put(void *p);
void lm_staging_clear(void); /* finalize: free the kept buffers */

/* ---- device objects ------------------------------------------------------ */
/* The value of a device object: what any rank needs to read it. */
#define LM_DEVDESC_MAGIC 0x3156444cu /* "LDV1" */
#define LM_DEVDESC_SIZE 40
typedef struct lm_devdesc {
    uint32_t magic;
    int32_t holder; /* rank whose device memory holds the bytes */
    int32_t device; /* device ordinal on that rank */
    uint32_t pad;
    uint64_t size;
    lm_oid id; /* the object's id (the key in the holder's table) */
} lm_devdesc;

/* Parse a DEVICE value; LUMEN_ERR_PROTOCOL when it is not one. */
lumen_status lm_devdesc_read(const void *data, size_t size, lm_devdesc *out);

struct lm_rt;
struct lm_fetch_msg;
/* Keep p (size bytes on device, allocated by the backend) as object id. */
lumen_status lm_dev_keep(lm_oid id, void *p, size_t size, int device);
/* The owner freed the object (rt->lock held): its bytes are freed by the
 * next lm_dev_reap, or by the last send in flight that reads them. */
void lm_dev_release(lm_oid id);
/* A DEVICE value nobody will read again (the owner freed its object, or a
 * result came too late): release its bytes here, or send FREE to the rank
 * holding them (rt->lock may be held). */
void lm_dev_free_value(struct lm_rt *rt, lm_oid id, const void *data, size_t size);
/* Free the released device memory; called by lm_progress outside every lock
 * (one atomic load when there is nothing to free). */
void lm_dev_reap(void);
/* Progress role: serve a FETCH if it names a device object held here
 * (1: answered, data or error on its way), else 0 (not a device object). */
int lm_dev_serve(struct lm_rt *rt, int src, const struct lm_fetch_msg *m);
/* Copy a device object's bytes into dst (host or device memory) of at
 * least d->size bytes, from this rank's table or from the holder. */
lumen_status lm_dev_read(struct lm_rt *rt, const lm_devdesc *d, void *dst);
/* Whether this rank's transport sends and receives device memory itself. */
int lm_dev_direct(struct lm_rt *rt);
/* Counts for lumen_store_stats: objects and bytes held here. */
void lm_dev_stats(size_t *objects, size_t *bytes);
/* Finalize: free every device object held here. */
void lm_dev_clear(void);

#endif
