/* The contract between the model's backward pass (infer/ *_backward functions and the
 * training graph) and the training loop (train/): one call turns a batch of datasets with
 * their true MI into the mean loss and its gradient with respect to every parameter. */
#ifndef MIST_TRAIN_GRAD_H
#define MIST_TRAIN_GRAD_H

#include "mist_core.h"
#include "mist_infer.h"

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

#ifdef __cplusplus
}
#endif
#endif
