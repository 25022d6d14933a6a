/* Inference engine: every kernel against its naive reference, blocked and streaming attention
 * against plain attention, the whole graph against a plain-loop re-implementation, and the
 * properties the estimator must have: a batch equals its datasets run alone, row order does not
 * matter, block sizes and thread counts change nothing beyond float rounding, quantiles are
 * sorted (or raw on request), inputs the model cannot take are refused with a clear message. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_infer.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static uint64_t rs = 0x9E3779B97F4A7C15ULL;
#define rnext() tu_rnext(&rs)
#define runif() tu_runif(&rs)
static int rint_(int lo, int hi)
{
    return lo + (int)(rnext() % (uint64_t)(hi - lo + 1));
}
#define rnorm() tu_rnorm(&rs)
static float *rvec(size_t n, double scale)
{
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rnorm());
    return x;
}

/* A small architecture exercising every stage. */
static void tiny_arch(mist_arch *a, int layout, int prep, int qc)
{
    mist_arch_official(a, qc);
    a->input_layout = layout;
    a->preprocess = prep;
    a->max_input_dim = 8;
    a->max_dx = a->max_dy = 4;
    a->D = 16;
    a->H = 4;
    a->ff = 24;
    a->n_inds = 5;
    a->n_seeds = 3;
    a->n_feature_sab = 2;
    a->n_isab = 2;
    a->n_dec = 1;
    a->n_rho = 3;
    a->rho_hidden = 8;
}

static mist_model *tiny_model(int layout, int prep, int qc, uint64_t seed)
{
    mist_arch a;
    tiny_arch(&a, layout, prep, qc);
    mist_err err;
    mist_model *m = mist_model_create_random(&a, seed, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    /* LN weights/biases and the attention biases start at 1/0; make them random too so that a
     * mix-up between them would show */
    float *p = mist_model_params(m);
    for (size_t i = 0; i < mist_model_param_count(m); i++)
        if (p[i] == 0.0f || p[i] == 1.0f) p[i] += (float)(0.2 * rnorm());
    return m;
}

/* n rows of correlated [x (dx), y (dy)] */
static double *rdata(size_t n, int dx, int dy)
{
    size_t c = (size_t)(dx + dy);
    double *x = malloc(n * c * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) {
        double z = rnorm();
        for (size_t j = 0; j < c; j++) x[i * c + j] = 0.7 * z + 0.7 * rnorm();
    }
    return x;
}

static double rel_err(double a, double b)
{
    return fabs(a - b) / fmax(fabs(b), 1.0);
}

/* ---- kernels vs references -------------------------------------------------------------- */

/* Tolerance of a float dot product of length C against the double reference: a few C * eps of
 * the sum of |terms| (the classical bound), eps = 2^-24. */
START_TEST(test_linear_vs_ref)
{
    for (int rep = 0; rep < 40; rep++) {
        int N = rint_(1, 70), C = rint_(1, 130), OC = rint_(1, 90);
        float *x = rvec((size_t)N * C, 1), *w = rvec((size_t)OC * C, 0.3), *b = rvec(OC, 1);
        float *res = rvec((size_t)N * OC, 1);
        float *y = malloc((size_t)N * OC * sizeof *y), *r = malloc((size_t)N * OC * sizeof *r);
        int use_bias = rep % 3 != 0;
        linear_forward(y, x, w, use_bias ? b : NULL, N, C, OC);
        linear_forward_ref(r, x, w, use_bias ? b : NULL, N, C, OC);
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++) {
                double mag = use_bias ? fabs(b[o]) : 0;
                for (int c = 0; c < C; c++) mag += fabs(x[i * C + c] * w[o * C + c]);
                double tol = 4.0 * (C + 1) * 0x1.0p-24 * mag + 1e-30;
                ck_assert_msg(fabs(y[i * OC + o] - r[i * OC + o]) <= tol,
                              "linear N%d C%d OC%d: %g vs %g", N, C, OC, y[i * OC + o],
                              r[i * OC + o]);
            }
        /* residual form, also in place */
        memcpy(y, res, (size_t)N * OC * sizeof *y);
        linear_forward_residual(y, y, x, w, b, N, C, OC);
        for (int i = 0; i < N * OC; i++) r[i] = 0;
        linear_forward_ref(r, x, w, b, N, C, OC);
        for (int i = 0; i < N * OC; i++) {
            double tol = 4.0 * (C + 2) * 0x1.0p-24 * (fabs(r[i]) + fabs(res[i]) + 10.0);
            ck_assert_msg(fabs(y[i] - (r[i] + res[i])) <= tol, "residual %g vs %g", y[i],
                          r[i] + res[i]);
        }
        free(x), free(w), free(b), free(res), free(y), free(r);
    }
}
END_TEST

START_TEST(test_layernorm_vs_ref)
{
    for (int rep = 0; rep < 30; rep++) {
        int N = rint_(1, 20), C = rint_(1, 300);
        float *x = rvec((size_t)N * C, 2), *w = rvec(C, 1), *b = rvec(C, 1);
        for (int i = 0; i < N * C; i++) x[i] += 5.0f; /* an offset mean: no cancellation */
        float *y = malloc((size_t)N * C * sizeof *y), *r = malloc((size_t)N * C * sizeof *r);
        layernorm_forward(y, x, w, b, N, C, 1e-5f);
        layernorm_forward_ref(r, x, w, b, N, C, 1e-5f);
        for (int i = 0; i < N * C; i++)
            ck_assert_msg(fabs(y[i] - r[i]) <= 2e-5 * (fabs(w[i % C]) * 4 + fabs(b[i % C])) + 1e-6,
                          "layernorm C%d: %.9g vs %.9g", C, y[i], r[i]);
        /* in place gives the same bits */
        layernorm_forward(x, x, w, b, N, C, 1e-5f);
        ck_assert(memcmp(x, y, (size_t)N * C * sizeof *x) == 0);
        free(x), free(w), free(b), free(y), free(r);
    }
}
END_TEST

/* GELU against erfc() in double over [-14, 14]: relative error <= 1e-6 (4.7e-7 seen) down to
 * the underflow of the result (1e-37 absolute). exp: relative error <= 3e-7 (8.3e-8 seen) over
 * its range; -inf and values below -87.3 give 0, NaN stays NaN. */
START_TEST(test_gelu_exp_vs_ref)
{
    size_t n = 200001;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) x[i] = (float)(-14.0 + 28.0 * (double)i / (double)(n - 1));
    x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e-30f, x[3] = -1e-30f, x[4] = 1e-3f, x[5] = -3.0f;
    gelu_forward(y, x, n);
    gelu_forward_ref(r, x, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)y[i] - r[i]) <= 1e-6 * fabs((double)r[i]) + 1e-37,
                      "gelu(%.9g) = %.9g, reference %.9g", x[i], y[i], r[i]);
    /* exp over its whole range */
    for (size_t i = 0; i < n; i++) x[i] = (float)(-87.0 + 175.0 * (double)i / (double)(n - 1));
    vexp_forward(y, x, n);
    for (size_t i = 0; i < n; i++) {
        double e = exp((double)x[i]);
        ck_assert_msg(fabs(y[i] - e) <= 3e-7 * e, "exp(%.9g) = %.9g, reference %.9g", x[i], y[i],
                      e);
    }
    float sp[6] = {-INFINITY, -100.0f, 100.0f, INFINITY, NAN, 0.0f};
    vexp_forward(y, sp, 6);
    ck_assert(y[0] == 0.0f && y[1] == 0.0f && isinf(y[2]) && isinf(y[3]) && isnan(y[4]) &&
              y[5] == 1.0f);
    /* relu is exact */
    float rx[5] = {-1.0f, -0.0f, 0.0f, 2.5f, -1e-30f}, ry[5], rr[5];
    relu_forward(ry, rx, 5);
    relu_forward_ref(rr, rx, 5);
    ck_assert(memcmp(ry, rr, sizeof ry) == 0 || (ry[1] == 0 && rr[1] == 0));
    free(x), free(y), free(r);
}
END_TEST

START_TEST(test_softmax_vs_ref)
{
    for (int rep = 0; rep < 20; rep++) {
        int N = rint_(1, 10), C = rint_(1, 700);
        float *x = rvec((size_t)N * C, 4), *y = malloc((size_t)N * C * sizeof *y),
              *r = malloc((size_t)N * C * sizeof *r);
        softmax_forward(y, x, N, C);
        softmax_forward_ref(r, x, N, C);
        for (int i = 0; i < N * C; i++)
            ck_assert_msg(fabs(y[i] - r[i]) <= 1e-6 * r[i] + 1e-9, "softmax %g vs %g", y[i], r[i]);
        free(x), free(y), free(r);
    }
}
END_TEST

/* Attention: every (q_block, kv_block) against the double reference and against each other;
 * kv_block < Nk is the streaming softmax, kv_block >= Nk the plain one. */
START_TEST(test_attention_blocked_streaming)
{
    static const attn_cfg cfgs[] = {{1, 1}, {3, 5}, {7, 64}, {64, 4096}, {256, 13}, {2, 1000}};
    const int ncfg = (int)(sizeof cfgs / sizeof *cfgs);
    for (int rep = 0; rep < 24; rep++) {
        int H = rint_(1, 4), hd = rint_(1, 9), D = H * hd;
        int Nq = rint_(1, 80), Nk = rint_(1, 150);
        float *q = rvec((size_t)Nq * D, 1.5), *k = rvec((size_t)Nk * D, 1.5),
              *v = rvec((size_t)Nk * D, 1);
        uint8_t *mask = NULL;
        if (rep % 2) {
            mask = malloc((size_t)Nk);
            for (int j = 0; j < Nk; j++) mask[j] = runif() < 0.7;
            mask[rint_(0, Nk - 1)] = 1; /* at least one key */
        }
        float *ref = malloc((size_t)Nq * D * sizeof *ref);
        attention_forward_ref(ref, q, k, v, mask, Nq, Nk, D, H);
        /* each row's log-sum-exp of its scaled scores, in double */
        double *lref = malloc((size_t)Nq * H * sizeof *lref);
        for (int i = 0; i < Nq; i++)
            for (int h = 0; h < H; h++) {
                double mx = -INFINITY, sum = 0, sc[300];
                for (int j = 0; j < Nk; j++) {
                    double t = 0;
                    for (int d = 0; d < hd; d++)
                        t += (double)q[(size_t)i * D + h * hd + d] * k[(size_t)j * D + h * hd + d];
                    sc[j] = t / sqrt((double)hd);
                    if ((!mask || mask[j]) && sc[j] > mx) mx = sc[j];
                }
                for (int j = 0; j < Nk; j++)
                    if (!mask || mask[j]) sum += exp(sc[j] - mx);
                lref[i * H + h] = mx + log(sum);
            }
        float *lse = malloc((size_t)Nq * H * sizeof *lse);
        float *first = NULL;
        for (int c = 0; c < ncfg; c++) {
            float *out = malloc((size_t)Nq * D * sizeof *out);
            float *scr = malloc(attention_scratch_floats(&cfgs[c]) * sizeof *scr);
            if (c % 2 == 0) {
                attention_forward(out, D, lse, q, D, k, D, (size_t)hd, v, D, (size_t)hd, mask, Nq,
                                  Nk, D, H, &cfgs[c], scr);
            } else { /* head-major keys and values */
                float *kh = malloc((size_t)Nk * D * sizeof *kh), *vh = malloc((size_t)Nk * D * 4);
                for (int h = 0; h < H; h++)
                    for (int j = 0; j < Nk; j++)
                        for (int d = 0; d < hd; d++) {
                            kh[((size_t)h * Nk + j) * hd + d] = k[(size_t)j * D + h * hd + d];
                            vh[((size_t)h * Nk + j) * hd + d] = v[(size_t)j * D + h * hd + d];
                        }
                attention_forward(out, D, lse, q, D, kh, hd, (size_t)Nk * hd, vh, hd,
                                  (size_t)Nk * hd, mask, Nq, Nk, D, H, &cfgs[c], scr);
                free(kh), free(vh);
            }
            for (int i = 0; i < Nq * D; i++)
                ck_assert_msg(fabs(out[i] - ref[i]) <= 2e-6 * (1 + fabs(ref[i])),
                              "attention Nq%d Nk%d D%d H%d blocks %d/%d: %.9g vs %.9g", Nq, Nk, D,
                              H, cfgs[c].q_block, cfgs[c].kv_block, out[i], ref[i]);
            for (int i = 0; i < Nq * H; i++)
                ck_assert_msg(fabs(lse[i] - lref[i]) <= 2e-6 * (1 + fabs(lref[i])),
                              "lse Nq%d Nk%d blocks %d/%d: %.9g vs %.9g", Nq, Nk,
                              cfgs[c].q_block, cfgs[c].kv_block, lse[i], lref[i]);
            if (!first) first = out;
            else {
                for (int i = 0; i < Nq * D; i++)
                    ck_assert_msg(fabs(out[i] - first[i]) <= 2e-6 * (1 + fabs(first[i])),
                                  "blocked vs unblocked differ");
                free(out);
            }
            free(scr);
        }
        free(first), free(q), free(k), free(v), free(mask), free(ref), free(lref), free(lse);
    }
    /* strided operands (leading dimensions > D), as the MAB passes K and V from one buffer */
    {
        int Nq = 9, Nk = 31, D = 8, H = 2;
        float *q = rvec((size_t)Nq * D, 1), *kv = rvec((size_t)Nk * 2 * D, 1);
        float *k = malloc((size_t)Nk * D * sizeof *k), *v = malloc((size_t)Nk * D * sizeof *v);
        for (int j = 0; j < Nk; j++) {
            memcpy(k + j * D, kv + j * 2 * D, D * sizeof *k);
            memcpy(v + j * D, kv + j * 2 * D + D, D * sizeof *v);
        }
        float ref[72], out[9 * 12];
        attention_forward_ref(ref, q, k, v, NULL, Nq, Nk, D, H);
        attn_cfg c = {4, 7};
        float scr[4 * 7 + 12];
        attention_forward(out, 12, NULL, q, D, kv, 2 * D, D / H, kv + D, 2 * D, D / H, NULL, Nq,
                          Nk, D, H, &c, scr);
        for (int i = 0; i < Nq; i++)
            for (int d = 0; d < D; d++)
                ck_assert(fabs(out[i * 12 + d] - ref[i * D + d]) <=
                          2e-6 * (1 + fabs(ref[i * D + d])));
        free(q), free(kv), free(k), free(v);
    }
    /* every key masked: NaN, as PyTorch */
    {
        float q[4] = {1, 2, 3, 4}, k[8] = {1, 0, 0, 1, 1, 1, 0, 0}, v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        uint8_t mk[2] = {0, 0};
        float out[4], scr[64], lse[2];
        attn_cfg c = {1, 1};
        attention_forward(out, 4, lse, q, 4, k, 4, 2, v, 4, 2, mk, 1, 2, 4, 2, &c, scr);
        for (int i = 0; i < 4; i++) ck_assert(isnan(out[i]));
        ck_assert(lse[0] == -INFINITY && lse[1] == -INFINITY);
    }
}
END_TEST

/* ---- the graph against a plain-loop re-implementation ------------------------------------- */

typedef struct refbuf {
    float *a, *b;
} refbuf;

static void ref_mab(const mab_w *w, float *X, int nq, const float *Y, int nk,
                    const uint8_t *mask, int D, int H, int act, float eps)
{
    float *Q = malloc((size_t)nq * D * 4), *K = malloc((size_t)nk * D * 4),
          *V = malloc((size_t)nk * D * 4), *O = malloc((size_t)nq * D * 4),
          *A = malloc((size_t)nq * D * 4), *F = malloc((size_t)nq * w->F * 4),
          *G = malloc((size_t)nq * D * 4);
    linear_forward_ref(Q, X, w->in_w, w->in_b, nq, D, D);
    linear_forward_ref(K, Y, w->in_w + D * D, w->in_b + D, nk, D, D);
    linear_forward_ref(V, Y, w->in_w + 2 * D * D, w->in_b + 2 * D, nk, D, D);
    attention_forward_ref(O, Q, K, V, mask, nq, nk, D, H);
    linear_forward_ref(A, O, w->out_w, w->out_b, nq, D, D);
    for (int i = 0; i < nq * D; i++) A[i] += X[i];
    layernorm_forward_ref(A, A, w->n1_w, w->n1_b, nq, D, eps);
    linear_forward_ref(F, A, w->l1_w, w->l1_b, nq, D, w->F);
    if (act == MIST_ACT_GELU) gelu_forward_ref(F, F, (size_t)nq * w->F);
    else relu_forward_ref(F, F, (size_t)nq * w->F);
    linear_forward_ref(G, F, w->l2_w, w->l2_b, nq, w->F, D);
    for (int i = 0; i < nq * D; i++) G[i] += A[i];
    layernorm_forward_ref(X, G, w->n2_w, w->n2_b, nq, D, eps);
    free(Q), free(K), free(V), free(O), free(A), free(F), free(G);
}

/* Steps 1-8 of model.md for one dataset, written from the spec with the naive kernels
 * (preprocess none). out: one value per tau (or one). */
static void ref_graph(const mist_model *m, const double *data, int n, int dx, int dy,
                      const double *taus, int ntaus, double *out)
{
    const mist_arch *a = mist_model_arch(m);
    const mist_params *p = &m->p;
    int D = a->D, P = a->max_input_dim, H = a->H;
    float eps = (float)a->ln_eps;
    float *in = calloc((size_t)n * P, 4), *h = malloc((size_t)n * 2 * D * 4),
          *X = malloc((size_t)n * D * 4);
    uint8_t *mask = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < dx + dy; j++) s += (float)data[i * (dx + dy) + j];
        mask[i] = s != 0.0f;
        for (int j = 0; j < dx; j++) in[i * P + j] = (float)data[i * (dx + dy) + j];
        int yb = a->input_layout == MIST_LAYOUT_PACKED ? dx : a->max_dx;
        for (int j = 0; j < dy; j++) in[i * P + yb + j] = (float)data[i * (dx + dy) + dx + j];
    }
    linear_forward_ref(h, in, p->emb0.w, p->emb0.b, n, P, 2 * D);
    gelu_forward_ref(h, h, (size_t)n * 2 * D);
    layernorm_forward_ref(h, h, p->emb2_w, p->emb2_b, n, 2 * D, eps);
    linear_forward_ref(X, h, p->emb4.w, p->emb4.b, n, 2 * D, D);
    gelu_forward_ref(X, X, (size_t)n * D);
    layernorm_forward_ref(X, X, p->emb6_w, p->emb6_b, n, D, eps);
    for (int i = 0; i < a->n_feature_sab; i++) {
        ref_mab(&p->fsab[i], X, n, X, n, a->input_layout == MIST_LAYOUT_PACKED ? mask : NULL, D,
                H, a->activation, eps);
        layernorm_forward_ref(X, X, p->fln_w[i], p->fln_b[i], n, D, eps);
    }
    float *I = malloc((size_t)a->n_inds * D * 4);
    for (int i = 0; i < a->n_isab; i++) {
        memcpy(I, p->isab_i[i], (size_t)a->n_inds * D * 4);
        ref_mab(&p->isab0[i], I, a->n_inds, X, n, NULL, D, H, a->activation, eps);
        ref_mab(&p->isab1[i], X, n, I, a->n_inds, NULL, D, H, a->activation, eps);
    }
    float *S = malloc((size_t)a->n_seeds * D * 4), Z[64], R[64];
    memcpy(S, p->pool_s, (size_t)a->n_seeds * D * 4);
    ref_mab(&p->pool, S, a->n_seeds, X, n, NULL, D, H, a->activation, eps);
    for (int i = 0; i < a->n_dec; i++)
        ref_mab(&p->dec[i], S, a->n_seeds, S, a->n_seeds, NULL, D, H, a->activation, eps);
    memcpy(Z, p->dec_s, (size_t)D * 4);
    ref_mab(&p->dec_pma, Z, 1, S, a->n_seeds, NULL, D, H, a->activation, eps);
    linear_forward_ref(R, Z, p->out.w, p->out.b, 1, D, D);
    for (int t = 0; t < (ntaus ? ntaus : 1); t++) {
        float z[300], z2[300];
        memcpy(z, R, (size_t)D * 4);
        if (a->quantile_conditioned) z[D] = (float)(ntaus ? taus[t] : 0.5);
        for (int l = 0; l < a->n_rho; l++) {
            linear_forward_ref(z2, z, p->rho[l].w, p->rho[l].b, 1, p->rho[l].in, p->rho[l].out);
            if (l < a->n_rho - 1) relu_forward_ref(z2, z2, (size_t)p->rho[l].out);
            memcpy(z, z2, (size_t)p->rho[l].out * 4);
        }
        out[t] = z[0];
    }
    free(in), free(h), free(X), free(mask), free(I), free(S);
}

START_TEST(test_graph_vs_reference)
{
    mist_err err;
    const double taus[4] = {0.1, 0.5, 0.9, 0.3};
    for (int layout = 0; layout < 2; layout++)
        for (int qc = 0; qc < 2; qc++) {
            mist_model *m = tiny_model(layout, MIST_PREP_NONE, qc, 11 + layout * 2 + qc);
            mist_model_set_raw_quantiles(m, 1);
            int dx = 3, dy = layout == MIST_LAYOUT_PACKED ? 3 : 2, n = 37;
            double *x = rdata((size_t)n, dx, dy);
            /* rows that sum to exactly 0: masked keys in the packed feature block */
            for (int j = 0; j < dx + dy; j++) x[4 * (dx + dy) + j] = 0.0;
            x[9 * (dx + dy) + 0] = 0.75, x[9 * (dx + dy) + 1] = -0.75;
            for (int j = 2; j < dx + dy; j++) x[9 * (dx + dy) + j] = 0.0;
            double got[4], want[4];
            int nt = qc ? 4 : 0;
            ck_assert_msg(mist_model_estimate(m, x, (size_t)n, dx, dy, qc ? taus : NULL,
                                              (size_t)nt, got, &err) == MIST_OK,
                          "%s", err.msg);
            ref_graph(m, x, n, dx, dy, taus, nt, want);
            for (int t = 0; t < (nt ? nt : 1); t++)
                ck_assert_msg(rel_err(got[t], want[t]) <= 2e-5,
                              "layout %d qc %d tau %d: %.9g vs reference %.9g", layout, qc, t,
                              got[t], want[t]);
            free(x);
            mist_model_free(m);
        }
}
END_TEST

/* ---- properties --------------------------------------------------------------------------- */

START_TEST(test_batch_equals_singles)
{
    mist_err err;
    for (int layout = 0; layout < 2; layout++) {
        mist_model *m = tiny_model(layout, MIST_PREP_NONE, 1, 21 + layout);
        infer_set_blocks(m, 16, 5, 7); /* blocks that straddle dataset boundaries */
        enum { NS = 6 };
        mist_data_view v[NS];
        double *bufs[NS];
        const size_t ns[NS] = {2, 17, 40, 3, 64, 9};
        for (int s = 0; s < NS; s++) {
            int dx = 1 + s % 3, dy = layout == MIST_LAYOUT_PACKED ? dx : 1 + (s + 1) % 4;
            bufs[s] = rdata(ns[s], dx, dy);
            v[s] = (mist_data_view){bufs[s], ns[s], dx, dy};
        }
        const double taus[3] = {0.05, 0.5, 0.95};
        double batch[NS * 3], one[3];
        ck_assert_msg(mist_model_estimate_batch(m, v, NS, taus, 3, batch, &err) == MIST_OK, "%s",
                      err.msg);
        for (int s = 0; s < NS; s++) {
            ck_assert_msg(mist_model_estimate(m, v[s].data, v[s].n, v[s].dx, v[s].dy, taus, 3,
                                              one, &err) == MIST_OK,
                          "%s", err.msg);
            for (int t = 0; t < 3; t++)
                ck_assert_msg(rel_err(batch[s * 3 + t], one[t]) <= 1e-5,
                              "dataset %d tau %d: batch %.9g alone %.9g", s, t, batch[s * 3 + t],
                              one[t]);
        }
        for (int s = 0; s < NS; s++) free(bufs[s]);
        mist_model_free(m);
    }
}
END_TEST

START_TEST(test_permutation_blocks_threads)
{
    mist_err err;
    mist_model *m = tiny_model(MIST_LAYOUT_PACKED, MIST_PREP_NONE, 0, 31);
    size_t n = 150;
    int d = 2;
    double *x = rdata(n, d, d), *y = malloc(n * 2 * d * sizeof *y);
    size_t *perm = malloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = rnext() % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++) memcpy(y + i * 2 * d, x + perm[i] * 2 * d, 2 * d * sizeof *y);
    double a, b, c, e;
    ck_assert(mist_model_estimate(m, x, n, d, d, NULL, 0, &a, &err) == MIST_OK);
    ck_assert(mist_model_estimate(m, y, n, d, d, NULL, 0, &b, &err) == MIST_OK);
    ck_assert_msg(rel_err(a, b) <= 1e-5, "permutation: %.9g vs %.9g", a, b);
    /* tiny blocks everywhere, streaming softmax over 4-key blocks */
    infer_set_blocks(m, 3, 2, 4);
    ck_assert(mist_model_estimate(m, x, n, d, d, NULL, 0, &c, &err) == MIST_OK);
    ck_assert_msg(rel_err(a, c) <= 1e-5, "block sizes: %.9g vs %.9g", a, c);
    mist_model_free(m);
    /* threads: the official-size model, where OpenBLAS actually splits the products */
    mist_arch oa;
    mist_arch_official(&oa, 1);
    m = mist_model_create_random(&oa, 5, &err);
    ck_assert_ptr_nonnull(m);
    int before = mist_infer_get_threads();
    double q1[3], q2[3];
    const double taus[3] = {0.05, 0.5, 0.95};
    double *z = rdata(300, 3, 3);
    ck_assert(mist_infer_set_threads(1, &err) == MIST_OK);
    ck_assert(mist_model_estimate(m, z, 300, 3, 3, taus, 3, q1, &err) == MIST_OK);
    ck_assert(mist_infer_set_threads(2, &err) == MIST_OK);
    ck_assert(mist_model_estimate(m, z, 300, 3, 3, taus, 3, q2, &err) == MIST_OK);
    for (int t = 0; t < 3; t++)
        ck_assert_msg(rel_err(q1[t], q2[t]) <= 1e-6, "threads: %.9g vs %.9g", q1[t], q2[t]);
    mist_infer_set_threads(before > 0 ? before : 1, NULL);
    (void)e;
    free(x), free(y), free(z), free(perm);
    mist_model_free(m);
}
END_TEST

START_TEST(test_quantiles_sorted_or_raw)
{
    mist_err err;
    /* keep trying seeds until the raw quantiles cross (random weights: they often do) */
    const double taus[5] = {0.9, 0.1, 0.5, 0.3, 0.7};
    int crossed = 0;
    for (uint64_t seed = 1; seed < 40 && !crossed; seed++) {
        mist_model *m = tiny_model(MIST_LAYOUT_PACKED, MIST_PREP_NONE, 1, seed);
        double *x = rdata(30, 1, 1), raw[5], sorted[5];
        mist_model_set_raw_quantiles(m, 1);
        ck_assert(mist_model_estimate(m, x, 30, 1, 1, taus, 5, raw, &err) == MIST_OK);
        mist_model_set_raw_quantiles(m, 0);
        ck_assert(mist_model_estimate(m, x, 30, 1, 1, taus, 5, sorted, &err) == MIST_OK);
        /* sorted: nondecreasing along tau, and a permutation of the raw values */
        static const int order[5] = {1, 3, 2, 4, 0}; /* taus ascending */
        for (int k = 1; k < 5; k++) ck_assert(sorted[order[k - 1]] <= sorted[order[k]]);
        double rs_[5], ss[5];
        memcpy(rs_, raw, sizeof rs_);
        memcpy(ss, sorted, sizeof ss);
        for (int i = 0; i < 5; i++)
            for (int j = i + 1; j < 5; j++) {
                if (rs_[j] < rs_[i]) { double t = rs_[i]; rs_[i] = rs_[j]; rs_[j] = t; }
                if (ss[j] < ss[i]) { double t = ss[i]; ss[i] = ss[j]; ss[j] = t; }
            }
        ck_assert(memcmp(rs_, ss, sizeof rs_) == 0);
        for (int k = 1; k < 5; k++) crossed |= raw[order[k - 1]] > raw[order[k]];
        /* no taus: the median */
        double med, med2;
        ck_assert(mist_model_estimate(m, x, 30, 1, 1, NULL, 0, &med, &err) == MIST_OK);
        const double half = 0.5;
        ck_assert(mist_model_estimate(m, x, 30, 1, 1, &half, 1, &med2, &err) == MIST_OK);
        ck_assert(med == med2);
        free(x);
        mist_model_free(m);
    }
    ck_assert_msg(crossed, "no seed gave crossing raw quantiles: the test proves nothing");
}
END_TEST

START_TEST(test_copula_invariance)
{
    mist_err err;
    mist_model *m = tiny_model(MIST_LAYOUT_SPLIT, MIST_PREP_COPULA, 1, 41);
    size_t n = 60;
    double *x = rdata(n, 2, 3), *y = malloc(n * 5 * sizeof *y);
    for (size_t i = 0; i < n * 5; i++) {
        int j = (int)(i % 5);
        y[i] = j == 0 ? exp(x[i]) : j == 3 ? 3.0 * x[i] * x[i] * x[i] + 7.0 : x[i];
    }
    const double taus[2] = {0.2, 0.8};
    double a[2], b[2];
    ck_assert_msg(mist_model_estimate(m, x, n, 2, 3, taus, 2, a, &err) == MIST_OK, "%s", err.msg);
    ck_assert(mist_model_estimate(m, y, n, 2, 3, taus, 2, b, &err) == MIST_OK);
    ck_assert(a[0] == b[0] && a[1] == b[1]); /* ranks only: bit-identical */
    mist_model_free(m);
    m = tiny_model(MIST_LAYOUT_SPLIT, MIST_PREP_ZSCORE, 0, 42);
    for (size_t i = 0; i < n * 5; i++) y[i] = 1000.0 + 50.0 * x[i];
    ck_assert(mist_model_estimate(m, x, n, 2, 3, NULL, 0, a, &err) == MIST_OK);
    ck_assert(mist_model_estimate(m, y, n, 2, 3, NULL, 0, b, &err) == MIST_OK);
    ck_assert_msg(rel_err(a[0], b[0]) <= 1e-5, "zscore: %.9g vs %.9g", a[0], b[0]);
    free(x), free(y);
    mist_model_free(m);
}
END_TEST

static void expect_err(mist_model *m, const double *x, size_t n, int dx, int dy,
                       const double *taus, size_t nt, int code, const char *needle)
{
    mist_err err = {0};
    double out[8];
    int rc = mist_model_estimate(m, x, n, dx, dy, taus, nt, out, &err);
    ck_assert_msg(rc == code, "expected code %d, got %d (%s)", code, rc, err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

START_TEST(test_input_errors)
{
    mist_model *pk = tiny_model(MIST_LAYOUT_PACKED, MIST_PREP_NONE, 1, 51);
    mist_model *pt = tiny_model(MIST_LAYOUT_SPLIT, MIST_PREP_NONE, 0, 52);
    double *x = rdata(20, 4, 4);
    const double tau_bad[2] = {0.5, 1.0}, tau_ok[1] = {0.5};
    expect_err(pk, x, 20, 2, 3, NULL, 0, MIST_EINVAL, "dx == dy");
    expect_err(pk, x, 10, 5, 5, NULL, 0, MIST_EINVAL, "exceeds this model's maximum");
    expect_err(pt, x, 10, 5, 2, NULL, 0, MIST_EINVAL, "exceed this model's maxima");
    expect_err(pk, x, 1, 1, 1, NULL, 0, MIST_EDATA, "at least 2 rows");
    expect_err(pk, x, 20, 1, 1, tau_bad, 2, MIST_EINVAL, "outside (0, 1)");
    expect_err(pt, x, 20, 1, 1, tau_ok, 1, MIST_EINVAL, "not quantile-conditioned");
    expect_err(pk, x, 20, 0, 1, NULL, 0, MIST_EINVAL, "dx and dy must be >= 1");
    x[7] = NAN;
    expect_err(pk, x, 20, 1, 1, NULL, 0, MIST_EDATA, "non-finite");
    x[7] = INFINITY;
    expect_err(pt, x, 20, 2, 2, NULL, 0, MIST_EDATA, "non-finite");
    x[7] = 1e300;
    expect_err(pk, x, 20, 1, 1, NULL, 0, MIST_EDATA, "float32 range");
    double z[6] = {0, 0, 1.5, -1.5, 0, 0};
    expect_err(pk, z, 3, 1, 1, NULL, 0, MIST_EDATA, "every row sums to exactly 0");
    /* the split layout has no such mask: fine there */
    mist_err err;
    double out;
    ck_assert(mist_model_estimate(pt, z, 3, 1, 1, NULL, 0, &out, &err) == MIST_OK);
    /* a batch names the dataset */
    mist_data_view v[2] = {{x + 8, 5, 1, 1}, {z, 3, 1, 1}};
    double o2[2];
    ck_assert(mist_model_estimate_batch(pk, v, 2, NULL, 0, o2, &err) == MIST_EDATA);
    ck_assert_msg(strstr(err.msg, "dataset 2") != NULL, "%s", err.msg);
    free(x);
    mist_model_free(pk);
    mist_model_free(pt);
}
END_TEST

START_TEST(test_arch_validation_and_count)
{
    mist_arch a;
    mist_err err;
    mist_arch_official(&a, 1);
    ck_assert_uint_eq(mist_arch_param_count(&a), 5522177);
    mist_arch_official(&a, 0);
    ck_assert_uint_eq(mist_arch_param_count(&a), 5521921);
    ck_assert(mist_arch_validate(&a, &err) == MIST_OK);
    /* the table and the closed-form count agree on odd shapes */
    for (int rep = 0; rep < 20; rep++) {
        tiny_arch(&a, rep % 2, 0, rep % 3 == 0);
        a.n_feature_sab = rint_(0, 3), a.n_isab = rint_(0, 3), a.n_dec = rint_(0, 2);
        a.n_rho = rint_(1, 4), a.H = rint_(1, 4), a.D = a.H * rint_(1, 5);
        tensor_spec *t;
        size_t nt;
        ck_assert(arch_tensor_table(&a, NULL, &t, &nt, &err) == MIST_OK);
        size_t sum = 0;
        for (size_t i = 0; i < nt; i++) sum += t[i].numel;
        ck_assert_uint_eq(sum, mist_arch_param_count(&a));
        free(t);
    }
    mist_arch_official(&a, 0);
    a.H = 7;
    ck_assert(mist_arch_validate(&a, &err) == MIST_EINVAL && strstr(err.msg, "multiple of H"));
    mist_arch_official(&a, 0);
    a.max_dx = 40;
    ck_assert(mist_arch_validate(&a, &err) == MIST_EINVAL && strstr(err.msg, "packed"));
    mist_arch_official(&a, 0);
    a.D = 1 << 20;
    ck_assert(mist_arch_validate(&a, &err) == MIST_EINVAL && strstr(err.msg, "D ="));
    mist_arch_official(&a, 0);
    a.ff = 8192, a.n_isab = 64, a.D = 8192, a.H = 1;
    ck_assert(mist_arch_validate(&a, &err) == MIST_EINVAL && strstr(err.msg, "exceed"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("infer");
    tu_case(s, "kernels", 0, test_linear_vs_ref, test_layernorm_vs_ref, test_gelu_exp_vs_ref,
            test_softmax_vs_ref, test_attention_blocked_streaming, NULL);
    tu_case(s, "graph", 120, test_arch_validation_and_count, test_graph_vs_reference,
            test_batch_equals_singles, test_permutation_blocks_threads,
            test_quantiles_sorted_or_raw, test_copula_invariance, test_input_errors, NULL);
    return tu_run(s) ? 1 : 0;
}
