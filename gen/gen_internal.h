/* Private to gen/: the task structure shared by parsing, MI, sampling and transforms. */
#ifndef MIST_GEN_INTERNAL_H
#define MIST_GEN_INTERNAL_H

#include <gsl/gsl_rng.h>

#include "mist_gen.h"

/* BASE_FAMILY: one of the families of gen/families.c (channel, mixture, categorical), whose
 * parameters, MI and sampler live behind t->family. */
enum gen_base { BASE_NORMAL, BASE_STUDENT, BASE_ADDITIVE, BASE_FAMILY };
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
    double mi_se;       /* Monte-Carlo standard error of mi; 0 when mi is exact */
    mist_param *params; /* resolved parameters, in the order they were resolved */
    size_t nparams;
    const struct gen_family *family; /* BASE_FAMILY only */
    void *fam;                       /* the family's resolved parameters */
};

/* ---- parameter resolution (gen/params.c) --------------------------------------------------
 * Every parameter is drawn from its default range first, whether or not it was given, so
 * that giving one parameter explicitly leaves the draws of the others unchanged. The first
 * error sticks in status; later calls then only return their drawn value. */
typedef struct gen_resolver {
    const mist_param *given;
    size_t ngiven;
    unsigned char *used; /* ngiven flags: which given parameters applied */
    gsl_rng *rng;        /* the parameter stream of the task seed */
    uint64_t seed;       /* the task seed (families derive their Monte-Carlo stream from it) */
    mist_task *t;
    mist_err *err;
    int status;
} gen_resolver;

/* Appends name=v to the task's parameter list. */
int gen_record(gen_resolver *rs, const char *name, double v);
/* The explicit value of name if given (marked used), else drawn. Recorded either way. */
double gen_resolve(gen_resolver *rs, const char *name, double drawn);
/* Parameter base+j (e.g. sigma3): explicit base+j, else explicit base (one value for every
 * index), else drawn. Recorded as base+j. */
double gen_resolve_indexed(gen_resolver *rs, const char *base, int j, double drawn);
/* The same, then checked to lie in [lo, hi]. */
double gen_resolve_indexed_in(gen_resolver *rs, const char *base, int j, double drawn, double lo,
                              double hi);
/* An integer parameter in [lo, hi] (an error names the task's dims). */
int gen_resolve_int(gen_resolver *rs, const char *name, int lo, int hi, int drawn);
double gen_draw_uniform(gen_resolver *rs, double a, double b);
double gen_draw_log_uniform(gen_resolver *rs, double a, double b);
int gen_draw_int(gen_resolver *rs, int lo, int hi); /* uniform on {lo..hi} */
/* Sets the sticky error unless lo <= v <= hi (open ends when lo_open / hi_open). */
int gen_check_range(gen_resolver *rs, const char *name, double v, double lo, double hi,
                    int lo_open, int hi_open);
/* Sets the sticky error with a message (printf-style) and returns the status. */
int gen_reject(gen_resolver *rs, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- families (gen/families.c and gen/fam_*.c) ------------------------------------------- */
typedef struct gen_family {
    const char *base, *structure;
    const char *summary; /* the catalogue line: model, parameters and default ranges */
    const char *takes;   /* its parameter names, for "does not apply" messages */
    /* Resolves the parameters (t->dx, t->dy set) into t->fam and sets t->mi (and t->mi_se).
     * Errors go through rs (sticky status), which it returns. */
    int (*create)(mist_task *t, gen_resolver *rs);
    /* n base rows of dx+dy values from the sample stream r. */
    void (*sample)(const mist_task *t, gsl_rng *r, size_t n, double *out);
    void (*free)(void *fam);
} gen_family;

/* The family of base-structure; NULL when there is none. */
const gen_family *gen_family_find(const char *base, const char *structure);
/* 1 when base names a family base (channel, mixture, categorical). */
int gen_family_is_base(const char *base);
/* "sine, bumps": the structures of a family base, for error messages. */
const char *gen_family_structures(const char *base);
extern const gen_family gen_fam_channel_sine, gen_fam_channel_bumps, gen_fam_mixture_xshape,
    gen_fam_mixture_random, gen_fam_categorical_gauss, gen_fam_categorical_softmax,
    gen_fam_categorical_channel, gen_fam_categorical_binary;

/* Monte-Carlo MI: the mean of draws of log p(x,y) - log p(x) - log p(y) (or of any unbiased
 * per-draw estimate of the MI), in batches from the stream mist_seed_derive(seed,
 * GEN_MC_STREAM) until the standard error is at most GEN_MC_SE (and at least GEN_MC_MIN
 * draws were made). MIST_ENUMERIC when GEN_MC_MAX draws do not get there, or a draw is not
 * finite. The mean is clipped at 0 (MI is never negative); *se is the standard error. */
#define GEN_MC_STREAM 3
#define GEN_MC_SE 0.01
#define GEN_MC_MIN 16384
#define GEN_MC_MAX (1 << 22)
typedef double (*gen_mc_draw)(const void *ctx, gsl_rng *r);
int gen_mc_mi(const char *task, const void *ctx, gen_mc_draw draw, uint64_t seed, double *mi,
              double *se, mist_err *err);

/* The standard normal density. */
double gen_phi_pdf(double x);

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
