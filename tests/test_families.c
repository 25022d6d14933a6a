/* The newer generator families (channel-*, mixture-*, categorical-*), the negate transform and
 * the `broad` meta-distribution. Every MI is held to an independent route: densities written
 * here from the recorded parameters (GSL Gaussian densities, Gauss-Legendre panels or GSL's
 * adaptive rule for the marginals), averaged over the sampler's own rows (which checks the
 * sampler against the density too), brute-force Riemann sums for the quadratures, and finite
 * sums over joint tables for the discrete ones. */
#include "testutil.h"

#include <gsl/gsl_integration.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mist_gen.h"

#define PI 3.14159265358979323846

/* Plain checks: Check logs every passing ck_assert, which costs more than the Monte-Carlo work. */
#define CHECKM(cond, ...)                       \
    do {                                        \
        if (!(cond)) ck_abort_msg(__VA_ARGS__); \
    } while (0)
#define CHECK(cond) CHECKM(cond, "%s:%d: assertion '%s' failed", __FILE__, __LINE__, #cond)

/* ---- helpers ------------------------------------------------------------------------------ */


static int has_param(const mist_task *t, const char *name, double *v)
{
    size_t np;
    const mist_param *p = mist_task_params(t, &np);
    for (size_t i = 0; i < np; i++)
        if (strcmp(p[i].name, name) == 0) {
            if (v) *v = p[i].value;
            return 1;
        }
    return 0;
}

static double param_of(const mist_task *t, const char *name)
{
    double v = NAN;
    CHECKM(has_param(t, name, &v), "%s has no parameter %s", mist_task_name(t), name);
    return v;
}

static double param_ix(const mist_task *t, const char *base, int j)
{
    char name[MIST_PARAM_NAME_LEN];
    snprintf(name, sizeof name, "%s%d", base, j);
    return param_of(t, name);
}

static double *base_rows(const mist_task *t, size_t n, uint64_t seed)
{
    int d = mist_task_out_dx(t) + mist_task_out_dy(t);
    double *x = malloc(n * (size_t)d * sizeof *x);
    mist_err err = {0};
    CHECKM(mist_task_sample_base(t, n, seed, x, &err) == MIST_OK, "sampling: %s", err.msg);
    return x;
}

/* Running mean and standard error. */
typedef struct acc {
    double n, mean, m2;
} acc;

static void acc_add(acc *a, double v)
{
    a->n += 1.0;
    double d = v - a->mean;
    a->mean += d / a->n;
    a->m2 += d * (v - a->mean);
}

static double acc_se(const acc *a) { return sqrt(a->m2 / (a->n - 1.0) / a->n); }
static double acc_var(const acc *a) { return a->m2 / (a->n - 1.0); }

/* The task's MI against a Monte-Carlo mean within 4 combined standard errors. */
static void check_mc(const mist_task *t, const acc *a, const char *what)
{
    double se = sqrt(acc_se(a) * acc_se(a) + mist_task_mi_se(t) * mist_task_mi_se(t));
    CHECKM(fabs(mist_task_mi(t) - a->mean) <= 4.0 * se + 1e-12,
           "%s: MI %.5f, Monte Carlo %.5f +- %.5f (task se %.4f)", what, mist_task_mi(t), a->mean,
           acc_se(a), mist_task_mi_se(t));
    CHECKM(mist_task_mi_se(t) <= 0.01, "%s: mi_se %g above 0.01", what, mist_task_mi_se(t));
    if (mist_task_mi_se(t) > 0)
        CHECKM(param_of(t, "mi_se") == mist_task_mi_se(t), "%s: mi_se not recorded", what);
}

static double lse(const double *v, int n)
{
    double m = -INFINITY, s = 0.0;
    for (int i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    if (m == -INFINITY) return m;
    for (int i = 0; i < n; i++) s += exp(v[i] - m);
    return m + log(s);
}

static double log_normal(double x, double mu, double s)
{
    double u = (x - mu) / s;
    return -0.5 * u * u - log(s) - 0.5 * log(2.0 * PI);
}

/* ---- channels: the model written again from its parameters ------------------------------- */

typedef struct tchan {
    int bumps;
    double a, w, phi, b, c, s, h[3], m[3], sigma;
} tchan;

static tchan chan_of(const mist_task *t, int j)
{
    tchan c = {0};
    c.bumps = strstr(mist_task_name(t), "-bumps") != NULL;
    c.c = param_ix(t, "c", j);
    c.sigma = param_ix(t, "sigma", j);
    if (!c.bumps) {
        c.a = param_ix(t, "a", j);
        c.w = param_ix(t, "w", j);
        c.phi = param_ix(t, "phi", j);
        c.b = param_ix(t, "b", j);
    } else {
        static const char *H[3] = {"ha", "hb", "hc"}, *M[3] = {"ma", "mb", "mc"};
        c.s = param_ix(t, "s", j);
        for (int k = 0; k < 3; k++) {
            c.h[k] = param_ix(t, H[k], j);
            c.m[k] = param_ix(t, M[k], j);
        }
    }
    return c;
}

static double chan_f(const tchan *c, double x)
{
    if (!c->bumps) return c->a * sin(c->w * x + c->phi) + c->b * x * x + c->c * x;
    double v = c->c * x;
    for (int k = 0; k < 3; k++)
        v += c->h[k] * exp(-(x - c->m[k]) * (x - c->m[k]) / (2 * c->s * c->s));
    return v;
}

/* The largest |f'| on [-9, 9], by central differences on a fine grid. */
static double chan_slope(const tchan *c)
{
    double L = 0.0;
    for (double x = -9; x <= 9; x += 1e-3) {
        double d = fabs(chan_f(c, x + 1e-6) - chan_f(c, x - 1e-6)) / 2e-6;
        if (d > L) L = d;
    }
    return L;
}

/* I(X;Y) of one pair by a brute-force Riemann sum: p(y) on a y grid of spacing sigma/8 from
 * every x node of spacing sigma/(8 L) on [-9, 9] (terms beyond 12 sigma are below 1e-31 and
 * skipped by a comparison), then -sum p log p. */
static double chan_brute_mi(const tchan *c)
{
    double L = chan_slope(c), sig = c->sigma;
    double hx = sig / (8.0 * L);
    if (hx > 0.01) hx = 0.01;
    size_t nx = (size_t)(18.0 / hx) + 1;
    double *fx = malloc(nx * sizeof *fx), *wx = malloc(nx * sizeof *wx);
    double fmin = INFINITY, fmax = -INFINITY;
    for (size_t i = 0; i < nx; i++) {
        double x = -9.0 + (double)i * hx;
        fx[i] = chan_f(c, x);
        wx[i] = hx * exp(-0.5 * x * x) / sqrt(2 * PI);
        fmin = fmin < fx[i] ? fmin : fx[i];
        fmax = fmax > fx[i] ? fmax : fx[i];
    }
    double hy = sig / 8.0, y0 = fmin - 12.0 * sig;
    size_t ny = (size_t)((fmax - fmin + 24.0 * sig) / hy) + 1;
    double h = 0.0;
    for (size_t j = 0; j < ny; j++) {
        double y = y0 + (double)j * hy, p = 0.0;
        for (size_t i = 0; i < nx; i++) {
            double u = (y - fx[i]) / sig;
            if (fabs(u) < 12.0) p += wx[i] * exp(-0.5 * u * u) / (sig * sqrt(2 * PI));
        }
        if (p > 0) h -= hy * p * log(p);
    }
    free(fx);
    free(wx);
    return h - 0.5 * log(2 * PI * exp(1.0) * sig * sig);
}

/* p(y) = int phi(x) N(y; f(x), sigma^2) dx by 16-point Gauss-Legendre panels on [-9, 9]. */
typedef struct tmarg {
    size_t n;
    double *f, *w, sigma;
} tmarg;

static void marg_init(tmarg *m, const tchan *c)
{
    double width = 2.0 * c->sigma / chan_slope(c);
    if (width > 0.1) width = 0.1;
    size_t panels = (size_t)ceil(18.0 / width);
    gsl_integration_glfixed_table *tab = gsl_integration_glfixed_table_alloc(16);
    m->n = panels * 16;
    m->f = malloc(m->n * sizeof *m->f);
    m->w = malloc(m->n * sizeof *m->w);
    m->sigma = c->sigma;
    double pw = 18.0 / (double)panels;
    for (size_t p = 0; p < panels; p++)
        for (size_t i = 0; i < 16; i++) {
            double xi, wi;
            gsl_integration_glfixed_point(-9.0 + p * pw, -9.0 + (p + 1) * pw, i, &xi, &wi, tab);
            m->f[p * 16 + i] = chan_f(c, xi);
            m->w[p * 16 + i] = wi * gsl_ran_ugaussian_pdf(xi);
        }
    gsl_integration_glfixed_table_free(tab);
}

static double marg_py(const tmarg *m, double y)
{
    double p = 0.0;
    for (size_t i = 0; i < m->n; i++) {
        double u = (y - m->f[i]) / m->sigma;
        if (fabs(u) < 12.0) p += m->w[i] * gsl_ran_gaussian_pdf(y - m->f[i], m->sigma);
    }
    return p;
}

static void marg_free(tmarg *m)
{
    free(m->f);
    free(m->w);
}

START_TEST(test_channel_quadrature)
{
    static const struct {
        const char *task, *params;
        uint64_t seed;
    } cases[] = {
        {"channel-sine-base", "a=1.5,w=2,phi=0.3,b=0.3,c=0.5,sigma=0.3", 1},
        {"channel-sine-base", "a=1.5,w=2,phi=0.3,b=0.3,c=0.5,sigma=0.1", 1},
        {"channel-sine-base", "a=1,w=3,phi=1,b=-0.2,c=0.1,sigma=0.02", 1},
        {"channel-sine-base", "a=0,b=1,c=0,sigma=0.1", 1}, /* the y = x^2 + 0.1 N */
        {"channel-sine-base", "", 7},
        {"channel-bumps-base", "c=0.2,s=0.5,ha=2,hb=-1.5,hc=1,ma=-1,mb=0.5,mc=1.5,sigma=0.2", 1},
        {"channel-bumps-base", "c=-0.3,s=0.3,ha=3,hb=-3,hc=2,ma=-0.5,mb=0.5,mc=1,sigma=0.05", 1},
        {"channel-bumps-base", "", 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mist_task *t = tu_make_task(cases[i].task, 1, 1, cases[i].params, cases[i].seed);
        tchan c = chan_of(t, 1);
        double ref = chan_brute_mi(&c);
        CHECKM(fabs(mist_task_mi(t) - ref) <= 1e-9, "%s [%s]: quadrature %.12f, Riemann %.12f",
               cases[i].task, cases[i].params, mist_task_mi(t), ref);
        CHECK(mist_task_mi_se(t) == 0.0 && !has_param(t, "mi_se", NULL));
        if (i == 3)
            CHECKM(fabs(mist_task_mi(t) - 1.99) < 0.005, "x^2 channel: %g", mist_task_mi(t));
        mist_task_free(t);
    }
    /* pairs are independent: the MI adds up over K pairs (and not over uncoupled columns) */
    mist_task *t = tu_make_task("channel-bumps-base", 4, 3, "K=3", 11);
    double sum = 0.0;
    for (int j = 1; j <= 3; j++) {
        tchan c = chan_of(t, j);
        sum += chan_brute_mi(&c);
    }
    CHECKM(fabs(mist_task_mi(t) - sum) <= 3e-6, "3 pairs: %.9f vs %.9f", mist_task_mi(t), sum);
    CHECK(!has_param(t, "sigma4", NULL));
    mist_task_free(t);
    t = tu_make_task("channel-sine-base", 3, 2, "K=0", 2);
    CHECK(mist_task_mi(t) == 0.0);
    mist_task_free(t);
}
END_TEST

START_TEST(test_channel_mc)
{
    static const struct {
        const char *task;
        int dx, dy;
        const char *params;
        uint64_t seed;
    } cases[] = {
        {"channel-sine-base", 1, 1, "sigma=0.3", 3},
        {"channel-bumps-base", 1, 1, "sigma=0.25", 4},
        {"channel-sine-base", 2, 3, "K=2,sigma=0.4", 5},
    };
    const size_t n = 12000;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mist_task *t =
            tu_make_task(cases[i].task, cases[i].dx, cases[i].dy, cases[i].params, cases[i].seed);
        int dx = cases[i].dx, dy = cases[i].dy, K = (int)param_of(t, "K");
        tchan c[4];
        tmarg mg[4];
        for (int j = 0; j < K; j++) {
            c[j] = chan_of(t, j + 1);
            marg_init(&mg[j], &c[j]);
        }
        double *x = base_rows(t, n, 100 + i);
        acc mi = {0}, y1 = {0}, free_y = {0}, free_y2 = {0};
        for (size_t r = 0; r < n; r++) {
            const double *row = x + r * (size_t)(dx + dy);
            double v = 0.0;
            for (int j = 0; j < K; j++) {
                double y = row[dx + j];
                v += log_normal(y, chan_f(&c[j], row[j]), c[j].sigma) - log(marg_py(&mg[j], y));
            }
            acc_add(&mi, v);
            acc_add(&y1, row[dx]);
            if (dy > K) {
                acc_add(&free_y, row[dx + dy - 1]);
                acc_add(&free_y2, row[dx + dy - 1] * row[dx + dy - 1]);
            }
        }
        check_mc(t, &mi, cases[i].task);
        /* the sampler's Y_1 has the mean E f(X) and the variance Var f(X) + sigma^2 */
        double ef = 0.0, ef2 = 0.0;
        for (size_t k = 0; k < mg[0].n; k++) {
            ef += mg[0].w[k] * mg[0].f[k];
            ef2 += mg[0].w[k] * mg[0].f[k] * mg[0].f[k];
        }
        double var = ef2 - ef * ef + c[0].sigma * c[0].sigma;
        CHECKM(fabs(y1.mean - ef) <= 4.0 * sqrt(var / n), "%s: mean of Y1 %g, E f(X) %g",
               cases[i].task, y1.mean, ef);
        CHECKM(fabs(acc_var(&y1) / var - 1.0) < 0.06, "%s: variance of Y1 %g, expected %g",
               cases[i].task, acc_var(&y1), var);
        if (dy > K) /* an uncoupled coordinate is N(0, 1) */
            CHECKM(fabs(free_y.mean) < 4.0 / sqrt(n) && fabs(free_y2.mean - 1.0) < 0.06,
                   "uncoupled Y: mean %g, second moment %g", free_y.mean, free_y2.mean);
        for (int j = 0; j < K; j++) marg_free(&mg[j]);
        free(x);
        mist_task_free(t);
    }
}
END_TEST

/* ---- mixtures ------------------------------------------------------------------------------ */

/* log density of the xshape rows, written directly: for each sign of rho a product of
 * bivariate normal densities over the K pairs and standard normals elsewhere. */
static double xshape_logratio(const double *row, int dx, int dy, int K, double rho, double w)
{
    double lp[2] = {0, 0}, lx = 0, ly = 0;
    for (int s = 0; s < 2; s++) {
        double r = s ? -rho : rho;
        for (int i = 0; i < K; i++)
            lp[s] += log(gsl_ran_bivariate_gaussian_pdf(row[i], row[dx + i], 1, 1, r));
        for (int i = K; i < dx; i++) lp[s] += log(gsl_ran_ugaussian_pdf(row[i]));
        for (int i = K; i < dy; i++) lp[s] += log(gsl_ran_ugaussian_pdf(row[dx + i]));
    }
    lp[0] += log(w);
    lp[1] += log1p(-w);
    for (int i = 0; i < dx; i++) lx += log(gsl_ran_ugaussian_pdf(row[i]));
    for (int i = 0; i < dy; i++) ly += log(gsl_ran_ugaussian_pdf(row[dx + i]));
    return lse(lp, 2) - lx - ly;
}

/* mixture-random written with full covariance matrices and GSL's multivariate density. */
typedef struct tmix {
    int dx, dy, C;
    double lw[64];
    gsl_vector *mu[64], *mux[64], *muy[64];
    gsl_matrix *L[64], *Lx[64], *Ly[64];
    gsl_vector *work;
} tmix;

static gsl_matrix *dense_chol(int k, double s, double r)
{
    gsl_matrix *S = gsl_matrix_alloc((size_t)k, (size_t)k);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) gsl_matrix_set(S, i, j, s * s * (i == j ? 1.0 : r));
    CHECK(gsl_linalg_cholesky_decomp1(S) == 0);
    return S;
}

static void tmix_init(tmix *m, const mist_task *t)
{
    int dx = mist_task_out_dx(t), dy = mist_task_out_dy(t), C = (int)param_of(t, "C");
    m->dx = dx;
    m->dy = dy;
    m->C = C;
    double wsum = 0.0;
    for (int c = 1; c <= C; c++) wsum += param_ix(t, "w", c);
    for (int c = 0; c < C; c++) {
        double s = param_ix(t, "s", c + 1), r = param_ix(t, "r", c + 1);
        double mx = param_ix(t, "mx", c + 1), my = param_ix(t, "my", c + 1);
        m->lw[c] = log(param_ix(t, "w", c + 1) / wsum);
        m->mu[c] = gsl_vector_alloc((size_t)(dx + dy));
        m->mux[c] = gsl_vector_alloc((size_t)dx);
        m->muy[c] = gsl_vector_alloc((size_t)dy);
        for (int i = 0; i < dx; i++) {
            gsl_vector_set(m->mu[c], i, mx / sqrt(dx));
            gsl_vector_set(m->mux[c], i, mx / sqrt(dx));
        }
        for (int i = 0; i < dy; i++) {
            gsl_vector_set(m->mu[c], dx + i, my / sqrt(dy));
            gsl_vector_set(m->muy[c], i, my / sqrt(dy));
        }
        m->L[c] = dense_chol(dx + dy, s, r);
        m->Lx[c] = dense_chol(dx, s, r);
        m->Ly[c] = dense_chol(dy, s, r);
    }
    m->work = gsl_vector_alloc((size_t)(dx + dy));
}

static void tmix_free(tmix *m)
{
    for (int c = 0; c < m->C; c++) {
        gsl_vector_free(m->mu[c]);
        gsl_vector_free(m->mux[c]);
        gsl_vector_free(m->muy[c]);
        gsl_matrix_free(m->L[c]);
        gsl_matrix_free(m->Lx[c]);
        gsl_matrix_free(m->Ly[c]);
    }
    gsl_vector_free(m->work);
}

static double tmix_logratio(tmix *m, const double *row)
{
    int dx = m->dx, dy = m->dy;
    double lj[64], lx[64], ly[64];
    gsl_vector_const_view v = gsl_vector_const_view_array(row, (size_t)(dx + dy));
    gsl_vector_const_view vx = gsl_vector_const_view_array(row, (size_t)dx);
    gsl_vector_const_view vy = gsl_vector_const_view_array(row + dx, (size_t)dy);
    gsl_vector_view wx = gsl_vector_subvector(m->work, 0, (size_t)dx);
    gsl_vector_view wy = gsl_vector_subvector(m->work, 0, (size_t)dy);
    for (int c = 0; c < m->C; c++) {
        gsl_ran_multivariate_gaussian_log_pdf(&v.vector, m->mu[c], m->L[c], &lj[c], m->work);
        gsl_ran_multivariate_gaussian_log_pdf(&vx.vector, m->mux[c], m->Lx[c], &lx[c], &wx.vector);
        gsl_ran_multivariate_gaussian_log_pdf(&vy.vector, m->muy[c], m->Ly[c], &ly[c], &wy.vector);
        lj[c] += m->lw[c];
        lx[c] += m->lw[c];
        ly[c] += m->lw[c];
    }
    return lse(lj, m->C) - lse(lx, m->C) - lse(ly, m->C);
}

START_TEST(test_mixture_mc)
{
    const size_t n = 20000;
    static const struct {
        int dx, dy;
        const char *params;
        uint64_t seed;
    } xs[] = {{1, 1, "", 4}, {3, 2, "K=2,rho=0.9,w=0.4", 5}, {6, 6, "K=6,rho=0.6", 6}};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        mist_task *t = tu_make_task("mixture-xshape-base", xs[i].dx, xs[i].dy, xs[i].params, xs[i].seed);
        int K = (int)param_of(t, "K");
        double rho = param_of(t, "rho"), w = param_of(t, "w");
        double *x = base_rows(t, n, 7 + i);
        acc a = {0}, xy = {0};
        for (size_t r = 0; r < n; r++) {
            const double *row = x + r * (size_t)(xs[i].dx + xs[i].dy);
            acc_add(&a, xshape_logratio(row, xs[i].dx, xs[i].dy, K, rho, w));
            acc_add(&xy, row[0] * row[xs[i].dx]);
        }
        check_mc(t, &a, "mixture-xshape");
        /* E[x_1 y_1] = (2w - 1) rho */
        CHECKM(fabs(xy.mean - (2 * w - 1) * rho) < 4 * acc_se(&xy) + 1e-3, "xshape E[xy] %g vs %g",
               xy.mean, (2 * w - 1) * rho);
        free(x);
        mist_task_free(t);
    }
    static const struct {
        int dx, dy;
        const char *params;
        uint64_t seed;
    } rnd[] = {{1, 1, "", 6}, {2, 1, "C=3", 7}, {3, 2, "", 8}, {8, 6, "C=4", 9}};
    for (size_t i = 0; i < sizeof rnd / sizeof rnd[0]; i++) {
        mist_task *t =
            tu_make_task("mixture-random-base", rnd[i].dx, rnd[i].dy, rnd[i].params, rnd[i].seed);
        tmix m;
        tmix_init(&m, t);
        double *x = base_rows(t, n, 20 + i);
        acc a = {0}, x1 = {0};
        for (size_t r = 0; r < n; r++) {
            const double *row = x + r * (size_t)(rnd[i].dx + rnd[i].dy);
            acc_add(&a, tmix_logratio(&m, row));
            acc_add(&x1, row[0]);
        }
        check_mc(t, &a, "mixture-random");
        /* the mean of X_1 is the weighted mean of the components' */
        double e1 = 0.0;
        for (int c = 0; c < m.C; c++) e1 += exp(m.lw[c]) * gsl_vector_get(m.mu[c], 0);
        CHECKM(fabs(x1.mean - e1) < 4 * acc_se(&x1), "mixture-random mean of X1 %g vs %g", x1.mean,
               e1);
        free(x);
        tmix_free(&m);
        mist_task_free(t);
    }
    /* closed forms: one component is a dense Gaussian; xshape with w = 1 is K correlated pairs */
    mist_task *t = tu_make_task("mixture-random-base", 3, 2, "C=1,r1=0.6,mx1=1,my1=-2", 3);
    double exact = mist_mi_dense(0.6, 3, 2);
    CHECKM(fabs(mist_task_mi(t) - exact) <= 4 * mist_task_mi_se(t), "C=1: %g vs %g",
           mist_task_mi(t), exact);
    mist_task_free(t);
    t = tu_make_task("mixture-xshape-base", 2, 3, "K=2,rho=0.8,w=1", 3);
    CHECK(fabs(mist_task_mi(t) + log(1 - 0.64)) < 1e-12);
    mist_task_free(t);
    t = tu_make_task("mixture-xshape-base", 4, 4, "rho=0", 3);
    CHECK(mist_task_mi(t) == 0.0);
    mist_task_free(t);
}
END_TEST

/* ---- categorical ---------------------------------------------------------------------------- */

START_TEST(test_categorical_gauss)
{
    static const struct {
        int dx, dy;
        const char *params;
        uint64_t seed;
    } cases[] = {{1, 1, "K=4", 3}, {1, 1, "", 4}, {2, 3, "", 5}, {1, 5, "K=6,s=0.5", 6}};
    const size_t n = 20000;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int dx = cases[i].dx, dy = cases[i].dy, m = dy < 3 ? dy : 3;
        mist_task *t = tu_make_task("categorical-gauss-base", dx, dy, cases[i].params, cases[i].seed);
        int K = (int)param_of(t, "K");
        double s = param_of(t, "s"), p[64], mu[64][3], psum = 0.0;
        for (int k = 0; k < K; k++) {
            p[k] = param_ix(t, "p", k + 1);
            psum += p[k];
            for (int j = 0; j < m; j++) {
                char name[32];
                snprintf(name, sizeof name, "mu%d_%d", k + 1, j + 1);
                mu[k][j] = param_of(t, name);
            }
        }
        for (int k = 0; k < K; k++) p[k] /= psum;
        if (dy == 1) {
            /* brute force: h(Y) by a Riemann sum at spacing s/16, 14 s beyond the means */
            double lo = INFINITY, hi = -INFINITY;
            for (int k = 0; k < K; k++) {
                lo = fmin(lo, mu[k][0]);
                hi = fmax(hi, mu[k][0]);
            }
            double h = 0.0, dy1 = s / 16;
            for (double y = lo - 14 * s; y <= hi + 14 * s; y += dy1) {
                double py = 0.0;
                for (int k = 0; k < K; k++) py += p[k] * gsl_ran_gaussian_pdf(y - mu[k][0], s);
                if (py > 0) h -= dy1 * py * log(py);
            }
            double ref = h - 0.5 * log(2 * PI * exp(1.0) * s * s);
            CHECKM(fabs(mist_task_mi(t) - ref) <= 1e-9, "categorical-gauss 1-D: %.9f vs %.9f",
                   mist_task_mi(t), ref);
            CHECK(mist_task_mi_se(t) == 0.0);
        }
        double *x = base_rows(t, n, 30 + i);
        acc a = {0};
        size_t count[64] = {0};
        for (size_t r = 0; r < n; r++) {
            const double *row = x + r * (size_t)(dx + dy);
            int k = (int)row[0];
            CHECK(row[0] == k && k >= 0 && k < K);
            for (int j = 1; j < dx; j++)
                CHECK(row[j] == floor(row[j]) && row[j] >= 0 && row[j] < K);
            count[k]++;
            /* log p(y | k) - log p(y), every Y coordinate included */
            double l[64];
            for (int c = 0; c < K; c++) {
                l[c] = log(p[c]);
                for (int j = 0; j < dy; j++)
                    l[c] += log_normal(row[dx + j], j < m ? mu[c][j] : 0.0, s);
            }
            acc_add(&a, l[k] - log(p[k]) - lse(l, K));
        }
        check_mc(t, &a, "categorical-gauss");
        for (int k = 0; k < K; k++) {
            double f = (double)count[k] / n, se = sqrt(p[k] * (1 - p[k]) / n);
            CHECKM(fabs(f - p[k]) < 5 * se + 1e-9, "class %d frequency %g vs %g", k, f, p[k]);
        }
        free(x);
        mist_task_free(t);
    }
}
END_TEST

/* P(k | x) of categorical-softmax, from the recorded parameters. */
typedef struct tsoft {
    int K, k;
    double a[64], q[64], b[64];
} tsoft;

static double soft_p(double x, void *ctx)
{
    const tsoft *s = ctx;
    double l[64];
    for (int c = 0; c < s->K; c++) l[c] = s->a[c] * x + s->q[c] * x * x + s->b[c];
    return exp(l[s->k] - lse(l, s->K));
}

static double soft_integrand(double x, void *ctx)
{
    return gsl_ran_ugaussian_pdf(x) * soft_p(x, ctx);
}

START_TEST(test_categorical_softmax)
{
    static const struct {
        int dx, dy;
        const char *params;
        uint64_t seed;
    } cases[] = {{1, 1, "", 2},
                 {2, 2, "K=3,a1=5,a2=-5,a3=0,q1=0,q2=0,q3=1,b1=0,b2=0,b3=0", 1},
                 {1, 3, "K=5", 9}};
    const size_t n = 20000;
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(1000);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int dx = cases[i].dx, dy = cases[i].dy;
        mist_task *t = tu_make_task("categorical-softmax-base", dx, dy, cases[i].params, cases[i].seed);
        tsoft s = {.K = (int)param_of(t, "K")};
        for (int k = 0; k < s.K; k++) {
            s.a[k] = param_ix(t, "a", k + 1);
            s.q[k] = param_ix(t, "q", k + 1);
            s.b[k] = param_ix(t, "b", k + 1);
        }
        /* brute force: H(Y) - E H(Y|x) by a Riemann sum at spacing 1e-4 on [-10, 10] */
        double P[64] = {0}, hc = 0.0;
        for (double x = -10; x <= 10; x += 1e-4) {
            double w = 1e-4 * gsl_ran_ugaussian_pdf(x);
            for (int k = 0; k < s.K; k++) {
                s.k = k;
                double pk = soft_p(x, &s);
                P[k] += w * pk;
                if (pk > 0) hc -= w * pk * log(pk);
            }
        }
        double hy = 0.0;
        for (int k = 0; k < s.K; k++) hy -= P[k] * log(P[k]);
        CHECKM(fabs(mist_task_mi(t) - (hy - hc)) <= 1e-9, "softmax: %.9f vs Riemann %.9f",
               mist_task_mi(t), hy - hc);
        /* Monte Carlo of log P(y|x) - log P(y), P(y) by GSL's adaptive rule */
        double Pq[64];
        for (int k = 0; k < s.K; k++) {
            s.k = k;
            gsl_function F = {soft_integrand, &s};
            double err;
            gsl_integration_qagi(&F, 1e-13, 1e-10, 1000, ws, &Pq[k], &err);
        }
        double *x = base_rows(t, n, 40 + i);
        acc a = {0};
        for (size_t r = 0; r < n; r++) {
            const double *row = x + r * (size_t)(dx + dy);
            int k = (int)row[dx];
            CHECK(row[dx] == k && k >= 0 && k < s.K);
            s.k = k;
            acc_add(&a, log(soft_p(row[0], &s)) - log(Pq[k]));
        }
        check_mc(t, &a, "categorical-softmax");
        free(x);
        mist_task_free(t);
    }
    gsl_integration_workspace_free(ws);
}
END_TEST

/* I = H(X) + H(Y) - H(X, Y) of a joint table. */
static double table_mi(const double *J, int K, int M)
{
    double hx = 0, hy = 0, hxy = 0;
    for (int k = 0; k < K; k++) {
        double pk = 0;
        for (int m = 0; m < M; m++) {
            pk += J[k * M + m];
            if (J[k * M + m] > 0) hxy -= J[k * M + m] * log(J[k * M + m]);
        }
        if (pk > 0) hx -= pk * log(pk);
    }
    for (int m = 0; m < M; m++) {
        double pm = 0;
        for (int k = 0; k < K; k++) pm += J[k * M + m];
        if (pm > 0) hy -= pm * log(pm);
    }
    return hx + hy - hxy;
}

START_TEST(test_categorical_discrete)
{
    const size_t n = 40000;
    static const struct {
        int dx, dy;
        const char *params;
        uint64_t seed;
    } ch[] = {{1, 1, "", 1},
              {3, 2, "", 2},
              {1, 1, "K=3,M=4", 3},
              {2, 2, "K=2,M=2,q1_1=1,q1_2=0,q2_1=0,q2_2=1", 4}};
    for (size_t i = 0; i < sizeof ch / sizeof ch[0]; i++) {
        int dx = ch[i].dx, dy = ch[i].dy;
        mist_task *t = tu_make_task("categorical-channel-base", dx, dy, ch[i].params, ch[i].seed);
        int K = (int)param_of(t, "K"), M = (int)param_of(t, "M");
        double J[64 * 64], ps = 0;
        for (int k = 0; k < K; k++) ps += param_ix(t, "p", k + 1);
        for (int k = 0; k < K; k++) {
            double rs = 0;
            for (int m = 0; m < M; m++) {
                char name[32];
                snprintf(name, sizeof name, "q%d_%d", k + 1, m + 1);
                rs += (J[k * M + m] = param_of(t, name));
            }
            for (int m = 0; m < M; m++) J[k * M + m] *= param_ix(t, "p", k + 1) / ps / rs;
        }
        double ref = table_mi(J, K, M);
        CHECKM(fabs(mist_task_mi(t) - ref) <= 1e-12, "channel %zu: %.15f vs %.15f", i,
               mist_task_mi(t), ref);
        if (i == 3) { /* the identity channel: MI = H(X) */
            double p1 = param_of(t, "p1") / ps, hx = -p1 * log(p1) - (1 - p1) * log1p(-p1);
            CHECKM(fabs(mist_task_mi(t) - hx) < 1e-12, "identity channel: %g vs H(X) %g",
                   mist_task_mi(t), hx);
        }
        double *x = base_rows(t, n, 50 + i);
        double cnt[64 * 64] = {0};
        for (size_t r = 0; r < n; r++) {
            const double *row = x + r * (size_t)(dx + dy);
            int k = (int)row[0], m = (int)row[dx];
            CHECK(k >= 0 && k < K && m >= 0 && m < M);
            for (int j = 1; j < dx; j++)
                CHECK(row[j] == floor(row[j]) && row[j] >= 0 && row[j] < K);
            for (int j = 1; j < dy; j++)
                CHECK(row[dx + j] == floor(row[dx + j]) && row[dx + j] >= 0 && row[dx + j] < M);
            cnt[k * M + m] += 1.0 / n;
        }
        for (int c = 0; c < K * M; c++)
            CHECKM(fabs(cnt[c] - J[c]) < 5 * sqrt(J[c] * (1 - J[c]) / n) + 1e-12,
                   "channel cell %d: %g vs %g", c, cnt[c], J[c]);
        free(x);
        mist_task_free(t);
    }
    static const struct {
        int dx, dy;
        const char *params;
        uint64_t seed;
    } bin[] = {{1, 1, "", 1}, {4, 3, "", 2}, {3, 3, "K=3,p=0.3,e2=0.01", 3}, {2, 2, "e=0.5", 4}};
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++) {
        int dx = bin[i].dx, dy = bin[i].dy;
        mist_task *t = tu_make_task("categorical-binary-base", dx, dy, bin[i].params, bin[i].seed);
        int K = (int)param_of(t, "K");
        double ref = 0, p[32], e[32];
        for (int j = 0; j < K; j++) {
            p[j] = param_ix(t, "p", j + 1);
            e[j] = param_ix(t, "e", j + 1);
            double Jt[4] = {(1 - p[j]) * (1 - e[j]), (1 - p[j]) * e[j], p[j] * e[j],
                            p[j] * (1 - e[j])};
            ref += table_mi(Jt, 2, 2);
        }
        CHECKM(fabs(mist_task_mi(t) - ref) <= 1e-12, "binary %zu: %.15f vs %.15f", i,
               mist_task_mi(t), ref);
        if (i == 3) CHECK(mist_task_mi(t) < 1e-15);
        double *x = base_rows(t, n, 60 + i);
        for (int j = 0; j < (dx > dy ? dx : dy); j++) {
            double ones = 0, flips = 0;
            for (size_t r = 0; r < n; r++) {
                const double *row = x + r * (size_t)(dx + dy);
                CHECK((j >= dx || row[j] == 0 || row[j] == 1) &&
                      (j >= dy || row[dx + j] == 0 || row[dx + j] == 1));
                if (j < dx) ones += row[j];
                if (j < dx && j < dy) flips += row[j] != row[dx + j];
            }
            double pj = j < K ? p[j] : 0.5;
            if (j < dx)
                CHECKM(fabs(ones / n - pj) < 5 * sqrt(pj * (1 - pj) / n), "P(X%d = 1) %g vs %g", j,
                       ones / n, pj);
            if (j < K)
                CHECKM(fabs(flips / n - e[j]) < 5 * sqrt(e[j] * (1 - e[j]) / n) + 1e-9,
                       "P(Y%d != X%d) %g vs %g", j, j, flips / n, e[j]);
        }
        free(x);
        mist_task_free(t);
    }
}
END_TEST

/* ---- high MI at low dimension --------------------------------------------------------------- */

START_TEST(test_high_mi)
{
    char prm[64];
    /* bivariate normal: MI = -1/2 log(1 - c^2) = 10 */
    double c = sqrt(-expm1(-20.0));
    snprintf(prm, sizeof prm, "c=%.17g", c);
    mist_task *t = tu_make_task("normal-dense-base", 1, 1, prm, 1);
    CHECKM(fabs(mist_task_mi(t) - 10.0) < 1e-6, "1x1 dense: %.9f", mist_task_mi(t));
    double *x = base_rows(t, 20000, 2);
    acc res = {0};
    for (size_t r = 0; r < 20000; r++) acc_add(&res, x[2 * r + 1] - c * x[2 * r]);
    CHECKM(fabs(acc_var(&res) / exp(-20.0) - 1) < 0.05, "residual variance %g", acc_var(&res));
    free(x);
    mist_task_free(t);
    /* 2x2 dense at MI 10 */
    double lo = 0, hi = 1;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (mist_mi_dense(mid, 2, 2) < 10.0)
            lo = mid;
        else
            hi = mid;
    }
    snprintf(prm, sizeof prm, "c=%.17g", lo);
    t = tu_make_task("normal-dense-base", 2, 2, prm, 1);
    CHECKM(fabs(mist_task_mi(t) - 10.0) < 1e-5, "2x2 dense: %.9f", mist_task_mi(t));
    mist_task_free(t);
    /* additive: eps - log(2 eps) = 10 at 1x1, 5 per coordinate at 2x2 */
    for (int d = 1; d <= 2; d++) {
        double target = 10.0 / d, a = 1e-12, b = 0.5;
        for (int it = 0; it < 200; it++) {
            double mid = sqrt(a * b);
            if (mid - log(2 * mid) > target)
                a = mid;
            else
                b = mid;
        }
        snprintf(prm, sizeof prm, "eps=%.17g", a);
        t = tu_make_task("additive-base", d, d, prm, 1);
        CHECKM(fabs(mist_task_mi(t) - 10.0) < 1e-6, "%dx%d additive: %.9f", d, d, mist_task_mi(t));
        x = base_rows(t, 1000, 3);
        for (size_t r = 0; r < 1000; r++)
            for (int j = 0; j < d; j++)
                CHECK(fabs(x[r * 2 * d + d + j] - x[r * 2 * d + j]) <= a * (1 + 1e-12));
        free(x);
        mist_task_free(t);
    }
}
END_TEST

/* ---- determinism, parameter draws, errors -------------------------------------------------- */

static const char *FAMILIES[] = {"channel-sine-base",        "channel-bumps-base",
                                 "mixture-xshape-base",      "mixture-random-base",
                                 "categorical-gauss-base",   "categorical-softmax-base",
                                 "categorical-channel-base", "categorical-binary-base"};
#define NFAM (sizeof FAMILIES / sizeof FAMILIES[0])

static int same_params(const mist_task *a, const mist_task *b)
{
    size_t na, nb;
    const mist_param *pa = mist_task_params(a, &na), *pb = mist_task_params(b, &nb);
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(pa[i].name, pb[i].name) || memcmp(&pa[i].value, &pb[i].value, sizeof(double)))
            return 0;
    return 1;
}

START_TEST(test_determinism)
{
    for (size_t f = 0; f < NFAM; f++) {
        mist_task *a = tu_make_task(FAMILIES[f], 3, 2, "", 17), *b = tu_make_task(FAMILIES[f], 3, 2, "", 17);
        mist_task *c = tu_make_task(FAMILIES[f], 3, 2, "", 18);
        CHECKM(same_params(a, b) && mist_task_mi(a) == mist_task_mi(b) &&
                   mist_task_mi_se(a) == mist_task_mi_se(b),
               "%s: same seed, different task", FAMILIES[f]);
        CHECKM(!same_params(a, c), "%s: seeds 17 and 18 drew the same parameters", FAMILIES[f]);
        double *x = base_rows(a, 100, 5), *y = base_rows(b, 100, 5), *z = base_rows(a, 10, 5);
        CHECKM(memcmp(x, y, 100 * 5 * sizeof *x) == 0, "%s: same seed, different rows",
               FAMILIES[f]);
        CHECKM(memcmp(x, z, 10 * 5 * sizeof *x) == 0, "%s: rows depend on n", FAMILIES[f]);
        double *w = base_rows(a, 100, 6);
        CHECKM(memcmp(x, w, 100 * 5 * sizeof *x) != 0, "%s: seeds 5 and 6 gave the same rows",
               FAMILIES[f]);
        free(x);
        free(y);
        free(z);
        free(w);
        mist_task_free(a);
        mist_task_free(b);
        mist_task_free(c);
    }
    /* one parameter given leaves every other draw as it was */
    mist_task *a = tu_make_task("channel-sine-base", 3, 3, "K=3", 9),
              *b = tu_make_task("channel-sine-base", 3, 3, "K=3,sigma2=0.5", 9);
    size_t na, nb;
    const mist_param *pa = mist_task_params(a, &na), *pb = mist_task_params(b, &nb);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        CHECKM(!strcmp(pa[i].name, "sigma2") ? pb[i].value == 0.5 : pa[i].value == pb[i].value,
               "%s changed", pa[i].name);
    mist_task_free(b);
    b = tu_make_task("channel-sine-base", 3, 3, "K=1", 9);
    CHECK(param_of(a, "a1") == param_of(b, "a1") && param_of(a, "sigma1") == param_of(b, "sigma1"));
    CHECK(!has_param(b, "a2", NULL));
    mist_task_free(a);
    mist_task_free(b);
    /* a shared value sets every pair; an indexed one wins over it */
    a = tu_make_task("categorical-binary-base", 3, 3, "K=3,e=0.1,e3=0.2", 1);
    CHECK(param_of(a, "e1") == 0.1 && param_of(a, "e2") == 0.1 && param_of(a, "e3") == 0.2);
    mist_task_free(a);
}
END_TEST

START_TEST(test_errors)
{
    static const struct {
        const char *task;
        int dx, dy;
        const char *params, *msg;
    } cases[] = {
        {"channel-sine-base", 2, 2, "K=3", "must be an integer in [0, 2]"},
        {"channel-sine-base", 1, 1, "sigma=0.0001", "too small"},
        {"channel-sine-base", 1, 1, "b=5", "b1=5 is out of range"},
        {"channel-bumps-base", 1, 1, "s=0", "s1=0 is out of range"},
        {"channel-wave-base", 1, 1, "", "unknown structure 'wave'"},
        {"channel", 1, 1, "", "STRUCTURE one of: sine, bumps"},
        {"mixture-xshape-base", 1, 1, "rho=1", "rho=1 is out of range"},
        {"mixture-xshape-base", 1, 1, "w=1.5", "w=1.5 is out of range"},
        {"mixture-random-base", 2, 2, "C=0", "must be an integer in [1, 64]"},
        {"mixture-random-base", 2, 2, "r1=-0.5", "r1=-0.5 is out of range"},
        {"mixture-random-base", 1, 1, "C=2,w1=0,w2=0", "sum to 0"},
        {"categorical-gauss-base", 1, 1, "s=0", "s=0 is out of range"},
        {"categorical-gauss-base", 1, 1, "K=2,p1=0,p2=0", "sum to 0"},
        {"categorical-gauss-base", 1, 1, "mu1_2=0", "does not apply"},
        {"categorical-softmax-base", 1, 1, "a1=100", "a1=100 is out of range"},
        {"categorical-channel-base", 1, 1, "K=2,M=2,q1_1=0,q1_2=0", "sums to 0"},
        {"categorical-binary-base", 1, 1, "e=1.5", "e1=1.5 is out of range"},
        {"channel-sine-base", 1, 1, "mi_se=0.1", "not a parameter"},
        {"mixture-random-base", 1, 1, "foo=1", "does not apply"},
        {"nonsense-base", 1, 1, "", "unknown task"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mist_task *t = NULL;
        mist_err err = {0};
        int rc = tu_try_make_task(&t, cases[i].task, cases[i].dx, cases[i].dy, cases[i].params, 1, &err);
        CHECKM(rc == MIST_EINVAL && !t, "%s [%s]: rc %d", cases[i].task, cases[i].params, rc);
        CHECKM(strstr(err.msg, cases[i].msg) != NULL, "%s [%s]: message '%s' lacks '%s'",
               cases[i].task, cases[i].params, err.msg, cases[i].msg);
    }
}
END_TEST

/* ---- negate ---------------------------------------------------------------------------------- */

START_TEST(test_negate)
{
    mist_task_spec sp = {0};
    snprintf(sp.task, sizeof sp.task, "normal-dense-base");
    sp.dx = 3;
    sp.dy = 2;
    sp.n = 50;
    sp.seed = 4;
    mist_err err = {0};
    mist_dataset *ds = NULL;
    ck_assert_int_eq(mist_gen_dataset(&ds, &sp, &err), MIST_OK);
    int flips[5] = {0};
    for (uint64_t seed = 0; seed < 20; seed++) {
        mist_mipt *m = NULL;
        ck_assert_int_eq(mist_mipt_create(&m, "negate", 3, 2, seed, &err), MIST_OK);
        const double *sx = mist_mipt_signs(m, 0), *sy = mist_mipt_signs(m, 1);
        ck_assert_ptr_nonnull(sx);
        ck_assert_ptr_null(mist_mipt_matrix(m, 0, 0));
        double out[250], back[250], ld = 1;
        ck_assert_int_eq(mist_mipt_forward(m, ds->data, 50, out, &err), MIST_OK);
        ck_assert_int_eq(mist_mipt_inverse(m, out, 50, back, &err), MIST_OK);
        ck_assert(memcmp(back, ds->data, sizeof back) == 0);
        for (int j = 0; j < 5; j++) {
            double s = j < 3 ? sx[j] : sy[j - 3];
            CHECK(s == 1.0 || s == -1.0);
            flips[j] += s < 0;
            for (int r = 0; r < 50; r++) CHECK(out[r * 5 + j] == s * ds->data[r * 5 + j]);
        }
        ck_assert_int_eq(mist_mipt_log_jacobian(m, ds->data, &ld, &err), MIST_OK);
        CHECK(ld == 0.0);
        mist_mipt_free(m);
    }
    for (int j = 0; j < 5; j++)
        CHECKM(flips[j] > 2 && flips[j] < 18, "column %d: %d flips in 20", j, flips[j]);
    /* a spec's chain is applied by mist_gen_dataset with the dataset's transform seed */
    snprintf(sp.transform, sizeof sp.transform, "perm+negate");
    mist_dataset *t = NULL;
    ck_assert_int_eq(mist_gen_dataset(&t, &sp, &err), MIST_OK);
    ck_assert_str_eq(t->meta.transform, "perm+negate");
    ck_assert(t->meta.transform_seed == mist_mipt_seed(sp.seed));
    ck_assert_int_eq(mist_mipt_apply(ds, "perm+negate", mist_mipt_seed(sp.seed), &err), MIST_OK);
    ck_assert(memcmp(t->data, ds->data, 250 * sizeof(double)) == 0);
    mist_dataset_free(t);
    mist_dataset_free(ds);
}
END_TEST

/* ---- the broad meta-distribution ------------------------------------------------------------- */

static int spec_same(const mist_task_spec *a, const mist_task_spec *b)
{
    if (strcmp(a->task, b->task) || a->dx != b->dx || a->dy != b->dy || a->n != b->n ||
        a->seed != b->seed || strcmp(a->transform, b->transform) || a->nparams != b->nparams)
        return 0;
    for (size_t k = 0; k < a->nparams; k++)
        if (strcmp(a->params[k].name, b->params[k].name) ||
            a->params[k].value != b->params[k].value)
            return 0;
    return 1;
}

static int count_steps(const char *chain, const char *step)
{
    int n = 0;
    size_t len = strlen(step);
    for (const char *p = chain; (p = strstr(p, step)); p += len) n++;
    return n;
}

/* The held-out suite of the new families: 540 specs, 18 tasks x n {100, 500, 2000} x 10, ids
 * unique, every task makes with a finite MI >= 0; the fixed high-MI Gaussians have the closed
 * form -1/2 log(1 - c^2) and the additive one eps - log(2 eps) (eps <= 1/2); the suite seed
 * moves the seeds, not the tasks; --n is refused. */
START_TEST(test_new_families_suite)
{
    mist_suite_opts o;
    memset(&o, 0, sizeof o);
    o.suite_seed = 1;
    mist_task_spec *sp = NULL, *sp2 = NULL;
    size_t count = 0, count2 = 0;
    mist_err err;
    ck_assert_msg(mist_suite_specs("new-families", &o, &sp, &count, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(count, 540);
    o.suite_seed = 2;
    ck_assert_int_eq(mist_suite_specs("new-families", &o, &sp2, &count2, &err), 0);
    ck_assert_uint_eq(count2, count);
    int closed = 0;
    for (size_t i = 0; i < count; i++) {
        ck_assert_str_eq(sp[i].task, sp2[i].task);
        ck_assert_uint_ne(sp[i].seed, sp2[i].seed);
        for (size_t j = 0; j < i; j += 37) ck_assert_str_ne(sp[i].id, sp[j].id);
        ck_assert(sp[i].n == 100 || sp[i].n == 500 || sp[i].n == 2000);
        mist_task *t = NULL;
        ck_assert_msg(mist_task_create(&t, sp[i].task, sp[i].dx, sp[i].dy, sp[i].params,
                                       sp[i].nparams, sp[i].seed, &err) == 0,
                      "%s: %s", sp[i].task, err.msg);
        double mi = mist_task_mi(t);
        ck_assert_msg(isfinite(mi) && mi >= 0, "%s: MI %g", sp[i].task, mi);
        if (sp[i].nparams == 1 && !strcmp(sp[i].params[0].name, "c")) {
            double c = sp[i].params[0].value, want = -0.5 * log(1 - c * c);
            ck_assert_msg(fabs(mi - want) <= 1e-9 * want, "%g vs %g", mi, want);
            closed++;
        }
        if (sp[i].nparams == 1 && !strcmp(sp[i].params[0].name, "eps")) {
            double e = sp[i].params[0].value, want = e - log(2 * e);
            ck_assert_msg(fabs(mi - want) <= 1e-9 * want, "%g vs %g", mi, want);
            closed++;
        }
        mist_task_free(t);
    }
    ck_assert_int_eq(closed, 4 * 3 * 10);
    mist_task_specs_free(sp, count);
    mist_task_specs_free(sp2, count2);
    o.n = 300;
    ck_assert_int_ne(mist_suite_specs("new-families", &o, &sp, &count, &err), 0);
}
END_TEST

START_TEST(test_broad)
{
    const int N = 2500;
    int groups[6] = {0}; /* default, channel, mixture, categorical, high MI, new zero MI */
    int steps[5] = {0}, nmin = 1 << 30, nmax = 0, above1000 = 0, ne = 0, dmax = 0;
    double mi1 = 0, mi2 = 0, mimax = 0;
    int seen[NFAM] = {0}, zero_new = 0;
    size_t *ns = malloc((size_t)N * sizeof *ns);
    mist_err err = {0};
    for (int i = 0; i < N; i++) {
        mist_task_spec s, s2;
        ck_assert_int_eq(mist_metadist_draw("broad", 3, (uint64_t)i, &s, &err), MIST_OK);
        if (i < 300) {
            ck_assert_int_eq(mist_metadist_draw("broad", 3, (uint64_t)i, &s2, &err), MIST_OK);
            CHECKM(spec_same(&s, &s2), "draw %d not deterministic", i);
            mist_task_spec_clear(&s2);
        }
        CHECK(s.dx >= 1 && s.dx <= 32 && s.dy >= 1 && s.dy <= 32);
        CHECK(s.n >= 10 && s.n <= 5000);
        ns[i] = s.n;
        nmin = (int)s.n < nmin ? (int)s.n : nmin;
        nmax = (int)s.n > nmax ? (int)s.n : nmax;
        above1000 += s.n > 1000;
        ne += s.dx != s.dy;
        dmax = s.dx > dmax ? s.dx : dmax;
        /* every chain flips signs; the other steps come at random, each at most once */
        CHECKM(count_steps(s.transform, "negate") == 1, "chain '%s'", s.transform);
        static const char *names[5] = {"negate", "perm", "rotate", "flow", "swap"};
        for (int k = 0; k < 5; k++) {
            CHECK(count_steps(s.transform, names[k]) <= 1);
            steps[k] += count_steps(s.transform, names[k]);
        }
        ck_assert_int_eq(mist_mipt_check(s.transform, &err), MIST_OK);
        mist_task *t = NULL;
        CHECKM(mist_task_create(&t, s.task, s.dx, s.dy, s.params, s.nparams, s.seed, &err) ==
                   MIST_OK,
               "draw %d: %s %dx%d: %s", i, s.task, s.dx, s.dy, err.msg);
        double mi = mist_task_mi(t), v;
        CHECK(isfinite(mi) && mi >= 0 && mist_task_mi_se(t) <= 0.01);
        int family = -1;
        for (size_t f = 0; f < NFAM; f++)
            if (!strcmp(s.task, FAMILIES[f])) seen[family = (int)f]++;
        /* the high-MI entries carry the one parameter their hook drew: c (not 0), eps, sigma */
        const char *p0 = s.nparams == 1 ? s.params[0].name : "";
        double v0 = s.nparams == 1 ? s.params[0].value : NAN;
        int hook = (!strcmp(p0, "c") && v0 != 0) || !strcmp(p0, "eps") || !strcmp(p0, "sigma");
        int zero = family >= 0 && (!strcmp(p0, "rho") || (!strcmp(p0, "K") && v0 == 0) ||
                                   (family == 4 && !strcmp(p0, "K") && v0 == 1));
        if (zero) {
            zero_new++;
            CHECKM(mi == 0, "%s with %s=%g has MI %g", s.task, s.params[0].name, s.params[0].value,
                   mi);
        }
        groups[zero ? 5 : hook ? 4 : family < 0 ? 0 : family < 2 ? 1 : family < 4 ? 2 : 3]++;
        if (family >= 0 && family < 2 && !zero && !hook && s.dx > 1 && s.dy > 1)
            CHECK(has_param(t, "K", &v) && v >= 1 && v <= 4);
        if (s.dx == 1 && s.dy == 1) mi1 = fmax(mi1, mi);
        if (s.dx == 2 && s.dy == 2) mi2 = fmax(mi2, mi);
        mimax = fmax(mimax, mi);
        mist_task_free(t);
        mist_task_spec_clear(&s);
    }
    for (size_t f = 0; f < NFAM; f++)
        CHECKM(seen[f] > 10, "%s drawn %d times", FAMILIES[f], seen[f]);
    /* the documented shares: 40, 15, 13, 15, 12, 5 percent of 66.25 weight units */
    static const double share[6] = {26.5, 10, 8.75, 10, 8, 3};
    for (int g = 0; g < 6; g++) {
        double f = (double)groups[g] / N, want = share[g] / 66.25;
        CHECKM(fabs(f - want) < 4 * sqrt(want * (1 - want) / N),
               "group %d: %.3f of draws, want %.3f", g, f, want);
    }
    CHECKM(zero_new > 0 && mi1 >= 10 && mi2 >= 10 && mimax >= 10,
           "MI max at 1x1 %g, at 2x2 %g; zero-MI draws %d", mi1, mi2, zero_new);
    /* n log-uniform on [10, 5000]: median sqrt(10 * 5000) = 224, P(n > 1000) = log 5 / log 500 */
    CHECK(nmin <= 12 && nmax >= 4500 && dmax == 32 && ne > N / 2);
    size_t below = 0;
    for (int i = 0; i < N; i++) below += ns[i] <= 224;
    CHECKM(fabs((double)below / N - 0.5) < 0.04, "P(n <= 224) = %g", (double)below / N);
    CHECKM(fabs((double)above1000 / N - log(5) / log(500)) < 0.04, "P(n > 1000) = %g",
           (double)above1000 / N);
    CHECK(steps[0] == N);
    static const double pstep[5] = {1, 0.5, 0.5, 0.35, 0.5};
    for (int k = 1; k < 5; k++)
        CHECKM(fabs((double)steps[k] / N - pstep[k]) < 0.04, "step %d in %g of chains", k,
               (double)steps[k] / N);
    free(ns);

    /* datasets: the chain is applied and recorded, and inverting it gives the task's rows */
    for (int i = 0; i < 24; i++) {
        mist_task_spec s;
        ck_assert_int_eq(mist_metadist_draw("broad", 5, (uint64_t)i, &s, &err), MIST_OK);
        if (s.n > 400) s.n = 400;
        mist_dataset *ds = NULL;
        CHECKM(mist_gen_dataset(&ds, &s, &err) == MIST_OK, "%s: %s", s.task, err.msg);
        ck_assert_str_eq(ds->meta.transform, s.transform);
        CHECK(ds->meta.transform_seed == mist_mipt_seed(s.seed));
        mist_task *t = NULL;
        ck_assert_int_eq(
            mist_task_create(&t, s.task, s.dx, s.dy, s.params, s.nparams, s.seed, &err), MIST_OK);
        CHECK(ds->meta.mi == mist_task_mi(t));
        int odx = mist_task_out_dx(t), ody = mist_task_out_dy(t),
            swapped = strstr(s.transform, "swap") != NULL;
        CHECK(ds->dx == (swapped ? ody : odx) && ds->dy == (swapped ? odx : ody));
        size_t cols = (size_t)(odx + ody);
        double *raw = malloc(s.n * cols * sizeof *raw), *back = malloc(s.n * cols * sizeof *back);
        ck_assert_int_eq(mist_task_sample(t, s.n, s.seed, raw, &err), MIST_OK);
        mist_mipt *m = NULL;
        ck_assert_int_eq(mist_mipt_create(&m, s.transform, odx, ody, mist_mipt_seed(s.seed), &err),
                         MIST_OK);
        ck_assert_int_eq(mist_mipt_inverse(m, ds->data, s.n, back, &err), MIST_OK);
        for (size_t k = 0; k < s.n * cols; k++)
            CHECKM(fabs(back[k] - raw[k]) <= 1e-8 * (1 + fabs(raw[k])),
                   "%s [%s]: value %zu: %.17g vs %.17g", s.task, s.transform, k, back[k], raw[k]);
        free(raw);
        free(back);
        mist_mipt_free(m);
        mist_task_free(t);
        mist_dataset_free(ds);
        mist_task_spec_clear(&s);
    }
    mist_task_spec s;
    ck_assert_int_eq(mist_metadist_draw("wide", 1, 0, &s, &err), MIST_EINVAL);
    CHECK(strstr(err.msg, "broad") != NULL);
}
END_TEST

/* broad2: broad's entries plus additive-wiggly at dx = dy in 2..32 (weight 4 of 70.25; broad
 * has 1 there already): its share among the draws, its noise widths (default: within U(0.1, 2)
 * per coordinate; hooked: one eps for every coordinate, total MI in [0.05, 10.5] to rounding),
 * and every draw a valid task with exact MI. */
START_TEST(test_broad2)
{
    const int N = 3000;
    int add = 0, hooked = 0;
    mist_err err = {0};
    for (int i = 0; i < N; i++) {
        mist_task_spec s;
        ck_assert_int_eq(mist_metadist_draw("broad2", 3, (uint64_t)i, &s, &err), MIST_OK);
        CHECK(s.n >= 10 && s.n <= 5000 && count_steps(s.transform, "negate") == 1);
        mist_task *t = NULL;
        CHECKM(mist_task_create(&t, s.task, s.dx, s.dy, s.params, s.nparams, s.seed, &err) ==
                   MIST_OK,
               "draw %d: %s %dx%d: %s", i, s.task, s.dx, s.dy, err.msg);
        double mi = mist_task_mi(t), v;
        CHECK(isfinite(mi) && mi >= 0);
        if (!strcmp(s.task, "additive-wiggly") && s.dx >= 2) {
            add++;
            CHECK(s.dx == s.dy && s.dx <= 32);
            if (s.nparams == 1 && !strcmp(s.params[0].name, "eps")) {
                hooked++;
                CHECKM(mi >= 0.05 - 1e-9 && mi <= 10.5 + 1e-9, "hooked additive MI %g", mi);
            } else {
                for (int j = 1; j <= s.dx; j++) {
                    char name[16];
                    snprintf(name, sizeof name, "eps%d", j);
                    CHECKM(has_param(t, name, &v) && v >= 0.1 && v <= 2, "%s = %g", name, v);
                }
            }
        }
        mist_task_free(t);
        mist_task_spec_clear(&s);
    }
    double want = 5.0 / 70.25, f = (double)add / N;
    CHECKM(fabs(f - want) < 4 * sqrt(want * (1 - want) / N), "additive at dims >= 2: %.4f, want %.4f",
           f, want);
    want = 2.0 / 70.25, f = (double)hooked / N;
    CHECKM(fabs(f - want) < 4 * sqrt(want * (1 - want) / N), "hooked: %.4f, want %.4f", f, want);
}
END_TEST

/* mix2, mix4: every draw is default's or broad2's draw of the same index on the seed's "mix"
 * stream, default's in the mixture's share (half, a quarter; within 4 SD); default's keep their
 * n range and no transforms. */
static int same_spec(const mist_task_spec *a, const mist_task_spec *b)
{
    if (strcmp(a->task, b->task) || a->dx != b->dx || a->dy != b->dy || a->n != b->n ||
        a->seed != b->seed || strcmp(a->transform, b->transform) || a->nparams != b->nparams)
        return 0;
    for (size_t j = 0; j < a->nparams; j++)
        if (strcmp(a->params[j].name, b->params[j].name) || a->params[j].value != b->params[j].value)
            return 0;
    return 1;
}

static void check_mixture(const char *name, double p_default)
{
    const int N = 2000;
    int from_default = 0;
    mist_err err = {0};
    const char *pa = NULL, *pb = NULL; /* the parts it reports: what it draws from */
    double share = -1;
    ck_assert_int_eq(mist_metadist_mixture(name, &pa, &pb, &share), 1);
    CHECK(strcmp(pa, "default") == 0 && strcmp(pb, "broad2") == 0 && share == p_default);
    uint64_t sub = mist_seed_derive(7, 0x6d6978ULL);
    for (int i = 0; i < N; i++) {
        mist_task_spec s, d, b;
        ck_assert_int_eq(mist_metadist_draw(name, 7, (uint64_t)i, &s, &err), MIST_OK);
        ck_assert_int_eq(mist_metadist_draw("default", sub, (uint64_t)i, &d, &err), MIST_OK);
        ck_assert_int_eq(mist_metadist_draw("broad2", sub, (uint64_t)i, &b, &err), MIST_OK);
        int is_d = same_spec(&s, &d), is_b = same_spec(&s, &b);
        CHECKM(is_d != is_b, "draw %d: %s %dx%d n=%zu", i, s.task, s.dx, s.dy, s.n);
        if (is_d) CHECK(s.n <= 500 && s.transform[0] == '\0');
        from_default += is_d;
        mist_task_spec_clear(&s);
        mist_task_spec_clear(&d);
        mist_task_spec_clear(&b);
    }
    double f = (double)from_default / N;
    CHECKM(fabs(f - p_default) < 4 * sqrt(p_default * (1 - p_default) / N), "%s from default: %.3f",
           name, f);
}

START_TEST(test_mix2)
{
    check_mixture("mix2", 0.5);
    check_mixture("mix4", 0.25);
    const char *a = "unset";
    CHECK(mist_metadist_mixture("broad2", &a, NULL, NULL) == 0 && strcmp(a, "unset") == 0);
    CHECK(mist_metadist_mixture("default", NULL, NULL, NULL) == 0);
    CHECK(mist_metadist_mixture("nope", NULL, NULL, NULL) == -1);
    CHECK(mist_metadist_mixture(NULL, NULL, NULL, NULL) == -1);
}
END_TEST

/* deflow: default's draw of the same seed and index (task, dims, n, parameters) under a chain
 * that always holds flow and negate, and perm, rotate, swap about half the time each (within 4
 * SD); mixf: half deflow, half broad2. Flow preserves MI, so the guard's range is default's. */
START_TEST(test_deflow)
{
    const int N = 2000;
    int perm = 0;
    mist_err err = {0};
    for (int i = 0; i < N; i++) {
        mist_task_spec f, d;
        ck_assert_int_eq(mist_metadist_draw("deflow", 11, (uint64_t)i, &f, &err), MIST_OK);
        ck_assert_int_eq(mist_metadist_draw("default", 11, (uint64_t)i, &d, &err), MIST_OK);
        CHECKM(strstr(f.transform, "flow") && strstr(f.transform, "negate"), "draw %d: '%s'", i,
               f.transform);
        CHECK(d.transform[0] == '\0');
        snprintf(d.transform, sizeof d.transform, "%s", f.transform);
        CHECKM(same_spec(&f, &d), "draw %d: %s %dx%d n=%zu", i, f.task, f.dx, f.dy, f.n);
        perm += strstr(f.transform, "perm") != NULL;
        mist_task_spec_clear(&f);
        mist_task_spec_clear(&d);
    }
    CHECKM(fabs((double)perm / N - 0.5) < 4 * sqrt(0.25 / N), "perm share %.3f", (double)perm / N);
    const char *pa = NULL, *pb = NULL;
    double share = -1;
    CHECK(mist_metadist_mixture("mixf", &pa, &pb, &share) == 1 && strcmp(pa, "deflow") == 0 &&
          strcmp(pb, "broad2") == 0 && share == 0.5);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("families");
    tu_case(s, "families", 120, test_channel_quadrature, test_channel_mc, test_mixture_mc,
            test_categorical_gauss, test_categorical_softmax, test_categorical_discrete,
            test_high_mi, test_determinism, test_errors, test_negate, test_broad, test_broad2,
            test_mix2, test_deflow, test_new_families_suite, NULL);
    return tu_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
