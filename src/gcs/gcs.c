/*
 * gcs.c - the control store's life (rank 0), its dispatch of operations,
 * and the resources it has promised on each rank: what actors hold and
 * what placement group bundles reserve. Tasks are not counted here: they
 * come and go quickly and queue on their rank when resources are busy.
 */
#include <stdlib.h>
#include <string.h>

#include "collective/coll.h"
#include "common/error.h"
#include "gcs/gcs_int.h"

lumen_status lm_gcs_start(lm_rt *rt)
{
    struct lm_gcs *g = calloc(1, sizeof *g);
    if (g) {
        g->reserved = calloc((size_t)rt->size * LM_MAX_RES, sizeof(double));
        g->nactors = calloc((size_t)rt->size, sizeof(int));
        g->told = calloc((size_t)rt->size * LM_MAX_RES, sizeof(double));
    }
    if (!g || !g->reserved || !g->nactors || !g->told) {
        if (g) {
            free(g->told);
            free(g->reserved);
            free(g->nactors);
        }
        free(g);
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the control store");
    }
    rt->gcs = g;
    rt->state_dirty = 1;
    return LUMEN_OK;
}

void lm_gcs_free(lm_rt *rt)
{
    struct lm_gcs *g = rt->gcs;
    if (!g)
        return;
    for (int b = 0; b < GCS_ACTOR_BUCKETS; b++) {
        while (g->abucket[b]) {
            gcs_actor *a = g->abucket[b];
            g->abucket[b] = a->hnext;
            free(a->spec);
            free(a->subs.r);
            free(a);
        }
    }
    while (g->pgs) {
        gcs_pg *p = g->pgs;
        g->pgs = p->next;
        free(p->b);
        free(p->used);
        free(p->rank);
        free(p->subs.r);
        free(p);
    }
    free(g->reserved);
    free(g->told);
    free(g->nactors);
    free(g);
    rt->gcs = NULL;
}

void lm_gcs_subs_add(gcs_subs *s, int rank)
{
    for (int i = 0; i < s->n; i++)
        if (s->r[i] == rank)
            return;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 4;
        int *r = realloc(s->r, (size_t)cap * sizeof *r);
        if (!r)
            return;
        s->r = r;
        s->cap = cap;
    }
    s->r[s->n++] = rank;
}

void lm_gcs_free_of(lm_rt *rt, struct lm_gcs *g, int r, double *out)
{
    for (int k = 0; k < LM_MAX_RES; k++)
        out[k] = rt->res_total[(size_t)r * LM_MAX_RES + k] - g->reserved[(size_t)r * LM_MAX_RES + k];
}

void lm_gcs_retry_pending(lm_rt *rt, struct lm_gcs *g)
{
    /* actors first (they were asked for first, usually), then groups; a
     * group placed may free nothing, an actor placed may fill a rank */
    for (int round = 0; round < 4; round++) {
        int n = lm_gcs_actors_retry(rt, g);
        n += lm_gcs_pgs_retry(rt, g);
        if (n == 0)
            break;
    }
}

/* Tell every rank what changed in the reservations, so owners stop sending
 * tasks to ranks whose resources actors and bundles hold (sched.c). */
static void publish_reserved(lm_rt *rt, struct lm_gcs *g)
{
    size_t rec = sizeof(int64_t) + LM_MAX_RES * sizeof(double);
    unsigned char *blob = NULL;
    size_t n = 0;
    for (int r = 0; r < rt->size; r++) {
        double *now = &g->reserved[(size_t)r * LM_MAX_RES], *told = &g->told[(size_t)r * LM_MAX_RES];
        if (!memcmp(now, told, LM_MAX_RES * sizeof(double)))
            continue;
        if (!blob && !(blob = malloc(rec * (size_t)rt->size)))
            return;
        int64_t rr = r;
        memcpy(blob + n * rec, &rr, sizeof rr);
        memcpy(blob + n * rec + sizeof rr, now, LM_MAX_RES * sizeof(double));
        memcpy(told, now, LM_MAX_RES * sizeof(double));
        n++;
    }
    if (!n)
        return;
    lm_ctl_msg m = {.op = LM_CTL_RES_VIEW, .blob = blob, .blob_len = n * rec};
    for (int r = 0; r < rt->size; r++)
        lm_ctl_send(rt, r, &m);
    free(blob);
}

void lm_gcs_handle(lm_rt *rt, int src, const lm_ctl_msg *m)
{
    switch (m->op) {
    case LM_CTL_ACTOR_REGISTER:
    case LM_CTL_ACTOR_SCHEDULE:
    case LM_CTL_ACTOR_STATE:
    case LM_CTL_ACTOR_LOOKUP:
    case LM_CTL_ACTOR_GET_NAMED:
    case LM_CTL_ACTOR_KILL:
        lm_gcs_actor_op(rt, rt->gcs, src, m);
        break;
    case LM_CTL_PG_CREATE:
    case LM_CTL_PG_RESERVED:
    case LM_CTL_PG_LOOKUP:
    case LM_CTL_PG_REMOVE:
        lm_gcs_pg_op(rt, rt->gcs, src, m);
        break;
    case LM_CTL_COLL_JOIN:
    case LM_CTL_COLL_LEAVE:
    case LM_CTL_COLL_DESTROY:
        lm_coll_gcs_handle(rt, src, m);
        return;
    default:
        break;
    }
    publish_reserved(rt, rt->gcs);
    rt->state_dirty = 1;
}
