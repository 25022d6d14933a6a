/* Samplers: GSL's ziggurat normal and chi-square variates on mist's 64-bit-seeded stream. */
#include "gen_internal.h"

#include <gsl/gsl_randist.h>
#include "mist_rng.h"
#include <math.h>
#include <stdlib.h>

/* The sample stream of a seed, separate from the parameter stream (stream 1). */
static gsl_rng *sample_rng(uint64_t seed)
{
    return mist_rng_alloc(mist_seed_derive(seed, 2));
}

int mist_task_sample_base(const mist_task *t, size_t n, uint64_t seed, double *out, mist_err *err)
{
    int d = t->dx + t->dy;
    gsl_rng *r = sample_rng(seed);
    if (t->family) {
        if (!r) return mist_fail(err, MIST_ENOMEM, "out of memory");
        t->family->sample(t, r, n, out);
        gsl_rng_free(r);
        return MIST_OK;
    }
    double *g = malloc((size_t)d * sizeof *g);
    /* L in compressed rows: sparse and 2pair factors are mostly zeros */
    size_t nnz_cap = t->L ? (size_t)d * (d + 1) / 2 : 1;
    int *start = malloc(((size_t)d + 1) * sizeof *start), *col = malloc(nnz_cap * sizeof *col);
    double *val = malloc(nnz_cap * sizeof *val);
    if (!r || !g || !start || !col || !val) {
        gsl_rng_free(r);
        free(g);
        free(start);
        free(col);
        free(val);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    if (t->L) {
        int nnz = 0;
        for (int i = 0; i < d; i++) {
            start[i] = nnz;
            for (int k = 0; k <= i; k++) {
                double v = t->L[(size_t)i * d + k];
                if (v != 0.0) {
                    col[nnz] = k;
                    val[nnz++] = v;
                }
            }
        }
        start[d] = nnz;
    }
    for (size_t row = 0; row < n; row++) {
        double *o = out + row * (size_t)d;
        if (t->base == BASE_ADDITIVE) {
            for (int j = 0; j < t->dx; j++) o[j] = gsl_rng_uniform(r);
            for (int j = 0; j < t->dy; j++)
                o[t->dx + j] = o[j] + t->eps[j] * (2.0 * gsl_rng_uniform(r) - 1.0);
            continue;
        }
        for (int j = 0; j < d; j++) g[j] = gsl_ran_gaussian_ziggurat(r, 1.0);
        /* z = L g, L lower triangular; skipping exact zeros leaves the sums unchanged */
        for (int i = 0; i < d; i++) {
            double s = 0.0;
            for (int p = start[i]; p < start[i + 1]; p++) s += val[p] * g[col[p]];
            o[i] = s;
        }
        if (t->base == BASE_STUDENT) {
            /* one chi-square per row, shared by all coordinates */
            double w = gsl_ran_chisq(r, t->nu);
            double scale = 1.0 / sqrt(w / t->nu);
            for (int i = 0; i < d; i++) o[i] *= scale;
        }
    }
    gsl_rng_free(r);
    free(g);
    free(start);
    free(col);
    free(val);
    return MIST_OK;
}

int mist_task_sample(const mist_task *t, size_t n, uint64_t seed, double *out, mist_err *err)
{
    int d = t->dx + t->dy, od = t->out_dx + t->out_dy;
    if (t->ntransforms == 0) return mist_task_sample_base(t, n, seed, out, err);
    double *base = malloc((n ? n : 1) * (size_t)d * sizeof *base);
    if (!base) return mist_fail(err, MIST_ENOMEM, "out of memory for %zu rows", n);
    int rc = mist_task_sample_base(t, n, seed, base, err);
    for (size_t row = 0; !rc && row < n; row++)
        rc = mist_task_transform_row(t, base + row * (size_t)d, out + row * (size_t)od);
    free(base);
    if (rc) return mist_fail(err, rc, "%s: transform failed", t->name);
    return MIST_OK;
}
