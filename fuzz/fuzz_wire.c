/*
 * fuzz_wire.c - libFuzzer driver for the wire decoders: any bytes in, a
 * clean accept or LUMEN_ERR_PROTOCOL out, never a crash or an out-of-bounds
 * read. Build: cmake -DLUMEN_FUZZ=ON -DCMAKE_C_COMPILER=clang; run
 * ./fuzz/fuzz_wire -max_total_time=60.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copy into an exact-size, 8-aligned heap buffer, as MPI_Mrecv gives us */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    static lm_task_msg tm;
    static lm_done_msg dm;
    lm_fetch_msg fm;
    lm_small_msg sm;
    int t = lm_msg_peek_type(buf, size);
    if (t == LM_MSG_TASK && lm_msg_decode_task(buf, size, &tm) == LUMEN_OK) {
        for (int i = 0; i < tm.nargs; i++) /* touch every decoded payload */
            if (tm.args[i].kind == LM_VAL_INLINE && tm.args[i].size)
                (void)((volatile const uint8_t *)tm.args[i].data)[tm.args[i].size - 1];
    } else if (t == LM_MSG_DONE && lm_msg_decode_done(buf, size, &dm) == LUMEN_OK) {
        for (int i = 0; i < dm.nret; i++)
            if (dm.rets[i].kind != LM_VAL_STORE && dm.rets[i].size)
                (void)((volatile const uint8_t *)dm.rets[i].data)[dm.rets[i].size - 1];
    } else if (t == LM_MSG_VALUE) {
        lm_value_msg vm;
        if (lm_msg_decode_value(buf, size, &vm) == LUMEN_OK && vm.val.kind != LM_VAL_STORE && vm.val.size)
            (void)((volatile const uint8_t *)vm.val.data)[vm.val.size - 1];
    } else if (t == LM_MSG_CTL) {
        lm_ctl_msg cm;
        if (lm_msg_decode_ctl(buf, size, &cm) == LUMEN_OK && cm.blob_len)
            (void)((volatile const uint8_t *)cm.blob)[cm.blob_len - 1];
    } else if (t == LM_MSG_YIELD) {
        static lm_yield_msg ym;
        if (lm_msg_decode_yield(buf, size, &ym) == LUMEN_OK)
            for (uint32_t i = 0; i < ym.n; i++)
                if (ym.vals[i].kind == LM_VAL_INLINE && ym.vals[i].size)
                    (void)((volatile const uint8_t *)ym.vals[i].data)[ym.vals[i].size - 1];
    } else if (t == LM_MSG_FETCH) {
        (void)lm_msg_decode_fetch(buf, size, &fm);
    } else if (t > 0) {
        (void)lm_msg_decode_small(buf, size, (lm_msg_type)t, &sm);
    }
    free(buf);
    return 0;
}
