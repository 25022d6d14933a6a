/* The training graph: forward with stored activations, the loss, and the backward pass of the
 * whole network (model.md steps 1-8) over a batch of datasets; implements mist_train_grad.h.
 *
 * Batching. The B datasets' rows form one ragged token stream X [N, D], N = sum n (the same
 * scheme as inference, graph.c): every row-wise stage (linears, LayerNorms, activations) runs
 * over all N rows in one sgemm, and attention runs per dataset over that dataset's rows only.
 * This is exactly "pad to the longest n and mask the padding rows as keys", with the padding
 * removed instead of computed: a key mask that drops rows n..nmax-1 of a dataset is the same as
 * giving its attention Nk = n keys, and padded query rows (which nothing downstream reads)
 * need not exist. So a batch gives the same loss and gradients as its datasets run alone (to
 * float rounding), and no flop is spent on padding. The learned token sets (inducing points,
 * seeds) are replicated per dataset ([B * m, D]) and their gradients summed over the copies.
 *
 * The forward pass is inference's own (graph.c, graph_run) told to keep its activations
 * (graph_acts.h): same kernels, blocks and order, so a prediction here is the estimate bit for
 * bit. Attention keeps only each row's log-sum-exp; the backward pass recomputes the
 * probabilities of one (dataset, head) at a time (attention_backward). Memory: O(N D)
 * activations per block + O(nmax^2) scratch.
 *
 * The official `packed` layout (its zero-sum key mask quirk) is not supported for training. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph_acts.h"
#include "mist_train_grad.h"
#include "train_graph.h"
#include "util.h"

typedef struct graph {
    graph_acts f; /* the forward's activations */
    float *din_[MIST_MAX_LAYERS], *dpre[MIST_MAX_LAYERS]; /* rho gradients */
    /* backward scratch */
    float *dXa, *dXb, *T1, *T2, *T3, *dZ;
    float *sa, *sb, *sf1, *sf2, *satt, *sq, *skv, *ascr;
} graph;

struct mist_train_ws {
    mist_arch arch;
    float *block;
    size_t cap;
    mist_data_view *views; /* the batch's sets, and each one's tau */
    double *taus;
    size_t views_cap;
    mist_train_timing tim;
    /* mist_train_ws_set_workers: the batch is split over `workers` threads, each with its own
     * sub-workspace and gradient buffer (sub[0] is used by the calling thread) */
    int workers;
    mist_train_ws *sub[MIST_TRAIN_MAX_WORKERS];
    float *wgrads; /* workers x nparams */
    double relu_margin; /* min |x| over every ReLU input of the last forward pass */
    size_t nparams;
};

/* ---- arena ------------------------------------------------------------------------------- */

typedef struct arena {
    float *base; /* NULL: count only */
    size_t used;
} arena;

static float *take(arena *A, size_t n)
{
    size_t o = (A->used + 15) & ~(size_t)15;
    A->used = o + n;
    return A->base ? A->base + o : NULL;
}

static void mab_alloc(arena *A, mab_act *M, const mist_arch *a, int F, size_t Nq, size_t Nk,
                      int extra_ln)
{
    size_t D = (size_t)a->D;
    memset(M, 0, sizeof *M);
    M->q = take(A, Nq * D);
    M->kv = take(A, Nk * 2 * D);
    M->att = take(A, Nq * D);
    M->lse = take(A, Nq * (size_t)a->H);
    M->h1p = take(A, Nq * D);
    M->m1 = take(A, Nq);
    M->r1 = take(A, Nq);
    M->h1 = take(A, Nq * D);
    M->f1 = take(A, Nq * (size_t)F);
    M->g = take(A, Nq * (size_t)F);
    M->h2p = take(A, Nq * D);
    M->m2 = take(A, Nq);
    M->r2 = take(A, Nq);
    M->out = take(A, Nq * D);
    if (extra_ln) {
        M->m3 = take(A, Nq);
        M->r3 = take(A, Nq);
        M->out2 = take(A, Nq * D);
    }
}

static size_t zmax(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* The forward's activations and the backward's scratch of B sets of N tokens in all, the
 * largest nmax (arena A counts, or points into its base). */
static void layout_graph(arena *A, graph *g, const mist_model *model, size_t B, size_t N,
                         size_t nmax)
{
    const mist_arch *a = &model->arch;
    size_t D = (size_t)a->D, P = (size_t)a->max_input_dim, m = (size_t)a->n_inds,
           k = (size_t)a->n_seeds;
    const int pairs = a->input_layout == MIST_LAYOUT_PAIRS;
    graph_acts *f = &g->f;
    memset(f, 0, sizeof *f);
    f->in = take(A, pairs ? 0 : N * P);
    f->tok = take(A, pairs ? N * D : 0);
    f->pooled = take(A, pairs ? N * P : 0);
    f->pscr = take(A, pairs ? pairs_scratch_floats((int)P, nmax) : 0);
    f->a0 = take(A, pairs ? 0 : N * 2 * D);
    f->g0 = take(A, pairs ? 0 : N * 2 * D);
    f->l0 = take(A, pairs ? 0 : N * 2 * D);
    f->m0 = take(A, pairs ? 0 : N);
    f->r0 = take(A, pairs ? 0 : N);
    f->a1 = take(A, pairs ? 0 : N * D);
    f->g1 = take(A, pairs ? 0 : N * D);
    f->x = take(A, N * D);
    f->m1 = take(A, N);
    f->r1 = take(A, N);
    for (int i = 0; i < a->n_feature_sab; i++) mab_alloc(A, &f->fsab[i], a, a->D, N, N, 1);
    for (int i = 0; i < a->n_isab; i++) {
        f->irep[i] = take(A, B * m * D);
        mab_alloc(A, &f->isab0[i], a, a->ff, B * m, N, 0);
        mab_alloc(A, &f->isab1[i], a, a->ff, N, B * m, 0);
    }
    f->srep = take(A, B * k * D);
    mab_alloc(A, &f->pool, a, a->D, B * k, N, 0);
    for (int i = 0; i < a->n_dec; i++) mab_alloc(A, &f->dec[i], a, a->D, B * k, B * k, 0);
    f->zrep = take(A, B * D);
    mab_alloc(A, &f->dpma, a, a->D, B, B * k, 0);
    f->R = take(A, B * D);
    size_t din = D + (pairs ? PAIRS_NGLOB : 0) + (a->quantile_conditioned ? 1 : 0);
    f->z0 = take(A, B * din);
    for (int i = 0; i < a->n_rho; i++) {
        size_t in = i == 0 ? din : (size_t)a->rho_hidden;
        size_t o = i == a->n_rho - 1 ? 1 : (size_t)a->rho_hidden;
        f->rpre[i] = take(A, B * o);
        f->rpost[i] = take(A, B * o);
        g->din_[i] = take(A, B * in);
        g->dpre[i] = take(A, B * o);
    }
    size_t R = zmax(zmax(N, B * m), zmax(B * k, B));
    size_t Fm = zmax((size_t)a->ff, 2 * D);
    g->dXa = take(A, N * D);
    g->dXb = take(A, N * D);
    size_t T = B * zmax(m, k) * D;
    g->T1 = take(A, T);
    g->T2 = take(A, T);
    g->T3 = take(A, T);
    g->dZ = take(A, B * D);
    g->sa = take(A, R * D);
    g->sb = take(A, R * D);
    g->satt = take(A, R * D);
    g->sq = take(A, R * D);
    g->sf1 = take(A, R * Fm);
    g->sf2 = take(A, R * Fm);
    g->skv = take(A, R * 2 * D);
    /* the backward's two score matrices of one (set, head); the forward's blocked scores */
    size_t sc = zmax(zmax(nmax * nmax, m * nmax), zmax(k * nmax, k * k));
    g->ascr = take(A, zmax(2 * sc, attention_scratch_floats(&model->attn)));
    f->ascr = g->ascr;
}

/* ---- context ----------------------------------------------------------------------------- */

typedef struct tctx {
    const mist_arch *a;
    const float *params;
    float *grads;
    double flops;
} tctx;

/* The gradient slot of parameter p (grads are laid out like the parameter block). */
static inline float *GR(const tctx *c, const float *p)
{
    return c->grads + (p - c->params);
}

static void zero(float *x, size_t n)
{
    memset(x, 0, n * sizeof *x);
}

/* ---- MAB forward / backward -------------------------------------------------------------- */

/* dout: gradient of the MAB's result; dxq (queries) and dy (keys/values) ACCUMULATE (may be
 * equal, for a SAB). Uses the graph's scratch buffers. */
static void mab_bwd(tctx *c, graph *g, const mab_w *w, const mab_act *A, const float *ln_w,
                    const float *dout, float *dxq, float *dy)
{
    const mist_arch *a = c->a;
    const int D = a->D, H = a->H, F = w->F;
    const int Nq = (int)A->Nq, Nk = (int)A->Nk;
    const size_t nD = (size_t)Nq * D, nF = (size_t)Nq * F;
    const float *cur = dout;
    if (ln_w) { /* the feature block's LN */
        zero(g->sb, nD);
        layernorm_backward(g->sb, GR(c, ln_w), GR(c, ln_w + D), dout, A->out, ln_w, A->m3, A->r3,
                           Nq, D);
        cur = g->sb;
    }
    /* out = LN2(h2p), h2p = h1 + linear2(act(linear1(h1))) */
    zero(g->sa, nD);
    layernorm_backward(g->sa, GR(c, w->n2_w), GR(c, w->n2_b), cur, A->h2p, w->n2_w, A->m2, A->r2,
                       Nq, D);
    memcpy(g->sb, g->sa, nD * sizeof *g->sb); /* residual: dh1 = dh2p + ... */
    zero(g->sf1, nF);
    linear_backward(g->sf1, GR(c, w->l2_w), GR(c, w->l2_b), g->sa, A->g, w->l2_w, Nq, F, D);
    zero(g->sf2, nF);
    if (a->activation == MIST_ACT_GELU) gelu_backward(g->sf2, A->f1, g->sf1, nF);
    else relu_backward(g->sf2, A->f1, g->sf1, nF);
    linear_backward(g->sb, GR(c, w->l1_w), GR(c, w->l1_b), g->sf2, A->h1, w->l1_w, Nq, D, F);
    /* h1 = LN1(h1p), h1p = xq + out_proj(att) */
    zero(g->sa, nD);
    layernorm_backward(g->sa, GR(c, w->n1_w), GR(c, w->n1_b), g->sb, A->h1p, w->n1_w, A->m1,
                       A->r1, Nq, D);
    residual_backward(dxq, g->sa, nD);
    zero(g->satt, nD);
    linear_backward(g->satt, GR(c, w->out_w), GR(c, w->out_b), g->sa, A->att, w->out_w, Nq, D, D);
    /* attention per dataset */
    zero(g->sq, nD);
    zero(g->skv, (size_t)Nk * 2 * D);
    double pairs = 0;
    for (size_t s = 0; s < A->qs.nseg; s++) {
        size_t q0 = seg_start(&A->qs, s), k0 = seg_start(&A->ks, s);
        int nq = (int)(seg_start(&A->qs, s + 1) - q0), nk = (int)(seg_start(&A->ks, s + 1) - k0);
        attention_backward(g->sq + q0 * D, D, g->skv + k0 * 2 * D, 2 * D, g->skv + k0 * 2 * D + D,
                           2 * D, g->satt + q0 * D, D, A->q + q0 * D, D, A->kv + k0 * 2 * D,
                           2 * D, A->kv + k0 * 2 * D + D, 2 * D, A->att + q0 * D, D,
                           A->lse + q0 * H, NULL, nq, nk, D, H, g->ascr);
        pairs += (double)nq * nk;
    }
    /* in-projections */
    linear_backward(dxq, GR(c, w->in_w), GR(c, w->in_b), g->sq, A->xq, w->in_w, Nq, D, D);
    linear_backward(dy, GR(c, w->in_w + (size_t)D * D), GR(c, w->in_b + D), g->skv, A->y,
                    w->in_w + (size_t)D * D, Nk, D, 2 * D);
    c->flops += 2.0 * (2.0 * Nq * D * D * 2 + 2.0 * Nk * D * 2 * D + 4.0 * (double)Nq * D * F) +
                10.0 * pairs * D;
}

/* Sum over the nseg copies of a replicated token set [nseg, k, D] into its gradient. */
static void reduce_tokens(float *grad, const float *d, size_t nseg, size_t kD)
{
    for (size_t s = 0; s < nseg; s++)
        for (size_t j = 0; j < kD; j++) grad[j] += d[s * kD + j];
}

/* ---- public ------------------------------------------------------------------------------ */

static int check_arch(const mist_arch *a, mist_err *err)
{
    if (a->input_layout != MIST_LAYOUT_SPLIT && a->input_layout != MIST_LAYOUT_PAIRS)
        return mist_fail(err, MIST_EINVAL,
                         "training supports the split and pairs input layouts only (this model "
                         "is %s: the official packed layout's zero-sum key mask is not "
                         "trainable here)",
                         mist_layout_name(a->input_layout));
    return MIST_OK;
}

mist_train_ws *mist_train_ws_alloc(const mist_model *m, mist_err *err)
{
    if (!m) {
        mist_fail(err, MIST_EINVAL, "model is NULL");
        return NULL;
    }
    if (check_arch(&m->arch, err)) return NULL;
    mist_train_ws *ws = calloc(1, sizeof *ws);
    if (!ws) {
        mist_fail(err, MIST_ENOMEM, "out of memory");
        return NULL;
    }
    ws->arch = m->arch;
    ws->workers = 1;
    ws->nparams = m->nparams;
    return ws;
}

void mist_train_ws_free(mist_train_ws *ws)
{
    if (!ws) return;
    free(ws->block);
    free(ws->views);
    free(ws->taus);
    for (int w = 0; w < MIST_TRAIN_MAX_WORKERS; w++) mist_train_ws_free(ws->sub[w]);
    free(ws->wgrads);
    free(ws);
}

double mist_train_ws_relu_margin(const mist_train_ws *ws)
{
    return ws->relu_margin;
}

mist_train_timing *mist_train_ws_timing(mist_train_ws *ws)
{
    return &ws->tim;
}

const char *mist_train_block_name(int block)
{
    static const char *names[MIST_TB_COUNT] = {"prep",    "embed",   "feature", "encoder",
                                               "pool",    "decoder", "rho",     "loss"};
    return block >= 0 && block < MIST_TB_COUNT ? names[block] : "?";
}

static int check_examples(const mist_arch *a, const mist_train_example *ex, size_t B,
                          int loss_kind, mist_err *err)
{
    size_t N = 0;
    for (size_t s = 0; s < B; s++) {
        const mist_train_example *e = &ex[s];
        if (!e->data) return mist_fail(err, MIST_EINVAL, "example %zu: data is NULL", s + 1);
        if (e->dx < 1 || e->dy < 1 || e->dx > a->max_dx || e->dy > a->max_dy)
            return mist_fail(err, MIST_EINVAL,
                             "example %zu: dx = %d, dy = %d outside 1..%d, 1..%d", s + 1, e->dx,
                             e->dy, a->max_dx, a->max_dy);
        if (e->n < 2 || e->n > ((size_t)1 << 20))
            return mist_fail(err, MIST_EDATA, "example %zu: n = %zu outside 2..2^20", s + 1,
                             e->n);
        if (!isfinite(e->mi))
            return mist_fail(err, MIST_EDATA, "example %zu: true MI is not finite", s + 1);
        if (loss_kind == MIST_LOSS_PINBALL && !(e->tau > 0 && e->tau < 1))
            return mist_fail(err, MIST_EINVAL, "example %zu: tau = %g is outside (0, 1)", s + 1,
                             e->tau);
        size_t c = (size_t)(e->dx + e->dy);
        for (size_t i = 0; i < e->n * c; i++)
            if (!isfinite(e->data[i]))
                return mist_fail(err, MIST_EDATA,
                                 "example %zu: non-finite value at row %zu, column %zu", s + 1,
                                 i / c + 1, i % c + 1);
        N += e->n;
    }
    if (N > ((size_t)1 << 22))
        return mist_fail(err, MIST_EINVAL, "the batch holds too many rows (%zu)", N);
    return MIST_OK;
}

/* Every argument check of mist_train_grad. */
static int check_call(const mist_model *m, const mist_train_ws *ws, const mist_train_example *ex,
                      size_t B, int loss_kind, const float *grads, const double *loss,
                      mist_err *err)
{
    if (!m || !ws || !ex || !grads || !loss)
        return mist_fail(err, MIST_EINVAL, "model, workspace, examples, grads and loss must "
                                           "not be NULL");
    if (B == 0 || B > ((size_t)1 << 16))
        return mist_fail(err, MIST_EINVAL, "batch size %zu is outside 1..65536", B);
    if (loss_kind != MIST_LOSS_MSE && loss_kind != MIST_LOSS_PINBALL)
        return mist_fail(err, MIST_EINVAL, "unknown loss kind %d", loss_kind);
    int rc = check_arch(&m->arch, err);
    if (rc) return rc;
    if (memcmp(&m->arch, &ws->arch, sizeof m->arch) != 0)
        return mist_fail(err, MIST_EINVAL, "the workspace was allocated for another model");
    return check_examples(&m->arch, ex, B, loss_kind, err);
}

static int grad_batch(const mist_model *m, mist_train_ws *ws, const mist_train_example *ex,
                      size_t B, int loss_kind, float *grads, double *loss, double *preds,
                      mist_err *err)
{
    int rc = check_call(m, ws, ex, B, loss_kind, grads, loss, err);
    if (rc) return rc;
    const mist_arch *a = &m->arch;
    const int D = a->D, P = a->max_input_dim;
    const size_t m_ = (size_t)a->n_inds, k_ = (size_t)a->n_seeds;
    const int pairs = a->input_layout == MIST_LAYOUT_PAIRS;
    if (B > ws->views_cap) {
        free(ws->views);
        free(ws->taus);
        ws->views = malloc(B * sizeof *ws->views);
        ws->taus = malloc(B * sizeof *ws->taus);
        ws->views_cap = ws->views && ws->taus ? B : 0;
        if (!ws->views_cap) return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    double *taus = ws->taus;
    /* tokens: a dataset's rows, or (pairs) its column pairs */
    size_t N = 0, nmax = 0;
    for (size_t s = 0; s < B; s++) {
        mist_data_view v = {ex[s].data, ex[s].n, ex[s].dx, ex[s].dy};
        ws->views[s] = v;
        taus[s] = loss_kind == MIST_LOSS_PINBALL ? ex[s].tau : 0.5;
        size_t t = graph_tokens(a, &v);
        N += t;
        if (t > nmax) nmax = t;
    }
    graph g;
    arena A = {NULL, 0};
    layout_graph(&A, &g, m, B, N, nmax);
    if (A.used > ws->cap) { /* with 25% slack: batches vary in size */
        size_t want = A.used + A.used / 4;
        free(ws->block);
        ws->block = malloc(want * sizeof(float));
        ws->cap = ws->block ? want : 0;
        if (!ws->block)
            return mist_fail(err, MIST_ENOMEM, "out of memory: training needs %.1f MB",
                             (double)A.used * 4 / 1e6);
    }
    A.base = ws->block, A.used = 0;
    layout_graph(&A, &g, m, B, N, nmax);

    mist_train_timing *T = &ws->tim;
    const mist_params *p = &m->p;
    graph_acts *f = &g.f;
    tctx c = {a, m->params, grads, 0.0};

    /* ---- forward: inference's, keeping the activations ---- */
    double *pred = malloc(B * sizeof *pred);
    if (!pred) return mist_fail(err, MIST_ENOMEM, "out of memory");
    for (int b = 0; b < MIST_TB_COUNT; b++) f->fwd_s[b] = 0;
    rc = graph_run(m, NULL, ws->views, B, taus, 1, 1, pred, f, err);
    if (rc) {
        graph_acts_release(f, B);
        free(pred);
        return rc;
    }
    for (int b = 0; b < MIST_TB_COUNT; b++) T->fwd[b] += f->fwd_s[b];
    c.flops += f->flops;
    const size_t *rows = f->off;
    const pairs_set *ps = f->ps;
    double t0 = mist_clock_s(), t1;
#define LAP(arr, blk) (t1 = mist_clock_s(), T->arr[blk] += t1 - t0, t0 = t1)

    /* the distance of the ReLU inputs from the kink (tests: finite differences need it) */
    double margin = INFINITY;
    for (int i = 0; i < a->n_rho - 1; i++)
        for (size_t j = 0; j < B * (size_t)p->rho[i].out; j++)
            margin = fmin(margin, fabs((double)f->rpre[i][j]));
    if (a->activation == MIST_ACT_RELU) {
        const mab_act *all[4 * MIST_MAX_LAYERS + 2];
        int na = 0;
        for (int i = 0; i < a->n_feature_sab; i++) all[na++] = &f->fsab[i];
        for (int i = 0; i < a->n_isab; i++) all[na++] = &f->isab0[i], all[na++] = &f->isab1[i];
        all[na++] = &f->pool;
        for (int i = 0; i < a->n_dec; i++) all[na++] = &f->dec[i];
        all[na++] = &f->dpma;
        const mab_w *wl[4 * MIST_MAX_LAYERS + 2];
        na = 0;
        for (int i = 0; i < a->n_feature_sab; i++) wl[na++] = &p->fsab[i];
        for (int i = 0; i < a->n_isab; i++) wl[na++] = &p->isab0[i], wl[na++] = &p->isab1[i];
        wl[na++] = &p->pool;
        for (int i = 0; i < a->n_dec; i++) wl[na++] = &p->dec[i];
        wl[na++] = &p->dec_pma;
        for (int i = 0; i < na; i++)
            for (size_t j = 0; j < all[i]->Nq * (size_t)wl[i]->F; j++)
                margin = fmin(margin, fabs((double)all[i]->f1[j]));
    }
    ws->relu_margin = margin;
    /* ---- loss ---- */
    const int last = a->n_rho - 1;
    float *dpred = g.dpre[last];
    double L = 0;
    for (size_t s = 0; s < B; s++) {
        double pr = pred[s], dl;
        if (preds) preds[s] = pr;
        if (loss_kind == MIST_LOSS_MSE) {
            L += (pr - ex[s].mi) * (pr - ex[s].mi);
            dl = 2.0 * (pr - ex[s].mi);
        } else {
            double d = ex[s].mi - pr, tau = ex[s].tau;
            L += d >= 0 ? tau * d : (tau - 1) * d;
            /* d loss / d pred; at d == 0 the two branches' gradients are split evenly */
            dl = d > 0 ? -tau : d < 0 ? 1 - tau : 0.5 - tau;
        }
        dpred[s] = (float)(dl / (double)B);
    }
    free(pred);
    *loss = L / (double)B;
    LAP(fwd, MIST_TB_LOSS);

    /* ---- backward ---- */
    const int din = D + (pairs ? PAIRS_NGLOB : 0) + (a->quantile_conditioned ? 1 : 0);
    for (int i = last; i >= 0; i--) {
        const lin_w *l = &p->rho[i];
        if (i < last) { /* dpre = relu'(pre) * dpost, dpost = din_[i + 1] */
            zero(g.dpre[i], B * (size_t)l->out);
            relu_backward(g.dpre[i], f->rpre[i], g.din_[i + 1], B * (size_t)l->out);
        }
        zero(g.din_[i], B * (size_t)l->in);
        linear_backward(g.din_[i], GR(&c, l->w), GR(&c, l->b), g.dpre[i],
                        i == 0 ? f->z0 : f->rpost[i - 1], l->w, (int)B, l->in, l->out);
        c.flops += 4.0 * B * l->in * l->out;
    }
    /* dR = the first D columns of d z0 (tau is an input, not a parameter) */
    float *dR = g.T3; /* free until the decoder */
    for (size_t s = 0; s < B; s++)
        memcpy(dR + s * D, g.din_[0] + s * din, (size_t)D * sizeof *dR);
    zero(g.dZ, B * (size_t)D);
    linear_backward(g.dZ, GR(&c, p->out.w), GR(&c, p->out.b), dR, mab_result(&f->dpma), p->out.w,
                    (int)B, D, D);
    c.flops += 4.0 * B * D * D;
    LAP(bwd, MIST_TB_RHO);
    float *Tc = g.T1, *Tn = g.T2, *tmp;
    size_t kD = k_ * D;
    zero(Tc, B * kD);
    zero(g.T3, B * (size_t)D);
    mab_bwd(&c, &g, &p->dec_pma, &f->dpma, NULL, g.dZ, g.T3, Tc);
    reduce_tokens(GR(&c, p->dec_s), g.T3, B, (size_t)D);
    for (int i = a->n_dec - 1; i >= 0; i--) {
        zero(Tn, B * kD);
        mab_bwd(&c, &g, &p->dec[i], &f->dec[i], NULL, Tc, Tn, Tn);
        tmp = Tc, Tc = Tn, Tn = tmp;
    }
    LAP(bwd, MIST_TB_DECODER);
    float *dXc = g.dXa, *dXn = g.dXb;
    zero(dXc, N * D);
    zero(g.T3, B * kD);
    mab_bwd(&c, &g, &p->pool, &f->pool, NULL, Tc, g.T3, dXc);
    reduce_tokens(GR(&c, p->pool_s), g.T3, B, kD);
    if (pairs && a->sum_head)
        for (size_t s = 0; s < B; s++)
            pairs_sum_head_backward(dXc + rows[s] * D, GR(&c, p->sum_w), f->xenc + rows[s] * D,
                                    p->sum_w, ps[s].Tc, D, (double)dpred[s]);
    LAP(bwd, MIST_TB_POOL);
    size_t mD = m_ * D;
    for (int i = a->n_isab - 1; i >= 0; i--) {
        zero(dXn, N * D);
        zero(g.T1, B * mD);
        mab_bwd(&c, &g, &p->isab1[i], &f->isab1[i], NULL, dXc, dXn, g.T1);
        zero(g.T2, B * mD);
        mab_bwd(&c, &g, &p->isab0[i], &f->isab0[i], NULL, g.T1, g.T2, dXn);
        reduce_tokens(GR(&c, p->isab_i[i]), g.T2, B, mD);
        tmp = dXc, dXc = dXn, dXn = tmp;
    }
    LAP(bwd, MIST_TB_ENCODER);
    for (int i = a->n_feature_sab - 1; i >= 0; i--) {
        zero(dXn, N * D);
        mab_bwd(&c, &g, &p->fsab[i], &f->fsab[i], p->fln_w[i], dXc, dXn, dXn);
        tmp = dXc, dXc = dXn, dXn = tmp;
    }
    LAP(bwd, MIST_TB_FEATURE);
    int n = (int)N;
    if (pairs) {
        zero(g.sa, N * D);
        layernorm_backward(g.sa, GR(&c, p->pln_w), GR(&c, p->pln_b), dXc, f->tok, p->pln_w,
                           f->m1, f->r1, n, D);
        for (size_t s = 0; s < B; s++)
            c.flops += pairs_backward(c.grads, c.params, g.sa + rows[s] * D,
                                      f->pooled + rows[s] * P, &ps[s], p, D, P, a->activation,
                                      f->pscr);
    } else {
        zero(g.sa, N * D);
        layernorm_backward(g.sa, GR(&c, p->emb6_w), GR(&c, p->emb6_b), dXc, f->g1, p->emb6_w,
                           f->m1, f->r1, n, D);
        zero(g.sb, N * D);
        gelu_backward(g.sb, f->a1, g.sa, N * D);
        zero(g.sf1, N * 2 * D);
        linear_backward(g.sf1, GR(&c, p->emb4.w), GR(&c, p->emb4.b), g.sb, f->l0, p->emb4.w, n,
                        2 * D, D);
        zero(g.sf2, N * 2 * D);
        layernorm_backward(g.sf2, GR(&c, p->emb2_w), GR(&c, p->emb2_b), g.sf1, f->g0, p->emb2_w,
                           f->m0, f->r0, n, 2 * D);
        zero(g.sf1, N * 2 * D);
        gelu_backward(g.sf1, f->a0, g.sf2, N * 2 * D);
        linear_backward(NULL, GR(&c, p->emb0.w), GR(&c, p->emb0.b), g.sf1, f->in, p->emb0.w, n,
                        P, 2 * D);
        c.flops += 4.0 * N * 2 * D * D + 2.0 * N * P * 2 * D;
    }
    LAP(bwd, MIST_TB_EMBED);
#undef LAP
    graph_acts_release(f, B);
    T->flops += c.flops;
    T->ws_bytes = (double)ws->cap * sizeof(float);
    T->calls += 1;
    T->rows += (double)N;
    return MIST_OK;
}

/* ---- workers ----------------------------------------------------------------------------- */

int mist_train_ws_set_workers(mist_train_ws *ws, int workers, mist_err *err)
{
    if (!ws) return mist_fail(err, MIST_EINVAL, "workspace is NULL");
    if (workers < 1 || workers > MIST_TRAIN_MAX_WORKERS)
        return mist_fail(err, MIST_EINVAL, "workers must be within 1..%d (got %d)",
                         MIST_TRAIN_MAX_WORKERS, workers);
    ws->workers = workers;
    return MIST_OK;
}

typedef struct wjob {
    const mist_model *m;
    mist_train_ws *ws;
    const mist_train_example *ex;
    size_t B;
    int loss_kind;
    float *grads;
    double loss;
    double *preds;
    int rc;
    mist_err err;
} wjob;

static void *wjob_run(void *p)
{
    wjob *j = p;
    j->rc = grad_batch(j->m, j->ws, j->ex, j->B, j->loss_kind, j->grads, &j->loss, j->preds,
                       &j->err);
    return NULL;
}

static double ex_cost(const mist_train_example *e, const mist_arch *a)
{
    if (a->input_layout == MIST_LAYOUT_PAIRS) { /* the pair statistic dominates */
        double T = (double)pairs_count(e->dx, e->dy), P = a->max_input_dim;
        return (double)e->n * T * P * (P + PAIRS_NFEAT) + T * (T + 8.0 * a->D) * a->D;
    }
    return (double)e->n * ((double)e->n + 8.0 * a->D);
}

int mist_train_grad(mist_model *m, mist_train_ws *ws, const mist_train_example *ex, size_t B,
                    int loss_kind, float *grads, double *loss, double *preds, mist_err *err)
{
    if (!ws || ws->workers <= 1 || B < 2 || !m || !ex || !grads || !loss)
        return grad_batch(m, ws, ex, B, loss_kind, grads, loss, preds, err);
    /* checked here too, so that messages number the examples of the whole batch */
    int rc = check_call(m, ws, ex, B, loss_kind, grads, loss, err);
    if (rc) return rc;
    int W = ws->workers < (int)B ? ws->workers : (int)B;
    size_t np = ws->nparams;
    if (m->nparams != np)
        return mist_fail(err, MIST_EINVAL, "the workspace was allocated for another model");
    if (!ws->wgrads) {
        ws->wgrads = malloc((size_t)MIST_TRAIN_MAX_WORKERS * np * sizeof *ws->wgrads);
        if (!ws->wgrads) return mist_fail(err, MIST_ENOMEM, "out of memory for worker gradients");
    }
    for (int w = 0; w < W; w++)
        if (!ws->sub[w] && !(ws->sub[w] = mist_train_ws_alloc(m, err))) return err ? err->code : 1;
    /* contiguous chunks of about equal cost (row-wise work ~ n D, attention ~ n^2) */
    double total = 0;
    for (size_t s = 0; s < B; s++) total += ex_cost(&ex[s], &m->arch);
    wjob jobs[MIST_TRAIN_MAX_WORKERS];
    size_t s0 = 0;
    double acc = 0;
    for (int w = 0; w < W; w++) {
        size_t s1 = s0, keep = (size_t)(W - 1 - w); /* at least one example per later worker */
        double target = total * (w + 1) / W;
        if (w == W - 1) s1 = B;
        /* take at least one; then while the next example's midpoint stays under the target */
        while (s1 < B - keep && (s1 == s0 || acc + ex_cost(&ex[s1], &m->arch) / 2 <= target))
            acc += ex_cost(&ex[s1++], &m->arch);
        wjob j = {m, ws->sub[w], ex + s0, s1 - s0, loss_kind, ws->wgrads + (size_t)w * np, 0,
                  preds ? preds + s0 : NULL, 0, {0, ""}};
        jobs[w] = j;
        memset(jobs[w].grads, 0, np * sizeof *jobs[w].grads);
        s0 = s1;
    }
    /* OpenBLAS's own threads and ours would fight (concurrent calls into a multi-threaded
     * OpenBLAS run ~15x slower): one OpenBLAS thread per worker while the workers run */
    int blas_threads = mist_infer_get_threads();
    if (blas_threads > 1) mist_infer_set_threads(1, NULL);
    mist_fan_out(wjob_run, jobs, sizeof *jobs, W);
    if (blas_threads > 1) mist_infer_set_threads(blas_threads, NULL);
    for (int w = 0; w < W; w++)
        if (jobs[w].rc) {
            if (err) *err = jobs[w].err;
            return jobs[w].rc;
        }
    /* the batch mean = sum over chunks of (B_w / B) x the chunk mean */
    double L = 0;
    for (int w = 0; w < W; w++) {
        float f = (float)((double)jobs[w].B / (double)B);
        const float *g = jobs[w].grads;
        for (size_t i = 0; i < np; i++) grads[i] += f * g[i];
        L += (double)jobs[w].B / (double)B * jobs[w].loss;
        const mist_train_timing *t = &ws->sub[w]->tim;
        for (int b = 0; b < MIST_TB_COUNT; b++)
            ws->tim.fwd[b] += t->fwd[b], ws->tim.bwd[b] += t->bwd[b];
        ws->tim.flops += t->flops, ws->tim.rows += t->rows;
        if (w == 0) ws->tim.ws_bytes = 0;
        ws->tim.ws_bytes += t->ws_bytes;
        memset(&ws->sub[w]->tim, 0, sizeof ws->sub[w]->tim);
    }
    ws->tim.calls += 1;
    ws->relu_margin = INFINITY;
    for (int w = 0; w < W; w++) ws->relu_margin = fmin(ws->relu_margin, ws->sub[w]->relu_margin);
    *loss = L;
    return MIST_OK;
}
