/* The training loop: AdamW, clipping, schedule, weight-decay mask, the data stream, checkpoints,
 * resume and a real learning test (tiny preset). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_gen.h"
#include "mist_infer.h"
#include "mist_train.h"
#include "mist_train_grad.h"
#include "testutil.h"

/* ---- optimizer ----------------------------------------------------------------------------- */

/* f(p) = 1/2 (a0 p0^2 + a1 p1^2): p0 is a "matrix" entry (decayed), p1 a bias (not). Three
 * AdamW steps checked against the update written out by hand. */
START_TEST(test_adamw_quadratic)
{
    float p[2] = {1.0f, -0.5f}, g[2], m[2] = {0, 0}, v[2] = {0, 0};
    const unsigned char decay[2] = {1, 0};
    const double a[2] = {2.0, 0.5}, lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    /* step 1 by hand: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2, update = lr sign(g)
     * (up to eps); p0: g = 2, p0 = 1 - 0.1*0.1*1 - 0.1 = 0.89; p1: g = -0.25, p1 = -0.5 + 0.1 */
    for (int i = 0; i < 2; i++) g[i] = (float)(a[i] * p[i]);
    mist_adamw_update(p, g, m, v, decay, 2, lr, b1, b2, eps, wd, 1);
    ck_assert_double_eq_tol(p[0], 0.89, 1e-6);
    ck_assert_double_eq_tol(p[1], -0.4, 1e-6);
    ck_assert_double_eq_tol(m[0], 0.2, 1e-7);
    ck_assert_double_eq_tol(v[0], 0.004, 1e-9);
    /* steps 2 and 3 against the same formulas spelled out in double */
    double P[2] = {0.89, -0.4}, M[2] = {0.2, -0.025}, V[2] = {0.004, 0.0000625};
    P[0] = p[0], P[1] = p[1], M[0] = m[0], M[1] = m[1], V[0] = v[0], V[1] = v[1];
    for (int t = 2; t <= 3; t++) {
        for (int i = 0; i < 2; i++) g[i] = (float)(a[i] * p[i]);
        mist_adamw_update(p, g, m, v, decay, 2, lr, b1, b2, eps, wd, t);
        for (int i = 0; i < 2; i++) {
            double gi = a[i] * P[i];
            M[i] = (float)(b1 * M[i] + (1 - b1) * gi);
            V[i] = (float)(b2 * V[i] + (1 - b2) * gi * gi);
            double mh = M[i] / (1 - pow(b1, t)), vh = V[i] / (1 - pow(b2, t));
            P[i] = P[i] - (decay[i] ? lr * wd * P[i] : 0) - lr * mh / (sqrt(vh) + eps);
            ck_assert_double_eq_tol(p[i], P[i], 1e-6);
        }
    }
    /* a second step on a decayed zero-gradient parameter shrinks it by exactly (1 - lr wd) */
    float q[1] = {3.0f}, gq[1] = {0}, mq[1] = {0}, vq[1] = {0};
    unsigned char dq[1] = {1};
    mist_adamw_update(q, gq, mq, vq, dq, 1, 0.5, b1, b2, eps, 0.2, 1);
    ck_assert_double_eq_tol(q[0], 3.0 * (1 - 0.5 * 0.2), 1e-6);
    dq[0] = 0;
    q[0] = 3.0f;
    mist_adamw_update(q, gq, mq, vq, dq, 1, 0.5, b1, b2, eps, 0.2, 1);
    ck_assert_float_eq(q[0], 3.0f);
}
END_TEST

START_TEST(test_clip)
{
    float g[2] = {3, 4};
    double n = mist_clip_grad_norm(g, 2, 1.0);
    ck_assert_double_eq_tol(n, 5.0, 1e-12);
    ck_assert_double_eq_tol(g[0], 0.6, 1e-6);
    ck_assert_double_eq_tol(g[1], 0.8, 1e-6);
    float h[2] = {0.3f, 0.4f};
    n = mist_clip_grad_norm(h, 2, 1.0);
    ck_assert_double_eq_tol(n, 0.5, 1e-7);
    ck_assert_float_eq(h[0], 0.3f); /* below the threshold: untouched */
    float z[2] = {3, 4};
    mist_clip_grad_norm(z, 2, 0); /* 0: off */
    ck_assert_float_eq(z[0], 3.0f);
}
END_TEST

START_TEST(test_schedule)
{
    const double lr = 1e-3, fl = 0.1;
    /* warm-up 10 of 111 steps: the cosine spans steps 10..110 (100 intervals) */
    ck_assert_double_eq_tol(mist_lr_at(0, 111, 10, lr, fl), 1e-4, 1e-15);
    ck_assert_double_eq_tol(mist_lr_at(4, 111, 10, lr, fl), 5e-4, 1e-15);
    ck_assert_double_eq_tol(mist_lr_at(9, 111, 10, lr, fl), 1e-3, 1e-15);
    ck_assert_double_eq_tol(mist_lr_at(10, 111, 10, lr, fl), 1e-3, 1e-15);
    ck_assert_double_eq_tol(mist_lr_at(60, 111, 10, lr, fl), 0.55e-3, 1e-15);
    ck_assert_double_eq_tol(mist_lr_at(35, 111, 10, lr, fl),
                            1e-4 + 0.5 * 0.9e-3 * (1 + cos(3.14159265358979 / 4)), 1e-12);
    ck_assert_double_eq_tol(mist_lr_at(110, 111, 10, lr, fl), 1e-4, 1e-15);
    ck_assert_double_eq_tol(mist_lr_at(500, 111, 10, lr, fl), 1e-4, 1e-15);
    ck_assert_double_eq_tol(mist_lr_at(0, 100, 0, lr, 0), 1e-3, 1e-15);
}
END_TEST

START_TEST(test_decay_mask)
{
    mist_arch a;
    mist_err err = {0};
    ck_assert_int_eq(mist_arch_preset("tiny", &a, &err), 0);
    mist_model *m = mist_model_create(&a, &err);
    ck_assert_ptr_nonnull(m);
    size_t np = mist_model_param_count(m);
    unsigned char *d = malloc(np);
    mist_decay_mask(m, d);
    size_t nt = mist_model_tensor_count(m), decayed = 0;
    for (size_t t = 0; t < nt; t++) {
        const char *name;
        int ndim;
        const int64_t *shape;
        size_t off;
        ck_assert_int_eq(mist_model_tensor_info(m, t, &name, &ndim, &shape, &off), 0);
        size_t len = strlen(name);
        int is_weight = len > 6 && !strcmp(name + len - 6, "weight");
        int want = ndim == 2 && is_weight;
        ck_assert_msg(d[off] == want, "%s: decay %d, expected %d", name, d[off], want);
        if (!strcmp(name, "phi.embedding_mlp.0.weight") ||
            !strcmp(name, "phi.encoder.0.mab0.mha.in_proj_weight") || !strcmp(name, "rho.0.weight"))
            ck_assert_int_eq(d[off], 1);
        if (!strcmp(name, "phi.embedding_mlp.2.weight") /* LN */ ||
            !strcmp(name, "phi.encoder.0.i") || !strcmp(name, "phi.pooling_pma.s") ||
            !strcmp(name, "rho.0.bias"))
            ck_assert_int_eq(d[off], 0);
        if (want) decayed++;
    }
    ck_assert_uint_gt(decayed, 10);
    free(d);
    mist_model_free(m);
}
END_TEST

START_TEST(test_presets)
{
    mist_err err = {0};
    const char *names[] = {"tiny", "small", "medium"};
    for (int i = 0; i < 3; i++) {
        mist_arch a;
        ck_assert_int_eq(mist_arch_preset(names[i], &a, &err), 0);
        ck_assert_msg(mist_arch_validate(&a, &err) == 0, "%s: %s", names[i], err.msg);
        ck_assert_int_eq(a.input_layout, MIST_LAYOUT_SPLIT);
        ck_assert_int_eq(a.preprocess, MIST_PREP_COPULA);
    }
    mist_arch a;
    mist_arch_preset("small", &a, &err);
    ck_assert_int_eq(mist_arch_override(&a, "D=96", &err), 0);
    ck_assert_int_eq(mist_arch_override(&a, "max_dx=8", &err), 0);
    ck_assert_int_eq(a.D, 96);
    ck_assert_int_eq(a.max_input_dim, 8 + 32);
    ck_assert_int_eq(mist_arch_validate(&a, &err), 0);
    ck_assert_int_ne(mist_arch_override(&a, "bogus=1", &err), 0);
    ck_assert_int_ne(mist_arch_override(&a, "D=abc", &err), 0);
    ck_assert_int_ne(mist_arch_preset("huge", &a, &err), 0);
}
END_TEST

/* ---- stream -------------------------------------------------------------------------------- */

static void small_cfg(mist_train_config *c, const char *metadist, int loss)
{
    mist_train_config_default(c);
    snprintf(c->metadist, sizeof c->metadist, "%s", metadist);
    c->batch = 4;
    c->pool = 3;
    c->loss = loss;
    c->arch.quantile_conditioned = loss == MIST_LOSS_PINBALL;
    c->seed = 42;
}

static int same_dataset(const mist_dataset *a, const mist_dataset *b)
{
    return a->n == b->n && a->dx == b->dx && a->dy == b->dy && a->meta.mi == b->meta.mi &&
           !memcmp(a->data, b->data, a->n * (size_t)(a->dx + a->dy) * sizeof(double));
}

START_TEST(test_stream_determinism)
{
    mist_train_config c;
    small_cfg(&c, "default", MIST_LOSS_PINBALL);
    mist_err err = {0};
    c.prefetch = 1;
    mist_stream *s1 = mist_stream_create(&c, &err);
    c.prefetch = 0;
    mist_stream *s2 = mist_stream_create(&c, &err);
    ck_assert_ptr_nonnull(s1);
    ck_assert_ptr_nonnull(s2);
    /* s1 walks 0..7 in order (prefetching); s2 jumps: same batches */
    const int64_t order2[8] = {7, 3, 0, 5, 1, 6, 2, 4};
    mist_dataset *keep[8][4];
    double tau[8][4];
    for (int64_t st = 0; st < 8; st++) {
        const mist_batch *b;
        ck_assert_int_eq(mist_stream_get(s1, st, &b, &err), 0);
        ck_assert_uint_eq(b->B, 4);
        for (int i = 0; i < 4; i++) {
            const mist_dataset *d = b->sets[i];
            mist_dataset *cp = mist_dataset_alloc(d->n, d->dx, d->dy, &err);
            memcpy(cp->data, d->data, d->n * (size_t)(d->dx + d->dy) * sizeof(double));
            cp->meta.mi = d->meta.mi;
            keep[st][i] = cp;
            tau[st][i] = b->tau[i];
            ck_assert(b->tau[i] > 0 && b->tau[i] < 1);
            ck_assert_int_le(d->dx, c.arch.max_dx);
            ck_assert_int_le(d->dy, c.arch.max_dy);
        }
    }
    for (int k = 0; k < 8; k++) {
        const mist_batch *b;
        int64_t st = order2[k];
        ck_assert_int_eq(mist_stream_get(s2, st, &b, &err), 0);
        for (int i = 0; i < 4; i++) {
            ck_assert_msg(same_dataset(b->sets[i], keep[st][i]), "step %lld set %d differs",
                          (long long)st, i);
            ck_assert_double_eq(b->tau[i], tau[st][i]);
        }
    }
    /* bucketing: the pool of steps 0..2 (pool 3) holds 12 distinct datasets, and sorted by
     * their smallest n the batches do not overlap in n */
    size_t lo[3], hi[3];
    for (int st = 0; st < 3; st++) {
        lo[st] = (size_t)-1, hi[st] = 0;
        for (int i = 0; i < 4; i++) {
            size_t n = keep[st][i]->n;
            if (n < lo[st]) lo[st] = n;
            if (n > hi[st]) hi[st] = n;
            for (int s2i = 0; s2i <= st; s2i++)
                for (int j = 0; j < 4; j++)
                    if (!(s2i == st && j == i)) ck_assert(!same_dataset(keep[st][i], keep[s2i][j]));
        }
    }
    for (int x = 0; x < 3; x++)
        for (int y = 0; y < 3; y++)
            if (lo[x] < lo[y]) ck_assert_uint_le(hi[x], lo[y]);
    for (int st = 0; st < 8; st++)
        for (int i = 0; i < 4; i++) mist_dataset_free(keep[st][i]);
    mist_stream_free(s1);
    mist_stream_free(s2);
    /* a different seed gives a different stream */
    c.seed = 43;
    mist_stream *s3 = mist_stream_create(&c, &err);
    const mist_batch *b3;
    ck_assert_int_eq(mist_stream_get(s3, 0, &b3, &err), 0);
    mist_stream_free(s3);
    /* an unknown meta-distribution is refused */
    snprintf(c.metadist, sizeof c.metadist, "nope");
    ck_assert_ptr_null(mist_stream_create(&c, &err));
}
END_TEST

/* --columns canonical: every training dataset is the canonical reading of the one generated
 * without it (X and Y exchanged for some, chosen by the dataset's seed), hence a fixed point of
 * canonicalisation, with the same MI. */
START_TEST(test_stream_columns_canonical)
{
    mist_train_config c;
    small_cfg(&c, "default", MIST_LOSS_PINBALL);
    mist_err err = {0};
    mist_stream *plain = mist_stream_create(&c, &err);
    c.col_canon = 1;
    mist_stream *canon = mist_stream_create(&c, &err);
    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_nonnull(canon);
    int swapped = 0, kept = 0, moved = 0;
    for (int64_t st = 0; st < 8; st++) {
        const mist_batch *bp, *bc;
        ck_assert_int_eq(mist_stream_get(plain, st, &bp, &err), 0);
        mist_dataset *g[4];
        for (int i = 0; i < 4; i++) { /* copies: the stream reuses its batch */
            const mist_dataset *d = bp->sets[i];
            g[i] = mist_dataset_alloc(d->n, d->dx, d->dy, &err);
            memcpy(g[i]->data, d->data, d->n * (size_t)(d->dx + d->dy) * sizeof(double));
            g[i]->meta.mi = d->meta.mi;
        }
        ck_assert_int_eq(mist_stream_get(canon, st, &bc, &err), 0);
        for (int i = 0; i < 4; i++) {
            const mist_dataset *d = bc->sets[i];
            size_t n = g[i]->n, dd = (size_t)(g[i]->dx + g[i]->dy);
            ck_assert_uint_eq(d->n, n);
            ck_assert(d->meta.mi == g[i]->meta.mi);
            int sw = d->dx != g[i]->dx;
            ck_assert_int_eq(sw ? d->dy : d->dx, g[i]->dx);
            int src[64];
            double sign[64];
            double *want = malloc(n * dd * sizeof *want);
            ck_assert(col_canon_plan(g[i]->data, n, g[i]->dx, g[i]->dy, src, sign, NULL, &err) == 0);
            int flipped_cols = 0;
            for (size_t k = 0; k < dd; k++) flipped_cols |= src[k] != (int)k || sign[k] < 0;
            moved += flipped_cols;
            /* either orientation: the same values, Y first when exchanged */
            col_canon_apply(want, g[i]->data, n, g[i]->dx, g[i]->dy, src, sign, 0);
            int same0 = !memcmp(want, d->data, n * dd * sizeof *want);
            col_canon_apply(want, g[i]->data, n, g[i]->dx, g[i]->dy, src, sign, 1);
            int same1 = !memcmp(want, d->data, n * dd * sizeof *want);
            ck_assert_msg(same0 || same1, "step %lld set %d is not the canonical reading",
                          (long long)st, i);
            if (g[i]->dx != g[i]->dy) swapped += sw, kept += !sw;
            /* a fixed point */
            ck_assert(col_canon_plan(d->data, n, d->dx, d->dy, src, sign, NULL, &err) == 0);
            col_canon_apply(want, d->data, n, d->dx, d->dy, src, sign, 0);
            ck_assert(!memcmp(want, d->data, n * dd * sizeof *want));
            free(want);
            mist_dataset_free(g[i]);
        }
    }
    ck_assert_msg(swapped > 0 && kept > 0, "exchanged %d, kept %d", swapped, kept);
    ck_assert_int_gt(moved, 0); /* some generated datasets were not canonical already */
    mist_stream_free(plain);
    mist_stream_free(canon);
}
END_TEST

START_TEST(test_stream_n_range_and_validation)
{
    mist_train_config c;
    small_cfg(&c, "normal1x1", MIST_LOSS_MSE);
    c.n_min = 20;
    c.n_max = 30;
    c.val_count = 5;
    mist_err err = {0};
    mist_stream *s = mist_stream_create(&c, &err);
    const mist_batch *b;
    ck_assert_int_eq(mist_stream_get(s, 11, &b, &err), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_ge(b->sets[i]->n, 20);
        ck_assert_uint_le(b->sets[i]->n, 30);
        ck_assert_double_eq(b->tau[i], 0.5);
    }
    mist_stream_free(s);
    mist_dataset **v, **w;
    size_t nv, nw;
    ck_assert_int_eq(mist_stream_validation(&c, &v, &nv, &err), 0);
    ck_assert_int_eq(mist_stream_validation(&c, &w, &nw, &err), 0);
    ck_assert_uint_eq(nv, 5);
    for (size_t i = 0; i < nv; i++) {
        ck_assert(same_dataset(v[i], w[i]));
        ck_assert(isfinite(v[i]->meta.mi));
        mist_dataset_free(v[i]);
        mist_dataset_free(w[i]);
    }
    free(v);
    free(w);
}
END_TEST

/* ---- checkpoints --------------------------------------------------------------------------- */

static void fill_ck(mist_checkpoint *ck)
{
    memset(ck, 0, sizeof *ck);
    small_cfg(&ck->cfg, "default", MIST_LOSS_MSE);
    ck->cfg.col_canon = 1; /* written and read back like every other field */
    ck->step = 17;
    ck->elapsed_s = 12.5;
    ck->last_loss = 0.25;
    ck->val_mse = NAN;
    ck->val_pinball = 0.125;
    ck->datasets = 68;
    ck->nparams = mist_arch_param_count(&ck->cfg.arch);
    ck->params = malloc(ck->nparams * 4);
    ck->m = malloc(ck->nparams * 4);
    ck->v = malloc(ck->nparams * 4);
    for (size_t i = 0; i < ck->nparams; i++) {
        ck->params[i] = (float)sin((double)i);
        ck->m[i] = (float)cos((double)i) * 1e-3f;
        ck->v[i] = (float)(i % 7) * 1e-6f;
    }
}

START_TEST(test_checkpoint_roundtrip)
{
    const char *dir = tu_tmpdir("ckpt");
    char path[600];
    snprintf(path, sizeof path, "%s/checkpoint.msgpack", dir);
    mist_checkpoint a, b;
    fill_ck(&a);
    mist_err err = {0};
    ck_assert_msg(mist_checkpoint_write(path, &a, &err) == 0, "%s", err.msg);
    ck_assert_msg(mist_checkpoint_read(dir, &b, &err) == 0, "%s", err.msg); /* by folder */
    ck_assert(!memcmp(&a.cfg, &b.cfg, sizeof a.cfg));
    ck_assert_int_eq(b.step, 17);
    ck_assert_double_eq(b.elapsed_s, 12.5);
    ck_assert(isnan(b.val_mse));
    ck_assert_double_eq(b.val_pinball, 0.125);
    ck_assert_uint_eq(b.datasets, 68);
    ck_assert_uint_eq(b.nparams, a.nparams);
    ck_assert(!memcmp(a.params, b.params, a.nparams * 4));
    ck_assert(!memcmp(a.m, b.m, a.nparams * 4));
    ck_assert(!memcmp(a.v, b.v, a.nparams * 4));
    mist_checkpoint_free(&b);

    /* malformed: every truncation, a wrong format name, a flipped block length, bad values */
    size_t len;
    unsigned char *bytes = tu_slurp(path, &len);
    ck_assert_ptr_nonnull(bytes);
    for (size_t cut = 0; cut < len; cut += (cut < 2000 ? 1 : 97)) {
        ck_assert_int_ne(mist_checkpoint_read_mem(bytes, cut, "cut", &b, &err), 0);
        ck_assert_ptr_null(b.params);
    }
    unsigned char *bad = malloc(len);
    const char *needle = "mist-train-checkpoint";
    memcpy(bad, bytes, len);
    unsigned char *at = NULL;
    for (size_t i = 0; i + strlen(needle) <= len; i++)
        if (!memcmp(bad + i, needle, strlen(needle))) at = bad + i;
    ck_assert_ptr_nonnull(at);
    at[0] = 'X';
    ck_assert_int_eq(mist_checkpoint_read_mem(bad, len, "fmt", &b, &err), MIST_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a valid checkpoint"));
    /* "batch" value 4 -> a wrong key name */
    memcpy(bad, bytes, len);
    for (size_t i = 0; i + 5 <= len; i++)
        if (!memcmp(bad + i, "batch", 5)) bad[i] = 'c';
    ck_assert_int_eq(mist_checkpoint_read_mem(bad, len, "key", &b, &err), MIST_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown key"));
    /* random byte flips never crash */
    uint64_t r = 12345;
    for (int k = 0; k < 300; k++) {
        memcpy(bad, bytes, len);
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t pos = (size_t)(r >> 33) % (len < 4000 ? len : 4000);
        bad[pos] ^= (unsigned char)(1 + (r >> 20) % 255);
        if (mist_checkpoint_read_mem(bad, len, "flip", &b, &err) == 0) mist_checkpoint_free(&b);
    }
    /* an inconsistent checkpoint: v negative */
    mist_checkpoint c2;
    fill_ck(&c2);
    c2.v[3] = -1;
    ck_assert_int_eq(mist_checkpoint_write(path, &c2, &err), 0);
    ck_assert_int_eq(mist_checkpoint_read(path, &b, &err), MIST_EFORMAT);
    mist_checkpoint_free(&c2);
    /* step beyond steps */
    fill_ck(&c2);
    c2.step = c2.cfg.steps + 1;
    ck_assert_int_eq(mist_checkpoint_write(path, &c2, &err), 0);
    ck_assert_int_eq(mist_checkpoint_read(path, &b, &err), MIST_EFORMAT);
    mist_checkpoint_free(&c2);
    free(bad);
    free(bytes);
    mist_checkpoint_free(&a);
}
END_TEST

/* Weight averaging: the exported parameters are the mean of the checkpoints' (in double, then
 * rounded), the newest checkpoint lends the facts, and another run's checkpoint is refused. */
START_TEST(test_export_average)
{
    const char *dir = tu_tmpdir("ckpt-avg");
    char p[3][600], out[600];
    mist_checkpoint c[3];
    mist_err err = {0};
    for (int k = 0; k < 3; k++) {
        fill_ck(&c[k]);
        c[k].step = 10 + 5 * k;
        for (size_t i = 0; i < c[k].nparams; i++) c[k].params[i] = (float)(k + 1) * c[k].params[i] + 0.1f * (float)k;
        snprintf(p[k], sizeof p[k], "%s/c%d.msgpack", dir, k);
        ck_assert_msg(mist_checkpoint_write(p[k], &c[k], &err) == 0, "%s", err.msg);
    }
    snprintf(out, sizeof out, "%s/avg.msgpack", dir);
    const char *order[3] = {p[1], p[2], p[0]}; /* the newest is not first */
    ck_assert_msg(mist_train_export_average(order, 3, out, &err) == 0, "%s", err.msg);
    mist_model *m = mist_model_open(out, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    const float *w = mist_model_params(m);
    for (size_t i = 0; i < c[0].nparams; i++) {
        double want = ((double)c[0].params[i] + (double)c[1].params[i] + (double)c[2].params[i]) / 3;
        ck_assert_msg(w[i] == (float)want, "param %zu: %g vs %g", i, (double)w[i], want);
    }
    const char *meta = mist_model_meta_json(m);
    ck_assert_msg(strstr(meta, "\"steps\": 20") != NULL, "%s", meta);
    ck_assert_msg(strstr(meta, "average of 3 checkpoints, steps 10..20") != NULL, "%s", meta);
    /* a run on canonical columns exports a model that reads them */
    ck_assert_msg(strstr(meta, "\"columns\": \"canonical\"") != NULL, "%s", meta);
    ck_assert_int_eq(mist_model_col_canon(m), 1);
    mist_model_free(m);
    /* another run (other seed) cannot be mixed in, and nothing is written */
    c[2].cfg.seed = 43;
    ck_assert_int_eq(mist_checkpoint_write(p[2], &c[2], &err), 0);
    snprintf(out, sizeof out, "%s/mixed.msgpack", dir);
    ck_assert_int_ne(mist_train_export_average(order, 3, out, &err), 0);
    ck_assert_msg(strstr(err.msg, "same run") != NULL, "%s", err.msg);
    FILE *f = fopen(out, "rb");
    ck_assert_ptr_null(f);
    for (int k = 0; k < 3; k++) mist_checkpoint_free(&c[k]);
}
END_TEST

/* ---- whole runs (need mist_train_grad) ----------------------------------------------------- */

/* mist train --init from a pairs model without sum_head into a run with it: the parameters are
 * copied and the readout starts at zero (a step at lr 1e-30 moves nothing measurable), so the
 * run's model answers as the one it started from; a model of another width is refused. */
START_TEST(test_init_adds_sum_head)
{
    mist_err err = {0};
    mist_arch a;
    ck_assert_int_eq(mist_arch_preset("pairs-tiny", &a, &err), 0);
    a.quantile_conditioned = 1;
    mist_model *m0 = mist_model_create_random(&a, 5, &err);
    ck_assert_msg(m0 != NULL, "%s", err.msg);
    char dir[600], wpath[700], run[700], mpath[800];
    snprintf(dir, sizeof dir, "%s", tu_tmpdir("init-sum"));
    snprintf(wpath, sizeof wpath, "%s/w.msgpack", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(mpath, sizeof mpath, "%s/model.msgpack", run);
    ck_assert_int_eq(mist_model_save(m0, wpath, &err), 0);
    mist_train_config c;
    small_cfg(&c, "normal1x1", MIST_LOSS_PINBALL);
    c.arch = a;
    c.arch.sum_head = 1;
    c.steps = 1, c.warmup = 0, c.lr = 1e-30, c.val_count = 0, c.ckpt_every_s = 0;
    snprintf(c.init_from, sizeof c.init_from, "%s", wpath);
    ck_assert_msg(mist_train_run(&c, run, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    mist_model *m1 = mist_model_open(mpath, &err);
    ck_assert_msg(m1 != NULL, "%s", err.msg);
    ck_assert_int_eq(mist_model_arch(m1)->sum_head, 1);
    size_t n0 = mist_model_param_count(m0);
    ck_assert_uint_eq(mist_model_param_count(m1), n0 + (size_t)a.D);
    const float *p0 = mist_model_params(m0), *p1 = mist_model_params(m1);
    for (size_t i = 0; i < n0 + (size_t)a.D; i++)
        ck_assert_msg(fabs((double)p1[i] - (i < n0 ? p0[i] : 0.0)) <= 1e-20, "parameter %zu", i);
    double *x = malloc(200 * 3 * sizeof *x);
    for (int i = 0; i < 200; i++)
        x[3 * i] = sin(i), x[3 * i + 1] = cos(3.0 * i), x[3 * i + 2] = x[3 * i] + 0.3 * sin(7.0 * i);
    const double taus[2] = {0.1, 0.9};
    double q0[2], q1[2];
    ck_assert_int_eq(mist_model_estimate(m0, x, 200, 2, 1, taus, 2, q0, &err), 0);
    ck_assert_int_eq(mist_model_estimate(m1, x, 200, 2, 1, taus, 2, q1, &err), 0);
    for (int t = 0; t < 2; t++) ck_assert_msg(fabs(q1[t] - q0[t]) <= 1e-9, "%g vs %g", q1[t], q0[t]);
    mist_model_free(m1);
    mist_model_free(m0);
    /* another width */
    a.D *= 2;
    m0 = mist_model_create_random(&a, 5, &err);
    ck_assert_int_eq(mist_model_save(m0, wpath, &err), 0);
    snprintf(run, sizeof run, "%s/run2", dir);
    ck_assert_int_ne(mist_train_run(&c, run, NULL, NULL, NULL, &err), 0);
    ck_assert_msg(strstr(err.msg, "--init") && strstr(err.msg, "architecture differs"), "%s",
                  err.msg);
    mist_model_free(m0);
    free(x);
}
END_TEST

START_TEST(test_resume_bit_for_bit)
{
    mist_train_config c;
    small_cfg(&c, "default", MIST_LOSS_MSE);
    c.steps = 8;
    c.warmup = 2;
    c.val_count = 4;
    c.val_every = 3;
    c.ckpt_every_s = 0;
    mist_err err = {0};
    char one[600], two[600];
    snprintf(one, sizeof one, "%s", tu_tmpdir("run-one"));
    snprintf(two, sizeof two, "%s", tu_tmpdir("run-two"));
    ck_assert_msg(mist_train_run(&c, one, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    c.stop_after = 4;
    c.prefetch = 0;
    ck_assert_msg(mist_train_run(&c, two, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    mist_checkpoint a, b;
    ck_assert_int_eq(mist_checkpoint_read(two, &b, &err), 0);
    ck_assert_int_eq(b.step, 4);
    float *mid = malloc(b.nparams * sizeof *mid); /* the parameters half-way, step 4 */
    ck_assert_ptr_nonnull(mid);
    memcpy(mid, b.params, b.nparams * sizeof *mid);
    size_t mid_count = b.nparams;
    mist_checkpoint_free(&b);
    /* a row logged after the checkpoint (as by a run killed between checkpoints) is dropped */
    char csv[700];
    snprintf(csv, sizeof csv, "%s/train.csv", two);
    FILE *f = fopen(csv, "a");
    ck_assert_ptr_nonnull(f);
    fputs("6,1.0,0.001,9.99,1,,,1,1\n", f);
    fclose(f);
    c.stop_after = 0;
    c.prefetch = 1;
    ck_assert_msg(mist_train_run(&c, two, two, NULL, NULL, &err) == 0, "%s", err.msg);
    /* the log: one row per step 0..8, in order, as in the run in one go */
    size_t len;
    char *log = (char *)tu_slurp(csv, &len);
    ck_assert_ptr_nonnull(log);
    log = realloc(log, len + 1);
    log[len] = '\0';
    long long expect = 0;
    for (char *line = strchr(log, '\n'); line && line[1]; line = strchr(line + 1, '\n'))
        ck_assert_int_eq(strtoll(line + 1, NULL, 10), expect++);
    ck_assert_int_eq(expect, 9);
    free(log);
    ck_assert_int_eq(mist_checkpoint_read(one, &a, &err), 0);
    ck_assert_int_eq(mist_checkpoint_read(two, &b, &err), 0);
    ck_assert_int_eq(a.step, 8);
    ck_assert_int_eq(b.step, 8);
    ck_assert_uint_eq(a.datasets, b.datasets);
    ck_assert_msg(!memcmp(a.params, b.params, a.nparams * 4), "parameters differ after resume");
    ck_assert(!memcmp(a.m, b.m, a.nparams * 4));
    ck_assert(!memcmp(a.v, b.v, a.nparams * 4));
    /* the run moved the parameters: steps 5..8 changed most of them (AdamW moves every
     * parameter with a gradient, and weight decay the matrices), all finite */
    ck_assert_uint_eq(mid_count, b.nparams);
    size_t moved = 0;
    for (size_t i = 0; i < b.nparams; i++) {
        ck_assert(isfinite(b.params[i]));
        moved += b.params[i] != mid[i];
    }
    ck_assert_msg(moved > b.nparams / 2, "only %zu of %zu parameters moved in steps 5..8", moved,
                  b.nparams);
    free(mid);
    /* and the export opens as a model with the facts in meta */
    char path[700];
    snprintf(path, sizeof path, "%s/model.msgpack", two);
    mist_model *m = mist_model_open(path, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(mist_model_meta_json(m), "\"metadist\""));
    ck_assert(!memcmp(mist_model_params(m), b.params, b.nparams * 4));
    mist_model_free(m);
    snprintf(path, sizeof path, "%s/exported.msgpack", two);
    ck_assert_int_eq(mist_train_export(one, path, &err), 0);
    mist_checkpoint_free(&a);
    mist_checkpoint_free(&b);
}
END_TEST

typedef struct val_seen {
    double first, last;
    int count;
} val_seen;

static int on_val(const mist_train_progress *p, void *user)
{
    val_seen *v = user;
    if (p->event == MIST_TRAIN_EV_VAL) {
        if (!v->count++) v->first = p->val_mse;
        v->last = p->val_mse;
    }
    return 0;
}

/* A real learning test: the tiny model on bivariate normals (MI in 0..0.83 nats). */
#define LEARN_STEPS 300
#define LEARN_FACTOR 8.0
START_TEST(test_learning)
{
    mist_train_config c;
    small_cfg(&c, "normal1x1", MIST_LOSS_MSE);
    c.batch = 16;
    c.pool = 4;
    c.steps = LEARN_STEPS;
    c.warmup = 20;
    c.lr = 3e-3;
    c.val_count = 64;
    c.val_every = 100;
    c.ckpt_every_s = 0;
    c.seed = 7;
    mist_err err = {0};
    val_seen v = {0};
    const char *dir = tu_tmpdir("learn");
    ck_assert_msg(mist_train_run(&c, dir, NULL, on_val, &v, &err) == 0, "%s", err.msg);
    fprintf(stderr, "learning: validation MSE %.5f -> %.5f (%.1fx) in %d steps\n", v.first, v.last,
            v.first / v.last, LEARN_STEPS);
    ck_assert_int_ge(v.count, 2);
    /* the export records the n and d ranges training saw (normal1x1: n in 50..200, 1x1) */
    char path[600];
    snprintf(path, sizeof path, "%s/model.msgpack", dir);
    mist_model *m = mist_model_open(path, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    const mist_arch *a = mist_model_arch(m);
    ck_assert(a->n_min >= 50 && a->n_min < 60 && a->n_max <= 200 && a->n_max > 190);
    ck_assert(a->d_min == 1 && a->d_max == 1);
    mist_model_free(m);
    ck_assert_msg(v.last * LEARN_FACTOR < v.first, "validation MSE %.5f -> %.5f: less than %.0fx",
                  v.first, v.last, LEARN_FACTOR);
}
END_TEST

static Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    tu_case(s, "optim", 0, test_adamw_quadratic, test_clip, test_schedule, test_decay_mask,
            test_presets, NULL);
    tu_case(s, "stream", 0, test_stream_determinism, test_stream_n_range_and_validation,
            test_stream_columns_canonical, NULL);
    tu_case(s, "checkpoint", 0, test_checkpoint_roundtrip, test_export_average, NULL);
    tu_case(s, "run", 300, test_resume_bit_for_bit, test_learning, test_init_adds_sum_head, NULL);
    return s;
}

int main(void)
{
    return tu_run(train_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
