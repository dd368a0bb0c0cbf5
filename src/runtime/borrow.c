/*
 * borrow.c - references that cross ranks: Ray's borrower protocol.
 *
 * A reference travels inside a message when a task returns one
 * (lumen_return_ref), when an object holding one is passed to a task, or
 * when an owner answers a borrower's SUBSCRIBE with such a value. Counting
 * stays exact with two rules:
 *   export: before sending, the sender adds one unit to the owner's count
 *           (a local increment on the owner, ADD_REF from anywhere else);
 *   import: the receiver keeps that unit in its entry for the object (a
 *           borrowed entry on a non-owner) and returns all its units with one
 *           DEC_REF when its last local reference goes.
 * A sender's ADD_REF and its own later DEC_REF travel the same pair of ranks,
 * which MPI keeps in order, so the owner's count never reaches zero while a
 * unit is still on its way. Borrowers learn an object's value by SUBSCRIBE;
 * the owner answers with VALUE at once or when the object completes.
 * Everything here runs with rt->lock held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runtime/runtime.h"

static void send_small(lm_rt *rt, int dest, lm_msg_type type, lm_oid id, int tag)
{
    lm_small_msg m = {.oid = id, .tag = tag};
    lm_wbuf w;
    lm_wbuf_init(&w, 40);
    lm_msg_encode_small(&w, type, &m);
    lm_send_wbuf(rt, dest, &w);
}

void lm_ref_export(lm_rt *rt, lm_oid id)
{
    int owner = lm_oid_owner(id);
    if (owner == rt->rank) {
        lm_obj *o = lm_obj_find(rt, id);
        if (o)
            o->refs++;
        return;
    }
    send_small(rt, owner, LM_MSG_ADD_REF, id, 1);
}

lm_obj *lm_ref_import(lm_rt *rt, lm_oid id)
{
    lm_obj *o = lm_obj_find(rt, id);
    if (lm_oid_owner(id) == rt->rank)
        return o; /* the exported unit is already in o->refs */
    if (!o) {
        o = lm_obj_new(rt, id); /* refs = 1, PENDING until its value is asked for */
        if (!o) {
            /* cannot hold it: give the unit straight back */
            send_small(rt, lm_oid_owner(id), LM_MSG_DEC_REF, id, 1);
            return NULL;
        }
        o->units = 1;
        return o;
    }
    o->refs++;
    o->units++;
    return o;
}

void lm_obj_need_value(lm_rt *rt, lm_obj *o)
{
    if (!lm_obj_borrowed(rt, o) || o->state != LM_OBJ_PENDING || o->subscribed)
        return;
    o->subscribed = 1;
    send_small(rt, lm_oid_owner(o->id), LM_MSG_SUBSCRIBE, o->id, 0);
}

static void send_value(lm_rt *rt, int dest, lm_obj *o)
{
    lm_value_msg m = {.oid = o->id};
    lm_obj_wval(rt, o, &m.val);
    lm_oid inner;
    if (lm_obj_inner_ref(o, &inner))
        lm_ref_export(rt, inner); /* the borrower's copy of the reference inside */
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
    } else if (m->val.kind == LM_VAL_INLINE && m->val.type == LUMEN_TYPE_REF && m->val.size == 16) {
        /* nobody here wants it any more: hand the exported unit back */
        lm_oid inner;
        memcpy(&inner.hi, m->val.data, 8);
        memcpy(&inner.lo, (const char *)m->val.data + 8, 8);
        lm_obj *in = lm_ref_import(rt, inner);
        if (in)
            lm_obj_unref(rt, in);
    }
    pthread_mutex_unlock(&rt->lock);
}

void lm_handle_refcount(lm_rt *rt, lm_oid id, int delta)
{
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_find(rt, id);
    if (o && !lm_obj_borrowed(rt, o) && delta != 0) {
        if (delta > 0) {
            o->refs += delta;
        } else if (o->refs > 0) {
            int n = -delta < o->refs ? -delta : o->refs;
            o->refs -= n - 1;
            lm_obj_unref(rt, o);
        }
    }
    pthread_mutex_unlock(&rt->lock);
}
