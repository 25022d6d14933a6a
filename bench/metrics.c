/* Accuracy, interval and calibration metrics of a set of estimates against the truth, the
 * n-buckets of the tables, and percentiles. Pure functions: no files, no globals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mist_bench.h"

double mist_bench_tau(int j)
{
    return (double)(j + 1) / 20.0; /* 0.05 exactly as the literal 0.05 rounds */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double mist_bench_percentile(double *v, size_t m, double p)
{
    if (m == 0) return NAN;
    if (m > 1) qsort(v, m, sizeof *v, cmp_double);
    if (p <= 0) return v[0];
    if (p >= 1) return v[m - 1];
    double pos = p * (double)(m - 1);
    size_t lo = (size_t)floor(pos);
    if (lo + 1 >= m) return v[m - 1];
    double frac = pos - (double)lo;
    return v[lo] + frac * (v[lo + 1] - v[lo]);
}

int mist_bench_bucket_scheme(const char *suite)
{
    static const char *const MIST[] = {"mist-imd", "mist-oomd", "mist-imd-official",
                                       "mist-oomd-official"};
    for (size_t i = 0; suite && i < sizeof MIST / sizeof MIST[0]; i++)
        if (!strcmp(suite, MIST[i])) return MIST_BENCH_BUCKETS_MIST;
    return MIST_BENCH_BUCKETS_PER_N;
}

void mist_bench_bucket_of(int scheme, size_t n, mist_bench_bucket *b)
{
    if (scheme == MIST_BENCH_BUCKETS_MIST) {
        if (n >= 10 && n < 100) {
            *b = (mist_bench_bucket){10, 100, "[10,100)"};
            return;
        }
        if (n >= 100 && n < 300) {
            *b = (mist_bench_bucket){100, 300, "[100,300)"};
            return;
        }
        if (n >= 300 && n <= 500) {
            *b = (mist_bench_bucket){300, 501, "[300,500]"};
            return;
        }
        b->lo = b->hi = n;
        snprintf(b->label, sizeof b->label, "other");
        return;
    }
    b->lo = n;
    b->hi = n + 1;
    snprintf(b->label, sizeof b->label, "n=%zu", n);
}

int mist_bench_metrics_compute(const mist_bench_point *pts, size_t m, size_t n_failed,
                               mist_bench_metrics *out, mist_err *err)
{
    memset(out, 0, sizeof *out);
    out->n_ok = m;
    out->n_failed = n_failed;
    out->mse = out->mse_sd = out->mse_se = out->bias = out->variance = NAN;
    out->mae = out->mre = out->coverage = out->width = NAN;
    out->time_median_us = out->time_p90_us = NAN;
    for (int j = 0; j < MIST_BENCH_NTAU; j++) out->calib[j] = NAN;
    if (m == 0) return MIST_OK;

    double se = 0, sa = 0, sr = 0, s2 = 0;
    for (size_t i = 0; i < m; i++) {
        double e = pts[i].estimate - pts[i].mi;
        se += e;
        s2 += pts[i].sq;
        sa += fabs(e);
        sr += fabs(e) / fmax(pts[i].mi, 0.1);
    }
    double dm = (double)m;
    out->bias = se / dm;
    out->mse = s2 / dm;
    out->mae = sa / dm;
    out->mre = sr / dm;
    /* second passes (two-pass formulas: no cancellation) */
    double sv = 0, ssq = 0;
    for (size_t i = 0; i < m; i++) {
        double e = pts[i].estimate - pts[i].mi, d = e - out->bias, q = pts[i].sq - out->mse;
        sv += d * d;
        ssq += q * q;
    }
    out->variance = sv / dm;
    if (m >= 2) {
        out->mse_sd = sqrt(ssq / (dm - 1));
        out->mse_se = out->mse_sd / sqrt(dm);
    }

    size_t ni = 0, nin = 0, nc = 0;
    double sw = 0;
    size_t below[MIST_BENCH_NTAU] = {0};
    for (size_t i = 0; i < m; i++) {
        const mist_bench_point *p = &pts[i];
        if (isfinite(p->lower) && isfinite(p->upper)) {
            ni++;
            nin += p->lower <= p->mi && p->mi <= p->upper;
            sw += p->upper - p->lower;
        }
        if (p->q) {
            nc++;
            for (int j = 0; j < MIST_BENCH_NTAU; j++) below[j] += p->mi <= p->q[j];
        }
    }
    out->n_interval = ni;
    if (ni) {
        out->coverage = (double)nin / (double)ni;
        out->width = sw / (double)ni;
    }
    out->n_calib = nc;
    if (nc)
        for (int j = 0; j < MIST_BENCH_NTAU; j++) out->calib[j] = (double)below[j] / (double)nc;

    double *t = malloc(m * sizeof *t);
    if (!t) return mist_fail(err, MIST_ENOMEM, "out of memory computing metrics");
    for (size_t i = 0; i < m; i++) t[i] = pts[i].time_us;
    out->time_median_us = mist_bench_percentile(t, m, 0.5);
    out->time_p90_us = mist_bench_percentile(t, m, 0.9);
    free(t);
    return MIST_OK;
}
