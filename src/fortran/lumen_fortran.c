/*
 * lumen_fortran.c - the C half of lumen's Fortran module (src/fortran/lumen.f90).
 *
 * It does what Fortran cannot do portably through iso_c_binding: pass a
 * lumen_ref by value, build the lumen_arg union and the option structs with
 * their field masks, turn a Fortran MPI communicator handle into an MPI_Comm
 * (MPI_Comm_f2c), call the printf-style lumen_task_fail, and keep a per-thread
 * message for errors the Fortran side detects itself (a byte count that is not
 * a whole number of elements, a value that does not fit a default integer).
 * It also keeps the copies of byte and string arguments between their
 * lumen_arg_bytes / lumen_arg_str and the lumen_remote that uses them.
 *
 * These lumen_f_* functions are called only by the module: they are not a C
 * API and may change with it. Owns the per-thread message and the table of
 * argument copies. Every structure shared with Fortran has a twin in
 * lumen_c.f90; lumen_f_arg_layout lets the module check at init that both
 * sides agree.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <lumen.h>
#include <lumen/mpi.h>

/* A remote-call argument as the module builds it (its type lf_arg, bind(C)):
 * every field at a fixed offset, no union. For BYTES and STR, i64 is the
 * handle of the data's copy (lumen_f_data_new). */
typedef struct lumen_f_arg {
    int32_t type;
    int32_t pad_;
    int64_t i64;
    double f64;
    lumen_ref ref;
} lumen_f_arg;

_Static_assert(sizeof(lumen_ref) == 16, "lumen_ref is two uint64_t in lumen_c.f90");
_Static_assert(sizeof(lumen_f_arg) == 40, "lumen_f_arg changed: update lf_arg in lumen_c.f90");
_Static_assert(sizeof(MPI_Fint) == sizeof(int), "lumen.f90 passes MPI_Fint as integer(c_int)");
_Static_assert(sizeof(lumen_status) == sizeof(int), "lumen.f90 reads lumen_status as integer(c_int)");

/* Which optional fields the module passes (its private LF_* parameters). */
enum {
    F_INIT_CPUS = 1,
    F_INIT_GPUS = 2,
    F_INIT_RESOURCES = 4,
    F_INIT_STORE = 8,
    F_INIT_SPILL = 16,
    F_INIT_RANK_IS_NODE = 32,
    F_INIT_INLINE = 64,
};
enum {
    F_TASK_CPUS = 1,
    F_TASK_GPUS = 2,
    F_TASK_RESOURCES = 4,
    F_TASK_RETRIES = 8,
    F_TASK_RETRY_EXC = 16,
};

/* ---- errors the Fortran side finds ----------------------------------------------- */
/* lumen_last_error belongs to the library; the module's own message wins only
 * while the library's message is still the one it saw when the module failed,
 * so a later library error shows instead. */
static _Thread_local char f_msg[512];
static _Thread_local char f_seen[1024];
static _Thread_local int f_set;

static int f_error(int st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int f_error(int st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f_msg, sizeof f_msg, fmt, ap);
    va_end(ap);
    snprintf(f_seen, sizeof f_seen, "%s", lumen_last_error());
    f_set = 1;
    return st;
}

int lumen_f_set_error(int st, const char *msg) { return f_error(st, "%s", msg ? msg : ""); }

/* The same inside a task: also the task's failure message, should it fail with st. */
int lumen_f_task_error(lumen_task_ctx *ctx, int st, const char *msg)
{
    if (ctx)
        (void)lumen_task_fail(ctx, "%s", msg ? msg : "");
    return f_error(st, "%s", msg ? msg : "");
}

const char *lumen_f_last_error(void)
{
    const char *lib = lumen_last_error();
    if (f_set && strcmp(lib, f_seen) == 0)
        return f_msg;
    f_set = 0;
    return lib;
}

/* sizeof and offsets of lumen_f_arg, for the module's check */
void lumen_f_arg_layout(int64_t out[5])
{
    out[0] = (int64_t)sizeof(lumen_f_arg);
    out[1] = (int64_t)offsetof(lumen_f_arg, i64);
    out[2] = (int64_t)offsetof(lumen_f_arg, f64);
    out[3] = (int64_t)offsetof(lumen_f_arg, ref);
    out[4] = (int64_t)sizeof(lumen_ref);
}

/* ---- copies of byte and string arguments ------------------------------------------------ */
/* A Fortran lumen_arg cannot hold its bytes itself: gfortran 12 leaks an
 * allocatable component of a function result built into an array
 * constructor, which is how arguments are written
 * ([lumen_arg_str("x"), ...]). So the copy lives here under a handle that is
 * never reused; the lumen_remote that succeeds with it frees it, and a second
 * use finds no handle and fails cleanly. */
typedef struct f_data {
    struct f_data *next;
    int64_t handle;
    size_t size;  /* bytes, without the NUL added after them */
    char bytes[]; /* size bytes and a NUL */
} f_data;

#define F_DATA_BUCKETS 256
static f_data *f_table[F_DATA_BUCKETS];
static int64_t f_next_handle = 1;
static pthread_mutex_t f_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t f_bucket(int64_t handle) { return (size_t)((uint64_t)handle % F_DATA_BUCKETS); }

/* a copy of size bytes at data; its handle, or 0 without memory */
int64_t lumen_f_data_new(const void *data, int64_t size)
{
    if (size < 0 || (size > 0 && !data))
        return 0;
    f_data *d = malloc(sizeof *d + (size_t)size + 1);
    if (!d)
        return 0;
    if (size > 0)
        memcpy(d->bytes, data, (size_t)size);
    d->bytes[size] = '\0';
    d->size = (size_t)size;
    pthread_mutex_lock(&f_lock);
    d->handle = f_next_handle++;
    d->next = f_table[f_bucket(d->handle)];
    f_table[f_bucket(d->handle)] = d;
    pthread_mutex_unlock(&f_lock);
    return d->handle;
}

/* take the copy out of the table: NULL if used already (or never made) */
static f_data *f_data_take(int64_t handle)
{
    pthread_mutex_lock(&f_lock);
    f_data **pp = &f_table[f_bucket(handle)];
    while (*pp && (*pp)->handle != handle)
        pp = &(*pp)->next;
    f_data *d = *pp;
    if (d)
        *pp = d->next;
    pthread_mutex_unlock(&f_lock);
    return d;
}

static void f_data_put_back(f_data *d)
{
    pthread_mutex_lock(&f_lock);
    d->next = f_table[f_bucket(d->handle)];
    f_table[f_bucket(d->handle)] = d;
    pthread_mutex_unlock(&f_lock);
}

/* ---- lifecycle ------------------------------------------------------------------------ */
/* lumen_init (use_comm 0) or lumen_init_comm(MPI_Comm_f2c(comm)) with the options in `set` */
int lumen_f_init(int use_comm, MPI_Fint comm, int set, double num_cpus, double num_gpus,
                 const char *resources, int64_t store_capacity, const char *spill_dir, int rank_is_node,
                 int64_t inline_threshold)
{
    lumen_init_options o = {0};
    if (set & F_INIT_CPUS) {
        o.field_mask |= LUMEN_INIT_NUM_CPUS;
        o.num_cpus = num_cpus;
    }
    if (set & F_INIT_GPUS) {
        o.field_mask |= LUMEN_INIT_NUM_GPUS;
        o.num_gpus = num_gpus;
    }
    if (set & F_INIT_RESOURCES) {
        o.field_mask |= LUMEN_INIT_RESOURCES;
        o.resources = resources;
    }
    if (set & F_INIT_STORE) {
        if (store_capacity < 0)
            return f_error(LUMEN_ERR_INVALID_ARG, "lumen_init: store_capacity %lld is negative",
                           (long long)store_capacity);
        o.field_mask |= LUMEN_INIT_STORE_CAPACITY;
        o.store_capacity = (size_t)store_capacity;
    }
    if (set & F_INIT_SPILL) {
        o.field_mask |= LUMEN_INIT_SPILL_DIR;
        o.spill_dir = spill_dir;
    }
    if (set & F_INIT_RANK_IS_NODE) {
        o.field_mask |= LUMEN_INIT_RANK_IS_NODE;
        o.rank_is_node = rank_is_node;
    }
    if (set & F_INIT_INLINE) {
        if (inline_threshold < 0)
            return f_error(LUMEN_ERR_INVALID_ARG, "lumen_init: inline_threshold %lld is negative",
                           (long long)inline_threshold);
        o.field_mask |= LUMEN_INIT_INLINE_THRESHOLD;
        o.inline_threshold = (size_t)inline_threshold;
    }
    if (!use_comm)
        return lumen_init(NULL, NULL, &o);
    /* MPI_Comm_f2c needs MPI; without it lumen_init_comm reports NOT_INITIALIZED */
    int inited = 0;
    MPI_Initialized(&inited);
    return lumen_init_comm(inited ? MPI_Comm_f2c(comm) : MPI_COMM_NULL, &o);
}

/* ---- references ----------------------------------------------------------------------- */
int lumen_f_ref_release(const lumen_ref *ref) { return lumen_ref_release(*ref); }
int lumen_f_ref_dup(const lumen_ref *ref, lumen_ref *out) { return lumen_ref_dup(*ref, out); }
int lumen_f_ref_is_nil(const lumen_ref *ref) { return lumen_ref_is_nil(*ref); }
int lumen_f_ref_equal(const lumen_ref *a, const lumen_ref *b) { return lumen_ref_equal(*a, *b); }
void lumen_f_ref_hex(const lumen_ref *ref, char out[33]) { lumen_ref_hex(*ref, out); }
int lumen_f_cancel(const lumen_ref *ref) { return lumen_cancel(*ref); }

/* ---- get ------------------------------------------------------------------------------ */
int lumen_f_get(const lumen_ref *ref, int64_t timeout_ms, int32_t *type, int64_t *i64, double *f64,
                const void **data, int64_t *size, lumen_ref *inner)
{
    lumen_value v;
    memset(&v, 0, sizeof v);
    lumen_status st = lumen_get(*ref, timeout_ms, &v);
    *type = (int32_t)(st == LUMEN_OK ? v.type : LUMEN_TYPE_NONE);
    *i64 = v.i64;
    *f64 = v.f64;
    *data = v.data;
    *size = (int64_t)v.size;
    *inner = v.ref;
    return st;
}

int lumen_f_get_i64(const lumen_ref *ref, int64_t timeout_ms, int64_t *out)
{
    return lumen_get_i64(*ref, timeout_ms, out);
}

int lumen_f_get_f64(const lumen_ref *ref, int64_t timeout_ms, double *out)
{
    return lumen_get_f64(*ref, timeout_ms, out);
}

/* ray.get([...]) of n scalars of one type (LUMEN_TYPE_I64 or F64) into out */
int lumen_f_get_many(const lumen_ref *refs, int64_t n, int64_t timeout_ms, int type, void *out)
{
    if (n < 0)
        return f_error(LUMEN_ERR_INVALID_ARG, "lumen_get: %lld references", (long long)n);
    if (n == 0)
        return LUMEN_OK;
    lumen_value *v = calloc((size_t)n, sizeof *v);
    if (!v)
        return f_error(LUMEN_ERR_NO_MEMORY, "lumen_get: no memory for %lld values", (long long)n);
    lumen_status st = lumen_get_many(refs, (size_t)n, timeout_ms, v);
    for (int64_t i = 0; st == LUMEN_OK && i < n; i++) {
        if (v[i].type != (lumen_type)type) {
            st = f_error(LUMEN_ERR_TYPE_MISMATCH, "lumen_get: refs(%lld) holds type %d, not %d",
                         (long long)i + 1, (int)v[i].type, type);
        } else if (type == LUMEN_TYPE_I64) {
            ((int64_t *)out)[i] = v[i].i64;
        } else {
            ((double *)out)[i] = v[i].f64;
        }
    }
    free(v);
    return st;
}

/* ---- submission ------------------------------------------------------------------------- */
static void f_task_options(lumen_task_options *o, int set, double num_cpus, double num_gpus,
                           const char *resources, int max_retries, int retry_exceptions)
{
    if (set & F_TASK_CPUS) {
        o->field_mask |= LUMEN_TASK_NUM_CPUS;
        o->num_cpus = num_cpus;
    }
    if (set & F_TASK_GPUS) {
        o->field_mask |= LUMEN_TASK_NUM_GPUS;
        o->num_gpus = num_gpus;
    }
    if (set & F_TASK_RESOURCES) {
        o->field_mask |= LUMEN_TASK_RESOURCES;
        o->resources = resources;
    }
    if (set & F_TASK_RETRIES) {
        o->field_mask |= LUMEN_TASK_MAX_RETRIES;
        o->max_retries = max_retries;
    }
    if (set & F_TASK_RETRY_EXC) {
        o->field_mask |= LUMEN_TASK_RETRY_EXCEPTIONS;
        o->retry_exceptions = retry_exceptions;
    }
}

/* lumen_remote with the module's arguments. Byte and string copies are freed
 * when it succeeds and stay for another try when it fails. */
int lumen_f_remote(const char *fn, const lumen_f_arg *fargs, int64_t nargs, int64_t num_returns, int set,
                   double num_cpus, double num_gpus, const char *resources, int max_retries,
                   int retry_exceptions, lumen_ref *returns)
{
    if (nargs < 0 || nargs > LUMEN_MAX_ARGS)
        return f_error(LUMEN_ERR_OUT_OF_RANGE, "lumen_remote('%s'): %lld arguments, at most %d", fn,
                       (long long)nargs, LUMEN_MAX_ARGS);
    if (num_returns < 1 || num_returns > LUMEN_MAX_RETURNS)
        return f_error(LUMEN_ERR_OUT_OF_RANGE, "lumen_remote('%s'): %lld returns, 1 to %d", fn,
                       (long long)num_returns, LUMEN_MAX_RETURNS);
    lumen_arg args[LUMEN_MAX_ARGS];
    f_data *taken[LUMEN_MAX_ARGS];
    int ntaken = 0;
    int st = LUMEN_OK;
    for (int64_t i = 0; i < nargs && st == LUMEN_OK; i++) {
        const lumen_f_arg *a = &fargs[i];
        switch (a->type) {
        case LUMEN_TYPE_I64: args[i] = lumen_arg_i64(a->i64); break;
        case LUMEN_TYPE_F64: args[i] = lumen_arg_f64(a->f64); break;
        case LUMEN_TYPE_REF: args[i] = lumen_arg_ref(a->ref); break;
        case LUMEN_TYPE_STR:
        case LUMEN_TYPE_BYTES: {
            f_data *d = NULL;
            for (int j = 0; j < ntaken && !d; j++) /* the same argument twice in one call */
                if (taken[j]->handle == a->i64)
                    d = taken[j];
            if (!d && (d = f_data_take(a->i64)) != NULL)
                taken[ntaken++] = d;
            if (!d) {
                st = f_error(LUMEN_ERR_INVALID_ARG,
                             "lumen_remote('%s'): args(%lld) was used by an earlier lumen_remote (a byte or "
                             "string argument goes with its call: make it again), or its copy failed",
                             fn, (long long)i + 1);
                break;
            }
            args[i] =
                a->type == LUMEN_TYPE_STR ? lumen_arg_str(d->bytes) : lumen_arg_bytes(d->bytes, d->size);
            break;
        }
        default:
            st = f_error(LUMEN_ERR_INVALID_ARG,
                         "lumen_remote('%s'): args(%lld) was not made by a lumen_arg_* function", fn,
                         (long long)i + 1);
        }
    }
    if (st == LUMEN_OK) {
        lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = (int)num_returns};
        f_task_options(&o, set, num_cpus, num_gpus, resources, max_retries, retry_exceptions);
        st = lumen_remote(fn, args, (size_t)nargs, &o, returns);
    }
    for (int j = 0; j < ntaken; j++) {
        if (st == LUMEN_OK)
            free(taken[j]);
        else
            f_data_put_back(taken[j]);
    }
    return st;
}

/* ---- inside a task ------------------------------------------------------------------------ */
int lumen_f_return_ref(lumen_task_ctx *ctx, size_t i, const lumen_ref *ref)
{
    return lumen_return_ref(ctx, i, *ref);
}

int lumen_f_task_fail(lumen_task_ctx *ctx, const char *msg) { return lumen_task_fail(ctx, "%s", msg); }
