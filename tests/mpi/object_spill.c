/*
 * object_spill.c - a store smaller than the data (run with
 * LUMEN_STORE_CAPACITY=64M): 40 put objects of 8 MiB each with its own
 * pattern are all read back intact (spilled to disk, restored on get), store
 * statistics show the spilling and restoring, spilled objects are read by
 * tasks, task results that together exceed the capacity (and one of 3/4 of
 * it) come back intact, and the spill folder (LUMEN_SPILL_DIR, a folder made
 * for this run and shared by every rank) holds spill files while objects are
 * out and is empty once lumen_finalize returned on every rank.
 */
#include "check.h"

#include <dirent.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB ((size_t)1024 * 1024)

/* (bytes, seed) -> the byte sum if the bytes are pattern `seed`, else fails */
LUMEN_REMOTE(spill_check)
{
    const void *d;
    size_t n;
    int64_t seed;
    TASK_TRY(lumen_arg_get_bytes(ctx, 0, &d, &n));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seed));
    size_t bad = pattern_find_bad(d, n, (uint64_t)seed);
    if (bad != n)
        return lumen_task_fail(ctx, "byte %zu of %zu differs from pattern %lld", bad, n, (long long)seed);
    return lumen_return_i64(ctx, 0, (int64_t)byte_sum(d, n));
}

LUMEN_REMOTE(spill_make)
{
    int64_t size, seed;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &size));
    TASK_TRY(lumen_arg_get_i64(ctx, 1, &seed));
    void *p;
    TASK_TRY(lumen_return_alloc(ctx, 0, (size_t)size, &p));
    pattern_fill(p, (size_t)size, (uint64_t)seed);
    return LUMEN_OK;
}

static size_t tree_files, tree_entries;
static int count_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    if (ftw->level == 0)
        return 0;
    tree_entries++;
    if (flag == FTW_F && strstr(path, ".obj"))
        tree_files++;
    return 0;
}

/* entries below dir (not counting dir), and how many are spill files */
static void count_tree(const char *dir, size_t *entries, size_t *files)
{
    tree_files = tree_entries = 0;
    CHECKF(nftw(dir, count_cb, 16, FTW_PHYS) == 0, "nftw(%s)", dir);
    *entries = tree_entries;
    *files = tree_files;
}

static void print_stats(const char *when, const lumen_store_stats *s)
{
    printf("%-24s capacity %zu MiB used %zu MiB objects %zu spilled now %zu, spilled %zu MiB, restored %zu\n", when,
           s->capacity / MIB, s->used / MIB, s->num_objects, s->num_spilled, s->spilled_bytes / MIB, s->restored);
}

static void test_puts(const char *spill_dir)
{
    enum { N = 40 };
    const size_t n = 8 * MIB;
    lumen_store_stats s0, s1, s2;
    CHECK_OK(lumen_store_stats_get(&s0));
    print_stats("start", &s0);
    const char *cap = getenv("LUMEN_STORE_CAPACITY");
    if (cap && strcmp(cap, "64M") == 0)
        CHECKF(s0.capacity == 64 * MIB, "capacity %zu with LUMEN_STORE_CAPACITY=64M", s0.capacity);
    CHECK(s0.capacity < (size_t)N * n); /* the test needs a store smaller than the data */

    unsigned char *buf = malloc(n);
    CHECK(buf);
    lumen_ref r[N];
    for (int i = 0; i < N; i++) {
        pattern_fill(buf, n, (uint64_t)(1000 + i));
        CHECK_OK(lumen_put(buf, n, &r[i]));
        lumen_store_stats s;
        CHECK_OK(lumen_store_stats_get(&s));
        CHECKF(s.used <= s.capacity + MIB, "used %zu > capacity %zu", s.used, s.capacity);
    }
    CHECK_OK(lumen_store_stats_get(&s1));
    print_stats("after 40 x 8 MiB puts", &s1);
    CHECK(s1.num_spilled > 0);
    CHECKF(s1.spilled_bytes - s0.spilled_bytes >= (size_t)N * n - s0.capacity,
           "%zu bytes spilled for %zu bytes put into %zu", s1.spilled_bytes - s0.spilled_bytes, (size_t)N * n,
           s0.capacity);
    CHECK(s1.num_objects + s1.num_spilled >= (size_t)N);

    /* the spill files are there, under LUMEN_SPILL_DIR */
    size_t entries, files;
    count_tree(spill_dir, &entries, &files);
    printf("spill folder %s: %zu entries, %zu spill files\n", spill_dir, entries, files);
    CHECKF(files >= s1.num_spilled, "%zu spill files for %zu spilled objects", files, s1.num_spilled);

    /* tasks read the oldest (spilled) objects */
    uint64_t sums[4];
    lumen_ref t[4];
    for (int i = 0; i < 4; i++)
        CHECK_OK(LUMEN_CALL(&t[i], "spill_check", LUMEN_ARG(r[i]), LUMEN_ARG(1000 + i)));
    for (int i = 0; i < 4; i++) {
        int64_t v;
        CHECK_OK(lumen_get_i64(t[i], T_TIMEOUT, &v));
        pattern_fill(buf, n, (uint64_t)(1000 + i));
        sums[i] = byte_sum(buf, n);
        CHECK((uint64_t)v == sums[i]);
        lumen_ref_release(t[i]);
    }

    /* every object read back intact, then released */
    for (int i = 0; i < N; i++) {
        lumen_value v;
        CHECK_OK(lumen_get(r[i], T_TIMEOUT, &v));
        CHECK(v.type == LUMEN_TYPE_BYTES && v.size == n);
        CHECK_PATTERN(v.data, n, (uint64_t)(1000 + i));
        CHECK_OK(lumen_ref_release(r[i]));
    }
    CHECK_OK(lumen_store_stats_get(&s2));
    print_stats("after reading all", &s2);
    CHECKF(s2.restored - s0.restored >= s1.num_spilled, "%zu restored, %zu were spilled",
           s2.restored - s0.restored, s1.num_spilled);
    CHECKF(s2.num_spilled == s0.num_spilled, "%zu objects still spilled after releasing all", s2.num_spilled);
    CHECKF(s2.used == s0.used, "used %zu after releasing all, %zu before", s2.used, s0.used);
    count_tree(spill_dir, &entries, &files);
    CHECKF(files == 0, "%zu spill files left after every spilled object was released", files);

    /* an object of exactly the capacity, with the store emptied by spilling */
    lumen_ref small[6];
    for (int i = 0; i < 6; i++) {
        pattern_fill(buf, n, (uint64_t)(2000 + i));
        CHECK_OK(lumen_put(buf, n, &small[i]));
    }
    lumen_object_builder *b;
    void *p;
    CHECK_OK(lumen_object_create(s0.capacity, &b, &p));
    pattern_fill(p, s0.capacity, 3000);
    lumen_ref whole;
    CHECK_OK(lumen_object_seal(b, &whole));
    lumen_value v;
    CHECK_OK(lumen_get(whole, T_TIMEOUT, &v));
    CHECK(v.size == s0.capacity);
    CHECK_PATTERN(v.data, v.size, 3000);
    CHECK_OK(lumen_ref_release(whole));
    for (int i = 0; i < 6; i++) {
        CHECK_OK(lumen_get(small[i], T_TIMEOUT, &v));
        CHECK_PATTERN(v.data, n, (uint64_t)(2000 + i));
        CHECK_OK(lumen_ref_release(small[i]));
    }
    /* larger than the whole store: an error, not a crash or a hang */
    lumen_status st = lumen_object_create(s0.capacity + MIB, &b, &p);
    CHECKF(st == LUMEN_ERR_OUT_OF_RANGE || st == LUMEN_ERR_STORE_FULL, "create(capacity + 1 MiB) gave %d", (int)st);
    free(buf);
}

static void test_results(void)
{
    lumen_store_stats s0, s1;
    CHECK_OK(lumen_store_stats_get(&s0));
    /* 12 results of 12 MiB (144 MiB, more than twice the store), all alive at once */
    enum { K = 12 };
    const int64_t n = 12 * MIB;
    lumen_ref r[K], c[K];
    for (int i = 0; i < K; i++) {
        CHECK_OK(LUMEN_CALL(&r[i], "spill_make", LUMEN_ARG(n), LUMEN_ARG(5000 + i)));
        CHECK_OK(LUMEN_CALL(&c[i], "spill_check", LUMEN_ARG(r[i]), LUMEN_ARG(5000 + i)));
    }
    int ready[K];
    size_t nready;
    CHECK_OK(lumen_wait(r, K, K, T_TIMEOUT, ready, &nready));
    CHECK(nready == K);
    for (int i = 0; i < K; i++) {
        int64_t sum;
        CHECK_OK(lumen_get_i64(c[i], T_TIMEOUT, &sum));
        lumen_value v;
        CHECK_OK(lumen_get(r[i], T_TIMEOUT, &v));
        CHECK(v.size == (size_t)n);
        CHECK_PATTERN(v.data, (size_t)n, (uint64_t)(5000 + i));
        CHECK((uint64_t)sum == byte_sum(v.data, (size_t)n));
        CHECK_OK(lumen_ref_release(r[i]));
        CHECK_OK(lumen_ref_release(c[i]));
    }
    /* one result of 3/4 of the store, next to 40 MiB of puts */
    lumen_ref keep[5];
    unsigned char *buf = malloc(8 * MIB);
    CHECK(buf);
    for (int i = 0; i < 5; i++) {
        pattern_fill(buf, 8 * MIB, (uint64_t)(6000 + i));
        CHECK_OK(lumen_put(buf, 8 * MIB, &keep[i]));
    }
    int64_t big = (int64_t)(s0.capacity / 4 * 3);
    lumen_ref rb;
    CHECK_OK(LUMEN_CALL(&rb, "spill_make", LUMEN_ARG(big), LUMEN_ARG(7000)));
    lumen_value v;
    CHECK_OK(lumen_get(rb, T_TIMEOUT, &v));
    CHECK(v.size == (size_t)big);
    CHECK_PATTERN(v.data, (size_t)big, 7000);
    CHECK_OK(lumen_ref_release(rb));
    for (int i = 0; i < 5; i++) {
        CHECK_OK(lumen_get(keep[i], T_TIMEOUT, &v));
        CHECK_PATTERN(v.data, 8 * MIB, (uint64_t)(6000 + i));
        CHECK_OK(lumen_ref_release(keep[i]));
    }
    free(buf);
    CHECK_OK(lumen_store_stats_get(&s1));
    print_stats("after task results", &s1);
}

int main(int argc, char **argv)
{
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    CHECK(provided >= MPI_THREAD_SERIALIZED);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* a fresh folder for this run, the same path on every rank */
    char dir[256] = "";
    if (rank == 0) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/lumen-spilltest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        CHECKF(mkdtemp(dir) != NULL, "mkdtemp(%s)", dir);
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    CHECK(setenv("LUMEN_SPILL_DIR", dir, 1) == 0);

    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_puts(dir);
        test_results();
    }
    CHECK_OK(lumen_finalize());
    /* every rank has finalized: nothing may be left in the folder */
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        size_t entries, files;
        count_tree(dir, &entries, &files);
        CHECKF(entries == 0, "%zu entries (%zu spill files) left in %s after lumen_finalize", entries, files, dir);
        CHECK(rmdir(dir) == 0);
        printf("object_spill: OK on %d ranks; %s was empty after finalize\n", size, dir);
    }
    MPI_Finalize();
    return 0;
}
