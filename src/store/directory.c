/*
 * directory.c - the store's object directory: an open-addressing hash table
 * in shared memory keyed by the 128-bit object id, with linear probing and
 * tombstones.
 *
 * Owns: hashing, probing, insertion, removal and the tombstone purge. Does not
 * own object states or accounting (store.c) or locking (callers hold the
 * store lock). The table has at least twice as many slots as the object limit
 * and is rehashed in place once live entries plus tombstones pass 3/4 of it,
 * so probes stay short and always meet an empty slot.
 */
#include "store/store_int.h"

#include "common/error.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t slot_of(const lm_store *s, uint64_t hi, uint64_t lo)
{
    return mix64(hi ^ mix64(lo + 0x9e3779b97f4a7c15ull)) & (s->hdr->nslots - 1);
}

static int is_live(const lm_dir_entry *e) { return e->state >= LM_OBJ_CREATING; }

lm_dir_entry *lm_dir_find(lm_store *s, lm_oid id)
{
    uint64_t mask = s->hdr->nslots - 1;
    uint64_t i = slot_of(s, id.hi, id.lo);
    for (uint64_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
        lm_dir_entry *e = &s->dir[i];
        if (e->state == LM_SLOT_EMPTY)
            return NULL;
        if (is_live(e) && e->hi == id.hi && e->lo == id.lo)
            return e;
    }
    return NULL;
}

/* First empty or tombstone slot on the probe path of id. */
static lm_dir_entry *free_slot(lm_store *s, uint64_t hi, uint64_t lo)
{
    uint64_t mask = s->hdr->nslots - 1;
    uint64_t i = slot_of(s, hi, lo);
    for (uint64_t n = 0; n <= mask; n++, i = (i + 1) & mask)
        if (!is_live(&s->dir[i]))
            return &s->dir[i];
    return NULL;
}

/* Rebuild the table without tombstones. */
static lumen_status rehash(lm_store *s)
{
    lm_store_hdr *h = s->hdr;
    lm_dir_entry *live = malloc((h->nlive ? h->nlive : 1) * sizeof *live);
    if (!live)
        return lm_error(LUMEN_ERR_NO_MEMORY, "object directory rehash: cannot allocate %llu entries",
                        (unsigned long long)h->nlive);
    uint64_t n = 0;
    for (uint64_t i = 0; i < h->nslots; i++)
        if (is_live(&s->dir[i]))
            live[n++] = s->dir[i];
    memset(s->dir, 0, h->nslots * sizeof *s->dir);
    for (uint64_t i = 0; i < n; i++)
        *free_slot(s, live[i].hi, live[i].lo) = live[i];
    h->ntomb = 0;
    free(live);
    return LUMEN_OK;
}

lumen_status lm_dir_reserve(lm_store *s)
{
    lm_store_hdr *h = s->hdr;
    if (h->nlive >= h->max_objects)
        return lm_error(LUMEN_ERR_STORE_FULL, "object directory full: %llu objects (max_objects)",
                        (unsigned long long)h->max_objects);
    if ((h->nlive + h->ntomb + 1) * 4 > h->nslots * 3)
        return rehash(s);
    return LUMEN_OK;
}

lm_dir_entry *lm_dir_insert(lm_store *s, lm_oid id)
{
    lm_dir_entry *e = free_slot(s, id.hi, id.lo);
    if (!e)
        return NULL;
    if (e->state == LM_SLOT_TOMBSTONE)
        s->hdr->ntomb--;
    memset(e, 0, sizeof *e);
    e->hi = id.hi;
    e->lo = id.lo;
    e->state = LM_OBJ_CREATING;
    s->hdr->nlive++;
    return e;
}

void lm_dir_remove(lm_store *s, lm_dir_entry *e)
{
    lm_store_hdr *h = s->hdr;
    uint64_t mask = h->nslots - 1;
    uint64_t i = (uint64_t)(e - s->dir);
    memset(e, 0, sizeof *e);
    h->nlive--;
    if (s->dir[(i + 1) & mask].state != LM_SLOT_EMPTY) {
        e->state = LM_SLOT_TOMBSTONE; /* a probe chain runs through here */
        h->ntomb++;
        return;
    }
    /* End of a chain: this slot and the tombstones before it can go empty. */
    e->state = LM_SLOT_EMPTY;
    for (i = (i - 1) & mask; s->dir[i].state == LM_SLOT_TOMBSTONE; i = (i - 1) & mask) {
        s->dir[i].state = LM_SLOT_EMPTY;
        h->ntomb--;
    }
}
