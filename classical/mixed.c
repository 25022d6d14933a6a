/* The MI of a discrete variable and a continuous one (Ross 2014, "Mutual information between
 * discrete and continuous data sets", PLoS ONE 9: e87357; the estimator scikit-learn uses for
 * a discrete target). One block (X or Y) is discrete: its distinct rows are the classes. For
 * every row i of a class c with N_c rows, r_i is the max-norm distance (over the continuous
 * block, z-scored) to its k-th nearest neighbour within c, and m_i the number of rows of any
 * class closer than r_i (i itself included). Then
 *   I = psi(N) + <psi(k_i)> - <psi(N_c(i))> - <psi(m_i)>,  k_i = min(k, N_c - 1),
 * averages over the N rows of classes with at least two rows (a class of one row says nothing
 * about the spread within classes and is left out, as in scikit-learn).
 *
 * Why: KSG reads a categorical block through its tie-breaking noise, so its joint neighbours of
 * a tied row are the rows of the same class, found in an order the noise decides, and it reads
 * low. On new-families suite seeds 3-6 (python prototype, 120 datasets per family and shape,
 * n = 100 / 500 / 2,000) the MSE was: categorical-gauss 1x1 0.0024 (KSG 0.0043), 1x3 0.0022
 * (KSG 0.034, at n = 100 0.0050 against 0.088), categorical-softmax 0.0017 (KSG 0.0018).
 *
 * se: the standard deviation of the per-row terms over sqrt(N) (neighbouring rows share counts,
 * so callers that need an honest interval inflate it, as the guard does KSG's by 1.5; with it
 * the 90% interval covered 0.85-1.0 per shape and n on those seeds).
 *
 * Which block is discrete: the one with at most n/2 distinct rows while the other has more;
 * otherwise MIST_EDATA (both discrete: use `discrete`; neither: ksg1). Preprocessing as KSG's
 * (mist_ksg_prepare: z-scores and the 1e-10 tie-breaking noise of o->seed) on the continuous
 * block; the classes come from the values as given.
 *
 * Row origins (the bootstrap's resamples, est_internal.h): rows of one origin are one
 * observation, so the estimate is that of the distinct observations, each row's term weighted
 * by how many rows copy it. (Counting the copies as rows in N, N_c and m_i, as KSG does, put
 * the percentile bootstrap's 90% interval around the truth in 25-29% of the categorical-gauss
 * and -softmax datasets of suite seeds 1-2: the resamples read systematically high.) */
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "est_internal.h"
#include "kdtree.h"
#include "mist_classical.h"
#include "util.h"

#define MIXED_LEAF 16

static double psi_count(size_t m)
{
    return m <= 1000000 ? gsl_sf_psi_int((int)m) : gsl_sf_psi((double)m);
}

/* The estimate on n distinct rows, the mean of the per-row terms weighted by w (NULL: 1). */
static int mixed_core(const double *data, const double *w, size_t n, int dx, int dy,
                      const mist_est_opts *o, double *mi, double *se, mist_err *err)
{
    int cols = dx + dy, k = o->k, rc;
    size_t *cx = malloc(n * sizeof *cx), *cy = malloc(n * sizeof *cy);
    size_t *order = malloc(n * sizeof *order), *pos = malloc(n * sizeof *pos);
    size_t *start = NULL, *kk = malloc(n * sizeof *kk), *nbr = malloc((size_t)k * sizeof *nbr);
    double *prep = malloc(n * (size_t)cols * sizeof *prep), *cont = NULL, *buf = NULL;
    double *rad = malloc(n * sizeof *rad), *dist = malloc((size_t)k * sizeof *dist);
    mist_kdtree tree = {0};
    if (!cx || !cy || !order || !pos || !kk || !nbr || !prep || !rad || !dist) {
        rc = mist_fail(err, MIST_ENOMEM, "mixed: out of memory for %zu rows", n);
        goto out;
    }
    size_t mx, my;
    if ((rc = mist_est_block_cells(data, n, cols, 0, dx, cx, &mx, err)) ||
        (rc = mist_est_block_cells(data, n, cols, dx, cols, cy, &my, err)))
        goto out;
    int disc_x = mx <= n / 2 && my > n / 2, disc_y = my <= n / 2 && mx > n / 2;
    if (!disc_x && !disc_y) {
        rc = mist_fail(err, MIST_EDATA,
                       "mixed: needs one discrete block (at most n/2 distinct rows) and one "
                       "continuous block (more): X has %zu distinct rows, Y %zu, of %zu; %s",
                       mx, my, n,
                       mx <= n / 2 ? "both discrete: use discrete" : "neither: use ksg1");
        goto out;
    }
    const size_t *cls = disc_x ? cx : cy;
    size_t ncls = disc_x ? mx : my;
    int c0 = disc_x ? dx : 0, dc = disc_x ? dy : dx;

    /* the continuous block, preprocessed as KSG's */
    if ((rc = mist_ksg_prepare(prep, data, n, dx, dy, o, err))) goto out;
    cont = malloc(n * (size_t)dc * sizeof *cont);
    buf = malloc(n * (size_t)dc * sizeof *buf);
    start = calloc(ncls + 1, sizeof *start);
    if (!cont || !buf || !start) {
        rc = mist_fail(err, MIST_ENOMEM, "mixed: out of memory for %zu rows", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(cont + i * (size_t)dc, prep + i * (size_t)cols + c0, (size_t)dc * sizeof *cont);

    /* rows by class (counting sort, rows ascending within a class) */
    for (size_t i = 0; i < n; i++) start[cls[i] + 1]++;
    for (size_t c = 0; c < ncls; c++) start[c + 1] += start[c];
    memset(pos, 0, n * sizeof *pos);
    for (size_t i = 0; i < n; i++) order[start[cls[i]] + pos[cls[i]]++] = i;

    /* r_i: the distance to the k_i-th nearest other row of the class */
    size_t nkept = 0;
    for (size_t c = 0; c < ncls; c++) {
        size_t a = start[c], nc = start[c + 1] - a;
        if (nc < 2) {
            if (nc) kk[order[a]] = 0;
            continue;
        }
        for (size_t j = 0; j < nc; j++)
            memcpy(buf + j * (size_t)dc, cont + order[a + j] * (size_t)dc,
                   (size_t)dc * sizeof *buf);
        if ((rc = mist_kdtree_build(&tree, buf, nc, (size_t)dc, dc, MIXED_LEAF, err))) goto out;
        int ki = nc - 1 < (size_t)k ? (int)(nc - 1) : k;
        for (size_t j = 0; j < nc; j++) {
            mist_kdtree_knn(&tree, buf + j * (size_t)dc, j, NULL, ki, 0, dist, nbr);
            kk[order[a + j]] = (size_t)ki;
            rad[order[a + j]] = dist[ki - 1];
        }
        mist_kdtree_free(&tree);
        nkept += nc;
    }
    if (nkept < 2) {
        rc = mist_fail(err, MIST_EDATA, "mixed: no class with two distinct rows (%zu classes, %zu "
                                        "rows)", ncls, n);
        goto out;
    }

    /* m_i: the rows of kept classes closer than r_i, i itself included */
    size_t nk = 0;
    for (size_t i = 0; i < n; i++)
        if (kk[i]) memcpy(buf + nk++ * (size_t)dc, cont + i * (size_t)dc, (size_t)dc * sizeof *buf);
    if ((rc = mist_kdtree_build(&tree, buf, nk, (size_t)dc, dc, MIXED_LEAF, err))) goto out;
    double *term = prep, sw = 0.0, sum = 0.0, base = psi_count(nkept); /* prep is spent */
    for (size_t i = 0; i < n; i++) {
        if (!kk[i]) continue;
        size_t m = mist_kdtree_count(&tree, cont + i * (size_t)dc, rad[i], 1);
        if (m < 1) m = 1; /* r_i = 0 (tied values without noise): the row alone */
        size_t nc = start[cls[i] + 1] - start[cls[i]];
        double wi = w ? w[i] : 1.0;
        term[i] = base + psi_count(kk[i]) - psi_count(nc) - psi_count(m);
        sw += wi;
        sum += wi * term[i];
    }
    double mean = sum / sw;
    *mi = mean;
    if (se) { /* weights count rows: the spread over sw rows */
        double dev2 = 0.0;
        for (size_t i = 0; i < n; i++)
            if (kk[i]) dev2 += (w ? w[i] : 1.0) * (term[i] - mean) * (term[i] - mean);
        *se = sw > 1.0 ? sqrt(dev2 / (sw - 1.0) / sw) : NAN;
    }
out:
    mist_kdtree_free(&tree);
    free(cx);
    free(cy);
    free(order);
    free(pos);
    free(start);
    free(kk);
    free(nbr);
    free(prep);
    free(cont);
    free(buf);
    free(rad);
    free(dist);
    return rc;
}

int mist_mixed_mi_ex(const double *data, const size_t *origin, size_t n, int dx, int dy,
                     const mist_est_opts *o, double *mi, double *se, mist_err *err)
{
    mist_est_opts defaults;
    if (!o) {
        mist_est_opts_default(&defaults);
        o = &defaults;
    }
    int rc = mist_est_check_input("mixed", data, n, dx, dy, (size_t)o->k + 2, err);
    if (rc) return rc;
    if (!mi) return mist_fail(err, MIST_EINVAL, "mixed: result pointer is NULL");
    if (o->k < 1) return mist_fail(err, MIST_EINVAL, "mixed: k must be >= 1 (got %d)", o->k);
    if (!origin) return mixed_core(data, NULL, n, dx, dy, o, mi, se, err);
    /* one row per origin (its first), weighted by its copies */
    size_t cols = (size_t)dx + (size_t)dy;
    mist_est_groups g;
    if ((rc = mist_est_groups_build(&g, origin, n, err))) return rc;
    double *u = malloc((g.count ? g.count : 1) * cols * sizeof *u);
    double *w = malloc((g.count ? g.count : 1) * sizeof *w);
    if (!u || !w) {
        rc = mist_fail(err, MIST_ENOMEM, "mixed: out of memory for %zu rows", n);
        goto out;
    }
    for (size_t j = 0; j < g.count; j++) {
        memcpy(u + j * cols, data + g.rows[g.start[j]] * cols, cols * sizeof *u);
        w[j] = (double)(g.start[j + 1] - g.start[j]);
    }
    if (g.count < (size_t)o->k + 2) {
        rc = mist_fail(err, MIST_EDATA, "mixed: %zu distinct rows, fewer than k + 2 = %d",
                       g.count, o->k + 2);
        goto out;
    }
    rc = mixed_core(u, w, g.count, dx, dy, o, mi, se, err);
out:
    mist_est_groups_free(&g);
    free(u);
    free(w);
    return rc;
}

int mist_mixed_mi(const double *data, size_t n, int dx, int dy, const mist_est_opts *o,
                  double *mi, double *se, mist_err *err)
{
    return mist_mixed_mi_ex(data, NULL, n, dx, dy, o, mi, se, err);
}
