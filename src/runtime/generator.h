/*
 * generator.h - streaming generators (Ray's num_returns="streaming"): the
 * private calls between the caller's side (generator.c: the handle, the
 * items as they arrive, consumption acks) and the producer's side
 * (gen_yield.c: lumen_yield_*, back-pressure, cancel of a running producer).
 * docs/generators.md describes the protocol.
 */
#ifndef LUMEN_RUNTIME_GENERATOR_H
#define LUMEN_RUNTIME_GENERATOR_H

#include "runtime/runtime.h"

/* Item k of the streaming task `task` (an object owned by the task's owner):
 * kind LM_OID_STREAM, the low 16 bits of k in the index field, the high bits
 * above the task's sequence number in lo (sequence numbers stay below 2^40). */
#define LM_SEQ_BITS 40
static inline lm_oid lm_stream_item_oid(lm_oid task, uint64_t k)
{
    lm_oid id = lm_oid_make(lm_oid_owner(task), (unsigned)(k & 0xffff), LM_OID_STREAM, lm_oid_epoch(task),
                            (task.lo & ((1ull << LM_SEQ_BITS) - 1)) | ((k >> 16) << LM_SEQ_BITS));
    return id;
}

/* submit.c: lumen_remote, or with gen a streaming generator's task */
lumen_status lm_remote_submit(const char *fn, const lumen_arg *args, size_t nargs, const lumen_task_options *opts,
                              struct lumen_generator *gen, uint32_t gen_bound, lumen_ref *returns);

/* actor/api.c: lumen_actor_call, or with gen a streaming method's call */
lumen_status lm_actor_call_submit(lumen_actor actor, const char *method, const lumen_arg *args, size_t nargs,
                                  const lumen_call_options *opts, struct lumen_generator *gen, uint32_t gen_bound,
                                  lumen_ref *returns);

/* generator.c (caller side) */
void lm_gen_attach(lm_rt *rt, lm_task_rec *t);          /* rt->lock held: id just made */
/* items first .. first+n-1 of a task's attempt arrived (a YIELD message,
 * or a direct call from a producer on this rank); no lock held */
void lm_gen_handle_items(lm_rt *rt, lm_oid task, uint32_t attempt, int executor, uint64_t first, uint32_t n,
                         const lm_wval *vals);

/* gen_yield.c (producer side; gen_lock is a leaf lock of that file) */
lumen_status lm_gen_prod_begin(lm_rt *rt, lumen_task_ctx *c);
/* the task returned st: the status to answer with (the item count goes in
 * return slot 0 on success; LUMEN_ERR_TASK_CANCELLED if cancelled) */
lumen_status lm_gen_prod_end(lm_rt *rt, lumen_task_ctx *c, lumen_status st);
/* 1 if it runs here; else with remember, a producer of that id that starts
 * soon starts cancelled (a cancel that raced with its start) */
int lm_gen_prod_cancel(lm_rt *rt, lm_oid task, int remember);
void lm_gen_prod_ack(lm_rt *rt, lm_oid task, uint64_t taken);
void lm_gen_flush(lm_rt *rt);  /* progress role: send the producers' batches */

#endif
