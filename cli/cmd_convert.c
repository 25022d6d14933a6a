/* mist convert: an official MIST / MIST-QR checkpoint (model.safetensors + config.json, as
 * published on Hugging Face) into a mist weights file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mist_infer.h"

static void convert_usage(FILE *f)
{
    fputs("usage: mist convert model.safetensors [--config config.json] -o OUT.msgpack\n"
          "\n"
          "Turns an official MIST or MIST-QR checkpoint (PyTorchModelHubMixin: model.safetensors\n"
          "and its config.json) into a mist weights file (input layout packed, no preprocessing)\n"
          "for `mist estimate --method mist --weights OUT.msgpack`. The safetensors file is\n"
          "validated completely; every tensor must match the architecture the config describes\n"
          "(missing or extra tensors are named).\n"
          "\n"
          "options:\n"
          "  --config FILE     the checkpoint's config.json (default: config.json next to the\n"
          "                    safetensors file, when there is one)\n"
          "  -o, --output FILE the weights file to write (atomically)\n"
          "  --heads H         without any config.json: the number of attention heads (the one\n"
          "                    setting that cannot be read off the tensor shapes)\n"
          "  --activation A    without config.json: gelu (default) or relu\n"
          "  --quiet           print nothing on success\n",
          f);
}

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *config = NULL, *out = NULL;
    int quiet = 0;
    mist_convert_opts o = {0, MIST_ACT_GELU};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
#define VALUE (v ? (i++, v) : (bad = 1, (const char *)NULL))
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            convert_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--config")) config = VALUE;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = VALUE;
        else if (!strcmp(a, "--heads")) bad = cli_parse_int(VALUE, 1, 8192, &o.heads);
        else if (!strcmp(a, "--activation")) {
            const char *s = VALUE;
            if (s && !strcmp(s, "gelu")) o.activation = MIST_ACT_GELU;
            else if (s && !strcmp(s, "relu")) o.activation = MIST_ACT_RELU;
            else bad = 1;
        } else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (a[0] == '-' && a[1] != '\0') {
            cli_error("convert: unknown option '%s' (run `mist convert --help`)", a);
            return 2;
        } else if (!in) in = a;
        else {
            cli_error("convert: unexpected argument '%s'", a);
            return 2;
        }
#undef VALUE
        if (bad) {
            cli_error("convert: bad or missing value for %s (run `mist convert --help`)", a);
            return 2;
        }
    }
    if (!in || !out) {
        cli_error("convert: %s (run `mist convert --help`)",
                  !in ? "a model.safetensors file is required" : "-o OUT.msgpack is required");
        return 2;
    }
    if (cli_regular_file("convert", in) || (config && cli_regular_file("convert: --config", config)))
        return 1;
    mist_err err = {0};
    mist_model *m = NULL;
    if (mist_convert_official(in, config, out, &o, &m, &err)) {
        cli_error("convert: %s", err.msg);
        return 1;
    }
    if (!quiet) {
        const mist_arch *a = mist_model_arch(m);
        printf("%s: %s, %zu parameters in %zu tensors (D %d, %d heads, ff %d, input width %d) "
               "-> %s\n",
               in, a->quantile_conditioned ? "MIST-QR (quantile-conditioned)" : "MIST (point)",
               mist_model_param_count(m), mist_model_tensor_count(m), a->D, a->H, a->ff,
               a->max_input_dim, out);
    }
    mist_model_free(m);
    return 0;
}
