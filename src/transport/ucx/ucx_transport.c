/*
 * ucx_transport.c - object data over UCX RMA get, control messages over MPI.
 *
 * Control messages go through an inner MPI transport (transport/mpi), so
 * their order and matching are exactly the MPI transport's. Object data:
 *
 *   holder: send_data(reader, tag, p, len)  -> RTS {tag, p, len[, rkey]} on MPI tag 2
 *   reader: recv_data(holder, tag, dst, len) + RTS -> ucp_get_nbx(dst <- p)
 *   reader: get done -> FIN {tag, status} on MPI tag 2; both sides call done()
 *
 * p normally lies in the holder's store mapping, registered once at create
 * and known to every rank (worker addresses, base addresses and packed rkeys
 * are exchanged with MPI collectives), so the RTS carries no rkey; any other
 * memory is registered for that one transfer and its rkey travels in the RTS:
 * device memory too (device objects) when UCX is built with CUDA, where UCX
 * tells the memory type itself (moves_device says whether it can).
 * The bytes go straight from the holder's store into the reader's buffer.
 *
 * A failed get, an unreachable peer (endpoint error) or a size mismatch ends
 * the transfer on both sides with LUMEN_ERR_IO and a message naming the peer
 * rank and the UCX status (lm_transport.last_error), never a hang.
 *
 * Every call, like every MPI call, comes from the thread holding the progress
 * role; the worker is created UCS_THREAD_MODE_SERIALIZED for that reason.
 */
#include "transport/ucx/ucx_transport.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucp/api/ucp.h>

#include "common/error.h"
#include "transport/mpi/mpi_transport.h"

enum { UCX_MSG_RTS = 0x52545331, UCX_MSG_FIN = 0x46494e31 };

typedef struct wire_rts {
    uint32_t type;
    int32_t tag;
    uint64_t addr, len;
    uint32_t rkey_len; /* 0: the holder's store rkey; else that many bytes follow */
    uint32_t pad;
} wire_rts;

typedef struct wire_fin {
    uint32_t type;
    int32_t tag;
    int32_t status; /* ucs_status_t of the reader's get */
    uint32_t pad;
} wire_fin;

typedef struct peer {
    struct ucx_tp *t;
    int rank;
    ucp_ep_h ep;
    ucp_rkey_h rkey;      /* its store region, unpacked on the endpoint */
    uint64_t base, len;   /* its store region, in its address space */
    const void *addr;     /* worker address (in t->addr_all) */
    const void *rkey_buf; /* packed store rkey (in t->rkey_all) */
    size_t rkey_len;
    ucs_status_t failed; /* endpoint error: every transfer with it fails */
    int same_host;       /* shares memory with this rank */
} peer;

enum { OP_SEND, OP_RECV, OP_UNEXP };
enum { R_POSTED, R_GET, R_DONE };

typedef struct dop {
    struct dop *next;
    int kind, peer, tag;
    void *buf;
    size_t len;
    lm_tp_done_fn done;
    void *arg;
    ucp_mem_h memh;      /* send: memory registered for this transfer only */
    int state;           /* recv */
    int got_rts;         /* recv: the holder waits for a FIN */
    int cancelled;       /* recv: cancel_recv came */
    void *req;           /* recv: get in flight */
    ucp_rkey_h tmp_rkey; /* recv: rkey that came with the RTS */
    ucs_status_t ucs;
    char why[200];
    void *msg; /* unexpected RTS (malloc'ed) */
} dop;

typedef struct mop { /* an RTS or FIN on its way */
    struct mop *next;
    MPI_Request req;
    void *buf;
} mop;

typedef struct ucx_tp {
    lm_transport base;
    lm_transport *ctrl; /* MPI: control messages */
    MPI_Comm comm;
    int rank, size;
    ucp_context_h ctx;
    ucp_worker_h worker;
    ucp_mem_h memh;
    char *reg_base;
    size_t reg_len;
    peer *peers;
    char *addr_all, *rkey_all;
    dop *ops;
    size_t nops; /* sends and receives, not unexpected RTS */
    mop *msends;
    size_t nmsends;
    int cuda; /* the context reaches CUDA memory (UCX built with CUDA) */
    /* LUMEN_TESTING_UCX_GET_FAILURE=N: every Nth get fails as a network
     * error would (Ray's RAY_testing_* knobs): tests see the whole failure
     * path, both sides included; 0 (unset) in production */
    unsigned fail_every, gets;
} ucx_tp;

static void ep_error(void *arg, ucp_ep_h ep, ucs_status_t st)
{
    (void)ep;
    peer *p = arg;
    if (p->failed == UCS_OK)
        p->failed = st;
}

/* The endpoint to a peer, created on first use (non-blocking in UCX). */
static ucp_ep_h peer_ep(ucx_tp *t, int r, ucs_status_t *st)
{
    peer *p = &t->peers[r];
    if (p->ep || p->failed != UCS_OK) {
        *st = p->failed;
        return p->failed == UCS_OK ? p->ep : NULL;
    }
    /* Another host: UCP_ERR_HANDLING_MODE_PEER, so a peer that dies or cannot
     * be reached fails its transfers (ep_error) instead of hanging them. The
     * same host: shared memory (cma) offers no peer failure detection, and
     * asking for it makes UCX fall back to TCP loopback at a tenth of the
     * bandwidth; a local rank that dies ends the job through the launcher. */
    ucp_ep_params_t ep = {
        .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                      UCP_EP_PARAM_FIELD_ERR_HANDLER,
        .address = p->addr,
        .err_mode = p->same_host ? UCP_ERR_HANDLING_MODE_NONE : UCP_ERR_HANDLING_MODE_PEER,
        .err_handler = {.cb = ep_error, .arg = p},
    };
    *st = ucp_ep_create(t->worker, &ep, &p->ep);
    if (*st != UCS_OK && !p->same_host) { /* no transport detects peer failure: go without */
        ep.err_mode = UCP_ERR_HANDLING_MODE_NONE;
        *st = ucp_ep_create(t->worker, &ep, &p->ep);
    }
    if (*st == UCS_OK && p->rkey_len)
        *st = ucp_ep_rkey_unpack(p->ep, p->rkey_buf, &p->rkey);
    if (*st != UCS_OK) {
        p->failed = *st;
        return NULL;
    }
    return p->ep;
}

static dop *op_new(ucx_tp *t, int kind, int peer_rank, int tag)
{
    dop *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->kind = kind;
    o->peer = peer_rank;
    o->tag = tag;
    o->ucs = UCS_OK;
    o->next = t->ops;
    t->ops = o;
    if (kind != OP_UNEXP)
        t->nops++;
    return o;
}

static void op_unlink(ucx_tp *t, dop *o)
{
    for (dop **pp = &t->ops; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            if (o->kind != OP_UNEXP)
                t->nops--;
            return;
        }
}

/* The oldest op of a kind with a peer and tag (tags are reused after a wrap). */
static dop *op_find(ucx_tp *t, int kind, int peer_rank, int tag, int state)
{
    dop *found = NULL;
    for (dop *o = t->ops; o; o = o->next)
        if (o->kind == kind && o->peer == peer_rank && o->tag == tag && (state < 0 || o->state == state))
            found = o;
    return found;
}

static lumen_status post_msg(ucx_tp *t, int dest, void *buf, size_t len)
{
    mop *m = calloc(1, sizeof *m);
    if (!m) {
        free(buf);
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a UCX protocol message");
    }
    m->buf = buf;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, LM_TAG_UCX, t->comm, &m->req) != MPI_SUCCESS) {
        free(buf);
        free(m);
        return lm_error(LUMEN_ERR_MPI, "MPI_Isend of a UCX protocol message to rank %d failed", dest);
    }
    m->next = t->msends;
    t->msends = m;
    t->nmsends++;
    return LUMEN_OK;
}

static void send_fin(ucx_tp *t, int dest, int tag, ucs_status_t st)
{
    wire_fin *f = calloc(1, sizeof *f);
    if (!f)
        return; /* the holder keeps its pin; nothing else breaks */
    f->type = UCX_MSG_FIN;
    f->tag = tag;
    f->status = (int32_t)st;
    post_msg(t, dest, f, sizeof *f);
}

static lumen_status send_ctrl(lm_transport *tp, int dest, void *buf, size_t len)
{
    ucx_tp *t = (ucx_tp *)tp;
    return t->ctrl->ops->send_ctrl(t->ctrl, dest, buf, len);
}

static lumen_status send_data(lm_transport *tp, int dest, int tag, const void *data, size_t len,
                              lm_tp_done_fn done, void *arg)
{
    ucx_tp *t = (ucx_tp *)tp;
    const char *p = data;
    void *rkey_buf = NULL;
    size_t rkey_len = 0;
    dop *o = op_new(t, OP_SEND, dest, tag);
    if (!o)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a transfer");
    o->buf = (void *)data;
    o->len = len;
    o->done = done;
    o->arg = arg;
    if (len && !(p >= t->reg_base && p + len <= t->reg_base + t->reg_len)) {
        /* not in the store: register these bytes for this transfer */
        ucp_mem_map_params_t mp = {.field_mask =
                                       UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH,
                                   .address = (void *)data,
                                   .length = len};
        ucs_status_t us = ucp_mem_map(t->ctx, &mp, &o->memh);
        if (us == UCS_OK && (us = ucp_rkey_pack(t->ctx, o->memh, &rkey_buf, &rkey_len)) != UCS_OK) {
            ucp_mem_unmap(t->ctx, o->memh);
            o->memh = NULL;
        }
        if (us != UCS_OK) {
            op_unlink(t, o);
            free(o);
            return lm_error(LUMEN_ERR_IO, "UCX cannot register %zu bytes for rank %d: %s", len, dest,
                            ucs_status_string(us));
        }
    }
    wire_rts *r = calloc(1, sizeof *r + rkey_len);
    if (!r) {
        if (rkey_buf)
            ucp_rkey_buffer_release(rkey_buf);
        if (o->memh)
            ucp_mem_unmap(t->ctx, o->memh);
        op_unlink(t, o);
        free(o);
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a transfer");
    }
    r->type = UCX_MSG_RTS;
    r->tag = tag;
    r->addr = (uint64_t)(uintptr_t)data;
    r->len = len;
    r->rkey_len = (uint32_t)rkey_len;
    if (rkey_buf) {
        memcpy(r + 1, rkey_buf, rkey_len);
        ucp_rkey_buffer_release(rkey_buf);
    }
    lumen_status st = post_msg(t, dest, r, sizeof *r + rkey_len);
    if (st != LUMEN_OK) {
        if (o->memh)
            ucp_mem_unmap(t->ctx, o->memh);
        op_unlink(t, o);
        free(o);
    }
    return st;
}

static void get_done(void *req, ucs_status_t st, void *user)
{
    (void)req;
    dop *o = user;
    o->ucs = st;
    o->state = R_DONE;
}

static void recv_fail(dop *o, ucs_status_t us, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void recv_fail(dop *o, ucs_status_t us, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof o->why, fmt, ap);
    va_end(ap);
    o->ucs = us;
    o->state = R_DONE;
}

/* A posted receive met its RTS: pull the bytes. */
static void start_get(ucx_tp *t, dop *o, const wire_rts *r)
{
    o->got_rts = 1;
    if (r->len != o->len) {
        recv_fail(o, UCS_ERR_MESSAGE_TRUNCATED, "rank %d offers %llu bytes, the reader expects %zu", o->peer,
                  (unsigned long long)r->len, o->len);
        return;
    }
    if (o->len == 0) {
        o->state = R_DONE;
        return;
    }
    ucs_status_t us;
    ucp_ep_h ep = peer_ep(t, o->peer, &us);
    if (!ep) {
        recv_fail(o, us, "rank %d is unreachable over UCX: %s", o->peer, ucs_status_string(us));
        return;
    }
    ucp_rkey_h rkey = t->peers[o->peer].rkey;
    if (r->rkey_len) {
        if ((us = ucp_ep_rkey_unpack(ep, r + 1, &o->tmp_rkey)) != UCS_OK) {
            recv_fail(o, us, "bad rkey from rank %d: %s", o->peer, ucs_status_string(us));
            return;
        }
        rkey = o->tmp_rkey;
    }
    if (!rkey) {
        recv_fail(o, UCS_ERR_NO_ELEM, "rank %d registered no memory for UCX", o->peer);
        return;
    }
    if (t->fail_every && ++t->gets % t->fail_every == 0) {
        recv_fail(o, UCS_ERR_IO_ERROR, "UCX get of %zu bytes from rank %d failed: %s (injected: LUMEN_TESTING_UCX_GET_FAILURE)",
                  o->len, o->peer, ucs_status_string(UCS_ERR_IO_ERROR));
        return;
    }
    ucp_request_param_t prm = {.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
                               .cb.send = get_done,
                               .user_data = o};
    o->state = R_GET;
    ucs_status_ptr_t sp = ucp_get_nbx(ep, o->buf, o->len, r->addr, rkey, &prm);
    if (sp == NULL) {
        o->state = R_DONE;
    } else if (UCS_PTR_IS_ERR(sp)) {
        us = UCS_PTR_STATUS(sp);
        recv_fail(o, us, "UCX get of %zu bytes from rank %d failed: %s", o->len, o->peer,
                  ucs_status_string(us));
    } else {
        o->req = sp;
    }
}

static lumen_status recv_data(lm_transport *tp, int src, int tag, void *data, size_t len, lm_tp_done_fn done,
                              void *arg)
{
    ucx_tp *t = (ucx_tp *)tp;
    dop *o = op_new(t, OP_RECV, src, tag);
    if (!o)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a transfer");
    o->buf = data;
    o->len = len;
    o->done = done;
    o->arg = arg;
    o->state = R_POSTED;
    dop *u = op_find(t, OP_UNEXP, src, tag, -1);
    if (u) { /* the RTS came first */
        op_unlink(t, u);
        start_get(t, o, u->msg);
        free(u->msg);
        free(u);
    }
    return LUMEN_OK;
}

static void cancel_recv(lm_transport *tp, int src, int tag)
{
    ucx_tp *t = (ucx_tp *)tp;
    for (dop *o = t->ops; o; o = o->next) {
        if (o->kind != OP_RECV || o->peer != src || o->tag != tag || o->cancelled)
            continue;
        o->cancelled = 1; /* a get in flight finishes first: the holder still wants its FIN */
        if (o->state == R_POSTED)
            recv_fail(o, UCS_ERR_CANCELED, "receive from rank %d cancelled", src);
    }
}

static void handle_msg(ucx_tp *t, int src, void *buf, size_t len)
{
    uint32_t type = 0;
    if (len >= sizeof type)
        memcpy(&type, buf, sizeof type);
    if (type == UCX_MSG_RTS && len >= sizeof(wire_rts) &&
        len == sizeof(wire_rts) + ((wire_rts *)buf)->rkey_len) {
        wire_rts *r = buf;
        dop *o = op_find(t, OP_RECV, src, r->tag, R_POSTED);
        if (o && !o->cancelled) {
            start_get(t, o, r);
        } else if ((o = op_new(t, OP_UNEXP, src, r->tag)) != NULL) {
            o->msg = buf; /* kept until the receive is posted */
            return;
        }
    } else if (type == UCX_MSG_FIN && len == sizeof(wire_fin)) {
        wire_fin *f = buf;
        dop *o = op_find(t, OP_SEND, src, f->tag, -1);
        if (o) {
            op_unlink(t, o);
            if (o->memh)
                ucp_mem_unmap(t->ctx, o->memh);
            lumen_status st = LUMEN_OK;
            if (f->status != UCS_OK) {
                snprintf(t->base.last_error, sizeof t->base.last_error,
                         "rank %d could not read the object over UCX: %s", src,
                         ucs_status_string((ucs_status_t)f->status));
                st = LUMEN_ERR_IO;
            }
            if (o->done)
                o->done(o->arg, st);
            t->base.last_error[0] = '\0';
            free(o);
        }
    } else {
        fprintf(stderr, "lumen: dropped a malformed UCX protocol message from rank %d\n", src);
    }
    free(buf);
}

/* Finished receives send their FIN and complete; transfers with a failed
 * peer fail. */
static int sweep(ucx_tp *t)
{
    int events = 0;
    dop **pp = &t->ops;
    while (*pp) {
        dop *o = *pp;
        ucs_status_t pf = t->peers[o->peer].failed;
        if (pf != UCS_OK && o->kind == OP_RECV && o->state == R_POSTED)
            recv_fail(o, pf, "rank %d is unreachable over UCX: %s", o->peer, ucs_status_string(pf));
        int finished = (o->kind == OP_RECV && o->state == R_DONE) || (o->kind == OP_SEND && pf != UCS_OK);
        if (!finished) {
            pp = &o->next;
            continue;
        }
        *pp = o->next;
        t->nops--;
        events++;
        lumen_status st = LUMEN_OK;
        if (o->kind == OP_SEND) {
            snprintf(t->base.last_error, sizeof t->base.last_error, "rank %d is unreachable over UCX: %s",
                     o->peer, ucs_status_string(pf));
            st = LUMEN_ERR_IO;
            if (o->memh)
                ucp_mem_unmap(t->ctx, o->memh);
        } else {
            if (o->req)
                ucp_request_free(o->req);
            if (o->tmp_rkey)
                ucp_rkey_destroy(o->tmp_rkey);
            if (o->got_rts && pf == UCS_OK)
                send_fin(t, o->peer, o->tag, o->ucs);
            if (o->ucs != UCS_OK && !o->why[0])
                snprintf(o->why, sizeof o->why, "UCX get of %zu bytes from rank %d failed: %s", o->len,
                         o->peer, ucs_status_string(o->ucs));
            if (o->ucs != UCS_OK || o->cancelled) {
                st = LUMEN_ERR_IO;
                snprintf(t->base.last_error, sizeof t->base.last_error, "%s",
                         o->why[0] ? o->why : "receive cancelled");
            }
        }
        if (o->done)
            o->done(o->arg, st);
        t->base.last_error[0] = '\0';
        free(o);
    }
    return events;
}

static int poll(lm_transport *tp, int max, lm_tp_deliver_fn deliver, void *arg)
{
    ucx_tp *t = (ucx_tp *)tp;
    int events = t->ctrl->ops->poll(t->ctrl, max, deliver, arg);
    for (mop **pp = &t->msends; *pp;) {
        mop *m = *pp;
        int flag = 0;
        if (MPI_Test(&m->req, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            flag = 1;
        if (!flag) {
            pp = &m->next;
            continue;
        }
        *pp = m->next;
        t->nmsends--;
        free(m->buf);
        free(m);
    }
    for (int i = 0; i < max; i++) {
        int flag = 0, count = 0;
        MPI_Message msg;
        MPI_Status st;
        if (MPI_Improbe(MPI_ANY_SOURCE, LM_TAG_UCX, t->comm, &flag, &msg, &st) != MPI_SUCCESS || !flag)
            break;
        MPI_Get_count(&st, MPI_BYTE, &count);
        void *buf = malloc(count > 0 ? (size_t)count : 1);
        char scratch[1];
        MPI_Mrecv(buf ? buf : scratch, buf ? count : 0, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        events++;
        if (buf)
            handle_msg(t, st.MPI_SOURCE, buf, (size_t)count);
    }
    if (t->ops) {
        events += (int)ucp_worker_progress(t->worker);
        events += sweep(t);
    }
    return events;
}

static size_t pending(lm_transport *tp)
{
    ucx_tp *t = (ucx_tp *)tp;
    return t->nops + t->nmsends + t->ctrl->ops->pending(t->ctrl);
}

static void wait_request(ucx_tp *t, void *req)
{
    if (req == NULL || UCS_PTR_IS_ERR(req))
        return;
    for (int i = 0; i < 1000000 && ucp_request_check_status(req) == UCS_INPROGRESS; i++)
        ucp_worker_progress(t->worker);
    ucp_request_free(req);
}

static void destroy(lm_transport *tp)
{
    ucx_tp *t = (ucx_tp *)tp;
    while (t->ops) {
        dop *o = t->ops;
        t->ops = o->next;
        if (o->req) { /* a get in flight: cancel it and wait for its callback */
            ucp_request_cancel(t->worker, o->req);
            for (int i = 0; i < 1000000 && o->state != R_DONE; i++)
                ucp_worker_progress(t->worker);
            ucp_request_free(o->req);
        }
        if (o->tmp_rkey)
            ucp_rkey_destroy(o->tmp_rkey);
        if (o->memh)
            ucp_mem_unmap(t->ctx, o->memh);
        if (o->kind != OP_UNEXP && o->done)
            o->done(o->arg, LUMEN_ERR_SHUTDOWN);
        free(o->msg);
        free(o);
    }
    while (t->msends) {
        mop *m = t->msends;
        t->msends = m->next;
        MPI_Request_free(&m->req);
        free(m->buf);
        free(m);
    }
    for (int r = 0; t->peers && r < t->size; r++) {
        peer *p = &t->peers[r];
        if (p->rkey)
            ucp_rkey_destroy(p->rkey);
        if (p->ep) {
            ucp_request_param_t prm = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                                       .flags = UCP_EP_CLOSE_FLAG_FORCE};
            wait_request(t, ucp_ep_close_nbx(p->ep, &prm));
        }
    }
    if (t->memh)
        ucp_mem_unmap(t->ctx, t->memh);
    if (t->worker)
        ucp_worker_destroy(t->worker);
    if (t->ctx)
        ucp_cleanup(t->ctx);
    if (t->ctrl)
        t->ctrl->ops->destroy(t->ctrl);
    free(t->peers);
    free(t->addr_all);
    free(t->rkey_all);
    free(t);
}

static int moves_device(lm_transport *tp) { return ((ucx_tp *)tp)->cuda; }

static const lm_transport_ops ucx_ops = {
    .name = "ucx",
    .send_ctrl = send_ctrl,
    .send_data = send_data,
    .recv_data = recv_data,
    .cancel_recv = cancel_recv,
    .poll = poll,
    .pending = pending,
    .destroy = destroy,
    .moves_device = moves_device,
};

/* UCX context, worker and the store's registration on this rank. */
static ucs_status_t start_local(ucx_tp *t, void **addr, size_t *addr_len, void **rkey, size_t *rkey_len,
                                const char **stage)
{
    ucp_config_t *cfg = NULL;
    ucs_status_t us;
    *stage = "ucp_config_read";
    if ((us = ucp_config_read(NULL, NULL, &cfg)) != UCS_OK)
        return us;
    ucp_params_t prm = {.field_mask = UCP_PARAM_FIELD_FEATURES, .features = UCP_FEATURE_RMA};
    *stage = "ucp_init";
    us = ucp_init(&prm, cfg, &t->ctx);
    ucp_config_release(cfg);
    if (us != UCS_OK)
        return us;
    ucp_context_attr_t ca = {.field_mask = UCP_ATTR_FIELD_MEMORY_TYPES};
    if (ucp_context_query(t->ctx, &ca) == UCS_OK)
        t->cuda = (ca.memory_types & UCS_BIT(UCS_MEMORY_TYPE_CUDA)) != 0;
    ucp_worker_params_t wp = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                              .thread_mode = UCS_THREAD_MODE_SERIALIZED};
    *stage = "ucp_worker_create";
    if ((us = ucp_worker_create(t->ctx, &wp, &t->worker)) != UCS_OK)
        return us;
    *stage = "ucp_worker_get_address";
    if ((us = ucp_worker_get_address(t->worker, (ucp_address_t **)addr, addr_len)) != UCS_OK)
        return us;
    if (t->reg_len) {
        ucp_mem_map_params_t mp = {.field_mask =
                                       UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH,
                                   .address = t->reg_base,
                                   .length = t->reg_len};
        *stage = "ucp_mem_map(store)";
        if ((us = ucp_mem_map(t->ctx, &mp, &t->memh)) != UCS_OK)
            return us;
        *stage = "ucp_rkey_pack(store)";
        if ((us = ucp_rkey_pack(t->ctx, t->memh, rkey, rkey_len)) != UCS_OK)
            return us;
    }
    return UCS_OK;
}

/* Every rank's blob of a given length, concatenated; offsets in offs. */
static int gather_blobs(MPI_Comm comm, int size, const void *mine, size_t len, char **all, int *offs,
                        int *lens)
{
    int n = (int)len, rc = MPI_ERR_OTHER;
    if (MPI_Allgather(&n, 1, MPI_INT, lens, 1, MPI_INT, comm) != MPI_SUCCESS)
        return rc;
    size_t total = 0;
    for (int r = 0; r < size; r++) {
        offs[r] = (int)total;
        total += (size_t)lens[r];
    }
    *all = malloc(total ? total : 1);
    if (!*all)
        return rc;
    return MPI_Allgatherv(mine, n, MPI_BYTE, *all, lens, offs, MPI_BYTE, comm);
}

lumen_status lm_ucx_transport_create(MPI_Comm comm, void *reg_base, size_t reg_len, lm_transport **out)
{
    lumen_status st = LUMEN_OK;
    void *addr = NULL, *rkey = NULL;
    size_t addr_len = 0, rkey_len = 0;
    int *aoffs = NULL, *koffs = NULL, *alens = NULL, *klens = NULL;
    uint64_t *regions = NULL;
    ucx_tp *t = calloc(1, sizeof *t);
    if (!t)
        return lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the UCX transport");
    t->base.ops = &ucx_ops;
    t->comm = comm;
    t->reg_base = reg_base;
    t->reg_len = reg_len;
    MPI_Comm_rank(comm, &t->rank);
    MPI_Comm_size(comm, &t->size);
    const char *fail = getenv("LUMEN_TESTING_UCX_GET_FAILURE");
    if (fail)
        t->fail_every = (unsigned)strtoul(fail, NULL, 10);
    const char *stage = "";
    ucs_status_t us = start_local(t, &addr, &addr_len, &rkey, &rkey_len, &stage);
    int ok = us == UCS_OK, all_ok = 0;
    if (MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) {
        st = lm_error(LUMEN_ERR_MPI, "MPI_Allreduce(UCX start) failed");
        goto out;
    }
    if (!ok) {
        st = lm_error(LUMEN_ERR_IO,
                      "UCX did not start on rank %d: %s failed (%s); LUMEN_TRANSPORT=mpi avoids UCX", t->rank,
                      stage, ucs_status_string(us));
        goto out;
    }
    if (!all_ok) {
        st = lm_error(LUMEN_ERR_IO, "UCX did not start on another rank; LUMEN_TRANSPORT=mpi avoids UCX");
        goto out;
    }
    t->peers = calloc((size_t)t->size, sizeof *t->peers);
    aoffs = calloc((size_t)t->size, sizeof *aoffs);
    koffs = calloc((size_t)t->size, sizeof *koffs);
    alens = calloc((size_t)t->size, sizeof *alens);
    klens = calloc((size_t)t->size, sizeof *klens);
    regions = calloc((size_t)t->size * 2, sizeof *regions);
    if (!t->peers || !aoffs || !koffs || !alens || !klens || !regions) {
        st = lm_error(LUMEN_ERR_NO_MEMORY, "no memory for the UCX transport");
        goto out;
    }
    uint64_t mine[2] = {(uint64_t)(uintptr_t)reg_base, rkey_len ? (uint64_t)reg_len : 0};
    MPI_Comm host = MPI_COMM_NULL;
    int host_leader = t->rank, *leaders = calloc((size_t)t->size, sizeof *leaders);
    if (!leaders || MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &host) != MPI_SUCCESS ||
        MPI_Allreduce(MPI_IN_PLACE, &host_leader, 1, MPI_INT, MPI_MIN, host) != MPI_SUCCESS ||
        MPI_Allgather(&host_leader, 1, MPI_INT, leaders, 1, MPI_INT, comm) != MPI_SUCCESS) {
        if (host != MPI_COMM_NULL)
            MPI_Comm_free(&host);
        free(leaders);
        st = lm_error(LUMEN_ERR_MPI, "finding the ranks of this host failed");
        goto out;
    }
    MPI_Comm_free(&host);
    if (gather_blobs(comm, t->size, addr, addr_len, &t->addr_all, aoffs, alens) != MPI_SUCCESS ||
        gather_blobs(comm, t->size, rkey, rkey_len, &t->rkey_all, koffs, klens) != MPI_SUCCESS ||
        MPI_Allgather(mine, 2, MPI_UINT64_T, regions, 2, MPI_UINT64_T, comm) != MPI_SUCCESS) {
        st = lm_error(LUMEN_ERR_MPI, "exchanging UCX addresses failed");
        goto out;
    }
    for (int r = 0; r < t->size; r++) {
        peer *p = &t->peers[r];
        p->t = t;
        p->rank = r;
        p->failed = UCS_OK;
        p->addr = t->addr_all + aoffs[r];
        p->rkey_buf = t->rkey_all + koffs[r];
        p->rkey_len = (size_t)klens[r];
        p->base = regions[2 * r];
        p->len = regions[2 * r + 1];
        p->same_host = leaders[r] == leaders[t->rank];
    }
    free(leaders);
    if ((st = lm_mpi_transport_create(comm, &t->ctrl)) != LUMEN_OK)
        goto out;
out:
    if (t->worker && addr)
        ucp_worker_release_address(t->worker, addr);
    if (rkey)
        ucp_rkey_buffer_release(rkey);
    free(aoffs);
    free(koffs);
    free(alens);
    free(klens);
    free(regions);
    if (st != LUMEN_OK) {
        destroy(&t->base);
        return st;
    }
    *out = &t->base;
    return LUMEN_OK;
}
