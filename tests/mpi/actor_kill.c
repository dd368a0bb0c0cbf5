/*
 * actor_kill.c - ending actors: lumen_actor_kill(a, 1) while one 300 ms call
 * runs and 20 more are queued fails the queued ones with
 * LUMEN_ERR_ACTOR_DIED naming the class (the running one may finish or die),
 * and every later call and the ready reference fail the same way; a kill
 * made by a task on another rank holding the handle ends it too;
 * lumen_actor_terminate lets the calls made before it succeed and fails the
 * ones after; lumen_actor_exit inside a method delivers that method's result
 * and fails the calls after it; max_pending_calls=2 makes the third
 * unfinished call fail in lumen_actor_call itself with
 * LUMEN_ERR_PENDING_CALLS_EXCEEDED, and calls are accepted again once one
 * has finished.
 */
#include "check.h"

#include <string.h>

static lumen_status sloth_init(lumen_task_ctx *ctx, void **self)
{
    int64_t *n = calloc(1, sizeof *n);
    if (!n)
        return lumen_task_fail(ctx, "no memory");
    *self = n;
    return LUMEN_OK;
}

static void sloth_destroy(void *self) { free(self); }

LUMEN_ACTOR_CLASS(Sloth, sloth_init, sloth_destroy)

/* nap(ms): sleeps, counts the call, returns the number of calls so far */
LUMEN_METHOD(Sloth, nap)
{
    int64_t *n = self;
    int64_t ms;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    sleep_ms((long)ms);
    return lumen_return_i64(ctx, 0, ++*n);
}

LUMEN_METHOD(Sloth, count)
{
    int64_t *n = self;
    return lumen_return_i64(ctx, 0, *n);
}

/* bye(): the actor exits after this call, whose result is 77 */
LUMEN_METHOD(Sloth, bye)
{
    (void)self;
    TASK_TRY(lumen_actor_exit(ctx));
    return lumen_return_i64(ctx, 0, 77);
}

/* killer(actor): kills it from wherever this task runs; returns the rank */
LUMEN_REMOTE(killer)
{
    lumen_actor a;
    TASK_TRY(lumen_arg_get_actor(ctx, 0, &a));
    TASK_TRY(lumen_actor_kill(a, 1));
    return lumen_return_i64(ctx, 0, lumen_rank());
}

static int64_t get_i64(lumen_ref r)
{
    int64_t v = 0;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    return v;
}

static lumen_actor make_sloth(const lumen_actor_options *o)
{
    lumen_actor a;
    CHECK_OK(lumen_actor_create("Sloth", NULL, 0, o, &a));
    lumen_ref ready;
    CHECK_OK(lumen_actor_ready(a, &ready));
    CHECK(get_i64(ready) == 1);
    CHECK_OK(lumen_ref_release(ready));
    return a;
}

/* a call made now fails with ACTOR_DIED (as an error object) */
static void expect_dead(lumen_actor a, const char *what)
{
    lumen_ref r;
    lumen_status st = LUMEN_ACTOR_CALL(&r, a, "nap", LUMEN_ARG(0));
    CHECKF(st == LUMEN_OK, "%s: lumen_actor_call on a dead actor returned %d (%s) instead of an error object", what,
           (int)st, lumen_strerror(st));
    lumen_value v;
    st = lumen_get(r, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_ERR_ACTOR_DIED, "%s: a call after the actor's end gave %d (%s)", what, (int)st,
           lumen_strerror(st));
    CHECK_ERRMSG("Sloth");
    CHECK_OK(lumen_ref_release(r));
    /* the ready reference too */
    CHECK_OK(lumen_actor_ready(a, &r));
    st = lumen_get(r, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_ERR_ACTOR_DIED, "%s: ready after the actor's end gave %d (%s)", what, (int)st,
           lumen_strerror(st));
    CHECK_OK(lumen_ref_release(r));
}

static void test_kill_pending(void)
{
    lumen_actor a = make_sloth(NULL);
    enum { N = 21 };
    lumen_ref r[N];
    CHECK_OK(LUMEN_ACTOR_CALL(&r[0], a, "nap", LUMEN_ARG(300)));
    sleep_ms(50); /* most likely running now */
    for (int i = 1; i < N; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a, "nap", LUMEN_ARG(300)));
    double t0 = now_s();
    CHECK_OK(lumen_actor_kill(a, 1));
    lumen_value v;
    lumen_status st = lumen_get(r[0], T_TIMEOUT, &v);
    CHECKF(st == LUMEN_OK || st == LUMEN_ERR_ACTOR_DIED, "the running call gave %d (%s)", (int)st, lumen_strerror(st));
    printf("kill: the running call gave %s\n", st == LUMEN_OK ? "its result" : "ACTOR_DIED");
    if (st == LUMEN_OK)
        CHECK(v.i64 == 1);
    for (int i = 1; i < N; i++) {
        st = lumen_get(r[i], T_TIMEOUT, &v);
        CHECKF(st == LUMEN_ERR_ACTOR_DIED, "queued call %d after kill gave %d (%s)", i, (int)st, lumen_strerror(st));
        CHECK_ERRMSG("Sloth");
    }
    double dt = now_s() - t0;
    printf("kill: %d queued calls failed %.3f s after the kill: %s\n", N - 1, dt, lumen_last_error());
    for (int i = 0; i < N; i++)
        CHECK_OK(lumen_ref_release(r[i]));
    expect_dead(a, "after kill");
    expect_dead(a, "after kill, again");
    CHECK_OK(lumen_actor_release(a));

    /* killed by a task (maybe on another rank) holding the handle */
    a = make_sloth(NULL);
    lumen_ref k;
    CHECK_OK(LUMEN_CALL(&k, "killer", LUMEN_ARG(a)));
    int64_t where = get_i64(k);
    CHECK_OK(lumen_ref_release(k));
    printf("kill from a task on rank %lld\n", (long long)where);
    /* the kill is asynchronous: poll until calls fail */
    double t1 = now_s();
    for (;;) {
        lumen_ref c;
        CHECK_OK(LUMEN_ACTOR_CALL0(&c, a, "count"));
        st = lumen_get(c, T_TIMEOUT, &v);
        CHECK_OK(lumen_ref_release(c));
        if (st == LUMEN_ERR_ACTOR_DIED)
            break;
        CHECKF(st == LUMEN_OK, "call after a remote kill gave %d (%s)", (int)st, lumen_strerror(st));
        CHECKF(now_s() - t1 < 10, "the actor still answers 10 s after a task killed it");
        sleep_ms(20);
    }
    expect_dead(a, "after a remote kill");
    CHECK_OK(lumen_actor_release(a));
}

static void test_terminate(void)
{
    lumen_actor a = make_sloth(NULL);
    enum { N = 5 };
    lumen_ref r[N];
    for (int i = 0; i < N; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a, "nap", LUMEN_ARG(50)));
    CHECK_OK(lumen_actor_terminate(a));
    lumen_ref after;
    CHECK_OK(LUMEN_ACTOR_CALL(&after, a, "nap", LUMEN_ARG(0)));
    for (int i = 0; i < N; i++) {
        int64_t got = get_i64(r[i]);
        CHECKF(got == i + 1, "call %d made before terminate gave %lld", i, (long long)got);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    lumen_value v;
    lumen_status st = lumen_get(after, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_ERR_ACTOR_DIED, "call made after terminate gave %d (%s)", (int)st, lumen_strerror(st));
    printf("terminate: %s\n", lumen_last_error());
    CHECK_OK(lumen_ref_release(after));
    expect_dead(a, "after terminate");
    CHECK_OK(lumen_actor_release(a));
}

static void test_exit(void)
{
    lumen_actor a = make_sloth(NULL);
    lumen_ref r1, r2, r3;
    CHECK_OK(LUMEN_ACTOR_CALL(&r1, a, "nap", LUMEN_ARG(20)));
    CHECK_OK(LUMEN_ACTOR_CALL0(&r2, a, "bye"));
    CHECK_OK(LUMEN_ACTOR_CALL(&r3, a, "nap", LUMEN_ARG(0)));
    CHECK(get_i64(r1) == 1);
    int64_t got = get_i64(r2);
    CHECKF(got == 77, "the exiting method's result is %lld", (long long)got);
    lumen_value v;
    lumen_status st = lumen_get(r3, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_ERR_ACTOR_DIED, "call after exit gave %d (%s)", (int)st, lumen_strerror(st));
    printf("exit: %s\n", lumen_last_error());
    CHECK_OK(lumen_ref_release(r1));
    CHECK_OK(lumen_ref_release(r2));
    CHECK_OK(lumen_ref_release(r3));
    expect_dead(a, "after exit");
    CHECK_OK(lumen_actor_release(a));
}

static void test_pending_limit(void)
{
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_MAX_PENDING_CALLS, .max_pending_calls = 2};
    lumen_actor a = make_sloth(&o);
    lumen_ref r1, r2, r3, r4;
    CHECK_OK(LUMEN_ACTOR_CALL(&r1, a, "nap", LUMEN_ARG(300)));
    CHECK_OK(LUMEN_ACTOR_CALL(&r2, a, "nap", LUMEN_ARG(300)));
    CHECK_ST(LUMEN_ACTOR_CALL(&r3, a, "nap", LUMEN_ARG(300)), LUMEN_ERR_PENDING_CALLS_EXCEEDED);
    CHECK(strlen(lumen_last_error()) > 0);
    printf("max_pending_calls=2: %s\n", lumen_last_error());
    CHECK_ST(LUMEN_ACTOR_CALL0(&r3, a, "count"), LUMEN_ERR_PENDING_CALLS_EXCEEDED);
    CHECK(get_i64(r1) == 1);
    /* one finished: one more is accepted, not two */
    CHECK_OK(LUMEN_ACTOR_CALL(&r3, a, "nap", LUMEN_ARG(10)));
    CHECK_ST(LUMEN_ACTOR_CALL(&r4, a, "nap", LUMEN_ARG(10)), LUMEN_ERR_PENDING_CALLS_EXCEEDED);
    CHECK(get_i64(r2) == 2);
    CHECK(get_i64(r3) == 3);
    CHECK_OK(lumen_ref_release(r1));
    CHECK_OK(lumen_ref_release(r2));
    CHECK_OK(lumen_ref_release(r3));
    /* nothing pending: two at once again */
    CHECK_OK(LUMEN_ACTOR_CALL(&r1, a, "nap", LUMEN_ARG(10)));
    CHECK_OK(LUMEN_ACTOR_CALL0(&r2, a, "count"));
    CHECK(get_i64(r1) == 4);
    CHECK(get_i64(r2) == 4);
    CHECK_OK(lumen_ref_release(r1));
    CHECK_OK(lumen_ref_release(r2));
    CHECK_OK(lumen_actor_release(a));

    /* the default: no limit */
    a = make_sloth(NULL);
    enum { N = 50 };
    lumen_ref r[N];
    for (int i = 0; i < N; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], a, "nap", LUMEN_ARG(1)));
    for (int i = 0; i < N; i++) {
        CHECK(get_i64(r[i]) == i + 1);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    CHECK_OK(lumen_actor_release(a));
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_kill_pending();
        test_terminate();
        test_exit();
        test_pending_limit();
        printf("actor_kill: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
