/*
 * generator.c - the caller's side of a streaming generator: the handle
 * (lumen_remote_generator, _next, _cancel, _release), the items as their
 * YIELD messages arrive, and the consumption acks that let a paused
 * producer go on.
 *
 * The task is an ordinary task record (submit.c) whose one return object,
 * the "done" object, receives the DONE: the item count, or the task's
 * error. Items are objects this rank owns, made when their YIELD arrives
 * (id: lm_stream_item_oid) and held by the handle until lumen_generator_next
 * hands that reference to the caller. YIELDs and the DONE of one executor
 * arrive in order (per-pair FIFO, or direct calls on this rank), so a
 * settled done object means every item is here. Handles sit in a hash under
 * rt->lock, keyed by task id, from the moment the id exists (lm_gen_attach,
 * before dispatch) until release; a YIELD for an unknown or cancelled
 * generator is dropped and its store copy freed. Does not own the producer
 * (gen_yield.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runtime/generator.h"

struct lumen_generator {
    struct lumen_generator *hnext;
    lm_oid task;          /* {0,0} until attached */
    lumen_ref done;       /* the task's return object: count or error */
    uint64_t received;    /* items arrived (0 .. received-1 exist) */
    uint64_t taken;       /* items handed out by next */
    uint64_t acked;       /* count last sent in a YIELD_ACK */
    uint32_t bound;       /* back-pressure bound, 0: none */
    int executor;         /* rank running the producer (from its YIELDs) */
    uint8_t cancelled;    /* lumen_generator_cancel: items dropped */
    uint8_t report;       /* an error or cancel not reported yet */
    uint8_t reported;     /* the final error was reported once */
};

#define GEN_BUCKETS 1024
static struct lumen_generator *gens[GEN_BUCKETS]; /* rt->lock */

static size_t gbucket(lm_oid id) { return (size_t)(id.lo * 0x9e3779b97f4a7c15ull >> 44) % GEN_BUCKETS; }

static struct lumen_generator *gen_find(lm_oid task)
{
    for (struct lumen_generator *g = gens[gbucket(task)]; g; g = g->hnext)
        if (lm_oid_eq(g->task, task))
            return g;
    return NULL;
}

static void gen_remove(struct lumen_generator *g)
{
    struct lumen_generator **pp = &gens[gbucket(g->task)];
    while (*pp && *pp != g)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = g->hnext;
}

void lm_gen_attach(lm_rt *rt, lm_task_rec *t)
{
    (void)rt;
    struct lumen_generator *g = t->gen;
    g->task = t->id;
    g->executor = -1;
    size_t b = gbucket(t->id);
    g->hnext = gens[b];
    gens[b] = g;
}

/* A value nobody will read: free its store copy. rt->lock held. */
static void drop_value(lm_rt *rt, const lm_wval *v)
{
    if (v->kind != LM_VAL_STORE)
        return;
    if (v->node == rt->node_id)
        lm_store_delete(rt->store, v->oid);
    else
        lm_send_small(rt, v->holder, LM_MSG_FREE, v->oid, 0, 0);
}

void lm_gen_handle_items(lm_rt *rt, lm_oid task, uint32_t attempt, int executor, uint64_t first, uint32_t n,
                         const lm_wval *vals)
{
    (void)attempt; /* a generator runs once: there is only attempt 0 */
    pthread_mutex_lock(&rt->lock);
    struct lumen_generator *g = gen_find(task);
    for (uint32_t i = 0; i < n; i++) {
        const lm_wval *v = &vals[i];
        lm_oid id = lm_stream_item_oid(task, first + i);
        /* the value must be this item's: a STORE location under another id is forged */
        int ok = g && !g->cancelled && first + i == g->received && lm_oid_owner(task) == rt->rank &&
                 (v->kind != LM_VAL_STORE || lm_oid_eq(v->oid, id));
        lm_obj *o = ok ? lm_obj_new(rt, id) : NULL;
        if (!o) {
            drop_value(rt, v);
            continue;
        }
        g->executor = executor;
        g->received++;
        lm_obj_complete(rt, o, v); /* its one reference is the handle's until next */
    }
    pthread_mutex_unlock(&rt->lock);
}

/* Release items not taken. rt->lock held. */
static void drop_untaken(lm_rt *rt, struct lumen_generator *g)
{
    for (; g->taken < g->received; g->taken++) {
        lm_obj *o = lm_obj_find(rt, lm_stream_item_oid(g->task, g->taken));
        if (o)
            lm_obj_unref(rt, o);
    }
}

lumen_status lumen_remote_generator(const char *fn, const lumen_arg *args, size_t nargs,
                                    const lumen_task_options *opts, lumen_generator **out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_remote_generator: out is NULL");
    *out = NULL;
    uint32_t bound = 0;
    if (opts && (opts->field_mask & LUMEN_TASK_NUM_RETURNS) && opts->num_returns != 1)
        return lm_error(LUMEN_ERR_INVALID_ARG, "a streaming generator has num_returns 1 (got %d)",
                        opts->num_returns);
    if (opts && (opts->field_mask & LUMEN_TASK_GENERATOR_BACKPRESSURE)) {
        if (opts->generator_backpressure_num_objects < 0)
            return lm_error(LUMEN_ERR_INVALID_ARG, "generator_backpressure_num_objects %d < 0",
                            opts->generator_backpressure_num_objects);
        bound = (uint32_t)opts->generator_backpressure_num_objects;
    }
    struct lumen_generator *g = calloc(1, sizeof *g);
    if (!g)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a generator");
    g->bound = bound;
    g->executor = -1;
    lumen_status st = lm_remote_submit(fn, args, nargs, opts, g, bound, &g->done);
    if (st != LUMEN_OK) { /* never attached */
        free(g);
        return st;
    }
    *out = g;
    return LUMEN_OK;
}

lumen_status lumen_actor_call_generator(lumen_actor actor, const char *method, const lumen_arg *args, size_t nargs,
                                        const lumen_call_options *opts, lumen_generator **out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_actor_call_generator: out is NULL");
    *out = NULL;
    uint32_t bound = 0;
    if (opts && (opts->field_mask & LUMEN_CALL_NUM_RETURNS) && opts->num_returns != 1)
        return lm_error(LUMEN_ERR_INVALID_ARG, "a streaming generator has num_returns 1 (got %d)",
                        opts->num_returns);
    if (opts && (opts->field_mask & LUMEN_CALL_GENERATOR_BACKPRESSURE)) {
        if (opts->generator_backpressure_num_objects < 0)
            return lm_error(LUMEN_ERR_INVALID_ARG, "generator_backpressure_num_objects %d < 0",
                            opts->generator_backpressure_num_objects);
        bound = (uint32_t)opts->generator_backpressure_num_objects;
    }
    struct lumen_generator *g = calloc(1, sizeof *g);
    if (!g)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a generator");
    g->bound = bound;
    g->executor = -1;
    lumen_status st = lm_actor_call_submit(actor, method, args, nargs, opts, g, bound, &g->done);
    if (st != LUMEN_OK) {
        free(g);
        return st;
    }
    *out = g;
    return LUMEN_OK;
}

/* the item count a finished generator's DONE reported (-1: none) */
static int64_t done_count(const lm_obj *o)
{
    int64_t n = -1;
    if (o->state == LM_OBJ_READY && o->type == LUMEN_TYPE_I64 && !o->in_store && o->data && o->size == 8)
        memcpy(&n, o->data, 8);
    return n;
}

/* rt->lock held: 1 if next has something to say now */
static int gen_settled(lm_rt *rt, void *arg)
{
    struct lumen_generator *g = arg;
    if (g->cancelled || g->taken < g->received)
        return 1;
    lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(g->done));
    return !o || o->state != LM_OBJ_PENDING;
}

lumen_status lumen_generator_next(lumen_generator *g, int64_t timeout_ms, lumen_ref *out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!g || !out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_generator_next: NULL generator or out");
    *out = LUMEN_REF_NIL;
    uint64_t deadline = timeout_ms < 0 ? 0 : lm_now_ns() + (uint64_t)timeout_ms * 1000000ull + 1;
    lumen_status st = LUMEN_OK;
    uint64_t ack = 0;
    int ack_to = -1;
    int64_t count;
    pthread_mutex_lock(&rt->lock);
    for (;;) {
        if (!g->cancelled && g->taken < g->received) {
            *out = lm_ref_from_oid(lm_stream_item_oid(g->task, g->taken++));
            /* ack when the producer may be paused, or half a bound went by */
            if (g->bound && g->executor >= 0 && g->taken > g->acked &&
                (g->received - g->acked >= g->bound || g->taken - g->acked >= (g->bound + 1) / 2)) {
                g->acked = ack = g->taken;
                ack_to = g->executor;
            }
            break;
        }
        lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(g->done));
        if (g->cancelled || !o || o->state != LM_OBJ_PENDING) {
            if (g->report && !g->reported) {
                g->reported = 1;
                st = lm_error(LUMEN_ERR_TASK_CANCELLED, "the generator was cancelled");
            } else if (o && o->state == LM_OBJ_ERROR && !g->reported && !g->cancelled) {
                static const lumen_status kinds[] = {LUMEN_ERR_TASK_FAILED, LUMEN_ERR_TASK_CANCELLED,
                                                     LUMEN_ERR_UNKNOWN_FUNCTION, LUMEN_ERR_ACTOR_DIED,
                                                     LUMEN_ERR_ACTOR_DIED};
                g->reported = 1;
                st = lm_error_str(o->type < 5 ? kinds[o->type] : LUMEN_ERR_TASK_FAILED,
                                  o->data ? o->data : "task failed");
            } else if (o && !g->reported && !g->cancelled && (count = done_count(o)) >= 0 &&
                       (uint64_t)count > g->received) {
                g->reported = 1; /* items that never arrived (out of memory here) */
                st = lm_error(LUMEN_ERR_INTERNAL, "the generator yielded %lld items but %llu arrived", (long long)count,
                              (unsigned long long)g->received);
            } else {
                st = lm_error(LUMEN_ERR_END_OF_STREAM, "end of stream after %llu items",
                              (unsigned long long)g->taken);
            }
            break;
        }
        pthread_mutex_unlock(&rt->lock);
        if (timeout_ms == 0)
            return lm_error(LUMEN_ERR_TIMEOUT, "no item yet");
        st = lm_wait_until(rt, gen_settled, g, deadline);
        if (st == LUMEN_ERR_TIMEOUT)
            return lm_error(LUMEN_ERR_TIMEOUT, "no item after %lld ms", (long long)timeout_ms);
        if (st != LUMEN_OK)
            return st;
        pthread_mutex_lock(&rt->lock);
    }
    pthread_mutex_unlock(&rt->lock);
    if (ack_to >= 0) {
        if (ack_to == rt->rank)
            lm_gen_prod_ack(rt, g->task, ack);
        else {
            lm_send_small(rt, ack_to, LM_MSG_YIELD_ACK, g->task, 0, ack);
            lm_progress(rt);
        }
    }
    return st;
}

lumen_status lumen_generator_cancel(lumen_generator *g)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!g)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_generator_cancel: NULL generator");
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(g->done));
    int running = o && o->state == LM_OBJ_PENDING;
    if (!g->cancelled) {
        g->cancelled = 1;
        g->report = running && !g->reported;
        drop_untaken(rt, g);
    }
    if (rt->ready_waiters)
        pthread_cond_broadcast(&rt->ready_cv);
    pthread_mutex_unlock(&rt->lock);
    if (running)
        (void)lumen_cancel(g->done); /* the producer's next yield returns cancelled */
    lm_error_clear();
    return LUMEN_OK;
}

lumen_status lumen_generator_release(lumen_generator *g)
{
    lm_rt *rt = lm_g;
    if (!g)
        return LUMEN_OK;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    pthread_mutex_lock(&rt->lock);
    gen_remove(g); /* later YIELDs find nothing and are dropped */
    drop_untaken(rt, g);
    lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(g->done));
    int running = o && o->state == LM_OBJ_PENDING;
    pthread_mutex_unlock(&rt->lock);
    if (running)
        (void)lumen_cancel(g->done);
    lumen_status st = lumen_ref_release(g->done);
    free(g);
    return st;
}

lumen_status lumen_generator_status(lumen_generator *g, uint64_t *taken, int *ended)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!g)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_generator_status: NULL generator");
    pthread_mutex_lock(&rt->lock);
    if (taken)
        *taken = g->taken;
    if (ended) {
        lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(g->done));
        *ended = g->cancelled || ((!o || o->state != LM_OBJ_PENDING) && g->taken == g->received);
    }
    pthread_mutex_unlock(&rt->lock);
    return LUMEN_OK;
}
