/*
 * task_run.c - running one task, actor method or constructor on the calling
 * thread: resolving its arguments (inline, a pinned pointer into this
 * node's store, or a fetched copy), calling the function, sealing the
 * results and answering the owner with DONE, or with an error that names
 * the function, the rank and the cause. Also the life of an lm_task built
 * from a TASK message, and tasks answered without running (lm_task_discard:
 * their reference arguments' weight goes home). The queue and threads that
 * decide when a task runs are executor.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "common/error.h"
#include "observe/observe.h"
#include "runtime/generator.h"
#include "runtime/registry.h"
#include "runtime/runtime.h"

_Thread_local lumen_task_ctx *lm_tls_ctx;

lm_task *lm_task_from_msg(lm_rt *rt, int src, void *buf, size_t len)
{
    (void)rt;
    lm_task *t = calloc(1, sizeof *t);
    if (!t) {
        free(buf);
        return NULL;
    }
    if (lm_msg_decode_task(buf, len, &t->m) != LUMEN_OK) {
        free(t);
        free(buf);
        return NULL;
    }
    t->msgbuf = buf;
    t->msglen = len;
    t->src = src;
    return t;
}

void lm_task_free(lm_task *t)
{
    if (!t)
        return;
    free(t->msgbuf);
    free(t);
}

static int has_ref_args(const lm_task *t)
{
    for (int i = 0; i < t->m.nargs; i++)
        if (t->m.args[i].kind == LM_VAL_INLINE && t->m.args[i].type == LUMEN_TYPE_REF)
            return 1;
    return 0;
}

void lm_task_discard(lm_rt *rt, lm_task *t)
{
    if (!t)
        return;
    if (!has_ref_args(t)) {
        lm_task_free(t);
        return;
    }
    pthread_mutex_lock(&rt->outbox_lock);
    t->next = rt->discards;
    rt->discards = t;
    atomic_fetch_add(&rt->ndiscards, 1);
    pthread_mutex_unlock(&rt->outbox_lock);
}

void lm_discards_drain(lm_rt *rt)
{
    if (atomic_load(&rt->ndiscards) == 0)
        return;
    pthread_mutex_lock(&rt->outbox_lock);
    lm_task *t = rt->discards;
    rt->discards = NULL;
    atomic_store(&rt->ndiscards, 0);
    pthread_mutex_unlock(&rt->outbox_lock);
    while (t) {
        lm_task *n = t->next;
        pthread_mutex_lock(&rt->lock);
        for (int i = 0; i < t->m.nargs; i++) {
            const lm_wval *v = &t->m.args[i];
            if (v->kind != LM_VAL_INLINE || v->type != LUMEN_TYPE_REF)
                continue;
            lm_oid id = lm_ref_value_id(v->data);
            uint64_t w = lm_ref_value_weight(v->data);
            if (lm_ref_import(rt, id, w)) /* take the weight, then let it go home */
                lm_ref_unimport(rt, id, w);
        }
        pthread_mutex_unlock(&rt->lock);
        lm_task_free(t);
        t = n;
    }
}

/* ---- running one task ---------------------------------------------------- */
static void send_done_via(lm_rt *rt, lm_task *t, lm_done_msg *d, int direct)
{
    if (direct && t->m.owner == rt->rank) {
        lm_handle_done(rt, d);
        return;
    }
    lm_wbuf w;
    lm_wbuf_init(&w, 128);
    lm_msg_encode_done(&w, d);
    lm_send_wbuf(rt, t->m.owner, &w);
}

static void send_done(lm_rt *rt, lm_task *t, lm_done_msg *d) { send_done_via(rt, t, d, 1); }

static void reply_error(lm_rt *rt, lm_task *t, const char *msg, int kind, int direct)
{
    lm_done_msg *d = malloc(sizeof *d);
    if (!d)
        return;
    d->task_id = t->m.task_id;
    d->attempt = t->m.attempt;
    d->executor = rt->rank;
    d->nret = t->m.num_returns;
    for (int i = 0; i < d->nret; i++)
        d->rets[i] = (lm_wval){.kind = LM_VAL_ERROR, .type = (uint8_t)kind, .data = msg, .size = strlen(msg)};
    send_done_via(rt, t, d, direct);
    free(d);
}

void lm_task_reply_error(lm_rt *rt, lm_task *t, const char *msg, int kind) { reply_error(rt, t, msg, kind, 1); }

/* the same through the outbox, even to this rank: for callers that may hold rt->lock */
void lm_task_reply_error_async(lm_rt *rt, lm_task *t, const char *msg, int kind) { reply_error(rt, t, msg, kind, 0); }

static lumen_status resolve_args(lm_rt *rt, lumen_task_ctx *c)
{
    lm_task_msg *m = &c->task->m;
    for (int i = 0; i < m->nargs; i++) {
        lm_wval *v = &m->args[i];
        if (v->kind == LM_VAL_INLINE) {
            c->argp[i] = v->data;
            c->argn[i] = (size_t)v->size;
            if (v->type == LUMEN_TYPE_REF) {
                /* the submitter exported a unit for us: hold it while we run */
                pthread_mutex_lock(&rt->lock);
                c->argref[i] = lm_ref_import(rt, lm_ref_value_id(v->data), lm_ref_value_weight(v->data)) != NULL;
                pthread_mutex_unlock(&rt->lock);
            }
            continue;
        }
        /* a store location */
        if (v->node == rt->node_id) {
            size_t size;
            uint8_t type;
            lumen_status st = lm_store_pin_waiting(rt, v->oid, &c->argp[i], &size, &type);
            if (st != LUMEN_OK)
                return lm_error(st, "argument %d: %s", i, lumen_last_error());
            c->argpinned[i] = 1;
            c->argn[i] = size;
        } else {
            void *p = malloc(v->size ? (size_t)v->size : 1);
            if (!p)
                return lm_error(LUMEN_ERR_NO_MEMORY, "argument %d: no memory for %llu bytes", i,
                                (unsigned long long)v->size);
            c->argfree[i] = p;
            lumen_status st = lm_fetch_into(rt, v->holder, v->oid, p, (size_t)v->size);
            if (st != LUMEN_OK)
                return lm_error(st, "argument %d: %s", i, lumen_last_error());
            c->argp[i] = p;
            c->argn[i] = (size_t)v->size;
        }
    }
    return LUMEN_OK;
}

lumen_status lm_ctx_seal_returns(lumen_task_ctx *c);

/* the error message of a failed run, "<what> '<name>' failed on rank r: ..." */
static char *failure_message(lm_rt *rt, lm_task *t, lumen_task_ctx *c, lumen_status st)
{
    const char *cause = c->error[0] ? c->error : lumen_last_error();
    const char *what = t->m.kind == LM_KIND_CALL ? "method" : t->m.kind == LM_KIND_CREATE ? "constructor of actor" : "task";
    char who[220] = "";
    if (t->m.kind == LM_KIND_CALL && c->actor)
        snprintf(who, sizeof who, " of actor '%s'", c->actor->cls);
    size_t n = strlen(cause) + LM_FN_MAX + sizeof who + 128;
    char *msg = malloc(n);
    if (msg)
        snprintf(msg, n, "%s '%s'%s failed on rank %d: %s%s%s", what, t->m.fn, who, rt->rank, lumen_strerror(st),
                 cause[0] ? ": " : "", cause);
    return msg;
}

/* Call the function, method, constructor or continuation of c. Returns its
 * status with the returns sealed, or LUMEN_PENDING when an async actor's
 * method awaits (lumen_await recorded what). */
static lumen_status invoke(lm_rt *rt, lumen_task_ctx *c)
{
    lm_task *t = c->task;
    lm_actor_inst *inst = c->actor;
    lumen_status st;
    lm_error_clear();
    lm_tls_ctx = c;
    if (c->resume) {
        lumen_continuation_fn k = c->resume;
        void *state = c->resume_state;
        lm_ctx_await_drop(c); /* the await is over; k may await again */
        st = k(inst->self, c, state);
    } else if (t->m.kind == LM_KIND_TASK) {
        st = t->fn(c);
    } else if (t->m.kind == LM_KIND_CALL) {
        st = c->method(inst->self, c);
    } else {
        st = inst->klass.init(c, &inst->self);
        if (st == LUMEN_OK) {
            inst->constructed = 1;
            lumen_return_i64(c, 0, 1);
        }
    }
    lm_tls_ctx = NULL;
    if (st == LUMEN_PENDING && c->resume && !c->actor_fatal && !c->actor_exit)
        return LUMEN_PENDING;
    if (c->resume) {
        /* lumen_await was called but the call does not park (an error was
         * returned, or the actor ends): the continuation's cancelled run
         * frees its state, as when the actor dies with calls awaiting */
        lumen_continuation_fn k = c->resume;
        void *state = c->resume_state;
        lm_ctx_await_drop(c);
        c->await_cancelled = 1;
        lm_tls_ctx = c;
        (void)k(inst->self, c, state);
        lm_tls_ctx = NULL;
        lm_ctx_await_drop(c);
        c->await_cancelled = 0;
        if (st == LUMEN_PENDING)
            st = lm_error(LUMEN_ERR_TASK_FAILED, "%s '%s' ended its actor while awaiting", "method", t->m.fn);
    } else if (st == LUMEN_PENDING) {
        st = lm_error(LUMEN_ERR_INVALID_ARG, "%s '%s' returned LUMEN_PENDING without lumen_await",
                      t->m.kind == LM_KIND_CALL ? "method" : "task", t->m.fn);
    }
    if (c->actor_fatal)
        st = LUMEN_ERR_ACTOR_DIED;
    else if (st == LUMEN_ERR_ACTOR_DIED)
        st = LUMEN_ERR_TASK_FAILED; /* passing on another actor's death is an ordinary failure */
    if (c->gen) /* streaming: the item count, or cancelled */
        st = lm_gen_prod_end(rt, c, st);
    if (st == LUMEN_OK)
        st = lm_ctx_seal_returns(c);
    return st;
}

/* The end of a run: answer the owner (the results, or an error naming the
 * function, rank and cause), give back the arguments, free c. */
static int task_finish(lm_rt *rt, lumen_task_ctx *c, lumen_status st, int ran, int reply)
{
    lm_task *t = c->task;
    lm_actor_inst *inst = c->actor;
    char *msg = NULL;
    int outcome = 0;
    if (ran)
        lm_timeline_record(rt, t->m.kind == LM_KIND_CALL ? LM_EV_CALL : t->m.kind == LM_KIND_CREATE ? LM_EV_CREATE : LM_EV_TASK,
                           t->m.fn, inst ? inst->cls : NULL, c->t0, lm_wall_us(), c->bytes, st != LUMEN_OK);
    if (!reply) {
        /* answered already (lm_task_ctx_fail) */
    } else if (st != LUMEN_OK) {
        msg = failure_message(rt, t, c, st);
        for (int i = 0; i < t->m.num_returns; i++)
            lm_ctx_drop_return(c, i);
        int kind = st == LUMEN_ERR_UNKNOWN_FUNCTION ? LM_ERRK_UNKNOWN_FN
                   : c->actor_fatal                 ? LM_ERRK_ACTOR_FATAL
                   : (t->m.flags & LM_TASK_STREAMING) && st == LUMEN_ERR_TASK_CANCELLED ? LM_ERRK_CANCELLED
                                                    : LM_ERRK_FAILED;
        lm_task_reply_error(rt, t, msg ? msg : "task failed", kind);
        lm_log(LUMEN_LOG_INFO, "%s", msg ? msg : "task failed");
        if (inst && (c->actor_fatal || t->m.kind == LM_KIND_CREATE)) {
            snprintf(inst->cause, sizeof inst->cause, "%s", msg ? msg : "failed");
            outcome = LM_RUN_FATAL;
        }
    } else {
        pthread_mutex_lock(&rt->lock);
        for (int i = 0; i < t->m.num_returns; i++) { /* references returned travel to the owner */
            if (!c->retref[i])
                continue;
            lm_oid id = lm_ref_value_id(c->rets[i].data);
            lm_ref_value_write(c->retfree[i], id, lm_ref_export(rt, id));
            lm_obj *o = lm_obj_find(rt, id);
            if (o)
                lm_obj_unref(rt, o); /* the local hold; the export now keeps it */
            c->retref[i] = 0;
        }
        pthread_mutex_unlock(&rt->lock);
        lm_done_msg *d = malloc(sizeof *d);
        if (d) {
            d->task_id = t->m.task_id;
            d->attempt = t->m.attempt;
            d->executor = rt->rank;
            d->nret = t->m.num_returns;
            memcpy(d->rets, c->rets, sizeof(lm_wval) * d->nret);
            send_done(rt, t, d);
            free(d);
        }
        if (c->actor_exit)
            outcome = LM_RUN_EXIT;
    }
    free(msg);
    pthread_mutex_lock(&rt->lock);
    for (int i = 0; i < t->m.nargs; i++)
        if (c->argref[i])
            lm_ref_unimport(rt, lm_ref_value_id(t->m.args[i].data), lm_ref_value_weight(t->m.args[i].data));
    pthread_mutex_unlock(&rt->lock);
    for (int i = 0; i < t->m.nargs; i++) {
        if (c->argpinned[i])
            lm_store_unpin(rt->store, t->m.args[i].oid);
        free(c->argfree[i]);
    }
    for (int i = 0; i < LUMEN_MAX_RETURNS; i++)
        free(c->retfree[i]);
    lm_ctx_await_drop(c);
    free(c);
    return outcome;
}

int lm_task_execute(lm_rt *rt, lm_task *t, lm_actor_inst *inst)
{
    lumen_task_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        lm_task_reply_error(rt, t, "executor out of memory", 0);
        return LM_RUN_FATAL;
    }
    c->task = t;
    c->rt = rt;
    c->actor = inst;
    const int *slots = inst ? inst->gpu_slot : t->gpu_slot;
    c->num_gpu_ids = inst ? inst->ngpu : t->ngpu;
    for (int i = 0; i < c->num_gpu_ids; i++)
        c->gpu_ids[i] = rt->gpu_id[slots[i]];
    if (t->m.kind == LM_KIND_CALL)
        c->method = lm_registry_method(inst->cls, t->m.fn);
    lumen_status st;
    int ran = 0;
    if (t->m.kind == LM_KIND_TASK && !t->fn) {
        st = lm_error(LUMEN_ERR_UNKNOWN_FUNCTION, "unknown remote function '%s' on rank %d", t->m.fn, rt->rank);
    } else if (t->m.kind == LM_KIND_CALL && !c->method) {
        st = lm_error(LUMEN_ERR_UNKNOWN_FUNCTION, "actor class '%s' has no method '%s'", inst->cls, t->m.fn);
    } else {
        st = resolve_args(rt, c);
        c->t0 = lm_wall_us();
        for (int i = 0; i < t->m.nargs; i++)
            c->bytes += c->argn[i];
        ran = 1;
        if (st == LUMEN_OK && (t->m.flags & LM_TASK_STREAMING))
            st = lm_gen_prod_begin(rt, c);
        if (st == LUMEN_OK)
            st = invoke(rt, c);
        if (st == LUMEN_PENDING) {
            inst->awaited = c; /* the async actor's thread arms what it awaits */
            return LM_RUN_PENDING;
        }
    }
    return task_finish(rt, c, st, ran, 1);
}

int lm_task_resume(lm_rt *rt, lumen_task_ctx *c)
{
    lumen_status st = invoke(rt, c);
    if (st == LUMEN_PENDING) {
        c->actor->awaited = c;
        return LM_RUN_PENDING;
    }
    return task_finish(rt, c, st, 1, 1);
}

void lm_task_ctx_fail(lm_rt *rt, lumen_task_ctx *c, const char *msg)
{
    lm_task *t = c->task;
    for (int i = 0; i < t->m.num_returns; i++)
        lm_ctx_drop_return(c, i);
    snprintf(c->error, sizeof c->error, "%s", msg);
    lm_task_reply_error(rt, t, msg, LM_ERRK_ACTOR_DIED);
    task_finish(rt, c, LUMEN_ERR_ACTOR_DIED, 0, 0);
}
