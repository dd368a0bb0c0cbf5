/*
 * spill.c - moving objects between the arena and spill files.
 *
 * Owns: victim choice (sealed, unpinned, least recently used first), the spill
 * file format (the raw object bytes in <spill_dir>/<hi hex>-<lo hex>.obj; the
 * size and type stay in the directory entry), restore on pin, and cleanup of
 * the spill folder. Does not own locking: every function runs under the store
 * lock, so file I/O happens while holding it (spilling is the slow path).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/store_int.h"

#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static lumen_status spill_path(const lm_store *s, const lm_dir_entry *e, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%016" PRIx64 "-%016" PRIx64 ".obj", s->spill_dir, e->hi, e->lo);
    if (n < 0 || (size_t)n >= len)
        return lm_error(LUMEN_ERR_IO, "spill path under %s is too long", s->spill_dir);
    return LUMEN_OK;
}

/* mkdir -p: create every missing component of path. */
static lumen_status make_dirs(const char *path)
{
    char buf[LM_SPILL_PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return lm_error(LUMEN_ERR_IO, "spill folder path is too long");
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return lm_error(LUMEN_ERR_IO, "mkdir(%s): %s", buf, strerror(errno));
        buf[i] = c;
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return lm_error(LUMEN_ERR_IO, "spill folder %s: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return lm_error(LUMEN_ERR_IO, "spill folder %s: %s", path, strerror(ENOTDIR));
    return LUMEN_OK;
}

static lumen_status write_all(int fd, const char *p, size_t n, const char *path)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return lm_error(LUMEN_ERR_IO, "write(%s): %s", path, strerror(errno));
        }
        if (w == 0)
            return lm_error(LUMEN_ERR_IO, "write(%s): %s", path, strerror(ENOSPC));
        p += w;
        n -= (size_t)w;
    }
    return LUMEN_OK;
}

static lumen_status read_all(int fd, char *p, size_t n, const char *path)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return lm_error(LUMEN_ERR_IO, "read(%s): %s", path, strerror(errno));
        }
        if (r == 0)
            return lm_error(LUMEN_ERR_IO, "read(%s): file ends %zu bytes early", path, n);
        p += r;
        n -= (size_t)r;
    }
    return LUMEN_OK;
}

/* Write e's bytes to its file, then give its block back to the arena. */
static lumen_status spill_one(lm_store *s, lm_dir_entry *e)
{
    char path[LM_SPILL_PATH_MAX];
    lumen_status st = spill_path(s, e, path, sizeof path);
    if (st)
        return st;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return lm_error(LUMEN_ERR_IO, "open(%s): %s", path, strerror(errno));
    st = write_all(fd, lm_entry_data(s, e), e->size, path);
    if (close(fd) != 0 && !st)
        st = lm_error(LUMEN_ERR_IO, "close(%s): %s", path, strerror(errno));
    if (st) {
        unlink(path);
        return st;
    }
    lm_arena_free(s->arena, e->off);
    e->off = 0;
    e->state = LM_OBJ_SPILLED;
    s->hdr->num_objects--;
    s->hdr->num_spilled++;
    s->hdr->spilled_bytes += e->size;
    return LUMEN_OK;
}

typedef struct victim {
    uint64_t last_use;
    lm_dir_entry *e;
} victim;

static int by_last_use(const void *a, const void *b)
{
    uint64_t x = ((const victim *)a)->last_use, y = ((const victim *)b)->last_use;
    return (x > y) - (x < y);
}

static lumen_status store_full(lm_store *s, size_t size, const char *why)
{
    return lm_error(LUMEN_ERR_STORE_FULL,
                    "store %s full: %zu bytes requested, %zu of %llu in use, largest free block %zu; %s", s->name,
                    size, lm_arena_used(s->arena), (unsigned long long)s->hdr->capacity,
                    lm_arena_largest_free(s->arena), why);
}

lumen_status lm_spill_alloc(lm_store *s, size_t size, uint64_t *off)
{
    *off = lm_arena_alloc(s->arena, size);
    if (*off)
        return LUMEN_OK;
    if (!s->spill_dir)
        return store_full(s, size, "spilling is off (no spill folder)");

    lm_store_hdr *h = s->hdr;
    size_t n = 0, spillable = 0;
    for (uint64_t i = 0; i < h->nslots; i++)
        if (s->dir[i].state == LM_OBJ_SEALED && s->dir[i].pins == 0)
            n++;
    if (n == 0)
        return store_full(s, size, "every object is pinned or being written");
    victim *v = malloc(n * sizeof *v);
    if (!v)
        return lm_error(LUMEN_ERR_NO_MEMORY, "cannot allocate the spill candidate list (%zu)", n);
    n = 0;
    for (uint64_t i = 0; i < h->nslots; i++) {
        lm_dir_entry *e = &s->dir[i];
        if (e->state == LM_OBJ_SEALED && e->pins == 0) {
            v[n++] = (victim){e->last_use, e};
            spillable += e->size + 2 * LM_ARENA_ALIGN; /* upper bound of its block */
        }
    }
    lumen_status st = LUMEN_OK;
    /* Even spilling everything cannot make room: fail without touching disk. */
    if (lm_arena_used(s->arena) > spillable &&
        lm_arena_used(s->arena) - spillable + size > h->arena_size) {
        st = store_full(s, size, "the pinned objects leave too little room");
        goto out;
    }
    if ((st = make_dirs(s->spill_dir)))
        goto out;
    qsort(v, n, sizeof *v, by_last_use);
    for (size_t i = 0; i < n; i++) {
        if ((st = spill_one(s, v[i].e)))
            goto out;
        if ((*off = lm_arena_alloc(s->arena, size)))
            goto out;
    }
    st = store_full(s, size, "nothing more can be spilled");
out:
    free(v);
    return st;
}

lumen_status lm_spill_restore(lm_store *s, lm_dir_entry *e)
{
    char path[LM_SPILL_PATH_MAX];
    lumen_status st;
    if (!s->spill_dir)
        return lm_error(LUMEN_ERR_IO, "object %016" PRIx64 "%016" PRIx64
                        " is spilled but this process has no spill folder", e->hi, e->lo);
    if ((st = spill_path(s, e, path, sizeof path)))
        return st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lm_error(LUMEN_ERR_IO, "open(%s): %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = lm_error(LUMEN_ERR_IO, "fstat(%s): %s", path, strerror(errno));
        goto out;
    }
    if ((uint64_t)sb.st_size != e->size) {
        st = lm_error(LUMEN_ERR_IO, "spill file %s has %lld bytes, expected %llu", path, (long long)sb.st_size,
                      (unsigned long long)e->size);
        goto out;
    }
    uint64_t off;
    if ((st = lm_spill_alloc(s, e->size, &off)))
        goto out;
    if ((st = read_all(fd, (char *)s->arena + off, e->size, path))) {
        lm_arena_free(s->arena, off);
        goto out;
    }
    e->off = off;
    e->state = LM_OBJ_SEALED;
    s->hdr->num_spilled--;
    s->hdr->num_objects++;
    s->hdr->restored++;
    unlink(path); /* the data is back; a leftover file only costs disk */
out:
    close(fd);
    return st;
}

void lm_spill_unlink(lm_store *s, const lm_dir_entry *e)
{
    char path[LM_SPILL_PATH_MAX];
    if (s->spill_dir && spill_path(s, e, path, sizeof path) == LUMEN_OK)
        unlink(path);
}

void lm_spill_remove_all(lm_store *s)
{
    if (!s->spill_dir)
        return;
    if (lm_store_lock(s) == LUMEN_OK) {
        for (uint64_t i = 0; i < s->hdr->nslots; i++) {
            lm_dir_entry *e = &s->dir[i];
            if (e->state != LM_OBJ_SPILLED)
                continue;
            lm_spill_unlink(s, e);
            s->hdr->num_spilled--;
            lm_dir_remove(s, e);
        }
        lm_store_unlock(s);
    }
    /* Other stores may share the folder: then it stays. */
    rmdir(s->spill_dir);
}
