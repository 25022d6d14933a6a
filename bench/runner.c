/* mist_bench_run: datasets in parallel over worker threads, every estimator on each, one whole
 * results line per (dataset, estimator) appended with a single write() as soon as it is known.
 * Rerunning into the same folder skips the pairs already in the results file, after dropping a
 * partial last line. A complete (unsharded) run then sorts results.csv and writes the summary. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "bench_internal.h"
#include "util.h"

#define SEED_STREAM_BENCH 0x62656e6368ULL /* "bench": the estimators' seed per dataset */

static const char *const NONE_ONLY[] = {"none"};

void mist_bench_opts_default(mist_bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->ci = 0.9;
    o->plots = 1;
}

typedef struct run_state {
    const mist_bench_opts *o;
    const bench_suite *suite;
    const bench_est_rt *rt;
    size_t nest;
    const char *const *tr; /* transforms */
    size_t ntr;
    const size_t *todo; /* dataset indices to run */
    size_t ntodo;
    unsigned char *done; /* [(dataset * ntr + t) * nest + e]: already in the file */
    int fd;
    const char *path;
    pthread_mutex_t lock;
    size_t next, finished, new_rows, failed_rows;
    int fatal;
    mist_err err;
} run_state;

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Appends one row: the whole line in one write() (O_APPEND), under the lock. */
static int append_row(run_state *st, bench_row *row)
{
    char line[BENCH_LINE_MAX];
    int len = bench_row_format(row, line, sizeof line);
    if (len < 0) { /* an overlong error message: shorten it */
        row->status[120] = '\0';
        len = bench_row_format(row, line, sizeof line);
    }
    if (len < 0) return mist_fail(&st->err, MIST_EINVAL, "a results row is too long");
    /* A write can stop part-way (disk full, file size limit): cut the file back to its length
     * before this row, so that it never ends in a torn line. */
    off_t before = lseek(st->fd, 0, SEEK_END);
    if (write_all(st->fd, line, (size_t)len)) {
        int saved = errno;
        if (before >= 0) (void)!ftruncate(st->fd, before);
        return mist_fail(&st->err, MIST_EIO, "cannot append to '%s': %s", st->path,
                         strerror(saved));
    }
    return MIST_OK;
}

/* A copy of src with the transform applied (the dataset itself for "none"). */
static int transformed(const mist_dataset *src, const char *name, uint64_t seed,
                       mist_dataset **out, mist_err *err)
{
    *out = mist_dataset_alloc(src->n, src->dx, src->dy, err);
    if (!*out) return err ? err->code : MIST_ENOMEM;
    memcpy((*out)->data, src->data, src->n * ((size_t)src->dx + (size_t)src->dy) * sizeof(double));
    int rc = mist_meta_copy(&(*out)->meta, &src->meta, err);
    if (!rc) rc = mist_mipt_apply(*out, name, seed, err);
    if (rc) {
        mist_dataset_free(*out);
        *out = NULL;
    }
    return rc;
}

/* The transform row i reports under the bench's transform t: t itself, or, for a suite folder
 * whose datasets were written transformed (its manifest's transform column), that chain first:
 * "flow" under none, "flow+rotate" under rotate (both are applied: gen's, then the bench's).
 * MIST_EINVAL when the label does not fit the results' column (mist_bench_run checks every row
 * before it runs; later calls pass err NULL). */
static int row_transform(const bench_suite *s, size_t i, const char *t, char *buf,
                         mist_err *err)
{
    const char *pre = s->is_manifest ? s->mrows[i].transform : "";
    int w;
    if (!pre[0] || !strcmp(pre, "none")) w = snprintf(buf, BENCH_TRANSFORM_LEN, "%s", t);
    else if (!strcmp(t, "none")) w = snprintf(buf, BENCH_TRANSFORM_LEN, "%s", pre);
    else w = snprintf(buf, BENCH_TRANSFORM_LEN, "%s+%s", pre, t);
    if (w < 0 || w >= BENCH_TRANSFORM_LEN || strchr(buf, ','))
        return mist_fail(err, MIST_EINVAL,
                         "dataset %s: the transform label '%s%s%s' (its manifest's, then the "
                         "bench's) is longer than %d characters",
                         bench_suite_id(s, i), pre, pre[0] ? "+" : "", t,
                         BENCH_TRANSFORM_LEN - 1);
    return MIST_OK;
}

static void *worker(void *arg)
{
    run_state *st = arg;
    mist_model **models = calloc(st->nest ? st->nest : 1, sizeof *models);
    for (;;) {
        pthread_mutex_lock(&st->lock);
        size_t k = st->next++;
        int stop = st->fatal || k >= st->ntodo || !models;
        pthread_mutex_unlock(&st->lock);
        if (stop) break;
        size_t i = st->todo[k];
        bench_row proto;
        bench_suite_describe(st->suite, i, &proto);
        mist_dataset *base = NULL;
        mist_err err = {0};
        int lrc = bench_suite_load(st->suite, i, &base, &proto, &err);
        uint64_t seed = mist_seed_derive(proto.seed, SEED_STREAM_BENCH);
        uint64_t score_seed = mist_seed_derive(proto.seed, MIST_BENCH_SCORE_STREAM);
        uint64_t mipt_seed = mist_mipt_seed(proto.seed); /* as `mist gen --transform` */
        for (size_t t = 0; t < st->ntr; t++) {
            const unsigned char *done = st->done + (i * st->ntr + t) * st->nest;
            size_t e0 = 0;
            while (e0 < st->nest && done[e0]) e0++;
            if (e0 == st->nest) continue;
            bench_row tproto = proto;
            row_transform(st->suite, i, st->tr[t], tproto.transform, NULL); /* fits: checked */
            mist_dataset *ds = NULL;
            mist_err terr = err;
            int trc = lrc;
            if (!trc) trc = transformed(base, st->tr[t], mipt_seed, &ds, &terr);
            if (!trc) {
                tproto.dx = ds->dx;
                tproto.dy = ds->dy;
            }
            for (size_t e = 0; e < st->nest; e++) {
                if (done[e]) continue;
                bench_row row = tproto;
                if (trc) {
                    snprintf(row.label, sizeof row.label, "%s", st->rt[e].spec->label);
                    row.estimate = row.lower = row.upper = row.sq_err = NAN;
                    row.scored = 0;
                    snprintf(row.status, sizeof row.status, "%s: %.360s",
                             lrc ? "dataset" : "transform", terr.msg);
                    bench_sanitize(row.status);
                } else {
                    if (st->rt[e].is_mist && !models[e]) {
                        mist_err merr = {0};
                        models[e] = mist_model_open(st->rt[e].spec->weights, &merr);
                        if (models[e]) {
                            mist_model_set_raw_quantiles(models[e], st->rt[e].spec->raw_quantiles);
                            if (st->rt[e].spec->col_canon >= 0)
                                mist_model_set_col_canon(models[e], st->rt[e].spec->col_canon);
                            if (!st->rt[e].spec->route) mist_model_set_route(models[e], NULL, 0, NULL);
                            if (st->rt[e].spec->row_chunk >= 0)
                                mist_model_set_row_chunk(models[e],
                                                         (size_t)st->rt[e].spec->row_chunk);
                        }
                    }
                    bench_est_rt_run(&st->rt[e], models[e], ds, seed, score_seed,
                                     st->o->bootstrap, st->o->ci, st->o->score_bootstrap, &row);
                }
                pthread_mutex_lock(&st->lock);
                int rc = st->fatal ? 0 : append_row(st, &row);
                if (rc) st->fatal = rc;
                else if (!st->fatal) {
                    st->new_rows++;
                    st->failed_rows += !bench_row_ok(&row);
                }
                pthread_mutex_unlock(&st->lock);
            }
            mist_dataset_free(ds);
        }
        mist_dataset_free(base);
        pthread_mutex_lock(&st->lock);
        st->finished++;
        pthread_mutex_unlock(&st->lock);
    }
    if (!models) {
        pthread_mutex_lock(&st->lock);
        if (!st->fatal) st->fatal = mist_fail(&st->err, MIST_ENOMEM, "out of memory");
        pthread_mutex_unlock(&st->lock);
    }
    for (size_t e = 0; models && e < st->nest; e++) mist_model_free(models[e]);
    free(models);
    return NULL;
}

static int check_opts(const mist_bench_opts *o, mist_err *err)
{
    if (!o || !o->suite || !*o->suite) return mist_fail(err, MIST_EINVAL, "no suite given");
    if (!o->out_dir || !*o->out_dir) return mist_fail(err, MIST_EINVAL, "no output folder given");
    if (!o->est || o->nest == 0) return mist_fail(err, MIST_EINVAL, "no estimators given");
    if (o->threads < 1 || o->threads > 256)
        return mist_fail(err, MIST_EINVAL, "threads must be in 1..256 (got %d)", o->threads);
    if (o->shard_n > 1 && (o->shard_i < 0 || o->shard_i >= o->shard_n))
        return mist_fail(err, MIST_EINVAL, "shard %d/%d: want 0 <= i < N", o->shard_i, o->shard_n);
    if (o->shard_n < 0) return mist_fail(err, MIST_EINVAL, "shard count must be >= 1");
    if (o->bootstrap < 0) return mist_fail(err, MIST_EINVAL, "bootstrap must be >= 0");
    if (o->score_bootstrap < 0 || o->score_bootstrap > 1000000)
        return mist_fail(err, MIST_EINVAL, "score bootstrap: B must be in 1..1000000 (got %d)",
                         o->score_bootstrap);
    if (o->ntransforms && !o->transforms)
        return mist_fail(err, MIST_EINVAL, "transforms: NULL list");
    for (size_t i = 0; i < o->ntransforms; i++) {
        int rc = mist_mipt_check(o->transforms[i], err);
        if (rc) return rc;
        if (strlen(o->transforms[i]) >= BENCH_TRANSFORM_LEN || strchr(o->transforms[i], ','))
            return mist_fail(err, MIST_EINVAL, "transform '%s': too long or holds a comma",
                             o->transforms[i]);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(o->transforms[i], o->transforms[j]))
                return mist_fail(err, MIST_EINVAL, "transform '%s' is listed twice",
                                 o->transforms[i]);
    }
    if (!(o->ci > 0 && o->ci < 1))
        return mist_fail(err, MIST_EINVAL, "ci must lie strictly between 0 and 1 (got %g)", o->ci);
    for (size_t i = 0; i < o->nest; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(o->est[i].label, o->est[j].label))
                return mist_fail(err, MIST_EINVAL, "estimator '%s' is listed twice",
                                 o->est[i].label);
    return MIST_OK;
}

typedef struct id_ix {
    const char *id;
    size_t i;
} id_ix;

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const id_ix *)a)->id, ((const id_ix *)b)->id);
}

/* Marks the (dataset, transform, estimator) triples of this suite already in rows. */
static int mark_done(const bench_suite *s, const char *const *tr, size_t ntr,
                     const bench_est_rt *rt, size_t nest, const bench_row *rows, size_t nrows,
                     unsigned char *done, mist_err *err)
{
    id_ix *ix = malloc((s->count ? s->count : 1) * sizeof *ix);
    if (!ix) return mist_fail(err, MIST_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->count; i++) ix[i] = (id_ix){bench_suite_id(s, i), i};
    if (s->count > 1) qsort(ix, s->count, sizeof *ix, cmp_id);
    for (size_t r = 0; r < nrows; r++) {
        if (strcmp(rows[r].suite, s->name)) continue;
        id_ix key = {rows[r].id, 0};
        id_ix *hit = bsearch(&key, ix, s->count, sizeof *ix, cmp_id);
        if (!hit) continue;
        for (size_t t = 0; t < ntr; t++) {
            char label[BENCH_TRANSFORM_LEN];
            row_transform(s, hit->i, tr[t], label, NULL); /* fits: checked before */
            if (strcmp(rows[r].transform, label)) continue;
            for (size_t e = 0; e < nest; e++)
                if (!strcmp(rows[r].label, rt[e].spec->label))
                    done[(hit->i * ntr + t) * nest + e] = 1;
        }
    }
    free(ix);
    return MIST_OK;
}

/* Opens (creating) the results file under an exclusive lock, drops a partial last line and
 * makes sure the header is there; returns the existing rows. */
static int open_results(const char *path, int *fd_out, bench_row **rows, size_t *nrows,
                        int *dropped, mist_err *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) return mist_fail(err, MIST_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return mist_fail(err, MIST_EIO,
                             "'%s' is in use by another mist bench (one run per results file; "
                             "use --shard i/N to split a suite over processes)",
                             path);
        return mist_fail(err, MIST_EIO, "cannot lock '%s': %s", path, strerror(e));
    }
    int exists = 0, partial = 0;
    off_t good = 0;
    int rc = bench_results_read(path, rows, nrows, &exists, &partial, &good, err);
    if (rc) {
        close(fd);
        return rc;
    }
    *dropped = partial;
    if (partial && ftruncate(fd, good) != 0) rc = MIST_EIO;
    if (!rc && good == 0 && write_all(fd, BENCH_HEADER "\n", strlen(BENCH_HEADER) + 1))
        rc = MIST_EIO;
    if (rc) {
        rc = mist_fail(err, MIST_EIO, "cannot prepare '%s': %s", path, strerror(errno));
        free(*rows);
        *rows = NULL;
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return MIST_OK;
}

/* After a complete unsharded run: results.csv sorted and deduplicated, summary and plots. */
static int finish_run(const char *dir, const char *path, const bench_runinfo *ri, int plots,
                      mist_bench_report *rep, mist_err *err)
{
    bench_row *rows = NULL;
    size_t n = 0;
    int exists, partial;
    off_t good;
    int rc = bench_results_read(path, &rows, &n, &exists, &partial, &good, err);
    if (rc) return rc;
    bench_rows_canonical(rows, &n, ri);
    rc = bench_results_write(path, rows, n, err);
    if (!rc) rc = bench_finish(dir, rows, n, ri, plots, rep, err);
    rep->total_rows = n;
    free(rows);
    return rc;
}

int mist_bench_run(const mist_bench_opts *o, mist_bench_report *rep, mist_err *err)
{
    mist_bench_report dummy;
    if (!rep) rep = &dummy;
    memset(rep, 0, sizeof *rep);
    int rc = check_opts(o, err);
    if (rc) return rc;

    bench_est_rt *rt = calloc(o->nest, sizeof *rt);
    if (!rt) return mist_fail(err, MIST_ENOMEM, "out of memory");
    for (size_t e = 0; e < o->nest && !rc; e++) {
        rc = bench_est_rt_init(&rt[e], &o->est[e], o->ci, err);
        if (rc && err) {
            char msg[MIST_ERRMSG_LEN];
            snprintf(msg, sizeof msg, "%s", err->msg);
            mist_fail(err, rc, "estimator '%s': %s", o->est[e].label, msg);
        }
    }
    /* each estimate single-threaded: the parallelism is over datasets */
    int any_mist = 0;
    for (size_t e = 0; e < o->nest && !rc; e++) any_mist |= rt[e].is_mist;
    if (!rc && any_mist) rc = mist_infer_set_threads(1, err);
    bench_suite suite;
    memset(&suite, 0, sizeof suite);
    if (!rc) rc = bench_suite_open(o, &suite, err);
    if (rc) {
        free(rt);
        return rc;
    }
    snprintf(rep->suite, sizeof rep->suite, "%s", suite.name);

    const char *const *tr = o->ntransforms ? o->transforms : NONE_ONLY;
    size_t ntr = o->ntransforms ? o->ntransforms : 1;
    size_t per_dataset = ntr * o->nest;
    bench_runinfo ri;
    memset(&ri, 0, sizeof ri);
    size_t *todo = NULL;
    unsigned char *done = NULL;
    bench_row *rows = NULL;
    size_t nrows = 0;
    int fd = -1, found = 0, sharded = o->shard_n > 1;
    char path[BENCH_PATH_LEN + 64];

    rc = bench_mkdir(o->out_dir, err);
    if (!rc) rc = bench_runinfo_read(o->out_dir, &ri, &found, err);
    if (!rc) {
        bench_suite_info si;
        memset(&si, 0, sizeof si);
        snprintf(si.suite, sizeof si.suite, "%s", suite.name);
        snprintf(si.source, sizeof si.source, "%s", suite.source);
        if (!suite.is_manifest) {
            si.seed_lo = o->seed_lo;
            si.seed_hi = o->seed_hi;
            si.n = o->n;
        }
        si.bootstrap = o->bootstrap;
        si.ci = o->ci;
        si.score_bootstrap = o->score_bootstrap;
        si.datasets = suite.count;
        rc = bench_runinfo_add_suite(&ri, &si, o->out_dir, err);
    }
    for (size_t e = 0; e < o->nest && !rc; e++) {
        const char *lab = o->est[e].label;
        /* a label stored before its estimator's answers were versioned (no fingerprint) */
        if (rt[e].fingerprint[0] && bench_runinfo_has_label(&ri, lab) &&
            !bench_runinfo_command(&ri, lab))
            rc = mist_fail(err, MIST_EINVAL,
                           "%s already holds rows of estimator '%s' made before its answers "
                           "were versioned (now %s); use another output folder",
                           o->out_dir, lab, rt[e].fingerprint);
        if (!rc) rc = bench_runinfo_add_label(&ri, lab, err);
        if (!rc && !strcmp(o->est[e].name, "cmd"))
            rc = bench_runinfo_add_command(&ri, lab, o->est[e].command, o->out_dir, err);
        if (!rc && rt[e].fingerprint[0])
            rc = bench_runinfo_add_command(&ri, lab, rt[e].fingerprint, o->out_dir, err);
    }
    for (size_t t = 0; t < ntr && !rc; t++)
        if (strcmp(tr[t], "none")) rc = bench_runinfo_add_transform(&ri, tr[t], err);
    if (!rc) {
        char name[64];
        if (sharded)
            snprintf(name, sizeof name, "results-shard-%d-of-%d.csv", o->shard_i, o->shard_n);
        else snprintf(name, sizeof name, "%s", BENCH_RESULTS);
        rc = bench_path(path, sizeof path, o->out_dir, name, err);
        bench_copy(rep->results_path, sizeof rep->results_path, path);
    }
    if (!rc) rc = open_results(path, &fd, &rows, &nrows, &rep->dropped_partial, err);
    if (!rc) rc = bench_runinfo_write(o->out_dir, &ri, err);
    if (!rc) {
        todo = malloc((suite.count ? suite.count : 1) * sizeof *todo);
        done = calloc(suite.count * per_dataset + 1, 1);
        if (!todo || !done) rc = mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < suite.count && !rc; i++) { /* every label fits, before any run */
        char label[BENCH_TRANSFORM_LEN];
        for (size_t t = 0; t < ntr && !rc; t++) rc = row_transform(&suite, i, tr[t], label, err);
    }
    if (!rc) rc = mark_done(&suite, tr, ntr, rt, o->nest, rows, nrows, done, err);

    run_state st;
    memset(&st, 0, sizeof st);
    if (!rc) {
        size_t ntodo = 0;
        for (size_t i = 0; i < suite.count; i++) {
            if (sharded && i % (size_t)o->shard_n != (size_t)o->shard_i) continue;
            rep->datasets++;
            int all = 1;
            for (size_t e = 0; e < per_dataset; e++) all &= done[i * per_dataset + e];
            if (all) rep->skipped_datasets++;
            else todo[ntodo++] = i;
        }
        st = (run_state){.o = o,
                         .suite = &suite,
                         .rt = rt,
                         .nest = o->nest,
                         .tr = tr,
                         .ntr = ntr,
                         .todo = todo,
                         .ntodo = ntodo,
                         .done = done,
                         .fd = fd,
                         .path = path};
        pthread_mutex_init(&st.lock, NULL);
        int nt = o->threads < (int)ntodo ? o->threads : (int)ntodo;
        pthread_t tids[256];
        int started = 0;
        for (int t = 0; t < nt; t++) {
            if (pthread_create(&tids[t], NULL, worker, &st) != 0) break;
            started++;
        }
        if (nt > 0 && started == 0)
            st.fatal = mist_fail(&st.err, MIST_EINVAL, "cannot start a worker thread");
        double t0 = mist_clock_s();
        for (;;) {
            pthread_mutex_lock(&st.lock);
            mist_bench_progress p = {st.finished, ntodo, rep->skipped_datasets, st.failed_rows,
                                     mist_clock_s() - t0};
            int end = st.finished >= ntodo || st.fatal;
            pthread_mutex_unlock(&st.lock);
            if (o->progress) o->progress(o->progress_ctx, &p);
            if (end) break;
            struct timespec nap = {0, 200 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
        for (int t = 0; t < started; t++) pthread_join(tids[t], NULL);
        pthread_mutex_destroy(&st.lock);
        rep->new_rows = st.new_rows;
        rep->failed_rows = st.failed_rows;
        if (st.fatal) {
            rc = st.fatal;
            if (err) *err = st.err;
        }
    }
    if (fd >= 0) {
        if (!rc && fsync(fd) != 0 && errno != EINVAL)
            rc = mist_fail(err, MIST_EIO, "cannot sync '%s': %s", path, strerror(errno));
        close(fd);
    }
    if (!rc && !sharded) rc = finish_run(o->out_dir, path, &ri, o->plots, rep, err);
    else if (!rc) rep->total_rows = nrows + rep->new_rows;
    free(rows);
    free(todo);
    free(done);
    bench_runinfo_free(&ri);
    bench_suite_close(&suite);
    free(rt);
    return rc;
}
