/* The plug-in MI of discrete data (classical/discrete.c): against brute-force cell counts, its
 * invariances, Monte Carlo against the exact MI of a binary channel (estimate and standard
 * error), refusals, the dispatcher's "discrete", and the guard's all-discrete answer. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mist_classical.h"
#include "mist_guard.h"
#include "testutil.h"

static uint64_t g_rng = 0xd15c0001;
static double runif(void) { return (double)(tu_rnext(&g_rng) >> 11) * 0x1.0p-53; }

/* #rows equal to row i on columns c0..c1-1, by O(n^2) comparison */
static double count_like(const double *d, size_t n, int cols, size_t i, int c0, int c1)
{
    double c = 0;
    for (size_t j = 0; j < n; j++) {
        int eq = 1;
        for (int k = c0; k < c1 && eq; k++) eq = d[j * cols + k] == d[i * cols + k];
        c += eq;
    }
    return c;
}

/* the number of distinct rows on columns c0..c1-1: rows that are the first of their kind */
static double cells(const double *d, size_t n, int cols, int c0, int c1)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        int first = 1;
        for (size_t j = 0; j < i && first; j++) {
            int eq = 1;
            for (int k = c0; k < c1 && eq; k++) eq = d[j * cols + k] == d[i * cols + k];
            if (eq) first = 0;
        }
        m += first;
    }
    return m;
}

/* the plug-in I = mean_i log(n c_xy(i) / (c_x(i) c_y(i))) over the rows not skipped, by brute
 * force (skip: a row left out, or (size_t)-1) */
static double plugin_brute(const double *d, size_t n, int dx, int dy, size_t skip)
{
    int cols = dx + dy;
    double *e = malloc(n * (size_t)cols * sizeof *e);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (i != skip) memcpy(e + m++ * cols, d + i * cols, (size_t)cols * sizeof *e);
    double s = 0;
    for (size_t i = 0; i < m; i++)
        s += log((double)m * count_like(e, m, cols, i, 0, cols) /
                 (count_like(e, m, cols, i, 0, dx) * count_like(e, m, cols, i, dx, cols)));
    free(e);
    return s / (double)m;
}

/* Chao-Shen's entropy of columns c0..c1-1 from each row's cell count: a cell of c rows
 * contributes its term once, i.e. term / c from each of its rows */
static double h_cs_brute(const double *d, size_t n, int cols, int c0, int c1)
{
    double f1 = 0, h = 0, dn = (double)n;
    for (size_t i = 0; i < n; i++) f1 += count_like(d, n, cols, i, c0, c1) == 1;
    if (f1 == dn) f1 = dn - 1;
    for (size_t i = 0; i < n; i++) {
        double c = count_like(d, n, cols, i, c0, c1), p = (1 - f1 / dn) * c / dn;
        h -= p * log(p) / (1 - pow(1 - p, dn)) / c;
    }
    return h;
}

/* the mean of the jackknife n I - (n - 1) mean_i I_(-i) (every I_(-i) recounted from scratch)
 * and the Chao-Shen estimate, and the se: the jackknife's, |I_J - I_MM| (Miller-Madow from
 * brute-force cell counts) and the spread under independence, in quadrature */
static double brute(const double *d, size_t n, int dx, int dy, double *se)
{
    int cols = dx + dy;
    double *del = malloc(n * sizeof *del), mean = 0, dev2 = 0, dn = (double)n;
    for (size_t i = 0; i < n; i++) mean += (del[i] = plugin_brute(d, n, dx, dy, i)) / dn;
    for (size_t i = 0; i < n; i++) dev2 += (del[i] - mean) * (del[i] - mean);
    double plug = plugin_brute(d, n, dx, dy, (size_t)-1), jack = dn * plug - (dn - 1) * mean;
    double mx = cells(d, n, cols, 0, dx), my = cells(d, n, cols, dx, cols);
    double mxy = cells(d, n, cols, 0, cols);
    double mm = plug + ((mx - 1) + (my - 1) - (mxy - 1)) / (2 * dn);
    *se = sqrt((dn - 1) / dn * dev2 + (jack - mm) * (jack - mm) + (mx - 1) * (my - 1) / (2 * dn * dn));
    free(del);
    double cs = h_cs_brute(d, n, cols, 0, dx) + h_cs_brute(d, n, cols, dx, cols) -
                h_cs_brute(d, n, cols, 0, cols);
    return 0.5 * (jack + cs);
}

/* random small-alphabet data: X 2 columns (3 and 2 levels, odd values), Y 1 column (4 levels)
 * depending on X */
static void fill(double *d, size_t n)
{
    const double xa[3] = {-1.5, 0.25, 7.0}, xb[2] = {-0.0, 3.0}, ys[4] = {10, -2, 0.5, 1e6};
    for (size_t i = 0; i < n; i++) {
        int a = (int)(runif() * 3), b = (int)(runif() * 2);
        int y = runif() < 0.6 ? (a + b) % 4 : (int)(runif() * 4);
        d[3 * i] = xa[a];
        d[3 * i + 1] = xb[b];
        d[3 * i + 2] = ys[y];
    }
}

START_TEST(test_brute_force)
{
    mist_err err = {0};
    for (size_t n = 24; n <= 120; n += 48) {
        double *d = malloc(n * 3 * sizeof *d);
        fill(d, n);
        double v, se;
        ck_assert_int_eq(mist_discrete_mi(d, n, 2, 1, &v, &se, &err), 0);
        double se_want, want = brute(d, n, 2, 1, &se_want);
        ck_assert_msg(fabs(v - want) < 1e-10, "n %zu: %.15g vs %.15g", n, v, want);
        ck_assert_msg(fabs(se - se_want) < 1e-10 && se > 0, "n %zu: se %.15g vs %.15g", n, se,
                      se_want);
        /* the same data as X = (x2), Y = (x1, y): another split, another brute force */
        double *e = malloc(n * 3 * sizeof *e);
        for (size_t i = 0; i < n; i++) {
            e[3 * i] = d[3 * i + 1];
            e[3 * i + 1] = d[3 * i];
            e[3 * i + 2] = d[3 * i + 2];
        }
        ck_assert_int_eq(mist_discrete_mi(e, n, 1, 2, &v, NULL, &err), 0);
        want = brute(e, n, 1, 2, &se_want);
        ck_assert_msg(fabs(v - want) < 1e-10, "n %zu split 1x2: %.15g vs %.15g", n, v, want);
        free(d), free(e);
    }
}
END_TEST

/* row order, relabelled levels (a bijection per column), -0 = +0, the X/Y swap: the same
 * answer to rounding (the jackknife's sums run in row order) */
START_TEST(test_invariances)
{
    size_t n = 300;
    double *d = malloc(n * 3 * sizeof *d), *p = malloc(n * 3 * sizeof *p);
    double *s = malloc(n * 3 * sizeof *s);
    fill(d, n);
    mist_err err = {0};
    double v, w, se, se2;
    ck_assert_int_eq(mist_discrete_mi(d, n, 2, 1, &v, &se, &err), 0);
    for (size_t i = 0; i < n; i++) {
        size_t j = (i * 7 + 3) % n;
        p[3 * i] = exp(d[3 * j]);               /* increasing map */
        p[3 * i + 1] = d[3 * j + 1] == 0 ? 0.0 : -d[3 * j + 1]; /* +0 for -0, -3 for 3 */
        p[3 * i + 2] = -d[3 * j + 2] * d[3 * j + 2]; /* not monotone, still a bijection here */
        s[3 * i] = d[3 * i + 2];
        s[3 * i + 1] = d[3 * i];
        s[3 * i + 2] = d[3 * i + 1];
    }
    ck_assert_int_eq(mist_discrete_mi(p, n, 2, 1, &w, &se2, &err), 0);
    ck_assert_msg(fabs(v - w) < 1e-11 && fabs(se - se2) < 1e-11, "%.17g vs %.17g", v, w);
    ck_assert_int_eq(mist_discrete_mi(s, n, 1, 2, &w, &se2, &err), 0);
    ck_assert_msg(fabs(v - w) < 1e-11 && fabs(se - se2) < 1e-11, "swap %.17g vs %.17g", v, w);
    free(d), free(p), free(s);
}
END_TEST

/* Binary symmetric channel, X ~ Bernoulli(0.3), flip 0.1: MI = H_b(0.3*0.9 + 0.7*0.1) - H_b(0.1).
 * 400 replicates at n = 200: the mean within 3 SE of the truth plus the expected bias 1 / 4n
 * (the jackknife leaves O(1/n^2); with no cell seen once Chao-Shen is the plug-in, whose bias is
 * (m_x - 1)(m_y - 1) / 2n to first order, and the estimate is their mean); the mean reported se
 * within 20% of the spread of the estimates. */
static double hb(double p) { return -p * log(p) - (1 - p) * log(1 - p); }
START_TEST(test_monte_carlo)
{
    const size_t n = 200, reps = 400;
    const double px = 0.3, e = 0.1;
    double truth = hb(px * (1 - e) + (1 - px) * e) - hb(e);
    double *d = malloc(n * 2 * sizeof *d);
    double s = 0, ss = 0, sse = 0;
    mist_err err = {0};
    for (size_t r = 0; r < reps; r++) {
        for (size_t i = 0; i < n; i++) {
            int x = runif() < px, y = runif() < e ? !x : x;
            d[2 * i] = x;
            d[2 * i + 1] = y;
        }
        double v, se;
        ck_assert_int_eq(mist_discrete_mi(d, n, 1, 1, &v, &se, &err), 0);
        s += v, ss += v * v, sse += se;
    }
    double mean = s / reps, sd = sqrt(ss / reps - mean * mean), se_mean = sd / sqrt((double)reps);
    double want = truth + 1.0 / (4.0 * (double)n);
    ck_assert_msg(fabs(mean - want) < 3 * se_mean, "mean %.5f, truth + bias %.5f (se %.5f)", mean,
                  want, se_mean);
    double ratio = (sse / reps) / sd;
    ck_assert_msg(ratio > 0.8 && ratio < 1.2, "reported se / spread %.3f", ratio);
    free(d);
}
END_TEST

START_TEST(test_refusals)
{
    mist_err err = {0};
    size_t n = 100;
    double *d = malloc(n * 2 * sizeof *d), v;
    for (size_t i = 0; i < n; i++) d[2 * i] = runif(), d[2 * i + 1] = (double)(i % 3);
    ck_assert_int_eq(mist_discrete_mi(d, n, 1, 1, &v, NULL, &err), MIST_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "distinct rows"));
    /* exactly n/2 distinct rows is accepted, n/2 + 1 refused */
    for (size_t i = 0; i < n; i++) d[2 * i] = (double)(i % 50), d[2 * i + 1] = 0;
    ck_assert_int_eq(mist_discrete_mi(d, n, 1, 1, &v, NULL, &err), 0);
    ck_assert_msg(fabs(v) < 1e-12, "Y constant: MI 0 (the corrections cancel), got %g", v);
    d[0] = 0.5;
    ck_assert_int_eq(mist_discrete_mi(d, n, 1, 1, &v, NULL, &err), MIST_EDATA);
    d[0] = NAN;
    ck_assert_int_eq(mist_discrete_mi(d, n, 1, 1, &v, NULL, &err), MIST_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "non-finite"));
    ck_assert_int_eq(mist_discrete_mi(d, 1, 1, 1, &v, NULL, &err), MIST_EDATA);
    ck_assert_int_eq(mist_discrete_mi(d, n, 0, 1, &v, NULL, &err), MIST_EINVAL);
    free(d);
}
END_TEST

/* mist_estimate_classical("discrete") = mist_discrete_mi; its bootstrap interval holds it */
START_TEST(test_dispatch)
{
    size_t n = 300;
    double *d = malloc(n * 3 * sizeof *d);
    fill(d, n);
    mist_err err = {0};
    double v;
    ck_assert(mist_est_known("discrete"));
    ck_assert_int_eq(mist_discrete_mi(d, n, 2, 1, &v, NULL, &err), 0);
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.bootstrap = 50;
    o.ci = 0.9;
    o.seed = 5;
    mist_est_result r;
    ck_assert_int_eq(mist_estimate_classical("discrete", d, n, 2, 1, &o, &r, &err), 0);
    ck_assert(r.estimate == v);
    ck_assert_msg(r.lower < v && v < r.upper && r.n_boot_failed == 0, "[%g, %g] %g", r.lower,
                  r.upper, v);
    free(d);
}
END_TEST

/* The guard: every column discrete -> the plug-in with its own interval, even where the model
 * is far off; one continuous column -> KSG as before. */
START_TEST(test_guard_all_discrete)
{
    size_t n = 300;
    double *d = malloc(n * 3 * sizeof *d);
    fill(d, n);
    mist_err err = {0};
    double v, se;
    ck_assert_int_eq(mist_discrete_mi(d, n, 2, 1, &v, &se, &err), 0);
    mist_guard_model m = tu_guard_model(2.0, 3.0, 4.0);
    mist_guard_result r;
    ck_assert_int_eq(mist_guard_run(d, n, 2, 1, &m, NULL, &r, &err), 0);
    ck_assert(r.reasons & MIST_GUARD_DISCRETE);
    ck_assert_int_eq(r.answer, MIST_GUARD_ANSWER_DISCRETE);
    ck_assert_str_eq(mist_guard_answer_name(r.answer), "discrete");
    ck_assert(r.estimate == v);
    ck_assert(fabs(r.upper - v - 1.6448536269514722 * se) < 1e-12);
    ck_assert(fabs(v - r.lower - 1.6448536269514722 * se) < 1e-12);
    for (size_t i = 0; i < n; i++) d[3 * i + 2] += 0.01 * runif(); /* Y continuous */
    ck_assert_int_eq(mist_guard_run(d, n, 2, 1, &m, NULL, &r, &err), 0);
    ck_assert(r.reasons & MIST_GUARD_DISCRETE);
    ck_assert_int_ne(r.answer, MIST_GUARD_ANSWER_DISCRETE);
    free(d);
}
END_TEST

int main(void)
{
    return tu_run_case("discrete", 30, test_brute_force, test_invariances, test_monte_carlo,
                       test_refusals, test_dispatch, test_guard_all_discrete, NULL)
               ? 1
               : 0;
}
