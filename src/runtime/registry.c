/*
 * registry.c - the table of remote functions, keyed by name.
 *
 * Actor classes live in a second table under their name and their methods
 * in the first under "Class.method" (a name remote functions cannot clash
 * with, since they live in another table).
 *
 * LUMEN_REMOTE registers from a constructor, so every rank of the same binary
 * holds the same table before main runs; a task message carries only the
 * name. Registration takes a write lock and lookups a read lock, so functions
 * may also be registered at run time from any thread.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "runtime/registry.h"
#include "wire/msg.h"

#define SLOTS 4096 /* power of two */

typedef struct entry {
    char name[LM_FN_MAX];
    lumen_remote_fn fn;
    void *fn2; /* second pointer: a class's destructor */
} entry;

/* functions, classes, methods: one open-addressing table each */
typedef struct table_t {
    entry e[SLOTS];
    size_t used;
} table_t;
static table_t funcs, classes, methods;
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return (size_t)h & (SLOTS - 1);
}

static entry *slot_for(table_t *t, const char *name)
{
    for (size_t i = hash(name), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++)
        if (!t->e[i].fn || !strcmp(t->e[i].name, name))
            return &t->e[i];
    return NULL;
}

static lumen_status add(table_t *t, const char *what, const char *name, lumen_remote_fn fn, void *fn2)
{
    lumen_status st = LUMEN_OK;
    pthread_rwlock_wrlock(&lock);
    entry *e = slot_for(t, name);
    if (!e || (!e->fn && t->used == SLOTS - 1)) {
        st = lm_error(LUMEN_ERR_OUT_OF_RANGE, "register: more than %d %ss", SLOTS - 1, what);
    } else if (e->fn && (e->fn != fn || e->fn2 != fn2)) {
        st = lm_error(LUMEN_ERR_INVALID_ARG, "register: %s '%s' is already registered differently", what, name);
    } else if (!e->fn) {
        strcpy(e->name, name);
        e->fn = fn;
        e->fn2 = fn2;
        t->used++;
    }
    pthread_rwlock_unlock(&lock);
    return st;
}

static int find(table_t *t, const char *name, entry *out)
{
    pthread_rwlock_rdlock(&lock);
    entry *e = slot_for(t, name);
    int ok = e && e->fn;
    if (ok)
        *out = *e;
    pthread_rwlock_unlock(&lock);
    return ok;
}

static lumen_status check_name(const char *name, const char *what)
{
    if (!name || !*name)
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: NULL or empty %s name", what);
    if (strlen(name) >= LM_FN_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: %s name longer than %d bytes", what, LM_FN_MAX - 1);
    return LUMEN_OK;
}

lumen_status lumen_register_function(const char *name, lumen_remote_fn fn)
{
    lumen_status st = check_name(name, "function");
    if (st != LUMEN_OK)
        return st;
    if (!fn)
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: NULL function");
    return add(&funcs, "function", name, fn, NULL);
}

lumen_remote_fn lm_registry_find(const char *name)
{
    entry e;
    return name && find(&funcs, name, &e) ? e.fn : NULL;
}

/* Function pointers of other types are stored through these casts only. */
lumen_status lumen_register_actor_class(const char *cls, lumen_actor_init_fn init, lumen_actor_destroy_fn destroy)
{
    lumen_status st = check_name(cls, "class");
    if (st != LUMEN_OK)
        return st;
    if (!init)
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: class '%s' has no constructor", cls);
    if (strchr(cls, '.'))
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: class name '%s' contains '.'", cls);
    return add(&classes, "class", cls, (lumen_remote_fn)(void (*)(void))init,
               destroy ? (void *)(uintptr_t)destroy : NULL);
}

lumen_status lumen_register_method(const char *cls, const char *method, lumen_method_fn fn)
{
    lumen_status st = check_name(cls, "class");
    if (st == LUMEN_OK)
        st = check_name(method, "method");
    if (st != LUMEN_OK)
        return st;
    if (!fn)
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: NULL method %s.%s", cls, method);
    char key[2 * LM_FN_MAX];
    snprintf(key, sizeof key, "%s.%s", cls, method);
    if (strlen(key) >= LM_FN_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: '%s' longer than %d bytes", key, LM_FN_MAX - 1);
    return add(&methods, "method", key, (lumen_remote_fn)(void (*)(void))fn, NULL);
}

int lm_registry_class(const char *cls, lm_actor_class *out)
{
    entry e;
    if (!cls || !find(&classes, cls, &e))
        return 0;
    out->init = (lumen_actor_init_fn)(void (*)(void))e.fn;
    out->destroy = (lumen_actor_destroy_fn)(uintptr_t)e.fn2;
    return 1;
}

lumen_method_fn lm_registry_method(const char *cls, const char *method)
{
    char key[2 * LM_FN_MAX];
    entry e;
    if (!cls || !method)
        return NULL;
    snprintf(key, sizeof key, "%s.%s", cls, method);
    if (strlen(key) < LM_FN_MAX && find(&methods, key, &e))
        return (lumen_method_fn)(void (*)(void))e.fn;
    /* a method every actor answers (lm_registry_builtin_method) */
    snprintf(key, sizeof key, "*.%s", method);
    if (strlen(key) < LM_FN_MAX && find(&methods, key, &e))
        return (lumen_method_fn)(void (*)(void))e.fn;
    return NULL;
}

lumen_status lm_registry_builtin_method(const char *method, lumen_method_fn fn)
{
    char key[2 * LM_FN_MAX];
    snprintf(key, sizeof key, "*.%s", method);
    if (!fn || strlen(key) >= LM_FN_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "register: bad built-in method '%s'", method);
    return add(&methods, "method", key, (lumen_remote_fn)(void (*)(void))fn, NULL);
}
