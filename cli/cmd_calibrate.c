/* mist train calibrate: fit the quantile recalibration map of a quantile model. */
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
    fputs("usage: mist train calibrate WEIGHTS -o OUT [--count N] [--seed S] [--metadist NAME]\n"
          "\n"
          "Measures how often the true MI falls below each quantile of a quantile model on N\n"
          "fresh datasets of the meta-distribution (default: 'default', the training one),\n"
          "fits the map tau -> tau' that makes the tau-quantile the network's output at tau'\n"
          "(quantile recalibration), checks it on another N datasets (seed S+1) and writes\n"
          "OUT: the model with the map in its meta (\"quantile_map\"). `mist estimate` and\n"
          "`mist bench` apply it; raw quantiles (--raw-quantiles) do not.\n"
          "\n"
          "  --count N        datasets for the fit and for the check (default 8192)\n"
          "  --seed S         seed of the calibration datasets (default 6513004); keep it away\n"
          "                   from the run's --val-seed\n"
          "  --metadist NAME  meta-distribution (default 'default')\n"
          "  --n-range A-B    rows per dataset (default: the meta-distribution's own)\n",
          f);
}

int train_calibrate(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *md = "default";
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
        else if (!strcmp(a, "--n-range") && v) {
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
    double grid[NGRID], cover[NGRID], targets[NTARGET], taus[NTARGET];
    double check[NCHECK], before[NCHECK], after[NCHECK];
    for (int j = 0; j < NGRID; j++) grid[j] = 0.005 * (j + 1);
    targets[0] = 0.005, targets[NTARGET - 1] = 0.995;
    for (int j = 1; j < NTARGET - 1; j++) targets[j] = 0.01 * j;
    for (int j = 0; j < NCHECK; j++) check[j] = 0.05 * (j + 1);
    mist_calib_opts held = o;
    held.seed = o.seed + 1;
    int rc = mist_model_set_quantile_map(m, NULL, NULL, 0, &err); /* fit the bare network */
    if (!rc) rc = mist_quantile_coverage(m, &o, grid, NGRID, cover, &err);
    if (!rc) rc = mist_quantile_coverage(m, &held, check, NCHECK, before, &err);
    if (!rc) rc = mist_quantile_map_fit(grid, cover, NGRID, targets, NTARGET, taus, &err);
    if (!rc) rc = mist_model_set_quantile_map(m, targets, taus, NTARGET, &err);
    if (!rc) rc = mist_quantile_coverage(m, &held, check, NCHECK, after, &err);
    char note[256];
    snprintf(note, sizeof note, "metadist %s, seed %llu, %zu datasets", md,
             (unsigned long long)o.seed, o.count);
    if (!rc) rc = mist_model_meta_set_str(m, "quantile_map_fit", note, &err);
    if (!rc) rc = mist_model_save(m, out, &err);
    if (rc) {
        cli_error("train calibrate: %s", err.msg);
        mist_model_free(m);
        return 1;
    }
    printf("held-out check (%zu datasets of '%s', seed %llu): share with MI <= q_tau\n", o.count,
           md, (unsigned long long)held.seed);
    printf("tau    network  recalibrated  (network level used)\n");
    for (int j = 0; j < NCHECK; j++) {
        const double *L, *T;
        size_t k = mist_model_quantile_map(m, &L, &T);
        double used = check[j];
        for (size_t i = 0; i < k; i++)
            if (L[i] > check[j] - 1e-12 && L[i] < check[j] + 1e-12) used = T[i];
        printf("%.2f   %.3f    %.3f         %.4f\n", check[j], before[j], after[j], used);
    }
    double worst_b = 0, worst_a = 0;
    for (int j = 0; j < NCHECK; j++) {
        double db = before[j] - check[j], da = after[j] - check[j];
        if (db < 0) db = -db;
        if (da < 0) da = -da;
        if (db > worst_b) worst_b = db;
        if (da > worst_a) worst_a = da;
    }
    printf("largest distance from the diagonal: network %.3f, recalibrated %.3f\n", worst_b,
           worst_a);
    fprintf(stderr, "wrote %s\n", out);
    mist_model_free(m);
    return 0;
}
