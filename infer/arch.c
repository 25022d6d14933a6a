/* The architecture: defaults, validation, and THE tensor table. arch_tensor_table is the one
 * place that knows which tensors a graph has, their names, shapes and order; the loader, the
 * writer, the official-checkpoint converter, the parameter-pointer set-up and the random
 * initialiser all walk it. Names are the official PyTorch state_dict names without the
 * "core." prefix of the Hugging Face wrapper (MISTForHF.core = MISTModel), in state_dict
 * order. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch_fields.h"
#include "infer_internal.h"

void mist_arch_official(mist_arch *a, int quantile_conditioned)
{
    memset(a, 0, sizeof *a);
    a->input_layout = MIST_LAYOUT_PACKED;
    a->preprocess = MIST_PREP_NONE;
    a->max_input_dim = 64;
    a->max_dx = a->max_dy = 32;
    a->D = 256;
    a->H = 16;
    a->ff = 1024;
    a->n_inds = 32;
    a->n_seeds = 10;
    a->n_feature_sab = 2;
    a->n_isab = 2;
    a->n_dec = 1;
    a->n_rho = 3;
    a->rho_hidden = 256;
    a->quantile_conditioned = quantile_conditioned ? 1 : 0;
    a->activation = MIST_ACT_GELU;
    a->ln_eps = 1e-5;
    /* grgera/mist configs/data_generation/train.yaml: n_row_range [10, 500], n_dim '2-32'
     * (per variable; the scalar families have dimension 1) */
    a->n_min = 10;
    a->n_max = 500;
    a->d_min = 1;
    a->d_max = 32;
}

const char *mist_layout_name(int layout)
{
    return layout == MIST_LAYOUT_PACKED  ? "packed"
           : layout == MIST_LAYOUT_SPLIT ? "split"
           : layout == MIST_LAYOUT_PAIRS ? "pairs"
                                         : "?";
}

const char *mist_prep_name(int prep)
{
    switch (prep) {
    case MIST_PREP_NONE: return "none";
    case MIST_PREP_COPULA: return "copula";
    case MIST_PREP_ZSCORE: return "zscore";
    default: return "?";
    }
}

const char *mist_act_name(int act)
{
    return act == MIST_ACT_GELU ? "gelu" : act == MIST_ACT_RELU ? "relu" : "?";
}

/* Values only; the parameter total is checked by mist_arch_validate. Each field's own range
 * comes from the field table (arch_fields.c); the rules between fields are here. */
static int validate_values(const mist_arch *a, mist_err *err)
{
    for (size_t i = 0; i < arch_field_n; i++) {
        const arch_field *f = &arch_field_tab[i];
        double v = arch_field_value(f, a);
        if (f->type == AF_LAYOUT || f->type == AF_PREP || f->type == AF_ACT) {
            if (!(v >= f->lo && v <= f->hi))
                return mist_fail(err, MIST_EINVAL, "arch: unknown %s %d", f->name, (int)v);
        } else if (f->type == AF_F64) {
            if (!(v > f->lo && v <= f->hi))
                return mist_fail(err, MIST_EINVAL, "arch: %s = %g is outside (%g, %g]", f->name,
                                 v, f->lo, f->hi);
        } else if (!f->trained && !(v >= f->lo && v <= f->hi)) {
            return mist_fail(err, MIST_EINVAL, "arch: %s = %.0f is outside %.0f..%.0f", f->name,
                             v, f->lo, f->hi);
        }
    }
    if (a->D % a->H != 0)
        return mist_fail(err, MIST_EINVAL, "arch: D = %d is not a multiple of H = %d", a->D,
                         a->H);
    if (a->input_layout == MIST_LAYOUT_PACKED &&
        (a->max_dx != a->max_dy || a->max_dx + a->max_dy > a->max_input_dim))
        return mist_fail(err, MIST_EINVAL,
                         "arch: packed layout needs max_dx == max_dy and max_dx + max_dy <= "
                         "max_input_dim (got %d, %d, %d)",
                         a->max_dx, a->max_dy, a->max_input_dim);
    if (a->input_layout == MIST_LAYOUT_SPLIT && a->max_dx + a->max_dy != a->max_input_dim)
        return mist_fail(err, MIST_EINVAL,
                         "arch: split layout needs max_dx + max_dy == max_input_dim (got %d, %d, "
                         "%d)",
                         a->max_dx, a->max_dy, a->max_input_dim);
    if (a->input_layout == MIST_LAYOUT_PAIRS) {
        if (a->max_dx > PAIRS_MAX_D || a->max_dy > PAIRS_MAX_D || a->max_input_dim > 1024)
            return mist_fail(err, MIST_EINVAL,
                             "arch: the pairs layout takes max_dx, max_dy <= %d and "
                             "max_input_dim <= 1024 (got %d, %d, %d)",
                             PAIRS_MAX_D, a->max_dx, a->max_dy, a->max_input_dim);
        if (a->preprocess != MIST_PREP_COPULA)
            return mist_fail(err, MIST_EINVAL, "arch: the pairs layout needs copula inputs");
    } else if (a->gauss_base || a->ksg_feature || a->sign_canon || a->sum_head) {
        return mist_fail(err, MIST_EINVAL, "arch: %s needs the pairs layout",
                         a->gauss_base    ? "gauss_base"
                         : a->ksg_feature ? "ksg_feature"
                         : a->sign_canon  ? "sign_canon"
                                          : "sum_head");
    }
    if (a->gauss_base_unbiased && !a->gauss_base)
        return mist_fail(err, MIST_EINVAL, "arch: gauss_base_unbiased needs gauss_base");
    if (a->gauss_base_cap && !a->gauss_base)
        return mist_fail(err, MIST_EINVAL, "arch: gauss_base_cap needs gauss_base");
    if (a->n_min < 1 || a->n_max < a->n_min)
        return mist_fail(err, MIST_EINVAL, "arch: trained n range %lld..%lld is invalid",
                         (long long)a->n_min, (long long)a->n_max);
    if (a->d_min < 1 || a->d_max < a->d_min)
        return mist_fail(err, MIST_EINVAL, "arch: trained d range %lld..%lld is invalid",
                         (long long)a->d_min, (long long)a->d_max);
    return MIST_OK;
}

/* ---- the tensor table ------------------------------------------------------------------- */

typedef struct tb {
    tensor_spec *t;
    size_t n, cap, off;
    int nomem;
} tb;

#if defined(__GNUC__)
__attribute__((format(printf, 7, 8)))
#endif
static void emit(tb *b, float **slot, int init, double bound, int ndim, const int64_t *shape,
                 const char *fmt, ...)
{
    if (b->nomem) return;
    if (b->n == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 64;
        tensor_spec *g = realloc(b->t, nc * sizeof *g);
        if (!g) {
            b->nomem = 1;
            return;
        }
        b->t = g;
        b->cap = nc;
    }
    tensor_spec *s = &b->t[b->n++];
    memset(s, 0, sizeof *s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->name, sizeof s->name, fmt, ap);
    va_end(ap);
    s->ndim = ndim;
    s->numel = 1;
    for (int i = 0; i < ndim; i++) {
        s->shape[i] = shape[i];
        s->numel *= (size_t)shape[i];
    }
    s->offset = b->off;
    b->off += s->numel;
    s->slot = slot;
    s->init = init;
    s->bound = bound;
}

#define SLOT(p, field) ((p) ? &(p)->field : NULL)

static void emit1(tb *b, float **slot, int init, double bound, int64_t s0, const char *pre,
                  const char *suf)
{
    int64_t sh[1] = {s0};
    emit(b, slot, init, bound, 1, sh, "%s%s", pre, suf);
}

static void emit2(tb *b, float **slot, int init, double bound, int64_t s0, int64_t s1,
                  const char *pre, const char *suf)
{
    int64_t sh[2] = {s0, s1};
    emit(b, slot, init, bound, 2, sh, "%s%s", pre, suf);
}

/* Linear(in -> out) named pre.weight / pre.bias (PyTorch default init). */
static void emit_linear(tb *b, lin_w *l, int in, int out, const char *pre)
{
    double bd = 1.0 / sqrt((double)in);
    if (l) l->in = in, l->out = out;
    emit2(b, l ? &l->w : NULL, INIT_FANIN, bd, out, in, pre, ".weight");
    emit1(b, l ? &l->b : NULL, INIT_FANIN, bd, out, pre, ".bias");
}

static void emit_ln(tb *b, float **w, float **bias, int C, const char *pre)
{
    emit1(b, w, INIT_ONE, 0, C, pre, ".weight");
    emit1(b, bias, INIT_ZERO, 0, C, pre, ".bias");
}

/* The tensors of one MAB (torch.nn.MultiheadAttention + two LayerNorms + two Linears) under
 * prefix pre ("....mab."), in state_dict order. */
static void emit_mab(tb *b, mab_w *w, int D, int F, const char *pre)
{
    char name[MIST_TENSOR_NAME_LEN];
    if (w) w->F = F;
    double xav = sqrt(6.0 / (double)(D + 3 * D)), bd = 1.0 / sqrt((double)D),
           bf = 1.0 / sqrt((double)F);
    emit2(b, w ? &w->in_w : NULL, INIT_XAVIER, xav, 3 * (int64_t)D, D, pre,
          "mha.in_proj_weight");
    emit1(b, w ? &w->in_b : NULL, INIT_ZERO, 0, 3 * (int64_t)D, pre, "mha.in_proj_bias");
    emit2(b, w ? &w->out_w : NULL, INIT_FANIN, bd, D, D, pre, "mha.out_proj.weight");
    emit1(b, w ? &w->out_b : NULL, INIT_ZERO, 0, D, pre, "mha.out_proj.bias");
    snprintf(name, sizeof name, "%snorm1", pre);
    emit_ln(b, w ? &w->n1_w : NULL, w ? &w->n1_b : NULL, D, name);
    snprintf(name, sizeof name, "%snorm2", pre);
    emit_ln(b, w ? &w->n2_w : NULL, w ? &w->n2_b : NULL, D, name);
    emit2(b, w ? &w->l1_w : NULL, INIT_FANIN, bd, F, D, pre, "linear1.weight");
    emit1(b, w ? &w->l1_b : NULL, INIT_FANIN, bd, F, pre, "linear1.bias");
    emit2(b, w ? &w->l2_w : NULL, INIT_FANIN, bf, D, F, pre, "linear2.weight");
    emit1(b, w ? &w->l2_b : NULL, INIT_FANIN, bf, D, pre, "linear2.bias");
}

/* Learned token set [1, k, D] (ISAB inducing points, PMA seeds): xavier_uniform_. */
static void emit_tokens(tb *b, float **slot, int k, int D, const char *name)
{
    int64_t sh[3] = {1, k, D};
    double bound = sqrt(6.0 / ((double)k * D + D));
    emit(b, slot, INIT_XAVIER, bound, 3, sh, "%s", name);
}

int arch_tensor_table(const mist_arch *a, mist_params *p, tensor_spec **out, size_t *count,
                      mist_err *err)
{
    tb b = {0};
    char pre[MIST_TENSOR_NAME_LEN];
    const int D = a->D, P = a->max_input_dim;
    if (p) memset(p, 0, sizeof *p);

    if (a->input_layout == MIST_LAYOUT_PAIRS) {
        /* 2'. pair tokens (pairs.c): two statistic MLPs, the Gaussian features, a LayerNorm */
        emit_linear(&b, SLOT(p, pc0), PAIRS_NFEAT, P, "pairs.cross.0");
        emit_linear(&b, SLOT(p, pc1), P, P, "pairs.cross.2");
        emit_linear(&b, SLOT(p, pc2), P, D, "pairs.cross.4");
        emit_linear(&b, SLOT(p, pw0), PAIRS_NFEAT, P, "pairs.within.0");
        emit_linear(&b, SLOT(p, pw1), P, P, "pairs.within.2");
        emit_linear(&b, SLOT(p, pw2), P, D, "pairs.within.4");
        emit2(&b, SLOT(p, pstat_w), INIT_FANIN, 1.0 / sqrt((double)PAIRS_NSTAT), D, PAIRS_NSTAT,
              "pairs.stat", ".weight");
        emit_ln(&b, SLOT(p, pln_w), SLOT(p, pln_b), D, "pairs.norm");
    } else {
        /* 2. embedding MLP: Linear(P, 2D) GELU LN(2D) Dropout Linear(2D, D) GELU LN(D) */
        emit_linear(&b, SLOT(p, emb0), P, 2 * D, "phi.embedding_mlp.0");
        emit_ln(&b, SLOT(p, emb2_w), SLOT(p, emb2_b), 2 * D, "phi.embedding_mlp.2");
        emit_linear(&b, SLOT(p, emb4), 2 * D, D, "phi.embedding_mlp.4");
        emit_ln(&b, SLOT(p, emb6_w), SLOT(p, emb6_b), D, "phi.embedding_mlp.6");
    }
    /* 3. feature block: layers = [SAB, LN, Dropout] x n */
    for (int i = 0; i < a->n_feature_sab; i++) {
        snprintf(pre, sizeof pre, "phi.feature_interaction_block.layers.%d.mab.", 3 * i);
        emit_mab(&b, p ? &p->fsab[i] : NULL, D, D, pre);
        snprintf(pre, sizeof pre, "phi.feature_interaction_block.layers.%d", 3 * i + 1);
        emit_ln(&b, p ? &p->fln_w[i] : NULL, p ? &p->fln_b[i] : NULL, D, pre);
    }
    /* 4. encoder: ISAB layers (i, mab0, mab1) */
    for (int i = 0; i < a->n_isab; i++) {
        snprintf(pre, sizeof pre, "phi.encoder.%d.i", i);
        emit_tokens(&b, p ? &p->isab_i[i] : NULL, a->n_inds, D, pre);
        snprintf(pre, sizeof pre, "phi.encoder.%d.mab0.", i);
        emit_mab(&b, p ? &p->isab0[i] : NULL, D, a->ff, pre);
        snprintf(pre, sizeof pre, "phi.encoder.%d.mab1.", i);
        emit_mab(&b, p ? &p->isab1[i] : NULL, D, a->ff, pre);
    }
    /* 5. pooling PMA(n_seeds) */
    emit_tokens(&b, SLOT(p, pool_s), a->n_seeds, D, "phi.pooling_pma.s");
    emit_mab(&b, SLOT(p, pool), D, D, "phi.pooling_pma.mab.");
    /* 6. decoder: SAB x n_dec, then PMA(1) */
    for (int i = 0; i < a->n_dec; i++) {
        snprintf(pre, sizeof pre, "phi.decoder.%d.mab.", i);
        emit_mab(&b, p ? &p->dec[i] : NULL, D, D, pre);
    }
    snprintf(pre, sizeof pre, "phi.decoder.%d.s", a->n_dec);
    emit_tokens(&b, SLOT(p, dec_s), 1, D, pre);
    snprintf(pre, sizeof pre, "phi.decoder.%d.mab.", a->n_dec);
    emit_mab(&b, SLOT(p, dec_pma), D, D, pre);
    /* 7. output layer Linear(D, D) */
    emit_linear(&b, SLOT(p, out), D, D, "phi.output_layer");
    /* 8. rho: Linear ReLU ... Linear(., 1); Sequential indices 0, 2, 4, ... The pairs layout
     * reads [repr, the dataset features (, tau)]. */
    int din = D + (a->input_layout == MIST_LAYOUT_PAIRS ? PAIRS_NGLOB : 0) +
              (a->quantile_conditioned ? 1 : 0);
    for (int i = 0; i < a->n_rho; i++) {
        int in = i == 0 ? din : a->rho_hidden;
        int o = i == a->n_rho - 1 ? 1 : a->rho_hidden;
        snprintf(pre, sizeof pre, "rho.%d", 2 * i);
        emit_linear(&b, p ? &p->rho[i] : NULL, in, o, pre);
    }
    /* 9. sum_head's readout, last so that a model without it is a prefix (mist train --init) */
    if (a->sum_head) emit1(&b, SLOT(p, sum_w), INIT_ZERO, 0, D, "pairs.sum", ".weight");
    if (b.nomem) {
        free(b.t);
        return mist_fail(err, MIST_ENOMEM, "out of memory building the tensor table");
    }
    *out = b.t;
    *count = b.n;
    return MIST_OK;
}

/* Parameter total without building names: same walk, counted. */
size_t mist_arch_param_count(const mist_arch *a)
{
    if (validate_values(a, NULL)) return 0;
    /* Every size is bounded by the validation above, so this cannot overflow size_t. */
    size_t D = (size_t)a->D, P = (size_t)a->max_input_dim, ff = (size_t)a->ff,
           R = (size_t)a->rho_hidden;
    size_t mab_d = 4 * D * D + 4 * D + 4 * D + (D * D + D) + (D * D + D);
    size_t mab_f = 4 * D * D + 4 * D + 4 * D + (ff * D + ff) + (D * ff + D);
    size_t t = (P * 2 * D + 2 * D) + 4 * D + (2 * D * D + D) + 2 * D;
    if (a->input_layout == MIST_LAYOUT_PAIRS) /* two pair MLPs, stat weight, LayerNorm */
        t = 2 * ((PAIRS_NFEAT * P + P) + (P * P + P) + (P * D + D)) + D * PAIRS_NSTAT + 2 * D;
    t += (size_t)a->n_feature_sab * (mab_d + 2 * D);
    t += (size_t)a->n_isab * ((size_t)a->n_inds * D + 2 * mab_f);
    t += (size_t)a->n_seeds * D + mab_d;
    t += (size_t)a->n_dec * mab_d + D + mab_d;
    t += D * D + D;
    size_t din = D + (a->input_layout == MIST_LAYOUT_PAIRS ? PAIRS_NGLOB : 0) +
                 (a->quantile_conditioned ? 1 : 0);
    for (int i = 0; i < a->n_rho; i++) {
        size_t in = i == 0 ? din : R, o = i == a->n_rho - 1 ? 1 : R;
        t += in * o + o;
    }
    if (a->sum_head) t += D;
    return t;
}

int mist_arch_validate(const mist_arch *a, mist_err *err)
{
    int rc = validate_values(a, err);
    if (rc) return rc;
    size_t t = mist_arch_param_count(a);
    if (t > MIST_MAX_PARAMS)
        return mist_fail(err, MIST_EINVAL, "arch: %zu parameters exceed the limit of %zu", t,
                         MIST_MAX_PARAMS);
    return MIST_OK;
}
