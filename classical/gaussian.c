/* Gaussian / CCA estimate: I = 1/2 (log det C_xx + log det C_yy - log det C) from the sample
 * covariance C. Exact for Gaussian data (up to sampling error), biased for anything else.
 *
 * Singular covariances are an error (MIST_EDATA), not a ridge: a ridge would turn "X determines
 * Y linearly" (infinite MI) into an arbitrary finite number set by the ridge size, which no
 * caller could interpret. The cases, in the order they are checked:
 *   - n <= dx+dy: n centred rows span at most n-1 dimensions;
 *   - a constant column (max == min, checked on the raw values, so no rounding can hide it);
 *   - a column that is a linear combination of the columns before it: in the Cholesky
 *     factorisation of the correlation matrix its squared pivot (the fraction of its variance
 *     not explained by the earlier columns, 1 - R^2) is below MIST_GAUSS_PIVOT_TOL. With exact
 *     collinearity that fraction is rounding noise (~1e-16 * condition); 1e-12 leaves room for
 *     that noise while still accepting any real dependence up to I ~ 0.5 log 1e12 ~ 13.8 nats.
 * Computing in the correlation scale makes the tolerance a plain fraction and the result
 * independent of the columns' units. Plain loops: d is small next to n, and O(n d^2) with a
 * cache-friendly row sweep is not the bottleneck of anything. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "est_internal.h"
#include "mist_classical.h"

#define MIST_GAUSS_PIVOT_TOL 1e-12

/* In-place lower Cholesky of the m x m matrix a (row-major, leading dimension lda; only the
 * lower triangle is read). Returns -1 on success, else the index of the first column whose
 * squared pivot falls below the tolerance. a has unit diagonal (a correlation matrix). */
static int chol_corr(double *a, int m, int lda)
{
    for (int j = 0; j < m; j++) {
        double s = a[(size_t)j * lda + j];
        for (int k = 0; k < j; k++) s -= a[(size_t)j * lda + k] * a[(size_t)j * lda + k];
        if (!(s > MIST_GAUSS_PIVOT_TOL)) return j;
        double l = sqrt(s);
        a[(size_t)j * lda + j] = l;
        for (int i = j + 1; i < m; i++) {
            double t = a[(size_t)i * lda + j];
            for (int k = 0; k < j; k++) t -= a[(size_t)i * lda + k] * a[(size_t)j * lda + k];
            a[(size_t)i * lda + j] = t / l;
        }
    }
    return -1;
}

int mist_gaussian_mi(const double *data, size_t n, int dx, int dy, double *mi, mist_err *err)
{
    int rc = mist_est_check_input("gaussian", data, n, dx, dy, 2, err);
    if (rc) return rc;
    if (!mi) return mist_fail(err, MIST_EINVAL, "gaussian: mi pointer is NULL");
    int d = dx + dy;
    size_t ds = (size_t)d;
    if (n <= ds)
        return mist_fail(err, MIST_EDATA,
                         "gaussian: covariance is singular: n = %zu rows for dx+dy = %d columns "
                         "(needs n > dx+dy)",
                         n, d);
    for (int j = 0; j < d; j++) {
        double lo = data[j], hi = data[j];
        for (size_t i = 1; i < n; i++) {
            double v = data[i * ds + j];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        if (lo == hi) {
            char lab[24];
            mist_est_col_label(lab, sizeof lab, j, dx);
            return mist_fail(err, MIST_EDATA,
                             "gaussian: covariance is singular: column %d (%s) is constant", j + 1,
                             lab);
        }
    }

    double *mean = calloc(ds, sizeof *mean);
    double *r = malloc(ds * sizeof *r);
    double *c = calloc(ds * ds, sizeof *c);
    double *cy = malloc((size_t)dy * (size_t)dy * sizeof *cy);
    if (!mean || !r || !c || !cy) {
        free(mean);
        free(r);
        free(c);
        free(cy);
        return mist_fail(err, MIST_ENOMEM, "gaussian: out of memory for %d columns", d);
    }
    /* Two passes: the mean, then a correction pass (the mean of the residuals, which rounding
     * leaves slightly off zero), then the centred cross-products. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ds; j++) mean[j] += data[i * ds + j];
    for (size_t j = 0; j < ds; j++) mean[j] /= (double)n;
    for (size_t j = 0; j < ds; j++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += data[i * ds + j] - mean[j];
        mean[j] += s / (double)n;
    }
    for (size_t i = 0; i < n; i++) {
        const double *row = data + i * ds;
        for (size_t j = 0; j < ds; j++) r[j] = row[j] - mean[j];
        for (size_t j = 0; j < ds; j++) {
            double rj = r[j];
            double *cj = c + j * ds;
            for (size_t k = 0; k <= j; k++) cj[k] += rj * r[k]; /* lower triangle */
        }
    }
    /* Scale to correlations (the 1/(n-1) cancels). A column's variance cannot be 0 here
     * (constant columns were rejected), but rounding of near-constant columns could make
     * the cross-products underflow: treat that as constant too. */
    for (size_t j = 0; j < ds; j++) {
        if (!(c[j * ds + j] > 0.0) || !isfinite(c[j * ds + j])) {
            char lab[24];
            mist_est_col_label(lab, sizeof lab, (int)j, dx);
            free(mean);
            free(r);
            free(c);
            free(cy);
            return mist_fail(err, MIST_EDATA,
                             "gaussian: covariance is singular: column %zu (%s) has zero or "
                             "unrepresentable variance",
                             j + 1, lab);
        }
        r[j] = 1.0 / sqrt(c[j * ds + j]);
    }
    for (size_t j = 0; j < ds; j++) {
        for (size_t k = 0; k < j; k++) c[j * ds + k] *= r[j] * r[k];
        c[j * ds + j] = 1.0;
    }
    /* The Y block of the correlation matrix, before the joint factorisation overwrites it. */
    for (int j = 0; j < dy; j++)
        for (int k = 0; k <= j; k++)
            cy[(size_t)j * dy + k] = c[(size_t)(dx + j) * ds + (size_t)(dx + k)];

    int bad = chol_corr(c, d, d);
    int bad_y = bad < 0 ? chol_corr(cy, dy, dy) : -1;
    if (bad >= 0 || bad_y >= 0) {
        int j = bad >= 0 ? bad : dx + bad_y;
        char lab[24];
        mist_est_col_label(lab, sizeof lab, j, dx);
        free(mean);
        free(r);
        free(c);
        free(cy);
        return mist_fail(err, MIST_EDATA,
                         "gaussian: covariance is singular: column %d (%s) is collinear with "
                         "the columns before it (1 - R^2 < %g)",
                         j + 1, lab, MIST_GAUSS_PIVOT_TOL);
    }
    /* The leading dx x dx block of the joint factor is the factor of C_xx, so
     * 1/2 (log det C_xx + log det C_yy - log det C)
     *   = sum_j log Ly_jj - sum_{j >= dx} log L_jj
     * (the second sum is 1/2 log det of the Schur complement C_yy|x). */
    double s = 0.0;
    for (int j = 0; j < dy; j++) {
        s += log(cy[(size_t)j * dy + j]);
        s -= log(c[(size_t)(dx + j) * ds + (size_t)(dx + j)]);
    }
    *mi = s;
    free(mean);
    free(r);
    free(c);
    free(cy);
    return MIST_OK;
}
