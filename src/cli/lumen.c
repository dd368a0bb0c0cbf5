/*
 * lumen.c - the `lumen` command: what a running job holds, read from the
 * state file its driver keeps in the job folder (<job_dir>/state.json, see
 * src/gcs/state.c), like `ray status` and `ray list`. Nothing is asked over
 * the network: the command reads a file, so it works from a login node that
 * shares the file system, and the job listens on nothing.
 *
 *   lumen status                 ranks, resources, actor and group counts
 *   lumen list actors            one line per actor
 *   lumen list placement-groups  one line per group
 *   lumen list nodes             one line per rank
 *   lumen list tasks             unfinished tasks, from each rank's own file
 *   lumen list objects           objects, from each rank's own file
 *   options: --job DIR (the job folder), --json (print the file's part as is)
 *
 * Without --job it takes the newest lumen-<job>/state.json under
 * $LUMEN_SPILL_DIR, $TMPDIR and /tmp.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lumen [--job DIR] [--json] status | list actors | list placement-groups | list nodes\n"
               "                                   | list tasks | list objects\n"
               "  reads DIR/state.json, written by a running job's driver (rank 0);\n"
               "  without --job: the newest lumen-*/state.json under $LUMEN_SPILL_DIR, $TMPDIR, /tmp\n");
}

static int newest_in(const char *base, char *best, size_t cap, double *best_t)
{
    DIR *d = opendir(base);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "lumen-", 6))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/state.json", base, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        double t = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9;
        if (t > *best_t) {
            *best_t = t;
            snprintf(best, cap, "%s", path);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
            } else {
                buf = b;
            }
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static const char *str(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return s ? s : "";
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void print_resources(const cJSON *res)
{
    const cJSON *r;
    int first = 1;
    cJSON_ArrayForEach(r, res)
    {
        if (cJSON_IsNumber(r))
            printf("%s%s=%g", first ? "" : ",", r->string, r->valuedouble);
        first = 0;
    }
}

/* tasks and objects: every state-rank-R.json next to state.json (each rank
 * writes its own; ranks of other nodes are there when the job folder is on
 * a shared file system) */
static int list_per_rank(const char *state_path, const char *part, int json)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", state_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "lumen: cannot open %s\n", dir);
        return 1;
    }
    cJSON *all = cJSON_CreateArray();
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "state-rank-", 11) || !strstr(e->d_name, ".json") || strstr(e->d_name, ".tmp"))
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = slurp(path);
        cJSON *j = text ? cJSON_Parse(text) : NULL;
        free(text);
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, part);
        while (cJSON_IsArray(arr) && cJSON_GetArraySize(arr) > 0)
            cJSON_AddItemToArray(all, cJSON_DetachItemFromArray(arr, 0));
        cJSON_Delete(j);
        files++;
    }
    closedir(d);
    if (json) {
        char *out = cJSON_Print(all);
        printf("%s\n", out ? out : "[]");
        cJSON_free(out);
    } else if (!strcmp(part, "tasks")) {
        printf("%-34s %-24s %-20s %-26s %5s %5s\n", "TASK_ID", "NAME", "TYPE", "STATE", "OWNER", "RANK");
        const cJSON *t;
        cJSON_ArrayForEach(t, all)
        printf("%-34s %-24s %-20s %-26s %5d %5d\n", str(t, "task_id"), str(t, "name"), str(t, "type"), str(t, "state"),
               (int)num(t, "owner_rank"), (int)num(t, "rank"));
    } else {
        printf("%-34s %-8s %5s %12s %-8s %5s\n", "OBJECT_ID", "STATE", "OWNER", "SIZE", "IN_STORE", "REFS");
        const cJSON *o;
        cJSON_ArrayForEach(o, all)
        printf("%-34s %-8s %5d %12.0f %-8s %5d\n", str(o, "object_id"), str(o, "state"), (int)num(o, "owner_rank"),
               num(o, "size"), cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "in_store")) ? "yes" : "no",
               (int)num(o, "reference_count"));
    }
    if (!json)
        printf("(%d rank file(s) in %s)\n", files, dir);
    cJSON_Delete(all);
    return 0;
}

int main(int argc, char **argv)
{
    const char *job = NULL;
    int json = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--job") && i + 1 < argc)
            job = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "lumen: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    const char *part;
    if (i < argc && !strcmp(argv[i], "status") && i + 1 == argc)
        part = "status";
    else if (i + 1 < argc && !strcmp(argv[i], "list") && i + 2 == argc &&
             (!strcmp(argv[i + 1], "actors") || !strcmp(argv[i + 1], "placement-groups") ||
              !strcmp(argv[i + 1], "nodes") || !strcmp(argv[i + 1], "tasks") || !strcmp(argv[i + 1], "objects")))
        part = argv[i + 1];
    else {
        usage(stderr);
        return 2;
    }
    char path[4096];
    if (job) {
        snprintf(path, sizeof path, "%s/state.json", job);
    } else {
        double t = 0;
        const char *bases[] = {getenv("LUMEN_SPILL_DIR"), getenv("TMPDIR"), "/tmp"};
        int found = 0;
        for (int b = 0; b < 3; b++)
            if (bases[b] && *bases[b])
                found |= newest_in(bases[b], path, sizeof path, &t);
        if (!found) {
            fprintf(stderr, "lumen: no running job found (no lumen-*/state.json under $LUMEN_SPILL_DIR, "
                            "$TMPDIR or /tmp); give its folder with --job\n");
            return 1;
        }
    }
    if (!strcmp(part, "tasks") || !strcmp(part, "objects"))
        return list_per_rank(path, part, json);
    char *text = slurp(path);
    if (!text) {
        fprintf(stderr, "lumen: cannot read %s (is the job still running?)\n", path);
        return 1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        fprintf(stderr, "lumen: %s is not a lumen state file\n", path);
        cJSON_Delete(root);
        return 1;
    }
    const char *key = !strcmp(part, "placement-groups") ? "placement_groups" : part;
    cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    cJSON *actors = cJSON_GetObjectItemCaseSensitive(root, "actors");
    cJSON *pgs = cJSON_GetObjectItemCaseSensitive(root, "placement_groups");
    if (json) {
        char *out = cJSON_Print(!strcmp(part, "status") ? root : cJSON_GetObjectItemCaseSensitive(root, key));
        printf("%s\n", out ? out : "null");
        cJSON_free(out);
    } else if (!strcmp(part, "status")) {
        printf("job %s: %d ranks (state of %s)\n", str(root, "job_id"), (int)num(root, "ranks"), path);
        int alive = 0, dead = 0, other = 0;
        const cJSON *a;
        cJSON_ArrayForEach(a, actors)
        {
            const char *s = str(a, "state");
            alive += !strcmp(s, "ALIVE");
            dead += !strcmp(s, "DEAD");
            other += strcmp(s, "ALIVE") && strcmp(s, "DEAD");
        }
        printf("actors: %d alive, %d pending or restarting, %d dead\n", alive, other, dead);
        printf("placement groups: %d\n", cJSON_GetArraySize(pgs));
        printf("resources (total / held by actors and placement groups):\n");
        const cJSON *n;
        cJSON_ArrayForEach(n, nodes)
        {
            printf("  rank %d (node %d, %s): ", (int)num(n, "rank"), (int)num(n, "node_id"), str(n, "host"));
            print_resources(cJSON_GetObjectItemCaseSensitive(n, "resources_total"));
            printf(" / ");
            print_resources(cJSON_GetObjectItemCaseSensitive(n, "resources_reserved"));
            printf("\n");
        }
    } else if (!strcmp(part, "actors")) {
        printf("%-34s %-20s %-16s %-18s %5s %s\n", "ACTOR_ID", "CLASS", "NAME", "STATE", "RANK", "RESTARTS");
        const cJSON *a;
        cJSON_ArrayForEach(a, actors)
        printf("%-34s %-20s %-16s %-18s %5d %d%s%s\n", str(a, "actor_id"), str(a, "class_name"), str(a, "name"),
               str(a, "state"), (int)num(a, "rank"), (int)num(a, "num_restarts"), *str(a, "death_cause") ? "  " : "",
               str(a, "death_cause"));
    } else if (!strcmp(part, "placement-groups")) {
        printf("%-34s %-16s %-14s %-8s %s\n", "PLACEMENT_GROUP_ID", "NAME", "STRATEGY", "STATE", "BUNDLES (rank: resources)");
        const cJSON *p;
        cJSON_ArrayForEach(p, pgs)
        {
            printf("%-34s %-16s %-14s %-8s", str(p, "placement_group_id"), str(p, "name"), str(p, "strategy"),
                   str(p, "state"));
            const cJSON *b;
            cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(p, "bundles"))
            {
                printf(" %d:", (int)num(b, "rank"));
                print_resources(cJSON_GetObjectItemCaseSensitive(b, "resources"));
            }
            printf("\n");
        }
    } else {
        printf("%5s %5s %-20s %-7s %s\n", "RANK", "NODE", "HOST", "ACTORS", "RESOURCES");
        const cJSON *n;
        cJSON_ArrayForEach(n, nodes)
        {
            printf("%5d %5d %-20s %-7d ", (int)num(n, "rank"), (int)num(n, "node_id"), str(n, "host"),
                   (int)num(n, "actors"));
            print_resources(cJSON_GetObjectItemCaseSensitive(n, "resources_total"));
            printf("\n");
        }
    }
    cJSON_Delete(root);
    return 0;
}
