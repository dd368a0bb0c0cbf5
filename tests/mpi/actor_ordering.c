/*
 * actor_ordering.c - calls from one caller to one actor run in the order
 * they were made, with several callers at once: the driver makes 10,000
 * calls while a task on the last rank (it alone offers the custom resource
 * "ordlast"; with 1 rank that is rank 0) gets the actor handle through
 * lumen_arg_actor / lumen_arg_get_actor and makes 10,000 of its own, and a
 * second driver thread makes 2,000 more. Each call appends (caller, seq) to
 * the actor's log and returns its position in the log; each caller checks
 * its positions increase, and the actor reports, per caller, how many calls
 * it saw and how many came out of order or with a gap (none may).
 */
#include "check.h"

#include <pthread.h>
#include <string.h>

#define NCALLS 10000
#define NTHREAD_CALLS 2000
#define MAX_CALLERS 8

typedef struct oplog {
    int64_t pos;
    int64_t next[MAX_CALLERS];
    int64_t count[MAX_CALLERS];
    int64_t bad[MAX_CALLERS];
} oplog;

static lumen_status oplog_init(lumen_task_ctx *ctx, void **self)
{
    oplog *l = calloc(1, sizeof *l);
    if (!l)
        return lumen_task_fail(ctx, "no memory");
    *self = l;
    return LUMEN_OK;
}

static void oplog_destroy(void *self) { free(self); }

LUMEN_ACTOR_CLASS(OpLog, oplog_init, oplog_destroy)

/* append(caller, seq): returns the position of this entry in the log */
LUMEN_METHOD(OpLog, append)
{
    oplog *l = self;
    int64_t caller, seq;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &caller));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seq));
    if (caller < 0 || caller >= MAX_CALLERS)
        return lumen_task_fail(ctx, "caller %lld out of range", (long long)caller);
    if (seq != l->next[caller])
        l->bad[caller]++;
    l->next[caller] = seq + 1;
    l->count[caller]++;
    return lumen_return_i64(ctx, 0, l->pos++);
}

/* report(caller): slot 0 the number of calls seen, slot 1 those out of order */
LUMEN_METHOD(OpLog, report)
{
    oplog *l = self;
    int64_t caller;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &caller));
    if (caller < 0 || caller >= MAX_CALLERS)
        return lumen_task_fail(ctx, "caller %lld out of range", (long long)caller);
    TASK_TRY(lumen_return_i64(ctx, 0, l->count[caller]));
    return lumen_return_i64(ctx, 1, l->bad[caller]);
}

LUMEN_METHOD(OpLog, total)
{
    oplog *l = self;
    return lumen_return_i64(ctx, 0, l->pos);
}

/* makes n append calls as `caller`, then checks the positions increase;
 * returns "" on success or the first problem (never fails, so a message
 * from any rank reaches the driver) */
static lumen_status run_caller(lumen_actor a, int64_t caller, int64_t n, char *err, size_t errn)
{
    lumen_ref *r = calloc((size_t)n, sizeof *r);
    lumen_value *v = malloc((size_t)n * sizeof *v);
    lumen_status st = LUMEN_OK;
    err[0] = 0;
    if (!r || !v) {
        snprintf(err, errn, "no memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        st = LUMEN_ACTOR_CALL(&r[i], a, "append", LUMEN_ARG(caller), LUMEN_ARG(i));
        if (st != LUMEN_OK) {
            snprintf(err, errn, "caller %lld: call %lld gave %d: %s", (long long)caller, (long long)i, (int)st,
                     lumen_last_error());
            for (int64_t k = 0; k < i; k++)
                lumen_ref_release(r[k]);
            goto out;
        }
    }
    st = lumen_get_many(r, (size_t)n, T_TIMEOUT, v);
    if (st != LUMEN_OK) {
        snprintf(err, errn, "caller %lld: get_many gave %d: %s", (long long)caller, (int)st, lumen_last_error());
    } else {
        for (int64_t i = 0; i < n; i++) {
            if (v[i].type != LUMEN_TYPE_I64 || (i > 0 && v[i].i64 <= v[i - 1].i64)) {
                snprintf(err, errn, "caller %lld: call %lld is at log position %lld, call %lld at %lld",
                         (long long)caller, (long long)i, (long long)v[i].i64, (long long)(i - 1),
                         (long long)(i > 0 ? v[i - 1].i64 : -1));
                break;
            }
        }
    }
    for (int64_t i = 0; i < n; i++)
        lumen_ref_release(r[i]);
out:
    free(r);
    free(v);
    return st;
}

/* (actor, caller, n) -> slot 0: "" or the problem; slot 1: the rank it ran on */
LUMEN_REMOTE(ord_caller)
{
    lumen_actor a;
    int64_t caller, n;
    TASK_TRY(lumen_arg_get_actor(ctx, 0, &a));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &caller));
    TASK_TRY(lumen_arg_get_i64(ctx, 2, &n));
    char err[512];
    run_caller(a, caller, n, err, sizeof err);
    TASK_TRY(lumen_return_str(ctx, 0, err));
    return lumen_return_i64(ctx, 1, lumen_rank());
}

static lumen_actor the_actor;
static char thread_err[512];

static void *thread_caller(void *arg)
{
    (void)arg;
    run_caller(the_actor, 2, NTHREAD_CALLS, thread_err, sizeof thread_err);
    return NULL;
}

int main(int argc, char **argv)
{
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    CHECK(provided >= MPI_THREAD_SERIALIZED);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* only the last rank offers "ordlast": the remote caller runs there */
    lumen_init_options io = {0};
    if (rank == size - 1) {
        io.field_mask = LUMEN_INIT_RESOURCES;
        io.resources = "ordlast=1";
    }
    CHECK_OK(lumen_init(&argc, &argv, &io));
    if (lumen_is_driver()) {
        CHECK_OK(lumen_actor_create("OpLog", NULL, 0, NULL, &the_actor));
        lumen_ref ready;
        CHECK_OK(lumen_actor_ready(the_actor, &ready));
        int64_t one = 0;
        CHECK_OK(lumen_get_i64(ready, T_TIMEOUT, &one));
        CHECK(one == 1);
        CHECK_OK(lumen_ref_release(ready));

        double t0 = now_s();
        /* caller 1: a task on the last rank */
        lumen_task_options o = {.field_mask = LUMEN_TASK_RESOURCES | LUMEN_TASK_NUM_RETURNS,
                                .resources = "ordlast=1",
                                .num_returns = 2};
        lumen_arg args[3] = {lumen_arg_actor(the_actor), lumen_arg_i64(1), lumen_arg_i64(NCALLS)};
        lumen_ref remote[2];
        CHECK_OK(lumen_remote("ord_caller", args, 3, &o, remote));
        /* caller 2: a second driver thread */
        pthread_t th;
        CHECK(pthread_create(&th, NULL, thread_caller, NULL) == 0);
        /* caller 0: the driver */
        char err[512];
        run_caller(the_actor, 0, NCALLS, err, sizeof err);
        CHECKF(err[0] == 0, "driver: %s", err);
        pthread_join(th, NULL);
        CHECKF(thread_err[0] == 0, "driver thread: %s", thread_err);
        lumen_value v[2];
        CHECK_OK(lumen_get_many(remote, 2, T_TIMEOUT, v));
        CHECK(v[0].type == LUMEN_TYPE_STR);
        CHECKF(v[0].size == 0, "remote caller: %s", (const char *)v[0].data);
        CHECKF(v[1].i64 == size - 1, "remote caller ran on rank %lld, wanted %d", (long long)v[1].i64, size - 1);
        CHECK_OK(lumen_ref_release(remote[0]));
        CHECK_OK(lumen_ref_release(remote[1]));
        double dt = now_s() - t0;

        /* the actor's view: every caller's calls arrived, in order, no gaps */
        const int64_t want[3] = {NCALLS, NCALLS, NTHREAD_CALLS};
        lumen_call_options co = {.field_mask = LUMEN_CALL_NUM_RETURNS, .num_returns = 2};
        for (int c = 0; c < 3; c++) {
            lumen_ref rr[2];
            lumen_arg a = lumen_arg_i64(c);
            CHECK_OK(lumen_actor_call(the_actor, "report", &a, 1, &co, rr));
            lumen_value rv[2];
            CHECK_OK(lumen_get_many(rr, 2, T_TIMEOUT, rv));
            CHECKF(rv[0].i64 == want[c], "caller %d: the actor saw %lld calls, wanted %lld", c, (long long)rv[0].i64,
                   (long long)want[c]);
            CHECKF(rv[1].i64 == 0, "caller %d: %lld calls out of order or after a gap", c, (long long)rv[1].i64);
            CHECK_OK(lumen_ref_release(rr[0]));
            CHECK_OK(lumen_ref_release(rr[1]));
        }
        lumen_ref t;
        CHECK_OK(LUMEN_ACTOR_CALL0(&t, the_actor, "total"));
        int64_t total = 0;
        CHECK_OK(lumen_get_i64(t, T_TIMEOUT, &total));
        CHECK(total == 2 * NCALLS + NTHREAD_CALLS);
        CHECK_OK(lumen_ref_release(t));
        printf("%d ordered calls from 3 callers (remote one on rank %d) in %.3f s\n", 2 * NCALLS + NTHREAD_CALLS,
               size - 1, dt);
        CHECK_OK(lumen_actor_release(the_actor));
        printf("actor_ordering: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    MPI_Finalize();
    return 0;
}
