/*
 * host.c - actors living on this rank: the instance (its state pointer, the
 * resources it holds, its incarnation), its mailbox of calls, the threads
 * that run them (up to max_concurrency), and its death.
 *
 * The first thread runs the constructor, reports the actor alive to the
 * control store, then serves the mailbox in FIFO order; more threads start
 * while calls wait and fewer than max_concurrency run. Idle threads spin
 * (driving progress) for rt->spin_ns, then sleep. Death (a fatal error,
 * lumen_actor_exit, a kill) fails the calls still queued with "actor died";
 * the last thread out runs the destructor, gives the resources back and
 * tells the control store, which restarts the actor elsewhere if allowed.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor/actor.h"
#include "common/error.h"
#include "placement/placement.h"

static atomic_int threads_alive; /* actor threads of this process */

/* Actor threads that finished, to be joined: no thread of lumen is still
 * exiting when lumen_finalize returns (LeakSanitizer's tracer at exit, and a
 * long run's thread stacks, both want them joined). A thread adds itself as
 * its last act; spawn and lm_actor_host_stop join what is there. */
static pthread_mutex_t exited_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t *exited;
static size_t nexited, exited_cap;

static void join_exited(void)
{
    pthread_mutex_lock(&exited_lock);
    pthread_t *t = exited;
    size_t n = nexited;
    exited = NULL;
    nexited = exited_cap = 0;
    pthread_mutex_unlock(&exited_lock);
    for (size_t i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
}

/* the calling actor thread is done: joinable by the next reaper (detached
 * if there is no memory to remember it) */
static void exiting(void)
{
    pthread_mutex_lock(&exited_lock);
    if (nexited == exited_cap) {
        size_t cap = exited_cap ? 2 * exited_cap : 16;
        pthread_t *p = realloc(exited, cap * sizeof *p);
        if (p) {
            exited = p;
            exited_cap = cap;
        }
    }
    int room = nexited < exited_cap;
    if (room)
        exited[nexited++] = pthread_self();
    pthread_mutex_unlock(&exited_lock);
    if (!room)
        pthread_detach(pthread_self());
}

/* Actors that died on this rank, newest first, so a call that arrives after
 * the instance is gone is answered with the real cause. Bounded. */
#define MAX_GRAVES 1024
typedef struct lm_actor_grave {
    struct lm_actor_grave *next;
    lm_oid id;
    char msg[800]; /* "actor 'Cls' (id) died: cause" */
} lm_actor_grave;

static void died_msg(lm_actor_inst *a, char *out, size_t cap);

/* actor_lock held */
static void bury(lm_rt *rt, lm_actor_inst *a)
{
    lm_actor_grave *g = malloc(sizeof *g);
    if (!g)
        return;
    g->id = a->id;
    died_msg(a, g->msg, sizeof g->msg);
    g->next = rt->graves;
    rt->graves = g;
    if (++rt->ngraves > MAX_GRAVES) { /* forget the oldest */
        lm_actor_grave **pp = &rt->graves;
        while ((*pp)->next)
            pp = &(*pp)->next;
        free(*pp);
        *pp = NULL;
        rt->ngraves--;
    }
}

static const char *grave_msg(lm_rt *rt, lm_oid id)
{
    for (lm_actor_grave *g = rt->graves; g; g = g->next)
        if (lm_oid_eq(g->id, id))
            return g->msg;
    return NULL;
}

void lm_actor_host_free(lm_rt *rt)
{
    while (rt->graves) {
        lm_actor_grave *g = rt->graves;
        rt->graves = g->next;
        free(g);
    }
    rt->ngraves = 0;
}

static void *actor_main(void *arg);

#define TERMINATED "terminated by lumen_actor_terminate (after the calls made before it)"

/* threads an actor may run: an async actor has one, whatever its concurrency */
static int max_threads(const lm_actor_inst *a) { return a->is_async ? 1 : a->max_concurrency; }

/* inst->lock held */
static void spawn(lm_rt *rt, lm_actor_inst *a)
{
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    join_exited(); /* threads that finished: they hold no lock any more */
    a->nthreads++;
    a->idle++;
    atomic_fetch_add(&threads_alive, 1);
    void **args = malloc(2 * sizeof *args);
    if (args) {
        args[0] = rt;
        args[1] = a;
    }
    if (!args || pthread_create(&th, &attr, actor_main, args) != 0) {
        free(args);
        a->nthreads--;
        a->idle--;
        atomic_fetch_sub(&threads_alive, 1);
        fprintf(stderr, "lumen[%d]: cannot start a thread for actor '%s'\n", rt->rank, a->cls);
    }
    pthread_attr_destroy(&attr);
}

static lm_actor_inst *inst_find(lm_rt *rt, lm_oid id)
{
    for (lm_actor_inst *a = rt->insts; a; a = a->next)
        if (lm_oid_eq(a->id, id))
            return a;
    return NULL;
}

static void died_msg(lm_actor_inst *a, char *out, size_t cap)
{
    char who[200];
    lm_actor_describe(a->id, a->cls, who, sizeof who);
    snprintf(out, cap, "%s died: %s", who, a->cause);
}

/* a->lock held: mark the actor dead (once); returns what waited in its
 * mailbox, with the message to fail it with in msg */
static lm_task *die_locked(lm_actor_inst *a, int restartable, const char *why, char *msg, size_t cap)
{
    if (a->state == INST_DEAD)
        return NULL;
    char cause[sizeof a->cause];
    snprintf(cause, sizeof cause, "%s", why); /* why may be a->cause itself */
    a->state = INST_DEAD;
    a->restartable = restartable;
    memcpy(a->cause, cause, sizeof cause);
    lm_task *q = a->head;
    a->head = a->tail = NULL;
    pthread_cond_broadcast(&a->cv);
    died_msg(a, msg, cap);
    return q;
}

static void fail_queue(lm_rt *rt, lm_task *q, const char *msg)
{
    while (q) {
        lm_task *n = q->next;
        lm_task_reply_error(rt, q, msg, LM_ERRK_ACTOR_DIED);
        lm_task_discard(rt, q);
        q = n;
    }
}

/* Mark the actor dead (once) and answer what waits in its mailbox. Called
 * by the actor's own threads, which keep it alive meanwhile. */
static void die(lm_rt *rt, lm_actor_inst *a, int restartable, const char *why)
{
    char msg[800];
    pthread_mutex_lock(&a->lock);
    lm_task *q = die_locked(a, restartable, why, msg, sizeof msg);
    pthread_mutex_unlock(&a->lock);
    fail_queue(rt, q, msg);
}

static void report(lm_rt *rt, lm_actor_inst *a, int state)
{
    if (atomic_load(&rt->stop_threads))
        return;
    lm_ctl_msg m = {.op = LM_CTL_ACTOR_STATE, .a = a->id};
    m.v[0] = state;
    m.v[1] = a->incarnation;
    m.v[2] = a->restartable;
    m.s[0] = a->cause;
    m.slen[0] = state == LM_ACTOR_DEAD ? (uint32_t)strlen(a->cause) : 0;
    lm_ctl_send(rt, 0, &m);
}

/* the last thread of a dead actor: destructor, resources, news */
static void finish(lm_rt *rt, lm_actor_inst *a)
{
    pthread_mutex_lock(&rt->actor_lock);
    bury(rt, a);
    for (lm_actor_inst **pp = &rt->insts; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    pthread_mutex_unlock(&rt->actor_lock);
    if (a->flight) { /* an async actor's calls still awaiting */
        char msg[800];
        died_msg(a, msg, sizeof msg);
        lm_actor_await_end(rt, a, msg);
    }
    if (a->constructed && a->klass.destroy)
        a->klass.destroy(a->self);
    pthread_mutex_lock(&rt->exec_lock);
    lm_executor_take(rt, a->bundle, a->demand, -1.0);
    if (a->ngpu > 0)
        lm_gpus_release(rt, a->demand[1], a->gpu_slot, a->ngpu);
    if (a->bundle)
        lm_bundle_put(rt, a->bundle);
    lm_executor_kick(rt);
    pthread_mutex_unlock(&rt->exec_lock);
    report(rt, a, LM_ACTOR_DEAD);
    if (a->create)
        lm_task_discard(rt, a->create);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cv);
    free(a);
}

static void reply_i64(lm_rt *rt, lm_task *t, int64_t v)
{
    lm_done_msg *d = calloc(1, sizeof *d);
    if (!d)
        return;
    d->task_id = t->m.task_id;
    d->attempt = t->m.attempt;
    d->executor = rt->rank;
    d->nret = t->m.num_returns;
    for (int i = 0; i < d->nret; i++)
        d->rets[i] = (lm_wval){.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_I64, .data = &v, .size = 8};
    if (t->m.owner == rt->rank) {
        lm_handle_done(rt, d);
    } else {
        lm_wbuf w;
        lm_wbuf_init(&w, 96);
        lm_msg_encode_done(&w, d);
        lm_send_wbuf(rt, t->m.owner, &w);
    }
    free(d);
}

static void run_constructor(lm_rt *rt, lm_actor_inst *a, lm_task *t)
{
    int out = lm_task_execute(rt, t, a); /* answers the owner */
    pthread_mutex_lock(&a->lock);
    int killed = a->state == INST_DEAD;
    if (out == 0 && !killed)
        a->state = INST_ALIVE;
    pthread_mutex_unlock(&a->lock);
    if (out != 0)
        die(rt, a, 0, a->cause); /* a constructor failure is final */
    else if (!killed)
        report(rt, a, LM_ACTOR_ALIVE);
}

/* What a run's outcome means for the actor. Returns 1 when the call is
 * parked in lumen_await (an async actor): its task lives with its context. */
static int settle_run(lm_rt *rt, lm_actor_inst *a, int out)
{
    if (out == LM_RUN_PENDING) {
        lumen_task_ctx *c = a->awaited;
        a->awaited = NULL;
        lm_actor_await_park(rt, a, c);
        return 1;
    }
    if (out == LM_RUN_FATAL)
        die(rt, a, 1, a->cause);
    else if (out == LM_RUN_EXIT)
        die(rt, a, 0, "exited with lumen_actor_exit");
    return 0;
}

static void run_call(lm_rt *rt, lm_actor_inst *a, lm_task *t)
{
    if (!strcmp(t->m.fn, LM_METHOD_READY)) {
        reply_i64(rt, t, 1);
    } else if (!strcmp(t->m.fn, LM_METHOD_TERMINATE)) {
        reply_i64(rt, t, 1);
        pthread_mutex_lock(&a->lock);
        int wait = a->inflight > 0; /* an async actor's earlier calls still await */
        a->terminating = wait;
        pthread_mutex_unlock(&a->lock);
        if (!wait)
            die(rt, a, 0, TERMINATED);
    } else if (settle_run(rt, a, lm_task_execute(rt, t, a))) {
        return;
    }
    lm_task_free(t);
}

/* an async actor's call whose awaited references settled: its continuation */
static void resume_call(lm_rt *rt, lm_actor_inst *a, lumen_task_ctx *c)
{
    lm_task *t = c->task;
    lm_actor_await_unpark(a, c);
    if (settle_run(rt, a, lm_task_resume(rt, c)))
        return; /* it awaits again */
    lm_task_free(t);
    pthread_mutex_lock(&a->lock);
    int last = a->terminating && a->inflight == 0;
    pthread_mutex_unlock(&a->lock);
    if (last) /* lumen_actor_terminate waited for this one */
        die(rt, a, 0, TERMINATED);
}

static void *actor_main(void *arg)
{
    void **args = arg;
    lm_rt *rt = args[0];
    lm_actor_inst *a = args[1];
    free(args);
    uint64_t last_work = lm_now_ns();
    pthread_mutex_lock(&a->lock);
    for (;;) {
        if (a->create && a->state == INST_STARTING && a->ngpu < 0) {
            /* the control store counted the GPUs free, but tasks still run on
             * them: wait until ids can be given (or the actor is killed) */
            pthread_mutex_unlock(&a->lock);
            pthread_mutex_lock(&rt->exec_lock);
            int n = lm_gpus_assign(rt, a->demand[1], a->gpu_slot);
            pthread_mutex_unlock(&rt->exec_lock);
            if (n < 0)
                nanosleep(&(struct timespec){0, 1000000}, NULL);
            pthread_mutex_lock(&a->lock);
            a->ngpu = n;
            if (atomic_load(&rt->stop_threads))
                break;
            continue;
        }
        if (a->create && a->state == INST_STARTING) {
            lm_task *t = a->create;
            a->create = NULL;
            a->idle--;
            pthread_mutex_unlock(&a->lock);
            run_constructor(rt, a, t);
            lm_task_free(t);
            pthread_mutex_lock(&a->lock);
            a->idle++;
            last_work = lm_now_ns();
            continue;
        }
        if (a->state == INST_DEAD || atomic_load(&rt->stop_threads))
            break;
        if (a->ready_head) { /* async: a continuation can run */
            lumen_task_ctx *c = a->ready_head;
            a->ready_head = c->rnext;
            if (!a->ready_head)
                a->ready_tail = NULL;
            a->idle--;
            pthread_mutex_unlock(&a->lock);
            resume_call(rt, a, c);
            pthread_mutex_lock(&a->lock);
            a->idle++;
            last_work = lm_now_ns();
            continue;
        }
        lm_task *t = a->state == INST_ALIVE && !a->terminating && a->inflight < a->max_concurrency ? a->head : NULL;
        if (t) {
            a->head = t->next;
            if (!a->head)
                a->tail = NULL;
            a->idle--;
            if (a->head && a->idle == 0 && a->nthreads < max_threads(a))
                spawn(rt, a);
            pthread_mutex_unlock(&a->lock);
            run_call(rt, a, t);
            pthread_mutex_lock(&a->lock);
            a->idle++;
            last_work = lm_now_ns();
            continue;
        }
        uint64_t now = lm_now_ns();
        if (now - last_work < rt->spin_ns) {
            pthread_mutex_unlock(&a->lock);
            int n = lm_progress(rt);
            atomic_store(&rt->last_poll_ns, now);
            if (n == 0)
                sched_yield();
            pthread_mutex_lock(&a->lock);
            continue;
        }
        a->sleepers++;
        pthread_cond_wait(&a->cv, &a->lock);
        a->sleepers--;
        last_work = lm_now_ns();
    }
    a->idle--;
    int last = --a->nthreads == 0;
    pthread_mutex_unlock(&a->lock);
    if (last)
        finish(rt, a);
    exiting();
    atomic_fetch_sub(&threads_alive, 1); /* nothing of rt or a is touched after this */
    return NULL;
}

/* ---- arrivals (progress role, or the caller's thread for local calls) ------ */
static void accept_create(lm_rt *rt, lm_task *t)
{
    pthread_mutex_lock(&rt->actor_lock);
    if (rt->actors_closed) { /* finalize: no new actor */
        pthread_mutex_unlock(&rt->actor_lock);
        lm_task_free(t);
        return;
    }
    lm_actor_inst *old = inst_find(rt, t->m.actor_id);
    if (old && old->incarnation >= t->m.attempt) { /* a duplicate */
        pthread_mutex_unlock(&rt->actor_lock);
        lm_task_discard(rt, t);
        return;
    }
    lm_actor_inst *a = calloc(1, sizeof *a);
    int known = a && lm_registry_class(t->m.fn, &a->klass);
    if (!known) {
        pthread_mutex_unlock(&rt->actor_lock);
        char msg[LM_FN_MAX + 64];
        snprintf(msg, sizeof msg, a ? "unknown actor class '%s' on rank %d" : "no memory for actor '%s' on rank %d",
                 t->m.fn, rt->rank);
        lm_task_reply_error(rt, t, msg, LM_ERRK_FAILED);
        lm_ctl_msg m = {.op = LM_CTL_ACTOR_STATE, .a = t->m.actor_id};
        m.v[0] = LM_ACTOR_DEAD;
        m.v[1] = t->m.attempt;
        m.s[0] = msg;
        m.slen[0] = (uint32_t)strlen(msg);
        lm_ctl_send(rt, 0, &m);
        lm_task_discard(rt, t);
        free(a);
        return;
    }
    a->id = t->m.actor_id;
    a->incarnation = t->m.attempt;
    strcpy(a->cls, t->m.fn);
    memcpy(a->demand, t->m.demand, sizeof a->demand);
    a->max_concurrency = t->m.max_concurrency > 0 ? t->m.max_concurrency : 1;
    a->is_async = (t->m.flags & LM_TASK_ASYNC) != 0;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->create = t;
    a->state = INST_STARTING;
    a->bundle = t->bundle; /* the executor resolved it; the actor keeps the reference */
    t->bundle = NULL;
    pthread_mutex_lock(&rt->exec_lock);
    lm_executor_take(rt, a->bundle, a->demand, 1.0);
    /* -1: tasks hold the devices now; the first thread waits for them */
    a->ngpu = lm_gpus_assign(rt, a->demand[1], a->gpu_slot);
    pthread_mutex_unlock(&rt->exec_lock);
    a->next = rt->insts;
    rt->insts = a;
    pthread_mutex_lock(&a->lock);
    spawn(rt, a);
    pthread_mutex_unlock(&a->lock);
    pthread_mutex_unlock(&rt->actor_lock);
}

void lm_actor_host_accept(lm_rt *rt, lm_task *t)
{
    if (t->m.kind == LM_KIND_CREATE) {
        accept_create(rt, t);
        return;
    }
    pthread_mutex_lock(&rt->actor_lock);
    if (rt->actors_closed) {
        pthread_mutex_unlock(&rt->actor_lock);
        lm_task_free(t);
        return;
    }
    lm_actor_inst *a = inst_find(rt, t->m.actor_id);
    if (a) {
        pthread_mutex_lock(&a->lock);
        if (a->state != INST_DEAD) {
            t->next = NULL;
            if (a->tail)
                a->tail->next = t;
            else
                a->head = t;
            a->tail = t;
            if (a->sleepers)
                pthread_cond_signal(&a->cv);
            else if (a->idle == 0 && a->nthreads < max_threads(a))
                spawn(rt, a);
            t = NULL;
        }
        pthread_mutex_unlock(&a->lock);
    }
    char msg[800];
    if (t) { /* the actor is dead: say why if it died here */
        const char *why = grave_msg(rt, t->m.actor_id);
        if (a)
            died_msg(a, msg, sizeof msg);
        else if (why)
            snprintf(msg, sizeof msg, "%s", why);
        else
            msg[0] = '\0';
    }
    pthread_mutex_unlock(&rt->actor_lock);
    if (t) {
        if (!msg[0]) {
            char who[200];
            lm_actor_describe(t->m.actor_id, NULL, who, sizeof who);
            snprintf(msg, sizeof msg, "%s is not running on rank %d (dead or restarting)", who, rt->rank);
        }
        lm_task_reply_error_async(rt, t, msg, LM_ERRK_ACTOR_DIED); /* the caller may hold rt->lock */
        lm_task_discard(rt, t);
    }
}

void lm_actor_host_kill(lm_rt *rt, lm_oid id, uint32_t incarnation, int no_restart, const lm_ctl_msg *m)
{
    char cause[512];
    lm_ctl_str(m, 0, cause, sizeof cause);
    char msg[800];
    lm_task *q = NULL;
    /* under actor_lock: the last thread of a dying actor frees it only after
     * taking it out of the list under that lock */
    pthread_mutex_lock(&rt->actor_lock);
    lm_actor_inst *a = inst_find(rt, id);
    if (a && a->incarnation == incarnation) { /* else an older message about an earlier life */
        pthread_mutex_lock(&a->lock);
        q = die_locked(a, !no_restart, cause[0] ? cause : "killed", msg, sizeof msg);
        pthread_mutex_unlock(&a->lock);
    }
    pthread_mutex_unlock(&rt->actor_lock);
    fail_queue(rt, q, msg); /* replies may take rt->lock: outside actor_lock */
}

int lm_actor_host_cancel(lm_rt *rt, lm_oid task_id)
{
    lm_task *found = NULL;
    pthread_mutex_lock(&rt->actor_lock);
    for (lm_actor_inst *a = rt->insts; a && !found; a = a->next) {
        pthread_mutex_lock(&a->lock);
        lm_task *prev = NULL;
        for (lm_task *t = a->head; t; prev = t, t = t->next)
            if (lm_oid_eq(t->m.task_id, task_id)) {
                if (prev)
                    prev->next = t->next;
                else
                    a->head = t->next;
                if (a->tail == t)
                    a->tail = prev;
                found = t;
                break;
            }
        pthread_mutex_unlock(&a->lock);
    }
    pthread_mutex_unlock(&rt->actor_lock);
    if (!found)
        return 0;
    char msg[LM_FN_MAX + 48];
    snprintf(msg, sizeof msg, "method '%s' was cancelled", found->m.fn);
    lm_task_reply_error(rt, found, msg, LM_ERRK_CANCELLED);
    lm_task_discard(rt, found);
    return 1;
}

void lm_actor_host_stop(lm_rt *rt)
{
    pthread_mutex_lock(&rt->actor_lock);
    rt->actors_closed = 1;
    for (lm_actor_inst *a = rt->insts; a; a = a->next) {
        pthread_mutex_lock(&a->lock);
        if (a->state != INST_DEAD) {
            a->state = INST_DEAD;
            snprintf(a->cause, sizeof a->cause, "the job ended");
        }
        lm_task *q = a->head;
        a->head = a->tail = NULL;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->lock);
        while (q) {
            lm_task *n = q->next;
            lm_task_free(q);
            q = n;
        }
    }
    pthread_mutex_unlock(&rt->actor_lock);
    /* running methods finish; then the last thread of each actor cleans up */
    while (atomic_load(&threads_alive) > 0) {
        lm_progress(rt);
        sched_yield();
    }
    join_exited();
}
