/*
 * ucx_transport.h - the transport whose object data moves by UCX RMA get.
 *
 * Control messages stay on MPI (the same path as transport/mpi). Object data:
 * each rank registers its mapping of the node store once (ucp_mem_map) and
 * the job exchanges worker addresses, store base addresses and packed rkeys
 * with MPI collectives at create time; a data send tells the reader where the
 * bytes lie (a small MPI message on the transport's own tag) and the reader
 * pulls them with ucp_get_nbx straight into its buffer, then says it is done.
 */
#ifndef LUMEN_TRANSPORT_UCX_H
#define LUMEN_TRANSPORT_UCX_H

#include <mpi.h>

#include "transport/transport.h"

/* Collective over comm (every rank calls it, before any thread polls). The
 * region [reg_base, reg_base + reg_len) (this rank's mapping of the node
 * store) is registered once; data sends from elsewhere are registered per
 * transfer. Fails on every rank if UCX cannot start on any rank. */
lumen_status lm_ucx_transport_create(MPI_Comm comm, void *reg_base, size_t reg_len, lm_transport **out);

#endif
