/* Out-of-memory fault injection in the style of SQLite's: this program is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup (tests/CMakeLists.txt), so every
 * allocation made by libmist's own code (and by this file) passes through the wrappers below,
 * while the library itself is the unchanged mist_static. For each entry point and every n from 1
 * until the call no longer meets the n-th allocation, the n-th allocation fails (once, then
 * again with every later allocation failing too); the call must fail with MIST_ENOMEM and a
 * message, or succeed, and never crash. Under ASan, LeakSanitizer checks at each forked test's
 * exit that the failed calls freed what they had allocated. Allocations inside OpenBLAS, GSL,
 * msgpack-c and libc are not counted: the wrap reaches only the objects linked here. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mist_classical.h"
#include "mist_io.h"
#include "mist_infer.h"
#include "mist_train.h"
#include "testutil.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);

/* 0: disarmed. Otherwise the allocation numbered fail_at (counting from 1 since arming) fails,
 * and with sticky every one after it as well. Atomic: estimators may allocate in threads. */
static atomic_long oom_count, oom_fail_at, oom_failed;
static atomic_int oom_sticky;

static int oom_should_fail(void)
{
    long at = atomic_load(&oom_fail_at);
    if (at <= 0) return 0;
    long k = atomic_fetch_add(&oom_count, 1) + 1;
    if (k == at || (k > at && atomic_load(&oom_sticky))) {
        atomic_fetch_add(&oom_failed, 1);
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t size) { return oom_should_fail() ? NULL : __real_malloc(size); }
void *__wrap_calloc(size_t nmemb, size_t size)
{
    return oom_should_fail() ? NULL : __real_calloc(nmemb, size);
}
void *__wrap_realloc(void *p, size_t size)
{
    return oom_should_fail() ? NULL : __real_realloc(p, size);
}
char *__wrap_strdup(const char *s) { return oom_should_fail() ? NULL : __real_strdup(s); }

static void oom_arm(long n, int sticky)
{
    atomic_store(&oom_count, 0);
    atomic_store(&oom_failed, 0);
    atomic_store(&oom_sticky, sticky);
    atomic_store(&oom_fail_at, n);
}

/* Disarms; returns how many allocations were refused. */
static long oom_disarm(void)
{
    atomic_store(&oom_fail_at, 0);
    return atomic_load(&oom_failed);
}

/* One entry point: setup and teardown run disarmed (inputs, and freeing what op returned), op
 * runs armed and returns a mist status. */
typedef struct oom_case {
    const char *name;
    void (*setup)(void *ctx);
    int (*op)(void *ctx, mist_err *err);
    void (*teardown)(void *ctx);
    void *ctx;
} oom_case;

/* A call that never ends would spin this loop forever; no entry point here comes near it. */
#define OOM_MAX_ALLOCS 200000

/* Runs c for n = 1, 2, ... in both modes; returns the allocations of one successful call. */
static long oom_run(const oom_case *c)
{
    long allocs = -1;
    for (int sticky = 0; sticky < 2; sticky++) {
        long n;
        for (n = 1; n < OOM_MAX_ALLOCS; n++) {
            if (c->setup) c->setup(c->ctx);
            mist_err err;
            memset(&err, 0, sizeof err);
            oom_arm(n, sticky);
            int rc = c->op(c->ctx, &err);
            long failed = oom_disarm();
            if (c->teardown) c->teardown(c->ctx);
            if (!failed) {
                ck_assert_msg(rc == MIST_OK, "%s: fails without an injected failure: %s", c->name,
                              err.msg);
                break;
            }
            if (rc != MIST_OK) {
                ck_assert_msg(rc == MIST_ENOMEM,
                              "%s: allocation %ld%s refused: status %d instead of MIST_ENOMEM "
                              "(%s)", c->name, n, sticky ? " and later ones" : "", rc, err.msg);
                ck_assert_msg(err.msg[0], "%s: allocation %ld refused: no message", c->name, n);
            }
        }
        ck_assert_msg(n < OOM_MAX_ALLOCS, "%s: more than %d allocations", c->name,
                      OOM_MAX_ALLOCS);
        allocs = n - 1;
    }
    ck_assert_msg(allocs > 0, "%s: the call allocates nothing through the wrap", c->name);
    fprintf(stderr, "oom: %-24s %ld allocations, each refused (once, then onwards): clean\n",
            c->name, allocs);
    return allocs;
}

/* ---- inputs -------------------------------------------------------------------------------- */

static mist_dataset *sample_dataset(const char *task, int dx, int dy, size_t n)
{
    mist_err err;
    mist_task *t = tu_make_task(task, dx, dy, NULL, 5);
    mist_dataset *ds = mist_dataset_alloc(n, mist_task_out_dx(t), mist_task_out_dy(t), &err);
    ck_assert_msg(ds != NULL, "%s", err.msg);
    ck_assert_msg(mist_task_sample(t, n, 11, ds->data, &err) == 0, "%s", err.msg);
    ds->meta.mi = mist_task_mi(t);
    snprintf(ds->meta.task, sizeof ds->meta.task, "%s", mist_task_name(t));
    ds->meta.seed = 11, ds->meta.has_seed = 1;
    ck_assert_int_eq(mist_meta_set_param(&ds->meta, "rho", 0.5, &err), 0);
    mist_task_free(t);
    return ds;
}

static mist_model *random_model(const char *preset, int qc)
{
    mist_arch a;
    mist_err err;
    ck_assert_msg(mist_arch_preset(preset, &a, &err) == 0, "%s", err.msg);
    a.quantile_conditioned = qc;
    mist_model *m = mist_model_create_random(&a, 3, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    return m;
}

/* ---- model_open / model_estimate ----------------------------------------------------------- */

typedef struct model_ctx {
    char path[700];
    mist_model *m;
    const mist_dataset *ds;
    int qc;
} model_ctx;

static int op_model_open(void *p, mist_err *err)
{
    model_ctx *c = p;
    c->m = mist_model_open(c->path, err);
    return c->m ? MIST_OK : err->code;
}

static void free_model(void *p)
{
    model_ctx *c = p;
    mist_model_free(c->m);
    c->m = NULL;
}

static void open_model(void *p)
{
    model_ctx *c = p;
    mist_err err;
    c->m = mist_model_open(c->path, &err);
    ck_assert_msg(c->m != NULL, "%s", err.msg);
}

static int op_model_estimate(void *p, mist_err *err)
{
    model_ctx *c = p;
    static const double taus[] = {0.05, 0.5, 0.95};
    double out[3];
    return mist_model_estimate(c->m, c->ds->data, c->ds->n, c->ds->dx, c->ds->dy, taus,
                               c->qc ? 3 : 0, out, err);
}

START_TEST(test_oom_model)
{
    static const char *const presets[] = {"tiny", "pairs-tiny"};
    mist_dataset *ds = sample_dataset("normal-dense-base", 2, 2, 60);
    for (int i = 0; i < 2; i++) {
        model_ctx c = {.ds = ds, .qc = i == 0};
        mist_model *m = random_model(presets[i], c.qc);
        snprintf(c.path, sizeof c.path, "%s/m.msgpack", tu_tmpdir("oom-model"));
        mist_err err;
        ck_assert_msg(mist_model_save(m, c.path, &err) == 0, "%s", err.msg);
        mist_model_free(m);
        char name[64];
        snprintf(name, sizeof name, "model_open %s", presets[i]);
        oom_run(&(oom_case){name, NULL, op_model_open, free_model, &c});
        snprintf(name, sizeof name, "model_estimate %s", presets[i]);
        oom_run(&(oom_case){name, open_model, op_model_estimate, free_model, &c});
    }
    mist_dataset_free(ds);
}
END_TEST

/* ---- classical estimators ------------------------------------------------------------------ */

typedef struct classical_ctx {
    const char *method;
    const mist_dataset *ds;
    mist_est_opts o;
} classical_ctx;

static int op_classical(void *p, mist_err *err)
{
    classical_ctx *c = p;
    mist_est_result r;
    return mist_estimate_classical(c->method, c->ds->data, c->ds->n, c->ds->dx, c->ds->dy, &c->o,
                                   &r, err);
}

START_TEST(test_oom_classical)
{
    static const char *const methods[] = {"ksg1", "ksg2", "gaussian", "histogram", "kde"};
    mist_dataset *ds = sample_dataset("normal-dense-base", 2, 1, 120);
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        for (int extras = 0; extras < 2; extras++) {
            classical_ctx c = {.method = methods[i], .ds = ds};
            mist_est_opts_default(&c.o);
            /* the copula and a small bootstrap reach the resampling paths' allocations */
            if (extras) c.o.copula = 1, c.o.bootstrap = 4, c.o.ci = 0.9;
            char name[64];
            snprintf(name, sizeof name, "classical %s%s", methods[i], extras ? " +copula+boot" : "");
            oom_run(&(oom_case){name, NULL, op_classical, NULL, &c});
        }
    mist_dataset_free(ds);
}
END_TEST

/* ---- dataset readers ----------------------------------------------------------------------- */

typedef struct read_ctx {
    char path[700];
    mist_dataset *ds;
} read_ctx;

static int op_read(void *p, mist_err *err)
{
    read_ctx *c = p;
    return mist_dataset_read(&c->ds, c->path, MIST_FMT_AUTO, 0, err);
}

static void free_read(void *p)
{
    read_ctx *c = p;
    mist_dataset_free(c->ds);
    c->ds = NULL;
}

START_TEST(test_oom_dataset_read)
{
    static const char *const exts[] = {"npy", "csv", "msgpack"};
    mist_dataset *ds = sample_dataset("normal-dense-base", 2, 1, 40);
    const char *dir = tu_tmpdir("oom-read");
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
        read_ctx c = {0};
        snprintf(c.path, sizeof c.path, "%s/d.%s", dir, exts[i]);
        mist_err err;
        ck_assert_msg(mist_dataset_write(ds, c.path, MIST_FMT_AUTO, MIST_DTYPE_F64, &err) == 0,
                      "%s", err.msg);
        char name[64];
        snprintf(name, sizeof name, "dataset_read %s", exts[i]);
        oom_run(&(oom_case){name, NULL, op_read, free_read, &c});
    }
    mist_dataset_free(ds);
}
END_TEST

/* ---- generator ----------------------------------------------------------------------------- */

typedef struct task_ctx {
    const char *task;
    int dx, dy;
    double *buf;
} task_ctx;

static int op_task(void *p, mist_err *err)
{
    task_ctx *c = p;
    mist_task *t;
    int rc = mist_task_create(&t, c->task, c->dx, c->dy, NULL, 0, 9, err);
    if (rc) return rc;
    rc = mist_task_sample(t, 50, 4, c->buf, err);
    mist_task_free(t);
    return rc;
}

START_TEST(test_oom_task)
{
    /* one of each family kind with an exact MI (the Monte-Carlo certified ones would redo
     * their certification draws for every n); swissroll turns dx 1 into 2 sample columns */
    static const struct { const char *name; int dx, dy; } tasks[] = {
        {"normal-dense-base", 3, 2}, {"student-dense-base", 3, 3}, {"additive-base", 2, 2},
        {"normal-lvm-base", 4, 6}, {"channel-sine-base", 3, 2}, {"categorical-binary-base", 3, 3},
        {"normal-dense-normal_cdf+swissroll", 1, 1}, {"normal-sparse-asinh", 3, 2}};
    double *buf = malloc(50 * 10 * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < sizeof tasks / sizeof *tasks; i++) {
        task_ctx c = {tasks[i].name, tasks[i].dx, tasks[i].dy, buf};
        char name[64];
        snprintf(name, sizeof name, "task %s", tasks[i].name);
        oom_run(&(oom_case){name, NULL, op_task, NULL, &c});
    }
    free(buf);
}
END_TEST

/* ---- checkpoints --------------------------------------------------------------------------- */

typedef struct ck_ctx {
    char path[700];
    mist_checkpoint ck;
    int have;
} ck_ctx;

static int op_checkpoint(void *p, mist_err *err)
{
    ck_ctx *c = p;
    int rc = mist_checkpoint_read(c->path, &c->ck, err);
    c->have = rc == 0;
    return rc;
}

static void free_checkpoint(void *p)
{
    ck_ctx *c = p;
    if (c->have) mist_checkpoint_free(&c->ck);
    c->have = 0;
}

START_TEST(test_oom_checkpoint)
{
    mist_err err;
    mist_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    mist_train_config_default(&ck.cfg);
    ck_assert_int_eq(mist_arch_preset("tiny", &ck.cfg.arch, &err), 0);
    mist_model *m = mist_model_create_random(&ck.cfg.arch, 1, &err);
    ck_assert_ptr_nonnull(m);
    ck.nparams = mist_model_param_count(m);
    ck.params = ck.m = ck.v = mist_model_params(m);
    for (size_t i = 0; i < ck.nparams; i++) ck.v[i] = fabsf(ck.v[i]);
    ck.step = 3;
    ck_ctx c = {0};
    snprintf(c.path, sizeof c.path, "%s/ck.msgpack", tu_tmpdir("oom-ck"));
    ck_assert_msg(mist_checkpoint_write(c.path, &ck, &err) == 0, "%s", err.msg);
    mist_model_free(m);
    oom_run(&(oom_case){"checkpoint_read", NULL, op_checkpoint, free_checkpoint, &c});
}
END_TEST

int main(void)
{
    return tu_run_case("oom", 300, test_oom_model, test_oom_classical, test_oom_dataset_read,
                       test_oom_task, test_oom_checkpoint, NULL) ? 1 : 0;
}
