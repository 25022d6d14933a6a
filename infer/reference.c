/* Naive references of the kernels: plain loops, double accumulators, libm's erf and exp. The
 * tests hold the fast kernels (sgemm, vector maths, blocked/streaming attention) against them.
 * Never used on the inference path. */
#include <math.h>
#include <stdlib.h>

#include "infer_internal.h"

void linear_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                        int N, int C, int OC)
{
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++)
                s += (double)inp[(size_t)i * C + c] * weight[(size_t)o * C + c];
            out[(size_t)i * OC + o] = (float)s;
        }
}

void layernorm_forward_ref(float *out, const float *inp, const float *w, const float *b, int N,
                           int C, float eps)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++) mean += x[c];
        mean /= C;
        for (int c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean);
        var /= C;
        double rstd = 1.0 / sqrt(var + eps);
        for (int c = 0; c < C; c++)
            out[(size_t)i * C + c] = (float)((x[c] - mean) * rstd * w[c] + b[c]);
    }
}

void gelu_forward_ref(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* 0.5 x (1 + erf(x/sqrt2)) written as 0.5 x erfc(-x/sqrt2): the same function, without
         * the cancellation of 1 + erf in the negative tail */
        double x = inp[i];
        out[i] = (float)(0.5 * x * erfc(-x / sqrt(2.0)));
    }
}

void relu_forward_ref(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0.0f;
}

void softmax_forward_ref(float *out, const float *inp, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        double m = -INFINITY, s = 0;
        for (int c = 0; c < C; c++) m = x[c] > m ? x[c] : m;
        for (int c = 0; c < C; c++) s += exp(x[c] - m);
        for (int c = 0; c < C; c++) out[(size_t)i * C + c] = (float)(exp(x[c] - m) / s);
    }
}

/* q [Nq, D], k and v [Nk, D], out [Nq, D], all packed (ld D). */
void attention_forward_ref(float *out, const float *q, const float *k, const float *v,
                           const uint8_t *kmask, int Nq, int Nk, int D, int H)
{
    int hd = D / H;
    double scale = 1.0 / sqrt((double)hd);
    double *p = malloc((size_t)(Nk > 0 ? Nk : 1) * sizeof *p);
    if (!p) { /* tests only: make the failure visible */
        for (size_t i = 0; i < (size_t)Nq * D; i++) out[i] = NAN;
        return;
    }
    for (int h = 0; h < H; h++)
        for (int i = 0; i < Nq; i++) {
            double m = -INFINITY, s = 0;
            for (int j = 0; j < Nk; j++) {
                double dot = 0;
                for (int d = 0; d < hd; d++)
                    dot += (double)q[(size_t)i * D + h * hd + d] * k[(size_t)j * D + h * hd + d];
                p[j] = (kmask && !kmask[j]) ? -INFINITY : dot * scale;
                if (p[j] > m) m = p[j];
            }
            for (int j = 0; j < Nk; j++) {
                p[j] = p[j] == -INFINITY ? 0.0 : exp(p[j] - m);
                s += p[j];
            }
            for (int d = 0; d < hd; d++) {
                double o = 0;
                for (int j = 0; j < Nk; j++) o += p[j] * v[(size_t)j * D + h * hd + d];
                out[(size_t)i * D + h * hd + d] = s > 0 ? (float)(o / s) : NAN;
            }
        }
    free(p);
}
