/*
 * objects.c - the device objects held by this rank, and moving their bytes.
 *
 * A table (id -> device pointer, size, device) of the objects whose bytes
 * this rank holds: those it put (lumen_put_device) and those its tasks
 * returned (lumen_return_device, owned by the caller, freed by the caller's
 * FREE). An entry is pinned while a copy or a send reads it;
 * the owner's release (under rt->lock) leaves the memory to lm_dev_reap,
 * which the progress loop calls outside every lock, or to the last unpin.
 *
 * Serving a reader on another rank (lm_dev_serve, progress role): when the
 * transport moves device memory (lm_dev_direct) the bytes are sent straight
 * from the device buffer; otherwise they are copied to a host staging buffer
 * first (staging.c), given back when the send completes. Reading
 * (lm_dev_read): from this rank's own table with one device copy; from another rank with a FETCH
 * into the destination itself (host memory, or device memory with a direct
 * transport) or into a host staging buffer then one copy to the device.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "device/device.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

typedef struct dev_entry {
    struct dev_entry *next;
    lm_oid id;
    void *ptr;
    size_t size;
    int device;
    int pins;
    int released;
} dev_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dev_entry *entries;
static size_t held_objects, held_bytes;
/* released by the owner (under rt->lock) and not freed there: cudaFree may
 * wait for the device, and rt->lock must not; lm_dev_reap frees them */
static dev_entry *doomed;
static atomic_int ndoomed;
static atomic_size_t nentries; /* entries in the table: every FETCH asks, most find none */

/* lock held */
static dev_entry **find(lm_oid id)
{
    dev_entry **pp = &entries;
    while (*pp && !lm_oid_eq((*pp)->id, id))
        pp = &(*pp)->next;
    return pp;
}

/* lock held: unlink e and put it on the doomed list (lm_dev_reap frees it) */
static void doom(dev_entry *e)
{
    dev_entry **pp = find(e->id);
    if (*pp != e)
        return; /* not in the table (cleared at finalize) */
    *pp = e->next;
    held_objects--;
    held_bytes -= e->size;
    atomic_fetch_sub(&nentries, 1);
    e->next = doomed;
    doomed = e;
    atomic_fetch_add(&ndoomed, 1);
}

static void free_entry(dev_entry *e)
{
    const lm_dev_backend *b = lm_dev_backend_get();
    if (b && e->ptr)
        b->free(e->device, e->ptr);
    free(e);
}

static dev_entry *pin(lm_oid id)
{
    if (atomic_load_explicit(&nentries, memory_order_relaxed) == 0)
        return NULL;
    pthread_mutex_lock(&lock);
    dev_entry *e = *find(id);
    if (e && !e->released)
        e->pins++;
    else
        e = NULL;
    pthread_mutex_unlock(&lock);
    return e;
}

/* the last unpin of a released entry dooms it: freed by lm_dev_reap, not
 * here (a send's completion runs in the transport's poll, under the
 * progress role, and cudaFree may wait for the device) */
static void unpin(dev_entry *e)
{
    pthread_mutex_lock(&lock);
    if (--e->pins == 0 && e->released)
        doom(e);
    pthread_mutex_unlock(&lock);
}

lumen_status lm_devdesc_read(const void *data, size_t size, lm_devdesc *out)
{
    if (!data || size != LM_DEVDESC_SIZE)
        return lm_error(LUMEN_ERR_PROTOCOL, "not a device object descriptor (%zu bytes)", size);
    memcpy(out, data, sizeof *out);
    if (out->magic != LM_DEVDESC_MAGIC || out->holder < 0 || out->device < 0)
        return lm_error(LUMEN_ERR_PROTOCOL, "malformed device object descriptor");
    return LUMEN_OK;
}

lumen_status lm_dev_keep(lm_oid id, void *p, size_t size, int device)
{
    dev_entry *e = calloc(1, sizeof *e);
    if (!e)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a device object");
    e->id = id;
    e->ptr = p;
    e->size = size;
    e->device = device;
    pthread_mutex_lock(&lock);
    e->next = entries;
    entries = e;
    held_objects++;
    held_bytes += size;
    atomic_fetch_add(&nentries, 1);
    pthread_mutex_unlock(&lock);
    return LUMEN_OK;
}

void lm_dev_release(lm_oid id)
{
    pthread_mutex_lock(&lock);
    dev_entry *e = *find(id);
    int gone = e && !e->released && e->pins == 0;
    if (e)
        e->released = 1;
    if (gone)
        doom(e);
    pthread_mutex_unlock(&lock);
}

void lm_dev_free_value(lm_rt *rt, lm_oid id, const void *data, size_t size)
{
    lm_devdesc d;
    if (lm_devdesc_read(data, size, &d) != LUMEN_OK || d.holder >= rt->size)
        return;
    if (d.holder == rt->rank)
        lm_dev_release(id);
    else
        lm_send_small(rt, d.holder, LM_MSG_FREE, id, 0, 0);
}

void lm_dev_reap(void)
{
    if (atomic_load_explicit(&ndoomed, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&lock);
    dev_entry *list = doomed;
    doomed = NULL;
    atomic_store(&ndoomed, 0);
    pthread_mutex_unlock(&lock);
    while (list) {
        dev_entry *e = list;
        list = e->next;
        free_entry(e);
    }
}

int lm_dev_direct(lm_rt *rt)
{
    const char *env = getenv("LUMEN_DEVICE_DIRECT");
    if (env && (strcmp(env, "0") == 0 || strcmp(env, "1") == 0))
        return env[0] == '1';
    const lm_dev_backend *b = lm_dev_backend_get();
    return b && strcmp(b->name, "cuda") == 0 && rt->tp->ops->moves_device && rt->tp->ops->moves_device(rt->tp);
}

typedef struct serve_ctx {
    dev_entry *pinned; /* direct: the entry being read */
    void *staging;     /* staged: the host copy being sent */
} serve_ctx;

static void sent(void *arg, lumen_status st)
{
    (void)st; /* the reader hears of a failure from its own side */
    serve_ctx *c = arg;
    if (c->pinned)
        unpin(c->pinned);
    lm_staging_put(c->staging);
    free(c);
}

int lm_dev_serve(lm_rt *rt, int src, const lm_fetch_msg *m)
{
    dev_entry *e = pin(m->oid);
    if (!e)
        return 0;
    char why[300];
    serve_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        unpin(e);
        lm_fetch_reply_error(rt, src, m->tag, "holder out of memory");
        return 1;
    }
    if (m->offset + m->size > e->size) { /* the decoder made sure the sum does not wrap */
        snprintf(why, sizeof why, "device object of %zu bytes, the reader asked for bytes %llu..%llu", e->size,
                 (unsigned long long)m->offset, (unsigned long long)(m->offset + m->size));
        goto fail;
    }
    size_t size = (size_t)m->size;
    const char *from = (const char *)e->ptr + m->offset;
    if (lm_dev_direct(rt)) {
        c->pinned = e;
    } else {
        lumen_status st = LUMEN_OK;
        if ((st = lm_staging_get(e->device, size, &c->staging)) == LUMEN_OK)
            st = lm_dev_backend_get()->copy(e->device, c->staging, from, size);
        if (st != LUMEN_OK) {
            snprintf(why, sizeof why, "the holder cannot copy the device object to the host: %s", lumen_last_error());
            goto fail;
        }
        from = c->staging;
        unpin(e); /* the bytes are in staging now */
        e = NULL;
    }
    if (rt->tp->ops->send_data(rt->tp, src, m->tag, from, size, sent, c) != LUMEN_OK) {
        snprintf(why, sizeof why, "holder could not send the device object: %s", lumen_last_error());
        c->pinned = NULL;
        goto fail;
    }
    return 1;
fail:
    if (e)
        unpin(e);
    lm_staging_put(c->staging);
    free(c);
    lm_fetch_reply_error(rt, src, m->tag, why);
    return 1;
}

/* Staged reads from another rank above this size go in chunks
 * (LUMEN_DEVICE_CHUNK_KB, default 8 MiB; 0: never), up to LM_DEV_WINDOW
 * in flight: the holder copies chunk k+1 to the host while chunk k
 * travels, and the reader copies chunk k to the device while later ones
 * travel. */
#define LM_DEV_WINDOW 4

static size_t chunk_len(size_t size, size_t chunk, size_t k)
{
    size_t off = k * chunk;
    return size - off < chunk ? size - off : chunk;
}

/* Into dst through staging, chunk bytes at a time (one chunk when the read
 * is not split). *keep_staging is cleared when a receive may still write
 * into staging (the runtime is shutting down): then it must not be reused. */
static lumen_status read_chunked(lm_rt *rt, const lm_devdesc *d, void *dst, int dst_device, char *staging,
                                 size_t chunk, int *keep_staging)
{
    const lm_dev_backend *b = lm_dev_backend_get();
    size_t size = (size_t)d->size, n = size ? (size + chunk - 1) / chunk : 1, next = 0, done = 0;
    lm_fetch *win[LM_DEV_WINDOW];
    lumen_status st = LUMEN_OK;
    char why[300] = "";
    while (done < n && (st == LUMEN_OK || done < next)) {
        while (st == LUMEN_OK && next < n && next - done < LM_DEV_WINDOW) {
            size_t off = next * chunk;
            lumen_status s2;
            lm_fetch *f = lm_fetch_begin(rt, d->holder, d->id, off, staging + off, chunk_len(size, chunk, next), &s2);
            if (!(win[next % LM_DEV_WINDOW] = f)) {
                st = s2;
                snprintf(why, sizeof why, "%s", lumen_last_error());
                break;
            }
            next++;
        }
        if (done == next)
            break;
        lumen_status s2 = lm_fetch_end(rt, win[done % LM_DEV_WINDOW]);
        if (s2 == LUMEN_ERR_SHUTDOWN)
            *keep_staging = 0;
        if (st == LUMEN_OK && s2 != LUMEN_OK) { /* the first error; the chunks in flight still land */
            st = s2;
            snprintf(why, sizeof why, "%s", lumen_last_error());
        }
        if (st == LUMEN_OK) {
            size_t off = done * chunk;
            if ((st = b->copy(dst_device, (char *)dst + off, staging + off, chunk_len(size, chunk, done))) != LUMEN_OK)
                snprintf(why, sizeof why, "%s", lumen_last_error());
        }
        done++;
    }
    return st == LUMEN_OK ? st : lm_error(st, "%s", why);
}

lumen_status lm_dev_read(lm_rt *rt, const lm_devdesc *d, void *dst)
{
    const lm_dev_backend *b = lm_dev_backend_get();
    size_t size = (size_t)d->size;
    /* a descriptor from the wire: the holder is a rank of the job (the
     * owner, for lumen_put_device; the rank that ran the task, for
     * lumen_return_device) */
    if (d->holder >= rt->size)
        return lm_error(LUMEN_ERR_PROTOCOL, "malformed device object descriptor (holder rank %d of %d)", d->holder,
                        rt->size);
    int dst_device = b ? b->where(dst) : -1;
    lumen_status st;
    if (d->holder == rt->rank) {
        dev_entry *e = pin(d->id);
        if (!e)
            return lm_error(LUMEN_ERR_INVALID_REF, "device object no longer held by rank %d", rt->rank);
        if (e->size != size)
            st = lm_error(LUMEN_ERR_PROTOCOL, "device object of %zu bytes, its descriptor says %zu", e->size, size);
        else
            st = b ? b->copy(e->device, dst, e->ptr, size) : lm_error(LUMEN_ERR_INTERNAL, "%s", lm_dev_why_none());
        unpin(e);
        lm_dev_reap(); /* released while we read: freed now, outside every lock */
        return st;
    }
    if (dst_device < 0 || lm_dev_direct(rt))
        return lm_fetch_into(rt, d->holder, d->id, dst, size);
    void *staging;
    if ((st = lm_staging_get(dst_device, size, &staging)) != LUMEN_OK)
        return st;
    size_t chunk = lm_env_count("LUMEN_DEVICE_CHUNK_KB", 8192) << 10;
    if (!chunk || chunk > size)
        chunk = size ? size : 1; /* one piece */
    int keep = 1;
    st = read_chunked(rt, d, dst, dst_device, staging, chunk, &keep);
    if (keep)
        lm_staging_put(staging); /* else a receive may still land in it: the process is ending */
    return st;
}

void lm_dev_stats(size_t *objects, size_t *bytes)
{
    pthread_mutex_lock(&lock);
    *objects = held_objects;
    *bytes = held_bytes;
    pthread_mutex_unlock(&lock);
}

void lm_dev_clear(void)
{
    lm_dev_reap();
    pthread_mutex_lock(&lock);
    dev_entry *list = entries;
    entries = NULL;
    held_objects = held_bytes = 0;
    atomic_store(&nentries, 0);
    pthread_mutex_unlock(&lock);
    while (list) {
        dev_entry *e = list;
        list = e->next;
        free_entry(e); /* sends in flight ended with the transport */
    }
    lm_staging_clear();
}
