/* mist training: the loop around mist_train_grad (train/mist_train_grad.h).
 *
 * A run draws batches of B datasets from a gen/ meta-distribution (deterministic in the seed
 * and the step, so --resume continues bit for bit), computes loss and gradients, clips them by
 * global norm, takes an AdamW step (decoupled weight decay on weight matrices only) under a
 * linear warm-up + cosine schedule, validates on a fixed suite, logs a CSV, and writes atomic
 * checkpoints (parameters, AdamW moments, step, configuration) every few minutes and at the end.
 * The library never prints: progress comes back through a callback.
 *
 * Weight decay applies to the 2-D weight tensors (Linear weights and attention in_proj
 * weights). It does not apply to biases, LayerNorm parameters, or the learned token sets
 * (ISAB inducing points, PMA seeds: [1, k, D] tensors that act like embeddings). */
#ifndef MIST_TRAIN_H
#define MIST_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mist_core.h"
#include "mist_infer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MIST_CKPT_FORMAT "mist-train-checkpoint"
#define MIST_CKPT_VERSION 1
#define MIST_CKPT_FILE "checkpoint.msgpack"

/* ---- architecture presets ------------------------------------------------------------------ */

/* "tiny" (tests), "small", "medium": split layout, copula preprocessing, GELU. */
MIST_API int mist_arch_preset(const char *name, mist_arch *a, mist_err *err);
/* Applies one "key=value" override: any field of the arch field table (mist_arch_field_name:
 * the weights file's keys, also "layout" and "heads"; enums by name) or max_d for both maxima;
 * max_dx / max_dy / max_d and the layout also update the split layout's max_input_dim and
 * d_max. Values are range-checked. */
MIST_API int mist_arch_override(mist_arch *a, const char *kv, mist_err *err);

/* ---- optimizer ---------------------------------------------------------------------------- */

/* One AdamW step over n parameters (t >= 1 is the step number, for bias correction):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p = p - lr wd p [decay[i] != 0]  - lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 * decay may be NULL (no weight decay anywhere). Arithmetic per element in double. */
MIST_API void mist_adamw_update(float *params, const float *grads, float *m, float *v,
                                const unsigned char *decay, size_t n, double lr, double beta1,
                                double beta2, double eps, double wd, int64_t t);
/* Global L2 norm of g; when it exceeds max_norm (> 0) g is scaled by max_norm / (norm + 1e-6)
 * (PyTorch's clip_grad_norm_). Returns the norm before clipping. */
MIST_API double mist_clip_grad_norm(float *g, size_t n, double max_norm);
/* Learning rate at step (0-based) of total: linear warm-up lr (step+1)/warmup for
 * step < warmup, then cosine from lr down to lr * floor_frac at step total - 1. */
MIST_API double mist_lr_at(int64_t step, int64_t total, int64_t warmup, double lr, double floor_frac);
/* decay[i] = 1 for the parameters that get weight decay (see above), 0 otherwise. */
MIST_API void mist_decay_mask(const mist_model *m, unsigned char *decay);

/* ---- configuration ------------------------------------------------------------------------ */

typedef struct mist_train_config {
    mist_arch arch;
    char arch_spec[256];   /* how the arch was given ("tiny,D=32"), recorded only */
    int loss;              /* enum mist_loss */
    int batch;             /* datasets per step */
    int64_t steps;         /* total steps */
    double lr, lr_floor;   /* peak lr; final lr = lr * lr_floor */
    int64_t warmup;        /* warm-up steps */
    double wd, clip;       /* decoupled weight decay; global-norm clip (0: off) */
    double beta1, beta2, eps;
    char metadist[64];
    uint64_t seed;         /* init weights, stream, taus */
    uint64_t val_seed;     /* validation suite */
    int val_count;         /* validation datasets (0: no validation) */
    int64_t val_every;     /* validate every this many steps (and at the end) */
    int pool;              /* bucketing: batches per sorted pool */
    int64_t n_min, n_max;  /* 0: the meta-distribution's own n */
    int threads;           /* BLAS threads */
    int prefetch;          /* generate the next batch on a worker thread */
    double ckpt_every_s;   /* checkpoint period in seconds (<= 0: only at the end) */
    int64_t stop_after;    /* > 0: stop (with a checkpoint) after this step, for tests */
    char dump_dir[1024];   /* non-empty: dump the first dump_steps batches as .npy here */
    int dump_steps;
    /* non-empty: a weights file whose parameters replace the random initial ones (a fresh run
     * only; its graph must equal arch's up to gauss_base and the trained range). Not stored in
     * checkpoints: a resumed run continues from its own parameters. */
    char init_from[1024];
    /* 1: every training dataset is given in its canonical column order and signs (the same
     * transform as mist_model_set_col_canon, X and Y exchanged for half of them, chosen by the
     * dataset's seed), and the exported model reads canonical columns (meta "columns") */
    int col_canon;
} mist_train_config;

MIST_API void mist_train_config_default(mist_train_config *c);
MIST_API int mist_train_config_validate(const mist_train_config *c, mist_err *err);

/* ---- data stream -------------------------------------------------------------------------- */

typedef struct mist_batch {
    size_t B;
    mist_dataset **sets; /* B datasets (owned) */
    double *tau;         /* B taus in (0,1) (0.5 for mse) */
    int64_t step;
} mist_batch;

typedef struct mist_stream mist_stream;

/* Batches for cfg (metadist, seed, batch, pool, n range, loss) and arch's maxima. */
MIST_API mist_stream *mist_stream_create(const mist_train_config *cfg, mist_err *err);
MIST_API void mist_stream_free(mist_stream *s);
/* The batch of step (deterministic in (seed, step) alone; the worker thread, when enabled,
 * only changes timing). The batch is owned by the stream until the next call. */
MIST_API int mist_stream_get(mist_stream *s, int64_t step, const mist_batch **out, mist_err *err);
/* Generate only the datasets [lo, hi) of every batch (the others stay NULL; taus are all
 * there): a rank's share in data-parallel training. Call before the first mist_stream_get. */
MIST_API void mist_stream_set_share(mist_stream *s, size_t lo, size_t hi);
/* The validation suite: cfg->val_count datasets from the same meta-distribution and val_seed
 * (owned by the caller: free each with mist_dataset_free, then the array). */
MIST_API int mist_stream_validation(const mist_train_config *cfg, mist_dataset ***sets, size_t *count,
                                    mist_err *err);
/* Validation MSE of the point (tau 0.5 for QR) and mean pinball over tau in
 * {0.05, 0.25, 0.5, 0.75, 0.95} (a point model's prediction is used for every tau). */
MIST_API int mist_validate(mist_model *m, mist_dataset *const *sets, size_t count, double *mse,
                           double *pinball, mist_err *err);

/* ---- checkpoints -------------------------------------------------------------------------- */

typedef struct mist_checkpoint {
    mist_train_config cfg;
    int64_t step;          /* steps done */
    double elapsed_s;      /* training wall time so far */
    double last_loss;      /* mean train loss of the last logging window */
    double val_mse, val_pinball; /* last validation (NaN when none) */
    uint64_t datasets;     /* datasets seen */
    int64_t n_seen_min, n_seen_max; /* rows per dataset seen in training (0: none yet) */
    int64_t d_seen_min, d_seen_max; /* dims of X and Y seen in training (0: none yet) */
    size_t nparams;
    float *params, *m, *v; /* nparams each (owned) */
} mist_checkpoint;

MIST_API int mist_checkpoint_write(const char *path, const mist_checkpoint *ck, mist_err *err);
/* Strict reader: format, version, every key present with the right type, sizes consistent
 * with the arch. path may be a run folder (then DIR/checkpoint.msgpack). */
MIST_API int mist_checkpoint_read(const char *path, mist_checkpoint *ck, mist_err *err);
MIST_API int mist_checkpoint_read_mem(const void *buf, size_t len, const char *name, mist_checkpoint *ck,
                                      mist_err *err);
MIST_API void mist_checkpoint_free(mist_checkpoint *ck);
/* An inference weights file from a checkpoint, training facts in meta; the arch's trained n and
 * d ranges are set to those the training actually saw. */
MIST_API int mist_train_export(const char *ckpt_path, const char *out_path, mist_err *err);
/* Weight averaging over the end of a run: the uniform mean of the parameters of k checkpoints
 * of one run (same architecture, loss, seed, meta-distribution), exported like the newest of
 * them. k = 1 is mist_train_export. */
MIST_API int mist_train_export_average(const char *const *paths, size_t k, const char *out_path,
                                       mist_err *err);

/* ---- quantile calibration ------------------------------------------------------------------ */

/* Fresh datasets of a meta-distribution (those the model's dims allow), drawn as a validation
 * suite of seed: choose a seed other than the run's val_seed. */
typedef struct mist_calib_opts {
    const char *metadist;  /* NULL or "": "default" */
    uint64_t seed;
    size_t count;
    int64_t n_min, n_max;  /* 0: the meta-distribution's own n */
} mist_calib_opts;

/* Draws the datasets of o into *sets (*count of them); free with mist_calib_free. Draw once
 * and measure as often as needed: generating them costs more than estimating on them. */
MIST_API int mist_calib_draw(const mist_model *m, const mist_calib_opts *o, mist_dataset ***sets,
                             size_t *count, mist_err *err);
MIST_API void mist_calib_free(mist_dataset **sets, size_t count);

/* cover[j]: the share of the datasets whose true MI <= the model's taus[j]-quantile, the
 * model as it stands (its recalibration, if any, applied; sorted quantiles). */
MIST_API int mist_quantile_coverage(mist_model *m, mist_dataset *const *sets, size_t count,
                                    const double *taus, size_t ntaus, double *cover, mist_err *err);

/* The recalibration map from a coverage curve measured without a map: for each target level
 * (increasing, in (0, 1)) the network level whose coverage is that target, by linear
 * interpolation of the curve through (0, 0), (grid[j], cover[j]) and (1, 1). Give the result
 * to mist_model_set_quantile_map(m, targets, taus_out, ntargets). */
MIST_API int mist_quantile_map_fit(const double *grid, const double *cover, size_t ngrid,
                                   const double *targets, size_t ntargets, double *taus_out,
                                   mist_err *err);

/* Residual recalibration of one n-group (sets drawn with its n range): values[j] = the
 * levels[j] empirical quantile of (MI - m) / s over the sets, m and s the median and hi - lo
 * spread of the model without recalibration (s at least MIST_QRESID_MIN_SPREAD, as inference
 * does). The rows of all groups make the mist_qresid given to mist_model_set_quantile_resid. */
MIST_API int mist_quantile_resid_fit(mist_model *m, mist_dataset *const *sets, size_t count, double lo,
                                     double hi, const double *levels, size_t k, double *values,
                                     mist_err *err);

/* The whole recalibration (mist train calibrate): residual tables per n-group and a level
 * map fitted on datasets of seed, checked on datasets of seed + 1; the one closer to the
 * diagonal there is set on m (or the one method asked for), with a note in meta
 * "quantile_calibration". Save m afterwards to keep it. */
enum { MIST_CALIB_AUTO = 0, MIST_CALIB_MAP = 1, MIST_CALIB_RESID = 2 };
#define MIST_CALIB_NCHECK 19     /* checked levels 0.05, 0.10 .. 0.95 */
#define MIST_CALIB_MAX_GROUPS 32
typedef struct mist_calibrate_opts {
    int method;               /* MIST_CALIB_* */
    const char *metadist;     /* NULL or "": the model's training one (meta "metadist"), else
                               * "default" */
    uint64_t seed;
    size_t count;             /* datasets of the map fit and of the check; N/2 per n-group for
                               * the residual fit, N/4 per group for its check */
    int64_t n_min, n_max;     /* both 0: the model's trained n range (arch n_min..n_max) */
    const int64_t *n_groups;  /* increasing upper bounds of the n-groups (NULL: 25, 50, 100,
                               * 200, 350); those outside the n range are dropped */
    size_t n_ngroups;
} mist_calibrate_opts;
MIST_API void mist_calibrate_opts_default(mist_calibrate_opts *o);

typedef struct mist_calibrate_report {
    char metadist[64];        /* what was used */
    int64_t n_min, n_max;
    uint64_t seed, held_seed;
    size_t count, group_count;
    double check[MIST_CALIB_NCHECK];   /* levels checked */
    double network[MIST_CALIB_NCHECK]; /* held-out share with MI <= q_tau: no recalibration, */
    double map[MIST_CALIB_NCHECK];     /* the level map, */
    double resid[MIST_CALIB_NCHECK];   /* the residual one (not fitted: unset) */
    double worst_network, worst_map, worst_resid; /* largest |share - tau| (NaN: not fitted) */
    size_t ngroups;
    int64_t group_lo[MIST_CALIB_MAX_GROUPS], group_hi[MIST_CALIB_MAX_GROUPS];
    double group_cover[3][MIST_CALIB_MAX_GROUPS]; /* 90% interval coverage: network, map, resid */
    int kept_map;             /* 1: the level map was kept; 0: the residual one */
} mist_calibrate_report;
MIST_API int mist_calibrate_model(mist_model *m, const mist_calibrate_opts *o, mist_calibrate_report *r,
                                  mist_err *err);

/* ---- resume ------------------------------------------------------------------------------- */

/* The settings of now (a resume) that make the result differ from the uninterrupted run of the
 * checkpoint's configuration was: another thread count (the batch gradient is summed in another
 * order) or another total of steps (the learning-rate schedule). Returns how many, described in
 * buf (may be NULL). mist train prints them as a warning and resumes. */
MIST_API size_t mist_train_resume_changes(const mist_train_config *was, const mist_train_config *now,
                                          char *buf, size_t bufsz);

/* ---- the run ------------------------------------------------------------------------------ */

enum { MIST_TRAIN_EV_STEP = 0, MIST_TRAIN_EV_VAL = 1, MIST_TRAIN_EV_CKPT = 2,
       MIST_TRAIN_EV_DONE = 3 };

typedef struct mist_train_progress {
    int event;
    int64_t step, steps;   /* steps done, total */
    double elapsed_s, lr, loss; /* loss: mean over the steps since the last report */
    double grad_norm;
    double val_mse, val_pinball; /* NaN until the first validation */
    double datasets_per_s, eta_s; /* since this process started the run */
    double gflops;         /* achieved matrix-product GFLOP/s (forward + backward), same span */
    const char *path;      /* EV_CKPT: the checkpoint written */
} mist_train_progress;

/* Return non-zero to stop the run (a checkpoint is written first). */
typedef int (*mist_train_progress_fn)(const mist_train_progress *p, void *user);

/* Trains cfg into out_dir (created if needed): train.csv, checkpoint.msgpack, and at the end
 * model.msgpack (the export). resume_dir (may be NULL) continues a run from its checkpoint: the
 * checkpoint's configuration is used, except steps, ckpt_every_s, threads, stop_after and
 * prefetch, which come from cfg (pass cfg NULL to take everything from the checkpoint). */
MIST_API int mist_train_run(const mist_train_config *cfg, const char *out_dir, const char *resume_dir,
                            mist_train_progress_fn cb, void *user, mist_err *err);

#ifdef __cplusplus
}
#endif
#endif
