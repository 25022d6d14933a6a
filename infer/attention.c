/* Multi-head scaled dot-product attention (the part of torch.nn.MultiheadAttention between
 * the in-projections and the out-projection), blocked so that memory stays linear in the
 * number of keys.
 *
 * For each block of q_block queries and each head, scores S = (Q_h K_h^T) / sqrt(hd) come from
 * one sgemm per block of kv_block keys. With a single key block (Nk <= kv_block) this is the
 * plain softmax(S) V. With several, it is the streaming ("online") softmax: per query row a
 * running maximum m and normaliser l, and the accumulated output O; a new key block with row
 * maximum m' rescales O and l by exp(m - m') before adding exp(S - m') V_blk (sgemm, beta 1).
 * Only q_block x kv_block scores exist at any time, so SAB over n = 100,000 rows needs
 * q_block * kv_block floats of scratch instead of n^2. The 1/l normalisation is applied to O
 * (q_block x hd values) rather than to the probabilities (q_block x Nk).
 * Training runs the same forward, keeping each row's log-sum-exp (m + log l) for
 * attention_backward at the end, which recomputes the probabilities of one head at a time. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "infer_internal.h"

size_t attention_scratch_floats(const attn_cfg *cfg)
{
    /* scores block, then per-row running max m, normaliser l and rescale factor */
    return (size_t)cfg->q_block * (size_t)cfg->kv_block + 3 * (size_t)cfg->q_block;
}

/* Sets the scores of masked keys in [k0, k0 + nk) to -inf for the bq rows of S (ld nk). */
static void apply_mask(float *S, int bq, int nk, const uint8_t *kmask, int k0)
{
    const uint8_t *mk = kmask + k0;
    if (!memchr(mk, 0, (size_t)nk)) return;
    for (int j = 0; j < nk; j++) {
        if (mk[j]) continue;
        for (int i = 0; i < bq; i++) S[(size_t)i * nk + j] = -INFINITY;
    }
}

/* One head, one query block: out_h[bq, hd] (ld ldo), and lse (ld H) when not NULL. */
static void head_block(float *out, int ldo, float *lse, int H, const float *q, int ldq,
                       const float *k, int ldk,
                       const float *v, int ldv, const uint8_t *kmask, int bq, int Nk, int hd,
                       float scale, const attn_cfg *cfg, float *scratch)
{
    int bk_max = cfg->kv_block < Nk ? cfg->kv_block : Nk;
    float *S = scratch;
    float *m = scratch + (size_t)cfg->q_block * (size_t)cfg->kv_block;
    float *l = m + cfg->q_block;
    float *alpha = l + cfg->q_block;
    for (int i = 0; i < bq; i++) l[i] = 0.0f;
    for (int k0 = 0; k0 < Nk; k0 += bk_max) {
        int nk = Nk - k0 < bk_max ? Nk - k0 : bk_max;
        const int first = k0 == 0;
        /* S[bq, nk] = scale * q_h k_h^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, nk, hd, scale, q, ldq,
                    k + (size_t)k0 * ldk, ldk, 0.0f, S, nk);
        if (kmask) apply_mask(S, bq, nk, kmask, k0);
        for (int i = 0; i < bq; i++) {
            float *s = S + (size_t)i * nk;
            float mb = vmax(s, (size_t)nk);
            float mold = first ? -INFINITY : m[i];
            float mnew = mb > mold ? mb : mold;
            if (mnew == -INFINITY) {
                /* every key so far masked: contributes nothing yet */
                memset(s, 0, (size_t)nk * sizeof *s);
                alpha[i] = 1.0f;
                if (first) l[i] = 0.0f, m[i] = -INFINITY;
                continue;
            }
            float sum = vexp_shift_sum(s, (size_t)nk, mnew);
            if (first) {
                l[i] = sum;
            } else {
                float a = mold == -INFINITY ? 0.0f : expf(mold - mnew);
                alpha[i] = a;
                l[i] = l[i] * a + sum;
            }
            m[i] = mnew;
        }
        if (!first) {
            for (int i = 0; i < bq; i++) {
                if (alpha[i] == 1.0f) continue;
                float *o = out + (size_t)i * ldo;
                for (int d = 0; d < hd; d++) o[d] *= alpha[i];
            }
        }
        /* out_h (+)= P[bq, nk] v_h[nk, hd] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, hd, nk, 1.0f, S, nk,
                    v + (size_t)k0 * ldv, ldv, first ? 0.0f : 1.0f, out, ldo);
    }
    for (int i = 0; i < bq; i++) {
        float inv = 1.0f / l[i];
        float *o = out + (size_t)i * ldo;
        if (lse) lse[(size_t)i * H] = l[i] == 0.0f ? -INFINITY : m[i] + logf(l[i]);
        if (l[i] == 0.0f) { /* every key masked (or none): NaN, as PyTorch */
            for (int d = 0; d < hd; d++) o[d] = NAN;
            continue;
        }
        for (int d = 0; d < hd; d++) o[d] *= inv;
    }
}

void attention_forward(float *out, int ldo, float *lse, const float *q, int ldq, const float *k,
                       int ldk, size_t khs, const float *v, int ldv, size_t vhs,
                       const uint8_t *kmask, int Nq, int Nk, int D, int H, const attn_cfg *cfg,
                       float *scratch)
{
    if (Nq <= 0) return;
    int hd = D / H;
    float scale = 1.0f / sqrtf((float)hd);
    for (int q0 = 0; q0 < Nq; q0 += cfg->q_block) {
        int bq = Nq - q0 < cfg->q_block ? Nq - q0 : cfg->q_block;
        for (int h = 0; h < H; h++) {
            size_t c = (size_t)h * hd;
            head_block(out + (size_t)q0 * ldo + c, ldo, lse ? lse + (size_t)q0 * H + h : NULL, H,
                       q + (size_t)q0 * ldq + c, ldq,
                       k + (size_t)h * khs, ldk, v + (size_t)h * vhs, ldv, kmask, bq, Nk, hd,
                       scale, cfg, scratch);
        }
    }
}

/* Backward of attention_forward (training: plain layouts, n up to a few thousand), ACCUMULATING into dq, dk, dv (same layouts as q, k, v,
 * leading dimensions lddq, lddk, lddv); dout and out (the forward output) [Nq, *] with ld lddo,
 * ldo. Per head: P = exp(S - lse), dP = dO V^T, dS = P (dP - rowsum(dO * O)),
 * dV += P^T dO, dQ += scale dS K, dK += scale dS^T Q. Masked keys have P = 0 and get no
 * gradient. scratch: 2 Nq Nk floats. */
void attention_backward(float *dq, int lddq, float *dk, int lddk, float *dv, int lddv,
                        const float *dout, int lddo, const float *q, int ldq, const float *k,
                        int ldk, const float *v, int ldv, const float *out, int ldo,
                        const float *lse, const uint8_t *kmask, int Nq, int Nk, int D, int H,
                        float *scratch)
{
    if (Nq <= 0 || Nk <= 0) return;
    int hd = D / H;
    float scale = 1.0f / sqrtf((float)hd);
    float *P = scratch, *dP = scratch + (size_t)Nq * Nk;
    for (int h = 0; h < H; h++) {
        size_t c = (size_t)h * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Nq, Nk, hd, scale, q + c, ldq,
                    k + c, ldk, 0.0f, P, Nk);
        if (kmask) apply_mask(P, Nq, Nk, kmask, 0);
        for (int i = 0; i < Nq; i++) {
            float *p = P + (size_t)i * Nk;
            float l = lse[(size_t)i * H + h];
            if (l == -INFINITY) {
                memset(p, 0, (size_t)Nk * sizeof *p);
                continue;
            }
            for (int j = 0; j < Nk; j++) p[j] -= l;
            vexp_forward(p, p, (size_t)Nk);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Nq, Nk, hd, 1.0f, dout + c, lddo,
                    v + c, ldv, 0.0f, dP, Nk);
        for (int i = 0; i < Nq; i++) {
            const float *go = dout + (size_t)i * lddo + c, *o = out + (size_t)i * ldo + c;
            float di = 0.0f;
            if (lse[(size_t)i * H + h] != -INFINITY)
                for (int d = 0; d < hd; d++) di += go[d] * o[d];
            float *p = P + (size_t)i * Nk, *g = dP + (size_t)i * Nk;
            for (int j = 0; j < Nk; j++) g[j] = p[j] * (g[j] - di);
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Nk, hd, Nq, 1.0f, P, Nk, dout + c,
                    lddo, 1.0f, dv + c, lddv);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Nq, hd, Nk, scale, dP, Nk, k + c,
                    ldk, 1.0f, dq + c, lddq);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Nk, hd, Nq, scale, dP, Nk, q + c,
                    ldq, 1.0f, dk + c, lddk);
    }
}
