/* CSV datasets: a header x1..xdx,y1..ydy and one row per sample, values in %.17g so that text
 * round-trips every double exactly. The reader takes any numeric CSV (header optional, \r\n or
 * \n, last newline optional, lines of any length) and names the line and column of whatever
 * it rejects. */
#include "io_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

int mist_csv_write(FILE *f, const char *name, const mist_dataset *ds, mist_err *err)
{
    int cols = ds->dx + ds->dy;
    for (int j = 0; j < cols; j++) {
        if (fprintf(f, "%s%c%d", j ? "," : "", j < ds->dx ? 'x' : 'y',
                    j < ds->dx ? j + 1 : j - ds->dx + 1) < 0)
            goto fail;
    }
    if (fputc('\n', f) == EOF) goto fail;
    for (size_t i = 0; i < ds->n; i++) {
        const double *row = ds->data + i * (size_t)cols;
        for (int j = 0; j < cols; j++)
            if (fprintf(f, j ? ",%.17g" : "%.17g", row[j]) < 0) goto fail;
        if (fputc('\n', f) == EOF) goto fail;
    }
    return MIST_OK;
fail:
    return mist_fail(err, MIST_EIO, "cannot write '%s': %s", name, strerror(errno));
}

/* Growable array of doubles. */
typedef struct dvec {
    double *v;
    size_t len, cap;
} dvec;

static int dvec_push(dvec *d, double x)
{
    if (d->len == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 1024;
        if (ncap < d->cap || ncap > SIZE_MAX / sizeof(double)) return -1;
        double *nv = realloc(d->v, ncap * sizeof(double));
        if (!nv) return -1;
        d->v = nv;
        d->cap = ncap;
    }
    d->v[d->len++] = x;
    return 0;
}

/* Number of comma-separated fields (fields never contain commas: no quoting in numeric CSV). */
static size_t count_fields(const char *line)
{
    size_t k = 1;
    for (const char *p = line; *p; p++)
        if (*p == ',') k++;
    return k;
}

int mist_csv_read_stream(FILE *f, const char *name, double **data, size_t *n, size_t *cols,
                         mist_err *err)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0, ncols = 0, rows = 0, blank_at = 0;
    int seen_first = 0, rc = MIST_OK;
    dvec d = {NULL, 0, 0};
    for (;;) {
        errno = 0;
        ssize_t got = getline(&line, &cap, f);
        if (got == -1) break;
        lineno++;
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        char *s = line;
        if (lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
            s += 3;
            len -= 3;
        }
        if (memchr(s, '\0', len)) {
            rc = mist_fail(err, MIST_EFORMAT, "%s: line %zu contains a NUL byte", name, lineno);
            goto done;
        }
        if (len == 0) {
            /* Trailing blank lines are harmless; a blank line followed by more data is not. */
            if (!blank_at) blank_at = lineno;
            continue;
        }
        if (blank_at) {
            rc = mist_fail(err, MIST_EFORMAT, "%s: line %zu is blank but data follows it", name,
                           blank_at);
            goto done;
        }
        size_t k = count_fields(s);
        if (!seen_first) {
            seen_first = 1;
            if (k > (size_t)INT_MAX) {
                rc = mist_fail(err, MIST_EFORMAT, "%s: too many columns (%zu)", name, k);
                goto done;
            }
            ncols = k;
        } else if (k != ncols) {
            rc = mist_fail(err, MIST_EFORMAT, "%s: line %zu has %zu fields, expected %zu", name,
                           lineno, k, ncols);
            goto done;
        }
        /* Parse the fields; on the first line a failure just means "this is the header". */
        char *p = s;
        int header = 0;
        for (size_t j = 0; j < k && !header; j++) {
            char *comma = strchr(p, ',');
            if (comma) *comma = '\0';
            double v;
            if (mist_io_parse_double(p, &v)) {
                if (lineno == 1) { /* blank lines cannot precede data, so line 1 is first */
                    d.len = 0;
                    header = 1;
                    break;
                }
                rc = mist_fail(err, MIST_EFORMAT, "%s: line %zu, column %zu: '%.40s' is not a number",
                               name, lineno, j + 1, p);
                goto done;
            }
            if (dvec_push(&d, v)) {
                rc = mist_fail(err, MIST_ENOMEM, "out of memory reading %s", name);
                goto done;
            }
            p = comma ? comma + 1 : p + strlen(p);
        }
        if (!header) rows++;
    }
    if (errno == ENOMEM) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory reading %s", name);
        goto done;
    }
    if (ferror(f)) {
        rc = mist_fail(err, MIST_EIO, "error reading %s: %s", name, strerror(errno ? errno : EIO));
        goto done;
    }
    if (!seen_first) {
        rc = mist_fail(err, MIST_EFORMAT, "%s is empty", name);
        goto done;
    }
    if (rows == 0) {
        rc = mist_fail(err, MIST_EFORMAT, "%s has a header but no data rows", name);
        goto done;
    }
done:
    free(line);
    if (rc) {
        free(d.v);
        return rc;
    }
    *data = d.v;
    *n = rows;
    *cols = ncols;
    return MIST_OK;
}
