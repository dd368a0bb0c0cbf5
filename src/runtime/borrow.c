/*
 * borrow.c - references that cross ranks: Ray's borrower protocol, counted
 * with weights (weighted reference counting, Bevan/Watson).
 *
 * A reference travels inside a message when a task returns one
 * (lumen_return_ref), when an object holding one is passed to a task, or
 * when an owner answers a borrower's SUBSCRIBE with such a value. Every copy
 * that travels carries a weight, and the owner's count includes the weight
 * of every copy anywhere:
 *   export on the owner: mint LM_REF_WEIGHT more (a local increment);
 *   export on a borrower: give away half of the weight it holds, with no
 *           message at all, so no count change can race another;
 *   import: a borrowed entry adds the weight it received to its own;
 *   a borrowed entry whose last local reference goes returns all its weight
 *           to the owner in one DEC_REF.
 * The owner frees the object when its count reaches zero, which can only
 * happen once every weight has come home. Only a borrower left holding
 * weight 1 must ask the owner for more (ADD_REF), after 30 halvings of one
 * copy; that fallback is the one place where message order across three
 * ranks matters (docs/architecture.md). Borrowers learn an object's value by
 * SUBSCRIBE; the owner answers with VALUE at once or when it completes.
 * Everything here runs with rt->lock held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runtime/runtime.h"

#define LM_REF_WEIGHT ((uint64_t)1 << 30)

void lm_ref_value_write(void *p, lm_oid id, uint64_t weight)
{
    memcpy(p, &id.hi, 8);
    memcpy((char *)p + 8, &id.lo, 8);
    memcpy((char *)p + 16, &weight, 8);
}

lm_oid lm_ref_value_id(const void *p)
{
    lm_oid id;
    memcpy(&id.hi, p, 8);
    memcpy(&id.lo, (const char *)p + 8, 8);
    return id;
}

uint64_t lm_ref_value_weight(const void *p)
{
    uint64_t w;
    memcpy(&w, (const char *)p + 16, 8);
    return w;
}

uint64_t lm_ref_export(lm_rt *rt, lm_oid id)
{
    lm_obj *o = lm_obj_find(rt, id);
    if (lm_oid_owner(id) == rt->rank) {
        if (o)
            o->refs += (int64_t)LM_REF_WEIGHT;
        return LM_REF_WEIGHT;
    }
    if (o && o->units >= 2) {
        uint64_t give = (uint64_t)o->units / 2;
        o->units -= (int64_t)give;
        return give;
    }
    lm_send_small(rt, lm_oid_owner(id), LM_MSG_ADD_REF, id, 0, LM_REF_WEIGHT);
    return LM_REF_WEIGHT;
}

lm_obj *lm_ref_import(lm_rt *rt, lm_oid id, uint64_t weight)
{
    lm_obj *o = lm_obj_find(rt, id);
    if (lm_oid_owner(id) == rt->rank)
        return o; /* the weight came home: it is already in o->refs */
    if (!o) {
        o = lm_obj_new(rt, id); /* refs = 1, PENDING until its value is asked for */
        if (!o) {
            lm_send_small(rt, lm_oid_owner(id), LM_MSG_DEC_REF, id, 0, weight); /* cannot hold it */
            return NULL;
        }
        o->units = (int64_t)weight;
        return o;
    }
    o->refs++;
    o->units += (int64_t)weight;
    return o;
}

void lm_ref_unimport(lm_rt *rt, lm_oid id, uint64_t weight)
{
    lm_obj *o = lm_obj_find(rt, id);
    if (!o)
        return;
    if (lm_oid_owner(id) == rt->rank) {
        if (o->refs <= 0)
            return;
        o->refs -= (int64_t)weight - 1;
        lm_obj_unref(rt, o); /* frees when the count reaches zero */
        return;
    }
    lm_obj_unref(rt, o); /* the weight stays with the entry until it goes */
}

void lm_obj_need_value(lm_rt *rt, lm_obj *o)
{
    if (!lm_obj_borrowed(rt, o) || o->state != LM_OBJ_PENDING || o->subscribed)
        return;
    o->subscribed = 1;
    lm_send_small(rt, lm_oid_owner(o->id), LM_MSG_SUBSCRIBE, o->id, 0, 0);
}

static void send_value(lm_rt *rt, int dest, lm_obj *o)
{
    lm_value_msg m = {.oid = o->id};
    lm_obj_wval(rt, o, &m.val);
    uint8_t refval[LM_REF_VALUE_SIZE];
    lm_oid inner;
    uint64_t weight;
    if (lm_obj_inner_ref(o, &inner, &weight)) {
        /* the subscriber gets its own copy of the reference inside */
        lm_ref_value_write(refval, inner, lm_ref_export(rt, inner));
        m.val.data = refval;
    }
    lm_wbuf w;
    lm_wbuf_init(&w, 64 + (size_t)(m.val.kind == LM_VAL_STORE ? 0 : m.val.size));
    lm_msg_encode_value(&w, &m);
    lm_send_wbuf(rt, dest, &w);
}

void lm_obj_publish(lm_rt *rt, lm_obj *o)
{
    for (int i = 0; i < o->nsubs; i++)
        send_value(rt, o->subs[i], o);
    free(o->subs);
    o->subs = NULL;
    o->nsubs = 0;
}

void lm_handle_subscribe(lm_rt *rt, int src, lm_oid id)
{
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_find(rt, id);
    if (!o || lm_obj_borrowed(rt, o)) {
        char msg[96];
        snprintf(msg, sizeof msg, "object %016llx%016llx was freed by its owner (rank %d)",
                 (unsigned long long)id.hi, (unsigned long long)id.lo, rt->rank);
        lm_value_msg m = {.oid = id, .val = {.kind = LM_VAL_ERROR, .data = msg, .size = strlen(msg)}};
        lm_wbuf w;
        lm_wbuf_init(&w, 160);
        lm_msg_encode_value(&w, &m);
        lm_send_wbuf(rt, src, &w);
    } else if (o->state == LM_OBJ_PENDING) {
        int *subs = realloc(o->subs, sizeof(int) * (size_t)(o->nsubs + 1));
        if (subs) {
            o->subs = subs;
            o->subs[o->nsubs++] = src;
        }
    } else {
        send_value(rt, src, o);
    }
    pthread_mutex_unlock(&rt->lock);
}

void lm_handle_value(lm_rt *rt, const lm_value_msg *m)
{
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_find(rt, m->oid);
    if (o && lm_obj_borrowed(rt, o) && o->state == LM_OBJ_PENDING) {
        lm_obj_complete(rt, o, &m->val); /* imports a reference inside */
        lm_dispatch_pending(rt);
    } else if (m->val.kind == LM_VAL_INLINE && m->val.type == LUMEN_TYPE_REF) {
        /* nobody here wants it any more: send the weight home */
        lm_oid inner = lm_ref_value_id(m->val.data);
        uint64_t weight = lm_ref_value_weight(m->val.data);
        if (lm_ref_import(rt, inner, weight))
            lm_ref_unimport(rt, inner, weight);
    }
    pthread_mutex_unlock(&rt->lock);
}

void lm_handle_refcount(lm_rt *rt, lm_oid id, int64_t delta)
{
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_find(rt, id);
    if (o && !lm_obj_borrowed(rt, o) && delta != 0) {
        if (delta > 0) {
            o->refs += delta;
        } else if (o->refs > 0) {
            int64_t n = -delta < o->refs ? -delta : o->refs;
            o->refs -= n - 1;
            lm_obj_unref(rt, o);
        }
    }
    pthread_mutex_unlock(&rt->lock);
}
