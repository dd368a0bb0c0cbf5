/*
 * mpi_transport.h - create the MPI transport over a communicator.
 */
#ifndef LUMEN_TRANSPORT_MPI_H
#define LUMEN_TRANSPORT_MPI_H

#include <mpi.h>

#include "transport/transport.h"

/* comm is used as is (the runtime passes its own duplicate). */
lumen_status lm_mpi_transport_create(MPI_Comm comm, lm_transport **out);

#endif
