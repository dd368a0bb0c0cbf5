/*
 * registry.h - remote functions and actor classes by name (filled by
 * LUMEN_REMOTE, LUMEN_ACTOR_CLASS and LUMEN_METHOD before main).
 */
#ifndef LUMEN_RUNTIME_REGISTRY_H
#define LUMEN_RUNTIME_REGISTRY_H

#include "lumen.h"

lumen_remote_fn lm_registry_find(const char *name);

typedef struct lm_actor_class {
    lumen_actor_init_fn init;
    lumen_actor_destroy_fn destroy;
} lm_actor_class;

/* 1 and *out filled when class `cls` is registered (with a constructor) */
int lm_registry_class(const char *cls, lm_actor_class *out);
lumen_method_fn lm_registry_method(const char *cls, const char *method);
/* a method every actor class answers (as Ray's __ray_ready__), for the
 * runtime's own libraries: found when the class has no method of that name */
lumen_status lm_registry_builtin_method(const char *method, lumen_method_fn fn);

#endif
