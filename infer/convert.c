/* Import of the official MIST / MIST-QR checkpoints (Hugging Face PyTorchModelHubMixin:
 * model.safetensors + config.json) into a mist model: input_layout packed, preprocess none.
 *
 * config.json holds MISTForHF's constructor arguments (grgera/mist,
 * src/mist_statinf/model/modeling_hf.py): n_phi_layers (ISAB layers), phi_hidden_dim (D),
 * n_phi_heads (H), phi_dim_forward (ISAB ff), phi_activation_fun, n_rho_layers, rho_hidden_dim,
 * n_inds, n_seeds, n_dec_layers, sab_stack_layers (feature SABs), max_input_dim, output_dim,
 * phi_model, quantile_conditioned (+ repo_url, license). As in MISTModel (model/estimator.py),
 * a null/0 n_seeds means n_inds and a null/0 n_dec_layers means n_phi_layers. The tensor names
 * are MISTModel's state_dict names under the wrapper's "core." prefix; ours are the same names
 * without it (arch.c), so the mapping is "core." + our name, tensor by tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "infer_internal.h"
#include "io_internal.h"

#define CONFIG_MAX_BYTES (1u << 20)

static const mist_json *jget(const mist_json *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key)) return &o->items[i];
    return NULL;
}

/* An integer setting: required ones must be present; null or 0 gives *out = 0 when
 * allow_zero. */
static int jint(const mist_json *o, const char *key, int required, int allow_null, int *out,
                const char *name, mist_err *err)
{
    const mist_json *v = jget(o, key);
    if (!v) {
        if (required)
            return mist_fail(err, MIST_EFORMAT, "'%s': config has no \"%s\"", name, key);
        return MIST_OK;
    }
    if (v->type == MIST_JSON_NULL && allow_null) {
        *out = 0;
        return MIST_OK;
    }
    uint64_t u;
    if (mist_json_u64(v, &u) || u > 1000000)
        return mist_fail(err, MIST_EFORMAT, "'%s': config \"%s\" is not a valid count", name, key);
    *out = (int)u;
    return MIST_OK;
}

static int arch_from_config(const char *cfg, size_t len, const char *name, mist_arch *a,
                            mist_err *err)
{
    mist_json root;
    int rc = mist_json_parse(name, cfg, len, &root, err);
    if (rc) return rc;
    if (root.type != MIST_JSON_OBJ) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': config is not a JSON object", name);
        goto out;
    }
    int n_phi = 0, n_seeds = 0, n_dec = 0, out_dim = 1;
    if ((rc = jint(&root, "n_phi_layers", 1, 0, &n_phi, name, err)) ||
        (rc = jint(&root, "phi_hidden_dim", 1, 0, &a->D, name, err)) ||
        (rc = jint(&root, "n_phi_heads", 1, 0, &a->H, name, err)) ||
        (rc = jint(&root, "phi_dim_forward", 1, 0, &a->ff, name, err)) ||
        (rc = jint(&root, "n_rho_layers", 1, 0, &a->n_rho, name, err)) ||
        (rc = jint(&root, "rho_hidden_dim", 1, 0, &a->rho_hidden, name, err)) ||
        (rc = jint(&root, "n_inds", 1, 0, &a->n_inds, name, err)) ||
        (rc = jint(&root, "n_seeds", 0, 1, &n_seeds, name, err)) ||
        (rc = jint(&root, "n_dec_layers", 0, 1, &n_dec, name, err)) ||
        (rc = jint(&root, "sab_stack_layers", 1, 0, &a->n_feature_sab, name, err)) ||
        (rc = jint(&root, "max_input_dim", 1, 0, &a->max_input_dim, name, err)) ||
        (rc = jint(&root, "output_dim", 0, 0, &out_dim, name, err)))
        goto out;
    a->n_isab = n_phi;
    a->n_seeds = n_seeds ? n_seeds : a->n_inds;
    a->n_dec = n_dec ? n_dec : n_phi;
    if (out_dim != 1) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': output_dim = %d; only 1 is supported", name,
                       out_dim);
        goto out;
    }
    const mist_json *v = jget(&root, "phi_activation_fun");
    if (!v || v->type != MIST_JSON_STR) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': config has no phi_activation_fun string", name);
        goto out;
    }
    /* architecture.py MAB: "gelu" or "Gelu" -> GELU, anything else -> ReLU; we accept the
     * spellings that mean ReLU explicitly and reject the rest as a likely mistake. */
    if (!strcmp(v->str, "gelu") || !strcmp(v->str, "Gelu")) a->activation = MIST_ACT_GELU;
    else if (!strcmp(v->str, "relu") || !strcmp(v->str, "ReLU") || !strcmp(v->str, "Relu"))
        a->activation = MIST_ACT_RELU;
    else {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': unknown phi_activation_fun \"%.32s\"", name,
                       v->str);
        goto out;
    }
    v = jget(&root, "phi_model");
    if (v && (v->type != MIST_JSON_STR || strcmp(v->str, "set_transformer") != 0)) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': phi_model must be \"set_transformer\"", name);
        goto out;
    }
    v = jget(&root, "quantile_conditioned");
    if (v && v->type != MIST_JSON_BOOL) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': quantile_conditioned must be true or false",
                       name);
        goto out;
    }
    a->quantile_conditioned = v ? v->boolean : 0;
out:
    mist_json_free(&root);
    return rc;
}

/* dims of tensor (prefix + name), or -1 when absent / of other rank */
static int64_t dim_of(const mist_safetensors *st, const char *prefix, const char *name, int ndim,
                      int axis)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    const mist_st_tensor *t = mist_safetensors_find(st, full);
    if (!t || t->ndim != ndim || t->shape[axis] > MIST_MAX_WIDTH * 4) return -1;
    return t->shape[axis];
}

static int count_layers(const mist_safetensors *st, const char *prefix, const char *fmt, int mul)
{
    int n = 0;
    for (; n <= MIST_MAX_LAYERS; n++) {
        char nm[160];
        snprintf(nm, sizeof nm, fmt, mul * n);
        char full[256];
        snprintf(full, sizeof full, "%s%s", prefix, nm);
        if (!mist_safetensors_find(st, full)) break;
    }
    return n;
}

static int arch_from_shapes(const mist_safetensors *st, const char *prefix,
                            const mist_convert_opts *o, const char *name, mist_arch *a,
                            mist_err *err)
{
    if (!o || o->heads < 1)
        return mist_fail(err, MIST_EINVAL,
                         "no config.json: the number of attention heads cannot be read off the "
                         "tensor shapes; give the config or the head count (--heads)");
    a->H = o->heads;
    a->activation = o->activation;
    int64_t P = dim_of(st, prefix, "phi.embedding_mlp.0.weight", 2, 1);
    int64_t D = dim_of(st, prefix, "phi.embedding_mlp.4.weight", 2, 0);
    if (P < 1 || D < 1)
        return mist_fail(err, MIST_EFORMAT, "'%s': cannot read the input width and D off the "
                         "embedding tensors", name);
    a->max_input_dim = (int)P;
    a->D = (int)D;
    a->n_feature_sab = count_layers(
        st, prefix, "phi.feature_interaction_block.layers.%d.mab.mha.in_proj_weight", 3);
    a->n_isab = count_layers(st, prefix, "phi.encoder.%d.i", 1);
    if (a->n_isab) {
        int64_t m = dim_of(st, prefix, "phi.encoder.0.i", 3, 1);
        int64_t ff = dim_of(st, prefix, "phi.encoder.0.mab0.linear1.weight", 2, 0);
        if (m < 1 || ff < 1)
            return mist_fail(err, MIST_EFORMAT, "'%s': cannot read n_inds / ff off encoder.0",
                             name);
        a->n_inds = (int)m;
        a->ff = (int)ff;
    }
    int64_t k = dim_of(st, prefix, "phi.pooling_pma.s", 3, 1);
    if (k < 1) return mist_fail(err, MIST_EFORMAT, "'%s': no phi.pooling_pma.s", name);
    a->n_seeds = (int)k;
    /* decoder.0 .. decoder.{n_dec-1} are SABs (mab only), decoder.{n_dec} is the PMA (has s) */
    a->n_dec = count_layers(st, prefix, "phi.decoder.%d.mab.mha.in_proj_weight", 1) - 1;
    if (a->n_dec < 0) a->n_dec = 0;
    a->n_rho = count_layers(st, prefix, "rho.%d.weight", 2);
    int64_t din = dim_of(st, prefix, "rho.0.weight", 2, 1);
    if (a->n_rho < 1 || din < 1) return mist_fail(err, MIST_EFORMAT, "'%s': no rho.0.weight", name);
    a->quantile_conditioned = din == D + 1;
    if (a->n_rho > 1) {
        int64_t rh = dim_of(st, prefix, "rho.0.weight", 2, 0);
        if (rh < 1) return mist_fail(err, MIST_EFORMAT, "'%s': bad rho.0.weight", name);
        a->rho_hidden = (int)rh;
    }
    return MIST_OK;
}

static int cmp_name(const void *a, const void *b)
{
    const mist_st_tensor *const *p = a, *const *q = b;
    return strcmp((*p)->name, (*q)->name);
}

static char *shape_text(char *buf, size_t sz, int ndim, const int64_t *shape)
{
    size_t l = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && l < sz; i++)
        l += (size_t)snprintf(buf + l, sz - l, "%s%lld", i ? ", " : "", (long long)shape[i]);
    return buf;
}

mist_model *mist_import_official_mem(const void *stbuf, size_t st_len, const char *st_name,
                                     const char *config, size_t config_len,
                                     const char *config_name, const mist_convert_opts *opts,
                                     mist_err *err)
{
    if (!st_name) st_name = "model.safetensors";
    if (!config_name) config_name = "config.json";
    mist_safetensors st;
    if (mist_safetensors_parse(stbuf, st_len, st_name, &st, err)) return NULL;
    mist_model *m = NULL;
    const mist_st_tensor **sorted = NULL;
    unsigned char *used = NULL;
    const char *prefix;
    if (mist_safetensors_find(&st, "core.phi.embedding_mlp.0.weight")) prefix = "core.";
    else if (mist_safetensors_find(&st, "phi.embedding_mlp.0.weight")) prefix = "";
    else {
        mist_fail(err, MIST_EFORMAT,
                  "'%s' is not a MIST checkpoint: it has no tensor "
                  "'core.phi.embedding_mlp.0.weight'",
                  st_name);
        goto fail;
    }
    mist_arch a;
    mist_arch_official(&a, 0);
    if (config) {
        if (arch_from_config(config, config_len, config_name, &a, err)) goto fail;
    } else if (arch_from_shapes(&st, prefix, opts, st_name, &a, err)) {
        goto fail;
    }
    a.input_layout = MIST_LAYOUT_PACKED;
    a.preprocess = MIST_PREP_NONE;
    a.max_dx = a.max_dy = a.max_input_dim / 2;
    if (a.max_dx < 1) a.max_dx = a.max_dy = 1; /* validation then reports max_input_dim */
    a.ln_eps = 1e-5;
    mist_err e2;
    if (mist_arch_validate(&a, &e2)) {
        mist_fail(err, MIST_EFORMAT, "'%s': unsupported architecture: %s",
                  config ? config_name : st_name, e2.msg);
        goto fail;
    }
    /* every parameter needs at least 2 bytes of the data section: refuse before allocating */
    size_t np = mist_arch_param_count(&a);
    if (np > st_len / 2) {
        mist_fail(err, MIST_EFORMAT, "'%s': the architecture needs %zu parameters; the file is "
                  "far too small", st_name, np);
        goto fail;
    }
    if (!(m = model_alloc(&a, err))) goto fail;
    sorted = malloc((st.ntensors ? st.ntensors : 1) * sizeof *sorted);
    used = calloc(st.ntensors ? st.ntensors : 1, 1);
    if (!sorted || !used) {
        mist_fail(err, MIST_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < st.ntensors; i++) sorted[i] = &st.tensors[i];
    if (st.ntensors > 1) qsort(sorted, st.ntensors, sizeof *sorted, cmp_name);
    for (size_t t = 0; t < m->ntensors; t++) {
        const tensor_spec *s = &m->table[t];
        char full[MIST_TENSOR_NAME_LEN + 8];
        snprintf(full, sizeof full, "%s%s", prefix, s->name);
        mist_st_tensor key = {.name = full};
        const mist_st_tensor *kp = &key, **hit =
            bsearch(&kp, sorted, st.ntensors, sizeof *sorted, cmp_name);
        char want[96], got[96];
        if (!hit) {
            mist_fail(err, MIST_EFORMAT,
                      "'%s' lacks tensor '%s' (shape [%s]) that the %s architecture needs",
                      st_name, full, shape_text(want, sizeof want, s->ndim, s->shape),
                      config ? "configured" : "inferred");
            goto fail;
        }
        const mist_st_tensor *x = *hit;
        used[x - st.tensors] = 1;
        int same = x->ndim == s->ndim;
        for (int i = 0; same && i < s->ndim; i++) same = x->shape[i] == s->shape[i];
        if (!same) {
            mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s' has shape [%s] but the %s needs [%s]",
                      st_name, full, shape_text(got, sizeof got, x->ndim, x->shape),
                      config ? "config" : "architecture",
                      shape_text(want, sizeof want, s->ndim, s->shape));
            goto fail;
        }
        float *dst = m->params + s->offset;
        mist_st_to_f32(x, dst);
        size_t bad = mist_first_nonfinite_f(dst, s->numel);
        if (bad < s->numel) {
            mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s' has a non-finite value at %zu",
                      st_name, full, bad);
            goto fail;
        }
    }
    for (size_t i = 0; i < st.ntensors; i++)
        if (!used[i]) {
            mist_fail(err, MIST_EFORMAT,
                      "'%s' has tensor '%s' that the %s architecture does not use (is the config "
                      "right?)",
                      st_name, st.tensors[i].name, config ? "configured" : "inferred");
            goto fail;
        }
    if (mist_model_meta_set_str(m, "source", "official MIST checkpoint (github.com/grgera/mist)",
                                err) ||
        mist_model_meta_set_str(m, "converted_from", mist_io_basename(st_name), err) ||
        mist_model_meta_set_str(m, "config", config ? mist_io_basename(config_name) : "(none)",
                                err) ||
        mist_model_meta_set_str(m, "model", a.quantile_conditioned ? "MIST-QR" : "MIST", err) ||
        mist_model_meta_set_str(m, "mist_version", MIST_VERSION, err) ||
        mist_model_meta_set_str(m, "trained_range_note",
                                "n 10..500, d 1..32 per variable (grgera/mist "
                                "configs/data_generation/train.yaml)",
                                err))
        goto fail;
    if (st.metadata_json &&
        mist_model_meta_set_str(m, "safetensors_metadata", st.metadata_json, err))
        goto fail;
    free(sorted);
    free(used);
    mist_safetensors_free(&st);
    return m;
fail:
    free(sorted);
    free(used);
    mist_model_free(m);
    mist_safetensors_free(&st);
    return NULL;
}

/* The folder of path + "config.json" into buf. */
static void sibling_config(char *buf, size_t sz, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, sz, "config.json");
    else snprintf(buf, sz, "%.*sconfig.json", (int)(slash - path + 1), path);
}

int mist_convert_official(const char *st_path, const char *config_path, const char *out_path,
                          const mist_convert_opts *opts, mist_model **model_out, mist_err *err)
{
    if (model_out) *model_out = NULL;
    if (!st_path || !out_path) return mist_fail(err, MIST_EINVAL, "paths must not be NULL");
    unsigned char *st = NULL, *cfg = NULL;
    size_t st_len = 0, cfg_len = 0;
    char guess[4096];
    int rc, missing = 0;
    if ((rc = mist_io_slurp(st_path, (size_t)1 << 34, &st, &st_len, NULL, err))) return rc;
    const char *cfg_name = config_path;
    if (config_path) {
        rc = mist_io_slurp(config_path, CONFIG_MAX_BYTES, &cfg, &cfg_len, NULL, err);
    } else {
        sibling_config(guess, sizeof guess, st_path);
        cfg_name = guess;
        rc = mist_io_slurp(guess, CONFIG_MAX_BYTES, &cfg, &cfg_len, &missing, err);
        if (rc && missing) {
            mist_err_clear(err);
            rc = MIST_OK;
            cfg = NULL;
        }
    }
    if (rc) {
        free(st);
        return rc;
    }
    mist_model *m = mist_import_official_mem(st, st_len, st_path, (const char *)cfg, cfg_len,
                                             cfg_name, opts, err);
    free(st);
    free(cfg);
    if (!m) return err ? err->code : MIST_EFORMAT;
    rc = mist_model_save(m, out_path, err);
    if (rc || !model_out) mist_model_free(m);
    else *model_out = m;
    return rc;
}
