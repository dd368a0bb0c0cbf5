/*
 * fetch.c - copying an object that lives in another node's store.
 *
 * The reader posts a receive for the bytes on a fresh tag, then sends FETCH
 * to the holder; the holder pins the object in its store and sends the bytes
 * straight from shared memory (no staging copy), unpinning when the send
 * completes. A spilled object is restored first; when the store has no room
 * for it now (full of objects being written or pinned), the request waits
 * on the holder and is tried again at each progress poll, up to
 * LUMEN_STORE_WAIT_MS, as a local get would wait. If the holder no longer
 * has it, FETCH_ERR (with the holder's reason) cancels the receive and the
 * reader gets an error instead of waiting forever. A device object held
 * here (lumen/device.h) is served by device/objects.c. The data path is
 * the transport's (MPI, or a UCX get from the holder's store); this file
 * only sequences it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "device/device.h"
#include "runtime/runtime.h"

struct lm_fetch {
    struct lm_fetch *next;
    lm_rt *rt;
    int holder, tag;
    int done;
    lumen_status st;
    char err[256];
};

static lm_fetch *fetches; /* in flight on this rank, under rt->lock */

static void recv_done(void *arg, lumen_status st)
{
    lm_fetch *f = arg;
    lm_rt *rt = f->rt;
    pthread_mutex_lock(&rt->lock);
    f->done = 1;
    if (f->st == LUMEN_OK)
        f->st = st;
    if (st != LUMEN_OK && !f->err[0]) /* the transport's reason (it names the peer), if it has one */
        snprintf(f->err, sizeof f->err, "%s", rt->tp->last_error[0] ? rt->tp->last_error : "transfer failed");
    pthread_cond_broadcast(&rt->ready_cv);
    pthread_mutex_unlock(&rt->lock);
}

static int fetch_done(lm_rt *rt, void *arg)
{
    (void)rt;
    return ((lm_fetch *)arg)->done;
}

/* rt->lock held: f leaves the fetches in flight */
static void fetch_unlink(lm_fetch *f)
{
    for (lm_fetch **pp = &fetches; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            return;
        }
}

lm_fetch *lm_fetch_begin(lm_rt *rt, int holder, lm_oid oid, uint64_t offset, void *dst, size_t size,
                         lumen_status *st)
{
    lm_fetch *f = calloc(1, sizeof *f);
    if (!f) {
        *st = lm_error(LUMEN_ERR_NO_MEMORY, "no memory for a fetch");
        return NULL;
    }
    f->rt = rt;
    f->holder = holder;
    f->tag = lm_alloc_tag(rt);
    pthread_mutex_lock(&rt->lock);
    f->next = fetches;
    fetches = f;
    pthread_mutex_unlock(&rt->lock);

    /* post the receive before asking, so the bytes always have a home */
    pthread_mutex_lock(&rt->progress_lock);
    *st = rt->tp->ops->recv_data(rt->tp, holder, f->tag, dst, size, recv_done, f);
    pthread_mutex_unlock(&rt->progress_lock);
    if (*st != LUMEN_OK) {
        pthread_mutex_lock(&rt->lock);
        fetch_unlink(f);
        pthread_mutex_unlock(&rt->lock);
        free(f);
        return NULL;
    }
    lm_fetch_msg m = {.oid = oid, .tag = f->tag, .size = size, .offset = offset};
    lm_wbuf w;
    lm_wbuf_init(&w, 56);
    lm_msg_encode_fetch(&w, &m);
    lm_send_wbuf(rt, holder, &w);
    lm_progress(rt);
    return f;
}

lumen_status lm_fetch_end(lm_rt *rt, lm_fetch *f)
{
    lumen_status st = lm_wait_until(rt, fetch_done, f, 0);
    if (st == LUMEN_OK && f->st != LUMEN_OK)
        st = lm_error(LUMEN_ERR_IO, "fetching object from rank %d failed: %s", f->holder, f->err);
    pthread_mutex_lock(&rt->lock);
    fetch_unlink(f);
    int finished = f->done;
    pthread_mutex_unlock(&rt->lock);
    if (finished)
        free(f); /* a receive still posted at shutdown keeps f; the process ends */
    return st;
}

lumen_status lm_fetch_into(lm_rt *rt, int holder, lm_oid oid, void *dst, size_t size)
{
    lumen_status st;
    lm_fetch *f = lm_fetch_begin(rt, holder, oid, 0, dst, size, &st);
    return f ? lm_fetch_end(rt, f) : st;
}

typedef struct send_ctx {
    lm_oid oid;
} send_ctx;

static void send_done(void *arg, lumen_status st)
{
    (void)st;
    send_ctx *c = arg;
    if (lm_g && lm_g->store)
        lm_store_unpin(lm_g->store, c->oid);
    free(c);
}

void lm_fetch_reply_error(lm_rt *rt, int src, int tag, const char *why)
{
    lm_small_msg e = {.tag = tag, .text = why, .text_len = (uint32_t)strlen(why)};
    lm_wbuf w;
    lm_wbuf_init(&w, 64 + e.text_len);
    lm_msg_encode_small(&w, LM_MSG_FETCH_ERR, &e);
    lm_send_wbuf(rt, src, &w);
}

/* FETCHes waiting for room to restore their spilled object: progress role only */
typedef struct deferred {
    struct deferred *next;
    int src;
    lm_fetch_msg m;
    uint64_t deadline_ns;
} deferred;
static deferred *deferred_head;

/* serve one FETCH: 1 when answered (data on its way, or an error), 0 when
 * the store has no room to restore the object now and `last` is 0 */
static int serve(lm_rt *rt, int src, const lm_fetch_msg *m, int last)
{
    const void *p;
    size_t size;
    uint8_t type;
    lumen_status st = rt->store ? lm_store_pin(rt->store, m->oid, &p, &size, &type) : LUMEN_ERR_INVALID_REF;
    if (st == LUMEN_ERR_STORE_FULL && !last)
        return 0;
    if (st == LUMEN_OK && m->offset != 0) { /* chunks are for device objects */
        lm_store_unpin(rt->store, m->oid);
        lm_fetch_reply_error(rt, src, m->tag, "a store object is fetched whole, not from an offset");
        return 1;
    }
    if (st != LUMEN_OK) {
        char why[300];
        snprintf(why, sizeof why, "the holder cannot serve the object: %s",
                 st == LUMEN_ERR_INVALID_REF ? "not in its store (freed?)" : lumen_last_error());
        lm_fetch_reply_error(rt, src, m->tag, why);
        return 1;
    }
    if (size != m->size) {
        lm_store_unpin(rt->store, m->oid);
        lm_fetch_reply_error(rt, src, m->tag, "object size differs from the request");
        return 1;
    }
    send_ctx *c = malloc(sizeof *c);
    if (!c) {
        lm_store_unpin(rt->store, m->oid);
        lm_fetch_reply_error(rt, src, m->tag, "holder out of memory");
        return 1;
    }
    c->oid = m->oid;
    if (rt->tp->ops->send_data(rt->tp, src, m->tag, p, size, send_done, c) != LUMEN_OK) {
        lm_store_unpin(rt->store, m->oid);
        free(c);
        lm_fetch_reply_error(rt, src, m->tag, "holder could not send");
    }
    return 1;
}

/* progress role held */
void lm_handle_fetch(lm_rt *rt, int src, const lm_fetch_msg *m)
{
    if (lm_dev_serve(rt, src, m)) /* a device object held here: it never waits for store room */
        return;
    if (serve(rt, src, m, 0)) /* an object in memory never waits behind a restore */
        return;
    deferred *d = malloc(sizeof *d);
    if (!d) {
        serve(rt, src, m, 1);
        return;
    }
    d->next = deferred_head;
    d->src = src;
    d->m = *m;
    d->deadline_ns = lm_now_ns() + rt->store_wait_ns;
    deferred_head = d;
}

/* progress role held: try every waiting FETCH again (each is tried at every
 * poll, so their order does not matter); the number answered */
int lm_fetch_retry(lm_rt *rt)
{
    if (!deferred_head)
        return 0;
    int n = 0;
    uint64_t now = lm_now_ns();
    int stop = atomic_load(&rt->shutdown);
    for (deferred **pp = &deferred_head; *pp;) {
        deferred *d = *pp;
        if (!serve(rt, d->src, &d->m, stop || now >= d->deadline_ns)) {
            pp = &d->next; /* still no room for it */
            continue;
        }
        *pp = d->next;
        free(d);
        n++;
    }
    return n;
}

/* progress role held */
void lm_handle_fetch_err(lm_rt *rt, int src, const lm_small_msg *m)
{
    pthread_mutex_lock(&rt->lock);
    lm_fetch *f = fetches;
    while (f && !(f->holder == src && f->tag == m->tag))
        f = f->next;
    if (f) {
        size_t n = m->text_len < sizeof f->err - 1 ? m->text_len : sizeof f->err - 1;
        memcpy(f->err, m->text, n);
        f->err[n] = '\0';
        f->st = LUMEN_ERR_IO;
    }
    pthread_mutex_unlock(&rt->lock);
    if (f)
        rt->tp->ops->cancel_recv(rt->tp, src, m->tag);
}
