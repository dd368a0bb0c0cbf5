/*
 * client.c - placement groups as a rank uses them: the public calls, and a
 * cache of each group's state and bundle ranks, filled by the control
 * store's PG_NOTIFY (the creator is told by its request; any other rank
 * subscribes the first time it needs the group). Tasks scheduled into a
 * group wait in the dispatch queue until it is placed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "placement/placement.h"

typedef struct lm_pg_entry {
    struct lm_pg_entry *next;
    lm_oid id;
    int state;
    int n;
    int *rank;
    lm_oid ready;   /* this rank's ready object, once asked for */
    int has_ready;
    char why[256];
} lm_pg_entry;

static lm_pg_entry *entry_find(lm_rt *rt, lm_oid id)
{
    for (lm_pg_entry *e = rt->pgs; e; e = e->next)
        if (lm_oid_eq(e->id, id))
            return e;
    return NULL;
}

/* rt->lock held */
static lm_pg_entry *entry_get(lm_rt *rt, lm_oid id, int subscribe)
{
    lm_pg_entry *e = entry_find(rt, id);
    if (e || !(e = calloc(1, sizeof *e)))
        return e;
    e->id = id;
    e->state = LM_PG_PENDING;
    e->next = rt->pgs;
    rt->pgs = e;
    if (subscribe) {
        lm_ctl_msg m = {.op = LM_CTL_PG_LOOKUP, .a = id};
        lm_ctl_send(rt, 0, &m);
    }
    return e;
}

static void settle_ready(lm_rt *rt, lm_pg_entry *e)
{
    if (!e->has_ready || e->state == LM_PG_PENDING)
        return;
    lm_obj *o = lm_obj_find(rt, e->ready);
    if (!o || o->state != LM_OBJ_PENDING)
        return;
    if (e->state == LM_PG_CREATED) {
        int64_t one = 1;
        lm_wval v = {.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_I64, .data = &one, .size = 8};
        lm_obj_complete(rt, o, &v);
    } else {
        lm_obj_fail(rt, o, e->why[0] ? e->why : "the placement group was removed");
    }
}

void lm_pg_handle_notify(lm_rt *rt, const lm_ctl_msg *m)
{
    pthread_mutex_lock(&rt->lock);
    lm_pg_entry *e = entry_get(rt, m->a, 0);
    if (e && e->state != LM_PG_REMOVED) {
        int n = (int)m->v[1];
        if (m->v[0] == LM_PG_CREATED && n > 0 && m->blob && m->blob_len == (uint64_t)n * sizeof(int64_t)) {
            int *rank = malloc((size_t)n * sizeof *rank);
            if (rank) {
                const int64_t *r = m->blob;
                int ok = 1;
                for (int i = 0; i < n; i++) {
                    rank[i] = (int)r[i];
                    ok &= rank[i] >= 0 && rank[i] < rt->size;
                }
                if (ok) {
                    free(e->rank);
                    e->rank = rank;
                    e->n = n;
                    e->state = LM_PG_CREATED;
                } else {
                    free(rank);
                }
            }
        } else if (m->v[0] == LM_PG_REMOVED) {
            e->state = LM_PG_REMOVED;
            lm_ctl_str(m, 0, e->why, sizeof e->why);
        }
        settle_ready(rt, e);
        lm_dispatch_pending(rt); /* tasks waiting for the group (or failing with it) */
        if (e->state == LM_PG_REMOVED) { /* forget it: a later use looks it up again */
            lm_obj *o = e->has_ready ? lm_obj_find(rt, e->ready) : NULL;
            if (o)
                lm_obj_unref(rt, o); /* the entry's own reference */
            for (lm_pg_entry **pp = &rt->pgs; *pp; pp = &(*pp)->next)
                if (*pp == e) {
                    *pp = e->next;
                    break;
                }
            free(e->rank);
            free(e);
        }
    }
    pthread_cond_broadcast(&rt->ready_cv);
    pthread_mutex_unlock(&rt->lock);
}

int lm_pg_target(lm_rt *rt, lm_task_rec *t, const char **why)
{
    lm_oid id = {t->strat.pg.opaque_[0], t->strat.pg.opaque_[1]};
    lm_pg_entry *e = entry_get(rt, id, 1);
    *why = NULL;
    if (!e || e->state == LM_PG_PENDING)
        return -1;
    if (e->state == LM_PG_REMOVED) {
        *why = e->why[0] ? e->why : "its placement group was removed";
        return -1;
    }
    int idx = t->strat.bundle_index;
    if (idx >= e->n) {
        *why = "bundle index out of range for its placement group";
        return -1;
    }
    if (idx < 0) { /* any bundle: the least busy rank */
        for (int i = 0; i < e->n; i++)
            if (idx < 0 || rt->inflight[e->rank[i]] < rt->inflight[e->rank[idx]])
                idx = i;
    }
    t->bundle = idx;
    return e->rank[idx];
}

lumen_status lm_pg_check(lm_rt *rt, const lumen_scheduling_strategy *s)
{
    lm_oid id = {s->pg.opaque_[0], s->pg.opaque_[1]};
    lm_pg_entry *e = entry_find(rt, id);
    if (e && e->state == LM_PG_CREATED && s->bundle_index >= e->n)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "bundle %d of a placement group of %d bundles", s->bundle_index, e->n);
    if (e && e->state == LM_PG_REMOVED)
        return lm_error(LUMEN_ERR_NOT_FOUND, "%s", e->why[0] ? e->why : "the placement group was removed");
    return LUMEN_OK;
}

void lm_pgs_free(lm_rt *rt)
{
    while (rt->pgs) {
        lm_pg_entry *e = rt->pgs;
        rt->pgs = e->next;
        free(e->rank);
        free(e);
    }
}

/* ---- public calls ------------------------------------------------------------ */
static lumen_status pg_id(lumen_placement_group pg, lm_oid *id)
{
    id->hi = pg.opaque_[0];
    id->lo = pg.opaque_[1];
    if (lm_oid_kind(*id) != LM_OID_PG || id->lo == 0)
        return lm_error(LUMEN_ERR_INVALID_ARG, "not a placement group handle");
    return LUMEN_OK;
}

lumen_status lumen_placement_group_create(const char *const *bundles, size_t n, lumen_pg_strategy strategy,
                                          const char *name, lumen_placement_group *out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!bundles || !out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_placement_group_create: NULL bundles or out");
    if (n == 0)
        return lm_error(LUMEN_ERR_INVALID_ARG, "a placement group needs at least one bundle");
    if (n > 4096)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "%zu bundles (at most 4096)", n);
    if (strategy < LUMEN_PG_PACK || strategy > LUMEN_PG_STRICT_SPREAD)
        return lm_error(LUMEN_ERR_INVALID_ARG, "unknown placement strategy %d", (int)strategy);
    if (name && strlen(name) >= LUMEN_ACTOR_NAME_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "placement group name longer than %d bytes", LUMEN_ACTOR_NAME_MAX - 1);
    double (*b)[LM_MAX_RES] = calloc(n, sizeof *b);
    if (!b)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for %zu bundles", n);
    lumen_status st = LUMEN_OK;
    for (size_t i = 0; i < n && st == LUMEN_OK; i++) {
        if (!bundles[i]) {
            st = lm_error(LUMEN_ERR_INVALID_ARG, "bundle %zu is NULL", i);
            break;
        }
        pthread_mutex_lock(&rt->lock);
        st = lm_parse_resources(rt, bundles[i], b[i], 0);
        pthread_mutex_unlock(&rt->lock);
        if (st != LUMEN_OK) {
            st = lm_error(st, "bundle %zu: %s", i, lumen_last_error());
            break;
        }
        double sum = 0;
        for (int k = 0; k < LM_MAX_RES; k++)
            sum += b[i][k];
        if (sum <= 0)
            st = lm_error(LUMEN_ERR_INVALID_ARG, "bundle %zu ('%s') asks for no resources", i, bundles[i]);
    }
    if (st != LUMEN_OK) {
        free(b);
        return st;
    }
    uint64_t seq = atomic_fetch_add(&rt->seq, 1) + 1;
    lm_oid id = lm_oid_make(rt->rank, 0, LM_OID_PG, rt->epoch, seq);
    lm_rpc r;
    lm_rpc_begin(rt, &r);
    lm_ctl_msg m = {.op = LM_CTL_PG_CREATE, .tag = r.tag, .a = id, .blob = b, .blob_len = n * sizeof *b};
    m.v[0] = strategy;
    m.v[1] = (int64_t)n;
    m.s[0] = name;
    m.slen[0] = name ? (uint32_t)strlen(name) : 0;
    pthread_mutex_lock(&rt->lock);
    lm_pg_entry *e = entry_get(rt, id, 0); /* before the answer: notices may follow it closely */
    pthread_mutex_unlock(&rt->lock);
    lm_ctl_send(rt, 0, &m);
    free(b);
    if (!e) {
        lm_rpc_end(rt, &r);
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a placement group");
    }
    st = lm_rpc_wait(rt, &r, 60000000000ull);
    if (st == LUMEN_OK && r.reply.v[0] != LUMEN_OK) {
        char msg[512];
        lm_ctl_str(&r.reply, 0, msg, sizeof msg);
        st = lm_error((lumen_status)r.reply.v[0], "%s", msg);
        pthread_mutex_lock(&rt->lock);
        e->state = LM_PG_REMOVED;
        snprintf(e->why, sizeof e->why, "%.255s", msg);
        pthread_mutex_unlock(&rt->lock);
    }
    lm_rpc_end(rt, &r);
    if (st == LUMEN_OK)
        *out = (lumen_placement_group){{id.hi, id.lo}};
    return st;
}

lumen_status lumen_placement_group_ready(lumen_placement_group pg, lumen_ref *out)
{
    lm_rt *rt = lm_g;
    lm_oid id;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_placement_group_ready: out is NULL");
    lumen_status st = pg_id(pg, &id);
    if (st != LUMEN_OK)
        return st;
    pthread_mutex_lock(&rt->lock);
    lm_pg_entry *e = entry_get(rt, id, 1);
    lm_obj *o = NULL;
    if (e && e->has_ready)
        o = lm_obj_find(rt, e->ready);
    if (e && !o) {
        uint64_t seq = atomic_fetch_add(&rt->seq, 1) + 1;
        e->ready = lm_oid_make(rt->rank, 1, LM_OID_OBJECT, rt->epoch, seq);
        o = lm_obj_new(rt, e->ready);
        e->has_ready = o != NULL;
        settle_ready(rt, e);
    }
    if (o) {
        o->refs++; /* the caller's reference; the entry keeps the first */
        *out = lm_ref_from_oid(o->id);
    }
    pthread_mutex_unlock(&rt->lock);
    return o ? LUMEN_OK : lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a ready reference");
}

typedef struct wait_arg {
    lm_oid id;
} wait_arg;

static int placed_or_gone(lm_rt *rt, void *arg)
{
    lm_pg_entry *e = entry_find(rt, ((wait_arg *)arg)->id);
    return !e || e->state != LM_PG_PENDING;
}

/* Wait until the group is placed. On LUMEN_OK, *n and rank (up to cap
 * entries; may be NULL) describe it. */
static lumen_status wait_state(lm_rt *rt, lm_oid id, int64_t timeout_ms, int *n, int *rank, int cap)
{
    pthread_mutex_lock(&rt->lock);
    lm_pg_entry *e = entry_get(rt, id, 1);
    pthread_mutex_unlock(&rt->lock);
    if (!e)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
    wait_arg a = {id};
    uint64_t deadline = timeout_ms < 0 ? 0 : lm_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    lm_progress(rt);
    lumen_status st = lm_wait_until(rt, placed_or_gone, &a, deadline);
    /* the entry may be gone (a removed group is forgotten): find it again */
    pthread_mutex_lock(&rt->lock);
    e = entry_find(rt, id);
    int state = e ? e->state : LM_PG_REMOVED;
    char why[256];
    snprintf(why, sizeof why, "%s", e ? e->why : "the placement group was removed");
    if (e && state == LM_PG_CREATED) {
        *n = e->n;
        for (int i = 0; rank && i < e->n && i < cap; i++)
            rank[i] = e->rank[i];
    }
    pthread_mutex_unlock(&rt->lock);
    if (state == LM_PG_CREATED)
        return LUMEN_OK;
    if (state == LM_PG_REMOVED)
        return lm_error(LUMEN_ERR_NOT_FOUND, "%s", why[0] ? why : "the placement group was removed");
    if (st == LUMEN_ERR_SHUTDOWN)
        return lm_error(st, "the job is shutting down");
    return lm_error(LUMEN_ERR_TIMEOUT, "the placement group is not placed after %lld ms", (long long)timeout_ms);
}

lumen_status lumen_placement_group_wait(lumen_placement_group pg, int64_t timeout_ms)
{
    lm_rt *rt = lm_g;
    lm_oid id;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    lumen_status st = pg_id(pg, &id);
    if (st != LUMEN_OK)
        return st;
    int n;
    return wait_state(rt, id, timeout_ms, &n, NULL, 0);
}

lumen_status lumen_placement_group_bundle_rank(lumen_placement_group pg, int index, int64_t timeout_ms,
                                               int *rank, int *node_id)
{
    lm_rt *rt = lm_g;
    lm_oid id;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!rank && !node_id)
        return lm_error(LUMEN_ERR_INVALID_ARG, "rank and node_id are both NULL");
    lumen_status st = pg_id(pg, &id);
    if (st != LUMEN_OK)
        return st;
    int n = 0, r = -1;
    int *ranks = malloc(4096 * sizeof *ranks);
    if (!ranks)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
    if ((st = wait_state(rt, id, timeout_ms, &n, ranks, 4096)) != LUMEN_OK) {
        free(ranks);
        return st;
    }
    if (index >= 0 && index < n)
        r = ranks[index];
    free(ranks);
    if (r < 0)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "bundle %d of a group of %d", index, n);
    if (rank)
        *rank = r;
    if (node_id)
        *node_id = rt->node_of[r];
    return LUMEN_OK;
}

lumen_status lumen_placement_group_remove(lumen_placement_group pg)
{
    lm_rt *rt = lm_g;
    lm_oid id;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    lumen_status st = pg_id(pg, &id);
    if (st != LUMEN_OK)
        return st;
    lm_rpc r;
    lm_rpc_begin(rt, &r);
    lm_ctl_msg m = {.op = LM_CTL_PG_REMOVE, .tag = r.tag, .a = id};
    lm_ctl_send(rt, 0, &m);
    st = lm_rpc_wait(rt, &r, 60000000000ull);
    if (st == LUMEN_OK && r.reply.v[0] != LUMEN_OK) {
        char msg[512];
        lm_ctl_str(&r.reply, 0, msg, sizeof msg);
        st = lm_error((lumen_status)r.reply.v[0], "%s", msg);
    }
    lm_rpc_end(rt, &r);
    return st;
}
