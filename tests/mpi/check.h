/*
 * check.h - assertions for lumen's MPI tests: a failed CHECK prints the rank,
 * the line, the expression and lumen_last_error(), then aborts the job so
 * mpiexec exits non-zero instead of hanging.
 *
 * Before MPI_Init and after MPI_Finalize there is no job to abort: a failed
 * CHECK then exits the process with status 1 (mpiexec reports it).
 */
#ifndef LUMEN_TEST_CHECK_H
#define LUMEN_TEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime, nanosleep, mkdtemp...: include check.h first */
#endif

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lumen.h>

/* the timeout every test get/wait uses: a bug fails the test, never hangs it */
#define T_TIMEOUT 60000

static inline void check_abort_(void)
{
    int inited = 0, finalized = 0;
    fflush(stdout);
    fflush(stderr);
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (inited && !finalized)
        MPI_Abort(MPI_COMM_WORLD, 1);
    _Exit(1);
}

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "[rank %d] %s:%d: CHECK failed: %s (last error: %s)\n",         \
                    lumen_rank(), __FILE__, __LINE__, #cond, lumen_last_error());            \
            check_abort_();                                                                  \
        }                                                                                    \
    } while (0)

/* CHECK with a printf-style explanation */
#define CHECKF(cond, ...)                                                                    \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "[rank %d] %s:%d: CHECK failed: %s (last error: %s): ",         \
                    lumen_rank(), __FILE__, __LINE__, #cond, lumen_last_error());            \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
            check_abort_();                                                                  \
        }                                                                                    \
    } while (0)

#define CHECK_OK(call)                                                                       \
    do {                                                                                     \
        lumen_status st_ = (call);                                                           \
        if (st_ != LUMEN_OK) {                                                               \
            fprintf(stderr, "[rank %d] %s:%d: %s returned %d (%s): %s\n", lumen_rank(),      \
                    __FILE__, __LINE__, #call, (int)st_, lumen_strerror(st_),                \
                    lumen_last_error());                                                     \
            check_abort_();                                                                  \
        }                                                                                    \
    } while (0)

#define CHECK_ST(call, want)                                                                 \
    do {                                                                                     \
        lumen_status st_ = (call);                                                           \
        if (st_ != (want)) {                                                                 \
            fprintf(stderr, "[rank %d] %s:%d: %s returned %d (%s), wanted %d: %s\n",          \
                    lumen_rank(), __FILE__, __LINE__, #call, (int)st_, lumen_strerror(st_),  \
                    (int)(want), lumen_last_error());                                        \
            check_abort_();                                                                  \
        }                                                                                    \
    } while (0)

/* the last error message of this thread contains `sub` */
#define CHECK_ERRMSG(sub)                                                                    \
    do {                                                                                     \
        const char *m_ = lumen_last_error();                                                 \
        if (!m_ || !strstr(m_, (sub))) {                                                     \
            fprintf(stderr, "[rank %d] %s:%d: last error \"%s\" does not contain \"%s\"\n",  \
                    lumen_rank(), __FILE__, __LINE__, m_ ? m_ : "(null)", (sub));            \
            check_abort_();                                                                  \
        }                                                                                    \
    } while (0)

/* a string contains `sub` */
#define CHECK_CONTAINS(str, sub)                                                             \
    do {                                                                                     \
        const char *s_ = (str);                                                              \
        if (!s_ || !strstr(s_, (sub))) {                                                     \
            fprintf(stderr, "[rank %d] %s:%d: \"%s\" does not contain \"%s\"\n",             \
                    lumen_rank(), __FILE__, __LINE__, s_ ? s_ : "(null)", (sub));            \
            check_abort_();                                                                  \
        }                                                                                    \
    } while (0)

/* inside a remote function: a failed lumen call fails the task with its cause */
#define TASK_TRY(call)                                                                       \
    do {                                                                                     \
        lumen_status tst_ = (call);                                                          \
        if (tst_ != LUMEN_OK)                                                                \
            return tst_;                                                                     \
    } while (0)

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* byte i of a test pattern with seed `seed` (not periodic in any power of two) */
static inline unsigned char pattern_byte(uint64_t seed, size_t i)
{
    uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + seed * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (unsigned char)(x ^ (x >> 17) ^ (i >> 12));
}

static inline void pattern_fill(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = pattern_byte(seed, i);
}

/* index of the first byte that differs from the pattern, or n */
static inline size_t pattern_find_bad(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pattern_byte(seed, i))
            return i;
    return n;
}

#define CHECK_PATTERN(p, n, seed)                                                            \
    do {                                                                                     \
        size_t n_ = (n);                                                                     \
        size_t bad_ = pattern_find_bad((p), n_, (seed));                                     \
        CHECKF(bad_ == n_, "pattern %llu: byte %zu of %zu differs", (unsigned long long)(seed), \
               bad_, n_);                                                                    \
    } while (0)

/* sum of the bytes of the pattern, for checks done where the data is */
static inline uint64_t byte_sum(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    return s;
}

#endif
