/*
 * placement.h - placement groups as ranks see them: the public calls and
 * the cache of groups this rank uses (client.c), and the bundles reserved
 * on this rank that tasks and actors draw on (bundles.c). Where bundles go
 * is decided by the control store (src/gcs/placement.c).
 */
#ifndef LUMEN_PLACEMENT_H
#define LUMEN_PLACEMENT_H

#include "gcs/gcs.h"
#include "runtime/runtime.h"

/* ---- bundles.c: reservations on this rank (exec_lock inside) ---- */
typedef struct lm_bundle {
    struct lm_bundle *next;
    lm_oid pg;
    int index;
    double demand[LM_MAX_RES]; /* what the bundle reserved */
    double avail[LM_MAX_RES];  /* what is free in it */
    int removed;               /* the group is gone; freed when unused */
    int users;                 /* tasks and actors drawing on it */
} lm_bundle;

void lm_bundles_handle(lm_rt *rt, int src, const lm_ctl_msg *m); /* RESERVE / RELEASE */
/* exec_lock held: the bundle or NULL; a user reference is taken */
lm_bundle *lm_bundle_acquire(lm_rt *rt, lm_oid pg, int index);
void lm_bundle_put(lm_rt *rt, lm_bundle *b); /* exec_lock held: drop the user reference */
void lm_bundles_free(lm_rt *rt);

/* ---- client.c: groups this rank uses (rt->lock held) ---- */
/* the rank a task of placement group t->strat.pg should go to (and
 * t->bundle set), -1 to wait; *why set when the group is gone */
int lm_pg_target(lm_rt *rt, lm_task_rec *t, const char **why);
/* a bundle index the group is known not to have: an error now */
lumen_status lm_pg_check(lm_rt *rt, const lumen_scheduling_strategy *s);
void lm_pg_handle_notify(lm_rt *rt, const lm_ctl_msg *m); /* rt->lock NOT held */
void lm_pgs_free(lm_rt *rt);

#endif
