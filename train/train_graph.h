/* Internal to the training graph (train_graph.c) and its benchmark: the per-block timing and
 * flop count kept in a mist_train_ws. Not installed. */
#ifndef MIST_TRAIN_GRAPH_H
#define MIST_TRAIN_GRAPH_H

#include "mist_train_grad.h"

/* the blocks timed (MIST_TB_*) */
#include "graph_acts.h"

/* Cumulative over every mist_train_grad call on the workspace (zero it to restart). */
typedef struct mist_train_timing {
    double fwd[MIST_TB_COUNT], bwd[MIST_TB_COUNT]; /* seconds */
    double flops;       /* matrix-product flops (2 M N K per product), forward + backward */
    double calls, rows; /* mist_train_grad calls, dataset rows processed */
    double ws_bytes;    /* the workspace's activation memory now (all workers) */
} mist_train_timing;

mist_train_timing *mist_train_ws_timing(mist_train_ws *ws);

/* Splits each mist_train_grad batch over `workers` threads (contiguous chunks of about equal
 * cost, each with its own sub-workspace and gradient buffer; the chunk means are combined with
 * weights B_w / B), so results equal workers = 1 to float rounding. This is the way to use
 * several cores: OpenBLAS threading of the many small per-head products costs more than it
 * gains, while datasets are independent. While the workers run, OpenBLAS is set to one thread
 * (process-wide; restored afterwards), since concurrent calls into a multi-threaded OpenBLAS
 * are ~15x slower. Default 1. With workers > 1 the per-block times are summed over workers
 * (CPU seconds, not wall time). */
#define MIST_TRAIN_MAX_WORKERS 16
int mist_train_ws_set_workers(mist_train_ws *ws, int workers, mist_err *err);
const char *mist_train_block_name(int block);
/* For finite-difference tests: the smallest |x| over every ReLU input (rho head; the MABs'
 * feed-forward when the activation is ReLU) of the last mist_train_grad forward pass. */
double mist_train_ws_relu_margin(const mist_train_ws *ws);

#endif
