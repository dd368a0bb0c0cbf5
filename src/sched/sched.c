/*
 * sched.c - where a task runs: feasibility against every rank's resources,
 * and the choice of a rank for a ready task.
 *
 * The submitter decides (Ray's owner-side scheduling): among the ranks whose
 * total resources fit the demand it picks the one with the fewest of its
 * tasks in flight per CPU, preferring the node that already holds the task's
 * largest argument, round-robin among equals (the submitter itself counts
 * half a task heavier). A rank holds at most
 * rt->max_inflight tasks per CPU from one submitter; the rest wait at the
 * submitter and go to whichever rank frees up first. Idle ranks also steal
 * queued tasks from busy ones (executor.c), so one long task never holds
 * back the tasks queued behind it. Resources that actors and placement
 * groups hold (rt->res_reserved, told by the control store) are not
 * offered to tasks: a task no rank has room for now waits at its owner
 * until an actor or a group lets go. All functions run with rt->lock held.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runtime/runtime.h"

static const double EPS = 1e-9;

int lm_sched_feasible(lm_rt *rt, const double *demand, char *why, size_t whylen)
{
    for (int r = 0; r < rt->size; r++)
        if (lm_res_fits(&rt->res_total[(size_t)r * LM_MAX_RES], demand, rt->nres))
            return 1;
    if (why) {
        /* name the first resource nobody has enough of */
        for (int k = 0; k < rt->nres; k++) {
            double best = 0;
            for (int r = 0; r < rt->size; r++)
                best = fmax(best, rt->res_total[(size_t)r * LM_MAX_RES + k]);
            if (demand[k] > best + EPS) {
                snprintf(why, whylen, "needs %s=%g but the largest rank offers %g", rt->resname[k],
                         demand[k], best);
                return 0;
            }
        }
        snprintf(why, whylen, "no single rank offers all of the requested resources together");
    }
    return 0;
}

lumen_status lm_sched_init(lm_rt *rt)
{
    /* SPREAD walks the ranks node-major: the first rank of every node, then
     * the second of every node, ... so consecutive picks change node */
    rt->spread_order = malloc((size_t)rt->size * sizeof(int));
    if (!rt->spread_order)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory");
    int n = 0;
    for (int level = 0; n < rt->size; level++)
        for (int r = 0; r < rt->size; r++) {
            int idx = 0; /* r's position among its node's ranks */
            for (int q = 0; q < r; q++)
                idx += rt->node_of[q] == rt->node_of[r];
            if (idx == level)
                rt->spread_order[n++] = r;
        }
    return LUMEN_OK;
}

static int node_exists(lm_rt *rt, int node)
{
    return node >= 0 && node < rt->size && rt->node_of[node] == node;
}

/* does some rank of `node` (any node: -1) offer the demand in total */
static int fits_somewhere(lm_rt *rt, const double *demand, int node)
{
    for (int r = 0; r < rt->size; r++)
        if ((node < 0 || rt->node_of[r] == node) &&
            lm_res_fits(&rt->res_total[(size_t)r * LM_MAX_RES], demand, rt->nres))
            return 1;
    return 0;
}

lumen_status lm_sched_check(lm_rt *rt, const double *demand, const lumen_scheduling_strategy *s,
                            const char *what)
{
    char why[256];
    if (!lm_sched_feasible(rt, demand, why, sizeof why))
        return lm_error(LUMEN_ERR_INFEASIBLE, "'%s' is infeasible: %s", what, why);
    if (s && s->kind == LUMEN_SCHED_NODE_AFFINITY && !s->soft) {
        if (!node_exists(rt, s->node_id))
            return lm_error(LUMEN_ERR_INFEASIBLE, "'%s' is infeasible: node affinity to node %d, which is not a node of this job",
                            what, s->node_id);
        if (!fits_somewhere(rt, demand, s->node_id))
            return lm_error(LUMEN_ERR_INFEASIBLE, "'%s' is infeasible: no rank of node %d offers the resources",
                            what, s->node_id);
    }
    return LUMEN_OK;
}

int lm_sched_pick(lm_rt *rt, const double *demand, int prefer_node, int nested,
                  const lumen_scheduling_strategy *s)
{
    int best = -1;
    double best_load = 0;
    int spread = s && s->kind == LUMEN_SCHED_SPREAD;
    int node = -1;
    if (s && s->kind == LUMEN_SCHED_NODE_AFFINITY && node_exists(rt, s->node_id) &&
        fits_somewhere(rt, demand, s->node_id))
        node = s->node_id; /* soft affinity to a node that cannot: anywhere */
    for (int i = 0; i < rt->size; i++) {
        int r = spread ? rt->spread_order[(rt->spread_rr + i) % rt->size] : (rt->rr + i) % rt->size;
        const double *tot = &rt->res_total[(size_t)r * LM_MAX_RES];
        if (node >= 0 && rt->node_of[r] != node)
            continue;
        if (!lm_res_fits(tot, demand, rt->nres))
            continue;
        if (rt->res_reserved) { /* what actors and bundles hold there is not for tasks */
            double room[LM_MAX_RES];
            for (int k = 0; k < LM_MAX_RES; k++)
                room[k] = tot[k] - rt->res_reserved[(size_t)r * LM_MAX_RES + k];
            if (!lm_res_fits(room, demand, rt->nres))
                continue;
        }
        double cpus = tot[0] < 1 ? 1 : tot[0];
        /* tasks submitted from inside a task get a cap 8 times larger: their
         * parents, blocked on them, may be what fills the normal one */
        int cap = rt->max_inflight * (int)ceil(cpus) * (nested ? 8 : 1);
        if (rt->inflight[r] >= cap)
            continue;
        if (spread) { /* the next rank in node-major order that has room */
            rt->spread_rr = (rt->spread_rr + i + 1) % rt->size;
            return r;
        }
        double load = rt->inflight[r] / cpus;
        /* the submitting rank's own threads compete with its executors for
         * the cores, so it counts half a task heavier: a lone sync task goes
         * to an idle peer, while a batch still fills every rank */
        if (r == rt->rank && rt->size > 1)
            load += 0.5;
        /* locality: a rank on the node holding the data counts one task per
         * CPU lighter */
        if (prefer_node >= 0 && rt->node_of[r] == prefer_node)
            load -= 1.0;
        if (best < 0 || load < best_load - EPS) {
            best = r;
            best_load = load;
        }
    }
    if (best >= 0)
        rt->rr = (best + 1) % rt->size;
    return best;
}

lumen_status lm_parse_resources(lm_rt *rt, const char *spec, double *demand, int create)
{
    if (!spec || !*spec)
        return LUMEN_OK;
    char buf[1024];
    if (strlen(spec) >= sizeof buf)
        return lm_error(LUMEN_ERR_INVALID_ARG, "resource string too long");
    strcpy(buf, spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            eq = strchr(tok, ':');
        if (!eq || eq == tok)
            return lm_error(LUMEN_ERR_INVALID_ARG, "resource '%s' is not name=amount", tok);
        *eq = '\0';
        char *end;
        double amt = strtod(eq + 1, &end);
        if (*end || !(amt >= 0) || isinf(amt))
            return lm_error(LUMEN_ERR_INVALID_ARG, "resource '%s' has a bad amount '%s'", tok, eq + 1);
        if (strlen(tok) >= sizeof rt->resname[0])
            return lm_error(LUMEN_ERR_INVALID_ARG, "resource name '%s' too long", tok);
        int k;
        if (!strcmp(tok, "CPU") || !strcmp(tok, "num_cpus"))
            k = 0;
        else if (!strcmp(tok, "GPU") || !strcmp(tok, "num_gpus"))
            k = 1;
        else {
            for (k = 2; k < rt->nres; k++)
                if (!strcmp(rt->resname[k], tok))
                    break;
            if (k == rt->nres) {
                if (!create) {
                    /* unknown everywhere: infeasible, said by the caller */
                    return lm_error(LUMEN_ERR_INFEASIBLE, "no rank offers resource '%s'", tok);
                }
                if (rt->nres == LM_MAX_RES)
                    return lm_error(LUMEN_ERR_OUT_OF_RANGE, "more than %d custom resources", LM_MAX_RES - 2);
                strcpy(rt->resname[rt->nres++], tok);
            }
        }
        demand[k] = amt;
    }
    return LUMEN_OK;
}
