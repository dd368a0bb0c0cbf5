/*
 * buf.h - bounded little-endian writer and reader for wire messages.
 *
 * The writer grows a heap buffer; the reader never reads past its end and
 * latches a failure flag instead, so a decoder checks once at the end
 * (`if (!r.ok) return LUMEN_ERR_PROTOCOL`). No knowledge of message types.
 */
#ifndef LUMEN_WIRE_BUF_H
#define LUMEN_WIRE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct lm_wbuf {
    uint8_t *data;
    size_t len, cap;
    int oom;
} lm_wbuf;

typedef struct lm_rbuf {
    const uint8_t *data;
    size_t len, pos;
    int ok;
} lm_rbuf;

void lm_wbuf_init(lm_wbuf *w, size_t hint);
void lm_wbuf_free(lm_wbuf *w);
void lm_w_bytes(lm_wbuf *w, const void *p, size_t n);
void lm_w_u8(lm_wbuf *w, uint8_t v);
void lm_w_u16(lm_wbuf *w, uint16_t v);
void lm_w_u32(lm_wbuf *w, uint32_t v);
void lm_w_u64(lm_wbuf *w, uint64_t v);
void lm_w_f64(lm_wbuf *w, double v);
/* u32 length then bytes (no NUL) */
void lm_w_str(lm_wbuf *w, const char *s);
/* u64 length, zero padding to an 8-byte offset (messages start 8-byte
 * aligned), then the bytes: payloads can be read as int64/double arrays */
void lm_w_blob(lm_wbuf *w, const void *p, size_t n);

static inline void lm_rbuf_init(lm_rbuf *r, const void *p, size_t n)
{
    r->data = p;
    r->len = n;
    r->pos = 0;
    r->ok = 1;
}
uint8_t lm_r_u8(lm_rbuf *r);
uint16_t lm_r_u16(lm_rbuf *r);
uint32_t lm_r_u32(lm_rbuf *r);
uint64_t lm_r_u64(lm_rbuf *r);
double lm_r_f64(lm_rbuf *r);
/* pointer into the buffer, NULL (and !ok) when n bytes are not there */
const void *lm_r_bytes(lm_rbuf *r, size_t n);
/* string: copies into out (cap bytes, NUL terminated); too long -> !ok */
void lm_r_str(lm_rbuf *r, char *out, size_t cap);
/* string as pointer+length into the buffer (not NUL terminated) */
const char *lm_r_strref(lm_rbuf *r, uint32_t *len);
const void *lm_r_blob(lm_rbuf *r, uint64_t *len);

#endif
