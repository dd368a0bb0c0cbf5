/*
 * objects_api.c - the public object calls: put, get, wait, zero-copy
 * create/seal, reference dup/release, cancel and store statistics.
 *
 * Values up to rt->inline_threshold live in the owner's memory; larger ones
 * in the node store, where a get on the same node returns a pinned pointer
 * into shared memory (zero-copy, O(1) in the size) and a get on another node
 * first copies the object into this node's store (fetch.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "device/device.h"
#include "runtime/runtime.h"

/* One more round of waiting for store space? What is being written gets
 * sealed (and becomes spillable), what is pinned gets released; frees may
 * arrive as messages, so poll while waiting. */
static int wait_for_space(lm_rt *rt, uint64_t start, useconds_t *nap)
{
    if (atomic_load(&rt->shutdown) || lm_now_ns() - start >= rt->store_wait_ns)
        return 0;
    lm_progress(rt);
    usleep(*nap);
    if (*nap < 20000)
        *nap *= 2;
    return 1;
}

lumen_status lm_store_create_waiting(lm_rt *rt, lm_oid id, size_t size, uint8_t type, void **data)
{
    uint64_t start = lm_now_ns();
    useconds_t nap = 100;
    lumen_status st;
    while ((st = lm_store_create_object(rt->store, id, size, type, data)) == LUMEN_ERR_STORE_FULL &&
           wait_for_space(rt, start, &nap))
        ;
    return st;
}

lumen_status lm_store_pin_waiting(lm_rt *rt, lm_oid id, const void **data, size_t *size, uint8_t *type)
{
    uint64_t start = lm_now_ns();
    useconds_t nap = 100;
    lumen_status st;
    while ((st = lm_store_pin(rt->store, id, data, size, type)) == LUMEN_ERR_STORE_FULL &&
           wait_for_space(rt, start, &nap))
        ;
    return st;
}

lm_oid lm_new_object_id(lm_rt *rt)
{
    uint64_t seq = atomic_fetch_add(&rt->seq, 1) + 1;
    return lm_oid_make(rt->rank, 0, LM_OID_OBJECT, rt->epoch, seq);
}

/* Register a new READY object owned here; rt->lock held. */
static lumen_status add_ready(lm_rt *rt, lm_oid id, const lm_wval *v, lumen_ref *out)
{
    lm_obj *o = lm_obj_new(rt, id);
    if (!o)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for an object entry");
    lm_obj_complete(rt, o, v);
    *out = lm_ref_from_oid(id);
    return LUMEN_OK;
}

lumen_status lm_put_inline(lm_rt *rt, lm_oid id, uint8_t type, const void *data, size_t size, lumen_ref *out)
{
    lm_wval v = {.kind = LM_VAL_INLINE, .type = type, .data = data, .size = size};
    pthread_mutex_lock(&rt->lock);
    lumen_status st = add_ready(rt, id, &v, out);
    pthread_mutex_unlock(&rt->lock);
    return st;
}

lumen_status lumen_put(const void *data, size_t size, lumen_ref *out)
{
    LM_CHECK_INIT(rt);
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_put: out is NULL");
    *out = LUMEN_REF_NIL;
    if (!data && size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_put: data is NULL with size %zu", size);
    lm_oid id = lm_new_object_id(rt);
    lm_wval v = {.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_BYTES, .data = data, .size = size};
    if (size > rt->inline_threshold) {
        void *p;
        lumen_status st = lm_store_create_waiting(rt, id, size, LUMEN_TYPE_BYTES, &p);
        if (st != LUMEN_OK)
            return st;
        memcpy(p, data, size);
        lm_store_seal(rt->store, id);
        v.kind = LM_VAL_STORE;
        v.node = rt->node_id;
        v.holder = rt->rank;
        v.oid = id;
    }
    pthread_mutex_lock(&rt->lock);
    lumen_status st = add_ready(rt, id, &v, out);
    pthread_mutex_unlock(&rt->lock);
    if (st != LUMEN_OK && v.kind == LM_VAL_STORE)
        lm_store_delete(rt->store, id);
    return st;
}

struct lumen_object_builder {
    lm_oid id;
    size_t size;
    void *inline_buf; /* small objects; NULL when in the store */
};

lumen_status lumen_object_create(size_t size, lumen_object_builder **builder, void **data)
{
    LM_CHECK_INIT(rt);
    if (!builder || !data)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_object_create: NULL output pointer");
    *builder = NULL;
    *data = NULL;
    lumen_object_builder *b = calloc(1, sizeof *b);
    if (!b)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a builder");
    b->id = lm_new_object_id(rt);
    b->size = size;
    lumen_status st;
    if (size <= rt->inline_threshold) {
        b->inline_buf = malloc(size ? size : 1);
        st = b->inline_buf ? LUMEN_OK : lm_error(LUMEN_ERR_NO_MEMORY, "no memory for %zu bytes", size);
        *data = b->inline_buf;
    } else {
        st = lm_store_create_waiting(rt, b->id, size, LUMEN_TYPE_BYTES, data);
    }
    if (st != LUMEN_OK) {
        free(b->inline_buf);
        free(b);
        return st;
    }
    *builder = b;
    return LUMEN_OK;
}

lumen_status lumen_object_seal(lumen_object_builder *b, lumen_ref *out)
{
    LM_CHECK_INIT(rt);
    if (!b || !out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_object_seal: NULL argument");
    lm_wval v = {.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_BYTES, .data = b->inline_buf, .size = b->size};
    if (!b->inline_buf) {
        lumen_status st = lm_store_seal(rt->store, b->id);
        if (st != LUMEN_OK)
            return st;
        v.kind = LM_VAL_STORE;
        v.node = rt->node_id;
        v.holder = rt->rank;
        v.oid = b->id;
    }
    pthread_mutex_lock(&rt->lock);
    lumen_status st = add_ready(rt, b->id, &v, out);
    pthread_mutex_unlock(&rt->lock);
    free(b->inline_buf);
    free(b);
    return st;
}

lumen_status lumen_object_abort(lumen_object_builder *b)
{
    LM_CHECK_INIT(rt);
    if (!b)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_object_abort: NULL builder");
    if (!b->inline_buf)
        lm_store_abort(rt->store, b->id);
    free(b->inline_buf);
    free(b);
    return LUMEN_OK;
}

/* ---- get / wait --------------------------------------------------------- */
static int obj_settled(lm_rt *rt, void *arg)
{
    lm_obj *o = lm_obj_find(rt, *(lm_oid *)arg);
    return !o || (o->state != LM_OBJ_PENDING && !o->fetching);
}

static uint64_t deadline_of(int64_t timeout_ms)
{
    if (timeout_ms < 0)
        return 0;
    return lm_now_ns() + (uint64_t)timeout_ms * 1000000ull + 1;
}

static void fill_value(lumen_value *out, uint8_t type, const void *data, size_t size, int raw)
{
    memset(out, 0, sizeof *out);
    lm_devdesc d;
    if (type == LUMEN_TYPE_DEVICE && !raw) { /* the bytes are in device memory: their size, no pointer */
        out->type = LUMEN_TYPE_DEVICE;
        out->size = lm_devdesc_read(data, size, &d) == LUMEN_OK ? (size_t)d.size : 0;
        return;
    }
    if (type == LUMEN_TYPE_REF && size == LM_REF_VALUE_SIZE) {
        memcpy(&out->ref.opaque_[0], data, 8);
        memcpy(&out->ref.opaque_[1], (const char *)data + 8, 8);
    }
    out->type = (lumen_type)type;
    out->data = data;
    out->size = size;
    if (type == LUMEN_TYPE_STR && size > 0)
        out->size = size - 1; /* stored with its NUL */
    if (type == LUMEN_TYPE_REF)
        out->size = 16; /* the reference; its weight is lumen's business */
    if (type == LUMEN_TYPE_I64 && size == 8)
        memcpy(&out->i64, data, 8);
    if (type == LUMEN_TYPE_F64 && size == 8)
        memcpy(&out->f64, data, 8);
}

/* A borrowed object held by another node: copy it into private memory
 * (the owner decides its lifetime, so it does not enter this node's store). */
static lumen_status fetch_private(lm_rt *rt, lm_obj **op, lm_oid id)
{
    lm_obj *o = *op;
    void *buf = malloc(o->size ? o->size : 1);
    if (!buf)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a %zu-byte copy", o->size);
    o->fetching = 1;
    int holder = o->holder;
    size_t size = o->size;
    pthread_mutex_unlock(&rt->lock);
    lumen_status st = lm_fetch_into(rt, holder, id, buf, size);
    pthread_mutex_lock(&rt->lock);
    *op = o = lm_obj_find(rt, id); /* it may have been released meanwhile */
    if (o) {
        o->fetching = 0;
        if (st == LUMEN_OK) {
            free(o->data);
            o->data = buf;
            o->fetched = 1;
            buf = NULL;
        }
    } else if (st == LUMEN_OK) {
        st = lm_error(LUMEN_ERR_INVALID_REF, "reference released during the get");
    }
    pthread_cond_broadcast(&rt->ready_cv);
    free(buf);
    return st;
}

/* Make a store object readable here and pin it once for this rank. Called
 * with rt->lock held; may drop it while copying from another node, so *op
 * is looked up again (NULL if released meanwhile). */
static lumen_status pin_local(lm_rt *rt, lm_obj **op, lm_oid id)
{
    lm_obj *o = *op;
    if (o->pinned || o->fetched)
        return LUMEN_OK;
    const void *p;
    size_t size;
    uint8_t type;
    if (o->node != rt->node_id && lm_obj_borrowed(rt, o))
        return fetch_private(rt, op, id);
    if (o->node != rt->node_id && !o->local_copy) {
        void *dst;
        lumen_status st = lm_store_create_object(rt->store, id, o->size, o->type, &dst);
        if (st != LUMEN_OK)
            return st;
        o->fetching = 1;
        int holder = o->holder;
        size_t osize = o->size;
        pthread_mutex_unlock(&rt->lock);
        st = lm_fetch_into(rt, holder, id, dst, osize);
        pthread_mutex_lock(&rt->lock);
        *op = o = lm_obj_find(rt, id); /* it may have been released meanwhile */
        pthread_cond_broadcast(&rt->ready_cv);
        if (st != LUMEN_OK || !o) {
            lm_store_abort(rt->store, id);
            if (o)
                o->fetching = 0;
            return st != LUMEN_OK ? st : lm_error(LUMEN_ERR_INVALID_REF, "reference released during the get");
        }
        o->fetching = 0;
        lm_store_seal(rt->store, id);
        o->local_copy = 1;
    }
    lumen_status st = lm_store_pin(rt->store, id, &p, &size, &type);
    if (st != LUMEN_OK)
        return st;
    o->pinned = 1;
    o->pin_ptr = p;
    return LUMEN_OK;
}

lumen_status lumen_get(lumen_ref ref, int64_t timeout_ms, lumen_value *out)
{
    return lm_get_value(ref, timeout_ms, out, 0);
}

/* lumen_get; raw: a DEVICE value comes as its descriptor (device/device.h) */
lumen_status lm_get_value(lumen_ref ref, int64_t timeout_ms, lumen_value *out, int raw)
{
    LM_CHECK_INIT(rt);
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_get: out is NULL");
    memset(out, 0, sizeof *out);
    if (lm_tls_in_callback && timeout_ms != 0)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_get may not block inside a completion callback (timeout 0 only)");
    lm_oid id = lm_oid_from_ref(ref);
    lumen_status st;
    uint64_t deadline = deadline_of(timeout_ms);
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_lookup_ref(rt, ref, &st);
    for (;;) {
        if (!o) {
            pthread_mutex_unlock(&rt->lock);
            return st;
        }
        if (o->state != LM_OBJ_PENDING && !o->fetching)
            break;
        lm_obj_need_value(rt, o);
        int settled = o->state != LM_OBJ_PENDING; /* and another thread copies it here */
        pthread_mutex_unlock(&rt->lock);
        if (timeout_ms == 0 && !settled)
            return lm_error(LUMEN_ERR_TIMEOUT, "object not ready");
        /* a settled object being copied: wait for the copy whatever the timeout */
        st = lm_wait_until(rt, obj_settled, &id, timeout_ms == 0 ? 0 : deadline);
        if (st == LUMEN_ERR_TIMEOUT)
            return lm_error(LUMEN_ERR_TIMEOUT, "object not ready after %lld ms", (long long)timeout_ms);
        if (st != LUMEN_OK)
            return st;
        pthread_mutex_lock(&rt->lock);
        o = lm_obj_lookup_ref(rt, ref, &st);
    }
    if (o->state == LM_OBJ_ERROR) {
        st = lm_error_str(lm_obj_status(o), o->data ? o->data : "task failed");
    } else if (o->in_store) {
        /* restoring a spilled object needs space: wait for it like a put,
         * without holding the runtime lock while waiting */
        uint64_t start = lm_now_ns();
        useconds_t nap = 100;
        while ((st = pin_local(rt, &o, id)) == LUMEN_ERR_STORE_FULL && o) {
            pthread_mutex_unlock(&rt->lock);
            int again = wait_for_space(rt, start, &nap);
            pthread_mutex_lock(&rt->lock);
            lumen_status st2;
            o = lm_obj_lookup_ref(rt, ref, &st2);
            if (!o)
                st = st2;
            else if (!again)
                st = lm_error(LUMEN_ERR_STORE_FULL, "object store full for %llu ms: every object is pinned or being written",
                              (unsigned long long)(rt->store_wait_ns / 1000000ull));
            if (!o || !again)
                break;
        }
        if (st == LUMEN_OK)
            fill_value(out, o->type, o->fetched ? o->data : o->pin_ptr, o->size, raw);
    } else {
        fill_value(out, o->type, o->data, o->size, raw);
        st = LUMEN_OK;
    }
    pthread_mutex_unlock(&rt->lock);
    return st;
}

static lumen_status get_scalar(lumen_ref ref, int64_t timeout_ms, lumen_type want, lumen_value *v)
{
    lumen_status st = lumen_get(ref, timeout_ms, v);
    if (st == LUMEN_OK && v->type != want)
        return lm_error(LUMEN_ERR_TYPE_MISMATCH, "object holds type %d, not %d", v->type, want);
    return st;
}

lumen_status lumen_get_i64(lumen_ref ref, int64_t timeout_ms, int64_t *out)
{
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_get_i64: out is NULL");
    lumen_value v;
    lumen_status st = get_scalar(ref, timeout_ms, LUMEN_TYPE_I64, &v);
    if (st == LUMEN_OK)
        *out = v.i64;
    return st;
}

lumen_status lumen_get_f64(lumen_ref ref, int64_t timeout_ms, double *out)
{
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_get_f64: out is NULL");
    lumen_value v;
    lumen_status st = get_scalar(ref, timeout_ms, LUMEN_TYPE_F64, &v);
    if (st == LUMEN_OK)
        *out = v.f64;
    return st;
}

lumen_status lumen_get_many(const lumen_ref *refs, size_t n, int64_t timeout_ms, lumen_value *out)
{
    LM_CHECK_INIT(rt);
    (void)rt;
    if ((!refs || !out) && n)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_get_many: NULL array");
    uint64_t deadline = deadline_of(timeout_ms);
    lumen_status first = LUMEN_OK;
    char msg[1024] = "";
    for (size_t i = 0; i < n; i++) {
        int64_t left = timeout_ms;
        if (timeout_ms > 0) {
            uint64_t now = lm_now_ns();
            left = now >= deadline ? 0 : (int64_t)((deadline - now) / 1000000ull);
        }
        lumen_status st = lumen_get(refs[i], left, &out[i]);
        if (st != LUMEN_OK && first == LUMEN_OK) {
            first = st;
            strncpy(msg, lumen_last_error(), sizeof msg - 1);
        }
    }
    return first == LUMEN_OK ? LUMEN_OK : lm_error(first, "%s", msg);
}

typedef struct wait_arg {
    const lm_oid *ids;
    size_t n, want;
} wait_arg;

static size_t count_ready(lm_rt *rt, const lm_oid *ids, size_t n, int *ready)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        lm_obj *o = lm_obj_find(rt, ids[i]);
        int r = o && o->state != LM_OBJ_PENDING;
        if (ready)
            ready[i] = r;
        c += (size_t)r;
    }
    return c;
}

static int enough_ready(lm_rt *rt, void *arg)
{
    wait_arg *w = arg;
    return count_ready(rt, w->ids, w->n, NULL) >= w->want;
}

lumen_status lumen_wait(const lumen_ref *refs, size_t n, size_t num_returns, int64_t timeout_ms,
                        int *ready, size_t *num_ready)
{
    LM_CHECK_INIT(rt);
    if (n && (!refs || !ready))
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_wait: NULL array");
    if (lm_tls_in_callback && timeout_ms != 0)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_wait may not block inside a completion callback (timeout 0 only)");
    if (num_returns > n)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "lumen_wait: num_returns %zu > %zu refs", num_returns, n);
    lm_oid *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
    lumen_status st = LUMEN_OK;
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < n && st == LUMEN_OK; i++) {
        lm_obj *o = lm_obj_lookup_ref(rt, refs[i], &st);
        if (o)
            lm_obj_need_value(rt, o);
        ids[i] = lm_oid_from_ref(refs[i]);
    }
    pthread_mutex_unlock(&rt->lock);
    if (st == LUMEN_OK) {
        wait_arg w = {ids, n, num_returns};
        if (timeout_ms != 0)
            st = lm_wait_until(rt, enough_ready, &w, deadline_of(timeout_ms));
        if (st == LUMEN_ERR_TIMEOUT)
            st = LUMEN_OK;
        pthread_mutex_lock(&rt->lock);
        size_t c = count_ready(rt, ids, n, ready);
        pthread_mutex_unlock(&rt->lock);
        if (num_ready)
            *num_ready = c;
    }
    free(ids);
    return st;
}

/* ---- references --------------------------------------------------------- */
lumen_status lumen_ref_dup(lumen_ref ref, lumen_ref *out)
{
    LM_CHECK_INIT(rt);
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_ref_dup: out is NULL");
    lumen_status st;
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_lookup_ref(rt, ref, &st);
    if (o) {
        o->refs++;
        *out = ref;
    }
    pthread_mutex_unlock(&rt->lock);
    return st;
}

lumen_status lumen_ref_release(lumen_ref ref)
{
    LM_CHECK_INIT(rt);
    lumen_status st;
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_lookup_ref(rt, ref, &st);
    if (o)
        lm_obj_unref(rt, o);
    pthread_mutex_unlock(&rt->lock);
    if (o && atomic_load(&rt->outbox_n) > 0)
        lm_progress(rt); /* push out a FREE or DEC_REF */
    lm_dev_reap(); /* a device object freed here: its memory, outside rt->lock */
    return st;
}

lumen_status lumen_store_stats_get(lumen_store_stats *out)
{
    LM_CHECK_INIT(rt);
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_store_stats_get: out is NULL");
    lm_store_stats s;
    lm_store_get_stats(rt->store, &s);
    out->capacity = s.capacity;
    out->used = s.used;
    out->num_objects = s.num_objects;
    out->num_spilled = s.num_spilled;
    out->spilled_bytes = s.spilled_bytes;
    out->restored = s.restored;
    lm_dev_stats(&out->device_objects, &out->device_bytes);
    return LUMEN_OK;
}
