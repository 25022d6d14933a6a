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
        if (!bench_row_ok(r) || !isfinite(r->mi)) {
            failed++;
            continue;
        }
        double *q = qs + k * MIST_BENCH_NTAU;
        pts[k] = (mist_bench_point){
            r->mi,    r->estimate,        r->lower,
            r->upper, (double)r->time_us, bench_row_grid_quantiles(r, q) ? q : NULL};
        k++;
    }
    int rc = mist_bench_metrics_compute(pts, k, failed, out, err);
    free(pts);
    free(qs);
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

static int build_est(bench_est_summary *es, int scheme, const bench_row *const *rs, size_t m,
                     mist_err *err)
{
    double q[MIST_BENCH_NTAU];
    for (size_t i = 0; i < m && !es->quantile_model; i++)
        es->quantile_model = bench_row_grid_quantiles(rs[i], q);
    es->overall.bucket = (mist_bench_bucket){0, (size_t)-1, "all"};
    int rc = cell_metrics(rs, m, keep_all, NULL, &es->overall.m, err);
    size_t *vals = malloc((m ? m : 1) * sizeof *vals);
    if (!vals) return mist_fail(err, MIST_ENOMEM, "out of memory summarising");
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
        rc = cell_metrics(rs, m, keep_bucket, &a, &es->buckets[b].m, err);
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
        es->nper_n = b + 1;
    }
    free(vals);
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

int bench_summary_build(const bench_row *rows, size_t nrows, const bench_runinfo *ri,
                        bench_summary *s, mist_err *err)
{
    memset(s, 0, sizeof *s);
    const bench_row **rs = malloc((nrows ? nrows : 1) * sizeof *rs);
    if (!rs) return mist_fail(err, MIST_ENOMEM, "out of memory summarising");
    int rc = MIST_OK;
    for (size_t a = 0; a < nrows && !rc;) {
        size_t b = a;
        while (b < nrows && !strcmp(rows[b].suite, rows[a].suite)) b++;
        bench_suite_summary *g = realloc(s->suites, (s->nsuites + 1) * sizeof *g);
        if (!g) {
            rc = mist_fail(err, MIST_ENOMEM, "out of memory summarising");
            break;
        }
        s->suites = g;
        bench_suite_summary *ss = &s->suites[s->nsuites++];
        memset(ss, 0, sizeof *ss);
        snprintf(ss->suite, sizeof ss->suite, "%s", rows[a].suite);
        ss->scheme = mist_bench_bucket_scheme(ss->suite);
        const bench_suite_info *si = ri ? bench_runinfo_suite(ri, ss->suite) : NULL;
        ss->bootstrap = si ? si->bootstrap : -1;
        ss->ci = si ? si->ci : NAN;
        /* datasets: rows are sorted by dataset within the suite */
        for (size_t i = a; i < b; i++)
            ss->datasets += i == a || strcmp(rows[i].id, rows[i - 1].id) != 0;
        /* estimators in run.json order, then the others by name */
        const char **labels = malloc((b - a) * sizeof *labels);
        size_t nl = 0;
        if (!labels) rc = mist_fail(err, MIST_ENOMEM, "out of memory summarising");
        for (size_t i = a; i < b && !rc; i++) {
            size_t j = 0;
            while (j < nl && strcmp(labels[j], rows[i].label)) j++;
            if (j == nl) labels[nl++] = rows[i].label;
        }
        for (size_t i = 1; i < nl; i++) { /* insertion sort: few labels */
            const char *x = labels[i];
            size_t j = i;
            for (; j > 0 && label_cmp(ri, x, labels[j - 1]) < 0; j--) labels[j] = labels[j - 1];
            labels[j] = x;
        }
        ss->est = calloc(nl ? nl : 1, sizeof *ss->est);
        if (!rc && !ss->est) rc = mist_fail(err, MIST_ENOMEM, "out of memory summarising");
        for (size_t l = 0; l < nl && !rc; l++) {
            size_t m = 0;
            for (size_t i = a; i < b; i++)
                if (!strcmp(rows[i].label, labels[l])) rs[m++] = &rows[i];
            bench_est_summary *es = &ss->est[l];
            snprintf(es->label, sizeof es->label, "%s", labels[l]);
            ss->nest = l + 1;
            rc = build_est(es, ss->scheme, rs, m, err);
        }
        free(labels);
        a = b;
    }
    free(rs);
    if (rc) bench_summary_free(s);
    return rc;
}

void bench_summary_free(bench_summary *s)
{
    for (size_t i = 0; i < s->nsuites; i++) {
        for (size_t e = 0; e < s->suites[i].nest; e++) {
            free(s->suites[i].est[e].buckets);
            free(s->suites[i].est[e].per_n);
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

static void md_cell_row(FILE *f, const char *label, const bench_cell *c)
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
    fprintf(f, "| %s | %s | %zu | %zu | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label,
            c->bucket.label, m->n_ok, m->n_failed, mse, bias, var, mae, mre, cov, wid, tm, tp);
}

static void md_suite(FILE *f, const bench_suite_summary *ss)
{
    char lvl[32] = "";
    if (isfinite(ss->ci)) snprintf(lvl, sizeof lvl, " (nominal %.0f%%)", 100 * ss->ci);
    fprintf(f, "\n## Suite %s\n\n%zu datasets", ss->suite, ss->datasets);
    if (ss->bootstrap > 0)
        fprintf(f, "; classical intervals: %.0f%% percentile bootstrap, B = %d", 100 * ss->ci,
                ss->bootstrap);
    else if (ss->bootstrap == 0)
        fprintf(f, "; no bootstrap (classical estimators give no interval)");
    fprintf(f, "; n-buckets: %s.\n\n",
            ss->scheme == MIST_BENCH_BUCKETS_MIST ? "[10,100), [100,300), [300,500] (MIST protocol)"
                                                  : "one per n");
    fprintf(f,
            "| estimator | n | ok | failed | MSE ± SE | bias | variance | MAE | rel. error | "
            "coverage%s | width | median ms | p90 ms |\n",
            lvl);
    fprintf(f, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (size_t e = 0; e < ss->nest; e++) {
        const bench_est_summary *es = &ss->est[e];
        for (size_t b = 0; b < es->nbuckets; b++) md_cell_row(f, es->label, &es->buckets[b]);
        if (es->nbuckets != 1) md_cell_row(f, es->label, &es->overall);
    }

    if (ss->scheme == MIST_BENCH_BUCKETS_MIST) {
        fprintf(f,
                "\n### MIST-paper table: MSE ± sd over datasets (nats²)\n\n"
                "Ours beside the paper's figures as published (" PAPER_SOURCE "; %s).\n\n",
                PAPER_UNITS);
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
            if (strcmp(PAPER[p].suite, ss->suite)) continue;
            fprintf(f, "| %s (paper, as published) |", PAPER[p].model);
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
               "succeeded (failures are counted, not used). MSE ± SE: mean e² and its standard "
               "error (sd of e² / sqrt(m)); variance of e (divisor m, so MSE = bias² + variance); "
               "MAE = mean |e|; rel. error = mean |e| / max(MI, 0.1). Coverage: share of the "
               "intervals with lower <= MI <= upper, against the nominal level; width: mean "
               "upper - lower. Times: wall time per estimate (with its bootstrap), ms.\n");
    for (size_t i = 0; i < s->nsuites; i++) md_suite(f, &s->suites[i]);
    if (s->nsuites == 0) fprintf(f, "\nNo results yet.\n");
    return mist_atomic_commit(af, err);
}

/* ---- summary.json ---------------------------------------------------------------------------- */

static void jnum(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}

static void json_cell(FILE *f, const bench_cell *c, const char *indent)
{
    const mist_bench_metrics *m = &c->m;
    fprintf(f, "{\"bucket\": ");
    mist_json_put_string(f, c->bucket.label);
    if (strcmp(c->bucket.label, "all"))
        fprintf(f, ", \"n_lo\": %zu, \"n_hi\": %zu", c->bucket.lo, c->bucket.hi);
    fprintf(f, ",\n%s \"n_ok\": %zu, \"n_failed\": %zu, \"mse\": ", indent, m->n_ok, m->n_failed);
    jnum(f, m->mse);
    fprintf(f, ", \"mse_sd\": ");
    jnum(f, m->mse_sd);
    fprintf(f, ", \"mse_se\": ");
    jnum(f, m->mse_se);
    fprintf(f, ", \"bias\": ");
    jnum(f, m->bias);
    fprintf(f, ", \"variance\": ");
    jnum(f, m->variance);
    fprintf(f, ", \"mae\": ");
    jnum(f, m->mae);
    fprintf(f, ", \"mre\": ");
    jnum(f, m->mre);
    fprintf(f, ",\n%s \"n_interval\": %zu, \"coverage\": ", indent, m->n_interval);
    jnum(f, m->coverage);
    fprintf(f, ", \"width\": ");
    jnum(f, m->width);
    fprintf(f, ", \"time_median_us\": ");
    jnum(f, m->time_median_us);
    fprintf(f, ", \"time_p90_us\": ");
    jnum(f, m->time_p90_us);
    fprintf(f, ", \"n_calib\": %zu", m->n_calib);
    if (m->n_calib) {
        fprintf(f, ",\n%s \"calibration\": [", indent);
        for (int j = 0; j < MIST_BENCH_NTAU; j++) {
            fprintf(f, "%s{\"tau\": %.2f, \"share\": ", j ? ", " : "", mist_bench_tau(j));
            jnum(f, m->calib[j]);
            fputc('}', f);
        }
        fputc(']', f);
    }
    fputc('}', f);
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
    fprintf(f, "{\n  \"format\": \"mist-bench-summary\",\n  \"version\": 1,\n  \"units\": "
               "\"MI in nats, MSE in nats^2, times in microseconds\",\n  \"suites\": [");
    for (size_t i = 0; i < s->nsuites; i++) {
        const bench_suite_summary *ss = &s->suites[i];
        fprintf(f, "%s\n    {\"suite\": ", i ? "," : "");
        mist_json_put_string(f, ss->suite);
        fprintf(f, ", \"bucket_scheme\": \"%s\", \"datasets\": %zu, \"bootstrap\": ",
                ss->scheme == MIST_BENCH_BUCKETS_MIST ? "mist" : "per-n", ss->datasets);
        if (ss->bootstrap >= 0) fprintf(f, "%d", ss->bootstrap);
        else fputs("null", f);
        fprintf(f, ", \"ci\": ");
        jnum(f, ss->ci);
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
            fprintf(f, "}");
        }
        fprintf(f, "]");
        int first = 1;
        for (size_t p = 0; p < sizeof PAPER / sizeof PAPER[0]; p++) {
            if (strcmp(PAPER[p].suite, ss->suite)) continue;
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
