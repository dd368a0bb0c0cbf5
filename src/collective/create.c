/*
 * create.c - declaring a collective group from outside it (Ray's
 * create_collective_group): the caller sends each actor a built-in method,
 * answered by every actor class, that joins the group as the rank the caller
 * gave it. Joining itself (the rendezvous, the communicator) is group.c's
 * and rendezvous.c's.
 */
#include <stdio.h>
#include <string.h>

#include "collective/coll.h"
#include "common/error.h"
#include "runtime/registry.h"

#define COLL_INIT_METHOD "__lumen_collective_init__"

/* args: world_size, rank, backend, group name, timeout (ms) */
static lumen_status coll_init_method(void *self, lumen_task_ctx *ctx)
{
    (void)self;
    int64_t world, rank, backend, timeout;
    const char *name;
    lumen_status st = lumen_arg_get_i64(ctx, 0, &world);
    if (st == LUMEN_OK)
        st = lumen_arg_get_i64(ctx, 1, &rank);
    if (st == LUMEN_OK)
        st = lumen_arg_get_i64(ctx, 2, &backend);
    if (st == LUMEN_OK)
        st = lumen_arg_get_str(ctx, 3, &name);
    if (st == LUMEN_OK)
        st = lumen_arg_get_i64(ctx, 4, &timeout);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "%s: malformed arguments: %s", COLL_INIT_METHOD, lumen_last_error());
    lumen_collective_options o = {.field_mask = LUMEN_COLL_TIMEOUT_MS, .timeout_ms = timeout};
    st = lumen_collective_init((int)world, (int)rank, (lumen_coll_backend)backend, name, &o);
    if (st != LUMEN_OK)
        return lumen_task_fail(ctx, "joining collective group '%s' as rank %lld: %s", name, (long long)rank,
                               lumen_last_error());
    return lumen_return_i64(ctx, 0, rank);
}

__attribute__((constructor)) static void register_coll_init_method(void)
{
    (void)lm_registry_builtin_method(COLL_INIT_METHOD, coll_init_method);
}

lumen_status lumen_collective_create_group(const lumen_actor *actors, size_t n, lumen_coll_backend backend,
                                           const char *group_name, const lumen_collective_options *opts,
                                           lumen_ref *ready)
{
    if (!lm_g)
        return lm_error(LUMEN_ERR_NOT_INITIALIZED, "lumen_init was not called");
    if (!actors || !group_name)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_collective_create_group: NULL actors or group name");
    if (n < 1 || n > (1u << 20))
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_collective_create_group: %zu actors (1..%u)", n, 1u << 20);
    size_t len = strlen(group_name);
    if (len == 0 || len >= LM_COLL_NAME_MAX)
        return lm_error(LUMEN_ERR_INVALID_ARG, "group name must be 1 to %d bytes", LM_COLL_NAME_MAX - 1);
    if (backend != LUMEN_COLL_MPI && backend != LUMEN_COLL_NCCL)
        return lm_error(LUMEN_ERR_INVALID_ARG, "unknown backend %d", (int)backend);
    int64_t tmo = LUMEN_COLL_DEFAULT_TIMEOUT_MS;
    if (opts && (opts->field_mask & LUMEN_COLL_TIMEOUT_MS))
        tmo = opts->timeout_ms;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < i; k++)
            if (lumen_actor_equal(actors[i], actors[k]))
                return lm_error(LUMEN_ERR_INVALID_ARG, "actor %zu and actor %zu are the same actor", k, i);
    for (size_t i = 0; i < n; i++) {
        lumen_arg args[5] = {lumen_arg_i64((int64_t)n), lumen_arg_i64((int64_t)i), lumen_arg_i64(backend),
                             lumen_arg_str(group_name), lumen_arg_i64(tmo)};
        lumen_ref r;
        lumen_status st = lumen_actor_call(actors[i], COLL_INIT_METHOD, args, 5, NULL, &r);
        if (st != LUMEN_OK) {
            /* the members asked so far wait for the others and time out */
            char why[256];
            snprintf(why, sizeof why, "%s", lumen_last_error());
            for (size_t k = 0; ready && k < i; k++)
                lumen_ref_release(ready[k]);
            return lm_error(st, "lumen_collective_create_group: actor %zu: %s", i, why);
        }
        if (ready)
            ready[i] = r;
        else
            lumen_ref_release(r);
    }
    return LUMEN_OK;
}
