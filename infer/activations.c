/* Elementwise kernels and the vector maths under them: exp (softmax) and GELU in the exact erf
 * form. libm's expf/erff are scalar calls that the compiler cannot vectorise without
 * -ffast-math (which this project never uses), and the forward pass evaluates tens of millions
 * of them (an n x n softmax per head), so both are written here as branch-free polynomials
 * that vectorise:
 * - exp: Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, and the Cephes degree-7 polynomial
 *   for e^r (relative error ~1e-7, i.e. about 1-2 ulp), scaled by 2^k through the exponent bits.
 * - GELU(x) = 0.5 x (1 + erf(x/sqrt2)) = x - 0.5 x erfc(a) for x >= 0 and 0.5 x erfc(a) for
 *   x < 0, a = |x|/sqrt2, with erfc from the Chebyshev fit of Numerical Recipes (erfcc,
 *   fractional error < 1.2e-7 for every a >= 0). Writing GELU through erfc avoids the
 *   cancellation of 1 + erf in the negative tail, and the exponent -x^2/2 is carried in two
 *   floats, so the relative error stays ~1e-7 down to the underflow of the result
 *   (tests/test_infer.c checks 1e-6 over [-14, 14]).
 * Reductions (max, sums) use 16 independent lanes combined in a fixed order, so the result is
 * the same whichever instruction set the loop was compiled for.
 * Training: gelu_backward (same erfc fit, vectorised), relu_backward, softmax_backward at the
 * end. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "infer_internal.h"

#define LANES 16

/* e^x for -87.3 <= x <= 88 (the caller clamps). Inline so that callers' loops vectorise.
 * fmaf is exactly rounded on every target (an instruction on x86-64-v3/v4, a libm call on the
 * baseline), so every compiled version gives the same bits. */
static inline float exp_core(float x)
{
    /* k = round(x / ln2) by the 1.5 * 2^23 trick (round to nearest even, no libm call). */
    const float magic = 12582912.0f;
    float kf = fmaf(x, 1.44269504088896341f, magic) - magic;
    float r = fmaf(kf, -0.693359375f, x);
    r = fmaf(kf, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    int32_t k = (int32_t)kf;
    uint32_t bits = (uint32_t)(k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#define EXP_LO -87.3f
#define EXP_HI 88.0f

/* e^x for any x: 0 below -87.3 (also for -inf), inf above 88, NaN stays NaN. */
static inline float exp_poly(float x)
{
    float xc = x < EXP_HI ? x : EXP_HI;
    xc = xc > EXP_LO ? xc : EXP_LO; /* NaN -> EXP_LO here; restored below */
    float y = exp_core(xc);
    y = x < EXP_LO ? 0.0f : y;
    y = x > EXP_HI ? INFINITY : y;
    return x == x ? y : x;
}

/* e^x for x <= 0 (softmax after subtracting the row maximum; -inf for masked keys): 0 below
 * -87.3. */
static inline float exp_nonpos(float x)
{
    float xc = x > EXP_LO ? x : EXP_LO;
    float y = exp_core(xc);
    return x < EXP_LO ? 0.0f : y;
}

/* The loops below work in place on one pointer: with two pointers that may be equal, the
 * vectoriser adds a run-time overlap check whose scalar fallback is exactly the in-place case
 * the forward pass uses. Out-of-place calls copy first. */
MIST_VEC_CLONES
static void exp_inplace(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = exp_poly(x[i]);
}

void vexp_forward(float *out, const float *inp, size_t n)
{
    if (out != inp) memcpy(out, inp, n * sizeof *out);
    exp_inplace(out, n);
}

/* x[i] = exp(x[i] - m) and their sum, in one pass over 16 independent lanes. */
MIST_VEC_CLONES
static float exp_shift_lanes(float *x, size_t n, float m)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float v = exp_nonpos(x[i + k] - m);
            x[i + k] = v;
            acc[k] += v;
        }
    for (int k = 0; i < n; i++, k++) {
        float v = exp_nonpos(x[i] - m);
        x[i] = v;
        acc[k] += v;
    }
    float s = 0.0f;
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

MIST_VEC_CLONES
float vmax(const float *x, size_t n)
{
    float acc[LANES];
    for (int k = 0; k < LANES; k++) acc[k] = x[0];
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k];
    for (int k = 0; i < n; i++, k++) acc[k] = x[i] > acc[k] ? x[i] : acc[k];
    float m = acc[0];
    for (int k = 1; k < LANES; k++) m = acc[k] > m ? acc[k] : m;
    return m;
}

float vexp_shift_sum(float *x, size_t n, float m)
{
    return exp_shift_lanes(x, n, m);
}

/* The polynomial of the Numerical Recipes erfc: erfc(a) = t exp(q(t) - a^2), t = 1/(1 + a/2);
 * one copy for the forward and backward loops (inlined, so they still vectorise). */
static inline float erfc_poly(float t)
{
    float q = 0.17087277f;
    q = fmaf(q, t, -0.82215223f);
    q = fmaf(q, t, 1.48851587f);
    q = fmaf(q, t, -1.13520398f);
    q = fmaf(q, t, 0.27886807f);
    q = fmaf(q, t, -0.18628806f);
    q = fmaf(q, t, 0.09678418f);
    q = fmaf(q, t, 0.37409196f);
    q = fmaf(q, t, 1.00002368f);
    return fmaf(q, t, -1.26551223f);
}

MIST_VEC_CLONES
static void gelu_inplace(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        float a = (x < 0.0f ? -x : x) * 0.707106781186547524f;
        float t = 1.0f / (1.0f + 0.5f * a);
        float q = erfc_poly(t);
        /* erfc(a) = t exp(q - a^2) with a^2 = x^2 / 2 taken from x (not from the rounded a)
         * as a double-float: x^2 = hi + lo exactly (fma), and the exponent's own rounding is
         * carried as e_lo and applied as exp(e_hi) (1 + e_lo). Far below -87.3 the exponent is
         * clamped: erfc comes out ~1e-38 instead of ~0, invisible next to x. */
        float x2h = x * x, x2l = fmaf(x, x, -x2h);
        float hh = 0.5f * x2h;
        float eh = q - hh;
        float el = (q - (eh + hh)) - 0.5f * x2l; /* Fast2Sum: |hh| >= |q| when it matters */
        float ec = t * (exp_core(eh > EXP_LO ? eh : EXP_LO) * (1.0f + el));
        float h = 0.5f * x * ec;
        v[i] = x >= 0.0f ? x - h : h;
    }
}

void gelu_forward(float *out, const float *inp, size_t n)
{
    if (out != inp) memcpy(out, inp, n * sizeof *out);
    gelu_inplace(out, n);
}

MIST_VEC_CLONES
static void relu_inplace(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_forward(float *out, const float *inp, size_t n)
{
    if (out != inp) memcpy(out, inp, n * sizeof *out);
    relu_inplace(out, n);
}

MIST_VEC_CLONES
static void scale_inplace(float *x, size_t n, float a)
{
    for (size_t i = 0; i < n; i++) x[i] *= a;
}

/* Row-wise softmax of [N, C]. */
void softmax_forward(float *out, const float *inp, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        if (o != x) memcpy(o, x, (size_t)C * sizeof *o);
        float m = vmax(o, (size_t)C);
        float s = vexp_shift_sum(o, (size_t)C, m);
        scale_inplace(o, (size_t)C, 1.0f / s);
    }
}

/* ---- backward (training); every function ACCUMULATES into dinp --------------------------
 * gelu'(x) = Phi(x) + x phi(x) (exact erf form), Phi through the same erfc fit as the forward
 * pass (Phi(x) = 1 - erfc(a)/2 for x >= 0, erfc(a)/2 below, a = |x|/sqrt2) and phi(x) =
 * exp(-x^2/2)/sqrt(2 pi) with x^2 carried in two floats: ~1e-7 relative, vectorised. */
MIST_VEC_CLONES
static void gelu_bwd_loop(float *restrict dinp, const float *restrict inp,
                          const float *restrict dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float a = (x < 0.0f ? -x : x) * 0.707106781186547524f;
        float t = 1.0f / (1.0f + 0.5f * a);
        float q = erfc_poly(t);
        float x2h = x * x, x2l = fmaf(x, x, -x2h);
        float hh = 0.5f * x2h;
        float eh = q - hh;
        float el = (q - (eh + hh)) - 0.5f * x2l;
        float ec = t * (exp_core(eh > EXP_LO ? eh : EXP_LO) * (1.0f + el));
        float nh = -hh;
        float pdf = 0.398942280401432678f * exp_core(nh > EXP_LO ? nh : EXP_LO) *
                    (1.0f - 0.5f * x2l);
        pdf = nh > EXP_LO ? pdf : 0.0f;
        float cdf = x >= 0.0f ? 1.0f - 0.5f * ec : 0.5f * ec;
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
    gelu_bwd_loop(dinp, inp, dout, n);
}

MIST_VEC_CLONES
void relu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}

/* Row-wise softmax of [N, C] given its output: dinp += out * (dout - sum(dout * out)). */
void softmax_backward(float *dinp, const float *out, const float *dout, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *o = out + (size_t)i * C, *d = dout + (size_t)i * C;
        float *g = dinp + (size_t)i * C;
        float dot = 0.0f;
        for (int c = 0; c < C; c++) dot += o[c] * d[c];
        for (int c = 0; c < C; c++) g[c] += o[c] * (d[c] - dot);
    }
}
