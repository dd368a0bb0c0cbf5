/*
 * api.c - the public actor calls: lumen_actor_create, lumen_actor_call,
 * lumen_get_actor, kill/terminate/release, and the calls a method makes on
 * its own actor (lumen_actor_exit, lumen_actor_fatal). Checks the input,
 * then hands over to client.c and submit.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor.h"
#include "common/error.h"
#include "runtime/generator.h"

#define RPC_TIMEOUT_NS 60000000000ull

int lumen_actor_is_nil(lumen_actor a) { return a.opaque_[0] == 0 && a.opaque_[1] == 0; }
int lumen_actor_equal(lumen_actor a, lumen_actor b)
{
    return a.opaque_[0] == b.opaque_[0] && a.opaque_[1] == b.opaque_[1];
}
void lumen_actor_hex(lumen_actor a, char out[33])
{
    if (out)
        snprintf(out, 33, "%016llx%016llx", (unsigned long long)a.opaque_[0], (unsigned long long)a.opaque_[1]);
}

static lumen_status actor_id(lm_rt *rt, lumen_actor a, lm_oid *id)
{
    id->hi = a.opaque_[0];
    id->lo = a.opaque_[1];
    if (lm_oid_kind(*id) != LM_OID_ACTOR || id->lo == 0 || lm_oid_owner(*id) >= rt->size)
        return lm_error(LUMEN_ERR_INVALID_ARG, "not an actor handle");
    return LUMEN_OK;
}

static lumen_status check_name(const char *s, const char *what)
{
    if (s && strlen(s) >= LUMEN_ACTOR_NAME_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "%s longer than %d bytes", what, LUMEN_ACTOR_NAME_MAX - 1);
    return LUMEN_OK;
}

/* ---- creation ---------------------------------------------------------------- */
typedef struct create_opts {
    lm_actor_opts a;
    const char *name, *ns;
    int max_restarts, get_if_exists, default_cpu;
} create_opts;

static lumen_status read_options(lm_rt *rt, const lumen_actor_options *o, lm_task_rec *t, create_opts *c)
{
    c->a.max_pending = -1;
    c->ns = "";
    c->default_cpu = 1;
    t->max_concurrency = 1;
    if (!o)
        return LUMEN_OK;
    uint64_t f = o->field_mask;
    uint64_t have = ((f & LUMEN_ACTOR_NUM_CPUS) ? 1 : 0) | ((f & LUMEN_ACTOR_NUM_GPUS) ? 2 : 0) |
                    ((f & LUMEN_ACTOR_RESOURCES) ? 4 : 0);
    lumen_status st = lm_task_read_common(rt, t, o->num_cpus, o->num_gpus, o->resources, have);
    if (st != LUMEN_OK)
        return st;
    c->default_cpu = !(f & LUMEN_ACTOR_NUM_CPUS);
    if (f & LUMEN_ACTOR_NAME) {
        if (!o->name || !*o->name)
            return lm_error(LUMEN_ERR_INVALID_ARG, "actor name is NULL or empty");
        if ((st = check_name(o->name, "actor name")) != LUMEN_OK)
            return st;
        c->name = o->name;
    }
    if (f & LUMEN_ACTOR_NAMESPACE) {
        if ((st = check_name(o->namespace_, "namespace")) != LUMEN_OK)
            return st;
        c->ns = o->namespace_ ? o->namespace_ : "";
    }
    if (f & LUMEN_ACTOR_LIFETIME) {
        if (o->lifetime != LUMEN_ACTOR_OWNED && o->lifetime != LUMEN_ACTOR_DETACHED)
            return lm_error(LUMEN_ERR_INVALID_ARG, "unknown actor lifetime %d", (int)o->lifetime);
        c->a.detached = o->lifetime == LUMEN_ACTOR_DETACHED;
    }
    if (f & LUMEN_ACTOR_MAX_RESTARTS) {
        if (o->max_restarts < -1)
            return lm_error(LUMEN_ERR_INVALID_ARG, "max_restarts %d < -1", o->max_restarts);
        c->max_restarts = o->max_restarts;
    }
    if (f & LUMEN_ACTOR_MAX_TASK_RETRIES) {
        if (o->max_task_retries < -1)
            return lm_error(LUMEN_ERR_INVALID_ARG, "max_task_retries %d < -1", o->max_task_retries);
        c->a.max_task_retries = o->max_task_retries;
    }
    if (f & LUMEN_ACTOR_ASYNC) {
        t->async_actor = o->is_async != 0;
        if (t->async_actor)
            t->max_concurrency = 1000; /* Ray's default for async actors */
    }
    if (f & LUMEN_ACTOR_MAX_CONCURRENCY) {
        /* threads (a threaded actor) or calls in flight (an async one) */
        int cap = t->async_actor ? 1000000 : 1024;
        if (o->max_concurrency < 1)
            return lm_error(LUMEN_ERR_INVALID_ARG, "max_concurrency %d < 1", o->max_concurrency);
        if (o->max_concurrency > cap)
            return lm_error(LUMEN_ERR_OUT_OF_RANGE, "max_concurrency %d > %d", o->max_concurrency, cap);
        t->max_concurrency = o->max_concurrency;
    }
    if (f & LUMEN_ACTOR_MAX_PENDING_CALLS) {
        if (o->max_pending_calls < -1 || o->max_pending_calls == 0)
            return lm_error(LUMEN_ERR_INVALID_ARG, "max_pending_calls %d: -1 or at least 1", o->max_pending_calls);
        c->a.max_pending = o->max_pending_calls;
    }
    if (f & LUMEN_ACTOR_SCHEDULING) {
        const lumen_scheduling_strategy *s = &o->scheduling;
        if (s->kind < LUMEN_SCHED_DEFAULT || s->kind > LUMEN_SCHED_PLACEMENT_GROUP)
            return lm_error(LUMEN_ERR_INVALID_ARG, "unknown scheduling strategy %d", (int)s->kind);
        if (s->kind == LUMEN_SCHED_PLACEMENT_GROUP) {
            lm_oid pg = {s->pg.opaque_[0], s->pg.opaque_[1]};
            if (lm_oid_kind(pg) != LM_OID_PG || pg.lo == 0)
                return lm_error(LUMEN_ERR_INVALID_ARG, "scheduling strategy: not a placement group handle");
            if (s->bundle_index < -1)
                return lm_error(LUMEN_ERR_OUT_OF_RANGE, "bundle index %d", s->bundle_index);
        }
        t->strat = *s;
    }
    if (f & LUMEN_ACTOR_GET_IF_EXISTS)
        c->get_if_exists = o->get_if_exists != 0;
    return LUMEN_OK;
}

lumen_status lumen_actor_create(const char *cls, const lumen_arg *args, size_t nargs,
                                const lumen_actor_options *opts, lumen_actor *out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!cls || !out || (nargs && !args))
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_actor_create: NULL class, args or out");
    if (strlen(cls) >= LM_FN_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "class name longer than %d bytes", LM_FN_MAX - 1);
    lm_actor_class klass;
    if (!lm_registry_class(cls, &klass))
        return lm_error(LUMEN_ERR_UNKNOWN_FUNCTION, "no actor class '%s' is registered", cls);
    if (nargs > LUMEN_MAX_ARGS)
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "%zu arguments (at most %d)", nargs, LUMEN_MAX_ARGS);
    if (atomic_load(&rt->shutdown))
        return lm_error(LUMEN_ERR_SHUTDOWN, "the job is shutting down");
    lm_task_rec *t = calloc(1, sizeof *t);
    if (!t)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for an actor");
    create_opts co = {0};
    lumen_status st = read_options(rt, opts, t, &co);
    if (st != LUMEN_OK) {
        free(t);
        return st;
    }
    t->kind = LM_KIND_CREATE;
    t->num_returns = 1;
    t->bundle = -1;
    strcpy(t->fn, cls);
    t->retry_exceptions = co.default_cpu; /* carried to the control store (client.c) */
    /* could any rank ever host it? (inside a placement group the control
     * store checks against the bundle) */
    if (t->strat.kind != LUMEN_SCHED_PLACEMENT_GROUP) {
        double need[LM_MAX_RES];
        memcpy(need, t->demand, sizeof need);
        if (co.default_cpu && need[0] < 1)
            need[0] = 1;
        pthread_mutex_lock(&rt->lock);
        char what[LM_FN_MAX + 16];
        snprintf(what, sizeof what, "actor %s", cls);
        st = lm_sched_check(rt, need, &t->strat, what);
        pthread_mutex_unlock(&rt->lock);
        if (st != LUMEN_OK) {
            free(t);
            return st;
        }
    }
    uint64_t seq = atomic_fetch_add(&rt->seq, 1) + 1;
    lm_oid id = lm_oid_make(rt->rank, 0, LM_OID_ACTOR, rt->epoch, seq);
    t->actor = id;

    /* register: the name is checked now, and any rank can look it up once
     * this returns */
    lm_rpc r;
    lm_rpc_begin(rt, &r);
    lm_ctl_msg m = {.op = LM_CTL_ACTOR_REGISTER, .tag = r.tag, .a = id};
    m.s[0] = co.name;
    m.slen[0] = co.name ? (uint32_t)strlen(co.name) : 0;
    m.s[1] = co.ns;
    m.slen[1] = (uint32_t)strlen(co.ns);
    m.s[2] = cls;
    m.slen[2] = (uint32_t)strlen(cls);
    m.v[0] = (co.a.detached ? LM_REG_DETACHED : 0) | (co.get_if_exists ? LM_REG_GET_IF_EXISTS : 0);
    m.v[1] = co.max_restarts;
    m.v[2] = co.a.max_task_retries;
    m.v[3] = co.a.max_pending;
    lm_ctl_send(rt, 0, &m);
    st = lm_rpc_wait(rt, &r, RPC_TIMEOUT_NS);
    if (st == LUMEN_OK && r.reply.v[0] != LUMEN_OK) {
        char msg[512];
        lm_ctl_str(&r.reply, 0, msg, sizeof msg);
        st = lm_error((lumen_status)r.reply.v[0], "%s", msg);
    }
    int existing = st == LUMEN_OK && r.reply.v[1] == 1;
    lm_oid existing_id = r.reply.a;
    lm_rpc_end(rt, &r);
    if (st != LUMEN_OK || existing) {
        free(t);
        if (existing)
            *out = (lumen_actor){{existing_id.hi, existing_id.lo}};
        return st;
    }

    pthread_mutex_lock(&rt->lock);
    lm_actor_client *c = lm_actor_client_get(rt, id, 0);
    if (c) {
        co.a.owner = 1;
        strcpy(co.a.cls, cls);
        lm_actor_client_init_owner(c, &co.a);
    }
    pthread_mutex_unlock(&rt->lock);
    lumen_ref ready;
    st = c ? lm_submit(rt, t, args, nargs, &ready) : lm_error(LUMEN_ERR_NO_MEMORY, "no memory for an actor");
    if (st != LUMEN_OK) {
        /* bad arguments: the registered actor will never exist */
        char msg[600];
        snprintf(msg, sizeof msg, "its creation failed: %s", lumen_last_error());
        lm_ctl_msg k = {.op = LM_CTL_ACTOR_KILL, .a = id};
        k.v[0] = 1;
        k.s[0] = msg;
        k.slen[0] = (uint32_t)strlen(msg);
        lm_ctl_send(rt, 0, &k);
        lm_progress(rt);
        return lm_error(st, "%s", msg + strlen("its creation failed: "));
    }
    lumen_ref_release(ready); /* readiness is asked with lumen_actor_ready */
    *out = (lumen_actor){{id.hi, id.lo}};
    return LUMEN_OK;
}

/* ---- calls ------------------------------------------------------------------ */
lumen_status lumen_actor_call(lumen_actor actor, const char *method, const lumen_arg *args, size_t nargs,
                              const lumen_call_options *opts, lumen_ref *returns)
{
    return lm_actor_call_submit(actor, method, args, nargs, opts, NULL, 0, returns);
}

lumen_status lm_actor_call_submit(lumen_actor actor, const char *method, const lumen_arg *args, size_t nargs,
                                  const lumen_call_options *opts, struct lumen_generator *gen, uint32_t gen_bound,
                                  lumen_ref *returns)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!method || !returns || (nargs && !args))
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_actor_call: NULL method, args or returns");
    if (!*method || strlen(method) >= LM_FN_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "method name empty or longer than %d bytes", LM_FN_MAX - 1);
    lm_oid id;
    lumen_status st = actor_id(rt, actor, &id);
    if (st != LUMEN_OK)
        return st;
    if (atomic_load(&rt->shutdown))
        return lm_error(LUMEN_ERR_SHUTDOWN, "the job is shutting down");
    lm_task_rec *t = calloc(1, sizeof *t);
    if (!t)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a call");
    t->kind = LM_KIND_CALL;
    t->num_returns = 1;
    t->bundle = -1;
    t->actor = id;
    strcpy(t->fn, method);
    if (opts && (opts->field_mask & LUMEN_CALL_NUM_RETURNS)) {
        if (opts->num_returns < 1 || opts->num_returns > LUMEN_MAX_RETURNS) {
            free(t);
            return lm_error(LUMEN_ERR_OUT_OF_RANGE, "num_returns %d not in 1..%d", opts->num_returns,
                            LUMEN_MAX_RETURNS);
        }
        t->num_returns = opts->num_returns;
    }
    if (gen) { /* a streaming method: one return (the item count), not retried */
        t->gen = gen;
        t->gen_bound = gen_bound;
        t->num_returns = 1;
    }
    pthread_mutex_lock(&rt->lock);
    lm_actor_client *c = lm_actor_client_get(rt, id, 1);
    int full = c && lm_actor_client_pending_full(c);
    pthread_mutex_unlock(&rt->lock);
    if (!c || full) {
        free(t);
        if (!c)
            return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for an actor handle");
        return lm_error(LUMEN_ERR_PENDING_CALLS_EXCEEDED,
                        "this rank already has max_pending_calls calls to the actor unfinished");
    }
    return lm_submit(rt, t, args, nargs, returns);
}

lumen_status lumen_actor_ready(lumen_actor actor, lumen_ref *out)
{
    return lumen_actor_call(actor, LM_METHOD_READY, NULL, 0, NULL, out);
}

lumen_status lumen_actor_terminate(lumen_actor actor)
{
    lumen_ref r;
    lumen_status st = lumen_actor_call(actor, LM_METHOD_TERMINATE, NULL, 0, NULL, &r);
    if (st == LUMEN_OK)
        lumen_ref_release(r);
    return st;
}

lumen_status lumen_get_actor(const char *name, const char *namespace_, lumen_actor *out)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    if (!name || !*name || !out)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_get_actor: NULL or empty name, or NULL out");
    lumen_status st = check_name(name, "actor name");
    if (st == LUMEN_OK)
        st = check_name(namespace_, "namespace");
    if (st != LUMEN_OK)
        return st;
    const char *ns = namespace_ ? namespace_ : "";
    lm_rpc r;
    lm_rpc_begin(rt, &r);
    lm_ctl_msg m = {.op = LM_CTL_ACTOR_GET_NAMED, .tag = r.tag};
    m.s[0] = name;
    m.slen[0] = (uint32_t)strlen(name);
    m.s[1] = ns;
    m.slen[1] = (uint32_t)strlen(ns);
    lm_ctl_send(rt, 0, &m);
    st = lm_rpc_wait(rt, &r, RPC_TIMEOUT_NS);
    if (st == LUMEN_OK) {
        if (r.reply.v[0] == LM_ACTOR_UNKNOWN || r.reply.v[0] == LM_ACTOR_DEAD)
            st = lm_error(LUMEN_ERR_NOT_FOUND, "no live actor named '%s' in namespace '%s'", name, ns);
        else
            *out = (lumen_actor){{r.reply.a.hi, r.reply.a.lo}};
    }
    lm_rpc_end(rt, &r);
    return st;
}

lumen_status lumen_actor_kill(lumen_actor actor, int no_restart)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    lm_oid id;
    lumen_status st = actor_id(rt, actor, &id);
    if (st != LUMEN_OK)
        return st;
    const char *cause = no_restart ? "killed by lumen_actor_kill" : "killed by lumen_actor_kill (restart allowed)";
    pthread_mutex_lock(&rt->lock);
    lm_actor_client *c = lm_actor_client_get(rt, id, 1);
    if (c) /* this rank's later calls fail (or wait for the restart) from now on */
        lm_actor_client_kill(rt, c, no_restart, cause);
    pthread_mutex_unlock(&rt->lock);
    lm_ctl_msg m = {.op = LM_CTL_ACTOR_KILL, .a = id};
    m.v[0] = no_restart != 0;
    m.s[0] = cause;
    m.slen[0] = (uint32_t)strlen(cause);
    lm_ctl_send(rt, 0, &m);
    lm_progress(rt);
    return LUMEN_OK;
}

lumen_status lumen_actor_release(lumen_actor actor)
{
    lm_rt *rt = lm_g;
    if (!rt)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "call lumen_init first");
    lm_oid id;
    lumen_status st = actor_id(rt, actor, &id);
    if (st != LUMEN_OK)
        return st;
    pthread_mutex_lock(&rt->lock);
    lm_actor_client *c = lm_actor_client_get(rt, id, 0);
    int end = c && lm_actor_client_owner_release(rt, c);
    pthread_mutex_unlock(&rt->lock);
    return end ? lumen_actor_terminate(actor) : LUMEN_OK;
}

/* ---- inside a method ------------------------------------------------------- */
lumen_status lumen_actor_exit(lumen_task_ctx *ctx)
{
    if (!ctx || !ctx->actor)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_actor_exit outside an actor method");
    ctx->actor_exit = 1;
    return LUMEN_OK;
}

lumen_status lumen_actor_fatal(lumen_task_ctx *ctx, const char *fmt, ...)
{
    if (!ctx || !ctx->actor)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_actor_fatal outside an actor method");
    ctx->actor_fatal = 1;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
        va_end(ap);
    }
    return LUMEN_ERR_ACTOR_DIED;
}
