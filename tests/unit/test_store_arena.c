/*
 * test_store_arena.c - unit test of the store's arena allocator (arena.c) on
 * a malloc'd region: 100k seeded random alloc/free steps checked with
 * lm_arena_check after each one, byte patterns proving live blocks never
 * overlap, full coalescing at the end, alignment, size 0, out of space,
 * largest_free, address-ordered first fit, and moving the region to another
 * address mid-run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                      \
    do {                                                                              \
        if (!(c)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__,   \
                    __LINE__, #c, lumen_last_error());                               \
            return 1;                                                                 \
        }                                                                             \
    } while (0)

#define REGION_SIZE ((size_t)16 << 20)
#define MAX_LIVE 2048
#define NUM_OPS 100000

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

typedef struct live {
    uint64_t off;
    size_t size;
    uint8_t seed;
} live;

/* Each live block is filled with its own byte: a block that overlapped another
 * would show the other's byte. memset/memcmp keep 100k steps fast under ASan. */
static void fill(uint8_t *region, const live *l) { memset(region + l->off, l->seed, l->size); }

static int intact(const uint8_t *region, const live *l)
{
    static uint8_t ref[65536];
    memset(ref, l->seed, sizeof ref);
    for (size_t i = 0; i < l->size; i += sizeof ref) {
        size_t n = l->size - i < sizeof ref ? l->size - i : sizeof ref;
        if (memcmp(region + l->off + i, ref, n) != 0)
            return 0;
    }
    return 1;
}

static size_t random_size(void)
{
    switch (rnd() % 10) {
    case 0: return 0;
    case 1: case 2: case 3: case 4: return rnd() % 256;
    case 5: case 6: case 7: return rnd() % 65536;
    case 8: return rnd() % (256u << 10);
    default: return rnd() % (2u << 20);
    }
}

static int test_random_ops(void)
{
    uint8_t *region = aligned_alloc(4096, REGION_SIZE);
    uint8_t *moved = aligned_alloc(4096, REGION_SIZE);
    live *lv = calloc(MAX_LIVE, sizeof *lv);
    CHECK(region && moved && lv);
    CHECK(lm_arena_init(region, REGION_SIZE) == LUMEN_OK);
    CHECK(lm_arena_check(region) == 0);
    size_t empty_largest = lm_arena_largest_free(region);
    CHECK(empty_largest >= REGION_SIZE - 4096);
    CHECK(lm_arena_used(region) == 0);

    rng_state = 0x2545f4914f6cdd1dull;
    size_t n = 0, allocs = 0, failures = 0;
    for (int op = 0; op < NUM_OPS; op++) {
        int do_alloc = n == 0 || (n < MAX_LIVE && rnd() % 100 < 55);
        if (do_alloc) {
            size_t size = random_size();
            size_t largest = lm_arena_largest_free(region);
            uint64_t off = lm_arena_alloc(region, size);
            if (!off) {
                CHECK(largest < size); /* it fails only when no block fits */
                failures++;
            } else {
                CHECK(off % LM_ARENA_ALIGN == 0);
                CHECK(off >= lm_arena_overhead() && off + size <= REGION_SIZE);
                lv[n] = (live){off, size, (uint8_t)(1 + rnd() % 255)};
                fill(region, &lv[n]);
                n++;
                allocs++;
            }
        } else {
            size_t k = rnd() % n;
            CHECK(intact(region, &lv[k]));
            lm_arena_free(region, lv[k].off);
            lv[k] = lv[--n];
        }
        int rc = lm_arena_check(region);
        if (rc)
            fprintf(stderr, "op %d: lm_arena_check = %d\n", op, rc);
        CHECK(rc == 0);
        size_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += lv[i].size;
        CHECK(lm_arena_used(region) >= sum);
        if (op % 5000 == 0)
            for (size_t i = 0; i < n; i++)
                CHECK(intact(region, &lv[i]));
        if (op == NUM_OPS / 2) { /* the arena holds only offsets: it may move */
            memcpy(moved, region, REGION_SIZE);
            memset(region, 0xdd, REGION_SIZE);
            uint8_t *t = region;
            region = moved;
            moved = t;
            CHECK(lm_arena_check(region) == 0);
        }
    }
    CHECK(allocs > NUM_OPS / 3);
    CHECK(failures > 0); /* the run did reach out-of-space */
    for (size_t i = 0; i < n; i++)
        CHECK(intact(region, &lv[i]));
    /* free in random order; everything must coalesce back to one block */
    while (n) {
        size_t k = rnd() % n;
        lm_arena_free(region, lv[k].off);
        lv[k] = lv[--n];
        CHECK(lm_arena_check(region) == 0);
    }
    CHECK(lm_arena_used(region) == 0);
    CHECK(lm_arena_largest_free(region) == empty_largest);
    printf("random ops: %zu allocations, %zu out-of-space, back to one free block\n", allocs, failures);
    free(region);
    free(moved);
    free(lv);
    return 0;
}

static int test_edges(void)
{
    size_t size = 1 << 20;
    uint8_t *region = aligned_alloc(4096, size);
    CHECK(region);
    memset(region, 0, size); /* stray-free checks below read old payload */
    CHECK(lm_arena_init(NULL, size) == LUMEN_ERR_INVALID_ARG);
    CHECK(lm_arena_init(region + 1, size - 1) == LUMEN_ERR_INVALID_ARG); /* misaligned */
    CHECK(lm_arena_init(region, 64) != LUMEN_OK);                        /* too small */
    CHECK(lm_arena_init(region, size) == LUMEN_OK);
    size_t largest = lm_arena_largest_free(region);
    CHECK(largest > size - 512 && largest < size);

    /* size 0: valid, distinct, aligned blocks */
    uint64_t z1 = lm_arena_alloc(region, 0), z2 = lm_arena_alloc(region, 0);
    CHECK(z1 && z2 && z1 != z2);
    CHECK(z1 % LM_ARENA_ALIGN == 0 && z2 % LM_ARENA_ALIGN == 0);
    CHECK(lm_arena_used(region) > 0);
    lm_arena_free(region, z1);
    lm_arena_free(region, z2);
    CHECK(lm_arena_check(region) == 0 && lm_arena_used(region) == 0);

    /* out of space and largest_free agree exactly */
    CHECK(lm_arena_alloc(region, largest + 1) == 0);
    CHECK(lm_arena_alloc(region, SIZE_MAX) == 0);
    CHECK(lm_arena_alloc(region, SIZE_MAX - 8) == 0);
    uint64_t all = lm_arena_alloc(region, largest);
    CHECK(all != 0);
    CHECK(lm_arena_largest_free(region) == 0);
    CHECK(lm_arena_alloc(region, 0) == 0);
    CHECK(lm_arena_check(region) == 0);
    lm_arena_free(region, all);
    CHECK(lm_arena_largest_free(region) == largest);

    /* address-ordered first fit: the lowest hole that fits wins */
    uint64_t a = lm_arena_alloc(region, 1000), b = lm_arena_alloc(region, 5000);
    uint64_t c = lm_arena_alloc(region, 1000), d = lm_arena_alloc(region, 5000);
    uint64_t e = lm_arena_alloc(region, 100);
    CHECK(a && b && c && d && e && a < b && b < c && c < d && d < e);
    lm_arena_free(region, d);
    lm_arena_free(region, b);
    CHECK(lm_arena_check(region) == 0);
    uint64_t f = lm_arena_alloc(region, 4000);
    CHECK(f == b); /* b's hole, not d's */
    uint64_t g = lm_arena_alloc(region, 4000);
    CHECK(g == d);
    uint64_t h = lm_arena_alloc(region, 2000);
    CHECK(h > e); /* the holes left below e are too small */

    /* coalescing with both neighbours */
    lm_arena_free(region, f);
    lm_arena_free(region, a);
    lm_arena_free(region, c); /* joins a..f..c into one block */
    CHECK(lm_arena_check(region) == 0);
    uint64_t big = lm_arena_alloc(region, 1000 + 5000 + 1000);
    CHECK(big == a);
    lm_arena_free(region, big);
    lm_arena_free(region, g);
    lm_arena_free(region, e);
    lm_arena_free(region, h);
    CHECK(lm_arena_check(region) == 0);
    CHECK(lm_arena_used(region) == 0 && lm_arena_largest_free(region) == largest);

    /* the check notices a damaged boundary tag */
    uint64_t x = lm_arena_alloc(region, 128);
    uint64_t *tag = (uint64_t *)(region + x - 8);
    *tag += LM_ARENA_ALIGN;
    CHECK(lm_arena_check(region) != 0);
    *tag -= LM_ARENA_ALIGN;
    CHECK(lm_arena_check(region) == 0);

    /* stray and double frees are ignored */
    lm_arena_free(region, x);
    lm_arena_free(region, x);
    lm_arena_free(region, x + 64);
    lm_arena_free(region, 0);
    lm_arena_free(region, size * 2);
    CHECK(lm_arena_check(region) == 0 && lm_arena_largest_free(region) == largest);
    free(region);
    printf("edges: size 0, out of space, first fit, coalescing, stray frees\n");
    return 0;
}

int main(void)
{
    int rc = test_edges();
    rc |= test_random_ops();
    if (rc)
        fprintf(stderr, "test_store_arena: FAILED\n");
    else
        printf("test_store_arena: ok\n");
    return rc;
}
