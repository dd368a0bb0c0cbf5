/*
 * quickstart.c - lumen's first steps, the C twin of Ray's task example:
 * remote functions, futures, put/get and a dependency between tasks.
 *
 *   mpirun -np 4 ./quickstart
 */
#include <stdio.h>
#include <string.h>

#include <lumen.h>

/* @ray.remote def square(x): return x * x */
LUMEN_REMOTE(square)
{
    int64_t x;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &x);
    if (st != LUMEN_OK)
        return st;
    return lumen_return_i64(ctx, 0, x * x);
}

/* sums a byte buffer of int64 values (an object put by the driver) */
LUMEN_REMOTE(sum_array)
{
    const void *data;
    size_t size;
    lumen_status st = lumen_arg_get_bytes(ctx, 0, &data, &size);
    if (st != LUMEN_OK)
        return st;
    int64_t total = 0, v;
    for (size_t i = 0; i + 8 <= size; i += 8) {
        memcpy(&v, (const char *)data + i, 8);
        total += v;
    }
    return lumen_return_i64(ctx, 0, total);
}

/* adds two integers; used with futures as arguments */
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
    /* futures = [square.remote(i) for i in range(4)]; print(ray.get(futures)) */
    lumen_ref futures[4];
    for (int i = 0; i < 4; i++)
        TRY(LUMEN_CALL(&futures[i], "square", LUMEN_ARG(i)));
    lumen_value results[4];
    TRY(lumen_get_many(futures, 4, LUMEN_TIMEOUT_INFINITE, results));
    printf("[%lld, %lld, %lld, %lld]\n", (long long)results[0].i64, (long long)results[1].i64,
           (long long)results[2].i64, (long long)results[3].i64);

    /* ray.put a 1 MiB array, pass the reference to a task */
    enum { N = 131072 };
    static int64_t arr[N];
    for (int i = 0; i < N; i++)
        arr[i] = i;
    lumen_ref obj, total;
    TRY(lumen_put(arr, sizeof arr, &obj));
    TRY(LUMEN_CALL(&total, "sum_array", LUMEN_ARG(obj)));
    int64_t sum;
    TRY(lumen_get_i64(total, LUMEN_TIMEOUT_INFINITE, &sum));
    printf("sum of put array: %lld (expected %lld)\n", (long long)sum, (long long)N * (N - 1) / 2);

    /* dependencies: add.remote(square.remote(3), square.remote(4)) -> 25 */
    lumen_ref a, b, c;
    TRY(LUMEN_CALL(&a, "square", LUMEN_ARG(3)));
    TRY(LUMEN_CALL(&b, "square", LUMEN_ARG(4)));
    TRY(LUMEN_CALL(&c, "add", LUMEN_ARG(a), LUMEN_ARG(b)));
    int64_t hyp;
    TRY(lumen_get_i64(c, LUMEN_TIMEOUT_INFINITE, &hyp));
    printf("square(3) + square(4) = %lld on %d ranks\n", (long long)hyp, lumen_world_size());

    for (int i = 0; i < 4; i++)
        lumen_ref_release(futures[i]);
    lumen_ref_release(obj);
    lumen_ref_release(total);
    lumen_ref_release(a);
    lumen_ref_release(b);
    lumen_ref_release(c);
    return sum == (int64_t)N * (N - 1) / 2 && hyp == 25 ? 0 : 1;
}

int main(int argc, char **argv)
{
    TRY(lumen_init(&argc, &argv, NULL));
    int rc = lumen_is_driver() ? driver() : 0;
    TRY(lumen_finalize());
    return rc;
}
