/*
 * task_nested.c - tasks that submit tasks and get their results: a tree
 * three levels deep below the root task with fan-out 2 at each level (the
 * sum of every node's index is checked), several such trees at once, a task
 * that puts an object and hands it to its children, lumen_wait inside a
 * task, and a child's failure reaching the driver through its parent. Run
 * also with LUMEN_NUM_CPUS=1: a task blocked in get gives its CPU back, so
 * the tree must finish instead of deadlocking.
 */
#include "check.h"

#include <string.h>

/* (depth, idx): returns idx + the sum over its subtree, children 2idx and 2idx+1 */
LUMEN_REMOTE(nest_tree)
{
    int64_t depth, idx;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &depth));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &idx));
    if (depth == 0)
        return lumen_return_i64(ctx, 0, idx);
    lumen_ref kids[2];
    for (int k = 0; k < 2; k++)
        TASK_TRY(LUMEN_CALL(&kids[k], "nest_tree", LUMEN_ARG(depth - 1), LUMEN_ARG(2 * idx + k)));
    int64_t sum = idx;
    for (int k = 0; k < 2; k++) {
        int64_t v;
        lumen_status st = lumen_get_i64(kids[k], T_TIMEOUT, &v);
        if (st != LUMEN_OK)
            return lumen_task_fail(ctx, "child %d of node %lld: %s", k, (long long)idx, lumen_last_error());
        sum += v;
    }
    for (int k = 0; k < 2; k++)
        TASK_TRY(lumen_ref_release(kids[k]));
    return lumen_return_i64(ctx, 0, sum);
}

/* the same tree, but the children are gathered with lumen_wait then lumen_get_many */
LUMEN_REMOTE(nest_tree_wait)
{
    int64_t depth, idx;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &depth));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &idx));
    if (depth == 0)
        return lumen_return_i64(ctx, 0, idx);
    lumen_ref kids[2];
    for (int k = 0; k < 2; k++)
        TASK_TRY(LUMEN_CALL(&kids[k], "nest_tree_wait", LUMEN_ARG(depth - 1), LUMEN_ARG(2 * idx + k)));
    int ready[2];
    size_t nready = 0;
    TASK_TRY(lumen_wait(kids, 2, 2, T_TIMEOUT, ready, &nready));
    if (nready != 2 || !ready[0] || !ready[1])
        return lumen_task_fail(ctx, "lumen_wait: %zu ready", nready);
    lumen_value v[2];
    lumen_status st = lumen_get_many(kids, 2, 0, v);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "get_many after wait: %s", lumen_last_error());
    for (int k = 0; k < 2; k++)
        TASK_TRY(lumen_ref_release(kids[k]));
    return lumen_return_i64(ctx, 0, idx + v[0].i64 + v[1].i64);
}

/* sums the bytes of its argument */
LUMEN_REMOTE(nest_sum)
{
    const void *d;
    size_t n;
    TASK_TRY(lumen_arg_get_bytes(ctx, 0, &d, &n));
    return lumen_return_i64(ctx, 0, (int64_t)byte_sum(d, n));
}

/* puts a pattern object (size, seed), has 3 children sum it, checks them, returns the sum */
LUMEN_REMOTE(nest_put)
{
    int64_t size, seed;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &size));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seed));
    unsigned char *buf = malloc((size_t)size);
    if (!buf)
        return lumen_task_fail(ctx, "no memory");
    pattern_fill(buf, (size_t)size, (uint64_t)seed);
    uint64_t want = byte_sum(buf, (size_t)size);
    lumen_ref obj, kids[3];
    lumen_status st = lumen_put(buf, (size_t)size, &obj);
    free(buf);
    TASK_TRY(st);
    for (int k = 0; k < 3; k++)
        TASK_TRY(LUMEN_CALL(&kids[k], "nest_sum", LUMEN_ARG(obj)));
    TASK_TRY(lumen_ref_release(obj));
    /* the owner (this task's rank) reads its own object too */
    for (int k = 0; k < 3; k++) {
        int64_t v;
        if (lumen_get_i64(kids[k], T_TIMEOUT, &v) != LUMEN_OK)
            return lumen_task_fail(ctx, "child %d: %s", k, lumen_last_error());
        if ((uint64_t)v != want)
            return lumen_task_fail(ctx, "child %d summed %lld, wanted %llu", k, (long long)v,
                                   (unsigned long long)want);
        TASK_TRY(lumen_ref_release(kids[k]));
    }
    return lumen_return_i64(ctx, 0, (int64_t)want);
}

LUMEN_REMOTE(nest_leaf_fail)
{
    int64_t code;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &code));
    return lumen_task_fail(ctx, "leaf exploded with code %lld", (long long)code);
}

/* gets a failing child; propagates the child's message in its own failure */
LUMEN_REMOTE(nest_parent_of_fail)
{
    lumen_ref kid;
    TASK_TRY(LUMEN_CALL(&kid, "nest_leaf_fail", LUMEN_ARG(31337)));
    int64_t v;
    lumen_status st = lumen_get_i64(kid, T_TIMEOUT, &v);
    lumen_ref_release(kid);
    if (st != LUMEN_ERR_TASK_FAILED)
        return lumen_task_fail(ctx, "child get gave %d, wanted TASK_FAILED", (int)st);
    return lumen_task_fail(ctx, "parent saw: %s", lumen_last_error());
}

static int64_t tree_sum(int64_t depth, int64_t idx)
{
    return depth == 0 ? idx : idx + tree_sum(depth - 1, 2 * idx) + tree_sum(depth - 1, 2 * idx + 1);
}

static void test_tree(const char *fn, int64_t depth)
{
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, fn, LUMEN_ARG(depth), LUMEN_ARG(1)));
    int64_t v = -1;
    lumen_status st = lumen_get_i64(r, T_TIMEOUT, &v);
    CHECKF(st == LUMEN_OK, "%s depth %lld: get returned %d (%s)", fn, (long long)depth, (int)st, lumen_strerror(st));
    CHECKF(v == tree_sum(depth, 1), "%s depth %lld: %lld, wanted %lld", fn, (long long)depth, (long long)v,
           (long long)tree_sum(depth, 1));
    CHECK_OK(lumen_ref_release(r));
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        double t0 = now_s();
        /* three levels of nesting below the root (15 tasks, 1+2+4+8 = sum of 1..15) */
        test_tree("nest_tree", 3);
        CHECK(tree_sum(3, 1) == 120);
        test_tree("nest_tree_wait", 3);

        /* four trees at once: up to 28 tasks blocked in get at the same time */
        lumen_ref roots[4];
        for (int i = 0; i < 4; i++)
            CHECK_OK(LUMEN_CALL(&roots[i], "nest_tree", LUMEN_ARG(3), LUMEN_ARG(i + 1)));
        for (int i = 0; i < 4; i++) {
            int64_t v;
            CHECK_OK(lumen_get_i64(roots[i], T_TIMEOUT, &v));
            CHECKF(v == tree_sum(3, i + 1), "tree %d: %lld", i, (long long)v);
            lumen_ref_release(roots[i]);
        }

        /* objects put inside tasks, small and in the store */
        const int64_t sizes[] = {100, 300 * 1024};
        for (int i = 0; i < 2; i++) {
            lumen_ref r;
            CHECK_OK(LUMEN_CALL(&r, "nest_put", LUMEN_ARG(sizes[i]), LUMEN_ARG(i + 40)));
            int64_t v;
            CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
            unsigned char *buf = malloc((size_t)sizes[i]);
            CHECK(buf);
            pattern_fill(buf, (size_t)sizes[i], (uint64_t)(i + 40));
            CHECK((uint64_t)v == byte_sum(buf, (size_t)sizes[i]));
            free(buf);
            lumen_ref_release(r);
        }

        /* a nested failure reaches the driver with the whole story */
        lumen_ref r;
        CHECK_OK(lumen_remote("nest_parent_of_fail", NULL, 0, NULL, &r));
        lumen_value v;
        CHECK_ST(lumen_get(r, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
        CHECK_ERRMSG("nest_parent_of_fail");
        CHECK_ERRMSG("parent saw");
        CHECK_ERRMSG("leaf exploded with code 31337");
        CHECK_ERRMSG("nest_leaf_fail");
        lumen_ref_release(r);
        printf("task_nested: OK on %d ranks in %.2f s (LUMEN_NUM_CPUS=%s)\n", lumen_world_size(),
               now_s() - t0, getenv("LUMEN_NUM_CPUS") ? getenv("LUMEN_NUM_CPUS") : "default");
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
