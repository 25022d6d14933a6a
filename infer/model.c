/* The model object and the public estimate API: input checks, the batch front end and the
 * monotone rearrangement of quantiles. The forward pass itself is graph.c. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "util.h"

/* Rows per block of the per-token stages (sgemm M), queries per attention block, keys per
 * streaming-softmax block. Tuned on the official-size model (bench_infer). */
#define DEFAULT_ROW_BLOCK 512
#define DEFAULT_Q_BLOCK 128
#define DEFAULT_KV_BLOCK 2048

void infer_set_blocks(mist_model *m, int row_block, int q_block, int kv_block)
{
    if (row_block > 0) m->row_block = row_block;
    if (q_block > 0) m->attn.q_block = q_block;
    if (kv_block > 0) m->attn.kv_block = kv_block;
}

mist_model *model_alloc(const mist_arch *a, mist_err *err)
{
    if (mist_arch_validate(a, err)) return NULL;
    mist_model *m = calloc(1, sizeof *m);
    if (!m) {
        mist_fail(err, MIST_ENOMEM, "out of memory");
        return NULL;
    }
    m->arch = *a;
    m->row_block = DEFAULT_ROW_BLOCK;
    m->attn.q_block = DEFAULT_Q_BLOCK;
    m->attn.kv_block = DEFAULT_KV_BLOCK;
    /* chunks no larger than the sets it was trained on (row_chunk.c) */
    if (a->input_layout == MIST_LAYOUT_SPLIT && a->n_feature_sab > 0)
        m->row_chunk = a->n_max >= 2 ? (size_t)a->n_max : MIST_ROW_CHUNK_DEFAULT;
    if (arch_tensor_table(a, &m->p, &m->table, &m->ntensors, err)) {
        free(m);
        return NULL;
    }
    m->nparams = mist_arch_param_count(a);
    size_t last = m->ntensors ? m->table[m->ntensors - 1].offset + m->table[m->ntensors - 1].numel
                              : 0;
    if (last != m->nparams) { /* the table and the count disagree: a bug, not a user error */
        mist_fail(err, MIST_EINVAL, "internal: tensor table holds %zu parameters, arch %zu", last,
                  m->nparams);
        mist_model_free(m);
        return NULL;
    }
    m->params = calloc(m->nparams ? m->nparams : 1, sizeof *m->params);
    if (!m->params) {
        mist_fail(err, MIST_ENOMEM, "out of memory for %zu parameters (%.1f MB)", m->nparams,
                  (double)m->nparams * 4 / 1e6);
        mist_model_free(m);
        return NULL;
    }
    for (size_t i = 0; i < m->ntensors; i++)
        if (m->table[i].slot) *m->table[i].slot = m->params + m->table[i].offset;
    return m;
}

mist_model *mist_model_create(const mist_arch *a, mist_err *err)
{
    return model_alloc(a, err);
}

mist_model *mist_model_create_random(const mist_arch *a, uint64_t seed, mist_err *err)
{
    mist_model *m = model_alloc(a, err);
    if (!m) return NULL;
    uint64_t ctr = 0;
    for (size_t t = 0; t < m->ntensors; t++) {
        const tensor_spec *s = &m->table[t];
        float *d = m->params + s->offset;
        for (size_t i = 0; i < s->numel; i++) {
            switch (s->init) {
            case INIT_ZERO: d[i] = 0.0f; break;
            case INIT_ONE: d[i] = 1.0f; break;
            default: {
                uint64_t u = mist_mix64(seed ^ mist_mix64(++ctr));
                double x = (double)(u >> 11) * 0x1.0p-53; /* [0, 1) */
                d[i] = (float)((2.0 * x - 1.0) * s->bound);
            }
            }
        }
    }
    return m;
}

void mist_model_free(mist_model *m)
{
    if (!m) return;
    free(m->params);
    free(m->table);
    free(m->meta_mp);
    free(m->meta_json);
    free(m->qmap_level);
    free(m->qmap_tau);
    free(m->qres_level);
    free(m->qres_value);
    free(m->qres_bound);
    free(m->ws.block);
    free(m->ws.bytes);
    mist_model_free(m->route_alt);
    free(m);
}

const mist_arch *mist_model_arch(const mist_model *m)
{
    return &m->arch;
}

size_t mist_model_param_count(const mist_model *m)
{
    return m->nparams;
}

float *mist_model_params(mist_model *m)
{
    return m->params;
}

size_t mist_model_tensor_count(const mist_model *m)
{
    return m->ntensors;
}

int mist_model_tensor_info(const mist_model *m, size_t i, const char **name, int *ndim,
                           const int64_t **shape, size_t *offset)
{
    if (i >= m->ntensors) return MIST_EINVAL;
    if (name) *name = m->table[i].name;
    if (ndim) *ndim = m->table[i].ndim;
    if (shape) *shape = m->table[i].shape;
    if (offset) *offset = m->table[i].offset;
    return MIST_OK;
}

void mist_model_set_raw_quantiles(mist_model *m, int raw)
{
    m->raw_quantiles = raw ? 1 : 0;
    if (m->route_alt) m->route_alt->raw_quantiles = m->raw_quantiles; /* one answer, one mode */
}

void mist_model_set_col_canon(mist_model *m, int on)
{
    m->col_canon = on ? 1 : 0;
}

void mist_model_set_row_chunk(mist_model *m, size_t rows)
{
    if (m) m->row_chunk = rows;
}

size_t mist_model_row_chunk(const mist_model *m)
{
    return m ? m->row_chunk : 0;
}

int mist_model_col_canon(const mist_model *m)
{
    return m->col_canon && m->arch.input_layout != MIST_LAYOUT_PAIRS;
}

int mist_infer_set_threads(int threads, mist_err *err)
{
    if (threads < 1 || threads > 1024)
        return mist_fail(err, MIST_EINVAL, "threads must be within 1..1024 (got %d)", threads);
    openblas_set_num_threads(threads);
    return MIST_OK;
}

int mist_infer_get_threads(void)
{
    return openblas_get_num_threads();
}

const char *mist_infer_blas_core(void)
{
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}

/* ---- estimates -------------------------------------------------------------------------- */

int model_check_set(const mist_arch *a, const mist_data_view *v, const char *what,
                    mist_err *err)
{
    if (!v->data) return mist_fail(err, MIST_EINVAL, "%sdata is NULL", what);
    if (v->dx < 1 || v->dy < 1)
        return mist_fail(err, MIST_EINVAL, "%sdx and dy must be >= 1 (got %d, %d)", what, v->dx,
                         v->dy);
    if (a->input_layout == MIST_LAYOUT_PACKED) {
        if (v->dx != v->dy)
            return mist_fail(err, MIST_EINVAL,
                             "%sthis model reads rows [x, y] (packed layout, as the official MIST "
                             "models) and was trained only with dx == dy; got dx = %d, dy = %d",
                             what, v->dx, v->dy);
        if (v->dx > a->max_dx)
            return mist_fail(err, MIST_EINVAL,
                             "%sdx = dy = %d exceeds this model's maximum of %d per variable "
                             "(max_input_dim %d)",
                             what, v->dx, a->max_dx, a->max_input_dim);
    } else if (v->dx > a->max_dx || v->dy > a->max_dy) {
        return mist_fail(err, MIST_EINVAL,
                         "%sdx = %d, dy = %d exceed this model's maxima dx <= %d, dy <= %d", what,
                         v->dx, v->dy, a->max_dx, a->max_dy);
    }
    if (v->n < 2)
        return mist_fail(err, MIST_EDATA, "%sat least 2 rows are needed (got %zu)", what, v->n);
    size_t c = (size_t)v->dx + (size_t)v->dy;
    if (v->n > ((size_t)1 << 30) / c)
        return mist_fail(err, MIST_EINVAL, "%s%zu rows are too many", what, v->n);
    for (size_t i = 0; i < v->n; i++)
        for (size_t j = 0; j < c; j++) {
            double x = v->data[i * c + j];
            if (!isfinite(x))
                return mist_fail(err, MIST_EDATA, "%snon-finite value (%g) at row %zu, column %zu",
                                 what, x, i + 1, j + 1);
            /* the network computes in float32; a value that overflows it would become inf */
            if (a->preprocess == MIST_PREP_NONE && fabs(x) > 3.4028234663852886e38)
                return mist_fail(err, MIST_EDATA,
                                 "%svalue %g at row %zu, column %zu is outside the float32 range",
                                 what, x, i + 1, j + 1);
        }
    return MIST_OK;
}

static int check_taus(const mist_arch *a, const double *taus, size_t ntaus, mist_err *err)
{
    if (!a->quantile_conditioned && ntaus)
        return mist_fail(err, MIST_EINVAL,
                         "this model is not quantile-conditioned: it gives a point estimate only "
                         "(no quantiles)");
    if (ntaus && !taus) return mist_fail(err, MIST_EINVAL, "taus is NULL");
    for (size_t i = 0; i < ntaus; i++)
        if (!(taus[i] > 0 && taus[i] < 1))
            return mist_fail(err, MIST_EINVAL, "quantile level tau = %g is outside (0, 1)",
                             taus[i]);
    return MIST_OK;
}

typedef struct tau_idx {
    double tau;
    size_t i;
} tau_idx;

static int cmp_tau(const void *a, const void *b)
{
    const tau_idx *p = a, *q = b;
    if (p->tau < q->tau) return -1;
    if (p->tau > q->tau) return 1;
    return (p->i > q->i) - (p->i < q->i);
}

/* Monotone rearrangement of one set's quantiles: the k-th smallest value goes to the k-th
 * smallest tau (equal taus in their given order). */
static int rearrange(double *q, const double *taus, size_t nt, mist_err *err)
{
    tau_idx *ti = malloc(nt * sizeof *ti);
    double *v = malloc(nt * sizeof *v);
    if (!ti || !v) {
        free(ti);
        free(v);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nt; i++) ti[i].tau = taus[i], ti[i].i = i, v[i] = q[i];
    qsort(ti, nt, sizeof *ti, cmp_tau);
    qsort(v, nt, sizeof *v, mist_cmp_double);
    for (size_t k = 0; k < nt; k++) q[ti[k].i] = v[k];
    free(ti);
    free(v);
    return MIST_OK;
}

static int estimate_checked(mist_model *m, const mist_data_view *sets, size_t nsets,
                            const double *taus, size_t ntaus, double *out, mist_err *err);

/* Column canonicalisation (col_canon.c): every set in its canonical column order and signs,
 * and, where the model takes the swapped dims, also with X and Y exchanged; the two answers
 * averaged quantile by quantile (each is sorted along tau, so the mean is too). The mean is
 * the same bits for a set and its swap: the same two terms, added in either order. */
static int estimate_canon(mist_model *m, const mist_data_view *sets, size_t nsets,
                          const double *taus, size_t ntaus, double *out, mist_err *err)
{
    const mist_arch *a = &m->arch;
    size_t nt = ntaus ? ntaus : 1, total = 0, maxd = 0;
    for (size_t s = 0; s < nsets; s++) {
        size_t d = (size_t)(sets[s].dx + sets[s].dy);
        total += sets[s].n * d;
        if (d > maxd) maxd = d;
    }
    double *buf = malloc(2 * total * sizeof *buf), *res = malloc(2 * nsets * nt * sizeof *res);
    mist_data_view *v = calloc(2 * nsets, sizeof *v); /* calloc: gcc sees no loop bound */
    unsigned char *sym = malloc(nsets);
    int *src = malloc(maxd * sizeof *src);
    double *sign = malloc(maxd * sizeof *sign);
    int rc = MIST_OK;
    if (!buf || !res || !v || !sym || !src || !sign) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for the canonical columns");
        goto done;
    }
    /* v[0..nsets): the canonical copies; v[nsets..nv): the swapped ones, in set order. Two
     * calls with the same layout of sizes, so that a set and its swap see the same blocks. */
    size_t off = 0, ns = 0;
    for (size_t s = 0; s < nsets && !rc; s++) {
        const mist_data_view *in = &sets[s];
        size_t len = in->n * (size_t)(in->dx + in->dy);
        if ((rc = col_canon_plan(in->data, in->n, in->dx, in->dy, src, sign, NULL, err))) break;
        col_canon_apply(buf + off, in->data, in->n, in->dx, in->dy, src, sign, 0);
        v[s] = (mist_data_view){buf + off, in->n, in->dx, in->dy};
        off += len;
        /* a packed model takes dx == dy only, which the swap keeps */
        sym[s] = in->dy <= a->max_dx && in->dx <= a->max_dy;
        if (sym[s]) {
            col_canon_apply(buf + off, in->data, in->n, in->dx, in->dy, src, sign, 1);
            v[nsets + ns++] = (mist_data_view){buf + off, in->n, in->dy, in->dx};
            off += len;
        }
    }
    if (!rc) rc = estimate_checked(m, v, nsets, taus, ntaus, res, err);
    if (!rc && ns) rc = estimate_checked(m, v + nsets, ns, taus, ntaus, res + nsets * nt, err);
    for (size_t s = 0, k = 0; s < nsets && !rc; s++) {
        const double *p = res + s * nt, *q = res + (nsets + k) * nt;
        for (size_t i = 0; i < nt; i++) out[s * nt + i] = sym[s] ? 0.5 * (p[i] + q[i]) : p[i];
        k += sym[s];
    }
done:
    free(buf);
    free(res);
    free(v);
    free(sym);
    free(src);
    free(sign);
    return rc;
}

/* The checks of a batch call against m's arch. */
static int check_batch(const mist_model *m, const mist_data_view *sets, size_t nsets,
                       const double *taus, size_t ntaus, mist_err *err)
{
    if (!sets) return mist_fail(err, MIST_EINVAL, "sets is NULL");
    /* int-sized matrix dimensions downstream (BLAS): keep every count far inside them */
    if (nsets > ((size_t)1 << 24) || ntaus > 65536 ||
        nsets * (ntaus ? ntaus : 1) > ((size_t)1 << 26))
        return mist_fail(err, MIST_EINVAL,
                         "too many datasets or quantile levels in one call (%zu x %zu)", nsets,
                         ntaus);
    int rc = check_taus(&m->arch, taus, ntaus, err);
    if (rc) return rc;
    size_t total = 0;
    for (size_t s = 0; s < nsets; s++) {
        char what[48] = "";
        if (nsets > 1) snprintf(what, sizeof what, "dataset %zu: ", s + 1);
        if ((rc = model_check_set(&m->arch, &sets[s], what, err))) return rc;
        total += sets[s].n;
        if (total > ((size_t)1 << 30))
            return mist_fail(err, MIST_EINVAL, "the batch holds too many rows (%zu+)", total);
    }
    return MIST_OK;
}

int mist_model_estimate_batch(mist_model *m, const mist_data_view *sets, size_t nsets,
                              const double *taus, size_t ntaus, double *out, mist_err *err)
{
    if (!m || !out) return mist_fail(err, MIST_EINVAL, "model and out must not be NULL");
    if (nsets == 0) return MIST_OK;
    int rc = check_batch(m, sets, nsets, taus, ntaus, err);
    if (rc) return rc;
    if (m->route_alt) return route_estimate_batch(m, sets, nsets, taus, ntaus, out, err);
    return model_estimate_noroute(m, sets, nsets, taus, ntaus, out, err);
}

/* The answer of pick (m or its second model) for the reason the route gave, the set passed m's
 * checks where pick is m: the second model's own checks (its levels, its dims) where it takes
 * part, then its reading, from memo (may be NULL) where the arbiter already took it. */
static int answer_picked(mist_model *m, mist_model *pick, int reason, const mist_data_view *v,
                         const double *taus, size_t ntaus, const route_memo *memo, double *out,
                         mist_err *err)
{
    int rc = MIST_OK;
    if (pick != m || reason == MIST_ROUTE_ARBITER)
        rc = check_batch(m->route_alt, v, 1, taus, ntaus, err);
    if (rc) return rc;
    if (reason == MIST_ROUTE_ARBITER)
        return route_arbiter_answer(m, v, taus, ntaus, memo, out, err);
    if (pick != m && memo && memo->have && route_memo_levels(taus, ntaus)) {
        memcpy(out, memo->second, sizeof memo->second); /* the arbiter's pass handed it over */
        return MIST_OK;
    }
    return model_estimate_noroute(pick, v, 1, taus, ntaus, out, err);
}

int mist_model_estimate_picked(mist_model *m, mist_model *pick, int reason, const double *data,
                               size_t n, int dx, int dy, const double *taus, size_t ntaus,
                               double *out, mist_err *err)
{
    if (!m || !pick || !out) return mist_fail(err, MIST_EINVAL, "model and out must not be NULL");
    if (pick != m && pick != m->route_alt)
        return mist_fail(err, MIST_EINVAL,
                         "the picked model is neither the model nor its second model");
    if (reason == MIST_ROUTE_ARBITER && (pick != m || !m->route_alt))
        return mist_fail(err, MIST_EINVAL, "an arbitrated set is answered by the first model of "
                                           "a route");
    mist_data_view v = {data, n, dx, dy};
    if (pick == m) {
        int rc = check_batch(m, &v, 1, taus, ntaus, err);
        if (rc) return rc;
    }
    return answer_picked(m, pick, reason, &v, taus, ntaus, NULL, out, err);
}

int mist_model_estimate_routed(mist_model *m, const double *data, size_t n, int dx, int dy,
                               const double *taus, size_t ntaus, double *out, mist_model **pick,
                               double *kappa, int *reason, mist_err *err)
{
    if (pick) *pick = NULL;
    if (kappa) *kappa = NAN;
    if (reason) *reason = MIST_ROUTE_NONE;
    if (!m || !out) return mist_fail(err, MIST_EINVAL, "model and out must not be NULL");
    mist_data_view v = {data, n, dx, dy};
    int rc = check_batch(m, &v, 1, taus, ntaus, err);
    if (rc) return rc;
    route_memo memo;
    int why;
    mist_model *pm = route_pick_checked(m, data, n, dx, dy, kappa, &why, &memo, err);
    if (!pm) return err && err->code ? err->code : MIST_EINVAL;
    if ((rc = answer_picked(m, pm, why, &v, taus, ntaus, &memo, out, err))) return rc;
    if (pick) *pick = pm;
    if (reason) *reason = why;
    return MIST_OK;
}

int model_estimate_noroute(mist_model *m, const mist_data_view *sets, size_t nsets,
                           const double *taus, size_t ntaus, double *out, mist_err *err)
{
    if (mist_model_col_canon(m)) return estimate_canon(m, sets, nsets, taus, ntaus, out, err);
    return estimate_checked(m, sets, nsets, taus, ntaus, out, err);
}

/* The estimate of sets that passed the checks: recalibration, forward pass, rearrangement. */
static int estimate_checked(mist_model *m, const mist_data_view *sets, size_t nsets,
                            const double *taus, size_t ntaus, double *out, mist_err *err)
{
    int rc;
    /* Recalibrated levels: the network is asked at qmap(tau). A QR model's default median
     * (ntaus 0) is the 0.5 level too. Raw mode shows the network as it is. */
    const double half = 0.5;
    const double *qtaus = taus;
    size_t nq = ntaus;
    double *mapped = NULL;
    if (m->qres_k && !m->raw_quantiles) {
        const double net_taus[3] = {m->qres_lo, 0.5, m->qres_hi};
        size_t nt = ntaus ? ntaus : 1;
        double *net = malloc(nsets * 3 * sizeof *net);
        if (!net) return mist_fail(err, MIST_ENOMEM, "out of memory");
        rc = graph_forward(m, sets, nsets, net_taus, 3, net, err);
        for (size_t s = 0; s < nsets && !rc; s++) {
            for (int j = 0; j < 3; j++)
                if (!isfinite(net[s * 3 + j])) {
                    rc = mist_fail(err, MIST_ENUMERIC, "the network returned a non-finite value");
                    break;
                }
            if (!rc) qres_apply(m, net + s * 3, sets[s].n, taus, ntaus, out + s * nt);
        }
        free(net);
        return rc;
    }
    if (m->qmap_k && !m->raw_quantiles) {
        if (!ntaus) qtaus = &half, nq = 1;
        if (!(mapped = malloc(nq * sizeof *mapped)))
            return mist_fail(err, MIST_ENOMEM, "out of memory");
        for (size_t i = 0; i < nq; i++) mapped[i] = qmap_apply(m, qtaus[i]);
        qtaus = mapped;
    }
    rc = graph_forward(m, sets, nsets, qtaus, nq, out, err);
    free(mapped);
    if (rc) return rc;
    size_t nout = nsets * (ntaus ? ntaus : 1);
    if (mist_first_nonfinite(out, nout) < nout)
        return mist_fail(err, MIST_ENUMERIC, "the network returned a non-finite value");
    if (!m->raw_quantiles && ntaus > 1)
        for (size_t s = 0; s < nsets; s++)
            if ((rc = rearrange(out + s * ntaus, taus, ntaus, err))) return rc;
    return MIST_OK;
}

int mist_model_check_rows(const mist_model *m, const double *data, size_t n, int dx, int dy,
                          mist_err *err)
{
    if (!m || !data) return mist_fail(err, MIST_EINVAL, "check rows: NULL argument");
    const mist_arch *a = mist_model_arch(m);
    int64_t min_rows = a->n_min > 0 ? a->n_min : MIST_MODEL_MIN_ROWS;
    if ((int64_t)n < min_rows)
        return mist_fail(err, MIST_EDATA,
                         "n = %zu rows is below the %lld the model needs (the smallest n it was "
                         "trained on); any estimate from so few rows is unreliable; a classical "
                         "method (e.g. ksg1) will still answer",
                         n, (long long)min_rows);
    int col;
    mist_constant_sides(data, n, dx, dy, &col);
    if (col >= 0)
        return mist_fail(err, MIST_EDATA,
                         "column %c%d is constant: it carries no information, and the model was "
                         "never shown such a column; leave it out",
                         col < dx ? 'x' : 'y', col < dx ? col + 1 : col - dx + 1);
    return MIST_OK;
}

int mist_model_estimate(mist_model *m, const double *data, size_t n, int dx, int dy,
                        const double *taus, size_t ntaus, double *out, mist_err *err)
{
    mist_data_view v = {data, n, dx, dy};
    return mist_model_estimate_batch(m, &v, 1, taus, ntaus, out, err);
}
