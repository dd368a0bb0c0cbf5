/*
 * lumen/collective.h - collective groups among actors, tasks or ranks (Ray's
 * ray.util.collective): allreduce, broadcast, allgather, reduce-scatter,
 * barrier and point-to-point send/recv on host buffers over MPI, and on
 * device buffers over NCCL when lumen is built with CUDA and NCCL.
 *
 * Ray                                        lumen
 * -----------------------------------------  ------------------------------------------
 * col.init_collective_group(n, r, be, name)  lumen_collective_init(n, r, be, name, opts)
 * col.create_collective_group(actors, n, ranks, be, name)
 *                                            lumen_collective_create_group(actors, n, be, name,
 *                                                                          opts, ready)
 * col.destroy_collective_group(name)         lumen_collective_destroy(name)
 * col.get_rank(name) / get_collective_group_size(name)
 *                                            lumen_collective_rank / _world_size
 * col.is_group_initialized(name)             lumen_collective_is_initialized(name)
 * col.allreduce(t, name, op)                 lumen_collective_allreduce(name, buf, n, dt, op)
 * col.broadcast(t, src_rank, name)           lumen_collective_broadcast(name, buf, n, dt, root)
 * col.allgather(list, t, name)               lumen_collective_allgather(name, send, recv, n, dt)
 * col.reducescatter(t, list, name, op)       lumen_collective_reducescatter(name, send, recv, n, dt, op)
 * col.barrier(name)                          lumen_collective_barrier(name)
 * col.send(t, dst, name) / col.recv(t, src, name)
 *                                            lumen_collective_send / _recv
 *
 * A member is the calling actor (inside an actor method: every method of
 * that actor acts as the same member) or, outside actors, the calling thread
 * (a task, the driver, a thread of a rank). Each member calls
 * lumen_collective_init with the same world_size and name and its own rank
 * 0..world_size-1; the call returns when all world_size members have joined
 * (or fails after the timeout). Several members may live on one lumen rank.
 *
 * Every member calls the collective operations of a group in the same order
 * with matching arguments (count, dtype, op, root); a mismatch fails the
 * operation on every member with LUMEN_ERR_OUT_OF_RANGE (counts, roots) or
 * LUMEN_ERR_TYPE_MISMATCH (dtype, op, operation) and a message naming the
 * members that differ. Buffers belong to the caller and must stay valid until
 * the call returns; results are written before it returns.
 *
 * Errors: LUMEN_ERR_INVALID_ARG (NULL pointer, bad rank, count overflow),
 * LUMEN_ERR_NOT_FOUND (the caller is not a member of a group of that name, or
 * the group was destroyed), LUMEN_ERR_TIMEOUT (a member did not arrive within
 * the group's timeout: the group is then broken and every later operation
 * fails; destroy it and create it again), LUMEN_ERR_ALREADY_EXISTS (the
 * member already joined a group of that name).
 */
#ifndef LUMEN_COLLECTIVE_H
#define LUMEN_COLLECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "lumen.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lumen_coll_backend {
    LUMEN_COLL_MPI = 0,  /* host buffers, MPI among the ranks holding members */
    LUMEN_COLL_NCCL = 1  /* device buffers (CUDA), NCCL; LUMEN_ERR_INVALID_ARG
                            when lumen was built without NCCL */
} lumen_coll_backend;

typedef enum lumen_dtype {
    LUMEN_DTYPE_INT32 = 0,
    LUMEN_DTYPE_INT64 = 1,
    LUMEN_DTYPE_FLOAT32 = 2,
    LUMEN_DTYPE_FLOAT64 = 3,
    LUMEN_DTYPE_UINT8 = 4
} lumen_dtype;

typedef enum lumen_reduce_op {
    LUMEN_REDUCE_SUM = 0,
    LUMEN_REDUCE_PROD = 1,
    LUMEN_REDUCE_MIN = 2,
    LUMEN_REDUCE_MAX = 3
} lumen_reduce_op;

/* bytes of one element of dtype, 0 for an unknown dtype */
size_t lumen_dtype_size(lumen_dtype dtype);

#define LUMEN_COLL_TIMEOUT_MS (1ull << 0)
#define LUMEN_COLL_DEFAULT_TIMEOUT_MS 30000 /* Ray's default */

typedef struct lumen_collective_options {
    uint64_t field_mask;
    int64_t timeout_ms; /* how long init and every operation wait for the other
                           members (default 30000; LUMEN_TIMEOUT_INFINITE: forever) */
} lumen_collective_options;

/* Join group `group_name` as member `rank` of `world_size`. Returns when all
 * members joined. opts may be NULL. The name is at most 63 bytes. */
lumen_status lumen_collective_init(int world_size, int rank, lumen_coll_backend backend,
                                   const char *group_name, const lumen_collective_options *opts);
/* Ray's create_collective_group(actors, world_size, ranks, backend, name),
 * from the driver or any rank: actor actors[i] joins group `group_name` as
 * rank i of n (a built-in method each actor answers runs
 * lumen_collective_init in it, in the order of that caller's calls). Returns
 * at once; ready (NULL, or room for n) receives one reference per member
 * that becomes I64 i once member i has joined, or its error (e.g. the
 * timeout, if a member never gets there). Afterwards the actors' methods
 * call the operations with the group name. */
lumen_status lumen_collective_create_group(const lumen_actor *actors, size_t n, lumen_coll_backend backend,
                                           const char *group_name, const lumen_collective_options *opts,
                                           lumen_ref *ready);
/* Destroy the group for every member: operations other members are waiting
 * in fail with LUMEN_ERR_NOT_FOUND ("destroyed"), and the name may be used
 * again. Calling it again (another member) on a destroyed group is OK. */
lumen_status lumen_collective_destroy(const char *group_name);
/* 1 when the caller is a member of a live group of that name */
int lumen_collective_is_initialized(const char *group_name);
lumen_status lumen_collective_rank(const char *group_name, int *rank);
lumen_status lumen_collective_world_size(const char *group_name, int *world_size);

/* In place: buf holds count elements in, the reduction over all members out. */
lumen_status lumen_collective_allreduce(const char *group_name, void *buf, size_t count, lumen_dtype dtype,
                                        lumen_reduce_op op);
/* buf of member `root` is copied into buf of every member. */
lumen_status lumen_collective_broadcast(const char *group_name, void *buf, size_t count, lumen_dtype dtype,
                                        int root);
/* recv (world_size * count elements) gets every member's send (count
 * elements), in rank order. */
lumen_status lumen_collective_allgather(const char *group_name, const void *send, void *recv, size_t count,
                                        lumen_dtype dtype);
/* send holds world_size * count elements; member r gets in recv (count
 * elements) the reduction of block r of every member's send. */
lumen_status lumen_collective_reducescatter(const char *group_name, const void *send, void *recv, size_t count,
                                            lumen_dtype dtype, lumen_reduce_op op);
lumen_status lumen_collective_barrier(const char *group_name);
/* Point to point: returns when the receiver has the data (or on error). The
 * two sides must agree on count and dtype. */
lumen_status lumen_collective_send(const char *group_name, const void *buf, size_t count, lumen_dtype dtype,
                                   int dst_rank);
lumen_status lumen_collective_recv(const char *group_name, void *buf, size_t count, lumen_dtype dtype,
                                   int src_rank);

#ifdef __cplusplus
}
#endif
#endif
