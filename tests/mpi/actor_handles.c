/*
 * actor_handles.c - actor handles travel and names find actors: a handle
 * passed driver -> task A -> task B -> task C (each hop with lumen_arg_actor)
 * lets C call the actor, and the state C sees and changes is the driver's;
 * a handle passed to another actor's method lets that actor call it; named
 * actors: lumen_get_actor finds one by name and namespace from the driver
 * (an equal handle) and from a task nested in a task, an unknown name or the
 * wrong namespace gives LUMEN_ERR_NOT_FOUND, a second actor of a taken name
 * in the same namespace gives LUMEN_ERR_ALREADY_EXISTS but with
 * get_if_exists=1 returns the existing actor (lumen_actor_equal, same
 * state), the same name in another namespace is a different actor, a NULL
 * namespace is ""; a DETACHED actor stays callable (by name) after its
 * creator released its handle, while a released OWNED named actor ends after
 * its pending calls (which succeed) and its name becomes free.
 */
#include "check.h"

#include <string.h>

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

LUMEN_ACTOR_CLASS(HCounter, counter_init, counter_destroy)

LUMEN_METHOD(HCounter, incr)
{
    counter *c = self;
    int64_t d;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &d));
    c->v += d;
    return lumen_return_i64(ctx, 0, c->v);
}

/* relay(other, d): calls other.incr(d) and returns its result plus 1e9 */
LUMEN_METHOD(HCounter, relay)
{
    (void)self;
    lumen_actor other;
    int64_t d, v;
    TASK_TRY(lumen_arg_get_actor(ctx, 0, &other));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &d));
    lumen_ref r;
    TASK_TRY(LUMEN_ACTOR_CALL(&r, other, "incr", LUMEN_ARG(d)));
    lumen_status st = lumen_get_i64(r, T_TIMEOUT, &v);
    lumen_ref_release(r);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "relay: %s", lumen_last_error());
    return lumen_return_i64(ctx, 0, v + 1000000000);
}

/* hop(actor, depth, d): depth > 0 passes the handle to hop(depth-1); depth 0
 * calls actor.incr(d). Slot 0: the value; slot 1: the ranks of the hops */
LUMEN_REMOTE(hop)
{
    lumen_actor a;
    int64_t depth, d;
    TASK_TRY(lumen_arg_get_actor(ctx, 0, &a));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &depth));
    TASK_TRY(lumen_arg_get_i64(ctx, 2, &d));
    char path[256];
    lumen_ref r[2];
    int64_t v;
    if (depth == 0) {
        TASK_TRY(LUMEN_ACTOR_CALL(&r[0], a, "incr", LUMEN_ARG(d)));
        lumen_status st = lumen_get_i64(r[0], T_TIMEOUT, &v);
        lumen_ref_release(r[0]);
        if (st != LUMEN_OK)
            return lumen_task_fail(ctx, "hop 0 on rank %d: %s", lumen_rank(), lumen_last_error());
        snprintf(path, sizeof path, "%d", lumen_rank());
    } else {
        lumen_arg args[3] = {lumen_arg_actor(a), lumen_arg_i64(depth - 1), lumen_arg_i64(d)};
        lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = 2};
        TASK_TRY(lumen_remote("hop", args, 3, &o, r));
        lumen_value rv[2];
        lumen_status st = lumen_get_many(r, 2, T_TIMEOUT, rv);
        if (st != LUMEN_OK) {
            lumen_ref_release(r[0]);
            lumen_ref_release(r[1]);
            return lumen_task_fail(ctx, "hop %lld on rank %d: %s", (long long)depth, lumen_rank(), lumen_last_error());
        }
        v = rv[0].i64;
        snprintf(path, sizeof path, "%d>%s", lumen_rank(), (const char *)rv[1].data);
        lumen_ref_release(r[0]);
        lumen_ref_release(r[1]);
    }
    TASK_TRY(lumen_return_i64(ctx, 0, v));
    return lumen_return_str(ctx, 1, path);
}

/* find(name, ns, d): lumen_get_actor then incr(d); ns "-" means NULL.
 * Returns the value, or -404 if the actor was not found */
LUMEN_REMOTE(find_incr)
{
    const char *name, *ns;
    int64_t d, v;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &name));
    TASK_TRY(lumen_arg_get_str(ctx, 1, &ns));
    TASK_TRY(lumen_arg_get_i64(ctx, 2, &d));
    lumen_actor a;
    lumen_status st = lumen_get_actor(name, strcmp(ns, "-") ? ns : NULL, &a);
    if (st == LUMEN_ERR_NOT_FOUND)
        return lumen_return_i64(ctx, 0, -404);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "lumen_get_actor(%s, %s) gave %d: %s", name, ns, (int)st, lumen_last_error());
    lumen_ref r;
    TASK_TRY(LUMEN_ACTOR_CALL(&r, a, "incr", LUMEN_ARG(d)));
    st = lumen_get_i64(r, T_TIMEOUT, &v);
    lumen_ref_release(r);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "incr on the found actor: %s", lumen_last_error());
    return lumen_return_i64(ctx, 0, v);
}

/* nested(name, ns, d): runs find_incr(name, ns, d) as a child task */
LUMEN_REMOTE(nested_find)
{
    const char *name, *ns;
    int64_t d, v;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &name));
    TASK_TRY(lumen_arg_get_str(ctx, 1, &ns));
    TASK_TRY(lumen_arg_get_i64(ctx, 2, &d));
    lumen_ref r;
    TASK_TRY(LUMEN_CALL(&r, "find_incr", LUMEN_ARG(name), LUMEN_ARG(ns), LUMEN_ARG(d)));
    lumen_status st = lumen_get_i64(r, T_TIMEOUT, &v);
    lumen_ref_release(r);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "child: %s", lumen_last_error());
    return lumen_return_i64(ctx, 0, v);
}

static int64_t get_i64(lumen_ref r)
{
    int64_t v = 0;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    return v;
}

static int64_t incr(lumen_actor a, int64_t d)
{
    lumen_ref r;
    CHECK_OK(LUMEN_ACTOR_CALL(&r, a, "incr", LUMEN_ARG(d)));
    int64_t v = get_i64(r);
    CHECK_OK(lumen_ref_release(r));
    return v;
}

static int64_t run_find(const char *task, const char *name, const char *ns, int64_t d)
{
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, task, LUMEN_ARG(name), LUMEN_ARG(ns), LUMEN_ARG(d)));
    int64_t v = get_i64(r);
    CHECK_OK(lumen_ref_release(r));
    return v;
}

static lumen_actor create_named(const char *name, const char *ns, int64_t start, uint64_t extra_mask,
                                lumen_actor_lifetime lifetime, lumen_status want)
{
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_NAME | extra_mask, .name = name, .namespace_ = ns,
                             .lifetime = lifetime, .get_if_exists = (extra_mask & LUMEN_ACTOR_GET_IF_EXISTS) != 0};
    if (ns)
        o.field_mask |= LUMEN_ACTOR_NAMESPACE;
    lumen_arg arg = lumen_arg_i64(start);
    lumen_actor a = LUMEN_ACTOR_NIL;
    CHECK_ST(lumen_actor_create("HCounter", &arg, 1, &o, &a), want);
    return a;
}

static void test_hops(void)
{
    lumen_actor a;
    lumen_arg start = lumen_arg_i64(100);
    CHECK_OK(lumen_actor_create("HCounter", &start, 1, NULL, &a));
    CHECK(incr(a, 1) == 101);
    /* driver -> A -> B -> C: C calls the actor */
    lumen_arg args[3] = {lumen_arg_actor(a), lumen_arg_i64(2), lumen_arg_i64(10)};
    lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = 2};
    lumen_ref r[2];
    CHECK_OK(lumen_remote("hop", args, 3, &o, r));
    lumen_value v[2];
    CHECK_OK(lumen_get_many(r, 2, T_TIMEOUT, v));
    CHECKF(v[0].i64 == 111, "three hops away the actor gave %lld, wanted 111", (long long)v[0].i64);
    printf("handle passed through tasks on ranks %s\n", (const char *)v[1].data);
    CHECK_OK(lumen_ref_release(r[0]));
    CHECK_OK(lumen_ref_release(r[1]));
    /* the driver sees the change C made */
    CHECK(incr(a, 1) == 112);
    /* several chains at once */
    enum { K = 6 };
    lumen_ref rk[K][2];
    for (int k = 0; k < K; k++)
        CHECK_OK(lumen_remote("hop", args, 3, &o, rk[k]));
    int64_t sum = 0;
    for (int k = 0; k < K; k++) {
        CHECK_OK(lumen_get_many(rk[k], 2, T_TIMEOUT, v));
        CHECK(v[0].i64 > 112 && v[0].i64 <= 112 + 10 * K);
        sum += v[0].i64;
        CHECK_OK(lumen_ref_release(rk[k][0]));
        CHECK_OK(lumen_ref_release(rk[k][1]));
    }
    /* six distinct results 122, 132, ..., 172 in some order */
    CHECKF(sum == 6 * 112 + 10 * (1 + 2 + 3 + 4 + 5 + 6), "sum of the chains' results %lld", (long long)sum);
    CHECK(incr(a, 0) == 172);

    /* a handle as the argument of another actor's method */
    lumen_actor b;
    CHECK_OK(lumen_actor_create("HCounter", &start, 1, NULL, &b));
    lumen_ref rr;
    CHECK_OK(LUMEN_ACTOR_CALL(&rr, b, "relay", LUMEN_ARG(a), LUMEN_ARG(5)));
    CHECK(get_i64(rr) == 1000000000 + 177);
    CHECK_OK(lumen_ref_release(rr));
    CHECK(incr(a, 0) == 177);
    CHECK(incr(b, 0) == 100);
    CHECK_OK(lumen_actor_release(b));
    CHECK_OK(lumen_actor_release(a));
}

static void test_named(void)
{
    lumen_actor a = create_named("acct", "bank", 7, 0, LUMEN_ACTOR_OWNED, LUMEN_OK);
    CHECK(incr(a, 1) == 8);
    /* found from the driver: the same actor */
    lumen_actor f = LUMEN_ACTOR_NIL;
    CHECK_OK(lumen_get_actor("acct", "bank", &f));
    CHECK(lumen_actor_equal(a, f));
    CHECK(incr(f, 1) == 9);
    /* found from a task and from a task's child */
    CHECK(run_find("find_incr", "acct", "bank", 10) == 19);
    CHECK(run_find("nested_find", "acct", "bank", 100) == 119);
    CHECK(incr(a, 0) == 119);

    /* unknown names, wrong namespace */
    lumen_actor n = LUMEN_ACTOR_NIL;
    CHECK_ST(lumen_get_actor("no-such-actor", "bank", &n), LUMEN_ERR_NOT_FOUND);
    CHECK(strlen(lumen_last_error()) > 0);
    CHECK_ST(lumen_get_actor("acct", "other", &n), LUMEN_ERR_NOT_FOUND);
    CHECK_ST(lumen_get_actor("acct", NULL, &n), LUMEN_ERR_NOT_FOUND);
    CHECK(run_find("find_incr", "no-such-actor", "bank", 1) == -404);
    CHECK(run_find("nested_find", "acct", "other", 1) == -404);

    /* the name is taken in "bank" */
    lumen_actor dup = create_named("acct", "bank", 500, 0, LUMEN_ACTOR_OWNED, LUMEN_ERR_ALREADY_EXISTS);
    CHECK(lumen_actor_is_nil(dup) || !lumen_actor_equal(dup, a));
    CHECK_ERRMSG("acct");
    /* get_if_exists: the existing actor, its state, not a new one */
    lumen_actor same = create_named("acct", "bank", 500, LUMEN_ACTOR_GET_IF_EXISTS, LUMEN_ACTOR_OWNED, LUMEN_OK);
    CHECK(lumen_actor_equal(same, a));
    CHECK(incr(same, 1) == 120);

    /* the same name elsewhere is a different actor */
    lumen_actor other = create_named("acct", "other", 1000, 0, LUMEN_ACTOR_OWNED, LUMEN_OK);
    CHECK(!lumen_actor_equal(other, a));
    CHECK(incr(other, 1) == 1001);
    CHECK(incr(a, 0) == 120);
    CHECK(run_find("nested_find", "acct", "other", 1) == 1002);
    CHECK(run_find("find_incr", "acct", "bank", 1) == 121);
    CHECK_OK(lumen_get_actor("acct", "other", &f));
    CHECK(lumen_actor_equal(f, other));

    /* no namespace is "" */
    lumen_actor plain = create_named("plain", NULL, 3, 0, LUMEN_ACTOR_OWNED, LUMEN_OK);
    CHECK_OK(lumen_get_actor("plain", NULL, &f));
    CHECK(lumen_actor_equal(f, plain));
    CHECK_OK(lumen_get_actor("plain", "", &f));
    CHECK(lumen_actor_equal(f, plain));
    CHECK(run_find("find_incr", "plain", "-", 4) == 7);
    CHECK(run_find("find_incr", "plain", "", 4) == 11);
    CHECK_ST(lumen_get_actor("plain", "bank", &f), LUMEN_ERR_NOT_FOUND);

    /* get_if_exists on a free name creates it */
    lumen_actor fresh = create_named("fresh", "bank", 60, LUMEN_ACTOR_GET_IF_EXISTS, LUMEN_ACTOR_OWNED, LUMEN_OK);
    CHECK(incr(fresh, 1) == 61);
    CHECK_OK(lumen_get_actor("fresh", "bank", &f));
    CHECK(lumen_actor_equal(f, fresh));

    CHECK_OK(lumen_actor_release(fresh));
    CHECK_OK(lumen_actor_release(plain));
    CHECK_OK(lumen_actor_release(other));
    CHECK_OK(lumen_actor_release(a));
}

static void test_lifetimes(void)
{
    /* detached: lives on after the creator's handle is released */
    lumen_actor d = create_named("keeper", "life", 40, LUMEN_ACTOR_LIFETIME, LUMEN_ACTOR_DETACHED, LUMEN_OK);
    CHECK(incr(d, 2) == 42);
    CHECK_OK(lumen_actor_release(d));
    sleep_ms(300);
    lumen_actor f = LUMEN_ACTOR_NIL;
    CHECK_OK(lumen_get_actor("keeper", "life", &f));
    CHECK(incr(f, 1) == 43);
    CHECK(run_find("nested_find", "keeper", "life", 1) == 44);
    CHECK_OK(lumen_actor_kill(f, 1));
    /* once killed, the name is free: poll (the kill is asynchronous) */
    double t0 = now_s();
    lumen_status st;
    while ((st = lumen_get_actor("keeper", "life", &f)) == LUMEN_OK) {
        CHECKF(now_s() - t0 < 10, "a killed detached actor is still found by name after 10 s");
        sleep_ms(20);
    }
    CHECK_ST(st, LUMEN_ERR_NOT_FOUND);

    /* owned: calls made before the release still run, then it ends */
    lumen_actor o = create_named("temp", "life", 0, 0, LUMEN_ACTOR_OWNED, LUMEN_OK);
    lumen_ref r[5];
    for (int i = 0; i < 5; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], o, "incr", LUMEN_ARG(1)));
    CHECK_OK(lumen_actor_release(o));
    for (int i = 0; i < 5; i++) {
        CHECK(get_i64(r[i]) == i + 1);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    t0 = now_s();
    while ((st = lumen_get_actor("temp", "life", &f)) == LUMEN_OK) {
        CHECKF(now_s() - t0 < 10, "a released owned actor is still found by name after 10 s");
        sleep_ms(20);
    }
    CHECK_ST(st, LUMEN_ERR_NOT_FOUND);
    /* the name can be used again */
    o = create_named("temp", "life", 9, 0, LUMEN_ACTOR_OWNED, LUMEN_OK);
    CHECK(incr(o, 1) == 10);
    CHECK_OK(lumen_actor_release(o));
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_hops();
        test_named();
        test_lifetimes();
        printf("actor_handles: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
