/* Inference latency and memory of the official-size model (D 256, 16 heads, ff 1024, 32
 * inducing points, 10 seeds, 2 feature SABs, 2 ISABs, 1 decoder SAB, rho 3 x 256, packed 64:
 * 5.52 M parameters) with random weights.
 *
 * usage: bench_infer [--weights FILE] [--threads T] [--reps R] [--dx D] [--qr] [--row-chunk C]
 *          [N ...]
 *          latency of one estimate at each N (default 100 500 2000), best of R (default 7)
 *        bench_infer --memory N [--threads T] [--dx D]
 *          one estimate at N rows, then the peak resident memory (getrusage ru_maxrss)
 *        bench_infer --batch B N  throughput of B datasets of N rows in one batch call vs one
 *          by one
 * Single thread by default (OpenBLAS set to 1 thread). --row-chunk: mist_model_set_row_chunk
 * (default: the model's own). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "mist_infer.h"
#include "util.h"

/* internal (infer/infer_internal.h): block sizes, for tuning with MIST_BLOCKS=row,q,kv */
void infer_set_blocks(mist_model *m, int row_block, int q_block, int kv_block);

static uint64_t rs = 0x243F6A8885A308D3ULL;
static double gauss(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        rs ^= rs >> 12, rs ^= rs << 25, rs ^= rs >> 27;
        u[i] = ((double)((rs * 0x2545F4914F6CDD1DULL) >> 11) + 0.5) * 0x1.0p-53;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* n rows of correlated Gaussian [x, y], rho 0.6 */
static double *make_data(size_t n, int d)
{
    double *x = malloc(n * 2 * (size_t)d * sizeof *x);
    if (!x) return NULL;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double a = gauss();
            x[i * 2 * d + j] = a;
            x[i * 2 * d + d + j] = 0.6 * a + 0.8 * gauss();
        }
    return x;
}

static double peak_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

int main(int argc, char **argv)
{
    const char *weights = NULL;
    int threads = 1, reps = 7, d = 5, qr = 0;
    long row_chunk = -1;
    size_t memory_n = 0, batch_b = 0, ns[16];
    int nn = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--weights") && i + 1 < argc) weights = argv[++i];
        else if (!strcmp(a, "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(a, "--dx") && i + 1 < argc) d = atoi(argv[++i]);
        else if (!strcmp(a, "--qr")) qr = 1;
        else if (!strcmp(a, "--row-chunk") && i + 1 < argc) row_chunk = atol(argv[++i]);
        else if (!strcmp(a, "--memory") && i + 1 < argc) memory_n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--batch") && i + 1 < argc) batch_b = strtoull(argv[++i], NULL, 10);
        else if (a[0] != '-' && nn < 16) ns[nn++] = strtoull(a, NULL, 10);
        else {
            fprintf(stderr, "usage: bench_infer [--weights F] [--threads T] [--reps R] [--dx D] "
                            "[--qr] [--row-chunk C] [--memory N | --batch B N | N ...]\n");
            return 2;
        }
    }
    if (nn == 0) ns[0] = 100, ns[1] = 500, ns[2] = 2000, nn = 3;
    if (reps < 1) reps = 1;
    mist_err err = {0};
    if (mist_infer_set_threads(threads, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    mist_model *m;
    if (weights) {
        m = mist_model_open(weights, &err);
    } else {
        mist_arch a;
        mist_arch_official(&a, qr);
        m = mist_model_create_random(&a, 1, &err);
    }
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (row_chunk >= 0) mist_model_set_row_chunk(m, (size_t)row_chunk);
    const char *blocks = getenv("MIST_BLOCKS");
    if (blocks) {
        int rb = 0, qb = 0, kb = 0;
        if (sscanf(blocks, "%d,%d,%d", &rb, &qb, &kb) == 3) infer_set_blocks(m, rb, qb, kb);
        printf("blocks: row %d, q %d, kv %d\n", rb, qb, kb);
    }
    const mist_arch *a = mist_model_arch(m);
    double taus[3] = {0.05, 0.5, 0.95}, out[3];
    size_t ntaus = a->quantile_conditioned ? 3 : 0;
    printf("model: %zu parameters, D %d, H %d, ff %d, %s; row chunks of %zu (0: none); OpenBLAS "
           "%s kernels, %d thread(s)\n",
           mist_model_param_count(m), a->D, a->H, a->ff,
           a->quantile_conditioned ? "quantile-conditioned (3 taus)" : "point",
           mist_model_row_chunk(m), mist_infer_blas_core(), threads);
    if (memory_n) {
        double *x = make_data(memory_n, d);
        double before = peak_mb(), t0 = mist_clock_s();
        if (!x || mist_model_estimate(m, x, memory_n, d, d, taus, ntaus, out, &err)) {
            fprintf(stderr, "%s\n", x ? err.msg : "out of memory");
            return 1;
        }
        double t = mist_clock_s() - t0;
        printf("n %zu, dx = dy = %d: estimate %.6f, %.2f s; peak RSS %.1f MB (%.1f MB before the "
               "estimate, the input itself %.1f MB)\n",
               memory_n, d, out[0], t, peak_mb(), before,
               (double)memory_n * 2 * d * 8 / 1048576.0);
        free(x);
        mist_model_free(m);
        return 0;
    }
    if (batch_b) {
        size_t n = ns[0];
        double *x = make_data(n * batch_b, d);
        mist_data_view *v = malloc(batch_b * sizeof *v);
        double *o = malloc(batch_b * 3 * sizeof *o);
        if (!x || !v || !o) return 1;
        for (size_t b = 0; b < batch_b; b++) v[b] = (mist_data_view){x + b * n * 2 * d, n, d, d};
        double best_b = 1e30, best_s = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = mist_clock_s();
            if (mist_model_estimate_batch(m, v, batch_b, taus, ntaus, o, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            double t1 = mist_clock_s();
            for (size_t b = 0; b < batch_b; b++)
                if (mist_model_estimate(m, v[b].data, n, d, d, taus, ntaus, o, &err)) return 1;
            double t2 = mist_clock_s();
            if (t1 - t0 < best_b) best_b = t1 - t0;
            if (t2 - t1 < best_s) best_s = t2 - t1;
        }
        printf("batch of %zu x n %zu: %.2f ms per dataset batched, %.2f ms one by one\n", batch_b,
               n, 1e3 * best_b / batch_b, 1e3 * best_s / batch_b);
        free(x), free(v), free(o);
        mist_model_free(m);
        return 0;
    }
    printf("%8s %10s %10s %10s\n", "n", "best ms", "median ms", "estimate");
    for (int k = 0; k < nn; k++) {
        size_t n = ns[k];
        double *x = make_data(n, d);
        double *t = malloc((size_t)reps * sizeof *t);
        if (!x || !t) return 1;
        /* one warm-up run allocates the scratch memory */
        if (mist_model_estimate(m, x, n, d, d, taus, ntaus, out, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        for (int r = 0; r < reps; r++) {
            double t0 = mist_clock_s();
            mist_model_estimate(m, x, n, d, d, taus, ntaus, out, &err);
            t[r] = mist_clock_s() - t0;
        }
        for (int i = 1; i < reps; i++)
            for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
                double s = t[j];
                t[j] = t[j - 1];
                t[j - 1] = s;
            }
        printf("%8zu %10.3f %10.3f %10.5f\n", n, 1e3 * t[0], 1e3 * t[reps / 2],
               ntaus ? out[1] : out[0]);
        free(x);
        free(t);
    }
    mist_model_free(m);
    return 0;
}
