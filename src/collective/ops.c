/*
 * ops.c - the collective operations and point-to-point messages of a group.
 *
 * One operation on one rank: the members on this rank arrive one by one
 * (their buffers are in this process: shared memory); the last to arrive
 * drives it. It checks that the local members agree, tells the other ranks
 * of the group what it is about to do (ARRIVE: operation, count, dtype, op
 * or root), waits for their ARRIVE (the timeout applies here, and only
 * here), and when everyone agrees combines the local members' buffers and
 * runs one MPI operation among the ranks: allreduce reduces in place in the
 * buffer of the lowest local member (one member per rank: the user's buffer,
 * no copy), then every other local member copies the result. Members leave
 * together, so no buffer is read after its owner returned.
 *
 * Point-to-point send/recv between members are in p2p.c. Does not own:
 * groups, messages and MPI requests (group.c).
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collective/coll.h"
#include "common/error.h"

typedef lm_coll_op_wait op_wait;

uint64_t lm_coll_deadline(int64_t tmo)
{
    return tmo < 0 ? 0 : lm_now_ns() + (uint64_t)tmo * 1000000ull;
}

static int sig_is_reduce(int64_t kind)
{
    return LM_COLL_KIND(kind) == LM_COLL_ALLREDUCE || LM_COLL_KIND(kind) == LM_COLL_REDUCESCATTER;
}

/* LUMEN_OK when equal, else the status and a description in why */
static lumen_status sig_diff(const lm_coll_sig *a, int ra, const lm_coll_sig *b, int rb, char *why, size_t n)
{
    if (a->kind != b->kind) {
        snprintf(why, n, "members called different operations: rank %d %s, rank %d %s", ra,
                 lm_coll_kind_name(a->kind), rb, lm_coll_kind_name(b->kind));
        return LUMEN_ERR_TYPE_MISMATCH;
    }
    if (LM_COLL_KIND(a->kind) == LM_COLL_BARRIER)
        return LUMEN_OK;
    if (a->dtype != b->dtype) {
        snprintf(why, n, "dtypes differ: rank %d %s, rank %d %s", ra, lm_coll_dtype_name(a->dtype), rb,
                 lm_coll_dtype_name(b->dtype));
        return LUMEN_ERR_TYPE_MISMATCH;
    }
    if (a->count != b->count) {
        snprintf(why, n, "counts differ: rank %d %lld, rank %d %lld elements", ra, (long long)a->count, rb,
                 (long long)b->count);
        return LUMEN_ERR_OUT_OF_RANGE;
    }
    if (a->op != b->op) {
        if (sig_is_reduce(a->kind)) {
            snprintf(why, n, "reduce ops differ: rank %d %s, rank %d %s", ra, lm_coll_op_name(a->op), rb,
                     lm_coll_op_name(b->op));
            return LUMEN_ERR_TYPE_MISMATCH;
        }
        snprintf(why, n, "roots differ: rank %d says %lld, rank %d says %lld", ra, (long long)a->op, rb,
                 (long long)b->op);
        return LUMEN_ERR_OUT_OF_RANGE;
    }
    return LUMEN_OK;
}

/* ---- waits (coll lock held by the caller of the predicates) --------------------- */
static int op_done_or_dead(void *p)
{
    op_wait *w = p;
    lm_coll_group *g = w->g;
    return (g->phase == 2 && g->seq == w->seq) || (g->phase == 0 && (g->broken || g->destroyed));
}

static int op_reset(void *p)
{
    op_wait *w = p;
    return w->g->seq != w->seq;
}

static int count_arrivals(lm_coll_group *g, uint64_t seq)
{
    int n = 0;
    for (lm_coll_arrival *a = g->arrivals; a; a = a->next)
        n += a->seq == seq;
    return n;
}

static int remote_ready(void *p)
{
    op_wait *w = p;
    return w->g->destroyed || count_arrivals(w->g, w->seq) >= w->g->nprocs - 1;
}

/* ---- the driver ---------------------------------------------------------------- */
/* buffers of the operation; called before telling the others, so that a
 * rank out of memory says so instead of leaving them waiting */
static lumen_status prepare(lm_coll_group *g, const lm_coll_sig *s, char *why, size_t n)
{
    size_t esz = lm_coll_esize(s->dtype), cnt = (size_t)s->count;
    int k = (int)LM_COLL_KIND(s->kind);
    if (cnt == 0 || (s->kind & LM_COLL_SIGONLY) || (k != LM_COLL_ALLGATHER && k != LM_COLL_REDUCESCATTER))
        return LUMEN_OK;
    g->stage = malloc((size_t)g->world * cnt * esz);
    if (k == LM_COLL_REDUCESCATTER && g->nprocs > 1)
        g->result = malloc((size_t)g->nlocal * cnt * esz);
    if (!g->stage || (k == LM_COLL_REDUCESCATTER && g->nprocs > 1 && !g->result)) {
        snprintf(why, n, "no memory for a %zu-byte staging buffer", (size_t)g->world * cnt * esz);
        return LUMEN_ERR_NO_MEMORY;
    }
    return LUMEN_OK;
}

lumen_status lm_coll_mpi_run(lm_rt *rt, lm_coll_req *r, char *why, size_t n)
{
    lm_coll_req_finish(rt, r);
    if (r->mpi_err == MPI_SUCCESS)
        return LUMEN_OK;
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(r->mpi_err, s, &len);
    snprintf(why, n, "MPI failed: %.150s", s);
    return LUMEN_ERR_MPI;
}

/* ---- large allreduce: a pipelined ring ------------------------------------------
 * Open MPI's MPI_Iallreduce (libnbc) runs at about half the speed of its
 * blocking MPI_Allreduce on large buffers here, and a blocking collective in
 * the progress role could deadlock two groups that share ranks. So large
 * allreduces run as a ring of point-to-point messages (reduce-scatter, then
 * allgather) in segments: the member thread reduces segment k while the
 * progress role moves segment k+1, in place in the user's buffer. */
#define RING_MIN_BYTES ((size_t)1 << 20)
#define RING_SEG_BYTES ((size_t)1 << 20)
#define RING_TAG 32100

typedef struct ring_step {
    lm_coll_req *reqs; /* recv k at 2k, send k at 2k+1 */
    int n;
} ring_step;

static int reqs_done(void *p)
{
    const lm_coll_req *r = p;
    return r->done;
}

/* wait for one request, driving progress (every side agreed: it completes) */
static void req_wait(lm_rt *rt, lm_coll_req *r)
{
    for (;;) {
        pthread_mutex_lock(&lm_coll.lock);
        int d = reqs_done(r);
        pthread_mutex_unlock(&lm_coll.lock);
        if (d)
            return;
        if (lm_progress(rt) == 0)
            sched_yield();
    }
}

static lumen_status ring_allreduce(lm_rt *rt, lm_coll_group *g, char *buf, size_t cnt, int dt, int op, char *why,
                                   size_t whyn)
{
    int P = g->nprocs, p = g->me, right = (p + 1) % P, left = (p + P - 1) % P;
    size_t esz = lm_coll_esize(dt), seg = RING_SEG_BYTES / esz;
    size_t base = cnt / (size_t)P, extra = cnt % (size_t)P, maxc = base + (extra ? 1 : 0);
#define CH_LO(i) ((size_t)(i) * base + ((size_t)(i) < extra ? (size_t)(i) : extra))
#define CH_N(i) (base + ((size_t)(i) < extra ? 1 : 0))
    size_t nseg = (maxc + seg - 1) / seg;
    char *tmp = malloc(maxc * esz);
    lm_coll_req *rq = calloc(2 * nseg, sizeof *rq);
    lumen_status st = LUMEN_OK;
    if (!tmp || !rq) {
        /* every rank got here: a failure now cannot be told to the others
         * before they wait on us, so fall back to MPI's own allreduce */
        free(tmp);
        free(rq);
        lm_coll_req r = {.kind = LM_COLL_ALLREDUCE, .comm = g->comm, .type = lm_coll_mpi_type(dt),
                         .op = lm_coll_mpi_op(op), .count = (int)cnt, .rbuf = buf};
        return lm_coll_mpi_run(rt, &r, why, whyn);
    }
    MPI_Datatype type = lm_coll_mpi_type(dt);
    for (int phase = 0; phase < 2 && st == LUMEN_OK; phase++) {
        for (int s = 0; s < P - 1 && st == LUMEN_OK; s++) {
            int sc = phase == 0 ? (p - s + 2 * P) % P : (p + 1 - s + 2 * P) % P;
            int rc = phase == 0 ? (p - s - 1 + 2 * P) % P : (p - s + 2 * P) % P;
            size_t sn = CH_N(sc), rn = CH_N(rc);
            size_t ns = (sn + seg - 1) / seg, nr = (rn + seg - 1) / seg;
            char *sdst = buf + CH_LO(sc) * esz, *rdst = buf + CH_LO(rc) * esz;
            char *rin = phase == 0 ? tmp : rdst;
            memset(rq, 0, 2 * nseg * sizeof *rq);
            pthread_mutex_lock(&lm_coll.lock);
            for (size_t k = 0; k < nseg; k++) {
                if (k < nr) {
                    size_t o = k * seg, c = rn - o < seg ? rn - o : seg;
                    rq[2 * k] = (lm_coll_req){.kind = LM_COLL_REQ_RECV, .comm = g->comm, .type = type,
                                              .count = (int)c, .rbuf = rin + o * esz, .peer = left, .tag = RING_TAG};
                    lm_coll_req_add(&rq[2 * k]);
                }
                if (k < ns) {
                    size_t o = k * seg, c = sn - o < seg ? sn - o : seg;
                    rq[2 * k + 1] = (lm_coll_req){.kind = LM_COLL_REQ_SEND, .comm = g->comm, .type = type,
                                                  .count = (int)c, .sbuf = sdst + o * esz, .peer = right,
                                                  .tag = RING_TAG};
                    lm_coll_req_add(&rq[2 * k + 1]);
                }
            }
            pthread_mutex_unlock(&lm_coll.lock);
            for (size_t k = 0; k < nseg; k++) {
                if (k < nr) {
                    req_wait(rt, &rq[2 * k]);
                    if (rq[2 * k].mpi_err != MPI_SUCCESS)
                        st = LUMEN_ERR_MPI;
                    else if (phase == 0) {
                        size_t o = k * seg, c = rn - o < seg ? rn - o : seg;
                        lm_coll_reduce(rdst + o * esz, tmp + o * esz, c, dt, op);
                    }
                }
            }
            for (size_t k = 0; k < ns; k++) {
                req_wait(rt, &rq[2 * k + 1]);
                if (rq[2 * k + 1].mpi_err != MPI_SUCCESS)
                    st = LUMEN_ERR_MPI;
            }
        }
    }
#undef CH_LO
#undef CH_N
    free(tmp);
    free(rq);
    if (st != LUMEN_OK)
        snprintf(why, whyn, "MPI failed in the ring allreduce");
    return st;
}

static lumen_status run_data(lm_rt *rt, lm_coll_group *g, const lm_coll_sig *s, char *why, size_t n)
{
    size_t esz = lm_coll_esize(s->dtype), cnt = (size_t)s->count, blk = cnt * esz;
    int dt = (int)s->dtype, op = (int)s->op;
    lm_coll_req r = {.comm = g->comm, .type = lm_coll_mpi_type(dt), .op = lm_coll_mpi_op(op), .count = (int)cnt};
    lm_coll_part *parts = g->parts;
    if (cnt == 0 || LM_COLL_KIND(s->kind) == LM_COLL_BARRIER || (s->kind & LM_COLL_SIGONLY))
        return LUMEN_OK; /* the exchange of ARRIVE was the barrier */
    switch (LM_COLL_KIND(s->kind)) {
    case LM_COLL_ALLREDUCE:
        for (int i = 1; i < g->nlocal; i++)
            lm_coll_reduce(parts[0].recv, parts[i].recv, cnt, dt, op);
        if (g->nprocs == 1)
            return LUMEN_OK;
        if (blk >= RING_MIN_BYTES && cnt >= (size_t)g->nprocs)
            return ring_allreduce(rt, g, parts[0].recv, cnt, dt, op, why, n);
        r.kind = LM_COLL_ALLREDUCE;
        r.rbuf = parts[0].recv;
        return lm_coll_mpi_run(rt, &r, why, n);
    case LM_COLL_BROADCAST: {
        int root = (int)s->op;
        g->src = parts[0].recv;
        for (int i = 0; i < g->nlocal; i++)
            if (g->locals[i] == root)
                g->src = parts[i].recv;
        if (g->nprocs == 1)
            return LUMEN_OK;
        r.kind = LM_COLL_BROADCAST;
        r.rbuf = g->src;
        r.peer = g->proc_of[root];
        return lm_coll_mpi_run(rt, &r, why, n);
    }
    case LM_COLL_ALLGATHER: {
        char *st = g->stage;
        for (int i = 0; i < g->nlocal; i++)
            memcpy(st + (size_t)g->pos_of[g->locals[i]] * blk, parts[i].send, blk);
        if (g->nprocs == 1)
            return LUMEN_OK;
        for (int p = 0, k = 0; p < g->nprocs; p++) {
            int c = 0;
            for (int m = 0; m < g->world; m++)
                c += g->proc_of[m] == p;
            g->displs[p] = k * (int)cnt;
            g->counts[p] = c * (int)cnt;
            k += c;
        }
        r.kind = LM_COLL_ALLGATHER;
        r.rbuf = g->stage;
        r.counts = g->counts;
        r.displs = g->displs;
        return lm_coll_mpi_run(rt, &r, why, n);
    }
    case LM_COLL_REDUCESCATTER: {
        char *st = g->stage;
        for (int m = 0; m < g->world; m++) {
            char *d = st + (size_t)g->pos_of[m] * blk;
            memcpy(d, (const char *)parts[0].send + (size_t)m * blk, blk);
            for (int i = 1; i < g->nlocal; i++)
                lm_coll_reduce(d, (const char *)parts[i].send + (size_t)m * blk, cnt, dt, op);
        }
        if (g->nprocs == 1)
            return LUMEN_OK;
        for (int p = 0; p < g->nprocs; p++) {
            int c = 0;
            for (int m = 0; m < g->world; m++)
                c += g->proc_of[m] == p;
            g->counts[p] = c * (int)cnt;
        }
        r.kind = LM_COLL_REDUCESCATTER;
        r.sbuf = g->stage;
        r.rbuf = g->result;
        r.counts = g->counts;
        return lm_coll_mpi_run(rt, &r, why, n);
    }
    default:
        return LUMEN_OK;
    }
}

/* the last local member to arrive: agree with the other ranks, then run */
static void drive(lm_rt *rt, lm_coll_group *g, uint64_t seq, uint64_t deadline)
{
    char why[300] = "", prefix[160];
    lm_coll_sig s0 = g->parts[0].sig;
    snprintf(prefix, sizeof prefix, "collective %s on group '%s'", lm_coll_kind_name(s0.kind), g->name);
    lumen_status st = LUMEN_OK;
    for (int i = 1; i < g->nlocal && st == LUMEN_OK; i++)
        st = sig_diff(&s0, g->locals[0], &g->parts[i].sig, g->locals[i], why, sizeof why);
    if (st == LUMEN_OK)
        st = prepare(g, &s0, why, sizeof why);
    if (g->nprocs > 1) {
        lm_coll_send_arrive(rt, g, seq, st == LUMEN_OK ? 0 : -(int)st, &s0, g->locals[0], why);
        lm_progress(rt);
        op_wait w = {g, seq, NULL};
        lumen_status ws = lm_coll_wait(rt, remote_ready, &w, deadline);
        pthread_mutex_lock(&lm_coll.lock);
        if (g->destroyed) {
            if (st == LUMEN_OK) {
                char gone[240];
                st = lm_coll_gone(g, gone, sizeof gone);
                snprintf(why, sizeof why, "the group %s during the operation", gone);
            }
        } else if (count_arrivals(g, seq) < g->nprocs - 1) {
            /* some ranks' members never came: the group is out of step now */
            char miss[200] = "";
            size_t off = 0;
            for (int p = 0; p < g->nprocs; p++) {
                int seen = p == g->me;
                for (lm_coll_arrival *a = g->arrivals; a; a = a->next)
                    seen |= a->seq == seq && a->proc == p;
                for (int m = 0; m < g->world && !seen && off < sizeof miss - 16; m++)
                    if (g->proc_of[m] == p)
                        off += (size_t)snprintf(miss + off, sizeof miss - off, "%s%d", off ? ", " : "", m);
            }
            st = ws == LUMEN_ERR_SHUTDOWN ? LUMEN_ERR_SHUTDOWN : LUMEN_ERR_TIMEOUT;
            snprintf(why, sizeof why, "%s: members did not arrive in time (ranks %s or ranks beside them)",
                     st == LUMEN_ERR_SHUTDOWN ? "the job is shutting down" : "timed out", miss);
            g->broken = st;
            snprintf(g->broken_why, sizeof g->broken_why, "%s: %s; the group is broken, destroy it", prefix, why);
        } else {
            for (lm_coll_arrival *a = g->arrivals; a && st == LUMEN_OK; a = a->next) {
                if (a->seq != seq)
                    continue;
                if (a->bad) {
                    st = (lumen_status)-a->bad;
                    snprintf(why, sizeof why, "%s (on lumen rank %d)", a->why, g->procs[a->proc]);
                } else {
                    st = sig_diff(&s0, g->locals[0], &a->sig, a->grank, why, sizeof why);
                }
            }
        }
        for (lm_coll_arrival **pp = &g->arrivals; *pp;) {
            lm_coll_arrival *a = *pp;
            if (a->seq == seq) {
                *pp = a->next;
                free(a);
            } else {
                pp = &a->next;
            }
        }
        pthread_mutex_unlock(&lm_coll.lock);
    }
    if (st == LUMEN_OK)
        st = run_data(rt, g, &s0, why, sizeof why);
    pthread_mutex_lock(&lm_coll.lock);
    g->op_st = st;
    if (st != LUMEN_OK)
        snprintf(g->op_why, sizeof g->op_why, "%s: %s", prefix, why);
    g->phase = 2;
    pthread_mutex_unlock(&lm_coll.lock);
    lm_coll_wake(rt);
}

/* member li's result out of the shared buffers (phase 2, no lock: nothing
 * changes them until every member left) */
static void copy_out(lm_coll_group *g, int li)
{
    lm_coll_part *p = &g->parts[li];
    size_t esz = lm_coll_esize(p->sig.dtype), cnt = (size_t)p->sig.count, blk = cnt * esz;
    if (cnt == 0 || (p->sig.kind & LM_COLL_SIGONLY))
        return;
    switch (LM_COLL_KIND(p->sig.kind)) {
    case LM_COLL_ALLREDUCE:
        if (li != 0)
            memcpy(p->recv, g->parts[0].recv, blk);
        break;
    case LM_COLL_BROADCAST:
        if (p->recv != g->src)
            memcpy(p->recv, g->src, blk);
        break;
    case LM_COLL_ALLGATHER:
        for (int m = 0; m < g->world; m++)
            memcpy((char *)p->recv + (size_t)m * blk, (char *)g->stage + (size_t)g->pos_of[m] * blk, blk);
        break;
    case LM_COLL_REDUCESCATTER: {
        const char *res = g->nprocs > 1 ? g->result : (const char *)g->stage;
        memcpy(p->recv, res + (size_t)li * blk, blk);
        break;
    }
    default:
        break;
    }
}

static lumen_status coll_op(const char *name, lm_coll_sig sig, const void *send, void *recv)
{
    lm_rt *rt = lm_g;
    const char *kn = lm_coll_kind_name(sig.kind);
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "lumen_init was not called");
    if (!name)
        return lm_error(LUMEN_ERR_INVALID_ARG, "collective %s: group_name is NULL", kn);
    size_t esz = lm_coll_esize(sig.dtype);
    int kind = (int)LM_COLL_KIND(sig.kind);
    if (kind != LM_COLL_BARRIER) {
        if (esz == 0)
            return lm_error(LUMEN_ERR_INVALID_ARG, "collective %s: unknown dtype %lld", kn, (long long)sig.dtype);
        if (sig_is_reduce(sig.kind) && (sig.op < 0 || sig.op > LUMEN_REDUCE_MAX))
            return lm_error(LUMEN_ERR_INVALID_ARG, "collective %s: unknown reduce op %lld", kn, (long long)sig.op);
        if (sig.count < 0 || (uint64_t)sig.count > (uint64_t)INT_MAX || (uint64_t)sig.count > SIZE_MAX / esz)
            return lm_error(LUMEN_ERR_INVALID_ARG, "collective %s: count %llu overflows (at most %d elements)", kn,
                            (unsigned long long)(uint64_t)sig.count, INT_MAX);
        if (sig.count > 0 && !(sig.kind & LM_COLL_SIGONLY) && (!recv || (kind >= LM_COLL_ALLGATHER && !send)))
            return lm_error(LUMEN_ERR_INVALID_ARG, "collective %s: NULL buffer", kn);
    }
    pthread_mutex_lock(&lm_coll.lock);
    lm_coll_group *g;
    int li;
    lumen_status st = lm_coll_find(name, &g, &li);
    if (st != LUMEN_OK) {
        pthread_mutex_unlock(&lm_coll.lock);
        return st;
    }
#ifdef LUMEN_HAVE_NCCL
    if (g->backend == LUMEN_COLL_NCCL && !(sig.kind & (LM_COLL_SIGONLY | LM_COLL_HOSTDATA))) {
        uint64_t dl = lm_coll_deadline(g->tmo[li]);
        pthread_mutex_unlock(&lm_coll.lock);
        return lm_coll_nccl_op(g, li, kind, send, recv, (size_t)sig.count, (int)sig.dtype, (int)sig.op, -1, dl);
    }
#endif
    if (kind == LM_COLL_BROADCAST && (sig.op < 0 || sig.op >= g->world))
        st = lm_error(LUMEN_ERR_INVALID_ARG, "collective broadcast on group '%s': root %lld is not in 0..%d", name,
                      (long long)sig.op, g->world - 1);
    else if ((kind == LM_COLL_ALLGATHER || kind == LM_COLL_REDUCESCATTER) &&
             ((uint64_t)sig.count * (uint64_t)g->world > (uint64_t)INT_MAX ||
              (uint64_t)sig.count * (uint64_t)g->world > SIZE_MAX / esz))
        st = lm_error(LUMEN_ERR_INVALID_ARG, "collective %s on group '%s': count %lld x %d members overflows", kn,
                      name, (long long)sig.count, g->world);
    else if (g->broken)
        st = lm_error_str(g->broken, g->broken_why);
    else if (g->parts[li].arrived)
        st = lm_error(LUMEN_ERR_INVALID_ARG,
                      "collective %s on group '%s': this member is already inside an operation of the group", kn,
                      name);
    if (st != LUMEN_OK) {
        pthread_mutex_unlock(&lm_coll.lock);
        return st;
    }
    uint64_t deadline = lm_coll_deadline(g->tmo[li]);
    g->users++;
    g->parts[li] = (lm_coll_part){1, sig, send, recv};
    uint64_t seq = g->seq;
    op_wait w = {g, seq, NULL};
    if (++g->arrived == g->nlocal) {
        g->phase = 1;
        pthread_mutex_unlock(&lm_coll.lock);
        drive(rt, g, seq, deadline);
        pthread_mutex_lock(&lm_coll.lock);
    } else {
        for (;;) {
            pthread_mutex_unlock(&lm_coll.lock);
            lumen_status ws = lm_coll_wait(rt, op_done_or_dead, &w, deadline);
            pthread_mutex_lock(&lm_coll.lock);
            if (g->phase == 2)
                break;
            if (g->phase == 0 && (g->broken || g->destroyed || ws != LUMEN_OK)) {
                /* leave before the operation starts: nobody will read our buffers */
                if (!g->broken && !g->destroyed) {
                    char miss[160] = "";
                    size_t off = 0;
                    for (int i = 0; i < g->nlocal && off < sizeof miss - 16; i++)
                        if (!g->parts[i].arrived)
                            off += (size_t)snprintf(miss + off, sizeof miss - off, "%s%d", off ? ", " : "",
                                                    g->locals[i]);
                    g->broken = ws == LUMEN_ERR_SHUTDOWN ? LUMEN_ERR_SHUTDOWN : LUMEN_ERR_TIMEOUT;
                    snprintf(g->broken_why, sizeof g->broken_why,
                             "collective %s on group '%s': %s waiting for members %s; the group is broken, destroy "
                             "it",
                             kn, name, ws == LUMEN_ERR_SHUTDOWN ? "the job is shutting down" : "timed out", miss);
                }
                if (g->destroyed) {
                    char gone[240];
                    lumen_status gs = lm_coll_gone(g, gone, sizeof gone);
                    st = lm_error(gs, "collective %s on group '%s': the group %s while waiting", kn, name, gone);
                } else
                    st = lm_error_str(g->broken, g->broken_why);
                g->parts[li].arrived = 0;
                g->arrived--;
                g->users--;
                pthread_mutex_unlock(&lm_coll.lock);
                lm_coll_wake(rt);
                return st;
            }
            if (ws != LUMEN_OK)
                deadline = 0; /* running: the driver's own wait is bounded */
        }
    }
    /* phase 2: every member takes its result, and they leave together */
    st = g->op_st;
    if (st != LUMEN_OK)
        lm_error_str(st, g->op_why);
    pthread_mutex_unlock(&lm_coll.lock);
    if (st == LUMEN_OK)
        copy_out(g, li);
    pthread_mutex_lock(&lm_coll.lock);
    int last = ++g->departed == g->nlocal;
    if (last) {
        for (int i = 0; i < g->nlocal; i++)
            g->parts[i].arrived = 0;
        free(g->stage);
        free(g->result);
        g->stage = g->result = NULL;
        g->arrived = g->departed = 0;
        g->phase = 0;
        g->seq++;
    }
    g->users--;
    pthread_mutex_unlock(&lm_coll.lock);
    if (last)
        lm_coll_wake(rt);
    else
        lm_coll_wait(rt, op_reset, &w, 0);
    return st;
}

lumen_status lm_coll_host_op(const char *name, int kind, const void *send, void *recv, size_t count, int dtype,
                             int op, int sig_only)
{
    lm_coll_sig s = {kind | (sig_only ? LM_COLL_SIGONLY : LM_COLL_HOSTDATA), count > INT64_MAX ? -1 : (int64_t)count,
                     dtype, op};
    if (kind == LM_COLL_BARRIER)
        s = (lm_coll_sig){kind | (sig_only ? LM_COLL_SIGONLY : LM_COLL_HOSTDATA), 0, 0, 0};
    return coll_op(name, s, send, recv);
}

lumen_status lumen_collective_allreduce(const char *group_name, void *buf, size_t count, lumen_dtype dtype,
                                        lumen_reduce_op op)
{
    lm_coll_sig s = {LM_COLL_ALLREDUCE, count > INT64_MAX ? -1 : (int64_t)count, dtype, op};
    return coll_op(group_name, s, buf, buf);
}

lumen_status lumen_collective_broadcast(const char *group_name, void *buf, size_t count, lumen_dtype dtype,
                                        int root)
{
    lm_coll_sig s = {LM_COLL_BROADCAST, count > INT64_MAX ? -1 : (int64_t)count, dtype, root};
    return coll_op(group_name, s, buf, buf);
}

lumen_status lumen_collective_allgather(const char *group_name, const void *send, void *recv, size_t count,
                                        lumen_dtype dtype)
{
    lm_coll_sig s = {LM_COLL_ALLGATHER, count > INT64_MAX ? -1 : (int64_t)count, dtype, 0};
    return coll_op(group_name, s, send, recv);
}

lumen_status lumen_collective_reducescatter(const char *group_name, const void *send, void *recv, size_t count,
                                            lumen_dtype dtype, lumen_reduce_op op)
{
    lm_coll_sig s = {LM_COLL_REDUCESCATTER, count > INT64_MAX ? -1 : (int64_t)count, dtype, op};
    return coll_op(group_name, s, send, recv);
}

lumen_status lumen_collective_barrier(const char *group_name)
{
    lm_coll_sig s = {LM_COLL_BARRIER, 0, 0, 0};
    return coll_op(group_name, s, NULL, NULL);
}
