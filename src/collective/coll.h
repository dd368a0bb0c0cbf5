/*
 * coll.h - collective groups (include/lumen/collective.h): what the runtime
 * calls (hooks) and what the files of src/collective share.
 *
 * Files: rendezvous.c (the group table in the control store on rank 0),
 * group.c (groups as one rank sees them, the control messages, the MPI
 * requests the progress role drives), ops.c (the operations), reduce.c
 * (element-wise reductions), nccl.c (device buffers, built with NCCL).
 *
 * Locks: coll_lock (one per process) guards every group of this rank. Order:
 * progress_lock -> rt->lock -> coll_lock; nothing takes rt->lock while
 * holding coll_lock.
 */
#ifndef LUMEN_COLLECTIVE_COLL_H
#define LUMEN_COLLECTIVE_COLL_H

#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>

#include "gcs/gcs.h"
#include "lumen/collective.h"
#include "runtime/runtime.h"

/* ---- hooks the runtime calls ------------------------------------------------ */
/* progress role held, no other lock: post and test MPI requests; returns the
 * number still active (work: the progress thread keeps spinning) */
int lm_coll_progress(lm_rt *rt);
/* progress role: LM_CTL_COLL_READY / DESTROYED / ARRIVE / P2P */
void lm_coll_handle(lm_rt *rt, int src, const lm_ctl_msg *m);
/* rank 0, progress role: LM_CTL_COLL_JOIN / LEAVE / DESTROY */
void lm_coll_gcs_handle(lm_rt *rt, int src, const lm_ctl_msg *m);
/* finalize, after the last barrier, main thread: free everything */
void lm_coll_finalize(lm_rt *rt);
void lm_coll_gcs_free(void); /* rendezvous.c: rank 0 table */
/* rank 0, progress role (gcs/actors.c): actor `actor` is gone (dead, or
 * restarting: its state is lost). Every group it is a member of is
 * destroyed for the others, whose operations fail with LUMEN_ERR_ACTOR_DIED
 * saying which member and why; members still joining fail the same way. */
void lm_coll_gcs_actor_gone(lm_rt *rt, lm_oid actor, const char *cause);

/* ---- shared inside src/collective -------------------------------------------- */
#define LM_COLL_NAME_MAX 64

enum lm_coll_kind {
    LM_COLL_ALLREDUCE = 1,
    LM_COLL_BROADCAST,
    LM_COLL_ALLGATHER,
    LM_COLL_REDUCESCATTER,
    LM_COLL_BARRIER
};

#define LM_COLL_KIND(k) ((k) & 0xff)
#define LM_COLL_SIGONLY 0x100  /* check the arguments only (NCCL groups) */
#define LM_COLL_HOSTDATA 0x200 /* host buffers on an NCCL group (its unique id) */

/* what every member of an operation must agree on */
typedef struct lm_coll_sig {
    int64_t kind, count, dtype, op; /* op: reduce op, or root for broadcast */
} lm_coll_sig;

/* one member's part of the current operation */
typedef struct lm_coll_part {
    int arrived;
    lm_coll_sig sig;
    const void *send;
    void *recv;
} lm_coll_part;

/* a signature another rank sent for operation seq */
typedef struct lm_coll_arrival {
    struct lm_coll_arrival *next;
    uint64_t gid, seq;
    int proc;
    int bad;               /* that rank's members disagreed among themselves */
    lm_coll_sig sig;
    int grank;             /* the lowest member rank there */
    char why[160];
} lm_coll_arrival;

/* a point-to-point message between two members */
typedef struct lm_coll_p2p {
    struct lm_coll_p2p *next;
    int src, dst;          /* group ranks */
    uint64_t seq;          /* n-th message src -> dst */
    uint64_t gid;
    int side;              /* 0: local sender waits, 1: local receiver waits,
                              2: offer from a remote sender, 3: sender waits for
                              the remote receiver's answer, 4: that sender gave
                              up after the answer (the receive must go) */
    int64_t count, dtype;
    const void *sbuf;      /* local pair: the sender's buffer */
    void *rbuf;
    int state;             /* 0 waiting, 1 done */
    lumen_status st;
    char why[200];
} lm_coll_p2p;

/* an MPI request the progress role posts and tests for a member */
typedef struct lm_coll_req {
    struct lm_coll_req *next;
    int kind;              /* LM_COLL_* or LM_COLL_REQ_SEND / _RECV */
    MPI_Comm comm;
    void *sbuf, *rbuf;
    int count;
    int *counts, *displs;  /* allgatherv / reduce_scatter */
    MPI_Datatype type;
    MPI_Op op;
    int peer;              /* root (bcast) or peer rank in comm (p2p), or tag */
    int tag;
    MPI_Request req;
    int posted, done, cancel, abandoned;
    int mpi_err;
} lm_coll_req;
#define LM_COLL_REQ_SEND 100
#define LM_COLL_REQ_RECV 101

typedef struct lm_coll_group {
    struct lm_coll_group *next;
    char name[LM_COLL_NAME_MAX];
    uint64_t gid;
    int world;             /* members */
    int backend;
    int64_t timeout_ms;
    int *lrank;            /* lumen rank of each member */
    int nprocs;            /* lumen ranks holding members, sorted */
    int *procs;
    int *proc_of;          /* index in procs of each member */
    int me;                /* this rank's index in procs */
    int nlocal;            /* members on this rank, ascending group rank */
    int *locals;
    int *bound;            /* local member i: init returned to it */
    uint64_t *key_hi, *key_lo; /* local member i's identity */
    int64_t *tmo;          /* local member i's timeout (ms, <0: none) */
    MPI_Comm comm;         /* among procs (MPI_COMM_NULL when one) */
    int destroyed;         /* by a member: ops fail */
    int by;                /* who destroyed it */
    char gone_why[200];    /* destroyed because member `by`'s actor is gone: why */
    lumen_status broken;   /* a timed-out operation broke it */
    char broken_why[200];
    int users;             /* members inside an operation */
    /* the current collective operation */
    uint64_t seq;          /* operations completed on this rank */
    int arrived, departed;
    int phase;             /* 0 collecting, 1 running, 2 done */
    lumen_status op_st;
    char op_why[300];
    lm_coll_part *parts;   /* per local member */
    void *stage;           /* staging buffer of the operation (owned) */
    void *result;          /* reduce-scatter result (owned) */
    void *src;             /* broadcast: where the data is on this rank */
    int *pos_of;           /* member -> position in proc-major order */
    int *counts, *displs;  /* per proc, for allgatherv / reduce_scatter */
    lm_coll_arrival *arrivals;
    /* point to point */
    uint64_t *sent_seq, *recv_seq; /* per (local member, peer): world * nlocal */
    lm_coll_p2p *p2p;
    void *nccl;            /* nccl.c's communicator */
} lm_coll_group;

typedef struct lm_coll_state {
    pthread_mutex_t lock;
    lm_coll_group *groups;
    lm_coll_req *reqs;      /* posted or to post (progress role) */
    atomic_int nreqs;
    lm_coll_arrival *early; /* ARRIVE for a group this rank has not built yet */
    lm_coll_p2p *early_p2p;
    struct lm_coll_join *joins; /* members waiting in init */
} lm_coll_state;

extern lm_coll_state lm_coll;

typedef struct lm_coll_join {
    struct lm_coll_join *next;
    char name[LM_COLL_NAME_MAX];
    int grank;
    int state;             /* 0 waiting, 1 ready, 2 failed */
    lumen_status st;
    char why[200];
    lm_coll_group *g;
} lm_coll_join;

/* reduce.c */
size_t lm_coll_esize(int64_t dtype);
void lm_coll_reduce(void *acc, const void *in, size_t count, int dtype, int op); /* acc = acc op in */
MPI_Datatype lm_coll_mpi_type(int dtype);
MPI_Op lm_coll_mpi_op(int op);
const char *lm_coll_dtype_name(int64_t dtype);
const char *lm_coll_op_name(int64_t op);
const char *lm_coll_kind_name(int64_t kind);

/* group.c */
void lm_coll_wake(lm_rt *rt);                 /* broadcast ready_cv (no coll lock held) */
void lm_coll_key(uint64_t *hi, uint64_t *lo); /* the calling member's identity */
/* why destroyed group g fails operations ("was destroyed ..."): NOT_FOUND
 * when a member destroyed it, ACTOR_DIED when a member's actor is gone */
lumen_status lm_coll_gone(const lm_coll_group *g, char *why, size_t n);
/* the caller's group and local index (coll lock held) */
lumen_status lm_coll_find(const char *name, lm_coll_group **g, int *li);
/* queue an MPI request for the progress role (coll lock held) */
void lm_coll_req_add(lm_coll_req *r);
/* wait (coll lock not held) until done(arg) under coll lock or the deadline */
lumen_status lm_coll_wait(lm_rt *rt, int (*done)(void *), void *arg, uint64_t deadline_ns);
/* drive an MPI request to its end (no deadline: every side agreed) */
void lm_coll_req_finish(lm_rt *rt, lm_coll_req *r);
void lm_coll_send_arrive(lm_rt *rt, lm_coll_group *g, uint64_t seq, int bad, const lm_coll_sig *s, int grank,
                         const char *why);
void lm_coll_send_p2p(lm_rt *rt, lm_coll_group *g, int sub, const lm_coll_p2p *p, lumen_status st,
                      const char *why);

/* ops.c, shared with p2p.c: what a wait predicate gets; a deadline from a
 * timeout in ms (0: none); finish an MPI request, its error in why */
typedef struct lm_coll_op_wait {
    lm_coll_group *g;
    uint64_t seq;
    const void *p;
} lm_coll_op_wait;
uint64_t lm_coll_deadline(int64_t timeout_ms);
lumen_status lm_coll_mpi_run(lm_rt *rt, lm_coll_req *r, char *why, size_t n);

/* ops.c: an operation on the host side of a group (NCCL groups: sig_only
 * checks the arguments with every member, else host buffers) */
lumen_status lm_coll_host_op(const char *name, int kind, const void *send, void *recv, size_t count, int dtype,
                             int op, int sig_only);

/* nccl.c (LUMEN_HAVE_NCCL) */
lumen_status lm_coll_nccl_available(void); /* libraries and a GPU are there */
lumen_status lm_coll_nccl_setup(lm_rt *rt, lm_coll_group *g, int li);
void lm_coll_nccl_free(lm_coll_group *g);
lumen_status lm_coll_nccl_op(lm_coll_group *g, int li, int kind, const void *send, void *recv, size_t count,
                             int dtype, int op, int peer, uint64_t deadline_ns);

#endif
