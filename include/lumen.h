/*
 * lumen.h - lumen's core API: Ray's tasks, futures and object store for MPI ranks.
 *
 * Ray concept            lumen
 * ---------------------  ------------------------------------------------------
 * ray.init / shutdown    lumen_init (every rank) / lumen_finalize (every rank)
 * @ray.remote def f      LUMEN_REMOTE(f) { ... }   (static registration by name)
 * f.remote(x, y)         lumen_remote("f", args, n, &opts, refs) / LUMEN_CALL
 * ObjectRef              lumen_ref (a value; counts one reference)
 * ray.get / ray.wait     lumen_get, lumen_get_many / lumen_wait
 * ray.put                lumen_put, lumen_object_create + lumen_object_seal
 * del ref                lumen_ref_release
 * ray.cancel             lumen_cancel
 * @ray.remote class      LUMEN_ACTOR_CLASS(Cls, init, destroy) + LUMEN_METHOD(Cls, m)
 * Cls.options().remote() lumen_actor_create("Cls", args, n, &opts, &actor)
 * actor.m.remote(x)      lumen_actor_call(actor, "m", args, n, NULL, refs) / LUMEN_ACTOR_CALL
 * ray.get_actor(name)    lumen_get_actor(name, namespace, &actor)
 * ray.kill(actor)        lumen_actor_kill; __ray_terminate__: lumen_actor_terminate
 * scheduling_strategy    lumen_scheduling_strategy (DEFAULT, SPREAD, NODE_AFFINITY,
 *                        PLACEMENT_GROUP)
 * placement_group(...)   lumen_placement_group_create / _ready / _remove
 * ray.cluster_resources  lumen_cluster_resources / lumen_available_resources
 * get_runtime_context()  lumen_get_runtime_context
 * num_returns="streaming" lumen_remote_generator + lumen_generator_next, yield
 *                        in the task with lumen_yield_* (docs/generators.md)
 *
 * Rank 0 is the driver. Every rank calls lumen_init; the other ranks serve tasks
 * (and may submit their own) and block in lumen_finalize until the driver calls
 * lumen_finalize. Every function returns a lumen_status; lumen_last_error() gives
 * a per-thread message with the specific cause of the last failure.
 *
 * Thread safety: after lumen_init returns, every function may be called from
 * any thread of the rank.
 */
#ifndef LUMEN_H
#define LUMEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LUMEN_VERSION_MAJOR 0
#define LUMEN_VERSION_MINOR 1
#define LUMEN_VERSION_PATCH 0

/* ---- status ------------------------------------------------------------- */
typedef enum lumen_status {
    LUMEN_PENDING = 1,               /* not an error: an async actor method awaits
                                        (lumen_await) and completes later */
    LUMEN_OK = 0,
    LUMEN_ERR_INVALID_ARG = -1,     /* null pointer, bad option value */
    LUMEN_ERR_NOT_INITIALIZED = -2, /* lumen_init not called, or finalized */
    LUMEN_ERR_ALREADY_INITIALIZED = -3,
    LUMEN_ERR_NO_MEMORY = -4,
    LUMEN_ERR_MPI = -5,              /* an MPI call failed */
    LUMEN_ERR_UNKNOWN_FUNCTION = -6, /* no remote function of that name */
    LUMEN_ERR_INVALID_REF = -7,      /* forged, released or foreign reference */
    LUMEN_ERR_TIMEOUT = -8,          /* get/wait timeout expired */
    LUMEN_ERR_TASK_FAILED = -9,      /* the task (or a dependency) returned an error */
    LUMEN_ERR_TASK_CANCELLED = -10,
    LUMEN_ERR_INFEASIBLE = -11,      /* no rank can ever satisfy the resources */
    LUMEN_ERR_TYPE_MISMATCH = -12,   /* value is not of the requested type */
    LUMEN_ERR_OUT_OF_RANGE = -13,    /* index or size out of range */
    LUMEN_ERR_STORE_FULL = -14,      /* object store full and nothing can spill */
    LUMEN_ERR_IO = -15,              /* spill file or shared memory I/O failed */
    LUMEN_ERR_SHUTDOWN = -16,        /* the job is shutting down */
    LUMEN_ERR_PROTOCOL = -17,        /* malformed message */
    LUMEN_ERR_INTERNAL = -18,
    LUMEN_ERR_ACTOR_DIED = -19,      /* the actor is dead (killed, exited, failed) */
    LUMEN_ERR_PENDING_CALLS_EXCEEDED = -20, /* max_pending_calls reached: back-pressure */
    LUMEN_ERR_NOT_FOUND = -21,       /* no actor / placement group of that name or id */
    LUMEN_ERR_ALREADY_EXISTS = -22,  /* a named actor of that name exists */
    LUMEN_ERR_END_OF_STREAM = -23,   /* a streaming generator has no more items */
    LUMEN_ERR_UNSUPPORTED = -24      /* not available in this build or on this machine (e.g. no GPU) */
} lumen_status;

/* Static text for a status code. Never NULL. */
const char *lumen_strerror(lumen_status status);
/* Detail of the last error on the calling thread ("" if none). The pointer is
 * valid until the next lumen call on this thread. */
const char *lumen_last_error(void);

/* ---- lifecycle ---------------------------------------------------------- */
#define LUMEN_INIT_NUM_CPUS (1ull << 0)
#define LUMEN_INIT_NUM_GPUS (1ull << 1)
#define LUMEN_INIT_RESOURCES (1ull << 2)
#define LUMEN_INIT_STORE_CAPACITY (1ull << 3)
#define LUMEN_INIT_SPILL_DIR (1ull << 4)
#define LUMEN_INIT_RANK_IS_NODE (1ull << 5)
#define LUMEN_INIT_INLINE_THRESHOLD (1ull << 6)
#define LUMEN_INIT_TRANSPORT (1ull << 7)

/* Options for lumen_init. Set field_mask to say which fields are set; every
 * field not in the mask takes its LUMEN_* environment value or default. */
typedef struct lumen_init_options {
    uint64_t field_mask;
    double num_cpus;          /* CPUs this rank offers (default: its share of the
                                 allocation's CPUs on the node, at least 1) */
    double num_gpus;          /* GPUs this rank offers (default 0) */
    const char *resources;    /* custom resources, "name=amount,name=amount" */
    size_t store_capacity;    /* bytes of the node's object store */
    const char *spill_dir;    /* parent folder of the per-job spill folder */
    int rank_is_node;         /* each rank is its own node (no shared store) */
    size_t inline_threshold;  /* objects up to this size travel inline */
    const char *transport;    /* how object data crosses nodes: "ucx" (UCX RMA
                                 get; the default when lumen is built with UCX)
                                 or "mpi"; control messages always use MPI */
} lumen_init_options;

/* Initialise MPI (MPI_THREAD_SERIALIZED at least) and lumen on every rank.
 * argc/argv may be NULL. opts may be NULL. */
lumen_status lumen_init(int *argc, char ***argv, const lumen_init_options *opts);
/* Shut lumen down. On the driver (rank 0) it stops the job; on the other ranks
 * it serves tasks until the driver calls lumen_finalize. Finalizes MPI if
 * lumen_init initialised it. */
lumen_status lumen_finalize(void);
int lumen_is_initialized(void);
int lumen_rank(void);      /* rank in lumen's communicator, -1 before init */
int lumen_world_size(void); /* number of ranks, -1 before init */
int lumen_is_driver(void); /* rank 0 */
int lumen_node_id(void);   /* id of this rank's node (its lowest rank) */

/* ---- values and references ---------------------------------------------- */
typedef enum lumen_type {
    LUMEN_TYPE_NONE = 0,
    LUMEN_TYPE_I64 = 1,
    LUMEN_TYPE_F64 = 2,
    LUMEN_TYPE_BYTES = 3,
    LUMEN_TYPE_STR = 4,
    LUMEN_TYPE_REF = 5,
    LUMEN_TYPE_ACTOR = 6, /* an actor handle (arguments only) */
    LUMEN_TYPE_DEVICE = 7 /* bytes in device memory (lumen/device.h): lumen_get gives
                             their size and no data; copy them with lumen_get_device */
} lumen_type;

/* A reference to an object (Ray's ObjectRef). A value of this type counts as
 * one reference: release it with lumen_ref_release. The fields are private. */
typedef struct lumen_ref {
    uint64_t opaque_[2];
} lumen_ref;
#define LUMEN_REF_NIL ((lumen_ref){{0, 0}})
int lumen_ref_is_nil(lumen_ref ref);
int lumen_ref_equal(lumen_ref a, lumen_ref b);
/* Hex form of the id (33 bytes with the NUL), for logs. */
void lumen_ref_hex(lumen_ref ref, char out[33]);

/* A handle to an actor (Ray's ActorHandle): a plain value naming the actor;
 * copy it freely, pass it to tasks and methods with lumen_arg_actor. */
typedef struct lumen_actor {
    uint64_t opaque_[2];
} lumen_actor;
#define LUMEN_ACTOR_NIL ((lumen_actor){{0, 0}})
int lumen_actor_is_nil(lumen_actor actor);
int lumen_actor_equal(lumen_actor a, lumen_actor b);
void lumen_actor_hex(lumen_actor actor, char out[33]);

/* A typed argument of a remote call. Byte buffers and strings are copied at
 * submission, so the caller may reuse them as soon as lumen_remote returns. */
typedef struct lumen_arg {
    lumen_type type;
    union {
        int64_t i64;
        double f64;
        struct {
            const void *data;
            size_t size;
        } bytes;
        const char *str;
        lumen_ref ref;
        lumen_actor actor;
    } u;
} lumen_arg;

static inline lumen_arg lumen_arg_i64(int64_t v) { lumen_arg a = {LUMEN_TYPE_I64, {.i64 = v}}; return a; }
static inline lumen_arg lumen_arg_f64(double v) { lumen_arg a = {LUMEN_TYPE_F64, {.f64 = v}}; return a; }
static inline lumen_arg lumen_arg_str(const char *s) { lumen_arg a = {LUMEN_TYPE_STR, {.str = s}}; return a; }
static inline lumen_arg lumen_arg_ref(lumen_ref r) { lumen_arg a = {LUMEN_TYPE_REF, {.ref = r}}; return a; }
static inline lumen_arg lumen_arg_actor(lumen_actor h) { lumen_arg a = {LUMEN_TYPE_ACTOR, {.actor = h}}; return a; }
static inline lumen_arg lumen_arg_bytes(const void *p, size_t n)
{
    lumen_arg a = {LUMEN_TYPE_BYTES, {.bytes = {p, n}}};
    return a;
}

/* LUMEN_ARG(x) picks the argument type from the C type of x at compile time. */
#define LUMEN_ARG(x)                                                                   \
    _Generic((x), char: lumen_arg_i64, signed char: lumen_arg_i64,                     \
        unsigned char: lumen_arg_i64, short: lumen_arg_i64,                            \
        unsigned short: lumen_arg_i64, int: lumen_arg_i64, unsigned: lumen_arg_i64,    \
        long: lumen_arg_i64, unsigned long: lumen_arg_i64, long long: lumen_arg_i64,   \
        unsigned long long: lumen_arg_i64, float: lumen_arg_f64, double: lumen_arg_f64, \
        char *: lumen_arg_str, const char *: lumen_arg_str, lumen_ref: lumen_arg_ref,     \
        lumen_actor: lumen_arg_actor)(x)
#define LUMEN_BYTES(p, n) lumen_arg_bytes((p), (n))

/* ---- remote functions --------------------------------------------------- */
/* The context of one running task: its arguments and return slots. Valid only
 * inside the remote function's body. */
typedef struct lumen_task_ctx lumen_task_ctx;
typedef lumen_status (*lumen_remote_fn)(lumen_task_ctx *ctx);

/* Register a function by name. Every rank of the job must register the same
 * names (LUMEN_REMOTE does it before main runs). Returns LUMEN_ERR_INVALID_ARG
 * for a NULL/empty/too long name or a different function under a taken name. */
lumen_status lumen_register_function(const char *name, lumen_remote_fn fn);

/* LUMEN_REMOTE(name) { body }: defines and registers remote function `name`.
 * The body sees `ctx` and returns LUMEN_OK or an error (see lumen_task_fail). */
#define LUMEN_REMOTE(name)                                                       \
    static lumen_status name(lumen_task_ctx *ctx);                               \
    __attribute__((constructor)) static void lumen_register_##name##_(void)     \
    {                                                                            \
        (void)lumen_register_function(#name, name);                             \
    }                                                                            \
    static lumen_status name(lumen_task_ctx *ctx)

/* Arguments, by position. Values of a dependency (a lumen_ref argument) are
 * presented as the dependency's value; pointers stay valid until the function
 * returns. */
size_t lumen_num_args(const lumen_task_ctx *ctx);
lumen_type lumen_arg_type(const lumen_task_ctx *ctx, size_t i);
lumen_status lumen_arg_get_i64(const lumen_task_ctx *ctx, size_t i, int64_t *out);
lumen_status lumen_arg_get_f64(const lumen_task_ctx *ctx, size_t i, double *out);
lumen_status lumen_arg_get_bytes(const lumen_task_ctx *ctx, size_t i, const void **data, size_t *size);
lumen_status lumen_arg_get_str(const lumen_task_ctx *ctx, size_t i, const char **out);
/* An argument whose value is a reference (an object a task filled with
 * lumen_return_ref). Valid during the call; lumen_ref_dup it to keep it. */
lumen_status lumen_arg_get_ref(const lumen_task_ctx *ctx, size_t i, lumen_ref *out);
/* An actor handle passed with lumen_arg_actor. */
lumen_status lumen_arg_get_actor(const lumen_task_ctx *ctx, size_t i, lumen_actor *out);

/* Return values, by slot (0 .. num_returns-1). A slot not set returns NONE. */
size_t lumen_num_returns(const lumen_task_ctx *ctx);
lumen_status lumen_return_i64(lumen_task_ctx *ctx, size_t i, int64_t v);
lumen_status lumen_return_f64(lumen_task_ctx *ctx, size_t i, double v);
lumen_status lumen_return_bytes(lumen_task_ctx *ctx, size_t i, const void *data, size_t size);
lumen_status lumen_return_str(lumen_task_ctx *ctx, size_t i, const char *s);
/* Return a reference (Ray: returning an ObjectRef from a task). The caller
 * gets an object whose value is that reference; the referenced object stays
 * alive while either is held. The task keeps its own reference to release. */
lumen_status lumen_return_ref(lumen_task_ctx *ctx, size_t i, lumen_ref ref);
/* Zero-copy: a buffer of `size` bytes that becomes return slot i. */
lumen_status lumen_return_alloc(lumen_task_ctx *ctx, size_t i, size_t size, void **data);
/* Record why the task failed; returns LUMEN_ERR_TASK_FAILED for `return`. */
lumen_status lumen_task_fail(lumen_task_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Name of the running function. */
const char *lumen_task_function(const lumen_task_ctx *ctx);

/* ---- scheduling strategies and placement groups -------------------------- */
/* A placement group (Ray's PlacementGroup): bundles of resources reserved
 * together on ranks. A plain value; the fields are private. */
typedef struct lumen_placement_group {
    uint64_t opaque_[2];
} lumen_placement_group;
#define LUMEN_PLACEMENT_GROUP_NIL ((lumen_placement_group){{0, 0}})

typedef enum lumen_sched_kind {
    LUMEN_SCHED_DEFAULT = 0,         /* locality and load ("DEFAULT") */
    LUMEN_SCHED_SPREAD = 1,          /* across nodes, round robin ("SPREAD") */
    LUMEN_SCHED_NODE_AFFINITY = 2,   /* NodeAffinitySchedulingStrategy */
    LUMEN_SCHED_PLACEMENT_GROUP = 3  /* PlacementGroupSchedulingStrategy */
} lumen_sched_kind;

typedef struct lumen_scheduling_strategy {
    lumen_sched_kind kind;
    int node_id;                     /* NODE_AFFINITY: lumen_node_id() of the node */
    int soft;                        /* NODE_AFFINITY: run elsewhere if the node cannot */
    lumen_placement_group pg;        /* PLACEMENT_GROUP */
    int bundle_index;                /* PLACEMENT_GROUP: bundle, or -1 for any */
} lumen_scheduling_strategy;

static inline lumen_scheduling_strategy lumen_sched_spread(void)
{
    lumen_scheduling_strategy s = {LUMEN_SCHED_SPREAD, -1, 0, LUMEN_PLACEMENT_GROUP_NIL, -1};
    return s;
}
static inline lumen_scheduling_strategy lumen_sched_node_affinity(int node_id, int soft)
{
    lumen_scheduling_strategy s = {LUMEN_SCHED_NODE_AFFINITY, node_id, soft, LUMEN_PLACEMENT_GROUP_NIL, -1};
    return s;
}
static inline lumen_scheduling_strategy lumen_sched_placement_group(lumen_placement_group pg, int bundle_index)
{
    lumen_scheduling_strategy s = {LUMEN_SCHED_PLACEMENT_GROUP, -1, 0, pg, bundle_index};
    return s;
}

typedef enum lumen_pg_strategy {
    LUMEN_PG_PACK = 0,         /* as few nodes as possible, spill over if needed */
    LUMEN_PG_SPREAD = 1,       /* as many nodes as possible, share if needed */
    LUMEN_PG_STRICT_PACK = 2,  /* every bundle on one node, or wait */
    LUMEN_PG_STRICT_SPREAD = 3 /* every bundle on a different node, or wait */
} lumen_pg_strategy;

/* Reserve `n` bundles, each a resource string ("CPU=1,GPU=1,custom=2"), with
 * `strategy`. Returns at once: the group is placed when resources are free
 * (lumen_placement_group_ready / _wait). A group no arrangement of the job's
 * ranks could ever hold fails here with LUMEN_ERR_INFEASIBLE saying why.
 * name may be NULL. */
lumen_status lumen_placement_group_create(const char *const *bundles, size_t n, lumen_pg_strategy strategy,
                                          const char *name, lumen_placement_group *out);
/* pg.ready(): a reference that becomes I64 1 once every bundle is reserved,
 * or an error if the group is removed first. Release it when done. */
lumen_status lumen_placement_group_ready(lumen_placement_group pg, lumen_ref *out);
/* Wait until placed: LUMEN_OK, LUMEN_ERR_TIMEOUT, or the removal's error. */
lumen_status lumen_placement_group_wait(lumen_placement_group pg, int64_t timeout_ms);
/* Free the reserved resources; actors in the group are killed and tasks
 * queued in it fail. Tasks already running finish. */
lumen_status lumen_placement_group_remove(lumen_placement_group pg);
/* Where bundle `index` lives once placed (placement_group_table): the rank
 * and node holding it. LUMEN_ERR_TIMEOUT if not placed within timeout_ms. */
lumen_status lumen_placement_group_bundle_rank(lumen_placement_group pg, int index, int64_t timeout_ms,
                                               int *rank, int *node_id);

/* ---- submission --------------------------------------------------------- */
#define LUMEN_TASK_NUM_RETURNS (1ull << 0)
#define LUMEN_TASK_NUM_CPUS (1ull << 1)
#define LUMEN_TASK_NUM_GPUS (1ull << 2)
#define LUMEN_TASK_RESOURCES (1ull << 3)
#define LUMEN_TASK_MAX_RETRIES (1ull << 4)
#define LUMEN_TASK_RETRY_EXCEPTIONS (1ull << 5)
#define LUMEN_TASK_SCHEDULING (1ull << 6)
#define LUMEN_TASK_GENERATOR_BACKPRESSURE (1ull << 7)

#define LUMEN_MAX_RETURNS 64
#define LUMEN_MAX_ARGS 64

typedef struct lumen_task_options {
    uint64_t field_mask;
    int num_returns;       /* default 1, at most LUMEN_MAX_RETURNS */
    double num_cpus;       /* default 1 */
    double num_gpus;       /* default 0 */
    const char *resources; /* custom demands, "name=amount,..." */
    int max_retries;       /* default 3 (Ray's default) */
    int retry_exceptions;  /* retry when the function returns an error (default 0) */
    lumen_scheduling_strategy scheduling; /* default: LUMEN_SCHED_DEFAULT */
    int generator_backpressure_num_objects; /* lumen_remote_generator: items
                               yielded and not yet taken before the producer
                               pauses in its yield; 0 or not set: no bound */
} lumen_task_options;

/* Submit `fn` with `nargs` arguments. Writes num_returns references to
 * `returns` at once (the futures); the task runs when its lumen_ref arguments
 * are ready. Unknown functions and failed dependencies produce error objects:
 * lumen_get on them returns LUMEN_ERR_UNKNOWN_FUNCTION (the function is not
 * registered), LUMEN_ERR_TASK_FAILED (the task or a dependency failed; the
 * message chains the causes) or LUMEN_ERR_TASK_CANCELLED.
 * Returns LUMEN_ERR_INFEASIBLE when no rank can ever satisfy the resources. */
lumen_status lumen_remote(const char *fn, const lumen_arg *args, size_t nargs,
                          const lumen_task_options *opts, lumen_ref *returns);

/* LUMEN_CALL(&ref, "fn", LUMEN_ARG(a), LUMEN_ARG(b)): one return, default options. */
#define LUMEN_CALL(ret, fn, ...)                                                   \
    lumen_remote((fn), (const lumen_arg[]){__VA_ARGS__},                            \
                 sizeof((const lumen_arg[]){__VA_ARGS__}) / sizeof(lumen_arg), NULL, \
                 (ret))

/* ---- streaming generators ------------------------------------------------ */
/* Ray's num_returns="streaming" / ObjectRefGenerator. A task started with
 * lumen_remote_generator yields objects one at a time (lumen_yield_*); the
 * caller takes each one's reference with lumen_generator_next as soon as it
 * is produced, long before the task ends. Items come in yield order.
 *
 * Items are ordinary objects owned by the calling rank: pass them to other
 * tasks, get, dup and release them like any lumen_ref. They are freed by
 * reference counting (items never taken are released with the generator).
 *
 * Outcomes of lumen_generator_next, in order: LUMEN_OK for each item; then,
 * if the task failed (returned an error or lumen_task_fail), that error once
 * (LUMEN_ERR_TASK_FAILED with the message in lumen_last_error), or
 * LUMEN_ERR_TASK_CANCELLED once after lumen_generator_cancel; then
 * LUMEN_ERR_END_OF_STREAM on every later call.
 *
 * A streaming task is not retried once started (max_retries and
 * retry_exceptions do not apply) and never moves to another rank once sent.
 * num_returns must be 1 or not set. See docs/generators.md. */
typedef struct lumen_generator lumen_generator;

/* Start `fn` as a streaming generator. *out is a new handle the caller owns
 * and frees with lumen_generator_release. opts may be NULL; with
 * LUMEN_TASK_GENERATOR_BACKPRESSURE the producer pauses in its yield while
 * that many items are yielded and not yet taken. Errors are those of
 * lumen_remote. */
lumen_status lumen_remote_generator(const char *fn, const lumen_arg *args, size_t nargs,
                                    const lumen_task_options *opts, lumen_generator **out);
/* The next item: LUMEN_OK and *out a reference the caller owns (release it);
 * LUMEN_ERR_END_OF_STREAM; the task's error (once, see above); or
 * LUMEN_ERR_TIMEOUT when nothing came within timeout_ms (0: poll,
 * LUMEN_TIMEOUT_INFINITE: wait). Any thread of the rank that made the
 * generator may call it; calls from several threads each get distinct items. */
lumen_status lumen_generator_next(lumen_generator *gen, int64_t timeout_ms, lumen_ref *out);
/* Stop the producer (ray.cancel on the generator): a task not started yet
 * does not run; a running one's next lumen_yield_* returns
 * LUMEN_ERR_TASK_CANCELLED. Items not taken yet are released; next then
 * reports LUMEN_ERR_TASK_CANCELLED once (unless the stream had already
 * ended) and LUMEN_ERR_END_OF_STREAM after. References already taken stay
 * valid. */
lumen_status lumen_generator_cancel(lumen_generator *gen);
/* Free the handle: a producer still running is cancelled (a paused one
 * wakes), items not taken are released. No call on gen may run at the same
 * time or after. NULL is accepted. */
lumen_status lumen_generator_release(lumen_generator *gen);
/* Items taken so far and whether the stream has ended (either may be NULL). */
lumen_status lumen_generator_status(lumen_generator *gen, uint64_t *taken, int *ended);

/* Inside a streaming task: yield the next item. The value is copied (large
 * ones into this node's store) before the call returns. Returns LUMEN_OK,
 * LUMEN_ERR_TASK_CANCELLED (the caller cancelled or released the generator:
 * stop yielding and return), LUMEN_ERR_SHUTDOWN, or LUMEN_ERR_INVALID_ARG
 * outside a streaming task. With a back-pressure bound it may block until
 * the caller takes items. */
lumen_status lumen_yield_i64(lumen_task_ctx *ctx, int64_t v);
lumen_status lumen_yield_f64(lumen_task_ctx *ctx, double v);
lumen_status lumen_yield_bytes(lumen_task_ctx *ctx, const void *data, size_t size);
lumen_status lumen_yield_str(lumen_task_ctx *ctx, const char *s);
/* Zero-copy: a buffer of `size` bytes (valid until the commit) that becomes
 * the next item at lumen_yield_commit (a BYTES value). One at a time; an
 * allocated buffer not committed is dropped when the task returns. */
lumen_status lumen_yield_alloc(lumen_task_ctx *ctx, size_t size, void **data);
lumen_status lumen_yield_commit(lumen_task_ctx *ctx);
/* Items this task has yielded so far, and how many of them the caller has
 * taken as far as this rank knows (lags; 0 without a back-pressure bound). */
lumen_status lumen_yield_progress(const lumen_task_ctx *ctx, uint64_t *yielded, uint64_t *taken);

/* ---- objects ------------------------------------------------------------ */
#define LUMEN_TIMEOUT_INFINITE (-1)

/* A value read by lumen_get. data/size describe bytes and strings (strings
 * are NUL terminated; size excludes the NUL) and the raw 8 bytes of I64/F64.
 * Pointers are read-only and stay valid while the caller holds the reference.
 * Large objects on the same node are not copied: data points into the store. */
typedef struct lumen_value {
    lumen_type type;
    int64_t i64;
    double f64;
    const void *data;
    size_t size;
    lumen_ref ref; /* type REF: the reference the object holds (a task returned
                      it with lumen_return_ref); valid while the outer reference
                      is held, lumen_ref_dup it to keep it longer */
} lumen_value;

/* Store a copy of `size` bytes (ray.put). */
lumen_status lumen_put(const void *data, size_t size, lumen_ref *out);
/* Wait up to timeout_ms (LUMEN_TIMEOUT_INFINITE: forever, 0: poll). */
lumen_status lumen_get(lumen_ref ref, int64_t timeout_ms, lumen_value *out);
lumen_status lumen_get_i64(lumen_ref ref, int64_t timeout_ms, int64_t *out);
lumen_status lumen_get_f64(lumen_ref ref, int64_t timeout_ms, double *out);
/* Get n objects; fails with the first error met (out[i] of the others are set). */
lumen_status lumen_get_many(const lumen_ref *refs, size_t n, int64_t timeout_ms, lumen_value *out);
/* ray.wait: return when num_returns of the n refs are ready (value or error)
 * or the timeout expires. ready[i] is set to 1 for ready refs; *num_ready (may
 * be NULL) counts them. A timeout is not an error here: check *num_ready. */
lumen_status lumen_wait(const lumen_ref *refs, size_t n, size_t num_returns, int64_t timeout_ms,
                        int *ready, size_t *num_ready);

/* Zero-copy put: write the object in place in the store, then seal it. */
typedef struct lumen_object_builder lumen_object_builder;
lumen_status lumen_object_create(size_t size, lumen_object_builder **builder, void **data);
lumen_status lumen_object_seal(lumen_object_builder *builder, lumen_ref *out);
lumen_status lumen_object_abort(lumen_object_builder *builder);

/* Take one more reference / drop one. The object is freed (everywhere) when
 * its last reference is gone and no pending task uses it. */
lumen_status lumen_ref_dup(lumen_ref ref, lumen_ref *out);
lumen_status lumen_ref_release(lumen_ref ref);

/* Cancel the task producing `ref` if it has not started: its results become
 * LUMEN_ERR_TASK_CANCELLED errors. A running or finished task is not affected
 * (get then returns its real outcome). */
lumen_status lumen_cancel(lumen_ref ref);

/* ---- actors -------------------------------------------------------------- */
/* An actor class: a constructor that builds the state from the creation
 * arguments (fail with lumen_task_fail), a destructor, and named methods.
 * Every rank registers the same classes (the macros do it before main). */
typedef lumen_status (*lumen_actor_init_fn)(lumen_task_ctx *ctx, void **self);
typedef void (*lumen_actor_destroy_fn)(void *self);
typedef lumen_status (*lumen_method_fn)(void *self, lumen_task_ctx *ctx);

lumen_status lumen_register_actor_class(const char *cls, lumen_actor_init_fn init,
                                        lumen_actor_destroy_fn destroy);
lumen_status lumen_register_method(const char *cls, const char *method, lumen_method_fn fn);

/* LUMEN_ACTOR_CLASS(Counter, counter_init, counter_destroy); destroy may be NULL */
#define LUMEN_ACTOR_CLASS(cls, init, destroy)                                     \
    __attribute__((constructor)) static void lumen_register_class_##cls##_(void)   \
    {                                                                              \
        (void)lumen_register_actor_class(#cls, (init), (destroy));                \
    }
/* LUMEN_METHOD(Counter, incr) { body }: the body sees `self` (the state the
 * constructor made) and `ctx` (arguments and returns, as in a task). */
#define LUMEN_METHOD(cls, name)                                                        \
    static lumen_status cls##__##name(void *self, lumen_task_ctx *ctx);                \
    __attribute__((constructor)) static void lumen_register_method_##cls##__##name##_(void) \
    {                                                                                  \
        (void)lumen_register_method(#cls, #name, cls##__##name);                      \
    }                                                                                  \
    static lumen_status cls##__##name(void *self, lumen_task_ctx *ctx)

typedef enum lumen_actor_lifetime {
    LUMEN_ACTOR_OWNED = 0,   /* ends when its creator releases it (or the job ends) */
    LUMEN_ACTOR_DETACHED = 1 /* lives until killed or the job ends */
} lumen_actor_lifetime;

#define LUMEN_ACTOR_NUM_CPUS (1ull << 0)
#define LUMEN_ACTOR_NUM_GPUS (1ull << 1)
#define LUMEN_ACTOR_RESOURCES (1ull << 2)
#define LUMEN_ACTOR_NAME (1ull << 3)
#define LUMEN_ACTOR_NAMESPACE (1ull << 4)
#define LUMEN_ACTOR_LIFETIME (1ull << 5)
#define LUMEN_ACTOR_MAX_RESTARTS (1ull << 6)
#define LUMEN_ACTOR_MAX_TASK_RETRIES (1ull << 7)
#define LUMEN_ACTOR_MAX_CONCURRENCY (1ull << 8)
#define LUMEN_ACTOR_MAX_PENDING_CALLS (1ull << 9)
#define LUMEN_ACTOR_SCHEDULING (1ull << 10)
#define LUMEN_ACTOR_GET_IF_EXISTS (1ull << 11)
#define LUMEN_ACTOR_ASYNC (1ull << 12)

#define LUMEN_ACTOR_NAME_MAX 128 /* bytes of a name or namespace, NUL included */

typedef struct lumen_actor_options {
    uint64_t field_mask;
    double num_cpus;        /* held while alive. Not set: as Ray, 1 CPU to place
                               it (a rank with a CPU) and 0 held */
    double num_gpus;        /* default 0 */
    const char *resources;  /* custom, "name=amount,..." */
    const char *name;       /* for lumen_get_actor; unique in its namespace */
    const char *namespace_; /* default "" */
    lumen_actor_lifetime lifetime;
    int max_restarts;       /* default 0; -1: without limit */
    int max_task_retries;   /* calls retried after a restart; default 0, -1: no limit */
    int max_concurrency;    /* methods running at once (threads); default 1 */
    int max_pending_calls;  /* per caller rank; -1 (default): no limit */
    lumen_scheduling_strategy scheduling;
    int get_if_exists;      /* named: return the existing actor instead of failing */
    int is_async;           /* an async actor (Ray: a class with async methods):
                               ONE thread runs every method, and up to
                               max_concurrency calls (default 1000 here) are in
                               flight at once, parked in lumen_await */
} lumen_actor_options;

/* Create an actor of class `cls` (Cls.options(...).remote(*args)). Returns
 * the handle at once; the constructor runs on a rank with the resources and
 * calls queue until it has. Fails at once on an unknown class, infeasible
 * resources (LUMEN_ERR_INFEASIBLE) or a taken name (LUMEN_ERR_ALREADY_EXISTS). */
lumen_status lumen_actor_create(const char *cls, const lumen_arg *args, size_t nargs,
                                const lumen_actor_options *opts, lumen_actor *out);

#define LUMEN_CALL_NUM_RETURNS (1ull << 0)
#define LUMEN_CALL_GENERATOR_BACKPRESSURE (1ull << 1)
typedef struct lumen_call_options {
    uint64_t field_mask;
    int num_returns; /* default 1 */
    int generator_backpressure_num_objects; /* lumen_actor_call_generator: as
                        in lumen_task_options; 0 or not set: no bound */
} lumen_call_options;

/* Call a method: writes num_returns references at once (like lumen_remote).
 * Calls from one rank to one actor run in the order they were made. Errors
 * arrive as error objects: LUMEN_ERR_TASK_FAILED (the method failed),
 * LUMEN_ERR_UNKNOWN_FUNCTION (no such method), LUMEN_ERR_ACTOR_DIED (the
 * message names the actor and the cause). Returns
 * LUMEN_ERR_PENDING_CALLS_EXCEEDED when this rank already has
 * max_pending_calls calls to the actor unfinished. */
lumen_status lumen_actor_call(lumen_actor actor, const char *method, const lumen_arg *args, size_t nargs,
                              const lumen_call_options *opts, lumen_ref *returns);

/* LUMEN_ACTOR_CALL(&ref, actor, "method", LUMEN_ARG(x), ...): one return */
#define LUMEN_ACTOR_CALL(ret, actor, method, ...)                                      \
    lumen_actor_call((actor), (method), (const lumen_arg[]){__VA_ARGS__},               \
                     sizeof((const lumen_arg[]){__VA_ARGS__}) / sizeof(lumen_arg), NULL, \
                     (ret))
/* the same without arguments */
#define LUMEN_ACTOR_CALL0(ret, actor, method) lumen_actor_call((actor), (method), NULL, 0, NULL, (ret))

/* A method as a streaming generator (Ray: an actor method with
 * num_returns="streaming"): the method yields with lumen_yield_* and the
 * caller takes items with lumen_generator_next, as for
 * lumen_remote_generator. The call keeps its place in this rank's order of
 * calls to the actor; while it runs (or is paused by back-pressure) it holds
 * one of the actor's max_concurrency slots. Not retried after an actor
 * restart; an actor dying mid-stream ends it with LUMEN_ERR_ACTOR_DIED after
 * the items it yielded. */
lumen_status lumen_actor_call_generator(lumen_actor actor, const char *method, const lumen_arg *args, size_t nargs,
                                        const lumen_call_options *opts, lumen_generator **out);

/* A reference that becomes I64 1 when the constructor has run (ordered after
 * this rank's earlier calls), or the actor's death error. */
lumen_status lumen_actor_ready(lumen_actor actor, lumen_ref *out);
/* ray.get_actor(name, namespace): find a named actor from any rank.
 * namespace_ NULL means "". LUMEN_ERR_NOT_FOUND if there is none alive. */
lumen_status lumen_get_actor(const char *name, const char *namespace_, lumen_actor *out);
/* ray.kill: end the actor now. Queued calls fail with LUMEN_ERR_ACTOR_DIED;
 * a method already running finishes. no_restart=0 lets max_restarts apply. */
lumen_status lumen_actor_kill(lumen_actor actor, int no_restart);
/* actor.__ray_terminate__: end the actor after the calls this rank made
 * before it; no restart. */
lumen_status lumen_actor_terminate(lumen_actor actor);
/* Drop this handle. On the creating rank, an OWNED actor then ends after
 * its pending calls (Ray: the handle went out of scope); elsewhere, and for
 * DETACHED actors, only this rank's bookkeeping goes. */
lumen_status lumen_actor_release(lumen_actor actor);

/* Inside a method: ray.actor.exit_actor(). The actor ends after this method
 * returns (its result is delivered); no restart; later calls fail. */
lumen_status lumen_actor_exit(lumen_task_ctx *ctx);
/* Inside a method: the actor hits a fatal error (as a Ray worker crash). The
 * call fails with LUMEN_ERR_ACTOR_DIED, the actor dies, and with
 * max_restarts its constructor runs again and pending calls are retried up
 * to max_task_retries. Returns LUMEN_ERR_ACTOR_DIED for `return`. */
lumen_status lumen_actor_fatal(lumen_task_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- resources and runtime context -------------------------------------- */
#define LUMEN_MAX_RESOURCES 18
#define LUMEN_MAX_GPU_IDS 16

typedef struct lumen_resources {
    size_t count;
    struct {
        char name[32]; /* "CPU", "GPU", "memory", custom names */
        double amount;
    } r[LUMEN_MAX_RESOURCES];
} lumen_resources;
/* amount of `name` in r (0 if absent) */
double lumen_resources_get(const lumen_resources *r, const char *name);

/* ray.cluster_resources(): totals of every rank. */
lumen_status lumen_cluster_resources(lumen_resources *out);
/* ray.available_resources(): what is free now on every rank (asks them). */
lumen_status lumen_available_resources(lumen_resources *out);
/* The totals one rank offers. */
lumen_status lumen_rank_resources(int rank, lumen_resources *out);

typedef struct lumen_runtime_context {
    int rank, node_id, world_size;
    int in_task;                      /* called inside a task or actor method */
    char task_id[33];                 /* hex id of the running task ("" outside) */
    const char *function;             /* name of the running function or method */
    lumen_actor actor;                /* the running actor (NIL outside one) */
    lumen_resources assigned;         /* resources the running task holds */
    int num_gpu_ids;                  /* GPUs assigned to it (Ray's get_gpu_ids) */
    int gpu_ids[LUMEN_MAX_GPU_IDS];
    char job_id[17];                  /* hex id of the job (same on every rank) */
    char job_dir[512];                /* the per-job folder (spill files; the driver's
                                         node also keeps state.json there) */
    /* this rank's host, as hwloc sees it */
    int numa_domains;                 /* NUMA domains of the host (1 without NUMA) */
    int numa_node;                    /* the domain this rank's CPUs are in; -1 when
                                         its binding spans several */
    int host_cores;                   /* physical cores of the host */
    uint64_t host_memory;             /* bytes of memory of the host */
} lumen_runtime_context;
/* ray.get_runtime_context() for the calling thread. */
lumen_status lumen_get_runtime_context(lumen_runtime_context *out);

/* ---- observability ------------------------------------------------------ */
/* ray.timeline(filename): write every rank's record of the tasks, actor
 * methods and constructors it ran (function, rank, node, start, end, bytes
 * of arguments) as Chrome trace JSON, which chrome://tracing and Perfetto
 * load. Any rank may call it; every rank answers. LUMEN_TIMELINE=path makes
 * the driver write it at lumen_finalize. */
lumen_status lumen_timeline(const char *path);

/* Ray's state API (`ray list actors`, `ray status`): what the job holds now,
 * as a JSON text the caller frees with lumen_free. `what` is one of
 * "actors", "placement_groups", "nodes" (answered by the control store on
 * rank 0), "tasks", "objects" (every rank answers for what it owns), or
 * "status" (a summary: ranks, resources, counts). */
lumen_status lumen_state(const char *what, char **json);
void lumen_free(void *p);

/* Log lines as lumen writes its own: "<time> LEVEL lumen rank=R
 * [function=f|actor=C method=m] task=<id>: message". LUMEN_LOG_LEVEL
 * (error, warning, info, debug; default warning) filters; LUMEN_LOG_DIR
 * writes <dir>/rank-R.log per rank instead of stderr. */
typedef enum lumen_log_level {
    LUMEN_LOG_ERROR = 0,
    LUMEN_LOG_WARNING = 1,
    LUMEN_LOG_INFO = 2,
    LUMEN_LOG_DEBUG = 3
} lumen_log_level;
lumen_status lumen_log(lumen_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The end of an allocation (Slurm's SIGTERM, or `sbatch --signal=USR1@T`):
 * lumen catches SIGTERM and SIGUSR1 unless the program handles them, tells
 * every rank, and runs the registered hooks on each (in order, not in a
 * signal handler), then lumen_preempted() returns 1: the program's loop
 * should stop and call lumen_finalize. With LUMEN_TIMELINE set the driver
 * writes the timeline then. Register on every rank that should checkpoint. */
lumen_status lumen_register_checkpoint_hook(void (*fn)(void *arg), void *arg);
int lumen_preempted(void);

/* ---- asynchronous completion --------------------------------------------
 * Learning that references are ready without a thread blocked per reference
 * (Ray: awaiting ObjectRefs in asyncio, ray.wait over thousands of refs,
 * ObjectRef.future()). Any rank, any thread, thousands of references at once.
 *
 * A completion queue collects references as they settle: lumen_cq_add
 * watches one (the queue holds its own hold on the object until it fires, so
 * the caller may release its reference meanwhile), lumen_cq_wait takes what
 * has settled, in the order it settled. Settled means a value is known (it
 * may still live on another node: lumen_get then copies it) or an error. */
typedef struct lumen_completion_queue lumen_completion_queue;

typedef struct lumen_completion {
    lumen_ref ref;        /* the reference given to lumen_cq_add (same value) */
    uint64_t tag;         /* the tag given to lumen_cq_add */
    lumen_status status;  /* LUMEN_OK (a value) or the object's error, as
                             lumen_get would return it (TASK_FAILED, ACTOR_DIED...) */
} lumen_completion;

lumen_status lumen_cq_create(lumen_completion_queue **out);
/* Watch `ref`; when it settles, a completion with `tag` enters the queue
 * (at once if it already has). */
lumen_status lumen_cq_add(lumen_completion_queue *cq, lumen_ref ref, uint64_t tag);
/* Take up to `max` completions into out, waiting up to timeout_ms
 * (LUMEN_TIMEOUT_INFINITE, 0: poll) for the first. *n is how many were
 * taken; 0 after the timeout, or at once when nothing is watched. Any
 * thread may wait; each completion goes to one waiter. */
lumen_status lumen_cq_wait(lumen_completion_queue *cq, lumen_completion *out, size_t max, int64_t timeout_ms,
                           size_t *n);
/* References watched and not yet taken with lumen_cq_wait. */
size_t lumen_cq_outstanding(const lumen_completion_queue *cq);
/* Free the queue. Completions not taken are dropped; watches still armed
 * end quietly (their holds go when the objects settle). The handle is dead
 * afterwards: no thread may use it (or destroy it again). */
lumen_status lumen_cq_destroy(lumen_completion_queue *cq);

/* A completion callback (ObjectRef._on_completed): fn(ref, status, arg) runs
 * once, on lumen's progress thread of this rank, soon after `ref` settles
 * (or at once there if it has). It must be short and must not block: lumen_get,
 * lumen_wait and lumen_cq_wait with a timeout other than 0 fail there with
 * LUMEN_ERR_INVALID_ARG; submitting, putting, releasing and lumen_cq_* are
 * fine. Callbacks still waiting when the job ends run during lumen_finalize
 * (status LUMEN_ERR_SHUTDOWN if their object never settled), so they can
 * free `arg`; lumen calls inside them then fail. */
typedef void (*lumen_ready_fn)(lumen_ref ref, lumen_status status, void *arg);
lumen_status lumen_ref_on_ready(lumen_ref ref, lumen_ready_fn fn, void *arg);

/* Async actors (lumen_actor_options.is_async). A method of an async actor
 * may await references instead of blocking its thread: it calls lumen_await
 * and returns what lumen_await returned (LUMEN_PENDING). The call stays in
 * flight; when every reference has settled, the continuation k(self, ctx,
 * state) runs on the actor's thread with the same ctx: it reads the values
 * with lumen_get(ref, 0, ...), sets the returns and returns LUMEN_OK (or an
 * error, or awaits again). Calls start in order; with up to max_concurrency
 * in flight, their continuations run as their references settle. The
 * references must stay held (by the caller of lumen_await) until k runs;
 * `refs` itself is copied. n may be 0 (k runs at the next turn). Outside a
 * method of an async actor, lumen_await fails with LUMEN_ERR_INVALID_ARG.
 * When the actor ends (killed, exited, failed, the job ends) with calls
 * awaiting, each continuation runs once more with lumen_await_cancelled(ctx)
 * true (Ray: CancelledError in the coroutine) so it can free its state; the
 * references it awaited may be unsettled, its returns are dropped and the
 * caller gets LUMEN_ERR_ACTOR_DIED. */
typedef lumen_status (*lumen_continuation_fn)(void *self, lumen_task_ctx *ctx, void *state);
lumen_status lumen_await(lumen_task_ctx *ctx, const lumen_ref *refs, size_t n, lumen_continuation_fn k,
                         void *state);
int lumen_await_cancelled(const lumen_task_ctx *ctx);

/* ---- introspection ------------------------------------------------------ */
typedef struct lumen_store_stats {
    size_t capacity;      /* bytes of this node's store */
    size_t used;          /* bytes allocated */
    size_t num_objects;   /* objects in memory */
    size_t num_spilled;   /* objects currently on disk */
    size_t spilled_bytes; /* bytes written to disk so far */
    size_t restored;      /* objects read back from disk so far */
    size_t device_objects; /* device objects (lumen/device.h) held by this rank */
    size_t device_bytes;   /* their bytes, in device memory */
} lumen_store_stats;
lumen_status lumen_store_stats_get(lumen_store_stats *out);

#ifdef __cplusplus
}
#endif
#endif
