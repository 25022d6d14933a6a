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

typedef struct mist_task mist_task; /* opaque: a fully parameterised task */

/* Creates a task. params may be NULL when nparams == 0. Dims are the base dims (swissroll
 * turns a dx = 1 task into a dx = 2 dataset). Fails with MIST_EINVAL and a message for an
 * unknown name, impossible dims, unknown or out-of-range parameters. */
MIST_API int mist_task_create(mist_task **out, const char *name, int dx, int dy, const mist_param *params,
                              size_t nparams, uint64_t seed, mist_err *err);
MIST_API void mist_task_free(mist_task *t);

MIST_API double mist_task_mi(const mist_task *t);         /* exact I(X;Y) in nats */
/* The Monte-Carlo standard error of mist_task_mi: 0 for every family whose MI is exact (closed
 * form, finite sums or 1-D quadrature accurate to 1e-9 nats); at most 0.01 for the families
 * certified by Monte Carlo from their exact densities (mixture-*, categorical-gauss with
 * dy >= 2), whose draws come from a stream of the task seed (never the sample stream), and
 * recorded with the parameters as mi_se. */
MIST_API double mist_task_mi_se(const mist_task *t);
MIST_API const char *mist_task_name(const mist_task *t);  /* canonical name, e.g. "normal-dense-base" */
MIST_API int mist_task_out_dx(const mist_task *t);        /* columns of X in a sample */
MIST_API int mist_task_out_dy(const mist_task *t);
/* Every resolved parameter (explicit and drawn), in a stable order. */
MIST_API const mist_param *mist_task_params(const mist_task *t, size_t *nparams);
/* For normal and student tasks: the (dx+dy)^2 correlation/dispersion matrix S, row-major, and
 * the degrees of freedom (student; 0 for normal). NULL for additive and the channel,
 * mixture and categorical families. */
MIST_API const double *mist_task_matrix(const mist_task *t);
MIST_API double mist_task_nu(const mist_task *t);
/* For additive tasks: the dx noise half-widths eps_j. NULL otherwise. */
MIST_API const double *mist_task_eps(const mist_task *t);

/* Draws n rows into out (n x (out_dx + out_dy), row-major, X first) from the sample stream of
 * seed. Single-threaded and deterministic. */
MIST_API int mist_task_sample(const mist_task *t, size_t n, uint64_t seed, double *out, mist_err *err);

/* Draws the untransformed base rows (n x (dx+dy)) only: for tests and density checks.
 * The channel-*, mixture-* and categorical-* families (mist_gen_families) record their
 * parameters with the pair, component or class index (sigma2, mu3_1); categorical columns
 * hold the values 0..K-1. */
MIST_API int mist_task_sample_base(const mist_task *t, size_t n, uint64_t seed, double *out, mist_err *err);

/* Applies the task's transforms in place to one base row (length dx+dy) writing the output row
 * (length out_dx+out_dy) to out. Exposed for tests of injectivity and monotonicity. */
MIST_API int mist_task_transform_row(const mist_task *t, const double *base_row, double *out);

/* A task description: what a suite or a meta-distribution hands out. The spec owns params
 * (any number: additive noise at d = 32 has 32 eps values); a zeroed spec is empty and valid.
 * Copying a spec by value moves the ownership of params with it. */
typedef struct mist_task_spec {
    char task[MIST_TASK_NAME_LEN];
    int dx, dy; /* base dims */
    size_t n;
    uint64_t seed;
    mist_param *params; /* explicit parameters (NULL when nparams == 0), the rest drawn */
    size_t nparams;
    char id[64]; /* suite datasets: "bmi40-s0-0007"; empty otherwise */
    /* An MI-preserving transform chain (mist_mipt_*, e.g. "negate+rotate+swap") that
     * mist_gen_dataset applies after sampling with the seed mist_mipt_seed(seed); "" for none.
     * The `broad` meta-distribution draws one for every task. */
    char transform[MIST_TASK_NAME_LEN];
} mist_task_spec;

/* Appends name=value to spec->params. MIST_EINVAL for an empty name or one of
 * MIST_PARAM_NAME_LEN characters or more, MIST_ENOMEM when it cannot grow. */
MIST_API int mist_task_spec_add_param(mist_task_spec *spec, const char *name, double value,
                                      mist_err *err);
/* Deep copy: dst gets its own params (dst is overwritten, not cleared first). */
MIST_API int mist_task_spec_copy(mist_task_spec *dst, const mist_task_spec *src, mist_err *err);
/* Frees spec->params and leaves no parameters; the rest of the spec is kept. NULL is a no-op. */
MIST_API void mist_task_spec_clear(mist_task_spec *spec);
/* Clears every spec of an array, then frees the array (as returned by mist_suite_specs). */
MIST_API void mist_task_specs_free(mist_task_spec *specs, size_t count);

/* Creates the task of spec and samples spec->n rows into a dataset with full metadata, then
 * applies spec->transform (when not empty), recorded in the metadata's transform fields. */
MIST_API int mist_gen_dataset(mist_dataset **out, const mist_task_spec *spec, mist_err *err);

/* ---- exact MI formulas (exposed for tests and users) ------------------------------------ */
/* 1/2 (log det S_xx + log det S_yy - log det S), clipped at 0; S is (dx+dy)^2 row-major. */
MIST_API int mist_mi_gaussian(const double *S, int dx, int dy, double *mi, mist_err *err);
/* The Student-t correction c(nu, dx, dy). */
MIST_API double mist_mi_student_correction(double nu, int dx, int dy);
/* Uniform additive noise: per coordinate eps - log(2 eps) for eps <= 1/2, else 1/(4 eps). */
MIST_API double mist_mi_additive(const double *eps, int d);
/* Dense closed form. */
MIST_API double mist_mi_dense(double c, int dx, int dy);

/* ---- catalogue (for `mist gen --list` and the docs) ------------------------------------- */
typedef struct mist_catalog_entry {
    const char *name;
    const char *summary; /* one line: what it is, its parameters and default ranges */
} mist_catalog_entry;
MIST_API const mist_catalog_entry *mist_gen_bases(size_t *count);
/* The families named BASE-STRUCTURE beyond normal, student and additive (channel-sine, ...). */
MIST_API const mist_catalog_entry *mist_gen_families(size_t *count);
MIST_API const mist_catalog_entry *mist_gen_structures(size_t *count);
MIST_API const mist_catalog_entry *mist_gen_transforms(size_t *count);
MIST_API const mist_catalog_entry *mist_gen_suites(size_t *count);
MIST_API const mist_catalog_entry *mist_gen_metadists(size_t *count);

/* ---- meta-distributions ------------------------------------------------------------------ */
/* Draws task number index of the named meta-distribution ("default", ...) from seed:
 * deterministic in (name, seed, index) alone. spec is output only (not cleared first): clear a
 * spec with mist_task_spec_clear before drawing into it again. */
MIST_API int mist_metadist_draw(const char *name, uint64_t seed, uint64_t index, mist_task_spec *spec,
                                mist_err *err);
/* Whether the named meta-distribution is a mixture of two others ("mix2": "default" and
 * "broad2"): 1 with its parts in *a, *b and a's share in *share_a (any of them may be NULL),
 * 0 for a meta-distribution of its own families, -1 for an unknown name. */
MIST_API int mist_metadist_mixture(const char *name, const char **a, const char **b,
                                   double *share_a);

/* ---- suites ------------------------------------------------------------------------------ */
typedef struct mist_suite_opts {
    uint64_t suite_seed;
    size_t n; /* bmi40 and smoke: rows per dataset (0: the suite's default) */
} mist_suite_opts;

/* The dataset specs of a named suite for one suite seed; free them with mist_task_specs_free.
 * Each spec has its id and its own seed derived from (suite, suite seed, index); the official
 * suites (mist-imd-official, mist-oomd-official) derive it from (suite, suite seed, the
 * official sample seed) instead and fix every parameter. */
MIST_API int mist_suite_specs(const char *name, const mist_suite_opts *opts, mist_task_spec **specs,
                              size_t *count, mist_err *err);

/* ---- MI-preserving transforms of a dataset --------------------------------------------- */
/* Names: "none", "perm", "rotate", "swap", "flow", "negate". Each is a fixed bijection drawn
 * from a seed:
 *   perm    a random permutation of the X columns and an independent one of the Y columns;
 *   negate  an independent random sign (+1 or -1, each with probability 1/2) per column;
 *   rotate  a Haar-random orthogonal matrix mixing the X columns, another mixing the Y columns
 *           (a 1-column block gets a random sign: the Haar measure on O(1));
 *   swap    X and Y exchanged (dx and dy swap);
 *   flow    per block, 3 layers of h_j <- h_j + a_j tanh(b_j h_j + c_j) (a_j b_j in
 *           [-0.7, 2.5], so strictly increasing) followed by a Haar orthogonal mixing;
 *   none    the identity.
 * A chain "rotate+swap" applies its steps left to right; "none" steps are dropped. */
MIST_API int mist_mipt_known(const char *name); /* 1 when name is one of them */
MIST_API const char *const *mist_mipt_names(size_t *count);
/* 0 when chain is one name or several joined by '+', else MIST_EINVAL naming the bad part. */
MIST_API int mist_mipt_check(const char *chain, mist_err *err);
/* The transform seed of a dataset of seed dataset_seed: what `mist gen --transform` (and the
 * benchmark harness) pass to mist_mipt_apply, so one dataset always gets the same map. */
MIST_API uint64_t mist_mipt_seed(uint64_t dataset_seed);
/* Applies the named transform (or chain) to ds in place. seed: the dataset's transform seed;
 * the map depends on (name, seed, dx, dy) only (never on the data), so it is a fixed bijection
 * and MI is unchanged by construction. "swap" exchanges X and Y (ds->dx, ds->dy swap).
 * ds->meta.transform/transform_seed record what was done ("none" records nothing); a dataset
 * that carries a transform already gets the new steps appended when seed is the recorded one
 * (apply "a" then "b" == apply "a+b"), MIST_EINVAL otherwise. ds is unchanged on failure. */
MIST_API int mist_mipt_apply(mist_dataset *ds, const char *name, uint64_t seed, mist_err *err);

/* The map itself, for tests and users. Step k of a chain (counting non-"none" steps from 0)
 * draws from mist_seed_derive(seed, stream(name) + k), stream(name) the FNV-1a hash of the
 * name, and its X and Y maps from two sub-streams of that: perm and rotate of one dataset
 * are independent, and the Y map does not depend on dx. */
typedef struct mist_mipt mist_mipt; /* opaque */
MIST_API int mist_mipt_create(mist_mipt **out, const char *name, int dx, int dy, uint64_t seed,
                              mist_err *err);
MIST_API void mist_mipt_free(mist_mipt *m);
MIST_API int mist_mipt_out_dx(const mist_mipt *m);
MIST_API int mist_mipt_out_dy(const mist_mipt *m);
/* The canonical chain ("rotate+swap"; "" when every step was "none"). */
MIST_API const char *mist_mipt_chain(const mist_mipt *m);
/* n rows of dx+dy values in, n rows of out_dx+out_dy values out (row-major); out may equal in.
 * The inverse takes rows of out_dx+out_dy values; flow inverts each increasing 1-D map by a
 * bracketed Newton solve to full double precision and each mixing by its transpose. */
MIST_API int mist_mipt_forward(const mist_mipt *m, const double *in, size_t n, double *out,
                               mist_err *err);
MIST_API int mist_mipt_inverse(const mist_mipt *m, const double *in, size_t n, double *out,
                               mist_err *err);
/* log |det J| of the forward map at one input row (0 for perm, rotate, swap, negate, none). */
MIST_API int mist_mipt_log_jacobian(const mist_mipt *m, const double *row, double *logdet,
                                    mist_err *err);
/* Introspection of a one-step map (NULL otherwise); block 0 is X, 1 is Y (of the input).
 * perm: out column j of the block is in column p[j]. rotate (layer 0) and flow (layers 0..2):
 * the d x d orthogonal matrix, row-major, out = Q in. negate: the d signs (+1.0 or -1.0). */
MIST_API const int *mist_mipt_perm(const mist_mipt *m, int block);
MIST_API const double *mist_mipt_matrix(const mist_mipt *m, int block, int layer);
MIST_API const double *mist_mipt_signs(const mist_mipt *m, int block);

#ifdef __cplusplus
}
#endif
#endif
