/* Histogram (plug-in) estimate with equal-width bins per axis.
 *
 * Bins: column j is cut into B equal-width bins over [min_j, max_j]; a value falls in bin
 * floor(B (v - min) / (max - min)), the maximum itself in the last bin. A constant column
 * (max == min) puts every row in bin 0 (no division), so it contributes exactly 0.
 * B = opts->bins when > 0, else ceil(n^(1/(dx+dy+2))).
 *
 * Cells are stored sparsely: no bins^d array. Each row's X bin-index tuple is turned into a
 * dense cell id by sorting the rows by the tuple (merge sort, lexicographic); likewise Y. A joint
 * cell is then exactly a pair (X id, Y id), so the joint cells are the runs of the sorted
 * 64-bit keys X id * m_y + Y id. Memory and time are O(n d) and O(n log n d) whatever B^d is.
 *
 * I = sum over occupied cells p_xy log(p_xy / (p_x p_y)) = sum (c/n) log(c n / (c_x c_y)),
 * summed in key order (deterministic). Miller-Madow: I - (m_xy - m_x - m_y + 1) / (2n), with
 * m = the numbers of occupied joint, X and Y cells. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "est_internal.h"
#include "mist_classical.h"

typedef struct {
    const uint32_t *idx; /* n x d bin indices */
    size_t d, off, len;  /* the tuple of row i is idx[i*d+off .. i*d+off+len) */
} tuple_ctx;

static int tuple_cmp(const tuple_ctx *c, size_t a, size_t b)
{
    const uint32_t *p = c->idx + a * c->d + c->off, *q = c->idx + b * c->d + c->off;
    for (size_t k = 0; k < c->len; k++)
        if (p[k] != q[k]) return p[k] < q[k] ? -1 : 1;
    return 0;
}

/* Top-down merge sort of the row numbers a[0..n) by their tuples (qsort has no context
 * argument in C11). Stable, so equal tuples keep row order. */
static void msort(size_t *a, size_t *tmp, size_t n, const tuple_ctx *c)
{
    if (n < 2) return;
    size_t h = n / 2;
    msort(a, tmp, h, c);
    msort(a + h, tmp, n - h, c);
    if (tuple_cmp(c, a[h - 1], a[h]) <= 0) return; /* already in order */
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = tuple_cmp(c, a[j], a[i]) < 0 ? a[j++] : a[i++];
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

/* Dense ids 0..m-1 of the distinct tuples (in lexicographic order); returns m. */
static size_t cell_ids(const tuple_ctx *c, size_t n, size_t *order, size_t *tmp, uint64_t *id)
{
    for (size_t i = 0; i < n; i++) order[i] = i;
    msort(order, tmp, n, c);
    size_t m = 0;
    for (size_t r = 0; r < n; r++) {
        if (r > 0 && tuple_cmp(c, order[r - 1], order[r]) != 0) m++;
        id[order[r]] = m;
    }
    return n ? m + 1 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* ceil(n^(1/(d+2))); the small offset keeps exact powers (n = 16, d = 2 -> 2, not 3 from
 * pow() rounding up to 2.0000000000000004). */
static int default_bins(size_t n, int d)
{
    double b = ceil(pow((double)n, 1.0 / ((double)d + 2.0)) - 1e-9);
    if (b < 1.0) b = 1.0;
    if (b > (double)INT32_MAX) b = (double)INT32_MAX;
    return (int)b;
}

int mist_histogram_mi(const double *data, size_t n, int dx, int dy, const mist_est_opts *o,
                      double *mi, mist_err *err)
{
    int rc = mist_est_check_input("histogram", data, n, dx, dy, 2, err);
    if (rc) return rc;
    if (!mi) return mist_fail(err, MIST_EINVAL, "histogram: mi pointer is NULL");
    mist_est_opts def;
    if (!o) {
        mist_est_opts_default(&def);
        o = &def;
    }
    if (o->bins < 0)
        return mist_fail(err, MIST_EINVAL, "histogram: bins must be >= 0 (got %d)", o->bins);
    int d = dx + dy;
    size_t ds = (size_t)d;
    int B = o->bins > 0 ? o->bins : default_bins(n, d);

    uint32_t *idx = malloc(n * ds * sizeof *idx);
    size_t *order = malloc(n * sizeof *order);
    size_t *tmp = malloc(n * sizeof *tmp);
    uint64_t *xid = malloc(n * sizeof *xid);
    uint64_t *yid = malloc(n * sizeof *yid);
    uint64_t *key = malloc(n * sizeof *key);
    size_t *cx = NULL, *cy = NULL;
    if (!idx || !order || !tmp || !xid || !yid || !key) {
        rc = mist_fail(err, MIST_ENOMEM, "histogram: out of memory for %zu rows", n);
        goto done;
    }
    for (size_t j = 0; j < ds; j++) {
        double lo = data[j], hi = data[j];
        for (size_t i = 1; i < n; i++) {
            double v = data[i * ds + j];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        if (lo == hi) {
            for (size_t i = 0; i < n; i++) idx[i * ds + j] = 0;
            continue;
        }
        /* Halve everything when the range overflows (e.g. -1e308 .. 1e308): same bins. */
        double scale = isfinite(hi - lo) ? 1.0 : 0.5;
        double width = hi * scale - lo * scale;
        for (size_t i = 0; i < n; i++) {
            double t = (data[i * ds + j] * scale - lo * scale) / width * (double)B;
            double b = floor(t);
            if (b < 0.0) b = 0.0;
            if (b > (double)(B - 1)) b = (double)(B - 1);
            idx[i * ds + j] = (uint32_t)b;
        }
    }
    tuple_ctx cxc = {idx, ds, 0, (size_t)dx}, cyc = {idx, ds, (size_t)dx, (size_t)dy};
    size_t mx = cell_ids(&cxc, n, order, tmp, xid);
    size_t my = cell_ids(&cyc, n, order, tmp, yid);
    cx = calloc(mx, sizeof *cx);
    cy = calloc(my, sizeof *cy);
    if (!cx || !cy) {
        rc = mist_fail(err, MIST_ENOMEM, "histogram: out of memory for %zu cells", mx + my);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        cx[xid[i]]++;
        cy[yid[i]]++;
        key[i] = xid[i] * (uint64_t)my + yid[i]; /* mx, my <= n, so no overflow */
    }
    if (n > 1) qsort(key, n, sizeof *key, cmp_u64);
    double dn = (double)n, s = 0.0;
    size_t mxy = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && key[b] == key[a]) b++;
        double c = (double)(b - a);
        double px = (double)cx[key[a] / my], py = (double)cy[key[a] % my];
        s += c * log(c * dn / (px * py));
        mxy++;
        a = b;
    }
    s /= dn;
    if (o->miller_madow)
        s -= ((double)mxy - (double)mx - (double)my + 1.0) / (2.0 * dn);
    *mi = s;
done:
    free(idx);
    free(order);
    free(tmp);
    free(xid);
    free(yid);
    free(key);
    free(cx);
    free(cy);
    return rc;
}
