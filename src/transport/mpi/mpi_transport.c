/*
 * mpi_transport.c - the transport over MPI point-to-point.
 *
 * Control messages: MPI_Isend on LM_TAG_CTRL, received with MPI_Improbe +
 * MPI_Mrecv so any size arrives without a pre-posted buffer. Object data:
 * MPI_Isend/MPI_Irecv of the caller's memory on a per-transfer tag, split in
 * chunks of at most 1 GiB (MPI counts are int); chunks of one transfer share
 * the tag and match in order (MPI's non-overtaking rule). Owns the list of
 * requests in flight; knows nothing of what the bytes mean.
 */
#include "transport/mpi/mpi_transport.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define CHUNK ((size_t)1 << 30)

typedef struct op {
    struct op *next;
    int kind; /* 0 ctrl send, 1 data send, 2 data recv */
    int peer, tag;
    int nreq, left;
    MPI_Request *reqs;
    MPI_Request one;
    void *owned; /* ctrl buffer to free */
    lm_tp_done_fn done;
    void *arg;
    int failed, cancelled;
} op;

typedef struct mpi_tp {
    lm_transport base;
    MPI_Comm comm;
    op *ops;
    size_t nops;
} mpi_tp;

static op *op_new(mpi_tp *t, int kind, int peer, int tag, int nreq)
{
    op *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->kind = kind;
    o->peer = peer;
    o->tag = tag;
    o->nreq = o->left = nreq;
    o->reqs = nreq == 1 ? &o->one : calloc((size_t)nreq, sizeof(MPI_Request));
    if (!o->reqs) {
        free(o);
        return NULL;
    }
    for (int i = 0; i < nreq; i++)
        o->reqs[i] = MPI_REQUEST_NULL;
    o->next = t->ops;
    t->ops = o;
    t->nops++;
    return o;
}

static void op_free(op *o)
{
    if (o->reqs != &o->one)
        free(o->reqs);
    free(o->owned);
    free(o);
}

static lumen_status send_ctrl(lm_transport *tp, int dest, void *buf, size_t len)
{
    mpi_tp *t = (mpi_tp *)tp;
    if (len > (size_t)INT32_MAX) {
        free(buf);
        return lm_error(LUMEN_ERR_OUT_OF_RANGE, "control message of %zu bytes", len);
    }
    op *o = op_new(t, 0, dest, LM_TAG_CTRL, 1);
    if (!o) {
        free(buf);
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a send");
    }
    o->owned = buf;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, LM_TAG_CTRL, t->comm, &o->reqs[0]) != MPI_SUCCESS) {
        o->failed = 1;
        o->left = 0;
        return lm_error(LUMEN_ERR_MPI, "MPI_Isend to rank %d failed", dest);
    }
    return LUMEN_OK;
}

static lumen_status post_data(mpi_tp *t, int kind, int peer, int tag, void *data, size_t len,
                              lm_tp_done_fn done, void *arg)
{
    int nreq = len == 0 ? 1 : (int)((len + CHUNK - 1) / CHUNK);
    op *o = op_new(t, kind, peer, tag, nreq);
    if (!o)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a transfer");
    o->done = done;
    o->arg = arg;
    for (int i = 0; i < nreq; i++) {
        size_t off = (size_t)i * CHUNK;
        int n = (int)(len - off < CHUNK ? len - off : CHUNK);
        char *p = (char *)data + off;
        int rc = kind == 1 ? MPI_Isend(p, n, MPI_BYTE, peer, tag, t->comm, &o->reqs[i])
                           : MPI_Irecv(p, n, MPI_BYTE, peer, tag, t->comm, &o->reqs[i]);
        if (rc != MPI_SUCCESS) {
            o->failed = 1;
            return LUMEN_OK; /* reported through done() at the next poll */
        }
    }
    return LUMEN_OK;
}

static lumen_status send_data(lm_transport *tp, int dest, int tag, const void *data, size_t len,
                              lm_tp_done_fn done, void *arg)
{
    return post_data((mpi_tp *)tp, 1, dest, tag, (void *)data, len, done, arg);
}

static lumen_status recv_data(lm_transport *tp, int src, int tag, void *data, size_t len,
                              lm_tp_done_fn done, void *arg)
{
    return post_data((mpi_tp *)tp, 2, src, tag, data, len, done, arg);
}

static void cancel_recv(lm_transport *tp, int src, int tag)
{
    mpi_tp *t = (mpi_tp *)tp;
    for (op *o = t->ops; o; o = o->next) {
        if (o->kind != 2 || o->peer != src || o->tag != tag || o->cancelled)
            continue;
        o->cancelled = 1;
        for (int i = 0; i < o->nreq; i++)
            if (o->reqs[i] != MPI_REQUEST_NULL)
                MPI_Cancel(&o->reqs[i]);
    }
}

/* GCC 12 misreads MPICH's MPI_STATUSES_IGNORE as a 1-element array. */
static int test_all(int n, MPI_Request *reqs, int *flag)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
    return MPI_Testall(n, reqs, flag, MPI_STATUSES_IGNORE);
#pragma GCC diagnostic pop
}

/* Test every request in flight; finished operations run their callback. */
static int complete_ops(mpi_tp *t)
{
    int events = 0;
    op **pp = &t->ops;
    while (*pp) {
        op *o = *pp;
        if (!o->failed) {
            int flag = 0;
            if (o->nreq == 1) {
                if (o->reqs[0] == MPI_REQUEST_NULL) {
                    flag = 1;
                } else if (MPI_Test(&o->reqs[0], &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
                    o->failed = 1;
                    flag = 1;
                }
            } else if (test_all(o->nreq, o->reqs, &flag) != MPI_SUCCESS) {
                o->failed = 1;
                flag = 1;
            }
            if (!flag) {
                pp = &o->next;
                continue;
            }
        }
        *pp = o->next;
        t->nops--;
        events++;
        if (o->done)
            o->done(o->arg, o->failed      ? LUMEN_ERR_MPI
                            : o->cancelled ? LUMEN_ERR_IO
                                           : LUMEN_OK);
        op_free(o);
    }
    return events;
}

static int poll(lm_transport *tp, int max, lm_tp_deliver_fn deliver, void *arg)
{
    mpi_tp *t = (mpi_tp *)tp;
    int events = t->ops ? complete_ops(t) : 0;
    for (int i = 0; i < max; i++) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status st;
        if (MPI_Improbe(MPI_ANY_SOURCE, LM_TAG_CTRL, t->comm, &flag, &msg, &st) != MPI_SUCCESS ||
            !flag)
            break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        void *buf = malloc(count > 0 ? (size_t)count : 1);
        if (!buf) /* drop the message rather than abort; the sender sees nothing */
            buf = NULL;
        char scratch[1];
        MPI_Mrecv(buf ? buf : scratch, buf ? count : 0, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        events++;
        if (buf)
            deliver(arg, st.MPI_SOURCE, buf, (size_t)count);
    }
    return events;
}

static size_t pending(lm_transport *tp) { return ((mpi_tp *)tp)->nops; }

static void destroy(lm_transport *tp)
{
    mpi_tp *t = (mpi_tp *)tp;
    while (t->ops) {
        op *o = t->ops;
        t->ops = o->next;
        for (int i = 0; i < o->nreq; i++)
            if (o->reqs[i] != MPI_REQUEST_NULL && o->kind == 2)
                MPI_Cancel(&o->reqs[i]);
        for (int i = 0; i < o->nreq; i++)
            if (o->reqs[i] != MPI_REQUEST_NULL)
                MPI_Request_free(&o->reqs[i]);
        if (o->done)
            o->done(o->arg, LUMEN_ERR_SHUTDOWN);
        op_free(o);
    }
    free(t);
}

static const lm_transport_ops mpi_ops = {
    .name = "mpi",
    .send_ctrl = send_ctrl,
    .send_data = send_data,
    .recv_data = recv_data,
    .cancel_recv = cancel_recv,
    .poll = poll,
    .pending = pending,
    .destroy = destroy,
};

lumen_status lm_mpi_transport_create(MPI_Comm comm, lm_transport **out)
{
    mpi_tp *t = calloc(1, sizeof *t);
    if (!t)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the MPI transport");
    t->base.ops = &mpi_ops;
    t->comm = comm;
    *out = &t->base;
    return LUMEN_OK;
}
