/* The pairs layout's front end: a dataset becomes one token per unordered column pair, each a
 * learned statistic averaged over the rows plus the pair's Gaussian features
 * (infer_internal.h). Used as is by inference (graph.c) and training (train_graph.c): the
 * training pass keeps only the pooled statistic [T, P] and recomputes the per-row activations
 * in the backward pass, so memory stays O(T P) whatever n is.
 *
 * Why pairs: every dependence between X and Y shows up in some (x_j, y_k) pair, and the
 * within-block pairs carry the structure that decides how much of it is shared (two copies of
 * one signal add no information). A statistic of a pair that is symmetric in its two columns,
 * pooled by a mean over rows and then over tokens by attention, is exactly invariant to row
 * order, to the column order within X and within Y and to the X/Y swap; the cost is
 * O(n T P^2), linear in n. Measured against other designs in weights/design-next.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_classical.h"

#define PAIRS_MROWS 2048 /* (pair, row) products per block of the statistic */
#define RSQRT2 0.70710678118654752f

size_t pairs_count(int dx, int dy)
{
    size_t x = (size_t)dx, y = (size_t)dy;
    return x * y + x * (x - 1) / 2 + y * (y - 1) / 2;
}

void pairs_set_free(pairs_set *s)
{
    if (!s) return;
    free(s->z);
    free(s->ab);
    free(s->stat);
    memset(s, 0, sizeof *s);
}

/* ---- the Gaussian features -------------------------------------------------------------- */

/* Pearson correlations C [d, d] of the columns of Z [n, d]. Columns are centred and divided by
 * their largest deviation before the products, so that neither 1e-200 nor 1e154 under- or
 * overflows; a constant column correlates 0 with every other. */
static void corr_matrix(double *C, const double *Z, size_t n, int d, double *mean, double *scale)
{
    size_t dd = (size_t)d;
    for (int j = 0; j < d; j++) {
        double m = 0, mx = 0;
        for (size_t i = 0; i < n; i++) m += Z[i * dd + j] / (double)n;
        for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(Z[i * dd + j] - m));
        mean[j] = m;
        scale[j] = mx > 0 && isfinite(mx) ? 1.0 / mx : 0.0;
    }
    memset(C, 0, dd * dd * sizeof *C);
    for (size_t i = 0; i < n; i++) {
        const double *row = Z + i * dd;
        for (int j = 0; j < d; j++) {
            double cj = (row[j] - mean[j]) * scale[j];
            double *Cj = C + (size_t)j * dd;
            for (int k = j; k < d; k++) Cj[k] += cj * (row[k] - mean[k]) * scale[k];
        }
    }
    for (int j = 0; j < d; j++)
        for (int k = j + 1; k < d; k++) {
            double v = C[(size_t)j * dd + j] > 0 && C[(size_t)k * dd + k] > 0
                           ? C[(size_t)j * dd + k] /
                                 sqrt(C[(size_t)j * dd + j] * C[(size_t)k * dd + k])
                           : 0.0;
            v = fmax(-1.0, fmin(1.0, v));
            C[(size_t)j * dd + k] = C[(size_t)k * dd + j] = v;
        }
    for (int j = 0; j < d; j++) C[(size_t)j * dd + j] = 1.0;
}

/* log det of the symmetric positive semi-definite S [m, m] (ld lds) + jitter I, by Cholesky
 * into W [m, m]; the jitter grows until the factorisation succeeds. */
static double logdet(const double *S, int lds, int m, double *W)
{
    for (double jit = 1e-12; jit < 1.0; jit *= 100) {
        int ok = 1;
        double ld = 0;
        for (int i = 0; i < m && ok; i++)
            for (int j = 0; j <= i; j++) {
                double v = S[(size_t)i * lds + j] + (i == j ? jit : 0.0);
                for (int k = 0; k < j; k++) v -= W[(size_t)i * m + k] * W[(size_t)j * m + k];
                if (i == j) {
                    if (!(v > 0)) {
                        ok = 0;
                        break;
                    }
                    W[(size_t)i * m + i] = sqrt(v);
                    ld += log(v);
                } else {
                    W[(size_t)i * m + j] = v / W[(size_t)j * m + j];
                }
            }
        if (ok) return ld;
    }
    return 0.0;
}

/* The Gaussian MI of the blocks (dx first) of the correlation matrix C with its off-diagonal
 * shrunk by 1 - alpha (C is overwritten), clamped to [0, 40]. */
static double block_mi(double *C, int dx, int dy, double alpha, double *W)
{
    int d = dx + dy;
    if (alpha > 0)
        for (int j = 0; j < d; j++)
            for (int k = 0; k < d; k++) C[(size_t)j * d + k] *= j == k ? 1.0 : 1.0 - alpha;
    double mi = 0.5 * (logdet(C, d, dx, W) + logdet(C + (size_t)dx * d + dx, d, dy, W) -
                       logdet(C, d, d, W));
    return fmax(0.0, fmin(40.0, mi));
}

/* block_mi shrunk towards I when n is too small for d + 1 parameters per column (the
 * estimate is then only a feature). */
static double gauss_mi(double *C, int dx, int dy, size_t n, double *W)
{
    int d = dx + dy;
    double need = 2.0 * (d + 1), alpha = (double)n >= need ? 0.0 : 1.0 - (double)n / need;
    return block_mi(C, dx, dy, alpha, W);
}

/* The number of distinct rows of columns c0..c1-1 of Z [n, d], by sorting 64-bit hashes of
 * the rows (a collision, about n^2 / 2^65, can only lower the count by one). Normal scores of
 * distinct ranks stay distinct in float for any n this library handles. */
static int cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

static size_t distinct_rows(const float *Z, size_t n, size_t d, size_t c0, size_t c1,
                            uint64_t *h)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0x9E3779B97F4A7C15ULL;
        for (size_t j = c0; j < c1; j++) {
            uint64_t b;
            double x = (double)Z[i * d + j] + 0.0; /* -0 and 0 are one value */
            memcpy(&b, &x, sizeof b);
            v = mist_seed_derive(v, b);
        }
        h[i] = v;
    }
    qsort(h, n, sizeof *h, cmp_u64);
    size_t k = n > 0;
    for (size_t i = 1; i < n; i++) k += h[i] != h[i - 1];
    return k;
}

static float pair_gauss(double r)
{
    return (float)(-0.25 * log(fmax(1.0 - r * r, 1e-12))); /* I(r) / 2 */
}

int pairs_set_prepare(pairs_set *s, const double *data, size_t n, int dx, int dy, mist_err *err)
{
    memset(s, 0, sizeof *s);
    int d = dx + dy;
    size_t dd = (size_t)d, nd = n * dd;
    s->n = n, s->dx = dx, s->dy = dy;
    s->T = pairs_count(dx, dy);
    s->Tc = (size_t)dx * (size_t)dy;
    double *zc = malloc(nd * sizeof *zc);
    double *Cc = malloc(dd * dd * sizeof *Cc), *Cr = malloc(dd * dd * sizeof *Cr);
    double *W = malloc((dd * dd + 2 * dd) * sizeof *W);
    s->z = malloc(nd * sizeof *s->z);
    s->ab = malloc(2 * (s->T ? s->T : 1) * sizeof *s->ab);
    s->stat = malloc((s->T ? s->T : 1) * PAIRS_NSTAT * sizeof *s->stat);
    int rc = MIST_OK;
    if (!zc || !Cc || !Cr || !W || !s->z || !s->ab || !s->stat) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for the pair tokens of %zu x %d values",
                       n, d);
        goto done;
    }
    if ((rc = mist_copula_transform(zc, data, n, d, err))) goto done;
    for (size_t i = 0; i < nd; i++) s->z[i] = (float)zc[i];
    s->discrete_cap = INFINITY; /* pairs_set_build sets it where the arch asks */
    corr_matrix(Cc, zc, n, d, W, W + dd);
    corr_matrix(Cr, data, n, d, W, W + dd);
    size_t t = 0;
    for (int j = 0; j < dx; j++)
        for (int k = 0; k < dy; k++) s->ab[2 * t] = j, s->ab[2 * t + 1] = dx + k, t++;
    for (int blk = 0; blk < 2; blk++) {
        int lo = blk ? dx : 0, hi = blk ? d : dx;
        for (int j = lo; j < hi; j++)
            for (int k = j + 1; k < hi; k++) s->ab[2 * t] = j, s->ab[2 * t + 1] = k, t++;
    }
    float logn = (float)(log((double)n) / 6.0);
    for (t = 0; t < s->T; t++) {
        size_t a = (size_t)s->ab[2 * t], b = (size_t)s->ab[2 * t + 1];
        float *st = s->stat + t * PAIRS_NSTAT;
        st[0] = pair_gauss(Cc[a * dd + b]);
        st[1] = pair_gauss(Cr[a * dd + b]);
        st[2] = logn;
    }
    double ic, ir = gauss_mi(Cr, dx, dy, n, W), bias;
    s->base_unbiased = -1;
    if (n >= dd + 3 && !mist_gaussian_mi_bias(n, dx, dy, &bias, NULL)) {
        /* a copy of Cc, unshrunk (gauss_mi shrinks in place); Cr's values are used up */
        double *Cu = Cr;
        memcpy(Cu, Cc, dd * dd * sizeof *Cu);
        double raw = block_mi(Cu, dx, dy, 0.0, W);
        s->base_unbiased = fmax(0.0, fmin(40.0, raw - bias));
    }
    ic = gauss_mi(Cc, dx, dy, n, W);
    double lx = log((double)dx), ly = log((double)dy);
    s->glob[0] = logn;
    s->glob[1] = (float)((lx + ly) / 4);
    s->glob[2] = (float)(fabs(lx - ly) / 4);
    s->glob[3] = (float)(ir / 4);
    s->glob[4] = (float)(ic / 4);
    s->glob[5] = (float)log1p(ir);
    s->glob[6] = (float)log1p(ic);
    s->glob[7] = (float)(log((double)(d + 1) / (double)n) / 6);
done:
    free(zc);
    free(Cc);
    free(Cr);
    free(W);
    if (rc) pairs_set_free(s);
    return rc;
}

/* gauss_base_cap's bound from the normal scores (negated columns count the same) */
static int set_discrete_cap(pairs_set *s, mist_err *err)
{
    size_t n = s->n, x = (size_t)s->dx, d = x + (size_t)s->dy;
    uint64_t *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) return mist_fail(err, MIST_ENOMEM, "out of memory for %zu row keys", n);
    size_t kx = distinct_rows(s->z, n, d, 0, x, h), ky = distinct_rows(s->z, n, d, x, d, h);
    free(h);
    s->discrete_cap = kx < n || ky < n ? log((double)(kx < ky ? kx : ky)) : INFINITY;
    return MIST_OK;
}

int pairs_set_build(pairs_set *s, const mist_arch *a, const double *data, size_t n, int dx,
                    int dy, mist_err *err)
{
    int rc = pairs_set_prepare(s, data, n, dx, dy, err);
    if (!rc && a->gauss_base_cap) rc = set_discrete_cap(s, err);
    if (!rc && a->sign_canon) rc = pairs_set_canon(s, NULL, err);
    if (!rc && a->ksg_feature) rc = pairs_set_ksg(s, err);
    if (rc) pairs_set_free(s);
    return rc;
}

/* ---- the KSG features (ksg_feature) ------------------------------------------------------ */

/* A row's key for the subsample: the sum (mod 2^64) of a hash of each absolute value's bits,
 * so that it depends on the row's values and not on the order of its columns (nor on the X/Y
 * swap, nor on negated columns). */
static uint64_t row_key(const float *z, int d)
{
    uint64_t h = 0;
    for (int j = 0; j < d; j++) {
        uint32_t b;
        float v = fabsf(z[j]);
        memcpy(&b, &v, sizeof b);
        h += mist_seed_derive(0x6b7367ULL, b);
    }
    return h;
}

typedef struct keyed_row {
    uint64_t key;
    size_t row;
} keyed_row;

static int cmp_keyed(const void *pa, const void *pb)
{
    const keyed_row *a = pa, *b = pb;
    return a->key < b->key ? -1 : a->key > b->key;
}

size_t pairs_ksg_rows(size_t n, int d)
{
    double m = floor(sqrt(PAIRS_KSG_BUDGET / (double)d));
    if (m < 1000) m = 1000;
    return (double)n < m ? n : (size_t)m;
}

int pairs_set_ksg(pairs_set *s, mist_err *err)
{
    int d = s->dx + s->dy;
    size_t n = s->n, m = pairs_ksg_rows(n, d), dd = (size_t)d;
    double *x = malloc(m * dd * sizeof *x);
    keyed_row *kr = m < n ? malloc(n * sizeof *kr) : NULL;
    if (!x || (m < n && !kr)) {
        free(x);
        free(kr);
        return mist_fail(err, MIST_ENOMEM, "out of memory for the KSG feature (%zu rows)", m);
    }
    if (m < n) {
        /* the m rows with the smallest keys: a subsample that is a function of the multiset
         * of rows (rows with equal keys are equal rows, up to 2^-64 collisions) */
        for (size_t i = 0; i < n; i++) kr[i].key = row_key(s->z + i * dd, d), kr[i].row = i;
        qsort(kr, n, sizeof *kr, cmp_keyed);
    }
    for (size_t i = 0; i < m; i++) {
        const float *src = s->z + (m < n ? kr[i].row : i) * dd;
        for (size_t j = 0; j < dd; j++) x[i * dd + j] = (double)src[j];
    }
    /* k = 5 on the normal scores as they are (already standard in every column), without
     * tie-breaking noise: a function of the rows' values whatever their order. Noise would be
     * drawn by row position, and z-scoring's sums by row order round differently, which flips
     * the exact distance ties that normal scores have (they are symmetric about 0). */
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.noise = 0.0;
    o.zscore = 0;
    double mi = NAN;
    mist_err kerr;
    int rc = m > (size_t)o.k ? mist_ksg(1, x, m, s->dx, s->dy, &o, &mi, &kerr) : MIST_EDATA;
    free(x);
    free(kr);
    if (rc == MIST_ENOMEM) return mist_fail(err, rc, "%s", kerr.msg);
    /* undefined (too many tied rows, or too few rows): the copula MI stands in, flagged */
    s->ksg_ok = rc == MIST_OK && isfinite(mi);
    if (!s->ksg_ok) mi = 4.0 * (double)s->glob[4];
    s->glob[5] = (float)(mi / 4);
    s->glob[6] = s->ksg_ok ? (float)log1p(fmax(0.0, mi)) : -1.0f;
    return MIST_OK;
}

/* ---- the statistic ---------------------------------------------------------------------- */

typedef struct blocks {
    int rb; /* rows per block */
    int qb; /* pairs per block */
} blocks;

static blocks block_shape(size_t n)
{
    blocks b;
    b.rb = n < 64 ? (int)n : 64;
    b.qb = PAIRS_MROWS / b.rb;
    return b;
}

size_t pairs_scratch_floats(int P, size_t T)
{
    return (size_t)PAIRS_MROWS * (PAIRS_NFEAT + 7 * (size_t)P) + T * (size_t)P + 64;
}

/* The statistic's activation: the arch's (GELU or ReLU). */
static void act_forward(int act, float *x, size_t n)
{
    if (act == MIST_ACT_RELU) relu_forward(x, x, n);
    else gelu_forward(x, x, n);
}

/* out [M, P] = f [M, 4] @ W0^T + b0: four products per output, so a plain loop over the
 * outputs beats a K = 4 matrix product. */
MIST_VEC_CLONES
static void first_layer(float *out, const float *f, const float *W0, const float *b0, int M,
                        int P)
{
    for (int m = 0; m < M; m++) {
        const float *fm = f + (size_t)m * PAIRS_NFEAT;
        float *o = out + (size_t)m * P;
        for (int c = 0; c < P; c++) {
            const float *w = W0 + (size_t)c * PAIRS_NFEAT;
            o[c] = b0[c] + w[0] * fm[0] + w[1] * fm[1] + w[2] * fm[2] + w[3] * fm[3];
        }
    }
}

/* da [q * rb, P] = act'(a) * d, d [q, P] the same for the rb rows of each pair. */
MIST_VEC_CLONES
static void relu_bcast_backward(float *da, const float *a, const float *d, int q, int rb, int P)
{
    for (int qi = 0; qi < q; qi++)
        for (int r = 0; r < rb; r++) {
            size_t o = ((size_t)qi * rb + r) * P;
            for (int c = 0; c < P; c++) da[o + c] = a[o + c] > 0.0f ? d[(size_t)qi * P + c] : 0.0f;
        }
}

MIST_VEC_CLONES
static void relu_mask(float *da, const float *a, const float *d, size_t n)
{
    for (size_t i = 0; i < n; i++) da[i] = a[i] > 0.0f ? d[i] : 0.0f;
}

/* f [q * rb, 4]: the features of pairs t0 .. t0+q-1 (pair-major) at rows r0 .. r0+rb-1. */
static void features(float *f, const pairs_set *s, size_t t0, int q, size_t r0, int rb)
{
    size_t d = (size_t)(s->dx + s->dy);
    for (int qi = 0; qi < q; qi++) {
        size_t a = (size_t)s->ab[2 * (t0 + qi)], b = (size_t)s->ab[2 * (t0 + qi) + 1];
        float *o = f + (size_t)qi * rb * PAIRS_NFEAT;
        for (int r = 0; r < rb; r++, o += PAIRS_NFEAT) {
            float u = s->z[(r0 + r) * d + a], v = s->z[(r0 + r) * d + b];
            o[0] = (u + v) * RSQRT2;
            o[1] = fabsf(u - v) * RSQRT2;
            o[2] = u * v;
            o[3] = 0.5f * (u * u + v * v) - 1.0f;
        }
    }
}

/* The weights of the pairs [t0, t1) (one type). */
static void type_weights(const mist_params *p, int within, const lin_w **w0, const lin_w **w1,
                         const lin_w **w2)
{
    *w0 = within ? &p->pw0 : &p->pc0;
    *w1 = within ? &p->pw1 : &p->pc1;
    *w2 = within ? &p->pw2 : &p->pc2;
}

void pairs_forward(float *tok, float *pooled, const pairs_set *s, const mist_params *p, int D,
                   int P, int act, float *scratch)
{
    blocks bs = block_shape(s->n);
    float *f = scratch, *A = f + (size_t)PAIRS_MROWS * PAIRS_NFEAT, *B = A + (size_t)PAIRS_MROWS * P;
    memset(pooled, 0, s->T * (size_t)P * sizeof *pooled);
    for (int within = 0; within < 2; within++) {
        size_t t0 = within ? s->Tc : 0, t1 = within ? s->T : s->Tc;
        const lin_w *w0, *w1, *w2;
        type_weights(p, within, &w0, &w1, &w2);
        for (size_t q0 = t0; q0 < t1; q0 += (size_t)bs.qb) {
            int q = t1 - q0 < (size_t)bs.qb ? (int)(t1 - q0) : bs.qb;
            for (size_t r0 = 0; r0 < s->n; r0 += (size_t)bs.rb) {
                int rb = s->n - r0 < (size_t)bs.rb ? (int)(s->n - r0) : bs.rb, M = q * rb;
                features(f, s, q0, q, r0, rb);
                first_layer(A, f, w0->w, w0->b, M, P);
                act_forward(act, A, (size_t)M * P);
                linear_forward(B, A, w1->w, w1->b, M, P, P);
                act_forward(act, B, (size_t)M * P);
                /* per pair: the block's row sum first, then into the total (shorter chains) */
                for (int qi = 0; qi < q; qi++) {
                    float *acc = pooled + (q0 + qi) * (size_t)P, *sum = A;
                    const float *h = B + (size_t)qi * rb * P;
                    memcpy(sum, h, (size_t)P * sizeof *sum);
                    for (int r = 1; r < rb; r++)
                        for (int c = 0; c < P; c++) sum[c] += h[(size_t)r * P + c];
                    for (int c = 0; c < P; c++) acc[c] += sum[c];
                }
            }
        }
        float inv = 1.0f / (float)s->n;
        for (size_t i = t0 * (size_t)P; i < t1 * (size_t)P; i++) pooled[i] *= inv;
        linear_forward(tok + t0 * (size_t)D, pooled + t0 * (size_t)P, w2->w, w2->b,
                       (int)(t1 - t0), P, D);
    }
    for (size_t t = 0; t < s->T; t++) {
        const float *st = s->stat + t * PAIRS_NSTAT;
        float *o = tok + t * (size_t)D;
        for (int c = 0; c < D; c++) {
            const float *w = p->pstat_w + (size_t)c * PAIRS_NSTAT;
            o[c] += w[0] * st[0] + w[1] * st[1] + w[2] * st[2];
        }
    }
}

double pairs_backward(float *grads, const float *params, const float *dtok, const float *pooled,
                      const pairs_set *s, const mist_params *p, int D, int P, int act,
                      float *scratch)
{
#define G(ptr) (grads + ((ptr) - params))
    blocks bs = block_shape(s->n);
    size_t MP = (size_t)PAIRS_MROWS * P;
    float *f = scratch, *a0 = f + (size_t)PAIRS_MROWS * PAIRS_NFEAT, *h0 = a0 + MP,
          *a1 = h0 + MP, *dh1 = a1 + MP, *da1 = dh1 + MP, *dh0 = da1 + MP, *da0 = dh0 + MP,
          *dpool = da0 + MP;
    double flops = 0;
    float *gs = G(p->pstat_w);
    for (size_t t = 0; t < s->T; t++) {
        const float *st = s->stat + t * PAIRS_NSTAT, *dt = dtok + t * (size_t)D;
        for (int c = 0; c < D; c++)
            for (int k = 0; k < PAIRS_NSTAT; k++) gs[(size_t)c * PAIRS_NSTAT + k] += dt[c] * st[k];
    }
    memset(dpool, 0, s->T * (size_t)P * sizeof *dpool);
    for (int within = 0; within < 2; within++) {
        size_t t0 = within ? s->Tc : 0, t1 = within ? s->T : s->Tc;
        if (t1 == t0) continue;
        const lin_w *w0, *w1, *w2;
        type_weights(p, within, &w0, &w1, &w2);
        linear_backward(dpool + t0 * (size_t)P, G(w2->w), G(w2->b), dtok + t0 * (size_t)D,
                        pooled + t0 * (size_t)P, w2->w, (int)(t1 - t0), P, D);
        flops += 4.0 * (double)(t1 - t0) * P * D;
        float inv = 1.0f / (float)s->n;
        for (size_t i = t0 * (size_t)P; i < t1 * (size_t)P; i++) dpool[i] *= inv;
        for (size_t q0 = t0; q0 < t1; q0 += (size_t)bs.qb) {
            int q = t1 - q0 < (size_t)bs.qb ? (int)(t1 - q0) : bs.qb;
            for (size_t r0 = 0; r0 < s->n; r0 += (size_t)bs.rb) {
                int rb = s->n - r0 < (size_t)bs.rb ? (int)(s->n - r0) : bs.rb, M = q * rb;
                size_t MPb = (size_t)M * P;
                features(f, s, q0, q, r0, rb);
                first_layer(a0, f, w0->w, w0->b, M, P);
                memcpy(h0, a0, MPb * sizeof *h0);
                act_forward(act, h0, MPb);
                linear_forward(a1, h0, w1->w, w1->b, M, P, P);
                /* d mean / d row = 1/n (in dpool) for every row of a pair */
                if (act == MIST_ACT_RELU) {
                    relu_bcast_backward(da1, a1, dpool + q0 * (size_t)P, q, rb, P);
                } else {
                    for (int qi = 0; qi < q; qi++)
                        for (int r = 0; r < rb; r++)
                            memcpy(dh1 + ((size_t)qi * rb + r) * P,
                                   dpool + (q0 + qi) * (size_t)P, (size_t)P * sizeof *dh1);
                    memset(da1, 0, MPb * sizeof *da1);
                    gelu_backward(da1, a1, dh1, MPb);
                }
                memset(dh0, 0, MPb * sizeof *dh0);
                linear_backward(dh0, G(w1->w), G(w1->b), da1, h0, w1->w, M, P, P);
                if (act == MIST_ACT_RELU) {
                    relu_mask(da0, a0, dh0, MPb);
                } else {
                    memset(da0, 0, MPb * sizeof *da0);
                    gelu_backward(da0, a0, dh0, MPb);
                }
                linear_backward(NULL, G(w0->w), G(w0->b), da0, f, w0->w, M, PAIRS_NFEAT, P);
                flops += 2.0 * M * P * (2.0 * PAIRS_NFEAT + 3.0 * P);
            }
        }
    }
    return flops;
#undef G
}

/* ---- the naive reference (tests) ----------------------------------------------------------- */

static double act_d(int act, double x)
{
    return act == MIST_ACT_RELU ? (x > 0 ? x : 0.0) : 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

void pairs_forward_ref(float *tok, const pairs_set *s, const mist_params *p, int D, int P,
                       int act)
{
    size_t d = (size_t)(s->dx + s->dy);
    double *h0 = malloc((size_t)P * sizeof *h0), *acc = malloc((size_t)P * sizeof *acc);
    if (!h0 || !acc) {
        free(h0);
        free(acc);
        return;
    }
    for (size_t t = 0; t < s->T; t++) {
        const lin_w *w0, *w1, *w2;
        type_weights(p, t >= s->Tc, &w0, &w1, &w2);
        size_t a = (size_t)s->ab[2 * t], b = (size_t)s->ab[2 * t + 1];
        for (int c = 0; c < P; c++) acc[c] = 0;
        for (size_t i = 0; i < s->n; i++) {
            double u = s->z[i * d + a], v = s->z[i * d + b];
            double fe[PAIRS_NFEAT] = {(u + v) / sqrt(2.0), fabs(u - v) / sqrt(2.0), u * v,
                                      0.5 * (u * u + v * v) - 1.0};
            for (int c = 0; c < P; c++) {
                double x = w0->b[c];
                for (int k = 0; k < PAIRS_NFEAT; k++) x += (double)w0->w[c * PAIRS_NFEAT + k] * fe[k];
                h0[c] = act_d(act, x);
            }
            for (int c = 0; c < P; c++) {
                double x = w1->b[c];
                for (int k = 0; k < P; k++) x += (double)w1->w[(size_t)c * P + k] * h0[k];
                acc[c] += act_d(act, x);
            }
        }
        for (int o = 0; o < D; o++) {
            double x = w2->b[o];
            for (int c = 0; c < P; c++) x += (double)w2->w[(size_t)o * P + c] * acc[c] / (double)s->n;
            for (int k = 0; k < PAIRS_NSTAT; k++)
                x += (double)p->pstat_w[(size_t)o * PAIRS_NSTAT + k] * s->stat[t * PAIRS_NSTAT + k];
            tok[t * (size_t)D + o] = (float)x;
        }
    }
    free(h0);
    free(acc);
}

/* ---- sum_head ----------------------------------------------------------------------------- */

double pairs_sum_head(const float *tok, const float *w, size_t Tc, int D)
{
    double s = 0;
    for (size_t t = 0; t < Tc; t++) {
        const float *x = tok + t * (size_t)D;
        double dot = 0;
        for (int j = 0; j < D; j++) dot += (double)w[j] * (double)x[j];
        s += dot;
    }
    return PAIRS_SUM_SCALE * s;
}

void pairs_sum_head_backward(float *dtok, float *dw, const float *tok, const float *w, size_t Tc,
                             int D, double g)
{
    double gs = PAIRS_SUM_SCALE * g;
    for (int j = 0; j < D; j++) {
        float gw = (float)(gs * (double)w[j]);
        double acc = 0;
        for (size_t t = 0; t < Tc; t++) {
            acc += (double)tok[t * (size_t)D + j];
            dtok[t * (size_t)D + j] += gw;
        }
        dw[j] += (float)(gs * acc);
    }
}
