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
 * memory is X + KV = 3 N D floats plus O(row_block) blocks, i.e. linear in N. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_classical.h"

/* Segments of a row range: segment s is rows [start(s), start(s+1)). */
typedef struct segs {
    size_t nseg;
    const size_t *off; /* nseg + 1 offsets, or NULL: uniform stride */
    size_t stride;
} segs;

static inline size_t seg_start(const segs *s, size_t i)
{
    return s->off ? s->off[i] : i * s->stride;
}

typedef struct ctx {
    const mist_arch *a;
    int bq;               /* rows per block */
    const attn_cfg *attn;
    float *KV;            /* keys then values, head-major: [2][H][Nk][hd] */
    float *stage;         /* [stage_rows, 2D]: projections before the head-major scatter */
    int stage_rows;
    float *Qb, *Ob, *Hb, *Fb, *scratch;
    float *In;            /* [row_block, max_input_dim]: input rows (embedding) */
} ctx;

static void activation(int act, float *x, size_t n)
{
    if (act == MIST_ACT_GELU) gelu_forward(x, x, n);
    else relu_forward(x, x, n);
}

/* X (rows of qs) <- MAB(X, Y) per segment: keys/values of segment s are the Y rows of ks's
 * segment s; kmask is indexed by Y row (NULL keeps all). When ln_w is not NULL an extra
 * LayerNorm (the feature block's) is applied to the output. Y may equal X. */
static void mab_forward(const ctx *c, const mab_w *w, float *X, const segs *qs, const float *Y,
                        const segs *ks, const uint8_t *kmask, const float *ln_w,
                        const float *ln_b)
{
    const int D = c->a->D, H = c->a->H, F = w->F;
    const float eps = (float)c->a->ln_eps;
    size_t nk_total = seg_start(ks, ks->nseg), nq_total = seg_start(qs, qs->nseg);
    /* K and V of every key row (rows D..3D of in_proj), block by block through the staging
     * buffer into the head-major layout, so that each head's keys are contiguous */
    const int hd = D / H;
    float *Kh = c->KV, *Vh = c->KV + nk_total * D;
    for (size_t k0 = 0; k0 < nk_total; k0 += (size_t)c->stage_rows) {
        int b = nk_total - k0 < (size_t)c->stage_rows ? (int)(nk_total - k0) : c->stage_rows;
        linear_forward(c->stage, Y + k0 * D, w->in_w + (size_t)D * D, w->in_b + D, b, D, 2 * D);
        for (int h = 0; h < H; h++) {
            float *kd = Kh + ((size_t)h * nk_total + k0) * hd;
            float *vd = Vh + ((size_t)h * nk_total + k0) * hd;
            for (int j = 0; j < b; j++) {
                const float *src = c->stage + (size_t)j * 2 * D + (size_t)h * hd;
                float *kj = kd + (size_t)j * hd, *vj = vd + (size_t)j * hd;
                for (int d = 0; d < hd; d++) kj[d] = src[d], vj[d] = src[D + d];
            }
        }
    }
    size_t s = 0;
    for (size_t r0 = 0; r0 < nq_total; r0 += (size_t)c->bq) {
        int b = nq_total - r0 < (size_t)c->bq ? (int)(nq_total - r0) : c->bq;
        float *Xb = X + r0 * D;
        linear_forward(c->Qb, Xb, w->in_w, w->in_b, b, D, D);
        for (size_t r = r0; r < r0 + (size_t)b;) {
            while (seg_start(qs, s + 1) <= r) s++;
            size_t e = seg_start(qs, s + 1);
            if (e > r0 + (size_t)b) e = r0 + (size_t)b;
            size_t k0 = seg_start(ks, s), nk = seg_start(ks, s + 1) - k0;
            attention_forward(c->Ob + (r - r0) * D, D, c->Qb + (r - r0) * D, D, Kh + k0 * hd, hd,
                              nk_total * hd, Vh + k0 * hd, hd, nk_total * hd,
                              kmask ? kmask + k0 : NULL, (int)(e - r), (int)nk, D, H, c->attn,
                              c->scratch);
            r = e;
        }
        /* h = LN1(x + out_proj(attn)); x = LN2(h + linear2(act(linear1(h)))) */
        linear_forward_residual(c->Hb, Xb, c->Ob, w->out_w, w->out_b, b, D, D);
        layernorm_forward(c->Hb, c->Hb, w->n1_w, w->n1_b, b, D, eps);
        linear_forward(c->Fb, c->Hb, w->l1_w, w->l1_b, b, D, F);
        activation(c->a->activation, c->Fb, (size_t)b * F);
        linear_forward_residual(Xb, c->Hb, c->Fb, w->l2_w, w->l2_b, b, F, D);
        layernorm_forward(Xb, Xb, w->n2_w, w->n2_b, b, D, eps);
        if (ln_w) layernorm_forward(Xb, Xb, ln_w, ln_b, b, D, eps);
    }
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

/* Steps 1-2: input rows -> embedding MLP into X. Only the first Pc input columns can be
 * nonzero in this batch (packed: dx + dy; split: max_dx + dy); the product skips the zero
 * padding. */
static void embed_rows(const mist_model *m, const ctx *c, const mist_data_view *sets,
                       size_t nsets, const prepared *pr, const size_t *off, float *X)
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
    for (size_t r0 = 0; r0 < N; r0 += (size_t)m->row_block) {
        int b = N - r0 < (size_t)m->row_block ? (int)(N - r0) : m->row_block;
        float *in = c->In, *h2 = c->Fb, *Xb = X + r0 * D;
        pack_block(in, Pc, a, sets, pr, off, &cursor, r0, b);
        linear_forward_cols(h2, in, Pc, p->emb0.w, P, p->emb0.b, b, Pc, 2 * D);
        gelu_forward(h2, h2, (size_t)b * 2 * D);
        layernorm_forward(h2, h2, p->emb2_w, p->emb2_b, b, 2 * D, eps);
        linear_forward(Xb, h2, p->emb4.w, p->emb4.b, b, 2 * D, D);
        gelu_forward(Xb, Xb, (size_t)b * D);
        layernorm_forward(Xb, Xb, p->emb6_w, p->emb6_b, b, D, eps);
    }
}

/* The pairs layout's tokens (pairs.c), LayerNormed, into X (rows off[s] .. of set s), and each
 * set's dataset features into glob [nsets, PAIRS_NGLOB] and its base (pairs_base) into
 * base [nsets]. */
static int pairs_tokens(const mist_model *m, const mist_data_view *sets, size_t nsets,
                        const size_t *off, float *X, float *glob, double *base, mist_err *err)
{
    const mist_arch *a = &m->arch;
    const int D = a->D, P = a->max_input_dim;
    size_t Tmax = 0;
    for (size_t s = 0; s < nsets; s++)
        if (off[s + 1] - off[s] > Tmax) Tmax = off[s + 1] - off[s];
    float *scratch = malloc(pairs_scratch_floats(P, Tmax) * sizeof *scratch);
    float *pooled = malloc(Tmax * (size_t)P * sizeof *pooled);
    int rc = MIST_OK;
    if (!scratch || !pooled) rc = mist_fail(err, MIST_ENOMEM, "out of memory for the pair tokens");
    for (size_t s = 0; s < nsets && !rc; s++) {
        pairs_set ps;
        if ((rc = pairs_set_build(&ps, a, sets[s].data, sets[s].n, sets[s].dx, sets[s].dy, err)))
            break;
        float *Xs = X + off[s] * (size_t)D;
        pairs_forward(Xs, pooled, &ps, &m->p, D, P, a->activation, scratch);
        layernorm_forward(Xs, Xs, m->p.pln_w, m->p.pln_b, (int)ps.T, D, (float)a->ln_eps);
        memcpy(glob + s * PAIRS_NGLOB, ps.glob, sizeof ps.glob);
        base[s] = pairs_base(a, &ps);
        pairs_set_free(&ps);
    }
    free(scratch);
    free(pooled);
    return rc;
}

int graph_forward(mist_model *m, const mist_data_view *sets, size_t nsets, const double *taus,
                  size_t ntaus, double *out, mist_err *err)
{
    const mist_arch *a = &m->arch;
    const mist_params *p = &m->p;
    const int D = a->D;
    const int pairs = a->input_layout == MIST_LAYOUT_PAIRS;
    size_t nq = ntaus ? ntaus : 1;
    size_t *off = malloc((nsets + 1) * sizeof *off);
    float *glob = pairs ? malloc(nsets * PAIRS_NGLOB * sizeof *glob) : NULL;
    double *base = pairs ? malloc(nsets * sizeof *base) : NULL;
    if (!off || (pairs && (!glob || !base))) {
        free(off);
        free(glob);
        free(base);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    /* tokens: a dataset's rows, or (pairs) its column pairs */
    off[0] = 0;
    for (size_t s = 0; s < nsets; s++)
        off[s + 1] = off[s] + (pairs ? pairs_count(sets[s].dx, sets[s].dy) : sets[s].n);
    size_t N = off[nsets], *coff = NULL;
    layout L;
    prepared pr = {0};
    int rc;
    if (plan(m, N, nsets, nq, &L)) {
        rc = mist_fail(err, MIST_ENOMEM, "%zu rows are too many for one forward pass", N);
        goto done;
    }
    if ((rc = ws_reserve(&m->ws, L.total, N, err))) goto done;
    size_t chunk = pairs ? 0 : m->row_chunk;
    if (!pairs && (rc = prepare(a, sets, nsets, chunk, &pr, err))) goto done;

    float *W = m->ws.block;
    float *X = W + L.X;
    uint8_t *kmask = NULL;
    if (a->input_layout == MIST_LAYOUT_PACKED) {
        kmask = m->ws.bytes;
        for (size_t s = 0; s < nsets; s++)
            if (zero_sum_mask(kmask + off[s], &sets[s], pr.data[s]) == 0) {
                const char *why = "every row sums to exactly 0; the official model masks such "
                                  "rows as padding, so nothing would remain";
                if (nsets > 1) rc = mist_fail(err, MIST_EDATA, "dataset %zu: %s", s + 1, why);
                else rc = mist_fail(err, MIST_EDATA, "%s", why);
                goto done;
            }
    }
    ctx c = {a,        m->row_block, &m->attn, W + L.KV, W + L.stage, L.stage_rows,
             W + L.Qb, W + L.Ob,      W + L.Hb,  W + L.Fb, W + L.scratch, W + L.In};

    /* 1-2. input rows -> embedding MLP (or the pair tokens) */
    if (pairs) {
        if ((rc = pairs_tokens(m, sets, nsets, off, X, glob, base, err))) goto done;
    } else {
        embed_rows(m, &c, sets, nsets, &pr, off, X);
    }
    segs rows = {nsets, off, 0};
    /* 3. feature block: SAB -> LN, keys masked by the zero-sum quirk (packed); rows attend
     * within their chunk */
    segs fseg = rows;
    if (a->n_feature_sab > 0 && chunk) {
        if (!(coff = chunk_segments(off, nsets, chunk, &fseg.nseg))) {
            rc = mist_fail(err, MIST_ENOMEM, "out of memory for the row chunks");
            goto done;
        }
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
    for (int i = 0; i < a->n_feature_sab; i++)
        mab_forward(&c, &p->fsab[i], X, &fseg, X, &fseg, kmask, p->fln_w[i], p->fln_b[i]);
    /* 4. encoder: ISAB = MAB(X, MAB(I, X)) */
    segs inds = {nsets, NULL, (size_t)a->n_inds};
    float *h = W + L.h;
    for (int i = 0; i < a->n_isab; i++) {
        replicate(h, p->isab_i[i], (size_t)a->n_inds, D, nsets);
        mab_forward(&c, &p->isab0[i], h, &inds, X, &rows, NULL, NULL, NULL);
        mab_forward(&c, &p->isab1[i], X, &rows, h, &inds, NULL, NULL, NULL);
    }
    if (pairs && a->sum_head) /* added with the base to every output */
        for (size_t s = 0; s < nsets; s++)
            base[s] += pairs_sum_head(X + off[s] * (size_t)D, p->sum_w,
                                      (size_t)sets[s].dx * (size_t)sets[s].dy, D);
    /* 5. pooling PMA(n_seeds) */
    segs seeds = {nsets, NULL, (size_t)a->n_seeds};
    float *pooled = W + L.pooled;
    replicate(pooled, p->pool_s, (size_t)a->n_seeds, D, nsets);
    mab_forward(&c, &p->pool, pooled, &seeds, X, &rows, NULL, NULL, NULL);
    /* 6. decoder: SAB x n_dec, PMA(1) */
    for (int i = 0; i < a->n_dec; i++)
        mab_forward(&c, &p->dec[i], pooled, &seeds, pooled, &seeds, NULL, NULL, NULL);
    segs one = {nsets, NULL, 1};
    float *Z = W + L.Z, *R = W + L.R;
    replicate(Z, p->dec_s, 1, D, nsets);
    mab_forward(&c, &p->dec_pma, Z, &one, pooled, &seeds, NULL, NULL, NULL);
    /* 7. output layer */
    linear_forward(R, Z, p->out.w, p->out.b, (int)nsets, D, D);
    /* 8. rho: [repr (, tau)] -> (Linear ReLU) x (n_rho - 1) -> Linear(., 1) */
    size_t nrows = nsets * nq;
    int ng = pairs ? PAIRS_NGLOB : 0, din = D + ng + (a->quantile_conditioned ? 1 : 0);
    float *z0 = W + L.rho0, *z1 = W + L.rho1;
    for (size_t s = 0; s < nsets; s++)
        for (size_t i = 0; i < nq; i++) {
            float *zr = z0 + (s * nq + i) * din;
            memcpy(zr, R + s * D, (size_t)D * sizeof *zr);
            if (ng) memcpy(zr + D, glob + s * PAIRS_NGLOB, (size_t)ng * sizeof *zr);
            if (a->quantile_conditioned) zr[D + ng] = (float)(ntaus ? taus[i] : 0.5);
        }
    for (int i = 0; i < a->n_rho; i++) {
        const lin_w *l = &p->rho[i];
        linear_forward(z1, z0, l->w, l->b, (int)nrows, l->in, l->out);
        if (i < a->n_rho - 1) relu_forward(z1, z1, nrows * (size_t)l->out);
        float *t = z0;
        z0 = z1;
        z1 = t;
    }
    for (size_t r = 0; r < nrows; r++)
        out[r] = (double)z0[r] + (pairs ? base[r / nq] : 0);
    rc = MIST_OK;
done:
    free(pr.data);
    free(pr.own);
    free(coff);
    free(off);
    free(glob);
    free(base);
    return rc;
}

int graph_input_rows(const mist_model *m, const mist_data_view *sets, size_t nsets, float *dst,
                     mist_err *err)
{
    const mist_arch *a = &m->arch;
    if (a->input_layout == MIST_LAYOUT_PAIRS)
        return mist_fail(err, MIST_EINVAL, "the pairs layout has no input rows");
    size_t *off = malloc((nsets + 1) * sizeof *off);
    if (!off) return mist_fail(err, MIST_ENOMEM, "out of memory");
    off[0] = 0;
    for (size_t s = 0; s < nsets; s++) off[s + 1] = off[s] + sets[s].n;
    prepared pr = {0};
    int rc = prepare(a, sets, nsets, m->row_chunk, &pr, err);
    if (!rc) {
        size_t cursor = 0, N = off[nsets];
        for (size_t r0 = 0; r0 < N; r0 += 1024) {
            int b = N - r0 < 1024 ? (int)(N - r0) : 1024;
            pack_block(dst + r0 * (size_t)a->max_input_dim, a->max_input_dim, a, sets, &pr, off,
                       &cursor, r0, b);
        }
    }
    free(pr.data);
    free(pr.own);
    free(off);
    return rc;
}
