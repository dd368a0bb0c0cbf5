/*
 * timeline.c - Ray's timeline: every run of a task, actor method or
 * constructor on this rank is recorded (function, actor class, start, end,
 * bytes of arguments, failed or not) in a bounded per-rank buffer, and
 * lumen_timeline(path) gathers every rank's events over control messages
 * and writes them as Chrome trace JSON (one complete "X" event each, pid =
 * node, tid = rank), which chrome://tracing and Perfetto load. JSON is
 * written with cJSON. With LUMEN_TIMELINE=path the driver writes it at
 * lumen_finalize.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "gcs/gcs.h"
#include "observe/observe.h"
#include "runtime/config.h"

/* one event as it is kept and as it travels (little-endian hosts only, like
 * the rest of the wire) */
typedef struct lm_event {
    uint64_t start_us, end_us, arg_bytes;
    int32_t rank, node;
    uint8_t kind, failed;
    char fn[64];
    char cls[64];
} lm_event;

typedef struct lm_timeline {
    pthread_mutex_t lock;
    lm_event *ev;
    size_t n, cap, dropped;
} lm_timeline;

static lm_timeline tl = {.lock = PTHREAD_MUTEX_INITIALIZER};

uint64_t lm_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

static size_t max_events(void)
{
    size_t n;
    if (lm_env_size("LUMEN_TIMELINE_EVENTS", &n) > 0)
        return n;
    return 1u << 20;
}

void lm_timeline_record(lm_rt *rt, int kind, const char *fn, const char *cls, uint64_t start_us,
                        uint64_t end_us, uint64_t arg_bytes, int failed)
{
    pthread_mutex_lock(&tl.lock);
    if (tl.n == tl.cap) {
        size_t limit = max_events();
        size_t cap = tl.cap ? 2 * tl.cap : 1024;
        if (cap > limit)
            cap = limit;
        lm_event *ev = cap > tl.cap ? realloc(tl.ev, cap * sizeof *ev) : NULL;
        if (!ev) {
            tl.dropped++;
            pthread_mutex_unlock(&tl.lock);
            return;
        }
        tl.ev = ev;
        tl.cap = cap;
    }
    lm_event *e = &tl.ev[tl.n++];
    memset(e, 0, sizeof *e);
    e->start_us = start_us;
    e->end_us = end_us;
    e->arg_bytes = arg_bytes;
    e->rank = rt->rank;
    e->node = rt->node_id;
    e->kind = (uint8_t)kind;
    e->failed = (uint8_t)(failed != 0);
    snprintf(e->fn, sizeof e->fn, "%s", fn ? fn : "");
    snprintf(e->cls, sizeof e->cls, "%s", cls ? cls : "");
    pthread_mutex_unlock(&tl.lock);
}

void lm_timeline_free(lm_rt *rt)
{
    (void)rt;
    pthread_mutex_lock(&tl.lock);
    free(tl.ev);
    tl.ev = NULL;
    tl.n = tl.cap = tl.dropped = 0;
    pthread_mutex_unlock(&tl.lock);
}

/* a copy of this rank's events (caller frees) */
static lm_event *snapshot(size_t *n)
{
    pthread_mutex_lock(&tl.lock);
    lm_event *copy = malloc((tl.n ? tl.n : 1) * sizeof *copy);
    *n = copy ? tl.n : 0;
    if (copy && tl.n)
        memcpy(copy, tl.ev, tl.n * sizeof *copy);
    pthread_mutex_unlock(&tl.lock);
    return copy;
}

void lm_timeline_answer(lm_rt *rt, int src, int tag)
{
    size_t n;
    lm_event *ev = snapshot(&n);
    lm_ctl_msg r = {.op = LM_CTL_REPLY, .tag = tag, .blob = ev, .blob_len = n * sizeof *ev};
    r.v[0] = ev ? LUMEN_OK : LUMEN_ERR_NO_MEMORY;
    lm_ctl_send(rt, src, &r);
    free(ev);
}

static const char *kind_name(int k)
{
    return k == LM_EV_CALL ? "actor_method" : k == LM_EV_CREATE ? "actor_creation" : "task";
}

/* events of one rank into the trace (strings checked: they came over the wire) */
static int add_events(cJSON *arr, const lm_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lm_event e = ev[i];
        e.fn[sizeof e.fn - 1] = '\0';
        e.cls[sizeof e.cls - 1] = '\0';
        char name[160];
        if (e.kind == LM_EV_CALL)
            snprintf(name, sizeof name, "%s.%s", e.cls, e.fn);
        else if (e.kind == LM_EV_CREATE)
            snprintf(name, sizeof name, "%s.__init__", e.fn);
        else
            snprintf(name, sizeof name, "%s", e.fn);
        cJSON *o = cJSON_CreateObject();
        cJSON *args = cJSON_CreateObject();
        if (!o || !args) {
            cJSON_Delete(o);
            cJSON_Delete(args);
            return 0;
        }
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "cat", kind_name(e.kind));
        cJSON_AddStringToObject(o, "ph", "X");
        cJSON_AddNumberToObject(o, "ts", (double)e.start_us);
        cJSON_AddNumberToObject(o, "dur", (double)(e.end_us >= e.start_us ? e.end_us - e.start_us : 0));
        cJSON_AddNumberToObject(o, "pid", e.node);
        cJSON_AddNumberToObject(o, "tid", e.rank);
        cJSON_AddNumberToObject(args, "rank", e.rank);
        cJSON_AddNumberToObject(args, "node", e.node);
        cJSON_AddNumberToObject(args, "arg_bytes", (double)e.arg_bytes);
        cJSON_AddStringToObject(args, "function", e.fn);
        if (e.cls[0])
            cJSON_AddStringToObject(args, "actor_class", e.cls);
        cJSON_AddBoolToObject(args, "failed", e.failed);
        cJSON_AddItemToObject(o, "args", args);
        cJSON_AddItemToArray(arr, o);
    }
    return 1;
}

lumen_status lumen_timeline(const char *path)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!path || !*path)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_timeline: NULL or empty path");
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    lm_rpc *r = calloc((size_t)rt->size, sizeof *r);
    if (!root || !arr || !r) {
        cJSON_Delete(root);
        cJSON_Delete(arr);
        free(r);
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the timeline");
    }
    cJSON_AddItemToObject(root, "traceEvents", arr);
    cJSON_AddStringToObject(root, "displayTimeUnit", "ms");
    /* ask every other rank; our own events are read here */
    for (int p = 0; p < rt->size; p++) {
        if (p == rt->rank)
            continue;
        lm_rpc_begin(rt, &r[p]);
        lm_ctl_msg m = {.op = LM_CTL_TIMELINE_QUERY, .tag = r[p].tag};
        lm_ctl_send(rt, p, &m);
    }
    lumen_status st = LUMEN_OK;
    size_t n;
    lm_event *mine = snapshot(&n);
    if (!mine || !add_events(arr, mine, n))
        st = lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the timeline");
    free(mine);
    for (int p = 0; p < rt->size; p++) {
        if (p == rt->rank)
            continue;
        lumen_status s = lm_rpc_wait(rt, &r[p], 60000000000ull);
        if (s == LUMEN_OK && (r[p].reply.v[0] != LUMEN_OK || r[p].reply.blob_len % sizeof(lm_event)))
            s = lm_error(LUMEN_ERR_PROTOCOL, "rank %d sent a malformed timeline", p);
        if (s == LUMEN_OK && !add_events(arr, r[p].reply.blob, r[p].reply.blob_len / sizeof(lm_event)))
            s = lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the timeline");
        if (s != LUMEN_OK && st == LUMEN_OK)
            st = s;
        lm_rpc_end(rt, &r[p]);
    }
    free(r);
    if (st == LUMEN_OK) {
        char *text = cJSON_PrintUnformatted(root);
        FILE *f = text ? fopen(path, "w") : NULL;
        if (!text) {
            st = lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the timeline text");
        } else if (!f) {
            st = lm_error(LUMEN_ERR_IO, "cannot write the timeline to %s: %s", path, strerror(errno));
        } else {
            int bad = fputs(text, f) < 0;
            bad |= fclose(f) != 0;
            if (bad)
                st = lm_error(LUMEN_ERR_IO, "writing the timeline to %s failed", path);
        }
        cJSON_free(text);
    }
    cJSON_Delete(root);
    return st;
}
