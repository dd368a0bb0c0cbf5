/*
 * observe.h - what a running job shows about itself: the timeline of tasks
 * and actor calls (Ray's ray.timeline, Chrome trace JSON) and the message a
 * rank leaves when it crashes. Private to the runtime; the public calls are
 * in lumen.h.
 */
#ifndef LUMEN_OBSERVE_H
#define LUMEN_OBSERVE_H

#include <stdint.h>

#include "runtime/runtime.h"

/* ---- timeline.c ---- */
#define LM_EV_TASK 0
#define LM_EV_CALL 1
#define LM_EV_CREATE 2

/* One run of a task, method or constructor on this rank. Thread safe; drops
 * events beyond the buffer (LUMEN_TIMELINE_EVENTS, default 1M per rank). */
void lm_timeline_record(lm_rt *rt, int kind, const char *fn, const char *cls, uint64_t start_us,
                        uint64_t end_us, uint64_t arg_bytes, int failed);
uint64_t lm_wall_us(void); /* CLOCK_REALTIME in microseconds: one time base for all ranks */
/* progress role: a rank asked for our events (CTL TIMELINE_QUERY) */
void lm_timeline_answer(lm_rt *rt, int src, int tag);
void lm_timeline_free(lm_rt *rt);

/* ---- state.c ---- */
void lm_state_answer(lm_rt *rt, int src, const lm_ctl_msg *m); /* progress role: STATE_QUERY */
/* progress role: <job_dir>/state-rank-R.json (this rank's tasks and objects,
 * the first 1000 of each), rewritten at most once a second when they changed */
void lm_state_write_rank(lm_rt *rt);
/* write text to path through path.tmp and rename: readers see the old file
 * or the new one, never half (the job folder is made if missing) */
void lm_write_file_atomic(lm_rt *rt, const char *path, const char *text);
void lm_state_remove_rank(lm_rt *rt);

/* ---- log.c ---- */
void lm_log_open(lm_rt *rt);  /* LUMEN_LOG_LEVEL, LUMEN_LOG_DIR */
void lm_log_close(void);
void lm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* LUMEN_LOG_* */

/* ---- output.c: "(rank R) " before each line non-driver ranks print ---- */
void lm_output_start(lm_rt *rt);
void lm_output_stop(void);

/* ---- crash.c ---- */
/* Install handlers for fatal signals that were left at their default: they
 * print "lumen: rank R (host H) died of signal N (NAME) while running ..." and
 * re-raise, so the MPI launcher ends the job. */
void lm_crash_install(lm_rt *rt);

#endif
