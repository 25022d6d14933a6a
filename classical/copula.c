/* The copula option: every column replaced by its normal scores Phi^-1(rank/(n+1)).
 * Ranks run 1..n; tied values share the average of the ranks they occupy, so the transform
 * depends on the order of the values alone and any strictly increasing map of a column leaves
 * it (bit-for-bit) unchanged. rank/(n+1) lies in [1/(n+1), n/(n+1)], never 0 or 1, so the
 * inverse CDF stays finite. Scores are odd about the middle rank bit for bit: negating a
 * column negates its scores. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mist_classical.h"
#include "util.h"

typedef struct {
    double v;
    size_t i;
} vi_pair;

/* Ties ordered by row index: qsort is not stable, and a total order keeps the result
 * independent of the C library (the tie group gets one rank anyway). */
static int cmp_pair(const void *a, const void *b)
{
    const vi_pair *p = a, *q = b;
    if (p->v < q->v) return -1;
    if (p->v > q->v) return 1;
    return (p->i > q->i) - (p->i < q->i);
}

/* Large columns are sorted by radix on an order key instead: qsort's calls of the comparison
 * were a third of `mist estimate`'s time at n = 100,000 (every copula reading sorts every
 * column). Only the order of the values matters below (ties are grouped by value), so both
 * sorts give the same scores, bit for bit (tests/test_classical.c). */
#define RADIX_MIN_N 1024
#define RADIX_BITS 11
#define RADIX_BUCKETS (1u << RADIX_BITS)

typedef struct {
    uint64_t k;
    size_t i;
} key_pair;

/* Unsigned order of the keys = numeric order of finite doubles (-0 just below +0, adjacent:
 * nothing lies between them). */
static uint64_t order_key(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b >> 63 ? ~b : b | 0x8000000000000000ULL;
}

/* LSD radix sort of a[0..n) by key (stable), tmp the same size; skips digits all keys share.
 * Returns the sorted array (a or tmp). */
static key_pair *radix_sort(key_pair *a, key_pair *tmp, size_t n)
{
    size_t count[RADIX_BUCKETS];
    for (int shift = 0; shift < 64; shift += RADIX_BITS) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++) count[(a[i].k >> shift) & (RADIX_BUCKETS - 1)]++;
        if (count[(a[0].k >> shift) & (RADIX_BUCKETS - 1)] == n) continue;
        size_t sum = 0;
        for (size_t d = 0; d < RADIX_BUCKETS; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) tmp[count[(a[i].k >> shift) & (RADIX_BUCKETS - 1)]++] = a[i];
        key_pair *t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

int mist_copula_transform(double *out, const double *data, size_t n, int cols, mist_err *err)
{
    if (!out || !data) return mist_fail(err, MIST_EINVAL, "copula: data is NULL");
    if (cols < 1) return mist_fail(err, MIST_EINVAL, "copula: cols must be >= 1 (got %d)", cols);
    if (n < 1) return mist_fail(err, MIST_EDATA, "copula: no rows");
    size_t c = (size_t)cols;
    size_t k = mist_first_nonfinite(data, n * c);
    if (k < n * c)
        return mist_fail(err, MIST_EDATA, "copula: non-finite value (%g) at row %zu, column %zu",
                         data[k], k / c + 1, k % c + 1);
    vi_pair *p = malloc(n * sizeof *p);
    double *score = malloc(n * sizeof *score);
    int radix = n >= RADIX_MIN_N;
    key_pair *ka = radix ? malloc(2 * n * sizeof *ka) : NULL;
    /* Every column of n rows maps its ranks to the same scores: the inverse CDF is computed
     * once per distinct doubled rank a+1+b (in 2..2n), not once per value. */
    double *memo = malloc((2 * n + 1) * sizeof *memo);
    if (!p || !score || !memo || (radix && !ka)) {
        free(p);
        free(score);
        free(memo);
        free(ka);
        return mist_fail(err, MIST_ENOMEM, "copula: out of memory for %zu rows", n);
    }
    double denom = (double)n + 1.0;
    for (size_t r = 0; r <= 2 * n; r++) memo[r] = NAN;
    for (size_t j = 0; j < c; j++) {
        /* The whole column is read before any of it is written: out may alias data. */
        if (radix) {
            for (size_t i = 0; i < n; i++) ka[i] = (key_pair){order_key(data[i * c + j]), i};
            const key_pair *sorted = radix_sort(ka, ka + n, n);
            for (size_t t = 0; t < n; t++)
                p[t] = (vi_pair){data[sorted[t].i * c + j], sorted[t].i};
        } else {
            for (size_t i = 0; i < n; i++) {
                p[i].v = data[i * c + j];
                p[i].i = i;
            }
            if (n > 1) qsort(p, n, sizeof *p, cmp_pair);
        }
        for (size_t a = 0; a < n;) {
            size_t b = a + 1;
            while (b < n && p[b].v == p[a].v) b++;
            /* positions a..b-1 (0-based) hold ranks a+1..b: their mean is (a+1+b)/2 */
            size_t key = a + 1 + b;
            /* the upper half as the mirror of the lower (key <-> 2n + 2 - key), so that
             * reversing a column's order negates its scores exactly */
            size_t lo = key <= n + 1 ? key : 2 * n + 2 - key;
            if (isnan(memo[lo])) memo[lo] = gsl_cdf_ugaussian_Pinv(0.5 * (double)lo / denom);
            double s = key <= n + 1 ? memo[lo] : -memo[lo];
            for (size_t t = a; t < b; t++) score[p[t].i] = s;
            a = b;
        }
        for (size_t i = 0; i < n; i++) out[i * c + j] = score[i];
    }
    free(p);
    free(score);
    free(memo);
    free(ka);
    return MIST_OK;
}
