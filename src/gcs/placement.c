/*
 * placement.c - the control store's placement groups: choosing ranks for
 * bundles under PACK, SPREAD, STRICT_PACK and STRICT_SPREAD, reserving
 * them (every rank acknowledges before the group counts as created, Ray's
 * two phases), removal, and the room actors find inside bundles.
 *
 * A bundle goes to one rank. "Node" is lumen_node_id(): ranks sharing
 * memory, or each rank alone with LUMEN_RANK_IS_NODE=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "gcs/gcs_int.h"

static gcs_pg *find(struct lm_gcs *g, lm_oid id)
{
    for (gcs_pg *p = g->pgs; p; p = p->next)
        if (lm_oid_eq(p->id, id))
            return p;
    return NULL;
}

static const char *strategy_name(int s)
{
    static const char *names[] = {"PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"};
    return s >= 0 && s < 4 ? names[s] : "?";
}

/* ---- choosing ranks -------------------------------------------------------- */
typedef struct fitter {
    lm_rt *rt;
    double *free;  /* size x LM_MAX_RES, consumed as bundles are placed */
    int n;
    double (*b)[LM_MAX_RES];
    int *rank;
} fitter;

static double *fr(fitter *f, int r) { return &f->free[(size_t)r * LM_MAX_RES]; }

static void put(fitter *f, int i, int r, double sign)
{
    for (int k = 0; k < LM_MAX_RES; k++)
        fr(f, r)[k] -= sign * f->b[i][k];
    f->rank[i] = sign > 0 ? r : -1;
}

/* first rank of `node` (any node when -1) where bundle i fits */
static int fit_rank(fitter *f, int i, int node)
{
    for (int r = 0; r < f->rt->size; r++)
        if ((node < 0 || f->rt->node_of[r] == node) && lm_res_fits(fr(f, r), f->b[i], f->rt->nres))
            return r;
    return -1;
}

static int nodes_of(lm_rt *rt, int *nodes) /* distinct node ids, in rank order */
{
    int n = 0;
    for (int r = 0; r < rt->size; r++)
        if (rt->node_of[r] == r)
            nodes[n++] = r;
    return n;
}

static int all_on_node(fitter *f, int node)
{
    for (int i = 0; i < f->n; i++) {
        int r = fit_rank(f, i, node);
        if (r < 0) {
            for (int j = 0; j < i; j++)
                put(f, j, f->rank[j], -1);
            return 0;
        }
        put(f, i, r, 1);
    }
    return 1;
}

static int strict_pack(fitter *f, int *nodes, int nn)
{
    for (int k = 0; k < nn; k++)
        if (all_on_node(f, nodes[k]))
            return 1;
    return 0;
}

/* bundle i onwards each on a node not in used[] (backtracking) */
static int strict_spread(fitter *f, int i, int *nodes, int nn, char *used)
{
    if (i == f->n)
        return 1;
    for (int k = 0; k < nn; k++) {
        if (used[k])
            continue;
        int r = fit_rank(f, i, nodes[k]);
        if (r < 0)
            continue;
        put(f, i, r, 1);
        used[k] = 1;
        if (strict_spread(f, i + 1, nodes, nn, used))
            return 1;
        used[k] = 0;
        put(f, i, r, -1);
    }
    return 0;
}

/* greedy: each bundle to a node chosen by `pref` (most or fewest bundles of
 * the group already there) where it fits */
static int greedy(fitter *f, int *nodes, int nn, int most)
{
    int *count = calloc((size_t)nn, sizeof *count);
    if (!count)
        return 0;
    for (int i = 0; i < f->n; i++) {
        int best = -1, best_r = -1;
        for (int k = 0; k < nn; k++) {
            int r = fit_rank(f, i, nodes[k]);
            if (r < 0)
                continue;
            if (best < 0 || (most ? count[k] > count[best] : count[k] < count[best])) {
                best = k;
                best_r = r;
            }
        }
        if (best < 0) {
            for (int j = 0; j < i; j++)
                put(f, j, f->rank[j], -1);
            free(count);
            return 0;
        }
        put(f, i, best_r, 1);
        count[best]++;
    }
    free(count);
    return 1;
}

/* 1 and f->rank filled, or 0 and why */
static int fit(fitter *f, int strategy, char *why, size_t whylen)
{
    lm_rt *rt = f->rt;
    int *nodes = malloc((size_t)rt->size * sizeof *nodes);
    char *used = calloc((size_t)rt->size, 1);
    int ok = 0;
    if (!nodes || !used) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    int nn = nodes_of(rt, nodes);
    for (int i = 0; i < f->n; i++)
        f->rank[i] = -1;
    switch (strategy) {
    case LUMEN_PG_STRICT_PACK:
        ok = strict_pack(f, nodes, nn);
        break;
    case LUMEN_PG_STRICT_SPREAD:
        ok = f->n <= nn && strict_spread(f, 0, nodes, nn, used);
        break;
    case LUMEN_PG_PACK:
        ok = strict_pack(f, nodes, nn) || greedy(f, nodes, nn, 1);
        break;
    default:
        ok = (f->n <= nn && strict_spread(f, 0, nodes, nn, used)) || greedy(f, nodes, nn, 0);
        break;
    }
    if (!ok) {
        if (strategy == LUMEN_PG_STRICT_SPREAD && f->n > nn)
            snprintf(why, whylen, "STRICT_SPREAD needs %d different nodes and the job has %d", f->n, nn);
        else
            snprintf(why, whylen, "%s: the bundles do not fit the ranks' resources", strategy_name(strategy));
        for (int i = 0; i < f->n; i++) {
            int any = -1;
            for (int r = 0; r < rt->size && any < 0; r++)
                if (lm_res_fits(&rt->res_total[(size_t)r * LM_MAX_RES], f->b[i], rt->nres))
                    any = r;
            if (any < 0) {
                snprintf(why, whylen, "bundle %d fits no rank: ", i);
                for (int k = 0; k < rt->nres; k++)
                    if (f->b[i][k] > 0) {
                        double best = 0;
                        for (int r = 0; r < rt->size; r++)
                            if (rt->res_total[(size_t)r * LM_MAX_RES + k] > best)
                                best = rt->res_total[(size_t)r * LM_MAX_RES + k];
                        size_t l = strlen(why);
                        snprintf(why + l, whylen - l, "%s=%g (largest rank offers %g) ", rt->resname[k],
                                 f->b[i][k], best);
                    }
                break;
            }
        }
    }
out:
    free(nodes);
    free(used);
    return ok;
}

/* ---- group life ------------------------------------------------------------ */
/* a removed group whose ranks have all let go is forgotten: a later lookup
 * hears "no such placement group" */
static void forget(struct lm_gcs *g, gcs_pg *p)
{
    for (gcs_pg **pp = &g->pgs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p->b);
    free(p->used);
    free(p->rank);
    free(p->subs.r);
    free(p);
}

static void notify_one(lm_rt *rt, gcs_pg *p, int dest)
{
    int64_t *ranks = malloc((size_t)p->n * sizeof *ranks);
    lm_ctl_msg m = {.op = LM_CTL_PG_NOTIFY, .a = p->id};
    m.v[0] = p->state;
    m.v[1] = p->n;
    m.s[0] = p->why;
    m.slen[0] = (uint32_t)strlen(p->why);
    if (ranks && p->state == LM_PG_CREATED) {
        for (int i = 0; i < p->n; i++)
            ranks[i] = p->rank[i];
        m.blob = ranks;
        m.blob_len = (uint64_t)p->n * sizeof *ranks;
    }
    lm_ctl_send(rt, dest, &m);
    free(ranks);
}

static void notify_all(lm_rt *rt, gcs_pg *p)
{
    for (int i = 0; i < p->subs.n; i++)
        notify_one(rt, p, p->subs.r[i]);
}

/* try to place a pending group now: reserve and ask the ranks */
static int try_place(lm_rt *rt, struct lm_gcs *g, gcs_pg *p)
{
    double *free_now = malloc((size_t)rt->size * LM_MAX_RES * sizeof(double));
    if (!free_now)
        return 0;
    for (int r = 0; r < rt->size; r++)
        lm_gcs_free_of(rt, g, r, &free_now[(size_t)r * LM_MAX_RES]);
    fitter f = {rt, free_now, p->n, p->b, p->rank};
    char why[256];
    int ok = fit(&f, p->strategy, why, sizeof why);
    free(free_now);
    if (!ok)
        return 0;
    p->reserved = 1;
    p->acks = 0;
    for (int i = 0; i < p->n; i++) {
        for (int k = 0; k < LM_MAX_RES; k++)
            g->reserved[(size_t)p->rank[i] * LM_MAX_RES + k] += p->b[i][k];
        lm_ctl_msg m = {.op = LM_CTL_PG_RESERVE, .a = p->id, .blob = p->b[i], .blob_len = sizeof p->b[i]};
        m.v[0] = i;
        lm_ctl_send(rt, p->rank[i], &m);
    }
    return 1;
}

int lm_gcs_pgs_retry(lm_rt *rt, struct lm_gcs *g)
{
    int n = 0;
    /* oldest first: the list is newest first, so find the oldest waiting each time */
    for (;;) {
        gcs_pg *oldest = NULL;
        for (gcs_pg *p = g->pgs; p; p = p->next)
            if (p->state == LM_PG_PENDING && !p->reserved)
                oldest = p;
        if (!oldest || !try_place(rt, g, oldest))
            return n;
        n++;
    }
}

static void on_create(lm_rt *rt, struct lm_gcs *g, int src, const lm_ctl_msg *m)
{
    int n = (int)m->v[1], strategy = (int)m->v[0];
    if (n < 1 || n > 4096 || strategy < 0 || strategy > 3 || !m->blob ||
        m->blob_len != (uint64_t)n * LM_MAX_RES * sizeof(double) || find(g, m->a)) {
        lm_ctl_reply(rt, src, m->tag, LUMEN_ERR_PROTOCOL, "malformed placement group request");
        return;
    }
    gcs_pg *p = calloc(1, sizeof *p);
    if (p) {
        p->b = malloc((size_t)n * sizeof *p->b);
        p->used = calloc((size_t)n, sizeof *p->used);
        p->rank = malloc((size_t)n * sizeof *p->rank);
    }
    if (!p || !p->b || !p->used || !p->rank) {
        if (p) {
            free(p->b);
            free(p->used);
            free(p->rank);
        }
        free(p);
        lm_ctl_reply(rt, src, m->tag, LUMEN_ERR_NO_MEMORY, "the control store is out of memory");
        return;
    }
    memcpy(p->b, m->blob, (size_t)m->blob_len);
    p->id = m->a;
    p->owner = src;
    p->n = n;
    p->strategy = strategy;
    lm_ctl_str(m, 0, p->name, sizeof p->name);
    /* could it ever be placed, on an empty job? */
    double *totals = malloc((size_t)rt->size * LM_MAX_RES * sizeof(double));
    char why[256] = "";
    int feasible = 0;
    if (totals) {
        memcpy(totals, rt->res_total, (size_t)rt->size * LM_MAX_RES * sizeof(double));
        fitter f = {rt, totals, n, p->b, p->rank};
        feasible = fit(&f, strategy, why, sizeof why);
        free(totals);
    }
    if (!feasible) {
        char msg[320];
        snprintf(msg, sizeof msg, "placement group (%s, %d bundles) is infeasible: %s", strategy_name(strategy), n, why);
        lm_ctl_reply(rt, src, m->tag, LUMEN_ERR_INFEASIBLE, msg);
        free(p->b);
        free(p->used);
        free(p->rank);
        free(p);
        return;
    }
    p->state = LM_PG_PENDING;
    lm_gcs_subs_add(&p->subs, src);
    p->next = g->pgs;
    g->pgs = p;
    lm_ctl_reply(rt, src, m->tag, LUMEN_OK, NULL);
    /* groups wait their turn: a newer group does not jump an older one */
    lm_gcs_pgs_retry(rt, g);
}

static void on_remove(lm_rt *rt, struct lm_gcs *g, int src, const lm_ctl_msg *m)
{
    gcs_pg *p = find(g, m->a);
    if (!p) {
        lm_ctl_reply(rt, src, m->tag, LUMEN_ERR_NOT_FOUND, "no such placement group");
        return;
    }
    if (p->state == LM_PG_REMOVED) { /* a second remove while ranks let go */
        lm_ctl_reply(rt, src, m->tag, LUMEN_OK, NULL);
        return;
    }
    p->remover = src;
    p->remove_tag = m->tag;
    p->releasing = 0;
    lm_gcs_kill_actors_in_pg(rt, g, p->id);
    if (p->reserved) {
        for (int i = 0; i < p->n; i++)
            for (int k = 0; k < LM_MAX_RES; k++)
                g->reserved[(size_t)p->rank[i] * LM_MAX_RES + k] -= p->b[i][k];
        for (int i = 0; i < p->n; i++) {
            int dup = 0;
            for (int j = 0; j < i; j++)
                dup |= p->rank[j] == p->rank[i];
            if (!dup) {
                lm_ctl_msg r = {.op = LM_CTL_PG_RELEASE, .a = p->id};
                lm_ctl_send(rt, p->rank[i], &r);
                p->releasing++;
            }
        }
        p->reserved = 0;
    }
    p->state = LM_PG_REMOVED;
    snprintf(p->why, sizeof p->why, "the placement group was removed");
    notify_all(rt, p);
    if (p->releasing == 0) {
        lm_ctl_reply(rt, src, m->tag, LUMEN_OK, NULL);
        forget(g, p);
    }
    lm_gcs_retry_pending(rt, g);
}

void lm_gcs_pg_op(lm_rt *rt, struct lm_gcs *g, int src, const lm_ctl_msg *m)
{
    switch (m->op) {
    case LM_CTL_PG_CREATE:
        on_create(rt, g, src, m);
        break;
    case LM_CTL_PG_REMOVE:
        on_remove(rt, g, src, m);
        break;
    case LM_CTL_PG_RESERVED: {
        gcs_pg *p = find(g, m->a);
        if (p && m->v[1] == 1) { /* a rank released its bundles */
            if (p->releasing > 0 && --p->releasing == 0) {
                lm_ctl_reply(rt, p->remover, p->remove_tag, LUMEN_OK, NULL);
                forget(g, p);
            }
            break;
        }
        if (p && p->state == LM_PG_PENDING && p->reserved && ++p->acks == p->n) {
            p->state = LM_PG_CREATED;
            notify_all(rt, p);
            lm_gcs_actors_retry(rt, g); /* actors waiting for room in it */
        }
        break;
    }
    case LM_CTL_PG_LOOKUP: {
        gcs_pg *p = find(g, m->a);
        if (p) {
            lm_gcs_subs_add(&p->subs, src);
            notify_one(rt, p, src);
        } else {
            gcs_pg unknown = {.id = m->a, .state = LM_PG_REMOVED};
            snprintf(unknown.why, sizeof unknown.why, "no such placement group");
            notify_one(rt, &unknown, src);
        }
        break;
    }
    default:
        break;
    }
}

/* ---- actors inside bundles ------------------------------------------------- */
int lm_gcs_pg_take(struct lm_gcs *g, lm_oid pg, int *index, const double *demand, int nres, int *rank,
                   char *why, size_t whylen)
{
    gcs_pg *p = find(g, pg);
    if (!p || p->state == LM_PG_REMOVED) {
        snprintf(why, whylen, "its placement group is removed or unknown");
        return -1;
    }
    if (*index >= p->n) {
        snprintf(why, whylen, "bundle %d of a placement group of %d bundles", *index, p->n);
        return -1;
    }
    if (p->state != LM_PG_CREATED)
        return 0;
    for (int i = 0; i < p->n; i++) {
        if (*index >= 0 && i != *index)
            continue;
        double room[LM_MAX_RES];
        for (int k = 0; k < LM_MAX_RES; k++)
            room[k] = p->b[i][k] - p->used[i][k];
        if (!lm_res_fits(room, demand, nres))
            continue;
        for (int k = 0; k < LM_MAX_RES; k++)
            p->used[i][k] += demand[k];
        *index = i;
        *rank = p->rank[i];
        return 1;
    }
    /* a demand larger than the bundle itself can never fit */
    for (int i = 0; i < p->n; i++)
        if ((*index < 0 || i == *index) && lm_res_fits(p->b[i], demand, nres))
            return 0;
    snprintf(why, whylen, "it asks for more than its placement group bundle holds");
    return -1;
}

void lm_gcs_pg_give(struct lm_gcs *g, lm_oid pg, int index, const double *demand, int nres)
{
    (void)nres;
    gcs_pg *p = find(g, pg);
    if (!p || index < 0 || index >= p->n)
        return;
    for (int k = 0; k < LM_MAX_RES; k++)
        p->used[index][k] -= demand[k];
}
