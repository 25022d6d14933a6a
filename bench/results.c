/* results.csv: one row per (dataset, estimator). Rows are written as whole lines, numbers as
 * %.17g (so a reread row equals the written one), an absent number as an empty field. Reading
 * drops a trailing partial line (the run crashed while writing it) and rejects anything else
 * that does not parse. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_internal.h"
#include "io_internal.h"
#include "mist_io.h"

int bench_row_ok(const bench_row *r)
{
    return strcmp(r->status, "ok") == 0;
}

void bench_sanitize(char *s)
{
    for (; *s; s++) {
        if (*s == ',') *s = ';';
        else if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
    }
}

int bench_path(char *buf, size_t cap, const char *dir, const char *name, mist_err *err)
{
    int len = snprintf(buf, cap, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= cap)
        return mist_fail(err, MIST_EINVAL, "path '%s/%s' is too long", dir, name);
    return MIST_OK;
}

void bench_copy(char *dst, size_t cap, const char *src)
{
    if (!cap) return;
    size_t l = strlen(src);
    if (l >= cap) l = cap - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

int bench_mkdir(const char *dir, mist_err *err)
{
    /* missing parents first, as mkdir -p: `--out runs/today/imd` should just work */
    char path[4096];
    size_t len = strlen(dir);
    if (len >= sizeof path) return mist_fail(err, MIST_EINVAL, "folder name too long: '%s'", dir);
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (path[i] != '/') continue;
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return mist_fail(err, MIST_EIO, "cannot create folder '%s': %s", path,
                             strerror(errno));
        path[i] = '/';
    }
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return MIST_OK;
        return mist_fail(err, MIST_EIO, "'%s' exists and is not a folder", dir);
    }
    return mist_fail(err, MIST_EIO, "cannot create folder '%s': %s", dir, strerror(errno));
}

/* ---- formatting ------------------------------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t cap, len;
    int over;
} sbuf;

static void put(sbuf *b, const char *s)
{
    size_t l = strlen(s);
    if (b->len + l >= b->cap) {
        b->over = 1;
        return;
    }
    memcpy(b->p + b->len, s, l + 1);
    b->len += l;
}

static void putnum(sbuf *b, double v)
{
    char t[40] = "";
    if (isfinite(v)) snprintf(t, sizeof t, "%.17g", v);
    put(b, t);
}

int bench_row_format(const bench_row *r, char *buf, size_t cap)
{
    sbuf b = {buf, cap, 0, 0};
    char t[64];
    if (cap) buf[0] = '\0';
    put(&b, r->suite);
    snprintf(t, sizeof t, ",%zu,", r->index);
    put(&b, t);
    put(&b, r->id);
    put(&b, ",");
    put(&b, r->task);
    snprintf(t, sizeof t, ",%d,%d,%zu,%llu,", r->dx, r->dy, r->n, (unsigned long long)r->seed);
    put(&b, t);
    putnum(&b, r->mi);
    put(&b, ",");
    put(&b, r->transform);
    put(&b, ",");
    put(&b, r->label);
    put(&b, ",");
    putnum(&b, r->estimate);
    put(&b, ",");
    putnum(&b, r->lower);
    put(&b, ",");
    putnum(&b, r->upper);
    put(&b, ",");
    putnum(&b, r->sq_err);
    snprintf(t, sizeof t, ",%d,", r->scored);
    put(&b, t);
    put(&b, r->quantiles);
    put(&b, ",");
    put(&b, r->qvalues);
    snprintf(t, sizeof t, ",%lld,", r->time_us);
    put(&b, t);
    put(&b, r->status);
    put(&b, "\n");
    return b.over ? -1 : (int)b.len;
}

/* ---- parsing --------------------------------------------------------------------------------- */

static int copy_field(char *dst, size_t cap, const char *src, int may_be_empty)
{
    size_t l = strlen(src);
    if (l >= cap || (!may_be_empty && l == 0)) return -1;
    memcpy(dst, src, l + 1);
    return 0;
}

static int parse_num(const char *s, double *out)
{
    if (!*s) {
        *out = NAN;
        return 0;
    }
    return mist_io_parse_double(s, out) || !isfinite(*out) ? -1 : 0;
}

static int parse_size(const char *s, size_t *out)
{
    uint64_t v;
    if (mist_io_parse_u64(s, strlen(s), &v) || v > SIZE_MAX) return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_intf(const char *s, int *out)
{
    size_t v;
    if (parse_size(s, &v) || v > INT32_MAX) return -1;
    *out = (int)v;
    return 0;
}

/* "a;b;c" of numbers (or empty): 0 when well formed; *count receives the number of items. */
static int check_list(const char *s, size_t *count)
{
    *count = 0;
    if (!*s) return 0;
    char buf[1024];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    char *save = NULL;
    size_t k = 0;
    for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        double v;
        if (mist_io_parse_double(tok, &v) || !isfinite(v)) return -1;
        k++;
    }
    /* strtok_r skips empty items: count separators to catch "a;;b" and a trailing ';' */
    size_t seps = 0;
    for (const char *p = s; *p; p++) seps += *p == ';';
    if (seps + 1 != k) return -1;
    *count = k;
    return 0;
}

int bench_row_parse(char *line, bench_row *r, const char **why)
{
    char *f[BENCH_NFIELDS];
    char *p = line;
    memset(r, 0, sizeof *r);
    /* the first commas split all fields but the status, which is the rest (sanitised: no
     * commas) */
    for (int i = 0; i < BENCH_NFIELDS - 1; i++) {
        f[i] = p;
        char *c = strchr(p, ',');
        if (!c) {
            *why = "too few fields";
            return -1;
        }
        *c = '\0';
        p = c + 1;
    }
    f[BENCH_NFIELDS - 1] = p;
    size_t nq, nv;
    long long t;
    char *end;
    if (copy_field(r->suite, sizeof r->suite, f[0], 0)) return *why = "bad suite", -1;
    if (parse_size(f[1], &r->index)) return *why = "bad index", -1;
    if (copy_field(r->id, sizeof r->id, f[2], 0)) return *why = "bad dataset id", -1;
    if (copy_field(r->task, sizeof r->task, f[3], 1)) return *why = "bad task", -1;
    if (parse_intf(f[4], &r->dx) || parse_intf(f[5], &r->dy)) return *why = "bad dx or dy", -1;
    if (parse_size(f[6], &r->n)) return *why = "bad n", -1;
    if (mist_io_parse_u64(f[7], strlen(f[7]), &r->seed)) return *why = "bad seed", -1;
    if (parse_num(f[8], &r->mi)) return *why = "bad true MI", -1;
    if (copy_field(r->transform, sizeof r->transform, f[9], 0)) return *why = "bad transform", -1;
    if (copy_field(r->label, sizeof r->label, f[10], 0)) return *why = "bad estimator", -1;
    if (parse_num(f[11], &r->estimate) || parse_num(f[12], &r->lower) ||
        parse_num(f[13], &r->upper))
        return *why = "bad estimate, lower or upper", -1;
    if (parse_num(f[14], &r->sq_err) || (isfinite(r->sq_err) && r->sq_err < 0))
        return *why = "bad sq_err", -1;
    if (parse_intf(f[15], &r->scored)) return *why = "bad scored count", -1;
    if (copy_field(r->quantiles, sizeof r->quantiles, f[16], 1) ||
        copy_field(r->qvalues, sizeof r->qvalues, f[17], 1) || check_list(f[16], &nq) ||
        check_list(f[17], &nv) || nq != nv)
        return *why = "bad quantile lists", -1;
    errno = 0;
    t = strtoll(f[18], &end, 10);
    if (!*f[18] || *end || errno || t < 0) return *why = "bad time", -1;
    r->time_us = t;
    if (copy_field(r->status, sizeof r->status, f[19], 0)) return *why = "bad status", -1;
    if (bench_row_ok(r) &&
        (!isfinite(r->estimate) || r->scored < 1 || (isfinite(r->mi) && !isfinite(r->sq_err))))
        return *why = "ok row without an estimate or a score", -1;
    return 0;
}

int bench_row_grid_quantiles(const bench_row *r, double *q)
{
    if (!r->quantiles[0]) return 0;
    char tb[sizeof r->quantiles], vb[sizeof r->qvalues];
    strcpy(tb, r->quantiles);
    strcpy(vb, r->qvalues);
    int have[MIST_BENCH_NTAU] = {0};
    char *s1 = NULL, *s2 = NULL;
    char *t = strtok_r(tb, ";", &s1), *v = strtok_r(vb, ";", &s2);
    for (; t && v; t = strtok_r(NULL, ";", &s1), v = strtok_r(NULL, ";", &s2)) {
        double tau = strtod(t, NULL), val = strtod(v, NULL);
        for (int j = 0; j < MIST_BENCH_NTAU; j++) {
            if (fabs(tau - mist_bench_tau(j)) < 1e-9) {
                q[j] = val;
                have[j] = 1;
            }
        }
    }
    for (int j = 0; j < MIST_BENCH_NTAU; j++)
        if (!have[j]) return 0;
    return 1;
}

/* ---- files ----------------------------------------------------------------------------------- */

int bench_results_read(const char *path, bench_row **rows, size_t *nrows, int *exists, int *partial,
                       off_t *good_len, mist_err *err)
{
    *rows = NULL;
    *nrows = 0;
    *exists = 0;
    *partial = 0;
    *good_len = 0;
    unsigned char *buf = NULL;
    size_t len = 0;
    int missing = 0;
    int rc = mist_io_slurp(path, (size_t)1 << 34, &buf, &len, &missing, err);
    if (rc) {
        if (missing) {
            mist_err_clear(err);
            return MIST_OK;
        }
        return rc;
    }
    *exists = 1;
    char *s = (char *)buf;
    size_t complete = len;
    while (complete > 0 && s[complete - 1] != '\n') complete--;
    if (complete < len) *partial = 1;
    s[complete] = '\0';
    *good_len = (off_t)complete;

    bench_row *out = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    char *save = NULL;
    rc = MIST_OK;
    for (char *line = s; line < s + complete; line = save) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        save = nl + 1;
        lineno++;
        if (nl > line && nl[-1] == '\r') nl[-1] = '\0';
        if (lineno == 1) {
            if (!strncmp(line, BENCH_HEADER_V1_START, strlen(BENCH_HEADER_V1_START))) {
                rc = mist_fail(err, MIST_EFORMAT,
                               "'%s' was written by an older mist bench (results format 1, "
                               "without the transform and score columns); run into a new "
                               "output folder",
                               path);
                break;
            }
            if (strcmp(line, BENCH_HEADER) != 0) {
                rc = mist_fail(err, MIST_EFORMAT,
                               "'%s' is not a mist bench results file (its first line is not "
                               "the expected header)",
                               path);
                break;
            }
            continue;
        }
        if (!*line) continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 1024;
            bench_row *g = realloc(out, nc * sizeof *g);
            if (!g) {
                rc = mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
                break;
            }
            out = g;
            cap = nc;
        }
        const char *why = NULL;
        if (bench_row_parse(line, &out[n], &why)) {
            rc = mist_fail(err, MIST_EFORMAT, "'%s' line %zu: %s", path, lineno, why);
            break;
        }
        n++;
    }
    free(buf);
    if (rc) {
        free(out);
        return rc;
    }
    *rows = out;
    *nrows = n;
    return MIST_OK;
}

int bench_results_write(const char *path, const bench_row *rows, size_t nrows, mist_err *err)
{
    mist_atomic_file *af = mist_atomic_open(path, err);
    if (!af) return err ? err->code : MIST_EIO;
    FILE *f = mist_atomic_stream(af);
    char line[BENCH_LINE_MAX];
    int bad = fputs(BENCH_HEADER "\n", f) < 0;
    for (size_t i = 0; i < nrows && !bad; i++) {
        int len = bench_row_format(&rows[i], line, sizeof line);
        if (len < 0) {
            mist_atomic_abort(af);
            return mist_fail(err, MIST_EINVAL, "results row %zu is too long", i + 1);
        }
        bad = fwrite(line, 1, (size_t)len, f) != (size_t)len;
    }
    if (bad) {
        mist_atomic_abort(af);
        return mist_fail(err, MIST_EIO, "cannot write '%s': %s", path, strerror(errno));
    }
    return mist_atomic_commit(af, err);
}

/* ---- canonical order ------------------------------------------------------------------------- */

typedef struct sort_item {
    const bench_row *r;
    size_t suite_ord, transform_ord, label_ord, pos;
} sort_item;

static int cmp_items(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    int c;
    if (x->suite_ord != y->suite_ord) return x->suite_ord < y->suite_ord ? -1 : 1;
    if ((c = strcmp(x->r->suite, y->r->suite))) return c;
    if (x->r->index != y->r->index) return x->r->index < y->r->index ? -1 : 1;
    if ((c = strcmp(x->r->id, y->r->id))) return c;
    if (x->transform_ord != y->transform_ord) return x->transform_ord < y->transform_ord ? -1 : 1;
    if ((c = strcmp(x->r->transform, y->r->transform))) return c;
    if (x->label_ord != y->label_ord) return x->label_ord < y->label_ord ? -1 : 1;
    if ((c = strcmp(x->r->label, y->r->label))) return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

void bench_rows_canonical(bench_row *rows, size_t *nrows, const bench_runinfo *ri)
{
    size_t n = *nrows;
    if (n == 0) return;
    sort_item *it = malloc(n * sizeof *it);
    bench_row *copy = malloc(n * sizeof *copy);
    if (!it || !copy) { /* out of memory: leave the rows as they are (still correct, unsorted) */
        free(it);
        free(copy);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        it[i].r = &copy[i];
        it[i].pos = i;
        it[i].suite_ord = it[i].transform_ord = it[i].label_ord = SIZE_MAX;
        copy[i] = rows[i];
        for (size_t s = 0; ri && s < ri->nsuites; s++)
            if (!strcmp(ri->suites[s].suite, rows[i].suite)) it[i].suite_ord = s;
        it[i].transform_ord = bench_transform_order(ri, rows[i].transform);
        for (size_t l = 0; ri && l < ri->nlabels; l++)
            if (!strcmp(ri->labels[l], rows[i].label)) it[i].label_ord = l;
    }
    if (n > 1) qsort(it, n, sizeof *it, cmp_items);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = it[i].r;
        if (m > 0 && !strcmp(rows[m - 1].suite, r->suite) && !strcmp(rows[m - 1].id, r->id) &&
            !strcmp(rows[m - 1].transform, r->transform) && !strcmp(rows[m - 1].label, r->label))
            continue;
        rows[m++] = *r;
    }
    *nrows = m;
    free(it);
    free(copy);
}
