/* CSV datasets: a header x1..xdx,y1..ydy and one row per sample, values in %.17g so that text
 * round-trips every double exactly. The reader takes any numeric CSV (header optional, \r\n or
 * \n, last newline optional, lines of any length) and names the line and column of whatever
 * it rejects. Line 1 is a header when it holds only names (no number, no missing-value token
 * such as NA); a line 1 mixing numbers and text is an error, not a header. Fields are split at
 * a delimiter (',' by default, tab for TSV, any byte on request) and may be quoted, as
 * spreadsheets and pandas quote numbers and names. */
#include "io_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

int mist_csv_write(FILE *f, const char *name, const mist_dataset *ds, char delim,
                   mist_err *err)
{
    int cols = ds->dx + ds->dy;
    const char sep[2] = {delim, '\0'};
    for (int j = 0; j < cols; j++) {
        if (fprintf(f, "%s%c%d", j ? sep : "", j < ds->dx ? 'x' : 'y',
                    j < ds->dx ? j + 1 : j - ds->dx + 1) < 0)
            goto fail;
    }
    if (fputc('\n', f) == EOF) goto fail;
    for (size_t i = 0; i < ds->n; i++) {
        const double *row = ds->data + i * (size_t)cols;
        for (int j = 0; j < cols; j++)
            if ((j && fputc(delim, f) == EOF) || fprintf(f, "%.17g", row[j]) < 0) goto fail;
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

/* One line without its '\n' into *buf (grown as needed); returns its length, or -1 at end of
 * input (or on a read error: see ferror) with nothing read. Stops at the first NUL byte with
 * *nul = 1: a text file holds none, and an endless stream of them (/dev/zero) must not be read
 * on. -2: out of memory. */
static ssize_t read_line(FILE *f, char **buf, size_t *cap, int *nul)
{
    size_t len = 0;
    int c = EOF;
    *nul = 0;
    flockfile(f);
    while ((c = getc_unlocked(f)) != EOF) {
        if (c == '\0') {
            *nul = 1;
            break;
        }
        if (len + 2 > *cap) {
            size_t ncap = *cap ? *cap * 2 : 256;
            char *g = ncap > *cap ? realloc(*buf, ncap) : NULL;
            if (!g) {
                funlockfile(f);
                return -2;
            }
            *buf = g;
            *cap = ncap;
        }
        if (c == '\n') break;
        (*buf)[len++] = (char)c;
    }
    funlockfile(f);
    if (c == EOF && len == 0 && !*nul) return -1;
    if (*buf) (*buf)[len] = '\0';
    return (ssize_t)len;
}

/* Tokens that stand for a missing value in other tools' CSV; never column names here. */
static int is_missing_token(const char *s)
{
    static const char *const tok[] = {"NA", "N/A", "NULL", "None", "nil", "missing"};
    while (*s == ' ' || *s == '\t') s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t')) l--;
    for (size_t i = 0; i < sizeof tok / sizeof *tok; i++)
        if (strlen(tok[i]) == l && strncasecmp(s, tok[i], l) == 0) return 1;
    return 0;
}

/* Splits line s in place at delim into fields (pointers into s, grown as needed). A field
 * may be quoted ("1.5", "a,b", "say ""x"""): the quotes go, a doubled quote is one quote.
 * Returns the field count, 0 for an unterminated or ill-placed quote (*bad_col: its field),
 * (size_t)-1 when out of memory. */
static size_t split_fields(char *s, char delim, char ***fields, size_t *cap, size_t *bad_col)
{
    size_t k = 0;
    char *p = s;
    for (;;) {
        if (k == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            char **g = nc > *cap && nc < SIZE_MAX / sizeof *g ? realloc(*fields, nc * sizeof *g)
                                                              : NULL;
            if (!g) return (size_t)-1;
            *fields = g;
            *cap = nc;
        }
        char *q = p;
        while (*q == ' ' || (*q == '\t' && delim != '\t')) q++;
        if (*q == '"') {
            char *w = p, *r = q + 1;
            (*fields)[k++] = w;
            for (;;) {
                if (!*r) {
                    *bad_col = k;
                    return 0;
                }
                if (*r == '"') {
                    if (r[1] == '"') {
                        *w++ = '"';
                        r += 2;
                        continue;
                    }
                    r++;
                    break;
                }
                *w++ = *r++;
            }
            while (*r == ' ' || (*r == '\t' && delim != '\t')) r++;
            if (*r && *r != delim) {
                *bad_col = k;
                return 0;
            }
            int more = *r == delim;
            *w = '\0';
            if (!more) return k;
            p = r + 1;
        } else {
            (*fields)[k++] = p;
            char *d = strchr(p, delim);
            if (!d) return k;
            *d = '\0';
            p = d + 1;
        }
    }
}

/* Line 1 (k fields): a header (*header = 1), data (0), or neither (an error naming why). */
static int first_line_kind(char **f, size_t k, const char *name, int *header, mist_err *err)
{
    size_t numbers = 0, missing_at = 0, text_at = 0;
    for (size_t j = 0; j < k; j++) {
        double v;
        if (mist_io_parse_double(f[j], &v) == 0) numbers++;
        else if (!missing_at && is_missing_token(f[j])) missing_at = j + 1;
        else if (!text_at) text_at = j + 1;
    }
    /* an empty first name is pandas' index column: a header still */
    *header = numbers == 0 && !missing_at;
    if (*header || (!missing_at && !text_at)) return MIST_OK;
    size_t at = missing_at ? missing_at : text_at;
    const char *p = f[at - 1];
    if (missing_at)
        return mist_fail(err, MIST_EFORMAT,
                         "%s: line 1, column %zu: '%.40s' marks a missing value: mist needs every "
                         "value (drop or impute the row; a header holds only column names)",
                         name, at, p);
    return mist_fail(err, MIST_EFORMAT,
                     "%s: line 1 mixes numbers and text (column %zu: '%.40s'): a header holds only "
                     "column names, a data row only numbers",
                     name, at, p);
}

/* The delimiter of a file whose caller left it open (0): a first line with a tab and no comma
 * is tab-separated, anything else comma-separated. */
static char sniff_delimiter(const char *line)
{
    return strchr(line, '\t') && !strchr(line, ',') ? '\t' : ',';
}

static void free_names(char **names, size_t k)
{
    if (!names) return;
    for (size_t j = 0; j < k; j++) free(names[j]);
    free(names);
}

int mist_csv_read_opts(FILE *f, const char *name, char delim, double **data, size_t *n,
                       size_t *cols, char ***names_out, mist_err *err)
{
    char *line = NULL, **fields = NULL, **names = NULL;
    size_t cap = 0, fcap = 0, lineno = 0, ncols = 0, rows = 0, blank_at = 0;
    int seen_first = 0, rc = MIST_OK;
    dvec d = {NULL, 0, 0};
    if (names_out) *names_out = NULL;
    for (;;) {
        errno = 0;
        int nul;
        ssize_t got = read_line(f, &line, &cap, &nul);
        if (got == -2) {
            errno = ENOMEM;
            break;
        }
        if (got == -1) break;
        lineno++;
        if (nul) {
            rc = mist_fail(err, MIST_EFORMAT, "%s: line %zu contains a NUL byte (not a text file)",
                           name, lineno);
            goto done;
        }
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        char *s = line;
        if (lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
            s += 3;
            len -= 3;
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
        if (!delim) delim = sniff_delimiter(s);
        size_t bad_col = 0;
        size_t k = split_fields(s, delim, &fields, &fcap, &bad_col);
        if (k == (size_t)-1) {
            errno = ENOMEM;
            break;
        }
        if (k == 0) {
            rc = mist_fail(err, MIST_EFORMAT,
                           "%s: line %zu, column %zu: a quote that does not close the field (a "
                           "quoted field ends with '\"' before the next delimiter; fields never "
                           "span lines)",
                           name, lineno, bad_col);
            goto done;
        }
        if (!seen_first) {
            seen_first = 1;
            if (k > (size_t)INT_MAX) {
                rc = mist_fail(err, MIST_EFORMAT, "%s: too many columns (%zu)", name, k);
                goto done;
            }
            ncols = k;
        } else if (k != ncols) {
            rc = mist_fail(err, MIST_EFORMAT, "%s: line %zu has %zu fields, expected %zu%s", name,
                           lineno, k, ncols,
                           ncols == 1 && delim == ',' ? " (another delimiter? see --delimiter)"
                                                      : "");
            goto done;
        }
        /* The first line is the header when none of its fields is a number and none is a
         * missing-value token: a first row "NA,1.5" is data with a hole, which taking it for a
         * header would silently drop. */
        int header = 0;
        if (lineno == 1) { /* blank lines cannot precede data, so line 1 is first */
            rc = first_line_kind(fields, k, name, &header, err);
            if (rc) goto done;
        }
        if (header) {
            if (names_out && !(names = calloc(k, sizeof *names))) {
                errno = ENOMEM;
                break;
            }
            for (size_t j = 0; names && j < k; j++) {
                const char *a = fields[j];
                while (*a == ' ' || *a == '\t') a++;
                size_t l = strlen(a);
                while (l && (a[l - 1] == ' ' || a[l - 1] == '\t')) l--;
                if (!(names[j] = malloc(l + 1))) {
                    errno = ENOMEM;
                    break;
                }
                memcpy(names[j], a, l);
                names[j][l] = '\0';
            }
            if (errno == ENOMEM) break;
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            double v;
            if (mist_io_parse_double(fields[j], &v)) {
                rc = mist_fail(err, MIST_EFORMAT, "%s: line %zu, column %zu: '%.40s' is not a number",
                               name, lineno, j + 1, fields[j]);
                goto done;
            }
            if (dvec_push(&d, v)) {
                rc = mist_fail(err, MIST_ENOMEM, "out of memory reading %s", name);
                goto done;
            }
        }
        rows++;
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
    free(fields);
    if (rc) {
        free(d.v);
        free_names(names, ncols);
        return rc;
    }
    *data = d.v;
    *n = rows;
    *cols = ncols;
    if (names_out) *names_out = names;
    return MIST_OK;
}

int mist_csv_read_stream(FILE *f, const char *name, double **data, size_t *n, size_t *cols,
                         mist_err *err)
{
    return mist_csv_read_opts(f, name, 0, data, n, cols, NULL, err);
}
