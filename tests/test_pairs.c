/* The pairs layout (infer/pairs.c): the pair list against brute force, the fast front end
 * against its plain double reference, its Gaussian features against the classical Gaussian
 * estimator and a direct Pearson correlation (and unchanged by scales of 1e-200 and 1e154),
 * and the invariances the layout is built for, end to end through mist_model_estimate: every
 * quantile unchanged (1e-5) when rows are permuted, when the columns within X or within Y are
 * permuted, and when X and Y are swapped. The backward pass is checked against finite
 * differences with the rest of the graph in test_backward.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_classical.h"
#include "mist_train.h"
#include "testutil.h"

static uint64_t rs = 0x9E3779B97F4A7C15ULL;
#define rnext() tu_rnext(&rs)
#define runif() tu_runif(&rs)
#define rnorm() tu_rnorm(&rs)

/* n rows of dx + dy columns with dependence inside and across the blocks, and a non-monotone
 * column (so that the statistic sees more than correlations). */
static double *rdata(size_t n, int dx, int dy)
{
    size_t c = (size_t)(dx + dy);
    double *x = malloc(n * c * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) {
        double z = rnorm();
        for (size_t j = 0; j < c; j++) x[i * c + j] = (0.3 + 0.2 * (double)j) * z + rnorm();
        x[i * c + c - 1] = z * z + 0.3 * rnorm();
    }
    return x;
}

/* A random pairs model (every parameter perturbed, so LayerNorm weights and biases are not
 * 1 / 0). qc: quantile-conditioned. */
static mist_model *pairs_model(int qc, int act, uint64_t seed)
{
    mist_arch a;
    mist_err err;
    ck_assert_int_eq(mist_arch_preset("pairs-tiny", &a, &err), 0);
    a.max_dx = a.max_dy = 6;
    a.quantile_conditioned = qc;
    a.activation = act;
    a.max_input_dim = 6;
    a.D = 8;
    mist_model *m = mist_model_create_random(&a, seed, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    float *p = mist_model_params(m);
    for (size_t i = 0; i < mist_model_param_count(m); i++) p[i] += (float)(0.1 * rnorm());
    return m;
}

/* A model of arch a (the same graph as m0's, options aside) with m0's parameters. */
static mist_model *with_arch(mist_model *m0, const mist_arch *a)
{
    mist_err err;
    mist_model *m = mist_model_create_random(a, 1, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_uint_eq(mist_model_param_count(m), mist_model_param_count(m0));
    memcpy(mist_model_params(m), mist_model_params(m0),
           mist_model_param_count(m0) * sizeof(float));
    return m;
}

START_TEST(test_pair_list)
{
    for (int dx = 1; dx <= 6; dx++)
        for (int dy = 1; dy <= 6; dy++) {
            int d = dx + dy;
            double *x = rdata(5, dx, dy);
            pairs_set s;
            mist_err err;
            ck_assert_int_eq(pairs_set_prepare(&s, x, 5, dx, dy, &err), 0);
            ck_assert_uint_eq(s.T, (size_t)(d * (d - 1) / 2)); /* every unordered pair */
            ck_assert_uint_eq(s.Tc, (size_t)(dx * dy));
            int seen[12][12] = {{0}};
            for (size_t t = 0; t < s.T; t++) {
                int a = s.ab[2 * t], b = s.ab[2 * t + 1];
                ck_assert_int_lt(a, b);
                ck_assert_int_lt(b, d);
                ck_assert_int_eq(t < s.Tc, a < dx && b >= dx); /* cross pairs first */
                ck_assert_int_eq(seen[a][b]++, 0);
            }
            pairs_set_free(&s);
            free(x);
        }
}
END_TEST

START_TEST(test_forward_matches_reference)
{
    int act = _i ? MIST_ACT_RELU : MIST_ACT_GELU;
    mist_model *m = pairs_model(0, act, 3);
    const mist_arch *a = mist_model_arch(m);
    const mist_params *p = &m->p;
    size_t ns[4] = {3, 64, 150, 29};
    int dxs[4] = {1, 3, 4, 6}, dys[4] = {1, 2, 4, 1};
    for (int k = 0; k < 4; k++) {
        double *x = rdata(ns[k], dxs[k], dys[k]);
        pairs_set s;
        mist_err err;
        ck_assert_int_eq(pairs_set_prepare(&s, x, ns[k], dxs[k], dys[k], &err), 0);
        int D = a->D, P = a->max_input_dim;
        float *tok = malloc(s.T * D * sizeof *tok), *ref = malloc(s.T * D * sizeof *ref);
        float *pooled = malloc(s.T * P * sizeof *pooled);
        float *scr = malloc(pairs_scratch_floats(P, s.T) * sizeof *scr);
        pairs_forward(tok, pooled, &s, p, D, P, act, scr);
        pairs_forward_ref(ref, &s, p, D, P, act);
        double worst = 0;
        for (size_t i = 0; i < s.T * (size_t)D; i++)
            worst = fmax(worst, fabs((double)tok[i] - ref[i]) / (1 + fabs((double)ref[i])));
        ck_assert_msg(worst <= 2e-5, "n %zu: %g", ns[k], worst);
        free(tok), free(ref), free(pooled), free(scr);
        pairs_set_free(&s);
        free(x);
    }
    mist_model_free(m);
}
END_TEST

/* The Gaussian features: the whole-block MI of the raw values equals the classical Gaussian
 * estimator (no shrinkage at n >= 2 (d + 1)); a pair's feature is -1/4 log(1 - r^2) of its
 * Pearson r computed here directly; scaling the data by 1e-200 or 1e154 changes nothing. */
START_TEST(test_gauss_features)
{
    int dx = 3, dy = 2;
    size_t n = 400, c = 5;
    double *x = rdata(n, dx, dy);
    pairs_set s;
    mist_err err;
    ck_assert_int_eq(pairs_set_prepare(&s, x, n, dx, dy, &err), 0);
    double g;
    ck_assert_int_eq(mist_gaussian_mi(x, n, dx, dy, &g, &err), 0);
    ck_assert_msg(fabs(4.0 * s.glob[3] - g) <= 1e-6 * (1 + g), "%g vs %g", 4.0 * s.glob[3], g);
    for (size_t t = 0; t < s.T; t++) {
        int a = s.ab[2 * t], b = s.ab[2 * t + 1];
        double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < n; i++) ma += x[i * c + a] / n, mb += x[i * c + b] / n;
        for (size_t i = 0; i < n; i++) {
            double u = x[i * c + a] - ma, v = x[i * c + b] - mb;
            sab += u * v, saa += u * u, sbb += v * v;
        }
        double r = sab / sqrt(saa * sbb), want = -0.25 * log(1 - r * r);
        ck_assert_msg(fabs(s.stat[t * PAIRS_NSTAT + 1] - want) <= 1e-6 * (1 + want), "%g vs %g",
                      s.stat[t * PAIRS_NSTAT + 1], want);
    }
    for (int k = 0; k < 2; k++) {
        double f = k ? 1e154 : 1e-200;
        double *y = malloc(n * c * sizeof *y);
        for (size_t i = 0; i < n * c; i++) y[i] = x[i] * f;
        pairs_set s2;
        ck_assert_int_eq(pairs_set_prepare(&s2, y, n, dx, dy, &err), 0);
        for (int j = 0; j < PAIRS_NGLOB; j++)
            ck_assert_msg(fabsf(s2.glob[j] - s.glob[j]) <= 1e-6f * (1 + fabsf(s.glob[j])),
                          "scale %g, feature %d: %g vs %g", f, j, s2.glob[j], s.glob[j]);
        for (size_t i = 0; i < s.T * PAIRS_NSTAT; i++)
            ck_assert(fabsf(s2.stat[i] - s.stat[i]) <= 1e-6f * (1 + fabsf(s.stat[i])));
        pairs_set_free(&s2);
        free(y);
    }
    pairs_set_free(&s);
    free(x);
}
END_TEST

/* pairs_backward alone against central differences of L = sum(tok * R) along a random
 * direction in each of its tensors (h 1e-2: float rounding of L is ~1e-6 of it; with ReLU
 * the few (row, pair) units that cross a kink within h move L by a second-order amount),
 * within 1e-2 relative. The whole graph's backward is checked in test_backward.c (GELU). */
static double tok_loss(const pairs_set *s, const mist_params *p, int D, int P, int act,
                       const float *R, float *tok, float *pooled, float *scr)
{
    pairs_forward(tok, pooled, s, p, D, P, act, scr);
    double L = 0;
    for (size_t i = 0; i < s->T * (size_t)D; i++) L += (double)tok[i] * R[i];
    return L;
}

START_TEST(test_backward_fd)
{
    int act = _i ? MIST_ACT_RELU : MIST_ACT_GELU;
    mist_model *m = pairs_model(0, act, 5);
    const mist_arch *a = mist_model_arch(m);
    int D = a->D, P = a->max_input_dim, dx = 3, dy = 2;
    size_t n = 90;
    double *x = rdata(n, dx, dy);
    pairs_set s;
    mist_err err;
    ck_assert_int_eq(pairs_set_prepare(&s, x, n, dx, dy, &err), 0);
    float *params = mist_model_params(m);
    size_t np = mist_model_param_count(m);
    float *grads = calloc(np, sizeof *grads), *R = malloc(s.T * D * sizeof *R);
    float *tok = malloc(s.T * D * sizeof *tok), *pooled = malloc(s.T * P * sizeof *pooled);
    float *scr = malloc(pairs_scratch_floats(P, s.T) * sizeof *scr);
    for (size_t i = 0; i < s.T * (size_t)D; i++) R[i] = (float)rnorm();
    tok_loss(&s, &m->p, D, P, act, R, tok, pooled, scr);
    pairs_backward(grads, params, R, pooled, &s, &m->p, D, P, act, scr);
    const float *tensors[7] = {m->p.pc0.w, m->p.pc0.b, m->p.pc1.w, m->p.pw0.w,
                               m->p.pw1.b, m->p.pw2.w, m->p.pstat_w};
    size_t lens[7] = {(size_t)P * PAIRS_NFEAT, (size_t)P, (size_t)P * P, (size_t)P * PAIRS_NFEAT,
                      (size_t)P, (size_t)D * P, (size_t)D * PAIRS_NSTAT};
    for (int k = 0; k < 7; k++) {
        float *w = params + (tensors[k] - params);
        double an = 0, un = 0, *u = malloc(lens[k] * sizeof *u);
        for (size_t i = 0; i < lens[k]; i++) u[i] = rnorm(), un += u[i] * u[i];
        for (size_t i = 0; i < lens[k]; i++) u[i] /= sqrt(un), an += u[i] * grads[w - params + i];
        float *save = malloc(lens[k] * sizeof *save);
        memcpy(save, w, lens[k] * sizeof *save);
        const double h = act == MIST_ACT_RELU ? 2e-3 : 1e-2;
        for (size_t i = 0; i < lens[k]; i++) w[i] = (float)(save[i] + h * u[i]);
        double fp = tok_loss(&s, &m->p, D, P, act, R, tok, pooled, scr);
        for (size_t i = 0; i < lens[k]; i++) w[i] = (float)(save[i] - h * u[i]);
        double fm = tok_loss(&s, &m->p, D, P, act, R, tok, pooled, scr);
        memcpy(w, save, lens[k] * sizeof *save);
        double fd = (fp - fm) / (2 * h);
        ck_assert_msg(fabs(fd - an) <= 1e-2 * fabs(an) + 1e-3, "act %d tensor %d: fd %g analytic %g",
                      act, k, fd, an);
        free(u), free(save);
    }
    free(grads), free(R), free(tok), free(pooled), free(scr);
    pairs_set_free(&s);
    free(x);
    mist_model_free(m);
}
END_TEST

/* Quantiles of data rearranged by a column map: out[i][j] = in[rowmap[i]][colmap[j]]. */
static void estimate_q(mist_model *m, const double *x, size_t n, int dx, int dy,
                       const size_t *rowmap, const int *colmap, double *q)
{
    size_t c = (size_t)(dx + dy);
    double *y = malloc(n * c * sizeof *y);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++) y[i * c + j] = x[rowmap[i] * c + (size_t)colmap[j]];
    double taus[3] = {0.05, 0.5, 0.95};
    mist_err err;
    ck_assert_msg(mist_model_estimate(m, y, n, dx, dy, taus, 3, q, &err) == 0, "%s", err.msg);
    free(y);
}

static void shuffle_sz(size_t *v, size_t n)
{
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rnext() % (i + 1)), t = v[i];
        v[i] = v[j], v[j] = t;
    }
}
static void shuffle_int(int *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnext() % (uint64_t)(i + 1)), t = v[i];
        v[i] = v[j], v[j] = t;
    }
}

/* A copy of m0 with sum_head set: m0's parameters, then the readout w drawn at random (w_scale
 * 0: zero, as a fresh model or mist train --init starts). */
static mist_model *with_sum_head(mist_model *m0, double w_scale)
{
    mist_arch a = *mist_model_arch(m0);
    a.sum_head = 1;
    mist_err err;
    mist_model *m = mist_model_create_random(&a, 1, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    size_t n0 = mist_model_param_count(m0);
    ck_assert_uint_eq(mist_model_param_count(m), n0 + (size_t)a.D);
    memcpy(mist_model_params(m), mist_model_params(m0), n0 * sizeof(float));
    ck_assert(m->p.sum_w == mist_model_params(m) + n0); /* the last tensor */
    for (int j = 0; j < a.D; j++) m->p.sum_w[j] = (float)(w_scale * rnorm());
    return m;
}

/* Loop 0, 1: GELU, ReLU; 2, 3: the same with gauss_base, gauss_base_unbiased and ksg_feature
 * (3 at n = 7,000, where the KSG feature runs on a subsample of the rows); 4, 5: the same as
 * 2, 3 with sign_canon and sum_head (a random readout), where negating columns must change nothing either (and without it, in
 * loops 0-3, does change the answer: the check can fail). */
START_TEST(test_invariances)
{
    mist_model *m = pairs_model(1, _i % 2 ? MIST_ACT_RELU : MIST_ACT_GELU, 17);
    const int canon = _i >= 4;
    if (_i >= 2) {
        mist_arch a = *mist_model_arch(m);
        a.gauss_base = a.gauss_base_unbiased = a.ksg_feature = 1;
        a.sign_canon = canon;
        mist_model *m2 = with_arch(m, &a);
        mist_model_free(m);
        m = m2;
        if (canon) {
            m2 = with_sum_head(m, 1);
            mist_model_free(m);
            m = m2;
        }
    }
    mist_model_set_raw_quantiles(m, 1); /* the network itself, no sorting that could hide */
    int dims[3][2] = {{3, 4}, {1, 5}, {2, 2}};
    size_t n = _i == 3 || _i == 5 ? 7000 : 300;
    if (n == 7000) ck_assert(pairs_ksg_rows(n, 7) < n);
    for (int k = 0; k < 3; k++) {
        int dx = dims[k][0], dy = dims[k][1], d = dx + dy;
        double *x = rdata(n, dx, dy);
        size_t *rows = malloc(n * sizeof *rows);
        int cols[12];
        for (size_t i = 0; i < n; i++) rows[i] = i;
        for (int j = 0; j < d; j++) cols[j] = j;
        double q0[3], q[3];
        estimate_q(m, x, n, dx, dy, rows, cols, q0);
        double *xn = malloc(n * (size_t)d * sizeof *xn);
        for (int what = 0; what < 6; what++) {
            for (size_t i = 0; i < n; i++) rows[i] = i;
            for (int j = 0; j < d; j++) cols[j] = j;
            int ndx = dx, ndy = dy;
            if (what == 0) shuffle_sz(rows, n);
            if (what == 1) shuffle_int(cols, dx);          /* within X */
            if (what == 2) shuffle_int(cols + dx, dy);     /* within Y */
            if (what == 3) {                               /* swap: [Y, X] */
                for (int j = 0; j < dy; j++) cols[j] = dx + j;
                for (int j = 0; j < dx; j++) cols[dy + j] = j;
                ndx = dy, ndy = dx;
            }
            /* 4: a random nonempty set of columns negated; 5: those of X and Y all at once */
            int neg[12] = {0}, any = 0;
            while (what >= 4 && !any)
                for (int j = 0; j < d; j++) any |= neg[j] = what == 5 ? 1 : (int)(rnext() & 1);
            for (size_t i = 0; i < n * (size_t)d; i++) xn[i] = neg[i % (size_t)d] ? -x[i] : x[i];
            estimate_q(m, xn, n, ndx, ndy, rows, cols, q);
            if (what >= 4 && !canon) {
                if (_i == 0 && what == 4)
                    ck_assert_msg(fabs(q[1] - q0[1]) > 2e-5, "%dx%d: negating columns moved "
                                  "nothing without sign_canon (%g)", dx, dy, q[1]);
                continue;
            }
            for (int t = 0; t < 3; t++)
                ck_assert_msg(fabs(q[t] - q0[t]) <= 1e-5, "%dx%d, transform %d, tau %d: %.9g vs %.9g",
                              dx, dy, what, t, q[t], q0[t]);
        }
        free(xn);
        /* and the model does look at the values: another dependence moves the answer by more
         * than the tolerance above (random weights: the effect is small but far from rounding) */
        for (size_t i = 0; i < n * (size_t)d; i++) x[i] = i % (size_t)d < (size_t)dx ? x[i] : rnorm();
        for (size_t i = 0; i < n; i++) rows[i] = i;
        estimate_q(m, x, n, dx, dy, rows, cols, q);
        ck_assert_msg(fabs(q[1] - q0[1]) > 2e-5, "%dx%d: estimate %g (before %g) does not depend on the data", dx, dy, q[1], q0[1]);
        free(rows);
        free(x);
    }
    mist_model_free(m);
}
END_TEST

static int has_bytes(const unsigned char *b, size_t len, const char *s)
{
    size_t l = strlen(s);
    for (size_t i = 0; i + l <= len; i++)
        if (!memcmp(b + i, s, l)) return 1;
    return 0;
}

/* gauss_base: the same network plus the Gaussian-copula MI of the blocks (normal scores, then
 * the Gaussian MI of mist_gaussian_mi), at every quantile, within float rounding of I/4; saved
 * and loaded back it keeps the flag, and a model without it writes no gauss_base key. */
START_TEST(test_gauss_base)
{
    int dx = 3, dy = 2;
    size_t n = 300;
    double *x = rdata(n, dx, dy), *z = malloc(n * 5 * sizeof *z);
    mist_err err;
    ck_assert_int_eq(mist_copula_transform(z, x, n, dx + dy, &err), 0);
    double ic;
    ck_assert_int_eq(mist_gaussian_mi(z, n, dx, dy, &ic, &err), 0);
    mist_model *m0 = pairs_model(1, MIST_ACT_RELU, 41);
    mist_arch a = *mist_model_arch(m0);
    a.gauss_base = 1;
    mist_model *m1 = with_arch(m0, &a);
    const double taus[3] = {0.05, 0.5, 0.95};
    double q0[3], q1[3], q2[3];
    mist_model_set_raw_quantiles(m0, 1);
    mist_model_set_raw_quantiles(m1, 1);
    ck_assert_int_eq(mist_model_estimate(m0, x, n, dx, dy, taus, 3, q0, &err), 0);
    ck_assert_int_eq(mist_model_estimate(m1, x, n, dx, dy, taus, 3, q1, &err), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(fabs(q1[i] - q0[i] - ic) <= 1e-6 * (1 + ic), "tau %g: %g - %g vs %g",
                      taus[i], q1[i], q0[i], ic);
    const char *dir = tu_tmpdir("gauss-base");
    char p0[512], p1[512];
    snprintf(p0, sizeof p0, "%s/m0.msgpack", dir);
    snprintf(p1, sizeof p1, "%s/m1.msgpack", dir);
    ck_assert_int_eq(mist_model_save(m0, p0, &err), 0);
    ck_assert_int_eq(mist_model_save(m1, p1, &err), 0);
    size_t l0, l1;
    unsigned char *b0 = tu_slurp(p0, &l0), *b1 = tu_slurp(p1, &l1);
    ck_assert(!has_bytes(b0, l0, "gauss_base") && has_bytes(b1, l1, "gauss_base"));
    mist_model *r1 = mist_model_open(p1, &err);
    ck_assert_msg(r1 != NULL, "%s", err.msg);
    ck_assert_int_eq(mist_model_arch(r1)->gauss_base, 1);
    mist_model_set_raw_quantiles(r1, 1);
    ck_assert_int_eq(mist_model_estimate(r1, x, n, dx, dy, taus, 3, q2, &err), 0);
    ck_assert(memcmp(q1, q2, sizeof q1) == 0);
    /* the split layout has no block features to add */
    mist_arch b;
    ck_assert_int_eq(mist_arch_preset("tiny", &b, &err), 0);
    b.gauss_base = 1;
    ck_assert_int_ne(mist_arch_validate(&b, &err), 0);
    ck_assert_msg(strstr(err.msg, "gauss_base"), "%s", err.msg);
    free(b0), free(b1), free(x), free(z);
    mist_model_free(m0), mist_model_free(m1), mist_model_free(r1);
}
END_TEST

/* gauss_base_unbiased: the base is the copula MI less its Wishart bias, i.e. the classical
 * estimate `gaussian --copula --unbiased` clamped at 0, from n >= dx + dy + 3 rows; below that
 * the plain gauss_base value. Checked at several n (one below the limit) and on dependent and
 * independent data (where the clamp can act), after a save/load round trip. */
START_TEST(test_gauss_base_unbiased)
{
    int dx = 3, dy = 2;
    mist_err err;
    mist_model *m0 = pairs_model(1, MIST_ACT_RELU, 43);
    mist_arch a = *mist_model_arch(m0);
    a.gauss_base_unbiased = 1;
    ck_assert_int_ne(mist_arch_validate(&a, &err), 0); /* needs gauss_base */
    ck_assert_msg(strstr(err.msg, "gauss_base_unbiased"), "%s", err.msg);
    a.gauss_base = 1;
    mist_model *m2 = with_arch(m0, &a);
    a.gauss_base_unbiased = 0;
    mist_model *m1 = with_arch(m0, &a);
    const char *dir = tu_tmpdir("gauss-base-unbiased");
    char path[512];
    snprintf(path, sizeof path, "%s/m2.msgpack", dir);
    ck_assert_int_eq(mist_model_save(m2, path, &err), 0);
    mist_model *r2 = mist_model_open(path, &err);
    ck_assert_msg(r2 != NULL, "%s", err.msg);
    ck_assert_int_eq(mist_model_arch(r2)->gauss_base_unbiased, 1);
    mist_model *ms[3] = {m0, m1, r2};
    for (int k = 0; k < 3; k++) mist_model_set_raw_quantiles(ms[k], 1);
    const double taus[2] = {0.1, 0.9};
    const size_t ns[4] = {7, 8, 40, 300};
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.copula = o.unbiased = 1;
    for (int dep = 0; dep < 2; dep++)
        for (int t = 0; t < 4; t++) {
            size_t n = ns[t];
            double *x = rdata(n, dx, dy);
            if (!dep) /* shuffle Y's rows against X's: independent blocks */
                for (size_t i = n - 1; i > 0; i--) {
                    size_t j = (size_t)(fabs(rnorm()) * 1e6) % (i + 1);
                    for (int c = dx; c < dx + dy; c++) {
                        double v = x[i * 5 + c];
                        x[i * 5 + c] = x[j * 5 + c], x[j * 5 + c] = v;
                    }
                }
            double q[3][2];
            for (int k = 0; k < 3; k++)
                ck_assert_msg(mist_model_estimate(ms[k], x, n, dx, dy, taus, 2, q[k], &err) == 0,
                              "%s", err.msg);
            double want;
            if (n >= (size_t)(dx + dy + 3)) {
                mist_est_result res;
                ck_assert_int_eq(mist_estimate_classical("gaussian", x, n, dx, dy, &o, &res, &err), 0);
                want = fmax(0.0, res.estimate);
            } else {
                want = q[1][0] - q[0][0]; /* the plain base */
            }
            for (int i = 0; i < 2; i++)
                ck_assert_msg(fabs(q[2][i] - q[0][i] - want) <= 1e-9 * (1 + want),
                              "n %zu dep %d tau %g: %.12g - %.12g vs %.12g", n, dep, taus[i],
                              q[2][i], q[0][i], want);
            free(x);
        }
    mist_model_free(m0), mist_model_free(m1), mist_model_free(m2), mist_model_free(r2);
}
END_TEST

/* ksg_feature: glob[5] is KSG (k = 5, no z-scoring, no noise) of the normal scores rounded to float, as
 * mist_ksg computes it on them (all rows, n below the subsample size); beyond it, the
 * subsample's value stays close to the full-data KSG; ties make KSG undefined and the copula
 * MI stands in, flagged by glob[6] = -1. */
START_TEST(test_ksg_feature)
{
    mist_err err;
    int dx = 2, dy = 1, d = 3;
    size_t ns[2] = {400, 30000};
    for (int k = 0; k < 2; k++) {
        size_t n = ns[k];
        double *x = rdata(n, dx, dy), *z = malloc(n * d * sizeof *z);
        pairs_set s;
        ck_assert_int_eq(pairs_set_prepare(&s, x, n, dx, dy, &err), 0);
        ck_assert_int_eq(pairs_set_ksg(&s, &err), 0);
        ck_assert(s.ksg_ok && s.glob[6] >= 0);
        ck_assert_int_eq(mist_copula_transform(z, x, n, d, &err), 0);
        for (size_t i = 0; i < n * d; i++) z[i] = (double)(float)z[i];
        mist_est_opts o;
        mist_est_opts_default(&o);
        o.noise = 0, o.zscore = 0;
        double ref;
        ck_assert_int_eq(mist_ksg(1, z, n, dx, dy, &o, &ref, &err), 0);
        size_t m = pairs_ksg_rows(n, d);
        ck_assert(k == 0 ? m == n : m < n / 2);
        double got = 4.0 * (double)s.glob[5];
        if (k == 0)
            ck_assert_msg(fabs(got - ref) <= 1e-6 * (1 + ref), "%.9g vs %.9g", got, ref);
        else /* a subsample of m rows: KSG's sd is about 1/sqrt(m) */
            ck_assert_msg(fabs(got - ref) <= 4.0 / sqrt((double)m), "%.6g vs %.6g", got, ref);
        ck_assert_float_eq_tol(s.glob[6], log1p(fmax(0.0, got)), 1e-6);
        pairs_set_free(&s);
        free(x), free(z);
    }
    /* two distinct rows repeated: every row equals k or more others, KSG is undefined */
    size_t n = 40;
    double *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n * d; i++) x[i] = (double)((i / d) % 2) + 0.5 * (double)(i % d);
    pairs_set s;
    ck_assert_int_eq(pairs_set_prepare(&s, x, n, dx, dy, &err), 0);
    ck_assert_int_eq(pairs_set_ksg(&s, &err), 0);
    ck_assert(!s.ksg_ok && s.glob[6] == -1.0f && s.glob[5] == s.glob[4]);
    pairs_set_free(&s);
    free(x);
}
END_TEST

/* sum_head: without an encoder (no feature SAB, no ISAB) the tokens it reads are the
 * LayerNormed pair tokens, so every output must move by exactly PAIRS_SUM_SCALE * sum over
 * the dx dy cross tokens of w . LN(tok), computed here from pairs_forward with a plain
 * LayerNorm; with the encoder the shift is linear in w (w1 + w2, -w); w = 0 changes no bit;
 * the key is saved and loaded; the split layout refuses the option. */
START_TEST(test_sum_head)
{
    mist_err err;
    mist_arch a;
    ck_assert_int_eq(mist_arch_preset("pairs-tiny", &a, &err), 0);
    a.max_dx = a.max_dy = 6, a.max_input_dim = 6, a.D = 8;
    a.quantile_conditioned = 1, a.activation = MIST_ACT_RELU;
    a.n_feature_sab = a.n_isab = 0;
    mist_model *m0 = mist_model_create_random(&a, 59, &err);
    ck_assert_msg(m0 != NULL, "%s", err.msg);
    for (size_t i = 0; i < mist_model_param_count(m0); i++)
        mist_model_params(m0)[i] += (float)(0.1 * rnorm());
    mist_model *mz = with_sum_head(m0, 0), *m1 = with_sum_head(m0, 1);
    mist_model *ms[3] = {m0, mz, m1};
    for (int k = 0; k < 3; k++) mist_model_set_raw_quantiles(ms[k], 1);
    const double taus[2] = {0.2, 0.8};
    int dxs[3] = {3, 1, 4}, dys[3] = {2, 5, 4};
    for (int c = 0; c < 3; c++) {
        int dx = dxs[c], dy = dys[c], D = a.D, P = a.max_input_dim;
        size_t n = 200;
        double *x = rdata(n, dx, dy), q[3][2];
        for (int k = 0; k < 3; k++)
            ck_assert_msg(mist_model_estimate(ms[k], x, n, dx, dy, taus, 2, q[k], &err) == 0,
                          "%s", err.msg);
        ck_assert(memcmp(q[0], q[1], sizeof q[0]) == 0);
        pairs_set s;
        ck_assert_int_eq(pairs_set_build(&s, &a, x, n, dx, dy, &err), 0);
        float *tok = malloc(s.T * (size_t)D * sizeof *tok);
        float *pooled = malloc(s.T * (size_t)P * sizeof *pooled);
        float *scr = malloc(pairs_scratch_floats(P, s.T) * sizeof *scr);
        pairs_forward(tok, pooled, &s, &m1->p, D, P, a.activation, scr);
        double want = 0;
        for (size_t t = 0; t < (size_t)(dx * dy); t++) {
            const float *v = tok + t * (size_t)D;
            double mu = 0, var = 0;
            for (int j = 0; j < D; j++) mu += v[j] / (double)D;
            for (int j = 0; j < D; j++) var += (v[j] - mu) * (v[j] - mu) / (double)D;
            for (int j = 0; j < D; j++)
                want += m1->p.sum_w[j] * ((v[j] - mu) / sqrt(var + a.ln_eps) * m1->p.pln_w[j] +
                                          m1->p.pln_b[j]);
        }
        want *= PAIRS_SUM_SCALE;
        ck_assert(fabs(want) > 1e-3);
        for (int t = 0; t < 2; t++)
            ck_assert_msg(fabs(q[2][t] - q[0][t] - want) <= 1e-5 * (1 + fabs(want)),
                          "%dx%d tau %g: shift %.9g, expected %.9g", dx, dy, taus[t],
                          q[2][t] - q[0][t], want);
        free(tok), free(pooled), free(scr), free(x);
        pairs_set_free(&s);
    }
    for (int k = 0; k < 3; k++) mist_model_free(ms[k]);

    /* with the encoder: linear in w */
    m0 = pairs_model(1, MIST_ACT_GELU, 61);
    mist_model *ma = with_sum_head(m0, 1), *mb = with_sum_head(m0, 1), *mc = with_sum_head(m0, 0),
               *mn = with_sum_head(m0, 0);
    int D = mist_model_arch(m0)->D;
    for (int j = 0; j < D; j++)
        mc->p.sum_w[j] = ma->p.sum_w[j] + mb->p.sum_w[j], mn->p.sum_w[j] = -ma->p.sum_w[j];
    mist_model *ml[5] = {m0, ma, mb, mc, mn};
    double r[5][2];
    double *x = rdata(300, 3, 3);
    for (int k = 0; k < 5; k++) {
        mist_model_set_raw_quantiles(ml[k], 1);
        ck_assert_int_eq(mist_model_estimate(ml[k], x, 300, 3, 3, taus, 2, r[k], &err), 0);
    }
    for (int t = 0; t < 2; t++) {
        double da = r[1][t] - r[0][t], db = r[2][t] - r[0][t];
        ck_assert(fabs(da) > 1e-3 && fabs(db) > 1e-3);
        ck_assert_msg(fabs(r[3][t] - r[0][t] - da - db) <= 1e-5 * (1 + fabs(da) + fabs(db)),
                      "w1 + w2: %g vs %g", r[3][t] - r[0][t], da + db);
        ck_assert_msg(fabs(r[4][t] - r[0][t] + da) <= 1e-5 * (1 + fabs(da)), "-w: %g vs %g",
                      r[4][t] - r[0][t], -da);
    }
    const char *dir = tu_tmpdir("sum-head");
    char p1[512];
    snprintf(p1, sizeof p1, "%s/m.msgpack", dir);
    ck_assert_int_eq(mist_model_save(ma, p1, &err), 0);
    size_t l1;
    unsigned char *b1 = tu_slurp(p1, &l1);
    ck_assert(has_bytes(b1, l1, "sum_head") && has_bytes(b1, l1, "pairs.sum.weight"));
    mist_model *back = mist_model_open(p1, &err);
    ck_assert_msg(back != NULL, "%s", err.msg);
    ck_assert_int_eq(mist_model_arch(back)->sum_head, 1);
    double rb[2];
    mist_model_set_raw_quantiles(back, 1);
    ck_assert_int_eq(mist_model_estimate(back, x, 300, 3, 3, taus, 2, rb, &err), 0);
    ck_assert(memcmp(rb, r[1], sizeof rb) == 0);
    mist_arch b;
    ck_assert_int_eq(mist_arch_preset("tiny", &b, &err), 0);
    b.sum_head = 1;
    ck_assert_int_ne(mist_arch_validate(&b, &err), 0);
    ck_assert_msg(strstr(err.msg, "sum_head"), "%s", err.msg);
    free(b1), free(x);
    mist_model_free(back);
    for (int k = 0; k < 5; k++) mist_model_free(ml[k]);
}
END_TEST

/* gauss_base_cap: on binary data where y1 repeats x1 (the Gaussian MI is infinite, the true MI
 * at most ln 2 + ...), the outputs are the network's plus ln of the fewer distinct rows of X and
 * of Y, counted by brute force; it needs gauss_base; on continuous data it changes nothing. */
START_TEST(test_gauss_base_cap)
{
    int dx = 3, dy = 2, d = 5;
    mist_err err;
    mist_model *m0 = pairs_model(1, MIST_ACT_RELU, 47);
    mist_arch a = *mist_model_arch(m0);
    a.gauss_base_cap = 1;
    ck_assert_int_ne(mist_arch_validate(&a, &err), 0);
    ck_assert_msg(strstr(err.msg, "gauss_base_cap"), "%s", err.msg);
    a.gauss_base = a.gauss_base_unbiased = 1;
    mist_model *m2 = with_arch(m0, &a);
    a.gauss_base_cap = 0;
    mist_model *m1 = with_arch(m0, &a);
    mist_model *ms[3] = {m0, m1, m2};
    for (int k = 0; k < 3; k++) mist_model_set_raw_quantiles(ms[k], 1);
    const double taus[2] = {0.1, 0.9};
    size_t n = 300;
    for (int kind = 0; kind < 2; kind++) {
        double *x = kind ? rdata(n, dx, dy) : malloc(n * (size_t)d * sizeof *x);
        if (!kind) /* binary; y1 = x1; x3 takes 3 values: 12 distinct X rows at most */
            for (size_t i = 0; i < n; i++) {
                double *r = x + i * (size_t)d;
                r[0] = (double)(rnext() & 1), r[1] = (double)(rnext() & 1);
                r[2] = (double)(rnext() % 3), r[3] = r[0], r[4] = (double)(rnext() & 1);
            }
        double q[3][2];
        for (int k = 0; k < 3; k++)
            ck_assert_msg(mist_model_estimate(ms[k], x, n, dx, dy, taus, 2, q[k], &err) == 0,
                          "%s", err.msg);
        if (kind) {
            for (int t = 0; t < 2; t++) ck_assert(q[2][t] == q[1][t]);
        } else {
            size_t k[2] = {0, 0};
            for (int b = 0; b < 2; b++) {
                int c0 = b ? dx : 0, c1 = b ? d : dx;
                for (size_t i = 0; i < n; i++) {
                    int seen = 0;
                    for (size_t j = 0; j < i && !seen; j++) {
                        int same = 1;
                        for (int c = c0; c < c1; c++)
                            same &= x[i * (size_t)d + (size_t)c] == x[j * (size_t)d + (size_t)c];
                        seen = same;
                    }
                    k[b] += !seen;
                }
            }
            double cap = log((double)(k[0] < k[1] ? k[0] : k[1]));
            ck_assert(k[1] == 4 && k[0] <= 12);
            for (int t = 0; t < 2; t++) {
                ck_assert_msg(fabs(q[2][t] - q[0][t] - cap) <= 1e-5, "%g - %g vs %g", q[2][t],
                              q[0][t], cap);
                ck_assert_msg(q[1][t] - q[0][t] > cap + 1, "uncapped base %g", q[1][t] - q[0][t]);
            }
        }
        free(x);
    }
    for (int k = 0; k < 3; k++) mist_model_free(ms[k]);
}
END_TEST

/* sign_canon's pieces. The Jacobi eigensolver: A V = V diag(lambda) and V^T V = I, and on
 * S A S (any diagonal signs S) the same eigenvalues and S V S, bit for bit (one matrix has two
 * equal diagonal entries: the rotation's sign then follows a_pq alone). Normal scores are odd:
 * negating a column (with ties) negates them bit for bit. The canonical scores of a dataset
 * with any columns negated are the same bits, the signs applied are the first ones times the
 * flips, and in 1x1 the canonical pair correlates positively. */
START_TEST(test_sign_canon)
{
    for (int k = 0; k < 2; k++) {
        int m = 6;
        double A[36], A0[36], B[36], V[36], W[36];
        for (int i = 0; i < m; i++)
            for (int j = 0; j <= i; j++) A0[i * m + j] = A0[j * m + i] = rnorm();
        if (k) A0[2 * m + 2] = A0[4 * m + 4];
        memcpy(A, A0, sizeof A);
        canon_jacobi(A, V, m);
        for (int i = 0; i < m; i++)
            for (int c = 0; c < m; c++) {
                double av = 0, vv = 0;
                for (int j = 0; j < m; j++) av += A0[i * m + j] * V[j * m + c];
                for (int j = 0; j < m; j++) vv += V[j * m + i] * V[j * m + c];
                ck_assert_msg(fabs(av - A[c * m + c] * V[i * m + c]) <= 1e-12, "A v");
                ck_assert_msg(fabs(vv - (i == c)) <= 1e-12, "V^T V");
            }
        double S[6];
        for (int i = 0; i < m; i++) S[i] = rnext() & 1 ? -1.0 : 1.0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++) B[i * m + j] = S[i] * S[j] * A0[i * m + j];
        canon_jacobi(B, W, m);
        for (int i = 0; i < m; i++) {
            ck_assert(B[i * m + i] == A[i * m + i]);
            for (int c = 0; c < m; c++) ck_assert(W[i * m + c] == S[i] * S[c] * V[i * m + c]);
        }
    }
    mist_err err;
    size_t n = 200;
    double *x = malloc(n * 5 * sizeof *x), *xn = malloc(n * 5 * sizeof *xn);
    double *z = malloc(n * 5 * sizeof *z), *zn = malloc(n * 5 * sizeof *zn);
    for (size_t i = 0; i < n * 5; i++) x[i] = floor(4.0 * rnorm()) / 4.0; /* ties */
    for (size_t i = 0; i < n * 5; i++) xn[i] = -x[i];
    ck_assert_int_eq(mist_copula_transform(z, x, n, 5, &err), 0);
    ck_assert_int_eq(mist_copula_transform(zn, xn, n, 5, &err), 0);
    for (size_t i = 0; i < n * 5; i++) ck_assert(zn[i] == -z[i]);
    int dims[3][2] = {{3, 2}, {2, 3}, {1, 1}};
    for (int k = 0; k < 3; k++) {
        int dx = dims[k][0], dy = dims[k][1], d = dx + dy;
        for (size_t i = 0; i < n; i++) {
            double u = rnorm(), v = rnorm();
            for (int j = 0; j < d; j++)
                x[i * d + j] = (j % 2 ? -0.8 : 0.5) * (j < 3 ? u : v) + rnorm() + 0.3 * u * u;
        }
        pairs_set s0, s1;
        double sg0[5], sg1[5];
        ck_assert_int_eq(pairs_set_prepare(&s0, x, n, dx, dy, &err), 0);
        ck_assert_int_eq(pairs_set_canon(&s0, sg0, &err), 0);
        if (d == 2) { /* the canonical pair correlates positively */
            double c = 0;
            for (size_t i = 0; i < n; i++) c += (double)s0.z[2 * i] * (double)s0.z[2 * i + 1];
            ck_assert_msg(c > 0, "1x1 canonical correlation %g", c);
        }
        for (int rep = 0; rep < 6; rep++) {
            double flip[5];
            for (int j = 0; j < d; j++) flip[j] = rep == 0 || (rnext() & 1) ? -1.0 : 1.0;
            for (size_t i = 0; i < n * (size_t)d; i++) xn[i] = flip[i % (size_t)d] * x[i];
            ck_assert_int_eq(pairs_set_prepare(&s1, xn, n, dx, dy, &err), 0);
            ck_assert_int_eq(pairs_set_canon(&s1, sg1, &err), 0);
            ck_assert_msg(!memcmp(s0.z, s1.z, n * (size_t)d * sizeof *s0.z),
                          "%dx%d: canonical scores differ after negating columns", dx, dy);
            for (int j = 0; j < d; j++) ck_assert(sg1[j] == sg0[j] * flip[j]);
            pairs_set_free(&s1);
        }
        pairs_set_free(&s0);
    }
    free(x), free(xn), free(z), free(zn);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pairs");
    TCase *t = tu_case(s, "pairs", 120, test_pair_list, test_gauss_features, test_gauss_base,
                       test_gauss_base_unbiased, test_ksg_feature, test_sign_canon,
                       test_gauss_base_cap, test_sum_head, NULL);
    tcase_add_loop_test(t, test_forward_matches_reference, 0, 2); /* GELU, ReLU */
    tcase_add_loop_test(t, test_backward_fd, 0, 2);
    tcase_add_loop_test(t, test_invariances, 0, 6);
    return tu_run(s) ? 1 : 0;
}
