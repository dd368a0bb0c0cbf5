/*
 * bundles.c - placement group bundles reserved on this rank. RESERVE takes
 * the bundle's resources out of the rank's free pool into the bundle's own;
 * tasks and actors of the group then draw on that pool (executor.c). RELEASE
 * gives the free part back at once, fails tasks still queued in the bundle,
 * and lets running ones return what they hold to the rank when they end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement/placement.h"

lm_task *lm_executor_unlink_bundle(lm_rt *rt, lm_bundle *b); /* executor.c, exec_lock held */

lm_bundle *lm_bundle_acquire(lm_rt *rt, lm_oid pg, int index)
{
    for (lm_bundle *b = rt->bundles; b; b = b->next)
        if (!b->removed && lm_oid_eq(b->pg, pg) && (index < 0 || b->index == index)) {
            b->users++;
            return b;
        }
    return NULL;
}

static void unlink_free(lm_rt *rt, lm_bundle *b)
{
    for (lm_bundle **pp = &rt->bundles; *pp; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    free(b);
}

void lm_bundle_put(lm_rt *rt, lm_bundle *b)
{
    if (--b->users == 0 && b->removed)
        unlink_free(rt, b);
}

static void ack(lm_rt *rt, const lm_ctl_msg *m, int release)
{
    lm_ctl_msg a = {.op = LM_CTL_PG_RESERVED, .a = m->a};
    a.v[0] = m->v[0];
    a.v[1] = release;
    lm_ctl_send(rt, 0, &a);
}

void lm_bundles_handle(lm_rt *rt, int src, const lm_ctl_msg *m)
{
    (void)src;
    if (m->op == LM_CTL_PG_RESERVE) {
        lm_bundle *b = calloc(1, sizeof *b);
        if (!b || !m->blob || m->blob_len != sizeof b->demand || m->v[0] < 0) {
            free(b);
            fprintf(stderr, "lumen[%d]: dropped a malformed bundle reservation\n", rt->rank);
            return;
        }
        b->pg = m->a;
        b->index = (int)m->v[0];
        memcpy(b->demand, m->blob, sizeof b->demand);
        memcpy(b->avail, b->demand, sizeof b->avail);
        pthread_mutex_lock(&rt->exec_lock);
        for (int k = 0; k < LM_MAX_RES; k++)
            rt->avail[k] -= b->demand[k];
        b->next = rt->bundles;
        rt->bundles = b;
        pthread_mutex_unlock(&rt->exec_lock);
        ack(rt, m, 0);
        return;
    }
    /* RELEASE */
    lm_task *dropped = NULL;
    pthread_mutex_lock(&rt->exec_lock);
    for (lm_bundle *b = rt->bundles, *next; b; b = next) {
        next = b->next;
        if (b->removed || !lm_oid_eq(b->pg, m->a))
            continue;
        for (int k = 0; k < LM_MAX_RES; k++)
            rt->avail[k] += b->avail[k];
        b->removed = 1;
        lm_task *q = lm_executor_unlink_bundle(rt, b);
        while (q) {
            lm_task *n = q->next;
            q->next = dropped;
            dropped = q;
            q = n;
        }
        if (b->users == 0)
            unlink_free(rt, b);
    }
    lm_executor_kick(rt);
    pthread_mutex_unlock(&rt->exec_lock);
    while (dropped) {
        lm_task *n = dropped->next;
        char msg[LM_FN_MAX + 96];
        snprintf(msg, sizeof msg, "task '%s' not run: its placement group was removed", dropped->m.fn);
        lm_task_reply_error(rt, dropped, msg, LM_ERRK_FAILED);
        pthread_mutex_lock(&rt->exec_lock);
        lm_bundle_put(rt, dropped->bundle);
        pthread_mutex_unlock(&rt->exec_lock);
        dropped->bundle = NULL;
        lm_task_discard(rt, dropped);
        dropped = n;
    }
    ack(rt, m, 1);
}

void lm_bundles_free(lm_rt *rt)
{
    while (rt->bundles) {
        lm_bundle *b = rt->bundles;
        rt->bundles = b->next;
        free(b);
    }
}
