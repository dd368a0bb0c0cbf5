/*
 * gen_yield.c - the producer's side of a streaming generator: what
 * lumen_yield_* does inside a streaming task, the pause when the caller is
 * too far behind (back-pressure), and cancel of a running producer.
 *
 * Each yield adds its item to the producer's batch, one YIELD message in
 * the making (a direct call instead when the owner is this rank): small
 * values inline, large ones written into this node's store under the
 * item's id, as task returns are. The progress role sends what the batches
 * hold each time it polls (lm_gen_flush), so items leave at once when the
 * rank is idle and travel many to a message when it is busy; a full batch,
 * a pause and the end of the task send it too. Batches are sent under
 * gen_lock, so they enter the outbox in index order, before the DONE. The
 * owner acks how
 * many items it has handed out only when a bound is set; the producer pauses
 * in its yield while `yielded - acked >= bound`, spinning first (driving
 * progress) and then sleeping on its own condition variable, which an ack
 * or a cancel signals. Running producers sit in a small list under
 * gen_lock, a leaf lock: nothing else is taken while holding it. Does not
 * own the caller's handle or the items' life (generator.c).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "runtime/generator.h"

typedef struct lm_gen_prod {
    struct lm_gen_prod *next;
    lm_oid task;
    int owner;
    uint32_t attempt;
    uint32_t bound;
    uint64_t sent;
    atomic_uint_fast64_t acked;
    atomic_int cancelled;
    int waiting;            /* gen_lock */
    pthread_cond_t cv;
    lm_wbuf batch;          /* gen_lock: a YIELD of batch_n items, not sent yet */
    uint32_t batch_n;
    /* lumen_yield_alloc: the buffer waiting for its commit */
    void *abuf;
    size_t asize;
    int astore;             /* abuf is a store object under the item's id */
    int apending;
} lm_gen_prod;

static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static lm_gen_prod *prods;
/* the last cancels that found no producer (gen_lock): one that raced with
 * the start of its task is found here by lm_gen_prod_begin */
#define LATE_CANCELS 64
static lm_oid late_cancels[LATE_CANCELS];
static unsigned late_next;
static atomic_int flush_wanted; /* some batch holds items */

/* gen_lock held: send p's batch */
static void flush_locked(lm_rt *rt, lm_gen_prod *p)
{
    if (!p->batch_n)
        return;
    lm_msg_yield_end(&p->batch, p->batch_n);
    lm_send_wbuf(rt, p->owner, &p->batch);
    p->batch_n = 0;
}

void lm_gen_flush(lm_rt *rt)
{
    if (!atomic_load(&flush_wanted))
        return;
    atomic_store(&flush_wanted, 0);
    pthread_mutex_lock(&gen_lock);
    for (lm_gen_prod *p = prods; p; p = p->next)
        flush_locked(rt, p);
    pthread_mutex_unlock(&gen_lock);
}

static lm_gen_prod *prod_find(lm_oid task)
{
    for (lm_gen_prod *p = prods; p; p = p->next)
        if (lm_oid_eq(p->task, task))
            return p;
    return NULL;
}

lumen_status lm_gen_prod_begin(lm_rt *rt, lumen_task_ctx *c)
{
    (void)rt;
    lm_gen_prod *p = calloc(1, sizeof *p);
    if (!p)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a generator");
    p->task = c->task->m.task_id;
    p->owner = c->task->m.owner;
    p->attempt = c->task->m.attempt;
    p->bound = c->task->m.gen_bound;
    pthread_cond_init(&p->cv, NULL);
    pthread_mutex_lock(&gen_lock);
    for (int i = 0; i < LATE_CANCELS; i++)
        if (lm_oid_eq(late_cancels[i], p->task))
            atomic_store(&p->cancelled, 1);
    p->next = prods;
    prods = p;
    pthread_mutex_unlock(&gen_lock);
    c->gen = p;
    return LUMEN_OK;
}

static void drop_alloc(lm_rt *rt, lm_gen_prod *p)
{
    if (!p->apending)
        return;
    if (p->astore)
        lm_store_abort(rt->store, lm_stream_item_oid(p->task, p->sent));
    else
        free(p->abuf);
    p->abuf = NULL;
    p->apending = 0;
}

lumen_status lm_gen_prod_end(lm_rt *rt, lumen_task_ctx *c, lumen_status st)
{
    lm_gen_prod *p = c->gen;
    if (!p)
        return st;
    pthread_mutex_lock(&gen_lock);
    flush_locked(rt, p); /* before the DONE */
    lm_gen_prod **pp = &prods;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    pthread_mutex_unlock(&gen_lock);
    drop_alloc(rt, p);
    int cancelled = atomic_load(&p->cancelled);
    uint64_t sent = p->sent;
    pthread_cond_destroy(&p->cv);
    free(p);
    c->gen = NULL;
    if (cancelled) {
        snprintf(c->error, sizeof c->error, "the generator was cancelled after %llu items",
                 (unsigned long long)sent);
        return LUMEN_ERR_TASK_CANCELLED;
    }
    if (st != LUMEN_OK)
        return st;
    /* the DONE's value: how many items there were */
    return lumen_return_i64(c, 0, (int64_t)sent);
}

int lm_gen_prod_cancel(lm_rt *rt, lm_oid task, int remember)
{
    (void)rt;
    pthread_mutex_lock(&gen_lock);
    lm_gen_prod *p = prod_find(task);
    if (p) {
        atomic_store(&p->cancelled, 1);
        if (p->waiting)
            pthread_cond_signal(&p->cv);
    } else if (remember) {
        late_cancels[late_next++ % LATE_CANCELS] = task;
    }
    pthread_mutex_unlock(&gen_lock);
    return p != NULL;
}

void lm_gen_prod_ack(lm_rt *rt, lm_oid task, uint64_t taken)
{
    (void)rt;
    pthread_mutex_lock(&gen_lock);
    lm_gen_prod *p = prod_find(task);
    if (p && taken > atomic_load(&p->acked)) {
        atomic_store(&p->acked, taken);
        if (p->waiting)
            pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&gen_lock);
}

static int must_pause(lm_rt *rt, lm_gen_prod *p)
{
    return p->sent - atomic_load(&p->acked) >= p->bound && !atomic_load(&p->cancelled) &&
           !atomic_load(&rt->shutdown);
}

/* Back-pressure: wait until the caller has taken enough items. */
static void pause_for_acks(lm_rt *rt, lm_gen_prod *p)
{
    uint64_t start = lm_now_ns();
    int blocked = 0;
    if (must_pause(rt, p)) { /* the caller must see what we have */
        pthread_mutex_lock(&gen_lock);
        flush_locked(rt, p);
        pthread_mutex_unlock(&gen_lock);
    }
    while (must_pause(rt, p)) {
        uint64_t now = lm_now_ns();
        if (now - start < rt->spin_ns) {
            atomic_store(&rt->last_poll_ns, now);
            if (lm_progress(rt) == 0)
                sched_yield();
            continue;
        }
        if (!blocked) { /* paused for long: let queued work use the CPU */
            blocked = 1;
            lm_executor_blocked(rt, +1);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000L; /* re-check shutdown every 20 ms */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&gen_lock);
        if (must_pause(rt, p)) {
            p->waiting = 1;
            pthread_cond_timedwait(&p->cv, &gen_lock, &ts);
            p->waiting = 0;
        }
        pthread_mutex_unlock(&gen_lock);
    }
    if (blocked)
        lm_executor_blocked(rt, -1);
}

static lumen_status check_ctx(lumen_task_ctx *c, const char *what)
{
    if (!c)
        return lm_error(LUMEN_ERR_INVALID_ARG, "%s: task context is NULL", what);
    if (!c->gen)
        return lm_error(LUMEN_ERR_INVALID_ARG,
                        "%s: '%s' is not a streaming task (start it with lumen_remote_generator)", what,
                        c->task->m.fn);
    lm_rt *rt = c->rt;
    if (atomic_load(&c->gen->cancelled))
        return lm_error(LUMEN_ERR_TASK_CANCELLED, "the generator was cancelled by its caller");
    if (atomic_load(&rt->shutdown))
        return lm_error(LUMEN_ERR_SHUTDOWN, "the job is shutting down");
    if (c->gen->sent >= LM_YIELD_INDEX_MAX)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "a generator yields at most %llu items",
                        (unsigned long long)LM_YIELD_INDEX_MAX);
    return LUMEN_OK;
}

/* Send item p->sent with value v (or add it to the batch), then pause if
 * the caller is behind. */
static lumen_status send_item(lm_rt *rt, lm_gen_prod *p, const lm_wval *v)
{
    uint64_t index = p->sent++;
    if (p->owner == rt->rank) {
        lm_gen_handle_items(rt, p->task, p->attempt, rt->rank, index, 1, v);
    } else {
        int wake = 0;
        pthread_mutex_lock(&gen_lock);
        if (p->batch_n == 0) {
            lm_wbuf_init(&p->batch, 256);
            lm_msg_yield_begin(&p->batch, p->task, p->attempt, rt->rank, index);
        }
        lm_msg_yield_add(&p->batch, v);
        p->batch_n++;
        if (p->batch_n >= LM_YIELD_BATCH_MAX || p->batch.len >= 32768) {
            flush_locked(rt, p);
        } else if (p->batch_n == 1) {
            atomic_store(&flush_wanted, 1);
            wake = 1;
        }
        pthread_mutex_unlock(&gen_lock);
        /* as lm_send: wake the progress thread only when nobody polls */
        if (wake && atomic_load(&rt->progress_sleeping) && lm_now_ns() - atomic_load(&rt->last_poll_ns) > 50000)
            lm_wake_progress(rt);
    }
    if (p->bound)
        pause_for_acks(rt, p);
    return atomic_load(&p->cancelled) ? lm_error(LUMEN_ERR_TASK_CANCELLED, "the generator was cancelled by its caller")
                                      : LUMEN_OK;
}

static lumen_status store_value(lm_rt *rt, lm_gen_prod *p, uint8_t type, size_t size, void **data, lm_wval *v)
{
    lm_oid id = lm_stream_item_oid(p->task, p->sent);
    lumen_status st = lm_store_create_waiting(rt, id, size, type, data);
    if (st != LUMEN_OK)
        return st;
    *v = (lm_wval){.kind = LM_VAL_STORE, .type = type, .node = rt->node_id, .holder = rt->rank, .oid = id,
                   .size = size};
    return LUMEN_OK;
}

static lumen_status yield_copy(lumen_task_ctx *c, uint8_t type, const void *data, size_t size, const char *what)
{
    lumen_status st = check_ctx(c, what);
    if (st != LUMEN_OK)
        return st;
    lm_rt *rt = c->rt;
    lm_gen_prod *p = c->gen;
    if (p->apending)
        return lm_error(LUMEN_ERR_INVALID_ARG, "%s: a lumen_yield_alloc buffer is not committed", what);
    lm_wval v = {.kind = LM_VAL_INLINE, .type = type, .data = data, .size = size};
    if (size > rt->inline_threshold && type != LUMEN_TYPE_I64 && type != LUMEN_TYPE_F64) {
        void *dst;
        if ((st = store_value(rt, p, type, size, &dst, &v)) != LUMEN_OK)
            return st;
        memcpy(dst, data, size);
        if ((st = lm_store_seal(rt->store, v.oid)) != LUMEN_OK) {
            lm_store_abort(rt->store, v.oid);
            return st;
        }
    }
    return send_item(rt, p, &v);
}

lumen_status lumen_yield_i64(lumen_task_ctx *c, int64_t v)
{
    return yield_copy(c, LUMEN_TYPE_I64, &v, 8, "lumen_yield_i64");
}

lumen_status lumen_yield_f64(lumen_task_ctx *c, double v)
{
    return yield_copy(c, LUMEN_TYPE_F64, &v, 8, "lumen_yield_f64");
}

lumen_status lumen_yield_bytes(lumen_task_ctx *c, const void *data, size_t size)
{
    if (!data && size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_yield_bytes: NULL data of size %zu", size);
    return yield_copy(c, LUMEN_TYPE_BYTES, data ? data : "", size, "lumen_yield_bytes");
}

lumen_status lumen_yield_str(lumen_task_ctx *c, const char *s)
{
    if (!s)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_yield_str: NULL string");
    return yield_copy(c, LUMEN_TYPE_STR, s, strlen(s) + 1, "lumen_yield_str");
}

lumen_status lumen_yield_alloc(lumen_task_ctx *c, size_t size, void **data)
{
    if (!data)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_yield_alloc: data is NULL");
    lumen_status st = check_ctx(c, "lumen_yield_alloc");
    if (st != LUMEN_OK)
        return st;
    lm_rt *rt = c->rt;
    lm_gen_prod *p = c->gen;
    drop_alloc(rt, p); /* a second alloc replaces the first */
    p->asize = size;
    if (size > rt->inline_threshold) {
        lm_wval v;
        if ((st = store_value(rt, p, LUMEN_TYPE_BYTES, size, data, &v)) != LUMEN_OK)
            return st;
        p->astore = 1;
        p->abuf = *data;
    } else {
        p->abuf = malloc(size ? size : 1);
        if (!p->abuf)
            return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a %zu-byte item", size);
        p->astore = 0;
        *data = p->abuf;
    }
    p->apending = 1;
    return LUMEN_OK;
}

lumen_status lumen_yield_commit(lumen_task_ctx *c)
{
    if (!c || !c->gen || !c->gen->apending)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_yield_commit: no lumen_yield_alloc buffer to commit");
    lm_rt *rt = c->rt;
    lm_gen_prod *p = c->gen;
    lumen_status st = check_ctx(c, "lumen_yield_commit");
    if (st != LUMEN_OK) {
        drop_alloc(rt, p);
        return st;
    }
    lm_wval v;
    if (p->astore) {
        lm_oid id = lm_stream_item_oid(p->task, p->sent);
        if ((st = lm_store_seal(rt->store, id)) != LUMEN_OK) {
            drop_alloc(rt, p);
            return st;
        }
        v = (lm_wval){.kind = LM_VAL_STORE, .type = LUMEN_TYPE_BYTES, .node = rt->node_id, .holder = rt->rank,
                      .oid = id, .size = p->asize};
        p->apending = 0;
        p->abuf = NULL;
        return send_item(rt, p, &v);
    }
    v = (lm_wval){.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_BYTES, .data = p->abuf, .size = p->asize};
    void *buf = p->abuf;
    p->apending = 0;
    p->abuf = NULL;
    st = send_item(rt, p, &v); /* the message (or the owner's object) holds a copy */
    free(buf);
    return st;
}

lumen_status lumen_yield_progress(const lumen_task_ctx *c, uint64_t *yielded, uint64_t *taken)
{
    if (!c || !c->gen)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_yield_progress: not inside a streaming task");
    if (yielded)
        *yielded = c->gen->sent;
    if (taken)
        *taken = atomic_load(&c->gen->acked);
    return LUMEN_OK;
}
