/*
 * progress.c - the progress role: the one thread at a time that talks to the
 * transport, and the dispatch of every control message that arrives.
 *
 * Open MPI runs ~1000x slower when several threads call it at once, so the
 * transport is only ever called by the holder of progress_lock. Any thread
 * that waits (a get, an idle executor) takes the role with a trylock and
 * polls; the progress thread polls only when nobody else has recently, and
 * after an idle window sleeps with a growing timeout so an idle rank costs
 * almost no CPU. Waking a sleeping thread costs ~80 us here, so waiters spin
 * first (rt->spin_ns) and block after.
 *
 * Owns: the outbox (messages queued by any thread), message dispatch by
 * type, lm_wait_until, the progress thread. Does not own what handlers do.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "collective/coll.h"
#include "common/error.h"
#include "device/device.h"
#include "gcs/gcs.h"
#include "observe/observe.h"
#include "runtime/generator.h"
#include "runtime/runtime.h"

typedef struct lm_out {
    struct lm_out *next;
    int dest;
    void *buf;
    size_t len;
} lm_out;

extern _Thread_local lumen_task_ctx *lm_tls_ctx;

uint64_t lm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lm_wake_progress(lm_rt *rt)
{
    pthread_mutex_lock(&rt->sleep_lock);
    if (rt->progress_sleeping)
        pthread_cond_signal(&rt->sleep_cv);
    pthread_mutex_unlock(&rt->sleep_lock);
}

void lm_send(lm_rt *rt, int dest, void *buf, size_t len)
{
    lm_out *o = malloc(sizeof *o);
    if (!o) {
        free(buf);
        fprintf(stderr, "lumen[%d]: out of memory queueing a message to rank %d\n", rt->rank, dest);
        return;
    }
    o->next = NULL;
    o->dest = dest;
    o->buf = buf;
    o->len = len;
    pthread_mutex_lock(&rt->outbox_lock);
    if (rt->out_tail)
        rt->out_tail->next = o;
    else
        rt->out_head = o;
    rt->out_tail = o;
    atomic_fetch_add(&rt->outbox_n, 1);
    pthread_mutex_unlock(&rt->outbox_lock);
    /* Wake the progress thread only when no thread is polling: a wake-up
     * costs a context switch on this core (~4 per round trip measured), and
     * a poller drains the outbox anyway. A message queued by a thread that
     * then stops polling waits at most one nap of the progress thread. */
    if (rt->progress_sleeping && lm_now_ns() - atomic_load(&rt->last_poll_ns) > 50000)
        lm_wake_progress(rt);
}

void lm_send_wbuf(lm_rt *rt, int dest, lm_wbuf *w)
{
    if (w->oom) {
        lm_wbuf_free(w);
        fprintf(stderr, "lumen[%d]: out of memory encoding a message\n", rt->rank);
        return;
    }
    lm_send(rt, dest, w->data, w->len);
    w->data = NULL;
}

void lm_send_small(lm_rt *rt, int dest, lm_msg_type type, lm_oid id, int tag, uint64_t count)
{
    lm_small_msg m = {.oid = id, .tag = tag, .count = count};
    lm_wbuf w;
    lm_wbuf_init(&w, 48);
    lm_msg_encode_small(&w, type, &m);
    lm_send_wbuf(rt, dest, &w);
}

/* progress role held */
static int drain_outbox(lm_rt *rt)
{
    if (atomic_load(&rt->outbox_n) == 0)
        return 0;
    pthread_mutex_lock(&rt->outbox_lock);
    lm_out *o = rt->out_head;
    rt->out_head = rt->out_tail = NULL;
    atomic_store(&rt->outbox_n, 0);
    pthread_mutex_unlock(&rt->outbox_lock);
    int n = 0;
    while (o) {
        lm_out *next = o->next;
        lumen_status st = rt->tp->ops->send_ctrl(rt->tp, o->dest, o->buf, o->len);
        if (st == LUMEN_OK)
            rt->sent_count[o->dest]++;
        else
            fprintf(stderr, "lumen[%d]: send to rank %d failed: %s\n", rt->rank, o->dest,
                    lumen_last_error());
        free(o);
        o = next;
        n++;
    }
    return n;
}

int lm_progress(lm_rt *rt)
{
    int events = 0;
    do {
        if (pthread_mutex_trylock(&rt->progress_lock) != 0)
            return events;
        lm_gen_flush(rt); /* streaming items batched since the last poll */
        events += drain_outbox(rt);
        events += rt->tp->ops->poll(rt->tp, 64, lm_deliver, rt);
        events += lm_coll_progress(rt); /* collective groups' MPI requests */
        events += lm_fetch_retry(rt);   /* FETCHes waiting for room to restore */
        events += drain_outbox(rt);
        if (!rt->closing)
            lm_state_write_rank(rt); /* this rank's tasks and objects, for `lumen list tasks` */
        if (rt->gcs && rt->state_dirty && !rt->closing) {
            /* rank 0: the control store changed; the state file follows at
             * most twice a second (the `lumen` command reads it) */
            uint64_t now = lm_now_ns();
            if (now - rt->state_written_ns > 500000000ull) {
                rt->state_dirty = 0;
                rt->state_written_ns = now;
                lm_gcs_write_state(rt);
            }
        }
        pthread_mutex_unlock(&rt->progress_lock);
        lm_discards_drain(rt);
        lm_dev_reap(); /* device objects released under rt->lock */
    } while (atomic_load(&rt->outbox_n) > 0);
    return events;
}

int lm_alloc_tag(lm_rt *rt)
{
    pthread_mutex_lock(&rt->lock);
    int tag = rt->next_tag++;
    if (rt->next_tag > LM_TAG_DATA_MAX)
        rt->next_tag = LM_TAG_DATA_MIN;
    pthread_mutex_unlock(&rt->lock);
    return tag;
}

static void bad_message(lm_rt *rt, int src, const char *what)
{
    static atomic_int reported;
    if (atomic_fetch_add(&reported, 1) < 10)
        fprintf(stderr, "lumen[%d]: dropped malformed %s message from rank %d\n", rt->rank, what, src);
}

/* Called by the transport for each control message; progress role held. */
void lm_deliver(void *arg, int src, void *buf, size_t len)
{
    lm_rt *rt = arg;
    if (src >= 0 && src < rt->size)
        rt->recv_count[src]++;
    if (rt->closing) {
        free(buf);
        return;
    }
    int type = lm_msg_peek_type(buf, len);
    switch (type) {
    case LM_MSG_TASK:
        if (lm_executor_accept(rt, src, buf, len) != LUMEN_OK)
            bad_message(rt, src, "task");
        return; /* buf taken */
    case LM_MSG_CTL:
        lm_ctl_deliver(rt, src, buf, len);
        return; /* buf taken */
    case LM_MSG_DONE: {
        lm_done_msg *m = malloc(sizeof *m);
        if (m && lm_msg_decode_done(buf, len, m) == LUMEN_OK)
            lm_handle_done(rt, m);
        else
            bad_message(rt, src, "done");
        free(m);
        break;
    }
    case LM_MSG_VALUE: {
        lm_value_msg m;
        if (lm_msg_decode_value(buf, len, &m) == LUMEN_OK)
            lm_handle_value(rt, &m);
        else
            bad_message(rt, src, "value");
        break;
    }
    case LM_MSG_YIELD: {
        lm_yield_msg *m = malloc(sizeof *m);
        if (m && lm_msg_decode_yield(buf, len, m) == LUMEN_OK)
            lm_gen_handle_items(rt, m->task_id, m->attempt, m->executor, m->index, m->n, m->vals);
        else
            bad_message(rt, src, "yield");
        free(m);
        break;
    }
    case LM_MSG_FETCH: {
        lm_fetch_msg m;
        if (lm_msg_decode_fetch(buf, len, &m) == LUMEN_OK)
            lm_handle_fetch(rt, src, &m);
        else
            bad_message(rt, src, "fetch");
        break;
    }
    default: {
        lm_small_msg m;
        if (type < 0 || lm_msg_decode_small(buf, len, (lm_msg_type)type, &m) != LUMEN_OK) {
            bad_message(rt, src, "control");
            break;
        }
        if (type == LM_MSG_FETCH_ERR) {
            lm_handle_fetch_err(rt, src, &m);
        } else if (type == LM_MSG_FREE) {
            if (rt->store)
                lm_store_delete(rt->store, m.oid);
            lm_dev_release(m.oid); /* a device object this rank made for a task's caller */
        } else if (type == LM_MSG_SUBSCRIBE) {
            lm_handle_subscribe(rt, src, m.oid);
        } else if (type == LM_MSG_ADD_REF || type == LM_MSG_DEC_REF) {
            int64_t n = m.count > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)m.count;
            lm_handle_refcount(rt, m.oid, type == LM_MSG_ADD_REF ? n : -n);
        } else if (type == LM_MSG_YIELD_ACK) {
            lm_gen_prod_ack(rt, m.oid, m.count);
        } else if (type == LM_MSG_CANCEL) {
            lm_handle_cancel(rt, m.oid);
        } else if (type == LM_MSG_STEAL) {
            if (m.tag == 0)
                lm_handle_steal(rt, src);
            else
                lm_handle_steal_none(rt);
        } else if (type == LM_MSG_SHUTDOWN) {
            atomic_store(&rt->shutdown, 1);
            pthread_mutex_lock(&rt->lock);
            pthread_cond_broadcast(&rt->ready_cv);
            pthread_mutex_unlock(&rt->lock);
            pthread_mutex_lock(&rt->exec_lock);
            pthread_cond_broadcast(&rt->exec_cv);
            pthread_mutex_unlock(&rt->exec_lock);
        }
        break;
    }
    }
    free(buf);
}

static void deadline_ts(struct timespec *ts, uint64_t ns_from_now)
{
    clock_gettime(CLOCK_REALTIME, ts);
    uint64_t ns = (uint64_t)ts->tv_nsec + ns_from_now;
    ts->tv_sec += (time_t)(ns / 1000000000ull);
    ts->tv_nsec = (long)(ns % 1000000000ull);
}

lumen_status lm_wait_until(lm_rt *rt, int (*pred)(lm_rt *, void *), void *arg, uint64_t deadline_ns)
{
    uint64_t start = lm_now_ns();
    int blocked_task = 0;
    lumen_status st = LUMEN_OK;
    for (;;) {
        pthread_mutex_lock(&rt->lock);
        int ok = pred(rt, arg);
        pthread_mutex_unlock(&rt->lock);
        if (ok)
            break;
        if (atomic_load(&rt->shutdown)) {
            st = lm_error(LUMEN_ERR_SHUTDOWN, "the job is shutting down");
            break;
        }
        uint64_t now = lm_now_ns();
        if (deadline_ns && now >= deadline_ns) {
            st = LUMEN_ERR_TIMEOUT;
            break;
        }
        if (lm_tls_ctx && !blocked_task) {
            /* a task waiting on another: give its CPU back so queued work runs */
            blocked_task = 1;
            lm_executor_blocked(rt, +1);
        }
        /* a completion callback runs on the progress thread: it must keep
         * polling while it waits (a fetch of a settled object), never sleep */
        if (lm_tls_in_callback || now - start < rt->spin_ns) {
            atomic_store(&rt->last_poll_ns, now);
            if (lm_progress(rt) == 0)
                sched_yield();
            continue;
        }
        /* block; the progress thread keeps polling and broadcasts ready_cv */
        uint64_t nap = 20000000ull; /* re-check shutdown every 20 ms */
        if (deadline_ns && deadline_ns - now < nap)
            nap = deadline_ns - now;
        struct timespec ts;
        deadline_ts(&ts, nap);
        pthread_mutex_lock(&rt->lock);
        if (!pred(rt, arg)) {
            rt->ready_waiters++;
            pthread_cond_timedwait(&rt->ready_cv, &rt->lock, &ts);
            rt->ready_waiters--;
        }
        pthread_mutex_unlock(&rt->lock);
    }
    if (blocked_task)
        lm_executor_blocked(rt, -1);
    return st;
}

static void *progress_main(void *arg)
{
    lm_rt *rt = arg;
    lm_dev_internal_thread(); /* device copies here leave their device current */
    uint64_t last_active = lm_now_ns();
    uint64_t nap = 20000; /* ns, grows to idle_poll when nothing happens */
    const uint64_t idle_poll = 1000000;
    while (!atomic_load(&rt->stop_threads)) {
        int n = lm_progress(rt);
        lm_preempt_poll(rt);
        if (atomic_load(&rt->ncallbacks)) { /* lumen_ref_on_ready: no lock held here */
            lm_callbacks_run(rt);
            n++;
        }
        uint64_t now = lm_now_ns();
        if (n > 0) {
            last_active = now;
            nap = 20000;
        }
        uint64_t other = atomic_load(&rt->last_poll_ns);
        int others_polling = now - other < 50000;
        if (!others_polling && now - last_active < rt->spin_ns) {
            sched_yield();
            continue;
        }
        struct timespec ts;
        deadline_ts(&ts, others_polling ? 100000 : nap);
        pthread_mutex_lock(&rt->sleep_lock);
        rt->progress_sleeping = 1;
        if (atomic_load(&rt->outbox_n) == 0 && atomic_load(&rt->ncallbacks) == 0 && !atomic_load(&rt->stop_threads))
            pthread_cond_timedwait(&rt->sleep_cv, &rt->sleep_lock, &ts);
        rt->progress_sleeping = 0;
        pthread_mutex_unlock(&rt->sleep_lock);
        if (!others_polling && nap < idle_poll)
            nap *= 2;
    }
    return NULL;
}

lumen_status lm_progress_start(lm_rt *rt)
{
    if (pthread_create(&rt->progress_thread, NULL, progress_main, rt) != 0)
        return lm_error(LUMEN_ERR_INTERNAL, "cannot start the progress thread");
    return LUMEN_OK;
}

void lm_progress_stop(lm_rt *rt)
{
    atomic_store(&rt->stop_threads, 1);
    lm_wake_progress(rt);
    pthread_join(rt->progress_thread, NULL);
}

void lm_outbox_discard(lm_rt *rt)
{
    pthread_mutex_lock(&rt->outbox_lock);
    lm_out *o = rt->out_head;
    rt->out_head = rt->out_tail = NULL;
    pthread_mutex_unlock(&rt->outbox_lock);
    while (o) {
        lm_out *n = o->next;
        free(o->buf);
        free(o);
        o = n;
    }
}
