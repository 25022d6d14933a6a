/* Suite manifests: manifest.csv with one row per generated dataset. Written atomically;
 * read back strictly, since benchmarks take the true MI of every dataset from here. */
#include "io_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define MANIFEST_HEADER "id,task,dx,dy,n,seed,mi,file,params"
#define MANIFEST_FIELDS 9
/* the optional tenth column: the transform the datasets were written with */
#define MANIFEST_HEADER_T MANIFEST_HEADER ",transform"

static int has_transform(const mist_manifest_row *r)
{
    return r->transform[0] && strcmp(r->transform, "none") != 0;
}

/* Text fields are written unquoted, so they must not contain the separators. */
static int check_text(const char *what, const char *s, size_t row, int may_be_empty,
                      mist_err *err)
{
    if (!may_be_empty && !*s)
        return mist_fail(err, MIST_EINVAL, "manifest row %zu: empty %s", row, what);
    if (strpbrk(s, ",\r\n"))
        return mist_fail(err, MIST_EINVAL, "manifest row %zu: %s '%s' contains a comma or newline",
                         row, what, s);
    return MIST_OK;
}

/* "k=v;k=v": names non-empty, values numbers. Empty means no parameters. */
static int valid_params(char *s)
{
    if (!*s) return 1;
    for (char *item = s;;) {
        char *semi = strchr(item, ';');
        if (semi) *semi = '\0';
        char *eq = strchr(item, '=');
        double v;
        int ok = eq && eq != item;
        if (ok) {
            *eq = '\0';
            ok = mist_io_parse_double(eq + 1, &v) == 0;
            *eq = '=';
        }
        if (semi) *semi = ';';
        if (!ok) return 0;
        if (!semi) return 1;
        item = semi + 1;
    }
}

int mist_manifest_write(const char *path, const mist_manifest_row *rows, size_t nrows,
                        mist_err *err)
{
    if (!path || (!rows && nrows)) return mist_fail(err, MIST_EINVAL, "no manifest to write");
    for (size_t i = 0; i < nrows; i++) {
        const mist_manifest_row *r = &rows[i];
        int rc;
        /* memchr first: the fixed-size fields might lack a terminator. */
        if (!memchr(r->id, '\0', sizeof r->id) || !memchr(r->task, '\0', sizeof r->task) ||
            !memchr(r->file, '\0', sizeof r->file) || !memchr(r->params, '\0', sizeof r->params))
            return mist_fail(err, MIST_EINVAL, "manifest row %zu: unterminated text field", i + 1);
        if ((rc = check_text("id", r->id, i + 1, 0, err)) ||
            (rc = check_text("task", r->task, i + 1, 0, err)) ||
            (rc = check_text("file", r->file, i + 1, 0, err)) ||
            (rc = check_text("params", r->params, i + 1, 1, err)) ||
            (rc = check_text("transform", r->transform, i + 1, 1, err)))
            return rc;
        char pcopy[sizeof r->params];
        memcpy(pcopy, r->params, sizeof pcopy);
        if (!valid_params(pcopy))
            return mist_fail(err, MIST_EINVAL, "manifest row %zu: params '%s' is not k=v;k=v",
                             i + 1, r->params);
        if (r->dx < 1 || r->dy < 1)
            return mist_fail(err, MIST_EINVAL, "manifest row %zu: dx=%d, dy=%d", i + 1, r->dx,
                             r->dy);
    }
    mist_atomic_file *af = mist_atomic_open(path, err);
    if (!af) return err ? err->code : MIST_EIO;
    FILE *f = mist_atomic_stream(af);
    int with_t = 0;
    for (size_t i = 0; i < nrows; i++) with_t |= has_transform(&rows[i]);
    int bad = fputs(with_t ? MANIFEST_HEADER_T "\n" : MANIFEST_HEADER "\n", f) < 0;
    for (size_t i = 0; i < nrows && !bad; i++) {
        const mist_manifest_row *r = &rows[i];
        bad = fprintf(f, "%s,%s,%d,%d,%zu,%llu,%.17g,%s,%s", r->id, r->task, r->dx, r->dy, r->n,
                      (unsigned long long)r->seed, r->mi, r->file, r->params) < 0;
        if (!bad && with_t)
            bad = fprintf(f, ",%s", has_transform(r) ? r->transform : "none") < 0;
        if (!bad) bad = fputc('\n', f) == EOF;
    }
    if (bad) {
        int saved = errno;
        mist_atomic_abort(af);
        return mist_fail(err, MIST_EIO, "cannot write '%s': %s", path, strerror(saved));
    }
    return mist_atomic_commit(af, err);
}

static int copy_field(char *dst, size_t dstsz, const char *src, int may_be_empty)
{
    size_t l = strlen(src);
    if (l >= dstsz || (!may_be_empty && l == 0)) return -1;
    memcpy(dst, src, l + 1);
    return 0;
}

/* One data line (already split into fields) into a row; returns the bad column's name. */
static const char *parse_row(char **fld, int nfld, mist_manifest_row *r)
{
    uint64_t u;
    memset(r, 0, sizeof *r);
    if (copy_field(r->id, sizeof r->id, fld[0], 0)) return "id";
    if (copy_field(r->task, sizeof r->task, fld[1], 0)) return "task";
    if (mist_io_parse_u64(fld[2], strlen(fld[2]), &u) || u < 1 || u > INT_MAX) return "dx";
    r->dx = (int)u;
    if (mist_io_parse_u64(fld[3], strlen(fld[3]), &u) || u < 1 || u > INT_MAX) return "dy";
    r->dy = (int)u;
    if (mist_io_parse_u64(fld[4], strlen(fld[4]), &u) || u > SIZE_MAX) return "n";
    r->n = (size_t)u;
    if (mist_io_parse_u64(fld[5], strlen(fld[5]), &r->seed)) return "seed";
    /* the truth a benchmark scores against: nan (unknown), or finite and, as any MI, not
     * negative: inf or -0.5 would be scored against as if true */
    if (mist_io_parse_double(fld[6], &r->mi) || (!isnan(r->mi) && !(isfinite(r->mi) && r->mi >= 0.0)))
        return "mi";
    if (copy_field(r->file, sizeof r->file, fld[7], 0)) return "file";
    if (copy_field(r->params, sizeof r->params, fld[8], 1) || !valid_params(r->params))
        return "params";
    if (nfld > MANIFEST_FIELDS && copy_field(r->transform, sizeof r->transform, fld[9], 0))
        return "transform";
    return NULL;
}

int mist_manifest_read(const char *path, mist_manifest_row **rows_out, size_t *nrows_out,
                       mist_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mist_fail(err, MIST_EIO, "cannot open '%s': %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0, blank_at = 0, nrows = 0, rcap = 0;
    mist_manifest_row *rows = NULL;
    int rc = MIST_OK, nfields = MANIFEST_FIELDS;
    for (;;) {
        errno = 0;
        ssize_t got = getline(&line, &cap, f);
        if (got == -1) break;
        lineno++;
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        if (memchr(line, '\0', len)) {
            rc = mist_fail(err, MIST_EFORMAT, "'%s': line %zu contains a NUL byte", path, lineno);
            break;
        }
        if (lineno == 1) {
            if (strcmp(line, MANIFEST_HEADER_T) == 0) {
                nfields = MANIFEST_FIELDS + 1;
            } else if (strcmp(line, MANIFEST_HEADER) != 0) {
                rc = mist_fail(err, MIST_EFORMAT,
                               "'%s': header is not '" MANIFEST_HEADER "' (or with ',transform')",
                               path);
                break;
            }
            continue;
        }
        if (len == 0) {
            if (!blank_at) blank_at = lineno;
            continue;
        }
        if (blank_at) {
            rc = mist_fail(err, MIST_EFORMAT, "'%s': line %zu is blank but rows follow it", path,
                           blank_at);
            break;
        }
        char *fld[MANIFEST_FIELDS + 1];
        size_t k = 0;
        for (char *p = line;;) {
            char *comma = strchr(p, ',');
            if (k < (size_t)nfields) fld[k] = p;
            k++;
            if (!comma) break;
            *comma = '\0';
            p = comma + 1;
        }
        if (k != (size_t)nfields) {
            rc = mist_fail(err, MIST_EFORMAT, "'%s': line %zu has %zu fields, expected %d", path,
                           lineno, k, nfields);
            break;
        }
        if (nrows == rcap) {
            size_t ncap = rcap ? rcap * 2 : 16;
            mist_manifest_row *nr = ncap > SIZE_MAX / sizeof *nr ? NULL
                                                                 : realloc(rows, ncap * sizeof *nr);
            if (!nr) {
                rc = mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
                break;
            }
            rows = nr;
            rcap = ncap;
        }
        const char *bad = parse_row(fld, nfields, &rows[nrows]);
        if (bad) {
            rc = mist_fail(err, MIST_EFORMAT, "'%s': line %zu: invalid %s%s", path, lineno, bad,
                           strcmp(bad, "mi") ? ""
                                             : " (the true MI: a finite number >= 0 in nats, or nan)");
            break;
        }
        nrows++;
    }
    if (!rc && errno == ENOMEM) rc = mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
    if (!rc && ferror(f)) rc = mist_fail(err, MIST_EIO, "error reading '%s'", path);
    if (!rc && lineno == 0) rc = mist_fail(err, MIST_EFORMAT, "'%s' is empty", path);
    free(line);
    fclose(f);
    if (rc) {
        free(rows);
        return rc;
    }
    *rows_out = rows ? rows : calloc(1, sizeof *rows); /* never NULL on success */
    if (!*rows_out) return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
    *nrows_out = nrows;
    return MIST_OK;
}
