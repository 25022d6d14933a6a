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
          "                            [--seed S] [--metadist NAME] [--n-range A-B]\n"
          "\n"
          "Recalibrates the quantiles of a quantile model on fresh datasets of a\n"
          "meta-distribution (default 'default', the training one) and writes OUT, the model\n"
          "with the recalibration in its meta. Two ways:\n"
          "  map    the tau-quantile is the network's output at a level tau' chosen so that the\n"
          "         true MI falls below it a share tau of the time (meta \"quantile_map\")\n"
          "  resid  the tau-quantile is m + s R(tau): m the network median, s its 25%-75%\n"
          "         spread, R the empirical quantiles of (MI - m) / s (meta \"quantile_resid\");\n"
          "         it still works when the network's quantiles are too narrow for any level\n"
          "  auto   both are fitted on N datasets (seed S) and checked on N others (seed S+1);\n"
          "         the one closer to the diagonal there is kept (the default)\n"
          "`mist estimate` and `mist bench` apply it; raw quantiles (--raw-quantiles) do not.\n"
          "\n"
          "  --count N        datasets for the fit and for the check (default 8192)\n"
          "  --seed S         seed of the calibration datasets (default 6513004); keep it away\n"
          "                   from the run's --val-seed\n"
          "  --metadist NAME  meta-distribution (default 'default')\n"
          "  --n-range A-B    rows per dataset (default: the meta-distribution's own)\n",
          f);
}

static double worst(const double *cover, const double *level, int k)
{
    double w = 0;
    for (int j = 0; j < k; j++) w = fmax(w, fabs(cover[j] - level[j]));
    return w;
}

int train_calibrate(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *md = "default", *method = "auto";
    mist_calib_opts o = {NULL, 0x63616cULL, 8192, 0, 0};
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
        } else if (a[0] == '-') {
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
    o.metadist = md;
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
    double grid[NGRID], cover[NGRID], targets[NTARGET], taus[NTARGET], resid[NTARGET];
    double check[NCHECK], before[NCHECK], after_map[NCHECK], after_res[NCHECK];
    for (int j = 0; j < NGRID; j++) grid[j] = (j + 1) / 200.0;
    targets[0] = 0.005, targets[NTARGET - 1] = 0.995;
    for (int j = 1; j < NTARGET - 1; j++) targets[j] = j / 100.0; /* nearest doubles */
    for (int j = 0; j < NCHECK; j++) check[j] = (j + 1) / 20.0;
    mist_calib_opts held = o;
    held.seed = o.seed + 1;
    /* fit on the bare network */
    int rc = mist_model_set_quantile_map(m, NULL, NULL, 0, &err);
    if (!rc) rc = mist_model_set_quantile_resid(m, 0, 0, NULL, NULL, 0, &err);
    if (!rc) rc = mist_quantile_coverage(m, &held, check, NCHECK, before, &err);
    if (!rc && do_res) rc = mist_quantile_resid_fit(m, &o, 0.25, 0.75, targets, NTARGET, resid, &err);
    if (!rc && do_map) rc = mist_quantile_coverage(m, &o, grid, NGRID, cover, &err);
    if (!rc && do_map) rc = mist_quantile_map_fit(grid, cover, NGRID, targets, NTARGET, taus, &err);
    if (!rc && do_map) rc = mist_model_set_quantile_map(m, targets, taus, NTARGET, &err);
    if (!rc && do_map) rc = mist_quantile_coverage(m, &held, check, NCHECK, after_map, &err);
    if (!rc && do_res) rc = mist_model_set_quantile_resid(m, 0.25, 0.75, targets, resid, NTARGET, &err);
    if (!rc && do_res) rc = mist_quantile_coverage(m, &held, check, NCHECK, after_res, &err);
    double wb = worst(before, check, NCHECK), wm = do_map ? worst(after_map, check, NCHECK) : 9,
           wr = do_res ? worst(after_res, check, NCHECK) : 9;
    int keep_map = do_map && (!do_res || wm <= wr);
    /* the residual one is set last: switch back when the map won */
    if (!rc && keep_map && do_res) rc = mist_model_set_quantile_map(m, targets, taus, NTARGET, &err);
    char note[256];
    snprintf(note, sizeof note,
             "%s fitted on %zu datasets of %s (seed %llu); largest distance from the diagonal "
             "on %zu others: %.3f (network %.3f)",
             keep_map ? "quantile_map" : "quantile_resid", o.count, md,
             (unsigned long long)o.seed, o.count, keep_map ? wm : wr, wb);
    if (!rc) rc = mist_model_meta_set_str(m, "quantile_calibration", note, &err);
    if (!rc) rc = mist_model_save(m, out, &err);
    if (rc) {
        cli_error("train calibrate: %s", err.msg);
        mist_model_free(m);
        return 1;
    }
    printf("held-out check (%zu datasets of '%s', seed %llu): share with MI <= q_tau\n", o.count,
           md, (unsigned long long)held.seed);
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
    printf("\nkept: %s\n", keep_map ? "map" : "resid");
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
    for (size_t s = 0; s < count; s++) mist_dataset_free(sets[s]);
    free(sets);
    mist_model_free(m);
    if (rc) {
        cli_error("train validate: %s", err.msg);
        return 1;
    }
    printf("%s: %zu datasets of '%s' (seed %llu): mse %.6f  pinball %.6f\n", in, count,
           c.metadist, (unsigned long long)c.val_seed, mse, pb);
    return 0;
}
