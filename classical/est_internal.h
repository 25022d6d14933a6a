/* Internal helpers shared by the non-KSG classical estimators, the dispatcher and the
 * bootstrap (not installed, not part of the public API). */
#ifndef MIST_EST_INTERNAL_H
#define MIST_EST_INTERNAL_H

#include <stddef.h>

#include "mist_classical.h"

/* Estimator indices in the order of mist_est_names(). */
enum { MIST_EST_KSG1, MIST_EST_KSG2, MIST_EST_GAUSSIAN, MIST_EST_HISTOGRAM, MIST_EST_KDE,
       MIST_EST_COUNT };

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
 * hands over its resample buffer and saves a copy per resample. */
int mist_est_point_inplace(int method, double *data, size_t n, int dx, int dy,
                           const mist_est_opts *o, double *mi, mist_err *err);

/* Percentile bootstrap (see bootstrap.c): fills lower, upper, n_failed. */
int mist_est_bootstrap(int method, const double *data, size_t n, int dx, int dy,
                       const mist_est_opts *o, double *lower, double *upper, int *n_failed,
                       mist_err *err);

#endif
