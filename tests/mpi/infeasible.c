/*
 * infeasible.c - resource demands: a task asking for more CPUs (1e6), a GPU
 * none offers, or a custom resource no rank has fails at submission with
 * LUMEN_ERR_INFEASIBLE and a message, at once; with LUMEN_RESOURCES=special=2
 * (set for the run) tasks needing special=1 or 2 run and one needing 3 is
 * infeasible, and tasks needing special=2 never run more than one per rank at
 * a time; fractional and zero CPU demands run; bad options (num_returns 0 or
 * 65, negative, NaN or infinite amounts, malformed resource strings,
 * max_retries < -1) are refused with INVALID_ARG / OUT_OF_RANGE.
 */
#include "check.h"

#include <math.h>
#include <string.h>

LUMEN_REMOTE(inf_id)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    return lumen_return_i64(ctx, 0, x);
}

/* sleeps ms; returns its rank */
LUMEN_REMOTE(inf_sleep)
{
    int64_t ms;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    sleep_ms((long)ms);
    return lumen_return_i64(ctx, 0, lumen_rank());
}

/* all 64 return slots: slot i = i * i */
LUMEN_REMOTE(inf_fill)
{
    for (size_t i = 0; i < lumen_num_returns(ctx); i++)
        TASK_TRY(lumen_return_i64(ctx, i, (int64_t)(i * i)));
    return LUMEN_OK;
}

static lumen_status submit(const lumen_task_options *o, lumen_ref *out)
{
    lumen_arg a = lumen_arg_i64(5);
    return lumen_remote("inf_id", &a, 1, o, out);
}

static void run_ok(const lumen_task_options *o, const char *what)
{
    lumen_ref r;
    lumen_status st = submit(o, &r);
    CHECKF(st == LUMEN_OK, "%s: submit gave %d (%s)", what, (int)st, lumen_last_error());
    int64_t v;
    st = lumen_get_i64(r, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_OK && v == 5, "%s: get gave %d, value %lld", what, (int)st, (long long)v);
    CHECK_OK(lumen_ref_release(r));
}

static void expect_infeasible(const lumen_task_options *o, const char *what, const char *in_msg)
{
    lumen_ref r = LUMEN_REF_NIL;
    double t0 = now_s();
    lumen_status st = submit(o, &r);
    double dt = now_s() - t0;
    CHECKF(st == LUMEN_ERR_INFEASIBLE, "%s: submit gave %d (%s), wanted INFEASIBLE", what, (int)st, lumen_strerror(st));
    CHECKF(dt < 1.0, "%s: INFEASIBLE took %.3f s", what, dt);
    const char *m = lumen_last_error();
    CHECKF(m && strlen(m) > 10, "%s: message \"%s\"", what, m ? m : "(null)");
    if (in_msg)
        CHECK_ERRMSG(in_msg);
    printf("%s: %s\n", what, m);
}

static void expect_refused(const lumen_task_options *o, lumen_status want, const char *what)
{
    lumen_ref r[LUMEN_MAX_RETURNS + 1];
    lumen_arg a = lumen_arg_i64(5);
    lumen_status st = lumen_remote("inf_id", &a, 1, o, r);
    CHECKF(st == want, "%s: submit gave %d (%s), wanted %d", what, (int)st, lumen_strerror(st), (int)want);
    CHECKF(strlen(lumen_last_error()) > 0, "%s: no message", what);
}

int main(int argc, char **argv)
{
    if (!getenv("LUMEN_RESOURCES"))
        setenv("LUMEN_RESOURCES", "special=2", 1); /* as tests.cmake sets it */
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        lumen_task_options o;

        /* infeasible at once */
        o = (lumen_task_options){.field_mask = LUMEN_TASK_NUM_CPUS, .num_cpus = 1e6};
        expect_infeasible(&o, "num_cpus=1e6", "CPU");
        o = (lumen_task_options){.field_mask = LUMEN_TASK_NUM_GPUS, .num_gpus = 1};
        expect_infeasible(&o, "num_gpus=1", "GPU");
        o = (lumen_task_options){.field_mask = LUMEN_TASK_RESOURCES, .resources = "unobtainium=1"};
        expect_infeasible(&o, "unobtainium=1", "unobtainium");
        o = (lumen_task_options){.field_mask = LUMEN_TASK_RESOURCES, .resources = "special=3"};
        expect_infeasible(&o, "special=3", "special");
        o = (lumen_task_options){.field_mask = LUMEN_TASK_RESOURCES, .resources = "special=1,unobtainium=0.5"};
        expect_infeasible(&o, "special=1,unobtainium=0.5", NULL);
        /* nothing was left behind: a normal task still runs */
        run_ok(NULL, "default options after infeasible ones");

        /* feasible custom resources */
        o = (lumen_task_options){.field_mask = LUMEN_TASK_RESOURCES, .resources = "special=1"};
        run_ok(&o, "special=1");
        o.resources = "special=2";
        run_ok(&o, "special=2");
        o.resources = "special=0.5,CPU=1";
        run_ok(&o, "special=0.5,CPU=1");
        o.resources = "special=0";
        run_ok(&o, "special=0");
        /* a resource nobody has, asked in amount 0, is satisfied by everyone */
        o = (lumen_task_options){.field_mask = LUMEN_TASK_NUM_CPUS, .num_cpus = 0};
        run_ok(&o, "num_cpus=0");
        o.num_cpus = 0.25;
        run_ok(&o, "num_cpus=0.25");
        o = (lumen_task_options){.field_mask = LUMEN_TASK_NUM_CPUS | LUMEN_TASK_NUM_GPUS, .num_cpus = 1, .num_gpus = 0};
        run_ok(&o, "num_gpus=0");

        /* special=2 each: at most one at a time per rank, so size+1 of them
         * take at least two rounds */
        int n = lumen_world_size() + 1;
        lumen_ref r[8];
        o = (lumen_task_options){.field_mask = LUMEN_TASK_RESOURCES, .resources = "special=2"};
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            lumen_arg a = lumen_arg_i64(300);
            CHECK_OK(lumen_remote("inf_sleep", &a, 1, &o, &r[i]));
        }
        lumen_value v[8];
        CHECK_OK(lumen_get_many(r, (size_t)n, T_TIMEOUT, v));
        double dt = now_s() - t0;
        printf("%d tasks needing special=2 of 2 per rank: %.3f s\n", n, dt);
        CHECKF(dt >= 0.58, "%d tasks needing all of a rank's special ran in %.3f s: over-subscribed", n, dt);
        for (int i = 0; i < n; i++)
            CHECK_OK(lumen_ref_release(r[i]));

        /* 64 returns is the maximum and works */
        o = (lumen_task_options){.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = LUMEN_MAX_RETURNS};
        lumen_ref many[LUMEN_MAX_RETURNS];
        CHECK_OK(lumen_remote("inf_fill", NULL, 0, &o, many));
        lumen_value mv[LUMEN_MAX_RETURNS];
        CHECK_OK(lumen_get_many(many, LUMEN_MAX_RETURNS, T_TIMEOUT, mv));
        for (int i = 0; i < LUMEN_MAX_RETURNS; i++) {
            CHECK(mv[i].type == LUMEN_TYPE_I64 && mv[i].i64 == (int64_t)i * i);
            CHECK_OK(lumen_ref_release(many[i]));
        }

        /* bad options */
        o = (lumen_task_options){.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = 0};
        expect_refused(&o, LUMEN_ERR_OUT_OF_RANGE, "num_returns=0");
        o.num_returns = LUMEN_MAX_RETURNS + 1;
        expect_refused(&o, LUMEN_ERR_OUT_OF_RANGE, "num_returns=65");
        o.num_returns = -1;
        expect_refused(&o, LUMEN_ERR_OUT_OF_RANGE, "num_returns=-1");
        o = (lumen_task_options){.field_mask = LUMEN_TASK_NUM_CPUS, .num_cpus = -1};
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "num_cpus=-1");
        o.num_cpus = NAN;
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "num_cpus=NaN");
        o.num_cpus = INFINITY;
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "num_cpus=inf");
        o = (lumen_task_options){.field_mask = LUMEN_TASK_NUM_GPUS, .num_gpus = -0.5};
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "num_gpus=-0.5");
        o.num_gpus = NAN;
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "num_gpus=NaN");
        o = (lumen_task_options){.field_mask = LUMEN_TASK_RESOURCES, .resources = "special"};
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "resources=special");
        o.resources = "special=-1";
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "resources=special=-1");
        o.resources = "special=abc";
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "resources=special=abc");
        o.resources = "special=nan";
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "resources=special=nan");
        o.resources = "=1";
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "resources==1");
        o = (lumen_task_options){.field_mask = LUMEN_TASK_MAX_RETRIES, .max_retries = -2};
        expect_refused(&o, LUMEN_ERR_INVALID_ARG, "max_retries=-2");
        /* a field not in the mask is ignored */
        o = (lumen_task_options){.field_mask = 0, .num_returns = 0, .num_cpus = -5, .resources = "garbage"};
        run_ok(&o, "bad values outside the mask");
        printf("infeasible: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
