/* mist train calibrate: fit the quantile recalibration map of a quantile model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mist_infer.h"
#include "mist_train.h"

#define NGRID 199  /* network levels 0.005 .. 0.995 */
#define NTARGET 101 /* 0.005, 0.01 .. 0.99, 0.995 */
#define NCHECK 19  /* 0.05 .. 0.95 */

static void calibrate_usage(FILE *f)
{
    fputs("usage: mist train calibrate WEIGHTS -o OUT [--method auto|map|resid] [--count N]\n"
          "             [--seed S] [--metadist NAME] [--n-range A-B] [--n-groups B1,B2,...]\n"
          "\n"
          "Recalibrates the quantiles of a quantile model on fresh datasets of a\n"
          "meta-distribution (default 'default', the training one) and writes OUT, the model\n"
          "with the recalibration in its meta. Two ways:\n"
          "  map    the tau-quantile is the network's output at a level tau' chosen so that the\n"
          "         true MI falls below it a share tau of the time (meta \"quantile_map\")\n"
          "  resid  the tau-quantile is m + s R_g(tau): m the network median, s its 25%-75%\n"
          "         spread, R_g the empirical quantiles of (MI - m) / s among datasets of the\n"
          "         same n-group g (meta \"quantile_resid\"); it also works when the network's\n"
          "         quantiles are too narrow for any level, and per sample size\n"
          "  auto   both are fitted (seed S) and checked on other datasets (seed S+1); the one\n"
          "         closer to the diagonal there is kept (the default)\n"
          "`mist estimate` and `mist bench` apply it; raw quantiles (--raw-quantiles) do not.\n"
          "\n"
          "  --count N        datasets for the map fit and for the check; the residual fit\n"
          "                   draws N/2 per n-group (default 8192)\n"
          "  --seed S         seed of the calibration datasets (default 6513004); keep it away\n"
          "                   from the run's --val-seed\n"
          "  --metadist NAME  meta-distribution (default 'default')\n"
          "  --n-range A-B    rows per dataset (default 10-500, the training range)\n"
          "  --n-groups LIST  upper bounds of the n-groups of resid (default 25,50,100,200,350:\n"
          "                   10-25, 26-50, 51-100, 101-200, 201-350, 351-500)\n",
          f);
}

static double worst(const double *cover, const double *level, int k)
{
    double w = 0;
    for (int j = 0; j < k; j++) w = fmax(w, fabs(cover[j] - level[j]));
    return w;
}

#define MAX_GROUPS 32

/* The recalibrations being compared. */
typedef struct calib_kind {
    const double *targets, *taus; /* the level map (NTARGET knots) */
    int do_map;
    const mist_qresid *qr;
    int do_res;
} calib_kind;

/* Draws the datasets of o once and measures the coverage at the nl levels lv without
 * recalibration (out[0]), with the level map (out[1]) and with the residual one (out[2]). */
static int measure(mist_model *m, const mist_calib_opts *o, const calib_kind *k,
                   const double *lv, int nl, double *out[3], mist_err *err)
{
    mist_dataset **sets = NULL;
    size_t count = 0;
    int rc = mist_calib_draw(m, o, &sets, &count, err);
    if (!rc) rc = mist_model_set_quantile_map(m, NULL, NULL, 0, err);
    if (!rc) rc = mist_model_set_quantile_resid(m, NULL, err);
    if (!rc) rc = mist_quantile_coverage(m, sets, count, lv, (size_t)nl, out[0], err);
    if (!rc && k->do_map) rc = mist_model_set_quantile_map(m, k->targets, k->taus, NTARGET, err);
    if (!rc && k->do_map) rc = mist_quantile_coverage(m, sets, count, lv, (size_t)nl, out[1], err);
    if (!rc && k->do_res) rc = mist_model_set_quantile_resid(m, k->qr, err);
    if (!rc && k->do_res) rc = mist_quantile_coverage(m, sets, count, lv, (size_t)nl, out[2], err);
    mist_calib_free(sets, count);
    return rc;
}

static int parse_groups(const char *s, int64_t *b, size_t *nb)
{
    char buf[512];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    size_t k = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (k == MAX_GROUPS - 1 || cli_parse_u64(t, &v) || v < 2 || v > 100000000 ||
            (k && (int64_t)v <= b[k - 1]))
            return -1;
        b[k++] = (int64_t)v;
    }
    *nb = k;
    return 0;
}

int train_calibrate(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *md = "default", *method = "auto";
    mist_calib_opts o = {NULL, 0x63616cULL, 8192, 10, 500};
    int64_t bounds[MAX_GROUPS] = {25, 50, 100, 200, 350};
    size_t nb = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            calibrate_usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--out")) && v) out = argv[++i];
        else if (!strcmp(a, "--count") && v) bad = cli_parse_size(argv[++i], 16, 1u << 22, &o.count);
        else if (!strcmp(a, "--seed") && v) bad = cli_parse_u64(argv[++i], &o.seed);
        else if (!strcmp(a, "--metadist") && v) md = argv[++i];
        else if (!strcmp(a, "--method") && v) {
            method = argv[++i];
            bad = strcmp(method, "auto") && strcmp(method, "map") && strcmp(method, "resid");
        } else if (!strcmp(a, "--n-range") && v) {
            uint64_t lo, hi;
            bad = cli_parse_range(argv[++i], &lo, &hi) || lo < 2 || hi > 1000000;
            o.n_min = (int64_t)lo, o.n_max = (int64_t)hi;
        } else if (!strcmp(a, "--n-groups") && v) bad = parse_groups(argv[++i], bounds, &nb);
        else if (a[0] == '-') {
            cli_error("train calibrate: unknown option or missing value '%s'", a);
            return 2;
        } else if (!in) in = a;
        else {
            cli_error("train calibrate: unexpected argument '%s'", a);
            return 2;
        }
        if (bad) {
            cli_error("train calibrate: bad value for %s", a);
            return 2;
        }
    }
    if (!in || !out) {
        cli_error("train calibrate: usage: mist train calibrate WEIGHTS -o OUT");
        return 2;
    }
    /* the groups inside the n range: bounds at or beyond its ends are dropped */
    size_t G = 0;
    int64_t gb[MAX_GROUPS];
    for (size_t g = 0; g < nb; g++)
        if (bounds[g] >= o.n_min && bounds[g] < o.n_max) gb[G++] = bounds[g];
    G++;
    o.metadist = md;
    if (cli_regular_file("train calibrate", in)) return 1;
    mist_err err = {0};
    mist_model *m = mist_model_open(in, &err);
    if (!m) {
        cli_error("train calibrate: %s", err.msg);
        return 1;
    }
    if (!mist_model_arch(m)->quantile_conditioned) {
        cli_error("train calibrate: '%s' is a point model: only quantile models are calibrated",
                  in);
        mist_model_free(m);
        return 2;
    }
    int do_map = strcmp(method, "resid") != 0, do_res = strcmp(method, "map") != 0;
    double grid[NGRID], cover[NGRID], targets[NTARGET], taus[NTARGET];
    double resid[MAX_GROUPS * NTARGET];
    double check[NCHECK], before[NCHECK], after_map[NCHECK], after_res[NCHECK];
    double gcov[3][MAX_GROUPS][2]; /* network, map, resid: 5% and 95% coverage per group */
    for (int j = 0; j < NGRID; j++) grid[j] = (j + 1) / 200.0;
    targets[0] = 0.005, targets[NTARGET - 1] = 0.995;
    for (int j = 1; j < NTARGET - 1; j++) targets[j] = j / 100.0; /* nearest doubles */
    for (int j = 0; j < NCHECK; j++) check[j] = (j + 1) / 20.0;
    static const double ends[2] = {0.05, 0.95};
    mist_calib_opts held = o;
    held.seed = o.seed + 1;
    /* the n range of group g */
    mist_calib_opts gfit[MAX_GROUPS], gheld[MAX_GROUPS];
    for (size_t g = 0; g < G; g++) {
        gfit[g] = o;
        gfit[g].n_min = g ? gb[g - 1] + 1 : o.n_min;
        gfit[g].n_max = g + 1 < G ? gb[g] : o.n_max;
        gfit[g].count = o.count / 2 > 16 ? o.count / 2 : 16;
        gfit[g].seed = mist_seed_derive(o.seed, 100 + g);
        gheld[g] = gfit[g];
        gheld[g].count = o.count / 4 > 16 ? o.count / 4 : 16;
        gheld[g].seed = mist_seed_derive(held.seed, 100 + g);
    }
    /* fit on the bare network: the residual tables group by group, then the level map */
    int rc = mist_model_set_quantile_map(m, NULL, NULL, 0, &err);
    if (!rc) rc = mist_model_set_quantile_resid(m, NULL, &err);
    mist_dataset **sets = NULL;
    size_t count = 0;
    for (size_t g = 0; g < G && !rc && do_res; g++) {
        rc = mist_calib_draw(m, &gfit[g], &sets, &count, &err);
        if (!rc) rc = mist_quantile_resid_fit(m, sets, count, 0.25, 0.75, targets, NTARGET,
                                              resid + g * NTARGET, &err);
        mist_calib_free(sets, count);
        sets = NULL, count = 0;
    }
    if (!rc && do_map) {
        rc = mist_calib_draw(m, &o, &sets, &count, &err);
        if (!rc) rc = mist_quantile_coverage(m, sets, count, grid, NGRID, cover, &err);
        mist_calib_free(sets, count);
    }
    if (!rc && do_map) rc = mist_quantile_map_fit(grid, cover, NGRID, targets, NTARGET, taus, &err);
    /* held-out checks: each set drawn once, measured without and with each recalibration */
    mist_qresid qr = {0.25, 0.75, G, gb, NTARGET, targets, resid};
    const calib_kind kinds = {targets, taus, do_map, &qr, do_res};
    double *out3[3] = {before, after_map, after_res};
    if (!rc) rc = measure(m, &held, &kinds, check, NCHECK, out3, &err);
    for (size_t g = 0; g < G && !rc; g++) {
        double *g3[3] = {gcov[0][g], gcov[1][g], gcov[2][g]};
        rc = measure(m, &gheld[g], &kinds, ends, 2, g3, &err);
    }
    double wb = worst(before, check, NCHECK), wm = do_map ? worst(after_map, check, NCHECK) : 9,
           wr = do_res ? worst(after_res, check, NCHECK) : 9;
    int keep_map = do_map && (!do_res || wm <= wr);
    if (!rc) rc = keep_map ? mist_model_set_quantile_map(m, targets, taus, NTARGET, &err)
                           : mist_model_set_quantile_resid(m, &qr, &err);
    char note[320];
    snprintf(note, sizeof note,
             "%s fitted on datasets of %s (seed %llu, n %lld-%lld); largest distance from the "
             "diagonal on %zu others: %.3f (network %.3f)",
             keep_map ? "quantile_map" : "quantile_resid", md, (unsigned long long)o.seed,
             (long long)o.n_min, (long long)o.n_max, o.count, keep_map ? wm : wr, wb);
    if (!rc) rc = mist_model_meta_set_str(m, "quantile_calibration", note, &err);
    if (!rc) rc = mist_model_save(m, out, &err);
    if (rc) {
        cli_error("train calibrate: %s", err.msg);
        mist_model_free(m);
        return 1;
    }
    printf("held-out check (%zu datasets of '%s', n %lld-%lld, seed %llu): share with MI <= q_tau\n",
           o.count, md, (long long)o.n_min, (long long)o.n_max, (unsigned long long)held.seed);
    printf("tau    network%s%s\n", do_map ? "   map" : "", do_res ? "     resid" : "");
    for (int j = 0; j < NCHECK; j++) {
        printf("%.2f   %.3f  ", check[j], before[j]);
        if (do_map) printf("   %.3f", after_map[j]);
        if (do_res) printf("     %.3f", after_res[j]);
        printf("\n");
    }
    printf("largest distance from the diagonal: network %.3f", wb);
    if (do_map) printf(", map %.3f", wm);
    if (do_res) printf(", resid %.3f", wr);
    printf("\n90%% interval coverage by n-group (held out, %zu datasets each):\n", gheld[0].count);
    printf("n          network%s%s\n", do_map ? "   map" : "", do_res ? "     resid" : "");
    for (size_t g = 0; g < G; g++) {
        printf("%4lld-%-4lld  %.3f  ", (long long)gfit[g].n_min, (long long)gfit[g].n_max,
               gcov[0][g][1] - gcov[0][g][0]);
        if (do_map) printf("   %.3f", gcov[1][g][1] - gcov[1][g][0]);
        if (do_res) printf("     %.3f", gcov[2][g][1] - gcov[2][g][0]);
        printf("\n");
    }
    printf("kept: %s\n", keep_map ? "map" : "resid");
    fprintf(stderr, "wrote %s\n", out);
    mist_model_free(m);
    return 0;
}

/* mist train validate: the validation figures of a weights file on fresh datasets. */
int train_validate(int argc, char **argv)
{
    const char *in = NULL;
    mist_train_config c;
    mist_train_config_default(&c);
    c.val_count = 2048;
    c.val_seed = 0x76616c2ULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0, have = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs("usage: mist train validate WEIGHTS [--count N] [--seed S] [--metadist NAME]\n"
                  "\n"
                  "MSE of the estimate (the median for a quantile model) and mean pinball loss\n"
                  "over tau 0.05, 0.25, 0.5, 0.75, 0.95 on N fresh datasets of the\n"
                  "meta-distribution (default 'default', N 2048), drawn like the training\n"
                  "validation suite but from seed S (default 124131010): compare models or\n"
                  "checkpoints without touching the benchmark suites.\n",
                  stdout);
            return 0;
        } else if (!strcmp(a, "--count") && have) {
            size_t v;
            bad = cli_parse_size(argv[++i], 1, 1u << 22, &v);
            c.val_count = (int)v;
        } else if (!strcmp(a, "--seed") && have) bad = cli_parse_u64(argv[++i], &c.val_seed);
        else if (!strcmp(a, "--metadist") && have) {
            const char *md = argv[++i];
            bad = strlen(md) >= sizeof c.metadist;
            if (!bad) strcpy(c.metadist, md);
        } else if (a[0] == '-') {
            cli_error("train validate: unknown option or missing value '%s'", a);
            return 2;
        } else if (!in) in = a;
        else {
            cli_error("train validate: unexpected argument '%s'", a);
            return 2;
        }
        if (bad) {
            cli_error("train validate: bad value for %s", a);
            return 2;
        }
    }
    if (!in) {
        cli_error("train validate: usage: mist train validate WEIGHTS");
        return 2;
    }
    if (cli_regular_file("train validate", in)) return 1;
    mist_err err = {0};
    mist_model *m = mist_model_open(in, &err);
    if (!m) {
        cli_error("train validate: %s", err.msg);
        return 1;
    }
    c.arch = *mist_model_arch(m);
    mist_dataset **sets = NULL;
    size_t count = 0;
    double mse = 0, pb = 0;
    int rc = mist_stream_validation(&c, &sets, &count, &err);
    if (!rc) rc = mist_validate(m, sets, count, &mse, &pb, &err);
    mist_calib_free(sets, count);
    mist_model_free(m);
    if (rc) {
        cli_error("train validate: %s", err.msg);
        return 1;
    }
    printf("%s: %zu datasets of '%s' (seed %llu): mse %.6f  pinball %.6f\n", in, count,
           c.metadist, (unsigned long long)c.val_seed, mse, pb);
    return 0;
}
