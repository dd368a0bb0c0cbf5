/*
 * store.c - the per-node shared-memory object store: segment lifecycle
 * (create, attach, unlink, close), the robust node-wide lock, and the object
 * operations (create, seal, abort, pin, unpin, delete, stats).
 *
 * Owns: the segment layout and header, object states and accounting. Does not
 * own the hash table (directory.c), the allocator (arena.c), spill files
 * (spill.c) or the background page faulting (prefault.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/store_int.h"

#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define OID_FMT "%016llx%016llx"
#define OID_ARG(id) (unsigned long long)(id).hi, (unsigned long long)(id).lo

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

/* ---- lock ------------------------------------------------------------------ */

lumen_status lm_store_lock(lm_store *s)
{
    lm_store_hdr *h = s->hdr;
    int rc = pthread_mutex_lock(&h->lock);
    if (rc == EOWNERDEAD) {
        /* A process died inside the lock: take it over, and refuse to go on
         * if it left the allocator half-updated. */
        pthread_mutex_consistent(&h->lock);
        if (lm_arena_check(s->arena) != 0)
            h->broken = 1;
        rc = 0;
    }
    if (rc)
        return lm_error(LUMEN_ERR_INTERNAL, "store %s: lock failed: %s", s->name, strerror(rc));
    if (h->broken) {
        pthread_mutex_unlock(&h->lock);
        return lm_error(LUMEN_ERR_INTERNAL,
                        "store %s is corrupt: a process died while updating it", s->name);
    }
    return LUMEN_OK;
}

void lm_store_unlock(lm_store *s) { pthread_mutex_unlock(&s->hdr->lock); }

/* ---- segment lifecycle ------------------------------------------------------- */

static lumen_status check_name(const char *name)
{
    if (!name || name[0] != '/' || !name[1] || strchr(name + 1, '/'))
        return lm_error(LUMEN_ERR_INVALID_ARG, "store name \"%s\" must be \"/name\" without other '/'",
                        name ? name : "(null)");
    if (strlen(name) > LM_STORE_NAME_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "store name \"%s\" is longer than %d bytes", name,
                        LM_STORE_NAME_MAX);
    return LUMEN_OK;
}

static lumen_status set_spill_dir(lm_store *s, const char *dir)
{
    if (!dir || !*dir)
        return LUMEN_OK;
    if (strlen(dir) >= LM_SPILL_PATH_MAX - 64)
        return lm_error(LUMEN_ERR_INVALID_ARG, "spill folder path is too long (%zu bytes)", strlen(dir));
    s->spill_dir = strdup(dir);
    if (!s->spill_dir)
        return lm_error(LUMEN_ERR_NO_MEMORY, "cannot copy the spill folder path");
    return LUMEN_OK;
}

static void store_free(lm_store *s)
{
    if (s->base)
        munmap(s->base, s->map_size);
    free(s->spill_dir);
    free(s);
}

static lumen_status init_lock(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (!rc)
        rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc)
        rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    if (rc)
        return lm_error(LUMEN_ERR_INTERNAL, "cannot create the store's shared mutex: %s", strerror(rc));
    return LUMEN_OK;
}

/* Check /dev/shm has room: touching a page past its limit raises SIGBUS. */
static lumen_status check_shm_room(size_t bytes)
{
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) != 0)
        return LUMEN_OK; /* not a Linux-like system: nothing to check */
    unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
    if (avail < bytes)
        return lm_error(LUMEN_ERR_NO_MEMORY, "/dev/shm has %llu bytes free, the store needs %zu", avail, bytes);
    return LUMEN_OK;
}

lumen_status lm_store_create(const lm_store_config *cfg, lm_store **out)
{
    if (!cfg || !out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lm_store_create: NULL config or output");
    *out = NULL;
    lumen_status st = check_name(cfg->name);
    if (st)
        return st;
    if (cfg->capacity == 0 || cfg->capacity > SIZE_MAX / 4)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "store capacity %zu is out of range", cfg->capacity);
    size_t max_objects = cfg->max_objects ? cfg->max_objects : LM_STORE_DEFAULT_OBJECTS;
    if (max_objects > ((size_t)1 << 32))
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "max_objects %zu is out of range", max_objects);

    size_t page = page_size();
    size_t nslots = 16;
    while (nslots < 2 * max_objects)
        nslots *= 2;
    size_t hdr_bytes = round_up(sizeof(lm_store_hdr), page);
    size_t dir_bytes = round_up(nslots * sizeof(lm_dir_entry), page);
    /* room for the arena header, alignment, one block tag and the sentinel,
     * so an object of exactly `capacity` bytes fits in an empty store */
    size_t arena_bytes = round_up(cfg->capacity + lm_arena_overhead() + 4 * LM_ARENA_ALIGN, page);
    size_t seg = hdr_bytes + dir_bytes + arena_bytes;
    if ((st = check_shm_room(seg)))
        return st;

    lm_store *s = calloc(1, sizeof *s);
    if (!s)
        return lm_error(LUMEN_ERR_NO_MEMORY, "cannot allocate the store handle");
    strcpy(s->name, cfg->name);
    s->creator = 1;
    if ((st = set_spill_dir(s, cfg->spill_dir)))
        goto fail;

    int fd = shm_open(cfg->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        st = lm_error(LUMEN_ERR_IO, "shm_open(%s): %s", cfg->name, strerror(errno));
        goto fail;
    }
    if (ftruncate(fd, (off_t)seg) != 0) {
        st = lm_error(LUMEN_ERR_IO, "ftruncate(%s, %zu): %s", cfg->name, seg, strerror(errno));
        close(fd);
        goto fail_unlink;
    }
    void *base = mmap(NULL, seg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int map_errno = errno;
    close(fd);
    if (base == MAP_FAILED) {
        st = lm_error(LUMEN_ERR_IO, "mmap(%s, %zu): %s", cfg->name, seg, strerror(map_errno));
        goto fail_unlink;
    }
    s->base = base;
    s->map_size = seg;

    /* The fresh segment reads as zeros: the directory is already empty. */
    lm_store_hdr *h = base;
    h->version = LM_STORE_VERSION;
    h->hdr_size = sizeof *h;
    h->segment_size = seg;
    h->capacity = cfg->capacity;
    h->max_objects = max_objects;
    h->nslots = nslots;
    h->dir_off = hdr_bytes;
    h->arena_off = hdr_bytes + dir_bytes;
    h->arena_size = arena_bytes;
    if (s->spill_dir)
        strcpy(h->spill_dir, s->spill_dir);
    s->hdr = h;
    s->dir = (lm_dir_entry *)((char *)base + h->dir_off);
    s->arena = (char *)base + h->arena_off;
    if ((st = init_lock(&h->lock)))
        goto fail_unlink;
    if ((st = lm_arena_init(s->arena, arena_bytes)))
        goto fail_unlink;
    if (lm_arena_largest_free(s->arena) < cfg->capacity) {
        st = lm_error(LUMEN_ERR_INTERNAL, "arena of %zu bytes cannot hold %zu", arena_bytes, cfg->capacity);
        goto fail_unlink;
    }
    __atomic_store_n(&h->magic, LM_STORE_MAGIC, __ATOMIC_RELEASE);

    if (cfg->prefault)
        lm_prefault_start(s, cfg->prefault < arena_bytes ? cfg->prefault : arena_bytes);
    *out = s;
    return LUMEN_OK;

fail_unlink:
    shm_unlink(cfg->name);
fail:
    store_free(s);
    return st;
}

lumen_status lm_store_attach(const char *name, const char *spill_dir, lm_store **out)
{
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lm_store_attach: NULL output");
    *out = NULL;
    lumen_status st = check_name(name);
    if (st)
        return st;
    lm_store *s = calloc(1, sizeof *s);
    if (!s)
        return lm_error(LUMEN_ERR_NO_MEMORY, "cannot allocate the store handle");
    strcpy(s->name, name);

    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        st = lm_error(LUMEN_ERR_IO, "shm_open(%s): %s", name, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = lm_error(LUMEN_ERR_IO, "fstat(%s): %s", name, strerror(errno));
        close(fd);
        goto fail;
    }
    if ((size_t)sb.st_size < sizeof(lm_store_hdr)) {
        st = lm_error(LUMEN_ERR_INVALID_ARG, "shm %s (%lld bytes) is not an initialised lumen store", name,
                      (long long)sb.st_size);
        close(fd);
        goto fail;
    }
    void *base = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int map_errno = errno;
    close(fd);
    if (base == MAP_FAILED) {
        st = lm_error(LUMEN_ERR_IO, "mmap(%s): %s", name, strerror(map_errno));
        goto fail;
    }
    s->base = base;
    s->map_size = (size_t)sb.st_size;

    lm_store_hdr *h = base;
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != LM_STORE_MAGIC) {
        st = lm_error(LUMEN_ERR_INVALID_ARG, "shm %s is not an initialised lumen store (bad magic)", name);
        goto fail;
    }
    if (h->version != LM_STORE_VERSION || h->hdr_size != sizeof *h) {
        st = lm_error(LUMEN_ERR_INVALID_ARG, "store %s has layout version %u/%u, this build expects %u/%zu",
                      name, h->version, h->hdr_size, LM_STORE_VERSION, sizeof *h);
        goto fail;
    }
    if (h->segment_size != s->map_size || h->arena_off + h->arena_size > s->map_size ||
        h->dir_off + h->nslots * sizeof(lm_dir_entry) > h->arena_off) {
        st = lm_error(LUMEN_ERR_INVALID_ARG, "store %s: header does not match its %zu-byte segment", name,
                      s->map_size);
        goto fail;
    }
    s->hdr = h;
    s->dir = (lm_dir_entry *)((char *)base + h->dir_off);
    s->arena = (char *)base + h->arena_off;
    if ((st = set_spill_dir(s, spill_dir ? spill_dir : h->spill_dir)))
        goto fail;
    *out = s;
    return LUMEN_OK;

fail:
    store_free(s);
    return st;
}

void lm_store_unlink_name(lm_store *s)
{
    if (!s || s->unlinked)
        return;
    shm_unlink(s->name); /* ENOENT: another rank already did it */
    s->unlinked = 1;
}

void lm_store_close(lm_store *s, int remove_spill)
{
    if (!s)
        return;
    lm_prefault_stop(s);
    if (remove_spill)
        lm_spill_remove_all(s);
    store_free(s);
}

/* ---- objects ---------------------------------------------------------------- */

/* Free an entry's data (block or spill file) and its directory slot. */
static void drop_entry(lm_store *s, lm_dir_entry *e)
{
    if (e->state == LM_OBJ_SPILLED) {
        lm_spill_unlink(s, e);
        s->hdr->num_spilled--;
    } else {
        lm_arena_free(s->arena, e->off);
        s->hdr->num_objects--;
    }
    lm_dir_remove(s, e);
}

lumen_status lm_store_create_object(lm_store *s, lm_oid id, size_t size, uint8_t type, void **data)
{
    if (!s || !data)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lm_store_create_object: NULL store or output");
    *data = NULL;
    if (size > s->hdr->capacity)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "object of %zu bytes exceeds the store capacity of %llu",
                        size, (unsigned long long)s->hdr->capacity);
    lumen_status st = lm_store_lock(s);
    if (st)
        return st;
    lm_dir_entry *e = lm_dir_find(s, id);
    uint64_t off = 0;
    if (e) {
        st = lm_error(LUMEN_ERR_INVALID_ARG, "object " OID_FMT " already exists%s", OID_ARG(id),
                      e->delete_pending ? " (deleted but still pinned)" : "");
        goto out;
    }
    if ((st = lm_dir_reserve(s)) || (st = lm_spill_alloc(s, size, &off)))
        goto out;
    e = lm_dir_insert(s, id); /* reserve made room */
    e->off = off;
    e->size = size;
    e->type = type;
    e->last_use = ++s->hdr->clock;
    s->hdr->num_objects++;
    *data = lm_entry_data(s, e);
out:
    lm_store_unlock(s);
    return st;
}

lumen_status lm_store_seal(lm_store *s, lm_oid id)
{
    if (!s)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lm_store_seal: NULL store");
    lumen_status st = lm_store_lock(s);
    if (st)
        return st;
    lm_dir_entry *e = lm_dir_find(s, id);
    if (!e)
        st = lm_error(LUMEN_ERR_INVALID_REF, "seal: no object " OID_FMT, OID_ARG(id));
    else if (e->state != LM_OBJ_CREATING)
        st = lm_error(LUMEN_ERR_INVALID_ARG, "seal: object " OID_FMT " is already sealed", OID_ARG(id));
    else if (e->delete_pending) /* deleted while being written */
        drop_entry(s, e);
    else {
        e->state = LM_OBJ_SEALED;
        e->last_use = ++s->hdr->clock;
    }
    lm_store_unlock(s);
    return st;
}

lumen_status lm_store_abort(lm_store *s, lm_oid id)
{
    if (!s)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lm_store_abort: NULL store");
    lumen_status st = lm_store_lock(s);
    if (st)
        return st;
    lm_dir_entry *e = lm_dir_find(s, id);
    if (!e)
        st = lm_error(LUMEN_ERR_INVALID_REF, "abort: no object " OID_FMT, OID_ARG(id));
    else if (e->state != LM_OBJ_CREATING)
        st = lm_error(LUMEN_ERR_INVALID_ARG, "abort: object " OID_FMT " is sealed", OID_ARG(id));
    else
        drop_entry(s, e);
    lm_store_unlock(s);
    return st;
}

lumen_status lm_store_pin(lm_store *s, lm_oid id, const void **data, size_t *size, uint8_t *type)
{
    if (!s || !data)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lm_store_pin: NULL store or output");
    *data = NULL;
    lumen_status st = lm_store_lock(s);
    if (st)
        return st;
    lm_dir_entry *e = lm_dir_find(s, id);
    if (!e || e->delete_pending || e->state == LM_OBJ_CREATING) {
        st = lm_error(LUMEN_ERR_INVALID_REF, "pin: object " OID_FMT " is %s", OID_ARG(id),
                      !e ? "not in the store" : e->delete_pending ? "deleted" : "not sealed");
        goto out;
    }
    if (e->pins == UINT32_MAX) {
        st = lm_error(LUMEN_ERR_OUT_OF_RANGE, "pin: object " OID_FMT " has too many pins", OID_ARG(id));
        goto out;
    }
    if (e->state == LM_OBJ_SPILLED && (st = lm_spill_restore(s, e)))
        goto out;
    e->pins++;
    e->last_use = ++s->hdr->clock;
    *data = lm_entry_data(s, e);
    if (size)
        *size = e->size;
    if (type)
        *type = e->type;
out:
    lm_store_unlock(s);
    return st;
}

lumen_status lm_store_unpin(lm_store *s, lm_oid id)
{
    if (!s)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lm_store_unpin: NULL store");
    lumen_status st = lm_store_lock(s);
    if (st)
        return st;
    lm_dir_entry *e = lm_dir_find(s, id);
    if (!e)
        st = lm_error(LUMEN_ERR_INVALID_REF, "unpin: no object " OID_FMT, OID_ARG(id));
    else if (e->pins == 0)
        st = lm_error(LUMEN_ERR_INVALID_ARG, "unpin: object " OID_FMT " is not pinned", OID_ARG(id));
    else if (--e->pins == 0 && e->delete_pending)
        drop_entry(s, e);
    lm_store_unlock(s);
    return st;
}

lumen_status lm_store_delete(lm_store *s, lm_oid id)
{
    if (!s)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lm_store_delete: NULL store");
    lumen_status st = lm_store_lock(s);
    if (st)
        return st;
    lm_dir_entry *e = lm_dir_find(s, id);
    if (!e || e->delete_pending)
        st = lm_error(LUMEN_ERR_INVALID_REF, "delete: no object " OID_FMT, OID_ARG(id));
    else if (e->pins > 0 || e->state == LM_OBJ_CREATING)
        e->delete_pending = 1; /* the last unpin, or seal/abort, frees it */
    else
        drop_entry(s, e);
    lm_store_unlock(s);
    return st;
}

void lm_store_region(lm_store *s, void **base, size_t *len)
{
    *base = s->base;
    *len = s->map_size;
}

void lm_store_get_stats(lm_store *s, lm_store_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!s || lm_store_lock(s) != LUMEN_OK)
        return;
    lm_store_hdr *h = s->hdr;
    st->capacity = h->capacity;
    st->used = lm_arena_used(s->arena);
    st->num_objects = h->num_objects;
    st->num_spilled = h->num_spilled;
    st->spilled_bytes = h->spilled_bytes;
    st->restored = h->restored;
    lm_store_unlock(s);
}
