/*
 * reduce.c - element-wise reductions of the collective operations (the local
 * combine of members on one rank) and the MPI names of dtypes and ops.
 */
#include "collective/coll.h"

size_t lumen_dtype_size(lumen_dtype dtype) { return lm_coll_esize(dtype); }

size_t lm_coll_esize(int64_t dtype)
{
    switch (dtype) {
    case LUMEN_DTYPE_INT32: return 4;
    case LUMEN_DTYPE_INT64: return 8;
    case LUMEN_DTYPE_FLOAT32: return 4;
    case LUMEN_DTYPE_FLOAT64: return 8;
    case LUMEN_DTYPE_UINT8: return 1;
    default: return 0;
    }
}

#define LM_RED_LOOP(T)                                                              \
    do {                                                                            \
        T *a = acc;                                                                 \
        const T *b = in;                                                            \
        switch (op) {                                                               \
        case LUMEN_REDUCE_SUM: for (size_t i = 0; i < n; i++) a[i] += b[i]; break;  \
        case LUMEN_REDUCE_PROD: for (size_t i = 0; i < n; i++) a[i] *= b[i]; break; \
        case LUMEN_REDUCE_MIN:                                                      \
            for (size_t i = 0; i < n; i++) a[i] = b[i] < a[i] ? b[i] : a[i];        \
            break;                                                                  \
        default:                                                                    \
            for (size_t i = 0; i < n; i++) a[i] = b[i] > a[i] ? b[i] : a[i];        \
            break;                                                                  \
        }                                                                           \
    } while (0)

/* Integer sums and products wrap as MPI's do (unsigned arithmetic), instead of
 * signed overflow. */
#define LM_RED_LOOP_INT(T, U)                                                                 \
    do {                                                                                      \
        T *a = acc;                                                                           \
        const T *b = in;                                                                      \
        switch (op) {                                                                         \
        case LUMEN_REDUCE_SUM: for (size_t i = 0; i < n; i++) a[i] = (T)((U)a[i] + (U)b[i]); break; \
        case LUMEN_REDUCE_PROD: for (size_t i = 0; i < n; i++) a[i] = (T)((U)a[i] * (U)b[i]); break; \
        case LUMEN_REDUCE_MIN:                                                                \
            for (size_t i = 0; i < n; i++) a[i] = b[i] < a[i] ? b[i] : a[i];                  \
            break;                                                                            \
        default:                                                                              \
            for (size_t i = 0; i < n; i++) a[i] = b[i] > a[i] ? b[i] : a[i];                  \
            break;                                                                            \
        }                                                                                     \
    } while (0)

void lm_coll_reduce(void *acc, const void *in, size_t n, int dtype, int op)
{
    switch (dtype) {
    case LUMEN_DTYPE_INT32: LM_RED_LOOP_INT(int32_t, uint32_t); break;
    case LUMEN_DTYPE_INT64: LM_RED_LOOP_INT(int64_t, uint64_t); break;
    case LUMEN_DTYPE_FLOAT32: LM_RED_LOOP(float); break;
    case LUMEN_DTYPE_FLOAT64: LM_RED_LOOP(double); break;
    case LUMEN_DTYPE_UINT8: LM_RED_LOOP_INT(uint8_t, unsigned); break;
    default: break;
    }
}

MPI_Datatype lm_coll_mpi_type(int dtype)
{
    switch (dtype) {
    case LUMEN_DTYPE_INT32: return MPI_INT32_T;
    case LUMEN_DTYPE_INT64: return MPI_INT64_T;
    case LUMEN_DTYPE_FLOAT32: return MPI_FLOAT;
    case LUMEN_DTYPE_FLOAT64: return MPI_DOUBLE;
    default: return MPI_UINT8_T;
    }
}

MPI_Op lm_coll_mpi_op(int op)
{
    switch (op) {
    case LUMEN_REDUCE_SUM: return MPI_SUM;
    case LUMEN_REDUCE_PROD: return MPI_PROD;
    case LUMEN_REDUCE_MIN: return MPI_MIN;
    default: return MPI_MAX;
    }
}

const char *lm_coll_dtype_name(int64_t dtype)
{
    static const char *n[] = {"int32", "int64", "float32", "float64", "uint8"};
    return dtype >= 0 && dtype < 5 ? n[dtype] : "unknown dtype";
}

const char *lm_coll_op_name(int64_t op)
{
    static const char *n[] = {"sum", "prod", "min", "max"};
    return op >= 0 && op < 4 ? n[op] : "unknown op";
}

const char *lm_coll_kind_name(int64_t kind)
{
    static const char *n[] = {"?", "allreduce", "broadcast", "allgather", "reducescatter", "barrier"};
    if (kind == LM_COLL_REQ_SEND || kind == LM_COLL_REQ_RECV)
        return kind == LM_COLL_REQ_SEND ? "send" : "recv";
    kind = LM_COLL_KIND(kind);
    return kind >= 1 && kind <= 5 ? n[kind] : "?";
}
