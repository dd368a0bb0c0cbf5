/*
 * async_actor.c - async actors (lumen_actor_options.is_async, lumen_await):
 *   - an async actor with max_concurrency 100 serves 1,000 calls that each
 *     await another actor's result, on ONE thread (every method and
 *     continuation sees the same thread), with more than one and at most
 *     100 calls in flight at once;
 *   - composition two levels deep (async -> async -> plain), no deadlock;
 *   - awaiting nothing, awaiting twice in a row, an awaited error, a
 *     method returning LUMEN_PENDING without lumen_await, lumen_await from
 *     a plain actor or with bad arguments: clear errors;
 *   - killing an async actor with calls in flight fails them with "actor
 *     died", nothing hangs; terminating it lets the calls made before
 *     finish (awaits included) and fails the ones after.
 * The actors spread over the ranks (1, 2 and 4), so awaited results cross
 * ranks.
 */
#include "check.h"

#include <pthread.h>
#include <string.h>

#define NCALLS 1000

/* ---- Backend: a plain actor doing the work -------------------------------- */
static lumen_status backend_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = NULL;
    return LUMEN_OK;
}
LUMEN_ACTOR_CLASS(Backend, backend_init, NULL);

LUMEN_METHOD(Backend, work)
{
    (void)self;
    int64_t i;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &i));
    if (i < 100)
        sleep_ms(1); /* slow at first: the front end has to hold calls in flight */
    if (i == -1)
        return lumen_task_fail(ctx, "backend refuses -1");
    return lumen_return_i64(ctx, 0, 2 * i);
}

static lumen_status never_k(void *self, lumen_task_ctx *ctx, void *state)
{
    (void)self;
    (void)state;
    return lumen_task_fail(ctx, "never runs");
}

/* a plain actor may not await */
LUMEN_METHOD(Backend, try_await)
{
    (void)self;
    lumen_status st = lumen_await(ctx, NULL, 0, never_k, NULL);
    int said = strstr(lumen_last_error(), "async actor") != NULL;
    return lumen_return_i64(ctx, 0, st == LUMEN_ERR_INVALID_ARG && said);
}

LUMEN_METHOD(Backend, nap)
{
    (void)self;
    sleep_ms(300);
    return lumen_return_i64(ctx, 0, 1);
}

/* ---- Front: an async actor relaying to a Backend --------------------------- */
typedef struct front {
    lumen_actor next;
    const char *next_method;
    pthread_t tid;
    int have_tid, wrong_thread, inflight, max_inflight, cancelled;
} front;

static void same_thread(front *f)
{
    if (!f->have_tid) {
        f->tid = pthread_self();
        f->have_tid = 1;
    } else if (!pthread_equal(f->tid, pthread_self())) {
        f->wrong_thread++;
    }
}

static lumen_status front_init(lumen_task_ctx *ctx, void **self)
{
    front *f = calloc(1, sizeof *f);
    if (!f)
        return lumen_task_fail(ctx, "no memory");
    TASK_TRY(lumen_arg_get_actor(ctx, 0, &f->next));
    const char *m;
    TASK_TRY(lumen_arg_get_str(ctx, 1, &m));
    f->next_method = !strcmp(m, "relay") ? "relay" : !strcmp(m, "nap") ? "nap" : "work";
    same_thread(f);
    *self = f;
    return LUMEN_OK;
}
static void front_destroy(void *self) { free(self); }
LUMEN_ACTOR_CLASS(Front, front_init, front_destroy);

typedef struct pending {
    lumen_ref ref;
    int64_t i;
    int round;
} pending;

static lumen_status relay_done(void *self, lumen_task_ctx *ctx, void *state)
{
    front *f = self;
    pending *p = state;
    same_thread(f);
    if (lumen_await_cancelled(ctx))
        f->cancelled++;
    int64_t v = 0;
    lumen_status st = lumen_get_i64(p->ref, 0, &v); /* settled: no wait */
    char why[256];
    snprintf(why, sizeof why, "%s", lumen_last_error());
    lumen_ref_release(p->ref);
    int64_t i = p->i;
    free(p);
    f->inflight--;
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "awaited call %lld failed: %s", (long long)i, why);
    return lumen_return_i64(ctx, 0, v + 1);
}

LUMEN_METHOD(Front, relay)
{
    front *f = self;
    same_thread(f);
    pending *p = malloc(sizeof *p);
    if (!p)
        return lumen_task_fail(ctx, "no memory");
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &p->i));
    lumen_status st = LUMEN_ACTOR_CALL(&p->ref, f->next, f->next_method, LUMEN_ARG(p->i));
    if (st != LUMEN_OK) {
        free(p);
        return st;
    }
    if (++f->inflight > f->max_inflight)
        f->max_inflight = f->inflight;
    return lumen_await(ctx, &p->ref, 1, relay_done, p);
}

/* await nothing, then await again from the continuation */
static lumen_status twice_second(void *self, lumen_task_ctx *ctx, void *state)
{
    same_thread(self);
    pending *p = state;
    int64_t v;
    lumen_status st = lumen_get_i64(p->ref, 0, &v);
    lumen_ref_release(p->ref);
    free(p);
    TASK_TRY(st);
    return lumen_return_i64(ctx, 0, v + 1000);
}

static lumen_status twice_first(void *self, lumen_task_ctx *ctx, void *state)
{
    front *f = self;
    same_thread(f);
    (void)state;
    pending *p = malloc(sizeof *p);
    if (!p)
        return lumen_task_fail(ctx, "no memory");
    TASK_TRY(LUMEN_ACTOR_CALL(&p->ref, f->next, f->next_method, LUMEN_ARG(21)));
    return lumen_await(ctx, &p->ref, 1, twice_second, p);
}

LUMEN_METHOD(Front, twice)
{
    return lumen_await(ctx, NULL, 0, twice_first, self);
}

LUMEN_METHOD(Front, pending_without_await)
{
    (void)self;
    (void)ctx;
    return LUMEN_PENDING;
}

LUMEN_METHOD(Front, stats)
{
    front *f = self;
    return lumen_return_i64(ctx, 0, (int64_t)f->max_inflight * 1000 + f->wrong_thread);
}

LUMEN_METHOD(Front, await_wrong)
{
    (void)self;
    lumen_ref forged = {{0x1234, 0x5678}};
    int ok = lumen_await(NULL, NULL, 0, twice_first, NULL) == LUMEN_ERR_INVALID_ARG &&
             lumen_await(ctx, NULL, 1, twice_first, NULL) == LUMEN_ERR_INVALID_ARG &&
             lumen_await(ctx, &forged, 1, twice_first, NULL) == LUMEN_ERR_INVALID_REF;
    return lumen_return_i64(ctx, 0, ok);
}

static lumen_actor make(const char *cls, const lumen_arg *args, size_t nargs, int async, int conc)
{
    lumen_actor_options o = {0};
    o.field_mask = LUMEN_ACTOR_SCHEDULING | LUMEN_ACTOR_NUM_CPUS;
    o.num_cpus = 0;
    o.scheduling = lumen_sched_spread();
    if (async) {
        o.field_mask |= LUMEN_ACTOR_ASYNC;
        o.is_async = 1;
    }
    if (conc) {
        o.field_mask |= LUMEN_ACTOR_MAX_CONCURRENCY;
        o.max_concurrency = conc;
    }
    lumen_actor a;
    CHECK_OK(lumen_actor_create(cls, args, nargs, &o, &a));
    return a;
}

static void check_stats(lumen_actor a, int min_inflight, int max_inflight)
{
    lumen_ref r;
    int64_t s;
    CHECK_OK(LUMEN_ACTOR_CALL0(&r, a, "stats"));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &s));
    CHECK_OK(lumen_ref_release(r));
    int peak = (int)(s / 1000), wrong = (int)(s % 1000);
    CHECKF(wrong == 0, "%d methods ran on another thread", wrong);
    CHECKF(peak >= min_inflight && peak <= max_inflight, "peak in flight %d, want %d..%d", peak, min_inflight,
           max_inflight);
}

static void test_relay(void)
{
    lumen_actor backend = make("Backend", NULL, 0, 0, 0);
    lumen_arg fa[] = {lumen_arg_actor(backend), lumen_arg_str("work")};
    lumen_actor fr = make("Front", fa, 2, 1, 100);
    lumen_ref *r = malloc(NCALLS * sizeof *r);
    CHECK(r);
    for (int64_t i = 0; i < NCALLS; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], fr, "relay", LUMEN_ARG(i)));
    for (int64_t i = 0; i < NCALLS; i++) {
        int64_t v;
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &v));
        CHECKF(v == 2 * i + 1, "call %lld: %lld", (long long)i, (long long)v);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    /* more than one call waited at once (the backend sleeps on the first
     * 100), never more than max_concurrency, all on one thread */
    check_stats(fr, 2, 100);

    /* an awaited error reaches the caller through the continuation */
    lumen_ref e;
    CHECK_OK(LUMEN_ACTOR_CALL(&e, fr, "relay", LUMEN_ARG(-1)));
    lumen_value v;
    CHECK_ST(lumen_get(e, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("backend refuses -1");
    CHECK_OK(lumen_ref_release(e));

    /* await nothing, then await again */
    int64_t x;
    CHECK_OK(LUMEN_ACTOR_CALL0(&e, fr, "twice"));
    CHECK_OK(lumen_get_i64(e, T_TIMEOUT, &x));
    CHECK(x == 42 + 1000);
    CHECK_OK(lumen_ref_release(e));

    /* misuse: clear errors */
    CHECK_OK(LUMEN_ACTOR_CALL0(&e, fr, "pending_without_await"));
    CHECK_ST(lumen_get(e, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("without lumen_await");
    CHECK_OK(lumen_ref_release(e));
    CHECK_OK(LUMEN_ACTOR_CALL0(&e, fr, "await_wrong"));
    CHECK_OK(lumen_get_i64(e, T_TIMEOUT, &x));
    CHECK(x == 1);
    CHECK_OK(lumen_ref_release(e));
    CHECK_OK(LUMEN_ACTOR_CALL0(&e, backend, "try_await"));
    CHECK_OK(lumen_get_i64(e, T_TIMEOUT, &x));
    CHECK(x == 1);
    CHECK_OK(lumen_ref_release(e));
    check_stats(fr, 2, 100);

    CHECK_OK(lumen_actor_kill(fr, 1));
    CHECK_OK(lumen_actor_kill(backend, 1));
    free(r);
}

/* async -> async -> plain: two levels of awaiting, one thread each */
static void test_composition(void)
{
    lumen_actor leaf = make("Backend", NULL, 0, 0, 0);
    lumen_arg ma[] = {lumen_arg_actor(leaf), lumen_arg_str("work")};
    lumen_actor mid = make("Front", ma, 2, 1, 100);
    lumen_arg ta[] = {lumen_arg_actor(mid), lumen_arg_str("relay")};
    lumen_actor top = make("Front", ta, 2, 1, 100);
    enum { N = 500 };
    lumen_ref r[N];
    for (int64_t i = 0; i < N; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], top, "relay", LUMEN_ARG(i)));
    for (int64_t i = 0; i < N; i++) {
        int64_t v;
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &v));
        CHECKF(v == 2 * i + 2, "call %lld: %lld", (long long)i, (long long)v);
        CHECK_OK(lumen_ref_release(r[i]));
    }
    check_stats(top, 2, 100);
    check_stats(mid, 2, 100);
    CHECK_OK(lumen_actor_kill(top, 1));
    CHECK_OK(lumen_actor_kill(mid, 1));
    CHECK_OK(lumen_actor_kill(leaf, 1));
}

/* a kill with calls in flight: they fail with "actor died" */
static void test_kill_in_flight(void)
{
    lumen_actor slow = make("Backend", NULL, 0, 0, 20);
    lumen_arg fa[] = {lumen_arg_actor(slow), lumen_arg_str("nap")};
    lumen_actor fr = make("Front", fa, 2, 1, 100);
    enum { N = 10 };
    lumen_ref r[N];
    for (int64_t i = 0; i < N; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], fr, "relay", LUMEN_ARG(i)));
    /* wait until the front end holds them (its stats call runs after them) */
    lumen_ref s;
    CHECK_OK(LUMEN_ACTOR_CALL0(&s, fr, "stats"));
    int64_t x;
    CHECK_OK(lumen_get_i64(s, T_TIMEOUT, &x));
    CHECK_OK(lumen_ref_release(s));
    CHECK_OK(lumen_actor_kill(fr, 1));
    int died = 0;
    for (int i = 0; i < N; i++) {
        lumen_value v;
        lumen_status st = lumen_get(r[i], T_TIMEOUT, &v);
        CHECKF(st == LUMEN_ERR_ACTOR_DIED || st == LUMEN_OK, "call %d: %s", i, lumen_strerror(st));
        if (st == LUMEN_ERR_ACTOR_DIED) {
            CHECK_ERRMSG("Front");
            died++;
        }
        CHECK_OK(lumen_ref_release(r[i]));
    }
    CHECK(died > 0); /* the backend naps 300 ms: the kill came first */
    CHECK_OK(lumen_actor_kill(slow, 1));
}

/* terminate waits for the calls made before it, even those awaiting */
static void test_terminate(void)
{
    lumen_actor slow = make("Backend", NULL, 0, 0, 20);
    lumen_arg fa[] = {lumen_arg_actor(slow), lumen_arg_str("nap")};
    lumen_actor fr = make("Front", fa, 2, 1, 100);
    enum { N = 5 };
    lumen_ref r[N], after;
    for (int64_t i = 0; i < N; i++)
        CHECK_OK(LUMEN_ACTOR_CALL(&r[i], fr, "relay", LUMEN_ARG(i)));
    CHECK_OK(lumen_actor_terminate(fr));
    CHECK_OK(LUMEN_ACTOR_CALL(&after, fr, "relay", LUMEN_ARG(99)));
    for (int i = 0; i < N; i++) {
        int64_t v;
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &v));
        CHECK(v == 2); /* nap returns 1, relay adds 1 */
        CHECK_OK(lumen_ref_release(r[i]));
    }
    lumen_value v;
    CHECK_ST(lumen_get(after, T_TIMEOUT, &v), LUMEN_ERR_ACTOR_DIED);
    CHECK_ERRMSG("terminated");
    CHECK_OK(lumen_ref_release(after));
    CHECK_OK(lumen_actor_kill(slow, 1));
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_relay();
        test_composition();
        test_kill_in_flight();
        test_terminate();
        printf("async_actor: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
