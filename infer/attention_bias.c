/* Multi-head attention with a per-head logit bias chosen by block membership, over a batch of
 * small equal-length segments (the `cells` layout's within-row attention: one segment per row,
 * X cells block 0, Y cells block 1; weights/design-next.md).
 *
 * The segments are tiny (L = dx + dy, typically 2..64) and there are many (one per row), so
 * the work per (segment, head) is a few L x L x hd products. Each goes through mm below: a
 * register-blocked 8 x 8 micro-kernel in plain C that GCC keeps in vector registers (8
 * accumulators of 8 lanes, one broadcast-multiply-add per row and k), on copies of the head's
 * operands in scratch zero-padded to multiples of 8 (rows and columns), so it needs no edge
 * cases. Padding adds only exact zeros: logits of padded keys are set to -inf (probability 0)
 * and padded rows are never read back. The softmax uses the vector maths of activations.c
 * (vmax, vexp_*). Every output element is summed over k in order whatever the instruction
 * set: no reassociation (no -ffast-math) and no contraction (ISO C mode), so the clones give
 * the same bits (checked against a baseline-only build). Explicit fmaf measured no faster on
 * x86-64-v4 and no more accurate here, where the rounding of logits of up to ~10 dominates, and
 * it is a libm call per element on the baseline target.
 *
 * Forward and backward follow attention_forward (with lse) / attention_backward (lse kept, the
 * backward recomputes the probabilities); the bias enters after the 1/sqrt(hd) scaling, so its
 * gradient is the sum of dS = P (dP - rowsum(dO * O)) over the (query, key) pairs of the same
 * block (bias row 0) and of different blocks (bias row 1). Nothing depends on the order of
 * tokens within a block except the float summation order, and exchanging the blocks swaps
 * nothing in the bias (same stays same, cross stays cross): the kernels are equivariant under
 * both, which is what the cells model's column and X/Y-swap invariance rests on. */
#include <math.h>
#include <string.h>

#include "infer_internal.h"

#define MMW 8 /* rows and columns of the micro-kernel's block; the padding unit */

static inline size_t pad8(int x)
{
    return ((size_t)x + MMW - 1) / MMW * MMW;
}

/* C[M, N] (ld ldc) = A B over k < K, with A(i, k) = A[i * sai + k * sak] (so A or its
 * transpose) and B [K, N] (ld ldb); M and N multiples of MMW. */
MIST_VEC_CLONES
static void mm(float *restrict C, size_t ldc, const float *restrict A, size_t sai, size_t sak,
               const float *restrict B, size_t ldb, size_t M, size_t N, int K)
{
    for (size_t i0 = 0; i0 < M; i0 += MMW)
        for (size_t n0 = 0; n0 < N; n0 += MMW) {
            float c0[MMW] = {0}, c1[MMW] = {0}, c2[MMW] = {0}, c3[MMW] = {0};
            float c4[MMW] = {0}, c5[MMW] = {0}, c6[MMW] = {0}, c7[MMW] = {0};
            const float *a = A + i0 * sai;
            for (int k = 0; k < K; k++) {
                const float *restrict b = B + (size_t)k * ldb + n0;
                const float *ak = a + (size_t)k * sak;
                const float x0 = ak[0], x1 = ak[sai], x2 = ak[2 * sai], x3 = ak[3 * sai];
                const float x4 = ak[4 * sai], x5 = ak[5 * sai], x6 = ak[6 * sai];
                const float x7 = ak[7 * sai];
                for (int t = 0; t < MMW; t++) {
                    const float bt = b[t];
                    c0[t] += x0 * bt, c1[t] += x1 * bt, c2[t] += x2 * bt, c3[t] += x3 * bt;
                    c4[t] += x4 * bt, c5[t] += x5 * bt, c6[t] += x6 * bt, c7[t] += x7 * bt;
                }
            }
            float *c = C + i0 * ldc + n0;
            memcpy(c, c0, sizeof c0), memcpy(c + ldc, c1, sizeof c1);
            memcpy(c + 2 * ldc, c2, sizeof c2), memcpy(c + 3 * ldc, c3, sizeof c3);
            memcpy(c + 4 * ldc, c4, sizeof c4), memcpy(c + 5 * ldc, c5, sizeof c5);
            memcpy(c + 6 * ldc, c6, sizeof c6), memcpy(c + 7 * ldc, c7, sizeof c7);
        }
}

/* The additive bias of a query row of block 0 (brow0) and of block 1 (brow1) over the Lp
 * keys: bs within the block, bc across, -inf for padded keys (probability 0). */
static void bias_rows(float *brow0, float *brow1, size_t Lp, int L, int B, float bs, float bc)
{
    for (size_t j = 0; j < Lp; j++) {
        const int pad = j >= (size_t)L, blk0 = j < (size_t)B;
        brow0[j] = pad ? -INFINITY : blk0 ? bs : bc;
        brow1[j] = pad ? -INFINITY : blk0 ? bc : bs;
    }
}

/* The scores P[Lp, Lp] (from mm, unscaled) into logits: row i < L: scale * P + the bias row
 * of its block (padded keys -inf). Padded rows stay as mm left them (zero). */
MIST_VEC_CLONES
static void logits(float *restrict P, size_t Lp, int L, int B, float scale,
                   const float *restrict brow0, const float *restrict brow1)
{
    for (int i = 0; i < L; i++) {
        float *restrict p = P + (size_t)i * Lp;
        const float *restrict br = i < B ? brow0 : brow1;
        for (size_t j = 0; j < Lp; j++) p[j] = p[j] * scale + br[j];
    }
}

/* rows[i] = sum of row i of P[L, Lp], over MMW lanes combined in a fixed order */
MIST_VEC_CLONES
static void row_sums(float *restrict rows, const float *restrict P, size_t Lp, int L)
{
    for (int i = 0; i < L; i++) {
        const float *restrict x = P + (size_t)i * Lp;
        float a[MMW] = {0};
        for (size_t j = 0; j < Lp; j += MMW)
            for (int t = 0; t < MMW; t++) a[t] += x[j + t];
        for (int w = MMW / 2; w > 0; w /= 2)
            for (int t = 0; t < w; t++) a[t] += a[t + w];
        rows[i] = a[0];
    }
}

/* Rows i < L of the logits minus a shift: exp(logit - lse_i) (lse[i * H]: the forward's row
 * maximum or the backward's log-sum-exp; a row whose shift is -inf, every logit -inf,
 * becomes 0), padded rows 0. */
MIST_VEC_CLONES
static void probs_from_lse(float *restrict P, size_t Lp, int L, const float *restrict lse, int H)
{
    for (int i = 0; i < L; i++) {
        float *p = P + (size_t)i * Lp;
        const float l = lse[(size_t)i * H];
        for (size_t j = 0; j < Lp; j++) p[j] = l == -INFINITY ? -INFINITY : p[j] - l;
    }
    for (size_t j = (size_t)L * Lp; j < Lp * Lp; j++) P[j] = -INFINITY;
    vexp_forward(P, P, Lp * Lp);
}

/* Scratch layout (floats), Lp = L and hp = hd rounded up to multiples of 8, op = Lp hp:
 *   Qh, Kh, Vh, dOh [H][Lp, hp]; Kt, Vt [H][hp, Lp]  (a segment's operands, every head,
 *                                                     zero padding)
 *   P, dS [Lp, Lp]; C [Lp, hp]                       (one head's products)
 *   Gv, Gq, Gk [L, D]                                (a segment's dV, dQ, dK, every head)
 *   Di [H][Lp]; rowm, c0, c1 [Lp]; bias rows br [H][2][Lp].
 * The forward uses Qh, Vh, Kt, P, C, rowm, c0 and br. A segment's rows are read whole (all
 * heads at once), so that each is one contiguous stretch of memory rather than H strided
 * passes, and the backward adds its gradients row by row likewise. */
typedef struct bb_scr {
    size_t Lp, hp, op;
    float *Qh, *Kh, *Vh, *dOh, *Kt, *Vt, *P, *dS, *C, *Gv, *Gq, *Gk, *Di, *rowm, *c0, *c1, *br;
} bb_scr;

static bb_scr bb_layout(float *s, int L, int D, int H)
{
    bb_scr w;
    w.Lp = pad8(L), w.hp = pad8(D / H), w.op = w.Lp * w.hp;
    const size_t ho = (size_t)H * w.op, sq = w.Lp * w.Lp, ld = (size_t)L * D;
    w.Qh = s, w.Kh = w.Qh + ho, w.Vh = w.Kh + ho, w.dOh = w.Vh + ho;
    w.Kt = w.dOh + ho, w.Vt = w.Kt + ho;
    w.P = w.Vt + ho, w.dS = w.P + sq, w.C = w.dS + sq;
    w.Gv = w.C + w.op, w.Gq = w.Gv + ld, w.Gk = w.Gq + ld;
    w.Di = w.Gk + ld, w.rowm = w.Di + (size_t)H * w.Lp, w.c0 = w.rowm + w.Lp, w.c1 = w.c0 + w.Lp;
    w.br = w.c1 + w.Lp;
    return w;
}

size_t attention_blockbias_scratch_floats(int L, int D, int H)
{
    if (L <= 0 || H <= 0) return 0;
    size_t Lp = pad8(L), op = Lp * pad8(D / H), h = (size_t)H;
    return 6 * h * op + 2 * Lp * Lp + op + 3 * (size_t)L * D + 3 * h * Lp + 3 * Lp;
}

/* Heads h0..h1-1 of L rows of src (ld lds, head h at column h * hd) into dst + h * op: as
 * [L, hd] with leading dimension ldd, or transposed [hd, L] (ld ldd) when transpose. The
 * padding of dst is left alone (zero). */
MIST_VEC_CLONES
static void gather(float *restrict dst, size_t op, size_t ldd, const float *restrict src,
                   int lds, int L, int hd, int h0, int h1, int transpose)
{
    for (int j = 0; j < L; j++) {
        const float *x = src + (size_t)j * lds;
        for (int h = h0; h < h1; h++) {
            float *restrict y = dst + (size_t)h * op;
            const float *restrict xh = x + (size_t)h * hd;
            if (transpose)
                for (int d = 0; d < hd; d++) y[(size_t)d * ldd + j] = xh[d];
            else
                for (int d = 0; d < hd; d++) y[(size_t)j * ldd + d] = xh[d];
        }
    }
}

/* dst[L, n] (ld ldd) += src[L, n] (ld lds) */
MIST_VEC_CLONES
static void add_rows(float *restrict dst, int ldd, const float *restrict src, size_t lds, int L,
                     int n)
{
    for (int j = 0; j < L; j++) {
        float *restrict y = dst + (size_t)j * ldd;
        const float *restrict x = src + (size_t)j * lds;
        for (int d = 0; d < n; d++) y[d] += x[d];
    }
}

/* dst[L, hd] (ld ldd) = a * src[L, hd] (ld lds) */
MIST_VEC_CLONES
static void scale_rows(float *restrict dst, size_t ldd, const float *restrict src, size_t lds,
                       float a, int L, int hd)
{
    for (int j = 0; j < L; j++) {
        float *restrict y = dst + (size_t)j * ldd;
        const float *restrict x = src + (size_t)j * lds;
        for (int d = 0; d < hd; d++) y[d] = a * x[d];
    }
}

/* Rows i < L of the logits P[Lp, Lp] into exp(logit - rowm[i]) with rowm[i] the row maximum,
 * and their sums into rows[i] (0 for a row whose logits are all -inf). Short rows (Lp <= 16,
 * below the 16 lanes of vexp_shift_sum) take one exp call over the whole block; longer ones
 * the fused shift-exp-sum per row (measured the faster way each side). */
static void softmax_numerators(float *P, size_t Lp, int L, float *rowm, float *rows)
{
    if (Lp <= 16) {
        for (int i = 0; i < L; i++) rowm[i] = vmax(P + (size_t)i * Lp, Lp);
        probs_from_lse(P, Lp, L, rowm, 1);
        row_sums(rows, P, Lp, L);
        return;
    }
    for (int i = 0; i < L; i++) {
        float *p = P + (size_t)i * Lp;
        const float m = vmax(p, Lp);
        rowm[i] = m;
        if (m == -INFINITY) { /* every logit -inf: probabilities 0 */
            memset(p, 0, Lp * sizeof *p);
            rows[i] = 0.0f;
        } else {
            rows[i] = vexp_shift_sum(p, Lp, m);
        }
    }
}

void attention_blockbias_forward(float *out, int ldo, float *lse, const float *q, int ldq,
                                 const float *k, int ldk, const float *v, int ldv,
                                 const float *bias, int S, int L, int B, int D, int H,
                                 float *scratch)
{
    if (S <= 0 || L <= 0) return;
    const int hd = D / H;
    const float scale = 1.0f / sqrtf((float)hd);
    bb_scr w = bb_layout(scratch, L, D, H);
    const size_t Lp = w.Lp, hp = w.hp;
    memset(scratch, 0, 6 * (size_t)H * w.op * sizeof *scratch); /* the operands' padding */
    for (int h = 0; h < H; h++)
        bias_rows(w.br + 2 * (size_t)h * Lp, w.br + (2 * (size_t)h + 1) * Lp, Lp, L, B,
                  bias ? bias[h] : 0.0f, bias ? bias[H + h] : 0.0f);
    for (int s = 0; s < S; s++) {
        const size_t r0 = (size_t)s * L;
        gather(w.Qh, w.op, hp, q + r0 * ldq, ldq, L, hd, 0, H, 0);
        gather(w.Kt, w.op, Lp, k + r0 * ldk, ldk, L, hd, 0, H, 1);
        gather(w.Vh, w.op, hp, v + r0 * ldv, ldv, L, hd, 0, H, 0);
        for (int h = 0; h < H; h++) {
            const size_t ho = (size_t)h * w.op;
            const float *br = w.br + 2 * (size_t)h * Lp;
            mm(w.P, Lp, w.Qh + ho, hp, 1, w.Kt + ho, Lp, Lp, Lp, hd);
            logits(w.P, Lp, L, B, scale, br, br + Lp);
            softmax_numerators(w.P, Lp, L, w.rowm, w.c0);
            mm(w.C, hp, w.P, Lp, 1, w.Vh + ho, hp, Lp, hp, L);
            for (int i = 0; i < L; i++) {
                const float l = w.c0[i], inv = l > 0.0f ? 1.0f / l : NAN;
                const float *ci = w.C + (size_t)i * hp;
                float *o = out + (r0 + i) * ldo + (size_t)h * hd;
                for (int d = 0; d < hd; d++) o[d] = ci[d] * inv;
                if (lse) lse[(r0 + i) * H + h] = l > 0.0f ? w.rowm[i] + logf(l) : -INFINITY;
            }
        }
    }
}

/* ---- backward ------------------------------------------------------------------------------
 * One (segment, head): P = exp(logits - lse) (recomputed), dP = dO V^T, dS = P (dP - Di) with
 * Di = dO_i . O_i; dV = P^T dO, dQ = scale dS K, dK = scale dS^T Q into the segment's result
 * rows, which are then added once to the caller's arrays (so a gradient becomes "previous +
 * this call's"); the bias gradient sums dS over same-block and cross-block pairs into g[0],
 * g[1] (double). */

/* dS = P (dP - Di) in place of dP (Di per row, 0 for padded rows), then its column sums over
 * the queries of block 0 (c0) and of block 1 (c1), which the caller splits by key block. */
MIST_VEC_CLONES
static void grad_logits(float *restrict dS, const float *restrict P, const float *restrict Di,
                        size_t Lp, int L, int B, float *restrict c0, float *restrict c1)
{
    for (size_t j = 0; j < Lp; j++) c0[j] = 0.0f, c1[j] = 0.0f;
    for (size_t i = 0; i < Lp; i++) {
        float *restrict ds = dS + i * Lp;
        const float *restrict p = P + i * Lp;
        const float di = Di[i];
        for (size_t j = 0; j < Lp; j++) ds[j] = p[j] * (ds[j] - di);
        if ((int)i >= L) continue;
        float *restrict cs = (int)i < B ? c0 : c1;
        for (size_t j = 0; j < Lp; j++) cs[j] += ds[j];
    }
}

/* The backward's operands, as passed. */
typedef struct bb_bwd {
    float *dq, *dk, *dv;
    int lddq, lddk, lddv;
    const float *dout, *q, *k, *v, *out, *lse, *bias;
    int lddo, ldq, ldk, ldv, ldo;
    int L, B, D, hd, H;
    float scale;
} bb_bwd;

/* Segment s, heads h0..h1-1; adds head h's bias gradient to g[h - h0][0] (same block) and
 * [1] (cross); g NULL skips it. */
static void backward_segment(const bb_bwd *a, const bb_scr *w, int s, int h0, int h1,
                             double (*g)[2])
{
    const int L = a->L, B = a->B, D = a->D, hd = a->hd, H = a->H;
    const size_t Lp = w->Lp, hp = w->hp, op = w->op, r0 = (size_t)s * L;
    const int need_dS = a->dq || a->dk || g;
    const float *ls = a->lse + r0 * H, *go = a->dout + r0 * a->lddo;
    gather(w->Qh, op, hp, a->q + r0 * a->ldq, a->ldq, L, hd, h0, h1, 0);
    gather(w->Kt, op, Lp, a->k + r0 * a->ldk, a->ldk, L, hd, h0, h1, 1);
    gather(w->dOh, op, hp, go, a->lddo, L, hd, h0, h1, 0);
    if (a->dq) gather(w->Kh, op, hp, a->k + r0 * a->ldk, a->ldk, L, hd, h0, h1, 0);
    if (need_dS) {
        gather(w->Vt, op, Lp, a->v + r0 * a->ldv, a->ldv, L, hd, h0, h1, 1);
        for (int i = 0; i < L; i++) {
            const float *gi = go + (size_t)i * a->lddo, *oi = a->out + (r0 + i) * a->ldo;
            for (int h = h0; h < h1; h++) {
                const size_t c = (size_t)h * hd;
                float di = 0.0f;
                if (ls[(size_t)i * H + h] != -INFINITY)
                    for (int d = 0; d < hd; d++) di += gi[c + d] * oi[c + d];
                w->Di[(size_t)h * Lp + i] = di;
            }
        }
    }
    for (int h = h0; h < h1; h++) {
        const size_t ho = (size_t)h * op, c = (size_t)h * hd;
        const float *br = w->br + 2 * (size_t)h * Lp;
        mm(w->P, Lp, w->Qh + ho, hp, 1, w->Kt + ho, Lp, Lp, Lp, hd);
        logits(w->P, Lp, L, B, a->scale, br, br + Lp);
        probs_from_lse(w->P, Lp, L, ls + h, H);
        if (a->dv) {
            mm(w->C, hp, w->P, 1, Lp, w->dOh + ho, hp, Lp, hp, L); /* P^T dO */
            scale_rows(w->Gv + c, (size_t)D, w->C, hp, 1.0f, L, hd);
        }
        if (!need_dS) continue;
        mm(w->dS, Lp, w->dOh + ho, hp, 1, w->Vt + ho, Lp, Lp, Lp, hd); /* dP = dO V^T */
        grad_logits(w->dS, w->P, w->Di + (size_t)h * Lp, Lp, L, B, w->c0, w->c1);
        if (g)
            for (int j = 0; j < L; j++) {
                g[h - h0][j < B ? 0 : 1] += w->c0[j]; /* queries of block 0 */
                g[h - h0][j < B ? 1 : 0] += w->c1[j]; /* queries of block 1 */
            }
        if (a->dq) {
            mm(w->C, hp, w->dS, Lp, 1, w->Kh + ho, hp, Lp, hp, L); /* dS K */
            scale_rows(w->Gq + c, (size_t)D, w->C, hp, a->scale, L, hd);
        }
        if (a->dk) {
            mm(w->C, hp, w->dS, 1, Lp, w->Qh + ho, hp, Lp, hp, L); /* dS^T Q */
            scale_rows(w->Gk + c, (size_t)D, w->C, hp, a->scale, L, hd);
        }
    }
    const size_t c0 = (size_t)h0 * hd;
    const int n = (h1 - h0) * hd;
    if (a->dv) add_rows(a->dv + r0 * a->lddv + c0, a->lddv, w->Gv + c0, (size_t)D, L, n);
    if (a->dq) add_rows(a->dq + r0 * a->lddq + c0, a->lddq, w->Gq + c0, (size_t)D, L, n);
    if (a->dk) add_rows(a->dk + r0 * a->lddk + c0, a->lddk, w->Gk + c0, (size_t)D, L, n);
}

void attention_blockbias_backward(float *dq, int lddq, float *dk, int lddk, float *dv, int lddv,
                                  float *dbias, const float *dout, int lddo, const float *q,
                                  int ldq, const float *k, int ldk, const float *v, int ldv,
                                  const float *out, int ldo, const float *lse,
                                  const float *bias, int S, int L, int B, int D, int H,
                                  float *scratch)
{
    if (S <= 0 || L <= 0) return;
    if (!dq && !dk && !dv && !dbias) return;
    const int hd = D / H;
    const bb_bwd a = {dq,   dk,  dv,  lddq, lddk, lddv, dout, q, k,  v, out, lse, bias,
                      lddo, ldq, ldk, ldv,  ldo,  L,    B,    D, hd, H, 1.0f / sqrtf((float)hd)};
    bb_scr w = bb_layout(scratch, L, D, H);
    memset(scratch, 0, 6 * (size_t)H * w.op * sizeof *scratch); /* the operands' padding */
    memset(w.Di, 0, (size_t)H * w.Lp * sizeof *w.Di);             /* Di of padded rows */
    for (int h = 0; h < H; h++)
        bias_rows(w.br + 2 * (size_t)h * w.Lp, w.br + (2 * (size_t)h + 1) * w.Lp, w.Lp, L, B,
                  bias ? bias[h] : 0.0f, bias ? bias[H + h] : 0.0f);
    /* Heads in groups of up to HG, whose bias gradients are double sums over every segment
     * (one group unless H > HG). */
    enum { HG = 16 };
    for (int h0 = 0; h0 < H; h0 += HG) {
        const int h1 = H - h0 < HG ? H : h0 + HG;
        double g[HG][2] = {{0.0}};
        for (int s = 0; s < S; s++) backward_segment(&a, &w, s, h0, h1, dbias ? g : NULL);
        for (int h = h0; dbias && h < h1; h++) {
            dbias[h] += (float)g[h - h0][0];
            dbias[H + h] += (float)g[h - h0][1];
        }
    }
}
