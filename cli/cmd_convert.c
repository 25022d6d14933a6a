/* mist convert: an official MIST / MIST-QR checkpoint (model.safetensors + config.json, as
 * published on Hugging Face) into a mist weights file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mist_infer.h"
#include "opts.h"

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
          "  -o, --out FILE    the weights file to write (atomically; --output is the same)\n"
          "  --heads H         without any config.json: the number of attention heads (the one\n"
          "                    setting that cannot be read off the tensor shapes)\n"
          "  --activation A    without config.json: gelu (default) or relu\n"
          "  --quiet           print nothing on success\n",
          f);
}

int cmd_convert(int argc, char **argv)
{
    enum { O_CONFIG = 1, O_OUT, O_HEADS, O_ACT, O_QUIET };
    static const cli_opt opts[] = {{O_CONFIG, "--config", NULL, 1},
                                   {O_OUT, "--out", "-o", 1},
                                   {O_OUT, "--output", NULL, 1},
                                   {O_HEADS, "--heads", NULL, 1},
                                   {O_ACT, "--activation", NULL, 1},
                                   {O_QUIET, "--quiet", NULL, 0},
                                   {0, NULL, NULL, 0}};
    const char *in = NULL, *config = NULL, *out = NULL, *v;
    int quiet = 0;
    mist_convert_opts o = {0, MIST_ACT_GELU};
    cli_parser p;
    cli_opts_init(&p, "convert", opts, argc, argv);
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_ERROR: return 2;
        case CLI_OPT_HELP: convert_usage(stdout); return 0;
        case O_CONFIG: config = v; break;
        case O_OUT: out = v; break;
        case O_HEADS:
            if (mist_parse_int(v, 1, 8192, &o.heads)) return cli_opts_bad(&p, v, "1..8192");
            break;
        case O_ACT:
            if (!strcmp(v, "gelu")) o.activation = MIST_ACT_GELU;
            else if (!strcmp(v, "relu")) o.activation = MIST_ACT_RELU;
            else return cli_opts_bad(&p, v, "gelu or relu");
            break;
        case O_QUIET: quiet = 1; break;
        default:
            if (in) return cli_opts_extra(&p, v);
            in = v;
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
