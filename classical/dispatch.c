/* The dispatcher: estimator names, input and option validation, the copula step, the point
 * estimate and the bootstrap interval. The CLI and the bench reach every classical estimator
 * through mist_estimate_classical so that they validate and report the same way. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "est_internal.h"
#include "mist_classical.h"
#include "util.h"

/* The same strings as the CLI, the bench and the spec; order = MIST_EST_* indices. */
static const char *const NAMES[MIST_EST_COUNT] = {"ksg1", "ksg2", "gaussian", "histogram", "kde",
                                                 "discrete", "mixed"};
#define KNOWN_LIST "ksg1, ksg2, gaussian, histogram, kde, discrete, mixed"

static int index_of(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < MIST_EST_COUNT; i++)
        if (strcmp(name, NAMES[i]) == 0) return i;
    return -1;
}

int mist_est_known(const char *name) { return index_of(name) >= 0; }

/* Bumped when an estimator's answers change (discrete 2: the mean with Chao-Shen). */
static const int VERSIONS[MIST_EST_COUNT] = {1, 1, 1, 1, 1, 2, 1};

int mist_est_version(const char *name)
{
    int i = index_of(name);
    return i < 0 ? 0 : VERSIONS[i];
}

const char *const *mist_est_names(size_t *count)
{
    if (count) *count = MIST_EST_COUNT;
    return NAMES;
}

void mist_est_col_label(char *buf, size_t len, int j, int dx)
{
    if (j < dx)
        snprintf(buf, len, "x%d", j + 1);
    else
        snprintf(buf, len, "y%d", j - dx + 1);
}

int mist_est_check_input(const char *method, const double *data, size_t n, int dx, int dy,
                         size_t min_n, mist_err *err)
{
    if (!data) return mist_fail(err, MIST_EINVAL, "%s: data is NULL", method);
    if (dx < 1 || dy < 1)
        return mist_fail(err, MIST_EINVAL, "%s: dx and dy must be >= 1 (got dx = %d, dy = %d)",
                         method, dx, dy);
    /* Every later size computation is n * (dx+dy) doubles (or a few such buffers). */
    if (dx > INT32_MAX / 2 || dy > INT32_MAX / 2)
        return mist_fail(err, MIST_EINVAL, "%s: too many columns (dx = %d, dy = %d)", method, dx,
                         dy);
    size_t d = (size_t)dx + (size_t)dy;
    if (n > SIZE_MAX / 8 / d / sizeof(double))
        return mist_fail(err, MIST_EINVAL, "%s: n = %zu rows of %zu columns is too large", method,
                         n, d);
    if (n < min_n)
        return mist_fail(err, MIST_EDATA, "%s needs at least %zu rows (got n = %zu)", method,
                         min_n, n);
    size_t k = mist_first_nonfinite(data, n * d);
    if (k < n * d) {
        char lab[24];
        mist_est_col_label(lab, sizeof lab, (int)(k % d), dx);
        return mist_fail(err, MIST_EDATA, "%s: non-finite value (%g) at row %zu, column %zu (%s)",
                         method, data[k], k / d + 1, k % d + 1, lab);
    }
    return MIST_OK;
}

static int run_raw(int method, const double *data, const size_t *origin, size_t n, int dx, int dy,
                   const mist_est_opts *o, double *mi, mist_err *err)
{
    switch (method) {
    case MIST_EST_KSG1: return mist_ksg_ex(1, data, origin, n, dx, dy, o, mi, err);
    case MIST_EST_KSG2: return mist_ksg_ex(2, data, origin, n, dx, dy, o, mi, err);
    case MIST_EST_GAUSSIAN: {
        int rc = mist_gaussian_mi(data, n, dx, dy, mi, err);
        double b;
        if (rc || !o->unbiased) return rc;
        if ((rc = mist_gaussian_mi_bias(n, dx, dy, &b, err))) return rc;
        *mi -= b;
        return MIST_OK;
    }
    case MIST_EST_HISTOGRAM: return mist_histogram_mi(data, n, dx, dy, o, mi, err);
    case MIST_EST_KDE: return mist_kde_mi_ex(data, origin, n, dx, dy, o, mi, err);
    case MIST_EST_DISCRETE: return mist_discrete_mi(data, n, dx, dy, mi, NULL, err);
    case MIST_EST_MIXED: return mist_mixed_mi_ex(data, origin, n, dx, dy, o, mi, NULL, err);
    default: return mist_fail(err, MIST_EINVAL, "estimator index %d out of range", method);
    }
}

int mist_est_point_inplace(int method, double *data, const size_t *origin, size_t n, int dx,
                           int dy, const mist_est_opts *o, double *mi, mist_err *err)
{
    if (o->copula) {
        int rc = mist_copula_transform(data, data, n, dx + dy, err);
        if (rc) return rc;
    }
    return run_raw(method, data, origin, n, dx, dy, o, mi, err);
}

int mist_est_point(int method, const double *data, size_t n, int dx, int dy,
                   const mist_est_opts *o, double *mi, mist_err *err)
{
    if (!o->copula) return run_raw(method, data, NULL, n, dx, dy, o, mi, err);
    size_t len = n * ((size_t)dx + (size_t)dy);
    double *buf = malloc((len ? len : 1) * sizeof *buf);
    if (!buf) return mist_fail(err, MIST_ENOMEM, "%s: out of memory for the copula copy",
                               NAMES[method]);
    memcpy(buf, data, len * sizeof *buf);
    int rc = mist_est_point_inplace(method, buf, NULL, n, dx, dy, o, mi, err);
    free(buf);
    return rc;
}

/* Range checks on every option, whatever the method: a nonsensical value is a caller error
 * even where this method ignores it, and one rule is easier to document than five. */
static int check_opts(const char *name, const mist_est_opts *o, mist_err *err)
{
    if (o->k < 1) return mist_fail(err, MIST_EINVAL, "%s: k must be >= 1 (got %d)", name, o->k);
    if (!(o->noise >= 0.0) || !isfinite(o->noise))
        return mist_fail(err, MIST_EINVAL, "%s: noise must be finite and >= 0 (got %g)", name,
                         o->noise);
    if (o->bins < 0)
        return mist_fail(err, MIST_EINVAL, "%s: bins must be >= 0 (0: default rule; got %d)",
                         name, o->bins);
    if (!(o->bandwidth >= 0.0) || !isfinite(o->bandwidth))
        return mist_fail(err, MIST_EINVAL,
                         "%s: bandwidth must be finite and >= 0 (0: Scott's rule; got %g)", name,
                         o->bandwidth);
    if (o->unbiased && strcmp(name, "gaussian") != 0)
        return mist_fail(err, MIST_EINVAL,
                         "%s: the unbiased option applies to gaussian only (its bias correction "
                         "assumes Gaussian data)",
                         name);
    if (o->threads < 1)
        return mist_fail(err, MIST_EINVAL, "%s: threads must be >= 1 (got %d)", name,
                         o->threads);
    if (o->bootstrap < 0)
        return mist_fail(err, MIST_EINVAL, "%s: bootstrap must be >= 0 (got %d)", name,
                         o->bootstrap);
    if (o->bootstrap > 0 && !(o->ci > 0.0 && o->ci < 1.0))
        return mist_fail(err, MIST_EINVAL, "%s: ci must lie strictly between 0 and 1 (got %g)",
                         name, o->ci);
    return MIST_OK;
}

int mist_estimate_classical(const char *name, const double *data, size_t n, int dx, int dy,
                            const mist_est_opts *o, mist_est_result *res, mist_err *err)
{
    int m = index_of(name);
    if (m < 0)
        return mist_fail(err, MIST_EINVAL, "unknown estimator '%s' (known: %s)",
                         name ? name : "(null)", KNOWN_LIST);
    if (!res) return mist_fail(err, MIST_EINVAL, "%s: result pointer is NULL", name);
    res->estimate = NAN;
    res->lower = res->upper = NAN;
    res->n_boot_failed = 0;

    mist_est_opts opts;
    if (o)
        opts = *o;
    else
        mist_est_opts_default(&opts);
    int rc = check_opts(name, &opts, err);
    if (rc) return rc;

    /* Method minimums the estimators would also catch, reported here in the caller's terms.
     * gaussian's own n > dx+dy check runs inside it (its message explains the singularity). */
    size_t min_n = 2;
    if (m == MIST_EST_KSG1 || m == MIST_EST_KSG2) {
        rc = mist_est_check_input(name, data, n, dx, dy, 2, err);
        if (rc) return rc;
        if (n <= (size_t)opts.k)
            return mist_fail(err, MIST_EDATA, "%s needs n > k (got n = %zu, k = %d)", name, n,
                             opts.k);
    } else {
        rc = mist_est_check_input(name, data, n, dx, dy, min_n, err);
        if (rc) return rc;
    }

    double est;
    rc = mist_est_point(m, data, n, dx, dy, &opts, &est, err);
    if (rc) return rc;
    if (!isfinite(est)) /* never print nan or inf as an answer */
        return mist_fail(err, MIST_ENUMERIC, "%s: the estimate is not finite (%g)", name, est);
    res->estimate = est;

    if (opts.bootstrap > 0) {
        double lo, hi;
        int nf = 0;
        rc = mist_est_bootstrap(m, data, n, dx, dy, &opts, &lo, &hi, &nf, err);
        res->n_boot_failed = nf;
        if (rc) return rc;
        res->lower = lo;
        res->upper = hi;
    }
    return MIST_OK;
}

int mist_estimate_classical_rows(const char *name, const double *data, size_t n, int dx, int dy,
                                 const size_t *rows, size_t m, const mist_est_opts *o, double *mi,
                                 mist_err *err)
{
    int method = index_of(name);
    if (method < 0)
        return mist_fail(err, MIST_EINVAL, "unknown estimator '%s' (known: %s)",
                         name ? name : "(null)", KNOWN_LIST);
    if (!mi || !rows) return mist_fail(err, MIST_EINVAL, "%s: NULL argument", name);
    *mi = NAN;
    mist_est_opts opts;
    if (o)
        opts = *o;
    else
        mist_est_opts_default(&opts);
    opts.bootstrap = 0;
    int rc = check_opts(name, &opts, err);
    if (!rc) rc = mist_est_check_input(name, data, n, dx, dy, 1, err);
    if (rc) return rc;
    if (m < 2) return mist_fail(err, MIST_EDATA, "%s needs at least 2 rows (got %zu)", name, m);
    size_t d = (size_t)dx + (size_t)dy;
    if (m > SIZE_MAX / 8 / d / sizeof(double))
        return mist_fail(err, MIST_EINVAL, "%s: a resample of %zu rows is too large", name, m);
    for (size_t i = 0; i < m; i++)
        if (rows[i] >= n)
            return mist_fail(err, MIST_EINVAL, "%s: resample row %zu names row %zu of %zu", name,
                             i + 1, rows[i] + 1, n);
    double *buf = malloc(m * d * sizeof *buf);
    if (!buf) return mist_fail(err, MIST_ENOMEM, "%s: out of memory for a resample", name);
    for (size_t i = 0; i < m; i++) memcpy(buf + i * d, data + rows[i] * d, d * sizeof *buf);
    rc = mist_est_point_inplace(method, buf, rows, m, dx, dy, &opts, mi, err);
    free(buf);
    if (!rc && !isfinite(*mi)) rc = mist_fail(err, MIST_ENUMERIC, "%s: non-finite estimate", name);
    return rc;
}
