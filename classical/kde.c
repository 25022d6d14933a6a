/* KDE estimate: I = h_x + h_y - h_xy from resubstitution entropies of Gaussian product kernel
 * density estimates, O(n^2 d).
 *
 * Conventions (each one a choice the spec leaves open):
 *   - Columns are z-scored first: mean 0 and sample standard deviation 1 (n - 1 denominator).
 *     A constant column (max == min) is dropped from every space instead of being divided by
 *     0; it then contributes exactly 0 to the MI (its would-be kernel factor is the same in
 *     the joint and the marginal, but their bandwidths differ, so keeping it would not cancel).
 *     A space left with no columns has entropy 0.
 *   - Bandwidth per space of dimension d (after dropping): Scott's rule h = n^(-1/(d+4)) in
 *     z-score units. opts->bandwidth > 0 replaces it: h = opts->bandwidth in all three spaces.
 *   - Resubstitution: h = -1/n sum_i log p_hat(x_i), with
 *     p_hat(x_i) = 1/n sum_j prod_k phi_h(x_ik - x_jk), the sum including j = i. Keeping the
 *     self term is the standard resubstitution estimator; it biases h down (and the MI up) at
 *     small n, where leave-one-out would instead risk log 0.
 *   - Row origins (mist_kde_mi_ex, the bootstrap; est_internal.h): rows with the same origin
 *     are copies of one observation. For row i the sum keeps its self term once and skips
 *     every other row of its origin, and is normalised by the number of terms it keeps,
 *     N_i = n - m_i + 1 (m_i: rows of i's origin, i included):
 *     p_hat(x_i) = 1/N_i [phi(0) + sum_{j : origin_j != origin_i} prod_k phi_h(x_ik - x_jk)].
 *     Other rows keep their multiplicity (a bootstrap resample is a weighted sample). Without
 *     this, a row drawn twice would get two full kernels at distance 0 and p_hat there would
 *     be inflated, biasing every resample's estimate up. The bandwidths still use n.
 *     origin = NULL: every m_i = 1, N_i = n, the code path and the bits of mist_kde_mi.
 *   - log-sum-exp: every exponent -||x_i - x_j||^2 / (2 h^2) is <= 0 and the self term's is
 *     exactly 0, so the maximum is 0 and sum_j exp(.) >= 1: the plain sum is already the
 *     stabilised one (no overflow, and no underflow to log 0).
 *   - threads: rows are split into contiguous blocks; each row's three log-sums are computed
 *     independently and the totals are summed in row order afterwards, so the value does not
 *     depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "est_internal.h"
#include "mist_classical.h"
#include "util.h"

#define KDE_LOG_2PI 1.83787706640934548356

typedef struct {
    const double *z; /* n x (ex + ey) z-scored, constant columns dropped */
    const size_t *origin; /* NULL, or the row origins */
    size_t n;
    int ex, ey;
    double ax, ay, axy; /* 1 / (2 h^2) per space */
    double *lx, *ly, *lxy; /* per-row log sum_j exp(...) */
    double *lnorm;         /* origin != NULL: per-row log(n / N_i) (0 exactly without copies) */
    size_t begin, end;
} kde_job;

/* use_origin is a constant at both call sites below: two copies of the loop, so the plain one
 * is exactly the loop without origins. */
static inline __attribute__((always_inline)) void kde_rows_impl(const kde_job *J, int use_origin)
{
    size_t e = (size_t)J->ex + (size_t)J->ey, ex = (size_t)J->ex;
    for (size_t i = J->begin; i < J->end; i++) {
        const double *zi = J->z + i * e;
        double sx = 0.0, sy = 0.0, sxy = 0.0;
        size_t copies = 0; /* other rows of i's origin */
        for (size_t j = 0; j < J->n; j++) {
            if (use_origin && J->origin[j] == J->origin[i] && j != i) {
                copies++;
                continue;
            }
            const double *zj = J->z + j * e;
            double dxx = 0.0, dyy = 0.0;
            for (size_t k = 0; k < ex; k++) {
                double t = zi[k] - zj[k];
                dxx += t * t;
            }
            for (size_t k = ex; k < e; k++) {
                double t = zi[k] - zj[k];
                dyy += t * t;
            }
            if (J->ex) sx += exp(-dxx * J->ax);
            if (J->ey) sy += exp(-dyy * J->ay);
            sxy += exp(-(dxx + dyy) * J->axy);
        }
        J->lx[i] = J->ex ? log(sx) : 0.0;
        J->ly[i] = J->ey ? log(sy) : 0.0;
        J->lxy[i] = log(sxy);
        if (use_origin) J->lnorm[i] = -log1p(-(double)copies / (double)J->n);
    }
}

static void kde_rows(const kde_job *J)
{
    if (J->origin)
        kde_rows_impl(J, 1);
    else
        kde_rows_impl(J, 0);
}

static void *kde_worker(void *arg)
{
    kde_rows(arg);
    return NULL;
}

/* Resubstitution entropy of a d-dimensional space from the per-row log-sums; lognorm: the mean
 * log normaliser (log n without origins). */
static double entropy(const double *l, size_t n, int d, double h, double lognorm)
{
    if (d == 0) return 0.0;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += l[i];
    return lognorm + 0.5 * d * KDE_LOG_2PI + d * log(h) - s / (double)n;
}

int mist_kde_mi(const double *data, size_t n, int dx, int dy, const mist_est_opts *o, double *mi,
                mist_err *err)
{
    return mist_kde_mi_ex(data, NULL, n, dx, dy, o, mi, err);
}

int mist_kde_mi_ex(const double *data, const size_t *origin, size_t n, int dx, int dy,
                   const mist_est_opts *o, double *mi, mist_err *err)
{
    int rc = mist_est_check_input("kde", data, n, dx, dy, 2, err);
    if (rc) return rc;
    if (!mi) return mist_fail(err, MIST_EINVAL, "kde: mi pointer is NULL");
    mist_est_opts def;
    if (!o) {
        mist_est_opts_default(&def);
        o = &def;
    }
    if (!(o->bandwidth >= 0.0) || !isfinite(o->bandwidth))
        return mist_fail(err, MIST_EINVAL, "kde: bandwidth must be finite and >= 0 (got %g)",
                         o->bandwidth);
    if (o->threads < 1)
        return mist_fail(err, MIST_EINVAL, "kde: threads must be >= 1 (got %d)", o->threads);
    size_t ds = (size_t)dx + (size_t)dy;

    /* Which columns vary; the z-scored copy keeps only those, X first. */
    int ex = 0, ey = 0;
    int *keep = malloc(ds * sizeof *keep), *scale_exp = malloc(ds * sizeof *scale_exp);
    double *mean = malloc(ds * sizeof *mean), *inv_sd = malloc(ds * sizeof *inv_sd);
    double *z = NULL, *l = NULL;
    if (!keep || !scale_exp || !mean || !inv_sd) goto nomem;
    for (size_t j = 0; j < ds; j++) {
        double lo = data[j], hi = data[j];
        for (size_t i = 0; i < n; i++) {
            double v = data[i * ds + j];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        keep[j] = 0;
        if (lo == hi) continue;
        /* The moments are taken of the column times 2^-e, e the exponent of its largest
         * magnitude: values of 1e-200 would square to 0 and values of 1e154 sum to inf. A
         * power of two scales exactly, so ordinary data give the same bits as without it. */
        int sh = ilogb(fmax(fabs(lo), fabs(hi)));
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += ldexp(data[i * ds + j], -sh);
        double m = s / (double)n, ss = 0.0, corr = 0.0;
        for (size_t i = 0; i < n; i++) {
            double t = ldexp(data[i * ds + j], -sh) - m;
            ss += t * t;
            corr += t;
        }
        /* two-pass variance with the rounding correction of the mean */
        double var = (ss - corr * corr / (double)n) / ((double)n - 1.0);
        if (!(var > 0.0) || !isfinite(var)) continue; /* numerically constant: same as constant */
        keep[j] = 1;
        scale_exp[j] = sh;
        mean[j] = m + corr / (double)n;
        inv_sd[j] = 1.0 / sqrt(var);
        if ((int)j < dx)
            ex++;
        else
            ey++;
    }
    size_t e = (size_t)ex + (size_t)ey;
    z = malloc((e ? n * e : 1) * sizeof *z);
    l = malloc((origin ? 4 : 3) * n * sizeof *l);
    if (!z || !l) goto nomem;
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        for (size_t j = 0; j < ds; j++)
            if (keep[j])
                z[i * e + c++] = (ldexp(data[i * ds + j], -scale_exp[j]) - mean[j]) * inv_sd[j];
    }
    free(keep);
    free(scale_exp);
    free(mean);
    free(inv_sd);
    keep = scale_exp = NULL;
    mean = inv_sd = NULL;

    if (e == 0) { /* every column constant: nothing is random, I = 0 */
        *mi = 0.0;
        free(z);
        free(l);
        return MIST_OK;
    }
    double dn = (double)n;
    double hx = o->bandwidth > 0 ? o->bandwidth : pow(dn, -1.0 / (ex + 4.0));
    double hy = o->bandwidth > 0 ? o->bandwidth : pow(dn, -1.0 / (ey + 4.0));
    double hxy = o->bandwidth > 0 ? o->bandwidth : pow(dn, -1.0 / ((double)e + 4.0));
    /* 1 / (2 h^2) overflows for h below ~1e-154: exp(-0 * inf) would be nan at every row */
    if (!isfinite(0.5 / (hx * hx)) || !isfinite(0.5 / (hy * hy)) || !isfinite(0.5 / (hxy * hxy))) {
        free(z);
        free(l);
        return mist_fail(err, MIST_EINVAL,
                         "kde: bandwidth %g is too small (1 / (2 h^2) overflows; in z-score "
                         "units, sensible values are about 0.01 to 2)",
                         o->bandwidth);
    }
    kde_job base = {.z = z, .origin = origin, .n = n, .ex = ex, .ey = ey,
                    .ax = 0.5 / (hx * hx), .ay = 0.5 / (hy * hy), .axy = 0.5 / (hxy * hxy),
                    .lx = l, .ly = l + n, .lxy = l + 2 * n, .lnorm = origin ? l + 3 * n : NULL,
                    .begin = 0, .end = n};

    size_t T = (size_t)o->threads;
    if (T > n) T = n;
    if (T <= 1) {
        kde_rows(&base);
    } else {
        kde_job *jobs = malloc(T * sizeof *jobs);
        if (!jobs) goto nomem;
        for (size_t t = 0; t < T; t++) {
            jobs[t] = base;
            jobs[t].begin = n * t / T;
            jobs[t].end = n * (t + 1) / T;
        }
        mist_fan_out(kde_worker, jobs, sizeof *jobs, (int)T);
        free(jobs);
    }
    /* mean_i log N_i = log n - mean_i log(n / N_i): log n exactly when no row has copies */
    double lognorm = log(dn);
    if (origin) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += l[3 * n + i];
        lognorm -= s / dn;
    }
    double Hx = entropy(l, n, ex, hx, lognorm);
    double Hy = entropy(l + n, n, ey, hy, lognorm);
    double Hxy = entropy(l + 2 * n, n, ex + ey, hxy, lognorm);
    *mi = Hx + Hy - Hxy;
    free(z);
    free(l);
    return MIST_OK;
nomem:
    free(keep);
    free(scale_exp);
    free(mean);
    free(inv_sd);
    free(z);
    free(l);
    return mist_fail(err, MIST_ENOMEM, "kde: out of memory for %zu rows", n);
}
