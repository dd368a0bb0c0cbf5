/*
 * config.c - reading LUMEN_* environment variables and sizing defaults from
 * the allocation (cgroup memory limit, CPU binding via hwloc).
 *
 * Every knob has one environment variable (docs/core.md lists them); an init
 * option given in code wins over the environment, which wins over defaults.
 */
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/config.h"

int lm_env_size(const char *name, size_t *out)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (v < 0 || end == s)
        return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1024.0; end++; break;
    case 'm': case 'M': v *= 1024.0 * 1024; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': v *= 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end)
        return -1;
    *out = (size_t)v;
    return 1;
}

int lm_env_double(const char *name, double *out)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= 0))
        return -1;
    *out = v;
    return 1;
}

size_t lm_env_count(const char *name, size_t dflt)
{
    const char *s = getenv(name);
    char *end = NULL;
    long long v = s && *s ? strtoll(s, &end, 10) : -1;
    return !s || !*s || *end != '\0' || v < 0 || v > (1ll << 30) ? dflt : (size_t)v;
}

int lm_env_flag(const char *name)
{
    const char *s = getenv(name);
    return s && *s && strcmp(s, "0") != 0 && strcmp(s, "no") != 0 && strcmp(s, "false") != 0;
}

static size_t read_u64_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long v = 0;
    char buf[64] = "";
    if (fgets(buf, sizeof buf, f) && strncmp(buf, "max", 3) != 0)
        v = strtoull(buf, NULL, 10);
    fclose(f);
    return (size_t)v;
}

size_t lm_memory_limit(void)
{
    size_t mem = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
    /* the job's cgroup (Slurm, containers) may allow less than the machine has */
    size_t cg = read_u64_file("/sys/fs/cgroup/memory.max");
    if (!cg)
        cg = read_u64_file("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    if (cg && cg < mem)
        mem = cg;
    return mem;
}

void lm_topology(lm_topo *out)
{
    memset(out, 0, sizeof *out);
    out->numa_domains = 1;
    out->cores = 1;
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return;
    if (hwloc_topology_load(topo) == 0) {
        int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
        out->numa_domains = n > 0 ? n : 1;
        int c = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
        out->cores = c > 0 ? c : 1;
        hwloc_obj_t root = hwloc_get_root_obj(topo);
        out->memory = root ? root->total_memory : 0;
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        if (set && hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0)
            hwloc_bitmap_copy(set, hwloc_topology_get_allowed_cpuset(topo));
        for (int i = 0; set && i < n && i < 64; i++) {
            hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, (unsigned)i);
            if (node && node->cpuset && hwloc_bitmap_intersects(node->cpuset, set))
                out->numa_mask |= 1ull << i;
        }
        if (n <= 0)
            out->numa_mask = 1;
        hwloc_bitmap_free(set);
    }
    hwloc_topology_destroy(topo);
}

int lm_cpus_bound(int *bound_to_all)
{
    hwloc_topology_t topo;
    int n = 1;
    *bound_to_all = 1;
    if (hwloc_topology_init(&topo) != 0)
        return 1;
    if (hwloc_topology_load(topo) == 0) {
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        hwloc_const_bitmap_t allowed = hwloc_topology_get_allowed_cpuset(topo);
        if (set && hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) == 0) {
            hwloc_bitmap_and(set, set, allowed);
            n = hwloc_bitmap_weight(set);
            *bound_to_all = hwloc_bitmap_isequal(set, allowed);
        } else {
            n = hwloc_bitmap_weight(allowed);
        }
        hwloc_bitmap_free(set);
    }
    hwloc_topology_destroy(topo);
    return n > 0 ? n : 1;
}
