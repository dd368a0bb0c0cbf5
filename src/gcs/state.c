/*
 * state.c - the control store's tables as JSON (cJSON): actors, placement
 * groups and nodes (what `ray list actors`, `ray list placement-groups` and
 * `ray status` show), for lumen_state and for the state file rank 0 keeps
 * in the job folder (<job_dir>/state.json, rewritten at most twice a second
 * while something changes) that the `lumen` command reads. Nothing listens
 * on a socket: the file is the interface.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gcs/gcs_int.h"
#include "observe/observe.h"
#include "runtime/config.h"

static const char *actor_state(int s)
{
    static const char *n[] = {"PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD", "UNKNOWN"};
    return s >= 0 && s <= 4 ? n[s] : "?";
}

static void hex(lm_oid id, char out[33]) { lumen_ref_hex(lm_ref_from_oid(id), out); }

static cJSON *resources(lm_rt *rt, const double *v)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; o && k < rt->nres; k++)
        if (v[k] != 0 || k == 0)
            cJSON_AddNumberToObject(o, rt->resname[k], v[k]);
    return o;
}

static cJSON *actors(lm_rt *rt, struct lm_gcs *g)
{
    cJSON *arr = cJSON_CreateArray();
    for (int b = 0; arr && b < GCS_ACTOR_BUCKETS; b++)
        for (gcs_actor *a = g->abucket[b]; a; a = a->hnext) {
            cJSON *o = cJSON_CreateObject();
            if (!o)
                continue;
            char id[33];
            hex(a->id, id);
            cJSON_AddStringToObject(o, "actor_id", id);
            cJSON_AddStringToObject(o, "class_name", a->cls);
            cJSON_AddStringToObject(o, "name", a->name);
            cJSON_AddStringToObject(o, "namespace", a->ns);
            cJSON_AddStringToObject(o, "state", actor_state(a->state));
            cJSON_AddNumberToObject(o, "rank", a->state == LM_ACTOR_ALIVE ? a->host : -1);
            cJSON_AddNumberToObject(o, "node_id", a->state == LM_ACTOR_ALIVE ? rt->node_of[a->host] : -1);
            cJSON_AddNumberToObject(o, "owner_rank", a->owner);
            cJSON_AddBoolToObject(o, "detached", a->detached);
            cJSON_AddNumberToObject(o, "incarnation", a->incarnation);
            cJSON_AddNumberToObject(o, "num_restarts", a->restarts);
            cJSON_AddItemToObject(o, "required_resources", resources(rt, a->hold));
            if (a->state == LM_ACTOR_DEAD || a->state == LM_ACTOR_RESTARTING)
                cJSON_AddStringToObject(o, "death_cause", a->cause);
            cJSON_AddItemToArray(arr, o);
        }
    return arr;
}

static cJSON *groups(lm_rt *rt, struct lm_gcs *g)
{
    static const char *strategy[] = {"PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"};
    static const char *state[] = {"PENDING", "CREATED", "REMOVED"};
    cJSON *arr = cJSON_CreateArray();
    for (gcs_pg *p = g->pgs; arr && p; p = p->next) {
        cJSON *o = cJSON_CreateObject();
        cJSON *bundles = cJSON_CreateArray();
        if (!o || !bundles) {
            cJSON_Delete(o);
            cJSON_Delete(bundles);
            continue;
        }
        char id[33];
        hex(p->id, id);
        cJSON_AddStringToObject(o, "placement_group_id", id);
        cJSON_AddStringToObject(o, "name", p->name);
        cJSON_AddStringToObject(o, "strategy", p->strategy >= 0 && p->strategy < 4 ? strategy[p->strategy] : "?");
        cJSON_AddStringToObject(o, "state", p->state >= 0 && p->state < 3 ? state[p->state] : "?");
        cJSON_AddNumberToObject(o, "owner_rank", p->owner);
        for (int i = 0; i < p->n; i++) {
            cJSON *bo = cJSON_CreateObject();
            if (!bo)
                continue;
            cJSON_AddNumberToObject(bo, "index", i);
            cJSON_AddNumberToObject(bo, "rank", p->state == LM_PG_CREATED ? p->rank[i] : -1);
            cJSON_AddItemToObject(bo, "resources", resources(rt, p->b[i]));
            cJSON_AddItemToArray(bundles, bo);
        }
        cJSON_AddItemToObject(o, "bundles", bundles);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *nodes(lm_rt *rt, struct lm_gcs *g)
{
    cJSON *arr = cJSON_CreateArray();
    for (int r = 0; arr && r < rt->size; r++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            continue;
        cJSON_AddNumberToObject(o, "rank", r);
        cJSON_AddNumberToObject(o, "node_id", rt->node_of[r]);
        cJSON_AddStringToObject(o, "host", rt->host_of ? rt->host_of[r] : "");
        const lm_topo *t = &rt->topo_of[r];
        cJSON_AddNumberToObject(o, "numa_domains", t->numa_domains);
        cJSON *bound = cJSON_AddArrayToObject(o, "numa_bound"); /* the domains of this rank's CPUs */
        for (int d = 0; bound && d < 64; d++)
            if (t->numa_mask & (1ull << d))
                cJSON_AddItemToArray(bound, cJSON_CreateNumber(d));
        cJSON_AddNumberToObject(o, "cores", t->cores);
        cJSON_AddNumberToObject(o, "memory_bytes", (double)t->memory);
        cJSON_AddItemToObject(o, "resources_total", resources(rt, &rt->res_total[(size_t)r * LM_MAX_RES]));
        cJSON_AddItemToObject(o, "resources_reserved", resources(rt, &g->reserved[(size_t)r * LM_MAX_RES]));
        cJSON_AddNumberToObject(o, "actors", g->nactors[r]);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

char *lm_gcs_state_json(lm_rt *rt, const char *what)
{
    struct lm_gcs *g = rt->gcs;
    if (!g)
        return NULL;
    cJSON *j = NULL;
    if (!strcmp(what, "actors"))
        j = actors(rt, g);
    else if (!strcmp(what, "placement_groups"))
        j = groups(rt, g);
    else if (!strcmp(what, "nodes"))
        j = nodes(rt, g);
    else if (!strcmp(what, "all")) {
        j = cJSON_CreateObject();
        if (j) {
            char job[17];
            snprintf(job, sizeof job, "%016llx", (unsigned long long)rt->job_id);
            cJSON_AddStringToObject(j, "job_id", job);
            cJSON_AddNumberToObject(j, "ranks", rt->size);
            cJSON_AddNumberToObject(j, "updated_us", (double)lm_wall_us());
            cJSON_AddNumberToObject(j, "driver_pid", (double)getpid());
            cJSON_AddItemToObject(j, "nodes", nodes(rt, g));
            cJSON_AddItemToObject(j, "actors", actors(rt, g));
            cJSON_AddItemToObject(j, "placement_groups", groups(rt, g));
        }
    }
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return text;
}

void lm_gcs_write_state(lm_rt *rt)
{
    char *text = lm_gcs_state_json(rt, "all");
    if (!text)
        return;
    char path[700];
    snprintf(path, sizeof path, "%s/state.json", rt->job_dir);
    lm_write_file_atomic(rt, path, text);
    cJSON_free(text);
}
