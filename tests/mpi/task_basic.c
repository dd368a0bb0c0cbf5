/*
 * task_basic.c - one remote call per argument type (i64, f64, bytes incl. 0
 * bytes, str, ref) through LUMEN_CALL and lumen_remote, multiple return slots
 * of different types with one left unset, what a task sees of itself
 * (lumen_task_function, lumen_num_args, lumen_arg_type, lumen_num_returns),
 * and a type mismatch inside a task failing it with a message naming the
 * function and the rank.
 */
#include "check.h"

#include <math.h>
#include <string.h>

/* x -> 3x + 1 */
LUMEN_REMOTE(tb_i64)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    return lumen_return_i64(ctx, 0, 3 * x + 1);
}

/* x -> x * 1.5 - 0.25 */
LUMEN_REMOTE(tb_f64)
{
    double x;
    TASK_TRY(lumen_arg_get_f64(ctx, 0, &x));
    return lumen_return_f64(ctx, 0, x * 1.5 - 0.25);
}

/* bytes -> the bytes reversed, each xor 0x5a */
LUMEN_REMOTE(tb_bytes)
{
    const void *data;
    size_t n;
    TASK_TRY(lumen_arg_get_bytes(ctx, 0, &data, &n));
    void *out;
    TASK_TRY(lumen_return_alloc(ctx, 0, n, &out));
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)out)[i] = ((const unsigned char *)data)[n - 1 - i] ^ 0x5a;
    return LUMEN_OK;
}

/* str -> "<str>|<strlen>" upper-cased */
LUMEN_REMOTE(tb_str)
{
    const char *s;
    TASK_TRY(lumen_arg_get_str(ctx, 0, &s));
    size_t cap = strlen(s) + 32;
    char *buf = malloc(cap);
    if (!buf)
        return lumen_task_fail(ctx, "no memory");
    snprintf(buf, cap, "%s|%zu", s, strlen(s));
    for (char *p = buf; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    lumen_status st = lumen_return_str(ctx, 0, buf);
    free(buf);
    return st;
}

/* (i64 a, f64 b, str c, bytes d) -> 4 slots: a+1 (i64), b*2 (f64), "c!" (str); slot 3 unset */
LUMEN_REMOTE(tb_multi)
{
    int64_t a;
    double b;
    const char *c;
    const void *d;
    size_t dn;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &a));
    TASK_TRY(lumen_arg_get_f64(ctx, 1, &b));
    TASK_TRY(lumen_arg_get_str(ctx, 2, &c));
    TASK_TRY(lumen_arg_get_bytes(ctx, 3, &d, &dn));
    if (lumen_num_returns(ctx) != 4)
        return lumen_task_fail(ctx, "num_returns is %zu, wanted 4", lumen_num_returns(ctx));
    char buf[256];
    snprintf(buf, sizeof buf, "%s!", c);
    TASK_TRY(lumen_return_i64(ctx, 0, a + 1));
    TASK_TRY(lumen_return_f64(ctx, 1, b * 2));
    /* a slot written twice keeps the last value */
    TASK_TRY(lumen_return_str(ctx, 2, "overwritten"));
    TASK_TRY(lumen_return_str(ctx, 2, buf));
    /* slot 3 is left unset: the caller reads LUMEN_TYPE_NONE */
    return LUMEN_OK;
}

/* three slots of three types: bytes, i64, str */
LUMEN_REMOTE(tb_three)
{
    int64_t n;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &n));
    unsigned char bytes[64];
    for (int i = 0; i < 64; i++)
        bytes[i] = (unsigned char)(n + i);
    TASK_TRY(lumen_return_bytes(ctx, 0, bytes, sizeof bytes));
    TASK_TRY(lumen_return_i64(ctx, 1, -n));
    char s[64];
    snprintf(s, sizeof s, "three-%lld", (long long)n);
    return lumen_return_str(ctx, 2, s);
}

/* describes what the task sees: "fn=<name> nargs=<n> nret=<r> types=<t0,t1,..>" */
LUMEN_REMOTE(tb_describe)
{
    char buf[512];
    int k = snprintf(buf, sizeof buf, "fn=%s nargs=%zu nret=%zu types=", lumen_task_function(ctx),
                     lumen_num_args(ctx), lumen_num_returns(ctx));
    for (size_t i = 0; i < lumen_num_args(ctx); i++)
        k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%d", i ? "," : "", (int)lumen_arg_type(ctx, i));
    /* past the last argument: NONE */
    k += snprintf(buf + k, sizeof buf - (size_t)k, " past=%d", (int)lumen_arg_type(ctx, lumen_num_args(ctx)));
    return lumen_return_str(ctx, 0, buf);
}

/* reads argument 0 as f64: an i64 argument makes it fail with TYPE_MISMATCH */
LUMEN_REMOTE(tb_mismatch)
{
    double x;
    lumen_status st = lumen_arg_get_f64(ctx, 0, &x);
    if (st != LUMEN_OK)
        return st;
    return lumen_return_f64(ctx, 0, x);
}

/* checks the accessors' errors on a task with (i64, str) arguments and 1 return */
LUMEN_REMOTE(tb_accessors)
{
    int64_t i;
    double f;
    const char *s;
    const void *d;
    size_t n;
    int64_t bad = 0;
    bad |= (lumen_arg_get_str(ctx, 0, &s) != LUMEN_ERR_TYPE_MISMATCH) << 0;
    bad |= (lumen_arg_get_i64(ctx, 1, &i) != LUMEN_ERR_TYPE_MISMATCH) << 1;
    bad |= (lumen_arg_get_f64(ctx, 1, &f) != LUMEN_ERR_TYPE_MISMATCH) << 2;
    bad |= (lumen_arg_get_bytes(ctx, 0, &d, &n) != LUMEN_ERR_TYPE_MISMATCH) << 3;
    bad |= (lumen_arg_get_i64(ctx, 2, &i) != LUMEN_ERR_OUT_OF_RANGE) << 4;
    bad |= (lumen_arg_get_i64(ctx, 1000, &i) != LUMEN_ERR_OUT_OF_RANGE) << 5;
    bad |= (lumen_return_i64(ctx, 1, 5) != LUMEN_ERR_OUT_OF_RANGE) << 6;
    bad |= (lumen_return_str(ctx, 64, "x") != LUMEN_ERR_OUT_OF_RANGE) << 7;
    bad |= (lumen_arg_type(ctx, 2) != LUMEN_TYPE_NONE) << 8;
    bad |= (lumen_arg_get_i64(ctx, 0, &i) != LUMEN_OK || i != 77) << 9;
    bad |= (lumen_arg_get_str(ctx, 1, &s) != LUMEN_OK || strcmp(s, "acc") != 0) << 10;
    return lumen_return_i64(ctx, 0, bad);
}

/* no arguments, returns the executing rank */
LUMEN_REMOTE(tb_rank) { return lumen_return_i64(ctx, 0, lumen_rank()); }

static void get_str(lumen_ref r, const char *want)
{
    lumen_value v;
    CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
    CHECKF(v.type == LUMEN_TYPE_STR, "type %d", (int)v.type);
    CHECK(v.data != NULL);
    CHECKF(v.size == strlen(want) && strcmp((const char *)v.data, want) == 0, "got \"%s\" (%zu bytes), wanted \"%s\"",
           (const char *)v.data, v.size, want);
}

static void test_i64_f64(void)
{
    const int64_t xs[] = {0, 1, -1, 41, INT64_C(1) << 40, -(INT64_C(1) << 50)};
    for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
        lumen_ref r;
        CHECK_OK(LUMEN_CALL(&r, "tb_i64", LUMEN_ARG(xs[k])));
        CHECK(!lumen_ref_is_nil(r));
        int64_t got;
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &got));
        CHECKF(got == 3 * xs[k] + 1, "tb_i64(%lld) = %lld", (long long)xs[k], (long long)got);
        lumen_value v;
        CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
        CHECK(v.type == LUMEN_TYPE_I64 && v.i64 == 3 * xs[k] + 1 && v.size == 8);
        CHECK_OK(lumen_ref_release(r));
    }
    /* LUMEN_ARG on int, char, long long, unsigned */
    lumen_ref r1, r2, r3;
    CHECK_OK(LUMEN_CALL(&r1, "tb_i64", LUMEN_ARG(7)));
    CHECK_OK(LUMEN_CALL(&r2, "tb_i64", LUMEN_ARG((char)9)));
    CHECK_OK(LUMEN_CALL(&r3, "tb_i64", LUMEN_ARG(4000000000u)));
    int64_t a, b, c;
    CHECK_OK(lumen_get_i64(r1, T_TIMEOUT, &a));
    CHECK_OK(lumen_get_i64(r2, T_TIMEOUT, &b));
    CHECK_OK(lumen_get_i64(r3, T_TIMEOUT, &c));
    CHECK(a == 22 && b == 28 && c == INT64_C(12000000001));
    lumen_ref_release(r1);
    lumen_ref_release(r2);
    lumen_ref_release(r3);

    const double fs[] = {0.0, 2.0, -3.5, 1e300, 1.0 / 3.0};
    for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++) {
        lumen_ref r;
        lumen_arg arg = lumen_arg_f64(fs[k]);
        CHECK_OK(lumen_remote("tb_f64", &arg, 1, NULL, &r));
        double got;
        CHECK_OK(lumen_get_f64(r, T_TIMEOUT, &got));
        CHECKF(got == fs[k] * 1.5 - 0.25, "tb_f64(%g) = %.17g", fs[k], got);
        CHECK_OK(lumen_ref_release(r));
    }
    lumen_ref rf;
    CHECK_OK(LUMEN_CALL(&rf, "tb_f64", LUMEN_ARG(2.0f)));
    double df;
    CHECK_OK(lumen_get_f64(rf, T_TIMEOUT, &df));
    CHECK(df == 2.75);
    lumen_ref_release(rf);
}

static void test_bytes(void)
{
    const size_t sizes[] = {0, 1, 2, 255, 4096, 100 * 1024 - 1, 100 * 1024, 100 * 1024 + 1, 300 * 1024};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        unsigned char *buf = malloc(n ? n : 1);
        CHECK(buf);
        pattern_fill(buf, n, 100 + k);
        /* embedded zero bytes too */
        if (n > 10)
            buf[5] = buf[n / 2] = 0;
        lumen_ref r;
        CHECK_OK(LUMEN_CALL(&r, "tb_bytes", LUMEN_BYTES(buf, n)));
        /* arguments are copied at submission: scribbling now must not matter */
        unsigned char *expect = malloc(n ? n : 1);
        CHECK(expect);
        for (size_t i = 0; i < n; i++)
            expect[i] = buf[n - 1 - i] ^ 0x5a;
        memset(buf, 0xee, n);
        lumen_value v;
        CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
        CHECKF(v.type == LUMEN_TYPE_BYTES, "size %zu: type %d", n, (int)v.type);
        CHECKF(v.size == n, "size %zu: got %zu", n, v.size);
        CHECKF(n == 0 || memcmp(v.data, expect, n) == 0, "size %zu: bytes differ", n);
        CHECK_OK(lumen_ref_release(r));
        free(buf);
        free(expect);
    }
    /* a 0-byte argument with a NULL pointer is a valid empty buffer */
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, "tb_bytes", LUMEN_BYTES(NULL, 0)));
    lumen_value v;
    CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
    CHECK(v.type == LUMEN_TYPE_BYTES && v.size == 0);
    lumen_ref_release(r);
}

static void test_str(void)
{
    const char *ins[] = {"", "a", "hello world", "with\ttabs and UTF-8 \xc3\xa9"};
    for (size_t k = 0; k < sizeof ins / sizeof ins[0]; k++) {
        char in[128];
        strcpy(in, ins[k]);
        lumen_ref r;
        CHECK_OK(LUMEN_CALL(&r, "tb_str", LUMEN_ARG((const char *)in)));
        memset(in, 'z', sizeof in - 1); /* copied at submission */
        char want[256];
        snprintf(want, sizeof want, "%s|%zu", ins[k], strlen(ins[k]));
        for (char *p = want; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        get_str(r, want);
        lumen_ref_release(r);
    }
    /* a long string (above the inline threshold) */
    size_t n = 150 * 1024;
    char *big = malloc(n + 1);
    CHECK(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = 0;
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, "tb_str", LUMEN_ARG((const char *)big)));
    lumen_value v;
    CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
    CHECK(v.type == LUMEN_TYPE_STR);
    char tail[32];
    snprintf(tail, sizeof tail, "|%zu", n);
    CHECKF(v.size == n + strlen(tail), "size %zu", v.size);
    const char *s = v.data;
    CHECK(s[v.size] == '\0');
    CHECK(strcmp(s + n, tail) == 0);
    for (size_t i = 0; i < n; i++)
        CHECKF(s[i] == (char)('A' + i % 26), "byte %zu", i);
    lumen_ref_release(r);
    free(big);
}

static void test_refs(void)
{
    /* a put object (inline and store sized) as a ref argument */
    const size_t sizes[] = {0, 13, 512 * 1024};
    for (size_t k = 0; k < 3; k++) {
        size_t n = sizes[k];
        unsigned char *buf = malloc(n ? n : 1);
        CHECK(buf);
        pattern_fill(buf, n, 7 + k);
        lumen_ref obj, r;
        CHECK_OK(lumen_put(buf, n, &obj));
        CHECK_OK(LUMEN_CALL(&r, "tb_bytes", LUMEN_ARG(obj)));
        lumen_value v;
        CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
        CHECK(v.type == LUMEN_TYPE_BYTES && v.size == n);
        const unsigned char *got = v.data;
        for (size_t i = 0; i < n; i++)
            CHECKF(got[i] == (buf[n - 1 - i] ^ 0x5a), "size %zu byte %zu", n, i);
        CHECK_OK(lumen_ref_release(r));
        CHECK_OK(lumen_ref_release(obj));
        free(buf);
    }
    /* task results of every type as ref arguments */
    lumen_ref ri, rf, rs, r2i, r2f, r2s;
    CHECK_OK(LUMEN_CALL(&ri, "tb_i64", LUMEN_ARG(5)));
    CHECK_OK(LUMEN_CALL(&rf, "tb_f64", LUMEN_ARG(4.0)));
    CHECK_OK(LUMEN_CALL(&rs, "tb_str", LUMEN_ARG("abc")));
    CHECK_OK(LUMEN_CALL(&r2i, "tb_i64", LUMEN_ARG(ri)));
    CHECK_OK(LUMEN_CALL(&r2f, "tb_f64", LUMEN_ARG(rf)));
    CHECK_OK(LUMEN_CALL(&r2s, "tb_str", LUMEN_ARG(rs)));
    int64_t i64;
    double f64;
    CHECK_OK(lumen_get_i64(r2i, T_TIMEOUT, &i64));
    CHECK(i64 == 3 * 16 + 1);
    CHECK_OK(lumen_get_f64(r2f, T_TIMEOUT, &f64));
    CHECK(f64 == (4.0 * 1.5 - 0.25) * 1.5 - 0.25);
    get_str(r2s, "ABC|3|5");
    lumen_ref all[] = {ri, rf, rs, r2i, r2f, r2s};
    for (int k = 0; k < 6; k++)
        CHECK_OK(lumen_ref_release(all[k]));
}

static void test_multi(void)
{
    /* 4 slots: i64, f64, str, unset */
    lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = 4};
    const unsigned char raw[3] = {1, 0, 2};
    lumen_arg args[4] = {lumen_arg_i64(41), lumen_arg_f64(1.25), lumen_arg_str("hey"),
                         lumen_arg_bytes(raw, 3)};
    lumen_ref r[4];
    CHECK_OK(lumen_remote("tb_multi", args, 4, &o, r));
    for (int i = 0; i < 4; i++) {
        CHECK(!lumen_ref_is_nil(r[i]));
        for (int j = 0; j < i; j++)
            CHECK(!lumen_ref_equal(r[i], r[j]));
    }
    lumen_value v[4];
    CHECK_OK(lumen_get_many(r, 4, T_TIMEOUT, v));
    CHECK(v[0].type == LUMEN_TYPE_I64 && v[0].i64 == 42);
    CHECK(v[1].type == LUMEN_TYPE_F64 && v[1].f64 == 2.5);
    CHECK(v[2].type == LUMEN_TYPE_STR && v[2].size == 4 && strcmp(v[2].data, "hey!") == 0);
    CHECKF(v[3].type == LUMEN_TYPE_NONE, "unset slot has type %d", (int)v[3].type);
    CHECK(v[3].size == 0);
    int64_t x;
    CHECK_ST(lumen_get_i64(r[3], T_TIMEOUT, &x), LUMEN_ERR_TYPE_MISMATCH);
    for (int i = 0; i < 4; i++)
        CHECK_OK(lumen_ref_release(r[i]));

    /* num_returns=3, slots bytes / i64 / str; slots read in reverse order */
    o.num_returns = 3;
    lumen_arg a = lumen_arg_i64(10);
    lumen_ref t[3];
    CHECK_OK(lumen_remote("tb_three", &a, 1, &o, t));
    get_str(t[2], "three-10");
    int64_t neg;
    CHECK_OK(lumen_get_i64(t[1], T_TIMEOUT, &neg));
    CHECK(neg == -10);
    lumen_value bv;
    CHECK_OK(lumen_get(t[0], T_TIMEOUT, &bv));
    CHECK(bv.type == LUMEN_TYPE_BYTES && bv.size == 64);
    for (int i = 0; i < 64; i++)
        CHECK(((const unsigned char *)bv.data)[i] == (unsigned char)(10 + i));
    /* slot values feed other tasks independently */
    lumen_ref s2;
    CHECK_OK(LUMEN_CALL(&s2, "tb_i64", LUMEN_ARG(t[1])));
    CHECK_OK(lumen_get_i64(s2, T_TIMEOUT, &neg));
    CHECK(neg == -29);
    lumen_ref_release(s2);
    for (int i = 0; i < 3; i++)
        CHECK_OK(lumen_ref_release(t[i]));

    /* num_returns=64: every slot a ref; a function returning only slot 0 leaves 63 NONE */
    lumen_task_options o64 = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = LUMEN_MAX_RETURNS};
    lumen_ref many[LUMEN_MAX_RETURNS];
    lumen_arg a2 = lumen_arg_i64(1);
    CHECK_OK(lumen_remote("tb_i64", &a2, 1, &o64, many));
    lumen_value mv[LUMEN_MAX_RETURNS];
    CHECK_OK(lumen_get_many(many, LUMEN_MAX_RETURNS, T_TIMEOUT, mv));
    CHECK(mv[0].type == LUMEN_TYPE_I64 && mv[0].i64 == 4);
    for (int i = 1; i < LUMEN_MAX_RETURNS; i++)
        CHECKF(mv[i].type == LUMEN_TYPE_NONE, "slot %d type %d", i, (int)mv[i].type);
    for (int i = 0; i < LUMEN_MAX_RETURNS; i++)
        CHECK_OK(lumen_ref_release(many[i]));
}

static void test_introspection(void)
{
    lumen_ref obj, dep, r;
    CHECK_OK(lumen_put("xyz", 3, &obj));
    CHECK_OK(LUMEN_CALL(&dep, "tb_i64", LUMEN_ARG(1)));
    lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_RETURNS, .num_returns = 1};
    lumen_arg args[] = {lumen_arg_i64(1), lumen_arg_f64(2), lumen_arg_bytes("b", 1), lumen_arg_str("s"),
                        lumen_arg_ref(obj), lumen_arg_ref(dep)};
    CHECK_OK(lumen_remote("tb_describe", args, 6, &o, &r));
    /* a ref argument is presented as its value: a put object as bytes, an i64 result as i64 */
    get_str(r, "fn=tb_describe nargs=6 nret=1 types=1,2,3,4,3,1 past=0");
    lumen_ref_release(r);
    CHECK_OK(lumen_remote("tb_describe", NULL, 0, NULL, &r));
    get_str(r, "fn=tb_describe nargs=0 nret=1 types= past=0");
    lumen_ref_release(r);
    lumen_ref_release(obj);
    lumen_ref_release(dep);

    CHECK_OK(LUMEN_CALL(&r, "tb_accessors", LUMEN_ARG(77), LUMEN_ARG("acc")));
    int64_t bad;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &bad));
    CHECKF(bad == 0, "accessor checks failed inside the task: mask 0x%llx", (unsigned long long)bad);
    lumen_ref_release(r);
}

static void test_mismatch(void)
{
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, "tb_mismatch", LUMEN_ARG(5)));
    lumen_value v;
    CHECK_ST(lumen_get(r, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("tb_mismatch");
    CHECK_ERRMSG("rank");
    /* the cause: the type mismatch */
    const char *m = lumen_last_error();
    CHECKF(strstr(m, "mismatch") || strstr(m, "type"), "message does not name the cause: %s", m);
    /* a second get gives the same error, and a dependent fails too */
    CHECK_ST(lumen_get(r, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    lumen_ref d;
    CHECK_OK(LUMEN_CALL(&d, "tb_i64", LUMEN_ARG(r)));
    CHECK_ST(lumen_get(d, T_TIMEOUT, &v), LUMEN_ERR_TASK_FAILED);
    CHECK_ERRMSG("tb_mismatch");
    lumen_ref_release(d);
    lumen_ref_release(r);
    /* the f64 argument it wants works */
    CHECK_OK(LUMEN_CALL(&r, "tb_mismatch", LUMEN_ARG(0.5)));
    double f;
    CHECK_OK(lumen_get_f64(r, T_TIMEOUT, &f));
    CHECK(f == 0.5);
    lumen_ref_release(r);
}

static void test_spread(void)
{
    /* the ranks share the work: 64 tasks do not all run on one rank */
    enum { N = 64 };
    lumen_ref r[N];
    for (int i = 0; i < N; i++)
        CHECK_OK(lumen_remote("tb_rank", NULL, 0, NULL, &r[i]));
    lumen_value v[N];
    CHECK_OK(lumen_get_many(r, N, T_TIMEOUT, v));
    int seen[1024] = {0}, distinct = 0;
    for (int i = 0; i < N; i++) {
        CHECK(v[i].type == LUMEN_TYPE_I64 && v[i].i64 >= 0 && v[i].i64 < lumen_world_size());
        if (!seen[v[i].i64]++)
            distinct++;
        lumen_ref_release(r[i]);
    }
    printf("tb_rank: %d tasks ran on %d distinct ranks of %d\n", N, distinct, lumen_world_size());
    CHECKF(distinct >= (lumen_world_size() > 1 ? 2 : 1), "%d tasks all ran on one of %d ranks", N, lumen_world_size());
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    CHECK(lumen_is_initialized());
    CHECK(lumen_world_size() >= 1);
    CHECK(lumen_rank() >= 0 && lumen_rank() < lumen_world_size());
    CHECK(lumen_is_driver() == (lumen_rank() == 0));
    if (lumen_is_driver()) {
        test_i64_f64();
        test_bytes();
        test_str();
        test_refs();
        test_multi();
        test_introspection();
        test_mismatch();
        test_spread();
        printf("task_basic: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    CHECK(!lumen_is_initialized());
    return 0;
}
