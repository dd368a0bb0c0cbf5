/*
 * transport_ucx.c - the UCX transport on its own (2 ranks), and choosing a
 * transport at init.
 *
 * Proves:
 *   - an unknown transport name fails lumen_init with a message naming it;
 *   - object data crosses ranks by UCX get, from the registered region (the
 *     store's role) and from memory registered per transfer, zero bytes too;
 *   - a failed transfer ends on both sides, never hangs: the reader expects
 *     more bytes than the holder offers (provoked deterministically), and each
 *     side's error names the other rank and the UCX status;
 *   - cancelling a posted receive completes it with an error.
 * Rank 1 holds, rank 0 reads; the test drives poll() itself (no runtime).
 */
#include "check.h"

#include <lumen/mpi.h>

#include "transport/ucx/ucx_transport.h"

typedef struct result {
    int done;
    lumen_status st;
    char why[256];
} result;

static lm_transport *tp;

static void on_done(void *arg, lumen_status st)
{
    result *r = arg;
    r->done = 1;
    r->st = st;
    snprintf(r->why, sizeof r->why, "%s", tp->last_error);
}

static void ignore(void *arg, int src, void *buf, size_t len)
{
    (void)arg, (void)src, (void)len;
    free(buf);
}

/* poll until r is done; 30 s is a hang */
static void wait_done(result *r)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!r->done) {
        tp->ops->poll(tp, 16, ignore, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
        CHECKF(t.tv_sec - t0.tv_sec < 30, "transfer did not finish in 30 s");
    }
}

/* one transfer of n bytes holder -> reader (reader expects want bytes) */
static void transfer(int rank, int tag, char *src, size_t n, size_t want, result *r)
{
    static char dst[1 << 20];
    memset(r, 0, sizeof *r);
    if (rank == 1) {
        for (size_t i = 0; i < n; i++)
            src[i] = (char)(i * 7 + (size_t)tag);
        CHECK(tp->ops->send_data(tp, 0, tag, src, n, on_done, r) == LUMEN_OK);
    } else {
        memset(dst, 0, sizeof dst);
        CHECK(tp->ops->recv_data(tp, 1, tag, dst, want, on_done, r) == LUMEN_OK);
    }
    wait_done(r);
    if (rank == 0 && r->st == LUMEN_OK)
        for (size_t i = 0; i < n; i++)
            CHECKF(dst[i] == (char)(i * 7 + (size_t)tag), "byte %zu of tag %d differs", i, tag);
    MPI_Barrier(MPI_COMM_WORLD);
}

int main(int argc, char **argv)
{
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    lumen_init_options bad = {.field_mask = LUMEN_INIT_TRANSPORT, .transport = "carrier-pigeon"};
    CHECK(lumen_init_comm(MPI_COMM_WORLD, &bad) == LUMEN_ERR_INVALID_ARG);
    CHECKF(strstr(lumen_last_error(), "carrier-pigeon") != NULL, "message: %s", lumen_last_error());
    if (size != 2) { /* the transfers below need exactly a holder and a reader */
        MPI_Finalize();
        return 0;
    }

    static char region[1 << 20]; /* the store's stand-in: registered once */
    CHECK(lm_ucx_transport_create(MPI_COMM_WORLD, region, sizeof region, &tp) == LUMEN_OK);
    CHECK(!strcmp(tp->ops->name, "ucx"));
    result r;

    transfer(rank, 16, region + 4096, 600000, 600000, &r); /* from the registered region */
    CHECKF(r.st == LUMEN_OK, "%s", r.why);
    char *heap = malloc(300000); /* registered for this transfer only */
    CHECK(heap);
    transfer(rank, 17, heap, 300000, 300000, &r);
    CHECKF(r.st == LUMEN_OK, "%s", r.why);
    transfer(rank, 18, region, 0, 0, &r);
    CHECKF(r.st == LUMEN_OK, "%s", r.why);

    /* the reader expects 2000 bytes, the holder has 1000: both sides fail */
    transfer(rank, 19, region, 1000, 2000, &r);
    CHECK(r.st == LUMEN_ERR_IO);
    CHECKF(strstr(r.why, rank == 0 ? "rank 1" : "rank 0") != NULL, "message: %s", r.why);
    if (rank == 0)
        CHECKF(strstr(r.why, "1000") && strstr(r.why, "2000"), "message: %s", r.why);
    else
        CHECKF(strstr(r.why, "UCX"), "message: %s", r.why);
    printf("rank %d: size mismatch reported as: %s\n", rank, r.why);

    /* a cancelled receive completes with an error */
    if (rank == 0) {
        memset(&r, 0, sizeof r);
        static char dst[64];
        CHECK(tp->ops->recv_data(tp, 1, 20, dst, sizeof dst, on_done, &r) == LUMEN_OK);
        tp->ops->cancel_recv(tp, 1, 20);
        wait_done(&r);
        CHECK(r.st == LUMEN_ERR_IO);
    }

    /* the same transfer works after the failures */
    transfer(rank, 21, region, 8192, 8192, &r);
    CHECKF(r.st == LUMEN_OK, "%s", r.why);
    for (int i = 0; i < 1000000 && tp->ops->pending(tp) > 0; i++) /* the last FIN's send */
        tp->ops->poll(tp, 16, ignore, NULL);
    CHECK(tp->ops->pending(tp) == 0);
    MPI_Barrier(MPI_COMM_WORLD);
    tp->ops->destroy(tp);
    free(heap);
    if (rank == 0)
        printf("transport_ucx: OK\n");
    MPI_Finalize();
    return 0;
}
