/* Routing between two models (infer/route.c):
 *   - kappa against a plain re-computation from its definition (normal scores, four squared
 *     correlations per cross pair, greedy matching); near 1 for dependence on one pair, clearly
 *     lower for dependence spread by a rotation; the same bits under column permutations within X and
 *     within Y, negations and the X/Y swap;
 *   - a routed model answers with the second model's estimate (bit for bit) exactly where
 *     kappa < kappa_min (at n inside its trained range, data without ties), with its own
 *     elsewhere; a batch equals the sets one at a time; the
 *     routed answer keeps the invariances;
 *   - the weights' meta "route" / "route_kappa" open the second model from the folder of the
 *     first, strictly: a missing file, a bad threshold, a lone key, a path, a second level of
 *     routing are refused with a message naming the problem. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_classical.h"
#include "mist_guard.h"
#include "mist_train.h"
#include "testutil.h"

static uint64_t rs = 0x5EED0FACEULL;
#define rnext() tu_rnext(&rs)
#define rnorm() tu_rnorm(&rs)

/* n rows of dx x dy: y_k = a x_k + noise for k < pairs, then (rotate) every block mixed by a
 * random orthogonal-ish map (Gram-Schmidt of Gaussian columns), so the dependence spreads over
 * all cross pairs. */
static double *pair_data(size_t n, int dx, int dy, int pairs, double a, int rotate)
{
    size_t d = (size_t)(dx + dy);
    double *x = malloc(n * d * sizeof *x), Q[2][8][8];
    ck_assert(dx <= 8 && dy <= 8);
    for (int b = 0; b < 2; b++) {
        int m = b ? dy : dx;
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < m; i++) Q[b][j][i] = rnorm();
            for (int k = 0; k < j; k++) {
                double s = 0;
                for (int i = 0; i < m; i++) s += Q[b][j][i] * Q[b][k][i];
                for (int i = 0; i < m; i++) Q[b][j][i] -= s * Q[b][k][i];
            }
            double s = 0;
            for (int i = 0; i < m; i++) s += Q[b][j][i] * Q[b][j][i];
            for (int i = 0; i < m; i++) Q[b][j][i] /= sqrt(s);
        }
    }
    for (size_t r = 0; r < n; r++) {
        double u[8], v[8], *o = x + r * d;
        for (int j = 0; j < dx; j++) u[j] = rnorm();
        for (int k = 0; k < dy; k++) v[k] = (k < pairs ? a * u[k] : 0.0) + rnorm();
        for (int j = 0; j < dx; j++) {
            o[j] = 0;
            for (int i = 0; i < dx; i++) o[j] += (rotate ? Q[0][j][i] : (i == j)) * u[i];
        }
        for (int k = 0; k < dy; k++) {
            o[dx + k] = 0;
            for (int i = 0; i < dy; i++) o[dx + k] += (rotate ? Q[1][k][i] : (i == k)) * v[i];
        }
    }
    return x;
}

/* Pearson correlation of centred column j of u with centred column k of v. */
static double corr(const double *u, size_t j, const double *v, size_t k, size_t n, size_t d)
{
    double s = 0, su = 0, sv = 0;
    for (size_t i = 0; i < n; i++) {
        s += u[i * d + j] * v[i * d + k];
        su += u[i * d + j] * u[i * d + j];
        sv += v[i * d + k] * v[i * d + k];
    }
    return su > 0 && sv > 0 ? s / sqrt(su * sv) : 0.0;
}

/* kappa from its definition, written out plainly (mist_infer.h, col_canon.c). */
static double kappa_ref(const double *data, size_t n, int dx, int dy)
{
    size_t d = (size_t)(dx + dy);
    double *z = malloc(n * d * sizeof *z), *a = malloc(n * d * sizeof *a),
           *b = malloc(n * d * sizeof *b);
    mist_err err;
    ck_assert(mist_copula_transform(z, data, n, (int)d, &err) == 0);
    for (size_t j = 0; j < d; j++) {
        double m1 = 0, m2 = 0;
        for (size_t i = 0; i < n; i++) m1 += z[i * d + j], m2 += z[i * d + j] * z[i * d + j];
        for (size_t i = 0; i < n; i++) {
            a[i * d + j] = z[i * d + j] - m1 / (double)n;
            b[i * d + j] = z[i * d + j] * z[i * d + j] - m2 / (double)n;
        }
    }
    double S[8][8], all = 0, matched = 0;
    int used_x[8] = {0}, used_y[8] = {0};
    for (int j = 0; j < dx; j++)
        for (int k = 0; k < dy; k++) {
            size_t c = (size_t)(dx + k);
            double r1 = corr(a, (size_t)j, a, c, n, d), r2 = corr(b, (size_t)j, a, c, n, d),
                   r3 = corr(a, (size_t)j, b, c, n, d), r4 = corr(b, (size_t)j, b, c, n, d);
            S[j][k] = r1 * r1 + r2 * r2 + r3 * r3 + r4 * r4;
            all += fmax(S[j][k] - 4.0 / (double)n, 0);
        }
    for (int step = 0; step < (dx < dy ? dx : dy); step++) {
        int bj = -1, bk = -1;
        for (int j = 0; j < dx; j++)
            for (int k = 0; k < dy; k++)
                if (!used_x[j] && !used_y[k] && (bj < 0 || S[j][k] > S[bj][bk])) bj = j, bk = k;
        used_x[bj] = used_y[bk] = 1;
        matched += fmax(S[bj][bk] - 4.0 / (double)n, 0);
    }
    free(z);
    free(a);
    free(b);
    return all > 0 ? matched / all : 1.0;
}

/* x with its columns permuted within X and within Y, some negated, optionally swapped. */
static double *scramble(const double *x, size_t n, int dx, int dy, int swap)
{
    size_t d = (size_t)(dx + dy);
    int cols[16];
    double sg[16];
    for (int j = 0; j < (int)d; j++) cols[j] = j, sg[j] = (rnext() & 1) ? -1.0 : 1.0;
    for (int b = 0; b < 2; b++) {
        int off = b ? dx : 0, m = b ? dy : dx;
        for (int i = m - 1; i > 0; i--) {
            int j = (int)(rnext() % (uint64_t)(i + 1)), t = cols[off + i];
            cols[off + i] = cols[off + j], cols[off + j] = t;
        }
    }
    double *y = malloc(n * d * sizeof *y);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++) {
            size_t to = !swap ? c : c < (size_t)dx ? c + (size_t)dy : c - (size_t)dx;
            y[i * d + to] = sg[c] * x[i * d + (size_t)cols[c]];
        }
    return y;
}

START_TEST(test_kappa)
{
    const size_t n = 400;
    mist_err err;
    const int dims[3][2] = {{4, 4}, {3, 5}, {6, 2}};
    for (int t = 0; t < 3; t++) {
        int dx = dims[t][0], dy = dims[t][1];
        double k1, k2, k3;
        double *one = pair_data(n, dx, dy, 1, 1.5, 0), *rot = pair_data(n, dx, dy, 2, 1.5, 1);
        double *ind = pair_data(n, dx, dy, 0, 0.0, 0);
        ck_assert_msg(mist_route_kappa(one, n, dx, dy, &k1, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(mist_route_kappa(rot, n, dx, dy, &k2, &err), 0);
        ck_assert_int_eq(mist_route_kappa(ind, n, dx, dy, &k3, &err), 0);
        ck_assert_msg(fabs(k1 - kappa_ref(one, n, dx, dy)) < 1e-12, "%g", k1);
        ck_assert_msg(fabs(k2 - kappa_ref(rot, n, dx, dy)) < 1e-12, "%g", k2);
        ck_assert_msg(fabs(k3 - kappa_ref(ind, n, dx, dy)) < 1e-12, "%g", k3);
        ck_assert_msg(k1 > 0.9, "one pair: kappa %g", k1);
        ck_assert_msg(k2 < k1 - 0.2, "rotated pairs: kappa %g (one pair: %g)", k2, k1);
        ck_assert(k3 >= 0 && k3 <= 1);
        for (int swap = 0; swap < 2; swap++) {
            double *s1 = scramble(one, n, dx, dy, swap), *s2 = scramble(rot, n, dx, dy, swap), q;
            ck_assert_int_eq(mist_route_kappa(s1, n, swap ? dy : dx, swap ? dx : dy, &q, &err), 0);
            ck_assert_msg(q == k1, "%.17g vs %.17g", q, k1);
            ck_assert_int_eq(mist_route_kappa(s2, n, swap ? dy : dx, swap ? dx : dy, &q, &err), 0);
            ck_assert_msg(q == k2, "%.17g vs %.17g", q, k2);
            free(s1);
            free(s2);
        }
        free(one);
        free(rot);
        free(ind);
    }
    /* 1 x 1: the only pair is the matched one */
    double *x = pair_data(50, 1, 1, 1, 1.0, 0), k;
    ck_assert_int_eq(mist_route_kappa(x, 50, 1, 1, &k, &err), 0);
    ck_assert(k == 1.0);
    x[7] = NAN;
    ck_assert_int_eq(mist_route_kappa(x, 50, 1, 1, &k, &err), MIST_EDATA);
    ck_assert_int_eq(mist_route_kappa(x, 1, 1, 1, &k, &err), MIST_EDATA);
    ck_assert_int_eq(mist_route_kappa(x, 50, 0, 1, &k, &err), MIST_EINVAL);
    free(x);
}
END_TEST

static mist_model *random_model(const char *preset, uint64_t seed)
{
    mist_arch a;
    mist_err err;
    ck_assert_int_eq(mist_arch_preset(preset, &a, &err), 0);
    a.quantile_conditioned = 1;
    if (a.input_layout == MIST_LAYOUT_PAIRS) a.sign_canon = 1; /* negations too, as shipped */
    mist_model *m = mist_model_create_random(&a, seed, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    float *p = mist_model_params(m);
    for (size_t i = 0; i < mist_model_param_count(m); i++) p[i] += (float)(0.1 * rnorm());
    mist_model_set_raw_quantiles(m, 1);
    return m;
}

/* The same random models again (same seed, same perturbation stream). */
static void model_pair(mist_model **m, mist_model **alt, uint64_t seed)
{
    uint64_t keep = rs;
    *m = random_model("tiny", seed);
    *alt = random_model("pairs-tiny", seed + 1);
    rs = keep;
}

static int cmp_up(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(test_route_estimate)
{
    mist_model *m, *alt, *m0, *alt0;
    model_pair(&m, &alt, 11);
    model_pair(&m0, &alt0, 11); /* unrouted copies */
    mist_model_set_col_canon(m, 1);
    mist_model_set_col_canon(m0, 1);
    mist_err err;
    ck_assert_int_eq(mist_model_set_route(alt0, m, 0.5, &err), MIST_EINVAL); /* pairs first */
    ck_assert_int_eq(mist_model_set_route(m, alt, 1.5, &err), MIST_EINVAL);
    ck_assert_int_eq(mist_model_set_route(m, m, 0.5, &err), MIST_EINVAL);
    const size_t n = 150;
    double *sets[4] = {pair_data(n, 3, 3, 1, 1.5, 0), pair_data(n, 4, 4, 2, 1.5, 1),
                       pair_data(n, 1, 1, 1, 1.0, 0), pair_data(n, 4, 4, 4, 1.5, 1)};
    const int dims[4][2] = {{3, 3}, {4, 4}, {1, 1}, {4, 4}};
    /* the threshold between the sets' second and third kappa, so that both models answer */
    double ks[4];
    for (int s = 0; s < 4; s++)
        ck_assert_int_eq(mist_route_kappa(sets[s], n, dims[s][0], dims[s][1], &ks[s], &err), 0);
    qsort(ks, 4, sizeof *ks, cmp_up);
    ck_assert_msg(ks[2] > ks[1], "kappas tie: %g", ks[1]);
    double kmin = 0.5 * (ks[1] + ks[2]), km;
    ck_assert_int_eq(mist_model_set_route(m, alt, kmin, &err), MIST_OK);
    ck_assert_ptr_eq(mist_model_route_alt(m, &km), alt);
    ck_assert(km == kmin);
    double taus[3] = {0.05, 0.5, 0.95}, got[3], want[3], batch[12];
    mist_data_view v[4];
    int to_alt = 0, to_m = 0;
    for (int s = 0; s < 4; s++) {
        int dx = dims[s][0], dy = dims[s][1];
        v[s] = (mist_data_view){sets[s], n, dx, dy};
        double k;
        int why;
        mist_model *pick = mist_model_route_pick(m, sets[s], n, dx, dy, &k, &why, &err);
        ck_assert_msg(pick == (k < kmin ? alt : m), "set %d: kappa %g", s, k);
        ck_assert_int_eq(why, pick == alt ? MIST_ROUTE_KAPPA : MIST_ROUTE_NONE);
        to_alt += pick == alt, to_m += pick == m;
        ck_assert_int_eq(mist_model_estimate(m, sets[s], n, dx, dy, taus, 3, got, &err), 0);
        ck_assert_int_eq(mist_model_estimate(pick == alt ? alt0 : m0, sets[s], n, dx, dy, taus, 3,
                                             want, &err), 0);
        for (int t = 0; t < 3; t++) ck_assert_msg(got[t] == want[t], "set %d tau %d", s, t);
        /* the picked model's estimate without a second route: the same bits; a model that is
         * neither is refused */
        double pk[3];
        ck_assert_int_eq(
            mist_model_estimate_picked(m, pick, why, sets[s], n, dx, dy, taus, 3, pk, &err), 0);
        for (int t = 0; t < 3; t++) ck_assert(pk[t] == got[t]);
        ck_assert_int_eq(
            mist_model_estimate_picked(m, m0, why, sets[s], n, dx, dy, taus, 3, pk, &err),
            MIST_EINVAL);
        /* pick and answer in one call: the same model, reason, kappa and bits */
        mist_model *rp;
        double rk;
        int rw;
        ck_assert_int_eq(mist_model_estimate_routed(m, sets[s], n, dx, dy, taus, 3, pk, &rp, &rk,
                                                    &rw, &err),
                         0);
        ck_assert(rp == pick && rw == why && rk == k);
        for (int t = 0; t < 3; t++) ck_assert(pk[t] == got[t]);
        /* invariances of the routed answer: perm + negate bit for bit on the primary's side,
         * to rounding on the pairs model's (mist_infer.h) */
        for (int swap = 0; swap < 2; swap++) {
            double *y = scramble(sets[s], n, dx, dy, swap), q[3];
            ck_assert_int_eq(mist_model_estimate(m, y, n, swap ? dy : dx, swap ? dx : dy, taus, 3,
                                                 q, &err), 0);
            for (int t = 0; t < 3; t++)
                ck_assert_msg(fabs(q[t] - got[t]) <= 1e-5, "set %d swap %d: %g vs %g", s, swap,
                              q[t], got[t]);
            free(y);
        }
        memcpy(batch + 3 * s, got, sizeof got);
    }
    ck_assert_int_eq(to_alt, 2);
    ck_assert_int_eq(to_m, 2);
    double all[12];
    ck_assert_msg(mist_model_estimate_batch(m, v, 4, taus, 3, all, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(fabs(all[i] - batch[i]) <= 1e-5, "%d: %g vs %g", i, all[i], batch[i]);
    /* no route: the model's own answer everywhere */
    ck_assert_int_eq(mist_model_set_route(m, NULL, 0, &err), MIST_OK);
    ck_assert_ptr_null(mist_model_route_alt(m, NULL));
    ck_assert_int_eq(mist_model_estimate(m, sets[1], n, 3, 3, taus, 3, got, &err), 0);
    ck_assert_int_eq(mist_model_estimate(m0, sets[1], n, 3, 3, taus, 3, want, &err), 0);
    for (int t = 0; t < 3; t++) ck_assert(got[t] == want[t]);
    for (int s = 0; s < 4; s++) free(sets[s]);
    mist_model_free(m); /* alt was freed by the removal of the route */
    mist_model_free(m0);
    mist_model_free(alt0);
}
END_TEST

/* Adds delta to a split-layout model's output (the bias of rho's last layer, the last tensor). */
static void shift_output(mist_model *m, float delta)
{
    const char *name;
    int ndim;
    const int64_t *shape;
    size_t off;
    ck_assert_int_eq(mist_model_tensor_info(m, mist_model_tensor_count(m) - 1, &name, &ndim,
                                            &shape, &off),
                     0);
    ck_assert_msg(ndim == 1 && shape[0] == 1 && strstr(name, "rho.") == name, "%s", name);
    mist_model_params(m)[off] += delta;
}

/* The arbiter (route.c, ARBITER), against the rule computed from the public parts: the
 * guard's cross-checks and the two models' own answers (unrouted copies). kappa_min above 1
 * sends every set to the second model, so the arbiter alone decides. */
START_TEST(test_route_arbiter)
{
    mist_model *m, *alt, *m0, *alt0;
    model_pair(&m, &alt, 31);
    model_pair(&m0, &alt0, 31);
    mist_model_set_col_canon(m, 1);
    mist_model_set_col_canon(m0, 1);
    /* the random models read about -0.15 and -0.09 whatever the data: the first moved up, so
     * that it is the closer one to the copula's reading of the stronger dependences only */
    shift_output(m, 0.65f);
    shift_output(m0, 0.65f);
    mist_err err;
    ck_assert_int_eq(mist_model_set_route_arbiter(m, 0.5, &err), MIST_EINVAL); /* no route */
    ck_assert_int_eq(mist_model_set_route(m, alt, 1.0, &err), MIST_OK);
    ck_assert_int_eq(mist_model_set_route_arbiter(m, 1.5, &err), MIST_EINVAL);
    ck_assert_int_eq(mist_model_set_route_arbiter(m, -0.1, &err), MIST_EINVAL);
    ck_assert(mist_model_route_arbiter(m) == 0.0);
    const double ratio = 1.0, z = 1.6448536269514722;
    ck_assert_int_eq(mist_model_set_route_arbiter(m, ratio, &err), MIST_OK);
    ck_assert(mist_model_route_arbiter(m) == ratio);
    const size_t n = 150;
    double taus[3] = {0.05, 0.5, 0.95}, half = 0.5;
    int kept = 0, handed = 0, by_ksg = 0;
    for (int s = 0; s < 9; s++) {
        int dx = s < 8 ? 2 + s % 3 : 1, dy = 2 + s % 2;
        /* dependence of growing strength (kappa below 1), half of the sets with mixed columns */
        double *x = pair_data(n, dx, dy, 1 + s % 2, 0.3 * (s + 1), s % 2);
        if (s == 8) /* 1 x 2, y1 = x + 0.6 x^2 + noise: KSG reads far more than the copula;
                     * y2 = x / 2 + noise, for a kappa below 1 */
            for (size_t r = 0; r < n; r++) {
                double *row = x + r * (size_t)(dx + dy);
                row[1] = row[0] + 0.6 * row[0] * row[0] + 0.2 * rnorm();
                row[2] = 0.5 * row[0] + rnorm();
            }
        double g, bias, gse, k, kse, m1, q2[3], got[3], kappa;
        ck_assert_int_eq(mist_guard_gaussian_copula(x, n, dx, dy, &g, &bias, &gse, &err), 0);
        ck_assert_int_eq(mist_guard_ksg(x, n, dx, dy, 5, 0, 1, &k, &kse, &err), 0);
        ck_assert_int_eq(mist_model_estimate(m0, x, n, dx, dy, &half, 1, &m1, &err), 0);
        ck_assert_int_eq(mist_model_estimate(alt0, x, n, dx, dy, taus, 3, q2, &err), 0);
        /* the second model's median: the middle of its three levels (raw models: they cross) */
        double lo2 = fmin(q2[0], q2[1]), hi2 = fmax(q2[0], q2[1]);
        double mid2 = fmax(lo2, fmin(hi2, q2[2])), cu = g - bias;
        int closer = fabs(m1 - cu) < ratio * fabs(mid2 - cu);
        int keep = !(k > cu + z * gse) && closer;
        by_ksg += closer && !keep;
        int why;
        mist_model *pick = mist_model_route_pick(m, x, n, dx, dy, &kappa, &why, &err);
        ck_assert_msg(pick == (keep ? m : alt),
                      "set %d: why %d keep %d kappa %g ksg %g copula %g (se %g) medians %g %g", s,
                      why, keep, kappa, k, cu, gse, m1, mid2);
        ck_assert_int_eq(why, keep ? MIST_ROUTE_ARBITER : MIST_ROUTE_KAPPA);
        kept += keep, handed += !keep;
        /* the answer: the first model's median inside the second model's interval */
        ck_assert_int_eq(mist_model_estimate(m, x, n, dx, dy, taus, 3, got, &err), 0);
        if (keep) {
            ck_assert(got[1] == m1);
            ck_assert(got[0] == fmin(q2[0], m1) && got[2] == fmax(q2[2], m1));
        } else {
            for (int t = 0; t < 3; t++) ck_assert(got[t] == q2[t]);
        }
        double pk[3];
        ck_assert_int_eq(mist_model_estimate_picked(m, pick, why, x, n, dx, dy, taus, 3, pk, &err),
                         0);
        for (int t = 0; t < 3; t++) ck_assert(pk[t] == got[t]);
        /* pick and answer in one call (the arbiter's passes reused at these levels, computed
         * anew at others): what the two calls give */
        mist_model *rp;
        double rk, other[2] = {0.2, 0.5}, po[2], ro[2];
        int rw;
        ck_assert_int_eq(mist_model_estimate_routed(m, x, n, dx, dy, taus, 3, pk, &rp, &rk, &rw,
                                                    &err),
                         0);
        ck_assert(rp == pick && rw == why && rk == kappa);
        for (int t = 0; t < 3; t++) ck_assert(pk[t] == got[t]);
        ck_assert_int_eq(mist_model_estimate_picked(m, pick, why, x, n, dx, dy, other, 2, po, &err),
                         0);
        ck_assert_int_eq(
            mist_model_estimate_routed(m, x, n, dx, dy, other, 2, ro, NULL, NULL, NULL, &err), 0);
        ck_assert(ro[0] == po[0] && ro[1] == po[1]);
        if (keep) ck_assert(ro[1] == m1 && ro[0] <= m1);
        /* the decision reads the second model's sorted levels, raw quantiles asked or not */
        mist_model_set_raw_quantiles(m, 0);
        int sorted_why;
        ck_assert(mist_model_route_pick(m, x, n, dx, dy, NULL, &sorted_why, &err) == pick);
        ck_assert_int_eq(sorted_why, why);
        mist_model_set_raw_quantiles(m, 1);
        /* the reason must come with its model */
        if (keep)
            ck_assert_int_eq(mist_model_estimate_picked(m, alt, why, x, n, dx, dy, taus, 3, pk,
                                                        &err),
                             MIST_EINVAL);
        free(x);
    }
    ck_assert_msg(kept > 0 && handed > 0 && by_ksg > 0, "kept %d, handed over %d (%d by KSG)",
                  kept, handed, by_ksg);
    /* the one call refuses what mist_model_estimate refuses, with its message */
    {
        double *bad = pair_data(n, 2, 2, 1, 1.0, 0), o[3], rk = 0;
        bad[5] = NAN;
        mist_model *rp = m;
        int rw = -1;
        ck_assert_int_eq(mist_model_estimate_routed(m, bad, n, 2, 2, taus, 3, o, &rp, &rk, &rw,
                                                    &err),
                         MIST_EDATA);
        ck_assert_msg(strstr(err.msg, "row") != NULL, "%s", err.msg);
        ck_assert(rp == NULL && rw == MIST_ROUTE_NONE && isnan(rk));
        ck_assert_int_eq(
            mist_model_estimate_routed(m, bad, n, 2, 2, taus, 3, NULL, NULL, NULL, NULL, &err),
            MIST_EINVAL);
        free(bad);
    }
    /* ratio 0: no arbiter */
    ck_assert_int_eq(mist_model_set_route_arbiter(m, 0.0, &err), MIST_OK);
    double *x = pair_data(n, 3, 3, 1, 1.0, 0);
    int why;
    ck_assert(mist_model_route_pick(m, x, n, 3, 3, NULL, &why, &err) == alt);
    ck_assert_int_eq(why, MIST_ROUTE_KAPPA);
    free(x);
    mist_model_free(m);
    mist_model_free(m0);
    mist_model_free(alt0);
}
END_TEST

static void expect_refused(const char *path, const char *needle)
{
    mist_err err = {0};
    mist_model *r = mist_model_open(path, &err);
    ck_assert_msg(r == NULL, "opened although it should not (%s)", needle);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' not in: %s", needle, err.msg);
}

START_TEST(test_route_meta)
{
    mist_model *m, *alt, *m0, *alt0;
    model_pair(&m, &alt, 23);
    model_pair(&m0, &alt0, 23);
    mist_model_set_col_canon(m0, 1);
    const char *dir = tu_tmpdir("route");
    char pm[512], pa[512];
    snprintf(pm, sizeof pm, "%s/first.msgpack", dir);
    snprintf(pa, sizeof pa, "%s/second.msgpack", dir);
    mist_err err;
    ck_assert_int_eq(mist_model_meta_set_str(m, "columns", "canonical", &err), 0);
    ck_assert_int_eq(mist_model_meta_set_str(m, "route", "second.msgpack", &err), 0);
    ck_assert_int_eq(mist_model_meta_set_str(m, "route_kappa", "0.999", &err), 0);
    ck_assert_msg(mist_model_save(m, pm, &err) == 0, "%s", err.msg);
    expect_refused(pm, "second.msgpack"); /* not there yet */
    ck_assert_msg(mist_model_save(alt, pa, &err) == 0, "%s", err.msg);
    mist_model *r = mist_model_open(pm, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    double km;
    ck_assert_ptr_nonnull(mist_model_route_alt(r, &km));
    ck_assert(km == 0.999);
    mist_model_set_raw_quantiles(r, 1);
    mist_model_set_raw_quantiles(mist_model_route_alt(r, NULL), 1);
    const size_t n = 120;
    double *x = pair_data(n, 3, 3, 3, 1.0, 1), taus[2] = {0.1, 0.9}, got[2], want[2];
    ck_assert(mist_model_route_pick(r, x, n, 3, 3, NULL, NULL, &err) == mist_model_route_alt(r, NULL));
    ck_assert_int_eq(mist_model_estimate(r, x, n, 3, 3, taus, 2, got, &err), 0);
    ck_assert_int_eq(mist_model_estimate(alt0, x, n, 3, 3, taus, 2, want, &err), 0);
    ck_assert(got[0] == want[0] && got[1] == want[1]);
    /* above the first model's trained n, kappa does not decide (the same kind of data) */
    size_t big = (size_t)mist_model_arch(r)->n_max + 1;
    double *xb = pair_data(big, 3, 3, 3, 1.0, 1), kb;
    ck_assert(mist_model_route_pick(r, xb, big, 3, 3, &kb, NULL, &err) == r);
    ck_assert_msg(kb < 0.999, "kappa %g", kb);
    free(xb);
    /* a repeated row (as in a bootstrap resample): tied values stay with the first model */
    memcpy(x + 6, x, 6 * sizeof *x);
    ck_assert(mist_model_route_pick(r, x, n, 3, 3, &kb, NULL, &err) == r);
    ck_assert_msg(kb < 0.999, "kappa %g", kb);
    mist_model_free(r);
    /* strictness */
    const char *bad[4][3] = {{"second.msgpack", "1.5", "route_kappa"},
                             {"second.msgpack", "0.5x", "route_kappa"},
                             {"../second.msgpack", "0.5", "file name"},
                             {"first.msgpack", "0.5", "routes again"}};
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(mist_model_meta_set_str(m, "route", bad[k][0], &err), 0);
        ck_assert_int_eq(mist_model_meta_set_str(m, "route_kappa", bad[k][1], &err), 0);
        /* k = 3: a first model that routes to itself, so the second routes again */
        ck_assert_int_eq(mist_model_save(m, pm, &err), 0);
        expect_refused(pm, bad[k][2]);
    }
    /* the arbiter: read with the route, checked, and refused without one */
    ck_assert_int_eq(mist_model_meta_set_str(m, "route", "second.msgpack", &err), 0);
    ck_assert_int_eq(mist_model_meta_set_str(m, "route_kappa", "0.6", &err), 0);
    ck_assert_int_eq(mist_model_meta_set_str(m, "route_arbiter", "0.25", &err), 0);
    ck_assert_int_eq(mist_model_save(m, pm, &err), 0);
    r = mist_model_open(pm, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert(mist_model_route_arbiter(r) == 0.25);
    mist_model_free(r);
    ck_assert_int_eq(mist_model_meta_set_str(m, "route_arbiter", "2", &err), 0);
    ck_assert_int_eq(mist_model_save(m, pm, &err), 0);
    expect_refused(pm, "route_arbiter");
    /* a lone key */
    mist_model *lone = random_model("tiny", 5);
    ck_assert_int_eq(mist_model_meta_set_str(lone, "route_arbiter", "0.5", &err), 0);
    ck_assert_int_eq(mist_model_save(lone, pm, &err), 0);
    expect_refused(pm, "needs a route");
    mist_model_free(lone);
    lone = random_model("tiny", 5);
    ck_assert_int_eq(mist_model_meta_set_str(lone, "route", "second.msgpack", &err), 0);
    ck_assert_int_eq(mist_model_save(lone, pm, &err), 0);
    expect_refused(pm, "go together");
    /* a pairs model cannot be the first */
    ck_assert_int_eq(mist_model_meta_set_str(alt0, "route", "second.msgpack", &err), 0);
    ck_assert_int_eq(mist_model_meta_set_str(alt0, "route_kappa", "0.5", &err), 0);
    ck_assert_int_eq(mist_model_save(alt0, pm, &err), 0);
    expect_refused(pm, "split or packed");
    free(x);
    mist_model_free(lone);
    mist_model_free(m);
    mist_model_free(alt);
    mist_model_free(m0);
    mist_model_free(alt0);
}
END_TEST

int main(void)
{
    return tu_run_case("route", 60, test_kappa, test_route_estimate, test_route_arbiter,
                       test_route_meta, NULL)
               ? 1
               : 0;
}
