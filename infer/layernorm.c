/* LayerNorm over the last dimension (biased variance, as torch.nn.LayerNorm). Two passes per
 * row (mean, then the centred sum of squares: no cancellation), each over 16 independent lanes
 * combined in a fixed order, so the loops vectorise and every instruction set gives the same
 * bits. Training: layernorm_forward_train also stores the per-row mean and rstd that
 * layernorm_backward uses. */
#include <math.h>
#include <string.h>

#include "infer_internal.h"

#define LANES 16

/* Row statistics with LANES partial sums (vectorisable, a fixed summation order). */
MIST_VEC_CLONES
static void ln_stats(const float *x, int C, float eps, float *mean_out, float *rstd_out)
{
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= C; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += x[j + k];
    for (int k = 0; j < C; j++, k++) acc[k] += x[j];
    float s = 0.0f;
    for (int k = 0; k < LANES; k++) s += acc[k];
    float mean = s / (float)C;
    float acc2[LANES] = {0};
    j = 0;
    for (; j + LANES <= C; j += LANES)
        for (int k = 0; k < LANES; k++) {
            float d = x[j + k] - mean;
            acc2[k] += d * d;
        }
    for (int k = 0; j < C; j++, k++) {
        float d = x[j] - mean;
        acc2[k] += d * d;
    }
    float ss = 0.0f;
    for (int k = 0; k < LANES; k++) ss += acc2[k];
    *mean_out = mean;
    *rstd_out = 1.0f / sqrtf(ss / (float)C + eps);
}

MIST_VEC_CLONES
static void ln_row(float *o, const float *x, const float *w, const float *b, int C, float eps,
                   float *mean_out, float *rstd_out)
{
    float mean, rstd;
    ln_stats(x, C, eps, &mean, &rstd);
    for (int j = 0; j < C; j++) o[j] = (x[j] - mean) * rstd * w[j] + b[j];
    if (mean_out) *mean_out = mean;
    if (rstd_out) *rstd_out = rstd;
}

/* out[N, C] = (inp - mean) / sqrt(var + eps) * w + b per row; out may equal inp */
void layernorm_forward(float *out, const float *inp, const float *w, const float *b, int N,
                       int C, float eps)
{
    /* in place on out (one pointer: see activations.c) */
    if (out != inp) memcpy(out, inp, (size_t)N * (size_t)C * sizeof *out);
    for (int i = 0; i < N; i++)
        ln_row(out + (size_t)i * C, out + (size_t)i * C, w, b, C, eps, NULL, NULL);
}

/* ---- training ------------------------------------------------------------------------------
 * The forward pass that keeps what the backward pass needs: per-row mean and rstd (the same
 * arithmetic as layernorm_forward, so the outputs are bit-identical). out may equal inp. */
void layernorm_forward_train(float *out, float *mean, float *rstd, const float *inp,
                             const float *w, const float *b, int N, int C, float eps)
{
    for (int i = 0; i < N; i++)
        ln_row(out + (size_t)i * C, inp + (size_t)i * C, w, b, C, eps, &mean[i], &rstd[i]);
}

/* y = xhat * w + b, xhat = (x - mean) rstd. Given dy (ACCUMULATING into dinp, dweight, dbias):
 *   dbias += dy, dweight += dy xhat, dxhat = dy w,
 *   dinp += rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)). */
MIST_VEC_CLONES
static void ln_bwd_row(float *restrict dx, float *restrict dw, float *restrict db,
                       const float *restrict dy, const float *restrict x,
                       const float *restrict w, float mu, float rs, int C)
{
    float a1[LANES] = {0}, a2[LANES] = {0};
    int j = 0;
    for (; j + LANES <= C; j += LANES)
        for (int k = 0; k < LANES; k++) {
            float xh = (x[j + k] - mu) * rs, g = dy[j + k] * w[j + k];
            a1[k] += g;
            a2[k] += g * xh;
        }
    for (int k = 0; j < C; j++, k++) {
        float xh = (x[j] - mu) * rs, g = dy[j] * w[j];
        a1[k] += g;
        a2[k] += g * xh;
    }
    float sum_d = 0.0f, sum_dx = 0.0f;
    for (int k = 0; k < LANES; k++) sum_d += a1[k], sum_dx += a2[k];
    sum_d /= (float)C;
    sum_dx /= (float)C;
    for (j = 0; j < C; j++) {
        float xh = (x[j] - mu) * rs;
        db[j] += dy[j];
        dw[j] += dy[j] * xh;
        dx[j] += rs * (dy[j] * w[j] - sum_d - xh * sum_dx);
    }
}

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int N, int C)
{
    /* the vector loop takes every output; the general loop serves calls that skip one */
    for (int i = 0; i < N; i++) {
        const float *dy = dout + (size_t)i * C, *x = inp + (size_t)i * C;
        if (dinp && dweight && dbias) {
            ln_bwd_row(dinp + (size_t)i * C, dweight, dbias, dy, x, weight, mean[i], rstd[i], C);
            continue;
        }
        float mu = mean[i], rs = rstd[i];
        float sum_d = 0.0f, sum_dx = 0.0f;
        for (int j = 0; j < C; j++) {
            float xh = (x[j] - mu) * rs, g = dy[j] * weight[j];
            sum_d += g;
            sum_dx += g * xh;
        }
        sum_d /= (float)C;
        sum_dx /= (float)C;
        for (int j = 0; j < C; j++) {
            float xh = (x[j] - mu) * rs;
            if (dbias) dbias[j] += dy[j];
            if (dweight) dweight[j] += dy[j] * xh;
            if (dinp) dinp[(size_t)i * C + j] += rs * (dy[j] * weight[j] - sum_d - xh * sum_dx);
        }
    }
}
