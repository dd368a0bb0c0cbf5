/*
 * transport.h - the narrow interface between the runtime and the network.
 *
 * A transport moves two things between ranks:
 *   - control messages (msg.h): small, ordered per pair of ranks;
 *   - object data: a byte range sent from a holder's store straight into a
 *     reader's buffer, matched by (source rank, tag), completed by callback.
 * Every function is called by the one thread that holds the progress role
 * (runtime/progress.c), so implementations need no locking of their own.
 * MPI (transport/mpi) moves both over MPI; UCX (transport/ucx) keeps control
 * messages on MPI and pulls object data with UCX RMA get. init.c picks one
 * (LUMEN_TRANSPORT).
 */
#ifndef LUMEN_TRANSPORT_H
#define LUMEN_TRANSPORT_H

#include <stddef.h>

#include "lumen.h"

typedef struct lm_transport lm_transport;

/* Called for each control message received. The callee owns buf (free()). */
typedef void (*lm_tp_deliver_fn)(void *arg, int src, void *buf, size_t len);
/* Called once when a data send or receive finishes (or fails). */
typedef void (*lm_tp_done_fn)(void *arg, lumen_status st);

typedef struct lm_transport_ops {
    const char *name;
    /* send a control message; takes ownership of buf (freed after sending) */
    lumen_status (*send_ctrl)(lm_transport *tp, int dest, void *buf, size_t len);
    /* send / receive len bytes of object data on tag; memory stays valid until done */
    lumen_status (*send_data)(lm_transport *tp, int dest, int tag, const void *data, size_t len,
                              lm_tp_done_fn done, void *arg);
    lumen_status (*recv_data)(lm_transport *tp, int src, int tag, void *data, size_t len,
                              lm_tp_done_fn done, void *arg);
    /* cancel a posted receive (its done callback runs with an error) */
    void (*cancel_recv)(lm_transport *tp, int src, int tag);
    /* make progress: complete sends/receives, deliver up to max control
     * messages. Returns the number of events handled. */
    int (*poll)(lm_transport *tp, int max, lm_tp_deliver_fn deliver, void *arg);
    /* number of operations still in flight */
    size_t (*pending)(lm_transport *tp);
    void (*destroy)(lm_transport *tp);
    /* 1 when send_data and recv_data take CUDA device memory themselves
     * (device objects then skip host staging); NULL: never */
    int (*moves_device)(lm_transport *tp);
} lm_transport_ops;

struct lm_transport {
    const lm_transport_ops *ops;
    /* why the last transfer failed, set just before its done callback runs
     * with an error ("" when the transport has nothing to add); read by the
     * callback, on the same thread */
    char last_error[256];
};

/* Tags on lumen's communicator. Data tags live in [LM_TAG_DATA_MIN,
 * LM_TAG_DATA_MAX]; 1 is for control, 2..15 for a transport's own protocol
 * messages (UCX: 2); [LM_TAG_COMM_MIN, LM_TAG_COMM_MAX] for the messages
 * MPI_Comm_create_group exchanges on it (collective groups), which must
 * never be taken by a probe or receive for another tag's traffic. All are
 * below 32767, the least MPI_TAG_UB MPI allows. */
#define LM_TAG_CTRL 1
#define LM_TAG_UCX 2
#define LM_TAG_DATA_MIN 16
#define LM_TAG_DATA_MAX 32000
#define LM_TAG_COMM_MIN 32001
#define LM_TAG_COMM_MAX 32767

#endif
