/* libFuzzer target: the weights loader (mist_model_open_mem) on arbitrary bytes. A file that
 * loads is also run once on a tiny dataset when its network is small, so the graph code meets
 * unusual architectures too. Must never crash, leak or read out of bounds.
 * Build and run: see fuzz/README or the CMake comment (MIST_FUZZ=ON, clang). */
#include <stddef.h>
#include <stdint.h>

#include "mist_infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mist_err err;
    mist_model *m = mist_model_open_mem(data, size, "fuzz.msgpack", &err);
    if (!m) return 0;
    (void)mist_model_meta_json(m);
    const mist_arch *a = mist_model_arch(m);
    if (mist_model_param_count(m) <= 200000 && a->D <= 64 && a->ff <= 256 && a->n_inds <= 64 &&
        a->n_seeds <= 64) {
        static const double x[10] = {0.5, -1.0, 0.25, 2.0, -0.75, 0.0, 1.5, 1.25, -2.0, 0.125};
        static const double taus[2] = {0.25, 0.75};
        double out[2];
        int qc = a->quantile_conditioned;
        (void)mist_model_estimate(m, x, 5, 1, 1, qc ? taus : NULL, qc ? 2 : 0, out, &err);
    }
    mist_model_free(m);
    return 0;
}
