/* Joining shard results (mist_bench_merge) and writing the summary of a finished set of rows
 * (bench_finish, shared with the runner). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_internal.h"

int bench_finish(const char *dir, const bench_row *rows, size_t nrows, const bench_runinfo *ri,
                 int plots, mist_bench_report *rep, mist_err *err)
{
    bench_summary s;
    int rc = bench_summary_build(rows, nrows, ri, &s, err);
    if (rc) return rc;
    rc = bench_summary_write_md(dir, &s, err);
    if (!rc) rc = bench_summary_write_json(dir, &s, err);
    if (!rc) rep->summary_written = 1;
    if (!rc)
        rc = bench_plots_write(dir, &s, rows, nrows, plots, &rep->plots, rep->plot_msg,
                               sizeof rep->plot_msg, err);
    bench_summary_free(&s);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* results.csv first, then the shard files by name. */
static int list_results(const char *dir, char ***names, size_t *count, mist_err *err)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return mist_fail(err, MIST_EIO, "cannot open folder '%s'", dir);
    char **v = NULL;
    size_t n = 0;
    int rc = MIST_OK, has_main = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int i, k, end = 0;
        const char *nm = de->d_name;
        if (!strcmp(nm, BENCH_RESULTS)) {
            has_main = 1;
            continue;
        }
        if (sscanf(nm, "results-shard-%d-of-%d.csv%n", &i, &k, &end) != 2 || nm[end] != '\0' ||
            end == 0)
            continue;
        char **g = realloc(v, (n + 1) * sizeof *g);
        char *copy = g ? malloc(strlen(nm) + 1) : NULL;
        if (!g || !copy) {
            if (g) v = g;
            rc = mist_fail(err, MIST_ENOMEM, "out of memory");
            break;
        }
        v = g;
        strcpy(copy, nm);
        v[n++] = copy;
    }
    closedir(d);
    if (!rc && n > 1) qsort(v, n, sizeof *v, cmp_str);
    if (!rc && has_main) {
        char **g = realloc(v, (n + 1) * sizeof *g);
        char *copy = g ? malloc(sizeof BENCH_RESULTS) : NULL;
        if (!g || !copy) {
            if (g) v = g;
            rc = mist_fail(err, MIST_ENOMEM, "out of memory");
        } else {
            v = g;
            memmove(v + 1, v, n * sizeof *v);
            strcpy(copy, BENCH_RESULTS);
            v[0] = copy;
            n++;
        }
    }
    if (rc) {
        for (size_t i = 0; i < n; i++) free(v[i]);
        free(v);
        return rc;
    }
    *names = v;
    *count = n;
    return MIST_OK;
}

/* Shard files seen so far: results-shard-i-of-N.csv as (i, N) pairs. */
typedef struct shard_seen {
    int *i, *n;
    size_t count;
} shard_seen;

static int shard_note(shard_seen *s, const char *name, mist_err *err)
{
    int i, k, end = 0;
    if (sscanf(name, "results-shard-%d-of-%d.csv%n", &i, &k, &end) != 2) return MIST_OK;
    int *gi = realloc(s->i, (s->count + 1) * sizeof *gi);
    if (gi) s->i = gi;
    int *gn = gi ? realloc(s->n, (s->count + 1) * sizeof *gn) : NULL;
    if (gn) s->n = gn;
    if (!gi || !gn) return mist_fail(err, MIST_ENOMEM, "out of memory");
    s->i[s->count] = i;
    s->n[s->count] = k;
    s->count++;
    return MIST_OK;
}

/* Every shard of every N seen must be there: merging half the shards would summarise half
 * the datasets as if they were the suite. */
static int shard_check(const shard_seen *s, mist_err *err)
{
    for (size_t a = 0; a < s->count; a++) {
        int n = s->n[a];
        if (n < 1 || n > 1000000)
            return mist_fail(err, MIST_EFORMAT, "results-shard-%d-of-%d.csv: bad shard count",
                             s->i[a], n);
        for (int want = 0; want < n; want++) {
            int found = 0;
            for (size_t b = 0; b < s->count && !found; b++) found = s->n[b] == n && s->i[b] == want;
            if (!found)
                return mist_fail(err, MIST_EINVAL,
                                 "shard %d of %d (results-shard-%d-of-%d.csv) is missing: run it "
                                 "(mist bench ... --shard %d/%d) or add the folder that holds it",
                                 want, n, want, n, want, n);
        }
    }
    return MIST_OK;
}

int mist_bench_merge(const char *const *dirs, size_t ndirs, const char *out_dir, int plots,
                     mist_bench_report *rep, mist_err *err)
{
    mist_bench_report dummy;
    if (!rep) rep = &dummy;
    memset(rep, 0, sizeof *rep);
    if (!dirs || ndirs == 0) return mist_fail(err, MIST_EINVAL, "no folders to merge");
    if (!out_dir || !*out_dir) out_dir = dirs[0];
    bench_runinfo all;
    memset(&all, 0, sizeof all);
    bench_row *rows = NULL;
    size_t nrows = 0;
    shard_seen seen = {NULL, NULL, 0};
    int rc = MIST_OK;
    for (size_t d = 0; d < ndirs && !rc; d++) {
        bench_runinfo ri;
        memset(&ri, 0, sizeof ri);
        int found = 0;
        struct stat st;
        if (stat(dirs[d], &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = mist_fail(err, MIST_EINVAL, "'%s' is not a folder", dirs[d]);
            break;
        }
        rc = bench_runinfo_read(dirs[d], &ri, &found, err);
        if (!rc && !found)
            rc = mist_fail(err, MIST_EINVAL, "'%s' has no %s: not a mist bench output folder",
                           dirs[d], BENCH_RUNINFO);
        for (size_t s = 0; s < ri.nsuites && !rc; s++)
            rc = bench_runinfo_add_suite(&all, &ri.suites[s], dirs[d], err);
        for (size_t l = 0; l < ri.nlabels && !rc; l++)
            rc = bench_runinfo_add_label(&all, ri.labels[l], err);
        for (size_t t = 0; t < ri.ntransforms && !rc; t++)
            rc = bench_runinfo_add_transform(&all, ri.transforms[t], err);
        for (size_t c = 0; c < ri.ncommands && !rc; c++)
            rc = bench_runinfo_add_command(&all, ri.commands[c].label, ri.commands[c].command,
                                           dirs[d], err);
        bench_runinfo_free(&ri);
        char **names = NULL;
        size_t nn = 0;
        if (!rc) rc = list_results(dirs[d], &names, &nn, err);
        if (!rc && nn == 0)
            rc = mist_fail(err, MIST_EINVAL, "'%s' holds no results files", dirs[d]);
        for (size_t k = 0; k < nn && !rc; k++) rc = shard_note(&seen, names[k], err);
        for (size_t k = 0; k < nn; k++) {
            char path[BENCH_PATH_LEN + 300];
            bench_row *part = NULL;
            size_t np = 0;
            int exists, partial;
            off_t good;
            if (!rc) rc = bench_path(path, sizeof path, dirs[d], names[k], err);
            if (!rc) rc = bench_results_read(path, &part, &np, &exists, &partial, &good, err);
            if (!rc) {
                rep->dropped_partial += partial;
                bench_row *g = np ? realloc(rows, (nrows + np) * sizeof *g) : rows;
                if (np && !g) rc = mist_fail(err, MIST_ENOMEM, "out of memory merging");
                else if (np) {
                    rows = g;
                    memcpy(rows + nrows, part, np * sizeof *part);
                    nrows += np;
                }
            }
            free(part);
            free(names[k]);
        }
        free(names);
    }
    if (!rc) rc = shard_check(&seen, err);
    free(seen.i);
    free(seen.n);
    char path[BENCH_PATH_LEN + 32];
    if (!rc) rc = bench_mkdir(out_dir, err);
    if (!rc) {
        bench_rows_canonical(rows, &nrows, &all);
        rc = bench_path(path, sizeof path, out_dir, BENCH_RESULTS, err);
    }
    if (!rc) rc = bench_results_write(path, rows, nrows, err);
    if (!rc) rc = bench_runinfo_write(out_dir, &all, err);
    if (!rc) {
        bench_copy(rep->results_path, sizeof rep->results_path, path);
        if (all.nsuites == 1) snprintf(rep->suite, sizeof rep->suite, "%s", all.suites[0].suite);
        rep->total_rows = nrows;
        for (size_t i = 0; i < nrows; i++) rep->failed_rows += !bench_row_ok(&rows[i]);
        for (size_t i = 0; i < nrows; i++)
            rep->datasets += i == 0 || strcmp(rows[i].suite, rows[i - 1].suite) ||
                             strcmp(rows[i].id, rows[i - 1].id);
        rc = bench_finish(out_dir, rows, nrows, &all, plots, rep, err);
    }
    free(rows);
    bench_runinfo_free(&all);
    return rc;
}
