/* Private to classical/: an exact max-norm kd-tree for the KSG neighbour searches, and a sorted
 * array for 1-D range counts.
 *
 * Exactness. Every distance is max_c fabs(q[c] - p[c]) in double, the same expression the
 * brute-force reference evaluates (fabs(a - b) == fabs(b - a) exactly under round-to-nearest),
 * and every pruning decision compares bounds that provably sit on the right side of those
 * floating values: correctly rounded subtraction is monotone, so for a box [lo, hi] and a
 * coordinate p in it, fl(lo - q) <= fl(p - q) when q < lo, and fabs(p - q) <= max(fabs(lo - q),
 * fabs(hi - q)). Hence the counts and neighbour sets equal brute force bit for bit. */
#ifndef MIST_KDTREE_H
#define MIST_KDTREE_H

#include <stddef.h>

#include "mist_core.h"

typedef struct mist_kd_node {
    size_t start, end; /* tree positions [start, end) */
    size_t right;      /* right child's node index; 0 for a leaf (the left child is node + 1) */
} mist_kd_node;

typedef struct mist_kdtree {
    int d;
    size_t n;
    double *pts;   /* n x d, in tree order */
    size_t *perm;  /* tree position -> row of the source data */
    mist_kd_node *nodes;
    double *box;   /* per node: lo[d] then hi[d] (tight bounding box of its points) */
    size_t nnodes, cap;
} mist_kdtree;

/* Builds the tree over n points: point i is data[i*stride .. i*stride + d - 1]. leaf: the most
 * points a leaf holds (a node whose points all coincide is a leaf whatever its size). */
int mist_kdtree_build(mist_kdtree *t, const double *data, size_t n, size_t stride, int d,
                      size_t leaf, mist_err *err);
void mist_kdtree_free(mist_kdtree *t);

/* The k nearest points of q (max-norm) other than the excluded ones; needs k <= number of
 * candidates. dist/rows (source rows) receive them in ascending order. Excluded:
 *   key == NULL: the point of source row `self` (pass (size_t)-1 to exclude none);
 *   key != NULL: every point at tree position p with key[p] == self (key: one value per tree
 *   position, e.g. the original row of a bootstrap copy, so that all copies of the query's row
 *   are excluded as if they were the query itself).
 * exact_ties = 1: the neighbours are the k smallest by (distance, row), i.e. among equal
 * distances the smaller row index wins; the set is then fully determined.
 * exact_ties = 0: only dist[k-1] (the k-th distance) is guaranteed; the set among ties at that
 * distance is whatever the search met first (faster: prunes at equality). */
void mist_kdtree_knn(const mist_kdtree *t, const double *q, size_t self, const size_t *key, int k,
                     int exact_ties, double *dist, size_t *rows);

/* #{points p : max_c fabs(q[c] - p[c]) < r} (strict) or <= r (strict = 0), q itself included
 * when it is one of the points. */
size_t mist_kdtree_count(const mist_kdtree *t, const double *q, double r, int strict);

/* 1-D: the values sorted, and each row's position among them. */
typedef struct mist_sorted1d {
    size_t n;
    double *v;     /* ascending */
    size_t *rank;  /* row -> its position in v */
} mist_sorted1d;

/* Column values data[i*stride], i < n. */
int mist_sorted1d_build(mist_sorted1d *s, const double *data, size_t n, size_t stride,
                        mist_err *err);
void mist_sorted1d_free(mist_sorted1d *s);
/* #{j : fabs(v_j - v_row) < r} (strict) or <= r, row itself included when it qualifies. */
size_t mist_sorted1d_count(const mist_sorted1d *s, size_t row, double r, int strict);

/* Blocked brute force for high dimensions: the data in blocks of 16 rows stored column by column
 * (padded to whole blocks), scanned with SIMD (AVX2 when the CPU has it, SSE2 otherwise; the same IEEE
 * subtractions, fabs and max as the scalar code, so the same values). */
typedef struct mist_bfscan {
    size_t n, np; /* rows, padded rows */
    int dx, dy;
    int avx2;     /* kernel: 2 AVX-512, 1 AVX2, 0 scalar (decided when built) */
    double *cols; /* (dx+dy) x np, column-major */
} mist_bfscan;

/* Caps the SIMD level later scans use (process-wide, for tests): 0 scalar, 1 AVX2, 2 AVX-512,
 * -1 the best the CPU has (the default). A level the CPU lacks is never used. */
void mist_bfscan_limit_simd(int level);
int mist_bfscan_build(mist_bfscan *b, const double *data, size_t n, int dx, int dy,
                      mist_err *err);
void mist_bfscan_free(mist_bfscan *b);
/* Query q (dx+dy values; excluded from the neighbours: row `self` when key is NULL, else every
 * row j with key[j] == self, key being one value per row): fills
 * ddx[j] = max_c<dx fabs(q[c] - x_j[c]) and ddy[j] likewise over Y for j < n (+inf for the
 * padding, np entries each), and the k nearest other rows by (joint distance, row) in
 * ascending order, as mist_kdtree_knn with exact_ties = 1. */
void mist_bfscan_row(const mist_bfscan *b, const double *q, size_t self, const size_t *key, int k,
                     double *ddx, double *ddy, double *dist, size_t *rows);
/* #{j < np : v[j] < r} (strict) or <= r. np: b->np. */
size_t mist_bfscan_count(const mist_bfscan *b, const double *v, double r, int strict);

/* Which search mist_ksg_counts uses: MIST_KSG_SEARCH_AUTO (by dimension and n), _TREE (kd-trees
 * and sorted arrays) or _SCAN (blocked brute force). Process-wide; for tests and benchmarks.
 * Every choice gives the same counts. */
enum { MIST_KSG_SEARCH_AUTO = 0, MIST_KSG_SEARCH_TREE = 1, MIST_KSG_SEARCH_SCAN = 2 };
void mist_ksg_set_search(int mode);

/* Argument checks shared by mist_ksg_counts and mist_ksg_counts_brute (ksg.c): algorithm 1 or 2,
 * dx, dy, k >= 1 (MIST_EINVAL), n > k and finite data (MIST_EDATA, naming row and column). */
int mist_ksg_check_args(int algorithm, const double *data, size_t n, int dx, int dy, int k,
                        mist_err *err);

#endif
