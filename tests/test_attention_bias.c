/* Block-biased attention over segments (infer/attention_bias.c, the `cells` layout's
 * within-row attention): forward and backward against the double references, the backward
 * against central finite differences, accumulation, strided layouts, equality with the plain
 * attention kernels where the bias cannot matter (equal same/cross bias: a per-row shift;
 * cross bias -inf: attention within each block), and the two invariances the cells model rests
 * on: permuting tokens within a block and exchanging the blocks permute the outputs and
 * gradients the same way and leave the bias gradient unchanged.
 *
 * Tolerances: the kernels sum hd-long dot products and L-long softmax rows in float against
 * double references (exp ~1e-7 relative): 4e-6 (1 + |ref|) per entry for outputs (logits of
 * up to ~10 at L 64, hd 16 carry ~1e-6 of rounding into exp: over 2 million such outputs the
 * largest error measured 1.5e-6 here and 1.2e-6 for attention_forward); gradients 1e-5 on the
 * norm plus an absolute floor of 1e-6 per entry (rms) for gradients that vanish in theory (a
 * single key, a bias whose shift the softmax ignores).
 * Finite differences: of an independent all-double forward (so without float noise), against
 * which the float backward holds to 1e-5 like against the reference. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "testutil.h"

static uint64_t rs = 0xD1B54A32D192ED03ULL;
#define rnext() tu_rnext(&rs)
#define runif() tu_runif(&rs)
static int rint_(int lo, int hi)
{
    return lo + (int)(rnext() % (uint64_t)(hi - lo + 1));
}
#define rnorm() tu_rnorm(&rs)
static float *rvec(size_t n, double scale)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rnorm());
    return x;
}
static float *zvec(size_t n)
{
    float *x = calloc(n ? n : 1, sizeof *x);
    ck_assert_ptr_nonnull(x);
    return x;
}
static float *scratch_for(int L, int D, int H)
{
    return zvec(attention_blockbias_scratch_floats(L, D, H));
}
static double dot_fd(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
static double norm2(const float *a, size_t n)
{
    return sqrt(dot_fd(a, a, n));
}
/* ||a - b|| <= rel ||b|| + floor sqrt(n): floor is the rounding of an entry that vanishes in
 * theory, 1e-6 for a sum of a few O(1) terms */
static void assert_near(const float *a, const float *b, size_t n, double rel, double floor,
                        const char *what)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    d = sqrt(d);
    ck_assert_msg(d <= rel * norm2(b, n) + floor * sqrt((double)n), "%s: |diff| %g, |ref| %g",
                  what, d, norm2(b, n));
}
static void assert_close(const float *a, const float *b, size_t n, double rel, const char *what)
{
    assert_near(a, b, n, rel, 1e-6, what);
}
/* The bias gradient of S segments sums S L^2 entries of dS = P (dP - Di), each rounded to
 * ~1e-7 of O(1) terms: with one block empty it vanishes in theory (a shift of every logit),
 * and the float sum is ~1e-7 sqrt(S L^2) */
static void assert_dbias(const float *a, const float *b, int S, int L, int H, const char *what)
{
    assert_near(a, b, 2 * (size_t)H, 1e-5, 1e-6 * sqrt((double)S * L * L), what);
}
/* per entry: |a - b| <= 4e-6 (1 + |b|) */
static void assert_entries(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)a[i] - b[i]) <= 4e-6 * (1 + fabs(b[i])),
                      "%s[%zu]: %.9g vs %.9g", what, i, a[i], b[i]);
}

/* One problem: S segments of L tokens, packed [S*L, D], bias [2, H]. */
typedef struct prob {
    int S, L, B, D, H;
    float *q, *k, *v, *bias, *R; /* R: dout */
    float *out, *lse, *scr;
} prob;

static prob prob_new(int S, int L, int B, int D, int H)
{
    size_t n = (size_t)S * L * D;
    prob p = {S, L, B, D, H, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    /* one statement each: the order of the draws is fixed */
    p.q = rvec(n, 1.5);
    p.k = rvec(n, 1.5);
    p.v = rvec(n, 1);
    p.bias = rvec(2 * (size_t)H, 1);
    p.R = rvec(n, 1);
    p.out = zvec(n);
    p.lse = zvec((size_t)S * L * H);
    p.scr = scratch_for(L, D, H);
    return p;
}
static void prob_free(prob *p)
{
    free(p->q), free(p->k), free(p->v), free(p->bias), free(p->R), free(p->out), free(p->lse);
    free(p->scr);
}
static void prob_forward(prob *p)
{
    attention_blockbias_forward(p->out, p->D, p->lse, p->q, p->D, p->k, p->D, p->v, p->D,
                                p->bias, p->S, p->L, p->B, p->D, p->H, p->scr);
}
/* Gradients of sum(R * out) from the kernel (accumulating into what g* hold). */
static void prob_backward(prob *p, float *gq, float *gk, float *gv, float *gb)
{
    attention_blockbias_backward(gq, p->D, gk, p->D, gv, p->D, gb, p->R, p->D, p->q, p->D, p->k,
                                 p->D, p->v, p->D, p->out, p->D, p->lse, p->bias, p->S, p->L,
                                 p->B, p->D, p->H, p->scr);
}

/* ---- forward ----------------------------------------------------------------------------- */

/* Every L in {1, 2, 3, 8, 17, 64} with B in {0, 1, L/2, L-1, L}, H 1 and 4, head sizes 1..16,
 * S 1 and 5: output and lse against the reference; lse NULL changes no output bit; the same
 * problem through strided operands (q, k, v columns of one [S*L, 3D] buffer, out with leading
 * dimension D + 3) gives the same bits. */
START_TEST(test_forward_vs_ref)
{
    static const int Ls[] = {1, 2, 3, 8, 17, 64};
    for (int hi = 0; hi < 2; hi++)
        for (int li = 0; li < 6; li++) {
            int L = Ls[li], H = hi ? 4 : 1;
            int Bs[5] = {0, 1, L / 2, L - 1, L};
            for (int bi = 0; bi < 5; bi++) {
                int B = Bs[bi] < 0 ? 0 : Bs[bi], S = (li + bi) % 2 ? 5 : 1;
                int hd = bi == 4 ? 16 : rint_(1, 9), D = H * hd;
                size_t n = (size_t)S * L * D;
                prob p = prob_new(S, L, B, D, H);
                prob_forward(&p);
                float *ref = zvec(n), *rl = zvec((size_t)S * L * H), *o2 = zvec(n);
                attention_blockbias_forward_ref(ref, rl, p.q, p.k, p.v, p.bias, S, L, B, D, H);
                assert_entries(p.out, ref, n, "out");
                assert_entries(p.lse, rl, (size_t)S * L * H, "lse");
                attention_blockbias_forward(o2, D, NULL, p.q, D, p.k, D, p.v, D, p.bias, S, L, B,
                                            D, H, p.scr);
                ck_assert(memcmp(o2, p.out, n * sizeof *o2) == 0);
                /* strided */
                size_t N = (size_t)S * L;
                int ldo = D + 3;
                float *qkv = zvec(N * 3 * D), *os = zvec(N * ldo);
                for (size_t r = 0; r < N; r++)
                    for (int d = 0; d < D; d++) {
                        qkv[r * 3 * D + d] = p.q[r * D + d];
                        qkv[r * 3 * D + D + d] = p.k[r * D + d];
                        qkv[r * 3 * D + 2 * D + d] = p.v[r * D + d];
                    }
                attention_blockbias_forward(os, ldo, NULL, qkv, 3 * D, qkv + D, 3 * D,
                                            qkv + 2 * D, 3 * D, p.bias, S, L, B, D, H, p.scr);
                for (size_t r = 0; r < N; r++)
                    ck_assert(memcmp(os + r * ldo, p.out + r * D, (size_t)D * 4) == 0);
                free(ref), free(rl), free(o2), free(qkv), free(os);
                prob_free(&p);
            }
        }
}
END_TEST

/* Segments are independent: a batch equals each segment run alone, bit for bit (forward and
 * dq, dk, dv); the batch's bias gradient is the sum of the segments' (1e-6 relative). */
START_TEST(test_segments_independent)
{
    int S = 6, L = 7, B = 3, D = 12, H = 4;
    size_t n = (size_t)S * L * D, sd = (size_t)L * D;
    prob p = prob_new(S, L, B, D, H);
    prob_forward(&p);
    float *gq = zvec(n), *gk = zvec(n), *gv = zvec(n), *gb = zvec(2 * H);
    prob_backward(&p, gq, gk, gv, gb);
    float *o = zvec(sd), *l = zvec((size_t)L * H), *q1 = zvec(sd), *k1 = zvec(sd), *v1 = zvec(sd);
    float *b1 = zvec(2 * H);
    double bsum[8] = {0};
    for (int s = 0; s < S; s++) {
        size_t off = (size_t)s * sd;
        attention_blockbias_forward(o, D, l, p.q + off, D, p.k + off, D, p.v + off, D, p.bias, 1,
                                    L, B, D, H, p.scr);
        ck_assert(memcmp(o, p.out + off, sd * 4) == 0);
        ck_assert(memcmp(l, p.lse + (size_t)s * L * H, (size_t)L * H * 4) == 0);
        memset(q1, 0, sd * 4), memset(k1, 0, sd * 4), memset(v1, 0, sd * 4);
        memset(b1, 0, 2 * H * 4);
        attention_blockbias_backward(q1, D, k1, D, v1, D, b1, p.R + off, D, p.q + off, D,
                                     p.k + off, D, p.v + off, D, o, D, l, p.bias, 1, L, B, D, H,
                                     p.scr);
        ck_assert(memcmp(q1, gq + off, sd * 4) == 0);
        ck_assert(memcmp(k1, gk + off, sd * 4) == 0);
        ck_assert(memcmp(v1, gv + off, sd * 4) == 0);
        for (int c = 0; c < 2 * H; c++) bsum[c] += b1[c];
    }
    /* float partial sums grouped differently: rounding of S L^2 O(1) terms */
    for (int c = 0; c < 2 * H; c++)
        ck_assert_msg(fabs(bsum[c] - gb[c]) <= 1e-6 * sqrt((double)S * L * L), "%g vs %g",
                      bsum[c], gb[c]);
    free(gq), free(gk), free(gv), free(gb), free(o), free(l), free(q1), free(k1), free(v1);
    free(b1);
    prob_free(&p);
}
END_TEST

/* ---- backward ---------------------------------------------------------------------------- */

/* dq, dk, dv, dbias against the reference over the forward test's grid of L, B, H (S 2); the
 * cross-block bias gets exactly 0 when one block is empty. Each gradient alone (the others
 * NULL) has the same bits as all together. Strided: gradients into one [S*L, 3D] buffer,
 * dout and out with leading dimensions D + 5 and D + 3, the same bits. */
START_TEST(test_backward_vs_ref)
{
    static const int Ls[] = {1, 2, 3, 8, 17, 64};
    for (int hi = 0; hi < 2; hi++)
        for (int li = 0; li < 6; li++) {
            int L = Ls[li], H = hi ? 4 : 1;
            int Bs[5] = {0, 1, L / 2, L - 1, L};
            for (int bi = 0; bi < 5; bi++) {
                int B = Bs[bi] < 0 ? 0 : Bs[bi], S = 2, hd = rint_(1, 9), D = H * hd;
                size_t n = (size_t)S * L * D, N = (size_t)S * L;
                prob p = prob_new(S, L, B, D, H);
                prob_forward(&p);
                float *gq = zvec(n), *gk = zvec(n), *gv = zvec(n), *gb = zvec(2 * H);
                float *rq = zvec(n), *rk = zvec(n), *rv = zvec(n), *rb = zvec(2 * H);
                prob_backward(&p, gq, gk, gv, gb);
                attention_blockbias_backward_ref(rq, rk, rv, rb, p.R, p.q, p.k, p.v, p.bias, S,
                                                 L, B, D, H);
                assert_close(gq, rq, n, 1e-5, "dq");
                assert_close(gk, rk, n, 1e-5, "dk");
                assert_close(gv, rv, n, 1e-5, "dv");
                assert_dbias(gb, rb, S, L, H, "dbias");
                if (B == 0 || B == L)
                    for (int h = 0; h < H; h++) ck_assert(gb[H + h] == 0.0f);
                /* one gradient at a time */
                float *one = zvec(n > 2 * (size_t)H ? n : 2 * (size_t)H);
                for (int w = 0; w < 4; w++) {
                    memset(one, 0, (n > 2 * (size_t)H ? n : 2 * (size_t)H) * 4);
                    prob_backward(&p, w == 0 ? one : NULL, w == 1 ? one : NULL,
                                  w == 2 ? one : NULL, w == 3 ? one : NULL);
                    const float *all = w == 0 ? gq : w == 1 ? gk : w == 2 ? gv : gb;
                    ck_assert(memcmp(one, all, (w == 3 ? 2 * (size_t)H : n) * 4) == 0);
                }
                /* strided */
                int ldo = D + 3, lddo = D + 5;
                float *os = zvec(N * ldo), *dos = zvec(N * lddo), *g3 = zvec(N * 3 * D);
                float *b3 = zvec(2 * H);
                for (size_t r = 0; r < N; r++)
                    for (int d = 0; d < D; d++) {
                        os[r * ldo + d] = p.out[r * D + d];
                        dos[r * lddo + d] = p.R[r * D + d];
                    }
                attention_blockbias_backward(g3, 3 * D, g3 + D, 3 * D, g3 + 2 * D, 3 * D, b3, dos,
                                             lddo, p.q, D, p.k, D, p.v, D, os, ldo, p.lse,
                                             p.bias, S, L, B, D, H, p.scr);
                for (size_t r = 0; r < N; r++) {
                    ck_assert(memcmp(g3 + r * 3 * D, gq + r * D, (size_t)D * 4) == 0);
                    ck_assert(memcmp(g3 + r * 3 * D + D, gk + r * D, (size_t)D * 4) == 0);
                    ck_assert(memcmp(g3 + r * 3 * D + 2 * D, gv + r * D, (size_t)D * 4) == 0);
                }
                ck_assert(memcmp(b3, gb, 2 * (size_t)H * 4) == 0);
                free(os), free(dos), free(g3), free(b3), free(one);
                free(gq), free(gk), free(gv), free(gb), free(rq), free(rk), free(rv), free(rb);
                prob_free(&p);
            }
        }
}
END_TEST

/* The objective sum(R * out) with the whole forward in double (its own plain loops, from
 * inputs held in double), so that central differences carry no float rounding: their error is
 * the O(h^2) truncation (h = 1e-3: ~1e-7 relative) plus ~1e-16 / h. */
typedef struct dprob {
    int S, L, B, D, H;
    double *x; /* q, k, v [S*L, D] each, then bias [2, H] */
    const float *R;
} dprob;
static double dobj(const dprob *p)
{
    int S = p->S, L = p->L, B = p->B, D = p->D, H = p->H, hd = D / H;
    size_t n = (size_t)S * L * D;
    const double *q = p->x, *k = q + n, *v = k + n, *bias = v + n;
    double P[64], tot = 0;
    ck_assert_int_le(L, 64);
    for (int s = 0; s < S; s++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < L; i++) {
                size_t qi = ((size_t)s * L + i) * D + (size_t)h * hd;
                double m = -INFINITY, sum = 0;
                for (int j = 0; j < L; j++) {
                    size_t kj = ((size_t)s * L + j) * D + (size_t)h * hd;
                    double dot = 0;
                    for (int d = 0; d < hd; d++) dot += q[qi + d] * k[kj + d];
                    P[j] = dot / sqrt((double)hd) + bias[((i < B) != (j < B)) * H + h];
                    m = fmax(m, P[j]);
                }
                for (int j = 0; j < L; j++) sum += P[j] = exp(P[j] - m);
                for (int d = 0; d < hd; d++) {
                    double o = 0;
                    for (int j = 0; j < L; j++)
                        o += P[j] * v[((size_t)s * L + j) * D + (size_t)h * hd + d];
                    tot += p->R[qi + d] * o / sum;
                }
            }
    return tot;
}
/* Central differences with respect to x[off .. off + n). */
static double *dfd_grad(dprob *p, size_t off, size_t n, double h)
{
    double *g = malloc(n * sizeof *g);
    ck_assert_ptr_nonnull(g);
    for (size_t i = 0; i < n; i++) {
        double x0 = p->x[off + i];
        p->x[off + i] = x0 + h;
        double fp = dobj(p);
        p->x[off + i] = x0 - h;
        double fm = dobj(p);
        p->x[off + i] = x0;
        g[i] = (fp - fm) / (2 * h);
    }
    return g;
}
/* ||fd - g|| <= 1e-5 ||fd|| + floor sqrt(n) */
static void assert_fd(const double *fd, const float *g, size_t n, double floor, const char *what)
{
    double d = 0, nb = 0;
    for (size_t i = 0; i < n; i++) d += (fd[i] - g[i]) * (fd[i] - g[i]), nb += fd[i] * fd[i];
    ck_assert_msg(sqrt(d) <= 1e-5 * sqrt(nb) + floor * sqrt((double)n),
                  "%s: |fd - g| %g |fd| %g", what, sqrt(d), sqrt(nb));
}

/* dq, dk, dv, dbias of the float kernel against central differences of the double forward
 * (h = 1e-3; 1e-5 on the norm, the float kernel's own rounding; floors as against the
 * reference) on problems with both blocks, one block empty (B = 0, B = L), a single head and
 * one token per segment. */
START_TEST(test_backward_fd)
{
    static const int cfg[][5] = {/* S, L, B, D, H */
                                 {2, 5, 2, 8, 2},  {3, 4, 0, 6, 1}, {1, 6, 6, 8, 4},
                                 {2, 7, 3, 12, 4}, {3, 1, 1, 4, 2}, {2, 3, 1, 3, 1}};
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        int S = cfg[c][0], L = cfg[c][1], B = cfg[c][2], D = cfg[c][3], H = cfg[c][4];
        size_t n = (size_t)S * L * D, nb = 2 * (size_t)H;
        prob p = prob_new(S, L, B, D, H);
        prob_forward(&p);
        float *gq = zvec(n), *gk = zvec(n), *gv = zvec(n), *gb = zvec(nb);
        prob_backward(&p, gq, gk, gv, gb);
        dprob dp = {S, L, B, D, H, malloc((3 * n + nb) * sizeof(double)), p.R};
        ck_assert_ptr_nonnull(dp.x);
        for (size_t i = 0; i < n; i++)
            dp.x[i] = p.q[i], dp.x[n + i] = p.k[i], dp.x[2 * n + i] = p.v[i];
        for (size_t i = 0; i < nb; i++) dp.x[3 * n + i] = p.bias[i];
        double *fq = dfd_grad(&dp, 0, n, 1e-3), *fk = dfd_grad(&dp, n, n, 1e-3);
        double *fv = dfd_grad(&dp, 2 * n, n, 1e-3), *fb = dfd_grad(&dp, 3 * n, nb, 1e-3);
        assert_fd(fq, gq, n, 1e-6, "dq");
        assert_fd(fk, gk, n, 1e-6, "dk");
        assert_fd(fv, gv, n, 1e-6, "dv");
        assert_fd(fb, gb, nb, 1e-6 * sqrt((double)S * L * L), "dbias");
        free(fq), free(fk), free(fv), free(fb), free(gq), free(gk), free(gv), free(gb);
        free(dp.x);
        prob_free(&p);
    }
}
END_TEST

/* The backward adds to what the gradient buffers hold: twice from zero is exactly twice once,
 * and from arbitrary values g0 the result is exactly g0 + (once) in float. */
START_TEST(test_backward_accumulates)
{
    int S = 3, L = 6, B = 2, D = 8, H = 2;
    size_t n = (size_t)S * L * D, nb = 2 * (size_t)H;
    prob p = prob_new(S, L, B, D, H);
    prob_forward(&p);
    float *g1[4] = {zvec(n), zvec(n), zvec(n), zvec(nb)};
    float *g2[4] = {zvec(n), zvec(n), zvec(n), zvec(nb)};
    float *g0[4];
    for (int t = 0; t < 4; t++) g0[t] = rvec(t == 3 ? nb : n, 1);
    float *ga[4] = {zvec(n), zvec(n), zvec(n), zvec(nb)};
    for (int t = 0; t < 4; t++) memcpy(ga[t], g0[t], (t == 3 ? nb : n) * 4);
    prob_backward(&p, g1[0], g1[1], g1[2], g1[3]);
    prob_backward(&p, g2[0], g2[1], g2[2], g2[3]);
    prob_backward(&p, g2[0], g2[1], g2[2], g2[3]);
    prob_backward(&p, ga[0], ga[1], ga[2], ga[3]);
    for (int t = 0; t < 4; t++) {
        size_t m = t == 3 ? nb : n;
        ck_assert(norm2(g1[t], m) > 0);
        for (size_t i = 0; i < m; i++) {
            ck_assert(g2[t][i] == 2.0f * g1[t][i]);
            ck_assert(ga[t][i] == g0[t][i] + g1[t][i]);
        }
        free(g1[t]), free(g2[t]), free(g0[t]), free(ga[t]);
    }
    prob_free(&p);
}
END_TEST

/* ---- against the plain attention kernels ------------------------------------------------ */

/* With the same bias within and across blocks (0, NULL, or any c_h per head) every logit of a
 * row shifts by c_h, which softmax ignores: the output equals attention_forward per segment
 * (plain and streaming block sizes), lse equals attention_forward's + c_h, dq, dk, dv
 * equal attention_backward's, and the two bias gradients of a head cancel (their sum is the
 * gradient of the shift: 0). */
START_TEST(test_equal_bias_is_plain_attention)
{
    static const attn_cfg cfgs[] = {{64, 4096}, {3, 2}};
    static const int cfg[][5] = {{4, 9, 4, 16, 4}, {3, 5, 0, 6, 1}, {2, 33, 33, 8, 4},
                                 {5, 2, 1, 4, 2}};
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++)
        for (int mode = 0; mode < 3; mode++) { /* bias NULL, zero, equal per head */
            int S = cfg[c][0], L = cfg[c][1], B = cfg[c][2], D = cfg[c][3], H = cfg[c][4];
            size_t n = (size_t)S * L * D, sd = (size_t)L * D;
            prob p = prob_new(S, L, B, D, H);
            for (int h = 0; h < H; h++)
                p.bias[H + h] = p.bias[h] = mode == 1 ? 0.0f : (float)(2 * rnorm());
            float *bias = p.bias;
            if (mode == 0) p.bias = NULL;
            prob_forward(&p);
            float *gq = zvec(n), *gk = zvec(n), *gv = zvec(n), *gb = zvec(2 * H);
            prob_backward(&p, gq, gk, gv, gb);
            float *o = zvec(sd), *l = zvec((size_t)L * H), *dq = zvec(sd), *dk = zvec(sd),
                  *dv = zvec(sd);
            float *ts = zvec(2 * (size_t)L * L), *as = zvec(attention_scratch_floats(&cfgs[0]));
            for (int s = 0; s < S; s++) {
                size_t off = (size_t)s * sd;
                /* the plain and the streaming blocks; the latter's output and lse are kept */
                for (int ci = 0; ci < 2; ci++) {
                    attention_forward(o, D, l, p.q + off, D, p.k + off, D, (size_t)(D / H),
                                      p.v + off, D, (size_t)(D / H), NULL, L, L, D, H, &cfgs[ci],
                                      as);
                    assert_entries(p.out + off, o, sd, "out vs attention_forward");
                }
                for (int i = 0; i < L; i++)
                    for (int h = 0; h < H; h++) {
                        float want = l[i * H + h] + (mode == 0 ? 0.0f : bias[h]);
                        float got = p.lse[((size_t)s * L + i) * H + h];
                        ck_assert_msg(fabs(got - want) <= 2e-6 * (1 + fabs(want)), "lse %g %g",
                                      got, want);
                    }
                memset(dq, 0, sd * 4), memset(dk, 0, sd * 4), memset(dv, 0, sd * 4);
                attention_backward(dq, D, dk, D, dv, D, p.R + off, D, p.q + off, D, p.k + off, D,
                                   p.v + off, D, o, D, l, NULL, L, L, D, H, ts);
                assert_close(gq + off, dq, sd, 1e-5, "dq vs attention_backward");
                assert_close(gk + off, dk, sd, 1e-5, "dk vs attention_backward");
                assert_close(gv + off, dv, sd, 1e-5, "dv vs attention_backward");
            }
            /* the bias gradient: O(|dS|) each, their sum only rounding */
            float *rb = zvec(2 * H);
            attention_blockbias_backward_ref(NULL, NULL, NULL, rb, p.R, p.q, p.k, p.v, p.bias, S,
                                             L, B, D, H);
            for (int h = 0; h < H; h++)
                ck_assert_msg(fabs((double)gb[h] + gb[H + h]) <= 1e-5 * sqrt((double)S * L * L),
                              "head %d: %g + %g", h, gb[h], gb[H + h]);
            assert_dbias(gb, rb, S, L, H, "dbias");
            p.bias = bias;
            free(rb), free(gq), free(gk), free(gv), free(gb), free(o), free(l), free(dq);
            free(dk), free(dv), free(ts), free(as);
            prob_free(&p);
        }
}
END_TEST

/* Copies rows [r0, r0 + nr) of a [*, D] array into dst[nr, D]. */
static void take_rows(float *dst, const float *src, size_t r0, int nr, int D)
{
    memcpy(dst, src + r0 * D, (size_t)nr * D * sizeof *dst);
}

/* A cross-block bias of -inf: each block attends to itself only, i.e. plain attention within
 * block 0 and within block 1 of every segment (forward, lse up to the same-block bias, dq, dk,
 * dv); the cross-block bias gradient is exactly 0. */
START_TEST(test_cross_inf_is_blockwise)
{
    static const attn_cfg cfgs[] = {{64, 4096}, {3, 2}};
    static const int cfg[][5] = {{3, 7, 3, 8, 2}, {2, 5, 1, 4, 4}, {2, 4, 0, 6, 3}};
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        int S = cfg[c][0], L = cfg[c][1], B = cfg[c][2], D = cfg[c][3], H = cfg[c][4];
        size_t n = (size_t)S * L * D;
        prob p = prob_new(S, L, B, D, H);
        for (int h = 0; h < H; h++) p.bias[H + h] = -INFINITY;
        prob_forward(&p);
        float *gq = zvec(n), *gk = zvec(n), *gv = zvec(n), *gb = zvec(2 * H);
        prob_backward(&p, gq, gk, gv, gb);
        for (int h = 0; h < H; h++) ck_assert(gb[H + h] == 0.0f && isfinite(gb[h]));
        size_t m = (size_t)L * D;
        float *q = zvec(m), *k = zvec(m), *v = zvec(m), *R = zvec(m), *o = zvec(m);
        float *l = zvec((size_t)L * H), *dq = zvec(m), *dk = zvec(m), *dv = zvec(m);
        float *ts = zvec(2 * (size_t)L * L), *as = zvec(attention_scratch_floats(&cfgs[1]));
        for (int s = 0; s < S; s++)
            for (int blk = 0; blk < 2; blk++) {
                int t0 = blk ? B : 0, nt = blk ? L - B : B;
                if (nt == 0) continue;
                size_t r0 = (size_t)s * L + t0, sz = (size_t)nt * D;
                take_rows(q, p.q, r0, nt, D), take_rows(k, p.k, r0, nt, D);
                take_rows(v, p.v, r0, nt, D), take_rows(R, p.R, r0, nt, D);
                attention_forward(o, D, l, q, D, k, D, (size_t)(D / H), v, D, (size_t)(D / H),
                                  NULL, nt, nt, D, H, &cfgs[1], as);
                assert_entries(p.out + r0 * D, o, sz, "out vs blockwise attention");
                for (int i = 0; i < nt; i++)
                    for (int h = 0; h < H; h++) {
                        float want = l[i * H + h] + p.bias[h];
                        float got = p.lse[(r0 + i) * H + h];
                        ck_assert(fabs(got - want) <= 2e-6 * (1 + fabs(want)));
                    }
                memset(dq, 0, sz * 4), memset(dk, 0, sz * 4), memset(dv, 0, sz * 4);
                attention_backward(dq, D, dk, D, dv, D, R, D, q, D, k, D, v, D, o, D, l, NULL, nt,
                                   nt, D, H, ts);
                assert_close(gq + r0 * D, dq, sz, 1e-5, "dq blockwise");
                assert_close(gk + r0 * D, dk, sz, 1e-5, "dk blockwise");
                assert_close(gv + r0 * D, dv, sz, 1e-5, "dv blockwise");
            }
        free(q), free(k), free(v), free(R), free(o), free(l), free(dq), free(dk), free(dv);
        free(ts), free(as), free(gq), free(gk), free(gv), free(gb);
        prob_free(&p);
    }
}
END_TEST

/* ---- invariances ------------------------------------------------------------------------- */

/* Reorders the tokens of every segment: new token t of segment s is old token perm[s*L + t];
 * returns the problem with the block boundary B2 and the same bias. */
static prob permuted(const prob *p, const int *perm, int B2)
{
    prob r = prob_new(p->S, p->L, B2, p->D, p->H);
    memcpy(r.bias, p->bias, 2 * (size_t)p->H * 4);
    for (int s = 0; s < p->S; s++)
        for (int t = 0; t < p->L; t++) {
            size_t dst = ((size_t)s * p->L + t) * p->D;
            size_t src = ((size_t)s * p->L + perm[s * p->L + t]) * p->D;
            memcpy(r.q + dst, p->q + src, (size_t)p->D * 4);
            memcpy(r.k + dst, p->k + src, (size_t)p->D * 4);
            memcpy(r.v + dst, p->v + src, (size_t)p->D * 4);
            memcpy(r.R + dst, p->R + src, (size_t)p->D * 4);
        }
    return r;
}

/* Runs p and its permutation; outputs, lse, dq, dk, dv are the permuted originals (4e-6 per
 * entry / 1e-5 on the norm: only the summation order differs), dbias unchanged (1e-5).
 * Returns the largest output difference (for the control below). */
static double check_equivariant(prob *p, const int *perm, int B2, int expect)
{
    int S = p->S, L = p->L, D = p->D, H = p->H;
    size_t n = (size_t)S * L * D;
    prob r = permuted(p, perm, B2);
    prob_forward(p);
    prob_forward(&r);
    float *ga[4] = {zvec(n), zvec(n), zvec(n), zvec(2 * H)};
    float *gr[4] = {zvec(n), zvec(n), zvec(n), zvec(2 * H)};
    prob_backward(p, ga[0], ga[1], ga[2], ga[3]);
    prob_backward(&r, gr[0], gr[1], gr[2], gr[3]);
    /* bring the originals into the permuted order */
    float *po = zvec(n), *pl = zvec((size_t)S * L * H), *pg[3] = {zvec(n), zvec(n), zvec(n)};
    for (int s = 0; s < S; s++)
        for (int t = 0; t < L; t++) {
            size_t dst = (size_t)s * L + t, src = (size_t)s * L + perm[s * L + t];
            memcpy(po + dst * D, p->out + src * D, (size_t)D * 4);
            memcpy(pl + dst * H, p->lse + src * H, (size_t)H * 4);
            for (int w = 0; w < 3; w++) memcpy(pg[w] + dst * D, ga[w] + src * D, (size_t)D * 4);
        }
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)r.out[i] - po[i]));
    if (expect) {
        assert_entries(r.out, po, n, "permuted out");
        assert_entries(r.lse, pl, (size_t)S * L * H, "permuted lse");
        assert_close(gr[0], pg[0], n, 1e-5, "permuted dq");
        assert_close(gr[1], pg[1], n, 1e-5, "permuted dk");
        assert_close(gr[2], pg[2], n, 1e-5, "permuted dv");
        assert_dbias(gr[3], ga[3], S, L, H, "dbias under the permutation");
    }
    for (int w = 0; w < 4; w++) free(ga[w]), free(gr[w]);
    for (int w = 0; w < 3; w++) free(pg[w]);
    free(po), free(pl);
    prob_free(&r);
    return worst;
}

static void shuffle(int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = rint_(0, i), t = a[i];
        a[i] = a[j], a[j] = t;
    }
}

/* Within-block permutations (a different one per segment), the block swap (tokens B..L-1
 * first, boundary L - B, bias unchanged), and both composed, for L 2, 7, 16 and B at 0, 1,
 * the middle and L. Control: moving one token across the boundary (exchanging the first and
 * last token with B unchanged) does change the output when same and cross bias differ. */
START_TEST(test_permutation_and_swap_equivariance)
{
    static const int Ls[] = {2, 7, 16};
    for (int li = 0; li < 3; li++) {
        int L = Ls[li], S = 4, H = li == 0 ? 1 : 4, D = H * rint_(2, 6);
        int Bs[4] = {0, 1, L / 2, L};
        for (int bi = 0; bi < 4; bi++) {
            int B = Bs[bi];
            prob p = prob_new(S, L, B, D, H);
            for (int h = 0; h < H; h++) p.bias[H + h] = p.bias[h] + 1.5f; /* clearly different */
            int *perm = malloc((size_t)S * L * sizeof *perm), *tmp = malloc((size_t)L * 4);
            for (int kind = 0; kind < 3; kind++) {
                for (int s = 0; s < S; s++) {
                    int *ps = perm + s * L;
                    for (int t = 0; t < L; t++) ps[t] = t;
                    if (kind != 1) {
                        shuffle(ps, B);
                        shuffle(ps + B, L - B);
                    }
                    if (kind != 0) { /* swap: block 1's tokens (in their order) first */
                        memcpy(tmp, ps, (size_t)L * 4);
                        for (int t = 0; t < L; t++) ps[t] = tmp[(t + B) % L];
                    }
                }
                check_equivariant(&p, perm, kind == 0 ? B : L - B, 1);
            }
            /* (for L = 2 that exchange is the block swap itself) */
            if (B > 0 && B < L && L > 2) {
                for (int s = 0; s < S; s++) {
                    int *ps = perm + s * L;
                    for (int t = 0; t < L; t++) ps[t] = t;
                    ps[0] = L - 1, ps[L - 1] = 0;
                }
                double worst = check_equivariant(&p, perm, B, 0);
                ck_assert_msg(worst > 1e-3, "crossing the block boundary changed nothing: %g",
                              worst);
            }
            free(perm), free(tmp);
            prob_free(&p);
        }
    }
}
END_TEST

int main(void)
{
    /* MIST_TEST_SEED=N reruns every check on other random data (default: fixed) */
    const char *seed = getenv("MIST_TEST_SEED");
    if (seed) rs ^= 0x9E3779B97F4A7C15ULL * strtoull(seed, NULL, 10);
    Suite *s = suite_create("attention_bias");
    tu_case(s, "kernels", 0, test_forward_vs_ref, test_segments_independent, test_backward_vs_ref,
            test_backward_fd, test_backward_accumulates, test_equal_bias_is_plain_attention,
            test_cross_inf_is_blockwise, test_permutation_and_swap_equivariance, NULL);
    return tu_run(s) ? 1 : 0;
}
