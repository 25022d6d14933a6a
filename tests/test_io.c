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
    ck_assert(exists(PATH(side, "d.json")));
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
    ck_assert(!exists(PATH(p, "d.json"))); /* self-contained: no sidecar */
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
    char *text = (char *)tu_slurp(PATH(side, "d.json"), &len);
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
    expect_read_fails(PATH(p, "ref_fortran.npy"), MIST_FMT_AUTO, 1, MIST_EFORMAT, "Fortran");
    expect_read_fails(PATH(p, "ref_big.npy"), MIST_FMT_AUTO, 1, MIST_EFORMAT, "big-endian");
    expect_read_fails(PATH(p, "ref_i8.npy"), MIST_FMT_AUTO, 1, MIST_EFORMAT, "<i8");
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
        {"{'descr': '>f8', 'fortran_order': False, 'shape': (4, 2), }", 64, "big-endian"},
        {"{'descr': '<f8', 'fortran_order': True, 'shape': (4, 2), }", 64, "Fortran"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (4, 2), }", 64, "dtype"},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (4, 2), }", 8, "dtype"},
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
    PATH(side, "d.json");
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

    char buf[64];
    ck_assert_int_eq(mist_sidecar_path(buf, sizeof buf, "dir/data.npy", &err), MIST_OK);
    ck_assert_str_eq(buf, "dir/data.json");
    ck_assert_int_eq(mist_sidecar_path(buf, sizeof buf, "d.v2/data", &err), MIST_OK);
    ck_assert_str_eq(buf, "d.v2/data.json");
    ck_assert_int_eq(mist_sidecar_path(buf, sizeof buf, "x.csv", &err), MIST_OK);
    ck_assert_str_eq(buf, "x.json");
    ck_assert_int_eq(mist_sidecar_path(buf, sizeof buf, "x.json", &err), MIST_EINVAL);
    ck_assert_int_eq(mist_sidecar_path(buf, 8, "abcdef.npy", &err), MIST_EINVAL);
    ck_assert_int_eq(mist_sidecar_path(buf, 11, "abcdef.npy", &err), MIST_EINVAL);
    ck_assert_int_eq(mist_sidecar_path(buf, 12, "abcdef.npy", &err), MIST_OK);
    ck_assert_str_eq(buf, "abcdef.json");
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
