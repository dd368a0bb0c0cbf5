/*
 * async_completion.c - learning that references are ready without a thread
 * blocked per reference: completion queues (lumen_cq_*) over 3,000
 * outstanding task results at once, values and errors, waited on by one
 * thread and by four at once (each completion to exactly one), references
 * released while watched, already settled ones, timeouts, a queue destroyed
 * with watches armed; completion callbacks (lumen_ref_on_ready) on 1,000
 * references, which may read a settled value but may not block; and bad
 * input. Run on 1, 2 and 4 ranks: the tasks spread over every rank.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define NCQ 3000

LUMEN_REMOTE(ac_square)
{
    int64_t x;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &x));
    if (x % 97 == 13)
        return lumen_task_fail(ctx, "input %lld is unlucky", (long long)x);
    return lumen_return_i64(ctx, 0, x * x);
}

#define BIG (4u << 20)
LUMEN_REMOTE(ac_big)
{
    int64_t seed;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &seed));
    void *p;
    TASK_TRY(lumen_return_alloc(ctx, 0, BIG, &p));
    pattern_fill(p, BIG, (uint64_t)seed);
    return LUMEN_OK;
}

LUMEN_REMOTE(ac_sleep)
{
    int64_t ms;
    TASK_TRY(lumen_arg_get_i64(ctx, 0, &ms));
    sleep_ms((long)ms);
    return lumen_return_i64(ctx, 0, ms);
}

/* one queue, 3,000 tasks in flight, one waiter taking batches */
static void test_many(void)
{
    lumen_completion_queue *cq;
    CHECK_OK(lumen_cq_create(&cq));
    lumen_ref *r = malloc(NCQ * sizeof *r);
    unsigned char *seen = calloc(NCQ, 1);
    CHECK(r && seen);
    for (int64_t i = 0; i < NCQ; i++) {
        CHECK_OK(LUMEN_CALL(&r[i], "ac_square", LUMEN_ARG(i)));
        CHECK_OK(lumen_cq_add(cq, r[i], (uint64_t)i));
    }
    size_t got = 0, failed = 0;
    lumen_completion batch[64];
    while (got < NCQ) {
        size_t n;
        CHECK_OK(lumen_cq_wait(cq, batch, 64, T_TIMEOUT, &n));
        CHECKF(n > 0, "no completion within %d ms after %zu", T_TIMEOUT, got);
        for (size_t k = 0; k < n; k++) {
            uint64_t i = batch[k].tag;
            CHECK(i < NCQ && !seen[i]);
            seen[i] = 1;
            CHECK(lumen_ref_equal(batch[k].ref, r[i]));
            if (i % 97 == 13) {
                CHECK(batch[k].status == LUMEN_ERR_TASK_FAILED);
                lumen_value v;
                CHECK_ST(lumen_get(r[i], 0, &v), LUMEN_ERR_TASK_FAILED);
                CHECK_ERRMSG("unlucky");
                failed++;
            } else {
                CHECK(batch[k].status == LUMEN_OK);
                int64_t v;
                CHECK_OK(lumen_get_i64(r[i], 0, &v)); /* settled: no wait */
                CHECK(v == (int64_t)(i * i));
            }
        }
        got += n;
    }
    CHECK(failed == (NCQ - 13 + 96) / 97);
    CHECK(lumen_cq_outstanding(cq) == 0);
    size_t n = 99;
    CHECK_OK(lumen_cq_wait(cq, batch, 64, LUMEN_TIMEOUT_INFINITE, &n)); /* nothing watched: at once */
    CHECK(n == 0);
    for (int i = 0; i < NCQ; i++)
        CHECK_OK(lumen_ref_release(r[i]));
    CHECK_OK(lumen_cq_destroy(cq));
    free(r);
    free(seen);
}

/* four threads take from one queue: every completion exactly once */
static lumen_completion_queue *shared_cq;
static atomic_int taken_total;
static atomic_uchar taken_by[NCQ];

static void *taker(void *arg)
{
    (void)arg;
    lumen_completion c[8];
    for (;;) {
        size_t n;
        CHECK_OK(lumen_cq_wait(shared_cq, c, 8, T_TIMEOUT, &n));
        if (n == 0)
            return NULL; /* nothing watched any more */
        for (size_t k = 0; k < n; k++) {
            CHECK(c[k].tag < NCQ);
            CHECK(atomic_fetch_add(&taken_by[c[k].tag], 1) == 0);
        }
        atomic_fetch_add(&taken_total, (int)n);
    }
}

static void test_threads(void)
{
    CHECK_OK(lumen_cq_create(&shared_cq));
    lumen_ref *r = malloc(NCQ * sizeof *r);
    CHECK(r);
    /* watch everything before the takers start: each stops when nothing is left */
    for (int64_t i = 0; i < NCQ; i++) {
        CHECK_OK(LUMEN_CALL(&r[i], "ac_square", LUMEN_ARG(i)));
        CHECK_OK(lumen_cq_add(shared_cq, r[i], (uint64_t)i));
        CHECK_OK(lumen_ref_release(r[i])); /* the queue holds it while watched */
    }
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, taker, NULL) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&taken_total) == NCQ);
    for (int i = 0; i < NCQ; i++)
        CHECK(atomic_load(&taken_by[i]) == 1);
    CHECK_OK(lumen_cq_destroy(shared_cq));
    free(r);
}

static void test_edges(void)
{
    lumen_completion_queue *cq;
    CHECK_OK(lumen_cq_create(&cq));
    lumen_completion c[4];
    size_t n;

    /* a settled reference completes at once */
    int64_t x = 42;
    lumen_ref put;
    CHECK_OK(lumen_put(&x, sizeof x, &put));
    CHECK_OK(lumen_cq_add(cq, put, 7));
    CHECK_OK(lumen_cq_wait(cq, c, 4, 0, &n));
    CHECK(n == 1 && c[0].tag == 7 && c[0].status == LUMEN_OK && lumen_ref_equal(c[0].ref, put));

    /* a timeout with a watch armed: n is 0, the watch stays */
    lumen_ref slow;
    CHECK_OK(LUMEN_CALL(&slow, "ac_sleep", LUMEN_ARG(300)));
    CHECK_OK(lumen_cq_add(cq, slow, 8));
    CHECK_OK(lumen_cq_wait(cq, c, 4, 10, &n));
    CHECK(n == 0);
    CHECK(lumen_cq_outstanding(cq) == 1);
    CHECK_OK(lumen_cq_wait(cq, c, 4, T_TIMEOUT, &n));
    CHECK(n == 1 && c[0].tag == 8 && c[0].status == LUMEN_OK);

    /* the same reference watched twice gives two completions */
    CHECK_OK(lumen_cq_add(cq, slow, 9));
    CHECK_OK(lumen_cq_add(cq, slow, 10));
    CHECK_OK(lumen_cq_wait(cq, c, 4, T_TIMEOUT, &n));
    CHECK(n == 2 && c[0].tag + c[1].tag == 19);

    /* a cancelled task completes with its status */
    lumen_ref blocker[8], victim;
    for (int i = 0; i < 8; i++) /* keep every CPU busy so the victim waits */
        CHECK_OK(LUMEN_CALL(&blocker[i], "ac_sleep", LUMEN_ARG(200)));
    CHECK_OK(LUMEN_CALL(&victim, "ac_sleep", LUMEN_ARG(0)));
    CHECK_OK(lumen_cq_add(cq, victim, 11));
    lumen_status cst = lumen_cancel(victim);
    CHECK_OK(lumen_cq_wait(cq, c, 4, T_TIMEOUT, &n));
    CHECK(n == 1 && c[0].tag == 11);
    if (cst == LUMEN_OK && c[0].status != LUMEN_OK) /* cancel may lose the race */
        CHECK(c[0].status == LUMEN_ERR_TASK_CANCELLED);
    for (int i = 0; i < 8; i++)
        CHECK_OK(lumen_ref_release(blocker[i]));
    CHECK_OK(lumen_ref_release(victim));

    /* bad input: clear errors, nothing lost */
    lumen_ref forged = {{0x1234, 0x5678}};
    CHECK_ST(lumen_cq_add(cq, forged, 1), LUMEN_ERR_INVALID_REF);
    CHECK_ST(lumen_cq_add(NULL, put, 1), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_cq_wait(NULL, c, 4, 0, &n), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_cq_wait(cq, NULL, 4, 0, &n), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_cq_wait(cq, c, 4, 0, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_cq_wait(cq, c, 0, 0, &n), LUMEN_ERR_OUT_OF_RANGE);
    CHECK_ST(lumen_cq_wait(cq, c, 4, -5, &n), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_cq_create(NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_ST(lumen_cq_destroy(NULL), LUMEN_ERR_INVALID_ARG);
    CHECK(lumen_cq_outstanding(NULL) == 0);
    CHECK(lumen_cq_outstanding(cq) == 0);

    /* destroyed with a watch armed: the watch ends quietly when it settles */
    lumen_ref later;
    CHECK_OK(LUMEN_CALL(&later, "ac_sleep", LUMEN_ARG(50)));
    CHECK_OK(lumen_cq_add(cq, later, 12));
    CHECK_OK(lumen_cq_destroy(cq));
    int64_t v;
    CHECK_OK(lumen_get_i64(later, T_TIMEOUT, &v));
    CHECK(v == 50);
    CHECK_OK(lumen_ref_release(later));
    CHECK_OK(lumen_ref_release(slow));
    CHECK_OK(lumen_ref_release(put));
}

/* ---- callbacks ---------------------------------------------------------- */
#define NCB 1000
static atomic_int cb_count, cb_bad, cb_block_refused, big_ok, big_done;
static atomic_llong cb_sum;

static void on_ready(lumen_ref ref, lumen_status st, void *arg)
{
    int64_t i = (int64_t)(intptr_t)arg;
    int64_t v = -1;
    if (i % 97 == 13) {
        if (st != LUMEN_ERR_TASK_FAILED)
            atomic_fetch_add(&cb_bad, 1);
    } else if (st != LUMEN_OK || lumen_get_i64(ref, 0, &v) != LUMEN_OK || v != i * i) {
        atomic_fetch_add(&cb_bad, 1);
    } else {
        atomic_fetch_add(&cb_sum, v);
    }
    if (i == 5) { /* blocking in a callback is refused, not a deadlock */
        lumen_value val;
        if (lumen_get(ref, 1000, &val) == LUMEN_ERR_INVALID_ARG)
            atomic_fetch_add(&cb_block_refused, 1);
    }
    CHECK_OK(lumen_ref_release(ref)); /* releasing is fine in a callback */
    atomic_fetch_add(&cb_count, 1);
}

/* a settled store object (in another node's store with _pernode): a callback
 * may read it with timeout 0; the copy is made while the callback waits */
static void on_big(lumen_ref ref, lumen_status st, void *arg)
{
    lumen_value v;
    if (st == LUMEN_OK && lumen_get(ref, 0, &v) == LUMEN_OK && v.size == BIG &&
        pattern_find_bad(v.data, v.size, (uint64_t)(intptr_t)arg) == BIG)
        atomic_fetch_add(&big_ok, 1);
    CHECK_OK(lumen_ref_release(ref));
    atomic_fetch_add(&big_done, 1);
}

static void test_callbacks(void)
{
    enum { NBIG = 4 };
    for (int64_t i = 0; i < NBIG; i++) {
        lumen_ref r;
        lumen_task_options o = {.field_mask = LUMEN_TASK_SCHEDULING, .scheduling = lumen_sched_spread()};
        lumen_arg a = lumen_arg_i64(i + 7);
        CHECK_OK(lumen_remote("ac_big", &a, 1, &o, &r));
        CHECK_OK(lumen_ref_on_ready(r, on_big, (void *)(intptr_t)(i + 7)));
    }
    double t1 = now_s();
    while (atomic_load(&big_done) < NBIG && now_s() - t1 < T_TIMEOUT / 1000.0)
        sleep_ms(1);
    CHECK(atomic_load(&big_done) == NBIG);
    CHECK(atomic_load(&big_ok) == NBIG);

    int64_t want = 0;
    for (int64_t i = 0; i < NCB; i++) {
        lumen_ref r, mine;
        CHECK_OK(LUMEN_CALL(&r, "ac_square", LUMEN_ARG(i)));
        CHECK_OK(lumen_ref_dup(r, &mine)); /* the callback releases this one */
        CHECK_OK(lumen_ref_on_ready(mine, on_ready, (void *)(intptr_t)i));
        CHECK_OK(lumen_ref_release(r));
        if (i % 97 != 13)
            want += i * i;
    }
    double t0 = now_s();
    while (atomic_load(&cb_count) < NCB && now_s() - t0 < T_TIMEOUT / 1000.0)
        sleep_ms(1);
    CHECKF(atomic_load(&cb_count) == NCB, "%d of %d callbacks ran", atomic_load(&cb_count), NCB);
    CHECK(atomic_load(&cb_bad) == 0);
    CHECK(atomic_load(&cb_sum) == want);
    CHECK(atomic_load(&cb_block_refused) == 1);

    lumen_ref forged = {{0x1234, 0x5678}};
    CHECK_ST(lumen_ref_on_ready(forged, on_ready, NULL), LUMEN_ERR_INVALID_REF);
    lumen_ref r;
    CHECK_OK(LUMEN_CALL(&r, "ac_square", LUMEN_ARG(3)));
    CHECK_ST(lumen_ref_on_ready(r, NULL, NULL), LUMEN_ERR_INVALID_ARG);
    CHECK_OK(lumen_ref_release(r));
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    if (lumen_is_driver()) {
        test_many();
        test_threads();
        test_edges();
        test_callbacks();
        printf("async_completion: OK on %d ranks\n", lumen_world_size());
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
