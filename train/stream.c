/* The training data stream: batches of B datasets from a gen/ meta-distribution, bucketed by n,
 * deterministic in (seed, step) alone; and the fixed validation suite.
 *
 * Step s belongs to pool g = s / P. Pool g is the first P*B task specs of the meta-distribution
 * (stream seed derived from (seed, g)) whose dims fit the model, sorted by (n, draw order) and
 * cut into P batches of B; the P batches are then shuffled (seeded by (seed, g)) so that a run
 * does not sweep n upwards within a pool. Step s takes batch (s mod P) of that order. Nothing
 * depends on what was computed before, so a resumed run sees exactly the same batches, and
 * the optional worker thread (which builds the next step's batch while the current one trains)
 * changes timing only. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_gen.h"
#include "mist_train.h"
#include "mist_train_grad.h"

#define TAG_POOL 0x706f6f6cULL
#define TAG_PERM 0x7065726dULL
#define TAG_TAU 0x746175ULL
#define TAG_VAL 0x76616cULL
#define TAG_N 0x6e6e6eULL
#define TAG_SWAP 0x73776170ULL
#define MAX_REJECT_FACTOR 2000

typedef struct stream_params {
    char metadist[64];
    uint64_t seed;
    size_t B, P;
    int max_dx, max_dy;
    int64_t n_min, n_max;
    int pinball;
    int col_canon;
    size_t share_lo, share_hi; /* datasets generated: [lo, hi) of each batch */
} stream_params;

typedef struct slot {
    mist_batch b;
    int ready;
    int rc;
    mist_err err;
} slot;

struct mist_stream {
    stream_params sp;
    slot cur, next;
    int prefetch;
    pthread_t tid;
    int running;       /* worker started for next */
    int64_t next_step;
};

static double unit_open(uint64_t u) { return ((double)(u >> 12) + 0.5) * 0x1.0p-52; }

/* Draws spec number k (0-based among the accepted) of a stream seed: the k-th draw whose dims
 * fit. *cursor is the meta-distribution index to continue from (draws are sequential). spec
 * starts zeroed or cleared; the caller clears it after use (it owns its params). */
static int draw_fitting(const stream_params *sp, uint64_t sseed, uint64_t *cursor, size_t limit,
                        mist_task_spec *spec, mist_err *err)
{
    for (size_t tries = 0;; tries++) {
        if (tries >= limit)
            return mist_fail(err, MIST_EINVAL,
                             "meta-distribution '%s' rarely draws dims within %dx%d (the model's "
                             "maxima): choose another meta-distribution or larger max dims",
                             sp->metadist, sp->max_dx, sp->max_dy);
        int rc = mist_metadist_draw(sp->metadist, sseed, (*cursor)++, spec, err);
        if (rc) return rc;
        if (spec->dx < 1 || spec->dy < 1 || spec->dx > sp->max_dx || spec->dy > sp->max_dy) {
            mist_task_spec_clear(spec);
            continue;
        }
        if (sp->n_max > 0) {
            uint64_t span = (uint64_t)(sp->n_max - sp->n_min + 1);
            spec->n = (size_t)sp->n_min + (size_t)(mist_mix64(spec->seed ^ TAG_N) % span);
        }
        return MIST_OK;
    }
}

/* ds in its canonical column order and signs (infer/col_canon.c), with X and Y exchanged when
 * swap is set and the model takes the exchanged dims: what a model that reads canonical
 * columns is given at inference, one of its two readings. */
static int canon_dataset(mist_dataset *ds, int swap, const stream_params *sp, mist_err *err)
{
    size_t d = (size_t)(ds->dx + ds->dy);
    int *src = malloc(d * sizeof *src);
    double *sign = malloc(d * sizeof *sign), *out = malloc(ds->n * d * sizeof *out);
    int rc = MIST_OK;
    if (!src || !sign || !out) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for the canonical columns");
        goto done;
    }
    if ((rc = col_canon_plan(ds->data, ds->n, ds->dx, ds->dy, src, sign, NULL, err))) goto done;
    swap = swap && ds->dy <= sp->max_dx && ds->dx <= sp->max_dy;
    col_canon_apply(out, ds->data, ds->n, ds->dx, ds->dy, src, sign, swap);
    free(ds->data);
    ds->data = out, out = NULL;
    if (swap) {
        int t = ds->dx;
        ds->dx = ds->dy, ds->dy = t;
    }
done:
    free(src);
    free(sign);
    free(out);
    return rc;
}

static int gen_checked(const stream_params *sp, const mist_task_spec *spec, mist_dataset **out,
                       mist_err *err)
{
    int rc = mist_gen_dataset(out, spec, err);
    if (rc) return rc;
    if ((*out)->dx > sp->max_dx || (*out)->dy > sp->max_dy) {
        mist_fail(err, MIST_EINVAL, "task %s gives a %dx%d dataset, above the model's %dx%d",
                  spec->task, (*out)->dx, (*out)->dy, sp->max_dx, sp->max_dy);
        mist_dataset_free(*out);
        *out = NULL;
        return MIST_EINVAL;
    }
    if (sp->col_canon &&
        (rc = canon_dataset(*out, (int)(mist_seed_derive(spec->seed, TAG_SWAP) & 1), sp, err))) {
        mist_dataset_free(*out);
        *out = NULL;
        return rc;
    }
    return MIST_OK;
}

typedef struct pool_item {
    mist_task_spec spec;
    double tau;
    size_t order;
} pool_item;

static int cmp_item(const void *a, const void *b)
{
    const pool_item *x = a, *y = b;
    if (x->spec.n != y->spec.n) return x->spec.n < y->spec.n ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void batch_clear(mist_batch *b)
{
    if (b->sets)
        for (size_t i = 0; i < b->B; i++) mist_dataset_free(b->sets[i]);
    free(b->sets);
    free(b->tau);
    memset(b, 0, sizeof *b);
}

/* The batch of step: a pure function of (sp, step). */
static int build_batch(const stream_params *sp, int64_t step, mist_batch *b, mist_err *err)
{
    batch_clear(b);
    size_t B = sp->B, P = sp->P, PB = P * B;
    uint64_t g = (uint64_t)step / P;
    size_t which = (size_t)((uint64_t)step % P);
    pool_item *items = calloc(PB, sizeof *items);
    size_t *perm = malloc(P * sizeof *perm);
    b->sets = calloc(B, sizeof *b->sets);
    b->tau = malloc(B * sizeof *b->tau);
    b->B = B;
    b->step = step;
    int rc = MIST_OK;
    if (!items || !perm || !b->sets || !b->tau) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for a batch");
        goto done;
    }
    uint64_t sseed = mist_seed_derive(mist_seed_derive(sp->seed, TAG_POOL), g);
    uint64_t tseed = mist_seed_derive(mist_seed_derive(sp->seed, TAG_TAU), g);
    uint64_t cursor = 0;
    for (size_t k = 0; k < PB; k++) {
        rc = draw_fitting(sp, sseed, &cursor, (size_t)MAX_REJECT_FACTOR * 16, &items[k].spec, err);
        if (rc) goto done;
        items[k].order = k;
        items[k].tau = sp->pinball ? unit_open(mist_seed_derive(tseed, k)) : 0.5;
    }
    if (PB > 1) qsort(items, PB, sizeof *items, cmp_item);
    uint64_t pseed = mist_seed_derive(mist_seed_derive(sp->seed, TAG_PERM), g);
    for (size_t i = 0; i < P; i++) perm[i] = i;
    for (size_t i = P; i > 1; i--) {
        size_t j = (size_t)(mist_seed_derive(pseed, i) % i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    size_t chunk = perm[which];
    for (size_t i = 0; i < B; i++) {
        const pool_item *it = &items[chunk * B + i];
        b->tau[i] = it->tau;
        if (i < sp->share_lo || i >= sp->share_hi) continue;
        rc = gen_checked(sp, &it->spec, &b->sets[i], err);
        if (rc) goto done;
    }
done:
    for (size_t k = 0; items && k < PB; k++) mist_task_spec_clear(&items[k].spec);
    free(items);
    free(perm);
    if (rc) batch_clear(b);
    return rc;
}

static void *worker(void *arg)
{
    mist_stream *s = arg;
    mist_err_clear(&s->next.err);
    s->next.rc = build_batch(&s->sp, s->next_step, &s->next.b, &s->next.err);
    s->next.ready = 1;
    return NULL;
}

static void params_from_cfg(stream_params *sp, const mist_train_config *cfg)
{
    memset(sp, 0, sizeof *sp);
    snprintf(sp->metadist, sizeof sp->metadist, "%s", cfg->metadist);
    sp->seed = cfg->seed;
    sp->B = (size_t)cfg->batch;
    sp->P = (size_t)cfg->pool;
    sp->max_dx = cfg->arch.max_dx;
    sp->max_dy = cfg->arch.max_dy;
    sp->n_min = cfg->n_min;
    sp->n_max = cfg->n_max;
    sp->pinball = cfg->loss == MIST_LOSS_PINBALL;
    sp->col_canon = cfg->col_canon;
    sp->share_lo = 0;
    sp->share_hi = sp->B;
}

mist_stream *mist_stream_create(const mist_train_config *cfg, mist_err *err)
{
    if (cfg->batch < 1 || cfg->pool < 1) {
        mist_fail(err, MIST_EINVAL, "batch and pool must be >= 1");
        return NULL;
    }
    mist_task_spec probe = {0};
    if (mist_metadist_draw(cfg->metadist, 0, 0, &probe, err)) return NULL;
    mist_task_spec_clear(&probe);
    mist_stream *s = calloc(1, sizeof *s);
    if (!s) {
        mist_fail(err, MIST_ENOMEM, "out of memory");
        return NULL;
    }
    params_from_cfg(&s->sp, cfg);
    s->prefetch = cfg->prefetch;
    return s;
}

void mist_stream_set_share(mist_stream *s, size_t lo, size_t hi)
{
    s->sp.share_lo = lo < s->sp.B ? lo : s->sp.B;
    s->sp.share_hi = hi < s->sp.B ? hi : s->sp.B;
}

static void join_worker(mist_stream *s)
{
    if (s->running) {
        pthread_join(s->tid, NULL);
        s->running = 0;
    }
}

void mist_stream_free(mist_stream *s)
{
    if (!s) return;
    join_worker(s);
    batch_clear(&s->cur.b);
    batch_clear(&s->next.b);
    free(s);
}

int mist_stream_get(mist_stream *s, int64_t step, const mist_batch **out, mist_err *err)
{
    if (step < 0) return mist_fail(err, MIST_EINVAL, "negative step");
    join_worker(s);
    int rc;
    if (s->next.ready && s->next_step == step) {
        batch_clear(&s->cur.b);
        s->cur.b = s->next.b;
        memset(&s->next.b, 0, sizeof s->next.b);
        s->next.ready = 0;
        rc = s->next.rc;
        if (rc && err) *err = s->next.err;
    } else {
        s->next.ready = 0;
        rc = build_batch(&s->sp, step, &s->cur.b, err);
    }
    if (rc) return rc;
    if (s->prefetch) {
        s->next_step = step + 1;
        s->next.ready = 0;
        if (pthread_create(&s->tid, NULL, worker, s) == 0) s->running = 1;
    }
    *out = &s->cur.b;
    return MIST_OK;
}

int mist_stream_validation(const mist_train_config *cfg, mist_dataset ***sets, size_t *count,
                           mist_err *err)
{
    stream_params sp;
    params_from_cfg(&sp, cfg);
    size_t V = (size_t)cfg->val_count;
    *sets = NULL;
    *count = 0;
    mist_dataset **v = calloc(V ? V : 1, sizeof *v);
    if (!v) return mist_fail(err, MIST_ENOMEM, "out of memory");
    uint64_t vseed = mist_seed_derive(cfg->val_seed, TAG_VAL);
    uint64_t cursor = 0;
    int rc = MIST_OK;
    for (size_t i = 0; i < V && !rc; i++) {
        mist_task_spec spec = {0};
        rc = draw_fitting(&sp, vseed, &cursor, (size_t)MAX_REJECT_FACTOR * 16, &spec, err);
        if (!rc) rc = gen_checked(&sp, &spec, &v[i], err);
        mist_task_spec_clear(&spec);
    }
    if (rc) {
        for (size_t i = 0; i < V; i++) mist_dataset_free(v[i]);
        free(v);
        return rc;
    }
    *sets = v;
    *count = V;
    return MIST_OK;
}

int mist_validate(mist_model *m, mist_dataset *const *sets, size_t count, double *mse,
                  double *pinball, mist_err *err)
{
    static const double taus[5] = {0.05, 0.25, 0.5, 0.75, 0.95};
    int qc = mist_model_arch(m)->quantile_conditioned;
    double se = 0, pb = 0;
    for (size_t i = 0; i < count; i++) {
        const mist_dataset *ds = sets[i];
        double out[5];
        int rc = mist_model_estimate(m, ds->data, ds->n, ds->dx, ds->dy, qc ? taus : NULL,
                                     qc ? 5 : 0, out, err);
        if (rc) return rc;
        double mi = ds->meta.mi, point = qc ? out[2] : out[0];
        se += (point - mi) * (point - mi);
        for (int k = 0; k < 5; k++) {
            double d = mi - (qc ? out[k] : point);
            double t = taus[k];
            pb += d >= 0 ? t * d : (t - 1) * d;
        }
    }
    *mse = count ? se / (double)count : 0;
    *pinball = count ? pb / (5.0 * (double)count) : 0;
    return MIST_OK;
}
