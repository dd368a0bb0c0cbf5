/*
 * store.h - the per-node shared-memory object store (private interface).
 *
 * One store exists per lumen "node": a POSIX shared-memory segment that every
 * rank of the node maps at its own address. The segment holds
 *   - a header (magic, version, capacity, a process-shared robust mutex),
 *   - an object directory: a fixed-size open-addressing hash table keyed by
 *     the 128-bit object id, shared by all ranks of the node,
 *   - the data arena, managed by the allocator in arena.c.
 * Objects that do not fit are spilled to files in a per-job spill folder and
 * restored transparently when pinned again.
 *
 * This header owns the store's contract; it knows nothing about MPI, tasks or
 * ownership (the runtime decides when an object is deleted). Every function
 * takes the node-wide lock internally; none blocks on anything but that lock
 * and local file I/O.
 */
#ifndef LUMEN_STORE_STORE_H
#define LUMEN_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lumen.h"

typedef struct lm_store lm_store;

/* 128-bit object id, same layout as lumen_ref. */
typedef struct lm_oid {
    uint64_t hi, lo;
} lm_oid;

typedef struct lm_store_config {
    const char *name;       /* shm name, e.g. "/lumen-<job>-<node>" */
    size_t capacity;        /* bytes of the data arena */
    size_t max_objects;     /* directory slots (0: default 65536) */
    size_t prefault;        /* bytes at the arena start to fault in a background
                               thread after creation (0: none) */
    const char *spill_dir;  /* folder for spilled objects (created if missing) */
} lm_store_config;

/* Creator (node leader): creates and initialises the segment. */
lumen_status lm_store_create(const lm_store_config *cfg, lm_store **out);
/* Other ranks of the node: map an existing segment by name. */
lumen_status lm_store_attach(const char *name, const char *spill_dir, lm_store **out);
/* Remove the shm name (after every rank attached); mapping stays valid. */
void lm_store_unlink_name(lm_store *s);
/* Unmap; the creator also waits for the prefault thread. If remove_spill is
 * set, every spill file and the spill folder are removed. */
void lm_store_close(lm_store *s, int remove_spill);

/* Reserve space for a new object and return a writable pointer. The object is
 * CREATING (invisible to pin) until sealed. When the arena is full, sealed
 * unpinned objects are spilled to disk until the allocation fits.
 * Errors: LUMEN_ERR_OUT_OF_RANGE (size > capacity), LUMEN_ERR_STORE_FULL
 * (nothing more can be spilled), LUMEN_ERR_INVALID_ARG (id already present),
 * LUMEN_ERR_IO. size may be 0. */
lumen_status lm_store_create_object(lm_store *s, lm_oid id, size_t size, uint8_t type, void **data);
lumen_status lm_store_seal(lm_store *s, lm_oid id);
/* Drop a CREATING object (failed writer). */
lumen_status lm_store_abort(lm_store *s, lm_oid id);

/* Pin a sealed object and return a read-only pointer to it; restores it from
 * disk first if it was spilled. A pinned object is never spilled or moved.
 * Pins are counted: every pin needs one unpin. Errors: LUMEN_ERR_INVALID_REF
 * (not present / not sealed). */
lumen_status lm_store_pin(lm_store *s, lm_oid id, const void **data, size_t *size, uint8_t *type);
lumen_status lm_store_unpin(lm_store *s, lm_oid id);

/* Remove an object (its block or its spill file). Pinned objects are removed
 * once their last pin goes (delete is remembered). */
lumen_status lm_store_delete(lm_store *s, lm_oid id);

/* The whole mapping of this process (header, directory, arena): what a
 * transport registers for RMA. Every object pointer lies inside it. */
void lm_store_region(lm_store *s, void **base, size_t *len);

/* Introspection for tests, benchmarks and state listings. */
typedef struct lm_store_stats {
    size_t capacity, used, num_objects, num_spilled, spilled_bytes, restored;
} lm_store_stats;
void lm_store_get_stats(lm_store *s, lm_store_stats *st);

/* ---- arena allocator (arena.c), usable on any memory region ----------------
 * Address-ordered first-fit with boundary tags and coalescing. All offsets are
 * relative to the region base so the arena works at different addresses in
 * different processes. Not thread-safe: the caller holds the store lock. */
typedef struct lm_arena lm_arena; /* lives inside the region it manages */
#define LM_ARENA_ALIGN 64
size_t lm_arena_overhead(void);                        /* bytes of lm_arena header */
lumen_status lm_arena_init(void *region, size_t size); /* region starts with lm_arena */
/* returns offset from region base of usable memory, or 0 when it does not fit */
uint64_t lm_arena_alloc(void *region, size_t size);
void lm_arena_free(void *region, uint64_t off);
size_t lm_arena_used(void *region);      /* bytes handed out incl. block headers */
size_t lm_arena_largest_free(void *region);
int lm_arena_check(void *region);        /* 0 if consistent: for unit tests */

#endif
