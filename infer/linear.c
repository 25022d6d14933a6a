/* Linear layers on sgemm. PyTorch layout: weight [OC, C] row-major, so the product is
 * inp @ weight^T (CblasTrans on the weight, no copy). The bias (and a residual) are written
 * into the output first and the product is accumulated onto them with beta = 1, so neither
 * costs an extra pass over the product.
 * linear_backward (training) is at the end: three sgemms' worth, accumulating with beta = 1. */
#include <cblas.h>
#include <string.h>

#include "infer_internal.h"

/* out[N, OC] = inp[N, C] @ weight[OC, C]^T + bias[OC] */
void linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC)
{
    if (N <= 0 || OC <= 0) return;
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < N; i++) memcpy(out + (size_t)i * OC, bias, (size_t)OC * sizeof *out);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, beta,
                out, OC);
}

/* out[N, OC] = inp[N, K] (ld ldi) @ weight[OC, :K]^T (ld ldw) + bias[OC]: the first K input
 * columns only (the others are known to be zero). */
void linear_forward_cols(float *out, const float *inp, int ldi, const float *weight, int ldw,
                         const float *bias, int N, int K, int OC)
{
    if (N <= 0 || OC <= 0) return;
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < N; i++) memcpy(out + (size_t)i * OC, bias, (size_t)OC * sizeof *out);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, K, 1.0f, inp, ldi, weight, ldw,
                beta, out, OC);
}

/* out[N, OC] = res[N, OC] + inp[N, C] @ weight[OC, C]^T + bias[OC]; res may equal out */
void linear_forward_residual(float *out, const float *res, const float *inp, const float *weight,
                             const float *bias, int N, int C, int OC)
{
    if (N <= 0 || OC <= 0) return;
    for (int i = 0; i < N; i++) {
        float *o = out + (size_t)i * OC;
        const float *r = res + (size_t)i * OC;
        if (o != r) memcpy(o, r, (size_t)OC * sizeof *o);
        if (bias)
            for (int j = 0; j < OC; j++) o[j] += bias[j];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, 1.0f,
                out, OC);
}

/* ---- backward (training) ------------------------------------------------------------------
 * For out = inp @ weight^T + bias, given dout [N, OC]: every output ACCUMULATES (+=):
 *   dinp[N, C] += dout @ weight        dweight[OC, C] += dout^T @ inp     dbias[OC] += sum_rows
 * Any of dinp, dweight, dbias may be NULL (not wanted). */
void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC)
{
    if (N <= 0 || OC <= 0 || C <= 0) return;
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight,
                    C, 1.0f, dinp, C);
    if (dweight)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C,
                    1.0f, dweight, C);
    if (dbias)
        for (int i = 0; i < N; i++) {
            const float *d = dout + (size_t)i * OC;
            for (int o = 0; o < OC; o++) dbias[o] += d[o];
        }
}

/* Residual x + f(x): the gradient passes straight through. dinp[n] += dout[n]. */
void residual_backward(float *dinp, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i];
}
