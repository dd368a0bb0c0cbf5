/*
 * lumen/mpi.h - start lumen inside an MPI application ("library mode").
 *
 * An MPI program that already called MPI_Init_thread hands lumen a
 * communicator, for
 * example a sub-communicator of MPI_COMM_WORLD, and keeps using MPI on the
 * rest. Rank 0 of `comm` is the driver. lumen's progress thread calls MPI at
 * any time, so a program that makes any MPI call of its own while lumen is
 * initialised needs MPI_THREAD_MULTIPLE; MPI_THREAD_SERIALIZED is enough
 * only if it leaves MPI alone until lumen_finalize. lumen duplicates the communicator;
 * lumen_finalize does not call MPI_Finalize in this mode.
 */
#ifndef LUMEN_MPI_H
#define LUMEN_MPI_H

#include <mpi.h>

#include "lumen.h"

#ifdef __cplusplus
extern "C" {
#endif

lumen_status lumen_init_comm(MPI_Comm comm, const lumen_init_options *opts);

#ifdef __cplusplus
}
#endif
#endif
