/*
 * state.c - lumen_state, Ray's state API: the tasks and objects each rank
 * owns (answered by every rank from its own tables), and the actors,
 * placement groups and nodes the control store knows (answered by rank 0,
 * gcs/state.c), gathered over control messages into one JSON text.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "device/device.h"
#include "gcs/gcs.h"
#include "observe/observe.h"

static void hex(lm_oid id, char out[33]) { lumen_ref_hex(lm_ref_from_oid(id), out); }

static const char *task_state(const lm_task_rec *t)
{
    if (t->done)
        return "FINISHED";
    if (t->cancelled)
        return "CANCELLED";
    if (t->ndeps > 0)
        return "PENDING_ARGS_AVAIL";
    if (t->target < 0)
        return "PENDING_NODE_ASSIGNMENT";
    return "SUBMITTED_TO_WORKER";
}

/* rt->lock held; at most `limit` entries */
static cJSON *local_tasks(lm_rt *rt, int limit)
{
    static const char *kinds[] = {"NORMAL_TASK", "ACTOR_CREATION_TASK", "ACTOR_TASK"};
    cJSON *arr = cJSON_CreateArray();
    int n = 0;
    for (size_t b = 0; arr && b < LM_TASK_BUCKETS && n < limit; b++)
        for (lm_task_rec *t = rt->tasks[b]; t && n < limit; t = t->hnext, n++) {
            cJSON *o = cJSON_CreateObject();
            if (!o)
                continue;
            char id[33];
            hex(t->id, id);
            cJSON_AddStringToObject(o, "task_id", id);
            cJSON_AddStringToObject(o, "name", t->fn);
            cJSON_AddStringToObject(o, "type", t->kind <= LM_KIND_CALL ? kinds[t->kind] : "?");
            cJSON_AddStringToObject(o, "state", task_state(t));
            cJSON_AddNumberToObject(o, "owner_rank", rt->rank);
            cJSON_AddNumberToObject(o, "rank", t->target);
            cJSON_AddNumberToObject(o, "attempt", t->attempt);
            cJSON_AddNumberToObject(o, "num_returns", t->num_returns);
            cJSON_AddItemToArray(arr, o);
        }
    return arr;
}

/* rt->lock held: objects this rank owns, at most `limit` */
static cJSON *local_objects(lm_rt *rt, int limit)
{
    static const char *states[] = {"PENDING", "READY", "ERROR"};
    cJSON *arr = cJSON_CreateArray();
    int n = 0;
    for (size_t b = 0; arr && b < LM_OBJ_BUCKETS && n < limit; b++)
        for (lm_obj *o = rt->objs[b]; o && n < limit; o = o->hnext) {
            if (lm_obj_borrowed(rt, o))
                continue;
            n++;
            cJSON *j = cJSON_CreateObject();
            if (!j)
                continue;
            char id[33];
            hex(o->id, id);
            cJSON_AddStringToObject(j, "object_id", id);
            cJSON_AddStringToObject(j, "state", o->state <= LM_OBJ_ERROR ? states[o->state] : "?");
            cJSON_AddNumberToObject(j, "owner_rank", rt->rank);
            lm_devdesc d;
            int dev = o->type == LUMEN_TYPE_DEVICE && o->state == LM_OBJ_READY &&
                      lm_devdesc_read(o->data, o->size, &d) == LUMEN_OK;
            cJSON_AddNumberToObject(j, "size", dev ? (double)d.size : (double)o->size);
            cJSON_AddBoolToObject(j, "in_store", o->in_store);
            if (dev) { /* a device object: where its bytes are */
                cJSON_AddStringToObject(j, "memory", "device");
                cJSON_AddNumberToObject(j, "holder_rank", d.holder);
                cJSON_AddNumberToObject(j, "device", d.device);
            }
            cJSON_AddNumberToObject(j, "node_id", o->in_store ? o->node : rt->node_id);
            cJSON_AddNumberToObject(j, "reference_count", (double)o->refs);
            cJSON_AddItemToArray(arr, j);
        }
    return arr;
}

static int gcs_kind(const char *what)
{
    return !strcmp(what, "actors") || !strcmp(what, "placement_groups") || !strcmp(what, "nodes");
}

void lm_state_answer(lm_rt *rt, int src, const lm_ctl_msg *m)
{
    char what[32];
    lm_ctl_str(m, 0, what, sizeof what);
    char *text = NULL;
    if (gcs_kind(what)) {
        text = lm_gcs_state_json(rt, what); /* rank 0 */
    } else if (!strcmp(what, "tasks") || !strcmp(what, "objects")) {
        pthread_mutex_lock(&rt->lock);
        cJSON *j = !strcmp(what, "tasks") ? local_tasks(rt, 1 << 30) : local_objects(rt, 1 << 30);
        pthread_mutex_unlock(&rt->lock);
        text = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
    }
    lm_ctl_msg r = {.op = LM_CTL_REPLY, .tag = m->tag, .blob = text, .blob_len = text ? strlen(text) : 0};
    r.v[0] = text ? LUMEN_OK : LUMEN_ERR_INVALID_ARG;
    lm_ctl_send(rt, src, &r);
    cJSON_free(text);
}

static void rank_file(lm_rt *rt, char *out, size_t cap)
{
    snprintf(out, cap, "%s/state-rank-%d.json", rt->job_dir, rt->rank);
}

void lm_state_write_rank(lm_rt *rt)
{
    uint64_t now = lm_now_ns(), changes = atomic_load(&rt->changes);
    if (changes == rt->rank_state_changes || now - rt->rank_state_ns < 1000000000ull)
        return;
    rt->rank_state_changes = changes;
    rt->rank_state_ns = now;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return;
    cJSON_AddNumberToObject(j, "rank", rt->rank);
    cJSON_AddNumberToObject(j, "updated_us", (double)lm_wall_us());
    pthread_mutex_lock(&rt->lock);
    cJSON_AddItemToObject(j, "tasks", local_tasks(rt, 1000));
    cJSON_AddItemToObject(j, "objects", local_objects(rt, 1000));
    cJSON_AddNumberToObject(j, "num_objects", (double)rt->num_objs);
    pthread_mutex_unlock(&rt->lock);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return;
    char path[700];
    rank_file(rt, path, sizeof path);
    lm_write_file_atomic(rt, path, text);
    cJSON_free(text);
}

void lm_write_file_atomic(lm_rt *rt, const char *path, const char *text)
{
    char tmp[1100];
    mkdir(rt->job_dir, 0700); /* the job folder appears on first spill or first state */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0)
        unlink(tmp);
}

void lm_state_remove_rank(lm_rt *rt)
{
    char path[700];
    rank_file(rt, path, sizeof path);
    unlink(path);
}

void lumen_free(void *p) { free(p); }

/* ask ranks [first, last] for `what`, merging their arrays into arr */
static lumen_status gather(lm_rt *rt, const char *what, int first, int last, cJSON *arr)
{
    int n = last - first + 1;
    lm_rpc *r = calloc((size_t)n, sizeof *r);
    if (!r)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
    for (int i = 0; i < n; i++) {
        lm_rpc_begin(rt, &r[i]);
        lm_ctl_msg m = {.op = LM_CTL_STATE_QUERY, .tag = r[i].tag, .s = {what}, .slen = {(uint32_t)strlen(what)}};
        lm_ctl_send(rt, first + i, &m);
    }
    lumen_status st = LUMEN_OK;
    for (int i = 0; i < n; i++) {
        lumen_status s = lm_rpc_wait(rt, &r[i], 60000000000ull);
        cJSON *part = NULL;
        if (s == LUMEN_OK && r[i].reply.v[0] == LUMEN_OK)
            part = cJSON_ParseWithLength(r[i].reply.blob, (size_t)r[i].reply.blob_len);
        if (s == LUMEN_OK && !cJSON_IsArray(part))
            s = lm_error(LUMEN_ERR_PROTOCOL, "rank %d sent a malformed state report", first + i);
        if (part && cJSON_IsArray(part)) {
            while (cJSON_GetArraySize(part) > 0)
                cJSON_AddItemToArray(arr, cJSON_DetachItemFromArray(part, 0));
        }
        cJSON_Delete(part);
        if (s != LUMEN_OK && st == LUMEN_OK)
            st = s;
        lm_rpc_end(rt, &r[i]);
    }
    free(r);
    return st;
}

lumen_status lumen_state(const char *what, char **json)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!what || !json)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_state: NULL what or json");
    *json = NULL;
    int status = !strcmp(what, "status");
    if (!status && !gcs_kind(what) && strcmp(what, "tasks") && strcmp(what, "objects"))
        return lm_error(LUMEN_ERR_INVALID_ARG,
                        "lumen_state: '%s' is not one of actors, placement_groups, nodes, tasks, objects, status", what);
    cJSON *out = status ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!out)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
    lumen_status st;
    if (status) {
        /* ray status: ranks, resources (total, free), actor and group counts */
        cJSON *actors = cJSON_CreateArray(), *pgs = cJSON_CreateArray();
        st = actors && pgs ? gather(rt, "actors", 0, 0, actors) : LUMEN_ERR_NO_MEMORY;
        if (st == LUMEN_OK)
            st = gather(rt, "placement_groups", 0, 0, pgs);
        lumen_resources total, avail;
        if (st == LUMEN_OK)
            st = lumen_cluster_resources(&total);
        if (st == LUMEN_OK)
            st = lumen_available_resources(&avail);
        if (st == LUMEN_OK) {
            cJSON_AddNumberToObject(out, "ranks", rt->size);
            int nodes = 0;
            for (int r = 0; r < rt->size; r++)
                nodes += rt->node_of[r] == r;
            cJSON_AddNumberToObject(out, "nodes", nodes);
            cJSON *t = cJSON_AddObjectToObject(out, "resources_total");
            cJSON *a = cJSON_AddObjectToObject(out, "resources_available");
            for (size_t i = 0; t && a && i < total.count; i++) {
                cJSON_AddNumberToObject(t, total.r[i].name, total.r[i].amount);
                cJSON_AddNumberToObject(a, total.r[i].name, lumen_resources_get(&avail, total.r[i].name));
            }
            int alive = 0, dead = 0, pending = 0;
            cJSON *x;
            cJSON_ArrayForEach(x, actors)
            {
                const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "state"));
                alive += s && !strcmp(s, "ALIVE");
                dead += s && !strcmp(s, "DEAD");
                pending += s && strcmp(s, "ALIVE") && strcmp(s, "DEAD");
            }
            cJSON *ac = cJSON_AddObjectToObject(out, "actors");
            cJSON_AddNumberToObject(ac, "alive", alive);
            cJSON_AddNumberToObject(ac, "pending", pending);
            cJSON_AddNumberToObject(ac, "dead", dead);
            cJSON_AddNumberToObject(out, "placement_groups", cJSON_GetArraySize(pgs));
        }
        cJSON_Delete(actors);
        cJSON_Delete(pgs);
    } else if (gcs_kind(what)) {
        st = gather(rt, what, 0, 0, out);
    } else {
        st = gather(rt, what, 0, rt->size - 1, out);
    }
    if (st == LUMEN_OK) {
        char *text = cJSON_PrintUnformatted(out);
        /* hand out memory lumen_free (free) can release */
        if (text) {
            *json = strdup(text);
            cJSON_free(text);
        }
        if (!*json)
            st = lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the state text");
    }
    cJSON_Delete(out);
    return st;
}
