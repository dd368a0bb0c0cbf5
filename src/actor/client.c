/*
 * client.c - actors as a calling rank sees them: one record per actor this
 * rank calls (where it lives, its incarnation, the calls not yet sent in
 * the order they were made), death and restart, retries, back-pressure.
 *
 * Calls wait in the client's queue until their arguments are ready and the
 * actor is alive, then leave from the head only, so a rank's calls reach
 * the host in order. A call the host answers with "actor died" goes back
 * into the queue (by sequence number) while max_task_retries allows and the
 * actor restarts; the control store's NOTIFY says when it is alive again or
 * dead for good. Everything here runs under rt->lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "common/error.h"

#define CLIENT_BUCKETS 1024

struct lm_actor_client {
    struct lm_actor_client *hnext;
    lm_oid id;
    int state;              /* LM_ACTOR_* */
    int host;               /* rank running it (ALIVE) */
    uint32_t incarnation;
    uint64_t next_seq;
    lm_task_rec *qhead, *qtail; /* calls not sent yet, by sequence */
    int pending;            /* calls made and not finished */
    int inflight;           /* calls sent and not answered */
    int inflight_old;       /* of those, sent to an earlier incarnation: until they
                               are back (and requeued), later calls wait, so a
                               retried call keeps its place */
    int max_pending;        /* -1: no limit */
    int max_task_retries;
    int looked_up;          /* subscribed at the control store */
    int owner, detached, released;
    lm_task_rec *create;    /* owner: the creation record */
    char cls[LM_FN_MAX];
    char cause[512];
};

static size_t cbucket(lm_oid id) { return (size_t)((id.lo * 0x9e3779b97f4a7c15ull) >> 44) % CLIENT_BUCKETS; }

static lm_actor_client *client_find(lm_rt *rt, lm_oid id)
{
    if (!rt->clients)
        return NULL;
    for (lm_actor_client *c = rt->clients[cbucket(id)]; c; c = c->hnext)
        if (lm_oid_eq(c->id, id))
            return c;
    return NULL;
}

void lm_actor_describe(lm_oid id, const char *cls, char *out, size_t cap)
{
    char hex[33];
    lumen_actor_hex((lumen_actor){{id.hi, id.lo}}, hex);
    snprintf(out, cap, "actor '%s' (%.16s)", cls && *cls ? cls : "?", hex + 16);
}

lm_actor_client *lm_actor_client_get(lm_rt *rt, lm_oid id, int lookup)
{
    lm_actor_client *c = client_find(rt, id);
    if (c)
        return c;
    if (!rt->clients && !(rt->clients = calloc(CLIENT_BUCKETS, sizeof *rt->clients)))
        return NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = id;
    c->state = LM_ACTOR_PENDING;
    c->host = -1;
    c->max_pending = -1;
    size_t b = cbucket(id);
    c->hnext = rt->clients[b];
    rt->clients[b] = c;
    if (lookup) {
        c->looked_up = 1;
        lm_ctl_msg m = {.op = LM_CTL_ACTOR_LOOKUP, .a = id};
        lm_ctl_send(rt, 0, &m);
    }
    return c;
}

void lm_actor_client_init_owner(lm_actor_client *c, const lm_actor_opts *o)
{
    c->owner = o->owner;
    c->detached = o->detached;
    c->max_pending = o->max_pending;
    c->max_task_retries = o->max_task_retries;
    c->looked_up = 1; /* the owner is subscribed by its registration */
    strcpy(c->cls, o->cls);
}

int lm_actor_client_pending_full(const lm_actor_client *c)
{
    return c->max_pending >= 0 && c->pending >= c->max_pending;
}

static void queue_remove(lm_actor_client *c, lm_task_rec *t)
{
    lm_task_rec *prev = NULL;
    for (lm_task_rec *q = c->qhead; q; prev = q, q = q->anext)
        if (q == t) {
            if (prev)
                prev->anext = t->anext;
            else
                c->qhead = t->anext;
            if (c->qtail == t)
                c->qtail = prev;
            break;
        }
    t->anext = NULL;
    t->queued = 0;
}

/* by sequence number: retried calls go back before later ones */
static void queue_insert(lm_actor_client *c, lm_task_rec *t)
{
    lm_task_rec *prev = NULL, *q = c->qhead;
    while (q && q->aseq < t->aseq) {
        prev = q;
        q = q->anext;
    }
    t->anext = q;
    if (prev)
        prev->anext = t;
    else
        c->qhead = t;
    if (!q)
        c->qtail = t;
    t->queued = 1;
}

static void uncount(lm_actor_client *c, lm_task_rec *t)
{
    if (c && t->counted) {
        t->counted = 0;
        c->pending--;
    }
}

static void died_message(const lm_actor_client *c, char *out, size_t cap)
{
    char who[200];
    lm_actor_describe(c->id, c->cls, who, sizeof who);
    snprintf(out, cap, "%s died: %s", who, c->cause[0] ? c->cause : "unknown cause");
}

/* fail one call that cannot run: the actor is dead for good */
static void fail_call(lm_rt *rt, lm_actor_client *c, lm_task_rec *t)
{
    char msg[800];
    died_message(c, msg, sizeof msg);
    if (t->queued)
        queue_remove(c, t);
    uncount(c, t);
    lm_task_fail_returns(rt, t, msg, LM_ERRK_ACTOR_DIED);
    lm_task_release(rt, t);
}

static void send_call(lm_rt *rt, lm_actor_client *c, lm_task_rec *t)
{
    if (t->attempt == 0)
        t->retries_left = t->gen ? 0 : c->max_task_retries; /* a stream is not replayed */
    t->target = c->host;
    t->incarnation = c->incarnation;
    lm_wbuf w;
    lm_task_encode(rt, t, &w);
    if (w.oom) {
        lm_wbuf_free(&w);
        uncount(c, t);
        lm_task_fail_returns(rt, t, "out of memory encoding an actor call", LM_ERRK_FAILED);
        lm_task_release(rt, t);
        return;
    }
    c->inflight++;
    if (c->host == rt->rank) {
        lm_executor_accept(rt, rt->rank, w.data, w.len);
        w.data = NULL;
    } else {
        lm_send_wbuf(rt, c->host, &w);
    }
}

static void flush(lm_rt *rt, lm_actor_client *c)
{
    while (c->qhead && c->qhead->ready && c->state == LM_ACTOR_ALIVE && c->inflight_old == 0) {
        lm_task_rec *t = c->qhead;
        queue_remove(c, t);
        send_call(rt, c, t);
    }
}

static void fail_all(lm_rt *rt, lm_actor_client *c)
{
    while (c->qhead)
        fail_call(rt, c, c->qhead);
    if (c->create && !c->create->done) {
        char msg[800];
        died_message(c, msg, sizeof msg);
        c->create->cancelled = 1;
        lm_task_fail_returns(rt, c->create, msg, LM_ERRK_ACTOR_DIED);
    }
    if (c->create) {
        lm_task_rec *t = c->create;
        c->create = NULL;
        lm_task_release(rt, t); /* its arguments are no longer needed */
    }
}

void lm_actor_call_submitted(lm_rt *rt, lm_task_rec *t)
{
    lm_actor_client *c = lm_actor_client_get(rt, t->actor, 1);
    if (!c) {
        lm_task_fail_returns(rt, t, "out of memory for an actor handle", LM_ERRK_FAILED);
        t->done = 1;
        return;
    }
    t->aseq = c->next_seq++;
    t->counted = 1;
    c->pending++;
    if (c->state == LM_ACTOR_DEAD || c->state == LM_ACTOR_UNKNOWN) {
        uncount(c, t);
        char msg[800];
        died_message(c, msg, sizeof msg);
        lm_task_fail_returns(rt, t, msg, LM_ERRK_ACTOR_DIED);
        t->done = 1;
        return;
    }
    queue_insert(c, t);
}

void lm_actor_call_ready(lm_rt *rt, lm_task_rec *t)
{
    lm_actor_client *c = client_find(rt, t->actor);
    t->ready = 1;
    if (c)
        flush(rt, c);
}

void lm_actor_create_ready(lm_rt *rt, lm_task_rec *t)
{
    lm_actor_client *c = client_find(rt, t->actor);
    if (c)
        c->create = t;
    if (c && (c->state == LM_ACTOR_DEAD || c->state == LM_ACTOR_UNKNOWN)) {
        fail_all(rt, c); /* killed before its arguments were ready */
        return;
    }
    lm_wbuf w;
    lm_task_encode(rt, t, &w);
    if (w.oom) {
        lm_wbuf_free(&w);
        return;
    }
    lm_oid pg = {t->strat.pg.opaque_[0], t->strat.pg.opaque_[1]};
    lm_ctl_msg m = {.op = LM_CTL_ACTOR_SCHEDULE, .a = t->actor, .b = pg, .blob = w.data, .blob_len = w.len};
    m.v[0] = t->strat.kind;
    m.v[1] = t->strat.node_id;
    m.v[2] = t->strat.soft;
    m.v[3] = t->retry_exceptions; /* api.c: 1 = Ray's default CPU placement */
    m.v[4] = t->strat.bundle_index;
    t->target = 0;
    lm_ctl_send(rt, 0, &m);
    lm_wbuf_free(&w);
}

void lm_actor_rec_failed(lm_rt *rt, lm_task_rec *t)
{
    lm_actor_client *c = client_find(rt, t->actor);
    if (!c)
        return;
    if (t->kind == LM_KIND_CALL) {
        if (t->queued)
            queue_remove(c, t);
        uncount(c, t);
        flush(rt, c); /* calls behind it may go now */
    } else if (c->create == t || c->owner) {
        /* the creation cannot happen: the actor is dead */
        c->create = NULL;
        lm_ctl_msg m = {.op = LM_CTL_ACTOR_KILL, .a = c->id};
        m.v[0] = 1;
        const char *why = "its creation arguments failed";
        m.s[0] = why;
        m.slen[0] = (uint32_t)strlen(why);
        lm_ctl_send(rt, 0, &m);
    }
}

void lm_actor_rec_done(lm_rt *rt, lm_task_rec *t, const lm_done_msg *m)
{
    lm_actor_client *c = client_find(rt, t->actor);
    if (t->kind == LM_KIND_CREATE) {
        if (!t->done) {
            t->done = 1;
            lm_task_complete_returns(rt, t, m);
        }
        if (!c || c->create != t) /* the actor is already dead for good */
            lm_task_release(rt, t);
        return;
    }
    int died = m->nret > 0 && m->rets[0].kind == LM_VAL_ERROR && m->rets[0].type == LM_ERRK_ACTOR_DIED;
    if (c && c->inflight > 0) {
        c->inflight--;
        if (t->incarnation < c->incarnation && c->inflight_old > 0 && --c->inflight_old == 0)
            flush(rt, c); /* the last call to the old life is back */
    }
    if (died && c && !t->cancelled && c->state != LM_ACTOR_DEAD && c->state != LM_ACTOR_UNKNOWN &&
        t->retries_left != 0) {
        if (t->retries_left > 0)
            t->retries_left--;
        t->attempt++;
        t->target = -1;
        if (c->state == LM_ACTOR_ALIVE && c->incarnation == t->incarnation)
            c->state = LM_ACTOR_RESTARTING; /* wait for the control store's news */
        queue_insert(c, t);
        flush(rt, c);
        return;
    }
    uncount(c, t);
    if (died && c && c->cls[0]) {
        /* the host may no longer know the actor: name it here */
        char msg[900], who[200];
        lm_actor_describe(c->id, c->cls, who, sizeof who);
        int named = m->rets[0].size > 7 && !memcmp(m->rets[0].data, "actor '", 7) &&
                    !memmem(m->rets[0].data, m->rets[0].size, "'?'", 3);
        if (c->cause[0])
            snprintf(msg, sizeof msg, "%s died: %s", who, c->cause);
        else if (named)
            snprintf(msg, sizeof msg, "%.*s", (int)m->rets[0].size, (const char *)m->rets[0].data);
        else
            snprintf(msg, sizeof msg, "%s died: %.*s", who, (int)m->rets[0].size, (const char *)m->rets[0].data);
        lm_task_fail_returns(rt, t, msg, LM_ERRK_ACTOR_DIED);
    } else {
        lm_task_complete_returns(rt, t, m);
    }
    lm_task_release(rt, t);
}

void lm_actor_client_kill(lm_rt *rt, lm_actor_client *c, int no_restart, const char *cause)
{
    if (c->state == LM_ACTOR_DEAD)
        return;
    if (no_restart) {
        c->state = LM_ACTOR_DEAD;
        snprintf(c->cause, sizeof c->cause, "%s", cause);
        fail_all(rt, c);
    } else if (c->state == LM_ACTOR_ALIVE) {
        c->state = LM_ACTOR_RESTARTING;
    }
}

int lm_actor_client_owner_release(lm_rt *rt, lm_actor_client *c)
{
    (void)rt;
    if (!c->owner || c->released)
        return 0;
    c->released = 1;
    return !c->detached;
}

void lm_actor_handle_notify(lm_rt *rt, const lm_ctl_msg *m)
{
    pthread_mutex_lock(&rt->lock);
    lm_actor_client *c = client_find(rt, m->a);
    if (!c && m->tag && m->v[0] != LM_ACTOR_UNKNOWN) /* a GET_NAMED answer: we use it from now on */
        c = lm_actor_client_get(rt, m->a, 0);
    if (c) {
        int state = (int)m->v[0];
        uint32_t inc = (uint32_t)m->v[2];
        c->looked_up = 1;
        if (m->s[1] && m->slen[1] && !c->cls[0])
            lm_ctl_str(m, 1, c->cls, sizeof c->cls);
        if (!c->owner) {
            c->max_task_retries = (int)m->v[3];
            c->max_pending = (int)m->v[4];
        }
        if (c->state == LM_ACTOR_DEAD || c->state == LM_ACTOR_UNKNOWN) {
            /* dead for good here already (killed from this rank) */
        } else if (state == LM_ACTOR_ALIVE) {
            /* news older than what we know (a restart we already saw fail) is ignored */
            if (inc >= c->incarnation && m->v[1] >= 0 && m->v[1] < rt->size) {
                if (inc > c->incarnation)
                    c->inflight_old = c->inflight; /* all sent to an earlier life */
                c->state = LM_ACTOR_ALIVE;
                c->host = (int)m->v[1];
                c->incarnation = inc;
                flush(rt, c);
            }
        } else if (state == LM_ACTOR_DEAD || state == LM_ACTOR_UNKNOWN) {
            c->state = state;
            if (state == LM_ACTOR_UNKNOWN)
                snprintf(c->cause, sizeof c->cause, "no such actor");
            else
                lm_ctl_str(m, 0, c->cause, sizeof c->cause);
            fail_all(rt, c);
        } else if (state == LM_ACTOR_RESTARTING) {
            if (inc >= c->incarnation)
                c->state = LM_ACTOR_RESTARTING;
        }
    }
    pthread_mutex_unlock(&rt->lock);
}

void lm_actor_handle_respec(lm_rt *rt, const lm_ctl_msg *m)
{
    pthread_mutex_lock(&rt->lock);
    lm_actor_client *c = client_find(rt, m->a);
    if (c && c->create) {
        lm_actor_create_ready(rt, c->create); /* encodes and schedules again */
    } else {
        lm_ctl_msg k = {.op = LM_CTL_ACTOR_KILL, .a = m->a};
        const char *why = "cannot restart: its creation arguments are gone";
        k.v[0] = 1;
        k.s[0] = why;
        k.slen[0] = (uint32_t)strlen(why);
        lm_ctl_send(rt, 0, &k);
    }
    pthread_mutex_unlock(&rt->lock);
}

void lm_actor_clients_free(lm_rt *rt)
{
    if (!rt->clients)
        return;
    for (size_t b = 0; b < CLIENT_BUCKETS; b++) {
        lm_actor_client *c = rt->clients[b];
        while (c) {
            lm_actor_client *n = c->hnext;
            free(c);
            c = n;
        }
    }
    free(rt->clients);
    rt->clients = NULL;
}
