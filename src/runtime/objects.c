/*
 * objects.c - the owner's table of objects: state, value, location, and the
 * reference count that decides when an object is freed everywhere.
 *
 * lumen follows Ray's ownership model: the rank that submits a task (or puts)
 * owns its result objects. The owner alone knows whether an object is
 * pending, ready (inline bytes or a node-store location) or failed, and frees
 * it when its count drops to zero: the local copy, the store block here, or a
 * FREE message to the holder on another node. Other ranks may hold borrowed
 * entries for it (borrow.c): those count as units in the owner's count, and
 * freeing a borrowed entry returns its units with DEC_REF. Everything here
 * runs with rt->lock held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "device/device.h"
#include "runtime/runtime.h"

static size_t bucket(lm_oid id)
{
    uint64_t h = id.hi * 0x9e3779b97f4a7c15ull ^ id.lo * 0xc2b2ae3d27d4eb4full;
    return (size_t)(h >> 40) % LM_OBJ_BUCKETS;
}

lm_obj *lm_obj_find(lm_rt *rt, lm_oid id)
{
    for (lm_obj *o = rt->objs[bucket(id)]; o; o = o->hnext)
        if (lm_oid_eq(o->id, id))
            return o;
    return NULL;
}

lm_obj *lm_obj_new(lm_rt *rt, lm_oid id)
{
    atomic_fetch_add(&rt->changes, 1);
    lm_obj *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->id = id;
    o->refs = 1;
    o->state = LM_OBJ_PENDING;
    size_t b = bucket(id);
    o->hnext = rt->objs[b];
    rt->objs[b] = o;
    rt->num_objs++;
    return o;
}

static void obj_remove(lm_rt *rt, lm_obj *o)
{
    lm_obj **pp = &rt->objs[bucket(o->id)];
    while (*pp && *pp != o)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = o->hnext;
    rt->num_objs--;
}

/* The reference held inside a REF-typed value, if any, and its weight. */
static int inner_ref(const lm_obj *o, lm_oid *inner, uint64_t *weight)
{
    if (o->state != LM_OBJ_READY || o->type != LUMEN_TYPE_REF || o->in_store || !o->data ||
        o->size != LM_REF_VALUE_SIZE)
        return 0;
    *inner = lm_ref_value_id(o->data);
    *weight = lm_ref_value_weight(o->data);
    return 1;
}

static void obj_free(lm_rt *rt, lm_obj *o)
{
    atomic_fetch_add(&rt->changes, 1);
    obj_remove(rt, o);
    lm_oid inner;
    uint64_t weight;
    int has_inner = inner_ref(o, &inner, &weight);
    if (lm_obj_borrowed(rt, o)) {
        /* not ours to delete: drop our pin and give the owner its units back */
        if (o->pinned)
            lm_store_unpin(rt->store, o->id);
        if (o->units > 0)
            lm_send_small(rt, lm_oid_owner(o->id), LM_MSG_DEC_REF, o->id, 0, (uint64_t)o->units);
    } else if (o->type == LUMEN_TYPE_DEVICE && o->state == LM_OBJ_READY) {
        lm_dev_free_value(rt, o->id, o->data, o->size); /* its bytes, here or on the rank that made them */
    } else if (o->in_store) {
        if (o->node == rt->node_id) {
            if (o->pinned)
                lm_store_unpin(rt->store, o->id);
            lm_store_delete(rt->store, o->id);
        } else {
            if (o->local_copy) {
                if (o->pinned)
                    lm_store_unpin(rt->store, o->id);
                lm_store_delete(rt->store, o->id);
            }
            lm_send_small(rt, o->holder, LM_MSG_FREE, o->id, 0, 0);
        }
    }
    free(o->subs);
    free(o->data);
    free(o);
    if (has_inner)
        lm_ref_unimport(rt, inner, weight);
}

void lm_obj_unref(lm_rt *rt, lm_obj *o)
{
    if (--o->refs > 0)
        return;
    if (o->state == LM_OBJ_PENDING && !lm_obj_borrowed(rt, o))
        return; /* orphan: freed when its value arrives */
    obj_free(rt, o);
}

static void finish(lm_rt *rt, lm_obj *o)
{
    o->producer = NULL;
    lm_dep *d = o->deps;
    o->deps = NULL;
    while (d) {
        lm_dep *n = d->next;
        lm_task_dep_ready(rt, d->task, o);
        free(d);
        d = n;
    }
    if (o->watches)
        lm_watches_fire(rt, o);
    if (o->nsubs)
        lm_obj_publish(rt, o);
    if (rt->ready_waiters)
        pthread_cond_broadcast(&rt->ready_cv);
    if (o->refs <= 0)
        obj_free(rt, o);
}

void lm_obj_complete(lm_rt *rt, lm_obj *o, const lm_wval *v)
{
    if (o->state != LM_OBJ_PENDING)
        return;
    switch (v->kind) {
    case LM_VAL_ERROR:
        o->state = LM_OBJ_ERROR;
        o->type = v->type; /* 0 failed, 1 cancelled */
        o->data = malloc(v->size + 1);
        if (o->data) {
            memcpy(o->data, v->data, v->size);
            ((char *)o->data)[v->size] = '\0';
        }
        break;
    case LM_VAL_STORE:
        o->state = LM_OBJ_READY;
        o->type = v->type;
        o->in_store = 1;
        o->node = v->node;
        o->holder = v->holder;
        o->size = v->size;
        break;
    case LM_VAL_INLINE:
    case LM_VAL_NONE:
    default:
        o->state = LM_OBJ_READY;
        o->type = v->kind == LM_VAL_INLINE ? v->type : LUMEN_TYPE_NONE;
        o->size = v->kind == LM_VAL_INLINE ? v->size : 0;
        o->data = malloc(o->size + 1); /* +1: strings read as C strings */
        if (!o->data) {
            o->state = LM_OBJ_ERROR;
            o->type = 0;
            o->data = strdup("out of memory storing a task result");
            break;
        }
        if (o->size)
            memcpy(o->data, v->data, o->size);
        ((char *)o->data)[o->size] = '\0';
        lm_oid inner;
        uint64_t weight;
        if (inner_ref(o, &inner, &weight))
            lm_ref_import(rt, inner, weight); /* the value holds the weight its sender exported */
        break;
    }
    finish(rt, o);
}

void lm_obj_fail(lm_rt *rt, lm_obj *o, const char *msg)
{
    lm_wval v = {.kind = LM_VAL_ERROR, .type = 0, .data = msg, .size = strlen(msg)};
    lm_obj_complete(rt, o, &v);
}

lm_obj *lm_obj_lookup_ref(lm_rt *rt, lumen_ref ref, lumen_status *st)
{
    lm_oid id = lm_oid_from_ref(ref);
    lm_obj *o = lm_obj_find(rt, id);
    if (o && o->refs > 0) { /* the common case: no formatting */
        *st = LUMEN_OK;
        return o;
    }
    char hex[33];
    lumen_ref_hex(ref, hex);
    if (id.lo == 0 || (lm_oid_kind(id) != LM_OID_OBJECT && lm_oid_kind(id) != LM_OID_STREAM)) {
        *st = lm_error(LUMEN_ERR_INVALID_REF, "reference %s is nil or not an object reference", hex);
        return NULL;
    }
    int owner = lm_oid_owner(id);
    if (owner < 0 || owner >= rt->size) {
        *st = lm_error(LUMEN_ERR_INVALID_REF, "reference %s names rank %d, not in this job", hex, owner);
        return NULL;
    }
    if (lm_oid_epoch(id) != rt->epoch) {
        *st = lm_error(LUMEN_ERR_INVALID_REF, "reference %s is from an earlier lumen session", hex);
        return NULL;
    }
    *st = lm_error(LUMEN_ERR_INVALID_REF, "reference %s is unknown on rank %d or already released", hex,
                   rt->rank);
    return NULL;
}

/* ---- public helpers on lumen_ref values -------------------------------- */
int lumen_ref_is_nil(lumen_ref ref) { return ref.opaque_[0] == 0 && ref.opaque_[1] == 0; }

int lumen_ref_equal(lumen_ref a, lumen_ref b)
{
    return a.opaque_[0] == b.opaque_[0] && a.opaque_[1] == b.opaque_[1];
}

void lumen_ref_hex(lumen_ref ref, char out[33])
{
    if (!out)
        return;
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)ref.opaque_[0],
             (unsigned long long)ref.opaque_[1]);
}

void lm_obj_wval(lm_rt *rt, lm_obj *o, lm_wval *v)
{
    (void)rt;
    memset(v, 0, sizeof *v);
    if (o->state == LM_OBJ_ERROR) {
        v->kind = LM_VAL_ERROR;
        v->type = o->type;
        v->data = o->data ? o->data : "";
        v->size = strlen(v->data);
    } else if (o->in_store) {
        v->kind = LM_VAL_STORE;
        v->type = o->type;
        v->oid = o->id;
        v->node = o->node;
        v->holder = o->holder;
        v->size = o->size;
    } else {
        v->kind = LM_VAL_INLINE;
        v->type = o->type == LUMEN_TYPE_NONE ? LUMEN_TYPE_BYTES : o->type; /* empty reads as 0 bytes */
        v->data = o->data;
        v->size = o->size;
    }
}

int lm_obj_inner_ref(const lm_obj *o, lm_oid *inner, uint64_t *weight) { return inner_ref(o, inner, weight); }
