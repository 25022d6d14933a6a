/* Quantile calibration of a quantile-conditioned model on fresh datasets of its training
 * meta-distribution: the measured coverage of its quantiles and the recalibration map that
 * makes them calibrated there (infer/qmap.c applies it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mist_gen.h"
#include "mist_train.h"
#include "util.h"

/* Calibration sets are a validation suite of another seed: same rejection of dims above the
 * model's maxima, same n range, never the training stream (whose seeds derive differently). */
int mist_calib_draw(const mist_model *m, const mist_calib_opts *o, mist_dataset ***sets,
                    size_t *count, mist_err *err)
{
    mist_train_config c;
    mist_train_config_default(&c);
    c.arch = *mist_model_arch(m);
    const char *md = o->metadist && o->metadist[0] ? o->metadist : "default";
    if (strlen(md) >= sizeof c.metadist)
        return mist_fail(err, MIST_EINVAL, "meta-distribution name too long");
    strcpy(c.metadist, md);
    c.val_seed = o->seed;
    if (o->count < 1 || o->count > (1u << 24))
        return mist_fail(err, MIST_EINVAL, "calibration count must be within 1..16777216 (got %zu)",
                         o->count);
    c.val_count = (int)o->count;
    c.n_min = o->n_min;
    c.n_max = o->n_max;
    return mist_stream_validation(&c, sets, count, err);
}

void mist_calib_free(mist_dataset **sets, size_t count)
{
    if (!sets) return;
    for (size_t s = 0; s < count; s++) mist_dataset_free(sets[s]);
    free(sets);
}

int mist_quantile_coverage(mist_model *m, mist_dataset *const *sets, size_t count,
                           const double *taus, size_t ntaus, double *cover, mist_err *err)
{
    if (!m || !sets || !count || !taus || !cover || ntaus == 0)
        return mist_fail(err, MIST_EINVAL, "bad arguments to mist_quantile_coverage");
    if (!mist_model_arch(m)->quantile_conditioned)
        return mist_fail(err, MIST_EINVAL, "the model is not quantile-conditioned");
    int rc = MIST_OK;
    double *q = malloc(ntaus * sizeof *q);
    size_t *hits = calloc(ntaus, sizeof *hits);
    if (!q || !hits) rc = mist_fail(err, MIST_ENOMEM, "out of memory");
    for (size_t s = 0; s < count && !rc; s++) {
        const mist_dataset *ds = sets[s];
        rc = mist_model_estimate(m, ds->data, ds->n, ds->dx, ds->dy, taus, ntaus, q, err);
        for (size_t j = 0; j < ntaus && !rc; j++) hits[j] += ds->meta.mi <= q[j];
    }
    for (size_t j = 0; j < ntaus && !rc; j++) cover[j] = (double)hits[j] / (double)count;
    free(q);
    free(hits);
    return rc;
}

int mist_quantile_map_fit(const double *grid, const double *cover, size_t ngrid,
                          const double *targets, size_t ntargets, double *taus_out,
                          mist_err *err)
{
    if (!grid || !cover || !targets || !taus_out || ngrid == 0)
        return mist_fail(err, MIST_EINVAL, "bad arguments to mist_quantile_map_fit");
    for (size_t j = 0; j < ngrid; j++) {
        if (!(grid[j] > 0 && grid[j] < 1) || (j && !(grid[j] > grid[j - 1])))
            return mist_fail(err, MIST_EINVAL, "grid levels must increase inside (0, 1)");
        if (!(cover[j] >= 0 && cover[j] <= 1))
            return mist_fail(err, MIST_EINVAL, "coverage %g is outside [0, 1]", cover[j]);
    }
    /* The inverse of the coverage curve through (0, 0), (grid, cover) and (1, 1). Coverage of
     * rearranged quantiles cannot fall with tau; a running maximum guards the inverse anyway. */
    size_t np = ngrid + 2;
    double *g = malloc(np * sizeof *g), *c = malloc(np * sizeof *c);
    if (!g || !c) {
        free(g);
        free(c);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    g[0] = 0, c[0] = 0;
    for (size_t j = 0; j < ngrid; j++) g[j + 1] = grid[j], c[j + 1] = fmax(cover[j], c[j]);
    g[np - 1] = 1, c[np - 1] = 1;
    int rc = MIST_OK;
    for (size_t i = 0; i < ntargets; i++) {
        double t = targets[i];
        if (!(t > 0 && t < 1) || (i && !(t > targets[i - 1]))) {
            rc = mist_fail(err, MIST_EINVAL, "target levels must increase inside (0, 1)");
            break;
        }
        size_t b = 1;
        while (b < np - 1 && c[b] < t) b++; /* c[b-1] < t <= c[b] (c[0] = 0 < t) */
        while (b > 1 && !(c[b - 1] < t)) b--;
        double r = g[b - 1] + (g[b] - g[b - 1]) * (t - c[b - 1]) / (c[b] - c[b - 1]);
        taus_out[i] = fmin(fmax(r, 1e-6), 1 - 1e-6);
        if (i && taus_out[i] < taus_out[i - 1]) taus_out[i] = taus_out[i - 1];
    }
    free(g);
    free(c);
    return rc;
}

int mist_quantile_resid_fit(mist_model *m, mist_dataset *const *sets, size_t count, double lo,
                            double hi, const double *levels, size_t k, double *values,
                            mist_err *err)
{
    if (!m || !sets || !count || !levels || !values || k == 0)
        return mist_fail(err, MIST_EINVAL, "bad arguments to mist_quantile_resid_fit");
    if (!mist_model_arch(m)->quantile_conditioned)
        return mist_fail(err, MIST_EINVAL, "the model is not quantile-conditioned");
    if (mist_model_quantile_map(m, NULL, NULL) || mist_model_quantile_resid(m, NULL))
        return mist_fail(err, MIST_EINVAL, "remove the model's recalibration before fitting one");
    if (!(lo > 0 && lo < 0.5 && hi > 0.5 && hi < 1))
        return mist_fail(err, MIST_EINVAL, "spread levels must satisfy 0 < lo < 0.5 < hi < 1");
    int rc = MIST_OK;
    double *r = malloc(count * sizeof *r);
    if (!r) rc = mist_fail(err, MIST_ENOMEM, "out of memory");
    const double taus[3] = {lo, 0.5, hi};
    for (size_t s = 0; s < count && !rc; s++) {
        const mist_dataset *ds = sets[s];
        double q[3];
        rc = mist_model_estimate(m, ds->data, ds->n, ds->dx, ds->dy, taus, 3, q, err);
        double spread = q[2] - q[0];
        if (!(spread >= MIST_QRESID_MIN_SPREAD)) spread = MIST_QRESID_MIN_SPREAD;
        r[s] = (ds->meta.mi - q[1]) / spread;
    }
    if (!rc) {
        qsort(r, count, sizeof *r, mist_cmp_double);
        for (size_t j = 0; j < k; j++) { /* linear interpolation of the order statistics */
            double h = levels[j] * (double)(count - 1);
            size_t i = (size_t)h;
            double f = h - (double)i;
            values[j] = i + 1 < count ? r[i] + f * (r[i + 1] - r[i]) : r[count - 1];
        }
    }
    free(r);
    return rc;
}
