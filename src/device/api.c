/*
 * api.c - the public calls of lumen/device.h: the backend's helpers, and
 * putting and reading device objects (their table and data path are in
 * objects.c). Arguments are checked here, so bad input never reaches a copy.
 */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "device/device.h"
#include "runtime/runtime.h"

static const lm_dev_backend *backend_or_error(lumen_status *st)
{
    const lm_dev_backend *b = lm_dev_backend_get();
    *st = b ? LUMEN_OK : lm_error(LUMEN_ERR_UNSUPPORTED, "%s", lm_dev_why_none());
    return b;
}

const char *lumen_device_backend(void)
{
    const lm_dev_backend *b = lm_dev_backend_get();
    return b ? b->name : "none";
}

int lumen_device_count(void)
{
    lumen_status st;
    const lm_dev_backend *b = backend_or_error(&st);
    return b ? b->count : 0;
}

lumen_status lumen_device_alloc(int device, size_t size, void **ptr)
{
    lumen_status st;
    const lm_dev_backend *b = backend_or_error(&st);
    if (!b)
        return st;
    if (!ptr)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_device_alloc: ptr is NULL");
    *ptr = NULL;
    if (device < 0 || device >= b->count)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "device %d: this process sees %d (%s)", device, b->count, b->name);
    return b->alloc(device, size, ptr);
}

lumen_status lumen_device_free(void *ptr)
{
    lumen_status st;
    const lm_dev_backend *b = backend_or_error(&st);
    if (!b)
        return st;
    if (!ptr)
        return LUMEN_OK; /* as free(NULL) */
    int device = b->where(ptr);
    if (device < 0)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_device_free: %p is not device memory", ptr);
    return b->free(device, ptr);
}

lumen_status lumen_device_copy(void *dst, const void *src, size_t size)
{
    lumen_status st;
    const lm_dev_backend *b = backend_or_error(&st);
    if (!b)
        return st;
    if ((!dst || !src) && size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_device_copy: NULL %s", dst ? "src" : "dst");
    if (!size)
        return LUMEN_OK;
    int device = b->where(dst);
    if (device < 0)
        device = b->where(src);
    return b->copy(device, dst, src, size);
}

int lumen_device_of(const void *ptr)
{
    const lm_dev_backend *b = lm_dev_backend_get();
    return b && ptr ? b->where(ptr) : -1;
}

/* A copy of [src, src + size) in new device memory on src's device. */
static lumen_status copy_in(const lm_dev_backend **bp, const char *who, const void *src, size_t size, void **p,
                            int *device)
{
    lumen_status st;
    const lm_dev_backend *b = *bp = backend_or_error(&st);
    if (!b)
        return st;
    if (!src)
        return lm_error(LUMEN_ERR_INVALID_ARG, "%s: src is NULL", who);
    *device = b->where(src);
    if (*device < 0)
        return lm_error(LUMEN_ERR_INVALID_ARG, "%s: %p is not %s device memory (lumen_put takes host memory)", who,
                        src, b->name);
    size_t room = b->room(src);
    if (room && room < size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "%s: %zu bytes asked, the memory at %p holds %zu", who, size, src,
                        room);
    st = b->alloc(*device, size, p);
    if (st == LUMEN_OK && (st = b->copy(*device, *p, src, size)) != LUMEN_OK)
        b->free(*device, *p);
    return st;
}

lumen_status lumen_put_device(const void *src, size_t size, lumen_ref *out)
{
    LM_CHECK_INIT(rt);
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_put_device: out is NULL");
    *out = LUMEN_REF_NIL;
    const lm_dev_backend *b;
    void *p;
    int device;
    lumen_status st = copy_in(&b, "lumen_put_device", src, size, &p, &device);
    if (st != LUMEN_OK)
        return st;
    lm_oid id = lm_new_object_id(rt);
    if ((st = lm_dev_keep(id, p, size, device)) != LUMEN_OK) {
        b->free(device, p);
        return st;
    }
    lm_devdesc d = {.magic = LM_DEVDESC_MAGIC, .holder = rt->rank, .device = device, .size = size, .id = id};
    _Static_assert(sizeof d == LM_DEVDESC_SIZE && LM_DEVDESC_SIZE == LM_DEVICE_VALUE_SIZE, "descriptor size");
    if ((st = lm_put_inline(rt, id, LUMEN_TYPE_DEVICE, &d, sizeof d, out)) != LUMEN_OK) {
        lm_dev_release(id);
        lm_dev_reap();
    }
    return st;
}

lumen_status lumen_return_device(lumen_task_ctx *ctx, size_t i, const void *src, size_t size)
{
    LM_CHECK_INIT(rt);
    if (!ctx)
        return lm_error(LUMEN_ERR_INVALID_ARG, "task context is NULL");
    if (i >= lumen_num_returns(ctx))
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "return slot %zu: the call has %zu", i, lumen_num_returns(ctx));
    const lm_dev_backend *b;
    void *p;
    int device;
    lumen_status st = copy_in(&b, "lumen_return_device", src, size, &p, &device);
    if (st != LUMEN_OK)
        return st;
    /* the slot's object is the caller's, its bytes stay here: the caller's
     * free sends FREE to this rank (lm_dev_free_value) */
    lm_oid id = lm_ctx_return_oid(ctx, i);
    lm_devdesc d = {.magic = LM_DEVDESC_MAGIC, .holder = rt->rank, .device = device, .size = size, .id = id};
    if ((st = lm_ctx_return_inline(ctx, i, LUMEN_TYPE_DEVICE, &d, sizeof d)) != LUMEN_OK) {
        b->free(device, p);
        return st;
    }
    if ((st = lm_dev_keep(id, p, size, device)) != LUMEN_OK) {
        b->free(device, p);
        lm_ctx_drop_return(ctx, (int)i); /* the slot says nothing rather than a lie */
    }
    return st;
}

/* the descriptor behind ref, after waiting for it */
static lumen_status describe(lumen_ref ref, int64_t timeout_ms, lm_devdesc *d)
{
    lumen_value v;
    lumen_status st = lm_get_value(ref, timeout_ms, &v, 1);
    if (st != LUMEN_OK)
        return st;
    if (v.type != LUMEN_TYPE_DEVICE)
        return lm_error(LUMEN_ERR_TYPE_MISMATCH, "the object is of type %d, not a device object (use lumen_get)",
                        (int)v.type);
    return lm_devdesc_read(v.data, v.size, d);
}

static lumen_status read_into(lm_rt *rt, const lm_devdesc *d, void *dst, size_t capacity, size_t *size)
{
    if (size)
        *size = (size_t)d->size;
    if (capacity < d->size) /* with dst NULL and capacity 0: a way to ask the size */
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "the device object has %llu bytes, dst only %zu",
                        (unsigned long long)d->size, capacity);
    if (!dst && d->size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "dst is NULL");
    const lm_dev_backend *b = lm_dev_backend_get();
    size_t room = b && dst ? b->room(dst) : 0;
    if (room && room < d->size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "dst holds %zu bytes of device memory, the object %llu", room,
                        (unsigned long long)d->size);
    return lm_dev_read(rt, d, dst);
}

lumen_status lumen_get_device(lumen_ref ref, int64_t timeout_ms, void *dst, size_t capacity, size_t *size)
{
    LM_CHECK_INIT(rt);
    lm_devdesc d;
    lumen_status st = describe(ref, timeout_ms, &d);
    return st != LUMEN_OK ? st : read_into(rt, &d, dst, capacity, size);
}

lumen_status lumen_device_object_info(lumen_ref ref, int64_t timeout_ms, int *rank, int *device, size_t *size)
{
    LM_CHECK_INIT(rt);
    (void)rt;
    lm_devdesc d;
    lumen_status st = describe(ref, timeout_ms, &d);
    if (st != LUMEN_OK)
        return st;
    if (rank)
        *rank = d.holder;
    if (device)
        *device = d.device;
    if (size)
        *size = (size_t)d.size;
    return LUMEN_OK;
}

lumen_status lumen_arg_get_device(const lumen_task_ctx *ctx, size_t i, void *dst, size_t capacity, size_t *size)
{
    LM_CHECK_INIT(rt);
    if (!ctx)
        return lm_error(LUMEN_ERR_INVALID_ARG, "task context is NULL");
    const void *data;
    size_t n;
    lumen_status st = lm_ctx_arg_raw(ctx, i, LUMEN_TYPE_DEVICE, &data, &n);
    lm_devdesc d;
    if (st == LUMEN_OK)
        st = lm_devdesc_read(data, n, &d);
    return st != LUMEN_OK ? st : read_into(rt, &d, dst, capacity, size);
}
