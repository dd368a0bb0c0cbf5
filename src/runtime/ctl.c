/*
 * ctl.c - control messages (LM_MSG_CTL): sending them, routing each
 * operation to its subsystem (the control store on rank 0, actor hosts and
 * callers, placement bundles), and requests that wait for a reply (lm_rpc).
 *
 * Routing runs in the progress role. A request's reply finds its waiter by
 * tag in rt->rpcs; the waiter owns the reply buffer until lm_rpc_end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "collective/coll.h"
#include "common/error.h"
#include "gcs/gcs.h"
#include "observe/observe.h"
#include "placement/placement.h"
#include "runtime/runtime.h"

void lm_ctl_send(lm_rt *rt, int dest, const lm_ctl_msg *m)
{
    lm_wbuf w;
    lm_wbuf_init(&w, 96 + (m->blob ? m->blob_len : 0));
    lm_msg_encode_ctl(&w, m);
    lm_send_wbuf(rt, dest, &w);
}

void lm_ctl_reply(lm_rt *rt, int dest, int tag, lumen_status st, const char *msg)
{
    lm_ctl_msg r = {.op = LM_CTL_REPLY, .tag = tag};
    r.v[0] = st;
    r.s[0] = msg;
    r.slen[0] = msg ? (uint32_t)strlen(msg) : 0;
    lm_ctl_send(rt, dest, &r);
}

void lm_ctl_str(const lm_ctl_msg *m, int i, char *out, size_t cap)
{
    size_t n = m->s[i] ? m->slen[i] : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, m->s[i], n);
    out[n] = '\0';
}

/* ---- requests waiting for a reply ---------------------------------------- */
void lm_rpc_begin(lm_rt *rt, lm_rpc *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_lock(&rt->lock);
    if (++rt->next_rpc <= 0)
        rt->next_rpc = 1;
    r->tag = rt->next_rpc;
    r->next = rt->rpcs;
    rt->rpcs = r;
    pthread_mutex_unlock(&rt->lock);
}

static int rpc_done(lm_rt *rt, void *arg)
{
    (void)rt;
    return ((lm_rpc *)arg)->done;
}

lumen_status lm_rpc_wait(lm_rt *rt, lm_rpc *r, uint64_t timeout_ns)
{
    lm_progress(rt);
    lumen_status st = lm_wait_until(rt, rpc_done, r, lm_now_ns() + timeout_ns);
    pthread_mutex_lock(&rt->lock);
    int done = r->done;
    pthread_mutex_unlock(&rt->lock);
    if (done)
        return LUMEN_OK;
    if (st == LUMEN_ERR_SHUTDOWN)
        return lm_error(st, "the job is shutting down");
    return lm_error(LUMEN_ERR_TIMEOUT, "no answer from the control store on rank 0");
}

void lm_rpc_end(lm_rt *rt, lm_rpc *r)
{
    pthread_mutex_lock(&rt->lock);
    for (lm_rpc **pp = &rt->rpcs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    pthread_mutex_unlock(&rt->lock);
    free(r->buf);
    r->buf = NULL;
}

/* 1 when a waiter took buf */
static int rpc_complete(lm_rt *rt, void *buf, const lm_ctl_msg *m)
{
    int taken = 0;
    pthread_mutex_lock(&rt->lock);
    for (lm_rpc *r = rt->rpcs; r; r = r->next)
        if (r->tag == m->tag && !r->done) {
            r->buf = buf;
            r->reply = *m;
            r->done = 1;
            taken = 1;
            pthread_cond_broadcast(&rt->ready_cv);
            break;
        }
    pthread_mutex_unlock(&rt->lock);
    return taken;
}

/* ---- routing ----------------------------------------------------------------- */
void lm_res_view_handle(lm_rt *rt, const lm_ctl_msg *m)
{
    size_t rec = sizeof(int64_t) + LM_MAX_RES * sizeof(double);
    if (!m->blob || m->blob_len % rec)
        return;
    const unsigned char *p = m->blob;
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < m->blob_len / rec; i++) {
        int64_t r;
        memcpy(&r, p + i * rec, sizeof r);
        if (r >= 0 && r < rt->size)
            memcpy(&rt->res_reserved[(size_t)r * LM_MAX_RES], p + i * rec + sizeof r, LM_MAX_RES * sizeof(double));
    }
    lm_dispatch_pending(rt); /* tasks waiting for held resources */
    pthread_mutex_unlock(&rt->lock);
}

static void answer_res_query(lm_rt *rt, int src, const lm_ctl_msg *m)
{
    double avail[LM_MAX_RES];
    pthread_mutex_lock(&rt->exec_lock);
    memcpy(avail, rt->avail, sizeof avail);
    pthread_mutex_unlock(&rt->exec_lock);
    lm_ctl_msg r = {.op = LM_CTL_REPLY, .tag = m->tag, .blob = avail, .blob_len = sizeof avail};
    lm_ctl_send(rt, src, &r);
}

void lm_ctl_deliver(lm_rt *rt, int src, void *buf, size_t len)
{
    lm_ctl_msg m;
    if (lm_msg_decode_ctl(buf, len, &m) != LUMEN_OK || m.op < 1 || m.op > LM_CTL_OP_MAX) {
        fprintf(stderr, "lumen[%d]: dropped malformed control message from rank %d\n", rt->rank, src);
        free(buf);
        return;
    }
    switch (m.op) {
    case LM_CTL_REPLY:
        if (rpc_complete(rt, buf, &m))
            return;
        break;
    case LM_CTL_ACTOR_NOTIFY:
        lm_actor_handle_notify(rt, &m);
        if (m.tag && rpc_complete(rt, buf, &m))
            return;
        break;
    case LM_CTL_ACTOR_RESPEC:
        lm_actor_handle_respec(rt, &m);
        break;
    case LM_CTL_ACTOR_KILL_HOST:
        lm_actor_host_kill(rt, m.a, (uint32_t)m.v[1], (int)m.v[0], &m);
        break;
    case LM_CTL_PG_RESERVE:
    case LM_CTL_PG_RELEASE:
        lm_bundles_handle(rt, src, &m);
        break;
    case LM_CTL_PG_NOTIFY:
        lm_pg_handle_notify(rt, &m);
        break;
    case LM_CTL_RES_QUERY:
        answer_res_query(rt, src, &m);
        break;
    case LM_CTL_PREEMPT:
        lm_preempt_remote(rt);
        break;
    case LM_CTL_STATE_QUERY:
        lm_state_answer(rt, src, &m);
        break;
    case LM_CTL_TIMELINE_QUERY:
        lm_timeline_answer(rt, src, m.tag);
        break;
    case LM_CTL_RES_VIEW:
        lm_res_view_handle(rt, &m);
        break;
    case LM_CTL_COLL_READY:
    case LM_CTL_COLL_DESTROYED:
    case LM_CTL_COLL_ARRIVE:
    case LM_CTL_COLL_P2P:
        lm_coll_handle(rt, src, &m);
        break;
    default:
        if (rt->gcs)
            lm_gcs_handle(rt, src, &m);
        else
            fprintf(stderr, "lumen[%d]: control store message %d from rank %d, but this is not rank 0\n",
                    rt->rank, m.op, src);
        break;
    }
    free(buf);
}
