/* Row chunks of the feature block (infer/row_chunk.c, mist_model_set_row_chunk): the runs, the
 * row order, and the estimate's invariances with chunks. The chunked graph itself is held
 * against PyTorch in test_parity.sh (official models with --row-chunk). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_classical.h"
#include "mist_guard.h"
#include "mist_train.h"
#include "testutil.h"

static uint64_t g_rng = 0x5eed0001;
static double rnorm(void) { return tu_rnorm(&g_rng); }

/* Runs: k = ceil(n / chunk) (1 when n <= chunk or chunk 0), cover 0..n in order, each at most
 * chunk rows, sizes floor(n/k) or ceil(n/k). */
START_TEST(test_runs)
{
    const size_t chunks[] = {0, 1, 2, 7, 64, 500};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++)
        for (size_t n = 1; n <= 1300; n += (n < 40 ? 1 : 37)) {
            size_t ch = chunks[c], k = row_chunk_count(n, ch);
            size_t want = ch == 0 || n <= ch ? 1 : (n + ch - 1) / ch;
            ck_assert_uint_eq(k, want);
            ck_assert_uint_eq(row_chunk_start(n, k, 0), 0);
            ck_assert_uint_eq(row_chunk_start(n, k, k), n);
            for (size_t j = 0; j < k; j++) {
                size_t len = row_chunk_start(n, k, j + 1) - row_chunk_start(n, k, j);
                ck_assert(len == n / k || len == (n + k - 1) / k);
                if (ch) ck_assert(len <= ch || k == 1);
            }
        }
}
END_TEST

static int cmp_row3(const void *a, const void *b)
{
    const double *x = a, *y = b;
    for (int j = 0; j < 3; j++)
        if (x[j] != y[j]) return x[j] < y[j] ? -1 : 1;
    return 0;
}

/* The order is a function of the set of rows: any input order gives the same rows in the same
 * order (equal values: -0 and +0 read alike), and it is a permutation of the rows. */
START_TEST(test_order)
{
    const size_t n = 300;
    double *a = malloc(n * 3 * sizeof *a), *b = malloc(n * 3 * sizeof *b);
    double *s1 = malloc(n * 3 * sizeof *s1), *s2 = malloc(n * 3 * sizeof *s2);
    ck_assert(a && b && s1 && s2);
    for (size_t i = 0; i < n * 3; i++) a[i] = rnorm();
    memcpy(a + 30, a + 90, 3 * sizeof *a); /* a repeated row */
    a[60] = 0.0, a[61] = 1.5, a[62] = -2.0;
    a[63] = -0.0, a[64] = 1.5, a[65] = -2.0; /* the same row with -0 */
    size_t *perm = malloc(n * sizeof *perm);
    ck_assert_ptr_nonnull(perm);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(tu_runif(&g_rng) * (double)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (size_t i = 0; i < n; i++) memcpy(b + i * 3, a + perm[i] * 3, 3 * sizeof *b);
    memcpy(s1, a, n * 3 * sizeof *a);
    ck_assert_int_eq(row_chunk_order(a, n, 3, NULL), 0);
    ck_assert_int_eq(row_chunk_order(b, n, 3, NULL), 0);
    for (size_t i = 0; i < n * 3; i++) ck_assert(a[i] == b[i]);
    /* a permutation of the rows: the same multiset */
    memcpy(s2, a, n * 3 * sizeof *a);
    qsort(s1, n, 3 * sizeof *s1, cmp_row3);
    qsort(s2, n, 3 * sizeof *s2, cmp_row3);
    for (size_t i = 0; i < n * 3; i++) ck_assert(s1[i] == s2[i]);
    /* and not the input order (a hash order: sorted runs of the input are unlikely) */
    int moved = 0;
    for (size_t i = 0; i < n * 3; i++) moved |= a[i] != s1[i];
    ck_assert(moved);
    free(a), free(b), free(s1), free(s2), free(perm);
}
END_TEST

static const double TAUS[3] = {0.1, 0.5, 0.9};

static void est(mist_model *m, const double *x, size_t n, int dx, int dy, double *q)
{
    mist_err err = {0};
    ck_assert_msg(mist_model_estimate(m, x, n, dx, dy, TAUS, 3, q, &err) == 0, "%s", err.msg);
}

START_TEST(test_defaults)
{
    mist_model *s = tu_position_model(3, 0, &g_rng), *p = tu_position_model(3, 1, &g_rng);
    ck_assert_uint_eq(mist_model_row_chunk(s), MIST_ROW_CHUNK_DEFAULT);
    ck_assert_uint_eq(mist_model_row_chunk(p), 0); /* the official graph as published */
    mist_model_set_row_chunk(s, 77);
    ck_assert_uint_eq(mist_model_row_chunk(s), 77);
    mist_model_free(s);
    mist_model_free(p);
    /* a model trained on larger sets: chunks as large as those */
    mist_arch a;
    mist_err err;
    ck_assert_int_eq(mist_arch_preset("tiny", &a, &err), 0);
    a.n_max = 2000;
    mist_model *b = mist_model_create_random(&a, 3, &err);
    ck_assert_msg(b != NULL, "%s", err.msg);
    ck_assert_uint_eq(mist_model_row_chunk(b), 2000);
    mist_model_free(b);
}
END_TEST

/* At most `chunk` rows: the same bits as no chunks. More: the chunks change the answer (they
 * act), and the answer is bit for bit invariant to row order; with canonical columns also to
 * column permutations, negations and the X/Y swap; a batch equals its sets one by one. */
START_TEST(test_model_invariances)
{
    mist_model *m = tu_position_model(11, 0, &g_rng);
    mist_model_set_col_canon(m, 1);
    const int dx = 3, dy = 2, c = dx + dy;
    const size_t n = 700, small = 150;
    double *x = tu_dependent_rows(n, dx, dy, &g_rng);
    double q0[3], q1[3], q[3];
    /* a set within one chunk */
    mist_model_set_row_chunk(m, 0);
    est(m, x, small, dx, dy, q0);
    mist_model_set_row_chunk(m, small);
    est(m, x, small, dx, dy, q1);
    ck_assert_mem_eq(q0, q1, sizeof q0);
    /* chunks act */
    mist_model_set_row_chunk(m, 0);
    est(m, x, n, dx, dy, q0);
    mist_model_set_row_chunk(m, 200);
    est(m, x, n, dx, dy, q1);
    double d = 0;
    for (int i = 0; i < 3; i++) d = fmax(d, fabs(q1[i] - q0[i]));
    ck_assert_msg(d > 1e-4, "4 chunks of 175 rows changed the answer by only %g", d);
    /* rows reversed and rotated; columns permuted within X and Y, negated, X and Y swapped */
    double *y = malloc(n * (size_t)c * sizeof *y);
    ck_assert_ptr_nonnull(y);
    for (size_t i = 0; i < n; i++) {
        const double *r = x + ((n - 1 - i + 37) % n) * (size_t)c;
        memcpy(y + i * (size_t)c, r, (size_t)c * sizeof *y);
    }
    est(m, y, n, dx, dy, q);
    ck_assert_mem_eq(q, q1, sizeof q);
    const int src[5] = {4, 3, 1, 2, 0}; /* Y = (y2, y1), X = (x2, x3, x1) */
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            double v = x[((i * 3) % n) * (size_t)c + (size_t)src[j]]; /* 3 is prime to 700 */
            y[i * (size_t)c + (size_t)j] = j == 1 || j == 3 ? -v : v;
        }
    /* one attention over all rows sums in the rows' order: equal to rounding only */
    mist_model_set_row_chunk(m, 0);
    est(m, y, n, dy, dx, q);
    for (int i = 0; i < 3; i++) ck_assert_double_eq_tol(q[i], q0[i], 1e-5);
    /* chunks put the rows in their own order first: the same bits */
    mist_model_set_row_chunk(m, 200);
    est(m, y, n, dy, dx, q);
    ck_assert_mem_eq(q, q1, sizeof q);
    /* a batch of a chunked set and a small one: each as alone (to rounding) */
    mist_data_view v[2] = {{x, n, dx, dy}, {x, small, dx, dy}};
    double qb[6], qs[3];
    mist_err err = {0};
    ck_assert_msg(mist_model_estimate_batch(m, v, 2, TAUS, 3, qb, &err) == 0, "%s", err.msg);
    est(m, x, small, dx, dy, qs);
    for (int i = 0; i < 3; i++) { /* blocks of rows span sets in a batch: rounding */
        ck_assert_double_eq_tol(qb[i], q1[i], 1e-5);
        ck_assert_double_eq_tol(qb[3 + i], qs[i], 1e-5);
    }
    free(x);
    free(y);
    mist_model_free(m);
}
END_TEST

/* The packed layout masks rows that sum to exactly 0 as keys of the feature block; a chunk
 * with no key left is refused with a message, where one attention over all rows still has a
 * key. */
START_TEST(test_packed_masked_chunk)
{
    mist_model *m = tu_position_model(5, 1, &g_rng);
    const size_t n = 40;
    double *x = malloc(n * 2 * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) x[2 * i] = 0.25 * (double)(i + 1), x[2 * i + 1] = -x[2 * i];
    x[2 * 7 + 1] = 1.0; /* the one row that is a key */
    double q[3];
    mist_err err = {0};
    ck_assert_int_eq(mist_model_estimate(m, x, n, 1, 1, TAUS, 3, q, &err), 0);
    mist_model_set_row_chunk(m, 10);
    ck_assert_int_eq(mist_model_estimate(m, x, n, 1, 1, TAUS, 3, q, &err), MIST_EDATA);
    ck_assert_msg(strstr(err.msg, "row chunk") != NULL, "%s", err.msg);
    free(x);
    mist_model_free(m);
}
END_TEST

/* The guard's KSG above MIST_GUARD_KSG_ROWS rows: mist_ksg on the first that many rows in the
 * row chunks' order, bit for bit, whatever order the rows came in; at that many rows, all. */
START_TEST(test_guard_ksg_rows)
{
    const size_t n = MIST_GUARD_KSG_ROWS + 1500, r = MIST_GUARD_KSG_ROWS;
    double *x = tu_dependent_rows(n, 2, 1, &g_rng), *y = malloc(n * 3 * sizeof *y);
    double *sub = malloc(n * 3 * sizeof *sub);
    ck_assert(y && sub);
    for (size_t i = 0; i < n; i++) memcpy(y + i * 3, x + ((i * 11) % n) * 3, 3 * sizeof *y);
    memcpy(sub, x, n * 3 * sizeof *sub);
    ck_assert_int_eq(row_chunk_order(sub, n, 3, NULL), 0);
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.k = 5;
    o.seed = 0;
    mist_err err = {0};
    double ref, v1, v2, se1, se2, all, se;
    ck_assert_int_eq(mist_ksg(1, sub, r, 2, 1, &o, &ref, &err), 0);
    ck_assert_int_eq(mist_guard_ksg(x, n, 2, 1, 5, 0, 1, &v1, &se1, &err), 0);
    ck_assert_int_eq(mist_guard_ksg(y, n, 2, 1, 5, 0, 1, &v2, &se2, &err), 0);
    ck_assert_mem_eq(&v1, &ref, sizeof ref);
    ck_assert_mem_eq(&v2, &ref, sizeof ref);
    ck_assert_mem_eq(&se1, &se2, sizeof se);
    /* at the limit every row is read, in the given order */
    ck_assert_int_eq(mist_ksg(1, x, r, 2, 1, &o, &ref, &err), 0);
    ck_assert_int_eq(mist_guard_ksg(x, r, 2, 1, 5, 0, 1, &all, &se, &err), 0);
    ck_assert_mem_eq(&all, &ref, sizeof ref);
    free(x), free(y), free(sub);
}
END_TEST

int main(void)
{
    return tu_run_case("row_chunk", 0, test_runs, test_order, test_defaults,
                       test_model_invariances, test_packed_masked_chunk, test_guard_ksg_rows,
                       NULL) ? 1 : 0;
}
