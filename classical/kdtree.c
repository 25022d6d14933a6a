/* Exact neighbour searches for KSG (see kdtree.h for the exactness argument):
 *   a max-norm kd-tree: median splits on the widest coordinate of each node's tight bounding
 *   box, the points copied in tree order so a leaf is one contiguous block;
 *   sorted 1-D arrays (LSD radix sort) with galloping binary searches;
 *   the blocked brute-force scan, with AVX-512 / AVX2 kernels picked at run time on x86 and a
 *   portable scalar one (all three evaluate the same IEEE operations). */
#include "kdtree.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MIST_X86 1
#endif
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- build --------------------------------------------------------------------------------- */

/* The build works in place on t->pts (a contiguous copy of the points) and t->perm, swapping
 * whole points, so every pass reads memory in order. */
typedef struct build_ctx {
    mist_kdtree *t;
    size_t leaf;
    int failed;
} build_ctx;

static inline void swap_pts(mist_kdtree *t, size_t a, size_t b)
{
    int d = t->d;
    double *pa = t->pts + a * (size_t)d, *pb = t->pts + b * (size_t)d;
    for (int c = 0; c < d; c++) {
        double v = pa[c];
        pa[c] = pb[c];
        pb[c] = v;
    }
    size_t r = t->perm[a];
    t->perm[a] = t->perm[b];
    t->perm[b] = r;
}

/* Moves the point of rank kth (by coordinate c) within [lo, hi) into place, smaller ones
 * before, larger after. Three-way partitions, so heavy ties (integer data) stay linear. */
static void select_kth(mist_kdtree *t, size_t lo, size_t hi, size_t kth, int c)
{
    size_t d = (size_t)t->d;
    const double *x = t->pts + c;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        double a = x[lo * d], m = x[mid * d], z = x[(hi - 1) * d];
        double pivot = a < m ? (m < z ? m : (a < z ? z : a)) : (a < z ? a : (m < z ? z : m));
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            double v = x[i * d];
            if (v < pivot) swap_pts(t, lt++, i++);
            else if (v > pivot) swap_pts(t, --gt, i);
            else i++;
        }
        if (kth < lt) hi = lt;
        else if (kth >= gt) lo = gt;
        else return;
    }
}

static size_t new_node(build_ctx *b)
{
    mist_kdtree *t = b->t;
    if (t->nnodes == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        mist_kd_node *nn = realloc(t->nodes, cap * sizeof *nn);
        if (!nn) {
            b->failed = 1;
            return SIZE_MAX;
        }
        t->nodes = nn;
        double *nb = realloc(t->box, cap * 2 * (size_t)t->d * sizeof *nb);
        if (!nb) {
            b->failed = 1;
            return SIZE_MAX;
        }
        t->box = nb;
        t->cap = cap;
    }
    return t->nnodes++;
}

static size_t build_rec(build_ctx *b, size_t s, size_t e)
{
    mist_kdtree *t = b->t;
    int d = t->d;
    size_t node = new_node(b);
    if (node == SIZE_MAX) return 0;
    double *lo = t->box + node * 2 * (size_t)d, *hi = lo + d;
    const double *x = t->pts + s * (size_t)d;
    for (int c = 0; c < d; c++) lo[c] = hi[c] = x[c];
    for (size_t p = s + 1; p < e; p++) {
        x += d;
        for (int c = 0; c < d; c++) {
            if (x[c] < lo[c]) lo[c] = x[c];
            if (x[c] > hi[c]) hi[c] = x[c];
        }
    }
    int best = 0;
    double spread = -1.0;
    for (int c = 0; c < d; c++) {
        double w = hi[c] - lo[c];
        if (w > spread) {
            spread = w;
            best = c;
        }
    }
    t->nodes[node].start = s;
    t->nodes[node].end = e;
    t->nodes[node].right = 0;
    if (e - s <= b->leaf || !(spread > 0.0)) return node;
    size_t m = s + (e - s) / 2;
    select_kth(t, s, e, m, best);
    build_rec(b, s, m);
    if (b->failed) return 0;
    size_t r = build_rec(b, m, e);
    if (b->failed) return 0;
    t->nodes[node].right = r; /* t->nodes may have moved: index, not pointer */
    return node;
}

int mist_kdtree_build(mist_kdtree *t, const double *data, size_t n, size_t stride, int d,
                      size_t leaf, mist_err *err)
{
    memset(t, 0, sizeof *t);
    t->d = d;
    t->n = n;
    if (n == 0) return MIST_OK;
    t->perm = malloc(n * sizeof *t->perm);
    t->pts = malloc(n * (size_t)d * sizeof *t->pts);
    if (!t->perm || !t->pts) {
        mist_kdtree_free(t);
        return mist_fail(err, MIST_ENOMEM, "out of memory building a kd-tree over %zu points", n);
    }
    for (size_t i = 0; i < n; i++) {
        t->perm[i] = i;
        memcpy(t->pts + i * (size_t)d, data + i * stride, (size_t)d * sizeof(double));
    }
    build_ctx b = {t, leaf < 1 ? 1 : leaf, 0};
    build_rec(&b, 0, n);
    if (b.failed) {
        mist_kdtree_free(t);
        return mist_fail(err, MIST_ENOMEM, "out of memory building a kd-tree over %zu points", n);
    }
    return MIST_OK;
}

void mist_kdtree_free(mist_kdtree *t)
{
    if (!t) return;
    free(t->pts);
    free(t->perm);
    free(t->nodes);
    free(t->box);
    memset(t, 0, sizeof *t);
}

/* ---- k nearest neighbours ------------------------------------------------------------------ */

typedef struct knn_ctx {
    const mist_kdtree *t;
    const double *q;
    size_t self;       /* the excluded key value */
    const size_t *key; /* per tree position: the caller's keys, or t->perm (the source rows) */
    int k, cnt, exact;
    double *dist;
    size_t *rows;
} knn_ctx;

/* Lower bound on the distance from q to any point in the node's box (exact, see kdtree.h). */
static inline double box_lb(const double *lo, const double *hi, const double *q, int d)
{
    double lb = 0.0;
    for (int c = 0; c < d; c++) {
        double v = 0.0;
        if (q[c] < lo[c]) v = lo[c] - q[c];
        else if (q[c] > hi[c]) v = q[c] - hi[c];
        if (v > lb) lb = v;
    }
    return lb;
}

/* Whether nothing at distance >= lb can enter the list. */
static inline int knn_prune(const knn_ctx *c, double lb)
{
    if (c->cnt < c->k) return 0;
    double w = c->dist[c->k - 1];
    return c->exact ? lb > w : lb >= w;
}

static inline void knn_insert(knn_ctx *c, double dd, size_t row)
{
    int k = c->k;
    int pos;
    if (c->cnt < k) {
        pos = c->cnt++;
    } else {
        double w = c->dist[k - 1];
        if (c->exact) {
            if (dd > w || (dd == w && row > c->rows[k - 1])) return;
        } else if (dd >= w) {
            return;
        }
        pos = k - 1;
    }
    /* shift larger entries up; order by (dist, row) */
    while (pos > 0 && (c->dist[pos - 1] > dd || (c->dist[pos - 1] == dd && c->rows[pos - 1] > row))) {
        c->dist[pos] = c->dist[pos - 1];
        c->rows[pos] = c->rows[pos - 1];
        pos--;
    }
    c->dist[pos] = dd;
    c->rows[pos] = row;
}

static void knn_leaf(knn_ctx *c, const mist_kd_node *nd)
{
    const mist_kdtree *t = c->t;
    int d = t->d;
    const double *q = c->q;
    const size_t *key = c->key;
    for (size_t p = nd->start; p < nd->end; p++) {
        if (key[p] == c->self) continue;
        const double *x = t->pts + p * (size_t)d;
        double dd = 0.0;
        if (c->cnt < c->k) {
            for (int j = 0; j < d; j++) {
                double v = fabs(q[j] - x[j]);
                if (v > dd) dd = v;
            }
        } else {
            /* stop as soon as the partial maximum rules the point out (it only grows) */
            double w = c->dist[c->k - 1];
            int out = 0;
            for (int j = 0; j < d; j++) {
                double v = fabs(q[j] - x[j]);
                if (v > dd) {
                    dd = v;
                    if (c->exact ? dd > w : dd >= w) {
                        out = 1;
                        break;
                    }
                }
            }
            if (out) continue;
        }
        knn_insert(c, dd, t->perm[p]);
    }
}

static void knn_rec(knn_ctx *c, size_t node)
{
    const mist_kdtree *t = c->t;
    const mist_kd_node *nd = &t->nodes[node];
    if (!nd->right) {
        knn_leaf(c, nd);
        return;
    }
    int d = t->d;
    size_t a = node + 1, b = nd->right;
    const double *ba = t->box + a * 2 * (size_t)d, *bb = t->box + b * 2 * (size_t)d;
    double la = box_lb(ba, ba + d, c->q, d), lb = box_lb(bb, bb + d, c->q, d);
    if (lb < la) {
        size_t ts = a;
        a = b;
        b = ts;
        double tl = la;
        la = lb;
        lb = tl;
    }
    if (!knn_prune(c, la)) knn_rec(c, a);
    if (!knn_prune(c, lb)) knn_rec(c, b);
}

void mist_kdtree_knn(const mist_kdtree *t, const double *q, size_t self, const size_t *key, int k,
                     int exact_ties, double *dist, size_t *rows)
{
    /* without keys the key of a point is its source row, which excludes row `self` */
    knn_ctx c = {t, q, self, key ? key : t->perm, k, 0, exact_ties, dist, rows};
    if (t->n) knn_rec(&c, 0);
}

/* ---- range counts -------------------------------------------------------------------------- */

typedef struct count_ctx {
    const mist_kdtree *t;
    const double *q;
    double r;
    int strict;
} count_ctx;

static size_t count_rec(const count_ctx *c, size_t node)
{
    const mist_kdtree *t = c->t;
    const mist_kd_node *nd = &t->nodes[node];
    int d = t->d;
    const double *lo = t->box + node * 2 * (size_t)d, *hi = lo + d, *q = c->q;
    double r = c->r;
    double lb = 0.0, ub = 0.0;
    for (int j = 0; j < d; j++) {
        double a = q[j] - lo[j], b = hi[j] - q[j]; /* lo - q == -(q - lo) exactly */
        double v = a < 0 ? -a : (b < 0 ? -b : 0.0);
        if (v > lb) lb = v;
        double fa = fabs(a), fb = fabs(b);
        double u = fa > fb ? fa : fb;
        if (u > ub) ub = u;
    }
    if (c->strict ? lb >= r : lb > r) return 0;
    if (c->strict ? ub < r : ub <= r) return nd->end - nd->start;
    if (nd->right) return count_rec(c, node + 1) + count_rec(c, nd->right);
    size_t cnt = 0;
    for (size_t p = nd->start; p < nd->end; p++) {
        const double *x = t->pts + p * (size_t)d;
        int in = 1;
        for (int j = 0; j < d; j++) {
            double v = fabs(q[j] - x[j]);
            if (c->strict ? v >= r : v > r) {
                in = 0;
                break;
            }
        }
        cnt += (size_t)in;
    }
    return cnt;
}

size_t mist_kdtree_count(const mist_kdtree *t, const double *q, double r, int strict)
{
    if (!t->n) return 0;
    count_ctx c = {t, q, r, strict};
    return count_rec(&c, 0);
}

/* ---- sorted 1-D ---------------------------------------------------------------------------- */

/* Order-preserving map of a double to an unsigned key (negative numbers flipped). -0.0 sorts
 * just below +0.0; both behave identically in every subtraction below. */
static inline uint64_t dkey(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : u | 0x8000000000000000ULL;
}

int mist_sorted1d_build(mist_sorted1d *s, const double *data, size_t n, size_t stride,
                        mist_err *err)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    size_t m = n ? n : 1;
    uint64_t *key = malloc(2 * m * sizeof *key);
    size_t *idx = malloc(2 * m * sizeof *idx);
    s->v = malloc(m * sizeof *s->v);
    s->rank = malloc(m * sizeof *s->rank);
    if (!key || !idx || !s->v || !s->rank) {
        free(key);
        free(idx);
        mist_sorted1d_free(s);
        return mist_fail(err, MIST_ENOMEM, "out of memory sorting %zu values", n);
    }
    /* LSD radix sort, 16 bits a pass; stable, so equal values keep ascending row order */
    uint64_t *ka = key, *kb = key + m;
    size_t *ia = idx, *ib = idx + m;
    for (size_t i = 0; i < n; i++) {
        ka[i] = dkey(data[i * stride]);
        ia[i] = i;
    }
    static const int BITS = 16;
    size_t *cnt = malloc(((size_t)1 << BITS) * sizeof *cnt);
    if (!cnt) {
        free(key);
        free(idx);
        mist_sorted1d_free(s);
        return mist_fail(err, MIST_ENOMEM, "out of memory sorting %zu values", n);
    }
    for (int shift = 0; shift < 64; shift += BITS) {
        memset(cnt, 0, ((size_t)1 << BITS) * sizeof *cnt);
        for (size_t i = 0; i < n; i++) cnt[(ka[i] >> shift) & 0xffff]++;
        if (cnt[(ka[0] >> shift) & 0xffff] == n) continue; /* every key has these bits */
        size_t sum = 0;
        for (size_t b = 0; b < ((size_t)1 << BITS); b++) {
            size_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            size_t p = cnt[(ka[i] >> shift) & 0xffff]++;
            kb[p] = ka[i];
            ib[p] = ia[i];
        }
        uint64_t *tk = ka;
        ka = kb;
        kb = tk;
        size_t *ti = ia;
        ia = ib;
        ib = ti;
    }
    for (size_t p = 0; p < n; p++) {
        s->v[p] = data[ia[p] * stride];
        s->rank[ia[p]] = p;
    }
    free(cnt);
    free(key);
    free(idx);
    return MIST_OK;
}

void mist_sorted1d_free(mist_sorted1d *s)
{
    if (!s) return;
    free(s->v);
    free(s->rank);
    memset(s, 0, sizeof *s);
}

/* The predicates below are monotone over the ascending array because fl(v[m] - x) is
 * nondecreasing in v[m]:
 *   up(m)   = (v[m] - x) <  r   (or <=): true on a prefix;
 *   down(m) = (x - v[m]) >= r   (or >):  true on a prefix (the complement of the lower bound).
 * fabs(v[m] - x) < r  <=>  up(m) && !down(m), so the count is first_false(up) - first_false(down). */
static inline int pred_up(double vm, double x, double r, int strict)
{
    double a = vm - x;
    return strict ? a < r : a <= r;
}

static inline int pred_down(double vm, double x, double r, int strict)
{
    double a = x - vm;
    return strict ? a >= r : a > r;
}

/* First index m in [0, n] with pred false (pred true on a prefix), galloping from hint. */
static size_t first_false(const double *v, size_t n, size_t hint, double x, double r, int strict,
                          int which)
{
#define P(m) (which ? pred_down(v[m], x, r, strict) : pred_up(v[m], x, r, strict))
    size_t lo, hi; /* answer in [lo, hi] */
    if (P(hint)) {
        size_t L = hint, step = 1;
        for (;;) {
            size_t R = L + step;
            if (R >= n) {
                lo = L + 1;
                hi = n;
                break;
            }
            if (!P(R)) {
                lo = L + 1;
                hi = R;
                break;
            }
            L = R;
            step *= 2;
        }
    } else {
        size_t R = hint, step = 1;
        for (;;) {
            if (R < step) {
                lo = 0;
                hi = R;
                break;
            }
            size_t L = R - step;
            if (P(L)) {
                lo = L + 1;
                hi = R;
                break;
            }
            R = L;
            step *= 2;
        }
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (P(mid)) lo = mid + 1;
        else hi = mid;
    }
    return lo;
#undef P
}

size_t mist_sorted1d_count(const mist_sorted1d *s, size_t row, double r, int strict)
{
    size_t pos = s->rank[row];
    double x = s->v[pos];
    size_t a = first_false(s->v, s->n, pos, x, r, strict, 0);
    size_t b = first_false(s->v, s->n, pos, x, r, strict, 1);
    return a > b ? a - b : 0;
}

/* ---- blocked brute force ------------------------------------------------------------------- */

/* Rows per block of the column-blocked layout (a multiple of 4, the AVX2 width). */
#define BF_BLOCK 16

static atomic_int simd_limit = -1;

void mist_bfscan_limit_simd(int level)
{
    atomic_store(&simd_limit, level);
}

int mist_bfscan_build(mist_bfscan *b, const double *data, size_t n, int dx, int dy,
                      mist_err *err)
{
    memset(b, 0, sizeof *b);
    int d = dx + dy;
    b->n = n;
    b->np = (n + BF_BLOCK - 1) / BF_BLOCK * BF_BLOCK;
    b->dx = dx;
    b->dy = dy;
#ifdef MIST_X86
    __builtin_cpu_init();
    b->avx2 = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
    int lim = atomic_load(&simd_limit);
    if (lim >= 0 && b->avx2 > lim) b->avx2 = lim;
    b->cols = malloc((b->np ? b->np : BF_BLOCK) * (size_t)d * sizeof *b->cols);
    if (!b->cols) return mist_fail(err, MIST_ENOMEM, "out of memory (%zu x %d values)", n, d);
    /* block of BF_BLOCK rows: coordinate c of its row r at [c * BF_BLOCK + r] */
    for (size_t j = 0; j < b->np; j++) {
        double *blk = b->cols + j / BF_BLOCK * BF_BLOCK * (size_t)d + j % BF_BLOCK;
        for (int c = 0; c < d; c++) blk[(size_t)c * BF_BLOCK] = j < n ? data[j * (size_t)d + (size_t)c] : 0.0;
    }
    return MIST_OK;
}

void mist_bfscan_free(mist_bfscan *b)
{
    if (!b) return;
    free(b->cols);
    memset(b, 0, sizeof *b);
}

/* Inserts candidate row j at joint distance dd into the sorted list; j ascends across calls, so
 * keeping an entry on equality gives the (distance, row) order. */
static inline __attribute__((always_inline)) void bf_offer1(double dd, size_t j, int k, int *cnt,
                                                            double *dist, size_t *rows)
{
    int pos;
    if (*cnt < k) pos = (*cnt)++;
    else if (dd < dist[k - 1]) pos = k - 1;
    else return;
    while (pos > 0 && dist[pos - 1] > dd) {
        dist[pos] = dist[pos - 1];
        rows[pos] = rows[pos - 1];
        pos--;
    }
    dist[pos] = dd;
    rows[pos] = j;
}

/* The sorted (distance, row) insertion of rows j0..j1-1 whose X and Y distances are in ddx,
 * ddy, skipping row self (key NULL) or the rows with key[j] == self. Forced inline: as a call
 * it costs the AVX kernels ~15% at n = 10,000 in 5x5. */
static inline __attribute__((always_inline)) void bf_offer(const double *ddx, const double *ddy,
                                                           size_t j0, size_t j1, size_t self,
                                                           const size_t *key, int k, int *cnt,
                                                           double *dist, size_t *rows)
{
    if (!key) {
        for (size_t j = j0; j < j1; j++) {
            if (j == self) continue;
            bf_offer1(ddx[j] > ddy[j] ? ddx[j] : ddy[j], j, k, cnt, dist, rows);
        }
    } else {
        for (size_t j = j0; j < j1; j++) {
            if (key[j] == self) continue;
            bf_offer1(ddx[j] > ddy[j] ? ddx[j] : ddy[j], j, k, cnt, dist, rows);
        }
    }
}

static void bf_row_scalar(const mist_bfscan *b, const double *q, size_t self, const size_t *key,
                          int k, double *ddx, double *ddy, double *dist, size_t *rows)
{
    size_t np = b->np;
    int dx = b->dx, d = b->dx + b->dy;
    int cnt = 0;
    for (size_t j0 = 0; j0 < np; j0 += BF_BLOCK) {
        const double *blk = b->cols + j0 * (size_t)d;
        for (size_t r = 0; r < BF_BLOCK; r++) {
            double ax = 0.0, ay = 0.0;
            for (int c = 0; c < dx; c++) {
                double v = fabs(q[c] - blk[(size_t)c * BF_BLOCK + r]);
                if (v > ax) ax = v;
            }
            for (int c = dx; c < d; c++) {
                double v = fabs(q[c] - blk[(size_t)c * BF_BLOCK + r]);
                if (v > ay) ay = v;
            }
            ddx[j0 + r] = ax;
            ddy[j0 + r] = ay;
        }
        size_t j1 = j0 + BF_BLOCK < b->n ? j0 + BF_BLOCK : b->n;
        if (j0 < j1) bf_offer(ddx, ddy, j0, j1, self, key, k, &cnt, dist, rows);
    }
    for (size_t j = b->n; j < np; j++) ddx[j] = ddy[j] = INFINITY;
}

#ifdef MIST_X86
#define ABSDIFF(qc, p) _mm256_andnot_pd(sign, _mm256_sub_pd(qc, _mm256_loadu_pd(p)))
__attribute__((target("avx2"))) static void bf_row_avx2(const mist_bfscan *b, const double *q,
                                                        size_t self, const size_t *key, int k,
                                                        double *ddx, double *ddy, double *dist,
                                                        size_t *rows)
{
    size_t np = b->np;
    int dx = b->dx, d = b->dx + b->dy;
    const __m256d sign = _mm256_set1_pd(-0.0);
    int cnt = 0;
    double worst = INFINITY; /* +inf until the list is full */
    for (size_t j0 = 0; j0 < np; j0 += BF_BLOCK) {
        /* 16 candidates = four independent max chains per block, so the loop is not bound by
         * vmaxpd latency */
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        const double *p = b->cols + j0 * (size_t)d;
        for (int c = 0; c < dx; c++, p += BF_BLOCK) {
            __m256d qc = _mm256_set1_pd(q[c]);
            a0 = _mm256_max_pd(ABSDIFF(qc, p), a0);
            a1 = _mm256_max_pd(ABSDIFF(qc, p + 4), a1);
            a2 = _mm256_max_pd(ABSDIFF(qc, p + 8), a2);
            a3 = _mm256_max_pd(ABSDIFF(qc, p + 12), a3);
        }
        __m256d b0 = _mm256_setzero_pd(), b1 = b0, b2 = b0, b3 = b0;
        for (int c = dx; c < d; c++, p += BF_BLOCK) {
            __m256d qc = _mm256_set1_pd(q[c]);
            b0 = _mm256_max_pd(ABSDIFF(qc, p), b0);
            b1 = _mm256_max_pd(ABSDIFF(qc, p + 4), b1);
            b2 = _mm256_max_pd(ABSDIFF(qc, p + 8), b2);
            b3 = _mm256_max_pd(ABSDIFF(qc, p + 12), b3);
        }
        _mm256_storeu_pd(ddx + j0, a0);
        _mm256_storeu_pd(ddx + j0 + 4, a1);
        _mm256_storeu_pd(ddx + j0 + 8, a2);
        _mm256_storeu_pd(ddx + j0 + 12, a3);
        _mm256_storeu_pd(ddy + j0, b0);
        _mm256_storeu_pd(ddy + j0 + 4, b1);
        _mm256_storeu_pd(ddy + j0 + 8, b2);
        _mm256_storeu_pd(ddy + j0 + 12, b3);
        __m256d w = _mm256_set1_pd(worst);
        __m256d m = _mm256_or_pd(
            _mm256_or_pd(_mm256_cmp_pd(_mm256_max_pd(a0, b0), w, _CMP_LT_OQ),
                         _mm256_cmp_pd(_mm256_max_pd(a1, b1), w, _CMP_LT_OQ)),
            _mm256_or_pd(_mm256_cmp_pd(_mm256_max_pd(a2, b2), w, _CMP_LT_OQ),
                         _mm256_cmp_pd(_mm256_max_pd(a3, b3), w, _CMP_LT_OQ)));
        if (_mm256_movemask_pd(m)) {
            size_t j1 = j0 + BF_BLOCK < b->n ? j0 + BF_BLOCK : b->n;
            if (j0 < j1) bf_offer(ddx, ddy, j0, j1, self, key, k, &cnt, dist, rows);
            if (cnt == k) worst = dist[k - 1];
        }
    }
    for (size_t j = b->n; j < np; j++) ddx[j] = ddy[j] = INFINITY;
}
#undef ABSDIFF

#define ABSDIFF(qc, p) _mm512_abs_pd(_mm512_sub_pd(qc, _mm512_loadu_pd(p)))
__attribute__((target("avx512f"))) static void bf_row_avx512(const mist_bfscan *b,
                                                             const double *q, size_t self,
                                                             const size_t *key, int k,
                                                             double *ddx, double *ddy,
                                                             double *dist, size_t *rows)
{
    size_t np = b->np;
    int dx = b->dx, d = b->dx + b->dy;
    int cnt = 0;
    double worst = INFINITY;
    for (size_t j0 = 0; j0 < np; j0 += BF_BLOCK) {
        __m512d a0 = _mm512_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
        const double *p = b->cols + j0 * (size_t)d;
        for (int c = 0; c < dx; c++, p += BF_BLOCK) {
            __m512d qc = _mm512_set1_pd(q[c]);
            a0 = _mm512_max_pd(ABSDIFF(qc, p), a0);
            a1 = _mm512_max_pd(ABSDIFF(qc, p + 8), a1);
        }
        for (int c = dx; c < d; c++, p += BF_BLOCK) {
            __m512d qc = _mm512_set1_pd(q[c]);
            b0 = _mm512_max_pd(ABSDIFF(qc, p), b0);
            b1 = _mm512_max_pd(ABSDIFF(qc, p + 8), b1);
        }
        _mm512_storeu_pd(ddx + j0, a0);
        _mm512_storeu_pd(ddx + j0 + 8, a1);
        _mm512_storeu_pd(ddy + j0, b0);
        _mm512_storeu_pd(ddy + j0 + 8, b1);
        __m512d w = _mm512_set1_pd(worst);
        __mmask8 m0 = _mm512_cmp_pd_mask(_mm512_max_pd(a0, b0), w, _CMP_LT_OQ);
        __mmask8 m1 = _mm512_cmp_pd_mask(_mm512_max_pd(a1, b1), w, _CMP_LT_OQ);
        if (m0 | m1) {
            size_t j1 = j0 + BF_BLOCK < b->n ? j0 + BF_BLOCK : b->n;
            if (j0 < j1) bf_offer(ddx, ddy, j0, j1, self, key, k, &cnt, dist, rows);
            if (cnt == k) worst = dist[k - 1];
        }
    }
    for (size_t j = b->n; j < np; j++) ddx[j] = ddy[j] = INFINITY;
}
#undef ABSDIFF

__attribute__((target("avx2"))) static size_t bf_count_avx2(const double *v, size_t np, double r,
                                                            int strict)
{
    __m256i acc = _mm256_setzero_si256();
    __m256d rr = _mm256_set1_pd(r);
    if (strict) {
        for (size_t j = 0; j < np; j += 4)
            acc = _mm256_sub_epi64(acc, _mm256_castpd_si256(
                                            _mm256_cmp_pd(_mm256_loadu_pd(v + j), rr, _CMP_LT_OQ)));
    } else {
        for (size_t j = 0; j < np; j += 4)
            acc = _mm256_sub_epi64(acc, _mm256_castpd_si256(
                                            _mm256_cmp_pd(_mm256_loadu_pd(v + j), rr, _CMP_LE_OQ)));
    }
    long long t[4];
    _mm256_storeu_si256((__m256i *)t, acc);
    return (size_t)(t[0] + t[1] + t[2] + t[3]);
}

#endif

void mist_bfscan_row(const mist_bfscan *b, const double *q, size_t self, const size_t *key, int k,
                     double *ddx, double *ddy, double *dist, size_t *rows)
{
#ifdef MIST_X86
    if (b->avx2 == 2) {
        bf_row_avx512(b, q, self, key, k, ddx, ddy, dist, rows);
        return;
    }
    if (b->avx2) {
        bf_row_avx2(b, q, self, key, k, ddx, ddy, dist, rows);
        return;
    }
#endif
    bf_row_scalar(b, q, self, key, k, ddx, ddy, dist, rows);
}

size_t mist_bfscan_count(const mist_bfscan *b, const double *v, double r, int strict)
{
    size_t np = b->np;
#ifdef MIST_X86
    if (b->avx2) return bf_count_avx2(v, np, r, strict);
#endif
    size_t c = 0;
    if (strict)
        for (size_t j = 0; j < np; j++) c += v[j] < r;
    else
        for (size_t j = 0; j < np; j++) c += v[j] <= r;
    return c;
}
