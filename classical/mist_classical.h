/* mist classical estimators: KSG (two algorithms), Gaussian/CCA, histogram, KDE, the plug-in for
 * discrete data, each with the
 * copula option and percentile bootstrap intervals, behind one dispatcher by name.
 * All take n rows of dx+dy float64 values (row-major, X first) and return nats. */
#ifndef MIST_CLASSICAL_H
#define MIST_CLASSICAL_H

#include "mist_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mist_est_opts {
    int k;              /* KSG neighbours (default 5) */
    int zscore;         /* KSG: z-score columns first (default 1) */
    double noise;       /* KSG: std of the tie-breaking Gaussian noise after z-scoring (1e-10; 0 off) */
    int bins;           /* histogram bins per axis (0: ceil(n^(1/(dx+dy+2)))) */
    int miller_madow;   /* histogram: Miller-Madow correction (default 0) */
    double bandwidth;   /* KDE bandwidth h in z-score units, all spaces (0: Scott's n^(-1/(d+4))) */
    int copula;         /* replace every column by normal scores first (default 0) */
    int unbiased;       /* gaussian: subtract the estimate's finite-sample bias for Gaussian
                         * data (mist_gaussian_mi_bias); the result can be negative (default 0) */
    uint64_t seed;      /* noise and bootstrap resampling */
    int threads;        /* worker threads (default 1); results do not depend on it */
    /* intervals */
    int bootstrap;      /* B resamples (0: no interval) */
    double ci;          /* interval level, e.g. 0.9 */
    /* Called after each bootstrap resample with how many are done of B, from the worker
     * threads (so it must be thread-safe); NULL: none. For a progress display only. */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} mist_est_opts;

/* The defaults above. */
MIST_API void mist_est_opts_default(mist_est_opts *o);

typedef struct mist_est_result {
    double estimate;      /* on the full data */
    double lower, upper;  /* NaN without an interval */
    int n_boot_failed;    /* resamples on which the estimator failed (excluded) */
} mist_est_result;

/* Estimators by name: "ksg1", "ksg2", "gaussian", "histogram", "kde", "discrete", "mixed". */
MIST_API int mist_est_known(const char *name);
/* The version of an estimator's answers (1 at first; bumped whenever a change moves them, so that
 * stored results can tell which code made them); 0 for an unknown name. */
MIST_API int mist_est_version(const char *name);
MIST_API const char *const *mist_est_names(size_t *count);

/* Runs the named estimator (with the copula option and the bootstrap interval when the options
 * ask for them). Rejects NaN/Inf, dx or dy < 1, and n too small for the method. */
MIST_API int mist_estimate_classical(const char *name, const double *data, size_t n, int dx, int dy,
                                     const mist_est_opts *o, mist_est_result *res, mist_err *err);

/* The point estimate on a resample: m rows of data (n rows) picked by rows[0..m) (each < n,
 * repeats allowed), as the bootstrap intervals see a resample: KSG and KDE treat the copies of
 * one row as that row itself, gaussian and histogram weight a row by its multiplicity; the
 * copula (when on) ranks the resample. o->bootstrap is ignored; o->seed seeds KSG's noise.
 * The harness scores estimators the MIST paper's way with it (mean error over resamples). */
MIST_API int mist_estimate_classical_rows(const char *name, const double *data, size_t n, int dx, int dy,
                                          const size_t *rows, size_t m, const mist_est_opts *o, double *mi,
                                          mist_err *err);

/* The estimators themselves: point estimates on the data as given (no copula, no bootstrap). */
MIST_API int mist_ksg(int algorithm, const double *data, size_t n, int dx, int dy, const mist_est_opts *o,
                      double *mi, mist_err *err);
MIST_API int mist_gaussian_mi(const double *data, size_t n, int dx, int dy, double *mi, mist_err *err);
/* E[gaussian estimate] - I for Gaussian data with n rows: 1/2 (s(dx) + s(dy) - s(dx + dy)),
 * s(p) = sum_{i=1..p} digamma((n - i) / 2). Depends on n, dx, dy only; needs n > dx + dy. */
MIST_API int mist_gaussian_mi_bias(size_t n, int dx, int dy, double *bias, mist_err *err);
MIST_API int mist_histogram_mi(const double *data, size_t n, int dx, int dy, const mist_est_opts *o,
                               double *mi, mist_err *err);
MIST_API int mist_kde_mi(const double *data, size_t n, int dx, int dy, const mist_est_opts *o, double *mi,
                         mist_err *err);

/* The MI of discrete data (discrete.c): every distinct X row and Y row is a cell of the joint
 * table; the mean of the jackknife-corrected plug-in and the Chao-Shen (coverage-adjusted)
 * estimate. se (may be NULL): a standard error (the
 * jackknife's, the gap to the Miller-Madow correction, and the plug-in's spread under
 * independence, in quadrature). MIST_EDATA when more than n/2 rows are
 * distinct (continuous or too sparse for a table), with NaN/Inf, or n < 2. */
MIST_API int mist_discrete_mi(const double *data, size_t n, int dx, int dy, double *mi, double *se,
                              mist_err *err);

/* The MI of one discrete block and one continuous block (mixed.c; Ross 2014): the discrete
 * block's distinct rows are classes, the continuous block is z-scored with KSG's tie-breaking
 * noise (o->k neighbours, o->seed, o->noise; NULL: defaults). se (may be NULL): the per-row
 * terms' standard error. MIST_EDATA unless exactly one block has at most n/2 distinct rows. */
MIST_API int mist_mixed_mi(const double *data, size_t n, int dx, int dy, const mist_est_opts *o,
                           double *mi, double *se, mist_err *err);

/* Normal scores Phi^-1(rank/(n+1)) per column, average ranks for ties; out may equal data. */
MIST_API int mist_copula_transform(double *out, const double *data, size_t n, int cols, mist_err *err);

/* KSG internals exposed for the brute-force tests: per-row counts on prepared data (no
 * z-scoring or noise applied here). nx, ny receive n_x(i), n_y(i) as defined by the algorithm
 * (strict < eps for 1, <= eps_x/eps_y for 2). ksg2 ties at the k-th joint distance: the row
 * with the smaller index is the neighbour. threads <= 1 runs on the calling thread.
 * MIST_EINVAL for a bad algorithm, k, dx or dy; MIST_EDATA for n <= k or NaN/Inf. */
MIST_API int mist_ksg_counts(int algorithm, const double *data, size_t n, int dx, int dy, int k,
                             int threads, int *nx, int *ny, mist_err *err);
/* Same counts by O(n^2) brute force: the reference. */
MIST_API int mist_ksg_counts_brute(int algorithm, const double *data, size_t n, int dx, int dy, int k,
                                   int *nx, int *ny, mist_err *err);
/* The KSG preprocessing into out (n x (dx+dy)); out may equal data. z-scoring divides by the
 * population std (1/n) and turns a constant column into zeros; the tie-breaking noise
 * N(0, noise^2) is added even when zscore is off (then in data units), drawn row by row from
 * the stream of mist_seed_derive(seed, "ksgnoise"). NaN/Inf give MIST_EDATA. */
MIST_API int mist_ksg_prepare(double *out, const double *data, size_t n, int dx, int dy,
                              const mist_est_opts *o, mist_err *err);

#ifdef __cplusplus
}
#endif
#endif
