/* MI-preserving transforms: strictly increasing per-coordinate maps and injective vector maps. */
#include "gen_internal.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <string.h>

double gen_phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
double gen_phi_upper(double x) { return 0.5 * erfc(x / sqrt(2.0)); }

static double wiggly_x(double x)
{
    return x + 0.4 * sin(x) + 0.2 * sin(1.7 * x + 1.0) + 0.03 * sin(3.3 * x - 2.5);
}

static double wiggly_y(double y)
{
    return y - 0.4 * sin(0.4 * y) + 0.17 * sin(1.3 * y + 3.5) + 0.02 * sin(4.3 * y - 2.5);
}

/* Two-component mixtures: X: 0.3 N(0,1) + 0.7 N(5,1); Y: 0.5 N(-1,1) + 0.5 N(3,1). */
typedef struct mixture {
    double w1, m1, w2, m2;
    double target; /* the probability to match */
    int upper;     /* match the survival function (for u > 1/2, keeps tail precision) */
} mixture;

static double mixture_gap(double x, void *p)
{
    const mixture *m = p;
    if (m->upper)
        return m->target - (m->w1 * gen_phi_upper(x - m->m1) + m->w2 * gen_phi_upper(x - m->m2));
    return m->w1 * gen_phi(x - m->m1) + m->w2 * gen_phi(x - m->m2) - m->target;
}

/* u = Phi(z), then the mixture's inverse CDF. Solved on the side of the median that keeps
 * full relative precision in the tail (P(Z > z) for z > 0), so the map stays injective far out. */
static double bimodal(double z, int is_y)
{
    mixture m = is_y ? (mixture){0.5, -1.0, 0.5, 3.0, 0, 0} : (mixture){0.3, 0.0, 0.7, 5.0, 0, 0};
    m.upper = z > 0;
    m.target = m.upper ? gen_phi_upper(z) : gen_phi(z);
    gsl_function f = {mixture_gap, &m};
    double lo = -15.0, hi = 15.0;
    /* widen only when the spec's bracket [-15, 15] cannot hold the root */
    while (mixture_gap(lo, &m) > 0.0 && lo > -60.0) lo -= 15.0;
    while (mixture_gap(hi, &m) < 0.0 && hi < 60.0) hi += 15.0;
    double flo = mixture_gap(lo, &m), fhi = mixture_gap(hi, &m);
    if (flo > 0.0) return lo;
    if (fhi < 0.0) return hi;
    if (flo == 0.0) return lo;
    if (fhi == 0.0) return hi;
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!s) return NAN;
    double x = 0.5 * (lo + hi);
    if (gsl_root_fsolver_set(s, &f, lo, hi) == GSL_SUCCESS) {
        for (int it = 0; it < 200; it++) {
            if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS) break;
            x = gsl_root_fsolver_root(s);
            double a = gsl_root_fsolver_x_lower(s), b = gsl_root_fsolver_x_upper(s);
            if (gsl_root_test_interval(a, b, 1e-12, 0.0) == GSL_SUCCESS) break;
        }
    }
    gsl_root_fsolver_free(s);
    return x;
}

double gen_transform_scalar(enum gen_transform tr, double v, int is_y)
{
    switch (tr) {
    case TR_NORMAL_CDF: return gen_phi(v);
    case TR_HALFCUBE: return v * sqrt(fabs(v));
    case TR_ASINH: return asinh(v);
    case TR_WIGGLY: return is_y ? wiggly_y(v) : wiggly_x(v);
    case TR_BIMODAL: return bimodal(v, is_y);
    default: return v;
    }
}

/* v -> R(||v||^2 / dim) v, rotating in the plane (p, p+1). */
static void spiral(double *v, int dim, int p)
{
    if (dim < p + 2) return;
    double r2 = 0.0;
    for (int i = 0; i < dim; i++) r2 += v[i] * v[i];
    double a = r2 / dim, c = cos(a), s = sin(a);
    double x = v[p], y = v[p + 1];
    v[p] = c * x - s * y;
    v[p + 1] = s * x + c * y;
}

int mist_task_transform_row(const mist_task *t, const double *base_row, double *out)
{
    double x[2 + 1024], y[1024];
    int dx = t->dx, dy = t->dy;
    memcpy(x, base_row, (size_t)dx * sizeof *x);
    memcpy(y, base_row + dx, (size_t)dy * sizeof *y);
    for (int k = 0; k < t->ntransforms; k++) {
        enum gen_transform tr = t->transforms[k];
        if (tr == TR_SPIRAL) {
            spiral(x, dx, 0); /* X rotates in the plane (0,1), Y in (1,2) */
            spiral(y, dy, 1);
        } else if (tr == TR_SWISSROLL) {
            double u = 1.5 * GEN_PI * (1.0 + 2.0 * x[0]);
            x[0] = u * cos(u) / 21.0;
            x[1] = u * sin(u) / 21.0;
            dx = 2;
        } else {
            for (int i = 0; i < dx; i++) x[i] = gen_transform_scalar(tr, x[i], 0);
            for (int i = 0; i < dy; i++) y[i] = gen_transform_scalar(tr, y[i], 1);
        }
    }
    memcpy(out, x, (size_t)dx * sizeof *x);
    memcpy(out + dx, y, (size_t)dy * sizeof *y);
    for (int i = 0; i < dx + dy; i++)
        if (!isfinite(out[i])) return MIST_ENUMERIC;
    return MIST_OK;
}
