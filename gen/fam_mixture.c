/* Gaussian mixtures, MI certified by Monte Carlo from the exact joint and marginal densities
 * (the marginals of a Gaussian mixture are Gaussian mixtures of the marginal blocks).
 *   mixture-xshape: K paired coordinates; with probability w every pair has correlation +rho,
 *     else every pair has -rho (the X distribution of the BMI benchmark's later tasks when
 *     K = 1): no linear correlation at w = 1/2, yet high MI. Every marginal is N(0, I).
 *   mixture-random: C components over all dx + dy coordinates; component c has weight w_c,
 *     mean (mx_c 1/sqrt(dx), my_c 1/sqrt(dy)) and covariance s_c^2 ((1 - r_c) I + r_c 11^T):
 *     dependence through the shared label (means and scales move together) and within a
 *     component (r_c of either sign).
 * Both densities depend on a sample only through a few sums (per pair sums for xshape; the
 * sums and sums of squares of X and of Y for random), which the Monte Carlo draws directly:
 * its cost does not grow with the dimension. The sampler draws full rows, and the tests check
 * the MI against the plain Gaussian densities of those rows. */
#include "gen_internal.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MX_C_DRAWN 5 /* components drawn by default (C ~ U{2..5}) */

/* log(e^a + e^b) without overflow; -inf terms allowed. */
static double lse2(double a, double b)
{
    if (a < b) {
        double t = a;
        a = b;
        b = t;
    }
    if (a == -INFINITY) return a;
    return a + log1p(exp(b - a));
}

/* ---- xshape -------------------------------------------------------------------------------- */

typedef struct mx_xshape {
    int dx, dy, K;
    double rho, w;
} mx_xshape;

/* One draw of log p(x,y) - log p(x) - log p(y): given the component (sign s of rho), with
 * u = (x+y)/sqrt2 ~ N(0, 1+s rho) and v = (x-y)/sqrt2 ~ N(0, 1-s rho) independent per pair,
 * sum(x^2 + y^2) = U + V and sum(x y) = (U - V)/2 for U = sum u^2, V = sum v^2: two chi-squares. */
static double xs_draw(const void *ctx, gsl_rng *r)
{
    const mx_xshape *f = ctx;
    double s = gsl_rng_uniform(r) < f->w ? f->rho : -f->rho;
    double U = (1.0 + s) * gsl_ran_chisq(r, f->K), V = (1.0 - s) * gsl_ran_chisq(r, f->K);
    double sq = U + V, xy = 0.5 * (U - V), r2 = f->rho * f->rho, om = 1.0 - r2;
    double base = -0.5 * f->K * log(om) - r2 * sq / (2.0 * om);
    double ap = base + f->rho * xy / om, am = base - f->rho * xy / om;
    return lse2(f->w > 0 ? log(f->w) + ap : -INFINITY, f->w < 1 ? log1p(-f->w) + am : -INFINITY);
}

static int xs_create(mist_task *t, gen_resolver *rs)
{
    mx_xshape *f = calloc(1, sizeof *f);
    if (!f) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    t->fam = f;
    int m = t->dx < t->dy ? t->dx : t->dy;
    int K0 = gen_draw_int(rs, 1, m);
    double rho0 = gen_draw_uniform(rs, 0.3, 0.99), w0 = gen_draw_uniform(rs, 0.3, 0.7);
    f->dx = t->dx;
    f->dy = t->dy;
    f->K = gen_resolve_int(rs, "K", 0, m, K0);
    f->rho = gen_resolve(rs, "rho", rho0);
    f->w = gen_resolve(rs, "w", w0);
    gen_check_range(rs, "rho", f->rho, -0.999, 0.999, 0, 0);
    gen_check_range(rs, "w", f->w, 0, 1, 0, 0);
    if (rs->status) return rs->status;
    if (f->K == 0 || f->rho == 0.0) {
        t->mi = 0.0; /* no coupled pair */
        return MIST_OK;
    }
    if (f->w == 0.0 || f->w == 1.0) {
        t->mi = -0.5 * f->K * log1p(-f->rho * f->rho); /* one Gaussian: K correlated pairs */
        return MIST_OK;
    }
    rs->status = gen_mc_mi(t->name, f, xs_draw, rs->seed, &t->mi, &t->mi_se, rs->err);
    if (!rs->status) rs->status = gen_record(rs, "mi_se", t->mi_se);
    return rs->status;
}

static void xs_sample(const mist_task *t, gsl_rng *r, size_t n, double *out)
{
    const mx_xshape *f = t->fam;
    int dx = t->dx, dy = t->dy;
    double c = sqrt(1.0 - f->rho * f->rho);
    for (size_t row = 0; row < n; row++) {
        double *o = out + row * (size_t)(dx + dy);
        double s = gsl_rng_uniform(r) < f->w ? f->rho : -f->rho;
        for (int j = 0; j < dx; j++) o[j] = gsl_ran_gaussian_ziggurat(r, 1.0);
        for (int j = 0; j < dy; j++) {
            double g = gsl_ran_gaussian_ziggurat(r, 1.0);
            o[dx + j] = j < f->K ? s * o[j] + c * g : g;
        }
    }
}

/* ---- random -------------------------------------------------------------------------------- */

typedef struct mx_comp {
    double w, s, r, mx, my; /* w normalised */
    double alpha, beta;     /* row = mean + s (alpha g + beta (sum g) 1), g ~ N(0, I) */
    double ld[3];           /* log det of the joint, X and Y correlation blocks */
} mx_comp;

typedef struct mx_random {
    int dx, dy, C;
    mx_comp *c;
} mx_random;

/* log det ((1-r) I + r 11^T) of size k, and the quadratic form of its inverse at v given
 * n2 = |v|^2 and sum = 1^T v (Sherman-Morrison). */
static double dense_logdet(int k, double r) { return (k - 1) * log1p(-r) + log1p((k - 1) * r); }

static double dense_quad(int k, double r, double n2, double sum)
{
    return (n2 - r * sum * sum / (1.0 + (k - 1) * r)) / (1.0 - r);
}

/* log N(v; mean m 1/sqrt(k), s^2 D_k(r)) without the 2 pi term (it cancels in the ratio),
 * from the sum and the sum of squares of v. */
static double block_logpdf(int k, double s, double r, double ld, double m, double sum, double sq)
{
    double rk = sqrt((double)k), mu = m / rk;
    double n2 = sq - 2.0 * mu * sum + m * m, sc = sum - m * rk;
    return -k * log(s) - 0.5 * ld - dense_quad(k, r, n2, sc) / (2.0 * s * s);
}

static double rnd_logratio(const mx_random *f, double sx, double qx, double sy, double qy)
{
    double lj = -INFINITY, lx = -INFINITY, ly = -INFINITY;
    int dx = f->dx, dy = f->dy, k = dx + dy;
    for (int j = 0; j < f->C; j++) {
        const mx_comp *c = &f->c[j];
        if (c->w <= 0.0) continue;
        double lw = log(c->w);
        double jx = block_logpdf(dx, c->s, c->r, c->ld[1], c->mx, sx, qx);
        double jy = block_logpdf(dy, c->s, c->r, c->ld[2], c->my, sy, qy);
        /* the joint: |v - mean|^2 splits over the blocks, 1^T (v - mean) adds up */
        double rx = sqrt((double)dx), ry = sqrt((double)dy);
        double n2 =
            qx - 2.0 * c->mx / rx * sx + c->mx * c->mx + qy - 2.0 * c->my / ry * sy + c->my * c->my;
        double sc = sx - c->mx * rx + sy - c->my * ry;
        double jj =
            -k * log(c->s) - 0.5 * c->ld[0] - dense_quad(k, c->r, n2, sc) / (2.0 * c->s * c->s);
        lj = lse2(lj, lw + jj);
        lx = lse2(lx, lw + jx);
        ly = lse2(ly, lw + jy);
    }
    return lj - lx - ly;
}

/* One draw: the component, then the sums of a row of it. With g ~ N(0, I) over all k
 * coordinates, gx = sum of g over X ~ N(0, dx), its sum of squares gx^2/dx + chi2(dx-1), and
 * G = gx + gy; the row's X block is mean + s alpha g_X + s beta G 1. */
static double rnd_draw(const void *ctx, gsl_rng *r)
{
    const mx_random *f = ctx;
    double u = gsl_rng_uniform(r), acc = 0.0;
    int j = 0;
    while (j + 1 < f->C && u >= (acc += f->c[j].w)) j++;
    const mx_comp *c = &f->c[j];
    int dx = f->dx, dy = f->dy;
    double gx = sqrt((double)dx) * gsl_ran_gaussian_ziggurat(r, 1.0);
    double gy = sqrt((double)dy) * gsl_ran_gaussian_ziggurat(r, 1.0);
    double hx = gx * gx / dx + (dx > 1 ? gsl_ran_chisq(r, dx - 1) : 0.0);
    double hy = gy * gy / dy + (dy > 1 ? gsl_ran_chisq(r, dy - 1) : 0.0);
    double G = gx + gy, sa = c->s * c->alpha;
    double cx = c->mx / sqrt((double)dx) + c->s * c->beta * G;
    double cy = c->my / sqrt((double)dy) + c->s * c->beta * G;
    double sx = dx * cx + sa * gx, qx = dx * cx * cx + 2.0 * cx * sa * gx + sa * sa * hx;
    double sy = dy * cy + sa * gy, qy = dy * cy * cy + 2.0 * cy * sa * gy + sa * sa * hy;
    return rnd_logratio(f, sx, qx, sy, qy);
}

static void rnd_free(void *fam)
{
    mx_random *f = fam;
    if (!f) return;
    free(f->c);
    free(f);
}

static int rnd_create(mist_task *t, gen_resolver *rs)
{
    mx_random *f = calloc(1, sizeof *f);
    if (!f) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    t->fam = f;
    int dx = t->dx, dy = t->dy, k = dx + dy;
    f->dx = dx;
    f->dy = dy;
    int C0 = gen_draw_int(rs, 2, MX_C_DRAWN);
    int C = gen_resolve_int(rs, "C", 1, 64, C0);
    if (rs->status) return rs->status;
    int nd = C > MX_C_DRAWN ? C : MX_C_DRAWN;
    f->c = calloc((size_t)nd, sizeof *f->c);
    if (!f->c) return gen_reject(rs, MIST_ENOMEM, "out of memory");
    /* the correlation keeps every block positive definite: r > -1/(k-1) */
    double rmin = k > 2 ? -1.0 / (k - 1) : -1.0, rlo = 0.9 * rmin;
    for (int j = 0; j < nd; j++) {
        mx_comp *c = &f->c[j];
        c->w = -log1p(-gen_draw_uniform(rs, 0, 1)); /* Exp(1): a flat Dirichlet once normalised */
        c->s = gen_draw_uniform(rs, 0.5, 1.5);
        c->r = gen_draw_uniform(rs, rlo, 0.9);
        c->mx = gen_draw_uniform(rs, -2.5, 2.5);
        c->my = gen_draw_uniform(rs, -2.5, 2.5);
    }
    f->C = C;
    double wsum = 0.0;
    for (int j = 0; j < C && rs->status == MIST_OK; j++) {
        mx_comp *c = &f->c[j];
        int ix = j + 1;
        c->w = gen_resolve_indexed_in(rs, "w", ix, c->w, 0, 1e6);
        c->s = gen_resolve_indexed_in(rs, "s", ix, c->s, 0.01, 100);
        c->r = gen_resolve_indexed(rs, "r", ix, c->r);
        char name[MIST_PARAM_NAME_LEN];
        snprintf(name, sizeof name, "r%d", ix);
        gen_check_range(rs, name, c->r, rmin, 0.999, 1, 0);
        c->mx = gen_resolve_indexed_in(rs, "mx", ix, c->mx, -100, 100);
        c->my = gen_resolve_indexed_in(rs, "my", ix, c->my, -100, 100);
        wsum += c->w;
    }
    if (rs->status) return rs->status;
    if (!(wsum > 0.0))
        return gen_reject(rs, MIST_EINVAL, "%s: the weights w1..w%d sum to 0", t->name, C);
    for (int j = 0; j < C; j++) {
        mx_comp *c = &f->c[j];
        c->w /= wsum;
        c->alpha = sqrt(1.0 - c->r);
        c->beta = (-c->alpha + sqrt(1.0 + (k - 1) * c->r)) / k;
        c->ld[0] = dense_logdet(k, c->r);
        c->ld[1] = dense_logdet(dx, c->r);
        c->ld[2] = dense_logdet(dy, c->r);
    }
    rs->status = gen_mc_mi(t->name, f, rnd_draw, rs->seed, &t->mi, &t->mi_se, rs->err);
    if (!rs->status) rs->status = gen_record(rs, "mi_se", t->mi_se);
    return rs->status;
}

static void rnd_sample(const mist_task *t, gsl_rng *r, size_t n, double *out)
{
    const mx_random *f = t->fam;
    int dx = t->dx, dy = t->dy, k = dx + dy;
    double rx = sqrt((double)dx), ry = sqrt((double)dy);
    for (size_t row = 0; row < n; row++) {
        double *o = out + row * (size_t)k;
        double u = gsl_rng_uniform(r), acc = 0.0;
        int j = 0;
        while (j + 1 < f->C && u >= (acc += f->c[j].w)) j++;
        const mx_comp *c = &f->c[j];
        double G = 0.0;
        for (int i = 0; i < k; i++) G += (o[i] = gsl_ran_gaussian_ziggurat(r, 1.0));
        for (int i = 0; i < k; i++) {
            double mean = i < dx ? c->mx / rx : c->my / ry;
            o[i] = mean + c->s * (c->alpha * o[i] + c->beta * G);
        }
    }
}

const gen_family gen_fam_mixture_xshape = {
    .base = "mixture",
    .structure = "xshape",
    .summary =
        "K pairs with correlation +rho (probability w) or -rho (all pairs together), other "
        "coordinates independent N(0,1); K ~ U{1..min(dx,dy)}, rho ~ U(0.3,0.99), w ~ U(0.3,0.7); "
        "MI by Monte Carlo (mi_se <= 0.01)",
    .takes = "K, rho, w",
    .create = xs_create,
    .sample = xs_sample,
    .free = free,
};

const gen_family gen_fam_mixture_random = {
    .base = "mixture",
    .structure = "random",
    .summary =
        "C Gaussian components over X and Y: weight wc, mean (mxc/sqrt(dx), myc/sqrt(dy)) per "
        "coordinate, covariance sc^2((1-rc)I + rc 11^T); C ~ U{2..5}, w ~ Exp(1) (normalised), s "
        "~ U(0.5,1.5), r ~ U(-0.9/(dx+dy-1),0.9), mx, my ~ U(-2.5,2.5); MI by Monte Carlo",
    .takes = "C and, per component c (or one value for all), wc, sc, rc, mxc, myc",
    .create = rnd_create,
    .sample = rnd_sample,
    .free = rnd_free,
};
