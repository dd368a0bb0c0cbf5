/*
 * actor_basic.c - the actor life of a Counter (constructor takes an i64
 * start; incr adds its argument and returns the new value; get): 100 incr
 * calls return start+1 .. start+100 in order, LUMEN_ACTOR_CALL0 and
 * lumen_actor_ready work, an object reference as a method argument (a
 * lumen_put buffer and a task's result) is resolved to its value before the
 * method runs, num_returns=2 through lumen_call_options fills both slots, a
 * method failing with lumen_task_fail gives LUMEN_ERR_TASK_FAILED (with its
 * cause) for that call only and the actor keeps its state, an unknown method
 * gives a LUMEN_ERR_UNKNOWN_FUNCTION object, an unknown class is refused by
 * lumen_actor_create, a constructor that fails makes the ready reference and
 * every call fail with LUMEN_ERR_ACTOR_DIED whose message carries the
 * constructor's cause, a max_concurrency=4 actor runs more than one and at
 * most 4 of its methods at once (counted inside the actor), and 20 actors
 * live side by side, each with its own state.
 */
#include "check.h"

#include <stdatomic.h>
#include <string.h>

/* ---- Counter ------------------------------------------------------------ */
typedef struct counter {
    int64_t v;
} counter;

static lumen_status counter_init(lumen_task_ctx *ctx, void **self)
{
    int64_t start = 0;
    if (lumen_num_args(ctx) > 0)
        TASK_TRY(lumen_arg_get_i64(ctx, 0, &start));
    counter *c = malloc(sizeof *c);
    if (!c)
        return lumen_task_fail(ctx, "no memory");
    c->v = start;
    *self = c;
    return LUMEN_OK;
}

static void counter_destroy(void *self) { free(self); }

LUMEN_ACTOR_CLASS(Counter, counter_init, counter_destroy)

/* incr(d): v += d, returns v */
LUMEN_METHOD(Counter, incr)
{
    counter *c = self;
    int64_t d;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &d));
    c->v += d;
    return lumen_return_i64(ctx, 0, c->v);
}

LUMEN_METHOD(Counter, get)
{
    counter *c = self;
    return lumen_return_i64(ctx, 0, c->v);
}

/* add_bytes(bytes, seed): checks the pattern, v += number of bytes, returns v */
LUMEN_METHOD(Counter, add_bytes)
{
    counter *c = self;
    const void *d;
    size_t n;
    int64_t seed;
    TASK_TRY(lumen_arg_get_bytes(ctx, 0, &d, &n));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seed));
    size_t bad = pattern_find_bad(d, n, (uint64_t)seed);
    if (bad != n)
        return lumen_task_fail(ctx, "byte %zu of %zu differs", bad, n);
    c->v += (int64_t)n;
    return lumen_return_i64(ctx, 0, c->v);
}

/* pair(): two slots, v and -v (num_returns must be 2) */
LUMEN_METHOD(Counter, pair)
{
    counter *c = self;
    if (lumen_num_returns(ctx) != 2)
        return lumen_task_fail(ctx, "num_returns is %zu, wanted 2", lumen_num_returns(ctx));
    TASK_TRY(lumen_return_i64(ctx, 0, c->v));
    return lumen_return_i64(ctx, 1, -c->v);
}

/* fail(): changes v (the change stays), then fails */
LUMEN_METHOD(Counter, fail)
{
    counter *c = self;
    c->v += 1000;
    return lumen_task_fail(ctx, "counter refused on purpose at %lld", (long long)c->v);
}

/* ---- a class whose constructor fails ------------------------------------ */
static lumen_status badinit_init(lumen_task_ctx *ctx, void **self)
{
    const char *why = "?";
    (void)self;
    if (lumen_num_args(ctx) > 0)
        TASK_TRY(lumen_arg_get_str(ctx, 0, &why));
    return lumen_task_fail(ctx, "BadInit constructor says: %s", why);
}

LUMEN_ACTOR_CLASS(BadInit, badinit_init, NULL)

LUMEN_METHOD(BadInit, hello) { (void)self; return lumen_return_i64(ctx, 0, 1); }

/* ---- a class with concurrent methods ------------------------------------ */
typedef struct napper {
    atomic_int running;
    atomic_int max_seen;
    atomic_int done;
} napper;

static lumen_status napper_init(lumen_task_ctx *ctx, void **self)
{
    napper *n = calloc(1, sizeof *n);
    if (!n)
        return lumen_task_fail(ctx, "no memory");
    atomic_init(&n->running, 0);
    atomic_init(&n->max_seen, 0);
    atomic_init(&n->done, 0);
    *self = n;
    return LUMEN_OK;
}

static void napper_destroy(void *self) { free(self); }

LUMEN_ACTOR_CLASS(Napper, napper_init, napper_destroy)

/* nap(ms): counts itself as running while it sleeps; returns the arg */
LUMEN_METHOD(Napper, nap)
{
    napper *n = self;
    int64_t ms;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    int now = atomic_fetch_add(&n->running, 1) + 1;
    int m = atomic_load(&n->max_seen);
    while (now > m && !atomic_compare_exchange_weak(&n->max_seen, &m, now))
        ;
    sleep_ms((long)ms);
    atomic_fetch_sub(&n->running, 1);
    atomic_fetch_add(&n->done, 1);
    return lumen_return_i64(ctx, 0, ms);
}

/* stats(): max running at once * 1000 + naps done */
LUMEN_METHOD(Napper, stats)
{
    napper *n = self;
    return lumen_return_i64(ctx, 0, (int64_t)atomic_load(&n->max_seen) * 1000 + atomic_load(&n->done));
}

/* a plain task: x -> x * 7 */
LUMEN_REMOTE(ab_times7)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    return lumen_return_i64(ctx, 0, 7 * x);
}

/* ---- helpers ------------------------------------------------------------ */
static int64_t get_i64(lumen_ref r)
{
    int64_t v = 0;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    return v;
}

static lumen_actor make_counter(int64_t start)
{
    lumen_actor a = LUMEN_ACTOR_NIL;
    lumen_arg arg = lumen_arg_i64(start);
    CHECK_OK(lumen_actor_create("Counter", &arg, 1, NULL, &a));
    CHECK(!lumen_actor_is_nil(a));
    return a;
}

static int64_t call_get(lumen_actor a)
{
    lumen_ref r;
    CHECK_OK(LUMEN_ACTOR_CALL0(&r, a, "get"));
    int64_t v = get_i64(r);
    CHECK_OK(lumen_ref_release(r));
    return v;
}

/* ---- tests -------------------------------------------------------------- */
static void test_counter_order(void)
{
    lumen_actor a = make_counter(5);
    lumen_ref ready;
    CHECK_OK(lumen_actor_ready(a, &ready));
    CHECK(!lumen_ref_is_nil(ready));
    CHECK(get_i64(ready) == 1);
    CHECK_OK(lumen_ref_release(ready));

    enum { N = 100 };
    lumen_ref r[N];
    for (int i = 0; i < N; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a, "incr", LUMEN_ARG(1)));
    lumen_value v[N];
    CHECK_OK(lumen_get_many(r, N, T_TIMEOUT, v));
    for (int i = 0; i < N; i++) {
        CHECKF(v[i].type == LUMEN_TYPE_I64 && v[i].i64 == 5 + i + 1, "incr #%d returned %lld (type %d), wanted %d", i,
               (long long)v[i].i64, (int)v[i].type, 5 + i + 1);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    CHECK(call_get(a) == 105);

    /* mixed amounts, results in order */
    int64_t want = 105;
    for (int i = 0; i < 10; i++) {
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a, "incr", LUMEN_ARG((int64_t)(i * i - 20))));
    }
    for (int i = 0; i < 10; i++) {
        want += i * i - 20;
        int64_t got = get_i64(r[i]);
        CHECKF(got == want, "incr %d: %lld, wanted %lld", i * i - 20, (long long)got, (long long)want);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    /* a ready reference taken now is ordered after the calls above, and still 1 */
    CHECK_OK(lumen_actor_ready(a, &ready));
    CHECK(get_i64(ready) == 1);
    CHECK_OK(lumen_ref_release(ready));

    /* handles compare equal to themselves and not to others */
    lumen_actor copy = a;
    CHECK(lumen_actor_equal(a, copy));
    CHECK(!lumen_actor_equal(a, LUMEN_ACTOR_NIL));
    char hex[33];
    lumen_actor_hex(a, hex);
    CHECK(strlen(hex) == 32);
    printf("counter %s: 110 calls in order\n", hex);
    CHECK_OK(lumen_actor_release(a));
}

static void test_ref_args(void)
{
    lumen_actor a = make_counter(0);
    /* a put object as the argument of a method */
    enum { SMALL = 1000, BIG = 300 * 1024 };
    static unsigned char buf[BIG];
    pattern_fill(buf, SMALL, 11);
    lumen_ref small, big, r;
    CHECK_OK(lumen_put(buf, SMALL, &small));
    pattern_fill(buf, BIG, 12);
    CHECK_OK(lumen_put(buf, BIG, &big));
    CHECK_OK(LUMEN_ACTOR_CALL(&r, a, "add_bytes", LUMEN_ARG(small), LUMEN_ARG(11)));
    CHECK(get_i64(r) == SMALL);
    CHECK_OK(lumen_ref_release(r));
    CHECK_OK(LUMEN_ACTOR_CALL(&r, a, "add_bytes", LUMEN_ARG(big), LUMEN_ARG(12)));
    CHECK(get_i64(r) == SMALL + BIG);
    CHECK_OK(lumen_ref_release(r));
    /* the argument may be released right after the call is made */
    pattern_fill(buf, SMALL, 13);
    CHECK_OK(lumen_put(buf, SMALL, &small));
    CHECK_OK(LUMEN_ACTOR_CALL(&r, a, "add_bytes", LUMEN_ARG(small), LUMEN_ARG(13)));
    CHECK_OK(lumen_ref_release(small));
    CHECK(get_i64(r) == 2 * SMALL + BIG);
    CHECK_OK(lumen_ref_release(r));
    CHECK_OK(lumen_ref_release(big));

    /* a task's (pending) result as the argument: the call waits for it */
    lumen_ref t;
    CHECK_OK(LUMEN_CALL(&t, "ab_times7", LUMEN_ARG(6)));
    CHECK_OK(LUMEN_ACTOR_CALL(&r, a, "incr", LUMEN_ARG(t)));
    int64_t got = get_i64(r);
    CHECKF(got == 2 * SMALL + BIG + 42, "incr(task result) = %lld", (long long)got);
    CHECK_OK(lumen_ref_release(r));
    /* a method's result as the argument of the next call */
    lumen_ref r1, r2;
    CHECK_OK(LUMEN_ACTOR_CALL0(&r1, a, "get"));
    CHECK_OK(LUMEN_ACTOR_CALL(&r2, a, "incr", LUMEN_ARG(r1)));
    CHECK(get_i64(r2) == 2 * got);
    CHECK_OK(lumen_ref_release(r1));
    CHECK_OK(lumen_ref_release(r2));
    CHECK_OK(lumen_ref_release(t));
    /* a failed dependency fails the call, the actor goes on */
    lumen_ref bad;
    CHECK_OK(LUMEN_CALL(&bad, "ab_times7", LUMEN_ARG("not a number")));
    CHECK_OK(LUMEN_ACTOR_CALL(&r, a, "incr", LUMEN_ARG(bad)));
    lumen_value v;
    CHECK_ST(lumen_get(r, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("ab_times7");
    CHECK_OK(lumen_ref_release(r));
    CHECK_OK(lumen_ref_release(bad));
    CHECK(call_get(a) == 2 * got);
    CHECK_OK(lumen_actor_release(a));
}

static void test_two_returns(void)
{
    lumen_actor a = make_counter(33);
    lumen_call_options o = {.field_mask = LUMEN_CALL_NUM_RETURNS, .num_returns = 2};
    lumen_ref r[2];
    CHECK_OK(lumen_actor_call(a, "pair", NULL, 0, &o, r));
    CHECK(!lumen_ref_equal(r[0], r[1]));
    CHECK(get_i64(r[0]) == 33);
    CHECK(get_i64(r[1]) == -33);
    CHECK_OK(lumen_ref_release(r[0]));
    CHECK_OK(lumen_ref_release(r[1]));
    /* one return asked of a two-slot method: it fails (its own check) */
    lumen_ref one;
    CHECK_OK(LUMEN_ACTOR_CALL0(&one, a, "pair"));
    lumen_value v;
    CHECK_ST(lumen_get(one, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("wanted 2");
    CHECK_OK(lumen_ref_release(one));
    /* num_returns=1 through the options is the default */
    o.num_returns = 1;
    CHECK_OK(lumen_actor_call(a, "get", NULL, 0, &o, &one));
    CHECK(get_i64(one) == 33);
    CHECK_OK(lumen_ref_release(one));
    CHECK_OK(lumen_actor_release(a));
}

static void test_method_errors(void)
{
    lumen_actor a = make_counter(1);
    lumen_ref r1, r2, r3, r4;
    lumen_value v;
    CHECK_OK(LUMEN_ACTOR_CALL(&r1, a, "incr", LUMEN_ARG(1)));
    CHECK_OK(LUMEN_ACTOR_CALL0(&r2, a, "fail"));
    CHECK_OK(LUMEN_ACTOR_CALL(&r3, a, "incr", LUMEN_ARG(1)));
    CHECK_OK(LUMEN_ACTOR_CALL0(&r4, a, "no_such_method"));
    CHECK(get_i64(r1) == 2);
    CHECK_ST(lumen_get(r2, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("counter refused on purpose at 1002");
    printf("failed method: %s\n", lumen_last_error());
    /* the failure was for that call only: the state it changed stays */
    CHECK(get_i64(r3) == 1003);
    CHECK_ST(lumen_get(r4, T_TIMEOUT, &v), LUMEN_ERR_UNKNOWN_FUNCTION);
    CHECK_ERRMSG("no_such_method");
    printf("unknown method: %s\n", lumen_last_error());
    /* twice the same error */
    CHECK_ST(lumen_get(r2, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_OK(lumen_ref_release(r1));
    CHECK_OK(lumen_ref_release(r2));
    CHECK_OK(lumen_ref_release(r3));
    CHECK_OK(lumen_ref_release(r4));
    /* the actor still works */
    CHECK(call_get(a) == 1003);
    /* a wrong argument type fails the call, not the actor */
    CHECK_OK(LUMEN_ACTOR_CALL(&r1, a, "incr", LUMEN_ARG(2.5)));
    CHECK_ST(lumen_get(r1, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_OK(lumen_ref_release(r1));
    CHECK(call_get(a) == 1003);
    CHECK_OK(lumen_actor_release(a));

    /* an unknown class: refused at once */
    lumen_actor u = LUMEN_ACTOR_NIL;
    lumen_status st = lumen_actor_create("NoSuchClass", NULL, 0, NULL, &u);
    CHECKF(st != LUMEN_OK, "creating an unknown class succeeded");
    CHECKF(strlen(lumen_last_error()) > 0, "no message for an unknown class");
    printf("unknown class: %d (%s): %s\n", (int)st, lumen_strerror(st), lumen_last_error());
}

static void test_failing_constructor(void)
{
    lumen_actor a = LUMEN_ACTOR_NIL;
    lumen_arg arg = lumen_arg_str("no-state-for-you-42");
    CHECK_OK(lumen_actor_create("BadInit", &arg, 1, NULL, &a));
    lumen_ref ready, r[5];
    lumen_value v;
    CHECK_OK(lumen_actor_ready(a, &ready));
    for (int i = 0; i < 5; i++)
        CHECK_OK(LUMEN_ACTOR_CALL0(&r[i], a, "hello"));
    CHECK_ST(lumen_get(ready, T_TIMEOUT, &v), LUMEN_ERR_ACTOR_DIED);
    CHECK_ERRMSG("no-state-for-you-42");
    printf("failed constructor (ready): %s\n", lumen_last_error());
    for (int i = 0; i < 5; i++) {
        CHECK_ST(lumen_get(r[i], T_TIMEOUT, &v), LUMEN_ERR_ACTOR_DIED);
        CHECK_ERRMSG("no-state-for-you-42");
        CHECK_OK(lumen_ref_release(r[i]));
    }
    /* calls made after the death is known fail the same way */
    lumen_ref late;
    CHECK_OK(LUMEN_ACTOR_CALL0(&late, a, "hello"));
    CHECK_ST(lumen_get(late, T_TIMEOUT, &v), LUMEN_ERR_ACTOR_DIED);
    CHECK_ERRMSG("no-state-for-you-42");
    CHECK_OK(lumen_ref_release(late));
    CHECK_OK(lumen_ref_release(ready));
    CHECK_OK(lumen_actor_release(a));
}

static void test_concurrency(void)
{
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_MAX_CONCURRENCY, .max_concurrency = 4};
    lumen_actor a;
    CHECK_OK(lumen_actor_create("Napper", NULL, 0, &o, &a));
    lumen_ref ready;
    CHECK_OK(lumen_actor_ready(a, &ready));
    CHECK(get_i64(ready) == 1);
    CHECK_OK(lumen_ref_release(ready));
    enum { N = 8 };
    lumen_ref r[N];
    double t0 = now_s();
    for (int i = 0; i < N; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a, "nap", LUMEN_ARG(200)));
    lumen_value v[N];
    CHECK_OK(lumen_get_many(r, N, T_TIMEOUT, v));
    double dt = now_s() - t0;
    for (int i = 0; i < N; i++) {
        CHECK(v[i].i64 == 200);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    lumen_ref s;
    CHECK_OK(LUMEN_ACTOR_CALL0(&s, a, "stats"));
    int64_t stats = get_i64(s);
    CHECK_OK(lumen_ref_release(s));
    int max_seen = (int)(stats / 1000), done = (int)(stats % 1000);
    printf("max_concurrency=4: %d naps of 200 ms in %.3f s, at most %d at once\n", N, dt, max_seen);
    CHECKF(done == N, "%d naps done, wanted %d", done, N);
    CHECKF(max_seen > 1, "max_concurrency=4 actor never ran two methods at once");
    CHECKF(max_seen <= 4, "max_concurrency=4 actor ran %d methods at once", max_seen);
    CHECK_OK(lumen_actor_release(a));

    /* the default (max_concurrency=1): one at a time */
    CHECK_OK(lumen_actor_create("Napper", NULL, 0, NULL, &a));
    for (int i = 0; i < 4; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a, "nap", LUMEN_ARG(30)));
    CHECK_OK(lumen_get_many(r, 4, T_TIMEOUT, v));
    for (int i = 0; i < 4; i++)
        CHECK_OK(lumen_ref_release(r[i]));
    CHECK_OK(LUMEN_ACTOR_CALL0(&s, a, "stats"));
    stats = get_i64(s);
    CHECK_OK(lumen_ref_release(s));
    CHECKF(stats / 1000 == 1 && stats % 1000 == 4, "default actor: max at once %lld, done %lld", (long long)(stats / 1000),
           (long long)(stats % 1000));
    CHECK_OK(lumen_actor_release(a));
}

static void test_many_actors(void)
{
    enum { N = 20 };
    lumen_actor a[N];
    lumen_ref r[N];
    for (int i = 0; i < N; i++)
        a[i] = make_counter(100 * i);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++)
            CHECK(!lumen_actor_equal(a[i], a[j]));
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < N; i++)
            CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a[i], "incr", LUMEN_ARG(i)));
        for (int i = 0; i < N; i++) {
            int64_t got = get_i64(r[i]);
            CHECKF(got == 100 * i + round * i, "actor %d round %d: %lld", i, round, (long long)got);
            CHECK_OK(lumen_ref_release(r[i]));
        }
    }
    for (int i = 0; i < N; i++)
        CHECK_OK(lumen_actor_release(a[i]));
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_counter_order();
        test_ref_args();
        test_two_returns();
        test_method_errors();
        test_failing_constructor();
        test_concurrency();
        test_many_actors();
        printf("actor_basic: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
