/* NumPy .npy files: a magic string, a version, a little-endian header length, a Python dict
 * literal describing dtype/order/shape, then the raw array. We write exactly what
 * numpy.save writes for a C-order '<f8'/'<f4' matrix (v1.0, data aligned to 64 bytes) and read
 * v1/v2/v3 files of float, integer and bool dtypes in either byte order and either memory
 * order, trusting nothing the header says until it is checked against the real file size. */
#include "io_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
/* numpy leaves room for the row count to grow to 21 digits (GROWTH_AXIS_MAX_DIGITS) so that
 * appending rows can rewrite the header in place; we do the same to stay byte-identical. */
#define NPY_GROWTH_DIGITS 21
/* numpy itself refuses headers over 10000 bytes by default; 1 MiB is generous. */
#define NPY_MAX_HEADER (1u << 20)
#define CHUNK 4096

/* ---- writing ---------------------------------------------------------------------------- */

int mist_npy_write(FILE *f, const char *name, const double *data, size_t n, size_t cols,
                   mist_dtype dtype, mist_err *err)
{
    const char *descr = dtype == MIST_DTYPE_F32 ? "<f4" : "<f8";
    char hdr[256];
    int len = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                       descr, n, cols);
    if (len < 0 || (size_t)len >= sizeof hdr)
        return mist_fail(err, MIST_EINVAL, "cannot format the .npy header for '%s'", name);
    char digits[32];
    int nd = snprintf(digits, sizeof digits, "%zu", n);
    for (int i = nd; i < NPY_GROWTH_DIGITS; i++) hdr[len++] = ' ';
    /* numpy's padding rule, including its quirk of adding a full 64 spaces when the header
     * would already end on a boundary. */
    size_t unpadded = NPY_MAGIC_LEN + 2 + 2 + (size_t)len + 1;
    size_t pad = NPY_ALIGN - unpadded % NPY_ALIGN;
    if ((size_t)len + pad + 1 > sizeof hdr)
        return mist_fail(err, MIST_EINVAL, "cannot format the .npy header for '%s'", name);
    memset(hdr + len, ' ', pad);
    len += (int)pad;
    hdr[len++] = '\n';

    unsigned char pre[10];
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(len & 0xff);
    pre[9] = (unsigned char)(len >> 8);
    int rc = mist_io_write(f, name, pre, sizeof pre, err);
    if (!rc) rc = mist_io_write(f, name, hdr, (size_t)len, err);
    if (rc) return rc;

    size_t total = n * cols; /* fits: the dataset exists in memory */
    if (dtype == MIST_DTYPE_F64 && mist_io_host_le())
        return mist_io_write(f, name, data, total * sizeof(double), err);

    unsigned char buf[CHUNK * 8];
    size_t item = dtype == MIST_DTYPE_F32 ? 4 : 8;
    for (size_t off = 0; off < total; off += CHUNK) {
        size_t m = total - off < CHUNK ? total - off : CHUNK;
        for (size_t i = 0; i < m; i++) {
            double v = data[off + i];
            if (item == 8) {
                mist_io_put_f64(buf + 8 * i, v);
            } else {
                float fv = (float)v;
                /* Silently writing inf for 1e300 would corrupt the data set. */
                if (isfinite(v) && !isfinite(fv))
                    return mist_fail(err, MIST_EDATA,
                                     "value %g at row %zu, column %zu overflows float32 in '%s'",
                                     v, (off + i) / cols + 1, (off + i) % cols + 1, name);
                uint32_t u;
                memcpy(&u, &fv, 4);
                mist_io_put_le32(buf + 4 * i, u);
            }
        }
        if ((rc = mist_io_write(f, name, buf, m * item, err))) return rc;
    }
    return MIST_OK;
}

/* ---- header parsing ------------------------------------------------------------------------
 * The header is a Python literal such as
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (100, 3), }
 * We accept exactly that grammar: the three keys in any order, either quote style, optional
 * trailing commas, and only blanks after the closing brace. */

typedef struct hparse {
    const char *s;
    size_t len, pos;
} hparse;

static void hp_ws(hparse *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')) p->pos++;
}

static int hp_char(hparse *p, char c)
{
    hp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes (numpy never needs them here); NUL-terminated into out. */
static int hp_string(hparse *p, char *out, size_t outsz)
{
    hp_ws(p);
    if (p->pos >= p->len) return -1;
    char q = p->s[p->pos];
    if (q != '\'' && q != '"') return -1;
    size_t start = ++p->pos;
    while (p->pos < p->len && p->s[p->pos] != q) {
        if (p->s[p->pos] == '\\' || p->s[p->pos] == '\n') return -1;
        p->pos++;
    }
    if (p->pos >= p->len) return -1;
    size_t l = p->pos - start;
    p->pos++;
    if (l >= outsz) return -1;
    memcpy(out, p->s + start, l);
    out[l] = '\0';
    return 0;
}

static int hp_word(hparse *p, const char *w)
{
    hp_ws(p);
    size_t l = strlen(w);
    if (p->len - p->pos >= l && memcmp(p->s + p->pos, w, l) == 0) {
        p->pos += l;
        return 1;
    }
    return 0;
}

/* (a, b) / (a,) / (a, b, c) ...; counts all dimensions, stores the first two. */
static int hp_shape(hparse *p, uint64_t dims[2], int *ndim)
{
    *ndim = 0;
    if (!hp_char(p, '(')) return -1;
    for (;;) {
        if (hp_char(p, ')')) return 0;
        hp_ws(p);
        size_t start = p->pos;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
        uint64_t v;
        if (mist_io_parse_u64(p->s + start, p->pos - start, &v)) return -1;
        if (p->pos < p->len && p->s[p->pos] == 'L') p->pos++; /* Python 2 longs */
        if (*ndim < 2) dims[*ndim] = v;
        if (*ndim < 64) (*ndim)++;
        if (hp_char(p, ',')) continue;
        if (hp_char(p, ')')) return 0;
        return -1;
    }
}

/* An element type of the array: kind 'f' (float), 'i', 'u' (integers) or 'b' (bool), its size
 * in bytes and whether it is stored big-endian. */
typedef struct npy_type {
    char kind;
    int size, big;
} npy_type;

/* "<f8", ">i4", "|u1", "|b1", "=f4" -> t; -1 for anything else (complex, strings, objects). */
static int parse_descr(const char *d, npy_type *t)
{
    if (strlen(d) != 3 || !strchr("<>|=", d[0]) || d[2] < '1' || d[2] > '8') return -1;
    t->kind = d[1];
    t->size = d[2] - '0';
    t->big = d[0] == '>' || (d[0] == '=' && !mist_io_host_le());
    if (t->kind == 'f') return t->size == 4 || t->size == 8 ? 0 : -1;
    if (t->kind == 'i' || t->kind == 'u')
        return t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8 ? 0 : -1;
    if (t->kind == 'b') return t->size == 1 ? 0 : -1;
    return -1;
}

static int parse_header(const char *path, const char *s, size_t len, npy_type *type,
                        int *fortran_out, uint64_t *n, uint64_t *cols, mist_err *err)
{
    hparse p = {s, len, 0};
    int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0, ndim = 0;
    char descr[32] = "";
    uint64_t dims[2] = {0, 0};
    if (!hp_char(&p, '{')) goto syntax;
    for (;;) {
        if (hp_char(&p, '}')) break;
        char key[32];
        if (hp_string(&p, key, sizeof key) || !hp_char(&p, ':')) goto syntax;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            hp_ws(&p);
            if (p.pos < p.len && p.s[p.pos] == '[')
                return mist_fail(err, MIST_EFORMAT,
                                 "'%s': structured dtypes are not supported (save a plain "
                                 "2-D array of numbers)",
                                 path);
            if (hp_string(&p, descr, sizeof descr)) goto syntax;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (hp_word(&p, "True")) fortran = 1;
            else if (hp_word(&p, "False")) fortran = 0;
            else goto syntax;
            have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (hp_shape(&p, dims, &ndim)) goto syntax;
            have_shape = 1;
        } else {
            return mist_fail(err, MIST_EFORMAT, "'%s': unexpected or repeated key '%s' in the "
                             ".npy header", path, key);
        }
        if (hp_char(&p, ',')) continue;
        if (hp_char(&p, '}')) break;
        goto syntax;
    }
    /* After the dict only padding may follow; anything else means the stated header length
     * does not match the header. */
    while (p.pos < p.len && (s[p.pos] == ' ' || s[p.pos] == '\t' || s[p.pos] == '\n' ||
                             s[p.pos] == '\r'))
        p.pos++;
    if (p.pos != p.len)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': unexpected bytes after the .npy header dict (header length wrong?)",
                         path);
    if (!have_descr || !have_order || !have_shape)
        return mist_fail(err, MIST_EFORMAT, "'%s': .npy header lacks '%s'", path,
                         !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    if (parse_descr(descr, type))
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': unsupported dtype '%s' (mist reads floats f4/f8, integers "
                         "i1-i8/u1-u8 and bools, either byte order)",
                         path, descr);
    *fortran_out = fortran;
    if (ndim == 1) {
        dims[1] = 1; /* a vector is one column */
    } else if (ndim != 2) {
        return mist_fail(err, MIST_EFORMAT, "'%s': array has %d dimensions; expected 2", path,
                         ndim);
    }
    *n = dims[0];
    *cols = dims[1];
    return MIST_OK;
syntax:
    return mist_fail(err, MIST_EFORMAT, "'%s': malformed .npy header near byte %zu", path,
                     p.pos);
}

/* ---- reading ---------------------------------------------------------------------------- */

static int read_exact(FILE *f, void *buf, size_t len)
{
    return fread(buf, 1, len, f) == len ? 0 : -1;
}

/* One element as a double (integers beyond 2^53 round, as numpy's astype(float) does). */
static double npy_value(const unsigned char *p, const npy_type *t)
{
    unsigned char b[8];
    for (int i = 0; i < t->size; i++) b[i] = t->big ? p[t->size - 1 - i] : p[i];
    uint64_t u = 0;
    for (int i = t->size - 1; i >= 0; i--) u = (u << 8) | b[i];
    switch (t->kind) {
    case 'f':
        if (t->size == 8) {
            double d;
            memcpy(&d, &u, 8);
            return d;
        } else {
            uint32_t u32 = (uint32_t)u;
            float fv;
            memcpy(&fv, &u32, 4);
            return (double)fv;
        }
    case 'u': return (double)u;
    case 'b': return u != 0;
    default: { /* two's complement of size bytes */
        int shift = 64 - 8 * t->size;
        return (double)((int64_t)(u << shift) >> shift);
    }
    }
}

/* avail: the bytes after the prefix when known (a regular file, a member of an .npz), else
 * UINT64_MAX; checked against the header before anything is allocated. */
static int read_open(FILE *f, const char *path, uint64_t avail, double **out, size_t *n_out,
                     size_t *cols_out, mist_dtype *dtype_out, mist_err *err)
{
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, f);
    if (ferror(f)) return mist_fail(err, MIST_EIO, "error reading '%s'", path);
    if (got == 0) return mist_fail(err, MIST_EFORMAT, "'%s' is empty", path);
    if (got < NPY_MAGIC_LEN || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return mist_fail(err, MIST_EFORMAT, "'%s' is not a .npy file (bad magic)", path);
    if (got < 10) return mist_fail(err, MIST_EFORMAT, "'%s': truncated .npy header", path);
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return mist_fail(err, MIST_EFORMAT, "'%s': unsupported .npy version %d.%d", path, major,
                         minor);
    size_t prelen = 10;
    uint32_t hlen;
    if (major == 1) {
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    } else {
        /* v2/v3 have a 4-byte header length. */
        if (read_exact(f, pre + 10, 2))
            return mist_fail(err, MIST_EFORMAT, "'%s': truncated .npy header", path);
        hlen = mist_io_get_le32(pre + 8);
        prelen = 12;
    }
    if (hlen > NPY_MAX_HEADER)
        return mist_fail(err, MIST_EFORMAT, "'%s': implausible .npy header length %lu", path,
                         (unsigned long)hlen);
    char *hdr = malloc(hlen + 1);
    if (!hdr) return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
    if (read_exact(f, hdr, hlen)) {
        free(hdr);
        return mist_fail(err, MIST_EFORMAT, "'%s': truncated .npy header (%lu bytes announced)",
                         path, (unsigned long)hlen);
    }
    hdr[hlen] = '\0';
    if (memchr(hdr, '\0', hlen)) {
        free(hdr);
        return mist_fail(err, MIST_EFORMAT, "'%s': NUL byte in the .npy header", path);
    }
    npy_type type;
    int fortran = 0;
    uint64_t n = 0, cols = 0;
    int rc = parse_header(path, hdr, hlen, &type, &fortran, &n, &cols, err);
    free(hdr);
    if (rc) return rc;

    size_t item = (size_t)type.size;
    if (cols == 0) return mist_fail(err, MIST_EFORMAT, "'%s': array has no columns", path);
    if (cols > INT_MAX || n > SIZE_MAX || n > SIZE_MAX / sizeof(double) / cols)
        return mist_fail(err, MIST_EFORMAT, "'%s': shape (%llu, %llu) is too large", path,
                         (unsigned long long)n, (unsigned long long)cols);
    size_t total = (size_t)n * (size_t)cols;
    size_t bytes = total * item;

    /* Compare with the real size before allocating, so a lying header cannot make us allocate
     * terabytes. Pipes and the like are checked while reading instead. */
    struct stat st;
    if (avail == UINT64_MAX && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
        avail = (uint64_t)st.st_size;
    if (avail != UINT64_MAX) {
        uint64_t have = avail > prelen + hlen ? avail - prelen - hlen : 0;
        if (have < bytes)
            return mist_fail(err, MIST_EFORMAT,
                             "'%s': truncated data: shape (%zu, %zu) needs %zu bytes, file has "
                             "%llu",
                             path, (size_t)n, (size_t)cols, bytes, (unsigned long long)have);
        if (have > bytes)
            return mist_fail(err, MIST_EFORMAT,
                             "'%s': %llu unexpected bytes after the array data", path,
                             (unsigned long long)(have - bytes));
    }

    double *data = malloc(total ? total * sizeof(double) : sizeof(double));
    if (!data) return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s' (%zu values)", path,
                                total);
    if (type.kind == 'f' && item == 8 && !type.big && mist_io_host_le()) {
        if (read_exact(f, data, bytes)) goto truncated;
    } else {
        unsigned char buf[CHUNK * 8];
        for (size_t off = 0; off < total; off += CHUNK) {
            size_t m = total - off < CHUNK ? total - off : CHUNK;
            if (read_exact(f, buf, m * item)) goto truncated;
            for (size_t i = 0; i < m; i++) data[off + i] = npy_value(buf + item * i, &type);
        }
    }
    if (fgetc(f) != EOF) {
        free(data);
        return mist_fail(err, MIST_EFORMAT, "'%s': unexpected bytes after the array data", path);
    }
    if (ferror(f)) {
        free(data);
        return mist_fail(err, MIST_EIO, "error reading '%s'", path);
    }
    if (fortran && n > 1 && cols > 1) { /* column-major on disk: to the row-major of mist */
        double *t = malloc(total * sizeof *t);
        if (!t) {
            free(data);
            return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s' (%zu values)", path,
                             total);
        }
        for (size_t j = 0; j < (size_t)cols; j++)
            for (size_t i = 0; i < (size_t)n; i++) t[i * cols + j] = data[j * n + i];
        free(data);
        data = t;
    }
    *out = data;
    *n_out = (size_t)n;
    *cols_out = (size_t)cols;
    *dtype_out = type.kind == 'f' && item == 4 ? MIST_DTYPE_F32 : MIST_DTYPE_F64;
    return MIST_OK;
truncated:
    free(data);
    if (ferror(f)) return mist_fail(err, MIST_EIO, "error reading '%s'", path);
    return mist_fail(err, MIST_EFORMAT, "'%s': truncated data (expected %zu bytes)", path, bytes);
}

int mist_npy_read(const char *path, double **data, size_t *n, size_t *cols, mist_dtype *dtype,
                  mist_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mist_fail(err, MIST_EIO, "cannot open '%s': %s", path, strerror(errno));
    int rc = read_open(f, path, UINT64_MAX, data, n, cols, dtype, err);
    fclose(f);
    return rc;
}

int mist_npy_read_mem(const unsigned char *buf, size_t len, const char *name, double **data,
                      size_t *n, size_t *cols, mist_dtype *dtype, mist_err *err)
{
    if (len == 0) return mist_fail(err, MIST_EFORMAT, "'%s' is empty", name);
    FILE *f = fmemopen((void *)buf, len, "rb");
    if (!f) return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", name);
    int rc = read_open(f, name, (uint64_t)len, data, n, cols, dtype, err);
    fclose(f);
    return rc;
}
