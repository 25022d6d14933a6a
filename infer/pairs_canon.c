/* sign_canon: the normal scores of a pairs set with every column's sign chosen by the data, so
 * that negating any columns of X or Y gives the model the same input (pairs_set_canon in
 * infer_internal.h).
 *
 * Why this is exact and not merely close: negating columns multiplies the cross-correlation
 * matrix C [dx, dy] by diagonal signs on both sides, and every step below either multiplies
 * those signs through exactly (IEEE rounding is symmetric: round(-x) = -round(x)) or squares
 * them away. The Jacobi eigensolver in particular maps S M S to S V S bit for bit, where a
 * LAPACK-style solver would not. So a flip changes each column's chosen sign by exactly that
 * column's flip, and the canonical scores are the same bits.
 *
 * The rule: the singular directions of C (from the eigenvectors of the smaller of C C^T and
 * C^T C) give each column a component, the one it loads on most (loading = singular value x
 * singular-vector entry); its sign is the sign of its loading times the sign of the
 * component's, and a component's sign is that of the third moment, over the rows, of the
 * scores projected on the component's two unit singular vectors (an odd statistic, which fixes
 * the one sign the singular vectors leave free). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"

/* Eigen-decomposition of the symmetric A [m, m] (overwritten: its diagonal ends as the
 * eigenvalues) by cyclic Jacobi rotations; V [m, m] gets the eigenvectors as columns. */
void canon_jacobi(double *A, double *V, int m)
{
    size_t M = (size_t)m;
    for (size_t i = 0; i < M * M; i++) V[i] = 0.0;
    for (size_t i = 0; i < M; i++) V[i * M + i] = 1.0;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0.0, diag = 0.0;
        for (size_t p = 0; p < M; p++) {
            diag += A[p * M + p] * A[p * M + p];
            for (size_t q = p + 1; q < M; q++) off += A[p * M + q] * A[p * M + q];
        }
        if (!(off > 1e-30 * diag)) break;
        for (size_t p = 0; p < M; p++)
            for (size_t q = p + 1; q < M; q++) {
                double apq = A[p * M + q];
                if (apq == 0.0) continue;
                double diff = A[q * M + q] - A[p * M + p], theta = diff / (2.0 * apq);
                /* sign(theta) written out so that diff = 0 still follows apq's sign (the
                 * quotient would be +-0, and -0 >= 0) */
                double sgn = (diff >= 0) == (apq > 0) ? 1.0 : -1.0;
                double t = sgn / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                A[p * M + p] -= t * apq;
                A[q * M + q] += t * apq;
                A[p * M + q] = A[q * M + p] = 0.0;
                for (size_t r = 0; r < M; r++) {
                    if (r != p && r != q) {
                        double arp = A[r * M + p], arq = A[r * M + q];
                        A[r * M + p] = A[p * M + r] = c * arp - s * arq;
                        A[r * M + q] = A[q * M + r] = s * arp + c * arq;
                    }
                    double vrp = V[r * M + p], vrq = V[r * M + q];
                    V[r * M + p] = c * vrp - s * vrq;
                    V[r * M + q] = s * vrp + c * vrq;
                }
            }
    }
}

/* The cross-correlations C [dx, dy] of the columns of Z [n, d] (X first). */
static void cross_corr(double *C, const float *Z, size_t n, int dx, int dy, double *mean,
                       double *ss)
{
    size_t d = (size_t)(dx + dy), x = (size_t)dx, y = (size_t)dy;
    for (size_t j = 0; j < d; j++) {
        double m = 0.0, v = 0.0;
        for (size_t i = 0; i < n; i++) m += (double)Z[i * d + j];
        m /= (double)n;
        for (size_t i = 0; i < n; i++) {
            double e = (double)Z[i * d + j] - m;
            v += e * e;
        }
        mean[j] = m, ss[j] = v;
    }
    memset(C, 0, x * y * sizeof *C);
    for (size_t i = 0; i < n; i++) {
        const float *r = Z + i * d;
        for (size_t j = 0; j < x; j++) {
            double e = (double)r[j] - mean[j];
            for (size_t k = 0; k < y; k++) C[j * y + k] += e * ((double)r[x + k] - mean[x + k]);
        }
    }
    for (size_t j = 0; j < x; j++)
        for (size_t k = 0; k < y; k++) {
            double v = ss[j] * ss[x + k];
            C[j * y + k] = v > 0 ? C[j * y + k] / sqrt(v) : 0.0;
        }
}

int pairs_set_canon(pairs_set *s, double *sign, mist_err *err)
{
    const int dx = s->dx, dy = s->dy;
    const size_t n = s->n, x = (size_t)dx, y = (size_t)dy, d = x + y;
    /* the smaller side (ties: X) holds the eigenvectors; "a" is that side */
    const int a_is_x = dx <= dy;
    const size_t m = a_is_x ? x : y, o = a_is_x ? y : x;
    double *C = malloc(x * y * sizeof *C), *G = malloc(m * m * sizeof *G);
    double *V = malloc(m * m * sizeof *V), *L = malloc(d * m * sizeof *L);
    double *mean = malloc(2 * d * sizeof *mean), *m3 = malloc(m * sizeof *m3);
    double *sg = malloc(d * sizeof *sg), *w = malloc(d * sizeof *w);
    int rc = MIST_OK;
    if (!C || !G || !V || !L || !mean || !m3 || !sg || !w) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for the column signs (%zu columns)", d);
        goto done;
    }
    cross_corr(C, s->z, n, dx, dy, mean, mean + d);
    /* B [m, o] = C or C^T as seen from side a; G = B B^T */
#define B(i, k) (a_is_x ? C[(i) * y + (k)] : C[(k) * y + (i)])
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++) {
            double v = 0.0;
            for (size_t k = 0; k < o; k++) v += B(i, k) * B(j, k);
            G[i * m + j] = v;
        }
    canon_jacobi(G, V, (int)m);
    /* Loadings L [d, m] of every column (X columns first) on every component c: on side a
     * sigma_c V[i, c]; on the other side (B^T V)[k, c] = sigma_c times the unit singular
     * vector. */
    const size_t a0 = a_is_x ? 0 : x, b0 = a_is_x ? x : 0;
    for (size_t c = 0; c < m; c++) {
        double lam = G[c * m + c], sig = lam > 0 ? sqrt(lam) : 0.0;
        for (size_t i = 0; i < m; i++) L[(a0 + i) * m + c] = sig * V[i * m + c];
        for (size_t k = 0; k < o; k++) {
            double v = 0.0;
            for (size_t i = 0; i < m; i++) v += B(i, k) * V[i * m + c];
            L[(b0 + k) * m + c] = sig > 0 ? v : 0.0;
        }
    }
#undef B
    /* each component's sign: the third moment of the rows projected on its unit singular
     * vectors (loadings / sigma, the same direction on both sides) */
    for (size_t c = 0; c < m; c++) {
        double lam = G[c * m + c], sig = lam > 0 ? sqrt(lam) : 0.0, t = 0.0;
        for (size_t j = 0; j < d && sig > 0; j++) w[j] = L[j * m + c] / sig;
        if (sig > 0)
            for (size_t i = 0; i < n; i++) {
                double p = 0.0;
                for (size_t j = 0; j < d; j++) p += w[j] * ((double)s->z[i * d + j] - mean[j]);
                t += p * p * p;
            }
        m3[c] = t;
    }
    for (size_t j = 0; j < d; j++) {
        size_t best = 0;
        double bl = -1.0;
        for (size_t c = 0; c < m; c++)
            if (L[j * m + c] * L[j * m + c] > bl) bl = L[j * m + c] * L[j * m + c], best = c;
        double l = L[j * m + best];
        sg[j] = (l < 0 ? -1.0 : 1.0) * (m3[best] < 0 ? -1.0 : 1.0);
        if (l == 0.0) sg[j] = 1.0; /* no cross-correlation at all: nothing to choose by */
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            if (sg[j] < 0) s->z[i * d + j] = -s->z[i * d + j];
    if (sign) memcpy(sign, sg, d * sizeof *sign);
done:
    free(C);
    free(G);
    free(V);
    free(L);
    free(mean);
    free(m3);
    free(sg);
    free(w);
    return rc;
}
