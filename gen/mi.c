/* Exact mutual information of the generator's families. */
#include "gen_internal.h"

#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int gen_cholesky(const double *S, int d, double *L, double *logdet, mist_err *err)
{
    memset(L, 0, (size_t)d * d * sizeof *L);
    double ld = 0.0;
    for (int j = 0; j < d; j++) {
        double s = S[j * d + j];
        for (int k = 0; k < j; k++) s -= L[j * d + k] * L[j * d + k];
        if (!(s > 0.0) || !isfinite(s))
            return mist_fail(err, MIST_ENUMERIC,
                             "matrix is not positive definite (pivot %d of %d is %g)", j + 1, d, s);
        double ljj = sqrt(s);
        L[j * d + j] = ljj;
        ld += 2.0 * log(ljj);
        for (int i = j + 1; i < d; i++) {
            double v = S[i * d + j];
            for (int k = 0; k < j; k++) v -= L[i * d + k] * L[j * d + k];
            L[i * d + j] = v / ljj;
        }
    }
    if (logdet) *logdet = ld;
    return MIST_OK;
}

/* log det of the principal block [off, off+m) of S. */
static int block_logdet(const double *S, int d, int off, int m, double *ld, mist_err *err)
{
    double *B = malloc((size_t)m * m * sizeof *B), *L = malloc((size_t)m * m * sizeof *L);
    int rc = MIST_OK;
    if (!B || !L) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory");
    } else {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++) B[i * m + j] = S[(off + i) * d + off + j];
        rc = gen_cholesky(B, m, L, ld, err);
    }
    free(B);
    free(L);
    return rc;
}

int mist_mi_gaussian(const double *S, int dx, int dy, double *mi, mist_err *err)
{
    int d = dx + dy;
    double lx, ly, lxy;
    int rc = block_logdet(S, d, 0, dx, &lx, err);
    if (!rc) rc = block_logdet(S, d, dx, dy, &ly, err);
    if (!rc) rc = block_logdet(S, d, 0, d, &lxy, err);
    if (rc) return rc;
    double v = 0.5 * (lx + ly - lxy);
    *mi = v > 0.0 ? v : 0.0;
    return MIST_OK;
}

/* h(k) = -lgamma((nu+k)/2) + lgamma(nu/2) + (k/2) log(nu pi) + ((nu+k)/2)(psi((nu+k)/2) - psi(nu/2)):
 * the differential entropy of a k-dim standard Student-t minus the log det term. */
static double student_h(double nu, int k)
{
    double a = 0.5 * (nu + k), b = 0.5 * nu;
    return -gsl_sf_lngamma(a) + gsl_sf_lngamma(b) + 0.5 * k * log(nu * GEN_PI) +
           a * (gsl_sf_psi(a) - gsl_sf_psi(b));
}

double mist_mi_student_correction(double nu, int dx, int dy)
{
    return student_h(nu, dx) + student_h(nu, dy) - student_h(nu, dx + dy);
}

double mist_mi_additive(const double *eps, int d)
{
    double mi = 0.0;
    for (int j = 0; j < d; j++) {
        double e = eps[j];
        mi += e <= 0.5 ? e - log(2.0 * e) : 1.0 / (4.0 * e);
    }
    return mi;
}

double mist_mi_dense(double c, int dx, int dy)
{
    double m = dx, k = dy;
    double v = 0.5 * (-log1p(-c) + log1p((m - 1) * c) + log1p((k - 1) * c) - log1p((m + k - 1) * c));
    return v > 0.0 ? v : 0.0;
}
