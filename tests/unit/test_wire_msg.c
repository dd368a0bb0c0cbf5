/*
 * test_wire_msg.c - the wire protocol: every message type survives an
 * encode/decode round trip field by field, and the decoders reject every
 * truncation, extension and corrupted header, and survive random mutations
 * (no crash, no read past the end: run under ASan in CI).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/msg.h"

static int failures;
#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                            \
        }                                                                          \
    } while (0)

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static lumen_status decode_any(const void *buf, size_t len)
{
    int t = lm_msg_peek_type(buf, len);
    if (t < 0)
        return (lumen_status)t;
    static lm_task_msg tm;
    static lm_done_msg dm;
    lm_fetch_msg fm;
    lm_small_msg sm;
    lm_value_msg vm;
    lm_ctl_msg cm;
    static lm_yield_msg ym;
    switch (t) {
    case LM_MSG_YIELD: return lm_msg_decode_yield(buf, len, &ym);
    case LM_MSG_CTL: return lm_msg_decode_ctl(buf, len, &cm);
    case LM_MSG_VALUE: return lm_msg_decode_value(buf, len, &vm);
    case LM_MSG_TASK: return lm_msg_decode_task(buf, len, &tm);
    case LM_MSG_DONE: return lm_msg_decode_done(buf, len, &dm);
    case LM_MSG_FETCH: return lm_msg_decode_fetch(buf, len, &fm);
    default: return lm_msg_decode_small(buf, len, (lm_msg_type)t, &sm);
    }
}

/* Every strict prefix and a one-byte extension must be rejected. */
static void check_truncations(const lm_wbuf *w)
{
    for (size_t n = 0; n < w->len; n++)
        CHECK(decode_any(w->data, n) != LUMEN_OK);
    uint8_t *longer = malloc(w->len + 1);
    memcpy(longer, w->data, w->len);
    longer[w->len] = 0;
    CHECK(decode_any(longer, w->len + 1) != LUMEN_OK);
    free(longer);
}

static void mutate(const lm_wbuf *w, int rounds)
{
    uint8_t *copy = malloc(w->len);
    for (int r = 0; r < rounds; r++) {
        memcpy(copy, w->data, w->len);
        int flips = 1 + (int)(next() % 4);
        for (int i = 0; i < flips; i++)
            copy[next() % w->len] = (uint8_t)next();
        (void)decode_any(copy, w->len); /* must not crash; result may be OK */
    }
    free(copy);
}

static void test_task(void)
{
    static lm_task_msg m, d;
    memset(&m, 0, sizeof m);
    m.task_id = (lm_oid){0x0102030405060708ull, 42};
    m.owner = 3;
    m.attempt = 2;
    m.flags = LM_TASK_STOLEN;
    strcpy(m.fn, "square");
    m.num_returns = 3;
    m.ndemand = 4;
    m.demand[0] = 1.5;
    m.demand[3] = 2;
    int64_t i64 = -77;
    double f64 = 3.25;
    const char *s = "hello";
    m.nargs = 5;
    m.args[0] = (lm_wval){.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_I64, .data = &i64, .size = 8};
    m.args[1] = (lm_wval){.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_F64, .data = &f64, .size = 8};
    m.args[2] = (lm_wval){.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_STR, .data = s, .size = 6};
    m.args[3] = (lm_wval){.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_BYTES, .data = "", .size = 0};
    m.args[4] = (lm_wval){.kind = LM_VAL_STORE, .type = LUMEN_TYPE_BYTES, .oid = {7, 8}, .node = 2,
                          .holder = 3, .size = 1u << 30};
    m.kind = LM_KIND_CALL;
    m.actor_id = (lm_oid){11, 12};
    m.max_concurrency = 4;
    m.pg_id = (lm_oid){13, 14};
    m.bundle = -1;
    lm_wbuf w;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_task(&w, &m);
    CHECK(!w.oom);
    CHECK(lm_msg_peek_type(w.data, w.len) == LM_MSG_TASK);
    CHECK(lm_msg_decode_task(w.data, w.len, &d) == LUMEN_OK);
    CHECK(d.task_id.hi == m.task_id.hi && d.task_id.lo == 42);
    CHECK(d.owner == 3 && d.attempt == 2 && d.flags == LM_TASK_STOLEN);
    CHECK(!strcmp(d.fn, "square") && d.num_returns == 3 && d.ndemand == 4);
    CHECK(d.demand[0] == 1.5 && d.demand[3] == 2 && d.demand[1] == 0);
    CHECK(d.nargs == 5);
    CHECK(d.kind == LM_KIND_CALL && d.actor_id.hi == 11 && d.actor_id.lo == 12 && d.max_concurrency == 4 &&
          d.pg_id.hi == 13 && d.pg_id.lo == 14 && d.bundle == -1);
    int64_t gi;
    double gf;
    memcpy(&gi, d.args[0].data, 8);
    memcpy(&gf, d.args[1].data, 8);
    CHECK(gi == -77 && gf == 3.25);
    CHECK(d.args[2].size == 6 && !strcmp(d.args[2].data, "hello"));
    CHECK(d.args[3].size == 0 && d.args[3].type == LUMEN_TYPE_BYTES);
    CHECK(d.args[4].kind == LM_VAL_STORE && d.args[4].oid.hi == 7 && d.args[4].oid.lo == 8 &&
          d.args[4].node == 2 && d.args[4].holder == 3 && d.args[4].size == (1u << 30));
    /* the wrong decoder refuses it */
    static lm_done_msg dm;
    CHECK(lm_msg_decode_done(w.data, w.len, &dm) == LUMEN_ERR_PROTOCOL);
    check_truncations(&w);
    mutate(&w, 20000);

    /* semantic checks: string without NUL, bad counts, NaN demand */
    m.args[2].size = 5; /* drops the NUL */
    lm_wbuf w2;
    lm_wbuf_init(&w2, 16);
    lm_msg_encode_task(&w2, &m);
    CHECK(lm_msg_decode_task(w2.data, w2.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w2);
    m.args[2].size = 6;
    m.demand[0] = 0.0 / 0.0;
    lm_wbuf_init(&w2, 16);
    lm_msg_encode_task(&w2, &m);
    CHECK(lm_msg_decode_task(w2.data, w2.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w2);
    m.demand[0] = 1;
    m.kind = 9; /* no such kind */
    lm_wbuf_init(&w2, 16);
    lm_msg_encode_task(&w2, &m);
    CHECK(lm_msg_decode_task(w2.data, w2.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w2);
    m.kind = LM_KIND_TASK;
    m.bundle = -7;
    lm_wbuf_init(&w2, 16);
    lm_msg_encode_task(&w2, &m);
    CHECK(lm_msg_decode_task(w2.data, w2.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w2);
    m.bundle = 0;
    m.num_returns = 0;
    lm_wbuf_init(&w2, 16);
    lm_msg_encode_task(&w2, &m);
    CHECK(lm_msg_decode_task(w2.data, w2.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w2);
    lm_wbuf_free(&w);
}

static void test_done(void)
{
    static lm_done_msg m, d;
    memset(&m, 0, sizeof m);
    m.task_id = (lm_oid){1, 2};
    m.attempt = 1;
    m.executor = 5;
    m.nret = 3;
    int64_t v = 99;
    m.rets[0] = (lm_wval){.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_I64, .data = &v, .size = 8};
    m.rets[1] = (lm_wval){.kind = LM_VAL_ERROR, .type = 1, .data = "cancelled", .size = 9};
    m.rets[2] = (lm_wval){.kind = LM_VAL_NONE};
    lm_wbuf w;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_done(&w, &m);
    CHECK(lm_msg_decode_done(w.data, w.len, &d) == LUMEN_OK);
    CHECK(d.executor == 5 && d.nret == 3 && d.attempt == 1);
    int64_t got;
    memcpy(&got, d.rets[0].data, 8);
    CHECK(d.rets[0].kind == LM_VAL_INLINE && got == 99);
    CHECK(((uintptr_t)d.rets[0].data & 7) == 0); /* aligned payload */
    CHECK(d.rets[1].kind == LM_VAL_ERROR && d.rets[1].type == 1 && d.rets[1].size == 9 &&
          !memcmp(d.rets[1].data, "cancelled", 9));
    CHECK(d.rets[2].kind == LM_VAL_NONE);
    check_truncations(&w);
    mutate(&w, 20000);
    lm_wbuf_free(&w);
}

static void test_small(void)
{
    lm_fetch_msg f = {.oid = {3, 4}, .tag = 77, .size = 12345, .offset = 1u << 20}, fd;
    lm_wbuf w;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_fetch(&w, &f);
    CHECK(lm_msg_decode_fetch(w.data, w.len, &fd) == LUMEN_OK);
    CHECK(fd.oid.hi == 3 && fd.oid.lo == 4 && fd.tag == 77 && fd.size == 12345 && fd.offset == 1u << 20);
    check_truncations(&w);
    lm_wbuf_free(&w);
    f.offset = UINT64_MAX - 100; /* offset + size wraps: refused */
    lm_wbuf_init(&w, 16);
    lm_msg_encode_fetch(&w, &f);
    CHECK(lm_msg_decode_fetch(w.data, w.len, &fd) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);

    for (int t = LM_MSG_FETCH_ERR; t <= LM_MSG_DEC_REF; t++) {
        if (t == LM_MSG_VALUE)
            continue;
        lm_small_msg s = {.oid = {9, 10}, .tag = t, .count = (uint64_t)1 << 40, .text = "why", .text_len = 3}, sd;
        lm_wbuf_init(&w, 16);
        lm_msg_encode_small(&w, (lm_msg_type)t, &s);
        CHECK(lm_msg_peek_type(w.data, w.len) == t);
        CHECK(lm_msg_decode_small(w.data, w.len, (lm_msg_type)t, &sd) == LUMEN_OK);
        CHECK(sd.oid.lo == 10 && sd.tag == t && sd.count == (uint64_t)1 << 40 && sd.text_len == 3 &&
              !memcmp(sd.text, "why", 3));
        /* a different type's decoder refuses */
        CHECK(lm_msg_decode_small(w.data, w.len, (lm_msg_type)(t == LM_MSG_FREE ? LM_MSG_CANCEL : LM_MSG_FREE),
                                  &sd) == LUMEN_ERR_PROTOCOL);
        check_truncations(&w);
        mutate(&w, 2000);
        lm_wbuf_free(&w);
    }
}

static void test_value(void)
{
    uint8_t ref[LM_REF_VALUE_SIZE] = {1, 2, 3};
    lm_value_msg m = {.oid = {5, 6}, .val = {.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_REF, .data = ref,
                                             .size = sizeof ref}}, d;
    lm_wbuf w;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_value(&w, &m);
    CHECK(lm_msg_decode_value(w.data, w.len, &d) == LUMEN_OK);
    CHECK(d.oid.hi == 5 && d.oid.lo == 6 && d.val.type == LUMEN_TYPE_REF && d.val.size == LM_REF_VALUE_SIZE &&
          !memcmp(d.val.data, ref, sizeof ref));
    check_truncations(&w);
    mutate(&w, 5000);
    lm_wbuf_free(&w);
    /* a reference value of the wrong size is refused */
    m.val.size = 16;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_value(&w, &m);
    CHECK(lm_msg_decode_value(w.data, w.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);
    /* an error value travels as text */
    m.val = (lm_wval){.kind = LM_VAL_ERROR, .data = "gone", .size = 4};
    lm_wbuf_init(&w, 16);
    lm_msg_encode_value(&w, &m);
    CHECK(lm_msg_decode_value(w.data, w.len, &d) == LUMEN_OK && d.val.kind == LM_VAL_ERROR && d.val.size == 4);
    lm_wbuf_free(&w);
}

static void test_ctl(void)
{
    double blob[3] = {1.5, -2, 4};
    lm_ctl_msg m = {.op = 7, .tag = 99, .a = {1, 2}, .b = {3, 4}, .blob = blob, .blob_len = sizeof blob}, d;
    for (int i = 0; i < LM_CTL_NV; i++)
        m.v[i] = -1000 + i;
    m.s[0] = "name";
    m.slen[0] = 4;
    m.s[2] = "cause";
    m.slen[2] = 5;
    lm_wbuf w;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_ctl(&w, &m);
    CHECK(!w.oom && lm_msg_peek_type(w.data, w.len) == LM_MSG_CTL);
    CHECK(lm_msg_decode_ctl(w.data, w.len, &d) == LUMEN_OK);
    CHECK(d.op == 7 && d.tag == 99 && d.a.lo == 2 && d.b.hi == 3 && d.v[0] == -1000 && d.v[5] == -995);
    CHECK(d.slen[0] == 4 && !memcmp(d.s[0], "name", 4) && d.slen[1] == 0 && d.slen[2] == 5 &&
          !memcmp(d.s[2], "cause", 5));
    CHECK(d.blob_len == sizeof blob && ((uintptr_t)d.blob % 8) == 0 && ((const double *)d.blob)[2] == 4);
    lm_small_msg sm;
    CHECK(lm_msg_decode_small(w.data, w.len, LM_MSG_CTL, &sm) == LUMEN_ERR_PROTOCOL);
    check_truncations(&w);
    mutate(&w, 20000);
    lm_wbuf_free(&w);
}

/* YIELD (streaming generators), YIELD_ACK, and the streaming fields of TASK */
static void test_yield(void)
{
    int64_t v = -5;
    static lm_yield_msg m, d;
    m = (lm_yield_msg){.task_id = {0x0500000100000002ull, 77}, .attempt = 0, .executor = 3, .index = 70000, .n = 1};
    m.vals[0] = (lm_wval){.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_I64, .data = &v, .size = 8};
    lm_wbuf w;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_yield(&w, &m);
    CHECK(lm_msg_peek_type(w.data, w.len) == LM_MSG_YIELD);
    CHECK(lm_msg_decode_yield(w.data, w.len, &d) == LUMEN_OK);
    int64_t got = 0;
    memcpy(&got, d.vals[0].data, 8);
    CHECK(d.task_id.hi == m.task_id.hi && d.task_id.lo == 77 && d.attempt == 0 && d.executor == 3 &&
          d.index == 70000 && d.n == 1 && d.vals[0].kind == LM_VAL_INLINE && d.vals[0].type == LUMEN_TYPE_I64 &&
          got == -5);
    lm_small_msg sd;
    CHECK(lm_msg_decode_small(w.data, w.len, LM_MSG_YIELD, &sd) == LUMEN_ERR_PROTOCOL);
    static lm_done_msg dd;
    CHECK(lm_msg_decode_done(w.data, w.len, &dd) == LUMEN_ERR_PROTOCOL);
    check_truncations(&w);
    mutate(&w, 4000);
    lm_wbuf_free(&w);

    /* a batch built item by item: inline values of every type and a store location */
    const char *str = "abc";
    double f = 0.5;
    lm_wval vals[4] = {{.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_I64, .data = &v, .size = 8},
                       {.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_STR, .data = str, .size = 4},
                       {.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_F64, .data = &f, .size = 8},
                       {.kind = LM_VAL_STORE, .type = LUMEN_TYPE_BYTES, .oid = {1, 2}, .node = 1, .holder = 2,
                        .size = 1u << 20}};
    lm_wbuf_init(&w, 16);
    lm_msg_yield_begin(&w, m.task_id, 0, 1, 5);
    for (int i = 0; i < 4; i++)
        lm_msg_yield_add(&w, &vals[i]);
    lm_msg_yield_end(&w, 4);
    CHECK(lm_msg_decode_yield(w.data, w.len, &d) == LUMEN_OK);
    CHECK(d.n == 4 && d.index == 5 && d.executor == 1);
    CHECK(d.vals[1].type == LUMEN_TYPE_STR && !strcmp(d.vals[1].data, "abc"));
    CHECK(((uintptr_t)d.vals[2].data & 7) == 0); /* aligned payloads in a batch too */
    CHECK(d.vals[3].kind == LM_VAL_STORE && d.vals[3].oid.lo == 2 && d.vals[3].node == 1 && d.vals[3].holder == 2 &&
          d.vals[3].size == 1u << 20);
    check_truncations(&w);
    mutate(&w, 4000);
    /* a count that disagrees with the values */
    w.data[40] = 5;
    CHECK(lm_msg_decode_yield(w.data, w.len, &d) == LUMEN_ERR_PROTOCOL);
    w.data[40] = 3;
    CHECK(lm_msg_decode_yield(w.data, w.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);

    /* rejected: an error value, a reference, an actor, no value, no items,
     * too many items, an index over 2^40, a negative executor */
    uint8_t ref[LM_REF_VALUE_SIZE] = {0};
    lm_wval bad[] = {{.kind = LM_VAL_ERROR, .type = 0, .data = "x", .size = 1},
                     {.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_REF, .data = ref, .size = sizeof ref},
                     {.kind = LM_VAL_INLINE, .type = LUMEN_TYPE_ACTOR, .data = ref, .size = LM_ACTOR_VALUE_SIZE},
                     {.kind = LM_VAL_NONE}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m.vals[0] = bad[i];
        lm_wbuf_init(&w, 16);
        lm_msg_encode_yield(&w, &m);
        CHECK(lm_msg_decode_yield(w.data, w.len, &d) == LUMEN_ERR_PROTOCOL);
        lm_wbuf_free(&w);
    }
    m.vals[0] = vals[0];
    m.n = 0;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_yield(&w, &m);
    CHECK(lm_msg_decode_yield(w.data, w.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);
    lm_wbuf_init(&w, 16);
    lm_msg_yield_begin(&w, m.task_id, 0, 1, 0);
    for (int i = 0; i <= LM_YIELD_BATCH_MAX; i++)
        lm_msg_yield_add(&w, &vals[0]);
    lm_msg_yield_end(&w, LM_YIELD_BATCH_MAX + 1);
    CHECK(lm_msg_decode_yield(w.data, w.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);
    m.n = 2;
    m.vals[1] = vals[0];
    m.index = LM_YIELD_INDEX_MAX; /* the second item would be past the limit */
    lm_wbuf_init(&w, 16);
    lm_msg_encode_yield(&w, &m);
    CHECK(lm_msg_decode_yield(w.data, w.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);
    m.n = 1;
    m.index = 0;
    m.executor = -1;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_yield(&w, &m);
    CHECK(lm_msg_decode_yield(w.data, w.len, &d) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);

    /* YIELD_ACK is a small message */
    lm_small_msg a = {.oid = {9, 10}, .count = 123456789}, ad;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_small(&w, LM_MSG_YIELD_ACK, &a);
    CHECK(lm_msg_decode_small(w.data, w.len, LM_MSG_YIELD_ACK, &ad) == LUMEN_OK);
    CHECK(ad.oid.lo == 10 && ad.count == 123456789);
    check_truncations(&w);
    lm_wbuf_free(&w);

    /* TASK: a generator carries its bound; only a one-return task or call may stream */
    static lm_task_msg t, td;
    memset(&t, 0, sizeof t);
    t.task_id = (lm_oid){1, 2};
    strcpy(t.fn, "gen");
    t.num_returns = 1;
    t.flags = LM_TASK_STREAMING | LM_TASK_PINNED;
    t.gen_bound = 4;
    t.bundle = -1;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_task(&w, &t);
    CHECK(lm_msg_decode_task(w.data, w.len, &td) == LUMEN_OK);
    CHECK(td.gen_bound == 4 && (td.flags & LM_TASK_STREAMING));
    check_truncations(&w);
    lm_wbuf_free(&w);
    t.num_returns = 2;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_task(&w, &t);
    CHECK(lm_msg_decode_task(w.data, w.len, &td) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);
    t.num_returns = 1;
    t.kind = LM_KIND_CREATE;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_task(&w, &t);
    CHECK(lm_msg_decode_task(w.data, w.len, &td) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);
    t.kind = LM_KIND_TASK;
    t.flags = 0; /* a bound without the flag */
    lm_wbuf_init(&w, 16);
    lm_msg_encode_task(&w, &t);
    CHECK(lm_msg_decode_task(w.data, w.len, &td) == LUMEN_ERR_PROTOCOL);
    lm_wbuf_free(&w);
}

static void test_headers(void)
{
    uint8_t junk[64];
    CHECK(lm_msg_peek_type(NULL, 10) < 0);
    CHECK(lm_msg_peek_type(junk, 0) < 0);
    for (int i = 0; i < 100000; i++) {
        size_t n = next() % sizeof junk;
        for (size_t k = 0; k < n; k++)
            junk[k] = (uint8_t)next();
        if (n >= 2 && (i & 1)) { /* valid magic, random rest */
            junk[0] = 0x4c;
            junk[1] = 0x4d;
        }
        (void)decode_any(junk, n);
    }
    /* wrong version */
    lm_small_msg s = {.tag = 1};
    lm_wbuf w;
    lm_wbuf_init(&w, 16);
    lm_msg_encode_small(&w, LM_MSG_FREE, &s);
    w.data[2] = LM_WIRE_VERSION + 1;
    CHECK(lm_msg_peek_type(w.data, w.len) < 0);
    lm_wbuf_free(&w);
}

int main(void)
{
    test_task();
    test_done();
    test_ctl();
    test_small();
    test_value();
    test_yield();
    test_headers();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("wire: all checks passed\n");
    return 0;
}
