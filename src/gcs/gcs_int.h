/*
 * gcs_int.h - the control store's tables, shared by gcs.c (dispatch and
 * resource accounting), actors.c and placement.c. Private to src/gcs.
 */
#ifndef LUMEN_GCS_INT_H
#define LUMEN_GCS_INT_H

#include "gcs/gcs.h"

typedef struct gcs_subs { /* ranks to tell about changes */
    int *r;
    int n, cap;
} gcs_subs;

typedef struct gcs_actor {
    struct gcs_actor *next, *prev; /* the list of actors not dead for good */
    struct gcs_actor *hnext;       /* hash chain of every actor, dead ones too */
    lm_oid id;
    char cls[LM_FN_MAX], name[LUMEN_ACTOR_NAME_MAX], ns[LUMEN_ACTOR_NAME_MAX];
    int named, detached, owner;
    int state, host;
    uint32_t incarnation;
    int max_restarts, restarts, max_task_retries, max_pending;
    double hold[LM_MAX_RES];  /* held on its rank while alive */
    int default_cpu;          /* Ray's default: needs a rank with a CPU, holds none */
    int strat_kind, strat_node, strat_soft;
    lm_oid pg;
    int bundle_req, bundle;   /* asked for / chosen */
    void *spec;               /* the CREATE task message */
    size_t spec_len;
    gcs_subs subs;
    int placed;               /* holds its resources on `host` */
    int waiting;              /* waits for resources */
    int no_restart;           /* killed for good */
    char cause[512];
} gcs_actor;

typedef struct gcs_pg {
    struct gcs_pg *next;
    lm_oid id;
    int owner, strategy, n, state, acks, reserved;
    double (*b)[LM_MAX_RES];     /* bundle demands */
    double (*used)[LM_MAX_RES];  /* what actors in each bundle hold */
    int *rank;
    char name[LUMEN_ACTOR_NAME_MAX];
    char why[256];
    gcs_subs subs;
    int releasing;            /* ranks yet to confirm the release */
    int remover, remove_tag;  /* who to answer when they have */
} gcs_pg;

#define GCS_ACTOR_BUCKETS 4096

struct lm_gcs {
    gcs_actor *actors;             /* live: pending, alive, restarting */
    gcs_actor *abucket[GCS_ACTOR_BUCKETS]; /* all, by id: a dead actor's cause stays known */
    int nwaiting;                  /* actors waiting for resources */
    gcs_pg *pgs;
    double *reserved;  /* per rank x LM_MAX_RES: held by actors and bundles */
    double *told;      /* what the ranks were last told of it */
    int *nactors;      /* actors placed on each rank */
    int spread_rr;
};

void lm_gcs_subs_add(gcs_subs *s, int rank);
/* free resources of rank r now, for placement */
void lm_gcs_free_of(lm_rt *rt, struct lm_gcs *g, int r, double *out);

#endif
