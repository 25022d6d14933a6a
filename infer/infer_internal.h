/* Private parts of the inference engine: the layer kernels (forward functions over raw float
 * arrays, llm.c style; each has a naive reference in reference.c and room for its backward
 * pass beside it), the blocks, the tensor table and the model object. Not installed. */
#ifndef MIST_INFER_INTERNAL_H
#define MIST_INFER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mist_infer.h"

/* Upper bounds on arch values: a hostile file must not make us allocate terabytes. */
#define MIST_MAX_LAYERS 64      /* n_feature_sab, n_isab, n_dec, n_rho */
#define MIST_MAX_WIDTH 8192     /* D, ff, rho_hidden */
#define MIST_MAX_INPUT 4096     /* max_input_dim */
#define MIST_MAX_TOKENS 4096    /* n_inds, n_seeds */
#define MIST_MAX_PARAMS ((size_t)1 << 30) /* 4 GiB of float32 */
#define MIST_TENSOR_NAME_LEN 96

/* Elementwise loops are compiled for several x86-64 levels and picked at load time (GCC function
 * multi-versioning). No implicit FMA contraction happens (ISO C mode: -ffp-contract=off) and
 * explicit fmaf is exactly rounded everywhere, so every version computes bit-identical
 * results. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(MIST_NO_CLONES)
#define MIST_VEC_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MIST_VEC_CLONES
#endif

/* ---- kernels --------------------------------------------------------------------------- */
/* Row-major float arrays throughout; shapes in [rows, cols]. PyTorch layout for weights:
 * a Linear(C -> OC) weight is [OC, C]. Outputs come first in every signature. */

/* linear.c
 * out[N, OC] = inp[N, C] @ weight[OC, C]^T + bias[OC]   (bias may be NULL) */
void linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                    int C, int OC);
/* Same over the first K of the C input columns (the rest known to be zero): inp [N, K] with
 * leading dimension ldi, weight [OC, ldw]. */
void linear_forward_cols(float *out, const float *inp, int ldi, const float *weight, int ldw,
                         const float *bias, int N, int K, int OC);
/* out[N, OC] = res[N, OC] + inp[N, C] @ weight[OC, C]^T + bias[OC]; res may equal out. */
void linear_forward_residual(float *out, const float *res, const float *inp, const float *weight,
                             const float *bias, int N, int C, int OC);

/* layernorm.c
 * out[N, C] = (inp - mean) / sqrt(var + eps) * w + b per row, biased variance; out may equal
 * inp. */
void layernorm_forward(float *out, const float *inp, const float *w, const float *b, int N,
                       int C, float eps);

/* activations.c (elementwise; out may equal inp)
 * gelu: x * Phi(x), the exact erf form 0.5 x (1 + erf(x / sqrt 2)), to ~1e-7 relative.
 * relu: max(x, 0). softmax: per row of [N, C]. */
void gelu_forward(float *out, const float *inp, size_t n);
void relu_forward(float *out, const float *inp, size_t n);
void softmax_forward(float *out, const float *inp, int N, int C);
/* Vector math used by the kernels: out[i] = exp(inp[i]) to ~1e-7 relative (0 below -87.3, inf
 * above 88); out may equal inp. exp_shift_sum: x[i] = exp(x[i] - m) for x[i] <= m (the row
 * maximum), returns the sum. vmax: maximum of n > 0 values. */
void vexp_forward(float *out, const float *inp, size_t n);
float vexp_shift_sum(float *x, size_t n, float m);
float vmax(const float *x, size_t n);

/* attention.c
 * Multi-head scaled dot-product attention, the core of MHA after the in-projections:
 * for each head h (head size hd = D/H, columns h*hd .. h*hd+hd-1 of q, k, v and out)
 *   out_h[Nq, hd] = softmax(q_h[Nq, hd] k_h[Nk, hd]^T / sqrt(hd) + mask) v_h[Nk, hd]
 * q and out have leading dimensions ldq, ldo (>= D); head h of q and out is columns
 * h*hd .. h*hd+hd-1. Key j of head h, dimension d is k[h * khs + j * ldk + d] (v likewise):
 * khs = hd, ldk = D for a plain [Nk, D] array; khs = Nk * hd, ldk = hd for head-major
 * [H, Nk, hd] (contiguous per head, which sgemm packs faster). kmask[Nk] (1 = keep, 0 = the
 * key is ignored; NULL keeps all). A query with every key masked gets NaN (as PyTorch).
 * lse [Nq, H] (lse[i * H + h], may be NULL): each row's log-sum-exp of its scaled scores (-inf
 * when every key is masked), which attention_backward needs.
 * Queries run in blocks of q_block rows; keys in blocks of kv_block with a streaming (online)
 * softmax when Nk > kv_block, so no more than q_block x kv_block scores exist at once.
 * scratch: attention_scratch_floats(q_block, kv_block) floats. */
typedef struct attn_cfg {
    int q_block;  /* >= 1 */
    int kv_block; /* >= 1 */
} attn_cfg;
size_t attention_scratch_floats(const attn_cfg *cfg);
void attention_forward(float *out, int ldo, float *lse, const float *q, int ldq, const float *k,
                       int ldk, size_t khs, const float *v, int ldv, size_t vhs,
                       const uint8_t *kmask, int Nq, int Nk, int D, int H, const attn_cfg *cfg,
                       float *scratch);

/* attention_bias.c
 * Multi-head attention within each of S segments of L tokens (segment s is rows s*L ..
 * s*L+L-1 of every array; its queries attend to its own keys only), with an additive per-head
 * logit bias chosen by block membership: token t of a segment is in block 0 when t < B, else
 * block 1 (0 <= B <= L), and for head h
 *   logit(i, j) = q_i . k_j / sqrt(hd) + bias[(g(i) != g(j)) * H + h]
 * bias [2, H]: row 0 within a block, row 1 across blocks (NULL: zero). Head h is columns
 * h*hd .. h*hd+hd-1 of out, q, k, v (rows with leading dimensions ldo, ldq, ldk, ldv).
 * lse[S*L, H] (lse[r * H + h]) is kept for the backward when not NULL (inference: NULL).
 * A query whose logits are all -inf (possible only with an infinite bias) gets NaN.
 * scratch: attention_blockbias_scratch_floats(L, D, H) floats, for forward and backward.
 * The backward ACCUMULATES into dq, dk, dv (layouts of q, k, v with leading dimensions
 * lddq, lddk, lddv) and dbias[2, H]; NULL skips one. dout (ld lddo), out (ld ldo) and lse are
 * the forward's. */
size_t attention_blockbias_scratch_floats(int L, int D, int H);
void attention_blockbias_forward(float *out, int ldo, float *lse, const float *q, int ldq,
                                 const float *k, int ldk, const float *v, int ldv,
                                 const float *bias, int S, int L, int B, int D, int H,
                                 float *scratch);
void attention_blockbias_backward(float *dq, int lddq, float *dk, int lddk, float *dv, int lddv,
                                  float *dbias, const float *dout, int lddo, const float *q,
                                  int ldq, const float *k, int ldk, const float *v, int ldv,
                                  const float *out, int ldo, const float *lse,
                                  const float *bias, int S, int L, int B, int D, int H,
                                  float *scratch);

/* reference.c: the same maths in plain loops (double accumulators), for the tests. */
void linear_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                        int N, int C, int OC);
void layernorm_forward_ref(float *out, const float *inp, const float *w, const float *b, int N,
                           int C, float eps);
void gelu_forward_ref(float *out, const float *inp, size_t n);
void relu_forward_ref(float *out, const float *inp, size_t n);
void softmax_forward_ref(float *out, const float *inp, int N, int C);
void attention_forward_ref(float *out, const float *q, const float *k, const float *v,
                           const uint8_t *kmask, int Nq, int Nk, int D, int H);

/* ---- backward kernels (training) ----------------------------------------------------------
 * Every backward function ACCUMULATES (+=) into its gradient outputs; NULL skips one.
 * linear.c: for out = inp @ weight^T + bias: dinp[N, C] += dout @ weight,
 * dweight[OC, C] += dout^T @ inp, dbias[OC] += column sums of dout. */
void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC);
/* dinp[i] += dout[i] (the residual branch of x + f(x)). */
void residual_backward(float *dinp, const float *dout, size_t n);
/* layernorm.c: layernorm_forward that also stores per-row mean[N] and rstd[N] (same bits as
 * layernorm_forward); out may equal inp. layernorm_backward takes the forward's input. */
void layernorm_forward_train(float *out, float *mean, float *rstd, const float *inp,
                             const float *w, const float *b, int N, int C, float eps);
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int N, int C);
/* activations.c: inp is the forward's input; softmax_backward takes the forward's output. */
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void relu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void softmax_backward(float *dinp, const float *out, const float *dout, int N, int C);
/* attention.c: the backward of attention_forward (plain [*, D]-style layouts: head h is
 * columns h*hd .. of every array; ld* are leading dimensions) from its output and lse;
 * recomputes the probabilities (scratch 2 Nq Nk floats). */
void attention_backward(float *dq, int lddq, float *dk, int lddk, float *dv, int lddv,
                        const float *dout, int lddo, const float *q, int ldq, const float *k,
                        int ldk, const float *v, int ldv, const float *out, int ldo,
                        const float *lse, const uint8_t *kmask, int Nq, int Nk, int D, int H,
                        float *scratch);
/* reference.c (packed arrays, double accumulators, accumulate like the kernels). */
void linear_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int N, int C, int OC);
void layernorm_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int N, int C, float eps);
void gelu_backward_ref(float *dinp, const float *inp, const float *dout, size_t n);
void attention_backward_ref(float *dq, float *dk, float *dv, const float *dout, const float *q,
                            const float *k, const float *v, const uint8_t *kmask, int Nq, int Nk,
                            int D, int H);
/* Packed arrays [S*L, D]; lse may be NULL; the backward's gradients may each be NULL. */
void attention_blockbias_forward_ref(float *out, float *lse, const float *q, const float *k,
                                     const float *v, const float *bias, int S, int L, int B,
                                     int D, int H);
void attention_blockbias_backward_ref(float *dq, float *dk, float *dv, float *dbias,
                                      const float *dout, const float *q, const float *k,
                                      const float *v, const float *bias, int S, int L, int B,
                                      int D, int H);

/* ---- parameters ------------------------------------------------------------------------ */

typedef struct mab_w {
    float *in_w, *in_b;   /* [3D, D] rows q, k, v; [3D] */
    float *out_w, *out_b; /* [D, D]; [D] */
    float *n1_w, *n1_b, *n2_w, *n2_b; /* [D] */
    float *l1_w, *l1_b;   /* [F, D]; [F] */
    float *l2_w, *l2_b;   /* [D, F]; [D] */
    int F;
} mab_w;

typedef struct lin_w {
    float *w, *b;
    int in, out;
} lin_w;

typedef struct mist_params {
    /* pairs layout: the pair statistic of cross pairs (c) and within-block pairs (w):
     * Linear(4, P) GELU Linear(P, P) GELU, mean over rows, Linear(P, D); the per-pair Gaussian
     * features through Linear(PAIRS_NSTAT, D) without bias; LayerNorm(D) */
    lin_w pc0, pc1, pc2, pw0, pw1, pw2;
    float *pstat_w, *pln_w, *pln_b;
    lin_w emb0, emb4;                 /* Linear(P, 2D), Linear(2D, D) */
    float *emb2_w, *emb2_b, *emb6_w, *emb6_b; /* LN(2D), LN(D) */
    mab_w fsab[MIST_MAX_LAYERS];      /* feature block SABs (F = D) */
    float *fln_w[MIST_MAX_LAYERS], *fln_b[MIST_MAX_LAYERS];
    float *isab_i[MIST_MAX_LAYERS];   /* [1, n_inds, D] */
    mab_w isab0[MIST_MAX_LAYERS], isab1[MIST_MAX_LAYERS]; /* F = ff */
    float *pool_s;                    /* [1, n_seeds, D] */
    mab_w pool;                       /* F = D */
    mab_w dec[MIST_MAX_LAYERS];       /* decoder SABs (F = D) */
    float *dec_s;                     /* [1, 1, D] */
    mab_w dec_pma;                    /* F = D */
    lin_w out;                        /* Linear(D, D) */
    lin_w rho[MIST_MAX_LAYERS];       /* Linear(D(+1) -> hidden) ... Linear(hidden -> 1) */
    float *sum_w;                     /* sum_head: [D], last in the table (zero-initialised) */
} mist_params;

enum { INIT_ZERO, INIT_ONE, INIT_FANIN, INIT_XAVIER };

typedef struct tensor_spec {
    char name[MIST_TENSOR_NAME_LEN]; /* ours = the official name without the "core." prefix */
    int ndim;
    int64_t shape[3];
    size_t numel;
    size_t offset;  /* into the parameter block, in floats */
    float **slot;   /* where the pointer to the data goes (NULL when enumerating only) */
    int init;       /* INIT_* for mist_model_create_random */
    double bound;   /* uniform bound for INIT_FANIN / INIT_XAVIER */
} tensor_spec;

/* THE tensor table: every tensor of the graph of arch a, in order (the order of the PyTorch
 * state_dict), with shapes. Used by the loader, the writer, the converter and the pointer
 * set-up. p may be NULL (no slots). *out is malloc'd. a must be valid. */
int arch_tensor_table(const mist_arch *a, mist_params *p, tensor_spec **out, size_t *count,
                      mist_err *err);

/* ---- the pairs layout's front end (pairs.c) --------------------------------------------------
 * A dataset of n rows, d = dx + dy columns becomes T = dx dy + dx (dx-1)/2 + dy (dy-1)/2 tokens,
 * one per unordered column pair: the cross pairs (x_j, y_k) first (j-major), then the pairs
 * within X, then within Y (each j < j'). Token t of pair (a, b):
 *   tok_t = W2 mean_i GELU(W1 GELU(W0 f(u_i, v_i) + b0) + b1) + b2 + Ws stat_t
 * with GELU or ReLU (the arch's activation), u, v the columns' normal scores, f(u, v) = [(u+v)/sqrt2, |u-v|/sqrt2, uv, (u^2+v^2)/2 - 1]
 * symmetric in (u, v), (W0, W1, W2) those of the pair's type (cross / within), stat_t =
 * [I(copula)/2, I(raw)/2, ln(n)/6] with I = -1/2 ln(1 - r^2) of the pair's correlation r (of
 * the normal scores; of the raw values). The tokens are LayerNormed by the caller. The rho
 * head also reads PAIRS_NGLOB dataset-level features (pairs_set.glob). Every feature is
 * invariant to row order, to the order of the columns within X and within Y, and symmetric
 * in X and Y; the tokens of a permuted or swapped dataset are a permutation of the tokens. */
#define PAIRS_NFEAT 4
#define PAIRS_NSTAT 3
#define PAIRS_NGLOB 8
#define PAIRS_MAX_D 256 /* max_dx, max_dy of a pairs model */

typedef struct pairs_set {
    size_t n;
    int dx, dy;
    size_t T, Tc;    /* tokens; cross pairs (the first Tc tokens) */
    float *z;        /* [n, dx + dy] normal scores */
    int *ab;         /* [T, 2] the pair's columns a < b */
    float *stat;     /* [T, PAIRS_NSTAT] */
    float glob[PAIRS_NGLOB];
    /* The copula MI of the blocks less its finite-sample bias for Gaussian data
     * (mist_gaussian_mi_bias), clamped to [0, 40], from n >= dx + dy + 3 rows; -1 below that,
     * where pairs_base uses the shrunk estimate glob[4] (the unbiased one is too noisy there). */
    double base_unbiased;
    int ksg_ok; /* pairs_set_ksg: 1 when KSG was defined on the rows, 0 when it was not */
    /* gauss_base_cap (pairs_set_build; +inf otherwise): ln of the fewer distinct rows of the
     * X block and of the Y block, where either has a repeated row; +inf where both blocks'
     * rows are all distinct. I(X;Y) <= min(H(X), H(Y))
     * <= ln |support|, and a discrete block shows its support in the sample; the Gaussian MI
     * does not know this and is infinite when a discrete column of X repeats one of Y. */
    double discrete_cap;
} pairs_set;

size_t pairs_count(int dx, int dy);
/* The base a gauss_base model adds to every output: the Gaussian-copula MI of the blocks, as
 * glob holds it (glob[4] = I/4, rounded to float: inference and training add the same value);
 * with gauss_base_unbiased, that MI less its Wishart bias (pairs_set.base_unbiased); with
 * gauss_base_cap, at most pairs_set.discrete_cap. */
static inline double pairs_base(const mist_arch *a, const pairs_set *s)
{
    if (!a->gauss_base) return 0.0;
    double b = a->gauss_base_unbiased && s->base_unbiased >= 0 ? s->base_unbiased
                                                               : 4.0 * (double)s->glob[4];
    return a->gauss_base_cap && b > s->discrete_cap ? s->discrete_cap : b;
}
/* sum_head: PAIRS_SUM_SCALE * sum over the Tc cross tokens t of w . tok_t (tok [>= Tc, D]: the
 * encoder's output, cross tokens first; w [D]). MI of independent pairs adds up, while every
 * pooling after the encoder averages; a readout summed over the tokens can carry a per-pair
 * correction to dx dy = 1,024 pairs. Accumulated in double, in token order. The scale bounds
 * the readout's sensitivity (and its share of the clipped gradient norm) where Tc is large. */
#define PAIRS_SUM_SCALE 0.125
double pairs_sum_head(const float *tok, const float *w, size_t Tc, int D);
/* Adds g * d pairs_sum_head / d tok into dtok [Tc, D] and g * d / d w into dw [D]. */
void pairs_sum_head_backward(float *dtok, float *dw, const float *tok, const float *w, size_t Tc,
                             int D, double g);
/* Normal scores, pair list and Gaussian features of one validated dataset (n x (dx+dy) raw
 * values). Owns its arrays: pairs_set_free. */
int pairs_set_prepare(pairs_set *s, const double *data, size_t n, int dx, int dy, mist_err *err);
void pairs_set_free(pairs_set *s);
/* The front end as the arch asks for it, one place for inference and training:
 * pairs_set_prepare, then gauss_base_cap's bound, sign_canon, ksg_feature. Frees s on error. */
int pairs_set_build(pairs_set *s, const mist_arch *a, const double *data, size_t n, int dx,
                    int dy, mist_err *err);
/* ksg_feature: KSG (algorithm 1, k = 5, no z-scoring, no tie-breaking noise) of the
 * set's normal scores replaces glob[5] and glob[6] (log1p(I(raw)) and log1p(I(copula))) with
 * I_ksg / 4 and log1p(max(0, I_ksg)); where KSG is undefined (ties, n <= 5) the copula MI
 * stands in and glob[6] = -1. Beyond pairs_ksg_rows(n, d) rows it runs on that many rows: those
 * with the smallest order-free keys (row_key), so the features stay invariant to the order of
 * rows, of the columns within X and Y, and to the swap. Cost O(m^2 d) at most. */
#define PAIRS_KSG_BUDGET 2e8 /* m^2 d: about 0.1-0.3 s of KSG at the largest */
size_t pairs_ksg_rows(size_t n, int d);
int pairs_set_ksg(pairs_set *s, mist_err *err);
/* sign_canon: every column of s->z multiplied by a sign (+-1) that is a function of the data
 * such that negating any columns of the input leaves s->z bit for bit the same; sign [dx + dy]
 * (may be NULL) gets the signs applied. Row and column order and the X/Y swap move the result
 * only by rounding. O(n d m + d m^2 + m^3 sweeps), m = min(dx, dy) (pairs_canon.c). */
int pairs_set_canon(pairs_set *s, double *sign, mist_err *err);
/* Eigenvalues (left on A's diagonal) and eigenvectors (V's columns) of the symmetric A [m, m]
 * by cyclic Jacobi: maps S A S to S V S exactly for any diagonal signs S. */
void canon_jacobi(double *A, double *V, int m);
/* col_canon.c: the canonical column order and signs of a dataset n x (dx+dy) (finite values):
 * output column c is sign[c] times input column src[c] (X columns to X positions, Y to Y);
 * kappa (may be NULL): the matched pairs' share of the cross dependence (mist_route_kappa);
 * then the canonical copy (swap: with the Y block first, dims dy x dx). */
int col_canon_plan(const double *data, size_t n, int dx, int dy, int *src, double *sign,
                   double *kappa, mist_err *err);
void col_canon_apply(double *out, const double *data, size_t n, int dx, int dy, const int *src,
                     const double *sign, int swap);
/* Scratch floats for pairs_forward and pairs_backward at pooled width P, T tokens. */
size_t pairs_scratch_floats(int P, size_t T);
/* tok [T, D] (before the LayerNorm) and pooled [T, P] (the row means, kept for the backward)
 * of one dataset. */
void pairs_forward(float *tok, float *pooled, const pairs_set *s, const mist_params *p, int D,
                   int P, int act, float *scratch);
/* ACCUMULATES the gradients of every pairs tensor (grads laid out like params, the block p
 * points into) from dtok [T, D] = d loss / d tok; pooled is the forward's. Recomputes the
 * per-row activations instead of storing them. Returns the matrix-product flops done. */
double pairs_backward(float *grads, const float *params, const float *dtok, const float *pooled,
                      const pairs_set *s, const mist_params *p, int D, int P, int act,
                      float *scratch);
/* The same maths in plain loops with double accumulators (tests). */
void pairs_forward_ref(float *tok, const pairs_set *s, const mist_params *p, int D, int P,
                       int act);

/* ---- the model ------------------------------------------------------------------------- */

typedef struct infer_ws {
    float *block;   /* one allocation */
    size_t cap;     /* floats */
    unsigned char *bytes; /* masks */
    size_t bytes_cap;
} infer_ws;

struct mist_model {
    mist_arch arch;
    float *params;
    size_t nparams;
    mist_params p;
    tensor_spec *table;
    size_t ntensors;
    unsigned char *meta_mp; /* the meta map, msgpack bytes (NULL: empty) */
    size_t meta_len;
    char *meta_json;        /* rendered on demand */
    int raw_quantiles;
    int col_canon;          /* mist_model_set_col_canon */
    mist_model *route_alt;  /* route.c: owned; NULL: no routing */
    double route_kappa_min;
    double route_arbiter;   /* route.c: 0 none, else the first model keeps a kappa-routed set
                             * when its median is this much closer to the copula (ARBITER) */
    double *qmap_level, *qmap_tau; /* the quantile recalibration map (qmap.c), qmap_k knots */
    size_t qmap_k;
    double qres_lo, qres_hi, *qres_level, *qres_value; /* residual recalibration (qmap.c): */
    int64_t *qres_bound;                               /* qres_groups - 1 n bounds, */
    size_t qres_k, qres_groups;                        /* k knots, values groups x k */
    attn_cfg attn;
    int row_block;          /* rows per block of the per-token stages */
    size_t row_chunk;       /* most rows one feature-block attention spans (0: all) */
    infer_ws ws;
};

/* weights.c: the meta key that opens a model with column canonicalisation on ("canonical")
 * or off ("as_given"); absent: off. */
#define COLUMNS_META_KEY "columns"
/* qmap.c: the meta key of the quantile map; parse its value (len 0: no map) into m; the
 * network level to query for a calibrated tau (tau itself without a map). */
#define QMAP_META_KEY "quantile_map"
int qmap_parse(mist_model *m, const char *name, const char *s, size_t len, mist_err *err);
double qmap_apply(const mist_model *m, double tau);
/* qmap.c: residual recalibration, meta "quantile_resid"; qres_apply turns the network's
 * quantiles at (qres_lo, 0.5, qres_hi) of one set of n rows into the ntaus asked for (0: the
 * median). */
#define QRES_META_KEY "quantile_resid"
int qres_parse(mist_model *m, const char *name, const char *s, size_t len, mist_err *err);
void qres_apply(const mist_model *m, const double *net3, size_t n, const double *taus,
                size_t ntaus, double *out);

/* route.c: the meta keys naming the second model's file and the kappa threshold (text). */
#define ROUTE_META_KEY "route"
#define ROUTE_KAPPA_META_KEY "route_kappa"
#define ROUTE_ARBITER_META_KEY "route_arbiter"
/* The guard's (and the route's) 90% intervals: the 95% normal quantile, two-sided 90%. */
#define GUARD_Z 1.6448536269514722
/* route.c: reads the route meta of a freshly opened model (path: its file, NULL from memory)
 * and opens the second model; no meta: nothing to do. */
int route_attach(mist_model *m, const char *path, mist_err *err);
/* route.c: what the arbiter computed for one set (ARBITER): the first model's median and the
 * second model's reading at 0.05, 0.5, 0.95 (a point model: [1] its point), kept so that the
 * answer to a set it keeps needs no second pass of either model. */
typedef struct {
    double first;
    double second[3];
    int have;
} route_memo;
/* route.c: 1 when these levels are the ones route_memo holds the second model's reading at. */
int route_memo_levels(const double *taus, size_t ntaus);
/* route.c: mist_model_route_pick on a set that passed m's checks; memo (may be NULL) gets the
 * arbiter's readings where it decided. */
mist_model *route_pick_checked(mist_model *m, const double *data, size_t n, int dx, int dy,
                               double *kappa, int *reason, route_memo *memo, mist_err *err);
/* route.c: the answer to a validated set the arbiter kept with the first model (ARBITER), from
 * memo where it holds what the answer needs (may be NULL). */
int route_arbiter_answer(mist_model *m, const mist_data_view *v, const double *taus,
                         size_t ntaus, const route_memo *memo, double *out, mist_err *err);
/* route.c: estimates of validated sets, each by the model mist_model_route_pick picks. */
int route_estimate_batch(mist_model *m, const mist_data_view *sets, size_t nsets,
                         const double *taus, size_t ntaus, double *out, mist_err *err);
/* model.c: the checks of one dataset against an arch (what prefixes the message). */
int model_check_set(const mist_arch *a, const mist_data_view *v, const char *what,
                    mist_err *err);
/* model.c: the estimate of validated sets by m itself (no routing). */
int model_estimate_noroute(mist_model *m, const mist_data_view *sets, size_t nsets,
                           const double *taus, size_t ntaus, double *out, mist_err *err);
/* weights.c: mist_model_open without reading the route meta (the second model's own open). */
mist_model *mist_model_open_noroute(const char *path, mist_err *err);

/* row_chunk.c: a set of n rows meets itself in the feature block within k =
 * row_chunk_count(n, chunk) runs of equal size (1: no chunks), run j starting at row
 * row_chunk_start(n, k, j) of the rows put in row_chunk_order (in place, n x cols): an order
 * that is a function of the set of rows, whatever order they came in. */
size_t row_chunk_count(size_t n, size_t chunk);
size_t row_chunk_start(size_t n, size_t k, size_t j);
int row_chunk_order(double *data, size_t n, int cols, mist_err *err);
/* The distinct rows of data (n x cols; -0 == +0): when some row repeats, *out receives them
 * (malloc'd, in row_chunk_order's order, the first of each run of copies) and *m their number;
 * otherwise *out = NULL and *m = n. */
int row_distinct(const double *data, size_t n, int cols, double **out, size_t *m, mist_err *err);

/* model.c: block sizes of the forward pass (tests and benchmarks; <= 0 keeps a value). */
void infer_set_blocks(mist_model *m, int row_block, int q_block, int kv_block);
/* model.c: allocates the model for arch a (validated) with zeroed parameters. */
mist_model *model_alloc(const mist_arch *a, mist_err *err);

/* graph.c: steps 1-8 of model.md over nsets prepared datasets (already validated). out as in
 * mist_model_estimate_batch, raw (unsorted) quantiles. */
int graph_forward(mist_model *m, const mist_data_view *sets, size_t nsets, const double *taus,
                  size_t ntaus, double *out, mist_err *err);

/* weights.c */
int weights_write(const mist_model *m, const char *path, mist_err *err);

/* A float32 from its 4 little-endian bytes / into them. */
static inline float infer_get_f32le(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#endif
