/*
 * threads.c - the API from many threads and many ranks at once: 4 pthreads
 * on the driver each submit 500 tasks (with dependencies between their own
 * tasks) and put/get objects (inline and store sized) concurrently, every
 * result checked; the threads also get one shared reference at the same
 * time, dup/release it, and see their own lumen_last_error; and every rank,
 * not only the driver, submits 100 tasks and checks their results before it
 * calls lumen_finalize (any rank can submit). MPI is initialised here with
 * MPI_THREAD_MULTIPLE so the ranks can agree, with a barrier on a
 * communicator of their own, that every rank is done before the driver
 * finalizes.
 */
#include "check.h"

#include <pthread.h>
#include <string.h>

#define NTHREADS 4
#define NTASKS 500

LUMEN_REMOTE(th_mix)
{
    int64_t a, b;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &a));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &b));
    return lumen_return_i64(ctx, 0, a * 1000003 + b);
}

LUMEN_REMOTE(th_len)
{
    const void *d;
    size_t n;
    int64_t seed;
    TASK_TRY(lumen_arg_get_bytes(ctx, 0, &d, &n));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seed));
    size_t bad = pattern_find_bad(d, n, (uint64_t)seed);
    if (bad != n)
        return lumen_task_fail(ctx, "byte %zu of %zu", bad, n);
    return lumen_return_i64(ctx, 0, (int64_t)n);
}

LUMEN_REMOTE(th_slow)
{
    sleep_ms(300);
    return lumen_return_i64(ctx, 0, 777);
}

static lumen_ref shared_ref;
static pthread_barrier_t barrier;

static void *worker_thread(void *arg)
{
    int64_t id = (int64_t)(intptr_t)arg;
    lumen_ref *r = malloc(NTASKS * sizeof *r);
    lumen_value *v = malloc(NTASKS * sizeof *v);
    CHECK(r && v);

    /* everybody gets the shared reference at once, while it is still pending */
    pthread_barrier_wait(&barrier);
    int64_t s;
    CHECK_OK(lumen_get_i64(shared_ref, T_TIMEOUT, &s));
    CHECK(s == 777);
    for (int k = 0; k < 50; k++) {
        lumen_ref d;
        CHECK_OK(lumen_ref_dup(shared_ref, &d));
        CHECK_OK(lumen_get_i64(d, 0, &s));
        CHECK_OK(lumen_ref_release(d));
    }

    for (int round = 0; round < 2; round++) {
        /* 500 tasks; every 10th depends on the one before it */
        for (int64_t i = 0; i < NTASKS; i++) {
            if (i % 10 == 9)
                CHECK_OK(LUMEN_CALL(&r[i], "th_mix", LUMEN_ARG(r[i - 1]), LUMEN_ARG(i)));
            else
                CHECK_OK(LUMEN_CALL(&r[i], "th_mix", LUMEN_ARG(id), LUMEN_ARG(i + round)));
            if (i % 50 == 0) {
                /* interleaved puts and gets, inline and store sized */
                size_t n = (i / 50) % 2 ? 150 * 1024 + (size_t)i : 64 + (size_t)i;
                unsigned char *buf = malloc(n);
                CHECK(buf);
                uint64_t seed = (uint64_t)(id * 100000 + i + round);
                pattern_fill(buf, n, seed);
                lumen_ref o, l;
                CHECK_OK(lumen_put(buf, n, &o));
                free(buf);
                CHECK_OK(LUMEN_CALL(&l, "th_len", LUMEN_ARG(o), LUMEN_ARG((int64_t)seed)));
                lumen_value ov;
                CHECK_OK(lumen_get(o, T_TIMEOUT, &ov));
                CHECK(ov.size == n);
                CHECK_PATTERN(ov.data, n, seed);
                int64_t len;
                CHECK_OK(lumen_get_i64(l, T_TIMEOUT, &len));
                CHECK(len == (int64_t)n);
                CHECK_OK(lumen_ref_release(o));
                CHECK_OK(lumen_ref_release(l));
            }
        }
        CHECK_OK(lumen_get_many(r, NTASKS, T_TIMEOUT, v));
        for (int64_t i = 0; i < NTASKS; i++) {
            int64_t want = i % 10 == 9 ? (id * 1000003 + (i - 1 + round)) * 1000003 + i : id * 1000003 + i + round;
            CHECKF(v[i].i64 == want, "thread %lld task %lld: %lld, wanted %lld", (long long)id, (long long)i,
                   (long long)v[i].i64, (long long)want);
            CHECK_OK(lumen_ref_release(r[i]));
        }
    }

    /* this thread's error message is its own */
    lumen_ref bogus = {{(uint64_t)id + 12345, 99}};
    lumen_value bv;
    for (int k = 0; k < 100; k++) {
        CHECK_ST(lumen_get(bogus, 0, &bv), LUMEN_ERR_INVALID_REF);
        char hex[33];
        lumen_ref_hex(bogus, hex);
        CHECK_ERRMSG(hex);
        sched_yield();
    }
    free(r);
    free(v);
    return NULL;
}

static void driver_threads(void)
{
    CHECK_OK(lumen_remote("th_slow", NULL, 0, NULL, &shared_ref));
    pthread_t t[NTHREADS];
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    double t0 = now_s();
    for (int k = 0; k < NTHREADS; k++)
        CHECK(pthread_create(&t[k], NULL, worker_thread, (void *)(intptr_t)k) == 0);
    for (int k = 0; k < NTHREADS; k++)
        pthread_join(t[k], NULL);
    pthread_barrier_destroy(&barrier);
    CHECK_OK(lumen_ref_release(shared_ref));
    CHECK_ST(lumen_ref_release(shared_ref), LUMEN_ERR_INVALID_REF);
    printf("%d threads x %d tasks x 2 rounds: %.3f s\n", NTHREADS, NTASKS, now_s() - t0);
}

/* every rank submits its own 100 tasks and checks them */
static void own_tasks(int rank)
{
    enum { N = 100 };
    lumen_ref r[N];
    for (int64_t i = 0; i < N; i++)
        CHECK_OK(LUMEN_CALL(&r[i], "th_mix", LUMEN_ARG((int64_t)rank), LUMEN_ARG(i)));
    lumen_value v[N];
    CHECK_OK(lumen_get_many(r, N, T_TIMEOUT, v));
    for (int64_t i = 0; i < N; i++) {
        CHECKF(v[i].i64 == rank * 1000003 + i, "rank %d task %lld", rank, (long long)i);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    /* a dependency chain and a store-sized put owned by this rank */
    lumen_ref a, b;
    CHECK_OK(LUMEN_CALL(&a, "th_mix", LUMEN_ARG(1), LUMEN_ARG(2)));
    CHECK_OK(LUMEN_CALL(&b, "th_mix", LUMEN_ARG(a), LUMEN_ARG(3)));
    int64_t x;
    CHECK_OK(lumen_get_i64(b, T_TIMEOUT, &x));
    CHECK(x == (INT64_C(1000003) + 2) * 1000003 + 3);
    lumen_ref_release(a);
    lumen_ref_release(b);
    size_t n = 200 * 1024;
    unsigned char *buf = malloc(n);
    CHECK(buf);
    pattern_fill(buf, n, (uint64_t)(9000 + rank));
    lumen_ref o, l;
    CHECK_OK(lumen_put(buf, n, &o));
    free(buf);
    CHECK_OK(LUMEN_CALL(&l, "th_len", LUMEN_ARG(o), LUMEN_ARG(9000 + rank)));
    CHECK_OK(lumen_get_i64(l, T_TIMEOUT, &x));
    CHECK(x == (int64_t)n);
    lumen_ref_release(o);
    lumen_ref_release(l);
}

/* a barrier that does not hold the MPI library while it waits */
static void gentle_barrier(MPI_Comm comm)
{
    MPI_Request req;
    int done = 0;
    MPI_Ibarrier(comm, &req);
    double t0 = now_s();
    while (!done) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done) {
            CHECKF(now_s() - t0 < 120, "the ranks did not meet in 120 s");
            sleep_ms(2);
        }
    }
}

int main(int argc, char **argv)
{
    int provided, rank;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    CHECK(provided == MPI_THREAD_MULTIPLE);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm app;
    MPI_Comm_dup(MPI_COMM_WORLD, &app);
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    own_tasks(rank);
    if (lumen_is_driver())
        driver_threads();
    own_tasks(rank); /* again, while other ranks may still be busy */
    gentle_barrier(app); /* every rank is done with its own tasks */
    if (lumen_is_driver())
        printf("threads: OK on %d ranks\n", lumen_world_size());
    CHECK_OK(lumen_finalize());
    MPI_Comm_free(&app);
    MPI_Finalize();
    return 0;
}
