/* Additive-noise channels with non-monotone f: X ~ N(0, I_dx), and for the K coupled pairs
 * Y_j = f_j(X_j) + sigma_j N(0,1) (j < K); every other coordinate is an independent N(0,1).
 * The pairs are independent, so the MI is the sum of the pairs' MI, each
 *   I_j = h(Y_j) - h(Y_j | X_j) = h(Y_j) - 1/2 log(2 pi e sigma_j^2),
 * with h(Y_j) by quadrature of p(y) = E_x[N(y; f(x), sigma^2)] (itself a quadrature over x).
 *   channel-sine:  f(x) = a sin(w x + phi) + b x^2 + c x
 *   channel-bumps: f(x) = c x + sum_k h_k exp(-(x - m_k)^2 / (2 s^2)), three bumps a, b, c. */
#include "gen_internal.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* P(|X| > 8.3) is 1e-16: the quadrature's x range loses less than that of the mass. */
#define CH_XMAX 8.3
/* The y scatter of one x node spans +-9 sigma: exp(-81/2) = 2.6e-18 of the peak is dropped. */
#define CH_WIN 9.0
/* The most x nodes (or y nodes) one pair's quadrature may take: bounds the cost of a tiny
 * sigma under a steep f (a few tens of ms at the limit). */
#define CH_MAX_NODES 400000
#define CH_NBUMPS 3

enum ch_kind { CH_SINE, CH_BUMPS };

typedef struct ch_pair {
    double a, w, phi, b, c;               /* sine (c also the bumps' slope) */
    double s, h[CH_NBUMPS], m[CH_NBUMPS]; /* bumps */
    double sigma;
    double mi;
} ch_pair;

typedef struct ch_fam {
    enum ch_kind kind;
    int K;
    ch_pair *pair; /* K entries */
} ch_fam;

static double ch_f(enum ch_kind kind, const ch_pair *p, double x)
{
    if (kind == CH_SINE) return p->a * sin(p->w * x + p->phi) + p->b * x * x + p->c * x;
    double v = p->c * x;
    for (int k = 0; k < CH_NBUMPS; k++) {
        double u = (x - p->m[k]) / p->s;
        v += p->h[k] * exp(-0.5 * u * u);
    }
    return v;
}

/* An upper bound of |f'| on [-CH_XMAX, CH_XMAX] (|u exp(-u^2/2)| peaks at exp(-1/2)). */
static double ch_slope(enum ch_kind kind, const ch_pair *p)
{
    if (kind == CH_SINE) return fabs(p->a * p->w) + 2.0 * fabs(p->b) * CH_XMAX + fabs(p->c);
    double L = fabs(p->c);
    for (int k = 0; k < CH_NBUMPS; k++) L += fabs(p->h[k]) * exp(-0.5) / p->s;
    return L;
}

/* The x spacing: the integrand phi(x) N(y; f(x), sigma^2) varies on the scale sigma / |f'|,
 * and the trapezoid rule on an analytic integrand converges geometrically in (that scale /
 * spacing); 3 nodes per scale put its error far below 1e-9. phi alone needs 0.1. */
static double ch_hx(double sigma, double L)
{
    double hx = sigma / (3.0 * L);
    return hx < 0.1 ? hx : 0.1;
}

/* I(X_j; Y_j) of one pair. p(y) on a uniform y grid (spacing sigma/4: p is a convolution with
 * N(0, sigma^2), as smooth as that) is the trapezoid sum over x nodes, each scattering its
 * Gaussian onto the y nodes within CH_WIN sigma (by a product recurrence: one exp per node);
 * h(Y) is then the trapezoid sum of -p log p. Both rules are spectrally accurate here: the
 * tests hold the result to a brute-force Riemann sum on grids 4-8 times finer. */
static int ch_pair_mi(enum ch_kind kind, ch_pair *p, const char *task, int j, mist_err *err)
{
    double sig = p->sigma, L = ch_slope(kind, p);
    double hx = ch_hx(sig, L);
    double nxd = ceil(2.0 * CH_XMAX / hx) + 1.0;
    if (nxd > CH_MAX_NODES)
        return mist_fail(err, MIST_EINVAL,
                         "%s: pair %d: sigma=%g is too small for a slope of f up to %.3g: the "
                         "quadrature would need %.0f nodes (at most %d); choose sigma >= %.3g "
                         "or a flatter f",
                         task, j, sig, L, nxd, CH_MAX_NODES,
                         2.0 * CH_XMAX * 3.0 * L / (CH_MAX_NODES - 1));
    size_t nx = (size_t)nxd;
    hx = 2.0 * CH_XMAX / (double)(nx - 1);
    double *fx = malloc(nx * sizeof *fx);
    if (!fx) return mist_fail(err, MIST_ENOMEM, "out of memory");
    double fmin = INFINITY, fmax = -INFINITY;
    for (size_t i = 0; i < nx; i++) {
        fx[i] = ch_f(kind, p, -CH_XMAX + (double)i * hx);
        if (fx[i] < fmin) fmin = fx[i];
        if (fx[i] > fmax) fmax = fx[i];
    }
    double hy = 0.25 * sig, W = CH_WIN * sig, ylo = fmin - W - hy;
    double nyd = ceil((fmax + W + hy - ylo) / hy) + 1.0;
    if (!isfinite(nyd) || nyd > 10.0 * CH_MAX_NODES) {
        free(fx);
        return mist_fail(err, MIST_EINVAL,
                         "%s: pair %d: f spans %.3g..%.3g, %.0f times sigma=%g: too wide for the "
                         "quadrature; choose a larger sigma or a narrower f",
                         task, j, fmin, fmax, (fmax - fmin) / sig, sig);
    }
    size_t ny = (size_t)nyd;
    double *py = calloc(ny, sizeof *py);
    if (!py) {
        free(fx);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    const double delta = 0.25, q = exp(-delta * delta); /* hy / sigma */
    double norm = hx / (2.0 * GEN_PI * sig);            /* hx phi(x) N(y; f, sigma^2) */
    for (size_t i = 0; i < nx; i++) {
        double x = -CH_XMAX + (double)i * hx, wgt = norm * exp(-0.5 * x * x);
        double lo = ceil((fx[i] - W - ylo) / hy), hi = floor((fx[i] + W - ylo) / hy);
        size_t j0 = lo > 0 ? (size_t)lo : 0, j1 = hi < (double)(ny - 1) ? (size_t)hi : ny - 1;
        double d = (ylo + (double)j0 * hy - fx[i]) / sig;
        double g = exp(-0.5 * d * d), r = exp(-d * delta - 0.5 * delta * delta);
        for (size_t k = j0; k <= j1; k++) {
            py[k] += wgt * g;
            g *= r;
            r *= q;
        }
    }
    double h = 0.0, mass = 0.0;
    for (size_t k = 0; k < ny; k++) {
        mass += py[k];
        if (py[k] > 0.0) h -= py[k] * log(py[k]);
    }
    free(fx);
    free(py);
    mass *= hy;
    h *= hy;
    if (!(fabs(mass - 1.0) < 1e-9))
        return mist_fail(err, MIST_ENUMERIC, "%s: pair %d: the quadrature lost mass (%.12g)", task,
                         j, mass);
    double mi = h - 0.5 * log(2.0 * GEN_PI * exp(1.0) * sig * sig);
    p->mi = mi > 0.0 ? mi : 0.0;
    return MIST_OK;
}

static void ch_free(void *fam)
{
    ch_fam *f = fam;
    if (!f) return;
    free(f->pair);
    free(f);
}

static int ch_create(mist_task *t, gen_resolver *rs, enum ch_kind kind)
{
    int m = t->dx < t->dy ? t->dx : t->dy;
    ch_fam *f = calloc(1, sizeof *f);
    ch_pair *drawn = calloc((size_t)m, sizeof *drawn);
    if (!f || !drawn) {
        free(f);
        free(drawn);
        return gen_reject(rs, MIST_ENOMEM, "out of memory");
    }
    t->fam = f;
    f->kind = kind;
    f->pair = drawn;
    int K0 = gen_draw_int(rs, 1, m);
    /* every pair's draws come first, so that K or any one parameter given leaves the others */
    for (int j = 0; j < m; j++) {
        ch_pair *p = &drawn[j];
        if (kind == CH_SINE) {
            p->a = gen_draw_uniform(rs, 0.5, 2);
            p->w = gen_draw_uniform(rs, 1, 3);
            p->phi = gen_draw_uniform(rs, 0, 2 * GEN_PI);
            p->b = gen_draw_uniform(rs, -0.5, 0.5);
            p->c = gen_draw_uniform(rs, -0.5, 0.5);
        } else {
            p->c = gen_draw_uniform(rs, -0.5, 0.5);
            p->s = gen_draw_uniform(rs, 0.3, 1);
            for (int k = 0; k < CH_NBUMPS; k++) {
                p->h[k] = gen_draw_uniform(rs, -3, 3);
                p->m[k] = gen_draw_uniform(rs, -2, 2);
            }
        }
        p->sigma = gen_draw_log_uniform(rs, 0.05, 1);
    }
    f->K = gen_resolve_int(rs, "K", 0, m, K0);
    static const char *const HN[CH_NBUMPS] = {"ha", "hb", "hc"};
    static const char *const MN[CH_NBUMPS] = {"ma", "mb", "mc"};
    for (int j = 0; j < f->K && rs->status == MIST_OK; j++) {
        ch_pair *p = &f->pair[j];
        int ix = j + 1;
        if (kind == CH_SINE) {
            p->a = gen_resolve_indexed_in(rs, "a", ix, p->a, -20, 20);
            p->w = gen_resolve_indexed_in(rs, "w", ix, p->w, 0, 20);
            p->phi = gen_resolve_indexed_in(rs, "phi", ix, p->phi, -1000, 1000);
            p->b = gen_resolve_indexed_in(rs, "b", ix, p->b, -2, 2);
            p->c = gen_resolve_indexed_in(rs, "c", ix, p->c, -20, 20);
        } else {
            p->c = gen_resolve_indexed_in(rs, "c", ix, p->c, -20, 20);
            p->s = gen_resolve_indexed_in(rs, "s", ix, p->s, 0.05, 20);
            for (int k = 0; k < CH_NBUMPS; k++) {
                p->h[k] = gen_resolve_indexed_in(rs, HN[k], ix, p->h[k], -50, 50);
                p->m[k] = gen_resolve_indexed_in(rs, MN[k], ix, p->m[k], -20, 20);
            }
        }
        p->sigma = gen_resolve_indexed_in(rs, "sigma", ix, p->sigma, 1e-9, 1000);
    }
    t->mi = 0.0;
    for (int j = 0; j < f->K && rs->status == MIST_OK; j++) {
        rs->status = ch_pair_mi(kind, &f->pair[j], t->name, j + 1, rs->err);
        t->mi += f->pair[j].mi;
    }
    return rs->status;
}

static int ch_create_sine(mist_task *t, gen_resolver *rs) { return ch_create(t, rs, CH_SINE); }
static int ch_create_bumps(mist_task *t, gen_resolver *rs) { return ch_create(t, rs, CH_BUMPS); }

static void ch_sample(const mist_task *t, gsl_rng *r, size_t n, double *out)
{
    const ch_fam *f = t->fam;
    int dx = t->dx, dy = t->dy;
    for (size_t row = 0; row < n; row++) {
        double *o = out + row * (size_t)(dx + dy);
        for (int j = 0; j < dx; j++) o[j] = gsl_ran_gaussian_ziggurat(r, 1.0);
        for (int j = 0; j < dy; j++) {
            double g = gsl_ran_gaussian_ziggurat(r, 1.0);
            o[dx + j] = j < f->K ? ch_f(f->kind, &f->pair[j], o[j]) + f->pair[j].sigma * g : g;
        }
    }
}

const gen_family gen_fam_channel_sine = {
    .base = "channel",
    .structure = "sine",
    .summary =
        "Y_j = a sin(w X_j + phi) + b X_j^2 + c X_j + sigma N for K pairs, X ~ N(0,I), other "
        "coordinates independent N(0,1); K ~ U{1..min(dx,dy)}, per pair (a1.., or one value for "
        "all: a) a ~ U(0.5,2), w ~ U(1,3), phi ~ U(0,2pi), b ~ U(-0.5,0.5), c ~ U(-0.5,0.5), sigma "
        "~ logU(0.05,1); MI by quadrature",
    .takes = "K and, per pair j (or one value for all pairs), aj, wj, phij, bj, cj, sigmaj",
    .create = ch_create_sine,
    .sample = ch_sample,
    .free = ch_free,
};

const gen_family gen_fam_channel_bumps = {
    .base = "channel",
    .structure = "bumps",
    .summary =
        "Y_j = c X_j + sum of 3 bumps h exp(-(X_j - m)^2/(2 s^2)) + sigma N for K pairs, as "
        "channel-sine; per pair c ~ U(-0.5,0.5), s ~ U(0.3,1), ha hb hc ~ U(-3,3), ma mb mc ~ "
        "U(-2,2), sigma ~ logU(0.05,1); MI by quadrature",
    .takes =
        "K and, per pair j (or one value for all pairs), cj, sj, haj, hbj, hcj, maj, mbj, mcj, "
        "sigmaj",
    .create = ch_create_bumps,
    .sample = ch_sample,
    .free = ch_free,
};
