/*
 * library_mode.c - lumen inside an MPI application: the program calls
 * MPI_Init_thread(MPI_THREAD_MULTIPLE) itself, splits MPI_COMM_WORLD into
 * two halves (with 1 rank lumen gets the whole world) and gives lumen the
 * half holding world rank 0 with lumen_init_comm. Tasks run there, and only
 * there, while the other half runs MPI_Allreduce loops, and a thread of each
 * lumen rank runs its own MPI_Allreduce loop on a communicator of the lumen
 * half, concurrently. lumen_finalize leaves MPI alone: both halves meet in an
 * MPI_Allreduce over the world afterwards. A second lumen session on the same
 * communicator works too, and references of the first session are refused.
 */
#include "check.h"

#include <pthread.h>
#include <string.h>

#include <lumen/mpi.h>

/* returns the world rank it ran on, times 1000, plus x */
LUMEN_REMOTE(lib_where)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    int wr;
    MPI_Comm_rank(MPI_COMM_WORLD, &wr);
    return lumen_return_i64(ctx, 0, (int64_t)wr * 1000 + x);
}

typedef struct app_loop {
    MPI_Comm comm;
    int iters;
    long long checked;
} app_loop;

/* MPI_Allreduce of (rank + i) over comm, checked each time */
static void *allreduce_loop(void *arg)
{
    app_loop *a = arg;
    int rank, size;
    MPI_Comm_rank(a->comm, &rank);
    MPI_Comm_size(a->comm, &size);
    for (int i = 0; i < a->iters; i++) {
        long long mine = rank + i, sum = -1;
        CHECK(MPI_Allreduce(&mine, &sum, 1, MPI_LONG_LONG, MPI_SUM, a->comm) == MPI_SUCCESS);
        long long want = (long long)size * (size - 1) / 2 + (long long)size * i;
        CHECKF(sum == want, "allreduce %d: %lld, wanted %lld", i, sum, want);
        a->checked++;
    }
    return NULL;
}

static void run_tasks(int lumen_size, int round)
{
    enum { N = 200 };
    lumen_ref r[N];
    for (int64_t i = 0; i < N; i++)
        CHECK_OK(LUMEN_CALL(&r[i], "lib_where", LUMEN_ARG(i + round)));
    lumen_value v[N];
    CHECK_OK(lumen_get_many(r, N, T_TIMEOUT, v));
    for (int64_t i = 0; i < N; i++) {
        int wr = (int)(v[i].i64 / 1000);
        CHECKF(v[i].i64 % 1000 == i + round, "task %lld", (long long)i);
        /* the lumen half is world ranks 0 .. lumen_size-1 */
        CHECKF(wr >= 0 && wr < lumen_size, "a task ran on world rank %d, outside lumen's %d ranks", wr, lumen_size);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    /* a dependency and a store object inside the sub-communicator */
    size_t n = 300 * 1024;
    unsigned char *buf = malloc(n);
    CHECK(buf);
    pattern_fill(buf, n, 11);
    lumen_ref o;
    CHECK_OK(lumen_put(buf, n, &o));
    free(buf);
    lumen_value ov;
    CHECK_OK(lumen_get(o, T_TIMEOUT, &ov));
    CHECK_PATTERN(ov.data, n, 11);
    CHECK_OK(lumen_ref_release(o));
}

int main(int argc, char **argv)
{
    int provided, wrank, wsize;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    CHECK(provided == MPI_THREAD_MULTIPLE);
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    MPI_Comm_size(MPI_COMM_WORLD, &wsize);

    /* lumen's half: world ranks 0 .. half-1 (all of them with one rank) */
    int half = wsize >= 2 ? wsize / 2 : 1;
    int in_lumen = wrank < half;
    MPI_Comm part;
    MPI_Comm_split(MPI_COMM_WORLD, in_lumen ? 0 : 1, wrank, &part);
    int prank, psize;
    MPI_Comm_rank(part, &prank);
    MPI_Comm_size(part, &psize);

    if (in_lumen) {
        CHECK_ST(lumen_init_comm(MPI_COMM_NULL, NULL), LUMEN_ERR_INVALID_ARG);
        CHECK(!lumen_is_initialized());
        /* a communicator of our own on the same ranks, used by a thread while lumen runs */
        MPI_Comm mine;
        MPI_Comm_dup(part, &mine);
        lumen_ref old = LUMEN_REF_NIL;
        for (int session = 0; session < 2; session++) {
            CHECK_OK(lumen_init_comm(part, NULL));
            CHECK(lumen_is_initialized());
            CHECK(lumen_rank() == prank);
            CHECK(lumen_world_size() == psize);
            CHECK(lumen_is_driver() == (prank == 0));
            app_loop loop = {mine, 300, 0};
            pthread_t t;
            CHECK(pthread_create(&t, NULL, allreduce_loop, &loop) == 0);
            if (lumen_is_driver()) {
                run_tasks(psize, session);
                if (session == 0) {
                    CHECK_OK(lumen_put("from session 0", 15, &old)); /* kept across finalize */
                } else {
                    /* a reference of the finished session is not valid in this one */
                    lumen_value v;
                    CHECK_ST(lumen_get(old, 0, &v), LUMEN_ERR_INVALID_REF);
                    CHECK_ST(lumen_ref_release(old), LUMEN_ERR_INVALID_REF);
                }
            }
            pthread_join(t, NULL);
            CHECK(loop.checked == 300);
            CHECK_OK(lumen_finalize());
            CHECK(!lumen_is_initialized());
            int fin = 1;
            MPI_Finalized(&fin);
            CHECKF(!fin, "lumen_finalize finalized MPI in library mode");
        }
        MPI_Comm_free(&mine);
    } else {
        /* the other half never sees lumen */
        app_loop loop = {part, 2000, 0};
        allreduce_loop(&loop);
        CHECK(loop.checked == 2000);
        CHECK(!lumen_is_initialized());
        lumen_ref r;
        CHECK_ST(lumen_put("x", 1, &r), LUMEN_ERR_NOT_INITIALIZED);
    }
    /* MPI still works for everybody */
    int one = 1, total = 0;
    CHECK(MPI_Allreduce(&one, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS);
    CHECK(total == wsize);
    MPI_Comm_free(&part);
    if (wrank == 0)
        printf("library_mode: OK on %d world ranks, lumen on %d\n", wsize, half);
    MPI_Finalize();
    return 0;
}
