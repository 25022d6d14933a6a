/* One estimator on one dataset: the classical estimators through their dispatcher (with the
 * percentile bootstrap when asked), the learned model through the inference API (quantile
 * models: the median is the estimate, the (1-ci)/2 and (1+ci)/2 quantiles the interval, and the
 * quantiles on the calibration grid are kept). Failures become the row's status; a classical
 * estimate whose bootstrap fails while the point estimate works is kept without an interval.
 *
 * Then the dataset's score. --score single: (estimate - MI)^2. --score bootstrap:B, the MIST
 * paper's protocol (its `infer` bootstrap mode): B resamples of n rows with replacement, the
 * estimator run on each (quantile models: the median alone), the score the mean of
 * (estimate_b - MI)^2. Resample b's rows come from mist_seed_derive(score_seed, b), so every
 * estimator sees the same resamples. The learned model sees a resample as plain rows (as in the
 * paper); KSG and KDE treat the copies of a row as that row (mist_estimate_classical_rows, as in
 * our bootstrap intervals), since otherwise a copy at distance 0 is taken for a neighbour and
 * every resample's estimate is pushed up. A command (cmd:) gets each resample as a file of
 * plain rows. More than half of the resamples failing fails the row
 * (the surviving half would be a biased selection). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_internal.h"
#include "checksum.h"
#include "mist_classical.h"
#include "mist_guard.h"
#include "mist_rng.h"
#include "util.h"

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

static uint64_t hash_model(uint64_t h, mist_model *m)
{
    h = mist_fnv1a64(h, mist_model_params(m), mist_model_param_count(m) * sizeof(float));
    const char *meta = mist_model_meta_json(m);
    if (meta) h = mist_fnv1a64(h, meta, strlen(meta));
    mist_qresid q;
    if (mist_model_quantile_resid(m, &q)) {
        h = mist_fnv1a64(h, q.levels, q.k * sizeof *q.levels);
        h = mist_fnv1a64(h, q.values, q.ngroups * q.k * sizeof *q.values);
        if (q.ngroups > 1) h = mist_fnv1a64(h, q.n_upper, (q.ngroups - 1) * sizeof *q.n_upper);
    }
    return h;
}

int bench_est_rt_init(bench_est_rt *rt, const mist_bench_est *spec, double ci, mist_err *err)
{
    memset(rt, 0, sizeof *rt);
    rt->spec = spec;
    rt->is_mist = !strcmp(spec->name, "mist");
    rt->is_cmd = !strcmp(spec->name, "cmd");
    int v = mist_est_version(spec->name);
    if (v > 1) snprintf(rt->fingerprint, sizeof rt->fingerprint, "%s:%d", spec->name, v);
    if (!rt->is_mist && !rt->is_cmd) return MIST_OK;
    if (rt->is_mist) {
        mist_model *m = mist_model_open(spec->weights, err);
        if (!m) return err ? err->code : MIST_EINVAL;
        rt->quantile_model = mist_model_arch(m)->quantile_conditioned;
        uint64_t h = hash_model(MIST_FNV1A64_INIT, m);
        mist_model *alt = mist_model_route_alt(m, NULL);
        if (alt) h = hash_model(h, alt);
        if (spec->guard)
            snprintf(rt->fingerprint, sizeof rt->fingerprint, "weights:%016llx;guard:%d",
                     (unsigned long long)h, MIST_GUARD_RULES);
        else
            snprintf(rt->fingerprint, sizeof rt->fingerprint, "weights:%016llx",
                     (unsigned long long)h);
        mist_model_free(m);
        if (!rt->quantile_model) return MIST_OK;
    }
    /* quantile models, and commands (which may answer with quantiles at these levels) */
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

typedef struct one_estimate {
    double estimate, lower, upper; /* NaN when absent */
    double q[BENCH_MAX_TAUS];      /* quantile models: values at rt->taus */
    int has_q;
} one_estimate;

/* The estimator on n rows of data (dx+dy columns). rows: NULL, or the resample's row indices
 * into data (then median only for quantile models, no interval). */
static int estimate_once(const bench_est_rt *rt, mist_model *model, const mist_dataset *ds,
                         const size_t *rows, double *scratch, uint64_t seed, int bootstrap,
                         double ci, one_estimate *out, mist_err *err)
{
    const mist_bench_est *e = rt->spec;
    out->estimate = out->lower = out->upper = NAN;
    out->has_q = 0;
    size_t n = ds->n, d = (size_t)ds->dx + (size_t)ds->dy;
    if (!rt->is_mist && !rt->is_cmd) {
        mist_est_opts o;
        mist_est_opts_default(&o);
        o.k = e->k;
        o.bins = e->bins;
        o.miller_madow = e->miller_madow;
        o.zscore = e->zscore;
        o.copula = e->copula;
        o.unbiased = e->unbiased;
        o.noise = e->noise;
        o.bandwidth = e->bandwidth;
        o.seed = seed;
        o.threads = 1;
        if (rows)
            return mist_estimate_classical_rows(e->name, ds->data, n, ds->dx, ds->dy, rows, n, &o,
                                                &out->estimate, err);
        o.bootstrap = bootstrap;
        o.ci = ci;
        mist_est_result r;
        int rc = mist_estimate_classical(e->name, ds->data, n, ds->dx, ds->dy, &o, &r, err);
        if (rc && bootstrap > 0) {
            /* The interval failed (e.g. gaussian on resamples whose repeated rows make the
             * covariance singular): keep the point estimate when it alone works, no interval. */
            o.bootstrap = 0;
            rc = mist_estimate_classical(e->name, ds->data, n, ds->dx, ds->dy, &o, &r, err);
            r.lower = r.upper = NAN;
        }
        if (rc) return rc;
        if (!isfinite(r.estimate)) return mist_fail(err, MIST_ENUMERIC, "non-finite estimate");
        out->estimate = r.estimate;
        if (bootstrap > 0 && isfinite(r.lower) && isfinite(r.upper)) {
            out->lower = r.lower;
            out->upper = r.upper;
        }
        return MIST_OK;
    }
    const double *data = ds->data;
    if (rows) {
        for (size_t i = 0; i < n; i++)
            memcpy(scratch + i * d, ds->data + rows[i] * d, d * sizeof *scratch);
        data = scratch;
    }
    if (rt->is_cmd) {
        int q_ok = 0;
        int rc = bench_cmd_estimate(e, data, n, ds->dx, ds->dy, NULL, rows ? NULL : rt->taus,
                                    rows ? 0 : rt->ntaus, &out->estimate, &out->lower,
                                    &out->upper, out->q, &q_ok, err);
        if (rc) return rc;
        out->has_q = q_ok && rt->ntaus > 0;
        if (rows) out->lower = out->upper = NAN;
        return MIST_OK;
    }
    if (!model) return mist_fail(err, MIST_EIO, "the weights file could not be opened");
    /* as mist estimate answers: a constant side is 0 exactly, no model runs; too few rows or
     * a constant column is refused (mist_model_check_rows) */
    if (mist_constant_sides(data, n, ds->dx, ds->dy, NULL)) {
        out->estimate = 0.0;
        if (!rows) {
            out->lower = 0.0;
            out->upper = mist_constant_side_upper(n, ci);
        }
        out->has_q = 0;
        return MIST_OK;
    }
    int rc = mist_model_check_rows(model, data, n, ds->dx, ds->dy, err);
    if (rc) return rc;
    static const double MEDIAN = 0.5;
    const double *taus = !rt->quantile_model ? NULL : rows ? &MEDIAN : rt->taus;
    size_t ntaus = !rt->quantile_model ? 0 : rows ? 1 : rt->ntaus;
    double v[BENCH_MAX_TAUS];
    /* the model that answers (routed models): the guard takes its ranges */
    mist_model *pm;
    rc = mist_model_estimate_routed(model, data, n, ds->dx, ds->dy, taus, ntaus, v, &pm, NULL, NULL,
                                    err);
    if (rc) return rc;
    size_t nv = ntaus ? ntaus : 1;
    if (mist_first_nonfinite(v, nv) < nv)
        return mist_fail(err, MIST_ENUMERIC,
                         rt->quantile_model ? "non-finite quantile" : "non-finite estimate");
    if (!rt->quantile_model || rows) {
        out->estimate = v[0];
    } else {
        out->estimate = v[rt->i_med];
        out->lower = v[rt->i_lo];
        out->upper = v[rt->i_hi];
        memcpy(out->q, v, rt->ntaus * sizeof *v);
        out->has_q = 1;
    }
    if (!e->guard) return MIST_OK;
    /* as mist estimate does; a point answer (a point model, a bootstrap resample) is its own
     * interval, and only the fallback's estimate is kept for it */
    int point = !out->has_q;
    mist_guard_model gm;
    mist_guard_model_init(&gm, pm, point ? out->estimate : out->lower, out->estimate,
                          point ? out->estimate : out->upper);
    mist_guard_opts go;
    mist_guard_opts_default(&go);
    mist_guard_result gr;
    if ((rc = mist_guard_run(data, n, ds->dx, ds->dy, &gm, &go, &gr, err))) return rc;
    if (!mist_guard_apply(&gr, &out->estimate, point ? NULL : &out->lower,
                          point ? NULL : &out->upper))
        return MIST_OK;
    out->has_q = 0;
    return MIST_OK;
}

/* n row indices drawn with replacement from the stream of seed. */
static int resample_rows(size_t *rows, size_t n, uint64_t seed, mist_err *err)
{
    if (n > (size_t)0xffffffffUL)
        return mist_fail(err, MIST_EINVAL, "score: n = %zu exceeds the 2^32 rows a resample draws",
                         n);
    gsl_rng *r = mist_rng_alloc(seed);
    if (!r) return mist_fail(err, MIST_ENOMEM, "score: out of memory for a random generator");
    for (size_t i = 0; i < n; i++) rows[i] = (size_t)gsl_rng_uniform_int(r, (unsigned long)n);
    gsl_rng_free(r);
    return MIST_OK;
}

#define SCORE_NOISE_STREAM 0x73636f72656e6f69ULL /* the KSG noise seed of a score resample */

/* The bootstrap score of an estimator on ds: mean (estimate_b - mi)^2 over the resamples. */
static int bootstrap_score(const bench_est_rt *rt, mist_model *model, const mist_dataset *ds,
                           double mi, uint64_t score_seed, int B, double *score, int *scored,
                           mist_err *err)
{
    size_t n = ds->n, d = (size_t)ds->dx + (size_t)ds->dy;
    size_t *rows = malloc((n ? n : 1) * sizeof *rows);
    int copies = rt->is_mist || rt->is_cmd; /* they see the resample as plain rows */
    double *scratch = copies ? malloc((n ? n : 1) * d * sizeof *scratch) : NULL;
    if (!rows || (copies && !scratch)) {
        free(rows);
        free(scratch);
        return mist_fail(err, MIST_ENOMEM, "score: out of memory for a resample");
    }
    double sum = 0;
    int ok = 0, failed = 0, first_bad = -1, rc = MIST_OK;
    mist_err first = {0};
    for (int b = 0; b < B; b++) {
        uint64_t sb = mist_seed_derive(score_seed, (uint64_t)b);
        rc = resample_rows(rows, n, sb, err);
        if (rc) break;
        one_estimate r;
        mist_err e = {0};
        int brc = estimate_once(rt, model, ds, rows, scratch, mist_seed_derive(sb, SCORE_NOISE_STREAM),
                                0, 0.9, &r, &e);
        if (brc == MIST_ENOMEM) {
            rc = mist_fail(err, brc, "%s", e.msg);
            break;
        }
        if (brc) {
            if (first_bad < 0) {
                first_bad = b;
                first = e;
            }
            failed++;
            continue;
        }
        sum += (r.estimate - mi) * (r.estimate - mi);
        ok++;
    }
    free(rows);
    free(scratch);
    if (rc) return rc;
    if (2 * failed > B)
        return mist_fail(err, MIST_EDATA,
                         "score: the estimator failed on %d of %d resamples (first, resample "
                         "%d: %.200s)",
                         failed, B, first_bad, first.msg);
    *score = sum / ok;
    *scored = ok;
    return MIST_OK;
}

static void set_error(bench_row *row, const char *what, const char *msg)
{
    snprintf(row->status, sizeof row->status, "%s%s%s", what, *what ? ": " : "", msg);
    bench_sanitize(row->status);
    if (!strcmp(row->status, "ok")) strcpy(row->status, "error: ok"); /* never read as success */
    row->estimate = row->lower = row->upper = row->sq_err = NAN;
    row->scored = 0;
    row->quantiles[0] = row->qvalues[0] = '\0';
}

void bench_est_rt_run(const bench_est_rt *rt, mist_model *model, const mist_dataset *ds,
                      uint64_t seed, uint64_t score_seed, int bootstrap, double ci,
                      int score_bootstrap, bench_row *row)
{
    snprintf(row->label, sizeof row->label, "%s", rt->spec->label);
    row->estimate = row->lower = row->upper = row->sq_err = NAN;
    row->scored = 0;
    row->quantiles[0] = row->qvalues[0] = '\0';
    row->time_us = 0;
    mist_err err = {0};
    one_estimate r;
    double t0 = 1e6 * mist_clock_s();
    int rc = estimate_once(rt, model, ds, NULL, NULL, seed, bootstrap, ci, &r, &err);
    row->time_us = (long long)llround(1e6 * mist_clock_s() - t0);
    if (rc) {
        set_error(row, "", err.msg);
        return;
    }
    row->estimate = r.estimate;
    row->lower = r.lower;
    row->upper = r.upper;
    if (r.has_q) {
        snprintf(row->quantiles, sizeof row->quantiles, "%s", rt->taus_text);
        size_t len = 0;
        for (size_t i = 0; i < rt->ntaus; i++)
            len += (size_t)snprintf(row->qvalues + len, sizeof row->qvalues - len, "%s%.17g",
                                    i ? ";" : "", r.q[i]);
    }
    if (score_bootstrap > 0 && isfinite(row->mi)) {
        double s = NAN;
        int m = 0;
        rc = bootstrap_score(rt, model, ds, row->mi, score_seed, score_bootstrap, &s, &m, &err);
        if (rc) {
            set_error(row, "", err.msg);
            return;
        }
        row->sq_err = s;
        row->scored = m;
    } else {
        row->sq_err = (r.estimate - row->mi) * (r.estimate - row->mi); /* NaN when MI unknown */
        row->scored = 1;
    }
    strcpy(row->status, "ok");
}
