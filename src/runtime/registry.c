/*
 * registry.c - the table of remote functions, keyed by name.
 *
 * LUMEN_REMOTE registers from a constructor, so every rank of the same binary
 * holds the same table before main runs; a task message carries only the
 * name. Registration takes a write lock and lookups a read lock, so functions
 * may also be registered at run time from any thread.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "runtime/registry.h"
#include "wire/msg.h"

#define SLOTS 4096 /* power of two */

typedef struct entry {
    char name[LM_FN_MAX];
    lumen_remote_fn fn;
} entry;

static entry table[SLOTS];
static size_t used;
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return (size_t)h & (SLOTS - 1);
}

static entry *slot_for(const char *name)
{
    for (size_t i = hash(name), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++)
        if (!table[i].fn || !strcmp(table[i].name, name))
            return &table[i];
    return NULL;
}

lumen_status lumen_register_function(const char *name, lumen_remote_fn fn)
{
    if (!name || !*name || !fn)
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: NULL or empty name, or NULL function");
    if (strlen(name) >= LM_FN_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: name longer than %d bytes", LM_FN_MAX - 1);
    lumen_status st = LUMEN_OK;
    pthread_rwlock_wrlock(&lock);
    entry *e = slot_for(name);
    if (!e || (!e->fn && used == SLOTS - 1)) {
        st = lm_error(LUMEN_ERR_OUT_OF_RANGE, "register: more than %d functions", SLOTS - 1);
    } else if (e->fn && e->fn != fn) {
        st = lm_error(LUMEN_ERR_INVALID_ARG, "register: '%s' is already a different function", name);
    } else if (!e->fn) {
        strcpy(e->name, name);
        e->fn = fn;
        used++;
    }
    pthread_rwlock_unlock(&lock);
    return st;
}

lumen_remote_fn lm_registry_find(const char *name)
{
    if (!name)
        return NULL;
    pthread_rwlock_rdlock(&lock);
    entry *e = slot_for(name);
    lumen_remote_fn fn = e ? e->fn : NULL;
    pthread_rwlock_unlock(&lock);
    return fn;
}
