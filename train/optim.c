/* AdamW, global-norm clipping, the learning-rate schedule and the weight-decay mask.
 * Parameters, gradients and both moments are one float block each, laid out like
 * mist_model_params (llm.c style). */
#include <math.h>
#include <string.h>

#include "mist_train.h"

void mist_adamw_update(float *params, const float *grads, float *m, float *v,
                       const unsigned char *decay, size_t n, double lr, double beta1,
                       double beta2, double eps, double wd, int64_t t)
{
    double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    for (size_t i = 0; i < n; i++) {
        double g = grads[i];
        double mi = beta1 * m[i] + (1.0 - beta1) * g;
        double vi = beta2 * v[i] + (1.0 - beta2) * g * g;
        m[i] = (float)mi;
        v[i] = (float)vi;
        double p = params[i];
        /* the moments are stored in float: use the stored values, as a float32 optimizer does */
        double mhat = (double)m[i] / bc1, vhat = (double)v[i] / bc2;
        double step = mhat / (sqrt(vhat) + eps);
        if (decay && decay[i]) p -= lr * wd * p;
        p -= lr * step;
        params[i] = (float)p;
    }
}

double mist_clip_grad_norm(float *g, size_t n, double max_norm)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        double c = max_norm / (norm + 1e-6);
        for (size_t i = 0; i < n; i++) g[i] = (float)(g[i] * c);
    }
    return norm;
}

double mist_lr_at(int64_t step, int64_t total, int64_t warmup, double lr, double floor_frac)
{
    if (step < 0) step = 0;
    if (warmup > 0 && step < warmup) return lr * (double)(step + 1) / (double)warmup;
    double lo = lr * floor_frac;
    int64_t span = total - 1 - warmup;
    if (span <= 0) return lr;
    double prog = (double)(step - warmup) / (double)span;
    if (prog > 1) prog = 1;
    return lo + 0.5 * (lr - lo) * (1.0 + cos(3.14159265358979323846 * prog));
}

void mist_decay_mask(const mist_model *m, unsigned char *decay)
{
    size_t np = mist_model_param_count(m);
    memset(decay, 0, np);
    size_t nt = mist_model_tensor_count(m);
    for (size_t t = 0; t < nt; t++) {
        const char *name;
        int ndim;
        const int64_t *shape;
        size_t off;
        if (mist_model_tensor_info(m, t, &name, &ndim, &shape, &off)) continue;
        if (ndim != 2) continue; /* biases, LayerNorm (1-D); token sets [1, k, D] (3-D) */
        size_t numel = (size_t)shape[0] * (size_t)shape[1];
        memset(decay + off, 1, numel);
    }
}
