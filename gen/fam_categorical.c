/* Discrete and mixed variables. Categories are stored as the values 0..K-1; the first column of
 * a categorical block carries the dependence and the other columns of the block are
 * independent draws of the same kind (uniform categories, or N(0,1) for continuous blocks),
 * which leave the MI unchanged.
 *   categorical-gauss:   X = class k ~ p, Y | k ~ N(mu_k, s^2 I) (mu_k in the first
 *                        min(dy, 3) coordinates); MI = h(Y) - h(Y|X): quadrature for dy = 1,
 *                        Monte Carlo of H(X) - H(X | Y) for dy >= 2.
 *   categorical-softmax: X ~ N(0,1), Y = class k with P(k | x) = softmax(a_k x + q_k x^2 + b_k);
 *                        MI = H(Y) - E_x H(Y | x), both 1-D quadratures.
 *   categorical-channel: X = class k ~ p, Y = class m ~ Q[k][m]; MI by finite sums.
 *   categorical-binary:  K pairs, X_j ~ Bernoulli(p_j), Y_j = X_j flipped with probability
 *                        e_j; MI = sum of H_b(p(1-e) + (1-p)e) - H_b(e). */
#include "gen_internal.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_XMAX 8.3 /* as the channel quadrature: P(|X| > 8.3) = 1e-16 */
#define CT_MAX_NODES 4000000

/* -sum p log p of a probability vector (zeros contribute nothing). */
static double entropy(const double *p, int k)
{
    double h = 0.0;
    for (int i = 0; i < k; i++)
        if (p[i] > 0.0) h -= p[i] * log(p[i]);
    return h;
}

/* The index drawn by inversion of the probability vector p (k entries, summing to 1). */
static int draw_index(gsl_rng *r, const double *p, int k)
{
    double u = gsl_rng_uniform(r), acc = 0.0;
    int j = 0;
    while (j + 1 < k && u >= (acc += p[j])) j++;
    return j;
}

/* Normalises k raw weights in place; 0 when their sum is not positive. */
static int normalise(double *w, int k)
{
    double s = 0.0;
    for (int i = 0; i < k; i++) s += w[i];
    if (!(s > 0.0) || !isfinite(s)) return 0;
    for (int i = 0; i < k; i++) w[i] /= s;
    return 1;
}

/* ---- categorical-gauss --------------------------------------------------------------------- */

#define CG_K_DRAWN 8
#define CG_MAX_M 3

typedef struct cg_fam {
    int K, m; /* classes, informative Y coordinates */
    double s;
    double *p;  /* K, normalised */
    double *mu; /* K x m */
    double hx;  /* H(X) */
} cg_fam;

static void cg_free(void *fam)
{
    cg_fam *f = fam;
    if (!f) return;
    free(f->p);
    free(f->mu);
    free(f);
}

/* One draw of H(X) - H(X | Y = y) with y ~ p(y): unbiased for the MI, and bounded (in
 * [H(X) - log K, H(X)]), so fewer draws reach the target error than with the log ratio. */
static double cg_draw(const void *ctx, gsl_rng *r)
{
    const cg_fam *f = ctx;
    int k = draw_index(r, f->p, f->K), m = f->m;
    double y[CG_MAX_M];
    for (int i = 0; i < m; i++) y[i] = f->mu[k * m + i] + f->s * gsl_ran_gaussian_ziggurat(r, 1.0);
    double lmax = -INFINITY, lp[64];
    for (int j = 0; j < f->K; j++) {
        double d2 = 0.0;
        for (int i = 0; i < m; i++) {
            double d = y[i] - f->mu[j * m + i];
            d2 += d * d;
        }
        lp[j] = f->p[j] > 0.0 ? log(f->p[j]) - d2 / (2.0 * f->s * f->s) : -INFINITY;
        if (lp[j] > lmax) lmax = lp[j];
    }
    double z = 0.0;
    for (int j = 0; j < f->K; j++) z += exp(lp[j] - lmax);
    double lz = lmax + log(z), h = 0.0;
    for (int j = 0; j < f->K; j++) {
        if (lp[j] == -INFINITY) continue;
        double post = exp(lp[j] - lz);
        h -= post * (lp[j] - lz);
    }
    return f->hx - h;
}

/* dy = 1: h(Y) of the mixture sum p_k N(mu_k, s^2) by the trapezoid rule (spacing s/4, 10 s
 * beyond the outer means: the rule is spectrally accurate on this analytic density). */
static int cg_mi_1d(cg_fam *f, mist_task *t, mist_err *err)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < f->K; k++) {
        if (f->mu[k] < lo) lo = f->mu[k];
        if (f->mu[k] > hi) hi = f->mu[k];
    }
    double h = 0.25 * f->s;
    lo -= 10.0 * f->s;
    hi += 10.0 * f->s;
    double nd = ceil((hi - lo) / h) + 1.0;
    if (nd * f->K > 50.0 * CT_MAX_NODES)
        return mist_fail(err, MIST_EINVAL,
                         "%s: the class means span %.3g, %.0f times s=%g: too wide for the "
                         "quadrature; choose a larger s or closer means",
                         t->name, hi - lo, (hi - lo) / f->s, f->s);
    size_t n = (size_t)nd;
    double c = 1.0 / (f->s * sqrt(2.0 * GEN_PI)), hy = 0.0, mass = 0.0;
    for (size_t i = 0; i < n; i++) {
        double y = lo + (double)i * h, p = 0.0;
        for (int k = 0; k < f->K; k++) {
            double u = (y - f->mu[k]) / f->s;
            p += f->p[k] * c * exp(-0.5 * u * u);
        }
        mass += p;
        if (p > 0.0) hy -= p * log(p);
    }
    hy *= h;
    mass *= h;
    if (!(fabs(mass - 1.0) < 1e-9))
        return mist_fail(err, MIST_ENUMERIC, "%s: the quadrature lost mass (%.12g)", t->name, mass);
    double mi = hy - 0.5 * log(2.0 * GEN_PI * exp(1.0) * f->s * f->s);
    t->mi = mi > 0.0 ? mi : 0.0;
    return MIST_OK;
}

static int cg_create(mist_task *t, gen_resolver *rs)
{
    cg_fam *f = calloc(1, sizeof *f);
    if (!f) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    t->fam = f;
    int K0 = gen_draw_int(rs, 2, CG_K_DRAWN);
    double s0 = gen_draw_log_uniform(rs, 0.2, 2);
    f->K = gen_resolve_int(rs, "K", 1, 64, K0);
    f->s = gen_resolve(rs, "s", s0);
    gen_check_range(rs, "s", f->s, 1e-3, 1e3, 0, 0);
    if (rs->status) return rs->status;
    f->m = t->dy < CG_MAX_M ? t->dy : CG_MAX_M;
    int nd = f->K > CG_K_DRAWN ? f->K : CG_K_DRAWN, m = f->m;
    f->p = malloc((size_t)nd * sizeof *f->p);
    f->mu = malloc((size_t)nd * (size_t)m * sizeof *f->mu);
    if (!f->p || !f->mu) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    for (int k = 0; k < nd; k++) {
        f->p[k] = -log1p(-gen_draw_uniform(rs, 0, 1));
        for (int i = 0; i < m; i++) f->mu[k * m + i] = gen_draw_uniform(rs, -2, 2);
    }
    for (int k = 0; k < f->K && rs->status == MIST_OK; k++) {
        f->p[k] = gen_resolve_indexed_in(rs, "p", k + 1, f->p[k], 0, 1e6);
        for (int i = 0; i < m; i++) {
            char name[MIST_PARAM_NAME_LEN];
            snprintf(name, sizeof name, "mu%d_%d", k + 1, i + 1);
            f->mu[k * m + i] = gen_resolve(rs, name, f->mu[k * m + i]);
            gen_check_range(rs, name, f->mu[k * m + i], -100, 100, 0, 0);
        }
    }
    if (rs->status) return rs->status;
    if (!normalise(f->p, f->K))
        return gen_reject(rs, MIST_EINVAL, "%s: the class weights p1..p%d sum to 0", t->name, f->K);
    f->hx = entropy(f->p, f->K);
    if (m == 1)
        rs->status = cg_mi_1d(f, t, rs->err);
    else {
        rs->status = gen_mc_mi(t->name, f, cg_draw, rs->seed, &t->mi, &t->mi_se, rs->err);
        if (!rs->status) rs->status = gen_record(rs, "mi_se", t->mi_se);
    }
    if (t->mi > f->hx) t->mi = f->hx; /* I(X;Y) <= H(X): one class gives exactly 0 */
    return rs->status;
}

static void cg_sample(const mist_task *t, gsl_rng *r, size_t n, double *out)
{
    const cg_fam *f = t->fam;
    int dx = t->dx, dy = t->dy;
    for (size_t row = 0; row < n; row++) {
        double *o = out + row * (size_t)(dx + dy);
        int k = draw_index(r, f->p, f->K);
        o[0] = k;
        for (int j = 1; j < dx; j++) o[j] = (double)gsl_rng_uniform_int(r, (unsigned long)f->K);
        for (int j = 0; j < dy; j++)
            o[dx + j] =
                (j < f->m ? f->mu[k * f->m + j] : 0.0) + f->s * gsl_ran_gaussian_ziggurat(r, 1.0);
    }
}

/* ---- categorical-softmax ------------------------------------------------------------------- */

#define CS_K_DRAWN 6

typedef struct cs_fam {
    int K;
    double *a, *q, *b;
} cs_fam;

static void cs_free(void *fam)
{
    cs_fam *f = fam;
    if (!f) return;
    free(f->a);
    free(f->q);
    free(f->b);
    free(f);
}

/* P(Y = k | x) into pi; returns its entropy. */
static double cs_probs(const cs_fam *f, double x, double *pi)
{
    double lmax = -INFINITY;
    for (int k = 0; k < f->K; k++) {
        pi[k] = f->a[k] * x + f->q[k] * x * x + f->b[k];
        if (pi[k] > lmax) lmax = pi[k];
    }
    double z = 0.0;
    for (int k = 0; k < f->K; k++) z += exp(pi[k] - lmax);
    double lz = lmax + log(z), h = 0.0;
    for (int k = 0; k < f->K; k++) {
        double l = pi[k] - lz;
        pi[k] = exp(l);
        h -= pi[k] * l;
    }
    return h;
}

/* H(Y) - E_x H(Y | x) by the trapezoid rule over x: the logits' differences change at most at
 * rate L, so P(k | x) is analytic in a strip of half-width about pi / L around the axis and a
 * spacing of 1/(4L) makes the rule's error negligible. */
static int cs_mi(cs_fam *f, mist_task *t, mist_err *err)
{
    double amin = INFINITY, amax = -INFINITY, qmin = INFINITY, qmax = -INFINITY;
    for (int k = 0; k < f->K; k++) {
        amin = fmin(amin, f->a[k]);
        amax = fmax(amax, f->a[k]);
        qmin = fmin(qmin, f->q[k]);
        qmax = fmax(qmax, f->q[k]);
    }
    double L = (amax - amin) + 2.0 * CT_XMAX * (qmax - qmin), h = L > 0 ? 0.25 / L : 0.02;
    if (h > 0.02) h = 0.02;
    size_t n = (size_t)ceil(2.0 * CT_XMAX / h) + 1;
    h = 2.0 * CT_XMAX / (double)(n - 1);
    double *P = calloc((size_t)f->K, sizeof *P), *pi = malloc((size_t)f->K * sizeof *pi);
    if (!P || !pi) {
        free(P);
        free(pi);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    double hc = 0.0, mass = 0.0;
    for (size_t i = 0; i < n; i++) {
        double x = -CT_XMAX + (double)i * h, w = h * gen_phi_pdf(x);
        double hk = cs_probs(f, x, pi);
        hc += w * hk;
        mass += w;
        for (int k = 0; k < f->K; k++) P[k] += w * pi[k];
    }
    double mi = entropy(P, f->K) - hc;
    free(P);
    free(pi);
    if (!(fabs(mass - 1.0) < 1e-12))
        return mist_fail(err, MIST_ENUMERIC, "%s: the quadrature lost mass (%.15g)", t->name, mass);
    t->mi = mi > 0.0 ? mi : 0.0;
    return MIST_OK;
}

static int cs_create(mist_task *t, gen_resolver *rs)
{
    cs_fam *f = calloc(1, sizeof *f);
    if (!f) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    t->fam = f;
    int K0 = gen_draw_int(rs, 2, CS_K_DRAWN);
    f->K = gen_resolve_int(rs, "K", 1, 64, K0);
    if (rs->status) return rs->status;
    int nd = f->K > CS_K_DRAWN ? f->K : CS_K_DRAWN;
    f->a = malloc((size_t)nd * sizeof *f->a);
    f->q = malloc((size_t)nd * sizeof *f->q);
    f->b = malloc((size_t)nd * sizeof *f->b);
    if (!f->a || !f->q || !f->b) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    for (int k = 0; k < nd; k++) {
        f->a[k] = gen_draw_uniform(rs, -8, 8);
        f->q[k] = gen_draw_uniform(rs, -2, 2);
        f->b[k] = gen_draw_uniform(rs, -2, 2);
    }
    for (int k = 0; k < f->K; k++) {
        f->a[k] = gen_resolve_indexed_in(rs, "a", k + 1, f->a[k], -50, 50);
        f->q[k] = gen_resolve_indexed_in(rs, "q", k + 1, f->q[k], -10, 10);
        f->b[k] = gen_resolve_indexed_in(rs, "b", k + 1, f->b[k], -50, 50);
    }
    if (rs->status) return rs->status;
    return rs->status = cs_mi(f, t, rs->err);
}

static void cs_sample(const mist_task *t, gsl_rng *r, size_t n, double *out)
{
    const cs_fam *f = t->fam;
    int dx = t->dx, dy = t->dy;
    double pi[64];
    for (size_t row = 0; row < n; row++) {
        double *o = out + row * (size_t)(dx + dy);
        for (int j = 0; j < dx; j++) o[j] = gsl_ran_gaussian_ziggurat(r, 1.0);
        cs_probs(f, o[0], pi);
        o[dx] = draw_index(r, pi, f->K);
        for (int j = 1; j < dy; j++)
            o[dx + j] = (double)gsl_rng_uniform_int(r, (unsigned long)f->K);
    }
}

/* ---- categorical-channel ------------------------------------------------------------------- */

#define CC_DRAWN 5

typedef struct cc_fam {
    int K, M;
    double *p; /* K, normalised */
    double *Q; /* K x M, rows normalised */
} cc_fam;

static void cc_free(void *fam)
{
    cc_fam *f = fam;
    if (!f) return;
    free(f->p);
    free(f->Q);
    free(f);
}

static int cc_create(mist_task *t, gen_resolver *rs)
{
    cc_fam *f = calloc(1, sizeof *f);
    if (!f) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    t->fam = f;
    int K0 = gen_draw_int(rs, 2, CC_DRAWN), M0 = gen_draw_int(rs, 2, CC_DRAWN);
    f->K = gen_resolve_int(rs, "K", 1, 64, K0);
    f->M = gen_resolve_int(rs, "M", 1, 64, M0);
    if (rs->status) return rs->status;
    int K = f->K, M = f->M, KK = K > CC_DRAWN ? K : CC_DRAWN, MM = M > CC_DRAWN ? M : CC_DRAWN;
    f->p = malloc((size_t)KK * sizeof *f->p);
    f->Q = malloc((size_t)KK * (size_t)MM * sizeof *f->Q);
    if (!f->p || !f->Q) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    /* the default 5 x 5 block first, so that K or M given beyond it leaves its draws */
    for (int k = 0; k < CC_DRAWN; k++) {
        f->p[k] = -log1p(-gen_draw_uniform(rs, 0, 1));
        for (int m = 0; m < CC_DRAWN; m++) {
            /* Gamma(1/4): rows with a few large entries, from near-deterministic channels
             * (high MI) to flat ones */
            f->Q[k * MM + m] = gsl_ran_gamma(rs->rng, 0.25, 1.0);
        }
    }
    for (int k = 0; k < KK; k++) {
        if (k >= CC_DRAWN) f->p[k] = -log1p(-gen_draw_uniform(rs, 0, 1));
        for (int m = 0; m < MM; m++) {
            if (k < CC_DRAWN && m < CC_DRAWN) continue;
            f->Q[k * MM + m] = gsl_ran_gamma(rs->rng, 0.25, 1.0);
        }
    }
    for (int k = 0; k < K && rs->status == MIST_OK; k++) {
        f->p[k] = gen_resolve_indexed_in(rs, "p", k + 1, f->p[k], 0, 1e6);
        for (int m = 0; m < M; m++) {
            char name[MIST_PARAM_NAME_LEN];
            snprintf(name, sizeof name, "q%d_%d", k + 1, m + 1);
            f->Q[k * MM + m] = gen_resolve(rs, name, f->Q[k * MM + m]);
            gen_check_range(rs, name, f->Q[k * MM + m], 0, 1e6, 0, 0);
        }
    }
    if (rs->status) return rs->status;
    /* pack the K x M rows (stride MM) and normalise them */
    for (int k = 0; k < K; k++) {
        memmove(f->Q + (size_t)k * M, f->Q + (size_t)k * MM, (size_t)M * sizeof *f->Q);
        if (!normalise(f->Q + (size_t)k * M, M))
            return gen_reject(rs, MIST_EINVAL, "%s: the channel row q%d_1..q%d_%d sums to 0",
                              t->name, k + 1, k + 1, M);
    }
    if (!normalise(f->p, K))
        return gen_reject(rs, MIST_EINVAL, "%s: the class weights p1..p%d sum to 0", t->name, K);
    double mi = 0.0;
    for (int m = 0; m < M; m++) {
        double pm = 0.0;
        for (int k = 0; k < K; k++) pm += f->p[k] * f->Q[k * M + m];
        for (int k = 0; k < K; k++) {
            double pq = f->p[k] * f->Q[k * M + m];
            if (pq > 0.0) mi += pq * log(f->Q[k * M + m] / pm);
        }
    }
    t->mi = mi > 0.0 ? mi : 0.0;
    return MIST_OK;
}

static void cc_sample(const mist_task *t, gsl_rng *r, size_t n, double *out)
{
    const cc_fam *f = t->fam;
    int dx = t->dx, dy = t->dy;
    for (size_t row = 0; row < n; row++) {
        double *o = out + row * (size_t)(dx + dy);
        int k = draw_index(r, f->p, f->K);
        o[0] = k;
        for (int j = 1; j < dx; j++) o[j] = (double)gsl_rng_uniform_int(r, (unsigned long)f->K);
        o[dx] = draw_index(r, f->Q + (size_t)k * f->M, f->M);
        for (int j = 1; j < dy; j++)
            o[dx + j] = (double)gsl_rng_uniform_int(r, (unsigned long)f->M);
    }
}

/* ---- categorical-binary -------------------------------------------------------------------- */

typedef struct cb_fam {
    int K;
    double *p, *e;
} cb_fam;

static void cb_free(void *fam)
{
    cb_fam *f = fam;
    if (!f) return;
    free(f->p);
    free(f->e);
    free(f);
}

static double hb(double p) /* binary entropy in nats */
{
    double h = 0.0;
    if (p > 0.0) h -= p * log(p);
    if (p < 1.0) h -= (1.0 - p) * log1p(-p);
    return h;
}

static int cb_create(mist_task *t, gen_resolver *rs)
{
    cb_fam *f = calloc(1, sizeof *f);
    if (!f) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    t->fam = f;
    int m = t->dx < t->dy ? t->dx : t->dy;
    f->p = malloc((size_t)m * sizeof *f->p);
    f->e = malloc((size_t)m * sizeof *f->e);
    if (!f->p || !f->e) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    int K0 = gen_draw_int(rs, 1, m);
    for (int j = 0; j < m; j++) {
        f->p[j] = gen_draw_uniform(rs, 0.1, 0.9);
        f->e[j] = gen_draw_uniform(rs, 0, 0.5);
    }
    f->K = gen_resolve_int(rs, "K", 0, m, K0);
    t->mi = 0.0;
    for (int j = 0; j < f->K && rs->status == MIST_OK; j++) {
        f->p[j] = gen_resolve_indexed_in(rs, "p", j + 1, f->p[j], 0, 1);
        f->e[j] = gen_resolve_indexed_in(rs, "e", j + 1, f->e[j], 0, 1);
        double py = f->p[j] * (1.0 - f->e[j]) + (1.0 - f->p[j]) * f->e[j];
        double mi = hb(py) - hb(f->e[j]);
        t->mi += mi > 0.0 ? mi : 0.0;
    }
    return rs->status;
}

static void cb_sample(const mist_task *t, gsl_rng *r, size_t n, double *out)
{
    const cb_fam *f = t->fam;
    int dx = t->dx, dy = t->dy;
    for (size_t row = 0; row < n; row++) {
        double *o = out + row * (size_t)(dx + dy);
        for (int j = 0; j < dx; j++) o[j] = gsl_rng_uniform(r) < (j < f->K ? f->p[j] : 0.5);
        for (int j = 0; j < dy; j++) {
            int flip = gsl_rng_uniform(r) < (j < f->K ? f->e[j] : 0.5);
            o[dx + j] = j < f->K ? (double)((o[j] != 0.0) ^ flip) : (double)flip;
        }
    }
}

const gen_family gen_fam_categorical_gauss = {
    .base = "categorical",
    .structure = "gauss",
    .summary =
        "X = class 0..K-1 with weights p1..pK (other X columns uniform classes), Y ~ N(mu_k, s^2 "
        "I) "
        "with means muk_i on the first min(dy,3) coordinates; K ~ U{2..8}, p ~ Exp(1) "
        "(normalised), mu ~ U(-2,2), s ~ logU(0.2,2); MI by quadrature (dy = 1) or Monte Carlo",
    .takes = "K, s, pk and muk_i (class k, coordinate i)",
    .create = cg_create,
    .sample = cg_sample,
    .free = cg_free,
};

const gen_family gen_fam_categorical_softmax = {
    .base = "categorical",
    .structure = "softmax",
    .summary =
        "X ~ N(0,I), Y = class k with P(k|x1) = softmax(ak x1 + qk x1^2 + bk) (other Y columns "
        "uniform classes); K ~ U{2..6}, a ~ U(-8,8), q ~ U(-2,2), b ~ U(-2,2); MI by quadrature",
    .takes = "K and, per class k (or one value for all), ak, qk, bk",
    .create = cs_create,
    .sample = cs_sample,
    .free = cs_free,
};

const gen_family gen_fam_categorical_channel = {
    .base = "categorical",
    .structure = "channel",
    .summary =
        "X = class k ~ p (K classes), Y = class m ~ q_k (M classes), first columns (others uniform "
        "classes); K, M ~ U{2..5}, p ~ Exp(1), qk_m ~ Gamma(1/4) (rows normalised); MI by finite "
        "sums",
    .takes = "K, M, pk and qk_m (row k, class m)",
    .create = cc_create,
    .sample = cc_sample,
    .free = cc_free,
};

const gen_family gen_fam_categorical_binary = {
    .base = "categorical",
    .structure = "binary",
    .summary = "K pairs X_j ~ Bernoulli(p_j), Y_j = X_j flipped with probability e_j, other "
               "coordinates fair "
               "coins; K ~ U{1..min(dx,dy)}, p ~ U(0.1,0.9), e ~ U(0,0.5); MI by finite sums",
    .takes = "K and, per pair j (or one value for all), pj, ej",
    .create = cb_create,
    .sample = cb_sample,
    .free = cb_free,
};
