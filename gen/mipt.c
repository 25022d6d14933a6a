/* MI-preserving transforms as map objects: fixed bijections drawn from a seed (never from the
 * data), so I(f(X); g(Y)) = I(X; Y) holds by construction, whatever the estimator sees. */
#include "mipt_internal.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include "mist_rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIPT_FLOW_LAYERS 3
#define MIPT_MAX_STEPS 8

enum mipt_kind { MIPT_NONE, MIPT_PERM, MIPT_ROTATE, MIPT_SWAP, MIPT_FLOW, MIPT_NEGATE };

static const char *const MIPT_NAMES[] = {"none", "perm", "rotate", "swap", "flow", "negate"};
#define MIPT_COUNT (sizeof MIPT_NAMES / sizeof MIPT_NAMES[0])

/* The map of one block (X or Y) of d columns. */
typedef struct mipt_block {
    int d;
    int *perm;         /* perm: d entries */
    double *Q;         /* rotate: one d x d matrix; flow: one per layer */
    double *a, *b, *c; /* flow: d per layer */
    double *sign;      /* negate: d entries, +1 or -1 */
} mipt_block;

typedef struct mipt_step {
    enum mipt_kind kind;
    int dx, dy; /* input dims of the step */
    mipt_block blk[2];
} mipt_step;

struct mist_mipt {
    int dx, dy, out_dx, out_dy;
    int nsteps;
    mipt_step steps[MIPT_MAX_STEPS];
    char chain[MIST_TASK_NAME_LEN];
};

static int kind_of(const char *name, size_t len)
{
    for (size_t i = 0; i < MIPT_COUNT; i++)
        if (strlen(MIPT_NAMES[i]) == len && memcmp(MIPT_NAMES[i], name, len) == 0) return (int)i;
    return -1;
}

int mist_mipt_known(const char *name) { return name && kind_of(name, strlen(name)) >= 0; }

const char *const *mist_mipt_names(size_t *count)
{
    if (count) *count = MIPT_COUNT;
    return MIPT_NAMES;
}

/* FNV-1a: a stable stream id per name (the same hash suites use for theirs). */
static uint64_t name_stream(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Walks the '+'-separated chain; kinds[] receives the non-"none" steps. */
static int parse_chain(const char *chain, int *kinds, int *nkinds, mist_err *err)
{
    if (!chain || !*chain) return mist_fail(err, MIST_EINVAL, "empty transform name");
    *nkinds = 0;
    const char *p = chain;
    for (;;) {
        const char *end = strchr(p, '+');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int k = kind_of(p, len);
        if (k < 0)
            return mist_fail(err, MIST_EINVAL,
                             "unknown transform '%.*s' in '%s' (known: none, perm, rotate, "
                             "swap, flow, negate; join several with '+')",
                             (int)(len > 64 ? 64 : len), p, chain);
        if (k != MIPT_NONE) {
            if (*nkinds == MIPT_MAX_STEPS)
                return mist_fail(err, MIST_EINVAL, "transform chain '%s' has more than %d steps",
                                 chain, MIPT_MAX_STEPS);
            kinds[(*nkinds)++] = k;
        }
        if (!end) return MIST_OK;
        p = end + 1;
    }
}

int mist_mipt_check(const char *chain, mist_err *err)
{
    int kinds[MIPT_MAX_STEPS], nk;
    return parse_chain(chain, kinds, &nk, err);
}

/* ---- drawing the maps ------------------------------------------------------------------- */

/* Haar-distributed orthogonal d x d matrix into Q (row-major): QR of a Gaussian matrix with
 * the columns of Q signed so that diag(R) > 0 (without the sign fix Q is not Haar). For d = 1
 * this is sign(g): a random sign, the Haar measure on O(1). */
static int haar_orthogonal(gsl_rng *r, int d, double *Q)
{
    gsl_matrix *A = gsl_matrix_alloc((size_t)d, (size_t)d);
    gsl_matrix *Qm = gsl_matrix_alloc((size_t)d, (size_t)d);
    gsl_matrix *R = gsl_matrix_alloc((size_t)d, (size_t)d);
    gsl_vector *tau = gsl_vector_alloc((size_t)d);
    int rc = MIST_ENOMEM;
    if (A && Qm && R && tau) {
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                gsl_matrix_set(A, (size_t)i, (size_t)j, gsl_ran_gaussian_ziggurat(r, 1.0));
        if (gsl_linalg_QR_decomp(A, tau) || gsl_linalg_QR_unpack(A, tau, Qm, R)) {
            rc = MIST_ENUMERIC;
        } else {
            for (int j = 0; j < d; j++) {
                double s = gsl_matrix_get(R, (size_t)j, (size_t)j) < 0.0 ? -1.0 : 1.0;
                for (int i = 0; i < d; i++)
                    Q[(size_t)i * d + j] = s * gsl_matrix_get(Qm, (size_t)i, (size_t)j);
            }
            rc = MIST_OK;
        }
    }
    gsl_matrix_free(A);
    gsl_matrix_free(Qm);
    gsl_matrix_free(R);
    gsl_vector_free(tau);
    return rc;
}

static void block_free(mipt_block *b)
{
    free(b->perm);
    free(b->Q);
    free(b->a);
    free(b->b);
    free(b->c);
    free(b->sign);
    memset(b, 0, sizeof *b);
}

/* Draws the map of one block of d columns from its own stream. */
static int block_draw(mipt_block *b, enum mipt_kind kind, int d, uint64_t seed, mist_err *err)
{
    b->d = d;
    gsl_rng *r = mist_rng_alloc(seed);
    if (!r) return mist_fail(err, MIST_ENOMEM, "out of memory");
    int rc = MIST_OK;
    size_t dd = (size_t)d * (size_t)d;
    if (kind == MIPT_PERM) {
        b->perm = malloc((size_t)d * sizeof *b->perm);
        if (!b->perm) rc = MIST_ENOMEM;
        else {
            for (int j = 0; j < d; j++) b->perm[j] = j;
            /* Fisher-Yates */
            for (int j = d - 1; j > 0; j--) {
                int k = (int)gsl_rng_uniform_int(r, (unsigned long)j + 1);
                int t = b->perm[j];
                b->perm[j] = b->perm[k];
                b->perm[k] = t;
            }
        }
    } else if (kind == MIPT_NEGATE) {
        b->sign = malloc((size_t)d * sizeof *b->sign);
        if (!b->sign) rc = MIST_ENOMEM;
        for (int j = 0; j < d && !rc; j++) b->sign[j] = gsl_rng_uniform(r) < 0.5 ? -1.0 : 1.0;
    } else if (kind == MIPT_ROTATE) {
        b->Q = malloc(dd * sizeof *b->Q);
        rc = b->Q ? haar_orthogonal(r, d, b->Q) : MIST_ENOMEM;
    } else if (kind == MIPT_FLOW) {
        size_t L = MIPT_FLOW_LAYERS;
        b->Q = malloc(L * dd * sizeof *b->Q);
        b->a = malloc(L * (size_t)d * sizeof *b->a);
        b->b = malloc(L * (size_t)d * sizeof *b->b);
        b->c = malloc(L * (size_t)d * sizeof *b->c);
        if (!b->Q || !b->a || !b->b || !b->c) rc = MIST_ENOMEM;
        for (size_t l = 0; l < L && !rc; l++) {
            for (int j = 0; j < d; j++) {
                size_t i = l * (size_t)d + (size_t)j;
                /* slope b and shift c put the bend inside the unit scale the generator's
                 * standardised families live on; s = a b in [-0.7, 2.5] keeps the derivative
                 * 1 + s sech^2 within [0.3, 3.5], so each layer is strictly increasing and
                 * far from singular, and its offset |a| <= 5 is bounded at any scale */
                b->b[i] = 0.5 + 1.5 * gsl_rng_uniform(r);
                b->c[i] = -1.0 + 2.0 * gsl_rng_uniform(r);
                b->a[i] = (-0.7 + 3.2 * gsl_rng_uniform(r)) / b->b[i];
            }
            rc = haar_orthogonal(r, d, b->Q + l * dd);
        }
    }
    gsl_rng_free(r);
    if (rc == MIST_ENOMEM) return mist_fail(err, rc, "out of memory");
    if (rc) return mist_fail(err, rc, "QR factorisation failed drawing an orthogonal matrix");
    return MIST_OK;
}

void mist_mipt_free(mist_mipt *m)
{
    if (!m) return;
    for (int s = 0; s < m->nsteps; s++) {
        block_free(&m->steps[s].blk[0]);
        block_free(&m->steps[s].blk[1]);
    }
    free(m);
}

int mist_mipt_create_from(mist_mipt **out, const char *name, int dx, int dy, uint64_t seed,
                          int first, mist_err *err)
{
    *out = NULL;
    if (dx < 1 || dy < 1)
        return mist_fail(err, MIST_EINVAL, "dx and dy must be at least 1 (got %d and %d)", dx,
                         dy);
    int kinds[MIPT_MAX_STEPS], nk;
    int rc = parse_chain(name, kinds, &nk, err);
    if (rc) return rc;
    mist_mipt *m = calloc(1, sizeof *m);
    if (!m) return mist_fail(err, MIST_ENOMEM, "out of memory");
    m->dx = dx;
    m->dy = dy;
    size_t len = 0;
    for (int s = 0; s < nk && !rc; s++) {
        mipt_step *st = &m->steps[s];
        st->kind = (enum mipt_kind)kinds[s];
        st->dx = dx;
        st->dy = dy;
        m->nsteps = s + 1;
        const char *nm = MIPT_NAMES[kinds[s]];
        len += (size_t)snprintf(m->chain + len, sizeof m->chain - len, "%s%s", s ? "+" : "", nm);
        uint64_t stream = mist_seed_derive(seed, name_stream(nm) + (uint64_t)(first + s));
        rc = block_draw(&st->blk[0], st->kind, dx, mist_seed_derive(stream, 0), err);
        if (!rc) rc = block_draw(&st->blk[1], st->kind, dy, mist_seed_derive(stream, 1), err);
        if (st->kind == MIPT_SWAP) {
            int t = dx;
            dx = dy;
            dy = t;
        }
    }
    if (rc) {
        mist_mipt_free(m);
        return rc;
    }
    m->out_dx = dx;
    m->out_dy = dy;
    *out = m;
    return MIST_OK;
}

int mist_mipt_create(mist_mipt **out, const char *name, int dx, int dy, uint64_t seed,
                     mist_err *err)
{
    return mist_mipt_create_from(out, name, dx, dy, seed, 0, err);
}

int mist_mipt_out_dx(const mist_mipt *m) { return m->out_dx; }
int mist_mipt_out_dy(const mist_mipt *m) { return m->out_dy; }
const char *mist_mipt_chain(const mist_mipt *m) { return m->chain; }

const int *mist_mipt_perm(const mist_mipt *m, int block)
{
    if (m->nsteps != 1 || m->steps[0].kind != MIPT_PERM || block < 0 || block > 1) return NULL;
    return m->steps[0].blk[block].perm;
}

const double *mist_mipt_signs(const mist_mipt *m, int block)
{
    if (m->nsteps != 1 || m->steps[0].kind != MIPT_NEGATE || block < 0 || block > 1) return NULL;
    return m->steps[0].blk[block].sign;
}

const double *mist_mipt_matrix(const mist_mipt *m, int block, int layer)
{
    if (m->nsteps != 1 || block < 0 || block > 1 || layer < 0) return NULL;
    const mipt_block *b = &m->steps[0].blk[block];
    if (m->steps[0].kind == MIPT_ROTATE && layer == 0) return b->Q;
    if (m->steps[0].kind == MIPT_FLOW && layer < MIPT_FLOW_LAYERS)
        return b->Q + (size_t)layer * (size_t)b->d * (size_t)b->d;
    return NULL;
}

/* ---- applying them ---------------------------------------------------------------------- */

/* out = Q h (transpose: out = Q^T h); out and h distinct. */
static void matvec(const double *Q, int d, int transpose, const double *h, double *out)
{
    for (int i = 0; i < d; i++) {
        double s = 0.0;
        for (int k = 0; k < d; k++)
            s += (transpose ? Q[(size_t)k * d + i] : Q[(size_t)i * d + k]) * h[k];
        out[i] = s;
    }
}

/* The inverse of u -> u + a tanh(b u + c) (derivative 1 + a b sech^2 > 0) at z. The root lies
 * within |a| of z, which brackets it; Newton steps that leave the bracket become bisections,
 * and the iteration stops when a step no longer moves u or the bracket is two adjacent doubles,
 * so the result is within an ulp or two of the exact root at any magnitude. */
static double flow_inv1(double z, double a, double b, double c)
{
    double lo = z - fabs(a), hi = z + fabs(a);
    double u = z - a * tanh(b * z + c);
    if (!(u >= lo && u <= hi)) u = lo + 0.5 * (hi - lo);
    for (int it = 0; it < 4000; it++) {
        double t = tanh(b * u + c);
        double f = (u - z) + a * t;
        if (f == 0.0) return u;
        if (f < 0.0) lo = u;
        else hi = u;
        double next = u - f / (1.0 + a * b * (1.0 - t * t));
        if (next == u) return u;
        if (!(next > lo && next < hi)) {
            next = lo + 0.5 * (hi - lo);
            if (next <= lo || next >= hi) return u;
        }
        u = next;
    }
    return u;
}

/* One block forward (inverse = 0) or backward, in place on h (d values); tmp: d scratch. */
static void block_apply(const mipt_block *b, enum mipt_kind kind, int inverse, double *h,
                        double *tmp, double *logdet)
{
    int d = b->d;
    size_t dd = (size_t)d * (size_t)d;
    switch (kind) {
    case MIPT_PERM:
        for (int j = 0; j < d; j++) {
            if (inverse) tmp[b->perm[j]] = h[j];
            else tmp[j] = h[b->perm[j]];
        }
        memcpy(h, tmp, (size_t)d * sizeof *h);
        break;
    case MIPT_NEGATE: /* its own inverse */
        for (int j = 0; j < d; j++) h[j] *= b->sign[j];
        break;
    case MIPT_ROTATE:
        matvec(b->Q, d, inverse, h, tmp);
        memcpy(h, tmp, (size_t)d * sizeof *h);
        break;
    case MIPT_FLOW:
        if (!inverse) {
            for (int l = 0; l < MIPT_FLOW_LAYERS; l++) {
                const double *a = b->a + (size_t)l * d, *bb = b->b + (size_t)l * d,
                             *c = b->c + (size_t)l * d;
                for (int j = 0; j < d; j++) {
                    double t = tanh(bb[j] * h[j] + c[j]);
                    if (logdet) *logdet += log1p(a[j] * bb[j] * (1.0 - t * t));
                    h[j] += a[j] * t;
                }
                matvec(b->Q + (size_t)l * dd, d, 0, h, tmp);
                memcpy(h, tmp, (size_t)d * sizeof *h);
            }
        } else {
            for (int l = MIPT_FLOW_LAYERS - 1; l >= 0; l--) {
                const double *a = b->a + (size_t)l * d, *bb = b->b + (size_t)l * d,
                             *c = b->c + (size_t)l * d;
                matvec(b->Q + (size_t)l * dd, d, 1, h, tmp);
                for (int j = 0; j < d; j++) h[j] = flow_inv1(tmp[j], a[j], bb[j], c[j]);
            }
        }
        break;
    default: break;
    }
}

/* One step on a row of dx+dy values (the step's input dims; for the inverse, its output row). */
static void step_apply(const mipt_step *st, int inverse, double *row, double *tmp,
                       double *logdet)
{
    int dx = st->dx, dy = st->dy;
    if (st->kind == MIPT_SWAP) {
        /* forward [x y] -> [y x]; the inverse row holds dy values of y first */
        int first = inverse ? dy : dx, second = inverse ? dx : dy;
        memcpy(tmp, row + first, (size_t)second * sizeof *row);
        memcpy(tmp + second, row, (size_t)first * sizeof *row);
        memcpy(row, tmp, (size_t)(dx + dy) * sizeof *row);
        return;
    }
    block_apply(&st->blk[0], st->kind, inverse, row, tmp, logdet);
    block_apply(&st->blk[1], st->kind, inverse, row + dx, tmp, logdet);
}

static int run(const mist_mipt *m, int inverse, const double *in, size_t n, double *out,
               mist_err *err)
{
    size_t d = (size_t)m->dx + (size_t)m->dy;
    double *tmp = malloc(d * sizeof *tmp);
    if (!tmp) return mist_fail(err, MIST_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        double *row = out + i * d;
        if (out != in) memcpy(row, in + i * d, d * sizeof *row);
        if (inverse)
            for (int s = m->nsteps - 1; s >= 0; s--) step_apply(&m->steps[s], 1, row, tmp, NULL);
        else
            for (int s = 0; s < m->nsteps; s++) step_apply(&m->steps[s], 0, row, tmp, NULL);
    }
    free(tmp);
    return MIST_OK;
}

int mist_mipt_forward(const mist_mipt *m, const double *in, size_t n, double *out,
                      mist_err *err)
{
    return run(m, 0, in, n, out, err);
}

int mist_mipt_inverse(const mist_mipt *m, const double *in, size_t n, double *out,
                      mist_err *err)
{
    return run(m, 1, in, n, out, err);
}

int mist_mipt_log_jacobian(const mist_mipt *m, const double *row, double *logdet,
                           mist_err *err)
{
    size_t d = (size_t)m->dx + (size_t)m->dy;
    double *buf = malloc(2 * d * sizeof *buf);
    if (!buf) return mist_fail(err, MIST_ENOMEM, "out of memory");
    memcpy(buf, row, d * sizeof *buf);
    /* orthogonal mixings, permutations, sign flips and the swap have |det| = 1: only flow's
     * elementwise layers contribute */
    double s = 0.0;
    for (int k = 0; k < m->nsteps; k++) step_apply(&m->steps[k], 0, buf, buf + d, &s);
    free(buf);
    *logdet = s;
    return MIST_OK;
}
