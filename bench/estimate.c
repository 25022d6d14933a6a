/* One estimator on one dataset: the classical estimators through their dispatcher (with the
 * percentile bootstrap when asked), the learned model through the inference API (quantile
 * models: the median is the estimate, the (1-ci)/2 and (1+ci)/2 quantiles the interval, and the
 * quantiles on the calibration grid are kept). Failures become the row's status; a classical
 * estimate whose bootstrap fails while the point estimate works is kept without an interval. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_internal.h"
#include "mist_classical.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t find_tau(const double *taus, size_t n, double t)
{
    for (size_t i = 0; i < n; i++)
        if (fabs(taus[i] - t) < 1e-9) return i;
    return n;
}

int bench_est_rt_init(bench_est_rt *rt, const mist_bench_est *spec, double ci, mist_err *err)
{
    memset(rt, 0, sizeof *rt);
    rt->spec = spec;
    rt->is_mist = !strcmp(spec->name, "mist");
    if (!rt->is_mist) return MIST_OK;
    mist_model *m = mist_model_open(spec->weights, err);
    if (!m) return err ? err->code : MIST_EINVAL;
    rt->quantile_model = mist_model_arch(m)->quantile_conditioned;
    mist_model_free(m);
    if (!rt->quantile_model) return MIST_OK;
    size_t k = 0;
    for (int j = 0; j < MIST_BENCH_NTAU; j++) rt->taus[k++] = mist_bench_tau(j);
    double lo = (1 - ci) / 2, hi = (1 + ci) / 2;
    if (find_tau(rt->taus, k, lo) == k) rt->taus[k++] = lo;
    if (find_tau(rt->taus, k, hi) == k) rt->taus[k++] = hi;
    if (k > 1) qsort(rt->taus, k, sizeof *rt->taus, cmp_double);
    rt->ntaus = k;
    rt->i_lo = find_tau(rt->taus, k, lo);
    rt->i_hi = find_tau(rt->taus, k, hi);
    rt->i_med = find_tau(rt->taus, k, 0.5);
    size_t len = 0;
    for (size_t i = 0; i < k; i++)
        len += (size_t)snprintf(rt->taus_text + len, sizeof rt->taus_text - len, "%s%.10g",
                                i ? ";" : "", rt->taus[i]);
    return MIST_OK;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static void set_error(bench_row *row, const char *what, const char *msg)
{
    snprintf(row->status, sizeof row->status, "%s%s%s", what, *what ? ": " : "", msg);
    bench_sanitize(row->status);
    if (!strcmp(row->status, "ok")) strcpy(row->status, "error: ok"); /* never read as success */
    row->estimate = row->lower = row->upper = NAN;
    row->quantiles[0] = row->qvalues[0] = '\0';
}

void bench_est_rt_run(const bench_est_rt *rt, mist_model *model, const mist_dataset *ds,
                      uint64_t seed, int bootstrap, double ci, bench_row *row)
{
    const mist_bench_est *e = rt->spec;
    snprintf(row->label, sizeof row->label, "%s", e->label);
    row->estimate = row->lower = row->upper = NAN;
    row->quantiles[0] = row->qvalues[0] = '\0';
    row->time_us = 0;
    mist_err err = {0};
    if (!rt->is_mist) {
        mist_est_opts o;
        mist_est_opts_default(&o);
        o.k = e->k;
        o.bins = e->bins;
        o.miller_madow = e->miller_madow;
        o.zscore = e->zscore;
        o.copula = e->copula;
        o.noise = e->noise;
        o.bandwidth = e->bandwidth;
        o.seed = seed;
        o.threads = 1;
        o.bootstrap = bootstrap;
        o.ci = ci;
        mist_est_result r;
        double t0 = now_us();
        int rc = mist_estimate_classical(e->name, ds->data, ds->n, ds->dx, ds->dy, &o, &r, &err);
        if (rc && bootstrap > 0) {
            /* The interval failed (e.g. gaussian on resamples whose repeated rows make the
             * covariance singular): keep the point estimate when it alone works, no interval. */
            o.bootstrap = 0;
            rc = mist_estimate_classical(e->name, ds->data, ds->n, ds->dx, ds->dy, &o, &r, &err);
            r.lower = r.upper = NAN;
        }
        row->time_us = (long long)llround(now_us() - t0);
        if (rc) {
            set_error(row, "", err.msg);
            return;
        }
        if (!isfinite(r.estimate)) {
            set_error(row, "", "non-finite estimate");
            return;
        }
        row->estimate = r.estimate;
        if (bootstrap > 0 && isfinite(r.lower) && isfinite(r.upper)) {
            row->lower = r.lower;
            row->upper = r.upper;
        }
        strcpy(row->status, "ok");
        return;
    }
    if (!model) {
        set_error(row, "", "the weights file could not be opened");
        return;
    }
    double out[BENCH_MAX_TAUS];
    double t0 = now_us();
    int rc = mist_model_estimate(model, ds->data, ds->n, ds->dx, ds->dy,
                                 rt->quantile_model ? rt->taus : NULL, rt->ntaus, out, &err);
    row->time_us = (long long)llround(now_us() - t0);
    if (rc) {
        set_error(row, "", err.msg);
        return;
    }
    if (!rt->quantile_model) {
        if (!isfinite(out[0])) {
            set_error(row, "", "non-finite estimate");
            return;
        }
        row->estimate = out[0];
        strcpy(row->status, "ok");
        return;
    }
    for (size_t i = 0; i < rt->ntaus; i++)
        if (!isfinite(out[i])) {
            set_error(row, "", "non-finite quantile");
            return;
        }
    row->estimate = out[rt->i_med];
    row->lower = out[rt->i_lo];
    row->upper = out[rt->i_hi];
    snprintf(row->quantiles, sizeof row->quantiles, "%s", rt->taus_text);
    size_t len = 0;
    for (size_t i = 0; i < rt->ntaus; i++)
        len += (size_t)snprintf(row->qvalues + len, sizeof row->qvalues - len, "%s%.17g",
                                i ? ";" : "", out[i]);
    strcpy(row->status, "ok");
}
