/* The rules mist estimate applies before an estimator runs, shared with the bench and Python:
 * mist_constant_sides (a constant side: I = 0 exactly) and mist_model_check_rows (too few rows
 * or a constant column: the model refuses). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mist_core.h"
#include "mist_infer.h"
#include "testutil.h"

static uint64_t g_rng = 0xde9e0001;

/* n rows of dx+dy N(0,1) values; the columns listed in zero[] (-1 ends) set to c */
static double *rows_with(size_t n, int dx, int dy, const int *zero, double c)
{
    size_t cols = (size_t)(dx + dy);
    double *d = malloc(n * cols * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n * cols; i++) d[i] = tu_rnorm(&g_rng);
    for (; *zero >= 0; zero++)
        for (size_t i = 0; i < n; i++) d[i * cols + (size_t)*zero] = c;
    return d;
}

START_TEST(test_constant_sides)
{
    struct {
        int dx, dy, zero[5], want, first;
    } cases[] = {
        {1, 1, {-1}, 0, -1},
        {1, 1, {0, -1}, MIST_CONSTANT_X, 0},
        {1, 1, {1, -1}, MIST_CONSTANT_Y, 1},
        {1, 1, {0, 1, -1}, MIST_CONSTANT_X | MIST_CONSTANT_Y, 0},
        {2, 1, {1, -1}, 0, 1},                 /* one X column of two */
        {2, 1, {0, 1, -1}, MIST_CONSTANT_X, 0},
        {2, 3, {3, 4, 2, -1}, MIST_CONSTANT_Y, 2},
        {2, 3, {4, -1}, 0, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        double *d = rows_with(30, cases[c].dx, cases[c].dy, cases[c].zero, 2.5);
        int first = 7;
        ck_assert_int_eq(mist_constant_sides(d, 30, cases[c].dx, cases[c].dy, &first),
                         cases[c].want);
        ck_assert_int_eq(first, cases[c].first);
        ck_assert_int_eq(mist_constant_sides(d, 30, cases[c].dx, cases[c].dy, NULL),
                         cases[c].want);
        free(d);
    }
    /* -0 and +0 are one value; a single differing value anywhere makes a column vary */
    int zx[] = {0, -1};
    double *d = rows_with(40, 1, 1, zx, 0.0);
    for (size_t i = 0; i < 40; i += 3) d[2 * i] = -0.0;
    ck_assert_int_eq(mist_constant_sides(d, 40, 1, 1, NULL), MIST_CONSTANT_X);
    d[2 * 39] = 1e-300;
    int first;
    ck_assert_int_eq(mist_constant_sides(d, 40, 1, 1, &first), 0);
    ck_assert_int_eq(first, -1);
    /* one row: every column is constant; no rows or no data: nothing is */
    ck_assert_int_eq(mist_constant_sides(d, 1, 1, 1, NULL), MIST_CONSTANT_X | MIST_CONSTANT_Y);
    ck_assert_int_eq(mist_constant_sides(d, 0, 1, 1, &first), 0);
    ck_assert_int_eq(first, -1);
    ck_assert_int_eq(mist_constant_sides(NULL, 40, 1, 1, &first), 0);
    free(d);
}
END_TEST

/* The interval behind a constant side: the unseen probability q is where missing a value in n
 * draws has probability (1 - ci) / 2, and the upper end is the entropy of a binary variable with
 * that q, the most MI one unseen value can carry (I <= H(X), reached by Y = X). */
START_TEST(test_constant_side_interval)
{
    const size_t ns[] = {1, 10, 100, 1000, 100000};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
        size_t n = ns[k];
        for (double ci = 0.5; ci < 0.999; ci += 0.2) {
            double q = mist_constant_side_unseen(n, ci);
            ck_assert_msg(fabs(pow(1 - q, (double)n) - (1 - ci) / 2) < 1e-12, "n %zu ci %g", n, ci);
            double qc = q > 0.5 ? 0.5 : q, h = -qc * log(qc) - (1 - qc) * log(1 - qc);
            ck_assert_double_eq_tol(mist_constant_side_upper(n, ci), h, 1e-13);
        }
    }
    /* about 3/n at ci 0.9 (the rule of three), 0.133 nats at n = 100 */
    ck_assert_double_eq_tol(mist_constant_side_unseen(100, 0.9), 0.0295, 2e-4);
    ck_assert_double_eq_tol(mist_constant_side_upper(100, 0.9), 0.1330, 5e-4);
    ck_assert(isnan(mist_constant_side_upper(0, 0.9)) && isnan(mist_constant_side_upper(5, 1.0)));
    /* Monte Carlo: X ~ Bernoulli(q) at the bound, n draws: all-zero in 5% of 20,000 samples
     * (a binomial SE of 0.15%) */
    size_t n = 100, hits = 0, reps = 20000;
    double q = mist_constant_side_unseen(n, 0.9);
    for (size_t r = 0; r < reps; r++) {
        size_t i = 0;
        while (i < n && (double)(tu_rnext(&g_rng) >> 11) * 0x1.0p-53 >= q) i++;
        hits += i == n;
    }
    ck_assert_msg(fabs((double)hits / (double)reps - 0.05) < 0.006, "%zu of %zu", hits, reps);
}
END_TEST

START_TEST(test_check_rows)
{
    mist_model *m = tu_position_model(3, 0, &g_rng);
    const mist_arch *a = mist_model_arch(m);
    size_t nmin = a->n_min > 0 ? (size_t)a->n_min : MIST_MODEL_MIN_ROWS;
    int none[] = {-1}, one[] = {2, -1};
    double *d = rows_with(nmin, 2, 2, none, 0);
    mist_err err = {0};
    ck_assert_int_eq(mist_model_check_rows(m, d, nmin, 2, 2, &err), MIST_OK);
    ck_assert_int_eq(mist_model_check_rows(m, d, nmin - 1, 2, 2, &err), MIST_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "rows is below"));
    free(d);
    d = rows_with(50, 2, 2, one, -1.0);
    ck_assert_int_eq(mist_model_check_rows(m, d, 50, 2, 2, &err), MIST_EDATA);
    ck_assert_msg(strstr(err.msg, "column y1 is constant") != NULL, "%s", err.msg);
    ck_assert_int_eq(mist_model_check_rows(m, NULL, 50, 2, 2, &err), MIST_EINVAL);
    free(d);
    mist_model_free(m);
}
END_TEST

int main(void)
{
    return tu_run_case("degenerate", 0, test_constant_sides, test_constant_side_interval,
                       test_check_rows, NULL) ? 1 : 0;
}
