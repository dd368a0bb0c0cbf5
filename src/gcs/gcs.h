/*
 * gcs.h - the job's control store (Ray's GCS), kept by rank 0, and the
 * control operations ranks exchange with it and with each other.
 *
 * The control store knows every actor (name, state, rank, incarnation, who
 * to tell when that changes), every placement group and what each rank has
 * reserved for them, and decides where actors and bundles go. It runs in
 * the progress role of rank 0: every operation arrives as an LM_MSG_CTL
 * message (rank 0 sends its own to itself), so its tables need no lock.
 * Tasks never pass through it: they stay owner-scheduled (sched.c).
 */
#ifndef LUMEN_GCS_H
#define LUMEN_GCS_H

#include "runtime/runtime.h"

/* Operations (lm_ctl_msg.op) and the fields each one uses. */
enum lm_ctl_op {
    LM_CTL_REPLY = 1,       /* answer to a request: tag, v0 status, s0 message, a id, v1.. */
    LM_CTL_ACTOR_REGISTER,  /* creator -> gcs (tag): a id, s0 name, s1 namespace, s2 class,
                               v0 flags (LM_REG_*), v1 max_restarts, v2 max_task_retries,
                               v3 max_pending_calls */
    LM_CTL_ACTOR_SCHEDULE,  /* owner -> gcs: a id, blob the CREATE task message, v0 strategy
                               kind, v1 node, v2 soft, v3 1 = Ray's default (place on a rank
                               with a CPU, hold none), b placement group, v4 bundle */
    LM_CTL_ACTOR_STATE,     /* host -> gcs: a id, v0 state, v1 incarnation, v2 restartable,
                               s0 cause */
    LM_CTL_ACTOR_NOTIFY,    /* gcs -> subscribers: a id, v0 state, v1 rank, v2 incarnation,
                               v3 max_task_retries, v4 max_pending_calls, s0 cause, s1 class;
                               tag set when it answers a GET_NAMED */
    LM_CTL_ACTOR_LOOKUP,    /* caller -> gcs: a id; subscribe, answered by NOTIFY */
    LM_CTL_ACTOR_GET_NAMED, /* caller -> gcs (tag): s0 name, s1 namespace; NOTIFY answers */
    LM_CTL_ACTOR_KILL,      /* caller -> gcs: a id, v0 no_restart, s0 cause */
    LM_CTL_ACTOR_KILL_HOST, /* gcs -> host: a id, v0 no_restart, v1 incarnation, s0 cause */
    LM_CTL_PG_CREATE,       /* creator -> gcs (tag): a id, v0 strategy, v1 bundles, s0 name,
                               blob bundles x LM_MAX_RES doubles; REPLY answers */
    LM_CTL_PG_RESERVE,      /* gcs -> rank: a id, v0 bundle, blob LM_MAX_RES doubles */
    LM_CTL_PG_RESERVED,     /* rank -> gcs: a id, v0 bundle */
    LM_CTL_PG_NOTIFY,       /* gcs -> subscribers: a id, v0 state, v1 bundles, blob int64
                               rank of each bundle, s0 why (removed, infeasible) */
    LM_CTL_PG_LOOKUP,       /* rank -> gcs: a id; subscribe, answered by PG_NOTIFY */
    LM_CTL_PG_REMOVE,       /* rank -> gcs: a id */
    LM_CTL_PG_RELEASE,      /* gcs -> rank: a id; drop its bundles here */
    LM_CTL_RES_QUERY,       /* rank -> rank (tag): REPLY with blob LM_MAX_RES doubles free */
    LM_CTL_RES_VIEW,        /* gcs -> every rank: blob of {int64 rank, LM_MAX_RES doubles}:
                               what actors and bundles now hold on those ranks */
    LM_CTL_ACTOR_RESPEC,    /* gcs -> owner: a id; send the creation message again (a
                               restart: references in it need fresh weight) */
    LM_CTL_TIMELINE_QUERY,  /* rank -> rank (tag): REPLY with blob this rank's timeline events */
    LM_CTL_STATE_QUERY,     /* rank -> rank (tag): s0 what; REPLY with blob a JSON text */
    LM_CTL_PREEMPT,         /* rank -> every rank: the allocation is ending (preempt.c) */
    /* collective groups (src/collective; fields in group.c and rendezvous.c) */
    LM_CTL_COLL_JOIN,       /* member -> gcs: s0 name, v0 world size, v1 group rank, v2 backend,
                               v3 1 when the member is an actor, a its actor id */
    LM_CTL_COLL_LEAVE,      /* member -> gcs: s0 name, v1 group rank (init gave up) */
    LM_CTL_COLL_DESTROY,    /* member -> gcs (tag): s0 name, v1 group rank */
    LM_CTL_COLL_READY,      /* gcs -> ranks: s0 name, v0 status, v1 world, v2 rank or -1,
                               v3 backend, a.lo gid, s1 why, blob int64 lumen rank per member */
    LM_CTL_COLL_DESTROYED,  /* gcs -> ranks: s0 name, a.lo gid, v1 by group rank, v2 1 when
                               that member's actor is gone (s1 why) */
    LM_CTL_COLL_ARRIVE,     /* rank -> rank: a gid/seq, v0..v3 signature, v4 bad, v5 proc,
                               s0 why, b.lo lowest member there */
    LM_CTL_COLL_P2P,        /* rank -> rank: a gid/seq, v0 sub, v1 count, v2 dtype, v3 src,
                               v4 dst, v5 status, s0 why */
    LM_CTL_OP_MAX = LM_CTL_COLL_P2P
};

#define LM_REG_DETACHED 1
#define LM_REG_GET_IF_EXISTS 2

/* actor states, as the control store and callers see them */
#define LM_ACTOR_PENDING 0    /* registered, constructor not run yet */
#define LM_ACTOR_ALIVE 1
#define LM_ACTOR_RESTARTING 2
#define LM_ACTOR_DEAD 3
#define LM_ACTOR_UNKNOWN 4    /* no such actor */

/* placement group states */
#define LM_PG_PENDING 0
#define LM_PG_CREATED 1
#define LM_PG_REMOVED 2

/* rank 0 only */
lumen_status lm_gcs_start(lm_rt *rt);
/* state.c (progress role): the tables as JSON ("actors", "placement_groups",
 * "nodes", "all"; malloc'd text or NULL), and <job_dir>/state.json */
char *lm_gcs_state_json(lm_rt *rt, const char *what);
void lm_gcs_write_state(lm_rt *rt);
void lm_gcs_free(lm_rt *rt);
/* progress role held; buf is the message (freed by the caller) */
void lm_gcs_handle(lm_rt *rt, int src, const lm_ctl_msg *m);

/* gcs internals shared by gcs.c, actors.c and placement.c */
struct lm_gcs;
void lm_gcs_actor_op(lm_rt *rt, struct lm_gcs *g, int src, const lm_ctl_msg *m);
void lm_gcs_pg_op(lm_rt *rt, struct lm_gcs *g, int src, const lm_ctl_msg *m);
/* resources were released: try what waits (actors, then groups) */
void lm_gcs_retry_pending(lm_rt *rt, struct lm_gcs *g);
int lm_gcs_actors_retry(lm_rt *rt, struct lm_gcs *g);
int lm_gcs_pgs_retry(lm_rt *rt, struct lm_gcs *g);
/* actors in a placement group being removed */
void lm_gcs_kill_actors_in_pg(lm_rt *rt, struct lm_gcs *g, lm_oid pg);
/* bundle reservations an actor may draw on (placement.c): 1 and the rank
 * when bundle `index` (-1: any) of pg has room for demand; -1 when the
 * group does not exist or was removed; 0 when it has no room yet */
int lm_gcs_pg_take(struct lm_gcs *g, lm_oid pg, int *index, const double *demand, int nres, int *rank,
                   char *why, size_t whylen);
void lm_gcs_pg_give(struct lm_gcs *g, lm_oid pg, int index, const double *demand, int nres);

/* ctl.c: sending control messages and waiting for replies */
void lm_res_view_handle(lm_rt *rt, const lm_ctl_msg *m);
void lm_ctl_send(lm_rt *rt, int dest, const lm_ctl_msg *m);
void lm_ctl_reply(lm_rt *rt, int dest, int tag, lumen_status st, const char *msg);
void lm_ctl_deliver(lm_rt *rt, int src, void *buf, size_t len); /* progress role; frees buf */

typedef struct lm_rpc {
    struct lm_rpc *next;
    int tag;
    int done;
    void *buf;       /* the reply message; reply points into it */
    lm_ctl_msg reply;
} lm_rpc;
/* begin (registers the tag), send the request with r->tag, wait, end */
void lm_rpc_begin(lm_rt *rt, lm_rpc *r);
lumen_status lm_rpc_wait(lm_rt *rt, lm_rpc *r, uint64_t timeout_ns);
void lm_rpc_end(lm_rt *rt, lm_rpc *r);

/* a short NUL-terminated copy of a counted string from a message */
void lm_ctl_str(const lm_ctl_msg *m, int i, char *out, size_t cap);

#endif
