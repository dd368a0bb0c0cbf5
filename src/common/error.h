/*
 * error.h - status codes and the per-thread error message (private helpers).
 *
 * lm_error() records a formatted detail message for the calling thread and
 * returns the status it was given, so failures read as one line:
 *     return lm_error(LUMEN_ERR_INVALID_ARG, "size %zu exceeds %zu", n, max);
 * lumen_last_error() (public) reads the message back.
 */
#ifndef LUMEN_COMMON_ERROR_H
#define LUMEN_COMMON_ERROR_H

#include "lumen.h"

lumen_status lm_error(lumen_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clear the calling thread's message (successful calls leave it alone). */
void lm_error_clear(void);
/* Set the message verbatim (no formatting), e.g. a chained task error. */
lumen_status lm_error_str(lumen_status st, const char *msg);

#endif
