/* Format dispatch for datasets (mist_dataset_write / mist_dataset_read / mist_matrix_read),
 * format names, sidecar paths, and the small helpers the format files share. */
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- shared helpers ------------------------------------------------------------------- */

int mist_io_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int mist_io_parse_double(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return -1;
    char *end;
    /* ERANGE is deliberately ignored: an overflowing literal is +-inf and an underflowing one
     * a denormal or zero, which is what the text means; the finiteness check comes later. */
    double v = strtod(s, &end);
    if (end == s) return -1;
    while (*end == ' ' || *end == '\t') end++;
    if (*end) return -1;
    *out = v;
    return 0;
}

int mist_io_slurp(const char *path, size_t max, unsigned char **buf, size_t *len, int *missing,
                  mist_err *err)
{
    if (missing) *missing = 0;
    /* O_NONBLOCK: opening a named pipe that no one writes to would wait forever; opened this
     * way it reads as empty (refused below), and the reads themselves block again. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    FILE *f = NULL;
    if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 || !(f = fdopen(fd, "rb")))
            close(fd);
    }
    if (!f) {
        int saved = errno;
        if (missing && saved == ENOENT) *missing = 1;
        return mist_fail(err, MIST_EIO, "cannot open '%s': %s", path, strerror(saved));
    }
    /* Grow by doubling rather than trusting a size from stat: works for pipes too, and the
     * cap bounds memory whatever the file claims to be. */
    size_t cap = 4096, used = 0;
    struct stat st;
    /* For a regular file, start at its size (plus one byte to see EOF) to read in one go. */
    int is_fifo = 0;
    if (fstat(fileno(f), &st) == 0) {
        is_fifo = S_ISFIFO(st.st_mode);
        if (S_ISREG(st.st_mode) && st.st_size > 0)
            cap = (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
    }
    unsigned char *b = malloc(cap + 1);
    if (!b) {
        fclose(f);
        return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
    }
    for (;;) {
        if (used == cap) {
            if (cap > max) break;
            size_t ncap = cap > SIZE_MAX / 4 ? SIZE_MAX / 2 : cap * 2;
            unsigned char *nb = realloc(b, ncap + 1);
            if (!nb) {
                free(b);
                fclose(f);
                return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
            }
            b = nb;
            cap = ncap;
        }
        size_t got = fread(b + used, 1, cap - used, f);
        used += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return mist_fail(err, MIST_EIO, "error reading '%s'", path);
    }
    if (used > max) {
        free(b);
        return mist_fail(err, MIST_EFORMAT, "'%s' is larger than the %zu bytes allowed", path,
                         max);
    }
    if (is_fifo && used == 0) {
        free(b);
        return mist_fail(err, MIST_EIO, "'%s' is a named pipe (FIFO) with nothing written to it",
                         path);
    }
    b[used] = '\0';
    *buf = b;
    *len = used;
    return MIST_OK;
}

const char *mist_io_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int mist_io_write(FILE *f, const char *name, const void *buf, size_t len, mist_err *err)
{
    if (len && fwrite(buf, 1, len, f) != len)
        return mist_fail(err, MIST_EIO, "cannot write '%s': %s", name, strerror(errno));
    return MIST_OK;
}

/* ---- format names ----------------------------------------------------------------------- */

/* Case-insensitive ASCII suffix test (DATA.NPY is as much an npy file as data.npy). */
static int has_ext(const char *path, const char *ext)
{
    size_t pl = strlen(path), el = strlen(ext);
    if (pl <= el) return 0;
    const char *p = path + pl - el;
    for (size_t i = 0; i < el; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != ext[i]) return 0;
    }
    return 1;
}

mist_format mist_format_from_path(const char *path)
{
    if (!path) return MIST_FMT_AUTO;
    if (has_ext(path, ".npy")) return MIST_FMT_NPY;
    if (has_ext(path, ".csv") || has_ext(path, ".tsv") || has_ext(path, ".tab"))
        return MIST_FMT_CSV;
    if (has_ext(path, ".npz")) return MIST_FMT_NPZ;
    if (has_ext(path, ".msgpack") || has_ext(path, ".mpk")) return MIST_FMT_MSGPACK;
    return MIST_FMT_AUTO;
}

const char *mist_format_name(mist_format f)
{
    switch (f) {
    case MIST_FMT_NPY: return "npy";
    case MIST_FMT_CSV: return "csv";
    case MIST_FMT_MSGPACK: return "msgpack";
    case MIST_FMT_NPZ: return "npz";
    case MIST_FMT_AUTO: return "auto";
    }
    return "unknown";
}

int mist_format_parse(const char *s, mist_format *out, mist_err *err)
{
    if (s && strcmp(s, "npy") == 0) *out = MIST_FMT_NPY;
    else if (s && strcmp(s, "csv") == 0) *out = MIST_FMT_CSV;
    else if (s && strcmp(s, "msgpack") == 0) *out = MIST_FMT_MSGPACK;
    else if (s && strcmp(s, "npz") == 0) *out = MIST_FMT_NPZ;
    else
        return mist_fail(err, MIST_EINVAL, "unknown format '%s' (expected npy, csv, msgpack or npz)",
                         s ? s : "(null)");
    return MIST_OK;
}

int mist_sidecar_path(char *buf, size_t bufsz, const char *path, mist_err *err)
{
    size_t len = strlen(path);
    if (len > bufsz || bufsz - len < sizeof ".json")
        return mist_fail(err, MIST_EINVAL, "path '%s' is too long", path);
    memcpy(buf, path, len);
    memcpy(buf + len, ".json", sizeof ".json");
    return MIST_OK;
}

/* The sidecar name of mist before 0.2: the data file's name with its extension replaced, which
 * data.npy and data.csv shared. */
static int legacy_sidecar_path(char *buf, size_t bufsz, const char *path)
{
    const char *base = mist_io_basename(path);
    const char *dot = strrchr(base, '.');
    /* A leading dot (".hidden") is part of the name, not an extension. */
    size_t stem = (dot && dot != base) ? (size_t)(dot - path) : strlen(path);
    if (strcmp(path + stem, ".json") == 0 || stem > bufsz || bufsz - stem < sizeof ".json")
        return -1;
    memcpy(buf, path, stem);
    memcpy(buf + stem, ".json", sizeof ".json");
    return 0;
}

/* AUTO -> from the extension, with a message pointing at the way out. */
static int resolve_format(const char *path, mist_format fmt, mist_format *out, mist_err *err)
{
    if (fmt == MIST_FMT_NPY || fmt == MIST_FMT_CSV || fmt == MIST_FMT_MSGPACK ||
        fmt == MIST_FMT_NPZ) {
        *out = fmt;
        return MIST_OK;
    }
    if (fmt != MIST_FMT_AUTO) return mist_fail(err, MIST_EINVAL, "invalid format code %d", fmt);
    *out = mist_format_from_path(path);
    if (*out == MIST_FMT_AUTO)
        return mist_fail(err, MIST_EINVAL,
                         "cannot tell the format of '%s' from its extension (use .npy, .npz, "
                         ".csv, .tsv or .msgpack, or name the format)",
                         path);
    return MIST_OK;
}

/* ---- writing ---------------------------------------------------------------------------- */

static int write_data(FILE *f, const char *path, const mist_dataset *ds, mist_format fmt,
                      mist_dtype dtype, mist_err *err)
{
    switch (fmt) {
    case MIST_FMT_NPY:
        return mist_npy_write(f, path, ds->data, ds->n, (size_t)ds->dx + (size_t)ds->dy, dtype,
                              err);
    case MIST_FMT_CSV: /* a .tsv is what its name says */
        return mist_csv_write(f, path, ds,
                              has_ext(path, ".tsv") || has_ext(path, ".tab") ? '\t' : ',', err);
    default: return mist_msgpack_write(f, path, ds, err);
    }
}

int mist_dataset_write(const mist_dataset *ds, const char *path, mist_format fmt,
                       mist_dtype dtype, mist_err *err)
{
    if (!ds || !path) return mist_fail(err, MIST_EINVAL, "no dataset or no path to write");
    if (ds->dx < 1 || ds->dy < 1 || ds->dx > INT_MAX - ds->dy)
        return mist_fail(err, MIST_EINVAL, "cannot write a dataset with dx=%d, dy=%d", ds->dx,
                         ds->dy);
    if (!ds->data && ds->n > 0) return mist_fail(err, MIST_EINVAL, "dataset has no data");
    if (dtype != MIST_DTYPE_F64 && dtype != MIST_DTYPE_F32)
        return mist_fail(err, MIST_EINVAL, "invalid dtype code %d", dtype);
    if (strcmp(path, "-") == 0)
        return mist_fail(err, MIST_EINVAL, "writing a dataset to standard output is not supported");
    int rc = resolve_format(path, fmt, &fmt, err);
    if (rc) return rc;
    if (fmt == MIST_FMT_NPZ)
        return mist_fail(err, MIST_EINVAL, "'%s': mist reads .npz archives but does not write "
                         "them (use .npy, .csv or .msgpack)", path);
    if (fmt != MIST_FMT_NPY) dtype = MIST_DTYPE_F64; /* csv text and msgpack are float64 */

    char side[4096];
    int want_side = fmt != MIST_FMT_MSGPACK;
    if (want_side && (rc = mist_sidecar_path(side, sizeof side, path, err))) return rc;

    /* Both files are complete on disk (written, flushed, synced: a full disk shows here)
     * before either is renamed, so a failed write leaves the old pair as it was and the window
     * in which a crash mixes old and new is just two renames. */
    mist_atomic_file *af = mist_atomic_open(path, err);
    if (!af) return err ? err->code : MIST_EIO;
    rc = write_data(mist_atomic_stream(af), path, ds, fmt, dtype, err);
    if (rc) {
        mist_atomic_abort(af);
        return rc;
    }
    mist_atomic_file *sf = NULL;
    if (want_side) {
        sf = mist_atomic_open(side, err);
        if (!sf) {
            mist_atomic_abort(af);
            return err ? err->code : MIST_EIO;
        }
        rc = mist_sidecar_write(mist_atomic_stream(sf), side, ds, dtype, mist_io_basename(path),
                                err);
        if (rc) {
            mist_atomic_abort(sf);
            mist_atomic_abort(af);
            return rc;
        }
    }
    rc = mist_atomic_finish(af, err);
    if (!rc && sf) rc = mist_atomic_finish(sf, err);
    if (rc) {
        if (sf) mist_atomic_abort(sf);
        mist_atomic_abort(af);
        return rc;
    }
    /* the sidecar first: new metadata beside old data fails the reader's n/dx/dy check far more
     * often than new data beside old metadata, which can pass it with a stale truth */
    if (sf && (rc = mist_atomic_commit(sf, err))) {
        mist_atomic_abort(af);
        return rc;
    }
    return mist_atomic_commit(af, err);
}

/* ---- reading ---------------------------------------------------------------------------- */

static int read_text_csv(const char *path, char delim, double **data, size_t *n, size_t *cols,
                         char ***names, mist_err *err)
{
    if (strcmp(path, "-") == 0)
        return mist_csv_read_opts(stdin, "<stdin>", delim, data, n, cols, names, err);
    if (!delim && (has_ext(path, ".tsv") || has_ext(path, ".tab"))) delim = '\t';
    FILE *f = fopen(path, "rb");
    if (!f) return mist_fail(err, MIST_EIO, "cannot open '%s': %s", path, strerror(errno));
    int rc = mist_csv_read_opts(f, path, delim, data, n, cols, names, err);
    fclose(f);
    return rc;
}

/* The sidecar of an npy/csv file, checked against the matrix it describes: NAME.EXT.json, or
 * else the legacy NAME.json when it names this file in its "file" key (or names none, as a
 * hand-written one may): another data file's sidecar is never taken for this one's. */
static int read_sidecar(const char *path, size_t n, size_t cols, mist_meta *meta, int *dx,
                        int *dy, int *has_meta, mist_err *err)
{
    char side[4096];
    int rc = mist_sidecar_path(side, sizeof side, path, err);
    if (rc) return rc;
    mist_sidecar sc;
    int found = 0;
    rc = mist_sidecar_read(side, &sc, &found, err);
    if (rc) return rc;
    if (!found) {
        if (legacy_sidecar_path(side, sizeof side, path)) return MIST_OK;
        rc = mist_sidecar_read(side, &sc, &found, err);
        if (rc || !found) return rc;
        if (sc.file[0] && strcmp(sc.file, mist_io_basename(path)) != 0) {
            mist_meta_clear(&sc.meta);
            return MIST_OK;
        }
    }
    if (sc.n != (uint64_t)n || (size_t)sc.dx + (size_t)sc.dy != cols) {
        mist_meta_clear(&sc.meta);
        return mist_fail(err, MIST_EFORMAT,
                         "sidecar '%s' describes %llu rows of %d+%d columns but '%s' holds %zu "
                         "rows of %zu columns",
                         side, (unsigned long long)sc.n, sc.dx, sc.dy, path, n, cols);
    }
    *meta = sc.meta;
    *dx = sc.dx;
    *dy = sc.dy;
    *has_meta = 1;
    return MIST_OK;
}

/* Column 1 is 0, 1, 2, ... or 1, 2, 3, ...: what pandas' to_csv puts first by default. */
static int looks_like_index(const double *d, size_t n, size_t cols)
{
    if (n < 3 || cols < 2) return 0;
    double first = d[0];
    if (first != 0.0 && first != 1.0) return 0;
    for (size_t i = 0; i < n; i++)
        if (d[i * cols] != first + (double)i) return 0;
    return 1;
}

void mist_table_free(mist_table *t)
{
    if (!t) return;
    free(t->data);
    if (t->names)
        for (size_t j = 0; j < t->cols; j++) free(t->names[j]);
    free(t->names);
    mist_meta_clear(&t->meta);
    memset(t, 0, sizeof *t);
    t->meta.mi = NAN;
}

int mist_table_column(const mist_table *t, const char *name)
{
    if (!t || !t->names || !name) return -1;
    for (size_t j = 0; j < t->cols; j++)
        if (t->names[j] && !strcmp(t->names[j], name)) return (int)j;
    for (size_t j = 0; j < t->cols; j++)
        if (t->names[j] && !strcasecmp(t->names[j], name)) return (int)j;
    return -1;
}

int mist_table_read(const char *path, const mist_read_opts *o, mist_table *t, mist_err *err)
{
    if (!path || !t) return mist_fail(err, MIST_EINVAL, "mist_table_read: missing argument");
    memset(t, 0, sizeof *t);
    t->meta.mi = NAN;
    mist_format fmt = o ? o->fmt : MIST_FMT_AUTO;
    char delim = o ? o->delimiter : 0;
    int rc, is_csv = 0;
    if (strcmp(path, "-") == 0) {
        if (fmt != MIST_FMT_AUTO && fmt != MIST_FMT_CSV)
            return mist_fail(err, MIST_EINVAL, "standard input can only be read as CSV");
        rc = read_text_csv(path, delim, &t->data, &t->n, &t->cols, &t->names, err);
        is_csv = 1;
    } else if ((rc = resolve_format(path, fmt, &fmt, err)) == MIST_OK) {
        if (fmt == MIST_FMT_MSGPACK) {
            rc = mist_msgpack_read(path, &t->data, &t->n, &t->meta_dx, &t->meta_dy, &t->meta, err);
            if (!rc) {
                t->cols = (size_t)t->meta_dx + (size_t)t->meta_dy;
                t->has_meta = 1;
            }
        } else if (fmt == MIST_FMT_NPZ) {
            rc = mist_npz_read(path, &t->data, &t->n, &t->cols, &t->meta_dx, &t->meta_dy,
                               &t->has_meta, err);
        } else {
            if (fmt == MIST_FMT_NPY) {
                mist_dtype dt;
                rc = mist_npy_read(path, &t->data, &t->n, &t->cols, &dt, err);
            } else {
                rc = read_text_csv(path, delim, &t->data, &t->n, &t->cols, &t->names, err);
                is_csv = 1;
            }
            if (!rc)
                rc = read_sidecar(path, t->n, t->cols, &t->meta, &t->meta_dx, &t->meta_dy,
                                  &t->has_meta, err);
        }
    }
    if (rc) {
        mist_table_free(t);
        return rc;
    }
    /* pandas writes its index under an empty name (or "Unnamed: 0" once read and written
     * again); without a header, a ramp in column 1 of a 2-column file is too plausibly data */
    const char *first = t->names ? t->names[0] : NULL;
    int index_name = first && (!first[0] || !strcmp(first, "Unnamed: 0") || !strcmp(first, "index"));
    t->index_column = is_csv && looks_like_index(t->data, t->n, t->cols) &&
                      (index_name || (!t->names && t->cols >= 3));
    return MIST_OK;
}

int mist_matrix_read(const char *path, mist_format fmt, double **data, size_t *n, size_t *cols,
                     mist_meta *meta, int *meta_dx, int *meta_dy, int *has_meta, mist_err *err)
{
    if (!path || !data || !n || !cols)
        return mist_fail(err, MIST_EINVAL, "mist_matrix_read: missing argument");
    mist_read_opts o = {fmt, 0};
    mist_table t;
    int rc = mist_table_read(path, &o, &t, err);
    if (rc) return rc;
    *data = t.data;
    *n = t.n;
    *cols = t.cols;
    t.data = NULL;
    if (meta) {
        *meta = t.meta;
        memset(&t.meta, 0, sizeof t.meta);
    }
    if (meta_dx) *meta_dx = t.meta_dx;
    if (meta_dy) *meta_dy = t.meta_dy;
    if (has_meta) *has_meta = t.has_meta;
    mist_table_free(&t);
    return MIST_OK;
}

int mist_dataset_read(mist_dataset **out, const char *path, mist_format fmt, int dx_override,
                      mist_err *err)
{
    if (!out) return mist_fail(err, MIST_EINVAL, "mist_dataset_read: no output");
    *out = NULL;
    double *data = NULL;
    size_t n = 0, cols = 0;
    mist_meta meta;
    int mdx = 0, mdy = 0, has_meta = 0;
    int rc = mist_matrix_read(path, fmt, &data, &n, &cols, &meta, &mdx, &mdy, &has_meta, err);
    if (rc) return rc;

    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    int dx = 0, dy = 0;
    if (cols > (size_t)INT_MAX) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s' has too many columns (%zu)", name, cols);
    } else if (dx_override > 0) {
        /* An explicit --dx wins over the metadata: it is how a user re-splits a file. */
        dx = dx_override;
        /* the file's true MI is that of its own split only */
        if (!has_meta || dx != mdx) meta.mi = NAN;
        if ((size_t)dx >= cols)
            rc = mist_fail(err, MIST_EINVAL,
                           "dx=%d leaves no Y columns: '%s' has %zu columns", dx, name, cols);
        else
            dy = (int)(cols - (size_t)dx);
    } else if (has_meta) {
        dx = mdx;
        dy = mdy;
    } else {
        rc = mist_fail(err, MIST_EINVAL,
                       "'%s' has no metadata giving dx: pass the number of X columns (--dx)",
                       name);
    }
    if (rc) {
        free(data);
        mist_meta_clear(&meta);
        return rc;
    }

    mist_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        free(data);
        mist_meta_clear(&meta);
        return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", name);
    }
    ds->n = n;
    ds->dx = dx;
    ds->dy = dy;
    ds->data = data; /* the readers allocate at least one element, as mist_dataset_alloc does */
    ds->meta = meta;
    rc = mist_dataset_check_finite(ds, err);
    if (rc) {
        /* Prefix the file name: the core message only knows row and column. */
        if (err) {
            char msg[MIST_ERRMSG_LEN];
            snprintf(msg, sizeof msg, "%s", err->msg);
            mist_fail(err, rc, "'%s': %s", name, msg);
        }
        mist_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return MIST_OK;
}
