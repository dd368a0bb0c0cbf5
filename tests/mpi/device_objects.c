/*
 * device_objects.c - objects in device memory (lumen/device.h), Ray's GPU
 * objects. Registered with LUMEN_DEVICE=emulated:2 (host memory standing in
 * for two devices, so it runs everywhere) and LUMEN_RESOURCES=slot=1 (one
 * Holder actor per rank); the same program runs on CUDA where a GPU is
 * visible (device_objects_cuda, skipped without one: exit 77).
 *   - the backend helpers: alloc on each device, copy both ways, device_of,
 *     free; bad input to each (unknown device, NULL, host pointer) is an
 *     error naming the problem;
 *   - the driver puts a device object from device 1 (or 0): lumen_get gives
 *     type DEVICE, its size and no data; info names rank 0 and the device;
 *     it reads back into device memory and into host memory; a too small
 *     dst is OUT_OF_RANGE with the size; a plain object is TYPE_MISMATCH;
 *   - every Holder actor (one per rank) reads it as a method argument into
 *     its own device buffer (across ranks: a FETCH to rank 0, staged through
 *     the host, or straight with LUMEN_DEVICE_DIRECT=1) and checks the bytes;
 *   - every Holder returns a device object in its return slot itself
 *     (lumen_return_device; set twice, the first copy freed): the driver
 *     owns it, the Holder's rank holds it (info), the driver and the next
 *     Holder read it;
 *   - every Holder puts its own device object and returns the reference;
 *     info names the Holder's rank; the driver reads it, and the next Holder
 *     reads it from the previous one (rank to rank, not through the driver);
 *   - sizes 1 B, 64 KiB and 3 MiB; a zero-byte device object works too;
 *   - once every reference is released the holders' device memory is freed
 *     (lumen_store_stats: device_objects and device_bytes back to 0 on every
 *     rank) and a get of a released reference is INVALID_REF.
 */
#include "check.h"

#include <lumen/device.h>

static const size_t sizes[] = {1, 64 << 10, 3 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* n bytes of pattern seed in new device memory on device dev */
static lumen_status make_device_buf(int dev, size_t n, uint64_t seed, void **out)
{
    void *h = malloc(n ? n : 1);
    if (!h)
        return LUMEN_ERR_NO_MEMORY;
    pattern_fill(h, n, seed);
    lumen_status st = lumen_device_alloc(dev, n, out);
    if (st == LUMEN_OK)
        st = lumen_device_copy(*out, h, n);
    free(h);
    return st;
}

/* whether n bytes of device memory at d hold pattern seed */
static int device_buf_ok(const void *d, size_t n, uint64_t seed)
{
    void *h = malloc(n ? n : 1);
    int ok = h && lumen_device_copy(h, d, n) == LUMEN_OK && pattern_find_bad(h, n, seed) == n;
    free(h);
    return ok;
}

static lumen_status holder_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = NULL;
    return LUMEN_OK;
}
LUMEN_ACTOR_CLASS(Holder, holder_init, NULL)

LUMEN_METHOD(Holder, where)
{
    (void)self;
    return lumen_return_i64(ctx, 0, lumen_rank());
}

/* make(seed, size): a device object of `size` bytes of pattern `seed` on
 * device seed % count, returned by reference */
LUMEN_METHOD(Holder, make)
{
    (void)self;
    int64_t seed, size;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &seed));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &size));
    void *d;
    TASK_TRY(make_device_buf((int)(seed % lumen_device_count()), (size_t)size, (uint64_t)seed, &d));
    lumen_ref r;
    lumen_status st = lumen_put_device(d, (size_t)size, &r);
    lumen_device_free(d); /* the object is a copy */
    if (st != LUMEN_OK)
        return st;
    st = lumen_return_ref(ctx, 0, r);
    lumen_ref_release(r);
    return st;
}

/* give(seed, size): the same bytes returned as a device object in the
 * return slot itself (lumen_return_device: Ray's tensor_transport return);
 * bad slots and host memory are refused first */
LUMEN_METHOD(Holder, give)
{
    (void)self;
    int64_t seed, size;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &seed));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &size));
    char host[16];
    if (lumen_return_device(ctx, 0, host, sizeof host) != LUMEN_ERR_INVALID_ARG ||
        lumen_return_device(ctx, 1, host, sizeof host) != LUMEN_ERR_OUT_OF_RANGE ||
        lumen_return_device(NULL, 0, host, sizeof host) != LUMEN_ERR_INVALID_ARG)
        return lumen_task_fail(ctx, "lumen_return_device took a wrong argument");
    void *d;
    TASK_TRY(make_device_buf((int)(seed % lumen_device_count()), (size_t)size, (uint64_t)seed, &d));
    lumen_status st = lumen_return_device(ctx, 0, d, (size_t)size);
    if (st == LUMEN_OK) /* set twice: the first copy is dropped (and freed), the second stays */
        st = lumen_return_device(ctx, 0, d, (size_t)size);
    lumen_device_free(d);
    return st;
}

/* check(obj, seed): argument 0 is a device object of pattern `seed`; read
 * into this rank's device memory and check; returns its size */
LUMEN_METHOD(Holder, check)
{
    (void)self;
    int64_t seed;
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seed));
    if (lumen_arg_type(ctx, 0) != LUMEN_TYPE_DEVICE)
        return lumen_task_fail(ctx, "argument 0 is of type %d, not DEVICE", (int)lumen_arg_type(ctx, 0));
    size_t size = 0;
    lumen_status st = lumen_arg_get_device(ctx, 0, NULL, 0, &size); /* too small: tells the size */
    if (st != LUMEN_ERR_OUT_OF_RANGE && !(st == LUMEN_OK && size == 0))
        return lumen_task_fail(ctx, "size probe gave %d", st);
    const void *bytes;
    size_t n;
    if (lumen_arg_get_bytes(ctx, 0, &bytes, &n) != LUMEN_ERR_TYPE_MISMATCH)
        return lumen_task_fail(ctx, "a device argument read as bytes");
    char small[8];
    if (lumen_arg_get_device(ctx, 1, small, sizeof small, &n) != LUMEN_ERR_TYPE_MISMATCH ||
        lumen_arg_get_device(ctx, 2, small, sizeof small, &n) != LUMEN_ERR_OUT_OF_RANGE ||
        lumen_arg_get_device(NULL, 0, small, sizeof small, &n) != LUMEN_ERR_INVALID_ARG)
        return lumen_task_fail(ctx, "lumen_arg_get_device took a wrong argument");
    void *d;
    TASK_TRY(lumen_device_alloc(lumen_rank() % lumen_device_count(), size, &d));
    size_t got = 0;
    st = lumen_arg_get_device(ctx, 0, d, size, &got);
    int ok = st == LUMEN_OK && got == size && device_buf_ok(d, size, (uint64_t)seed);
    lumen_device_free(d);
    if (st != LUMEN_OK)
        return st;
    if (!ok)
        return lumen_task_fail(ctx, "rank %d read %zu bytes that are not pattern %lld", lumen_rank(), size,
                               (long long)seed);
    return lumen_return_i64(ctx, 0, (int64_t)size);
}

/* held(): device objects held by this rank */
LUMEN_METHOD(Holder, held)
{
    (void)self;
    lumen_store_stats s;
    TASK_TRY(lumen_store_stats_get(&s));
    return lumen_return_i64(ctx, 0, (int64_t)(s.device_objects * 1000000000ull + s.device_bytes));
}

static int64_t call_i64(lumen_actor a, const char *m, const lumen_arg *args, size_t n)
{
    lumen_ref r;
    int64_t v;
    CHECK_OK(lumen_actor_call(a, m, args, n, NULL, &r));
    CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &v));
    lumen_ref_release(r);
    return v;
}

static void read_back(lumen_ref r, size_t n, uint64_t seed)
{
    void *d, *h = malloc(n ? n : 1);
    CHECK(h);
    CHECK_OK(lumen_device_alloc(lumen_device_count() - 1, n ? n : 1, &d));
    size_t got = 0;
    CHECK_OK(lumen_get_device(r, T_TIMEOUT, d, n, &got));
    CHECK(got == n);
    CHECKF(device_buf_ok(d, n, seed), "device read of %zu bytes, pattern %llu", n, (unsigned long long)seed);
    memset(h, 0, n);
    CHECK_OK(lumen_get_device(r, T_TIMEOUT, h, n, &got)); /* into host memory */
    CHECK_PATTERN(h, n, seed);
    CHECK_OK(lumen_device_free(d));
    free(h);
}

static void test_helpers(void)
{
    int count = lumen_device_count();
    CHECKF(count >= 1, "backend %s sees no device", lumen_device_backend());
    void *d, *h = malloc(4096), *h2 = malloc(4096);
    CHECK(h && h2);
    for (int dev = 0; dev < count; dev++) {
        CHECK_OK(lumen_device_alloc(dev, 4096, &d));
        CHECK(lumen_device_of(d) == dev);
        CHECK(lumen_device_of((char *)d + 4095) == dev);
        pattern_fill(h, 4096, 3 + (uint64_t)dev);
        CHECK_OK(lumen_device_copy(d, h, 4096));
        memset(h2, 0, 4096);
        CHECK_OK(lumen_device_copy(h2, d, 4096));
        CHECK_PATTERN(h2, 4096, 3 + (uint64_t)dev);
        CHECK_OK(lumen_device_free(d));
    }
    CHECK(lumen_device_of(h) == -1);
    CHECK(lumen_device_of(NULL) == -1);
    CHECK_ST(lumen_device_alloc(count, 16, &d), LUMEN_ERR_OUT_OF_RANGE);
    CHECK_ERRMSG("device");
    CHECK_ST(lumen_device_alloc(-1, 16, &d), LUMEN_ERR_OUT_OF_RANGE);
    CHECK_ST(lumen_device_alloc(0, 16, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_device_free(h), LUMEN_ERR_INVALID_ARG);
    CHECK_ERRMSG("not device memory");
    if (!strcmp(lumen_device_backend(), "emulated")) { /* CUDA cannot tell an allocation's end */
        CHECK_OK(lumen_device_alloc(0, 64, &d));
        CHECK_ST(lumen_device_free((char *)d + 8), LUMEN_ERR_INVALID_ARG); /* inside, not the start */
        lumen_ref r;
        CHECK_ST(lumen_put_device(d, 65, &r), LUMEN_ERR_INVALID_ARG);        /* past its end */
        CHECK_ERRMSG("holds 64");
        CHECK_ST(lumen_put_device((char *)d + 32, 64, &r), LUMEN_ERR_INVALID_ARG);
        CHECK_OK(lumen_device_free(d));
    }
    CHECK_OK(lumen_device_free(NULL));
    CHECK_ST(lumen_device_copy(NULL, h, 16), LUMEN_ERR_INVALID_ARG);
    free(h);
    free(h2);
}

static void test_bad_input(lumen_ref dref)
{
    lumen_ref r;
    char host[64] = {0};
    CHECK_ST(lumen_put_device(NULL, 16, &r), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_put_device(host, sizeof host, &r), LUMEN_ERR_INVALID_ARG);
    CHECK_ERRMSG("not");
    CHECK_ERRMSG("lumen_put takes host memory");
    CHECK_ST(lumen_put_device(host, sizeof host, NULL), LUMEN_ERR_INVALID_ARG);
    size_t size = 0;
    CHECK_ST(lumen_get_device(dref, T_TIMEOUT, host, 1, &size), LUMEN_ERR_OUT_OF_RANGE);
    CHECK(size == sizes[NSIZES - 1]);
    CHECK_ERRMSG("bytes");
    CHECK_ST(lumen_get_device(dref, T_TIMEOUT, NULL, 1 << 30, &size), LUMEN_ERR_INVALID_ARG);
    if (!strcmp(lumen_device_backend(), "emulated")) { /* a capacity larger than the memory behind dst */
        void *small;
        CHECK_OK(lumen_device_alloc(0, 1024, &small));
        CHECK_ST(lumen_get_device(dref, T_TIMEOUT, small, 1 << 30, &size), LUMEN_ERR_INVALID_ARG);
        CHECK_ERRMSG("dst holds 1024");
        CHECK_OK(lumen_device_free(small));
    }
    lumen_ref plain;
    CHECK_OK(lumen_put(host, sizeof host, &plain));
    CHECK_ST(lumen_get_device(plain, T_TIMEOUT, host, sizeof host, &size), LUMEN_ERR_TYPE_MISMATCH);
    CHECK_ERRMSG("not a device object");
    CHECK_ST(lumen_device_object_info(plain, T_TIMEOUT, NULL, NULL, NULL), LUMEN_ERR_TYPE_MISMATCH);
    lumen_ref forged = plain;
    forged.opaque_[1] ^= 0x5a5a;
    CHECK(lumen_get_device(forged, 0, host, sizeof host, &size) != LUMEN_OK);
    CHECK_OK(lumen_ref_release(plain));
}

static int64_t held_on(lumen_actor a) { return call_i64(a, "held", NULL, 0); }

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_device_count() < 1) { /* every rank: the same backend everywhere */
        if (lumen_is_driver())
            printf("SKIP: no device memory here: %s\n", lumen_last_error());
        CHECK_OK(lumen_finalize());
        return 77;
    }
    if (!lumen_is_driver()) {
        CHECK_OK(lumen_finalize());
        return 0;
    }
    int W = lumen_world_size();
    int count = lumen_device_count();
    test_helpers();

    /* the driver's objects, one per size, and one of zero bytes */
    lumen_ref dref[NSIZES];
    for (size_t s = 0; s < NSIZES; s++) {
        void *d;
        CHECK_OK(make_device_buf(count - 1, sizes[s], 7 + s, &d));
        CHECK_OK(lumen_put_device(d, sizes[s], &dref[s]));
        CHECK_OK(lumen_device_free(d)); /* the object is a copy */
        lumen_value v;
        CHECK_OK(lumen_get(dref[s], T_TIMEOUT, &v));
        CHECK(v.type == LUMEN_TYPE_DEVICE && v.size == sizes[s] && v.data == NULL);
        int rank = -1, dev = -1;
        size_t n = 0;
        CHECK_OK(lumen_device_object_info(dref[s], T_TIMEOUT, &rank, &dev, &n));
        CHECK(rank == 0 && dev == count - 1 && n == sizes[s]);
        read_back(dref[s], sizes[s], 7 + s);
    }
    lumen_store_stats st0;
    CHECK_OK(lumen_store_stats_get(&st0));
    CHECK(st0.device_objects == NSIZES);
    CHECK(st0.device_bytes == sizes[0] + sizes[1] + sizes[2]);
    {
        void *d;
        lumen_ref z;
        CHECK_OK(lumen_device_alloc(0, 0, &d));
        CHECK_OK(lumen_put_device(d, 0, &z));
        size_t n = 99;
        CHECK_OK(lumen_get_device(z, T_TIMEOUT, d, 0, &n));
        CHECK(n == 0);
        CHECK_OK(lumen_ref_release(z));
        CHECK_OK(lumen_device_free(d));
    }
    test_bad_input(dref[NSIZES - 1]);

    /* one Holder per rank */
    lumen_actor *h = calloc((size_t)W, sizeof *h);
    int *rank_of = calloc((size_t)W, sizeof *rank_of), *seen = calloc((size_t)W, sizeof *seen);
    CHECK(h && rank_of && seen);
    lumen_actor_options o = {.field_mask = LUMEN_ACTOR_RESOURCES, .resources = "slot=1"};
    for (int a = 0; a < W; a++)
        CHECK_OK(lumen_actor_create("Holder", NULL, 0, &o, &h[a]));
    for (int a = 0; a < W; a++) {
        rank_of[a] = (int)call_i64(h[a], "where", NULL, 0);
        CHECK(rank_of[a] >= 0 && rank_of[a] < W && !seen[rank_of[a]]);
        seen[rank_of[a]] = 1;
    }

    /* every rank reads the driver's objects as method arguments */
    for (int a = 0; a < W; a++)
        for (size_t s = 0; s < NSIZES; s++) {
            lumen_arg args[2] = {lumen_arg_ref(dref[s]), lumen_arg_i64((int64_t)(7 + s))};
            CHECKF(call_i64(h[a], "check", args, 2) == (int64_t)sizes[s], "rank %d, size %zu", rank_of[a], sizes[s]);
        }

    /* every rank makes one; the driver and the next rank read it */
    lumen_ref outer[64], inner[64];
    CHECK(W <= 64);
    for (int a = 0; a < W; a++) {
        size_t n = sizes[(size_t)a % NSIZES];
        lumen_arg args[2] = {lumen_arg_i64(100 + a), lumen_arg_i64((int64_t)n)};
        CHECK_OK(lumen_actor_call(h[a], "make", args, 2, NULL, &outer[a]));
        lumen_value v;
        CHECK_OK(lumen_get(outer[a], T_TIMEOUT, &v));
        CHECK(v.type == LUMEN_TYPE_REF);
        CHECK_OK(lumen_ref_dup(v.ref, &inner[a]));
        int rank = -1, dev = -1;
        size_t got = 0;
        CHECK_OK(lumen_device_object_info(inner[a], T_TIMEOUT, &rank, &dev, &got));
        CHECKF(rank == rank_of[a] && dev == (100 + a) % count && got == n, "info: rank %d dev %d size %zu", rank,
               dev, got);
        read_back(inner[a], n, 100 + (uint64_t)a);
    }
    for (int a = 0; a < W; a++) {
        int b = (a + 1) % W;
        size_t n = sizes[(size_t)a % NSIZES];
        lumen_arg args[2] = {lumen_arg_ref(inner[a]), lumen_arg_i64(100 + a)};
        CHECKF(call_i64(h[b], "check", args, 2) == (int64_t)n, "rank %d reading rank %d's", rank_of[b], rank_of[a]);
    }

    /* every rank returns one in the return slot itself: the driver owns it,
     * the rank that ran the method holds the bytes */
    lumen_ref given[64];
    for (int a = 0; a < W; a++) {
        size_t n = sizes[(size_t)(a + 1) % NSIZES];
        lumen_arg args[2] = {lumen_arg_i64(200 + a), lumen_arg_i64((int64_t)n)};
        CHECK_OK(lumen_actor_call(h[a], "give", args, 2, NULL, &given[a]));
        lumen_value v;
        CHECK_OK(lumen_get(given[a], T_TIMEOUT, &v));
        CHECKF(v.type == LUMEN_TYPE_DEVICE && v.size == n, "type %d size %zu", (int)v.type, v.size);
        int rank = -1, dev = -1;
        size_t got = 0;
        CHECK_OK(lumen_device_object_info(given[a], T_TIMEOUT, &rank, &dev, &got));
        CHECKF(rank == rank_of[a] && dev == (200 + a) % count && got == n, "info: rank %d dev %d size %zu", rank,
               dev, got);
        read_back(given[a], n, 200 + (uint64_t)a);
        int b = (a + 1) % W;
        lumen_arg cargs[2] = {lumen_arg_ref(given[a]), lumen_arg_i64(200 + a)};
        CHECKF(call_i64(h[b], "check", cargs, 2) == (int64_t)n, "rank %d reading rank %d's returned object",
               rank_of[b], rank_of[a]);
    }
    for (int a = 0; a < W; a++)
        CHECKF(held_on(h[a]) / 1000000000 >= (rank_of[a] == 0 ? (int64_t)NSIZES + 1 : 1), "rank %d holds too few",
               rank_of[a]);
    { /* the state API lists a device object with where its bytes are */
        char *text = NULL, want[96];
        CHECK_OK(lumen_state("objects", &text));
        snprintf(want, sizeof want, "\"holder_rank\":%d", rank_of[W - 1]);
        CHECK_CONTAINS(text, "\"memory\":\"device\"");
        CHECK_CONTAINS(text, want);
        snprintf(want, sizeof want, "\"size\":%zu", sizes[NSIZES - 1]);
        CHECK_CONTAINS(text, want);
        lumen_free(text);
    }

    /* release everything: the device memory goes everywhere */
    for (int a = 0; a < W; a++) {
        CHECK_OK(lumen_ref_release(inner[a]));
        CHECK_OK(lumen_ref_release(outer[a]));
        CHECK_OK(lumen_ref_release(given[a])); /* a FREE to the rank holding it */
    }
    lumen_ref gone = dref[0];
    for (size_t s = 0; s < NSIZES; s++)
        CHECK_OK(lumen_ref_release(dref[s]));
    for (int a = 0; a < W; a++) {
        double t0 = now_s();
        int64_t v;
        while ((v = held_on(h[a])) != 0 && now_s() - t0 < 20)
            sleep_ms(20);
        CHECKF(v == 0, "rank %d still holds %lld device objects, %lld bytes", rank_of[a], (long long)(v / 1000000000),
               (long long)(v % 1000000000));
    }
    size_t n;
    char buf[8];
    CHECK_ST(lumen_get_device(gone, 0, buf, sizeof buf, &n), LUMEN_ERR_INVALID_REF);
    for (int a = 0; a < W; a++)
        CHECK_OK(lumen_actor_kill(h[a], 1));
    free(h);
    free(rank_of);
    free(seen);
    printf("device objects: backend %s, %d device(s), %d rank(s), direct %s: ok\n", lumen_device_backend(), count, W,
           getenv("LUMEN_DEVICE_DIRECT") ? getenv("LUMEN_DEVICE_DIRECT") : "auto");
    CHECK_OK(lumen_finalize());
    return 0;
}
