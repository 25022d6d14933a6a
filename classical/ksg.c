/* KSG mutual information (Kraskov, Stoegbauer, Grassberger 2004), algorithms 1 and 2, exactly as
 * shared/spec/estimators.md states them, with max-norm distances in X, in Y and jointly (the
 * joint distance is the max of the two, i.e. the max-norm over all dx+dy coordinates).
 *
 * Neighbour search is exact, by one of two routes chosen by use_scan() below:
 *   trees: a kd-tree over the joint space for the k nearest other rows, and kd-tree range counts
 *          (subtree counts for fully contained nodes) in X and in Y, or a sorted array with a
 *          galloping binary search when the marginal is 1-D;
 *   scan:  blocked SIMD brute force (every row's X and Y distances to all rows), which wins in
 *          higher joint dimension at moderate n.
 * Both give counts equal to mist_ksg_counts_brute bit for bit (kdtree.h explains why).
 * Ties at the k-th joint distance (algorithm 2): the k neighbours are the k smallest by
 * (distance, row index), so the smaller row indices win; brute force uses the same rule.
 * For algorithm 1 only the k-th distance matters, which ties do not affect.
 *
 * Row groups (mist_ksg_counts_ex, mist_ksg_ex; the bootstrap's resamples): origin[i] names the
 * original row that row i copies. Rows sharing row i's origin count as row i itself:
 *   counts: they are never among its k neighbours, and the marginal counts leave them out
 *     exactly as they leave out row i (the trees, the sorted arrays or the scan count every
 *     row, then the same-origin rows that meet the same criterion, by the same distance
 *     expression, are subtracted), so the counts still equal mist_ksg_counts_brute_ex bit for
 *     bit. Every row needs at least k rows of other origins (MIST_EDATA otherwise).
 *   mist_ksg_ex: after the preprocessing every row of a group takes the values of the group's
 *     first row (noise included), so a row's copies coincide exactly, as the row does with
 *     itself (rows sharing an origin are expected to hold equal data); and psi(n) becomes
 *     mean_i psi(n - m_i + 1), m_i the size of row i's group: row i has n - m_i other rows.
 * Without this, a resampled row's copies sit at ~noise distance, become its nearest neighbours
 * and inflate every resample's estimate (the bootstrap interval then misses the truth). With
 * origin = NULL every row is its own group and the code paths are the original ones.
 *
 * Preprocessing (mist_ksg_prepare, on unless opts->zscore = 0 and opts->noise = 0): each column
 * minus its mean, divided by its population standard deviation (divide by n); a constant column
 * becomes all zeros; then N(0, noise^2) noise on every value (after z-scoring, so in standard
 * deviations; in data units when zscore = 0) from mist's xoshiro256** stream (core/mist_rng.h,
 * all 64 seed bits used) seeded with mist_seed_derive(opts->seed, KSG_NOISE_STREAM), drawn row
 * by row.
 *
 * Threads: rows are handed out in blocks to opts->threads workers (<= 1: the calling thread
 * only); every row's counts go to its own slot and the digamma sums run afterwards in row order,
 * so the value does not depend on the thread count. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_psi.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "est_internal.h"
#include "kdtree.h"
#include "mist_classical.h"
#include "mist_rng.h"
#include "util.h"

/* Sub-stream of opts->seed for the tie-breaking noise ("ksgnoise" in ASCII). */
#define KSG_NOISE_STREAM 0x6b73676e6f697365ULL
/* Points per kd-tree leaf: joint k-NN tree and marginal count trees. */
#define KNN_LEAF 16
#define COUNT_LEAF 32
/* Rows per work block handed to a thread. */
#define ROW_BLOCK 64
#define MAX_THREADS 256

int mist_ksg_check_args(int algorithm, const double *data, size_t n, int dx, int dy, int k,
                        mist_err *err)
{
    if (algorithm != 1 && algorithm != 2)
        return mist_fail(err, MIST_EINVAL, "ksg: algorithm must be 1 or 2, not %d", algorithm);
    if (dx < 1 || dy < 1)
        return mist_fail(err, MIST_EINVAL, "ksg: dx and dy must be >= 1 (got dx = %d, dy = %d)",
                         dx, dy);
    if (k < 1) return mist_fail(err, MIST_EINVAL, "ksg: k must be >= 1 (got k = %d)", k);
    if (n <= (size_t)k)
        return mist_fail(err, MIST_EDATA, "ksg: n = %zu rows is too few for k = %d (need n > k)",
                         n, k);
    if (n > (size_t)INT_MAX)
        return mist_fail(err, MIST_EINVAL, "ksg: n = %zu rows is more than supported (%d)", n,
                         INT_MAX);
    if (!data) return mist_fail(err, MIST_EINVAL, "ksg: data is NULL");
    size_t cols = (size_t)dx + (size_t)dy;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < cols; c++) {
            double v = data[i * cols + c];
            if (!isfinite(v))
                return mist_fail(err, MIST_EDATA,
                                 "ksg: non-finite value (%g) at row %zu, column %zu", v, i + 1,
                                 c + 1);
        }
    return MIST_OK;
}

/* ---- counts -------------------------------------------------------------------------------- */

typedef struct marginal {
    int is1d;
    mist_kdtree tree;
    mist_sorted1d sorted;
} marginal;

static int marginal_build(marginal *m, const double *data, size_t n, size_t stride, int d,
                          mist_err *err)
{
    memset(m, 0, sizeof *m);
    m->is1d = d == 1;
    if (m->is1d) return mist_sorted1d_build(&m->sorted, data, n, stride, err);
    return mist_kdtree_build(&m->tree, data, n, stride, d, COUNT_LEAF, err);
}

static void marginal_free(marginal *m)
{
    if (m->is1d) mist_sorted1d_free(&m->sorted);
    else mist_kdtree_free(&m->tree);
}

/* #{j != row : ||v_j - v_row|| < r} (strict) or <= r. q: row's coordinates in this marginal. */
static size_t marginal_count(const marginal *m, size_t row, const double *q, double r,
                             int strict)
{
    size_t c = m->is1d ? mist_sorted1d_count(&m->sorted, row, r, strict)
                       : mist_kdtree_count(&m->tree, q, r, strict);
    /* the row itself (distance 0) was counted exactly when 0 qualifies */
    size_t self = strict ? (0.0 < r) : 1;
    return c - self;
}

/* Checks origin against k: every row needs k rows of other origins (the largest group leaves
 * the fewest). */
static int groups_check(const mist_est_groups *g, size_t n, int k, mist_err *err)
{
    if (n - g->max < (size_t)k)
        return mist_fail(err, MIST_EDATA,
                         "ksg: %zu of the %zu rows share one origin, leaving %zu rows of other "
                         "origins, fewer than k = %d",
                         g->max, n, n - g->max, k);
    return MIST_OK;
}

/* #{rows j with row i's origin (i included) : ||v_j - v_i|| < r (strict) or <= r}, v the d
 * coordinates at offset off: what a marginal count includes beyond the other-origin rows. The
 * distance is the expression the trees, the sorted arrays and the brute force evaluate. */
static size_t group_within(const mist_est_groups *g, const double *data, size_t cols, size_t i, int off,
                           int d, double r, int strict)
{
    size_t gi = g->of[i], c = 0;
    const double *vi = data + i * cols + off;
    for (size_t p = g->start[gi]; p < g->start[gi + 1]; p++) {
        double dd = mist_est_maxnorm(vi, data + g->rows[p] * cols + off, d);
        c += strict ? dd < r : dd <= r;
    }
    return c;
}

/* The same from the scan's distance array v (v[j] = distance of row j to row i). */
static size_t group_within_scan(const mist_est_groups *g, size_t i, const double *v, double r, int strict)
{
    size_t gi = g->of[i], c = 0;
    for (size_t p = g->start[gi]; p < g->start[gi + 1]; p++) {
        double dd = v[g->rows[p]];
        c += strict ? dd < r : dd <= r;
    }
    return c;
}

static atomic_int search_mode = MIST_KSG_SEARCH_AUTO;

void mist_ksg_set_search(int mode)
{
    atomic_store(&search_mode, mode);
}

typedef struct ksg_job {
    int alg, k, dx, dy;
    size_t n, cols;
    const double *data;
    int scan; /* 1: blocked brute force (bf), 0: trees (joint, mx, my) */
    mist_bfscan bf;
    mist_kdtree joint;
    marginal mx, my;
    const size_t *origin; /* NULL: every row its own group */
    const mist_est_groups *grp;    /* origin != NULL: the rows by origin */
    size_t *tkey;         /* origin != NULL, trees: origin per joint-tree position */
    int *nx, *ny;
    atomic_size_t next; /* next joint-tree position block to hand out */
} ksg_job;

/* Rows at joint-tree positions [p0, p1): neighbouring queries, so the trees stay in cache. */
static void ksg_rows(ksg_job *j, size_t p0, size_t p1, double *dist, size_t *rows)
{
    int d = j->dx + j->dy, k = j->k;
    for (size_t p = p0; p < p1; p++) {
        size_t i = j->joint.perm[p];
        const double *q = j->joint.pts + p * (size_t)d;
        if (j->origin)
            mist_kdtree_knn(&j->joint, q, j->origin[i], j->tkey, k, j->alg == 2, dist, rows);
        else
            mist_kdtree_knn(&j->joint, q, i, NULL, k, j->alg == 2, dist, rows);
        const double *xi = j->data + i * j->cols;
        double ex, ey;
        int strict;
        if (j->alg == 1) {
            ex = ey = dist[k - 1];
            strict = 1;
        } else {
            ex = ey = 0.0;
            for (int m = 0; m < k; m++) {
                const double *xm = j->data + rows[m] * j->cols;
                double a = mist_est_maxnorm(xi, xm, j->dx), b = mist_est_maxnorm(xi + j->dx, xm + j->dx, j->dy);
                if (a > ex) ex = a;
                if (b > ey) ey = b;
            }
            strict = 0;
        }
        if (j->origin) {
            size_t cx = j->mx.is1d ? mist_sorted1d_count(&j->mx.sorted, i, ex, strict)
                                   : mist_kdtree_count(&j->mx.tree, xi, ex, strict);
            size_t cy = j->my.is1d ? mist_sorted1d_count(&j->my.sorted, i, ey, strict)
                                   : mist_kdtree_count(&j->my.tree, xi + j->dx, ey, strict);
            cx -= group_within(j->grp, j->data, j->cols, i, 0, j->dx, ex, strict);
            cy -= group_within(j->grp, j->data, j->cols, i, j->dx, j->dy, ey, strict);
            j->nx[i] = (int)cx;
            j->ny[i] = (int)cy;
        } else {
            j->nx[i] = (int)marginal_count(&j->mx, i, xi, ex, strict);
            j->ny[i] = (int)marginal_count(&j->my, i, xi + j->dx, ey, strict);
        }
    }
}

/* Rows [i0, i1) by blocked brute force: every row's X and Y distances to all rows, then the
 * neighbours and both counts from those two arrays. */
static void ksg_rows_scan(ksg_job *j, size_t i0, size_t i1, double *dist, size_t *rows,
                          double *ddx, double *ddy)
{
    int k = j->k;
    for (size_t i = i0; i < i1; i++) {
        const double *q = j->data + i * j->cols;
        if (j->origin) mist_bfscan_row(&j->bf, q, j->origin[i], j->origin, k, ddx, ddy, dist, rows);
        else mist_bfscan_row(&j->bf, q, i, NULL, k, ddx, ddy, dist, rows);
        double ex, ey;
        int strict;
        if (j->alg == 1) {
            ex = ey = dist[k - 1];
            strict = 1;
        } else {
            ex = ey = 0.0;
            for (int m = 0; m < k; m++) {
                if (ddx[rows[m]] > ex) ex = ddx[rows[m]];
                if (ddy[rows[m]] > ey) ey = ddy[rows[m]];
            }
            strict = 0;
        }
        /* ddx[i] = ddy[i] = 0: the row itself is counted exactly when 0 qualifies; with
         * origins, so is every same-origin row whose distance qualifies */
        size_t sx, sy;
        if (j->origin) {
            sx = group_within_scan(j->grp, i, ddx, ex, strict);
            sy = group_within_scan(j->grp, i, ddy, ey, strict);
        } else {
            sx = strict ? (0.0 < ex) : 1;
            sy = strict ? (0.0 < ey) : 1;
        }
        j->nx[i] = (int)(mist_bfscan_count(&j->bf, ddx, ex, strict) - sx);
        j->ny[i] = (int)(mist_bfscan_count(&j->bf, ddy, ey, strict) - sy);
    }
}

typedef struct worker_arg {
    ksg_job *job;
    double *dist;
    size_t *rows;
    double *ddx, *ddy; /* scan mode: np each */
} worker_arg;

static void *ksg_worker(void *p)
{
    worker_arg *w = p;
    ksg_job *j = w->job;
    for (;;) {
        size_t p0 = atomic_fetch_add(&j->next, ROW_BLOCK);
        if (p0 >= j->n) break;
        size_t p1 = p0 + ROW_BLOCK < j->n ? p0 + ROW_BLOCK : j->n;
        if (j->scan) ksg_rows_scan(j, p0, p1, w->dist, w->rows, w->ddx, w->ddy);
        else ksg_rows(j, p0, p1, w->dist, w->rows);
    }
    return NULL;
}

/* Whether the blocked brute force (cost ~ n^2 (dx+dy), SIMD) beats the trees (cost growing
 * steeply with the joint dimension D = dx+dy). Crossovers measured on one core with Gaussian
 * data (tools/bench_ksg --search tree|scan): D = 4 near n = 6,000, D = 6 ~ 20,000, D = 8 ~ 35,000,
 * D = 10 ~ 55,000, D = 12 ~ 80,000, D = 16 ~ 120,000; the trees always win for D <= 3. */
static int use_scan(size_t n, int dx, int dy)
{
    int mode = atomic_load(&search_mode);
    if (mode == MIST_KSG_SEARCH_TREE) return 0;
    if (mode == MIST_KSG_SEARCH_SCAN) return 1;
    int d = dx + dy;
    if (d <= 3) return 0;
    return (double)n <= 6000.0 + 8000.0 * (double)(d - 4);
}

int mist_ksg_counts(int algorithm, const double *data, size_t n, int dx, int dy, int k,
                    int threads, int *nx, int *ny, mist_err *err)
{
    return mist_ksg_counts_ex(algorithm, data, NULL, n, dx, dy, k, threads, nx, ny, err);
}

/* The counts, arguments checked; grp: origin's groups (built by the caller), NULL without
 * origins. */
static int counts_impl(int algorithm, const double *data, const size_t *origin,
                       const mist_est_groups *grp, size_t n, int dx, int dy, int k, int threads, int *nx,
                       int *ny, mist_err *err)
{
    int rc = MIST_OK;
    size_t nblocks = (n + ROW_BLOCK - 1) / ROW_BLOCK;
    int nt = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    if ((size_t)nt > nblocks) nt = (int)nblocks;

    ksg_job *j = calloc(1, sizeof *j);
    worker_arg *wa = calloc((size_t)nt, sizeof *wa);
    double *dist = malloc((size_t)nt * (size_t)k * sizeof *dist);
    size_t *rows = malloc((size_t)nt * (size_t)k * sizeof *rows);
    double *scratch = NULL;
    int built = 0;
    if (!j || !wa || !dist || !rows) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory");
        goto out;
    }
    if (origin) {
        j->origin = origin;
        j->grp = grp;
    }
    j->alg = algorithm;
    j->k = k;
    j->dx = dx;
    j->dy = dy;
    j->n = n;
    j->cols = (size_t)dx + (size_t)dy;
    j->data = data;
    j->nx = nx;
    j->ny = ny;
    j->scan = use_scan(n, dx, dy);
    atomic_init(&j->next, 0);
    if (j->scan) {
        if ((rc = mist_bfscan_build(&j->bf, data, n, dx, dy, err))) goto out;
        built = 1;
        scratch = malloc(2 * (size_t)nt * j->bf.np * sizeof *scratch);
        if (!scratch) {
            rc = mist_fail(err, MIST_ENOMEM, "out of memory");
            goto out;
        }
    } else {
        if ((rc = mist_kdtree_build(&j->joint, data, n, j->cols, dx + dy, KNN_LEAF, err)))
            goto out;
        built = 1;
        if ((rc = marginal_build(&j->mx, data, n, j->cols, dx, err))) goto out;
        built = 2;
        if ((rc = marginal_build(&j->my, data + dx, n, j->cols, dy, err))) goto out;
        built = 3;
        if (origin) {
            j->tkey = malloc(n * sizeof *j->tkey);
            if (!j->tkey) {
                rc = mist_fail(err, MIST_ENOMEM, "out of memory");
                goto out;
            }
            for (size_t p = 0; p < n; p++) j->tkey[p] = origin[j->joint.perm[p]];
        }
    }

    for (int t = 0; t < nt; t++) {
        wa[t].job = j;
        wa[t].dist = dist + (size_t)t * (size_t)k;
        wa[t].rows = rows + (size_t)t * (size_t)k;
        if (scratch) {
            wa[t].ddx = scratch + 2 * (size_t)t * j->bf.np;
            wa[t].ddy = wa[t].ddx + j->bf.np;
        }
    }
    /* The workers take row blocks from a shared counter, so one whose thread could not start
     * finds nothing left when it runs here afterwards. */
    mist_fan_out(ksg_worker, wa, sizeof *wa, nt);

out:
    if (j && j->scan) {
        if (built >= 1) mist_bfscan_free(&j->bf);
    } else if (j) {
        if (built >= 1) mist_kdtree_free(&j->joint);
        if (built >= 2) marginal_free(&j->mx);
        if (built >= 3) marginal_free(&j->my);
    }
    if (j) free(j->tkey);
    free(scratch);
    free(j);
    free(wa);
    free(dist);
    free(rows);
    return rc;
}

int mist_ksg_counts_ex(int algorithm, const double *data, const size_t *origin, size_t n, int dx,
                       int dy, int k, int threads, int *nx, int *ny, mist_err *err)
{
    int rc = mist_ksg_check_args(algorithm, data, n, dx, dy, k, err);
    if (rc) return rc;
    if (!nx || !ny) return mist_fail(err, MIST_EINVAL, "ksg counts: output arrays are NULL");
    if (!origin)
        return counts_impl(algorithm, data, NULL, NULL, n, dx, dy, k, threads, nx, ny, err);
    mist_est_groups g;
    if ((rc = mist_est_groups_build(&g, origin, n, err))) return rc;
    if (!(rc = groups_check(&g, n, k, err)))
        rc = counts_impl(algorithm, data, origin, &g, n, dx, dy, k, threads, nx, ny, err);
    mist_est_groups_free(&g);
    return rc;
}

/* ---- preprocessing ------------------------------------------------------------------------- */

int mist_ksg_prepare(double *out, const double *data, size_t n, int dx, int dy,
                     const mist_est_opts *o, mist_err *err)
{
    mist_est_opts defaults;
    if (!o) {
        mist_est_opts_default(&defaults);
        o = &defaults;
    }
    if (dx < 1 || dy < 1)
        return mist_fail(err, MIST_EINVAL, "ksg: dx and dy must be >= 1 (got dx = %d, dy = %d)",
                         dx, dy);
    if (!out || (!data && n)) return mist_fail(err, MIST_EINVAL, "ksg prepare: NULL array");
    if (!(o->noise >= 0.0) || !isfinite(o->noise))
        return mist_fail(err, MIST_EINVAL, "ksg: noise must be finite and >= 0 (got %g)",
                         o->noise);
    size_t cols = (size_t)dx + (size_t)dy;
    size_t bad = mist_first_nonfinite(data, n * cols);
    if (bad < n * cols)
        return mist_fail(err, MIST_EDATA, "ksg: non-finite value (%g) at row %zu, column %zu",
                         data[bad], bad / cols + 1, bad % cols + 1);
    if (out != data) memmove(out, data, n * cols * sizeof *out);
    if (o->zscore && n > 0) {
        for (size_t c = 0; c < cols; c++) {
            double first = out[c], big = 0.0;
            int constant = 1;
            for (size_t i = 0; i < n; i++) {
                double v = out[i * cols + c];
                constant &= v == first;
                big = fmax(big, fabs(v));
            }
            if (constant) {
                for (size_t i = 0; i < n; i++) out[i * cols + c] = 0.0;
                continue;
            }
            /* Moments of the column times 2^-e (e the exponent of its largest magnitude), so
             * that values of 1e-200 do not square to 0 nor values of 1e300 sum to inf. A power
             * of two scales exactly: ordinary data give the same bits as without it. */
            int sh = ilogb(big);
            double sum = 0.0;
            for (size_t i = 0; i < n; i++) {
                out[i * cols + c] = ldexp(out[i * cols + c], -sh);
                sum += out[i * cols + c];
            }
            double mean = sum / (double)n, ss = 0.0;
            for (size_t i = 0; i < n; i++) {
                double v = out[i * cols + c] - mean;
                ss += v * v;
            }
            double sd = sqrt(ss / (double)n); /* population std (divide by n) */
            if (!(sd > 0.0) || !isfinite(sd)) {
                /* only when the spread underflows even at this scale: centre, scale back */
                for (size_t i = 0; i < n; i++)
                    out[i * cols + c] = ldexp(out[i * cols + c] - mean, sh);
                continue;
            }
            for (size_t i = 0; i < n; i++) out[i * cols + c] = (out[i * cols + c] - mean) / sd;
        }
    }
    if (o->noise > 0.0 && n > 0) {
        gsl_rng *r = mist_rng_alloc(mist_seed_derive(o->seed, KSG_NOISE_STREAM));
        if (!r) return mist_fail(err, MIST_ENOMEM, "out of memory");
        for (size_t i = 0; i < n * cols; i++) out[i] += gsl_ran_gaussian_ziggurat(r, o->noise);
        gsl_rng_free(r);
    }
    return MIST_OK;
}

/* ---- the estimate -------------------------------------------------------------------------- */

static double psi_count(size_t m) /* m >= 1 */
{
    return m <= (size_t)INT_MAX ? gsl_sf_psi_int((int)m) : gsl_sf_psi((double)m);
}

/* ---- exact ties ----------------------------------------------------------------------------- */

typedef struct tie_item {
    const double *row;
    size_t origin, i;
    size_t cols;
} tie_item;

static int cmp_tie(const void *a, const void *b)
{
    const tie_item *x = a, *y = b;
    for (size_t c = 0; c < x->cols; c++) {
        if (x->row[c] < y->row[c]) return -1;
        if (x->row[c] > y->row[c]) return 1;
    }
    return (x->origin > y->origin) - (x->origin < y->origin);
}

/* Without tie-breaking noise, a row with k or more other-origin rows of exactly its values has
 * k-th neighbour distance 0: the strict marginal counts are then 0 and the estimate is garbage
 * (200 equal rows gave ksg1 +7.96 and ksg2 -3.98 nats). Found by sorting the rows, O(n log n),
 * and refused, since no value is right there. */
static int check_ties(const double *data, const size_t *origin, size_t n, size_t cols, int k,
                      mist_err *err)
{
    tie_item *it = malloc((n ? n : 1) * sizeof *it);
    if (!it) return mist_fail(err, MIST_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        it[i] = (tie_item){data + i * cols, origin ? origin[i] : i, i, cols};
    qsort(it, n, sizeof *it, cmp_tie);
    size_t bad = 0, example = 0, biggest = 0;
    for (size_t a = 0, b; a < n; a = b) {
        b = a + 1;
        while (b < n && cmp_tie(&(tie_item){it[a].row, 0, 0, cols},
                                &(tie_item){it[b].row, 0, 0, cols}) == 0)
            b++;
        /* within the run, rows of one origin are consecutive: each sees run - own others */
        for (size_t p = a, q; p < b; p = q) {
            q = p + 1;
            while (q < b && it[q].origin == it[p].origin) q++;
            if ((b - a) - (q - p) >= (size_t)k) {
                if (!bad) example = it[p].i;
                bad += q - p;
            }
        }
        if (b - a > biggest) biggest = b - a;
    }
    free(it);
    if (!bad) return MIST_OK;
    return mist_fail(err, MIST_EDATA,
                     "ksg: %zu of the %zu rows (e.g. row %zu) equal k = %d or more other rows "
                     "exactly (up to %zu equal rows): their k-th neighbour distance is 0 and KSG "
                     "is undefined there; keep the tie-breaking noise on (noise > 0, the default "
                     "1e-10) or remove the duplicated rows",
                     bad, n, example + 1, k, biggest);
}

int mist_ksg(int algorithm, const double *data, size_t n, int dx, int dy, const mist_est_opts *o,
             double *mi, mist_err *err)
{
    return mist_ksg_ex(algorithm, data, NULL, n, dx, dy, o, mi, err);
}

int mist_ksg_ex(int algorithm, const double *data, const size_t *origin, size_t n, int dx, int dy,
                const mist_est_opts *o, double *mi, mist_err *err)
{
    mist_est_opts defaults;
    if (!o) {
        mist_est_opts_default(&defaults);
        o = &defaults;
    }
    if (!mi) return mist_fail(err, MIST_EINVAL, "ksg: mi is NULL");
    int k = o->k;
    int rc = mist_ksg_check_args(algorithm, data, n, dx, dy, k, err);
    if (rc) return rc;
    size_t cols = (size_t)dx + (size_t)dy;
    double *prep = NULL;
    int *nx = NULL, *ny = NULL;
    const double *use = data;
    mist_est_groups g = {0};
    if (origin) {
        if ((rc = mist_est_groups_build(&g, origin, n, err))) return rc;
        if ((rc = groups_check(&g, n, k, err))) goto out;
    }
    if (o->zscore || o->noise != 0.0) {
        prep = malloc(n * cols * sizeof *prep);
        if (!prep) {
            rc = mist_fail(err, MIST_ENOMEM, "out of memory (%zu x %zu values)", n, cols);
            goto out;
        }
        if ((rc = mist_ksg_prepare(prep, data, n, dx, dy, o, err))) goto out;
        use = prep;
        /* copies are the row itself: every row of a group takes its first row's prepared
         * values, tie-breaking noise included */
        if (origin)
            for (size_t gi = 0; gi < g.count; gi++) {
                const double *first = prep + g.rows[g.start[gi]] * cols;
                for (size_t p = g.start[gi] + 1; p < g.start[gi + 1]; p++)
                    memcpy(prep + g.rows[p] * cols, first, cols * sizeof *prep);
            }
    }
    if (o->noise == 0.0 && (rc = check_ties(use, origin, n, cols, k, err))) goto out;
    nx = malloc(n * sizeof *nx);
    ny = malloc(n * sizeof *ny);
    if (!nx || !ny) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = counts_impl(algorithm, use, origin, origin ? &g : NULL, n, dx, dy, k, o->threads, nx,
                          ny, err)))
        goto out;
    /* mean of the per-row digamma terms, summed in row order (Neumaier compensation) */
    double s = 0.0, comp = 0.0;
    int off = algorithm == 1 ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        double v = psi_count((size_t)nx[i] + (size_t)off) + psi_count((size_t)ny[i] + (size_t)off);
        double t = s + v;
        comp += fabs(s) >= fabs(v) ? (s - t) + v : (v - t) + s;
        s = t;
    }
    double mean = (s + comp) / (double)n;
    double base = gsl_sf_psi_int(k) + psi_count(n);
    if (origin) {
        /* row i has n - m_i other rows (m_i: its group's size), as in a data set of
         * n - m_i + 1 rows: psi(n) becomes mean_i psi(n - m_i + 1) = psi(n) - mean_i
         * sum_{t = n - m_i + 1}^{n - 1} 1/t (exactly psi(n) when every group is one row) */
        double corr = 0.0;
        for (size_t gi = 0; gi < g.count; gi++) {
            size_t m = g.start[gi + 1] - g.start[gi];
            double h = 0.0;
            for (size_t t = n - m + 1; t < n; t++) h += 1.0 / (double)t;
            corr += (double)m * h;
        }
        base -= corr / (double)n;
    }
    if (algorithm == 2) base -= 1.0 / (double)k;
    *mi = base - mean;
out:
    mist_est_groups_free(&g);
    free(prep);
    free(nx);
    free(ny);
    return rc;
}
