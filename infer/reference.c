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

/* ---- backward references (double accumulators; ACCUMULATE like the fast kernels) ------- */

void linear_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int N, int C, int OC)
{
    for (int i = 0; dinp && i < N; i++)
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int o = 0; o < OC; o++)
                s += (double)dout[(size_t)i * OC + o] * weight[(size_t)o * C + c];
            dinp[(size_t)i * C + c] += (float)s;
        }
    for (int o = 0; dweight && o < OC; o++)
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int i = 0; i < N; i++)
                s += (double)dout[(size_t)i * OC + o] * inp[(size_t)i * C + c];
            dweight[(size_t)o * C + c] += (float)s;
        }
    for (int o = 0; dbias && o < OC; o++) {
        double s = 0;
        for (int i = 0; i < N; i++) s += dout[(size_t)i * OC + o];
        dbias[o] += (float)s;
    }
}

void layernorm_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int N, int C, float eps)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++) mean += x[c];
        mean /= C;
        for (int c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean);
        var /= C;
        double rs = 1.0 / sqrt(var + eps), sd = 0, sdx = 0;
        for (int c = 0; c < C; c++) {
            double xh = (x[c] - mean) * rs, g = (double)dy[c] * weight[c];
            sd += g;
            sdx += g * xh;
        }
        sd /= C;
        sdx /= C;
        for (int c = 0; c < C; c++) {
            double xh = (x[c] - mean) * rs;
            if (dbias) dbias[c] += dy[c];
            if (dweight) dweight[c] += (float)(dy[c] * xh);
            double gx = rs * ((double)dy[c] * weight[c] - sd - xh * sdx);
            if (dinp) dinp[(size_t)i * C + c] += (float)gx;
        }
    }
}

void gelu_backward_ref(float *dinp, const float *inp, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double x = inp[i];
        double d = 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) * 0.398942280401432678;
        dinp[i] += (float)(dout[i] * d);
    }
}

/* q [Nq, D], k, v [Nk, D], dout [Nq, D] packed; dq, dk, dv accumulate. */
void attention_backward_ref(float *dq, float *dk, float *dv, const float *dout, const float *q,
                            const float *k, const float *v, const uint8_t *kmask, int Nq, int Nk,
                            int D, int H)
{
    int hd = D / H;
    double scale = 1.0 / sqrt((double)hd);
    double *p = malloc((size_t)(Nk > 0 ? Nk : 1) * 2 * sizeof *p);
    if (!p) return;
    double *dp = p + Nk;
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
            if (m == -INFINITY) continue;
            for (int j = 0; j < Nk; j++) {
                p[j] = p[j] == -INFINITY ? 0.0 : exp(p[j] - m);
                s += p[j];
            }
            double di = 0;
            for (int j = 0; j < Nk; j++) {
                p[j] /= s;
                double g = 0;
                for (int d = 0; d < hd; d++)
                    g += (double)dout[(size_t)i * D + h * hd + d] * v[(size_t)j * D + h * hd + d];
                dp[j] = g;
                di += p[j] * g;
            }
            for (int j = 0; j < Nk; j++) {
                double ds = p[j] * (dp[j] - di) * scale;
                for (int d = 0; d < hd; d++) {
                    size_t qi = (size_t)i * D + h * hd + d, kj = (size_t)j * D + h * hd + d;
                    dv[kj] += (float)(p[j] * dout[qi]);
                    dq[qi] += (float)(ds * k[kj]);
                    dk[kj] += (float)(ds * q[qi]);
                }
            }
        }
    free(p);
}

/* Block-biased attention over S segments of L tokens (attention_bias.c), packed [S*L, D]. The
 * logits of one (segment, head, query) row in double, p[j] = exp(logit - max); returns the
 * maximum (-inf when every logit is). */
static double blockbias_row_ref(double *p, const float *q, const float *k, const float *bias,
                                int s, int i, int h, int L, int B, int D, int H)
{
    int hd = D / H;
    double scale = 1.0 / sqrt((double)hd), m = -INFINITY;
    const float *qi = q + ((size_t)s * L + i) * D + (size_t)h * hd;
    for (int j = 0; j < L; j++) {
        const float *kj = k + ((size_t)s * L + j) * D + (size_t)h * hd;
        double dot = 0;
        for (int d = 0; d < hd; d++) dot += (double)qi[d] * kj[d];
        int cross = (i < B) != (j < B);
        p[j] = dot * scale + (bias ? bias[cross * H + h] : 0.0);
        if (p[j] > m) m = p[j];
    }
    for (int j = 0; j < L; j++) p[j] = m == -INFINITY ? 0.0 : exp(p[j] - m);
    return m;
}

void attention_blockbias_forward_ref(float *out, float *lse, const float *q, const float *k,
                                     const float *v, const float *bias, int S, int L, int B,
                                     int D, int H)
{
    int hd = D / H;
    double *p = malloc((size_t)(L > 0 ? L : 1) * sizeof *p);
    if (!p) { /* tests only: make the failure visible */
        for (size_t i = 0; i < (size_t)S * L * D; i++) out[i] = NAN;
        return;
    }
    for (int s = 0; s < S; s++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < L; i++) {
                double m = blockbias_row_ref(p, q, k, bias, s, i, h, L, B, D, H), sum = 0;
                for (int j = 0; j < L; j++) sum += p[j];
                size_t r = (size_t)s * L + i;
                for (int d = 0; d < hd; d++) {
                    double o = 0;
                    for (int j = 0; j < L; j++)
                        o += p[j] * v[((size_t)s * L + j) * D + (size_t)h * hd + d];
                    out[r * D + (size_t)h * hd + d] = sum > 0 ? (float)(o / sum) : NAN;
                }
                if (lse) lse[r * H + h] = sum > 0 ? (float)(m + log(sum)) : -INFINITY;
            }
    free(p);
}

void attention_blockbias_backward_ref(float *dq, float *dk, float *dv, float *dbias,
                                      const float *dout, const float *q, const float *k,
                                      const float *v, const float *bias, int S, int L, int B,
                                      int D, int H)
{
    int hd = D / H;
    double scale = 1.0 / sqrt((double)hd);
    size_t n = (size_t)S * L * D;
    double *p = malloc((size_t)(L > 0 ? L : 1) * 2 * sizeof *p);
    double *gb = calloc((size_t)2 * H, sizeof *gb);
    double *g = calloc(3 * n + 1, sizeof *g); /* dq, dk, dv summed in double, added once */
    if (!p || !gb || !g) {
        free(p), free(gb), free(g);
        return;
    }
    double *gq = g, *gk = g + n, *gv = g + 2 * n;
    double *dp = p + (L > 0 ? L : 1);
    for (int s = 0; s < S; s++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < L; i++) {
                double m = blockbias_row_ref(p, q, k, bias, s, i, h, L, B, D, H), sum = 0;
                if (m == -INFINITY) continue;
                for (int j = 0; j < L; j++) sum += p[j];
                size_t qi = ((size_t)s * L + i) * D + (size_t)h * hd;
                double di = 0;
                for (int j = 0; j < L; j++) {
                    p[j] /= sum;
                    size_t kj = ((size_t)s * L + j) * D + (size_t)h * hd;
                    double g = 0;
                    for (int d = 0; d < hd; d++) g += (double)dout[qi + d] * v[kj + d];
                    dp[j] = g;
                    di += p[j] * g;
                }
                for (int j = 0; j < L; j++) {
                    size_t kj = ((size_t)s * L + j) * D + (size_t)h * hd;
                    double ds = p[j] * (dp[j] - di);
                    gb[((i < B) != (j < B)) * H + h] += ds;
                    for (int d = 0; d < hd; d++) {
                        gv[kj + d] += p[j] * dout[qi + d];
                        gq[qi + d] += ds * scale * k[kj + d];
                        gk[kj + d] += ds * scale * q[qi + d];
                    }
                }
            }
    for (size_t i = 0; i < n; i++) {
        if (dq) dq[i] += (float)gq[i];
        if (dk) dk[i] += (float)gk[i];
        if (dv) dv[i] += (float)gv[i];
    }
    for (int c = 0; dbias && c < 2 * H; c++) dbias[c] += (float)gb[c];
    free(p), free(gb), free(g);
}
