/* KSG counts by O(n^2) brute force: the reference the kd-tree code must equal bit for bit.
 * Deliberately plain: every distance is computed in full (no early exits), the neighbour list
 * is ordered by (joint distance, row index), so among rows tied at the k-th distance the
 * smaller row indices are the neighbours (this fixes eps_x, eps_y of algorithm 2), and every
 * count scans all rows. Distances are max_c fabs(x_i[c] - x_j[c]).
 * With origin (mist_ksg_counts_brute_ex), "j != i" reads "origin[j] != origin[i]": a row's
 * copies are never its neighbours and never in its counts (see ksg.c). */
#include <math.h>
#include <stdlib.h>

#include "est_internal.h"
#include "kdtree.h"
#include "mist_classical.h"

int mist_ksg_counts_brute(int algorithm, const double *data, size_t n, int dx, int dy, int k,
                          int *nx, int *ny, mist_err *err)
{
    return mist_ksg_counts_brute_ex(algorithm, data, NULL, n, dx, dy, k, nx, ny, err);
}

/* Whether row j is row i itself (or, with origins, a copy of the same original row). */
static int same(const size_t *origin, size_t i, size_t j)
{
    return origin ? origin[i] == origin[j] : i == j;
}

int mist_ksg_counts_brute_ex(int algorithm, const double *data, const size_t *origin, size_t n,
                             int dx, int dy, int k, int *nx, int *ny, mist_err *err)
{
    int rc = mist_ksg_check_args(algorithm, data, n, dx, dy, k, err);
    if (rc) return rc;
    if (!nx || !ny) return mist_fail(err, MIST_EINVAL, "ksg counts: output arrays are NULL");
    if (origin) {
        /* every row needs k rows of other origins (plain O(n^2) check) */
        for (size_t i = 0; i < n; i++) {
            size_t others = 0;
            for (size_t j = 0; j < n; j++) others += !same(origin, i, j);
            if (others < (size_t)k)
                return mist_fail(err, MIST_EDATA,
                                 "ksg: row %zu has %zu rows of other origins, fewer than k = %d",
                                 i + 1, others, k);
        }
    }
    size_t cols = (size_t)dx + (size_t)dy;
    double *nd = malloc((size_t)k * sizeof *nd);
    size_t *nr = malloc((size_t)k * sizeof *nr);
    if (!nd || !nr) {
        free(nd);
        free(nr);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const double *xi = data + i * cols;
        int cnt = 0;
        for (size_t j = 0; j < n; j++) {
            if (same(origin, i, j)) continue;
            const double *xj = data + j * cols;
            double dxv = mist_est_maxnorm(xi, xj, dx), dyv = mist_est_maxnorm(xi + dx, xj + dx, dy);
            double dj = dxv > dyv ? dxv : dyv;
            /* insert (dj, j) into the sorted list of the k smallest; j ascends, so a tie with
             * an entry already there goes after it */
            int pos;
            if (cnt < k) pos = cnt++;
            else if (dj < nd[k - 1]) pos = k - 1;
            else continue;
            while (pos > 0 && nd[pos - 1] > dj) {
                nd[pos] = nd[pos - 1];
                nr[pos] = nr[pos - 1];
                pos--;
            }
            nd[pos] = dj;
            nr[pos] = j;
        }
        double ex, ey;
        if (algorithm == 1) {
            ex = ey = nd[k - 1];
        } else {
            ex = ey = 0.0;
            for (int m = 0; m < k; m++) {
                const double *xj = data + nr[m] * cols;
                double a = mist_est_maxnorm(xi, xj, dx), b = mist_est_maxnorm(xi + dx, xj + dx, dy);
                if (a > ex) ex = a;
                if (b > ey) ey = b;
            }
        }
        int cx = 0, cy = 0;
        for (size_t j = 0; j < n; j++) {
            if (same(origin, i, j)) continue;
            const double *xj = data + j * cols;
            double a = mist_est_maxnorm(xi, xj, dx), b = mist_est_maxnorm(xi + dx, xj + dx, dy);
            if (algorithm == 1) {
                cx += a < ex;
                cy += b < ey;
            } else {
                cx += a <= ex;
                cy += b <= ey;
            }
        }
        nx[i] = cx;
        ny[i] = cy;
    }
    free(nd);
    free(nr);
    return MIST_OK;
}
