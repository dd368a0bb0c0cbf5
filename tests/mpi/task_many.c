/*
 * task_many.c - 10,000 small tasks submitted asynchronously then gathered
 * with one lumen_get_many, each result checked; lumen_wait with
 * num_returns=1 (returns once the fast task is done, long before the slow
 * ones) and num_returns=all; and sleeping tasks spread over the ranks run in
 * parallel rather than one after another.
 */
#include "check.h"

#include <string.h>

LUMEN_REMOTE(many_f)
{
    int64_t i;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &i));
    return lumen_return_i64(ctx, 0, i * i - 3 * i + 7);
}

/* sleeps ms, returns (rank, ms) packed as rank * 100000 + ms */
LUMEN_REMOTE(many_sleep)
{
    int64_t ms;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    sleep_ms((long)ms);
    return lumen_return_i64(ctx, 0, lumen_rank() * 100000 + ms);
}

static void test_10k(void)
{
    enum { N = 10000 };
    lumen_ref *r = malloc(N * sizeof *r);
    lumen_value *v = malloc(N * sizeof *v);
    CHECK(r && v);
    double t0 = now_s();
    for (int64_t i = 0; i < N; i++)
        CHECK_OK(LUMEN_CALL(&r[i], "many_f", LUMEN_ARG(i)));
    double t1 = now_s();
    CHECK_OK(lumen_get_many(r, N, T_TIMEOUT, v));
    double t2 = now_s();
    for (int64_t i = 0; i < N; i++) {
        CHECKF(v[i].type == LUMEN_TYPE_I64 && v[i].i64 == i * i - 3 * i + 7, "task %lld: type %d value %lld",
               (long long)i, (int)v[i].type, (long long)v[i].i64);
        for (int64_t j = i - 3; j < i; j++)
            if (j >= 0)
                CHECK(!lumen_ref_equal(r[i], r[j]));
    }
    for (int64_t i = 0; i < N; i++)
        CHECK_OK(lumen_ref_release(r[i]));
    printf("10000 tasks: submit %.3f s, get_many %.3f s\n", t1 - t0, t2 - t1);

    /* twice more, interleaving submission with release of the previous batch */
    for (int round = 0; round < 2; round++) {
        for (int64_t i = 0; i < N; i++)
            CHECK_OK(LUMEN_CALL(&r[i], "many_f", LUMEN_ARG(i + round)));
        CHECK_OK(lumen_get_many(r, N, T_TIMEOUT, v));
        for (int64_t i = 0; i < N; i++) {
            int64_t x = i + round;
            CHECK(v[i].i64 == x * x - 3 * x + 7);
            CHECK_OK(lumen_ref_release(r[i]));
        }
    }
    free(r);
    free(v);
}

static void test_wait(void)
{
    /* one fast task among slow ones: wait(1) returns with just the fast one */
    enum { N = 4 };
    const int64_t ms[N] = {1000, 1000, 0, 1000};
    lumen_ref r[N];
    double t0 = now_s();
    /* the fast one first, so it is not queued behind a sleeper on a 1-CPU rank */
    CHECK_OK(LUMEN_CALL(&r[2], "many_sleep", LUMEN_ARG(ms[2])));
    for (int i = 0; i < N; i++)
        if (i != 2)
            CHECK_OK(LUMEN_CALL(&r[i], "many_sleep", LUMEN_ARG(ms[i])));
    int ready[N];
    size_t nready = 99;
    CHECK_OK(lumen_wait(r, N, 1, T_TIMEOUT, ready, &nready));
    double t1 = now_s();
    CHECKF(nready >= 1 && ready[2], "nready %zu, fast ready %d", nready, ready[2]);
    size_t count = 0;
    for (int i = 0; i < N; i++)
        count += (size_t)(ready[i] != 0);
    CHECK(count == nready);
    CHECKF(t1 - t0 < 0.8, "wait(1) took %.3f s: it waited for a slow task", t1 - t0);
    /* the ready one gives its value with a zero timeout */
    int64_t v;
    CHECK_OK(lumen_get_i64(r[2], 0, &v));
    CHECK(v % 100000 == 0);

    /* num_ready may be NULL */
    CHECK_OK(lumen_wait(r, N, 1, T_TIMEOUT, ready, NULL));
    CHECK(ready[2]);

    /* wait for all */
    CHECK_OK(lumen_wait(r, N, N, T_TIMEOUT, ready, &nready));
    CHECK(nready == N);
    for (int i = 0; i < N; i++) {
        CHECK(ready[i] == 1);
        CHECK_OK(lumen_get_i64(r[i], 0, &v));
        CHECK(v % 100000 == ms[i]);
        lumen_ref_release(r[i]);
    }
    /* num_returns = 0 returns at once; an empty list too */
    lumen_ref one;
    CHECK_OK(LUMEN_CALL(&one, "many_sleep", LUMEN_ARG(300)));
    double t2 = now_s();
    CHECK_OK(lumen_wait(&one, 1, 0, T_TIMEOUT, ready, &nready));
    CHECK(now_s() - t2 < 0.25);
    CHECK(nready <= 1);
    CHECK_OK(lumen_wait(NULL, 0, 0, T_TIMEOUT, NULL, &nready));
    CHECK(nready == 0);
    CHECK_OK(lumen_get_i64(one, T_TIMEOUT, &v));
    lumen_ref_release(one);

    /* wait on a mix of put objects (ready at once) and a pending task */
    lumen_ref mix[3];
    CHECK_OK(lumen_put("a", 1, &mix[0]));
    CHECK_OK(LUMEN_CALL(&mix[1], "many_sleep", LUMEN_ARG(800)));
    CHECK_OK(lumen_put("b", 1, &mix[2]));
    CHECK_OK(lumen_wait(mix, 3, 2, T_TIMEOUT, ready, &nready));
    CHECK(ready[0] && ready[2] && nready >= 2);
    CHECK_OK(lumen_wait(mix, 3, 3, T_TIMEOUT, ready, &nready));
    CHECK(nready == 3 && ready[1]);
    for (int i = 0; i < 3; i++)
        lumen_ref_release(mix[i]);
}

static void test_parallel(void)
{
    /* 2 sleeping tasks per rank: they run side by side, on every rank */
    int n = 2 * lumen_world_size();
    lumen_ref r[8];
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        CHECK_OK(LUMEN_CALL(&r[i], "many_sleep", LUMEN_ARG(400)));
    lumen_value v[8];
    CHECK_OK(lumen_get_many(r, (size_t)n, T_TIMEOUT, v));
    double dt = now_s() - t0;
    int seen[8] = {0}, distinct = 0;
    for (int i = 0; i < n; i++) {
        int rank = (int)(v[i].i64 / 100000);
        CHECK(rank >= 0 && rank < lumen_world_size());
        distinct += !seen[rank]++;
        lumen_ref_release(r[i]);
    }
    char per_rank[128] = "";
    for (int k = 0, len = 0; k < lumen_world_size(); k++)
        len += snprintf(per_rank + len, sizeof per_rank - (size_t)len, " %d", seen[k]);
    printf("%d sleeping tasks: %.3f s on %d distinct ranks (tasks per rank:%s)\n", n, dt, distinct, per_rank);
    /* one after another would take n * 0.4 s (one rank may offer one CPU only) */
    if (lumen_world_size() > 1)
        CHECKF(dt < 0.4 * n * 0.75, "%d tasks of 0.4 s took %.3f s (tasks per rank:%s): they did not run in parallel",
               n, dt, per_rank);
    CHECKF(distinct == lumen_world_size(), "sleeping tasks ran on %d of %d ranks", distinct, lumen_world_size());
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_10k();
        test_wait();
        test_parallel();
        printf("task_many: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
