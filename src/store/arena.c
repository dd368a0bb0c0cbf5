/*
 * arena.c - the object store's data allocator (declared at the end of store.h).
 *
 * Owns: block layout, the free-block index, coalescing and the consistency
 * check. Does not own locking (the store's mutex covers every call), spilling
 * or anything about objects.
 *
 * The allocator lives inside the region it manages and stores only offsets
 * from the region base, so every process can map the region anywhere.
 *
 *   [lm_arena][pad][blk|payload...][blk|payload...]...[sentinel blk]
 *
 * Every block starts with a 16-byte boundary tag {prev_size, size|USED}. The
 * size of the previous block sits in each header (dlmalloc's prev_size), so a
 * free can reach both neighbours in O(1). Blocks are multiples of 64 bytes and
 * start 16 bytes before a 64-byte boundary, so every payload offset is
 * 64-aligned. The last header is a used sentinel of size 0.
 *
 * Free blocks are indexed by a treap keyed by offset, stored in the free
 * blocks themselves and augmented with the largest block size of each subtree.
 * That gives true address-ordered first fit (the lowest-addressed block that
 * fits) in O(log n): the start of the arena, which the store prefaults, is
 * always reused first. Treap priorities are a hash of the offset, so the
 * structure needs no random state and is the same in every process.
 */
#include "store/store.h"

#include "common/error.h"

#include <stdint.h>
#include <string.h>

#define ARENA_MAGIC 0x316e6572416d6c00ull /* "\0lmAren1" */
#define HDR ((uint64_t)16)                /* boundary tag */
#define MIN_BLOCK ((uint64_t)LM_ARENA_ALIGN)
#define F_USED ((uint64_t)1)
#define SIZE_MASK (~(uint64_t)(LM_ARENA_ALIGN - 1))
#define CHECK_MAX_DEPTH 512 /* a sane treap of 2^64 nodes is far shallower */

struct lm_arena {
    uint64_t magic;
    uint64_t region_size;
    uint64_t first; /* offset of the first block's header */
    uint64_t end;   /* offset of the sentinel header */
    uint64_t used;  /* bytes of used blocks, headers included */
    uint64_t root;  /* treap of free blocks, 0 if none */
    uint64_t nfree; /* number of free blocks */
    uint64_t reserved;
};

typedef struct blk {
    uint64_t prev_size; /* size of the block below, 0 for the first */
    uint64_t size_flags;
} blk;

/* Treap node, in the payload of a free block. */
typedef struct fnode {
    uint64_t left, right; /* block offsets, 0 for none */
    uint64_t max;         /* largest block size in this subtree */
} fnode;

_Static_assert(sizeof(struct lm_arena) == 64, "lm_arena header is one cache line");
_Static_assert(HDR + sizeof(fnode) <= MIN_BLOCK, "a free block holds its tree node");

static inline blk *B(void *r, uint64_t off) { return (blk *)((char *)r + off); }
static inline fnode *N(void *r, uint64_t off) { return (fnode *)((char *)r + off + HDR); }
static inline uint64_t bsize(const blk *b) { return b->size_flags & SIZE_MASK; }
static inline int bused(const blk *b) { return (int)(b->size_flags & F_USED); }

/* splitmix64 finaliser: a bijection, so distinct offsets never tie. */
static uint64_t prio(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t tmax(void *r, uint64_t t) { return t ? N(r, t)->max : 0; }

static void pull(void *r, uint64_t t)
{
    fnode *n = N(r, t);
    uint64_t m = bsize(B(r, t));
    uint64_t l = tmax(r, n->left), g = tmax(r, n->right);
    if (l > m)
        m = l;
    if (g > m)
        m = g;
    n->max = m;
}

/* Split t into keys < key (*lo) and keys >= key (*hi). */
static void split(void *r, uint64_t t, uint64_t key, uint64_t *lo, uint64_t *hi)
{
    if (!t) {
        *lo = *hi = 0;
        return;
    }
    fnode *n = N(r, t);
    if (t < key) {
        split(r, n->right, key, &n->right, hi);
        *lo = t;
    } else {
        split(r, n->left, key, lo, &n->left);
        *hi = t;
    }
    pull(r, t);
}

/* Every key of a is below every key of b. */
static uint64_t merge(void *r, uint64_t a, uint64_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (prio(a) > prio(b)) {
        N(r, a)->right = merge(r, N(r, a)->right, b);
        pull(r, a);
        return a;
    }
    N(r, b)->left = merge(r, a, N(r, b)->left);
    pull(r, b);
    return b;
}

static void tree_insert(void *r, uint64_t t)
{
    struct lm_arena *a = r;
    fnode *n = N(r, t);
    uint64_t lo, hi;
    n->left = n->right = 0;
    n->max = bsize(B(r, t));
    split(r, a->root, t, &lo, &hi);
    a->root = merge(r, merge(r, lo, t), hi);
}

static uint64_t tree_remove(void *r, uint64_t t, uint64_t key)
{
    if (!t)
        return 0;
    fnode *n = N(r, t);
    if (t == key)
        return merge(r, n->left, n->right);
    if (key < t)
        n->left = tree_remove(r, n->left, key);
    else
        n->right = tree_remove(r, n->right, key);
    pull(r, t);
    return t;
}

/* The block at key changed size in place: refresh the maxima above it. */
static void tree_refresh(void *r, uint64_t t, uint64_t key)
{
    if (!t)
        return;
    if (key < t)
        tree_refresh(r, N(r, t)->left, key);
    else if (key > t)
        tree_refresh(r, N(r, t)->right, key);
    pull(r, t);
}

/* Lowest-addressed free block of at least need bytes, 0 if none. */
static uint64_t find_first(void *r, uint64_t t, uint64_t need)
{
    while (t) {
        fnode *n = N(r, t);
        if (n->left && tmax(r, n->left) >= need)
            t = n->left;
        else if (bsize(B(r, t)) >= need)
            return t;
        else if (n->right && tmax(r, n->right) >= need)
            t = n->right;
        else
            return 0;
    }
    return 0;
}

size_t lm_arena_overhead(void) { return sizeof(struct lm_arena); }

lumen_status lm_arena_init(void *region, size_t size)
{
    if (!region)
        return lm_error(LUMEN_ERR_INVALID_ARG, "arena region is NULL");
    if ((uintptr_t)region % 8)
        return lm_error(LUMEN_ERR_INVALID_ARG, "arena region %p is not 8-byte aligned", region);
    /* first payload at the first 64-byte boundary after header + tag */
    uint64_t first = ((sizeof(struct lm_arena) + HDR + LM_ARENA_ALIGN - 1) & SIZE_MASK) - HDR;
    if (size < first + MIN_BLOCK + HDR)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "arena region of %zu bytes is too small (minimum %llu)",
                        size, (unsigned long long)(first + MIN_BLOCK + HDR));
    uint64_t blocks = ((uint64_t)size - HDR - first) & SIZE_MASK;
    struct lm_arena *a = region;
    memset(a, 0, sizeof *a);
    a->region_size = size;
    a->first = first;
    a->end = first + blocks;
    blk *b = B(region, first);
    b->prev_size = 0;
    b->size_flags = blocks;
    blk *sentinel = B(region, a->end);
    sentinel->prev_size = blocks;
    sentinel->size_flags = F_USED;
    tree_insert(region, first);
    a->nfree = 1;
    a->magic = ARENA_MAGIC;
    return LUMEN_OK;
}

uint64_t lm_arena_alloc(void *region, size_t size)
{
    struct lm_arena *a = region;
    if (!a || a->magic != ARENA_MAGIC || size > a->region_size)
        return 0;
    uint64_t need = ((uint64_t)size + HDR + LM_ARENA_ALIGN - 1) & SIZE_MASK;
    if (need < MIN_BLOCK)
        need = MIN_BLOCK;
    uint64_t t = find_first(region, a->root, need);
    if (!t)
        return 0;
    blk *b = B(region, t);
    uint64_t bs = bsize(b);
    a->root = tree_remove(region, a->root, t);
    if (bs > need) { /* both multiples of 64: the rest is a whole block */
        uint64_t rest = t + need;
        blk *rb = B(region, rest);
        rb->prev_size = need;
        rb->size_flags = bs - need;
        B(region, t + bs)->prev_size = bs - need;
        tree_insert(region, rest);
        bs = need;
    } else {
        a->nfree--;
    }
    b->size_flags = bs | F_USED;
    a->used += bs;
    return t + HDR;
}

/* A payload offset that heads a used block (guards against stray frees). */
static int valid_used_block(void *region, uint64_t off)
{
    struct lm_arena *a = region;
    if (off < a->first + HDR || off >= a->end || (off - HDR - a->first) % LM_ARENA_ALIGN)
        return 0;
    blk *b = B(region, off - HDR);
    uint64_t sz = bsize(b);
    if (!bused(b) || sz < MIN_BLOCK || sz > a->end - (off - HDR))
        return 0;
    return B(region, off - HDR + sz)->prev_size == sz;
}

void lm_arena_free(void *region, uint64_t off)
{
    struct lm_arena *a = region;
    if (!a || a->magic != ARENA_MAGIC || !valid_used_block(region, off))
        return;
    uint64_t t = off - HDR;
    blk *b = B(region, t);
    uint64_t sz = bsize(b);
    a->used -= sz;

    blk *nb = B(region, t + sz);
    if (!bused(nb)) { /* absorb the next block */
        a->root = tree_remove(region, a->root, t + sz);
        a->nfree--;
        sz += bsize(nb);
        nb->size_flags = 0; /* stale tag: now payload */
    }
    if (b->prev_size) {
        uint64_t pv = t - b->prev_size;
        blk *pb = B(region, pv);
        if (!bused(pb)) { /* grow the previous block: its key stays */
            sz += bsize(pb);
            pb->size_flags = sz;
            B(region, pv + sz)->prev_size = sz;
            b->size_flags = 0;
            tree_refresh(region, a->root, pv);
            return;
        }
    }
    b->size_flags = sz;
    B(region, t + sz)->prev_size = sz;
    tree_insert(region, t);
    a->nfree++;
}

size_t lm_arena_used(void *region)
{
    struct lm_arena *a = region;
    return a && a->magic == ARENA_MAGIC ? (size_t)a->used : 0;
}

size_t lm_arena_largest_free(void *region)
{
    struct lm_arena *a = region;
    if (!a || a->magic != ARENA_MAGIC || !a->root)
        return 0;
    return (size_t)(N(region, a->root)->max - HDR);
}

/* ---- consistency check ---------------------------------------------------- */

typedef struct check_state {
    uint64_t cursor; /* next block of the address walk */
    uint64_t nodes;
} check_state;

/* The next free block at or after st->cursor in address order, 0 if none. */
static uint64_t next_free_block(void *r, check_state *st)
{
    struct lm_arena *a = r;
    while (st->cursor < a->end) {
        blk *b = B(r, st->cursor);
        if (!bused(b))
            return st->cursor;
        st->cursor += bsize(b);
    }
    return 0;
}

/* In-order walk of the treap, matched one-to-one against the free blocks of
 * the address walk. Returns 0 or a nonzero code naming the broken rule. */
static int check_tree(void *r, uint64_t t, uint64_t lo, uint64_t hi, uint64_t parent_prio, int depth,
                      check_state *st)
{
    struct lm_arena *a = r;
    if (!t)
        return 0;
    if (depth > CHECK_MAX_DEPTH)
        return 20;
    if (t <= lo || t >= hi || t < a->first || t >= a->end || (t - a->first) % LM_ARENA_ALIGN)
        return 21; /* out of order or not a block offset */
    if (prio(t) > parent_prio)
        return 22; /* heap order */
    fnode *n = N(r, t);
    int rc = check_tree(r, n->left, lo, t, prio(t), depth + 1, st);
    if (rc)
        return rc;
    if (next_free_block(r, st) != t)
        return 23; /* tree and block list disagree */
    blk *b = B(r, t);
    st->cursor += bsize(b);
    st->nodes++;
    uint64_t m = bsize(b);
    if (tmax(r, n->left) > m)
        m = tmax(r, n->left);
    if (tmax(r, n->right) > m)
        m = tmax(r, n->right);
    rc = check_tree(r, n->right, t, hi, prio(t), depth + 1, st);
    if (rc)
        return rc;
    return n->max == m ? 0 : 24; /* augmentation */
}

int lm_arena_check(void *region)
{
    struct lm_arena *a = region;
    if (!a)
        return 1;
    if (a->magic != ARENA_MAGIC)
        return 2;
    if (a->end > a->region_size || a->end + HDR > a->region_size || (a->first + HDR) % LM_ARENA_ALIGN)
        return 3;
    uint64_t off = a->first, prev = 0, used = 0, nfree = 0;
    int prev_free = 0;
    while (off < a->end) {
        blk *b = B(region, off);
        uint64_t sz = bsize(b);
        if (sz < MIN_BLOCK || sz > a->end - off)
            return 4; /* bad size */
        if (b->prev_size != prev)
            return 5; /* boundary tags disagree */
        if (b->size_flags & ~(SIZE_MASK | F_USED))
            return 6;
        if (bused(b)) {
            used += sz;
            prev_free = 0;
        } else {
            if (prev_free)
                return 7; /* two free neighbours: missed coalescing */
            nfree++;
            prev_free = 1;
        }
        prev = sz;
        off += sz;
    }
    if (off != a->end)
        return 8;
    blk *sentinel = B(region, a->end);
    if (sentinel->prev_size != prev || sentinel->size_flags != F_USED)
        return 9;
    if (used != a->used)
        return 10;
    if (nfree != a->nfree)
        return 11;
    check_state st = {a->first, 0};
    int rc = check_tree(region, a->root, 0, UINT64_MAX, UINT64_MAX, 0, &st);
    if (rc)
        return rc;
    if (st.nodes != nfree || next_free_block(region, &st) != 0)
        return 12; /* a free block is missing from the tree */
    return 0;
}
