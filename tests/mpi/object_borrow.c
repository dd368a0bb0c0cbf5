/*
 * object_borrow.c - references crossing ranks (Ray's borrowing): a task
 * returns a reference to an object it put (lumen_return_ref); the driver
 * reads it through the container, passes the container to another task
 * that reads the object, a nested task's reference is handed on through a
 * second rank, and once every holder releases, the store is back to where
 * it started (the owner freed the objects everywhere).
 */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "check.h"

#define BIG (1u << 20) /* above the inline threshold: lives in the store */

/* the pattern helpers of check.h */
static int verify(const void *p, size_t n, uint64_t seed) { return pattern_find_bad(p, n, seed) == n; }

/* puts a BIG object with pattern seed and returns a reference to it */
LUMEN_REMOTE(make_object)
{
    int64_t seed;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &seed);
    if (st != LUMEN_OK)
        return st;
    lumen_object_builder *b;
    void *p;
    if ((st = lumen_object_create(BIG, &b, &p)) != LUMEN_OK)
        return st;
    pattern_fill(p, BIG, (uint64_t)seed);
    lumen_ref r;
    if ((st = lumen_object_seal(b, &r)) != LUMEN_OK)
        return st;
    st = lumen_return_ref(ctx, 0, r);
    lumen_ref_release(r); /* the returned reference keeps it alive */
    return st;
}

/* gets the object behind a REF-valued argument and checks its pattern */
LUMEN_REMOTE(check_object)
{
    int64_t seed;
    lumen_ref r;
    lumen_status st = lumen_arg_get_ref(ctx, 0, &r);
    if (st == LUMEN_OK)
        st = lumen_arg_get_i64(ctx, 1, &seed);
    if (st != LUMEN_OK)
        return st;
    lumen_value v;
    if ((st = lumen_get(r, 60000, &v)) != LUMEN_OK)
        return st;
    if (v.size != BIG || !verify(v.data, v.size, (uint64_t)seed))
        return lumen_task_fail(ctx, "object content wrong on rank %d", lumen_rank());
    return lumen_return_i64(ctx, 0, lumen_rank());
}

/* calls make_object as a nested task and returns the reference it got */
LUMEN_REMOTE(forward_object)
{
    int64_t seed;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &seed);
    if (st != LUMEN_OK)
        return st;
    lumen_ref c;
    if ((st = LUMEN_CALL(&c, "make_object", LUMEN_ARG(seed))) != LUMEN_OK)
        return st;
    lumen_value v;
    if ((st = lumen_get(c, 60000, &v)) != LUMEN_OK)
        return st;
    if (v.type != LUMEN_TYPE_REF)
        return lumen_task_fail(ctx, "nested result is not a reference");
    st = lumen_return_ref(ctx, 0, v.ref);
    lumen_ref_release(c);
    return st;
}

static size_t store_objects(void)
{
    lumen_store_stats s;
    CHECK_OK(lumen_store_stats_get(&s));
    return s.num_objects + s.num_spilled;
}

static void wait_for_objects(size_t want)
{
    for (int i = 0; i < 500 && store_objects() != want; i++)
        usleep(10000);
    CHECK(store_objects() == want);
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        size_t base = store_objects();
        for (int round = 0; round < 8; round++) {
            /* a container from another rank, read here */
            lumen_ref c;
            CHECK_OK(LUMEN_CALL(&c, "make_object", LUMEN_ARG(round)));
            lumen_value v;
            CHECK_OK(lumen_get(c, 60000, &v));
            CHECK(v.type == LUMEN_TYPE_REF);
            lumen_value inner;
            CHECK_OK(lumen_get(v.ref, 60000, &inner));
            CHECK(inner.size == BIG && verify(inner.data, inner.size, (uint64_t)round));
            /* the inner reference can be kept past the container */
            lumen_ref kept;
            CHECK_OK(lumen_ref_dup(v.ref, &kept));

            /* the container passed on: the task sees the reference itself */
            lumen_ref ok;
            CHECK_OK(LUMEN_CALL(&ok, "check_object", LUMEN_ARG(c), LUMEN_ARG(round)));
            int64_t where;
            CHECK_OK(lumen_get_i64(ok, 60000, &where));
            CHECK(where >= 0 && where < lumen_world_size());

            /* a reference handed on through a second task */
            lumen_ref f;
            CHECK_OK(LUMEN_CALL(&f, "forward_object", LUMEN_ARG(round + 100)));
            lumen_value fv;
            CHECK_OK(lumen_get(f, 60000, &fv));
            CHECK(fv.type == LUMEN_TYPE_REF);
            lumen_value fin;
            CHECK_OK(lumen_get(fv.ref, 60000, &fin));
            CHECK(fin.size == BIG && verify(fin.data, fin.size, (uint64_t)round + 100));

            CHECK_OK(lumen_ref_release(c));
            CHECK_OK(lumen_ref_release(ok));
            CHECK_OK(lumen_ref_release(f));
            /* still readable through the kept reference */
            CHECK_OK(lumen_get(kept, 60000, &inner));
            CHECK(verify(inner.data, inner.size, (uint64_t)round));
            CHECK_OK(lumen_ref_release(kept));
            CHECK_ST(lumen_ref_release(kept), LUMEN_ERR_INVALID_REF);
        }
        /* every object of every round was freed by its owner */
        if (getenv("LUMEN_RANK_IS_NODE") == NULL)
            wait_for_objects(base);
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
