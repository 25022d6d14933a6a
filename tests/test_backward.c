/* Backward passes and the training graph (issue 5): every backward kernel against its naive
 * reference and against central finite differences, attention with key masks, the whole model
 * (every tensor's gradient, i.e. every block's backward) against finite differences for both
 * losses on a ragged batch, a batch equal to its datasets run alone, and the training forward
 * equal to mist_model_estimate.
 *
 * Finite differences run the float32 forward and sum a double objective L = sum(R * out) with
 * fixed random R. Tolerances (stated per test) come from: float rounding of the outputs
 * (~1e-7 relative, so ~1e-6 / h in the difference quotient) plus the O(h^2) truncation error
 * of the central difference; with h ~ 1e-2..3e-3 on O(1) inputs both stay below ~1e-3 of the
 * gradient's norm, and the checks compare ||g_fd - g|| / ||g|| (norms over every entry). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_infer.h"
#include "mist_train_grad.h"
#include "train_graph.h"
#include "testutil.h"

static uint64_t rs = 0x2545F4914F6CDD1DULL;
#define rnext() tu_rnext(&rs)
#define runif() tu_runif(&rs)
#define rnorm() tu_rnorm(&rs)
static float *rvec(size_t n, double scale)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rnorm());
    return x;
}
static float *zvec(size_t n)
{
    float *x = calloc(n ? n : 1, sizeof *x);
    ck_assert_ptr_nonnull(x);
    return x;
}
static double dot_fd(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
/* ||a - b|| / ||b|| */
static double rel_norm(const double *a, const float *b, size_t n)
{
    double d = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        nb += (double)b[i] * b[i];
    }
    return sqrt(d) / fmax(sqrt(nb), 1e-30);
}
static double rel_normf(const float *a, const float *b, size_t n)
{
    double d = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        nb += (double)b[i] * b[i];
    }
    return sqrt(d) / fmax(sqrt(nb), 1e-30);
}

/* Central differences of obj(ctx) with respect to every entry of x (perturbed in place). */
typedef double (*objfn)(void *ctx);
static double *fd_grad(float *x, size_t n, objfn f, void *ctx, double h)
{
    double *g = malloc(n * sizeof *g);
    ck_assert_ptr_nonnull(g);
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = (float)(x0 + h);
        double hp = (double)x[i] - x0;
        double fp = f(ctx);
        x[i] = (float)(x0 - h);
        double hm = x0 - (double)x[i];
        double fm = f(ctx);
        x[i] = x0;
        g[i] = (fp - fm) / (hp + hm);
    }
    return g;
}

/* ---- linear ------------------------------------------------------------------------------ */

typedef struct lin_ctx {
    float *x, *w, *b, *R, *out;
    int N, C, OC;
} lin_ctx;
static double lin_obj(void *p)
{
    lin_ctx *c = p;
    linear_forward(c->out, c->x, c->w, c->b, c->N, c->C, c->OC);
    return dot_fd(c->out, c->R, (size_t)c->N * c->OC);
}

/* Reference: 1e-5 relative (float sums of <= 9 terms vs double). FD: 1e-3 (the map is linear,
 * so only float rounding of the outputs enters: ~1e-6 / h with h = 1e-2). Accumulation: the
 * gradients are added onto what the buffers held. */
START_TEST(test_linear_backward)
{
    int N = 5, C = 7, OC = 4;
    lin_ctx c = {rvec(N * C, 1), rvec(OC * C, 0.5), rvec(OC, 1), rvec(N * OC, 1), zvec(N * OC),
                 N, C, OC};
    float *dx = rvec(N * C, 1), *dw = rvec(OC * C, 1), *db = rvec(OC, 1);
    float *dx0 = malloc(N * C * 4), *dw0 = malloc(OC * C * 4), *db0 = malloc(OC * 4);
    memcpy(dx0, dx, N * C * 4), memcpy(dw0, dw, OC * C * 4), memcpy(db0, db, OC * 4);
    float *rx = zvec(N * C), *rw = zvec(OC * C), *rb = zvec(OC);
    memcpy(rx, dx, N * C * 4), memcpy(rw, dw, OC * C * 4), memcpy(rb, db, OC * 4);
    linear_backward(dx, dw, db, c.R, c.x, c.w, N, C, OC);
    linear_backward_ref(rx, rw, rb, c.R, c.x, c.w, N, C, OC);
    ck_assert_double_le(rel_normf(dx, rx, N * C), 1e-5);
    ck_assert_double_le(rel_normf(dw, rw, OC * C), 1e-5);
    ck_assert_double_le(rel_normf(db, rb, OC), 1e-5);
    for (int i = 0; i < N * C; i++) dx[i] -= dx0[i];
    for (int i = 0; i < OC * C; i++) dw[i] -= dw0[i];
    for (int i = 0; i < OC; i++) db[i] -= db0[i];
    double *gx = fd_grad(c.x, N * C, lin_obj, &c, 1e-2);
    double *gw = fd_grad(c.w, OC * C, lin_obj, &c, 1e-2);
    double *gb = fd_grad(c.b, OC, lin_obj, &c, 1e-2);
    ck_assert_double_le(rel_norm(gx, dx, N * C), 1e-3);
    ck_assert_double_le(rel_norm(gw, dw, OC * C), 1e-3);
    ck_assert_double_le(rel_norm(gb, db, OC), 1e-3);
    free(gx), free(gw), free(gb), free(dx0), free(dw0), free(db0), free(rx), free(rw), free(rb);
    free(dx), free(dw), free(db), free(c.x), free(c.w), free(c.b), free(c.R), free(c.out);
}
END_TEST

/* ---- layernorm --------------------------------------------------------------------------- */

typedef struct ln_ctx {
    float *x, *w, *b, *R, *out;
    int N, C;
} ln_ctx;
static double ln_obj(void *p)
{
    ln_ctx *c = p;
    layernorm_forward(c->out, c->x, c->w, c->b, c->N, c->C, 1e-5f);
    return dot_fd(c->out, c->R, (size_t)c->N * c->C);
}

/* forward_train == forward bit for bit; backward vs reference 1e-5; FD (h = 3e-3, O(1)
 * inputs): 3e-3. */
START_TEST(test_layernorm_backward)
{
    int N = 4, C = 21;
    ln_ctx c = {rvec(N * C, 1.5), rvec(C, 1), rvec(C, 1), rvec(N * C, 1), zvec(N * C), N, C};
    for (int i = 0; i < N * C; i++) c.x[i] += 0.3f;
    float *o2 = zvec(N * C), *mean = zvec(N), *rstd = zvec(N);
    layernorm_forward(c.out, c.x, c.w, c.b, N, C, 1e-5f);
    layernorm_forward_train(o2, mean, rstd, c.x, c.w, c.b, N, C, 1e-5f);
    ck_assert(memcmp(o2, c.out, (size_t)N * C * 4) == 0);
    float *dx = zvec(N * C), *dw = zvec(C), *db = zvec(C);
    float *rx = zvec(N * C), *rw = zvec(C), *rb = zvec(C);
    layernorm_backward(dx, dw, db, c.R, c.x, c.w, mean, rstd, N, C);
    layernorm_backward_ref(rx, rw, rb, c.R, c.x, c.w, N, C, 1e-5f);
    ck_assert_double_le(rel_normf(dx, rx, N * C), 1e-5);
    ck_assert_double_le(rel_normf(dw, rw, C), 1e-5);
    ck_assert_double_le(rel_normf(db, rb, C), 1e-5);
    double *gx = fd_grad(c.x, N * C, ln_obj, &c, 3e-3);
    double *gw = fd_grad(c.w, C, ln_obj, &c, 3e-3);
    double *gb = fd_grad(c.b, C, ln_obj, &c, 3e-3);
    ck_assert_double_le(rel_norm(gx, dx, N * C), 3e-3);
    ck_assert_double_le(rel_norm(gw, dw, C), 3e-3);
    ck_assert_double_le(rel_norm(gb, db, C), 3e-3);
    free(gx), free(gw), free(gb), free(o2), free(mean), free(rstd), free(dx), free(dw), free(db);
    free(rx), free(rw), free(rb), free(c.x), free(c.w), free(c.b), free(c.R), free(c.out);
}
END_TEST

/* ---- activations ------------------------------------------------------------------------- */

typedef struct act_ctx {
    float *x, *R, *out;
    int n, kind; /* 0 gelu, 1 relu, 2 softmax rows of 7 */
} act_ctx;
static double act_obj(void *p)
{
    act_ctx *c = p;
    if (c->kind == 0) gelu_forward(c->out, c->x, (size_t)c->n);
    else if (c->kind == 1) relu_forward(c->out, c->x, (size_t)c->n);
    else softmax_forward(c->out, c->x, c->n / 7, 7);
    return dot_fd(c->out, c->R, (size_t)c->n);
}

/* GELU: vs the double reference 1e-6, FD (h = 1e-3 on |x| <= ~6) 2e-3. ReLU: FD away from 0
 * (inputs pushed off the kink by more than h), exact up to rounding: 1e-3. Softmax: FD 2e-3. */
START_TEST(test_activation_backward)
{
    int n = 63;
    for (int kind = 0; kind < 3; kind++) {
        act_ctx c = {rvec(n, 2), rvec(n, 1), zvec(n), n, kind};
        if (kind == 1)
            for (int i = 0; i < n; i++) c.x[i] += c.x[i] > 0 ? 0.05f : -0.05f;
        float *d = zvec(n), *r = zvec(n);
        act_obj(&c);
        if (kind == 0) {
            gelu_backward(d, c.x, c.R, n);
            gelu_backward_ref(r, c.x, c.R, n);
            ck_assert_double_le(rel_normf(d, r, n), 1e-6);
        } else if (kind == 1) {
            relu_backward(d, c.x, c.R, n);
        } else {
            softmax_backward(d, c.out, c.R, n / 7, 7);
        }
        double *g = fd_grad(c.x, n, act_obj, &c, kind == 1 ? 1e-2 : 1e-3);
        ck_assert_msg(rel_norm(g, d, n) <= (kind == 1 ? 1e-3 : 2e-3), "kind %d: %g", kind,
                      rel_norm(g, d, n));
        act_obj(&c); /* out of the unperturbed input again */
        /* accumulation */
        float *d2 = zvec(n);
        for (int i = 0; i < n; i++) d2[i] = 1.0f;
        if (kind == 0) gelu_backward(d2, c.x, c.R, n);
        else if (kind == 1) relu_backward(d2, c.x, c.R, n);
        else softmax_backward(d2, c.out, c.R, n / 7, 7);
        for (int i = 0; i < n; i++) ck_assert_float_eq_tol(d2[i] - 1.0f, d[i], 1e-6);
        free(g), free(d), free(d2), free(r), free(c.x), free(c.R), free(c.out);
    }
}
END_TEST

/* ---- attention --------------------------------------------------------------------------- */

typedef struct att_ctx {
    float *q, *k, *v, *R, *out, *lse, *scr;
    const uint8_t *mask;
    int Nq, Nk, D, H;
} att_ctx;
/* The forward the training graph runs: attention_forward keeping lse, in streaming blocks of
 * 2 queries x 3 keys (so lse comes from the running maximum and normaliser). */
static void att_fwd(float *out, float *lse, const float *q, const float *k, const float *v,
                    int ldkv, const uint8_t *mask, int Nq, int Nk, int D, int H)
{
    attn_cfg cfg = {2, 3};
    float *scr = malloc(attention_scratch_floats(&cfg) * sizeof *scr);
    attention_forward(out, D, lse, q, D, k, ldkv, (size_t)(D / H), v, ldkv, (size_t)(D / H), mask,
                      Nq, Nk, D, H, &cfg, scr);
    free(scr);
}

static double att_obj(void *p)
{
    att_ctx *c = p;
    att_fwd(c->out, c->lse, c->q, c->k, c->v, c->D, c->mask, c->Nq, c->Nk, c->D, c->H);
    return dot_fd(c->out, c->R, (size_t)c->Nq * c->D);
}

/* Masked multi-head attention (D 8, H 2, 5 queries, 7 keys of which 2 masked): the training
 * forward (streaming blocks) equals the reference 1e-6; backward equals the double reference 1e-5 and central
 * differences (h = 3e-3) 3e-3; masked keys get exactly zero gradient and changing them leaves
 * the output bit-identical, and masking keys equals leaving them out (1e-6: that is how the
 * training graph treats padding). Also the packed-K/V layout of the training graph (ld 2D). */
START_TEST(test_attention_backward)
{
    int Nq = 5, Nk = 7, D = 8, H = 2;
    uint8_t mask[7] = {1, 0, 1, 1, 0, 1, 1};
    for (int masked = 0; masked < 2; masked++) {
        att_ctx c = {rvec(Nq * D, 1), rvec(Nk * D, 1), rvec(Nk * D, 1), rvec(Nq * D, 1),
                     zvec(Nq * D), zvec(Nq * H), zvec(2 * Nq * Nk), masked ? mask : NULL,
                     Nq, Nk, D, H};
        float *ref = zvec(Nq * D);
        att_obj(&c);
        attention_forward_ref(ref, c.q, c.k, c.v, c.mask, Nq, Nk, D, H);
        ck_assert_double_le(rel_normf(c.out, ref, Nq * D), 1e-6);
        float *dq = zvec(Nq * D), *dk = zvec(Nk * D), *dv = zvec(Nk * D);
        float *rq = zvec(Nq * D), *rk = zvec(Nk * D), *rv = zvec(Nk * D);
        attention_backward(dq, D, dk, D, dv, D, c.R, D, c.q, D, c.k, D, c.v, D, c.out, D, c.lse,
                           c.mask, Nq, Nk, D, H, c.scr);
        attention_backward_ref(rq, rk, rv, c.R, c.q, c.k, c.v, c.mask, Nq, Nk, D, H);
        ck_assert_double_le(rel_normf(dq, rq, Nq * D), 1e-5);
        ck_assert_double_le(rel_normf(dk, rk, Nk * D), 1e-5);
        ck_assert_double_le(rel_normf(dv, rv, Nk * D), 1e-5);
        double *gq = fd_grad(c.q, Nq * D, att_obj, &c, 3e-3);
        double *gk = fd_grad(c.k, Nk * D, att_obj, &c, 3e-3);
        double *gv = fd_grad(c.v, Nk * D, att_obj, &c, 3e-3);
        ck_assert_double_le(rel_norm(gq, dq, Nq * D), 3e-3);
        ck_assert_double_le(rel_norm(gk, dk, Nk * D), 3e-3);
        ck_assert_double_le(rel_norm(gv, dv, Nk * D), 3e-3);
        if (masked) {
            att_obj(&c); /* the unperturbed output (fd_grad left the last perturbation's) */
            float *o2 = zvec(Nq * D);
            memcpy(o2, c.out, (size_t)Nq * D * 4);
            for (int j = 0; j < Nk; j++)
                for (int d = 0; d < D; d++)
                    if (!mask[j]) {
                        ck_assert(dk[j * D + d] == 0.0f && dv[j * D + d] == 0.0f);
                        c.k[j * D + d] = 100.0f, c.v[j * D + d] = -50.0f;
                    }
            att_obj(&c);
            ck_assert(memcmp(o2, c.out, (size_t)Nq * D * 4) == 0);
            free(o2);
            /* masking keys == leaving them out (how the training graph treats padding rows):
             * same output and gradients to float rounding (1e-6) */
            int kept = 0;
            float *k2 = zvec(Nk * D), *v2 = zvec(Nk * D), *o4 = zvec(Nq * D);
            float *l4 = zvec(Nq * H), *q4 = zvec(Nq * D), *dk4 = zvec(Nk * D), *dv4 = zvec(Nk * D);
            for (int j = 0; j < Nk; j++)
                if (mask[j]) {
                    memcpy(k2 + kept * D, c.k + j * D, (size_t)D * 4);
                    memcpy(v2 + kept * D, c.v + j * D, (size_t)D * 4);
                    kept++;
                }
            att_fwd(o4, l4, c.q, k2, v2, D, NULL, Nq, kept, D, H);
            ck_assert_double_le(rel_normf(o4, c.out, Nq * D), 1e-6);
            attention_backward(q4, D, dk4, D, dv4, D, c.R, D, c.q, D, k2, D, v2, D, o4, D, l4,
                               NULL, Nq, kept, D, H, c.scr);
            ck_assert_double_le(rel_normf(q4, dq, Nq * D), 1e-6);
            for (int j = 0, r = 0; j < Nk; j++)
                if (mask[j]) {
                    for (int d = 0; d < D; d++) {
                        ck_assert(fabsf(dk4[r * D + d] - dk[j * D + d]) <= 1e-6f);
                        ck_assert(fabsf(dv4[r * D + d] - dv[j * D + d]) <= 1e-6f);
                    }
                    r++;
                }
            free(k2), free(v2), free(o4), free(l4), free(q4), free(dk4), free(dv4);
        }
        /* interleaved K|V rows (ld 2D) as the training graph stores them */
        float *kv = zvec(Nk * 2 * D), *dkv = zvec(Nk * 2 * D), *o3 = zvec(Nq * D);
        for (int j = 0; j < Nk; j++)
            for (int d = 0; d < D; d++)
                kv[j * 2 * D + d] = c.k[j * D + d], kv[j * 2 * D + D + d] = c.v[j * D + d];
        float *lse3 = zvec(Nq * H), *dq3 = zvec(Nq * D);
        att_fwd(o3, lse3, c.q, kv, kv + D, 2 * D, c.mask, Nq, Nk, D, H);
        att_obj(&c);
        ck_assert(memcmp(o3, c.out, (size_t)Nq * D * 4) == 0);
        attention_backward(dq3, D, dkv, 2 * D, dkv + D, 2 * D, c.R, D, c.q, D, kv, 2 * D, kv + D,
                           2 * D, o3, D, lse3, c.mask, Nq, Nk, D, H, c.scr);
        memset(dq, 0, (size_t)Nq * D * 4);
        memset(dk, 0, (size_t)Nk * D * 4);
        memset(dv, 0, (size_t)Nk * D * 4);
        attention_backward(dq, D, dk, D, dv, D, c.R, D, c.q, D, c.k, D, c.v, D, c.out, D, c.lse,
                           c.mask, Nq, Nk, D, H, c.scr);
        ck_assert(memcmp(dq3, dq, (size_t)Nq * D * 4) == 0);
        for (int j = 0; j < Nk; j++)
            for (int d = 0; d < D; d++) {
                ck_assert(dkv[j * 2 * D + d] == dk[j * D + d]);
                ck_assert(dkv[j * 2 * D + D + d] == dv[j * D + d]);
            }
        free(kv), free(dkv), free(o3), free(lse3), free(dq3);
        free(gq), free(gk), free(gv), free(dq), free(dk), free(dv), free(rq), free(rk), free(rv);
        free(ref), free(c.q), free(c.k), free(c.v), free(c.R), free(c.out), free(c.lse),
            free(c.scr);
    }
}
END_TEST

/* ---- the whole model --------------------------------------------------------------------- */

/* D 8, H 2, ff 12, 4 inducing points, 2 seeds, 1 feature SAB, 1 ISAB, 1 decoder SAB, rho 2
 * layers; split layout, copula inputs, dims up to 3 + 3. */
static int edge_arch; /* 1: no feature SAB, ISAB or decoder SAB, rho 1 layer, zscore inputs */
static int pairs_arch; /* 1: the pairs layout (pair statistic of width 6); 2: with gauss_base;
                       * 3: with gauss_base, gauss_base_unbiased and ksg_feature; 4: with
                       * gauss_base and sum_head */

static mist_model *tiny_train_model(int qc, int act, uint64_t seed)
{
    mist_arch a;
    mist_arch_official(&a, qc);
    a.input_layout = MIST_LAYOUT_SPLIT;
    a.preprocess = MIST_PREP_COPULA;
    a.max_dx = a.max_dy = 3;
    a.max_input_dim = 6;
    a.D = 8;
    a.H = 2;
    a.ff = 12;
    a.n_inds = 4;
    a.n_seeds = 2;
    a.n_feature_sab = 1;
    a.n_isab = 1;
    a.n_dec = 1;
    a.n_rho = 2;
    a.rho_hidden = 8;
    a.activation = act;
    if (pairs_arch) a.input_layout = MIST_LAYOUT_PAIRS;
    a.gauss_base = pairs_arch >= 2;
    a.gauss_base_unbiased = a.ksg_feature = pairs_arch == 3;
    a.sum_head = pairs_arch == 4;
    if (edge_arch) {
        a.n_feature_sab = a.n_isab = a.n_dec = 0;
        a.n_rho = 1;
        a.preprocess = MIST_PREP_ZSCORE;
    }
    mist_err err;
    mist_model *m = mist_model_create_random(&a, seed, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    /* LN weights/biases and attention biases start at 1 / 0: randomise them too */
    float *p = mist_model_params(m);
    for (size_t i = 0; i < mist_model_param_count(m); i++) p[i] += (float)(0.1 * rnorm());
    return m;
}

static double *rdata(size_t n, int dx, int dy)
{
    size_t c = (size_t)(dx + dy);
    double *x = malloc(n * c * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) {
        double z = rnorm();
        for (size_t j = 0; j < c; j++) x[i * c + j] = 0.7 * z + 0.7 * rnorm();
    }
    return x;
}

typedef struct batch {
    mist_train_example ex[3];
    double *data[3];
} batch;

/* B = 3 datasets of n 5, 11, 8 (padding to 11 with masks in a padded layout) and different
 * dims. */
static void make_batch(batch *b, int loss_kind)
{
    size_t ns[3] = {5, 11, 8};
    int dxs[3] = {1, 3, 2}, dys[3] = {2, 1, 3};
    for (int s = 0; s < 3; s++) {
        b->data[s] = rdata(ns[s], dxs[s], dys[s]);
        mist_train_example e = {b->data[s], ns[s], dxs[s], dys[s], 0.3 + 0.4 * s, 0.2 + 0.3 * s};
        b->ex[s] = e;
    }
    (void)loss_kind;
}
static void free_batch(batch *b)
{
    for (int s = 0; s < 3; s++) free(b->data[s]);
}

typedef struct model_ctx {
    mist_model *m;
    mist_train_ws *ws;
    const mist_train_example *ex;
    size_t B;
    int loss;
    float *gscratch;
} model_ctx;
static double model_loss(model_ctx *c)
{
    mist_err err;
    double L;
    int rc = mist_train_grad(c->m, c->ws, c->ex, c->B, c->loss, c->gscratch, &L, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    return L;
}

/* Every tensor of the tiny model (so every block's backward, since the gradient of a tensor
 * passes through the backward of every later block): the analytic directional derivative
 * g . u along a random unit direction u inside the tensor against the central difference
 * (L(p + h u) - L(p - h u)) / 2h, h = 3e-3 (directions of norm 1 over a tensor of O(0.1..1)
 * entries; h = 1e-2 crosses ReLU kinks of the rho head / ReLU MABs on this data and is off by a
 * few %, 3e-3 and 1e-3 both pass). Tolerance |fd - g.u| <= 2e-2 |g.u| + 2e-4 ||g||: float
 * rounding of a loss of O(1) is ~1e-7..1e-6, i.e. <= ~3e-4 in the quotient, and tensors
 * whose gradient is ~0 in theory (the key bias: softmax ignores a per-query shift) are held
 * to the absolute term. Pinball: the targets are 1 away from the predictions, so no kink is
 * crossed; models and data are drawn until no ReLU input of the rho head is within 0.02 of
 * its kink. (MABs with ReLU feed-forwards have hundreds of ReLU inputs, some always near the
 * kink, so they are not finite-differenced here: relu_backward is, and
 * test_batch_equals_singles runs the ReLU MAB path.) */
static void check_model_fd(int qc, int act, int loss_kind)
{
    mist_model *m = NULL;
    mist_train_ws *ws = NULL;
    mist_err err;
    batch b;
    double preds[3], L;
    float *g = NULL, *gs = NULL;
    size_t np = 0;
    /* central differences are only meaningful away from the ReLU kinks of the rho head: draw
     * models and data until every ReLU input is at least 0.02 from 0 (the perturbations below
     * move them by ~1e-3) */
    for (int tries = 0;; tries++) {
        ck_assert_int_lt(tries, 100);
        m = tiny_train_model(qc, act, 11 + (uint64_t)loss_kind + 1000 * (uint64_t)tries);
        ws = mist_train_ws_alloc(m, &err);
        ck_assert_msg(ws != NULL, "%s", err.msg);
        np = mist_model_param_count(m);
        g = zvec(np), gs = zvec(np);
        make_batch(&b, loss_kind);
        ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, loss_kind, g, &L, preds, &err), 0);
        if (mist_train_ws_relu_margin(ws) >= 0.02) break;
        free(g), free(gs), free_batch(&b);
        mist_train_ws_free(ws);
        mist_model_free(m);
    }
    /* keep the pinball residuals away from 0 */
    for (int s = 0; s < 3; s++) b.ex[s].mi = preds[s] + (s % 2 ? 1.0 : -1.0);
    memset(g, 0, np * sizeof *g);
    ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, loss_kind, g, &L, preds, &err), 0);
    double gn = sqrt(dot_fd(g, g, np));
    model_ctx c = {m, ws, b.ex, 3, loss_kind, gs};
    float *p = mist_model_params(m);
    size_t nt = mist_model_tensor_count(m);
    int bad = 0;
    for (size_t t = 0; t < nt; t++) {
        const char *name;
        size_t off;
        mist_model_tensor_info(m, t, &name, NULL, NULL, &off);
        size_t end = t + 1 < nt ? 0 : np;
        if (t + 1 < nt) mist_model_tensor_info(m, t + 1, NULL, NULL, NULL, &end);
        size_t len = end - off;
        double *u = malloc(len * sizeof *u), un = 0;
        for (size_t i = 0; i < len; i++) u[i] = rnorm(), un += u[i] * u[i];
        un = sqrt(un);
        double an = 0;
        for (size_t i = 0; i < len; i++) u[i] /= un, an += u[i] * g[off + i];
        float *save = malloc(len * sizeof *save);
        memcpy(save, p + off, len * sizeof *save);
        const double h = 3e-3;
        for (size_t i = 0; i < len; i++) p[off + i] = (float)(save[i] + h * u[i]);
        double fp = model_loss(&c);
        for (size_t i = 0; i < len; i++) p[off + i] = (float)(save[i] - h * u[i]);
        double fm = model_loss(&c);
        memcpy(p + off, save, len * sizeof *save);
        double fd = (fp - fm) / (2 * h);
        double tol = 2e-2 * fabs(an) + 2e-4 * gn;
        if (!(fabs(fd - an) <= tol)) {
            fprintf(stderr, "qc %d act %d loss %d: %s: fd %.6g analytic %.6g\n", qc, act,
                    loss_kind, name, fd, an);
            bad++;
        }
        free(u), free(save);
    }
    ck_assert_int_eq(bad, 0);
    free(g), free(gs);
    free_batch(&b);
    mist_train_ws_free(ws);
    mist_model_free(m);
}

START_TEST(test_model_fd_mse)
{
    check_model_fd(0, MIST_ACT_GELU, MIST_LOSS_MSE);
    check_model_fd(1, MIST_ACT_GELU, MIST_LOSS_MSE);
}
END_TEST

/* The same for the pairs layout: the pair statistic's backward (recomputed activations, the
 * row mean, two statistic MLPs, the Gaussian features' weight, its LayerNorm) and the dataset
 * features appended to rho's input. */
START_TEST(test_model_fd_pairs)
{
    pairs_arch = 1;
    check_model_fd(0, MIST_ACT_GELU, MIST_LOSS_MSE);
    check_model_fd(1, MIST_ACT_GELU, MIST_LOSS_PINBALL);
    pairs_arch = 4; /* the summed readout: its weight and the encoder tokens it reads */
    check_model_fd(1, MIST_ACT_GELU, MIST_LOSS_PINBALL);
    pairs_arch = 0;
}
END_TEST

/* Pairs layout: batch = singles (1e-5), workers = serial, training prediction of a dataset
 * alone = its estimate bit for bit. */
START_TEST(test_pairs_batch_workers_estimate)
{
    pairs_arch = _i < 2 ? 1 : _i; /* GELU, ReLU; ReLU with gauss_base (unbiased) */
    mist_model *m = tiny_train_model(1, _i ? MIST_ACT_RELU : MIST_ACT_GELU, 23);
    mist_err err;
    mist_train_ws *ws = mist_train_ws_alloc(m, &err);
    ck_assert_msg(ws != NULL, "%s", err.msg);
    size_t np = mist_model_param_count(m);
    batch b;
    make_batch(&b, 1);
    float *g = zvec(np), *g1 = zvec(np), *gw = zvec(np);
    double L, P[3], Ls = 0, p1, Lw, Pw[3];
    ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, MIST_LOSS_PINBALL, g, &L, P, &err), 0);
    for (int s = 0; s < 3; s++) {
        double l1, est;
        ck_assert_int_eq(mist_train_grad(m, ws, &b.ex[s], 1, MIST_LOSS_PINBALL, g1, &l1, &p1,
                                         &err), 0);
        Ls += l1 / 3;
        ck_assert_double_le(fabs(p1 - P[s]), 1e-5 * fmax(1, fabs(p1)));
        ck_assert_int_eq(mist_model_estimate(m, b.ex[s].data, b.ex[s].n, b.ex[s].dx, b.ex[s].dy,
                                             &b.ex[s].tau, 1, &est, &err), 0);
        ck_assert_msg(est == p1, "%.17g vs %.17g", est, p1);
    }
    for (size_t i = 0; i < np; i++) g1[i] /= 3;
    ck_assert_double_le(fabs(L - Ls), 1e-5 * fmax(1, fabs(Ls)));
    ck_assert_double_le(rel_normf(g, g1, np), 1e-5);
    ck_assert_int_eq(mist_train_ws_set_workers(ws, 2, &err), 0);
    ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, MIST_LOSS_PINBALL, gw, &Lw, Pw, &err), 0);
    ck_assert_double_le(fabs(Lw - L), 1e-6 * fmax(1, fabs(L)));
    ck_assert_double_le(rel_normf(gw, g, np), 1e-6);
    free(g), free(g1), free(gw);
    free_batch(&b);
    mist_train_ws_free(ws);
    mist_model_free(m);
    pairs_arch = 0;
}
END_TEST

START_TEST(test_model_fd_pinball)
{
    check_model_fd(1, MIST_ACT_GELU, MIST_LOSS_PINBALL);
    check_model_fd(0, MIST_ACT_GELU, MIST_LOSS_PINBALL);
}
END_TEST

/* The smallest graph (no feature SAB, ISAB or decoder SAB; rho a single Linear; zscore
 * inputs): finite differences as above, and the prediction equals mist_model_estimate. */
START_TEST(test_model_edge_arch)
{
    edge_arch = 1;
    check_model_fd(0, MIST_ACT_GELU, MIST_LOSS_MSE);
    check_model_fd(1, MIST_ACT_GELU, MIST_LOSS_PINBALL);
    for (int qc = 0; qc < 2; qc++) {
        mist_model *m = tiny_train_model(qc, MIST_ACT_GELU, 3);
        mist_err err;
        mist_train_ws *ws = mist_train_ws_alloc(m, &err);
        float *g = zvec(mist_model_param_count(m));
        batch b;
        make_batch(&b, qc);
        b.ex[0].n = 2; /* the smallest dataset */
        double L, P[3];
        int lk = qc ? MIST_LOSS_PINBALL : MIST_LOSS_MSE;
        ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, lk, g, &L, P, &err), 0);
        for (int s = 0; s < 3; s++) {
            double est;
            ck_assert_int_eq(mist_model_estimate(m, b.ex[s].data, b.ex[s].n, b.ex[s].dx,
                                                 b.ex[s].dy, qc ? &b.ex[s].tau : NULL,
                                                 qc ? 1 : 0, &est, &err),
                             0);
            ck_assert_msg(fabs(est - P[s]) <= 1e-5 * fmax(1, fabs(est)), "%g vs %g", est, P[s]);
            /* the dataset alone: inference's own blocks, so the same bits */
            double l1, p1;
            ck_assert_int_eq(mist_train_grad(m, ws, &b.ex[s], 1, lk, g, &l1, &p1, &err), 0);
            ck_assert_msg(est == p1, "%.17g vs %.17g", est, p1);
        }
        free(g);
        free_batch(&b);
        mist_train_ws_free(ws);
        mist_model_free(m);
    }
    edge_arch = 0;
}
END_TEST

/* A batch of 3 ragged datasets gives the mean of the losses and of the gradients of the
 * datasets run alone: 1e-5 relative (loss) and on the gradient's norm; predictions 1e-5. */
START_TEST(test_batch_equals_singles)
{
    for (int loss_kind = 0; loss_kind < 2; loss_kind++) {
        mist_model *m =
            tiny_train_model(loss_kind, loss_kind ? MIST_ACT_GELU : MIST_ACT_RELU, 5);
        mist_err err;
        mist_train_ws *ws = mist_train_ws_alloc(m, &err);
        ck_assert_ptr_nonnull(ws);
        size_t np = mist_model_param_count(m);
        batch b;
        make_batch(&b, loss_kind);
        float *g = zvec(np), *g1 = zvec(np);
        double L, P[3], Ls = 0, p1;
        ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, loss_kind, g, &L, P, &err), 0);
        for (int s = 0; s < 3; s++) {
            double l1;
            ck_assert_int_eq(mist_train_grad(m, ws, &b.ex[s], 1, loss_kind, g1, &l1, &p1, &err),
                             0);
            Ls += l1 / 3;
            ck_assert_double_le(fabs(p1 - P[s]), 1e-5 * fmax(1, fabs(p1)));
        }
        for (size_t i = 0; i < np; i++) g1[i] /= 3;
        ck_assert_double_le(fabs(L - Ls), 1e-5 * fmax(1, fabs(Ls)));
        ck_assert_double_le(rel_normf(g, g1, np), 1e-5);
        /* accumulation: a second call adds the same gradient again */
        float *g2 = zvec(np);
        memcpy(g2, g, np * sizeof *g);
        ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, loss_kind, g2, &L, P, &err), 0);
        for (size_t i = 0; i < np; i++) g2[i] -= g[i];
        ck_assert_double_le(rel_normf(g2, g, np), 1e-6);
        free(g), free(g1), free(g2);
        free_batch(&b);
        mist_train_ws_free(ws);
        mist_model_free(m);
    }
}
END_TEST

/* Worker threads (mist_train_ws_set_workers) change nothing beyond float rounding: 2 and 3
 * workers against 1, loss and predictions 1e-6, gradients 1e-6 on the norm. */
START_TEST(test_workers_equal_serial)
{
    mist_model *m = tiny_train_model(1, MIST_ACT_GELU, 21);
    mist_err err;
    size_t np = mist_model_param_count(m);
    batch b;
    make_batch(&b, 1);
    float *g1 = zvec(np), *gw = zvec(np);
    double L1, Lw, P1[3], Pw[3];
    mist_train_ws *ws = mist_train_ws_alloc(m, &err);
    ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, MIST_LOSS_PINBALL, g1, &L1, P1, &err), 0);
    for (int w = 2; w <= 3; w++) {
        ck_assert_int_eq(mist_train_ws_set_workers(ws, w, &err), 0);
        memset(gw, 0, np * sizeof *gw);
        ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, MIST_LOSS_PINBALL, gw, &Lw, Pw, &err),
                         0);
        ck_assert_double_le(fabs(Lw - L1), 1e-6 * fmax(1, fabs(L1)));
        for (int s = 0; s < 3; s++) ck_assert_double_le(fabs(Pw[s] - P1[s]), 1e-6);
        ck_assert_double_le(rel_normf(gw, g1, np), 1e-6);
    }
    ck_assert_int_ne(mist_train_ws_set_workers(ws, 0, &err), 0);
    free(g1), free(gw);
    free_batch(&b);
    mist_train_ws_free(ws);
    mist_model_free(m);
}
END_TEST

/* The training forward's prediction equals mist_model_estimate, point and
 * quantile-conditioned (the example's tau): bit for bit for a dataset alone (the training
 * forward is inference's graph_run keeping its activations), 1e-5 within a batch (row blocks
 * then span datasets). */
START_TEST(test_prediction_equals_estimate)
{
    for (int qc = 0; qc < 2; qc++) {
        mist_model *m = tiny_train_model(qc, MIST_ACT_GELU, 7);
        mist_err err;
        mist_train_ws *ws = mist_train_ws_alloc(m, &err);
        size_t np = mist_model_param_count(m);
        float *g = zvec(np);
        batch b;
        make_batch(&b, qc);
        double L, P[3];
        int lk = qc ? MIST_LOSS_PINBALL : MIST_LOSS_MSE;
        ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, lk, g, &L, P, &err), 0);
        for (int s = 0; s < 3; s++) {
            double est;
            ck_assert_int_eq(mist_model_estimate(m, b.ex[s].data, b.ex[s].n, b.ex[s].dx,
                                                 b.ex[s].dy, qc ? &b.ex[s].tau : NULL,
                                                 qc ? 1 : 0, &est, &err),
                             0);
            ck_assert_msg(fabs(est - P[s]) <= 1e-5 * fmax(1, fabs(est)), "%g vs %g", est, P[s]);
            /* the dataset alone: inference's own blocks, so the same bits */
            double l1, p1;
            ck_assert_int_eq(mist_train_grad(m, ws, &b.ex[s], 1, lk, g, &l1, &p1, &err), 0);
            ck_assert_msg(est == p1, "%.17g vs %.17g", est, p1);
        }
        free(g);
        free_batch(&b);
        mist_train_ws_free(ws);
        mist_model_free(m);
    }
}
END_TEST

/* A mid-size model (D 32, 4 heads, 2 feature SABs, 2 ISABs, rho 3 layers) on n up to 300:
 * the training forward equals mist_model_estimate bit for bit for a dataset alone, 1e-5 in a
 * batch, and mist_model_estimate_batch of the same batch bit for bit. */
START_TEST(test_prediction_equals_estimate_mid)
{
    mist_arch a;
    mist_arch_official(&a, 1);
    a.input_layout = MIST_LAYOUT_SPLIT;
    a.preprocess = MIST_PREP_COPULA;
    a.max_dx = a.max_dy = 8;
    a.max_input_dim = 16;
    a.D = 32, a.H = 4, a.ff = 48, a.n_inds = 8, a.n_seeds = 3;
    a.n_feature_sab = 2, a.n_isab = 2, a.n_dec = 1, a.n_rho = 3, a.rho_hidden = 16;
    mist_err err;
    mist_model *m = mist_model_create_random(&a, 9, &err);
    ck_assert_ptr_nonnull(m);
    mist_train_ws *ws = mist_train_ws_alloc(m, &err);
    float *g = zvec(mist_model_param_count(m));
    size_t ns[3] = {300, 37, 120};
    int dxs[3] = {5, 1, 8}, dys[3] = {7, 1, 2};
    mist_train_example ex[3];
    mist_data_view v[3];
    for (int s = 0; s < 3; s++) {
        double *d = rdata(ns[s], dxs[s], dys[s]);
        mist_train_example e = {d, ns[s], dxs[s], dys[s], 0.5, 0.1 + 0.35 * s};
        mist_data_view w = {d, ns[s], dxs[s], dys[s]};
        ex[s] = e, v[s] = w;
    }
    double L, P[3], est[3];
    ck_assert_int_eq(mist_train_grad(m, ws, ex, 3, MIST_LOSS_PINBALL, g, &L, P, &err), 0);
    for (int s = 0; s < 3; s++) {
        ck_assert_int_eq(mist_model_estimate(m, ex[s].data, ex[s].n, ex[s].dx, ex[s].dy,
                                             &ex[s].tau, 1, &est[s], &err),
                         0);
        ck_assert_msg(fabs(est[s] - P[s]) <= 1e-5 * fmax(1, fabs(est[s])), "%g vs %g", est[s],
                      P[s]);
        double l1, p1;
        ck_assert_int_eq(mist_train_grad(m, ws, &ex[s], 1, MIST_LOSS_PINBALL, g, &l1, &p1, &err),
                         0);
        ck_assert_msg(est[s] == p1, "%.17g vs %.17g", est[s], p1);
    }
    double half = 0.5;
    ck_assert_int_eq(mist_model_estimate_batch(m, v, 3, &half, 1, est, &err), 0);
    ck_assert_int_eq(mist_train_grad(m, ws, ex, 3, MIST_LOSS_MSE, g, &L, P, &err), 0);
    for (int s = 0; s < 3; s++)
        ck_assert_msg(est[s] == P[s], "%.17g vs %.17g", est[s], P[s]);
    for (int s = 0; s < 3; s++) free((void *)ex[s].data);
    free(g);
    mist_train_ws_free(ws);
    mist_model_free(m);
}
END_TEST

START_TEST(test_train_errors)
{
    mist_arch a;
    mist_arch_official(&a, 0);
    a.D = 8, a.H = 2, a.ff = 8, a.n_inds = 2, a.n_seeds = 2, a.rho_hidden = 4;
    a.max_dx = a.max_dy = 2, a.max_input_dim = 4;
    mist_err err;
    mist_model *pk = mist_model_create_random(&a, 1, &err);
    ck_assert_ptr_nonnull(pk);
    ck_assert_ptr_null(mist_train_ws_alloc(pk, &err));
    ck_assert_msg(strstr(err.msg, "split") != NULL, "%s", err.msg);
    mist_model_free(pk);
    mist_model *m = tiny_train_model(0, MIST_ACT_GELU, 3);
    mist_train_ws *ws = mist_train_ws_alloc(m, &err);
    float *g = zvec(mist_model_param_count(m));
    batch b;
    make_batch(&b, 0);
    double L;
    b.ex[1].dx = 4;
    ck_assert_int_ne(mist_train_grad(m, ws, b.ex, 3, MIST_LOSS_MSE, g, &L, NULL, &err), 0);
    b.ex[1].dx = 3;
    b.data[2][3] = NAN;
    ck_assert_int_ne(mist_train_grad(m, ws, b.ex, 3, MIST_LOSS_MSE, g, &L, NULL, &err), 0);
    ck_assert_int_eq(mist_train_ws_set_workers(ws, 2, &err), 0);
    ck_assert_int_ne(mist_train_grad(m, ws, b.ex, 3, MIST_LOSS_MSE, g, &L, NULL, &err), 0);
    ck_assert_msg(strstr(err.msg, "example 3") != NULL, "%s", err.msg);
    ck_assert_int_eq(mist_train_ws_set_workers(ws, 1, &err), 0);
    b.data[2][3] = 0.5;
    b.ex[0].tau = 1.0;
    ck_assert_int_ne(mist_train_grad(m, ws, b.ex, 3, MIST_LOSS_PINBALL, g, &L, NULL, &err), 0);
    ck_assert_int_eq(mist_train_grad(m, ws, b.ex, 3, MIST_LOSS_MSE, g, &L, NULL, &err), 0);
    ck_assert_int_ne(mist_train_grad(m, ws, b.ex, 3, 7, g, &L, NULL, &err), 0);
    free(g);
    free_batch(&b);
    mist_train_ws_free(ws);
    mist_model_free(m);
}
END_TEST

int main(void)
{
    /* MIST_TEST_SEED=N reruns every check on other random data (default: fixed) */
    const char *seed = getenv("MIST_TEST_SEED");
    if (seed) rs ^= 0x9E3779B97F4A7C15ULL * strtoull(seed, NULL, 10);
    Suite *s = suite_create("backward");
    tu_case(s, "kernels", 0, test_linear_backward, test_layernorm_backward,
            test_activation_backward, test_attention_backward, NULL);
    TCase *g = tu_case(s, "model", 120, test_model_fd_mse, test_model_fd_pinball,
                       test_model_fd_pairs, test_model_edge_arch, test_batch_equals_singles,
                       test_workers_equal_serial, test_prediction_equals_estimate,
                       test_prediction_equals_estimate_mid, test_train_errors, NULL);
    tcase_add_loop_test(g, test_pairs_batch_workers_estimate, 0, 5); /* GELU, ReLU, +bases,
                                                                          * +sum_head */
    return tu_run(s) ? 1 : 0;
}
