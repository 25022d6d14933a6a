/* Percentile bootstrap intervals for every classical estimator.
 *
 * Resample b (0-based) draws n rows with replacement (gsl_rng_uniform_int) from mist's
 * xoshiro256** stream (core/mist_rng.h; all 64 bits of the seed matter) seeded with
 * mist_seed_derive(seed, b): each resample depends on (seed, b) alone, so the interval is the
 * same for any thread count and a resample can be reproduced on its own. The estimator runs on
 * the resample as on the full data: the copula (when on) re-ranks the resample, and KSG gets
 * its own tie-breaking noise seed mist_seed_derive(mist_seed_derive(seed, b), NOISE_STREAM),
 * which keeps the noise independent of the row draws.
 *
 * Repeated rows. The estimator also gets the drawn row indices as row origins (est_internal.h):
 * KSG and KDE treat the copies of one original row as that row itself. Otherwise a row drawn
 * twice would sit at ~1e-10 (the tie-breaking noise) from its copy, which KSG takes as its
 * nearest neighbour and KDE as a second full kernel at the row: every resample's estimate is
 * pushed up and the percentile interval misses the truth. Measured coverage of the 90% interval
 * over 100 Gaussian datasets (n = 300, B = 100; 1x1 rho = 0.6 / 2x2 c = 0.4), without -> with
 * origins: ksg1 0.00 / 0.01 -> 0.93 / 0.92, ksg2 0.00 / 0.00 -> 0.76 / 0.79, kde 1x1 0.78 ->
 * 0.90. KSG's bootstrap stays approximate (its intervals run wide and sit somewhat high,
 * ksg2's more so); tests/test_classical.c checks ksg1's coverage loosely.
 * gaussian and histogram weight a repeated row by its multiplicity, which is what the
 * bootstrap means, and ignore the origins.
 *
 * A resample on which the estimator fails (e.g. gaussian on a resample with too few distinct
 * rows) is excluded and counted; more than half failing fails the call, since the surviving
 * half would be a biased selection. Out-of-memory is never "a failed resample": it aborts.
 *
 * Interval: the successful estimates v_(1) <= ... <= v_(m); quantile q by linear interpolation
 * between order statistics (Hyndman-Fan type 7, R's and numpy's default): h = (m-1) q,
 * Q(q) = v_(floor h + 1) + (h - floor h)(v_(floor h + 2) - v_(floor h + 1)).
 * lower = Q((1-ci)/2), upper = Q((1+ci)/2).
 *
 * threads > 1 run resamples in parallel (resample b on worker b mod T, each estimator
 * single-threaded), results stored by b: the outcome is identical to a serial run. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "est_internal.h"
#include "mist_classical.h"
#include "mist_rng.h"
#include "util.h"

#define NOISE_STREAM 0x6b73676e6f697365ULL /* "ksgnoise" */

typedef struct {
    int method;
    const double *data;
    size_t n;
    int dx, dy;
    mist_est_opts opts; /* bootstrap = 0, threads = inner threads */
    uint64_t seed;
    int B, T, t;
    double *val;
    int *status; /* per resample: MIST_OK or the estimator's code */
    int *done;   /* resamples finished, all workers (for opts.progress) */
    /* worker results */
    int fatal;         /* ENOMEM (or rng allocation failure): abort everything */
    int first_bad;     /* lowest failed resample of this worker, -1 none */
    mist_err first_err;
    mist_err fatal_err;
} boot_job;

static void boot_run(boot_job *J)
{
    size_t ds = (size_t)J->dx + (size_t)J->dy;
    J->fatal = MIST_OK;
    J->first_bad = -1;
    double *buf = malloc(J->n * ds * sizeof *buf);
    size_t *origin = malloc((J->n ? J->n : 1) * sizeof *origin);
    if (!buf || !origin) {
        J->fatal = mist_fail(&J->fatal_err, MIST_ENOMEM,
                             "bootstrap: out of memory for a resample of %zu rows", J->n);
        free(buf);
        free(origin);
        return;
    }
    for (int b = J->t; b < J->B; b += J->T) {
        uint64_t sb = mist_seed_derive(J->seed, (uint64_t)b);
        gsl_rng *r = mist_rng_alloc(sb);
        if (!r) {
            J->fatal = mist_fail(&J->fatal_err, MIST_ENOMEM,
                                 "bootstrap: out of memory for a random generator");
            break;
        }
        for (size_t i = 0; i < J->n; i++) {
            size_t src = (size_t)gsl_rng_uniform_int(r, (unsigned long)J->n);
            memcpy(buf + i * ds, J->data + src * ds, ds * sizeof *buf);
            origin[i] = src;
        }
        gsl_rng_free(r);
        mist_est_opts o = J->opts;
        o.seed = mist_seed_derive(sb, NOISE_STREAM);
        mist_err e = {0};
        double v = NAN;
        int rc = mist_est_point_inplace(J->method, buf, origin, J->n, J->dx, J->dy, &o, &v, &e);
        if (rc == MIST_ENOMEM) {
            J->fatal = rc;
            J->fatal_err = e;
            break;
        }
        if (rc == MIST_OK && !isfinite(v)) {
            rc = MIST_ENUMERIC;
            mist_fail(&e, rc, "non-finite estimate");
        }
        J->status[b] = rc;
        J->val[b] = v;
        int d = __atomic_add_fetch(J->done, 1, __ATOMIC_RELAXED);
        if (J->opts.progress) J->opts.progress(J->opts.progress_ctx, d, J->B);
        if (rc && J->first_bad < 0) {
            J->first_bad = b;
            J->first_err = e;
        }
    }
    free(buf);
    free(origin);
}

static void *boot_worker(void *arg)
{
    boot_run(arg);
    return NULL;
}

/* Type 7 quantile of sorted v[0..m). */
static double quantile7(const double *v, size_t m, double q)
{
    if (m == 1) return v[0];
    double h = (double)(m - 1) * q;
    double fl = floor(h);
    size_t i = (size_t)fl;
    if (i >= m - 1) return v[m - 1];
    return v[i] + (h - fl) * (v[i + 1] - v[i]);
}

int mist_est_bootstrap(int method, const double *data, size_t n, int dx, int dy,
                       const mist_est_opts *o, double *lower, double *upper, int *n_failed,
                       mist_err *err)
{
    const char *name = mist_est_names(NULL)[method];
    int B = o->bootstrap;
    *n_failed = 0;
    if (B < 1) return mist_fail(err, MIST_EINVAL, "%s bootstrap: B must be >= 1", name);
    if (n > (size_t)0xffffffffUL)
        return mist_fail(err, MIST_EINVAL,
                         "%s bootstrap: n = %zu exceeds the 2^32 rows the generator can draw",
                         name, n);
    int T = o->threads < B ? o->threads : B;
    if (T < 1) T = 1;
    double *val = malloc((size_t)B * sizeof *val);
    int *status = malloc((size_t)B * sizeof *status);
    boot_job *jobs = malloc((size_t)T * sizeof *jobs);
    int rc = MIST_OK, done_count = 0;
    if (!val || !status || !jobs) {
        rc = mist_fail(err, MIST_ENOMEM, "%s bootstrap: out of memory for %d resamples", name, B);
        goto done;
    }
    for (int t = 0; t < T; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].method = method;
        jobs[t].data = data;
        jobs[t].n = n;
        jobs[t].dx = dx;
        jobs[t].dy = dy;
        jobs[t].opts = *o;
        jobs[t].opts.bootstrap = 0;
        /* Parallel resamples already use the threads; a single worker passes them inward. */
        jobs[t].opts.threads = T > 1 ? 1 : o->threads;
        jobs[t].seed = o->seed;
        jobs[t].B = B;
        jobs[t].T = T;
        jobs[t].t = t;
        jobs[t].val = val;
        jobs[t].status = status;
        jobs[t].done = &done_count;
    }
    mist_fan_out(boot_worker, jobs, sizeof *jobs, T);
    for (int t = 0; t < T; t++) {
        if (jobs[t].fatal) {
            rc = mist_fail(err, jobs[t].fatal, "%s bootstrap: %s", name, jobs[t].fatal_err.msg);
            goto done;
        }
    }
    /* Collect the successes in resample order; report the lowest-numbered failure. */
    size_t m = 0;
    int failed = 0, bad = -1;
    for (int b = 0; b < B; b++) {
        if (status[b] == MIST_OK)
            val[m++] = val[b];
        else
            failed++;
    }
    for (int t = 0; t < T; t++)
        if (jobs[t].first_bad >= 0 && (bad < 0 || jobs[t].first_bad < jobs[bad].first_bad))
            bad = t;
    *n_failed = failed;
    if (2 * failed > B) {
        rc = mist_fail(err, MIST_EDATA,
                       "%s bootstrap: the estimator failed on %d of %d resamples (more than "
                       "half; first, resample %d: %s)",
                       name, failed, B, jobs[bad].first_bad, jobs[bad].first_err.msg);
        goto done;
    }
    if (m > 1) qsort(val, m, sizeof *val, mist_cmp_double);
    *lower = quantile7(val, m, 0.5 * (1.0 - o->ci));
    *upper = quantile7(val, m, 0.5 * (1.0 + o->ci));
done:
    free(val);
    free(status);
    free(jobs);
    return rc;
}
