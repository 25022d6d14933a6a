/* The summary of canonical results rows: per suite, per estimator, per n-bucket, per n and
 * overall metrics (metrics.c), and the summary.md / summary.json files. Everything here is a
 * function of the rows alone (not of their order on disk, nor of timings beyond the time
 * columns), so a resumed or merged run summarises exactly like an uninterrupted one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_internal.h"
#include "io_internal.h"

/* ---- building -------------------------------------------------------------------------------- */

/* Metrics of the rows rs[0..m) for which keep(row, arg) holds. */
typedef int (*row_filter)(const bench_row *r, const void *arg);

static int keep_all(const bench_row *r, const void *arg)
{
    (void)r;
    (void)arg;
    return 1;
}

typedef struct bucket_arg {
    int scheme;
    size_t lo;
} bucket_arg;

static int keep_bucket(const bench_row *r, const void *arg)
{
    const bucket_arg *b = arg;
    mist_bench_bucket bk;
    mist_bench_bucket_of(b->scheme, r->n, &bk);
    return bk.lo == b->lo;
}

static int keep_n(const bench_row *r, const void *arg)
{
    return r->n == *(const size_t *)arg;
}

static int keep_task(const bench_row *r, const void *arg)
{
    return !strcmp(r->task, (const char *)arg);
}

/* Dimension classes by max(dx, dy). */
static const char *const DIM_CLASS[] = {"1", "2-4", "5-8", "9-16", "17-32", ">32"};
#define NDIM_CLASS (sizeof DIM_CLASS / sizeof DIM_CLASS[0])

static size_t dim_class(const bench_row *r)
{
    int d = r->dx > r->dy ? r->dx : r->dy;
    return d <= 1 ? 0 : d <= 4 ? 1 : d <= 8 ? 2 : d <= 16 ? 3 : d <= 32 ? 4 : 5;
}

static int keep_dim(const bench_row *r, const void *arg)
{
    return dim_class(r) == *(const size_t *)arg;
}

/* The suite seed of a built-in dataset id; 0 for a folder's own ids (one group). */
static uint64_t id_seed(const char *id)
{
    uint64_t seed = 0;
    return bench_id_parse(id, NULL, 0, &seed) ? seed : 0;
}

static int keep_seed(const bench_row *r, const void *arg)
{
    return id_seed(r->id) == *(const uint64_t *)arg;
}

typedef struct and_arg {
    row_filter f1, f2;
    const void *a1, *a2;
} and_arg;

static int keep_and(const bench_row *r, const void *arg)
{
    const and_arg *a = arg;
    return a->f1(r, a->a1) && a->f2(r, a->a2);
}

static int cell_metrics(const bench_row *const *rs, size_t m, row_filter keep, const void *arg,
                        mist_bench_metrics *out, mist_err *err)
{
    mist_bench_point *pts = malloc((m ? m : 1) * sizeof *pts);
    double *qs = malloc((m ? m : 1) * MIST_BENCH_NTAU * sizeof *qs);
    if (!pts || !qs) {
        free(pts);
        free(qs);
        return mist_fail(err, MIST_ENOMEM, "out of memory summarising");
    }
    size_t k = 0, failed = 0;
    for (size_t i = 0; i < m; i++) {
        const bench_row *r = rs[i];
        if (!keep(r, arg)) continue;
        if (!bench_row_ok(r) || !isfinite(r->mi) || !isfinite(r->sq_err)) {
            failed++;
            continue;
        }
        double *q = qs + k * MIST_BENCH_NTAU;
        pts[k] = (mist_bench_point){r->mi,
                                    r->estimate,
                                    r->lower,
                                    r->upper,
                                    (double)r->time_us,
                                    bench_row_grid_quantiles(r, q) ? q : NULL,
                                    r->sq_err};
        k++;
    }
    int rc = mist_bench_metrics_compute(pts, k, failed, out, err);
    free(pts);
    free(qs);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct suite seeds of rs, sorted; *count of them. malloc'ed. */
static uint64_t *distinct_seeds(const bench_row *const *rs, size_t m, size_t *count)
{
    uint64_t *v = malloc((m ? m : 1) * sizeof *v);
    *count = 0;
    if (!v) return NULL;
    for (size_t i = 0; i < m; i++) v[i] = id_seed(rs[i]->id);
    if (m > 1) qsort(v, m, sizeof *v, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (k == 0 || v[k - 1] != v[i]) v[k++] = v[i];
    *count = k;
    return v;
}

/* A table cell: its metrics, and with several suite seeds the spread of the per-seed MSEs. */
static int full_cell(const bench_row *const *rs, size_t m, row_filter keep, const void *arg,
                     const uint64_t *seeds, size_t nseeds, bench_cell *c, mist_err *err)
{
    int rc = cell_metrics(rs, m, keep, arg, &c->m, err);
    c->nseeds = 0;
    c->seed_mse_mean = c->seed_mse_sd = NAN;
    if (rc || nseeds < 2) return rc;
    double sum = 0, sum2 = 0;
    for (size_t k = 0; k < nseeds && !rc; k++) {
        mist_bench_metrics ms;
        and_arg a = {keep, keep_seed, arg, &seeds[k]};
        rc = cell_metrics(rs, m, keep_and, &a, &ms, err);
        if (rc || !isfinite(ms.mse)) continue;
        c->nseeds++;
        sum += ms.mse;
        sum2 += ms.mse * ms.mse;
    }
    if (!rc && c->nseeds >= 2) {
        double k = (double)c->nseeds, mean = sum / k;
        c->seed_mse_mean = mean;
        c->seed_mse_sd = sqrt(fmax(0.0, (sum2 - k * mean * mean) / (k - 1)));
    }
    return rc;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct values of key over rs, sorted. */
static size_t distinct(const bench_row *const *rs, size_t m, int scheme, int by_bucket, size_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        size_t v = rs[i]->n;
        if (by_bucket) {
            mist_bench_bucket b;
            mist_bench_bucket_of(scheme, v, &b);
            v = b.lo;
        }
        size_t j = 0;
        while (j < k && out[j] != v) j++;
        if (j == k) out[k++] = v;
    }
    if (k > 1) qsort(out, k, sizeof *out, cmp_size);
    return k;
}

/* The by-family and by-dimension cells of one estimator. */
static int build_groups(bench_est_summary *es, const bench_row *const *rs, size_t m,
                        mist_err *err)
{
    es->family = calloc(m ? m : 1, sizeof *es->family);
    es->dims = calloc(NDIM_CLASS, sizeof *es->dims);
    if (!es->family || !es->dims) return mist_fail(err, MIST_ENOMEM, "out of memory summarising");
    int rc = MIST_OK;
    for (size_t i = 0; i < m && !rc; i++) {
        size_t j = 0;
        while (j < es->nfamily && strcmp(es->family[j].key, rs[i]->task)) j++;
        if (j < es->nfamily) continue;
        snprintf(es->family[j].key, sizeof es->family[j].key, "%s", rs[i]->task);
        es->nfamily++;
        rc = cell_metrics(rs, m, keep_task, es->family[j].key, &es->family[j].m, err);
    }
    for (size_t c = 0; c < NDIM_CLASS && !rc; c++) {
        int any = 0;
        for (size_t i = 0; i < m && !any; i++) any = dim_class(rs[i]) == c;
        if (!any) continue;
        bench_gcell *g = &es->dims[es->ndims++];
        snprintf(g->key, sizeof g->key, "%s", DIM_CLASS[c]);
        rc = cell_metrics(rs, m, keep_dim, &c, &g->m, err);
    }
    return rc;
}

static int build_est(bench_est_summary *es, int scheme, const bench_row *const *rs, size_t m,
                     mist_err *err)
{
    double q[MIST_BENCH_NTAU];
    for (size_t i = 0; i < m && !es->quantile_model; i++)
        es->quantile_model = bench_row_grid_quantiles(rs[i], q);
    size_t nseeds = 0;
    uint64_t *seeds = distinct_seeds(rs, m, &nseeds);
    size_t *vals = malloc((m ? m : 1) * sizeof *vals);
    if (!vals || !seeds) {
        free(vals);
        free(seeds);
        return mist_fail(err, MIST_ENOMEM, "out of memory summarising");
    }
    es->overall.bucket = (mist_bench_bucket){0, (size_t)-1, "all"};
    int rc = full_cell(rs, m, keep_all, NULL, seeds, nseeds, &es->overall, err);
    size_t nb = distinct(rs, m, scheme, 1, vals);
    es->buckets = calloc(nb ? nb : 1, sizeof *es->buckets);
    if (!es->buckets) rc = mist_fail(err, MIST_ENOMEM, "out of memory summarising");
    for (size_t b = 0; b < nb && !rc; b++) {
        /* the bucket of any row with this lo */
        for (size_t i = 0; i < m; i++) {
            mist_bench_bucket bk;
            mist_bench_bucket_of(scheme, rs[i]->n, &bk);
            if (bk.lo == vals[b]) {
                es->buckets[b].bucket = bk;
                break;
            }
        }
        bucket_arg a = {scheme, vals[b]};
        rc = full_cell(rs, m, keep_bucket, &a, seeds, nseeds, &es->buckets[b], err);
        es->nbuckets = b + 1;
    }
    size_t nn = rc ? 0 : distinct(rs, m, scheme, 0, vals);
    if (!rc) {
        es->per_n = calloc(nn ? nn : 1, sizeof *es->per_n);
        if (!es->per_n) rc = mist_fail(err, MIST_ENOMEM, "out of memory summarising");
    }
    for (size_t b = 0; b < nn && !rc; b++) {
        mist_bench_bucket_of(MIST_BENCH_BUCKETS_PER_N, vals[b], &es->per_n[b].bucket);
        rc = cell_metrics(rs, m, keep_n, &vals[b], &es->per_n[b].m, err);
        es->per_n[b].seed_mse_mean = es->per_n[b].seed_mse_sd = NAN;
        es->nper_n = b + 1;
    }
    if (!rc) rc = build_groups(es, rs, m, err);
    free(vals);
    free(seeds);
    return rc;
}

static int label_pos(const bench_runinfo *ri, const char *label)
{
    for (size_t i = 0; ri && i < ri->nlabels; i++)
        if (!strcmp(ri->labels[i], label)) return (int)i;
    return -1;
}

/* run.json order first, then by name */
static int label_cmp(const bench_runinfo *ri, const char *x, const char *y)
{
    int px = label_pos(ri, x), py = label_pos(ri, y);
    if (px >= 0 && py >= 0) return px - py;
    if (px >= 0) return -1;
    if (py >= 0) return 1;
    return strcmp(x, y);
}

/* One group: the rows rows[a..b) of one suite that carry transform tr. */
static int build_group(bench_suite_summary *ss, const bench_row *rows, size_t a, size_t b,
                       const char *tr, const bench_runinfo *ri, const bench_row **rs,
                       mist_err *err)
{
    int rc = MIST_OK;
    snprintf(ss->suite, sizeof ss->suite, "%s", rows[a].suite);
    snprintf(ss->transform, sizeof ss->transform, "%s", tr);
    if (!strcmp(tr, "none")) snprintf(ss->name, sizeof ss->name, "%s", ss->suite);
    else snprintf(ss->name, sizeof ss->name, "%s+%s", ss->suite, tr);
    ss->scheme = mist_bench_bucket_scheme(ss->suite);
    const bench_suite_info *si = ri ? bench_runinfo_suite(ri, ss->suite) : NULL;
    ss->bootstrap = si ? si->bootstrap : -1;
    ss->ci = si ? si->ci : NAN;
    ss->score_bootstrap = si ? si->score_bootstrap : -1;
    /* datasets and seeds: rows are sorted by dataset within the suite */
    size_t m = 0;
    for (size_t i = a; i < b; i++) {
        if (strcmp(rows[i].transform, tr)) continue;
        int new_id = m == 0 || strcmp(rows[i].id, rs[m - 1]->id) != 0;
        ss->datasets += new_id;
        rs[m++] = &rows[i];
    }
    free(distinct_seeds(rs, m, &ss->nseeds));
    /* estimators in run.json order, then the others by name */
    const char **labels = malloc((m ? m : 1) * sizeof *labels);
    size_t nl = 0;
    if (!labels) return mist_fail(err, MIST_ENOMEM, "out of memory summarising");
    for (size_t i = 0; i < m; i++) {
        size_t j = 0;
        while (j < nl && strcmp(labels[j], rs[i]->label)) j++;
        if (j == nl) labels[nl++] = rs[i]->label;
    }
    for (size_t i = 1; i < nl; i++) { /* insertion sort: few labels */
        const char *x = labels[i];
        size_t j = i;
        for (; j > 0 && label_cmp(ri, x, labels[j - 1]) < 0; j--) labels[j] = labels[j - 1];
        labels[j] = x;
    }
    const bench_row **mine = malloc((m ? m : 1) * sizeof *mine);
    ss->est = calloc(nl ? nl : 1, sizeof *ss->est);
    if (!ss->est || !mine) rc = mist_fail(err, MIST_ENOMEM, "out of memory summarising");
    for (size_t l = 0; l < nl && !rc; l++) {
        size_t k = 0;
        for (size_t i = 0; i < m; i++)
            if (!strcmp(rs[i]->label, labels[l])) mine[k++] = rs[i];
        bench_est_summary *es = &ss->est[l];
        snprintf(es->label, sizeof es->label, "%s", labels[l]);
        ss->nest = l + 1;
        rc = build_est(es, ss->scheme, mine, k, err);
    }
    free(mine);
    free(labels);
    return rc;
}

int bench_summary_build(const bench_row *rows, size_t nrows, const bench_runinfo *ri,
                        bench_summary *s, mist_err *err)
{
    memset(s, 0, sizeof *s);
    const bench_row **rs = malloc((nrows ? nrows : 1) * sizeof *rs);
    const char **trs = malloc((nrows ? nrows : 1) * sizeof *trs);
    if (!rs || !trs) {
        free(rs);
        free(trs);
        return mist_fail(err, MIST_ENOMEM, "out of memory summarising");
    }
    int rc = MIST_OK;
    for (size_t a = 0; a < nrows && !rc;) {
        size_t b = a;
        while (b < nrows && !strcmp(rows[b].suite, rows[a].suite)) b++;
        /* the suite's transforms in table order */
        size_t nt = 0;
        for (size_t i = a; i < b; i++) {
            size_t j = 0;
            while (j < nt && strcmp(trs[j], rows[i].transform)) j++;
            if (j == nt) trs[nt++] = rows[i].transform;
        }
        for (size_t i = 1; i < nt; i++) {
            const char *x = trs[i];
            size_t j = i;
            for (; j > 0; j--) {
                size_t ox = bench_transform_order(ri, x), oy = bench_transform_order(ri, trs[j - 1]);
                if (ox > oy || (ox == oy && strcmp(x, trs[j - 1]) >= 0)) break;
                trs[j] = trs[j - 1];
            }
            trs[j] = x;
        }
        for (size_t t = 0; t < nt && !rc; t++) {
            bench_suite_summary *g = realloc(s->suites, (s->nsuites + 1) * sizeof *g);
            if (!g) {
                rc = mist_fail(err, MIST_ENOMEM, "out of memory summarising");
                break;
            }
            s->suites = g;
            bench_suite_summary *ss = &s->suites[s->nsuites++];
            memset(ss, 0, sizeof *ss);
            rc = build_group(ss, rows, a, b, trs[t], ri, rs, err);
        }
        a = b;
    }
    free(rs);
    free(trs);
    if (rc) bench_summary_free(s);
    return rc;
}

void bench_summary_free(bench_summary *s)
{
    for (size_t i = 0; i < s->nsuites; i++) {
        for (size_t e = 0; e < s->suites[i].nest; e++) {
            free(s->suites[i].est[e].buckets);
            free(s->suites[i].est[e].per_n);
            free(s->suites[i].est[e].family);
            free(s->suites[i].est[e].dims);
        }
        free(s->suites[i].est);
    }
    free(s->suites);
    memset(s, 0, sizeof *s);
}

/* ---- the MIST paper's published figures -----------------------------------------------------
 * MSE in nats^2 +- the sd over datasets, n in [10,100] / [100,300] / [300,500], as printed in
 * the results table of Gritsai et al., "MIST: Mutual Information via Supervised Training"
 * (arXiv 2511.18945; the same table is docs/images/m_test_results.jpg of github.com/grgera/mist):
 * written there as 3.1e0 +- 10.4, 3.4e-1 +- 0.9, ... (no scaling). */
typedef struct paper_row {
    const char *suite, *model;
    double mse[3], sd[3];
} paper_row;

static const paper_row PAPER[] = {
    {"mist-imd", "MIST", {3.1, 0.34, 0.28}, {10.4, 0.9, 0.9}},
    {"mist-imd", "MIST-QR", {3.1, 0.31, 0.12}, {11.7, 1.5, 0.3}},
    {"mist-oomd", "MIST", {8.0, 7.3, 8.8}, {14.1, 18.5, 22.3}},
    {"mist-oomd", "MIST-QR", {9.5, 9.9, 10.0}, {17.1, 24.6, 25.4}},
};
#define PAPER_SOURCE                                                                               \
    "Gritsai et al., MIST: Mutual Information via Supervised Training (arXiv 2511.18945), "        \
    "results table (github.com/grgera/mist docs/images/m_test_results.jpg)"
#define PAPER_UNITS "MSE in nats^2 +- sd over datasets, as published (no scaling)"
/* The paper's rows go beside our reconstruction of its suites and beside the official tasks. */
static int paper_matches(const char *paper_suite, const char *suite)
{
    size_t l = strlen(paper_suite);
    return !strncmp(paper_suite, suite, l) && (!suite[l] || !strcmp(suite + l, "-official"));
}

static const char *const MIST_BUCKETS[3] = {"[10,100)", "[100,300)", "[300,500]"};

/* ---- summary.md ------------------------------------------------------------------------------ */

static void fnum(char *buf, size_t cap, double v)
{
    if (!isfinite(v)) snprintf(buf, cap, "–");
    else if (v != 0 && (fabs(v) >= 1e5 || fabs(v) < 1e-3)) snprintf(buf, cap, "%.2e", v);
    else snprintf(buf, cap, "%.4g", v);
}

static void fpm(char *buf, size_t cap, double a, double b)
{
    char x[24], y[24];
    fnum(x, sizeof x, a);
    fnum(y, sizeof y, b);
    if (isfinite(b)) snprintf(buf, cap, "%s ± %s", x, y);
    else snprintf(buf, cap, "%s", x);
}

static void fms(char *buf, size_t cap, double us)
{
    fnum(buf, cap, us / 1000.0);
}

static void md_cell_row(FILE *f, const char *label, const bench_cell *c, int seeds)
{
    const mist_bench_metrics *m = &c->m;
    char mse[64], bias[32], var[32], mae[32], mre[32], cov[32], wid[32], tm[32], tp[32];
    fpm(mse, sizeof mse, m->mse, m->mse_se);
    fnum(bias, sizeof bias, m->bias);
    fnum(var, sizeof var, m->variance);
    fnum(mae, sizeof mae, m->mae);
    fnum(mre, sizeof mre, m->mre);
    if (m->n_interval == m->n_ok && m->n_ok) {
        snprintf(cov, sizeof cov, "%.3f", m->coverage);
        fnum(wid, sizeof wid, m->width);
    } else if (m->n_interval) { /* some estimates came without an interval */
        snprintf(cov, sizeof cov, "%.3f (of %zu)", m->coverage, m->n_interval);
        fnum(wid, sizeof wid, m->width);
    } else {
        strcpy(cov, "–");
        strcpy(wid, "–");
    }
    fms(tm, sizeof tm, m->time_median_us);
    fms(tp, sizeof tp, m->time_p90_us);
    char sd[80] = "";
    if (seeds) {
        fpm(sd, sizeof sd - 4, c->seed_mse_mean, c->seed_mse_sd);
        strcat(sd, " | ");
    }
    fprintf(f, "| %s | %s | %zu | %zu | %s | %s%s | %s | %s | %s | %s | %s | %s | %s |\n", label,
            c->bucket.label, m->n_ok, m->n_failed, mse, sd, bias, var, mae, mre, cov, wid, tm, tp);
}

static void md_score_line(FILE *f, int score_bootstrap)
{
    if (score_bootstrap > 0)
        fprintf(f,
                "Score (the MIST paper's): per dataset the mean of (estimate - MI)² over %d "
                "bootstrap resamples of the dataset (quantile models: their median), MSE = the "
                "mean of these scores; bias, variance, MAE, rel. error, coverage and times are "
                "of the estimate on the dataset itself.\n\n",
                score_bootstrap);
    else if (score_bootstrap == 0)
        fprintf(f, "Score: one estimate per dataset, MSE = mean (estimate - MI)².\n\n");
}

static void md_group_table(FILE *f, const bench_suite_summary *ss, int dims)
{
    fprintf(f, "\n### By %s: MSE ± SE (nats²)\n\n| %s |", dims ? "dimension" : "family",
            dims ? "max(dx, dy)" : "family");
    for (size_t e = 0; e < ss->nest; e++) fprintf(f, " %s |", ss->est[e].label);
    fprintf(f, "\n|---|");
    for (size_t e = 0; e < ss->nest; e++) fprintf(f, "--:|");
    fputc('\n', f);
    /* keys in the first estimator's order, then any others */
    size_t cap = 0;
    for (size_t e = 0; e < ss->nest; e++)
        cap += dims ? ss->est[e].ndims : ss->est[e].nfamily;
    const char **keys = malloc((cap ? cap : 1) * sizeof *keys);
    if (!keys) return;
    size_t nk = 0;
    for (size_t e = 0; e < ss->nest; e++) {
        const bench_est_summary *es = &ss->est[e];
        size_t n = dims ? es->ndims : es->nfamily;
        for (size_t g = 0; g < n; g++) {
            const char *k = dims ? es->dims[g].key : es->family[g].key;
            size_t j = 0;
            while (j < nk && strcmp(keys[j], k)) j++;
            if (j == nk) keys[nk++] = k;
        }
    }
    for (size_t k = 0; k < nk; k++) {
        fprintf(f, "| %s |", keys[k]);
        for (size_t e = 0; e < ss->nest; e++) {
            const bench_est_summary *es = &ss->est[e];
            const bench_gcell *c = NULL;
            size_t n = dims ? es->ndims : es->nfamily;
            for (size_t g = 0; g < n; g++) {
                const bench_gcell *x = dims ? &es->dims[g] : &es->family[g];
                if (!strcmp(x->key, keys[k])) c = x;
            }
            char cell[80] = "–";
            if (c) {
                fpm(cell, sizeof cell, c->m.mse, c->m.mse_se);
                if (c->m.n_failed) {
                    size_t l = strlen(cell);
                    snprintf(cell + l, sizeof cell - l, " (%zu failed)", c->m.n_failed);
                }
            }
            fprintf(f, " %s |", cell);
        }
        fputc('\n', f);
    }
    free(keys);
}

static void md_suite(FILE *f, const bench_suite_summary *ss)
{
    char lvl[32] = "";
    if (isfinite(ss->ci)) snprintf(lvl, sizeof lvl, " (nominal %.0f%%)", 100 * ss->ci);
    fprintf(f, "\n## Suite %s", ss->suite);
    if (strcmp(ss->transform, "none"))
        fprintf(f, ", transform %s (MI-preserving: the truth is unchanged)", ss->transform);
    fprintf(f, "\n\n%zu datasets", ss->datasets);
    if (ss->nseeds > 1) fprintf(f, " from %zu suite seeds", ss->nseeds);
    if (ss->bootstrap > 0)
        fprintf(f, "; classical intervals: %.0f%% percentile bootstrap, B = %d", 100 * ss->ci,
                ss->bootstrap);
    else if (ss->bootstrap == 0)
        fprintf(f, "; no bootstrap (classical estimators give no interval)");
    fprintf(f, "; n-buckets: %s.\n\n",
            ss->scheme == MIST_BENCH_BUCKETS_MIST ? "[10,100), [100,300), [300,500] (MIST protocol)"
                                                  : "one per n");
    md_score_line(f, ss->score_bootstrap);
    int seeds = ss->nseeds > 1;
    fprintf(f,
            "| estimator | n | ok | failed | MSE ± SE | %sbias | variance | MAE | rel. error | "
            "coverage%s | width | median ms | p90 ms |\n",
            seeds ? "MSE over seeds: mean ± SD | " : "", lvl);
    fprintf(f, "|---|---|--:|--:|--:|%s--:|--:|--:|--:|--:|--:|--:|--:|\n", seeds ? "--:|" : "");
    for (size_t e = 0; e < ss->nest; e++) {
        const bench_est_summary *es = &ss->est[e];
        for (size_t b = 0; b < es->nbuckets; b++) md_cell_row(f, es->label, &es->buckets[b], seeds);
        if (es->nbuckets != 1) md_cell_row(f, es->label, &es->overall, seeds);
    }

    if (ss->scheme == MIST_BENCH_BUCKETS_MIST) {
        fprintf(f,
                "\n### MIST-paper table: MSE ± SD over datasets (nats²)\n\n"
                "± here is the standard deviation of the per-dataset scores (as in the paper), "
                "not a standard error. Ours beside the paper's figures as published (" PAPER_SOURCE
                "; %s; scored with 50 bootstrap resamples per dataset on the official test "
                "tasks).%s\n\n",
                PAPER_UNITS,
                ss->score_bootstrap > 0 ? ""
                                        : " Our rows here score one estimate per dataset, not "
                                          "the paper's bootstrap score (use --score bootstrap:50 "
                                          "for that).");
        fprintf(f, "| estimator | [10,100) | [100,300) | [300,500] |\n|---|--:|--:|--:|\n");
        for (size_t e = 0; e < ss->nest; e++) {
            const bench_est_summary *es = &ss->est[e];
            fprintf(f, "| %s |", es->label);
            for (int k = 0; k < 3; k++) {
                const bench_cell *c = NULL;
                for (size_t b = 0; b < es->nbuckets; b++)
                    if (!strcmp(es->buckets[b].bucket.label, MIST_BUCKETS[k])) c = &es->buckets[b];
                char cell[64] = "–";
                if (c) fpm(cell, sizeof cell, c->m.mse, c->m.mse_sd);
                fprintf(f, " %s |", cell);
            }
            fputc('\n', f);
        }
        for (size_t p = 0; p < sizeof PAPER / sizeof PAPER[0]; p++) {
            if (!paper_matches(PAPER[p].suite, ss->suite)) continue;
            fprintf(f, "| %s (paper, as published: ± SD) |", PAPER[p].model);
            for (int k = 0; k < 3; k++) {
                char cell[64];
                /* the paper's precision: 3.1, 0.34, 8.0 */
                snprintf(cell, sizeof cell, PAPER[p].mse[k] < 1 ? "%.2f ± %.1f" : "%.1f ± %.1f",
                         PAPER[p].mse[k], PAPER[p].sd[k]);
                fprintf(f, " %s |", cell);
            }
            fputc('\n', f);
        }
    }
    md_group_table(f, ss, 0);
    md_group_table(f, ss, 1);

    int any_qr = 0;
    for (size_t e = 0; e < ss->nest; e++) any_qr |= ss->est[e].quantile_model;
    if (any_qr) {
        fprintf(f, "\n### Calibration of quantile models: share of datasets with MI <= q_tau "
                   "(ideal: tau)\n\n| estimator |");
        for (int j = 0; j < MIST_BENCH_NTAU; j++) fprintf(f, " %.2f |", mist_bench_tau(j));
        fprintf(f, "\n|---|");
        for (int j = 0; j < MIST_BENCH_NTAU; j++) fprintf(f, "--:|");
        fputc('\n', f);
        for (size_t e = 0; e < ss->nest; e++) {
            const bench_est_summary *es = &ss->est[e];
            if (!es->quantile_model) continue;
            fprintf(f, "| %s |", es->label);
            for (int j = 0; j < MIST_BENCH_NTAU; j++) fprintf(f, " %.3f |", es->overall.m.calib[j]);
            fputc('\n', f);
        }
    }
}

/* The robustness table of one suite run under several transforms (groups g[0..ng)): per
 * estimator and transform, the MSE ± SE and the interval coverage over all datasets. */
static void md_transforms(FILE *f, const bench_suite_summary *g, size_t ng)
{
    fprintf(f, "\n## Suite %s under MI-preserving transforms\n\nMSE ± SE (nats²) over all "
               "datasets, and in brackets the interval coverage",
            g[0].suite);
    if (isfinite(g[0].ci)) fprintf(f, " (nominal %.0f%%)", 100 * g[0].ci);
    fprintf(f, ". The truth is the same under every transform.\n\n| estimator |");
    for (size_t t = 0; t < ng; t++) fprintf(f, " %s |", g[t].transform);
    fprintf(f, "\n|---|");
    for (size_t t = 0; t < ng; t++) fprintf(f, "--:|");
    fputc('\n', f);
    for (size_t e = 0; e < g[0].nest; e++) {
        const char *label = g[0].est[e].label;
        fprintf(f, "| %s |", label);
        for (size_t t = 0; t < ng; t++) {
            const bench_est_summary *es = NULL;
            for (size_t k = 0; k < g[t].nest; k++)
                if (!strcmp(g[t].est[k].label, label)) es = &g[t].est[k];
            char cell[96] = "–";
            if (es) {
                const mist_bench_metrics *m = &es->overall.m;
                fpm(cell, sizeof cell, m->mse, m->mse_se);
                size_t l = strlen(cell);
                if (m->n_interval) snprintf(cell + l, sizeof cell - l, " [%.2f]", m->coverage);
            }
            fprintf(f, " %s |", cell);
        }
        fputc('\n', f);
    }
}

int bench_summary_write_md(const char *dir, const bench_summary *s, mist_err *err)
{
    char path[BENCH_PATH_LEN + 32];
    int rc = bench_path(path, sizeof path, dir, "summary.md", err);
    if (rc) return rc;
    mist_atomic_file *af = mist_atomic_open(path, err);
    if (!af) return err ? err->code : MIST_EIO;
    FILE *f = mist_atomic_stream(af);
    fprintf(f, "# mist bench summary\n\n"
               "MI in nats. e = estimate - true MI over the datasets where the estimator "
               "succeeded (failures are counted, not used). MSE ± SE: the mean of the datasets' "
               "scores (e², or its mean over bootstrap resamples: see each suite) and its "
               "standard error (sd of the scores / sqrt(m)); a ± is a standard error unless "
               "labelled SD. Variance of e (divisor m; MSE = bias² + variance for e² scores); "
               "MAE = mean |e|; rel. error = mean |e| / max(MI, 0.1). Coverage: share of the "
               "intervals with lower <= MI <= upper, against the nominal level; width: mean "
               "upper - lower. Times: wall time per estimate (with its bootstrap), ms.\n");
    for (size_t i = 0; i < s->nsuites;) {
        size_t j = i;
        while (j < s->nsuites && !strcmp(s->suites[j].suite, s->suites[i].suite)) j++;
        for (size_t k = i; k < j; k++) md_suite(f, &s->suites[k]);
        if (j - i > 1) md_transforms(f, &s->suites[i], j - i);
        i = j;
    }
    if (s->nsuites == 0) fprintf(f, "\nNo results yet.\n");
    return mist_atomic_commit(af, err);
}

/* ---- summary.json ---------------------------------------------------------------------------- */

static void json_cell(FILE *f, const bench_cell *c, const char *indent)
{
    const mist_bench_metrics *m = &c->m;
    fprintf(f, "{\"bucket\": ");
    mist_json_put_string(f, c->bucket.label);
    if (strcmp(c->bucket.label, "all"))
        fprintf(f, ", \"n_lo\": %zu, \"n_hi\": %zu", c->bucket.lo, c->bucket.hi);
    fprintf(f, ",\n%s \"n_ok\": %zu, \"n_failed\": %zu, \"mse\": ", indent, m->n_ok, m->n_failed);
    mist_json_put_number(f, m->mse);
    fprintf(f, ", \"mse_sd\": ");
    mist_json_put_number(f, m->mse_sd);
    fprintf(f, ", \"mse_se\": ");
    mist_json_put_number(f, m->mse_se);
    fprintf(f, ", \"bias\": ");
    mist_json_put_number(f, m->bias);
    fprintf(f, ", \"variance\": ");
    mist_json_put_number(f, m->variance);
    fprintf(f, ", \"mae\": ");
    mist_json_put_number(f, m->mae);
    fprintf(f, ", \"mre\": ");
    mist_json_put_number(f, m->mre);
    fprintf(f, ",\n%s \"n_interval\": %zu, \"coverage\": ", indent, m->n_interval);
    mist_json_put_number(f, m->coverage);
    fprintf(f, ", \"width\": ");
    mist_json_put_number(f, m->width);
    fprintf(f, ", \"time_median_us\": ");
    mist_json_put_number(f, m->time_median_us);
    fprintf(f, ", \"time_p90_us\": ");
    mist_json_put_number(f, m->time_p90_us);
    if (c->nseeds >= 2) {
        fprintf(f, ", \"seeds\": %zu, \"seed_mse_mean\": ", c->nseeds);
        mist_json_put_number(f, c->seed_mse_mean);
        fprintf(f, ", \"seed_mse_sd\": ");
        mist_json_put_number(f, c->seed_mse_sd);
    }
    fprintf(f, ", \"n_calib\": %zu", m->n_calib);
    if (m->n_calib) {
        fprintf(f, ",\n%s \"calibration\": [", indent);
        for (int j = 0; j < MIST_BENCH_NTAU; j++) {
            fprintf(f, "%s{\"tau\": %.2f, \"share\": ", j ? ", " : "", mist_bench_tau(j));
            mist_json_put_number(f, m->calib[j]);
            fputc('}', f);
        }
        fputc(']', f);
    }
    fputc('}', f);
}

static void json_gcells(FILE *f, const char *name, const bench_gcell *g, size_t n)
{
    fprintf(f, ",\n        \"%s\": [", name);
    for (size_t i = 0; i < n; i++) {
        bench_cell c;
        memset(&c, 0, sizeof c);
        snprintf(c.bucket.label, sizeof c.bucket.label, "all");
        c.m = g[i].m;
        fprintf(f, "%s\n          {\"key\": ", i ? "," : "");
        mist_json_put_string(f, g[i].key);
        fprintf(f, ", \"metrics\": ");
        json_cell(f, &c, "          ");
        fputc('}', f);
    }
    fprintf(f, "]");
}

static void json_cells(FILE *f, const char *name, const bench_cell *c, size_t n)
{
    fprintf(f, ",\n        \"%s\": [", name);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s\n          ", i ? "," : "");
        json_cell(f, &c[i], "          ");
    }
    fprintf(f, "]");
}

int bench_summary_write_json(const char *dir, const bench_summary *s, mist_err *err)
{
    char path[BENCH_PATH_LEN + 32];
    int rc = bench_path(path, sizeof path, dir, "summary.json", err);
    if (rc) return rc;
    mist_atomic_file *af = mist_atomic_open(path, err);
    if (!af) return err ? err->code : MIST_EIO;
    FILE *f = mist_atomic_stream(af);
    fprintf(f, "{\n  \"format\": \"mist-bench-summary\",\n  \"version\": 2,\n  \"units\": "
               "\"MI in nats, MSE in nats^2, times in microseconds\",\n  \"suites\": [");
    for (size_t i = 0; i < s->nsuites; i++) {
        const bench_suite_summary *ss = &s->suites[i];
        fprintf(f, "%s\n    {\"suite\": ", i ? "," : "");
        mist_json_put_string(f, ss->suite);
        fprintf(f, ", \"transform\": ");
        mist_json_put_string(f, ss->transform);
        fprintf(f, ", \"score\": ");
        if (ss->score_bootstrap >= 0) {
            char sc[32];
            bench_score_text(sc, sizeof sc, ss->score_bootstrap);
            mist_json_put_string(f, sc);
        } else {
            fputs("null", f);
        }
        fprintf(f, ", \"mse_error_bar\": \"mse_se is the standard error of the mean score; "
                   "mse_sd the standard deviation of the scores over datasets (the paper's +-)\"");
        fprintf(f, ",\n     \"bucket_scheme\": \"%s\", \"datasets\": %zu, \"suite_seeds\": %zu, "
                   "\"bootstrap\": ",
                ss->scheme == MIST_BENCH_BUCKETS_MIST ? "mist" : "per-n", ss->datasets,
                ss->nseeds);
        if (ss->bootstrap >= 0) fprintf(f, "%d", ss->bootstrap);
        else fputs("null", f);
        fprintf(f, ", \"ci\": ");
        mist_json_put_number(f, ss->ci);
        fprintf(f, ",\n     \"estimators\": [");
        for (size_t e = 0; e < ss->nest; e++) {
            const bench_est_summary *es = &ss->est[e];
            fprintf(f, "%s\n       {\"label\": ", e ? "," : "");
            mist_json_put_string(f, es->label);
            fprintf(f, ", \"quantile_model\": %s,\n        \"overall\": ",
                    es->quantile_model ? "true" : "false");
            json_cell(f, &es->overall, "        ");
            json_cells(f, "buckets", es->buckets, es->nbuckets);
            json_cells(f, "per_n", es->per_n, es->nper_n);
            json_gcells(f, "by_family", es->family, es->nfamily);
            json_gcells(f, "by_dim", es->dims, es->ndims);
            fprintf(f, "}");
        }
        fprintf(f, "]");
        int first = 1;
        for (size_t p = 0; p < sizeof PAPER / sizeof PAPER[0]; p++) {
            if (!paper_matches(PAPER[p].suite, ss->suite)) continue;
            if (first)
                fprintf(f, ",\n     \"paper\": {\"source\": \"%s\", \"units\": \"%s\", \"rows\": [",
                        PAPER_SOURCE, PAPER_UNITS);
            fprintf(f, "%s\n       {\"model\": \"%s\", \"buckets\": [", first ? "" : ",",
                    PAPER[p].model);
            for (int k = 0; k < 3; k++)
                fprintf(f, "%s{\"bucket\": \"%s\", \"mse\": %g, \"sd\": %g}", k ? ", " : "",
                        MIST_BUCKETS[k], PAPER[p].mse[k], PAPER[p].sd[k]);
            fprintf(f, "]}");
            first = 0;
        }
        if (!first) fprintf(f, "]}");
        fprintf(f, "}");
    }
    fprintf(f, "\n  ]\n}\n");
    return mist_atomic_commit(af, err);
}
