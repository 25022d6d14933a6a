/* Writes seed inputs for the fuzz targets into DIR/weights/ and DIR/safetensors/: small valid
 * weights files (packed QR, split point) and small official-layout safetensors checkpoints
 * (with and without a config prefix, see fuzz_safetensors.c).
 * usage: fuzz_seeds DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "infer_internal.h"
#include "mist_infer.h"

static void small(mist_arch *a, int qc, int layout)
{
    mist_arch_official(a, qc);
    a->input_layout = layout;
    a->max_input_dim = 4;
    a->max_dx = a->max_dy = 2;
    a->D = 8, a->H = 2, a->ff = 12, a->n_inds = 3, a->n_seeds = 2;
    a->n_feature_sab = 1, a->n_isab = 1, a->n_dec = 1, a->n_rho = 2, a->rho_hidden = 4;
}

static int write_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) return -1;
    return fclose(f);
}

/* official layout safetensors of m, optionally prefixed with 'C' L config */
static unsigned char *official(const mist_model *m, const char *cfg, size_t *len)
{
    size_t hcap = 1 << 16, hl = 0, dl = 0;
    char *h = malloc(hcap);
    hl += (size_t)snprintf(h, hcap, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < m->ntensors; i++) {
        const tensor_spec *t = &m->table[i];
        hl += (size_t)snprintf(h + hl, hcap - hl, ",\"core.%s\":{\"dtype\":\"F32\",\"shape\":[",
                               t->name);
        for (int d = 0; d < t->ndim; d++)
            hl += (size_t)snprintf(h + hl, hcap - hl, "%s%lld", d ? "," : "",
                                   (long long)t->shape[d]);
        hl += (size_t)snprintf(h + hl, hcap - hl, "],\"data_offsets\":[%zu,%zu]}", dl * 4,
                               (dl + t->numel) * 4);
        dl += t->numel;
    }
    hl += (size_t)snprintf(h + hl, hcap - hl, "}");
    size_t pre = cfg ? 2 + strlen(cfg) : 0;
    unsigned char *out = malloc(pre + 8 + hl + dl * 4);
    if (cfg) {
        out[0] = 'C';
        out[1] = (unsigned char)strlen(cfg);
        memcpy(out + 2, cfg, strlen(cfg));
    }
    for (int i = 0; i < 8; i++) out[pre + i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(out + pre + 8, h, hl);
    memcpy(out + pre + 8 + hl, m->params, dl * 4);
    *len = pre + 8 + hl + dl * 4;
    free(h);
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/weights", argv[1]);
    mkdir(argv[1], 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/safetensors", argv[1]);
    mkdir(path, 0755);
    mist_err err;
    for (int v = 0; v < 2; v++) {
        mist_arch a;
        small(&a, v == 0, v == 0 ? MIST_LAYOUT_PACKED : MIST_LAYOUT_SPLIT);
        mist_model *m = mist_model_create_random(&a, 1 + (uint64_t)v, &err);
        if (!m || mist_model_meta_set_str(m, "seed", "fuzz", &err)) return 1;
        snprintf(path, sizeof path, "%s/weights/seed%d.msgpack", argv[1], v);
        if (mist_model_save(m, path, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        if (v == 0) { /* the same QR model with each kind of quantile recalibration */
            static const double L[3] = {0.1, 0.5, 0.9}, T[3] = {0.12, 0.55, 0.93},
                                V[6] = {-1, 0, 1, -2, 0.1, 2};
            static const int64_t B[1] = {50};
            mist_qresid qr = {0.25, 0.75, 2, B, 3, L, V};
            snprintf(path, sizeof path, "%s/weights/seed-map.msgpack", argv[1]);
            if (mist_model_set_quantile_map(m, L, T, 3, &err) || mist_model_save(m, path, &err))
                return 1;
            snprintf(path, sizeof path, "%s/weights/seed-resid.msgpack", argv[1]);
            if (mist_model_set_quantile_resid(m, &qr, &err) || mist_model_save(m, path, &err))
                return 1;
            if (mist_model_set_quantile_resid(m, NULL, &err)) return 1;
        }
        if (v == 0) {
            char cfg[255];
            snprintf(cfg, sizeof cfg,
                     "{\"n_phi_layers\":1,\"phi_hidden_dim\":8,\"n_phi_heads\":2,"
                     "\"phi_dim_forward\":12,\"phi_activation_fun\":\"gelu\",\"n_rho_layers\":2,"
                     "\"rho_hidden_dim\":4,\"n_inds\":3,\"n_seeds\":2,\"n_dec_layers\":1,"
                     "\"sab_stack_layers\":1,\"max_input_dim\":4,\"quantile_conditioned\":true}");
            for (int c = 0; c < 2; c++) {
                size_t len;
                unsigned char *b = official(m, c ? cfg : NULL, &len);
                snprintf(path, sizeof path, "%s/safetensors/seed%d.bin", argv[1], c);
                if (write_file(path, b, len)) return 1;
                free(b);
            }
        }
        mist_model_free(m);
    }
    printf("seeds written under %s\n", argv[1]);
    return 0;
}
