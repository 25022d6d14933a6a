/* The guard's classical cross-checks with cheap standard errors (mist_guard.h).
 *
 * KSG (algorithm 1): the estimate is psi(k) + psi(n) - mean_i t_i with the per-row terms
 * t_i = psi(n_x(i) + 1) + psi(n_y(i) + 1), on the data prepared exactly as mist_ksg prepares it
 * (z-scores, tie-breaking noise from the seed) and summed the same way, so the value is
 * mist_ksg's bit for bit. Its standard error is sd(t) / sqrt(n): the plug-in error of a mean of the
 * per-row terms, which ignores that neighbouring rows share counts. It is no interval on its
 * own; the guard's rules use it with margins measured on data (guard.c).
 *
 * Gaussian copula: normal scores per column (mist_copula_transform), then the Gaussian MI
 * I = 1/2 (log det R_xx + log det R_yy - log det R) of their sample correlation R. For Gaussian
 * data (n - 1) S is Wishart, so E log det S = log det Sigma + b(d) with
 * b(d) = sum_{i=1}^{d} psi((n - i) / 2) + d log(2 / (n - 1)) whatever Sigma is: the estimate's
 * bias is exactly 1/2 (b(dx) + b(dy) - b(dx+dy)) > 0 (mist_gaussian_mi_bias; about dx dy / 2n, several nats at
 * 32 x 32 and n = 100), which the guard subtracts. Its variance has two parts: the first-order
 * (delta method) term var(IF) / n with the influence of row i
 * IF_i = 1/2 (u_x' R_xx^-1 u_x + u_y' R_yy^-1 u_y - u' R^-1 u) (u: the row's z-scores), which
 * vanishes at independence in the population, plus the null spread: by Bartlett's
 * approximation, at independence 2 n' I ~ chi^2_{dx dy} with n' = n - 1 - (dx + dy + 1) / 2,
 * variance dx dy / (2 n'^2). In samples the first term does not quite vanish, so at
 * independence the sum errs wide (sd / se about 0.6); elsewhere sd / se ran 0.8-1.4.
 *
 * The same on the raw values (mist_guard_gaussian_raw) gives the Gaussian MI of the data
 * themselves and, from the rows whitened on the way, Mardia's multivariate skewness and
 * kurtosis tests of joint normality, O(n d^3): the guard's check that the Gaussian MI is the
 * efficient answer (guard.c, GAUSSIAN FIT). */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sf_psi.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_classical.h"
#include "mist_guard.h"

#define PIVOT_TOL 1e-12 /* as classical/gaussian.c: 1 - R^2 below it is collinearity */

static double psi_count(size_t m)
{
    return m <= (size_t)INT_MAX ? gsl_sf_psi_int((int)m) : gsl_sf_psi((double)m);
}

int mist_guard_ksg(const double *data, size_t n, int dx, int dy, int k, uint64_t seed,
                   int threads, double *mi, double *se, mist_err *err)
{
    if (!data || !mi || !se) return mist_fail(err, MIST_EINVAL, "guard ksg: NULL argument");
    if (dx < 1 || dy < 1 || k < 1)
        return mist_fail(err, MIST_EINVAL, "guard ksg: bad dx, dy or k (%d, %d, %d)", dx, dy, k);
    if (n <= (size_t)k)
        return mist_fail(err, MIST_EDATA, "ksg1 needs more than k = %d rows (got n = %zu)", k,
                         n);
    size_t cols = (size_t)dx + (size_t)dy;
    double *sub = NULL;
    if (n > MIST_GUARD_KSG_ROWS) {
        if (!(sub = malloc(n * cols * sizeof *sub)))
            return mist_fail(err, MIST_ENOMEM, "guard ksg: out of memory for %zu rows", n);
        memcpy(sub, data, n * cols * sizeof *sub);
        int rc = row_chunk_order(sub, n, dx + dy, err);
        if (rc) {
            free(sub);
            return rc;
        }
        data = sub;
        n = MIST_GUARD_KSG_ROWS;
    }
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.k = k;
    o.seed = seed;
    o.threads = threads < 1 ? 1 : threads;
    double *prep = malloc(n * cols * sizeof *prep);
    int *nx = malloc(n * sizeof *nx), *ny = malloc(n * sizeof *ny);
    int rc = MIST_OK;
    if (!prep || !nx || !ny) {
        rc = mist_fail(err, MIST_ENOMEM, "guard ksg: out of memory for %zu rows", n);
        goto out;
    }
    if ((rc = mist_ksg_prepare(prep, data, n, dx, dy, &o, err))) goto out;
    if ((rc = mist_ksg_counts(1, prep, n, dx, dy, k, o.threads, nx, ny, err))) goto out;
    /* the mean exactly as mist_ksg sums it (row order, Neumaier compensation), so the estimate
     * is its bit for bit; the variance by Welford (one pass, no cancellation) */
    double s = 0.0, comp = 0.0, mean = 0.0, m2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = psi_count((size_t)nx[i] + 1) + psi_count((size_t)ny[i] + 1);
        double u = s + t;
        comp += fabs(s) >= fabs(t) ? (s - u) + t : (t - u) + s;
        s = u;
        double dlt = t - mean;
        mean += dlt / (double)(i + 1);
        m2 += dlt * (t - mean);
    }
    double base = gsl_sf_psi_int(k) + psi_count(n);
    *mi = base - (s + comp) / (double)n;
    *se = sqrt(m2 / (double)(n - 1) / (double)n);
out:
    free(prep);
    free(nx);
    free(ny);
    free(sub);
    return rc;
}

/* In-place lower Cholesky of the m x m block of a starting at (off, off), leading dimension
 * lda; 0 on success, -1 when a squared pivot falls below PIVOT_TOL (a has unit diagonal). */
static int chol_block(double *a, int off, int m, int lda)
{
    for (int j = off; j < off + m; j++) {
        double s = a[(size_t)j * lda + j];
        for (int k = off; k < j; k++) s -= a[(size_t)j * lda + k] * a[(size_t)j * lda + k];
        if (!(s > PIVOT_TOL)) return -1;
        double l = sqrt(s);
        a[(size_t)j * lda + j] = l;
        for (int i = j + 1; i < off + m; i++) {
            double t = a[(size_t)i * lda + j];
            for (int k = off; k < j; k++) t -= a[(size_t)i * lda + k] * a[(size_t)j * lda + k];
            a[(size_t)i * lda + j] = t / l;
        }
    }
    return 0;
}

/* ||L^-1 v||^2 for the lower factor L of the m x m block at (off, off); v is overwritten. */
static double quad_form(const double *L, int off, int m, int lda, double *v)
{
    double q = 0.0;
    for (int j = 0; j < m; j++) {
        double t = v[j];
        for (int k = 0; k < j; k++) t -= L[(size_t)(off + j) * lda + off + k] * v[k];
        t /= L[(size_t)(off + j) * lda + off + j];
        v[j] = t;
        q += t * t;
    }
    return q;
}

/* Mardia's statistics of the whitened rows: b1 (skewness) = sum over a, b, c of the squared
 * third moment m_abc = mean_i w_ia w_ib w_ic, accumulated for a <= b <= c (weights 1, 3, 6 for
 * one, two, three distinct indices), and b2 (kurtosis) = mean_i |w_i|^4. */
typedef struct mardia_acc {
    int d;
    double *m3; /* d^3, only a <= b <= c used */
    double q4;
} mardia_acc;

static void mardia_add(mardia_acc *A, const double *w, double q)
{
    int d = A->d;
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) {
            double ab = w[a] * w[b];
            double *row = A->m3 + ((size_t)a * d + b) * d;
            for (int c = b; c < d; c++) row[c] += ab * w[c];
        }
    A->q4 += q * q;
}

/* p-values of the two tests from the sums over n rows whitened by the sample correlation with
 * the n - 1 divisor (Mardia's statistics use the ML covariance: a factor n / (n - 1) per
 * squared length). Skewness: n b1 / 6 with the small-sample factor
 * (d + 1)(n + 1)(n + 3) / (n ((n + 1)(d + 1) - 6)) against chi^2 with d (d + 1)(d + 2) / 6
 * degrees of freedom; kurtosis: (b2 - d (d + 2)(n - 1) / (n + 1)) / sqrt(8 d (d + 2) / n)
 * against the standard normal, two-sided. */
static void mardia_p(const mardia_acc *A, size_t n, double *p_skew, double *p_kurt)
{
    int d = A->d;
    double dn = (double)n, f = dn / (dn - 1.0), b1 = 0.0;
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++)
            for (int c = b; c < d; c++) {
                double m = A->m3[((size_t)a * d + b) * d + c] / dn;
                double w = a == b && b == c ? 1.0 : a == b || b == c ? 3.0 : 6.0;
                b1 += w * m * m;
            }
    b1 *= f * f * f;
    double b2 = A->q4 / dn * f * f, dd = (double)d;
    double k = (dd + 1.0) * (dn + 1.0) * (dn + 3.0) / (dn * ((dn + 1.0) * (dd + 1.0) - 6.0));
    *p_skew = gsl_cdf_chisq_Q(dn * b1 / 6.0 * k, dd * (dd + 1.0) * (dd + 2.0) / 6.0);
    double z = (b2 - dd * (dd + 2.0) * (dn - 1.0) / (dn + 1.0)) / sqrt(8.0 * dd * (dd + 2.0) / dn);
    *p_kurt = 2.0 * gsl_cdf_ugaussian_Q(fabs(z));
}

/* The Gaussian MI of data (normal scores first when copula), its bias and standard error (see
 * above); with mardia (raw data, dx + dy <= MIST_GUARD_NORMAL_MAX_DIMS) also the two p-values. */
static int gaussian_stats(const double *data, size_t n, int dx, int dy, int copula, double *mi,
                          double *bias, double *se, double *p_skew, double *p_kurt,
                          mist_err *err)
{
    if (!data || !mi || !bias || !se)
        return mist_fail(err, MIST_EINVAL, "guard gaussian: NULL argument");
    if (dx < 1 || dy < 1)
        return mist_fail(err, MIST_EINVAL, "guard gaussian: bad dx or dy (%d, %d)", dx, dy);
    int d = dx + dy;
    /* n' = n - 1 - (d + 1)/2 > 0 and psi((n - d)/2) finite */
    if (n < (size_t)d + 3)
        return mist_fail(err, MIST_EDATA,
                         "gaussian copula needs at least dx+dy+3 = %d rows (got n = %zu)", d + 3,
                         n);
    size_t ds = (size_t)d;
    double *z = malloc(n * ds * sizeof *z);
    double *c = calloc(ds * ds, sizeof *c);
    double *cy = calloc((size_t)dy * (size_t)dy, sizeof *cy);
    double *mean = calloc(ds, sizeof *mean), *sd = calloc(ds, sizeof *sd);
    double *v = malloc(ds * sizeof *v);
    mardia_acc ma = {d, NULL, 0.0};
    int mardia = p_skew && p_kurt && d <= MIST_GUARD_NORMAL_MAX_DIMS;
    if (mardia) ma.m3 = calloc(ds * ds * ds, sizeof *ma.m3);
    int rc = MIST_OK;
    if (!z || !c || !cy || !mean || !sd || !v || (mardia && !ma.m3)) {
        rc = mist_fail(err, MIST_ENOMEM, "guard gaussian: out of memory for %zu rows", n);
        goto out;
    }
    if (copula) {
        if ((rc = mist_copula_transform(z, data, n, d, err))) goto out;
    } else {
        memcpy(z, data, n * ds * sizeof *z);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ds; j++) mean[j] += z[i * ds + j];
    for (size_t j = 0; j < ds; j++) mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double *row = z + i * ds;
        for (size_t j = 0; j < ds; j++) row[j] -= mean[j];
        for (size_t j = 0; j < ds; j++)
            for (size_t k = 0; k <= j; k++) c[j * ds + k] += row[j] * row[k];
    }
    for (size_t j = 0; j < ds; j++) {
        /* a constant column (every value tied) has no normal-score spread */
        if (!(c[j * ds + j] > 0.0)) {
            rc = mist_fail(err, MIST_EDATA, "gaussian%s: column %zu is constant",
                           copula ? " copula" : "", j + 1);
            goto out;
        }
        sd[j] = sqrt(c[j * ds + j] / (double)(n - 1));
    }
    for (size_t j = 0; j < ds; j++) {
        for (size_t k = 0; k < j; k++) c[j * ds + k] /= (double)(n - 1) * sd[j] * sd[k];
        c[j * ds + j] = 1.0;
    }
    for (int j = 0; j < dy; j++)
        for (int k = 0; k <= j; k++)
            cy[(size_t)j * dy + k] = c[(size_t)(dx + j) * ds + (size_t)(dx + k)];
    if (chol_block(c, 0, d, d) || chol_block(cy, 0, dy, dy)) {
        rc = mist_fail(err, MIST_EDATA,
                       copula ? "gaussian copula: the normal scores are collinear (a column is "
                                "a monotone function of others, or ties make columns equal)"
                              : "gaussian: the columns are collinear");
        goto out;
    }
    double s = 0.0;
    for (int j = 0; j < dy; j++) {
        s += log(cy[(size_t)j * dy + j]);
        s -= log(c[(size_t)(dx + j) * ds + (size_t)(dx + j)]);
    }
    *mi = s;
    if ((rc = mist_gaussian_mi_bias(n, dx, dy, bias, err))) goto out;
    /* influence of each row, then the variance of its mean */
    double im = 0.0, m2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double *row = z + i * ds;
        for (size_t j = 0; j < ds; j++) v[j] = row[j] / sd[j];
        double qall = quad_form(c, 0, d, d, v); /* v: the row whitened */
        if (mardia) mardia_add(&ma, v, qall);
        for (size_t j = 0; j < ds; j++) v[j] = row[j] / sd[j];
        double qx = quad_form(c, 0, dx, d, v); /* leading block of L is the factor of R_xx */
        for (int j = 0; j < dy; j++) v[j] = row[dx + j] / sd[dx + j];
        double qy = quad_form(cy, 0, dy, dy, v);
        double f = 0.5 * (qx + qy - qall);
        double dlt = f - im;
        im += dlt / (double)(i + 1);
        m2 += dlt * (f - im);
    }
    double np = (double)n - 1.0 - 0.5 * (double)(d + 1);
    *se = sqrt(m2 / (double)(n - 1) / (double)n + (double)dx * (double)dy / (2.0 * np * np));
    if (p_skew && p_kurt) {
        *p_skew = *p_kurt = NAN;
        if (mardia) mardia_p(&ma, n, p_skew, p_kurt);
    }
out:
    free(z);
    free(c);
    free(cy);
    free(mean);
    free(sd);
    free(v);
    free(ma.m3);
    return rc;
}

int mist_guard_gaussian_copula(const double *data, size_t n, int dx, int dy, double *mi,
                               double *bias, double *se, mist_err *err)
{
    return gaussian_stats(data, n, dx, dy, 1, mi, bias, se, NULL, NULL, err);
}

int mist_guard_gaussian_raw(const double *data, size_t n, int dx, int dy, double *mi,
                            double *bias, double *se, double *p_skew, double *p_kurt,
                            mist_err *err)
{
    if (!p_skew || !p_kurt) return mist_fail(err, MIST_EINVAL, "guard gaussian: NULL argument");
    return gaussian_stats(data, n, dx, dy, 0, mi, bias, se, p_skew, p_kurt, err);
}
