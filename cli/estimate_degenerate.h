/* mist estimate on data that settle the answer before any estimator runs
 * (estimate_degenerate.c). */
#ifndef MIST_CLI_ESTIMATE_DEGENERATE_H
#define MIST_CLI_ESTIMATE_DEGENERATE_H

#include <stddef.h>

#include "mist_core.h"

/* 1 when every X column or every Y column is constant: then X or Y carries no information and
 * I(X;Y) = 0 exactly, whatever an estimator would print (the shipped model printed 24 nats on
 * all-zero data). why receives which side. *constant_col (may be NULL) receives the first
 * constant column (0-based, X first), -1 when none. */
int estimate_constant_side(const mist_dataset *ds, char *why, size_t whysz, int *constant_col);

/* Prints the answer 0 for such data (text or JSON, as mist estimate prints answers), exact for
 * these rows, with the interval [0, mist_constant_side_upper(n, ci)] for the distribution they
 * came from, and a note on stderr. */
void estimate_print_exact_zero(const char *method, const mist_dataset *ds, const char *why,
                               double ci, int json);

#endif
