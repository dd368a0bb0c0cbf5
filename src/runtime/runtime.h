/*
 * runtime.h - the state of one rank's lumen runtime and the private calls
 * between its parts.
 *
 * Threads of a rank (docs/architecture.md has the picture):
 *   - user threads: submit (submit.c), put/get/wait (objects_api.c);
 *   - executor threads: run tasks (executor.c);
 *   - the progress thread: drives the transport when no other thread does.
 * Exactly one thread at a time holds the progress role (progress.c) and calls
 * the transport; any thread that waits takes the role itself if it is free.
 *
 * Locks, always taken in this order and never the reverse:
 *   progress_lock -> rt->lock -> rt->exec_lock / outbox_lock / cb_lock /
 *   a completion queue's lock / (actor_lock ->) an actor instance's lock.
 * progress_lock is taken with trylock, except by a thread holding no other
 * lock (fetch.c posts a receive that way). gen_lock (gen_yield.c, running
 * streaming producers) comes after progress_lock and before outbox_lock,
 * and is never held with rt->lock.
 * Nothing calls lm_progress() while holding rt->lock.
 */
#ifndef LUMEN_RUNTIME_H
#define LUMEN_RUNTIME_H

#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lumen.h"
#include "store/store.h"
#include "transport/transport.h"
#include "wire/msg.h"

/* ---- object ids -----------------------------------------------------------
 * hi: owner rank (bits 0-31) | return index (32-47) | kind (48-55) | epoch (56-63)
 * lo: sequence number of the task or put on the owner rank (never 0). */
#define LM_OID_TASK 1
#define LM_OID_OBJECT 2
#define LM_OID_ACTOR 3
#define LM_OID_PG 4
#define LM_OID_STREAM 5 /* an item of a streaming generator (generator.h) */
static inline lm_oid lm_oid_make(int owner, unsigned index, unsigned kind, unsigned epoch, uint64_t seq)
{
    lm_oid id = {(uint64_t)(uint32_t)owner | ((uint64_t)(index & 0xffff) << 32) |
                     ((uint64_t)(kind & 0xff) << 48) | ((uint64_t)(epoch & 0xff) << 56),
                 seq};
    return id;
}
static inline int lm_oid_owner(lm_oid id) { return (int)(uint32_t)id.hi; }
static inline unsigned lm_oid_index(lm_oid id) { return (unsigned)((id.hi >> 32) & 0xffff); }
static inline unsigned lm_oid_kind(lm_oid id) { return (unsigned)((id.hi >> 48) & 0xff); }
static inline unsigned lm_oid_epoch(lm_oid id) { return (unsigned)(id.hi >> 56); }
static inline int lm_oid_eq(lm_oid a, lm_oid b) { return a.hi == b.hi && a.lo == b.lo; }
static inline lm_oid lm_oid_from_ref(lumen_ref r) { lm_oid id = {r.opaque_[0], r.opaque_[1]}; return id; }
static inline lumen_ref lm_ref_from_oid(lm_oid id) { lumen_ref r = {{id.hi, id.lo}}; return r; }
/* the task that produces return object `id` */
static inline lm_oid lm_oid_task_of(lm_oid id)
{
    return lm_oid_make(lm_oid_owner(id), 0, LM_OID_TASK, lm_oid_epoch(id), id.lo);
}

/* ---- objects owned by this rank (objects.c) ---------------------------- */
typedef enum lm_obj_state { LM_OBJ_PENDING, LM_OBJ_READY, LM_OBJ_ERROR } lm_obj_state;

struct lm_task_rec;
typedef struct lm_dep { /* a task waiting for an object */
    struct lm_dep *next;
    struct lm_task_rec *task;
} lm_dep;

typedef struct lm_obj {
    struct lm_obj *hnext;
    lm_oid id;
    int64_t refs;       /* owned: handles, task pins and the weight of references
                           held elsewhere; borrowed: local handles only */
    uint8_t state;      /* lm_obj_state */
    uint8_t type;       /* lumen_type */
    uint8_t in_store;   /* READY value lives in a node store */
    uint8_t local_copy; /* a copy was fetched into this node's store */
    uint8_t pinned;     /* this rank pinned it (store pointer handed out) */
    uint8_t fetching;   /* a thread is copying it into this node's store */
    int node, holder;   /* in_store: where it lives */
    void *data;         /* inline bytes, or error message (NUL terminated) */
    size_t size;
    const void *pin_ptr;
    struct lm_task_rec *producer; /* pending task producing it */
    lm_dep *deps;       /* tasks waiting for it */
    /* borrowed (owner is another rank): units of the owner's count this
     * rank holds, and whether the value was asked for */
    int64_t units;      /* weight of the owner's count held here */
    uint8_t subscribed;
    uint8_t fetched;    /* borrowed from another node: data is a private copy */
    /* owned: ranks to send the value to when it completes */
    int *subs;
    int nsubs;
    struct lm_watch *watches; /* completion queues, callbacks, awaits (completion.c) */
} lm_obj;

/* ---- watching an object settle (completion.c) ---------------------------
 * A watch holds one count of its object (o->refs) while armed. When the
 * object settles, fire runs with rt->lock held (it may take only locks
 * below it: a queue's, an actor's, cb_lock, sleep_lock) and owns w
 * afterwards; st is LUMEN_ERR_SHUTDOWN when the runtime ends with the object
 * unsettled. */
struct lm_rt;
typedef struct lm_watch {
    struct lm_watch *next;
    void (*fire)(struct lm_rt *rt, struct lm_watch *w, lumen_status st);
    lumen_ref ref;
    void *arg;
    uint64_t tag;
} lm_watch;

/* ---- tasks submitted by this rank (submit.c) --------------------------- */
typedef struct lm_task_rec {
    struct lm_task_rec *hnext, *qnext;
    lm_oid id;
    char fn[LM_FN_MAX];
    int num_returns;
    int ndeps;           /* unresolved dependencies */
    int nargs;
    lumen_arg args[LUMEN_MAX_ARGS]; /* bytes/str copied into argbuf */
    void *argbuf;
    double demand[LM_MAX_RES];
    int retries_left, retry_exceptions;
    uint32_t attempt;
    int target;          /* rank it was sent to, -1 before dispatch */
    int cancelled;
    int done;
    int nested;          /* submitted from inside a running task */
    /* actors (src/actor): CREATE and CALL records */
    uint8_t kind;        /* LM_KIND_* */
    lm_oid actor;
    int max_concurrency; /* CREATE */
    uint8_t async_actor; /* CREATE: lumen_actor_options.is_async */
    uint64_t aseq;       /* CALL: order of this rank's calls to the actor */
    uint32_t incarnation;/* CALL: the actor incarnation it was sent to */
    int ready;           /* CALL: arguments resolved, may be sent */
    uint8_t queued;      /* CALL: in the actor client's queue */
    uint8_t counted;     /* CALL: counts in the client's pending calls */
    struct lm_task_rec *anext; /* CALL: the actor client's queue */
    /* scheduling strategy (tasks) and placement group (tasks and actors) */
    lumen_scheduling_strategy strat;
    int bundle;          /* bundle chosen at dispatch */
    /* streaming generators (generator.c): the caller's handle, registered
     * under the task id when the id is made */
    struct lumen_generator *gen;
    uint32_t gen_bound;  /* back-pressure bound sent to the executor */
} lm_task_rec;

/* ---- tasks to run on this rank (executor.c) ---------------------------- */
struct lm_bundle;
struct lm_actor_inst;
typedef struct lm_task {
    struct lm_task *next;
    void *msgbuf;        /* the TASK message; m points into it */
    size_t msglen;
    lm_task_msg m;
    lumen_remote_fn fn;
    uint64_t queued_ns;  /* when it entered the ready queue */
    struct lm_bundle *bundle; /* placement group bundle it draws on (NULL: the rank) */
    int src;             /* rank it came from */
    int ngpu;            /* GPU slots (sched/gpus.c) it holds while running */
    int gpu_slot[LUMEN_MAX_GPU_IDS];
} lm_task;

struct lumen_task_ctx {
    lm_task *task;
    struct lm_rt *rt;
    const void *argp[LUMEN_MAX_ARGS]; /* resolved argument bytes */
    size_t argn[LUMEN_MAX_ARGS];
    void *argfree[LUMEN_MAX_ARGS];    /* fetched copies to free */
    uint8_t argpinned[LUMEN_MAX_ARGS];
    uint8_t argref[LUMEN_MAX_ARGS];   /* REF-typed argument imported here */
    lm_wval rets[LUMEN_MAX_RETURNS];  /* results being built */
    void *retfree[LUMEN_MAX_RETURNS];
    uint8_t retref[LUMEN_MAX_RETURNS]; /* slot holds a reference: a local hold until sent */
    struct lm_actor_inst *actor;      /* running a method or constructor of it */
    int actor_exit;                   /* lumen_actor_exit was called */
    int actor_fatal;                  /* lumen_actor_fatal was called */
    int num_gpu_ids;                  /* GPUs assigned to the running task */
    int gpu_ids[LUMEN_MAX_GPU_IDS];
    lumen_method_fn method;           /* a CALL's method */
    uint64_t t0, bytes;               /* start (wall us) and argument bytes, for the timeline */
    /* async actors (actor/async.c): what a method awaits, and its continuation */
    lumen_continuation_fn resume;
    void *resume_state;
    size_t await_n;
    int await_left;                   /* watches not fired yet (rt->lock) */
    struct lm_watch *await_watches;   /* await_n of them, refs inside */
    struct lumen_task_ctx *anext, *aprev; /* the actor's calls in flight (its thread only) */
    struct lumen_task_ctx *rnext;     /* the actor's ready list (its lock) */
    int await_cancelled;              /* the actor ended: the continuation's last run */
    struct lm_gen_prod *gen;          /* streaming task: its yield state (gen_yield.c) */
    char error[512];
};

/* ---- the runtime ------------------------------------------------------- */
#define LM_OBJ_BUCKETS 65536
#define LM_TASK_BUCKETS 16384

typedef struct lm_fetch lm_fetch;

typedef struct lm_rt {
    /* identity */
    MPI_Comm comm;
    int rank, size, owns_mpi;
    int node_id, node_rank, node_size;
    int *node_of;           /* node id of every rank */
    char (*host_of)[64];    /* host name of every rank */
    struct lm_topo *topo_of; /* hwloc's view of every rank's host and binding */
    unsigned epoch;
    uint64_t job_id;

    /* configuration */
    size_t inline_threshold;
    uint64_t spin_ns;       /* busy-poll window before blocking */
    int max_inflight;       /* tasks dispatched per executor slot */
    int steal;              /* idle executors steal queued tasks (LUMEN_STEAL) */
    uint64_t store_wait_ns; /* how long a create waits for store space (LUMEN_STORE_WAIT_MS) */

    /* resources: slot 0 cpu, 1 gpu, 2.. custom */
    int nres;
    char resname[LM_MAX_RES][32];
    double *res_total;      /* size * LM_MAX_RES */
    double *res_reserved;   /* size * LM_MAX_RES: held by actors and placement
                               groups, as the control store last said (rt->lock) */
    double avail[LM_MAX_RES];
    /* this rank's GPUs (sched/gpus.c, exec_lock): device ids and free fraction */
    int ngpu;
    int gpu_id[LUMEN_MAX_GPU_IDS];
    double gpu_free[LUMEN_MAX_GPU_IDS];

    /* object store of this node */
    lm_store *store;
    char store_name[64];
    char job_dir[512], spill_dir[600];

    /* transport (called only by the progress-role holder) */
    lm_transport *tp;

    /* owner tables, submitted tasks, dispatch state: under lock */
    pthread_mutex_t lock;
    pthread_cond_t ready_cv; /* broadcast when an object completes */
    int ready_waiters;
    lm_obj *objs[LM_OBJ_BUCKETS];
    size_t num_objs;
    lm_task_rec *tasks[LM_TASK_BUCKETS];
    lm_task_rec *dispatch_head, *dispatch_tail; /* ready, waiting for capacity */
    int *inflight;           /* tasks sent to each rank and not done */
    int rr;                  /* round-robin cursor */
    atomic_uint_fast64_t seq;
    int next_tag;

    /* executor: under exec_lock */
    pthread_mutex_t exec_lock;
    pthread_cond_t exec_cv;
    lm_task *ready_head, *ready_tail;
    size_t ready_len;
    int nthreads, idle_threads, max_threads;
    pthread_t *threads;
    int exec_sleepers;
    int exec_closed;         /* finalize: the queue takes nothing more */

    /* progress */
    pthread_mutex_t progress_lock;
    pthread_mutex_t outbox_lock;
    struct lm_out *out_head, *out_tail;
    atomic_int outbox_n;
    struct lm_task *discards;  /* tasks answered without running whose reference
                                  arguments must go home (outbox_lock) */
    atomic_int ndiscards;
    pthread_t progress_thread;
    pthread_mutex_t sleep_lock;
    pthread_cond_t sleep_cv;
    atomic_int progress_sleeping; /* read without sleep_lock by lm_send */
    atomic_uint_fast64_t last_poll_ns; /* when a non-progress thread last polled */
    uint64_t last_steal_ns;
    uint64_t steal_gap_ns;   /* between steal requests: doubles on each refusal */
    int steal_outstanding;

    /* control messages sent to / received from each rank (progress role) */
    int64_t *sent_count, *recv_count;
    int closing;             /* finalize: read and drop, answer nothing */

    /* actors, placement groups, the control store (src/actor, src/gcs,
     * src/placement) */
    struct lm_gcs *gcs;            /* rank 0: the job's control store */
    pthread_mutex_t actor_lock;    /* the actor instances of this rank */
    struct lm_actor_inst *insts;
    int actors_closed;             /* finalize: no new actor or call (actor_lock) */
    struct lm_actor_grave *graves; /* actors that died here: who and why */
    int ngraves;
    struct lm_actor_client **clients; /* actors this rank calls (rt->lock) */
    struct lm_pg_entry *pgs;       /* placement groups seen here (rt->lock) */
    struct lm_bundle *bundles;     /* bundles reserved on this rank (exec_lock) */
    struct lm_rpc *rpcs;           /* requests waiting for a reply (rt->lock) */
    int next_rpc;
    int *spread_order;             /* ranks, node-major round robin for SPREAD */
    atomic_uint_fast64_t changes;  /* tasks and objects made or freed (state files) */
    uint64_t rank_state_changes;   /* `changes` when this rank's state file was written */
    uint64_t rank_state_ns;
    int state_dirty;               /* rank 0: the control store changed since the
                                      state file was written (progress role) */
    uint64_t state_written_ns;
    int spread_rr;
    /* completion callbacks waiting for the progress thread (cb_lock) */
    pthread_mutex_t cb_lock;
    struct lm_watch *cb_head, *cb_tail;
    atomic_int ncallbacks;

    /* lifecycle */
    atomic_int shutdown;     /* SHUTDOWN seen or sent */
    atomic_int stop_threads;
    atomic_int shutdown_acks;
} lm_rt;

extern lm_rt *lm_g; /* the runtime of this process, NULL when not initialised */

static inline int lm_obj_borrowed(const struct lm_rt *rt, const lm_obj *o)
{
    return lm_oid_owner(o->id) != rt->rank;
}

/* demand[k] <= have[k] for the first n resource slots (with a small epsilon) */
static inline int lm_res_fits(const double *have, const double *demand, int n)
{
    for (int k = 0; k < n; k++)
        if (demand[k] > have[k] + 1e-9)
            return 0;
    return 1;
}

/* time */
uint64_t lm_now_ns(void);

/* progress.c */
int lm_progress(lm_rt *rt);                          /* one poll if the role is free */
void lm_send(lm_rt *rt, int dest, void *buf, size_t len); /* queue; takes buf */
void lm_send_wbuf(lm_rt *rt, int dest, lm_wbuf *w);
/* queue a small control message (msg.h lm_small_msg) */
void lm_send_small(lm_rt *rt, int dest, lm_msg_type type, lm_oid id, int tag, uint64_t count);
void lm_wake_progress(lm_rt *rt);
lumen_status lm_progress_start(lm_rt *rt);
void lm_progress_stop(lm_rt *rt);
void lm_outbox_discard(lm_rt *rt); /* free messages never sent (after the last barrier) */
void lm_deliver(void *arg, int src, void *buf, size_t len);
int lm_alloc_tag(lm_rt *rt);
/* Block the calling thread until pred(arg) is true, the deadline passes
 * (deadline_ns 0: never) or shutdown. Spins (driving progress) then sleeps on
 * rt->ready_cv. Called without rt->lock. Returns LUMEN_OK / TIMEOUT / SHUTDOWN. */
lumen_status lm_wait_until(lm_rt *rt, int (*pred)(lm_rt *, void *), void *arg, uint64_t deadline_ns);

/* preempt.c: the end of an allocation (SIGTERM, SIGUSR1) */
void lm_preempt_install(void);
void lm_preempt_remote(lm_rt *rt);   /* another rank was told */
void lm_preempt_poll(lm_rt *rt);     /* progress thread, no lock held: act on it */

/* objects.c (rt->lock held unless stated) */
lm_obj *lm_obj_find(lm_rt *rt, lm_oid id);
lm_obj *lm_obj_new(lm_rt *rt, lm_oid id);
void lm_obj_unref(lm_rt *rt, lm_obj *o);            /* frees at 0 */
/* complete an object from a wire value; wakes waiters, resolves dependents */
void lm_obj_complete(lm_rt *rt, lm_obj *o, const lm_wval *v);
void lm_obj_fail(lm_rt *rt, lm_obj *o, const char *msg);
/* the value of a settled object as it travels in a message */
void lm_obj_wval(lm_rt *rt, lm_obj *o, lm_wval *v);
/* 1 and *inner / *weight set when the value is a reference (lumen_return_ref) */
int lm_obj_inner_ref(const lm_obj *o, lm_oid *inner, uint64_t *weight);
/* validate a user's ref: returns the entry or NULL with the error set */
lm_obj *lm_obj_lookup_ref(lm_rt *rt, lumen_ref ref, lumen_status *st);

/* completion.c */
/* rt->lock held: arm w on o (takes a count of o; fires at once if settled) */
void lm_watch_arm(lm_rt *rt, lm_obj *o, lm_watch *w);
/* rt->lock held: take w off its object if still armed; 1 if it was (then
 * nothing fires and the caller owns w) */
int lm_watch_disarm(lm_rt *rt, lm_watch *w);
void lm_watches_fire(lm_rt *rt, lm_obj *o); /* rt->lock held: o settled */
void lm_watches_abandon(lm_rt *rt, lm_obj *o); /* finalize: fire with SHUTDOWN */
lumen_status lm_obj_status(const lm_obj *o); /* settled: OK or the error's status (no detail) */
void lm_callbacks_run(lm_rt *rt);         /* progress thread, no lock held */
void lm_callbacks_free(lm_rt *rt);        /* finalize */
extern _Thread_local int lm_tls_in_callback;

/* borrow.c: references crossing ranks (Ray's borrower protocol). A rank
 * that sends a reference in a message first exports it (one more unit at the
 * owner: a local increment there, or ADD_REF from elsewhere, which per-pair
 * FIFO orders before the sender's own later DEC_REF); the receiver imports
 * it (a borrowed entry holding that unit). rt->lock held. */
uint64_t lm_ref_export(lm_rt *rt, lm_oid id);            /* weight to send along */
lm_obj *lm_ref_import(lm_rt *rt, lm_oid id, uint64_t weight);
void lm_ref_unimport(lm_rt *rt, lm_oid id, uint64_t weight); /* drop what import gave */
/* REF values: 24 bytes, see LM_REF_VALUE_SIZE */
void lm_ref_value_write(void *p, lm_oid id, uint64_t weight);
lm_oid lm_ref_value_id(const void *p);
uint64_t lm_ref_value_weight(const void *p);
void lm_obj_need_value(lm_rt *rt, lm_obj *o);        /* borrowed: subscribe once */
void lm_obj_publish(lm_rt *rt, lm_obj *o);           /* owned: answer subscribers */
void lm_handle_subscribe(lm_rt *rt, int src, lm_oid id);
void lm_handle_value(lm_rt *rt, const lm_value_msg *m);
void lm_handle_refcount(lm_rt *rt, lm_oid id, int64_t delta);

/* objects_api.c: create in the node store, waiting (up to rt->store_wait_ns,
 * driving progress) while the store is full of objects being written or
 * pinned: back-pressure instead of failure. Called without rt->lock. */
lumen_status lm_store_create_waiting(lm_rt *rt, lm_oid id, size_t size, uint8_t type, void **data);
/* the same for pinning (restoring a spilled object needs space too) */
lumen_status lm_store_pin_waiting(lm_rt *rt, lm_oid id, const void **data, size_t *size, uint8_t *type);

/* The public calls' first line: rt is the running runtime, or the call
 * returns LUMEN_ERR_NOT_INITIALIZED. */
#define LM_CHECK_INIT(rt)                                                                \
    lm_rt *rt = lm_g;                                                                    \
    if (!rt)                                                                             \
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");

/* objects_api.c: a fresh id for an object owned here; a READY object owned
 * here with an inline value (copied); lumen_get, where raw gives a DEVICE
 * value as its descriptor (device/device.h). Called without rt->lock. */
lm_oid lm_new_object_id(lm_rt *rt);
lumen_status lm_put_inline(lm_rt *rt, lm_oid id, uint8_t type, const void *data, size_t size, lumen_ref *out);
lumen_status lm_get_value(lumen_ref ref, int64_t timeout_ms, lumen_value *out, int raw);

/* task_ctx.c: the id of return slot i's object; set slot i to an inline
 * value (a copy of data), whatever its size (after dropping what it held) */
lm_oid lm_ctx_return_oid(const lumen_task_ctx *c, size_t i);
lumen_status lm_ctx_return_inline(lumen_task_ctx *c, size_t i, uint8_t type, const void *data, size_t size);
void lm_ctx_drop_return(lumen_task_ctx *c, int i); /* forget what slot i held */
/* task_ctx.c: argument i's value bytes, checked to be of type want */
lumen_status lm_ctx_arg_raw(const lumen_task_ctx *c, size_t i, lumen_type want, const void **data, size_t *size);

/* fetch.c: copy an object held by another node (called without rt->lock);
 * FETCH_ERR to a reader (progress role) */
lumen_status lm_fetch_into(lm_rt *rt, int holder, lm_oid oid, void *dst, size_t size);
/* the same in two steps, for several fetches in flight at once: bytes
 * [offset, offset + size) into dst; NULL with *st on failure to start.
 * end waits (no timeout: the transfer ends with the data or an error). */
lm_fetch *lm_fetch_begin(lm_rt *rt, int holder, lm_oid oid, uint64_t offset, void *dst, size_t size,
                         lumen_status *st);
lumen_status lm_fetch_end(lm_rt *rt, lm_fetch *f);
void lm_fetch_reply_error(lm_rt *rt, int src, int tag, const char *why);
void lm_handle_fetch(lm_rt *rt, int src, const lm_fetch_msg *m);
void lm_handle_fetch_err(lm_rt *rt, int src, const lm_small_msg *m);
int lm_fetch_retry(lm_rt *rt); /* progress role: FETCHes waiting for store room */

/* submit.c */
void lm_task_dep_ready(lm_rt *rt, lm_task_rec *t, lm_obj *dep); /* rt->lock held */
/* The common part of lumen_remote / actor create / actor call: copies the
 * arguments, makes the return objects, registers dependencies. The record
 * comes filled by the caller (kind, fn, demand, ...); on success it belongs
 * to the runtime and lm_task_submitted (rt->lock held) is what happens next
 * for each kind. */
lumen_status lm_submit(lm_rt *rt, lm_task_rec *t, const lumen_arg *args, size_t nargs, lumen_ref *returns);
void lm_task_fail_returns(lm_rt *rt, lm_task_rec *t, const char *msg, int kind); /* rt->lock held */
void lm_task_release(lm_rt *rt, lm_task_rec *t);   /* rt->lock held: done, free when no deps */
/* rt->lock held: the DONE's values into the return objects still waited for */
void lm_task_complete_returns(lm_rt *rt, lm_task_rec *t, const lm_done_msg *m);
void lm_task_encode(lm_rt *rt, lm_task_rec *t, lm_wbuf *w); /* rt->lock held */
lumen_status lm_task_read_common(lm_rt *rt, lm_task_rec *t, double num_cpus, double num_gpus,
                                 const char *resources, uint64_t have); /* bit0 cpus, bit1 gpus, bit2 res */
void lm_handle_done(lm_rt *rt, const lm_done_msg *m);
void lm_dispatch_pending(lm_rt *rt);                /* rt->lock held */

/* sched.c (rt->lock held) */
int lm_sched_feasible(lm_rt *rt, const double *demand, char *why, size_t whylen);
/* feasibility under a strategy (node affinity restricts the ranks) */
lumen_status lm_sched_check(lm_rt *rt, const double *demand, const lumen_scheduling_strategy *s,
                            const char *what);
int lm_sched_pick(lm_rt *rt, const double *demand, int prefer_node, int nested,
                  const lumen_scheduling_strategy *s);
lumen_status lm_sched_init(lm_rt *rt);

/* gpus.c (exec_lock held for assign/release) */
lumen_status lm_gpus_setup(lm_rt *rt, MPI_Comm node_comm, double *gpus); /* gpus < 0: detect */
int lm_gpus_assign(lm_rt *rt, double demand, int *slots); /* slots used, -1: none free */
void lm_gpus_release(lm_rt *rt, double demand, const int *slots, int n);
lumen_status lm_parse_resources(lm_rt *rt, const char *spec, double *demand, int create);

/* executor.c */
/* run one task, method or constructor on the calling thread and answer
 * its owner; returns 0, or LM_RUN_FATAL / LM_RUN_EXIT for actors */
#define LM_RUN_FATAL 1
#define LM_RUN_EXIT 2
#define LM_RUN_PENDING 3 /* an async actor's method awaits: inst->awaited holds its ctx */
int lm_task_execute(lm_rt *rt, lm_task *t, struct lm_actor_inst *inst);
int lm_task_resume(lm_rt *rt, lumen_task_ctx *c); /* run the continuation; same outcomes */
/* answer the owner with "actor died" (msg) and free c: an in-flight call of
 * an async actor that ended */
void lm_task_ctx_fail(lm_rt *rt, lumen_task_ctx *c, const char *msg);
void lm_ctx_await_drop(lumen_task_ctx *c); /* actor/async.c: forget an unarmed await */
void lm_task_reply_error(lm_rt *rt, lm_task *t, const char *msg, int kind);
void lm_task_reply_error_async(lm_rt *rt, lm_task *t, const char *msg, int kind); /* via the outbox */
lm_task *lm_task_from_msg(lm_rt *rt, int src, void *buf, size_t len); /* NULL: malformed (buf freed) */
void lm_task_free(lm_task *t);
/* a task answered without running: its reference arguments' weight goes
 * back to their owners (later, from the progress role: the caller may hold
 * rt->lock), then it is freed */
void lm_task_discard(lm_rt *rt, lm_task *t);
void lm_discards_drain(lm_rt *rt); /* progress role, no lock held */
lumen_status lm_executor_start(lm_rt *rt);
void lm_executor_stop(lm_rt *rt);
void lm_executor_push(lm_rt *rt, lm_task *t);        /* takes t */
lumen_status lm_executor_accept(lm_rt *rt, int src, void *buf, size_t len); /* TASK message */
void lm_handle_cancel(lm_rt *rt, lm_oid task_id);
void lm_handle_steal(lm_rt *rt, int thief);
void lm_handle_steal_none(lm_rt *rt);
void lm_executor_blocked(lm_rt *rt, int delta);      /* a task blocks in get (+1/-1) */
void lm_executor_take(lm_rt *rt, struct lm_bundle *b, const double *demand, double sign); /* exec_lock held */
void lm_executor_kick(lm_rt *rt);                    /* exec_lock held: resources freed */

/* error kinds of error objects (lm_wval type of LM_VAL_ERROR) */
#define LM_ERRK_FAILED 0
#define LM_ERRK_CANCELLED 1
#define LM_ERRK_UNKNOWN_FN 2
#define LM_ERRK_ACTOR_DIED 3  /* the actor died before running the call: retryable */
#define LM_ERRK_ACTOR_FATAL 4 /* the call itself ended the actor: not retried */
#define LM_ERRK_INFEASIBLE 5  /* the task can never run where it was sent (its bundle is too small) */

#endif
