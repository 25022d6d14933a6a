/* The benchmark harness: metric functions against hand-computed values, estimator specs, a
 * smoke-suite run end to end with the summary recomputed here from results.csv, failures as
 * rows, resume after a crash mid-line, shard + merge, manifest folders, and the learned model's
 * quantiles (a small random model). */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_internal.h"
#include "mist_bench.h"
#include "mist_classical.h"
#include "mist_gen.h"
#include "mist_guard.h"
#include "mist_infer.h"
#include "mist_io.h"
#include "mist_rng.h"
#include "testutil.h"

#define EPS 1e-12

static char *tmpdir(const char *tag)
{
    const char *d = tu_tmpdir(tag);
    ck_assert_ptr_nonnull(d);
    char *copy = malloc(strlen(d) + 1);
    strcpy(copy, d);
    return copy;
}

static int exists(const char *dir, const char *name)
{
    char p[2400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* ---- metrics ------------------------------------------------------------------------------ */

START_TEST(test_metrics_hand)
{
    /* e = 0.5, -1, 0.1, 0: MSE 0.315, bias -0.1, variance 0.305, MAE 0.4,
     * rel. error (0.5/1 + 1/2 + 0.1/max(0.05, 0.1) + 0/3) / 4 = 0.5;
     * e^2 = .25, 1, .01, 0: sample sd sqrt(0.6657 / 3), SE = sd / 2 */
    double q1[MIST_BENCH_NTAU], q2[MIST_BENCH_NTAU];
    for (int j = 0; j < MIST_BENCH_NTAU; j++) {
        q1[j] = 2 * mist_bench_tau(j);  /* MI 1 <= q from tau 0.5 on (j >= 9) */
        q2[j] = 10 * mist_bench_tau(j); /* MI 2.05 <= q from tau 0.25 on (j >= 4) */
    }
    mist_bench_point p[4] = {
        {1.0, 1.5, 1.2, 1.8, 10, q1, 0.25},     /* interval misses the truth */
        {2.05, 1.05, 0.5, 2.5, 40, q2, 1.0},    /* holds it */
        {0.05, 0.15, NAN, NAN, 20, NULL, 0.01}, /* no interval */
        {3.0, 3.0, 3.0, 3.5, 30, NULL, 0.0},    /* truth on the boundary: covered */
    };
    mist_bench_metrics m;
    mist_err err;
    ck_assert_int_eq(mist_bench_metrics_compute(p, 4, 3, &m, &err), MIST_OK);
    ck_assert_uint_eq(m.n_ok, 4);
    ck_assert_uint_eq(m.n_failed, 3);
    ck_assert_double_eq_tol(m.mse, 0.315, EPS);
    ck_assert_double_eq_tol(m.bias, -0.1, EPS);
    ck_assert_double_eq_tol(m.variance, 0.305, EPS);
    ck_assert_double_eq_tol(m.mse, m.bias * m.bias + m.variance, EPS);
    ck_assert_double_eq_tol(m.mae, 0.4, EPS);
    ck_assert_double_eq_tol(m.mre, (0.5 + 1.0 / 2.05 + 1.0 + 0.0) / 4, EPS);
    ck_assert_double_eq_tol(m.mse_sd, sqrt(0.6657 / 3), 1e-12);
    ck_assert_double_eq_tol(m.mse_se, sqrt(0.6657 / 3) / 2, 1e-12);
    ck_assert_uint_eq(m.n_interval, 3);
    ck_assert_double_eq_tol(m.coverage, 2.0 / 3.0, EPS);
    ck_assert_double_eq_tol(m.width, (0.6 + 2.0 + 0.5) / 3, EPS);
    ck_assert_uint_eq(m.n_calib, 2);
    for (int j = 0; j < MIST_BENCH_NTAU; j++)
        ck_assert_double_eq_tol(m.calib[j], ((j >= 9) + (j >= 4)) / 2.0, EPS);
    /* times 10, 40, 20, 30: median 25, p90 at position 2.7 -> 30 + 0.7 * 10 */
    ck_assert_double_eq_tol(m.time_median_us, 25, EPS);
    ck_assert_double_eq_tol(m.time_p90_us, 37, 1e-9);

    /* one point: no sd; no points: NaN everywhere, counts kept */
    ck_assert_int_eq(mist_bench_metrics_compute(p, 1, 0, &m, &err), MIST_OK);
    ck_assert_double_eq_tol(m.mse, 0.25, EPS);
    ck_assert(isnan(m.mse_sd) && isnan(m.mse_se));
    ck_assert_double_eq_tol(m.variance, 0, EPS);
    ck_assert_double_eq_tol(m.coverage, 0, EPS);
    ck_assert_int_eq(mist_bench_metrics_compute(p, 0, 5, &m, &err), MIST_OK);
    ck_assert_uint_eq(m.n_ok, 0);
    ck_assert_uint_eq(m.n_failed, 5);
    ck_assert(isnan(m.mse) && isnan(m.bias) && isnan(m.coverage) && isnan(m.time_median_us));
    ck_assert_uint_eq(m.n_interval, 0);
    ck_assert_uint_eq(m.n_calib, 0);
}
END_TEST

START_TEST(test_percentile)
{
    double a[3] = {3, 1, 2};
    ck_assert_double_eq(mist_bench_percentile(a, 3, 0.5), 2);
    ck_assert_double_eq(mist_bench_percentile(a, 3, 0), 1);
    ck_assert_double_eq(mist_bench_percentile(a, 3, 1), 3);
    double b[4] = {4, 1, 3, 2};
    ck_assert_double_eq_tol(mist_bench_percentile(b, 4, 0.9), 3.7, 1e-12);
    ck_assert_double_eq_tol(mist_bench_percentile(b, 4, 0.5), 2.5, 1e-12);
    ck_assert_double_eq_tol(mist_bench_percentile(b, 4, 0.25), 1.75, 1e-12);
    double c[1] = {7};
    ck_assert_double_eq(mist_bench_percentile(c, 1, 0.9), 7);
    ck_assert(isnan(mist_bench_percentile(c, 0, 0.5)));
    for (int j = 0; j < MIST_BENCH_NTAU; j++)
        ck_assert_double_eq(mist_bench_tau(j), (j + 1) / 20.0);
    ck_assert_double_eq(mist_bench_tau(0), 0.05);
    ck_assert_double_eq(mist_bench_tau(9), 0.5);
}
END_TEST

START_TEST(test_buckets)
{
    ck_assert_int_eq(mist_bench_bucket_scheme("mist-imd"), MIST_BENCH_BUCKETS_MIST);
    ck_assert_int_eq(mist_bench_bucket_scheme("mist-oomd"), MIST_BENCH_BUCKETS_MIST);
    ck_assert_int_eq(mist_bench_bucket_scheme("bmi40"), MIST_BENCH_BUCKETS_PER_N);
    ck_assert_int_eq(mist_bench_bucket_scheme("smoke"), MIST_BENCH_BUCKETS_PER_N);
    ck_assert_int_eq(mist_bench_bucket_scheme("my-folder"), MIST_BENCH_BUCKETS_PER_N);
    struct {
        size_t n;
        const char *label;
    } cases[] = {{10, "[10,100)"},   {87, "[10,100)"},   {99, "[10,100)"},   {100, "[100,300)"},
                 {293, "[100,300)"}, {299, "[100,300)"}, {300, "[300,500]"}, {319, "[300,500]"},
                 {500, "[300,500]"}, {501, "other"},     {9, "other"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mist_bench_bucket b;
        mist_bench_bucket_of(MIST_BENCH_BUCKETS_MIST, cases[i].n, &b);
        ck_assert_msg(!strcmp(b.label, cases[i].label), "n = %zu: %s", cases[i].n, b.label);
        if (strcmp(b.label, "other")) ck_assert(b.lo <= cases[i].n && cases[i].n < b.hi);
    }
    mist_bench_bucket b;
    mist_bench_bucket_of(MIST_BENCH_BUCKETS_PER_N, 1000, &b);
    ck_assert_str_eq(b.label, "n=1000");
    ck_assert_uint_eq(b.lo, 1000);
    ck_assert_uint_eq(b.hi, 1001);
}
END_TEST

/* ---- estimator specs ------------------------------------------------------------------------- */

START_TEST(test_specs)
{
    mist_bench_est e[16];
    size_t n;
    mist_err err;
    ck_assert_int_eq(mist_bench_parse_estimators(
                         "ksg1:k=5,ksg2,gaussian,gaussian:copula,histogram:mm:bins=8,"
                         "kde:bandwidth=0.5,ksg1:k=3:copula:noise=0,mist:weights/x.msgpack,"
                         "mist:weights=y.msgpack:raw,mist:z.msgpack:guard",
                         e, 16, &n, &err),
                     MIST_OK);
    const char *want[] = {"ksg1:k=5",
                          "ksg2:k=5",
                          "gaussian",
                          "gaussian:copula",
                          "histogram:bins=8:mm",
                          "kde:bandwidth=0.5",
                          "ksg1:k=3:noise=0:copula",
                          "mist:weights/x.msgpack",
                          "mist:y.msgpack:raw",
                          "mist:z.msgpack:guard"};
    ck_assert_uint_eq(n, 10);
    for (size_t i = 0; i < n; i++) ck_assert_str_eq(e[i].label, want[i]);
    ck_assert_int_eq(e[0].k, 5);
    ck_assert_int_eq(e[4].bins, 8);
    ck_assert_int_eq(e[4].miller_madow, 1);
    ck_assert_int_eq(e[6].k, 3);
    ck_assert_int_eq(e[6].copula, 1);
    ck_assert_str_eq(e[7].weights, "weights/x.msgpack");
    ck_assert_str_eq(e[8].weights, "y.msgpack");
    ck_assert_int_eq(e[9].guard, 1);
    ck_assert_int_eq(e[8].guard, 0);
    ck_assert_int_eq(e[8].raw_quantiles, 1);

    struct {
        const char *list, *msg;
    } bad[] = {{"nope", "unknown estimator 'nope'"},
               {"ksg1:k=0", "bad value for 'k'"},
               {"ksg1:k", "bad value for 'k' (missing value)"},
               {"ksg1:k=5x", "bad value for 'k'"},
               {"gaussian:k=5", "does not apply to gaussian"},
               {"histogram:bandwidth=1", "does not apply"},
               {"ksg1:frobnicate", "unknown option 'frobnicate'"},
               {"ksg1,ksg1:k=5", "are the same"},
               {"mist:a.msgpack:b.msgpack", "unknown mist option"},
               {"ksg1:", "empty option"},
               {"ksg1,,gaussian", "empty estimator spec"},
               {"", "empty estimator list"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = mist_bench_parse_estimators(bad[i].list, e, 16, &n, &err);
        ck_assert_msg(rc == MIST_EINVAL, "'%s' accepted", bad[i].list);
        ck_assert_msg(strstr(err.msg, bad[i].msg) != NULL, "'%s': message '%s' lacks '%s'",
                      bad[i].list, err.msg, bad[i].msg);
    }

    /* The shipped models by short name, found wherever they are (here: the source tree), and
     * labels that keep the name as given, an absolute path by its file name. */
    unsetenv("MIST_WEIGHTS");
    char qr[4096], pt[4096];
    ck_assert_int_eq(mist_default_model_path("mist-qr.msgpack", qr, sizeof qr, &err), MIST_OK);
    ck_assert_int_eq(mist_default_model_path("mist-point.msgpack", pt, sizeof pt, &err), MIST_OK);
    ck_assert_int_eq(mist_bench_parse_estimators("mist,mist:point,mist:/abs/dir/m.msgpack:raw", e,
                                                 16, &n, &err),
                     MIST_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(e[0].label, "mist");
    ck_assert_str_eq(e[0].weights, qr); /* the default model */
    ck_assert_str_eq(e[1].label, "mist:point");
    ck_assert_str_eq(e[1].weights, pt);
    ck_assert_str_eq(e[2].label, "mist:m.msgpack:raw");
    ck_assert_str_eq(e[2].weights, "/abs/dir/m.msgpack");
    ck_assert_int_eq(mist_bench_parse_estimators("mist:qr,mist:mist-qr.msgpack", e, 16, &n, &err),
                     MIST_OK);
    ck_assert_str_eq(e[0].label, "mist:qr");
    ck_assert_str_eq(e[0].weights, qr);
    ck_assert_str_eq(e[1].weights, qr);
}
END_TEST

/* ---- results files, read back here without the library's parser ------------------------------ */

/* results.csv columns */
enum { F_SUITE, F_INDEX, F_ID, F_TASK, F_DX, F_DY, F_N, F_SEED, F_MI, F_TRANSFORM, F_EST,
       F_ESTIMATE, F_LOWER, F_UPPER, F_SQ, F_SCORED, F_QUANT, F_QVAL, F_TIME, F_STATUS, NF };

typedef struct trow {
    char line[4096];  /* the row without its time column */
    char f[NF][1024]; /* the fields */
} trow;

/* Rows of a results file (header checked), in file order. */
static trow *read_rows(const char *path, size_t *count)
{
    size_t len;
    unsigned char *buf = tu_slurp(path, &len);
    ck_assert_msg(buf != NULL, "cannot read %s", path);
    char *s = realloc(buf, len + 1);
    s[len] = '\0';
    trow *rows = NULL;
    size_t n = 0;
    char *save = NULL;
    int first = 1;
    for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (first) {
            ck_assert_str_eq(line, "suite,index,id,task,dx,dy,n,seed,mi,transform,estimator,"
                                   "estimate,lower,upper,sq_err,scored,quantiles,quantile_values,"
                                   "time_us,status");
            first = 0;
            continue;
        }
        rows = realloc(rows, (n + 1) * sizeof *rows);
        trow *r = &rows[n++];
        memset(r, 0, sizeof *r);
        int k = 0;
        const char *p = line;
        for (; k < NF; k++) {
            const char *c = k < NF - 1 ? strchr(p, ',') : p + strlen(p);
            ck_assert_msg(c != NULL, "%s: short row '%s'", path, line);
            memcpy(r->f[k], p, (size_t)(c - p));
            if (k != F_TIME) {
                strcat(r->line, r->f[k]);
                strcat(r->line, "|");
            }
            p = c + 1;
        }
    }
    free(s);
    *count = n;
    return rows;
}

static int cmp_trow(const void *a, const void *b)
{
    return strcmp(((const trow *)a)->line, ((const trow *)b)->line);
}

/* The two files hold the same rows (all columns but the time), in any order. */
static void assert_same_rows(const char *p1, const char *p2)
{
    size_t n1, n2;
    trow *a = read_rows(p1, &n1), *b = read_rows(p2, &n2);
    ck_assert_msg(n1 == n2, "%s has %zu rows, %s %zu", p1, n1, p2, n2);
    qsort(a, n1, sizeof *a, cmp_trow);
    qsort(b, n2, sizeof *b, cmp_trow);
    for (size_t i = 0; i < n1; i++)
        ck_assert_msg(!strcmp(a[i].line, b[i].line), "row differs:\n%s\n%s", a[i].line, b[i].line);
    free(a);
    free(b);
}

static void assert_same_file_order(const char *p1, const char *p2)
{
    size_t n1, n2;
    trow *a = read_rows(p1, &n1), *b = read_rows(p2, &n2);
    ck_assert_uint_eq(n1, n2);
    for (size_t i = 0; i < n1; i++) ck_assert_str_eq(a[i].line, b[i].line);
    free(a);
    free(b);
}

static mist_bench_report run_bench(const char *dir, const char *suite, size_t n, const char *list,
                                   int bootstrap, int threads, int shard_i, int shard_n, int plots)
{
    static mist_bench_est est[16];
    size_t nest;
    mist_err err;
    ck_assert_int_eq(mist_bench_parse_estimators(list, est, 16, &nest, &err), MIST_OK);
    mist_bench_opts o;
    mist_bench_opts_default(&o);
    o.suite = suite;
    o.n = n;
    o.est = est;
    o.nest = nest;
    o.out_dir = dir;
    o.threads = threads;
    o.shard_i = shard_i;
    o.shard_n = shard_n;
    o.bootstrap = bootstrap;
    o.plots = plots;
    mist_bench_report rep;
    int rc = mist_bench_run(&o, &rep, &err);
    ck_assert_msg(rc == MIST_OK, "bench %s: %s", suite, err.msg);
    return rep;
}

#define CLASSICAL "ksg1:k=5,gaussian,histogram"

/* A run with transforms, a score mode and suite seeds. */
static mist_bench_report run_bench_ex(const char *dir, const char *suite, const char *list,
                                      const char *const *tr, size_t ntr, int score_bootstrap,
                                      uint64_t seed_lo, uint64_t seed_hi, mist_err *err, int *rc)
{
    static mist_bench_est est[16];
    size_t nest;
    ck_assert_int_eq(mist_bench_parse_estimators(list, est, 16, &nest, err), MIST_OK);
    mist_bench_opts o;
    mist_bench_opts_default(&o);
    o.suite = suite;
    o.est = est;
    o.nest = nest;
    o.out_dir = dir;
    o.threads = 2;
    o.plots = 0;
    o.transforms = tr;
    o.ntransforms = ntr;
    o.score_bootstrap = score_bootstrap;
    o.seed_lo = seed_lo;
    o.seed_hi = seed_hi;
    mist_bench_report rep;
    *rc = mist_bench_run(&o, &rep, err);
    return rep;
}

/* ---- summary.json, read with the library's JSON parser ------------------------------------- */

static const mist_json *jget(const mist_json *o, const char *key)
{
    ck_assert_int_eq(o->type, MIST_JSON_OBJ);
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key)) return &o->items[i];
    ck_abort_msg("no member '%s'", key);
    return NULL;
}

static double jnum(const mist_json *o, const char *key)
{
    double v;
    ck_assert_int_eq(mist_json_double(jget(o, key), 1, &v), 0);
    return v;
}

static char *jtext;
static mist_json jroot;

static const mist_json *load_summary(const char *dir)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/summary.json", dir);
    size_t len;
    jtext = (char *)tu_slurp(p, &len);
    ck_assert_ptr_nonnull(jtext);
    mist_err err;
    ck_assert_int_eq(mist_json_parse(p, jtext, len, &jroot, &err), MIST_OK);
    return &jroot;
}

static void free_summary(void)
{
    mist_json_free(&jroot);
    free(jtext);
}

START_TEST(test_smoke_end_to_end)
{
    char *d = tmpdir("bench-smoke");
    mist_bench_report rep = run_bench(d, "smoke", 0, CLASSICAL, 30, 2, 0, 1, 1);
    ck_assert_str_eq(rep.suite, "smoke");
    ck_assert_uint_eq(rep.datasets, 6);
    ck_assert_uint_eq(rep.new_rows, 18);
    ck_assert_uint_eq(rep.total_rows, 18);
    ck_assert_int_eq(rep.summary_written, 1);
    ck_assert(exists(d, "results.csv") && exists(d, "summary.md") && exists(d, "summary.json") &&
              exists(d, "run.json") && exists(d, "plots/plots.gp") &&
              exists(d, "plots/mse_smoke.csv") && exists(d, "plots/scatter_smoke.csv"));
    if (rep.plots == MIST_BENCH_PLOTS_OK)
        ck_assert(exists(d, "plots/mse_vs_n.png") && exists(d, "plots/scatter_smoke.png") &&
                  exists(d, "plots/time_vs_n.png"));
    else ck_assert_int_eq(rep.plots, MIST_BENCH_PLOTS_NO_GNUPLOT);

    /* recompute the summary from results.csv */
    char p[1024];
    snprintf(p, sizeof p, "%s/results.csv", d);
    size_t n;
    trow *rows = read_rows(p, &n);
    ck_assert_uint_eq(n, 6 * 3);
    const char *labels[3] = {"ksg1:k=5", "gaussian", "histogram"};
    /* the canonical order: dataset index, then estimator order */
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(rows[i].f[F_SUITE], "smoke");
        ck_assert_uint_eq(strtoul(rows[i].f[F_INDEX], NULL, 10), i / 3);
        ck_assert_str_eq(rows[i].f[F_EST], labels[i % 3]);
        ck_assert_str_eq(rows[i].f[F_STATUS], "ok");
        ck_assert_str_eq(rows[i].f[F_N], "200");
    }
    const mist_json *root = load_summary(d);
    const mist_json *suites = jget(root, "suites");
    ck_assert_uint_eq(suites->n, 1);
    const mist_json *ests = jget(&suites->items[0], "estimators");
    ck_assert_uint_eq(ests->n, 3);
    ck_assert_double_eq(jnum(&suites->items[0], "datasets"), 6);
    ck_assert_double_eq(jnum(&suites->items[0], "bootstrap"), 30);
    for (int e = 0; e < 3; e++) {
        double se = 0, s2 = 0, sa = 0, cov = 0, wid = 0;
        double sq[6];
        int m = 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(rows[i].f[F_EST], labels[e])) continue;
            double mi = strtod(rows[i].f[F_MI], NULL), est = strtod(rows[i].f[F_ESTIMATE], NULL);
            double lo = strtod(rows[i].f[F_LOWER], NULL), hi = strtod(rows[i].f[F_UPPER], NULL);
            double err = est - mi;
            se += err;
            s2 += err * err;
            sa += fabs(err);
            sq[m] = err * err;
            cov += lo <= mi && mi <= hi;
            wid += hi - lo;
            m++;
        }
        ck_assert_int_eq(m, 6);
        double mse = s2 / m, ssd = 0;
        for (int i = 0; i < m; i++) ssd += (sq[i] - mse) * (sq[i] - mse);
        const mist_json *es = &ests->items[e];
        ck_assert_str_eq(jget(es, "label")->str, labels[e]);
        const mist_json *all = jget(es, "overall");
        ck_assert_double_eq(jnum(all, "n_ok"), 6);
        ck_assert_double_eq(jnum(all, "n_failed"), 0);
        ck_assert_double_eq_tol(jnum(all, "mse"), mse, 1e-12);
        ck_assert_double_eq_tol(jnum(all, "bias"), se / m, 1e-12);
        ck_assert_double_eq_tol(jnum(all, "variance"), mse - (se / m) * (se / m), 1e-12);
        ck_assert_double_eq_tol(jnum(all, "mae"), sa / m, 1e-12);
        ck_assert_double_eq_tol(jnum(all, "mse_se"), sqrt(ssd / (m - 1)) / sqrt(m), 1e-12);
        ck_assert_double_eq(jnum(all, "n_interval"), 6);
        ck_assert_double_eq_tol(jnum(all, "coverage"), cov / m, 1e-12);
        ck_assert_double_eq_tol(jnum(all, "width"), wid / m, 1e-12);
        /* smoke: one bucket per n, and all its datasets have n = 200 */
        const mist_json *b = jget(es, "buckets");
        ck_assert_uint_eq(b->n, 1);
        ck_assert_str_eq(jget(&b->items[0], "bucket")->str, "n=200");
        ck_assert_double_eq_tol(jnum(&b->items[0], "mse"), mse, 1e-12);
    }
    free_summary();
    free(rows);

    /* a second run with the same settings finds everything done and changes no row */
    char copy[1100];
    snprintf(copy, sizeof copy, "%s/results.before", d);
    rename(p, copy);
    size_t len;
    unsigned char *bytes = tu_slurp(copy, &len);
    tu_write(p, bytes, len);
    free(bytes);
    rep = run_bench(d, "smoke", 0, CLASSICAL, 30, 1, 0, 1, 0);
    ck_assert_uint_eq(rep.new_rows, 0);
    ck_assert_uint_eq(rep.skipped_datasets, 6);
    assert_same_file_order(p, copy);
    free(d);
}
END_TEST

START_TEST(test_failures_are_rows)
{
    /* n = 5: ksg1 with k = 5 needs n > 5 (fails everywhere), gaussian fails where dx+dy >= 5 */
    char *d = tmpdir("bench-fail");
    mist_bench_report rep = run_bench(d, "smoke", 5, "ksg1:k=5,gaussian,histogram", 0, 2, 0, 1, 0);
    ck_assert_uint_eq(rep.total_rows, 18);
    char p[1024];
    snprintf(p, sizeof p, "%s/results.csv", d);
    size_t n;
    trow *rows = read_rows(p, &n);
    ck_assert_uint_eq(n, 18);
    size_t failed = 0, ksg_failed = 0, gauss_failed = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = !strcmp(rows[i].f[F_STATUS], "ok");
        failed += !ok;
        if (!ok) {
            ck_assert_str_eq(rows[i].f[F_ESTIMATE], ""); /* no estimate */
            ck_assert(strchr(rows[i].f[F_STATUS], ',') == NULL);
        }
        if (!strcmp(rows[i].f[F_EST], "ksg1:k=5")) {
            ck_assert(!ok);
            ck_assert_msg(strstr(rows[i].f[F_STATUS], "n > k") != NULL, "%s", rows[i].f[F_STATUS]);
            ksg_failed++;
        }
        if (!strcmp(rows[i].f[F_EST], "gaussian") && !ok) {
            int dims = atoi(rows[i].f[F_DX]) + atoi(rows[i].f[F_DY]);
            ck_assert_int_ge(dims, 5);
            gauss_failed++;
        }
    }
    ck_assert_uint_eq(ksg_failed, 6);
    ck_assert_uint_eq(gauss_failed, 2); /* 3x2 and 3x3 */
    ck_assert_uint_eq(rep.failed_rows, failed);
    const mist_json *root = load_summary(d);
    const mist_json *ests = jget(&jget(root, "suites")->items[0], "estimators");
    const mist_json *ksg = jget(&ests->items[0], "overall");
    ck_assert_double_eq(jnum(ksg, "n_ok"), 0);
    ck_assert_double_eq(jnum(ksg, "n_failed"), 6);
    ck_assert(isnan(jnum(ksg, "mse")));
    const mist_json *g = jget(&ests->items[1], "overall");
    ck_assert_double_eq(jnum(g, "n_ok"), 4);
    ck_assert_double_eq(jnum(g, "n_failed"), 2);
    free_summary();
    free(rows);
    free(d);
}
END_TEST

/* Keeps the header, rows [0, keep) except those in drop, and half of row keep (a crash). */
static void damage(const char *path, size_t keep, const size_t *drop, size_t ndrop)
{
    size_t len;
    char *s = (char *)tu_slurp(path, &len);
    ck_assert_ptr_nonnull(s);
    char *out = malloc(len + 1);
    size_t o = 0, row = 0;
    char *p = s, *end = s + len;
    char *nl = memchr(p, '\n', len);
    memcpy(out, p, (size_t)(nl + 1 - p)); /* header */
    o = (size_t)(nl + 1 - p);
    p = nl + 1;
    for (; p < end; row++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = (size_t)(nl + 1 - p);
        int dropped = 0;
        for (size_t k = 0; k < ndrop; k++) dropped |= drop[k] == row;
        if (row < keep && !dropped) {
            memcpy(out + o, p, l);
            o += l;
        } else if (row == keep) {
            memcpy(out + o, p, l / 2);
            o += l / 2;
            break;
        }
        p = nl + 1;
    }
    tu_write(path, out, o);
    free(out);
    free(s);
}

START_TEST(test_resume)
{
    char *a = tmpdir("bench-resume-a");
    run_bench(a, "smoke", 0, CLASSICAL, 20, 1, 0, 1, 0);
    char *b = tmpdir("bench-resume-b");
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/results.csv", a);
    snprintf(pb, sizeof pb, "%s/results.csv", b);
    size_t len;
    unsigned char *bytes = tu_slurp(pa, &len);
    tu_write(pb, bytes, len);
    free(bytes);
    size_t drop[2] = {2, 5};
    damage(pb, 10, drop, 2); /* 8 complete rows, then half a line */
    mist_bench_report rep = run_bench(b, "smoke", 0, CLASSICAL, 20, 2, 0, 1, 0);
    ck_assert_int_eq(rep.dropped_partial, 1);
    ck_assert_uint_eq(rep.new_rows, 18 - 8);
    ck_assert_uint_eq(rep.skipped_datasets, 1); /* only dataset 2 kept all its rows */
    assert_same_rows(pa, pb);
    assert_same_file_order(pa, pb); /* sorted the same way too */

    /* only a partial header: starts over */
    tu_write(pb, "suite,ind", 9);
    rep = run_bench(b, "smoke", 0, CLASSICAL, 20, 2, 0, 1, 0);
    ck_assert_uint_eq(rep.new_rows, 18);
    assert_same_rows(pa, pb);

    /* other settings into the same folder: refused, nothing touched */
    static mist_bench_est est[4];
    size_t nest;
    mist_err err;
    ck_assert_int_eq(mist_bench_parse_estimators(CLASSICAL, est, 4, &nest, &err), MIST_OK);
    mist_bench_opts o;
    mist_bench_opts_default(&o);
    o.suite = "smoke";
    o.est = est;
    o.nest = nest;
    o.out_dir = b;
    o.bootstrap = 50;
    ck_assert_int_eq(mist_bench_run(&o, NULL, &err), MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "other settings") && strstr(err.msg, "--bootstrap"), "%s",
                  err.msg);
    assert_same_rows(pa, pb);
    /* a file that is not ours */
    tu_write(pb, "a,b\n1,2\n", 8);
    o.bootstrap = 20;
    ck_assert_int_eq(mist_bench_run(&o, NULL, &err), MIST_EFORMAT);
    ck_assert_msg(strstr(err.msg, "not a mist bench results file"), "%s", err.msg);
    /* a malformed complete row */
    bytes = tu_slurp(pa, &len);
    char *txt = malloc(len + 32);
    memcpy(txt, bytes, len);
    memcpy(txt + len, "smoke,zz,bad\n", 13);
    tu_write(pb, txt, len + 13);
    ck_assert_int_eq(mist_bench_run(&o, NULL, &err), MIST_EFORMAT);
    ck_assert_msg(strstr(err.msg, "line 20"), "%s", err.msg);
    free(txt);
    free(bytes);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_shard_merge)
{
    char *a = tmpdir("bench-one");
    run_bench(a, "smoke", 0, CLASSICAL, 20, 2, 0, 1, 0);
    /* shard 0/2 into its own folder, 1/2 into another: datasets 0,2,4 and 1,3,5 */
    char *s0 = tmpdir("bench-s0");
    mist_bench_report r0 = run_bench(s0, "smoke", 0, CLASSICAL, 20, 1, 0, 2, 0);
    char *s1 = tmpdir("bench-s1");
    mist_bench_report r1 = run_bench(s1, "smoke", 0, CLASSICAL, 20, 2, 1, 2, 0);
    ck_assert_uint_eq(r0.datasets, 3);
    ck_assert_uint_eq(r1.datasets, 3);
    ck_assert_int_eq(r0.summary_written, 0);
    ck_assert(exists(s0, "results-shard-0-of-2.csv") && !exists(s0, "results.csv"));
    ck_assert(exists(s1, "results-shard-1-of-2.csv") && !exists(s1, "summary.md"));
    char *m = tmpdir("bench-merged");
    const char *dirs[2] = {s1, s0}; /* order of the folders does not matter */
    mist_bench_report rm;
    mist_err err;
    ck_assert_int_eq(mist_bench_merge(dirs, 2, m, 0, &rm, &err), MIST_OK);
    ck_assert_uint_eq(rm.total_rows, 18);
    ck_assert_uint_eq(rm.datasets, 6);
    char pa[1024], pm[1024];
    snprintf(pa, sizeof pa, "%s/results.csv", a);
    snprintf(pm, sizeof pm, "%s/results.csv", m);
    assert_same_file_order(pa, pm);
    /* the summaries agree (timings aside) */
    const mist_json *ra = load_summary(a);
    const mist_json *ea = jget(&jget(ra, "suites")->items[0], "estimators");
    double mse_a[3], cov_a[3];
    for (int e = 0; e < 3; e++) {
        mse_a[e] = jnum(jget(&ea->items[e], "overall"), "mse");
        cov_a[e] = jnum(jget(&ea->items[e], "overall"), "coverage");
    }
    free_summary();
    const mist_json *rmj = load_summary(m);
    const mist_json *em = jget(&jget(rmj, "suites")->items[0], "estimators");
    for (int e = 0; e < 3; e++) {
        ck_assert_double_eq(jnum(jget(&em->items[e], "overall"), "mse"), mse_a[e]);
        ck_assert_double_eq(jnum(jget(&em->items[e], "overall"), "coverage"), cov_a[e]);
    }
    free_summary();
    /* merging again (into the first folder, which then also holds results.csv) is idempotent */
    ck_assert_int_eq(mist_bench_merge(dirs, 2, NULL, 0, &rm, &err), MIST_OK);
    char p1[1024];
    snprintf(p1, sizeof p1, "%s/results.csv", s1);
    assert_same_file_order(pa, p1);
    ck_assert_int_eq(mist_bench_merge(dirs, 2, NULL, 0, &rm, &err), MIST_OK);
    assert_same_file_order(pa, p1);

    /* both shards in one folder */
    char *one = tmpdir("bench-shared");
    run_bench(one, "smoke", 0, CLASSICAL, 20, 1, 1, 2, 0);
    run_bench(one, "smoke", 0, CLASSICAL, 20, 1, 0, 2, 0);
    const char *d1[1] = {one};
    ck_assert_int_eq(mist_bench_merge(d1, 1, NULL, 0, &rm, &err), MIST_OK);
    snprintf(p1, sizeof p1, "%s/results.csv", one);
    assert_same_file_order(pa, p1);

    /* shards run with other settings do not merge */
    char *x = tmpdir("bench-other");
    run_bench(x, "smoke", 0, CLASSICAL, 10, 1, 0, 2, 0);
    const char *d2[2] = {s0, x};
    ck_assert_int_eq(mist_bench_merge(d2, 2, m, 0, &rm, &err), MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "other settings"), "%s", err.msg);
    free(a);
    free(s0);
    free(s1);
    free(m);
    free(one);
    free(x);
}
END_TEST

/* A folder like `mist gen --suite smoke` writes: the same rows as the built-in suite. */
START_TEST(test_manifest_folder)
{
    char *g = tmpdir("bench-gen");
    mist_suite_opts so = {.suite_seed = 0, .n = 0};
    mist_task_spec *specs;
    size_t count;
    mist_err err;
    ck_assert_int_eq(mist_suite_specs("smoke", &so, &specs, &count, &err), MIST_OK);
    mist_manifest_row *rows = calloc(count, sizeof *rows);
    for (size_t i = 0; i < count; i++) {
        mist_dataset *ds;
        ck_assert_int_eq(mist_gen_dataset(&ds, &specs[i], &err), MIST_OK);
        mist_manifest_row *r = &rows[i];
        snprintf(r->id, sizeof r->id, "%s", specs[i].id);
        snprintf(r->task, sizeof r->task, "%s", ds->meta.task);
        r->dx = ds->dx;
        r->dy = ds->dy;
        r->n = ds->n;
        r->seed = specs[i].seed;
        r->mi = ds->meta.mi;
        snprintf(r->file, sizeof r->file, "%s.npy", specs[i].id);
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", g, r->file);
        ck_assert_int_eq(mist_dataset_write(ds, p, MIST_FMT_NPY, MIST_DTYPE_F64, &err), MIST_OK);
        mist_dataset_free(ds);
    }
    char mp[1024];
    snprintf(mp, sizeof mp, "%s/manifest.csv", g);
    ck_assert_int_eq(mist_manifest_write(mp, rows, count, &err), MIST_OK);
    free(rows);
    mist_task_specs_free(specs, count);

    char *a = tmpdir("bench-builtin");
    run_bench(a, "smoke", 0, CLASSICAL, 20, 2, 0, 1, 0);
    char *b = tmpdir("bench-fromdir");
    mist_bench_report rep = run_bench(b, g, 0, CLASSICAL, 20, 2, 0, 1, 0);
    ck_assert_str_eq(rep.suite, "smoke"); /* named after its ids' suite */
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/results.csv", a);
    snprintf(pb, sizeof pb, "%s/results.csv", b);
    assert_same_file_order(pa, pb);

    /* a built-in name is the built-in suite even beside a folder of that name; ./NAME is the
     * folder, and --n does not apply to it. The folder goes into a fresh scratch folder made
     * the current one for this part (never ./smoke of the folder the test runs in). */
    char g_abs[PATH_MAX + 1100], wd[PATH_MAX], *here = tmpdir("bench-cwd");
    ck_assert_ptr_nonnull(getcwd(wd, sizeof wd));
    snprintf(g_abs, sizeof g_abs, "%s/%s", wd, g);
    int cwd = open(".", O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(cwd, 0);
    ck_assert_int_eq(chdir(here), 0);
    ck_assert_int_eq(symlink(g_abs, "smoke"), 0);
    char *c = malloc(sizeof "out");
    strcpy(c, "out");
    rep = run_bench(c, "smoke", 50, "gaussian", 0, 1, 0, 1, 0);
    ck_assert_uint_eq(rep.datasets, 6);
    static mist_bench_est est1[1];
    size_t n1;
    ck_assert_int_eq(mist_bench_parse_estimators("gaussian", est1, 1, &n1, &err), MIST_OK);
    mist_bench_opts o1;
    mist_bench_opts_default(&o1);
    o1.est = est1;
    o1.nest = 1;
    o1.out_dir = c;
    o1.suite = "./smoke";
    o1.n = 50;
    ck_assert_int_eq(mist_bench_run(&o1, NULL, &err), MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "apply to built-in suites"), "%s", err.msg);
    ck_assert_int_eq(unlink("smoke"), 0);
    ck_assert_int_eq(fchdir(cwd), 0);
    close(cwd);
    free(here);
    free(c);

    /* unknown suite / missing folder */
    static mist_bench_est est[2];
    size_t nest;
    ck_assert_int_eq(mist_bench_parse_estimators("gaussian", est, 2, &nest, &err), MIST_OK);
    mist_bench_opts o;
    mist_bench_opts_default(&o);
    o.est = est;
    o.nest = nest;
    o.out_dir = b;
    o.suite = "no-such-suite";
    ck_assert_int_eq(mist_bench_run(&o, NULL, &err), MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "unknown suite 'no-such-suite'"), "%s", err.msg);
    o.suite = "no/such/folder";
    ck_assert_int_eq(mist_bench_run(&o, NULL, &err), MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "does not exist"), "%s", err.msg);
    o.suite = "mist-imd";
    o.n = 100;
    ck_assert_int_eq(mist_bench_run(&o, NULL, &err), MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "fixed n grid"), "%s", err.msg);
    free(g);
    free(a);
    free(b);
}
END_TEST

/* ---- the learned model --------------------------------------------------------------------- */

static void save_tiny_model(const char *path, int layout, int qc)
{
    mist_arch a;
    mist_arch_official(&a, qc);
    a.input_layout = layout;
    a.max_input_dim = 8;
    a.max_dx = a.max_dy = 4;
    a.D = 16;
    a.H = 4;
    a.ff = 24;
    a.n_inds = 5;
    a.n_seeds = 3;
    a.n_feature_sab = 1;
    a.n_isab = 1;
    a.n_dec = 1;
    a.n_rho = 2;
    a.rho_hidden = 8;
    mist_err err;
    mist_model *m = mist_model_create_random(&a, 7, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_int_eq(mist_model_save(m, path, &err), MIST_OK);
    mist_model_free(m);
}

/* Degenerate datasets in a folder suite: the mist estimator answers as `mist estimate` does
 * (mist_constant_sides, mist_model_check_rows): a constant X is 0 exactly, a constant column
 * of two and too few rows are failures with the command's messages; ksg1 still runs. */
START_TEST(test_mist_degenerate)
{
    char *d = tmpdir("bench-degen");
    char qr[1024];
    snprintf(qr, sizeof qr, "%s/qr.msgpack", d);
    save_tiny_model(qr, MIST_LAYOUT_SPLIT, 1);
    char *g = tmpdir("bench-degen-data");
    struct {
        const char *id;
        size_t n;
        int dx, const_cols; /* 1: x1, 2: every X column */
    } sets[3] = {{"degen-s0-0000", 60, 1, 2}, {"degen-s0-0001", 60, 2, 1},
                 {"degen-s0-0002", 8, 1, 0}};
    mist_manifest_row rows[3];
    memset(rows, 0, sizeof rows);
    mist_err err;
    uint64_t rng = 99;
    for (int k = 0; k < 3; k++) {
        mist_dataset *ds = mist_dataset_alloc(sets[k].n, sets[k].dx, 1, &err);
        ck_assert_ptr_nonnull(ds);
        int cols = sets[k].dx + 1;
        for (size_t i = 0; i < sets[k].n; i++)
            for (int j = 0; j < cols; j++) {
                int constant = j < sets[k].dx && (sets[k].const_cols == 2 ||
                                                  (sets[k].const_cols == 1 && j == 0));
                ds->data[i * (size_t)cols + (size_t)j] = constant ? 1.5 : tu_rnorm(&rng);
            }
        mist_manifest_row *r = &rows[k];
        snprintf(r->id, sizeof r->id, "%s", sets[k].id);
        snprintf(r->task, sizeof r->task, "normal-dense-base");
        r->dx = sets[k].dx;
        r->dy = 1;
        r->n = sets[k].n;
        r->seed = (uint64_t)k + 1;
        r->mi = 0.0;
        snprintf(r->file, sizeof r->file, "%s.npy", sets[k].id);
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", g, r->file);
        ck_assert_int_eq(mist_dataset_write(ds, p, MIST_FMT_NPY, MIST_DTYPE_F64, &err), MIST_OK);
        mist_dataset_free(ds);
    }
    char mp[1200], out[1200], list[1200], p[1300];
    snprintf(mp, sizeof mp, "%s/manifest.csv", g);
    ck_assert_int_eq(mist_manifest_write(mp, rows, 3, &err), MIST_OK);
    snprintf(out, sizeof out, "%s/run", d);
    snprintf(list, sizeof list, "mist:%s,ksg1", qr);
    run_bench(out, g, 0, list, 0, 1, 0, 1, 0);
    snprintf(p, sizeof p, "%s/results.csv", out);
    size_t n;
    trow *t = read_rows(p, &n);
    ck_assert_uint_eq(n, 6);
    for (size_t i = 0; i < n; i++) {
        trow *r = &t[i];
        int mist = !strncmp(r->f[F_EST], "mist:", 5);
        if (!mist) {
            ck_assert_msg(!strcmp(r->f[F_STATUS], "ok") || strstr(r->f[F_STATUS], "n > k"),
                          "%s", r->f[F_STATUS]);
            continue;
        }
        if (!strcmp(r->f[F_ID], "degen-s0-0000")) {
            ck_assert_str_eq(r->f[F_STATUS], "ok");
            ck_assert_double_eq(strtod(r->f[F_ESTIMATE], NULL), 0.0);
            ck_assert_double_eq(strtod(r->f[F_LOWER], NULL), 0.0);
            ck_assert_double_eq_tol(strtod(r->f[F_UPPER], NULL), mist_constant_side_upper(60, 0.9),
                                    1e-15);
        } else if (!strcmp(r->f[F_ID], "degen-s0-0001")) {
            ck_assert_msg(strstr(r->f[F_STATUS], "column x1 is constant"), "%s", r->f[F_STATUS]);
        } else {
            ck_assert_msg(strstr(r->f[F_STATUS], "n = 8 rows is below"), "%s", r->f[F_STATUS]);
        }
    }
    free(t);
    /* run.json holds the weights' fingerprint: the same file resumes (nothing to do), another
     * model written to the same file is refused rather than mixed with the old rows */
    mist_bench_report again = run_bench(out, g, 0, list, 0, 1, 0, 1, 0);
    ck_assert_uint_eq(again.skipped_datasets, 3);
    save_tiny_model(qr, MIST_LAYOUT_SPLIT, 0);
    int rc;
    run_bench_ex(out, g, list, NULL, 0, 0, 0, 0, &err, &rc);
    ck_assert_int_eq(rc, MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "from other weights"), "%s", err.msg);
    free(g);
    free(d);
}
END_TEST

/* Replaces the first `from` in FILE by `to` (at most 64 bytes more). */
static void edit_file(const char *path, const char *from, const char *to)
{
    size_t len;
    unsigned char *raw = tu_slurp(path, &len);
    ck_assert_ptr_nonnull(raw);
    char *s = malloc(len + 1); /* tu_slurp's bytes are not NUL-terminated */
    memcpy(s, raw, len);
    s[len] = '\0';
    free(raw);
    char *at = strstr(s, from);
    ck_assert_msg(at != NULL, "'%s' not in %s", from, path);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(s, 1, (size_t)(at - s), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
    free(s);
}

/* run.json records what made a label's rows beyond its name: the guard's rules for a guarded
 * mist: label, the version of a classical estimator whose answers changed; rows made by other
 * rules, another version, or before versions were recorded are refused, not resumed. */
START_TEST(test_versions_in_run_json)
{
    char *d = tmpdir("bench-ver");
    char qr[1024], out[1100], list[1200], rj[1200], fp[64];
    snprintf(qr, sizeof qr, "%s/qr.msgpack", d);
    save_tiny_model(qr, MIST_LAYOUT_SPLIT, 1);
    snprintf(out, sizeof out, "%s/run", d);
    snprintf(rj, sizeof rj, "%s/run.json", out);
    snprintf(list, sizeof list, "mist:%s:guard,discrete", qr);
    run_bench(out, "smoke", 0, list, 0, 1, 0, 1, 0);
    size_t len;
    unsigned char *raw = tu_slurp(rj, &len);
    ck_assert_ptr_nonnull(raw);
    char *s = malloc(len + 1);
    memcpy(s, raw, len);
    s[len] = '\0';
    free(raw);
    snprintf(fp, sizeof fp, ";guard:%d\"", MIST_GUARD_RULES);
    ck_assert_msg(strstr(s, fp), "%s", s);
    snprintf(fp, sizeof fp, "\"discrete:%d\"", mist_est_version("discrete"));
    ck_assert_msg(strstr(s, fp) && mist_est_version("discrete") >= 2, "%s", s);
    ck_assert_int_eq(mist_est_version("ksg1"), 1);
    ck_assert_int_eq(mist_est_version("nope"), 0);
    free(s);
    mist_bench_report again = run_bench(out, "smoke", 0, list, 0, 1, 0, 1, 0);
    ck_assert_uint_eq(again.total_rows, 12);
    mist_err err;
    int rc;
    /* rows of an older guard */
    snprintf(fp, sizeof fp, ";guard:%d\"", MIST_GUARD_RULES);
    edit_file(rj, fp, ";guard:1\"");
    run_bench_ex(out, "smoke", list, NULL, 0, 0, 0, 0, &err, &rc);
    ck_assert_msg(rc == MIST_EINVAL && strstr(err.msg, "guard rules"), "%d %s", rc, err.msg);
    edit_file(rj, ";guard:1\"", fp);
    /* an older discrete */
    snprintf(fp, sizeof fp, "\"discrete:%d\"", mist_est_version("discrete"));
    edit_file(rj, fp, "\"discrete:1\"");
    run_bench_ex(out, "smoke", list, NULL, 0, 0, 0, 0, &err, &rc);
    ck_assert_int_eq(rc, MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "another version"), "%s", err.msg);
    /* rows from before versions were recorded: the label without its entry */
    edit_file(rj, "{\"label\": \"discrete\", \"command\": \"discrete:1\"}",
              "{\"label\": \"other\", \"command\": \"discrete:1\"}");
    run_bench_ex(out, "smoke", list, NULL, 0, 0, 0, 0, &err, &rc);
    ck_assert_int_eq(rc, MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "before its answers were versioned"), "%s", err.msg);
    free(d);
}
END_TEST

START_TEST(test_mist_model)
{
    char *d = tmpdir("bench-mist");
    char qr[1024], pt[1024], list[2200];
    snprintf(qr, sizeof qr, "%s/qr.msgpack", d);
    snprintf(pt, sizeof pt, "%s/point.msgpack", d);
    save_tiny_model(qr, MIST_LAYOUT_SPLIT, 1);
    save_tiny_model(pt, MIST_LAYOUT_PACKED, 0);
    char out[1100];
    snprintf(out, sizeof out, "%s/run", d);
    snprintf(list, sizeof list, "mist:%s,mist:weights=%s,gaussian", qr, pt);
    mist_bench_report rep = run_bench(out, "smoke", 0, list, 0, 2, 0, 1, 0);
    ck_assert_uint_eq(rep.total_rows, 18);
    char p[1200];
    snprintf(p, sizeof p, "%s/results.csv", out);
    size_t n;
    trow *rows = read_rows(p, &n);
    size_t packed_failed = 0;
    for (size_t i = 0; i < n; i++) {
        trow *r = &rows[i];
        if (!strncmp(r->f[F_EST], "mist:", 5) && strstr(r->f[F_EST], "qr.msgpack")) {
            ck_assert_str_eq(r->f[F_STATUS], "ok");
            /* 19 levels 0.05..0.95; the estimate is the median, the interval 0.05 / 0.95 */
            ck_assert_str_eq(r->f[F_QUANT], "0.05;0.1;0.15;0.2;0.25;0.3;0.35;0.4;0.45;0.5;0.55;0.6;"
                                       "0.65;0.7;0.75;0.8;0.85;0.9;0.95");
            double q[19];
            char *s = r->f[F_QVAL];
            for (int j = 0; j < 19; j++) {
                q[j] = strtod(s, &s);
                if (j < 18) ck_assert_int_eq(*s++, ';');
                if (j) ck_assert(q[j] >= q[j - 1]); /* sorted along tau */
            }
            ck_assert_double_eq(strtod(r->f[F_ESTIMATE], NULL), q[9]);
            ck_assert_double_eq(strtod(r->f[F_LOWER], NULL), q[0]);
            ck_assert_double_eq(strtod(r->f[F_UPPER], NULL), q[18]);
        } else if (strstr(r->f[F_EST], "point.msgpack")) {
            ck_assert_str_eq(r->f[F_LOWER], "");
            ck_assert_str_eq(r->f[F_QUANT], "");
            if (strcmp(r->f[F_STATUS], "ok")) { /* packed: needs dx == dy */
                ck_assert_msg(strcmp(r->f[F_DX], r->f[F_DY]) != 0, "%s", r->f[F_STATUS]);
                packed_failed++;
            }
        }
    }
    ck_assert_uint_eq(packed_failed, 1); /* the 3x2 dataset */
    const mist_json *root = load_summary(out);
    const mist_json *ests = jget(&jget(root, "suites")->items[0], "estimators");
    ck_assert_uint_eq(ests->n, 3);
    ck_assert_int_eq(jget(&ests->items[0], "quantile_model")->boolean, 1);
    ck_assert_int_eq(jget(&ests->items[1], "quantile_model")->boolean, 0);
    const mist_json *all = jget(&ests->items[0], "overall");
    ck_assert_double_eq(jnum(all, "n_calib"), 6);
    ck_assert_uint_eq(jget(all, "calibration")->n, 19);
    ck_assert_double_eq(jnum(all, "n_interval"), 6);
    free_summary();
    free(rows);

    /* a weights file that does not open stops the run before anything is written */
    char bad[1200];
    snprintf(bad, sizeof bad, "mist:%s/nothere.msgpack", d);
    static mist_bench_est est[2];
    size_t nest;
    mist_err err;
    ck_assert_int_eq(mist_bench_parse_estimators(bad, est, 2, &nest, &err), MIST_OK);
    mist_bench_opts o;
    mist_bench_opts_default(&o);
    o.suite = "smoke";
    o.est = est;
    o.nest = nest;
    snprintf(out, sizeof out, "%s/run2", d);
    o.out_dir = out;
    ck_assert_int_ne(mist_bench_run(&o, NULL, &err), MIST_OK);
    ck_assert_msg(strstr(err.msg, "nothere.msgpack"), "%s", err.msg);
    ck_assert(!exists(out, "results.csv"));
    free(d);
}
END_TEST


/* ---- scores, transforms, seeds ---------------------------------------------------------------- */

/* The row of (dataset index, transform, estimator). */
static const trow *find_row(const trow *rows, size_t n, size_t index, const char *tr,
                            const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (strtoul(rows[i].f[F_INDEX], NULL, 10) == index && !strcmp(rows[i].f[F_TRANSFORM], tr) &&
            !strcmp(rows[i].f[F_EST], label))
            return &rows[i];
    ck_abort_msg("no row %zu %s %s", index, tr, label);
    return NULL;
}

START_TEST(test_score_bootstrap)
{
    /* The paper's score recomputed here: the documented resamples drawn again, the public
     * gaussian and histogram estimators run on each materialised resample (gaussian weights a
     * repeated row by its multiplicity, which is what the plain copy does). */
    char *d = tmpdir("bench-score");
    enum { B = 7 };
    mist_err err;
    int rc;
    run_bench_ex(d, "smoke", "gaussian,histogram:bins=4", NULL, 0, B, 0, 0, &err, &rc);
    ck_assert_msg(rc == MIST_OK, "%s", err.msg);
    char p[1024];
    snprintf(p, sizeof p, "%s/results.csv", d);
    size_t n;
    trow *rows = read_rows(p, &n);
    ck_assert_uint_eq(n, 12);
    mist_task_spec *specs;
    size_t count;
    mist_suite_opts so = {0, 0};
    ck_assert_int_eq(mist_suite_specs("smoke", &so, &specs, &count, &err), MIST_OK);
    mist_est_opts eo;
    mist_est_opts_default(&eo);
    eo.bins = 4;
    for (size_t i = 0; i < count; i++) {
        mist_dataset *ds;
        ck_assert_int_eq(mist_gen_dataset(&ds, &specs[i], &err), MIST_OK);
        size_t dd = (size_t)ds->dx + (size_t)ds->dy;
        double *buf = malloc(ds->n * dd * sizeof *buf);
        uint64_t ss = mist_seed_derive(specs[i].seed, MIST_BENCH_SCORE_STREAM);
        double sg = 0, sh = 0;
        for (int b = 0; b < B; b++) {
            gsl_rng *r = mist_rng_alloc(mist_seed_derive(ss, (uint64_t)b));
            for (size_t k = 0; k < ds->n; k++) {
                size_t src = (size_t)gsl_rng_uniform_int(r, (unsigned long)ds->n);
                memcpy(buf + k * dd, ds->data + src * dd, dd * sizeof *buf);
            }
            gsl_rng_free(r);
            double g, h;
            ck_assert_int_eq(mist_gaussian_mi(buf, ds->n, ds->dx, ds->dy, &g, &err), MIST_OK);
            ck_assert_int_eq(mist_histogram_mi(buf, ds->n, ds->dx, ds->dy, &eo, &h, &err),
                             MIST_OK);
            sg += (g - ds->meta.mi) * (g - ds->meta.mi);
            sh += (h - ds->meta.mi) * (h - ds->meta.mi);
        }
        const trow *rg = find_row(rows, n, i, "none", "gaussian");
        const trow *rh = find_row(rows, n, i, "none", "histogram:bins=4");
        ck_assert_str_eq(rg->f[F_STATUS], "ok");
        ck_assert_str_eq(rg->f[F_SCORED], "7");
        ck_assert_double_eq_tol(strtod(rg->f[F_SQ], NULL), sg / B, 1e-12 * (1 + sg));
        ck_assert_double_eq_tol(strtod(rh->f[F_SQ], NULL), sh / B, 1e-12 * (1 + sh));
        /* the estimate column stays the estimate on the dataset itself */
        double g0;
        ck_assert_int_eq(mist_gaussian_mi(ds->data, ds->n, ds->dx, ds->dy, &g0, &err), MIST_OK);
        ck_assert_double_eq_tol(strtod(rg->f[F_ESTIMATE], NULL), g0, 1e-12);
        free(buf);
        mist_dataset_free(ds);
    }
    mist_task_specs_free(specs, count);
    /* summary: MSE is the mean of the scores */
    const mist_json *root = load_summary(d);
    const mist_json *suite = &jget(root, "suites")->items[0];
    ck_assert_str_eq(jget(suite, "score")->str, "bootstrap:7");
    const mist_json *ests = jget(suite, "estimators");
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].f[F_EST], "gaussian")) sum += strtod(rows[i].f[F_SQ], NULL);
    ck_assert_double_eq_tol(jnum(jget(&ests->items[0], "overall"), "mse"), sum / 6, 1e-12);
    free_summary();
    free(rows);

    /* a rerun with another score mode is refused: rows of two metrics never mix */
    run_bench_ex(d, "smoke", "gaussian", NULL, 0, 0, 0, 0, &err, &rc);
    ck_assert_int_eq(rc, MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "--score bootstrap:7 vs single"), "%s", err.msg);
    free(d);
}
END_TEST

START_TEST(test_transform_rows)
{
    char *d = tmpdir("bench-transform");
    static const char *const tr[] = {"none", "perm", "rotate", "swap"};
    mist_err err;
    int rc;
    mist_bench_report rep =
        run_bench_ex(d, "smoke", "gaussian,ksg1:noise=0", tr, 4, 0, 0, 0, &err, &rc);
    ck_assert_msg(rc == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(rep.total_rows, 6 * 4 * 2);
    char p[1024];
    snprintf(p, sizeof p, "%s/results.csv", d);
    size_t n;
    trow *rows = read_rows(p, &n);
    int ksg_changed_by_rotate = 0;
    for (size_t i = 0; i < 6; i++) {
        const trow *g0 = find_row(rows, n, i, "none", "gaussian");
        const trow *k0 = find_row(rows, n, i, "none", "ksg1:k=5:noise=0");
        double g = strtod(g0->f[F_ESTIMATE], NULL), k = strtod(k0->f[F_ESTIMATE], NULL);
        for (int t = 1; t < 4; t++) {
            const trow *gt = find_row(rows, n, i, tr[t], "gaussian");
            const trow *kt = find_row(rows, n, i, tr[t], "ksg1:k=5:noise=0");
            ck_assert_str_eq(gt->f[F_MI], g0->f[F_MI]); /* the truth is unchanged */
            double gv = strtod(gt->f[F_ESTIMATE], NULL), kv = strtod(kt->f[F_ESTIMATE], NULL);
            /* log det is invariant under orthogonal mixing and permutation (to rounding) */
            ck_assert_msg(fabs(gv - g) <= 1e-9 * (1 + fabs(g)), "gaussian %s: %.17g vs %.17g",
                          tr[t], gv, g);
            if (strcmp(tr[t], "rotate")) /* max-norm distances: exact under perm and swap */
                ck_assert_msg(fabs(kv - k) <= 1e-12 * (1 + fabs(k)), "ksg %s: %.17g vs %.17g",
                              tr[t], kv, k);
            else ksg_changed_by_rotate |= fabs(kv - k) > 1e-6 && atoi(g0->f[F_DX]) > 1;
            if (!strcmp(tr[t], "swap")) {
                ck_assert_str_eq(gt->f[F_DX], g0->f[F_DY]);
                ck_assert_str_eq(gt->f[F_DY], g0->f[F_DX]);
            }
        }
    }
    ck_assert(ksg_changed_by_rotate); /* rotation is no exact invariance of KSG */
    free(rows);
    const mist_json *root = load_summary(d);
    const mist_json *suites = jget(root, "suites");
    ck_assert_uint_eq(suites->n, 4);
    for (int t = 0; t < 4; t++)
        ck_assert_str_eq(jget(&suites->items[t], "transform")->str, tr[t]);
    free_summary();
    snprintf(p, sizeof p, "%s/summary.md", d);
    size_t len;
    char *md = (char *)tu_slurp(p, &len);
    md = realloc(md, len + 1);
    md[len] = '\0';
    ck_assert(strstr(md, "## Suite smoke under MI-preserving transforms") != NULL);
    ck_assert(strstr(md, "| estimator | none | perm | rotate | swap |") != NULL);
    free(md);

    /* adding a transform runs only its rows */
    static const char *const tr2[] = {"none", "perm", "rotate", "swap", "flow"};
    rep = run_bench_ex(d, "smoke", "gaussian,ksg1:noise=0", tr2, 5, 0, 0, 0, &err, &rc);
    ck_assert_msg(rc == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(rep.new_rows, 6 * 2);
    /* an unknown transform is an error naming it */
    static const char *const bad[] = {"twist"};
    run_bench_ex(d, "smoke", "gaussian", bad, 1, 0, 0, 0, &err, &rc);
    ck_assert_int_eq(rc, MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "twist"), "%s", err.msg);
    free(d);
}
END_TEST

START_TEST(test_seed_spread_and_groups)
{
    char *d = tmpdir("bench-seeds");
    mist_err err;
    int rc;
    run_bench_ex(d, "smoke", "gaussian", NULL, 0, 0, 3, 5, &err, &rc);
    ck_assert_msg(rc == MIST_OK, "%s", err.msg);
    char p[1024];
    snprintf(p, sizeof p, "%s/results.csv", d);
    size_t n;
    trow *rows = read_rows(p, &n);
    ck_assert_uint_eq(n, 18);
    double per_seed[3] = {0}, fam = 0;
    int nfam = 0;
    for (size_t i = 0; i < n; i++) {
        double sq = strtod(rows[i].f[F_SQ], NULL);
        double e = strtod(rows[i].f[F_ESTIMATE], NULL) - strtod(rows[i].f[F_MI], NULL);
        ck_assert_double_eq(sq, e * e); /* single score */
        ck_assert_str_eq(rows[i].f[F_SCORED], "1");
        int seed = -1;
        ck_assert_int_eq(sscanf(rows[i].f[F_ID], "smoke-s%d-", &seed), 1);
        ck_assert(seed >= 3 && seed <= 5);
        per_seed[seed - 3] += sq / 6;
        if (!strcmp(rows[i].f[F_TASK], "additive-base")) {
            fam += sq;
            nfam++;
        }
    }
    double mean = (per_seed[0] + per_seed[1] + per_seed[2]) / 3, v = 0;
    for (int k = 0; k < 3; k++) v += (per_seed[k] - mean) * (per_seed[k] - mean);
    const mist_json *root = load_summary(d);
    const mist_json *suite = &jget(root, "suites")->items[0];
    ck_assert_double_eq(jnum(suite, "suite_seeds"), 3);
    const mist_json *es = &jget(suite, "estimators")->items[0];
    const mist_json *all = jget(es, "overall");
    ck_assert_double_eq(jnum(all, "seeds"), 3);
    ck_assert_double_eq_tol(jnum(all, "seed_mse_mean"), mean, 1e-12);
    ck_assert_double_eq_tol(jnum(all, "seed_mse_sd"), sqrt(v / 2), 1e-12);
    const mist_json *fams = jget(es, "by_family");
    int found = 0;
    for (size_t i = 0; i < fams->n; i++) {
        if (strcmp(jget(&fams->items[i], "key")->str, "additive-base")) continue;
        found = 1;
        ck_assert_double_eq_tol(jnum(jget(&fams->items[i], "metrics"), "mse"), fam / nfam, 1e-12);
    }
    ck_assert(found);
    ck_assert_uint_ge(jget(es, "by_dim")->n, 2); /* 1x1 and 2-4 */
    free_summary();
    free(rows);
    free(d);
}
END_TEST

START_TEST(test_cmd_estimator_rows)
{
    /* a command that answers a constant c: every resample's error is c - MI, so the paper's
     * score is (c - MI)^2 exactly, whatever the resamples */
    char *d = tmpdir("bench-cmdrows");
    mist_err err;
    int rc;
    run_bench_ex(d, "smoke", "cmd:const=echo 0.5", NULL, 0, 4, 0, 0, &err, &rc);
    ck_assert_msg(rc == MIST_OK, "%s", err.msg);
    char p[1024];
    snprintf(p, sizeof p, "%s/results.csv", d);
    size_t n;
    trow *rows = read_rows(p, &n);
    ck_assert_uint_eq(n, 6);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(rows[i].f[F_STATUS], "ok");
        ck_assert_str_eq(rows[i].f[F_EST], "cmd:const");
        double mi = strtod(rows[i].f[F_MI], NULL);
        ck_assert_double_eq(strtod(rows[i].f[F_ESTIMATE], NULL), 0.5);
        ck_assert_str_eq(rows[i].f[F_SCORED], "4");
        ck_assert_double_eq_tol(strtod(rows[i].f[F_SQ], NULL), (0.5 - mi) * (0.5 - mi), 1e-15);
    }
    free(rows);
    /* the same name with another command is refused: its rows would mix two estimators */
    run_bench_ex(d, "smoke", "cmd:const=echo 0.7", NULL, 0, 4, 0, 0, &err, &rc);
    ck_assert_int_eq(rc, MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "another command"), "%s", err.msg);
    free(d);
}
END_TEST

START_TEST(test_old_results_refused)
{
    char *d = tmpdir("bench-v1");
    char p[1024];
    snprintf(p, sizeof p, "%s/results.csv", d);
    const char *v1 = "suite,index,id,task,dx,dy,n,seed,mi,estimator,estimate,lower,upper,"
                     "quantiles,quantile_values,time_us,status\n";
    tu_write(p, v1, strlen(v1));
    mist_err err;
    int rc;
    run_bench_ex(d, "smoke", "gaussian", NULL, 0, 0, 0, 0, &err, &rc);
    ck_assert_int_eq(rc, MIST_EFORMAT);
    ck_assert_msg(strstr(err.msg, "older mist bench"), "%s", err.msg);
    free(d);
}
END_TEST

static Suite *bench_suite(void)
{
    Suite *s = suite_create("bench");
    tu_case(s, "bench", 300, test_metrics_hand, test_percentile, test_buckets, test_specs,
            test_smoke_end_to_end, test_failures_are_rows, test_resume, test_shard_merge,
            test_manifest_folder, test_mist_model, test_versions_in_run_json, test_mist_degenerate, test_score_bootstrap, test_transform_rows,
            test_seed_spread_and_groups, test_cmd_estimator_rows, test_old_results_refused, NULL);
    return s;
}

int main(void)
{
    return tu_run(bench_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
