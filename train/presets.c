/* Architecture presets for our own models (split layout, copula inputs) and key=value
 * overrides, and the training configuration's defaults and validation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch_fields.h"
#include "mist_gen.h"
#include "mist_train.h"
#include "mist_train_grad.h"

static void preset_common(mist_arch *a, int maxd)
{
    memset(a, 0, sizeof *a);
    a->input_layout = MIST_LAYOUT_SPLIT;
    a->preprocess = MIST_PREP_COPULA;
    a->max_dx = a->max_dy = maxd;
    a->max_input_dim = 2 * maxd;
    a->n_dec = 1;
    a->activation = MIST_ACT_GELU;
    a->ln_eps = 1e-5;
    a->n_min = 10;
    a->n_max = 500;
    a->d_min = 1;
    a->d_max = maxd;
}

int mist_arch_preset(const char *name, mist_arch *a, mist_err *err)
{
    if (!strcmp(name, "tiny")) {
        preset_common(a, 4);
        a->D = 16, a->H = 2, a->ff = 32, a->n_inds = 4, a->n_seeds = 2;
        a->n_feature_sab = 1, a->n_isab = 1, a->n_rho = 2, a->rho_hidden = 16;
    } else if (!strcmp(name, "small")) {
        preset_common(a, 32);
        a->D = 64, a->H = 4, a->ff = 128, a->n_inds = 16, a->n_seeds = 4;
        a->n_feature_sab = 1, a->n_isab = 2, a->n_rho = 3, a->rho_hidden = 64;
    } else if (!strcmp(name, "medium")) {
        preset_common(a, 32);
        a->D = 128, a->H = 8, a->ff = 256, a->n_inds = 32, a->n_seeds = 8;
        a->n_feature_sab = 2, a->n_isab = 2, a->n_rho = 3, a->rho_hidden = 128;
    } else if (!strcmp(name, "pairs") || !strcmp(name, "pairs-tiny")) {
        /* one token per column pair (weights/design-next.md); P is the pair statistic's width.
         * Accepts up to 64 columns per side; trained on what the run's metadist gives. */
        int tiny = name[5] == '-';
        preset_common(a, tiny ? 4 : 64);
        a->input_layout = MIST_LAYOUT_PAIRS;
        a->max_input_dim = tiny ? 8 : 32;
        a->d_max = tiny ? 4 : 32;
        a->D = tiny ? 16 : 64, a->H = tiny ? 2 : 4, a->ff = tiny ? 32 : 128;
        a->n_inds = tiny ? 4 : 16, a->n_seeds = tiny ? 2 : 4;
        a->n_feature_sab = 1, a->n_isab = tiny ? 1 : 2, a->n_rho = 3;
        a->rho_hidden = tiny ? 16 : 64;
        a->activation = MIST_ACT_RELU; /* the statistic's GELUs were 30% of a training step */
    } else {
        return mist_fail(err, MIST_EINVAL,
                         "unknown arch preset '%s' (tiny, small, medium, pairs, pairs-tiny)", name);
    }
    return MIST_OK;
}

/* The keys, their types and ranges are the field table's (infer/arch_fields.c). */
int mist_arch_override(mist_arch *a, const char *kv, mist_err *err)
{
    return arch_override(a, kv, err);
}

void mist_train_config_default(mist_train_config *c)
{
    memset(c, 0, sizeof *c);
    mist_arch_preset("tiny", &c->arch, NULL);
    snprintf(c->arch_spec, sizeof c->arch_spec, "tiny");
    c->loss = MIST_LOSS_MSE;
    c->batch = 32;
    c->steps = 1000;
    c->lr = 1e-3;
    c->lr_floor = 0.1;
    c->warmup = 100;
    c->wd = 0.01;
    c->clip = 1.0;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    snprintf(c->metadist, sizeof c->metadist, "default");
    c->seed = 1;
    c->val_seed = 0x76616c;
    c->val_count = 256;
    c->val_every = 200;
    c->pool = 8;
    c->threads = 1;
    c->prefetch = 1;
    c->ckpt_every_s = 300;
}

int mist_train_config_validate(const mist_train_config *c, mist_err *err)
{
    int rc = mist_arch_validate(&c->arch, err);
    if (rc) return rc;
    if (c->arch.input_layout == MIST_LAYOUT_PACKED)
        return mist_fail(err, MIST_EINVAL, "training supports the split layout only");
    if (c->loss != MIST_LOSS_MSE && c->loss != MIST_LOSS_PINBALL)
        return mist_fail(err, MIST_EINVAL, "unknown loss %d", c->loss);
    if ((c->loss == MIST_LOSS_PINBALL) != (c->arch.quantile_conditioned != 0))
        return mist_fail(err, MIST_EINVAL,
                         "the pinball loss needs a quantile-conditioned arch and mse a plain one "
                         "(quantile_conditioned = %d)", c->arch.quantile_conditioned);
    if (c->batch < 1 || c->batch > 65536)
        return mist_fail(err, MIST_EINVAL, "batch %d is outside 1..65536", c->batch);
    if (c->steps < 1) return mist_fail(err, MIST_EINVAL, "steps must be >= 1");
    if (!(c->lr > 0 && c->lr < 10)) return mist_fail(err, MIST_EINVAL, "lr %g is outside (0, 10)", c->lr);
    if (!(c->lr_floor >= 0 && c->lr_floor <= 1))
        return mist_fail(err, MIST_EINVAL, "lr floor %g is outside [0, 1]", c->lr_floor);
    if (c->warmup < 0) return mist_fail(err, MIST_EINVAL, "warmup must be >= 0");
    if (!(c->wd >= 0 && c->wd < 10)) return mist_fail(err, MIST_EINVAL, "wd %g is outside [0, 10)", c->wd);
    if (!(c->clip >= 0)) return mist_fail(err, MIST_EINVAL, "clip %g must be >= 0", c->clip);
    if (!(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1 && c->eps > 0))
        return mist_fail(err, MIST_EINVAL, "AdamW betas must be in [0, 1) and eps > 0");
    if (c->val_count < 0 || c->val_count > 100000)
        return mist_fail(err, MIST_EINVAL, "val count %d is outside 0..100000", c->val_count);
    if (c->val_every < 1) return mist_fail(err, MIST_EINVAL, "val_every must be >= 1");
    if (c->pool < 1 || c->pool > 4096) return mist_fail(err, MIST_EINVAL, "pool %d is outside 1..4096", c->pool);
    if (c->n_min < 0 || c->n_max < 0 || (c->n_max && c->n_min > c->n_max) ||
        (c->n_min && c->n_min < 2) || c->n_max > 1000000)
        return mist_fail(err, MIST_EINVAL, "n range %lld..%lld is invalid", (long long)c->n_min,
                         (long long)c->n_max);
    if (c->threads < 1 || c->threads > 256)
        return mist_fail(err, MIST_EINVAL, "threads %d is outside 1..256", c->threads);
    if (!c->metadist[0]) return mist_fail(err, MIST_EINVAL, "no meta-distribution named");
    mist_task_spec probe = {0};
    if ((rc = mist_metadist_draw(c->metadist, 0, 0, &probe, err))) return rc;
    mist_task_spec_clear(&probe);
    if (c->dump_steps < 0 || c->dump_steps > 1000) return mist_fail(err, MIST_EINVAL, "dump_steps out of range");
    return MIST_OK;
}
