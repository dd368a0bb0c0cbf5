/*
 * p2p.c - point-to-point messages between members of a collective group
 * (lumen_collective_send / lumen_collective_recv, ray.util.collective's
 * send and recv).
 *
 * A send and its receive meet by (source, destination, sequence number of
 * the pair): on one rank the sender leaves an offer and the receiver copies
 * from it (shared memory, one copy); across ranks the sender offers its
 * count and dtype (a P2P message), the receiver answers whether they match
 * its own, and then the bytes move with one MPI send and receive on the
 * group's communicator. A mismatch or a
 * member that is gone fails both sides with the reason; the group's timeout
 * applies while waiting for the other side.
 *
 * Does not own: groups, messages and MPI requests (group.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collective/coll.h"
#include "common/error.h"

/* ---- point to point --------------------------------------------------------------- */
static int p2p_done(void *p)
{
    lm_coll_op_wait *w = p;
    const lm_coll_p2p *e = w->p;
    return e->state != 0 || w->g->destroyed;
}

static lm_coll_p2p *p2p_take(lm_coll_group *g, int side, int src, int dst, uint64_t seq)
{
    for (lm_coll_p2p **pp = &g->p2p; *pp; pp = &(*pp)->next) {
        lm_coll_p2p *p = *pp;
        if (p->side == side && p->src == src && p->dst == dst && p->seq == seq && p->state == 0) {
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

typedef struct offer_wait {
    lm_coll_group *g;
    int src, dst;
    uint64_t seq;
} offer_wait;

static int offer_here(void *p)
{
    offer_wait *w = p;
    if (w->g->destroyed)
        return 1;
    for (lm_coll_p2p *e = w->g->p2p; e; e = e->next)
        if (e->side == 2 && e->src == w->src && e->dst == w->dst && e->seq == w->seq)
            return 1;
    return 0;
}

static lumen_status p2p_mismatch(const char *name, int src, int dst, int64_t sc, int64_t sd, int64_t rc, int64_t rd,
                                 char *why, size_t n)
{
    if (sc == rc && sd == rd)
        return LUMEN_OK;
    snprintf(why, n, "collective send/recv on group '%s': rank %d sends %lld %s, rank %d receives %lld %s", name, src,
             (long long)sc, lm_coll_dtype_name(sd), dst, (long long)rc, lm_coll_dtype_name(rd));
    return sd != rd ? LUMEN_ERR_TYPE_MISMATCH : LUMEN_ERR_OUT_OF_RANGE;
}

static void unlink_p2p(lm_coll_group *g, lm_coll_p2p *e)
{
    for (lm_coll_p2p **pp = &g->p2p; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            return;
        }
}

/* the MPI receive of an agreed message; cancelled if the sender gave up
 * (its timeout ran out just as the answer arrived) */
static lumen_status recv_run(lm_rt *rt, lm_coll_group *g, lm_coll_req *r, int src, int dst, uint64_t seq)
{
    pthread_mutex_lock(&lm_coll.lock);
    lm_coll_req_add(r);
    pthread_mutex_unlock(&lm_coll.lock);
    for (;;) {
        pthread_mutex_lock(&lm_coll.lock);
        int d = r->done;
        if (!d && !r->cancel) {
            lm_coll_p2p *gone = p2p_take(g, 4, src, dst, seq);
            if (gone) {
                free(gone);
                r->cancel = 1;
            }
        }
        pthread_mutex_unlock(&lm_coll.lock);
        if (d)
            break;
        if (lm_progress(rt) == 0)
            sched_yield();
    }
    if (r->cancel)
        return lm_error(LUMEN_ERR_TIMEOUT, "collective recv on group '%s': rank %d gave up sending (its timeout)",
                        g->name, src);
    if (r->mpi_err != MPI_SUCCESS)
        return lm_error(LUMEN_ERR_MPI, "collective recv on group '%s': MPI failed", g->name);
    return LUMEN_OK;
}

static lumen_status p2p(const char *name, int is_send, void *buf, size_t count, lumen_dtype dtype, int peer)
{
    lm_rt *rt = lm_g;
    const char *what = is_send ? "send" : "recv";
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "lumen_init was not called");
    if (!name)
        return lm_error(LUMEN_ERR_INVALID_ARG, "collective %s: group_name is NULL", what);
    size_t esz = lm_coll_esize(dtype);
    if (esz == 0)
        return lm_error(LUMEN_ERR_INVALID_ARG, "collective %s: unknown dtype %d", what, (int)dtype);
    if (count > (size_t)INT_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "collective %s: count %zu overflows (at most %d elements)", what,
                        count, INT_MAX);
    if (count > 0 && !buf)
        return lm_error(LUMEN_ERR_INVALID_ARG, "collective %s: NULL buffer", what);
    pthread_mutex_lock(&lm_coll.lock);
    lm_coll_group *g;
    int li;
    lumen_status st = lm_coll_find(name, &g, &li);
    if (st == LUMEN_OK && (peer < 0 || peer >= g->world || peer == g->locals[li]))
        st = lm_error(LUMEN_ERR_INVALID_ARG, "collective %s on group '%s': peer rank %d is not another member of 0..%d",
                      what, name, peer, g->world - 1);
    if (st != LUMEN_OK) {
        pthread_mutex_unlock(&lm_coll.lock);
        return st;
    }
#ifdef LUMEN_HAVE_NCCL
    if (g->backend == LUMEN_COLL_NCCL) {
        uint64_t dl = lm_coll_deadline(g->tmo[li]);
        pthread_mutex_unlock(&lm_coll.lock);
        return lm_coll_nccl_op(g, li, is_send ? LM_COLL_REQ_SEND : LM_COLL_REQ_RECV, buf, buf, count, dtype, 0, peer,
                               dl);
    }
#endif
    int me = g->locals[li];
    int src = is_send ? me : peer, dst = is_send ? peer : me;
    uint64_t *ctr = is_send ? &g->sent_seq[(size_t)li * g->world + peer] : &g->recv_seq[(size_t)li * g->world + peer];
    uint64_t seq = (*ctr)++;
    uint64_t deadline = lm_coll_deadline(g->tmo[li]);
    int tag = 1 + (src * g->world + dst) % 32000;
    char why[200] = "";
    g->users++;
    if (g->lrank[peer] == rt->rank) {
        /* both members here: the second to come copies, through memory */
        lm_coll_p2p *o = p2p_take(g, is_send ? 1 : 0, src, dst, seq);
        if (o) {
            st = is_send ? p2p_mismatch(name, src, dst, (int64_t)count, dtype, o->count, o->dtype, why, sizeof why)
                         : p2p_mismatch(name, src, dst, o->count, o->dtype, (int64_t)count, dtype, why, sizeof why);
            if (st == LUMEN_OK && count)
                memcpy(is_send ? o->rbuf : buf, is_send ? buf : o->sbuf, count * esz);
            o->st = st;
            snprintf(o->why, sizeof o->why, "%s", why);
            o->state = 1;
            g->users--;
            pthread_mutex_unlock(&lm_coll.lock);
            lm_coll_wake(rt);
            return st == LUMEN_OK ? LUMEN_OK : lm_error_str(st, why);
        }
        lm_coll_p2p e = {.src = src, .dst = dst, .seq = seq, .side = is_send ? 0 : 1, .count = (int64_t)count,
                         .dtype = dtype, .sbuf = is_send ? buf : NULL, .rbuf = is_send ? NULL : buf};
        e.next = g->p2p;
        g->p2p = &e;
        pthread_mutex_unlock(&lm_coll.lock);
        lm_coll_op_wait w = {g, seq, &e};
        lumen_status ws = lm_coll_wait(rt, p2p_done, &w, deadline);
        pthread_mutex_lock(&lm_coll.lock);
        if (e.state == 0) {
            unlink_p2p(g, &e);
            char gone[240];
            lumen_status gs = g->destroyed ? lm_coll_gone(g, gone, sizeof gone) : LUMEN_OK;
            st = g->destroyed ? lm_error(gs, "collective %s on group '%s': the group %s", what, name, gone)
                              : lm_error(ws == LUMEN_ERR_SHUTDOWN ? ws : LUMEN_ERR_TIMEOUT,
                                         "collective %s on group '%s': rank %d did not %s in time", what, name, peer,
                                         is_send ? "receive" : "send");
        } else {
            st = e.st == LUMEN_OK ? LUMEN_OK : lm_error_str(e.st, e.why);
        }
        g->users--;
        pthread_mutex_unlock(&lm_coll.lock);
        return st;
    }
    lm_coll_req r = {.comm = g->comm, .type = lm_coll_mpi_type(dtype), .count = (int)count,
                     .peer = g->proc_of[peer], .tag = tag};
    if (is_send) {
        /* offer, wait for the receiver's answer, then send over MPI */
        lm_coll_p2p e = {.gid = g->gid, .src = src, .dst = dst, .seq = seq, .side = 3, .count = (int64_t)count,
                         .dtype = dtype};
        e.next = g->p2p;
        g->p2p = &e;
        pthread_mutex_unlock(&lm_coll.lock);
        lm_coll_send_p2p(rt, g, 0, &e, LUMEN_OK, NULL);
        lm_progress(rt);
        lm_coll_op_wait w = {g, seq, &e};
        lumen_status ws = lm_coll_wait(rt, p2p_done, &w, deadline);
        pthread_mutex_lock(&lm_coll.lock);
        unlink_p2p(g, &e);
        int answered = e.state != 0;
        int destroyed = g->destroyed;
        char gone[240] = "";
        lumen_status gs = destroyed ? lm_coll_gone(g, gone, sizeof gone) : LUMEN_OK;
        pthread_mutex_unlock(&lm_coll.lock);
        if (!answered) {
            lm_coll_send_p2p(rt, g, 2, &e, LUMEN_OK, NULL);
            lm_progress(rt);
            st = destroyed ? lm_error(gs, "collective send on group '%s': the group %s", name, gone)
                           : lm_error(ws == LUMEN_ERR_SHUTDOWN ? ws : LUMEN_ERR_TIMEOUT,
                                      "collective send on group '%s': rank %d did not receive in time", name, peer);
        } else if (e.st != LUMEN_OK) {
            st = lm_error_str(e.st, e.why);
        } else if (count) {
            r.kind = LM_COLL_REQ_SEND;
            r.sbuf = buf;
            st = lm_coll_mpi_run(rt, &r, why, sizeof why);
            if (st != LUMEN_OK)
                lm_error_str(st, why);
        }
    } else {
        offer_wait ow = {g, src, dst, seq};
        pthread_mutex_unlock(&lm_coll.lock);
        lumen_status ws = lm_coll_wait(rt, offer_here, &ow, deadline);
        pthread_mutex_lock(&lm_coll.lock);
        lm_coll_p2p *o = p2p_take(g, 2, src, dst, seq);
        int destroyed = g->destroyed;
        char gone[240] = "";
        lumen_status gs = destroyed ? lm_coll_gone(g, gone, sizeof gone) : LUMEN_OK;
        pthread_mutex_unlock(&lm_coll.lock);
        if (!o) {
            st = destroyed ? lm_error(gs, "collective recv on group '%s': the group %s", name, gone)
                           : lm_error(ws == LUMEN_ERR_SHUTDOWN ? ws : LUMEN_ERR_TIMEOUT,
                                      "collective recv on group '%s': rank %d did not send in time", name, peer);
        } else {
            st = p2p_mismatch(name, src, dst, o->count, o->dtype, (int64_t)count, dtype, why, sizeof why);
            lm_coll_send_p2p(rt, g, 1, o, st, why);
            lm_progress(rt);
            free(o);
            if (st != LUMEN_OK) {
                lm_error_str(st, why);
            } else if (count) {
                r.kind = LM_COLL_REQ_RECV;
                r.rbuf = buf;
                st = recv_run(rt, g, &r, src, dst, seq);
            }
        }
    }
    pthread_mutex_lock(&lm_coll.lock);
    g->users--;
    pthread_mutex_unlock(&lm_coll.lock);
    return st;
}

lumen_status lumen_collective_send(const char *group_name, const void *buf, size_t count, lumen_dtype dtype,
                                   int dst_rank)
{
    return p2p(group_name, 1, (void *)buf, count, dtype, dst_rank);
}

lumen_status lumen_collective_recv(const char *group_name, void *buf, size_t count, lumen_dtype dtype, int src_rank)
{
    return p2p(group_name, 0, buf, count, dtype, src_rank);
}
