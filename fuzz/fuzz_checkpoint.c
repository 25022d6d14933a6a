/* libFuzzer target: the training checkpoint reader (mist_checkpoint_read_mem) on arbitrary
 * bytes. Must never crash, leak or read out of bounds; a checkpoint that loads must be
 * self-consistent (three blocks of the arch's parameter count).
 * Build and run: scripts/fuzz.sh (MIST_FUZZ=ON, clang). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mist_train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mist_err err;
    mist_checkpoint ck;
    if (mist_checkpoint_read_mem(data, size, "fuzz.msgpack", &ck, &err) != 0) return 0;
    if (ck.nparams != mist_arch_param_count(&ck.cfg.arch) || !ck.params || !ck.m || !ck.v) abort();
    volatile float sink = 0;
    if (ck.nparams) sink += ck.params[ck.nparams - 1] + ck.m[ck.nparams - 1] + ck.v[ck.nparams - 1];
    (void)sink;
    mist_checkpoint_free(&ck);
    return 0;
}
