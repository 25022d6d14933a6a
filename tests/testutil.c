/* nftw */
#define _XOPEN_SOURCE 700

#include "testutil.h"
#include "mist_train.h"

#include <stdarg.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every scratch folder of a test program lives in one root, tmp-XXXXXX (mkdtemp) in the
 * current folder, which ctest sets to the build tree's tests folder. tu_run makes it before the
 * forked test cases start (so they all see it) and removes it, whatever they left, when they
 * are done; atexit covers a program that never calls tu_run. */
static char tu_root[64];
static pid_t tu_root_owner;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

static void tu_root_remove(void)
{
    /* forked test cases inherit the handler; only the process that made the root removes it */
    if (!tu_root[0] || getpid() != tu_root_owner) return;
    (void)nftw(tu_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tu_root[0] = '\0';
}

static const char *tu_root_dir(void)
{
    if (tu_root[0]) return tu_root;
    snprintf(tu_root, sizeof tu_root, "tmp-XXXXXX");
    if (!mkdtemp(tu_root)) {
        tu_root[0] = '\0';
        return NULL;
    }
    static int registered;
    tu_root_owner = getpid();
    if (!registered++) atexit(tu_root_remove);
    return tu_root;
}

const char *tu_tmpdir(const char *tag)
{
    static char path[512];
    const char *root = tu_root_dir();
    if (!root) return NULL;
    snprintf(path, sizeof path, "%s/%s-XXXXXX", root, tag);
    return mkdtemp(path);
}

unsigned char *tu_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (sz < 0) {
        fclose(f);
        return NULL;
    }
    /* one byte more, a NUL, so that text files can be searched with strstr */
    unsigned char *buf = malloc((size_t)sz + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    buf[got] = 0;
    if ((long)got != sz) {
        free(buf);
        return NULL;
    }
    *len = got;
    return buf;
}

void tu_write(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    fclose(f);
}

static TCase *case_v(Suite *s, const char *name, double timeout, va_list ap)
{
    TCase *tc = tcase_create(name);
    if (timeout > 0) tcase_set_timeout(tc, timeout);
    for (const TTest *t; (t = va_arg(ap, const TTest *)) != NULL;) tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
    return tc;
}

TCase *tu_case(Suite *s, const char *name, double timeout, ...)
{
    va_list ap;
    va_start(ap, timeout);
    TCase *tc = case_v(s, name, timeout, ap);
    va_end(ap);
    return tc;
}

int tu_run_case(const char *name, double timeout, ...)
{
    Suite *s = suite_create(name);
    va_list ap;
    va_start(ap, timeout);
    case_v(s, name, timeout, ap);
    va_end(ap);
    return tu_run(s);
}

int tu_run(Suite *s)
{
    if (!tu_root_dir()) {
        fprintf(stderr, "cannot create a scratch folder here: %s\n", strerror(errno));
        return 1;
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tu_root_remove();
    return failed;
}

size_t tu_parse_params(const char *text, mist_param *p)
{
    size_t n = 0;
    if (!text || !*text) return 0;
    char buf[1024];
    ck_assert_uint_lt(strlen(text), sizeof buf);
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        ck_assert_ptr_nonnull(eq);
        ck_assert_uint_lt(n, TU_MAX_PARAMS);
        *eq = '\0';
        memset(&p[n], 0, sizeof p[n]);
        snprintf(p[n].name, MIST_PARAM_NAME_LEN, "%s", kv);
        p[n].value = strtod(eq + 1, NULL);
        n++;
    }
    return n;
}

int tu_try_make_task(mist_task **t, const char *name, int dx, int dy, const char *params,
                     uint64_t seed, mist_err *err)
{
    mist_param p[TU_MAX_PARAMS];
    size_t np = tu_parse_params(params, p);
    return mist_task_create(t, name, dx, dy, np ? p : NULL, np, seed, err);
}

mist_task *tu_make_task(const char *name, int dx, int dy, const char *params, uint64_t seed)
{
    mist_task *t = NULL;
    mist_err err = {0};
    int rc = tu_try_make_task(&t, name, dx, dy, params, seed, &err);
    if (rc != MIST_OK || !t)
        ck_abort_msg("creating %s %dx%d [%s] failed: %s", name, dx, dy, params ? params : "",
                     err.msg);
    return t;
}

double *tu_task_data(const char *task, int dx, int dy, const char *pname, double pval,
                     uint64_t seed, size_t n, double *mi)
{
    mist_param p;
    memset(&p, 0, sizeof p);
    size_t np = 0;
    if (pname) {
        snprintf(p.name, sizeof p.name, "%s", pname);
        p.value = pval;
        np = 1;
    }
    mist_task *t = NULL;
    mist_err err = {0};
    if (mist_task_create(&t, task, dx, dy, np ? &p : NULL, np, seed, &err) != MIST_OK)
        ck_abort_msg("task %s: %s", task, err.msg);
    double *x = malloc(n * (size_t)(mist_task_out_dx(t) + mist_task_out_dy(t)) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    if (mist_task_sample(t, n, seed, x, &err) != MIST_OK)
        ck_abort_msg("sample %s: %s", task, err.msg);
    if (mi) *mi = mist_task_mi(t);
    mist_task_free(t);
    return x;
}

uint64_t tu_rnext(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

double tu_runif(uint64_t *state)
{
    return (double)(tu_rnext(state) >> 11) * 0x1.0p-53;
}

double tu_rnorm(uint64_t *state)
{
    double u = tu_runif(state) + 1e-300, v = tu_runif(state);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

mist_model *tu_position_model(uint64_t seed, int packed, uint64_t *rng)
{
    mist_arch a;
    mist_err err;
    ck_assert_int_eq(mist_arch_preset("tiny", &a, &err), 0);
    ck_assert_int_eq(a.input_layout, MIST_LAYOUT_SPLIT);
    ck_assert_int_eq(a.preprocess, MIST_PREP_COPULA);
    ck_assert_int_gt(a.n_feature_sab, 0);
    if (packed) {
        a.input_layout = MIST_LAYOUT_PACKED;
        a.preprocess = MIST_PREP_NONE;
    }
    a.quantile_conditioned = 1;
    mist_model *m = mist_model_create_random(&a, seed, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    float *p = mist_model_params(m);
    for (size_t i = 0; i < mist_model_param_count(m); i++) p[i] += (float)(0.1 * tu_rnorm(rng));
    mist_model_set_raw_quantiles(m, 1);
    return m;
}

double *tu_dependent_rows(size_t n, int dx, int dy, uint64_t *rng)
{
    size_t c = (size_t)(dx + dy);
    double *x = malloc(n * c * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) {
        double z = tu_rnorm(rng), u = tu_rnorm(rng);
        for (size_t j = 0; j < c; j++)
            x[i * c + j] = (0.2 + 0.3 * (double)j) * (j % 2 ? z : u) + tu_rnorm(rng);
        x[i * c + c - 1] = z * z + 0.3 * tu_rnorm(rng);
    }
    return x;
}

mist_guard_model tu_guard_model(double lower, double median, double upper)
{
    mist_guard_model m;
    memset(&m, 0, sizeof m);
    m.lower = lower;
    m.median = median;
    m.upper = upper;
    m.n_min = 10;
    m.n_max = 500;
    m.d_min = 1;
    m.d_max = 32;
    strcpy(m.metadist, "default");
    return m;
}
