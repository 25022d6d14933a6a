/* mist_mixed_mi (classical/mixed.c, Ross 2014): against an O(n^2) transcription of the formula,
 * against the exact MI of a two-class Gaussian mixture by quadrature (Monte Carlo over
 * replicates), its invariances (which block is discrete, row order), its refusals, the
 * dispatcher's "mixed" with row origins, and the guard's mixed answer. */
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "est_internal.h"
#include "mist_classical.h"
#include "mist_guard.h"
#include "testutil.h"

#define Z90 1.6448536269514722
#define SQRT_2PI 2.5066282746310002

static uint64_t rng = 0x6d69786564ULL;

/* n rows: X = class in 0..K-1 (class j with probability 1/K), then dy continuous columns, the
 * first N(mu * j, 1), the others N(0, 1). */
static double *mixture(size_t n, int K, int dy, double mu, int y_first)
{
    int cols = 1 + dy;
    double *d = malloc(n * (size_t)cols * sizeof *d);
    for (size_t i = 0; i < n; i++) {
        int j = (int)(tu_runif(&rng) * K);
        double *row = d + i * (size_t)cols;
        double *x = y_first ? row + dy : row, *y = y_first ? row : row + 1;
        *x = j;
        y[0] = mu * j + tu_rnorm(&rng);
        for (int c = 1; c < dy; c++) y[c] = tu_rnorm(&rng);
    }
    return d;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The formula itself on the prepared values, every distance by brute force. */
static double brute(const double *data, size_t n, int dx, int dy, int k, int disc_x)
{
    int cols = dx + dy, c0 = disc_x ? dx : 0, dc = disc_x ? dy : dx;
    int d0 = disc_x ? 0 : dx, dd = disc_x ? dx : dy;
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.k = k;
    double *p = malloc(n * (size_t)cols * sizeof *p), *dist = malloc(n * sizeof *dist);
    size_t *nc = calloc(n, sizeof *nc);
    mist_err err = {0};
    ck_assert_int_eq(mist_ksg_prepare(p, data, n, dx, dy, &o, &err), 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            nc[i] += memcmp(data + i * (size_t)cols + d0, data + j * (size_t)cols + d0,
                            (size_t)dd * sizeof *data) == 0;
    double sum = 0.0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (nc[i] < 2) continue;
        const double *qi = p + i * (size_t)cols + c0;
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i && memcmp(data + i * (size_t)cols + d0, data + j * (size_t)cols + d0,
                                 (size_t)dd * sizeof *data) == 0)
                dist[m++] = mist_est_maxnorm(qi, p + j * (size_t)cols + c0, dc);
        qsort(dist, m, sizeof *dist, cmp_double);
        int ki = m < (size_t)k ? (int)m : k;
        double r = dist[ki - 1];
        size_t cnt = 0;
        for (size_t j = 0; j < n; j++)
            cnt += nc[j] >= 2 && mist_est_maxnorm(qi, p + j * (size_t)cols + c0, dc) < r;
        sum += gsl_sf_psi_int(ki) - gsl_sf_psi((double)nc[i]) - gsl_sf_psi((double)cnt);
        used++;
    }
    free(p);
    free(dist);
    free(nc);
    return gsl_sf_psi((double)used) + sum / (double)used;
}

/* Same value as the brute force: X categorical (with a class of one row), Y 1 or 2 columns;
 * then the discrete block on the Y side. */
START_TEST(test_brute_force)
{
    int shapes[][3] = {{3, 1, 0}, {4, 2, 0}, {2, 1, 1}, {5, 3, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int K = shapes[s][0], dy = shapes[s][1], yf = shapes[s][2];
        size_t n = 157;
        double *d = mixture(n, K, dy, 0.8, yf);
        int cols = 1 + dy;
        /* a lone class: left out */
        d[(n - 1) * (size_t)cols + (yf ? (size_t)dy : 0)] = 17.0;
        int dx = yf ? dy : 1, dyy = yf ? 1 : dy;
        for (int k = 1; k <= 5; k += 2) {
            mist_est_opts o;
            mist_est_opts_default(&o);
            o.k = k;
            double v, se;
            mist_err err = {0};
            ck_assert_msg(mist_mixed_mi(d, n, dx, dyy, &o, &v, &se, &err) == 0, "%s", err.msg);
            double ref = brute(d, n, dx, dyy, k, !yf);
            ck_assert_msg(fabs(v - ref) < 1e-12, "K=%d dy=%d k=%d: %.15g vs brute %.15g", K, dy,
                          k, v, ref);
            ck_assert(se > 0.0 && se < 1.0);
        }
        free(d);
    }
}
END_TEST

/* I(X;Y) for X uniform on {0, 1}, Y | X ~ N(mu X, 1): h(Y) - h(Y | X) by the trapezoid rule */
static double two_class_mi(double mu)
{
    double h = 0.0, step = 1e-3;
    for (double y = -12.0; y <= 12.0 + mu; y += step) {
        double f = 0.5 * (exp(-0.5 * y * y) + exp(-0.5 * (y - mu) * (y - mu))) / SQRT_2PI;
        if (f > 0) h -= f * log(f) * step;
    }
    return h - log(SQRT_2PI) - 0.5;
}

/* Monte Carlo: the mean over 60 replicates within 4 standard errors (and 0.02 nats) of the
 * exact MI; the interval est +- z 1.5 se covers it in most replicates. */
START_TEST(test_monte_carlo)
{
    double mus[] = {0.5, 2.0, 4.0};
    for (int t = 0; t < 3; t++) {
        double truth = two_class_mi(mus[t]), s = 0.0, s2 = 0.0;
        int reps = 60, cover = 0;
        for (int r = 0; r < reps; r++) {
            size_t n = 600;
            double *d = mixture(n, 2, 1, mus[t], 0), v, se;
            mist_err err = {0};
            ck_assert_int_eq(mist_mixed_mi(d, n, 1, 1, NULL, &v, &se, &err), 0);
            s += v;
            s2 += v * v;
            cover += fabs(v - truth) <= Z90 * 1.5 * se;
            free(d);
        }
        double mean = s / reps, sd = sqrt((s2 - reps * mean * mean) / (reps - 1));
        double sem = sd / sqrt(reps);
        ck_assert_msg(fabs(mean - truth) < 4 * sem + 0.005 && fabs(mean - truth) < 0.02,
                      "mu %.1f: mean %.4f, truth %.4f, se of the mean %.4f", mus[t], mean, truth,
                      sem);
        ck_assert_msg(cover >= 48, "mu %.1f: the interval covered %d of 60", mus[t], cover);
    }
}
END_TEST

/* Without noise: which block holds the classes, and the row order, do not change the value. */
START_TEST(test_invariances)
{
    size_t n = 300;
    int dy = 2, cols = 3;
    double *a = mixture(n, 3, dy, 1.0, 0), *b = malloc(n * 3 * sizeof *b);
    double *c = malloc(n * 3 * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        b[3 * i] = a[3 * i + 1], b[3 * i + 1] = a[3 * i + 2], b[3 * i + 2] = a[3 * i];
        size_t j = (i * 7919) % n; /* 7919 is prime to 300: a permutation */
        memcpy(c + 3 * j, a + 3 * i, 3 * sizeof *c);
    }
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.noise = 0.0;
    double va, vb, vc;
    mist_err err = {0};
    ck_assert_int_eq(mist_mixed_mi(a, n, 1, dy, &o, &va, NULL, &err), 0);
    ck_assert_int_eq(mist_mixed_mi(b, n, dy, 1, &o, &vb, NULL, &err), 0);
    ck_assert_int_eq(mist_mixed_mi(c, n, 1, dy, &o, &vc, NULL, &err), 0);
    ck_assert_msg(va == vb, "%.17g vs %.17g", va, vb);
    ck_assert_msg(fabs(va - vc) < 1e-12, "%.17g vs %.17g", va, vc);
    (void)cols;
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_refusals)
{
    size_t n = 200;
    double *d = mixture(n, 3, 1, 1.0, 0), v;
    mist_err err = {0};
    /* both continuous */
    for (size_t i = 0; i < n; i++) d[2 * i] += 0.1 * tu_rnorm(&rng);
    ck_assert_int_eq(mist_mixed_mi(d, n, 1, 1, NULL, &v, NULL, &err), MIST_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "neither"));
    /* both discrete */
    for (size_t i = 0; i < n; i++) d[2 * i] = (double)(i % 3), d[2 * i + 1] = (double)(i % 4);
    ck_assert_int_eq(mist_mixed_mi(d, n, 1, 1, NULL, &v, NULL, &err), MIST_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "both discrete"));
    /* every class a single row of its own but for ... none: n/2 classes of two rows is fine,
     * a NaN is not */
    d[5] = NAN;
    ck_assert_int_eq(mist_mixed_mi(d, n, 1, 1, NULL, &v, NULL, &err), MIST_EDATA);
    ck_assert_int_eq(mist_mixed_mi(d, 4, 1, 1, NULL, &v, NULL, &err), MIST_EDATA); /* n < k + 2 */
    free(d);
}
END_TEST

/* The dispatcher's "mixed" is mist_mixed_mi; identity origins change no bit; a bootstrap
 * interval holds the estimate's neighbourhood. */
START_TEST(test_dispatch)
{
    size_t n = 250;
    double *d = mixture(n, 4, 2, 0.7, 0), v, vo;
    size_t *origin = malloc(n * sizeof *origin);
    for (size_t i = 0; i < n; i++) origin[i] = i;
    mist_est_opts o;
    mist_est_opts_default(&o);
    mist_err err = {0};
    ck_assert(mist_est_known("mixed"));
    ck_assert_int_eq(mist_est_version("mixed"), 1);
    ck_assert_int_eq(mist_mixed_mi(d, n, 1, 2, &o, &v, NULL, &err), 0);
    ck_assert_int_eq(mist_mixed_mi_ex(d, origin, n, 1, 2, &o, &vo, NULL, &err), 0);
    ck_assert(v == vo);
    mist_est_result r;
    o.bootstrap = 50;
    ck_assert_int_eq(mist_estimate_classical("mixed", d, n, 1, 2, &o, &r, &err), 0);
    ck_assert(r.estimate == v);
    ck_assert(r.lower < r.upper && r.lower < v + 0.3 && r.upper > v - 0.3);
    ck_assert_int_eq(r.n_boot_failed, 0);
    free(origin);
    free(d);
}
END_TEST

/* The guard: a categorical X with continuous Y is answered by the mixed estimate over the
 * distinct rows with +- z 1.5 se, even where the model is far off; a second continuous column
 * in X (one discrete column of two) keeps the KSG answer. */
START_TEST(test_guard_mixed)
{
    size_t n = 400;
    double *d = mixture(n, 3, 1, 1.5, 0), v, se;
    mist_err err = {0};
    mist_est_opts eo;
    mist_est_opts_default(&eo);
    ck_assert_int_eq(mist_mixed_mi(d, n, 1, 1, &eo, &v, &se, &err), 0);
    mist_guard_model m = tu_guard_model(2.0, 3.0, 4.0);
    mist_guard_result r;
    ck_assert_int_eq(mist_guard_run(d, n, 1, 1, &m, NULL, &r, &err), 0);
    ck_assert(r.reasons & MIST_GUARD_DISCRETE);
    ck_assert_int_eq(r.answer, MIST_GUARD_ANSWER_MIXED);
    ck_assert_str_eq(mist_guard_answer_name(r.answer), "mixed");
    ck_assert(r.mixed.ok && r.estimate == v);
    ck_assert(fabs(r.upper - v - Z90 * 1.5 * se) < 1e-12);
    ck_assert(fabs(v - r.lower - Z90 * 1.5 * se) < 1e-12);
    free(d);
    /* X = (class, continuous): not one whole discrete block */
    double *e = malloc(n * 3 * sizeof *e), *c = mixture(n, 3, 1, 1.5, 0);
    for (size_t i = 0; i < n; i++)
        e[3 * i] = c[2 * i], e[3 * i + 1] = tu_rnorm(&rng), e[3 * i + 2] = c[2 * i + 1];
    ck_assert_int_eq(mist_guard_run(e, n, 2, 1, &m, NULL, &r, &err), 0);
    ck_assert(r.reasons & MIST_GUARD_DISCRETE);
    ck_assert(!r.mixed.ok && r.mixed.note[0]);
    ck_assert_int_eq(r.answer, MIST_GUARD_ANSWER_KSG1);
    free(c);
    free(e);
}
END_TEST

int main(void)
{
    return tu_run_case("mixed", 60, test_brute_force, test_monte_carlo, test_invariances,
                       test_refusals, test_dispatch, test_guard_mixed, NULL)
               ? 1
               : 0;
}
