/*
 * msg.h - lumen's wire protocol: the control messages ranks exchange.
 *
 * Every message starts with an 8-byte header: magic "LM" (u16), protocol
 * version (u8), type (u8), total length (u32). Bodies are little-endian and
 * decoded by lm_msg_decode_* which reject anything malformed (short, long,
 * counts out of range, unknown kinds) with LUMEN_ERR_PROTOCOL. Decoded
 * structures point into the message buffer (no copies). Bulk object data
 * never travels in these messages; see transport.h.
 */
#ifndef LUMEN_WIRE_MSG_H
#define LUMEN_WIRE_MSG_H

#include <stdint.h>

#include "lumen.h"
#include "store/store.h"
#include "wire/buf.h"

#define LM_WIRE_MAGIC 0x4d4cu /* "LM" */
#define LM_WIRE_VERSION 4
#define LM_MSG_HEADER 8
#define LM_FN_MAX 128         /* function name bytes incl. NUL */
#define LM_MAX_RES 18         /* resource slots: cpu, gpu, 16 custom */

typedef enum lm_msg_type {
    LM_MSG_TASK = 1,      /* submitter (or victim of a steal) -> executor */
    LM_MSG_DONE = 2,      /* executor -> owner: results of a task */
    LM_MSG_FETCH = 3,     /* reader -> holder: send me object data on tag */
    LM_MSG_FETCH_ERR = 4, /* holder -> reader: cannot (object gone) */
    LM_MSG_FREE = 5,      /* owner -> holder: delete object from your store */
    LM_MSG_CANCEL = 6,    /* owner -> executor: drop task if not started */
    LM_MSG_STEAL = 7,     /* idle rank -> busy rank: give me queued work */
    LM_MSG_SHUTDOWN = 8,  /* driver -> all: the job ends */
    LM_MSG_SUBSCRIBE = 9, /* borrower -> owner: send me the value when ready */
    LM_MSG_VALUE = 10,    /* owner -> borrower: the value (or error) of an object */
    LM_MSG_ADD_REF = 11,  /* holder -> owner: tag more references now exist */
    LM_MSG_DEC_REF = 12,  /* borrower -> owner: tag references are gone */
    LM_MSG_CTL = 13,      /* actors, placement groups, resources (lm_ctl_op) */
    LM_MSG_YIELD = 14,    /* executor -> owner: the next item of a streaming task */
    LM_MSG_YIELD_ACK = 15,/* owner -> executor: count items taken (small: oid task, count) */
    LM_MSG_TYPE_MAX = 15
} lm_msg_type;

/* How a value travels: inline bytes, a location in a node store, or an error. */
typedef enum lm_val_kind {
    LM_VAL_NONE = 0,
    LM_VAL_INLINE = 1,
    LM_VAL_STORE = 2,
    LM_VAL_ERROR = 3
} lm_val_kind;

typedef struct lm_wval {
    uint8_t kind;       /* lm_val_kind */
    uint8_t type;       /* lumen_type of the value */
    int32_t node;       /* STORE: node holding it */
    int32_t holder;     /* STORE: rank to fetch from */
    lm_oid oid;         /* STORE: object id in that node's store */
    const void *data;   /* INLINE: bytes; ERROR: message (not NUL terminated) */
    uint64_t size;      /* INLINE/ERROR: bytes of data; STORE: object size */
} lm_wval;

#define LM_TASK_STOLEN 1u        /* flag: this copy was forwarded by a steal */
#define LM_TASK_HOPS_SHIFT 8     /* bits 8-15: how many times it was stolen */
#define LM_TASK_MAX_HOPS 3
#define LM_TASK_PINNED 2u        /* flag: must run where it was sent (no stealing) */
#define LM_TASK_ASYNC 8u         /* flag (CREATE): an async actor (lumen_await) */
#define LM_TASK_STREAMING 4u     /* flag: a streaming generator (YIELD messages) */

/* what a TASK message asks for */
#define LM_KIND_TASK 0           /* a remote function */
#define LM_KIND_CREATE 1         /* create an actor: fn is the class */
#define LM_KIND_CALL 2           /* an actor method: fn is the method */

typedef struct lm_task_msg {
    lm_oid task_id;
    int32_t owner;
    uint32_t attempt;
    uint32_t flags;
    char fn[LM_FN_MAX];
    uint16_t num_returns;
    uint8_t ndemand;                 /* slots of demand[] sent */
    double demand[LM_MAX_RES];
    uint8_t kind;                    /* LM_KIND_* */
    lm_oid actor_id;                 /* CREATE / CALL */
    int32_t max_concurrency;         /* CREATE */
    lm_oid pg_id;                    /* placement group it runs in ({0,0}: none) */
    int32_t bundle;                  /* its bundle there */
    uint32_t gen_bound;              /* STREAMING: back-pressure bound (0: none) */
    uint16_t nargs;
    lm_wval args[LUMEN_MAX_ARGS];
} lm_task_msg;

typedef struct lm_done_msg {
    lm_oid task_id;
    uint32_t attempt;
    int32_t executor;
    uint16_t nret;
    lm_wval rets[LUMEN_MAX_RETURNS];
} lm_done_msg;

/* Items of a streaming task (LM_MSG_YIELD), a batch of consecutive ones:
 * items of one attempt travel in index order on the executor -> owner
 * channel, before its DONE, whose value is the count of items (I64) or the
 * task's error. */
#define LM_YIELD_BATCH_MAX 256
typedef struct lm_yield_msg {
    lm_oid task_id;
    uint32_t attempt;
    int32_t executor;
    uint64_t index;      /* of vals[0]; the others follow (all below 2^40) */
    uint32_t n;          /* 1 .. LM_YIELD_BATCH_MAX */
    lm_wval vals[LM_YIELD_BATCH_MAX]; /* INLINE or STORE; never a REF/ACTOR/error */
} lm_yield_msg;
#define LM_YIELD_INDEX_MAX ((1ull << 40) - 1)

typedef struct lm_fetch_msg {
    lm_oid oid;
    int32_t tag;
    uint64_t size;
    uint64_t offset; /* bytes [offset, offset + size) of the object: 0 and
                        the whole size, but for a chunk of a device object */
} lm_fetch_msg;

typedef struct lm_value_msg {
    lm_oid oid;
    lm_wval val;
} lm_value_msg;

typedef struct lm_small_msg { /* every other type */
    lm_oid oid;
    int32_t tag;
    uint64_t count;      /* ADD_REF / DEC_REF: reference weight */
    const char *text;
    uint32_t text_len;
} lm_small_msg;

/* Control messages of actors, placement groups and resources: one layout,
 * an operation code and generic fields whose meaning each op defines
 * (src/gcs/gcs.h documents them). */
#define LM_CTL_NV 6
#define LM_CTL_NS 3
typedef struct lm_ctl_msg {
    uint8_t op;
    int32_t tag;
    lm_oid a, b;
    int64_t v[LM_CTL_NV];
    const char *s[LM_CTL_NS]; /* not NUL terminated: use slen */
    uint32_t slen[LM_CTL_NS];
    const void *blob;         /* 8-byte aligned in the message */
    uint64_t blob_len;
} lm_ctl_msg;

/* An ACTOR value (a handle passed as an argument) travels as its 16-byte id. */
#define LM_ACTOR_VALUE_SIZE 16

/* A REF value travels as 24 bytes: the object id (hi, lo) and the weight of
 * the owner's count it carries (borrow.c). */
#define LM_REF_VALUE_SIZE 24
/* A DEVICE value is its descriptor (device/device.h, LM_DEVDESC_SIZE). */
#define LM_DEVICE_VALUE_SIZE 40

/* Encoders append a complete message (header included) to w. */
void lm_msg_encode_task(lm_wbuf *w, const lm_task_msg *m);
void lm_msg_encode_done(lm_wbuf *w, const lm_done_msg *m);
void lm_msg_encode_fetch(lm_wbuf *w, const lm_fetch_msg *m);
void lm_msg_encode_small(lm_wbuf *w, lm_msg_type type, const lm_small_msg *m);
void lm_msg_encode_value(lm_wbuf *w, const lm_value_msg *m);
void lm_msg_encode_ctl(lm_wbuf *w, const lm_ctl_msg *m);
void lm_msg_encode_yield(lm_wbuf *w, const lm_yield_msg *m);
/* A YIELD built item by item (the producer's batch): begin into an empty
 * buffer, add values, end with their count. */
void lm_msg_yield_begin(lm_wbuf *w, lm_oid task, uint32_t attempt, int32_t executor, uint64_t first);
void lm_msg_yield_add(lm_wbuf *w, const lm_wval *v);
void lm_msg_yield_end(lm_wbuf *w, uint32_t n);

/* Check the header; return the type, or LUMEN_ERR_PROTOCOL (negative). */
int lm_msg_peek_type(const void *buf, size_t len);
lumen_status lm_msg_decode_task(const void *buf, size_t len, lm_task_msg *m);
lumen_status lm_msg_decode_done(const void *buf, size_t len, lm_done_msg *m);
lumen_status lm_msg_decode_fetch(const void *buf, size_t len, lm_fetch_msg *m);
lumen_status lm_msg_decode_value(const void *buf, size_t len, lm_value_msg *m);
lumen_status lm_msg_decode_ctl(const void *buf, size_t len, lm_ctl_msg *m);
lumen_status lm_msg_decode_yield(const void *buf, size_t len, lm_yield_msg *m);
lumen_status lm_msg_decode_small(const void *buf, size_t len, lm_msg_type type, lm_small_msg *m);

#endif
