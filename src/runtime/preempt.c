/*
 * preempt.c - the end of an allocation announced by a signal: Slurm sends
 * SIGTERM when a job is cancelled or hits its limit, and the signal asked
 * for with `sbatch --signal=USR1@120` (or `B:USR1@120`, which reaches
 * mpirun, and Open MPI's mpirun forwards USR1 to every rank) some time
 * before. lumen catches SIGTERM and SIGUSR1 (a handler already there, the
 * program's or its MPI's, still runs after lumen's), and then, on every
 * rank:
 *   - tells every other rank, so all of them act even if only one was told;
 *   - runs the checkpoint hooks the program registered, in order, on the
 *     progress thread (never in the signal handler);
 *   - marks the job preempted: lumen_preempted() is 1, so the program's loop
 *     can stop and call lumen_finalize (the clean way out for every rank);
 *   - the driver writes the timeline if LUMEN_TIMELINE is set.
 * A program that does not look at lumen_preempted() is ended by Slurm at
 * its limit as before; its hooks have run by then.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "gcs/gcs.h"
#include "observe/observe.h"
#include "runtime/runtime.h"

#define MAX_HOOKS 64

static struct {
    void (*fn)(void *);
    void *arg;
} hooks[MAX_HOOKS];
static int nhooks;
static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t requested;   /* a signal arrived here */
static atomic_int remote_requested;       /* another rank said so */
static atomic_int preempted;              /* hooks ran on this rank */

lumen_status lumen_register_checkpoint_hook(void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_register_checkpoint_hook: NULL function");
    lumen_status st = LUMEN_OK;
    pthread_mutex_lock(&hooks_lock);
    if (nhooks == MAX_HOOKS) {
        st = lm_error(LUMEN_ERR_OUT_OF_RANGE, "more than %d checkpoint hooks", MAX_HOOKS);
    } else {
        hooks[nhooks].fn = fn;
        hooks[nhooks].arg = arg;
        nhooks++;
    }
    pthread_mutex_unlock(&hooks_lock);
    return st;
}

int lumen_preempted(void) { return atomic_load(&preempted); }

static const int sigs[] = {SIGTERM, SIGUSR1};
static struct sigaction previous[2];

static void on_signal(int sig, siginfo_t *info, void *uctx)
{
    requested = 1; /* the progress thread does the rest */
    for (int i = 0; i < 2; i++) {
        if (sigs[i] != sig)
            continue;
        const struct sigaction *old = &previous[i];
        if (old->sa_flags & SA_SIGINFO) {
            if (old->sa_sigaction)
                old->sa_sigaction(sig, info, uctx);
        } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
            old->sa_handler(sig);
        }
    }
}

void lm_preempt_install(void)
{
    static int installed;
    if (installed)
        return;
    installed = 1;
    for (int i = 0; i < 2; i++) {
        struct sigaction sa;
        if (sigaction(sigs[i], NULL, &previous[i]) != 0 ||
            (!(previous[i].sa_flags & SA_SIGINFO) && previous[i].sa_handler == SIG_IGN))
            continue; /* ignored on purpose: leave it */
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART | SA_SIGINFO;
        sigaction(sigs[i], &sa, NULL);
    }
}

void lm_preempt_remote(lm_rt *rt)
{
    (void)rt;
    atomic_store(&remote_requested, 1);
}

/* progress thread, no lock held */
void lm_preempt_poll(lm_rt *rt)
{
    if ((!requested && !atomic_load(&remote_requested)) || atomic_load(&preempted))
        return;
    if (requested) { /* told here: tell everyone else */
        requested = 0;
        for (int r = 0; r < rt->size; r++)
            if (r != rt->rank) {
                lm_ctl_msg m = {.op = LM_CTL_PREEMPT};
                lm_ctl_send(rt, r, &m);
            }
        lm_progress(rt);
    }
    lm_log(LUMEN_LOG_WARNING, "the allocation is ending: running %d checkpoint hook(s)", nhooks);
    pthread_mutex_lock(&hooks_lock);
    int n = nhooks;
    pthread_mutex_unlock(&hooks_lock);
    for (int i = 0; i < n; i++)
        hooks[i].fn(hooks[i].arg);
    atomic_store(&preempted, 1);
    if (rt->rank == 0) {
        const char *tl = getenv("LUMEN_TIMELINE");
        if (tl && *tl && lumen_timeline(tl) != LUMEN_OK)
            fprintf(stderr, "lumen: LUMEN_TIMELINE: %s\n", lumen_last_error());
    }
    fflush(stdout);
    fflush(stderr);
    pthread_mutex_lock(&rt->lock);
    pthread_cond_broadcast(&rt->ready_cv); /* waiters looking at lumen_preempted() */
    pthread_mutex_unlock(&rt->lock);
}
