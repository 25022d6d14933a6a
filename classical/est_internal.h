/* Internal helpers shared by the classical estimators, the dispatcher and the bootstrap (not
 * installed, not part of the public API).
 *
 * Row origins. Several entry points take `const size_t *origin`: NULL, or one value per row
 * naming the original row it copies (the bootstrap passes its resample indices). Rows with the
 * same origin are one observation drawn several times: the nearest-neighbour and kernel
 * estimators treat a row's copies as the row itself (KSG: never its neighbours, never in its
 * counts; KDE: its kernel counted once, see kde.c), so that a resample's repeated rows do not
 * look like a cluster of near-identical distinct observations. origin = NULL: every row is
 * distinct, exactly the behaviour (and the bits) of the public functions. */
#ifndef MIST_EST_INTERNAL_H
#define MIST_EST_INTERNAL_H

#include <math.h>
#include <stddef.h>

#include "mist_classical.h"

/* Estimator indices in the order of mist_est_names(). */
enum { MIST_EST_KSG1, MIST_EST_KSG2, MIST_EST_GAUSSIAN, MIST_EST_HISTOGRAM, MIST_EST_KDE,
       MIST_EST_DISCRETE, MIST_EST_MIXED, MIST_EST_COUNT };

/* Writes "x3" / "y1" (1-based within the block) for 0-based joint column j. */
void mist_est_col_label(char *buf, size_t len, int j, int dx);

/* The checks every estimator makes on its input: data not NULL, dx, dy >= 1, sizes that do not
 * overflow, n >= min_n, every value finite (the first bad one named by row and column, 1-based).
 * method prefixes the message. */
int mist_est_check_input(const char *method, const double *data, size_t n, int dx, int dy,
                         size_t min_n, mist_err *err);

/* The point estimate of estimator `method` on data as given, applying the copula transform first
 * when o->copula (on a private copy: data is not modified). Input already validated. */
int mist_est_point(int method, const double *data, size_t n, int dx, int dy,
                   const mist_est_opts *o, double *mi, mist_err *err);

/* Same, but data is scratch the call may overwrite (the copula runs in place): the bootstrap
 * hands over its resample buffer and saves a copy per resample. origin: see above (used by
 * ksg1, ksg2 and kde; gaussian and histogram are plug-in estimators that weight a repeated row
 * by its multiplicity, which is already right). */
int mist_est_point_inplace(int method, double *data, const size_t *origin, size_t n, int dx,
                           int dy, const mist_est_opts *o, double *mi, mist_err *err);

/* mist_ksg, mist_ksg_counts, mist_ksg_counts_brute and mist_kde_mi with row origins (NULL: the
 * public functions, same results bit for bit). KSG needs at least k rows of other origins for
 * every row (MIST_EDATA otherwise); the counts follow the rule above on the data as given,
 * mist_ksg_ex also gives a group's rows identical preprocessed values and uses the per-row
 * number of other rows in psi(n) (see ksg.c); mist_kde_mi_ex: see kde.c. */
int mist_ksg_ex(int algorithm, const double *data, const size_t *origin, size_t n, int dx, int dy,
                const mist_est_opts *o, double *mi, mist_err *err);
int mist_ksg_counts_ex(int algorithm, const double *data, const size_t *origin, size_t n, int dx,
                       int dy, int k, int threads, int *nx, int *ny, mist_err *err);
int mist_ksg_counts_brute_ex(int algorithm, const double *data, const size_t *origin, size_t n,
                             int dx, int dy, int k, int *nx, int *ny, mist_err *err);
int mist_kde_mi_ex(const double *data, const size_t *origin, size_t n, int dx, int dy,
                   const mist_est_opts *o, double *mi, mist_err *err);

/* Cell ids of the rows over columns c0..c1-1 (data of stride cols): equal rows, equal ids,
 * numbered 0..m-1 (discrete.c). */
int mist_est_block_cells(const double *data, size_t n, int cols, int c0, int c1, size_t *id,
                         size_t *m, mist_err *err);

/* mist_mixed_mi with row origins (see above): rows of one origin are one observation, never
 * each other's neighbours, counted once (mixed.c). */
int mist_mixed_mi_ex(const double *data, const size_t *origin, size_t n, int dx, int dy,
                     const mist_est_opts *o, double *mi, double *se, mist_err *err);

/* Rows grouped by origin (groups.c): the rows of group g are rows[start[g] .. start[g+1])
 * (ascending), row i is in group of[i]; count groups, max: the largest. */
typedef struct mist_est_groups {
    size_t *start, *rows, *of;
    size_t count, max;
} mist_est_groups;
int mist_est_groups_build(mist_est_groups *g, const size_t *origin, size_t n, mist_err *err);
void mist_est_groups_free(mist_est_groups *g);

/* Percentile bootstrap (see bootstrap.c): fills lower, upper, n_failed. */
int mist_est_bootstrap(int method, const double *data, size_t n, int dx, int dy,
                       const mist_est_opts *o, double *lower, double *upper, int *n_failed,
                       mist_err *err);

/* The max-norm distance between two points of d coordinates (KSG's metric, in every variant
 * and in the brute-force reference). */
static inline double mist_est_maxnorm(const double *a, const double *b, int d)
{
    double m = 0.0;
    for (int c = 0; c < d; c++) {
        double v = fabs(a[c] - b[c]);
        if (v > m) m = v;
    }
    return m;
}

#endif
