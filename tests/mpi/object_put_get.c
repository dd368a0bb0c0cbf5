/*
 * object_put_get.c - the object store through the public API: put/get of 0
 * bytes, 1 byte, 200 KiB and 256 MiB (every byte checked against a pattern),
 * same-node gets that are zero-copy and O(1) (two gets give the same pointer,
 * a get costs a small fraction of copying the object), the zero-copy
 * create/seal pair (the pointer written is the pointer read) and abort (its
 * memory comes back), lumen_get_i64/f64 type mismatches, lumen_ref_dup /
 * lumen_ref_release counting, lumen_store_stats_get, and a 256 MiB object
 * read by a task on another rank (and a 256 MiB task result made on another
 * rank read by the driver) - across "nodes" when run with
 * LUMEN_RANK_IS_NODE=1.
 *
 * Ranks other than 0 offer a custom resource "away", so a task demanding it
 * runs on another rank than the driver.
 */
#include "check.h"

#include <string.h>

#define KIB ((size_t)1024)
#define MIB ((size_t)1024 * 1024)

/* (bytes) -> sum of the bytes, with where it ran in slot 1 (rank) and 2 (node) */
LUMEN_REMOTE(obj_sum)
{
    const void *d;
    size_t n;
    TASK_TRY(lumen_arg_get_bytes(ctx, 0, &d, &n));
    TASK_TRY(lumen_return_i64(ctx, 0, (int64_t)byte_sum(d, n)));
    if (lumen_num_returns(ctx) > 1) {
        TASK_TRY(lumen_return_i64(ctx, 1, lumen_rank()));
        TASK_TRY(lumen_return_i64(ctx, 2, lumen_node_id()));
    }
    return LUMEN_OK;
}

/* (size, seed) -> a pattern made in place */
LUMEN_REMOTE(obj_make)
{
    int64_t size, seed;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &size));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seed));
    void *p;
    TASK_TRY(lumen_return_alloc(ctx, 0, (size_t)size, &p));
    pattern_fill(p, (size_t)size, (uint64_t)seed);
    if (lumen_num_returns(ctx) > 1)
        TASK_TRY(lumen_return_i64(ctx, 1, lumen_rank()));
    return LUMEN_OK;
}

LUMEN_REMOTE(obj_i64) { return lumen_return_i64(ctx, 0, 12345); }
LUMEN_REMOTE(obj_f64) { return lumen_return_f64(ctx, 0, 0.125); }
LUMEN_REMOTE(obj_str) { return lumen_return_str(ctx, 0, "a string"); }

static void put_get(size_t n, uint64_t seed)
{
    unsigned char *buf = malloc(n ? n : 1);
    CHECK(buf);
    pattern_fill(buf, n, seed);
    lumen_ref r;
    CHECK_OK(lumen_put(buf, n, &r));
    CHECK(!lumen_ref_is_nil(r));
    memset(buf, 0, n); /* put copied it */
    lumen_value v, w;
    CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
    CHECKF(v.type == LUMEN_TYPE_BYTES, "%zu bytes: type %d", n, (int)v.type);
    CHECKF(v.size == n, "%zu bytes: size %zu", n, v.size);
    CHECK(n == 0 || v.data != NULL);
    CHECK_PATTERN(v.data, n, seed);
    CHECK_OK(lumen_get(r, 0, &w));
    CHECK(w.size == n && w.type == LUMEN_TYPE_BYTES);
    if (n > 100 * KIB) /* in the store: a second get is the same mapping */
        CHECKF(w.data == v.data, "%zu bytes: two gets gave %p and %p", n, v.data, w.data);
    CHECK_PATTERN(w.data, n, seed);
    CHECK_OK(lumen_ref_release(r));
    free(buf);
}

static void test_sizes(void)
{
    put_get(0, 1);
    put_get(1, 2);
    put_get(2, 3);
    put_get(100 * KIB, 4);     /* at the inline threshold */
    put_get(100 * KIB + 1, 5); /* just above */
    put_get(200 * KIB, 6);
    put_get(3 * MIB + 7, 7);

    /* one byte: its exact value */
    unsigned char one = 0xa7;
    lumen_ref r;
    CHECK_OK(lumen_put(&one, 1, &r));
    lumen_value v;
    CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
    CHECK(v.size == 1 && *(const unsigned char *)v.data == 0xa7);
    lumen_ref_release(r);

    /* many live objects at once, then each read back */
    enum { K = 200 };
    lumen_ref rs[K];
    for (int i = 0; i < K; i++) {
        size_t n = (size_t)(i * 977) % (150 * KIB);
        unsigned char *b = malloc(n ? n : 1);
        CHECK(b);
        pattern_fill(b, n, (uint64_t)(500 + i));
        CHECK_OK(lumen_put(b, n, &rs[i]));
        free(b);
    }
    for (int i = 0; i < K; i++) {
        size_t n = (size_t)(i * 977) % (150 * KIB);
        CHECK_OK(lumen_get(rs[i], T_TIMEOUT, &v));
        CHECK(v.size == n);
        CHECK_PATTERN(v.data, n, (uint64_t)(500 + i));
        CHECK_OK(lumen_ref_release(rs[i]));
    }
}

static void test_256m(void)
{
    const size_t n = 256 * MIB;
    unsigned char *buf = malloc(n);
    CHECK(buf);
    pattern_fill(buf, n, 256);
    lumen_ref r;
    double t0 = now_s();
    CHECK_OK(lumen_put(buf, n, &r));
    double t_put = now_s() - t0;
    t0 = now_s();
    lumen_value v;
    CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
    double t_get1 = now_s() - t0;
    t0 = now_s();
    lumen_value w;
    CHECK_OK(lumen_get(r, T_TIMEOUT, &w));
    double t_get2 = now_s() - t0;
    CHECK(v.type == LUMEN_TYPE_BYTES && v.size == n);
    CHECKF(v.data == w.data, "two gets of a 256 MiB object gave %p and %p", v.data, w.data);
    CHECK(v.data != (const void *)buf);
    /* what a copy of the object costs, for scale */
    t0 = now_s();
    memcpy(buf, v.data, n);
    double t_copy = now_s() - t0;
    printf("256 MiB: put %.4f s, get %.6f s, get again %.6f s, memcpy %.4f s\n", t_put, t_get1, t_get2, t_copy);
    CHECKF(t_get1 < t_copy / 4 && t_get2 < t_copy / 4,
           "get of 256 MiB took %.6f / %.6f s against %.4f s to copy it: not zero-copy", t_get1, t_get2, t_copy);
    CHECK_PATTERN(v.data, n, 256);
    CHECK_PATTERN(buf, n, 256);
    free(buf);

    /* tasks read it (zero-copy on this node, fetched across nodes) */
    lumen_ref s;
    CHECK_OK(LUMEN_CALL(&s, "obj_sum", LUMEN_ARG(r)));
    int64_t sum;
    CHECK_OK(lumen_get_i64(s, T_TIMEOUT, &sum));
    CHECK((uint64_t)sum == byte_sum(v.data, n));
    lumen_ref_release(s);
    CHECK_OK(lumen_ref_release(r));
}

static void test_create_seal(void)
{
    /* small */
    lumen_object_builder *b = NULL;
    void *p = NULL;
    CHECK_OK(lumen_object_create(100, &b, &p));
    CHECK(b && p);
    pattern_fill(p, 100, 9);
    lumen_ref r;
    CHECK_OK(lumen_object_seal(b, &r));
    lumen_value v;
    CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
    CHECK(v.type == LUMEN_TYPE_BYTES && v.size == 100);
    CHECK_PATTERN(v.data, 100, 9);
    lumen_ref_release(r);

    /* zero bytes */
    CHECK_OK(lumen_object_create(0, &b, &p));
    CHECK(b);
    CHECK_OK(lumen_object_seal(b, &r));
    CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
    CHECK(v.type == LUMEN_TYPE_BYTES && v.size == 0);
    lumen_ref_release(r);

    /* 64 MiB written in place: the pointer read is the pointer written */
    const size_t n = 64 * MIB;
    lumen_store_stats s0, s1, s2;
    CHECK_OK(lumen_store_stats_get(&s0));
    CHECK_OK(lumen_object_create(n, &b, &p));
    CHECK(b && p);
    CHECK_OK(lumen_store_stats_get(&s1));
    CHECKF(s1.used >= s0.used + n, "used %zu -> %zu after creating 64 MiB", s0.used, s1.used);
    pattern_fill(p, n, 64);
    CHECK_OK(lumen_object_seal(b, &r));
    CHECK_OK(lumen_get(r, T_TIMEOUT, &v));
    CHECK(v.type == LUMEN_TYPE_BYTES && v.size == n);
    CHECKF(v.data == p, "get gave %p, the object was written at %p: a copy", v.data, p);
    CHECK_PATTERN(v.data, n, 64);
    /* a task reads it */
    lumen_ref sr;
    CHECK_OK(LUMEN_CALL(&sr, "obj_sum", LUMEN_ARG(r)));
    int64_t sum;
    CHECK_OK(lumen_get_i64(sr, T_TIMEOUT, &sum));
    CHECK((uint64_t)sum == byte_sum(v.data, n));
    lumen_ref_release(sr);
    CHECK_OK(lumen_ref_release(r));
    CHECK_OK(lumen_store_stats_get(&s2));
    CHECKF(s2.used == s0.used, "used %zu after releasing the 64 MiB object, %zu before", s2.used, s0.used);

    /* abort: small and 64 MiB; the memory comes back */
    CHECK_OK(lumen_object_create(10, &b, &p));
    CHECK_OK(lumen_object_abort(b));
    CHECK_OK(lumen_object_create(n, &b, &p));
    memset(p, 1, 4096);
    CHECK_OK(lumen_store_stats_get(&s1));
    CHECK(s1.used >= s0.used + n);
    CHECK_OK(lumen_object_abort(b));
    CHECK_OK(lumen_store_stats_get(&s2));
    CHECKF(s2.used == s0.used, "used %zu after abort, %zu before", s2.used, s0.used);
    CHECK(s2.num_objects == s0.num_objects);
    /* several builders open at once, sealed in another order */
    lumen_object_builder *bs[3];
    void *ps[3];
    lumen_ref rr[3];
    for (int i = 0; i < 3; i++) {
        CHECK_OK(lumen_object_create((size_t)(i + 1) * MIB, &bs[i], &ps[i]));
        pattern_fill(ps[i], (size_t)(i + 1) * MIB, (uint64_t)(70 + i));
    }
    CHECK_OK(lumen_object_seal(bs[2], &rr[2]));
    CHECK_OK(lumen_object_abort(bs[1]));
    CHECK_OK(lumen_object_seal(bs[0], &rr[0]));
    for (int i = 0; i < 3; i += 2) {
        CHECK_OK(lumen_get(rr[i], T_TIMEOUT, &v));
        CHECK(v.size == (size_t)(i + 1) * MIB);
        CHECK_PATTERN(v.data, v.size, (uint64_t)(70 + i));
        CHECK_OK(lumen_ref_release(rr[i]));
    }
}

static void test_types(void)
{
    lumen_ref ri, rf, rs, rb;
    CHECK_OK(lumen_remote("obj_i64", NULL, 0, NULL, &ri));
    CHECK_OK(lumen_remote("obj_f64", NULL, 0, NULL, &rf));
    CHECK_OK(lumen_remote("obj_str", NULL, 0, NULL, &rs));
    CHECK_OK(lumen_put("12345678", 8, &rb)); /* 8 bytes, but bytes, not an i64 */
    int64_t i = -1;
    double f = -1;
    CHECK_OK(lumen_get_i64(ri, T_TIMEOUT, &i));
    CHECK(i == 12345);
    CHECK_OK(lumen_get_f64(rf, T_TIMEOUT, &f));
    CHECK(f == 0.125);
    CHECK_ST(lumen_get_f64(ri, T_TIMEOUT, &f), LUMEN_ERR_TYPE_MISMATCH);
    CHECK(strlen(lumen_last_error()) > 0);
    CHECK_ST(lumen_get_i64(rf, T_TIMEOUT, &i), LUMEN_ERR_TYPE_MISMATCH);
    CHECK_ST(lumen_get_i64(rs, T_TIMEOUT, &i), LUMEN_ERR_TYPE_MISMATCH);
    CHECK_ST(lumen_get_f64(rs, T_TIMEOUT, &f), LUMEN_ERR_TYPE_MISMATCH);
    CHECK_ST(lumen_get_i64(rb, T_TIMEOUT, &i), LUMEN_ERR_TYPE_MISMATCH);
    CHECK_ST(lumen_get_f64(rb, T_TIMEOUT, &f), LUMEN_ERR_TYPE_MISMATCH);
    /* a mismatch does not consume anything: the right call still works */
    CHECK_OK(lumen_get_i64(ri, 0, &i));
    CHECK(i == 12345);
    lumen_value v;
    CHECK_OK(lumen_get(rs, 0, &v));
    CHECK(v.type == LUMEN_TYPE_STR && v.size == 8 && strcmp(v.data, "a string") == 0);
    CHECK_OK(lumen_get(rb, 0, &v));
    CHECK(v.type == LUMEN_TYPE_BYTES && v.size == 8 && memcmp(v.data, "12345678", 8) == 0);
    lumen_ref_release(ri);
    lumen_ref_release(rf);
    lumen_ref_release(rs);
    lumen_ref_release(rb);
}

static void test_refcount(size_t n)
{
    unsigned char *buf = malloc(n);
    CHECK(buf);
    pattern_fill(buf, n, 31);
    lumen_ref r, d, d2;
    CHECK_OK(lumen_put(buf, n, &r));
    CHECK_OK(lumen_ref_dup(r, &d));
    CHECK(lumen_ref_equal(r, d));
    CHECK_OK(lumen_ref_release(r));
    /* the dup keeps it alive, contents intact */
    lumen_value v;
    CHECK_OK(lumen_get(d, T_TIMEOUT, &v));
    CHECK(v.size == n);
    CHECK_PATTERN(v.data, n, 31);
    CHECK_OK(lumen_ref_dup(d, &d2));
    CHECK_OK(lumen_ref_release(d));
    CHECK_OK(lumen_get(d2, T_TIMEOUT, &v));
    CHECK_PATTERN(v.data, n, 31);
    CHECK_OK(lumen_ref_release(d2));
    /* put + two dups = three references, all released: a fourth release fails */
    CHECK_ST(lumen_ref_release(r), LUMEN_ERR_INVALID_REF);
    CHECK_ST(lumen_get(r, 0, &v), LUMEN_ERR_INVALID_REF);
    CHECK_ST(lumen_ref_dup(r, &d), LUMEN_ERR_INVALID_REF);

    /* the brief's case: one dup, two releases work, a third fails */
    CHECK_OK(lumen_put(buf, n, &r));
    CHECK_OK(lumen_ref_dup(r, &d));
    CHECK_OK(lumen_ref_release(r));
    CHECK_OK(lumen_ref_release(r));
    CHECK_ST(lumen_ref_release(r), LUMEN_ERR_INVALID_REF);
    CHECK_ST(lumen_get(d, 0, &v), LUMEN_ERR_INVALID_REF);

    /* a task result too */
    lumen_ref t;
    CHECK_OK(lumen_remote("obj_i64", NULL, 0, NULL, &t));
    CHECK_OK(lumen_ref_dup(t, &d));
    CHECK_OK(lumen_ref_release(t));
    int64_t i;
    CHECK_OK(lumen_get_i64(d, T_TIMEOUT, &i));
    CHECK(i == 12345);
    CHECK_OK(lumen_ref_release(d));
    CHECK_ST(lumen_ref_release(d), LUMEN_ERR_INVALID_REF);
    free(buf);
}

static void test_stats(void)
{
    lumen_store_stats s0, s1, s2;
    memset(&s0, 0xff, sizeof s0);
    CHECK_OK(lumen_store_stats_get(&s0));
    CHECK(s0.capacity > 0);
    CHECK(s0.used <= s0.capacity);
    printf("store: capacity %zu MiB, used %zu, objects %zu, spilled %zu\n", s0.capacity / MIB, s0.used,
           s0.num_objects, s0.num_spilled);
    const size_t n = 8 * MIB;
    unsigned char *buf = malloc(n);
    CHECK(buf);
    memset(buf, 3, n);
    lumen_ref r;
    CHECK_OK(lumen_put(buf, n, &r));
    CHECK_OK(lumen_store_stats_get(&s1));
    CHECKF(s1.used >= s0.used + n, "used %zu -> %zu", s0.used, s1.used);
    CHECKF(s1.num_objects == s0.num_objects + 1, "objects %zu -> %zu", s0.num_objects, s1.num_objects);
    CHECK(s1.capacity == s0.capacity);
    /* small puts live inline, outside the store */
    lumen_ref small;
    CHECK_OK(lumen_put(buf, 100, &small));
    CHECK_OK(lumen_store_stats_get(&s2));
    CHECK(s2.num_objects == s1.num_objects && s2.used == s1.used);
    CHECK_OK(lumen_ref_release(small));
    CHECK_OK(lumen_ref_release(r));
    CHECK_OK(lumen_store_stats_get(&s2));
    CHECKF(s2.used == s0.used && s2.num_objects == s0.num_objects, "used %zu objects %zu after release (%zu %zu before)",
           s2.used, s2.num_objects, s0.used, s0.num_objects);
    free(buf);
}

/* 256 MiB on the driver read by a task on another rank, and a 256 MiB task
 * result made on another rank read by the driver */
static void test_away(void)
{
    if (lumen_world_size() < 2)
        return;
    int per_node = getenv("LUMEN_RANK_IS_NODE") && strcmp(getenv("LUMEN_RANK_IS_NODE"), "1") == 0;
    const size_t n = 256 * MIB;
    unsigned char *buf = malloc(n);
    CHECK(buf);
    pattern_fill(buf, n, 1234);
    uint64_t want = byte_sum(buf, n);
    lumen_ref obj;
    CHECK_OK(lumen_put(buf, n, &obj));
    free(buf);
    lumen_task_options o = {.field_mask = LUMEN_TASK_NUM_RETURNS | LUMEN_TASK_RESOURCES,
                            .num_returns = 3, .resources = "away=1"};
    for (int round = 0; round < 2; round++) { /* twice: a second reader after the first */
        lumen_ref r[3];
        lumen_arg a = lumen_arg_ref(obj);
        double t0 = now_s();
        CHECK_OK(lumen_remote("obj_sum", &a, 1, &o, r));
        lumen_value v[3];
        CHECK_OK(lumen_get_many(r, 3, T_TIMEOUT, v));
        printf("256 MiB read by a task on rank %lld (node %lld): %.3f s\n", (long long)v[1].i64,
               (long long)v[2].i64, now_s() - t0);
        CHECK(v[1].i64 != 0);
        if (per_node)
            CHECK(v[2].i64 != lumen_node_id());
        CHECKF((uint64_t)v[0].i64 == want, "sum %lld, wanted %llu", (long long)v[0].i64, (unsigned long long)want);
        for (int i = 0; i < 3; i++)
            lumen_ref_release(r[i]);
    }
    CHECK_OK(lumen_ref_release(obj));

    /* a 256 MiB result made away, read here byte for byte */
    lumen_task_options o2 = {.field_mask = LUMEN_TASK_NUM_RETURNS | LUMEN_TASK_RESOURCES,
                             .num_returns = 2, .resources = "away=1"};
    lumen_arg args[2] = {lumen_arg_i64((int64_t)n), lumen_arg_i64(4321)};
    lumen_ref m[2];
    CHECK_OK(lumen_remote("obj_make", args, 2, &o2, m));
    int64_t maker;
    CHECK_OK(lumen_get_i64(m[1], T_TIMEOUT, &maker));
    CHECK(maker != 0);
    double t0 = now_s();
    lumen_value v, w;
    CHECK_OK(lumen_get(m[0], T_TIMEOUT, &v));
    double t_get = now_s() - t0;
    CHECK_OK(lumen_get(m[0], T_TIMEOUT, &w));
    printf("256 MiB made on rank %lld, got on the driver in %.3f s\n", (long long)maker, t_get);
    CHECK(v.type == LUMEN_TYPE_BYTES && v.size == n);
    CHECKF(v.data == w.data, "two gets of a fetched object gave %p and %p", v.data, w.data);
    CHECK_PATTERN(v.data, n, 4321);
    /* and a task elsewhere reads the result it did not make */
    lumen_ref s;
    CHECK_OK(LUMEN_CALL(&s, "obj_sum", LUMEN_ARG(m[0])));
    int64_t sum;
    CHECK_OK(lumen_get_i64(s, T_TIMEOUT, &sum));
    CHECK((uint64_t)sum == byte_sum(v.data, n));
    lumen_ref_release(s);
    lumen_ref_release(m[0]);
    lumen_ref_release(m[1]);
}

int main(int argc, char **argv)
{
    int provided, rank;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    CHECK(provided >= MPI_THREAD_SERIALIZED);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    lumen_init_options io = {.field_mask = LUMEN_INIT_RESOURCES, .resources = rank ? "away=1" : ""};
    CHECK_OK(lumen_init(&argc, &argv, &io));
    CHECK(lumen_rank() == rank);
    if (lumen_is_driver()) {
        test_stats();
        test_sizes();
        test_types();
        test_refcount(10);
        test_refcount(1 * MIB);
        test_create_seal();
        test_256m();
        test_away();
        printf("object_put_get: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    MPI_Finalize();
    return 0;
}
