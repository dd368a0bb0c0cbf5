/*
 * state_api.c - Ray's state API and the `lumen` command: with a named actor,
 * a placement group, a put object and a sleeping task alive, lumen_state
 * lists each (actors with class, name, state and rank; groups with their
 * bundles; one node entry per rank; the driver's task and object; a status
 * summary with totals and counts), parsed with cJSON; unknown kinds and NULL
 * pointers are errors. Then the `lumen` command, given the job folder from
 * the runtime context, prints the actor and the status from the state file
 * the driver keeps there, and the tasks and objects from the files each rank
 * keeps next to it.
 */
#include "check.h"

#include <cjson/cJSON.h>
#include <unistd.h>

LUMEN_REMOTE(st_sleep)
{
    usleep(4000 * 1000);
    return lumen_return_i64(ctx, 0, 1);
}

static lumen_status st_init(lumen_task_ctx *ctx, void **self)
{
    (void)ctx;
    *self = NULL;
    return LUMEN_OK;
}
LUMEN_ACTOR_CLASS(StateProbe, st_init, NULL)
LUMEN_METHOD(StateProbe, ping)
{
    (void)self;
    return lumen_return_i64(ctx, 0, 1);
}

static cJSON *state(const char *what)
{
    char *text = NULL;
    CHECK_OK(lumen_state(what, &text));
    CHECK(text);
    cJSON *j = cJSON_Parse(text);
    CHECKF(j, "lumen_state(%s) is not JSON: %.200s", what, text);
    lumen_free(text);
    return j;
}

static const cJSON *find(const cJSON *arr, const char *key, const char *value)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, key));
        if (s && !strcmp(s, value))
            return e;
    }
    return NULL;
}

/* the command's output, or NULL if it exited with an error */
static int run_once(const char *cmd, const char *want, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    CHECK(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return rc == 0 && strstr(out, want) != NULL;
}

/* state files are rewritten at most once a second: try for a few */
static void run_until(const char *cmd, const char *want)
{
    char out[8192];
    for (int i = 0; i < 40; i++) {
        if (run_once(cmd, want, out, sizeof out))
            return;
        usleep(100 * 1000);
    }
    CHECKF(0, "'%s' never printed '%s'; last output:\n%s", cmd, want, out);
}

static void run(const char *cmd, const char *want)
{
    FILE *p = popen(cmd, "r");
    CHECK(p);
    char out[8192];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    CHECKF(rc == 0, "'%s' exited with %d: %s", cmd, rc, out);
    CHECKF(strstr(out, want), "'%s' printed no '%s':\n%s", cmd, want, out);
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_rank() == 0) {
        int n = lumen_world_size();
        lumen_actor_options ao = {.field_mask = LUMEN_ACTOR_NAME, .name = "probe"};
        lumen_actor a;
        CHECK_OK(lumen_actor_create("StateProbe", NULL, 0, &ao, &a));
        lumen_ref r;
        int64_t one;
        CHECK_OK(LUMEN_ACTOR_CALL0(&r, a, "ping"));
        CHECK_OK(lumen_get_i64(r, T_TIMEOUT, &one));
        CHECK_OK(lumen_ref_release(r));
        const char *bundles[1] = {"CPU=0.5"};
        lumen_placement_group pg;
        CHECK_OK(lumen_placement_group_create(bundles, 1, LUMEN_PG_PACK, "state-pg", &pg));
        CHECK_OK(lumen_placement_group_wait(pg, T_TIMEOUT));
        char data[4096] = {1};
        lumen_ref obj, slow;
        CHECK_OK(lumen_put(data, sizeof data, &obj));
        lumen_task_options zero = {.field_mask = LUMEN_TASK_NUM_CPUS, .num_cpus = 0};
        CHECK_OK(lumen_remote("st_sleep", NULL, 0, &zero, &slow));

        cJSON *actors = state("actors");
        const cJSON *me = find(actors, "name", "probe");
        CHECKF(me, "the actor is not listed");
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(me, "class_name")), "StateProbe"));
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(me, "state")), "ALIVE"));
        int rank = cJSON_GetObjectItemCaseSensitive(me, "rank")->valueint;
        CHECK(rank >= 0 && rank < n);
        cJSON_Delete(actors);

        cJSON *pgs = state("placement_groups");
        const cJSON *g = find(pgs, "name", "state-pg");
        CHECK(g && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "state")), "CREATED"));
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "bundles")) == 1);
        cJSON_Delete(pgs);

        cJSON *nodes = state("nodes");
        CHECK(cJSON_GetArraySize(nodes) == n);
        lumen_runtime_context host;
        CHECK_OK(lumen_get_runtime_context(&host));
        for (int k = 0; k < n; k++) { /* hwloc's view of each rank's host (one host here) */
            const cJSON *nd = cJSON_GetArrayItem(nodes, k);
            CHECK(nd && cJSON_GetObjectItemCaseSensitive(nd, "rank")->valueint == k);
            CHECK(cJSON_GetObjectItemCaseSensitive(nd, "numa_domains")->valueint == host.numa_domains);
            CHECK(cJSON_GetObjectItemCaseSensitive(nd, "cores")->valueint == host.host_cores);
            CHECK(cJSON_GetObjectItemCaseSensitive(nd, "memory_bytes")->valuedouble == (double)host.host_memory);
            const cJSON *bound = cJSON_GetObjectItemCaseSensitive(nd, "numa_bound");
            CHECK(cJSON_IsArray(bound) && cJSON_GetArraySize(bound) >= 1);
            const cJSON *d;
            cJSON_ArrayForEach(d, bound) CHECK(d->valueint >= 0 && d->valueint < host.numa_domains);
        }
        cJSON_Delete(nodes);

        char idhex[33];
        lumen_ref_hex(obj, idhex);
        cJSON *objs = state("objects");
        const cJSON *o = find(objs, "object_id", idhex);
        CHECKF(o, "the put object %s is not listed", idhex);
        CHECK(cJSON_GetObjectItemCaseSensitive(o, "size")->valuedouble == sizeof data);
        cJSON_Delete(objs);

        cJSON *tasks = state("tasks");
        CHECKF(find(tasks, "name", "st_sleep"), "the sleeping task is not listed");
        cJSON_Delete(tasks);

        cJSON *status = state("status");
        CHECK(cJSON_GetObjectItemCaseSensitive(status, "ranks")->valueint == n);
        CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(status, "actors"), "alive")->valueint >= 1);
        CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(status, "resources_total"), "CPU"));
        cJSON_Delete(status);

        char *text = NULL;
        CHECK_ST(lumen_state("everything", &text), LUMEN_ERR_INVALID_ARG);
        CHECK_ST(lumen_state(NULL, &text), LUMEN_ERR_INVALID_ARG);
        CHECK_ST(lumen_state("actors", NULL), LUMEN_ERR_INVALID_ARG);

        /* the command reads the driver's state file (written within 0.5 s) */
        lumen_runtime_context rc;
        CHECK_OK(lumen_get_runtime_context(&rc));
        usleep(700 * 1000);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s --job %s list actors", LUMEN_CLI, rc.job_dir);
        run(cmd, "StateProbe");
        snprintf(cmd, sizeof cmd, "%s --job %s status", LUMEN_CLI, rc.job_dir);
        run(cmd, "actors: 1 alive");
        snprintf(cmd, sizeof cmd, "%s --job %s list placement-groups", LUMEN_CLI, rc.job_dir);
        run(cmd, "state-pg");
        snprintf(cmd, sizeof cmd, "%s --job %s list tasks", LUMEN_CLI, rc.job_dir);
        run_until(cmd, "st_sleep");
        snprintf(cmd, sizeof cmd, "%s --job %s list objects", LUMEN_CLI, rc.job_dir);
        run_until(cmd, idhex);
        snprintf(cmd, sizeof cmd, "%s --job /nonexistent status 2>&1; test $? -eq 1 && echo refused", LUMEN_CLI);
        run(cmd, "refused");

        CHECK_OK(lumen_get_i64(slow, T_TIMEOUT, &one));
        CHECK_OK(lumen_ref_release(slow));
        CHECK_OK(lumen_ref_release(obj));
        CHECK_OK(lumen_placement_group_remove(pg));
        CHECK_OK(lumen_actor_release(a));
        printf("state_api: OK on %d ranks\n", n);
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
