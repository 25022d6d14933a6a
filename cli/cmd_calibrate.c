/* mist train calibrate: fit the quantile recalibration map of a quantile model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mist_infer.h"
#include "mist_train.h"
#include "opts.h"
#include "progress.h"

static void calibrate_usage(FILE *f)
{
    fputs("usage: mist train calibrate WEIGHTS -o OUT [--method auto|map|resid] [--count N]\n"
          "             [--seed S] [--metadist NAME] [--n-range A-B] [--n-groups B1,B2,...]\n"
          "             [--columns canonical|as_given] [--quiet]\n"
          "\n"
          "Recalibrates the quantiles of a quantile model on fresh datasets of a\n"
          "meta-distribution (by default the model's training one) and writes OUT, the model\n"
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
          "  --metadist NAME  meta-distribution (default: the model's training one, its meta\n"
          "                   \"metadist\"; 'default' when it has none)\n"
          "  --n-range A-B    rows per dataset (default: the n range the model was trained on)\n"
          "  --n-groups LIST  upper bounds of the n-groups of resid (default 25,50,100,200,350:\n"
          "                   10-25, 26-50, 51-100, 101-200, 201-350, 351-500)\n"
          "  --columns C      canonical: OUT reads every dataset with its columns in a canonical\n"
          "                   order and sign, X/Y symmetrised (meta \"columns\"; the fit is\n"
          "                   made that way); as_given: as they come. Default: as WEIGHTS does\n",
          f);
}

static int parse_groups(const char *s, int64_t *b, size_t *nb)
{
    char buf[512];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    size_t k = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (k == MIST_CALIB_MAX_GROUPS - 1 || mist_parse_u64(t, &v) || v < 2 || v > 100000000 ||
            (k && (int64_t)v <= b[k - 1]))
            return -1;
        b[k++] = (int64_t)v;
    }
    *nb = k;
    return 0;
}

int train_calibrate(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *method = "auto";
    mist_calibrate_opts o;
    mist_calibrate_opts_default(&o);
    int64_t bounds[MIST_CALIB_MAX_GROUPS];
    enum { O_OUT = 1, O_COUNT, O_SEED, O_MD, O_METHOD, O_NRANGE, O_NGROUPS, O_QUIET, O_COLS };
    static const cli_opt opts[] = {{O_OUT, "--out", "-o", 1},
                                   {O_COUNT, "--count", NULL, 1},
                                   {O_SEED, "--seed", NULL, 1},
                                   {O_MD, "--metadist", NULL, 1},
                                   {O_METHOD, "--method", NULL, 1},
                                   {O_NRANGE, "--n-range", NULL, 1},
                                   {O_NGROUPS, "--n-groups", NULL, 1},
                                   {O_QUIET, "--quiet", NULL, 0},
                                   {O_COLS, "--columns", NULL, 1},
                                   {0, NULL, NULL, 0}};
    cli_parser p;
    cli_opts_init(&p, "train calibrate", opts, argc, argv);
    const char *v, *columns = NULL;
    int quiet = 0;
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        uint64_t lo, hi;
        switch (id) {
        case CLI_OPT_ERROR: return 2;
        case CLI_OPT_HELP: calibrate_usage(stdout); return 0;
        case O_OUT: out = v; break;
        case O_COUNT:
            if (cli_parse_size(v, 16, 1u << 22, &o.count)) return cli_opts_bad(&p, v, "16..4194304");
            break;
        case O_SEED:
            if (mist_parse_u64(v, &o.seed)) return cli_opts_bad(&p, v, "a 64-bit seed");
            break;
        case O_MD: o.metadist = v; break;
        case O_METHOD:
            method = v;
            if (strcmp(method, "auto") && strcmp(method, "map") && strcmp(method, "resid"))
                return cli_opts_bad(&p, v, "auto, map or resid");
            o.method = !strcmp(method, "map")     ? MIST_CALIB_MAP
                       : !strcmp(method, "resid") ? MIST_CALIB_RESID
                                                  : MIST_CALIB_AUTO;
            break;
        case O_NRANGE:
            if (cli_parse_range(v, &lo, &hi) || lo < 2 || hi > 1000000)
                return cli_opts_bad(&p, v, "A-B with 2 <= A <= B <= 1000000");
            o.n_min = (int64_t)lo, o.n_max = (int64_t)hi;
            break;
        case O_NGROUPS:
            if (parse_groups(v, bounds, &o.n_ngroups)) return cli_opts_bad(&p, v, "increasing bounds");
            o.n_groups = bounds;
            break;
        case O_QUIET: quiet = 1; break;
        case O_COLS:
            if (strcmp(v, "canonical") && strcmp(v, "as_given"))
                return cli_opts_bad(&p, v, "canonical or as_given");
            columns = v;
            break;
        default:
            if (in) return cli_opts_extra(&p, v);
            in = v;
        }
    }
    if (!in || !out) {
        cli_error("train calibrate: usage: mist train calibrate WEIGHTS -o OUT");
        return 2;
    }
    if (cli_regular_file("train calibrate", in)) return 1;
    mist_err err = {0};
    mist_model *m = mist_model_open(in, &err);
    if (!m) {
        cli_error("train calibrate: %s", err.msg);
        return 1;
    }
    /* the fit is of this network's quantiles; OUT keeps the route meta (and so the route) */
    mist_model_set_route(m, NULL, 0.0, NULL);
    if (!mist_model_arch(m)->quantile_conditioned) {
        cli_error("train calibrate: '%s' is a point model: only quantile models are calibrated",
                  in);
        mist_model_free(m);
        return 2;
    }
    if (columns) {
        if (mist_model_meta_set_str(m, "columns", columns, &err)) {
            cli_error("train calibrate: %s", err.msg);
            mist_model_free(m);
            return 1;
        }
        mist_model_set_col_canon(m, !strcmp(columns, "canonical"));
    }
    mist_calibrate_report r;
    /* one library call that draws and runs tens of thousands of datasets: a time line */
    cli_progress *prog = cli_progress_start("train calibrate", quiet);
    int rc = mist_calibrate_model(m, &o, &r, &err);
    cli_progress_stop(prog);
    if (!rc) rc = mist_model_save(m, out, &err);
    if (rc) {
        cli_error("train calibrate: %s", err.msg);
        mist_model_free(m);
        return 1;
    }
    int do_map = o.method != MIST_CALIB_RESID, do_res = o.method != MIST_CALIB_MAP;
    printf("held-out check (%zu datasets of '%s', n %lld-%lld, seed %llu): share with MI <= q_tau\n",
           r.count, r.metadist, (long long)r.n_min, (long long)r.n_max,
           (unsigned long long)r.held_seed);
    printf("tau    network%s%s\n", do_map ? "   map" : "", do_res ? "     resid" : "");
    for (int j = 0; j < MIST_CALIB_NCHECK; j++) {
        printf("%.2f   %.3f  ", r.check[j], r.network[j]);
        if (do_map) printf("   %.3f", r.map[j]);
        if (do_res) printf("     %.3f", r.resid[j]);
        printf("\n");
    }
    printf("largest distance from the diagonal: network %.3f", r.worst_network);
    if (do_map) printf(", map %.3f", r.worst_map);
    if (do_res) printf(", resid %.3f", r.worst_resid);
    printf("\n90%% interval coverage by n-group (held out, %zu datasets each):\n", r.group_count);
    printf("n          network%s%s\n", do_map ? "   map" : "", do_res ? "     resid" : "");
    for (size_t g = 0; g < r.ngroups; g++) {
        printf("%4lld-%-4lld  %.3f  ", (long long)r.group_lo[g], (long long)r.group_hi[g],
               r.group_cover[0][g]);
        if (do_map) printf("   %.3f", r.group_cover[1][g]);
        if (do_res) printf("     %.3f", r.group_cover[2][g]);
        printf("\n");
    }
    printf("kept: %s\n", r.kept_map ? "map" : "resid");
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
    enum { O_COUNT = 1, O_SEED, O_MD, O_QUIET };
    static const cli_opt opts[] = {{O_COUNT, "--count", NULL, 1},
                                   {O_SEED, "--seed", NULL, 1},
                                   {O_MD, "--metadist", NULL, 1},
                                   {O_QUIET, "--quiet", NULL, 0},
                                   {0, NULL, NULL, 0}};
    cli_parser p;
    cli_opts_init(&p, "train validate", opts, argc, argv);
    const char *v;
    int quiet = 0;
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        size_t cnt;
        switch (id) {
        case CLI_OPT_ERROR: return 2;
        case CLI_OPT_HELP:
            fputs("usage: mist train validate WEIGHTS [--count N] [--seed S] [--metadist NAME]\n"
                  "                                   [--quiet]\n"
                  "\n"
                  "MSE of the estimate (the median for a quantile model) and mean pinball loss\n"
                  "over tau 0.05, 0.25, 0.5, 0.75, 0.95 on N fresh datasets of the\n"
                  "meta-distribution (default 'default', N 2048), drawn like the training\n"
                  "validation suite but from seed S (default 124131010): compare models or\n"
                  "checkpoints without touching the benchmark suites. A progress line shows on\n"
                  "stderr past 2 s (--quiet: none).\n",
                  stdout);
            return 0;
        case O_COUNT:
            if (cli_parse_size(v, 1, 1u << 22, &cnt)) return cli_opts_bad(&p, v, "1..4194304");
            c.val_count = (int)cnt;
            break;
        case O_SEED:
            if (mist_parse_u64(v, &c.val_seed)) return cli_opts_bad(&p, v, "a 64-bit seed");
            break;
        case O_MD:
            if (strlen(v) >= sizeof c.metadist) return cli_opts_bad(&p, v, "a shorter name");
            strcpy(c.metadist, v);
            break;
        case O_QUIET: quiet = 1; break;
        default:
            if (in) return cli_opts_extra(&p, v);
            in = v;
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
    cli_progress *prog = cli_progress_start("train validate", quiet);
    char stage[64];
    snprintf(stage, sizeof stage, "drawing %d datasets", c.val_count);
    cli_progress_stage(prog, stage);
    int rc = mist_stream_validation(&c, &sets, &count, &err);
    cli_progress_stage(prog, "running the model");
    if (!rc) rc = mist_validate(m, sets, count, &mse, &pb, &err);
    cli_progress_stop(prog);
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
