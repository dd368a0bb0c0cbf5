/*
 * task_ctx.c - what a remote function sees: its typed arguments and its
 * return slots (the lumen_arg_get_* and lumen_return_* calls).
 *
 * Small results are kept as inline bytes for the DONE message; results over
 * the inline threshold are written into this node's store under the return
 * object's id, so the owner (or a later task) reads them without a copy when
 * it is on this node. Owns nothing beyond the context of the running task.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "device/device.h"
#include "runtime/runtime.h"

#define CTX_CHECK(c)                                                                 \
    if (!(c))                                                                        \
        return lm_error(LUMEN_ERR_INVALID_ARG, "task context is NULL");

static lm_oid return_oid(const lumen_task_ctx *c, size_t i)
{
    lm_oid t = c->task->m.task_id;
    return lm_oid_make(lm_oid_owner(t), (unsigned)i + 1, LM_OID_OBJECT, lm_oid_epoch(t), t.lo);
}

size_t lumen_num_args(const lumen_task_ctx *c) { return c ? c->task->m.nargs : 0; }

lumen_type lumen_arg_type(const lumen_task_ctx *c, size_t i)
{
    if (!c || i >= c->task->m.nargs)
        return LUMEN_TYPE_NONE;
    return (lumen_type)c->task->m.args[i].type;
}

static lumen_status arg_check(const lumen_task_ctx *c, size_t i, lumen_type want)
{
    CTX_CHECK(c);
    if (i >= c->task->m.nargs)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "argument %zu of '%s': it has %u", i, c->task->m.fn,
                        c->task->m.nargs);
    lumen_type have = (lumen_type)c->task->m.args[i].type;
    if (have != want && !(want == LUMEN_TYPE_BYTES && have == LUMEN_TYPE_STR))
        return lm_error(LUMEN_ERR_TYPE_MISMATCH, "argument %zu of '%s' is of type %d, not %d", i,
                        c->task->m.fn, have, want);
    return LUMEN_OK;
}

lumen_status lumen_arg_get_i64(const lumen_task_ctx *c, size_t i, int64_t *out)
{
    lumen_status st = arg_check(c, i, LUMEN_TYPE_I64);
    if (st == LUMEN_OK && !out)
        st = lm_error(LUMEN_ERR_INVALID_ARG, "out is NULL");
    if (st == LUMEN_OK)
        memcpy(out, c->argp[i], 8);
    return st;
}

lumen_status lumen_arg_get_f64(const lumen_task_ctx *c, size_t i, double *out)
{
    lumen_status st = arg_check(c, i, LUMEN_TYPE_F64);
    if (st == LUMEN_OK && !out)
        st = lm_error(LUMEN_ERR_INVALID_ARG, "out is NULL");
    if (st == LUMEN_OK)
        memcpy(out, c->argp[i], 8);
    return st;
}

lumen_status lumen_arg_get_bytes(const lumen_task_ctx *c, size_t i, const void **data, size_t *size)
{
    lumen_status st = arg_check(c, i, LUMEN_TYPE_BYTES);
    if (st == LUMEN_OK && (!data || !size))
        st = lm_error(LUMEN_ERR_INVALID_ARG, "data or size is NULL");
    if (st == LUMEN_OK) {
        *data = c->argp[i];
        *size = c->argn[i];
        if (c->task->m.args[i].type == LUMEN_TYPE_STR && *size)
            (*size)--; /* not the NUL */
    }
    return st;
}

lumen_status lumen_arg_get_str(const lumen_task_ctx *c, size_t i, const char **out)
{
    lumen_status st = arg_check(c, i, LUMEN_TYPE_STR);
    if (st == LUMEN_OK && !out)
        st = lm_error(LUMEN_ERR_INVALID_ARG, "out is NULL");
    if (st == LUMEN_OK)
        *out = c->argp[i];
    return st;
}

static lumen_status slot_check(lumen_task_ctx *c, size_t i);

lm_oid lm_ctx_return_oid(const lumen_task_ctx *c, size_t i) { return return_oid(c, i); }

lumen_status lm_ctx_return_inline(lumen_task_ctx *c, size_t i, uint8_t type, const void *data, size_t size)
{
    lumen_status st = slot_check(c, i);
    if (st != LUMEN_OK)
        return st;
    lm_wval *v = &c->rets[i];
    if (!(c->retfree[i] = malloc(size ? size : 1)))
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a %zu-byte result", size);
    if (size)
        memcpy(c->retfree[i], data, size);
    v->kind = LM_VAL_INLINE;
    v->type = type;
    v->data = c->retfree[i];
    v->size = size;
    return LUMEN_OK;
}

lumen_status lm_ctx_arg_raw(const lumen_task_ctx *c, size_t i, lumen_type want, const void **data, size_t *size)
{
    lumen_status st = arg_check(c, i, want);
    if (st == LUMEN_OK) {
        *data = c->argp[i];
        *size = c->argn[i];
    }
    return st;
}

size_t lumen_num_returns(const lumen_task_ctx *c) { return c ? c->task->m.num_returns : 0; }

const char *lumen_task_function(const lumen_task_ctx *c) { return c ? c->task->m.fn : ""; }

/* Forget what slot i held (a failed task, or a slot set twice). */
void lm_ctx_drop_return(lumen_task_ctx *c, int i)
{
    lm_wval *v = &c->rets[i];
    if (v->kind == LM_VAL_INLINE && v->type == LUMEN_TYPE_DEVICE) {
        lm_dev_release(return_oid(c, (size_t)i)); /* lumen_return_device's bytes */
        lm_dev_reap();
    }
    if (v->kind == LM_VAL_STORE) {
        if (v->holder < 0) /* created, not sealed */
            lm_store_abort(c->rt->store, v->oid);
        else
            lm_store_delete(c->rt->store, v->oid);
    }
    if (c->retref[i]) {
        lm_oid id = lm_ref_value_id(v->data);
        pthread_mutex_lock(&c->rt->lock);
        lm_obj *o = lm_obj_find(c->rt, id);
        if (o)
            lm_obj_unref(c->rt, o);
        pthread_mutex_unlock(&c->rt->lock);
        c->retref[i] = 0;
    }
    free(c->retfree[i]);
    c->retfree[i] = NULL;
    memset(v, 0, sizeof *v);
}

static lumen_status slot_check(lumen_task_ctx *c, size_t i)
{
    CTX_CHECK(c);
    if (i >= c->task->m.num_returns)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "return slot %zu of '%s': it has %u", i, c->task->m.fn,
                        c->task->m.num_returns);
    lm_ctx_drop_return(c, (int)i);
    return LUMEN_OK;
}

/* Reserve slot i for size bytes: inline buffer or a store object. */
static lumen_status reserve(lumen_task_ctx *c, size_t i, uint8_t type, size_t size, void **data)
{
    lumen_status st = slot_check(c, i);
    if (st != LUMEN_OK)
        return st;
    lm_wval *v = &c->rets[i];
    v->type = type;
    v->size = size;
    if (size <= c->rt->inline_threshold || type == LUMEN_TYPE_I64 || type == LUMEN_TYPE_F64 ||
        type == LUMEN_TYPE_REF) {
        c->retfree[i] = malloc(size ? size : 1);
        if (!c->retfree[i])
            return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a %zu-byte result", size);
        v->kind = LM_VAL_INLINE;
        v->data = c->retfree[i];
        *data = c->retfree[i];
        return LUMEN_OK;
    }
    lm_oid id = return_oid(c, i);
    st = lm_store_create_waiting(c->rt, id, size, type, data);
    if (st != LUMEN_OK) {
        memset(v, 0, sizeof *v);
        return st;
    }
    v->kind = LM_VAL_STORE;
    v->oid = id;
    v->node = c->rt->node_id;
    v->holder = -1; /* sealed later */
    return LUMEN_OK;
}

static lumen_status put_copy(lumen_task_ctx *c, size_t i, uint8_t type, const void *src, size_t n)
{
    void *dst = NULL;
    lumen_status st = reserve(c, i, type, n, &dst);
    if (st == LUMEN_OK && n)
        memcpy(dst, src, n);
    return st;
}

lumen_status lumen_return_i64(lumen_task_ctx *c, size_t i, int64_t v)
{
    return put_copy(c, i, LUMEN_TYPE_I64, &v, 8);
}

lumen_status lumen_return_f64(lumen_task_ctx *c, size_t i, double v)
{
    return put_copy(c, i, LUMEN_TYPE_F64, &v, 8);
}

lumen_status lumen_return_bytes(lumen_task_ctx *c, size_t i, const void *data, size_t size)
{
    if (!data && size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_return_bytes: NULL data of size %zu", size);
    return put_copy(c, i, LUMEN_TYPE_BYTES, data, size);
}

lumen_status lumen_return_str(lumen_task_ctx *c, size_t i, const char *s)
{
    if (!s)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_return_str: NULL string");
    return put_copy(c, i, LUMEN_TYPE_STR, s, strlen(s) + 1);
}

lumen_status lumen_return_ref(lumen_task_ctx *c, size_t i, lumen_ref ref)
{
    CTX_CHECK(c);
    uint8_t val[LM_REF_VALUE_SIZE];
    lm_ref_value_write(val, lm_oid_from_ref(ref), 0); /* weight set when sent */
    lumen_status st = put_copy(c, i, LUMEN_TYPE_REF, val, sizeof val);
    if (st != LUMEN_OK)
        return st;
    /* hold it here (the task may release its own handle before returning);
     * exported to the owner when the task succeeds (executor.c) */
    pthread_mutex_lock(&c->rt->lock);
    lm_obj *o = lm_obj_lookup_ref(c->rt, ref, &st);
    if (o) {
        o->refs++;
        c->retref[i] = 1;
    }
    pthread_mutex_unlock(&c->rt->lock);
    if (!o)
        lm_ctx_drop_return(c, (int)i);
    return st;
}

lumen_status lumen_arg_get_ref(const lumen_task_ctx *c, size_t i, lumen_ref *out)
{
    lumen_status st = arg_check(c, i, LUMEN_TYPE_REF);
    if (st == LUMEN_OK && !out)
        st = lm_error(LUMEN_ERR_INVALID_ARG, "out is NULL");
    if (st == LUMEN_OK)
        memcpy(out->opaque_, c->argp[i], 16);
    return st;
}

lumen_status lumen_return_alloc(lumen_task_ctx *c, size_t i, size_t size, void **data)
{
    if (!data)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_return_alloc: data is NULL");
    return reserve(c, i, LUMEN_TYPE_BYTES, size, data);
}

lumen_status lm_ctx_seal_returns(lumen_task_ctx *c)
{
    for (int i = 0; i < c->task->m.num_returns; i++) {
        lm_wval *v = &c->rets[i];
        if (v->kind != LM_VAL_STORE || v->holder >= 0)
            continue;
        lumen_status st = lm_store_seal(c->rt->store, v->oid);
        if (st != LUMEN_OK)
            return st;
        v->holder = c->rt->rank;
    }
    return LUMEN_OK;
}

lumen_status lumen_task_fail(lumen_task_ctx *c, const char *fmt, ...)
{
    CTX_CHECK(c);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->error, sizeof c->error, fmt, ap);
        va_end(ap);
    }
    return LUMEN_ERR_TASK_FAILED;
}

lumen_status lumen_arg_get_actor(const lumen_task_ctx *c, size_t i, lumen_actor *out)
{
    lumen_status st = arg_check(c, i, LUMEN_TYPE_ACTOR);
    if (st == LUMEN_OK && !out)
        st = lm_error(LUMEN_ERR_INVALID_ARG, "out is NULL");
    if (st == LUMEN_OK && c->argn[i] != LM_ACTOR_VALUE_SIZE)
        st = lm_error(LUMEN_ERR_PROTOCOL, "argument %zu: malformed actor handle", i);
    if (st == LUMEN_OK)
        memcpy(out, c->argp[i], sizeof *out);
    return st;
}
