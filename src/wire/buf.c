/*
 * buf.c - the bounded writer/reader behind every wire message (see buf.h).
 * Values are little-endian on the wire whatever the host.
 */
#include "wire/buf.h"

#include <stdlib.h>

void lm_wbuf_init(lm_wbuf *w, size_t hint)
{
    w->len = 0;
    w->oom = 0;
    w->cap = hint < 64 ? 64 : hint;
    w->data = malloc(w->cap);
    if (!w->data) {
        w->cap = 0;
        w->oom = 1;
    }
}

void lm_wbuf_free(lm_wbuf *w)
{
    free(w->data);
    w->data = NULL;
    w->len = w->cap = 0;
}

static int reserve(lm_wbuf *w, size_t n)
{
    if (w->oom)
        return 0;
    if (w->len + n <= w->cap)
        return 1;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < w->len + n)
        cap *= 2;
    uint8_t *p = realloc(w->data, cap);
    if (!p) {
        w->oom = 1;
        return 0;
    }
    w->data = p;
    w->cap = cap;
    return 1;
}

void lm_w_bytes(lm_wbuf *w, const void *p, size_t n)
{
    if (n == 0 || !reserve(w, n))
        return;
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

static void put_le(lm_wbuf *w, uint64_t v, int n)
{
    if (!reserve(w, (size_t)n))
        return;
    for (int i = 0; i < n; i++)
        w->data[w->len++] = (uint8_t)(v >> (8 * i));
}

void lm_w_u8(lm_wbuf *w, uint8_t v) { put_le(w, v, 1); }
void lm_w_u16(lm_wbuf *w, uint16_t v) { put_le(w, v, 2); }
void lm_w_u32(lm_wbuf *w, uint32_t v) { put_le(w, v, 4); }
void lm_w_u64(lm_wbuf *w, uint64_t v) { put_le(w, v, 8); }

void lm_w_f64(lm_wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_le(w, u, 8);
}

void lm_w_str(lm_wbuf *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    lm_w_u32(w, (uint32_t)n);
    lm_w_bytes(w, s, n);
}

void lm_w_blob(lm_wbuf *w, const void *p, size_t n)
{
    lm_w_u64(w, n);
    while (!w->oom && w->len % 8) /* 8-byte aligned payloads: tasks may cast them */
        lm_w_u8(w, 0);
    lm_w_bytes(w, p, n);
}

static uint64_t get_le(lm_rbuf *r, int n)
{
    if (!r->ok || r->len - r->pos < (size_t)n) {
        r->ok = 0;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->data[r->pos + (size_t)i] << (8 * i);
    r->pos += (size_t)n;
    return v;
}

uint8_t lm_r_u8(lm_rbuf *r) { return (uint8_t)get_le(r, 1); }
uint16_t lm_r_u16(lm_rbuf *r) { return (uint16_t)get_le(r, 2); }
uint32_t lm_r_u32(lm_rbuf *r) { return (uint32_t)get_le(r, 4); }
uint64_t lm_r_u64(lm_rbuf *r) { return get_le(r, 8); }

double lm_r_f64(lm_rbuf *r)
{
    uint64_t u = get_le(r, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

const void *lm_r_bytes(lm_rbuf *r, size_t n)
{
    if (!r->ok || r->len - r->pos < n) {
        r->ok = 0;
        return NULL;
    }
    const void *p = r->data + r->pos;
    r->pos += n;
    return p;
}

const char *lm_r_strref(lm_rbuf *r, uint32_t *len)
{
    *len = lm_r_u32(r);
    return lm_r_bytes(r, *len);
}

void lm_r_str(lm_rbuf *r, char *out, size_t cap)
{
    uint32_t n;
    const char *p = lm_r_strref(r, &n);
    if (!r->ok || n >= cap) {
        r->ok = 0;
        if (cap)
            out[0] = '\0';
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

const void *lm_r_blob(lm_rbuf *r, uint64_t *len)
{
    *len = lm_r_u64(r);
    if (*len > r->len) {
        r->ok = 0;
        return NULL;
    }
    while (r->ok && r->pos % 8)
        if (lm_r_u8(r) != 0)
            r->ok = 0;
    return lm_r_bytes(r, (size_t)*len);
}
