/*
 * config.h - environment variables and allocation-derived defaults.
 */
#ifndef LUMEN_RUNTIME_CONFIG_H
#define LUMEN_RUNTIME_CONFIG_H

#include <stddef.h>

/* 0: unset, 1: set (*out written), -1: malformed */
int lm_env_size(const char *name, size_t *out); /* accepts K/M/G/T suffixes */
int lm_env_double(const char *name, double *out);
int lm_env_flag(const char *name);
/* bytes of memory this job may use: physical memory or the cgroup limit */
size_t lm_memory_limit(void);
/* CPUs in this process's binding; *bound_to_all set when it is not bound */
int lm_cpus_bound(int *bound_to_all);

#endif
