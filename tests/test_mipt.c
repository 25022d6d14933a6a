/* MI-preserving transforms (gen/mipt.c): the maps against independent references (rotate's
 * matrices orthogonal and Haar, perm a permutation, swap the blocks exchanged, none the
 * identity), flow's inverse and Jacobian on data of every generator family and scale,
 * determinism and seed streams, the metadata record through every file format, and the
 * invariances of the classical estimators that the transforms must respect (and the ones
 * they must break). Every random input is seeded: nothing here can flake. */
#include "testutil.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mist_classical.h"
#include "mist_gen.h"
#include "mist_io.h"

/* Plain assertions (Check logs every passing ck_assert, which is slow in loops). */
#define CHECKM(cond, ...)                                                                         \
    do {                                                                                          \
        if (!(cond)) ck_abort_msg(__VA_ARGS__);                                                   \
    } while (0)
#define CHECK(cond) CHECKM(cond, "%s:%d: assertion '%s' failed", __FILE__, __LINE__, #cond)

/* ---- helpers ------------------------------------------------------------------------------ */

/* A dataset of n rows of a generator task (params "k=v,k=v" or NULL) with its metadata. */
static mist_dataset *task_ds(const char *task, int dx, int dy, const char *params, size_t n,
                             uint64_t seed)
{
    mist_param p[4];
    size_t np = 0;
    memset(p, 0, sizeof p);
    if (params) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", params);
        for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv;
             kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            CHECK(eq && np < 4);
            *eq = '\0';
            snprintf(p[np].name, sizeof p[np].name, "%s", kv);
            p[np++].value = strtod(eq + 1, NULL);
        }
    }
    mist_task *t = NULL;
    mist_err err = {0};
    int rc = mist_task_create(&t, task, dx, dy, np ? p : NULL, np, seed, &err);
    CHECKM(rc == MIST_OK, "task %s: %s", task, err.msg);
    mist_dataset *ds = mist_dataset_alloc(n, mist_task_out_dx(t), mist_task_out_dy(t), &err);
    CHECKM(ds != NULL, "alloc: %s", err.msg);
    rc = mist_task_sample(t, n, seed, ds->data, &err);
    CHECKM(rc == MIST_OK, "sample %s: %s", task, err.msg);
    snprintf(ds->meta.task, sizeof ds->meta.task, "%s", mist_task_name(t));
    snprintf(ds->meta.generator_version, sizeof ds->meta.generator_version, "%s",
             MIST_GEN_VERSION);
    ds->meta.seed = seed;
    ds->meta.has_seed = 1;
    ds->meta.mi = mist_task_mi(t);
    mist_task_free(t);
    return ds;
}

static size_t cols_of(const mist_dataset *ds) { return (size_t)ds->dx + (size_t)ds->dy; }

static mist_dataset *ds_clone(const mist_dataset *ds)
{
    mist_err err = {0};
    mist_dataset *c = mist_dataset_alloc(ds->n, ds->dx, ds->dy, &err);
    CHECKM(c != NULL, "alloc: %s", err.msg);
    memcpy(c->data, ds->data, ds->n * cols_of(ds) * sizeof *c->data);
    CHECK(mist_meta_copy(&c->meta, &ds->meta, &err) == MIST_OK);
    return c;
}

static int same_data(const mist_dataset *a, const mist_dataset *b)
{
    return a->n == b->n && a->dx == b->dx && a->dy == b->dy &&
           memcmp(a->data, b->data, a->n * cols_of(a) * sizeof *a->data) == 0;
}

static mist_mipt *make(const char *name, int dx, int dy, uint64_t seed)
{
    mist_mipt *m = NULL;
    mist_err err = {0};
    int rc = mist_mipt_create(&m, name, dx, dy, seed, &err);
    CHECKM(rc == MIST_OK, "create %s %dx%d: %s", name, dx, dy, err.msg);
    return m;
}

static void apply_ok(mist_dataset *ds, const char *name, uint64_t seed)
{
    mist_err err = {0};
    int rc = mist_mipt_apply(ds, name, seed, &err);
    CHECKM(rc == MIST_OK, "apply %s: %s", name, err.msg);
}

static double ksg(int alg, const mist_dataset *ds)
{
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.noise = 0.0;
    o.zscore = 1;
    double mi;
    mist_err err = {0};
    int rc = mist_ksg(alg, ds->data, ds->n, ds->dx, ds->dy, &o, &mi, &err);
    CHECKM(rc == MIST_OK, "ksg%d: %s", alg, err.msg);
    return mi;
}

static double gaussian(const mist_dataset *ds, int copula)
{
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.copula = copula;
    mist_est_result r;
    mist_err err = {0};
    int rc = mist_estimate_classical("gaussian", ds->data, ds->n, ds->dx, ds->dy, &o, &r, &err);
    CHECKM(rc == MIST_OK, "gaussian: %s", err.msg);
    return r.estimate;
}

/* ---- names and chains --------------------------------------------------------------------- */

START_TEST(test_names)
{
    size_t count;
    const char *const *names = mist_mipt_names(&count);
    const char *want[] = {"none", "perm", "rotate", "swap", "flow", "negate"};
    ck_assert_uint_eq(count, 6);
    for (size_t i = 0; i < count; i++) {
        ck_assert_str_eq(names[i], want[i]);
        ck_assert(mist_mipt_known(want[i]));
    }
    ck_assert(!mist_mipt_known("rot"));
    ck_assert(!mist_mipt_known("perm+swap")); /* a chain, not a name */
    ck_assert(!mist_mipt_known(""));
    ck_assert(!mist_mipt_known(NULL));
    mist_err err = {0};
    ck_assert_int_eq(mist_mipt_check("rotate+swap+flow", &err), MIST_OK);
    ck_assert_int_eq(mist_mipt_check("perm+", &err), MIST_EINVAL);
    ck_assert_int_eq(mist_mipt_check("", &err), MIST_EINVAL);
    ck_assert_int_eq(mist_mipt_check("perm+spin", &err), MIST_EINVAL);
    ck_assert_msg(strstr(err.msg, "'spin'") != NULL, "message: %s", err.msg);
    ck_assert_int_eq(mist_mipt_check("perm+perm+perm+perm+perm+perm+perm+perm+perm", &err),
                     MIST_EINVAL);
    mist_mipt *m = NULL;
    ck_assert_int_eq(mist_mipt_create(&m, "rotate", 0, 2, 1, &err), MIST_EINVAL);
    ck_assert_ptr_null(m);
    m = make("none+rotate+none+swap", 2, 3, 1);
    ck_assert_str_eq(mist_mipt_chain(m), "rotate+swap");
    ck_assert_int_eq(mist_mipt_out_dx(m), 3);
    ck_assert_int_eq(mist_mipt_out_dy(m), 2);
    ck_assert_ptr_null(mist_mipt_matrix(m, 0, 0)); /* introspection is for one-step maps */
    mist_mipt_free(m);
}
END_TEST

/* ---- rotate ------------------------------------------------------------------------------- */

/* max |Q^T Q - I| */
static double orth_error(const double *Q, int d)
{
    double worst = 0.0;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0.0;
            for (int k = 0; k < d; k++) s += Q[k * d + i] * Q[k * d + j];
            worst = fmax(worst, fabs(s - (i == j)));
        }
    return worst;
}

START_TEST(test_rotate_orthogonal)
{
    int dims[][2] = {{1, 1}, {3, 5}, {8, 2}, {32, 32}};
    for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
        int dx = dims[c][0], dy = dims[c][1];
        mist_mipt *m = make("rotate", dx, dy, 100 + c);
        for (int b = 0; b < 2; b++) {
            const double *Q = mist_mipt_matrix(m, b, 0);
            CHECK(Q != NULL);
            double e = orth_error(Q, b ? dy : dx);
            CHECKM(e < 1e-12, "rotate %dx%d block %d: |Q^T Q - I| = %g", dx, dy, b, e);
        }
        ck_assert_ptr_null(mist_mipt_matrix(m, 0, 1));
        ck_assert_ptr_null(mist_mipt_perm(m, 0));
        /* the map is the matrix: out = Q x per block, checked on a few rows */
        size_t d = (size_t)dx + dy;
        double in[3 * 64], out[3 * 64];
        for (size_t i = 0; i < 3 * d; i++) in[i] = sin(1.0 + 0.7 * i) * (1 + i % 5);
        mist_err err = {0};
        ck_assert_int_eq(mist_mipt_forward(m, in, 3, out, &err), MIST_OK);
        for (int r = 0; r < 3; r++)
            for (int b = 0; b < 2; b++) {
                int bd = b ? dy : dx, off = b ? dx : 0;
                const double *Q = mist_mipt_matrix(m, b, 0);
                for (int i = 0; i < bd; i++) {
                    double s = 0.0;
                    for (int k = 0; k < bd; k++) s += Q[i * bd + k] * in[r * d + off + k];
                    CHECKM(fabs(out[r * d + off + i] - s) <= 1e-12 * (1 + fabs(s)),
                           "rotate output row %d col %d", r, off + i);
                }
            }
        double logdet = 1.0;
        ck_assert_int_eq(mist_mipt_log_jacobian(m, in, &logdet, &err), MIST_OK);
        ck_assert(logdet == 0.0);
        mist_mipt_free(m);
    }
}
END_TEST

/* Haar on O(3): the first column is uniform on the sphere, so E[Q11] = 0 and E[Q11^2] = 1/3.
 * Householder QR without the sign fix has Q11 = -|a11|/|a1| < 0 always. On O(1): both signs. */
START_TEST(test_rotate_haar)
{
    const int S = 4000;
    double m1 = 0.0, m2 = 0.0;
    int plus = 0;
    for (int s = 0; s < S; s++) {
        mist_mipt *m = make("rotate", 3, 1, (uint64_t)s);
        double q = mist_mipt_matrix(m, 0, 0)[0], y = mist_mipt_matrix(m, 1, 0)[0];
        CHECKM(y == 1.0 || y == -1.0, "1x1 rotation is %g", y);
        plus += y > 0;
        m1 += q;
        m2 += q * q;
        mist_mipt_free(m);
    }
    m1 /= S;
    m2 /= S;
    /* sd(Q11) = 1/sqrt(3); sd(Q11^2) = sqrt(4/45) (Q11^2 ~ Beta(1/2, 1)); 4 standard errors */
    CHECKM(fabs(m1) < 4 * sqrt(1.0 / 3 / S), "E[Q11] = %g", m1);
    CHECKM(fabs(m2 - 1.0 / 3) < 4 * sqrt(4.0 / 45 / S), "E[Q11^2] = %g", m2);
    CHECKM(abs(2 * plus - S) < 4 * (int)sqrt((double)S), "%d of %d signs positive", plus, S);
}
END_TEST

/* ---- perm, swap, none --------------------------------------------------------------------- */

START_TEST(test_perm)
{
    mist_dataset *ds = task_ds("normal-dense-base", 5, 4, "c=0.3", 50, 3);
    int distinct = 0;
    int first[5];
    for (uint64_t seed = 0; seed < 20; seed++) {
        mist_mipt *m = make("perm", 5, 4, seed);
        for (int b = 0; b < 2; b++) {
            int d = b ? 4 : 5, seen[5] = {0};
            const int *p = mist_mipt_perm(m, b);
            CHECK(p != NULL);
            for (int j = 0; j < d; j++) {
                CHECK(p[j] >= 0 && p[j] < d && !seen[p[j]]);
                seen[p[j]] = 1;
            }
        }
        const int *px = mist_mipt_perm(m, 0), *py = mist_mipt_perm(m, 1);
        if (seed == 0) memcpy(first, px, sizeof first);
        else distinct += memcmp(first, px, sizeof first) != 0;
        mist_dataset *t = ds_clone(ds);
        apply_ok(t, "perm", seed);
        ck_assert_str_eq(t->meta.transform, "perm");
        ck_assert(t->meta.transform_seed == seed);
        for (size_t i = 0; i < ds->n; i++) {
            for (int j = 0; j < 5; j++) CHECK(t->data[i * 9 + j] == ds->data[i * 9 + px[j]]);
            for (int j = 0; j < 4; j++)
                CHECK(t->data[i * 9 + 5 + j] == ds->data[i * 9 + 5 + py[j]]);
        }
        mist_dataset_free(t);
        mist_mipt_free(m);
    }
    CHECKM(distinct >= 15, "only %d of 19 seeds gave another permutation", distinct);
    /* a single column has only the identity */
    mist_mipt *m = make("perm", 1, 1, 9);
    ck_assert_int_eq(mist_mipt_perm(m, 0)[0], 0);
    mist_mipt_free(m);
    mist_dataset_free(ds);
}
END_TEST

START_TEST(test_swap_none)
{
    mist_dataset *ds = task_ds("normal-dense-base", 2, 3, "c=0.3", 40, 5);
    mist_dataset *t = ds_clone(ds);
    apply_ok(t, "swap", 77);
    ck_assert_int_eq(t->dx, 3);
    ck_assert_int_eq(t->dy, 2);
    ck_assert(t->meta.mi == ds->meta.mi);
    for (size_t i = 0; i < ds->n; i++) {
        for (int j = 0; j < 3; j++) CHECK(t->data[i * 5 + j] == ds->data[i * 5 + 2 + j]);
        for (int j = 0; j < 2; j++) CHECK(t->data[i * 5 + 3 + j] == ds->data[i * 5 + j]);
    }
    /* swap twice is the identity (and records both steps) */
    apply_ok(t, "swap", 77);
    ck_assert(same_data(t, ds));
    ck_assert_str_eq(t->meta.transform, "swap+swap");
    mist_dataset_free(t);

    /* none changes nothing and records nothing */
    t = ds_clone(ds);
    apply_ok(t, "none", 5);
    ck_assert(same_data(t, ds));
    ck_assert_str_eq(t->meta.transform, "");
    mist_mipt *m = make("none", 2, 3, 5);
    double out[5 * 40];
    mist_err err = {0};
    ck_assert_int_eq(mist_mipt_forward(m, ds->data, 40, out, &err), MIST_OK);
    ck_assert(memcmp(out, ds->data, sizeof out) == 0);
    mist_mipt_free(m);
    mist_dataset_free(t);
    mist_dataset_free(ds);
}
END_TEST

/* ---- determinism, seeds, chains ----------------------------------------------------------- */

START_TEST(test_determinism)
{
    const char *names[] = {"perm", "rotate", "swap", "flow", "rotate+swap+flow"};
    mist_dataset *ds = task_ds("student-dense-base", 4, 3, "nu=3,c=0.2", 60, 11);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        mist_dataset *a = ds_clone(ds), *b = ds_clone(ds), *c = ds_clone(ds);
        apply_ok(a, names[k], 1234);
        apply_ok(b, names[k], 1234);
        apply_ok(c, names[k], 1235);
        CHECKM(same_data(a, b), "%s: same seed, different data", names[k]);
        if (strcmp(names[k], "swap") != 0)
            CHECKM(!same_data(a, c), "%s: different seeds, same data", names[k]);
        /* apply is create + forward with the given seed */
        mist_mipt *m = make(names[k], 4, 3, 1234);
        double *out = malloc(ds->n * 7 * sizeof *out);
        mist_err err = {0};
        ck_assert_int_eq(mist_mipt_forward(m, ds->data, ds->n, out, &err), MIST_OK);
        CHECKM(memcmp(out, a->data, ds->n * 7 * sizeof *out) == 0, "%s: apply != forward",
               names[k]);
        free(out);
        mist_mipt_free(m);
        mist_dataset_free(a);
        mist_dataset_free(b);
        mist_dataset_free(c);
    }
    /* applying steps one by one with one seed is the chain applied at once */
    mist_dataset *a = ds_clone(ds), *b = ds_clone(ds);
    apply_ok(a, "rotate+swap+rotate", 9);
    apply_ok(b, "rotate", 9);
    apply_ok(b, "none+swap", 9);
    apply_ok(b, "rotate", 9);
    ck_assert(same_data(a, b));
    ck_assert_str_eq(b->meta.transform, "rotate+swap+rotate");
    /* a second rotate of the chain is a fresh draw, not the first one again */
    mist_dataset *r2 = ds_clone(ds);
    apply_ok(r2, "rotate+rotate", 9);
    mist_mipt *m1 = make("rotate", 4, 3, 9), *m2 = make("rotate+rotate", 4, 3, 9);
    double x[7] = {1, 2, 3, 4, 5, 6, 7}, y1[7], y2[7], y3[7];
    mist_err err = {0};
    mist_mipt_forward(m1, x, 1, y1, &err);
    mist_mipt_forward(m1, y1, 1, y2, &err);
    mist_mipt_forward(m2, x, 1, y3, &err);
    ck_assert(memcmp(y2, y3, sizeof y2) != 0);
    mist_mipt_free(m1);
    mist_mipt_free(m2);
    /* another seed on a transformed dataset is refused, and leaves it untouched */
    mist_dataset *keep = ds_clone(b);
    ck_assert_int_eq(mist_mipt_apply(b, "perm", 10, &err), MIST_EINVAL);
    ck_assert(same_data(b, keep));
    ck_assert_int_eq(mist_mipt_apply(b, "perm+bogus", 9, &err), MIST_EINVAL);
    ck_assert(same_data(b, keep));
    ck_assert_str_eq(b->meta.transform, "rotate+swap+rotate");
    mist_dataset_free(keep);
    mist_dataset_free(r2);
    mist_dataset_free(a);
    mist_dataset_free(b);
    mist_dataset_free(ds);
}
END_TEST

/* The X map does not depend on dy, nor the Y map on dx; perm, rotate and flow draw from
 * different streams of one seed; the dataset's transform seed is a derived stream. */
START_TEST(test_streams)
{
    mist_mipt *a = make("rotate", 3, 2, 5), *b = make("rotate", 3, 6, 5),
              *c = make("rotate", 7, 2, 5), *f = make("flow", 3, 2, 5);
    ck_assert(memcmp(mist_mipt_matrix(a, 0, 0), mist_mipt_matrix(b, 0, 0), 9 * 8) == 0);
    ck_assert(memcmp(mist_mipt_matrix(a, 1, 0), mist_mipt_matrix(c, 1, 0), 4 * 8) == 0);
    ck_assert(memcmp(mist_mipt_matrix(a, 0, 0), mist_mipt_matrix(f, 0, 0), 9 * 8) != 0);
    ck_assert(memcmp(mist_mipt_matrix(a, 0, 0), mist_mipt_matrix(a, 1, 0), 4 * 8) != 0);
    mist_mipt_free(a);
    mist_mipt_free(b);
    mist_mipt_free(c);
    mist_mipt_free(f);
    ck_assert(mist_mipt_seed(1) != mist_mipt_seed(2));
    ck_assert(mist_mipt_seed(1) == mist_mipt_seed(1));
    ck_assert(mist_mipt_seed(7) != mist_seed_derive(7, 2)); /* not the sample stream */
    ck_assert(mist_mipt_seed(7) != mist_seed_derive(7, 1)); /* nor the parameter stream */
}
END_TEST

/* ---- flow --------------------------------------------------------------------------------- */

typedef struct family {
    const char *task;
    int dx, dy;
    const char *params;
    double scale; /* the data multiplied by this before the flow */
} family;

static const family FAMILIES[] = {
    {"normal-dense-base", 3, 3, "c=0.5", 1.0},
    {"normal-sparse-wiggly", 4, 2, NULL, 1.0},
    {"normal-lvm-halfcube", 3, 4, NULL, 1.0},
    {"normal-2pair-bimodal", 2, 3, NULL, 1.0},
    {"normal-dense-normal_cdf", 2, 2, "c=0.4", 1.0},
    {"normal-dense-normal_cdf+spiral", 3, 3, NULL, 1.0},
    {"normal-dense-normal_cdf+swissroll", 1, 2, NULL, 1.0},
    {"student-dense-base", 3, 2, "nu=1,c=0.3", 1.0},
    {"student-identity-asinh", 2, 2, "nu=1", 1.0},
    {"student-sparse-base", 5, 5, "nu=1", 1.0},
    {"additive-base", 2, 2, NULL, 1.0},
    {"additive-halfcube", 1, 1, NULL, 1.0},
    {"normal-dense-base", 2, 2, "c=0.5", 1e-6},
    {"normal-dense-base", 2, 2, "c=0.5", 1e9},
    {"student-dense-base", 2, 2, "nu=1,c=0.5", 1e12},
};

/* |inv(fwd(x)) - x| per block, relative to the block's largest |x| (floor 1): orthogonal
 * mixing spreads one rounding of the largest coordinate over all of them, and the bounded
 * tanh offsets (|a| <= 5) set an absolute floor of a few ulps of 1. Measured: ~4e-15; the
 * bound is 1e-12, far below the 1e-9 asked of it. */
START_TEST(test_flow_inverse)
{
    const size_t n = 2000;
    for (size_t f = 0; f < sizeof FAMILIES / sizeof FAMILIES[0]; f++) {
        const family *fa = &FAMILIES[f];
        mist_dataset *ds = task_ds(fa->task, fa->dx, fa->dy, fa->params, n, 40 + f);
        size_t d = cols_of(ds);
        for (size_t i = 0; i < n * d; i++) ds->data[i] *= fa->scale;
        mist_mipt *m = make("flow", ds->dx, ds->dy, 500 + f);
        double *y = malloc(n * d * sizeof *y), *back = malloc(n * d * sizeof *back);
        double *fwd2 = malloc(n * d * sizeof *fwd2);
        mist_err err = {0};
        ck_assert_int_eq(mist_mipt_forward(m, ds->data, n, y, &err), MIST_OK);
        ck_assert_int_eq(mist_mipt_inverse(m, y, n, back, &err), MIST_OK);
        ck_assert_int_eq(mist_mipt_forward(m, back, n, fwd2, &err), MIST_OK);
        double worst = 0.0, worst_y = 0.0, changed = 0.0;
        for (size_t i = 0; i < n; i++) {
            for (int b = 0; b < 2; b++) {
                size_t off = i * d + (b ? (size_t)ds->dx : 0), bd = b ? ds->dy : ds->dx;
                double sx = 1.0, sy = 1.0;
                for (size_t j = 0; j < bd; j++) {
                    sx = fmax(sx, fabs(ds->data[off + j]));
                    sy = fmax(sy, fabs(y[off + j]));
                }
                for (size_t j = 0; j < bd; j++) {
                    CHECKM(isfinite(y[off + j]), "%s: non-finite output", fa->task);
                    worst = fmax(worst, fabs(back[off + j] - ds->data[off + j]) / sx);
                    worst_y = fmax(worst_y, fabs(fwd2[off + j] - y[off + j]) / sy);
                    changed = fmax(changed, fabs(y[off + j] - ds->data[off + j]) / sx);
                }
            }
        }
        CHECKM(worst < 1e-12, "%s x %g: inverse(forward(x)) off by %g (relative)", fa->task,
               fa->scale, worst);
        CHECKM(worst_y < 1e-12, "%s x %g: forward(inverse(y)) off by %g (relative)", fa->task,
               fa->scale, worst_y);
        CHECKM(changed > 1e-3, "%s: flow left the data unchanged", fa->task);
        free(y);
        free(back);
        free(fwd2);
        mist_mipt_free(m);
        mist_dataset_free(ds);
    }
}
END_TEST

/* Finite-difference Jacobian determinant at sample rows: never 0, and equal to the analytic
 * exp(log |det J|) (orthogonal factors contribute +-1). */
START_TEST(test_flow_jacobian)
{
    int dims[][2] = {{1, 1}, {2, 3}, {4, 4}};
    for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
        int dx = dims[c][0], dy = dims[c][1], d = dx + dy;
        mist_dataset *ds = task_ds("normal-dense-base", dx, dy, "c=0.3", 30, 70 + c);
        mist_mipt *m = make("flow", dx, dy, 80 + c);
        gsl_matrix *J = gsl_matrix_alloc((size_t)d, (size_t)d);
        gsl_permutation *perm = gsl_permutation_alloc((size_t)d);
        double xp[8], xm[8], yp[8], ym[8];
        mist_err err = {0};
        for (size_t r = 0; r < ds->n; r++) {
            const double *x = ds->data + r * (size_t)d;
            for (int j = 0; j < d; j++) {
                double h = 1e-5 * fmax(1.0, fabs(x[j]));
                memcpy(xp, x, (size_t)d * sizeof *x);
                memcpy(xm, x, (size_t)d * sizeof *x);
                xp[j] += h;
                xm[j] -= h;
                mist_mipt_forward(m, xp, 1, yp, &err);
                mist_mipt_forward(m, xm, 1, ym, &err);
                for (int i = 0; i < d; i++) gsl_matrix_set(J, i, j, (yp[i] - ym[i]) / (2 * h));
            }
            int sgn;
            gsl_linalg_LU_decomp(J, perm, &sgn);
            double det = fabs(gsl_linalg_LU_det(J, sgn)), logdet;
            ck_assert_int_eq(mist_mipt_log_jacobian(m, x, &logdet, &err), MIST_OK);
            /* each layer's slope is in [0.3, 3.5]: |det J| in [0.3, 3.5]^(3d) */
            CHECKM(det > pow(0.3, 3 * d) * 0.99 && det < pow(3.5, 3 * d) * 1.01,
                   "%dx%d row %zu: |det J| = %g", dx, dy, r, det);
            CHECKM(fabs(det - exp(logdet)) < 1e-6 * exp(logdet),
                   "%dx%d row %zu: finite differences %g, analytic %g", dx, dy, r, det,
                   exp(logdet));
        }
        gsl_matrix_free(J);
        gsl_permutation_free(perm);
        mist_mipt_free(m);
        mist_dataset_free(ds);
    }
}
END_TEST

/* ---- estimator invariances ---------------------------------------------------------------- */

START_TEST(test_gaussian_invariance)
{
    mist_dataset *ds = task_ds("normal-lvm-base", 3, 4, NULL, 2000, 21);
    double base;
    mist_err err = {0};
    ck_assert_int_eq(mist_gaussian_mi(ds->data, ds->n, 3, 4, &base, &err), MIST_OK);
    ck_assert(base > 0.05);
    const char *names[] = {"rotate", "perm", "rotate+perm+rotate"};
    for (size_t k = 0; k < 3; k++) {
        mist_dataset *t = ds_clone(ds);
        apply_ok(t, names[k], 31 + k);
        double mi;
        ck_assert_int_eq(mist_gaussian_mi(t->data, t->n, t->dx, t->dy, &mi, &err), MIST_OK);
        CHECKM(fabs(mi - base) < 1e-9, "gaussian under %s: %.17g vs %.17g", names[k], mi, base);
        mist_dataset_free(t);
    }
    mist_dataset_free(ds);
}
END_TEST

START_TEST(test_rank_invariance)
{
    /* continuous data, no ties: KSG and copula-gaussian see only ranks and max-norm neighbours,
     * which perm and swap keep exactly */
    mist_dataset *ds = task_ds("normal-sparse-asinh", 3, 2, "K=2,strength=1.5", 800, 61);
    double k1 = ksg(1, ds), k2 = ksg(2, ds), gc = gaussian(ds, 1);
    ck_assert(k1 > 0.1 && k2 > 0.1 && gc > 0.1);
    const char *names[] = {"perm", "swap", "perm+swap"};
    for (size_t k = 0; k < 3; k++) {
        mist_dataset *t = ds_clone(ds);
        apply_ok(t, names[k], 5 + k);
        CHECKM(fabs(ksg(1, t) - k1) < 1e-12, "ksg1 under %s: %.17g vs %.17g", names[k],
               ksg(1, t), k1);
        CHECKM(fabs(ksg(2, t) - k2) < 1e-12, "ksg2 under %s: %.17g vs %.17g", names[k],
               ksg(2, t), k2);
        CHECKM(fabs(gaussian(t, 1) - gc) < 1e-12, "copula gaussian under %s: %.17g vs %.17g",
               names[k], gaussian(t, 1), gc);
        mist_dataset_free(t);
    }
    /* rotate and flow are not invariances of KSG: the test above could fail */
    const char *breaking[] = {"rotate", "flow"};
    for (size_t k = 0; k < 2; k++) {
        mist_dataset *t = ds_clone(ds);
        apply_ok(t, breaking[k], 5);
        double d1 = fabs(ksg(1, t) - k1), d2 = fabs(ksg(2, t) - k2);
        CHECKM(d1 > 1e-3 && d2 > 1e-3, "%s barely changed KSG: %g, %g", breaking[k], d1, d2);
        mist_dataset_free(t);
    }
    mist_dataset_free(ds);
}
END_TEST

/* ---- metadata through the file formats ---------------------------------------------------- */

static const unsigned char *find(const unsigned char *buf, size_t len, const char *what)
{
    size_t l = strlen(what);
    for (size_t i = 0; i + l <= len; i++)
        if (memcmp(buf + i, what, l) == 0) return buf + i;
    return NULL;
}

static void replace_once(unsigned char *buf, size_t len, const char *from, const char *to)
{
    unsigned char *at = (unsigned char *)find(buf, len, from);
    ck_assert_msg(at != NULL, "'%s' not found", from);
    memcpy(at, to, strlen(from));
}

START_TEST(test_files)
{
    const char *dir = tu_tmpdir("mipt");
    ck_assert_ptr_nonnull(dir);
    char base_dir[512];
    snprintf(base_dir, sizeof base_dir, "%s", dir);
    mist_dataset *ds = task_ds("normal-dense-base", 2, 3, "c=0.3", 20, 8);
    const char *exts[] = {"npy", "csv", "msgpack"};
    char path[600], side[600];
    mist_err err = {0};
    for (int e = 0; e < 3; e++) {
        /* untransformed: no transform keys at all */
        snprintf(path, sizeof path, "%s/plain.%s", base_dir, exts[e]);
        ck_assert_int_eq(mist_dataset_write(ds, path, MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                         MIST_OK);
        snprintf(side, sizeof side, "%s/plain.%s%s", base_dir, exts[e], e == 2 ? "" : ".json");
        size_t len;
        unsigned char *buf = tu_slurp(side, &len);
        ck_assert_ptr_nonnull(buf);
        ck_assert(find(buf, len, "transform") == NULL);
        free(buf);
        mist_dataset *back = NULL;
        ck_assert_int_eq(mist_dataset_read(&back, path, MIST_FMT_AUTO, 0, &err), MIST_OK);
        ck_assert_str_eq(back->meta.transform, "");
        mist_dataset_free(back);

        /* transformed: chain and seed round-trip, mi is the untransformed task's */
        mist_dataset *t = ds_clone(ds);
        apply_ok(t, "rotate+swap", 18446744073709551557ULL);
        snprintf(path, sizeof path, "%s/t.%s", base_dir, exts[e]);
        ck_assert_int_eq(mist_dataset_write(t, path, MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                         MIST_OK);
        ck_assert_int_eq(mist_dataset_read(&back, path, MIST_FMT_AUTO, 0, &err), MIST_OK);
        ck_assert_str_eq(back->meta.transform, "rotate+swap");
        ck_assert(back->meta.transform_seed == 18446744073709551557ULL);
        ck_assert(back->meta.mi == ds->meta.mi);
        ck_assert_int_eq(back->dx, 3);
        ck_assert_int_eq(back->dy, 2);
        ck_assert(same_data(back, t));
        mist_dataset *cp = ds_clone(back); /* mist_meta_copy carries the record */
        ck_assert_str_eq(cp->meta.transform, "rotate+swap");
        ck_assert(cp->meta.transform_seed == back->meta.transform_seed);
        mist_meta_clear(&cp->meta);
        ck_assert_str_eq(cp->meta.transform, "");
        ck_assert(cp->meta.transform_seed == 0);
        mist_dataset_free(cp);
        mist_dataset_free(back);
        mist_dataset_free(t);

        /* a transform without its seed (the key renamed to an unknown one) is rejected */
        snprintf(side, sizeof side, "%s/t.%s%s", base_dir, exts[e], e == 2 ? "" : ".json");
        buf = tu_slurp(side, &len);
        ck_assert_ptr_nonnull(buf);
        replace_once(buf, len, "transform_seed", "transform_sead");
        tu_write(side, buf, len);
        ck_assert_int_eq(mist_dataset_read(&back, path, MIST_FMT_AUTO, 0, &err), MIST_EFORMAT);
        ck_assert_msg(strstr(err.msg, "transform") != NULL, "message: %s", err.msg);
        if (e != 2) { /* and so is an empty chain: "rotate+swap" -> "" and blanks */
            replace_once(buf, len, "transform_sead", "transform_seed");
            replace_once(buf, len, "\"rotate+swap\"", "\"\"           ");
            tu_write(side, buf, len);
            ck_assert_int_eq(mist_dataset_read(&back, path, MIST_FMT_AUTO, 0, &err),
                             MIST_EFORMAT);
            ck_assert_msg(strstr(err.msg, "\"transform\"") != NULL, "message: %s", err.msg);
        }
        free(buf);
    }
    mist_dataset_free(ds);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base_dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mipt");
    tu_case(s, "mipt", 120, test_names, test_rotate_orthogonal, test_rotate_haar, test_perm,
            test_swap_none, test_determinism, test_streams, test_flow_inverse, test_flow_jacobian,
            test_gaussian_invariance, test_rank_invariance, test_files, NULL);
    return tu_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
