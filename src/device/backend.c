/*
 * backend.c - which device memory this process uses, and the emulated one.
 *
 * The backend is chosen once per process from LUMEN_DEVICE:
 *   unset     CUDA when lumen was built with it, libcudart loads and a GPU is
 *             visible; else none (device objects then fail with the reason)
 *   cuda      CUDA or none, with the reason
 *   emulated  host memory lumen treats as device memory ("emulated:N": N
 *             devices, default 1). Pointers count as device memory only if
 *             they came from this backend's alloc, so every check a CUDA
 *             pointer meets is met here too; tests and CI use it to run the
 *             device-object path on machines without a GPU.
 *   none      no device memory
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "device/device.h"

/* ---- emulated ------------------------------------------------------------ */
typedef struct emu_block {
    struct emu_block *next;
    char *base;
    size_t size;
    int device;
} emu_block;

static pthread_mutex_t emu_lock = PTHREAD_MUTEX_INITIALIZER;
static emu_block *emu_blocks;

static lumen_status emu_alloc(int device, size_t size, void **p)
{
    emu_block *b = calloc(1, sizeof *b);
    char *mem = malloc(size ? size : 1);
    if (!b || !mem) {
        free(b);
        free(mem);
        return lm_error(LUMEN_ERR_NO_MEMORY, "emulated device %d: no memory for %zu bytes", device, size);
    }
    b->base = mem;
    b->size = size ? size : 1;
    b->device = device;
    pthread_mutex_lock(&emu_lock);
    b->next = emu_blocks;
    emu_blocks = b;
    pthread_mutex_unlock(&emu_lock);
    *p = mem;
    return LUMEN_OK;
}

static lumen_status emu_free(int device, void *p)
{
    (void)device;
    emu_block *b = NULL;
    pthread_mutex_lock(&emu_lock);
    for (emu_block **pp = &emu_blocks; *pp; pp = &(*pp)->next)
        if ((*pp)->base == p) {
            b = *pp;
            *pp = b->next;
            break;
        }
    pthread_mutex_unlock(&emu_lock);
    if (!b)
        return lm_error(LUMEN_ERR_INVALID_ARG, "emulated device: %p is not the start of an allocation", p);
    free(b->base);
    free(b);
    return LUMEN_OK;
}

/* the block holding p, under emu_lock */
static emu_block *emu_block_of(const void *p)
{
    const char *c = p;
    for (emu_block *b = emu_blocks; b; b = b->next)
        if (c >= b->base && c < b->base + b->size)
            return b;
    return NULL;
}

static int emu_where(const void *p)
{
    pthread_mutex_lock(&emu_lock);
    emu_block *b = emu_block_of(p);
    int dev = b ? b->device : -1;
    pthread_mutex_unlock(&emu_lock);
    return dev;
}

static size_t emu_room(const void *p)
{
    pthread_mutex_lock(&emu_lock);
    emu_block *b = emu_block_of(p);
    size_t room = b ? (size_t)(b->base + b->size - (const char *)p) : 0;
    pthread_mutex_unlock(&emu_lock);
    return room;
}

static lumen_status emu_copy(int device, void *dst, const void *src, size_t size)
{
    (void)device;
    if (size)
        memmove(dst, src, size);
    return LUMEN_OK;
}

static lm_dev_backend emu_backend = {
    .name = "emulated",
    .count = 1,
    .alloc = emu_alloc,
    .free = emu_free,
    .where = emu_where,
    .room = emu_room,
    .copy = emu_copy,
};

const lm_dev_backend *lm_dev_emulated_open(int count)
{
    emu_backend.count = count > 0 ? count : 1;
    return &emu_backend;
}

/* ---- lumen's own threads --------------------------------------------------- */
_Thread_local int lm_dev_on_internal_thread;

void lm_dev_internal_thread(void) { lm_dev_on_internal_thread = 1; }

/* ---- choice -------------------------------------------------------------- */
static pthread_once_t chosen = PTHREAD_ONCE_INIT;
static const lm_dev_backend *backend;
static char why_none[256];

static void choose(void)
{
    const char *env = getenv("LUMEN_DEVICE");
    if (env && strncmp(env, "emulated", 8) == 0 && (env[8] == '\0' || env[8] == ':')) {
        int n = 1;
        if (env[8] == ':') {
            char *end;
            long v = strtol(env + 9, &end, 10);
            if (*end != '\0' || v < 1 || v > 64) {
                snprintf(why_none, sizeof why_none, "LUMEN_DEVICE=%s: the count must be 1 to 64", env);
                return;
            }
            n = (int)v;
        }
        backend = lm_dev_emulated_open(n);
        return;
    }
    if (env && strcmp(env, "none") == 0) {
        snprintf(why_none, sizeof why_none, "device memory is off (LUMEN_DEVICE=none)");
        return;
    }
    if (env && *env && strcmp(env, "cuda") != 0) {
        snprintf(why_none, sizeof why_none, "LUMEN_DEVICE=%s is not one of cuda, emulated[:N], none", env);
        return;
    }
#ifdef LUMEN_HAVE_CUDA
    backend = lm_dev_cuda_open(why_none, sizeof why_none);
#else
    snprintf(why_none, sizeof why_none,
             "lumen was built without CUDA (LUMEN_DEVICE=emulated gives host-backed device memory for tests)");
#endif
}

const lm_dev_backend *lm_dev_backend_get(void)
{
    pthread_once(&chosen, choose);
    return backend;
}

const char *lm_dev_why_none(void)
{
    pthread_once(&chosen, choose);
    return backend ? "" : why_none;
}
