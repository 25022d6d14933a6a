/* Private helpers shared by the file-format readers and writers in core/io_*.c. Not installed:
 * the public surface is mist_io.h. */
#ifndef MIST_IO_INTERNAL_H
#define MIST_IO_INTERNAL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mist_io.h"
#include "util.h" /* the JSON writers, parsers, clock */

/* ---- byte order ------------------------------------------------------------------------
 * Every binary format here is little-endian on disk. The byte-wise accessors are portable;
 * mist_io_host_le() lets the hot paths use memcpy on the (usual) little-endian host. */
static inline int mist_io_host_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static inline void mist_io_put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t mist_io_get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline void mist_io_put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t mist_io_get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Double <-> its 8 little-endian bytes, whatever the host order. */
static inline void mist_io_put_f64(unsigned char *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    mist_io_put_le64(p, u);
}

static inline double mist_io_get_f64(const unsigned char *p)
{
    uint64_t u = mist_io_get_le64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* ---- small shared utilities (io_dataset.c) --------------------------------------------- */

/* Strict unsigned decimal: digits only (no sign, no spaces), overflow-checked. 0 on success. */
int mist_io_parse_u64(const char *s, size_t len, uint64_t *out);
/* A whole NUL-terminated field as a double (strtod syntax incl. nan/inf, surrounding blanks
 * allowed); 0 on success, -1 when empty or when anything but the number remains. */
int mist_io_parse_double(const char *s, double *out);
/* Reads a whole file into a malloc'd buffer (NUL-terminated for text parsers, the terminator
 * is not counted in *len). Files longer than max give MIST_EFORMAT. When missing is not NULL it
 * is set to 1 if the failure was "no such file", so callers can tell absent from unreadable. */
int mist_io_slurp(const char *path, size_t max, unsigned char **buf, size_t *len, int *missing,
                  mist_err *err);
/* The part after the last '/'. */
const char *mist_io_basename(const char *path);
/* fwrite that turns a short write into MIST_EIO naming `name`. */
int mist_io_write(FILE *f, const char *name, const void *buf, size_t len, mist_err *err);

/* io_msgpack.c: 0 when buf holds exactly one complete msgpack object, every container
 * declaring no more elements than bytes remain (each element takes at least one byte) and
 * nesting <= MIST_MSGPACK_MAX_DEPTH; else -1 with a static reason in *why. Run it before
 * msgpack_unpack_next, which allocates containers from the counts the input declares. */
/* msgpack-c's own nesting limit is MSGPACK_EMBED_STACK_SIZE (32); stay well inside it. */
#define MIST_MSGPACK_MAX_DEPTH 16
int mist_msgpack_check(const unsigned char *buf, size_t len, const char **why);

/* io_json.c: a small strict JSON parser (RFC 8259 only: no comments, no trailing commas, no
 * NaN literals, no duplicate member names, nesting <= 64) into a DOM. Numbers keep their
 * source text. Also used for safetensors headers and config.json files. */
typedef enum {
    MIST_JSON_NULL, MIST_JSON_BOOL, MIST_JSON_NUM, MIST_JSON_STR, MIST_JSON_ARR, MIST_JSON_OBJ
} mist_json_type;

typedef struct mist_json {
    mist_json_type type;
    int boolean;
    const char *num; /* NUM: source text (not NUL-terminated), numlen bytes */
    size_t numlen;
    char *str;               /* STR: decoded, NUL-terminated, no embedded NUL */
    size_t n;                /* ARR/OBJ: element count */
    struct mist_json *items; /* elements / member values */
    char **keys;             /* OBJ: member names */
} mist_json;

/* Parses a whole document of len bytes (s need not be NUL-terminated; NUM nodes point into
 * it, so s must outlive root). On failure err names `name`, the line and the reason. */
int mist_json_parse(const char *name, const char *s, size_t len, mist_json *root, mist_err *err);
void mist_json_free(mist_json *v);
/* A NUM that is a non-negative integer written without fraction or exponent. 0 on success. */
int mist_json_u64(const mist_json *v, uint64_t *out);
/* Any NUM as a double (overflow gives +-inf); NULL as NaN when allow_null. 0 on success. */
int mist_json_double(const mist_json *v, int allow_null, double *out);

/* ---- per-format workers ---------------------------------------------------------------- */

/* io_npy.c: n x cols row-major matrix as a C-order .npy (v1.0, 64-byte aligned data). */
int mist_npy_write(FILE *f, const char *name, const double *data, size_t n, size_t cols,
                   mist_dtype dtype, mist_err *err);
/* *data is malloc'd (at least one element even when n == 0). */
int mist_npy_read(const char *path, double **data, size_t *n, size_t *cols, mist_dtype *dtype,
                  mist_err *err);
/* The same from a buffer (a member of an .npz archive); name is for messages. */
int mist_npy_read_mem(const unsigned char *buf, size_t len, const char *name, double **data,
                      size_t *n, size_t *cols, mist_dtype *dtype, mist_err *err);
/* io_npz.c: an .npz archive (numpy.savez: a zip of .npy members, stored uncompressed). One
 * member: the matrix, *split 0. Members "x" and "y", or else the first two: X and Y side by
 * side (rows must match), *dx and *dy their widths, *split 1. */
int mist_npz_read(const char *path, double **data, size_t *n, size_t *cols, int *dx, int *dy,
                  int *split, mist_err *err);

/* io_csv.c: CSV with a delimiter (0: tab when line 1 has tabs and no comma, else ','); the
 * header's names (trimmed) into *names when names is not NULL and there is a header (else
 * *names = NULL; free each and the array). */
int mist_csv_read_opts(FILE *f, const char *name, char delim, double **data, size_t *n,
                       size_t *cols, char ***names, mist_err *err);
/* io_csv.c: header x1..xdx,y1..ydy then %.17g rows, fields separated by delim. */
int mist_csv_write(FILE *f, const char *name, const mist_dataset *ds, char delim,
                   mist_err *err);

/* io_msgpack.c: one self-contained record. meta is overwritten (not freed first). */
int mist_msgpack_write(FILE *f, const char *name, const mist_dataset *ds, mist_err *err);
int mist_msgpack_read(const char *path, double **data, size_t *n, int *dx, int *dy,
                      mist_meta *meta, mist_err *err);

/* io_json.c: the NAME.json sidecar of NAME.npy / NAME.csv. */
typedef struct mist_sidecar {
    mist_meta meta; /* owned */
    int dx, dy;
    uint64_t n;
    mist_dtype dtype;
    char file[256]; /* its "file" key: the data file it describes ("" when absent) */
} mist_sidecar;

int mist_sidecar_write(FILE *f, const char *name, const mist_dataset *ds, mist_dtype dtype,
                       const char *data_file, mist_err *err);
/* *found = 0 (and MIST_OK) when the sidecar does not exist. sc->meta is overwritten. */
int mist_sidecar_read(const char *path, mist_sidecar *sc, int *found, mist_err *err);

#endif
