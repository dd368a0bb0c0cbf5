/*
 * staging.c - the host buffers device objects pass through when the
 * transport cannot move device memory itself.
 *
 * A staging buffer is used for one transfer, then kept for the next: fresh
 * pages cost a fault each on first touch (a 256 MiB buffer took 0.8-1.4 s
 * to fill here, against 0.03 s for one already touched), and on CUDA the
 * buffers are pinned host memory (cudaMallocHost: full-speed copies to and
 * from the device, and UCX's registration cache keeps them registered),
 * which is slow to allocate (and may stay in UCX's registration cache).
 * Up to LM_STAGING_KEEP buffers, and at most LUMEN_DEVICE_STAGING_MB
 * (default 1024) MiB, are kept; the smallest free one that fits is taken.
 * A buffer given back evicts smaller kept ones to make room; one larger
 * than the limit is freed at once. Thread-safe.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/error.h"
#include "device/device.h"
#include "runtime/config.h"

#define LM_STAGING_KEEP 4
#define HDR 64 /* in front of each buffer: its capacity; keeps 64-byte alignment */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *kept[LM_STAGING_KEEP];
static size_t nkept, kept_bytes;

static size_t cap_of(const char *b) { return *(const size_t *)b; }

static size_t limit_bytes(void)
{
    return lm_env_count("LUMEN_DEVICE_STAGING_MB", 1024) << 20;
}

static void release(const lm_dev_backend *b, char *blk)
{
    if (b->host_free)
        b->host_free(blk);
    else
        free(blk);
}

lumen_status lm_staging_get(int device, size_t size, void **out)
{
    const lm_dev_backend *b = lm_dev_backend_get();
    *out = NULL;
    if (!b)
        return lm_error(LUMEN_ERR_UNSUPPORTED, "%s", lm_dev_why_none());
    if (size > SIZE_MAX - HDR)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "%zu bytes of host staging", size);
    char *blk = NULL;
    pthread_mutex_lock(&lock);
    size_t best = nkept;
    for (size_t i = 0; i < nkept; i++)
        if (cap_of(kept[i]) >= size && (best == nkept || cap_of(kept[i]) < cap_of(kept[best])))
            best = i;
    if (best < nkept) {
        blk = kept[best];
        kept[best] = kept[--nkept];
        kept_bytes -= cap_of(blk);
    }
    pthread_mutex_unlock(&lock);
    if (blk) {
        *out = blk + HDR;
        return LUMEN_OK;
    }
    void *p = NULL;
    lumen_status st = b->host_alloc ? b->host_alloc(device, size + HDR, &p)
                                    : ((p = malloc(size + HDR)) ? LUMEN_OK : LUMEN_ERR_NO_MEMORY);
    if (st != LUMEN_OK || !p)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for %zu bytes of host staging", size);
    *(size_t *)p = size;
    *out = (char *)p + HDR;
    return LUMEN_OK;
}

void lm_staging_put(void *p)
{
    if (!p)
        return;
    const lm_dev_backend *b = lm_dev_backend_get();
    char *blk = (char *)p - HDR;
    size_t limit = limit_bytes();
    if (cap_of(blk) > limit) { /* never kept: keep the others */
        release(b, blk);
        return;
    }
    pthread_mutex_lock(&lock);
    /* room for it: drop the smallest kept buffers while it does not fit */
    while (nkept > 0 && (nkept == LM_STAGING_KEEP || kept_bytes + cap_of(blk) > limit)) {
        size_t small = 0;
        for (size_t i = 1; i < nkept; i++)
            if (cap_of(kept[i]) < cap_of(kept[small]))
                small = i;
        if (cap_of(kept[small]) > cap_of(blk))
            break; /* keep the bigger ones; this one goes */
        char *drop = kept[small];
        kept[small] = kept[--nkept];
        kept_bytes -= cap_of(drop);
        pthread_mutex_unlock(&lock);
        release(b, drop);
        pthread_mutex_lock(&lock);
    }
    int keep = nkept < LM_STAGING_KEEP && kept_bytes + cap_of(blk) <= limit;
    if (keep) {
        kept[nkept++] = blk;
        kept_bytes += cap_of(blk);
    }
    pthread_mutex_unlock(&lock);
    if (!keep)
        release(b, blk);
}

void lm_staging_clear(void)
{
    pthread_mutex_lock(&lock);
    if (nkept == 0) { /* the usual case: not even a backend to ask for */
        pthread_mutex_unlock(&lock);
        return;
    }
    const lm_dev_backend *b = lm_dev_backend_get(); /* chosen already: buffers exist */
    while (nkept > 0) {
        char *blk = kept[--nkept];
        release(b, blk);
    }
    kept_bytes = 0;
    pthread_mutex_unlock(&lock);
}
