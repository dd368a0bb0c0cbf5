/*
 * rendezvous.c - the collective groups in the control store (rank 0): who
 * joined which name, and the moment a group is complete.
 *
 * Members JOIN by name with the world size and their rank. When the last
 * member joins, the store gives the group an id and sends READY (the lumen
 * rank of every member) to each rank that holds members, in one global
 * order: every rank builds group communicators in that order, so two groups
 * sharing ranks can never wait on each other. A conflicting JOIN (another
 * world size, a rank taken) fails every member waiting on that name; a JOIN
 * to a live group fails alone. DESTROY frees the name and tells every rank
 * of the group. A member that is an actor is known by its actor id: when
 * the actor is gone (dead, or restarting without its state), the group is
 * destroyed for the others with the cause, and a group still forming fails
 * its waiting members. Runs in rank 0's progress role: no lock.
 *
 * Does not own: the groups as ranks see them (group.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collective/coll.h"

typedef struct rv_group {
    struct rv_group *next;
    char name[LM_COLL_NAME_MAX];
    int world, backend, joined, live;
    uint64_t gid;
    int64_t *lrank;         /* per member, -1 until it joins */
    lm_oid *actor;          /* per member: its actor id, {0, 0} if not an actor */
} rv_group;

static rv_group *rv_groups;
static uint64_t rv_next_gid;

static rv_group *rv_find(const char *name)
{
    for (rv_group *g = rv_groups; g; g = g->next)
        if (!strcmp(g->name, name))
            return g;
    return NULL;
}

static void rv_drop(rv_group *g)
{
    for (rv_group **pp = &rv_groups; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    free(g->lrank);
    free(g->actor);
    free(g);
}

static void send_ready(lm_rt *rt, int dest, const char *name, lumen_status st, int world, int grank, int backend,
                       uint64_t gid, const char *why, const int64_t *lrank)
{
    lm_ctl_msg m = {.op = LM_CTL_COLL_READY};
    m.s[0] = name;
    m.slen[0] = (uint32_t)strlen(name);
    m.v[0] = st;
    m.v[1] = world;
    m.v[2] = grank;
    m.v[3] = backend;
    m.a.lo = gid;
    if (why) {
        m.s[1] = why;
        m.slen[1] = (uint32_t)strlen(why);
    }
    if (lrank) {
        m.blob = lrank;
        m.blob_len = (uint64_t)world * sizeof(int64_t);
    }
    lm_ctl_send(rt, dest, &m);
}

/* fail every member waiting on g, and forget it */
static void rv_fail_all(lm_rt *rt, rv_group *g, lumen_status st, const char *why)
{
    for (int r = 0; r < g->world; r++) {
        if (g->lrank[r] < 0)
            continue;
        int seen = 0;
        for (int q = 0; q < r; q++)
            seen |= g->lrank[q] == g->lrank[r];
        if (!seen)
            send_ready(rt, (int)g->lrank[r], g->name, st, g->world, -1, g->backend, 0, why, NULL);
    }
    rv_drop(g);
}

static void rv_join(lm_rt *rt, int src, const char *name, int world, int grank, int backend, lm_oid actor)
{
    char why[200];
    rv_group *g = rv_find(name);
    if (g && g->live) {
        snprintf(why, sizeof why, "collective group '%s' already exists with %d members (destroy it first)", name,
                 g->world);
        send_ready(rt, src, name, LUMEN_ERR_ALREADY_EXISTS, world, grank, backend, 0, why, NULL);
        return;
    }
    if (g && (g->world != world || g->backend != backend)) {
        snprintf(why, sizeof why,
                 "collective group '%s': rank %d joined with world_size %d and backend %d, earlier members with "
                 "world_size %d and backend %d",
                 name, grank, world, backend, g->world, g->backend);
        send_ready(rt, src, name, LUMEN_ERR_INVALID_ARG, world, grank, backend, 0, why, NULL);
        rv_fail_all(rt, g, LUMEN_ERR_INVALID_ARG, why);
        return;
    }
    if (g && g->lrank[grank] >= 0) {
        snprintf(why, sizeof why, "collective group '%s': rank %d joined twice (lumen ranks %d and %d)", name,
                 grank, (int)g->lrank[grank], src);
        send_ready(rt, src, name, LUMEN_ERR_ALREADY_EXISTS, world, grank, backend, 0, why, NULL);
        rv_fail_all(rt, g, LUMEN_ERR_ALREADY_EXISTS, why);
        return;
    }
    if (!g) {
        g = calloc(1, sizeof *g);
        int64_t *lr = calloc((size_t)world, sizeof *lr);
        lm_oid *ac = calloc((size_t)world, sizeof *ac);
        if (!g || !lr || !ac) {
            free(g);
            free(lr);
            free(ac);
            send_ready(rt, src, name, LUMEN_ERR_NO_MEMORY, world, grank, backend, 0,
                       "no memory in the control store", NULL);
            return;
        }
        snprintf(g->name, sizeof g->name, "%s", name);
        g->world = world;
        g->backend = backend;
        g->lrank = lr;
        g->actor = ac;
        for (int r = 0; r < world; r++)
            lr[r] = -1;
        g->next = rv_groups;
        rv_groups = g;
    }
    g->lrank[grank] = src;
    g->actor[grank] = actor;
    if (++g->joined < g->world)
        return;
    g->live = 1;
    g->gid = ++rv_next_gid;
    for (int r = 0; r < g->world; r++) {
        int seen = 0;
        for (int q = 0; q < r; q++)
            seen |= g->lrank[q] == g->lrank[r];
        if (!seen)
            send_ready(rt, (int)g->lrank[r], g->name, LUMEN_OK, g->world, -1, g->backend, g->gid, NULL, g->lrank);
    }
}

/* tell every rank of live group g that member `by` destroyed it (gone:
 * NULL) or that its actor is gone (why), and forget it */
static void rv_destroy(lm_rt *rt, rv_group *g, int by, const char *gone)
{
    lm_ctl_msg d = {.op = LM_CTL_COLL_DESTROYED};
    d.s[0] = g->name;
    d.slen[0] = (uint32_t)strlen(g->name);
    d.a.lo = g->gid;
    d.v[1] = by;
    if (gone) {
        d.v[2] = 1;
        d.s[1] = gone;
        d.slen[1] = (uint32_t)strlen(gone);
    }
    for (int r = 0; r < g->world; r++) {
        int seen = 0;
        for (int q = 0; q < r; q++)
            seen |= g->lrank[q] == g->lrank[r];
        if (!seen)
            lm_ctl_send(rt, (int)g->lrank[r], &d);
    }
    rv_drop(g);
}

void lm_coll_gcs_actor_gone(lm_rt *rt, lm_oid actor, const char *cause)
{
    if (actor.hi == 0 && actor.lo == 0)
        return;
    for (rv_group *g = rv_groups, *next; g; g = next) {
        next = g->next;
        int r = 0;
        while (r < g->world && !(g->lrank[r] >= 0 && lm_oid_eq(g->actor[r], actor)))
            r++;
        if (r == g->world)
            continue;
        char why[200];
        snprintf(why, sizeof why, "member %d of collective group '%s' is gone: %s", r, g->name,
                 cause && cause[0] ? cause : "its actor died");
        if (g->live)
            rv_destroy(rt, g, r, why);
        else
            rv_fail_all(rt, g, LUMEN_ERR_ACTOR_DIED, why);
    }
}

void lm_coll_gcs_handle(lm_rt *rt, int src, const lm_ctl_msg *m)
{
    char name[LM_COLL_NAME_MAX];
    lm_ctl_str(m, 0, name, sizeof name);
    int world = (int)m->v[0], grank = (int)m->v[1];
    if (m->op == LM_CTL_COLL_JOIN) {
        if (world < 1 || world > 1 << 20 || grank < 0 || grank >= world)
            return; /* checked by the member before sending */
        lm_oid actor = m->v[3] == 1 ? m->a : (lm_oid){0, 0};
        rv_join(rt, src, name, world, grank, (int)m->v[2], actor);
    } else if (m->op == LM_CTL_COLL_LEAVE) {
        rv_group *g = rv_find(name);
        if (g && !g->live && grank >= 0 && grank < g->world && g->lrank[grank] == src) {
            g->lrank[grank] = -1;
            g->actor[grank] = (lm_oid){0, 0};
            if (--g->joined == 0)
                rv_drop(g);
        }
    } else if (m->op == LM_CTL_COLL_DESTROY) {
        rv_group *g = rv_find(name);
        if (g && g->live)
            rv_destroy(rt, g, grank, NULL);
        /* answered after DESTROYED: per-pair order puts it behind */
        lm_ctl_reply(rt, src, m->tag, LUMEN_OK, NULL);
    }
}

void lm_coll_gcs_free(void)
{
    while (rv_groups)
        rv_drop(rv_groups);
    rv_next_gid = 0;
}
