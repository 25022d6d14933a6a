/* Column canonicalisation (infer/col_canon.c, mist_model_set_col_canon) for the models that
 * read columns by position:
 *   - the plan recovers a known arrangement: hidden pairs x_p(i) ~ y_q(i) of clearly different
 *     strengths, scrambled and with negated columns, come back strongest first, each pair at
 *     one index and positively related, whatever the scrambling;
 *   - end to end through mist_model_estimate with a random split-layout model (and one of the
 *     official packed layout on raw values): every quantile
 *     unchanged (1e-5; the column transforms give the same bits) when the columns within X or
 *     within Y are permuted, columns are negated, X and Y are swapped, or the rows are
 *     permuted; without canonicalisation the column transforms do move the answer (so the
 *     check can fail);
 *   - a batch equals the sets one at a time; the pairs layout ignores the setting;
 *   - the weights' meta "columns" sets the default, strictly. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_train.h"
#include "testutil.h"

static uint64_t rs = 0xC0FFEE1234567ULL;
#define rnext() tu_rnext(&rs)
#define rnorm() tu_rnorm(&rs)

static void shuffle_int(int *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnext() % (uint64_t)(i + 1)), t = v[i];
        v[i] = v[j], v[j] = t;
    }
}

/* Pearson correlation of columns j and k of x [n, d]. */
static double pearson(const double *x, size_t n, size_t d, size_t j, size_t k)
{
    double mj = 0, mk = 0, sjk = 0, sjj = 0, skk = 0;
    for (size_t i = 0; i < n; i++) mj += x[i * d + j], mk += x[i * d + k];
    mj /= (double)n, mk /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double a = x[i * d + j] - mj, b = x[i * d + k] - mk;
        sjk += a * b, sjj += a * a, skk += b * b;
    }
    return sjk / sqrt(sjj * skk);
}

START_TEST(test_plan_recovers_pairs)
{
    /* dx = 5, dy = 4: three hidden pairs (latent weights 3, 1, 0.45: correlations about 0.9,
     * 0.5, 0.17 at n = 4,000), the other columns independent noise */
    const int dx = 5, dy = 4, d = dx + dy;
    const size_t n = 4000;
    const double w[3] = {3.0, 1.0, 0.45};
    for (int rep = 0; rep < 4; rep++) {
        int px[5] = {0, 1, 2, 3, 4}, py[4] = {0, 1, 2, 3}, neg[9];
        shuffle_int(px, dx);
        shuffle_int(py, dy);
        for (int j = 0; j < d; j++) neg[j] = (int)(rnext() & 1);
        double *x = malloc(n * (size_t)d * sizeof *x);
        for (size_t i = 0; i < n; i++) {
            double *r = x + i * (size_t)d;
            for (int j = 0; j < d; j++) r[j] = rnorm();
            for (int p = 0; p < 3; p++) {
                double z = rnorm();
                r[px[p]] += w[p] * z;
                r[dx + py[p]] += w[p] * z;
            }
            for (int j = 0; j < d; j++)
                if (neg[j]) r[j] = -r[j];
        }
        int src[9];
        double sign[9];
        mist_err err;
        ck_assert_msg(col_canon_plan(x, n, dx, dy, src, sign, NULL, &err) == 0, "%s", err.msg);
        for (int p = 0; p < 3; p++) {
            ck_assert_msg(src[p] == px[p], "rep %d: X position %d holds column %d, want %d", rep, p,
                          src[p], px[p]);
            ck_assert_msg(src[dx + p] == dx + py[p], "rep %d: Y position %d holds column %d, want %d",
                          rep, p, src[dx + p], dx + py[p]);
        }
        /* every output column is an input column of its own block, each once */
        int seen[9] = {0};
        for (int c = 0; c < d; c++) {
            ck_assert(c < dx ? src[c] < dx : src[c] >= dx);
            ck_assert(fabs(sign[c]) == 1.0);
            seen[src[c]]++;
        }
        for (int c = 0; c < d; c++) ck_assert_int_eq(seen[c], 1);
        double *o = malloc(n * (size_t)d * sizeof *o);
        col_canon_apply(o, x, n, dx, dy, src, sign, 0);
        for (int p = 0; p < 3; p++) {
            double r = pearson(o, n, (size_t)d, (size_t)p, (size_t)(dx + p));
            ck_assert_msg(r > 0.1, "rep %d: pair %d related by %g after canonicalisation", rep, p, r);
        }
        /* negating any columns of the input gives the same canonical data, bit for bit */
        double *xn = malloc(n * (size_t)d * sizeof *xn), *on = malloc(n * (size_t)d * sizeof *on);
        int flip[9], any = 0;
        while (!any)
            for (int j = 0; j < d; j++) any |= flip[j] = (int)(rnext() & 1);
        for (size_t i = 0; i < n * (size_t)d; i++) xn[i] = flip[i % (size_t)d] ? -x[i] : x[i];
        int src2[9];
        double sign2[9];
        ck_assert(col_canon_plan(xn, n, dx, dy, src2, sign2, NULL, &err) == 0);
        col_canon_apply(on, xn, n, dx, dy, src2, sign2, 0);
        ck_assert_msg(memcmp(o, on, n * (size_t)d * sizeof *o) == 0, "rep %d: negation moved bits",
                      rep);
        /* swapped output: the Y block first, the same values */
        col_canon_apply(on, x, n, dx, dy, src, sign, 1);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < d; c++) {
                int to = c < dx ? c + dy : c - dx;
                ck_assert(on[i * (size_t)d + (size_t)to] == o[i * (size_t)d + (size_t)c]);
            }
        free(x);
        free(o);
        free(xn);
        free(on);
    }
}
END_TEST

static void estimate_map(mist_model *m, const double *x, size_t n, int dx, int dy, int ndx,
                         const size_t *rows, const int *cols, const int *neg, double *q)
{
    size_t c = (size_t)(dx + dy);
    double *y = malloc(n * c * sizeof *y);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++) {
            double v = x[rows[i] * c + (size_t)cols[j]];
            y[i * c + j] = neg[cols[j]] ? -v : v;
        }
    double taus[3] = {0.05, 0.5, 0.95};
    mist_err err;
    ck_assert_msg(mist_model_estimate(m, y, n, ndx, (int)c - ndx, taus, 3, q, &err) == 0, "%s",
                  err.msg);
    free(y);
}

/* Loop 0: split layout; 1: packed (the official design, raw values, dx = dy). */
START_TEST(test_estimate_invariances)
{
    mist_model *m = tu_position_model(23, _i, &rs);
    const int dims[2][3][2] = {{{3, 4}, {1, 3}, {4, 4}}, {{3, 3}, {1, 1}, {4, 4}}};
    const size_t n = 200;
    for (int k = 0; k < 3; k++) {
        int dx = dims[_i][k][0], dy = dims[_i][k][1], d = dx + dy;
        double *x = tu_dependent_rows(n, dx, dy, &rs);
        size_t rows[200];
        int cols[8], neg[8] = {0};
        for (size_t i = 0; i < n; i++) rows[i] = i;
        for (int j = 0; j < d; j++) cols[j] = j;
        double q0[3], q[3], r0[3];
        mist_model_set_col_canon(m, 0);
        estimate_map(m, x, n, dx, dy, dx, rows, cols, neg, r0);
        mist_model_set_col_canon(m, 1);
        ck_assert_int_eq(mist_model_col_canon(m), 1);
        estimate_map(m, x, n, dx, dy, dx, rows, cols, neg, q0);
        int moved = 0;
        for (int what = 0; what < 5; what++) {
            for (size_t i = 0; i < n; i++) rows[i] = i;
            for (int j = 0; j < d; j++) cols[j] = j, neg[j] = 0;
            int ndx = dx;
            if (what == 0) shuffle_int(cols, dx);      /* within X */
            if (what == 1) shuffle_int(cols + dx, dy); /* within Y */
            if (what == 2) {                           /* swap: [Y, X] */
                for (int j = 0; j < dy; j++) cols[j] = dx + j;
                for (int j = 0; j < dx; j++) cols[dy + j] = j;
                ndx = dy;
            }
            if (what == 3) {
                int any = 0;
                while (!any)
                    for (int j = 0; j < d; j++) any |= neg[j] = (int)(rnext() & 1);
            }
            if (what == 4)
                for (size_t i = n - 1; i > 0; i--) {
                    size_t j = (size_t)(rnext() % (i + 1)), t = rows[i];
                    rows[i] = rows[j], rows[j] = t;
                }
            estimate_map(m, x, n, dx, dy, ndx, rows, cols, neg, q);
            for (int t = 0; t < 3; t++)
                ck_assert_msg(fabs(q[t] - q0[t]) <= 1e-5, "%dx%d, transform %d, tau %d: %.9g vs %.9g",
                              dx, dy, what, t, q[t], q0[t]);
            if (what <= 3) { /* the bits too: the same canonical input */
                for (int t = 0; t < 3; t++)
                    ck_assert_msg(q[t] == q0[t], "%dx%d, transform %d: bits differ (%.17g vs %.17g)", dx, dy, what, q[t], q0[t]);
                mist_model_set_col_canon(m, 0);
                double r[3];
                estimate_map(m, x, n, dx, dy, ndx, rows, cols, neg, r);
                moved |= fabs(r[1] - r0[1]) > 1e-4;
                mist_model_set_col_canon(m, 1);
            }
        }
        if (d > 4) /* a model that reads positions does notice some of these without it */
            ck_assert_msg(moved, "%dx%d: no transform moved the plain model", dx, dy);
        free(x);
    }
    mist_model_free(m);
}
END_TEST

START_TEST(test_batch_and_layouts)
{
    mist_model *m = tu_position_model(5, 0, &rs);
    mist_model_set_col_canon(m, 1);
    const int dims[3][2] = {{2, 3}, {4, 1}, {3, 3}};
    const size_t ns[3] = {60, 150, 90};
    double *xs[3];
    mist_data_view v[3];
    double taus[2] = {0.25, 0.75}, one[2], all[6];
    mist_err err;
    for (int k = 0; k < 3; k++) {
        xs[k] = tu_dependent_rows(ns[k], dims[k][0], dims[k][1], &rs);
        v[k] = (mist_data_view){xs[k], ns[k], dims[k][0], dims[k][1]};
    }
    ck_assert_msg(mist_model_estimate_batch(m, v, 3, taus, 2, all, &err) == 0, "%s", err.msg);
    for (int k = 0; k < 3; k++) {
        ck_assert(mist_model_estimate(m, xs[k], ns[k], dims[k][0], dims[k][1], taus, 2, one,
                                      &err) == 0);
        for (int t = 0; t < 2; t++)
            ck_assert_msg(fabs(one[t] - all[k * 2 + t]) <= 1e-5, "set %d: %g vs %g", k, one[t],
                          all[k * 2 + t]);
    }
    mist_model_free(m);
    /* the pairs layout is invariant by construction: the setting changes no bit */
    mist_arch a;
    ck_assert_int_eq(mist_arch_preset("pairs-tiny", &a, &err), 0);
    a.quantile_conditioned = 1;
    mist_model *p = mist_model_create_random(&a, 3, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    double q0[2], q1[2];
    ck_assert(mist_model_estimate(p, xs[2], ns[2], 3, 3, taus, 2, q0, &err) == 0);
    mist_model_set_col_canon(p, 1);
    ck_assert(mist_model_estimate(p, xs[2], ns[2], 3, 3, taus, 2, q1, &err) == 0);
    ck_assert(q0[0] == q1[0] && q0[1] == q1[1]);
    mist_model_free(p);
    for (int k = 0; k < 3; k++) free(xs[k]);
}
END_TEST

/* The weights' meta "columns" sets the default: "canonical" opens with it on (the same answers
 * as setting it by hand), "as_given" off, anything else is refused naming the key. */
START_TEST(test_meta_columns)
{
    mist_model *m = tu_position_model(41, 0, &rs);
    const char *dir = tu_tmpdir("cols");
    char path[512];
    snprintf(path, sizeof path, "%s/m.msgpack", dir);
    size_t n = 120;
    double *x = tu_dependent_rows(n, 3, 2, &rs), taus[3] = {0.05, 0.5, 0.95}, want[3], got[3];
    mist_err err;
    mist_model_set_raw_quantiles(m, 0);
    mist_model_set_col_canon(m, 1);
    ck_assert(mist_model_estimate(m, x, n, 3, 2, taus, 3, want, &err) == 0);
    const char *vals[3] = {"canonical", "as_given", "sideways"};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(mist_model_meta_set_str(m, "columns", vals[k], &err), 0);
        ck_assert_msg(mist_model_save(m, path, &err) == 0, "%s", err.msg);
        mist_model *r = mist_model_open(path, &err);
        if (k == 2) {
            ck_assert_ptr_null(r);
            ck_assert_msg(strstr(err.msg, "\"columns\"") != NULL, "%s", err.msg);
            continue;
        }
        ck_assert_msg(r != NULL, "%s", err.msg);
        ck_assert_int_eq(mist_model_col_canon(r), k == 0);
        if (k == 0) {
            ck_assert(mist_model_estimate(r, x, n, 3, 2, taus, 3, got, &err) == 0);
            for (int t = 0; t < 3; t++) ck_assert(got[t] == want[t]);
        }
        mist_model_free(r);
    }
    free(x);
    mist_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("col_canon");
    TCase *t = tu_case(s, "col_canon", 120, test_plan_recovers_pairs, test_batch_and_layouts,
                       test_meta_columns, NULL);
    tcase_add_loop_test(t, test_estimate_invariances, 0, 2);
    return tu_run(s) ? 1 : 0;
}
