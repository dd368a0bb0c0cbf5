/*
 * submit.c - the submitter's side of a task: lumen_remote, dependency
 * resolution, dispatch, results, retries and cancel.
 *
 * A task's lumen_ref arguments are owned by the submitter (Ray's ownership),
 * so the submitter resolves them itself: the task waits in its record until
 * every argument is ready, then its values go in the TASK message (inline)
 * or as store locations the executor maps or fetches. A failed argument
 * fails the task without running it, with the cause chained into the
 * message. Arguments stay referenced until the task's DONE arrives. Owns the
 * table of tasks this rank submitted; rt->lock guards it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "device/device.h"
#include "actor/actor.h"
#include "placement/placement.h"
#include "runtime/generator.h"
#include "runtime/registry.h"
#include "runtime/runtime.h"

extern _Thread_local lumen_task_ctx *lm_tls_ctx;

static size_t tbucket(lm_oid id) { return (size_t)(id.lo * 0x9e3779b97f4a7c15ull >> 40) % LM_TASK_BUCKETS; }

static lm_task_rec *task_find(lm_rt *rt, lm_oid id)
{
    for (lm_task_rec *t = rt->tasks[tbucket(id)]; t; t = t->hnext)
        if (lm_oid_eq(t->id, id))
            return t;
    return NULL;
}

static void task_remove(lm_rt *rt, lm_task_rec *t)
{
    lm_task_rec **pp = &rt->tasks[tbucket(t->id)];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
}

static lm_oid ret_id_of(lm_oid task, int i)
{
    return lm_oid_make(lm_oid_owner(task), (unsigned)i + 1, LM_OID_OBJECT, lm_oid_epoch(task), task.lo);
}

static lm_oid ret_id(const lm_task_rec *t, int i) { return ret_id_of(t->id, i); }

/* Drop the task's hold on its arguments and forget it. */
static void task_free(lm_rt *rt, lm_task_rec *t)
{
    atomic_fetch_add(&rt->changes, 1);
    task_remove(rt, t);
    for (int i = 0; i < t->nargs; i++) {
        if (t->args[i].type != LUMEN_TYPE_REF)
            continue;
        lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(t->args[i].u.ref));
        if (o)
            lm_obj_unref(rt, o);
    }
    free(t->argbuf);
    free(t);
}

/* Fail every return object of t with msg (LM_ERRK_*). */
static void fail_returns(lm_rt *rt, lm_task_rec *t, const char *msg, int kind)
{
    for (int i = 0; i < t->num_returns; i++) {
        lm_obj *o = lm_obj_find(rt, ret_id(t, i));
        if (!o)
            continue;
        lm_wval v = {.kind = LM_VAL_ERROR, .type = (uint8_t)kind, .data = msg, .size = strlen(msg)};
        lm_obj_complete(rt, o, &v);
    }
}

void lm_task_fail_returns(lm_rt *rt, lm_task_rec *t, const char *msg, int kind)
{
    fail_returns(rt, t, msg, kind);
}

void lm_task_release(lm_rt *rt, lm_task_rec *t)
{
    t->done = 1;
    if (t->ndeps == 0)
        task_free(rt, t);
}

static void enqueue_dispatch(lm_rt *rt, lm_task_rec *t)
{
    t->qnext = NULL;
    if (rt->dispatch_tail)
        rt->dispatch_tail->qnext = t;
    else
        rt->dispatch_head = t;
    rt->dispatch_tail = t;
}

/* Every argument is ready: what happens next depends on the kind. */
static void make_ready(lm_rt *rt, lm_task_rec *t)
{
    if (t->kind == LM_KIND_CALL)
        lm_actor_call_ready(rt, t);
    else if (t->kind == LM_KIND_CREATE)
        lm_actor_create_ready(rt, t);
    else
        enqueue_dispatch(rt, t);
}

/* The error chain: this task's message wraps the dependency's. */
static void fail_for_dependency(lm_rt *rt, lm_task_rec *t, lm_obj *dep)
{
    const char *cause = dep->data ? (const char *)dep->data : "unknown error";
    char *msg = malloc(strlen(cause) + LM_FN_MAX + 128);
    if (msg)
        sprintf(msg, "%s '%s' (submitted on rank %d) not run: a dependency failed: %s",
                t->kind == LM_KIND_TASK ? "task" : t->kind == LM_KIND_CALL ? "method" : "actor", t->fn,
                rt->rank, cause);
    t->done = 1;
    fail_returns(rt, t, msg ? msg : "a dependency failed", dep->type == 1 ? 1 : 0);
    free(msg);
}

void lm_task_dep_ready(lm_rt *rt, lm_task_rec *t, lm_obj *dep)
{
    t->ndeps--;
    if (t->done) {
        if (t->ndeps == 0)
            task_free(rt, t); /* failed or cancelled earlier: nothing holds it now */
        return;
    }
    if (dep->state == LM_OBJ_ERROR && !t->cancelled) {
        fail_for_dependency(rt, t, dep);
        if (t->kind != LM_KIND_TASK)
            lm_actor_rec_failed(rt, t);
    }
    if (t->done || t->cancelled) {
        if (t->ndeps == 0)
            task_free(rt, t);
        return;
    }
    if (t->ndeps == 0) {
        make_ready(rt, t);
        if (t->kind == LM_KIND_TASK)
            lm_dispatch_pending(rt);
    }
}

/* Largest store-resident argument's node, for locality. */
static int preferred_node(lm_rt *rt, lm_task_rec *t)
{
    int node = -1;
    size_t best = 0;
    for (int i = 0; i < t->nargs; i++) {
        if (t->args[i].type != LUMEN_TYPE_REF)
            continue;
        lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(t->args[i].u.ref));
        if (o && o->in_store && o->size > best) {
            best = o->size;
            node = o->node;
        }
    }
    return node;
}

void lm_task_encode(lm_rt *rt, lm_task_rec *t, lm_wbuf *w)
{
    uint8_t refvals[LUMEN_MAX_ARGS][LM_REF_VALUE_SIZE];
    lm_task_msg *m = malloc(sizeof *m);
    if (!m) {
        w->oom = 1;
        return;
    }
    memset(m, 0, offsetof(lm_task_msg, args));
    m->task_id = t->id;
    m->owner = rt->rank;
    m->attempt = t->attempt;
    strcpy(m->fn, t->fn);
    m->num_returns = (uint16_t)t->num_returns;
    m->ndemand = (uint8_t)rt->nres;
    memcpy(m->demand, t->demand, sizeof m->demand);
    m->kind = t->kind;
    m->actor_id = t->actor;
    m->max_concurrency = t->max_concurrency;
    if (t->async_actor)
        m->flags |= LM_TASK_ASYNC;
    m->bundle = -1;
    if (t->strat.kind == LUMEN_SCHED_PLACEMENT_GROUP) {
        m->pg_id = lm_oid_from_ref((lumen_ref){{t->strat.pg.opaque_[0], t->strat.pg.opaque_[1]}});
        m->bundle = t->bundle;
        m->flags |= LM_TASK_PINNED;
    }
    if (t->strat.kind == LUMEN_SCHED_NODE_AFFINITY && !t->strat.soft)
        m->flags |= LM_TASK_PINNED;
    if (t->kind != LM_KIND_TASK)
        m->flags |= LM_TASK_PINNED;
    if (t->gen) { /* a generator stays where it was sent: its caller acks and cancels there */
        m->flags |= LM_TASK_STREAMING | LM_TASK_PINNED;
        m->gen_bound = t->gen_bound;
    }
    m->nargs = (uint16_t)t->nargs;
    for (int i = 0; i < t->nargs; i++) {
        const lumen_arg *a = &t->args[i];
        lm_wval *v = &m->args[i];
        memset(v, 0, sizeof *v);
        v->kind = LM_VAL_INLINE;
        v->type = (uint8_t)a->type;
        switch (a->type) {
        case LUMEN_TYPE_I64: v->data = &a->u.i64; v->size = 8; break;
        case LUMEN_TYPE_F64: v->data = &a->u.f64; v->size = 8; break;
        case LUMEN_TYPE_STR: v->data = a->u.str; v->size = strlen(a->u.str) + 1; break;
        case LUMEN_TYPE_BYTES: v->data = a->u.bytes.data; v->size = a->u.bytes.size; break;
        case LUMEN_TYPE_ACTOR: v->data = &a->u.actor; v->size = LM_ACTOR_VALUE_SIZE; break;
        case LUMEN_TYPE_REF: {
            lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(a->u.ref));
            lm_obj_wval(rt, o, v);
            lm_oid inner;
            uint64_t weight;
            if (lm_obj_inner_ref(o, &inner, &weight)) {
                /* the task's own copy of the reference; the executor imports it */
                lm_ref_value_write(refvals[i], inner, lm_ref_export(rt, inner));
                v->data = refvals[i];
            }
            break;
        }
        default: break;
        }
    }
    lm_wbuf_init(w, 128);
    lm_msg_encode_task(w, m);
    free(m);
}

void lm_dispatch_pending(lm_rt *rt)
{
    lm_task_rec *prev = NULL, *next;
    int capped = 0; /* a top-level task found every rank at its limit */
    for (lm_task_rec *t = rt->dispatch_head; t && !atomic_load(&rt->stop_threads); t = next) {
        next = t->qnext;
        int target = -1;
        if (!t->cancelled && !t->done) {
            /* tasks submitted from inside a task have a larger in-flight cap
             * (sched.c): their parents may be the very tasks that fill the
             * normal one, blocked on them */
            if (capped && !t->nested) {
                prev = t;
                continue;
            }
            if (t->strat.kind == LUMEN_SCHED_PLACEMENT_GROUP) {
                const char *why = NULL;
                target = lm_pg_target(rt, t, &why);
                if (why) { /* the group is gone: fail the task */
                    char msg[LM_FN_MAX + 160];
                    snprintf(msg, sizeof msg, "task '%s' not run: %s", t->fn, why);
                    t->done = 1;
                    fail_returns(rt, t, msg, LM_ERRK_FAILED);
                } else if (target < 0) {
                    prev = t; /* not placed yet: waits, and holds back nothing */
                    continue;
                }
            } else {
                target = lm_sched_pick(rt, t->demand, preferred_node(rt, t), t->nested, &t->strat);
            }
            if (target < 0 && !t->done) {
                capped |= !t->nested;
                prev = t;
                continue;
            }
        }
        /* unlink t */
        if (prev)
            prev->qnext = next;
        else
            rt->dispatch_head = next;
        if (rt->dispatch_tail == t)
            rt->dispatch_tail = prev;
        if (t->cancelled || t->done) {
            if (t->ndeps == 0)
                task_free(rt, t);
            continue;
        }
        lm_wbuf w;
        lm_task_encode(rt, t, &w);
        if (w.oom || w.len > INT32_MAX) {
            lm_wbuf_free(&w);
            t->done = 1;
            fail_returns(rt, t, w.oom ? "out of memory encoding the task" : "task message over 2 GiB", 0);
            task_free(rt, t);
            continue;
        }
        t->target = target;
        rt->inflight[target]++;
        if (target == rt->rank) {
            if (lm_executor_accept(rt, rt->rank, w.data, w.len) != LUMEN_OK)
                fprintf(stderr, "lumen[%d]: could not queue task '%s' locally\n", rt->rank, t->fn);
            w.data = NULL;
        } else {
            lm_send_wbuf(rt, target, &w);
        }
    }
}

/* ---- submission (tasks, actor creation, actor calls) ----------------------- */
lumen_status lm_task_read_common(lm_rt *rt, lm_task_rec *t, double num_cpus, double num_gpus,
                                 const char *resources, uint64_t have)
{
    if (have & 1) {
        if (!(num_cpus >= 0) || isinf(num_cpus))
            return lm_error(LUMEN_ERR_INVALID_ARG, "num_cpus %g is not a finite amount >= 0", num_cpus);
        t->demand[0] = num_cpus;
    }
    if (have & 2) {
        if (!(num_gpus >= 0) || isinf(num_gpus))
            return lm_error(LUMEN_ERR_INVALID_ARG, "num_gpus %g is not a finite amount >= 0", num_gpus);
        if (num_gpus > 1 && num_gpus != floor(num_gpus))
            return lm_error(LUMEN_ERR_INVALID_ARG, "num_gpus %g: above 1 a GPU demand must be whole", num_gpus);
        t->demand[1] = num_gpus;
    }
    if (have & 4) {
        pthread_mutex_lock(&rt->lock); /* resource names may be added concurrently */
        lumen_status st = lm_parse_resources(rt, resources, t->demand, 0);
        pthread_mutex_unlock(&rt->lock);
        if (st != LUMEN_OK)
            return st;
        if (t->demand[1] > 1 && t->demand[1] != floor(t->demand[1]))
            return lm_error(LUMEN_ERR_INVALID_ARG, "GPU=%g: above 1 a GPU demand must be whole", t->demand[1]);
    }
    return LUMEN_OK;
}

static lumen_status check_strategy(const lumen_scheduling_strategy *s)
{
    if (s->kind < LUMEN_SCHED_DEFAULT || s->kind > LUMEN_SCHED_PLACEMENT_GROUP)
        return lm_error(LUMEN_ERR_INVALID_ARG, "unknown scheduling strategy %d", (int)s->kind);
    if (s->kind == LUMEN_SCHED_PLACEMENT_GROUP) {
        lm_oid id = {s->pg.opaque_[0], s->pg.opaque_[1]};
        if (lm_oid_kind(id) != LM_OID_PG || id.lo == 0)
            return lm_error(LUMEN_ERR_INVALID_ARG, "scheduling strategy: not a placement group handle");
        if (s->bundle_index < -1)
            return lm_error(LUMEN_ERR_OUT_OF_RANGE, "bundle index %d", s->bundle_index);
    }
    return LUMEN_OK;
}

static lumen_status read_options(lm_rt *rt, const lumen_task_options *o, lm_task_rec *t)
{
    if (!o)
        return LUMEN_OK;
    uint64_t f = o->field_mask;
    if (f & LUMEN_TASK_NUM_RETURNS) {
        if (o->num_returns < 1 || o->num_returns > LUMEN_MAX_RETURNS)
            return lm_error(LUMEN_ERR_OUT_OF_RANGE, "num_returns %d not in 1..%d", o->num_returns,
                            LUMEN_MAX_RETURNS);
        t->num_returns = o->num_returns;
    }
    uint64_t have = ((f & LUMEN_TASK_NUM_CPUS) ? 1 : 0) | ((f & LUMEN_TASK_NUM_GPUS) ? 2 : 0) |
                    ((f & LUMEN_TASK_RESOURCES) ? 4 : 0);
    lumen_status st = lm_task_read_common(rt, t, o->num_cpus, o->num_gpus, o->resources, have);
    if (st != LUMEN_OK)
        return st;
    if (f & LUMEN_TASK_MAX_RETRIES) {
        if (o->max_retries < -1)
            return lm_error(LUMEN_ERR_INVALID_ARG, "max_retries %d < -1", o->max_retries);
        t->retries_left = o->max_retries;
    }
    if (f & LUMEN_TASK_RETRY_EXCEPTIONS)
        t->retry_exceptions = o->retry_exceptions != 0;
    if (f & LUMEN_TASK_SCHEDULING) {
        if ((st = check_strategy(&o->scheduling)) != LUMEN_OK)
            return st;
        t->strat = o->scheduling;
    }
    return LUMEN_OK;
}

/* Copy byte/string arguments into one buffer owned by the record. */
static lumen_status copy_args(lm_task_rec *t, const lumen_arg *args, size_t nargs)
{
    size_t total = 0;
    for (size_t i = 0; i < nargs; i++) {
        const lumen_arg *a = &args[i];
        switch (a->type) {
        case LUMEN_TYPE_I64:
        case LUMEN_TYPE_F64:
        case LUMEN_TYPE_REF:
        case LUMEN_TYPE_ACTOR:
            break;
        case LUMEN_TYPE_STR:
            if (!a->u.str)
                return lm_error(LUMEN_ERR_INVALID_ARG, "argument %zu: NULL string", i);
            total += strlen(a->u.str) + 1;
            break;
        case LUMEN_TYPE_BYTES:
            if (!a->u.bytes.data && a->u.bytes.size)
                return lm_error(LUMEN_ERR_INVALID_ARG, "argument %zu: NULL bytes of size %zu", i,
                                a->u.bytes.size);
            if (a->u.bytes.size > ((size_t)1 << 40))
                return lm_error(LUMEN_ERR_OUT_OF_RANGE, "argument %zu: %zu bytes", i, a->u.bytes.size);
            total += a->u.bytes.size;
            break;
        default:
            return lm_error(LUMEN_ERR_INVALID_ARG, "argument %zu has unknown type %d", i, (int)a->type);
        }
    }
    t->argbuf = malloc(total ? total : 1);
    if (!t->argbuf)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for %zu bytes of arguments", total);
    char *p = t->argbuf;
    for (size_t i = 0; i < nargs; i++) {
        t->args[i] = args[i];
        if (args[i].type == LUMEN_TYPE_STR) {
            size_t n = strlen(args[i].u.str) + 1;
            memcpy(p, args[i].u.str, n);
            t->args[i].u.str = p;
            p += n;
        } else if (args[i].type == LUMEN_TYPE_BYTES) {
            if (args[i].u.bytes.size)
                memcpy(p, args[i].u.bytes.data, args[i].u.bytes.size);
            t->args[i].u.bytes.data = p;
            p += args[i].u.bytes.size;
        }
    }
    t->nargs = (int)nargs;
    return LUMEN_OK;
}

static void free_rec(lm_task_rec *t)
{
    free(t->argbuf);
    free(t);
}

lumen_status lm_submit(lm_rt *rt, lm_task_rec *t, const lumen_arg *args, size_t nargs, lumen_ref *returns)
{
    if (nargs > LUMEN_MAX_ARGS) {
        free_rec(t);
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "%zu arguments (at most %d)", nargs, LUMEN_MAX_ARGS);
    }
    if (nargs && !args) {
        free_rec(t);
        return lm_error(LUMEN_ERR_INVALID_ARG, "NULL arguments");
    }
    /* large byte arguments go through the store (as Ray does), so task
     * messages stay small and a node reads them without a copy */
    lumen_arg local[LUMEN_MAX_ARGS];
    lumen_ref autoput[LUMEN_MAX_ARGS];
    int nauto = 0;
    lumen_status st = LUMEN_OK;
    for (size_t i = 0; i < nargs && st == LUMEN_OK; i++) {
        local[i] = args[i];
        if (args[i].type != LUMEN_TYPE_BYTES || args[i].u.bytes.size <= rt->inline_threshold)
            continue;
        st = lumen_put(args[i].u.bytes.data, args[i].u.bytes.size, &autoput[nauto]);
        if (st == LUMEN_OK)
            local[i] = lumen_arg_ref(autoput[nauto++]);
    }
    if (st == LUMEN_OK)
        st = copy_args(t, local, nargs);
    if (st != LUMEN_OK) {
        for (int i = 0; i < nauto; i++)
            lumen_ref_release(autoput[i]);
        free_rec(t);
        return st;
    }
    for (int i = 0; i < t->num_returns; i++)
        returns[i] = LUMEN_REF_NIL;
    t->target = -1;
    t->nested = lm_tls_ctx != NULL;
    pthread_mutex_lock(&rt->lock);
    /* every reference argument must be live and ours */
    for (int i = 0; i < t->nargs; i++) {
        if (t->args[i].type != LUMEN_TYPE_REF)
            continue;
        if (!lm_obj_lookup_ref(rt, t->args[i].u.ref, &st)) {
            pthread_mutex_unlock(&rt->lock);
            char msg[512];
            snprintf(msg, sizeof msg, "argument %d: %s", i, lumen_last_error());
            for (int k = 0; k < nauto; k++)
                lumen_ref_release(autoput[k]);
            free_rec(t);
            return lm_error(st, "%s", msg);
        }
    }
    if (t->kind == LM_KIND_TASK) {
        st = t->strat.kind == LUMEN_SCHED_PLACEMENT_GROUP ? lm_pg_check(rt, &t->strat)
                                                          : lm_sched_check(rt, t->demand, &t->strat, t->fn);
        if (st != LUMEN_OK) {
            pthread_mutex_unlock(&rt->lock);
            for (int k = 0; k < nauto; k++)
                lumen_ref_release(autoput[k]);
            free_rec(t);
            return st;
        }
    }
    uint64_t seq = atomic_fetch_add(&rt->seq, 1) + 1;
    t->id = lm_oid_make(rt->rank, 0, LM_OID_TASK, rt->epoch, seq);
    for (int i = 0; i < t->num_returns; i++) {
        lm_obj *o = lm_obj_new(rt, ret_id(t, i));
        if (!o) {
            /* leave the ones made as failed objects the caller can release */
            t->num_returns = i;
            fail_returns(rt, t, "out of memory creating result objects", 0);
            pthread_mutex_unlock(&rt->lock);
            free_rec(t);
            return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for result objects");
        }
        o->producer = t;
        returns[i] = lm_ref_from_oid(o->id);
    }
    if (t->gen)
        lm_gen_attach(rt, t); /* before dispatch: its first YIELD may come at once */
    lm_obj *err_dep = NULL;
    size_t b = tbucket(t->id);
    t->hnext = rt->tasks[b];
    rt->tasks[b] = t;
    for (int i = 0; i < t->nargs; i++) {
        if (t->args[i].type != LUMEN_TYPE_REF)
            continue;
        lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(t->args[i].u.ref));
        o->refs++; /* held until the task is done */
        if (o->state == LM_OBJ_PENDING) {
            lm_obj_need_value(rt, o); /* borrowed: ask the owner */
            lm_dep *d = malloc(sizeof *d);
            if (d) {
                d->task = t;
                d->next = o->deps;
                o->deps = d;
                t->ndeps++;
            }
        } else if (o->state == LM_OBJ_ERROR && !err_dep) {
            err_dep = o;
        }
    }
    /* what the kind does with a new record: calls take their place in the
     * actor's order now, even if they cannot be sent yet */
    if (t->kind == LM_KIND_CALL)
        lm_actor_call_submitted(rt, t); /* may fail it at once: the actor is dead */
    if (t->done) {
        if (t->ndeps == 0)
            task_free(rt, t);
    } else if (err_dep) {
        fail_for_dependency(rt, t, err_dep);
        if (t->kind != LM_KIND_TASK)
            lm_actor_rec_failed(rt, t);
        if (t->ndeps == 0)
            task_free(rt, t);
    } else if (t->kind == LM_KIND_TASK && !lm_registry_find(t->fn)) {
        char msg[LM_FN_MAX + 96];
        snprintf(msg, sizeof msg, "unknown remote function '%s' (submitted on rank %d)", t->fn, rt->rank);
        if (!t->done) {
            t->done = 1;
            fail_returns(rt, t, msg, LM_ERRK_UNKNOWN_FN);
            if (t->ndeps == 0)
                task_free(rt, t);
        }
    } else if (!t->done && t->ndeps == 0) {
        make_ready(rt, t);
        if (t->kind == LM_KIND_TASK)
            lm_dispatch_pending(rt);
    }
    pthread_mutex_unlock(&rt->lock);
    for (int i = 0; i < nauto; i++)
        lumen_ref_release(autoput[i]); /* the task's own hold keeps them */
    lm_progress(rt);
    return LUMEN_OK;
}

lumen_status lumen_remote(const char *fn, const lumen_arg *args, size_t nargs,
                          const lumen_task_options *opts, lumen_ref *returns)
{
    return lm_remote_submit(fn, args, nargs, opts, NULL, 0, returns);
}

lumen_status lm_remote_submit(const char *fn, const lumen_arg *args, size_t nargs, const lumen_task_options *opts,
                              struct lumen_generator *gen, uint32_t gen_bound, lumen_ref *returns)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!fn || !returns || (nargs && !args))
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_remote: NULL function name, args or returns");
    if (strlen(fn) >= LM_FN_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "function name longer than %d bytes", LM_FN_MAX - 1);
    if (atomic_load(&rt->shutdown))
        return lm_error(LUMEN_ERR_SHUTDOWN, "the job is shutting down");
    lm_task_rec *t = calloc(1, sizeof *t);
    if (!t)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a task");
    t->kind = LM_KIND_TASK;
    t->num_returns = 1;
    t->demand[0] = 1.0;
    t->retries_left = 3;
    t->bundle = -1;
    strcpy(t->fn, fn);
    lumen_status st = read_options(rt, opts, t);
    if (st != LUMEN_OK) {
        free(t);
        return st;
    }
    if (gen) { /* streaming: one return (the item count), never retried */
        t->gen = gen;
        t->gen_bound = gen_bound;
        t->num_returns = 1;
        t->retries_left = 0;
        t->retry_exceptions = 0;
    }
    return lm_submit(rt, t, args, nargs, returns);
}

/* ---- results --------------------------------------------------------------- */
static void free_remote_value(lm_rt *rt, const lm_wval *v, lm_oid id)
{
    if (v->kind == LM_VAL_INLINE && v->type == LUMEN_TYPE_DEVICE)
        lm_dev_free_value(rt, id, v->data, v->size); /* lumen_return_device's bytes */
    if (v->kind != LM_VAL_STORE)
        return;
    if (v->node == rt->node_id) {
        lm_store_delete(rt->store, v->oid);
    } else {
        lm_send_small(rt, v->holder, LM_MSG_FREE, v->oid, 0, 0);
    }
}

void lm_task_complete_returns(lm_rt *rt, lm_task_rec *t, const lm_done_msg *m)
{
    for (int i = 0; i < t->num_returns; i++) {
        lm_obj *o = lm_obj_find(rt, ret_id(t, i));
        lm_wval none = {.kind = LM_VAL_NONE};
        const lm_wval *v = i < m->nret ? &m->rets[i] : &none;
        if (o && o->state == LM_OBJ_PENDING)
            lm_obj_complete(rt, o, v);
        else
            free_remote_value(rt, v, ret_id(t, i)); /* nobody waits for it (released, or a late answer) */
    }
}

void lm_handle_done(lm_rt *rt, const lm_done_msg *m)
{
    pthread_mutex_lock(&rt->lock);
    lm_task_rec *t = task_find(rt, m->task_id);
    if (!t || t->attempt != m->attempt || t->target < 0) {
        /* stale (an old attempt) or unknown: free what it produced */
        for (int i = 0; i < m->nret; i++)
            free_remote_value(rt, &m->rets[i], ret_id_of(m->task_id, i));
        pthread_mutex_unlock(&rt->lock);
        return;
    }
    if (t->kind != LM_KIND_TASK) {
        lm_actor_rec_done(rt, t, m);
        pthread_mutex_unlock(&rt->lock);
        return;
    }
    rt->inflight[t->target]--;
    int failed = m->nret > 0 && m->rets[0].kind == LM_VAL_ERROR && m->rets[0].type == 0;
    if (failed && t->retry_exceptions && t->retries_left != 0 && !t->cancelled) {
        if (t->retries_left > 0)
            t->retries_left--;
        t->attempt++;
        t->target = -1;
        enqueue_dispatch(rt, t);
    } else {
        t->done = 1;
        lm_task_complete_returns(rt, t, m);
        if (t->ndeps == 0)
            task_free(rt, t);
    }
    lm_dispatch_pending(rt);
    pthread_mutex_unlock(&rt->lock);
}

/* ---- cancel ---------------------------------------------------------------- */
lumen_status lumen_cancel(lumen_ref ref)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    lumen_status st;
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_lookup_ref(rt, ref, &st);
    lm_task_rec *t = o ? o->producer : NULL;
    int target = -1;
    lm_oid tid = {0, 0};
    if (t && !t->done && !t->cancelled) {
        char msg[LM_FN_MAX + 64];
        snprintf(msg, sizeof msg, "task '%s' was cancelled", t->fn);
        if (t->target < 0) {
            /* not sent yet: cancel here */
            t->cancelled = 1;
            t->done = 1;
            fail_returns(rt, t, msg, 1);
            if (t->kind != LM_KIND_TASK)
                lm_actor_rec_failed(rt, t); /* out of the actor's queue */
            /* freed by dispatch or when its last dependency settles */
            if (t->ndeps == 0) {
                int queued = 0;
                for (lm_task_rec *q = rt->dispatch_head; q; q = q->qnext)
                    queued |= q == t;
                if (!queued)
                    task_free(rt, t);
            }
        } else {
            t->cancelled = 1; /* no retry; the executor answers with the outcome */
            target = t->target;
            tid = t->id;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    if (target >= 0) {
        if (target == rt->rank) {
            lm_handle_cancel(rt, tid);
        } else {
            lm_send_small(rt, target, LM_MSG_CANCEL, tid, 0, 0);
        }
        lm_progress(rt);
    }
    return st;
}
