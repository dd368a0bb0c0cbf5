/*
 * registry.h - remote functions by name (filled by LUMEN_REMOTE before main).
 */
#ifndef LUMEN_RUNTIME_REGISTRY_H
#define LUMEN_RUNTIME_REGISTRY_H

#include "lumen.h"

lumen_remote_fn lm_registry_find(const char *name);

#endif
