/* Column canonicalisation for the models that read columns by position (the split and packed
 * layouts): the order and sign of every column chosen from the data, so that permuting the
 * columns within X or within Y, or negating any of them, gives the network the same input.
 *
 * Why: a model of the official design learns what column positions mean. The generator's
 * families couple x_i with y_i at the same index in the first columns, so a model trained on
 * them reads a dataset whose columns were shuffled as nearly independent (mist-imd MSE 0.05 ->
 * 12 at n < 100), and one with a column negated as a different distribution. Putting the
 * columns back in the generator's arrangement (the strongest cross pairs first, each pair
 * x_i, y_i at the same index, positively related) makes those transforms invisible to it.
 *
 * The rule, on the normal scores z of every column (mist_copula_transform), centred (a) and
 * squared then centred (b):
 *   - strength of a cross pair (x_j, y_k): (r(a_j, a_k)^2 + r(b_j, b_k)^2) + (r(b_j, a_k)^2 +
 *     r(a_j, b_k)^2), r the correlation over rows; the squared terms see non-monotone links
 *     (y = x^2) that the plain correlation misses;
 *   - greedy matching: the strongest unmatched cross pair is matched, min(dx, dy) times;
 *   - the order of the matched pairs: by strength in groups, a new group wherever the next
 *     pair is weaker by more than CANON_GAP on the scale sqrt(n S); within a group by
 *     |sum z_j^2 z_k| + |sum z_j z_k^2|, a statistic with no systematic link to the strength.
 *     Why not plainly by strength: the sort itself is a selection. Pairs of equal true
 *     strength (the dense families, the K equal pairs of the sparse ones) come out with the
 *     sample's strongest first and a falling profile, which the network reads as structure:
 *     mist-qr's MSE on mist-imd (seed 5, as generated) 0.16 at n 300-500 sorted, 0.062 with
 *     the groups; 3.6 vs 2.9 at n < 100, where the raw layout gives 0.59 (the cost of any
 *     order chosen from so few rows; the recalibration fitted with canonicalisation on widens
 *     the intervals there). The larger block's unmatched columns follow by their strongest
 *     cross pair, decreasing;
 *   - signs, in the final order: in a matched pair y_k takes the sign that makes
 *     r(a_j, a_k) >= 0; the pair's common sign (and an unmatched column's sign) makes the sum
 *     of its correlations with the columns signed before it >= 0, so that a dependence shared
 *     by many columns (the dense families: every x_j with every y_k, one sign) keeps one sign
 *     throughout; the first pair, with nothing before it, takes the sign that makes the third
 *     moment of (a_j +- a_k) over the rows >= 0 (an odd statistic, so negating both flips
 *     it).
 * Exact, not merely close: negating a column negates its scores bit for bit (the copula
 * transform mirrors its upper half), every statistic above is either squared (unchanged) or
 * negated exactly (IEEE rounding is symmetric), and each pair's sums run over rows in row
 * order whatever the column positions. Only exact ties between strengths fall back on the
 * input order: duplicate or constant columns, and now and then at very small n, where every
 * column holds the same n normal scores (1 of mist-imd's 2,160 datasets: n = 10, 12 x 12). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_classical.h"
#include "util.h"

/* r over rows of two centred columns u, v (stride d) with norms nu, nv; 0 when one is flat. */
static double corr_cols(const double *u, const double *v, size_t n, size_t d, double nu,
                        double nv)
{
    if (!(nu > 0) || !(nv > 0)) return 0.0;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += u[i * d] * v[i * d];
    return s / (nu * nv);
}

/* Pairs whose strengths differ by less than this on the scale sqrt(n S), where the sampling
 * spread of a pair's strength is of order 1, are not told apart by strength (see the header). */
#define CANON_GAP 1.0

typedef struct pair_key {
    size_t group; /* strength group: the strongest first */
    double q;    /* then by this, decreasing */
    size_t pick; /* then in matching order (ties only) */
} pair_key;

static int cmp_key(const void *pa, const void *pb)
{
    const pair_key *p = pa, *q = pb;
    if (p->group != q->group) return p->group < q->group ? -1 : 1;
    if (p->q != q->q) return p->q > q->q ? -1 : 1;
    return (p->pick > q->pick) - (p->pick < q->pick);
}

/* The sum of the correlations of column col with the columns signed so far (the first nx X
 * columns of ox, the first ny Y columns of oy), each times its sign, in signing order, so
 * that the terms are added in an order that does not depend on column positions. */
static double link(const double *R, size_t d, size_t x, const int *ox, size_t nx, const int *oy,
                   size_t ny, const double *sg, size_t col)
{
    double tx = 0.0, ty = 0.0;
    for (size_t i = 0; i < nx; i++) tx += sg[ox[i]] * R[col * d + (size_t)ox[i]];
    for (size_t i = 0; i < ny; i++) ty += sg[x + (size_t)oy[i]] * R[col * d + x + (size_t)oy[i]];
    return tx + ty; /* two partial sums: the X/Y swap adds the same two */
}

/* The share of the evidence of cross dependence that sits on the matched pairs: E = max(S -
 * 4/n, 0) per cross pair (S sums four squared correlations, each about 1/n under independence),
 * summed over the matched pairs in matching order, over all pairs in increasing order (both
 * orders are free of column positions, so the share is too); 1 without any evidence. */
static double match_share(const double *S, size_t x, size_t y, const int *ox, const int *oy,
                          size_t m, size_t n, double *tmp)
{
    double null = 4.0 / (double)n, matched = 0.0, all = 0.0;
    for (size_t p = 0; p < m; p++)
        matched += fmax(S[(size_t)ox[p] * y + (size_t)oy[p]] - null, 0.0);
    for (size_t i = 0; i < x * y; i++) tmp[i] = fmax(S[i] - null, 0.0);
    qsort(tmp, x * y, sizeof *tmp, mist_cmp_double);
    for (size_t i = 0; i < x * y; i++) all += tmp[i];
    return all > 0.0 ? matched / all : 1.0;
}

int col_canon_plan(const double *data, size_t n, int dx, int dy, int *src, double *sign,
                   double *kappa, mist_err *err)
{
    const size_t x = (size_t)dx, y = (size_t)dy, d = x + y;
    double *a = malloc(n * d * sizeof *a), *b = malloc(n * d * sizeof *b);
    double *na = malloc(2 * d * sizeof *na), *S = malloc(x * y * sizeof *S);
    double *R = malloc(d * d * sizeof *R), *sg = malloc(d * sizeof *sg);
    double *tmp = kappa ? malloc(x * y * sizeof *tmp) : NULL;
    int *mx = malloc(x * sizeof *mx), *my = malloc(y * sizeof *my);
    int *ox = malloc(x * sizeof *ox), *oy = malloc(y * sizeof *oy);
    int *tx = malloc(d * sizeof *tx), *ty = tx + (x < y ? x : y);
    pair_key *key = malloc(d * sizeof *key);
    int rc = MIST_OK;
    if (!a || !b || !na || !S || !R || !sg || !mx || !my || !ox || !oy || !tx || !key ||
        (kappa && !tmp)) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for the column order (%zu x %zu)", n, d);
        goto done;
    }
    if ((rc = mist_copula_transform(a, data, n, dx + dy, err))) goto done;
    double *nb = na + d;
    for (size_t j = 0; j < d; j++) {
        double m1 = 0.0, m2 = 0.0;
        for (size_t i = 0; i < n; i++) m1 += a[i * d + j], m2 += a[i * d + j] * a[i * d + j];
        m1 /= (double)n, m2 /= (double)n;
        double s1 = 0.0, s2 = 0.0;
        for (size_t i = 0; i < n; i++) {
            double z = a[i * d + j];
            a[i * d + j] = z - m1;
            b[i * d + j] = z * z - m2;
            s1 += a[i * d + j] * a[i * d + j], s2 += b[i * d + j] * b[i * d + j];
        }
        na[j] = sqrt(s1), nb[j] = sqrt(s2);
    }
    for (size_t j = 0; j < x; j++)
        for (size_t k = 0; k < y; k++) {
            size_t c = x + k;
            double r1 = corr_cols(a + j, a + c, n, d, na[j], na[c]);
            double r4 = corr_cols(b + j, b + c, n, d, nb[j], nb[c]);
            double r2 = corr_cols(b + j, a + c, n, d, nb[j], na[c]);
            double r3 = corr_cols(a + j, b + c, n, d, na[j], nb[c]);
            /* grouped so that the X/Y swap (r2 <-> r3) gives the same bits */
            S[j * y + k] = (r1 * r1 + r4 * r4) + (r2 * r2 + r3 * r3);
        }
    /* R [d, d]: the correlations of the scores, every column with every other */
    for (size_t j = 0; j < d; j++) {
        R[j * d + j] = 1.0;
        for (size_t c = j + 1; c < d; c++)
            R[j * d + c] = R[c * d + j] = corr_cols(a + j, a + c, n, d, na[j], na[c]);
    }
    /* greedy matching; mx[j] / my[k]: the partner's index, -1 while unmatched */
    for (size_t j = 0; j < x; j++) mx[j] = -1;
    for (size_t k = 0; k < y; k++) my[k] = -1;
    size_t m = x < y ? x : y, nx = 0, ny = 0;
    for (size_t step = 0; step < m; step++) {
        size_t bj = 0, bk = 0;
        double best = -1.0;
        for (size_t j = 0; j < x; j++) {
            if (mx[j] >= 0) continue;
            for (size_t k = 0; k < y; k++)
                if (my[k] < 0 && S[j * y + k] > best) best = S[j * y + k], bj = j, bk = k;
        }
        mx[bj] = (int)bk, my[bk] = (int)bj;
        ox[nx++] = (int)bj, oy[ny++] = (int)bk;
    }
    if (kappa) *kappa = match_share(S, x, y, ox, oy, m, n, tmp);
    /* the order of the pairs: those with evidence of dependence first, each group by a
     * statistic unrelated to the strength (see the header) */
    double prev = 0.0;
    size_t group = 0;
    for (size_t p = 0; p < m; p++) {
        size_t j = (size_t)ox[p], c = x + (size_t)oy[p];
        double s21 = 0.0, s12 = 0.0;
        for (size_t i = 0; i < n; i++) {
            double u = a[i * d + j], v = a[i * d + c], uv = u * v;
            s21 += uv * u, s12 += uv * v; /* uv first: the swap gives the same products */
        }
        double str = sqrt((double)n * S[j * y + (size_t)oy[p]]);
        if (p > 0 && prev - str > CANON_GAP) group++;
        prev = str;
        key[p].group = group;
        key[p].q = fabs(s21) + fabs(s12); /* the swap exchanges the two terms */
        key[p].pick = p;
    }
    qsort(key, m, sizeof *key, cmp_key);
    for (size_t p = 0; p < m; p++) tx[p] = ox[key[p].pick], ty[p] = oy[key[p].pick];
    for (size_t p = 0; p < m; p++) ox[p] = tx[p], oy[p] = ty[p];
    /* signs of the pairs, in that order */
    for (size_t p = 0; p < m; p++) {
        size_t j = (size_t)ox[p], c = x + (size_t)oy[p];
        double r = R[j * d + c], sr = r >= 0 ? 1.0 : -1.0, t = 0.0;
        if (p == 0) {
            for (size_t i = 0; i < n; i++) {
                double w = a[i * d + j] + sr * a[i * d + c];
                t += w * w * w;
            }
        } else {
            t = link(R, d, x, ox, p, oy, p, sg, j) + sr * link(R, d, x, ox, p, oy, p, sg, c);
        }
        sg[j] = t >= 0 ? 1.0 : -1.0;
        sg[c] = sg[j] * sr;
    }
    /* the larger block's rest, by their strongest cross pair (decreasing), each signed by its
     * correlations with the columns signed before it */
    int xs = x > y; /* the block with unmatched columns */
    size_t big = xs ? x : y, small = xs ? y : x;
    int *mb = xs ? mx : my, *ob = xs ? ox : oy;
    size_t *nob = xs ? &nx : &ny;
    while (*nob < big) {
        size_t bj = 0;
        double best = -1.0;
        for (size_t j = 0; j < big; j++) {
            if (mb[j] != -1) continue;
            for (size_t p = 0; p < small; p++) {
                double v = xs ? S[j * y + p] : S[p * y + j];
                if (v > best) best = v, bj = j;
            }
        }
        mb[bj] = -2; /* placed */
        size_t col = xs ? bj : x + bj;
        double t = link(R, d, x, ox, nx, oy, ny, sg, col);
        ob[(*nob)++] = (int)bj;
        sg[col] = t >= 0 ? 1.0 : -1.0;
    }
    for (size_t j = 0; j < x; j++) src[j] = ox[j], sign[j] = sg[ox[j]];
    for (size_t k = 0; k < y; k++) src[x + k] = (int)x + oy[k], sign[x + k] = sg[x + oy[k]];
done:
    free(a);
    free(b);
    free(na);
    free(S);
    free(R);
    free(sg);
    free(mx);
    free(my);
    free(ox);
    free(oy);
    free(tx);
    free(key);
    free(tmp);
    return rc;
}

void col_canon_apply(double *out, const double *data, size_t n, int dx, int dy, const int *src,
                     const double *sign, int swap)
{
    const size_t d = (size_t)(dx + dy);
    for (size_t i = 0; i < n; i++) {
        const double *r = data + i * d;
        double *o = out + i * d;
        for (size_t c = 0; c < d; c++) {
            /* swapped: the Y block first */
            size_t to = !swap ? c : c < (size_t)dx ? c + (size_t)dy : c - (size_t)dx;
            o[to] = sign[c] * r[src[c]];
        }
    }
}
