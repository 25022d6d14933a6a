/* mist info: what a weights file (or a safetensors checkpoint) holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mist_infer.h"

static void info_usage(FILE *f)
{
    fputs("usage: mist info FILE [--tensors]\n"
          "\n"
          "FILE is a mist weights file (.msgpack): prints its architecture, parameter and tensor\n"
          "counts and its metadata, after validating it completely. A .safetensors file is\n"
          "listed tensor by tensor instead (name, dtype, shape).\n"
          "\n"
          "options:\n"
          "  --tensors   also list every tensor of a weights file (name, shape)\n",
          f);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static void print_shape(int ndim, const int64_t *shape)
{
    printf("[");
    for (int i = 0; i < ndim; i++) printf("%s%lld", i ? ", " : "", (long long)shape[i]);
    printf("]");
}

static int info_safetensors(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("info: cannot open '%s'", path);
        return 1;
    }
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? 2 * cap : 1 << 20;
            unsigned char *g = realloc(buf, nc);
            if (!g) {
                free(buf);
                fclose(f);
                cli_error("info: out of memory");
                return 1;
            }
            buf = g, cap = nc;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        cli_error("info: cannot read '%s'", path);
        return 1;
    }
    mist_safetensors st;
    mist_err err = {0};
    if (mist_safetensors_parse(buf, len, path, &st, &err)) {
        free(buf);
        cli_error("info: %s", err.msg);
        return 1;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < st.ntensors; i++) total += st.tensors[i].numel;
    printf("file: %s (safetensors, %zu bytes)\ntensors: %zu\nelements: %llu\n", path, len,
           st.ntensors, (unsigned long long)total);
    if (st.metadata_json) printf("metadata: %s\n", st.metadata_json);
    for (size_t i = 0; i < st.ntensors; i++) {
        printf("  %-64s %-4s ", st.tensors[i].name, mist_st_dtype_name(st.tensors[i].dtype));
        print_shape(st.tensors[i].ndim, st.tensors[i].shape);
        printf("\n");
    }
    mist_safetensors_free(&st);
    free(buf);
    return 0;
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int tensors = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            info_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--tensors")) {
            tensors = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_error("info: unknown option '%s' (run `mist info --help`)", argv[i]);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            cli_error("info: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!path) {
        cli_error("info: a FILE is required (run `mist info --help`)");
        return 2;
    }
    if (cli_regular_file("info", path)) return 1;
    if (ends_with(path, ".safetensors")) return info_safetensors(path);
    mist_err err = {0};
    mist_model *m = mist_model_open(path, &err);
    if (!m) {
        cli_error("info: %s", err.msg);
        return 1;
    }
    const mist_arch *a = mist_model_arch(m);
    printf("file: %s\n", path);
    printf("format: %s version %d\n", MIST_WEIGHTS_FORMAT, MIST_WEIGHTS_VERSION);
    printf("model: %s\n", a->quantile_conditioned ? "quantile-conditioned (gives quantiles)"
                                                  : "point estimate");
    printf("parameters: %zu\n", mist_model_param_count(m));
    printf("tensors: %zu\n", mist_model_tensor_count(m));
    printf("arch:\n");
    printf("  input_layout: %s\n", mist_layout_name(a->input_layout));
    printf("  preprocess: %s\n", mist_prep_name(a->preprocess));
    printf("  max_input_dim: %d\n", a->max_input_dim);
    printf("  max_dx: %d\n  max_dy: %d\n", a->max_dx, a->max_dy);
    printf("  D: %d\n  H: %d\n  ff: %d\n", a->D, a->H, a->ff);
    printf("  n_inds: %d\n  n_seeds: %d\n", a->n_inds, a->n_seeds);
    printf("  n_feature_sab: %d\n  n_isab: %d\n  n_dec: %d\n", a->n_feature_sab, a->n_isab,
           a->n_dec);
    printf("  n_rho: %d\n  rho_hidden: %d\n", a->n_rho, a->rho_hidden);
    printf("  quantile_conditioned: %s\n", a->quantile_conditioned ? "true" : "false");
    printf("  activation: %s\n", mist_act_name(a->activation));
    printf("  ln_eps: %g\n", a->ln_eps);
    printf("  trained n: %lld..%lld\n  trained d: %lld..%lld\n", (long long)a->n_min,
           (long long)a->n_max, (long long)a->d_min, (long long)a->d_max);
    mist_qresid qr;
    if (mist_model_quantile_map(m, NULL, NULL))
        printf("quantile recalibration: level map, %zu knots (meta \"quantile_map\")\n",
               mist_model_quantile_map(m, NULL, NULL));
    else if (mist_model_quantile_resid(m, &qr)) {
        printf("quantile recalibration: median + spread x residual quantiles (meta "
               "\"quantile_resid\"), spread q%g-q%g, %zu knots, n-groups:",
               100 * qr.lo, 100 * qr.hi, qr.k);
        for (size_t g = 0; g + 1 < qr.ngroups; g++) printf(" n <= %lld,", (long long)qr.n_upper[g]);
        printf(" %s\n", qr.ngroups > 1 ? "larger n" : "all n");
    } else if (a->quantile_conditioned)
        printf("quantile recalibration: none (the network's own quantiles)\n");
    printf("meta: %s\n", mist_model_meta_json(m));
    printf("runtime: OpenBLAS %s kernels\n", mist_infer_blas_core());
    if (tensors) {
        for (size_t i = 0; i < mist_model_tensor_count(m); i++) {
            const char *name;
            int ndim;
            const int64_t *shape;
            mist_model_tensor_info(m, i, &name, &ndim, &shape, NULL);
            printf("  %-64s ", name);
            print_shape(ndim, shape);
            printf("\n");
        }
    }
    mist_model_free(m);
    return 0;
}
