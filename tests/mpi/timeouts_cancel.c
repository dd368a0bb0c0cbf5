/*
 * timeouts_cancel.c - get and wait timeouts, and cancel: a get with a 50 ms
 * timeout on a task sleeping 2 s returns LUMEN_ERR_TIMEOUT well under 1 s, a
 * 0 timeout polls, lumen_get_many and lumen_wait time out (wait reports 0
 * ready, then 1 once the task is done), and the value is still there after
 * timeouts. Cancel: tasks queued behind sleepers occupying every CPU (run
 * with LUMEN_NUM_CPUS=1) give LUMEN_ERR_TASK_CANCELLED; a task waiting for a
 * dependency is cancelled before it is sent; dependents of a cancelled task
 * fail; a running task and a finished task are not affected by cancel.
 */
#include "check.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* sleeps ms, returns ms */
LUMEN_REMOTE(tc_sleep)
{
    int64_t ms;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    sleep_ms((long)ms);
    return lumen_return_i64(ctx, 0, ms);
}

/* (path, ms): creates path (it has started), sleeps ms, returns 99 */
LUMEN_REMOTE(tc_mark_sleep)
{
    const char *path;
    int64_t ms;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &path));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &ms));
    FILE *f = fopen(path, "w");
    if (!f)
        return lumen_task_fail(ctx, "cannot create %s", path);
    fclose(f);
    sleep_ms((long)ms);
    return lumen_return_i64(ctx, 0, 99);
}

LUMEN_REMOTE(tc_add1)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    return lumen_return_i64(ctx, 0, x + 1);
}

static void test_timeouts(void)
{
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, "tc_sleep", LUMEN_ARG(2000)));
    double t0 = now_s();
    lumen_value v;
    CHECK_ST(lumen_get(r, 50, &v), LUMEN_ERR_TIMEOUT);
    double dt = now_s() - t0;
    printf("get(50 ms) on a 2 s task: TIMEOUT after %.3f s\n", dt);
    CHECKF(dt >= 0.045 && dt < 1.0, "timeout of 50 ms took %.3f s", dt);
    CHECK(strlen(lumen_last_error()) > 0);

    /* 0: poll */
    t0 = now_s();
    CHECK_ST(lumen_get(r, 0, &v), LUMEN_ERR_TIMEOUT);
    int64_t i;
    double f;
    CHECK_ST(lumen_get_i64(r, 0, &i), LUMEN_ERR_TIMEOUT);
    CHECK_ST(lumen_get_f64(r, 0, &f), LUMEN_ERR_TIMEOUT);
    CHECKF(now_s() - t0 < 0.2, "three polls took %.3f s", now_s() - t0);

    /* get_many times out as a whole (a task would queue behind the sleeper
     * on a 1-CPU rank: the ready one is a put object) */
    lumen_ref quick;
    int64_t q = 5;
    CHECK_OK(lumen_put(&q, sizeof q, &quick));
    lumen_ref pair[2] = {quick, r};
    lumen_value vs[2];
    t0 = now_s();
    CHECK_ST(lumen_get_many(pair, 2, 100, vs), LUMEN_ERR_TIMEOUT);
    dt = now_s() - t0;
    CHECKF(dt < 1.0, "get_many(100 ms) took %.3f s", dt);
    CHECK(vs[0].type == LUMEN_TYPE_BYTES && vs[0].size == 8 && memcmp(vs[0].data, &q, 8) == 0);

    /* wait: a timeout is not an error, 0 ready */
    int ready[2] = {7, 7};
    size_t nready = 99;
    t0 = now_s();
    CHECK_OK(lumen_wait(&r, 1, 1, 100, ready, &nready));
    dt = now_s() - t0;
    CHECKF(nready == 0 && ready[0] == 0, "wait(100 ms): %zu ready", nready);
    CHECKF(dt >= 0.09 && dt < 1.0, "wait(100 ms) took %.3f s", dt);
    CHECK_OK(lumen_wait(&r, 1, 1, 0, ready, &nready));
    CHECK(nready == 0 && ready[0] == 0);
    /* both: one ready, the other not */
    CHECK_OK(lumen_wait(pair, 2, 2, 50, ready, &nready));
    CHECK(nready == 1 && ready[0] == 1 && ready[1] == 0);
    /* then it finishes */
    CHECK_OK(lumen_wait(&r, 1, 1, T_TIMEOUT, ready, &nready));
    CHECK(nready == 1 && ready[0] == 1);
    CHECK_OK(lumen_get_i64(r, 0, &i));
    CHECK(i == 2000);
    CHECK_OK(lumen_get_many(pair, 2, 0, vs));
    CHECK(vs[1].i64 == 2000);
    lumen_ref_release(quick);
    lumen_ref_release(r);
}

static void test_cancel_queued(void)
{
    /* fill every CPU of every rank (LUMEN_NUM_CPUS=1: one each) twice over,
     * then queue victims behind them */
    int nblock = 2 * lumen_world_size();
    lumen_ref block[8], victim[4], dependent;
    for (int k = 0; k < nblock; k++)
        CHECK_OK(LUMEN_CALL(&block[k], "tc_sleep", LUMEN_ARG(1000)));
    for (int k = 0; k < 4; k++)
        CHECK_OK(LUMEN_CALL(&victim[k], "tc_sleep", LUMEN_ARG(5000 + k)));
    CHECK_OK(LUMEN_CALL(&dependent, "tc_add1", LUMEN_ARG(victim[0])));
    double t0 = now_s();
    for (int k = 0; k < 4; k++)
        CHECK_OK(lumen_cancel(victim[k]));
    /* cancelling twice is harmless */
    CHECK_OK(lumen_cancel(victim[1]));
    for (int k = 0; k < 4; k++) {
        int64_t v = -1;
        lumen_status st = lumen_get_i64(victim[k], T_TIMEOUT, &v);
        CHECKF(st == LUMEN_ERR_TASK_CANCELLED, "victim %d: get gave %d (%s), value %lld", k, (int)st,
               lumen_last_error(), (long long)v);
        CHECK_ERRMSG("tc_sleep");
    }
    double dt = now_s() - t0;
    CHECKF(dt < 4.5, "cancelled tasks were only reported after %.3f s: they ran", dt);
    lumen_value val;
    lumen_status st = lumen_get(dependent, T_TIMEOUT, &val);
    CHECKF(st == LUMEN_ERR_TASK_CANCELLED || st == LUMEN_ERR_TASK_FAILED,
           "the dependent of a cancelled task gave %d", (int)st);
    /* the sleepers in front were not affected */
    for (int k = 0; k < nblock; k++) {
        int64_t v;
        CHECK_OK(lumen_get_i64(block[k], T_TIMEOUT, &v));
        CHECK(v == 1000);
        lumen_ref_release(block[k]);
    }
    for (int k = 0; k < 4; k++)
        lumen_ref_release(victim[k]);
    lumen_ref_release(dependent);
}

static void test_cancel_waiting_on_dependency(void)
{
    /* b waits for a; cancel b before a finishes: b never runs */
    lumen_ref a, b;
    CHECK_OK(LUMEN_CALL(&a, "tc_sleep", LUMEN_ARG(500)));
    CHECK_OK(LUMEN_CALL(&b, "tc_add1", LUMEN_ARG(a)));
    CHECK_OK(lumen_cancel(b));
    int64_t v;
    CHECK_ST(lumen_get_i64(b, T_TIMEOUT, &v), LUMEN_ERR_TASK_CANCELLED);
    CHECK_OK(lumen_get_i64(a, T_TIMEOUT, &v));
    CHECK(v == 500);
    /* still cancelled after its dependency completed */
    CHECK_ST(lumen_get_i64(b, T_TIMEOUT, &v), LUMEN_ERR_TASK_CANCELLED);
    lumen_ref_release(b);
    lumen_ref_release(a);
}

static void test_cancel_running_and_done(const char *dir)
{
    /* running: wait until it has started, then cancel: it finishes normally */
    char path[512];
    snprintf(path, sizeof path, "%s/started", dir);
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, "tc_mark_sleep", LUMEN_ARG((const char *)path), LUMEN_ARG(600)));
    struct stat sb;
    double t0 = now_s();
    while (stat(path, &sb) != 0) {
        CHECKF(now_s() - t0 < 30, "the task did not start in 30 s");
        sleep_ms(5);
    }
    CHECK_OK(lumen_cancel(r));
    int64_t v = -1;
    lumen_status st = lumen_get_i64(r, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_OK && v == 99, "cancel of a running task: get gave %d, value %lld", (int)st, (long long)v);
    lumen_ref_release(r);
    unlink(path);

    /* finished: harmless, the value stays */
    CHECK_OK(LUMEN_CALL(&r, "tc_add1", LUMEN_ARG(41)));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    CHECK(v == 42);
    CHECK_OK(lumen_cancel(r));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    CHECK(v == 42);
    lumen_ref d;
    CHECK_OK(LUMEN_CALL(&d, "tc_add1", LUMEN_ARG(r)));
    CHECK_OK(lumen_get_i64(d, T_TIMEOUT, &v));
    CHECK(v == 43);
    lumen_ref_release(d);
    lumen_ref_release(r);

    /* a put object has no task: cancel does nothing to it */
    lumen_ref p;
    CHECK_OK(lumen_put("abc", 3, &p));
    CHECK_OK(lumen_cancel(p));
    lumen_value val;
    CHECK_OK(lumen_get(p, 0, &val));
    CHECK(val.size == 3 && memcmp(val.data, "abc", 3) == 0);
    lumen_ref_release(p);
}

int main(int argc, char **argv)
{
    if (!getenv("LUMEN_NUM_CPUS"))
        setenv("LUMEN_NUM_CPUS", "1", 1); /* as tests.cmake sets it: one CPU per rank */
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        const char *tmp = getenv("TMPDIR");
        char dir[256];
        snprintf(dir, sizeof dir, "%s/lumen-cancel-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        CHECK(mkdtemp(dir) != NULL);
        test_timeouts();
        test_cancel_queued();
        test_cancel_waiting_on_dependency();
        test_cancel_running_and_done(dir);
        CHECK(rmdir(dir) == 0);
        printf("timeouts_cancel: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
