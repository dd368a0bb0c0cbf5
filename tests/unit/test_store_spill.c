/*
 * test_store_spill.c - unit test of the object store in one process (no MPI):
 * 40 x 1 MiB objects through an 8 MiB store (spill and restore, byte for
 * byte), pinned objects never spilled or moved, the error codes of store.h,
 * a second mapping of the same segment, a forked process writing through
 * attach, lock recovery after a process dies holding it, a full directory,
 * tombstone churn, prefault stop on close, and cleanup of the spill folder.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/store.h"
#include "store/store_int.h" /* lm_store_lock, for the dead-owner test */

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c)                                                                      \
    do {                                                                              \
        if (!(c)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__,   \
                    __LINE__, #c, lumen_last_error());                               \
            return 1;                                                                 \
        }                                                                             \
    } while (0)

#define MiB ((size_t)1 << 20)
#define NUM_OBJECTS 40

static char tmpdir[64];
static char spill_dir[PATH_MAX];
static char shm_name[64];

static lm_oid oid(uint64_t k) { return (lm_oid){0xabcdef0000000000ull | k, k * 0x9e3779b97f4a7c15ull}; }
static uint8_t pat(uint64_t k, size_t i) { return (uint8_t)(k * 37 + i * 7 + (i >> 12) + 1); }

static void fill(uint8_t *p, uint64_t k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pat(k, i);
}

static int intact(const uint8_t *p, uint64_t k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pat(k, i))
            return 0;
    return 1;
}

static int spill_file_exists(lm_oid id)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%016" PRIx64 "-%016" PRIx64 ".obj", spill_dir, id.hi, id.lo);
    return access(path, F_OK) == 0;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static lm_store_config config(size_t capacity)
{
    lm_store_config cfg = {shm_name, capacity, 0, capacity, spill_dir};
    return cfg;
}

/* Put one object of n bytes with the pattern of k. */
static lumen_status put(lm_store *s, uint64_t k, size_t n)
{
    void *p;
    lumen_status st = lm_store_create_object(s, oid(k), n, 3, &p);
    if (st)
        return st;
    fill(p, k, n);
    return lm_store_seal(s, oid(k));
}

static int test_spill_roundtrip(lm_store *s)
{
    lm_store_stats st;
    for (uint64_t k = 0; k < NUM_OBJECTS; k++)
        CHECK(put(s, k, MiB) == LUMEN_OK);
    lm_store_get_stats(s, &st);
    CHECK(st.capacity == 8 * MiB);
    CHECK(st.num_spilled > 0);
    CHECK(st.num_objects + st.num_spilled == NUM_OBJECTS);
    CHECK(st.spilled_bytes == st.num_spilled * MiB);
    CHECK(st.used <= 8 * MiB + 4096);
    CHECK(spill_file_exists(oid(0)));              /* oldest went first */
    CHECK(!spill_file_exists(oid(NUM_OBJECTS - 1))); /* newest still in memory */
    printf("roundtrip: %zu of %d objects spilled, %zu in memory\n", st.num_spilled, NUM_OBJECTS,
           st.num_objects);

    for (uint64_t k = 0; k < NUM_OBJECTS; k++) {
        const void *p;
        size_t n = 0;
        uint8_t type = 0;
        CHECK(lm_store_pin(s, oid(k), &p, &n, &type) == LUMEN_OK);
        CHECK(n == MiB && type == 3);
        CHECK((uintptr_t)p % LM_ARENA_ALIGN == 0);
        CHECK(intact(p, k, n));
        CHECK(!spill_file_exists(oid(k)));
        CHECK(lm_store_unpin(s, oid(k)) == LUMEN_OK);
        CHECK(lm_store_delete(s, oid(k)) == LUMEN_OK);
    }
    lm_store_get_stats(s, &st);
    CHECK(st.restored > 0);
    CHECK(st.num_objects == 0 && st.num_spilled == 0 && st.used == 0);
    CHECK(count_files(spill_dir) == 0);
    printf("roundtrip: %zu restored, all bytes intact, no files left\n", st.restored);
    return 0;
}

static int test_pinned_stays(lm_store *s)
{
    const uint64_t P = 1000;
    const void *p, *again;
    CHECK(put(s, P, MiB) == LUMEN_OK);
    CHECK(lm_store_pin(s, oid(P), &p, NULL, NULL) == LUMEN_OK);
    for (uint64_t k = 0; k < 30; k++) {
        CHECK(put(s, 2000 + k, MiB) == LUMEN_OK);
        CHECK(intact(p, P, MiB));
    }
    CHECK(!spill_file_exists(oid(P)));
    CHECK(lm_store_pin(s, oid(P), &again, NULL, NULL) == LUMEN_OK);
    CHECK(again == p); /* never moved */
    CHECK(lm_store_unpin(s, oid(P)) == LUMEN_OK);
    CHECK(lm_store_unpin(s, oid(P)) == LUMEN_OK);
    /* unpinned, it spills like any other once newer objects need room */
    for (uint64_t k = 3000; k < 3010; k++)
        CHECK(put(s, k, MiB) == LUMEN_OK);
    CHECK(spill_file_exists(oid(P)));
    /* delete of a spilled object removes its file */
    CHECK(lm_store_delete(s, oid(P)) == LUMEN_OK);
    CHECK(!spill_file_exists(oid(P)));
    for (uint64_t k = 0; k < 30; k++)
        CHECK(lm_store_delete(s, oid(2000 + k)) == LUMEN_OK);
    for (uint64_t k = 3000; k < 3010; k++)
        CHECK(lm_store_delete(s, oid(k)) == LUMEN_OK);
    lm_store_stats st;
    lm_store_get_stats(s, &st);
    CHECK(st.num_objects == 0 && st.num_spilled == 0 && st.used == 0);
    printf("pinned: a pinned object kept its bytes and address through 30 spills\n");
    return 0;
}

static int test_errors(lm_store *s)
{
    void *w;
    const void *p;
    size_t n;
    /* duplicate id, sealed or still being written */
    CHECK(put(s, 1, 100) == LUMEN_OK);
    CHECK(lm_store_create_object(s, oid(1), 100, 3, &w) == LUMEN_ERR_INVALID_ARG);
    CHECK(lm_store_create_object(s, oid(2), 100, 3, &w) == LUMEN_OK);
    CHECK(lm_store_create_object(s, oid(2), 100, 3, &w) == LUMEN_ERR_INVALID_ARG);
    CHECK(lm_store_pin(s, oid(2), &p, &n, NULL) == LUMEN_ERR_INVALID_REF); /* not sealed */
    CHECK(lm_store_abort(s, oid(2)) == LUMEN_OK);
    CHECK(lm_store_abort(s, oid(2)) == LUMEN_ERR_INVALID_REF);
    CHECK(lm_store_abort(s, oid(1)) == LUMEN_ERR_INVALID_ARG); /* sealed */
    CHECK(lm_store_seal(s, oid(1)) == LUMEN_ERR_INVALID_ARG);
    CHECK(lm_store_seal(s, oid(77)) == LUMEN_ERR_INVALID_REF);
    CHECK(put(s, 2, 100) == LUMEN_OK); /* id reusable after abort */
    /* sizes */
    CHECK(lm_store_create_object(s, oid(3), 8 * MiB + 1, 3, &w) == LUMEN_ERR_OUT_OF_RANGE);
    CHECK(lm_store_create_object(s, oid(3), SIZE_MAX, 3, &w) == LUMEN_ERR_OUT_OF_RANGE);
    CHECK(lm_store_create_object(s, oid(4), 0, 3, &w) == LUMEN_OK && w != NULL);
    CHECK(lm_store_seal(s, oid(4)) == LUMEN_OK);
    CHECK(lm_store_pin(s, oid(4), &p, &n, NULL) == LUMEN_OK && p != NULL && n == 0);
    CHECK(lm_store_unpin(s, oid(4)) == LUMEN_OK);
    /* unknown ids, unbalanced unpin */
    CHECK(lm_store_pin(s, oid(99), &p, &n, NULL) == LUMEN_ERR_INVALID_REF);
    CHECK(lm_store_unpin(s, oid(99)) == LUMEN_ERR_INVALID_REF);
    CHECK(lm_store_delete(s, oid(99)) == LUMEN_ERR_INVALID_REF);
    CHECK(lm_store_unpin(s, oid(1)) == LUMEN_ERR_INVALID_ARG);
    CHECK(lm_store_pin(NULL, oid(1), &p, &n, NULL) == LUMEN_ERR_INVALID_ARG);
    /* delete while pinned: gone for new pins, freed by the last unpin */
    CHECK(lm_store_pin(s, oid(1), &p, &n, NULL) == LUMEN_OK);
    CHECK(lm_store_delete(s, oid(1)) == LUMEN_OK);
    CHECK(lm_store_pin(s, oid(1), &p, &n, NULL) == LUMEN_ERR_INVALID_REF);
    CHECK(lm_store_delete(s, oid(1)) == LUMEN_ERR_INVALID_REF);
    CHECK(lm_store_unpin(s, oid(1)) == LUMEN_OK);
    CHECK(lm_store_unpin(s, oid(1)) == LUMEN_ERR_INVALID_REF);
    /* delete while being written: seal completes the delete */
    CHECK(lm_store_create_object(s, oid(5), 10, 3, &w) == LUMEN_OK);
    CHECK(lm_store_delete(s, oid(5)) == LUMEN_OK);
    CHECK(lm_store_seal(s, oid(5)) == LUMEN_OK);
    CHECK(lm_store_pin(s, oid(5), &p, &n, NULL) == LUMEN_ERR_INVALID_REF);
    CHECK(lm_store_delete(s, oid(2)) == LUMEN_OK);
    CHECK(lm_store_delete(s, oid(4)) == LUMEN_OK);

    /* store full when everything is pinned */
    uint64_t k = 100;
    lumen_status st;
    for (;; k++) {
        if ((st = put(s, k, MiB)) != LUMEN_OK)
            break;
        CHECK(lm_store_pin(s, oid(k), &p, &n, NULL) == LUMEN_OK);
    }
    CHECK(st == LUMEN_ERR_STORE_FULL);
    CHECK(k - 100 == 8); /* 8 MiB holds 8 objects of 1 MiB plus their tags */
    CHECK(lm_store_create_object(s, oid(k), 0, 3, &w) == LUMEN_OK); /* small still fits */
    CHECK(lm_store_abort(s, oid(k)) == LUMEN_OK);
    lm_store_stats stats;
    lm_store_get_stats(s, &stats);
    CHECK(stats.num_spilled == 0 && stats.num_objects == 8);
    /* one unpin makes room again, by spilling that object */
    CHECK(lm_store_unpin(s, oid(100)) == LUMEN_OK);
    CHECK(put(s, k, MiB) == LUMEN_OK);
    CHECK(spill_file_exists(oid(100)));
    for (uint64_t j = 101; j < k; j++)
        CHECK(lm_store_unpin(s, oid(j)) == LUMEN_OK);
    for (uint64_t j = 100; j <= k; j++)
        CHECK(lm_store_delete(s, oid(j)) == LUMEN_OK);
    lm_store_get_stats(s, &stats);
    CHECK(stats.num_objects == 0 && stats.num_spilled == 0 && stats.used == 0);
    printf("errors: every documented status comes back\n");
    return 0;
}

static int test_attach(lm_store *s)
{
    lm_store *s2;
    const void *p1, *p2;
    size_t n;
    CHECK(lm_store_attach(shm_name, spill_dir, &s2) == LUMEN_OK);
    CHECK(put(s, 500, 3 * MiB) == LUMEN_OK); /* through the first mapping */
    CHECK(lm_store_pin(s2, oid(500), &p2, &n, NULL) == LUMEN_OK);
    CHECK(lm_store_pin(s, oid(500), &p1, &n, NULL) == LUMEN_OK);
    CHECK(p1 != p2 && n == 3 * MiB); /* two mappings, one object */
    CHECK(intact(p2, 500, n));
    CHECK(put(s2, 501, 1000) == LUMEN_OK); /* and back */
    CHECK(lm_store_pin(s, oid(501), &p1, &n, NULL) == LUMEN_OK && intact(p1, 501, 1000));
    /* spill through one mapping, restore through the other */
    for (uint64_t k = 510; k < 520; k++)
        CHECK(put(s2, k, MiB) == LUMEN_OK);
    CHECK(spill_file_exists(oid(510)));
    CHECK(lm_store_pin(s, oid(510), &p1, &n, NULL) == LUMEN_OK && intact(p1, 510, MiB));
    CHECK(lm_store_unpin(s, oid(510)) == LUMEN_OK);
    CHECK(lm_store_unpin(s, oid(500)) == LUMEN_OK && lm_store_unpin(s2, oid(500)) == LUMEN_OK);
    CHECK(lm_store_unpin(s, oid(501)) == LUMEN_OK);
    for (uint64_t k = 500; k < 520; k++)
        if (k == 500 || k == 501 || k >= 510)
            CHECK(lm_store_delete(s2, oid(k)) == LUMEN_OK);
    lm_store_close(s2, 0);
    CHECK(lm_store_attach("/lumen-no-such-store-xyz", NULL, &s2) == LUMEN_ERR_IO);
    CHECK(lm_store_attach("bad/name", NULL, &s2) == LUMEN_ERR_INVALID_ARG);
    printf("attach: a second mapping sees and spills the same objects\n");
    return 0;
}

/* Runs before any other store exists: a prefault thread alive at fork() would
 * read as leaked to ThreadSanitizer in the child. */
static int test_processes(void)
{
    char name[64];
    snprintf(name, sizeof name, "/lumen-test-proc-%d", (int)getpid());
    lm_store_config cfg = {name, 8 * MiB, 0, 0, spill_dir};
    lm_store *s;
    CHECK(lm_store_create(&cfg, &s) == LUMEN_OK);
    fflush(stdout); /* the children must not flush our buffered lines again */
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) { /* another rank of the node */
        lm_store *c;
        int rc = lm_store_attach(name, spill_dir, &c) == LUMEN_OK && put(c, 600, 2 * MiB) == LUMEN_OK;
        lm_store_close(c, 0);
        _exit(rc ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const void *p;
    size_t n;
    CHECK(lm_store_pin(s, oid(600), &p, &n, NULL) == LUMEN_OK && n == 2 * MiB && intact(p, 600, n));
    CHECK(lm_store_unpin(s, oid(600)) == LUMEN_OK);

    /* a process dies holding the lock: the next caller recovers it */
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        lm_store *c;
        if (lm_store_attach(name, spill_dir, &c) != LUMEN_OK || lm_store_lock(c) != LUMEN_OK)
            _exit(1);
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(lm_store_delete(s, oid(600)) == LUMEN_OK);
    CHECK(put(s, 601, 10) == LUMEN_OK && lm_store_delete(s, oid(601)) == LUMEN_OK);
    lm_store_unlink_name(s);
    lm_store_close(s, 0);
    printf("processes: a forked writer's object is readable; a dead lock owner is recovered\n");
    return 0;
}

#define THREADS 4
#define THREAD_OPS 300

static lm_store *shared_store;

/* One thread's churn: its own ids, at most one pin and one object being
 * written at a time, so four threads never pin more than the store holds. */
static void *churn(void *arg)
{
    uint64_t base = 10000 + 1000 * (uint64_t)(uintptr_t)arg;
    lm_store *s = shared_store;
    for (uint64_t i = 0; i < THREAD_OPS; i++) {
        uint64_t k = base + i;
        size_t n = (size_t)(k * 7919 % (512 * 1024));
        if (put(s, k, n) != LUMEN_OK)
            return (void *)1;
        if (i >= 5) { /* read back and drop an older one, often spilled */
            uint64_t old = k - 5;
            const void *p;
            size_t m;
            if (lm_store_pin(s, oid(old), &p, &m, NULL) != LUMEN_OK || !intact(p, old, m) ||
                lm_store_unpin(s, oid(old)) != LUMEN_OK || lm_store_delete(s, oid(old)) != LUMEN_OK)
                return (void *)1;
        }
    }
    for (uint64_t k = base + THREAD_OPS - 5; k < base + THREAD_OPS; k++)
        if (lm_store_delete(s, oid(k)) != LUMEN_OK)
            return (void *)1;
    return NULL;
}

static int test_threads(lm_store *s)
{
    pthread_t t[THREADS];
    shared_store = s;
    for (uintptr_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, churn, (void *)i) == 0);
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        failed |= r != NULL;
    }
    CHECK(!failed);
    lm_store_stats st;
    lm_store_get_stats(s, &st);
    CHECK(st.num_objects == 0 && st.num_spilled == 0 && st.used == 0);
    printf("threads: %d threads x %d puts/pins/deletes with spilling, all intact\n", THREADS, THREAD_OPS);
    return 0;
}

static int test_directory(void)
{
    char name[64];
    snprintf(name, sizeof name, "/lumen-test-dir-%d", (int)getpid());
    lm_store_config cfg = {name, MiB, 16, 0, NULL}; /* no spilling */
    lm_store *s;
    void *w;
    CHECK(lm_store_create(&cfg, &s) == LUMEN_OK);
    lm_store_unlink_name(s);
    for (uint64_t k = 0; k < 16; k++)
        CHECK(put(s, k, 10) == LUMEN_OK);
    CHECK(lm_store_create_object(s, oid(16), 10, 3, &w) == LUMEN_ERR_STORE_FULL);
    /* churn: tombstones pile up and get purged; live objects stay findable */
    for (uint64_t k = 16; k < 20000; k++) {
        CHECK(lm_store_delete(s, oid(k - 16)) == LUMEN_OK);
        CHECK(put(s, k, k % 200) == LUMEN_OK);
        const void *p;
        size_t n;
        uint64_t probe = k - (k * 7919) % 16;
        CHECK(lm_store_pin(s, oid(probe), &p, &n, NULL) == LUMEN_OK && intact(p, probe, n));
        CHECK(lm_store_unpin(s, oid(probe)) == LUMEN_OK);
    }
    /* no spill folder: a full arena is STORE_FULL */
    for (uint64_t k = 19984; k < 20000; k++)
        CHECK(lm_store_delete(s, oid(k)) == LUMEN_OK);
    CHECK(put(s, 1, MiB / 2) == LUMEN_OK);
    CHECK(lm_store_create_object(s, oid(2), MiB / 2 + 4096, 3, &w) == LUMEN_ERR_STORE_FULL);
    CHECK(lm_store_create_object(s, oid(2), MiB, 3, &w) == LUMEN_ERR_STORE_FULL);
    CHECK(lm_store_delete(s, oid(1)) == LUMEN_OK);
    CHECK(lm_store_create_object(s, oid(2), MiB, 3, &w) == LUMEN_OK); /* exactly capacity */
    lm_store_close(s, 1);
    printf("directory: limit, 20k-object churn through 16 slots' worth, no-spill full\n");
    return 0;
}

static double ms_between(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static int test_prefault_stop(void)
{
    char name[64];
    snprintf(name, sizeof name, "/lumen-test-prefault-%d", (int)getpid());
    lm_store_config cfg = {name, (size_t)2 << 30, 0, (size_t)2 << 30, NULL};
    lm_store *s;
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(lm_store_create(&cfg, &s) == LUMEN_OK);
    lm_store_unlink_name(s);
    void *w;
    CHECK(lm_store_create_object(s, oid(1), 64 * MiB, 3, &w) == LUMEN_OK);
    fill(w, 1, 64 * MiB); /* writes race the prefault thread: it must not clobber them */
    CHECK(lm_store_seal(s, oid(1)) == LUMEN_OK);
    usleep(200 * 1000);
    const void *p;
    size_t n;
    CHECK(lm_store_pin(s, oid(1), &p, &n, NULL) == LUMEN_OK && intact(p, 1, n));
    CHECK(lm_store_unpin(s, oid(1)) == LUMEN_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    lm_store_close(s, 0); /* stops the populate between 64 MiB chunks */
    clock_gettime(CLOCK_MONOTONIC, &t2);
    printf("prefault: 2 GiB store used for %.0f ms, close took %.1f ms\n", ms_between(t0, t1),
           ms_between(t1, t2));
    return 0;
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lumen-spill-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(spill_dir, sizeof spill_dir, "%s/job/node0", tmpdir); /* mkdir -p */
    snprintf(shm_name, sizeof shm_name, "/lumen-test-spill-%d", (int)getpid());

    int rc = test_processes(); /* first: fork before any prefault thread exists */
    lm_store_config cfg = config(8 * MiB);
    lm_store *s = NULL;
    if (lm_store_create(&cfg, &s) != LUMEN_OK) {
        fprintf(stderr, "lm_store_create: %s\n", lumen_last_error());
        return 1;
    }
    lm_store *dup;
    if (lm_store_create(&cfg, &dup) != LUMEN_ERR_IO) { /* name taken */
        fprintf(stderr, "second lm_store_create with the same name did not fail\n");
        rc = 1;
    }
    rc |= test_spill_roundtrip(s);
    rc |= test_pinned_stays(s);
    rc |= test_errors(s);
    rc |= test_attach(s);
    rc |= test_threads(s);

    /* close with remove_spill: files and folder go */
    if (!rc && (put(s, 700, 6 * MiB) || put(s, 701, 6 * MiB) || !spill_file_exists(oid(700)))) {
        fprintf(stderr, "could not leave a spilled object behind: %s\n", lumen_last_error());
        rc = 1;
    }
    lm_store_unlink_name(s);
    lm_store_close(s, 1);
    struct stat sb;
    if (stat(spill_dir, &sb) == 0 || errno != ENOENT) {
        fprintf(stderr, "spill folder %s still exists after close(remove_spill)\n", spill_dir);
        rc = 1;
    }
    if (shm_unlink(shm_name) == 0 || errno != ENOENT) {
        fprintf(stderr, "shm name %s survived lm_store_unlink_name\n", shm_name);
        rc = 1;
    }
    rc |= test_directory();
    rc |= test_prefault_stop();

    /* names a failed check may have left behind */
    const char *prefixes[] = {"/lumen-test-proc-", "/lumen-test-dir-", "/lumen-test-prefault-"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%d", prefixes[i], (int)getpid());
        shm_unlink(name);
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/job", tmpdir);
    rmdir(path);
    if (rmdir(tmpdir) != 0) {
        fprintf(stderr, "rmdir(%s): %s\n", tmpdir, strerror(errno));
        rc = 1;
    }
    if (rc)
        fprintf(stderr, "test_store_spill: FAILED\n");
    else
        printf("test_store_spill: ok\n");
    return rc;
}
