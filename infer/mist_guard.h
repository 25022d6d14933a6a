/* mist guard: says when the learned model is out of its depth on a dataset, and what to answer
 * instead.
 *
 * A meta-learned estimator is only as good as the resemblance of the data to its training data.
 * The guard checks, for one dataset and the model's answer on it:
 *   - n and the dims against the range the model was trained on;
 *   - the model's estimate against the MI range of its training meta-distribution at these dims;
 *   - discrete columns (few distinct values), when its meta-distribution is continuous;
 *   - the model's interval against two cheap classical cross-checks, KSG (algorithm 1, k = 5)
 *     and the bias-corrected Gaussian copula, each with a 90% interval from a standard error.
 * Each failed check is a reason (bit flags below). With a reason the guard proposes a fallback:
 *   - the model's interval lies below a classical interval (KSG is mostly biased downward, and at
 *     1x1 the Gaussian copula is a population lower bound of MI): answer with that classical
 *     estimate (the one with the higher lower end);
 *   - else the model's interval lies far above both classical intervals at low dims (dx+dy <= 6):
 *     answer with the classical estimate whose upper end is higher;
 *   - every column discrete (at most 20 distinct values each, and at most n/2): answer with the
 *     MI of the joint table (mist_discrete_mi, bias-corrected) and its own
 *     interval (+- z se), before the rules above: KSG's answer on tied data depends on its
 *     tie-breaking noise, and the model (trained on continuous data) has no say;
 *   - every column of one block discrete and none of the other: answer with the MI of a discrete
 *     and a continuous variable (mist_mixed_mi, Ross's nearest-neighbour estimator) and its own
 *     interval (+- z 1.5 se);
 *   - else a discrete column: answer with KSG, the upper end of its interval 2.5 times as far
 *     from the estimate (KSG reads tied data low);
 *   - the rows look jointly Gaussian (at least 100 distinct rows, dx+dy <= 8, no discrete column,
 *     Mardia's skewness and kurtosis tests both above 1%) and their Gaussian MI is not below
 *     KSG's estimate: answer with the bias-corrected Gaussian MI, the efficient estimate for
 *     Gaussian data (the model and the copula read ranks only, and at high MI ranks cannot
 *     resolve it); this comes before the below/above rules;
 *   - KSG's estimate lies above the Gaussian copula's interval, no discrete column (dependence
 *     the ranks' Gaussian reading misses: non-monotone channels, mixtures): whatever the
 *     answer, the estimate is the higher of the answer's and KSG's (a Gaussian-fit answer keeps
 *     its own), the interval covering KSG's; when KSG's whole interval lies above the copula's,
 *     the upper end reaches at least KSG (1 + 7.9 n^-0.28 (dx+dy)^0.5) (n: distinct rows),
 *     since every estimate here, KSG's too, reads such dependence low;
 *   - otherwise (range reasons, or that one): keep the model's median.
 * Except for the plug-in, the fallback interval covers the model's interval and the classical
 * interval(s) used;
 * range-only warnings widen the model's interval by the classical intervals (at dx+dy > 6 by the
 * Gaussian copula's alone, since KSG's downward bias grows with the dims).
 * guard.c documents the rules and the measurements behind every threshold.
 *
 * The library decides and reports; it never prints (the CLI words the warnings). */
#ifndef MIST_GUARD_H
#define MIST_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "mist_core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mist_model; /* mist_infer.h */

/* The version of the guard's rules: bumped whenever a rule or threshold changes what it answers
 * (2: the Gaussian fit answer and the discrete column's wider KSG interval; 3: the mixed
 * discrete-continuous answer and the non-monotone upper end; 4: that upper end fitted at the
 * 95% quantile; 5: the Gaussian fit's normality tests at 0.1%, and `mist bench` scoring the
 * raised upper end of an answer whose only reason is NONMONOTONE, as `mist estimate` answers),
 * so that stored results can tell which rules made them (`mist bench` records it). */
#define MIST_GUARD_RULES 5

enum mist_guard_reason {
    MIST_GUARD_N_RANGE = 1 << 0,   /* n outside the trained n range */
    MIST_GUARD_DIM_RANGE = 1 << 1, /* dx or dy outside the trained dims */
    MIST_GUARD_MI_RANGE = 1 << 2,  /* the model's median above the training MI at these dims */
    MIST_GUARD_DISCRETE = 1 << 3,  /* a column with few distinct values */
    MIST_GUARD_BELOW = 1 << 4,     /* the model's interval lies below a classical interval */
    MIST_GUARD_ABOVE = 1 << 5,     /* the model's interval lies far above both (low dims) */
    MIST_GUARD_GAUSSIAN_FIT = 1 << 6, /* the rows look jointly Gaussian: the Gaussian MI is the
                                       * efficient estimate */
    MIST_GUARD_NONMONOTONE = 1 << 7   /* KSG's estimate lies above the Gaussian copula's
                                       * interval: a dependence ranks miss, which every answer
                                       * reads low */
};
#define MIST_GUARD_REASON_COUNT 8
/* "n_range", "dims_range", "mi_range", "discrete", "below_classical", "above_classical",
 * "gaussian_fit", "nonmonotone" for one reason bit; NULL for anything else. */
MIST_API const char *mist_guard_reason_name(unsigned reason);

/* What the model said and what it was trained on. */
typedef struct mist_guard_model {
    double lower, median, upper; /* its 5%, 50%, 95% quantiles (a point model: its estimate x3) */
    int64_t n_min, n_max, d_min, d_max; /* the trained range (mist_arch) */
    char metadist[32]; /* its training meta-distribution ("" when unknown: no MI-range check) */
} mist_guard_model;

/* Fills the trained range and metadist (the weights' meta "metadist") from a model, and the
 * three quantiles from the arguments. */
MIST_API void mist_guard_model_init(mist_guard_model *gm, struct mist_model *m, double lower,
                                    double median, double upper);

typedef struct mist_guard_opts {
    int k;         /* KSG neighbours (5) */
    uint64_t seed; /* KSG's tie-breaking noise (0) */
    int threads;   /* KSG's neighbour search (1); results do not depend on it */
} mist_guard_opts;
MIST_API void mist_guard_opts_default(mist_guard_opts *o);

/* One classical cross-check with its 90% interval. */
typedef struct mist_guard_xcheck {
    int ok;                         /* 0: it could not run on this data (see note) */
    double estimate, lower, upper;  /* nats */
    double se;                      /* the standard error behind the interval */
    char note[MIST_ERRMSG_LEN];     /* why it did not run ("" when ok) */
} mist_guard_xcheck;

enum mist_guard_answer {
    MIST_GUARD_ANSWER_MODEL = 0,    /* the model's median and interval; with NONMONOTONE as
                                     * the only reason the upper end may be raised */
    MIST_GUARD_ANSWER_WIDENED = 1,  /* the model's median, interval widened */
    MIST_GUARD_ANSWER_KSG1 = 2,     /* the KSG cross-check's estimate */
    MIST_GUARD_ANSWER_GAUSSIAN_COPULA = 3,
    MIST_GUARD_ANSWER_DISCRETE = 4, /* every column discrete: the table's plug-in MI */
    MIST_GUARD_ANSWER_GAUSSIAN = 5, /* jointly Gaussian rows: the bias-corrected Gaussian MI */
    MIST_GUARD_ANSWER_MIXED = 6     /* one block discrete, the other continuous: mist_mixed_mi */
};
/* "model", "model_widened", "ksg1", "gaussian_copula", "discrete", "gaussian", "mixed"; NULL for
 * anything else. */
MIST_API const char *mist_guard_answer_name(int answer);

typedef struct mist_guard_result {
    unsigned reasons; /* enum mist_guard_reason bits; 0: the model's answer stands */
    mist_guard_xcheck ksg1, gaussian_copula;
    double mi_max;           /* the top of the training MI range at these dims (NaN: none) */
    int discrete_col;        /* 0-based column behind MIST_GUARD_DISCRETE (-1: none) */
    size_t discrete_levels;  /* its number of distinct values */
    int answer;              /* enum mist_guard_answer */
    double estimate, lower, upper; /* the fallback answer (the model's own when reasons == 0) */
    size_t distinct_rows;    /* rows the cross-checks read: the distinct ones (copies of a row
                              * count once: see guard.c, DUPLICATES) */
    /* the Gaussian MI of the raw rows, bias-corrected (ok = 0 where it was not computed: above
     * MIST_GUARD_NORMAL_MAX_DIMS columns, collinear columns), and the p-values of Mardia's
     * skewness and kurtosis tests of joint normality (NaN where not computed) */
    mist_guard_xcheck gaussian;
    double normal_p_skew, normal_p_kurt;
    /* the discrete-continuous estimate (mist_mixed_mi, Ross 2014) with its interval; computed
     * only where every column of one block is discrete and none of the other (ok = 0 elsewhere,
     * note saying why) */
    mist_guard_xcheck mixed;
} mist_guard_result;

/* Runs every check on data (n x (dx+dy) float64, X first) and the model's answer m. A
 * cross-check that cannot run (too few rows, collinear normal scores) is reported with ok = 0
 * and its note, not as an error. Errors: NULL pointers, dx/dy < 1, n < 2, NaN/Inf in the data
 * or in m's quantiles, out of memory. */
MIST_API int mist_guard_run(const double *data, size_t n, int dx, int dy, const mist_guard_model *m,
                            const mist_guard_opts *o, mist_guard_result *r, mist_err *err);

/* The answer `mist estimate --guard fallback` (the default) gives: where r found any reason,
 * r's estimate, lower and upper replace the model's in *estimate, *lower, *upper (lower and
 * upper may be NULL: a point answer keeps only the estimate) and 1 is returned; else they are
 * left alone and 0 is returned. Keyed on the reasons, not on r->answer: with NONMONOTONE alone
 * the answer stays the model's median (MIST_GUARD_ANSWER_MODEL) but its upper end can rise. */
MIST_API int mist_guard_apply(const mist_guard_result *r, double *estimate, double *lower,
                              double *upper);

/* The top of the MI range of a training meta-distribution at dims dx x dy: the 99.9th
 * percentile of the true MI of its tasks whose min(dx, dy) falls in the same bucket (1, 2, 3-4,
 * 5-8, 9-16, 17-32). Stored (guard_range.c), measured with mist_metadist_draw; a mixture of
 * two meta-distributions (mist_metadist_mixture: "mix2", "mix4") takes its parts' larger value,
 * an upper bound. NaN for a meta-distribution without a range or min(dx, dy) > 32. */
MIST_API double mist_guard_mi_max(const char *metadist, int dx, int dy);
/* The bucket index of min(dx, dy) (0..5; -1 above 32 or below 1) and the stored table of
 * metadist (6 values; NULL without one, mixtures included): for the test that re-measures it. */
MIST_API int mist_guard_mi_bucket(int dx, int dy);
MIST_API const double *mist_guard_mi_table(const char *metadist);
/* The min(dx, dy) range lo..hi of a bucket; -1 for a bad bucket. */
MIST_API int mist_guard_mi_bucket_dims(int bucket, int *lo, int *hi);
/* 1 when every family of the meta-distribution is continuous ("default", "mist16",
 * "normal1x1", and a mixture of such): only then is a discrete column a reason (a model
 * trained on discrete families has seen ties). */
MIST_API int mist_guard_metadist_continuous(const char *metadist);

/* KSG algorithm 1 with the classical defaults (z-scores, tie-breaking noise 1e-10 from seed):
 * *mi equals mist_ksg(1, ...) with the same k and seed; *se is sd(t_i)/sqrt(n) of its per-row
 * digamma terms t_i. Its neighbour search costs n^2 at higher dims, so above
 * MIST_GUARD_KSG_ROWS rows it reads that many: the first in an order that is a function of the
 * set of rows alone (a hash of each row's values, as the row chunks of mist_infer.h), so the
 * cross-check stays invariant to row order; *se is then the subsample's. */
#define MIST_GUARD_KSG_ROWS 5000
MIST_API int mist_guard_ksg(const double *data, size_t n, int dx, int dy, int k, uint64_t seed,
                            int threads, double *mi, double *se, mist_err *err);

/* Gaussian MI of the normal scores (what `--method gaussian --copula` gives, computed anew),
 * the Wishart bias of that estimate for Gaussian data of this n and dims (subtract it), and a
 * standard error (delta method plus the null spread). Needs n >= dx+dy+3; MIST_EDATA when the
 * scores are collinear (ties, e.g. binary columns that are equal). See guard_stats.c. */
MIST_API int mist_guard_gaussian_copula(const double *data, size_t n, int dx, int dy, double *mi,
                                        double *bias, double *se, mist_err *err);
/* The same on the raw values (the Gaussian MI of the data, `--method gaussian`), and the
 * p-values of Mardia's skewness and kurtosis tests of joint normality (NaN above
 * MIST_GUARD_NORMAL_MAX_DIMS columns). MIST_EDATA when the columns are collinear. */
#define MIST_GUARD_NORMAL_MAX_DIMS 8
/* The level both tests must pass for the GAUSSIAN_FIT answer (guard.c) */
#define MIST_GUARD_NORMAL_ALPHA 0.001
MIST_API int mist_guard_gaussian_raw(const double *data, size_t n, int dx, int dy, double *mi,
                                     double *bias, double *se, double *p_skew, double *p_kurt,
                                     mist_err *err);

#ifdef __cplusplus
}
#endif
#endif
