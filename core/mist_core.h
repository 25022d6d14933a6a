/* mist core: status codes, error reports, the dataset type and its metadata.
 * Everything in libmist reports failure the same way: an int status (MIST_OK == 0) and,
 * when the caller passes a mist_err, a message naming the problem. The library never
 * prints and never exits. */
#ifndef MIST_CORE_H
#define MIST_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIST_VERSION "0.1.0"

/* Marks the public functions: libmist is built with hidden visibility, so these, and only
 * these, leave libmist.so (cmake/libmist.map keeps the mist_ prefix as a second fence). */
#if defined(__GNUC__) || defined(__clang__)
#define MIST_API __attribute__((visibility("default")))
#else
#define MIST_API
#endif

enum mist_status {
    MIST_OK = 0,
    MIST_EINVAL = 1,   /* a bad argument: unknown name, out-of-range parameter, bad dims */
    MIST_ENOMEM = 2,   /* allocation failed */
    MIST_EIO = 3,      /* the operating system refused a read or a write */
    MIST_EFORMAT = 4,  /* a file is malformed, truncated or of an unsupported version */
    MIST_EDATA = 5,    /* the data cannot be used: NaN/Inf, too few rows, singular */
    MIST_ENUMERIC = 6  /* a numerical routine failed (e.g. a matrix not positive definite) */
};

#define MIST_ERRMSG_LEN 512

typedef struct mist_err {
    int code;
    char msg[MIST_ERRMSG_LEN];
} mist_err;

/* Static name of a status code ("invalid argument", ...). */
MIST_API const char *mist_status_name(int code);

/* Records code and a printf-style message into err (when err is not NULL); returns code,
 * so a failing path can read `return mist_fail(err, MIST_EINVAL, "...", ...);`. */
MIST_API int mist_fail(mist_err *err, int code, const char *fmt, ...)
         #if defined(__GNUC__)
             __attribute__((format(printf, 3, 4)))
         #endif
             ;

/* Clears err to MIST_OK with an empty message. */
MIST_API void mist_err_clear(mist_err *err);

/* ---- dataset metadata ---------------------------------------------------------------- */

#define MIST_TASK_NAME_LEN 128
#define MIST_PARAM_NAME_LEN 32

typedef struct mist_param {
    char name[MIST_PARAM_NAME_LEN];
    double value;
} mist_param;

/* What a file says about the dataset it holds. mi is NaN when unknown (e.g. user data). */
typedef struct mist_meta {
    char task[MIST_TASK_NAME_LEN]; /* "" when unknown */
    uint64_t seed;
    int has_seed;
    double mi;
    mist_param *params; /* owned, nparams entries */
    size_t nparams;
    char generator_version[32];
    /* An MI-preserving transform applied after sampling (gen's mist_mipt_apply): the chain,
     * e.g. "perm" or "rotate+swap", and its seed; "" when none (files then carry neither). */
    char transform[MIST_TASK_NAME_LEN];
    uint64_t transform_seed;
} mist_meta;

/* n rows of dx+dy float64 values, row-major, X columns first. */
typedef struct mist_dataset {
    size_t n;
    int dx, dy;
    double *data; /* owned, n*(dx+dy) */
    mist_meta meta;
} mist_dataset;

/* Allocates an n x (dx+dy) dataset (data zeroed, meta empty, mi NaN). NULL on failure. */
MIST_API mist_dataset *mist_dataset_alloc(size_t n, int dx, int dy, mist_err *err);
MIST_API void mist_dataset_free(mist_dataset *ds);

/* Adds or replaces a parameter in meta. */
MIST_API int mist_meta_set_param(mist_meta *m, const char *name, double value, mist_err *err);
/* Looks a parameter up; returns 1 and sets *value when present, 0 otherwise. */
MIST_API int mist_meta_get_param(const mist_meta *m, const char *name, double *value);
/* Deep copy of src into dst (dst is overwritten, not freed first). */
MIST_API int mist_meta_copy(mist_meta *dst, const mist_meta *src, mist_err *err);
MIST_API void mist_meta_clear(mist_meta *m);

/* 0 when every value is finite, else MIST_EDATA with the row and column in err. */
MIST_API int mist_dataset_check_finite(const mist_dataset *ds, mist_err *err);

/* Constant columns of n rows of dx+dy values (row-major, X first; a column is constant when
 * every value == its first, so -0 and +0 are one value). Returns MIST_CONSTANT_X when every X
 * column is constant, | MIST_CONSTANT_Y when every Y column is, 0 otherwise: a constant side
 * carries no information, so I(X;Y) = 0 exactly (mist estimate answers so for every method).
 * *first (may be NULL): the first constant column (0-based, X first), -1 when none. n = 0 or a
 * NULL data pointer: 0 and -1. */
enum { MIST_CONSTANT_X = 1, MIST_CONSTANT_Y = 2 };
MIST_API int mist_constant_sides(const double *data, size_t n, int dx, int dy, int *first);
/* The interval of the MI behind n rows with a constant side: the rows show one value, but the
 * distribution may hold another that n draws missed. Its probability q is at most
 * mist_constant_side_unseen(n, ci) = 1 - ((1 - ci) / 2)^(1/n) (the one-sided (1 + ci) / 2 bound;
 * about 3/n at ci = 0.9), and the MI it can carry at most the entropy of a variable taking it
 * with probability q, h(q) = -q log q - (1 - q) log(1 - q) (q capped at 1/2):
 * mist_constant_side_upper(n, ci) in nats (0.133 at n = 100, 0.0204 at n = 1,000). One unseen
 * value, not many: a variable with many rare values could hide more. */
MIST_API double mist_constant_side_unseen(size_t n, double ci);
MIST_API double mist_constant_side_upper(size_t n, double ci);

/* ---- seeds ----------------------------------------------------------------------------- */

/* SplitMix64 step: a well-mixed 64-bit function used to derive independent seeds. */
MIST_API uint64_t mist_mix64(uint64_t x);
/* Seed of a named sub-stream: depends on (seed, stream) only. */
MIST_API uint64_t mist_seed_derive(uint64_t seed, uint64_t stream);

#ifdef __cplusplus
}
#endif
#endif
