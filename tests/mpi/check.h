/*
 * check.h - assertions for lumen's MPI tests: a failed CHECK prints the rank,
 * the line, the expression and lumen_last_error(), then aborts the job so
 * mpiexec exits non-zero instead of hanging.
 */
#ifndef LUMEN_TEST_CHECK_H
#define LUMEN_TEST_CHECK_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include <lumen.h>

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "[rank %d] %s:%d: CHECK failed: %s (last error: %s)\n",         \
                    lumen_rank(), __FILE__, __LINE__, #cond, lumen_last_error());            \
            fflush(stderr);                                                                  \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                    \
        }                                                                                    \
    } while (0)

#define CHECK_OK(call)                                                                       \
    do {                                                                                     \
        lumen_status st_ = (call);                                                           \
        if (st_ != LUMEN_OK) {                                                               \
            fprintf(stderr, "[rank %d] %s:%d: %s returned %d (%s): %s\n", lumen_rank(),      \
                    __FILE__, __LINE__, #call, (int)st_, lumen_strerror(st_),                \
                    lumen_last_error());                                                     \
            fflush(stderr);                                                                  \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                    \
        }                                                                                    \
    } while (0)

#define CHECK_ST(call, want)                                                                 \
    do {                                                                                     \
        lumen_status st_ = (call);                                                           \
        if (st_ != (want)) {                                                                 \
            fprintf(stderr, "[rank %d] %s:%d: %s returned %d (%s), wanted %d: %s\n",          \
                    lumen_rank(), __FILE__, __LINE__, #call, (int)st_, lumen_strerror(st_),  \
                    (int)(want), lumen_last_error());                                        \
            fflush(stderr);                                                                  \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                    \
        }                                                                                    \
    } while (0)

#endif
