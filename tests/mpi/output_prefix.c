/*
 * output_prefix.c - what non-driver ranks print reaches the terminal with
 * "(rank R) " in front, as Ray marks worker output; the driver's lines are
 * left alone. Every rank prints a line (without a final newline on the last
 * rank, which must still come out whole); registered with a pass
 * expression on rank 1's prefixed line and a fail expression on any
 * "(rank 0)".
 */
#include "check.h"

LUMEN_REMOTE(op_print)
{
    printf("task output on rank %d\n", lumen_rank());
    return lumen_return_i64(ctx, 0, lumen_rank());
}

int main(int argc, char **argv)
{
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    int r = lumen_rank(), n = lumen_world_size();
    if (r == n - 1 && r > 0)
        printf("hello from rank %d (no newline)", r);
    else
        printf("hello from rank %d\n", r);
    if (r == 0) {
        lumen_ref refs[16];
        for (int i = 0; i < 4 * n && i < 16; i++)
            CHECK_OK(LUMEN_CALL(&refs[i], "op_print", LUMEN_ARG(i)));
        for (int i = 0; i < 4 * n && i < 16; i++) {
            int64_t v;
            CHECK_OK(lumen_get_i64(refs[i], T_TIMEOUT, &v));
            CHECK_OK(lumen_ref_release(refs[i]));
        }
    }
    CHECK_OK(lumen_finalize());
    return 0;
}
