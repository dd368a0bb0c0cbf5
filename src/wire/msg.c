/*
 * msg.c - encoders and strict decoders for the messages in msg.h.
 * Knows the byte layout only; what a message means is the runtime's concern.
 */
#include "wire/msg.h"

#include <string.h>

static void begin(lm_wbuf *w, lm_msg_type t, size_t *start)
{
    *start = w->len;
    lm_w_u16(w, LM_WIRE_MAGIC);
    lm_w_u8(w, LM_WIRE_VERSION);
    lm_w_u8(w, (uint8_t)t);
    lm_w_u32(w, 0); /* patched by end() */
}

static void end(lm_wbuf *w, size_t start)
{
    if (w->oom)
        return;
    uint32_t n = (uint32_t)(w->len - start);
    for (int i = 0; i < 4; i++)
        w->data[start + 4 + (size_t)i] = (uint8_t)(n >> (8 * i));
}

static void w_oid(lm_wbuf *w, lm_oid id)
{
    lm_w_u64(w, id.hi);
    lm_w_u64(w, id.lo);
}

static lm_oid r_oid(lm_rbuf *r)
{
    lm_oid id;
    id.hi = lm_r_u64(r);
    id.lo = lm_r_u64(r);
    return id;
}

static void w_val(lm_wbuf *w, const lm_wval *v)
{
    lm_w_u8(w, v->kind);
    lm_w_u8(w, v->type);
    switch (v->kind) {
    case LM_VAL_INLINE:
    case LM_VAL_ERROR:
        lm_w_blob(w, v->data, v->size);
        break;
    case LM_VAL_STORE:
        w_oid(w, v->oid);
        lm_w_u64(w, v->size);
        lm_w_u32(w, (uint32_t)v->node);
        lm_w_u32(w, (uint32_t)v->holder);
        break;
    default:
        break;
    }
}

static void r_val(lm_rbuf *r, lm_wval *v)
{
    memset(v, 0, sizeof *v);
    v->kind = lm_r_u8(r);
    v->type = lm_r_u8(r);
    if (v->type > LUMEN_TYPE_DEVICE)
        r->ok = 0;
    switch (v->kind) {
    case LM_VAL_NONE:
        break;
    case LM_VAL_INLINE:
    case LM_VAL_ERROR:
        v->data = lm_r_blob(r, &v->size);
        /* strings travel with their NUL so readers get a C string in place */
        if (r->ok && v->kind == LM_VAL_INLINE && v->type == LUMEN_TYPE_STR &&
            (v->size == 0 || ((const char *)v->data)[v->size - 1] != '\0'))
            r->ok = 0;
        if (r->ok && v->kind == LM_VAL_INLINE && (v->type == LUMEN_TYPE_I64 || v->type == LUMEN_TYPE_F64) &&
            v->size != 8)
            r->ok = 0;
        if (r->ok && v->kind == LM_VAL_INLINE && v->type == LUMEN_TYPE_REF && v->size != LM_REF_VALUE_SIZE)
            r->ok = 0;
        if (r->ok && v->kind == LM_VAL_INLINE && v->type == LUMEN_TYPE_ACTOR && v->size != LM_ACTOR_VALUE_SIZE)
            r->ok = 0;
        if (r->ok && v->kind == LM_VAL_INLINE && v->type == LUMEN_TYPE_DEVICE && v->size != LM_DEVICE_VALUE_SIZE)
            r->ok = 0;
        break;
    case LM_VAL_STORE:
        v->oid = r_oid(r);
        v->size = lm_r_u64(r);
        v->node = (int32_t)lm_r_u32(r);
        v->holder = (int32_t)lm_r_u32(r);
        if (v->node < 0 || v->holder < 0 || v->type == LUMEN_TYPE_REF || v->type == LUMEN_TYPE_ACTOR ||
            v->type == LUMEN_TYPE_DEVICE)
            r->ok = 0;
        break;
    default:
        r->ok = 0;
    }
}

/* Open a message for decoding: header valid, type as expected, length exact. */
static int open_msg(lm_rbuf *r, const void *buf, size_t len, lm_msg_type want)
{
    if (lm_msg_peek_type(buf, len) != (int)want)
        return 0;
    lm_rbuf_init(r, buf, len);
    r->pos = LM_MSG_HEADER;
    return 1;
}

int lm_msg_peek_type(const void *buf, size_t len)
{
    if (!buf || len < LM_MSG_HEADER)
        return LUMEN_ERR_PROTOCOL;
    lm_rbuf r;
    lm_rbuf_init(&r, buf, len);
    uint16_t magic = lm_r_u16(&r);
    uint8_t ver = lm_r_u8(&r);
    uint8_t type = lm_r_u8(&r);
    uint32_t total = lm_r_u32(&r);
    if (magic != LM_WIRE_MAGIC || ver != LM_WIRE_VERSION || type == 0 || type > LM_MSG_TYPE_MAX ||
        total != len)
        return LUMEN_ERR_PROTOCOL;
    return type;
}

void lm_msg_encode_task(lm_wbuf *w, const lm_task_msg *m)
{
    size_t s;
    begin(w, LM_MSG_TASK, &s);
    w_oid(w, m->task_id);
    lm_w_u32(w, (uint32_t)m->owner);
    lm_w_u32(w, m->attempt);
    lm_w_u32(w, m->flags);
    lm_w_str(w, m->fn);
    lm_w_u16(w, m->num_returns);
    lm_w_u8(w, m->ndemand);
    for (int i = 0; i < m->ndemand; i++)
        lm_w_f64(w, m->demand[i]);
    lm_w_u8(w, m->kind);
    w_oid(w, m->actor_id);
    lm_w_u32(w, (uint32_t)m->max_concurrency);
    w_oid(w, m->pg_id);
    lm_w_u32(w, (uint32_t)m->bundle);
    lm_w_u32(w, m->gen_bound);
    lm_w_u16(w, m->nargs);
    for (int i = 0; i < m->nargs; i++)
        w_val(w, &m->args[i]);
    end(w, s);
}

lumen_status lm_msg_decode_task(const void *buf, size_t len, lm_task_msg *m)
{
    lm_rbuf r;
    if (!open_msg(&r, buf, len, LM_MSG_TASK))
        return LUMEN_ERR_PROTOCOL;
    m->task_id = r_oid(&r);
    m->owner = (int32_t)lm_r_u32(&r);
    m->attempt = lm_r_u32(&r);
    m->flags = lm_r_u32(&r);
    lm_r_str(&r, m->fn, sizeof m->fn);
    m->num_returns = lm_r_u16(&r);
    m->ndemand = lm_r_u8(&r);
    if (m->ndemand > LM_MAX_RES || m->num_returns == 0 || m->num_returns > LUMEN_MAX_RETURNS ||
        m->owner < 0)
        return LUMEN_ERR_PROTOCOL;
    memset(m->demand, 0, sizeof m->demand);
    for (int i = 0; i < m->ndemand; i++) {
        m->demand[i] = lm_r_f64(&r);
        if (!(m->demand[i] >= 0.0)) /* also rejects NaN */
            return LUMEN_ERR_PROTOCOL;
    }
    m->kind = lm_r_u8(&r);
    m->actor_id = r_oid(&r);
    m->max_concurrency = (int32_t)lm_r_u32(&r);
    m->pg_id = r_oid(&r);
    m->bundle = (int32_t)lm_r_u32(&r);
    m->gen_bound = lm_r_u32(&r);
    if (m->kind > LM_KIND_CALL || m->max_concurrency < 0 || m->bundle < -1)
        return LUMEN_ERR_PROTOCOL;
    /* a generator is a task or a method with one return (its item count) */
    if ((m->flags & LM_TASK_STREAMING) && (m->kind == LM_KIND_CREATE || m->num_returns != 1))
        return LUMEN_ERR_PROTOCOL;
    if (!(m->flags & LM_TASK_STREAMING) && m->gen_bound != 0)
        return LUMEN_ERR_PROTOCOL;
    m->nargs = lm_r_u16(&r);
    if (m->nargs > LUMEN_MAX_ARGS)
        return LUMEN_ERR_PROTOCOL;
    for (int i = 0; i < m->nargs && r.ok; i++) {
        r_val(&r, &m->args[i]);
        if (m->args[i].kind == LM_VAL_NONE || m->args[i].kind == LM_VAL_ERROR)
            r.ok = 0;
    }
    return r.ok && r.pos == r.len ? LUMEN_OK : LUMEN_ERR_PROTOCOL;
}

void lm_msg_encode_done(lm_wbuf *w, const lm_done_msg *m)
{
    size_t s;
    begin(w, LM_MSG_DONE, &s);
    w_oid(w, m->task_id);
    lm_w_u32(w, m->attempt);
    lm_w_u32(w, (uint32_t)m->executor);
    lm_w_u16(w, m->nret);
    for (int i = 0; i < m->nret; i++)
        w_val(w, &m->rets[i]);
    end(w, s);
}

lumen_status lm_msg_decode_done(const void *buf, size_t len, lm_done_msg *m)
{
    lm_rbuf r;
    if (!open_msg(&r, buf, len, LM_MSG_DONE))
        return LUMEN_ERR_PROTOCOL;
    m->task_id = r_oid(&r);
    m->attempt = lm_r_u32(&r);
    m->executor = (int32_t)lm_r_u32(&r);
    m->nret = lm_r_u16(&r);
    if (m->nret == 0 || m->nret > LUMEN_MAX_RETURNS || m->executor < 0)
        return LUMEN_ERR_PROTOCOL;
    for (int i = 0; i < m->nret && r.ok; i++)
        r_val(&r, &m->rets[i]);
    return r.ok && r.pos == r.len ? LUMEN_OK : LUMEN_ERR_PROTOCOL;
}

void lm_msg_encode_fetch(lm_wbuf *w, const lm_fetch_msg *m)
{
    size_t s;
    begin(w, LM_MSG_FETCH, &s);
    w_oid(w, m->oid);
    lm_w_u32(w, (uint32_t)m->tag);
    lm_w_u64(w, m->size);
    lm_w_u64(w, m->offset);
    end(w, s);
}

lumen_status lm_msg_decode_fetch(const void *buf, size_t len, lm_fetch_msg *m)
{
    lm_rbuf r;
    if (!open_msg(&r, buf, len, LM_MSG_FETCH))
        return LUMEN_ERR_PROTOCOL;
    m->oid = r_oid(&r);
    m->tag = (int32_t)lm_r_u32(&r);
    m->size = lm_r_u64(&r);
    m->offset = lm_r_u64(&r);
    if (m->tag < 0 || m->offset > UINT64_MAX - m->size)
        return LUMEN_ERR_PROTOCOL;
    return r.ok && r.pos == r.len ? LUMEN_OK : LUMEN_ERR_PROTOCOL;
}

void lm_msg_encode_small(lm_wbuf *w, lm_msg_type type, const lm_small_msg *m)
{
    size_t s;
    begin(w, type, &s);
    w_oid(w, m->oid);
    lm_w_u32(w, (uint32_t)m->tag);
    lm_w_u64(w, m->count);
    lm_w_u32(w, m->text_len);
    lm_w_bytes(w, m->text, m->text_len);
    end(w, s);
}

lumen_status lm_msg_decode_small(const void *buf, size_t len, lm_msg_type type, lm_small_msg *m)
{
    lm_rbuf r;
    if (type == LM_MSG_TASK || type == LM_MSG_DONE || type == LM_MSG_FETCH || type == LM_MSG_VALUE ||
        type == LM_MSG_CTL || type == LM_MSG_YIELD ||
        !open_msg(&r, buf, len, type))
        return LUMEN_ERR_PROTOCOL;
    m->oid = r_oid(&r);
    m->tag = (int32_t)lm_r_u32(&r);
    m->count = lm_r_u64(&r);
    m->text = lm_r_strref(&r, &m->text_len);
    return r.ok && r.pos == r.len ? LUMEN_OK : LUMEN_ERR_PROTOCOL;
}

void lm_msg_encode_value(lm_wbuf *w, const lm_value_msg *m)
{
    size_t s;
    begin(w, LM_MSG_VALUE, &s);
    w_oid(w, m->oid);
    w_val(w, &m->val);
    end(w, s);
}

lumen_status lm_msg_decode_value(const void *buf, size_t len, lm_value_msg *m)
{
    lm_rbuf r;
    if (!open_msg(&r, buf, len, LM_MSG_VALUE))
        return LUMEN_ERR_PROTOCOL;
    m->oid = r_oid(&r);
    r_val(&r, &m->val);
    return r.ok && r.pos == r.len ? LUMEN_OK : LUMEN_ERR_PROTOCOL;
}

void lm_msg_encode_ctl(lm_wbuf *w, const lm_ctl_msg *m)
{
    size_t s;
    begin(w, LM_MSG_CTL, &s);
    lm_w_u8(w, m->op);
    lm_w_u32(w, (uint32_t)m->tag);
    w_oid(w, m->a);
    w_oid(w, m->b);
    for (int i = 0; i < LM_CTL_NV; i++)
        lm_w_u64(w, (uint64_t)m->v[i]);
    for (int i = 0; i < LM_CTL_NS; i++) {
        uint32_t n = m->s[i] ? m->slen[i] : 0;
        lm_w_u32(w, n);
        lm_w_bytes(w, m->s[i], n);
    }
    lm_w_blob(w, m->blob, m->blob ? m->blob_len : 0);
    end(w, s);
}

lumen_status lm_msg_decode_ctl(const void *buf, size_t len, lm_ctl_msg *m)
{
    lm_rbuf r;
    if (!open_msg(&r, buf, len, LM_MSG_CTL))
        return LUMEN_ERR_PROTOCOL;
    m->op = lm_r_u8(&r);
    m->tag = (int32_t)lm_r_u32(&r);
    m->a = r_oid(&r);
    m->b = r_oid(&r);
    for (int i = 0; i < LM_CTL_NV; i++)
        m->v[i] = (int64_t)lm_r_u64(&r);
    for (int i = 0; i < LM_CTL_NS; i++)
        m->s[i] = lm_r_strref(&r, &m->slen[i]);
    m->blob = lm_r_blob(&r, &m->blob_len);
    return r.ok && r.pos == r.len ? LUMEN_OK : LUMEN_ERR_PROTOCOL;
}

#define YIELD_COUNT_AT (LM_MSG_HEADER + 16 + 4 + 4 + 8)

void lm_msg_yield_begin(lm_wbuf *w, lm_oid task, uint32_t attempt, int32_t executor, uint64_t first)
{
    size_t s;
    begin(w, LM_MSG_YIELD, &s);
    w_oid(w, task);
    lm_w_u32(w, attempt);
    lm_w_u32(w, (uint32_t)executor);
    lm_w_u64(w, first);
    lm_w_u32(w, 0); /* the count, patched by lm_msg_yield_end */
}

void lm_msg_yield_add(lm_wbuf *w, const lm_wval *v) { w_val(w, v); }

void lm_msg_yield_end(lm_wbuf *w, uint32_t n)
{
    if (w->oom || w->len < YIELD_COUNT_AT + 4)
        return;
    for (int i = 0; i < 4; i++)
        w->data[YIELD_COUNT_AT + (size_t)i] = (uint8_t)(n >> (8 * i));
    end(w, 0);
}

void lm_msg_encode_yield(lm_wbuf *w, const lm_yield_msg *m)
{
    /* the batch encoding needs the message at the start of the buffer */
    lm_wbuf tmp;
    lm_wbuf *b = w->len ? &tmp : w;
    if (b == &tmp)
        lm_wbuf_init(&tmp, 64);
    lm_msg_yield_begin(b, m->task_id, m->attempt, m->executor, m->index);
    for (uint32_t i = 0; i < m->n && i < LM_YIELD_BATCH_MAX; i++)
        w_val(b, &m->vals[i]);
    lm_msg_yield_end(b, m->n);
    if (b == &tmp) {
        if (tmp.oom)
            w->oom = 1;
        else
            lm_w_bytes(w, tmp.data, tmp.len);
        lm_wbuf_free(&tmp);
    }
}

lumen_status lm_msg_decode_yield(const void *buf, size_t len, lm_yield_msg *m)
{
    lm_rbuf r;
    if (!open_msg(&r, buf, len, LM_MSG_YIELD))
        return LUMEN_ERR_PROTOCOL;
    m->task_id = r_oid(&r);
    m->attempt = lm_r_u32(&r);
    m->executor = (int32_t)lm_r_u32(&r);
    m->index = lm_r_u64(&r);
    m->n = lm_r_u32(&r);
    if (!r.ok || m->executor < 0 || m->n == 0 || m->n > LM_YIELD_BATCH_MAX || m->index > LM_YIELD_INDEX_MAX ||
        m->index + m->n - 1 > LM_YIELD_INDEX_MAX)
        return LUMEN_ERR_PROTOCOL;
    for (uint32_t i = 0; i < m->n && r.ok; i++) {
        lm_wval *v = &m->vals[i];
        r_val(&r, v);
        if (v->kind != LM_VAL_INLINE && v->kind != LM_VAL_STORE)
            r.ok = 0;
        if (v->type == LUMEN_TYPE_REF || v->type == LUMEN_TYPE_ACTOR || v->type == LUMEN_TYPE_DEVICE)
            r.ok = 0;
    }
    return r.ok && r.pos == r.len ? LUMEN_OK : LUMEN_ERR_PROTOCOL;
}
