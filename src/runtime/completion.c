/*
 * completion.c - learning that objects settled without a thread blocked per
 * object (Ray: asyncio on ObjectRefs, ObjectRef._on_completed).
 *
 * The mechanism is the watch (runtime.h): armed on an object with a hold on
 * it, fired once, with rt->lock held, when the object settles. Three things
 * are built on it:
 *   - completion queues (lumen_cq_*): a fired watch appends a completion;
 *     waiters sleep on rt->ready_cv like lumen_get's, which every settling
 *     object broadcasts;
 *   - completion callbacks (lumen_ref_on_ready): a fired watch joins a list
 *     the progress thread runs with no lock held;
 *   - the awaits of async actors (src/actor/async.c).
 * Waiting with a blocked thread (lumen_get, lumen_wait) is objects_api.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "runtime/runtime.h"

_Thread_local int lm_tls_in_callback;

lumen_status lm_obj_status(const lm_obj *o)
{
    if (o->state != LM_OBJ_ERROR)
        return LUMEN_OK;
    /* error kinds: LM_ERRK_* */
    static const lumen_status kinds[] = {LUMEN_ERR_TASK_FAILED, LUMEN_ERR_TASK_CANCELLED, LUMEN_ERR_UNKNOWN_FUNCTION,
                                         LUMEN_ERR_ACTOR_DIED, LUMEN_ERR_ACTOR_DIED,   LUMEN_ERR_INFEASIBLE};
    return o->type < sizeof kinds / sizeof kinds[0] ? kinds[o->type] : LUMEN_ERR_TASK_FAILED;
}

/* ---- watches --------------------------------------------------------------- */
void lm_watch_arm(lm_rt *rt, lm_obj *o, lm_watch *w)
{
    if (o->state != LM_OBJ_PENDING) {
        w->fire(rt, w, lm_obj_status(o));
        return;
    }
    o->refs++; /* the watch's hold */
    w->next = o->watches;
    o->watches = w;
    lm_obj_need_value(rt, o); /* borrowed: ask the owner for the value */
}

int lm_watch_disarm(lm_rt *rt, lm_watch *w)
{
    lm_obj *o = lm_obj_find(rt, lm_oid_from_ref(w->ref));
    if (!o)
        return 0;
    for (lm_watch **pp = &o->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            lm_obj_unref(rt, o); /* may free o */
            return 1;
        }
    return 0;
}

void lm_watches_fire(lm_rt *rt, lm_obj *o)
{
    lm_watch *w = o->watches;
    o->watches = NULL;
    lumen_status st = lm_obj_status(o);
    while (w) {
        lm_watch *n = w->next;
        w->fire(rt, w, st);
        o->refs--; /* its hold; the caller frees o when nothing else holds it */
        w = n;
    }
}

void lm_watches_abandon(lm_rt *rt, lm_obj *o)
{
    lm_watch *w = o->watches;
    o->watches = NULL;
    while (w) {
        lm_watch *n = w->next;
        w->fire(rt, w, LUMEN_ERR_SHUTDOWN);
        w = n;
    }
}

/* ---- completion queues ------------------------------------------------------ */
struct lumen_completion_queue {
    pthread_mutex_t lock;
    lumen_completion *ring;
    size_t cap, head, len;
    size_t armed;  /* watches not fired yet */
    int refs;      /* the caller's handle and each armed watch */
    int destroyed;
    int overflow;  /* a completion was lost for lack of memory */
};

static void cq_free(lumen_completion_queue *cq)
{
    pthread_mutex_destroy(&cq->lock);
    free(cq->ring);
    free(cq);
}

/* cq->lock held */
static int cq_push(lumen_completion_queue *cq, lumen_completion c)
{
    if (cq->len == cq->cap) {
        size_t cap = cq->cap ? 2 * cq->cap : 64;
        lumen_completion *r = malloc(cap * sizeof *r);
        if (!r)
            return 0;
        for (size_t i = 0; i < cq->len; i++)
            r[i] = cq->ring[(cq->head + i) % cq->cap];
        free(cq->ring);
        cq->ring = r;
        cq->cap = cap;
        cq->head = 0;
    }
    cq->ring[(cq->head + cq->len) % cq->cap] = c;
    cq->len++;
    return 1;
}

static void cq_fire(lm_rt *rt, lm_watch *w, lumen_status st)
{
    (void)rt;
    lumen_completion_queue *cq = w->arg;
    pthread_mutex_lock(&cq->lock);
    cq->armed--;
    if (!cq->destroyed && !cq_push(cq, (lumen_completion){w->ref, w->tag, st}))
        cq->overflow = 1;
    int last = --cq->refs == 0;
    pthread_mutex_unlock(&cq->lock);
    if (last)
        cq_free(cq);
    free(w);
}

lumen_status lumen_cq_create(lumen_completion_queue **out)
{
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_cq_create: out is NULL");
    lumen_completion_queue *cq = calloc(1, sizeof *cq);
    if (!cq)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a completion queue");
    pthread_mutex_init(&cq->lock, NULL);
    cq->refs = 1;
    *out = cq;
    return LUMEN_OK;
}

lumen_status lumen_cq_add(lumen_completion_queue *cq, lumen_ref ref, uint64_t tag)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!cq)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_cq_add: queue is NULL");
    lm_watch *w = calloc(1, sizeof *w);
    if (!w)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a watch");
    w->fire = cq_fire;
    w->ref = ref;
    w->arg = cq;
    w->tag = tag;
    lumen_status st;
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_lookup_ref(rt, ref, &st);
    if (o) {
        pthread_mutex_lock(&cq->lock);
        cq->armed++;
        cq->refs++;
        pthread_mutex_unlock(&cq->lock);
        int settled = o->state != LM_OBJ_PENDING;
        lm_watch_arm(rt, o, w);
        if (settled && rt->ready_waiters) /* fired here: wake a waiter that sleeps */
            pthread_cond_broadcast(&rt->ready_cv);
    }
    pthread_mutex_unlock(&rt->lock);
    if (!o)
        free(w);
    return st;
}

static size_t cq_take(lumen_completion_queue *cq, lumen_completion *out, size_t max, int *idle, int *lost)
{
    pthread_mutex_lock(&cq->lock);
    *lost = cq->overflow;
    cq->overflow = 0;
    size_t n = 0;
    while (n < max && cq->len) {
        out[n++] = cq->ring[cq->head];
        cq->head = (cq->head + 1) % cq->cap;
        cq->len--;
    }
    *idle = cq->armed == 0 && cq->len == 0;
    pthread_mutex_unlock(&cq->lock);
    return n;
}

static int cq_has_news(lm_rt *rt, void *arg)
{
    (void)rt;
    lumen_completion_queue *cq = arg;
    pthread_mutex_lock(&cq->lock);
    int yes = cq->len > 0 || cq->armed == 0;
    pthread_mutex_unlock(&cq->lock);
    return yes;
}

lumen_status lumen_cq_wait(lumen_completion_queue *cq, lumen_completion *out, size_t max, int64_t timeout_ms,
                           size_t *n)
{
    lm_rt *rt = lm_g;
    if (n)
        *n = 0;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!cq || !n || (max && !out))
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_cq_wait: NULL queue, out or n");
    if (max == 0)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "lumen_cq_wait: max is 0");
    if (timeout_ms < LUMEN_TIMEOUT_INFINITE)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_cq_wait: timeout %lld ms", (long long)timeout_ms);
    if (lm_tls_in_callback && timeout_ms != 0)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_cq_wait may not block inside a completion callback");
    uint64_t deadline = timeout_ms > 0 ? lm_now_ns() + (uint64_t)timeout_ms * 1000000ull : 0;
    for (;;) {
        int idle, lost;
        *n = cq_take(cq, out, max, &idle, &lost);
        if (lost)
            return lm_error(LUMEN_ERR_NO_MEMORY, "lumen_cq_wait: completions were lost for lack of memory");
        if (*n || idle || timeout_ms == 0)
            return LUMEN_OK;
        lm_progress(rt);
        lumen_status st = lm_wait_until(rt, cq_has_news, cq, deadline);
        if (st == LUMEN_ERR_TIMEOUT) {
            *n = cq_take(cq, out, max, &idle, &lost);
            return lost ? lm_error(LUMEN_ERR_NO_MEMORY, "lumen_cq_wait: completions were lost for lack of memory")
                        : LUMEN_OK;
        }
        if (st != LUMEN_OK)
            return st;
    }
}

size_t lumen_cq_outstanding(const lumen_completion_queue *cq)
{
    if (!cq)
        return 0;
    lumen_completion_queue *q = (lumen_completion_queue *)cq;
    pthread_mutex_lock(&q->lock);
    size_t n = q->armed + q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

lumen_status lumen_cq_destroy(lumen_completion_queue *cq)
{
    if (!cq)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_cq_destroy: queue is NULL");
    pthread_mutex_lock(&cq->lock);
    if (cq->destroyed) {
        pthread_mutex_unlock(&cq->lock);
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_cq_destroy: queue already destroyed");
    }
    cq->destroyed = 1;
    cq->len = 0;
    int last = --cq->refs == 0;
    pthread_mutex_unlock(&cq->lock);
    if (last)
        cq_free(cq);
    return LUMEN_OK;
}

/* ---- completion callbacks ----------------------------------------------------- */
typedef struct lm_callback {
    lm_watch w; /* first: the watch is the callback */
    lumen_ready_fn fn;
    lumen_status st;
} lm_callback;

static void cb_fire(lm_rt *rt, lm_watch *w, lumen_status st)
{
    lm_callback *cb = (lm_callback *)w;
    cb->st = st;
    w->next = NULL;
    pthread_mutex_lock(&rt->cb_lock);
    if (rt->cb_tail)
        rt->cb_tail->next = w;
    else
        rt->cb_head = w;
    rt->cb_tail = w;
    atomic_fetch_add(&rt->ncallbacks, 1);
    pthread_mutex_unlock(&rt->cb_lock);
    lm_wake_progress(rt);
}

lumen_status lumen_ref_on_ready(lumen_ref ref, lumen_ready_fn fn, void *arg)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!fn)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_ref_on_ready: callback is NULL");
    lm_callback *cb = calloc(1, sizeof *cb);
    if (!cb)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a callback");
    cb->w.fire = cb_fire;
    cb->w.ref = ref;
    cb->w.arg = arg;
    cb->fn = fn;
    lumen_status st;
    pthread_mutex_lock(&rt->lock);
    lm_obj *o = lm_obj_lookup_ref(rt, ref, &st);
    if (o)
        lm_watch_arm(rt, o, &cb->w);
    pthread_mutex_unlock(&rt->lock);
    if (!o)
        free(cb);
    return st;
}

void lm_callbacks_run(lm_rt *rt)
{
    pthread_mutex_lock(&rt->cb_lock);
    lm_watch *w = rt->cb_head;
    rt->cb_head = rt->cb_tail = NULL;
    atomic_store(&rt->ncallbacks, 0);
    pthread_mutex_unlock(&rt->cb_lock);
    lm_tls_in_callback = 1;
    while (w) {
        lm_watch *n = w->next;
        lm_callback *cb = (lm_callback *)w;
        cb->fn(w->ref, cb->st, w->arg);
        free(cb);
        w = n;
    }
    lm_tls_in_callback = 0;
}

void lm_callbacks_free(lm_rt *rt)
{
    /* the job ended: each callback not yet run runs now, once, so it can free
     * its argument (LUMEN_ERR_SHUTDOWN for objects that never settled); lumen
     * calls in it fail with LUMEN_ERR_NOT_INITIALIZED */
    lm_callbacks_run(rt);
}
