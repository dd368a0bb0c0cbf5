/*
 * output_prefix.c - what non-driver ranks print reaches the terminal with
 * "(rank R) " in front, as Ray marks worker output; the driver's lines are
 * left alone. Every rank prints a line (without a final newline on the last
 * rank when it is not rank 1, which must still come out whole), and a task pinned to rank 1 (by a
 * resource only rank 1 has) prints from its executor thread; registered with
 * a pass expression that needs both of rank 1's prefixed lines, in either
 * order, and a fail expression on any "(rank 0)".
 */
#include "check.h"

#include <stdlib.h>

LUMEN_REMOTE(op_pinned)
{
    printf("pinned task output on rank %d\n", lumen_rank());
    return lumen_return_i64(ctx, 0, lumen_rank());
}

LUMEN_REMOTE(op_print)
{
    printf("task output on rank %d\n", lumen_rank());
    return lumen_return_i64(ctx, 0, lumen_rank());
}

int main(int argc, char **argv)
{
    int wr;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &(int){0});
    MPI_Comm_rank(MPI_COMM_WORLD, &wr);
    if (wr == 1)
        setenv("LUMEN_RESOURCES", "prefix_rank1=1", 1);
    CHECK_OK(lumen_init(&argc, &argv, NULL));
    int r = lumen_rank(), n = lumen_world_size();
    if (r == n - 1 && r > 1) /* not rank 1: its pinned task's line would join this one */
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
        lumen_task_options o = {.field_mask = LUMEN_TASK_RESOURCES | LUMEN_TASK_NUM_CPUS,
                                .resources = "prefix_rank1=1", .num_cpus = 0};
        lumen_ref p;
        CHECK_OK(lumen_remote("op_pinned", NULL, 0, &o, &p));
        int64_t where;
        CHECK_OK(lumen_get_i64(p, T_TIMEOUT, &where));
        CHECKF(where == 1, "the pinned task ran on rank %lld", (long long)where);
        CHECK_OK(lumen_ref_release(p));
    }
    CHECK_OK(lumen_finalize());
    MPI_Finalize();
    return 0;
}
