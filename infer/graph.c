/* The MIST graph (model.md steps 1-8) over a ragged batch of datasets.
 *
 * Facts verified against the official code, github.com/grgera/mist at commit 3fc7e62
 * (src/mist_statinf/...):
 * - model/architecture.py, MISTSetTransformer.forward:
 *     padding_mask_input = (x.sum(dim=-1) == 0)      on the raw float32 input rows
 *     x = embedding_mlp(x)
 *     x = feature_interaction_block(x, src_key_padding_mask=padding_mask_input)
 *     x = encoder(x, src_key_padding_mask=padding_mask_seq)
 *     x = pooling_pma(x, src_key_padding_mask=padding_mask_seq)
 *     x = decoder(x)                                  (no mask)
 *     x = x[:, 0, :]; return output_layer(x)
 *   padding_mask_seq = batch.get("padding_mask"): only the training collate
 *   (data/meta_dataloader.py) sets it, for rows padded past a dataset's length; the Hugging
 *   Face entry points (model/modeling_hf.py estimate_point / estimate_interval_qr) pass only
 *   "source" (and "tau"), so at inference the zero-sum mask acts in the feature block only,
 *   and the encoder, pooling and decoder see every row. Our ragged batch never pads, so
 *   padding_mask_seq is never needed.
 * - embedding_mlp = Sequential(Linear(P, 2D), GELU(), LayerNorm(2D), Dropout, Linear(2D, D),
 *   GELU(), LayerNorm(D)): indices 0, 2, 4, 6 hold parameters. nn.GELU() default = exact erf.
 * - FeatureInteractionBlock.layers = [SAB, LayerNorm(D), Dropout(0.3)] x n: SAB at 3i, LN at
 *   3i+1. Every SAB gets the mask. SAB = MAB(x, x) with dim_feedforward = embed_dim (D).
 * - MAB.forward: h = norm1(x + mha(x, y, y, key_padding_mask=mask)[0]);
 *   out = norm2(h + linear2(act(linear1(h)))). mha = nn.MultiheadAttention(D, H, dropout=0,
 *   batch_first=True): in_proj_weight [3D, D] (q, k, v rows), in_proj_bias, out_proj; scores
 *   scaled by 1/sqrt(D/H); key_padding_mask True = ignored. LayerNorm eps default 1e-5.
 *   act = GELU() when activation is "gelu"/"Gelu", else ReLU().
 * - ISABEncoderLayer: parameters i [1, n_inds, D], mab0, mab1 (dim_feedforward = ff);
 *   h = mab0(I, src, key_padding_mask=mask); return mab1(src, h) (no mask: keys are h).
 *   encoder = SetTransformerBlock(*ISAB layers) -> names encoder.0, encoder.1, ...
 * - PMA: s [1, k, D]; mab(s, x, key_padding_mask=mask), dim_feedforward = D.
 * - decoder = SetTransformerBlock(SAB x n_dec, PMA(num_seeds=1)): decoder.0 .. decoder.n_dec-1
 *   are SABs, decoder.n_dec is the PMA; called without a mask.
 * - output_layer = Linear(D, output_dim) with output_dim = phi_hidden_dim (model/estimator.py
 *   passes output_dim=phi_hidden_dim to MISTSetTransformer), no activation.
 * - model/estimator.py MISTModel: rho = Sequential(Linear(D + qc, rho_hidden), ReLU,
 *   [Linear(rho_hidden, rho_hidden), ReLU] x (n_rho - 2), Linear(rho_hidden, 1)) (a single
 *   Linear(D + qc, 1) when n_rho == 1); tau is concatenated LAST: cat([repr, tau], dim=1).
 *   n_seeds falsy -> n_inds; n_dec_layers falsy -> n_phi_layers.
 * - model/modeling_hf.py: input = concat(X, Y) columns, float32, zero-padded (or truncated)
 *   to max_input_dim; the QR model's point estimate uses tau = 0.5.
 *
 * Execution. All datasets' rows form one token stream X [N, D] (no padding). Per-token stages
 * (linears, LayerNorms, activations) run over blocks of row_block rows that may span datasets;
 * attention runs per dataset (its keys are that dataset's rows only), so the batch result
 * equals each dataset run alone. A MAB first projects all its keys/values (one sgemm into
 * KV [Nk, 2D]); then each query block is projected, attended, and replaced in place by the
 * block's output (safe for SAB, whose keys were all projected before any row changed). Peak
 * memory is X + KV = 3 N D floats plus O(row_block) blocks, i.e. linear in N.
 *
 * Training runs this same forward (graph_run with a graph_acts, graph_acts.h): the same blocks
 * and kernels, writing each block's intermediates into the caller's activation arrays instead
 * of the reused block buffers, K and V as [Nk, 2D] rows for the backward, and each attention
 * row's log-sum-exp. So the graph is defined once, and a training prediction is the estimate
 * bit for bit. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph_acts.h"
#include "mist_classical.h"
#include "util.h"

typedef struct ctx {
    const mist_arch *a;
    int bq;               /* rows per block */
    const attn_cfg *attn;
    float *KV;            /* inference: keys then values, head-major: [2][H][Nk][hd] */
    float *stage;         /* [stage_rows, 2D]: projections before the head-major scatter */
    int stage_rows;
    float *Qb, *Ob, *Hb, *Fb, *scratch;
    float *In;            /* [row_block, max_input_dim]: input rows (embedding) */
    double flops;
} ctx;

static void activation(int act, float *out, const float *x, size_t n)
{
    if (act == MIST_ACT_GELU) gelu_forward(out, x, n);
    else relu_forward(out, x, n);
}

/* LayerNorm that keeps its row statistics where asked (the same arithmetic either way). */
static void ln(float *out, float *mean, float *rstd, const float *inp, const float *w,
               const float *b, int N, int C, float eps)
{
    if (mean) layernorm_forward_train(out, mean, rstd, inp, w, b, N, C, eps);
    else layernorm_forward(out, inp, w, b, N, C, eps);
}

/* MAB(xq, y) per segment: the queries of segment s are the xq rows of qs's segment s, its
 * keys/values the y rows of ks's segment s; kmask is indexed by y row (NULL keeps all). With
 * ln_w an extra LayerNorm (the feature block's) follows. Returns the result.
 * Inference (A NULL): the result overwrites xq block by block (safe for a SAB, y == xq: every
 * key is projected before any row changes); K and V go head-major into c->KV.
 * Training (A): the same blocks, every intermediate kept in A; xq is not written. */
static const float *mab_forward(ctx *c, const mab_w *w, mab_act *A, float *xq, const segs *qs,
                                const float *y, const segs *ks, const uint8_t *kmask,
                                const float *ln_w, const float *ln_b)
{
    const int D = c->a->D, H = c->a->H, F = w->F, hd = D / H;
    const float eps = (float)c->a->ln_eps;
    size_t nk_total = seg_start(ks, ks->nseg), nq_total = seg_start(qs, qs->nseg);
    /* K and V of every key row (rows D..3D of in_proj) */
    const float *Kh, *Vh;
    int ldk;
    size_t khs;
    if (A) {
        A->xq = xq, A->y = y, A->qs = *qs, A->ks = *ks, A->Nq = nq_total, A->Nk = nk_total;
        linear_forward(A->kv, y, w->in_w + (size_t)D * D, w->in_b + D, (int)nk_total, D, 2 * D);
        Kh = A->kv, Vh = A->kv + D, ldk = 2 * D, khs = (size_t)hd;
    } else { /* block by block through the staging buffer, so that each head's keys are
              * contiguous */
        float *Kw = c->KV, *Vw = c->KV + nk_total * D;
        for (size_t k0 = 0; k0 < nk_total; k0 += (size_t)c->stage_rows) {
            int b = nk_total - k0 < (size_t)c->stage_rows ? (int)(nk_total - k0) : c->stage_rows;
            linear_forward(c->stage, y + k0 * D, w->in_w + (size_t)D * D, w->in_b + D, b, D,
                           2 * D);
            for (int h = 0; h < H; h++) {
                float *kd = Kw + ((size_t)h * nk_total + k0) * hd;
                float *vd = Vw + ((size_t)h * nk_total + k0) * hd;
                for (int j = 0; j < b; j++) {
                    const float *src = c->stage + (size_t)j * 2 * D + (size_t)h * hd;
                    float *kj = kd + (size_t)j * hd, *vj = vd + (size_t)j * hd;
                    for (int d = 0; d < hd; d++) kj[d] = src[d], vj[d] = src[D + d];
                }
            }
        }
        Kh = Kw, Vh = Vw, ldk = hd, khs = nk_total * hd;
    }
    /* a key row's offset in Kh / Vh */
    const size_t krow = A ? 2 * (size_t)D : (size_t)hd;
    double pairs = 0;
    size_t s = 0;
    for (size_t r0 = 0; r0 < nq_total; r0 += (size_t)c->bq) {
        int b = nq_total - r0 < (size_t)c->bq ? (int)(nq_total - r0) : c->bq;
        size_t rD = r0 * D, rF = r0 * F;
        float *Xb = xq + rD;
        float *q = A ? A->q + rD : c->Qb, *att = A ? A->att + rD : c->Ob;
        float *h1p = A ? A->h1p + rD : c->Hb, *h1 = A ? A->h1 + rD : c->Hb;
        float *f1 = A ? A->f1 + rF : c->Fb, *g = A ? A->g + rF : c->Fb;
        float *h2p = A ? A->h2p + rD : Xb, *o = A ? A->out + rD : Xb;
        float *o2 = A ? (A->out2 ? A->out2 + rD : NULL) : Xb;
        linear_forward(q, Xb, w->in_w, w->in_b, b, D, D);
        for (size_t r = r0; r < r0 + (size_t)b;) {
            while (seg_start(qs, s + 1) <= r) s++;
            size_t e = seg_start(qs, s + 1);
            if (e > r0 + (size_t)b) e = r0 + (size_t)b;
            size_t k0 = seg_start(ks, s), nk = seg_start(ks, s + 1) - k0;
            attention_forward(att + (r - r0) * D, D, A ? A->lse + r * H : NULL, q + (r - r0) * D,
                              D, Kh + k0 * krow, ldk, khs, Vh + k0 * krow, ldk, khs,
                              kmask ? kmask + k0 : NULL, (int)(e - r), (int)nk, D, H, c->attn,
                              c->scratch);
            pairs += (double)(e - r) * (double)nk;
            r = e;
        }
        /* h = LN1(x + out_proj(attn)); x = LN2(h + linear2(act(linear1(h)))) */
        linear_forward_residual(h1p, Xb, att, w->out_w, w->out_b, b, D, D);
        ln(h1, A ? A->m1 + r0 : NULL, A ? A->r1 + r0 : NULL, h1p, w->n1_w, w->n1_b, b, D, eps);
        linear_forward(f1, h1, w->l1_w, w->l1_b, b, D, F);
        activation(c->a->activation, g, f1, (size_t)b * F);
        linear_forward_residual(h2p, h1, g, w->l2_w, w->l2_b, b, F, D);
        ln(o, A ? A->m2 + r0 : NULL, A ? A->r2 + r0 : NULL, h2p, w->n2_w, w->n2_b, b, D, eps);
        if (ln_w)
            ln(o2, A ? A->m3 + r0 : NULL, A ? A->r3 + r0 : NULL, o, ln_w, ln_b, b, D, eps);
    }
    c->flops += 2.0 * nq_total * D * D * 2 + 2.0 * nk_total * D * 2 * D + 4.0 * pairs * D +
                4.0 * (double)nq_total * D * F;
    return A ? mab_result(A) : xq;
}

/* nseg copies of the k learned tokens [k, D] into dst. */
static void replicate(float *dst, const float *tok, size_t k, int D, size_t nseg)
{
    for (size_t s = 0; s < nseg; s++) memcpy(dst + s * k * D, tok, k * (size_t)D * sizeof *dst);
}

/* ---- inputs ----------------------------------------------------------------------------- */

typedef struct prepared {
    const double **data; /* per set: n x (dx+dy) values fed to the network */
    double *own;         /* preprocessed copies (NULL with preprocess none) */
} prepared;

static int zscore(double *out, const double *in, size_t n, int cols)
{
    size_t c = (size_t)cols;
    for (size_t j = 0; j < c; j++) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < n; i++) mean += in[i * c + j];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++) ss += (in[i * c + j] - mean) * (in[i * c + j] - mean);
        double sd = sqrt(ss / (double)(n - 1));
        for (size_t i = 0; i < n; i++)
            out[i * c + j] = sd > 0 && isfinite(sd) ? (in[i * c + j] - mean) / sd : 0.0;
    }
    return 0;
}

/* The network's input values of every set: preprocessed copies, or the caller's data where
 * nothing changes them. A set cut into row chunks (row_chunk.c) is first put in the chunks'
 * row order, on its raw values, which are exactly the same for any order of the same rows. */
static int prepare(const mist_arch *a, const mist_data_view *sets, size_t nsets, size_t chunk,
                   prepared *pr, mist_err *err)
{
    pr->data = malloc(nsets * sizeof *pr->data);
    pr->own = NULL;
    if (!pr->data) return mist_fail(err, MIST_ENOMEM, "out of memory");
    int any = 0;
    for (size_t s = 0; s < nsets; s++) any |= row_chunk_count(sets[s].n, chunk) > 1;
    if (a->preprocess == MIST_PREP_NONE && !any) {
        for (size_t s = 0; s < nsets; s++) pr->data[s] = sets[s].data;
        return MIST_OK;
    }
    size_t total = 0;
    for (size_t s = 0; s < nsets; s++) total += sets[s].n * (size_t)(sets[s].dx + sets[s].dy);
    pr->own = malloc(total * sizeof *pr->own);
    if (!pr->own) return mist_fail(err, MIST_ENOMEM, "out of memory for %zu values", total);
    size_t off = 0;
    for (size_t s = 0; s < nsets; s++) {
        int cols = sets[s].dx + sets[s].dy, rc = MIST_OK;
        size_t n = sets[s].n;
        double *o = pr->own + off;
        memcpy(o, sets[s].data, n * (size_t)cols * sizeof *o);
        if (row_chunk_count(n, chunk) > 1 && (rc = row_chunk_order(o, n, cols, err))) return rc;
        if (a->preprocess == MIST_PREP_COPULA) rc = mist_copula_transform(o, o, n, cols, err);
        else if (a->preprocess != MIST_PREP_NONE) zscore(o, o, n, cols);
        if (rc) return rc;
        pr->data[s] = o;
        off += n * (size_t)cols;
    }
    return MIST_OK;
}

/* The feature block's segments: each set's rows, or its row chunks. Returns the offsets
 * (nseg + 1) and sets *nseg; NULL when out of memory. */
static size_t *chunk_segments(const size_t *off, size_t nsets, size_t chunk, size_t *nseg)
{
    size_t k = 0;
    for (size_t s = 0; s < nsets; s++) k += row_chunk_count(off[s + 1] - off[s], chunk);
    size_t *c = malloc((k + 1) * sizeof *c);
    if (!c) return NULL;
    size_t i = 0;
    for (size_t s = 0; s < nsets; s++) {
        size_t n = off[s + 1] - off[s], ks = row_chunk_count(n, chunk);
        for (size_t j = 0; j < ks; j++) c[i++] = off[s] + row_chunk_start(n, ks, j);
    }
    c[k] = off[nsets];
    *nseg = k;
    return c;
}

/* Fills rows [r0, r0 + b) of the input block: the first P of the max_input_dim input columns
 * (the rest are zero padding for every row of the batch), zero padded. */
static void pack_block(float *dst, int P, const mist_arch *a, const mist_data_view *sets,
                       const prepared *pr, const size_t *off, size_t *cursor, size_t r0, int b)
{
    memset(dst, 0, (size_t)b * P * sizeof *dst);
    size_t s = *cursor;
    for (int i = 0; i < b; i++) {
        size_t r = r0 + (size_t)i;
        while (off[s + 1] <= r) s++;
        const mist_data_view *v = &sets[s];
        const double *row = pr->data[s] + (r - off[s]) * (size_t)(v->dx + v->dy);
        float *o = dst + (size_t)i * P; /* P here is the packed width */
        for (int j = 0; j < v->dx; j++) o[j] = (float)row[j];
        int ybase = a->input_layout == MIST_LAYOUT_PACKED ? v->dx : a->max_dx;
        for (int j = 0; j < v->dy; j++) o[ybase + j] = (float)row[v->dx + j];
    }
    *cursor = s;
}

/* The official quirk: a row is a key of the feature block unless its float32 values sum to
 * exactly 0 (summed in column order; torch sums the same float32 values, and for dx + dy <= 2
 * every order gives the same sum). Returns the number of kept rows of the set. */
static size_t zero_sum_mask(uint8_t *mask, const mist_data_view *v, const double *data)
{
    size_t kept = 0, c = (size_t)(v->dx + v->dy);
    for (size_t i = 0; i < v->n; i++) {
        float sum = 0.0f;
        for (size_t j = 0; j < c; j++) sum += (float)data[i * c + j];
        mask[i] = sum != 0.0f;
        kept += mask[i];
    }
    return kept;
}

/* ---- workspace -------------------------------------------------------------------------- */

typedef struct layout {
    size_t X, KV, stage, h, pooled, Z, R, Qb, Ob, Hb, Fb, In, scratch, rho0, rho1, total;
    int stage_rows;
} layout;

/* Adds a region of n floats (64-byte aligned); returns its offset. Saturates on overflow. */
static size_t region(size_t *total, size_t n, int *ovf)
{
    size_t o = (*total + 15) & ~(size_t)15;
    if (n > SIZE_MAX / 8 - o) {
        *ovf = 1;
        return 0;
    }
    *total = o + n;
    return o;
}

static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / 8 / a) return 0;
    *out = a * b;
    return 1;
}

static int plan(const mist_model *m, size_t N, size_t nsets, size_t nq, layout *L)
{
    const mist_arch *a = &m->arch;
    size_t D = (size_t)a->D, bq = (size_t)m->row_block;
    size_t tok = (size_t)(a->n_inds > a->n_seeds ? a->n_inds : a->n_seeds);
    size_t keys, t;
    int ovf = 0;
    if (!mul_ok(nsets, tok, &t)) return -1;
    keys = N > t ? N : t;
    size_t fmax = (size_t)(a->ff > a->D ? a->ff : a->D);
    if (fmax < 2 * D) fmax = 2 * D;
    size_t rin = D + 1 + PAIRS_NGLOB;
    size_t rw = rin > (size_t)a->rho_hidden ? rin : (size_t)a->rho_hidden;
    size_t x, kv, h, pooled, rows, rr;
    if (!mul_ok(N, D, &x) || !mul_ok(keys, 2 * D, &kv) ||
        !mul_ok(nsets * (size_t)a->n_inds, D, &h) ||
        !mul_ok(nsets * (size_t)a->n_seeds, D, &pooled) || !mul_ok(nsets, nq, &rows) ||
        !mul_ok(rows, rw, &rr))
        return -1;
    memset(L, 0, sizeof *L);
    size_t T = 0;
    L->X = region(&T, x, &ovf);
    L->KV = region(&T, kv, &ovf);
    L->stage_rows = keys < 1024 ? (int)keys : 1024;
    L->stage = region(&T, (size_t)L->stage_rows * 2 * D, &ovf);
    L->h = region(&T, a->n_isab ? h : 0, &ovf);
    L->pooled = region(&T, pooled, &ovf);
    L->Z = region(&T, nsets * D, &ovf);
    L->R = region(&T, nsets * D, &ovf);
    L->Qb = region(&T, bq * D, &ovf);
    L->Ob = region(&T, bq * D, &ovf);
    L->Hb = region(&T, bq * D, &ovf);
    L->Fb = region(&T, bq * fmax, &ovf);
    L->In = region(&T, bq * (size_t)a->max_input_dim, &ovf);
    L->scratch = region(&T, attention_scratch_floats(&m->attn), &ovf);
    L->rho0 = region(&T, rr, &ovf);
    L->rho1 = region(&T, rr, &ovf);
    L->total = T;
    return ovf ? -1 : 0;
}

static int ws_reserve(infer_ws *ws, size_t floats, size_t bytes, mist_err *err)
{
    if (floats > ws->cap) {
        free(ws->block);
        ws->block = malloc(floats * sizeof(float));
        ws->cap = ws->block ? floats : 0;
        if (!ws->block)
            return mist_fail(err, MIST_ENOMEM, "out of memory: the forward pass needs %.1f MB",
                             (double)floats * 4 / 1e6);
    }
    if (bytes > ws->bytes_cap) {
        free(ws->bytes);
        ws->bytes = malloc(bytes);
        ws->bytes_cap = ws->bytes ? bytes : 0;
        if (!ws->bytes) return mist_fail(err, MIST_ENOMEM, "out of memory for the row masks");
    }
    return MIST_OK;
}

/* ---- the graph -------------------------------------------------------------------------- */

size_t graph_tokens(const mist_arch *a, const mist_data_view *v)
{
    return a->input_layout == MIST_LAYOUT_PAIRS ? pairs_count(v->dx, v->dy) : v->n;
}

/* Steps 1-2: input rows -> embedding MLP into X, block by block. Only the first Pc input
 * columns can be nonzero in this batch (packed: dx + dy; split: max_dx + dy); the product
 * skips the zero padding. Training (G) keeps the input rows [N, P] and every stage. */
static void embed_rows(const mist_model *m, ctx *c, const mist_data_view *sets, size_t nsets,
                       const prepared *pr, const size_t *off, float *X, graph_acts *G)
{
    const mist_arch *a = &m->arch;
    const mist_params *p = &m->p;
    const int D = a->D, P = a->max_input_dim;
    const float eps = (float)a->ln_eps;
    size_t N = off[nsets];
    int Pc = 0;
    for (size_t s = 0; s < nsets; s++) {
        int w = a->input_layout == MIST_LAYOUT_PACKED ? sets[s].dx + sets[s].dy
                                                      : a->max_dx + sets[s].dy;
        if (w > Pc) Pc = w;
    }
    size_t cursor = 0;
    const int ldi = G ? P : Pc;
    for (size_t r0 = 0; r0 < N; r0 += (size_t)m->row_block) {
        int b = N - r0 < (size_t)m->row_block ? (int)(N - r0) : m->row_block;
        size_t r2 = r0 * 2 * D, rD = r0 * D;
        float *in = G ? G->in + r0 * P : c->In, *x = X + rD;
        float *a0 = G ? G->a0 + r2 : c->Fb, *g0 = G ? G->g0 + r2 : c->Fb;
        float *l0 = G ? G->l0 + r2 : c->Fb, *a1 = G ? G->a1 + rD : x, *g1 = G ? G->g1 + rD : x;
        pack_block(in, ldi, a, sets, pr, off, &cursor, r0, b);
        linear_forward_cols(a0, in, ldi, p->emb0.w, P, p->emb0.b, b, Pc, 2 * D);
        gelu_forward(g0, a0, (size_t)b * 2 * D);
        ln(l0, G ? G->m0 + r0 : NULL, G ? G->r0 + r0 : NULL, g0, p->emb2_w, p->emb2_b, b, 2 * D,
           eps);
        linear_forward(a1, l0, p->emb4.w, p->emb4.b, b, 2 * D, D);
        gelu_forward(g1, a1, (size_t)b * D);
        ln(x, G ? G->m1 + r0 : NULL, G ? G->r1 + r0 : NULL, g1, p->emb6_w, p->emb6_b, b, D, eps);
    }
    c->flops += 2.0 * N * Pc * 2 * D + 2.0 * N * 2 * D * D;
}

/* The pairs layout's tokens (pairs.c), LayerNormed, into X (rows off[s] .. of set s), and each
 * set's dataset features into glob [nsets, PAIRS_NGLOB] and its base (pairs_base) into
 * base [nsets]. Training (G) keeps each set's front end, the tokens before the LayerNorm and
 * the pooled statistics. */
static int pairs_tokens(const mist_model *m, ctx *c, const mist_data_view *sets, size_t nsets,
                        const size_t *off, float *X, float *glob, double *base, graph_acts *G,
                        mist_err *err)
{
    const mist_arch *a = &m->arch;
    const int D = a->D, P = a->max_input_dim;
    size_t Tmax = 0;
    for (size_t s = 0; s < nsets; s++)
        if (off[s + 1] - off[s] > Tmax) Tmax = off[s + 1] - off[s];
    float *scratch = G ? G->pscr : malloc(pairs_scratch_floats(P, Tmax) * sizeof *scratch);
    float *pooled = G ? NULL : malloc(Tmax * (size_t)P * sizeof *pooled);
    int rc = MIST_OK;
    if (!scratch || (!G && !pooled))
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for the pair tokens");
    for (size_t s = 0; s < nsets && !rc; s++) {
        pairs_set local, *ps = G ? &G->ps[s] : &local;
        double t0 = G ? mist_clock_s() : 0;
        if ((rc = pairs_set_build(ps, a, sets[s].data, sets[s].n, sets[s].dx, sets[s].dy, err)))
            break;
        if (G) G->fwd_s[MIST_TB_PREP] += mist_clock_s() - t0;
        float *Xs = X + off[s] * (size_t)D, *tok = G ? G->tok + off[s] * (size_t)D : Xs;
        pairs_forward(tok, G ? G->pooled + off[s] * (size_t)P : pooled, ps, &m->p, D, P,
                      a->activation, scratch);
        c->flops += 2.0 * (double)ps->n * ps->T * P * (PAIRS_NFEAT + P);
        ln(Xs, G ? G->m1 + off[s] : NULL, G ? G->r1 + off[s] : NULL, tok, m->p.pln_w,
           m->p.pln_b, (int)ps->T, D, (float)a->ln_eps);
        memcpy(glob + s * PAIRS_NGLOB, ps->glob, sizeof ps->glob);
        base[s] = pairs_base(a, ps);
        if (!G) pairs_set_free(ps);
    }
    if (!G) {
        free(scratch);
        free(pooled);
    }
    return rc;
}

void graph_acts_release(graph_acts *G, size_t nsets)
{
    free(G->off);
    free(G->coff);
    for (size_t s = 0; G->ps && s < nsets; s++) pairs_set_free(&G->ps[s]);
    free(G->ps);
    G->off = G->coff = NULL;
    G->ps = NULL;
}

int graph_run(const mist_model *m, infer_ws *ws, const mist_data_view *sets, size_t nsets,
              const double *taus, size_t nq, size_t tau_stride, double *out, graph_acts *G,
              mist_err *err)
{
    const mist_arch *a = &m->arch;
    const mist_params *p = &m->p;
    const int D = a->D;
    const int pairs = a->input_layout == MIST_LAYOUT_PAIRS;
    if (G) {
        G->off = G->coff = NULL, G->ps = NULL, G->xenc = NULL;
        if (a->input_layout == MIST_LAYOUT_PACKED)
            return mist_fail(err, MIST_EINVAL, "the packed layout has no training forward");
    }
    double t0 = G ? mist_clock_s() : 0, t1;
#define LAP(blk) (G ? (t1 = mist_clock_s(), G->fwd_s[blk] += t1 - t0, t0 = t1) : 0)
    size_t *off = malloc((nsets + 1) * sizeof *off);
    float *glob = pairs ? malloc(nsets * PAIRS_NGLOB * sizeof *glob) : NULL;
    double *base = pairs ? malloc(nsets * sizeof *base) : NULL;
    if (G) {
        G->off = off;
        if (pairs) G->ps = calloc(nsets, sizeof *G->ps);
    }
    if (!off || (pairs && (!glob || !base || (G && !G->ps)))) {
        if (!G) free(off);
        free(glob);
        free(base);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    /* tokens: a dataset's rows, or (pairs) its column pairs */
    off[0] = 0;
    for (size_t s = 0; s < nsets; s++) off[s + 1] = off[s] + graph_tokens(a, &sets[s]);
    size_t N = off[nsets], *coff = NULL;
    layout L = {0};
    prepared pr = {0};
    int rc;
    float *W = NULL;
    if (!G) {
        if (plan(m, N, nsets, nq, &L)) {
            rc = mist_fail(err, MIST_ENOMEM, "%zu rows are too many for one forward pass", N);
            goto done;
        }
        if ((rc = ws_reserve(ws, L.total, N, err))) goto done;
        W = ws->block;
    }
    size_t chunk = pairs ? 0 : m->row_chunk;
    if (!pairs && (rc = prepare(a, sets, nsets, chunk, &pr, err))) goto done;

    float *X = G ? G->x : W + L.X;
    uint8_t *kmask = NULL;
    if (a->input_layout == MIST_LAYOUT_PACKED) {
        kmask = ws->bytes;
        for (size_t s = 0; s < nsets; s++)
            if (zero_sum_mask(kmask + off[s], &sets[s], pr.data[s]) == 0) {
                const char *why = "every row sums to exactly 0; the official model masks such "
                                  "rows as padding, so nothing would remain";
                if (nsets > 1) rc = mist_fail(err, MIST_EDATA, "dataset %zu: %s", s + 1, why);
                else rc = mist_fail(err, MIST_EDATA, "%s", why);
                goto done;
            }
    }
    ctx c;
    if (G) {
        ctx t = {a, m->row_block, &m->attn, NULL, NULL, 0, NULL, NULL, NULL, NULL, G->ascr, NULL,
                 0};
        c = t;
    } else {
        ctx t = {a,        m->row_block, &m->attn, W + L.KV, W + L.stage, L.stage_rows,
                 W + L.Qb, W + L.Ob,      W + L.Hb,  W + L.Fb, W + L.scratch, W + L.In, 0};
        c = t;
    }
#define ACT(field) (G ? &G->field : NULL)

    /* 1-2. input rows -> embedding MLP (or the pair tokens) */
    if (pairs) {
        if ((rc = pairs_tokens(m, &c, sets, nsets, off, X, glob, base, G, err))) goto done;
    } else {
        LAP(MIST_TB_PREP);
        embed_rows(m, &c, sets, nsets, &pr, off, X, G);
    }
    LAP(MIST_TB_EMBED);
    segs rows = {nsets, off, 0};
    /* 3. feature block: SAB -> LN, keys masked by the zero-sum quirk (packed); rows attend
     * within their chunk */
    segs fseg = rows;
    if (a->n_feature_sab > 0 && chunk) {
        if (!(coff = chunk_segments(off, nsets, chunk, &fseg.nseg))) {
            rc = mist_fail(err, MIST_ENOMEM, "out of memory for the row chunks");
            goto done;
        }
        if (G) G->coff = coff;
        fseg.off = coff;
        for (size_t g = 0; kmask && g < fseg.nseg; g++) {
            size_t k = coff[g];
            while (k < coff[g + 1] && !kmask[k]) k++;
            if (k == coff[g + 1]) {
                rc = mist_fail(err, MIST_EDATA,
                               "a row chunk of %zu rows sums to exactly 0 in every row (the "
                               "official model masks such rows); use one chunk "
                               "(mist_model_set_row_chunk 0)",
                               coff[g + 1] - coff[g]);
                goto done;
            }
        }
    }
    if (G) G->rows = rows, G->fseg = fseg;
    /* the tokens as they go; inference: always X, updated in place */
    const float *cur = X;
    for (int i = 0; i < a->n_feature_sab; i++)
        cur = mab_forward(&c, &p->fsab[i], ACT(fsab[i]), (float *)cur, &fseg, cur, &fseg, kmask,
                          p->fln_w[i], p->fln_b[i]);
    LAP(MIST_TB_FEATURE);
    /* 4. encoder: ISAB = MAB(X, MAB(I, X)) */
    segs inds = {nsets, NULL, (size_t)a->n_inds};
    for (int i = 0; i < a->n_isab; i++) {
        float *h = G ? G->irep[i] : W + L.h;
        replicate(h, p->isab_i[i], (size_t)a->n_inds, D, nsets);
        const float *hm = mab_forward(&c, &p->isab0[i], ACT(isab0[i]), h, &inds, cur, &rows,
                                      NULL, NULL, NULL);
        cur = mab_forward(&c, &p->isab1[i], ACT(isab1[i]), (float *)cur, &rows, hm, &inds, NULL,
                          NULL, NULL);
    }
    if (G) G->xenc = cur;
    if (pairs && a->sum_head) /* added with the base to every output */
        for (size_t s = 0; s < nsets; s++)
            base[s] += pairs_sum_head(cur + off[s] * (size_t)D, p->sum_w,
                                      (size_t)sets[s].dx * (size_t)sets[s].dy, D);
    LAP(MIST_TB_ENCODER);
    /* 5. pooling PMA(n_seeds) */
    segs seeds = {nsets, NULL, (size_t)a->n_seeds};
    float *pooled = G ? G->srep : W + L.pooled;
    replicate(pooled, p->pool_s, (size_t)a->n_seeds, D, nsets);
    const float *S =
        mab_forward(&c, &p->pool, ACT(pool), pooled, &seeds, cur, &rows, NULL, NULL, NULL);
    LAP(MIST_TB_POOL);
    /* 6. decoder: SAB x n_dec, PMA(1) */
    for (int i = 0; i < a->n_dec; i++)
        S = mab_forward(&c, &p->dec[i], ACT(dec[i]), (float *)S, &seeds, S, &seeds, NULL, NULL,
                        NULL);
    segs one = {nsets, NULL, 1};
    float *Z = G ? G->zrep : W + L.Z, *R = G ? G->R : W + L.R;
    replicate(Z, p->dec_s, 1, D, nsets);
    const float *Zr = mab_forward(&c, &p->dec_pma, ACT(dpma), Z, &one, S, &seeds, NULL, NULL, NULL);
    LAP(MIST_TB_DECODER);
    /* 7. output layer */
    linear_forward(R, Zr, p->out.w, p->out.b, (int)nsets, D, D);
    c.flops += 2.0 * nsets * D * D;
    /* 8. rho: [repr (, tau)] -> (Linear ReLU) x (n_rho - 1) -> Linear(., 1) */
    size_t nrows = nsets * nq;
    int ng = pairs ? PAIRS_NGLOB : 0, din = D + ng + (a->quantile_conditioned ? 1 : 0);
    float *z0 = G ? G->z0 : W + L.rho0;
    for (size_t s = 0; s < nsets; s++)
        for (size_t i = 0; i < nq; i++) {
            float *zr = z0 + (s * nq + i) * din;
            memcpy(zr, R + s * D, (size_t)D * sizeof *zr);
            if (ng) memcpy(zr + D, glob + s * PAIRS_NGLOB, (size_t)ng * sizeof *zr);
            if (a->quantile_conditioned)
                zr[D + ng] = (float)(taus ? taus[s * tau_stride + i] : 0.5);
        }
    /* inference: layer i writes the other of the two buffers, ReLU in place */
    float *bufs[2] = {G ? NULL : W + L.rho1, G ? NULL : W + L.rho0};
    const float *zin = z0;
    for (int i = 0; i < a->n_rho; i++) {
        const lin_w *l = &p->rho[i];
        float *pre = G ? G->rpre[i] : bufs[i % 2];
        linear_forward(pre, zin, l->w, l->b, (int)nrows, l->in, l->out);
        c.flops += 2.0 * nrows * l->in * l->out;
        zin = pre;
        if (i < a->n_rho - 1) {
            float *post = G ? G->rpost[i] : pre;
            relu_forward(post, pre, nrows * (size_t)l->out);
            zin = post;
        }
    }
    for (size_t r = 0; r < nrows; r++)
        out[r] = (double)zin[r] + (pairs ? base[r / nq] : 0);
    LAP(MIST_TB_RHO);
#undef ACT
#undef LAP
    if (G) G->flops = c.flops;
    rc = MIST_OK;
done:
    free(pr.data);
    free(pr.own);
    if (!G) {
        free(coff);
        free(off);
    }
    free(glob);
    free(base);
    return rc;
}

int graph_forward(mist_model *m, const mist_data_view *sets, size_t nsets, const double *taus,
                  size_t ntaus, double *out, mist_err *err)
{
    return graph_run(m, &m->ws, sets, nsets, ntaus ? taus : NULL, ntaus ? ntaus : 1, 0, out,
                     NULL, err);
}
