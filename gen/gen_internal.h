/* Private to gen/: the task structure shared by parsing, MI, sampling and transforms. */
#ifndef MIST_GEN_INTERNAL_H
#define MIST_GEN_INTERNAL_H

#include "mist_gen.h"

enum gen_base { BASE_NORMAL, BASE_STUDENT, BASE_ADDITIVE };
enum gen_structure { STRUCT_NONE, STRUCT_DENSE, STRUCT_SPARSE, STRUCT_2PAIR, STRUCT_LVM,
                     STRUCT_IDENTITY };
enum gen_transform { TR_BASE, TR_NORMAL_CDF, TR_HALFCUBE, TR_ASINH, TR_WIGGLY, TR_BIMODAL,
                     TR_SPIRAL, TR_SWISSROLL };

#define GEN_MAX_TRANSFORMS 8
#define GEN_PI 3.14159265358979323846

struct mist_task {
    char name[MIST_TASK_NAME_LEN]; /* canonical */
    enum gen_base base;
    enum gen_structure structure;
    enum gen_transform transforms[GEN_MAX_TRANSFORMS];
    int ntransforms;
    int dx, dy;         /* base dims */
    int out_dx, out_dy; /* after transforms (swissroll: out_dx = 2) */
    double *S;          /* (dx+dy)^2 correlation (normal) / dispersion (student) */
    double *L;          /* its lower Cholesky factor, row-major */
    double nu;          /* student degrees of freedom, 0 for normal */
    double *eps;        /* additive half-widths, dx entries */
    double mi;
    mist_param *params; /* resolved parameters, in the order they were resolved */
    size_t nparams;
};

/* Lower Cholesky factor of the d x d row-major S into L (zeros above the diagonal).
 * MIST_ENUMERIC when S is not positive definite. Also returns log det S when logdet != NULL. */
int gen_cholesky(const double *S, int d, double *L, double *logdet, mist_err *err);

/* Fills t->S for the structure and its resolved parameter values. */
void gen_lvm_matrix(double *S, int dx, int dy, int K, double alpha, double beta, double lambda,
                    double eta);
void gen_dense_matrix(double *S, int dx, int dy, double c);

/* Transforms: is this one per coordinate, and apply it to a value of X (is_y = 0) or Y. */
double gen_transform_scalar(enum gen_transform tr, double v, int is_y);
const char *gen_transform_name(enum gen_transform tr);

/* Standard normal CDF and survival function, accurate in the tails. */
double gen_phi(double x);
double gen_phi_upper(double x);

/* The official MIST test task lists, embedded at build time from gen/data/ (the generated
 * mist_official_*.c in the build tree): the CSV bytes, not NUL-terminated. */
extern const unsigned char gen_official_imd_csv[];
extern const size_t gen_official_imd_csv_len;
extern const unsigned char gen_official_oomd_csv[];
extern const size_t gen_official_oomd_csv_len;

/* Parses one embedded task list into specs (task, dx = dy = d, n, exact parameters; no id or
 * seed) and the official sample seed of each row. A malformed row is an internal error
 * (MIST_EFORMAT naming suite and line). Free with mist_task_specs_free and free. */
int gen_official_parse(const char *suite, const unsigned char *csv, size_t len,
                       mist_task_spec **specs, uint64_t **sample_seeds, size_t *count,
                       mist_err *err);

#endif
