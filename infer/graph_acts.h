/* The network's one forward pass (graph.c, graph_run) and what it keeps for a backward pass.
 *
 * Inference and training run the same code: graph_run without a graph_acts is inference (the
 * per-token stages run block by block in place, nothing is kept, memory linear in the rows);
 * with one it is training's forward, which writes every intermediate the backward needs
 * (train_graph.c) into the caller's arrays instead of reusing block buffers. Same kernels, same
 * blocks, same order: the training forward's prediction is the estimate, bit for bit.
 * Not installed. */
#ifndef MIST_GRAPH_ACTS_H
#define MIST_GRAPH_ACTS_H

#include "infer_internal.h"

/* Segments of a row range: segment s is rows [seg_start(s), seg_start(s + 1)). */
typedef struct segs {
    size_t nseg;
    const size_t *off; /* nseg + 1 offsets, or NULL: uniform stride */
    size_t stride;
} segs;

static inline size_t seg_start(const segs *s, size_t i)
{
    return s->off ? s->off[i] : i * s->stride;
}

/* One MAB's kept activations (rows: Nq queries, Nk keys/values). graph_run sets xq, y, the
 * segments and the sizes; the arrays are the caller's. */
typedef struct mab_act {
    const float *xq, *y; /* inputs: queries [Nq, D], keys/values [Nk, D] */
    float *q;            /* [Nq, D] */
    float *kv;           /* [Nk, 2D]: key then value of each row */
    float *att, *lse;    /* attention output [Nq, D] and its log-sum-exp [Nq, H] */
    float *h1p, *m1, *r1, *h1;           /* xq + out_proj(att); LN1 stats; LN1 output */
    float *f1, *g;                       /* linear1 output [Nq, F]; its activation */
    float *h2p, *m2, *r2, *out;          /* h1 + linear2(g); LN2 stats; LN2 output */
    float *m3, *r3, *out2;               /* the feature block's LN after a SAB (else NULL) */
    segs qs, ks;
    size_t Nq, Nk;
} mab_act;

static inline const float *mab_result(const mab_act *A)
{
    return A->out2 ? A->out2 : A->out;
}

/* Blocks of the forward (and backward) pass, for timing. */
enum {
    MIST_TB_PREP = 0, /* input preparation (copula / zscore, layout) */
    MIST_TB_EMBED,    /* embedding MLP (or the pair tokens) */
    MIST_TB_FEATURE,  /* feature block SABs + LNs */
    MIST_TB_ENCODER,  /* ISABs */
    MIST_TB_POOL,     /* PMA(n_seeds) */
    MIST_TB_DECODER,  /* decoder SABs + PMA(1) */
    MIST_TB_RHO,      /* output layer + rho head */
    MIST_TB_LOSS,     /* loss and its gradient */
    MIST_TB_COUNT
};

/* A training forward's activations. The caller points the arrays into its own block (sizes in
 * train_graph.c's layout) for B sets of N tokens in all (tokens: rows, or the pairs layout's
 * column pairs); graph_run fills them and the fields below the line. */
typedef struct graph_acts {
    float *in;                   /* [N, P] input rows (split layout) */
    float *tok, *pooled, *pscr;  /* pairs: tokens before the LN [N, D], pooled [N, P], scratch */
    float *a0, *g0, *l0, *m0, *r0, *a1, *g1; /* embedding MLP (split) */
    float *x, *m1, *r1;          /* the tokens after the embedding's (or the pairs') last LN */
    mab_act fsab[MIST_MAX_LAYERS], isab0[MIST_MAX_LAYERS], isab1[MIST_MAX_LAYERS], pool,
        dec[MIST_MAX_LAYERS], dpma;
    float *irep[MIST_MAX_LAYERS], *srep, *zrep; /* replicated learned tokens */
    float *R;                                  /* output layer [B, D] */
    float *z0;                                 /* rho input [B, din] */
    float *rpre[MIST_MAX_LAYERS], *rpost[MIST_MAX_LAYERS]; /* rho layers before / after ReLU */
    float *ascr; /* attention scratch, at least attention_scratch_floats(model's cfg) */
    /* ---- set by graph_run (graph_acts_release frees what it owns) ---- */
    size_t *off;       /* B + 1 token offsets */
    size_t *coff;      /* the feature block's row chunks (NULL: one per set) */
    segs rows, fseg;   /* per set; the feature block's */
    pairs_set *ps;     /* pairs layout: each set's front end [B] */
    const float *xenc; /* the encoder's output [N, D] (sum_head) */
    double flops;      /* matrix-product flops of the forward */
    double fwd_s[MIST_TB_COUNT]; /* seconds per block, added to */
} graph_acts;

/* Tokens of one set: its rows, or (pairs layout) its column pairs. */
size_t graph_tokens(const mist_arch *a, const mist_data_view *v);

/* Steps 1-8 of model.md over nsets validated sets: out[s * nq + i] is the network's output at
 * tau taus[s * tau_stride + i] (taus NULL or a point model: 0.5), plus the pairs layout's
 * base. acts NULL: inference in the workspace ws (the model's; the only memory written
 * besides out). acts: the training forward (ws unused), which writes nothing of m, so
 * training workers may share a model. After a training forward, successful or not,
 * graph_acts_release frees what graph_run allocated. */
int graph_run(const mist_model *m, infer_ws *ws, const mist_data_view *sets, size_t nsets,
              const double *taus, size_t nq, size_t tau_stride, double *out, graph_acts *acts,
              mist_err *err);
void graph_acts_release(graph_acts *acts, size_t nsets);

#endif
