/* Training throughput: forward + backward (mist_train_grad) per batch for model presets, with
 * datasets/s, achieved GFLOP/s (matrix-product flops: 2 M N K per product, forward and
 * backward) and the time split by block.
 * usage: bench_train [PRESET[,key=value...] ...] [--batch B] [--batches K] [--threads T] [--workers W]
 *                    [--seed S]
 * --workers W: mist_train_ws_set_workers (the batch split over W threads inside
 * mist_train_grad); with --threads 1 the way to use several cores, since OpenBLAS threading of
 * the many small per-head products costs more than it gains. Per-block times are then summed
 * over the workers (CPU seconds).
 * Batches: B datasets with n ~ U(10, 500) and dx, dy ~ U(1, 32) (capped at the preset's
 * maxima), correlated Gaussian rows; the data is generated before the clock starts. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mist_infer.h"
#include "mist_train.h"
#include "mist_train_grad.h"
#include "train_graph.h"
#include "util.h"

static uint64_t rs = 0x9E3779B97F4A7C15ULL;
static uint64_t rnext(void)
{
    rs ^= rs >> 12;
    rs ^= rs << 25;
    rs ^= rs >> 27;
    return rs * 0x2545F4914F6CDD1DULL;
}
static double runif(void)
{
    return (double)(rnext() >> 11) * 0x1.0p-53;
}
static double rnorm(void)
{
    double u = runif() + 1e-300, v = runif();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}
static int rint_(int lo, int hi)
{
    return lo + (int)(rnext() % (uint64_t)(hi - lo + 1));
}
static int bench(const char *preset, size_t B, int K, int W, uint64_t seed)
{
    mist_arch a;
    mist_err err;
    /* PRESET[,key=value...] as `mist train --arch` */
    char spec[256], *save = NULL;
    snprintf(spec, sizeof spec, "%s", preset);
    int bad = 0;
    for (char *tok = strtok_r(spec, ",", &save); tok && !bad; tok = strtok_r(NULL, ",", &save))
        bad = strchr(tok, '=') ? mist_arch_override(&a, tok, &err)
                               : mist_arch_preset(tok, &a, &err);
    if (bad) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    mist_model *m = mist_model_create_random(&a, seed, &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t np = mist_model_param_count(m);
    float *grads = calloc(np, sizeof *grads);
    mist_train_ws *ws = mist_train_ws_alloc(m, &err);
    if (!ws || !grads || mist_train_ws_set_workers(ws, W, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int nb = K + 1; /* one warm-up batch */
    mist_train_example *ex = calloc((size_t)nb * B, sizeof *ex);
    double **data = calloc((size_t)nb * B, sizeof *data);
    size_t rows_timed = 0;
    double t0 = 0;
    for (int b = 0; b < nb; b++)
        for (size_t s = 0; s < B; s++) {
            mist_train_example *e = &ex[(size_t)b * B + s];
            e->n = (size_t)rint_(10, 500);
            e->dx = rint_(1, a.max_dx < 32 ? a.max_dx : 32);
            e->dy = rint_(1, a.max_dy < 32 ? a.max_dy : 32);
            size_t c = (size_t)(e->dx + e->dy);
            double *d = malloc(e->n * c * sizeof *d);
            for (size_t i = 0; i < e->n; i++) {
                double z = rnorm();
                for (size_t j = 0; j < c; j++) d[i * c + j] = 0.6 * z + 0.8 * rnorm();
            }
            data[(size_t)b * B + s] = d;
            e->data = d;
            e->mi = 0.5;
            e->tau = 0.5;
            if (b) rows_timed += e->n;
        }
    double loss;
    for (int b = 0; b < nb; b++) {
        if (b == 1) memset(mist_train_ws_timing(ws), 0, sizeof(mist_train_timing));
        if (mist_train_grad(m, ws, ex + (size_t)b * B, B, MIST_LOSS_MSE, grads, &loss, NULL,
                            &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        if (b == 0) t0 = mist_clock_s();
    }
    double el = mist_clock_s() - t0;
    const mist_train_timing *T = mist_train_ws_timing(ws);
    printf("preset %s: D %d, H %d, ff %d, inds %d, seeds %d, fsab %d, isab %d, dec %d, rho %dx%d, "
           "%zu parameters\n",
           preset, a.D, a.H, a.ff, a.n_inds, a.n_seeds, a.n_feature_sab, a.n_isab, a.n_dec,
           a.n_rho, a.rho_hidden, np);
    printf("  batch %zu, %d batches, mean n %.0f, %d worker(s) x %d OpenBLAS thread(s) (%s)\n", B,
           K, (double)rows_timed / ((double)K * B), W, mist_infer_get_threads(),
           mist_infer_blas_core());
    printf("  forward+backward %.1f ms/batch, %.1f datasets/s, %.2f GFLOP/batch, %.1f GFLOP/s\n",
           1e3 * el / K, (double)K * B / el, T->flops / K / 1e9, T->flops / el / 1e9);
    double tf = 0, tb = 0;
    for (int i = 0; i < MIST_TB_COUNT; i++) tf += T->fwd[i], tb += T->bwd[i];
    printf("  activation workspace %.0f MB\n", T->ws_bytes / 1e6);
    printf("  %-8s %10s %10s %7s\n", "block", "fwd ms", "bwd ms", "share");
    for (int i = 0; i < MIST_TB_COUNT; i++)
        printf("  %-8s %10.2f %10.2f %6.1f%%\n", mist_train_block_name(i), 1e3 * T->fwd[i] / K,
               1e3 * T->bwd[i] / K, 100 * (T->fwd[i] + T->bwd[i]) / (tf + tb));
    printf("  %-8s %10.2f %10.2f\n", "total", 1e3 * tf / K, 1e3 * tb / K);
    for (size_t i = 0; i < (size_t)nb * B; i++) free(data[i]);
    free(data), free(ex), free(grads);
    mist_train_ws_free(ws);
    mist_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    const char *presets[8];
    int np = 0, K = 5, threads = 0, W = 1;
    size_t B = 32;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) K = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc) W = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && np < 8) presets[np++] = argv[i];
        else {
            fprintf(stderr, "usage: bench_train [PRESET ...] [--batch B] [--batches K] "
                            "[--threads T] [--workers W] [--seed S]\n");
            return 2;
        }
    }
    if (!np) presets[np++] = "small", presets[np++] = "medium";
    if (B < 1 || K < 1 || W < 1 || W > 16) return 2;
    mist_err err;
    if (threads > 0 && mist_infer_set_threads(threads, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    if (!strcmp(mist_infer_blas_core(), "Prescott"))
        fprintf(stderr, "bench_train: OpenBLAS uses its generic Prescott kernels (3-4x slower); "
                        "set OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2)\n");
    for (int i = 0; i < np; i++)
        if (bench(presets[i], B, K, W, seed)) return 1;
    return 0;
}
