/*
 * config.h - environment variables and allocation-derived defaults.
 */
#ifndef LUMEN_RUNTIME_CONFIG_H
#define LUMEN_RUNTIME_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* 0: unset, 1: set (*out written), -1: malformed */
int lm_env_size(const char *name, size_t *out); /* accepts K/M/G/T suffixes */
int lm_env_double(const char *name, double *out);
int lm_env_flag(const char *name);
/* a whole number 0..2^30; dflt when unset or malformed */
size_t lm_env_count(const char *name, size_t dflt);
/* bytes of memory this job may use: physical memory or the cgroup limit */
size_t lm_memory_limit(void);
/* CPUs in this process's binding; *bound_to_all set when it is not bound */
int lm_cpus_bound(int *bound_to_all);

/* what hwloc says of this rank's host and binding */
typedef struct lm_topo {
    int32_t numa_domains;  /* NUMA domains of the host (1 when hwloc sees none) */
    int32_t cores;         /* physical cores of the host */
    uint64_t numa_mask;    /* the domains (logical index < 64) this rank's CPUs are in */
    uint64_t memory;       /* bytes of memory hwloc sees on the host */
} lm_topo;
void lm_topology(lm_topo *out);

#endif
