/*
 * store_int.h - the object store's shared-memory layout and the helpers its
 * files share (store.c, directory.c, spill.c, prefault.c). Private to
 * src/store and its unit tests; the contract is store.h.
 *
 * Segment layout (every part starts on a page boundary):
 *   [lm_store_hdr][directory: nslots x lm_dir_entry][arena region]
 * Nothing in the segment is a pointer: each process adds its own base.
 */
#ifndef LUMEN_STORE_STORE_INT_H
#define LUMEN_STORE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "store/store.h"

#define LM_STORE_MAGIC 0x4f54536e656d756cull /* "lumenSTO" */
#define LM_STORE_VERSION 1u
#define LM_STORE_DEFAULT_OBJECTS 65536u
#define LM_STORE_NAME_MAX 255    /* NAME_MAX, for shm names */
#define LM_SPILL_PATH_MAX 4096   /* PATH_MAX; fixed so the layout is too */

/* Directory slot states. */
enum {
    LM_SLOT_EMPTY = 0,
    LM_SLOT_TOMBSTONE = 1,
    LM_OBJ_CREATING = 2, /* being written, invisible to pin */
    LM_OBJ_SEALED = 3,   /* in the arena */
    LM_OBJ_SPILLED = 4   /* in its spill file */
};

typedef struct lm_dir_entry {
    uint64_t hi, lo;   /* the object id */
    uint64_t off;      /* arena offset of the data, 0 when spilled */
    uint64_t size;     /* bytes of data */
    uint64_t last_use; /* store clock at the last pin or seal: LRU order */
    uint32_t pins;
    uint8_t state;
    uint8_t type;
    uint8_t delete_pending; /* deleted while pinned: goes with the last unpin */
    uint8_t reserved;
} lm_dir_entry;

typedef struct lm_store_hdr {
    uint64_t magic; /* written last by the creator, with release order */
    uint32_t version;
    uint32_t hdr_size;
    uint64_t segment_size;
    uint64_t capacity;    /* bytes promised to objects (cfg->capacity) */
    uint64_t max_objects; /* live entries allowed (in memory or spilled) */
    uint64_t nslots;      /* directory slots, a power of two >= 2 * max_objects */
    uint64_t dir_off, arena_off, arena_size;
    /* under lock */
    uint64_t nlive, ntomb;
    uint64_t num_objects, num_spilled, spilled_bytes, restored;
    uint64_t clock;
    uint64_t broken; /* a process died holding the lock mid-update */
    pthread_mutex_t lock; /* process-shared, robust */
    char spill_dir[LM_SPILL_PATH_MAX]; /* the creator's spill folder, "" for none */
} lm_store_hdr;

struct lm_store {
    void *base; /* the mapping */
    size_t map_size;
    lm_store_hdr *hdr;
    lm_dir_entry *dir;
    void *arena;
    char name[LM_STORE_NAME_MAX + 1];
    char *spill_dir; /* this process's spill folder, NULL: no spilling */
    int creator;
    int unlinked;
    /* prefault thread (creator only) */
    pthread_t prefault_thread;
    int prefault_running;
    size_t prefault_len;
    atomic_int prefault_stop;
};

static inline lm_oid lm_entry_oid(const lm_dir_entry *e) { return (lm_oid){e->hi, e->lo}; }
static inline void *lm_entry_data(lm_store *s, const lm_dir_entry *e)
{
    return (char *)s->arena + e->off;
}

/* directory.c: every call under the store lock. */
lm_dir_entry *lm_dir_find(lm_store *s, lm_oid id);
/* Make sure one lm_dir_insert will succeed (may rehash to drop tombstones,
 * which moves entries: hold no entry pointer across it). */
lumen_status lm_dir_reserve(lm_store *s);
lm_dir_entry *lm_dir_insert(lm_store *s, lm_oid id);
void lm_dir_remove(lm_store *s, lm_dir_entry *e);

/* spill.c: under the store lock; neither call moves directory entries. */
/* Allocate size bytes in the arena, spilling LRU objects until it fits. */
lumen_status lm_spill_alloc(lm_store *s, size_t size, uint64_t *off);
/* Read a SPILLED object back into the arena (state SEALED, unpinned). */
lumen_status lm_spill_restore(lm_store *s, lm_dir_entry *e);
/* Remove the spill file of a SPILLED entry. */
void lm_spill_unlink(lm_store *s, const lm_dir_entry *e);
/* Drop every spilled object of the store, then rmdir the spill folder. */
void lm_spill_remove_all(lm_store *s);

/* prefault.c: best effort, failures only mean slower first puts. */
void lm_prefault_start(lm_store *s, size_t len);
void lm_prefault_stop(lm_store *s);

/* store.c */
lumen_status lm_store_lock(lm_store *s);
void lm_store_unlock(lm_store *s);

#endif
