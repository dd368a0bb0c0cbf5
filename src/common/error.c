/*
 * error.c - lumen_strerror and the per-thread detail message behind
 * lumen_last_error. Owns nothing else.
 */
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *lumen_strerror(lumen_status st)
{
    switch (st) {
    case LUMEN_OK: return "success";
    case LUMEN_ERR_INVALID_ARG: return "invalid argument";
    case LUMEN_ERR_NOT_INITIALIZED: return "lumen is not initialized";
    case LUMEN_ERR_ALREADY_INITIALIZED: return "lumen is already initialized";
    case LUMEN_ERR_NO_MEMORY: return "out of memory";
    case LUMEN_ERR_MPI: return "MPI error";
    case LUMEN_ERR_UNKNOWN_FUNCTION: return "unknown remote function";
    case LUMEN_ERR_INVALID_REF: return "invalid object reference";
    case LUMEN_ERR_TIMEOUT: return "timed out";
    case LUMEN_ERR_TASK_FAILED: return "task failed";
    case LUMEN_ERR_TASK_CANCELLED: return "task cancelled";
    case LUMEN_ERR_INFEASIBLE: return "resource request infeasible";
    case LUMEN_ERR_TYPE_MISMATCH: return "type mismatch";
    case LUMEN_ERR_OUT_OF_RANGE: return "out of range";
    case LUMEN_ERR_STORE_FULL: return "object store full";
    case LUMEN_ERR_IO: return "I/O error";
    case LUMEN_ERR_SHUTDOWN: return "lumen is shutting down";
    case LUMEN_ERR_PROTOCOL: return "malformed message";
    case LUMEN_ERR_INTERNAL: return "internal error";
    case LUMEN_ERR_ACTOR_DIED: return "actor died";
    case LUMEN_ERR_PENDING_CALLS_EXCEEDED: return "too many pending calls to the actor";
    case LUMEN_ERR_NOT_FOUND: return "not found";
    case LUMEN_ERR_ALREADY_EXISTS: return "already exists";
    case LUMEN_PENDING: return "pending (an async actor method awaits)";
    case LUMEN_ERR_END_OF_STREAM: return "end of stream";
    case LUMEN_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status code";
}

const char *lumen_last_error(void) { return last_error; }

void lm_error_clear(void) { last_error[0] = '\0'; }

/* Format into a scratch buffer first: callers may pass lumen_last_error()
 * itself as an argument, to wrap the cause they just got. */
lumen_status lm_error(lumen_status st, const char *fmt, ...)
{
    char tmp[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(last_error, tmp, sizeof tmp);
    return st;
}

lumen_status lm_error_str(lumen_status st, const char *msg)
{
    if (!msg)
        msg = "";
    size_t n = strlen(msg);
    if (n >= sizeof last_error)
        n = sizeof last_error - 1;
    memmove(last_error, msg, n);
    last_error[n] = '\0';
    return st;
}
