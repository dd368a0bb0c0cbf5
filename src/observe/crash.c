/*
 * crash.c - the last words of a rank that crashes. A fatal signal (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGABRT) prints one line naming the rank, the host
 * and the task or actor method the crashing thread was running, then the
 * handler that was there before runs (MPI's backtrace printer, a
 * sanitizer's report, the application's own) or, if none, the default
 * action: the process dies of the same signal and the MPI launcher (mpirun,
 * mpiexec, srun) ends the job as it does for any crashed rank, so nobody
 * waits on the dead rank.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actor/actor.h"
#include "observe/observe.h"

extern _Thread_local lumen_task_ctx *lm_tls_ctx;

static char prefix[256]; /* "lumen: rank R (host H)": made at install */
static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NSIGS (sizeof sigs / sizeof sigs[0])
static struct sigaction previous[NSIGS];
static volatile sig_atomic_t reported;

static size_t put(char *buf, size_t len, size_t cap, const char *s)
{
    while (*s && len + 1 < cap)
        buf[len++] = *s++;
    buf[len] = '\0';
    return len;
}

static void on_fatal(int sig, siginfo_t *info, void *uctx)
{
    /* async-signal-safe: only writes into a stack buffer and write(2) */
    char line[768];
    size_t n = put(line, 0, sizeof line, prefix);
    n = put(line, n, sizeof line, " died of signal ");
    char num[8];
    int k = 0, v = sig;
    char tmp[8];
    do
        tmp[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < 7);
    for (int i = 0; i < k; i++)
        num[i] = tmp[k - 1 - i];
    num[k] = '\0';
    n = put(line, n, sizeof line, num);
    const char *name = sig == SIGSEGV ? " (SIGSEGV)" : sig == SIGBUS ? " (SIGBUS)" : sig == SIGFPE ? " (SIGFPE)"
                       : sig == SIGILL ? " (SIGILL)" : sig == SIGABRT ? " (SIGABRT)" : "";
    n = put(line, n, sizeof line, name);
    lumen_task_ctx *c = lm_tls_ctx;
    if (c && c->task) {
        const lm_task_msg *m = &c->task->m;
        if (m->kind == LM_KIND_CALL && c->actor) {
            n = put(line, n, sizeof line, " while running method '");
            n = put(line, n, sizeof line, m->fn);
            n = put(line, n, sizeof line, "' of actor '");
            n = put(line, n, sizeof line, c->actor->cls);
            n = put(line, n, sizeof line, "'");
        } else {
            n = put(line, n, sizeof line, m->kind == LM_KIND_CREATE ? " while running the constructor of actor '"
                                                                    : " while running task '");
            n = put(line, n, sizeof line, m->fn);
            n = put(line, n, sizeof line, "'");
        }
    } else {
        n = put(line, n, sizeof line, " outside any task");
    }
    n = put(line, n, sizeof line, "\n");
    if (!reported) { /* one line, even if the chain re-raises into us */
        reported = 1;
        ssize_t w = write(STDERR_FILENO, line, n);
        (void)w;
    }
    for (size_t i = 0; i < NSIGS; i++) {
        if (sigs[i] != sig)
            continue;
        struct sigaction *old = &previous[i];
        sigaction(sig, old, NULL); /* from now on the previous handler owns it */
        if (old->sa_flags & SA_SIGINFO) {
            if (old->sa_sigaction) {
                old->sa_sigaction(sig, info, uctx);
                return;
            }
        } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
            old->sa_handler(sig);
            return;
        }
    }
    signal(sig, SIG_DFL);
    raise(sig); /* the default action: die of it */
}

void lm_crash_install(lm_rt *rt)
{
    char host[128] = "?";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(prefix, sizeof prefix, "lumen: rank %d (host %s, pid %d)", rt->rank, host, (int)getpid());
    static int installed; /* once per process: a second lumen_init keeps them */
    if (installed)
        return;
    installed = 1;
    for (size_t i = 0; i < NSIGS; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
        if (sigaction(sigs[i], &sa, &previous[i]) != 0)
            memset(&previous[i], 0, sizeof previous[i]);
    }
}
