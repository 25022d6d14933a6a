/* The datasets of a bench run: a built-in suite (datasets made in memory from their specs, one
 * at a time, deterministic) or a folder written by `mist gen --suite` (read from its files, the
 * truth taken from manifest.csv). */
/* realpath() is XSI */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_internal.h"

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int bench_id_parse(const char *id, char *suite, size_t cap, uint64_t *seed)
{
    const char *p = strrchr(id, '-');
    if (!p || p == id || !p[1]) return 0;
    for (const char *q = p + 1; *q; q++)
        if (*q < '0' || *q > '9') return 0;
    const char *s = p - 1;
    while (s > id && *s >= '0' && *s <= '9') s--;
    if (s == p - 1 || *s != 's' || s == id || s[-1] != '-') return 0;
    size_t len = (size_t)(s - 1 - id);
    if (len == 0 || (suite && len >= cap)) return 0;
    if (suite) {
        memcpy(suite, id, len);
        suite[len] = '\0';
    }
    if (seed) *seed = strtoull(s + 1, NULL, 10);
    return 1;
}

/* The files of a suite folder are read whole: a FIFO or a device named there would block or
 * never end, so only regular files are opened. */
static int check_regular(const char *path, const char *what, mist_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return mist_fail(err, MIST_EINVAL, "%s '%s' is not a regular file (%s)", what, path,
                         S_ISFIFO(st.st_mode) ? "a pipe" : S_ISDIR(st.st_mode) ? "a folder"
                                                                               : "a device");
    return MIST_OK;
}

static int open_manifest(const char *dir, bench_suite *s, mist_err *err)
{
    char path[BENCH_PATH_LEN + 32];
    int rc = bench_path(path, sizeof path, dir, "manifest.csv", err);
    if (!rc) rc = check_regular(path, "manifest", err);
    if (rc) return rc;
    rc = mist_manifest_read(path, &s->mrows, &s->count, err);
    if (rc) return rc;
    /* a manifest may leave a truth unknown (nan); a benchmark scores against every one */
    for (size_t i = 0; i < s->count; i++)
        if (isnan(s->mrows[i].mi)) {
            rc = mist_fail(err, MIST_EINVAL,
                           "'%s': line %zu (%s): the true MI is nan (unknown); a benchmark "
                           "needs the truth of every dataset",
                           path, i + 2, s->mrows[i].id);
            free(s->mrows);
            s->mrows = NULL;
            s->count = 0;
            return rc;
        }
    if (s->count == 0) return mist_fail(err, MIST_EINVAL, "'%s' lists no datasets", path);
    char real[PATH_MAX];
    if (!realpath(dir, real) || strlen(real) >= sizeof s->source)
        return mist_fail(err, MIST_EIO, "cannot resolve folder '%s': %s", dir, strerror(errno));
    strcpy(s->source, real);
    s->is_manifest = 1;
    /* The suite's name: the common built-in suite of the ids (a folder from `mist gen --suite
     * mist-imd` is suite mist-imd, with its buckets), else the folder's name. */
    char first[BENCH_SUITE_LEN], cur[BENCH_SUITE_LEN];
    int common = bench_id_parse(s->mrows[0].id, first, sizeof first, NULL);
    for (size_t i = 1; common && i < s->count; i++)
        common = bench_id_parse(s->mrows[i].id, cur, sizeof cur, NULL) && !strcmp(cur, first);
    if (common) {
        strcpy(s->name, first);
    } else {
        const char *base = strrchr(real, '/');
        base = base && base[1] ? base + 1 : real;
        bench_copy(s->name, sizeof s->name, base);
        bench_sanitize(s->name);
    }
    return MIST_OK;
}

int bench_suite_open(const mist_bench_opts *o, bench_suite *s, mist_err *err)
{
    memset(s, 0, sizeof *s);
    /* A built-in name means the built-in suite even when a folder of that name exists here;
     * write ./NAME for the folder. */
    size_t nsuites = 0;
    const mist_catalog_entry *cat = mist_gen_suites(&nsuites);
    int builtin = 0;
    for (size_t i = 0; i < nsuites; i++) builtin |= !strcmp(cat[i].name, o->suite);
    if ((!builtin || strchr(o->suite, '/')) && is_dir(o->suite)) {
        if (o->n || o->seed_lo || o->seed_hi)
            return mist_fail(err, MIST_EINVAL,
                             "--n and --seeds apply to built-in suites; the datasets of folder "
                             "'%s' are those its manifest.csv lists",
                             o->suite);
        int rc = open_manifest(o->suite, s, err);
        if (rc) bench_suite_close(s);
        return rc;
    }
    if (strchr(o->suite, '/'))
        return mist_fail(err, MIST_EINVAL, "suite folder '%s' does not exist", o->suite);
    if (o->seed_hi < o->seed_lo)
        return mist_fail(err, MIST_EINVAL, "suite seeds %llu-%llu: the first exceeds the last",
                         (unsigned long long)o->seed_lo, (unsigned long long)o->seed_hi);
    snprintf(s->name, sizeof s->name, "%s", o->suite);
    strcpy(s->source, "builtin");
    for (uint64_t seed = o->seed_lo;; seed++) {
        mist_suite_opts so = {.suite_seed = seed, .n = o->n};
        mist_task_spec *specs = NULL;
        size_t count = 0;
        int rc = mist_suite_specs(o->suite, &so, &specs, &count, err);
        if (rc) {
            if (strstr(err ? err->msg : "", "unknown suite"))
                mist_fail(err, rc,
                          "unknown suite '%s' (known: mist-imd-official, mist-oomd-official, "
                          "mist-imd, mist-oomd, new-families, bmi40, smoke, or a folder written "
                          "by `mist gen --suite`)",
                          o->suite);
            bench_suite_close(s);
            return rc;
        }
        mist_task_spec *g = realloc(s->specs, (s->count + count) * sizeof *g);
        if (!g) {
            mist_task_specs_free(specs, count);
            bench_suite_close(s);
            return mist_fail(err, MIST_ENOMEM, "out of memory");
        }
        s->specs = g;
        memcpy(s->specs + s->count, specs, count * sizeof *specs); /* moves their params */
        s->count += count;
        free(specs);
        if (seed == o->seed_hi) break;
    }
    return MIST_OK;
}

void bench_suite_close(bench_suite *s)
{
    mist_task_specs_free(s->specs, s->count); /* NULL for a manifest suite */
    free(s->mrows);
    memset(s, 0, sizeof *s);
}

const char *bench_suite_id(const bench_suite *s, size_t i)
{
    return s->is_manifest ? s->mrows[i].id : s->specs[i].id;
}

void bench_suite_describe(const bench_suite *s, size_t i, bench_row *row)
{
    memset(row, 0, sizeof *row);
    snprintf(row->suite, sizeof row->suite, "%s", s->name);
    row->index = i;
    if (s->is_manifest) {
        const mist_manifest_row *m = &s->mrows[i];
        snprintf(row->id, sizeof row->id, "%s", m->id);
        snprintf(row->task, sizeof row->task, "%s", m->task);
        row->dx = m->dx;
        row->dy = m->dy;
        row->n = m->n;
        row->seed = m->seed;
        row->mi = m->mi;
    } else {
        const mist_task_spec *sp = &s->specs[i];
        snprintf(row->id, sizeof row->id, "%s", sp->id);
        snprintf(row->task, sizeof row->task, "%s", sp->task);
        row->dx = sp->dx;
        row->dy = sp->dy;
        row->n = sp->n;
        row->seed = sp->seed;
        row->mi = NAN;
    }
    bench_sanitize(row->id);
    bench_sanitize(row->task);
}

int bench_suite_load(const bench_suite *s, size_t i, mist_dataset **ds, bench_row *row,
                     mist_err *err)
{
    *ds = NULL;
    if (!s->is_manifest) {
        int rc = mist_gen_dataset(ds, &s->specs[i], err);
        if (rc) return rc;
        snprintf(row->task, sizeof row->task, "%s", (*ds)->meta.task);
        bench_sanitize(row->task);
        row->dx = (*ds)->dx;
        row->dy = (*ds)->dy;
        row->n = (*ds)->n;
        row->mi = (*ds)->meta.mi;
        return MIST_OK;
    }
    const mist_manifest_row *m = &s->mrows[i];
    char path[2 * BENCH_PATH_LEN];
    int rc = bench_path(path, sizeof path, s->source, m->file, err);
    if (!rc) rc = check_regular(path, "data file", err);
    if (rc) return rc;
    rc = mist_dataset_read(ds, path, MIST_FMT_AUTO, m->dx, err);
    if (rc) return rc;
    if ((*ds)->dy != m->dy || (*ds)->n != m->n) {
        rc = mist_fail(err, MIST_EFORMAT,
                       "'%s' holds %zu rows of %d+%d columns; the manifest says %zu rows, dx = "
                       "%d, dy = %d",
                       path, (*ds)->n, (*ds)->dx, (*ds)->dy, m->n, m->dx, m->dy);
        mist_dataset_free(*ds);
        *ds = NULL;
    }
    return rc;
}
