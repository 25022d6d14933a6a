/* mist generator: synthetic joint distributions with exactly known mutual information.
 * A task is BASE-STRUCTURE[-TRANSFORM[+TRANSFORM...]] at dims DXxDY with parameters; every
 * parameter not given is drawn from its default range with the task seed (and recorded).
 * Sampling uses a separate stream of the same seed, so the parameters of a seed do not
 * depend on n, and the first rows of a larger sample equal a smaller sample's rows. */
#ifndef MIST_GEN_H
#define MIST_GEN_H

#include "mist_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MIST_GEN_VERSION "mist-gen 1"
#define MIST_MAX_TASK_PARAMS 16

typedef struct mist_task mist_task; /* opaque: a fully parameterised task */

/* Creates a task. params may be NULL when nparams == 0. Dims are the base dims (swissroll
 * turns a dx = 1 task into a dx = 2 dataset). Fails with MIST_EINVAL and a message for an
 * unknown name, impossible dims, unknown or out-of-range parameters. */
int mist_task_create(mist_task **out, const char *name, int dx, int dy, const mist_param *params,
                     size_t nparams, uint64_t seed, mist_err *err);
void mist_task_free(mist_task *t);

double mist_task_mi(const mist_task *t);         /* exact I(X;Y) in nats */
const char *mist_task_name(const mist_task *t);  /* canonical name, e.g. "normal-dense-base" */
int mist_task_out_dx(const mist_task *t);        /* columns of X in a sample */
int mist_task_out_dy(const mist_task *t);
/* Every resolved parameter (explicit and drawn), in a stable order. */
const mist_param *mist_task_params(const mist_task *t, size_t *nparams);
/* For normal and student tasks: the (dx+dy)^2 correlation/dispersion matrix S, row-major, and
 * the degrees of freedom (student; 0 for normal). NULL for additive. */
const double *mist_task_matrix(const mist_task *t);
double mist_task_nu(const mist_task *t);
/* For additive tasks: the dx noise half-widths eps_j. NULL otherwise. */
const double *mist_task_eps(const mist_task *t);

/* Draws n rows into out (n x (out_dx + out_dy), row-major, X first) from the sample stream of
 * seed. Single-threaded and deterministic. */
int mist_task_sample(const mist_task *t, size_t n, uint64_t seed, double *out, mist_err *err);

/* Draws the untransformed base rows (n x (dx+dy)) only: for tests and density checks. */
int mist_task_sample_base(const mist_task *t, size_t n, uint64_t seed, double *out, mist_err *err);

/* Applies the task's transforms in place to one base row (length dx+dy) writing the output row
 * (length out_dx+out_dy) to out. Exposed for tests of injectivity and monotonicity. */
int mist_task_transform_row(const mist_task *t, const double *base_row, double *out);

/* A task description: what a suite or a meta-distribution hands out. */
typedef struct mist_task_spec {
    char task[MIST_TASK_NAME_LEN];
    int dx, dy; /* base dims */
    size_t n;
    uint64_t seed;
    mist_param params[MIST_MAX_TASK_PARAMS]; /* explicit parameters, the rest drawn */
    size_t nparams;
    char id[64]; /* suite datasets: "bmi40-s0-0007"; empty otherwise */
} mist_task_spec;

/* Creates the task of spec and samples spec->n rows into a dataset with full metadata. */
int mist_gen_dataset(mist_dataset **out, const mist_task_spec *spec, mist_err *err);

/* ---- exact MI formulas (exposed for tests and users) ------------------------------------ */
/* 1/2 (log det S_xx + log det S_yy - log det S), clipped at 0; S is (dx+dy)^2 row-major. */
int mist_mi_gaussian(const double *S, int dx, int dy, double *mi, mist_err *err);
/* The Student-t correction c(nu, dx, dy). */
double mist_mi_student_correction(double nu, int dx, int dy);
/* Uniform additive noise: per coordinate eps - log(2 eps) for eps <= 1/2, else 1/(4 eps). */
double mist_mi_additive(const double *eps, int d);
/* Dense closed form. */
double mist_mi_dense(double c, int dx, int dy);

/* ---- catalogue (for `mist gen --list` and the docs) ------------------------------------- */
typedef struct mist_catalog_entry {
    const char *name;
    const char *summary; /* one line: what it is, its parameters and default ranges */
} mist_catalog_entry;
const mist_catalog_entry *mist_gen_bases(size_t *count);
const mist_catalog_entry *mist_gen_structures(size_t *count);
const mist_catalog_entry *mist_gen_transforms(size_t *count);
const mist_catalog_entry *mist_gen_suites(size_t *count);
const mist_catalog_entry *mist_gen_metadists(size_t *count);

/* ---- meta-distributions ------------------------------------------------------------------ */
/* Draws task number index of the named meta-distribution ("default", ...) from seed:
 * deterministic in (name, seed, index) alone. */
int mist_metadist_draw(const char *name, uint64_t seed, uint64_t index, mist_task_spec *spec,
                       mist_err *err);

/* ---- suites ------------------------------------------------------------------------------ */
typedef struct mist_suite_opts {
    uint64_t suite_seed;
    size_t n; /* bmi40 and smoke: rows per dataset (0: the suite's default) */
} mist_suite_opts;

/* The dataset specs of a named suite for one suite seed; *specs is malloc'ed. Each spec has
 * its id and its own seed derived from (suite, suite seed, index). */
int mist_suite_specs(const char *name, const mist_suite_opts *opts, mist_task_spec **specs,
                     size_t *count, mist_err *err);

#ifdef __cplusplus
}
#endif
#endif
