/* mist info: what a weights file (or a safetensors checkpoint) holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mist_infer.h"
#include "opts.h"

static void info_usage(FILE *f)
{
    fputs("usage: mist info FILE [--tensors] [--meta]\n"
          "\n"
          "FILE is a mist weights file (.msgpack): after validating it completely, prints a short\n"
          "summary: the kind of model, its architecture (as key=value, the keys `mist train\n"
          "--arch` takes), parameter and tensor counts, the range it was trained on, its\n"
          "quantile recalibration and the keys of its metadata. A .safetensors file is listed\n"
          "tensor by tensor instead (name, dtype, shape).\n"
          "\n"
          "options:\n"
          "  --tensors   also list every tensor (name, shape)\n"
          "  --meta      also print the whole metadata (JSON)\n",
          f);
}

/* The top-level keys of a JSON object, with the value when it is short: a summary of the meta
 * that stays a few lines long whatever the meta holds (training curves, calibration tables). */
static void print_meta_keys(const char *js)
{
    const char *p = js;
    while (*p && *p != '{') p++;
    if (!*p) return;
    p++;
    int depth = 1, count = 0;
    while (*p && depth > 0) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ',') p++;
        if (*p != '"') break;
        const char *k = ++p;
        while (*p && *p != '"') p += p[0] == '\\' && p[1] ? 2 : 1;
        int klen = (int)(p - k);
        if (*p) p++;
        while (*p == ' ' || *p == ':') p++;
        /* the value: to the next ',' or '}' at this depth, outside strings */
        const char *v = p;
        int d = 0, instr = 0;
        for (; *p; p++) {
            if (instr) {
                if (*p == '\\' && p[1]) p++;
                else if (*p == '"') instr = 0;
            } else if (*p == '"') instr = 1;
            else if (*p == '{' || *p == '[') d++;
            else if (*p == '}' || *p == ']') {
                if (d == 0) break;
                d--;
            } else if (*p == ',' && d == 0) break;
        }
        size_t vlen = (size_t)(p - v);
        printf("  %.*s: ", klen, k);
        if (vlen <= 60) printf("%.*s\n", (int)vlen, v);
        else printf("(%zu bytes; --meta shows it)\n", vlen);
        count++;
        if (*p == '}') depth = 0;
    }
    if (!count) printf("  (none)\n");
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
    enum { O_TENSORS = 1, O_META };
    static const cli_opt opts[] = {
        {O_TENSORS, "--tensors", NULL, 0}, {O_META, "--meta", NULL, 0}, {0, NULL, NULL, 0}};
    const char *path = NULL, *v;
    int tensors = 0, meta = 0;
    cli_parser p;
    cli_opts_init(&p, "info", opts, argc, argv);
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_ERROR: return 2;
        case CLI_OPT_HELP: info_usage(stdout); return 0;
        case O_TENSORS: tensors = 1; break;
        case O_META: meta = 1; break;
        default:
            if (path) return cli_opts_extra(&p, v);
            path = v;
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
    printf("%s: %s model, %zu parameters in %zu tensors (%s version %d)\n", path,
           a->quantile_conditioned ? "quantile (MIST-QR style)" : "point-estimate",
           mist_model_param_count(m), mist_model_tensor_count(m), MIST_WEIGHTS_FORMAT,
           MIST_WEIGHTS_VERSION);
    printf("arch:"); /* every field of the one arch table, as --arch takes them */
    for (size_t i = 0; i < mist_arch_field_count(); i++) {
        char v[64];
        mist_arch_field_text(a, i, v, sizeof v);
        printf(" %s=%s", mist_arch_field_name(i), v);
    }
    printf("\n");
    printf("trained on: n %lld..%lld, dims %lld..%lld\n", (long long)a->n_min,
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
    printf("meta:\n");
    print_meta_keys(mist_model_meta_json(m));
    if (meta) printf("meta (JSON): %s\n", mist_model_meta_json(m));
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
