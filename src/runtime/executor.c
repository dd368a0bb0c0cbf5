/*
 * executor.c - when tasks run on this rank: the ready queue, the executor
 * threads, resource accounting (the rank's pool, placement group bundles,
 * GPU slots), cancel of queued tasks and work stealing.
 *
 * A TASK message becomes an lm_task in the ready queue (actor creations and
 * calls go to their actor instead, src/actor/host.c). Executor threads take
 * the first task whose demand fits the free resources and run it
 * (task_run.c: arguments, the function, DONE to the owner). A task that
 * blocks in get/wait gives its resources back and, if work is queued, a new
 * thread starts so nested tasks never deadlock a small allocation. Idle
 * threads spin (driving progress) for rt->spin_ns, steal queued tasks from
 * other ranks meanwhile, then sleep on exec_cv.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "common/error.h"
#include "placement/placement.h"
#include "runtime/generator.h"
#include "runtime/registry.h"
#include "runtime/runtime.h"

extern _Thread_local lumen_task_ctx *lm_tls_ctx;


/* the pool a task draws on: its bundle's, or the rank's */
static double *pool_of(lm_rt *rt, lm_bundle *b)
{
    return b && !b->removed ? b->avail : rt->avail;
}

void lm_executor_take(lm_rt *rt, lm_bundle *b, const double *demand, double sign)
{
    double *pool = pool_of(rt, b);
    for (int k = 0; k < LM_MAX_RES; k++)
        pool[k] -= sign * demand[k];
}

static void take(lm_rt *rt, lm_task *t, double sign)
{
    lm_executor_take(rt, t->bundle, t->m.demand, sign);
}

static void spawn_locked(lm_rt *rt);
static lm_task *unlink_where(lm_rt *rt, int (*match)(lm_rt *, lm_task *, void *), void *arg, int from_tail);
lm_task *lm_executor_unlink_bundle(lm_rt *rt, lm_bundle *b);

/* A task that asks for more than its whole bundle holds can never start:
 * fail it now, naming the first resource short (Ray: infeasible). 1 when
 * failed (t is gone). */
static int bundle_too_small(lm_rt *rt, lm_task *t)
{
    lm_bundle *b = t->bundle;
    int k = 0;
    while (k < rt->nres && t->m.demand[k] <= b->demand[k] + 1e-9)
        k++;
    if (k == rt->nres)
        return 0;
    char msg[LM_FN_MAX + 192];
    snprintf(msg, sizeof msg, "task '%s' is infeasible: it asks for %s=%g and its placement group bundle %d holds %g",
             t->m.fn, rt->resname[k], t->m.demand[k], b->index, b->demand[k]);
    lm_task_reply_error_async(rt, t, msg, LM_ERRK_INFEASIBLE);
    pthread_mutex_lock(&rt->exec_lock);
    lm_bundle_put(rt, b);
    pthread_mutex_unlock(&rt->exec_lock);
    t->bundle = NULL;
    lm_task_discard(rt, t);
    return 1;
}

lumen_status lm_executor_accept(lm_rt *rt, int src, void *buf, size_t len)
{
    if (atomic_load(&rt->stop_threads)) { /* finalizing: nobody will run it */
        free(buf);
        return LUMEN_OK;
    }
    lm_task *t = lm_task_from_msg(rt, src, buf, len);
    if (!t)
        return LUMEN_ERR_PROTOCOL;
    if (t->m.pg_id.lo != 0) {
        /* runs in a placement group bundle reserved here */
        pthread_mutex_lock(&rt->exec_lock);
        t->bundle = lm_bundle_acquire(rt, t->m.pg_id, t->m.bundle);
        pthread_mutex_unlock(&rt->exec_lock);
        if (!t->bundle) {
            char msg[LM_FN_MAX + 128];
            snprintf(msg, sizeof msg, "'%s' not run: its placement group bundle %d is not reserved on rank %d (removed)",
                     t->m.fn, t->m.bundle, rt->rank);
            lm_task_reply_error_async(rt, t, msg, t->m.kind == LM_KIND_CALL ? LM_ERRK_ACTOR_DIED : LM_ERRK_FAILED);
            if (t->m.kind == LM_KIND_CREATE) {
                lm_ctl_msg m = {.op = LM_CTL_ACTOR_STATE, .a = t->m.actor_id};
                m.v[0] = LM_ACTOR_DEAD;
                m.v[1] = t->m.attempt;
                m.s[0] = msg;
                m.slen[0] = (uint32_t)strlen(msg);
                lm_ctl_send(rt, 0, &m);
            }
            lm_task_discard(rt, t);
            return LUMEN_OK;
        }
    }
    if (t->m.kind != LM_KIND_TASK) {
        lm_actor_host_accept(rt, t);
        return LUMEN_OK;
    }
    if (t->bundle && bundle_too_small(rt, t))
        return LUMEN_OK;
    t->fn = lm_registry_find(t->m.fn);
    if ((t->m.flags & LM_TASK_STOLEN) && src != rt->rank) {
        pthread_mutex_lock(&rt->exec_lock);
        rt->steal_outstanding = 0;
        rt->steal_gap_ns = 200000ull; /* work was there: ask again soon */
        pthread_mutex_unlock(&rt->exec_lock);
    }
    lm_executor_push(rt, t);
    return LUMEN_OK;
}

void lm_executor_push(lm_rt *rt, lm_task *t)
{
    t->next = NULL;
    t->queued_ns = lm_now_ns();
    pthread_mutex_lock(&rt->exec_lock);
    if (rt->exec_closed) { /* finalize stopped the executors: nobody will run it */
        pthread_mutex_unlock(&rt->exec_lock);
        lm_task_free(t);
        return;
    }
    if (rt->ready_tail)
        rt->ready_tail->next = t;
    else
        rt->ready_head = t;
    rt->ready_tail = t;
    rt->ready_len++;
    if (rt->exec_sleepers)
        pthread_cond_signal(&rt->exec_cv);
    else if (rt->idle_threads == 0 && lm_res_fits(pool_of(rt, t->bundle), t->m.demand, LM_MAX_RES))
        spawn_locked(rt); /* every thread is busy or blocked in a get, yet resources are free */
    pthread_mutex_unlock(&rt->exec_lock);
}

/* exec_lock held: first queued task that fits the free resources (bounded scan) */
static lm_task *pick(lm_rt *rt)
{
    lm_task *prev = NULL;
    int scanned = 0;
    for (lm_task *t = rt->ready_head; t && scanned < 64; prev = t, t = t->next, scanned++) {
        if (!lm_res_fits(pool_of(rt, t->bundle), t->m.demand, LM_MAX_RES))
            continue;
        t->ngpu = 0;
        if (t->m.demand[1] > 0) { /* GPU ids, not just an amount */
            int n = lm_gpus_assign(rt, t->m.demand[1], t->gpu_slot);
            if (n < 0)
                continue;
            t->ngpu = n;
        }
        if (prev)
            prev->next = t->next;
        else
            rt->ready_head = t->next;
        if (rt->ready_tail == t)
            rt->ready_tail = prev;
        rt->ready_len--;
        take(rt, t, 1.0);
        return t;
    }
    return NULL;
}

/* ---- threads --------------------------------------------------------------- */

static void try_steal(lm_rt *rt, uint64_t now)
{
    if (rt->size < 2 || !rt->steal)
        return;
    pthread_mutex_lock(&rt->exec_lock);
    if (rt->steal_outstanding && now - rt->last_steal_ns > 10000000ull)
        rt->steal_outstanding = 0; /* an answer lost at shutdown */
    if (rt->steal_gap_ns < 200000ull)
        rt->steal_gap_ns = 200000ull;
    int go = !rt->steal_outstanding && now - rt->last_steal_ns > rt->steal_gap_ns;
    if (go) {
        rt->steal_outstanding = 1;
        rt->last_steal_ns = now;
    }
    pthread_mutex_unlock(&rt->exec_lock);
    if (!go)
        return;
    int victim = (int)((now / 1000) % (uint64_t)(rt->size - 1));
    if (victim >= rt->rank)
        victim++;
    lm_send_small(rt, victim, LM_MSG_STEAL, (lm_oid){0, 0}, 0, 0);
}

static void *executor_main(void *arg)
{
    lm_rt *rt = arg;
    uint64_t last_work = lm_now_ns();
    int checked = 0; /* queue re-checked under exec_lock since the spin ended */
    pthread_mutex_lock(&rt->exec_lock); /* counted idle by spawn_locked */
    for (;;) {
        if (atomic_load(&rt->stop_threads))
            break;
        lm_task *t = atomic_load(&rt->shutdown) ? NULL : pick(rt);
        if (t) {
            checked = 0;
            rt->idle_threads--;
            if (rt->ready_head && rt->idle_threads == 0 && rt->exec_sleepers == 0 &&
                lm_res_fits(rt->avail, rt->ready_head->m.demand, LM_MAX_RES))
                spawn_locked(rt); /* more queued work fits the free resources */
            pthread_mutex_unlock(&rt->exec_lock);
            lm_task_execute(rt, t, NULL);
            pthread_mutex_lock(&rt->exec_lock);
            take(rt, t, -1.0);
            lm_gpus_release(rt, t->m.demand[1], t->gpu_slot, t->ngpu);
            if (t->bundle)
                lm_bundle_put(rt, t->bundle);
            lm_task_free(t);
            if (rt->ready_head && rt->exec_sleepers)
                pthread_cond_signal(&rt->exec_cv); /* freed resources may fit a waiting task */
            rt->idle_threads++;
            last_work = lm_now_ns();
            continue;
        }
        if (checked) {
            /* nothing runnable (queue empty, or what is queued waits for
             * resources), and that was seen under the lock: sleep until a
             * push or a release signals */
            rt->exec_sleepers++;
            pthread_cond_wait(&rt->exec_cv, &rt->exec_lock);
            rt->exec_sleepers--;
            checked = 0;
            last_work = lm_now_ns();
            continue;
        }
        pthread_mutex_unlock(&rt->exec_lock);
        uint64_t now = lm_now_ns();
        /* only running tasks extends the spin window: steal replies and other
         * chatter must not keep an idle rank busy */
        int n = lm_progress(rt);
        if (now - last_work < rt->spin_ns) {
            atomic_store(&rt->last_poll_ns, now);
            if (!atomic_load(&rt->shutdown))
                try_steal(rt, now);
            if (n == 0)
                sched_yield();
        } else {
            checked = 1; /* look at the queue once more, under the lock, then sleep */
        }
        pthread_mutex_lock(&rt->exec_lock);
    }
    rt->idle_threads--;
    pthread_mutex_unlock(&rt->exec_lock);
    return NULL;
}

/* exec_lock held */
static void spawn_locked(lm_rt *rt)
{
    if (rt->nthreads >= rt->max_threads)
        return;
    if (pthread_create(&rt->threads[rt->nthreads], NULL, executor_main, rt) == 0) {
        rt->nthreads++;
        rt->idle_threads++; /* now, not when it first runs: later pushes must see it */
    }
}

lumen_status lm_executor_start(lm_rt *rt)
{
    double cpus = rt->res_total[(size_t)rt->rank * LM_MAX_RES];
    int base = cpus < 1 ? 1 : (int)(cpus + 0.999);
    rt->max_threads = base + 256;
    rt->threads = calloc((size_t)rt->max_threads, sizeof(pthread_t));
    if (!rt->threads)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for executor threads");
    pthread_mutex_lock(&rt->exec_lock);
    for (int i = 0; i < base; i++)
        spawn_locked(rt);
    int ok = rt->nthreads == base;
    pthread_mutex_unlock(&rt->exec_lock);
    return ok ? LUMEN_OK : lm_error(LUMEN_ERR_INTERNAL, "cannot start executor threads");
}

void lm_executor_stop(lm_rt *rt)
{
    atomic_store(&rt->stop_threads, 1);
    pthread_mutex_lock(&rt->exec_lock);
    pthread_cond_broadcast(&rt->exec_cv);
    int n = rt->nthreads;
    pthread_mutex_unlock(&rt->exec_lock);
    for (int i = 0; i < n; i++)
        pthread_join(rt->threads[i], NULL);
    /* tasks never started; the progress thread may still deliver some, so
     * the queue closes under the lock */
    pthread_mutex_lock(&rt->exec_lock);
    rt->exec_closed = 1;
    lm_task *q = rt->ready_head;
    rt->ready_head = rt->ready_tail = NULL;
    pthread_mutex_unlock(&rt->exec_lock);
    while (q) {
        lm_task *t = q;
        q = t->next;
        lm_task_free(t);
    }
    free(rt->threads);
    rt->threads = NULL;
}

static int match_bundle(lm_rt *rt, lm_task *t, void *arg)
{
    (void)rt;
    return t->bundle == arg;
}

lm_task *lm_executor_unlink_bundle(lm_rt *rt, lm_bundle *b)
{
    lm_task *list = NULL, *t;
    while ((t = unlink_where(rt, match_bundle, b, 0)) != NULL) {
        t->next = list;
        list = t;
    }
    return list;
}

void lm_executor_kick(lm_rt *rt)
{
    if (rt->ready_head) {
        if (rt->exec_sleepers)
            pthread_cond_broadcast(&rt->exec_cv);
        else if (rt->idle_threads == 0)
            spawn_locked(rt);
    }
}

void lm_executor_blocked(lm_rt *rt, int delta)
{
    lumen_task_ctx *c = lm_tls_ctx;
    if (!c)
        return;
    pthread_mutex_lock(&rt->exec_lock);
    if (delta > 0) {
        pool_of(rt, c->task->bundle)[0] += c->task->m.demand[0]; /* give the CPU back while waiting */
        if (rt->ready_head) {
            if (rt->exec_sleepers)
                pthread_cond_signal(&rt->exec_cv);
            else if (rt->idle_threads == 0)
                spawn_locked(rt);
        }
    } else {
        pool_of(rt, c->task->bundle)[0] -= c->task->m.demand[0];
    }
    pthread_mutex_unlock(&rt->exec_lock);
}

/* ---- cancel (any thread) and steal (progress role held) -------------------- */
static lm_task *unlink_where(lm_rt *rt, int (*match)(lm_rt *, lm_task *, void *), void *arg, int from_tail)
{
    lm_task *prev = NULL, *found = NULL, *found_prev = NULL;
    for (lm_task *t = rt->ready_head; t; prev = t, t = t->next) {
        if (match(rt, t, arg)) {
            found = t;
            found_prev = prev;
            if (!from_tail)
                break;
        }
    }
    if (!found)
        return NULL;
    if (found_prev)
        found_prev->next = found->next;
    else
        rt->ready_head = found->next;
    if (rt->ready_tail == found)
        rt->ready_tail = found_prev;
    rt->ready_len--;
    return found;
}

static int match_id(lm_rt *rt, lm_task *t, void *arg)
{
    (void)rt;
    return lm_oid_eq(t->m.task_id, *(lm_oid *)arg);
}

void lm_handle_cancel(lm_rt *rt, lm_oid task_id)
{
    if (lm_gen_prod_cancel(rt, task_id, 0))
        return; /* a running generator: its next yield returns cancelled */
    pthread_mutex_lock(&rt->exec_lock);
    lm_task *t = unlink_where(rt, match_id, &task_id, 0);
    pthread_mutex_unlock(&rt->exec_lock);
    if (!t) {
        /* perhaps a queued actor call; else a generator between the queue
         * and its start is remembered and starts cancelled */
        if (!lm_actor_host_cancel(rt, task_id))
            lm_gen_prod_cancel(rt, task_id, 1);
        return; /* running, finished or stolen: the owner gets the real outcome */
    }
    char msg[LM_FN_MAX + 48];
    snprintf(msg, sizeof msg, "task '%s' was cancelled", t->m.fn);
    lm_task_reply_error(rt, t, msg, 1);
    lm_task_discard(rt, t);
}

static int match_stealable(lm_rt *rt, lm_task *t, void *arg)
{
    int thief = *(int *)arg;
    /* a stolen task may move on again (its thief may have got busy since it
     * asked), a few hops at most so nothing bounces forever */
    return !(t->m.flags & LM_TASK_PINNED) && ((t->m.flags >> LM_TASK_HOPS_SHIFT) & 0xff) < LM_TASK_MAX_HOPS &&
           lm_res_fits(&rt->res_total[(size_t)thief * LM_MAX_RES], t->m.demand, rt->nres);
}

void lm_handle_steal(lm_rt *rt, int thief)
{
    lm_task *t = NULL;
    pthread_mutex_lock(&rt->exec_lock);
    /* give work away only when the queue is not draining by itself: its
     * oldest task has waited over 1 ms. A flood of tiny tasks moves faster
     * where it is than through a steal (measured: stealing them halves the
     * async throughput) */
    /* ... or when it cannot start here at all: what actors hold is busy */
    if (rt->ready_len > 0 && !atomic_load(&rt->shutdown) &&
        (rt->idle_threads == 0 || !lm_res_fits(pool_of(rt, rt->ready_head->bundle), rt->ready_head->m.demand, LM_MAX_RES)) &&
        lm_now_ns() - rt->ready_head->queued_ns > 1000000ull)
        t = unlink_where(rt, match_stealable, &thief, 1);
    pthread_mutex_unlock(&rt->exec_lock);
    lm_wbuf w;
    lm_wbuf_init(&w, t ? t->msglen + 16 : 40);
    if (t) {
        unsigned hops = ((t->m.flags >> LM_TASK_HOPS_SHIFT) & 0xff) + 1;
        t->m.flags = (t->m.flags & ~(0xffu << LM_TASK_HOPS_SHIFT)) | LM_TASK_STOLEN | (hops << LM_TASK_HOPS_SHIFT);
        lm_msg_encode_task(&w, &t->m);
        free(t->msgbuf);
        free(t);
    } else {
        lm_small_msg m = {.tag = 1};
        lm_msg_encode_small(&w, LM_MSG_STEAL, &m);
    }
    lm_send_wbuf(rt, thief, &w);
}

void lm_handle_steal_none(lm_rt *rt)
{
    pthread_mutex_lock(&rt->exec_lock);
    rt->steal_outstanding = 0;
    if (rt->steal_gap_ns < 20000000ull) /* back off, up to 20 ms */
        rt->steal_gap_ns *= 2;
    pthread_mutex_unlock(&rt->exec_lock);
}
