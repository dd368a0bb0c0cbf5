/*
 * actor_restart.c - actor fault tolerance: with max_restarts=1 and
 * max_task_retries=-1, a method calling lumen_actor_fatal fails that call
 * with LUMEN_ERR_ACTOR_DIED carrying the fatal cause, the constructor runs
 * again (the state is back to the creation value), a call queued behind the
 * crash runs on the restarted actor, and calls keep working; the second
 * fatal error exhausts max_restarts, after which every call and the ready
 * reference fail with ACTOR_DIED naming that cause. max_restarts=0: the first
 * fatal error is the end. max_restarts=-1 restarts every time.
 * lumen_actor_kill(a, 0) lets max_restarts apply (the actor comes back),
 * lumen_actor_kill(a, 1) does not.
 */
#include "check.h"

#include <string.h>

typedef struct phoenix {
    int64_t v;
} phoenix;

static lumen_status phoenix_init(lumen_task_ctx *ctx, void **self)
{
    int64_t start;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &start));
    phoenix *p = malloc(sizeof *p);
    if (!p)
        return lumen_task_fail(ctx, "no memory");
    p->v = start;
    *self = p;
    return LUMEN_OK;
}

static void phoenix_destroy(void *self) { free(self); }

LUMEN_ACTOR_CLASS(Phoenix, phoenix_init, phoenix_destroy)

LUMEN_METHOD(Phoenix, incr)
{
    phoenix *p = self;
    int64_t d;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &d));
    p->v += d;
    return lumen_return_i64(ctx, 0, p->v);
}

LUMEN_METHOD(Phoenix, get)
{
    phoenix *p = self;
    return lumen_return_i64(ctx, 0, p->v);
}

/* crash(cause): a fatal error of the actor */
LUMEN_METHOD(Phoenix, crash)
{
    phoenix *p = self;
    const char *cause;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &cause));
    p->v = -999; /* must not survive the restart */
    return lumen_actor_fatal(ctx, "%s", cause);
}

static lumen_actor make(int64_t start, int max_restarts, int max_task_retries)
{
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_MAX_RESTARTS | LUMEN_ACTOR_MAX_TASK_RETRIES,
                             .max_restarts = max_restarts,
                             .max_task_retries = max_task_retries};
    lumen_arg arg = lumen_arg_i64(start);
    lumen_actor a;
    CHECK_OK(lumen_actor_create("Phoenix", &arg, 1, &o, &a));
    return a;
}

static int64_t call_i64(lumen_actor a, const char *m, int64_t d)
{
    lumen_ref r;
    lumen_arg arg = lumen_arg_i64(d);
    CHECK_OK(lumen_actor_call(a, m, &arg, strcmp(m, "get") ? 1 : 0, NULL, &r));
    int64_t v = 0;
    lumen_status st = lumen_get_i64(r, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_OK, "%s(%lld) gave %d (%s)", m, (long long)d, (int)st, lumen_strerror(st));
    CHECK_OK(lumen_ref_release(r));
    return v;
}

static lumen_ref crash(lumen_actor a, const char *cause)
{
    lumen_ref r;
    CHECK_OK(LUMEN_ACTOR_CALL(&r, a, "crash", LUMEN_ARG(cause)));
    return r;
}

static void expect_died(lumen_ref r, const char *cause, const char *what)
{
    lumen_value v;
    lumen_status st = lumen_get(r, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_ERR_ACTOR_DIED, "%s: gave %d (%s), wanted ACTOR_DIED", what, (int)st, lumen_strerror(st));
    if (cause)
        CHECK_ERRMSG(cause);
    CHECK_OK(lumen_ref_release(r));
}

static void expect_dead_now(lumen_actor a, const char *cause, const char *what)
{
    lumen_ref r;
    CHECK_OK(LUMEN_ACTOR_CALL(&r, a, "incr", LUMEN_ARG(1)));
    expect_died(r, cause, what);
    CHECK_OK(lumen_actor_ready(a, &r));
    expect_died(r, cause, what);
}

static void test_restart_once(void)
{
    lumen_actor a = make(10, 1, -1);
    CHECK(call_i64(a, "incr", 5) == 15);
    lumen_ref c = crash(a, "first boom 7c1");
    lumen_ref behind;
    CHECK_OK(LUMEN_ACTOR_CALL(&behind, a, "incr", LUMEN_ARG(1)));
    expect_died(c, "first boom 7c1", "the first crash call");
    printf("fatal: %s\n", lumen_last_error());
    /* queued behind the crash: retried on the restarted actor (state from the constructor) */
    int64_t v = 0;
    lumen_status st = lumen_get_i64(behind, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_OK, "the call queued behind the crash gave %d (%s)", (int)st, lumen_strerror(st));
    CHECKF(v == 11, "the call queued behind the crash saw state %lld, wanted 11 (constructor value 10 + 1)",
           (long long)v);
    CHECK_OK(lumen_ref_release(behind));
    CHECK(call_i64(a, "get", 0) == 11);
    CHECK(call_i64(a, "incr", 4) == 15);
    lumen_ref ready;
    CHECK_OK(lumen_actor_ready(a, &ready));
    CHECK_OK(lumen_get_i64(ready, T_TIMEOUT, &v));
    CHECK(v == 1);
    CHECK_OK(lumen_ref_release(ready));

    /* the second fatal error: no restarts left */
    c = crash(a, "second boom 9d4");
    expect_died(c, "second boom 9d4", "the second crash call");
    expect_dead_now(a, "second boom 9d4", "after max_restarts is used up");
    expect_dead_now(a, "second boom 9d4", "after max_restarts is used up, again");
    CHECK_OK(lumen_actor_release(a));
}

static void test_no_restart(void)
{
    lumen_actor a = make(3, 0, 0);
    CHECK(call_i64(a, "incr", 1) == 4);
    expect_died(crash(a, "only boom 2b8"), "only boom 2b8", "the crash call (max_restarts=0)");
    expect_dead_now(a, "only boom 2b8", "max_restarts=0");
    CHECK_OK(lumen_actor_release(a));

    /* the default options: no restart either */
    lumen_arg arg = lumen_arg_i64(3);
    CHECK_OK(lumen_actor_create("Phoenix", &arg, 1, NULL, &a));
    CHECK(call_i64(a, "incr", 1) == 4);
    expect_died(crash(a, "default boom 5e0"), "default boom 5e0", "the crash call (default options)");
    expect_dead_now(a, "default boom 5e0", "default options");
    CHECK_OK(lumen_actor_release(a));
}

static void test_unlimited(void)
{
    lumen_actor a = make(50, -1, -1);
    for (int round = 0; round < 3; round++) {
        CHECK(call_i64(a, "incr", round + 1) == 50 + round + 1);
        expect_died(crash(a, "again"), "again", "a crash with max_restarts=-1");
        CHECK(call_i64(a, "get", 0) == 50);
    }
    CHECK_OK(lumen_actor_release(a));
}

static void test_kill_restart(void)
{
    lumen_actor a = make(20, 2, -1); /* restarts left when kill(a, 1) comes */
    CHECK(call_i64(a, "incr", 2) == 22);
    CHECK_OK(lumen_actor_kill(a, 0)); /* max_restarts applies */
    int64_t v = call_i64(a, "get", 0);
    CHECKF(v == 20, "after kill(no_restart=0) with max_restarts=2 the state is %lld, wanted 20", (long long)v);
    CHECK(call_i64(a, "incr", 1) == 21);
    CHECK_OK(lumen_actor_kill(a, 1)); /* no restart */
    expect_dead_now(a, NULL, "after kill(no_restart=1)");
    CHECK_OK(lumen_actor_release(a));
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_restart_once();
        test_no_restart();
        test_unlimited();
        test_kill_restart();
        printf("actor_restart: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
