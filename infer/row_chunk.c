/* Row chunks of the feature block: a dataset of more rows than the model's chunk size meets
 * itself in the feature block (the one attention over all pairs of rows) only within chunks,
 * so that its cost is n x chunk, not n x n; the encoder's inducing points and the pooling still
 * see every row. Which rows share a chunk must not depend on the order the rows came in (the
 * estimate is invariant to row permutations), nor on the column order or signs (the canonical
 * reading gives the same values for those): rows are put in the order of a hash of their own
 * values, then cut into equal runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"

typedef struct row_key {
    uint64_t h;
    size_t i;
} row_key;

typedef struct sort_ctx {
    const double *data;
    size_t cols;
} sort_ctx;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The hash of a row: its values' bits, with -0 read as +0 (equal values, equal rows). */
static uint64_t row_hash(const double *row, size_t cols)
{
    uint64_t h = 0x6a09e667f3bcc909ULL;
    for (size_t j = 0; j < cols; j++) {
        double v = row[j] == 0 ? 0.0 : row[j];
        uint64_t b;
        memcpy(&b, &v, sizeof b);
        h = mix64(h ^ b) + 0x9e3779b97f4a7c15ULL;
    }
    return h;
}

/* qsort has no context argument in C11; the rows being sorted are one call's. */
static _Thread_local sort_ctx g_sort;

/* By hash, then by the values (distinct rows of equal hash), so that the order is a function
 * of the set of rows alone; equal rows are interchangeable. */
static int cmp_key(const void *a, const void *b)
{
    const row_key *p = a, *q = b;
    if (p->h != q->h) return p->h < q->h ? -1 : 1;
    const double *x = g_sort.data + p->i * g_sort.cols, *y = g_sort.data + q->i * g_sort.cols;
    for (size_t j = 0; j < g_sort.cols; j++)
        if (x[j] != y[j]) return x[j] < y[j] ? -1 : 1;
    return 0;
}

size_t row_chunk_count(size_t n, size_t chunk)
{
    if (!chunk || n <= chunk) return 1;
    return (n + chunk - 1) / chunk;
}

size_t row_chunk_start(size_t n, size_t k, size_t j)
{
    /* equal runs: sizes differ by at most one row; j*n fits (n <= 2^30 rows, k <= n) */
    return j * n / k;
}

int row_chunk_order(double *data, size_t n, int cols, mist_err *err)
{
    size_t c = (size_t)cols;
    row_key *key = malloc(n * sizeof *key);
    double *tmp = malloc(n * c * sizeof *tmp);
    if (!key || !tmp) {
        free(key);
        free(tmp);
        return mist_fail(err, MIST_ENOMEM, "out of memory to order %zu rows into chunks", n);
    }
    for (size_t i = 0; i < n; i++) key[i] = (row_key){row_hash(data + i * c, c), i};
    g_sort = (sort_ctx){data, c};
    qsort(key, n, sizeof *key, cmp_key);
    for (size_t i = 0; i < n; i++) memcpy(tmp + i * c, data + key[i].i * c, c * sizeof *tmp);
    memcpy(data, tmp, n * c * sizeof *tmp);
    free(key);
    free(tmp);
    return MIST_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int row_distinct(const double *data, size_t n, int cols, double **out, size_t *m, mist_err *err)
{
    size_t c = (size_t)cols;
    *out = NULL;
    *m = n;
    if (n < 2) return MIST_OK;
    /* no two rows share a hash (the usual case): no two rows are equal */
    uint64_t *h = malloc(n * sizeof *h);
    if (!h) return mist_fail(err, MIST_ENOMEM, "out of memory to look for repeated rows");
    for (size_t i = 0; i < n; i++) h[i] = row_hash(data + i * c, c);
    qsort(h, n, sizeof *h, cmp_u64);
    size_t i = 1;
    while (i < n && h[i] != h[i - 1]) i++;
    free(h);
    if (i == n) return MIST_OK;
    double *d = malloc(n * c * sizeof *d);
    if (!d) return mist_fail(err, MIST_ENOMEM, "out of memory for %zu distinct rows", n);
    memcpy(d, data, n * c * sizeof *d);
    int rc = row_chunk_order(d, n, cols, err);
    if (rc) {
        free(d);
        return rc;
    }
    /* equal rows are adjacent in that order; keep the first of each run (-0 == +0) */
    size_t k = 1;
    for (size_t r = 1; r < n; r++) {
        const double *a = d + (k - 1) * c, *b = d + r * c;
        size_t j = 0;
        while (j < c && a[j] == b[j]) j++;
        if (j < c) memmove(d + k++ * c, b, c * sizeof *d);
    }
    if (k == n) { /* only hashes collided */
        free(d);
        return MIST_OK;
    }
    *out = d;
    *m = k;
    return MIST_OK;
}
