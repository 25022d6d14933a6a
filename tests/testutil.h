/* Small helpers shared by the Check suites. */
#ifndef MIST_TESTUTIL_H
#define MIST_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "mist_gen.h"
#include "mist_guard.h"
#include "mist_infer.h"

/* A fresh empty folder (mkdtemp) under this program's scratch root in the build tree's tests
 * folder; returns its path (static: copy it to keep it). tu_run removes the root with all its
 * folders at the end. */
const char *tu_tmpdir(const char *tag);
/* Reads a whole file; *len receives its size; the bytes are followed by a NUL (not counted).
 * NULL when it cannot be read. Caller frees. */
unsigned char *tu_slurp(const char *path, size_t *len);
/* Writes len bytes to path (not atomically: tests build malformed files on purpose). */
void tu_write(const char *path, const void *bytes, size_t len);
/* Runs one suite; returns the number of failures. */
int tu_run(Suite *s);
/* A test case named name in suite s holding the tests given (NULL-terminated), with a per-test
 * time limit of timeout seconds (0: the environment's CK_DEFAULT_TIMEOUT). Returns the case, for
 * loop tests added afterwards. */
TCase *tu_case(Suite *s, const char *name, double timeout, ...);
/* A suite of one such case, run: the failures (a whole main for a single-case suite). */
int tu_run_case(const char *name, double timeout, ...);

/* Generator tasks from a parameter text "k=v,k=v" (at most TU_MAX_PARAMS pairs). */
#define TU_MAX_PARAMS 32
size_t tu_parse_params(const char *text, mist_param *p);
int tu_try_make_task(mist_task **t, const char *name, int dx, int dy, const char *params,
                     uint64_t seed, mist_err *err);
/* n rows of a task with one parameter (pname NULL: none), sampled with seed; *mi (may be
 * NULL) receives the true MI. The test fails naming the task when it cannot be made. Caller
 * frees. */
double *tu_task_data(const char *task, int dx, int dy, const char *pname, double pval,
                     uint64_t seed, size_t n, double *mi);
/* The task, or the test fails naming it. */
mist_task *tu_make_task(const char *name, int dx, int dy, const char *params, uint64_t seed);

/* Test data streams (xorshift64*): a suite keeps its own state, so the same seed gives the same
 * data. next: 64 random bits; unif: [0, 1) with 53 bits; norm: N(0, 1) by Box-Muller. */
uint64_t tu_rnext(uint64_t *state);
double tu_runif(uint64_t *state);
double tu_rnorm(uint64_t *state);

/* A random quantile model taking up to 4 columns per side ("tiny" preset): the split layout
 * with copula inputs, or (packed) the official layout on raw values, dx = dy; its parameters
 * nudged by 0.1 N(0, 1) draws from *rng; raw quantiles. The test fails when it cannot be made. */
mist_model *tu_position_model(uint64_t seed, int packed, uint64_t *rng);
/* n rows in which every column depends on the others at its own strength (dependence across
 * the blocks at aligned and crossed positions), the last one non-monotonely; draws from *rng.
 * Caller frees. */
double *tu_dependent_rows(size_t n, int dx, int dy, uint64_t *rng);

/* What a model trained on the default meta-distribution (n 10..500, dims 1..32) said: its 5%,
 * 50% and 95% quantiles. */
mist_guard_model tu_guard_model(double lower, double median, double upper);

#endif
