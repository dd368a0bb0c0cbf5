/*
 * bad_input.c - wrong use of the API returns errors and never crashes or
 * hangs: every call before lumen_init returns LUMEN_ERR_NOT_INITIALIZED (and
 * after lumen_finalize); NULL pointers to every public function with a
 * pointer parameter (also the task-side calls, inside a task); forged
 * references (random bits, owner rank out of range, nil, released, and a
 * live reference of another rank smuggled out of a task as bytes) give
 * LUMEN_ERR_INVALID_REF everywhere a reference is taken (lumen_return_ref too); nargs > LUMEN_MAX_ARGS,
 * sizes no store can hold, lumen_wait num_returns > n; lumen_register_function
 * with NULL / empty / too long names and a taken name; lumen_strerror for
 * every code and unknown ones; lumen_init twice.
 */
#include "check.h"

#include <string.h>

#include <lumen/mpi.h>

/* returns the sum of its i64 arguments */
LUMEN_REMOTE(bi_sum)
{
    int64_t s = 0, x;
    for (size_t i = 0; i < lumen_num_args(ctx); i++) {
        TASK_TRY(lumen_arg_get_i64(ctx, i, &x));
        s += x;
    }
    return lumen_return_i64(ctx, 0, s);
}

/* puts an object of `size` bytes here and returns its reference as bytes
 * (slot 0) and this rank (slot 1); the object is deliberately kept */
LUMEN_REMOTE(bi_leak)
{
    int64_t size;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &size));
    void *buf = calloc(1, (size_t)size);
    if (!buf)
        return lumen_task_fail(ctx, "no memory");
    lumen_ref r;
    lumen_status st = lumen_put(buf, (size_t)size, &r);
    free(buf);
    TASK_TRY(st);
    TASK_TRY(lumen_return_bytes(ctx, 0, &r, sizeof r));
    return lumen_return_i64(ctx, 1, lumen_rank());
}

/* the task-side calls with NULL pointers and bad indices, on an (i64, str,
 * bytes, f64) task with one return; CHECK aborts the job from whichever rank */
LUMEN_REMOTE(bi_task_nulls)
{
    const void *d;
    size_t n;
    const char *s;
    void *p;
    CHECK_ST(lumen_arg_get_i64(ctx, 0, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_arg_get_f64(ctx, 3, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_arg_get_str(ctx, 1, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_arg_get_bytes(ctx, 2, NULL, &n), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_arg_get_bytes(ctx, 2, &d, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_return_bytes(ctx, 0, NULL, 5), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_return_str(ctx, 0, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_return_alloc(ctx, 0, 10, NULL), LUMEN_ERR_INVALID_ARG);
    /* sizes out of range */
    lumen_status st = lumen_return_alloc(ctx, 0, SIZE_MAX, &p);
    CHECKF(st != LUMEN_OK, "return_alloc(SIZE_MAX) succeeded");
    st = lumen_return_alloc(ctx, 0, SIZE_MAX / 2, &p);
    CHECKF(st != LUMEN_OK, "return_alloc(SIZE_MAX / 2) succeeded");
    /* bad indices */
    CHECK_ST(lumen_arg_get_str(ctx, 4, &s), LUMEN_ERR_OUT_OF_RANGE);
    CHECK_ST(lumen_arg_get_bytes(ctx, SIZE_MAX, &d, &n), LUMEN_ERR_OUT_OF_RANGE);
    CHECK(lumen_arg_type(ctx, SIZE_MAX) == LUMEN_TYPE_NONE);
    CHECK_ST(lumen_return_alloc(ctx, SIZE_MAX, 1, &p), LUMEN_ERR_OUT_OF_RANGE);
    /* references in and out of a task */
    lumen_ref ref;
    CHECK_ST(lumen_arg_get_ref(ctx, 0, &ref), LUMEN_ERR_TYPE_MISMATCH);
    CHECK_ST(lumen_arg_get_ref(ctx, 9, &ref), LUMEN_ERR_OUT_OF_RANGE);
    CHECK_ST(lumen_arg_get_ref(NULL, 0, &ref), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_return_ref(NULL, 0, LUMEN_REF_NIL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_return_ref(ctx, 0, LUMEN_REF_NIL), LUMEN_ERR_INVALID_REF);
    lumen_ref forged = {{0x1234567ull, 0x89abcdefull}};
    CHECK_ST(lumen_return_ref(ctx, 0, forged), LUMEN_ERR_INVALID_REF);
    CHECK_ST(lumen_return_ref(ctx, 7, forged), LUMEN_ERR_OUT_OF_RANGE);
    /* NULL context */
    CHECK(lumen_num_args(NULL) == 0);
    CHECK(lumen_num_returns(NULL) == 0);
    CHECK(lumen_arg_type(NULL, 0) == LUMEN_TYPE_NONE);
    CHECK(lumen_task_function(NULL) != NULL);
    int64_t i;
    CHECK_ST(lumen_arg_get_i64(NULL, 0, &i), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_return_i64(NULL, 0, 1), LUMEN_ERR_INVALID_ARG);
    CHECK(lumen_task_fail(NULL, "x") != LUMEN_OK);
    /* an empty buffer with a NULL pointer is fine; then the real result */
    CHECK_OK(lumen_return_bytes(ctx, 0, NULL, 0));
    /* the accessors still work after all that */
    CHECK_OK(lumen_arg_get_str(ctx, 1, &s));
    CHECK(strcmp(s, "str") == 0);
    CHECK_OK(lumen_arg_get_bytes(ctx, 2, &d, &n));
    CHECK(n == 3 && memcmp(d, "abc", 3) == 0);
    return lumen_return_i64(ctx, 0, 4242);
}

static lumen_status dummy_fn(lumen_task_ctx *ctx) { return lumen_return_i64(ctx, 0, -1); }

/* registered at run time (before init, on every rank) */
static lumen_status late_fn(lumen_task_ctx *ctx)
{
    return lumen_return_str(ctx, 0, lumen_task_function(ctx));
}

static void before_init(void)
{
    CHECK(!lumen_is_initialized());
    CHECK(lumen_rank() == -1);
    CHECK(lumen_world_size() == -1);
    CHECK(lumen_is_driver() == 0);
    CHECK(lumen_node_id() == -1);
    CHECK(lumen_last_error() != NULL);

    char buf[16] = "x";
    lumen_ref r = {{1, 2}}, d;
    lumen_value v;
    int64_t i;
    double f;
    int ready[1];
    size_t nready;
    lumen_object_builder *b = NULL;
    void *p = NULL;
    lumen_store_stats s;
    CHECK_ST(lumen_put(buf, 1, &r), LUMEN_ERR_NOT_INITIALIZED);
    CHECK(strlen(lumen_last_error()) > 0);
    CHECK_ST(lumen_get(r, 0, &v), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_get_i64(r, 0, &i), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_get_f64(r, 0, &f), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_get_many(&r, 1, 0, &v), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_wait(&r, 1, 1, 0, ready, &nready), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_remote("bi_sum", NULL, 0, NULL, &r), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(LUMEN_CALL(&r, "bi_sum", LUMEN_ARG(1)), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_object_create(10, &b, &p), LUMEN_ERR_NOT_INITIALIZED);
    lumen_status st = lumen_object_seal(NULL, &r);
    CHECK(st == LUMEN_ERR_NOT_INITIALIZED || st == LUMEN_ERR_INVALID_ARG);
    st = lumen_object_abort(NULL);
    CHECK(st == LUMEN_ERR_NOT_INITIALIZED || st == LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_ref_dup(r, &d), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_ref_release(r), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_cancel(r), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_store_stats_get(&s), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_finalize(), LUMEN_ERR_NOT_INITIALIZED);
    /* library mode needs MPI initialised first */
    st = lumen_init_comm(MPI_COMM_WORLD, NULL);
    CHECKF(st != LUMEN_OK && st != LUMEN_ERR_ALREADY_INITIALIZED, "lumen_init_comm before MPI_Init gave %d", (int)st);
    CHECK(!lumen_is_initialized());

    /* the value helpers work without the runtime */
    CHECK(lumen_ref_is_nil(LUMEN_REF_NIL));
    CHECK(!lumen_ref_is_nil(r));
    CHECK(lumen_ref_equal(r, r) && !lumen_ref_equal(r, LUMEN_REF_NIL));
    char hex[33];
    memset(hex, 'Z', sizeof hex);
    lumen_ref_hex(r, hex);
    CHECK(strlen(hex) == 32 && strspn(hex, "0123456789abcdefABCDEF") == 32);
    lumen_ref_hex(r, NULL); /* no crash */

    /* strerror: every code and unknown ones */
    const char *texts[19];
    for (int c = 0; c >= LUMEN_ERR_INTERNAL; c--) {
        const char *t = lumen_strerror((lumen_status)c);
        CHECKF(t && *t, "strerror(%d) is empty", c);
        texts[-c] = t;
        for (int k = 0; k < -c; k++)
            CHECKF(strcmp(texts[k], t) != 0, "codes %d and %d share the text \"%s\"", -k, c, t);
    }
    const int unknown[] = {1, 5, -19, -100, 12345, -2147483647 - 1, 2147483647};
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        const char *t = lumen_strerror((lumen_status)unknown[k]);
        CHECKF(t && *t, "strerror(%d)", unknown[k]);
    }

    /* registration */
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_ST(lumen_register_function(NULL, dummy_fn), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_register_function("", dummy_fn), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_register_function(longname, dummy_fn), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_register_function("bi_null_fn", NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_register_function("bi_sum", dummy_fn), LUMEN_ERR_INVALID_ARG); /* taken */
    CHECK(strlen(lumen_last_error()) > 0);
    CHECK_OK(lumen_register_function("bi_late", late_fn));
    CHECK_OK(lumen_register_function("bi_late", late_fn)); /* the same again is fine */
    CHECK_ST(lumen_register_function("bi_late", dummy_fn), LUMEN_ERR_INVALID_ARG);
}

static void nulls(void)
{
    lumen_ref r, d;
    lumen_value v;
    int ready[2];
    size_t nready;
    lumen_arg one = lumen_arg_i64(1);
    CHECK_ST(lumen_remote(NULL, &one, 1, NULL, &r), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_remote("bi_sum", &one, 1, NULL, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_remote("bi_sum", NULL, 1, NULL, &r), LUMEN_ERR_INVALID_ARG);
    lumen_arg nullstr = {LUMEN_TYPE_STR, {.str = NULL}};
    CHECK_ST(lumen_remote("bi_sum", &nullstr, 1, NULL, &r), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(LUMEN_CALL(&r, "bi_sum", LUMEN_BYTES(NULL, 4)), LUMEN_ERR_INVALID_ARG);
    lumen_arg badtype = {(lumen_type)99, {.i64 = 0}};
    CHECK_ST(lumen_remote("bi_sum", &badtype, 1, NULL, &r), LUMEN_ERR_INVALID_ARG);
    lumen_arg nonetype = {LUMEN_TYPE_NONE, {.i64 = 0}};
    CHECK_ST(lumen_remote("bi_sum", &nonetype, 1, NULL, &r), LUMEN_ERR_INVALID_ARG);
    /* NULL args with nargs 0 is a valid call */
    CHECK_OK(lumen_remote("bi_sum", NULL, 0, NULL, &r));
    int64_t i;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &i));
    CHECK(i == 0);

    CHECK_ST(lumen_get(r, T_TIMEOUT, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_get_i64(r, T_TIMEOUT, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_get_f64(r, T_TIMEOUT, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_get_many(NULL, 1, T_TIMEOUT, &v), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_get_many(&r, 1, T_TIMEOUT, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_OK(lumen_get_many(NULL, 0, T_TIMEOUT, NULL));
    CHECK_ST(lumen_wait(NULL, 1, 1, T_TIMEOUT, ready, &nready), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_wait(&r, 1, 1, T_TIMEOUT, NULL, &nready), LUMEN_ERR_INVALID_ARG);
    CHECK_OK(lumen_wait(&r, 1, 1, T_TIMEOUT, ready, NULL));
    CHECK_ST(lumen_wait(&r, 1, 2, T_TIMEOUT, ready, &nready), LUMEN_ERR_OUT_OF_RANGE);
    CHECK_ST(lumen_wait(NULL, 0, 1, T_TIMEOUT, NULL, &nready), LUMEN_ERR_OUT_OF_RANGE);
    CHECK_ST(lumen_ref_dup(r, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_store_stats_get(NULL), LUMEN_ERR_INVALID_ARG);
    /* none of that hurt the reference */
    CHECK_OK(lumen_get_i64(r, 0, &i));
    CHECK_OK(lumen_ref_dup(r, &d));
    CHECK_OK(lumen_ref_release(d));
    CHECK_OK(lumen_ref_release(r));

    char data[4] = "abc";
    CHECK_ST(lumen_put(NULL, 5, &r), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_put(data, 3, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_OK(lumen_put(NULL, 0, &r)); /* an empty object */
    CHECK_OK(lumen_get(r, 0, &v));
    CHECK(v.type == LUMEN_TYPE_BYTES && v.size == 0);
    CHECK_OK(lumen_ref_release(r));

    lumen_object_builder *b;
    void *p;
    CHECK_ST(lumen_object_create(10, NULL, &p), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_object_create(10, &b, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_object_seal(NULL, &r), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_object_abort(NULL), LUMEN_ERR_INVALID_ARG);
    /* a refused seal leaves the builder usable, small and large */
    const size_t sizes[2] = {10, 1 << 20};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(lumen_object_create(sizes[k], &b, &p));
        pattern_fill(p, sizes[k], 17);
        CHECK_ST(lumen_object_seal(b, NULL), LUMEN_ERR_INVALID_ARG);
        CHECK_OK(lumen_object_seal(b, &r));
        CHECK_OK(lumen_get(r, 0, &v));
        CHECK(v.size == sizes[k]);
        CHECK_PATTERN(v.data, sizes[k], 17);
        CHECK_OK(lumen_ref_release(r));
    }

    /* NULL pointers inside a task */
    lumen_ref t;
    CHECK_OK(LUMEN_CALL(&t, "bi_task_nulls", LUMEN_ARG(1), LUMEN_ARG("str"), LUMEN_BYTES("abc", 3),
                        LUMEN_ARG(2.5)));
    CHECK_OK(lumen_get_i64(t, T_TIMEOUT, &i));
    CHECK(i == 4242);
    CHECK_OK(lumen_ref_release(t));
}

static void expect_invalid_ref(lumen_ref bad, const char *what)
{
    lumen_value v;
    int64_t i;
    double f;
    lumen_ref d, r;
    int ready[2];
    size_t nready;
    lumen_status st;
#define EXPECT(call)                                                                               \
    st = (call);                                                                                   \
    CHECKF(st == LUMEN_ERR_INVALID_REF, "%s: %s gave %d (%s)", what, #call, (int)st, lumen_strerror(st))
    EXPECT(lumen_get(bad, 0, &v));
    EXPECT(lumen_get(bad, 100, &v));
    EXPECT(lumen_get_i64(bad, 0, &i));
    EXPECT(lumen_get_f64(bad, 0, &f));
    EXPECT(lumen_get_many(&bad, 1, 0, &v));
    EXPECT(lumen_wait(&bad, 1, 1, 0, ready, &nready));
    EXPECT(lumen_wait(&bad, 1, 1, 100, ready, &nready));
    EXPECT(lumen_ref_dup(bad, &d));
    EXPECT(lumen_ref_release(bad));
    EXPECT(lumen_cancel(bad));
    EXPECT(LUMEN_CALL(&r, "bi_sum", LUMEN_ARG(bad)));
    EXPECT(LUMEN_CALL(&r, "bi_sum", LUMEN_ARG(1), LUMEN_ARG(bad)));
#undef EXPECT
    CHECKF(strlen(lumen_last_error()) > 0, "%s: no message", what);
    /* mixed with a good one */
    lumen_ref good;
    CHECK_OK(lumen_put("g", 1, &good));
    lumen_ref pair[2] = {good, bad};
    lumen_value vs[2];
    CHECK_ST(lumen_get_many(pair, 2, 0, vs), LUMEN_ERR_INVALID_REF);
    CHECK(vs[0].size == 1 && *(const char *)vs[0].data == 'g');
    CHECK_ST(lumen_wait(pair, 2, 1, 0, ready, &nready), LUMEN_ERR_INVALID_REF);
    CHECK_OK(lumen_ref_release(good));
}

static void forged(void)
{
    /* random bits */
    uint64_t x = 0x243f6a8885a308d3ull;
    for (int k = 0; k < 200; k++) {
        lumen_ref r;
        for (int w = 0; w < 2; w++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r.opaque_[w] = x;
        }
        lumen_value v;
        CHECK_ST(lumen_get(r, 0, &v), LUMEN_ERR_INVALID_REF);
        CHECK_ST(lumen_ref_release(r), LUMEN_ERR_INVALID_REF);
        if (k < 10)
            expect_invalid_ref(r, "random bits");
    }
    expect_invalid_ref(LUMEN_REF_NIL, "nil");
    lumen_ref ones = {{~0ull, ~0ull}};
    expect_invalid_ref(ones, "all ones");

    /* variations of a live reference */
    lumen_ref live;
    CHECK_OK(lumen_put("live", 4, &live));
    lumen_ref v1 = live;
    v1.opaque_[0] = (v1.opaque_[0] & ~0xffffffffull) | 9999u; /* owner rank out of range */
    expect_invalid_ref(v1, "owner rank 9999");
    v1 = live;
    v1.opaque_[0] = (v1.opaque_[0] & ~0xffffffffull) | 0xffffffffu; /* owner -1 */
    expect_invalid_ref(v1, "owner rank -1");
    v1 = live;
    v1.opaque_[1] += 1000000; /* no such object */
    expect_invalid_ref(v1, "unknown sequence");
    v1 = live;
    v1.opaque_[1] = 0;
    expect_invalid_ref(v1, "zero sequence");
    v1 = live;
    v1.opaque_[0] ^= 1ull << 63;
    expect_invalid_ref(v1, "flipped top bit");
    /* the live one is unharmed */
    lumen_value v;
    CHECK_OK(lumen_get(live, 0, &v));
    CHECK(v.size == 4 && memcmp(v.data, "live", 4) == 0);
    CHECK_OK(lumen_ref_release(live));
    /* released: a put object (inline and in the store) and a task result */
    expect_invalid_ref(live, "released put");
    char *big = calloc(1, 300 * 1024);
    CHECK(big);
    CHECK_OK(lumen_put(big, 300 * 1024, &live));
    free(big);
    CHECK_OK(lumen_ref_release(live));
    expect_invalid_ref(live, "released store object");
    CHECK_OK(LUMEN_CALL(&live, "bi_sum", LUMEN_ARG(3)));
    CHECK_OK(lumen_ref_release(live)); /* released while maybe still pending */
    expect_invalid_ref(live, "released task result");

    /* a live reference of another rank, smuggled out of a task as bytes */
    int found = 0;
    for (int attempt = 0; attempt < 200 && !found; attempt++) {
        const int64_t sizes[2] = {16, 300 * 1024};
        lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = 2};
        lumen_arg a = lumen_arg_i64(sizes[attempt % 2]);
        lumen_ref r[2];
        CHECK_OK(lumen_remote("bi_leak", &a, 1, &o, r));
        lumen_value lv[2];
        CHECK_OK(lumen_get_many(r, 2, T_TIMEOUT, lv));
        CHECK(lv[0].size == sizeof(lumen_ref));
        lumen_ref foreign;
        memcpy(&foreign, lv[0].data, sizeof foreign);
        CHECK(!lumen_ref_is_nil(foreign));
        if (lv[1].i64 != lumen_rank()) {
            expect_invalid_ref(foreign, "a reference owned by another rank");
            found = 1;
        } else {
            /* ran here: the reference is ours and valid */
            CHECK_OK(lumen_get(foreign, 0, &v));
            CHECK(v.size == (size_t)sizes[attempt % 2]);
            CHECK_OK(lumen_ref_release(foreign));
        }
        CHECK_OK(lumen_ref_release(r[0]));
        CHECK_OK(lumen_ref_release(r[1]));
    }
    CHECK(found || lumen_world_size() == 1);
}

static void ranges(void)
{
    /* 64 arguments is the maximum and works; 65 is refused */
    lumen_arg args[LUMEN_MAX_ARGS + 1];
    for (int k = 0; k <= LUMEN_MAX_ARGS; k++)
        args[k] = lumen_arg_i64(k);
    lumen_ref r;
    CHECK_ST(lumen_remote("bi_sum", args, LUMEN_MAX_ARGS + 1, NULL, &r), LUMEN_ERR_OUT_OF_RANGE);
    CHECK_ST(lumen_remote("bi_sum", args, SIZE_MAX, NULL, &r), LUMEN_ERR_OUT_OF_RANGE);
    CHECK_OK(lumen_remote("bi_sum", args, LUMEN_MAX_ARGS, NULL, &r));
    int64_t i;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &i));
    CHECK(i == LUMEN_MAX_ARGS * (LUMEN_MAX_ARGS - 1) / 2);
    CHECK_OK(lumen_ref_release(r));

    /* sizes no store can hold: errors, not crashes */
    lumen_object_builder *b = NULL;
    void *p = NULL;
    lumen_status st = lumen_object_create(SIZE_MAX, &b, &p);
    CHECKF(st == LUMEN_ERR_OUT_OF_RANGE || st == LUMEN_ERR_STORE_FULL || st == LUMEN_ERR_NO_MEMORY,
           "create(SIZE_MAX) gave %d", (int)st);
    st = lumen_object_create(SIZE_MAX / 2 + 1, &b, &p);
    CHECKF(st != LUMEN_OK, "create(SIZE_MAX / 2 + 1) succeeded");
    lumen_store_stats s;
    CHECK_OK(lumen_store_stats_get(&s));
    st = lumen_object_create(s.capacity + 1, &b, &p);
    CHECKF(st == LUMEN_ERR_OUT_OF_RANGE || st == LUMEN_ERR_STORE_FULL, "create(capacity + 1) gave %d", (int)st);
    char small[8] = "1234567";
    st = lumen_put(small, SIZE_MAX, &r);
    CHECKF(st != LUMEN_OK, "put(SIZE_MAX) succeeded");
    st = LUMEN_CALL(&r, "bi_sum", LUMEN_BYTES(small, SIZE_MAX));
    CHECKF(st == LUMEN_ERR_OUT_OF_RANGE || st == LUMEN_ERR_NO_MEMORY || st == LUMEN_ERR_INVALID_ARG,
           "a SIZE_MAX bytes argument gave %d", (int)st);

    /* function names: too long and empty ones never run */
    char longname[300];
    memset(longname, 'f', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    const char *names[2] = {longname, ""};
    for (int k = 0; k < 2; k++) {
        st = lumen_remote(names[k], NULL, 0, NULL, &r);
        if (st == LUMEN_OK) { /* an error object then */
            lumen_value v;
            st = lumen_get(r, T_TIMEOUT, &v);
            CHECKF(st == LUMEN_ERR_UNKNOWN_FUNCTION, "get gave %d", (int)st);
            CHECK_OK(lumen_ref_release(r));
        } else {
            CHECKF(st == LUMEN_ERR_INVALID_ARG || st == LUMEN_ERR_OUT_OF_RANGE ||
                       st == LUMEN_ERR_UNKNOWN_FUNCTION,
                   "function name of %zu bytes gave %d", strlen(names[k]), (int)st);
        }
    }

    /* the function registered at run time works on every rank */
    lumen_ref rs[8];
    int n = 2 * lumen_world_size();
    for (int k = 0; k < n; k++)
        CHECK_OK(lumen_remote("bi_late", NULL, 0, NULL, &rs[k]));
    for (int k = 0; k < n; k++) {
        lumen_value v;
        CHECK_OK(lumen_get(rs[k], T_TIMEOUT, &v));
        CHECK(v.type == LUMEN_TYPE_STR && strcmp(v.data, "bi_late") == 0);
        CHECK_OK(lumen_ref_release(rs[k]));
    }
    /* and the refused re-registration did not replace bi_sum */
    CHECK_OK(LUMEN_CALL(&r, "bi_sum", LUMEN_ARG(2), LUMEN_ARG(3)));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &i));
    CHECK(i == 5);
    CHECK_OK(lumen_ref_release(r));
}

int main(int argc, char **argv)
{
    before_init();
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    CHECK_ST(lumen_init(&argc, &argv, NULL), LUMEN_ERR_ALREADY_INITIALIZED);
    CHECK_ST(lumen_init(NULL, NULL, NULL), LUMEN_ERR_ALREADY_INITIALIZED);
    CHECK_ST(lumen_init_comm(MPI_COMM_WORLD, NULL), LUMEN_ERR_ALREADY_INITIALIZED);
    CHECK(lumen_is_initialized());
    if (lumen_is_driver()) {
        nulls();
        forged();
        ranges();
        printf("bad_input: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    /* finalized: everything is refused again */
    CHECK(!lumen_is_initialized());
    CHECK(lumen_rank() == -1);
    lumen_ref r;
    lumen_value v;
    CHECK_ST(lumen_put("x", 1, &r), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_get(LUMEN_REF_NIL, 0, &v), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_remote("bi_sum", NULL, 0, NULL, &r), LUMEN_ERR_NOT_INITIALIZED);
    CHECK_ST(lumen_finalize(), LUMEN_ERR_NOT_INITIALIZED);
    return 0;
}
