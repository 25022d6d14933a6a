/* mist inference: the meta-learned MI estimator (a Set Transformer, model.md) on OpenBLAS.
 *
 * A model is a self-describing weights file (msgpack: format "mist-weights", version 1, the
 * architecture, the tensors, free metadata). Open it, then estimate the MI of datasets (n rows
 * of dx+dy float64 values, X columns first) in nats; quantile-conditioned models (MIST-QR) also
 * give quantiles of the estimate's uncertainty, all from one encoder pass.
 *
 *     mist_err err;
 *     mist_model *m = mist_model_open("mist-qr.msgpack", &err);
 *     double taus[3] = {0.05, 0.5, 0.95}, q[3];
 *     if (!m || mist_model_estimate(m, data, n, dx, dy, taus, 3, q, &err)) puts(err.msg);
 *
 * Threads: a mist_model handle owns its scratch memory, so one handle must not run two
 * estimates at the same time (open one handle per thread). The matrix products run on
 * OpenBLAS with the thread count set by mist_infer_set_threads (process-wide); results do not
 * depend on it beyond float rounding. The library never prints and never exits. */
#ifndef MIST_INFER_H
#define MIST_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "mist_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MIST_WEIGHTS_FORMAT "mist-weights"
#define MIST_WEIGHTS_VERSION 1

typedef enum mist_layout {
    MIST_LAYOUT_PACKED = 0, /* official: row [x, y] zero-padded to max_input_dim; needs dx == dy */
    MIST_LAYOUT_SPLIT = 1,  /* ours: row [pad(x, max_dx), pad(y, max_dy)]; dx != dy works */
    MIST_LAYOUT_PAIRS = 2   /* ours: one token per column pair (pairs.c); invariant to the order of
                             * rows, of the columns within X and within Y, and to the X/Y swap */
} mist_layout;

typedef enum mist_prep {
    MIST_PREP_NONE = 0,   /* raw values (official) */
    MIST_PREP_COPULA = 1, /* per column normal scores Phi^-1(rank/(n+1)), average ranks for ties */
    MIST_PREP_ZSCORE = 2  /* per column (v - mean) / sd (sample sd; constant columns become 0) */
} mist_prep;

typedef enum mist_act { MIST_ACT_GELU = 0, MIST_ACT_RELU = 1 } mist_act;

/* Every setting of the graph (model.md). All counts are >= 1 except where noted. */
typedef struct mist_arch {
    int input_layout;         /* mist_layout */
    int preprocess;           /* mist_prep */
    int max_input_dim;        /* P, the token input width; split: P == max_dx + max_dy; pairs:
                               * the width of the pooled pair statistic (its MLP's hidden width) */
    int max_dx, max_dy;       /* largest dx, dy accepted; packed: max_dx == max_dy, sum <= P */
    int D;                    /* model width */
    int H;                    /* attention heads, D % H == 0 */
    int ff;                   /* feed-forward width of the ISAB blocks (SAB and PMA use D) */
    int n_inds;               /* inducing points per ISAB */
    int n_seeds;              /* PMA seeds of the pooling stage */
    int n_feature_sab;        /* SAB -> LN layers of the feature block (>= 0) */
    int n_isab;               /* ISAB layers of the encoder (>= 0) */
    int n_dec;                /* SAB layers of the decoder before its PMA(1) (>= 0) */
    int n_rho;                /* linear layers of the rho head */
    int rho_hidden;           /* width of the rho head's hidden layers */
    int quantile_conditioned; /* 1: tau is appended to the representation before rho */
    int activation;           /* mist_act of the feed-forward inside every MAB (and of the pairs
                               * layout's pair statistic) */
    int gauss_base;           /* 1 (pairs layout only): every output is the Gaussian-copula MI of
                               * the X and Y blocks plus the network's output, so the network
                               * learns the correction to that estimate */
    int gauss_base_unbiased;  /* 1 (with gauss_base): the base is that MI less its finite-sample
                               * bias for Gaussian data (mist_gaussian_mi_bias) */
    int ksg_feature;          /* 1 (pairs layout only): KSG of the normal scores replaces two of
                               * the dataset features (pairs_set_ksg) */
    int sign_canon;           /* 1 (pairs layout only): each column's sign is chosen from the data
                               * (pairs_set_canon), so negating columns changes nothing */
    int gauss_base_cap;       /* 1 (with gauss_base): the base is at most ln of the number of
                               * distinct rows of X or of Y, where either block repeats a row */
    int sum_head;             /* 1 (pairs layout only): every output also gets the sum over the
                               * cross-pair tokens of a linear readout of each token after the
                               * encoder (pairs_sum_head), so that contributions of independent
                               * pairs can add up instead of being averaged by the pooling */
    double ln_eps;            /* LayerNorm epsilon (1e-5) */
    /* The range the model was trained on (informational: other n and dims are accepted). */
    int64_t n_min, n_max, d_min, d_max;
} mist_arch;

/* The official MIST (quantile_conditioned 0) or MIST-QR (1) architecture: packed 64, D 256,
 * 16 heads, ff 1024, 32 inducing points, 10 seeds, 2 feature SABs, 2 ISABs, 1 decoder SAB,
 * rho 3 layers of 256, GELU, no preprocessing; trained on n 10..500, d 1..32. */
MIST_API void mist_arch_official(mist_arch *a, int quantile_conditioned);
/* 0 when every value is in range and consistent; else MIST_EINVAL naming the field. */
MIST_API int mist_arch_validate(const mist_arch *a, mist_err *err);
/* Number of float parameters of a valid arch (0 when invalid). */
MIST_API size_t mist_arch_param_count(const mist_arch *a);
/* The architecture's fields, from the one table that weights files, checkpoints, `mist info`
 * and overrides share: how many, the name of field i (NULL past the end), its value as text
 * (enums by name, booleans true/false). */
MIST_API size_t mist_arch_field_count(void);
MIST_API const char *mist_arch_field_name(size_t i);
MIST_API int mist_arch_field_text(const mist_arch *a, size_t i, char *buf, size_t bufsz);
/* Sets one field by name (or alias: "layout", "heads") from text, range-checked; no other
 * field changes (mist_arch_override of mist_train.h also keeps the maxima consistent). */
MIST_API int mist_arch_field_set(mist_arch *a, const char *key, const char *value, mist_err *err);
/* 1 when a and b build the same graph: every field equal but the trained ranges. */
MIST_API int mist_arch_same_graph(const mist_arch *a, const mist_arch *b);
MIST_API const char *mist_layout_name(int layout); /* "packed", "split", "pairs" */
MIST_API const char *mist_prep_name(int prep);     /* "none", "copula", "zscore" */
MIST_API const char *mist_act_name(int act);       /* "gelu", "relu" */

typedef struct mist_model mist_model;

/* Opens a weights file; NULL with err set on any problem (unreadable, malformed, truncated,
 * unsupported version, unknown/missing/duplicate/mis-shaped tensor, non-finite weight, a meta
 * that contradicts the arch, an absurd recalibration table, a checksum that does not match:
 * mist_model_save writes one; files without it load unchecked). */
MIST_API mist_model *mist_model_open(const char *path, mist_err *err);
/* The shipped models by file name (name NULL: MIST_DEFAULT_MODEL), found as `mist estimate`
 * finds its default: $MIST_WEIGHTS (a file path; only when name is NULL), then
 * share/mist/weights of the install prefix next to libmist (or the program it is linked into),
 * the install dir compiled in, the source tree's weights/. The path goes to out (outsz bytes);
 * MIST_EIO with the places searched when it is in none, MIST_EINVAL for a name with a '/'. */
#define MIST_DEFAULT_MODEL "mist-qr.msgpack"
MIST_API int mist_default_model_path(const char *name, char *out, size_t outsz, mist_err *err);
/* mist_model_open on that path. */
MIST_API mist_model *mist_model_open_default(const char *name, mist_err *err);
/* A model as a user names it, to a path in out: "mist:qr" / "mist:point" (the shipped
 * mist-qr.msgpack / mist-point.msgpack; "mist:NAME" is mist-NAME.msgpack, "mist:FILE.msgpack"
 * that file), a bare "qr", "point" or shipped file name when no file of that name is in the
 * working folder, else the path as given. MIST_EIO when a "mist:" name is not shipped. */
MIST_API int mist_model_resolve(const char *spec, char *out, size_t outsz, mist_err *err);
/* Same from bytes in memory (copied out; buf may be freed afterwards). name is for messages. */
MIST_API mist_model *mist_model_open_mem(const void *buf, size_t len, const char *name, mist_err *err);
/* A model with the given arch and every parameter zero (fill it via mist_model_params). */
MIST_API mist_model *mist_model_create(const mist_arch *a, mist_err *err);
/* A model with random weights, initialised like PyTorch's defaults (Linear weight and bias
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), LN weight 1 bias 0, in_proj and seeds/inducing points
 * xavier-uniform). Same seed, same weights. For benchmarks and tests. */
MIST_API mist_model *mist_model_create_random(const mist_arch *a, uint64_t seed, mist_err *err);
MIST_API void mist_model_free(mist_model *m);

MIST_API const mist_arch *mist_model_arch(const mist_model *m);
MIST_API size_t mist_model_param_count(const mist_model *m);
/* The parameters, one float block in tensor-table order (writable: for training). */
MIST_API float *mist_model_params(mist_model *m);
/* The tensor table: count, and entry i (name, dims, shape, offset into the parameter block). */
MIST_API size_t mist_model_tensor_count(const mist_model *m);
MIST_API int mist_model_tensor_info(const mist_model *m, size_t i, const char **name, int *ndim,
                                    const int64_t **shape, size_t *offset);
/* The file's meta map as JSON text (owned by the model; "{}" when empty). */
MIST_API const char *mist_model_meta_json(mist_model *m);
/* The meta entry key when it is a string shorter than bufsz: copied to buf, returns 1; else 0. */
MIST_API int mist_model_meta_get_str(const mist_model *m, const char *key, char *buf, size_t bufsz);
/* Adds or replaces a meta entry (written by mist_model_save). */
MIST_API int mist_model_meta_set_str(mist_model *m, const char *key, const char *value, mist_err *err);
MIST_API int mist_model_meta_set_num(mist_model *m, const char *key, double value, mist_err *err);
/* Writes the model (arch, tensors, meta) atomically. */
MIST_API int mist_model_save(const mist_model *m, const char *path, mist_err *err);

/* Default 0: quantiles are recalibrated (when the model has a quantile map) and returned
 * sorted along tau (monotone rearrangement: the k-th smallest value goes to the k-th smallest
 * tau), so they never cross. 1: as the network gives them at the levels asked for, one pass
 * of rho per tau. A routed model's second model follows the same setting. */
MIST_API void mist_model_set_raw_quantiles(mist_model *m, int raw);

/* Column canonicalisation, for the models that read columns by position (split and packed
 * layouts; the pairs layout is invariant by construction and ignores it). Default 0. 1: every
 * dataset is given to the network with its columns in an order and with signs chosen from the
 * data (the strongest cross pairs first, x_i paired with y_i, positively related: the
 * arrangement of the generator's families), and, where the model takes the swapped dims, the
 * answer is the mean of those on (X, Y) and (Y, X). The estimate is then unchanged, bit for
 * bit, by permuting the columns within X or within Y, negating columns, or swapping X and Y
 * (except on exact ties of the pair strengths: duplicate or constant columns). Costs two
 * forward passes and O(n dx dy) statistics. See col_canon.c. A weights file whose meta
 * "columns" is "canonical" opens with it on ("as_given" or no such key: off). */
MIST_API void mist_model_set_col_canon(mist_model *m, int on);
/* 1 when the estimate reads canonical columns: set, and a layout that reads positions. */
MIST_API int mist_model_col_canon(const mist_model *m);

/* Row chunks of the feature block (the only attention over all pairs of rows, cost n x n):
 * a dataset of more than `rows` rows meets itself there only within runs of at most `rows`
 * rows (equal runs; which rows share a run is a function of the set of rows, so the estimate
 * stays invariant to row order and, with canonical columns, to column order and signs); the
 * encoder's inducing points and the pooling still see every row. The cost is then linear in
 * n. 0: one attention over all rows, as the official models. Default: for the models of the
 * split layout (ours, one token per row, with a feature block), the largest n they were trained
 * on (arch n_max; MIST_ROW_CHUNK_DEFAULT when it is not recorded), so that no attention spans
 * more rows than in training; 0 for the packed layout (the official checkpoints keep the
 * paper's graph). Sets of at most `rows` rows are not touched (same bits as 0). A routed
 * model's second model reads column pairs and has no such block. */
#define MIST_ROW_CHUNK_DEFAULT 500
MIST_API void mist_model_set_row_chunk(mist_model *m, size_t rows);
MIST_API size_t mist_model_row_chunk(const mist_model *m);

/* Routing between two models (route.c). kappa of a dataset: the share of the evidence of
 * cross dependence (squared correlations of the normal scores and of their squares, beyond
 * their null level) that sits on the cross pairs matched by the canonical reading; near 1 when
 * the dependence sits on pairs x_j - y_k, small when it is spread over many (mixed or rotated
 * columns, dense couplings); 1 without evidence of dependence. Unchanged by permuting or negating
 * columns and by the X/Y swap. O(n dx dy). */
MIST_API int mist_route_kappa(const double *data, size_t n, int dx, int dy, double *kappa,
                              mist_err *err);
/* Routes datasets from m (split or packed layout) to alt (no route of its own; both give
 * quantiles, or neither): every dataset without tied values in any column that alt takes and
 * that has kappa < kappa_min (and n at most m's trained n_max), or a
 * classical cross-check (the guard's bias-corrected Gaussian copula, else KSG with k = 5) above
 * the MI range of m's training meta-distribution at its dims (mist_guard_mi_max; only when m's
 * meta "metadist" has a stored range) is answered by alt in mist_model_estimate(_batch) on m.
 * The cross-checks cost about what the guard's do. m owns alt from then on (freed with m, or by
 * the next call); alt NULL removes the route. A weights file whose meta "route" names a file and
 * "route_kappa" a threshold (text) opens with its route set: the file next to it, else among
 * the shipped models (mist_default_model_path). */
MIST_API int mist_model_set_route(mist_model *m, mist_model *alt, double kappa_min,
                                  mist_err *err);
/* The second model (owned by m) and its threshold; NULL when m has no route. */
MIST_API mist_model *mist_model_route_alt(const mist_model *m, double *kappa_min);
/* The arbiter of a route (route.c, ARBITER): a dataset that kappa hands to the second model
 * stays with m when m's median lies less than ratio times as far from the bias-corrected
 * Gaussian copula (the guard's cross-check) as the second model's median, unless KSG (k = 5)
 * reads more than the copula's 90% upper end (dependence the copula misses). Costs both
 * models' medians and the two cross-checks on such datasets. ratio in (0, 1]; 0 turns it off
 * (the default; a weights file sets it with meta "route_arbiter", text). Needs a route. */
MIST_API int mist_model_set_route_arbiter(mist_model *m, double ratio, mist_err *err);
MIST_API double mist_model_route_arbiter(const mist_model *m);
/* Why a dataset went to the second model, or stayed. */
enum mist_route_reason {
    MIST_ROUTE_NONE = 0,     /* it did not: m answers */
    MIST_ROUTE_KAPPA = 1,    /* kappa < kappa_min */
    MIST_ROUTE_MI_RANGE = 2, /* a cross-check above m's trained MI */
    MIST_ROUTE_ARBITER = 3   /* kappa < kappa_min, but the arbiter kept it with m: m answers */
};
/* The model that answers this dataset: m, or its second model; kappa (may be NULL) gets the
 * dataset's kappa (NaN when m has no route), reason (may be NULL) the enum mist_route_reason.
 * NULL with err on bad data. */
MIST_API mist_model *mist_model_route_pick(mist_model *m, const double *data, size_t n, int dx,
                                           int dy, double *kappa, int *reason, mist_err *err);
/* The estimate of these data by pick, the model mist_model_route_pick returned for them (m or
 * its second model), with the reason it gave, without computing the route again:
 * mist_model_estimate's answer, for a caller that wants to know which model answered. For
 * MIST_ROUTE_ARBITER (pick is m) that is m's median with the second model's quantiles, each
 * moved out to that median where it lies on the wrong side of it (a point model: m's point). */
MIST_API int mist_model_estimate_picked(mist_model *m, mist_model *pick, int reason,
                                        const double *data, size_t n, int dx, int dy,
                                        const double *taus, size_t ntaus, double *out,
                                        mist_err *err);
/* mist_model_route_pick and mist_model_estimate_picked in one call, the route's work done once:
 * a set the arbiter reads (kept or handed over) costs each model one pass instead of two (the
 * arbiter reads the second model at 0.05, 0.5 and 0.95, the default levels, and the answer
 * reuses that reading when taus are those levels). out, taus and ntaus as mist_model_estimate;
 * pick, kappa and reason (each may be NULL) get the model that answered and what
 * mist_model_route_pick gives. */
MIST_API int mist_model_estimate_routed(mist_model *m, const double *data, size_t n, int dx,
                                        int dy, const double *taus, size_t ntaus, double *out,
                                        mist_model **pick, double *kappa, int *reason,
                                        mist_err *err);

/* Quantile recalibration (quantile-conditioned models): k knots (levels[i] -> taus[i]),
 * levels increasing and taus non-decreasing, all in (0, 1); the map is piecewise linear
 * through (0, 0), the knots and (1, 1). Unless raw quantiles are asked for, the tau-quantile
 * is then the network's output at map(tau) (the median too). Stored in the meta as
 * "quantile_map" and read back by mist_model_open. k = 0 removes it. Fitted by
 * mist_calibrate_quantiles (mist_train.h). */
MIST_API int mist_model_set_quantile_map(mist_model *m, const double *levels, const double *taus,
                                         size_t k, mist_err *err);
/* The knots (pointers owned by the model); returns k (0: none). */
MIST_API size_t mist_model_quantile_map(const mist_model *m, const double **levels, const double **taus);

/* Residual recalibration (quantile-conditioned models), for networks whose quantiles are too
 * narrow for a level map, by groups of sample sizes: the tau-quantile of a dataset of n rows
 * is m + s R_g(tau), m the network's median, s its hi - lo quantile spread (at least
 * MIST_QRESID_MIN_SPREAD), g
 * the first group with n <= n_upper[g] (the last group: the rest), R_g linear through the k
 * knots (levels increasing in (0, 1), values[g * k + i] non-decreasing in i) and constant
 * beyond them. Meta "quantile_resid". Setting it removes a level map and the reverse; NULL
 * removes it. Fitted by mist_quantile_resid_fit. */
#define MIST_QRESID_MIN_SPREAD 1e-3 /* nats: a degenerate spread would make residuals huge */
typedef struct mist_qresid {
    double lo, hi;          /* the network levels of the spread, 0 < lo < 0.5 < hi < 1 */
    size_t ngroups;         /* >= 1 */
    const int64_t *n_upper; /* ngroups - 1 increasing bounds */
    size_t k;               /* knots per group, >= 2 */
    const double *levels;   /* k */
    const double *values;   /* ngroups x k */
} mist_qresid;
MIST_API int mist_model_set_quantile_resid(mist_model *m, const mist_qresid *r, mist_err *err);
/* 1 and *out filled (arrays owned by the model) when set; 0 when not. out may be NULL. */
MIST_API int mist_model_quantile_resid(const mist_model *m, mist_qresid *out);

/* One dataset: data is n x (dx+dy) row-major float64, X columns first.
 * Plain model: ntaus must be 0 and out[0] receives the estimate.
 * Quantile-conditioned model: ntaus == 0 gives the median (tau 0.5) in out[0]; otherwise
 * out[i] is the taus[i] quantile (0 < tau < 1).
 * Errors: n < 2, dx/dy < 1 or above the model's maxima, dx != dy for a packed model, NaN/Inf
 * in the data, a packed dataset whose rows all sum to exactly 0 (the official model masks such
 * rows as padding), bad taus. */
MIST_API int mist_model_estimate(mist_model *m, const double *data, size_t n, int dx, int dy,
                                 const double *taus, size_t ntaus, double *out, mist_err *err);

/* The rules mist estimate applies before a model answers (the CLI, the bench and Python share
 * them): at least the smallest n the model was trained on (MIST_MODEL_MIN_ROWS when its arch
 * records none), since below it the answer has no footing (n = 2 gave 6 nats); and no constant
 * column, which the model never saw. MIST_EDATA with a message naming the rule; MIST_OK
 * otherwise. A constant side (mist_constant_sides) is checked first by the callers: its
 * answer is 0 exactly, whatever the model. */
#define MIST_MODEL_MIN_ROWS 10
MIST_API int mist_model_check_rows(const mist_model *m, const double *data, size_t n, int dx,
                                   int dy, mist_err *err);

typedef struct mist_data_view {
    const double *data; /* n x (dx+dy), X first */
    size_t n;
    int dx, dy;
} mist_data_view;

/* Many datasets in one pass (sizes may differ): out[s * max(ntaus,1) + i]. The results equal
 * those of mist_model_estimate on each dataset alone (to float rounding). */
MIST_API int mist_model_estimate_batch(mist_model *m, const mist_data_view *sets, size_t nsets,
                                       const double *taus, size_t ntaus, double *out, mist_err *err);

/* OpenBLAS threads for all models (process-wide). 0 on success. */
MIST_API int mist_infer_set_threads(int threads, mist_err *err);
MIST_API int mist_infer_get_threads(void);
/* The OpenBLAS kernel set in use ("SkylakeX", "Haswell", ...). "Prescott" on a modern CPU means
 * this OpenBLAS predates the CPU and fell back to generic SSE3 kernels (3-4x slower): set
 * OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2) in the environment before the program
 * starts (the mist command does this itself). */
MIST_API const char *mist_infer_blas_core(void);

/* ---- official checkpoints ------------------------------------------------------------------ */

typedef struct mist_convert_opts {
    int heads;          /* used only without config.json (heads cannot be read off shapes) */
    int activation;     /* mist_act, used only without config.json (default GELU) */
} mist_convert_opts;

/* Imports an official MIST / MIST-QR checkpoint (PyTorchModelHubMixin model.safetensors and
 * its config.json; config may be NULL: then the arch is read off the tensor shapes and
 * opts->heads is required). The model has input_layout packed, preprocess none. */
MIST_API mist_model *mist_import_official_mem(const void *st, size_t st_len, const char *st_name,
                                              const char *config, size_t config_len,
                                              const char *config_name, const mist_convert_opts *opts,
                                              mist_err *err);
/* File front end: config_path NULL tries config.json next to the safetensors file. Writes
 * out_path atomically; *model_out (may be NULL) receives the model (caller frees). */
MIST_API int mist_convert_official(const char *st_path, const char *config_path, const char *out_path,
                                   const mist_convert_opts *opts, mist_model **model_out, mist_err *err);

/* ---- safetensors ------------------------------------------------------------------------- */

typedef enum mist_st_dtype {
    MIST_ST_F32 = 0, MIST_ST_F64, MIST_ST_F16, MIST_ST_BF16
} mist_st_dtype;

typedef struct mist_st_tensor {
    char *name;
    int dtype; /* mist_st_dtype */
    int ndim;
    int64_t shape[8];
    uint64_t numel;
    const unsigned char *data; /* into the caller's buffer */
    size_t nbytes;
} mist_st_tensor;

typedef struct mist_safetensors {
    mist_st_tensor *tensors; /* sorted by data offset */
    size_t ntensors;
    char *metadata_json;     /* the __metadata__ object as JSON text, or NULL */
} mist_safetensors;

/* Parses and validates a safetensors buffer (header length, JSON, dtypes, shapes, offsets that
 * tile the data section exactly). Tensors point into buf, which must outlive st. */
MIST_API int mist_safetensors_parse(const void *buf, size_t len, const char *name, mist_safetensors *st,
                                    mist_err *err);
MIST_API void mist_safetensors_free(mist_safetensors *st);
/* Tensor by name, NULL when absent. */
MIST_API const mist_st_tensor *mist_safetensors_find(const mist_safetensors *st, const char *name);
/* A tensor's values as float32 (F64 rounded, F16/BF16 widened) into out (numel floats). */
MIST_API void mist_st_to_f32(const mist_st_tensor *t, float *out);
MIST_API const char *mist_st_dtype_name(int dtype);

/* For bindings that mirror the public structs (ctypes): sizeof(type) when field is NULL, else
 * offsetof(type, field); -1 for a type or field not in the table (infer/abi.c: the structs and
 * fields python/mist mirrors). */
MIST_API long long mist_abi_layout(const char *type, const char *field);

#ifdef __cplusplus
}
#endif
#endif
