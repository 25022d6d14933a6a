/* File formats: round trips (npy f64/f32, csv, msgpack, sidecar metadata, manifests), numpy
 * interop, atomic replacement, and rejection of malformed files without crashing. */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mist_io.h"
#include "testutil.h"

#define SEED_BIG 18446744073709551557ULL /* largest 64-bit prime: needs all 64 bits exactly */

/* ---- helpers ---------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Random finite doubles over the whole exponent range, plus awkward values. */
static double random_finite(void)
{
    for (;;) {
        uint64_t u = rng_next();
        double d;
        memcpy(&d, &u, sizeof d);
        if (isfinite(d)) return d;
    }
}

static void fill_awkward(mist_dataset *ds)
{
    size_t total = ds->n * (size_t)(ds->dx + ds->dy);
    for (size_t i = 0; i < total; i++) ds->data[i] = random_finite();
    const double special[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1e-310, -4.9406564584124654e-324,
                              1.7976931348623157e308, -2.2250738585072014e-308, 3.141592653589793};
    for (size_t i = 0; i < total && i < sizeof special / sizeof *special; i++)
        ds->data[i] = special[i];
}

/* v[i, j] = (i * cols + j) * 0.5 - 3.25: exact in float32 too (npy_check.py uses the same). */
static void fill_pattern(mist_dataset *ds)
{
    size_t total = ds->n * (size_t)(ds->dx + ds->dy);
    for (size_t i = 0; i < total; i++) ds->data[i] = (double)i * 0.5 - 3.25;
}

static mist_dataset *make_ds(size_t n, int dx, int dy)
{
    mist_err err;
    mist_dataset *ds = mist_dataset_alloc(n, dx, dy, &err);
    ck_assert_msg(ds != NULL, "%s", err.msg);
    snprintf(ds->meta.task, sizeof ds->meta.task, "gauss-%d-%d", dx, dy);
    snprintf(ds->meta.generator_version, sizeof ds->meta.generator_version, "%s", MIST_VERSION);
    ds->meta.seed = SEED_BIG;
    ds->meta.has_seed = 1;
    ds->meta.mi = 0.12345678901234567;
    ck_assert_int_eq(mist_meta_set_param(&ds->meta, "rho", 0.75, &err), MIST_OK);
    ck_assert_int_eq(mist_meta_set_param(&ds->meta, "df", 1e-300, &err), MIST_OK);
    return ds;
}

static void assert_meta_eq(const mist_meta *a, const mist_meta *b)
{
    ck_assert_str_eq(a->task, b->task);
    ck_assert_str_eq(a->generator_version, b->generator_version);
    ck_assert_int_eq(a->has_seed, b->has_seed);
    if (a->has_seed) ck_assert(a->seed == b->seed);
    if (isnan(a->mi)) ck_assert(isnan(b->mi));
    else ck_assert(memcmp(&a->mi, &b->mi, sizeof a->mi) == 0);
    ck_assert_uint_eq(a->nparams, b->nparams);
    for (size_t i = 0; i < a->nparams; i++) {
        double v;
        ck_assert_msg(mist_meta_get_param(b, a->params[i].name, &v), "lost param %s",
                      a->params[i].name);
        ck_assert(memcmp(&v, &a->params[i].value, sizeof v) == 0);
    }
}

static void assert_bits_eq(const mist_dataset *a, const mist_dataset *b)
{
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_int_eq(a->dx, b->dx);
    ck_assert_int_eq(a->dy, b->dy);
    size_t total = a->n * (size_t)(a->dx + a->dy);
    ck_assert(memcmp(a->data, b->data, total * sizeof(double)) == 0);
}

static char dirbuf[512];
static const char *fresh_dir(const char *tag)
{
    const char *d = tu_tmpdir(tag);
    ck_assert_ptr_nonnull(d);
    snprintf(dirbuf, sizeof dirbuf, "%s", d);
    return dirbuf;
}

static const char *in_dir(char *buf, size_t sz, const char *dir, const char *name)
{
    snprintf(buf, sz, "%s/%s", dir, name);
    return buf;
}
#define PATH(buf, name) in_dir(buf, sizeof buf, dir, name)

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Leftover temporaries would mean an atomic write leaked. */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) k++;
    closedir(d);
    return k;
}

static void expect_read_fails(const char *path, mist_format fmt, int dx, int code,
                              const char *needle)
{
    mist_err err;
    mist_err_clear(&err);
    mist_dataset *ds = (mist_dataset *)1;
    int rc = mist_dataset_read(&ds, path, fmt, dx, &err);
    ck_assert_msg(rc == code, "%s: expected code %d, got %d (%s)", path, code, rc, err.msg);
    ck_assert_ptr_null(ds);
    ck_assert_int_eq(err.code, code);
    ck_assert_msg(err.msg[0] != '\0', "%s: empty message", path);
    if (needle)
        ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg,
                      needle);
}

static void write_text(const char *path, const char *text)
{
    tu_write(path, text, strlen(text));
}

/* A .npy file with the given version and header text (padded to a 16-byte boundary, '\n'
 * terminated), followed by ndata bytes of data. */
static void write_raw_npy(const char *path, int major, const char *dict, size_t ndata)
{
    size_t pre = major == 1 ? 10 : 12;
    size_t dl = strlen(dict);
    size_t hl = dl + 1;
    while ((pre + hl) % 16) hl++;
    unsigned char *buf = calloc(1, pre + hl + ndata + 1);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    if (major == 1) {
        buf[8] = (unsigned char)(hl & 0xff);
        buf[9] = (unsigned char)(hl >> 8);
    } else {
        for (int i = 0; i < 4; i++) buf[8 + i] = (unsigned char)(hl >> (8 * i));
    }
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hl - dl - 1);
    buf[pre + hl - 1] = '\n';
    for (size_t i = 0; i < ndata; i++) buf[pre + hl + i] = (unsigned char)(i * 7);
    tu_write(path, buf, pre + hl + ndata);
    free(buf);
}

/* ---- round trips ------------------------------------------------------------------------- */

START_TEST(test_npy_f64_roundtrip)
{
    const char *dir = fresh_dir("npy64");
    char p[600], side[600];
    mist_err err;
    mist_dataset *ds = make_ds(257, 3, 2), *back = NULL;
    fill_awkward(ds);
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "d.npy"), MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                     MIST_OK);
    ck_assert(exists(PATH(side, "d.npy.json")));
    ck_assert_int_eq(count_tmp(dir), 0);
    ck_assert_msg(mist_dataset_read(&back, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    assert_bits_eq(ds, back);
    assert_meta_eq(&ds->meta, &back->meta);

    /* Layout: v1.0, data at a multiple of 64, header ends in '\n'. */
    size_t len;
    unsigned char *raw = tu_slurp(p, &len);
    ck_assert_ptr_nonnull(raw);
    ck_assert(memcmp(raw, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hl = raw[8] | (size_t)raw[9] << 8;
    ck_assert_uint_eq((10 + hl) % 64, 0);
    ck_assert_int_eq(raw[10 + hl - 1], '\n');
    ck_assert_uint_eq(len, 10 + hl + 257 * 5 * 8);
    free(raw);
    mist_dataset_free(back);
    mist_dataset_free(ds);
}
END_TEST

START_TEST(test_npy_f32_roundtrip)
{
    const char *dir = fresh_dir("npy32");
    char p[600];
    mist_err err;
    mist_dataset *ds = make_ds(100, 1, 4), *back = NULL;
    for (size_t i = 0; i < 500; i++) ds->data[i] = (double)(rng_next() >> 11) * 0x1p-40 - 1000.0;
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "d.npy"), MIST_FMT_NPY, MIST_DTYPE_F32, &err),
                     MIST_OK);
    ck_assert_msg(mist_dataset_read(&back, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    ck_assert_int_eq(back->dx, 1);
    ck_assert_int_eq(back->dy, 4);
    for (size_t i = 0; i < 500; i++) ck_assert(back->data[i] == (double)(float)ds->data[i]);
    assert_meta_eq(&ds->meta, &back->meta);
    size_t len;
    unsigned char *raw = tu_slurp(p, &len);
    ck_assert(strstr((const char *)raw + 10, "'<f4'") != NULL);
    size_t hl = raw[8] | (size_t)raw[9] << 8;
    ck_assert_uint_eq(len, 10 + hl + 500 * 4);
    free(raw);
    mist_dataset_free(back);

    /* A finite value that float32 cannot hold is refused, not written as inf. */
    ds->data[7] = 1e300;
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "o.npy"), MIST_FMT_NPY, MIST_DTYPE_F32, &err),
                     MIST_EDATA);
    ck_assert(!exists(p));
    ck_assert_int_eq(count_tmp(dir), 0);
    mist_dataset_free(ds);
}
END_TEST

START_TEST(test_csv_roundtrip)
{
    const char *dir = fresh_dir("csv");
    char p[600];
    mist_err err;
    mist_dataset *ds = make_ds(300, 2, 3), *back = NULL;
    fill_awkward(ds);
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "d.csv"), MIST_FMT_AUTO, MIST_DTYPE_F32, &err),
                     MIST_OK);
    ck_assert_msg(mist_dataset_read(&back, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    assert_bits_eq(ds, back); /* %.17g is exact; dtype does not apply to csv */
    assert_meta_eq(&ds->meta, &back->meta);
    size_t len;
    unsigned char *raw = tu_slurp(p, &len);
    ck_assert(strncmp((const char *)raw, "x1,x2,y1,y2,y3\n", 15) == 0);
    free(raw);
    mist_dataset_free(back);

    /* The raw matrix view sees the same numbers and the sidecar's split. */
    double *m = NULL;
    size_t n, cols;
    mist_meta meta;
    int mdx, mdy, has;
    ck_assert_int_eq(mist_matrix_read(p, MIST_FMT_CSV, &m, &n, &cols, &meta, &mdx, &mdy, &has,
                                      &err),
                     MIST_OK);
    ck_assert_uint_eq(n, 300);
    ck_assert_uint_eq(cols, 5);
    ck_assert_int_eq(has, 1);
    ck_assert_int_eq(mdx, 2);
    ck_assert_int_eq(mdy, 3);
    ck_assert(memcmp(m, ds->data, 1500 * sizeof(double)) == 0);
    free(m);
    mist_meta_clear(&meta);
    mist_dataset_free(ds);
}
END_TEST

START_TEST(test_msgpack_roundtrip)
{
    const char *dir = fresh_dir("mpk");
    char p[600];
    mist_err err;
    mist_dataset *ds = make_ds(123, 2, 2), *back = NULL;
    fill_awkward(ds);
    ds->meta.seed = UINT64_MAX - 1;
    ds->meta.mi = NAN;
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "d.msgpack"), MIST_FMT_AUTO, MIST_DTYPE_F32,
                                        &err),
                     MIST_OK);
    ck_assert(!exists(PATH(p, "d.msgpack.json")) && !exists(PATH(p, "d.json"))); /* no sidecar */
    ck_assert_msg(mist_dataset_read(&back, PATH(p, "d.msgpack"), MIST_FMT_AUTO, 0, &err) == MIST_OK,
                  "%s", err.msg);
    assert_bits_eq(ds, back);
    assert_meta_eq(&ds->meta, &back->meta);
    ck_assert(isnan(back->meta.mi));
    ck_assert(back->meta.seed == UINT64_MAX - 1);
    mist_dataset_free(back);

    /* Finite MI, no seed, no params, empty task; .mpk extension. */
    mist_meta_clear(&ds->meta);
    ds->meta.mi = -0.0;
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "e.mpk"), MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                     MIST_OK);
    ck_assert_int_eq(mist_dataset_read(&back, p, MIST_FMT_MSGPACK, 0, &err), MIST_OK);
    assert_bits_eq(ds, back);
    assert_meta_eq(&ds->meta, &back->meta);
    ck_assert(signbit(back->meta.mi));
    mist_dataset_free(back);
    mist_dataset_free(ds);
}
END_TEST

START_TEST(test_sidecar_meta)
{
    const char *dir = fresh_dir("side");
    char p[600], side[600];
    mist_err err;
    mist_dataset *ds = make_ds(10, 1, 1), *back = NULL;
    fill_pattern(ds);
    strcpy(ds->meta.task, "odd \"name\"\\with\ttabs\x01");
    ck_assert_int_eq(mist_meta_set_param(&ds->meta, "nanparam", NAN, &err), MIST_OK);
    ck_assert_int_eq(mist_meta_set_param(&ds->meta, "infparam", -INFINITY, &err), MIST_OK);
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "d.npy"), MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                     MIST_OK);
    size_t len;
    char *text = (char *)tu_slurp(PATH(side, "d.npy.json"), &len);
    ck_assert_ptr_nonnull(text);
    text = realloc(text, len + 1);
    text[len] = '\0';
    ck_assert_msg(strstr(text, "\"seed\": 18446744073709551557") != NULL, "%s", text);
    ck_assert(strstr(text, "\"format\": \"mist-dataset\"") != NULL);
    ck_assert(strstr(text, "\"file\": \"d.npy\"") != NULL);
    ck_assert(strstr(text, "\"dtype\": \"f64\"") != NULL);
    ck_assert(strstr(text, "\"nanparam\": null") != NULL);
    free(text);
    ck_assert_msg(mist_dataset_read(&back, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    ck_assert_str_eq(back->meta.task, ds->meta.task);
    double v;
    ck_assert(mist_meta_get_param(&back->meta, "nanparam", &v) && isnan(v));
    ck_assert(mist_meta_get_param(&back->meta, "infparam", &v) && v == -INFINITY);
    ck_assert(mist_meta_get_param(&back->meta, "rho", &v) && v == 0.75);
    ck_assert(back->meta.seed == SEED_BIG);
    mist_dataset_free(back);

    /* A hand-written sidecar: unknown keys ignored, escapes decoded, null seed/mi. */
    write_text(side, "{\"format\":\"mist-dataset\",\"dx\":1,\"dy\":1,\"n\":10,\"seed\":null,"
                     "\"mi\":null,\"task\":\"caf\\u00e9 \\ud83d\\ude00\",\"extra\":[1,{\"a\":[]}],"
                     "\"params\":{}}");
    ck_assert_msg(mist_dataset_read(&back, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    ck_assert_str_eq(back->meta.task, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    ck_assert_int_eq(back->meta.has_seed, 0);
    ck_assert(isnan(back->meta.mi));
    ck_assert_uint_eq(back->meta.nparams, 0);
    mist_dataset_free(back);

    /* Without a sidecar the split must be given. */
    unlink(side);
    expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EINVAL, "--dx");
    ck_assert_int_eq(mist_dataset_read(&back, p, MIST_FMT_AUTO, 1, &err), MIST_OK);
    ck_assert_int_eq(back->dx, 1);
    ck_assert_int_eq(back->dy, 1);
    ck_assert_str_eq(back->meta.task, "");
    ck_assert(isnan(back->meta.mi));
    mist_dataset_free(back);
    mist_dataset_free(ds);
}
END_TEST

START_TEST(test_dx_override)
{
    const char *dir = fresh_dir("dxo");
    char p[600];
    mist_err err;
    mist_dataset *ds = make_ds(20, 2, 1), *back = NULL;
    fill_pattern(ds);
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "d.csv"), MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                     MIST_OK);
    ck_assert_int_eq(mist_dataset_read(&back, p, MIST_FMT_AUTO, 1, &err), MIST_OK);
    ck_assert_int_eq(back->dx, 1); /* the override wins over the sidecar */
    ck_assert_int_eq(back->dy, 2);
    /* the file's MI is that of its own 2+1 split, not of this one */
    ck_assert(isnan(back->meta.mi));
    ck_assert_str_eq(back->meta.task, ds->meta.task);
    mist_dataset_free(back);
    ck_assert_int_eq(mist_dataset_read(&back, p, MIST_FMT_AUTO, 2, &err), MIST_OK);
    ck_assert(back->meta.mi == ds->meta.mi); /* the same split given explicitly keeps it */
    mist_dataset_free(back);
    expect_read_fails(p, MIST_FMT_AUTO, 3, MIST_EINVAL, "no Y columns");
    mist_dataset_free(ds);
}
END_TEST

#ifdef MIST_NUMPY_ONLY
/* Built a second time as its own program, test_numpy_interop (MIST_NUMPY_ONLY): that one
 * exits 77 when numpy is missing, which ctest reports as skipped rather than passed. */
static int have_numpy(void)
{
    return system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

START_TEST(test_numpy_interop)
{
    /* The script sits next to this source file. */
    char script[1024];
    snprintf(script, sizeof script, "%s", __FILE__);
    char *slash = strrchr(script, '/');
    if (slash) strcpy(slash + 1, "npy_check.py");
    else strcpy(script, "npy_check.py");
    ck_assert_msg(access(script, R_OK) == 0, "cannot find %s", script);

    const char *dir = fresh_dir("numpy");
    char p[600], q[600], cmd[3000];
    mist_err err;
    const struct { const char *name; mist_dtype dt; const char *code; size_t n; int dx, dy; } cases[] = {
        {"m_f8.npy", MIST_DTYPE_F64, "f8", 5, 2, 1},
        {"m_f4.npy", MIST_DTYPE_F32, "f4", 4, 1, 1},
        {"m_big.npy", MIST_DTYPE_F64, "f8", 1000, 3, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        mist_dataset *ds = make_ds(cases[c].n, cases[c].dx, cases[c].dy);
        fill_pattern(ds);
        ck_assert_int_eq(mist_dataset_write(ds, PATH(p, cases[c].name), MIST_FMT_NPY, cases[c].dt,
                                            &err),
                         MIST_OK);
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' check '%s' %s %zu %d %llu", script, p,
                 cases[c].code, cases[c].n, cases[c].dx + cases[c].dy, SEED_BIG);
        ck_assert_msg(system(cmd) == 0, "numpy rejected %s", p);
        mist_dataset_free(ds);
    }

    /* numpy's own files: ours are byte-identical, and we read all supported variants. */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' write '%s'", script, dir);
    ck_assert_int_eq(system(cmd), 0);
    const struct { const char *ref, *mine; size_t n; int cols; } same[] = {
        {"ref_f8.npy", "m_f8.npy", 5, 3}, {"ref_f4.npy", "m_f4.npy", 4, 2}};
    for (int c = 0; c < 2; c++) {
        size_t la, lb;
        unsigned char *a = tu_slurp(PATH(p, same[c].ref), &la);
        unsigned char *b = tu_slurp(PATH(q, same[c].mine), &lb);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s differs from numpy's %s",
                      same[c].mine, same[c].ref);
        free(a);
        free(b);
    }
    const struct { const char *name; size_t n, cols; } ok[] = {
        {"ref_f8.npy", 5, 3}, {"ref_f4.npy", 4, 2}, {"ref_1d.npy", 6, 1}, {"ref_v2.npy", 3, 2}};
    for (int c = 0; c < 4; c++) {
        double *m = NULL;
        size_t n, cols;
        int has = -1;
        ck_assert_msg(mist_matrix_read(PATH(p, ok[c].name), MIST_FMT_AUTO, &m, &n, &cols, NULL,
                                       NULL, NULL, &has, &err) == MIST_OK,
                      "%s", err.msg);
        ck_assert_uint_eq(n, ok[c].n);
        ck_assert_uint_eq(cols, ok[c].cols);
        ck_assert_int_eq(has, 0);
        for (size_t i = 0; i < n * cols; i++) ck_assert(m[i] == (double)i * 0.5 - 3.25);
        free(m);
    }
    /* Fortran order, big-endian and integer arrays: numpy's own values, in mist's row order. */
    const struct { const char *name; double first, step; } conv[] = {
        {"ref_fortran.npy", -3.25, 0.5}, {"ref_big.npy", -3.25, 0.5}, {"ref_i8.npy", 0, 1},
        {"ref_u1.npy", 0, 1}, {"ref_i4_fortran.npy", -3, 1}};
    for (int c = 0; c < 5; c++) {
        double *m = NULL;
        size_t n, cols;
        ck_assert_msg(mist_matrix_read(PATH(p, conv[c].name), MIST_FMT_AUTO, &m, &n, &cols, NULL,
                                       NULL, NULL, NULL, &err) == MIST_OK,
                      "%s", err.msg);
        ck_assert(n == 3 && cols == 2);
        for (size_t i = 0; i < 6; i++)
            ck_assert_msg(m[i] == conv[c].first + conv[c].step * (double)i, "%s[%zu] = %g",
                          conv[c].name, i, m[i]);
        free(m);
    }
    /* .npz: x and y by name, else the first two arrays side by side; one array: the matrix */
    const struct { const char *name; size_t cols; int split, dx; } npz[] = {
        {"ref_xy.npz", 3, 1, 2}, {"ref_ab.npz", 3, 1, 2}, {"ref_one.npz", 3, 0, 0}};
    for (int c = 0; c < 3; c++) {
        mist_table t;
        ck_assert_msg(mist_table_read(PATH(p, npz[c].name), NULL, &t, &err) == MIST_OK, "%s",
                      err.msg);
        ck_assert_uint_eq(t.cols, npz[c].cols);
        ck_assert_int_eq(t.has_meta, npz[c].split);
        ck_assert_int_eq(t.meta_dx, npz[c].dx);
        ck_assert(isnan(t.meta.mi));
        for (size_t i = 0; i < t.n; i++)
            for (size_t j = 0; j < t.cols; j++) {
                /* x = pattern(4, 2), y = pattern(4, 1): element k of each is k * 0.5 - 3.25 */
                double want = npz[c].split ? (j < 2 ? (double)(i * 2 + j) : (double)i) * 0.5 - 3.25
                                           : (double)(i * 3 + j) * 0.5 - 3.25;
                ck_assert_msg(t.data[i * t.cols + j] == want, "%s (%zu, %zu)", npz[c].name, i, j);
            }
        mist_table_free(&t);
    }
    mist_dataset *xy = NULL;
    ck_assert_int_eq(mist_dataset_read(&xy, PATH(p, "ref_xy.npz"), MIST_FMT_AUTO, 0, &err),
                     MIST_OK);
    ck_assert(xy->dx == 2 && xy->dy == 1 && xy->n == 4);
    mist_dataset_free(xy);
    expect_read_fails(PATH(p, "ref_comp.npz"), MIST_FMT_AUTO, 0, MIST_EFORMAT, "savez_compressed");
}
END_TEST
#endif

/* ---- malformed files ------------------------------------------------------------------------ */

START_TEST(test_npy_malformed)
{
    const char *dir = fresh_dir("npybad");
    char p[600];
    const char *good = "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), }";

    write_raw_npy(PATH(p, "ok.npy"), 1, good, 64);
    mist_err err;
    double *m = NULL;
    size_t n, cols;
    ck_assert_msg(mist_matrix_read(p, MIST_FMT_AUTO, &m, &n, &cols, NULL, NULL, NULL, NULL, &err) ==
                      MIST_OK,
                  "%s", err.msg); /* the helper itself builds valid files */
    ck_assert(n == 4 && cols == 2);
    free(m);
    write_raw_npy(PATH(p, "v3.npy"), 3, "{\"shape\": (4,2), \"fortran_order\": False, "
                                        "\"descr\": \"<f8\"}",
                  0);
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "truncated data");

    write_text(PATH(p, "empty.npy"), "");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "empty");
    tu_write(PATH(p, "short.npy"), "\x93NUMPY\x01", 7);
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "truncated");
    write_text(PATH(p, "magic.npy"), "PK\x03\x04 this is a zip file, not npy at all.....");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "magic");

    /* Truncated header: a valid file cut inside its header. */
    write_raw_npy(PATH(p, "full.npy"), 1, good, 64);
    size_t len;
    unsigned char *raw = tu_slurp(p, &len);
    for (size_t cut = 1; cut < 64 + 10; cut += 3) {
        tu_write(PATH(p, "cut.npy"), raw, cut);
        expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, NULL);
    }
    /* Truncated data and trailing garbage. */
    tu_write(PATH(p, "cutdata.npy"), raw, len - 1);
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "truncated data");
    unsigned char *more = malloc(len + 3);
    memcpy(more, raw, len);
    memcpy(more + len, "xyz", 3);
    tu_write(PATH(p, "trail.npy"), more, len + 3);
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "after the array");
    /* Header length lies: longer (swallows data) and shorter (cuts the dict). */
    memcpy(more, raw, len);
    more[8] = (unsigned char)(raw[8] + 16);
    tu_write(PATH(p, "hlong.npy"), more, len);
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, NULL);
    more[8] = 30;
    tu_write(PATH(p, "hshort.npy"), more, len);
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "malformed");
    /* Unsupported version. */
    memcpy(more, raw, len);
    more[6] = 4;
    tu_write(PATH(p, "v4.npy"), more, len);
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "version");
    free(more);
    free(raw);

    const struct { const char *dict; size_t ndata; const char *needle; } bad[] = {
        {"{'descr': '<c16', 'fortran_order': False, 'shape': (4, 2), }", 128, "dtype"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (4, 2), }", 16, "dtype"},
        {"{'descr': '|S8', 'fortran_order': False, 'shape': (4, 2), }", 64, "dtype"},
        {"{'descr': '<M8', 'fortran_order': False, 'shape': (4, 2), }", 64, "dtype"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (4, 2), }", 63, "truncated"},
        {"{'descr': '|u1', 'fortran_order': True, 'shape': (4, 2), }", 9, "after"},
        {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (4,), }", 32, "structured"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", 64, "dimensions"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8, "dimensions"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4, 0), }", 0, "no columns"},
        {"{'descr': '<f8', 'fortran_order': False, }", 64, "shape"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), 'x': 1}", 64, "key"},
        {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (4, 2)}", 64, "key"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), } junk", 64, "after"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (-4, 2), }", 64, "malformed"},
        {"['descr', '<f8']", 64, "malformed"},
        /* Sizes that would overflow or ask for terabytes: rejected before allocating. */
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000000, 2), }", 64,
         "truncated"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 64,
         "too large"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }", 64,
         "malformed"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4294967296), }", 64, "too large"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_raw_npy(PATH(p, "bad.npy"), 1, bad[i].dict, bad[i].ndata);
        expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, bad[i].needle);
    }
}
END_TEST

/* A small valid record built by mist's writer. */
static unsigned char *small_record(const char *dir, size_t *len)
{
    char p[600];
    mist_err err;
    mist_dataset *ds = make_ds(3, 1, 1);
    fill_pattern(ds);
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "small.msgpack"), MIST_FMT_AUTO,
                                        MIST_DTYPE_F64, &err),
                     MIST_OK);
    mist_dataset_free(ds);
    unsigned char *raw = tu_slurp(p, len);
    ck_assert_ptr_nonnull(raw);
    return raw;
}

START_TEST(test_msgpack_truncated)
{
    const char *dir = fresh_dir("mpkcut");
    char p[600];
    size_t len;
    unsigned char *raw = small_record(dir, &len);
    for (size_t cut = 0; cut < len; cut++) {
        tu_write(PATH(p, "cut.msgpack"), raw, cut);
        expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, NULL);
    }
    /* One byte too many. */
    unsigned char *more = malloc(len + 1);
    memcpy(more, raw, len);
    more[len] = 0xc0;
    tu_write(PATH(p, "extra.msgpack"), more, len + 1);
    expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, "after the record");
    /* Every single-byte corruption either still reads or fails cleanly. */
    for (size_t i = 0; i < len; i++) {
        memcpy(more, raw, len);
        more[i] ^= 0xA5;
        tu_write(PATH(p, "flip.msgpack"), more, len);
        mist_dataset *ds = NULL;
        mist_err err;
        int rc = mist_dataset_read(&ds, p, MIST_FMT_AUTO, 0, &err);
        ck_assert_msg(rc == MIST_OK || rc == MIST_EFORMAT || rc == MIST_EDATA,
                      "byte %zu: code %d (%s)", i, rc, err.msg);
        mist_dataset_free(ds);
    }
    free(more);
    free(raw);
}
END_TEST

START_TEST(test_msgpack_garbage)
{
    const char *dir = fresh_dir("mpkrnd");
    char p[600];
    unsigned char buf[256];
    PATH(p, "rnd.msgpack");
    for (int trial = 0; trial < 3000; trial++) {
        size_t len = 1 + rng_next() % sizeof buf;
        for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)rng_next();
        /* Bias some trials towards container headers with huge declared sizes. */
        if (trial % 3 == 0) buf[0] = (unsigned char[]){0xdd, 0xdf, 0xde, 0xdc, 0xc6}[trial % 5];
        tu_write(p, buf, len);
        expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, NULL);
    }
    /* Declared sizes far beyond the file. */
    const unsigned char huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    const unsigned char huge_map[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0};
    const unsigned char huge_bin[] = {0x81, 0xa4, 'd', 'a', 't', 'a', 0xc6, 0xff, 0xff, 0xff, 0xff};
    const unsigned char deep[40] = {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
                                    0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
                                    0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
                                    0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0xc0};
    tu_write(p, huge_array, sizeof huge_array);
    expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, "truncated");
    tu_write(p, huge_map, sizeof huge_map);
    expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, "truncated");
    tu_write(p, huge_bin, sizeof huge_bin);
    expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, "truncated");
    tu_write(p, deep, sizeof deep);
    expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, "deep");
}
END_TEST

/* Records that are valid msgpack but not valid mist records. */
typedef enum { REC_OK, REC_NO_DATA, REC_DX_STR, REC_BIN_SHORT, REC_VERSION2, REC_DUP_KEY, REC_NOT_MAP,
               REC_SEED_NEG, REC_FORMAT, REC_DY_ZERO, REC_PARAM_STR } rvariant;

static int sbuf_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write((msgpack_sbuffer *)data, buf, len);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void write_record(const char *path, rvariant v)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, sbuf_write);
    if (v == REC_NOT_MAP) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_nil(&pk);
    } else {
        msgpack_pack_map(&pk, v == REC_NO_DATA ? 10 : v == REC_DUP_KEY ? 12 : 11);
        pk_str(&pk, "format");
        pk_str(&pk, v == REC_FORMAT ? "other" : "mist-dataset");
        pk_str(&pk, "version");
        msgpack_pack_int(&pk, v == REC_VERSION2 ? 2 : 1);
        pk_str(&pk, "task");
        pk_str(&pk, "t");
        pk_str(&pk, "dx");
        if (v == REC_DX_STR) pk_str(&pk, "1");
        else msgpack_pack_int(&pk, 1);
        pk_str(&pk, "dy");
        msgpack_pack_int(&pk, v == REC_DY_ZERO ? 0 : 1);
        pk_str(&pk, "n");
        msgpack_pack_int(&pk, 2);
        pk_str(&pk, "seed");
        if (v == REC_SEED_NEG) msgpack_pack_int(&pk, -5);
        else msgpack_pack_uint64(&pk, 7);
        pk_str(&pk, "mi");
        msgpack_pack_double(&pk, 0.5);
        pk_str(&pk, "params");
        msgpack_pack_map(&pk, 1);
        pk_str(&pk, "rho");
        if (v == REC_PARAM_STR) pk_str(&pk, "x");
        else msgpack_pack_int(&pk, 1); /* integers are accepted as numbers */
        pk_str(&pk, "generator_version");
        pk_str(&pk, "0");
        if (v == REC_DUP_KEY) {
            pk_str(&pk, "dx");
            msgpack_pack_int(&pk, 1);
        }
        if (v != REC_NO_DATA) {
            pk_str(&pk, "data");
            double d[4] = {1, 2, 3, 4};
            size_t bytes = v == REC_BIN_SHORT ? 24 : 32;
            unsigned char le[32];
            for (int i = 0; i < 4; i++) {
                uint64_t u;
                memcpy(&u, &d[i], 8);
                for (int b = 0; b < 8; b++) le[8 * i + b] = (unsigned char)(u >> (8 * b));
            }
            msgpack_pack_bin_with_body(&pk, le, bytes);
        }
    }
    tu_write(path, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

START_TEST(test_msgpack_invalid_records)
{
    const char *dir = fresh_dir("mpkinv");
    char p[600];
    mist_err err;
    mist_dataset *ds = NULL;
    write_record(PATH(p, "r.msgpack"), REC_OK);
    ck_assert_msg(mist_dataset_read(&ds, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(ds->n, 2);
    ck_assert(ds->data[3] == 4.0);
    ck_assert(ds->meta.seed == 7);
    double rho;
    ck_assert(mist_meta_get_param(&ds->meta, "rho", &rho) && rho == 1.0);
    mist_dataset_free(ds);
    const struct { rvariant v; const char *needle; } bad[] = {
        {REC_NO_DATA, "\"data\""},  {REC_DX_STR, "\"dx\""},     {REC_BIN_SHORT, "bytes"},
        {REC_VERSION2, "version"},  {REC_DUP_KEY, "twice"},     {REC_NOT_MAP, "not a map"},
        {REC_SEED_NEG, "\"seed\""}, {REC_FORMAT, "\"format\""}, {REC_DY_ZERO, "\"dy\""},
        {REC_PARAM_STR, "params"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_record(p, bad[i].v);
        expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, bad[i].needle);
    }
}
END_TEST

START_TEST(test_csv_parsing)
{
    const char *dir = fresh_dir("csvparse");
    char p[600];
    mist_err err;
    mist_dataset *ds = NULL;

    /* No header, \r\n endings, no final newline, blanks around cells: dx must be given. */
    write_text(PATH(p, "a.csv"), "1, 2 ,3\r\n4,5,6e-1\r\n-7,8,9");
    expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EINVAL, "--dx");
    ck_assert_msg(mist_dataset_read(&ds, p, MIST_FMT_AUTO, 2, &err) == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(ds->n, 3);
    ck_assert_int_eq(ds->dy, 1);
    ck_assert(ds->data[5] == 0.6 && ds->data[6] == -7.0);
    mist_dataset_free(ds);

    /* A header plus a very long line (lines of any length). */
    FILE *f = fopen(PATH(p, "wide.csv"), "wb");
    for (int j = 0; j < 3000; j++) fprintf(f, "%sc%d", j ? "," : "", j);
    fputc('\n', f);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3000; j++) fprintf(f, "%s%.17g", j ? "," : "", i * 1e-3 + j);
        fputc('\n', f);
    }
    fputs("\n\n", f); /* trailing blank lines are fine */
    fclose(f);
    ck_assert_msg(mist_dataset_read(&ds, p, MIST_FMT_CSV, 1000, &err) == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(ds->n, 3);
    ck_assert_int_eq(ds->dy, 2000);
    ck_assert(ds->data[2 * 3000 + 2999] == 2e-3 + 2999);
    mist_dataset_free(ds);

    write_text(PATH(p, "ragged.csv"), "x1,y1\n1,2\n3,4,5\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "line 3");
    write_text(PATH(p, "ragged2.csv"), "x1,y1,y2\n1,2\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "line 2 has 2 fields");
    write_text(PATH(p, "text.csv"), "x1,y1\n1,2\n3,abc\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "line 3, column 2");
    write_text(PATH(p, "emptycell.csv"), "1,2\n3,\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "line 2, column 2");
    write_text(PATH(p, "trailjunk.csv"), "1,2\n3,4x\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "line 2, column 2");
    write_text(PATH(p, "nan.csv"), "x1,y1\n1,2\nnan,4\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EDATA, "row 2");
    write_text(PATH(p, "inf.csv"), "1,-inf\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EDATA, NULL);
    write_text(PATH(p, "empty.csv"), "");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "empty");
    write_text(PATH(p, "blank.csv"), "\n\r\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, NULL);
    write_text(PATH(p, "hdronly.csv"), "x1,y1\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "no data rows");
    write_text(PATH(p, "gap.csv"), "1,2\n\n3,4\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "line 2 is blank");
    tu_write(PATH(p, "nul.csv"), "1,2\n3\0,4\n", 9);
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "NUL");
    expect_read_fails(PATH(p, "missing.csv"), MIST_FMT_AUTO, 1, MIST_EIO, "missing.csv");
    expect_read_fails(PATH(p, "noext"), MIST_FMT_AUTO, 1, MIST_EINVAL, "extension");
}
END_TEST

START_TEST(test_csv_stdin)
{
    const char *dir = fresh_dir("stdin");
    char p[600];
    write_text(PATH(p, "in.csv"), "a,b,c\n1,2,3\n4,5,6\n");
    /* Check runs each test in a child process, so redirecting stdin here is contained. */
    ck_assert_ptr_nonnull(freopen(p, "rb", stdin));
    mist_dataset *ds = NULL;
    mist_err err;
    ck_assert_msg(mist_dataset_read(&ds, "-", MIST_FMT_AUTO, 1, &err) == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(ds->n, 2);
    ck_assert_int_eq(ds->dx, 1);
    ck_assert_int_eq(ds->dy, 2);
    ck_assert(ds->data[5] == 6.0);
    mist_dataset_free(ds);
    ck_assert_int_eq(mist_dataset_read(&ds, "-", MIST_FMT_NPY, 1, &err), MIST_EINVAL);
}
END_TEST

START_TEST(test_sidecar_mismatch)
{
    const char *dir = fresh_dir("sidebad");
    char p[600], side[600];
    mist_err err;
    mist_dataset *ds = make_ds(6, 2, 2);
    fill_pattern(ds);
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "d.npy"), MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                     MIST_OK);
    PATH(side, "d.npy.json");
    const struct { const char *json; const char *needle; } bad[] = {
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":7}", "7 rows"},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":3,\"n\":6}", "2+3"},
        {"{\"format\":\"mist-dataset\",\"dx\":\"2\",\"dy\":2,\"n\":6}", "\"dx\""},
        {"{\"format\":\"mist-dataset\",\"dx\":2.0,\"dy\":2,\"n\":6}", "\"dx\""},
        {"{\"format\":\"mist-dataset\",\"dx\":0,\"dy\":4,\"n\":6}", "\"dx\""},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2}", "\"n\""},
        {"{\"format\":\"other\",\"dx\":2,\"dy\":2,\"n\":6}", "\"format\""},
        {"{\"dx\":2,\"dy\":2,\"n\":6}", "\"format\""},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":6,\"seed\":-1}", "\"seed\""},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":6,\"seed\":18446744073709551616}",
         "\"seed\""},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":6,\"mi\":\"x\"}", "\"mi\""},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":6,\"params\":[1]}", "\"params\""},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":6,\"params\":{\"a\":true}}",
         "\"params\""},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":6,\"dtype\":\"f16\"}", "\"dtype\""},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":6,}", "JSON"},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dx\":2,\"dy\":2,\"n\":6}", "duplicate"},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":06}", "JSON"},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":6} x", "JSON"},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":NaN}", "JSON"},
        {"{\"format\":\"mist-dataset\",\"task\":\"a\\u0000b\",\"dx\":2,\"dy\":2,\"n\":6}", "JSON"},
        {"{\"format\":\"mist-dataset\",\"task\":\"\\ud800\",\"dx\":2,\"dy\":2,\"n\":6}", "JSON"},
        {"{\"format\":\"mist-dataset\",\"task\":\"tab\there\",\"dx\":2,\"dy\":2,\"n\":6}", "JSON"},
        {"{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":2,\"n\":6", "JSON"},
        {"[1,2]", "object"},
        {"", "JSON"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
         "deep"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_text(side, bad[i].json);
        expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, bad[i].needle);
    }
    /* Every prefix of a good sidecar is rejected cleanly. */
    ck_assert_int_eq(mist_dataset_write(ds, p, MIST_FMT_AUTO, MIST_DTYPE_F64, &err), MIST_OK);
    size_t len;
    unsigned char *good = tu_slurp(side, &len);
    for (size_t cut = 0; cut + 1 < len; cut++) { /* all but the final "\n" lack the '}' */
        tu_write(side, good, cut);
        expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, NULL);
    }
    free(good);
    mist_dataset_free(ds);
}
END_TEST

/* ---- atomic writes --------------------------------------------------------------------------- */

START_TEST(test_atomic_write)
{
    const char *dir = fresh_dir("atomic");
    char p[600];
    mist_err err;
    mist_dataset *big = make_ds(1000, 2, 2), *small = make_ds(2, 1, 1), *back = NULL;
    fill_awkward(big);
    fill_pattern(small);

    /* A missing folder: MIST_EIO naming the path and the reason, and no file anywhere. */
    const char *fmts[] = {"nodir/d.npy", "nodir/d.csv", "nodir/d.msgpack"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mist_dataset_write(big, PATH(p, fmts[i]), MIST_FMT_AUTO, MIST_DTYPE_F64,
                                            &err),
                         MIST_EIO);
        ck_assert_msg(strstr(err.msg, p) != NULL, "%s", err.msg);
        ck_assert_msg(strstr(err.msg, "No such file") != NULL, "%s", err.msg);
        ck_assert(!exists(p));
    }
    ck_assert(!exists(PATH(p, "nodir")));

    /* An existing file is replaced completely, sidecar included. */
    const char *names[] = {"r.npy", "r.csv", "r.msgpack"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mist_dataset_write(big, PATH(p, names[i]), MIST_FMT_AUTO,
                                            MIST_DTYPE_F64, &err),
                         MIST_OK);
        ck_assert_int_eq(mist_dataset_write(small, p, MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                         MIST_OK);
        ck_assert_msg(mist_dataset_read(&back, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s",
                      err.msg);
        assert_bits_eq(small, back);
        mist_dataset_free(back);
    }
    size_t len;
    unsigned char *raw = tu_slurp(PATH(p, "r.csv"), &len);
    ck_assert_uint_eq(len, strlen("x1,y1\n-3.25,-2.75\n-2.25,-1.75\n"));
    free(raw);
    ck_assert_int_eq(count_tmp(dir), 0);

    /* The primitives: abort leaves nothing, commit leaves exactly the content. */
    mist_atomic_file *af = mist_atomic_open(PATH(p, "prim.txt"), &err);
    ck_assert_ptr_nonnull(af);
    fputs("partial", mist_atomic_stream(af));
    mist_atomic_abort(af);
    ck_assert(!exists(p));
    ck_assert_int_eq(count_tmp(dir), 0);
    write_text(p, "old content that is longer");
    af = mist_atomic_open(p, &err);
    fputs("new", mist_atomic_stream(af));
    raw = tu_slurp(p, &len); /* before commit the old file is intact */
    ck_assert_uint_eq(len, strlen("old content that is longer"));
    free(raw);
    ck_assert_int_eq(mist_atomic_commit(af, &err), MIST_OK);
    raw = tu_slurp(p, &len);
    ck_assert(len == 3 && memcmp(raw, "new", 3) == 0);
    free(raw);
    ck_assert_int_eq(count_tmp(dir), 0);

    /* Renaming onto a directory fails: error reported, temporary removed, target untouched. */
    mkdir(PATH(p, "adir"), 0755);
    af = mist_atomic_open(p, &err);
    ck_assert_ptr_nonnull(af);
    fputs("x", mist_atomic_stream(af));
    ck_assert_int_eq(mist_atomic_commit(af, &err), MIST_EIO);
    ck_assert_msg(strstr(err.msg, "adir") != NULL, "%s", err.msg);
    ck_assert_int_eq(count_tmp(dir), 0);
    struct stat st;
    ck_assert(stat(p, &st) == 0 && S_ISDIR(st.st_mode));

    mist_dataset_free(big);
    mist_dataset_free(small);
}
END_TEST

/* ---- manifests -------------------------------------------------------------------------------- */

START_TEST(test_manifest_roundtrip)
{
    const char *dir = fresh_dir("man");
    char p[600];
    mist_err err;
    mist_manifest_row rows[3];
    memset(rows, 0, sizeof rows);
    strcpy(rows[0].id, "0001");
    strcpy(rows[0].task, "gauss-1-1");
    rows[0].dx = rows[0].dy = 1;
    rows[0].n = 10000;
    rows[0].seed = UINT64_MAX;
    rows[0].mi = 0.1;
    strcpy(rows[0].file, "0001.npy");
    strcpy(rows[0].params, "rho=0.5;df=3");
    strcpy(rows[1].id, "0002");
    strcpy(rows[1].task, "student-3-2");
    rows[1].dx = 3;
    rows[1].dy = 2;
    rows[1].n = 0;
    rows[1].seed = 0;
    rows[1].mi = NAN;
    strcpy(rows[1].file, "sub/0002.csv");
    rows[2] = rows[0];
    strcpy(rows[2].id, "0003");
    rows[2].mi = 1.0 / 3.0;
    strcpy(rows[2].params, "eps=1.0000000000000001e-300");
    ck_assert_int_eq(mist_manifest_write(PATH(p, "manifest.csv"), rows, 3, &err), MIST_OK);
    mist_manifest_row *back = NULL;
    size_t nb = 0;
    ck_assert_msg(mist_manifest_read(p, &back, &nb, &err) == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(nb, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(back[i].id, rows[i].id);
        ck_assert_str_eq(back[i].task, rows[i].task);
        ck_assert_int_eq(back[i].dx, rows[i].dx);
        ck_assert_int_eq(back[i].dy, rows[i].dy);
        ck_assert_uint_eq(back[i].n, rows[i].n);
        ck_assert(back[i].seed == rows[i].seed);
        ck_assert(isnan(rows[i].mi) ? isnan(back[i].mi) : back[i].mi == rows[i].mi);
        ck_assert_str_eq(back[i].file, rows[i].file);
        ck_assert_str_eq(back[i].params, rows[i].params);
    }
    free(back);
    size_t len;
    unsigned char *raw = tu_slurp(p, &len);
    ck_assert(strncmp((const char *)raw, "id,task,dx,dy,n,seed,mi,file,params\n", 36) == 0);
    free(raw);

    /* A transform on any row: the tenth column, "none" where a row has none; read back. */
    strcpy(rows[1].transform, "rotate+swap");
    ck_assert_int_eq(mist_manifest_write(p, rows, 3, &err), MIST_OK);
    raw = tu_slurp(p, &len);
    ck_assert(strncmp((const char *)raw, "id,task,dx,dy,n,seed,mi,file,params,transform\n", 46) ==
              0);
    ck_assert_ptr_nonnull(strstr((const char *)raw, ",sub/0002.csv,,rotate+swap\n"));
    free(raw);
    ck_assert_msg(mist_manifest_read(p, &back, &nb, &err) == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(nb, 3);
    ck_assert_str_eq(back[0].transform, "none");
    ck_assert_str_eq(back[1].transform, "rotate+swap");
    ck_assert_str_eq(back[1].params, "");
    free(back);
    /* under the nine-column header a tenth field is refused, and under the ten-column one an
     * empty transform */
    FILE *f = fopen(p, "w");
    fputs("id,task,dx,dy,n,seed,mi,file,params\na,t,1,1,5,1,0.5,a.npy,,flow\n", f);
    fclose(f);
    ck_assert_int_eq(mist_manifest_read(p, &back, &nb, &err), MIST_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "expected 9"));
    f = fopen(p, "w");
    fputs("id,task,dx,dy,n,seed,mi,file,params,transform\na,t,1,1,5,1,0.5,a.npy,,\n", f);
    fclose(f);
    ck_assert_int_eq(mist_manifest_read(p, &back, &nb, &err), MIST_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "invalid transform"));
    strcpy(rows[1].transform, "");

    /* Header only: zero rows. */
    ck_assert_int_eq(mist_manifest_write(p, rows, 0, &err), MIST_OK);
    ck_assert_int_eq(mist_manifest_read(p, &back, &nb, &err), MIST_OK);
    ck_assert_uint_eq(nb, 0);
    free(back);

    /* The writer refuses what it could not write unambiguously. */
    strcpy(rows[1].task, "a,b");
    ck_assert_int_eq(mist_manifest_write(PATH(p, "m2.csv"), rows, 3, &err), MIST_EINVAL);
    ck_assert(!exists(p));
    strcpy(rows[1].task, "ab");
    strcpy(rows[1].params, "rho");
    ck_assert_int_eq(mist_manifest_write(p, rows, 3, &err), MIST_EINVAL);
    ck_assert(!exists(p));
}
END_TEST

START_TEST(test_manifest_malformed)
{
    const char *dir = fresh_dir("manbad");
    char p[600];
    PATH(p, "m.csv");
    const char *hdr = "id,task,dx,dy,n,seed,mi,file,params\n";
    const struct { const char *body; const char *needle; } bad[] = {
        {"", "empty"},
        {"id,task,dx,dy,n,seed,mi,file\n", "header"},
        {"ID,task,dx,dy,n,seed,mi,file,params\n", "header"},
        {"a,t,1,1,10,5,0.1,f.npy\n", "8 fields"},
        {"a,t,1,1,10,5,0.1,f.npy,rho=1,extra\n", "10 fields"},
        {"a,t,x,1,10,5,0.1,f.npy,\n", "dx"},
        {"a,t,1,0,10,5,0.1,f.npy,\n", "dy"},
        {"a,t,1,1,-10,5,0.1,f.npy,\n", "invalid n"},
        {"a,t,1,1,10,18446744073709551616,0.1,f.npy,\n", "seed"},
        {"a,t,1,1,10,5,zero,f.npy,\n", "mi"},
        {"a,t,1,1,10,5,inf,f.npy,\n", "invalid mi"},
        {"a,t,1,1,10,5,1e999,f.npy,\n", "invalid mi"},
        {"a,t,1,1,10,5,-0.5,f.npy,\n", "invalid mi"},
        {"a,t,1,1,10,5,0.1,,\n", "file"},
        {",t,1,1,10,5,0.1,f.npy,\n", "id"},
        {"a,t,1,1,10,5,0.1,f.npy,rho\n", "params"},
        {"a,t,1,1,10,5,0.1,f.npy,rho=x\n", "params"},
        {"a,t,1,1,10,5,0.1,f.npy,=1\n", "params"},
        {"a,t,1,1,10,5,0.1,f.npy,\n\na,t,1,1,10,5,0.1,f.npy,\n", "blank"},
        {"a,01234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "012345678901234567890123456789012345678901234567890,1,1,10,5,0.1,f.npy,\n",
         "task"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[1024];
        if (i < 3) snprintf(text, sizeof text, "%s", bad[i].body);
        else snprintf(text, sizeof text, "%s%s", hdr, bad[i].body);
        write_text(p, text);
        mist_manifest_row *rows = (mist_manifest_row *)1;
        size_t nr = 99;
        mist_err err;
        int rc = mist_manifest_read(p, &rows, &nr, &err);
        ck_assert_msg(rc == MIST_EFORMAT, "case %zu: code %d (%s)", i, rc, err.msg);
        ck_assert_msg(strstr(err.msg, bad[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i,
                      err.msg, bad[i].needle);
    }
    /* \r\n endings and a missing final newline are fine. */
    write_text(p, "id,task,dx,dy,n,seed,mi,file,params\r\na,t,1,2,10,5,nan,f.npy,k=1");
    mist_manifest_row *rows = NULL;
    size_t nr = 0;
    mist_err err;
    ck_assert_msg(mist_manifest_read(p, &rows, &nr, &err) == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(nr, 1);
    ck_assert_int_eq(rows[0].dy, 2);
    ck_assert(isnan(rows[0].mi));
    ck_assert_str_eq(rows[0].params, "k=1");
    free(rows);
    ck_assert_int_eq(mist_manifest_read(PATH(p, "none.csv"), &rows, &nr, &err), MIST_EIO);
}
END_TEST

/* ---- names and paths -------------------------------------------------------------------------- */

/* ---- table reading: sidecars that cannot collide, npy variants, npz, CSV dialects ----------- */

START_TEST(test_sidecar_collision)
{
    const char *dir = fresh_dir("sidecol");
    char p[600], q[600], side[600];
    mist_err err;
    mist_dataset *a = make_ds(8, 1, 1), *b = make_ds(5, 2, 1), *back = NULL;
    fill_pattern(a);
    fill_pattern(b);
    a->meta.mi = 0.25;
    b->meta.mi = 1.5;
    /* data.npy and data.csv side by side: each keeps its own metadata */
    ck_assert_int_eq(mist_dataset_write(a, PATH(p, "data.npy"), MIST_FMT_AUTO, MIST_DTYPE_F64,
                                        &err), MIST_OK);
    ck_assert_int_eq(mist_dataset_write(b, PATH(q, "data.csv"), MIST_FMT_AUTO, MIST_DTYPE_F64,
                                        &err), MIST_OK);
    ck_assert(exists(PATH(side, "data.npy.json")) && exists(PATH(side, "data.csv.json")));
    ck_assert(!exists(PATH(side, "data.json")));
    ck_assert_msg(mist_dataset_read(&back, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    ck_assert(back->dx == 1 && back->meta.mi == 0.25);
    mist_dataset_free(back);
    ck_assert_msg(mist_dataset_read(&back, q, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    ck_assert(back->dx == 2 && back->meta.mi == 1.5);
    mist_dataset_free(back);

    /* mist 0.1's data.json is still read for the file it names, and only for that one */
    ck_assert_int_eq(rename(PATH(side, "data.npy.json"), PATH(q, "data.json")), 0);
    unlink(PATH(side, "data.csv.json"));
    ck_assert_msg(mist_dataset_read(&back, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    ck_assert(back->dx == 1 && back->meta.mi == 0.25);
    mist_dataset_free(back);
    expect_read_fails(PATH(q, "data.csv"), MIST_FMT_AUTO, 0, MIST_EINVAL, "--dx");
    /* a hand-written one that names no file is taken as it is */
    write_text(PATH(side, "data.json"), "{\"format\":\"mist-dataset\",\"dx\":2,\"dy\":1,\"n\":5}");
    ck_assert_msg(mist_dataset_read(&back, PATH(q, "data.csv"), MIST_FMT_AUTO, 0, &err) == MIST_OK,
                  "%s", err.msg);
    ck_assert(back->dx == 2 && isnan(back->meta.mi));
    mist_dataset_free(back);
    mist_dataset_free(a);
    mist_dataset_free(b);
}
END_TEST

/* A .npy of the given header with the given payload. */
static void write_npy_payload(const char *path, const char *dict, const void *data, size_t len)
{
    size_t dl = strlen(dict), hl = dl + 1;
    while ((10 + hl) % 64) hl++;
    unsigned char *buf = calloc(1, 10 + hl + len);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    memcpy(buf + 10, dict, dl);
    memset(buf + 10 + dl, ' ', hl - dl - 1);
    buf[10 + hl - 1] = '\n';
    memcpy(buf + 10 + hl, data, len);
    tu_write(path, buf, 10 + hl + len);
    free(buf);
}

START_TEST(test_npy_dtypes)
{
    const char *dir = fresh_dir("npydt");
    char p[600];
    mist_err err;
    double *m;
    size_t n, cols;
    /* int16 big-endian, 2 x 3 in Fortran order: column-major on disk */
    const unsigned char be16[] = {0xff, 0xfe, 0x00, 0x03, 0x00, 0x01, 0x7f, 0xff,
                                  0x80, 0x00, 0x00, 0x00};
    write_npy_payload(PATH(p, "a.npy"), "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }",
                      be16, sizeof be16);
    ck_assert_msg(mist_matrix_read(p, MIST_FMT_AUTO, &m, &n, &cols, NULL, NULL, NULL, NULL, &err) ==
                      MIST_OK, "%s", err.msg);
    ck_assert(n == 2 && cols == 3);
    /* columns (-2, 3), (1, 32767), (-32768, 0) -> rows (-2, 1, -32768), (3, 32767, 0) */
    const double want[] = {-2, 1, -32768, 3, 32767, 0};
    for (int i = 0; i < 6; i++) ck_assert_msg(m[i] == want[i], "[%d] = %g", i, m[i]);
    free(m);
    /* uint32 and bool little-endian, and int64 beyond int32 */
    const unsigned char u32[] = {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    write_npy_payload(PATH(p, "u.npy"), "{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }",
                      u32, sizeof u32);
    ck_assert_int_eq(mist_matrix_read(p, MIST_FMT_AUTO, &m, &n, &cols, NULL, NULL, NULL, NULL, &err),
                     MIST_OK);
    ck_assert(n == 2 && cols == 1 && m[0] == 1 && m[1] == 4294967295.0);
    free(m);
    const unsigned char b1[] = {0, 1, 2, 0};
    write_npy_payload(PATH(p, "b.npy"), "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }",
                      b1, sizeof b1);
    ck_assert_int_eq(mist_matrix_read(p, MIST_FMT_AUTO, &m, &n, &cols, NULL, NULL, NULL, NULL, &err),
                     MIST_OK);
    ck_assert(m[0] == 0 && m[1] == 1 && m[2] == 1 && m[3] == 0);
    free(m);
    const unsigned char i64[] = {0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x80};
    write_npy_payload(PATH(p, "i.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }",
                      i64, sizeof i64);
    ck_assert_int_eq(mist_matrix_read(p, MIST_FMT_AUTO, &m, &n, &cols, NULL, NULL, NULL, NULL, &err),
                     MIST_OK);
    ck_assert(m[0] == -9223372032559808512.0); /* 0x8000000100000000 as int64 */
    free(m);
}
END_TEST

/* ---- a zip written here, independently of the reader: stored members, zip64 optional ---- */

static uint32_t ref_crc32(const unsigned char *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static size_t put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); return 2; }
static size_t put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); return 4; }

/* members: name and .npy bytes; method 8 marks a (fake) deflated member */
static size_t build_zip(unsigned char *z, const char *const *names, unsigned char *const *data,
                        const size_t *lens, int count, int method)
{
    size_t off = 0, offs[8];
    for (int k = 0; k < count; k++) {
        offs[k] = off;
        size_t nl = strlen(names[k]);
        off += put32(z + off, 0x04034b50u);
        off += put16(z + off, 20);
        off += put16(z + off, 0);
        off += put16(z + off, (unsigned)method);
        off += put32(z + off, 0);
        off += put32(z + off, ref_crc32(data[k], lens[k]));
        off += put32(z + off, (uint32_t)lens[k]);
        off += put32(z + off, (uint32_t)lens[k]);
        off += put16(z + off, (unsigned)nl);
        off += put16(z + off, 0);
        memcpy(z + off, names[k], nl);
        off += nl;
        memcpy(z + off, data[k], lens[k]);
        off += lens[k];
    }
    size_t cd = off;
    for (int k = 0; k < count; k++) {
        size_t nl = strlen(names[k]);
        off += put32(z + off, 0x02014b50u);
        off += put16(z + off, 20);
        off += put16(z + off, 20);
        off += put16(z + off, 0);
        off += put16(z + off, (unsigned)method);
        off += put32(z + off, 0);
        off += put32(z + off, ref_crc32(data[k], lens[k]));
        off += put32(z + off, (uint32_t)lens[k]);
        off += put32(z + off, (uint32_t)lens[k]);
        off += put16(z + off, (unsigned)nl);
        off += put16(z + off, 0);
        off += put16(z + off, 0);
        off += put16(z + off, 0);
        off += put16(z + off, 0);
        off += put32(z + off, 0);
        off += put32(z + off, (uint32_t)offs[k]);
        memcpy(z + off, names[k], nl);
        off += nl;
    }
    size_t cdlen = off - cd;
    off += put32(z + off, 0x06054b50u);
    off += put16(z + off, 0);
    off += put16(z + off, 0);
    off += put16(z + off, (unsigned)count);
    off += put16(z + off, (unsigned)count);
    off += put32(z + off, (uint32_t)cdlen);
    off += put32(z + off, (uint32_t)cd);
    off += put16(z + off, 0);
    return off;
}

START_TEST(test_npz)
{
    const char *dir = fresh_dir("npz");
    char p[600], q[600];
    mist_err err;
    /* two .npy members made by mist's own writer: a (3 x 2) and b (3 x 1) */
    mist_dataset *a = make_ds(3, 1, 1), *b = make_ds(3, 1, 1);
    fill_pattern(a);
    for (size_t i = 0; i < 6; i++) b->data[i] = 100.0 + (double)i;
    ck_assert_int_eq(mist_dataset_write(a, PATH(p, "a.npy"), MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                     MIST_OK);
    ck_assert_int_eq(mist_dataset_write(b, PATH(q, "b.npy"), MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                     MIST_OK);
    size_t la, lb;
    unsigned char *da = tu_slurp(p, &la), *db = tu_slurp(q, &lb);
    unsigned char *zip = malloc(la + lb + 1024);
    const char *names[] = {"y.npy", "x.npy"};
    unsigned char *data[] = {da, db};
    size_t lens[] = {la, lb};
    size_t zl = build_zip(zip, names, data, lens, 2, 0);
    tu_write(PATH(p, "d.npz"), zip, zl);
    mist_dataset *ds = NULL;
    ck_assert_msg(mist_dataset_read(&ds, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    /* x (b) first, though stored second */
    ck_assert(ds->dx == 2 && ds->dy == 2 && ds->n == 3);
    for (size_t i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert(ds->data[i * 4 + (size_t)j] ==
                      (j < 2 ? b->data[i * 2 + (size_t)j] : a->data[i * 2 + (size_t)(j - 2)]));
    mist_dataset_free(ds);
    /* damaged: a flipped data byte (CRC), a cut archive, a deflated member, not a zip */
    zip[100] ^= 1;
    tu_write(PATH(p, "crc.npz"), zip, zl);
    expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, "CRC");
    zip[100] ^= 1;
    for (size_t cut = 0; cut < zl; cut += 37) {
        tu_write(PATH(p, "cut.npz"), zip, cut);
        expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, NULL);
    }
    zl = build_zip(zip, names, data, lens, 2, 8);
    tu_write(PATH(p, "deflated.npz"), zip, zl);
    expect_read_fails(p, MIST_FMT_AUTO, 0, MIST_EFORMAT, "savez_compressed");
    expect_read_fails(PATH(p, "a.npy.json"), MIST_FMT_NPZ, 0, MIST_EFORMAT, "zip");
    /* writing one is refused, naming what to use */
    ck_assert_int_eq(mist_dataset_write(a, PATH(p, "w.npz"), MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                     MIST_EINVAL);
    ck_assert(!exists(p));
    free(zip);
    free(da);
    free(db);
    mist_dataset_free(a);
    mist_dataset_free(b);
}
END_TEST

START_TEST(test_csv_dialects)
{
    const char *dir = fresh_dir("csvdial");
    char p[600];
    mist_err err;
    mist_table t;
    /* quoted numbers and names, a quoted delimiter and quote inside a name */
    write_text(PATH(p, "q.csv"), "\"a\",\"b, c\",\"say \"\"hi\"\"\"\n\"1.5\", 2 ,\"-3\"\n4,\"5e1\",6\n");
    ck_assert_msg(mist_table_read(p, NULL, &t, &err) == MIST_OK, "%s", err.msg);
    ck_assert(t.n == 2 && t.cols == 3 && t.names);
    ck_assert_str_eq(t.names[1], "b, c");
    ck_assert_str_eq(t.names[2], "say \"hi\"");
    ck_assert(t.data[0] == 1.5 && t.data[2] == -3 && t.data[4] == 50);
    ck_assert_int_eq(mist_table_column(&t, "B, C"), 1);
    ck_assert_int_eq(mist_table_column(&t, "d"), -1);
    ck_assert_int_eq(t.index_column, 0);
    mist_table_free(&t);
    /* TSV by extension and by content; ';' on request */
    write_text(PATH(p, "t.tsv"), "x\ty\n1\t2\n3\t4\n");
    ck_assert_msg(mist_table_read(p, NULL, &t, &err) == MIST_OK, "%s", err.msg);
    ck_assert(t.cols == 2 && t.data[3] == 4);
    mist_table_free(&t);
    write_text(PATH(p, "t.csv"), "1\t2\n3\t4\n");
    ck_assert_msg(mist_table_read(p, NULL, &t, &err) == MIST_OK, "%s", err.msg);
    ck_assert(t.cols == 2 && t.data[3] == 4);
    mist_table_free(&t);
    write_text(PATH(p, "s.csv"), "a;b\n1;2\n3;4\n");
    mist_read_opts o = {MIST_FMT_AUTO, ';'};
    ck_assert_msg(mist_table_read(p, &o, &t, &err) == MIST_OK, "%s", err.msg);
    ck_assert(t.cols == 2 && t.data[2] == 3);
    mist_table_free(&t);
    /* without the delimiter: one column 'a;b' whose values are not numbers */
    ck_assert_int_eq(mist_table_read(p, NULL, &t, &err), MIST_EFORMAT);
    /* pandas' index column: 0, 1, 2, ... under an empty name; 1, 2, 3 works too; 0, 1, 3 not */
    write_text(PATH(p, "pd.csv"), ",a,b\n0,0.5,1\n1,0.25,2\n2,0.125,3\n");
    ck_assert_msg(mist_table_read(p, NULL, &t, &err) == MIST_OK, "%s", err.msg);
    ck_assert_int_eq(t.index_column, 1);
    mist_table_free(&t);
    write_text(PATH(p, "pd1.csv"), "1,0.5,7\n2,0.25,8\n3,0.125,9\n");
    ck_assert_int_eq(mist_table_read(p, NULL, &t, &err), MIST_OK);
    ck_assert_int_eq(t.index_column, 1);
    mist_table_free(&t);
    /* a ramp as X of a 2-column file, or under a real name, is data */
    write_text(PATH(p, "ramp.csv"), "1,0.5\n2,0.25\n3,0.125\n");
    ck_assert_int_eq(mist_table_read(p, NULL, &t, &err), MIST_OK);
    ck_assert_int_eq(t.index_column, 0);
    mist_table_free(&t);
    write_text(PATH(p, "dose.csv"), "dose,y\n0,0.5\n1,0.25\n2,0.125\n");
    ck_assert_int_eq(mist_table_read(p, NULL, &t, &err), MIST_OK);
    ck_assert_int_eq(t.index_column, 0);
    mist_table_free(&t);
    write_text(PATH(p, "pd2.csv"), "0,0.5\n1,0.25\n3,0.125\n");
    ck_assert_int_eq(mist_table_read(p, NULL, &t, &err), MIST_OK);
    ck_assert_int_eq(t.index_column, 0);
    mist_table_free(&t);
    /* quotes that do not close, or text after a closing quote */
    write_text(PATH(p, "bad1.csv"), "1,\"2\n3,4\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "line 1, column 2: a quote");
    write_text(PATH(p, "bad2.csv"), "1,\"2\"x\n3,4\n");
    expect_read_fails(p, MIST_FMT_AUTO, 1, MIST_EFORMAT, "line 1, column 2");
    /* a written .tsv is tab-separated and reads back */
    mist_dataset *ds = make_ds(4, 1, 2), *back = NULL;
    fill_pattern(ds);
    ck_assert_int_eq(mist_dataset_write(ds, PATH(p, "w.tsv"), MIST_FMT_AUTO, MIST_DTYPE_F64, &err),
                     MIST_OK);
    size_t len;
    char *text = (char *)tu_slurp(p, &len);
    ck_assert(text && !memchr(text, ',', len) && memchr(text, '\t', len));
    free(text);
    ck_assert_msg(mist_dataset_read(&back, p, MIST_FMT_AUTO, 0, &err) == MIST_OK, "%s", err.msg);
    ck_assert(back->dx == 1 && back->dy == 2 && memcmp(back->data, ds->data, 12 * sizeof(double)) == 0);
    mist_dataset_free(back);
    mist_dataset_free(ds);
}
END_TEST

START_TEST(test_format_helpers)
{
    ck_assert_int_eq(mist_format_from_path("a/b.npy"), MIST_FMT_NPY);
    ck_assert_int_eq(mist_format_from_path("B.NPY"), MIST_FMT_NPY);
    ck_assert_int_eq(mist_format_from_path("x.csv"), MIST_FMT_CSV);
    ck_assert_int_eq(mist_format_from_path("x.msgpack"), MIST_FMT_MSGPACK);
    ck_assert_int_eq(mist_format_from_path("x.mpk"), MIST_FMT_MSGPACK);
    ck_assert_int_eq(mist_format_from_path("x.txt"), MIST_FMT_AUTO);
    ck_assert_int_eq(mist_format_from_path(".npy"), MIST_FMT_AUTO);
    ck_assert_str_eq(mist_format_name(MIST_FMT_NPY), "npy");
    ck_assert_str_eq(mist_format_name(MIST_FMT_CSV), "csv");
    ck_assert_str_eq(mist_format_name(MIST_FMT_MSGPACK), "msgpack");
    mist_format f;
    mist_err err;
    ck_assert_int_eq(mist_format_parse("msgpack", &f, &err), MIST_OK);
    ck_assert_int_eq(f, MIST_FMT_MSGPACK);
    ck_assert_int_eq(mist_format_parse("csv", &f, &err), MIST_OK);
    ck_assert_int_eq(f, MIST_FMT_CSV);
    ck_assert_int_eq(mist_format_parse("NPY", &f, &err), MIST_EINVAL);
    ck_assert(strstr(err.msg, "NPY") != NULL);

    ck_assert_int_eq(mist_format_parse("npz", &f, &err), MIST_OK);
    ck_assert_int_eq(f, MIST_FMT_NPZ);
    ck_assert_int_eq(mist_format_from_path("a.NPZ"), MIST_FMT_NPZ);
    ck_assert_int_eq(mist_format_from_path("a.tsv"), MIST_FMT_CSV);

    /* every data file its own sidecar: the full name plus .json */
    char buf[64];
    ck_assert_int_eq(mist_sidecar_path(buf, sizeof buf, "dir/data.npy", &err), MIST_OK);
    ck_assert_str_eq(buf, "dir/data.npy.json");
    ck_assert_int_eq(mist_sidecar_path(buf, sizeof buf, "d.v2/data", &err), MIST_OK);
    ck_assert_str_eq(buf, "d.v2/data.json");
    ck_assert_int_eq(mist_sidecar_path(buf, sizeof buf, "x.csv", &err), MIST_OK);
    ck_assert_str_eq(buf, "x.csv.json");
    ck_assert_int_eq(mist_sidecar_path(buf, 15, "abcdef.npy", &err), MIST_EINVAL);
    ck_assert_int_eq(mist_sidecar_path(buf, 16, "abcdef.npy", &err), MIST_OK);
    ck_assert_str_eq(buf, "abcdef.npy.json");
}
END_TEST

static Suite *io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("io");
    tcase_add_test(tc, test_npy_f64_roundtrip);
    tcase_add_test(tc, test_npy_f32_roundtrip);
    tcase_add_test(tc, test_csv_roundtrip);
    tcase_add_test(tc, test_msgpack_roundtrip);
    tcase_add_test(tc, test_sidecar_meta);
    tcase_add_test(tc, test_dx_override);
#ifdef MIST_NUMPY_ONLY
    tcase_add_test(tc, test_numpy_interop);
    suite_add_tcase(s, tc);
    return s;
#endif
    tcase_add_test(tc, test_npy_malformed);
    tcase_add_test(tc, test_msgpack_truncated);
    tcase_add_test(tc, test_msgpack_garbage);
    tcase_add_test(tc, test_msgpack_invalid_records);
    tcase_add_test(tc, test_csv_parsing);
    tcase_add_test(tc, test_csv_stdin);
    tcase_add_test(tc, test_sidecar_mismatch);
    tcase_add_test(tc, test_atomic_write);
    tcase_add_test(tc, test_manifest_roundtrip);
    tcase_add_test(tc, test_manifest_malformed);
    tcase_add_test(tc, test_format_helpers);
    tcase_add_test(tc, test_sidecar_collision);
    tcase_add_test(tc, test_npy_dtypes);
    tcase_add_test(tc, test_npz);
    tcase_add_test(tc, test_csv_dialects);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
#ifdef MIST_NUMPY_ONLY
    if (!have_numpy()) {
        fprintf(stderr, "test_numpy_interop: SKIP: /usr/bin/python3 cannot import numpy "
                        "(apt-get install python3-numpy)\n");
        return 77;
    }
#endif
    return tu_run(io_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
