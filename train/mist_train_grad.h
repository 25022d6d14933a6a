/* The contract between the model's backward pass (infer/ *_backward functions and the
 * training graph) and the training loop (train/): one call turns a batch of datasets with
 * their true MI into the mean loss and its gradient with respect to every parameter. */
#ifndef MIST_TRAIN_GRAD_H
#define MIST_TRAIN_GRAD_H

#include "mist_core.h"
#include "mist_infer.h"
#include "mist_train.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mist_loss { MIST_LOSS_MSE = 0, MIST_LOSS_PINBALL = 1 };

/* One training example: a dataset (n x (dx+dy) float64, row-major, X first), its true MI, and
 * for the pinball loss its tau in (0,1) (ignored for mse). Preprocessing (copula/zscore) and
 * the input layout are the model's, exactly as in mist_model_estimate. */
typedef struct mist_train_example {
    const double *data;
    size_t n;
    int dx, dy;
    double mi;
    double tau;
} mist_train_example;

typedef struct mist_train_ws mist_train_ws; /* activations and scratch, grown on demand */

mist_train_ws *mist_train_ws_alloc(const mist_model *m, mist_err *err);
void mist_train_ws_free(mist_train_ws *ws);

/* Forward and backward over a batch of B examples (padded to the longest n with key masks, so
 * padding never changes a result). *loss receives the batch loss: mse = mean (pred - mi)^2;
 * pinball = mean max((tau - 1) d, tau d) with d = mi - pred. grads (mist_model_param_count
 * floats, laid out like mist_model_params) is ACCUMULATED into (+=): the caller zeroes it.
 * preds (may be NULL) receives the B predictions. */
int mist_train_grad(mist_model *m, mist_train_ws *ws, const mist_train_example *ex, size_t B,
                    int loss_kind, float *grads, double *loss, double *preds, mist_err *err);

/* ---- data-parallel training ---------------------------------------------------------------
 * The program supplies the transport (mpi/mpi_train.c over MPI); libmist itself has none. Every
 * rank runs mist_train_run_dist with the same arguments: each draws and differentiates only its
 * contiguous share (mist_train_dist_share) of every global batch; rank 0 alone reads the
 * checkpoint it resumes from (and hands it to the others), validates, logs, calls cb and writes
 * checkpoints and the export. The updates are the same on every rank. */
typedef struct mist_train_dist mist_train_dist;
struct mist_train_dist {
    int rank, size;
    /* The gradient of the whole batch (mist_train_grad's contract) from every rank's share:
     * ex[lo..hi) hold this rank's examples (the others' data is NULL); loss, grads and all B
     * preds come back on every rank; seen (n min/max, d min/max, 0: none) is widened by every
     * example of the batch. */
    int (*grad)(mist_train_dist *d, mist_model *m, const mist_train_example *ex, size_t B,
                int loss_kind, float *grads, double *loss, double *preds, int64_t seen[4],
                mist_err *err);
    /* rank 0's bytes to every rank */
    int (*bcast)(mist_train_dist *d, void *buf, size_t bytes, mist_err *err);
    /* 0 when rc is 0 on every rank; else non-zero everywhere (with a message naming the rank) */
    int (*agree)(mist_train_dist *d, int rc, mist_err *err);
    /* matrix-product flops of every batch so far, all ranks together (grad adds them; the
     * trainer's GFLOP/s under MPI) */
    double flops;
    void *impl;
};
/* Rank's examples [*lo, *hi) of a batch of B: contiguous, sizes differing by at most one. */
void mist_train_dist_share(size_t B, int rank, int size, size_t *lo, size_t *hi);
/* mist_train_run over d (NULL: mist_train_run). */
int mist_train_run_dist(const mist_train_config *cfg, const char *out_dir, const char *resume_dir,
                        mist_train_dist *d, mist_train_progress_fn cb, void *user, mist_err *err);

#ifdef __cplusplus
}
#endif
#endif
