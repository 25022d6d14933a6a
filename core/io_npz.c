/* NumPy .npz archives as numpy.savez writes them: a zip file of NAME.npy members, stored
 * without compression (zip64 extra fields included: numpy forces them). The central directory
 * gives each member's size and place; every offset and size is checked against the archive
 * before use, and each member's CRC-32 is verified. Compressed members (numpy.savez_compressed)
 * are refused with a message rather than read through a zlib dependency. */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

#define NPZ_MAX_BYTES ((size_t)1 << 36)
#define NPZ_MAX_MEMBERS 4096

typedef struct npz_member {
    char name[256];
    uint64_t offset, size;
    uint32_t crc;
    int method;
} npz_member;

static uint32_t get16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

static uint32_t crc32_of(const unsigned char *p, uint64_t len)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) { /* benign race: every thread computes the same table */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (uint64_t i = 0; i < len; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* The zip64 extra field (id 1) holds, in this order, those of usize, csize and offset whose
 * 32-bit fields are 0xFFFFFFFF. */
static int zip64_extra(const unsigned char *x, size_t xlen, uint64_t *usize, uint64_t *csize,
                       uint64_t *offset, int need_u, int need_c, int need_o)
{
    size_t i = 0;
    while (i + 4 <= xlen) {
        uint32_t id = get16(x + i), len = get16(x + i + 2);
        if (i + 4 + len > xlen) return -1;
        if (id == 1) {
            const unsigned char *q = x + i + 4, *end = q + len;
            if (need_u) { if (q + 8 > end) return -1; *usize = mist_io_get_le64(q); q += 8; }
            if (need_c) { if (q + 8 > end) return -1; *csize = mist_io_get_le64(q); q += 8; }
            if (need_o) { if (q + 8 > end) return -1; *offset = mist_io_get_le64(q); }
            return 0;
        }
        i += 4 + len;
    }
    return need_u || need_c || need_o ? -1 : 0;
}

static int list_members(const unsigned char *b, size_t len, const char *path, npz_member **out,
                        size_t *count, mist_err *err)
{
    /* the end-of-central-directory record: within the last 22 + 65535 bytes */
    size_t eocd = SIZE_MAX;
    for (size_t i = len >= 22 ? len - 22 : 0; len >= 22; i--) {
        if (mist_io_get_le32(b + i) == 0x06054b50u) {
            eocd = i;
            break;
        }
        if (i == 0 || len - i > 22 + 65535) break;
    }
    if (eocd == SIZE_MAX)
        return mist_fail(err, MIST_EFORMAT, "'%s' is not an .npz (zip) archive", path);
    uint64_t entries = get16(b + eocd + 10), cd_off = mist_io_get_le32(b + eocd + 16);
    if (entries == 0xFFFF || cd_off == 0xFFFFFFFFu) { /* zip64: the locator just before */
        if (eocd < 20 || mist_io_get_le32(b + eocd - 20) != 0x07064b50u)
            return mist_fail(err, MIST_EFORMAT, "'%s': zip64 locator missing", path);
        uint64_t z = mist_io_get_le64(b + eocd - 20 + 8);
        if (len < 56 || z > len - 56 || mist_io_get_le32(b + z) != 0x06064b50u)
            return mist_fail(err, MIST_EFORMAT, "'%s': bad zip64 end record", path);
        entries = mist_io_get_le64(b + z + 32);
        cd_off = mist_io_get_le64(b + z + 48);
    }
    if (entries == 0) return mist_fail(err, MIST_EFORMAT, "'%s' holds no arrays", path);
    if (entries > NPZ_MAX_MEMBERS)
        return mist_fail(err, MIST_EFORMAT, "'%s' holds %llu members (at most %d)", path,
                         (unsigned long long)entries, NPZ_MAX_MEMBERS);
    npz_member *m = calloc((size_t)entries, sizeof *m);
    if (!m) return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
    uint64_t p = cd_off;
    for (size_t k = 0; k < entries; k++) {
        if (p > len || len - p < 46 || mist_io_get_le32(b + p) != 0x02014b50u) goto bad;
        uint32_t nlen = get16(b + p + 28), xlen = get16(b + p + 30), clen = get16(b + p + 32);
        if (len - p - 46 < (uint64_t)nlen + xlen + clen) goto bad;
        uint64_t csize = mist_io_get_le32(b + p + 20), usize = mist_io_get_le32(b + p + 24),
                 off = mist_io_get_le32(b + p + 42);
        if (zip64_extra(b + p + 46 + nlen, xlen, &usize, &csize, &off, usize == 0xFFFFFFFFu,
                        csize == 0xFFFFFFFFu, off == 0xFFFFFFFFu))
            goto bad;
        m[k].method = (int)get16(b + p + 10);
        m[k].crc = mist_io_get_le32(b + p + 16);
        m[k].size = csize;
        if (m[k].method == 0 && csize != usize) goto bad;
        if (nlen >= sizeof m[k].name) goto bad;
        memcpy(m[k].name, b + p + 46, nlen);
        m[k].name[nlen] = '\0';
        /* the data follow the local header, whose name and extra lengths may differ */
        if (off > len || len - off < 30 || mist_io_get_le32(b + off) != 0x04034b50u) goto bad;
        uint64_t data = off + 30 + get16(b + off + 26) + get16(b + off + 28);
        if (data > len || len - data < csize) goto bad;
        m[k].offset = data;
        p += 46 + (uint64_t)nlen + xlen + clen;
    }
    *out = m;
    *count = (size_t)entries;
    return MIST_OK;
bad:
    free(m);
    return mist_fail(err, MIST_EFORMAT, "'%s': damaged zip directory (an .npz written by "
                     "numpy.savez is expected)", path);
}

/* Member k as a matrix. */
static int read_member(const unsigned char *b, const npz_member *m, const char *path,
                       double **data, size_t *n, size_t *cols, mist_err *err)
{
    char name[600];
    snprintf(name, sizeof name, "%s[%s]", path, m->name);
    if (m->method != 0)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s' is compressed (numpy.savez_compressed): mist reads .npz written "
                         "by numpy.savez; or save the arrays with numpy.save",
                         name);
    if (crc32_of(b + m->offset, m->size) != m->crc)
        return mist_fail(err, MIST_EFORMAT, "'%s': CRC mismatch (the archive is damaged)", name);
    mist_dtype dt;
    return mist_npy_read_mem(b + m->offset, (size_t)m->size, name, data, n, cols, &dt, err);
}

static int is_named(const npz_member *m, const char *stem)
{
    size_t l = strlen(stem);
    return !strncmp(m->name, stem, l) && !strcmp(m->name + l, ".npy");
}

int mist_npz_read(const char *path, double **data, size_t *n, size_t *cols, int *dx, int *dy,
                  int *split, mist_err *err)
{
    unsigned char *b = NULL;
    size_t len = 0;
    int rc = mist_io_slurp(path, NPZ_MAX_BYTES, &b, &len, NULL, err);
    if (rc) return rc;
    npz_member *m = NULL;
    size_t count = 0;
    rc = list_members(b, len, path, &m, &count, err);
    if (rc) {
        free(b);
        return rc;
    }
    *split = 0;
    double *a = NULL, *c = NULL;
    size_t na = 0, ca = 0, nc = 0, cc = 0;
    if (count == 1) {
        rc = read_member(b, &m[0], path, data, n, cols, err);
        goto out;
    }
    /* X and Y: members x and y when both exist, else the first two */
    size_t ix = 0, iy = 1;
    for (size_t k = 0; k < count; k++) {
        if (is_named(&m[k], "x") || is_named(&m[k], "X")) ix = k;
        if (is_named(&m[k], "y") || is_named(&m[k], "Y")) iy = k;
    }
    if (ix == iy) ix = 0, iy = 1;
    rc = read_member(b, &m[ix], path, &a, &na, &ca, err);
    if (!rc) rc = read_member(b, &m[iy], path, &c, &nc, &cc, err);
    if (!rc && na != nc)
        rc = mist_fail(err, MIST_EFORMAT, "'%s': X ('%s', %zu rows) and Y ('%s', %zu rows) differ "
                       "in length", path, m[ix].name, na, m[iy].name, nc);
    if (!rc && ca + cc > (size_t)INT32_MAX)
        rc = mist_fail(err, MIST_EFORMAT, "'%s': too many columns", path);
    if (!rc) {
        double *d = malloc((na ? na : 1) * (ca + cc) * sizeof *d);
        if (!d) rc = mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
        for (size_t i = 0; !rc && i < na; i++) {
            memcpy(d + i * (ca + cc), a + i * ca, ca * sizeof *d);
            memcpy(d + i * (ca + cc) + ca, c + i * cc, cc * sizeof *d);
        }
        if (!rc) {
            *data = d;
            *n = na;
            *cols = ca + cc;
            *dx = (int)ca;
            *dy = (int)cc;
            *split = 1;
        }
    }
out:
    free(a);
    free(c);
    free(m);
    free(b);
    return rc;
}
