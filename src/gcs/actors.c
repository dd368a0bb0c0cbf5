/*
 * actors.c - the control store's actor table: registration and names,
 * where each actor is placed (and placed again after a failure), its state
 * as every interested rank hears it, kills.
 *
 * Life of an actor here: REGISTER (name checked) -> SCHEDULE (the owner's
 * creation message, once its arguments are ready) -> placed on a rank whose
 * unpromised resources fit (or waits) -> the host reports ALIVE -> ... ->
 * the host reports DEAD: restart on a rank that fits while max_restarts
 * allows, or dead for good. Each change goes to the subscribers (the
 * owner, and every rank that looked the actor up).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "collective/coll.h"
#include "gcs/gcs_int.h"

static size_t abucket(lm_oid id) { return (size_t)((id.lo * 0x9e3779b97f4a7c15ull) >> 40) % GCS_ACTOR_BUCKETS; }

static gcs_actor *find(struct lm_gcs *g, lm_oid id)
{
    for (gcs_actor *a = g->abucket[abucket(id)]; a; a = a->hnext)
        if (lm_oid_eq(a->id, id))
            return a;
    return NULL;
}

static void set_waiting(struct lm_gcs *g, gcs_actor *a, int waiting)
{
    g->nwaiting += waiting - a->waiting;
    a->waiting = waiting;
}

static gcs_actor *find_named(struct lm_gcs *g, const char *name, const char *ns)
{
    for (gcs_actor *a = g->actors; a; a = a->next)
        if (a->named && a->state != LM_ACTOR_DEAD && !strcmp(a->name, name) && !strcmp(a->ns, ns))
            return a;
    return NULL;
}

static void notify_one(lm_rt *rt, gcs_actor *a, int dest, int tag)
{
    lm_ctl_msg m = {.op = LM_CTL_ACTOR_NOTIFY, .tag = tag, .a = a->id};
    m.v[0] = a->state;
    m.v[1] = a->host;
    m.v[2] = a->incarnation;
    m.v[3] = a->max_task_retries;
    m.v[4] = a->max_pending;
    m.s[0] = a->cause;
    m.slen[0] = (uint32_t)strlen(a->cause);
    m.s[1] = a->cls;
    m.slen[1] = (uint32_t)strlen(a->cls);
    lm_ctl_send(rt, dest, &m);
}

static void notify_all(lm_rt *rt, gcs_actor *a)
{
    for (int i = 0; i < a->subs.n; i++)
        notify_one(rt, a, a->subs.r[i], 0);
}

static void release(lm_rt *rt, struct lm_gcs *g, gcs_actor *a)
{
    if (!a->placed)
        return;
    a->placed = 0;
    if (a->strat_kind == LUMEN_SCHED_PLACEMENT_GROUP) {
        lm_gcs_pg_give(g, a->pg, a->bundle, a->hold, rt->nres);
    } else {
        for (int k = 0; k < LM_MAX_RES; k++)
            g->reserved[(size_t)a->host * LM_MAX_RES + k] -= a->hold[k];
    }
    g->nactors[a->host]--;
}

static void set_dead(lm_rt *rt, gcs_actor *a, const char *cause)
{
    struct lm_gcs *g = rt->gcs;
    a->state = LM_ACTOR_DEAD;
    set_waiting(g, a, 0);
    /* off the live list; the hash keeps it so late lookups learn the cause */
    if (a->prev)
        a->prev->next = a->next;
    else if (g->actors == a)
        g->actors = a->next;
    if (a->next)
        a->next->prev = a->prev;
    a->next = a->prev = NULL;
    snprintf(a->cause, sizeof a->cause, "%s", cause);
    free(a->spec);
    a->spec = NULL;
    notify_all(rt, a);
}

/* The rank for actor a now: >= 0, -1 to wait, -2 never (cause set). */
static int choose(lm_rt *rt, struct lm_gcs *g, gcs_actor *a)
{
    if (a->strat_kind == LUMEN_SCHED_PLACEMENT_GROUP) {
        int idx = a->bundle_req, rank = -1;
        int r = lm_gcs_pg_take(g, a->pg, &idx, a->hold, rt->nres, &rank, a->cause, sizeof a->cause);
        if (r < 0)
            return -2;
        if (r == 0)
            return -1;
        a->bundle = idx;
        return rank;
    }
    int best = -1;
    double best_load = 0;
    for (int pass = 0; pass < 2 && best < 0; pass++) {
        int affinity = a->strat_kind == LUMEN_SCHED_NODE_AFFINITY && pass == 0;
        if (pass == 1 && !(a->strat_kind == LUMEN_SCHED_NODE_AFFINITY && a->strat_soft))
            break;
        for (int i = 0; i < rt->size; i++) {
            int r = a->strat_kind == LUMEN_SCHED_SPREAD ? rt->spread_order[(g->spread_rr + i) % rt->size]
                                                         : (g->spread_rr + i) % rt->size;
            if (affinity && rt->node_of[r] != a->strat_node)
                continue;
            double fr[LM_MAX_RES];
            lm_gcs_free_of(rt, g, r, fr);
            if (!lm_res_fits(fr, a->hold, rt->nres))
                continue;
            if (a->default_cpu && rt->res_total[(size_t)r * LM_MAX_RES] < 1.0 - 1e-9)
                continue;
            if (a->strat_kind == LUMEN_SCHED_SPREAD) {
                best = r;
                g->spread_rr = (g->spread_rr + i + 1) % rt->size;
                break;
            }
            /* fewest actors; the owner's rank counts half an actor more, so
             * a lone actor goes to a peer and leaves the owner its cores */
            double load = g->nactors[r] + (r == a->owner && rt->size > 1 ? 0.5 : 0);
            if (best < 0 || load < best_load - 1e-9) {
                best = r;
                best_load = load;
            }
        }
    }
    if (best >= 0 && a->strat_kind != LUMEN_SCHED_SPREAD)
        g->spread_rr = (best + 1) % rt->size;
    return best;
}

static void place(lm_rt *rt, struct lm_gcs *g, gcs_actor *a)
{
    int r = choose(rt, g, a);
    if (r == -2) {
        char cause[600];
        snprintf(cause, sizeof cause, "cannot be placed: %s", a->cause);
        set_dead(rt, a, cause);
        return;
    }
    if (r < 0) {
        set_waiting(g, a, 1);
        return;
    }
    lm_task_msg *m = malloc(sizeof *m);
    if (!m || lm_msg_decode_task(a->spec, a->spec_len, m) != LUMEN_OK) {
        free(m);
        set_dead(rt, a, "its creation message is malformed");
        return;
    }
    set_waiting(g, a, 0);
    a->placed = 1;
    a->host = r;
    g->nactors[r]++;
    if (a->strat_kind != LUMEN_SCHED_PLACEMENT_GROUP)
        for (int k = 0; k < LM_MAX_RES; k++)
            g->reserved[(size_t)r * LM_MAX_RES + k] += a->hold[k];
    m->attempt = a->incarnation;
    m->bundle = a->strat_kind == LUMEN_SCHED_PLACEMENT_GROUP ? a->bundle : -1;
    memcpy(m->demand, a->hold, sizeof m->demand);
    m->ndemand = (uint8_t)rt->nres;
    lm_wbuf w;
    lm_wbuf_init(&w, a->spec_len + 64);
    lm_msg_encode_task(&w, m);
    free(m);
    lm_send_wbuf(rt, r, &w);
}

int lm_gcs_actors_retry(lm_rt *rt, struct lm_gcs *g)
{
    int n = 0;
    if (g->nwaiting == 0)
        return 0;
    for (gcs_actor *a = g->actors, *next; a; a = next) {
        next = a->next; /* place() may take a off the list */
        if (a->waiting && a->spec) {
            place(rt, g, a);
            n += !a->waiting;
        }
    }
    return n;
}

void lm_gcs_kill_actors_in_pg(lm_rt *rt, struct lm_gcs *g, lm_oid pg)
{
    for (gcs_actor *a = g->actors, *next; a; a = next) {
        next = a->next; /* set_dead takes a off the list */
        if (a->state == LM_ACTOR_DEAD || a->strat_kind != LUMEN_SCHED_PLACEMENT_GROUP || !lm_oid_eq(a->pg, pg))
            continue;
        const char *why = "its placement group was removed";
        a->no_restart = 1;
        if (a->placed) {
            lm_ctl_msg k = {.op = LM_CTL_ACTOR_KILL_HOST, .a = a->id};
            k.v[0] = 1;
            k.v[1] = a->incarnation;
            k.s[0] = why;
            k.slen[0] = (uint32_t)strlen(why);
            lm_ctl_send(rt, a->host, &k);
        } else {
            set_dead(rt, a, why);
        }
    }
}

static void on_register(lm_rt *rt, struct lm_gcs *g, int src, const lm_ctl_msg *m)
{
    gcs_actor *a = calloc(1, sizeof *a);
    if (!a) {
        lm_ctl_reply(rt, src, m->tag, LUMEN_ERR_NO_MEMORY, "the control store is out of memory");
        return;
    }
    a->id = m->a;
    lm_ctl_str(m, 0, a->name, sizeof a->name);
    lm_ctl_str(m, 1, a->ns, sizeof a->ns);
    lm_ctl_str(m, 2, a->cls, sizeof a->cls);
    a->named = a->name[0] != '\0';
    if (a->named) {
        gcs_actor *old = find_named(g, a->name, a->ns);
        if (old) {
            if (m->v[0] & LM_REG_GET_IF_EXISTS) {
                lm_gcs_subs_add(&old->subs, src);
                lm_ctl_msg r = {.op = LM_CTL_REPLY, .tag = m->tag, .a = old->id};
                r.v[1] = 1;
                lm_ctl_send(rt, src, &r);
            } else {
                char msg[LUMEN_ACTOR_NAME_MAX * 2 + 96];
                snprintf(msg, sizeof msg, "an actor named '%s' already exists in namespace '%s'", a->name, a->ns);
                lm_ctl_reply(rt, src, m->tag, LUMEN_ERR_ALREADY_EXISTS, msg);
            }
            free(a);
            return;
        }
    }
    if (find(g, a->id)) {
        lm_ctl_reply(rt, src, m->tag, LUMEN_ERR_INVALID_ARG, "actor id registered twice");
        free(a);
        return;
    }
    a->owner = src;
    a->host = -1;
    a->detached = (m->v[0] & LM_REG_DETACHED) != 0;
    a->max_restarts = (int)m->v[1];
    a->max_task_retries = (int)m->v[2];
    a->max_pending = (int)m->v[3];
    a->state = LM_ACTOR_PENDING;
    lm_gcs_subs_add(&a->subs, src);
    a->next = g->actors;
    if (a->next)
        a->next->prev = a;
    g->actors = a;
    size_t b = abucket(a->id);
    a->hnext = g->abucket[b];
    g->abucket[b] = a;
    lm_ctl_reply(rt, src, m->tag, LUMEN_OK, NULL);
}

static void on_schedule(lm_rt *rt, struct lm_gcs *g, int src, const lm_ctl_msg *m)
{
    gcs_actor *a = find(g, m->a);
    if (!a || a->owner != src || a->spec || a->state == LM_ACTOR_DEAD)
        return; /* killed before it could be created, or a stray message */
    lm_task_msg *t = malloc(sizeof *t);
    if (!t || !m->blob || lm_msg_decode_task(m->blob, m->blob_len, t) != LUMEN_OK || t->kind != LM_KIND_CREATE) {
        free(t);
        set_dead(rt, a, "its creation message is malformed");
        return;
    }
    memcpy(a->hold, t->demand, sizeof a->hold);
    free(t);
    a->spec = malloc(m->blob_len);
    if (!a->spec) {
        set_dead(rt, a, "the control store is out of memory");
        return;
    }
    memcpy(a->spec, m->blob, m->blob_len);
    a->spec_len = m->blob_len;
    a->strat_kind = (int)m->v[0];
    a->strat_node = (int)m->v[1];
    a->strat_soft = (int)m->v[2];
    a->default_cpu = (int)m->v[3];
    a->pg = m->b;
    a->bundle_req = (int)m->v[4];
    place(rt, g, a);
}

static void on_state(lm_rt *rt, struct lm_gcs *g, int src, const lm_ctl_msg *m)
{
    gcs_actor *a = find(g, m->a);
    if (!a || (uint32_t)m->v[1] != a->incarnation || a->host != src)
        return; /* about an earlier life */
    if (m->v[0] == LM_ACTOR_ALIVE) {
        if (a->state != LM_ACTOR_DEAD) {
            a->state = LM_ACTOR_ALIVE;
            notify_all(rt, a);
        }
        return;
    }
    /* dead on its rank */
    release(rt, g, a);
    char cause[512];
    lm_ctl_str(m, 0, cause, sizeof cause);
    /* its state is gone, restarted or not: its collective groups end */
    lm_coll_gcs_actor_gone(rt, a->id, cause);
    if (a->state != LM_ACTOR_DEAD) {
        int can = m->v[2] && !a->no_restart && (a->max_restarts < 0 || a->restarts < a->max_restarts);
        if (can) {
            a->restarts++;
            a->incarnation++;
            a->state = LM_ACTOR_RESTARTING;
            snprintf(a->cause, sizeof a->cause, "%s", cause);
            notify_all(rt, a);
            /* the owner encodes the creation again: references among the
             * arguments carry weight that the last constructor gave back */
            free(a->spec);
            a->spec = NULL;
            lm_ctl_msg r = {.op = LM_CTL_ACTOR_RESPEC, .a = a->id};
            lm_ctl_send(rt, a->owner, &r);
        } else {
            char full[600];
            if (m->v[2] && !a->no_restart && a->max_restarts != 0)
                snprintf(full, sizeof full, "%s (after %d restarts)", cause, a->restarts);
            else
                snprintf(full, sizeof full, "%s", cause);
            set_dead(rt, a, full);
        }
    }
    lm_gcs_retry_pending(rt, g);
}

static void on_kill(lm_rt *rt, struct lm_gcs *g, const lm_ctl_msg *m)
{
    gcs_actor *a = find(g, m->a);
    if (!a || a->state == LM_ACTOR_DEAD)
        return;
    char cause[512];
    lm_ctl_str(m, 0, cause, sizeof cause);
    if (!cause[0])
        snprintf(cause, sizeof cause, "killed by lumen_actor_kill");
    if (m->v[0])
        a->no_restart = 1;
    if (a->placed) {
        lm_ctl_msg k = {.op = LM_CTL_ACTOR_KILL_HOST, .a = a->id};
        k.v[0] = m->v[0];
        k.v[1] = a->incarnation;
        k.s[0] = cause;
        k.slen[0] = (uint32_t)strlen(cause);
        lm_ctl_send(rt, a->host, &k);
    } else if (a->no_restart || a->max_restarts == 0) {
        set_dead(rt, a, cause);
    }
}

void lm_gcs_actor_op(lm_rt *rt, struct lm_gcs *g, int src, const lm_ctl_msg *m)
{
    switch (m->op) {
    case LM_CTL_ACTOR_REGISTER:
        on_register(rt, g, src, m);
        break;
    case LM_CTL_ACTOR_SCHEDULE:
        on_schedule(rt, g, src, m);
        break;
    case LM_CTL_ACTOR_STATE:
        on_state(rt, g, src, m);
        break;
    case LM_CTL_ACTOR_KILL:
        on_kill(rt, g, m);
        break;
    case LM_CTL_ACTOR_LOOKUP: {
        gcs_actor *a = find(g, m->a);
        if (a) {
            lm_gcs_subs_add(&a->subs, src);
            notify_one(rt, a, src, 0);
        } else {
            lm_ctl_msg r = {.op = LM_CTL_ACTOR_NOTIFY, .a = m->a};
            r.v[0] = LM_ACTOR_UNKNOWN;
            lm_ctl_send(rt, src, &r);
        }
        break;
    }
    case LM_CTL_ACTOR_GET_NAMED: {
        char name[LUMEN_ACTOR_NAME_MAX], ns[LUMEN_ACTOR_NAME_MAX];
        lm_ctl_str(m, 0, name, sizeof name);
        lm_ctl_str(m, 1, ns, sizeof ns);
        gcs_actor *a = find_named(g, name, ns);
        if (a) {
            lm_gcs_subs_add(&a->subs, src);
            notify_one(rt, a, src, m->tag);
        } else {
            lm_ctl_msg r = {.op = LM_CTL_ACTOR_NOTIFY, .tag = m->tag};
            r.v[0] = LM_ACTOR_UNKNOWN;
            lm_ctl_send(rt, src, &r);
        }
        break;
    }
    default:
        break;
    }
}
