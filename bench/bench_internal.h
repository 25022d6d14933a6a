/* Private parts of the benchmark harness shared by the bench sources. Not installed. */
#ifndef MIST_BENCH_INTERNAL_H
#define MIST_BENCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mist_bench.h"
#include "mist_core.h"
#include "mist_gen.h"
#include "mist_infer.h"
#include "mist_io.h"

#define BENCH_SUITE_LEN 128
#define BENCH_PATH_LEN 1024
#define BENCH_RESULTS "results.csv"
#define BENCH_RUNINFO "run.json"
#define BENCH_HEADER                                                                               \
    "suite,index,id,task,dx,dy,n,seed,mi,estimator,estimate,lower,upper,quantiles,"                \
    "quantile_values,time_us,status"
#define BENCH_NFIELDS 17
/* Largest line we write or accept. */
#define BENCH_LINE_MAX 4096

/* ---- one results row (results.c) ------------------------------------------------------------ */
typedef struct bench_row {
    char suite[BENCH_SUITE_LEN];
    size_t index; /* the dataset's position in the suite run (sort order) */
    char id[64];
    char task[MIST_TASK_NAME_LEN];
    int dx, dy;
    size_t n;
    uint64_t seed;
    double mi; /* NaN when unknown (dataset could not be made) */
    char label[MIST_BENCH_LABEL_LEN];
    double estimate, lower, upper; /* NaN when absent */
    char quantiles[256];           /* requested taus, ';'-separated, "" for none */
    char qvalues[640];             /* their values, ';'-separated */
    long long time_us;
    char status[384]; /* "ok" or the sanitised error message */
} bench_row;

int bench_row_ok(const bench_row *r);
/* Replaces ',' by ';' and control characters by ' ' (in place), so that the text is one field. */
void bench_sanitize(char *s);
/* The row as one CSV line with its '\n'; returns its length, or -1 when it does not fit. */
int bench_row_format(const bench_row *r, char *buf, size_t cap);
/* Parses one line (no '\n'; modified in place). 0 on success, else -1 with a static reason. */
int bench_row_parse(char *line, bench_row *r, const char **why);
/* Fills q with the values at the MIST_BENCH_NTAU grid levels; 1 when all are present. */
int bench_row_grid_quantiles(const bench_row *r, double *q);

/* Reads a results file. A missing file gives 0 rows (*exists = 0). A last line without '\n'
 * (a crash mid-write) is dropped: *partial = 1 and *good_len is the length of the complete
 * part. A malformed complete line is MIST_EFORMAT. */
int bench_results_read(const char *path, bench_row **rows, size_t *nrows, int *exists, int *partial,
                       off_t *good_len, mist_err *err);
/* Writes header + rows atomically. */
int bench_results_write(const char *path, const bench_row *rows, size_t nrows, mist_err *err);

/* ---- run.json (runinfo.c) -------------------------------------------------------------------- */
typedef struct bench_suite_info {
    char suite[BENCH_SUITE_LEN];
    char source[BENCH_PATH_LEN]; /* "builtin" or the manifest folder */
    uint64_t seed_lo, seed_hi;
    size_t n;
    int bootstrap;
    double ci;
    size_t datasets;
} bench_suite_info;

typedef struct bench_runinfo {
    bench_suite_info *suites;
    size_t nsuites;
    char (*labels)[MIST_BENCH_LABEL_LEN];
    size_t nlabels;
} bench_runinfo;

/* *found = 0 and an empty runinfo when dir has no run.json. */
int bench_runinfo_read(const char *dir, bench_runinfo *ri, int *found, mist_err *err);
int bench_runinfo_write(const char *dir, const bench_runinfo *ri, mist_err *err);
void bench_runinfo_free(bench_runinfo *ri);
/* Adds s, or checks it against the entry of the same suite (MIST_EINVAL naming the difference;
 * where names the folder in the message). */
int bench_runinfo_add_suite(bench_runinfo *ri, const bench_suite_info *s, const char *where,
                            mist_err *err);
int bench_runinfo_add_label(bench_runinfo *ri, const char *label, mist_err *err);
const bench_suite_info *bench_runinfo_suite(const bench_runinfo *ri, const char *suite);

/* Dedupes (suite, id, estimator; the first row wins) and sorts rows by suite order, dataset index
 * and estimator order (runinfo order, then by name for anything not listed). *nrows shrinks. */
void bench_rows_canonical(bench_row *rows, size_t *nrows, const bench_runinfo *ri);

/* ---- summary (summary.c) ------------------------------------------------------------------- */
typedef struct bench_cell {
    mist_bench_bucket bucket;
    mist_bench_metrics m;
} bench_cell;

typedef struct bench_est_summary {
    char label[MIST_BENCH_LABEL_LEN];
    int quantile_model; /* some rows carry grid quantiles */
    bench_cell overall;
    bench_cell *buckets; /* by bucket scheme, sorted by lo */
    size_t nbuckets;
    bench_cell *per_n; /* one per distinct n (plots) */
    size_t nper_n;
} bench_est_summary;

typedef struct bench_suite_summary {
    char suite[BENCH_SUITE_LEN];
    int scheme;
    int bootstrap;   /* from run.json (-1 unknown) */
    double ci;       /* NaN unknown */
    size_t datasets; /* distinct datasets in the rows */
    bench_est_summary *est;
    size_t nest;
} bench_suite_summary;

typedef struct bench_summary {
    bench_suite_summary *suites;
    size_t nsuites;
} bench_summary;

/* rows must be canonical (bench_rows_canonical). */
int bench_summary_build(const bench_row *rows, size_t nrows, const bench_runinfo *ri,
                        bench_summary *s, mist_err *err);
void bench_summary_free(bench_summary *s);
int bench_summary_write_md(const char *dir, const bench_summary *s, mist_err *err);
int bench_summary_write_json(const char *dir, const bench_summary *s, mist_err *err);

/* ---- plots (plots.c) ----------------------------------------------------------------------- */
/* Writes dir/plots/ data and scripts, then runs gnuplot when asked and found. *status is a
 * MIST_BENCH_PLOTS_* value; an error return means the data files could not be written. */
int bench_plots_write(const char *dir, const bench_summary *s, const bench_row *rows, size_t nrows,
                      int render, int *status, char *msg, size_t msglen, mist_err *err);

/* ---- suites (suite.c) ---------------------------------------------------------------------- */
typedef struct bench_suite {
    char name[BENCH_SUITE_LEN];  /* the suite column of the results */
    char source[BENCH_PATH_LEN]; /* "builtin" or the manifest folder (absolute) */
    int is_manifest;
    mist_task_spec *specs; /* built-in: every dataset of every seed, in order */
    mist_manifest_row *mrows;
    size_t count;
} bench_suite;

/* Resolves o->suite: a built-in name, or a folder with manifest.csv. */
int bench_suite_open(const mist_bench_opts *o, bench_suite *s, mist_err *err);
void bench_suite_close(bench_suite *s);
const char *bench_suite_id(const bench_suite *s, size_t i);
/* Fills the dataset fields of row (suite .. mi) from the suite's description of dataset i. */
void bench_suite_describe(const bench_suite *s, size_t i, bench_row *row);
/* Makes (built-in) or reads (manifest) dataset i; updates row's task/dims/MI from it. */
int bench_suite_load(const bench_suite *s, size_t i, mist_dataset **ds, bench_row *row,
                     mist_err *err);

/* ---- one estimator on one dataset (estimate.c) ---------------------------------------------- */
#define BENCH_MAX_TAUS (MIST_BENCH_NTAU + 3)
typedef struct bench_est_rt {
    const mist_bench_est *spec;
    int is_mist, quantile_model;
    double taus[BENCH_MAX_TAUS]; /* quantile models: the grid plus the interval levels */
    size_t ntaus, i_lo, i_hi, i_med;
    char taus_text[256];
} bench_est_rt;

/* Prepares spec for a run at interval level ci; for mist, opens the weights once to check them
 * and read the model kind. */
int bench_est_rt_init(bench_est_rt *rt, const mist_bench_est *spec, double ci, mist_err *err);
/* Runs the estimator on ds and fills the estimate fields, time and status of row (an error is
 * a row with its message). model: the calling thread's handle for mist specs (NULL otherwise). */
void bench_est_rt_run(const bench_est_rt *rt, mist_model *model, const mist_dataset *ds,
                      uint64_t seed, int bootstrap, double ci, bench_row *row);

/* ---- helpers (results.c) ------------------------------------------------------------------- */
/* snprintf into buf of size cap "a/b"; MIST_EINVAL when too long. */
int bench_path(char *buf, size_t cap, const char *dir, const char *name, mist_err *err);
/* strcpy that truncates to cap - 1 bytes. */
void bench_copy(char *dst, size_t cap, const char *src);
/* mkdir unless it exists. */
int bench_mkdir(const char *dir, mist_err *err);
/* Writes the summary files and plots of canonical rows into dir (run and merge). */
int bench_finish(const char *dir, const bench_row *rows, size_t nrows, const bench_runinfo *ri,
                 int plots, mist_bench_report *rep, mist_err *err);

#endif
