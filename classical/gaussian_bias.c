/* The finite-sample bias of the Gaussian MI estimate, for Gaussian data.
 *
 * With n rows and the mean estimated, the sample covariance of p Gaussian columns is
 * Wishart with nu = n - 1 degrees of freedom, and (Muirhead, Theorem 3.2.15)
 *   E[ln det S] = ln det Sigma + sum_{i=1..p} psi((nu - i + 1) / 2) + p ln(2 / nu).
 * The scale terms cancel in 1/2 (ln det S_xx + ln det S_yy - ln det S), so
 *   E[I_hat] - I = 1/2 (s(dx) + s(dy) - s(dx + dy)),  s(p) = sum_{i=1..p} psi((n - i) / 2),
 * which depends on n, dx and dy only: subtracting it gives an exactly unbiased estimator of
 * the Gaussian MI (of the normal scores' MI, approximately, with the copula option). The bias
 * is positive and large when dx * dy is not small next to n (about dx dy / (2 n)). In its own
 * file: GSL's headers cannot share a source file with cblas.h. */
#include <gsl/gsl_sf_psi.h>

#include "mist_classical.h"

int mist_gaussian_mi_bias(size_t n, int dx, int dy, double *bias, mist_err *err)
{
    if (!bias) return mist_fail(err, MIST_EINVAL, "gaussian bias: bias pointer is NULL");
    if (dx < 1 || dy < 1)
        return mist_fail(err, MIST_EINVAL, "gaussian bias: dx and dy must be >= 1 (got %d, %d)",
                         dx, dy);
    size_t d = (size_t)dx + (size_t)dy;
    if (n <= d)
        return mist_fail(err, MIST_EDATA,
                         "gaussian bias: n = %zu rows for dx+dy = %zu columns (needs n > dx+dy)",
                         n, d);
    /* s(dx) + s(dy) - s(dx+dy) = sum_{i<=dy} psi((n-i)/2) - sum_{i=dx+1..dx+dy} psi((n-i)/2):
     * pairing term i with term dx + i keeps every difference small and positive. */
    double b = 0.0;
    for (int i = 1; i <= dy; i++)
        b += gsl_sf_psi(0.5 * (double)(n - (size_t)i)) -
             gsl_sf_psi(0.5 * (double)(n - (size_t)dx - (size_t)i));
    *bias = 0.5 * b;
    return MIST_OK;
}
