/* mist train route: store in a model's weights which second model answers the datasets it
 * reads badly (infer/route.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mist_infer.h"
#include "opts.h"

static void route_usage(FILE *f)
{
    fputs("usage: mist train route WEIGHTS --to SECOND --kappa K [--arbiter R] -o OUT [--quiet]\n"
          "\n"
          "Writes OUT, the model WEIGHTS (split or packed layout) with meta \"route\" (the file\n"
          "name of SECOND) and \"route_kappa\" (K): opened from then on, it hands every dataset\n"
          "with kappa < K (its cross dependence spread over many column pairs), or with more MI\n"
          "by the classical cross-checks than its training meta-distribution reaches, to SECOND,\n"
          "which is looked for next to OUT, then among the shipped models. SECOND must be a model\n"
          "without a route of its own, of the same kind (quantile or point). OUT is opened again\n"
          "before the command succeeds. `mist estimate --route off` skips the route.\n"
          "\n"
          "  --to FILE    the second model (a weights file in OUT's folder, or shipped)\n"
          "  --kappa K    the threshold, in [0, 1]\n"
          "  --arbiter R  meta \"route_arbiter\": a dataset with kappa < K stays with WEIGHTS\n"
          "               when its median lies less than R times as far from the bias-corrected\n"
          "               Gaussian copula as SECOND's, unless KSG reads more than the copula's\n"
          "               upper end; R in (0, 1] (default: no arbiter)\n"
          "  -o, --out    the weights file to write (atomically)\n",
          f);
}

int train_route(int argc, char **argv)
{
    enum { O_OUT = 1, O_TO, O_KAPPA, O_ARBITER, O_QUIET };
    static const cli_opt opts[] = {{O_OUT, "--out", "-o", 1},
                                   {O_TO, "--to", NULL, 1},
                                   {O_KAPPA, "--kappa", NULL, 1},
                                   {O_ARBITER, "--arbiter", NULL, 1},
                                   {O_QUIET, "--quiet", NULL, 0},
                                   {0, NULL, NULL, 0}};
    cli_parser p;
    cli_opts_init(&p, "train route", opts, argc, argv);
    const char *v, *in = NULL, *out = NULL, *to = NULL, *kap = NULL, *arb = NULL; /* as written */
    double k = 0.0, ar = 0.0;
    int quiet = 0;
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_ERROR: return 2;
        case CLI_OPT_HELP: route_usage(stdout); return 0;
        case O_OUT: out = v; break;
        case O_TO: to = v; break;
        case O_KAPPA:
            if (mist_parse_double(v, &k) || !(k >= 0.0 && k <= 1.0))
                return cli_opts_bad(&p, v, "a number in [0, 1]");
            kap = v;
            break;
        case O_ARBITER:
            if (mist_parse_double(v, &ar) || !(ar > 0.0 && ar <= 1.0))
                return cli_opts_bad(&p, v, "a number in (0, 1]");
            arb = v;
            break;
        case O_QUIET: quiet = 1; break;
        case CLI_OPT_ARG:
            if (in) return cli_opts_extra(&p, v);
            in = v;
            break;
        }
    }
    if (!in || !out || !to || !kap) {
        cli_error("train route: usage: mist train route WEIGHTS --to SECOND --kappa K -o OUT");
        return 2;
    }
    const char *slash = strrchr(to, '/'), *name = slash ? slash + 1 : to;
    if (cli_regular_file("train route", in) || cli_regular_file("train route: --to", to)) return 1;
    mist_err err = {0};
    mist_model *m = mist_model_open(in, &err), *alt = m ? mist_model_open(to, &err) : NULL;
    int rc = !m || !alt;
    if (!rc) { /* the pair's compatibility, as the loader will check it */
        rc = mist_model_set_route(m, alt, k, &err);
        if (rc) mist_model_free(alt);
    } else if (m) {
        mist_model_free(m);
        m = NULL;
    }
    if (!rc) rc = mist_model_meta_set_str(m, "route", name, &err);
    if (!rc) rc = mist_model_meta_set_str(m, "route_kappa", kap, &err);
    if (!rc && arb) rc = mist_model_set_route_arbiter(m, ar, &err);
    if (!rc && arb) rc = mist_model_meta_set_str(m, "route_arbiter", arb, &err);
    char had[64]; /* no arbiter asked for: an old one in WEIGHTS' meta is turned off */
    if (!rc && !arb && mist_model_meta_get_str(m, "route_arbiter", had, sizeof had))
        rc = mist_model_meta_set_str(m, "route_arbiter", "0", &err);
    if (!rc) rc = mist_model_save(m, out, &err);
    mist_model_free(m);
    mist_model *check = rc ? NULL : mist_model_open(out, &err);
    if (!rc && !check) {
        cli_error("train route: wrote '%s', but it does not open: %s", out, err.msg);
        return 1;
    }
    mist_model_free(check);
    if (rc) {
        cli_error("train route: %s", err.msg);
        return 1;
    }
    if (!quiet)
        printf("wrote %s: datasets with kappa < %s (or beyond its trained MI) go to %s%s%s%s\n",
               out, kap, name, arb ? " (arbiter: they stay where its reading is " : "",
               arb ? arb : "", arb ? " times as far from the copula's)" : "");
    return 0;
}
