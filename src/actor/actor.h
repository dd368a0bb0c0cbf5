/*
 * actor.h - actors on lumen's ranks: the caller's side (client.c: handles,
 * the order of calls, death and restart as a caller sees them), the host's
 * side (host.c: the instance, its mailbox and threads) and the public calls
 * (api.c).
 *
 * A call is an ordinary task record of kind LM_KIND_CALL: the caller owns
 * its results and resolves its arguments like a task's. Once ready, calls
 * leave the caller strictly in the order they were made and go straight to
 * the rank hosting the actor (per-pair FIFO keeps them in order there); the
 * host runs them from a FIFO mailbox. Creation and restarts go through the
 * control store (src/gcs), which also tells every rank using a handle where
 * the actor lives and when it dies.
 */
#ifndef LUMEN_ACTOR_H
#define LUMEN_ACTOR_H

#include "gcs/gcs.h"
#include "runtime/registry.h"
#include "runtime/runtime.h"

/* built-in methods every actor answers */
#define LM_METHOD_READY "__ray_ready__"
#define LM_METHOD_TERMINATE "__ray_terminate__"

/* ---- client.c: the caller's side (rt->lock held) ---- */
void lm_actor_call_submitted(lm_rt *rt, lm_task_rec *t); /* takes its place in order */
void lm_actor_call_ready(lm_rt *rt, lm_task_rec *t);     /* arguments ready */
void lm_actor_create_ready(lm_rt *rt, lm_task_rec *t);   /* creation args ready */
void lm_actor_rec_failed(lm_rt *rt, lm_task_rec *t);     /* failed/cancelled before sent */
void lm_actor_rec_done(lm_rt *rt, lm_task_rec *t, const lm_done_msg *m);
void lm_actor_clients_free(lm_rt *rt);

typedef struct lm_actor_client lm_actor_client;
lm_actor_client *lm_actor_client_get(lm_rt *rt, lm_oid id, int lookup); /* creates; NULL: no memory */
/* take the state the control store reports (rt->lock NOT held) */
void lm_actor_handle_notify(lm_rt *rt, const lm_ctl_msg *m);
void lm_actor_handle_respec(lm_rt *rt, const lm_ctl_msg *m); /* rt->lock NOT held */

/* what api.c needs of a client (rt->lock held) */
typedef struct lm_actor_opts {
    int owner, detached, max_pending, max_task_retries;
    char cls[LM_FN_MAX];
} lm_actor_opts;
void lm_actor_client_init_owner(lm_actor_client *c, const lm_actor_opts *o);
int lm_actor_client_pending_full(const lm_actor_client *c);
/* this rank gave up the actor (kill without restart): fail what waits */
void lm_actor_client_kill(lm_rt *rt, lm_actor_client *c, int no_restart, const char *cause);
int lm_actor_client_owner_release(lm_rt *rt, lm_actor_client *c); /* 1: terminate it */

/* ---- host.c: the hosting rank ---- */
struct lm_bundle;
#define INST_STARTING 0
#define INST_ALIVE 1
#define INST_DEAD 2

/* an actor living on this rank (host.c) */
typedef struct lm_actor_inst {
    struct lm_actor_inst *next;
    lm_oid id;
    uint32_t incarnation;
    char cls[LM_FN_MAX];
    lm_actor_class klass;
    void *self;
    int constructed;
    double demand[LM_MAX_RES];
    struct lm_bundle *bundle;
    int max_concurrency;
    int ngpu;                     /* GPU slots it holds (sched/gpus.c) */
    int gpu_slot[LUMEN_MAX_GPU_IDS];
    pthread_mutex_t lock;
    pthread_cond_t cv;
    lm_task *head, *tail, *create;
    int nthreads, idle, sleepers;
    int state;
    int restartable;
    char cause[512];
    /* async actors (async.c): one thread, calls in flight */
    int is_async;
    int inflight;                   /* calls parked in lumen_await (its thread) */
    lumen_task_ctx *flight;         /* those calls (its thread) */
    lumen_task_ctx *ready_head, *ready_tail; /* awaits that settled (lock) */
    lumen_task_ctx *awaited;        /* set by the run that just returned PENDING */
    int terminating;                /* lumen_actor_terminate came with calls in flight:
                                       take no new call, end when they are done (lock) */
} lm_actor_inst;

/* ---- async.c: async actors ---- */
/* the actor's thread, no lock held: park c (its method returned PENDING)
 * and arm what it awaits */
void lm_actor_await_park(lm_rt *rt, lm_actor_inst *a, lumen_task_ctx *c);
void lm_actor_await_unpark(lm_actor_inst *a, lumen_task_ctx *c); /* its thread: about to resume */
/* the last thread of a dead async actor: answer every call in flight */
void lm_actor_await_end(lm_rt *rt, lm_actor_inst *a, const char *msg);


void lm_actor_host_accept(lm_rt *rt, lm_task *t); /* CREATE or CALL arrived; takes t */
void lm_actor_host_kill(lm_rt *rt, lm_oid id, uint32_t incarnation, int no_restart, const lm_ctl_msg *m);
int lm_actor_host_cancel(lm_rt *rt, lm_oid task_id); /* 1 if found queued (answered) */
void lm_actor_host_stop(lm_rt *rt);               /* finalize: end every actor here */
void lm_actor_host_free(lm_rt *rt);               /* after the threads are gone */
/* "actor 'Cls' (id)": for messages */
void lm_actor_describe(lm_oid id, const char *cls, char *out, size_t cap);

#endif
