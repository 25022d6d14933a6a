/* The training run: stream -> mist_train_grad -> clip -> AdamW, with validation, a CSV log,
 * periodic atomic checkpoints, resume, and the export to an inference weights file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "mist_io.h"
#include "mist_train.h"
#include "mist_train_grad.h"
#include "train_graph.h"
#include "util.h"

#define TAG_INIT 0x696e6974ULL

/* mkdir -p */
static int make_dir(const char *dir, mist_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return mist_fail(err, MIST_EINVAL, "folder name too long: '%.200s...'", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return mist_fail(err, MIST_EIO, "cannot create folder '%s': %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return mist_fail(err, MIST_EIO, "cannot create folder '%s': %s", dir, strerror(errno));
    return MIST_OK;
}

/* ---- export ------------------------------------------------------------------------------- */

static int set_meta(mist_model *m, const mist_checkpoint *ck, mist_err *err)
{
    const mist_train_config *c = &ck->cfg;
    char date[64] = "";
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct utsname u;
    char machine[256] = "unknown";
    if (uname(&u) == 0) snprintf(machine, sizeof machine, "%.60s %.60s %.60s", u.sysname, u.release, u.machine);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    char buf[512];
    snprintf(buf, sizeof buf, "%s, %ld cpus, %d BLAS threads (%s)", machine, ncpu, c->threads,
             mist_infer_blas_core());
    int rc = 0;
    rc |= mist_model_meta_set_str(m, "source", "mist train " MIST_VERSION, err);
    rc |= mist_model_meta_set_str(m, "arch_spec", c->arch_spec, err);
    rc |= mist_model_meta_set_str(m, "loss", c->loss == MIST_LOSS_PINBALL ? "pinball" : "mse", err);
    rc |= mist_model_meta_set_str(m, "metadist", c->metadist, err);
    if (c->col_canon) rc |= mist_model_meta_set_str(m, "columns", "canonical", err);
    rc |= mist_model_meta_set_num(m, "steps", (double)ck->step, err);
    rc |= mist_model_meta_set_num(m, "steps_planned", (double)c->steps, err);
    rc |= mist_model_meta_set_num(m, "batch", c->batch, err);
    rc |= mist_model_meta_set_num(m, "datasets_seen", (double)ck->datasets, err);
    rc |= mist_model_meta_set_num(m, "lr", c->lr, err);
    rc |= mist_model_meta_set_num(m, "warmup", (double)c->warmup, err);
    rc |= mist_model_meta_set_num(m, "weight_decay", c->wd, err);
    rc |= mist_model_meta_set_num(m, "clip", c->clip, err);
    rc |= mist_model_meta_set_num(m, "seed", (double)c->seed, err);
    rc |= mist_model_meta_set_num(m, "train_loss", ck->last_loss, err);
    if (!isnan(ck->val_mse)) {
        rc |= mist_model_meta_set_num(m, "val_mse", ck->val_mse, err);
        rc |= mist_model_meta_set_num(m, "val_pinball", ck->val_pinball, err);
        rc |= mist_model_meta_set_num(m, "val_count", c->val_count, err);
    }
    rc |= mist_model_meta_set_num(m, "wall_time_s", ck->elapsed_s, err);
    rc |= mist_model_meta_set_str(m, "date", date, err);
    rc |= mist_model_meta_set_str(m, "machine", buf, err);
    return rc ? (err && err->code ? err->code : MIST_EINVAL) : MIST_OK;
}

static int export_ck(const mist_checkpoint *ck, const char *out_path, mist_err *err)
{
    mist_arch a = ck->cfg.arch;
    if (ck->n_seen_min > 0) a.n_min = ck->n_seen_min, a.n_max = ck->n_seen_max;
    if (ck->d_seen_min > 0) a.d_min = ck->d_seen_min, a.d_max = ck->d_seen_max;
    mist_model *m = mist_model_create(&a, err);
    if (!m) return err ? err->code : MIST_EINVAL;
    memcpy(mist_model_params(m), ck->params, ck->nparams * sizeof(float));
    int rc = set_meta(m, ck, err);
    if (!rc) rc = mist_model_save(m, out_path, err);
    mist_model_free(m);
    return rc;
}

int mist_train_export(const char *ckpt_path, const char *out_path, mist_err *err)
{
    mist_checkpoint ck;
    int rc = mist_checkpoint_read(ckpt_path, &ck, err);
    if (rc) return rc;
    rc = export_ck(&ck, out_path, err);
    mist_checkpoint_free(&ck);
    return rc;
}

static int same_run(const mist_checkpoint *a, const mist_checkpoint *b)
{
    return a->nparams == b->nparams && a->cfg.loss == b->cfg.loss && a->cfg.seed == b->cfg.seed &&
           !strcmp(a->cfg.metadist, b->cfg.metadist) && a->cfg.col_canon == b->cfg.col_canon &&
           mist_arch_same_graph(&a->cfg.arch, &b->cfg.arch);
}

int mist_train_export_average(const char *const *paths, size_t k, const char *out_path,
                              mist_err *err)
{
    if (!paths || k == 0 || !out_path)
        return mist_fail(err, MIST_EINVAL, "no checkpoints to average");
    if (k == 1) return mist_train_export(paths[0], out_path, err);
    mist_checkpoint last, ck;
    int rc = mist_checkpoint_read(paths[0], &last, err);
    if (rc) return rc;
    double *sum = calloc(last.nparams ? last.nparams : 1, sizeof *sum);
    if (!sum) {
        mist_checkpoint_free(&last);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < last.nparams; j++) sum[j] = last.params[j];
    int64_t first_step = last.step, last_step = last.step;
    for (size_t i = 1; i < k && !rc; i++) {
        if ((rc = mist_checkpoint_read(paths[i], &ck, err))) break;
        if (!same_run(&last, &ck)) {
            rc = mist_fail(err, MIST_EINVAL,
                           "'%s' is not a checkpoint of the same run as '%s' (architecture, "
                           "loss, seed or meta-distribution differ): only one run's weights "
                           "can be averaged",
                           paths[i], paths[0]);
            mist_checkpoint_free(&ck);
            break;
        }
        for (size_t j = 0; j < ck.nparams; j++) sum[j] += ck.params[j];
        if (ck.step < first_step) first_step = ck.step;
        if (ck.step > last_step) { /* the newest one lends its facts (steps, time, ranges) */
            last_step = ck.step;
            mist_checkpoint t = last;
            last = ck;
            ck = t;
        }
        mist_checkpoint_free(&ck);
    }
    if (!rc) {
        for (size_t j = 0; j < last.nparams; j++) last.params[j] = (float)(sum[j] / (double)k);
        mist_arch a = last.cfg.arch;
        if (last.n_seen_min > 0) a.n_min = last.n_seen_min, a.n_max = last.n_seen_max;
        if (last.d_seen_min > 0) a.d_min = last.d_seen_min, a.d_max = last.d_seen_max;
        mist_model *m = mist_model_create(&a, err);
        if (!m) rc = err ? err->code : MIST_EINVAL;
        else {
            memcpy(mist_model_params(m), last.params, last.nparams * sizeof(float));
            char note[160];
            snprintf(note, sizeof note, "uniform average of %zu checkpoints, steps %lld..%lld", k,
                     (long long)first_step, (long long)last_step);
            rc = set_meta(m, &last, err);
            /* the validation figures belong to the newest iterate, not to the average */
            if (!rc) rc = mist_model_meta_set_str(m, "weight_average", note, err);
            if (!rc) rc = mist_model_meta_set_str(m, "val_note", "val_mse/val_pinball: newest checkpoint, before averaging", err);
            if (!rc) rc = mist_model_save(m, out_path, err);
            mist_model_free(m);
        }
    }
    free(sum);
    mist_checkpoint_free(&last);
    return rc;
}

/* ---- resume ------------------------------------------------------------------------------- */

size_t mist_train_resume_changes(const mist_train_config *was, const mist_train_config *now,
                                 char *buf, size_t bufsz)
{
    size_t k = 0, l = 0;
    if (buf && bufsz) buf[0] = '\0';
    /* The gradient of a batch split over T workers is summed in another order for another T;
     * the cosine schedule is a function of the total steps. Everything else that may differ
     * (checkpoint period, prefetch, stop-after) changes only timing. */
    if (was->threads != now->threads) {
        k++;
        if (buf && l < bufsz)
            l += (size_t)snprintf(buf + l, bufsz - l, "threads %d (the run used %d)", now->threads,
                                  was->threads);
    }
    if (was->steps != now->steps) {
        k++;
        if (buf && l < bufsz)
            snprintf(buf + l, bufsz - l, "%ssteps %lld (the run planned %lld: the learning-rate "
                                         "schedule changes)",
                     l ? ", " : "", (long long)now->steps, (long long)was->steps);
    }
    return k;
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct run {
    mist_train_config c;
    const char *out;
    mist_model *model;
    mist_train_ws *ws;
    mist_stream *stream;
    mist_dataset **val;
    size_t nval;
    float *grads, *m, *v;
    unsigned char *decay;
    mist_train_example *ex;
    FILE *csv, *dump_csv;
    mist_train_dist *dist; /* NULL: one process */
    mist_checkpoint st; /* state fields only (params/m/v point into the run) */
} run;

static int write_ckpt(run *r, double elapsed, char *path, size_t pathsz, mist_err *err)
{
    snprintf(path, pathsz, "%s/%s", r->out, MIST_CKPT_FILE);
    mist_checkpoint ck = r->st;
    ck.cfg = r->c;
    ck.elapsed_s = elapsed;
    ck.nparams = mist_model_param_count(r->model);
    ck.params = mist_model_params(r->model);
    ck.m = r->m;
    ck.v = r->v;
    return mist_checkpoint_write(path, &ck, err);
}

/* The parameters of the weights file path into m: the same graph up to gauss_base,
 * gauss_base_unbiased, gauss_base_cap (which change a constant, no parameter), ksg_feature
 * (which changes what two inputs hold, not their number), sign_canon (which changes the inputs'
 * signs), and the trained range. A run with sum_head may start from a model without it: its
 * readout is the last tensor and starts at zero, so the outputs start equal. */
static int init_from_weights(mist_model *m, const char *path, mist_err *err)
{
    mist_model *w = mist_model_open(path, err);
    if (!w) return err ? err->code : MIST_EINVAL;
    mist_arch a = *mist_model_arch(w);
    a.gauss_base = mist_model_arch(m)->gauss_base;
    a.gauss_base_unbiased = mist_model_arch(m)->gauss_base_unbiased;
    a.ksg_feature = mist_model_arch(m)->ksg_feature;
    a.sign_canon = mist_model_arch(m)->sign_canon;
    a.gauss_base_cap = mist_model_arch(m)->gauss_base_cap;
    int add_sum = !a.sum_head && mist_model_arch(m)->sum_head;
    a.sum_head = mist_model_arch(m)->sum_head;
    size_t nw = mist_model_param_count(w), nm = mist_model_param_count(m);
    size_t extra = add_sum ? (size_t)a.D : 0;
    int rc = MIST_OK;
    if (!mist_arch_same_graph(&a, mist_model_arch(m)) || nw + extra != nm)
        rc = mist_fail(err, MIST_EINVAL,
                       "--init %s: its architecture differs from the run's (%zu vs %zu "
                       "parameters; see `mist info`)",
                       path, nw, nm);
    else {
        memcpy(mist_model_params(m), mist_model_params(w), nw * sizeof(float));
        memset(mist_model_params(m) + nw, 0, extra * sizeof(float));
    }
    mist_model_free(w);
    return rc;
}

static int dump_batch(run *r, const mist_batch *b, const double *preds, double loss, mist_err *err)
{
    for (size_t i = 0; i < b->B; i++) {
        char name[64], path[2048];
        snprintf(name, sizeof name, "step%04lld_%03zu.npy", (long long)b->step, i);
        snprintf(path, sizeof path, "%s/%s", r->c.dump_dir, name);
        int rc = mist_dataset_write(b->sets[i], path, MIST_FMT_NPY, MIST_DTYPE_F64, err);
        if (rc) return rc;
        fprintf(r->dump_csv, "%lld,%zu,%s,%zu,%d,%d,%.17g,%.17g,%.17g,%.17g\n",
                (long long)b->step, i, name, b->sets[i]->n, b->sets[i]->dx, b->sets[i]->dy,
                b->sets[i]->meta.mi, b->tau[i], preds[i], loss);
    }
    fflush(r->dump_csv);
    return MIST_OK;
}

/* On resume: drop the log rows written after the checkpoint (a run killed between two
 * checkpoints logged steps that the resumed run will log again). Rewritten atomically. */
static int trim_log(const char *path, int64_t step, mist_err *err)
{
    FILE *in = fopen(path, "r");
    if (!in) return mist_fail(err, MIST_EIO, "cannot read '%s': %s", path, strerror(errno));
    mist_atomic_file *af = mist_atomic_open(path, err);
    if (!af) {
        fclose(in);
        return err ? err->code : MIST_EIO;
    }
    FILE *out = mist_atomic_stream(af);
    char line[1024];
    int first = 1;
    while (fgets(line, sizeof line, in)) {
        char *end;
        long long s = strtoll(line, &end, 10);
        if (first || (end != line && *end == ',' && s <= step)) fputs(line, out);
        first = 0;
    }
    fclose(in);
    return mist_atomic_commit(af, err);
}

static void run_free(run *r)
{
    mist_train_ws_free(r->ws);
    mist_stream_free(r->stream);
    for (size_t i = 0; i < r->nval; i++) mist_dataset_free(r->val[i]);
    free(r->val);
    mist_model_free(r->model);
    free(r->grads);
    free(r->m);
    free(r->v);
    free(r->decay);
    free(r->ex);
    if (r->csv) fclose(r->csv);
    if (r->dump_csv) fclose(r->dump_csv);
}

static int setup(run *r, const mist_train_config *cfg, const char *resume_dir, mist_err *err)
{
    int rc;
    mist_checkpoint ck = {0};
    int resumed = 0;
    if (resume_dir) {
        if ((rc = mist_checkpoint_read(resume_dir, &ck, err))) return rc;
        resumed = 1;
        r->c = ck.cfg;
        if (cfg) {
            r->c.steps = cfg->steps;
            r->c.ckpt_every_s = cfg->ckpt_every_s;
            r->c.threads = cfg->threads;
            r->c.stop_after = cfg->stop_after;
            r->c.prefetch = cfg->prefetch;
        }
        r->c.dump_dir[0] = '\0';
        r->c.dump_steps = 0;
        if (ck.step > r->c.steps) {
            mist_checkpoint_free(&ck);
            return mist_fail(err, MIST_EINVAL, "the checkpoint is at step %lld, beyond --steps %lld",
                             (long long)ck.step, (long long)r->c.steps);
        }
    } else {
        r->c = *cfg;
        if (r->c.n_max > 0) r->c.arch.n_min = r->c.n_min, r->c.arch.n_max = r->c.n_max;
    }
    if (r->dist) r->c.dump_dir[0] = '\0'; /* a dump shows whole batches; a rank holds a share */
    if ((rc = mist_train_config_validate(&r->c, err))) goto fail;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", r->out, MIST_CKPT_FILE);
    if (!resumed && access(path, F_OK) == 0) {
        rc = mist_fail(err, MIST_EINVAL, "'%s' holds a checkpoint already: continue it with "
                       "--resume, or train into another folder", r->out);
        goto fail;
    }
    if ((rc = make_dir(r->out, err))) goto fail;
    if ((rc = mist_infer_set_threads(r->c.threads, err))) goto fail;
    r->model = resumed ? mist_model_create(&r->c.arch, err)
                       : mist_model_create_random(&r->c.arch, mist_seed_derive(r->c.seed, TAG_INIT), err);
    if (!r->model) {
        rc = err ? err->code : MIST_EINVAL;
        goto fail;
    }
    mist_model_set_col_canon(r->model, r->c.col_canon); /* validation reads as inference does */
    size_t np = mist_model_param_count(r->model);
    r->grads = calloc(np, sizeof(float));
    r->m = calloc(np, sizeof(float));
    r->v = calloc(np, sizeof(float));
    r->decay = malloc(np);
    r->ex = calloc((size_t)r->c.batch, sizeof *r->ex);
    if (!r->grads || !r->m || !r->v || !r->decay || !r->ex) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for %zu parameters", np);
        goto fail;
    }
    mist_decay_mask(r->model, r->decay);
    r->st.val_mse = r->st.val_pinball = r->st.last_loss = NAN;
    if (!resumed && r->c.init_from[0] && (rc = init_from_weights(r->model, r->c.init_from, err)))
        goto fail;
    if (resumed) {
        memcpy(mist_model_params(r->model), ck.params, np * sizeof(float));
        memcpy(r->m, ck.m, np * sizeof(float));
        memcpy(r->v, ck.v, np * sizeof(float));
        r->st.step = ck.step;
        r->st.elapsed_s = ck.elapsed_s;
        r->st.last_loss = ck.last_loss;
        r->st.val_mse = ck.val_mse;
        r->st.val_pinball = ck.val_pinball;
        r->st.datasets = ck.datasets;
        r->st.n_seen_min = ck.n_seen_min;
        r->st.n_seen_max = ck.n_seen_max;
        r->st.d_seen_min = ck.d_seen_min;
        r->st.d_seen_max = ck.d_seen_max;
    }
    mist_checkpoint_free(&ck);
    if (!(r->ws = mist_train_ws_alloc(r->model, err))) return err ? err->code : MIST_ENOMEM;
    /* Splitting a batch over workers (one BLAS thread each) beats BLAS threads here: measured
     * 1.8-2x on 2 cores, where a second OpenBLAS thread gave nothing. */
    if (r->c.threads > 1 && (rc = mist_train_ws_set_workers(r->ws, r->c.threads, err))) return rc;
    if (!(r->stream = mist_stream_create(&r->c, err))) return err ? err->code : MIST_EINVAL;
    if (r->dist) {
        size_t lo, hi;
        mist_train_dist_share((size_t)r->c.batch, r->dist->rank, r->dist->size, &lo, &hi);
        mist_stream_set_share(r->stream, lo, hi);
    }
    if (r->c.val_count > 0 && (rc = mist_stream_validation(&r->c, &r->val, &r->nval, err)))
        return rc;
    snprintf(path, sizeof path, "%s/train.csv", r->out);
    int fresh = !resumed || access(path, F_OK) != 0;
    if (!fresh && (rc = trim_log(path, r->st.step, err))) return rc;
    r->csv = fopen(path, fresh ? "w" : "a");
    if (!r->csv) return mist_fail(err, MIST_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (fresh) fprintf(r->csv, "step,elapsed_s,lr,train_loss,grad_norm,val_mse,val_pinball,datasets_per_s,gflops\n");
    if (r->c.dump_dir[0] && r->c.dump_steps > 0) {
        if ((rc = make_dir(r->c.dump_dir, err))) return rc;
        snprintf(path, sizeof path, "%s/init.msgpack", r->c.dump_dir);
        if ((rc = mist_model_save(r->model, path, err))) return rc;
        snprintf(path, sizeof path, "%s/run.json", r->c.dump_dir);
        FILE *jf = fopen(path, "w");
        if (!jf) return mist_fail(err, MIST_EIO, "cannot write '%s'", path);
        const mist_train_config *c = &r->c;
        fprintf(jf, "{\"loss\": \"%s\", \"steps\": %lld, \"warmup\": %lld, \"lr\": %.17g, "
                    "\"lr_floor\": %.17g, \"wd\": %.17g, \"clip\": %.17g, \"beta1\": %.17g, "
                    "\"beta2\": %.17g, \"eps\": %.17g, \"batch\": %d}\n",
                c->loss == MIST_LOSS_PINBALL ? "pinball" : "mse", (long long)c->steps,
                (long long)c->warmup, c->lr, c->lr_floor, c->wd, c->clip, c->beta1, c->beta2,
                c->eps, c->batch);
        if (fclose(jf)) return mist_fail(err, MIST_EIO, "cannot write '%s'", path);
        snprintf(path, sizeof path, "%s/batches.csv", r->c.dump_dir);
        r->dump_csv = fopen(path, "w");
        if (!r->dump_csv) return mist_fail(err, MIST_EIO, "cannot write '%s'", path);
        fprintf(r->dump_csv, "step,index,file,n,dx,dy,mi,tau,pred,loss\n");
    }
    return MIST_OK;
fail:
    mist_checkpoint_free(&ck);
    return rc;
}

void mist_train_dist_share(size_t B, int rank, int size, size_t *lo, size_t *hi)
{
    *lo = B * (size_t)rank / (size_t)size;
    *hi = B * (size_t)(rank + 1) / (size_t)size;
}

/* Rank 0's run (configuration, state, weights, optimizer moments) to every other rank, which
 * builds its own model, optimizer and share of the stream from it: only rank 0 reads files. */
static int share_run(run *r, mist_err *err)
{
    mist_train_dist *d = r->dist;
    int rc = d->bcast(d, &r->c, sizeof r->c, err);
    if (!rc) rc = d->bcast(d, &r->st, sizeof r->st, err);
    if (rc) return rc;
    int peer = d->rank != 0;
    if (peer) {
        r->st.params = r->st.m = r->st.v = NULL;
        rc = mist_infer_set_threads(r->c.threads, err);
        if (!rc && !(r->model = mist_model_create(&r->c.arch, err))) rc = err ? err->code : 1;
        if (!rc) mist_model_set_col_canon(r->model, r->c.col_canon);
        size_t np = r->model ? mist_model_param_count(r->model) : 0;
        if (!rc) {
            r->grads = calloc(np, sizeof(float));
            r->m = calloc(np, sizeof(float));
            r->v = calloc(np, sizeof(float));
            r->decay = malloc(np);
            r->ex = calloc((size_t)r->c.batch, sizeof *r->ex);
            if (!r->grads || !r->m || !r->v || !r->decay || !r->ex)
                rc = mist_fail(err, MIST_ENOMEM, "out of memory for %zu parameters", np);
        }
        if (!rc) mist_decay_mask(r->model, r->decay);
        if (!rc && !(r->ws = mist_train_ws_alloc(r->model, err))) rc = err ? err->code : 1;
        if (!rc && !(r->stream = mist_stream_create(&r->c, err))) rc = err ? err->code : 1;
        if (!rc) {
            size_t lo, hi;
            mist_train_dist_share((size_t)r->c.batch, d->rank, d->size, &lo, &hi);
            mist_stream_set_share(r->stream, lo, hi);
        }
    }
    if ((rc = d->agree(d, rc, err))) return rc;
    size_t bytes = mist_model_param_count(r->model) * sizeof(float);
    rc = d->bcast(d, mist_model_params(r->model), bytes, err);
    if (!rc) rc = d->bcast(d, r->m, bytes, err);
    if (!rc) rc = d->bcast(d, r->v, bytes, err);
    return rc;
}

int mist_train_run(const mist_train_config *cfg, const char *out_dir, const char *resume_dir,
                   mist_train_progress_fn cb, void *user, mist_err *err)
{
    return mist_train_run_dist(cfg, out_dir, resume_dir, NULL, cb, user, err);
}

int mist_train_run_dist(const mist_train_config *cfg, const char *out_dir, const char *resume_dir,
                        mist_train_dist *d, mist_train_progress_fn cb, void *user, mist_err *err)
{
    if (!cfg && !resume_dir) return mist_fail(err, MIST_EINVAL, "no configuration and no resume");
    if (d && (d->size < 1 || d->rank < 0 || d->rank >= d->size || !d->grad || !d->bcast ||
              !d->agree))
        return mist_fail(err, MIST_EINVAL, "an incomplete data-parallel transport");
    run r;
    memset(&r, 0, sizeof r);
    r.out = out_dir;
    r.dist = d;
    const int root = !d || d->rank == 0;
    if (!root) cb = NULL; /* rank 0 reports */
    int rc = root ? setup(&r, cfg, resume_dir, err) : MIST_OK;
    if (d && !(rc = d->agree(d, rc, err))) rc = share_run(&r, err);
    if (rc) {
        run_free(&r);
        return rc;
    }
    const mist_train_config *c = &r.c;
    size_t np = mist_model_param_count(r.model);
    const size_t B = (size_t)c->batch;
    double *preds = calloc(B, sizeof *preds);
    if (!preds) {
        run_free(&r);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    const int64_t start = r.st.step;
    const double t0 = mist_clock_s(), base_elapsed = r.st.elapsed_s;
    double last_ckpt = t0, win_t = t0, win_loss = 0, win_gn = 0;
    mist_train_timing *timing = mist_train_ws_timing(r.ws);
    /* under a dist the gradients are computed in its own workspaces: it counts the flops */
#define RUN_FLOPS() (d ? d->flops : timing ? timing->flops : 0)
    double flops0 = RUN_FLOPS(), win_flops0 = flops0;
    int64_t win_steps = 0;
    const int64_t log_every = c->steps <= 2000 ? 1 : 10;
    mist_train_progress pr = {0};
    pr.steps = c->steps;
    pr.val_mse = r.st.val_mse;
    pr.val_pinball = r.st.val_pinball;
    char ckpath[4096] = "";
    int stop = 0;
    if (start == 0 && r.nval) { /* the baseline: validation of the initial weights */
        rc = mist_validate(r.model, r.val, r.nval, &r.st.val_mse, &r.st.val_pinball, err);
        if (!rc) {
            fprintf(r.csv, "0,0,0,,,%.9g,%.9g,,\n", r.st.val_mse, r.st.val_pinball);
            fflush(r.csv);
            pr.event = MIST_TRAIN_EV_VAL;
            pr.val_mse = r.st.val_mse;
            pr.val_pinball = r.st.val_pinball;
            pr.loss = NAN;
            if (cb) cb(&pr, user); /* no stop here: there is no checkpoint to stop at yet */
        }
    }
    if (d) rc = d->agree(d, rc, err);
    for (int64_t step = start; step < c->steps && !stop && !rc; step++) {
        double lr = mist_lr_at(step, c->steps, c->warmup, c->lr, c->lr_floor);
        const mist_batch *b;
        rc = mist_stream_get(r.stream, step, &b, err);
        if (d) rc = d->agree(d, rc, err);
        if (rc) break;
        for (size_t i = 0; i < B; i++) {
            const mist_dataset *ds = b->sets[i];
            if (!ds) { /* another rank's */
                r.ex[i] = (mist_train_example){NULL, 0, 0, 0, 0, b->tau[i]};
                continue;
            }
            r.ex[i] = (mist_train_example){ds->data, ds->n, ds->dx, ds->dy, ds->meta.mi, b->tau[i]};
            int64_t n = (int64_t)ds->n, dlo = ds->dx < ds->dy ? ds->dx : ds->dy,
                    dhi = ds->dx > ds->dy ? ds->dx : ds->dy;
            if (!r.st.n_seen_min || n < r.st.n_seen_min) r.st.n_seen_min = n;
            if (n > r.st.n_seen_max) r.st.n_seen_max = n;
            if (!r.st.d_seen_min || dlo < r.st.d_seen_min) r.st.d_seen_min = dlo;
            if (dhi > r.st.d_seen_max) r.st.d_seen_max = dhi;
        }
        memset(r.grads, 0, np * sizeof(float));
        double loss = 0;
        if (d) {
            int64_t seen[4] = {r.st.n_seen_min, r.st.n_seen_max, r.st.d_seen_min, r.st.d_seen_max};
            rc = d->grad(d, r.model, r.ex, B, c->loss, r.grads, &loss, preds, seen, err);
            r.st.n_seen_min = seen[0], r.st.n_seen_max = seen[1];
            r.st.d_seen_min = seen[2], r.st.d_seen_max = seen[3];
        } else rc = mist_train_grad(r.model, r.ws, r.ex, B, c->loss, r.grads, &loss, preds, err);
        if (rc) break;
        if (!isfinite(loss)) {
            rc = mist_fail(err, MIST_ENUMERIC, "the training loss is not finite at step %lld",
                           (long long)step);
            break;
        }
        /* sum_head's readout (the last D parameters) is clipped on its own: its gradient sums
         * over up to dx dy cross tokens and would otherwise set every other tensor's clip
         * factor (measured: global norms 5-60 instead of 1.5-3). grad_norm logs the rest. */
        size_t nsep = mist_model_arch(r.model)->sum_head ? (size_t)mist_model_arch(r.model)->D : 0;
        double gn = mist_clip_grad_norm(r.grads, np - nsep, c->clip);
        if (nsep && !isfinite(mist_clip_grad_norm(r.grads + np - nsep, nsep, c->clip))) gn = NAN;
        if (!isfinite(gn)) {
            rc = mist_fail(err, MIST_ENUMERIC, "the gradient is not finite at step %lld",
                           (long long)step);
            break;
        }
        mist_adamw_update(mist_model_params(r.model), r.grads, r.m, r.v, r.decay, np, lr,
                          c->beta1, c->beta2, c->eps, c->wd, step + 1);
        if (r.dump_csv && step < c->dump_steps && (rc = dump_batch(&r, b, preds, loss, err))) break;
        r.st.step = step + 1;
        r.st.datasets += B;
        win_loss += loss;
        win_gn += gn;
        win_steps++;
        double t = mist_clock_s();
        int last = r.st.step == c->steps || (c->stop_after > 0 && r.st.step >= c->stop_after);
        int do_val = r.nval && (r.st.step % c->val_every == 0 || last);
        int do_log = root && (r.st.step % log_every == 0 || last || do_val);
        pr.event = MIST_TRAIN_EV_STEP;
        pr.step = r.st.step;
        pr.elapsed_s = base_elapsed + (t - t0);
        pr.lr = lr;
        pr.loss = loss;
        pr.grad_norm = gn;
        pr.datasets_per_s = (double)(r.st.step - start) * (double)B / (t - t0 + 1e-9);
        pr.eta_s = (double)(c->steps - r.st.step) * (t - t0) / (double)(r.st.step - start);
        double flops = RUN_FLOPS();
        pr.gflops = (flops - flops0) / (t - t0 + 1e-9) / 1e9;
        if (do_val) {
            if ((rc = mist_validate(r.model, r.val, r.nval, &r.st.val_mse, &r.st.val_pinball, err)))
                goto step_end;
            pr.val_mse = r.st.val_mse;
            pr.val_pinball = r.st.val_pinball;
        }
        if (do_log) {
            double wl = win_loss / (double)win_steps;
            r.st.last_loss = wl;
            double dps = (double)win_steps * (double)B / (t - win_t + 1e-9);
            fprintf(r.csv, "%lld,%.3f,%.9g,%.9g,%.6g,", (long long)r.st.step, pr.elapsed_s, lr, wl,
                    win_gn / (double)win_steps);
            if (do_val) fprintf(r.csv, "%.9g,%.9g,", r.st.val_mse, r.st.val_pinball);
            else fprintf(r.csv, ",,");
            fprintf(r.csv, "%.2f,%.3f\n", dps, (flops - win_flops0) / (t - win_t + 1e-9) / 1e9);
            win_flops0 = flops;
            fflush(r.csv);
            win_loss = win_gn = 0;
            win_steps = 0;
            win_t = t;
        }
        if (cb && cb(&pr, user)) stop = 1;
        if (do_val) {
            pr.event = MIST_TRAIN_EV_VAL;
            if (cb && cb(&pr, user)) stop = 1;
        }
        if (root && (last || stop || (c->ckpt_every_s > 0 && t - last_ckpt >= c->ckpt_every_s))) {
            if ((rc = write_ckpt(&r, base_elapsed + (t - t0), ckpath, sizeof ckpath, err)))
                goto step_end;
            last_ckpt = t;
            pr.event = MIST_TRAIN_EV_CKPT;
            pr.path = ckpath;
            if (cb && cb(&pr, user)) stop = 1;
            pr.path = NULL;
        }
        if (c->stop_after > 0 && r.st.step >= c->stop_after) stop = 1;
    step_end:
        if (d) { /* rank 0's word (stop, or its failure) holds for every rank */
            int ctl[2] = {stop, rc};
            int brc = d->bcast(d, ctl, sizeof ctl, err);
            if (brc) rc = brc;
            else {
                stop = ctl[0];
                if (ctl[1] && !rc) rc = mist_fail(err, MIST_EIO, "rank 0 stopped the run (see its message)");
            }
        }
    }
    if (!rc && root && start == c->steps) /* nothing to do: still leave a checkpoint */
        rc = write_ckpt(&r, base_elapsed, ckpath, sizeof ckpath, err);
    if (!rc && root && r.st.step == c->steps) {
        char path[4096];
        snprintf(path, sizeof path, "%s/model.msgpack", r.out);
        mist_checkpoint ck = r.st;
        ck.cfg = r.c;
        ck.elapsed_s = base_elapsed + (mist_clock_s() - t0);
        ck.nparams = np;
        ck.params = mist_model_params(r.model);
        ck.m = r.m;
        ck.v = r.v;
        rc = export_ck(&ck, path, err);
        if (!rc && cb) {
            pr.event = MIST_TRAIN_EV_DONE;
            pr.path = path;
            pr.step = r.st.step;
            cb(&pr, user);
        }
    }
    free(preds);
    run_free(&r);
    return rc;
}
