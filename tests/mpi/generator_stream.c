/*
 * generator_stream.c - streaming generators (lumen_remote_generator):
 *   - 10,000 items consumed as produced, in order; the first item reaches the
 *     caller while the producer is still running (it waits on a Gate actor
 *     that only the caller opens, after taking item 0; meanwhile a poll of
 *     the generator times out);
 *   - a producer failing mid-stream: its items, then its error once, then
 *     end of stream on every later call;
 *   - a slow consumer under a back-pressure bound of 4: every item carries
 *     the producer's count of acknowledged items, which never lags its own
 *     index by 4 or more;
 *   - cancel of a running producer (its yield returns cancelled, which it
 *     reports through a Gate) and release of a generator whose producer is
 *     paused by back-pressure (it wakes and stops the same way);
 *   - items passed as arguments to other tasks, small (inline) and large
 *     (node store) ones, and read with lumen_get; zero-copy, str and f64
 *     yields;
 *   - two threads taking items of one generator: each item exactly once;
 *   - 70,000 items: ids past the 16-bit index field stay distinct;
 *   - 6 MiB of large items held at once, read back intact (spilled in the
 *     _smallstore run, whose store holds 2 MiB);
 *   - release with items never taken (LeakSanitizer checks nothing leaks);
 *   - bad input: NULL handles, options, yield outside a streaming task,
 *     an unknown function;
 *   - actor methods as generators (lumen_actor_call_generator): in order
 *     with the actor's other calls, failing mid-stream, and cancelled while
 *     paused by back-pressure (the actor, one call at a time, then serves
 *     the next call: the producer really stopped).
 */
#include "check.h"

#include <pthread.h>
#include <string.h>

/* ---- Gate: a flag the driver and tasks share ------------------------------ */
static lumen_status gate_init(lumen_task_ctx *ctx, void **self)
{
    int64_t *v = calloc(1, sizeof *v);
    if (!v)
        return lumen_task_fail(ctx, "no memory");
    *self = v;
    return LUMEN_OK;
}
static void gate_destroy(void *self) { free(self); }
LUMEN_ACTOR_CLASS(Gate, gate_init, gate_destroy)

LUMEN_METHOD(Gate, set)
{
    TASK_TRY(lumen_arg_get_i64(ctx, 0, (int64_t *)self));
    return lumen_return_i64(ctx, 0, 1);
}

LUMEN_METHOD(Gate, get) { return lumen_return_i64(ctx, 0, *(int64_t *)self); }

static int64_t gate_get(lumen_actor gate)
{
    lumen_ref r;
    int64_t v = 0;
    CHECK_OK(LUMEN_ACTOR_CALL0(&r, gate, "get"));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    CHECK_OK(lumen_ref_release(r));
    return v;
}

static lumen_status gate_set(lumen_actor gate, int64_t v)
{
    lumen_ref r;
    int64_t ok = 0;
    lumen_status st = LUMEN_ACTOR_CALL(&r, gate, "set", LUMEN_ARG(v));
    if (st != LUMEN_OK)
        return st;
    st = lumen_get_i64(r, T_TIMEOUT, &ok);
    lumen_ref_release(r);
    return st;
}

/* wait (up to a minute) until the gate holds a value other than 0 */
static int64_t gate_wait(lumen_actor gate)
{
    double t0 = now_s();
    int64_t v;
    while ((v = gate_get(gate)) == 0) {
        CHECKF(now_s() - t0 < 60, "the gate was never set");
        sleep_ms(2);
    }
    return v;
}

static lumen_actor gate_new(void)
{
    lumen_actor a;
    CHECK_OK(lumen_actor_create("Gate", NULL, 0, NULL, &a));
    return a;
}

/* ---- producers ------------------------------------------------------------ */
/* gen_count(n, gate): yields i*7+1 for i < n; after item 0 waits until the
 * gate is set (by the caller, once it holds item 0) */
LUMEN_REMOTE(gen_count)
{
    int64_t n;
    lumen_actor gate;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &n));
    TASK_TRY(lumen_arg_get_actor(ctx, 1, &gate));
    for (int64_t i = 0; i < n; i++) {
        TASK_TRY(lumen_yield_i64(ctx, i * 7 + 1));
        if (i == 0) {
            double t0 = now_s();
            lumen_ref r;
            int64_t open = 0;
            while (!open) {
                if (now_s() - t0 > 60)
                    return lumen_task_fail(ctx, "the caller never opened the gate");
                TASK_TRY(LUMEN_ACTOR_CALL0(&r, gate, "get"));
                lumen_status st = lumen_get_i64(r, T_TIMEOUT, &open);
                lumen_ref_release(r);
                TASK_TRY(st);
            }
        }
    }
    return LUMEN_OK;
}

/* gen_fail(n): yields 0..n-1 then fails */
LUMEN_REMOTE(gen_fail)
{
    int64_t n;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &n));
    for (int64_t i = 0; i < n; i++)
        TASK_TRY(lumen_yield_i64(ctx, i));
    return lumen_task_fail(ctx, "boom after %lld items", (long long)n);
}

/* gen_acks(n): item i = i * 1000 + (items the caller had taken, as this rank knew) */
LUMEN_REMOTE(gen_acks)
{
    int64_t n;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &n));
    for (int64_t i = 0; i < n; i++) {
        uint64_t yielded, taken;
        TASK_TRY(lumen_yield_progress(ctx, &yielded, &taken));
        if (yielded != (uint64_t)i)
            return lumen_task_fail(ctx, "yield_progress says %llu yielded at item %lld", (unsigned long long)yielded,
                                   (long long)i);
        TASK_TRY(lumen_yield_i64(ctx, i * 1000 + (int64_t)taken));
    }
    return LUMEN_OK;
}

/* gen_forever(gate, delay_ms): yields until a yield fails, then sets the
 * gate to that status and returns it */
LUMEN_REMOTE(gen_forever)
{
    lumen_actor gate;
    int64_t delay;
    TASK_TRY(lumen_arg_get_actor(ctx, 0, &gate));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &delay));
    for (int64_t i = 0;; i++) {
        lumen_status st = lumen_yield_i64(ctx, i);
        if (st != LUMEN_OK) {
            TASK_TRY(gate_set(gate, (int64_t)st));
            return st;
        }
        if (i > 10000000)
            return lumen_task_fail(ctx, "never cancelled");
        if (delay)
            sleep_ms(delay);
    }
}

#define BIG (300 * 1024)

/* gen_mixed(): bytes (small, then large through yield_alloc), a str, an f64 */
LUMEN_REMOTE(gen_mixed)
{
    for (int k = 0; k < 6; k++) {
        size_t n = k % 2 ? BIG : 64 + (size_t)k;
        void *p;
        TASK_TRY(lumen_yield_alloc(ctx, n, &p));
        pattern_fill(p, n, (uint64_t)k);
        TASK_TRY(lumen_yield_commit(ctx));
    }
    char *big = malloc(BIG);
    if (!big)
        return lumen_task_fail(ctx, "no memory");
    pattern_fill(big, BIG, 99);
    lumen_status st = lumen_yield_bytes(ctx, big, BIG);
    free(big);
    TASK_TRY(st);
    TASK_TRY(lumen_yield_str(ctx, "streamed"));
    TASK_TRY(lumen_yield_f64(ctx, 2.5));
    return LUMEN_OK;
}

/* gen_big(n, size): n items of size bytes, item i the pattern of seed 1000+i */
LUMEN_REMOTE(gen_big)
{
    int64_t n, size;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &n));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &size));
    for (int64_t i = 0; i < n; i++) {
        void *p;
        TASK_TRY(lumen_yield_alloc(ctx, (size_t)size, &p));
        pattern_fill(p, (size_t)size, 1000 + (uint64_t)i);
        TASK_TRY(lumen_yield_commit(ctx));
    }
    return LUMEN_OK;
}

/* byte_sum(bytes) -> sum of its bytes */
LUMEN_REMOTE(gs_byte_sum)
{
    const void *p;
    size_t n;
    TASK_TRY(lumen_arg_get_bytes(ctx, 0, &p, &n));
    return lumen_return_i64(ctx, 0, (int64_t)byte_sum(p, n));
}

/* yield_outside(): an ordinary task tries to yield: returns the statuses */
LUMEN_REMOTE(gs_yield_outside)
{
    void *p;
    lumen_status a = lumen_yield_i64(ctx, 1);
    lumen_status b = lumen_yield_alloc(ctx, 8, &p);
    lumen_status c = lumen_yield_commit(ctx);
    lumen_status d = lumen_yield_progress(ctx, NULL, NULL);
    return lumen_return_i64(ctx, 0, a == LUMEN_ERR_INVALID_ARG && b == a && c == a && d == a ? 1 : 0);
}

/* ---- tests ---------------------------------------------------------------- */
static void test_stream(void)
{
    const int64_t n = 10000;
    lumen_actor gate = gate_new();
    lumen_generator *g;
    CHECK_OK(lumen_remote_generator("gen_count", (lumen_arg[]){lumen_arg_i64(n), lumen_arg_actor(gate)}, 2, NULL, &g));
    lumen_ref r;
    int64_t v;
    CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    CHECK(v == 1);
    CHECK_OK(lumen_ref_release(r));
    /* the producer waits for the gate: nothing more can come yet */
    CHECK_ST(lumen_generator_next(g, 0, &r), LUMEN_ERR_TIMEOUT);
    CHECK_ST(lumen_generator_next(g, 20, &r), LUMEN_ERR_TIMEOUT);
    CHECK(lumen_ref_is_nil(r));
    uint64_t taken;
    int ended;
    CHECK_OK(lumen_generator_status(g, &taken, &ended));
    CHECK(taken == 1 && !ended);
    CHECK_OK(gate_set(gate, 1));
    for (int64_t i = 1; i < n; i++) {
        CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
        CHECKF(v == i * 7 + 1, "item %lld is %lld", (long long)i, (long long)v);
        CHECK_OK(lumen_ref_release(r));
    }
    for (int k = 0; k < 3; k++)
        CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_status(g, &taken, &ended));
    CHECK(taken == (uint64_t)n && ended);
    CHECK_OK(lumen_generator_release(g));
    CHECK_OK(lumen_actor_release(gate));
}

static void test_fail(void)
{
    lumen_generator *g;
    CHECK_OK(lumen_remote_generator("gen_fail", (lumen_arg[]){lumen_arg_i64(5)}, 1, NULL, &g));
    lumen_ref r;
    for (int64_t i = 0; i < 5; i++) {
        int64_t v;
        CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
        CHECK(v == i);
        CHECK_OK(lumen_ref_release(r));
    }
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("boom after 5 items");
    CHECK_ERRMSG("gen_fail");
    for (int k = 0; k < 3; k++)
        CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g));

    /* failing before any item: the error first */
    CHECK_OK(lumen_remote_generator("gen_fail", (lumen_arg[]){lumen_arg_i64(0)}, 1, NULL, &g));
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_TASK_FAILED);
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g));
}

static void test_backpressure(void)
{
    const int64_t n = 300, bound = 4;
    lumen_task_options o = {.field_mask = LUMEN_TASK_GENERATOR_BACKPRESSURE,
                            .generator_backpressure_num_objects = (int)bound};
    lumen_generator *g;
    CHECK_OK(lumen_remote_generator("gen_acks", (lumen_arg[]){lumen_arg_i64(n)}, 1, &o, &g));
    int64_t max_ahead = 0;
    for (int64_t i = 0; i < n; i++) {
        lumen_ref r;
        int64_t v;
        CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
        CHECK_OK(lumen_ref_release(r));
        int64_t idx = v / 1000, acked = v % 1000;
        CHECK(idx == i);
        CHECKF(idx - acked < bound, "item %lld produced with only %lld taken (bound %lld)", (long long)idx,
               (long long)acked, (long long)bound);
        CHECK(acked <= i); /* never more taken than we took */
        if (idx - acked > max_ahead)
            max_ahead = idx - acked;
        if (i % 50 < 5)
            sleep_ms(1); /* slow now and then: the producer must wait */
    }
    lumen_ref r;
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g));
    CHECK(max_ahead <= bound - 1);
}

static void test_cancel(void)
{
    lumen_actor gate = gate_new();
    lumen_generator *g;
    CHECK_OK(lumen_remote_generator("gen_forever", (lumen_arg[]){lumen_arg_actor(gate), lumen_arg_i64(1)}, 2, NULL,
                                    &g));
    lumen_ref r;
    for (int64_t i = 0; i < 5; i++) {
        int64_t v;
        CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
        CHECK(v == i);
        CHECK_OK(lumen_ref_release(r));
    }
    CHECK_OK(lumen_generator_cancel(g));
    CHECK_OK(lumen_generator_cancel(g)); /* twice is harmless */
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_TASK_CANCELLED);
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    /* the producer saw it: its yield returned cancelled */
    CHECK(gate_wait(gate) == LUMEN_ERR_TASK_CANCELLED);
    CHECK_OK(lumen_generator_release(g));
    CHECK_OK(lumen_actor_release(gate));

    /* release while the producer is paused by back-pressure: it wakes, stops */
    gate = gate_new();
    lumen_task_options o = {.field_mask = LUMEN_TASK_GENERATOR_BACKPRESSURE, .generator_backpressure_num_objects = 2};
    CHECK_OK(lumen_remote_generator("gen_forever", (lumen_arg[]){lumen_arg_actor(gate), lumen_arg_i64(0)}, 2, &o, &g));
    for (int64_t i = 0; i < 3; i++) {
        int64_t v;
        CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
        CHECK(v == i);
        CHECK_OK(lumen_ref_release(r));
    }
    sleep_ms(20); /* let it run into the bound */
    CHECK_OK(lumen_generator_release(g));
    CHECK(gate_wait(gate) == LUMEN_ERR_TASK_CANCELLED);
    CHECK_OK(lumen_actor_release(gate));

    /* cancel before it could start */
    gate = gate_new();
    CHECK_OK(lumen_remote_generator("gen_forever", (lumen_arg[]){lumen_arg_actor(gate), lumen_arg_i64(0)}, 2, &o, &g));
    CHECK_OK(lumen_generator_cancel(g));
    lumen_status st = lumen_generator_next(g, T_TIMEOUT, &r);
    CHECK(st == LUMEN_ERR_TASK_CANCELLED);
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g));
    CHECK_OK(lumen_actor_release(gate));
}

static void test_items_as_args(void)
{
    lumen_generator *g;
    lumen_task_options o = {.field_mask = LUMEN_TASK_SCHEDULING, .scheduling = lumen_sched_spread()};
    CHECK_OK(lumen_remote_generator("gen_mixed", NULL, 0, &o, &g));
    lumen_ref items[9], sums[7];
    for (int k = 0; k < 9; k++)
        CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &items[k]));
    lumen_ref r;
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g)); /* the items we took stay valid */
    for (int k = 0; k < 7; k++) /* each to another task, spread over the ranks */
        CHECK_OK(lumen_remote("gs_byte_sum", (lumen_arg[]){lumen_arg_ref(items[k])}, 1, &o, &sums[k]));
    for (int k = 0; k < 7; k++) {
        size_t n = k == 6 ? BIG : k % 2 ? BIG : 64 + (size_t)k;
        uint64_t seed = k == 6 ? 99 : (uint64_t)k;
        lumen_value v;
        CHECK_OK(lumen_get(items[k], T_TIMEOUT, &v));
        CHECK(v.type == LUMEN_TYPE_BYTES && v.size == n);
        CHECK_PATTERN(v.data, n, seed);
        int64_t s;
        CHECK_OK(lumen_get_i64(sums[k], T_TIMEOUT, &s));
        CHECK((uint64_t)s == byte_sum(v.data, n));
        CHECK_OK(lumen_ref_release(sums[k]));
    }
    lumen_value v;
    CHECK_OK(lumen_get(items[7], T_TIMEOUT, &v));
    CHECK(v.type == LUMEN_TYPE_STR && !strcmp(v.data, "streamed"));
    double f;
    CHECK_OK(lumen_get_f64(items[8], T_TIMEOUT, &f));
    CHECK(f == 2.5);
    for (int k = 0; k < 9; k++)
        CHECK_OK(lumen_ref_release(items[k]));
    /* a released item is gone like any object */
    CHECK_ST(lumen_get(items[0], 0, &v), LUMEN_ERR_INVALID_REF);
    CHECK_ERRMSG("already released");
}

/* 6 MiB of items held at once: with a small store (the _smallstore run)
 * they spill and come back intact */
static void test_spill(void)
{
    const int64_t n = 24, size = 256 * 1024;
    lumen_generator *g;
    CHECK_OK(lumen_remote_generator("gen_big", (lumen_arg[]){lumen_arg_i64(n), lumen_arg_i64(size)}, 2, NULL, &g));
    lumen_ref items[24];
    for (int64_t i = 0; i < n; i++)
        CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &items[i]));
    lumen_ref r;
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g));
    for (int64_t i = 0; i < n; i++) {
        lumen_value v;
        CHECK_OK(lumen_get(items[i], T_TIMEOUT, &v));
        CHECK(v.type == LUMEN_TYPE_BYTES && v.size == (size_t)size);
        CHECK_PATTERN(v.data, (size_t)size, 1000 + (uint64_t)i);
        CHECK_OK(lumen_ref_release(items[i]));
    }
    lumen_store_stats ss;
    CHECK_OK(lumen_store_stats_get(&ss));
    /* one store per host, 2 MiB: 6 MiB went through it (with each rank its
     * own node the items sit in the producer's store, not this one) */
    const char *per_node = getenv("LUMEN_RANK_IS_NODE");
    int shared = lumen_world_size() == 1 || !per_node || strcmp(per_node, "1") != 0;
    if (ss.capacity <= 4 * 1024 * 1024 && shared)
        CHECKF(ss.spilled_bytes > 0 && ss.restored > 0, "nothing spilled (%zu bytes, %zu restored)", ss.spilled_bytes,
               ss.restored);
}

/* more items than the 16-bit index field of an id holds: distinct objects */
static void test_many(void)
{
    const int64_t n = 70000;
    lumen_actor gate = gate_new();
    CHECK_OK(gate_set(gate, 1));
    lumen_generator *g;
    CHECK_OK(lumen_remote_generator("gen_count", (lumen_arg[]){lumen_arg_i64(n), lumen_arg_actor(gate)}, 2, NULL, &g));
    const int64_t keep_at[] = {0, 1, 65535, 65536, 65537, 69999};
    lumen_ref keep[6];
    int nk = 0;
    for (int64_t i = 0; i < n; i++) {
        lumen_ref r;
        CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
        if (nk < 6 && i == keep_at[nk])
            keep[nk++] = r;
        else
            CHECK_OK(lumen_ref_release(r));
    }
    lumen_ref r;
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g));
    CHECK(nk == 6);
    for (int k = 0; k < 6; k++) {
        int64_t v;
        CHECK_OK(lumen_get_i64(keep[k], T_TIMEOUT, &v));
        CHECKF(v == keep_at[k] * 7 + 1, "item %lld is %lld", (long long)keep_at[k], (long long)v);
        for (int j = 0; j < k; j++)
            CHECK(!lumen_ref_equal(keep[j], keep[k]));
        CHECK_OK(lumen_ref_release(keep[k]));
    }
    CHECK_OK(lumen_actor_release(gate));
}

typedef struct {
    lumen_generator *g;
    int64_t n;
    unsigned char *seen;
    int64_t count;
} take_arg;

static void *take_main(void *p)
{
    take_arg *a = p;
    lumen_ref r;
    lumen_status st;
    while ((st = lumen_generator_next(a->g, T_TIMEOUT, &r)) == LUMEN_OK) {
        int64_t v;
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
        CHECK_OK(lumen_ref_release(r));
        int64_t i = (v - 1) / 7;
        CHECK(i >= 0 && i < a->n && i * 7 + 1 == v);
        a->seen[i]++;
        a->count++;
    }
    CHECK_ST(st, LUMEN_ERR_END_OF_STREAM);
    return NULL;
}

static void test_threads(void)
{
    const int64_t n = 4000;
    lumen_actor gate = gate_new();
    CHECK_OK(gate_set(gate, 1)); /* open from the start */
    lumen_generator *g;
    CHECK_OK(lumen_remote_generator("gen_count", (lumen_arg[]){lumen_arg_i64(n), lumen_arg_actor(gate)}, 2, NULL, &g));
    unsigned char *seen[2] = {calloc((size_t)n, 1), calloc((size_t)n, 1)};
    CHECK(seen[0] && seen[1]);
    take_arg a[2] = {{g, n, seen[0], 0}, {g, n, seen[1], 0}};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, take_main, &a[1]) == 0);
    take_main(&a[0]);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(a[0].count + a[1].count == n);
    for (int64_t i = 0; i < n; i++)
        CHECKF(seen[0][i] + seen[1][i] == 1, "item %lld taken %d times", (long long)i, seen[0][i] + seen[1][i]);
    free(seen[0]);
    free(seen[1]);
    CHECK_OK(lumen_generator_release(g));
    CHECK_OK(lumen_actor_release(gate));
}

static void test_release_early(void)
{
    lumen_actor gate = gate_new();
    CHECK_OK(gate_set(gate, 1));
    for (int round = 0; round < 3; round++) {
        lumen_generator *g;
        CHECK_OK(lumen_remote_generator("gen_count", (lumen_arg[]){lumen_arg_i64(500), lumen_arg_actor(gate)}, 2,
                                        NULL, &g));
        lumen_ref r;
        for (int k = 0; k < round * 10; k++) {
            CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
            CHECK_OK(lumen_ref_release(r));
        }
        if (round == 2)
            sleep_ms(50); /* items waiting, not taken */
        CHECK_OK(lumen_generator_release(g));
    }
    /* big items left in the store are freed too */
    lumen_generator *g;
    CHECK_OK(lumen_remote_generator("gen_mixed", NULL, 0, NULL, &g));
    lumen_ref r;
    CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
    CHECK_OK(lumen_generator_release(g));
    CHECK_OK(lumen_ref_release(r));
    CHECK_OK(lumen_actor_release(gate));
}

static void test_bad_input(void)
{
    lumen_generator *g = NULL;
    lumen_ref r;
    CHECK_ST(lumen_remote_generator(NULL, NULL, 0, NULL, &g), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_remote_generator("gen_fail", (lumen_arg[]){lumen_arg_i64(1)}, 1, NULL, NULL),
             LUMEN_ERR_INVALID_ARG);
    lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = 2};
    CHECK_ST(lumen_remote_generator("gen_fail", (lumen_arg[]){lumen_arg_i64(1)}, 1, &o, &g), LUMEN_ERR_INVALID_ARG);
    CHECK(g == NULL);
    o = (lumen_task_options){.field_mask = LUMEN_TASK_GENERATOR_BACKPRESSURE, .generator_backpressure_num_objects = -1};
    CHECK_ST(lumen_remote_generator("gen_fail", (lumen_arg[]){lumen_arg_i64(1)}, 1, &o, &g), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_generator_next(NULL, 0, &r), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_generator_cancel(NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_generator_status(NULL, NULL, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_OK(lumen_generator_release(NULL));
    CHECK(lumen_strerror(LUMEN_ERR_END_OF_STREAM) && !strcmp(lumen_strerror(LUMEN_ERR_END_OF_STREAM), "end of stream"));

    CHECK_OK(lumen_remote_generator("gen_fail", (lumen_arg[]){lumen_arg_i64(1)}, 1, NULL, &g));
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_OK(lumen_generator_release(g));

    /* yield from an ordinary task: a clear error */
    int64_t ok = 0;
    CHECK_OK(lumen_remote("gs_yield_outside", NULL, 0, NULL, &r));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &ok));
    CHECK(ok == 1);
    CHECK_OK(lumen_ref_release(r));
    CHECK_ST(lumen_yield_i64(NULL, 1), LUMEN_ERR_INVALID_ARG);

    /* an unknown function: its error, then the end */
    CHECK_OK(lumen_remote_generator("no_such_generator", NULL, 0, NULL, &g));
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_UNKNOWN_FUNCTION);
    CHECK_ST(lumen_generator_next(g, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g));
}

/* ---- actor methods -------------------------------------------------------- */
static lumen_status streamer_init(lumen_task_ctx *ctx, void **self)
{
    int64_t *v = calloc(1, sizeof *v);
    if (!v)
        return lumen_task_fail(ctx, "no memory");
    *self = v;
    return LUMEN_OK;
}
LUMEN_ACTOR_CLASS(Streamer, streamer_init, gate_destroy)

/* count(n): yields state*1000 + i for i < n, then state += 1 */
LUMEN_METHOD(Streamer, count)
{
    int64_t n, *state = self;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &n));
    for (int64_t i = 0; i < n; i++)
        TASK_TRY(lumen_yield_i64(ctx, *state * 1000 + i));
    (*state)++;
    return LUMEN_OK;
}

/* fail_after(n): yields n items, then fails */
LUMEN_METHOD(Streamer, fail_after)
{
    (void)self;
    int64_t n;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &n));
    for (int64_t i = 0; i < n; i++)
        TASK_TRY(lumen_yield_i64(ctx, i));
    return lumen_task_fail(ctx, "method gave up after %lld", (long long)n);
}

/* forever(): yields until told to stop; state = -1 when it stopped */
LUMEN_METHOD(Streamer, forever)
{
    int64_t *state = self;
    for (int64_t i = 0;; i++) {
        lumen_status st = lumen_yield_i64(ctx, i);
        if (st != LUMEN_OK) {
            *state = -1;
            return st;
        }
    }
}

LUMEN_METHOD(Streamer, state) { return lumen_return_i64(ctx, 0, *(int64_t *)self); }

static void take_i64s(lumen_generator *g, int64_t n, int64_t base)
{
    for (int64_t i = 0; i < n; i++) {
        lumen_ref r;
        int64_t v;
        CHECK_OK(lumen_generator_next(g, T_TIMEOUT, &r));
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
        CHECKF(v == base + i, "item %lld is %lld, wanted %lld", (long long)i, (long long)v, (long long)(base + i));
        CHECK_OK(lumen_ref_release(r));
    }
}

static void test_actor_methods(void)
{
    lumen_actor a;
    lumen_actor_options ao = {.field_mask = LUMEN_ACTOR_SCHEDULING, .scheduling = lumen_sched_spread()};
    CHECK_OK(lumen_actor_create("Streamer", NULL, 0, &ao, &a));
    lumen_generator *g1, *g2;
    CHECK_OK(lumen_actor_call_generator(a, "count", (lumen_arg[]){lumen_arg_i64(2000)}, 1, NULL, &g1));
    CHECK_OK(lumen_actor_call_generator(a, "count", (lumen_arg[]){lumen_arg_i64(10)}, 1, NULL, &g2));
    lumen_ref st;
    CHECK_OK(LUMEN_ACTOR_CALL0(&st, a, "state")); /* after both, in call order */
    take_i64s(g1, 2000, 0);
    take_i64s(g2, 10, 1000);
    lumen_ref r;
    CHECK_ST(lumen_generator_next(g1, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_ST(lumen_generator_next(g2, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    int64_t v;
    CHECK_OK(lumen_get_i64(st, T_TIMEOUT, &v));
    CHECK(v == 2);
    CHECK_OK(lumen_ref_release(st));
    CHECK_OK(lumen_generator_release(g1));
    CHECK_OK(lumen_generator_release(g2));

    CHECK_OK(lumen_actor_call_generator(a, "fail_after", (lumen_arg[]){lumen_arg_i64(3)}, 1, NULL, &g1));
    take_i64s(g1, 3, 0);
    CHECK_ST(lumen_generator_next(g1, T_TIMEOUT, &r), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("method gave up after 3");
    CHECK_ST(lumen_generator_next(g1, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g1));

    /* paused by back-pressure, then cancelled: the actor serves the next call */
    lumen_call_options co = {.field_mask = LUMEN_CALL_GENERATOR_BACKPRESSURE, .generator_backpressure_num_objects = 2};
    CHECK_OK(lumen_actor_call_generator(a, "forever", NULL, 0, &co, &g1));
    take_i64s(g1, 5, 0);
    CHECK_OK(lumen_generator_cancel(g1));
    CHECK_ST(lumen_generator_next(g1, T_TIMEOUT, &r), LUMEN_ERR_TASK_CANCELLED);
    CHECK_ST(lumen_generator_next(g1, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(LUMEN_ACTOR_CALL0(&st, a, "state"));
    CHECK_OK(lumen_get_i64(st, T_TIMEOUT, &v));
    CHECK(v == -1);
    CHECK_OK(lumen_ref_release(st));
    CHECK_OK(lumen_generator_release(g1));

    /* bad input */
    co = (lumen_call_options){.field_mask = LUMEN_CALL_NUM_RETURNS, .num_returns = 3};
    CHECK_ST(lumen_actor_call_generator(a, "count", NULL, 0, &co, &g1), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_actor_call_generator(a, "count", NULL, 0, NULL, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_actor_call_generator(LUMEN_ACTOR_NIL, "count", NULL, 0, NULL, &g1), LUMEN_ERR_INVALID_ARG);
    CHECK_OK(lumen_actor_call_generator(a, "no_such_method", NULL, 0, NULL, &g1));
    CHECK_ST(lumen_generator_next(g1, T_TIMEOUT, &r), LUMEN_ERR_UNKNOWN_FUNCTION);
    CHECK_ST(lumen_generator_next(g1, T_TIMEOUT, &r), LUMEN_ERR_END_OF_STREAM);
    CHECK_OK(lumen_generator_release(g1));
    CHECK_OK(lumen_actor_release(a));
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_bad_input();
        test_stream();
        test_fail();
        test_backpressure();
        test_cancel();
        test_items_as_args();
        test_threads();
        test_many();
        test_spill();
        test_release_early();
        test_actor_methods();
        printf("generator_stream: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
