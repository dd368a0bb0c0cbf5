/*
 * task_dependencies.c - futures as arguments: a chain of 100 tasks each
 * adding 1 to the previous result (with the intermediate references kept,
 * and with them released at once), a diamond a -> b,c -> d on integers and on
 * 1 MiB values, and large (1 MiB, above the 100 KiB inline threshold) values
 * flowing between tasks through references, lumen_return_alloc, put objects
 * and a direct 1 MiB bytes argument. With LUMEN_RANK_IS_NODE=1 every rank is
 * its own node, so the store objects cross "nodes".
 */
#include "check.h"

#include <string.h>

#define MIB (1024u * 1024u)

LUMEN_REMOTE(dep_add1)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    return lumen_return_i64(ctx, 0, x + 1);
}

LUMEN_REMOTE(dep_mul)
{
    int64_t a, b;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &a));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &b));
    return lumen_return_i64(ctx, 0, a * b);
}

LUMEN_REMOTE(dep_add)
{
    int64_t a, b;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &a));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &b));
    return lumen_return_i64(ctx, 0, a + b);
}

/* (size, seed) -> a pattern of `size` bytes written in place (lumen_return_alloc) */
LUMEN_REMOTE(dep_make)
{
    int64_t size, seed;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &size));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seed));
    void *p;
    TASK_TRY(lumen_return_alloc(ctx, 0, (size_t)size, &p));
    pattern_fill(p, (size_t)size, (uint64_t)seed);
    return LUMEN_OK;
}

/* (bytes, seed) -> 1 if the bytes are the pattern `seed`, else fails naming the byte */
LUMEN_REMOTE(dep_verify)
{
    const void *d;
    size_t n;
    int64_t seed, want;
    TASK_TRY(lumen_arg_get_bytes(ctx, 0, &d, &n));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seed));
    TASK_TRY(lumen_arg_get_i64(ctx, 2, &want));
    if (n != (size_t)want)
        return lumen_task_fail(ctx, "size %zu, wanted %lld", n, (long long)want);
    size_t bad = pattern_find_bad(d, n, (uint64_t)seed);
    if (bad != n)
        return lumen_task_fail(ctx, "byte %zu of %zu differs from pattern %lld", bad, n, (long long)seed);
    return lumen_return_i64(ctx, 0, (int64_t)byte_sum(d, n));
}

/* bytes -> the same bytes xor 0xff, through lumen_return_bytes (a copy) */
LUMEN_REMOTE(dep_invert)
{
    const void *d;
    size_t n;
    TASK_TRY(lumen_arg_get_bytes(ctx, 0, &d, &n));
    unsigned char *tmp = malloc(n ? n : 1);
    if (!tmp)
        return lumen_task_fail(ctx, "no memory");
    for (size_t i = 0; i < n; i++)
        tmp[i] = ((const unsigned char *)d)[i] ^ 0xff;
    lumen_status st = lumen_return_bytes(ctx, 0, tmp, n);
    free(tmp);
    return st;
}

/* (i64 sum, bytes inverted, bytes original) -> checks inverted == ~original and
 * sum == byte_sum(original); returns sum + byte_sum(inverted) (= 255 * n) */
LUMEN_REMOTE(dep_join)
{
    int64_t sum;
    const void *inv, *orig;
    size_t ni, no;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &sum));
    TASK_TRY(lumen_arg_get_bytes(ctx, 1, &inv, &ni));
    TASK_TRY(lumen_arg_get_bytes(ctx, 2, &orig, &no));
    if (ni != no)
        return lumen_task_fail(ctx, "sizes %zu and %zu", ni, no);
    const unsigned char *pi = inv, *po = orig;
    for (size_t i = 0; i < ni; i++) {
        unsigned x = pi[i] ^ 0xffu, y = po[i];
        if (x != y)
            return lumen_task_fail(ctx, "byte %zu differs", i);
    }
    if ((uint64_t)sum != byte_sum(orig, no))
        return lumen_task_fail(ctx, "sum %lld differs", (long long)sum);
    return lumen_return_i64(ctx, 0, sum + (int64_t)byte_sum(inv, ni));
}

/* where did it run: node id * 1000 + rank, and checks node == rank when ranks are nodes */
LUMEN_REMOTE(dep_where)
{
    const char *e = getenv("LUMEN_RANK_IS_NODE");
    if (e && strcmp(e, "1") == 0 && lumen_node_id() != lumen_rank())
        return lumen_task_fail(ctx, "rank %d is on node %d with LUMEN_RANK_IS_NODE=1", lumen_rank(),
                               lumen_node_id());
    return lumen_return_i64(ctx, 0, lumen_node_id() * 1000 + lumen_rank());
}

static void test_chain(void)
{
    enum { N = 100 };
    /* keep every reference and check every link */
    lumen_ref r[N];
    CHECK_OK(LUMEN_CALL(&r[0], "dep_add1", LUMEN_ARG(0)));
    for (int i = 1; i < N; i++)
        CHECK_OK(LUMEN_CALL(&r[i], "dep_add1", LUMEN_ARG(r[i - 1])));
    int64_t v;
    CHECK_OK(lumen_get_i64(r[N - 1], T_TIMEOUT, &v));
    CHECKF(v == N, "chain end %lld", (long long)v);
    for (int i = 0; i < N; i++) {
        CHECK_OK(lumen_get_i64(r[i], T_TIMEOUT, &v));
        CHECKF(v == i + 1, "link %d = %lld", i, (long long)v);
    }
    for (int i = 0; i < N; i++)
        CHECK_OK(lumen_ref_release(r[i]));

    /* release each reference as soon as the next task holds it: the pending
     * task keeps its argument alive */
    lumen_ref prev, next;
    CHECK_OK(LUMEN_CALL(&prev, "dep_add1", LUMEN_ARG(1000)));
    for (int i = 1; i < N; i++) {
        CHECK_OK(LUMEN_CALL(&next, "dep_add1", LUMEN_ARG(prev)));
        CHECK_OK(lumen_ref_release(prev));
        prev = next;
    }
    CHECK_OK(lumen_get_i64(prev, T_TIMEOUT, &v));
    CHECKF(v == 1000 + N, "released chain end %lld", (long long)v);
    CHECK_OK(lumen_ref_release(prev));
}

static void test_diamond_int(void)
{
    /* a = 4+1; b = a*a; c = a+10; d = b+c = 25+15 */
    lumen_ref a, b, c, d;
    CHECK_OK(LUMEN_CALL(&a, "dep_add1", LUMEN_ARG(4)));
    CHECK_OK(LUMEN_CALL(&b, "dep_mul", LUMEN_ARG(a), LUMEN_ARG(a)));
    CHECK_OK(LUMEN_CALL(&c, "dep_add", LUMEN_ARG(a), LUMEN_ARG(10)));
    CHECK_OK(lumen_ref_release(a)); /* b and c still hold it */
    CHECK_OK(LUMEN_CALL(&d, "dep_add", LUMEN_ARG(b), LUMEN_ARG(c)));
    int64_t v;
    CHECK_OK(lumen_get_i64(d, T_TIMEOUT, &v));
    CHECKF(v == 40, "diamond = %lld", (long long)v);
    CHECK_OK(lumen_get_i64(b, T_TIMEOUT, &v));
    CHECK(v == 25);
    CHECK_OK(lumen_get_i64(c, T_TIMEOUT, &v));
    CHECK(v == 15);
    lumen_ref_release(b);
    lumen_ref_release(c);
    lumen_ref_release(d);

    /* a wide diamond: 32 parallel middles on one source, summed pairwise */
    enum { W = 32 };
    lumen_ref src, mid[W];
    CHECK_OK(LUMEN_CALL(&src, "dep_add1", LUMEN_ARG(1))); /* 2 */
    for (int i = 0; i < W; i++)
        CHECK_OK(LUMEN_CALL(&mid[i], "dep_mul", LUMEN_ARG(src), LUMEN_ARG(i))); /* 2i */
    lumen_ref_release(src);
    int n = W;
    while (n > 1) {
        for (int i = 0; i < n / 2; i++) {
            lumen_ref s;
            CHECK_OK(LUMEN_CALL(&s, "dep_add", LUMEN_ARG(mid[2 * i]), LUMEN_ARG(mid[2 * i + 1])));
            lumen_ref_release(mid[2 * i]);
            lumen_ref_release(mid[2 * i + 1]);
            mid[i] = s;
        }
        n /= 2;
    }
    CHECK_OK(lumen_get_i64(mid[0], T_TIMEOUT, &v));
    CHECKF(v == 2 * (W * (W - 1) / 2), "wide diamond = %lld", (long long)v);
    lumen_ref_release(mid[0]);
}

static void test_diamond_large(void)
{
    const int64_t n = MIB, seed = 77;
    /* a: 1 MiB made in place by a task; b: its checksum; c: its inverse (a
     * 1 MiB copy); d: checks c against a and adds the sums */
    lumen_ref a, b, c, d;
    CHECK_OK(LUMEN_CALL(&a, "dep_make", LUMEN_ARG(n), LUMEN_ARG(seed)));
    CHECK_OK(LUMEN_CALL(&b, "dep_verify", LUMEN_ARG(a), LUMEN_ARG(seed), LUMEN_ARG(n)));
    CHECK_OK(LUMEN_CALL(&c, "dep_invert", LUMEN_ARG(a)));
    CHECK_OK(LUMEN_CALL(&d, "dep_join", LUMEN_ARG(b), LUMEN_ARG(c), LUMEN_ARG(a)));
    int64_t v;
    CHECK_OK(lumen_get_i64(d, T_TIMEOUT, &v));
    CHECKF(v == 255 * n, "large diamond = %lld, wanted %lld", (long long)v, (long long)(255 * n));
    /* the driver reads both 1 MiB results byte for byte */
    lumen_value va, vc;
    CHECK_OK(lumen_get(a, T_TIMEOUT, &va));
    CHECK(va.type == LUMEN_TYPE_BYTES && va.size == (size_t)n);
    CHECK_PATTERN(va.data, (size_t)n, (uint64_t)seed);
    CHECK_OK(lumen_get(c, T_TIMEOUT, &vc));
    CHECK(vc.type == LUMEN_TYPE_BYTES && vc.size == (size_t)n);
    for (size_t i = 0; i < (size_t)n; i++)
        CHECKF((unsigned char)(((const unsigned char *)vc.data)[i] ^ 0xff) == pattern_byte((uint64_t)seed, i), "byte %zu", i);
    CHECK_OK(lumen_get_i64(b, T_TIMEOUT, &v));
    CHECK((uint64_t)v == byte_sum(va.data, (size_t)n));
    lumen_ref_release(a);
    lumen_ref_release(b);
    lumen_ref_release(c);
    lumen_ref_release(d);
}

static void test_large_flows(void)
{
    const size_t n = MIB;
    unsigned char *buf = malloc(n);
    CHECK(buf);
    pattern_fill(buf, n, 5);
    uint64_t sum = byte_sum(buf, n);

    /* a put object read by a task */
    lumen_ref obj, r;
    CHECK_OK(lumen_put(buf, n, &obj));
    CHECK_OK(LUMEN_CALL(&r, "dep_verify", LUMEN_ARG(obj), LUMEN_ARG(5), LUMEN_ARG((int64_t)n)));
    int64_t v;
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    CHECK((uint64_t)v == sum);
    lumen_ref_release(r);

    /* the same object read by many tasks at once (every rank, in parallel) */
    enum { K = 16 };
    lumen_ref rs[K];
    for (int i = 0; i < K; i++)
        CHECK_OK(LUMEN_CALL(&rs[i], "dep_verify", LUMEN_ARG(obj), LUMEN_ARG(5), LUMEN_ARG((int64_t)n)));
    CHECK_OK(lumen_ref_release(obj)); /* the pending tasks hold it */
    lumen_value vs[K];
    CHECK_OK(lumen_get_many(rs, K, T_TIMEOUT, vs));
    for (int i = 0; i < K; i++) {
        CHECK(vs[i].type == LUMEN_TYPE_I64 && (uint64_t)vs[i].i64 == sum);
        lumen_ref_release(rs[i]);
    }

    /* a 1 MiB bytes argument passed by value */
    CHECK_OK(LUMEN_CALL(&r, "dep_verify", LUMEN_BYTES(buf, n), LUMEN_ARG(5), LUMEN_ARG((int64_t)n)));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    CHECK((uint64_t)v == sum);
    lumen_ref_release(r);

    /* a chain of 1 MiB values: invert 5 times (odd: inverted), each step a new 1 MiB result */
    lumen_ref cur;
    CHECK_OK(lumen_put(buf, n, &cur));
    for (int i = 0; i < 5; i++) {
        lumen_ref nx;
        CHECK_OK(LUMEN_CALL(&nx, "dep_invert", LUMEN_ARG(cur)));
        lumen_ref_release(cur);
        cur = nx;
    }
    lumen_value lv;
    CHECK_OK(lumen_get(cur, T_TIMEOUT, &lv));
    CHECK(lv.size == n);
    for (size_t i = 0; i < n; i++)
        CHECKF(((const unsigned char *)lv.data)[i] == (unsigned char)(buf[i] ^ 0xff), "byte %zu", i);
    lumen_ref_release(cur);

    /* many 1 MiB results made by tasks at once, checked by other tasks and by the driver */
    lumen_ref made[K], checked[K];
    for (int i = 0; i < K; i++) {
        CHECK_OK(LUMEN_CALL(&made[i], "dep_make", LUMEN_ARG((int64_t)n), LUMEN_ARG(1000 + i)));
        CHECK_OK(LUMEN_CALL(&checked[i], "dep_verify", LUMEN_ARG(made[i]), LUMEN_ARG(1000 + i),
                            LUMEN_ARG((int64_t)n)));
    }
    for (int i = 0; i < K; i++) {
        CHECK_OK(lumen_get_i64(checked[i], T_TIMEOUT, &v));
        lumen_value mv;
        CHECK_OK(lumen_get(made[i], T_TIMEOUT, &mv));
        CHECK(mv.size == n);
        CHECK_PATTERN(mv.data, n, (uint64_t)(1000 + i));
        CHECK((uint64_t)v == byte_sum(mv.data, n));
        lumen_ref_release(made[i]);
        lumen_ref_release(checked[i]);
    }
    free(buf);
}

static void test_nodes(void)
{
    const char *e = getenv("LUMEN_RANK_IS_NODE");
    int per_node = e && strcmp(e, "1") == 0;
    if (per_node)
        CHECK(lumen_node_id() == lumen_rank());
    enum { N = 32 };
    lumen_ref r[N];
    for (int i = 0; i < N; i++)
        CHECK_OK(lumen_remote("dep_where", NULL, 0, NULL, &r[i]));
    lumen_value v[N];
    CHECK_OK(lumen_get_many(r, N, T_TIMEOUT, v));
    for (int i = 0; i < N; i++) {
        int node = (int)(v[i].i64 / 1000), rank = (int)(v[i].i64 % 1000);
        CHECK(rank >= 0 && rank < lumen_world_size());
        CHECK(node >= 0 && node <= rank);
        if (per_node)
            CHECK(node == rank);
        lumen_ref_release(r[i]);
    }
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_nodes();
        test_chain();
        test_diamond_int();
        test_diamond_large();
        test_large_flows();
        printf("task_dependencies: OK on %d ranks (rank is node: %s)\n", lumen_world_size(),
               getenv("LUMEN_RANK_IS_NODE") ? getenv("LUMEN_RANK_IS_NODE") : "0");
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
