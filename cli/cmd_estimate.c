/* mist estimate: one MI estimate (with an optional interval) of a data file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "estimate_degenerate.h"
#include "estimate_guard.h"
#include "mist_classical.h"
#include "mist_infer.h"
#include "mist_io.h"
#include "opts.h"
#include "progress.h"

#define MAX_TAUS 256

static void estimate_usage(FILE *f)
{
    fputs("usage: mist estimate FILE [--dx N | --x COLS --y COLS] [--method NAME] [options]\n"
          "\n"
          "By default the shipped quantile model (weights/mist-qr.msgpack) gives the estimate (its\n"
          "median) and a 90% interval (its 5% and 95% quantiles) in one forward pass.\n"
          "\n"
          "FILE is .npy (float, integer or bool, C or Fortran order), .npz (numpy.savez: arrays\n"
          "x and y, or the first two, are X and Y; one array is the matrix), .csv or .tsv, or\n"
          ".msgpack; '-' reads CSV from standard input. dx comes from the file's metadata\n"
          "(sidecar FILE.json, or record) when present; otherwise give --dx N (the first N\n"
          "columns are X, the rest Y) or pick columns with --x/--y: 1-based numbers and ranges\n"
          "or names from the CSV header, e.g. --x 1-3,5 --y 6 or --x age,height --y weight.\n"
          "A CSV whose column 1 is 0, 1, 2, ... (pandas' index) gets a warning.\n"
          "\n"
          "options:\n"
          "  --method NAME     mist (default) | ksg1 | ksg2 | gaussian | histogram | kde |\n"
          "                    discrete | mixed (one discrete block, one continuous)\n"
          "  --k K             KSG neighbours (default 5)\n"
          "  --copula          replace each column by its normal scores first (invariant to\n"
          "                    strictly increasing maps of the columns)\n"
          "  --unbiased        gaussian: subtract the estimate's finite-sample bias for Gaussian\n"
          "                    data (about dx dy / 2n nats; needs n > dx+dy; can go below 0)\n"
          "  --ci LEVEL        interval level (default 0.9): of --bootstrap, and of a quantile\n"
          "                    model ((1-LEVEL)/2 and (1+LEVEL)/2 quantiles)\n"
          "  --bootstrap B     percentile bootstrap interval over B resamples\n"
          "  --seed S          seed of the KSG tie-breaking noise and the bootstrap (default 0)\n"
          "  --threads T       worker threads (default 1); the result does not depend on T\n"
          "  --bins B          histogram bins per axis (default ceil(n^(1/(dx+dy+2))))\n"
          "  --miller-madow    histogram: Miller-Madow bias correction\n"
          "  --bandwidth H     KDE bandwidth (default Scott's rule n^(-1/(d+4)) on z-scores)\n"
          "  --no-zscore       KSG: skip z-scoring the columns\n"
          "  --noise S         KSG: std of the tie-breaking noise (default 1e-10; 0 turns it off)\n"
          "  --json            print one JSON object instead of text\n"
          "  --unit U          nats (default) | bits: the unit of every MI printed\n"
          "  --delimiter C     CSV field delimiter: one character, tab or space (default ',';\n"
          "                    tab for .tsv/.tab files and for a first line with tabs and no\n"
          "                    comma). Quoted fields (\"1.5\") are read\n"
          "  --format F        npy | npz | csv | msgpack when the extension does not tell\n"
          "  --quiet           no progress line (shown on stderr for a bootstrap past 2 s)\n"
          "\n"
          "the meta-learned estimator (--method mist):\n"
          "  --weights FILE    the model: mist:qr or mist:point (the shipped models, wherever\n"
          "                    installed; plain qr and point too when no such file is here), a\n"
          "                    mist weights file, or an official MIST / MIST-QR checkpoint\n"
          "                    converted with `mist convert`.\n"
          "                    Default: $MIST_WEIGHTS if set, else the shipped mist-qr.msgpack\n"
          "                    (installed under share/mist/weights, or the source tree's weights/)\n"
          "  --quantiles LIST  quantile levels of a quantile-conditioned model (MIST-QR), e.g.\n"
          "                    0.05,0.5,0.95 (the default, from --ci); the estimate is the median\n"
          "  --raw-quantiles   report the quantiles as the network gives them; by default they\n"
          "                    are sorted along tau (monotone rearrangement, together with the\n"
          "                    median) so that they never cross\n"
          "  --columns C       canonical | as_given: how a model that reads columns by position\n"
          "                    (mist-qr, mist-point, converted official checkpoints) sees them.\n"
          "                    canonical: in an order and with signs chosen from the data (the\n"
          "                    strongest cross pairs first, x_i with y_i), X and Y symmetrised,\n"
          "                    so that reordering or negating columns or swapping X and Y changes\n"
          "                    nothing; as_given: as they come. Default: the model's own (meta\n"
          "                    \"columns\"; as_given without it)\n"
          "  --threads T       OpenBLAS threads (default 1); results equal up to float rounding\n"
          "  --guard MODE      fallback (default) | warn | off. The guard checks whether the data\n"
          "                    suit the model: n and dims inside its trained range, its estimate\n"
          "                    inside the MI range it was trained on, no discrete columns, and\n"
          "                    its 90% interval consistent with KSG (k = 5) and the bias-corrected\n"
          "                    Gaussian copula (one pass each, 90% intervals from standard\n"
          "                    errors). Each failed check prints a warning on stderr and a reason\n"
          "                    in the JSON \"guard\" object. fallback: then answer with the\n"
          "                    classical estimate the check points to (or, for range warnings\n"
          "                    alone, the model's median) and a 90% interval that covers the\n"
          "                    model's and the classical one; the model's answer is shown too.\n"
          "                    Rows that look jointly Gaussian (Mardia's tests, n >= 100,\n"
          "                    dx+dy <= 8) with a Gaussian MI not below KSG's are answered\n"
          "                    by that Gaussian MI (bias-corrected), with a note.\n"
          "                    warn: warn, keep the model's answer. off: no checks, no guard\n"
          "                    output. --seed seeds KSG's tie-breaking noise\n"
          "  --route on|off    on (default): a model whose weights name a second model (meta\n"
          "                    \"route\", the shipped mist-qr: mist-pairs) hands it the datasets it\n"
          "                    reads badly: dependence spread over many column pairs (kappa below\n"
          "                    the stored threshold) or more MI than it was trained on (by the\n"
          "                    classical cross-checks), unless its arbiter (meta\n"
          "                    \"route_arbiter\") keeps a dataset kappa would hand over: the first\n"
          "                    model's median much closer to the Gaussian copula's reading. A\n"
          "                    note on stderr and the JSON \"route\" object say which answered.\n"
          "                    off: the first model answers alone\n"
          "  --row-chunk ROWS  rows of one chunk of the feature block (the attention over all\n"
          "                    pairs of rows): a larger dataset meets itself there within equal\n"
          "                    chunks of at most ROWS rows, so time grows linearly in n (the other\n"
          "                    layers still see every row). Default: the largest n our models\n"
          "                    were trained on (500 for the shipped ones), 0 (all rows at once,\n"
          "                    n x n) for the official ones; 0 turns chunks off\n"
          "  The official models read [x, y] rows: they need dx == dy <= 32.\n"
          "  The model refuses fewer rows than the smallest n it was trained on (10 for the\n"
          "  shipped models; 10 when the file records none) and a constant column.\n"
          "\n"
          "When every X column or every Y column is constant, X or Y carries no information and\n"
          "I(X;Y) = 0 exactly: that is printed (marked exact; JSON \"exact\": true) for every\n"
          "method, with a note on stderr, and no estimator runs.\n"
          "\n"
          "MI is reported in nats (--unit bits: in bits). When the file's metadata holds the true\n"
          "MI of the X/Y split used (the file's own), it is shown too.\n",
          f);
}

/* "1-3,5", "a,b" (header names) or a mix -> 0-based column indices; 0 on success, else -1
 * with the item that failed in bad. */
static int parse_cols(const char *s, const mist_table *t, int **out, int *count, char *bad,
                      size_t badsz)
{
    int *idx = NULL, cnt = 0;
    char buf[4096];
    snprintf(bad, badsz, "%s", s ? s : "");
    if (!s || !*s || strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        uint64_t lo, hi;
        int named = mist_table_column(t, tok);
        if (named >= 0) lo = hi = (uint64_t)named + 1;
        else if (cli_parse_range(tok, &lo, &hi) || lo < 1 || hi > t->cols) {
            snprintf(bad, badsz, "%s", tok);
            free(idx);
            return -1;
        }
        for (uint64_t c = lo; c <= hi; c++) {
            int *g = realloc(idx, (size_t)(cnt + 1) * sizeof *g);
            if (!g) {
                free(idx);
                return -1;
            }
            idx = g;
            idx[cnt++] = (int)(c - 1);
        }
    }
    if (cnt == 0) {
        free(idx);
        return -1;
    }
    *out = idx;
    *count = cnt;
    return 0;
}

/* A column selection error: what was asked, and what the file offers. */
static void cols_error(const mist_table *t, const char *opt, const char *item, mist_err *err)
{
    char names[512] = "";
    size_t len = 0;
    for (size_t j = 0; t->names && j < t->cols && len + 4 < sizeof names; j++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", j ? "," : "",
                                t->names[j]);
    if (len >= sizeof names) strcpy(names + sizeof names - 4, "...");
    mist_fail(err, MIST_EINVAL,
              "%s: '%s' is no column: give 1-based numbers or ranges within 1..%zu (e.g. 1-3,5)%s%s",
              opt, item, t->cols, t->names ? " or header names: " : "", t->names ? names : "");
}

/* Reads FILE, splits it into X and Y (--x/--y, --dx or the file's metadata) and keeps the
 * file's true MI only where the split is the file's own: the MI of other columns is another
 * quantity. */
static mist_dataset *load(const char *path, const mist_read_opts *ro, int dx, const char *xcols,
                          const char *ycols, mist_err *err)
{
    if ((xcols != NULL) != (ycols != NULL)) {
        mist_fail(err, MIST_EINVAL, "--x and --y go together");
        return NULL;
    }
    mist_table t;
    if (mist_table_read(path, ro, &t, err)) return NULL;
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    if (t.index_column)
        fprintf(stderr,
                "mist: warning: column 1 of %s holds %s in order: the row index pandas' to_csv "
                "writes, not data? it is read as data; leave it out with --x/--y (columns "
                "2-%zu) or write the file with index=False\n",
                name, t.data[0] == 0 ? "0, 1, 2, ..." : "1, 2, 3, ...", t.cols);
    int *xi = NULL, *yi = NULL, nx = 0, ny = 0;
    char bad[256];
    mist_dataset *ds = NULL;
    if (xcols) {
        if (parse_cols(xcols, &t, &xi, &nx, bad, sizeof bad)) cols_error(&t, "--x", bad, err);
        else if (parse_cols(ycols, &t, &yi, &ny, bad, sizeof bad)) cols_error(&t, "--y", bad, err);
    } else if (dx > 0 && (size_t)dx >= t.cols) {
        mist_fail(err, MIST_EINVAL, "dx = %d leaves no Y columns: '%s' has %zu columns", dx, name,
                  t.cols);
    } else if (!dx && !t.has_meta) {
        mist_fail(err, MIST_EINVAL,
                  "'%s' has no metadata giving dx: pass the number of X columns (--dx N) or the "
                  "columns (--x COLS --y COLS)",
                  name);
    } else {
        nx = dx ? dx : t.meta_dx;
        ny = (int)t.cols - nx;
    }
    if ((nx && ny) && (ds = mist_dataset_alloc(t.n, nx, ny, err)) != NULL) {
        for (size_t i = 0; i < t.n; i++) {
            double *o = ds->data + i * (size_t)(nx + ny);
            const double *r = t.data + i * t.cols;
            for (int j = 0; j < nx; j++) o[j] = r[xi ? xi[j] : j];
            for (int j = 0; j < ny; j++) o[nx + j] = r[yi ? yi[j] : nx + j];
        }
        int same = t.has_meta && nx == t.meta_dx && ny == t.meta_dy;
        for (int j = 0; same && xi && j < nx + ny; j++) same = (j < nx ? xi[j] : yi[j - nx]) == j;
        ds->meta = t.meta;
        memset(&t.meta, 0, sizeof t.meta);
        if (!same) ds->meta.mi = NAN;
        if (mist_dataset_check_finite(ds, err)) {
            char msg[MIST_ERRMSG_LEN];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            mist_fail(err, MIST_EDATA, "'%s': %s", name, msg);
            mist_dataset_free(ds);
            ds = NULL;
        }
    }
    mist_table_free(&t);
    free(xi);
    free(yi);
    return ds;
}

/* "0.05,0.5,0.95" -> levels in (0, 1); 0 on success. */
static int parse_taus(const char *s, double *taus, size_t *n)
{
    char buf[4096];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    size_t k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double t;
        if (k == MAX_TAUS - 1 || mist_parse_double(tok, &t) || !(t > 0 && t < 1)) return -1;
        taus[k++] = t;
    }
    if (k == 0) return -1;
    *n = k;
    return 0;
}

enum { GUARD_OFF, GUARD_WARN, GUARD_FALLBACK };

/* The model's 5%, 50% and 95% quantiles for the guard: from the levels already computed when
 * they are there (the default --ci 0.9), else from a second call; a point model's estimate
 * stands for all three. */
static int guard_quantiles(mist_model *m, const mist_dataset *ds, const double *taus,
                           size_t nq, const double *out, double est, double q3[3], mist_err *err)
{
    q3[0] = q3[1] = q3[2] = est;
    if (!mist_model_arch(m)->quantile_conditioned) return 0;
    int i05 = -1, i95 = -1;
    for (size_t i = 0; i < nq; i++) {
        if (taus[i] == 0.05) i05 = (int)i;
        if (taus[i] == 0.95) i95 = (int)i;
    }
    if (i05 >= 0 && i95 >= 0) {
        q3[0] = out[i05];
        q3[2] = out[i95];
        return 0;
    }
    const double t3[3] = {0.05, 0.5, 0.95};
    return mist_model_estimate(m, ds->data, ds->n, ds->dx, ds->dy, t3, 3, q3, err);
}

/* --method mist: the network of a weights file on the dataset, checked by the guard unless
 * guard is GUARD_OFF. The levels are the user's --quantiles, or the --ci interval and the median
 * (taus_are_default), which a point model ignores. */
static int estimate_mist(const mist_dataset *ds, const char *weights, const double *user_taus,
                         size_t nuser, int taus_are_default, int raw, int threads, int json,
                         int guard, uint64_t seed, int columns, int route, int row_chunk, double ci)
{
    mist_err err = {0};
    if (mist_infer_set_threads(threads, &err)) {
        cli_error("estimate: %s", err.msg);
        return 2;
    }
    if (cli_regular_file("estimate: --weights", weights)) return 1;
    mist_model *m = mist_model_open(weights, &err);
    if (!m) {
        cli_error("estimate: %s", err.msg);
        return 1;
    }
    if (columns >= 0) mist_model_set_col_canon(m, columns);
    if (!route) mist_model_set_route(m, NULL, 0.0, NULL);
    if (row_chunk >= 0) mist_model_set_row_chunk(m, (size_t)row_chunk);
    const mist_arch *a = mist_model_arch(m);
    char why[96];
    int constant_col;
    if (estimate_constant_side(ds, why, sizeof why, &constant_col)) {
        estimate_print_exact_zero("mist", ds, why, ci, json);
        mist_model_free(m);
        return 0;
    }
    /* too few rows, a constant column: the library's rules (mist_model_check_rows) */
    if (mist_model_check_rows(m, ds->data, ds->n, ds->dx, ds->dy, &err)) {
        cli_error("estimate: %s%s", err.msg, constant_col >= 0 ? " with --x/--y" : "");
        mist_model_free(m);
        return 1;
    }
    if (!a->quantile_conditioned && !taus_are_default) {
        cli_error("estimate: '%s' is a point-estimate model (not quantile-conditioned): it gives "
                  "no quantiles; drop --quantiles or use a MIST-QR model",
                  weights);
        mist_model_free(m);
        return 2;
    }
    /* The levels asked for, then the median (the estimate) when it is not among them. */
    double taus[MAX_TAUS];
    size_t nq = 0, ntaus = 0, imed = 0;
    if (a->quantile_conditioned) {
        nq = nuser;
        for (size_t i = 0; i < nq; i++) taus[i] = user_taus[i];
        ntaus = nq;
        while (imed < nq && taus[imed] != 0.5) imed++;
        if (imed == nq) taus[ntaus++] = 0.5;
    }
    mist_model_set_raw_quantiles(m, raw);
    /* the model that answers (a routed model hands some datasets to its second model): the
     * guard and the reports take its trained ranges */
    double kappa, kappa_min = NAN;
    int reason;
    mist_model *pm;
    double out[MAX_TAUS];
    if (mist_model_estimate_routed(m, ds->data, ds->n, ds->dx, ds->dy, ntaus ? taus : NULL, ntaus,
                                   out, &pm, &kappa, &reason, &err)) {
        cli_error("estimate: mist: %s", err.msg);
        mist_model_free(m);
        return 1;
    }
    double est = a->quantile_conditioned ? out[imed] : out[0];
    char alt_name[256] = "";
    int routed = mist_model_route_alt(m, &kappa_min) != NULL;
    if (routed && !mist_model_meta_get_str(m, "route", alt_name, sizeof alt_name))
        snprintf(alt_name, sizeof alt_name, "(second model)");
    if (pm != m && !json)
        fprintf(stderr,
                "mist: note: answered by the second model %s: %s\n", alt_name,
                reason == MIST_ROUTE_KAPPA ? "the dependence is spread over many column pairs, which the "
                                    "first model reads badly"
                                  : "the classical cross-checks read more MI than the first "
                                    "model was trained on");
    if (reason == MIST_ROUTE_ARBITER && !json)
        fprintf(stderr, "mist: note: kappa would hand these data to the second model %s, but the "
                        "first model's reading is much closer to the Gaussian copula's: the first "
                        "model answers\n",
                alt_name);
    a = mist_model_arch(pm);
    /* The interval is the outermost pair of levels asked for (5% and 95% by default). */
    size_t ilo = 0, ihi = 0;
    for (size_t i = 0; i < nq; i++) {
        if (taus[i] < taus[ilo]) ilo = i;
        if (taus[i] > taus[ihi]) ihi = i;
    }
    int has_interval = nq >= 2 && taus[ilo] < 0.5 && taus[ihi] > 0.5;
    mist_guard_model gm;
    mist_guard_result gr;
    memset(&gm, 0, sizeof gm);
    memset(&gr, 0, sizeof gr);
    if (guard != GUARD_OFF) {
        double q3[3];
        mist_guard_opts go;
        mist_guard_opts_default(&go);
        go.seed = seed;
        go.threads = threads;
        int rc = guard_quantiles(m, ds, taus, nq, out, est, q3, &err);
        if (!rc) {
            mist_guard_model_init(&gm, pm, q3[0], q3[1], q3[2]);
            rc = mist_guard_run(ds->data, ds->n, ds->dx, ds->dy, &gm, &go, &gr, &err);
        }
        if (rc) {
            cli_error("estimate: guard: %s (--guard off skips the checks)", err.msg);
            mist_model_free(m);
            return 1;
        }
        guard_warn(&gr, &gm, ds->n, ds->dx, ds->dy, guard == GUARD_FALLBACK);
    } else if ((int64_t)ds->n < a->n_min || (int64_t)ds->n > a->n_max)
        fprintf(stderr,
                "mist: note: n = %zu is outside the range this model was trained on (%lld..%lld); "
                "the estimate may be less reliable\n",
                ds->n, (long long)a->n_min, (long long)a->n_max);
    /* the guard's fallback replaces the answer; the model's is still shown */
    double ans = est, ans_lo = has_interval ? out[ilo] : NAN;
    double ans_hi = has_interval ? out[ihi] : NAN;
    int fb = guard == GUARD_FALLBACK && mist_guard_apply(&gr, &ans, &ans_lo, &ans_hi);
    double truth = ds->meta.mi;
    if (json) {
        printf("{\"method\": \"mist\", \"estimate\": ");
        mist_json_put_number(stdout, cli_mi(ans));
        printf(", \"quantiles\": [");
        for (size_t i = 0; i < nq; i++) {
            printf("%s{\"tau\": %.17g, \"value\": ", i ? ", " : "", taus[i]);
            mist_json_put_number(stdout, cli_mi(out[i]));
            printf("}");
        }
        printf("], \"lower\": ");
        mist_json_put_number(stdout, cli_mi(ans_lo));
        printf(", \"upper\": ");
        mist_json_put_number(stdout, cli_mi(ans_hi));
        printf(", \"ci\": ");
        mist_json_put_number(stdout, fb             ? 0.9
                     : has_interval ? nearbyint((taus[ihi] - taus[ilo]) * 1e12) / 1e12
                                    : NAN);
        printf(", \"weights\": ");
        mist_json_put_string(stdout, weights);
        printf(", \"raw_quantiles\": %s, \"columns\": \"%s\", \"quantile_conditioned\": %s, "
               "\"row_chunk\": %zu, \"n\": %zu, \"dx\": %d, \"dy\": %d, \"trained_n\": "
               "[%lld, %lld], \"unit\": \"%s\", \"true_mi\": ",
               raw ? "true" : "false",
               mist_model_col_canon(m) ? "canonical" : "as_given",
               a->quantile_conditioned ? "true" : "false", mist_model_row_chunk(m), ds->n, ds->dx, ds->dy,
               (long long)a->n_min, (long long)a->n_max, cli_unit());
        mist_json_put_number(stdout, cli_mi(truth));
        if (routed) {
            printf(", \"route\": {\"answered_by\": \"%s\", \"second_model\": ",
                   pm == m ? "first" : "second");
            mist_json_put_string(stdout, alt_name);
            printf(", \"kappa\": ");
            mist_json_put_number(stdout, kappa);
            printf(", \"kappa_min\": ");
            mist_json_put_number(stdout, kappa_min);
            printf(", \"reason\": \"%s\"", reason == MIST_ROUTE_KAPPA      ? "kappa"
                                              : reason == MIST_ROUTE_MI_RANGE ? "mi_range"
                                              : reason == MIST_ROUTE_ARBITER  ? "arbiter"
                                                                              : "none");
            if (mist_model_route_arbiter(m) > 0) {
                printf(", \"arbiter\": ");
                mist_json_put_number(stdout, mist_model_route_arbiter(m));
            }
            printf("}");
        }
        if (guard != GUARD_OFF) {
            printf(", ");
            guard_json(&gr, &gm, ds->dx, guard == GUARD_FALLBACK);
        }
        printf("}\n");
    } else {
        if (fb)
            printf("mist: %.6f %s (guard fallback: %s)  [%.6f, %.6f] 90%% interval  (n = %zu, "
                   "dx = %d, dy = %d)\n",
                   cli_mi(ans), cli_unit(),
                   gr.answer == MIST_GUARD_ANSWER_KSG1              ? "ksg1"
                   : gr.answer == MIST_GUARD_ANSWER_GAUSSIAN_COPULA ? "gaussian copula"
                   : gr.answer == MIST_GUARD_ANSWER_DISCRETE        ? "discrete plug-in"
                   : gr.answer == MIST_GUARD_ANSWER_GAUSSIAN        ? "gaussian"
                   : gr.answer == MIST_GUARD_ANSWER_MIXED           ? "mixed"
                                                                    : "model median, widened",
                   cli_mi(ans_lo), cli_mi(ans_hi), ds->n, ds->dx, ds->dy);
        printf("%s: %.6f %s%s", fb ? "model" : "mist", cli_mi(est), cli_unit(),
               a->quantile_conditioned ? " (median)" : "");
        if (has_interval)
            printf("  [%.6f, %.6f] %g%% interval (quantiles %g, %g)", cli_mi(out[ilo]),
                   cli_mi(out[ihi]),
                   100 * (taus[ihi] - taus[ilo]), taus[ilo], taus[ihi]);
        else if (nq) {
            printf("  quantiles%s:", raw ? " (raw)" : "");
            for (size_t i = 0; i < nq; i++) printf(" %g: %.6f", taus[i], cli_mi(out[i]));
        }
        if (fb) printf("\n");
        else printf("  (n = %zu, dx = %d, dy = %d)\n", ds->n, ds->dx, ds->dy);
        if (isfinite(truth))
            printf("true MI (from the file's metadata): %.6f %s\n", cli_mi(truth), cli_unit());
    }
    mist_model_free(m);
    return 0;
}

static void on_boot_progress(void *ctx, int done, int total)
{
    cli_progress_count(ctx, (size_t)done, (size_t)total);
}

int cmd_estimate(int argc, char **argv)
{
    enum {
        O_DX = 1, O_X, O_Y, O_METHOD, O_K, O_COPULA, O_CI, O_BOOT, O_SEED, O_THREADS, O_BINS,
        O_MM, O_BW, O_NOZ, O_NOISE, O_JSON, O_WEIGHTS, O_QUANTILES, O_RAW, O_GUARD, O_UNIT,
        O_DELIM, O_FORMAT, O_QUIET, O_UNBIASED, O_COLS, O_ROUTE, O_CHUNK
    };
    static const cli_opt opts[] = {{O_DX, "--dx", NULL, 1},
                                   {O_X, "--x", NULL, 1},
                                   {O_Y, "--y", NULL, 1},
                                   {O_METHOD, "--method", NULL, 1},
                                   {O_K, "--k", NULL, 1},
                                   {O_COPULA, "--copula", NULL, 0},
                                   {O_UNBIASED, "--unbiased", NULL, 0},
                                   {O_CI, "--ci", NULL, 1},
                                   {O_BOOT, "--bootstrap", NULL, 1},
                                   {O_SEED, "--seed", NULL, 1},
                                   {O_THREADS, "--threads", NULL, 1},
                                   {O_BINS, "--bins", NULL, 1},
                                   {O_MM, "--miller-madow", NULL, 0},
                                   {O_BW, "--bandwidth", NULL, 1},
                                   {O_NOZ, "--no-zscore", NULL, 0},
                                   {O_NOISE, "--noise", NULL, 1},
                                   {O_JSON, "--json", NULL, 0},
                                   {O_WEIGHTS, "--weights", NULL, 1},
                                   {O_QUANTILES, "--quantiles", NULL, 1},
                                   {O_RAW, "--raw-quantiles", NULL, 0},
                                   {O_GUARD, "--guard", NULL, 1},
                                   {O_UNIT, "--unit", NULL, 1},
                                   {O_DELIM, "--delimiter", NULL, 1},
                                   {O_FORMAT, "--format", NULL, 1},
                                   {O_QUIET, "--quiet", NULL, 0},
                                   {O_COLS, "--columns", NULL, 1},
                                   {O_ROUTE, "--route", NULL, 1},
                                   {O_CHUNK, "--row-chunk", NULL, 1},
                                   {0, NULL, NULL, 0}};
    const char *path = NULL, *method = "mist", *xcols = NULL, *ycols = NULL, *weights = NULL,
               *quantiles = NULL, *v;
    int dx = 0, json = 0, raw_quantiles = 0, guard = GUARD_FALLBACK, quiet = 0, columns = -1,
        route = -1, row_chunk = -1;
    const char *guard_opt = NULL;
    const char *classical_only = NULL; /* an option that the learned model has no use for */
    mist_read_opts ro = {MIST_FMT_AUTO, 0};
    mist_est_opts o;
    mist_est_opts_default(&o);
    cli_parser p;
    cli_opts_init(&p, "estimate", opts, argc, argv);
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        int bad = 0;
        const char *want = NULL;
        switch (id) {
        case CLI_OPT_ERROR: return 2;
        case CLI_OPT_HELP: estimate_usage(stdout); return 0;
        case O_DX: bad = mist_parse_int(v, 1, 1 << 20, &dx), want = "a positive integer"; break;
        case O_X: xcols = v; break;
        case O_Y: ycols = v; break;
        case O_METHOD: method = v; break;
        case O_K: classical_only = p.opt, bad = mist_parse_int(v, 1, 1 << 20, &o.k); break;
        case O_COPULA: classical_only = p.opt, o.copula = 1; break;
        case O_UNBIASED: classical_only = p.opt, o.unbiased = 1; break;
        case O_CI:
            bad = mist_parse_double(v, &o.ci) || !(o.ci > 0 && o.ci < 1), want = "a level in (0, 1)";
            break;
        case O_BOOT:
            classical_only = p.opt, bad = mist_parse_int(v, 1, 1000000, &o.bootstrap);
            want = "1..1000000";
            break;
        case O_SEED: bad = mist_parse_u64(v, &o.seed), want = "a 64-bit seed"; break;
        case O_THREADS: bad = mist_parse_int(v, 1, 256, &o.threads), want = "1..256"; break;
        case O_BINS: classical_only = p.opt, bad = mist_parse_int(v, 1, 1 << 20, &o.bins); break;
        case O_MM: classical_only = p.opt, o.miller_madow = 1; break;
        case O_BW:
            classical_only = p.opt;
            bad = mist_parse_double(v, &o.bandwidth) || !(o.bandwidth > 0), want = "h > 0";
            break;
        case O_NOZ: classical_only = p.opt, o.zscore = 0; break;
        case O_NOISE:
            classical_only = p.opt, bad = mist_parse_double(v, &o.noise) || o.noise < 0;
            want = "s >= 0";
            break;
        case O_JSON: json = 1; break;
        case O_WEIGHTS: weights = v; break;
        case O_QUANTILES: quantiles = v; break;
        case O_RAW: raw_quantiles = 1; break;
        case O_COLS:
            if (!strcmp(v, "canonical")) columns = 1;
            else if (!strcmp(v, "as_given")) columns = 0;
            else return cli_opts_bad(&p, v, "canonical or as_given");
            break;
        case O_ROUTE:
            if (!strcmp(v, "on")) route = 1;
            else if (!strcmp(v, "off")) route = 0;
            else return cli_opts_bad(&p, v, "on or off");
            break;
        case O_CHUNK:
            bad = mist_parse_int(v, 0, 1 << 30, &row_chunk), want = "0 or a number of rows";
            break;
        case O_GUARD:
            guard_opt = v;
            if (!strcmp(v, "off")) guard = GUARD_OFF;
            else if (!strcmp(v, "warn")) guard = GUARD_WARN;
            else if (!strcmp(v, "fallback")) guard = GUARD_FALLBACK;
            else bad = 1, want = "fallback, warn or off";
            break;
        case O_UNIT:
            if (!strcmp(v, "bits")) cli_set_unit_bits(1);
            else if (!strcmp(v, "nats")) cli_set_unit_bits(0);
            else bad = 1, want = "bits or nats";
            break;
        case O_DELIM:
            if (!strcmp(v, "tab") || !strcmp(v, "\\t")) ro.delimiter = '\t';
            else if (!strcmp(v, "space")) ro.delimiter = ' ';
            else if (strlen(v) == 1 && v[0] != '"' && v[0] != '\n' && v[0] != '\r')
                ro.delimiter = v[0];
            else bad = 1, want = "one character, tab or space";
            break;
        case O_FORMAT: {
            mist_err ferr = {0};
            if (mist_format_parse(v, &ro.fmt, &ferr))
                bad = 1, want = "npy, npz, csv or msgpack";
            break;
        }
        case O_QUIET: quiet = 1; break;
        default:
            if (path) return cli_opts_extra(&p, v);
            path = v;
        }
        if (bad) return cli_opts_bad(&p, v, want);
    }
    if (!path) {
        cli_error("estimate: a data FILE is required (run `mist estimate --help`)");
        return 2;
    }
    int is_mist = !strcmp(method, "mist");
    if (!is_mist && !mist_est_known(method)) {
        cli_error("estimate: unknown method '%s' (known: ksg1, ksg2, gaussian, histogram, kde, "
                  "discrete, mist)",
                  method);
        return 2;
    }
    if (is_mist && classical_only) {
        cli_error("estimate: %s applies to the classical methods; the learned model (the default) "
                  "takes none: add e.g. --method ksg1",
                  classical_only);
        return 2;
    }
    if (!is_mist &&
        (weights || quantiles || raw_quantiles || guard_opt || columns >= 0 || route >= 0 ||
         row_chunk >= 0)) {
        cli_error("estimate: --weights, --quantiles, --raw-quantiles, --columns, --route, "
                  "--row-chunk and --guard apply to --method mist");
        return 2;
    }
    double taus[MAX_TAUS];
    size_t ntaus = 0;
    if (quantiles && parse_taus(quantiles, taus, &ntaus)) {
        cli_error("estimate: --quantiles wants a comma-separated list of levels in (0, 1), at "
                  "most %d, e.g. 0.05,0.5,0.95",
                  MAX_TAUS - 1);
        return 2;
    }
    if (dx && (xcols || ycols)) {
        cli_error("estimate: give either --dx or --x/--y, not both");
        return 2;
    }
    if (ro.delimiter && ro.fmt != MIST_FMT_AUTO && ro.fmt != MIST_FMT_CSV) {
        cli_error("estimate: --delimiter applies to CSV files");
        return 2;
    }
    char model_path[4096];
    mist_err err = {0};
    mist_dataset *ds = load(path, &ro, dx, xcols, ycols, &err);
    if (!ds) {
        cli_error("estimate: %s", err.msg);
        return 1;
    }
    if (is_mist) {
        int rc = weights ? mist_model_resolve(weights, model_path, sizeof model_path, &err)
                         : mist_default_model_path(NULL, model_path, sizeof model_path, &err);
        if (rc) {
            cli_error("estimate: %s; give a model with --weights FILE (or mist:qr, mist:point), "
                      "or a classical method, e.g. --method ksg1",
                      err.msg);
            mist_dataset_free(ds);
            return 1;
        }
        weights = model_path;
    }
    if (is_mist) {
        if (!quantiles) { /* the interval of --ci (0.9: the 5% and 95% quantiles) */
            /* rounded so that --ci 0.9 asks for exactly 0.05 and 0.95 */
            taus[0] = nearbyint((1 - o.ci) / 2 * 1e12) / 1e12;
            taus[1] = 0.5;
            taus[2] = nearbyint((1 + o.ci) / 2 * 1e12) / 1e12;
        }
        int rc = estimate_mist(ds, weights, taus, quantiles ? ntaus : 3, !quantiles,
                               raw_quantiles, o.threads, json, guard, o.seed, columns,
                               route != 0, row_chunk, o.ci);
        mist_dataset_free(ds);
        return rc;
    }
    char why[96];
    if (estimate_constant_side(ds, why, sizeof why, NULL)) {
        estimate_print_exact_zero(method, ds, why, o.ci, json);
        mist_dataset_free(ds);
        return 0;
    }
    mist_est_result r;
    char what[64];
    snprintf(what, sizeof what, "estimate: %s bootstrap", method);
    cli_progress *prog = o.bootstrap ? cli_progress_start(what, quiet) : NULL;
    o.progress = prog ? on_boot_progress : NULL;
    o.progress_ctx = prog;
    int erc = mist_estimate_classical(method, ds->data, ds->n, ds->dx, ds->dy, &o, &r, &err);
    cli_progress_stop(prog);
    if (erc) {
        cli_error("estimate: %s: %s", method, err.msg);
        mist_dataset_free(ds);
        return 1;
    }
    double truth = ds->meta.mi;
    if (json) {
        printf("{\"method\": \"%s\", \"estimate\": ", method);
        mist_json_put_number(stdout, cli_mi(r.estimate));
        printf(", \"lower\": ");
        mist_json_put_number(stdout, cli_mi(r.lower));
        printf(", \"upper\": ");
        mist_json_put_number(stdout, cli_mi(r.upper));
        printf(", \"ci\": ");
        mist_json_put_number(stdout, o.bootstrap ? o.ci : NAN);
        printf(", \"bootstrap\": %d, \"n\": %zu, \"dx\": %d, \"dy\": %d, \"copula\": %s, "
               "\"unbiased\": %s, \"unit\": \"%s\", \"true_mi\": ",
               o.bootstrap, ds->n, ds->dx, ds->dy, o.copula ? "true" : "false",
               o.unbiased ? "true" : "false", cli_unit());
        mist_json_put_number(stdout, cli_mi(truth));
        printf("}\n");
    } else {
        printf("%s%s%s: %.6f %s", method, o.copula ? " (copula)" : "",
               o.unbiased ? " (unbiased)" : "", cli_mi(r.estimate),
               cli_unit());
        if (o.bootstrap)
            printf("  [%.6f, %.6f] %g%% bootstrap interval, B = %d", cli_mi(r.lower),
                   cli_mi(r.upper), 100 * o.ci, o.bootstrap);
        printf("  (n = %zu, dx = %d, dy = %d)\n", ds->n, ds->dx, ds->dy);
        if (isfinite(truth))
            printf("true MI (from the file's metadata): %.6f %s\n", cli_mi(truth), cli_unit());
    }
    mist_dataset_free(ds);
    return 0;
}
