/*
 * errors_propagation.c - error objects: a task failing with
 * lumen_task_fail("boom %d", 7) gives LUMEN_ERR_TASK_FAILED with a message
 * naming the cause, the function and the rank; a chain of 3 dependents (and
 * a diamond) fails at every link with the cause chained in; an unknown
 * function name gives an error object (UNKNOWN_FUNCTION; its dependents TASK_FAILED); a task returning a plain error code
 * names it; lumen_get_many / lumen_wait with an error among values; and
 * retries: retry_exceptions with max_retries=2 on a function failing its
 * first 2 attempts succeeds on the 3rd, max_retries=1 on it fails, and
 * without retry_exceptions an error is not retried. Attempts are counted in a
 * file (one byte appended per attempt with O_APPEND) in a folder made for
 * the run, so the count is right whichever rank runs each attempt.
 */
#include "check.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

LUMEN_REMOTE(err_boom)
{
    int64_t code;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &code));
    return lumen_task_fail(ctx, "boom %d", (int)code);
}

LUMEN_REMOTE(err_add1)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    return lumen_return_i64(ctx, 0, x + 1);
}

LUMEN_REMOTE(err_add)
{
    int64_t a, b;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &a));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &b));
    return lumen_return_i64(ctx, 0, a + b);
}

/* returns a plain error code without a message: reads a missing argument */
LUMEN_REMOTE(err_code)
{
    int64_t x;
    return lumen_arg_get_i64(ctx, 5, &x);
}

/* two slots; fails: both slots become errors */
LUMEN_REMOTE(err_two)
{
    TASK_TRY(lumen_return_i64(ctx, 0, 1));
    return lumen_task_fail(ctx, "two-slot failure");
}

/* (path, fail_times): appends one byte to path; fails while the file holds
 * at most fail_times bytes; returns the attempt number */
LUMEN_REMOTE(err_flaky)
{
    const char *path;
    int64_t fail_times;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &path));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &fail_times));
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0)
        return lumen_task_fail(ctx, "open(%s) failed", path);
    struct stat sb;
    int ok = write(fd, "x", 1) == 1 && fstat(fd, &sb) == 0;
    close(fd);
    if (!ok)
        return lumen_task_fail(ctx, "write(%s) failed", path);
    int64_t attempt = (int64_t)sb.st_size;
    if (attempt <= fail_times)
        return lumen_task_fail(ctx, "flaky attempt %lld of rank %d", (long long)attempt, lumen_rank());
    return lumen_return_i64(ctx, 0, attempt);
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void expect_failed(lumen_ref r, const char *const *subs)
{
    lumen_value v;
    CHECK_ST(lumen_get(r, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    for (; *subs; subs++)
        CHECK_ERRMSG(*subs);
}

static void test_boom(void)
{
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, "err_boom", LUMEN_ARG(7)));
    lumen_value v;
    memset(&v, 0x5a, sizeof v);
    CHECK_ST(lumen_get(r, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    const char *msg = lumen_last_error();
    printf("boom: %s\n", msg);
    CHECK_ERRMSG("boom 7");
    CHECK_ERRMSG("err_boom");
    CHECK_ERRMSG("rank");
    /* the same error every time, also through the typed getters */
    int64_t i;
    double f;
    CHECK_ST(lumen_get(r, 0, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("boom 7");
    CHECK_ST(lumen_get_i64(r, 0, &i), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("boom 7");
    CHECK_ST(lumen_get_f64(r, 0, &f), LUMEN_ERR_TASK_FAILED);

    /* a chain of 3 dependents, submitted while the failure is still pending... */
    lumen_ref b;
    CHECK_OK(LUMEN_CALL(&b, "err_boom", LUMEN_ARG(7)));
    lumen_ref d[3];
    CHECK_OK(LUMEN_CALL(&d[0], "err_add1", LUMEN_ARG(b)));
    CHECK_OK(LUMEN_CALL(&d[1], "err_add1", LUMEN_ARG(d[0])));
    CHECK_OK(LUMEN_CALL(&d[2], "err_add1", LUMEN_ARG(d[1])));
    for (int k = 2; k >= 0; k--) {
        const char *subs[] = {"boom 7", "err_boom", "err_add1", NULL};
        expect_failed(d[k], subs);
        printf("dependent %d: %s\n", k + 1, lumen_last_error());
    }
    /* ...and submitted after it is known to have failed */
    lumen_ref e[3];
    CHECK_OK(LUMEN_CALL(&e[0], "err_add1", LUMEN_ARG(r)));
    CHECK_OK(LUMEN_CALL(&e[1], "err_add1", LUMEN_ARG(e[0])));
    CHECK_OK(LUMEN_CALL(&e[2], "err_add1", LUMEN_ARG(e[1])));
    for (int k = 0; k < 3; k++) {
        const char *subs[] = {"boom 7", "err_add1", NULL};
        expect_failed(e[k], subs);
    }
    /* a diamond with one failing branch: the join fails, the good branch is fine */
    lumen_ref good, bad, join;
    CHECK_OK(LUMEN_CALL(&good, "err_add1", LUMEN_ARG(1)));
    CHECK_OK(LUMEN_CALL(&bad, "err_boom", LUMEN_ARG(9)));
    CHECK_OK(LUMEN_CALL(&join, "err_add", LUMEN_ARG(good), LUMEN_ARG(bad)));
    const char *subs9[] = {"boom 9", "err_add", NULL};
    expect_failed(join, subs9);
    CHECK_OK(lumen_get_i64(good, T_TIMEOUT, &i));
    CHECK(i == 2);

    /* get_many: fails with the first error, the other values are set */
    lumen_ref set[3] = {good, bad, d[0]};
    lumen_value vs[3];
    CHECK_ST(lumen_get_many(set, 3, T_TIMEOUT, vs), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("boom 9");
    CHECK(vs[0].type == LUMEN_TYPE_I64 && vs[0].i64 == 2);
    /* wait: an error is "ready" */
    int ready[3];
    size_t nready;
    CHECK_OK(lumen_wait(set, 3, 3, T_TIMEOUT, ready, &nready));
    CHECK(nready == 3 && ready[0] && ready[1] && ready[2]);

    lumen_ref all[] = {r, b, d[0], d[1], d[2], e[0], e[1], e[2], good, bad, join};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        CHECK_OK(lumen_ref_release(all[k]));
}

static void test_other_failures(void)
{
    /* unknown function: an error object, not a submission error; get fails
     * with UNKNOWN_FUNCTION, its dependents with TASK_FAILED */
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, "err_no_such_function", LUMEN_ARG(1)));
    lumen_value v;
    lumen_status st = lumen_get(r, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_ERR_UNKNOWN_FUNCTION, "get gave %d (%s)", (int)st, lumen_strerror(st));
    CHECK_ERRMSG("unknown remote function");
    CHECK_ERRMSG("err_no_such_function");
    printf("unknown function: get gave %s: %s\n", lumen_strerror(st), lumen_last_error());
    /* and its dependents fail with that cause */
    lumen_ref d;
    CHECK_OK(LUMEN_CALL(&d, "err_add1", LUMEN_ARG(r)));
    st = lumen_get(d, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_ERR_TASK_FAILED, "dependent: get gave %d (%s)", (int)st, lumen_strerror(st));
    CHECK_ERRMSG("unknown remote function");
    CHECK_ERRMSG("err_no_such_function");
    CHECK_ERRMSG("err_add1");
    lumen_ref_release(d);
    lumen_ref_release(r);

    /* a plain error code returned by the function */
    CHECK_OK(lumen_remote("err_code", NULL, 0, NULL, &r));
    const char *subs2[] = {"err_code", "rank", NULL};
    expect_failed(r, subs2);
    printf("plain code: %s\n", lumen_last_error());
    const char *m = lumen_last_error();
    CHECKF(strstr(m, lumen_strerror(LUMEN_ERR_OUT_OF_RANGE)) || strstr(m, "argument 5"),
           "the message does not say what went wrong: %s", m);
    lumen_ref_release(r);

    /* a failing task with 2 returns: both slots are errors, even the one it set */
    lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = 2};
    lumen_ref two[2];
    CHECK_OK(lumen_remote("err_two", NULL, 0, &o, two));
    const char *subs3[] = {"two-slot failure", "err_two", NULL};
    expect_failed(two[0], subs3);
    expect_failed(two[1], subs3);
    lumen_ref_release(two[0]);
    lumen_ref_release(two[1]);
}

static void test_retries(const char *dir)
{
    char path[512];
    int64_t v;
    lumen_value val;
    /* fails twice, 2 retries on errors: the third attempt succeeds */
    snprintf(path, sizeof path, "%s/retry2", dir);
    lumen_task_options o = {.field_mask = LUMEN_TASK_MAX_RETRIES | LUMEN_TASK_RETRY_EXCEPTIONS,
                            .max_retries = 2, .retry_exceptions = 1};
    lumen_arg args[2] = {lumen_arg_str(path), lumen_arg_i64(2)};
    lumen_ref r;
    CHECK_OK(lumen_remote("err_flaky", args, 2, &o, &r));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    CHECKF(v == 3, "succeeded on attempt %lld", (long long)v);
    CHECKF(file_size(path) == 3, "%ld attempts", file_size(path));
    lumen_ref_release(r);

    /* fails twice, 1 retry: the error of the second attempt */
    snprintf(path, sizeof path, "%s/retry1", dir);
    o.max_retries = 1;
    CHECK_OK(lumen_remote("err_flaky", args, 2, &o, &r));
    CHECK_ST(lumen_get(r, T_TIMEOUT, &val), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("flaky attempt 2");
    CHECK_ERRMSG("err_flaky");
    sleep_ms(200); /* a wrongly scheduled third attempt would show up */
    CHECKF(file_size(path) == 2, "%ld attempts with max_retries=1", file_size(path));
    lumen_ref_release(r);

    /* without retry_exceptions an error is final, whatever max_retries says */
    snprintf(path, sizeof path, "%s/noexc", dir);
    lumen_task_options o2 = {.field_mask = LUMEN_TASK_MAX_RETRIES, .max_retries = 3};
    CHECK_OK(lumen_remote("err_flaky", args, 2, &o2, &r));
    CHECK_ST(lumen_get(r, T_TIMEOUT, &val), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("flaky attempt 1");
    sleep_ms(200);
    CHECKF(file_size(path) == 1, "%ld attempts without retry_exceptions", file_size(path));
    lumen_ref_release(r);
    /* the default options do not retry errors either */
    snprintf(path, sizeof path, "%s/default", dir);
    CHECK_OK(lumen_remote("err_flaky", args, 2, NULL, &r));
    CHECK_ST(lumen_get(r, T_TIMEOUT, &val), LUMEN_ERR_TASK_FAILED);
    sleep_ms(200);
    CHECKF(file_size(path) == 1, "%ld attempts with default options", file_size(path));
    lumen_ref_release(r);

    /* max_retries=0 with retry_exceptions: one attempt */
    snprintf(path, sizeof path, "%s/zero", dir);
    o.max_retries = 0;
    CHECK_OK(lumen_remote("err_flaky", args, 2, &o, &r));
    CHECK_ST(lumen_get(r, T_TIMEOUT, &val), LUMEN_ERR_TASK_FAILED);
    sleep_ms(200);
    CHECKF(file_size(path) == 1, "%ld attempts with max_retries=0", file_size(path));
    lumen_ref_release(r);

    /* a retried task's dependents see the successful value */
    snprintf(path, sizeof path, "%s/dep", dir);
    o.max_retries = 2;
    lumen_arg a1[2] = {lumen_arg_str(path), lumen_arg_i64(1)};
    lumen_ref d;
    CHECK_OK(lumen_remote("err_flaky", a1, 2, &o, &r));
    CHECK_OK(LUMEN_CALL(&d, "err_add1", LUMEN_ARG(r)));
    CHECK_OK(lumen_get_i64(d, T_TIMEOUT, &v));
    CHECK(v == 3);
    lumen_ref_release(d);
    lumen_ref_release(r);

    const char *names[] = {"retry2", "retry1", "noexc", "default", "zero", "dep"};
    for (int k = 0; k < 6; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        unlink(path);
    }
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        /* every rank runs on this host: a folder here is seen by all */
        const char *tmp = getenv("TMPDIR");
        char dir[256];
        snprintf(dir, sizeof dir, "%s/lumen-errtest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        CHECK(mkdtemp(dir) != NULL);
        test_boom();
        test_other_failures();
        test_retries(dir);
        CHECK(rmdir(dir) == 0);
        printf("errors_propagation: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
