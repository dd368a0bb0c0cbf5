/*
 * init.c - lumen's lifecycle on a rank: init (MPI, node discovery,
 * resources, the node store, threads) and finalize (the driver's SHUTDOWN,
 * draining, the closing barrier, cleanup of the per-job folder).
 *
 * Per-job state lives in <tmp>/lumen-<jobid>/ (spill folders), the store's
 * shared memory is unlinked as soon as every rank of the node mapped it, so
 * a crashed job leaves no segment behind.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "device/device.h"
#include "lumen/mpi.h"
#include "runtime/config.h"
#include "actor/actor.h"
#include "collective/coll.h"
#include "observe/observe.h"
#include "placement/placement.h"
#include "runtime/runtime.h"
#include "transport/mpi/mpi_transport.h"
#ifdef LUMEN_HAVE_UCX
#include "transport/ucx/ucx_transport.h"
#endif

lm_rt *lm_g;
static unsigned init_count;

#define MPI_TRY(call, what)                                                              \
    do {                                                                                 \
        if ((call) != MPI_SUCCESS) {                                                     \
            st = lm_error(LUMEN_ERR_MPI, "%s failed", what);                            \
            goto out;                                                                    \
        }                                                                                \
    } while (0)

/* LUMEN_TRANSPORT / options.transport: 1 for UCX, 0 for MPI. */
static lumen_status read_transport(const lumen_init_options *o, int *use_ucx)
{
    const char *name = getenv("LUMEN_TRANSPORT");
    if (o && (o->field_mask & LUMEN_INIT_TRANSPORT))
        name = o->transport;
#ifdef LUMEN_HAVE_UCX
    *use_ucx = 1;
#else
    *use_ucx = 0;
#endif
    if (!name || !*name)
        return LUMEN_OK;
    if (!strcmp(name, "mpi")) {
        *use_ucx = 0;
    } else if (!strcmp(name, "ucx")) {
        if (!*use_ucx)
            return lm_error(LUMEN_ERR_INVALID_ARG, "transport 'ucx' asked for, but lumen was built without UCX "
                                                   "(LUMEN_WITH_UCX=OFF); use 'mpi'");
    } else {
        return lm_error(LUMEN_ERR_INVALID_ARG, "unknown transport '%s' (LUMEN_TRANSPORT takes ucx or mpi)", name);
    }
    return LUMEN_OK;
}

static lumen_status create_transport(lm_rt *rt, int use_ucx)
{
#ifdef LUMEN_HAVE_UCX
    if (use_ucx) {
        void *base = NULL;
        size_t len = 0;
        if (rt->store)
            lm_store_region(rt->store, &base, &len);
        return lm_ucx_transport_create(rt->comm, base, len, &rt->tp);
    }
#else
    (void)use_ucx;
#endif
    return lm_mpi_transport_create(rt->comm, &rt->tp);
}

static lumen_status read_config(lm_rt *rt, const lumen_init_options *o, int *rank_is_node,
                                double *cpus, double *gpus, size_t *capacity, const char **spill_base)
{
    uint64_t f = o ? o->field_mask : 0;
    size_t sz;
    double d;
    rt->inline_threshold = 100 * 1024; /* Ray's max_direct_call_object_size */
    if (lm_env_size("LUMEN_INLINE_THRESHOLD", &sz) > 0)
        rt->inline_threshold = sz;
    if (f & LUMEN_INIT_INLINE_THRESHOLD)
        rt->inline_threshold = o->inline_threshold;
    rt->spin_ns = 2000000; /* 2 ms: well above the ~80 us wake-up cost */
    if (lm_env_size("LUMEN_SPIN_US", &sz) > 0)
        rt->spin_ns = (uint64_t)sz * 1000;
    rt->steal = getenv("LUMEN_STEAL") ? lm_env_flag("LUMEN_STEAL") : 1;
    rt->max_inflight = 64;
    rt->store_wait_ns = 10000000000ull; /* 10 s */
    if (lm_env_size("LUMEN_STORE_WAIT_MS", &sz) > 0)
        rt->store_wait_ns = (uint64_t)sz * 1000000ull;
    if (lm_env_size("LUMEN_MAX_INFLIGHT", &sz) > 0 && sz > 0)
        rt->max_inflight = (int)sz;
    *rank_is_node = lm_env_flag("LUMEN_RANK_IS_NODE");
    if (f & LUMEN_INIT_RANK_IS_NODE)
        *rank_is_node = o->rank_is_node != 0;
    *cpus = -1;
    if (lm_env_double("LUMEN_NUM_CPUS", &d) > 0)
        *cpus = d;
    if (f & LUMEN_INIT_NUM_CPUS)
        *cpus = o->num_cpus;
    *gpus = -1; /* detect */
    if (lm_env_double("LUMEN_NUM_GPUS", &d) > 0)
        *gpus = d;
    if (f & LUMEN_INIT_NUM_GPUS)
        *gpus = o->num_gpus;
    if ((*cpus != -1 && (!(*cpus >= 0) || isinf(*cpus) || *cpus > 4096)) ||
        (*gpus != -1 && (!(*gpus >= 0) || *gpus > LUMEN_MAX_GPU_IDS)))
        return lm_error(LUMEN_ERR_INVALID_ARG, "num_cpus must be in 0..4096 and num_gpus in 0..%d", LUMEN_MAX_GPU_IDS);
    *capacity = 0;
    if (lm_env_size("LUMEN_STORE_CAPACITY", &sz) < 0)
        return lm_error(LUMEN_ERR_INVALID_ARG, "LUMEN_STORE_CAPACITY is malformed");
    lm_env_size("LUMEN_STORE_CAPACITY", capacity);
    if (f & LUMEN_INIT_STORE_CAPACITY)
        *capacity = o->store_capacity;
    *spill_base = getenv("LUMEN_SPILL_DIR");
    if (f & LUMEN_INIT_SPILL_DIR)
        *spill_base = o->spill_dir;
    if (!*spill_base || !**spill_base)
        *spill_base = getenv("TMPDIR");
    if (!*spill_base || !**spill_base)
        *spill_base = "/tmp";
    return LUMEN_OK;
}

/* Resource table: every rank's custom names merged, then every rank's amounts. */
static lumen_status exchange_resources(lm_rt *rt, const lumen_init_options *o, double cpus, double gpus,
                                       int phys_ranks)
{
    lumen_status st = LUMEN_OK;
    double mine[LM_MAX_RES] = {0};
    char names[LM_MAX_RES - 2][32];
    char *all = NULL;
    rt->nres = 2;
    strcpy(rt->resname[0], "CPU");
    strcpy(rt->resname[1], "GPU");
    const char *spec = (o && (o->field_mask & LUMEN_INIT_RESOURCES)) ? o->resources : getenv("LUMEN_RESOURCES");
    if ((st = lm_parse_resources(rt, spec, mine, 1)) != LUMEN_OK)
        return st;
    /* Ray's "memory" resource: bytes for tasks and actors to reserve, this
     * rank's share of the host's memory (or cgroup limit) beyond the 30% the
     * object store takes by default; a value set above wins */
    int mem;
    for (mem = 2; mem < rt->nres && strcmp(rt->resname[mem], "memory"); mem++)
        ;
    if (mem == rt->nres && rt->nres < LM_MAX_RES) {
        strcpy(rt->resname[rt->nres++], "memory");
        mine[mem] = floor((double)lm_memory_limit() * 0.7 / (phys_ranks > 0 ? phys_ranks : 1));
    }
    mine[0] = cpus;
    mine[1] = gpus;
    int nlocal = rt->nres - 2;
    memset(names, 0, sizeof names);
    for (int k = 0; k < nlocal; k++)
        strcpy(names[k], rt->resname[k + 2]);
    double mine_named[LM_MAX_RES];
    memcpy(mine_named, mine, sizeof mine);
    all = calloc((size_t)rt->size, sizeof names);
    if (!all)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
    MPI_TRY(MPI_Allgather(names, (int)sizeof names, MPI_BYTE, all, (int)sizeof names, MPI_BYTE, rt->comm),
            "MPI_Allgather(resource names)");
    /* union of names in rank order: the same table on every rank */
    rt->nres = 2;
    for (int r = 0; r < rt->size; r++) {
        char (*rn)[32] = (char (*)[32])(all + (size_t)r * sizeof names);
        for (int k = 0; k < LM_MAX_RES - 2 && rn[k][0]; k++) {
            int j;
            for (j = 2; j < rt->nres && strcmp(rt->resname[j], rn[k]); j++)
                ;
            if (j == rt->nres) {
                if (rt->nres == LM_MAX_RES) {
                    st = lm_error(LUMEN_ERR_OUT_OF_RANGE, "more than %d custom resources in the job", LM_MAX_RES - 2);
                    goto out;
                }
                memcpy(rt->resname[rt->nres++], rn[k], 32);
            }
        }
    }
    /* my amounts in the global order */
    memset(mine, 0, sizeof mine);
    mine[0] = mine_named[0];
    mine[1] = mine_named[1];
    for (int k = 0; k < nlocal; k++)
        for (int j = 2; j < rt->nres; j++)
            if (!strcmp(rt->resname[j], names[k]))
                mine[j] = mine_named[k + 2];
    rt->res_total = calloc((size_t)rt->size * LM_MAX_RES, sizeof(double));
    rt->res_reserved = calloc((size_t)rt->size * LM_MAX_RES, sizeof(double));
    if (!rt->res_total || !rt->res_reserved) {
        st = lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
        goto out;
    }
    MPI_TRY(MPI_Allgather(mine, LM_MAX_RES, MPI_DOUBLE, rt->res_total, LM_MAX_RES, MPI_DOUBLE, rt->comm),
            "MPI_Allgather(resources)");
    memcpy(rt->avail, mine, sizeof mine);
out:
    free(all);
    return st;
}

static lumen_status setup_store(lm_rt *rt, MPI_Comm node_comm, size_t capacity, int phys_ranks,
                                const char *spill_base)
{
    lumen_status st = LUMEN_OK;
    if (capacity == 0) {
        /* 30% of what the job may use on this host, shared by its stores */
        capacity = lm_memory_limit() / 10 * 3;
        int stores = rt->node_size == phys_ranks ? 1 : phys_ranks;
        capacity /= (size_t)(stores > 0 ? stores : 1);
    }
    size_t prefault = 256u << 20;
    lm_env_size("LUMEN_STORE_PREFAULT", &prefault);
    if (prefault > capacity)
        prefault = capacity;
    snprintf(rt->store_name, sizeof rt->store_name, "/lumen-%llx-%d", (unsigned long long)rt->job_id,
             rt->node_id);
    snprintf(rt->job_dir, sizeof rt->job_dir, "%s/lumen-%llx", spill_base, (unsigned long long)rt->job_id);
    snprintf(rt->spill_dir, sizeof rt->spill_dir, "%s/spill-node%d", rt->job_dir, rt->node_id);
    int ok = 1, all_ok = 1;
    if (rt->node_rank == 0) {
        /* the job folder appears only when something spills (mkdir -p in spill.c) */
        lm_store_config cfg = {.name = rt->store_name, .capacity = capacity, .max_objects = 0,
                               .prefault = prefault, .spill_dir = rt->spill_dir};
        st = lm_store_create(&cfg, &rt->store);
        ok = st == LUMEN_OK;
    }
    MPI_TRY(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, node_comm), "MPI_Allreduce(store)");
    if (!all_ok) {
        if (st == LUMEN_OK)
            st = lm_error(LUMEN_ERR_IO, "the node leader could not create the object store");
        goto out;
    }
    if (rt->node_rank != 0) /* NULL: spill where the node leader chose */
        st = lm_store_attach(rt->store_name, NULL, &rt->store);
    ok = st == LUMEN_OK;
    MPI_TRY(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, node_comm), "MPI_Allreduce(store)");
    if (rt->node_rank == 0 && rt->store)
        lm_store_unlink_name(rt->store);
    if (!all_ok && st == LUMEN_OK)
        st = lm_error(LUMEN_ERR_IO, "a rank of this node could not map the object store");
out:
    return st;
}

static void rt_free(lm_rt *rt)
{
    lm_gcs_free(rt);
    lm_actor_clients_free(rt);
    lm_actor_host_free(rt);
    lm_timeline_free(rt);
    lm_log_close();
    while (rt->discards) { /* the job is over: nobody to give weight back to */
        lm_task *t = rt->discards;
        rt->discards = t->next;
        lm_task_free(t);
    }
    lm_pgs_free(rt);
    lm_bundles_free(rt);
    free(rt->spread_order);
    free(rt->node_of);
    free(rt->host_of);
    free(rt->topo_of);
    free(rt->inflight);
    free(rt->sent_count);
    free(rt->recv_count);
    free(rt->res_total);
    free(rt->res_reserved);
    free(rt);
}

static lumen_status start(MPI_Comm parent, int owns_mpi, const lumen_init_options *opts)
{
    lumen_status st = LUMEN_OK;
    MPI_Comm node_comm = MPI_COMM_NULL, phys_comm = MPI_COMM_NULL;
    lm_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the runtime");
    rt->comm = MPI_COMM_NULL;
    rt->owns_mpi = owns_mpi;
    pthread_mutex_init(&rt->lock, NULL);
    pthread_cond_init(&rt->ready_cv, NULL);
    pthread_mutex_init(&rt->exec_lock, NULL);
    pthread_cond_init(&rt->exec_cv, NULL);
    pthread_mutex_init(&rt->progress_lock, NULL);
    pthread_mutex_init(&rt->outbox_lock, NULL);
    pthread_mutex_init(&rt->sleep_lock, NULL);
    pthread_cond_init(&rt->sleep_cv, NULL);
    pthread_mutex_init(&rt->actor_lock, NULL);
    pthread_mutex_init(&rt->cb_lock, NULL);
    rt->next_tag = LM_TAG_DATA_MIN;

    int rank_is_node = 0, use_ucx = 0;
    double cpus = -1, gpus = 0;
    size_t capacity = 0;
    const char *spill_base = "/tmp";
    if ((st = read_config(rt, opts, &rank_is_node, &cpus, &gpus, &capacity, &spill_base)) != LUMEN_OK ||
        (st = read_transport(opts, &use_ucx)) != LUMEN_OK)
        goto out;
    MPI_TRY(MPI_Comm_dup(parent, &rt->comm), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(rt->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(rt->comm, &rt->rank);
    MPI_Comm_size(rt->comm, &rt->size);

    /* job id from the driver: names the shm segments and the job folder */
    uint64_t job = ((uint64_t)getpid() << 24) ^ (uint64_t)time(NULL) ^ ((uint64_t)init_count << 56);
    MPI_TRY(MPI_Bcast(&job, 1, MPI_UINT64_T, 0, rt->comm), "MPI_Bcast(job id)");
    rt->job_id = job;
    rt->epoch = (unsigned)((job + init_count) & 0xff);

    /* nodes: ranks sharing memory, or each rank alone when asked */
    MPI_TRY(MPI_Comm_split_type(rt->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &phys_comm),
            "MPI_Comm_split_type");
    int phys_ranks;
    MPI_Comm_size(phys_comm, &phys_ranks);
    if (rank_is_node)
        MPI_TRY(MPI_Comm_split(rt->comm, rt->rank, 0, &node_comm), "MPI_Comm_split");
    else
        MPI_TRY(MPI_Comm_dup(phys_comm, &node_comm), "MPI_Comm_dup");
    MPI_Comm_rank(node_comm, &rt->node_rank);
    MPI_Comm_size(node_comm, &rt->node_size);
    MPI_TRY(MPI_Allreduce(&rt->rank, &rt->node_id, 1, MPI_INT, MPI_MIN, node_comm), "MPI_Allreduce(node)");
    rt->node_of = calloc((size_t)rt->size, sizeof(int));
    rt->inflight = calloc((size_t)rt->size, sizeof(int));
    rt->sent_count = calloc((size_t)rt->size, sizeof(int64_t));
    rt->recv_count = calloc((size_t)rt->size, sizeof(int64_t));
    if (!rt->node_of || !rt->inflight || !rt->sent_count || !rt->recv_count) {
        st = lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
        goto out;
    }
    MPI_TRY(MPI_Allgather(&rt->node_id, 1, MPI_INT, rt->node_of, 1, MPI_INT, rt->comm), "MPI_Allgather(nodes)");
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    rt->host_of = calloc((size_t)rt->size, sizeof *rt->host_of);
    if (!rt->host_of) {
        st = lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
        goto out;
    }
    MPI_TRY(MPI_Allgather(host, 64, MPI_CHAR, rt->host_of, 64, MPI_CHAR, rt->comm), "MPI_Allgather(hosts)");
    lm_topo topo;
    lm_topology(&topo);
    rt->topo_of = calloc((size_t)rt->size, sizeof *rt->topo_of);
    if (!rt->topo_of) {
        st = lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
        goto out;
    }
    MPI_TRY(MPI_Allgather(&topo, (int)sizeof topo, MPI_BYTE, rt->topo_of, (int)sizeof topo, MPI_BYTE, rt->comm),
            "MPI_Allgather(topology)");

    if (cpus < 0) {
        /* our share of the CPUs we may run on: the binding, or the allowed set split among the host's ranks */
        int all;
        int n = lm_cpus_bound(&all);
        cpus = all ? floor((double)n / phys_ranks) : n;
        /* under Slurm without a binding, the task's CPUs are what it asked for */
        double per_task;
        if (all && lm_env_double("SLURM_CPUS_PER_TASK", &per_task) > 0 && per_task >= 1 && per_task < cpus)
            cpus = per_task;
        if (cpus < 1)
            cpus = 1;
    }
    if ((st = lm_gpus_setup(rt, node_comm, &gpus)) != LUMEN_OK)
        goto out;
    if ((st = exchange_resources(rt, opts, cpus, gpus, phys_ranks)) != LUMEN_OK)
        goto out;
    if ((st = setup_store(rt, node_comm, capacity, phys_ranks, spill_base)) != LUMEN_OK)
        goto out;
    if ((st = create_transport(rt, use_ucx)) != LUMEN_OK)
        goto out;
    if ((st = lm_sched_init(rt)) != LUMEN_OK || (rt->rank == 0 && (st = lm_gcs_start(rt)) != LUMEN_OK))
        goto out;
    lm_crash_install(rt);
    lm_log_open(rt);
    lm_output_start(rt);
    lm_log(LUMEN_LOG_INFO, "started: %d ranks, node %d, CPU=%g GPU=%g", rt->size, rt->node_id,
           rt->res_total[(size_t)rt->rank * LM_MAX_RES], rt->res_total[(size_t)rt->rank * LM_MAX_RES + 1]);
    lm_preempt_install();
    lm_g = rt;
    if ((st = lm_executor_start(rt)) != LUMEN_OK || (st = lm_progress_start(rt)) != LUMEN_OK) {
        lm_g = NULL;
        goto out;
    }
    init_count++;
out:
    if (node_comm != MPI_COMM_NULL)
        MPI_Comm_free(&node_comm);
    if (phys_comm != MPI_COMM_NULL)
        MPI_Comm_free(&phys_comm);
    if (st != LUMEN_OK) {
        /* collective failure paths are best effort: report, release what we hold */
        if (rt->tp)
            rt->tp->ops->destroy(rt->tp);
        if (rt->store)
            lm_store_close(rt->store, rt->node_rank == 0);
        if (rt->comm != MPI_COMM_NULL)
            MPI_Comm_free(&rt->comm);
        rt_free(rt);
        if (owns_mpi)
            MPI_Finalize();
    }
    return st;
}

lumen_status lumen_init(int *argc, char ***argv, const lumen_init_options *opts)
{
    if (lm_g)
        return lm_error(LUMEN_ERR_ALREADY_INITIALIZED, "lumen_init called twice");
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (inited) {
        MPI_Query_thread(&provided);
        if (provided < MPI_THREAD_SERIALIZED)
            return lm_error(LUMEN_ERR_MPI, "MPI was initialised below MPI_THREAD_SERIALIZED");
        return start(MPI_COMM_WORLD, 0, opts);
    }
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return lm_error(LUMEN_ERR_MPI, "MPI_Init_thread failed");
    if (provided < MPI_THREAD_SERIALIZED) {
        MPI_Finalize();
        return lm_error(LUMEN_ERR_MPI, "this MPI does not provide MPI_THREAD_SERIALIZED");
    }
    return start(MPI_COMM_WORLD, 1, opts);
}

lumen_status lumen_init_comm(MPI_Comm comm, const lumen_init_options *opts)
{
    if (lm_g)
        return lm_error(LUMEN_ERR_ALREADY_INITIALIZED, "lumen_init called twice");
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "lumen_init_comm needs MPI to be initialised");
    if (comm == MPI_COMM_NULL)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_init_comm: MPI_COMM_NULL");
    MPI_Query_thread(&provided);
    if (provided < MPI_THREAD_SERIALIZED)
        return lm_error(LUMEN_ERR_MPI, "MPI was initialised below MPI_THREAD_SERIALIZED");
    return start(comm, 0, opts);
}

static int shutdown_seen(lm_rt *rt, void *arg)
{
    (void)arg;
    return atomic_load(&rt->shutdown);
}

/* Main thread, no other lumen thread left: finish sends, then leave together. */
static void drain_and_barrier(lm_rt *rt)
{
    /* bounded: a receive posted for a fetch the shutdown interrupted may
     * never be matched; the transport cancels it when destroyed */
    uint64_t give_up = lm_now_ns() + 5000000000ull;
    do
        lm_progress(rt);
    while ((atomic_load(&rt->outbox_n) > 0 || rt->tp->ops->pending(rt->tp) > 0) && lm_now_ns() < give_up);
    MPI_Request req;
    int done = 0;
    MPI_Ibarrier(rt->comm, &req);
    while (!done) {
        lm_progress(rt); /* still answering: a peer may wait on us */
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    }
    /* Everyone is here and nobody starts anything new. Stop answering, learn
     * how many control messages each peer sent us, and read exactly those,
     * so no message is left unmatched when the communicator goes. */
    rt->closing = 1;
    int64_t *expect = calloc((size_t)rt->size, sizeof *expect);
    if (expect && MPI_Alltoall(rt->sent_count, 1, MPI_INT64_T, expect, 1, MPI_INT64_T, rt->comm) == MPI_SUCCESS) {
        uint64_t give_up2 = lm_now_ns() + 5000000000ull;
        for (int r = 0; r < rt->size; r++)
            while (rt->recv_count[r] < expect[r] && lm_now_ns() < give_up2)
                lm_progress(rt);
    }
    free(expect);
}

static void free_tables(lm_rt *rt)
{
    for (size_t b = 0; b < LM_OBJ_BUCKETS; b++) {
        lm_obj *o = rt->objs[b];
        while (o) {
            lm_obj *n = o->hnext;
            lm_watches_abandon(rt, o);
            while (o->deps) {
                lm_dep *d = o->deps;
                o->deps = d->next;
                free(d);
            }
            free(o->data);
            free(o);
            o = n;
        }
    }
    for (size_t b = 0; b < LM_TASK_BUCKETS; b++) {
        lm_task_rec *t = rt->tasks[b];
        while (t) {
            lm_task_rec *n = t->hnext;
            free(t->argbuf);
            free(t);
            t = n;
        }
    }
}

lumen_status lumen_finalize(void)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "lumen_finalize without lumen_init");
    if (rt->rank == 0) {
        /* LUMEN_TIMELINE=path: the driver writes the job's timeline while
         * every rank still answers */
        const char *tl_path = getenv("LUMEN_TIMELINE");
        if (tl_path && *tl_path && lumen_timeline(tl_path) != LUMEN_OK)
            fprintf(stderr, "lumen: LUMEN_TIMELINE: %s\n", lumen_last_error());
        atomic_store(&rt->shutdown, 1);
        for (int r = 1; r < rt->size; r++)
            lm_send_small(rt, r, LM_MSG_SHUTDOWN, (lm_oid){0, 0}, 0, 0);
        lm_progress(rt);
    } else {
        lm_wait_until(rt, shutdown_seen, NULL, 0); /* serve tasks until the driver ends */
    }
    pthread_mutex_lock(&rt->lock);
    pthread_cond_broadcast(&rt->ready_cv);
    pthread_mutex_unlock(&rt->lock);
    /* actors and executors finish their running calls and tasks (a blocked
     * get returns SHUTDOWN); the progress thread stops with them and
     * drain_and_barrier flushes */
    atomic_store(&rt->stop_threads, 1);
    lm_actor_host_stop(rt);
    lm_executor_stop(rt);
    lm_progress_stop(rt);
    drain_and_barrier(rt);
    lm_coll_finalize(rt); /* collective groups' communicators, while rt->comm lives */
    lm_g = NULL;
    lm_outbox_discard(rt);
    rt->tp->ops->destroy(rt->tp);
    free_tables(rt);
    lm_dev_clear(); /* device objects held here; sends reading them ended with the transport */
    lm_callbacks_free(rt); /* after free_tables: abandoned watches join the list */
    lm_store_close(rt->store, rt->node_rank == 0);
    lm_state_remove_rank(rt);
    lm_output_stop();
    if (rt->rank == 0) { /* the state file goes with the job */
        char state[700];
        snprintf(state, sizeof state, "%s/state.json", rt->job_dir);
        unlink(state);
    }
    if (rt->node_rank == 0)
        rmdir(rt->job_dir); /* empty once every node removed its spill folder */
    MPI_Comm_free(&rt->comm);
    int owns = rt->owns_mpi;
    rt_free(rt);
    if (owns)
        MPI_Finalize();
    return LUMEN_OK;
}

int lumen_is_initialized(void) { return lm_g != NULL; }
int lumen_rank(void) { return lm_g ? lm_g->rank : -1; }
int lumen_world_size(void) { return lm_g ? lm_g->size : -1; }
int lumen_is_driver(void) { return lm_g ? lm_g->rank == 0 : 0; }
int lumen_node_id(void) { return lm_g ? lm_g->node_id : -1; }
