/*
 * log.c - lumen's log lines: one format for the runtime's own messages and
 * the program's (lumen_log), with the level, the time, the rank, and the
 * task or actor method the thread is running (name and id), as Ray's worker
 * logs carry the task. LUMEN_LOG_LEVEL picks the level (error, warning,
 * info, debug; default warning); LUMEN_LOG_DIR sends each rank's lines to
 * <dir>/rank-<R>.log instead of stderr (the folder is created).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "actor/actor.h"
#include "common/error.h"
#include "observe/observe.h"

extern _Thread_local lumen_task_ctx *lm_tls_ctx;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;      /* NULL: stderr */
static int log_level = LUMEN_LOG_WARNING;
static int log_rank = -1;

void lm_log_open(lm_rt *rt)
{
    const char *lv = getenv("LUMEN_LOG_LEVEL");
    if (lv) {
        static const char *names[] = {"error", "warning", "info", "debug"};
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(lv, names[i]) || (lv[0] == '0' + i && lv[1] == '\0'))
                log_level = i;
    }
    log_rank = rt->rank;
    const char *dir = getenv("LUMEN_LOG_DIR");
    if (dir && *dir) {
        mkdir(dir, 0755);
        char path[1024];
        snprintf(path, sizeof path, "%s/rank-%d.log", dir, rt->rank);
        pthread_mutex_lock(&log_lock);
        if (log_file)
            fclose(log_file);
        log_file = fopen(path, "a");
        pthread_mutex_unlock(&log_lock);
        if (!log_file)
            fprintf(stderr, "lumen[%d]: LUMEN_LOG_DIR: cannot open %s: %s; logging to stderr\n", rt->rank, path,
                    strerror(errno));
    }
}

void lm_log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_file)
        fclose(log_file);
    log_file = NULL;
    pthread_mutex_unlock(&log_lock);
}

static void vlog(int level, const char *fmt, va_list ap)
{
    static const char *names[] = {"ERROR", "WARNING", "INFO", "DEBUG"};
    char where[512] = "";
    lumen_task_ctx *c = lm_tls_ctx;
    if (c && c->task) {
        const lm_task_msg *m = &c->task->m;
        if (m->kind == LM_KIND_CALL && c->actor)
            snprintf(where, sizeof where, " actor=%s actor_id=%016llx%016llx method=%s task=%016llx%016llx",
                     c->actor->cls, (unsigned long long)c->actor->id.hi, (unsigned long long)c->actor->id.lo, m->fn,
                     (unsigned long long)m->task_id.hi, (unsigned long long)m->task_id.lo);
        else
            snprintf(where, sizeof where, " %s=%s task=%016llx%016llx", m->kind == LM_KIND_CREATE ? "actor" : "function",
                     m->fn, (unsigned long long)m->task_id.hi, (unsigned long long)m->task_id.lo);
    }
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    pthread_mutex_lock(&log_lock);
    FILE *f = log_file ? log_file : stderr;
    fprintf(f, "%s.%03ld %s lumen rank=%d%s: %s\n", when, ts.tv_nsec / 1000000, names[level], log_rank, where, msg);
    fflush(f);
    pthread_mutex_unlock(&log_lock);
}

void lm_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

lumen_status lumen_log(lumen_log_level level, const char *fmt, ...)
{
    if (level < LUMEN_LOG_ERROR || level > LUMEN_LOG_DEBUG || !fmt)
        return lm_error(LUMEN_ERR_INVALID_ARG, "lumen_log: bad level %d or NULL format", (int)level);
    if ((int)level > log_level)
        return LUMEN_OK;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
    return LUMEN_OK;
}
