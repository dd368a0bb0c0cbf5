/*
 * group.c - collective groups as one rank sees them: joining (init), the
 * READY that builds a group and its MPI communicator, destroy, the control
 * messages between ranks of a group (signatures, point-to-point offers), and
 * the MPI requests the progress role posts and tests for members.
 *
 * Threading: members (actor or user threads) never call MPI. They queue an
 * lm_coll_req and spin on lm_progress(); whichever thread holds the progress
 * role posts it (MPI_Iallreduce, ...) and tests it (lm_coll_progress). A
 * request is queued only after every rank of the group said (ARRIVE) that
 * its members reached the same operation with the same arguments, so a
 * posted request always completes: timeouts and mismatches are decided
 * before MPI is involved, and no MPI request is ever left dangling.
 *
 * The group communicator is made by MPI_Comm_create_group, blocking, in the
 * progress role, when READY arrives. Every READY comes from rank 0 in one
 * global order, each rank handles them in that order, and every rank named
 * in a READY receives it: the calls cannot wait on each other in a cycle.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "collective/coll.h"
#include "common/error.h"

lm_coll_state lm_coll = {.lock = PTHREAD_MUTEX_INITIALIZER};

extern _Thread_local lumen_task_ctx *lm_tls_ctx;

void lm_coll_wake(lm_rt *rt)
{
    pthread_mutex_lock(&rt->lock);
    pthread_cond_broadcast(&rt->ready_cv);
    pthread_mutex_unlock(&rt->lock);
}

lumen_status lm_coll_gone(const lm_coll_group *g, char *why, size_t n)
{
    if (g->gone_why[0]) {
        snprintf(why, n, "was destroyed: %s", g->gone_why);
        return LUMEN_ERR_ACTOR_DIED;
    }
    snprintf(why, n, "was destroyed (by its rank %d)", g->by);
    return LUMEN_ERR_NOT_FOUND;
}

void lm_coll_key(uint64_t *hi, uint64_t *lo)
{
    lumen_task_ctx *c = lm_tls_ctx;
    if (c && c->actor) { /* every method of an actor is the same member */
        *hi = c->actor->id.hi;
        *lo = c->actor->id.lo;
    } else {
        *hi = 0;
        *lo = (uint64_t)pthread_self();
    }
}


lumen_status lm_coll_find(const char *name, lm_coll_group **out, int *li)
{
    uint64_t hi, lo;
    lm_coll_key(&hi, &lo);
    *out = NULL;
    lm_coll_group *dead = NULL;
    int dead_li = -1;
    for (lm_coll_group *g = lm_coll.groups; g; g = g->next) {
        if (strcmp(g->name, name))
            continue;
        for (int i = 0; i < g->nlocal; i++)
            if (g->bound[i] && g->key_hi[i] == hi && g->key_lo[i] == lo) {
                if (!g->destroyed) {
                    *out = g;
                    *li = i;
                    return LUMEN_OK;
                }
                dead = g;
                dead_li = i;
            }
    }
    if (dead) {
        *out = dead;
        *li = dead_li;
        char why[300];
        lumen_status st = lm_coll_gone(dead, why, sizeof why);
        return lm_error(st, "collective group '%s' %s", name, why);
    }
    return lm_error(LUMEN_ERR_NOT_FOUND,
                    "no collective group '%s' that the caller is a member of (call lumen_collective_init first)",
                    name);
}

/* ---- waiting ------------------------------------------------------------------- */
typedef struct wait_arg {
    int (*done)(void *);
    void *arg;
} wait_arg;

static int wait_pred(lm_rt *rt, void *p)
{
    (void)rt;
    wait_arg *w = p;
    pthread_mutex_lock(&lm_coll.lock);
    int d = w->done(w->arg);
    pthread_mutex_unlock(&lm_coll.lock);
    return d;
}

lumen_status lm_coll_wait(lm_rt *rt, int (*done)(void *), void *arg, uint64_t deadline_ns)
{
    wait_arg w = {done, arg};
    return lm_wait_until(rt, wait_pred, &w, deadline_ns);
}

/* ---- MPI requests (progress role) ---------------------------------------------- */
void lm_coll_req_add(lm_coll_req *r)
{
    /* in order: requests of one member are posted as it queued them (MPI
     * matches messages of one source and tag in posting order) */
    lm_coll_req **pp = &lm_coll.reqs;
    while (*pp)
        pp = &(*pp)->next;
    r->next = NULL;
    *pp = r;
    atomic_fetch_add(&lm_coll.nreqs, 1);
}

static int post(lm_coll_req *r)
{
    switch (r->kind) {
    case LM_COLL_ALLREDUCE:
        return MPI_Iallreduce(MPI_IN_PLACE, r->rbuf, r->count, r->type, r->op, r->comm, &r->req);
    case LM_COLL_BROADCAST:
        return MPI_Ibcast(r->rbuf, r->count, r->type, r->peer, r->comm, &r->req);
    case LM_COLL_ALLGATHER:
        return MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, r->rbuf, r->counts, r->displs, r->type, r->comm,
                               &r->req);
    case LM_COLL_REDUCESCATTER:
        return MPI_Ireduce_scatter(r->sbuf, r->rbuf, r->counts, r->type, r->op, r->comm, &r->req);
    case LM_COLL_REQ_SEND:
        return MPI_Isend(r->sbuf, r->count, r->type, r->peer, r->tag, r->comm, &r->req);
    case LM_COLL_REQ_RECV:
        return MPI_Irecv(r->rbuf, r->count, r->type, r->peer, r->tag, r->comm, &r->req);
    default:
        return MPI_ERR_OTHER;
    }
}

int lm_coll_progress(lm_rt *rt)
{
    if (atomic_load(&lm_coll.nreqs) == 0)
        return 0;
    int active = 0, finished = 0;
    pthread_mutex_lock(&lm_coll.lock);
    for (lm_coll_req **pp = &lm_coll.reqs; *pp;) {
        lm_coll_req *r = *pp;
        int flag = 0;
        if (!r->posted) {
            r->posted = 1;
            r->mpi_err = post(r);
            flag = r->mpi_err != MPI_SUCCESS;
        }
        if (!flag && r->cancel == 1) { /* a receive whose sender gave up */
            MPI_Cancel(&r->req);
            r->cancel = 2;
        }
        if (!flag) {
            int e = MPI_Test(&r->req, &flag, MPI_STATUS_IGNORE);
            if (e != MPI_SUCCESS) {
                r->mpi_err = e;
                flag = 1;
            }
        }
        if (flag) {
            r->done = 1;
            *pp = r->next;
            atomic_fetch_sub(&lm_coll.nreqs, 1);
            finished++;
        } else {
            active++;
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&lm_coll.lock);
    if (finished)
        lm_coll_wake(rt);
    return active + finished;
}

void lm_coll_req_finish(lm_rt *rt, lm_coll_req *r)
{
    pthread_mutex_lock(&lm_coll.lock);
    lm_coll_req_add(r);
    pthread_mutex_unlock(&lm_coll.lock);
    /* every side agreed and posts the same operation: it completes. Spin:
     * the operation is work in progress, and a sleeping driver would slow
     * the MPI collective down */
    for (;;) {
        if (lm_progress(rt) == 0)
            sched_yield();
        pthread_mutex_lock(&lm_coll.lock);
        int d = r->done;
        pthread_mutex_unlock(&lm_coll.lock);
        if (d)
            break;
    }
}

/* ---- control messages out ------------------------------------------------------- */
void lm_coll_send_arrive(lm_rt *rt, lm_coll_group *g, uint64_t seq, int bad, const lm_coll_sig *s, int grank,
                         const char *why)
{
    lm_ctl_msg m = {.op = LM_CTL_COLL_ARRIVE};
    m.a.hi = g->gid;
    m.a.lo = seq;
    m.b.lo = (uint64_t)grank;
    m.v[0] = s->kind;
    m.v[1] = s->count;
    m.v[2] = s->dtype;
    m.v[3] = s->op;
    m.v[4] = bad;
    m.v[5] = g->me;
    if (why && *why) {
        m.s[0] = why;
        m.slen[0] = (uint32_t)strlen(why);
    }
    for (int p = 0; p < g->nprocs; p++)
        if (p != g->me)
            lm_ctl_send(rt, g->procs[p], &m);
}

void lm_coll_send_p2p(lm_rt *rt, lm_coll_group *g, int sub, const lm_coll_p2p *p, lumen_status st,
                      const char *why)
{
    lm_ctl_msg m = {.op = LM_CTL_COLL_P2P};
    m.a.hi = g->gid;
    m.a.lo = p->seq;
    m.v[0] = sub;
    m.v[1] = p->count;
    m.v[2] = p->dtype;
    m.v[3] = p->src;
    m.v[4] = p->dst;
    m.v[5] = st;
    if (why && *why) {
        m.s[0] = why;
        m.slen[0] = (uint32_t)strlen(why);
    }
    int dest = sub == 0 || sub == 2 ? g->lrank[p->dst] : g->lrank[p->src];
    lm_ctl_send(rt, dest, &m);
}

/* ---- control messages in (progress role) ---------------------------------------- */
static lm_coll_group *by_gid(uint64_t gid)
{
    for (lm_coll_group *g = lm_coll.groups; g; g = g->next)
        if (g->gid == gid)
            return g;
    return NULL;
}

static void group_free(lm_coll_group *g)
{
#ifdef LUMEN_HAVE_NCCL
    lm_coll_nccl_free(g);
#endif
    while (g->arrivals) {
        lm_coll_arrival *a = g->arrivals;
        g->arrivals = a->next;
        free(a);
    }
    while (g->p2p) {
        lm_coll_p2p *p = g->p2p;
        g->p2p = p->next;
        if (p->side == 2 || p->side == 4)
            free(p);
    }
    if (g->comm != MPI_COMM_NULL)
        MPI_Comm_free(&g->comm);
    free(g->lrank);
    free(g->procs);
    free(g->proc_of);
    free(g->locals);
    free(g->bound);
    free(g->key_hi);
    free(g->key_lo);
    free(g->tmo);
    free(g->parts);
    free(g->sent_seq);
    free(g->recv_seq);
    free(g->stage);
    free(g->result);
    free(g->pos_of);
    free(g->counts);
    free(g->displs);
    free(g);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static lm_coll_group *group_build(lm_rt *rt, const lm_ctl_msg *m, const char *name)
{
    int world = (int)m->v[1];
    if (world < 1 || !m->blob || m->blob_len != (uint64_t)world * sizeof(int64_t))
        return NULL;
    lm_coll_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    snprintf(g->name, sizeof g->name, "%s", name);
    g->gid = m->a.lo;
    g->world = world;
    g->backend = (int)m->v[3];
    g->comm = MPI_COMM_NULL;
    g->lrank = calloc((size_t)world, sizeof(int));
    g->procs = calloc((size_t)world, sizeof(int));
    g->proc_of = calloc((size_t)world, sizeof(int));
    g->locals = calloc((size_t)world, sizeof(int));
    if (!g->lrank || !g->procs || !g->proc_of || !g->locals)
        goto fail;
    const unsigned char *b = m->blob;
    for (int r = 0; r < world; r++) {
        int64_t v;
        memcpy(&v, b + (size_t)r * 8, 8);
        if (v < 0 || v >= rt->size)
            goto fail;
        g->lrank[r] = (int)v;
        g->procs[r] = (int)v;
        if (v == rt->rank)
            g->locals[g->nlocal++] = r;
    }
    if (g->nlocal == 0)
        goto fail;
    qsort(g->procs, (size_t)world, sizeof(int), cmp_int);
    int n = 0;
    for (int r = 0; r < world; r++)
        if (n == 0 || g->procs[n - 1] != g->procs[r])
            g->procs[n++] = g->procs[r];
    g->nprocs = n;
    for (int r = 0; r < world; r++)
        for (int p = 0; p < n; p++)
            if (g->procs[p] == g->lrank[r])
                g->proc_of[r] = p;
    for (int p = 0; p < n; p++)
        if (g->procs[p] == rt->rank)
            g->me = p;
    size_t nl = (size_t)g->nlocal;
    g->bound = calloc(nl, sizeof(int));
    g->key_hi = calloc(nl, sizeof(uint64_t));
    g->key_lo = calloc(nl, sizeof(uint64_t));
    g->tmo = calloc(nl, sizeof(int64_t));
    g->parts = calloc(nl, sizeof(lm_coll_part));
    g->sent_seq = calloc(nl * (size_t)world, sizeof(uint64_t));
    g->recv_seq = calloc(nl * (size_t)world, sizeof(uint64_t));
    g->pos_of = calloc((size_t)world, sizeof(int));
    g->counts = calloc((size_t)n, sizeof(int));
    g->displs = calloc((size_t)n, sizeof(int));
    if (!g->bound || !g->key_hi || !g->key_lo || !g->tmo || !g->parts || !g->sent_seq || !g->recv_seq ||
        !g->pos_of || !g->counts || !g->displs)
        goto fail;
    int k = 0;
    for (int p = 0; p < n; p++)
        for (int r = 0; r < world; r++)
            if (g->proc_of[r] == p)
                g->pos_of[r] = k++;
    if (n > 1) {
        /* the communicator of the ranks holding members, in lumen rank order */
        MPI_Group wg, sub;
        int e = MPI_Comm_group(rt->comm, &wg);
        if (e == MPI_SUCCESS) {
            e = MPI_Group_incl(wg, n, g->procs, &sub);
            if (e == MPI_SUCCESS) {
                /* a tag of its own: MPI_Comm_create_group talks on rt->comm,
                 * where lumen's control, UCX and data tags live */
                int tag = LM_TAG_COMM_MIN + (int)(g->gid % (LM_TAG_COMM_MAX - LM_TAG_COMM_MIN + 1));
                e = MPI_Comm_create_group(rt->comm, sub, tag, &g->comm);
                MPI_Group_free(&sub);
            }
            MPI_Group_free(&wg);
        }
        if (e != MPI_SUCCESS) {
            g->comm = MPI_COMM_NULL;
            goto fail;
        }
        MPI_Comm_set_errhandler(g->comm, MPI_ERRORS_RETURN);
    }
    return g;
fail:
    group_free(g);
    return NULL;
}

static void handle_ready(lm_rt *rt, const lm_ctl_msg *m)
{
    char name[LM_COLL_NAME_MAX], why[200];
    lm_ctl_str(m, 0, name, sizeof name);
    lm_ctl_str(m, 1, why, sizeof why);
    lumen_status st = (lumen_status)m->v[0];
    lm_coll_group *g = NULL;
    if (st == LUMEN_OK) {
        g = group_build(rt, m, name);
        if (!g) {
            st = LUMEN_ERR_MPI;
            snprintf(why, sizeof why, "collective group '%s': cannot build its communicator on rank %d", name,
                     rt->rank);
        }
    }
    pthread_mutex_lock(&lm_coll.lock);
    if (g) {
        g->next = lm_coll.groups;
        lm_coll.groups = g;
        for (lm_coll_arrival **pp = &lm_coll.early; *pp;) {
            lm_coll_arrival *a = *pp;
            if (a->gid == g->gid) {
                *pp = a->next;
                a->next = g->arrivals;
                g->arrivals = a;
            } else {
                pp = &a->next;
            }
        }
        for (lm_coll_p2p **pp = &lm_coll.early_p2p; *pp;) {
            lm_coll_p2p *p = *pp;
            if (p->gid == g->gid) {
                *pp = p->next;
                p->next = g->p2p;
                g->p2p = p;
            } else {
                pp = &p->next;
            }
        }
    }
    for (lm_coll_join *j = lm_coll.joins; j; j = j->next) {
        if (j->state != 0 || strcmp(j->name, name))
            continue;
        if (st != LUMEN_OK) {
            if (m->v[2] < 0 || m->v[2] == j->grank) {
                j->state = 2;
                j->st = st;
                snprintf(j->why, sizeof j->why, "%s", why);
            }
        } else if (g && g->lrank[j->grank < g->world ? j->grank : 0] == rt->rank && j->grank < g->world) {
            /* one join per member of the group that lives here */
            int taken = 0;
            for (lm_coll_join *k = lm_coll.joins; k != j; k = k->next)
                taken |= k->state == 1 && k->g == g && k->grank == j->grank;
            if (!taken) {
                j->state = 1;
                j->g = g;
            }
        }
    }
    pthread_mutex_unlock(&lm_coll.lock);
    lm_coll_wake(rt);
}

static void handle_arrive(const lm_ctl_msg *m)
{
    lm_coll_arrival *a = calloc(1, sizeof *a);
    if (!a)
        return;
    a->gid = m->a.hi;
    a->seq = m->a.lo;
    a->sig = (lm_coll_sig){m->v[0], m->v[1], m->v[2], m->v[3]};
    a->bad = (int)m->v[4];
    a->proc = (int)m->v[5];
    a->grank = (int)m->b.lo;
    lm_ctl_str(m, 0, a->why, sizeof a->why);
    lm_coll_group *g = by_gid(a->gid);
    lm_coll_arrival **list = g ? &g->arrivals : &lm_coll.early;
    a->next = *list;
    *list = a;
}

static void handle_p2p(const lm_ctl_msg *m)
{
    uint64_t gid = m->a.hi, seq = m->a.lo;
    int sub = (int)m->v[0], src = (int)m->v[3], dst = (int)m->v[4];
    lm_coll_group *g = by_gid(gid);
    if (sub == 0) { /* an offer: the receiver's member picks it up */
        lm_coll_p2p *p = calloc(1, sizeof *p);
        if (!p)
            return;
        p->gid = gid;
        p->seq = seq;
        p->src = src;
        p->dst = dst;
        p->side = 2;
        p->count = m->v[1];
        p->dtype = m->v[2];
        lm_coll_p2p **list = g ? &g->p2p : &lm_coll.early_p2p;
        p->next = *list;
        *list = p;
        return;
    }
    if (!g)
        return;
    if (sub == 2) { /* the sender gave up: drop its offer if not taken */
        for (lm_coll_p2p **pp = &g->p2p; *pp; pp = &(*pp)->next) {
            lm_coll_p2p *p = *pp;
            if (p->side == 2 && p->src == src && p->dst == dst && p->seq == seq) {
                *pp = p->next;
                free(p);
                return;
            }
        }
        /* taken and answered already: the receiver's MPI receive must go */
        lm_coll_p2p *p = calloc(1, sizeof *p);
        if (!p)
            return;
        p->gid = gid;
        p->seq = seq;
        p->src = src;
        p->dst = dst;
        p->side = 4;
        p->next = g->p2p;
        g->p2p = p;
        return;
    }
    for (lm_coll_p2p *p = g->p2p; p; p = p->next) /* an answer to a waiting sender */
        if (p->side == 3 && p->src == src && p->dst == dst && p->seq == seq && p->state == 0) {
            p->state = 1;
            p->st = (lumen_status)m->v[5];
            lm_ctl_str(m, 0, p->why, sizeof p->why);
            return;
        }
}

void lm_coll_handle(lm_rt *rt, int src, const lm_ctl_msg *m)
{
    (void)src;
    if (m->op == LM_CTL_COLL_READY) {
        handle_ready(rt, m);
        return;
    }
    pthread_mutex_lock(&lm_coll.lock);
    if (m->op == LM_CTL_COLL_DESTROYED) {
        lm_coll_group *g = by_gid(m->a.lo);
        if (g) {
            g->destroyed = 1;
            g->by = (int)m->v[1];
            if (m->v[2] == 1)
                lm_ctl_str(m, 1, g->gone_why, sizeof g->gone_why);
        }
    } else if (m->op == LM_CTL_COLL_ARRIVE) {
        handle_arrive(m);
    } else if (m->op == LM_CTL_COLL_P2P) {
        handle_p2p(m);
    }
    pthread_mutex_unlock(&lm_coll.lock);
    lm_coll_wake(rt);
}

/* ---- the API: init, destroy, rank, size -------------------------------------------- */
static int join_done(void *arg) { return ((lm_coll_join *)arg)->state != 0; }

static void join_unlink(lm_coll_join *j)
{
    for (lm_coll_join **pp = &lm_coll.joins; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            return;
        }
}

static lumen_status check_name(const char *name)
{
    if (!name)
        return lm_error(LUMEN_ERR_INVALID_ARG, "group_name is NULL");
    size_t n = strlen(name);
    if (n == 0 || n >= LM_COLL_NAME_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "group name must be 1 to %d bytes", LM_COLL_NAME_MAX - 1);
    if (!lm_g)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "lumen_init was not called");
    return LUMEN_OK;
}

lumen_status lumen_collective_init(int world_size, int rank, lumen_coll_backend backend, const char *group_name,
                                   const lumen_collective_options *opts)
{
    lumen_status st = check_name(group_name);
    if (st != LUMEN_OK)
        return st;
    lm_rt *rt = lm_g;
    if (world_size < 1 || world_size > (1 << 20))
        return lm_error(LUMEN_ERR_INVALID_ARG, "world_size %d is not in 1..%d", world_size, 1 << 20);
    if (rank < 0 || rank >= world_size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "rank %d is not in 0..%d", rank, world_size - 1);
    if (backend != LUMEN_COLL_MPI && backend != LUMEN_COLL_NCCL)
        return lm_error(LUMEN_ERR_INVALID_ARG, "unknown backend %d", (int)backend);
#ifndef LUMEN_HAVE_NCCL
    if (backend == LUMEN_COLL_NCCL)
        return lm_error(LUMEN_ERR_INVALID_ARG, "backend NCCL: lumen was built without CUDA and NCCL");
#else
    if (backend == LUMEN_COLL_NCCL && (st = lm_coll_nccl_available()) != LUMEN_OK)
        return st;
#endif
    int64_t tmo = LUMEN_COLL_DEFAULT_TIMEOUT_MS;
    if (opts && (opts->field_mask & LUMEN_COLL_TIMEOUT_MS))
        tmo = opts->timeout_ms;
    uint64_t hi, lo;
    lm_coll_key(&hi, &lo);

    lm_coll_join *j = calloc(1, sizeof *j);
    if (!j)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory to join a group");
    snprintf(j->name, sizeof j->name, "%s", group_name);
    j->grank = rank;
    pthread_mutex_lock(&lm_coll.lock);
    lm_coll_group *g0;
    int li0;
    if (lm_coll_find(group_name, &g0, &li0) == LUMEN_OK) {
        pthread_mutex_unlock(&lm_coll.lock);
        free(j);
        return lm_error(LUMEN_ERR_ALREADY_EXISTS, "the caller is already rank %d of collective group '%s'",
                        g0->locals[li0], group_name);
    }
    j->next = lm_coll.joins;
    lm_coll.joins = j;
    pthread_mutex_unlock(&lm_coll.lock);

    lm_ctl_msg m = {.op = LM_CTL_COLL_JOIN};
    m.s[0] = group_name;
    m.slen[0] = (uint32_t)strlen(group_name);
    m.v[0] = world_size;
    m.v[1] = rank;
    m.v[2] = backend;
    uint64_t khi, klo;
    lm_coll_key(&khi, &klo);
    m.v[3] = lm_tls_ctx && lm_tls_ctx->actor; /* an actor: the store learns if it dies */
    m.a.hi = khi;
    m.a.lo = klo;
    lm_ctl_send(rt, 0, &m);
    lm_progress(rt);
    uint64_t deadline = tmo < 0 ? 0 : lm_now_ns() + (uint64_t)tmo * 1000000ull;
    lumen_status w = lm_coll_wait(rt, join_done, j, deadline);

    pthread_mutex_lock(&lm_coll.lock);
    join_unlink(j);
    if (j->state == 1) {
        lm_coll_group *g = j->g;
        st = LUMEN_ERR_INTERNAL;
        for (int i = 0; i < g->nlocal; i++)
            if (g->locals[i] == rank) {
                g->bound[i] = 1;
                g->key_hi[i] = hi;
                g->key_lo[i] = lo;
                g->tmo[i] = tmo;
                st = LUMEN_OK;
            }
        pthread_mutex_unlock(&lm_coll.lock);
        free(j);
        if (st != LUMEN_OK)
            return lm_error(st, "collective group '%s': rank %d is not on this lumen rank", group_name, rank);
#ifdef LUMEN_HAVE_NCCL
        if (g->backend == LUMEN_COLL_NCCL) {
            for (int i = 0; i < g->nlocal; i++)
                if (g->locals[i] == rank)
                    return lm_coll_nccl_setup(rt, g, i);
        }
#endif
        return LUMEN_OK;
    }
    pthread_mutex_unlock(&lm_coll.lock);
    if (j->state == 2) {
        st = lm_error_str(j->st, j->why);
        free(j);
        return st;
    }
    free(j);
    /* gave up: take the join back, unless the group formed meanwhile */
    m.op = LM_CTL_COLL_LEAVE;
    lm_ctl_send(rt, 0, &m);
    lm_progress(rt);
    if (w == LUMEN_ERR_SHUTDOWN)
        return lm_error(w, "collective group '%s': the job is shutting down", group_name);
    return lm_error(LUMEN_ERR_TIMEOUT, "collective group '%s': not all %d members joined within %lld ms",
                    group_name, world_size, (long long)tmo);
}

lumen_status lumen_collective_destroy(const char *group_name)
{
    lumen_status st = check_name(group_name);
    if (st != LUMEN_OK)
        return st;
    lm_rt *rt = lm_g;
    pthread_mutex_lock(&lm_coll.lock);
    lm_coll_group *g = NULL;
    int li;
    st = lm_coll_find(group_name, &g, &li);
    int grank = st == LUMEN_OK ? g->locals[li] : -1;
    pthread_mutex_unlock(&lm_coll.lock);
    if (st != LUMEN_OK) {
        if (g) { /* destroyed already (by another member): fine */
            lm_error_clear();
            return LUMEN_OK;
        }
        return st;
    }
    lm_rpc r;
    lm_rpc_begin(rt, &r);
    lm_ctl_msg m = {.op = LM_CTL_COLL_DESTROY, .tag = r.tag};
    m.s[0] = group_name;
    m.slen[0] = (uint32_t)strlen(group_name);
    m.v[1] = grank;
    lm_ctl_send(rt, 0, &m);
    st = lm_rpc_wait(rt, &r, 30000000000ull);
    lm_rpc_end(rt, &r);
    return st;
}

int lumen_collective_is_initialized(const char *group_name)
{
    if (!group_name || !lm_g)
        return 0;
    pthread_mutex_lock(&lm_coll.lock);
    lm_coll_group *g;
    int li;
    int ok = lm_coll_find(group_name, &g, &li) == LUMEN_OK;
    pthread_mutex_unlock(&lm_coll.lock);
    lm_error_clear();
    return ok;
}

lumen_status lumen_collective_rank(const char *group_name, int *rank)
{
    lumen_status st = check_name(group_name);
    if (st != LUMEN_OK)
        return st;
    if (!rank)
        return lm_error(LUMEN_ERR_INVALID_ARG, "rank is NULL");
    pthread_mutex_lock(&lm_coll.lock);
    lm_coll_group *g;
    int li;
    st = lm_coll_find(group_name, &g, &li);
    if (st == LUMEN_OK)
        *rank = g->locals[li];
    pthread_mutex_unlock(&lm_coll.lock);
    return st;
}

lumen_status lumen_collective_world_size(const char *group_name, int *world_size)
{
    lumen_status st = check_name(group_name);
    if (st != LUMEN_OK)
        return st;
    if (!world_size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "world_size is NULL");
    pthread_mutex_lock(&lm_coll.lock);
    lm_coll_group *g;
    int li;
    st = lm_coll_find(group_name, &g, &li);
    if (st == LUMEN_OK)
        *world_size = g->world;
    pthread_mutex_unlock(&lm_coll.lock);
    return st;
}

void lm_coll_finalize(lm_rt *rt)
{
    pthread_mutex_lock(&lm_coll.lock);
    /* free in the order of creation (gid) on every rank */
    lm_coll_group *list = NULL;
    while (lm_coll.groups) {
        lm_coll_group *g = lm_coll.groups;
        lm_coll.groups = g->next;
        g->next = list;
        list = g;
    }
    while (list) {
        lm_coll_group *g = list;
        list = g->next;
        group_free(g);
    }
    while (lm_coll.early) {
        lm_coll_arrival *a = lm_coll.early;
        lm_coll.early = a->next;
        free(a);
    }
    while (lm_coll.early_p2p) {
        lm_coll_p2p *p = lm_coll.early_p2p;
        lm_coll.early_p2p = p->next;
        free(p);
    }
    lm_coll.reqs = NULL;
    atomic_store(&lm_coll.nreqs, 0);
    pthread_mutex_unlock(&lm_coll.lock);
    if (rt->rank == 0)
        lm_coll_gcs_free();
}
