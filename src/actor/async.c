/*
 * async.c - async actors (lumen_actor_options.is_async): ONE thread, many
 * calls in flight (Ray's asyncio actors).
 *
 * A method that calls lumen_await returns LUMEN_PENDING. Its ctx is parked
 * on the actor's in-flight list and a watch (runtime/completion.c) is armed
 * on each reference it awaits; when the last one fires, the ctx joins the
 * actor's ready list and the actor's thread (host.c's loop) runs the
 * continuation, which may await again. The thread keeps taking new calls
 * while fewer than max_concurrency are parked. When the actor ends, the
 * calls still in flight run their continuation once more (cancelled, to
 * free their state) and are answered "actor died". Threaded actors and the
 * mailbox are host.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "common/error.h"

extern _Thread_local lumen_task_ctx *lm_tls_ctx;

#define MAX_AWAIT (1u << 20)

static void await_fire(lm_rt *rt, lm_watch *w, lumen_status st);

lumen_status lumen_await(lumen_task_ctx *ctx, const lumen_ref *refs, size_t n, lumen_continuation_fn k,
                         void *state)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!ctx || !k || (n && !refs))
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_await: NULL ctx, continuation or refs");
    if (ctx != lm_tls_ctx)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_await: ctx is not the running call's");
    if (!ctx->actor || !ctx->actor->is_async || ctx->task->m.kind != LM_KIND_CALL)
        return lm_error(LUMEN_ERR_INVALID_ARG,
                        "lumen_await needs a method of an async actor (lumen_actor_options.is_async)");
    if (ctx->resume)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_await: this call already awaits");
    if (ctx->gen)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_await: a streaming method yields; it cannot await");
    if (ctx->await_cancelled)
        return lm_error(LUMEN_ERR_ACTOR_DIED, "lumen_await: the actor ended; this call is cancelled");
    if (n > MAX_AWAIT)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "lumen_await: %zu references (at most %u)", n, MAX_AWAIT);
    lumen_status st = LUMEN_OK;
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < n && st == LUMEN_OK; i++)
        lm_obj_lookup_ref(rt, refs[i], &st);
    pthread_mutex_unlock(&rt->lock);
    if (st != LUMEN_OK)
        return st;
    lm_watch *w = calloc(n ? n : 1, sizeof *w);
    if (!w)
        return lm_error(LUMEN_ERR_NO_MEMORY, "lumen_await: no memory for %zu watches", n);
    for (size_t i = 0; i < n; i++) {
        w[i].fire = await_fire;
        w[i].ref = refs[i];
        w[i].arg = ctx;
    }
    ctx->await_watches = w;
    ctx->await_n = n;
    ctx->resume = k;
    ctx->resume_state = state;
    return LUMEN_PENDING;
}

void lm_ctx_await_drop(lumen_task_ctx *c)
{
    free(c->await_watches);
    c->await_watches = NULL;
    c->await_n = 0;
    c->resume = NULL;
    c->resume_state = NULL;
}

/* rt->lock held (so under it: the actor's lock) */
static void make_ready(lm_actor_inst *a, lumen_task_ctx *c)
{
    pthread_mutex_lock(&a->lock);
    c->rnext = NULL;
    if (a->ready_tail)
        a->ready_tail->rnext = c;
    else
        a->ready_head = c;
    a->ready_tail = c;
    if (a->sleepers)
        pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->lock);
}

static void await_fire(lm_rt *rt, lm_watch *w, lumen_status st)
{
    (void)rt;
    (void)st; /* the continuation reads each value or error with lumen_get */
    lumen_task_ctx *c = w->arg;
    if (--c->await_left == 0)
        make_ready(c->actor, c);
}

void lm_actor_await_park(lm_rt *rt, lm_actor_inst *a, lumen_task_ctx *c)
{
    c->aprev = NULL;
    c->anext = a->flight;
    if (a->flight)
        a->flight->aprev = c;
    a->flight = c;
    pthread_mutex_lock(&a->lock);
    a->inflight++;
    pthread_mutex_unlock(&a->lock);
    pthread_mutex_lock(&rt->lock);
    c->await_left = (int)c->await_n + 1; /* +1: nothing is ready before every watch is armed */
    for (size_t i = 0; i < c->await_n; i++) {
        lumen_status st;
        lm_obj *o = lm_obj_lookup_ref(rt, c->await_watches[i].ref, &st);
        if (o)
            lm_watch_arm(rt, o, &c->await_watches[i]); /* may fire at once */
        else
            c->await_left--; /* released since: the continuation's get says so */
    }
    if (--c->await_left == 0)
        make_ready(a, c);
    pthread_mutex_unlock(&rt->lock);
}

void lm_actor_await_unpark(lm_actor_inst *a, lumen_task_ctx *c)
{
    if (c->aprev)
        c->aprev->anext = c->anext;
    else
        a->flight = c->anext;
    if (c->anext)
        c->anext->aprev = c->aprev;
    c->anext = c->aprev = NULL;
    pthread_mutex_lock(&a->lock);
    a->inflight--;
    pthread_mutex_unlock(&a->lock);
}

void lm_actor_await_end(lm_rt *rt, lm_actor_inst *a, const char *msg)
{
    /* no watch fires after this: each is disarmed under rt->lock, or fired */
    pthread_mutex_lock(&rt->lock);
    for (lumen_task_ctx *c = a->flight; c; c = c->anext)
        for (size_t i = 0; i < c->await_n; i++)
            lm_watch_disarm(rt, &c->await_watches[i]);
    pthread_mutex_unlock(&rt->lock);
    pthread_mutex_lock(&a->lock);
    a->ready_head = a->ready_tail = NULL;
    a->inflight = 0;
    pthread_mutex_unlock(&a->lock);
    lumen_task_ctx *c = a->flight;
    a->flight = NULL;
    while (c) {
        lumen_task_ctx *n = c->anext;
        lm_task *t = c->task;
        if (c->resume && a->constructed) {
            /* the continuation's last run, as asyncio raises CancelledError
             * into a coroutine: it frees its state; its returns are dropped */
            lumen_continuation_fn k = c->resume;
            void *state = c->resume_state;
            lm_ctx_await_drop(c);
            c->await_cancelled = 1;
            lm_tls_ctx = c;
            (void)k(a->self, c, state);
            lm_tls_ctx = NULL;
            lm_ctx_await_drop(c);
        }
        lm_task_ctx_fail(rt, c, msg);
        lm_task_free(t);
        c = n;
    }
}

int lumen_await_cancelled(const lumen_task_ctx *ctx) { return ctx && ctx->await_cancelled; }
