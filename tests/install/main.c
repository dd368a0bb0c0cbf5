/*
 * main.c - a program built against an installed lumen (tests/install/run.sh):
 * a remote function, futures, a dependency and a check of the results.
 * Exits 0 on every rank when the driver saw the right values.
 */
#include <stdio.h>

#include <lumen.h>
#include <lumen/mpi.h> /* installed too; needs MPI's include path */

LUMEN_REMOTE(cube)
{
    int64_t x;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &x);
    if (st != LUMEN_OK)
        return st;
    return lumen_return_i64(ctx, 0, x * x * x);
}

LUMEN_REMOTE(add)
{
    int64_t a, b;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &a);
    if (st == LUMEN_OK)
        st = lumen_arg_get_i64(ctx, 1, &b);
    if (st != LUMEN_OK)
        return st;
    return lumen_return_i64(ctx, 0, a + b);
}

#define TRY(call)                                                                            \
    do {                                                                                     \
        lumen_status s_ = (call);                                                            \
        if (s_ != LUMEN_OK) {                                                                \
            fprintf(stderr, "%s: %s (%s)\n", #call, lumen_strerror(s_), lumen_last_error()); \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

static int driver(void)
{
    enum { N = 10 };
    lumen_ref cubes[N];
    int64_t sum = 0, want = 0;
    for (int64_t i = 0; i < N; i++)
        TRY(LUMEN_CALL(&cubes[i], "cube", LUMEN_ARG(i)));
    for (int64_t i = 0; i < N; i++) {
        int64_t v;
        TRY(lumen_get_i64(cubes[i], LUMEN_TIMEOUT_INFINITE, &v));
        sum += v;
        want += i * i * i;
        lumen_ref_release(cubes[i]);
    }
    /* add(cube(3), cube(4)): the futures are resolved by lumen, not by us */
    lumen_ref a, b, c;
    TRY(LUMEN_CALL(&a, "cube", LUMEN_ARG(3)));
    TRY(LUMEN_CALL(&b, "cube", LUMEN_ARG(4)));
    TRY(LUMEN_CALL(&c, "add", LUMEN_ARG(a), LUMEN_ARG(b)));
    int64_t dep;
    TRY(lumen_get_i64(c, LUMEN_TIMEOUT_INFINITE, &dep));
    lumen_ref_release(a);
    lumen_ref_release(b);
    lumen_ref_release(c);

    int ok = sum == want && dep == 91;
    printf("install consumer (lumen %d.%d.%d, %d ranks): sum of cubes %lld (want %lld), "
           "cube(3) + cube(4) = %lld (want 91): %s\n",
           LUMEN_VERSION_MAJOR, LUMEN_VERSION_MINOR, LUMEN_VERSION_PATCH, lumen_world_size(), (long long)sum,
           (long long)want, (long long)dep, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    /* the library-mode entry point links too */
    lumen_status (*volatile init_comm)(MPI_Comm, const lumen_init_options *) = lumen_init_comm;
    (void)init_comm;

    TRY(lumen_init(&argc, &argv, NULL));
    int rc = lumen_is_driver() ? driver() : 0;
    TRY(lumen_finalize());
    return rc;
}
