/* LayerNorm over the last dimension (biased variance, as torch.nn.LayerNorm). Two passes per
 * row (mean, then the centred sum of squares: no cancellation), each over 16 independent lanes
 * combined in a fixed order, so the loops vectorise and every instruction set gives the same
 * bits. (layernorm_backward of the training issue goes here; it will want the per-row mean and
 * rstd, which this pass can store.) */
#include <math.h>
#include <string.h>

#include "infer_internal.h"

#define LANES 16

MIST_VEC_CLONES
static void ln_row(float *x, const float *w, const float *b, int C, float eps)
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
    float rstd = 1.0f / sqrtf(ss / (float)C + eps);
    for (j = 0; j < C; j++) x[j] = (x[j] - mean) * rstd * w[j] + b[j];
}

/* out[N, C] = (inp - mean) / sqrt(var + eps) * w + b per row; out may equal inp */
void layernorm_forward(float *out, const float *inp, const float *w, const float *b, int N,
                       int C, float eps)
{
    /* in place on out (one pointer: see activations.c) */
    if (out != inp) memcpy(out, inp, (size_t)N * (size_t)C * sizeof *out);
    for (int i = 0; i < N; i++) ln_row(out + (size_t)i * C, w, b, C, eps);
}
